//! Throwaway databases, for tests and tools that need a database of their
//! own on a PostgreSQL server: created empty, dropped when done.
//!
//! Not used by the service itself. Tests of this crate and of the HTTP API
//! create one per test, so tests never see each other's data.

use std::str::FromStr;
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
