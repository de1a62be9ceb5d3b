//! Statements and round trips, counted per store operation and exported as
//! `callaccess_store_statements_total` and
//! `callaccess_store_round_trips_total` (labels `backend="postgres"` and
//! `operation`).
//!
//! A round trip is one wait for the server: a statement, a `BEGIN` or
//! `COMMIT`, the preparation of a statement the connection had not seen,
//! or several of these sent together (pipelined) and answered at once.
//! Unlike a latency, the count does not depend on the machine, so the
//! benchmark states its targets in it.
//!
//! The runner ([`crate::run`]) opens a tally around each attempt of an
//! operation; the statement helpers ([`crate::rows`]) add to the tally of
//! the task they run in. Work outside any operation is not counted.
//!
//! The tally also notes whether the attempt sent a statement that records
//! audit entries ([`recorded`]): an attempt that did and succeeded (so its
//! transaction committed) is announced to every node after the commit
//! ([`crate::audit::Announcer`]), not inside it.

use std::cell::Cell;
use std::future::Future;

use deadpool_postgres::tokio_postgres::Statement;
use deadpool_postgres::{GenericClient, StatementCache};

tokio::task_local! {
    static TALLY: Tally;
}

#[derive(Debug, Default)]
struct Tally {
    statements: Cell<u64>,
    round_trips: Cell<u64>,
    recorded: Cell<bool>,
}

/// Adds `statements` sent in `round_trips` waits to the running operation.
pub(crate) fn add(statements: u64, round_trips: u64) {
    let _ = TALLY.try_with(|tally| {
        tally.statements.set(tally.statements.get() + statements);
        tally.round_trips.set(tally.round_trips.get() + round_trips);
    });
}

/// Notes that the running operation sent a statement that records audit
/// entries: once it has committed, [`counted`] announces them.
pub(crate) fn recorded() {
    let _ = TALLY.try_with(|tally| tally.recorded.set(true));
}

/// Runs `work` as one attempt of `operation`, then records what it sent
/// (whether it succeeded or not: a failed attempt waited too). An attempt
/// that succeeded after recording audit entries is announced through
/// `announcer` (its transaction has committed by then: every operation
/// commits before its work ends).
pub(crate) async fn counted<T, E, F>(
    operation: &'static str,
    announcer: &crate::audit::Announcer,
    work: F,
) -> Result<T, E>
where
    F: Future<Output = Result<T, E>>,
{
    TALLY
        .scope(Tally::default(), async move {
            let output = work.await;
            let (statements, round_trips, recorded) = TALLY
                .try_with(|t| (t.statements.get(), t.round_trips.get(), t.recorded.get()))
                .unwrap_or_default();
            record(operation, statements, round_trips);
            if recorded && output.is_ok() {
                announcer.committed();
            }
            output
        })
        .await
}

fn record(operation: &'static str, statements: u64, round_trips: u64) {
    metrics::counter!(
        "callaccess_store_statements_total",
        "backend" => "postgres",
        "operation" => operation
    )
    .increment(statements);
    metrics::counter!(
        "callaccess_store_round_trips_total",
        "backend" => "postgres",
        "operation" => operation
    )
    .increment(round_trips);
}

/// A client whose prepared statements can be told apart from new ones, so
/// that a preparation is counted only when it waits for the server.
pub(crate) trait Db: GenericClient {
    fn statement_cache(&self) -> &StatementCache;
}

impl Db for deadpool_postgres::Client {
    fn statement_cache(&self) -> &StatementCache {
        &self.statement_cache
    }
}

impl Db for deadpool_postgres::Transaction<'_> {
    fn statement_cache(&self) -> &StatementCache {
        &self.statement_cache
    }
}

/// `sql` prepared on this connection: from its cache, or from the server
/// (one round trip, counted).
pub(crate) async fn prepare(
    db: &impl Db,
    sql: &str,
) -> Result<Statement, deadpool_postgres::tokio_postgres::Error> {
    let before = db.statement_cache().size();
    let statement = db.prepare_cached(sql).await?;
    if db.statement_cache().size() != before {
        add(0, 1);
    }
    Ok(statement)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn additions_count_inside_an_operation_only() {
        add(5, 5);
        let seen = TALLY
            .scope(Tally::default(), async {
                add(2, 1);
                add(1, 1);
                TALLY.with(|t| (t.statements.get(), t.round_trips.get()))
            })
            .await;
        assert_eq!(seen, (3, 2));
    }
}
