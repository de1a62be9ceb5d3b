//! Column encodings and the small lookups every operation shares.
//!
//! Encodings are the SQLite backend's: ids are their integer value; rate
//! limits are NULL (server default), 0 (off) or N; scope lists are
//! space-separated text; digests are 32-byte strings; calls access is its
//! lowercase name. Messages are worded exactly as that backend words them,
//! since the contract suite compares them.

use callaccess_domain::{
    CallId, CallsAccess, CompanyId, Limit, Scope, SecretDigest, StoreError, Timestamp, UserId,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

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

/// A stored value that the domain cannot represent means the database was
/// edited by hand or is corrupt: a storage failure, never skipped.
fn corrupt(column: usize, what: String) -> Fail {
    Fail::Store(StoreError::Other(format!(
        "column {column} holds {what}, which callaccess never writes"
    )))
}

pub(crate) fn int_at(row: &Row, index: usize) -> Result<i64, Fail> {
    Ok(row.try_get::<_, i64>(index)?)
}

fn id_at<T>(row: &Row, index: usize, make: fn(i64) -> Option<T>) -> Result<T, Fail> {
    let value = int_at(row, index)?;
    make(value).ok_or_else(|| corrupt(index, format!("the id {value}")))
}

pub(crate) fn company_at(row: &Row, index: usize) -> Result<CompanyId, Fail> {
    id_at(row, index, CompanyId::from_i64)
}

pub(crate) fn user_at(row: &Row, index: usize) -> Result<UserId, Fail> {
    id_at(row, index, UserId::from_i64)
}

pub(crate) fn call_at(row: &Row, index: usize) -> Result<CallId, Fail> {
    id_at(row, index, CallId::from_i64)
}

pub(crate) fn text_at(row: &Row, index: usize) -> Result<String, Fail> {
    Ok(row.try_get::<_, String>(index)?)
}

pub(crate) fn optional_text_at(row: &Row, index: usize) -> Result<Option<String>, Fail> {
    Ok(row.try_get::<_, Option<String>>(index)?)
}

pub(crate) fn timestamp_at(row: &Row, index: usize) -> Result<Timestamp, Fail> {
    int_at(row, index).map(Timestamp::from_unix)
}

pub(crate) fn optional_timestamp_at(row: &Row, index: usize) -> Result<Option<Timestamp>, Fail> {
    Ok(row
        .try_get::<_, Option<i64>>(index)?
        .map(Timestamp::from_unix))
}

pub(crate) fn calls_access_at(row: &Row, index: usize) -> Result<CallsAccess, Fail> {
    let text = text_at(row, index)?;
    text.parse()
        .map_err(|_| corrupt(index, format!("{text:?}")))
}

pub(crate) fn digest_at(row: &Row, index: usize) -> Result<SecretDigest, Fail> {
    let bytes: Vec<u8> = row.try_get(index)?;
    let len = bytes.len();
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|_| corrupt(index, format!("a digest of {len} bytes")))?;
    Ok(SecretDigest(bytes))
}

pub(crate) fn scopes_at(row: &Row, index: usize) -> Result<Option<Vec<Scope>>, Fail> {
    let text = optional_text_at(row, index)?;
    text.map(|text| {
        text.split_whitespace()
            .map(Scope::parse)
            .collect::<Result<Vec<_>, _>>()
    })
    .transpose()
    .map_err(|_| corrupt(index, "a malformed scope list".to_owned()))
}

pub(crate) fn limit_at(row: &Row, index: usize) -> Result<Limit, Fail> {
    let value: Option<i64> = row.try_get(index)?;
    Ok(match value {
        None => Limit::Default,
        Some(0) => Limit::Off,
        Some(n) => {
            Limit::Max(u32::try_from(n).map_err(|_| corrupt(index, format!("the rate limit {n}")))?)
        }
    })
}

// --- writing columns ---

pub(crate) fn limit_value(limit: Limit) -> Option<i64> {
    match limit {
        Limit::Default => None,
        // As in the SQLite backend: a limit of zero requests would lock the
        // company out, so 0 is free to mean "off".
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

pub(crate) async fn company_exists(
    db: &impl GenericClient,
    company: CompanyId,
) -> Result<bool, Fail> {
    let statement = db
        .prepare_cached("SELECT 1 FROM companies WHERE id = $1")
        .await?;
    Ok(db.query_opt(&statement, &[&company.get()]).await?.is_some())
}

/// A user's profile level, `None` if the company has no such user.
pub(crate) async fn user_access(
    db: &impl GenericClient,
    company: CompanyId,
    user: UserId,
) -> Result<Option<CallsAccess>, Fail> {
    let statement = db
        .prepare_cached("SELECT calls_access FROM users WHERE company_id = $1 AND id = $2")
        .await?;
    db.query_opt(&statement, &[&company.get(), &user.get()])
        .await?
        .map(|row| calls_access_at(&row, 0))
        .transpose()
}

/// A call's primary user, `None` if the company has no such call.
pub(crate) async fn call_primary(
    db: &impl GenericClient,
    company: CompanyId,
    call: CallId,
) -> Result<Option<UserId>, Fail> {
    let statement = db
        .prepare_cached("SELECT primary_user_id FROM calls WHERE company_id = $1 AND id = $2")
        .await?;
    db.query_opt(&statement, &[&company.get(), &call.get()])
        .await?
        .map(|row| user_at(&row, 0))
        .transpose()
}

/// The users of one call in one of the per-call link tables, ascending.
pub(crate) async fn linked_users(
    db: &impl GenericClient,
    table: LinkTable,
    company: CompanyId,
    call: CallId,
) -> Result<Vec<UserId>, Fail> {
    let statement = db.prepare_cached(table.users_sql()).await?;
    db.query(&statement, &[&company.get(), &call.get()])
        .await?
        .iter()
        .map(|row| user_at(row, 0))
        .collect()
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
                "SELECT user_id FROM call_participants WHERE company_id = $1 AND call_id = $2 ORDER BY user_id"
            }
            Self::Shares => {
                "SELECT user_id FROM shares WHERE company_id = $1 AND call_id = $2 ORDER BY user_id"
            }
            Self::ApiGrants => {
                "SELECT user_id FROM api_grants WHERE company_id = $1 AND call_id = $2 ORDER BY user_id"
            }
        }
    }
}
