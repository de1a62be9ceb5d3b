//! Embedded schema migrations.
//!
//! The versions and names are the domain's list, shared with every backend;
//! each file `migrations/NNNN_name.sql` is compiled into the binary and
//! applied once, in its own transaction, and recorded in `schema_migrations`.

use callaccess_domain::Timestamp;
use rusqlite::{Connection, OptionalExtension, Transaction, TransactionBehavior};

use crate::error::Fail;

/// The marker in the SQLite header (`PRAGMA application_id`) that says a file
/// is a callaccess database: "CALL" in ASCII.
pub(crate) const APPLICATION_ID: i32 = 0x4341_4c4c;

/// The SQL of every migration in the shared list
/// (`callaccess_domain::migrations::LIST`), oldest first, from this crate's
/// `migrations/` folder.
const EMBEDDED: [(i64, &str, &str); callaccess_domain::migrations::LIST.len()] =
    callaccess_domain::embed_migrations!();

/// The (version, name) of every embedded migration, oldest first.
pub fn migrations() -> &'static [(i64, &'static str)] {
    callaccess_domain::migrations::LIST
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
    for &(version, name, sql) in &EMBEDDED {
        // Immediate: take the write lock before reading the version, so the
        // version cannot go stale before this transaction commits.
        let tx = Transaction::new_unchecked(conn, TransactionBehavior::Immediate)?;
        if current(&tx)? >= version {
            continue;
        }
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?1, ?2, ?3)",
            (version, name, Timestamp::now().unix()),
        )?;
        tx.commit()?;
        tracing::info!(version, name, "applied migration");
        applied.push((version, name));
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn the_list_matches_the_embedded_files_and_the_folder() {
        let folder = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations"));
        assert_eq!(
            callaccess_domain::migrations::check_folder(folder, &EMBEDDED),
            Ok(())
        );
    }
}
