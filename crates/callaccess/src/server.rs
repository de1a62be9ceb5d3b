//! Serving: open the store, apply a seed or the demo, bind, serve until a
//! shutdown signal, then flush the store.
//!
//! [`serve`] is the seam tests use: it takes a bound listener and a shutdown
//! future, so a test binds port 0 first and never waits for the server.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use callaccess_domain::seed::Seed;
use callaccess_domain::Store;
use tokio::net::TcpListener;

use crate::cli::{LogFormat, ServeArgs};
use crate::db::{open_store, DatabaseUrl};
use crate::http::{router, AppState, Limits};

/// Serves the application on `listener` until `shutdown` completes, then
/// finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    store: Arc<dyn Store>,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(AppState { store, limits });
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

/// Installs the global log subscriber: one line per event on stderr, as text
/// or JSON, filtered by `RUST_LOG` (default `info`).
pub fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // A second initialisation (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Text => builder.try_init(),
    };
}

/// Reads, parses and applies a seed file; every problem is reported.
pub async fn apply_seed_file(store: &dyn Store, path: &Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the seed file {}", path.display()))?;
    let seed = Seed::parse(&text).map_err(|messages| {
        anyhow::anyhow!(
            "the seed file {} was rejected:\n  {}",
            path.display(),
            messages.join("\n  ")
        )
    })?;
    let summary = store.apply_seed(&seed).await.map_err(|e| match e {
        callaccess_domain::StoreError::SeedRejected(messages) => {
            anyhow::anyhow!(
                "the seed file {} was rejected:\n  {}",
                path.display(),
                messages.join("\n  ")
            )
        }
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

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutdown requested; finishing requests in flight");
}

/// `callaccess serve`.
pub async fn run(
    args: ServeArgs,
    database: &DatabaseUrl,
    log_format: LogFormat,
) -> anyhow::Result<()> {
    init_logging(log_format);
    // The demo's database lives in a temporary folder removed at exit.
    let demo_dir = if args.demo {
        Some(tempfile::tempdir().context("cannot create a temporary folder")?)
    } else {
        None
    };
    let database = match &demo_dir {
        Some(dir) => DatabaseUrl::Sqlite(dir.path().join("demo.db")),
        None => database.clone(),
    };
    let store = open_store(&database)
        .await
        .with_context(|| format!("cannot open the database {database}"))?;
    let demo = match demo_dir {
        Some(_) => Some(
            crate::demo::prepare(store.as_ref())
                .await
                .context("cannot create the demo data")?,
        ),
        None => None,
    };
    if let Some(seed) = &args.seed {
        apply_seed_file(store.as_ref(), seed).await?;
    }
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let address = listener
        .local_addr()
        .context("cannot read the bound address")?;
    tracing::info!(backend = store.backend(), database = %database, "listening on http://{address}");
    if let Some(demo) = &demo {
        println!("{}", demo.banner(&format!("http://{address}")));
    }
    let served = serve(listener, store.clone(), args.limits(), shutdown_signal()).await;
    // Flush before reporting, so an acknowledged write is never lost at exit.
    let closed = store.close().await;
    served.context("the server failed")?;
    closed.context("cannot close the database cleanly")?;
    tracing::info!("stopped");
    drop(demo_dir);
    Ok(())
}
