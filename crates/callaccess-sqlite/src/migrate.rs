//! Embedded schema migrations.
//!
//! Each file `migrations/NNNN_name.sql` is compiled into the binary and
//! applied once, in its own transaction, and recorded in `schema_migrations`.
//! A PostgreSQL backend keeps the same numbers and names, which
//! [`migrations`] exposes for a parity test.

use callaccess_domain::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::Fail;

/// The marker in the SQLite header (`PRAGMA application_id`) that says a file
/// is a callaccess database: "CALL" in ASCII.
pub(crate) const APPLICATION_ID: i32 = 0x4341_4c4c;

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

/// Every migration this binary knows, oldest first. Keep [`LIST`] in step;
/// a unit test checks both against the folder.
const EMBEDDED: &[Migration] = &[
    Migration {
        version: 1,
        name: "initial",
        sql: include_str!("../migrations/0001_initial.sql"),
    },
    Migration {
        version: 2,
        name: "api_grants_without_foreign_keys",
        sql: include_str!("../migrations/0002_api_grants_without_foreign_keys.sql"),
    },
];

const LIST: &[(i64, &str)] = &[(1, "initial"), (2, "api_grants_without_foreign_keys")];

/// The (version, name) of every embedded migration, oldest first.
pub fn migrations() -> &'static [(i64, &'static str)] {
    LIST
}

/// The highest version this binary can bring a database to.
pub(crate) fn latest() -> i64 {
    LIST.last().map_or(0, |(version, _)| *version)
}

/// Marks a fresh database as ours and creates the bookkeeping table, in one
/// transaction: a crash can then never leave tables without the marker (which
/// the next open would refuse as a foreign database).
pub(crate) fn bootstrap(conn: &Connection) -> Result<(), Fail> {
    let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_migrations (
             version     INTEGER PRIMARY KEY,
             name        TEXT    NOT NULL,
             -- unix seconds, for operators reading the history
             applied_at  INTEGER NOT NULL
         )",
    )?;
    tx.commit()?;
    Ok(())
}

/// The highest applied version, 0 when none.
pub(crate) fn current(conn: &Connection) -> Result<i64, Fail> {
    let version: Option<i64> = conn
        .query_row("SELECT max(version) FROM schema_migrations", [], |row| {
            row.get(0)
        })
        .optional()?
        .flatten();
    Ok(version.unwrap_or(0))
}

/// Applies every embedded migration the database lacks and returns those
/// applied. Another process may be migrating the same file at the same time,
/// so the version is checked again inside each write transaction.
pub(crate) fn apply_pending(conn: &Connection) -> Result<Vec<(i64, &'static str)>, Fail> {
    let mut applied = Vec::new();
    for migration in EMBEDDED {
        // Immediate: take the write lock before reading the version, so the
        // version cannot go stale before this transaction commits.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        if current(&tx)? >= migration.version {
            continue;
        }
        tx.execute_batch(migration.sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            (migration.version, migration.name, Timestamp::now().unix()),
        )?;
        tx.commit()?;
        tracing::info!(
            version = migration.version,
            name = migration.name,
            "applied migration"
        );
        applied.push((migration.version, migration.name));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_list_matches_the_embedded_files_and_the_folder() {
        let embedded: Vec<(i64, &str)> = EMBEDDED.iter().map(|m| (m.version, m.name)).collect();
        assert_eq!(embedded, LIST);
        for pair in LIST.windows(2) {
            assert!(pair[0].0 < pair[1].0, "versions must increase: {pair:?}");
        }
        let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
        let mut files: Vec<String> = std::fs::read_dir(folder)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        files.sort();
        let expected: Vec<String> = LIST
            .iter()
            .map(|(v, n)| format!("{v:04}_{n}.sql"))
            .collect();
        assert_eq!(
            files, expected,
            "every file in migrations/ must be embedded, and only those"
        );
    }
}
