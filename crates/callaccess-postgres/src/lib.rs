//! The PostgreSQL backend of callaccess: any number of stateless
//! `callaccess serve` nodes on one database.
//!
//! - [`store`]: [`PostgresStore`] and [`connect`], the pool and its
//!   [`PoolOptions`], and the `Store` implementation.
//! - `run`: one transaction per operation, its isolation level (and why),
//!   and the bounded, jittered retry of serialization failures and
//!   deadlocks.
//! - `migrate`: the embedded `migrations/NNNN_name.sql` files, applied under
//!   a table lock so that nodes starting together do not race; refusing a
//!   foreign or newer database. [`migrations`] lists them for the parity
//!   test with the SQLite backend.
//! - `access`: grant, revoke and list API grants (the three endpoints).
//! - `admin`: companies, credentials, users, calls, shares, and the shared
//!   rate-limit budgets on the database's clock.
//! - `seed`: applying a seed file in one transaction.
//! - `rows`: column encodings, shared lookups and messages.
//! - `error`: sorting driver and pool errors by kind.
//! - [`scratch`]: throwaway databases for tests.
//!
//! The driver is `tokio-postgres` with a `deadpool-postgres` pool: a thin
//! async driver whose errors carry the SQLSTATE (which is all the error
//! mapping looks at), plain SQL strings without compile-time checks against
//! a live database, and a pool with separate connect, wait and recycle
//! timeouts — which is what bounds every call during an outage.

mod access;
mod admin;
mod error;
mod migrate;
mod rows;
mod run;
pub mod scratch;
mod seed;
pub mod store;

pub use migrate::migrations;
pub use run::RetryStats;
pub use store::{connect, validate_url, PoolOptions, PostgresStore};
