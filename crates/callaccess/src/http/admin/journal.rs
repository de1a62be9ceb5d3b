//! The request journal over HTTP (control-plane.md §4).
//!
//! - `GET /admin/v1/requests?method=&path=&status=&company=&since=&limit=`
//!   lists the recorded `/v2` requests, newest first: `{"items": […]}`.
//! - `POST /admin/v1/requests/count` with `{method, path, status, company,
//!   since, bodyIncludes}` answers `{"count": N}`; `bodyIncludes` matches a
//!   request whose JSON body includes it (objects by subset, arrays by
//!   containment, other values equal: [`journal::includes`]).
//! - `DELETE /admin/v1/requests` empties the journal: `{"cleared": N}`.
//!
//! Filters: `method` (any case), `path` (exact, or a prefix ending in
//! `*`), `status` (`429` or `4xx`), `company` (an id), `since` (RFC 3339,
//! entries at or after it). Every part given must hold; an unknown
//! parameter or field is a 400, so a misspelt filter never silently counts
//! everything.

use axum::extract::State;
use axum::http::{Method, Uri};
use axum::routing::{get, post};
use axum::{Json, Router};
use callaccess_domain::CompanyId;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::http::body::JsonBody;
use crate::http::error::ApiError;
use crate::http::query::{unknown_parameters, Problems, QueryParams};
use crate::http::AppState;
use crate::journal::{self, Entry, Filter, PathMatch, StatusMatch, SETTLE_WAIT};

/// The journal's list (and clear).
pub const PATH: &str = "/admin/v1/requests";
/// Counting entries that match.
pub const COUNT_PATH: &str = "/admin/v1/requests/count";

const LIST_METHODS: &str = "GET, HEAD, DELETE";
const COUNT_METHODS: &str = "POST";

/// Entries a listing shows unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 100;

const LIST_PARAMETERS: [&str; 6] = ["method", "path", "status", "company", "since", "limit"];
const COUNT_FIELDS: [&str; 6] = [
    "method",
    "path",
    "status",
    "company",
    "since",
    "bodyIncludes",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            PATH,
            get(list_requests)
                .delete(clear_requests)
                .fallback(|| async { ApiError::MethodNotAllowed(LIST_METHODS) }),
        )
        .route(
            COUNT_PATH,
            post(count_requests).fallback(|| async { ApiError::MethodNotAllowed(COUNT_METHODS) }),
        )
}

/// One recorded request, as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EntryView {
    /// When the request arrived, by the server's clock (RFC 3339, UTC,
    /// microseconds).
    #[schema(example = "2030-01-01T00:00:00.123456Z")]
    time: String,
    /// The request's id, as its answer and `x-traceid` gave it.
    request_id: String,
    #[schema(example = "DELETE")]
    method: String,
    #[schema(example = "/v2/calls/users-access")]
    path: String,
    /// The query string as sent, without `?`.
    query: Option<String>,
    /// The authenticated company; `null` when authentication failed.
    #[schema(example = "1000000000000000001")]
    company: Option<String>,
    /// The credential by its shown name (`apiKey:<accessKey>` or
    /// `token:<id>`), never a secret.
    #[schema(example = "apiKey:SUITEKEY")]
    credential: Option<String>,
    /// The request body: JSON as JSON, anything else as text; `null`
    /// without a body. At most 64 KiB is kept.
    #[schema(value_type = Object)]
    request_body: Option<Value>,
    /// The body shown is not all of it (over 64 KiB, or never sent whole).
    request_body_truncated: bool,
    #[schema(example = 200)]
    status: u16,
    /// The answer's body, as sent, shown like the request's.
    #[schema(value_type = Object)]
    response_body: Option<Value>,
    response_body_truncated: bool,
    /// From arrival to the answer being ready, in milliseconds.
    latency_ms: f64,
    /// The id of the fault rule that applied, if one did.
    fault: Option<String>,
}

impl EntryView {
    fn of(entry: &Entry) -> Self {
        let request = entry.request_body.kept();
        Self {
            time: journal::format_micros(entry.time_micros),
            request_id: entry.request_id().to_string(),
            method: entry.method.to_string(),
            path: entry.path().to_owned(),
            query: entry.query().map(str::to_owned),
            company: entry.company().map(|c| c.to_string()),
            credential: entry.credential().map(ToString::to_string),
            request_body_truncated: request.as_ref().is_some_and(|k| k.truncated),
            request_body: request.map(|k| k.shown()),
            status: entry.status,
            response_body_truncated: entry.response_body.as_ref().is_some_and(|k| k.truncated),
            response_body: entry.response_body.as_ref().map(journal::Kept::shown),
            latency_ms: entry.latency.as_secs_f64() * 1000.0,
            fault: entry.fault().map(str::to_owned),
        }
    }
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct EntryList {
    /// Newest first.
    items: Vec<EntryView>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Count {
    count: usize,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Cleared {
    /// Entries removed.
    cleared: usize,
}

/// The body of a count, as documented (only its OpenAPI description is
/// used; [`count_filter`] reads the body, so every message is ours).
#[derive(utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
#[expect(dead_code, reason = "only its OpenAPI description is used")]
struct CountRequest {
    /// An HTTP method, any case.
    #[schema(example = "DELETE")]
    method: Option<String>,
    /// A path, or a prefix ending in `*`.
    #[schema(example = "/v2/calls/users-access")]
    path: Option<String>,
    /// A status (`429`) or a class (`"4xx"`).
    #[schema(value_type = Option<String>, example = "4xx")]
    status: Option<Value>,
    /// A company id.
    #[schema(example = "1000000000000000001")]
    company: Option<String>,
    /// RFC 3339: entries at or after this time.
    since: Option<String>,
    /// JSON the request body must include: objects by subset, arrays by
    /// containment, other values equal.
    #[schema(value_type = Object, example = json!({"callAccessList": [{"callId": "301", "userIds": ["201"]}]}))]
    body_includes: Option<Value>,
}

fn method_of(name: &str, text: &str) -> Result<Method, String> {
    let upper = text.trim().to_ascii_uppercase();
    if upper.is_empty() {
        return Err(format!("{name}: give a method such as GET or DELETE"));
    }
    Method::from_bytes(upper.as_bytes()).map_err(|_| {
        format!("{name}: {text:?} is not an HTTP method; give one such as GET or DELETE")
    })
}

fn status_of(name: &str, text: &str) -> Result<StatusMatch, String> {
    StatusMatch::parse(text).ok_or_else(|| {
        format!("{name}: {text:?} is not a status; give a code such as 429 or a class such as 4xx")
    })
}

fn company_of(name: &str, text: &str) -> Result<CompanyId, String> {
    CompanyId::parse(text).map_err(|e| format!("{name}: {e}"))
}

fn since_of(name: &str, text: &str) -> Result<i64, String> {
    journal::parse_micros(text).ok_or_else(|| {
        format!("{name}: {text:?} is not an RFC 3339 date-time such as \"2030-01-01T00:00:00Z\"")
    })
}

fn path_of(name: &str, text: &str) -> Result<PathMatch, String> {
    if text.starts_with('/') {
        Ok(PathMatch::parse(text))
    } else {
        Err(format!(
            "{name}: {text:?} is not a path; give one such as /v2/calls/users-access, or a prefix such as /v2/users*"
        ))
    }
}

/// A listing's filter and limit, from its query string.
fn list_filter(query: &str, capacity: usize) -> Result<(Filter, usize), ApiError> {
    let unknown = unknown_parameters(query, &LIST_PARAMETERS, "the journal");
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(unknown));
    }
    let params = QueryParams::parse(query);
    let mut problems = Problems::default();
    let mut text = |name: &str| problems.take(params.get(name)).flatten().map(str::to_owned);
    let (method, path, status, company, since, limit) = (
        text("method"),
        text("path"),
        text("status"),
        text("company"),
        text("since"),
        text("limit"),
    );
    let filter = Filter {
        method: method.and_then(|v| problems.take(method_of("method", &v))),
        path: path.and_then(|v| problems.take(path_of("path", &v))),
        status: status.and_then(|v| problems.take(status_of("status", &v))),
        company: company.and_then(|v| problems.take(company_of("company", &v))),
        since_micros: since.and_then(|v| problems.take(since_of("since", &v))),
        body_includes: None,
    };
    let most = capacity.max(1);
    let limit = limit
        .and_then(|v| {
            problems.take(
                v.parse::<usize>()
                    .ok()
                    .filter(|n| (1..=most).contains(n))
                    .ok_or_else(|| {
                        format!(
                            "limit: {v:?} is not a number from 1 to {most} (the journal's size)"
                        )
                    }),
            )
        })
        .unwrap_or(DEFAULT_LIMIT);
    problems.finish()?;
    Ok((filter, limit))
}

/// A count's filter, from its body.
fn count_filter(body: &Value) -> Result<Filter, ApiError> {
    let Some(fields) = body.as_object() else {
        return Err(ApiError::bad_request(format!(
            "the body must be an object with any of {}",
            COUNT_FIELDS.join(", ")
        )));
    };
    let unknown: Vec<String> = fields
        .keys()
        .filter(|k| !COUNT_FIELDS.contains(&k.as_str()))
        .map(|k| {
            format!(
                "{k}: unknown field; a count takes {}",
                COUNT_FIELDS.join(", ")
            )
        })
        .collect();
    if !unknown.is_empty() {
        return Err(ApiError::BadRequest(unknown));
    }
    let mut problems = Problems::default();
    let filter = Filter {
        method: text_field(fields, "method", &mut problems)
            .and_then(|v| problems.take(method_of("method", &v))),
        path: text_field(fields, "path", &mut problems)
            .and_then(|v| problems.take(path_of("path", &v))),
        status: match fields.get("status") {
            None | Some(Value::Null) => None,
            Some(Value::Number(n)) => problems.take(status_of("status", &n.to_string())),
            Some(Value::String(s)) => problems.take(status_of("status", s)),
            Some(other) => problems.take(Err(format!(
                "status: must be a code such as 429 or a class such as \"4xx\", not {other}"
            ))),
        },
        company: match fields.get("company") {
            None | Some(Value::Null) => None,
            Some(value) => {
                problems.take(CompanyId::from_json(value).map_err(|e| format!("company: {e}")))
            }
        },
        since_micros: text_field(fields, "since", &mut problems)
            .and_then(|v| problems.take(since_of("since", &v))),
        body_includes: fields.get("bodyIncludes").cloned(),
    };
    problems.finish()?;
    Ok(filter)
}

/// A field that must be a string when given.
fn text_field(fields: &Map<String, Value>, name: &str, problems: &mut Problems) -> Option<String> {
    match fields.get(name) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(other) => problems.take(Err(format!("{name}: must be a string, not {other}"))),
    }
}

/// The recorded `/v2` requests that match, newest first.
#[utoipa::path(
    get,
    path = "/admin/v1/requests",
    tag = "journal",
    operation_id = "listRequests",
    params(
        ("method" = Option<String>, Query, description = "An HTTP method, any case"),
        ("path" = Option<String>, Query, description = "A path, or a prefix ending in *"),
        ("status" = Option<String>, Query, description = "A status (429) or a class (4xx)"),
        ("company" = Option<String>, Query, description = "A company id"),
        ("since" = Option<String>, Query, description = "RFC 3339: entries at or after this time"),
        ("limit" = Option<usize>, Query, description = "Most entries to show (default 100, at most the journal's size)"),
    ),
    responses(
        (status = 200, description = "The matching requests, newest first", body = EntryList),
        (status = 400, description = "An unknown parameter, or one that does not parse", body = crate::http::dto::ErrorResponse),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn list_requests(
    State(state): State<AppState>,
    uri: Uri,
) -> Result<Json<EntryList>, ApiError> {
    let (filter, limit) = list_filter(uri.query().unwrap_or(""), state.journal.capacity())?;
    state.journal.settle(SETTLE_WAIT).await;
    let items = state
        .journal
        .list(&filter, limit)
        .iter()
        .map(|entry| EntryView::of(entry))
        .collect();
    Ok(Json(EntryList { items }))
}

/// How many recorded `/v2` requests match, down to a piece of the body.
#[utoipa::path(
    post,
    path = "/admin/v1/requests/count",
    tag = "journal",
    operation_id = "countRequests",
    request_body = CountRequest,
    responses(
        (status = 200, description = "How many requests match", body = Count),
        (status = 400, description = "An unknown field, or one that does not parse", body = crate::http::dto::ErrorResponse),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
        (status = 403, description = "A read-only admin token", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn count_requests(
    State(state): State<AppState>,
    body: Result<JsonBody, ApiError>,
) -> Result<Json<Count>, ApiError> {
    let JsonBody(body) = body?;
    let filter = count_filter(&body)?;
    state.journal.settle(SETTLE_WAIT).await;
    Ok(Json(Count {
        count: state.journal.count(&filter),
    }))
}

/// Empties the journal.
#[utoipa::path(
    delete,
    path = "/admin/v1/requests",
    tag = "journal",
    operation_id = "clearRequests",
    responses(
        (status = 200, description = "The journal is empty", body = Cleared),
        (status = 401, description = "No valid admin token", body = crate::http::dto::ErrorResponse),
        (status = 403, description = "A read-only admin token", body = crate::http::dto::ErrorResponse),
    ),
    security(("bearerAuth" = []))
)]
pub async fn clear_requests(State(state): State<AppState>) -> Json<Cleared> {
    Json(Cleared {
        cleared: state.journal.clear(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn refused(result: Result<impl std::fmt::Debug, ApiError>) -> Vec<String> {
        match result {
            Err(ApiError::BadRequest(messages)) => messages,
            other => panic!("not refused: {other:?}"),
        }
    }

    #[test]
    fn a_listing_reads_its_filters() {
        let (filter, limit) = list_filter(
            "method=delete&path=%2Fv2%2Fusers*&status=4xx&company=7&since=2030-01-01T00%3A00%3A00Z&limit=5",
            100,
        )
        .unwrap();
        assert_eq!(filter.method, Some(Method::DELETE));
        assert_eq!(filter.path, Some(PathMatch::Prefix("/v2/users".to_owned())));
        assert_eq!(filter.status, Some(StatusMatch::Class(4)));
        assert_eq!(filter.company, CompanyId::from_i64(7));
        assert_eq!(filter.since_micros, Some(1_893_456_000_000_000));
        assert_eq!(limit, 5);
        assert_eq!(list_filter("", 10_000).unwrap().1, DEFAULT_LIMIT);
    }

    #[test]
    fn a_listing_names_each_bad_parameter() {
        assert_eq!(
            refused(list_filter("stauts=429", 10)),
            ["stauts: unknown parameter; the journal takes method, path, status, company, since, limit"]
        );
        assert_eq!(
            refused(list_filter("status=42&limit=11&since=today&company=x&path=v2", 10)),
            [
                "path: \"v2\" is not a path; give one such as /v2/calls/users-access, or a prefix such as /v2/users*",
                "status: \"42\" is not a status; give a code such as 429 or a class such as 4xx",
                "company: \"x\" is not a numeric id",
                "since: \"today\" is not an RFC 3339 date-time such as \"2030-01-01T00:00:00Z\"",
                "limit: \"11\" is not a number from 1 to 10 (the journal's size)",
            ]
        );
        assert_eq!(
            refused(list_filter("limit=0", 10)),
            ["limit: \"0\" is not a number from 1 to 10 (the journal's size)"]
        );
        assert_eq!(
            refused(list_filter("method=1&method=2", 10)),
            ["method: must be given at most once"]
        );
    }

    #[test]
    fn a_count_reads_its_body() {
        let filter = count_filter(&json!({
            "method": "DELETE", "path": "/v2/calls/users-access", "status": 200,
            "company": 7, "bodyIncludes": {"a": [1]}
        }))
        .unwrap();
        assert_eq!(filter.method, Some(Method::DELETE));
        assert_eq!(filter.status, Some(StatusMatch::Exact(200)));
        assert_eq!(filter.company, CompanyId::from_i64(7));
        assert_eq!(filter.body_includes, Some(json!({"a": [1]})));
        let filter = count_filter(&json!({"status": "5xx", "company": "7"})).unwrap();
        assert_eq!(filter.status, Some(StatusMatch::Class(5)));
        assert!(count_filter(&json!({})).is_ok());
    }

    #[test]
    fn a_count_names_each_bad_field() {
        assert_eq!(
            refused(count_filter(&json!({"body": {}}))),
            ["body: unknown field; a count takes method, path, status, company, since, bodyIncludes"]
        );
        assert_eq!(
            refused(count_filter(
                &json!({"method": 1, "status": true, "company": "0"})
            )),
            [
                "method: must be a string, not 1",
                "status: must be a code such as 429 or a class such as \"4xx\", not true",
                "company: \"0\" is not a valid id (ids start at 1)",
            ]
        );
        assert_eq!(
            refused(count_filter(&json!([]))),
            ["the body must be an object with any of method, path, status, company, since, bodyIncludes"]
        );
    }
}
