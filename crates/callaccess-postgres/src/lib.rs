//! The PostgreSQL backend of callaccess: any number of stateless
//! `callaccess serve` nodes on one database. Every rule — who opens a call,
//! what an admin change or a seed must satisfy, every message — is
//! `callaccess_domain`'s; this crate fetches facts, runs writes and maps the
//! driver's errors.
//!
//! - [`store`]: [`PostgresStore`] and [`connect`], the pool and its
//!   [`PoolOptions`], and the `Store` and `SharedRateBudget` implementations.
//! - `run`: one transaction per operation, its isolation level (and why),
//!   and the bounded, jittered retry of serialization failures and
//!   deadlocks.
//! - `migrate`: the embedded `migrations/NNNN_name.sql` files, applied under
//!   a table lock so that nodes starting together do not race; refusing a
//!   foreign or newer database. [`migrations`] lists them for the parity
//!   test with the SQLite backend.
//! - `access`: the three endpoints (grant, revoke and list API grants) and
//!   the operator's view of one call: the facts each request needs, fetched
//!   in one statement, and the writes the domain's rules decided.
//! - `directory`: Gong's directory operations (workspaces, users, calls,
//!   permission profiles), each read one statement that also confirms the
//!   caller, each write two round trips.
//! - `admin`: companies, workspaces, profiles, credentials, users, managers,
//!   calls and shares: the facts an admin check needs in one round trip
//!   (`fetch_known`), and each table's write, once, for admin changes, API
//!   writes and seeds alike.
//! - `audit`: the audit trail: recording entries in the writes'
//!   transactions, listing them, and `changes_after` / `wait_for_changes`
//!   in commit order across nodes (a `LISTEN` connection per store, which
//!   also announces this node's commits once they have committed).
//! - `explain`: explain and reverse lookup: a call's viewers and a user's
//!   calls, paged, from the sources the domain names, a few round trips
//!   a page.
//! - `admin_tokens`: the admin API's tokens (no company's data), one
//!   statement each.
//! - `seed`: executing the domain's plan of a seed file in one transaction.
//! - `state`: state for tests: every row of some companies read into
//!   the domain's snapshot (for exports), and resets, with a seed in the
//!   same transaction.
//! - `rate`: the shared rate-limit budgets (`SharedRateBudget`), on the
//!   database's clock unless a test gives the time.
//! - `rows`: reading columns into domain values (the encodings are the
//!   domain's).
//! - `error`: sorting driver and pool errors by kind.
//! - `tally`: statements and round trips per operation, for `/metrics`,
//!   and whether the operation recorded audit entries (to announce them).
//! - [`scratch`]: throwaway databases for tests.
//!
//! The driver is `tokio-postgres` with a `deadpool-postgres` pool: a thin
//! async driver whose errors carry the SQLSTATE (which is all the error
//! mapping looks at), plain SQL strings without compile-time checks against
//! a live database, and a pool with separate connect, wait and recycle
//! timeouts — which is what bounds every call during an outage.

mod access;
mod admin;
mod admin_tokens;
mod audit;
mod directory;
mod error;
mod explain;
mod migrate;
mod rate;
mod rows;
mod run;
pub mod scratch;
mod seed;
mod state;
pub mod store;
mod tally;

pub use migrate::migrations;
pub use run::RetryStats;
pub use store::{connect, validate_url, PoolOptions, PostgresStore};
