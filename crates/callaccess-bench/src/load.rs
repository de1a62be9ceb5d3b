//! Closed-loop load: N keep-alive HTTP/1.1 connections, each sending its
//! next request as soon as the previous answer is read, for a fixed time.
//!
//! Each connection is a hyper client connection of its own (no pool, no
//! retries), and records latencies in its own HDR histogram; the histograms
//! are merged at the end. Requests finished during the warm-up are not
//! counted. Every non-200 answer and every transport error is counted as an
//! error, and a broken connection is replaced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use bytes::Bytes;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, HOST};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use rand::{Rng, SeedableRng};
use tokio::net::TcpStream;

use crate::dataset::{Pool, World, BLOCK};

/// What one scenario sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// (a) `GET /healthz`: the ceiling.
    Healthz,
    /// (b) PUT of one fresh pair.
    Put1,
    /// (c) DELETE of one granted pair.
    Delete1,
    /// (d) POST listing one random call.
    Post1,
    /// (e) PUT of 1,000 fresh pairs (100 calls × 10 users).
    Put1000,
    /// (e) DELETE of 1,000 granted pairs.
    Delete1000,
    /// (f) 80 % Post1, 10 % Put1, 10 % Delete1.
    Mix,
    /// (g) PUT of one fresh pair for a user with a flat (`own`) profile.
    Put1Flat,
    /// (g) The same for a user with `report-to-them` and nobody below:
    /// the rules walk the call owner's whole chain of managers.
    Put1Hier,
    /// (h) `POST /v2/calls/extensive` for 100 random call ids.
    Extensive100,
}

impl Scenario {
    pub const ALL: [Scenario; 10] = [
        Scenario::Healthz,
        Scenario::Put1,
        Scenario::Delete1,
        Scenario::Post1,
        Scenario::Put1000,
        Scenario::Delete1000,
        Scenario::Mix,
        Scenario::Put1Flat,
        Scenario::Put1Hier,
        Scenario::Extensive100,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Scenario::Healthz => "healthz",
            Scenario::Put1 => "put1",
            Scenario::Delete1 => "delete1",
            Scenario::Post1 => "post1",
            Scenario::Put1000 => "put1000",
            Scenario::Delete1000 => "delete1000",
            Scenario::Mix => "mix",
            Scenario::Put1Flat => "put1-flat",
            Scenario::Put1Hier => "put1-hier",
            Scenario::Extensive100 => "extensive100",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Scenario::Healthz => "(a) GET /healthz",
            Scenario::Put1 => "(b) PUT 1 pair",
            Scenario::Delete1 => "(c) DELETE 1 pair",
            Scenario::Post1 => "(d) POST 1 call",
            Scenario::Put1000 => "(e) PUT 1,000 pairs",
            Scenario::Delete1000 => "(e) DELETE 1,000 pairs",
            Scenario::Mix => "(f) 80% POST / 10% PUT / 10% DELETE",
            Scenario::Put1Flat => "(g) PUT 1 pair, flat profile",
            Scenario::Put1Hier => "(g) PUT 1 pair, report-to-them",
            Scenario::Extensive100 => "(h) POST /v2/calls/extensive, 100 calls",
        }
    }

    pub fn parse(name: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|s| s.name() == name)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|s| s.name()).collect();
                format!(
                    "unknown scenario {name:?}; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

/// The pair numbers granted so far and deleted so far (see `dataset`).
/// PUTs take numbers from `granted`, DELETEs from `deleted`; a DELETE that
/// has caught up with the PUTs names random granted numbers instead (which
/// may have gone already: such a DELETE still looks every pair up).
#[derive(Debug, Default)]
pub struct Cursors {
    pub granted: AtomicU64,
    pub deleted: AtomicU64,
    /// DELETEs that found no granted pairs left to name and named random
    /// ones instead, for the report.
    pub fallbacks: AtomicU64,
    /// Pair numbers of the flat and the hierarchy pool granted so far.
    pub flat: AtomicU64,
    pub hierarchy: AtomicU64,
}

impl Cursors {
    pub fn new(granted: u64) -> Self {
        Self {
            granted: AtomicU64::new(granted),
            deleted: AtomicU64::new(0),
            fallbacks: AtomicU64::new(0),
            flat: AtomicU64::new(0),
            hierarchy: AtomicU64::new(0),
        }
    }

    /// `count` fresh pair numbers, aligned to a block when `count` is.
    fn take_fresh(&self, count: u64) -> u64 {
        take(&self.granted, count)
    }

    fn take_granted(&self, count: u64, rng: &mut impl Rng) -> u64 {
        let first = take(&self.deleted, count);
        let granted = self.granted.load(Ordering::Relaxed);
        if first + count <= granted {
            first
        } else {
            self.fallbacks.fetch_add(1, Ordering::Relaxed);
            let blocks = granted / BLOCK;
            if blocks == 0 {
                0
            } else {
                rng.random_range(0..blocks) * BLOCK
            }
        }
    }
}

/// Takes `count` numbers from a counter; a whole number of blocks starts on
/// a block boundary, so it names whole calls.
fn take(counter: &AtomicU64, count: u64) -> u64 {
    if count.is_multiple_of(BLOCK) {
        let first = counter.fetch_add(count + BLOCK - 1, Ordering::Relaxed);
        first.div_ceil(BLOCK) * BLOCK
    } else {
        counter.fetch_add(count, Ordering::Relaxed)
    }
}

/// Where and as whom to send.
#[derive(Clone)]
pub struct Target {
    /// `127.0.0.1:PORT`.
    pub address: String,
    pub authorization: HeaderValue,
    pub world: World,
    /// The deepest users with `own`, and with `report-to-them`.
    pub flat: Option<Pool>,
    pub hierarchy: Option<Pool>,
}

/// The outcome of one scenario.
pub struct Measured {
    pub requests: u64,
    pub pairs: u64,
    pub errors: u64,
    /// The first few error descriptions, for the report.
    pub error_samples: Vec<String>,
    pub elapsed: Duration,
    /// Microseconds.
    pub latency: Histogram<u64>,
}

struct Worker {
    requests: u64,
    pairs: u64,
    errors: u64,
    error_samples: Vec<String>,
    latency: Histogram<u64>,
}

pub fn histogram() -> anyhow::Result<Histogram<u64>> {
    // 1 µs to 60 s at 3 significant digits.
    Histogram::new_with_bounds(1, 60_000_000, 3).context("cannot create a histogram")
}

/// One request: method, path, body, and the pairs it names.
fn next_request(
    scenario: Scenario,
    target: &Target,
    cursors: &Cursors,
    rng: &mut impl Rng,
) -> (Method, &'static str, Option<Vec<u8>>, u64) {
    let world = &target.world;
    let path = "/v2/calls/users-access";
    let picked = match scenario {
        Scenario::Mix => match rng.random_range(0..10) {
            0 => Scenario::Put1,
            1 => Scenario::Delete1,
            _ => Scenario::Post1,
        },
        other => other,
    };
    let (method, pairs) = match picked {
        Scenario::Healthz | Scenario::Mix => return (Method::GET, "/healthz", None, 0),
        Scenario::Post1 => return (Method::POST, path, Some(world.list_body(rng)), 1),
        Scenario::Extensive100 => {
            let body = world.extensive_body(rng, 100);
            return (Method::POST, "/v2/calls/extensive", Some(body), 100);
        }
        Scenario::Put1Flat | Scenario::Put1Hier => {
            let (pool, counter) = if picked == Scenario::Put1Flat {
                (target.flat.as_ref(), &cursors.flat)
            } else {
                (target.hierarchy.as_ref(), &cursors.hierarchy)
            };
            let Some(pool) = pool else {
                // Too few users for a pool: answered 200, counted as such.
                return (Method::GET, "/healthz", None, 0);
            };
            let first = counter.fetch_add(1, Ordering::Relaxed);
            return (Method::PUT, path, Some(world.pool_body(pool, first, 1)), 1);
        }
        Scenario::Put1 => (Method::PUT, 1),
        Scenario::Delete1 => (Method::DELETE, 1),
        Scenario::Put1000 => (Method::PUT, 1000),
        Scenario::Delete1000 => (Method::DELETE, 1000),
    };
    // PUTs take pairs never granted; DELETEs take granted ones.
    let first = if method == Method::PUT {
        cursors.take_fresh(pairs)
    } else {
        cursors.take_granted(pairs, rng)
    };
    (method, path, Some(world.change_body(first, pairs)), pairs)
}

type Sender = hyper::client::conn::http1::SendRequest<Full<Bytes>>;

async fn connect(address: &str) -> anyhow::Result<Sender> {
    let stream = TcpStream::connect(address)
        .await
        .with_context(|| format!("cannot connect to {address}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake failed")?;
    tokio::spawn(async move {
        // The connection ends when its sender is dropped or the server
        // closes it; either is reported through the sender.
        let _ = connection.await;
    });
    Ok(sender)
}

/// Sends one request and reads the whole answer; `Err` describes a
/// non-200 answer or a transport failure.
async fn exchange(sender: &mut Sender, request: Request<Full<Bytes>>) -> Result<(), String> {
    exchange_body(sender, request).await.map(|_| ())
}

/// [`exchange`], keeping the answer's body.
async fn exchange_body(
    sender: &mut Sender,
    request: Request<Full<Bytes>>,
) -> Result<Bytes, String> {
    sender
        .ready()
        .await
        .map_err(|e| format!("connection: {e}"))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| format!("request: {e}"))?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("body: {e}"))?
        .to_bytes();
    if status.is_success() {
        Ok(body)
    } else {
        let text: String = String::from_utf8_lossy(&body).chars().take(300).collect();
        Err(format!("{status}: {text}"))
    }
}

async fn run_worker(
    scenario: Scenario,
    target: Arc<Target>,
    cursors: Arc<Cursors>,
    counted_from: Instant,
    until: Instant,
    progress: Arc<AtomicU64>,
) -> anyhow::Result<Worker> {
    // ThreadRng cannot cross the runtime's threads; a seeded one can.
    let mut rng = rand::rngs::StdRng::from_rng(&mut rand::rng());
    let host = HeaderValue::from_str(&target.address)?;
    let json = HeaderValue::from_static("application/json");
    let mut worker = Worker {
        requests: 0,
        pairs: 0,
        errors: 0,
        error_samples: Vec::new(),
        latency: histogram()?,
    };
    let mut sender = connect(&target.address).await?;
    loop {
        let (method, path, body, pairs) = next_request(scenario, &target, &cursors, &mut rng);
        let mut builder = Request::builder()
            .method(method)
            .uri(path)
            .header(HOST, host.clone());
        if body.is_some() {
            builder = builder
                .header(AUTHORIZATION, target.authorization.clone())
                .header(CONTENT_TYPE, json.clone());
        }
        let request = builder.body(Full::new(Bytes::from(body.unwrap_or_default())))?;
        let sent = Instant::now();
        let outcome = exchange(&mut sender, request).await;
        let done = Instant::now();
        if done >= counted_from && done < until {
            match &outcome {
                Ok(()) => {
                    worker.requests += 1;
                    worker.pairs += pairs;
                    let micros = u64::try_from((done - sent).as_micros()).unwrap_or(u64::MAX);
                    worker.latency.saturating_record(micros.max(1));
                    progress.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => {
                    worker.errors += 1;
                    if worker.error_samples.len() < 3 {
                        worker.error_samples.push(e.clone());
                    }
                }
            }
        }
        if done >= until {
            return Ok(worker);
        }
        if outcome.is_err() && sender.is_closed() {
            sender = connect(&target.address).await?;
        }
    }
}

/// Runs one scenario on `connections` connections for `warmup + duration`,
/// printing progress to stderr every second.
pub async fn run(
    scenario: Scenario,
    target: &Arc<Target>,
    cursors: &Arc<Cursors>,
    connections: usize,
    warmup: Duration,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let start = Instant::now();
    let counted_from = start + warmup;
    let until = counted_from + duration;
    let progress = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(connections);
    for _ in 0..connections {
        tasks.push(tokio::spawn(run_worker(
            scenario,
            Arc::clone(target),
            Arc::clone(cursors),
            counted_from,
            until,
            Arc::clone(&progress),
        )));
    }
    let reporter = {
        let progress = Arc::clone(&progress);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            tick.tick().await;
            let mut last = 0;
            loop {
                tick.tick().await;
                let now = Instant::now();
                if now < counted_from {
                    eprintln!("  {:<11} warming up", scenario.name());
                    continue;
                }
                let done = progress.load(Ordering::Relaxed);
                eprintln!(
                    "  {:<11} {:>3.0}/{:.0} s {:>9} req/s",
                    scenario.name(),
                    (now - counted_from).as_secs_f64(),
                    duration.as_secs_f64(),
                    done - last
                );
                last = done;
            }
        })
    };
    let mut latency = histogram()?;
    let mut measured = Measured {
        requests: 0,
        pairs: 0,
        errors: 0,
        error_samples: Vec::new(),
        elapsed: duration,
        latency: histogram()?,
    };
    let mut failure = None;
    for task in tasks {
        let worker = match task.await.context("a load task failed") {
            Ok(Ok(worker)) => worker,
            Ok(Err(e)) | Err(e) => {
                failure.get_or_insert(e);
                continue;
            }
        };
        measured.requests += worker.requests;
        measured.pairs += worker.pairs;
        measured.errors += worker.errors;
        for sample in worker.error_samples {
            if measured.error_samples.len() < 5 {
                measured.error_samples.push(sample);
            }
        }
        latency.add(&worker.latency)?;
    }
    reporter.abort();
    if let Some(e) = failure {
        return Err(e);
    }
    measured.latency = latency;
    Ok(measured)
}

/// A single connection for sequential requests outside a scenario (the
/// preload).
pub struct Connection {
    sender: Sender,
    host: HeaderValue,
}

impl Connection {
    pub async fn open(address: &str) -> anyhow::Result<Self> {
        Ok(Self {
            sender: connect(address).await?,
            host: HeaderValue::from_str(address)?,
        })
    }

    /// A GET of `path`; the body, or `Err` unless the answer is 200.
    pub async fn get(&mut self, target: &Target, path: &str) -> Result<Bytes, String> {
        let request = Request::builder()
            .method(Method::GET)
            .uri(path)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, target.authorization.clone())
            .body(Full::new(Bytes::new()))
            .map_err(|e| e.to_string())?;
        exchange_body(&mut self.sender, request).await
    }

    /// A PUT with `body`; `Err` unless the answer is 200.
    pub async fn put(&mut self, target: &Target, body: Vec<u8>) -> Result<(), String> {
        let request = Request::builder()
            .method(Method::PUT)
            .uri("/v2/calls/users-access")
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, target.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        exchange(&mut self.sender, request).await
    }
}
