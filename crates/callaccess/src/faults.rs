//! Fault rules (control-plane.md §5): `/v2` answers that fail on purpose,
//! so that a client's retries, back-off and error handling can be tested.
//!
//! A rule is `{"match": …, "times": N, "probability": p, "effect": …}`
//! ([`parse_rules`] reads it, naming the field of every problem). The
//! [`Principal`](crate::http::auth::Principal) extractor calls [`apply`]
//! after authentication and before the rate limit: the first rule that
//! matches the request (and wins its probability draw, and is not spent)
//! applies. Its delay is slept; a status or connection effect then answers
//! in place of the handler, so a faulted request never reaches the store
//! and changes nothing. A delay alone lets the request run normally after
//! it.
//!
//! A status answer is an [`ApiError`] like any other, so it gets Gong's
//! envelope and `x-traceid` in `http::finish`. A connection effect travels
//! back to the connection as a response extension ([`ConnectionEffect`]):
//! the per-connection service in `server` arms the connection's
//! [`CutSwitch`](crate::wire::CutSwitch), and [`Wire`](crate::wire::Wire)
//! resets the connection, closes it, or lets the head and half of the body
//! through before closing it.
//!
//! With no rules the check is one atomic load; rules sit behind a lock
//! that a request takes only to clone an `Arc`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, PoisonError, RwLock};
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use callaccess_domain::CompanyId;
use rand::Rng;
use rand_distr::Distribution as _;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::http::auth::Principal;
use crate::http::error::{ApiError, ErrorMessages};
use crate::http::request_id::{CredentialId, RequestContext};
use crate::http::AppState;

/// The longest delay a rule may ask for, and that a log-normal draw is
/// clamped to: longer than any request may take (`request_timeout`), so
/// a larger number could only be a mistake.
pub const MAX_DELAY_MS: u64 = 3_600_000;

/// The fault rules a server holds, in the order they were added.
#[derive(Debug, Default)]
pub struct Faults {
    /// Whether any rule is defined: the one load a request pays when none is.
    any: AtomicBool,
    rules: RwLock<Arc<Vec<Arc<Rule>>>>,
    /// The number of the next rule's id; ids are never reused.
    next_id: AtomicU64,
}

/// One rule as a client wrote it, checked.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    #[serde(rename = "match")]
    pub matcher: Match,
    /// Fire for the next N matching requests only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub times: Option<u64>,
    /// The chance that a matching request is faulted (0 to 1).
    pub probability: f64,
    pub effect: Effect,
}

/// What a request must be for a rule to apply: every field given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Match {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub operation_id: Option<String>,
    /// Upper case; `GET` also matches `HEAD`, as the route does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// The request's path, or its route pattern (`/v2/users/{id}`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company: Option<CompanyId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub access_key: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
}

/// What a rule does to a request it applies to.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Effect {
    /// Answer this status (400–599) with Gong's envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// The envelope's messages; a default per status when absent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<String>>,
    /// Seconds, sent as `Retry-After`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay: Option<Delay>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connection: Option<ConnectionEffect>,
}

/// How long to wait before the effect (or before running normally): the
/// sum of the parts given.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delay {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_ms: Option<u64>,
    /// Uniform between the two bounds, both included.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uniform_ms: Option<[u64; 2]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lognormal_ms: Option<LogNormalMs>,
}

/// A log-normal delay: half the draws are below `median`; `sigma` is the
/// standard deviation of its logarithm (0.5 to 1 gives a realistic tail).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct LogNormalMs {
    pub median: f64,
    pub sigma: f64,
}

/// What happens to the connection instead of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum ConnectionEffect {
    /// Reset (RST) without an answer.
    Reset,
    /// Closed (FIN) without an answer.
    Empty,
    /// The head with the full `Content-Length`, half of the body, then
    /// closed.
    Truncate,
}

impl ConnectionEffect {
    const NAMES: [(&'static str, Self); 3] = [
        ("reset", Self::Reset),
        ("empty", Self::Empty),
        ("truncate", Self::Truncate),
    ];
}

/// A rule the server holds: its id and how often it fired.
#[derive(Debug)]
pub struct Rule {
    pub id: String,
    pub spec: RuleSpec,
    fired: AtomicU64,
    /// Firings left when the rule has `times`.
    remaining: Option<AtomicU64>,
}

/// A rule as the admin API lists it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleView {
    pub id: String,
    #[serde(flatten)]
    pub spec: RuleSpec,
    /// Requests it was applied to.
    pub fired: u64,
    /// Firings left; `null` when the rule has no `times`.
    pub remaining: Option<u64>,
}

impl Rule {
    pub fn view(&self) -> RuleView {
        RuleView {
            id: self.id.clone(),
            spec: self.spec.clone(),
            fired: self.fired.load(Ordering::Acquire),
            remaining: self
                .remaining
                .as_ref()
                .map(|left| left.load(Ordering::Acquire)),
        }
    }
}

/// What a request is, as rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Facts<'a> {
    pub method: &'a Method,
    pub path: &'a str,
    /// The route pattern the request matched (`/v2/users/{id}`).
    pub route: Option<&'a str>,
    pub company: CompanyId,
    pub credential: &'a CredentialId,
}

impl Match {
    fn holds(&self, facts: &Facts<'_>) -> bool {
        let method_holds = |wanted: &str| {
            let method = facts.method.as_str();
            method == wanted || (wanted == "GET" && method == "HEAD")
        };
        self.method.as_deref().is_none_or(method_holds)
            && self
                .path
                .as_deref()
                .is_none_or(|path| path == facts.path || Some(path) == facts.route)
            && self.company.is_none_or(|company| company == facts.company)
            && self
                .access_key
                .as_deref()
                .is_none_or(|key| matches!(facts.credential, CredentialId::ApiKey(k) if k == key))
            && self
                .token_id
                .as_deref()
                .is_none_or(|id| matches!(facts.credential, CredentialId::Token(t) if t == id))
            && self.operation_id.as_deref().is_none_or(|wanted| {
                facts
                    .route
                    .and_then(|route| operation_id(facts.method, route))
                    == Some(wanted)
            })
    }
}

/// A rule that fired for one request: what to do to it.
#[derive(Debug)]
pub struct Fired {
    pub rule_id: String,
    pub delay: Option<Duration>,
    /// `None`: a delay alone; the request then runs normally.
    pub effect: Option<(Option<u16>, Option<ConnectionEffect>)>,
    spec: RuleSpec,
}

impl Faults {
    pub fn new() -> Self {
        Self::default()
    }

    /// A set holding `rules`.
    pub fn with_rules(rules: Vec<RuleSpec>) -> Self {
        let faults = Self::new();
        faults.add(rules);
        faults
    }

    fn snapshot(&self) -> Arc<Vec<Arc<Rule>>> {
        // A panic while the lock was held cannot leave the vector half
        // written: it is replaced whole.
        Arc::clone(&self.rules.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn replace(&self, change: impl FnOnce(&mut Vec<Arc<Rule>>)) {
        let mut rules = self.rules.write().unwrap_or_else(PoisonError::into_inner);
        let mut next = rules.as_ref().clone();
        change(&mut next);
        self.any.store(!next.is_empty(), Ordering::Release);
        *rules = Arc::new(next);
    }

    /// Adds rules after those already held; returns them with their ids.
    pub fn add(&self, specs: Vec<RuleSpec>) -> Vec<RuleView> {
        let added: Vec<Arc<Rule>> = specs
            .into_iter()
            .map(|spec| {
                let number = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
                Arc::new(Rule {
                    id: number.to_string(),
                    remaining: spec.times.map(AtomicU64::new),
                    fired: AtomicU64::new(0),
                    spec,
                })
            })
            .collect();
        let views = added.iter().map(|rule| rule.view()).collect();
        self.replace(|rules| rules.extend(added));
        views
    }

    /// Every rule, in the order they apply.
    pub fn list(&self) -> Vec<RuleView> {
        self.snapshot().iter().map(|rule| rule.view()).collect()
    }

    pub fn get(&self, id: &str) -> Option<RuleView> {
        self.snapshot()
            .iter()
            .find(|rule| rule.id == id)
            .map(|rule| rule.view())
    }

    /// Removes every rule; returns how many there were.
    pub fn clear(&self) -> usize {
        let mut count = 0;
        self.replace(|rules| {
            count = rules.len();
            rules.clear();
        });
        count
    }

    /// Removes one rule; returns it as it was last.
    pub fn remove(&self, id: &str) -> Option<RuleView> {
        let mut removed = None;
        self.replace(|rules| {
            if let Some(at) = rules.iter().position(|rule| rule.id == id) {
                removed = Some(rules.remove(at).view());
            }
        });
        removed
    }

    /// The rule that applies to a request, if one does, with its delay
    /// drawn. A rule whose probability draw fails lets later rules try.
    pub fn check(&self, facts: &Facts<'_>) -> Option<Fired> {
        if !self.any.load(Ordering::Acquire) {
            return None;
        }
        let rules = self.snapshot();
        let mut rng = rand::rng();
        for rule in rules.iter() {
            let spec = &rule.spec;
            if !spec.matcher.holds(facts) {
                continue;
            }
            if spec.probability < 1.0 && !rng.random_bool(spec.probability) {
                continue;
            }
            // Claimed atomically, so that N concurrent requests fire a
            // rule of `times: N` exactly N times.
            if let Some(left) = &rule.remaining {
                if left
                    .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
                    .is_err()
                {
                    continue;
                }
            }
            rule.fired.fetch_add(1, Ordering::AcqRel);
            let effect = &spec.effect;
            return Some(Fired {
                rule_id: rule.id.clone(),
                delay: effect.delay.as_ref().map(|delay| delay.draw(&mut rng)),
                effect: (effect.status.is_some() || effect.connection.is_some())
                    .then_some((effect.status, effect.connection)),
                spec: spec.clone(),
            });
        }
        None
    }
}

impl Delay {
    /// One delay: the sum of the parts, at most [`MAX_DELAY_MS`].
    pub fn draw(&self, rng: &mut impl Rng) -> Duration {
        let mut ms = self.fixed_ms.unwrap_or(0) as f64;
        if let Some([low, high]) = self.uniform_ms {
            ms += rng.random_range(low..=high) as f64;
        }
        if let Some(LogNormalMs { median, sigma }) = self.lognormal_ms {
            // The median of a log-normal is e^mu. The parameters were
            // checked when the rule was read (median > 0, sigma finite and
            // not negative), for which `new` cannot fail.
            if let Ok(distribution) = rand_distr::LogNormal::new(median.ln(), sigma) {
                ms += distribution.sample(rng);
            }
        }
        Duration::from_secs_f64(ms.clamp(0.0, MAX_DELAY_MS as f64) / 1000.0)
    }
}

/// Applies the fault rules to an authenticated request: `Ok` to go on
/// (no rule applied, or a delay alone, already slept), else the answer
/// that replaces the handler's.
pub async fn apply(state: &AppState, parts: &Parts, principal: &Principal) -> Result<(), ApiError> {
    let facts = Facts {
        method: &parts.method,
        path: parts.uri.path(),
        route: parts
            .extensions
            .get::<MatchedPath>()
            .map(MatchedPath::as_str),
        company: principal.company,
        credential: &principal.credential,
    };
    let Some(fired) = state.faults.check(&facts) else {
        return Ok(());
    };
    let context = parts.extensions.get::<Arc<RequestContext>>();
    if let Some(context) = context {
        let _ = context.fault.set(fired.rule_id.clone());
    }
    tracing::debug!(rule = fired.rule_id, "a fault rule applies to the request");
    if let Some(delay) = fired.delay {
        tokio::time::sleep(delay).await;
    }
    match fired.effect {
        None => Ok(()),
        Some((status, connection)) => Err(ApiError::Fault(Injected {
            status: status
                .and_then(|s| StatusCode::from_u16(s).ok())
                .unwrap_or(StatusCode::OK),
            errors: fired.spec.effect.errors.clone(),
            retry_after: fired.spec.effect.retry_after,
            connection,
            request_id: context.map(|c| c.id.to_string()).unwrap_or_default(),
        })),
    }
}

/// The answer of a status or connection effect, in place of a handler's.
#[derive(Debug)]
pub struct Injected {
    /// 200 for a connection effect without a status: what `truncate` cuts
    /// is then a success's body.
    status: StatusCode,
    errors: Option<Vec<String>>,
    retry_after: Option<u32>,
    connection: Option<ConnectionEffect>,
    request_id: String,
}

impl Injected {
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The envelope's messages: the rule's, else the default of its status.
    pub fn messages(&self) -> ErrorMessages {
        let errors = self
            .errors
            .clone()
            .unwrap_or_else(|| vec![default_message(self.status, self.retry_after)]);
        ErrorMessages {
            errors,
            cause: None,
        }
    }
}

impl IntoResponse for Injected {
    fn into_response(self) -> Response {
        let mut response = if self.status.is_client_error() || self.status.is_server_error() {
            let mut response = self.status.into_response();
            // `http::finish` writes the envelope around these.
            response.extensions_mut().insert(self.messages());
            response
        } else {
            // Gong's answer to a successful PUT or DELETE, for `truncate`
            // to cut.
            let body = serde_json::json!({ "requestId": self.request_id });
            let mut response = (self.status, body.to_string()).into_response();
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            response
        };
        if let Some(seconds) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Some(connection) = self.connection {
            response.extensions_mut().insert(connection);
        }
        response
    }
}

/// The message of a status effect that names none: the service's own
/// wording for the statuses it answers, else the status's reason.
fn default_message(status: StatusCode, retry_after: Option<u32>) -> String {
    match status {
        StatusCode::UNAUTHORIZED => "authentication failed: send 'Authorization: Basic' with a valid access key and secret, \
             or 'Authorization: Bearer' with a valid access token"
            .to_owned(),
        StatusCode::TOO_MANY_REQUESTS => match retry_after {
            Some(seconds) => format!("rate limit exceeded; retry after {seconds} s"),
            None => "rate limit exceeded; retry later".to_owned(),
        },
        StatusCode::SERVICE_UNAVAILABLE => {
            "the service is temporarily unavailable; retry shortly".to_owned()
        }
        other => crate::http::error::generic_message(other)
            .errors
            .into_iter()
            .next()
            .unwrap_or_default(),
    }
}

/// Gong's operationId of a route (`/v2/users/{id}`) and method, from the
/// OpenAPI document the handlers' annotations make: the one table.
pub fn operation_id(method: &Method, route: &str) -> Option<&'static str> {
    let method = if method == Method::HEAD {
        &Method::GET
    } else {
        method
    };
    operation_table()
        .get(&(method.clone(), route.to_owned()))
        .map(String::as_str)
}

/// Every operationId a rule may name.
pub fn operation_ids() -> Vec<&'static str> {
    let mut ids: Vec<&'static str> = operation_table().values().map(String::as_str).collect();
    ids.sort_unstable();
    ids
}

fn operation_table() -> &'static HashMap<(Method, String), String> {
    static TABLE: OnceLock<HashMap<(Method, String), String>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = HashMap::new();
        for (path, item) in crate::http::openapi::document().paths.paths {
            let operations = [
                (Method::GET, &item.get),
                (Method::PUT, &item.put),
                (Method::POST, &item.post),
                (Method::DELETE, &item.delete),
                (Method::PATCH, &item.patch),
            ];
            for (method, operation) in operations {
                if let Some(id) = operation.as_ref().and_then(|o| o.operation_id.clone()) {
                    table.insert((method, path.clone()), id);
                }
            }
        }
        table
    })
}

/// Reads one rule (an object) or several (an array): every problem, each
/// naming its field (`[1].effect.status: …`).
pub fn parse_rules(value: &Value) -> Result<Vec<RuleSpec>, Vec<String>> {
    let mut errors = Vec::new();
    let rules = match value {
        Value::Array(items) if items.is_empty() => {
            return Err(vec![
                "the array of rules is empty; send one rule or more".to_owned()
            ])
        }
        Value::Array(items) => items
            .iter()
            .enumerate()
            .filter_map(|(i, item)| parse_rule(item, &format!("[{i}]"), &mut errors))
            .collect(),
        other => parse_rule(other, "", &mut errors).into_iter().collect(),
    };
    if errors.is_empty() {
        Ok(rules)
    } else {
        Err(errors)
    }
}

/// `prefix.name`, or `name` at the top.
fn field(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else if name.starts_with('[') {
        format!("{prefix}{name}")
    } else {
        format!("{prefix}.{name}")
    }
}

/// The object at `path`, with every key not in `known` reported.
fn object<'a>(
    value: &'a Value,
    path: &str,
    known: &[&str],
    errors: &mut Vec<String>,
) -> Option<&'a Map<String, Value>> {
    let what = if path.is_empty() { "a rule" } else { path };
    let Value::Object(map) = value else {
        errors.push(format!(
            "{what}: must be a JSON object, got {}",
            shown(value)
        ));
        return None;
    };
    for key in map.keys() {
        if !known.contains(&key.as_str()) {
            errors.push(format!(
                "{}: unknown field; use one of {}",
                field(path, key),
                known.join(", ")
            ));
        }
    }
    Some(map)
}

/// A value as a message quotes it, cut short.
fn shown(value: &Value) -> String {
    let text = value.to_string();
    if text.chars().count() > 40 {
        format!("{}…", text.chars().take(40).collect::<String>())
    } else {
        text
    }
}

/// An integer from `min` to `max`.
fn integer(value: &Value, path: &str, min: u64, max: u64, errors: &mut Vec<String>) -> Option<u64> {
    match value.as_u64() {
        Some(n) if (min..=max).contains(&n) => Some(n),
        _ => {
            errors.push(format!(
                "{path}: must be a whole number from {min} to {max}, got {}",
                shown(value)
            ));
            None
        }
    }
}

/// A non-empty string.
fn text(value: &Value, path: &str, errors: &mut Vec<String>) -> Option<String> {
    match value {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        other => {
            errors.push(format!(
                "{path}: must be a non-empty string, got {}",
                shown(other)
            ));
            None
        }
    }
}

fn parse_rule(value: &Value, prefix: &str, errors: &mut Vec<String>) -> Option<RuleSpec> {
    let before = errors.len();
    let map = object(
        value,
        prefix,
        &["match", "times", "probability", "effect"],
        errors,
    )?;
    let matcher = map
        .get("match")
        .map(|m| parse_match(m, &field(prefix, "match"), errors))
        .unwrap_or_default();
    let times = map.get("times").and_then(|t| {
        let path = field(prefix, "times");
        integer(t, &path, 1, u64::MAX, errors)
    });
    let probability = match map.get("probability") {
        None => 1.0,
        Some(p) => match p.as_f64() {
            Some(p) if (0.0..=1.0).contains(&p) => p,
            _ => {
                errors.push(format!(
                    "{}: must be a number from 0 to 1, got {}",
                    field(prefix, "probability"),
                    shown(p)
                ));
                1.0
            }
        },
    };
    let effect = match map.get("effect") {
        Some(e) => parse_effect(e, &field(prefix, "effect"), errors),
        None => {
            errors.push(format!(
                "{}: required; give a status, a delay or a connection effect",
                field(prefix, "effect")
            ));
            Effect::default()
        }
    };
    (errors.len() == before).then_some(RuleSpec {
        matcher,
        times,
        probability,
        effect,
    })
}

fn parse_match(value: &Value, path: &str, errors: &mut Vec<String>) -> Match {
    let known = [
        "operationId",
        "method",
        "path",
        "company",
        "accessKey",
        "tokenId",
    ];
    let Some(map) = object(value, path, &known, errors) else {
        return Match::default();
    };
    let at = |name: &str| field(path, name);
    let mut matcher = Match::default();
    if let Some(v) = map.get("operationId") {
        matcher.operation_id = text(v, &at("operationId"), errors).and_then(|id| {
            let known = operation_ids();
            if known.contains(&id.as_str()) {
                Some(id)
            } else {
                errors.push(format!(
                    "{}: {} is not an operation of this service; use one of {}",
                    at("operationId"),
                    shown(v),
                    known.join(", ")
                ));
                None
            }
        });
    }
    if let Some(v) = map.get("method") {
        matcher.method = text(v, &at("method"), errors).and_then(|m| {
            let upper = m.to_ascii_uppercase();
            if ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"].contains(&upper.as_str()) {
                Some(upper)
            } else {
                errors.push(format!(
                    "{}: must be one of GET, HEAD, POST, PUT, DELETE, PATCH, got {}",
                    at("method"),
                    shown(v)
                ));
                None
            }
        });
    }
    if let Some(v) = map.get("path") {
        matcher.path = text(v, &at("path"), errors).and_then(|p| {
            if p.starts_with('/') {
                Some(p)
            } else {
                errors.push(format!(
                    "{}: must start with '/', as in /v2/calls/users-access, got {}",
                    at("path"),
                    shown(v)
                ));
                None
            }
        });
    }
    if let Some(v) = map.get("company") {
        match CompanyId::from_json(v) {
            Ok(company) => matcher.company = Some(company),
            Err(e) => errors.push(format!("{}: {e}", at("company"))),
        }
    }
    if let Some(v) = map.get("accessKey") {
        matcher.access_key = text(v, &at("accessKey"), errors);
    }
    if let Some(v) = map.get("tokenId") {
        matcher.token_id = text(v, &at("tokenId"), errors);
    }
    if map.contains_key("accessKey") && map.contains_key("tokenId") {
        errors.push(format!(
            "{path}: give accessKey or tokenId, not both: a request has one credential"
        ));
    }
    matcher
}

fn parse_effect(value: &Value, path: &str, errors: &mut Vec<String>) -> Effect {
    let known = ["status", "errors", "retryAfter", "delay", "connection"];
    let Some(map) = object(value, path, &known, errors) else {
        return Effect::default();
    };
    let at = |name: &str| field(path, name);
    let mut effect = Effect::default();
    if let Some(v) = map.get("status") {
        effect.status =
            integer(v, &at("status"), 400, 599, errors).and_then(|s| u16::try_from(s).ok());
    }
    if let Some(v) = map.get("errors") {
        match v.as_array() {
            Some(items) if !items.is_empty() => {
                let messages: Vec<String> = items
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| text(m, &format!("{}[{i}]", at("errors")), errors))
                    .collect();
                effect.errors = Some(messages);
            }
            _ => errors.push(format!(
                "{}: must be a non-empty array of messages, got {}",
                at("errors"),
                shown(v)
            )),
        }
    }
    if let Some(v) = map.get("retryAfter") {
        effect.retry_after = integer(v, &at("retryAfter"), 0, u64::from(u32::MAX), errors)
            .and_then(|s| u32::try_from(s).ok());
    }
    if let Some(v) = map.get("delay") {
        effect.delay = parse_delay(v, &at("delay"), errors);
    }
    if let Some(v) = map.get("connection") {
        let found = v.as_str().and_then(|name| {
            ConnectionEffect::NAMES
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, effect)| *effect)
        });
        match found {
            Some(connection) => effect.connection = Some(connection),
            None => errors.push(format!(
                "{}: must be one of \"reset\", \"empty\", \"truncate\", got {}",
                at("connection"),
                shown(v)
            )),
        }
    }
    let has = |name: &str| map.contains_key(name);
    if !has("status") && !has("delay") && !has("connection") {
        errors.push(format!(
            "{path}: give a status, a delay or a connection effect (or several)"
        ));
    }
    for name in ["errors", "retryAfter"] {
        if has(name) && !has("status") {
            errors.push(format!(
                "{}: goes with a status; add effect.status",
                at(name)
            ));
        }
    }
    if has("status")
        && matches!(
            effect.connection,
            Some(ConnectionEffect::Reset | ConnectionEffect::Empty)
        )
    {
        errors.push(format!(
            "{}: reset and empty send no answer, so they take no status; remove one of them",
            at("status")
        ));
    }
    effect
}

fn parse_delay(value: &Value, path: &str, errors: &mut Vec<String>) -> Option<Delay> {
    let known = ["fixedMs", "uniformMs", "lognormalMs"];
    let map = object(value, path, &known, errors)?;
    let at = |name: &str| field(path, name);
    let before = errors.len();
    let mut delay = Delay::default();
    if let Some(v) = map.get("fixedMs") {
        delay.fixed_ms = integer(v, &at("fixedMs"), 0, MAX_DELAY_MS, errors);
    }
    if let Some(v) = map.get("uniformMs") {
        let bounds = v.as_array().filter(|b| b.len() == 2).and_then(|b| {
            let low = b[0].as_u64()?;
            let high = b[1].as_u64()?;
            (low <= high && high <= MAX_DELAY_MS).then_some([low, high])
        });
        match bounds {
            Some(bounds) => delay.uniform_ms = Some(bounds),
            None => errors.push(format!(
                "{}: must be [low, high], whole milliseconds with low <= high <= {MAX_DELAY_MS}, got {}",
                at("uniformMs"),
                shown(v)
            )),
        }
    }
    if let Some(v) = map.get("lognormalMs") {
        let inner = at("lognormalMs");
        if let Some(m) = object(v, &inner, &["median", "sigma"], errors) {
            let number = |name: &str, ok: fn(f64) -> bool, rule: &str, errors: &mut Vec<String>| {
                let path = field(&inner, name);
                match m.get(name) {
                    None => {
                        errors.push(format!("{path}: required ({rule})"));
                        None
                    }
                    Some(n) => match n.as_f64() {
                        Some(x) if ok(x) => Some(x),
                        _ => {
                            errors.push(format!("{path}: must be {rule}, got {}", shown(n)));
                            None
                        }
                    },
                }
            };
            let median = number(
                "median",
                |x| x > 0.0 && x <= MAX_DELAY_MS as f64,
                "milliseconds above 0, at most 3600000",
                errors,
            );
            let sigma = number(
                "sigma",
                |x| (0.0..=10.0).contains(&x),
                "a number from 0 to 10",
                errors,
            );
            if let (Some(median), Some(sigma)) = (median, sigma) {
                delay.lognormal_ms = Some(LogNormalMs { median, sigma });
            }
        }
    }
    if map.is_empty() {
        errors.push(format!(
            "{path}: give fixedMs, uniformMs or lognormalMs (several add up)"
        ));
    }
    (errors.len() == before).then_some(delay)
}

#[cfg(test)]
mod tests {
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use rand::SeedableRng as _;
    use serde_json::json;

    use super::*;

    fn one(value: Value) -> RuleSpec {
        let mut rules = parse_rules(&value).unwrap();
        assert_eq!(rules.len(), 1);
        rules.remove(0)
    }

    fn rejected(value: Value) -> Vec<String> {
        parse_rules(&value).unwrap_err()
    }

    fn facts<'a>(method: &'a Method, route: &'a str, credential: &'a CredentialId) -> Facts<'a> {
        Facts {
            method,
            path: route,
            route: Some(route),
            company: CompanyId::from_i64(1).unwrap(),
            credential,
        }
    }

    #[test]
    fn the_spec_example_reads_and_lists_as_written() {
        let written = json!({
            "match": { "operationId": "deleteUsersAccessToCalls", "company": "1000000000000000001" },
            "times": 2, "probability": 1.0,
            "effect": { "status": 429, "retryAfter": 7 }
        });
        let rule = one(written.clone());
        assert_eq!(rule.times, Some(2));
        assert_eq!(rule.effect.status, Some(429));
        assert_eq!(serde_json::to_value(&rule).unwrap(), written);
    }

    #[test]
    fn every_problem_names_its_field() {
        let errors = rejected(json!([
            {"effect": {"status": 200}},
            {"match": {"operationId": "deleteUser", "colour": 1}, "effect": {"delay": {}}},
            {"probability": 2, "times": 0, "effect": {"connection": "explode", "retryAfter": -1}},
            {"effect": {"delay": {"uniformMs": [900, 100], "lognormalMs": {"median": 0}}}},
            {"effect": {"status": 500, "connection": "reset"}},
            {"match": {"accessKey": "A", "tokenId": "T", "company": "x"}, "effect": {"status": 503}},
            "nonsense",
        ]));
        let expect = [
            "[0].effect.status: must be a whole number from 400 to 599, got 200",
            "[1].match.colour: unknown field; use one of operationId, method, path, company, accessKey, tokenId",
            "[1].match.operationId: \"deleteUser\" is not an operation of this service; use one of",
            "[1].effect.delay: give fixedMs, uniformMs or lognormalMs (several add up)",
            "[2].times: must be a whole number from 1 to",
            "[2].probability: must be a number from 0 to 1, got 2",
            "[2].effect.retryAfter: must be a whole number from 0 to 4294967295, got -1",
            "[2].effect.connection: must be one of \"reset\", \"empty\", \"truncate\", got \"explode\"",
            "[2].effect.retryAfter: goes with a status; add effect.status",
            "[3].effect.delay.uniformMs: must be [low, high]",
            "[3].effect.delay.lognormalMs.median: must be milliseconds above 0",
            "[3].effect.delay.lognormalMs.sigma: required",
            "[4].effect.status: reset and empty send no answer",
            "[5].match.company: ",
            "[5].match: give accessKey or tokenId, not both",
            "[6]: must be a JSON object, got \"nonsense\"",
        ];
        for wanted in expect {
            assert!(
                errors.iter().any(|e| e.starts_with(wanted)),
                "{wanted:?} missing from {errors:#?}"
            );
        }
        assert_eq!(errors.len(), expect.len(), "{errors:#?}");
        assert_eq!(
            rejected(json!({"match": {}})),
            ["effect: required; give a status, a delay or a connection effect"]
        );
        assert_eq!(
            rejected(json!([])),
            ["the array of rules is empty; send one rule or more"]
        );
    }

    #[test]
    fn every_v2_route_has_gongs_operation_id() {
        assert_eq!(
            operation_id(&Method::DELETE, "/v2/calls/users-access"),
            Some("deleteUsersAccessToCalls")
        );
        assert_eq!(
            operation_id(&Method::HEAD, "/v2/users/{id}"),
            Some("getUser")
        );
        assert_eq!(operation_id(&Method::POST, "/v2/calls"), Some("addCall"));
        assert_eq!(operation_id(&Method::GET, "/healthz"), None);
        assert_eq!(operation_ids().len(), 16);
    }

    #[test]
    fn a_rule_applies_only_when_every_field_holds() {
        let key = CredentialId::ApiKey("KEY".to_owned());
        let token = CredentialId::Token("T1".to_owned());
        let delete = Method::DELETE;
        let route = "/v2/calls/users-access";
        let rule =
            |matcher: Value| one(json!({"match": matcher, "effect": {"status": 500}})).matcher;
        assert!(rule(json!({})).holds(&facts(&delete, route, &key)));
        let all = rule(json!({
            "operationId": "deleteUsersAccessToCalls", "method": "delete",
            "path": route, "company": 1, "accessKey": "KEY"
        }));
        assert!(all.holds(&facts(&delete, route, &key)));
        assert!(!all.holds(&facts(&Method::PUT, route, &key)));
        assert!(!all.holds(&facts(&delete, route, &token)));
        let mut elsewhere = facts(&delete, route, &key);
        elsewhere.company = CompanyId::from_i64(2).unwrap();
        assert!(!all.holds(&elsewhere));
        let by_token = rule(json!({"tokenId": "T1"}));
        assert!(by_token.holds(&facts(&delete, route, &token)));
        assert!(!by_token.holds(&facts(&delete, route, &key)));
        // A route pattern or the concrete path.
        let user = rule(json!({"path": "/v2/users/{id}", "method": "GET"}));
        let head = Method::HEAD;
        let mut concrete = facts(&head, "/v2/users/{id}", &key);
        concrete.path = "/v2/users/42";
        assert!(user.holds(&concrete));
        assert!(rule(json!({"path": "/v2/users/42"})).holds(&concrete));
        assert!(!rule(json!({"path": "/v2/users/43"})).holds(&concrete));
    }

    #[test]
    fn times_and_probability_decide_how_often_a_rule_fires() {
        let key = CredentialId::ApiKey("KEY".to_owned());
        let faults = Faults::with_rules(
            parse_rules(&json!([
                {"times": 2, "effect": {"status": 429}},
                {"probability": 0, "effect": {"status": 500}},
                {"match": {"method": "PUT"}, "effect": {"delay": {"fixedMs": 5}}},
            ]))
            .unwrap(),
        );
        let put = Method::PUT;
        let fired: Vec<Option<String>> = (0..4)
            .map(|_| {
                faults
                    .check(&facts(&put, "/v2/calls/users-access", &key))
                    .map(|f| f.rule_id)
            })
            .collect();
        assert_eq!(
            fired,
            [Some("1"), Some("1"), Some("3"), Some("3")].map(|s| s.map(str::to_owned))
        );
        let listed = faults.list();
        assert_eq!(
            listed
                .iter()
                .map(|r| (r.fired, r.remaining))
                .collect::<Vec<_>>(),
            [(2, Some(0)), (0, None), (2, None)]
        );
        assert_eq!(faults.remove("1").unwrap().fired, 2);
        assert!(faults.remove("1").is_none());
        assert_eq!(faults.clear(), 2);
        assert!(faults.check(&facts(&put, "/", &key)).is_none());
        // Ids are not reused after a clear.
        assert_eq!(
            faults.add(vec![one(json!({"effect": {"status": 503}}))])[0].id,
            "4"
        );
    }

    #[test]
    fn a_rule_of_n_times_fires_n_times_under_contention() {
        let key = CredentialId::ApiKey("KEY".to_owned());
        let faults = Arc::new(Faults::with_rules(vec![one(
            json!({"times": 100, "effect": {"status": 503}}),
        )]));
        let threads: Vec<_> = (0..8)
            .map(|_| {
                let (faults, key) = (Arc::clone(&faults), key.clone());
                std::thread::spawn(move || {
                    (0..50)
                        .filter(|_| faults.check(&facts(&Method::GET, "/", &key)).is_some())
                        .count()
                })
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(total, 100);
        assert_eq!(faults.list()[0].fired, 100);
    }

    #[test]
    fn delays_are_drawn_from_their_distribution() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(13);
        let delay = |value: Value| {
            one(json!({"effect": {"delay": value}}))
                .effect
                .delay
                .unwrap()
        };
        assert_eq!(
            delay(json!({"fixedMs": 300})).draw(&mut rng),
            Duration::from_millis(300)
        );
        let uniform = delay(json!({"uniformMs": [100, 900]}));
        let draws: Vec<Duration> = (0..1000).map(|_| uniform.draw(&mut rng)).collect();
        assert!(draws
            .iter()
            .all(|d| (Duration::from_millis(100)..=Duration::from_millis(900)).contains(d)));
        assert!(draws.iter().any(|d| *d < Duration::from_millis(200)));
        assert!(draws.iter().any(|d| *d > Duration::from_millis(800)));
        // Half the draws fall below the median, and the tail is long.
        let lognormal = delay(json!({"lognormalMs": {"median": 200, "sigma": 0.6}}));
        let mut draws: Vec<f64> = (0..4001)
            .map(|_| lognormal.draw(&mut rng).as_secs_f64() * 1000.0)
            .collect();
        draws.sort_by(f64::total_cmp);
        let median = draws[2000];
        assert!((180.0..220.0).contains(&median), "{median}");
        assert!(draws[4000] > 2.0 * median, "{}", draws[4000]);
        // The parts add up.
        let both = delay(json!({"fixedMs": 1000, "uniformMs": [5, 5]}));
        assert_eq!(both.draw(&mut rng), Duration::from_millis(1005));
    }

    #[test]
    fn each_status_has_a_default_message() {
        assert_eq!(
            default_message(StatusCode::TOO_MANY_REQUESTS, Some(7)),
            "rate limit exceeded; retry after 7 s"
        );
        assert_eq!(
            default_message(StatusCode::BAD_GATEWAY, None),
            "request failed: bad gateway"
        );
    }
}
