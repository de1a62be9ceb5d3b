//! Signing in to the console, and the session every other page needs.
//!
//! The session cookie holds the admin token itself (HttpOnly,
//! SameSite=Strict, Path=/console, no Max-Age). Nothing about a session is
//! kept on the server: every request checks the token with the admin API's
//! own check ([`admin_auth::verify`]), so every node of a deployment
//! accepts the cookie and a revoked or expired token stops working on its
//! next request.
//!
//! Every write form carries a CSRF value derived from the token (a SHA-256
//! over a fixed label and the token), compared in constant time: a page of
//! another site cannot read it, so cannot forge a write even where a
//! browser would send the cookie. A read-only token may read every page
//! and write nothing.
//!
//! The token is never logged and never shown: the request's log line names
//! method, path and status only, and no page writes it back.

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::header::{COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use callaccess_domain::{Actor, Origin};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::view::{self, Failure};
use crate::http::admin::auth::{self as admin_auth, AdminActor};
use crate::http::error::ApiError;
use crate::http::query::QueryParams;
use crate::http::request_id::RequestContext;
use crate::http::AppState;

pub const SIGN_IN_PATH: &str = "/console/sign-in";
pub const SIGN_OUT_PATH: &str = "/console/sign-out";
/// The session cookie's name.
pub const COOKIE_NAME: &str = "callaccess_console";

/// The message of a write with a missing or wrong CSRF value.
pub const CSRF_MESSAGE: &str =
    "this form is not one the console gave you (its csrf value is missing or wrong); reload the page and send it again";
/// The message of a read-only token's write.
pub const READ_ONLY_MESSAGE: &str =
    "this console is read-only: you signed in with a read-only admin token; sign in with a full one to change anything";
/// The message of a token the sign-in refused.
pub const REFUSED_MESSAGE: &str =
    "that is not an admin token this server accepts (unknown, revoked or expired); create one with `callaccess admin-token create`";

/// A signed-in request: who, and the token its forms are bound to.
pub struct Session {
    pub actor: AdminActor,
    token: String,
}

impl Session {
    /// The value of the hidden `csrf` field of every write form.
    pub fn csrf(&self) -> String {
        csrf_of(&self.token)
    }

    /// `full` or `read-only`, as `span#role` shows it.
    pub fn role(&self) -> &'static str {
        if self.actor.read_only {
            "read-only"
        } else {
            "full"
        }
    }

    /// Whether this session may write (the write controls are shown).
    pub fn can_write(&self) -> bool {
        !self.actor.read_only
    }

    /// A write's checks, before anything is read or changed: a full token,
    /// and the form's `csrf` value this session's.
    pub fn allow_write(&self, form: &QueryParams) -> Result<(), Failure> {
        let given = form.get("csrf").ok().flatten().unwrap_or("");
        let expected = self.csrf();
        if !bool::from(given.as_bytes().ct_eq(expected.as_bytes())) {
            return Err(Failure::refused(CSRF_MESSAGE));
        }
        if self.actor.read_only {
            return Err(Failure::refused(READ_ONLY_MESSAGE));
        }
        Ok(())
    }

    /// Who a write of this request is recorded as made by: the admin
    /// token, and the request's own id (fresh for every request).
    pub fn origin(&self, context: &RequestContext) -> Origin {
        Origin::new(
            Actor::Admin(self.actor.token_id.clone()),
            Some(context.id.to_string()),
        )
    }
}

/// Hex SHA-256 over a fixed label and the token: the same for every page
/// and node, unguessable without the token, and a different value for
/// every token.
fn csrf_of(token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"callaccess console csrf\0");
    hash.update(token.as_bytes());
    hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The session cookie's value, if the request has one.
fn cookie_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|h| h.to_str().ok())
        .flat_map(|h| h.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE_NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|value| !value.is_empty())
}

/// A 303 to `location`.
pub fn see_other(location: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(location) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The `Set-Cookie` that ends a session.
fn cleared_cookie() -> HeaderValue {
    HeaderValue::from_static(
        "callaccess_console=; HttpOnly; SameSite=Strict; Path=/console; Max-Age=0",
    )
}

/// Without a session: to the sign-in page, dropping a cookie that no
/// longer works.
fn to_sign_in(had_cookie: bool) -> Response {
    let mut response = see_other(SIGN_IN_PATH);
    if had_cookie {
        response.headers_mut().insert(SET_COOKIE, cleared_cookie());
    }
    response
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie_token(&parts.headers) else {
            return Err(to_sign_in(false));
        };
        match admin_auth::verify(state, &token).await {
            Ok(actor) => Ok(Self { actor, token }),
            Err(ApiError::AdminUnauthenticated) => Err(to_sign_in(true)),
            // The store could not say (it is down): not a sign-out.
            Err(other) => Err(Failure::from(other).into_response()),
        }
    }
}

#[derive(askama::Template)]
#[template(path = "console/sign_in.html")]
struct SignIn<'a> {
    error: Option<&'a str>,
    /// The request's session works already.
    signed_in: bool,
}

/// `GET /console/sign-in`: the form, saying so when the session still
/// works (signing in again replaces it).
pub async fn sign_in_page(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let signed_in = match cookie_token(&headers) {
        Some(token) => admin_auth::verify(&state, &token).await.is_ok(),
        None => false,
    };
    view::render(
        StatusCode::OK,
        &SignIn {
            error: None,
            signed_in,
        },
    )
}

/// `POST /console/sign-in` with the form field `token`.
pub async fn sign_in(State(state): State<AppState>, body: Bytes) -> Response {
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    let token = form.get("token").ok().flatten().unwrap_or("").trim();
    match admin_auth::verify(&state, token).await {
        // Only the token's own characters can be a cookie value; a token
        // with others would not have been accepted.
        Ok(_) => match HeaderValue::from_str(&format!(
            "{COOKIE_NAME}={token}; HttpOnly; SameSite=Strict; Path=/console"
        )) {
            Ok(cookie) => {
                let mut response = see_other(super::PREFIX);
                response.headers_mut().insert(SET_COOKIE, cookie);
                response
            }
            Err(_) => refused_sign_in(),
        },
        Err(ApiError::AdminUnauthenticated) => refused_sign_in(),
        Err(other) => Failure::from(other).into_response(),
    }
}

fn refused_sign_in() -> Response {
    view::render(
        StatusCode::UNAUTHORIZED,
        &SignIn {
            error: Some(REFUSED_MESSAGE),
            signed_in: false,
        },
    )
}

/// `POST /console/sign-out`: ends the session whether or not its token
/// still works (nothing is changed, so no CSRF check is needed).
pub async fn sign_out() -> Response {
    to_sign_in(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csrf_differs_by_token_and_is_stable() {
        assert_eq!(csrf_of("caadm_a_b"), csrf_of("caadm_a_b"));
        assert_ne!(csrf_of("caadm_a_b"), csrf_of("caadm_a_c"));
        assert_eq!(csrf_of("x").len(), 64);
    }

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_static("a=1; callaccess_console=caadm_x_y; b=2"),
        );
        assert_eq!(cookie_token(&headers).as_deref(), Some("caadm_x_y"));
        headers.insert(COOKIE, HeaderValue::from_static("callaccess_console="));
        assert_eq!(cookie_token(&headers), None);
    }
}
