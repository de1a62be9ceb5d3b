//! The core of callaccess: what the service knows and every rule it
//! applies, independent of HTTP and of any database. Backends only fetch
//! facts, run writes and map their driver's errors.
//!
//! - [`ids`]: `CompanyId`, `CallId`, `UserId`, `WorkspaceId`, `ProfileId`,
//!   built only by parsing the contract's id rule.
//! - [`model`]: companies, workspaces, permission profiles, users (with
//!   their managers), calls, credentials, the merged request shape
//!   (`AccessChange`) and what the store returns.
//! - [`access`]: who can open a call, and what PUT, DELETE and POST do about
//!   it, over a small facts trait each backend answers.
//! - [`explain`]: where the users who can open a call, and the calls a
//!   user can open, are found, and paging through them.
//! - [`admin`]: the checks of every admin change, in order (manager loops
//!   through [`access::check_manager`]).
//! - [`audit`]: the audit trail: who made a change ([`audit::Origin`]),
//!   the entries every write records, and how they are listed.
//! - [`admin_token`]: the admin API's tokens: their text, what is stored
//!   of them, and when one is accepted.
//! - [`clock`]: the service's clock, the machine's or a manual one.
//! - [`seed`]: seed files, parsed with JSON-path messages, and the plan of
//!   writes that applies one.
//! - [`encoding`]: how values are stored in columns and read back.
//! - [`migrations`]: the schema history both backends share.
//! - [`page`]: filters and paging of the directory listings, and Gong's
//!   opaque cursor.
//! - [`secret`]: generating credentials, SHA-256 digests, constant-time checks.
//! - [`store`]: the `Store` trait every backend implements, `Caller`, the
//!   shared rate budget trait, and `StoreError`, whose messages are worded
//!   there once.
//! - `contract` (feature `contract`): the storage contract suite that every
//!   backend's tests run.

pub mod access;
pub mod admin;
pub mod admin_token;
pub mod audit;
pub mod clock;
pub mod encoding;
pub mod explain;
pub mod ids;
pub mod migrations;
pub mod model;
pub mod page;
pub mod secret;
pub mod seed;
pub mod store;

#[cfg(feature = "contract")]
pub mod contract;

pub use audit::{Action, Actor, AuditEntry, AuditFilter, AuditOrder, AuditPage, NewEntry, Origin};
pub use clock::{Clock, ClockError};
pub use ids::{CallId, CompanyId, IdError, ProfileId, UserId, WorkspaceId};
pub use model::*;
pub use store::{
    Admitted, Budget, Caller, CredentialCheck, ErrorKind, ExpiredCredential, SharedRateBudget,
    Store, StoreError,
};
