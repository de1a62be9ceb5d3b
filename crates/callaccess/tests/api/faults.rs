//! Fault rules (control-plane.md §5), through a real server and a real
//! HTTP client: status answers with Gong's envelope and `Retry-After`,
//! `times` and `probability`, matching by each field, delays, a faulted
//! write that changes nothing, and the connection effects as reqwest (and
//! a raw socket) meets them: a reset, a connection closed without an
//! answer, a body cut short. Rules are loaded into `ServeOptions::faults`,
//! through `POST /admin/v1/faults`, or from `serve --faults FILE`.

use callaccess_domain::Origin;
use std::error::Error as _;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use callaccess::faults::{parse_rules, Faults};
use callaccess::server::ServeOptions;
use callaccess_domain::{secret, NewToken, Scope};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::ids::*;
use crate::helpers::{change, reply_of, Auth, Company, TestApp, PATH};
use crate::server_process::{cli, write_json, Server};

/// Bounds every read, so a server that never answers fails the test
/// instead of hanging it; never reached when the server behaves.
const GUARD: Duration = Duration::from_secs(30);

/// A server holding `rules` (`[]`: none yet), with company 1 of the fixed
/// world.
async fn spawn_with_rules(rules: Value) -> (TestApp, Company, Arc<Faults>) {
    let faults = Arc::new(if rules == json!([]) {
        Faults::new()
    } else {
        Faults::with_rules(parse_rules(&rules).unwrap())
    });
    let app = TestApp::spawn_with_options(ServeOptions {
        faults: Arc::clone(&faults),
        ..TestApp::options()
    })
    .await;
    let company = app.company(1).await;
    (app, company, faults)
}

/// `(fired, remaining)` of each rule.
fn counts(faults: &Faults) -> Vec<(u64, Option<u64>)> {
    faults
        .list()
        .iter()
        .map(|rule| (rule.fired, rule.remaining))
        .collect()
}

/// The kinds of the I/O errors under a client error.
fn io_kinds(error: &reqwest::Error) -> Vec<io::ErrorKind> {
    let mut kinds = Vec::new();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(io) = cause.downcast_ref::<io::Error>() {
            kinds.push(io.kind());
        }
        source = cause.source();
    }
    kinds
}

/// Whether hyper, under a client error, says the connection closed before
/// a whole message came.
fn incomplete(error: &reqwest::Error) -> bool {
    let mut source = error.source();
    while let Some(cause) = source {
        if cause
            .downcast_ref::<hyper::Error>()
            .is_some_and(hyper::Error::is_incomplete_message)
        {
            return true;
        }
        source = cause.source();
    }
    false
}

/// A GET over a raw socket; everything the server sent until it closed,
/// or the error that ended the read.
async fn raw_get(app: &TestApp, path: &str, auth: &Auth) -> (Vec<u8>, Option<io::ErrorKind>) {
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let request = format!(
        "GET {path} HTTP/1.1\r\nhost: x\r\nauthorization: {}\r\n\r\n",
        auth.header().unwrap()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout(GUARD, stream.read(&mut buf)).await {
            Err(_) => panic!("the server neither answered nor closed"),
            Ok(Ok(0)) => return (got, None),
            Ok(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => return (got, Some(e.kind())),
        }
    }
}

#[tokio::test]
async fn a_status_rule_answers_the_next_n_matching_requests_then_lets_them_through() {
    let (app, c, faults) = spawn_with_rules(json!({
        "match": {"operationId": "deleteUsersAccessToCalls", "company": "1"},
        "times": 2, "probability": 1.0,
        "effect": {"status": 429, "retryAfter": 7}
    }))
    .await;
    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    for _ in 0..2 {
        let reply = app.delete(&c.auth, change(CALL_3, &[NONE_A])).await;
        assert_eq!(
            reply.assert_error(429, "rate limit exceeded; retry after 7 s"),
            ["rate limit exceeded; retry after 7 s"]
        );
        assert_eq!(reply.headers["retry-after"], "7");
        // Nothing was revoked.
        assert_eq!(app.grantees(&c.auth, CALL_3).await, [NONE_A.to_string()]);
    }
    assert_eq!(counts(&faults), [(2, Some(0))]);
    app.delete(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    assert!(app.grantees(&c.auth, CALL_3).await.is_empty());
    assert_eq!(
        counts(&faults),
        [(2, Some(0))],
        "a spent rule fires no more"
    );
}

#[tokio::test]
async fn a_rule_may_give_its_own_messages_and_any_error_status() {
    let (app, c, _faults) = spawn_with_rules(json!({
        "match": {"method": "POST", "path": PATH},
        "effect": {"status": 503, "errors": ["Gong is down", "try later"]}
    }))
    .await;
    let reply = app.post_calls(&c.auth, &[CALL_1]).await;
    assert_eq!(
        reply.assert_error(503, "Gong is down"),
        ["Gong is down", "try later"]
    );
    assert!(
        reply.headers.get("retry-after").is_none(),
        "only the rule's retryAfter"
    );
    // A default message per status.
    let (app, c, _faults) = spawn_with_rules(json!({"effect": {"status": 502}})).await;
    app.post_calls(&c.auth, &[CALL_1])
        .await
        .assert_error(502, "request failed: bad gateway");
}

#[tokio::test]
async fn probability_0_never_fires_and_1_always_does() {
    let (app, c, faults) = spawn_with_rules(json!([
        {"match": {"method": "PUT"}, "probability": 0, "effect": {"status": 500}},
        {"match": {"method": "POST"}, "probability": 1, "effect": {"status": 503}},
    ]))
    .await;
    for _ in 0..20 {
        app.put(&c.auth, change(CALL_3, &[NONE_A]))
            .await
            .assert_ok();
        app.post_calls(&c.auth, &[CALL_3])
            .await
            .assert_error(503, "the service is temporarily unavailable; retry shortly");
    }
    assert_eq!(counts(&faults), [(0, None), (20, None)]);
}

/// A `match`, requests it must fault, and requests it must leave alone.
type MatchCase = (Value, Vec<(Auth, &'static str)>, Vec<(Auth, &'static str)>);

#[tokio::test]
async fn each_match_field_must_hold() {
    let (app, c, faults) = spawn_with_rules(json!([])).await;
    let other = app.company(2).await;
    let (second_key, second_auth) = {
        let auth = app.api_key(&c, None, None).await;
        let Auth::Basic(key, _) = &auth else {
            unreachable!()
        };
        (key.clone(), auth)
    };
    let token = secret::generate_secret();
    let info = app
        .store
        .create_token(
            &Origin::cli(),
            &NewToken {
                company: c.id,
                digest: secret::digest(&token),
                scopes: vec![Scope::parse("api:users:read").unwrap()],
                expires_at: None,
            },
        )
        .await
        .unwrap();
    let bearer = Auth::Bearer(token);
    let users = "/v2/users";
    let workspaces = "/v2/workspaces";
    let get = |auth: &Auth, path: &'static str| {
        let auth = auth.clone();
        let app = &app;
        async move {
            app.request(Method::GET, path, &auth, None, &[])
                .await
                .status
        }
    };
    let cases: Vec<MatchCase> = vec![
        (
            json!({"operationId": "listUsers"}),
            vec![(c.auth.clone(), users)],
            vec![(c.auth.clone(), workspaces)],
        ),
        (
            json!({"method": "get", "path": "/v2/users/{id}"}),
            vec![(c.auth.clone(), "/v2/users/1001")],
            vec![(c.auth.clone(), users)],
        ),
        (
            json!({"path": "/v2/users/1001"}),
            vec![(c.auth.clone(), "/v2/users/1001")],
            vec![(c.auth.clone(), "/v2/users/1002")],
        ),
        (
            json!({"company": "1"}),
            vec![(c.auth.clone(), users)],
            vec![(other.auth.clone(), users)],
        ),
        (
            json!({"accessKey": second_key}),
            vec![(second_auth.clone(), users)],
            vec![(c.auth.clone(), users), (bearer.clone(), users)],
        ),
        (
            json!({"tokenId": info.id}),
            vec![(bearer.clone(), users)],
            vec![(c.auth.clone(), users)],
        ),
    ];
    for (matcher, faulted, untouched) in cases {
        faults.clear();
        faults.add(parse_rules(&json!({"match": matcher, "effect": {"status": 418}})).unwrap());
        for (auth, path) in &faulted {
            assert_eq!(get(auth, path).await, 418, "{matcher} {path} {auth:?}");
        }
        for (auth, path) in &untouched {
            assert_eq!(get(auth, path).await, 200, "{matcher} {path} {auth:?}");
        }
        assert_eq!(faults.list()[0].fired, faulted.len() as u64, "{matcher}");
    }
    // Requests that are not authenticated are never faulted.
    faults.clear();
    faults.add(parse_rules(&json!({"effect": {"status": 418}})).unwrap());
    assert_eq!(get(&Auth::None, users).await, 401);
    assert_eq!(
        app.request(Method::GET, "/healthz", &Auth::None, None, &[])
            .await
            .status,
        200
    );
    assert_eq!(faults.list()[0].fired, 0);
}

#[tokio::test]
async fn a_faulted_write_changes_nothing_and_a_delay_alone_runs_it() {
    let (app, c, faults) = spawn_with_rules(json!([
        {"match": {"operationId": "addUsersAccessToCalls"}, "times": 1, "effect": {"status": 500, "delay": {"fixedMs": 20}}},
        {"match": {"operationId": "addUsersAccessToCalls"}, "times": 1, "effect": {"delay": {"fixedMs": 20, "uniformMs": [0, 10], "lognormalMs": {"median": 5, "sigma": 0.5}}}},
    ]))
    .await;
    app.put(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_error(
            500,
            "the operation failed on the server; quote the request id to the operator",
        );
    assert!(app.grantees(&c.auth, CALL_3).await.is_empty());
    // The second rule: delayed, then granted.
    app.put(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    assert_eq!(app.grantees(&c.auth, CALL_3).await, [NONE_A.to_string()]);
    assert_eq!(counts(&faults), [(1, Some(0)), (1, Some(0))]);
}

#[tokio::test]
async fn reset_is_a_connection_reset_without_an_answer() {
    let (app, c, faults) = spawn_with_rules(json!({
        "match": {"method": "PUT"}, "effect": {"connection": "reset", "delay": {"fixedMs": 1}}
    }))
    .await;
    let sent = app
        .client
        .put(format!("{}{PATH}", app.base))
        .header("authorization", c.auth.header().unwrap())
        .json(&change(CALL_3, &[NONE_A]))
        .send()
        .await;
    let error = sent.expect_err("a reset connection gives no answer");
    assert!(
        io_kinds(&error).contains(&io::ErrorKind::ConnectionReset),
        "{error:?}"
    );
    assert!(app.grantees(&c.auth, CALL_3).await.is_empty());
    // Byte by byte: nothing, then RST.
    faults.clear();
    faults.add(parse_rules(&json!({"effect": {"connection": "reset"}})).unwrap());
    let (got, error) = raw_get(&app, "/v2/workspaces", &c.auth).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert_eq!(error, Some(io::ErrorKind::ConnectionReset));
}

#[tokio::test]
async fn empty_closes_the_connection_without_an_answer() {
    let (app, c, _faults) = spawn_with_rules(json!({
        "match": {"operationId": "listWorkspaces"}, "effect": {"connection": "empty"}
    }))
    .await;
    let error = app
        .client
        .get(format!("{}/v2/workspaces", app.base))
        .header("authorization", c.auth.header().unwrap())
        .send()
        .await
        .expect_err("a connection closed without an answer");
    assert!(incomplete(&error), "{error:?}");
    let (got, error) = raw_get(&app, "/v2/workspaces", &c.auth).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert_eq!(error, None, "closed, not reset");
    // Other operations answer.
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
}

#[tokio::test]
async fn truncate_sends_the_head_and_part_of_the_body() {
    let (app, c, faults) = spawn_with_rules(json!({
        "match": {"operationId": "listWorkspaces"}, "effect": {"connection": "truncate"}
    }))
    .await;
    let url = format!("{}/v2/workspaces", app.base);
    let response = app
        .client
        .get(&url)
        .header("authorization", c.auth.header().unwrap())
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status().as_u16(), 200);
    let length: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(length > 0);
    let error = response.bytes().await.expect_err("the body is cut short");
    assert!(error.is_body() || error.is_decode(), "{error:?}");

    // On the wire: the whole head, then fewer bytes than it announced.
    let (got, _) = raw_get(&app, "/v2/workspaces", &c.auth).await;
    let text = String::from_utf8_lossy(&got).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    assert!(head.starts_with("HTTP/1.1 200 OK"), "{head}");
    let announced: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        !body.is_empty() && body.len() < announced,
        "{body:?} of {announced}"
    );
    assert!(
        r#"{"requestId":""#.starts_with(&body[..body.len().min(14)]),
        "{body}"
    );

    // With a status: that status's envelope, cut.
    faults.clear();
    faults.add(
        parse_rules(&json!({
            "match": {"method": "PUT"},
            "effect": {"connection": "truncate", "status": 503, "retryAfter": 2}
        }))
        .unwrap(),
    );
    let response = app
        .client
        .put(format!("{}{PATH}", app.base))
        .header("authorization", c.auth.header().unwrap())
        .json(&change(CALL_3, &[NONE_A]))
        .send()
        .await
        .expect("the head arrives");
    assert_eq!(response.status().as_u16(), 503);
    assert_eq!(response.headers()["retry-after"], "2");
    assert!(response.bytes().await.is_err());
    assert!(app.grantees(&c.auth, CALL_3).await.is_empty());
}

#[tokio::test]
async fn a_connection_cut_leaves_other_connections_answering() {
    let (app, c, _faults) = spawn_with_rules(json!({
        "match": {"operationId": "listWorkspaces"}, "times": 1, "effect": {"connection": "reset"}
    }))
    .await;
    // A connection that answered before keeps answering after another's cut.
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
    let fresh = reqwest::Client::new();
    let cut = fresh
        .get(format!("{}/v2/workspaces", app.base))
        .header("authorization", c.auth.header().unwrap())
        .send()
        .await;
    assert!(cut.is_err());
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
    let again = app
        .request(Method::GET, "/v2/workspaces", &c.auth, None, &[])
        .await;
    again.assert_ok();
}

#[tokio::test]
async fn serve_loads_rules_from_a_file_and_refuses_a_bad_one() {
    let dir = tempfile::tempdir().unwrap();
    let seed = write_json(
        dir.path(),
        "seed.json",
        &json!({"companies": [{
            "id": "1000000000000000001",
            "name": "Acme",
            "apiKeys": [{"accessKey": "ACMEKEY1", "accessKeySecret": "acme-secret-0123456789"}],
            "users": [{"id": "234599484848423", "emailAddress": "ada@acme.test"}],
        }]}),
    );
    let rules = write_json(
        dir.path(),
        "faults.json",
        &json!([{
            "match": {"operationId": "listWorkspaces", "company": "1000000000000000001"},
            "times": 1, "effect": {"status": 429, "retryAfter": 3}
        }]),
    );
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let server = Server::start(&[
        "--database",
        &database,
        "--seed",
        seed.to_str().unwrap(),
        "--faults",
        rules.to_str().unwrap(),
    ])
    .await;
    let client = reqwest::Client::new();
    let get = || {
        client
            .get(format!("{}/v2/workspaces", server.base))
            .basic_auth("ACMEKEY1", Some("acme-secret-0123456789"))
            .send()
    };
    let first = reply_of(get().await.unwrap()).await;
    first.assert_error(429, "rate limit exceeded; retry after 3 s");
    assert_eq!(first.headers["retry-after"], "3");
    reply_of(get().await.unwrap()).await.assert_ok();

    let bad = write_json(
        dir.path(),
        "bad.json",
        &json!({"match": {"operationId": "nope"}, "effect": {"status": 200}}),
    );
    let output = cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &format!("sqlite:{}", dir.path().join("other.sqlite").display()),
        "--faults",
        bad.to_str().unwrap(),
    ])
    .await;
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("was rejected"), "{stderr}");
    assert!(
        stderr.contains("match.operationId: \"nope\" is not an operation of this service"),
        "{stderr}"
    );
    assert!(
        stderr.contains("effect.status: must be a whole number from 400 to 599, got 200"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[tokio::test]
async fn rules_are_managed_over_the_admin_api_with_fired_counts() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    const FAULTS: &str = "/admin/v1/faults";

    // One rule, as spec §5 writes it.
    let added = app
        .admin(
            Method::POST,
            FAULTS,
            &admin,
            Some(json!({
                "match": {"operationId": "getUsersAccessToCalls", "company": "1"},
                "times": 2, "probability": 1.0,
                "effect": {"status": 429, "retryAfter": 7}
            })),
        )
        .await;
    added.assert_admin_ok();
    let first = added.body["items"][0].clone();
    let id = first["id"].as_str().unwrap().to_owned();
    assert_eq!(first["fired"], 0);
    assert_eq!(first["remaining"], 2);
    assert_eq!(first["match"]["operationId"], "getUsersAccessToCalls");
    assert_eq!(first["effect"], json!({"status": 429, "retryAfter": 7}));

    // Several at once; a bad one anywhere adds none.
    let bad = app
        .admin(
            Method::POST,
            FAULTS,
            &admin,
            Some(json!([
                {"match": {"method": "PUT"}, "effect": {"delay": {"fixedMs": 1}}},
                {"effect": {"status": 429, "colour": "red"}},
            ])),
        )
        .await;
    bad.assert_error(
        400,
        "[1].effect.colour: unknown field; use one of status, errors, retryAfter, delay, connection",
    );
    let two = app
        .admin(
            Method::POST,
            FAULTS,
            &admin,
            Some(json!([
                {"match": {"method": "PUT"}, "effect": {"delay": {"fixedMs": 1}}},
                {"match": {"method": "DELETE"}, "effect": {"status": 500}},
            ])),
        )
        .await;
    two.assert_admin_ok();
    let ids: Vec<String> = two.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 2);

    // They fire, and the list says how often.
    app.post_calls(&c.auth, &[CALL_1])
        .await
        .assert_error(429, "rate limit exceeded; retry after 7 s");
    app.put(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    let listed = app.admin(Method::GET, FAULTS, &admin, None).await;
    listed.assert_admin_ok();
    let summary: Vec<(Value, Value, Value)> = listed.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["id"].clone(), r["fired"].clone(), r["remaining"].clone()))
        .collect();
    assert_eq!(
        summary,
        [
            (json!(id), json!(1), json!(1)),
            (json!(ids[0]), json!(1), Value::Null),
            (json!(ids[1]), json!(0), Value::Null),
        ]
    );
    let one = app
        .admin(Method::GET, &format!("{FAULTS}/{id}"), &admin, None)
        .await;
    one.assert_admin_ok();
    assert_eq!(one.body["fired"], 1);

    // The journal names the rule that applied.
    let journal = app
        .admin(Method::GET, "/admin/v1/requests?method=POST", &admin, None)
        .await;
    journal.assert_admin_ok();
    assert_eq!(
        journal.body["items"][0]["fault"],
        json!(id),
        "{}",
        journal.body
    );

    // Deleting one, then all.
    let removed = app
        .admin(Method::DELETE, &format!("{FAULTS}/{id}"), &admin, None)
        .await;
    removed.assert_admin_ok();
    assert_eq!(removed.body["fired"], 1);
    app.admin(Method::GET, &format!("{FAULTS}/{id}"), &admin, None)
        .await
        .assert_error(
            404,
            &format!("no fault rule has the id \"{id}\"; GET /admin/v1/faults lists the rules"),
        );
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
    let cleared = app.admin(Method::DELETE, FAULTS, &admin, None).await;
    cleared.assert_admin_ok();
    assert_eq!(cleared.body["deleted"], 2);
    app.delete(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    let empty = app.admin(Method::GET, FAULTS, &admin, None).await;
    assert_eq!(empty.body["items"], json!([]));

    // A read-only admin token may look, not change.
    let read_only = app.read_only_admin_token().await;
    app.admin(Method::GET, FAULTS, &read_only, None)
        .await
        .assert_admin_ok();
    let refused = app
        .admin(
            Method::POST,
            FAULTS,
            &read_only,
            Some(json!({"effect": {"status": 500}})),
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // A Gong key is no admin credential.
    assert_eq!(
        app.admin(Method::GET, FAULTS, &c.auth, None).await.status,
        401
    );
}
