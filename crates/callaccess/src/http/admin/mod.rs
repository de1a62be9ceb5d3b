//! The admin API under `/admin/v1` (control-plane.md §1–6): directory
//! management, state for tests, the request journal, fault rules and the
//! clock. Authenticated by admin tokens ([`auth`]); never rate limited,
//! never journaled, never faulted.
//!
//! - [`auth`]: admin tokens on each request; read-only tokens get GETs only.
//! - [`directory`]: companies and everything in them, as JSON CRUD.
//! - [`state`]: import, export and reset.
//! - [`journal`]: the request journal.
//! - [`faults`]: fault rules.
//! - [`clock`]: reading and moving a manual clock.

pub mod auth;
pub mod clock;
pub mod directory;
pub mod faults;
pub mod journal;
pub mod state;

use axum::Router;

use super::AppState;

/// Where the admin API lives.
pub const PREFIX: &str = "/admin/v1";

/// Every admin route (full paths under [`PREFIX`]), behind admin-token
/// authentication.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(directory::routes())
        .merge(state::routes())
        .merge(journal::routes())
        .merge(faults::routes())
        .merge(clock::routes())
}
