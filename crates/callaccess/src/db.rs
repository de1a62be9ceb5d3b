//! Database URLs, and opening the backend they name.
//!
//! `sqlite:PATH` (also `sqlite://PATH`) selects the embedded store; the file
//! and its folder are created when missing. `postgres://…` (also
//! `postgresql://…`) selects PostgreSQL, on which any number of nodes can
//! share one database; [`PoolSettings`] sizes its connection pool. A URL is
//! printed only through [`DatabaseUrl`]'s `Display` or `Debug`, which hide
//! any password.
//!
//! [`open`] is where the scheme is matched, and so where what depends on the
//! backend is chosen, by type: [`Backend`] carries the store, the shared rate
//! budget of a backend that several nodes share, and the credential cache of
//! one that can report credential changes cheaply.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use callaccess_domain::{Clock, SharedRateBudget, Store, StoreError};
use callaccess_postgres::{PoolOptions, PostgresStore};
use callaccess_sqlite::SqliteStore;

use crate::http::auth::{CredentialCache, CREDENTIAL_TTL};
use crate::ratelimit::{LocalLimiter, RateClock, RateLimiter, SharedLimiter};

/// Where the store lives when no `--database` is given.
pub const DEFAULT_DATABASE: &str = "sqlite:data/callaccess.db";

#[derive(Clone, PartialEq, Eq)]
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

/// Written by hand: a derived `Debug` would print the password.
impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Sqlite(path) => f.debug_tuple("Sqlite").field(path).finish(),
            Self::Postgres(url) => f.debug_tuple("Postgres").field(&redact(url)).finish(),
        }
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
/// given as a `password=` query parameter, and of libpq's `key=value` form
/// (`host=db password=secret`). Text that is neither keeps only what
/// follows its last `@`, since whatever came before may hold a password.
pub fn redact(url: &str) -> String {
    if is_key_values(url) {
        return redact_key_values(url);
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return match url.rsplit_once('@') {
            Some((_, host)) => format!("***@{host}"),
            None => url.to_owned(),
        };
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

/// libpq's `key=value` form starts with a keyword and `=`; a URL starts
/// with a scheme and `:`.
fn is_key_values(text: &str) -> bool {
    text.split_once('=').is_some_and(|(key, _)| {
        let key = key.trim();
        !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    })
}

/// `host=db password=secret` as `host=db password=***`. Values are read as
/// libpq reads them (quoted with `'`, `\` escaping); from the first thing
/// that does not read so, the rest is hidden, since it may be a password.
fn redact_key_values(text: &str) -> String {
    let mut redacted = String::new();
    let mut rest = text;
    loop {
        let trimmed = rest.trim_start();
        redacted.push_str(&rest[..rest.len() - trimmed.len()]);
        rest = trimmed;
        if rest.is_empty() {
            return redacted;
        }
        let Some((key, after)) = rest.split_once('=') else {
            return redacted + "***";
        };
        let keyword = key.trim_end();
        if keyword.is_empty() || keyword.contains(char::is_whitespace) {
            return redacted + "***";
        }
        let value_text = after.trim_start();
        let Some(length) = value_length(value_text) else {
            return redacted + key + "=***";
        };
        let spaces = after.len() - value_text.len();
        redacted.push_str(key);
        redacted.push('=');
        redacted.push_str(&after[..spaces]);
        if keyword.eq_ignore_ascii_case("password") {
            redacted.push_str("***");
        } else {
            redacted.push_str(&value_text[..length]);
        }
        rest = &value_text[length..];
    }
}

/// The length of the value that starts `text`, or `None` if it does not end.
fn value_length(text: &str) -> Option<usize> {
    let quoted = text.starts_with('\'');
    let mut escaped = false;
    for (i, c) in text.char_indices().skip(usize::from(quoted)) {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '\'' if quoted => return Some(i + 1),
            c if !quoted && c.is_whitespace() => return Some(i),
            _ => {}
        }
    }
    (!quoted && !escaped).then_some(text.len())
}

/// What a server runs on: the store, and the capabilities that depend on
/// which store it is, chosen here by type where the URL's scheme is
/// matched — never by comparing a backend's name.
#[derive(Clone)]
pub struct Backend {
    pub store: Arc<dyn Store>,
    /// Rate budgets kept in the database, for a store that several nodes
    /// share (PostgreSQL); `None`: one node, budgets in memory.
    pub rate_budget: Option<Arc<dyn SharedRateBudget>>,
    /// Recently verified credentials, for a store that counts every change
    /// to them and checks the count inside each operation (both backends:
    /// SQLite's triggers, PostgreSQL's `credential_changes`), so that a
    /// revocation through any node or the CLI is refused on the very next
    /// request; `None` if the store could not read its count at open.
    pub credentials: Option<Arc<CredentialCache>>,
}

impl Backend {
    /// The rate limiter this backend needs, reading time from `clock`.
    pub fn limiter(&self, clock: &Clock) -> Arc<dyn RateLimiter> {
        let clock = RateClock::new(clock.clone());
        match &self.rate_budget {
            Some(budget) => Arc::new(SharedLimiter::new(budget.clone(), clock)),
            None => Arc::new(LocalLimiter::new(clock)),
        }
    }
}

/// Opens (creating if needed) and migrates the store a URL names, with its
/// pool sized by `pool` (PostgreSQL only), and assembles what serving it
/// needs; the store reads the time it stores from the system clock.
pub async fn open(url: &DatabaseUrl, pool: &PoolSettings) -> Result<Backend, StoreError> {
    open_with(url, pool, &Clock::system()).await
}

/// [`open`], with the store reading every time it stores (creation,
/// revocation and grant times) from `clock`: the clock the server serves
/// on (`ServeOptions::clock`), so that a manual clock moves them too.
pub async fn open_with(
    url: &DatabaseUrl,
    pool: &PoolSettings,
    clock: &Clock,
) -> Result<Backend, StoreError> {
    match url {
        DatabaseUrl::Sqlite(path) => {
            let store = Arc::new(SqliteStore::open(path).await?.with_clock(clock.clone()));
            Ok(Backend {
                credentials: cache_for(store.as_ref()),
                store,
                rate_budget: None,
            })
        }
        DatabaseUrl::Postgres(_) => {
            let store = Arc::new(connect_postgres(url, pool).await?.with_clock(clock.clone()));
            Ok(Backend {
                credentials: cache_for(store.as_ref()),
                store: store.clone(),
                rate_budget: Some(store),
            })
        }
    }
}

/// A credential cache, where the store can say when credentials changed.
fn cache_for(store: &dyn Store) -> Option<Arc<CredentialCache>> {
    store
        .credentials_epoch()
        .map(|_| Arc::new(CredentialCache::new(CREDENTIAL_TTL)))
}

/// Only the store, for the admin commands.
pub async fn open_store_with(
    url: &DatabaseUrl,
    pool: &PoolSettings,
) -> Result<Arc<dyn Store>, StoreError> {
    Ok(open(url, pool).await?.store)
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

    #[test]
    fn hides_the_password_of_key_value_strings() {
        assert_eq!(
            redact("host=x user=y password=secret dbname=z"),
            "host=x user=y password=*** dbname=z"
        );
        assert_eq!(
            redact("host = x  password = 'se cr\\'et' dbname=z"),
            "host = x  password = *** dbname=z"
        );
        assert_eq!(redact("PASSWORD=secret"), "PASSWORD=***");
        assert_eq!(redact("host=x dbname=z"), "host=x dbname=z");
        // Whatever does not read as key=value is hidden from there on.
        assert_eq!(redact("host=x password='secret"), "host=x password=***");
        assert_eq!(
            redact("host=x password= sec ret"),
            "host=x password= *** ***"
        );
        assert_eq!(redact("host=x pass word=secret"), "host=x ***");
        let err = "host=x password=secret".parse::<DatabaseUrl>().unwrap_err();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn hides_what_may_be_a_password_in_malformed_urls() {
        assert_eq!(redact("postgres//user:Secret@host/x"), "***@host/x");
        assert_eq!(redact("postgres:user:Secret@host"), "***@host");
        for bad in ["postgres//user:Secret@host/x", "postgres:/user:Secret@h/x"] {
            let err = bad.parse::<DatabaseUrl>().unwrap_err();
            assert!(!err.contains("Secret"), "{err}");
        }
    }

    #[test]
    fn debug_hides_the_password() {
        let url: DatabaseUrl = "postgres://bob:hunter2@db:5432/callaccess".parse().unwrap();
        let shown = format!("{url:?} {url:#?} {:?}", Some(&url));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("Postgres(\"postgres://bob:***@db:5432/callaccess\")"));
        let sqlite: DatabaseUrl = "sqlite:/tmp/x.db".parse().unwrap();
        assert_eq!(format!("{sqlite:?}"), "Sqlite(\"/tmp/x.db\")");
    }
}
