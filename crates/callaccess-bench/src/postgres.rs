//! The PostgreSQL server `--database` names: scratch databases created on
//! it for the run and dropped at its end (also on error, best effort), and
//! what the report says about them. Nothing else on that server is read or
//! changed: the URL's own database is only used to connect and run
//! `CREATE DATABASE` and `DROP DATABASE` of the benchmark's own names.

use std::str::FromStr as _;
use std::time::Duration;

use anyhow::{bail, Context as _};

/// How long one statement on the server may take before it counts as
/// unreachable.
const ADMIN_TIMEOUT: Duration = Duration::from_secs(15);

/// `postgres://…` or `postgresql://…`.
pub fn is_postgres(url: &str) -> bool {
    url.starts_with("postgres://") || url.starts_with("postgresql://")
}

/// The URL split at its parts: scheme with `://`, authority (user,
/// password, hosts), database path (with its `/`), and the rest (`?…`).
fn split(url: &str) -> anyhow::Result<(&str, &str, &str, &str)> {
    let Some(at) = url.find("://") else {
        bail!("a PostgreSQL URL starts with postgres://");
    };
    let (scheme, rest) = url.split_at(at + 3);
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(authority_end);
    let path_end = rest.find('?').unwrap_or(rest.len());
    let (path, query) = rest.split_at(path_end);
    Ok((scheme, authority, path, query))
}

/// `url` naming the database `name` instead of its own, everything else
/// (user, password, hosts, parameters) kept.
pub fn with_database(url: &str, name: &str) -> anyhow::Result<String> {
    let (scheme, authority, _, query) = split(url)?;
    Ok(format!("{scheme}{authority}/{name}{query}"))
}

/// `url` with its password, if any, replaced by `***`, for printing.
pub fn redacted(url: &str) -> String {
    let Ok((scheme, authority, path, query)) = split(url) else {
        return "(an invalid URL)".to_owned();
    };
    match authority.rsplit_once('@') {
        Some((user_info, hosts)) if user_info.contains(':') => {
            let user = user_info.split(':').next().unwrap_or_default();
            format!("{scheme}{user}:***@{hosts}{path}{query}")
        }
        _ => url.to_owned(),
    }
}

/// The host and port part of `url`, for the report.
pub fn server_of(url: &str) -> String {
    split(url)
        .map(|(_, authority, _, _)| {
            authority
                .rsplit_once('@')
                .map_or(authority, |(_, hosts)| hosts)
                .to_owned()
        })
        .unwrap_or_default()
}

/// A database the benchmark created on the server, dropped (best effort)
/// when this value is dropped, disconnecting whoever is still on it.
#[derive(Debug)]
pub struct Scratch {
    server_url: String,
    name: String,
    url: String,
}

impl Scratch {
    /// Creates the empty database `name` on the server `server_url`
    /// connects to. `name` must be a plain identifier of the benchmark's.
    pub async fn create(server_url: &str, name: String) -> anyhow::Result<Self> {
        anyhow::ensure!(
            name.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'),
            "{name:?} is not a plain database name"
        );
        let url = with_database(server_url, &name)?;
        admin(server_url, &format!("CREATE DATABASE \"{name}\""))
            .await
            .with_context(|| {
                format!(
                    "cannot create the scratch database {name} on {}",
                    redacted(server_url)
                )
            })?;
        Ok(Self {
            server_url: server_url.to_owned(),
            name,
            url,
        })
    }

    /// The URL of the scratch database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for Scratch {
    /// Dropping cannot await and may run in a busy runtime, so the database
    /// is dropped on a thread of its own with a small runtime, waited for.
    /// Failure leaves the database behind, and says so.
    fn drop(&mut self) {
        let server_url = self.server_url.clone();
        // FORCE ends sessions still connected (a node that was killed).
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        let worker = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime.block_on(admin(&server_url, &sql))
        });
        match worker.join() {
            Ok(Ok(())) => eprintln!("dropped the scratch database {}", self.name),
            Ok(Err(e)) => eprintln!(
                "warning: the scratch database {} was not dropped: {e:#}",
                self.name
            ),
            Err(_) => eprintln!(
                "warning: the scratch database {} was not dropped",
                self.name
            ),
        }
    }
}

/// The server's version (`SHOW server_version`), e.g. "15.20 (Debian …)".
pub async fn server_version(url: &str) -> Option<String> {
    let row = query_one(url, "SHOW server_version").await.ok()?;
    row.try_get::<_, String>(0).ok()
}

/// The size of the database `url` names (`pg_database_size`), in bytes.
pub async fn database_bytes(url: &str) -> Option<u64> {
    let row = query_one(url, "SELECT pg_database_size(current_database())")
        .await
        .ok()?;
    let bytes: i64 = row.try_get(0).ok()?;
    u64::try_from(bytes).ok()
}

/// Opens one short-lived connection and runs `work` on it.
async fn with_client<T>(
    url: &str,
    work: impl AsyncFnOnce(&tokio_postgres::Client) -> Result<T, tokio_postgres::Error>,
) -> anyhow::Result<T> {
    let mut config =
        tokio_postgres::Config::from_str(url).context("the PostgreSQL URL is not valid")?;
    config.connect_timeout(ADMIN_TIMEOUT);
    let run = async {
        let (client, connection) = config.connect(tokio_postgres::NoTls).await?;
        let driver = tokio::spawn(connection);
        let result = work(&client).await;
        drop(client);
        let _ = driver.await;
        result
    };
    match tokio::time::timeout(ADMIN_TIMEOUT, run).await {
        Ok(result) => Ok(result?),
        Err(_) => bail!("the server did not answer within {ADMIN_TIMEOUT:?}"),
    }
}

async fn admin(url: &str, sql: &str) -> anyhow::Result<()> {
    with_client(url, async |client| client.batch_execute(sql).await).await
}

async fn query_one(url: &str, sql: &str) -> anyhow::Result<tokio_postgres::Row> {
    with_client(url, async |client| client.query_one(sql, &[]).await).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn the_database_is_replaced_and_the_rest_kept() {
        for (url, expected) in [
            (
                "postgres://postgres@127.0.0.1:5432/postgres",
                "postgres://postgres@127.0.0.1:5432/scratch",
            ),
            (
                "postgresql://u:p%2Fw@db.example:6543/app?sslmode=disable&x=1",
                "postgresql://u:p%2Fw@db.example:6543/scratch?sslmode=disable&x=1",
            ),
            ("postgres://u@h", "postgres://u@h/scratch"),
            (
                "postgres://u@h?application_name=a",
                "postgres://u@h/scratch?application_name=a",
            ),
            ("postgres://h1:1,h2:2/db", "postgres://h1:1,h2:2/scratch"),
        ] {
            assert_eq!(with_database(url, "scratch").unwrap(), expected, "{url}");
        }
        assert!(with_database("127.0.0.1:5432", "scratch").is_err());
    }

    #[test]
    fn a_password_never_prints() {
        assert_eq!(
            redacted("postgres://bench:s3cret@127.0.0.1:5432/db?sslmode=disable"),
            "postgres://bench:***@127.0.0.1:5432/db?sslmode=disable"
        );
        assert_eq!(
            redacted("postgres://bench@127.0.0.1/db"),
            "postgres://bench@127.0.0.1/db"
        );
        assert_eq!(
            server_of("postgres://bench:s3cret@127.0.0.1:5432/db"),
            "127.0.0.1:5432"
        );
        assert_eq!(server_of("postgres://localhost/db"), "localhost");
    }

    #[test]
    fn recognises_both_schemes() {
        assert!(is_postgres("postgres://u@h/d"));
        assert!(is_postgres("postgresql://u@h/d"));
        assert!(!is_postgres("sqlite:bench.db"));
    }
}
