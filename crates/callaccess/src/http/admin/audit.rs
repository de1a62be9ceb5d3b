//! The audit trail over HTTP (control-plane.md §7, §9).
//!
//! - `GET /admin/v1/audit?company=&call=&user=&actor=&action=&since=&until=&order=&limit=&cursor=`
//!   lists entries, oldest first (`order=newest`: newest first), paged:
//!   `{"items": […], "nextCursor": …}`.
//! - `GET /admin/v1/changes?after=&company=&call=&user=&actor=&action=`
//!   streams entries as Server-Sent Events as they commit, each with
//!   `id:` its sequence number. It resumes after `Last-Event-ID` or
//!   `after` (`after=0`: from the first entry kept); with neither it starts
//!   after the newest entry committed when it opened. A comment line (`: heartbeat`) goes out when
//!   nothing else has for the heartbeat interval. A stream that falls too
//!   far behind gets an `overflow` event naming the last id it got, and is
//!   closed; the client opens it again after that id.
//!
//! An unknown parameter is a 400, so a misspelt filter never silently
//! selects everything.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, Uri};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use callaccess_domain::{
    Action, Actor, AuditFilter, AuditOrder, AuditPage, CallId, CompanyId, Timestamp, UserId,
};
use futures_util::stream;
use serde_json::json;

use super::{ok, store_error, Listed, Paging};
use crate::changes::Next;
use crate::http::error::ApiError;
use crate::http::query::{unknown_parameters, Problems, QueryParams};
use crate::http::AppState;

pub const AUDIT_PATH: &str = "/admin/v1/audit";
pub const CHANGES_PATH: &str = "/admin/v1/changes";

const FILTERS: [&str; 7] = [
    "company", "call", "user", "actor", "action", "since", "until",
];
const LIST_PAGING: [&str; 3] = ["order", "limit", "cursor"];

/// How often an idle stream sends a heartbeat unless the server says.
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(15);

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            AUDIT_PATH,
            get(list_audit).fallback(|| async { ApiError::MethodNotAllowed("GET, HEAD") }),
        )
        .route(
            CHANGES_PATH,
            get(changes).fallback(|| async { ApiError::MethodNotAllowed("GET") }),
        )
}

/// 400 naming every parameter of `query` not among `known`.
fn refuse_unknown(query: &str, known: &[&str], what: &str) -> Result<(), ApiError> {
    let unknown = unknown_parameters(query, known, what);
    if unknown.is_empty() {
        Ok(())
    } else {
        Err(ApiError::BadRequest(unknown))
    }
}

pub(crate) fn parsed<T>(
    params: &QueryParams,
    problems: &mut Problems,
    name: &str,
    parse: impl Fn(&str) -> Result<T, String>,
) -> Option<T> {
    let text = problems.take(params.get(name)).flatten()?;
    problems.take(parse(text).map_err(|e| format!("{name}: {e}")))
}

fn time(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse_rfc3339(text)
}

/// The filters both routes take (and the console's audit page).
pub(crate) fn filter_of(params: &QueryParams, problems: &mut Problems) -> AuditFilter {
    AuditFilter {
        company: parsed(params, problems, "company", |t| {
            CompanyId::parse(t).map_err(|e| e.to_string())
        }),
        call: parsed(params, problems, "call", |t| {
            CallId::parse(t).map_err(|e| e.to_string())
        }),
        user: parsed(params, problems, "user", |t| {
            UserId::parse(t).map_err(|e| e.to_string())
        }),
        actor: parsed(params, problems, "actor", str::parse::<Actor>),
        action: parsed(params, problems, "action", str::parse::<Action>),
        since: parsed(params, problems, "since", time),
        until: parsed(params, problems, "until", time),
    }
}

/// The list a cursor continues: one per order, so that a cursor of one
/// order is refused by the other rather than misread.
fn listing(order: AuditOrder) -> &'static str {
    match order {
        AuditOrder::Oldest => "audit-oldest",
        AuditOrder::Newest => "audit-newest",
    }
}

async fn list_audit(State(state): State<AppState>, uri: Uri) -> Result<Response, ApiError> {
    let query = uri.query().unwrap_or("");
    let known: Vec<&str> = FILTERS.iter().chain(&LIST_PAGING).copied().collect();
    refuse_unknown(query, &known, "the audit list")?;
    let params = QueryParams::parse(query);
    let mut problems = Problems::default();
    let filter = filter_of(&params, &mut problems);
    let order = parsed(&params, &mut problems, "order", |t| match t {
        "oldest" => Ok(AuditOrder::Oldest),
        "newest" => Ok(AuditOrder::Newest),
        other => Err(format!("{other:?} is not an order; give oldest or newest")),
    })
    .unwrap_or_default();
    problems.finish()?;
    let paging = Paging::from_query(&params, listing(order))?;
    let from = paging
        .after_id()?
        .map(|seq| u64::try_from(seq).map_err(|_| ApiError::bad_request(super::BAD_CURSOR)))
        .transpose()?;
    let limit = paging.limit;
    // One more than asked: whether there is a next page, without a count.
    let page = AuditPage {
        order,
        from,
        limit: limit + 1,
    };
    let mut entries = state
        .store
        .audit(&filter, page)
        .await
        .map_err(store_error)?;
    let more = entries.len() > limit;
    entries.truncate(limit);
    let next_cursor = more
        .then(|| {
            entries
                .last()
                .map(|e| paging.cursor_after(&e.seq.to_string()))
        })
        .flatten();
    let items = entries
        .iter()
        .map(|e| serde_json::to_value(e).unwrap_or_default())
        .collect();
    Ok(ok(&Listed { items, next_cursor }))
}

/// Where a stream resumes: `Last-Event-ID` (what a browser's EventSource
/// sends when it reconnects) wins over `after`.
pub(crate) fn resume_after(
    headers: &HeaderMap,
    after: Option<u64>,
) -> Result<Option<u64>, ApiError> {
    match headers.get("last-event-id") {
        None => Ok(after),
        Some(value) => value
            .to_str()
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Some)
            .ok_or_else(|| {
                ApiError::bad_request(
                    "Last-Event-ID: must be the id of an event of this stream (a sequence number)",
                )
            }),
    }
}

async fn changes(
    State(state): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let query = uri.query().unwrap_or("");
    let known: Vec<&str> = FILTERS
        .iter()
        .copied()
        .filter(|f| !matches!(*f, "since" | "until"))
        .chain(["after"])
        .collect();
    refuse_unknown(query, &known, "the change stream")?;
    let params = QueryParams::parse(query);
    let mut problems = Problems::default();
    let filter = filter_of(&params, &mut problems);
    let after = parsed(&params, &mut problems, "after", |t| {
        t.parse::<u64>()
            .map_err(|_| format!("{t:?} is not a sequence number"))
    });
    problems.finish()?;
    let after = resume_after(&headers, after)?;
    stream(&state, after, filter).await
}

/// The entries `filter` selects as Server-Sent Events, after `after`:
/// `/admin/v1/changes` and the console's live audit trail.
pub(crate) async fn stream(
    state: &AppState,
    after: Option<u64>,
    filter: AuditFilter,
) -> Result<Response, ApiError> {
    let Some(changes) = state.changes.clone() else {
        return Err(ApiError::Unavailable(
            "the change stream is not running on this server".to_owned(),
        ));
    };
    let subscription = changes
        .subscribe(after, filter)
        .await
        .map_err(store_error)?;
    let events = stream::unfold(Some(subscription), |state| async move {
        let mut subscription = state?;
        match subscription.next().await {
            Ok(Next::Entry(entry)) => {
                let event = Event::default()
                    .id(entry.seq.to_string())
                    .json_data(&*entry)
                    .unwrap_or_else(|_| Event::default().comment("an entry could not be written"));
                Some((Ok::<_, Infallible>(event), Some(subscription)))
            }
            Ok(Next::Overflowed { last }) => {
                let event = Event::default().event("overflow").data(
                    json!({
                        "message": format!("this stream fell more than {} entries behind and was closed; open it again with Last-Event-ID: {last} (or after={last})", crate::changes::BUFFER),
                        "lastEventId": last.to_string(),
                    })
                    .to_string(),
                );
                Some((Ok(event), None))
            }
            Ok(Next::Closed) => None,
            Err(e) => {
                tracing::warn!(error = %e, "the change stream could not read the audit trail; closing a stream");
                let event = Event::default().event("error").data(
                    json!({
                        "message": "the audit trail could not be read; open the stream again with Last-Event-ID",
                        "lastEventId": subscription.last().to_string(),
                    })
                    .to_string(),
                );
                Some((Ok(event), None))
            }
        }
    });
    Ok(Sse::new(events)
        .keep_alive(
            KeepAlive::new()
                .interval(state.changes_heartbeat)
                .text("heartbeat"),
        )
        .into_response())
}
