//! State for tests (control-plane.md §3): import a seed, export the state
//! as a seed, reset all data or one company's (with a seed, in the same
//! transaction). Admin tokens are not company data: a reset keeps them,
//! so the token that asked for it still works after it.
//!
//! - `POST /admin/v1/import`: the body is a seed document (docs/SEED.md),
//!   applied as `callaccess import` applies a file; 400 with one message
//!   per problem, each with its JSON path. Answers what was written.
//! - `GET /admin/v1/export[?company=ID]`: the seed document that
//!   reproduces the state (credentials as digests); 404 for an unknown
//!   company.
//! - `POST /admin/v1/reset[?company=ID]`: removes everything (or the
//!   company, with all in it); with a body `{"seed": …}` it then applies
//!   that seed in the same transaction, so a rejected seed leaves the old
//!   state. A reset of one company takes a seed of that company only.
//!   Answers what was removed and what the seed wrote.

use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use axum::http::Uri;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{extract::FromRequest as _, Extension, Router};
use callaccess_domain::seed::{self, Seed};
use callaccess_domain::{CompanyId, Origin, StoreError};
use serde::Deserialize;
use serde_json::Value;

use super::{ok, parse_body, store_error};
use crate::http::body::JsonBody;
use crate::http::error::ApiError;
use crate::http::query::QueryParams;
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/import", post(import))
        .route("/admin/v1/export", get(export))
        .route("/admin/v1/reset", post(reset))
}

/// `?company=ID`, the only parameter of export and reset. Any other name
/// is refused: a reset whose misspelt `company` were ignored would remove
/// every company.
fn company_of(uri: &Uri) -> Result<Option<CompanyId>, ApiError> {
    let raw = uri.query().unwrap_or("");
    let query = QueryParams::parse(raw);
    let mut problems: Vec<String> = raw
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| pair.split('=').next().unwrap_or(""))
        .filter(|name| *name != "company")
        .map(|name| {
            let shown: String = name.chars().take(40).collect();
            format!("{shown}: unknown parameter (the only one is company)")
        })
        .collect();
    let company = query
        .id("company", CompanyId::parse)
        .map_err(|e| problems.push(e))
        .ok()
        .flatten();
    if problems.is_empty() {
        Ok(company)
    } else {
        Err(ApiError::BadRequest(problems))
    }
}

/// A seed document given as JSON, parsed as a file would be; messages get
/// `prefix` in front of their JSON path (`seed.` inside a reset's body).
fn seed_of(document: &Value, prefix: &str) -> Result<Seed, ApiError> {
    Seed::parse(&document.to_string()).map_err(|messages| rejected(messages, prefix))
}

fn rejected(messages: Vec<String>, prefix: &str) -> ApiError {
    ApiError::BadRequest(
        messages
            .into_iter()
            .map(|m| {
                // Messages without a path (the document is not an object)
                // name the whole value.
                if m.starts_with("companies") {
                    format!("{prefix}{m}")
                } else if prefix.is_empty() {
                    m
                } else {
                    format!("{}: {m}", prefix.trim_end_matches('.'))
                }
            })
            .collect(),
    )
}

/// A store's answer to a seed: its problems one message each, as 400.
fn seed_error(error: StoreError, prefix: &str) -> ApiError {
    match error {
        StoreError::SeedRejected(messages) => rejected(messages, prefix),
        other => store_error(other),
    }
}

async fn import(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let seed = seed_of(&body?.0, "")?;
    let summary = state
        .store
        .apply_seed(&origin, &seed)
        .await
        .map_err(|e| seed_error(e, ""))?;
    Ok(ok(&summary))
}

async fn export(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let company = company_of(&uri)?;
    let snapshot = state.store.snapshot(company).await.map_err(store_error)?;
    Ok(ok(&seed::export(&snapshot)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ResetBody {
    seed: Value,
}

/// Whether the request says it has no body: no length and no chunks, or
/// a length of 0.
fn has_no_body(request: &Request) -> bool {
    let headers = request.headers();
    match headers.get(CONTENT_LENGTH) {
        Some(length) => length.as_bytes() == b"0",
        None => !headers.contains_key(TRANSFER_ENCODING),
    }
}

async fn reset(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    request: Request,
) -> Result<Response, ApiError> {
    let company = company_of(request.uri())?;
    let seed = if has_no_body(&request) {
        None
    } else {
        let body = JsonBody::from_request(request, &state).await?;
        let body: ResetBody = parse_body(body.0)?;
        Some(seed_of(&body.seed, "seed.")?)
    };
    let summary = state
        .store
        .reset(&origin, company, seed.as_ref())
        .await
        .map_err(|e| seed_error(e, "seed."))?;
    // What the removed companies spent is gone with them.
    state.limiter.forget(company);
    Ok(ok(&summary))
}
