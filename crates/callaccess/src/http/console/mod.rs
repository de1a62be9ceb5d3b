//! The operator console under `/console` (control-plane.md §10): HTML
//! pages rendered on the server from the same domain operations as the
//! admin API, behind admin-token sign-in. It lives wherever the admin API
//! lives (see [`crate::http::router`] and `--admin-listen`), is never
//! journaled, faulted or rate limited, and its pages are the contract of
//! `console-contract.md` (ids, names and data attributes the browser
//! tests find).
//!
//! - [`session`]: sign-in and sign-out, the session cookie (the admin token
//!   itself, checked on every request by the admin API's own check), and
//!   the CSRF value of every write form.
//! - [`view`]: what the pages share: rendering a template, the navigation,
//!   a route as a badge, the page of a refused or failed request.
//! - [`directory`]: the company picker, calls and users (searched, paged),
//!   one call (its viewers, grant and revoke) and one user.
//! - [`audit`]: the audit trail with its filters, and its live stream.
//! - [`controls`]: the request journal and the fault rules.
//! - [`assets`]: the console's own stylesheet and script, embedded.

pub mod assets;
pub mod audit;
pub mod controls;
pub mod directory;
pub mod session;
pub mod view;

use axum::routing::{get, post};
use axum::Router;

use super::AppState;

/// Where the console lives.
pub const PREFIX: &str = "/console";

/// Every console route. Each handler takes a [`session::Session`] (which
/// redirects to sign-in without one) except sign-in itself and the assets.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route(PREFIX, get(directory::companies))
        .route(
            session::SIGN_IN_PATH,
            get(session::sign_in_page).post(session::sign_in),
        )
        .route(session::SIGN_OUT_PATH, post(session::sign_out))
        .route("/console/assets/{name}", get(assets::serve))
        .route("/console/companies/{company}/calls", get(directory::calls))
        .route(
            "/console/companies/{company}/calls/{call}",
            get(directory::call),
        )
        .route(
            "/console/companies/{company}/calls/{call}/{button}",
            post(directory::change),
        )
        .route("/console/companies/{company}/users", get(directory::users))
        .route(
            "/console/companies/{company}/users/{user}",
            get(directory::user),
        )
        .route("/console/companies/{company}/audit", get(audit::page))
        .route(
            "/console/companies/{company}/audit/stream",
            get(audit::stream),
        )
        .route("/console/journal", get(controls::journal))
        .route(
            "/console/faults",
            get(controls::faults).post(controls::add_fault),
        )
        .route("/console/faults/{id}/remove", post(controls::remove_fault))
}
