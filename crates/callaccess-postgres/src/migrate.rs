//! Embedded schema migrations, and deciding whether a database may be used.
//!
//! Each file `migrations/NNNN_name.sql` is compiled into the binary and
//! applied once, in its own transaction, and recorded in `schema_migrations`
//! — the same numbers and names as the SQLite backend's folder, which
//! [`migrations`] exposes for the parity test.
//!
//! Several nodes may start at once on a fresh database. They serialize on a
//! table lock (`LOCK TABLE schema_migrations`) taken inside each migration's
//! transaction and re-read the version under it, so exactly one applies each
//! migration and the others find it done. Advisory locks would be simpler,
//! but PostgreSQL-compatible distributed databases do not offer them.

use callaccess_domain::{StoreError, Timestamp};
use deadpool_postgres::Object;
use tokio_postgres::error::SqlState;

use crate::error::Fail;
use crate::rows;
use crate::tally::Db;

/// Every migration this binary knows, oldest first, as `(version, name,
/// sql)`: the shared list ([`callaccess_domain::migrations::LIST`]) with
/// this backend's files.
const EMBEDDED: &[(i64, &str, &str)] = &callaccess_domain::embed_migrations!();

/// The (version, name) of every embedded migration, oldest first.
pub fn migrations() -> &'static [(i64, &'static str)] {
    callaccess_domain::migrations::LIST
}

/// What inspection found, before anything was written.
struct Found {
    /// `current_database()`, for messages.
    database: String,
    /// `None`: no `schema_migrations` table (a fresh database).
    version: Option<i64>,
}

/// Creating `schema_migrations` can race with another node doing the same;
/// the loser sees a duplicate and simply inspects again.
const BOOTSTRAP_TRIES: u32 = 3;

/// Checks that the database is a callaccess database this binary
/// understands (or an empty one), then applies the pending migrations.
/// Returns the database's name, its schema version afterwards, and the
/// migrations applied now.
pub(crate) async fn prepare(
    client: &mut Object,
) -> Result<(String, i64, Vec<(i64, &'static str)>), StoreError> {
    let mut tries = 0;
    let database = loop {
        tries += 1;
        let found = inspect(&*client).await?;
        if found.version.is_some() {
            break found.database;
        }
        match bootstrap(&*client).await {
            Ok(()) => break found.database,
            Err(e) if tries < BOOTSTRAP_TRIES && lost_creation_race(&e) => continue,
            Err(e) => return Err(Fail::from(e).into_store_error()),
        }
    };
    let mut applied = Vec::new();
    for &migration @ (version, name, _) in EMBEDDED {
        if apply(client, migration, &database).await? {
            tracing::info!(version, name, "applied migration");
            applied.push((version, name));
        }
    }
    let version = current(&*client).await.map_err(Fail::into_store_error)?;
    Ok((database, version, applied))
}

/// Reads, without writing, what the database holds: refuses one whose
/// current schema has tables but no `schema_migrations` (another
/// application's), or a schema newer than this binary knows.
async fn inspect(db: &impl Db) -> Result<Found, StoreError> {
    let row = db
        .query_one(
            "SELECT current_database()::TEXT,
                    current_schema()::TEXT,
                    (SELECT count(*) FROM information_schema.tables
                      WHERE table_schema = current_schema()),
                    EXISTS (SELECT 1 FROM information_schema.tables
                             WHERE table_schema = current_schema()
                               AND table_name = 'schema_migrations')",
            &[],
        )
        .await
        .map_err(|e| Fail::from(e).into_store_error())?;
    let database: String = row
        .try_get(0)
        .map_err(|e| Fail::from(e).into_store_error())?;
    let schema: Option<String> = row
        .try_get(1)
        .map_err(|e| Fail::from(e).into_store_error())?;
    let tables: i64 = row
        .try_get(2)
        .map_err(|e| Fail::from(e).into_store_error())?;
    let has_history: bool = row
        .try_get(3)
        .map_err(|e| Fail::from(e).into_store_error())?;
    let Some(schema) = schema else {
        return Err(StoreError::Incompatible(format!(
            "database \"{database}\" has no schema to create tables in (check the search_path of the connecting role)"
        )));
    };
    if !has_history {
        if tables > 0 {
            return Err(StoreError::Incompatible(format!(
                "database \"{database}\" is not a callaccess database (its schema \"{schema}\" holds tables of another application)"
            )));
        }
        return Ok(Found {
            database,
            version: None,
        });
    }
    let version = current(db).await.map_err(Fail::into_store_error)?;
    refuse_newer(&database, version)?;
    Ok(Found {
        database,
        version: Some(version),
    })
}

fn refuse_newer(database: &str, version: i64) -> Result<(), StoreError> {
    callaccess_domain::migrations::refuse_newer(&format!("database \"{database}\""), version)
}

/// Creates the bookkeeping table of a fresh database: one row per applied
/// migration, `applied_at` in unix seconds for operators reading the
/// history.
async fn bootstrap(db: &impl Db) -> Result<(), tokio_postgres::Error> {
    db.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations \
         (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .await
}

/// `CREATE TABLE IF NOT EXISTS` is not safe against a concurrent creation of
/// the same table in PostgreSQL: the slower side may fail on the catalog's
/// unique index, or find the table's row type already there, instead of
/// seeing the table.
fn lost_creation_race(error: &tokio_postgres::Error) -> bool {
    matches!(
        error.code(),
        Some(code) if *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::DUPLICATE_TABLE
            || *code == SqlState::DUPLICATE_OBJECT
    )
}

/// The highest applied version, 0 when none.
pub(crate) async fn current(db: &impl Db) -> Result<i64, Fail> {
    let row = db
        .query_one(
            "SELECT coalesce(max(version), 0)::BIGINT FROM schema_migrations",
            &[],
        )
        .await?;
    rows::at(&row, 0)
}

/// Applies one migration unless the database already has it; `true` if it
/// was applied now.
async fn apply(
    client: &mut Object,
    (version, name, sql): (i64, &str, &str),
    database: &str,
) -> Result<bool, StoreError> {
    let run = async {
        let tx = client.transaction().await?;
        // EXCLUSIVE conflicts with itself, so migrating nodes queue here,
        // while plain reads of the table (a running node's readiness check)
        // go on. The version is read again under the lock: whoever held it
        // before may have applied this very migration.
        tx.batch_execute("LOCK TABLE schema_migrations IN EXCLUSIVE MODE")
            .await?;
        let found = current(&tx).await?;
        refuse_newer(database, found)?;
        if found >= version {
            tx.rollback().await?;
            return Ok(false);
        }
        tx.batch_execute(sql).await?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            &[&version, &name, &Timestamp::now().unix()],
        )
        .await?;
        tx.commit().await.map_err(Fail::at_commit)?;
        Ok::<bool, Fail>(true)
    };
    run.await.map_err(Fail::into_store_error)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn the_list_matches_the_embedded_files_and_the_folder() {
        let folder = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        callaccess_domain::migrations::check_folder(folder, EMBEDDED).unwrap();
    }
}
