//! Throwaway PostgreSQL for tests and tools: whole servers ([`Cluster`],
//! [`test_server_url`]) and databases on a server ([`ScratchDatabase`]),
//! created empty and removed when done.
//!
//! Not used by the service itself. The tests of this crate and of the HTTP
//! API create a database per test, so tests never see each other's data, on
//! the server [`test_server_url`] names: `CALLACCESS_TEST_POSTGRES` when
//! set, otherwise a cluster this process starts once with
//! `scripts/pg-test-cluster.sh` when PostgreSQL's server programs are
//! installed. Without either, the PostgreSQL tests are skipped, and say so.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Once, OnceLock};
use std::time::Duration;

use callaccess_domain::StoreError;

use crate::error::Fail;

/// How long creating or dropping a scratch database may take before the
/// server counts as unreachable.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(10);

/// A database created on a server for one user, dropped (best effort) when
/// this value is dropped.
#[derive(Debug)]
pub struct ScratchDatabase {
    server_url: String,
    name: String,
    url: String,
    dropped: bool,
}

impl ScratchDatabase {
    /// Creates an empty database with a fresh name on the server that
    /// `server_url` connects to (any database of it, e.g. `postgres`).
    pub async fn create(server_url: &str) -> Result<Self, StoreError> {
        let name = format!("callaccess_test_{:016x}", rand::random::<u64>());
        admin(server_url, &format!("CREATE DATABASE \"{name}\"")).await?;
        Ok(Self {
            server_url: server_url.to_owned(),
            url: with_database(server_url, &name),
            name,
            dropped: false,
        })
    }

    /// A URL of the new database: the server URL with its database replaced.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Drops the database now, disconnecting whoever is still on it.
    pub async fn drop_now(mut self) -> Result<(), StoreError> {
        self.dropped = true;
        admin(&self.server_url, &drop_sql(&self.name)).await
    }
}

impl Drop for ScratchDatabase {
    /// Dropping cannot await, and may happen inside a runtime that is busy
    /// (or shutting down), so the database is dropped from a thread of its
    /// own with a small runtime, waited for with a bound. Failure only
    /// leaves a database behind.
    fn drop(&mut self) {
        if self.dropped {
            return;
        }
        let server_url = self.server_url.clone();
        let sql = drop_sql(&self.name);
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build();
            if let Ok(runtime) = runtime {
                let _ = runtime.block_on(admin(&server_url, &sql));
            }
        });
        let _ = worker.join();
    }
}

fn drop_sql(name: &str) -> String {
    // FORCE ends the sessions still connected (a pool that was not closed).
    format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)")
}

/// Runs one statement on its own short-lived connection.
async fn admin(server_url: &str, sql: &str) -> Result<(), StoreError> {
    let mut config = tokio_postgres::Config::from_str(server_url)
        .map_err(|e| StoreError::Invalid(format!("the PostgreSQL URL is not valid: {e}")))?;
    config.connect_timeout(ADMIN_TIMEOUT);
    let work = async {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(connection);
        let result = client.batch_execute(sql).await;
        drop(client);
        let _ = driver.await;
        result
    };
    match tokio::time::timeout(ADMIN_TIMEOUT, work).await {
        Ok(result) => result.map_err(|e| Fail::from(e).into_store_error()),
        Err(_) => Err(StoreError::Unavailable(format!(
            "the server did not answer within {ADMIN_TIMEOUT:?}"
        ))),
    }
}

/// The server PostgreSQL tests run on: `CALLACCESS_TEST_POSTGRES` when it
/// is set, otherwise a [`Cluster`] started on first use and kept for the
/// life of this process (it is destroyed once the process has exited).
/// `None`, after a note on stderr, when neither is possible because
/// PostgreSQL's server programs are not installed.
///
/// # Panics
///
/// When a cluster cannot be started for any other reason, and under CI
/// (`CI` set), where a skipped PostgreSQL test is a failure.
pub fn test_server_url() -> Option<String> {
    if let Some(url) = std::env::var("CALLACCESS_TEST_POSTGRES")
        .ok()
        .filter(|url| !url.is_empty())
    {
        return Some(url);
    }
    static SERVER: OnceLock<Result<String, ClusterError>> = OnceLock::new();
    let started = SERVER.get_or_init(|| {
        // Statics are never dropped: the cluster's watchdog removes it
        // after this process exits.
        Cluster::start().map(|cluster| {
            let url = cluster.url().to_owned();
            std::mem::forget(cluster);
            url
        })
    });
    match started {
        Ok(url) => Some(url.clone()),
        Err(ClusterError::NotInstalled(why)) => skip(why),
        Err(ClusterError::Failed(why)) => panic!("cannot start a PostgreSQL cluster: {why}"),
    }
}

/// Says once per process why the PostgreSQL tests do not run; refuses to
/// under CI.
fn skip<T>(why: &str) -> Option<T> {
    assert!(
        std::env::var_os("CI").is_none(),
        "the PostgreSQL tests must run in CI, but {why}"
    );
    static SAID: Once = Once::new();
    SAID.call_once(|| {
        // Written past the test harness's capture, so it shows.
        let _ = writeln!(
            std::io::stderr(),
            "\nSKIPPED: the PostgreSQL tests need CALLACCESS_TEST_POSTGRES=postgres://… \
             or PostgreSQL's server programs to start a cluster of their own: {why}\n"
        );
    });
    None
}

/// Why a [`Cluster`] did not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClusterError {
    /// PostgreSQL's server programs (`initdb`, `pg_ctl`) are not installed.
    NotInstalled(String),
    /// Anything else; the message includes what the script printed.
    Failed(String),
}

impl std::fmt::Display for ClusterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NotInstalled(why) | Self::Failed(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for ClusterError {}

/// A throwaway PostgreSQL server of its own (`scripts/pg-test-cluster.sh`):
/// a data folder in the temporary folder, a free port on 127.0.0.1, trust
/// authentication. Destroyed on drop, and in any case once this process
/// has exited: a watchdog started with it waits for that, so that neither a
/// panic, nor `kill -9`, nor a value never dropped leaves a server running.
#[derive(Debug)]
pub struct Cluster {
    dir: PathBuf,
    url: String,
}

impl Cluster {
    /// Starts a new cluster and returns once it accepts connections.
    pub fn start() -> Result<Cluster, ClusterError> {
        let script = cluster_script();
        if !script.is_file() {
            return Err(ClusterError::NotInstalled(format!(
                "{} is not here to start one",
                script.display()
            )));
        }
        let dir = std::env::temp_dir().join(format!(
            "callaccess-pg-{}-{:08x}",
            std::process::id(),
            rand::random::<u32>()
        ));
        // The watchdog first, so that a process killed while the cluster
        // starts leaves nothing behind either.
        let mut watchdog = Command::new("bash");
        watchdog
            .arg(&script)
            .arg("destroy-after")
            .arg(std::process::id().to_string())
            .arg(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        #[cfg(unix)]
        {
            // Its own process group: a Ctrl-C to the tests must not end it.
            use std::os::unix::process::CommandExt as _;
            watchdog.process_group(0);
        }
        // Not waited for: it ends after this process does.
        watchdog
            .spawn()
            .map_err(|e| ClusterError::Failed(format!("cannot start the watchdog: {e}")))?;
        let url = run_script(&["start".as_ref(), dir.as_os_str()])?;
        Ok(Cluster { dir, url })
    }

    /// `postgres://postgres@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server (fast shutdown), keeping its data.
    pub fn stop(&self) -> Result<(), ClusterError> {
        run_script(&["stop".as_ref(), self.dir.as_os_str()]).map(drop)
    }

    /// Starts a stopped server again, on the same port: the URL stays valid.
    pub fn restart(&self) -> Result<(), ClusterError> {
        let url = run_script(&["start".as_ref(), self.dir.as_os_str()])?;
        if url == self.url {
            Ok(())
        } else {
            Err(ClusterError::Failed(format!(
                "the cluster came back as {url}, not {}",
                self.url
            )))
        }
    }

    /// [`Cluster::start`] for a test that needs a server of its own (one it
    /// can stop): `None`, after a note on stderr, when PostgreSQL's server
    /// programs are not installed.
    ///
    /// # Panics
    ///
    /// As [`test_server_url`] does.
    pub fn start_or_skip() -> Option<Cluster> {
        match Cluster::start() {
            Ok(cluster) => Some(cluster),
            Err(ClusterError::NotInstalled(why)) => skip(&why),
            Err(ClusterError::Failed(why)) => panic!("cannot start a PostgreSQL cluster: {why}"),
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = run_script(&["destroy".as_ref(), self.dir.as_os_str()]);
    }
}

/// `scripts/pg-test-cluster.sh` of this source tree.
fn cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-test-cluster.sh")
}

/// Runs the cluster script; its standard output, trimmed.
fn run_script(args: &[&std::ffi::OsStr]) -> Result<String, ClusterError> {
    let output = Command::new("bash")
        .arg(cluster_script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| ClusterError::NotInstalled(format!("cannot run bash: {e}")))?;
    let stderr = String::from_utf8_lossy(&output.stderr).trim().to_owned();
    match output.status.code() {
        Some(0) => Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned()),
        // The script's status for "PostgreSQL is not installed".
        Some(3) => Err(ClusterError::NotInstalled(stderr)),
        _ => Err(ClusterError::Failed(stderr)),
    }
}

/// `url` with its database replaced by `name`: the path of a
/// `postgres://` URL, or the `dbname` of a `key=value` string.
pub fn with_database(url: &str, name: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return format!("{url} dbname={name}");
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let authority = before_query.split('/').next().unwrap_or(before_query);
    match query {
        Some(query) => format!("{scheme}://{authority}/{name}?{query}"),
        None => format!("{scheme}://{authority}/{name}"),
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            with_database("postgres://u:p@h:5432/postgres", "x"),
            "postgres://u:p@h:5432/x"
        );
        assert_eq!(with_database("postgresql://h", "x"), "postgresql://h/x");
        assert_eq!(
            with_database("postgres://h/db?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("host=h user=u", "x"),
            "host=h user=u dbname=x"
        );
    }
}
