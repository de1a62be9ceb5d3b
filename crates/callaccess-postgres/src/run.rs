//! Running work on the database: one transaction per operation, at the
//! isolation the operation needs, retried when PostgreSQL asks for it.
//!
//! Why SERIALIZABLE for everything that writes: a PUT reads the call, the
//! user, the user's profile, the managers above both, participants and
//! shares, and then writes a grant
//! whose existence depends on all of them. Under READ COMMITTED each of those
//! reads would need a hand-chosen lock (and a lock on the *absence* of a
//! share is not expressible with row locks at all); SERIALIZABLE makes
//! PostgreSQL prove that the concurrent transactions it commits are
//! equivalent to some serial order — the SQLite backend's single writer, in
//! effect — and abort the rest with SQLSTATE 40001. It is also the isolation
//! distributed PostgreSQL-compatible databases default to. The price is
//! aborts under contention, which the store retries here, so a client never
//! sees them.
//!
//! Reads that take several statements run in one REPEATABLE READ, READ ONLY
//! transaction: one snapshot, never aborted for serialization.
//! Single-statement reads (credential lookups on every request, and POST)
//! run without an explicit transaction: one statement sees one snapshot
//! anyway, and BEGIN/COMMIT would triple the round trips of the hot path.
//! Rate-limit accounting uses READ COMMITTED with row locks instead (see
//! `rate`).
//!
//! The hot operations (PUT, DELETE and rate accounting) do not wait for
//! `BEGIN` and `COMMIT` on their own: `BEGIN` is sent with the
//! transaction's first statement and `COMMIT` with its last, in one round
//! trip each ([`pipelined`]; tokio-postgres pipelines requests that are
//! polled together, and PostgreSQL answers them in order).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use callaccess_domain::StoreError;
use deadpool_postgres::tokio_postgres::IsolationLevel;

use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Fail;
use crate::tally::Db;

/// Attempts of one operation before a persistent conflict is reported as
/// `Unavailable`. With the backoff below this spans well over a second of
/// contention, far beyond what a healthy database produces.
pub(crate) const MAX_ATTEMPTS: u32 = 40;

/// First backoff; it doubles per attempt up to [`MAX_BACKOFF`], and each
/// sleep is a random fraction of that ("full jitter"), so that transactions
/// that collided once do not collide again in lockstep.
const BASE_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(50);

/// How a transaction is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Writes and read-then-write work: SERIALIZABLE.
    Write,
    /// Multi-statement reads: one snapshot, read only.
    Read,
}

impl Mode {
    pub(crate) fn isolation(self) -> IsolationLevel {
        match self {
            Self::Write => IsolationLevel::Serializable,
            Self::Read => IsolationLevel::RepeatableRead,
        }
    }

    pub(crate) fn read_only(self) -> bool {
        self == Self::Read
    }
}

/// Counters of what the runner had to do, for tests and diagnostics.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    conflicts: AtomicU64,
    reconnects: AtomicU64,
}

/// A snapshot of [`Counters`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RetryStats {
    /// Transactions aborted by the database (serialization failures and
    /// deadlocks) and run again.
    pub conflicts: u64,
    /// Transactions run again on another connection because theirs was
    /// found broken before COMMIT.
    pub reconnects: u64,
}

impl Counters {
    pub(crate) fn snapshot(&self) -> RetryStats {
        RetryStats {
            conflicts: self.conflicts.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
        }
    }
}

/// What the runner does after one attempt.
pub(crate) enum Next<T> {
    Done(Result<T, StoreError>),
    Again,
}

/// Decides whether attempt number `attempt` (from 1) is final, sleeping
/// before the next one when needed.
pub(crate) async fn settle<T>(
    outcome: Result<T, Fail>,
    attempt: u32,
    operation: &'static str,
    counters: &Counters,
) -> Next<T> {
    match outcome {
        Ok(value) => Next::Done(Ok(value)),
        Err(Fail::Conflict(why)) if attempt < MAX_ATTEMPTS => {
            counters.conflicts.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(operation, attempt, cause = %why, "retrying a transaction the database aborted");
            tokio::time::sleep(backoff(attempt)).await;
            Next::Again
        }
        // A broken connection is retried once, at once: the pool drops the
        // broken one, and if the database is really down the next attempt
        // fails fast on connect, keeping the outage answer prompt.
        Err(Fail::Lost(why)) if attempt == 1 => {
            counters.reconnects.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(operation, cause = %why, "retrying on another connection");
            Next::Again
        }
        Err(fail) => Next::Done(Err(fail.into_store_error())),
    }
}

fn backoff(attempt: u32) -> Duration {
    let ceiling = BASE_BACKOFF
        .saturating_mul(1u32 << attempt.min(16))
        .min(MAX_BACKOFF);
    let micros = u64::try_from(ceiling.as_micros()).unwrap_or(u64::MAX);
    Duration::from_micros(rand::random_range(0..=micros))
}

/// Runs `$body` (an expression using `$tx`, a transaction opened in `$mode`)
/// and commits, retrying the whole transaction as [`settle`] decides.
/// A macro rather than a function taking a closure: the body borrows the
/// transaction and the caller's arguments, which a closure returning a boxed
/// future cannot express without cloning everything.
///
/// `|$tx, $now|` also binds `$now`, the time of the operation, read once
/// from the store's clock before the first attempt so that every attempt
/// records the same time.
macro_rules! transaction {
    ($store:expr, $mode:expr, $operation:literal, |$tx:ident, $now:ident| $body:expr) => {{
        let $now = $crate::store::PostgresStore::now($store);
        $crate::run::transaction!($store, $mode, $operation, |$tx| $body)
    }};
    ($store:expr, $mode:expr, $operation:literal, |$tx:ident| $body:expr) => {{
        let store: &$crate::store::PostgresStore = $store;
        let mode: $crate::run::Mode = $mode;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: Result<_, $crate::error::Fail> =
                $crate::tally::counted($operation, store.announcer(), async {
                    let mut client = store.client().await?;
                    $crate::tally::add(1, 1);
                    let $tx = client
                        .build_transaction()
                        .isolation_level(mode.isolation())
                        .read_only(mode.read_only())
                        .start()
                        .await?;
                    let value = $body.await?;
                    $crate::tally::add(1, 1);
                    $tx.commit().await.map_err($crate::error::Fail::at_commit)?;
                    Ok(value)
                })
                .await;
            match $crate::run::settle(outcome, attempt, $operation, store.counters()).await {
                $crate::run::Next::Done(result) => break result,
                $crate::run::Next::Again => continue,
            }
        }
    }};
}

/// Runs `$body` (an expression using `$db`, a pooled connection) outside an
/// explicit transaction: for single statements.
macro_rules! statement {
    ($store:expr, $operation:literal, |$db:ident| $body:expr) => {{
        let store: &$crate::store::PostgresStore = $store;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: Result<_, $crate::error::Fail> =
                $crate::tally::counted($operation, store.announcer(), async {
                    let client = store.client().await?;
                    let $db = &client;
                    $body.await
                })
                .await;
            match $crate::run::settle(outcome, attempt, $operation, store.counters()).await {
                $crate::run::Next::Done(result) => break result,
                $crate::run::Next::Again => continue,
            }
        }
    }};
}

/// Runs `$body` (an expression using `$db`, a pooled connection, and
/// `$now`) that opens and ends its own transaction with pipelined
/// statements (see [`pipeline`]), retrying as [`settle`] decides. When the
/// body fails, whatever transaction it left open is rolled back; when the
/// work is dropped mid-way (a request timed out), the connection is closed
/// rather than given back to the pool with a transaction open.
macro_rules! pipelined {
    ($store:expr, $operation:literal, |$db:ident, $now:ident| $body:expr) => {{
        let store: &$crate::store::PostgresStore = $store;
        let $now = store.now();
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: Result<_, $crate::error::Fail> =
                $crate::tally::counted($operation, store.announcer(), async {
                    let held = $crate::run::Held::new(store.client().await?);
                    let result = {
                        let $db = held.client();
                        $body.await
                    };
                    if result.is_err() {
                        held.roll_back().await?;
                    }
                    held.give_back();
                    result
                })
                .await;
            match $crate::run::settle(outcome, attempt, $operation, store.counters()).await {
                $crate::run::Next::Done(result) => break result,
                $crate::run::Next::Again => continue,
            }
        }
    }};
}

pub(crate) use {pipelined, statement, transaction};

/// A pooled connection that may have a transaction open: given back to the
/// pool only by [`Held::give_back`], else closed when dropped.
pub(crate) struct Held(Option<deadpool_postgres::Client>);

impl Held {
    pub(crate) fn new(client: deadpool_postgres::Client) -> Self {
        Self(Some(client))
    }

    pub(crate) fn client(&self) -> &deadpool_postgres::Client {
        // Set in `new`, taken only by `give_back` and `drop`, which end
        // the value's use.
        self.0
            .as_ref()
            .unwrap_or_else(|| unreachable!("a Held connection is used after its end"))
    }

    /// Ends whatever transaction is open. Outside one, PostgreSQL only
    /// warns, so this is always safe to send.
    pub(crate) async fn roll_back(&self) -> Result<(), Fail> {
        crate::tally::add(1, 1);
        self.client().batch_execute("ROLLBACK").await?;
        Ok(())
    }

    /// Back to the pool: no transaction is open.
    pub(crate) fn give_back(mut self) {
        self.0.take();
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(client) = self.0.take() {
            // Out of the pool: the connection closes, and the server rolls
            // back what it had open.
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

/// How a pipelined transaction starts: `BEGIN` at SERIALIZABLE (see the
/// module's docs), sent with the transaction's first statement.
pub(crate) const BEGIN_SERIALIZABLE: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";

/// The transaction's first statement, sent together with `BEGIN` in one
/// round trip: its rows.
pub(crate) async fn begin_with_query(
    db: &impl Db,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Fail> {
    let statement = crate::tally::prepare(db, sql).await?;
    crate::tally::add(2, 1);
    let (begun, rows) = tokio::join!(
        db.batch_execute(BEGIN_SERIALIZABLE),
        db.query(&statement, params)
    );
    begun?;
    Ok(rows?)
}

/// The transaction's last statement, sent together with `COMMIT` in one
/// round trip (or `COMMIT` alone when `sql` is `None`). If the statement
/// fails, PostgreSQL ends the transaction at that `COMMIT` with a
/// rollback. A connection lost in this round trip leaves the outcome
/// unknown, which is answered as such, never retried blindly.
pub(crate) async fn commit_with(
    db: &impl Db,
    last: Option<(&str, &[&(dyn ToSql + Sync)])>,
) -> Result<(), Fail> {
    let Some((sql, params)) = last else {
        crate::tally::add(1, 1);
        return db.batch_execute("COMMIT").await.map_err(Fail::at_commit);
    };
    let statement = crate::tally::prepare(db, sql).await?;
    crate::tally::add(2, 1);
    let (written, committed) =
        tokio::join!(db.execute(&statement, params), db.batch_execute("COMMIT"));
    written.map_err(Fail::at_commit)?;
    committed.map_err(Fail::at_commit)
}

/// [`begin_with_query`] with a second statement in the same round trip:
/// both statements' rows.
pub(crate) async fn begin_with_queries(
    db: &impl Db,
    (first, first_params): (&str, &[&(dyn ToSql + Sync)]),
    (second, second_params): (&str, &[&(dyn ToSql + Sync)]),
) -> Result<(Vec<Row>, Vec<Row>), Fail> {
    let first = crate::tally::prepare(db, first).await?;
    let second = crate::tally::prepare(db, second).await?;
    crate::tally::add(3, 1);
    let (begun, first, second) = tokio::join!(
        db.batch_execute(BEGIN_SERIALIZABLE),
        db.query(&first, first_params),
        db.query(&second, second_params)
    );
    begun?;
    Ok((first?, second?))
}

/// [`commit_with`] of a write followed by the statement that records its
/// audit entries (`None`: it recorded none), in one round trip with
/// `COMMIT`. The write comes first, so the transaction has its xid before
/// the entries draw their numbers (see `audit`).
pub(crate) async fn commit_with_record(
    db: &impl Db,
    write: (&str, &[&(dyn ToSql + Sync)]),
    record: Option<(&str, &[&(dyn ToSql + Sync)])>,
) -> Result<(), Fail> {
    let Some((record, record_params)) = record else {
        return commit_with(db, Some(write)).await;
    };
    crate::tally::recorded();
    let (write, write_params) = write;
    let write = crate::tally::prepare(db, write).await?;
    let record = crate::tally::prepare(db, record).await?;
    crate::tally::add(3, 1);
    let (written, recorded, committed) = tokio::join!(
        db.execute(&write, write_params),
        db.execute(&record, record_params),
        db.batch_execute("COMMIT")
    );
    written.map_err(Fail::at_commit)?;
    recorded.map_err(Fail::at_commit)?;
    committed.map_err(Fail::at_commit)
}
