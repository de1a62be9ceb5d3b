//! Column encodings and the small lookups every operation shares.
//!
//! Encodings: ids are their integer value; rate limits are NULL (server
//! default), 0 (off) or N; scope lists are space-separated text; digests are
//! 32-byte blobs; calls access is its lowercase name.

use callaccess_domain::{
    CallId, CallsAccess, CompanyId, Limit, Scope, SecretDigest, StoreError, UserId,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::Fail;

// --- messages, worded once so every operation says the same thing ---

pub(crate) fn no_company(company: CompanyId) -> StoreError {
    StoreError::NotFound(format!("company \"{company}\" does not exist"))
}

pub(crate) fn no_user(company: CompanyId, user: UserId) -> StoreError {
    StoreError::NotFound(format!(
        "user \"{user}\" does not exist in company \"{company}\""
    ))
}

pub(crate) fn no_call(company: CompanyId, call: CallId) -> StoreError {
    StoreError::NotFound(format!(
        "call \"{call}\" does not exist in company \"{company}\""
    ))
}

// --- reading columns ---

/// A stored id that is not a valid id means the file was edited by hand or
/// is corrupt; it is reported as a storage failure, not skipped.
fn stored_id<T>(row: &Row<'_>, index: usize, make: fn(i64) -> Option<T>) -> rusqlite::Result<T> {
    let value: i64 = row.get(index)?;
    make(value).ok_or(rusqlite::Error::IntegralValueOutOfRange(index, value))
}

pub(crate) fn company_at(row: &Row<'_>, index: usize) -> rusqlite::Result<CompanyId> {
    stored_id(row, index, CompanyId::from_i64)
}

pub(crate) fn user_at(row: &Row<'_>, index: usize) -> rusqlite::Result<UserId> {
    stored_id(row, index, UserId::from_i64)
}

pub(crate) fn call_at(row: &Row<'_>, index: usize) -> rusqlite::Result<CallId> {
    stored_id(row, index, CallId::from_i64)
}

fn conversion(index: usize, message: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(index, rusqlite::types::Type::Text, message.into())
}

pub(crate) fn calls_access_at(row: &Row<'_>, index: usize) -> rusqlite::Result<CallsAccess> {
    let text: String = row.get(index)?;
    text.parse().map_err(|message| conversion(index, message))
}

pub(crate) fn digest_at(row: &Row<'_>, index: usize) -> rusqlite::Result<SecretDigest> {
    let bytes: Vec<u8> = row.get(index)?;
    let bytes: [u8; 32] = bytes.try_into().map_err(|bytes: Vec<u8>| {
        conversion(index, format!("a digest of {} bytes", bytes.len()))
    })?;
    Ok(SecretDigest(bytes))
}

pub(crate) fn scopes_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Vec<Scope>>> {
    let text: Option<String> = row.get(index)?;
    text.map(|text| {
        text.split_whitespace()
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()
    })
    .transpose()
    .map_err(|message| conversion(index, message))
}

pub(crate) fn limit_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Limit> {
    let value: Option<i64> = row.get(index)?;
    Ok(match value {
        None => Limit::Default,
        Some(0) => Limit::Off,
        Some(n) => Limit::Max(
            u32::try_from(n).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(index, n))?,
        ),
    })
}

// --- writing columns ---

pub(crate) fn limit_value(limit: Limit) -> Option<i64> {
    match limit {
        Limit::Default => None,
        // A limit of zero requests would lock the company out; revoking its
        // credentials is the way to do that, so 0 is free to mean "off".
        Limit::Off | Limit::Max(0) => Some(0),
        Limit::Max(n) => Some(i64::from(n)),
    }
}

/// What a limit reads back as once stored.
pub(crate) fn stored_limit(limit: Limit) -> Limit {
    match limit {
        Limit::Max(0) => Limit::Off,
        other => other,
    }
}

pub(crate) fn scopes_value(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

// --- shared lookups ---

pub(crate) fn company_exists(conn: &Connection, company: CompanyId) -> Result<bool, Fail> {
    let found = conn
        .prepare_cached("SELECT 1 FROM companies WHERE id = ?1")?
        .query_row([company.get()], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}

/// A user's profile level, `None` if the company has no such user.
pub(crate) fn user_access(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
) -> Result<Option<CallsAccess>, Fail> {
    let level = conn
        .prepare_cached("SELECT calls_access FROM users WHERE company_id = ?1 AND id = ?2")?
        .query_row(params![company.get(), user.get()], |row| {
            calls_access_at(row, 0)
        })
        .optional()?;
    Ok(level)
}

/// A call's primary user, `None` if the company has no such call.
pub(crate) fn call_primary(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
) -> Result<Option<UserId>, Fail> {
    let primary = conn
        .prepare_cached("SELECT primary_user_id FROM calls WHERE company_id = ?1 AND id = ?2")?
        .query_row(params![company.get(), call.get()], |row| user_at(row, 0))
        .optional()?;
    Ok(primary)
}

pub(crate) fn is_participant(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<bool, Fail> {
    let found = conn
        .prepare_cached("SELECT 1 FROM call_participants WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3")?
        .query_row(params![company.get(), call.get(), user.get()], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
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
}
