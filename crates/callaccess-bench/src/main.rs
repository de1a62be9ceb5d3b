//! `callaccess-bench`: a closed-loop load benchmark of the callaccess server.
//!
//! It builds and starts `callaccess serve` on a temporary SQLite database,
//! or with `--database postgres://USER@HOST:PORT/DB` on a scratch database
//! it creates on that PostgreSQL server (or targets `--url`), seeds one
//! company with 100,000 users and 100,000 calls, preloads `--grants` API
//! grants through 1,000-pair PUTs, restarts the server to time its startup
//! on that store, then runs each scenario on `--connections` keep-alive
//! connections for `--duration` and prints a markdown table (or JSON with
//! `--json`). Progress goes to stderr.
//!
//! Around each scenario it reads `/metrics`: the writer's batches (SQLite's
//! group commit) and the store's round trips and statements (PostgreSQL's
//! `callaccess_store_round_trips_total` and `…_statements_total`), shown
//! per request, or "–" where the server does not count them. On
//! PostgreSQL it then runs `pgbench -S` and `pgbench -N` on the same
//! server, in a scratch database of their own, and prints POST 1 call and
//! PUT 1 pair as fractions of those rates (it says so and goes on when
//! `pgbench` is missing). Every scratch database is named
//! `callaccess_bench_PID…` and dropped at the end, also after an error;
//! the URL's own database is only connected to.
//!
//! - `dataset`: the company, its ids, the seed file, and which (call, user)
//!   pairs each request names so that requests do real work.
//! - `store`: the store a server runs on, SQLite file or scratch
//!   PostgreSQL database, made fresh for each purpose.
//! - `postgres`: scratch databases on the `--database` server, its URL.
//! - `server`: finding, seeding, starting, measuring and stopping the server.
//! - `load`: the scenarios and the closed-loop connections that run them.
//! - `attack`: fresh requests while one address holds more connections
//!   than the server serves (`--scenarios attack`, not in the default set).
//! - `metrics`: reading `/metrics` (the Prometheus text format) and the
//!   per-request store costs from two readings.
//! - `pgbench`: the PostgreSQL baseline.
//! - `onoff`: PUT 1 and POST 1 with a feature off and on, in interleaved
//!   rounds on restarts of the same server: the request journal
//!   (`--journal-rounds`) and the fault check (`--fault-rounds`).
//! - `report`: the table and the JSON.
//! - `audit`: a 10,000,000-entry audit trail: start-up on it, and pages of
//!   it by company, call, user, time and cursor (`--scenarios audit`, not
//!   in the default set).
//! - `viewers`: the first page of a call's viewers in the 100,000-user
//!   company over the admin API, 20 times (`--scenarios viewers`, not in
//!   the default set).
//! - `reset`: a reset and re-seed of a 1,000-user, 1,000-call company over
//!   the admin API, `--reset-rounds` times (`--scenarios reset`, not in the
//!   default set).
//!
//! ```text
//! cargo run --release -p callaccess-bench -- --connections 64 --duration 10s
//! cargo run --release -p callaccess-bench -- --connections 64 --duration 10s \
//!     --database postgres://postgres@127.0.0.1:5432/postgres
//! cargo run -p callaccess-bench -- --smoke        # a few seconds, for CI
//! cargo run -p callaccess-bench -- --smoke --database postgres://postgres@127.0.0.1:5432/postgres
//! cargo run --release -p callaccess-bench -- --scenarios attack --duration 5s
//! ```
//!
//! Its HTTP traffic only ever goes to 127.0.0.1; database traffic goes to
//! the server `--database` names, and pgbench's too.

mod attack;
mod audit;
mod dataset;
mod load;
mod metrics;
mod onoff;
mod pgbench;
mod postgres;
mod report;
mod reset;
mod server;
mod store;
mod viewers;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};
use base64::Engine as _;
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, HOST};
use hyper::Request;

use dataset::World;
use load::{Cursors, Scenario, Target};
use metrics::Snapshot;
use report::{Report, Row, StoreInfo};
use server::Server;
use store::{Backend, Fresh, Purpose};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
enum PathMode {
    /// Group commit: the writer commits every waiting request in one
    /// transaction and one fsync (the server's normal mode).
    Group,
    /// One transaction and one fsync per request (writer batches capped at
    /// 1), for comparison; still durable.
    PerRequest,
}

/// A scenario named by `--scenarios`: a closed-loop one, or the attack,
/// which runs on a server of its own and reports differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Choice {
    Load(Scenario),
    Attack,
    /// `reset`: see the `reset` module.
    Reset,
    /// `viewers`: see the `viewers` module.
    Viewers,
    /// `audit`: see the `audit` module.
    Audit,
}

impl Choice {
    fn parse(name: &str) -> Result<Self, String> {
        if name == "attack" {
            return Ok(Choice::Attack);
        }
        if name == "reset" {
            return Ok(Choice::Reset);
        }
        if name == "viewers" {
            return Ok(Choice::Viewers);
        }
        if name == "audit" {
            return Ok(Choice::Audit);
        }
        Scenario::parse(name)
            .map(Choice::Load)
            .map_err(|e| format!("{e}, attack, reset, viewers, audit"))
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "callaccess-bench",
    about = "Closed-loop load benchmark of the callaccess server (127.0.0.1 only)"
)]
struct Args {
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,

    /// Measured time per scenario (e.g. 10s, 1m).
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    duration: Duration,

    /// Unmeasured time at the start of each scenario.
    #[arg(long, default_value = "1s", value_parser = humantime::parse_duration)]
    warmup: Duration,

    /// Scenarios to run, comma-separated: healthz, put1, delete1, post1,
    /// put1000, delete1000, mix, attack, reset, viewers, audit [default:
    /// the closed-loop ones; --smoke adds attack].
    #[arg(long, value_delimiter = ',', value_parser = Choice::parse)]
    scenarios: Vec<Choice>,

    /// attack: the --max-connections of the server it starts (with --url,
    /// that of the running server, for the report).
    #[arg(long, default_value_t = 64, value_name = "N")]
    attack_max_connections: usize,

    /// attack: attacker connections from 127.0.0.1 [default: twice
    /// --attack-max-connections].
    #[arg(long, value_name = "N")]
    attack_connections: Option<usize>,

    /// Users of the benchmark company.
    #[arg(long, default_value_t = 100_000)]
    users: u64,

    /// Calls of the benchmark company.
    #[arg(long, default_value_t = 100_000)]
    calls: u64,

    /// API grants stored before the scenarios run (1,000-pair PUTs).
    #[arg(long, default_value_t = 10_000)]
    grants: u64,

    /// Group commit, or one transaction per request for comparison.
    #[arg(long, value_enum, default_value_t = PathMode::Group)]
    path_mode: PathMode,

    /// The callaccess binary [default: built next to this one].
    #[arg(long, value_name = "PATH")]
    server_bin: Option<PathBuf>,

    /// Folder for the temporary database and seed file [default: the
    /// system's temp folder]. Put it on the disk you want to measure.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,

    /// Run the servers on PostgreSQL: postgres://USER@HOST:PORT/DB. The
    /// benchmark creates scratch databases callaccess_bench_PID… on that
    /// server (DB is only connected to), drops them at the end, and
    /// compares with pgbench there.
    #[arg(
        long,
        value_name = "URL",
        env = "CALLACCESS_BENCH_DATABASE",
        conflicts_with = "url"
    )]
    database: Option<String>,

    /// Benchmark a running server instead (http://127.0.0.1:PORT), seeded
    /// with a file from --write-seed; needs --key and --secret.
    #[arg(long, value_name = "URL", requires_all = ["key", "secret"])]
    url: Option<String>,

    /// Access key for --url.
    #[arg(long)]
    key: Option<String>,

    /// Access key secret for --url (or for --write-seed).
    #[arg(long)]
    secret: Option<String>,

    /// With --url: the server's process id, to report its memory.
    #[arg(long)]
    server_pid: Option<u32>,

    /// Write the benchmark's seed file here and exit.
    #[arg(long, value_name = "FILE")]
    write_seed: Option<PathBuf>,

    /// After the scenarios, restart the server N times with the request
    /// journal off and N times on (10,000), in alternating order (off, on,
    /// on, off, …; give an even N), and compare PUT 1 pair and POST 1 call
    /// (0: no comparison).
    #[arg(long, default_value_t = 0, value_name = "N")]
    journal_rounds: usize,

    /// After the scenarios (and any journal rounds), the same with no fault
    /// rules and with one rule that matches no request (an upper bound of
    /// what the check costs with no rules) (0: no comparison).
    #[arg(long, default_value_t = 0, value_name = "N")]
    fault_rounds: usize,

    /// reset: how many resets (each with its re-seed) to time.
    #[arg(long, default_value_t = 10, value_name = "N")]
    reset_rounds: usize,

    /// audit: entries written into the trail before it is read.
    #[arg(long, default_value_t = 10_000_000, value_name = "N")]
    audit_entries: u64,

    /// Print JSON instead of a markdown table.
    #[arg(long)]
    json: bool,

    /// A short run on a tiny dataset that proves the benchmark works (for CI):
    /// 200 users and calls, 1,000 grants, 4 connections, 1 s per scenario,
    /// and the attack on a server of 4 connections with 8 attackers; with
    /// --database, pgbench at scale 1 for 1 s each.
    #[arg(long)]
    smoke: bool,

    /// Times one client pages through every user with GET /v2/users after
    /// the scenarios [default: 3; 1 with --smoke]. 0 leaves it out, so
    /// that a profile of the server sees the scenarios alone
    /// (scripts/callgrind-server.sh).
    #[arg(long, value_name = "N")]
    user_passes: Option<u32>,
}

impl Args {
    fn apply_smoke(&mut self) {
        if self.smoke {
            self.users = 200;
            self.calls = 200;
            self.grants = 1_000;
            self.connections = 4;
            self.duration = Duration::from_secs(1);
            self.warmup = Duration::from_millis(200);
            self.attack_max_connections = 4;
            self.attack_connections = Some(8);
            if self.scenarios.is_empty() {
                self.scenarios = Scenario::ALL.map(Choice::Load).to_vec();
                self.scenarios.push(Choice::Attack);
            }
        }
    }
}

fn main() -> std::process::ExitCode {
    let mut args = Args::parse();
    args.apply_smoke();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    // On Ctrl-C the run is dropped, and with it its servers (killed), its
    // temporary folders and its scratch databases (dropped).
    let interruptible = async {
        tokio::select! {
            outcome = run(args) => outcome,
            _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
        }
    };
    match runtime.block_on(interruptible) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// Only loopback: `http://127.0.0.1:PORT` or `http://localhost:PORT`.
fn loopback_address(url: &str) -> anyhow::Result<String> {
    let rest = url
        .strip_prefix("http://")
        .context("--url must start with http://")?;
    let authority = rest.split('/').next().unwrap_or_default();
    let (host, port) = authority
        .rsplit_once(':')
        .context("--url must name a port")?;
    let port: u16 = port.parse().context("--url has an invalid port")?;
    if host != "127.0.0.1" && host != "localhost" {
        bail!("the benchmark only sends traffic to 127.0.0.1; {host} is not allowed");
    }
    Ok(format!("127.0.0.1:{port}"))
}

fn basic(key: &str, secret: &str) -> anyhow::Result<HeaderValue> {
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{key}:{secret}"));
    Ok(HeaderValue::from_str(&format!("Basic {encoded}"))?)
}

/// The running server, when the benchmark started it.
struct Owned {
    binary: PathBuf,
    // Declared before its store, so that it is stopped before the store is
    // removed when an error drops this.
    server: Server,
    max_batch: Option<usize>,
    // Removed when the benchmark ends (a scratch database is dropped).
    store: Fresh,
    _dir: tempfile::TempDir,
}

/// pgbench's settings: the issue's, or tiny ones for `--smoke`.
fn pgbench_settings(smoke: bool) -> pgbench::Settings {
    pgbench::Settings {
        scale: if smoke { 1 } else { 10 },
        duration: Duration::from_secs(if smoke { 1 } else { 8 }),
        clients: 16,
        threads: 2,
    }
}

/// The folder for a temporary store and seed: under `--dir` when given.
fn temporary_folder(dir: Option<&std::path::Path>) -> anyhow::Result<tempfile::TempDir> {
    match dir {
        Some(dir) => tempfile::tempdir_in(dir),
        None => tempfile::tempdir(),
    }
    .context("cannot create a temporary folder")
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let world = World::new(args.users, args.calls)?;
    if let Some(path) = &args.write_seed {
        let secret = args.secret.clone().unwrap_or_else(dataset::random_secret);
        world.write_seed(path, &secret)?;
        println!(
            "wrote {}; key {} secret {secret}",
            path.display(),
            dataset::ACCESS_KEY
        );
        return Ok(true);
    }
    let scenarios: Vec<Scenario> = if args.scenarios.is_empty() {
        Scenario::ALL.to_vec()
    } else {
        args.scenarios
            .iter()
            .filter_map(|choice| match choice {
                Choice::Load(scenario) => Some(*scenario),
                Choice::Attack | Choice::Reset | Choice::Viewers | Choice::Audit => None,
            })
            .collect()
    };
    let backend = Backend::from_url(args.database.as_deref()).await?;
    if matches!(backend, Backend::Postgres { .. }) && args.path_mode == PathMode::PerRequest {
        bail!("--path-mode per-request is SQLite's writer setting; PostgreSQL runs one transaction per request already");
    }
    let binary = match &args.url {
        Some(_) => None,
        None => Some(server::locate(args.server_bin.as_deref())?),
    };
    let pressure = if args.scenarios.contains(&Choice::Attack) {
        Some(run_attack(&args, &backend, binary.as_deref()).await?)
    } else {
        None
    };
    let reset_ran = args.scenarios.contains(&Choice::Reset);
    if reset_ran {
        let binary = binary
            .as_deref()
            .context("reset needs a server the benchmark starts (not --url)")?;
        let dir = temporary_folder(args.dir.as_deref())?;
        let rounds = if args.smoke {
            3
        } else {
            args.reset_rounds.max(1)
        };
        let outcome = reset::run(&backend, binary, dir.path(), rounds).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        } else {
            print!("{}", outcome.markdown());
        }
    }
    let viewers_ran = args.scenarios.contains(&Choice::Viewers);
    if viewers_ran {
        let binary = binary
            .as_deref()
            .context("viewers needs a server the benchmark starts (not --url)")?;
        let dir = temporary_folder(args.dir.as_deref())?;
        let rounds = if args.smoke { 3 } else { 20 };
        let outcome = viewers::run(&backend, binary, dir.path(), rounds).await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&outcome)?);
        } else {
            print!("{}", outcome.markdown());
        }
    }
    let audit_ran = args.scenarios.contains(&Choice::Audit);
    if audit_ran {
        let binary = binary
            .as_deref()
            .context("audit needs a server the benchmark starts (not --url)")?;
        let dir = temporary_folder(args.dir.as_deref())?;
        let (entries, rounds) = if args.smoke {
            (10_000, 3)
        } else {
            (args.audit_entries, 20)
        };
        let measured = audit::run(&backend, binary, dir.path(), entries, rounds).await?;
        print!("{}", measured.markdown());
    }
    if scenarios.is_empty() && pressure.is_none() && (reset_ran || viewers_ran || audit_ran) {
        return Ok(true);
    }
    if scenarios.is_empty() {
        let Some(pressure) = pressure else {
            bail!("no scenarios to run");
        };
        if args.json {
            println!("{}", serde_json::to_string_pretty(&pressure)?);
        } else {
            print!("{}", report::pressure_markdown(&pressure));
        }
        return Ok(pressure_healthy(&pressure));
    }
    let max_batch = match args.path_mode {
        PathMode::Group => None,
        PathMode::PerRequest => Some(1),
    };

    let mut info = StoreInfo::default();
    let (address, authorization, owned) = match &args.url {
        Some(url) => {
            let key = args.key.as_deref().unwrap_or_default();
            let secret = args.secret.as_deref().unwrap_or_default();
            (loopback_address(url)?, basic(key, secret)?, None)
        }
        None => {
            let binary = binary.context("no server binary")?;
            let dir = temporary_folder(args.dir.as_deref())?;
            let fresh = backend.fresh(dir.path(), Purpose::Scenarios).await?;
            let seed = dir.path().join("seed.json");
            let secret = dataset::random_secret();
            eprintln!(
                "seeding {} users and {} calls into {}",
                args.users,
                args.calls,
                fresh.store.describe()
            );
            world.write_seed(&seed, &secret)?;
            info.seed_seconds = Some(server::import(&binary, &fresh.store, &seed)?.as_secs_f64());
            let server = Server::start(&binary, &fresh.store, max_batch)?;
            info.first_startup_ms = Some(server.startup.as_secs_f64() * 1000.0);
            eprintln!("server pid {} on {}", server.pid(), server.address);
            let address = server.address.clone();
            let owned = Owned {
                binary,
                server,
                max_batch,
                store: fresh,
                _dir: dir,
            };
            (address, basic(dataset::ACCESS_KEY, &secret)?, Some(owned))
        }
    };
    let chart = dataset::Chart { users: args.users };
    let target = Arc::new(Target {
        address,
        authorization,
        world,
        flat: dataset::Pool::new(chart, args.calls, false),
        hierarchy: dataset::Pool::new(chart, args.calls, true),
    });

    if args.grants > 0 {
        let started = Instant::now();
        preload(&target, args.grants, args.connections.clamp(1, 8)).await?;
        let seconds = started.elapsed().as_secs_f64();
        info.preload_seconds = Some(seconds);
        eprintln!(
            "stored {} grants in {seconds:.1} s ({:.0} pairs/s)",
            args.grants,
            args.grants as f64 / seconds
        );
    }
    // Startup on the loaded store: stop (flush, checkpoint) and start again.
    let (target, owned) = match owned {
        Some(own) => {
            let own = restart(own, &mut info).await?;
            // The restarted server listens on a new port.
            let mut moved = (*target).clone();
            moved.address = own.server.address.clone();
            (Arc::new(moved), Some(own))
        }
        None => (target, None),
    };
    measure(args, &backend, scenarios, target, owned, info, pressure).await
}

/// The attack scenario: on a server of its own with
/// `--attack-max-connections`, on an empty store of the run's backend (it
/// only asks `/healthz`), or on the `--url` server.
async fn run_attack(
    args: &Args,
    backend: &Backend,
    binary: Option<&std::path::Path>,
) -> anyhow::Result<attack::Pressure> {
    let settings = attack::Settings {
        max_connections: args.attack_max_connections,
        attackers: args
            .attack_connections
            .unwrap_or(2 * args.attack_max_connections),
        duration: args.duration,
    };
    eprintln!(
        "(g) fresh requests under connection pressure: {} attackers, --max-connections {}",
        settings.attackers, settings.max_connections
    );
    match (&args.url, binary) {
        (Some(url), _) => attack::run(&loopback_address(url)?, settings).await,
        (None, Some(binary)) => {
            let dir = temporary_folder(args.dir.as_deref())?;
            let fresh = backend.fresh(dir.path(), Purpose::Attack).await?;
            let server =
                Server::start_with(binary, &fresh.store, None, Some(settings.max_connections))?;
            eprintln!("server pid {} on {}", server.pid(), server.address);
            let pressure = attack::run(&server.address, settings).await;
            // Its store holds nothing, and a clean stop could wait out the
            // shutdown grace for connections the attack left queued.
            server.kill()?;
            pressure
        }
        (None, None) => bail!("no server binary"),
    }
}

/// No fresh request was refused or answered other than 200. Timeouts are
/// not failures: like the latency, they are what the table reports (a
/// server without room for fresh clients shows them, see
/// docs/PERFORMANCE.md).
fn pressure_healthy(pressure: &attack::Pressure) -> bool {
    let healthy = pressure.errors == 0 && pressure.answered + pressure.timeouts > 0;
    for sample in &pressure.error_samples {
        eprintln!("  error: {sample}");
    }
    if !healthy {
        eprintln!("fresh requests under connection pressure failed");
    }
    healthy
}

/// Stops the server and starts it again on the same store, recording how
/// long the start took, the store's size and the idle memory.
async fn restart(own: Owned, info: &mut StoreInfo) -> anyhow::Result<Owned> {
    let Owned {
        binary,
        server,
        max_batch,
        store,
        _dir,
    } = own;
    server.stop()?;
    info.store_bytes = store.store.bytes().await;
    let server = Server::start(&binary, &store.store, max_batch)?;
    info.restart_ms = Some(server.startup.as_secs_f64() * 1000.0);
    info.idle_rss = server::rss_bytes(server.pid());
    eprintln!(
        "restarted on the loaded store in {:.0} ms: server pid {} on {}",
        server.startup.as_secs_f64() * 1000.0,
        server.pid(),
        server.address
    );
    Ok(Owned {
        binary,
        server,
        max_batch,
        store,
        _dir,
    })
}

async fn measure(
    args: Args,
    backend: &Backend,
    scenarios: Vec<Scenario>,
    mut target: Arc<Target>,
    mut owned: Option<Owned>,
    mut info: StoreInfo,
    pressure: Option<attack::Pressure>,
) -> anyhow::Result<bool> {
    let pid = owned.as_ref().map(|o| o.server.pid()).or(args.server_pid);
    let cursors = Arc::new(Cursors::new(args.grants));
    // The store's counters appear on first use, and the restart reset
    // them: one /readyz (a ping of the store) makes them exist, so that a
    // scenario without round trips shows 0 rather than "–".
    let _ = get_text(&target.address, "/readyz").await;
    let mut rows = Vec::new();
    let mut ceiling = None;
    for scenario in scenarios {
        eprintln!("{}", scenario.label());
        let before = snapshot(&target.address).await;
        let fallbacks = cursors.fallbacks.load(Ordering::Relaxed);
        let peak = Arc::new(AtomicU64::new(0));
        let sampler = pid.map(|pid| {
            let peak = Arc::clone(&peak);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(Duration::from_millis(200));
                loop {
                    tick.tick().await;
                    if let Some(rss) = server::rss_bytes(pid) {
                        peak.fetch_max(rss, Ordering::Relaxed);
                    }
                }
            })
        });
        // CPU time of the server and of this process over the measured
        // window (after the warm-up): what one request costs each side,
        // which varies far less between runs than the rate does.
        let warmup = args.warmup;
        let cpu_start = tokio::spawn(async move {
            tokio::time::sleep(warmup).await;
            (
                pid.and_then(server::cpu_seconds),
                server::cpu_seconds(std::process::id()),
            )
        });
        let measured = load::run(
            scenario,
            &target,
            &cursors,
            args.connections,
            args.warmup,
            args.duration,
        )
        .await?;
        let cpu_end = (
            pid.and_then(server::cpu_seconds),
            server::cpu_seconds(std::process::id()),
        );
        let cpu_start = cpu_start.await.unwrap_or((None, None));
        if let Some(sampler) = sampler {
            sampler.abort();
        }
        let after = snapshot(&target.address).await;
        let row = Row::new(
            scenario,
            &measured,
            pid.map(|_| peak.load(Ordering::Relaxed)),
            ceiling,
            cursors.fallbacks.load(Ordering::Relaxed) - fallbacks,
            before.as_ref().zip(after.as_ref()),
            (
                cpu_start.0.zip(cpu_end.0).map(|(a, b)| b - a),
                cpu_start.1.zip(cpu_end.1).map(|(a, b)| b - a),
            ),
        );
        if scenario == Scenario::Healthz {
            ceiling = Some(row.requests_per_second);
        }
        for sample in &measured.error_samples {
            eprintln!("  error: {sample}");
        }
        rows.push(row);
    }
    let mut comparisons = Vec::new();
    for (trial, rounds) in [
        (onoff::Trial::Journal, args.journal_rounds),
        (onoff::Trial::Faults, args.fault_rounds),
    ] {
        if rounds == 0 {
            continue;
        }
        match owned.take() {
            Some(own) => {
                let settings = onoff::Settings {
                    rounds,
                    connections: args.connections,
                    warmup: args.warmup,
                    duration: args.duration,
                };
                let (own, moved, comparison) =
                    onoff::compare(trial, own, target, &cursors, &settings).await?;
                owned = Some(own);
                target = moved;
                comparisons.push(comparison);
            }
            None => eprintln!(
                "--journal-rounds and --fault-rounds need a server the benchmark starts (not --url)"
            ),
        }
    }
    let passes = args.user_passes.unwrap_or(if args.smoke { 1 } else { 3 });
    for _ in 0..passes {
        let (pages, seconds) = page_through_users(&target).await?;
        eprintln!("paged through all users: {pages} pages in {seconds:.2} s");
        info.user_pages = Some(pages);
        info.user_pass_seconds.push(seconds);
    }
    if let Some(own) = owned {
        info.store_bytes_after = own.store.store.bytes().await;
        crash_restart(own, &target, &cursors, &mut info).await?;
    }
    // With the callaccess node stopped, so it takes no CPU from PostgreSQL.
    let pgbench = match backend {
        Backend::Postgres { .. } => {
            Some(run_pgbench(backend, args.dir.as_deref(), args.smoke).await)
        }
        Backend::Sqlite => None,
    };
    let pgbench_ratios = report::pgbench_ratios(&rows, pgbench.as_ref());
    let report = Report {
        backend: match &args.url {
            Some(url) => format!("the server at {url}"),
            None => backend.describe(),
        },
        connections: args.connections,
        duration_seconds: args.duration.as_secs_f64(),
        users: args.users,
        calls: args.calls,
        grants: args.grants,
        path_mode: match (backend, args.path_mode) {
            (Backend::Postgres { .. }, _) => "one transaction per request",
            (Backend::Sqlite, PathMode::Group) => "group-commit",
            (Backend::Sqlite, PathMode::PerRequest) => "per-request",
        },
        store: info,
        rows,
        pressure,
        pgbench,
        pgbench_ratios,
    };
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", report.markdown());
    }
    for comparison in &comparisons {
        // After the report: with --json, as further documents.
        if args.json {
            println!("{}", serde_json::to_string_pretty(comparison)?);
        } else {
            print!("{}", comparison.markdown());
        }
    }
    let comparisons_ok = comparisons.iter().all(onoff::Comparison::healthy);
    let healthy = report
        .rows
        .iter()
        .all(|row| row.errors == 0 && row.requests > 0);
    if !healthy {
        eprintln!("some scenarios had errors or no answers at all");
    }
    let pressure_ok = report.pressure.as_ref().is_none_or(pressure_healthy);
    Ok(healthy && pressure_ok && comparisons_ok)
}

/// One client pages through every user of the company with `GET
/// /v2/users`, following each page's cursor: the pages, and the seconds
/// from the first request to the last answer. Fails unless every user is
/// listed once.
async fn page_through_users(target: &Target) -> anyhow::Result<(u64, f64)> {
    let mut connection = load::Connection::open(&target.address).await?;
    let started = Instant::now();
    let mut cursor: Option<String> = None;
    let (mut pages, mut users) = (0u64, 0u64);
    loop {
        let path = match &cursor {
            Some(cursor) => format!("/v2/users?cursor={cursor}"),
            None => "/v2/users".to_owned(),
        };
        let body = connection
            .get(target, &path)
            .await
            .map_err(|e| anyhow::anyhow!("GET /v2/users: {e}"))?;
        let page: serde_json::Value = serde_json::from_slice(&body)?;
        pages += 1;
        users += page["users"].as_array().map_or(0, |u| u.len() as u64);
        match page["records"]["cursor"].as_str() {
            // Cursors are URL-safe base64: no escaping needed.
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    anyhow::ensure!(
        users == target.world.users,
        "paging listed {users} users, but the company has {}",
        target.world.users
    );
    Ok((pages, seconds))
}

/// pgbench on the PostgreSQL server, in a scratch database of its own that
/// is dropped afterwards; never an error, only an outcome to report.
async fn run_pgbench(
    backend: &Backend,
    dir: Option<&std::path::Path>,
    smoke: bool,
) -> pgbench::Outcome {
    let Some(program) = pgbench::locate() else {
        eprintln!("pgbench not found; no ratios to PostgreSQL's own rates");
        return pgbench::Outcome::Missing {
            looked_in: pgbench::looked_in(),
        };
    };
    let run = async {
        let folder = temporary_folder(dir)?;
        let fresh = backend.fresh(folder.path(), Purpose::Pgbench).await?;
        let url = match &fresh.store {
            store::Store::Postgres(url) => url.clone(),
            store::Store::Sqlite(_) => bail!("pgbench needs PostgreSQL"),
        };
        pgbench::run(&program, &url, pgbench_settings(smoke)).await
    };
    match run.await {
        Ok(baseline) => pgbench::Outcome::Ran(baseline),
        Err(e) => {
            eprintln!("pgbench failed: {e:#}");
            pgbench::Outcome::Failed {
                error: format!("{e:#}"),
            }
        }
    }
}

/// Startup after a crash under load: kills the server with SIGKILL while
/// 1,000-pair PUTs are being written, starts it again on the same store
/// (SQLite recovers the write-ahead log; PostgreSQL rolled back what was
/// in flight) and stops it cleanly.
async fn crash_restart(
    own: Owned,
    target: &Arc<Target>,
    cursors: &Arc<Cursors>,
    info: &mut StoreInfo,
) -> anyhow::Result<()> {
    eprintln!("startup after kill -9 during 1,000-pair PUTs");
    let load = {
        let (target, cursors) = (Arc::clone(target), Arc::clone(cursors));
        tokio::spawn(async move {
            load::run(
                Scenario::Put1000,
                &target,
                &cursors,
                8,
                Duration::ZERO,
                Duration::from_secs(30),
            )
            .await
        })
    };
    // Let the log fill; a fixed time is fine here, nothing is asserted.
    tokio::time::sleep(Duration::from_secs(2)).await;
    info.wal_bytes_at_crash = own.store.store.log_bytes();
    let Owned {
        binary,
        server,
        max_batch,
        store,
        _dir,
    } = own;
    server.kill()?;
    // The connections fail once the server is gone; that is the point.
    let _ = load.await;
    let server = Server::start(&binary, &store.store, max_batch)?;
    info.crash_restart_ms = Some(server.startup.as_secs_f64() * 1000.0);
    server.stop()
}

/// Stores `grants` grants (pair numbers `0 .. grants`) with 1,000-pair PUTs
/// on a few connections.
async fn preload(target: &Arc<Target>, grants: u64, connections: usize) -> anyhow::Result<()> {
    const CHUNK: u64 = 1_000;
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..connections {
        let target = Arc::clone(target);
        let next = Arc::clone(&next);
        tasks.push(tokio::spawn(async move {
            let mut sender = load::Connection::open(&target.address).await?;
            loop {
                let first = next.fetch_add(CHUNK, Ordering::Relaxed);
                if first >= grants {
                    return Ok::<_, anyhow::Error>(());
                }
                let count = CHUNK.min(grants - first);
                let body = target.world.change_body(first, count);
                sender
                    .put(&target, body)
                    .await
                    .map_err(|e| anyhow::anyhow!("preloading grants failed: {e}"))?;
                let done = first + count;
                if done.is_multiple_of(1_000_000) {
                    eprintln!("  {done} grants stored");
                }
            }
        }));
    }
    for task in tasks {
        task.await.context("a preload task failed")??;
    }
    Ok(())
}

/// One reading of `/metrics`; `None` when the server does not serve it
/// there.
async fn snapshot(address: &str) -> Option<Snapshot> {
    let text = get_text(address, "/metrics").await.ok()?;
    Some(Snapshot::parse(&text))
}

async fn get_text(address: &str, path: &str) -> anyhow::Result<String> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let request = Request::get(path)
        .header(HOST, HeaderValue::from_str(address)?)
        .body(Full::new(Bytes::new()))?;
    let response = sender.send_request(request).await?;
    let body = response.into_body().collect().await?.to_bytes();
    Ok(String::from_utf8_lossy(&body).into_owned())
}
