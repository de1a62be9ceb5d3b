//! The admin API under `/admin/v1` (control-plane.md §1–9): directory
//! management, state for tests, the request journal, fault rules, the
//! clock, explain and reverse lookup, and the audit trail with its change
//! stream. Authenticated by admin tokens ([`auth`]); never rate limited,
//! never journaled, never faulted.
//!
//! - [`audit`]: the audit trail, listed and streamed as it commits.
//! - [`auth`]: admin tokens on each request; read-only tokens get GETs only.
//! - [`directory`]: companies and everything in them, as JSON CRUD.
//! - [`explain`]: why a user can open a call, a call's viewers and a
//!   user's calls, each with every route.
//! - [`state`]: import, export and reset.
//! - [`journal`]: the request journal.
//! - [`faults`]: fault rules.
//! - [`clock`]: reading and moving a manual clock.
//! - [`openapi`]: `/admin/v1/openapi.json`, this API's own document.

pub mod audit;
pub mod auth;
pub mod clock;
pub mod directory;
pub mod explain;
pub mod faults;
pub mod journal;
pub mod openapi;
pub mod state;

use axum::http::StatusCode;
use axum::response::Response;
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use callaccess_domain::{ErrorKind, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

use super::error::ApiError;
use super::query::QueryParams;
use super::AppState;

/// Where the admin API lives.
pub const PREFIX: &str = "/admin/v1";

/// Every admin route (full paths under [`PREFIX`]), behind admin-token
/// authentication ([`auth::require`], a `route_layer`, so it runs for the
/// admin routes only and an unknown path is still a plain 404).
pub fn routes(state: &AppState) -> Router<AppState> {
    Router::new()
        .merge(directory::routes())
        .merge(explain::routes())
        .merge(state::routes())
        .merge(journal::routes())
        .merge(faults::routes())
        .merge(clock::routes())
        .merge(audit::routes())
        .merge(openapi::routes())
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require,
        ))
}

// --- what the admin handlers share ---

/// The answer to a store error in the admin API, by its kind: a missing
/// company, user, call, key, token or profile is 404, a duplicate 409, a
/// value the operation refused 400. Unknown calls or users named in a
/// body are 400, as in `/v2`.
pub fn store_error(error: StoreError) -> ApiError {
    match error {
        e @ (StoreError::CallsNotFound(_) | StoreError::UsersNotFound(_)) => e.into(),
        e => match e.kind() {
            ErrorKind::NotFound => ApiError::NoRecords(e.to_string()),
            ErrorKind::Conflict => ApiError::Conflict(e.to_string()),
            ErrorKind::Invalid => ApiError::bad_request(e.to_string()),
            ErrorKind::Unavailable | ErrorKind::Other => e.into(),
        },
    }
}

/// A JSON answer with status 200.
pub fn ok<T: Serialize>(body: &T) -> Response {
    super::json_response(StatusCode::OK, body)
}

/// A body read into `T` (`deny_unknown_fields`, camelCase): serde's
/// message, which names an unknown field and the fields it expects, in
/// the house style.
pub fn parse_body<T: DeserializeOwned>(body: Value) -> Result<T, ApiError> {
    serde_json::from_value(body).map_err(|e| {
        ApiError::bad_request(format!("request body: {}", e.to_string().replace('`', "'")))
    })
}

/// Largest `limit` of a list.
pub const MAX_LIMIT: usize = 1000;
/// `limit` when none is given.
pub const DEFAULT_LIMIT: usize = 100;

/// Where a list resumes: `?limit=&cursor=`. The cursor is opaque to
/// clients: the name of the listing and the key of the last item shown,
/// so a cursor of one listing is refused by another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paging {
    pub limit: usize,
    /// The key of the last item of the previous page.
    pub after: Option<String>,
    listing: &'static str,
}

pub(super) const BAD_CURSOR: &str =
    "cursor: not a cursor of this list; pass the nextCursor of the previous page unchanged";

impl Paging {
    /// `limit` (1–1000, default 100) and `cursor` of `query`, for the list
    /// called `listing`.
    pub fn from_query(query: &QueryParams, listing: &'static str) -> Result<Self, ApiError> {
        let limit = match query.get("limit").map_err(ApiError::bad_request)? {
            None => DEFAULT_LIMIT,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if (1..=MAX_LIMIT).contains(&n) => n,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "limit: {text:?} is not a page size (1 to {MAX_LIMIT})"
                    )))
                }
            },
        };
        let after = match query.get("cursor").map_err(ApiError::bad_request)? {
            None | Some("") => None,
            Some(cursor) => {
                let bytes = URL_SAFE_NO_PAD
                    .decode(cursor)
                    .map_err(|_| ApiError::bad_request(BAD_CURSOR))?;
                let text =
                    String::from_utf8(bytes).map_err(|_| ApiError::bad_request(BAD_CURSOR))?;
                let key = text
                    .strip_prefix(listing)
                    .and_then(|rest| rest.strip_prefix('\0'))
                    .filter(|key| !key.is_empty())
                    .ok_or_else(|| ApiError::bad_request(BAD_CURSOR))?;
                Some(key.to_owned())
            }
        };
        Ok(Self {
            limit,
            after,
            listing,
        })
    }

    /// The cursor of the page after the one that ended with `key`.
    pub fn cursor_after(&self, key: &str) -> String {
        URL_SAFE_NO_PAD.encode(format!("{}\0{key}", self.listing))
    }

    /// [`Self::after`] as a numeric id (the lists that page by id).
    pub fn after_id(&self) -> Result<Option<i64>, ApiError> {
        self.after
            .as_deref()
            .map(|key| {
                key.parse::<i64>()
                    .map_err(|_| ApiError::bad_request(BAD_CURSOR))
            })
            .transpose()
    }

    /// One page of `items` in ascending order of `key`, which must tell
    /// items apart (a small list, read whole).
    pub fn page<T: Serialize>(&self, items: Vec<T>, key: impl Fn(&T) -> String) -> Listed {
        let after = self.after.as_deref();
        let mut rest: Vec<(String, T)> = items
            .into_iter()
            .map(|item| (key(&item), item))
            .filter(|(k, _)| after.is_none_or(|a| k.as_str() > a))
            .collect();
        rest.sort_by(|a, b| a.0.cmp(&b.0));
        let more = rest.len() > self.limit;
        rest.truncate(self.limit);
        let next = more
            .then(|| rest.last().map(|(k, _)| self.cursor_after(k)))
            .flatten();
        Listed {
            items: rest
                .into_iter()
                .map(|(_, item)| serde_json::to_value(item).unwrap_or(Value::Null))
                .collect(),
            next_cursor: next,
        }
    }
}

/// A list's answer: `{"items": [...], "nextCursor": "..." | null}`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Listed {
    pub items: Vec<Value>,
    /// The cursor of the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A key of an id that sorts as the id does (ids are positive `i64`s).
pub fn id_key(id: i64) -> String {
    format!("{id:019}")
}
