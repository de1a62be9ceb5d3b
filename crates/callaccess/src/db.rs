//! Database URLs and opening the store they name.
//!
//! `sqlite:PATH` (also `sqlite://PATH`) selects the embedded store; the file
//! and its folder are created when missing. `postgres://…` (also
//! `postgresql://…`) selects PostgreSQL, on which any number of nodes can
//! share one database; [`PoolSettings`] sizes its connection pool. A URL is
//! printed only through [`DatabaseUrl`]'s `Display`, which hides any password.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use callaccess_domain::{Store, StoreError};
use callaccess_postgres::{PoolOptions, PostgresStore};
use callaccess_sqlite::SqliteStore;

/// Where the store lives when no `--database` is given.
pub const DEFAULT_DATABASE: &str = "sqlite:data/callaccess.db";

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseUrl {
    Sqlite(PathBuf),
    /// The URL exactly as given (it may carry a password; never print it
    /// other than through `Display`).
    Postgres(String),
}

impl FromStr for DatabaseUrl {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(
                    "a sqlite URL needs a file path, e.g. sqlite:data/callaccess.db".to_owned(),
                );
            }
            return Ok(Self::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            callaccess_postgres::validate_url(s)
                .map_err(|why| format!("{:?} is {why}", redact(s)))?;
            return Ok(Self::Postgres(s.to_owned()));
        }
        Err(format!(
            "{:?} is not a database URL; use sqlite:PATH (e.g. sqlite:data/callaccess.db) or postgres://USER:PASSWORD@HOST:PORT/DATABASE",
            redact(s)
        ))
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            Self::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// The PostgreSQL connection pool of one node. SQLite ignores it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Most connections this node opens. PostgreSQL's own
    /// `max_connections` must cover this times the number of nodes.
    pub max_connections: usize,
    /// Longest time to establish a new connection. Together with
    /// `acquire_timeout` it bounds how long a request can wait on a database
    /// that is down: past it the request answers 503.
    pub connect_timeout: Duration,
    /// Longest wait for a free connection when all are busy.
    pub acquire_timeout: Duration,
}

impl Default for PoolSettings {
    fn default() -> Self {
        let options = PoolOptions::default();
        Self {
            max_connections: options.max_connections,
            connect_timeout: options.connect_timeout,
            acquire_timeout: options.acquire_timeout,
        }
    }
}

impl From<PoolSettings> for PoolOptions {
    fn from(settings: PoolSettings) -> Self {
        Self {
            max_connections: settings.max_connections,
            connect_timeout: settings.connect_timeout,
            acquire_timeout: settings.acquire_timeout,
        }
    }
}

/// Hides the passwords of `scheme://user:password@host/...`, including one
/// given as a `password=` query parameter (libpq accepts both).
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (before_query, query) = match rest.split_once('?') {
        Some((before, query)) => (before, Some(query)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(slash) => before_query.split_at(slash),
        None => (before_query, ""),
    };
    // The host follows the last '@': a password may contain one.
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{user}:***@{host}"),
            None => authority.to_owned(),
        },
        None => authority.to_owned(),
    };
    let mut redacted = format!("{scheme}://{authority}{path}");
    if let Some(query) = query {
        let parameters: Vec<String> = query
            .split('&')
            .map(|parameter| match parameter.split_once('=') {
                Some((key, _)) if key.eq_ignore_ascii_case("password") => format!("{key}=***"),
                _ => parameter.to_owned(),
            })
            .collect();
        redacted.push('?');
        redacted.push_str(&parameters.join("&"));
    }
    redacted
}

/// Opens (creating if needed) and migrates the store a URL names, with the
/// default pool settings.
pub async fn open_store(url: &DatabaseUrl) -> Result<Arc<dyn Store>, StoreError> {
    open_store_with(url, &PoolSettings::default()).await
}

/// Opens (creating if needed) and migrates the store a URL names.
pub async fn open_store_with(
    url: &DatabaseUrl,
    pool: &PoolSettings,
) -> Result<Arc<dyn Store>, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => Ok(Arc::new(SqliteStore::open(path).await?)),
        DatabaseUrl::Postgres(_) => Ok(Arc::new(connect_postgres(url, pool).await?)),
    }
}

/// Connects to PostgreSQL and migrates; for callers that need more than the
/// `Store` trait (`callaccess migrate` reports what was applied).
pub async fn connect_postgres(
    url: &DatabaseUrl,
    pool: &PoolSettings,
) -> Result<PostgresStore, StoreError> {
    match url {
        DatabaseUrl::Postgres(raw) => callaccess_postgres::connect(raw, (*pool).into()).await,
        DatabaseUrl::Sqlite(_) => Err(StoreError::Invalid(format!(
            "{url} is not a PostgreSQL URL"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_urls() {
        assert_eq!(
            "sqlite:/tmp/x.db".parse(),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            "sqlite:///tmp/x.db".parse(),
            Ok(DatabaseUrl::Sqlite("/tmp/x.db".into()))
        );
        assert_eq!(
            "sqlite:data/a.db".parse(),
            Ok(DatabaseUrl::Sqlite("data/a.db".into()))
        );
        assert!("sqlite:".parse::<DatabaseUrl>().is_err());
        assert!("mysql://x".parse::<DatabaseUrl>().is_err());
    }

    #[test]
    fn parses_postgres_urls_and_hides_their_password() {
        for url in [
            "postgres://bob:hunter2@db:5432/callaccess",
            "postgresql://db/callaccess",
            "postgres://bob@127.0.0.1/callaccess?application_name=x",
        ] {
            assert_eq!(url.parse(), Ok(DatabaseUrl::Postgres(url.to_owned())));
        }
        let url: DatabaseUrl = "postgres://bob:hunter2@db:5432/callaccess".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://bob:***@db:5432/callaccess");
        let err = "postgres://bob:hunter2@db:notaport/x"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert!(err.contains("not a valid PostgreSQL URL"), "{err}");
    }

    #[test]
    fn never_prints_a_password() {
        let err = "mysql://bob:hunter2@db/x"
            .parse::<DatabaseUrl>()
            .unwrap_err();
        assert!(!err.contains("hunter2"), "{err}");
        assert_eq!(
            redact("postgres://bob:hunter2@db:5432/x"),
            "postgres://bob:***@db:5432/x"
        );
        assert_eq!(redact("postgres://db/x"), "postgres://db/x");
        assert_eq!(
            redact("postgres://bob:p@ss@db/x?password=hunter2&sslmode=disable"),
            "postgres://bob:***@db/x?password=***&sslmode=disable"
        );
    }
}
