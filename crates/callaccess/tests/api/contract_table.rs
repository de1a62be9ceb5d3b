//! Every row of the contract's validation table (§3), over a real socket.

use reqwest::Method;
use serde_json::json;

use crate::helpers::ids::*;
use crate::helpers::{call, change, Auth, TestApp, PATH};

#[tokio::test]
async fn missing_or_empty_call_access_list_is_200_and_changes_nothing() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_3, &[NONE_B]).await;
    for body in [
        json!({}),
        json!({"callAccessList": []}),
        json!({"callAccessList": null}),
    ] {
        app.put(&c.auth, body.clone()).await.assert_ok();
        app.delete(&c.auth, body).await.assert_ok();
    }
    assert_eq!(
        app.grantees(&c.auth, CALL_3).await,
        vec![NONE_B.to_string()]
    );
}

#[tokio::test]
async fn post_without_filter_or_call_ids_is_400() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.post(&c.auth, json!({}))
        .await
        .assert_error(400, "filter: must not be null");
    app.post(&c.auth, json!({"filter": {}}))
        .await
        .assert_error(400, "filter.callIds: must not be null");
    app.post(&c.auth, json!({"filter": {"callIds": null}}))
        .await
        .assert_error(400, "filter.callIds: must not be null");
    app.post(&c.auth, json!({"filter": "x"}))
        .await
        .assert_error(400, "filter: must be an object");
}

#[tokio::test]
async fn item_without_call_id_or_user_ids_names_the_field_path() {
    let (app, c) = TestApp::spawn_with_company().await;
    let ok = json!({"callId": CALL_1.to_string(), "userIds": [NONE_A.to_string()]});
    let body = json!({"callAccessList": [ok, ok, {"callId": CALL_2.to_string()}]});
    app.put(&c.auth, body.clone())
        .await
        .assert_error(400, "callAccessList[2].userIds: must not be null");
    app.delete(&c.auth, body)
        .await
        .assert_error(400, "callAccessList[2].userIds: must not be null");
    let body = json!({"callAccessList": [{"userIds": []}]});
    app.put(&c.auth, body)
        .await
        .assert_error(400, "callAccessList[0].callId: must not be null");
    // Nothing from the valid items was applied.
    assert!(app.grantees(&c.auth, CALL_1).await.is_empty());
}

#[tokio::test]
async fn malformed_ids_name_the_path_and_the_value() {
    let (app, c) = TestApp::spawn_with_company().await;
    // Each message quotes the value as JSON, then says what is wrong.
    let not_numeric = "is not a numeric id";
    let cases = [
        (r#""12a""#, not_numeric),
        (r#""""#, not_numeric),
        (r#""123456789012345678901""#, not_numeric),
        (
            r#""9223372036854775808""#,
            "is out of range (ids are at most 9223372036854775807)",
        ),
        (r#""0""#, "is not a valid id (ids start at 1)"),
        ("1.5", not_numeric),
        ("-7", not_numeric),
        ("true", not_numeric),
        (r#"{"id":1}"#, not_numeric),
    ];
    for (quoted, why) in cases {
        let bad: serde_json::Value = serde_json::from_str(quoted).unwrap();
        let message = format!("{quoted} {why}");
        let reply = app
            .put(
                &c.auth,
                json!({"callAccessList": [{"callId": bad, "userIds": []}]}),
            )
            .await;
        reply.assert_error(400, &format!("callAccessList[0].callId: {message}"));
        let reply = app
            .delete(&c.auth, json!({"callAccessList": [{"callId": CALL_1.to_string(), "userIds": [NONE_A.to_string(), bad]}]}))
            .await;
        reply.assert_error(400, &format!("callAccessList[0].userIds[1]: {message}"));
        let reply = app
            .post(
                &c.auth,
                json!({"filter": {"callIds": [CALL_1.to_string(), bad]}}),
            )
            .await;
        reply.assert_error(400, &format!("filter.callIds[1]: {message}"));
    }
}

#[tokio::test]
async fn integer_ids_are_accepted_as_their_decimal_string() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.put(
        &c.auth,
        json!({"callAccessList": [{"callId": CALL_3, "userIds": [NONE_B]}]}),
    )
    .await
    .assert_ok();
    let reply = app
        .post(&c.auth, json!({"filter": {"callIds": [CALL_3]}}))
        .await;
    reply.assert_ok();
    assert_eq!(
        reply.body["callAccessList"],
        json!([{"callId": CALL_3.to_string(), "users": [{"userId": NONE_B.to_string()}]}])
    );
    app.delete(
        &c.auth,
        json!({"callAccessList": [{"callId": CALL_3, "userIds": [NONE_B]}]}),
    )
    .await
    .assert_ok();
    assert_eq!(
        app.listed(&c.auth, &[CALL_3]).await,
        [(CALL_3.to_string(), vec![])],
        "the DELETE with integer ids removed the grant"
    );
}

#[tokio::test]
async fn duplicates_are_treated_as_their_union() {
    let (app, c) = TestApp::spawn_with_company().await;
    let (c3, a, b) = (CALL_3.to_string(), NONE_A.to_string(), NONE_B.to_string());
    let body = json!({"callAccessList": [
        {"callId": c3, "userIds": [b, b]},
        {"callId": CALL_2.to_string(), "userIds": [a]},
        {"callId": c3, "userIds": [a, b]},
    ]});
    app.put(&c.auth, body).await.assert_ok();
    let listed = app.listed(&c.auth, &[CALL_3, CALL_2, CALL_3]).await;
    assert_eq!(
        listed,
        vec![
            (c3.clone(), vec![a.clone(), b.clone()]),
            (CALL_2.to_string(), vec![a.clone()])
        ]
    );
    let body = json!({"callAccessList": [{"callId": c3, "userIds": [a, a]}, {"callId": c3, "userIds": [a]}]});
    app.delete(&c.auth, body).await.assert_ok();
    assert_eq!(app.grantees(&c.auth, CALL_3).await, vec![b]);
}

#[tokio::test]
async fn empty_user_ids_is_accepted_but_the_call_must_exist() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.put(&c.auth, change(CALL_1, &[])).await.assert_ok();
    app.delete(&c.auth, change(CALL_1, &[])).await.assert_ok();
    let errors = app
        .put(&c.auth, change(UNKNOWN_CALL, &[]))
        .await
        .assert_error(400, "Some calls not found");
    assert_eq!(errors[1..], [format!("call \"{UNKNOWN_CALL}\" not found")]);
    app.delete(&c.auth, change(UNKNOWN_CALL, &[]))
        .await
        .assert_error(400, "Some calls not found");
}

#[tokio::test]
async fn unknown_calls_reject_the_whole_request_and_are_each_named() {
    let (app, c) = TestApp::spawn_with_company().await;
    let other_missing = UNKNOWN_CALL - 1;
    let body = json!({"callAccessList": [
        {"callId": CALL_3.to_string(), "userIds": [NONE_A.to_string()]},
        {"callId": UNKNOWN_CALL.to_string(), "userIds": [NONE_A.to_string()]},
        {"callId": other_missing.to_string(), "userIds": []},
    ]});
    let errors = app
        .put(&c.auth, body.clone())
        .await
        .assert_error(400, "Some calls not found");
    assert_eq!(
        errors[1..],
        [
            format!("call \"{UNKNOWN_CALL}\" not found"),
            format!("call \"{other_missing}\" not found")
        ]
    );
    assert!(
        app.grantees(&c.auth, CALL_3).await.is_empty(),
        "half of a rejected PUT was applied"
    );

    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    app.delete(&c.auth, body)
        .await
        .assert_error(400, "Some calls not found");
    assert_eq!(
        app.grantees(&c.auth, CALL_3).await,
        vec![NONE_A.to_string()],
        "half of a rejected DELETE was applied"
    );

    let reply = app
        .post(
            &c.auth,
            json!({"filter": {"callIds": [CALL_3.to_string(), UNKNOWN_CALL.to_string()]}}),
        )
        .await;
    let errors = reply.assert_error(400, "Some calls not found");
    assert_eq!(errors[1..], [format!("call \"{UNKNOWN_CALL}\" not found")]);
}

#[tokio::test]
async fn put_with_unknown_users_is_rejected_whole() {
    let (app, c) = TestApp::spawn_with_company().await;
    let errors = app
        .put(&c.auth, change(CALL_3, &[NONE_A, UNKNOWN_USER, NONE_B]))
        .await
        .assert_error(400, "Some users not found");
    assert_eq!(errors[1..], [format!("user \"{UNKNOWN_USER}\" not found")]);
    assert!(app.grantees(&c.auth, CALL_3).await.is_empty());
}

#[tokio::test]
async fn delete_naming_an_unknown_user_is_not_an_error() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    app.delete(&c.auth, change(CALL_3, &[UNKNOWN_USER, NONE_A]))
        .await
        .assert_ok();
    // The known user's grant is gone from the store.
    let stored = app.store.call_access(c.id, call(CALL_3)).await.unwrap();
    assert!(stored.api_grants().is_empty(), "{stored:?}");
}

#[tokio::test]
async fn unknown_fields_are_ignored() {
    let (app, c) = TestApp::spawn_with_company().await;
    let body = json!({"extra": {"x": 1}, "callAccessList": [{"callId": CALL_3.to_string(), "userIds": [NONE_A.to_string()], "note": "hi"}]});
    app.put(&c.auth, body).await.assert_ok();
    let reply = app.post(&c.auth, json!({"cursor": "abc", "filter": {"callIds": [CALL_3.to_string()], "fromDateTime": "x"}})).await;
    reply.assert_ok();
    assert_eq!(
        reply.body["callAccessList"][0]["users"],
        json!([{"userId": NONE_A.to_string()}])
    );
}

#[tokio::test]
async fn invalid_json_says_where_it_broke() {
    let (app, c) = TestApp::spawn_with_company().await;
    for method in [Method::PUT, Method::POST, Method::DELETE] {
        let body = b"{\n  \"callAccessList\": [\n    {\"callId\": }\n  ]\n}".to_vec();
        let reply = app
            .request(
                method,
                PATH,
                &c.auth,
                Some(body),
                &[("content-type", "application/json")],
            )
            .await;
        reply.assert_error(
            400,
            "request body is not valid JSON: expected value at line 3, column 16",
        );
    }
    let reply = app.put_bytes(&c.auth, b"[1,2]".to_vec(), &[]).await;
    reply.assert_error(400, "request body must be a JSON object");
}

#[tokio::test]
async fn a_missing_body_is_400_request_body_is_required() {
    let (app, c) = TestApp::spawn_with_company().await;
    for method in [Method::PUT, Method::POST, Method::DELETE] {
        let reply = app.request(method.clone(), PATH, &c.auth, None, &[]).await;
        reply.assert_error(400, "request body is required");
        let reply = app
            .request(
                method,
                PATH,
                &c.auth,
                Some(Vec::new()),
                &[("content-type", "application/json")],
            )
            .await;
        reply.assert_error(400, "request body is required");
    }
}

#[tokio::test]
async fn a_content_type_other_than_json_is_415() {
    let (app, c) = TestApp::spawn_with_company().await;
    let body = serde_json::to_vec(&change(CALL_3, &[NONE_A])).unwrap();
    for content_type in [
        "text/plain",
        "application/x-www-form-urlencoded",
        "application/xml",
    ] {
        let headers = [("content-type", content_type)];
        let reply = app.put_bytes(&c.auth, body.clone(), &headers).await;
        reply.assert_error(
            415,
            &format!("content type must be application/json, got '{content_type}'"),
        );
    }
    // No content type, or JSON with parameters, is fine.
    app.put_bytes(&c.auth, body.clone(), &[]).await.assert_ok();
    let json_utf8 = [("content-type", "application/json; charset=UTF-8")];
    app.request(Method::DELETE, PATH, &c.auth, Some(body), &json_utf8)
        .await
        .assert_ok();
    assert!(
        app.grantees(&c.auth, CALL_3).await.is_empty(),
        "the DELETE with a charset parameter was applied"
    );
}

#[tokio::test]
async fn a_body_over_the_limit_is_413() {
    let (app, c) = TestApp::spawn_with_company().await;
    let limit = 1024 * 1024;
    let padding = "x".repeat(limit);
    let body = serde_json::to_vec(&json!({"pad": padding, "callAccessList": []})).unwrap();
    let json = [("content-type", "application/json")];
    let reply = app.put_bytes(&c.auth, body.clone(), &json).await;
    reply.assert_error(
        413,
        &format!("request body is larger than the limit of {limit} bytes"),
    );

    // Without a Content-Length (chunked), the limit still holds while reading.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        body.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    let response = app
        .client
        .put(format!("{}{PATH}", app.base))
        .header(
            "authorization",
            match &c.auth {
                Auth::Basic(k, s) => basic(k, s),
                _ => unreachable!(),
            },
        )
        .body(reqwest::Body::wrap_stream(futures_stream(chunks)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 413);
    let value: serde_json::Value = response.json().await.unwrap();
    assert_eq!(
        value["errors"][0],
        format!("request body is larger than the limit of {limit} bytes")
    );
}

fn basic(key: &str, secret: &str) -> String {
    use base64::Engine;
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"))
    )
}

fn futures_stream(
    chunks: Vec<Result<Vec<u8>, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<Vec<u8>, std::io::Error>> + Send + Sync + 'static {
    futures_util::stream::iter(chunks)
}

#[tokio::test]
async fn more_pairs_than_the_limit_is_400_naming_the_limit() {
    let (app, c) = TestApp::spawn_with_company().await;
    let users: Vec<String> = (1..=10_001).map(|n: i64| n.to_string()).collect();
    let body = json!({"callAccessList": [{"callId": CALL_1.to_string(), "userIds": users}]});
    app.put(&c.auth, body.clone()).await.assert_error(
        400,
        "callAccessList: at most 10000 (call, user) pairs are allowed per request, got 10001",
    );
    app.delete(&c.auth, body).await.assert_error(
        400,
        "callAccessList: at most 10000 (call, user) pairs are allowed per request, got 10001",
    );
    let calls: Vec<String> = (1..=10_001).map(|n: i64| n.to_string()).collect();
    app.post(&c.auth, json!({"filter": {"callIds": calls}}))
        .await
        .assert_error(
            400,
            "filter.callIds: at most 10000 call ids are allowed per request, got 10001",
        );
    // Exactly at the limit is fine as far as the limit goes (the users are unknown).
    let users: Vec<String> = (1..=10_000).map(|n: i64| n.to_string()).collect();
    let body = json!({"callAccessList": [{"callId": CALL_1.to_string(), "userIds": users}]});
    app.delete(&c.auth, body).await.assert_ok();
}

#[tokio::test]
async fn other_methods_are_405_with_allow() {
    let (app, c) = TestApp::spawn_with_company().await;
    for method in [
        Method::GET,
        Method::PATCH,
        Method::OPTIONS,
        Method::from_bytes(b"PURGE").unwrap(),
    ] {
        let reply = app.request(method, PATH, &c.auth, None, &[]).await;
        reply.assert_error(
            405,
            "method not allowed on this path; use one of PUT, POST, DELETE",
        );
        assert_eq!(reply.headers["allow"], "PUT, POST, DELETE");
    }
}

#[tokio::test]
async fn unknown_paths_use_the_same_envelope() {
    let app = TestApp::spawn().await;
    let reply = app
        .request(Method::GET, "/v2/meetings", &Auth::None, None, &[])
        .await;
    let errors = reply.errors();
    assert_eq!(reply.status, 404);
    assert!(
        errors[0].starts_with("no such endpoint: GET /v2/meetings"),
        "{errors:?}"
    );
}

#[tokio::test]
async fn every_answer_carries_a_fresh_request_id_in_body_and_header() {
    let (app, c) = TestApp::spawn_with_company().await;
    let mut seen = std::collections::HashSet::new();
    for _ in 0..5 {
        let ok = app.put(&c.auth, change(CALL_3, &[NONE_A])).await;
        ok.assert_ok();
        assert_eq!(
            ok.body.as_object().unwrap().len(),
            1,
            "PUT answers only the request id: {}",
            ok.body
        );
        assert!(seen.insert(ok.assert_request_id()));
        let bad = app.put(&Auth::None, change(CALL_3, &[NONE_A])).await;
        assert!(seen.insert(bad.assert_request_id()));
        let health = app
            .request(Method::GET, "/healthz", &Auth::None, None, &[])
            .await;
        assert_eq!(health.status, 200);
        assert_eq!(health.body["status"], "ok");
        assert!(seen.insert(health.assert_request_id()));
    }
}

#[tokio::test]
async fn the_limits_are_configurable() {
    let app = TestApp::spawn_with(callaccess::http::Limits {
        max_body_bytes: 300,
        max_pairs: 2,
        ..callaccess::http::Limits::default()
    })
    .await;
    let c = app.company(1).await;
    app.put(&c.auth, change(CALL_3, &[NONE_A, NONE_B]))
        .await
        .assert_ok();
    app.put(&c.auth, change(CALL_3, &[NONE_A, NONE_B, OWN_OTHER]))
        .await
        .assert_error(
            400,
            "callAccessList: at most 2 (call, user) pairs are allowed per request, got 3",
        );
    let reply = app
        .put(
            &c.auth,
            json!({"pad": "x".repeat(300), "callAccessList": []}),
        )
        .await;
    reply.assert_error(413, "request body is larger than the limit of 300 bytes");
}
