//! Rate-limit budgets kept in the database, so that every node on it counts
//! against the same budget: [`callaccess_domain::gcra_many`] on the stored
//! arrival times (tats) of a company's budgets.
//!
//! One transaction of two round trips, whatever the number of requests
//! counted (a node gathers the requests waiting for the database, see the
//! HTTP crate's `ratelimit`) and of budgets:
//! 1. `BEGIN` (READ COMMITTED), an insert of the budgets' rows that are
//!    missing, a `SELECT … FOR UPDATE` of the rows, and the clock;
//! 2. the new tats and `COMMIT` (or `COMMIT` alone when nothing was
//!    admitted).
//!
//! Every node's count of one company queues on the row locks, reads the
//! tats the previous one left, and writes its own: a read-modify-write that
//! is serial per company by construction. The rows are locked in budget
//! order, so no two counts deadlock. SERIALIZABLE would instead abort all
//! but one of a burst of concurrent counts on these hot rows, which is
//! wasted work for the same outcome. The clock is read by a statement of
//! its own after the locks are held, so that arrival times increase in the
//! order in which requests are counted; `clock_timestamp` rather than
//! `now()`, which is the transaction's start.

use callaccess_domain::{gcra_many, Budget, CompanyId, StoreError};
use tokio_postgres::types::ToSql;

use crate::error::Fail;
use crate::rows;
use crate::run::commit_with;
use crate::tally::{self, Db};

/// Microseconds, saturating (an emission interval of 292,000 years is as
/// good as forever).
pub(crate) fn micros(duration: std::time::Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

const CREATE: &str = "INSERT INTO rate_limit_state (company_id, budget, tat)
     SELECT $1, budget, 0 FROM unnest($2::TEXT[]) AS budget
     ON CONFLICT (company_id, budget) DO NOTHING";
const LOCK: &str = "SELECT budget, tat FROM rate_limit_state
     WHERE company_id = $1 AND budget = ANY($2::TEXT[])
     ORDER BY budget FOR UPDATE";
const CLOCK: &str =
    "SELECT coalesce($1::BIGINT, (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT)";
const UPDATE: &str = "UPDATE rate_limit_state AS s SET tat = new.tat
     FROM unnest($2::TEXT[], $3::BIGINT[]) AS new (budget, tat)
     WHERE s.company_id = $1 AND s.budget = new.budget";

/// Counts `count` requests of `company` against `budgets`, at `now_micros`
/// or, when `None`, on the database's clock: how many were admitted, and
/// the index of the budget that refused the rest with its wait.
pub(crate) async fn acquire(
    db: &impl Db,
    company: CompanyId,
    budgets: &[Budget],
    count: u32,
    now_micros: Option<i64>,
) -> Result<(u32, Option<(usize, i64)>), Fail> {
    let names: Vec<&str> = budgets.iter().map(|b| b.window.as_str()).collect();
    let company_id = company.get();
    let (create, lock, clock) = (
        tally::prepare(db, CREATE).await?,
        tally::prepare(db, LOCK).await?,
        tally::prepare(db, CLOCK).await?,
    );
    tally::add(4, 1);
    // A budget's first use creates its row, so that there is something to
    // lock; a tat of 0 (1970) reads exactly like no tat at all, a full
    // budget. Two nodes may race here; DO NOTHING lets the second wait for
    // the first and then lock its row.
    let budget_params: [&(dyn ToSql + Sync); 2] = [&company_id, &names];
    let clock_params: [&(dyn ToSql + Sync); 1] = [&now_micros];
    let (begun, created, locked, now) = tokio::join!(
        db.batch_execute("BEGIN ISOLATION LEVEL READ COMMITTED"),
        db.execute(&create, &budget_params),
        db.query(&lock, &budget_params),
        db.query(&clock, &clock_params),
    );
    begun?;
    created?;
    let (locked, now) = (locked?, now?);
    let now: i64 = match now.first() {
        Some(row) => rows::at(row, 0)?,
        None => {
            return Err(Fail::Store(StoreError::Other(
                "the clock query returned no row".to_owned(),
            )))
        }
    };
    let mut stored = Vec::with_capacity(budgets.len());
    for name in &names {
        let row = locked
            .iter()
            .find(|row| rows::at::<&str>(row, 0).ok() == Some(*name));
        let tat: i64 = match row {
            Some(row) => rows::at(row, 1)?,
            None => {
                return Err(Fail::Store(StoreError::Other(format!(
                    "the {name} budget's row is missing after it was created"
                ))))
            }
        };
        stored.push(tat);
    }
    let inputs: Vec<(Option<i64>, i64, u32)> = budgets
        .iter()
        .zip(&stored)
        .map(|(budget, tat)| (Some(*tat), micros(budget.emission), budget.burst))
        .collect();
    let outcome = gcra_many(&inputs, now, count);
    if outcome.admitted == 0 {
        commit_with(db, None).await?;
    } else {
        let tats: Vec<i64> = outcome
            .tats
            .iter()
            .zip(&stored)
            .map(|(new, old)| new.unwrap_or(*old))
            .collect();
        let params: [&(dyn ToSql + Sync); 3] = [&company_id, &names, &tats];
        commit_with(db, Some((UPDATE, &params))).await?;
    }
    Ok((outcome.admitted, outcome.refused))
}
