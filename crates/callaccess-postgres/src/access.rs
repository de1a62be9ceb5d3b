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
//! PUT's facts include the org chart the hierarchy levels walk: every
//! manager above each call's primary user and above each named user,
//! fetched by one `WITH RECURSIVE` inside the same statement. Its cost
//! grows with the depth of those chains, never with the size of the
//! company, and a deeper chain adds rows to the answer, not round trips.
//!
//! The statement that reads the facts also reads the count of credential
//! changes, which confirms a credential the node kept ([`Epoch`]) before
//! any fact is used: the check costs no round trip of its own.

use std::collections::HashMap;
use std::sync::Arc;

use crate::tally::Db;
use callaccess_domain::access::{self as rules, CallFacts, Prefetched, ProfileFacts};
use callaccess_domain::{
    AccessChange, Action, CallGrants, CallId, Caller, CallsRule, CompanyId, NewEntry, Origin,
    ProfileId, StoreError, Timestamp, UserId, WorkspaceId,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::admin;
use crate::audit;
use crate::error::Fail;
use crate::rows;
use crate::run;
use crate::store::Epoch;

/// Every fact a PUT's rules ask about ([`Prefetched::wants`]), as tagged
/// rows of the columns `a`, `b`, `c`, `private`, `name`, `level`,
/// `leads`:
///
/// - `epoch`: the count of credential changes (`b`);
/// - `call`: each call among `$2` (`a`) with its primary user (`b`),
///   workspace (`c`) and privacy;
/// - `user`: each user among `$3`, each call's primary user, and every
///   manager above any of them (`b`), with their manager (`c`) — walked up
///   with `WITH RECURSIVE`, whose `UNION` drops a row seen before, so a
///   stored loop ends the walk. Each step is a lateral primary-key lookup
///   (its `LIMIT 1` keeps the planner from turning it into a join): on a
///   table the planner has no statistics for yet, a plain join was planned
///   as a hash of every user of the company, 60 ms per PUT at 100,000
///   users (docs/PERFORMANCE.md, "The org chart");
/// - `participant`, `share`: the pairs among `$2 × $3` (`a`, `b`);
/// - `holds`: the profile (`a`) each user among `$3` (`b`) holds in each
///   of the calls' workspaces (`c`), and `profile`: those profiles (`a`)
///   with their name and call access, each once.
///
/// API grants are not needed: recording one twice is a no-op. `$calls`
/// and `$users` compare an id with `$2` and `$3`; `$user_array` is `$3`
/// as an array.
macro_rules! facts {
    ($calls:literal, $users:literal, $user_array:literal) => {
        concat!(
            "WITH RECURSIVE
named_calls AS (
    SELECT id, primary_user_id, workspace_id, is_private
      FROM calls WHERE company_id = $1 AND id ",
            $calls,
            "),
chain (id, manager_id) AS (
    SELECT id, manager_id FROM users
     WHERE company_id = $1
       AND id = ANY(",
            $user_array,
            " || ARRAY(SELECT primary_user_id FROM named_calls))
    UNION
    SELECT u.id, u.manager_id
      FROM chain CROSS JOIN LATERAL (
           SELECT id, manager_id FROM users
            WHERE company_id = $1 AND id = chain.manager_id LIMIT 1) u),
held AS (
    SELECT user_id, workspace_id, profile_id FROM user_profiles
     WHERE company_id = $1 AND user_id ",
            $users,
            "
       AND workspace_id IN (SELECT workspace_id FROM named_calls))
SELECT 'epoch' AS fact, NULL::BIGINT AS a, count AS b, NULL::BIGINT AS c,
       NULL::BOOLEAN AS private, NULL::TEXT AS name, NULL::TEXT AS level, NULL::TEXT AS leads
  FROM credential_changes WHERE id = 1
UNION ALL
SELECT 'call', id, primary_user_id, workspace_id, is_private, NULL, NULL, NULL FROM named_calls
UNION ALL
SELECT 'user', NULL, id, manager_id, NULL, NULL, NULL, NULL FROM chain
UNION ALL
SELECT 'participant', call_id, user_id, NULL, NULL, NULL, NULL, NULL
  FROM call_participants
 WHERE company_id = $1 AND call_id ",
            $calls,
            " AND user_id ",
            $users,
            "
UNION ALL
SELECT 'share', call_id, user_id, NULL, NULL, NULL, NULL, NULL
  FROM shares
 WHERE company_id = $1 AND call_id ",
            $calls,
            " AND user_id ",
            $users,
            "
UNION ALL
SELECT 'holds', profile_id, user_id, workspace_id, NULL, NULL, NULL, NULL FROM held
UNION ALL
SELECT 'profile', id, NULL, NULL, NULL, name, level, team_lead_ids
  FROM permission_profiles WHERE id IN (SELECT profile_id FROM held)"
        )
    };
}

/// [`facts!`] for any number of calls and users (`$2`, `$3`: arrays).
const FACTS: &str = facts!("= ANY($2::BIGINT[])", "= ANY($3::BIGINT[])", "$3::BIGINT[]");

/// The same for one call and one user (`$2`, `$3`: ids), the common PUT.
/// Like POST's [`LIST_ONE`], a statement with plain ids settles on one
/// plan after a few executions, where one with arrays is planned again on
/// every execution (which cost more than running it).
const FACTS_ONE: &str = facts!("= $2::BIGINT", "= $3::BIGINT", "ARRAY[$3::BIGINT]");

/// [`facts!`], and the API grants among `$2 × $3` with when each was
/// recorded (`c`): what explaining a pair asks besides PUT's facts.
macro_rules! facts_with_grants {
    ($calls:literal, $users:literal, $user_array:literal) => {
        concat!(
            facts!($calls, $users, $user_array),
            "
UNION ALL
SELECT 'grant', call_id, user_id, granted_at, NULL, NULL, NULL, NULL
  FROM api_grants
 WHERE company_id = $1 AND call_id ",
            $calls,
            " AND user_id ",
            $users
        )
    };
}

/// [`facts_with_grants!`] for any number of calls and users (arrays).
pub(crate) const EXPLAIN_FACTS: &str =
    facts_with_grants!("= ANY($2::BIGINT[])", "= ANY($3::BIGINT[])", "$3::BIGINT[]");

/// The same for one call and one user.
pub(crate) const EXPLAIN_FACTS_ONE: &str =
    facts_with_grants!("= $2::BIGINT", "= $3::BIGINT", "ARRAY[$3::BIGINT]");

/// What DELETE's rules ask about: the count of credential changes and the
/// calls among `$2`, as [`FACTS`] tags them.
const CALLS: &str = "\
SELECT 'epoch' AS fact, NULL::BIGINT AS a, count AS b, NULL::BIGINT AS c, NULL::BOOLEAN AS private
  FROM credential_changes WHERE id = 1
UNION ALL
SELECT 'call', id, primary_user_id, workspace_id, is_private
  FROM calls WHERE company_id = $1 AND id = ANY($2::BIGINT[])";

/// Reads rows tagged as [`FACTS`] tags them (and `grant`, a pair like
/// `share`) into facts for the rules; the count of credential changes, if
/// an `epoch` row came.
pub(crate) fn read_facts(found: &[Row]) -> Result<(Prefetched, Option<u64>), Fail> {
    let mut facts = Prefetched::default();
    let mut epoch = None;
    let mut profiles: HashMap<ProfileId, Arc<ProfileFacts>> = HashMap::new();
    let mut held: Vec<(UserId, WorkspaceId, ProfileId)> = Vec::new();
    for row in found {
        match rows::at::<&str>(row, 0)? {
            "epoch" => epoch = Some(u64::try_from(rows::at::<i64>(row, 2)?).unwrap_or(0)),
            "call" => facts.insert_call(
                rows::call_at(row, 1)?,
                CallFacts {
                    primary: rows::user_at(row, 2)?,
                    workspace: rows::workspace_at(row, 3)?,
                    private: rows::at(row, 4)?,
                },
            ),
            "user" => facts.insert_user(rows::user_at(row, 2)?, rows::optional_user_at(row, 3)?),
            "participant" => facts.participant(rows::call_at(row, 1)?, rows::user_at(row, 2)?),
            "share" => facts.share(rows::call_at(row, 1)?, rows::user_at(row, 2)?),
            "grant" => facts.grant(
                rows::call_at(row, 1)?,
                rows::user_at(row, 2)?,
                rows::timestamp_at(row, 3)?,
            ),
            "holds" => held.push((
                rows::user_at(row, 2)?,
                rows::workspace_at(row, 3)?,
                rows::profile_at(row, 1)?,
            )),
            "profile" => {
                let profile = profile_row(row)?;
                profiles.insert(profile.id, Arc::new(profile));
            }
            other => return Err(rows::unknown_tag(other)),
        }
    }
    for (user, workspace, profile) in held {
        // A profile a user holds exists (a foreign key says so); one that
        // did not come would only leave the user without it.
        if let Some(profile) = profiles.get(&profile) {
            facts.insert_profile(user, workspace, Arc::clone(profile));
        }
    }
    Ok((facts, epoch))
}

/// A `profile` row as [`FACTS`] tags it: the profile (`a`) with its name,
/// level and team leads.
pub(crate) fn profile_row(row: &Row) -> Result<ProfileFacts, Fail> {
    Ok(ProfileFacts {
        id: rows::profile_at(row, 1)?,
        name: rows::at(row, 5)?,
        calls: CallsRule {
            level: rows::calls_access_at(row, 6)?,
            team_leads: rows::team_leads_at(row, 7)?,
        },
    })
}

/// Opens the transaction and runs `sql` (tagged as [`FACTS`] tags) with
/// the company and `ids`, in one round trip; confirms the caller's
/// credential first.
async fn begin_with_facts(
    db: &impl Db,
    caller: &Caller,
    epoch: &Epoch,
    sql: &str,
    ids: &[&(dyn ToSql + Sync)],
) -> Result<Prefetched, Fail> {
    let company = caller.company.get();
    let mut params: Vec<&(dyn ToSql + Sync)> = vec![&company];
    params.extend_from_slice(ids);
    let found = run::begin_with_query(db, sql, &params).await?;
    let (facts, count) = read_facts(&found)?;
    epoch.confirm(caller, count.ok_or_else(missing_epoch)?)?;
    Ok(facts)
}

fn missing_epoch() -> Fail {
    Fail::Store(StoreError::Other(
        "the count of credential changes is missing; was migration 4 applied?".to_owned(),
    ))
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
/// (granting twice is a no-op); the grants it inserted.
const RECORD: &str = "INSERT INTO api_grants (company_id, call_id, user_id, granted_at)
               SELECT $1, pair.call_id, pair.user_id, $4
               FROM unnest($2::BIGINT[], $3::BIGINT[]) AS pair (call_id, user_id)
               ON CONFLICT (company_id, call_id, user_id) DO NOTHING
               RETURNING call_id, user_id";

/// Records API grants at `now`, keeping an existing grant and its time
/// (granting twice is a no-op): for seeds, inside their transaction. The
/// `grant.add` entries of the grants it inserted, in the order given.
pub(crate) async fn record(
    db: &impl Db,
    company: CompanyId,
    grants: &[(CallId, UserId)],
    now: Timestamp,
) -> Result<Vec<NewEntry>, Fail> {
    if grants.is_empty() {
        return Ok(Vec::new());
    }
    let (calls, users) = unzipped(grants);
    let found = rows::query(db, RECORD, &[&company.get(), &calls, &users, &now.unix()]).await?;
    admin::pairs_recorded(&found, grants, |call, user| {
        NewEntry::grant_added(company, call, user)
    })
}

/// PUT, in its own transaction of two round trips: `BEGIN` and the facts,
/// [`rules::grants_to_record`], then one insert, which also records the
/// `grant.add` entries of the grants it inserted
/// ([`audit::GRANTS_RECORDED`]), and `COMMIT`.
pub(crate) async fn grant(
    db: &impl Db,
    origin: &Origin,
    caller: &Caller,
    epoch: &Epoch,
    change: &AccessChange,
    now: Timestamp,
) -> Result<(), Fail> {
    let wanted = Prefetched::wants(change);
    let facts = match (wanted.calls.as_slice(), wanted.users.as_slice()) {
        ([call], [user]) => {
            let ids: [&(dyn ToSql + Sync); 2] = [&call.get(), &user.get()];
            begin_with_facts(db, caller, epoch, FACTS_ONE, &ids).await?
        }
        _ => {
            let calls = rows::ids(wanted.calls.iter().copied(), CallId::get);
            let users = rows::ids(wanted.users.iter().copied(), UserId::get);
            begin_with_facts(db, caller, epoch, FACTS, &[&calls, &users]).await?
        }
    };
    let grants = rules::grants_to_record(&facts, change)?;
    if grants.is_empty() {
        return run::commit_with(db, None).await;
    }
    let audit = audit::PairParams::new(origin, now, Action::GrantAdd);
    write_pairs(
        db,
        caller.company,
        &grants,
        &audit,
        audit::GRANT_RECORDED,
        audit::GRANTS_RECORDED,
    )
    .await
}

/// Runs `one` (ids) for a single pair, else `many` (arrays), with the
/// audit's parameters, and `COMMIT`, in one round trip.
async fn write_pairs(
    db: &impl Db,
    company: CompanyId,
    pairs: &[(CallId, UserId)],
    audit: &audit::PairParams,
    one: &str,
    many: &str,
) -> Result<(), Fail> {
    let company = company.get();
    crate::tally::recorded();
    if let [(call, user)] = pairs {
        let params: [&(dyn ToSql + Sync); 7] = [
            &company,
            &call.get(),
            &user.get(),
            &audit.at,
            &audit.actor,
            &audit.request_id,
            &audit.action,
        ];
        return run::commit_with(db, Some((one, &params))).await;
    }
    let (calls, users) = unzipped(pairs);
    let params: [&(dyn ToSql + Sync); 7] = [
        &company,
        &calls,
        &users,
        &audit.at,
        &audit.actor,
        &audit.request_id,
        &audit.action,
    ];
    run::commit_with(db, Some((many, &params))).await
}

/// DELETE, in its own transaction of two round trips: `BEGIN` and the calls
/// (the rules need nothing else), [`rules::grants_to_remove`], then one
/// delete, which also records the `grant.remove` entries of the grants it
/// removed ([`audit::GRANTS_REMOVED`]), and `COMMIT`.
pub(crate) async fn revoke(
    db: &impl Db,
    origin: &Origin,
    caller: &Caller,
    epoch: &Epoch,
    change: &AccessChange,
    now: Timestamp,
) -> Result<(), Fail> {
    let calls = rows::ids(change.calls(), CallId::get);
    let facts = begin_with_facts(db, caller, epoch, CALLS, &[&calls]).await?;
    let remove = rules::grants_to_remove(&facts, change)?;
    if remove.is_empty() {
        return run::commit_with(db, None).await;
    }
    let audit = audit::PairParams::new(origin, now, Action::GrantRemove);
    write_pairs(
        db,
        caller.company,
        &remove,
        &audit,
        audit::GRANT_REMOVED,
        audit::GRANTS_REMOVED,
    )
    .await
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
