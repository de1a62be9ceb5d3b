//! Explain and reverse lookup (control-plane.md §8) on one read
//! connection: the candidates [`callaccess_domain::explain`] names, each
//! source read along an index in id order with a limit, and each
//! candidate decided by [`access::routes`] over [`ConnFacts`].
//!
//! Each source gives its first `n` ids after the page's key; the first `n`
//! of their union are among those, so merging them in memory reads at most
//! `n` rows a source, however many users or calls the company has.

use std::sync::Arc;

use callaccess_domain::access::{self, Facts, OrgChart, ProfileFacts};
use callaccess_domain::explain::{self, CallRoutes, Pager};
use callaccess_domain::page::{Page, PageAfter};
use callaccess_domain::{CallId, CompanyId, StoreError, UserId, Viewer, WorkspaceId};
use rusqlite::{params, Connection};

use crate::access::{profile_facts_at, CallRead, ConnFacts};
use crate::admin::all;
use crate::error::Fail;
use crate::rows::{self, LinkTable, LinkedTo};

/// Every route by which `user` opens `call`.
pub(crate) fn routes(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Vec<access::Route>, Fail> {
    let facts = ConnFacts::new(conn, company, CallRead::WithShares);
    Ok(access::routes(&facts, company, call, user)?)
}

/// The first `limit` ids of the union of `sources`, ascending.
fn merged(sources: Vec<Vec<i64>>, limit: usize) -> Vec<i64> {
    let mut ids: Vec<i64> = sources.into_iter().flatten().collect();
    ids.sort_unstable();
    ids.dedup();
    ids.truncate(limit);
    ids
}

/// A stored id; one that no id can be was not written by callaccess.
fn stored_id<T>(id: i64, make: fn(i64) -> Option<T>) -> Result<T, StoreError> {
    make(id).ok_or_else(|| StoreError::Other(format!("a stored id is not valid: {id}")))
}

/// The ids linked to `to` by an API grant, a share or a part in a call,
/// after `after`, at most `limit` of each.
fn linked(
    conn: &Connection,
    company: CompanyId,
    to: LinkedTo,
    after: i64,
    limit: i64,
) -> Result<Vec<Vec<i64>>, Fail> {
    [
        LinkTable::ApiGrants,
        LinkTable::Shares,
        LinkTable::Participants,
    ]
    .into_iter()
    .map(|table| rows::linked_after(conn, table, company, to, after, limit))
    .collect()
}

fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A page of the users who can open `call`.
pub(crate) fn viewers(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    page: PageAfter,
) -> Result<Page<Viewer>, Fail> {
    let facts = ConnFacts::new(conn, company, CallRead::WithShares);
    let found = facts
        .call(call)?
        .ok_or(StoreError::NoCall { company, call })?;
    let above = if found.private {
        Vec::new()
    } else {
        facts.managers_above(found.primary)?
    };
    let profiles = all(
        conn,
        "SELECT id, name, level, team_lead_ids FROM permission_profiles
         WHERE company_id = ?1 AND workspace_id = ?2 ORDER BY id",
        params![company.get(), found.workspace.get()],
        |row| profile_facts_at(row, 0).map(Arc::new),
    )?;
    let sources = explain::viewer_sources(&found, &above, &profiles);
    let managers =
        serde_json::to_string(&sources.managers.iter().map(|u| u.get()).collect::<Vec<_>>())
            .map_err(|e| StoreError::Other(e.to_string()))?;
    let mut pager = Pager::new(page.after, page.limit, sources.users.len());
    while let Some((after, n)) = pager.wants() {
        let after = after.unwrap_or(0);
        let limit = sql_limit(n);
        let mut lists = linked(conn, company, LinkedTo::Call(call), after, limit)?;
        lists.push(
            sources
                .users
                .iter()
                .map(|u| u.get())
                .filter(|u| *u > after)
                .collect(),
        );
        for profile in &sources.profiles {
            lists.push(all(
                conn,
                "SELECT user_id FROM user_profiles
                 WHERE profile_id = ?1 AND user_id > ?2 ORDER BY user_id LIMIT ?3",
                params![profile.get(), after, limit],
                |row| row.get(0),
            )?);
        }
        for profile in &sources.team_profiles {
            lists.push(all(
                conn,
                "SELECT up.user_id FROM user_profiles up
                   JOIN users u ON u.company_id = up.company_id AND u.id = up.user_id
                  WHERE up.profile_id = ?1 AND up.user_id > ?2
                    AND u.manager_id IN (SELECT value FROM json_each(?3))
                  ORDER BY up.user_id LIMIT ?4",
                params![profile.get(), after, &managers, limit],
                |row| row.get(0),
            )?);
        }
        let candidates = merged(lists, n);
        pager.take(&candidates, |id| {
            let user = stored_id(id, UserId::from_i64)?;
            explain::viewer(&facts, company, call, user)
        })?;
    }
    Ok(pager.finish())
}

/// A page of the calls `user` can open.
pub(crate) fn calls(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    page: PageAfter,
) -> Result<Page<CallRoutes>, Fail> {
    let facts = ConnFacts::new(conn, company, CallRead::WithShares);
    let found = facts
        .user(user)?
        .ok_or(StoreError::NoUser { company, user })?;
    let held: Vec<(WorkspaceId, Arc<ProfileFacts>)> = all(
        conn,
        "SELECT up.workspace_id, p.id, p.name, p.level, p.team_lead_ids
           FROM user_profiles up JOIN permission_profiles p ON p.id = up.profile_id
          WHERE up.company_id = ?1 AND up.user_id = ?2",
        params![company.get(), user.get()],
        |row| {
            Ok((
                rows::workspace_at(row, 0)?,
                Arc::new(profile_facts_at(row, 1)?),
            ))
        },
    )?;
    let sources = explain::call_sources(found.manager, &held);
    let mut pager = Pager::new(page.after, page.limit, page.limit);
    while let Some((after, n)) = pager.wants() {
        let after = after.unwrap_or(0);
        let limit = sql_limit(n);
        let mut lists = linked(conn, company, LinkedTo::User(user), after, limit)?;
        lists.push(all(
            conn,
            "SELECT id FROM calls
              WHERE company_id = ?1 AND primary_user_id = ?2 AND id > ?3
              ORDER BY id LIMIT ?4",
            params![company.get(), user.get(), after, limit],
            |row| row.get(0),
        )?);
        for workspace in &sources.workspaces {
            lists.push(all(
                conn,
                "SELECT id FROM calls
                  WHERE company_id = ?1 AND workspace_id = ?2 AND is_private = 0 AND id > ?3
                  ORDER BY id LIMIT ?4",
                params![company.get(), workspace.get(), after, limit],
                |row| row.get(0),
            )?);
        }
        let candidates = merged(lists, n);
        pager.take(&candidates, |id| {
            let call = stored_id(id, CallId::from_i64)?;
            explain::call_routes(&facts, company, call, user)
        })?;
    }
    Ok(pager.finish())
}
