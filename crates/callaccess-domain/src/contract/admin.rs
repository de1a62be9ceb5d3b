//! Companies, credentials, users, calls, shares, rate limits and credential checks.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::*;
use crate::Origin;

// --- administration ---

pub async fn companies_conflict_and_keep_their_rate_limits(store: &dyn Store) {
    let limits = RateLimit {
        per_second: Limit::Max(7),
        per_day: Limit::Off,
    };
    let new = NewCompany {
        id: company(ACME),
        name: "Acme".to_owned(),
        rate_limit: limits,
    };
    let before = Timestamp::now();
    let created = store.create_company(&new).await.unwrap();
    assert_eq!(
        (created.id, created.name.as_str(), created.rate_limit),
        (company(ACME), "Acme", limits)
    );
    assert!(created.created_at >= before, "{created:?}");
    store
        .create_company(&NewCompany {
            id: company(GLOBEX),
            name: "Globex".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await
        .unwrap();

    let again = NewCompany {
        name: "Other".to_owned(),
        ..new
    };
    assert_eq!(
        err(store.create_company(&again).await),
        StoreError::CompanyExists(company(1001))
    );

    let listed = store.companies().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0], created,
        "stored as created, and the failed create changed nothing"
    );
    assert_eq!(listed[1].rate_limit, RateLimit::default());
}

pub async fn api_keys_look_up_conflict_and_revoke_once(store: &dyn Store) {
    world(store).await;
    let expires = Timestamp::from_unix(1_893_456_000);
    let key = NewApiKey {
        access_key: "ACMEKEY1".to_owned(),
        company: company(ACME),
        digest: digest("acme-secret-0123456789"),
        scopes: None,
        expires_at: Some(expires),
    };
    let info = store.create_api_key(&Origin::cli(), &key).await.unwrap();
    assert_eq!(
        (
            info.access_key.as_str(),
            info.company,
            info.expires_at,
            info.revoked_at
        ),
        ("ACMEKEY1", company(ACME), Some(expires), None)
    );
    let limited = NewApiKey {
        access_key: "ACMEKEY2".to_owned(),
        scopes: Some(vec![Scope::parse(Scope::READ).unwrap()]),
        expires_at: None,
        ..key.clone()
    };
    store
        .create_api_key(&Origin::cli(), &limited)
        .await
        .unwrap();

    let found = store.api_key("ACMEKEY1").await.unwrap().unwrap();
    assert_eq!(
        (
            found.company,
            found.digest,
            found.scopes,
            found.expires_at,
            found.revoked_at
        ),
        (
            company(ACME),
            digest("acme-secret-0123456789"),
            None,
            Some(expires),
            None
        )
    );
    let found = store.api_key("ACMEKEY2").await.unwrap().unwrap();
    assert_eq!(found.scopes, Some(vec![Scope::parse(Scope::READ).unwrap()]));
    assert_eq!(store.api_key("NOPE").await.unwrap(), None);

    assert_eq!(
        err(store.create_api_key(&Origin::cli(), &key).await),
        StoreError::KeyExists("ACMEKEY1".to_owned())
    );
    let elsewhere = NewApiKey {
        company: company(GLOBEX),
        ..key.clone()
    };
    assert_eq!(
        err(store.create_api_key(&Origin::cli(), &elsewhere).await),
        StoreError::KeyExists("ACMEKEY1".to_owned())
    );
    let orphan = NewApiKey {
        access_key: "ORPHAN".to_owned(),
        company: company(999),
        ..key.clone()
    };
    assert_eq!(
        err(store.create_api_key(&Origin::cli(), &orphan).await),
        StoreError::NoCompany(company(999))
    );

    let first = Timestamp::from_unix(1_800_000_000);
    let revoked = store
        .revoke_api_key(&Origin::cli(), "ACMEKEY1", first)
        .await
        .unwrap();
    assert_eq!(revoked.revoked_at, Some(first));
    let again = store
        .revoke_api_key(&Origin::cli(), "ACMEKEY1", first.plus_seconds(60))
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(first),
        "revoking twice keeps the first time"
    );
    assert_eq!(
        store.api_key("ACMEKEY1").await.unwrap().unwrap().revoked_at,
        Some(first)
    );
    assert_eq!(
        err(store.revoke_api_key(&Origin::cli(), "NOPE", first).await),
        StoreError::NoApiKey("NOPE".to_owned())
    );

    let acme_keys: Vec<String> = store
        .api_keys(Some(company(ACME)))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.access_key)
        .collect();
    assert_eq!(acme_keys.len(), 2);
    assert!(
        acme_keys.contains(&"ACMEKEY1".to_owned()) && acme_keys.contains(&"ACMEKEY2".to_owned())
    );
    assert!(store
        .api_keys(Some(company(GLOBEX)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.api_keys(None).await.unwrap().len(), 2);
}

pub async fn tokens_look_up_by_digest_and_revoke_once(store: &dyn Store) {
    world(store).await;
    let read = vec![Scope::parse(Scope::READ).unwrap()];
    let token = NewToken {
        company: company(ACME),
        digest: digest("acme-read-token-0123456789"),
        scopes: read.clone(),
        expires_at: None,
    };
    let info = store.create_token(&Origin::cli(), &token).await.unwrap();
    // A random handle, not one derived from the token.
    assert_eq!(info.id.len(), 16);
    assert!(info.id.bytes().all(|b| b.is_ascii_hexdigit()));
    assert!(!hex_of(&token.digest).starts_with(&info.id));
    assert_eq!(
        (info.company, info.scopes.clone(), info.revoked_at),
        (company(ACME), read.clone(), None)
    );
    let no_scopes = NewToken {
        digest: digest("acme-no-scope-token-0123"),
        scopes: vec![],
        ..token.clone()
    };
    store
        .create_token(&Origin::cli(), &no_scopes)
        .await
        .unwrap();

    let found = store
        .token(&digest("acme-read-token-0123456789"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.company, found.digest, found.scopes),
        (company(ACME), token.digest, Some(read.clone()))
    );
    let found = store.token(&no_scopes.digest).await.unwrap().unwrap();
    assert_eq!(
        found.scopes,
        Some(vec![]),
        "a token's scopes are always explicit"
    );
    assert_eq!(
        store
            .token(&digest("unknown-token-0123456789"))
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        err(store.create_token(&Origin::cli(), &token).await),
        StoreError::TokenExists
    );
    let orphan = NewToken {
        company: company(999),
        digest: digest("orphan-token-0123456789"),
        ..token.clone()
    };
    assert_eq!(
        err(store.create_token(&Origin::cli(), &orphan).await),
        StoreError::NoCompany(company(999))
    );

    let first = Timestamp::from_unix(1_800_000_000);
    assert_eq!(
        store
            .revoke_token(&Origin::cli(), &info.id, first)
            .await
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert_eq!(
        store
            .revoke_token(&Origin::cli(), &info.id, first.plus_seconds(5))
            .await
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert_eq!(
        store
            .token(&token.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert_eq!(
        err(store
            .revoke_token(&Origin::cli(), "0000000000000000", first)
            .await),
        StoreError::NoToken("0000000000000000".to_owned())
    );

    assert_eq!(store.tokens(Some(company(ACME))).await.unwrap().len(), 2);
    assert!(store
        .tokens(Some(company(GLOBEX)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.tokens(None).await.unwrap().len(), 2);
}

pub async fn users_conflict_and_need_their_company(store: &dyn Store) {
    world(store).await;
    let user_1 = User {
        calls_access: Some(CallsAccess::All),
        ..User::new(company(ACME), user(1), "x@y.test")
    };
    assert_eq!(
        err(store.add_user(&Origin::cli(), &user_1).await),
        StoreError::UserExists {
            company: company(1001),
            user: user(1)
        }
    );
    let orphan = User {
        company: company(999),
        ..user_1.clone()
    };
    assert_eq!(
        err(store.add_user(&Origin::cli(), &orphan).await),
        StoreError::NoCompany(company(999))
    );
    let listed = store.users(company(ACME)).await.unwrap();
    assert_eq!(
        as_written(&listed[0]),
        User {
            email_address: "u1@c1001.test".to_owned(),
            calls_access: Some(CallsAccess::None),
            ..user_1
        }
    );
    assert!(listed[0].created.is_some(), "{:?}", listed[0]);
    let ids: Vec<i64> = listed.iter().map(|u| u.id.get()).collect();
    assert_eq!(ids, vec![1, 2, 3, 10, 11, 12, 13]);
    assert!(store.users(company(999)).await.unwrap().is_empty());
}

pub async fn calls_need_their_company_and_users(store: &dyn Store) {
    world(store).await;
    assert_eq!(
        err(store
            .add_call(&Origin::cli(), &new_call(999, 1, 1, &[]))
            .await),
        StoreError::NoCompany(company(999))
    );
    assert_eq!(
        err(store
            .add_call(&Origin::cli(), &new_call(ACME, 200, 77, &[]))
            .await),
        StoreError::NoPrimaryUser {
            company: company(1001),
            user: user(77)
        }
    );
    assert_eq!(
        err(store
            .add_call(&Origin::cli(), &new_call(ACME, 200, 1, &[2, 78]))
            .await),
        StoreError::NoParticipant {
            company: company(1001),
            user: user(78)
        }
    );
    // GLOBEX's user 5 is not ACME's.
    assert_eq!(
        err(store
            .add_call(&Origin::cli(), &new_call(ACME, 200, 5, &[]))
            .await)
        .kind(),
        ErrorKind::Invalid
    );
    assert_eq!(
        err(store
            .add_call(&Origin::cli(), &new_call(ACME, 100, 1, &[]))
            .await),
        StoreError::CallExists {
            company: company(1001),
            call: call(100)
        }
    );
    let untitled = Call {
        title: None,
        ..new_call(ACME, 200, 1, &[3, 2, 3])
    };
    store.add_call(&Origin::cli(), &untitled).await.unwrap();
    let listed = store.calls(company(ACME)).await.unwrap();
    let ids: Vec<i64> = listed.iter().map(|c| c.id.get()).collect();
    assert_eq!(ids, vec![100, 101, 102, 200]);
    // Participants come back once each, ascending.
    assert_eq!(
        without_workspace(&listed[3]),
        Call {
            participant_ids: users(&[2, 3]),
            ..untitled
        }
    );
    assert_eq!(
        without_workspace(&listed[0]),
        new_call(ACME, 100, 11, &[12])
    );
}

pub async fn shares_need_call_and_user(store: &dyn Store) {
    world(store).await;
    assert_eq!(
        err(store
            .add_share(&Origin::cli(), company(ACME), call(555), user(1))
            .await),
        StoreError::NoCall {
            company: company(1001),
            call: call(555)
        }
    );
    assert_eq!(
        err(store
            .add_share(&Origin::cli(), company(ACME), call(101), user(77))
            .await),
        StoreError::NoUser {
            company: company(1001),
            user: user(77)
        }
    );
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap();
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap();
    assert_eq!(shares_of(store, ACME, 101).await, users(&[2]));
    assert!(store
        .remove_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap());
    assert!(!store
        .remove_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap());
    assert!(!store
        .remove_share(&Origin::cli(), company(ACME), call(555), user(2))
        .await
        .unwrap());
    assert!(shares_of(store, ACME, 101).await.is_empty());
}

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.unwrap();
    assert!(!store.backend().is_empty());
}

pub async fn rate_limits_are_set_and_travel_with_credentials(store: &dyn Store) {
    world(store).await;
    let limit = RateLimit {
        per_second: Limit::Max(7),
        per_day: Limit::Off,
    };
    let updated = store.set_rate_limit(company(ACME), limit).await.unwrap();
    assert_eq!(updated.rate_limit, limit);
    let listed = store.companies().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|c| c.id == company(ACME))
            .unwrap()
            .rate_limit,
        limit
    );
    assert_eq!(
        listed
            .iter()
            .find(|c| c.id == company(GLOBEX))
            .unwrap()
            .rate_limit,
        RateLimit::default()
    );
    let missing = store
        .set_rate_limit(company(4242), limit)
        .await
        .unwrap_err();
    assert_eq!(missing, StoreError::NoCompany(company(4242)));

    store
        .create_api_key(
            &Origin::cli(),
            &NewApiKey {
                access_key: "RATEKEY".to_owned(),
                company: company(ACME),
                digest: digest("rate-key-secret-0123"),
                scopes: None,
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let key = store.api_key("RATEKEY").await.unwrap().unwrap();
    assert_eq!(key.rate_limit, limit);
    store
        .create_token(
            &Origin::cli(),
            &NewToken {
                company: company(ACME),
                digest: digest("rate-token-0123456789"),
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let token = store
        .token(&digest("rate-token-0123456789"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.rate_limit, limit);
    // Back to the server's defaults.
    store
        .set_rate_limit(company(ACME), RateLimit::default())
        .await
        .unwrap();
    assert_eq!(
        store.api_key("RATEKEY").await.unwrap().unwrap().rate_limit,
        RateLimit::default()
    );
}

/// A store that reports a credentials epoch checks it in each operation's
/// transaction: a check under the current count passes, a check under an
/// older one fails with `CredentialsChanged` and changes nothing, and a
/// revocation moves the count. A store without epochs never receives a
/// check, and its operations ignore `None`.
pub async fn a_stale_credential_check_fails_the_operation_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let c = company(ACME);
    let put = change(&[(101, &[2])]);
    let Some(epoch) = store.credentials_epoch() else {
        store
            .grant_access(
                &Origin::cli(),
                Caller {
                    company: c,
                    check: None,
                },
                &put,
            )
            .await
            .unwrap();
        store
            .revoke_access(
                &Origin::cli(),
                Caller {
                    company: c,
                    check: None,
                },
                &put,
            )
            .await
            .unwrap();
        assert!(store
            .list_api_grants(
                Caller {
                    company: c,
                    check: None
                },
                &[call(101)]
            )
            .await
            .is_ok());
        return;
    };
    let (current_check, stale_check) = (
        CredentialCheck { epoch },
        CredentialCheck {
            epoch: epoch.wrapping_add(1),
        },
    );
    let (current, stale) = (Some(current_check), Some(stale_check));
    let is_changed = |r: Result<(), StoreError>| matches!(r, Err(StoreError::CredentialsChanged));

    let before = snapshot(store).await;
    assert!(is_changed(
        store
            .grant_access(
                &Origin::cli(),
                Caller {
                    company: c,
                    check: stale
                },
                &put
            )
            .await
    ));
    assert!(is_changed(
        store
            .revoke_access(
                &Origin::cli(),
                Caller {
                    company: c,
                    check: stale
                },
                &change(&[(101, &[])])
            )
            .await
    ));
    assert!(is_changed(
        store
            .list_api_grants(
                Caller {
                    company: c,
                    check: stale
                },
                &[call(101)]
            )
            .await
            .map(drop)
    ));
    // Even when there is nothing to do, and before any other answer.
    assert!(is_changed(
        store
            .grant_access(
                &Origin::cli(),
                Caller {
                    company: c,
                    check: stale
                },
                &AccessChange::default()
            )
            .await
    ));
    assert!(is_changed(
        store
            .grant_access(
                &Origin::cli(),
                Caller {
                    company: c,
                    check: stale
                },
                &change(&[(999_999, &[1])])
            )
            .await
    ));
    assert!(is_changed(store.confirm_credentials(stale_check).await));
    assert_eq!(
        snapshot(store).await,
        before,
        "a failed check changes nothing"
    );

    store
        .grant_access(
            &Origin::cli(),
            Caller {
                company: c,
                check: current,
            },
            &put,
        )
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
    store.confirm_credentials(current_check).await.unwrap();

    let key = NewApiKey {
        access_key: "EPOCHKEY".to_owned(),
        company: c,
        digest: digest("epoch-secret-0123456789"),
        scopes: None,
        expires_at: None,
    };
    store.create_api_key(&Origin::cli(), &key).await.unwrap();
    store
        .revoke_api_key(
            &Origin::cli(),
            "EPOCHKEY",
            Timestamp::from_unix(1_800_000_000),
        )
        .await
        .unwrap();
    assert_ne!(
        store.credentials_epoch(),
        Some(epoch),
        "a revocation moves it"
    );
    assert!(is_changed(
        store
            .list_api_grants(
                Caller {
                    company: c,
                    check: current
                },
                &[call(101)]
            )
            .await
            .map(drop)
    ));
}

/// A digest in lower-case hex.
fn hex_of(digest: &crate::model::SecretDigest) -> String {
    digest.0.iter().map(|b| format!("{b:02x}")).collect()
}
