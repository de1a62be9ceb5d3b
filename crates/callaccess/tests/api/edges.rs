//! Production edges: rate limits, size and time limits, slow clients, the
//! connection limit, and the operations endpoints.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use callaccess::db::{open_store, DatabaseUrl};
use callaccess::http::Limits;
use callaccess::ratelimit::RateLimitDefaults;
use callaccess::server::{serve_with, ServeOptions};
use callaccess_domain::{Limit, RateLimit, Store};
use reqwest::Method;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

use crate::helpers::ids::*;
use crate::helpers::{change, create_world, Auth, Company, Reply, PATH};

/// A server with explicit options over its own SQLite file.
struct Edge {
    base: String,
    address: std::net::SocketAddr,
    store: Arc<dyn Store>,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
    _stop: oneshot::Sender<()>,
}

impl Edge {
    async fn spawn(options: ServeOptions) -> Edge {
        let dir = tempfile::tempdir().unwrap();
        let store = open_store(&DatabaseUrl::Sqlite(dir.path().join("db.sqlite")))
            .await
            .unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        tokio::spawn(serve_with(listener, store.clone(), options, async move {
            let _ = stopped.await;
        }));
        Edge {
            base: format!("http://{address}"),
            address,
            store,
            client: reqwest::Client::new(),
            _dir: dir,
            _stop: stop,
        }
    }

    async fn send(&self, method: Method, path: &str, auth: &Auth, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Auth::Basic(k, s) = auth {
            request = request.basic_auth(k, Some(s));
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn list(&self, company: &Company) -> Reply {
        self.send(
            Method::POST,
            PATH,
            &company.auth,
            Some(json!({"filter": {"callIds": [CALL_1.to_string()]}})),
        )
        .await
    }
}

fn limited(per_second: u32, per_day: Option<u32>, day_window: Duration) -> ServeOptions {
    ServeOptions {
        rate_limits: RateLimitDefaults {
            per_second: NonZeroU32::new(per_second),
            per_day: per_day.and_then(NonZeroU32::new),
            day_window,
        },
        ..ServeOptions::default()
    }
}

#[tokio::test]
async fn over_the_per_second_limit_is_429_with_retry_after_and_it_resets() {
    let edge = Edge::spawn(limited(2, None, Duration::from_secs(86_400))).await;
    let c = create_world(edge.store.as_ref(), 1).await;
    edge.list(&c).await.assert_ok();
    edge.list(&c).await.assert_ok();
    let refused = edge.list(&c).await;
    let errors = refused.assert_error(
        429,
        "rate limit exceeded: this company may make 2 requests per second; retry after 1 s",
    );
    assert_eq!(errors.len(), 1);
    assert_eq!(refused.headers["retry-after"], "1");
    // Waiting as told is enough.
    tokio::time::sleep(Duration::from_secs(1)).await;
    edge.list(&c).await.assert_ok();
}

#[tokio::test]
async fn the_day_budget_uses_its_configured_window() {
    // A "day" of 2 s with 3 requests: one request returns every 2/3 s.
    let edge = Edge::spawn(limited(100, Some(3), Duration::from_secs(2))).await;
    let c = create_world(edge.store.as_ref(), 1).await;
    for _ in 0..3 {
        edge.list(&c).await.assert_ok();
    }
    let refused = edge.list(&c).await;
    refused.assert_error(
        429,
        "rate limit exceeded: this company may make 3 requests per day; retry after 1 s",
    );
    let wait: u64 = refused.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    tokio::time::sleep(Duration::from_secs(wait)).await;
    edge.list(&c).await.assert_ok();
}

#[tokio::test]
async fn a_limited_company_does_not_limit_another() {
    let edge = Edge::spawn(limited(1000, None, Duration::from_secs(86_400))).await;
    let slow = create_world(edge.store.as_ref(), 1).await;
    let free = create_world(edge.store.as_ref(), 2).await;
    // Company 1 has its own, lower limit; company 2 turned its limit off.
    edge.store
        .set_rate_limit(
            slow.id,
            RateLimit {
                per_second: Limit::Max(1),
                per_day: Limit::Off,
            },
        )
        .await
        .unwrap();
    edge.store
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
        let reply = edge.list(&slow).await;
        if reply.status == 429 {
            refused += 1;
        }
        edge.list(&free).await.assert_ok();
    }
    assert!(
        refused >= 18,
        "the limited company got {} answers through",
        20 - refused
    );
}

#[tokio::test]
async fn rate_limited_requests_change_nothing() {
    let edge = Edge::spawn(limited(1, None, Duration::from_secs(86_400))).await;
    let c = create_world(edge.store.as_ref(), 1).await;
    edge.send(Method::PUT, PATH, &c.auth, Some(change(CALL_3, &[NONE_A])))
        .await
        .assert_ok();
    let reply = edge
        .send(
            Method::DELETE,
            PATH,
            &c.auth,
            Some(change(CALL_3, &[NONE_A])),
        )
        .await;
    assert_eq!(reply.status, 429);
    let grants = edge
        .store
        .list_api_grants(c.id, &[crate::helpers::call(CALL_3)])
        .await
        .unwrap();
    assert_eq!(grants[0].users, vec![crate::helpers::user(NONE_A)]);
}

/// Writes raw bytes and reads the whole answer (the server closes or the
/// guard expires).
async fn raw_exchange(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut answer)).await;
    String::from_utf8_lossy(&answer).into_owned()
}

fn basic_header(auth: &Auth) -> String {
    use base64::Engine;
    let Auth::Basic(k, s) = auth else {
        unreachable!()
    };
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(format!("{k}:{s}"))
    )
}

fn envelope_of(answer: &str) -> Value {
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or_default();
    serde_json::from_str(body).unwrap_or_else(|_| panic!("no JSON body in {answer:?}"))
}

#[tokio::test]
async fn a_client_that_stalls_mid_body_gets_408() {
    let options = ServeOptions {
        limits: Limits {
            body_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        rate_limits: RateLimitDefaults::OFF,
        ..ServeOptions::default()
    };
    let edge = Edge::spawn(options).await;
    let c = create_world(edge.store.as_ref(), 1).await;
    let mut stream = TcpStream::connect(edge.address).await.unwrap();
    let head = format!(
        "PUT {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{{\"callAccessList\":",
        basic_header(&c.auth)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = raw_exchange(&mut stream).await;
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
    let options = ServeOptions {
        limits: Limits {
            request_timeout: Duration::from_millis(300),
            body_read_timeout: Duration::from_secs(60),
            ..Limits::default()
        },
        rate_limits: RateLimitDefaults::OFF,
        ..ServeOptions::default()
    };
    let edge = Edge::spawn(options).await;
    let c = create_world(edge.store.as_ref(), 1).await;
    let mut stream = TcpStream::connect(edge.address).await.unwrap();
    let head = format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Length: 50\r\nConnection: close\r\n\r\n{{",
        basic_header(&c.auth)
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let answer = raw_exchange(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(
        envelope_of(&answer)["errors"][0],
        "the request did not finish within 300ms; retry it (PUT and DELETE are safe to repeat)"
    );
}

#[tokio::test]
async fn a_client_that_never_finishes_its_headers_is_disconnected() {
    let options = ServeOptions {
        limits: Limits {
            header_read_timeout: Duration::from_millis(300),
            ..Limits::default()
        },
        ..ServeOptions::default()
    };
    let edge = Edge::spawn(options).await;
    let mut stream = TcpStream::connect(edge.address).await.unwrap();
    stream
        .write_all(b"POST /v2/calls/users-access HTTP/1.1\r\nHost: x\r\n")
        .await
        .unwrap();
    // The server gives up on the connection; the read ends instead of hanging.
    let mut buffer = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(30), stream.read_to_end(&mut buffer)).await;
    assert!(
        read.is_ok(),
        "the server kept a connection whose headers never came"
    );
}

#[tokio::test]
async fn connections_beyond_the_limit_wait_for_a_free_slot() {
    let options = ServeOptions {
        max_connections: 1,
        rate_limits: RateLimitDefaults::OFF,
        ..ServeOptions::default()
    };
    let edge = Edge::spawn(options).await;
    // The first connection is served and kept open.
    let mut first = TcpStream::connect(edge.address).await.unwrap();
    first
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buffer = [0u8; 1024];
    let n = first.read(&mut buffer).await.unwrap();
    assert!(String::from_utf8_lossy(&buffer[..n]).starts_with("HTTP/1.1 200"));
    // A second one is not served while the first holds the only slot...
    let mut second = TcpStream::connect(edge.address).await.unwrap();
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let early = tokio::time::timeout(Duration::from_millis(300), second.read(&mut buffer)).await;
    assert!(early.is_err(), "a connection over the limit was served");
    // ...and is served once the first goes away.
    drop(first);
    let answer = raw_exchange(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
}

#[tokio::test]
async fn health_readiness_metrics_and_openapi_answer() {
    let edge = Edge::spawn(limited(1, None, Duration::from_secs(86_400))).await;
    let c = create_world(edge.store.as_ref(), 1).await;

    let health = edge.send(Method::GET, "/healthz", &Auth::None, None).await;
    assert_eq!(
        (health.status, health.body["status"].as_str()),
        (200, Some("ok"))
    );
    let ready = edge.send(Method::GET, "/readyz", &Auth::None, None).await;
    assert_eq!(
        (ready.status, ready.body["status"].as_str()),
        (200, Some("ready"))
    );
    health.assert_request_id();

    edge.send(Method::PUT, PATH, &c.auth, Some(change(CALL_3, &[NONE_A])))
        .await
        .assert_ok();
    assert_eq!(
        edge.send(Method::PUT, PATH, &c.auth, Some(change(CALL_3, &[NONE_B])))
            .await
            .status,
        429
    );
    let metrics = edge
        .client
        .get(format!("{}/metrics", edge.base))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    assert!(metrics.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/plain"));
    let text = metrics.text().await.unwrap();
    for needle in [
        "callaccess_http_requests_total{method=\"PUT\",route=\"/v2/calls/users-access\",status=\"200\"}",
        "callaccess_http_requests_total{method=\"PUT\",route=\"/v2/calls/users-access\",status=\"429\"}",
        "callaccess_http_request_duration_seconds_bucket{method=\"PUT\",route=\"/v2/calls/users-access\"",
        "callaccess_rate_limited_total{window=\"second\"}",
        "callaccess_store_commit_seconds_bucket{backend=\"sqlite\"",
        "callaccess_store_batch_size_bucket{backend=\"sqlite\",le=\"1\"}",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
    // Ids never become labels.
    assert!(!text.contains(&CALL_3.to_string()));

    let doc = edge
        .send(Method::GET, "/openapi.json", &Auth::None, None)
        .await;
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
