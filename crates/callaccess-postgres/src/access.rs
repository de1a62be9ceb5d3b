//! The three endpoints: grant (PUT), revoke (DELETE) and list (POST) API
//! grants, with the contract's rules (§2, §3).
//!
//! Each runs inside one transaction opened by the store, so validation and
//! changes see the same state and a rejected request leaves nothing behind.
//! Work is done set-wise — one statement per table with the request's ids as
//! arrays — so that a request of 10,000 pairs costs a handful of round trips
//! to the database, not tens of thousands.

use std::collections::{HashMap, HashSet};

use callaccess_domain::{
    AccessChange, CallGrants, CallId, CallsAccess, CompanyId, StoreError, Timestamp, UserId,
};
use deadpool_postgres::GenericClient;

use crate::error::Fail;
use crate::rows;

fn ids<T: Copy>(values: impl IntoIterator<Item = T>, get: fn(T) -> i64) -> Vec<i64> {
    values.into_iter().map(get).collect()
}

/// The primary user of every call of `calls` that the company has, or
/// `CallsNotFound` naming the others in the order given (each once).
async fn primaries(
    db: &impl GenericClient,
    company: CompanyId,
    calls: &[CallId],
) -> Result<HashMap<CallId, UserId>, Fail> {
    let statement = db
        .prepare_cached(
            "SELECT id, primary_user_id FROM calls WHERE company_id = $1 AND id = ANY($2)",
        )
        .await?;
    let wanted = ids(calls.iter().copied(), CallId::get);
    let mut found = HashMap::with_capacity(calls.len());
    for row in db.query(&statement, &[&company.get(), &wanted]).await? {
        found.insert(rows::call_at(&row, 0)?, rows::user_at(&row, 1)?);
    }
    let mut seen = HashSet::new();
    let missing: Vec<CallId> = calls
        .iter()
        .copied()
        .filter(|call| !found.contains_key(call) && seen.insert(*call))
        .collect();
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(StoreError::CallsNotFound(missing).into())
    }
}

/// PUT: every call must exist (checked first), then every user; then a grant
/// is recorded for each pair whose user cannot already open the call.
pub(crate) async fn grant(
    db: &impl GenericClient,
    company: CompanyId,
    change: &AccessChange,
    now: Timestamp,
) -> Result<(), Fail> {
    let calls: Vec<CallId> = change.calls().collect();
    let primaries = primaries(db, company, &calls).await?;

    let users = change.users();
    let statement = db
        .prepare_cached("SELECT id, calls_access FROM users WHERE company_id = $1 AND id = ANY($2)")
        .await?;
    let mut levels = HashMap::with_capacity(users.len());
    for row in db
        .query(
            &statement,
            &[&company.get(), &ids(users.iter().copied(), UserId::get)],
        )
        .await?
    {
        levels.insert(rows::user_at(&row, 0)?, rows::calls_access_at(&row, 1)?);
    }
    let missing: Vec<UserId> = users
        .iter()
        .copied()
        .filter(|user| !levels.contains_key(user))
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::UsersNotFound(missing).into());
    }

    // The other two routes to these calls, read once for the whole request.
    let call_ids = ids(calls.iter().copied(), CallId::get);
    let user_ids = ids(users.iter().copied(), UserId::get);
    let mut participants = HashSet::new();
    if levels.values().any(|level| *level == CallsAccess::Own) {
        let statement = db
            .prepare_cached(
                "SELECT call_id, user_id FROM call_participants
                 WHERE company_id = $1 AND call_id = ANY($2) AND user_id = ANY($3)",
            )
            .await?;
        for row in db
            .query(&statement, &[&company.get(), &call_ids, &user_ids])
            .await?
        {
            participants.insert((rows::call_at(&row, 0)?, rows::user_at(&row, 1)?));
        }
    }
    let statement = db
        .prepare_cached(
            "SELECT call_id, user_id FROM shares
             WHERE company_id = $1 AND call_id = ANY($2) AND user_id = ANY($3)",
        )
        .await?;
    let mut shared = HashSet::new();
    for row in db
        .query(&statement, &[&company.get(), &call_ids, &user_ids])
        .await?
    {
        shared.insert((rows::call_at(&row, 0)?, rows::user_at(&row, 1)?));
    }

    let mut grant_calls = Vec::new();
    let mut grant_users = Vec::new();
    for (call, user) in change.pairs() {
        // Every call and user was found above; a miss cannot happen, and
        // reading it as "no other route" would only record a harmless grant.
        let level = levels.get(&user).copied().unwrap_or(CallsAccess::None);
        let by_profile = match level {
            CallsAccess::All => true,
            CallsAccess::Own => {
                primaries.get(&call) == Some(&user) || participants.contains(&(call, user))
            }
            CallsAccess::None => false,
        };
        if by_profile || shared.contains(&(call, user)) {
            continue;
        }
        grant_calls.push(call.get());
        grant_users.push(user.get());
    }
    if grant_calls.is_empty() {
        return Ok(());
    }
    // DO NOTHING keeps the first grant's time: granting twice is a no-op.
    let statement = db
        .prepare_cached(
            "INSERT INTO api_grants (company_id, call_id, user_id, granted_at)
             SELECT $1, pair.call_id, pair.user_id, $4
             FROM unnest($2::BIGINT[], $3::BIGINT[]) AS pair (call_id, user_id)
             ON CONFLICT (company_id, call_id, user_id) DO NOTHING",
        )
        .await?;
    db.execute(
        &statement,
        &[&company.get(), &grant_calls, &grant_users, &now.unix()],
    )
    .await?;
    Ok(())
}

/// DELETE: every call must exist; then the named API grants go. Users the
/// company does not have simply have no grant to remove.
pub(crate) async fn revoke(
    db: &impl GenericClient,
    company: CompanyId,
    change: &AccessChange,
) -> Result<(), Fail> {
    let calls: Vec<CallId> = change.calls().collect();
    primaries(db, company, &calls).await?;
    let (pair_calls, pair_users): (Vec<i64>, Vec<i64>) = change
        .pairs()
        .map(|(call, user)| (call.get(), user.get()))
        .unzip();
    if pair_calls.is_empty() {
        return Ok(());
    }
    let statement = db
        .prepare_cached(
            "DELETE FROM api_grants
             WHERE company_id = $1
               AND (call_id, user_id) IN (SELECT * FROM unnest($2::BIGINT[], $3::BIGINT[]))",
        )
        .await?;
    db.execute(&statement, &[&company.get(), &pair_calls, &pair_users])
        .await?;
    Ok(())
}

/// POST: the API grants of each distinct call, in first-seen order.
pub(crate) async fn list(
    db: &impl GenericClient,
    company: CompanyId,
    calls: &[CallId],
) -> Result<Vec<CallGrants>, Fail> {
    let mut seen = HashSet::with_capacity(calls.len());
    let distinct: Vec<CallId> = calls
        .iter()
        .copied()
        .filter(|call| seen.insert(*call))
        .collect();
    primaries(db, company, &distinct).await?;

    let statement = db
        .prepare_cached(
            "SELECT call_id, user_id FROM api_grants
             WHERE company_id = $1 AND call_id = ANY($2) ORDER BY call_id, user_id",
        )
        .await?;
    let mut grants: HashMap<CallId, Vec<UserId>> = HashMap::new();
    for row in db
        .query(
            &statement,
            &[&company.get(), &ids(distinct.iter().copied(), CallId::get)],
        )
        .await?
    {
        grants
            .entry(rows::call_at(&row, 0)?)
            .or_default()
            .push(rows::user_at(&row, 1)?);
    }
    Ok(distinct
        .into_iter()
        .map(|call| CallGrants {
            call,
            users: grants.remove(&call).unwrap_or_default(),
        })
        .collect())
}
