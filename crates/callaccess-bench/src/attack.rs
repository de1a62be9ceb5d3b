//! Fresh requests under connection pressure (issue 10): one address holds
//! more connections than the server serves at once, while a client from
//! another address opens a new connection per request and times it.
//!
//! The attackers connect from 127.0.0.1. Half trickle the headers of a
//! request one byte every 100 ms and never finish; half send one
//! `GET /healthz`, read the answer and sit idle. Each reconnects as soon as
//! the server closes it, so the pressure never lets up. The fresh client
//! binds 127.0.0.2 (still loopback), so a server that tells clients apart
//! by address can see it is someone else. Each of its requests is
//! `GET /healthz` on a new connection, timed from before `connect` to the
//! end of the answer, and given at most [`BOUND`]; a request that takes
//! longer counts as a timeout, not as a latency.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONNECTION, HOST};
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde::Serialize;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::Instant;

/// The longest a fresh request may take before it counts as a timeout.
pub const BOUND: Duration = Duration::from_secs(15);

/// How often a trickling attacker sends its next header byte.
const TRICKLE: Duration = Duration::from_millis(100);

/// The fresh client's own loopback address.
const FRESH_CLIENT: &str = "127.0.0.2:0";

/// The shape of one attack.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// The server's `--max-connections`, for the report.
    pub max_connections: usize,
    /// Attacker connections held at once (half trickling, half idle).
    pub attackers: usize,
    /// How long the fresh client sends requests.
    pub duration: Duration,
}

/// The outcome, one row of the report.
#[derive(Debug, Serialize)]
pub struct Pressure {
    pub max_connections: usize,
    pub attackers: usize,
    pub duration_seconds: f64,
    /// Fresh requests answered 200 within the bound.
    pub answered: u64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    /// Fresh requests not answered within [`BOUND`].
    pub timeouts: u64,
    /// Fresh requests refused, answered other than 200, or cut off.
    pub errors: u64,
    /// Attacker connections the server closed (each was replaced).
    pub attacker_reconnects: u64,
    /// The first few error descriptions.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub error_samples: Vec<String>,
}

/// Runs the attack on the server at `address` (`127.0.0.1:PORT`).
pub async fn run(address: &str, settings: Settings) -> anyhow::Result<Pressure> {
    let target: SocketAddr = address
        .parse()
        .with_context(|| format!("{address} is not an address"))?;
    let reconnects = Arc::new(AtomicU64::new(0));
    let holding = Arc::new(AtomicU64::new(0));
    let mut attackers = Vec::with_capacity(settings.attackers);
    for n in 0..settings.attackers {
        let (reconnects, holding) = (Arc::clone(&reconnects), Arc::clone(&holding));
        let trickle = n % 2 == 0;
        attackers.push(tokio::spawn(async move {
            attacker(target, trickle, &reconnects, &holding).await;
        }));
    }
    // Let every attacker open its first connection (the kernel completes
    // the handshake even when the server does not accept), for at most 2 s.
    let ramp = Instant::now() + Duration::from_secs(2);
    while holding.load(Ordering::Relaxed) < settings.attackers as u64 && Instant::now() < ramp {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // Reconnects during the ramp are not the ones measured.
    let reconnects_before = reconnects.load(Ordering::Relaxed);
    eprintln!(
        "  attack      {} of {} attacker connections open; fresh requests for {:.0} s",
        holding.load(Ordering::Relaxed),
        settings.attackers,
        settings.duration.as_secs_f64()
    );

    let answered = Arc::new(AtomicU64::new(0));
    let reporter = {
        let (answered, reconnects) = (Arc::clone(&answered), Arc::clone(&reconnects));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            loop {
                tick.tick().await;
                eprintln!(
                    "  attack      {:>9} answered, {:>9} attacker reconnects",
                    answered.load(Ordering::Relaxed),
                    reconnects.load(Ordering::Relaxed) - reconnects_before
                );
            }
        })
    };
    let mut latency = crate::load::histogram()?;
    let (mut timeouts, mut errors, mut samples) = (0, 0, Vec::new());
    let until = Instant::now() + settings.duration;
    // A request started before the end is allowed to finish (within the
    // bound), so a server that makes every request wait still shows it.
    while Instant::now() < until {
        let sent = Instant::now();
        match tokio::time::timeout(BOUND, fresh_request(target)).await {
            Ok(Ok(())) => {
                let micros = u64::try_from(sent.elapsed().as_micros()).unwrap_or(u64::MAX);
                latency.saturating_record(micros.max(1));
                answered.fetch_add(1, Ordering::Relaxed);
            }
            Ok(Err(e)) => {
                errors += 1;
                if samples.len() < 5 {
                    samples.push(format!("{e:#}"));
                }
                // Do not spin on a refused connection.
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(_) => {
                timeouts += 1;
                if samples.len() < 5 {
                    samples.push(format!("no answer within {} s", BOUND.as_secs()));
                }
            }
        }
    }
    let attacker_reconnects = reconnects.load(Ordering::Relaxed) - reconnects_before;
    reporter.abort();
    for task in attackers {
        task.abort();
        let _ = task.await;
    }
    let millis = |quantile: f64| latency.value_at_quantile(quantile) as f64 / 1000.0;
    Ok(Pressure {
        max_connections: settings.max_connections,
        attackers: settings.attackers,
        duration_seconds: settings.duration.as_secs_f64(),
        answered: latency.len(),
        p50_ms: millis(0.5),
        p99_ms: millis(0.99),
        max_ms: latency.max() as f64 / 1000.0,
        timeouts,
        errors,
        attacker_reconnects,
        error_samples: samples,
    })
}

/// One attacker: holds a connection until the server closes it, then
/// opens the next, until the task is stopped.
async fn attacker(target: SocketAddr, trickle: bool, reconnects: &AtomicU64, holding: &AtomicU64) {
    let mut first = true;
    loop {
        let Ok(mut stream) = TcpStream::connect(target).await else {
            // Refused (the backlog is full): try again shortly.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        if first {
            holding.fetch_add(1, Ordering::Relaxed);
            first = false;
        }
        if trickle {
            hold_trickling(&mut stream).await;
        } else {
            hold_idle(&mut stream).await;
        }
        reconnects.fetch_add(1, Ordering::Relaxed);
    }
}

/// Sends the start of a request, then one more header byte every
/// [`TRICKLE`], never ending the headers; returns once the server closes
/// the connection.
async fn hold_trickling(stream: &mut TcpStream) {
    let (mut reader, mut writer) = stream.split();
    if writer
        .write_all(b"POST /v2/calls/users-access HTTP/1.1\r\nHost: x\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut tick = tokio::time::interval(TRICKLE);
    tick.tick().await;
    let mut buffer = [0u8; 1024];
    loop {
        tokio::select! {
            read = reader.read(&mut buffer) => {
                // An answer (408, 400) or the end: the server is done with it.
                if !matches!(read, Ok(n) if n > 0) {
                    return;
                }
            }
            _ = tick.tick() => {
                if writer.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Sends one `GET /healthz`, reads its answer and then nothing more;
/// returns once the server closes the connection.
async fn hold_idle(stream: &mut TcpStream) {
    if stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .is_err()
    {
        return;
    }
    let mut buffer = [0u8; 1024];
    while matches!(stream.read(&mut buffer).await, Ok(n) if n > 0) {}
}

/// One fresh request: a new connection from [`FRESH_CLIENT`], one
/// `GET /healthz`, the whole answer.
async fn fresh_request(target: SocketAddr) -> anyhow::Result<()> {
    let socket = TcpSocket::new_v4().context("cannot create a socket")?;
    let local: SocketAddr = FRESH_CLIENT.parse()?;
    socket
        .bind(local)
        .with_context(|| format!("cannot bind {FRESH_CLIENT}"))?;
    let stream = socket
        .connect(target)
        .await
        .with_context(|| format!("cannot connect to {target}"))?;
    stream.set_nodelay(true)?;
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake failed")?;
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let request = Request::get("/healthz")
        .header(HOST, HeaderValue::from_str(&target.to_string())?)
        .header(CONNECTION, HeaderValue::from_static("close"))
        .body(Full::new(Bytes::new()))?;
    let outcome = async {
        let response = sender.send_request(request).await.context("request")?;
        let status = response.status();
        response.into_body().collect().await.context("body")?;
        anyhow::ensure!(status.is_success(), "answered {status}");
        Ok(())
    }
    .await;
    outcome
}

/// Ends a connection's task when the request that owns it ends, on a
/// timeout too (the future is then dropped), so no socket outlives it.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
