//! The access rules of contract §2, seen through the three endpoints and the
//! stored routes.

use callaccess_domain::Origin;
use serde_json::json;

use crate::helpers::ids::*;
use crate::helpers::{call, change, user, TestApp};

#[tokio::test]
async fn put_records_a_grant_that_post_lists_and_granting_twice_is_a_no_op() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_3, &[NONE_B]).await;
    app.grant(&c.auth, CALL_3, &[NONE_B]).await;
    assert_eq!(
        app.grantees(&c.auth, CALL_3).await,
        vec![NONE_B.to_string()]
    );
    let facts = app.store.call_access(c.id, call(CALL_3)).await.unwrap();
    assert_eq!(facts.api_grants(), vec![user(NONE_B)]);
}

#[tokio::test]
async fn put_is_a_no_op_for_a_user_who_already_has_access_another_way() {
    let (app, c) = TestApp::spawn_with_company().await;
    // CALL_1: shared with SHARED, primary OWN_PRIMARY, participant OWN_PARTICIPANT; ALL sees everything.
    app.grant(
        &c.auth,
        CALL_1,
        &[SHARED, ALL, OWN_PRIMARY, OWN_PARTICIPANT],
    )
    .await;
    assert!(app.grantees(&c.auth, CALL_1).await.is_empty());
    assert!(app
        .store
        .call_access(c.id, call(CALL_1))
        .await
        .unwrap()
        .api_grants()
        .is_empty());
    // An `own` user who is not on the call, and a `none` user, do get a grant.
    app.grant(&c.auth, CALL_1, &[OWN_OTHER, NONE_A]).await;
    assert_eq!(
        app.grantees(&c.auth, CALL_1).await,
        vec![NONE_A.to_string(), OWN_OTHER.to_string()]
    );
}

#[tokio::test]
async fn delete_removes_only_api_grants_and_leaves_sharing_intact() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_1, &[NONE_A]).await;
    app.delete(
        &c.auth,
        change(CALL_1, &[NONE_A, SHARED, ALL, OWN_PRIMARY, NONE_B]),
    )
    .await
    .assert_ok();
    assert!(app.grantees(&c.auth, CALL_1).await.is_empty());
    let facts = app.store.call_access(c.id, call(CALL_1)).await.unwrap();
    assert_eq!(facts.shares(), vec![user(SHARED)]);
    assert_eq!(
        facts.by_profile(callaccess_domain::CallsAccess::All),
        vec![user(ALL)]
    );
    assert_eq!(
        facts.by_profile(callaccess_domain::CallsAccess::Own),
        vec![user(OWN_PRIMARY), user(OWN_PARTICIPANT)]
    );
}

#[tokio::test]
async fn a_grant_made_before_a_share_survives_until_deleted() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_2, &[NONE_A]).await;
    app.store
        .add_share(&Origin::cli(), c.id, call(CALL_2), user(NONE_A))
        .await
        .unwrap();
    assert_eq!(
        app.grantees(&c.auth, CALL_2).await,
        vec![NONE_A.to_string()]
    );
    app.delete(&c.auth, change(CALL_2, &[NONE_A]))
        .await
        .assert_ok();
    assert!(app.grantees(&c.auth, CALL_2).await.is_empty());
    assert_eq!(
        app.store
            .call_access(c.id, call(CALL_2))
            .await
            .unwrap()
            .shares(),
        vec![user(NONE_A)]
    );
}

#[tokio::test]
async fn post_lists_every_call_once_in_request_order_with_empty_lists() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_2, &[OWN_OTHER, NONE_A]).await;
    let listed = app.listed(&c.auth, &[CALL_3, CALL_2, CALL_1, CALL_3]).await;
    assert_eq!(
        listed,
        vec![
            (CALL_3.to_string(), vec![]),
            (
                CALL_2.to_string(),
                vec![NONE_A.to_string(), OWN_OTHER.to_string()]
            ),
            (CALL_1.to_string(), vec![]),
        ]
    );
    let reply = app.post(&c.auth, json!({"filter": {"callIds": []}})).await;
    reply.assert_ok();
    assert_eq!(reply.body["callAccessList"], json!([]));
    // The exact shape Gong answers.
    let reply = app.post_calls(&c.auth, &[CALL_3]).await;
    assert_eq!(
        reply.body,
        json!({"requestId": reply.body["requestId"], "callAccessList": [{"callId": CALL_3.to_string(), "users": []}]})
    );
}

#[tokio::test]
async fn a_restart_on_the_same_database_keeps_every_grant() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_1, &[NONE_A, OWN_OTHER]).await;
    app.grant(&c.auth, CALL_3, &[NONE_B]).await;
    app.delete(&c.auth, change(CALL_1, &[OWN_OTHER]))
        .await
        .assert_ok();
    let dir = app.stop().await;

    let app = TestApp::spawn_in(dir, TestApp::options()).await;
    let listed = app.listed(&c.auth, &[CALL_1, CALL_2, CALL_3]).await;
    assert_eq!(
        listed,
        vec![
            (CALL_1.to_string(), vec![NONE_A.to_string()]),
            (CALL_2.to_string(), vec![]),
            (CALL_3.to_string(), vec![NONE_B.to_string()]),
        ]
    );
}

#[tokio::test]
async fn concurrent_requests_are_each_applied_whole() {
    let (app, c) = TestApp::spawn_with_company().await;
    let mut tasks = Vec::new();
    for n in 0..40 {
        let (client, base, auth) = (app.client.clone(), app.base.clone(), c.auth.clone());
        // Every fifth request names an unknown call and must change nothing.
        let body = if n % 5 == 0 {
            json!({"callAccessList": [{"callId": CALL_3.to_string(), "userIds": [OWN_OTHER.to_string()]}, {"callId": UNKNOWN_CALL.to_string(), "userIds": []}]})
        } else {
            change(if n % 2 == 0 { CALL_2 } else { CALL_3 }, &[NONE_A, SHARED])
        };
        tasks.push(tokio::spawn(async move {
            let crate::helpers::Auth::Basic(k, s) = auth else {
                unreachable!()
            };
            client
                .put(format!("{base}{}", crate::helpers::PATH))
                .basic_auth(k, Some(s))
                .json(&body)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    assert_eq!(statuses.iter().filter(|s| **s == 400).count(), 8);
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 32);
    let want = vec![NONE_A.to_string(), SHARED.to_string()];
    assert_eq!(app.grantees(&c.auth, CALL_2).await, want);
    assert_eq!(app.grantees(&c.auth, CALL_3).await, want);
}
