//! Connection pressure: a client that holds more connections than the
//! server serves at once, trickling header bytes or idling between
//! requests, must not keep a fresh client from being answered.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use callaccess::http::Limits;
use callaccess::server::ServeOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{ids::CALL_1, TestApp};

/// Connections the server under attack serves at once.
const SLOTS: usize = 8;

/// A slow-headers attacker: connects, sends the start of a request and then
/// one header byte at a time, never finishing; reconnects whenever the
/// server closes the connection, until `stop`.
async fn trickle(
    address: std::net::SocketAddr,
    stop: Arc<AtomicBool>,
    reconnects: Arc<AtomicUsize>,
) {
    while !stop.load(Ordering::Relaxed) {
        let Ok(mut stream) = TcpStream::connect(address).await else {
            continue;
        };
        if stream
            .write_all(b"POST /v2/calls/users-access HTTP/1.1\r\nHost: x\r\n")
            .await
            .is_err()
        {
            continue;
        }
        // Closed by the server: the write fails, or the read ends.
        loop {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let mut probe = [0u8; 1];
            tokio::select! {
                read = stream.read(&mut probe) => {
                    if matches!(read, Ok(0) | Err(_)) {
                        break;
                    }
                }
                () = tokio::time::sleep(Duration::from_millis(100)) => {
                    if stream.write_all(b"X").await.is_err() {
                        break;
                    }
                }
            }
        }
        reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// An idle keep-alive client: one complete request, then the connection is
/// held open and silent.
async fn idle_keepalive(address: std::net::SocketAddr) -> Option<TcpStream> {
    let mut stream = TcpStream::connect(address).await.ok()?;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .ok()?;
    let mut buffer = [0u8; 1024];
    let read = stream.read(&mut buffer).await.ok()?;
    std::str::from_utf8(&buffer[..read])
        .ok()?
        .starts_with("HTTP/1.1 200")
        .then_some(stream)
}

#[tokio::test]
async fn a_fresh_client_is_answered_while_slow_and_idle_connections_hold_every_slot() {
    let app = TestApp::spawn_with_options(ServeOptions {
        max_connections: SLOTS,
        // Nothing times the attackers out: without making room, the fresh
        // client would wait for as long as they care to hold on.
        limits: Limits {
            header_read_timeout: Duration::from_secs(3600),
            ..Limits::default()
        },
        ..TestApp::options()
    })
    .await;
    let company = app.company(1).await;

    // Idle keep-alive connections take the slots first…
    let mut idle = Vec::new();
    for _ in 0..SLOTS {
        idle.push(idle_keepalive(app.address).await);
    }
    // …then twice the limit of slow-header connections.
    let stop = Arc::new(AtomicBool::new(false));
    let reconnects = Arc::new(AtomicUsize::new(0));
    let attackers: Vec<_> = (0..2 * SLOTS)
        .map(|_| tokio::spawn(trickle(app.address, stop.clone(), reconnects.clone())))
        .collect();
    // Let the attackers take (and keep retaking) the slots.
    while reconnects.load(Ordering::Relaxed) < SLOTS {
        tokio::task::yield_now().await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // A fresh client, on a connection of its own, is answered, again and
    // again. The bound only keeps a broken server from hanging the suite:
    // without making room, the answer would never come.
    for _ in 0..5 {
        // From another address than the attacker's: another machine.
        let fresh = reqwest::Client::builder()
            .local_address(std::net::IpAddr::from([127, 0, 0, 2]))
            .pool_max_idle_per_host(0)
            .build()
            .unwrap();
        let answer = tokio::time::timeout(
            Duration::from_secs(30),
            fresh
                .post(format!("{}/v2/calls/users-access", app.base))
                .header("authorization", company.auth.header().unwrap())
                .header("content-type", "application/json")
                .body(format!(r#"{{"filter":{{"callIds":["{CALL_1}"]}}}}"#))
                .send(),
        )
        .await
        .expect("a fresh client was kept waiting by connections doing nothing")
        .unwrap();
        assert_eq!(answer.status().as_u16(), 200);
    }
    // Room was made by closing connections that did nothing: the idle
    // keep-alive ones, and slow-header ones, which reconnected.
    assert!(reconnects.load(Ordering::Relaxed) >= SLOTS);

    stop.store(true, Ordering::Relaxed);
    for attacker in attackers {
        attacker.await.unwrap();
    }
    // Shutting down with idle connections still open finishes too.
    let fresh_idle = idle_keepalive(app.address).await;
    assert!(fresh_idle.is_some());
    tokio::time::timeout(Duration::from_secs(30), app.stop())
        .await
        .expect("the shutdown hung with idle connections open");
    drop((idle, fresh_idle));
}
