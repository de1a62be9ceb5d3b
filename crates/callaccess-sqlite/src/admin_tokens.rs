//! Admin tokens: the rows of `admin_tokens`, written on the writer thread
//! and read for every admin request (no cache, so a revocation is seen on
//! the next request).

use callaccess_domain::admin_token::{
    AdminTokenId, AdminTokenInfo, NewAdminToken, StoredAdminToken,
};
use callaccess_domain::{NewEntry, StoreError, Timestamp};
use rusqlite::{params, Connection, Row};

use crate::audit::Audit;
use crate::error::Fail;
use crate::rows;

const COLUMNS: &str = "id, read_only, note, created_at, expires_at, revoked_at, digest";

fn id_at(row: &Row<'_>, index: usize) -> rusqlite::Result<AdminTokenId> {
    rows::at(row, index, |text: String| AdminTokenId::parse(&text))
}

fn info(row: &Row<'_>) -> rusqlite::Result<AdminTokenInfo> {
    Ok(AdminTokenInfo {
        id: id_at(row, 0)?,
        read_only: row.get(1)?,
        note: row.get(2)?,
        created_at: rows::timestamp_at(row, 3)?,
        expires_at: rows::optional_timestamp_at(row, 4)?,
        revoked_at: rows::optional_timestamp_at(row, 5)?,
    })
}

fn stored(row: &Row<'_>) -> rusqlite::Result<StoredAdminToken> {
    Ok(StoredAdminToken {
        info: info(row)?,
        digest: rows::digest_at(row, 6)?,
    })
}

pub(crate) fn create(
    conn: &Connection,
    token: &NewAdminToken,
    audit: &Audit,
) -> Result<AdminTokenInfo, Fail> {
    let inserted = rows::lookup(
        conn,
        &format!(
            "INSERT INTO admin_tokens (id, digest, read_only, note, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (id) DO NOTHING
             RETURNING {COLUMNS}"
        ),
        params![
            token.id.as_str(),
            token.digest.0.as_slice(),
            token.read_only,
            token.note,
            token.created_at.unix(),
            token.expires_at.map(Timestamp::unix),
        ],
        info,
    )?;
    let info = inserted.ok_or_else(|| StoreError::AdminTokenExists(token.id.clone()))?;
    audit.record(conn, NewEntry::admin_token_created(&info))?;
    Ok(info)
}

pub(crate) fn get(conn: &Connection, id: &AdminTokenId) -> Result<Option<StoredAdminToken>, Fail> {
    rows::lookup(
        conn,
        &format!("SELECT {COLUMNS} FROM admin_tokens WHERE id = ?1"),
        [id.as_str()],
        stored,
    )
}

pub(crate) fn list(conn: &Connection) -> Result<Vec<AdminTokenInfo>, Fail> {
    let mut statement = conn.prepare_cached(&format!(
        "SELECT {COLUMNS} FROM admin_tokens ORDER BY created_at, id"
    ))?;
    let listed = statement
        .query_map([], info)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(listed)
}

/// Revoking again keeps the first revocation time and records nothing.
pub(crate) fn revoke(
    conn: &Connection,
    id: &AdminTokenId,
    at: Timestamp,
    audit: &Audit,
) -> Result<AdminTokenInfo, Fail> {
    let revoked = rows::lookup(
        conn,
        &format!(
            "UPDATE admin_tokens SET revoked_at = ?2 WHERE id = ?1 AND revoked_at IS NULL
             RETURNING {COLUMNS}"
        ),
        params![id.as_str(), at.unix()],
        info,
    )?;
    if let Some(revoked) = revoked {
        audit.record(conn, NewEntry::admin_token_revoked(&revoked))?;
        return Ok(revoked);
    }
    Ok(get(conn, id)?
        .map(|stored| stored.info)
        .ok_or_else(|| StoreError::NoAdminToken(id.clone()))?)
}
