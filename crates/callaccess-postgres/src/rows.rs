//! The tokio-postgres glue: running a statement (prepared once per
//! connection), reading columns into domain values — the encodings are
//! [`callaccess_domain::encoding`]'s — and passing ids as arrays. Nothing
//! here knows a rule or words a message.

use callaccess_domain::encoding;
use callaccess_domain::{
    CallDetails, CallId, CallsAccess, CompanyId, Limit, Party, ProfileId, Scope, SecretDigest,
    StoreError, Timestamp, UserId, WorkspaceId,
};
use tokio_postgres::types::{FromSql, ToSql};
use tokio_postgres::Row;

use crate::error::Fail;
use crate::tally::{self, Db};

/// Column `index` as the driver converts it.
pub(crate) fn at<'a, T: FromSql<'a>>(row: &'a Row, index: usize) -> Result<T, Fail> {
    Ok(row.try_get(index)?)
}

/// Column `index` read with `decode`. A value the encoding refuses was not
/// written by callaccess (the database was edited by hand, or is corrupt):
/// a storage failure, never skipped.
fn decoded<'a, S: FromSql<'a>, T>(
    row: &'a Row,
    index: usize,
    decode: impl FnOnce(S) -> Result<T, String>,
) -> Result<T, Fail> {
    decode(at(row, index)?).map_err(|what| {
        Fail::Store(StoreError::Other(format!(
            "column {index} holds {what}, which callaccess never writes"
        )))
    })
}

pub(crate) fn company_at(row: &Row, index: usize) -> Result<CompanyId, Fail> {
    decoded(row, index, |v| encoding::id_from(v, CompanyId::from_i64))
}

pub(crate) fn user_at(row: &Row, index: usize) -> Result<UserId, Fail> {
    decoded(row, index, |v| encoding::id_from(v, UserId::from_i64))
}

/// A user id that may be NULL (the far side of an outer join).
pub(crate) fn optional_user_at(row: &Row, index: usize) -> Result<Option<UserId>, Fail> {
    decoded(row, index, |v: Option<i64>| {
        v.map(|v| encoding::id_from(v, UserId::from_i64))
            .transpose()
    })
}

pub(crate) fn call_at(row: &Row, index: usize) -> Result<CallId, Fail> {
    decoded(row, index, |v| encoding::id_from(v, CallId::from_i64))
}

pub(crate) fn workspace_at(row: &Row, index: usize) -> Result<WorkspaceId, Fail> {
    decoded(row, index, |v| encoding::id_from(v, WorkspaceId::from_i64))
}

/// A workspace id that may be NULL.
pub(crate) fn optional_workspace_at(row: &Row, index: usize) -> Result<Option<WorkspaceId>, Fail> {
    decoded(row, index, |v: Option<i64>| {
        v.map(|v| encoding::id_from(v, WorkspaceId::from_i64))
            .transpose()
    })
}

pub(crate) fn profile_at(row: &Row, index: usize) -> Result<ProfileId, Fail> {
    decoded(row, index, |v| encoding::id_from(v, ProfileId::from_i64))
}

/// User ids stored as a `BIGINT[]` (an aggregate of a statement).
pub(crate) fn user_ids_at(row: &Row, index: usize) -> Result<Vec<UserId>, Fail> {
    decoded(row, index, |v: Vec<i64>| {
        v.into_iter()
            .map(|v| encoding::id_from(v, UserId::from_i64))
            .collect()
    })
}

/// A profile's team leads ([`encoding::user_list_from`]).
pub(crate) fn team_leads_at(row: &Row, index: usize) -> Result<Vec<UserId>, Fail> {
    decoded(row, index, |text: &str| encoding::user_list_from(text))
}

/// A JSON object stored as text (a profile's fields).
pub(crate) fn object_at(
    row: &Row,
    index: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, Fail> {
    decoded(row, index, |text: &str| {
        serde_json::from_str(text).map_err(|_| "a malformed JSON object".to_owned())
    })
}

pub(crate) fn details_at(row: &Row, index: usize) -> Result<CallDetails, Fail> {
    decoded(row, index, |text: &str| CallDetails::from_json(text))
}

pub(crate) fn parties_at(row: &Row, index: usize) -> Result<Vec<Party>, Fail> {
    decoded(row, index, |text: &str| {
        callaccess_domain::parties_from_json(text)
    })
}

pub(crate) fn timestamp_at(row: &Row, index: usize) -> Result<Timestamp, Fail> {
    at(row, index).map(Timestamp::from_unix)
}

pub(crate) fn optional_timestamp_at(row: &Row, index: usize) -> Result<Option<Timestamp>, Fail> {
    Ok(at::<Option<i64>>(row, index)?.map(Timestamp::from_unix))
}

pub(crate) fn calls_access_at(row: &Row, index: usize) -> Result<CallsAccess, Fail> {
    decoded(row, index, encoding::calls_access_from)
}

/// A level that may be NULL (the far side of an outer join).
pub(crate) fn optional_calls_access_at(
    row: &Row,
    index: usize,
) -> Result<Option<CallsAccess>, Fail> {
    decoded(row, index, |text: Option<&str>| {
        text.map(encoding::calls_access_from).transpose()
    })
}

pub(crate) fn digest_at(row: &Row, index: usize) -> Result<SecretDigest, Fail> {
    decoded(row, index, encoding::digest_from)
}

/// A scope list that may be NULL (a key without one has full access).
pub(crate) fn scopes_at(row: &Row, index: usize) -> Result<Option<Vec<Scope>>, Fail> {
    decoded(row, index, |text: Option<&str>| {
        text.map(encoding::scopes_from).transpose()
    })
}

pub(crate) fn limit_at(row: &Row, index: usize) -> Result<Limit, Fail> {
    decoded(row, index, encoding::limit_from)
}

/// Ids as the `BIGINT[]` a statement takes (`= ANY($n)`, `unnest($n)`).
pub(crate) fn ids<T>(values: impl IntoIterator<Item = T>, get: fn(T) -> i64) -> Vec<i64> {
    values.into_iter().map(get).collect()
}

/// A row whose tag (column 0 of a `UNION ALL` of tagged selects) is not one
/// the statement writes: a defect of this crate, never of the data.
pub(crate) fn unknown_tag(tag: &str) -> Fail {
    Fail::Store(StoreError::Other(format!(
        "a statement returned a row tagged {tag:?}, which it never writes"
    )))
}

/// Runs `sql`, prepared once per connection; the number of rows it changed.
pub(crate) async fn execute(
    db: &impl Db,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, Fail> {
    let statement = tally::prepare(db, sql).await?;
    tally::add(1, 1);
    Ok(db.execute(&statement, params).await?)
}

/// The rows `sql` returns, prepared once per connection.
pub(crate) async fn query(
    db: &impl Db,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, Fail> {
    let statement = tally::prepare(db, sql).await?;
    tally::add(1, 1);
    Ok(db.query(&statement, params).await?)
}

/// The first row `sql` returns, if any (all statements that use it return
/// at most one).
pub(crate) async fn first(
    db: &impl Db,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Option<Row>, Fail> {
    Ok(query(db, sql, params).await?.into_iter().next())
}
