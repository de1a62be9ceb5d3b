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

pub const ALLOWED_METHODS: &str = "PUT, POST, DELETE";

#[derive(Debug)]
pub enum ApiError {
    /// 400 with one or more messages for people.
    BadRequest(Vec<String>),
    /// 401: missing, malformed, unknown, wrong, revoked or expired credential.
    Unauthenticated,
    /// 401: a credential without the scope the operation needs.
    MissingScope(&'static str),
    NotFound {
        method: String,
        path: String,
    },
    MethodNotAllowed,
    PayloadTooLarge {
        limit: usize,
    },
    UnsupportedMediaType(String),
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
            Self::Unauthenticated | Self::MissingScope(_) => StatusCode::UNAUTHORIZED,
            Self::NotFound { .. } => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::BodyTimeout(_) => StatusCode::REQUEST_TIMEOUT,
            Self::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::Timeout(_) | Self::NotReady(_) | Self::Unavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::NotFound { method, path } => plain(format!(
                "no such endpoint: {method} {path} (this service answers PUT, POST and DELETE on /v2/calls/users-access)"
            )),
            Self::MethodNotAllowed => {
                plain(format!("method not allowed on this path; use one of {ALLOWED_METHODS}"))
            }
            Self::PayloadTooLarge { limit } => {
                plain(format!("request body is larger than the limit of {limit} bytes"))
            }
            Self::UnsupportedMediaType(got) => {
                plain(format!("content type must be application/json, got '{got}'"))
            }
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
            Self::MethodNotAllowed => {
                headers.insert(header::ALLOW, HeaderValue::from_static(ALLOWED_METHODS));
            }
            Self::RateLimited(exceeded) => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(exceeded.retry_after_secs),
                );
            }
            _ => {}
        }
        response.extensions_mut().insert(self.into_messages());
        response
    }
}

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
