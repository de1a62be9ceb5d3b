//! HTTP itself, as a client meets it: the `Allow` of each path, request
//! bodies that are compressed, and a connection that must stay usable
//! after a request is refused before its body was read (over a raw socket,
//! since an HTTP client library hides what the connection does).

use std::num::NonZeroU32;
use std::time::Duration;

use callaccess::http::Limits;
use callaccess::ratelimit::RateLimitDefaults;
use callaccess::server::ServeOptions;
use reqwest::Method;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::ids::*;
use crate::helpers::{change, Auth, TestApp, PATH};

/// Bounds every read, so a server that never answers fails the test
/// instead of hanging it; never reached when the server behaves.
const GUARD: Duration = Duration::from_secs(30);

#[tokio::test]
async fn each_path_lists_its_own_methods_in_allow() {
    let (app, c) = TestApp::spawn_with_company().await;
    let read_only = ["/healthz", "/readyz", "/metrics", "/openapi.json"];
    for path in read_only {
        for method in [Method::PUT, Method::POST, Method::DELETE, Method::PATCH] {
            let reply = app
                .request(method.clone(), path, &Auth::None, None, &[])
                .await;
            reply.assert_error(405, "method not allowed on this path; use one of GET, HEAD");
            assert_eq!(reply.headers["allow"], "GET, HEAD", "{method} {path}");
        }
        // What Allow lists is answered.
        for method in [Method::GET, Method::HEAD] {
            let answer = app
                .client
                .request(method.clone(), format!("{}{path}", app.base))
                .send()
                .await
                .unwrap();
            assert_eq!(answer.status().as_u16(), 200, "{method} {path}");
        }
    }
    for method in [Method::GET, Method::PATCH, Method::OPTIONS] {
        let reply = app.request(method.clone(), PATH, &c.auth, None, &[]).await;
        assert_eq!(reply.status, 405, "{method}");
        assert_eq!(reply.headers["allow"], "PUT, POST, DELETE", "{method}");
    }
}

#[tokio::test]
async fn compressed_bodies_are_415_and_change_nothing() {
    let (app, c) = TestApp::spawn_with_company().await;
    let body = serde_json::to_vec(&change(CALL_3, &[NONE_A])).unwrap();
    for coding in ["gzip", "br", "identity, gzip"] {
        let reply = app
            .put_bytes(
                &c.auth,
                body.clone(),
                &[
                    ("content-type", "application/json"),
                    ("content-encoding", coding),
                ],
            )
            .await;
        let shown = coding.trim_start_matches("identity, ");
        reply.assert_error(
            415,
            &format!(
                "request bodies must not be compressed (Content-Encoding: {shown}); send the JSON as is"
            ),
        );
        assert_eq!(reply.headers["accept-encoding"], "identity");
    }
    assert_eq!(
        app.listed(&c.auth, &[CALL_3]).await,
        vec![(CALL_3.to_string(), vec![])]
    );
    // `identity` is no coding at all.
    app.put_bytes(
        &c.auth,
        body,
        &[
            ("content-type", "application/json"),
            ("content-encoding", "identity"),
        ],
    )
    .await
    .assert_ok();
    assert_eq!(
        app.listed(&c.auth, &[CALL_3]).await,
        vec![(CALL_3.to_string(), vec![NONE_A.to_string()])]
    );
}

/// One answer read from a connection that may stay open: its status, its
/// head (header names in lower case) and its JSON body.
struct Answer {
    status: u16,
    head: String,
    body: Value,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.head
            .lines()
            .find_map(|line| line.strip_prefix(&format!("{name}: ")))
    }
}

async fn read_answer(stream: &mut TcpStream) -> Answer {
    let mut bytes = Vec::new();
    let mut buffer = [0u8; 4096];
    let (head, body_start) = loop {
        if let Some(end) = bytes.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&bytes[..end]).to_ascii_lowercase();
            break (head, end + 4);
        }
        let n = tokio::time::timeout(GUARD, stream.read(&mut buffer))
            .await
            .expect("no answer")
            .unwrap();
        assert!(n > 0, "closed before an answer: {bytes:?}");
        bytes.extend_from_slice(&buffer[..n]);
    };
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length: "))
        .map_or(0, |v| v.trim().parse().unwrap());
    while bytes.len() < body_start + length {
        let n = tokio::time::timeout(GUARD, stream.read(&mut buffer))
            .await
            .expect("the answer's body never came")
            .unwrap();
        assert!(n > 0, "closed mid-answer");
        bytes.extend_from_slice(&buffer[..n]);
    }
    let status = head[9..12].parse().unwrap();
    let body = serde_json::from_slice(&bytes[body_start..body_start + length]).unwrap();
    Answer { status, head, body }
}

/// Whether the server closes the connection (rather than waiting for
/// another request on it).
async fn closes(stream: &mut TcpStream) -> bool {
    let mut rest = Vec::new();
    // A reset counts as closed, like an orderly end.
    tokio::time::timeout(GUARD, stream.read_to_end(&mut rest))
        .await
        .is_ok()
}

const WRONG: &str = "Basic bm9rZXk6bm9zZWNyZXQ="; // nokey:nosecret

/// The head of a PUT of `length` bytes with `authorization`.
/// Sends the `body` of a refused PUT, then a POST on the same connection,
/// which is answered and shows the refused PUT granted nothing.
async fn body_then_nothing_granted(stream: &mut TcpStream, body: &str, good: &str) {
    stream.write_all(body.as_bytes()).await.unwrap();
    stream
        .write_all(post_of(good, CALL_3).as_bytes())
        .await
        .unwrap();
    let listed = read_answer(stream).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.body["callAccessList"][0]["users"],
        Value::Array(vec![]),
        "the refused PUT granted access: {}",
        listed.body
    );
}

fn put_head(authorization: &str, length: usize, extra: &str) -> String {
    format!(
        "PUT {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\n\
         Content-Type: application/json\r\nContent-Length: {length}\r\n{extra}\r\n"
    )
}

fn post_of(authorization: &str, call: i64) -> String {
    let body = format!("{{\"filter\":{{\"callIds\":[\"{call}\"]}}}}");
    format!(
        "POST {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {authorization}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

#[tokio::test]
async fn an_early_401_leaves_the_connection_usable_for_the_next_request() {
    let (app, c) = TestApp::spawn_with_company().await;
    let good = c.auth.header().unwrap();
    let body = change(CALL_3, &[NONE_A]).to_string();
    let mut stream = TcpStream::connect(app.address).await.unwrap();

    // The head alone is refused at once, before the body is sent...
    stream
        .write_all(put_head(WRONG, body.len(), "").as_bytes())
        .await
        .unwrap();
    let refused = read_answer(&mut stream).await;
    assert_eq!(refused.status, 401, "{}", refused.head);
    assert_eq!(refused.header("connection"), None, "{}", refused.head);
    assert!(refused.body["requestId"].is_string(), "{}", refused.body);

    // ...and the body that follows is read and dropped, not taken for the
    // next request, which is answered on the same connection.
    body_then_nothing_granted(&mut stream, &body, &good).await;
}

#[tokio::test]
async fn an_early_429_leaves_the_connection_usable_too() {
    let app = TestApp::spawn_with_options(ServeOptions {
        rate_limits: RateLimitDefaults {
            per_second: NonZeroU32::new(1),
            ..RateLimitDefaults::OFF
        },
        ..TestApp::options()
    })
    .await;
    let c = app.company(1).await;
    let good = c.auth.header().unwrap();
    let body = change(CALL_3, &[NONE_A]).to_string();
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(post_of(&good, CALL_3).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_answer(&mut stream).await.status, 200);
    stream
        .write_all(put_head(&good, body.len(), "").as_bytes())
        .await
        .unwrap();
    let refused = read_answer(&mut stream).await;
    assert_eq!(refused.status, 429, "{}", refused.body);
    assert_eq!(refused.header("connection"), None, "{}", refused.head);
    stream.write_all(body.as_bytes()).await.unwrap();
    app.clock.advance(Duration::from_secs(1)).unwrap();
    stream
        .write_all(post_of(&good, CALL_3).as_bytes())
        .await
        .unwrap();
    let listed = read_answer(&mut stream).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    assert_eq!(
        listed.body["callAccessList"][0]["users"],
        Value::Array(vec![])
    );
}

#[tokio::test]
async fn an_early_401_with_its_body_already_sent_keeps_the_connection() {
    let (app, c) = TestApp::spawn_with_company().await;
    let good = c.auth.header().unwrap();
    let body = change(CALL_3, &[NONE_A]).to_string();
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let request = format!("{}{body}", put_head(WRONG, body.len(), ""));
    stream.write_all(request.as_bytes()).await.unwrap();
    assert_eq!(read_answer(&mut stream).await.status, 401);
    stream
        .write_all(post_of(&good, CALL_3).as_bytes())
        .await
        .unwrap();
    assert_eq!(read_answer(&mut stream).await.status, 200);
}

#[tokio::test]
async fn an_early_401_for_a_body_over_the_limit_says_connection_close() {
    let app = TestApp::spawn_with(Limits {
        max_body_bytes: 1000,
        ..Limits::default()
    })
    .await;
    refused_and_closed(&app, &put_head(WRONG, 1001, "")).await;
}

/// Sends `head`, which must be refused 401 with `Connection: close`, and
/// the connection then closed.
async fn refused_and_closed(app: &TestApp, head: &str) {
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let refused = read_answer(&mut stream).await;
    assert_eq!(refused.status, 401, "{}", refused.head);
    assert_eq!(
        refused.header("connection"),
        Some("close"),
        "{}",
        refused.head
    );
    assert!(closes(&mut stream).await, "the connection stayed open");
}

#[tokio::test]
async fn an_early_401_to_a_client_waiting_for_100_continue_says_connection_close() {
    // The client may never send a body it was not asked for, so what it
    // sends next could be its next request: the connection cannot be reused.
    let app = TestApp::spawn().await;
    refused_and_closed(&app, &put_head(WRONG, 10, "Expect: 100-continue\r\n")).await;
}

#[tokio::test]
async fn a_body_that_never_comes_after_an_early_401_ends_the_connection() {
    let app = TestApp::spawn_with(Limits {
        body_read_timeout: Duration::from_millis(200),
        ..Limits::default()
    })
    .await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(put_head(WRONG, 100, "").as_bytes())
        .await
        .unwrap();
    assert_eq!(read_answer(&mut stream).await.status, 401);
    // The server stops waiting for the body after the body read time.
    assert!(closes(&mut stream).await, "the connection stayed open");
}

#[tokio::test]
async fn a_415_before_the_body_is_read_keeps_the_connection() {
    let (app, c) = TestApp::spawn_with_company().await;
    let good = c.auth.header().unwrap();
    let body = change(CALL_3, &[NONE_A]).to_string();
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    let head = put_head(&good, body.len(), "Content-Encoding: gzip\r\n");
    stream.write_all(head.as_bytes()).await.unwrap();
    let refused = read_answer(&mut stream).await;
    assert_eq!(refused.status, 415, "{}", refused.body);
    body_then_nothing_granted(&mut stream, &body, &good).await;
}

/// Requests hyper refuses before the application sees them: each must be
/// answered with the envelope and an `x-traceid` like every other error,
/// and the connection closed. Sent over a raw socket, since an HTTP client
/// library would refuse to send most of them.
#[tokio::test]
async fn requests_that_are_not_http_get_the_envelope_too() {
    let app = TestApp::spawn().await;
    let many_headers: String = (0..100).map(|i| format!("X-Header-{i}: v\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, u16, &str)> = vec![
        (
            "a Content-Length that is not a number",
            format!("PUT {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n").into_bytes(),
            400,
            "Content-Length",
        ),
        (
            "a negative Content-Length",
            format!("PUT {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n").into_bytes(),
            400,
            "Content-Length",
        ),
        (
            "a Content-Length that overflows",
            format!(
                "PUT {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n"
            )
            .into_bytes(),
            400,
            "Content-Length",
        ),
        (
            "two different Content-Lengths",
            format!(
                "PUT {PATH} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n"
            )
            .into_bytes(),
            400,
            "Content-Length",
        ),
        (
            "an unknown HTTP version",
            b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            400,
            "HTTP/1.1",
        ),
        (
            "a junk request line",
            b"\x01\x02 junk\r\n\r\n".to_vec(),
            400,
            "request line",
        ),
        (
            "NUL in a header value",
            b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Value: a\x00b\r\n\r\n".to_vec(),
            400,
            "control characters",
        ),
        (
            "100 headers besides Host",
            format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(),
            431,
            "100 header fields",
        ),
        (
            "a 500 KB header",
            format!(
                "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(500_000)
            )
            .into_bytes(),
            431,
            "400 KiB",
        ),
        (
            "a 100 KB target",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(100_000)).into_bytes(),
            414,
            "target is too long",
        ),
    ];
    for (case, request, status, words) in cases {
        let mut stream = TcpStream::connect(app.address).await.unwrap();
        // The server may answer and close before it has read all of a large
        // request; a write that fails then is part of the case.
        let _ = stream.write_all(&request).await;
        let answer = read_answer(&mut stream).await;
        assert_eq!(answer.status, status, "{case}: {}", answer.head);
        let id = answer.body["requestId"]
            .as_str()
            .unwrap_or_else(|| panic!("{case}: no requestId in {}", answer.body));
        assert_eq!(id.len(), 19, "{case}");
        assert_eq!(
            answer.header("x-traceid"),
            Some(id),
            "{case}: {}",
            answer.head
        );
        assert_eq!(
            answer.header("content-type"),
            Some("application/json"),
            "{case}"
        );
        assert_eq!(answer.header("connection"), Some("close"), "{case}");
        let message = answer.body["errors"][0].as_str().unwrap_or_default();
        assert!(message.contains(words), "{case}: {message}");
        assert!(
            closes(&mut stream).await,
            "{case}: the connection stayed open"
        );
    }
}

/// A request that breaks the protocol after a good one on the same
/// connection: the good one's answer is whole, then the refusal comes in
/// the envelope.
#[tokio::test]
async fn a_bad_request_after_a_good_one_keeps_the_first_answer_whole() {
    let app = TestApp::spawn().await;
    let mut stream = TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n")
        .await
        .unwrap();
    // Both answers come before the close; read them all, then split.
    let mut bytes = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut bytes))
        .await
        .expect("the connection stayed open")
        .unwrap();
    let text = String::from_utf8_lossy(&bytes);
    let second_at = text.find("HTTP/1.1 400").expect("no second answer");
    let (first, second) = text.split_at(second_at);
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{first}");
    assert!(first.ends_with("\"status\":\"ok\"}"), "{first}");
    let (head, body) = second.split_once("\r\n\r\n").unwrap();
    let body: Value = serde_json::from_str(body).unwrap();
    let id = body["requestId"].as_str().unwrap();
    assert!(head.contains(&format!("\r\nx-traceid: {id}\r\n")), "{head}");
}
