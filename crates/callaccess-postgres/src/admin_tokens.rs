//! Admin tokens: the rows of `admin_tokens`, one statement each, read for
//! every admin request (no node keeps one, so a revocation through any
//! node is seen by all on the next request). A creation or revocation is
//! audited in its transaction, by the store.

use callaccess_domain::admin_token::{
    AdminTokenId, AdminTokenInfo, NewAdminToken, StoredAdminToken,
};
use callaccess_domain::{StoreError, Timestamp};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Fail;
use crate::rows;
use crate::tally::Db;

const COLUMNS: &str = "id, read_only, note, created_at, expires_at, revoked_at, digest";

fn info(row: &Row) -> Result<AdminTokenInfo, Fail> {
    let id: String = rows::at(row, 0)?;
    Ok(AdminTokenInfo {
        id: AdminTokenId::parse(&id).map_err(|what| {
            Fail::Store(StoreError::Other(format!(
                "admin_tokens holds {what}, which callaccess never writes"
            )))
        })?,
        read_only: rows::at(row, 1)?,
        note: rows::at(row, 2)?,
        created_at: rows::timestamp_at(row, 3)?,
        expires_at: rows::optional_timestamp_at(row, 4)?,
        revoked_at: rows::optional_timestamp_at(row, 5)?,
    })
}

pub(crate) async fn create(db: &impl Db, token: &NewAdminToken) -> Result<AdminTokenInfo, Fail> {
    let sql = format!(
        "INSERT INTO admin_tokens (id, digest, read_only, note, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (id) DO NOTHING
         RETURNING {COLUMNS}"
    );
    let params: [&(dyn ToSql + Sync); 6] = [
        &token.id.as_str(),
        &token.digest.0.as_slice(),
        &token.read_only,
        &token.note,
        &token.created_at.unix(),
        &token.expires_at.map(Timestamp::unix),
    ];
    let row = rows::first(db, &sql, &params).await?;
    match row {
        Some(row) => info(&row),
        None => Err(StoreError::AdminTokenExists(token.id.clone()).into()),
    }
}

pub(crate) async fn get(db: &impl Db, id: &AdminTokenId) -> Result<Option<StoredAdminToken>, Fail> {
    let sql = format!("SELECT {COLUMNS} FROM admin_tokens WHERE id = $1");
    let row = rows::first(db, &sql, &[&id.as_str()]).await?;
    row.map(|row| {
        Ok(StoredAdminToken {
            info: info(&row)?,
            digest: rows::digest_at(&row, 6)?,
        })
    })
    .transpose()
}

pub(crate) async fn list(db: &impl Db) -> Result<Vec<AdminTokenInfo>, Fail> {
    let sql = format!("SELECT {COLUMNS} FROM admin_tokens ORDER BY created_at, id");
    let found = rows::query(db, &sql, &[]).await?;
    found.iter().map(info).collect()
}

/// Revoking twice keeps the first time (`coalesce`); the token as stored,
/// and whether this revoked it (`prior` reads the row as it was).
pub(crate) async fn revoke(
    db: &impl Db,
    id: &AdminTokenId,
    at: Timestamp,
) -> Result<(AdminTokenInfo, bool), Fail> {
    let sql = format!(
        "WITH prior AS (SELECT revoked_at IS NULL AS live FROM admin_tokens WHERE id = $1)
         UPDATE admin_tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1
         RETURNING {COLUMNS}, (SELECT live FROM prior)"
    );
    let row = rows::first(db, &sql, &[&id.as_str(), &at.unix()]).await?;
    match row {
        Some(row) => Ok((info(&row)?, rows::at::<bool>(&row, 7)?)),
        None => Err(StoreError::NoAdminToken(id.clone()).into()),
    }
}
