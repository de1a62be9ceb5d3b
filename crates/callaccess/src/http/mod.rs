//! The HTTP edge: everything between a socket and the store.
//!
//! - [`request_id`]: request ids and the per-request context.
//! - [`error`]: `ApiError` and Gong's error envelope.
//! - [`auth`]: Basic and Bearer authentication into a `Principal`.
//! - [`body`]: reading a JSON body (content type, size, syntax).
//! - [`dto`]: Gong's request and response shapes.
//!
//! [`router`] wires the three `/v2/calls/users-access` operations, `/healthz`
//! and the fallbacks; [`envelope`] is the outermost middleware: it assigns the
//! request id, writes every error body, sets `x-traceid` and logs one line.

pub mod auth;
pub mod body;
pub mod dto;
pub mod error;
pub mod request_id;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use axum::{Extension, Router};
use callaccess_domain::{Scope, Store};
use serde::Serialize;

use auth::Principal;
use body::JsonBody;
use error::{ApiError, ErrorMessages};
use request_id::RequestContext;

/// The one path of the API.
pub const USERS_ACCESS_PATH: &str = "/v2/calls/users-access";

/// Request size limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most (call, user) pairs in one PUT or DELETE, and call ids in one POST.
    pub max_pairs: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_pairs: 10_000,
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limits: Limits,
}

/// The whole application, ready to serve.
pub fn router(state: AppState) -> Router {
    let users_access = put(add_users_access)
        .post(get_users_access)
        .delete(delete_users_access)
        .fallback(method_not_allowed);
    Router::new()
        .route(USERS_ACCESS_PATH, users_access)
        .route("/healthz", get(healthz).fallback(method_not_allowed))
        .fallback(not_found)
        .with_state(state)
        .layer(axum::middleware::from_fn(envelope))
}

type Context = Extension<Arc<RequestContext>>;

fn json_response(status: StatusCode, body: &impl Serialize) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => {
            let mut response = (status, bytes).into_response();
            response
                .headers_mut()
                .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            response
        }
        Err(e) => ApiError::Internal(format!("response serialisation failed: {e}")).into_response(),
    }
}

/// PUT: `addUsersAccessToCalls`.
async fn add_users_access(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    principal.require(Scope::WRITE)?;
    let change = dto::parse_access_change(&body, state.limits.max_pairs)?;
    if !change.is_empty() {
        state.store.grant_access(principal.company, &change).await?;
    }
    Ok(json_response(
        StatusCode::OK,
        &dto::BaseResponse {
            request_id: context.id.to_string(),
        },
    ))
}

/// DELETE: `deleteUsersAccessToCalls`.
async fn delete_users_access(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    principal.require(Scope::WRITE)?;
    let change = dto::parse_access_change(&body, state.limits.max_pairs)?;
    if !change.is_empty() {
        state
            .store
            .revoke_access(principal.company, &change)
            .await?;
    }
    Ok(json_response(
        StatusCode::OK,
        &dto::BaseResponse {
            request_id: context.id.to_string(),
        },
    ))
}

/// POST: `getUsersAccessToCalls`.
async fn get_users_access(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    principal.require(Scope::READ)?;
    let calls = dto::parse_filter(&body, state.limits.max_pairs)?;
    let grants = if calls.is_empty() {
        Vec::new()
    } else {
        state
            .store
            .list_api_grants(principal.company, &calls)
            .await?
    };
    let body = dto::CallsAccessDetailsResponse {
        request_id: context.id.to_string(),
        call_access_list: grants.into_iter().map(Into::into).collect(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Health<'a> {
    request_id: &'a str,
    status: &'static str,
}

/// Liveness: the process is up and answering.
async fn healthz(Extension(context): Context) -> Response {
    json_response(
        StatusCode::OK,
        &Health {
            request_id: context.id.as_str(),
            status: "ok",
        },
    )
}

async fn method_not_allowed() -> ApiError {
    ApiError::MethodNotAllowed
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::NotFound {
        method: method.to_string(),
        path,
    }
}

/// Outermost middleware: request id in, envelope and `x-traceid` out, one
/// log line per request.
async fn envelope(mut request: Request, next: Next) -> Response {
    let started = Instant::now();
    let context = Arc::new(RequestContext::new());
    request.extensions_mut().insert(context.clone());
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(200).collect();

    let mut response = next.run(request).await;
    let status = response.status();
    let messages = response
        .extensions_mut()
        .remove::<ErrorMessages>()
        .or_else(|| {
            (status.is_client_error() || status.is_server_error())
                .then(|| error::generic_message(status))
        });
    let mut cause = None;
    if let Some(messages) = messages {
        let body = dto::ErrorResponse {
            request_id: context.id.to_string(),
            errors: messages.errors,
        };
        // Serialising strings into a fixed shape cannot fail; fall back to an
        // empty body rather than panic if it somehow does.
        let bytes = serde_json::to_vec(&body).unwrap_or_default();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.remove(CONTENT_LENGTH);
        *response.body_mut() = Body::from(bytes);
        cause = messages.cause;
    }
    if let Ok(value) = HeaderValue::from_str(context.id.as_str()) {
        response.headers_mut().insert("x-traceid", value);
    }

    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let company = context.company.get().map(|c| c.get());
    if status.is_server_error() {
        tracing::error!(
            request_id = %context.id, %method, path, status = status.as_u16(), latency_ms, company_id = company,
            cause = cause.as_deref().unwrap_or("unknown"), "request failed"
        );
    } else {
        tracing::info!(
            request_id = %context.id, %method, path, status = status.as_u16(), latency_ms, company_id = company,
            "request"
        );
    }
    response
}
