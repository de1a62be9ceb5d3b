//! The one error type of the HTTP edge and Gong's envelope.
//!
//! Handlers and extractors return [`ApiError`]. Its `IntoResponse` sets the
//! status and headers and leaves the messages in a response extension; the
//! request-id middleware ([`super::envelope`]) then writes every error body as
//! `{"requestId":"…","errors":["…"]}`, since only it knows the request id. A
//! response that reaches the middleware with an error status but no
//! [`ErrorMessages`] (a panic, a layer's own rejection) gets a generic
//! message in the same envelope, so no other error shape exists.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use callaccess_domain::StoreError;

/// Most ids quoted back in one not-found answer; more are summarised.
const MAX_LISTED_IDS: usize = 100;

/// The methods of `/v2/calls/users-access`, as its 405 lists them.
pub const USERS_ACCESS_METHODS: &str = "PUT, POST, DELETE";
/// The methods of `/v2/calls`: listCalls and addCall.
pub const CALLS_METHODS: &str = "GET, HEAD, POST";
/// The methods of `/v2/permission-profile`: get, create and update.
pub const PROFILE_METHODS: &str = "GET, HEAD, POST, PUT";
/// The methods of a path with one POST operation.
pub const POST_ONLY: &str = "POST";
/// The methods of the operations endpoints (`/healthz`, `/readyz`,
/// `/metrics`, `/openapi.json`) and of the read-only `/v2` paths: `get`
/// routes answer HEAD too.
pub const READ_ONLY_METHODS: &str = "GET, HEAD";

/// The `Retry-After` of every 503, in seconds. Each cause of a 503 (the
/// database down or restarting, a full disk or read-only file, a request
/// held up by load) can clear at any moment, and the service notices on
/// the very next request, with no back-off of its own to wait out; so the
/// shortest wait the header can express is the honest hint. A client that
/// wants to back off further does so on its own schedule.
const RETRY_AFTER_UNAVAILABLE_SECS: u32 = 1;

#[derive(Debug)]
pub enum ApiError {
    /// 400 with one or more messages for people.
    BadRequest(Vec<String>),
    /// 401: missing, malformed, unknown, wrong, revoked or expired credential.
    Unauthenticated,
    /// 401: a credential without the scope the operation needs.
    MissingScope(&'static str),
    /// 401 from the admin API: no admin token, or one that is malformed,
    /// unknown, wrong, revoked or expired (one answer for all).
    AdminUnauthenticated,
    /// 403: the credential is valid but may not do this (a read-only admin
    /// token on a write); the message says what it may do.
    Forbidden(String),
    /// 404: no such endpoint.
    NotFound {
        method: String,
        path: String,
    },
    /// 404 from an operation: what it looked for does not exist, or its
    /// filters select nothing (Gong's own wording).
    NoRecords(String),
    /// 409: what a request would create exists already.
    Conflict(String),
    /// 405, with the methods the path does answer.
    MethodNotAllowed(&'static str),
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType(String),
    /// 415: a `Content-Encoding` other than `identity` (the codings as sent).
    EncodedBody(String),
    /// 408: the client did not send its body in time.
    BodyTimeout(std::time::Duration),
    /// 429: the company is over one of its rate limits.
    RateLimited(crate::ratelimit::Exceeded),
    /// 503: the request took longer than the configured time.
    Timeout(std::time::Duration),
    /// 503 from `/readyz`: the cause goes to the log.
    NotReady(String),
    /// 503: the store cannot be reached; the cause goes to the log.
    Unavailable(String),
    /// 500: the cause goes to the log, never to the client.
    Internal(String),
    /// The answer a fault rule puts in place of the handler's: a status
    /// with its messages, or a connection effect (`crate::faults`).
    Fault(crate::faults::Injected),
}

/// The messages of an error response, waiting for the middleware to wrap
/// them with the request id. `cause` is logged, never sent.
#[derive(Debug, Clone)]
pub struct ErrorMessages {
    pub errors: Vec<String>,
    pub cause: Option<String>,
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::BadRequest(vec![message.into()])
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::Unauthenticated | Self::MissingScope(_) | Self::AdminUnauthenticated => {
                StatusCode::UNAUTHORIZED
            }
            Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::NotFound { .. } | Self::NoRecords(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) | Self::EncodedBody(_) => {
                StatusCode::UNSUPPORTED_MEDIA_TYPE
            }
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout(_) | Self::NotReady(_) | Self::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Fault(injected) => injected.status(),
        }
    }

    fn into_messages(self) -> ErrorMessages {
        let plain = |m: String| ErrorMessages {
            errors: vec![m],
            cause: None,
        };
        match self {
            Self::BadRequest(errors) => ErrorMessages { errors, cause: None },
            // One message for every way authentication can fail, so a caller
            // cannot learn whether a key exists or which part was wrong.
            Self::Unauthenticated => plain(
                "authentication failed: send 'Authorization: Basic' with a valid access key and secret, \
                 or 'Authorization: Bearer' with a valid access token"
                    .to_owned(),
            ),
            Self::MissingScope(scope) => plain(format!("You don't have permission to use '{scope}' in your app.")),
            Self::AdminUnauthenticated => plain(
                "admin authentication failed: send 'Authorization: Bearer' with a valid admin token \
                 (`callaccess admin-token create` makes one); Gong keys and tokens are not accepted here"
                    .to_owned(),
            ),
            Self::Forbidden(message) => plain(message),
            Self::NotFound { method, path } => plain(format!(
                "no such endpoint: {method} {path} (/openapi.json lists the operations this service answers)"
            )),
            Self::NoRecords(message) | Self::Conflict(message) => plain(message),
            Self::MethodNotAllowed(allowed) => {
                plain(format!("method not allowed on this path; use one of {allowed}"))
            }
            Self::PayloadTooLarge { limit } => {
                plain(format!("request body is larger than the limit of {limit} bytes"))
            }
            Self::UnsupportedMediaType(got) => {
                plain(format!("content type must be application/json, got '{got}'"))
            }
            Self::EncodedBody(coding) => plain(format!(
                "request bodies must not be compressed (Content-Encoding: {coding}); send the JSON as is"
            )),
            Self::BodyTimeout(limit) => plain(format!(
                "the request body was not received within {}",
                humantime::format_duration(limit)
            )),
            Self::RateLimited(exceeded) => {
                let window = match exceeded.window {
                    crate::ratelimit::Window::Second => "per second",
                    crate::ratelimit::Window::Day => "per day",
                };
                plain(format!(
                    "rate limit exceeded: this company may make {} requests {window}; retry after {} s",
                    exceeded.limit, exceeded.retry_after_secs
                ))
            }
            Self::Timeout(limit) => plain(format!(
                "the request did not finish within {}; retry it (PUT and DELETE are safe to repeat)",
                humantime::format_duration(limit)
            )),
            Self::NotReady(cause) => ErrorMessages {
                errors: vec!["not ready: the database cannot be reached or its schema is not current".to_owned()],
                cause: Some(cause),
            },
            Self::Unavailable(cause) => ErrorMessages {
                errors: vec!["the service is temporarily unavailable; retry shortly".to_owned()],
                cause: Some(cause),
            },
            Self::Internal(cause) => ErrorMessages {
                errors: vec!["the operation failed on the server; quote the request id to the operator".to_owned()],
                cause: Some(cause),
            },
            Self::Fault(injected) => injected.messages(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::CallsNotFound(ids) => {
                Self::BadRequest(not_found("Some calls not found", "call", ids))
            }
            StoreError::UsersNotFound(ids) => {
                Self::BadRequest(not_found("Some users not found", "user", ids))
            }
            // addCall's users, reported as PUT reports unknown users.
            StoreError::NoPrimaryUser { user, .. } | StoreError::NoParticipant { user, .. } => {
                Self::BadRequest(not_found("Some users not found", "user", vec![user]))
            }
            e @ StoreError::ClientUniqueIdTaken { .. } => Self::Conflict(e.to_string()),
            e @ StoreError::NoWorkspace { .. } => {
                Self::BadRequest(vec![format!("workspaceId: {e}")])
            }
            e @ StoreError::NoProfile { .. } => Self::BadRequest(vec![format!("profileId: {e}")]),
            StoreError::Unavailable(cause) => Self::Unavailable(cause),
            // Handlers verify again and repeat (`auth::with_credential`); a
            // check that could not be settled is refused.
            StoreError::CredentialsChanged => Self::Unauthenticated,
            other => Self::Internal(other.to_string()),
        }
    }
}

fn not_found<T: std::fmt::Display>(headline: &str, kind: &str, ids: Vec<T>) -> Vec<String> {
    let total = ids.len();
    let mut errors = Vec::with_capacity(total.min(MAX_LISTED_IDS) + 2);
    errors.push(headline.to_owned());
    errors.extend(
        ids.iter()
            .take(MAX_LISTED_IDS)
            .map(|id| format!("{kind} \"{id}\" not found")),
    );
    if total > MAX_LISTED_IDS {
        errors.push(format!(
            "and {} more {kind}s not found",
            total - MAX_LISTED_IDS
        ));
    }
    errors
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A fault rule's answer has only the headers the rule asks for (no
        // `Retry-After: 1` on its 503 unless it says so).
        if let Self::Fault(injected) = self {
            return injected.into_response();
        }
        let status = self.status();
        let mut response = status.into_response();
        let headers = response.headers_mut();
        match &self {
            Self::Unauthenticated | Self::MissingScope(_) => {
                headers.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"callaccess\""),
                );
                headers.append(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"callaccess\""),
                );
            }
            Self::AdminUnauthenticated => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"callaccess-admin\""),
                );
            }
            Self::MethodNotAllowed(allowed) => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allowed));
            }
            // RFC 9110 (15.5.16): a 415 for a content coding says which
            // codings would have been accepted.
            Self::EncodedBody(_) => {
                headers.insert(
                    header::ACCEPT_ENCODING,
                    HeaderValue::from_static("identity"),
                );
            }
            // The rest of the body was not read, so the connection cannot
            // carry another request; saying so lets the client reconnect
            // instead of writing into a closed socket.
            Self::PayloadTooLarge { .. } | Self::BodyTimeout(_) => {
                headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            Self::RateLimited(exceeded) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(exceeded.retry_after_secs),
                );
            }
            _ => {}
        }
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(
                header::RETRY_AFTER,
                HeaderValue::from(RETRY_AFTER_UNAVAILABLE_SECS),
            );
        }
        response.extensions_mut().insert(self.into_messages());
        response
    }
}

/// Marks a response whose error status comes with a body of its own (a
/// console page): the envelope leaves it as it is.
#[derive(Debug, Clone, Copy)]
pub struct OwnBody;

/// The message for an error status that carries no [`ErrorMessages`].
pub fn generic_message(status: StatusCode) -> ErrorMessages {
    let message = match status {
        StatusCode::INTERNAL_SERVER_ERROR => {
            "the operation failed on the server; quote the request id to the operator".to_owned()
        }
        other => format!(
            "request failed: {}",
            other.canonical_reason().unwrap_or("error").to_lowercase()
        ),
    };
    ErrorMessages {
        errors: vec![message],
        cause: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_503_says_when_to_retry() {
        let second = std::time::Duration::from_secs(1);
        for error in [
            ApiError::Timeout(second),
            ApiError::NotReady("down".to_owned()),
            ApiError::Unavailable("down".to_owned()),
            ApiError::from(StoreError::Unavailable("down".to_owned())),
        ] {
            let response = error.into_response();
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert_eq!(response.headers()[header::RETRY_AFTER], "1");
        }
        // A 500 is a bug, not a wait: retrying later is no advice.
        let internal = ApiError::Internal("bug".to_owned()).into_response();
        assert!(internal.headers().get(header::RETRY_AFTER).is_none());
    }
}
