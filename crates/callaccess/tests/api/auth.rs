//! Authentication (contract §4): Basic API keys, Bearer tokens and scopes.

use callaccess_domain::Origin;
use callaccess_domain::{Scope, Timestamp};

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
    let (app, c) = TestApp::spawn_with_company().await;
    let Auth::Basic(key, key_secret) = c.auth.clone() else {
        unreachable!()
    };
    let expired = app
        .api_key(&c, None, Some(app.clock.now().plus_seconds(-1)))
        .await;
    let cases = [
        Auth::None,
        Auth::Raw("Basic".into()),
        Auth::Raw("Basic not-base64!".into()),
        Auth::Raw("Token abc".into()),
        Auth::Raw("Bearer".into()),
        Auth::Basic(key.clone(), format!("{key_secret}x")),
        Auth::Basic(key.clone(), String::new()),
        Auth::Basic("NOSUCHKEY".into(), key_secret.clone()),
        expired,
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
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    app.store
        .revoke_api_key(&Origin::cli(), &c.access_key, Timestamp::now())
        .await
        .unwrap();
    assert_unauthenticated(&app.put(&c.auth, change(CALL_3, &[NONE_B])).await);
}

#[tokio::test]
async fn bearer_tokens_need_the_scope_of_the_operation() {
    let (app, c) = TestApp::spawn_with_company().await;
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
    let (app, c) = TestApp::spawn_with_company().await;
    let token = app.token(&c, &[Scope::READ]).await;
    app.listed(&token, &[CALL_1]).await;
    // The company's one token.
    let tokens = app.store.tokens(Some(c.id)).await.unwrap();
    assert_eq!(tokens.len(), 1);
    let id = tokens[0].id.clone();
    app.store
        .revoke_token(&Origin::cli(), &id, Timestamp::now())
        .await
        .unwrap();
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
    let (app, c) = TestApp::spawn_with_company().await;
    let auth = app
        .api_key(
            &c,
            Some(&[Scope::READ]),
            Some(Timestamp::now().plus_seconds(3600)),
        )
        .await;
    app.listed(&auth, &[CALL_1]).await;
    app.put(&auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_error(
            401,
            "You don't have permission to use 'api:call-user-access:write' in your app.",
        );
}
