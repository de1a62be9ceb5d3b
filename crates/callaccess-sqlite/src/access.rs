//! The three endpoints: grant (PUT), revoke (DELETE) and list (POST) API
//! grants, with the contract's rules (§2, §3).
//!
//! Each runs on one connection inside one transaction (a writer savepoint or
//! a read snapshot), so validation and changes see the same state and a
//! rejected request leaves nothing behind.

use std::collections::{HashMap, HashSet};

use callaccess_domain::{
    AccessChange, CallGrants, CallId, CallsAccess, CompanyId, CredentialCheck, StoreError,
    Timestamp, UserId,
};
use rusqlite::{params, Connection};

use crate::error::Fail;
use crate::rows;

/// The file's count of credential changes (kept by triggers, see the
/// migration), read in the caller's transaction.
pub(crate) fn credentials_epoch(conn: &Connection) -> Result<u64, Fail> {
    let count: i64 = conn
        .prepare_cached("SELECT count FROM credential_changes WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// `CredentialsChanged` if the request's cached credential was verified
/// under another count than the one this transaction sees. Run first, so a
/// stale credential learns nothing about the request's data.
pub(crate) fn check_credentials(
    conn: &Connection,
    check: Option<CredentialCheck>,
) -> Result<(), Fail> {
    match check {
        Some(check) if credentials_epoch(conn)? != check.epoch => {
            Err(StoreError::CredentialsChanged.into())
        }
        _ => Ok(()),
    }
}

/// PUT: every call must exist (checked first), then every user; then a grant
/// is recorded for each pair whose user cannot already open the call.
pub(crate) fn grant(
    conn: &Connection,
    company: CompanyId,
    change: &AccessChange,
    now: Timestamp,
) -> Result<(), Fail> {
    let calls = calls_with_shares(conn, company, change)?;

    let mut levels = HashMap::new();
    let mut missing = Vec::new();
    for user in change.users() {
        match rows::user_access(conn, company, user)? {
            Some(level) => {
                levels.insert(user, level);
            }
            None => missing.push(user),
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::UsersNotFound(missing).into());
    }

    let mut insert = conn.prepare_cached(
        "INSERT OR IGNORE INTO api_grants (company_id, call_id, user_id, granted_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    let mut candidates = Vec::new();
    for ((call, users), facts) in change.items().iter().zip(calls) {
        candidates.clear();
        for &user in users {
            // Every user was looked up above; `None` cannot happen and would
            // only mean "no profile access", which is the safe reading.
            let level = levels.get(&user).copied().unwrap_or(CallsAccess::None);
            let opens = opens_by_profile(conn, company, *call, facts.primary, user, level)?
                || facts.shared.binary_search(&user).is_ok();
            if !opens {
                candidates.push(user);
            }
        }
        // In key order, consecutive inserts land on the same leaf page.
        candidates.sort_unstable();
        for &user in &candidates {
            insert.execute(params![company.get(), call.get(), user.get(), now.unix()])?;
        }
    }
    Ok(())
}

/// What a PUT needs to know of one call besides its users' profiles.
struct CallFacts {
    primary: UserId,
    /// Users the call is shared with, ascending.
    shared: Vec<UserId>,
}

/// Each call of the change with its primary user and its shares, in the
/// change's order, or `CallsNotFound` naming every call the company lacks,
/// in request order. One statement per call answers both: no row means no
/// such call, a NULL share that it is shared with nobody.
fn calls_with_shares(
    conn: &Connection,
    company: CompanyId,
    change: &AccessChange,
) -> Result<Vec<CallFacts>, Fail> {
    let mut statement = conn.prepare_cached(
        "SELECT c.primary_user_id, s.user_id FROM calls c
         LEFT JOIN shares s ON s.company_id = c.company_id AND s.call_id = c.id
         WHERE c.company_id = ?1 AND c.id = ?2
         ORDER BY s.user_id",
    )?;
    each_call(change, |call| {
        let mut facts: Option<CallFacts> = None;
        let mut rows = statement.query(params![company.get(), call.get()])?;
        while let Some(row) = rows.next()? {
            let facts = match &mut facts {
                Some(facts) => facts,
                None => facts.insert(CallFacts {
                    primary: rows::user_at(row, 0)?,
                    shared: Vec::new(),
                }),
            };
            if row.get_ref(1)?.data_type() != rusqlite::types::Type::Null {
                facts.shared.push(rows::user_at(row, 1)?);
            }
        }
        Ok(facts)
    })
}

/// `find` for each call of the change, in the change's order, or
/// `CallsNotFound` naming every call for which it found nothing, in request
/// order.
fn each_call<T>(
    change: &AccessChange,
    mut find: impl FnMut(CallId) -> Result<Option<T>, Fail>,
) -> Result<Vec<T>, Fail> {
    let mut found = Vec::with_capacity(change.items().len());
    let mut missing = Vec::new();
    for call in change.calls() {
        match find(call)? {
            Some(value) => found.push(value),
            None => missing.push(call),
        }
    }
    if missing.is_empty() {
        Ok(found)
    } else {
        Err(StoreError::CallsNotFound(missing).into())
    }
}

/// Whether a user's permission profile opens the call. Together with
/// sharing this is what makes a PUT "have no effect" (Gong's words) for a
/// user, so that nothing is recorded.
fn opens_by_profile(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    primary: UserId,
    user: UserId,
    level: CallsAccess,
) -> Result<bool, Fail> {
    Ok(match level {
        CallsAccess::All => true,
        CallsAccess::Own => user == primary || rows::is_participant(conn, company, call, user)?,
        CallsAccess::None => false,
    })
}

/// DELETE: every call must exist; then the named API grants go. Users the
/// company does not have simply have no grant to remove.
pub(crate) fn revoke(
    conn: &Connection,
    company: CompanyId,
    change: &AccessChange,
) -> Result<(), Fail> {
    primaries_of(conn, company, change)?;
    let mut delete = conn.prepare_cached(
        "DELETE FROM api_grants WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
    )?;
    let mut users = Vec::new();
    for (call, listed) in change.items() {
        // In key order, consecutive deletes land on the same leaf page.
        users.clear();
        users.extend_from_slice(listed);
        users.sort_unstable();
        for user in &users {
            delete.execute(params![company.get(), call.get(), user.get()])?;
        }
    }
    Ok(())
}

/// The primary user of each call of the change, in the change's order, or
/// `CallsNotFound` naming every call the company lacks, in request order.
fn primaries_of(
    conn: &Connection,
    company: CompanyId,
    change: &AccessChange,
) -> Result<Vec<UserId>, Fail> {
    each_call(change, |call| rows::call_primary(conn, company, call))
}

/// POST: the API grants of each distinct call, in first-seen order.
pub(crate) fn list(
    conn: &Connection,
    company: CompanyId,
    calls: &[CallId],
) -> Result<Vec<CallGrants>, Fail> {
    let mut seen = HashSet::with_capacity(calls.len());
    let distinct: Vec<CallId> = calls
        .iter()
        .copied()
        .filter(|call| seen.insert(*call))
        .collect();

    // One statement per call answers both questions: no row means the call
    // does not exist, a row with NULL that it has no grants. (Two queries,
    // an existence check and the listing, cost a third more on the POST
    // path, docs/PERFORMANCE.md.)
    let mut statement = conn.prepare_cached(
        "SELECT g.user_id FROM calls c
         LEFT JOIN api_grants g ON g.company_id = c.company_id AND g.call_id = c.id
         WHERE c.company_id = ?1 AND c.id = ?2
         ORDER BY g.user_id",
    )?;
    let mut missing = Vec::new();
    let mut listed = Vec::with_capacity(distinct.len());
    for call in distinct {
        let mut found = false;
        let mut users = Vec::new();
        let mut rows = statement.query(params![company.get(), call.get()])?;
        while let Some(row) = rows.next()? {
            found = true;
            if let Some(user) = row.get::<_, Option<i64>>(0)? {
                users.push(
                    UserId::from_i64(user)
                        .ok_or(rusqlite::Error::IntegralValueOutOfRange(0, user))?,
                );
            }
        }
        if found {
            listed.push(CallGrants { call, users });
        } else {
            missing.push(call);
        }
    }
    if missing.is_empty() {
        Ok(listed)
    } else {
        Err(StoreError::CallsNotFound(missing).into())
    }
}
