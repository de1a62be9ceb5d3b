//! What the console's pages share: rendering a template into an answer,
//! the navigation of a signed-in page, routes as badges, and the page of a
//! request that was refused or failed.

use askama::Template;
use axum::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, REFERRER_POLICY};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use callaccess_domain::access::Route;
use callaccess_domain::{CompanyId, UserId};

use super::session::Session;
use crate::http::error::{ApiError, ErrorMessages, OwnBody};

/// Only the console's own files: no inline script, no other origin, no
/// framing.
const POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'";

/// A page as an HTML answer with `status`; a template that fails to render
/// is a 500 (the envelope's, with the cause in the log).
pub fn render(status: StatusCode, page: &impl Template) -> Response {
    match page.render() {
        Ok(html) => {
            let mut response = (status, Html(html)).into_response();
            let headers = response.headers_mut();
            headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            headers.insert(CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY));
            headers.insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
            response.extensions_mut().insert(OwnBody);
            response
        }
        Err(e) => {
            ApiError::Internal(format!("a console page could not be rendered: {e}")).into_response()
        }
    }
}

/// The navigation of a signed-in page: the company's calls and audit (the
/// company of the page, else the first one), the journal, the faults, the
/// role and the sign-out button.
pub struct Nav {
    pub company: Option<String>,
    pub role: &'static str,
    pub csrf: String,
    /// Which link is the current page's (`calls`, `audit`, `journal`,
    /// `faults`, `companies`).
    pub current: &'static str,
}

impl Nav {
    pub fn new(session: &Session, company: Option<CompanyId>, current: &'static str) -> Self {
        Self {
            company: company.map(|c| c.to_string()),
            role: session.role(),
            csrf: session.csrf(),
            current,
        }
    }
}

/// One route of a user to a call, as a badge: `data-route` is the explain
/// API's `route` value, the text a person's.
pub struct Badge {
    pub route: String,
    pub text: String,
    /// A hierarchy route's chain of managers, with their names.
    pub chain: Vec<Person>,
}

/// A user as a page names them: the id, and a name to show.
#[derive(Clone)]
pub struct Person {
    pub id: String,
    pub name: String,
}

impl Person {
    pub fn new(id: UserId, name: impl Into<String>) -> Self {
        Self {
            id: id.to_string(),
            name: name.into(),
        }
    }
}

/// A user's name to show: first and last name, else the email address.
pub fn name_of(user: &callaccess_domain::User) -> String {
    let name = [user.first_name.as_deref(), user.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|part| !part.trim().is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    if name.is_empty() {
        user.email_address.clone()
    } else {
        name
    }
}

/// The route's name in the explain API's JSON (`apiGrant`, `shared`,
/// `profile`): read from its serialisation, so the two cannot differ.
fn route_name(route: &Route) -> String {
    serde_json::to_value(route)
        .ok()
        .and_then(|v| v.get("route").and_then(|r| r.as_str()).map(str::to_owned))
        .unwrap_or_default()
}

impl Badge {
    /// `name` gives the name of a user of a chain.
    pub fn of(route: &Route, name: impl Fn(UserId) -> String) -> Self {
        let text = match route {
            Route::ApiGrant(grant) => match &grant.granted_by {
                Some(by) => format!("API grant ({}, by {by})", grant.granted_at),
                None => format!("API grant ({})", grant.granted_at),
            },
            Route::Shared => "Shared".to_owned(),
            Route::Profile {
                name: profile,
                level,
                ..
            } => format!("Profile: {profile} ({})", level.as_str()),
        };
        let chain = match route {
            Route::Profile { chain, .. } => {
                chain.iter().map(|&id| Person::new(id, name(id))).collect()
            }
            _ => Vec::new(),
        };
        Self {
            route: route_name(route),
            text,
            chain,
        }
    }

    pub fn is_api_grant(&self) -> bool {
        self.route == "apiGrant"
    }
}

/// Every user a set of routes names (their chains), for one name lookup.
pub fn chain_users(routes: &[Route]) -> impl Iterator<Item = UserId> + '_ {
    routes.iter().flat_map(|route| match route {
        Route::Profile { chain, .. } => chain.clone(),
        _ => Vec::new(),
    })
}

/// Why a console request got no page of its own: a page saying so.
#[derive(Debug)]
pub enum Failure {
    /// A 4xx with this message (refused writes, unknown ids, bad input).
    Page(StatusCode, String),
    /// An error of the operations the admin API shares: a 4xx is shown on
    /// a page, a 5xx is the envelope's (opaque, its cause in the log).
    Api(ApiError),
}

impl Failure {
    /// 403: a write the session may not make.
    pub fn refused(message: impl Into<String>) -> Self {
        Self::Page(StatusCode::FORBIDDEN, message.into())
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::Page(StatusCode::BAD_REQUEST, message.into())
    }
}

impl From<ApiError> for Failure {
    fn from(error: ApiError) -> Self {
        Self::Api(error)
    }
}

impl From<callaccess_domain::StoreError> for Failure {
    fn from(error: callaccess_domain::StoreError) -> Self {
        Self::Api(crate::http::admin::store_error(error))
    }
}

#[derive(Template)]
#[template(path = "console/failure.html")]
struct FailurePage {
    status: u16,
    reason: String,
    messages: Vec<String>,
}

fn failure_page(status: StatusCode, messages: Vec<String>) -> Response {
    render(
        status,
        &FailurePage {
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error").to_owned(),
            messages,
        },
    )
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        match self {
            Self::Page(status, message) => failure_page(status, vec![message]),
            Self::Api(error) => {
                let mut response = error.into_response();
                let status = response.status();
                if status.is_server_error() {
                    return response;
                }
                let messages = response
                    .extensions_mut()
                    .remove::<ErrorMessages>()
                    .map(|m| m.errors)
                    .unwrap_or_default();
                failure_page(status, messages)
            }
        }
    }
}

/// `text` as a value of a query string (`application/x-www-form-urlencoded`).
pub fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(byte));
            }
            b' ' => out.push('+'),
            other => out.push_str(&format!("%{other:02X}")),
        }
    }
    out
}
