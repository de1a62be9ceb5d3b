//! Reading columns through the domain's encodings
//! (`callaccess_domain::encoding`), and the small lookups every operation
//! shares. Nothing here decides anything: a lookup answers one question
//! about the file.

use callaccess_domain::encoding;
use callaccess_domain::{
    CallId, CallsAccess, CompanyId, Limit, ProfileId, Scope, SecretDigest, Timestamp, UserId,
    WorkspaceId,
};
use rusqlite::types::FromSql;
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::Fail;

// --- reading columns ---

/// Column `index` as stored, decoded by one of the domain's encodings. A
/// value the encoding refuses was not written by callaccess (the file was
/// edited by hand, or is corrupt): it becomes a conversion error, which is
/// reported as a storage failure, never skipped.
pub(crate) fn at<S: FromSql, T>(
    row: &Row<'_>,
    index: usize,
    decode: impl FnOnce(S) -> Result<T, String>,
) -> rusqlite::Result<T> {
    let stored: S = row.get(index)?;
    decode(stored).map_err(|found| {
        let kind = row
            .get_ref(index)
            .map_or(rusqlite::types::Type::Null, |value| value.data_type());
        rusqlite::Error::FromSqlConversionFailure(index, kind, found.into())
    })
}

pub(crate) fn company_at(row: &Row<'_>, index: usize) -> rusqlite::Result<CompanyId> {
    at(row, index, |id| encoding::id_from(id, CompanyId::from_i64))
}

pub(crate) fn user_at(row: &Row<'_>, index: usize) -> rusqlite::Result<UserId> {
    at(row, index, |id| encoding::id_from(id, UserId::from_i64))
}

pub(crate) fn call_at(row: &Row<'_>, index: usize) -> rusqlite::Result<CallId> {
    at(row, index, |id| encoding::id_from(id, CallId::from_i64))
}

pub(crate) fn workspace_at(row: &Row<'_>, index: usize) -> rusqlite::Result<WorkspaceId> {
    at(row, index, |id| {
        encoding::id_from(id, WorkspaceId::from_i64)
    })
}

pub(crate) fn profile_at(row: &Row<'_>, index: usize) -> rusqlite::Result<ProfileId> {
    at(row, index, |id| encoding::id_from(id, ProfileId::from_i64))
}

/// A user id that may be NULL (a manager).
pub(crate) fn optional_user_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<UserId>> {
    at(row, index, |id: Option<i64>| {
        id.map(|id| encoding::id_from(id, UserId::from_i64))
            .transpose()
    })
}

/// Space-separated user ids, ascending (a profile's team leads).
pub(crate) fn user_list_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Vec<UserId>> {
    at(row, index, |text: String| encoding::user_list_from(&text))
}

/// A level that may be NULL (a user without a profile there).
pub(crate) fn optional_calls_access_at(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<CallsAccess>> {
    at(row, index, |text: Option<String>| {
        text.as_deref().map(encoding::calls_access_from).transpose()
    })
}

pub(crate) fn calls_access_at(row: &Row<'_>, index: usize) -> rusqlite::Result<CallsAccess> {
    at(row, index, |text: String| {
        encoding::calls_access_from(&text)
    })
}

pub(crate) fn digest_at(row: &Row<'_>, index: usize) -> rusqlite::Result<SecretDigest> {
    at(row, index, |bytes: Vec<u8>| encoding::digest_from(&bytes))
}

/// NULL when the credential carries no scope list.
pub(crate) fn scopes_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Vec<Scope>>> {
    at(row, index, |text: Option<String>| {
        text.as_deref().map(encoding::scopes_from).transpose()
    })
}

pub(crate) fn limit_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Limit> {
    at(row, index, encoding::limit_from)
}

pub(crate) fn timestamp_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Timestamp> {
    row.get(index).map(Timestamp::from_unix)
}

pub(crate) fn optional_timestamp_at(
    row: &Row<'_>,
    index: usize,
) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row.get::<_, Option<i64>>(index)?.map(Timestamp::from_unix))
}

// --- shared lookups ---

/// Runs a statement that reads nothing; how many rows it changed.
pub(crate) fn execute(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<usize, Fail> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// Whether the statement, run with `params`, finds a row.
pub(crate) fn found(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<bool, Fail> {
    let row = conn
        .prepare_cached(sql)?
        .query_row(params, |_| Ok(()))
        .optional()?;
    Ok(row.is_some())
}

/// The one value the statement, run with `params`, reads, if it finds a row.
pub(crate) fn lookup<T>(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
    read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, Fail> {
    Ok(conn
        .prepare_cached(sql)?
        .query_row(params, read)
        .optional()?)
}

/// A user's manager, `None` if the company has no such user.
pub(crate) fn user_manager(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
) -> Result<Option<Option<UserId>>, Fail> {
    lookup(
        conn,
        "SELECT manager_id FROM users WHERE company_id = ?1 AND id = ?2",
        params![company.get(), user.get()],
        |row| optional_user_at(row, 0),
    )
}

/// The company's default workspace; `None` if there is no such company
/// (or, never after migration 5, it has none).
pub(crate) fn default_workspace(
    conn: &Connection,
    company: CompanyId,
) -> Result<Option<WorkspaceId>, Fail> {
    Ok(lookup(
        conn,
        "SELECT default_workspace_id FROM companies WHERE id = ?1",
        [company.get()],
        |row| {
            at(row, 0, |id: Option<i64>| {
                id.map(|id| encoding::id_from(id, WorkspaceId::from_i64))
                    .transpose()
            })
        },
    )?
    .flatten())
}

/// A call's primary user, `None` if the company has no such call.
pub(crate) fn call_primary(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
) -> Result<Option<UserId>, Fail> {
    lookup(
        conn,
        "SELECT primary_user_id FROM calls WHERE company_id = ?1 AND id = ?2",
        params![company.get(), call.get()],
        |row| user_at(row, 0),
    )
}

/// Whether the user is in one of the per-call link tables for the call.
pub(crate) fn is_linked(
    conn: &Connection,
    table: LinkTable,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<bool, Fail> {
    found(
        conn,
        table.pair_sql(),
        params![company.get(), call.get(), user.get()],
    )
}

/// The users of one call in one of the per-call link tables, ascending.
pub(crate) fn linked_users(
    conn: &Connection,
    table: LinkTable,
    company: CompanyId,
    call: CallId,
) -> Result<Vec<UserId>, Fail> {
    let mut statement = conn.prepare_cached(table.users_sql())?;
    let users = statement
        .query_map(params![company.get(), call.get()], |row| user_at(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(users)
}

/// One side of a link table: a call's users, or a user's calls.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LinkedTo {
    Call(CallId),
    User(UserId),
}

/// The ids linked to `to` in `table` (users of a call, calls of a user)
/// after `after`, ascending, at most `limit`.
pub(crate) fn linked_after(
    conn: &Connection,
    table: LinkTable,
    company: CompanyId,
    to: LinkedTo,
    after: i64,
    limit: i64,
) -> Result<Vec<i64>, Fail> {
    let (sql, id) = match to {
        LinkedTo::Call(call) => (table.users_after_sql(), call.get()),
        LinkedTo::User(user) => (table.calls_after_sql(), user.get()),
    };
    let mut statement = conn.prepare_cached(sql)?;
    let ids = statement
        .query_map(params![company.get(), id, after, limit], |row| row.get(0))?
        .collect::<rusqlite::Result<Vec<i64>>>()?;
    Ok(ids)
}

/// The tables that link users to a call. Their names are fixed here so that
/// no SQL is ever assembled from a value.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LinkTable {
    Participants,
    Shares,
    ApiGrants,
}

impl LinkTable {
    fn users_sql(self) -> &'static str {
        match self {
            Self::Participants => {
                "SELECT user_id FROM call_participants WHERE company_id = ?1 AND call_id = ?2 ORDER BY user_id"
            }
            Self::Shares => "SELECT user_id FROM shares WHERE company_id = ?1 AND call_id = ?2 ORDER BY user_id",
            Self::ApiGrants => "SELECT user_id FROM api_grants WHERE company_id = ?1 AND call_id = ?2 ORDER BY user_id",
        }
    }

    /// The table's users of call `?2` after `?3`, ascending, at most `?4`.
    fn users_after_sql(self) -> &'static str {
        match self {
            Self::Participants => {
                "SELECT user_id FROM call_participants WHERE company_id = ?1 AND call_id = ?2 AND user_id > ?3 ORDER BY user_id LIMIT ?4"
            }
            Self::Shares => "SELECT user_id FROM shares WHERE company_id = ?1 AND call_id = ?2 AND user_id > ?3 ORDER BY user_id LIMIT ?4",
            Self::ApiGrants => "SELECT user_id FROM api_grants WHERE company_id = ?1 AND call_id = ?2 AND user_id > ?3 ORDER BY user_id LIMIT ?4",
        }
    }

    /// The table's calls of user `?2` after `?3`, ascending, at most `?4`
    /// (along the key, which leads with the call).
    fn calls_after_sql(self) -> &'static str {
        match self {
            Self::Participants => {
                "SELECT call_id FROM call_participants WHERE company_id = ?1 AND user_id = ?2 AND call_id > ?3 ORDER BY call_id LIMIT ?4"
            }
            Self::Shares => "SELECT call_id FROM shares WHERE company_id = ?1 AND user_id = ?2 AND call_id > ?3 ORDER BY call_id LIMIT ?4",
            Self::ApiGrants => "SELECT call_id FROM api_grants WHERE company_id = ?1 AND user_id = ?2 AND call_id > ?3 ORDER BY call_id LIMIT ?4",
        }
    }

    fn pair_sql(self) -> &'static str {
        match self {
            Self::Participants => {
                "SELECT 1 FROM call_participants WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3"
            }
            Self::Shares => "SELECT 1 FROM shares WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
            Self::ApiGrants => "SELECT 1 FROM api_grants WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
        }
    }
}
