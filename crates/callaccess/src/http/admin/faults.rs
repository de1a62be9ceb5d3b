//! Fault rules over HTTP (control-plane.md §5).
//!
//! - `POST /admin/v1/faults`: one rule or an array, added after the rules
//!   held (the first that matches a request applies); answers the rules
//!   added, with their ids. A bad rule is 400 naming its field, and then
//!   none of the body's rules is added.
//! - `GET /admin/v1/faults`: every rule, with `fired` (requests it applied
//!   to) and `remaining` (firings left of its `times`, `null` without).
//! - `GET /admin/v1/faults/{id}`: one rule; `DELETE` removes it.
//! - `DELETE /admin/v1/faults`: removes every rule.
//!
//! The rules are the server's (`AppState::faults`), as `serve --faults`
//! loaded them; the format and its checks are `crate::faults`.

use axum::extract::{Path, State};
use axum::routing::get;
use axum::{Json, Router};
use serde::Serialize;

use crate::faults::{parse_rules, RuleView};
use crate::http::body::JsonBody;
use crate::http::error::ApiError;
use crate::http::AppState;

/// Where the rules are listed and added.
pub const PATH: &str = "/admin/v1/faults";
/// One rule.
pub const RULE_PATH: &str = "/admin/v1/faults/{id}";

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            PATH,
            get(list_faults)
                .post(add_faults)
                .delete(clear_faults)
                .fallback(|| async { ApiError::MethodNotAllowed("GET, HEAD, POST, DELETE") }),
        )
        .route(
            RULE_PATH,
            get(get_fault)
                .delete(delete_fault)
                .fallback(|| async { ApiError::MethodNotAllowed("GET, HEAD, DELETE") }),
        )
}

/// Rules, in the order they apply: each is the rule as written (`match`,
/// `times`, `probability`, `effect`) with `id`, `fired` and `remaining`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct FaultList {
    #[schema(value_type = Vec<Object>)]
    items: Vec<RuleView>,
}

/// How many rules a `DELETE` removed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Deleted {
    deleted: usize,
}

fn no_rule(id: &str) -> ApiError {
    ApiError::NoRecords(format!(
        "no fault rule has the id {id:?}; GET {PATH} lists the rules"
    ))
}

/// Every fault rule, with how often each fired.
#[utoipa::path(
    get,
    path = "/admin/v1/faults",
    tag = "faults",
    operation_id = "listFaults",
    responses(
        (status = 200, description = "The rules, in the order they apply", body = FaultList),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn list_faults(State(state): State<AppState>) -> Json<FaultList> {
    Json(FaultList {
        items: state.faults.list(),
    })
}

/// Adds one rule (an object) or several (an array) after those held.
#[utoipa::path(
    post,
    path = "/admin/v1/faults",
    tag = "faults",
    operation_id = "addFaults",
    request_body(content = Object, description = "A rule, or an array of rules: {\"match\": {operationId, method, path, company, accessKey, tokenId}, \"times\": N, \"probability\": 0-1, \"effect\": {status, errors, retryAfter, delay: {fixedMs, uniformMs, lognormalMs}, connection: reset|empty|truncate}}"),
    responses(
        (status = 200, description = "The rules added, with their ids", body = FaultList),
        (status = 400, description = "A rule that does not parse; each message names its field", body = crate::http::dto::ErrorResponse),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
        (status = 403, description = "A read-only admin token", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn add_faults(
    State(state): State<AppState>,
    body: Result<JsonBody, ApiError>,
) -> Result<Json<FaultList>, ApiError> {
    let JsonBody(body) = body?;
    let rules = parse_rules(&body).map_err(ApiError::BadRequest)?;
    let items = state.faults.add(rules);
    for rule in &items {
        tracing::info!(rule = rule.id, "fault rule added");
    }
    Ok(Json(FaultList { items }))
}

/// Removes every fault rule.
#[utoipa::path(
    delete,
    path = "/admin/v1/faults",
    tag = "faults",
    operation_id = "clearFaults",
    responses(
        (status = 200, description = "How many rules were removed", body = Deleted),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
        (status = 403, description = "A read-only admin token", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn clear_faults(State(state): State<AppState>) -> Json<Deleted> {
    Json(Deleted {
        deleted: state.faults.clear(),
    })
}

/// One fault rule, with how often it fired.
#[utoipa::path(
    get,
    path = "/admin/v1/faults/{id}",
    tag = "faults",
    operation_id = "getFault",
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule", body = Object),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
        (status = 404, description = "No rule has this id", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn get_fault(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RuleView>, ApiError> {
    state.faults.get(&id).map(Json).ok_or_else(|| no_rule(&id))
}

/// Removes one fault rule; answers it as it was last.
#[utoipa::path(
    delete,
    path = "/admin/v1/faults/{id}",
    tag = "faults",
    operation_id = "deleteFault",
    params(("id" = String, Path, description = "The rule's id")),
    responses(
        (status = 200, description = "The rule removed, with its last counts", body = Object),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
        (status = 403, description = "A read-only admin token", body = crate::http::dto::ErrorResponse),
        (status = 404, description = "No rule has this id", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn delete_fault(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<RuleView>, ApiError> {
    state
        .faults
        .remove(&id)
        .map(Json)
        .ok_or_else(|| no_rule(&id))
}
