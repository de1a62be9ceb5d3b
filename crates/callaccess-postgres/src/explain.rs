//! Explain and reverse lookup (control-plane.md §8): the candidates
//! [`callaccess_domain::explain`] names, listed by one statement a round
//! (each source an index range with a limit, merged and cut by the
//! database), then the facts about them in one more ([`EXPLAIN_FACTS`]),
//! and each decided by the domain over what was fetched. A page costs a
//! few round trips whatever the size of the company.

use std::sync::Arc;

use callaccess_domain::access::{self as rules, CallFacts, Facts, OrgChart, ProfileFacts};
use callaccess_domain::explain::{self, CallRoutes, Pager};
use callaccess_domain::page::{Page, PageAfter};
use callaccess_domain::{CallId, CompanyId, StoreError, UserId, Viewer, WorkspaceId};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::access::{profile_row, read_facts, EXPLAIN_FACTS, EXPLAIN_FACTS_ONE};
use crate::error::Fail;
use crate::rows;
use crate::tally::Db;

/// Every route by which user `$3` opens call `$2`: one statement.
pub(crate) async fn routes(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Vec<rules::Route>, Fail> {
    let params: [&(dyn ToSql + Sync); 3] = [&company.get(), &call.get(), &user.get()];
    let found = rows::query(db, EXPLAIN_FACTS_ONE, &params).await?;
    let (facts, _) = read_facts(&found)?;
    Ok(rules::routes(&facts, company, call, user)?)
}

/// Call `$2`, everyone above its primary user (as [`crate::access`]'s
/// facts walk them) and every profile of its workspace, tagged as
/// `FACTS` tags.
const CALL_HEAD: &str = "WITH RECURSIVE
named AS (
    SELECT id, primary_user_id, workspace_id, is_private
      FROM calls WHERE company_id = $1 AND id = $2),
chain (id, manager_id) AS (
    SELECT id, manager_id FROM users
     WHERE company_id = $1 AND id = (SELECT primary_user_id FROM named)
    UNION
    SELECT u.id, u.manager_id
      FROM chain CROSS JOIN LATERAL (
           SELECT id, manager_id FROM users
            WHERE company_id = $1 AND id = chain.manager_id LIMIT 1) u)
SELECT 'call' AS fact, id AS a, primary_user_id AS b, workspace_id AS c,
       is_private AS private, NULL::TEXT AS name, NULL::TEXT AS level, NULL::TEXT AS leads
  FROM named
UNION ALL
SELECT 'user', NULL, id, manager_id, NULL, NULL, NULL, NULL FROM chain
UNION ALL
SELECT 'profile', id, NULL, workspace_id, NULL, name, level, team_lead_ids
  FROM permission_profiles
 WHERE company_id = $1 AND workspace_id = (SELECT workspace_id FROM named)";

/// The first `$4` users after `$3` among call `$2`'s API grants, shares
/// and participants, the users `$5`, the holders of the profiles `$6`,
/// and the holders of the profiles `$7` whose manager is among `$8`.
const VIEWER_CANDIDATES: &str = "SELECT id FROM (
    (SELECT user_id AS id FROM api_grants
      WHERE company_id = $1 AND call_id = $2 AND user_id > $3 ORDER BY user_id LIMIT $4)
    UNION
    (SELECT user_id FROM shares
      WHERE company_id = $1 AND call_id = $2 AND user_id > $3 ORDER BY user_id LIMIT $4)
    UNION
    (SELECT user_id FROM call_participants
      WHERE company_id = $1 AND call_id = $2 AND user_id > $3 ORDER BY user_id LIMIT $4)
    UNION
    (SELECT u FROM unnest($5::BIGINT[]) u WHERE u > $3)
    UNION
    (SELECT held.user_id FROM unnest($6::BIGINT[]) p CROSS JOIN LATERAL (
         SELECT user_id FROM user_profiles
          WHERE profile_id = p AND user_id > $3 ORDER BY user_id LIMIT $4) held)
    UNION
    (SELECT held.user_id FROM unnest($7::BIGINT[]) p CROSS JOIN LATERAL (
         SELECT up.user_id FROM user_profiles up
           JOIN users u ON u.company_id = up.company_id AND u.id = up.user_id
          WHERE up.profile_id = p AND up.user_id > $3 AND u.manager_id = ANY($8::BIGINT[])
          ORDER BY up.user_id LIMIT $4) held)
) candidates ORDER BY id LIMIT $4";

/// The rows tagged `profile`.
fn profile_rows(found: &[Row]) -> impl Iterator<Item = &Row> {
    found
        .iter()
        .filter(|row| matches!(rows::at::<&str>(row, 0), Ok("profile")))
}

fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A page of the users who can open `call`.
pub(crate) async fn viewers(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    page: PageAfter,
) -> Result<Page<Viewer>, Fail> {
    let head = rows::query(db, CALL_HEAD, &[&company.get(), &call.get()]).await?;
    let (mut facts, _) = read_facts(&head)?;
    let found: CallFacts = facts
        .call(call)?
        .ok_or(StoreError::NoCall { company, call })?;
    let profiles: Vec<Arc<ProfileFacts>> = profile_rows(&head)
        .map(|row| profile_row(row).map(Arc::new))
        .collect::<Result<_, _>>()?;
    let above = if found.private {
        Vec::new()
    } else {
        facts.managers_above(found.primary)?
    };
    let sources = explain::viewer_sources(&found, &above, &profiles);
    let users = rows::ids(sources.users.iter().copied(), UserId::get);
    let team_profiles = rows::ids(sources.team_profiles.iter().copied(), |p| p.get());
    let all_profiles = rows::ids(sources.profiles.iter().copied(), |p| p.get());
    let managers = rows::ids(sources.managers.iter().copied(), UserId::get);
    let mut pager = Pager::new(page.after, page.limit, sources.users.len());
    while let Some((after, n)) = pager.wants() {
        let (after, limit) = (after.unwrap_or(0), sql_limit(n));
        let params: [&(dyn ToSql + Sync); 8] = [
            &company.get(),
            &call.get(),
            &after,
            &limit,
            &users,
            &all_profiles,
            &team_profiles,
            &managers,
        ];
        let candidates: Vec<i64> = rows::query(db, VIEWER_CANDIDATES, &params)
            .await?
            .iter()
            .map(|row| rows::at(row, 0))
            .collect::<Result<_, _>>()?;
        facts = explain_facts(db, company, &[call.get()], &candidates).await?;
        facts.insert_call(call, found);
        pager.take(&candidates, |id| {
            explain::viewer(&facts, company, call, stored(id, UserId::from_i64)?)
        })?;
    }
    Ok(pager.finish())
}

/// The facts about `calls × users`, API grants included, in one
/// statement.
async fn explain_facts(
    db: &impl Db,
    company: CompanyId,
    calls: &[i64],
    users: &[i64],
) -> Result<callaccess_domain::access::Prefetched, Fail> {
    let params: [&(dyn ToSql + Sync); 3] = [&company.get(), &calls, &users];
    let found = rows::query(db, EXPLAIN_FACTS, &params).await?;
    Ok(read_facts(&found)?.0)
}

/// A stored id; one that no id can be was not written by callaccess.
fn stored<T>(id: i64, make: fn(i64) -> Option<T>) -> Result<T, StoreError> {
    make(id).ok_or_else(|| StoreError::Other(format!("a stored id is not valid: {id}")))
}

/// User `$2` with their manager, and every profile they hold with its
/// workspace (`c`), tagged as `FACTS` tags.
const USER_HEAD: &str = "\
SELECT 'user' AS fact, NULL::BIGINT AS a, id AS b, manager_id AS c,
       NULL::BOOLEAN AS private, NULL::TEXT AS name, NULL::TEXT AS level, NULL::TEXT AS leads
  FROM users WHERE company_id = $1 AND id = $2
UNION ALL
SELECT 'profile', p.id, NULL, up.workspace_id, NULL, p.name, p.level, p.team_lead_ids
  FROM user_profiles up JOIN permission_profiles p ON p.id = up.profile_id
 WHERE up.company_id = $1 AND up.user_id = $2";

/// The first `$4` calls after `$3` among user `$2`'s API grants, shares,
/// the calls they took part in or are the primary user of, and the
/// non-private calls of the workspaces `$5`.
const CALL_CANDIDATES: &str = "SELECT id FROM (
    (SELECT call_id AS id FROM api_grants
      WHERE company_id = $1 AND user_id = $2 AND call_id > $3 ORDER BY call_id LIMIT $4)
    UNION
    (SELECT call_id FROM shares
      WHERE company_id = $1 AND user_id = $2 AND call_id > $3 ORDER BY call_id LIMIT $4)
    UNION
    (SELECT call_id FROM call_participants
      WHERE company_id = $1 AND user_id = $2 AND call_id > $3 ORDER BY call_id LIMIT $4)
    UNION
    (SELECT id FROM calls
      WHERE company_id = $1 AND primary_user_id = $2 AND id > $3 ORDER BY id LIMIT $4)
    UNION
    (SELECT listed.id FROM unnest($5::BIGINT[]) w CROSS JOIN LATERAL (
         SELECT id FROM calls
          WHERE company_id = $1 AND workspace_id = w AND NOT is_private AND id > $3
          ORDER BY id LIMIT $4) listed)
) candidates ORDER BY id LIMIT $4";

/// A page of the calls `user` can open.
pub(crate) async fn calls(
    db: &impl Db,
    company: CompanyId,
    user: UserId,
    page: PageAfter,
) -> Result<Page<CallRoutes>, Fail> {
    let head = rows::query(db, USER_HEAD, &[&company.get(), &user.get()]).await?;
    let (found, _) = read_facts(&head)?;
    let manager = found
        .user(user)?
        .ok_or(StoreError::NoUser { company, user })?
        .manager;
    let held: Vec<(WorkspaceId, Arc<ProfileFacts>)> = profile_rows(&head)
        .map(|row| Ok((rows::workspace_at(row, 3)?, Arc::new(profile_row(row)?))))
        .collect::<Result<_, Fail>>()?;
    let sources = explain::call_sources(manager, &held);
    let workspaces = rows::ids(sources.workspaces.iter().copied(), WorkspaceId::get);
    let mut pager = Pager::new(page.after, page.limit, page.limit);
    while let Some((after, n)) = pager.wants() {
        let (after, limit) = (after.unwrap_or(0), sql_limit(n));
        let params: [&(dyn ToSql + Sync); 5] =
            [&company.get(), &user.get(), &after, &limit, &workspaces];
        let candidates: Vec<i64> = rows::query(db, CALL_CANDIDATES, &params)
            .await?
            .iter()
            .map(|row| rows::at(row, 0))
            .collect::<Result<_, _>>()?;
        let facts = explain_facts(db, company, &candidates, &[user.get()]).await?;
        pager.take(&candidates, |id| {
            explain::call_routes(&facts, company, stored(id, CallId::from_i64)?, user)
        })?;
    }
    Ok(pager.finish())
}
