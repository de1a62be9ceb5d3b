//! The three endpoints: grant (PUT), revoke (DELETE) and list (POST) API
//! grants. The domain's `access` module decides; this module answers its
//! [`Facts`] from the connection and runs the writes.
//!
//! Each runs on one connection inside one transaction (a writer savepoint or
//! a read snapshot), so the facts and the changes see the same state and a
//! rejected request leaves nothing behind.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use callaccess_domain::access::{self, CallFacts, Facts, OrgChart, ProfileFacts, UserFacts};
use callaccess_domain::{
    AccessChange, CallGrants, CallId, Caller, CallsRule, CompanyId, NewEntry, StoreError,
    Timestamp, UserId, WorkspaceId,
};
use rusqlite::types::Type;
use rusqlite::{params, Connection, Row};

use crate::audit::Audit;
use crate::error::Fail;
use crate::rows::{self, LinkTable};

/// Records a grant unless it exists; the first granting time is kept.
pub(crate) const INSERT_GRANT: &str =
    "INSERT OR IGNORE INTO api_grants (company_id, call_id, user_id, granted_at) VALUES (?1, ?2, ?3, ?4)";

/// The file's count of credential changes (kept by triggers, see the
/// migration), read in the caller's transaction.
pub(crate) fn credentials_epoch(conn: &Connection) -> Result<u64, Fail> {
    let count: i64 = conn
        .prepare_cached("SELECT count FROM credential_changes WHERE id = 1")?
        .query_row([], |row| row.get(0))?;
    Ok(u64::try_from(count).unwrap_or(0))
}

/// The caller's credential check, against the count this transaction sees.
/// Run first, so a stale credential learns nothing about the request's data.
pub(crate) fn confirm(conn: &Connection, caller: &Caller) -> Result<(), Fail> {
    Ok(caller.confirm(|| Ok(credentials_epoch(conn)?))?)
}

/// PUT: the grants `access::grants_to_record` names, inserted in its order
/// (users ascending within a call, so consecutive inserts land on the same
/// leaf page), each one that was not there recorded as `grant.add`.
pub(crate) fn grant(
    conn: &Connection,
    company: CompanyId,
    change: &AccessChange,
    audit: &Audit,
) -> Result<(), Fail> {
    let facts = ConnFacts::new(conn, company, CallRead::WithShares);
    let record = access::grants_to_record(&facts, change)?;
    let mut insert = conn.prepare_cached(INSERT_GRANT)?;
    for (call, user) in record {
        let added = insert.execute(params![
            company.get(),
            call.get(),
            user.get(),
            audit.now.unix()
        ])?;
        if added > 0 {
            audit.record(conn, NewEntry::grant_added(company, call, user))?;
        }
    }
    Ok(())
}

/// DELETE: the pairs `access::grants_to_remove` names. Users the company
/// does not have simply have no grant to remove.
pub(crate) fn revoke(
    conn: &Connection,
    company: CompanyId,
    change: &AccessChange,
    audit: &Audit,
) -> Result<(), Fail> {
    let facts = ConnFacts::new(conn, company, CallRead::CallOnly);
    let remove = access::grants_to_remove(&facts, change)?;
    let mut delete = conn.prepare_cached(
        "DELETE FROM api_grants WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
    )?;
    for (call, user) in remove {
        if delete.execute(params![company.get(), call.get(), user.get()])? > 0 {
            audit.record(conn, NewEntry::grant_removed(company, call, user))?;
        }
    }
    Ok(())
}

/// POST: the API grants of each distinct call, in first-seen order.
pub(crate) fn list(
    conn: &Connection,
    company: CompanyId,
    calls: &[CallId],
) -> Result<Vec<CallGrants>, Fail> {
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
    let mut listed = Vec::with_capacity(calls.len());
    // `missing_calls` asks once per distinct call, in first-seen order:
    // each answer is also that call's entry of the listing.
    access::missing_calls(calls.iter().copied(), |call| {
        let found = call_with_links(&mut statement, company, call, 0, |_| Ok(()))?;
        Ok(match found {
            Some(((), users)) => {
                listed.push(CallGrants { call, users });
                true
            }
            None => false,
        })
    })?;
    Ok(listed)
}

/// Runs a per-call statement that joins the call's row to one of its link
/// tables (`LEFT JOIN`, ordered by the linked user) with the linked user, or
/// NULL, in column `user_column`. `None`: no row, so no such call. Else what
/// `head` reads from the first row, and the linked users ascending.
fn call_with_links<H>(
    statement: &mut rusqlite::CachedStatement<'_>,
    company: CompanyId,
    call: CallId,
    user_column: usize,
    head: impl Fn(&Row<'_>) -> rusqlite::Result<H>,
) -> Result<Option<(H, Vec<UserId>)>, Fail> {
    let mut found = None;
    let mut rows = statement.query(params![company.get(), call.get()])?;
    while let Some(row) = rows.next()? {
        let (_, users) = match &mut found {
            Some(found) => found,
            None => found.insert((head(row)?, Vec::new())),
        };
        if row.get_ref(user_column)?.data_type() != Type::Null {
            users.push(rows::user_at(row, user_column)?);
        }
    }
    Ok(found)
}

/// How [`ConnFacts`] reads a call the first time it is asked about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallRead {
    /// The call and its shares in one statement: a PUT asks about both for
    /// every call.
    WithShares,
    /// The call alone: a DELETE only asks whether the call exists.
    CallOnly,
}

/// What has been read of one call.
struct CallRow {
    facts: CallFacts,
    /// Users the call is shared with, ascending; `None` until asked for.
    shared: Option<Vec<UserId>>,
}

/// The columns of a call the rules read, from column 0 on; a macro so
/// the statements below are literals (no string built per call on the
/// PUT path).
macro_rules! call_facts {
    () => {
        "c.primary_user_id, c.workspace_id, c.is_private"
    };
}

fn call_facts_at(row: &Row<'_>) -> rusqlite::Result<CallFacts> {
    Ok(CallFacts {
        primary: rows::user_at(row, 0)?,
        workspace: rows::workspace_at(row, 1)?,
        private: row.get(2)?,
    })
}

/// The domain's facts about one company, answered lazily from the
/// connection: a call is read once (with its shares, for a PUT), a user
/// (their manager) once and a user's profile in a workspace once, however
/// often the rules ask; participants and grants are point lookups, asked
/// only where a rule needs them. Walking the org chart therefore reads one
/// user per step, each at most once per request.
pub(crate) struct ConnFacts<'c> {
    conn: &'c Connection,
    company: CompanyId,
    read: CallRead,
    /// `None`: the company has no such call.
    calls: RefCell<HashMap<CallId, Option<CallRow>>>,
    /// `None`: the company has no such user.
    users: RefCell<HashMap<UserId, Option<UserFacts>>>,
    profiles: RefCell<HashMap<(UserId, WorkspaceId), HeldProfile>>,
    /// Everyone above a user, nearest first ([`OrgChart::managers_above`]).
    chains: RefCell<HashMap<UserId, Vec<UserId>>>,
}

/// A user's profile in a workspace, `None` if they hold none there.
type HeldProfile = Option<Arc<ProfileFacts>>;

impl<'c> ConnFacts<'c> {
    pub(crate) fn new(conn: &'c Connection, company: CompanyId, read: CallRead) -> Self {
        Self {
            conn,
            company,
            read,
            calls: RefCell::new(HashMap::new()),
            users: RefCell::new(HashMap::new()),
            profiles: RefCell::new(HashMap::new()),
            chains: RefCell::new(HashMap::new()),
        }
    }

    /// Reads the call unless it was read before.
    fn load_call(&self, call: CallId) -> Result<(), Fail> {
        if self.calls.borrow().contains_key(&call) {
            return Ok(());
        }
        let row = match self.read {
            CallRead::WithShares => {
                // One statement answers both: no row means no such call, a
                // NULL share that it is shared with nobody.
                let mut statement = self.conn.prepare_cached(concat!(
                    "SELECT ",
                    call_facts!(),
                    ", s.user_id FROM calls c
                     LEFT JOIN shares s ON s.company_id = c.company_id AND s.call_id = c.id
                     WHERE c.company_id = ?1 AND c.id = ?2
                     ORDER BY s.user_id"
                ))?;
                call_with_links(&mut statement, self.company, call, 3, call_facts_at)?.map(
                    |(facts, shared)| CallRow {
                        facts,
                        shared: Some(shared),
                    },
                )
            }
            CallRead::CallOnly => rows::lookup(
                self.conn,
                concat!(
                    "SELECT ",
                    call_facts!(),
                    " FROM calls c WHERE c.company_id = ?1 AND c.id = ?2"
                ),
                params![self.company.get(), call.get()],
                call_facts_at,
            )?
            .map(|facts| CallRow {
                facts,
                shared: None,
            }),
        };
        self.calls.borrow_mut().insert(call, row);
        Ok(())
    }

    /// Everyone above `user`, read in one recursive statement, with the
    /// walk's stopping rule: before anyone seen already.
    fn read_chain(&self, user: UserId) -> Result<Vec<UserId>, Fail> {
        let mut statement = self.conn.prepare_cached(
            "WITH RECURSIVE chain (id, depth) AS (
                 SELECT manager_id, 1 FROM users
                  WHERE company_id = ?1 AND id = ?2 AND manager_id IS NOT NULL
                 UNION ALL
                 SELECT u.manager_id, chain.depth + 1 FROM chain
                   JOIN users u ON u.company_id = ?1 AND u.id = chain.id
                  WHERE u.manager_id IS NOT NULL AND chain.depth < ?3
             )
             SELECT id FROM chain ORDER BY depth",
        )?;
        let limit = i64::try_from(access::MAX_CHAIN).unwrap_or(i64::MAX);
        let mut rows = statement.query(params![self.company.get(), user.get(), limit])?;
        let mut chain = Vec::new();
        while let Some(row) = rows.next()? {
            let manager = rows::user_at(row, 0)?;
            if manager == user || chain.contains(&manager) {
                break;
            }
            chain.push(manager);
        }
        Ok(chain)
    }
}

impl OrgChart for ConnFacts<'_> {
    fn user(&self, user: UserId) -> Result<Option<UserFacts>, StoreError> {
        if let Some(found) = self.users.borrow().get(&user) {
            return Ok(*found);
        }
        let found =
            rows::user_manager(self.conn, self.company, user)?.map(|manager| UserFacts { manager });
        self.users.borrow_mut().insert(user, found);
        Ok(found)
    }

    /// The whole chain in one statement: a walk of one lookup per manager
    /// cost a statement each (docs/PERFORMANCE.md, "The org chart").
    fn managers_above(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        if let Some(chain) = self.chains.borrow().get(&user) {
            return Ok(chain.clone());
        }
        let chain = self.read_chain(user)?;
        self.chains.borrow_mut().insert(user, chain.clone());
        Ok(chain)
    }
}

impl Facts for ConnFacts<'_> {
    fn call(&self, call: CallId) -> Result<Option<CallFacts>, StoreError> {
        self.load_call(call)?;
        Ok(self
            .calls
            .borrow()
            .get(&call)
            .and_then(|row| row.as_ref().map(|row| row.facts)))
    }

    fn profile(
        &self,
        user: UserId,
        workspace: WorkspaceId,
    ) -> Result<Option<Arc<ProfileFacts>>, StoreError> {
        if let Some(found) = self.profiles.borrow().get(&(user, workspace)) {
            return Ok(found.clone());
        }
        let found = rows::lookup(
            self.conn,
            "SELECT p.id, p.name, p.level, p.team_lead_ids
             FROM user_profiles up JOIN permission_profiles p ON p.id = up.profile_id
             WHERE up.company_id = ?1 AND up.user_id = ?2 AND up.workspace_id = ?3",
            params![self.company.get(), user.get(), workspace.get()],
            |row| profile_facts_at(row, 0),
        )?
        .map(Arc::new);
        self.profiles
            .borrow_mut()
            .insert((user, workspace), found.clone());
        Ok(found)
    }

    fn is_participant(&self, call: CallId, user: UserId) -> Result<bool, StoreError> {
        Ok(rows::is_linked(
            self.conn,
            LinkTable::Participants,
            self.company,
            call,
            user,
        )?)
    }

    fn is_shared(&self, call: CallId, user: UserId) -> Result<bool, StoreError> {
        self.load_call(call)?;
        let mut calls = self.calls.borrow_mut();
        let Some(Some(row)) = calls.get_mut(&call) else {
            return Ok(false);
        };
        let shared = match &mut row.shared {
            Some(shared) => shared,
            None => row.shared.insert(rows::linked_users(
                self.conn,
                LinkTable::Shares,
                self.company,
                call,
            )?),
        };
        Ok(shared.binary_search(&user).is_ok())
    }

    fn granted_at(&self, call: CallId, user: UserId) -> Result<Option<Timestamp>, StoreError> {
        Ok(rows::lookup(
            self.conn,
            "SELECT granted_at FROM api_grants WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
            params![self.company.get(), call.get(), user.get()],
            |row| rows::timestamp_at(row, 0),
        )?)
    }
}

/// A profile's facts from the columns `id, name, level, team_lead_ids`
/// of `permission_profiles`, from column `from` on.
pub(crate) fn profile_facts_at(row: &Row<'_>, from: usize) -> rusqlite::Result<ProfileFacts> {
    Ok(ProfileFacts {
        id: rows::profile_at(row, from)?,
        name: row.get(from + 1)?,
        calls: CallsRule {
            level: rows::calls_access_at(row, from + 2)?,
            team_leads: rows::user_list_at(row, from + 3)?,
        },
    })
}
