//! Admin tokens on each admin request: `Authorization: Bearer caadm_…`.
//!
//! [`require`] is the `route_layer` of every admin route. It looks the
//! token up by its id on every request (no cache: a revocation is seen on
//! the next request, on every node) and compares the secret with the
//! stored digest in constant time. Every failure — no header, another
//! scheme, a Gong key or token, an unknown id, a wrong secret, a revoked or
//! expired token — is the same 401, so a caller learns nothing about which
//! part was wrong. Expiry is judged by the service's clock, so a manual
//! clock expires admin tokens too. A read-only token may use GET and HEAD
//! only (403 otherwise). The token id of an accepted request is left in the
//! request as an [`AdminActor`] for the handlers (audit, later).
//!
//! The token is never logged: the request's log line names method, path
//! and status only.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use callaccess_domain::admin_token::{self, AdminTokenId, StoredAdminToken};
use callaccess_domain::{secret, Actor, Origin};

use crate::http::error::ApiError;
use crate::http::AppState;

/// Who made an accepted admin request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminActor {
    pub token_id: AdminTokenId,
    pub read_only: bool,
}

/// The message of a read-only token's 403.
pub const READ_ONLY_MESSAGE: &str =
    "this admin token is read-only: it may use GET only; create a full one with `callaccess admin-token create`";

/// The middleware: authenticate, then let reads through for every token
/// and writes for full tokens only.
pub async fn require(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let actor = match authenticate(&state, request.headers().get(AUTHORIZATION)).await {
        Ok(actor) => actor,
        Err(refused) => return refused.into_response(),
    };
    if actor.read_only && !matches!(*request.method(), Method::GET | Method::HEAD) {
        return ApiError::Forbidden(READ_ONLY_MESSAGE.to_owned()).into_response();
    }
    // Who the request's writes are recorded as made by (the audit trail).
    let request_id = request
        .extensions()
        .get::<std::sync::Arc<crate::http::request_id::RequestContext>>()
        .map(|context| context.id.to_string());
    let origin = Origin::new(Actor::Admin(actor.token_id.clone()), request_id);
    request.extensions_mut().insert(origin);
    request.extensions_mut().insert(actor);
    next.run(request).await
}

/// The admin token a header presents, if the store has it and it may be
/// used now.
pub async fn authenticate(
    state: &AppState,
    header: Option<&HeaderValue>,
) -> Result<AdminActor, ApiError> {
    let text = header
        .and_then(|h| h.to_str().ok())
        .ok_or(ApiError::AdminUnauthenticated)?;
    let (scheme, token) = text
        .trim()
        .split_once(' ')
        .ok_or(ApiError::AdminUnauthenticated)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::AdminUnauthenticated);
    }
    verify(state, token.trim()).await
}

/// The admin token `token` (its text, `caadm_…`), if the store has it and
/// it may be used now: the one check of the admin API and of the
/// console's session cookie.
pub async fn verify(state: &AppState, token: &str) -> Result<AdminActor, ApiError> {
    let (id, presented) = admin_token::split(token).ok_or(ApiError::AdminUnauthenticated)?;
    let found: Option<StoredAdminToken> = state.store.admin_token(&id).await?;
    let now = state.clock.now();
    match found {
        Some(stored) if admin_token::accepts(&stored, presented, now) => Ok(AdminActor {
            token_id: stored.info.id,
            read_only: stored.info.read_only,
        }),
        Some(_) => Err(ApiError::AdminUnauthenticated),
        None => {
            // An unknown id costs the same digest and comparison as a
            // wrong secret.
            let _ = secret::verify(&secret::digest(""), presented);
            Err(ApiError::AdminUnauthenticated)
        }
    }
}
