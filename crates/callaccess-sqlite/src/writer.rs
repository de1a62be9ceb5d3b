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

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use callaccess_domain::StoreError;
use rusqlite::Connection;
use tokio::sync::{mpsc, oneshot};

use crate::error::{closed, from_sqlite, Fail};

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

/// Work for the writer, run inside the batch's transaction.
type Work<T> = Box<dyn FnOnce(&Connection) -> Result<T, Fail> + Send>;

/// A job with its result type erased, so one queue carries them all.
trait Job: Send {
    /// Runs the work; `true` if it succeeded and its changes should stay.
    fn run(&mut self, conn: &Connection) -> bool;
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
    fn run(&mut self, conn: &Connection) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        // A bug in one job must not take the writer (and so every later
        // write) down with it; the job's savepoint is rolled back instead.
        let outcome = match catch_unwind(AssertUnwindSafe(|| work(conn))) {
            Ok(result) => result.map_err(StoreError::from),
            Err(_) => Err(StoreError::Other("a write job panicked".to_owned())),
        };
        let ok = outcome.is_ok();
        self.outcome = Some(outcome);
        ok
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
}

impl Writer {
    /// Starts the writer thread on an open, migrated connection.
    pub(crate) fn start(conn: Connection) -> Result<Self, StoreError> {
        let (queue, inbox) = mpsc::channel(QUEUE);
        let counters = Arc::new(Counters::default());
        let counted = Arc::clone(&counters);
        let cap = max_batch();
        if cap < MAX_BATCH {
            tracing::info!(
                max_batch = cap,
                "write batches are capped by {MAX_BATCH_ENV}"
            );
        }
        let thread = std::thread::Builder::new()
            .name("callaccess-sqlite-writer".to_owned())
            .spawn(move || run(conn, inbox, &counted, cap))
            .map_err(|e| StoreError::Other(format!("cannot start the writer thread: {e}")))?;
        Ok(Self {
            queue,
            thread: Mutex::new(Some(thread)),
            counters,
        })
    }

    /// Runs `work` in the next batch and answers once that batch is durable.
    pub(crate) async fn write<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, Fail> + Send + 'static,
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

    /// A reading of how many transactions the writer has begun, for the
    /// checkpoint thread to tell whether the log has grown.
    pub(crate) fn progress(&self) -> impl Fn() -> u64 + Send + 'static {
        let counters = Arc::clone(&self.counters);
        move || counters.batches.load(Ordering::Relaxed)
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

/// The writer thread's loop.
fn run(conn: Connection, mut inbox: mpsc::Receiver<Message>, counters: &Counters, cap: usize) {
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
            commit_batch(&conn, &mut batch);
        }
        if let Some(done) = closing.take() {
            shut_down(&conn, &mut inbox);
            let _ = done.send(());
            return;
        }
    }
    checkpoint(&conn);
}

/// Refuses whatever arrived after `close`, then folds the log into the
/// database so the files are compact and self-contained.
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

/// Runs one batch in one transaction and answers every job in it.
fn commit_batch(conn: &Connection, batch: &mut Vec<Box<dyn Job>>) {
    let started = std::time::Instant::now();
    let failure = run_batch(conn, batch).err();
    // The batch's whole transaction including its fsync: what every request
    // in it waited for once it reached the writer.
    metrics::histogram!("callaccess_store_commit_seconds", "backend" => "sqlite")
        .record(started.elapsed().as_secs_f64());
    metrics::histogram!("callaccess_store_batch_size", "backend" => "sqlite")
        .record(batch.len() as f64);
    if let Some(failure) = &failure {
        tracing::error!(error = %failure, jobs = batch.len(), "a write batch failed");
        if !conn.is_autocommit() {
            // Best effort: if even ROLLBACK fails the connection is unusable
            // and the next BEGIN reports it.
            let _ = conn.execute_batch("ROLLBACK");
        }
    }
    for job in batch.drain(..) {
        job.answer(failure.as_ref());
    }
}

fn run_batch(conn: &Connection, batch: &mut [Box<dyn Job>]) -> Result<(), StoreError> {
    let sql = |text: &str| -> Result<(), StoreError> {
        conn.prepare_cached(text)
            .and_then(|mut statement| statement.execute([]))
            .map(drop)
            .map_err(|e| from_sqlite(&e))
    };
    sql("BEGIN IMMEDIATE")?;
    for job in batch.iter_mut() {
        sql("SAVEPOINT job")?;
        if !job.run(conn) {
            // Some errors (an I/O error, a full disk) make SQLite abandon the
            // whole transaction; the rest of the batch cannot commit then.
            if conn.is_autocommit() {
                return Err(StoreError::Unavailable(
                    "the database aborted the transaction".to_owned(),
                ));
            }
            sql("ROLLBACK TO job")?;
        }
        sql("RELEASE job")?;
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
        let conn = crate::open::writer(&dir.path().join("w.db")).unwrap();
        conn.execute_batch(
            "CREATE TABLE t (v INTEGER NOT NULL);
             CREATE TABLE parent (id INTEGER PRIMARY KEY);
             CREATE TABLE child (p INTEGER REFERENCES parent (id) DEFERRABLE INITIALLY DEFERRED);",
        )
        .unwrap();
        (dir, Arc::new(Writer::start(conn).unwrap()))
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
