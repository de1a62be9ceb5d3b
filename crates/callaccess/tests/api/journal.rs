//! The request journal (control-plane.md §4) over a real socket: what each
//! `/v2` request leaves in it, the filters and the body matcher of its
//! admin endpoints, its bound, and that it never holds a secret.

use std::time::Duration;

use callaccess::journal::format_micros;
use callaccess::server::ServeOptions;
use callaccess_domain::Scope;
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::ids::*;
use crate::helpers::{change, Auth, Reply, TestApp, PATH};

const REQUESTS: &str = "/admin/v1/requests";
const COUNT: &str = "/admin/v1/requests/count";

/// The admin credential the journal's endpoints are called with.
async fn admin(app: &TestApp) -> Auth {
    app.admin_token().await
}

/// `GET /admin/v1/requests` with a query string, checked to succeed; the
/// items.
async fn listed(app: &TestApp, query: &str) -> Vec<Value> {
    let path = if query.is_empty() {
        REQUESTS.to_owned()
    } else {
        format!("{REQUESTS}?{query}")
    };
    let reply = app
        .request(Method::GET, &path, &admin(app).await, None, &[])
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["items"].as_array().unwrap().clone()
}

async fn count_reply(app: &TestApp, matcher: &Value) -> Reply {
    app.request(
        Method::POST,
        COUNT,
        &admin(app).await,
        Some(serde_json::to_vec(matcher).unwrap()),
        &[("content-type", "application/json")],
    )
    .await
}

/// `POST /admin/v1/requests/count`, checked to succeed.
async fn counted(app: &TestApp, matcher: Value) -> u64 {
    let reply = count_reply(app, &matcher).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["count"].as_u64().unwrap()
}

fn request_ids(items: &[Value]) -> Vec<String> {
    items
        .iter()
        .map(|item| item["requestId"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn each_v2_request_is_recorded_with_its_answer() {
    let (app, c) = TestApp::spawn_with_company().await;
    let started = app.clock.now_micros();
    let body = change(CALL_3, &[NONE_A]);
    let put = app.put(&c.auth, body.clone()).await;
    put.assert_ok();
    app.clock.advance(Duration::from_secs(3600)).unwrap();
    let get = app
        .request(Method::GET, "/v2/workspaces?x=1", &c.auth, None, &[])
        .await;
    assert_eq!(get.status, 200, "{}", get.body);

    let items = listed(&app, "").await;
    assert_eq!(items.len(), 2, "{items:?}");
    // Newest first.
    let (newer, older) = (&items[0], &items[1]);
    assert_eq!(
        older,
        &json!({
            "time": format_micros(started),
            "requestId": put.assert_request_id(),
            "method": "PUT",
            "path": PATH,
            "query": null,
            "company": "1",
            "credential": format!("apiKey:{}", c.access_key),
            "requestBody": body,
            "requestBodyTruncated": false,
            "status": 200,
            "responseBody": put.body,
            "responseBodyTruncated": false,
            "latencyMs": older["latencyMs"],
            "fault": null,
        })
    );
    assert!(older["latencyMs"].as_f64().unwrap() >= 0.0, "{older}");
    // The time is the server's clock, which the test moved by an hour.
    assert_eq!(newer["time"], format_micros(started + 3_600_000_000));
    assert_eq!(newer["requestId"], get.assert_request_id());
    assert_eq!(newer["method"], "GET");
    assert_eq!(newer["path"], "/v2/workspaces");
    assert_eq!(newer["query"], "x=1");
    assert_eq!(newer["requestBody"], Value::Null);
    assert_eq!(newer["responseBody"], get.body);
}

#[tokio::test]
async fn errors_are_recorded_as_answered_and_bodies_that_are_not_json_as_text() {
    let (app, c) = TestApp::spawn_with_company().await;
    let bad = app
        .put_bytes(
            &c.auth,
            b"not json".to_vec(),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let stranger = Auth::Basic("nokey".to_owned(), "nosecret".to_owned());
    let refused = app.post(&stranger, json!({"filter": {}})).await;
    assert_eq!(refused.status, 401);
    let missing = app
        .request(Method::GET, "/v2/nothing-here", &c.auth, None, &[])
        .await;
    assert_eq!(missing.status, 404);

    let items = listed(&app, "").await;
    assert_eq!(items.len(), 3, "{items:?}");
    assert_eq!(items[2]["requestBody"], "not json");
    assert_eq!(items[2]["status"], 400);
    // The answer as sent: the error envelope with its request id.
    assert_eq!(items[2]["responseBody"], bad.body);
    assert_eq!(items[2]["company"], "1");
    assert_eq!(items[1]["status"], 401);
    assert_eq!(items[1]["company"], Value::Null);
    assert_eq!(items[1]["credential"], Value::Null);
    assert_eq!(items[1]["responseBody"], refused.body);
    assert_eq!(items[0]["path"], "/v2/nothing-here");
    assert_eq!(items[0]["status"], 404);
}

#[tokio::test]
async fn admin_health_and_metrics_requests_are_never_recorded() {
    let (app, c) = TestApp::spawn_with_company().await;
    let token = admin(&app).await;
    for path in ["/healthz", "/readyz", "/metrics", "/openapi.json"] {
        let answer = app
            .client
            .get(format!("{}{path}", app.base))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), 200, "{path}");
    }
    app.request(Method::GET, "/admin/v1/clock", &token, None, &[])
        .await;
    assert_eq!(counted(&app, json!({})).await, 0);
    assert!(listed(&app, "").await.is_empty());
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
    let items = listed(&app, "").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["path"], PATH);
}

#[tokio::test]
async fn a_body_answered_before_it_was_read_is_recorded_whole() {
    let (app, _c) = TestApp::spawn_with_company().await;
    // Refused before the handler reads the body: the server reads it
    // after the answer, and the journal waits for it.
    let stranger = Auth::Basic("nokey".to_owned(), "nosecret".to_owned());
    let body = change(CALL_1, &[NONE_B]);
    assert_eq!(app.delete(&stranger, body.clone()).await.status, 401);
    let items = listed(&app, "").await;
    assert_eq!(items[0]["requestBody"], body);
    assert_eq!(items[0]["requestBodyTruncated"], false);
    assert_eq!(
        counted(
            &app,
            json!({"method": "DELETE", "status": 401, "bodyIncludes": {"callAccessList": [{"userIds": [NONE_B.to_string()]}]}})
        )
        .await,
        1
    );
}

#[tokio::test]
async fn a_body_sent_after_an_early_answer_is_recorded_too() {
    let (app, _c) = TestApp::spawn_with_company().await;
    let body = change(CALL_2, &[ALL]).to_string();
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    // The head alone, with a credential that fails: answered at once...
    let head = format!(
        "PUT {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic bm9rZXk6bm9zZWNyZXQ=\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&answer).contains("\"errors\"") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed before an answer");
        answer.extend_from_slice(&buffer[..n]);
    }
    assert!(answer.starts_with(b"HTTP/1.1 401"), "{answer:?}");
    // ...and the body the client sends next is in the journal.
    stream.write_all(body.as_bytes()).await.unwrap();
    let items = listed(&app, "").await;
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["requestBody"].to_string(), body);
    assert_eq!(items[0]["requestBodyTruncated"], false);
}

#[tokio::test]
async fn a_body_on_a_connection_the_client_closes_is_recorded_too() {
    // Python's urllib, among others, sends `Connection: close` on every
    // request; an early answer must not lose the body it sent.
    let (app, _c) = TestApp::spawn_with_company().await;
    let body = change(CALL_2, &[ALL]).to_string();
    for split in [false, true] {
        app.admin(
            Method::DELETE,
            "/admin/v1/requests",
            &admin(&app).await,
            None,
        )
        .await
        .assert_admin_ok();
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        let head = format!(
            "PUT {PATH} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\
             Authorization: Basic bm9rZXk6bm9zZWNyZXQ=\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        if split {
            // The head first, the body only once the answer is in.
            stream.write_all(head.as_bytes()).await.unwrap();
            let mut first = [0u8; 12];
            stream.read_exact(&mut first).await.unwrap();
            assert_eq!(&first, b"HTTP/1.1 401");
            stream.write_all(body.as_bytes()).await.unwrap();
        } else {
            stream
                .write_all(format!("{head}{body}").as_bytes())
                .await
                .unwrap();
        }
        let mut answer = Vec::new();
        let _ = stream.read_to_end(&mut answer).await;
        let items = listed(&app, "").await;
        assert_eq!(items.len(), 1, "{items:?}");
        assert_eq!(items[0]["status"], 401);
        assert_eq!(items[0]["requestBody"].to_string(), body, "split {split}");
        assert_eq!(items[0]["requestBodyTruncated"], false);
    }
}

#[tokio::test]
async fn listings_filter_by_method_path_status_company_and_time() {
    let app = TestApp::spawn().await;
    let one = app.company(1).await;
    let two = app.company(2).await;
    app.grant(&one.auth, CALL_3, &[NONE_A]).await;
    app.post_calls(&one.auth, &[CALL_3]).await.assert_ok();
    app.clock.advance(Duration::from_secs(60)).unwrap();
    let later = app.clock.now_micros();
    app.delete(&two.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    let bad = app.put(&one.auth, json!({"callAccessList": 1})).await;
    assert_eq!(bad.status, 400);
    let missing = app
        .request(Method::GET, "/v2/users/1001/extra", &one.auth, None, &[])
        .await;
    assert_eq!(missing.status, 404);

    let count = |query: &'static str| {
        let app = &app;
        async move { listed(app, query).await.len() }
    };
    assert_eq!(count("").await, 5);
    assert_eq!(count("method=put").await, 2);
    assert_eq!(count("method=POST&company=1").await, 1);
    assert_eq!(count("path=/v2/calls/users-access").await, 4);
    assert_eq!(count("path=/v2/users*").await, 1);
    assert_eq!(count("path=/v2/*").await, 5);
    assert_eq!(count("status=4xx").await, 2);
    assert_eq!(count("status=200").await, 3);
    assert_eq!(count("status=200&company=2").await, 1);
    assert_eq!(count("company=1").await, 3);
    let since = format_micros(later).replace(':', "%3A");
    let recent = listed(&app, &format!("since={since}")).await;
    assert_eq!(recent.len(), 3, "{recent:?}");
    assert_eq!(recent[2]["method"], "DELETE");
    let newest = listed(&app, "limit=2").await;
    assert_eq!(newest.len(), 2);
    assert_eq!(newest[0]["path"], "/v2/users/1001/extra");
    assert_eq!(newest[1]["responseBody"], bad.body);

    let token = admin(&app).await;
    let refused = app
        .request(
            Method::GET,
            &format!("{REQUESTS}?status=42&stauts=4xx"),
            &token,
            None,
            &[],
        )
        .await;
    refused.assert_error(
        400,
        "stauts: unknown parameter; the journal takes method, path, status, company, since, limit",
    );
    let refused = app
        .request(
            Method::GET,
            &format!("{REQUESTS}?status=42"),
            &token,
            None,
            &[],
        )
        .await;
    refused.assert_error(
        400,
        "status: \"42\" is not a status; give a code such as 429 or a class such as 4xx",
    );
}

#[tokio::test]
async fn counts_match_request_bodies_by_inclusion() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.delete(&c.auth, change(CALL_1, &[NONE_A, NONE_B]))
        .await
        .assert_ok();
    app.delete(&c.auth, change(CALL_2, &[NONE_A]))
        .await
        .assert_ok();
    app.grant(&c.auth, CALL_1, &[NONE_A]).await;

    let pair = |call: i64, user: i64| json!({"callAccessList": [{"callId": call.to_string(), "userIds": [user.to_string()]}]});
    // "DELETE was called once for call 1 and user B".
    assert_eq!(
        counted(
            &app,
            json!({"method": "DELETE", "bodyIncludes": pair(CALL_1, NONE_B)})
        )
        .await,
        1
    );
    assert_eq!(
        counted(
            &app,
            json!({"method": "DELETE", "bodyIncludes": {"callAccessList": [{"userIds": [NONE_A.to_string()]}]}})
        )
        .await,
        2
    );
    assert_eq!(
        counted(&app, json!({"bodyIncludes": pair(CALL_1, NONE_A)})).await,
        2
    );
    // Call 2 never named user B; no body is an array; every one is an object.
    assert_eq!(
        counted(&app, json!({"bodyIncludes": pair(CALL_2, NONE_B)})).await,
        0
    );
    assert_eq!(counted(&app, json!({"bodyIncludes": []})).await, 0);
    assert_eq!(counted(&app, json!({"bodyIncludes": {}})).await, 3);
    // Ids sent as strings are not numbers.
    assert_eq!(
        counted(
            &app,
            json!({"bodyIncludes": {"callAccessList": [{"callId": CALL_1}]}})
        )
        .await,
        0
    );
    assert_eq!(
        counted(
            &app,
            json!({"method": "put", "path": PATH, "status": "2xx", "company": "1"})
        )
        .await,
        1
    );
    assert_eq!(counted(&app, json!({"company": 2})).await, 0);

    count_reply(&app, &json!({"body": {}})).await.assert_error(
        400,
        "body: unknown field; a count takes method, path, status, company, since, bodyIncludes",
    );
    let token = admin(&app).await;
    let broken = app
        .request(
            Method::POST,
            COUNT,
            &token,
            Some(b"{".to_vec()),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(broken.status, 400, "{}", broken.body);
}

#[tokio::test]
async fn the_journal_keeps_only_its_size_and_clears() {
    let app = TestApp::spawn_with_options(ServeOptions {
        journal_size: 3,
        ..TestApp::options()
    })
    .await;
    let c = app.company(1).await;
    let mut sent = Vec::new();
    for _ in 0..5 {
        let reply = app.post_calls(&c.auth, &[CALL_1]).await;
        sent.push(reply.assert_request_id());
    }
    let items = listed(&app, "").await;
    let newest: Vec<String> = sent.iter().rev().take(3).cloned().collect();
    assert_eq!(request_ids(&items), newest);
    assert_eq!(counted(&app, json!({})).await, 3);
    // A limit above the journal's size is refused, naming it.
    let token = admin(&app).await;
    app.request(
        Method::GET,
        &format!("{REQUESTS}?limit=4"),
        &token,
        None,
        &[],
    )
    .await
    .assert_error(
        400,
        "limit: \"4\" is not a number from 1 to 3 (the journal's size)",
    );

    let cleared = app
        .request(Method::DELETE, REQUESTS, &token, None, &[])
        .await;
    assert_eq!(cleared.status, 200, "{}", cleared.body);
    assert_eq!(cleared.body["cleared"], 3);
    assert!(listed(&app, "").await.is_empty());
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
    assert_eq!(counted(&app, json!({})).await, 1);
}

#[tokio::test]
async fn journal_size_zero_records_nothing() {
    let app = TestApp::spawn_with_options(ServeOptions {
        journal_size: 0,
        ..TestApp::options()
    })
    .await;
    let c = app.company(1).await;
    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    app.post_calls(&c.auth, &[CALL_3]).await.assert_ok();
    assert!(listed(&app, "").await.is_empty());
    assert_eq!(counted(&app, json!({})).await, 0);
}

#[tokio::test]
async fn bodies_over_64_kib_are_cut_and_say_so() {
    let (app, c) = TestApp::spawn_with_company().await;
    let padding = "x".repeat(70_000);
    let mut body = change(CALL_3, &[NONE_A]);
    body["padding"] = Value::String(padding);
    let sent = serde_json::to_string(&body).unwrap();
    app.put(&c.auth, body).await.assert_ok();
    let items = listed(&app, "").await;
    assert_eq!(items[0]["requestBodyTruncated"], true);
    // Not whole JSON any more: shown as the text it starts with.
    assert_eq!(
        items[0]["requestBody"].as_str().unwrap(),
        &sent[..64 * 1024]
    );
    assert_eq!(items[0]["responseBodyTruncated"], false);
    // A cut body is never matched as JSON.
    assert_eq!(
        counted(&app, json!({"bodyIncludes": {"callAccessList": []}})).await,
        0
    );
}

#[tokio::test]
async fn the_journal_never_holds_a_secret() {
    let (app, c) = TestApp::spawn_with_company().await;
    let Auth::Basic(access_key, secret) = app.api_key(&c, None, None).await else {
        unreachable!("api_key returns Basic credentials")
    };
    let basic = Auth::Basic(access_key.clone(), secret.clone());
    let header = basic.header().unwrap();
    let encoded = header.strip_prefix("Basic ").unwrap().to_owned();
    let bearer = app.token(&c, &[Scope::READ, Scope::WRITE]).await;
    let Auth::Bearer(token) = bearer.clone() else {
        unreachable!("token returns a Bearer credential")
    };
    let wrong = Auth::Basic(access_key.clone(), format!("{secret}x"));
    let wrong_token = Auth::Bearer(format!("{token}x"));

    app.grant(&basic, CALL_3, &[NONE_A]).await;
    app.post_calls(&bearer, &[CALL_3]).await.assert_ok();
    app.grant(&bearer, CALL_2, &[NONE_A]).await;
    assert_eq!(app.post_calls(&wrong, &[CALL_3]).await.status, 401);
    assert_eq!(app.post_calls(&wrong_token, &[CALL_3]).await.status, 401);

    let token_admin = admin(&app).await;
    let mut answers = Vec::new();
    for query in ["", "limit=100", "company=1", "status=401", "method=PUT"] {
        let path = format!("{REQUESTS}?{query}");
        let reply = app
            .client
            .get(format!("{}{path}", app.base))
            .header("authorization", token_admin.header().unwrap())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status(), 200);
        answers.push(reply.text().await.unwrap());
    }
    let count = count_reply(&app, &json!({"bodyIncludes": {}})).await;
    answers.push(count.body.to_string());
    let all: Value = serde_json::from_str(&answers[0]).unwrap();
    assert_eq!(all["items"].as_array().unwrap().len(), 5, "{all}");
    for answer in &answers {
        for needle in [&secret, &token, &encoded, &header] {
            assert!(
                !answer.contains(needle.as_str()),
                "a secret is in the journal: {needle} in {answer}"
            );
        }
    }
    // Credentials are named by what is safe to show.
    let credentials: Vec<&str> = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|item| item["credential"].as_str())
        .collect();
    assert!(
        credentials.contains(&format!("apiKey:{access_key}").as_str()),
        "{credentials:?}"
    );
    assert!(
        credentials.iter().any(|c| c.starts_with("token:")),
        "{credentials:?}"
    );
}

#[tokio::test]
async fn the_journal_answers_admin_tokens_only_and_read_only_ones_may_only_list() {
    let (app, c) = TestApp::spawn_with_company().await;
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
    let count = serde_json::to_vec(&json!({})).unwrap();
    let json = [("content-type", "application/json")];
    for auth in [Auth::None, c.auth.clone()] {
        for (method, path, body) in [
            (Method::GET, REQUESTS, None),
            (Method::POST, COUNT, Some(count.clone())),
            (Method::DELETE, REQUESTS, None),
        ] {
            let reply = app.request(method.clone(), path, &auth, body, &json).await;
            assert_eq!(reply.status, 401, "{method} {path}: {}", reply.body);
        }
    }
    let read_only = app.read_only_admin_token().await;
    let listed = app
        .request(Method::GET, REQUESTS, &read_only, None, &[])
        .await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
    let cleared = app
        .request(Method::DELETE, REQUESTS, &read_only, None, &[])
        .await;
    assert_eq!(cleared.status, 403, "{}", cleared.body);
    // Nothing was cleared by the refused DELETE.
    assert_eq!(counted(&app, json!({})).await, 1);
}

#[tokio::test]
async fn a_faulted_request_is_recorded_with_its_rule_and_its_body() {
    let (app, c) = TestApp::spawn_with_company().await;
    let token = admin(&app).await;
    let rule = json!({
        "match": {"operationId": "deleteUsersAccessToCalls", "company": "1"},
        "times": 1,
        "effect": {"status": 429, "retryAfter": 7}
    });
    let added = app
        .request(
            Method::POST,
            "/admin/v1/faults",
            &token,
            Some(serde_json::to_vec(&rule).unwrap()),
            &[("content-type", "application/json")],
        )
        .await;
    assert_eq!(added.status, 200, "{}", added.body);
    let rule_id = added.body["items"][0]["id"].as_str().unwrap().to_owned();

    // A client that retries once after the 429: two DELETEs of one pair.
    let body = change(CALL_1, &[NONE_A]);
    assert_eq!(app.delete(&c.auth, body.clone()).await.status, 429);
    app.delete(&c.auth, body.clone()).await.assert_ok();

    let items = listed(&app, "method=DELETE").await;
    assert_eq!(items.len(), 2, "{items:?}");
    assert_eq!(items[1]["status"], 429);
    assert_eq!(items[1]["fault"], rule_id);
    // The fault answered before the handler read the body; it is kept.
    assert_eq!(items[1]["requestBody"], body);
    assert_eq!(items[0]["fault"], Value::Null);
    assert_eq!(
        counted(
            &app,
            json!({"method": "DELETE", "path": PATH, "bodyIncludes": body})
        )
        .await,
        2
    );
    assert_eq!(
        counted(&app, json!({"status": 429, "bodyIncludes": body})).await,
        1
    );
}
