//! Rate-limit budgets kept in the database, so that every node on it counts
//! against the same budget: one GCRA step ([`callaccess_domain::gcra`]) on
//! the stored arrival time of (company, window).

use callaccess_domain::{gcra, CompanyId, RateWindow};
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;

use crate::error::Fail;
use crate::rows;

/// One step, at `now_micros` or, when `None`, on the database's clock.
///
/// Runs under READ COMMITTED with the budget's row locked (`FOR UPDATE`):
/// every node's request for one budget queues on that lock, reads the tat the
/// previous one left, and writes its own — a read-modify-write that is
/// serial per budget by construction. SERIALIZABLE would instead abort all
/// but one of a burst of concurrent requests on this hot row and make them
/// retry, which is wasted work for the same outcome. One row per lock, so no
/// deadlock is possible.
pub(crate) async fn acquire(
    db: &impl GenericClient,
    company: CompanyId,
    window: RateWindow,
    emission_micros: i64,
    burst: u32,
    now_micros: Option<i64>,
) -> Result<Result<(), i64>, Fail> {
    let lock = "SELECT tat FROM rate_limit_state WHERE company_id = $1 AND budget = $2 FOR UPDATE";
    let params: [&(dyn ToSql + Sync); 2] = [&company.get(), &window.as_str()];
    let tat = match rows::first(db, lock, &params).await? {
        Some(row) => rows::at(&row, 0)?,
        None => {
            // The budget's first use: create the row so that there is
            // something to lock. A tat of 0 (1970) reads exactly like no tat
            // at all, a full budget. Two nodes may race here; DO NOTHING
            // lets the second wait for the first and then lock its row.
            let create = "INSERT INTO rate_limit_state (company_id, budget, tat) VALUES ($1, $2, 0)
                          ON CONFLICT (company_id, budget) DO NOTHING";
            rows::execute(db, create, &params).await?;
            let statement = db.prepare_cached(lock).await?;
            rows::at(&db.query_one(&statement, &params).await?, 0)?
        }
    };
    // The clock is read only once the lock is held, so that arrival times
    // increase in the order in which requests are counted. `clock_timestamp`
    // rather than `now()`: the latter is the transaction's start time.
    let clock = db
        .prepare_cached(
            "SELECT coalesce($1::BIGINT, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)",
        )
        .await?;
    let now = rows::at(&db.query_one(&clock, &[&now_micros]).await?, 0)?;
    match gcra(Some(tat), now, emission_micros, burst) {
        Ok(new_tat) => {
            let update =
                "UPDATE rate_limit_state SET tat = $3 WHERE company_id = $1 AND budget = $2";
            rows::execute(db, update, &[&company.get(), &window.as_str(), &new_tat]).await?;
            Ok(Ok(()))
        }
        Err(wait) => Ok(Err(wait)),
    }
}
