//! Serving: open the store, apply a seed or the demo, bind, serve until a
//! shutdown signal, then let requests in flight finish and flush the store.
//!
//! [`serve_with`] is the seam tests use: it takes a bound listener, the
//! backend, the options and a shutdown future, so a test binds port 0 first
//! and never waits for the server. Connections are served by hyper directly (not `axum::serve`) so
//! that the header read timeout, the connection limit and the shutdown grace
//! period can be set.

use callaccess_domain::Origin;
use std::future::Future;
use std::path::Path;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use anyhow::Context as _;
use axum::Router;
use callaccess_domain::seed::Seed;
use callaccess_domain::{Clock, Store};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulConnection;
use hyper_util::service::TowerToHyperService;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::ServiceExt as _;

use crate::cli::{LogFormat, ServeArgs};
use crate::config::Settings;
use crate::connections::{Connection, Stop, Table};
use crate::db::{open_with, Backend, DatabaseUrl};
use crate::faults::ConnectionEffect;
use crate::http::{metrics_router, router, AppState, Limits};
use crate::ratelimit::RateLimitDefaults;
use crate::wire::{Cut, CutSwitch, Wire};

/// How one listener serves.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub limits: Limits,
    pub rate_limits: RateLimitDefaults,
    /// Connections served at once; at the limit, one with nothing in flight
    /// is closed for a new one, else new ones wait (see `connections`).
    pub max_connections: usize,
    /// After shutdown is asked for, how long requests in flight may take.
    pub shutdown_grace: Duration,
    /// Serve `/metrics` on this listener.
    pub metrics: bool,
    /// Where the server reads the time: rate-limit windows, credential
    /// expiry and the admin API's clock. The store must be opened on the
    /// same clock (`db::open_with`), so that what it stores follows it too.
    /// Manual with `serve --clock manual` and in tests.
    pub clock: Clock,
    /// Entries the request journal keeps; 0 keeps none.
    pub journal_size: usize,
    /// The fault rules the server starts with (shared: tests may hold it).
    pub faults: Arc<crate::faults::Faults>,
    /// How often an idle change stream sends a heartbeat.
    pub changes_heartbeat: Duration,
    /// Audit entries older than this are pruned; `None` keeps them all.
    pub audit_retention: Option<Duration>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            rate_limits: RateLimitDefaults::default(),
            max_connections: 1024,
            shutdown_grace: Duration::from_secs(30),
            metrics: true,
            clock: Clock::system(),
            journal_size: crate::config::DEFAULT_JOURNAL_SIZE,
            faults: Arc::new(crate::faults::Faults::new()),
            changes_heartbeat: crate::http::admin::audit::DEFAULT_HEARTBEAT,
            audit_retention: None,
        }
    }
}

/// The process-wide Prometheus recorder, installed on first use.
pub fn metrics_handle() -> Option<PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];
            let batch_sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0];
            let builder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Suffix("batch_size".to_owned()), &batch_sizes));
            match builder.and_then(PrometheusBuilder::install_recorder) {
                Ok(handle) => Some(handle),
                Err(e) => {
                    tracing::warn!(error = %e, "metrics are disabled: the recorder could not be installed");
                    None
                }
            }
        })
        .clone()
}

/// Serves the API on `listener` until `shutdown` completes, then stops
/// accepting and gives requests in flight the grace period to finish.
pub async fn serve_with(
    listener: TcpListener,
    backend: Backend,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_split(listener, None, backend, options, shutdown).await
}

/// [`serve_with`], with the admin API on a listener of its own when
/// `admin` is given (`--admin-listen`): `listener` then serves the API
/// only, and `/admin/v1` there answers 404. Both share one state (store,
/// journal, faults, clock) and stop together.
pub async fn serve_split(
    listener: TcpListener,
    admin: Option<TcpListener>,
    backend: Backend,
    options: ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    // One shutdown stops every listener, the change stream and retention.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    // The change stream needs the audit trail; a store that cannot be read
    // now leaves the server without it (its route answers 503) rather than
    // unable to start, since the API does not depend on it.
    let changes = match crate::changes::Changes::start(backend.store.clone(), stop_rx.clone()).await
    {
        Ok(changes) => Some(changes),
        Err(e) => {
            tracing::warn!(error = %e, "the change stream could not start; /admin/v1/changes will answer 503");
            None
        }
    };
    if let Some(retention) = options.audit_retention {
        tokio::spawn(crate::changes::retain(
            backend.store.clone(),
            options.clock.clone(),
            retention,
            stop_rx.clone(),
        ));
    }
    let state = AppState {
        limiter: backend.limiter(&options.clock),
        credentials: backend.credentials,
        store: backend.store,
        limits: options.limits,
        rate_limits: options.rate_limits,
        metrics: if options.metrics {
            metrics_handle()
        } else {
            None
        },
        clock: options.clock.clone(),
        journal: Arc::new(crate::journal::Journal::new(options.journal_size)),
        faults: options.faults.clone(),
        changes,
        changes_heartbeat: options.changes_heartbeat,
    };
    let Some(admin) = admin else {
        return accept_loop(listener, router(state), &options, stopped(stop_rx)).await;
    };
    let admin_app = crate::http::admin_router(state.clone());
    let admin_options = options.clone();
    let admin_stop = stopped(stop_rx.clone());
    let admin_task =
        tokio::spawn(
            async move { accept_loop(admin, admin_app, &admin_options, admin_stop).await },
        );
    let served = accept_loop(
        listener,
        crate::http::api_router(state),
        &options,
        stopped(stop_rx),
    )
    .await;
    let admin_served = admin_task.await.map_err(std::io::Error::other)?;
    served.and(admin_served)
}

async fn accept_loop(
    listener: TcpListener,
    app: Router,
    options: &ServeOptions,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(options.limits.header_read_timeout);
    let table = Table::new(options.max_connections);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Running out of file descriptors is the usual cause;
                    // back off briefly rather than spin.
                    tracing::warn!(error = %e, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // At the limit, room is made for the new connection by closing one
        // that has nothing in flight (see `connections`); while every
        // connection has a request in flight it waits here, and the ones
        // after it in the kernel's queue.
        tokio::select! {
            () = table.room() => {}
            () = &mut shutdown => break,
        }
        let _ = stream.set_nodelay(true);
        let connection = table.insert(peer.ip());
        let switch = Arc::new(CutSwitch::default());
        let service = {
            let (app, connection) = (app.clone(), Arc::clone(&connection));
            let switch = Arc::clone(&switch);
            tower::service_fn(move |request: hyper::Request<hyper::body::Incoming>| {
                let in_flight = connection.request();
                let version = request.version();
                let answer = app.clone().oneshot(request);
                let switch = Arc::clone(&switch);
                async move {
                    let mut response = answer.await;
                    if let Ok(answer) = &mut response {
                        if let Some(effect) = answer.extensions_mut().remove::<ConnectionEffect>() {
                            let whole = std::mem::take(answer);
                            *answer = cut_answer(&switch, effect, version, whole).await;
                        }
                    }
                    drop(in_flight);
                    response
                }
            })
        };
        let served = builder
            .serve_connection_with_upgrades(
                TokioIo::new(Wire::new(stream, peer).with_switch(switch)),
                TowerToHyperService::new(service),
            )
            .into_owned();
        tokio::spawn(serve_connection(served, connection));
    }
    drop(listener);
    table.stop_all();
    if tokio::time::timeout(options.shutdown_grace, table.drained())
        .await
        .is_err()
    {
        tracing::warn!(grace = ?options.shutdown_grace, "requests still in flight at the end of the grace period were cut off");
    }
    Ok(())
}

/// Arms the connection's switch for a fault rule's connection effect on
/// `answer`, which is then written as far as the cut lets it (see `wire`).
/// For `truncate` the body is read whole first, so that its full length is
/// in the head and its first half is what the client gets.
async fn cut_answer(
    switch: &CutSwitch,
    effect: ConnectionEffect,
    version: axum::http::Version,
    answer: axum::response::Response,
) -> axum::response::Response {
    use http_body_util::BodyExt as _;

    match effect {
        ConnectionEffect::Reset => switch.arm(Cut::Reset),
        // HTTP/2 has no head and body to cut between: the connection ends.
        ConnectionEffect::Empty => switch.arm(Cut::Empty),
        ConnectionEffect::Truncate if version == axum::http::Version::HTTP_2 => {
            switch.arm(Cut::Empty);
        }
        ConnectionEffect::Truncate => {
            let (mut parts, body) = answer.into_parts();
            // The fault's own answer is a small body in memory; it cannot fail.
            let bytes = body
                .collect()
                .await
                .map(http_body_util::Collected::to_bytes)
                .unwrap_or_default();
            parts
                .headers
                .insert(axum::http::header::CONTENT_LENGTH, bytes.len().into());
            switch.arm(Cut::Truncate {
                body: bytes.len() / 2,
            });
            return axum::response::Response::from_parts(parts, axum::body::Body::from(bytes));
        }
    }
    answer
}

/// Serves one connection until it ends, or until it is asked to stop: at
/// once when it has nothing in flight and was closed to make room, else
/// after the request in flight (hyper's graceful shutdown).
async fn serve_connection<C>(served: C, connection: Arc<Connection>)
where
    C: GracefulConnection,
    C::Error: std::fmt::Display,
{
    tokio::pin!(served);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = served.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            how = connection.stopped(), if !stopping => match how {
                Stop::Now => break,
                Stop::AfterInFlight => {
                    served.as_mut().graceful_shutdown();
                    stopping = true;
                }
            },
        }
    }
}

/// Installs the global log subscriber: one line per event on stderr, as text
/// or JSON, filtered by `RUST_LOG` (default `info`).
///
/// Lines are written by a thread of their own, in batches
/// ([`crate::logsink`]): a request only formats its line and appends it to
/// a buffer. Writing each line to stderr from the request's thread cost a
/// system call and the stderr lock per request, a third of the time of the
/// cheapest route (docs/PERFORMANCE.md). Nothing is dropped; the returned
/// guard writes what is left when dropped, so hold it until the process
/// ends. Lines logged in the last moments before a `kill -9` are lost with
/// the process.
pub fn init_logging(format: LogFormat) -> Option<crate::logsink::LogGuard> {
    use std::io::IsTerminal as _;
    use tracing_subscriber::fmt::writer::BoxMakeWriter;

    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let (writer, guard) = match crate::logsink::LogSink::start(std::io::stderr()) {
        Ok((sink, guard)) => (BoxMakeWriter::new(sink), Some(guard)),
        // Without the thread, every line is written from the caller's thread.
        Err(e) => {
            eprintln!("cannot start the log thread ({e}); writing log lines directly");
            (BoxMakeWriter::new(std::io::stderr), None)
        }
    };
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        // Colour codes only for a person at a terminal; in a file, a pipe or
        // a log collector they are noise.
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(writer);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
    guard
}

/// Reads and checks a file of fault rules (one rule or an array, as
/// `POST /admin/v1/faults` takes); every problem is reported.
pub fn load_faults_file(path: &Path) -> anyhow::Result<crate::faults::Faults> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the fault rules file {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text).with_context(|| {
        format!(
            "the fault rules file {} is not JSON; fix its syntax",
            path.display()
        )
    })?;
    let rules = crate::faults::parse_rules(&value).map_err(|messages| {
        anyhow::anyhow!(
            "the fault rules file {} was rejected:\n  {}",
            path.display(),
            messages.join("\n  ")
        )
    })?;
    tracing::info!(
        rules = rules.len(),
        "fault rules loaded from {}",
        path.display()
    );
    Ok(crate::faults::Faults::with_rules(rules))
}

/// Reads, parses and applies a seed file; every problem is reported.
pub async fn apply_seed_file(store: &dyn Store, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seed file {}", path.display()))?;
    let rejected = |messages: Vec<String>| {
        anyhow::anyhow!(
            "the seed file {} was rejected:\n  {}",
            path.display(),
            messages.join("\n  ")
        )
    };
    let seed = Seed::parse(&text).map_err(rejected)?;
    let summary = store
        .apply_seed(&Origin::seed(), &seed)
        .await
        .map_err(|e| match e {
            callaccess_domain::StoreError::SeedRejected(messages) => rejected(messages),
            other => anyhow::Error::new(other),
        })?;
    tracing::info!(
        companies = summary.companies,
        users = summary.users,
        calls = summary.calls,
        "seed applied from {}",
        path.display()
    );
    Ok(())
}

/// A future that resolves on SIGINT or SIGTERM. The handlers are installed
/// when this is called, not when the future is first polled: a signal that
/// arrives right after the server says it is listening must stop it
/// gracefully, not kill it with the default action.
fn shutdown_signal() -> impl Future<Output = ()> + Send + 'static {
    #[cfg(unix)]
    let terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate());
    #[cfg(unix)]
    let interrupt = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt());
    async move {
        #[cfg(unix)]
        {
            let wait = |signal: std::io::Result<tokio::signal::unix::Signal>| async move {
                match signal {
                    Ok(mut signal) => {
                        signal.recv().await;
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot listen for a shutdown signal");
                        std::future::pending::<()>().await;
                    }
                }
            };
            tokio::select! {
                () = wait(interrupt) => {},
                () = wait(terminate) => {},
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        tracing::info!("shutdown requested; finishing requests in flight");
    }
}

/// `callaccess serve`.
pub async fn run(args: ServeArgs, settings: Settings) -> anyhow::Result<()> {
    let _log_guard = init_logging(settings.log_format);
    // First, so that a signal at any moment from here on stops the server
    // gracefully (a seed or migration in progress completes or rolls back).
    let signalled = shutdown_signal();
    // The demo's database lives in a temporary folder removed at exit.
    let demo_dir = if args.demo {
        Some(tempfile::tempdir().context("cannot create a temporary folder")?)
    } else {
        None
    };
    let database = match &demo_dir {
        Some(dir) => DatabaseUrl::Sqlite(dir.path().join("demo.db")),
        None => settings.database.clone(),
    };
    // One clock for the whole server: the store's stored times, the rate
    // limiters, credential expiry and the admin API read the same one.
    let clock = settings.control.clock.clock();
    if clock.is_manual() {
        tracing::info!(now = %clock.now(), "on a manual clock, moved only through POST /admin/v1/clock");
    }
    let backend = open_with(&database, &settings.pool, &clock)
        .await
        .with_context(|| format!("cannot open the database {database}"))?;
    let store = backend.store.clone();
    let demo = match demo_dir {
        Some(_) => Some(
            crate::demo::prepare(store.as_ref(), clock.now())
                .await
                .context("cannot create the demo data")?,
        ),
        None => None,
    };
    if let Some(seed) = &args.seed {
        apply_seed_file(store.as_ref(), seed).await?;
    }
    // Before listening, so that the first request already meets the rules.
    let faults = match &settings.control.faults {
        Some(path) => Arc::new(load_faults_file(path)?),
        None => Arc::new(crate::faults::Faults::new()),
    };
    let listener = TcpListener::bind(settings.server.listen)
        .await
        .with_context(|| format!("cannot listen on {}", settings.server.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;

    // One signal stops both listeners.
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        signalled.await;
        let _ = stop_tx.send(true);
    });
    let stopped = |mut rx: watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };

    let metrics_task = match settings.server.metrics_listen {
        Some(metrics_address) => {
            let metrics_listener = TcpListener::bind(metrics_address)
                .await
                .with_context(|| format!("cannot listen on {metrics_address} for metrics"))?;
            tracing::info!(
                "metrics on http://{}/metrics",
                metrics_listener.local_addr()?
            );
            let handle = metrics_handle().context("metrics are unavailable")?;
            let options = ServeOptions {
                metrics: false,
                ..options(&settings, &clock)
            };
            let app = metrics_router(handle);
            let stop = stopped(stop_rx.clone());
            Some(tokio::spawn(async move {
                accept_loop(metrics_listener, app, &options, stop).await
            }))
        }
        None => None,
    };

    // `--admin-listen`: the admin API there, and not on `address`.
    let admin_listener = match settings.control.admin_listen {
        Some(admin_address) => {
            let admin_listener = TcpListener::bind(admin_address)
                .await
                .with_context(|| format!("cannot listen on {admin_address} for the admin API"))?;
            tracing::info!(
                "admin API on http://{}/admin/v1",
                admin_listener.local_addr()?
            );
            Some(admin_listener)
        }
        None => None,
    };
    let admin_base = match &admin_listener {
        Some(admin_listener) => format!("http://{}", admin_listener.local_addr()?),
        None => format!("http://{address}"),
    };

    tracing::info!(backend = store.backend(), database = %database, "listening on http://{address}");
    if let Some(demo) = &demo {
        println!("{}", demo.banner(&format!("http://{address}"), &admin_base));
    }
    let options = ServeOptions {
        metrics: settings.server.metrics_listen.is_none(),
        faults,
        ..options(&settings, &clock)
    };
    let served = serve_split(listener, admin_listener, backend, options, stopped(stop_rx)).await;
    if let Some(task) = metrics_task {
        let _ = task.await;
    }
    // Flush before reporting, so an acknowledged write is never lost at exit.
    let closed = store.close().await;
    served.context("the server failed")?;
    closed.context("cannot close the database cleanly")?;
    tracing::info!("stopped");
    Ok(())
}

fn options(settings: &Settings, clock: &Clock) -> ServeOptions {
    ServeOptions {
        limits: settings.limits,
        rate_limits: settings.rate_limit,
        max_connections: settings.server.max_connections,
        shutdown_grace: settings.server.shutdown_grace,
        metrics: true,
        clock: clock.clone(),
        journal_size: settings.control.journal_size,
        changes_heartbeat: settings.control.changes_heartbeat,
        audit_retention: settings.control.audit_retention,
        ..ServeOptions::default()
    }
}
