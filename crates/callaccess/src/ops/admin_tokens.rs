//! Admin tokens: created (the text shown once), listed, revoked.

use callaccess_domain::admin_token::{self, AdminTokenId, AdminTokenInfo};
use callaccess_domain::{Origin, Store, StoreError, Timestamp};

use super::{invalid, parse_expiry};

/// A created admin token: what is stored, and the token, shown this once.
#[derive(Debug, Clone)]
pub struct Created {
    pub token: String,
    pub info: AdminTokenInfo,
}

/// Creates an admin token at `now` (the service's clock); `expires` as
/// [`parse_expiry`] reads it.
pub async fn create(
    store: &dyn Store,
    origin: &Origin,
    read_only: bool,
    expires: Option<&str>,
    note: Option<&str>,
    now: Timestamp,
) -> Result<Created, StoreError> {
    let expires_at = expires.map(|e| parse_expiry(e, now)).transpose()?;
    let note = admin_token::check_note(note).map_err(invalid)?;
    let issued = admin_token::issue(read_only, note, now, expires_at);
    let info = store.create_admin_token(origin, &issued.new).await?;
    Ok(Created {
        token: issued.text,
        info,
    })
}

pub fn parse_id(text: &str) -> Result<AdminTokenId, StoreError> {
    AdminTokenId::parse(text).map_err(invalid)
}

/// Revokes the token; also answers when it was revoked before, if it was
/// (revoking again keeps the first time).
pub async fn revoke(
    store: &dyn Store,
    origin: &Origin,
    id: &str,
    now: Timestamp,
) -> Result<(AdminTokenInfo, Option<Timestamp>), StoreError> {
    let id = parse_id(id)?;
    let earlier = store
        .admin_token(&id)
        .await?
        .and_then(|t| t.info.revoked_at);
    let info = store.revoke_admin_token(origin, &id, now).await?;
    Ok((info, earlier))
}
