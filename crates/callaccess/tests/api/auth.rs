//! Authentication (contract §4): Basic API keys, Bearer tokens and scopes.

use callaccess_domain::secret;
use callaccess_domain::{NewApiKey, Scope, Timestamp};

use crate::helpers::ids::*;
use crate::helpers::{change, Auth, TestApp};

const FAILED: &str = "authentication failed: send 'Authorization: Basic' with a valid access key and secret, or 'Authorization: Bearer' with a valid access token";

fn assert_unauthenticated(reply: &crate::helpers::Reply) {
    assert_eq!(reply.assert_error(401, FAILED).len(), 1);
    let challenges: Vec<_> = reply
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    assert!(
        challenges.iter().any(|c| c.starts_with("Basic")),
        "{challenges:?}"
    );
    assert!(
        challenges.iter().any(|c| c.starts_with("Bearer")),
        "{challenges:?}"
    );
}

#[tokio::test]
async fn every_bad_credential_gets_the_same_401() {
    let app = TestApp::spawn().await;
    let c = app.company(1).await;
    let Auth::Basic(key, key_secret) = c.auth.clone() else {
        unreachable!()
    };
    let expired_key = secret::generate_access_key();
    let expired_secret = secret::generate_secret();
    app.store
        .create_api_key(&NewApiKey {
            access_key: expired_key.clone(),
            company: c.id,
            digest: secret::digest(&expired_secret),
            scopes: None,
            expires_at: Some(Timestamp::now().plus_seconds(-1)),
        })
        .await
        .unwrap();
    let cases = [
        Auth::None,
        Auth::Raw("Basic".into()),
        Auth::Raw("Basic not-base64!".into()),
        Auth::Raw("Token abc".into()),
        Auth::Raw("Bearer".into()),
        Auth::Basic(key.clone(), format!("{key_secret}x")),
        Auth::Basic(key.clone(), String::new()),
        Auth::Basic("NOSUCHKEY".into(), key_secret.clone()),
        Auth::Basic(expired_key, expired_secret),
        Auth::Bearer(key_secret.clone()),
        Auth::Bearer("unknown-token".into()),
    ];
    for auth in &cases {
        assert_unauthenticated(&app.put(auth, change(CALL_3, &[NONE_A])).await);
        assert_unauthenticated(
            &app.post(auth, serde_json::json!({"filter": {"callIds": []}}))
                .await,
        );
    }
    assert!(app.grantees(&c.auth, CALL_3).await.is_empty());
}

#[tokio::test]
async fn a_revoked_key_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let c = app.company(1).await;
    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    app.store
        .revoke_api_key(&c.access_key, Timestamp::now())
        .await
        .unwrap();
    assert_unauthenticated(&app.put(&c.auth, change(CALL_3, &[NONE_B])).await);
}

#[tokio::test]
async fn bearer_tokens_need_the_scope_of_the_operation() {
    let app = TestApp::spawn().await;
    let c = app.company(1).await;
    let read = app.token(&c, &[Scope::READ]).await;
    let write = app.token(&c, &[Scope::WRITE]).await;
    let both = app.token(&c, &[Scope::READ, Scope::WRITE]).await;
    let other = app.token(&c, &["api:calls:read:basic"]).await;

    let no_write = "You don't have permission to use 'api:call-user-access:write' in your app.";
    let no_read = "You don't have permission to use 'api:call-user-access:read' in your app.";
    for auth in [&read, &other] {
        let reply = app.put(auth, change(CALL_3, &[NONE_A])).await;
        assert_eq!(reply.assert_error(401, no_write), vec![no_write]);
        assert!(reply.headers.contains_key("www-authenticate"));
        app.delete(auth, change(CALL_3, &[NONE_A]))
            .await
            .assert_error(401, no_write);
    }
    for auth in [&write, &other] {
        app.post(
            auth,
            serde_json::json!({"filter": {"callIds": [CALL_3.to_string()]}}),
        )
        .await
        .assert_error(401, no_read);
    }
    assert!(
        app.grantees(&read, CALL_3).await.is_empty(),
        "a refused PUT changed something"
    );
    app.grant(&write, CALL_3, &[NONE_A]).await;
    assert_eq!(app.grantees(&read, CALL_3).await, vec![NONE_A.to_string()]);
    app.delete(&both, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    assert!(app.grantees(&both, CALL_3).await.is_empty());
    // The scope check comes before the body is looked at.
    app.put(&read, serde_json::json!({"callAccessList": "nonsense"}))
        .await
        .assert_error(401, no_write);
}

#[tokio::test]
async fn a_revoked_token_is_refused_on_the_next_request() {
    let app = TestApp::spawn().await;
    let c = app.company(1).await;
    let token = app.token(&c, &[Scope::READ]).await;
    app.listed(&token, &[CALL_1]).await;
    let Auth::Bearer(raw) = &token else {
        unreachable!()
    };
    let id = secret::token_id(&secret::digest(raw));
    app.store.revoke_token(&id, Timestamp::now()).await.unwrap();
    assert_unauthenticated(
        &app.post(
            &token,
            serde_json::json!({"filter": {"callIds": [CALL_1.to_string()]}}),
        )
        .await,
    );
}

#[tokio::test]
async fn a_key_created_with_scopes_is_checked_like_a_token() {
    let app = TestApp::spawn().await;
    let c = app.company(1).await;
    let key = secret::generate_access_key();
    let key_secret = secret::generate_secret();
    app.store
        .create_api_key(&NewApiKey {
            access_key: key.clone(),
            company: c.id,
            digest: secret::digest(&key_secret),
            scopes: Some(vec![Scope::parse(Scope::READ).unwrap()]),
            expires_at: Some(Timestamp::now().plus_seconds(3600)),
        })
        .await
        .unwrap();
    let auth = Auth::Basic(key, key_secret);
    app.listed(&auth, &[CALL_1]).await;
    app.put(&auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_error(
            401,
            "You don't have permission to use 'api:call-user-access:write' in your app.",
        );
}
