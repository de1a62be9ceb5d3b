//! The SQLite backend's integration tests, one binary:
//!
//! - `contract`: the storage contract suite (and its audit cases), each
//!   case on a fresh file.
//! - `audit`: the audit trail in the file: immutable through SQL, kept by
//!   migration 7, written by another process.
//! - `files`: which files `open` accepts or refuses, and that a refused file
//!   is left exactly as it was; migrations.
//! - `durability`: the write connection's settings, restarts, `close`.
//! - `concurrency`: many writers at once through the group-commit writer.
//! - `upgrade`: a file of the previous schema keeps every answer through
//!   migration 5 (workspaces and profiles).

#![allow(
    clippy::unwrap_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod audit;
mod concurrency;
mod contract;
mod durability;
mod files;
mod upgrade;

use std::ops::Deref;
use std::path::PathBuf;

use callaccess_sqlite::SqliteStore;
use tempfile::TempDir;

/// A store on a new file in its own temporary folder, removed on drop.
pub struct Fresh {
    // Declared first so the store closes its files before the folder goes.
    pub store: SqliteStore,
    pub dir: TempDir,
}

impl Fresh {
    pub fn path(&self) -> PathBuf {
        self.store.path().to_owned()
    }
}

impl Deref for Fresh {
    type Target = SqliteStore;
    fn deref(&self) -> &SqliteStore {
        &self.store
    }
}

pub async fn fresh() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("callaccess.db"))
        .await
        .unwrap();
    Fresh { store, dir }
}
