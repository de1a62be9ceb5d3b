//! `migrate`: apply pending migrations and say which.

use std::fmt::Write as _;

use anyhow::anyhow;
use serde_json::{json, Value};

use callaccess_domain::Store as _;
use callaccess_sqlite::SqliteStore;

use super::emit;
use super::output::render;
use crate::cli::OutputArgs;
use crate::config::Settings;
use crate::db::DatabaseUrl;

/// Opening a store applies what is pending; the backend is opened directly
/// because only it knows which migrations that was.
pub(super) async fn run(output: &OutputArgs, settings: &Settings) -> anyhow::Result<()> {
    let database = &settings.database;
    let cannot_open = |e| anyhow!("cannot open {database}: {e}");
    let (version, applied, closed) = match database {
        DatabaseUrl::Sqlite(path) => {
            let store = SqliteStore::open(path).await.map_err(cannot_open)?;
            let closed = store.close().await;
            (store.schema_version(), store.applied_at_open(), closed)
        }
        DatabaseUrl::Postgres(_) => {
            let store = crate::db::connect_postgres(database, &settings.pool)
                .await
                .map_err(cannot_open)?;
            let closed = store.close().await;
            (store.schema_version(), store.applied_at_open(), closed)
        }
    };
    closed.map_err(|e| anyhow!("the database did not close cleanly: {e}"))?;
    let listed: Vec<Value> = applied
        .iter()
        .map(|(version, name)| json!({"version": version, "name": name}))
        .collect();
    let text = render(
        output,
        &json!({"database": database.to_string(), "schemaVersion": version, "applied": listed}),
        || {
            // Writing to a String cannot fail.
            let mut text = String::new();
            for (version, name) in &applied {
                let _ = writeln!(text, "applied migration {version:04} {name}");
            }
            if applied.is_empty() {
                let _ = writeln!(text, "{database} is up to date (schema version {version})");
            } else {
                let _ = writeln!(text, "{database} is now at schema version {version}");
            }
            text
        },
    )?;
    emit(&text)
}
