//! Production edges: rate limits, size and time limits, slow clients, the
//! connection limit, and the operations endpoints — on the suite's backend,
//! like every `TestApp`. Rate windows pass on the app's manual clock
//! (`app.clock.advance`), never by waiting; the time limits under test are
//! the server's own, against a client that really stalls.

use std::num::NonZeroU32;
use std::time::Duration;

use callaccess::http::Limits;
use callaccess::ratelimit::RateLimitDefaults;
use callaccess::server::ServeOptions;
use callaccess_domain::{Caller, Limit, RateLimit};
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::ids::*;
use crate::helpers::{
    call, change, test_backend, user, Auth, Company, Reply, TestApp, TestBackend, PATH,
};

/// A POST of one call: the cheapest request that counts against a limit.
async fn list(app: &TestApp, company: &Company) -> Reply {
    app.post_calls(&company.auth, &[CALL_1]).await
}

/// A server with rate limits, on the suite's backend and a manual clock.
async fn limited(per_second: u32, per_day: Option<u32>, day_window: Duration) -> TestApp {
    TestApp::spawn_with_options(ServeOptions {
        rate_limits: RateLimitDefaults {
            per_second: NonZeroU32::new(per_second),
            per_day: per_day.and_then(NonZeroU32::new),
            day_window,
        },
        ..TestApp::options()
    })
    .await
}

/// A server with these limits and no rate limits.
async fn with_limits(limits: Limits) -> TestApp {
    TestApp::spawn_with_options(ServeOptions {
        limits,
        ..TestApp::options()
    })
    .await
}

const DAY: Duration = Duration::from_secs(86_400);

#[tokio::test]
async fn over_the_per_second_limit_is_429_with_retry_after_and_it_resets() {
    let app = limited(2, None, DAY).await;
    let c = app.company(1).await;
    list(&app, &c).await.assert_ok();
    list(&app, &c).await.assert_ok();
    let refused = list(&app, &c).await;
    let errors = refused.assert_error(
        429,
        "rate limit exceeded: this company may make 2 requests per second; retry after 1 s",
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(refused.headers["retry-after"], "1");
    // Waiting as told is enough; until then, the company stays refused.
    app.clock.advance(Duration::from_millis(499)).unwrap();
    assert_eq!(list(&app, &c).await.status, 429);
    app.clock.advance(Duration::from_millis(501)).unwrap();
    list(&app, &c).await.assert_ok();
}

#[tokio::test]
async fn the_day_budget_uses_its_configured_window() {
    // A "day" of 2 s with 3 requests: one request returns every 2/3 s.
    let app = limited(100, Some(3), Duration::from_secs(2)).await;
    let c = app.company(1).await;
    for _ in 0..3 {
        list(&app, &c).await.assert_ok();
    }
    let refused = list(&app, &c).await;
    refused.assert_error(
        429,
        "rate limit exceeded: this company may make 3 requests per day; retry after 1 s",
    );
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    app.clock.advance(Duration::from_secs(wait)).unwrap();
    list(&app, &c).await.assert_ok();
}

#[tokio::test]
async fn a_limited_company_does_not_limit_another() {
    let app = limited(1000, None, DAY).await;
    let slow = app.company(1).await;
    let free = app.company(2).await;
    // Company 1 has its own, lower limit; company 2 turned its limit off.
    app.store
        .set_rate_limit(
            slow.id,
            RateLimit {
                per_second: Limit::Max(1),
                per_day: Limit::Off,
            },
        )
        .await
        .unwrap();
    app.store
        .set_rate_limit(
            free.id,
            RateLimit {
                per_second: Limit::Off,
                per_day: Limit::Off,
            },
        )
        .await
        .unwrap();
    let mut refused = 0;
    for _ in 0..20 {
        let reply = list(&app, &slow).await;
        if reply.status == 429 {
            refused += 1;
        }
        list(&app, &free).await.assert_ok();
    }
    assert!(
        refused >= 18,
        "the limited company got {} answers through",
        20 - refused
    );
}

#[tokio::test]
async fn rate_limited_requests_change_nothing() {
    let app = limited(1, None, DAY).await;
    let c = app.company(1).await;
    app.put(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    let reply = app.delete(&c.auth, change(CALL_3, &[NONE_A])).await;
    assert_eq!(reply.status, 429);
    let grants = app
        .store
        .list_api_grants(Caller::verified(c.id), &[call(CALL_3)])
        .await
        .unwrap();
    assert_eq!(grants[0].users, vec![user(NONE_A)]);
}

/// Writes raw bytes and reads the whole answer (the server closes or the
/// guard expires).
async fn raw_exchange(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn envelope_of(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("no JSON body in {answer:?}"))
}

/// A connection to `app` that has sent `bytes`.
async fn sent(app: &TestApp, bytes: &[u8]) -> TcpStream {
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    stream
}

/// On a server with `limits`, sends the head of a request of a company and
/// the first bytes of its body, then stalls; returns the whole answer.
async fn stalled(limits: Limits, head: &str, body_start: &str) -> String {
    let app = with_limits(limits).await;
    let c = app.company(1).await;
    let request = format!(
        "{head}\r\nHost: x\r\nAuthorization: {}\r\nConnection: close\r\n\r\n{body_start}",
        c.auth.header().unwrap()
    );
    raw_exchange(&mut sent(&app, request.as_bytes()).await).await
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_408() {
    let limits = Limits {
        body_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    };
    let head =
        format!("PUT {PATH} HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 100");
    let answer = stalled(limits, &head, "{\"callAccessList\":").await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    let body = envelope_of(&answer);
    assert_eq!(
        body["errors"][0],
        "the request body was not received within 300ms"
    );
    assert_eq!(body["requestId"].as_str().map(str::len), Some(19));
}

#[tokio::test]
async fn a_request_over_its_time_is_503_with_the_envelope() {
    let limits = Limits {
        request_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_secs(60),
        ..Limits::default()
    };
    let head = format!("POST {PATH} HTTP/1.1\r\nContent-Length: 50");
    let answer = stalled(limits, &head, "{").await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\r\nretry-after: 1\r\n"), "{answer}");
    assert_eq!(
        envelope_of(&answer)["errors"][0],
        "the request did not finish within 300ms; retry it (PUT and DELETE are safe to repeat)"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let app = with_limits(Limits {
        header_read_timeout: Duration::from_millis(300),
        ..Limits::default()
    })
    .await;
    let mut stream = sent(&app, b"POST /v2/calls/users-access HTTP/1.1\r\nHost: x\r\n").await;
    // The server gives up on the connection; the read ends instead of hanging.
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buffer)).await;
    assert!(
        read.is_ok(),
        "the server kept a connection whose headers never came"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_while_every_slot_has_a_request_in_flight() {
    let app = TestApp::spawn_with_options(ServeOptions {
        max_connections: 1,
        ..TestApp::options()
    })
    .await;
    let c = app.company(1).await;
    // The first connection's request is in flight: its body is awaited.
    let head = format!(
        "PUT /v2/calls/users-access HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: 2\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        c.auth.header().unwrap()
    );
    let mut first = sent(&app, head.as_bytes()).await;
    let mut buffer = [0u8; 1024];
    let n = first.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 100"));
    // A second one is not served while the only slot has a request in flight...
    let close = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut second = sent(&app, close).await;
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buffer)).await;
    assert!(early.is_err(), "a connection over the limit was served");
    // ...and is served once that request has its answer.
    first.write_all(b"{}").await.unwrap();
    // Whatever the answer to that body, the first connection has one.
    let answer = raw_exchange(&mut first).await;
    assert!(answer.starts_with("HTTP/1.1 "), "{answer}");
    let answer = raw_exchange(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn at_the_limit_an_idle_connection_is_closed_to_make_room() {
    let app = TestApp::spawn_with_options(ServeOptions {
        max_connections: 1,
        ..TestApp::options()
    })
    .await;
    // The first connection is served, then kept open doing nothing.
    let mut first = sent(&app, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let mut buffer = [0u8; 1024];
    let n = first.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    // A second one takes its place, and the idle one is closed.
    let close = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    let mut second = sent(&app, close).await;
    let answer = raw_exchange(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let closed = tokio::time::timeout(Duration::from_secs(30), first.read(&mut buffer))
        .await
        .expect("the idle connection was kept");
    assert!(matches!(closed, Ok(0) | Err(_)), "{closed:?}");
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi_answer() {
    let app = limited(1, None, DAY).await;
    let c = app.company(1).await;

    let get = |path: &'static str| app.request(Method::GET, path, &Auth::None, None, &[]);
    let health = get("/healthz").await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("ok"))
    );
    let ready = get("/readyz").await;
    assert_eq!(
        (ready.status, ready.body["status"].as_str()),
        (200, Some("ready"))
    );
    health.assert_request_id();

    app.put(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    assert_eq!(
        app.put(&c.auth, change(CALL_3, &[NONE_B])).await.status,
        429
    );
    let metrics = app
        .client
        .get(format!("{}/metrics", app.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    let mut needles = vec![
        "callaccess_http_requests_total{method=\"PUT\",route=\"/v2/calls/users-access\",status=\"200\"}",
        "callaccess_http_requests_total{method=\"PUT\",route=\"/v2/calls/users-access\",status=\"429\"}",
        "callaccess_http_request_duration_seconds_bucket{method=\"PUT\",route=\"/v2/calls/users-access\"",
        "callaccess_rate_limited_total{window=\"second\"}",
    ];
    // SQLite's group-commit writer reports its commits; PostgreSQL has no
    // such writer.
    if test_backend() == TestBackend::Sqlite {
        needles.extend([
            "callaccess_store_commit_seconds_bucket{backend=\"sqlite\"",
            "callaccess_store_batch_size_bucket{backend=\"sqlite\",le=\"1\"}",
        ]);
    }
    for needle in needles {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
    // Ids never become labels.
    assert!(!text.contains(&CALL_3.to_string()));

    let doc = get("/openapi.json").await;
    assert_eq!(doc.status, 200);
    let doc = doc.body;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let path = &doc["paths"]["/v2/calls/users-access"];
    for (method, operation) in [
        ("put", "addUsersAccessToCalls"),
        ("post", "getUsersAccessToCalls"),
        ("delete", "deleteUsersAccessToCalls"),
    ] {
        assert_eq!(path[method]["operationId"], operation);
        for status in ["200", "400", "401", "413", "415", "429", "500"] {
            assert!(
                path[method]["responses"][status].is_object(),
                "{method} lacks {status}"
            );
        }
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "CallsUsersAccessAddDto",
        "CallsUsersAccessDeleteDto",
        "CallUsersAccessDto",
        "FilterRequestCallsAccessGetDto",
        "CallsAccessGetDto",
        "CallsAccessDetailsResponse",
        "CallAccessDetails",
        "UserAccessDetails",
        "BaseResponse",
        "ErrorResponse",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    let schemes = &doc["components"]["securitySchemes"];
    assert_eq!(schemes["basicAuth"]["scheme"], "basic");
    assert_eq!(schemes["bearerAuth"]["scheme"], "bearer");
    assert_eq!(
        path["put"]["security"][1]["bearerAuth"][0],
        "api:call-user-access:write"
    );
    assert_eq!(
        path["post"]["security"][1]["bearerAuth"][0],
        "api:call-user-access:read"
    );
}
