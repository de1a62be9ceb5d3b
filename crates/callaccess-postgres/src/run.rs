//! Running work on the database: one transaction per operation, at the
//! isolation the operation needs, retried when PostgreSQL asks for it.
//!
//! Why SERIALIZABLE for everything that writes: a PUT reads the call, the
//! user, the user's profile, participants and shares, and then writes a grant
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
//! Rate-limit accounting uses READ COMMITTED with a row lock instead (see
//! `rate::acquire`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use callaccess_domain::StoreError;
use deadpool_postgres::tokio_postgres::IsolationLevel;

use crate::error::Fail;

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
    /// Work that takes its own row locks: READ COMMITTED.
    Locked,
}

impl Mode {
    pub(crate) fn isolation(self) -> IsolationLevel {
        match self {
            Self::Write => IsolationLevel::Serializable,
            Self::Read => IsolationLevel::RepeatableRead,
            Self::Locked => IsolationLevel::ReadCommitted,
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
/// before the first attempt so that every attempt records the same time.
macro_rules! transaction {
    ($store:expr, $mode:expr, $operation:literal, |$tx:ident, $now:ident| $body:expr) => {{
        let $now = callaccess_domain::Timestamp::now();
        $crate::run::transaction!($store, $mode, $operation, |$tx| $body)
    }};
    ($store:expr, $mode:expr, $operation:literal, |$tx:ident| $body:expr) => {{
        let store: &$crate::store::PostgresStore = $store;
        let mode: $crate::run::Mode = $mode;
        let mut attempt: u32 = 0;
        loop {
            attempt += 1;
            let outcome: Result<_, $crate::error::Fail> = async {
                let mut client = store.client().await?;
                let $tx = client
                    .build_transaction()
                    .isolation_level(mode.isolation())
                    .read_only(mode.read_only())
                    .start()
                    .await?;
                let value = $body.await?;
                $tx.commit().await.map_err($crate::error::Fail::at_commit)?;
                Ok(value)
            }
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
            let outcome: Result<_, $crate::error::Fail> = async {
                let client = store.client().await?;
                let $db = &client;
                $body.await
            }
            .await;
            match $crate::run::settle(outcome, attempt, $operation, store.counters()).await {
                $crate::run::Next::Done(result) => break result,
                $crate::run::Next::Again => continue,
            }
        }
    }};
}

pub(crate) use {statement, transaction};
