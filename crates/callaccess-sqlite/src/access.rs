//! The three endpoints: grant (PUT), revoke (DELETE) and list (POST) API
//! grants, with the contract's rules (§2, §3).
//!
//! Each runs on one connection inside one transaction (a writer savepoint or
//! a read snapshot), so validation and changes see the same state and a
//! rejected request leaves nothing behind.

use std::collections::{HashMap, HashSet};

use callaccess_domain::{
    AccessChange, CallGrants, CallId, CallsAccess, CompanyId, StoreError, Timestamp, UserId,
};
use rusqlite::{params, Connection};

use crate::error::Fail;
use crate::rows::{self, LinkTable};

/// PUT: every call must exist (checked first), then every user; then a grant
/// is recorded for each pair whose user cannot already open the call.
pub(crate) fn grant(
    conn: &Connection,
    company: CompanyId,
    change: &AccessChange,
    now: Timestamp,
) -> Result<(), Fail> {
    let primaries = primaries_of(conn, company, change)?;

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
    for ((call, users), primary) in change.items().iter().zip(primaries) {
        for &user in users {
            // Every user was looked up above; `None` cannot happen and would
            // only mean "no profile access", which is the safe reading.
            let level = levels.get(&user).copied().unwrap_or(CallsAccess::None);
            if can_open_otherwise(conn, company, *call, primary, user, level)? {
                continue;
            }
            insert.execute(params![company.get(), call.get(), user.get(), now.unix()])?;
        }
    }
    Ok(())
}

/// Whether a user can open a call by profile or by sharing, in which case a
/// PUT "has no effect" (Gong's words) and records nothing.
fn can_open_otherwise(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    primary: UserId,
    user: UserId,
    level: CallsAccess,
) -> Result<bool, Fail> {
    let by_profile = match level {
        CallsAccess::All => true,
        CallsAccess::Own => user == primary || rows::is_participant(conn, company, call, user)?,
        CallsAccess::None => false,
    };
    Ok(by_profile || rows::is_shared(conn, company, call, user)?)
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
    for (call, user) in change.pairs() {
        delete.execute(params![company.get(), call.get(), user.get()])?;
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
    let mut primaries = Vec::with_capacity(change.items().len());
    let mut missing = Vec::new();
    for call in change.calls() {
        match rows::call_primary(conn, company, call)? {
            Some(primary) => primaries.push(primary),
            None => missing.push(call),
        }
    }
    if missing.is_empty() {
        Ok(primaries)
    } else {
        Err(StoreError::CallsNotFound(missing).into())
    }
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

    let mut missing = Vec::new();
    for &call in &distinct {
        if rows::call_primary(conn, company, call)?.is_none() {
            missing.push(call);
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::CallsNotFound(missing).into());
    }

    distinct
        .into_iter()
        .map(|call| {
            Ok(CallGrants {
                call,
                users: rows::linked_users(conn, LinkTable::ApiGrants, company, call)?,
            })
        })
        .collect()
}
