//! The write path: one thread, one connection, group commit.
//!
//! Every write is a job sent to the writer thread. The thread waits for a
//! job, then takes whatever else is already queued (up to [`MAX_BATCH`]) and
//! runs the lot in one `BEGIN IMMEDIATE … COMMIT`, each job inside its own
//! savepoint. A job that fails (an unknown call, a conflict) is rolled back
//! to its savepoint and the others proceed. Only after the single COMMIT,
//! and so after its fsync, does each job's caller get its answer: under load
//! one disk flush acknowledges hundreds of requests, and no caller is ever
//! told "done" for a write that is not yet on disk.
//!
//! A job may leave work for after its savepoint ([`Writer::write_then`]):
//! the audit trail's entries are inserted there, in the same transaction
//! and in job order, but outside the savepoint, so that SQLite does not
//! copy every page the entries touch into the savepoint's journal first
//! (the entries' pages, and the rightmost leaves that every job of a batch
//! appends to, were copied once per job; docs/PERFORMANCE.md). Such a
//! follow-up that fails fails the whole batch: its job's changes can no
//! longer be rolled back alone.
//!
//! The thread also keeps the health of the write path. A batch that fails
//! for a fault of the storage (a file that cannot be written, a full or
//! failing disk; see `error::Fault`) marks writes as failing until one
//! succeeds, and readiness reports it. After a fault that a fresh
//! connection may clear (SQLite keeps a file it could not write read-only
//! for as long as the connection lives), the next batch first opens the
//! connection again, with the same checks and settings as at start, so
//! writes resume without a restart once the cause is gone.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

use callaccess_domain::{StoreError, Timestamp};
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{closed, fault_message, Fail, Fault};
use crate::migrate;
use crate::open::{self, Found};

/// Most jobs committed together. Bounds the time a batch holds the write
/// lock, and so how long a job at the end waits for the ones before it.
const MAX_BATCH: usize = 512;

/// Environment variable that lowers [`MAX_BATCH`]. Set to 1 it turns group
/// commit off: one transaction and one fsync per request, still durable.
/// The benchmark uses it to show what grouping buys; nothing else should.
pub const MAX_BATCH_ENV: &str = "CALLACCESS_SQLITE_MAX_BATCH";

/// The batch cap in force: [`MAX_BATCH`] unless the environment lowers it.
/// A value that is not a number from 1 to [`MAX_BATCH`] is ignored, with a
/// warning, rather than refusing to start over a tuning knob.
fn max_batch() -> usize {
    match std::env::var(MAX_BATCH_ENV) {
        Err(_) => MAX_BATCH,
        Ok(text) => match text.trim().parse::<usize>() {
            Ok(n) if (1..=MAX_BATCH).contains(&n) => n,
            _ => {
                tracing::warn!(value = %text, "{MAX_BATCH_ENV} must be a number from 1 to {MAX_BATCH}; using {MAX_BATCH}");
                MAX_BATCH
            }
        },
    }
}

/// Jobs waiting for the writer. A full queue makes callers wait (without
/// blocking a runtime thread) instead of piling up memory.
const QUEUE: usize = 4096;

/// Work for the writer, run inside the batch's transaction and the job's
/// savepoint, with what to run after the savepoint is released, if
/// anything.
type Work<T> = Box<dyn FnOnce(&Connection) -> Result<(T, Option<Then>), Fail> + Send>;

/// What a job runs after its savepoint is released, still inside the
/// batch's transaction ([`Writer::write_then`]).
pub(crate) type Then = Box<dyn FnOnce(&Connection) -> Result<(), Fail> + Send>;

/// A job with its result type erased, so one queue carries them all.
trait Job: Send {
    /// Runs the work; `Ok` (with the follow-up to run once its savepoint
    /// is released, if any) if it succeeded and its changes should stay,
    /// else what it failed with.
    fn run(&mut self, conn: &Connection) -> Result<Option<Then>, Fail>;
    /// Sends the answer once the batch's fate is known: the job's own result
    /// if the batch committed, `failure` if it did not.
    fn answer(self: Box<Self>, failure: Option<&StoreError>);
}

struct Pending<T> {
    work: Option<Work<T>>,
    outcome: Option<Result<T, StoreError>>,
    reply: oneshot::Sender<Result<T, StoreError>>,
}

impl<T: Send> Job for Pending<T> {
    fn run(&mut self, conn: &Connection) -> Result<Option<Then>, Fail> {
        let Some(work) = self.work.take() else {
            return Err(StoreError::Other("a write job ran twice".to_owned()).into());
        };
        // A bug in one job must not take the writer (and so every later
        // write) down with it; the job's savepoint is rolled back instead.
        let outcome = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(result) => result,
            Err(_) => Err(StoreError::Other("a write job panicked".to_owned()).into()),
        };
        match outcome {
            Ok((value, then)) => {
                self.outcome = Some(Ok(value));
                Ok(then)
            }
            Err(Fail(error, fault)) => {
                self.outcome = Some(Err(error.clone()));
                Err(Fail(error, fault))
            }
        }
    }

    fn answer(self: Box<Self>, failure: Option<&StoreError>) {
        let answer = match (self.outcome, failure) {
            // A job that failed on its own keeps its own answer: nothing of
            // it was written either way.
            (Some(Err(own)), _) => Err(own),
            (Some(Ok(_)), Some(failure)) | (None, Some(failure)) => Err(failure.clone()),
            (Some(Ok(value)), None) => Ok(value),
            (None, None) => Err(StoreError::Other("a write job was never run".to_owned())),
        };
        // The caller may have given up waiting; its answer is then moot.
        let _ = self.reply.send(answer);
    }
}

enum Message {
    Job(Box<dyn Job>),
    /// Finish what is queued before this, checkpoint, and stop.
    Close(oneshot::Sender<()>),
}

/// The async side's handle on the writer thread.
pub(crate) struct Writer {
    queue: mpsc::Sender<Message>,
    thread: Mutex<Option<JoinHandle<()>>>,
    counters: Arc<Counters>,
    health: Arc<Health>,
}

/// Whether writes are failing for a fault of the storage, and why: set by
/// the batch that met the fault, cleared by the first that shows it gone.
#[derive(Default)]
struct Health {
    failing: Mutex<Option<(Fault, String)>>,
}

impl Health {
    fn get(&self) -> Option<(Fault, String)> {
        self.failing
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn failed(&self, fault: Fault, message: &str, path: &Path) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        if failing.is_none() {
            tracing::warn!(
                path = %path.display(),
                error = %message,
                "writes to the database fail; they resume by themselves once the cause is gone, and readiness answers 503 until then"
            );
        }
        *failing = Some((fault, message.to_owned()));
    }

    /// After a committed batch. A batch that changed nothing (a request
    /// that was refused, say) proves only that the connection may write:
    /// enough for a read-only fault, not for a full or failing disk, which
    /// only a write that reached the disk (a request's, or readiness's
    /// [`probe`]) shows cured.
    fn succeeded(&self, changed: bool, path: &Path) {
        let mut failing = self.failing.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((fault, _)) = &*failing {
            if changed || *fault == Fault::ReadOnly {
                *failing = None;
                tracing::info!(path = %path.display(), "writes to the database succeed again");
            }
        }
    }
}

/// How well group commit is working: jobs per transaction is the number of
/// writes each fsync paid for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriteStats {
    /// Transactions the writer ran (committed or not).
    pub batches: u64,
    /// Jobs those transactions carried.
    pub jobs: u64,
}

#[derive(Default)]
struct Counters {
    batches: AtomicU64,
    jobs: AtomicU64,
    /// Batches that committed.
    commits: AtomicU64,
}

impl Writer {
    /// Starts the writer thread on an open connection to `path`, migrated
    /// to `schema_version`.
    #[cfg(test)]
    pub(crate) fn start(
        conn: Connection,
        path: PathBuf,
        schema_version: i64,
    ) -> Result<Self, StoreError> {
        Self::start_with(conn, path, schema_version, Box::new(|_| {}))
    }

    /// [`Writer::start`], running `committed` on the writer's connection
    /// after each batch that committed a change (the store tells waiters
    /// of the audit trail from it).
    pub(crate) fn start_with(
        conn: Connection,
        path: PathBuf,
        schema_version: i64,
        committed: AfterCommit,
    ) -> Result<Self, StoreError> {
        let (queue, inbox) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let counted = Arc::clone(&counters);
        let health = Arc::new(Health::default());
        // SQLite opens a file it may not write read-only, without an error:
        // known now, so readiness says so before the first write fails.
        let stale = (!writable(&conn, &path).map_err(StoreError::from)?).then_some(Fault::ReadOnly);
        if stale.is_some() {
            health.failed(Fault::ReadOnly, &read_only(&path).0.to_string(), &path);
        }
        let state = State {
            conn,
            stale,
            path,
            schema_version,
            health: Arc::clone(&health),
            committed,
        };
        let cap = max_batch();
        if cap < MAX_BATCH {
            tracing::info!(
                max_batch = cap,
                "write batches are capped by {MAX_BATCH_ENV}"
            );
        }
        let thread = std::thread::Builder::new()
            .name("callaccess-sqlite-writer".to_owned())
            .spawn(move || run(state, inbox, &counted, cap))
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            queue,
            thread: Mutex::new(Some(thread)),
            counters,
            health,
        })
    }

    /// Why writes are failing, if the last batch that settled the question
    /// failed for a fault of the storage.
    pub(crate) fn failing(&self) -> Option<String> {
        self.health.get().map(|(_, message)| message)
    }

    /// Runs `work` in the next batch and answers once that batch is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
    {
        self.write_then(move |conn| Ok((work(conn)?, None))).await
    }

    /// [`Writer::write`], where `work` may also return what to run once
    /// its savepoint is released, in the same transaction, before the next
    /// job: a failure there fails the whole batch.
    pub(crate) async fn write_then<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<(T, Option<Then>), Fail> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Pending {
            work: Some(Box::new(work) as Work<T>),
            outcome: None,
            reply,
        };
        self.queue
            .send(Message::Job(Box::new(job)))
            .await
            .map_err(|_| closed())?;
        // A dropped reply means the writer stopped before answering.
        answer.await.map_err(|_| closed())?
    }

    /// A reading of how many transactions the writer has committed, for
    /// the checkpoint thread to tell whether the log has grown.
    pub(crate) fn progress(&self) -> impl Fn() -> u64 + Send + 'static {
        let counters = Arc::clone(&self.counters);
        move || counters.commits.load(Ordering::Relaxed)
    }

    pub(crate) fn stats(&self) -> WriteStats {
        WriteStats {
            batches: self.counters.batches.load(Ordering::Relaxed),
            jobs: self.counters.jobs.load(Ordering::Relaxed),
        }
    }

    /// Lets the writer finish every job queued so far, checkpoints, and
    /// joins the thread. Calling it again does nothing.
    pub(crate) async fn close(&self) -> Result<(), StoreError> {
        let (done, finished) = oneshot::channel();
        if self.queue.send(Message::Close(done)).await.is_ok() {
            let _ = finished.await;
        }
        let thread = self
            .thread
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take();
        if let Some(thread) = thread {
            tokio::task::spawn_blocking(move || thread.join())
                .await
                .map_err(|e| StoreError::Other(format!("cannot join the writer thread: {e}")))?
                .map_err(|_| StoreError::Other("the writer thread panicked".to_owned()))?;
        }
        Ok(())
    }
}

/// What the writer thread owns.
struct State {
    conn: Connection,
    /// Set after a fault a fresh connection may clear (to that fault): the
    /// next batch opens one first.
    stale: Option<Fault>,
    path: PathBuf,
    /// The version the store opened at; a connection opened again must
    /// find the same.
    schema_version: i64,
    health: Arc<Health>,
    committed: AfterCommit,
}

/// What the writer runs after a batch that committed a change, on its own
/// connection, outside any transaction.
pub(crate) type AfterCommit = Box<dyn FnMut(&Connection) + Send>;

impl State {
    /// Opens the connection again if a fault asked for it.
    fn refresh(&mut self) -> Result<(), Fail> {
        if let Some(fault) = self.stale {
            // Whatever stops the file from being opened keeps the fault
            // that made the connection stale: writes keep failing for it,
            // and the next batch tries again.
            self.conn = reopen(&self.path, self.schema_version)
                .map_err(|Fail(error, _)| Fail(error, Some(fault)))?;
            self.stale = None;
            tracing::info!(path = %self.path.display(), "opened the write connection again");
        }
        Ok(())
    }
}

/// Least free space on the database's file system for readiness to take a
/// full disk as cured. A disk that is still full often has room for a page
/// or two (file system slack, log frames a checkpoint freed), enough for
/// the probe row but not for the next request's rows; a disk with this much
/// free takes several batches.
const MIN_FREE_BYTES: u64 = 1 << 20;

/// Readiness's write while writes fail: rewrites the one probe row (see the
/// `storage_probe` migration), so the batch changes the file and commits
/// only where the disk takes writes. Refused without writing, as a full
/// disk, while the database's file system has less than
/// [`MIN_FREE_BYTES`] free.
pub(crate) fn probe(conn: &Connection, now: Timestamp) -> Result<(), Fail> {
    let folder = conn
        .path()
        .and_then(|path| Path::new(path).parent().map(Path::to_path_buf));
    if let Some(folder) = folder {
        // A file system that cannot say (an error, or no size at all, as
        // some FUSE file systems report) is not refused for it: the write
        // below still has to succeed.
        if let Some(stats) = rustix::fs::statvfs(&folder).ok().filter(|s| s.f_blocks > 0) {
            let free = stats.f_bavail.saturating_mul(stats.f_frsize);
            if free < MIN_FREE_BYTES {
                let cause = format!(
                    "{free} bytes free on the file system of \"{}\"",
                    folder.display()
                );
                return Err(Fail(
                    StoreError::Unavailable(fault_message(Fault::Full, &cause)),
                    Some(Fault::Full),
                ));
            }
        }
    }
    conn.prepare_cached(
        "INSERT INTO storage_probe (id, probed_at) VALUES (1, ?1)
         ON CONFLICT (id) DO UPDATE SET probed_at = excluded.probed_at",
    )?
    .execute([now.unix()])?;
    Ok(())
}

/// Whether `conn` may write its main database.
fn writable(conn: &Connection, path: &Path) -> Result<bool, Fail> {
    let read_only = conn.is_readonly(rusqlite::MAIN_DB).map_err(|e| {
        Fail::from(StoreError::Other(format!(
            "cannot tell whether \"{}\" was opened for writing: {e}",
            path.display()
        )))
    })?;
    Ok(!read_only)
}

fn read_only(path: &Path) -> Fail {
    Fail(
        StoreError::Unavailable(fault_message(
            Fault::ReadOnly,
            &format!("\"{}\" could only be opened read-only", path.display()),
        )),
        Some(Fault::ReadOnly),
    )
}

/// A new write connection to the file the store opened: the same checks as
/// at start (a callaccess database, not replaced, not emptied, not migrated
/// by a newer version) and the same settings (`open::writer`).
pub(crate) fn reopen(path: &Path, schema_version: i64) -> Result<Connection, Fail> {
    match open::inspect(path)? {
        Found::Ours => {}
        Found::Fresh => {
            return Err(Fail::from(StoreError::Unavailable(format!(
                "the database file \"{}\" is missing or empty since the server opened it: \
                 restore it, or restart the server to start a new database",
                path.display()
            ))))
        }
    }
    let conn = open::writer(path)?;
    if !writable(&conn, path)? {
        return Err(read_only(path));
    }
    let version = migrate::current(&conn)?;
    callaccess_domain::migrations::still_current(version, schema_version)?;
    Ok(conn)
}

/// The writer thread's loop.
fn run(mut state: State, mut inbox: mpsc::Receiver<Message>, counters: &Counters, cap: usize) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(cap);
    let mut closing = None;
    // `None`: every handle is gone (the store was dropped without `close`).
    while let Some(first) = inbox.blocking_recv() {
        match first {
            Message::Job(job) => batch.push(job),
            Message::Close(done) => closing = Some(done),
        }
        while closing.is_none() && batch.len() < cap {
            match inbox.try_recv() {
                Ok(Message::Job(job)) => batch.push(job),
                Ok(Message::Close(done)) => closing = Some(done),
                Err(_) => break,
            }
        }
        if !batch.is_empty() {
            counters.batches.fetch_add(1, Ordering::Relaxed);
            counters
                .jobs
                .fetch_add(batch.len() as u64, Ordering::Relaxed);
            if commit_batch(&mut state, &mut batch) {
                counters.commits.fetch_add(1, Ordering::Relaxed);
            }
        }
        if let Some(done) = closing.take() {
            shut_down(&state.conn, &mut inbox);
            let _ = done.send(());
            return;
        }
    }
    checkpoint(&state.conn);
}

/// Refuses whatever arrived after `close`, then folds the log into the
/// database so the files are compact and self-contained.
/// The most a close spends putting the audit trail's tail in runs: some
/// two hundred runs, more than an import of a large seed writes.
const CLOSE_CATCH_UP: std::time::Duration = std::time::Duration::from_secs(2);

fn shut_down(conn: &Connection, inbox: &mut mpsc::Receiver<Message>) {
    inbox.close();
    while let Ok(message) = inbox.try_recv() {
        match message {
            Message::Job(job) => job.answer(Some(&closed())),
            Message::Close(done) => {
                let _ = done.send(());
            }
        }
    }
    // The audit trail's tail into runs, so that the next process to open
    // the file (a server after `import`) starts with none to catch up on.
    if let Err(Fail(e, _)) = crate::audit_runs::catch_up(conn, Some(CLOSE_CATCH_UP)) {
        tracing::warn!(error = %e, "cannot put the audit trail's tail in runs at close");
    }
    checkpoint(conn);
}

fn checkpoint(conn: &Connection) {
    // Readers may still hold a snapshot, in which case the log cannot be
    // truncated yet; that is harmless, the next open picks it up.
    let result = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
        row.get::<_, i64>(0)
    });
    match result {
        Ok(0) => tracing::debug!("checkpointed the write-ahead log"),
        Ok(_) => tracing::debug!("readers were active; the write-ahead log was left in place"),
        Err(e) => tracing::warn!(error = %e, "cannot checkpoint the write-ahead log"),
    }
}

/// Runs one batch in one transaction and answers every job in it; `true`
/// if it committed.
fn commit_batch(state: &mut State, batch: &mut Vec<Box<dyn Job>>) -> bool {
    let started = std::time::Instant::now();
    let result = state.refresh().and_then(|()| {
        let before = state.conn.total_changes();
        run_batch(&state.conn, batch).map(|()| state.conn.total_changes() != before)
    });
    // The batch's whole transaction including its fsync: what every request
    // in it waited for once it reached the writer.
    metrics::histogram!("callaccess_store_commit_seconds", "backend" => "sqlite")
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!("callaccess_store_batch_size", "backend" => "sqlite")
        .record(batch.len() as f64);
    let changed = matches!(result, Ok(true));
    let failure = match result {
        Ok(changed) => {
            state.health.succeeded(changed, &state.path);
            None
        }
        Err(Fail(failure, fault)) => {
            tracing::error!(
                error = %failure,
                jobs = batch.len(),
                path = %state.path.display(),
                "a write batch failed"
            );
            if let Some(fault) = fault {
                state
                    .health
                    .failed(fault, &failure.to_string(), &state.path);
                if fault.needs_reopen() {
                    state.stale = Some(fault);
                }
            }
            if !state.conn.is_autocommit() {
                // Best effort: if even ROLLBACK fails the connection is unusable
                // and the next BEGIN reports it.
                let _ = state.conn.execute_batch("ROLLBACK");
            }
            Some(failure)
        }
    };
    let committed = failure.is_none();
    for job in batch.drain(..) {
        job.answer(failure.as_ref());
    }
    // After the answers: what it does (waking readers of the change
    // stream, the audit trail's upkeep) is no request's to wait for.
    if changed {
        (state.committed)(&state.conn);
    }
    committed
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), Fail> {
    let sql = |text: &str| -> Result<(), Fail> {
        conn.prepare_cached(text)
            .and_then(|mut statement| statement.execute([]))
            .map(drop)
            .map_err(Fail::from)
    };
    sql("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        sql("SAVEPOINT job")?;
        let then = match job.run(conn) {
            Ok(then) => then,
            Err(Fail(error, fault)) => {
                // Some errors (an I/O error, a full disk) make SQLite abandon
                // the whole transaction; the rest of the batch cannot commit
                // then.
                if conn.is_autocommit() {
                    let error = match fault {
                        Some(_) => error,
                        None => StoreError::Unavailable(format!(
                            "the database aborted the transaction ({error})"
                        )),
                    };
                    return Err(Fail(error, fault));
                }
                sql("ROLLBACK TO job")?;
                None
            }
        };
        sql("RELEASE job")?;
        if let Some(then) = then {
            // The job's changes are part of the transaction now: if what
            // must go with them cannot be written, nothing of the batch may
            // commit (the caller rolls it back and fails every job).
            match catch_unwind(AssertUnwindSafe(|| then(conn))) {
                Ok(done) => done?,
                Err(_) => return Err(StoreError::Other("a write job panicked".to_owned()).into()),
            }
        }
    }
    sql("COMMIT")
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use super::*;

    /// A writer on a scratch database with a plain table `t` and a table
    /// `child` whose foreign key is only checked at COMMIT.
    fn start() -> (tempfile::TempDir, Arc<Writer>) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w.db");
        let conn = crate::open::writer(&path).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (v INTEGER NOT NULL);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        (dir, Arc::new(Writer::start(conn, path, 0).unwrap()))
    }

    /// A writer from [`start`], busy with a job from [`hold`] that it has
    /// already taken: what is queued before the sender is used or dropped
    /// forms the next batch, of its own.
    async fn start_held() -> (tempfile::TempDir, Arc<Writer>, std::sync::mpsc::Sender<()>) {
        let (dir, writer) = start();
        let release = hold(&writer);
        while writer.stats().batches == 0 {
            tokio::task::yield_now().await;
        }
        (dir, writer, release)
    }

    /// Occupies the writer with a job that waits for the returned sender, so
    /// that everything queued meanwhile lands in the next batch together.
    fn hold(writer: &Arc<Writer>) -> std::sync::mpsc::Sender<()> {
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let writer = Arc::clone(writer);
        tokio::spawn(async move {
            writer
                .write(move |_| {
                    // A dropped sender releases the job just the same.
                    let _ = wait.recv();
                    Ok(())
                })
                .await
                .unwrap();
        });
        release
    }

    /// Waits (by yielding, not by sleeping) until `n` messages are queued.
    async fn queued(writer: &Writer, n: usize) {
        while writer.queue.max_capacity() - writer.queue.capacity() < n {
            tokio::task::yield_now().await;
        }
    }

    fn spawn_insert(
        writer: &Arc<Writer>,
        value: i64,
        then: fn() -> Result<(), Fail>,
    ) -> tokio::task::JoinHandle<Result<(), StoreError>> {
        let writer = Arc::clone(writer);
        tokio::spawn(async move {
            writer
                .write(move |conn| {
                    conn.execute("INSERT INTO t (v) VALUES (?1)", [value])?;
                    then()
                })
                .await
        })
    }

    async fn values(writer: &Writer) -> Vec<i64> {
        writer
            .write(|conn| {
                let mut statement = conn.prepare("SELECT v FROM t ORDER BY v")?;
                let values = statement
                    .query_map([], |row| row.get(0))?
                    .collect::<rusqlite::Result<Vec<i64>>>()?;
                Ok(values)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_failing_or_panicking_job_is_rolled_back_and_the_batch_commits() {
        // The holding job is taken, so the four below share one batch of
        // their own.
        let (_dir, writer, release) = start_held().await;
        let good = spawn_insert(&writer, 1, || Ok(()));
        let failing = spawn_insert(&writer, 2, || {
            Err(StoreError::Invalid("no".to_owned()).into())
        });
        let panicking = spawn_insert(&writer, 3, || panic!("a bug in a job"));
        let also_good = spawn_insert(&writer, 4, || Ok(()));
        queued(&writer, 4).await;
        release.send(()).unwrap();

        good.await.unwrap().unwrap();
        assert!(matches!(failing.await.unwrap(), Err(StoreError::Invalid(m)) if m == "no"));
        assert!(matches!(
            panicking.await.unwrap(),
            Err(StoreError::Other(_))
        ));
        also_good.await.unwrap().unwrap();
        assert_eq!(
            writer.stats(),
            WriteStats {
                batches: 2,
                jobs: 5
            }
        );
        assert_eq!(values(&writer).await, vec![1, 4]);
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_job_of_its_batch() {
        let (_dir, writer, release) = start_held().await;
        let innocent = spawn_insert(&writer, 1, || Ok(()));
        let dooming = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move {
                // Passes its savepoint; the missing parent is found at COMMIT.
                writer
                    .write(|conn| {
                        Ok(conn
                            .execute("INSERT INTO child (p) VALUES (99)", [])
                            .map(drop)?)
                    })
                    .await
            })
        };
        queued(&writer, 2).await;
        release.send(()).unwrap();

        assert!(
            matches!(innocent.await.unwrap(), Err(StoreError::Other(_))),
            "told the truth: not committed"
        );
        assert!(matches!(dooming.await.unwrap(), Err(StoreError::Other(_))));
        assert_eq!(
            values(&writer).await,
            Vec::<i64>::new(),
            "nothing of the batch was kept"
        );
        // The writer carries on with the next batch.
        spawn_insert(&writer, 5, || Ok(())).await.unwrap().unwrap();
        assert_eq!(values(&writer).await, vec![5]);
    }

    #[tokio::test]
    async fn a_follow_up_runs_after_its_jobs_savepoint_and_a_failing_one_fails_the_batch() {
        let (_dir, writer, release) = start_held().await;
        let before = spawn_insert(&writer, 1, || Ok(()));
        let followed = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move {
                writer
                    .write_then(|conn| {
                        conn.execute("INSERT INTO t (v) VALUES (2)", [])?;
                        let then: Then = Box::new(|conn: &Connection| {
                            // Outside the job's savepoint: releasing it
                            // again fails.
                            assert!(conn.execute_batch("RELEASE job").is_err());
                            conn.execute("INSERT INTO t (v) VALUES (3)", [])?;
                            Err(StoreError::Invalid("after".to_owned()).into())
                        });
                        Ok(((), Some(then)))
                    })
                    .await
            })
        };
        queued(&writer, 2).await;
        release.send(()).unwrap();
        assert!(matches!(followed.await.unwrap(), Err(StoreError::Invalid(m)) if m == "after"));
        assert!(
            matches!(before.await.unwrap(), Err(StoreError::Invalid(m)) if m == "after"),
            "the batch did not commit"
        );
        assert_eq!(values(&writer).await, Vec::<i64>::new());

        // A follow-up that succeeds commits with its job.
        writer
            .write_then(|conn| {
                conn.execute("INSERT INTO t (v) VALUES (4)", [])?;
                let then: Then = Box::new(|conn: &Connection| {
                    conn.execute("INSERT INTO t (v) VALUES (5)", [])?;
                    Ok(())
                });
                Ok(((), Some(then)))
            })
            .await
            .unwrap();
        assert_eq!(values(&writer).await, vec![4, 5]);
    }

    #[tokio::test]
    async fn a_read_only_connection_fails_writes_until_the_writer_opens_it_again() {
        // Root may write any file, so the read-only open that SQLite falls
        // back to for a file its user may not write is asked for directly.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ro.db");
        let version = {
            let conn = crate::open::writer(&path).unwrap();
            crate::migrate::bootstrap(&conn).unwrap();
            crate::migrate::apply_pending(&conn).unwrap();
            crate::migrate::current(&conn).unwrap()
        };
        let conn =
            Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let writer = Writer::start(conn, path.clone(), version).unwrap();
        let failing = writer.failing().expect("known read-only at start");
        assert!(
            failing.contains("could only be opened read-only"),
            "{failing}"
        );

        // The first batch opens the connection again, now writable.
        let mode = writer
            .write(|conn| {
                conn.execute("CREATE TABLE scratch (v INTEGER)", [])?;
                Ok(conn.pragma_query_value(None, "journal_mode", |row| row.get::<_, String>(0))?)
            })
            .await
            .unwrap();
        assert_eq!(mode, "wal", "the settings of `open::writer`");
        assert_eq!(writer.failing(), None);
        writer.close().await.unwrap();
    }

    #[tokio::test]
    async fn close_finishes_queued_jobs_and_refuses_later_ones() {
        let (_dir, writer, release) = start_held().await;
        let queued_before = spawn_insert(&writer, 7, || Ok(()));
        queued(&writer, 1).await;
        let closing = {
            let writer = Arc::clone(&writer);
            tokio::spawn(async move { writer.close().await })
        };
        queued(&writer, 2).await;
        release.send(()).unwrap();

        closing.await.unwrap().unwrap();
        queued_before.await.unwrap().unwrap();
        let late = spawn_insert(&writer, 8, || Ok(())).await.unwrap();
        assert!(matches!(late, Err(StoreError::Unavailable(_))), "{late:?}");
    }
}
