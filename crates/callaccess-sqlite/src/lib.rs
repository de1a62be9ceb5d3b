//! The embedded SQLite backend of callaccess. Every rule is the domain's
//! (`callaccess_domain::{access, admin, seed}`); this crate fetches the facts
//! the rules ask for from its connection, runs the writes they allow and
//! sorts driver errors by kind.
//!
//! - [`store`]: [`SqliteStore`], which opens a database file and implements
//!   the domain's `Store` trait on top of the parts below. It does not
//!   implement `SharedRateBudget`: one process owns the file, so its rate
//!   budgets live in memory.
//! - `open`: deciding, without writing, whether a file may be opened (not
//!   SQLite, another application's, a newer schema), and the connection
//!   settings (WAL, `synchronous=FULL`, foreign keys).
//! - `migrate`: the SQL of `migrations/NNNN_name.sql` for each entry of the
//!   domain's migration list; [`migrations`] lists them for the parity test
//!   with other backends.
//! - `audit`: recording the audit trail in the writer's transaction, and
//!   its pages, retention and resets; `audit_runs`: its lookups by call and
//!   by user, kept in sorted runs the writer adds after its commits.
//! - `writer`: the single writer thread with group commit: many jobs, one
//!   transaction, one fsync, then the answers; it also tracks whether writes
//!   fail for a fault of the storage (for readiness) and opens its
//!   connection again once such a fault may be gone.
//! - `checkpoint`: the thread that folds the write-ahead log into the
//!   database, so the writer never stops for it.
//! - `readers`: the pool of read-only connections, used inline for point
//!   lookups and from blocking tasks for the rest.
//! - `access`: grant, revoke and list API grants (the three endpoints): the
//!   domain's `Facts`, answered lazily from the connection, and the writes.
//! - `explain`: explain and reverse lookup: a call's viewers and a user's
//!   calls, paged, from the sources the domain names.
//! - `admin`: companies, credentials, workspaces, profiles, users,
//!   managers, calls and shares: the domain's `Directory` on the
//!   connection, each check, then the write.
//! - `admin_tokens`: the admin API's tokens (no company's data).
//! - `directory`: Gong's directory operations for a caller (workspaces,
//!   users, calls, permission profiles), with keyset paging.
//! - `seed`: executing the domain's seed plan in one transaction.
//! - `state`: state for tests: every row of some companies read into
//!   the domain's snapshot (for exports), and resets, with a seed in the
//!   same transaction.
//! - `rows`: reading columns through the domain's encodings, and the
//!   lookups every operation shares.
//! - `error`: sorting driver errors into `StoreError` kinds, and telling
//!   the faults of the storage (read-only, full, failing) from the rest.

mod access;
mod admin;
mod admin_tokens;
mod audit;
mod audit_runs;
mod checkpoint;
mod directory;
mod error;
mod explain;
mod migrate;
mod open;
mod readers;
mod rows;
mod seed;
mod state;
pub mod store;
mod writer;

pub use migrate::migrations;

/// Puts every entry of the audit trail at `path` that is not in a run yet
/// into runs (see `audit_runs`), as the server's writer does a step at a
/// time after its commits, and returns the steps taken: for a store filled
/// by other means, a benchmark's fixture, before it is served. The file
/// must be a callaccess database at the current schema.
pub fn index_audit_trail(path: &std::path::Path) -> Result<u64, callaccess_domain::StoreError> {
    let conn = writer::reopen(path, callaccess_domain::migrations::latest())?;
    Ok(audit_runs::index_all(&conn)?)
}
pub use store::{SqliteStore, WriteSettings};
pub use writer::{WriteStats, MAX_BATCH_ENV};
