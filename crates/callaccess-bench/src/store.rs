//! The store a server of the benchmark runs on: a SQLite file in a
//! temporary folder (the default), or a scratch database on the PostgreSQL
//! server `--database` names. Each is made fresh for one purpose and
//! removed with the value that holds it.

use std::path::{Path, PathBuf};

use crate::postgres::{self, Scratch};

/// Where the benchmark's servers keep their data.
#[derive(Debug, Clone)]
pub enum Backend {
    Sqlite,
    Postgres {
        /// Connects to the server; its own database is never changed.
        server_url: String,
        /// `SHOW server_version`, for the report.
        version: Option<String>,
    },
}

/// What a fresh store is for; each purpose gets its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The seeded store every scenario runs on.
    Scenarios,
    /// The attack's server, which only answers `/healthz`.
    Attack,
    /// pgbench's tables.
    Pgbench,
    /// The reset scenario's server (`reset`).
    Reset,
    /// The viewers scenario's server (`viewers`).
    Viewers,
    /// The audit scenario's server (`audit`).
    Audit,
}

impl Purpose {
    /// The scratch database's name: `callaccess_bench_PID[_PURPOSE]`, so
    /// that runs at the same time never share one.
    fn database_name(self) -> String {
        let suffix = match self {
            Purpose::Scenarios => "",
            Purpose::Attack => "_attack",
            Purpose::Pgbench => "_pgbench",
            Purpose::Reset => "_reset",
            Purpose::Viewers => "_viewers",
            Purpose::Audit => "_audit",
        };
        format!("callaccess_bench_{}{suffix}", std::process::id())
    }
}

/// One store, as the server is given it.
#[derive(Debug, Clone)]
pub enum Store {
    /// A SQLite file (and its `-wal` next to it).
    Sqlite(PathBuf),
    /// A PostgreSQL database.
    Postgres(String),
}

impl Store {
    /// The server's `--database`.
    pub fn url(&self) -> String {
        match self {
            Store::Sqlite(path) => format!("sqlite:{}", path.display()),
            Store::Postgres(url) => url.clone(),
        }
    }

    /// For progress lines: the file, or the URL without its password.
    pub fn describe(&self) -> String {
        match self {
            Store::Sqlite(path) => path.display().to_string(),
            Store::Postgres(url) => postgres::redacted(url),
        }
    }

    /// What the store takes: the file and its log, or the database on the
    /// server (`pg_database_size`, without the server's shared log).
    pub async fn bytes(&self) -> Option<u64> {
        match self {
            Store::Sqlite(path) => Some(sqlite_bytes(path)),
            Store::Postgres(url) => postgres::database_bytes(url).await,
        }
    }

    /// The size of SQLite's write-ahead log; PostgreSQL's is the server's,
    /// shared with every database on it, so it is not reported.
    pub fn log_bytes(&self) -> Option<u64> {
        match self {
            Store::Sqlite(path) => Some(wal_bytes(path)),
            Store::Postgres(_) => None,
        }
    }
}

/// A store made for one purpose, removed when dropped: the SQLite file goes
/// with the caller's temporary folder, a scratch database is dropped.
#[derive(Debug)]
pub struct Fresh {
    pub store: Store,
    _scratch: Option<Scratch>,
}

impl Backend {
    /// The backend `--database` names, or SQLite without it.
    pub async fn from_url(url: Option<&str>) -> anyhow::Result<Self> {
        match url {
            None => Ok(Backend::Sqlite),
            Some(url) if postgres::is_postgres(url) => Ok(Backend::Postgres {
                server_url: url.to_owned(),
                version: postgres::server_version(url).await,
            }),
            Some(_) => anyhow::bail!(
                "--database takes postgres://USER@HOST:PORT/DATABASE (without it the benchmark runs on a temporary SQLite file)"
            ),
        }
    }

    /// A new, empty store: `folder/NAME.db`, or the database
    /// `callaccess_bench_PID[_PURPOSE]` on the PostgreSQL server.
    pub async fn fresh(&self, folder: &Path, purpose: Purpose) -> anyhow::Result<Fresh> {
        match self {
            Backend::Sqlite => {
                let file = match purpose {
                    Purpose::Scenarios => "bench.db",
                    Purpose::Attack => "attack.db",
                    Purpose::Reset => "reset.db",
                    Purpose::Viewers => "viewers.db",
                    Purpose::Audit => "audit.db",
                    Purpose::Pgbench => anyhow::bail!("pgbench needs PostgreSQL"),
                };
                Ok(Fresh {
                    store: Store::Sqlite(folder.join(file)),
                    _scratch: None,
                })
            }
            Backend::Postgres { server_url, .. } => {
                let scratch = Scratch::create(server_url, purpose.database_name()).await?;
                eprintln!("created the scratch database {}", scratch.name());
                Ok(Fresh {
                    store: Store::Postgres(scratch.url().to_owned()),
                    _scratch: Some(scratch),
                })
            }
        }
    }

    /// For the report's first line.
    pub fn describe(&self) -> String {
        match self {
            Backend::Sqlite => "SQLite (a temporary file)".to_owned(),
            Backend::Postgres {
                server_url,
                version,
            } => {
                let version = version
                    .as_deref()
                    .and_then(|v| v.split_whitespace().next())
                    .map_or_else(String::new, |v| format!(" {v}"));
                format!(
                    "PostgreSQL{version} on {} (a scratch database {})",
                    postgres::server_of(server_url),
                    Purpose::Scenarios.database_name()
                )
            }
        }
    }
}

/// Size of a SQLite database and its write-ahead log, in bytes.
fn sqlite_bytes(database: &Path) -> u64 {
    std::fs::metadata(database).map_or(0, |m| m.len()) + wal_bytes(database)
}

/// Size of SQLite's write-ahead log file, in bytes.
fn wal_bytes(database: &Path) -> u64 {
    let mut wal = database.as_os_str().to_owned();
    wal.push("-wal");
    std::fs::metadata(PathBuf::from(wal)).map_or(0, |m| m.len())
}
