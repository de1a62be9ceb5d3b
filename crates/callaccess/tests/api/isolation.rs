//! Tenancy: a credential only ever sees its own company, and another
//! company's call answers exactly like an unknown call.

use crate::helpers::ids::*;
use crate::helpers::{change, TestApp};
use callaccess_domain::Origin;

/// Drops the request id so two answers can be compared.
fn shape(reply: &crate::helpers::Reply) -> (u16, serde_json::Value) {
    let mut body = reply.body.clone();
    body.as_object_mut().unwrap().remove("requestId");
    (reply.status, body)
}

#[tokio::test]
async fn two_companies_are_isolated_in_both_directions() {
    let app = TestApp::spawn().await;
    let a = app.company(1).await;
    // Company 2 has calls with other ids, and users with the same ids as company 1.
    let b = app.company(2).await;
    app.grant(&a.auth, CALL_3, &[NONE_A]).await;
    app.grant(&b.auth, CALL_3, &[NONE_B]).await;
    assert_eq!(
        app.grantees(&a.auth, CALL_3).await,
        vec![NONE_A.to_string()]
    );
    assert_eq!(
        app.grantees(&b.auth, CALL_3).await,
        vec![NONE_B.to_string()]
    );

    // A call that only company 2 has.
    let only_b = 5_555_555_555_555_555_555;
    app.store
        .add_call(
            &Origin::cli(),
            &callaccess_domain::Call::new(
                b.id,
                crate::helpers::call(only_b),
                crate::helpers::user(NONE_A),
            ),
        )
        .await
        .unwrap();
    for (owner, stranger) in [(&b, &a)] {
        let foreign = app.put(&stranger.auth, change(only_b, &[NONE_A])).await;
        let unknown = app.put(&stranger.auth, change(only_b - 1, &[NONE_A])).await;
        assert_eq!(foreign.status, 400);
        assert_eq!(foreign.errors()[0], "Some calls not found");
        // Same answer as for an id nobody has, but for the id itself.
        assert_eq!(foreign.errors()[1], format!("call \"{only_b}\" not found"));
        assert_eq!(
            unknown.errors()[1],
            format!("call \"{}\" not found", only_b - 1)
        );
        assert_eq!(
            shape(&app.delete(&stranger.auth, change(only_b, &[])).await).0,
            400
        );
        let listed = app.post_calls(&stranger.auth, &[only_b]).await;
        assert_eq!(
            listed.errors(),
            vec![
                "Some calls not found".to_owned(),
                format!("call \"{only_b}\" not found")
            ]
        );
        assert!(app.grantees(&owner.auth, only_b).await.is_empty());
    }

    // Company 1's DELETE never touches company 2's grant of the same ids.
    app.delete(&a.auth, change(CALL_3, &[NONE_B, NONE_A]))
        .await
        .assert_ok();
    assert!(app.grantees(&a.auth, CALL_3).await.is_empty());
    assert_eq!(
        app.grantees(&b.auth, CALL_3).await,
        vec![NONE_B.to_string()]
    );
}

#[tokio::test]
async fn another_companys_user_is_an_unknown_user() {
    let app = TestApp::spawn().await;
    let a = app.company(1).await;
    let b = app.company(2).await;
    let only_b_user = 4242;
    app.store
        .add_user(
            &Origin::cli(),
            &callaccess_domain::User {
                calls_access: Some(callaccess_domain::CallsAccess::None),
                ..callaccess_domain::User::new(b.id, crate::helpers::user(only_b_user), "x@b.test")
            },
        )
        .await
        .unwrap();
    app.grant(&b.auth, CALL_3, &[only_b_user]).await;
    let errors = app
        .put(&a.auth, change(CALL_3, &[only_b_user]))
        .await
        .assert_error(400, "Some users not found");
    assert_eq!(errors[1], format!("user \"{only_b_user}\" not found"));
    app.delete(&a.auth, change(CALL_3, &[only_b_user]))
        .await
        .assert_ok();
    assert_eq!(
        app.grantees(&b.auth, CALL_3).await,
        vec![only_b_user.to_string()]
    );
}
