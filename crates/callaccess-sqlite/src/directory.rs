//! Gong's directory operations (directory.md §3): workspaces, users, calls
//! and permission profiles as a caller's company sees them. Every one
//! takes the company of a caller whose check the store ran first; another
//! company's id reads exactly like an unknown one, because every statement
//! is scoped by the caller's company.
//!
//! Listings are keyset pages: ids after the previous page's last, in id
//! order, one row more than the page to tell whether more follow, and the
//! count under the same filter only when asked for.

use callaccess_domain::admin;
use callaccess_domain::page::{CallFilter, Page, PageAfter, UserFilter};
use callaccess_domain::{
    Call, CallId, CompanyId, Profile, ProfileId, StoreError, User, UserId, Workspace, WorkspaceId,
};
use rusqlite::types::ToSql;
use rusqlite::{params, params_from_iter, Connection, Row};

use crate::admin::{
    call_row, load_call, load_profile, profile_row, upsert_call, user_row, user_select,
    with_participants, workspace_row, ConnDirectory, CALL_COLUMNS, PROFILE_COLUMNS,
    WORKSPACE_COLUMNS,
};
use crate::audit::Audit;
use crate::error::Fail;

pub(crate) fn workspaces(conn: &Connection, company: CompanyId) -> Result<Vec<Workspace>, Fail> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {WORKSPACE_COLUMNS} FROM workspaces WHERE company_id = ?1 ORDER BY id"
    ))?;
    let rows = statement
        .query_map([company.get()], workspace_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The `WHERE` terms of one listing and their values, numbered in order,
/// so each combination of filters is its own (cached) statement whose
/// terms the planner can use, rather than one statement of `?n IS NULL OR …`.
struct Terms {
    sql: Vec<String>,
    values: Vec<Box<dyn ToSql>>,
    /// Whether ids select: the page's start then must not be offered to
    /// the planner as a range of the key, or it reads every row after the
    /// start rather than looking up each id.
    by_ids: bool,
}

impl Terms {
    fn new(company: CompanyId, column: &str) -> Self {
        let mut terms = Self {
            sql: Vec::new(),
            values: Vec::new(),
            by_ids: false,
        };
        terms.push(&format!("{column} = ?"), company.get());
        terms
    }

    /// Adds `term`, whose one `?` takes `value`.
    fn push(&mut self, term: &str, value: impl ToSql + 'static) {
        self.values.push(Box::new(value));
        self.sql
            .push(term.replacen('?', &format!("?{}", self.values.len()), 1));
    }

    /// `column` must be one of `ids` (unknown ids simply match nothing);
    /// `key` says whether `column` is the listing's id.
    fn any_of(&mut self, column: &str, ids: Option<&[i64]>, key: bool) {
        if let Some(ids) = ids {
            self.by_ids |= key;
            let list = serde_json::Value::from(ids.to_vec()).to_string();
            self.push(
                &format!("{column} IN (SELECT value FROM json_each(?))"),
                list,
            );
        }
    }

    /// `from` inclusive, `to` exclusive.
    fn range(&mut self, column: &str, from: Option<i64>, to: Option<i64>) {
        if let Some(from) = from {
            self.push(&format!("{column} >= ?"), from);
        }
        if let Some(to) = to {
            self.push(&format!("{column} < ?"), to);
        }
    }

    fn clause(&self) -> String {
        self.sql.join(" AND ")
    }
}

/// One page of `select … WHERE terms`, ordered by `id_column`, and the
/// count under the same terms when the page asks for it.
fn page<T>(
    conn: &Connection,
    select: &str,
    id_column: &str,
    mut terms: Terms,
    after: PageAfter,
    read: impl Fn(&Row<'_>) -> rusqlite::Result<T>,
    count_from: &str,
) -> Result<Page<T>, Fail> {
    let total = if after.count {
        let sql = format!("SELECT count(*) FROM {count_from} WHERE {}", terms.clause());
        let count: i64 = conn
            .prepare_cached(&sql)?
            .query_row(params_from_iter(terms.values.iter()), |row| row.get(0))?;
        Some(u64::try_from(count).unwrap_or(0))
    } else {
        None
    };
    if let Some(last) = after.after {
        // Unary `+` makes the term a plain filter (see `Terms::by_ids`).
        let plus = if terms.by_ids { "+" } else { "" };
        terms.push(&format!("{plus}{id_column} > ?"), last);
    }
    // One row more than the page says whether another page follows.
    let limit = i64::try_from(after.limit.saturating_add(1)).unwrap_or(i64::MAX);
    terms.values.push(Box::new(limit));
    let sql = format!(
        "{select} WHERE {} ORDER BY {id_column} LIMIT ?{}",
        terms.clause(),
        terms.values.len()
    );
    let mut statement = conn.prepare_cached(&sql)?;
    let mut items = statement
        .query_map(params_from_iter(terms.values.iter()), read)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let more = items.len() > after.limit;
    items.truncate(after.limit);
    Ok(Page { items, more, total })
}

fn ids<T: Copy>(ids: &Option<Vec<T>>, get: fn(T) -> i64) -> Option<Vec<i64>> {
    ids.as_ref()
        .map(|ids| ids.iter().map(|id| get(*id)).collect())
}

pub(crate) fn list_users(
    conn: &Connection,
    company: CompanyId,
    filter: &UserFilter,
    after: PageAfter,
) -> Result<Page<User>, Fail> {
    let mut terms = Terms::new(company, "u.company_id");
    terms.any_of("u.id", ids(&filter.ids, UserId::get).as_deref(), true);
    terms.range(
        "u.created_at",
        filter.created_from.map(|t| t.unix()),
        filter.created_to.map(|t| t.unix()),
    );
    page(
        conn,
        user_select(),
        "u.id",
        terms,
        after,
        user_row(company),
        "users u",
    )
}

pub(crate) fn user(
    conn: &Connection,
    company: CompanyId,
    id: UserId,
) -> Result<Option<User>, Fail> {
    crate::rows::lookup(
        conn,
        &format!("{} WHERE u.company_id = ?1 AND u.id = ?2", user_select()),
        params![company.get(), id.get()],
        user_row(company),
    )
}

pub(crate) fn list_calls(
    conn: &Connection,
    company: CompanyId,
    filter: &CallFilter,
    after: PageAfter,
) -> Result<Page<Call>, Fail> {
    let mut terms = Terms::new(company, "c.company_id");
    if let Some(workspace) = filter.workspace {
        admin::workspace_of(&ConnDirectory(conn), company, workspace)?;
        terms.push("c.workspace_id = ?", workspace.get());
    }
    terms.any_of("c.id", ids(&filter.ids, CallId::get).as_deref(), true);
    terms.any_of(
        "c.primary_user_id",
        ids(&filter.primary_users, UserId::get).as_deref(),
        false,
    );
    terms.range(
        "c.started",
        filter.from.map(|t| t.unix()),
        filter.to.map(|t| t.unix()),
    );
    let found = page(
        conn,
        &format!("SELECT {CALL_COLUMNS} FROM calls c"),
        "c.id",
        terms,
        after,
        call_row(company),
        "calls c",
    )?;
    Ok(Page {
        items: with_participants(conn, found.items)?,
        ..found
    })
}

pub(crate) fn call(
    conn: &Connection,
    company: CompanyId,
    id: CallId,
) -> Result<Option<Call>, Fail> {
    load_call(conn, company, id)
}

/// addCall: the domain's checks, then the call with its participants;
/// answers it as stored.
pub(crate) fn create_call(
    conn: &Connection,
    company: CompanyId,
    call: &Call,
    audit: &Audit,
) -> Result<Call, Fail> {
    let call = Call {
        company,
        ..call.clone()
    };
    admin::add_call(&ConnDirectory(conn), &call)?;
    upsert_call(conn, &call, audit)?;
    stored_call(conn, company, call.id)
}

fn stored_call(conn: &Connection, company: CompanyId, id: CallId) -> Result<Call, Fail> {
    load_call(conn, company, id)?
        .ok_or_else(|| StoreError::Other("a written call cannot be read back".to_owned()).into())
}

pub(crate) fn profiles(
    conn: &Connection,
    company: CompanyId,
    workspace: WorkspaceId,
) -> Result<Vec<Profile>, Fail> {
    admin::workspace_of(&ConnDirectory(conn), company, workspace)?;
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {PROFILE_COLUMNS} FROM permission_profiles p
         WHERE p.workspace_id = ?1 AND p.company_id = ?2 ORDER BY lower(p.name), p.id"
    ))?;
    let rows = statement
        .query_map(params![workspace.get(), company.get()], profile_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

pub(crate) fn profile(
    conn: &Connection,
    company: CompanyId,
    id: ProfileId,
) -> Result<Profile, Fail> {
    load_profile(conn, company, id)?.ok_or_else(|| {
        StoreError::NoProfile {
            company,
            profile: id,
        }
        .into()
    })
}

pub(crate) fn create_profile(
    conn: &Connection,
    company: CompanyId,
    profile: &Profile,
    audit: &Audit,
) -> Result<Profile, Fail> {
    let profile = Profile {
        company,
        ..profile.clone()
    };
    admin::save_profile(&ConnDirectory(conn), &profile, true)?;
    crate::admin::save_profile(conn, &profile, audit)
}

/// Replaces the profile's fields. The profile's workspace is the stored
/// one whatever `profile` says (the update operation names only the
/// profile), so only the company decides whether it may be changed.
pub(crate) fn update_profile(
    conn: &Connection,
    company: CompanyId,
    profile: &Profile,
    audit: &Audit,
) -> Result<Profile, Fail> {
    let directory = ConnDirectory(conn);
    let workspace = admin::profile_of(&directory, company, profile.id)?;
    let profile = Profile {
        company,
        workspace,
        ..profile.clone()
    };
    admin::save_profile(&directory, &profile, false)?;
    crate::admin::save_profile(conn, &profile, audit)
}

pub(crate) fn profile_users(
    conn: &Connection,
    company: CompanyId,
    profile: ProfileId,
) -> Result<Vec<User>, Fail> {
    admin::profile_of(&ConnDirectory(conn), company, profile)?;
    // From the profile's holders (its index) to each user: CROSS JOIN
    // keeps SQLite from reading every user of the company instead.
    let mut statement = conn.prepare_cached(concat!(
        crate::admin::users_from!(
            "user_profiles hp CROSS JOIN users u ON u.company_id = hp.company_id AND u.id = hp.user_id"
        ),
        " WHERE hp.profile_id = ?1 AND hp.company_id = ?2 ORDER BY hp.user_id"
    ))?;
    let rows = statement
        .query_map(params![profile.get(), company.get()], user_row(company))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}
