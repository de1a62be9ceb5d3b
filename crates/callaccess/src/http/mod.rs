//! The HTTP edge: everything between a socket and the store.
//!
//! - [`request_id`]: request ids and the per-request context.
//! - [`error`]: `ApiError` and Gong's error envelope.
//! - [`auth`]: Basic and Bearer authentication into a `Principal`, counted
//!   against the company's rate limits.
//! - [`body`]: reading a JSON body (content type and coding, size, time,
//!   syntax), and the rest of a body a handler left unread.
//! - [`dto`]: Gong's request and response shapes of users-access.
//! - [`directory`]: Gong's directory operations (workspaces, users, calls,
//!   permission profiles), with their shapes in [`gong`], their bodies
//!   checked and documented by the tables of [`shape`], and their query
//!   strings read by [`query`].
//! - [`openapi`]: the OpenAPI document generated from the handlers and DTOs.
//! - [`admin`]: the admin API under `/admin/v1`; [`console`]: the operator
//!   console under `/console`, served wherever the admin API is.
//!
//! [`router`] wires the three `/v2/calls/users-access` operations, the
//! directory operations, the operations endpoints and the fallbacks; [`envelope`] is the outermost
//! middleware: it assigns the request id, bounds the request's time, writes
//! every error body, sets `x-traceid`, records metrics and logs one line.

pub mod admin;
pub mod auth;
pub mod body;
pub mod console;
pub mod directory;
pub mod dto;
pub mod error;
pub mod gong;
pub mod openapi;
pub mod query;
pub mod request_id;
pub mod shape;

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use axum::http::{HeaderValue, Method, StatusCode, Uri};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use callaccess_domain::{AccessChange, CallGrants, CallId, Caller, Origin, Scope, Store};
use metrics_exporter_prometheus::PrometheusHandle;
use serde::Serialize;

use crate::ratelimit::{RateLimitDefaults, RateLimiter};
use auth::Principal;
use body::JsonBody;
use error::{ApiError, ErrorMessages};
use request_id::RequestContext;

/// The one path of the API.
pub const USERS_ACCESS_PATH: &str = "/v2/calls/users-access";

/// Request size and time limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Most (call, user) pairs in one PUT or DELETE, and call ids in one POST.
    pub max_pairs: usize,
    /// A request running longer is answered 503.
    pub request_timeout: Duration,
    /// A client must send its request line and headers within this time.
    pub header_read_timeout: Duration,
    /// A client must send its whole body within this time (else 408).
    pub body_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_body_bytes: 1024 * 1024,
            max_pairs: 10_000,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            body_read_timeout: Duration::from_secs(20),
        }
    }
}

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub limits: Limits,
    /// Server-wide rate limits; a company's own settings override them.
    pub rate_limits: RateLimitDefaults,
    pub limiter: Arc<dyn RateLimiter>,
    /// `Some`: `/metrics` is served by this router; `None`: elsewhere or not at all.
    pub metrics: Option<PrometheusHandle>,
    /// Recently verified credentials; `None` where revocation must be seen
    /// on the next request (see [`auth::CredentialCache`]).
    pub credentials: Option<Arc<auth::CredentialCache>>,
    /// Where "now" is read: the system clock or a manual one.
    pub clock: callaccess_domain::Clock,
    /// Recent `/v2` requests, for tests to list and count.
    pub journal: Arc<crate::journal::Journal>,
    /// Rules that make `/v2` answers fail on purpose.
    pub faults: Arc<crate::faults::Faults>,
    /// The node's change stream; `None` where it was not started (a
    /// harness that needs no stream).
    pub changes: Option<Arc<crate::changes::Changes>>,
    /// How often an idle change stream sends a heartbeat.
    pub changes_heartbeat: std::time::Duration,
}

/// The whole application, ready to serve: the API and the admin API.
pub fn router(state: AppState) -> Router {
    build_router(state, true)
}

/// The API without the admin API and the console, for `--admin-listen`:
/// `/admin/v1` and `/console` on
/// this address then answers 404 like any path it does not serve.
pub fn api_router(state: AppState) -> Router {
    build_router(state, false)
}

/// Only the admin API and the console, for `--admin-listen`, with the
/// same envelope.
pub fn admin_router(state: AppState) -> Router {
    admin::routes(&state)
        .merge(console::routes())
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            envelope,
        ))
        .with_state(state)
}

fn build_router(state: AppState, with_admin: bool) -> Router {
    let users_access = put(add_users_access)
        .post(get_users_access)
        .delete(delete_users_access)
        .fallback(users_access_methods);
    let allow =
        |methods: &'static str| move || std::future::ready(ApiError::MethodNotAllowed(methods));
    let mut router = Router::new()
        .route(USERS_ACCESS_PATH, users_access)
        .route(
            "/v2/workspaces",
            get(directory::list_workspaces).fallback(read_only_methods),
        )
        .route(
            "/v2/users",
            get(directory::list_users).fallback(read_only_methods),
        )
        .route(
            "/v2/users/{id}",
            get(directory::get_user).fallback(read_only_methods),
        )
        .route(
            "/v2/users/extensive",
            post(directory::list_multiple_users).fallback(allow(error::POST_ONLY)),
        )
        .route(
            "/v2/calls",
            get(directory::list_calls)
                .post(directory::add_call)
                .fallback(allow(error::CALLS_METHODS)),
        )
        .route(
            "/v2/calls/{id}",
            get(directory::get_call).fallback(read_only_methods),
        )
        .route(
            "/v2/calls/extensive",
            post(directory::list_calls_extensive).fallback(allow(error::POST_ONLY)),
        )
        .route(
            "/v2/all-permission-profiles",
            get(directory::list_permission_profile).fallback(read_only_methods),
        )
        .route(
            "/v2/permission-profile",
            get(directory::get_permission_profile)
                .post(directory::create_permission_profile)
                .put(directory::update_permission_profile)
                .fallback(allow(error::PROFILE_METHODS)),
        )
        .route(
            "/v2/permission-profile/users",
            get(directory::list_permission_profile_users).fallback(read_only_methods),
        )
        .route("/healthz", get(healthz).fallback(read_only_methods))
        .route("/readyz", get(readyz).fallback(read_only_methods))
        .route(
            "/openapi.json",
            get(openapi_json).fallback(read_only_methods),
        );
    if state.metrics.is_some() {
        router = router.route("/metrics", get(metrics).fallback(read_only_methods));
    }
    if with_admin {
        router = router.merge(admin::routes(&state)).merge(console::routes());
    }
    router
        .fallback(not_found)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            envelope,
        ))
        .with_state(state)
}

/// A router that serves only `/metrics`, for `--metrics-listen`.
pub fn metrics_router(handle: PrometheusHandle) -> Router {
    Router::new()
        .route(
            "/metrics",
            get(move || std::future::ready(prometheus_text(&handle))),
        )
        .fallback(not_found)
        .layer(axum::middleware::from_fn(plain_envelope))
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

/// The error answers every users-access operation can give besides its
/// own 400, documented once.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "only its OpenAPI description is used")]
enum CommonErrors {
    #[response(status = 401, description = "Not authenticated, or missing scope")]
    Unauthenticated(dto::ErrorResponse),
    #[response(status = 408, description = "The body was not received in time")]
    BodyTimeout(dto::ErrorResponse),
    #[response(status = 413, description = "Body too large")]
    TooLarge(dto::ErrorResponse),
    #[response(status = 415, description = "Body is not JSON, or is compressed")]
    NotJson(dto::ErrorResponse),
    #[response(status = 429, description = "Rate limit exceeded")]
    RateLimited(dto::ErrorResponse),
    #[response(status = 500, description = "Server error")]
    Internal(dto::ErrorResponse),
    #[response(status = 503, description = "Unavailable or timed out")]
    Unavailable(dto::ErrorResponse),
}

/// The error answers of an operation that reads no body (a GET) besides
/// its own 400 and 404, documented once.
#[derive(utoipa::IntoResponses)]
#[expect(dead_code, reason = "only its OpenAPI description is used")]
enum ReadErrors {
    #[response(status = 401, description = "Not authenticated, or missing scope")]
    Unauthenticated(dto::ErrorResponse),
    #[response(status = 429, description = "Rate limit exceeded")]
    RateLimited(dto::ErrorResponse),
    #[response(status = 500, description = "Server error")]
    Internal(dto::ErrorResponse),
    #[response(status = 503, description = "Unavailable or timed out")]
    Unavailable(dto::ErrorResponse),
}

/// Give individual users access to calls. If a user can already open a call
/// (it was shared with them, or their permission profile lets them), the
/// request has no effect for that user.
#[utoipa::path(
    put,
    path = "/v2/calls/users-access",
    operation_id = "addUsersAccessToCalls",
    tag = "Permissions",
    request_body = openapi::CallsUsersAccessAddDto,
    responses(
        (status = 200, description = "Access granted", body = dto::BaseResponse),
        (status = 400, description = "Malformed request, or unknown calls or users", body = dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:call-user-access:write"]))
)]
pub(crate) async fn add_users_access(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    change_access(&state, &context, &principal, body, Grant).await
}

/// Remove individual users' access to calls. Only access given by this API
/// is removed; sharing and permission profiles are left as they are.
#[utoipa::path(
    delete,
    path = "/v2/calls/users-access",
    operation_id = "deleteUsersAccessToCalls",
    tag = "Permissions",
    request_body = openapi::CallsUsersAccessDeleteDto,
    responses(
        (status = 200, description = "Access removed", body = dto::BaseResponse),
        (status = 400, description = "Malformed request, or unknown calls", body = dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:call-user-access:write"]))
)]
pub(crate) async fn delete_users_access(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    change_access(&state, &context, &principal, body, Revoke).await
}

/// PUT of users-access: grant (also the console's grant button).
pub(crate) struct Grant(pub(crate) AccessChange);
/// DELETE of users-access: revoke (also the console's revoke button).
pub(crate) struct Revoke(pub(crate) AccessChange);
/// POST of users-access: list the API grants of these calls.
struct List(Vec<CallId>);

impl auth::Operation for Grant {
    type Output = ();
    const SCOPE: &'static str = Scope::WRITE;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        origin: &'a Origin,
    ) -> auth::StoreFuture<'a, ()> {
        store.grant_access(origin, caller, &self.0)
    }
}

impl auth::Operation for Revoke {
    type Output = ();
    const SCOPE: &'static str = Scope::WRITE;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        origin: &'a Origin,
    ) -> auth::StoreFuture<'a, ()> {
        store.revoke_access(origin, caller, &self.0)
    }
}

impl auth::Operation for List {
    type Output = Vec<CallGrants>;
    const SCOPE: &'static str = Scope::READ;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> auth::StoreFuture<'a, Vec<CallGrants>> {
        store.list_api_grants(caller, &self.0)
    }
}

/// PUT and DELETE: the same body, then a grant or a revoke.
async fn change_access<O: auth::Operation<Output = ()>>(
    state: &AppState,
    context: &RequestContext,
    principal: &Principal,
    body: Result<JsonBody, ApiError>,
    make: fn(AccessChange) -> O,
) -> Result<Response, ApiError> {
    let max_pairs = state.limits.max_pairs;
    let request =
        body.and_then(|JsonBody(body)| dto::parse_access_change(&body, max_pairs).map(make));
    auth::perform(state, principal, request).await?;
    Ok(json_response(
        StatusCode::OK,
        &dto::BaseResponse {
            request_id: context.id.to_string(),
        },
    ))
}

/// List the users who were given access to calls through this API (not
/// sharing or permission profiles), for each requested call in order.
#[utoipa::path(
    post,
    path = "/v2/calls/users-access",
    operation_id = "getUsersAccessToCalls",
    tag = "Permissions",
    request_body = openapi::FilterRequestCallsAccessGetDto,
    responses(
        (status = 200, description = "The API grants of each call", body = dto::CallsAccessDetailsResponse),
        (status = 400, description = "Malformed request, or unknown calls", body = dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:call-user-access:read"]))
)]
pub(crate) async fn get_users_access(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let max_pairs = state.limits.max_pairs;
    let request = body.and_then(|JsonBody(body)| dto::parse_filter(&body, max_pairs).map(List));
    let grants = auth::perform(&state, &principal, request).await?;
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

/// Readiness: the database answers and its schema is the one this binary
/// runs (backends check that in `ping`).
async fn readyz(
    State(state): State<AppState>,
    Extension(context): Context,
) -> Result<Response, ApiError> {
    state
        .store
        .ping()
        .await
        .map_err(|e| ApiError::NotReady(format!("{} store: {e}", state.store.backend())))?;
    Ok(json_response(
        StatusCode::OK,
        &Health {
            request_id: context.id.as_str(),
            status: "ready",
        },
    ))
}

async fn openapi_json() -> Response {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes =
        DOCUMENT.get_or_init(|| serde_json::to_vec(&openapi::document()).unwrap_or_default());
    let mut response = bytes.clone().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn prometheus_text(handle: &PrometheusHandle) -> Response {
    let mut response = handle.render().into_response();
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

async fn metrics(State(state): State<AppState>) -> Response {
    match &state.metrics {
        Some(handle) => prometheus_text(handle),
        None => ApiError::NotFound {
            method: "GET".to_owned(),
            path: "/metrics".to_owned(),
        }
        .into_response(),
    }
}

async fn users_access_methods() -> ApiError {
    ApiError::MethodNotAllowed(error::USERS_ACCESS_METHODS)
}

async fn read_only_methods() -> ApiError {
    ApiError::MethodNotAllowed(error::READ_ONLY_METHODS)
}

async fn not_found(method: Method, uri: Uri) -> ApiError {
    let path: String = uri.path().chars().take(200).collect();
    ApiError::NotFound {
        method: method.to_string(),
        path,
    }
}

/// Outermost middleware of the API: request id in; time bound; a body
/// left unread read out or the connection closed ([`body::watch`]);
/// envelope, `x-traceid`, metrics and one log line out.
async fn envelope(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limits = state.limits;
    // The rest of a body left unread may take what is left of both the
    // body's and the request's time.
    let deadline = Instant::now() + limits.body_read_timeout.min(limits.request_timeout);
    let journal = Some((&*state.journal, &state.clock));
    finish(request, journal, |request| async move {
        let (request, watch) = body::watch(request);
        let mut response =
            match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
                Ok(response) => response,
                Err(_) => ApiError::Timeout(limits.request_timeout).into_response(),
            };
        if let Some(watch) = watch {
            watch.settle(&mut response, limits.max_body_bytes, deadline);
        }
        response
    })
    .await
}

/// The same, without a time bound, for the metrics-only listener.
async fn plain_envelope(request: Request, next: Next) -> Response {
    finish(request, None, |request| next.run(request)).await
}

/// `journal`: where `/v2` requests are recorded, and the clock that dates
/// them; `None` on a listener that records nothing.
async fn finish<F, Fut>(
    mut request: Request,
    journal: Option<(&crate::journal::Journal, &callaccess_domain::Clock)>,
    run: F,
) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let started = Instant::now();
    let context = Arc::new(RequestContext::new());
    request.extensions_mut().insert(context.clone());
    // Gong's API only: admin requests, health and metrics are never kept.
    let journal = journal
        .filter(|(journal, _)| journal.is_on() && crate::journal::records(request.uri().path()));
    let mut recording = None;
    if let Some((_, clock)) = journal {
        let (teed, noted) = crate::journal::Recording::start(request, clock);
        request = teed;
        recording = Some(noted);
    }
    let method = request.method().clone();
    let path: String = request.uri().path().chars().take(200).collect();
    // The route pattern, not the path, labels metrics: ids never become labels.
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());

    let mut response = run(request).await;
    let status = response.status();
    // A page of the console is its own answer, even an error one.
    let own_body = response.extensions().get::<error::OwnBody>().is_some();
    let messages = response
        .extensions_mut()
        .remove::<ErrorMessages>()
        .or_else(|| {
            (!own_body && (status.is_client_error() || status.is_server_error()))
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

    let elapsed = started.elapsed();
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.as_u16().to_string()),
    ];
    metrics::counter!("callaccess_http_requests_total", &labels).increment(1);
    metrics::histogram!("callaccess_http_request_duration_seconds", &labels[..2])
        .record(elapsed.as_secs_f64());

    if let (Some((journal, _)), Some(recording)) = (journal, recording) {
        response = recording.record(journal, &context, response, elapsed).await;
    }

    let latency_ms = elapsed.as_secs_f64() * 1000.0;
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
