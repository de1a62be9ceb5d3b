//! The three endpoints — grant (PUT), revoke (DELETE) and list (POST) API
//! grants — and the operator's view of one call. The rules are
//! [`callaccess_domain::access`]'s; this module fetches the facts a request
//! needs and writes what the rules decided.
//!
//! Each endpoint fetches its facts in one statement, with the request's ids
//! as arrays, and writes in at most one more: a request of 10,000 pairs
//! costs the same round trips as one of a single pair. PUT and DELETE run
//! inside one SERIALIZABLE transaction, so the facts and the write see the
//! same state and a rejected request leaves nothing behind; `BEGIN` goes
//! with the facts and `COMMIT` with the write, so each takes two round
//! trips. POST is a single statement, which sees one snapshot by itself.
//!
//! The statement that reads the facts also reads the count of credential
//! changes, which confirms a credential the node kept ([`Epoch`]) before
//! any fact is used: the check costs no round trip of its own.

use std::collections::HashMap;

use crate::tally::Db;
use callaccess_domain::access::{self as rules, Prefetched};
use callaccess_domain::{
    AccessChange, Call, CallAccessFacts, CallGrants, CallId, Caller, CompanyId, StoreError,
    Timestamp, UserId,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::admin;
use crate::error::Fail;
use crate::rows;
use crate::run;
use crate::store::Epoch;

/// Every fact a PUT's rules ask about, as tagged rows: the count of
/// credential changes (as `user_id`), the calls among `$2` with their
/// primary user, the users among `$3` with their profile level, and the
/// participants and shares among `$2 × $3`. API grants are not needed:
/// recording one twice is a no-op.
const FACTS: &str = "\
SELECT 'epoch' AS fact, NULL::BIGINT AS call_id, count AS user_id, NULL::TEXT AS level
  FROM credential_changes WHERE id = 1
UNION ALL
SELECT 'call', id, primary_user_id, NULL
  FROM calls WHERE company_id = $1 AND id = ANY($2::BIGINT[])
UNION ALL
SELECT 'user', NULL, id, calls_access
  FROM users WHERE company_id = $1 AND id = ANY($3::BIGINT[])
UNION ALL
SELECT 'participant', call_id, user_id, NULL
  FROM call_participants
 WHERE company_id = $1 AND call_id = ANY($2::BIGINT[]) AND user_id = ANY($3::BIGINT[])
UNION ALL
SELECT 'share', call_id, user_id, NULL
  FROM shares
 WHERE company_id = $1 AND call_id = ANY($2::BIGINT[]) AND user_id = ANY($3::BIGINT[])";

/// Opens the transaction and reads the facts about `calls` and `users`,
/// in one round trip; confirms the caller's credential first.
async fn begin_with_facts(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    calls: &[i64],
    users: &[i64],
) -> Result<Prefetched, Fail> {
    let found = run::begin_with_query(db, FACTS, &[&caller.company.get(), &calls, &users]).await?;
    epoch.confirm(caller, epoch_of(&found)?)?;
    let mut facts = Prefetched::default();
    for row in &found {
        match rows::at::<&str>(row, 0)? {
            "epoch" => {}
            "call" => facts.call(rows::call_at(row, 1)?, rows::user_at(row, 2)?),
            "user" => facts.user(rows::user_at(row, 2)?, rows::calls_access_at(row, 3)?),
            "participant" => facts.participant(rows::call_at(row, 1)?, rows::user_at(row, 2)?),
            "share" => facts.share(rows::call_at(row, 1)?, rows::user_at(row, 2)?),
            other => return Err(rows::unknown_tag(other)),
        }
    }
    Ok(facts)
}

/// The ids of `pairs`, as two parallel arrays for `unnest`.
fn unzipped(pairs: &[(CallId, UserId)]) -> (Vec<i64>, Vec<i64>) {
    pairs
        .iter()
        .map(|(call, user)| (call.get(), user.get()))
        .unzip()
}

/// The count of credential changes among tagged rows (the `'epoch'` row,
/// its value in column 2), which every such statement returns.
fn epoch_of(found: &[Row]) -> Result<u64, Fail> {
    for row in found {
        if rows::at::<&str>(row, 0)? == "epoch" {
            return Ok(u64::try_from(rows::at::<i64>(row, 2)?).unwrap_or(0));
        }
    }
    Err(Fail::Store(StoreError::Other(
        "the count of credential changes is missing; was migration 4 applied?".to_owned(),
    )))
}

/// Inserts API grants at `now`, keeping an existing grant and its time
/// (granting twice is a no-op).
const RECORD: &str = "INSERT INTO api_grants (company_id, call_id, user_id, granted_at)
               SELECT $1, pair.call_id, pair.user_id, $4
               FROM unnest($2::BIGINT[], $3::BIGINT[]) AS pair (call_id, user_id)
               ON CONFLICT (company_id, call_id, user_id) DO NOTHING";

/// Records API grants at `now`, keeping an existing grant and its time
/// (granting twice is a no-op): for seeds, inside their transaction.
pub(crate) async fn record(
    db: &impl Db,
    company: CompanyId,
    grants: &[(CallId, UserId)],
    now: Timestamp,
) -> Result<(), Fail> {
    if grants.is_empty() {
        return Ok(());
    }
    let (calls, users) = unzipped(grants);
    rows::execute(db, RECORD, &[&company.get(), &calls, &users, &now.unix()]).await?;
    Ok(())
}

/// PUT, in its own transaction of two round trips: `BEGIN` and the facts,
/// [`rules::grants_to_record`], then one insert and `COMMIT`.
pub(crate) async fn grant(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    change: &AccessChange,
    now: Timestamp,
) -> Result<(), Fail> {
    let wanted = Prefetched::wants(change);
    let facts = begin_with_facts(
        db,
        caller,
        epoch,
        &rows::ids(wanted.calls, CallId::get),
        &rows::ids(wanted.users, UserId::get),
    )
    .await?;
    let grants = rules::grants_to_record(&facts, change)?;
    if grants.is_empty() {
        return run::commit_with(db, None).await;
    }
    let (calls, users) = unzipped(&grants);
    let company = caller.company.get();
    let params: [&(dyn ToSql + Sync); 4] = [&company, &calls, &users, &now.unix()];
    run::commit_with(db, Some((RECORD, &params))).await
}

/// DELETE, in its own transaction of two round trips: `BEGIN` and the calls
/// (the rules need nothing else), [`rules::grants_to_remove`], then one
/// delete and `COMMIT`.
pub(crate) async fn revoke(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    change: &AccessChange,
) -> Result<(), Fail> {
    let calls = rows::ids(change.calls(), CallId::get);
    let facts = begin_with_facts(db, caller, epoch, &calls, &[]).await?;
    let remove = rules::grants_to_remove(&facts, change)?;
    if remove.is_empty() {
        return run::commit_with(db, None).await;
    }
    let (calls, users) = unzipped(&remove);
    let company = caller.company.get();
    let sql = "DELETE FROM api_grants
               WHERE company_id = $1
                 AND (call_id, user_id) IN (SELECT * FROM unnest($2::BIGINT[], $3::BIGINT[]))";
    let params: [&(dyn ToSql + Sync); 3] = [&company, &calls, &users];
    run::commit_with(db, Some((sql, &params))).await
}

/// The listing of POST: the count of credential changes, then each call of
/// the company that `$calls` selects with its grants.
macro_rules! listing {
    ($calls:literal) => {
        concat!(
            "SELECT 'epoch' AS row, NULL::BIGINT AS call_id, count AS user_id
               FROM credential_changes WHERE id = 1
             UNION ALL
             SELECT 'grant', c.id, g.user_id
               FROM calls c
               LEFT JOIN api_grants g ON g.company_id = c.company_id AND g.call_id = c.id
              WHERE c.company_id = $1 AND ",
            $calls,
            "
             ORDER BY call_id NULLS FIRST, user_id"
        )
    };
}

/// The listing for any number of calls (`$2`, an array).
const LIST_MANY: &str = listing!("c.id = ANY($2::BIGINT[])");

/// The same for one call (`$2`, an id): the common request. PostgreSQL
/// plans a statement with an array parameter again on every execution (its
/// generic plan for `= ANY($2)` looks worse to it than a custom one), which
/// cost more than running it; with a plain id it settles on one plan of
/// primary-key lookups after a few executions (docs/PERFORMANCE.md,
/// "PostgreSQL").
const LIST_ONE: &str = listing!("c.id = $2");

/// POST: the count of credential changes, which of the calls exist and
/// their API grants, in one statement and one round trip (a call without
/// grants comes back once, with a NULL user); the caller's credential is
/// confirmed before any of it is used; then [`rules::missing_calls`].
pub(crate) async fn list(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    calls: &[CallId],
) -> Result<Vec<CallGrants>, Fail> {
    let distinct = rules::distinct_calls(calls);
    let company = caller.company.get();
    let found = match distinct.as_slice() {
        [one] => rows::query(db, LIST_ONE, &[&company, &one.get()]).await?,
        _ => {
            let wanted = rows::ids(distinct.iter().copied(), CallId::get);
            rows::query(db, LIST_MANY, &[&company, &wanted]).await?
        }
    };
    epoch.confirm(caller, epoch_of(&found)?)?;
    let mut grants: HashMap<CallId, Vec<UserId>> = HashMap::with_capacity(distinct.len());
    for row in &found {
        match rows::at::<&str>(row, 0)? {
            "epoch" => {}
            "grant" => grants
                .entry(rows::call_at(row, 1)?)
                .or_default()
                .extend(rows::optional_user_at(row, 2)?),
            other => return Err(rows::unknown_tag(other)),
        }
    }
    rules::missing_calls(distinct.iter().copied(), |call| {
        Ok(grants.contains_key(&call))
    })?;
    Ok(distinct
        .into_iter()
        .map(|call| CallGrants {
            call,
            users: grants.remove(&call).unwrap_or_default(),
        })
        .collect())
}

/// The call and everyone linked to it, as tagged rows, users ascending.
const CALL_LINKS: &str = "\
SELECT 'call' AS link, primary_user_id AS user_id, title
  FROM calls WHERE company_id = $1 AND id = $2
UNION ALL
SELECT 'participant', user_id, NULL FROM call_participants WHERE company_id = $1 AND call_id = $2
UNION ALL
SELECT 'share', user_id, NULL FROM shares WHERE company_id = $1 AND call_id = $2
UNION ALL
SELECT 'grant', user_id, NULL FROM api_grants WHERE company_id = $1 AND call_id = $2
ORDER BY user_id";

/// Every route to one call, for operators: the call, its links and the
/// company's users with their levels, then [`rules::call_access`].
/// `NoCall` if the company has no such call.
pub(crate) async fn call_access(
    db: &impl Db,
    company: CompanyId,
    id: CallId,
) -> Result<CallAccessFacts, Fail> {
    let mut call = None;
    let (mut participants, mut shares, mut api_grants) = (Vec::new(), Vec::new(), Vec::new());
    for row in rows::query(db, CALL_LINKS, &[&company.get(), &id.get()]).await? {
        let user = rows::user_at(&row, 1)?;
        match rows::at::<&str>(&row, 0)? {
            "call" => call = Some((user, rows::at::<Option<String>>(&row, 2)?)),
            "participant" => participants.push(user),
            "share" => shares.push(user),
            "grant" => api_grants.push(user),
            other => return Err(rows::unknown_tag(other)),
        }
    }
    let Some((primary_user_id, title)) = call else {
        return Err(StoreError::NoCall { company, call: id }.into());
    };
    let call = Call {
        company,
        id,
        title,
        primary_user_id,
        participant_ids: participants,
    };
    let users: Vec<_> = admin::users(db, company)
        .await?
        .into_iter()
        .map(|user| (user.id, user.calls_access))
        .collect();
    Ok(rules::call_access(call, api_grants, shares, &users)?)
}
