//! Admin tokens: stored by id with the digest of their secret, listed,
//! revoked once, and kept apart from every company's data.

use super::*;
use crate::admin_token::{self, AdminTokenId, NewAdminToken};
use crate::Origin;

fn new_token(read_only: bool, created: i64) -> (String, NewAdminToken) {
    let issued = admin_token::issue(
        read_only,
        Some(format!("made at {created}")),
        Timestamp::from_unix(created),
        Some(Timestamp::from_unix(created + 3_600)),
    );
    (issued.text, issued.new)
}

pub async fn admin_tokens_are_stored_hashed_listed_and_revoked_once(store: &dyn Store) {
    assert_eq!(store.admin_tokens().await.unwrap(), vec![]);
    let (text, full) = new_token(false, 2_000);
    let (_, read_only) = new_token(true, 1_000);
    let created = store
        .create_admin_token(&Origin::cli(), &full)
        .await
        .unwrap();
    assert_eq!(
        (
            &created.id,
            created.read_only,
            created.note.as_deref(),
            created.created_at,
            created.expires_at,
            created.revoked_at
        ),
        (
            &full.id,
            false,
            Some("made at 2000"),
            Timestamp::from_unix(2_000),
            Some(Timestamp::from_unix(5_600)),
            None
        )
    );
    store
        .create_admin_token(&Origin::cli(), &read_only)
        .await
        .unwrap();

    // Looked up by id; what is kept verifies the secret and nothing else.
    let (id, secret_part) = admin_token::split(&text).unwrap();
    let stored = store.admin_token(&id).await.unwrap().unwrap();
    assert_eq!(stored.info, created);
    assert_eq!(stored.digest, full.digest);
    assert!(admin_token::accepts(
        &stored,
        secret_part,
        Timestamp::from_unix(2_001)
    ));
    assert!(!admin_token::accepts(
        &stored,
        "not-the-secret",
        Timestamp::from_unix(2_001)
    ));
    let unknown = AdminTokenId::parse("0000000000000000").unwrap();
    assert_eq!(store.admin_token(&unknown).await.unwrap(), None);

    // By creation time.
    let listed: Vec<AdminTokenId> = store
        .admin_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, vec![read_only.id.clone(), full.id.clone()]);

    // The same id twice is refused and changes nothing.
    let (_, clash) = new_token(true, 3_000);
    let clash = NewAdminToken {
        id: full.id.clone(),
        ..clash
    };
    assert_eq!(
        err(store.create_admin_token(&Origin::cli(), &clash).await),
        StoreError::AdminTokenExists(full.id.clone())
    );
    assert_eq!(
        store.admin_token(&full.id).await.unwrap().unwrap().digest,
        full.digest
    );

    // Revoked once: a second revocation keeps the first time.
    let revoked = store
        .revoke_admin_token(&Origin::cli(), &full.id, Timestamp::from_unix(2_500))
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(Timestamp::from_unix(2_500)));
    let again = store
        .revoke_admin_token(&Origin::cli(), &full.id, Timestamp::from_unix(2_900))
        .await
        .unwrap();
    assert_eq!(again.revoked_at, Some(Timestamp::from_unix(2_500)));
    let stored = store.admin_token(&full.id).await.unwrap().unwrap();
    assert!(!admin_token::accepts(
        &stored,
        secret_part,
        Timestamp::from_unix(2_600)
    ));
    assert_eq!(
        err(store
            .revoke_admin_token(&Origin::cli(), &unknown, Timestamp::from_unix(1))
            .await),
        StoreError::NoAdminToken(unknown.clone())
    );
    assert_eq!(
        store
            .admin_token(&read_only.id)
            .await
            .unwrap()
            .unwrap()
            .info
            .revoked_at,
        None,
        "revoking one token touched another"
    );
}

pub async fn admin_tokens_are_no_companys_credentials(store: &dyn Store) {
    world(store).await;
    let (text, token) = new_token(false, 1_000);
    store
        .create_admin_token(&Origin::cli(), &token)
        .await
        .unwrap();
    let (_, secret_part) = admin_token::split(&text).unwrap();
    // Neither the whole text nor its secret is a Gong token or key.
    assert_eq!(store.token(&digest(&text)).await.unwrap(), None);
    assert_eq!(store.token(&digest(secret_part)).await.unwrap(), None);
    assert_eq!(store.api_key(token.id.as_str()).await.unwrap(), None);
    assert!(store.tokens(None).await.unwrap().is_empty());
}
