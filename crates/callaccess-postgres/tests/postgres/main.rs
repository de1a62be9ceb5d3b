//! The PostgreSQL backend's integration tests, one binary. Each test gets a
//! database of its own on the server named by `CALLACCESS_TEST_POSTGRES`
//! (e.g. `postgres://postgres@127.0.0.1:5432/postgres`; the script
//! `scripts/pg-test-cluster.sh start` starts a throwaway server and prints
//! one). Without it the tests that need a server say so and pass without
//! running — except under CI (`CI` set), where that is a failure.
//!
//! - `contract`: the storage contract suite, each case on a fresh database.
//! - `migrations`: parity with the SQLite backend's list, refusing foreign
//!   and newer databases untouched, nodes migrating at once.
//! - `concurrency`: conflicting grants and revokes from many tasks on two
//!   pools, all serialized and all acknowledged.
//! - `rate`: rate budgets shared by two stores on one database.
//! - `outage`: while the server is down every call fails fast with
//!   `Unavailable`; the same store recovers when it is back (this one starts
//!   a throwaway cluster of its own with `scripts/pg-test-cluster.sh`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod concurrency;
mod contract;
mod migrations;
mod outage;
mod rate;

use std::io::Write as _;
use std::ops::Deref;
use std::sync::Once;

use callaccess_postgres::scratch::ScratchDatabase;
use callaccess_postgres::{connect, PoolOptions, PostgresStore};

/// The server tests create their databases on, or `None` (after saying so
/// once) when none is configured.
pub fn server() -> Option<String> {
    static SAID: Once = Once::new();
    match std::env::var("CALLACCESS_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CALLACCESS_TEST_POSTGRES must be set in CI: the PostgreSQL tests would not run"
            );
            SAID.call_once(|| {
                // Written past the test harness's capture, so it shows.
                let _ = writeln!(
                    std::io::stderr(),
                    "\nSKIPPED: the PostgreSQL tests need CALLACCESS_TEST_POSTGRES=postgres://… \
                     (scripts/pg-test-cluster.sh start prints one)\n"
                );
            });
            None
        }
    }
}

/// A store on a new database of its own, dropped with it.
pub struct Fresh {
    // Declared first so that the pool closes before the database goes.
    pub store: PostgresStore,
    pub db: ScratchDatabase,
}

impl Deref for Fresh {
    type Target = PostgresStore;
    fn deref(&self) -> &PostgresStore {
        &self.store
    }
}

/// An empty database on the test server, or `None` when there is no server.
pub async fn scratch() -> Option<ScratchDatabase> {
    let server = server()?;
    Some(ScratchDatabase::create(&server).await.unwrap())
}

pub async fn fresh() -> Option<Fresh> {
    let db = scratch().await?;
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    Some(Fresh { store, db })
}

/// `fresh()` for use inside a test: returns from the test when there is no
/// server to run on.
#[macro_export]
macro_rules! fresh_or_skip {
    () => {{
        let Some(fixture) = $crate::fresh().await else {
            return;
        };
        std::future::ready(fixture)
    }};
}
