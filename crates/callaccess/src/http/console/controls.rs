//! The test controls: the request journal (newest first, with the bodies)
//! and the fault rules (with their fired counts, a form to add one and a
//! button to remove each). A rule from the form is written as the JSON
//! `POST /admin/v1/faults` takes and read by the same parser
//! ([`crate::faults::parse_rules`]), so its checks and messages are the
//! admin API's.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Map, Value};

use super::session::Session;
use super::view::{self, Failure, Nav};
use crate::http::query::QueryParams;
use crate::http::AppState;

/// Journal entries a page shows.
const JOURNAL_ROWS: usize = 200;

/// The first company, for the navigation of a page of no company.
async fn any_company(state: &AppState) -> Result<Option<callaccess_domain::CompanyId>, Failure> {
    Ok(state.store.companies().await?.first().map(|c| c.id))
}

/// A kept body to show: JSON indented, anything else as it came.
fn shown(kept: Option<crate::journal::Kept>) -> String {
    match kept {
        None => String::new(),
        Some(kept) => {
            let text = match kept.shown() {
                Value::String(text) => text,
                json => serde_json::to_string_pretty(&json).unwrap_or_default(),
            };
            if kept.truncated {
                format!("{text}\n… (truncated)")
            } else {
                text
            }
        }
    }
}

struct JournalRow {
    request_id: String,
    time: String,
    method: String,
    path: String,
    status: u16,
    company: String,
    credential: String,
    latency_ms: String,
    fault: String,
    request_body: String,
    response_body: String,
}

#[derive(Template)]
#[template(path = "console/journal.html")]
struct Journal {
    nav: Nav,
    on: bool,
    rows: Vec<JournalRow>,
}

pub async fn journal(State(state): State<AppState>, session: Session) -> Result<Response, Failure> {
    let company = any_company(&state).await?;
    let entries = state
        .journal
        .list(&crate::journal::Filter::default(), JOURNAL_ROWS);
    let rows = entries
        .iter()
        .map(|entry| JournalRow {
            request_id: entry.request_id().to_string(),
            time: crate::journal::format_micros(entry.time_micros),
            method: entry.method.to_string(),
            path: match entry.query() {
                Some(query) => format!("{}?{query}", entry.path()),
                None => entry.path().to_owned(),
            },
            status: entry.status,
            company: entry.company().map(|c| c.to_string()).unwrap_or_default(),
            credential: entry
                .credential()
                .map(ToString::to_string)
                .unwrap_or_default(),
            latency_ms: format!("{:.1}", entry.latency.as_secs_f64() * 1000.0),
            fault: entry.fault().unwrap_or("").to_owned(),
            request_body: shown(entry.request_body.kept()),
            response_body: shown(entry.response_body.clone()),
        })
        .collect();
    Ok(view::render(
        StatusCode::OK,
        &Journal {
            nav: Nav::new(&session, company, "journal"),
            on: state.journal.is_on(),
            rows,
        },
    ))
}

struct FaultRow {
    id: String,
    matcher: String,
    effect: String,
    times: String,
    probability: String,
    fired: u64,
    remaining: String,
}

#[derive(Template)]
#[template(path = "console/faults.html")]
struct Faults {
    nav: Nav,
    rows: Vec<FaultRow>,
    operations: Vec<&'static str>,
    can_write: bool,
    csrf: String,
    flash: Option<String>,
    /// The messages of a rule the parser refused.
    errors: Vec<String>,
}

async fn faults_page(
    state: &AppState,
    session: &Session,
    status: StatusCode,
    flash: Option<String>,
    errors: Vec<String>,
) -> Result<Response, Failure> {
    let company = any_company(state).await?;
    let rows = state
        .faults
        .list()
        .into_iter()
        .map(|rule| FaultRow {
            matcher: compact(&rule.spec.matcher),
            effect: compact(&rule.spec.effect),
            times: rule.spec.times.map(|t| t.to_string()).unwrap_or_default(),
            probability: rule.spec.probability.to_string(),
            remaining: rule.remaining.map(|r| r.to_string()).unwrap_or_default(),
            fired: rule.fired,
            id: rule.id,
        })
        .collect();
    Ok(view::render(
        status,
        &Faults {
            nav: Nav::new(session, company, "faults"),
            rows,
            operations: crate::faults::operation_ids(),
            can_write: session.can_write(),
            csrf: session.csrf(),
            flash,
            errors,
        },
    ))
}

/// A part of a rule as compact JSON, as the admin API shows it.
fn compact(value: &impl serde::Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

pub async fn faults(State(state): State<AppState>, session: Session) -> Result<Response, Failure> {
    faults_page(&state, &session, StatusCode::OK, None, Vec::new()).await
}

/// A number of the form as JSON: a number when it reads as one, else the
/// text as it was, for the parser to name what is wrong with it.
fn number(text: &str) -> Value {
    text.parse::<u64>()
        .map(Value::from)
        .or_else(|_| text.parse::<f64>().map(Value::from))
        .unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// The rule the add form describes, as `POST /admin/v1/faults` takes it:
/// every field left empty is left out.
fn rule_of(form: &QueryParams) -> Value {
    let field = |name: &str| {
        form.get(name)
            .ok()
            .flatten()
            .map(str::trim)
            .filter(|v| !v.is_empty())
    };
    let mut matcher = Map::new();
    if let Some(operation) = field("operation") {
        matcher.insert("operationId".into(), operation.into());
    }
    if let Some(method) = field("method") {
        matcher.insert("method".into(), method.into());
    }
    if let Some(path) = field("path") {
        matcher.insert("path".into(), path.into());
    }
    let mut effect = Map::new();
    if let Some(status) = field("status") {
        effect.insert("status".into(), number(status));
    }
    if let Some(delay) = field("delay") {
        let mut fixed = Map::new();
        fixed.insert("fixedMs".into(), number(delay));
        effect.insert("delay".into(), Value::Object(fixed));
    }
    let mut rule = Map::new();
    rule.insert("match".into(), Value::Object(matcher));
    if let Some(times) = field("times") {
        rule.insert("times".into(), number(times));
    }
    if let Some(probability) = field("probability") {
        rule.insert("probability".into(), number(probability));
    }
    rule.insert("effect".into(), Value::Object(effect));
    Value::Object(rule)
}

/// `POST /console/faults`: adds the form's rule after those held.
pub async fn add_fault(
    State(state): State<AppState>,
    session: Session,
    body: Bytes,
) -> Result<Response, Failure> {
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    session.allow_write(&form)?;
    match crate::faults::parse_rules(&rule_of(&form)) {
        Ok(rules) => {
            let added = state.faults.add(rules);
            for rule in &added {
                tracing::info!(rule = rule.id, "fault rule added");
            }
            let ids: Vec<&str> = added.iter().map(|r| r.id.as_str()).collect();
            let flash = format!("Added fault rule {}.", ids.join(", "));
            faults_page(&state, &session, StatusCode::OK, Some(flash), Vec::new()).await
        }
        Err(errors) => faults_page(&state, &session, StatusCode::BAD_REQUEST, None, errors).await,
    }
}

/// `POST /console/faults/{id}/remove`.
pub async fn remove_fault(
    State(state): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, Failure> {
    let form = QueryParams::parse(&String::from_utf8_lossy(&body));
    session.allow_write(&form)?;
    let (status, flash) = match state.faults.remove(&id) {
        Some(rule) => (
            StatusCode::OK,
            format!(
                "Removed fault rule {} (it fired {} times).",
                rule.id, rule.fired
            ),
        ),
        None => (
            StatusCode::NOT_FOUND,
            format!("No fault rule has the id {id:?}; it may have been removed already."),
        ),
    };
    faults_page(&state, &session, status, Some(flash), Vec::new()).await
}
