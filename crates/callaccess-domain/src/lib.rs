//! The core of callaccess: what the service knows, independent of HTTP and of
//! any database.
//!
//! - [`ids`]: `CompanyId`, `CallId`, `UserId`, built only by parsing the
//!   contract's id rule.
//! - [`model`]: companies, users, calls, credentials, the merged request shape
//!   (`AccessChange`) and what the store returns.
//! - [`secret`]: generating credentials, SHA-256 digests, constant-time checks.
//! - [`seed`]: seed files, parsed with JSON-path messages.
//! - [`store`]: the `Store` trait every backend implements, and `StoreError`.
//! - `contract` (feature `contract`): the storage contract suite that every
//!   backend's tests run.

pub mod ids;
pub mod model;
pub mod secret;
pub mod seed;
pub mod store;

#[cfg(feature = "contract")]
pub mod contract;

pub use ids::{CallId, CompanyId, IdError, UserId};
pub use model::*;
pub use store::{CredentialCheck, Store, StoreError};
