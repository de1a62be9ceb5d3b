//! The embedded SQLite backend of callaccess.
//!
//! - [`store`]: [`SqliteStore`], which opens a database file and implements
//!   the domain's `Store` trait on top of the parts below.
//! - `open`: deciding, without writing, whether a file may be opened (not
//!   SQLite, another application's, a newer schema), and the connection
//!   settings (WAL, `synchronous=FULL`, foreign keys).
//! - `migrate`: the embedded `migrations/NNNN_name.sql` files; [`migrations`]
//!   lists them for the parity test with other backends.
//! - `writer`: the single writer thread with group commit: many jobs, one
//!   transaction, one fsync, then the answers.
//! - `checkpoint`: the thread that folds the write-ahead log into the
//!   database, so the writer never stops for it.
//! - `readers`: the pool of read-only connections, used inline for point
//!   lookups and from blocking tasks for the rest.
//! - `access`: grant, revoke and list API grants (the three endpoints).
//! - `admin`: companies, credentials, users, calls and shares.
//! - `seed`: applying a seed file in one transaction.
//! - `rows`: column encodings, shared lookups and messages.
//! - `error`: sorting driver errors into `StoreError` kinds.

mod access;
mod admin;
mod checkpoint;
mod error;
mod migrate;
mod open;
mod readers;
mod rows;
mod seed;
pub mod store;
mod writer;

pub use migrate::migrations;
pub use store::{SqliteStore, WriteSettings};
pub use writer::{WriteStats, MAX_BATCH_ENV};
