//! The PostgreSQL backend's integration tests, one binary. Each test gets a
//! database of its own on the server `scratch::test_server_url` names:
//! `CALLACCESS_TEST_POSTGRES` (e.g.
//! `postgres://postgres@127.0.0.1:5432/postgres`) when set, otherwise a
//! throwaway cluster this process starts once, when PostgreSQL's server
//! programs are installed. Without either the tests that need a server say
//! so and pass without running — except under CI (`CI` set), where that is
//! a failure.
//!
//! - `contract`: the storage contract suite (the audit cases among it),
//!   each case on a fresh database.
//! - `audit`: entries refuse an UPDATE; a commit through one node wakes a
//!   waiter on another, also after its listening connection was cut.
//! - `migrations`: parity with the SQLite backend's list, refusing foreign
//!   and newer databases untouched, nodes migrating at once.
//! - `concurrency`: conflicting grants and revokes from many tasks on two
//!   pools, all serialized and all acknowledged; a reader following
//!   `changes_after` while three nodes (and slow writers) commit out of
//!   order sees every entry once, in order.
//! - `rate`: rate budgets shared by two stores on one database.
//! - `round_trips`: the round trips each operation takes, as counted for
//!   `/metrics`.
//! - `outage`: while the server is down every call fails fast with
//!   `Unavailable`; the same store recovers when it is back (this one starts
//!   a throwaway cluster of its own, `scratch::Cluster`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

mod audit;
mod concurrency;
mod contract;
mod migrations;
mod outage;
mod rate;
mod round_trips;

use std::ops::Deref;

use callaccess_postgres::scratch::{test_server_url, ScratchDatabase};
use callaccess_postgres::{connect, PoolOptions, PostgresStore};

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
    let server = test_server_url()?;
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
