//! The audit trail of one company: filtered, newest first, paged, and live.
//!
//! The filters are the admin API's (`actor`, `call`, `user`, `action`,
//! `since`, `until`, read by the same code), with the company the page's.
//! The page's script opens [`stream`], the admin change stream's own
//! Server-Sent Events (`crate::http::admin::audit::stream`) behind the
//! session cookie, after the newest entry the page was drawn with, and puts
//! each entry on top of the table.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use callaccess_domain::{AuditEntry, AuditFilter, AuditOrder, AuditPage, CompanyId};

use super::directory::{company_of, cursor_of, PAGE_ROWS};
use super::session::Session;
use super::view::{self, form_encode, Failure, Nav};
use crate::http::admin::audit as admin_audit;
use crate::http::error::ApiError;
use crate::http::query::{Problems, QueryParams};
use crate::http::AppState;

/// The filters of the page and its stream, in the form's order.
const FILTERS: [&str; 6] = ["actor", "call", "user", "action", "since", "until"];

/// The filters given, by name, with their values as sent.
type Given = Vec<(&'static str, String)>;

/// The filters a query gives (empty fields are not given), the company
/// the path's whatever the query says, or what is wrong with them; and the
/// filters as given, for the form, the next page and the stream.
fn filters(company: CompanyId, query: QueryParams) -> (Result<AuditFilter, Vec<String>>, Given) {
    let params = query.without_empty();
    let mut problems = Problems::default();
    let mut filter = admin_audit::filter_of(&params, &mut problems);
    filter.company = Some(company);
    let filter = problems.messages().map(|()| filter);
    let given = FILTERS
        .iter()
        .filter_map(|&name| {
            params
                .get(name)
                .ok()
                .flatten()
                .map(|value| (name, value.to_owned()))
        })
        .collect();
    (filter, given)
}

fn query_string(given: &[(&'static str, String)]) -> String {
    given
        .iter()
        .map(|(name, value)| format!("{name}={}", form_encode(value)))
        .collect::<Vec<_>>()
        .join("&")
}

struct FilterField {
    name: &'static str,
    label: &'static str,
    hint: &'static str,
    value: String,
}

struct Row {
    seq: String,
    action: String,
    actor: String,
    call: String,
    user: String,
    at: String,
    request_id: String,
    change: String,
}

impl Row {
    fn of(entry: &AuditEntry) -> Self {
        let change = match (&entry.before, &entry.after) {
            (None, None) => String::new(),
            (before, after) => format!(
                "{} → {}",
                before.as_ref().map_or("–".to_owned(), |v| v.to_string()),
                after.as_ref().map_or("–".to_owned(), |v| v.to_string())
            ),
        };
        Self {
            seq: entry.seq.to_string(),
            action: entry.action.to_string(),
            actor: entry.actor.clone(),
            call: entry.call.map(|c| c.to_string()).unwrap_or_default(),
            user: entry.user.map(|u| u.to_string()).unwrap_or_default(),
            at: entry.at.to_string(),
            request_id: entry.request_id.clone().unwrap_or_default(),
            change,
        }
    }
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct Audit {
    nav: Nav,
    company: String,
    company_name: String,
    fields: Vec<FilterField>,
    rows: Vec<Row>,
    next: Option<String>,
    /// Where the page's script listens, `after` the newest entry drawn;
    /// `None` when the filters do not parse.
    stream: Option<String>,
    /// What is wrong with the filters.
    errors: Vec<String>,
}

pub async fn page(
    State(state): State<AppState>,
    session: Session,
    Path(company): Path<String>,
    query: QueryParams,
) -> Result<Response, Failure> {
    let (company, company_name) = company_of(&state, &company).await?;
    let cursor = cursor_of::<u64>(&query)?;
    let (filter, given) = filters(company, query);
    let filters = query_string(&given);
    let (entries, next, stream, errors, status) = match filter {
        Ok(filter) => {
            let mut entries = state
                .store
                .audit(
                    &filter,
                    AuditPage {
                        order: AuditOrder::Newest,
                        from: cursor,
                        limit: PAGE_ROWS + 1,
                    },
                )
                .await?;
            let more = entries.len() > PAGE_ROWS;
            entries.truncate(PAGE_ROWS);
            let next = more.then(|| entries.last()).flatten().map(|last| {
                format!(
                    "/console/companies/{company}/audit?{filters}&cursor={}",
                    last.seq
                )
            });
            // The stream goes on from the newest entry there is when the
            // page is drawn, so nothing committed in between is missed or
            // shown twice.
            let newest = crate::changes::newest(state.store.as_ref()).await?;
            let stream =
                format!("/console/companies/{company}/audit/stream?{filters}&after={newest}");
            (entries, next, Some(stream), Vec::new(), StatusCode::OK)
        }
        // The form again, with what is wrong and nothing listed.
        Err(errors) => (Vec::new(), None, None, errors, StatusCode::BAD_REQUEST),
    };
    let value = |name: &str| {
        given
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    let fields = [
        ("actor", "Actor", "admin:…, apiKey:…, token:…, cli, seed"),
        ("call", "Call id", ""),
        ("user", "User id", ""),
        ("action", "Action", "grant.add, grant.remove, …"),
        ("since", "Since", "2030-01-01T00:00:00Z"),
        ("until", "Until", "2030-01-02T00:00:00Z"),
    ]
    .into_iter()
    .map(|(name, label, hint)| FilterField {
        name,
        label,
        hint,
        value: value(name),
    })
    .collect();
    Ok(view::render(
        status,
        &Audit {
            nav: Nav::new(&session, Some(company), "audit"),
            company: company.to_string(),
            company_name,
            fields,
            rows: entries.iter().map(Row::of).collect(),
            next,
            stream,
            errors,
        },
    ))
}

/// `GET …/audit/stream?<filters>&after=`: the change stream of the
/// company's entries the filters select, for the page's EventSource.
pub async fn stream(
    State(state): State<AppState>,
    _session: Session,
    Path(company): Path<String>,
    headers: HeaderMap,
    query: QueryParams,
) -> Result<Response, Failure> {
    let (company, _) = company_of(&state, &company).await?;
    let mut problems = Problems::default();
    let after = admin_audit::parsed(&query, &mut problems, "after", |t| {
        t.parse::<u64>()
            .map_err(|_| format!("{t:?} is not a sequence number"))
    });
    problems.finish()?;
    let filter = filters(company, query).0.map_err(ApiError::BadRequest)?;
    let after = admin_audit::resume_after(&headers, after)?;
    Ok(admin_audit::stream(&state, after, filter).await?)
}
