//! Seed file parsing: JSON text to a validated [`Seed`], or every problem
//! found, each message starting with the JSON path of the value at fault.
//!
//! The file is first read into a `serde_json::Value` and then walked by hand
//! rather than deserialized into structs: derived deserializers stop at the
//! first problem and word their messages in Rust terms, while an operator
//! fixing a seed wants all problems at once, in the file's own vocabulary.

use std::collections::{HashMap, HashSet};
use std::fmt;

use serde_json::{Map, Value};

use super::{
    ExternalReference, ReferenceTarget, Seed, SeedApiKey, SeedCompany, SeedLink, SeedToken,
};
use crate::ids::{quote, CallId, CompanyId, IdError, UserId};
use crate::model::{Call, CallsAccess, Limit, RateLimit, Scope, SecretDigest, Timestamp, User};
use crate::secret;

/// More messages than this bury the first (usually causal) ones; a file with
/// thousands of rows sharing one mistake would otherwise print thousands.
const MAX_MESSAGES: usize = 100;

/// Strings longer than this are refused before any finer check, so that a
/// message never echoes a huge value back.
const MAX_TEXT: usize = 200;

const ROOT_FIELDS: &[&str] = &["companies"];
const COMPANY_FIELDS: &[&str] = &[
    "id",
    "name",
    "rateLimit",
    "apiKeys",
    "tokens",
    "users",
    "calls",
    "shares",
    "apiGrants",
];
const RATE_LIMIT_FIELDS: &[&str] = &["perSecond", "perDay"];
const API_KEY_FIELDS: &[&str] = &["accessKey", "accessKeySecret", "scopes", "expiresAt"];
const TOKEN_FIELDS: &[&str] = &["token", "scopes", "expiresAt"];
const USER_FIELDS: &[&str] = &["id", "emailAddress", "callsAccess"];
const CALL_FIELDS: &[&str] = &["id", "title", "primaryUserId", "participantIds"];
const LINK_FIELDS: &[&str] = &["callId", "userId"];

pub(super) fn parse(text: &str) -> Result<Seed, Vec<String>> {
    // Editors on Windows like to start UTF-8 files with a byte order mark,
    // which JSON does not allow but which carries no meaning either.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(vec![
            "the file is empty; a seed is a JSON object such as {\"companies\": []}".to_owned(),
        ]);
    }
    let root: Value = serde_json::from_str(text).map_err(|e| vec![syntax_message(&e)])?;
    let mut walker = Walker::default();
    let seed = walker.root(&root);
    match seed {
        Some(seed) if walker.messages.is_empty() => Ok(seed),
        _ => Err(walker.finish()),
    }
}

pub(super) fn external_references(seed: &Seed) -> Vec<ExternalReference> {
    let mut found = Vec::new();
    for company in &seed.companies {
        let users: HashSet<UserId> = company.users.iter().map(|u| u.id).collect();
        let calls: HashSet<CallId> = company.calls.iter().map(|c| c.id).collect();
        let mut user_ref = |path: String, user: UserId| {
            if !users.contains(&user) {
                found.push(ExternalReference {
                    path,
                    company: company.id,
                    target: ReferenceTarget::User(user),
                });
            }
        };
        // A parsed seed keeps every call and participant at its index in the
        // file (duplicates are rejected, not dropped), so these paths point
        // at the very text the operator wrote.
        for (i, call) in company.calls.iter().enumerate() {
            user_ref(
                format!("{}.calls[{i}].primaryUserId", company.path),
                call.primary_user_id,
            );
            for (j, participant) in call.participant_ids.iter().enumerate() {
                user_ref(
                    format!("{}.calls[{i}].participantIds[{j}]", company.path),
                    *participant,
                );
            }
        }
        for link in company.shares.iter().chain(&company.api_grants) {
            if !calls.contains(&link.call) {
                found.push(ExternalReference {
                    path: format!("{}.callId", link.path),
                    company: company.id,
                    target: ReferenceTarget::Call(link.call),
                });
            }
            if !users.contains(&link.user) {
                found.push(ExternalReference {
                    path: format!("{}.userId", link.path),
                    company: company.id,
                    target: ReferenceTarget::User(link.user),
                });
            }
        }
    }
    found
}

/// serde_json words syntax errors well enough, but in its own style: a
/// trailing "at line L column C", backticks, and "EOF".
fn syntax_message(error: &serde_json::Error) -> String {
    let full = error.to_string();
    let reason = match full.rfind(" at line ") {
        Some(cut) => &full[..cut],
        None => full.as_str(),
    };
    let reason = match reason {
        "EOF while parsing a value" => "the file ends where a value was expected".to_owned(),
        "expected value" => "expected a value".to_owned(),
        "expected ident" => "expected true, false or null".to_owned(),
        "trailing characters" => "unexpected text after the end of the document".to_owned(),
        "recursion limit exceeded" => "values are nested too deeply".to_owned(),
        other => match other.strip_prefix("EOF while parsing ") {
            Some(what) => format!("the file ends inside {what}"),
            None => other.replace('`', "'"),
        },
    };
    format!("line {}, column {}: {reason}", error.line(), error.column())
}

/// `parent.key`, or `parent["odd key"]` when the key would not read as a
/// plain name (so that a typo with a space or a dot stays visible).
fn field_path(parent: &str, key: &str) -> String {
    let plain = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    match (parent.is_empty(), plain) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{}]", quote(&Value::String(key.to_owned()))),
    }
}

fn index_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

/// Collects messages while walking; every check returns `None` after
/// recording why, so the walk goes on and reports the next problem too.
#[derive(Default)]
struct Walker {
    messages: Vec<String>,
    /// Problems found beyond `MAX_MESSAGES`, counted for the last line.
    unreported: usize,
    /// Company id → path of the company that first used it.
    company_ids: HashMap<CompanyId, String>,
    /// Access key → path of the key entry that first used it, across the file.
    access_keys: HashMap<String, String>,
    /// Token digest → path of the token entry that first used it.
    tokens: HashMap<SecretDigest, String>,
}

impl Walker {
    fn report(&mut self, path: &str, message: impl fmt::Display) {
        if self.messages.len() < MAX_MESSAGES {
            self.messages.push(if path.is_empty() {
                message.to_string()
            } else {
                format!("{path}: {message}")
            });
        } else {
            self.unreported += 1;
        }
    }

    fn finish(mut self) -> Vec<String> {
        if self.unreported > 0 {
            self.messages
                .push(format!("… and {} more problems not shown", self.unreported));
        }
        self.messages
    }

    // --- shapes ---

    /// The value as an object, reporting every field it should not have.
    fn object<'v>(
        &mut self,
        value: &'v Value,
        path: &str,
        allowed: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Value::Object(map) = value else {
            self.report(
                path,
                format_args!("must be an object, not {}", quote(value)),
            );
            return None;
        };
        for key in map.keys().filter(|k| !allowed.contains(&k.as_str())) {
            self.report(&field_path(path, key), "unknown field");
        }
        Some(map)
    }

    /// A field that must be present and not null.
    fn required<'v>(
        &mut self,
        map: &'v Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<&'v Value> {
        match map.get(key) {
            None => {
                self.report(&field_path(path, key), "is required");
                None
            }
            Some(Value::Null) => {
                self.report(&field_path(path, key), "must not be null");
                None
            }
            Some(value) => Some(value),
        }
    }

    fn string<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v str> {
        match value {
            Value::String(s) if s.chars().count() > MAX_TEXT => {
                self.report(
                    path,
                    format_args!(
                        "{} is too long (at most {MAX_TEXT} characters)",
                        quote(value)
                    ),
                );
                None
            }
            Value::String(s) => Some(s),
            other => {
                self.report(path, format_args!("must be a string, not {}", quote(other)));
                None
            }
        }
    }

    fn array<'v>(&mut self, value: &'v Value, path: &str) -> Option<&'v [Value]> {
        match value {
            Value::Array(items) => Some(items),
            other => {
                self.report(path, format_args!("must be an array, not {}", quote(other)));
                None
            }
        }
    }

    /// An optional array field: absent and null both mean empty.
    fn items<'v>(&mut self, map: &'v Map<String, Value>, path: &str, key: &str) -> &'v [Value] {
        match map.get(key) {
            None | Some(Value::Null) => &[],
            Some(value) => self.array(value, &field_path(path, key)).unwrap_or(&[]),
        }
    }

    fn id<T>(
        &mut self,
        value: &Value,
        path: &str,
        parse: fn(&Value) -> Result<T, IdError>,
    ) -> Option<T> {
        parse(value).map_err(|e| self.report(path, e)).ok()
    }

    fn required_id<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        parse: fn(&Value) -> Result<T, IdError>,
    ) -> Option<T> {
        let value = self.required(map, path, key)?;
        self.id(value, &field_path(path, key), parse)
    }

    fn expiry(&mut self, map: &Map<String, Value>, path: &str) -> Option<Option<Timestamp>> {
        let path = field_path(path, "expiresAt");
        match map.get("expiresAt") {
            None | Some(Value::Null) => Some(None),
            Some(value) => {
                let text = self.string(value, &path)?;
                Timestamp::parse_rfc3339(text)
                    .map(Some)
                    .map_err(|e| self.report(&path, e))
                    .ok()
            }
        }
    }

    /// A non-empty array of scopes.
    fn scopes(&mut self, value: &Value, path: &str) -> Option<Vec<Scope>> {
        let items = self.array(value, path)?;
        if items.is_empty() {
            self.report(path, "must not be empty");
            return None;
        }
        let mut scopes = Vec::with_capacity(items.len());
        let mut ok = true;
        for (i, item) in items.iter().enumerate() {
            let path = index_path(path, i);
            match self.string(item, &path).map(Scope::parse_known) {
                Some(Ok(scope)) => scopes.push(scope),
                Some(Err(e)) => {
                    self.report(&path, e);
                    ok = false;
                }
                None => ok = false,
            }
        }
        // The same scope twice grants nothing more; keep one.
        let mut seen = HashSet::new();
        scopes.retain(|s| seen.insert(s.clone()));
        ok.then_some(scopes)
    }

    fn limit(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<Limit> {
        let value = match map.get(key) {
            None | Some(Value::Null) => return Some(Limit::Default),
            Some(value) => value,
        };
        let limit = match value {
            Value::String(s) if s == "off" => Some(Limit::Off),
            Value::Number(n) => n
                .as_u64()
                .filter(|&n| n > 0)
                .and_then(|n| u32::try_from(n).ok())
                .map(Limit::Max),
            _ => None,
        };
        if limit.is_none() {
            self.report(
                &field_path(path, key),
                format_args!(
                    "{} is not a rate limit (expected a positive integer or \"off\")",
                    quote(value)
                ),
            );
        }
        limit
    }

    // --- the file ---

    fn root(&mut self, value: &Value) -> Option<Seed> {
        let Value::Object(map) = value else {
            self.report(
                "",
                format_args!(
                    "a seed is a JSON object such as {{\"companies\": []}}, not {}",
                    quote(value)
                ),
            );
            return None;
        };
        let map = self.object(value, "", ROOT_FIELDS).unwrap_or(map);
        let companies = self.required(map, "", "companies")?;
        let items = self.array(companies, "companies")?;
        let mut companies = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            if let Some(company) = self.company(item, &index_path("companies", i)) {
                companies.push(company);
            }
        }
        Some(Seed { companies })
    }

    fn company(&mut self, value: &Value, path: &str) -> Option<SeedCompany> {
        let map = self.object(value, path, COMPANY_FIELDS)?;

        let id = self.required_id(map, path, "id", CompanyId::from_json);
        if let Some(id) = id {
            if let Some(first) = self.company_ids.get(&id).cloned() {
                self.report(
                    &field_path(path, "id"),
                    format_args!("\"{id}\" appears twice (first at {first})"),
                );
            } else {
                self.company_ids.insert(id, path.to_owned());
            }
        }

        let name_path = field_path(path, "name");
        let name = match self
            .required(map, path, "name")
            .and_then(|v| self.string(v, &name_path))
        {
            Some(name) if name.trim().is_empty() => {
                self.report(&name_path, "must not be empty");
                None
            }
            other => other,
        };

        let rate_limit = match map.get("rateLimit") {
            None | Some(Value::Null) => Some(RateLimit::default()),
            Some(value) => {
                let rl_path = field_path(path, "rateLimit");
                self.object(value, &rl_path, RATE_LIMIT_FIELDS)
                    .and_then(|rl| {
                        let per_second = self.limit(rl, &rl_path, "perSecond");
                        let per_day = self.limit(rl, &rl_path, "perDay");
                        Some(RateLimit {
                            per_second: per_second?,
                            per_day: per_day?,
                        })
                    })
            }
        };

        // Each list is walked in full even after a problem, so one run of the
        // parser reports everything; `all` records whether any entry failed.
        let mut all = true;
        let mut collect =
            |walker: &mut Self,
             key: &str,
             each: &mut dyn FnMut(&mut Self, &Value, &str) -> bool| {
                let list_path = field_path(path, key);
                for (i, item) in walker.items(map, path, key).iter().enumerate() {
                    all &= each(walker, item, &index_path(&list_path, i));
                }
            };

        let mut api_keys = Vec::new();
        collect(self, "apiKeys", &mut |w, item, p| {
            w.api_key(item, p).map(|k| api_keys.push(k)).is_some()
        });
        let mut tokens = Vec::new();
        collect(self, "tokens", &mut |w, item, p| {
            w.token(item, p).map(|t| tokens.push(t)).is_some()
        });

        // Users and calls are walked even when the company id is bad, so
        // that their own problems are reported too; they get the company id
        // at the end, once it is known to be valid.
        let mut users: Vec<PendingUser> = Vec::new();
        let mut user_ids: HashMap<UserId, String> = HashMap::new();
        collect(self, "users", &mut |w, item, p| match w.user(item, p) {
            Some(user) => {
                if let Some(first) = user_ids.get(&user.id) {
                    w.report(
                        &field_path(p, "id"),
                        format_args!("\"{}\" appears twice (first at {first})", user.id),
                    );
                    return false;
                }
                user_ids.insert(user.id, p.to_owned());
                users.push(user);
                true
            }
            None => false,
        });
        let mut calls: Vec<PendingCall> = Vec::new();
        let mut call_ids: HashMap<CallId, String> = HashMap::new();
        collect(self, "calls", &mut |w, item, p| match w.call(item, p) {
            Some(call) => {
                if let Some(first) = call_ids.get(&call.id) {
                    w.report(
                        &field_path(p, "id"),
                        format_args!("\"{}\" appears twice (first at {first})", call.id),
                    );
                    return false;
                }
                call_ids.insert(call.id, p.to_owned());
                calls.push(call);
                true
            }
            None => false,
        });
        let mut shares = Vec::new();
        collect(self, "shares", &mut |w, item, p| {
            w.link(item, p).map(|l| keep_once(&mut shares, l)).is_some()
        });
        let mut api_grants = Vec::new();
        collect(self, "apiGrants", &mut |w, item, p| {
            w.link(item, p)
                .map(|l| keep_once(&mut api_grants, l))
                .is_some()
        });

        if !all {
            return None;
        }
        let id = id?;
        let users = users.into_iter().map(|u| u.build(id)).collect();
        let calls = calls.into_iter().map(|c| c.build(id)).collect();
        Some(SeedCompany {
            path: path.to_owned(),
            id,
            name: name?.to_owned(),
            rate_limit: rate_limit?,
            api_keys,
            tokens,
            users,
            calls,
            shares,
            api_grants,
        })
    }

    fn api_key(&mut self, value: &Value, path: &str) -> Option<SeedApiKey> {
        let map = self.object(value, path, API_KEY_FIELDS)?;

        let key_path = field_path(path, "accessKey");
        let access_key = self
            .required(map, path, "accessKey")
            .and_then(|v| self.string(v, &key_path));
        let access_key = access_key.and_then(|key| match secret::check_access_key(key) {
            Err(e) => {
                self.report(&key_path, e);
                None
            }
            Ok(()) => match self.access_keys.get(key) {
                Some(first) => {
                    let first = first.clone();
                    self.report(
                        &key_path,
                        format_args!("{} appears twice (first at {first})", quote(&key.into())),
                    );
                    None
                }
                None => {
                    self.access_keys.insert(key.to_owned(), path.to_owned());
                    Some(key.to_owned())
                }
            },
        });

        // The secret is never quoted back: messages end up in terminals and logs.
        let secret_path = field_path(path, "accessKeySecret");
        let digest = match map.get("accessKeySecret") {
            Some(Value::String(s)) => match secret::check_secret(s) {
                Ok(()) => Some(secret::digest(s)),
                Err(e) => {
                    self.report(&secret_path, e);
                    None
                }
            },
            _ => self.secret_shape(map, path, "accessKeySecret"),
        };

        let scopes = match map.get("scopes") {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.scopes(value, &field_path(path, "scopes")).map(Some),
        };
        let expires_at = self.expiry(map, path);
        Some(SeedApiKey {
            path: path.to_owned(),
            access_key: access_key?,
            digest: digest?,
            scopes: scopes?,
            expires_at: expires_at?,
        })
    }

    /// Reports a secret field that is missing, null or not a string, without
    /// quoting whatever it holds.
    fn secret_shape(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<SecretDigest> {
        if self.required(map, path, key).is_some() {
            self.report(&field_path(path, key), "must be a string");
        }
        None
    }

    fn token(&mut self, value: &Value, path: &str) -> Option<SeedToken> {
        let map = self.object(value, path, TOKEN_FIELDS)?;
        let token_path = field_path(path, "token");
        let digest = match map.get("token") {
            Some(Value::String(s)) => match secret::check_secret(s) {
                Ok(()) => {
                    let digest = secret::digest(s);
                    match self.tokens.get(&digest) {
                        Some(first) => {
                            let first = first.clone();
                            self.report(
                                &token_path,
                                format_args!("appears twice (first at {first})"),
                            );
                            None
                        }
                        None => {
                            self.tokens.insert(digest, path.to_owned());
                            Some(digest)
                        }
                    }
                }
                Err(e) => {
                    self.report(&token_path, e);
                    None
                }
            },
            _ => self.secret_shape(map, path, "token"),
        };
        let scopes = self
            .required(map, path, "scopes")
            .and_then(|v| self.scopes(v, &field_path(path, "scopes")));
        let expires_at = self.expiry(map, path);
        Some(SeedToken {
            path: path.to_owned(),
            digest: digest?,
            scopes: scopes?,
            expires_at: expires_at?,
        })
    }

    fn user(&mut self, value: &Value, path: &str) -> Option<PendingUser> {
        let map = self.object(value, path, USER_FIELDS)?;
        let id = self.required_id(map, path, "id", UserId::from_json);

        let email_path = field_path(path, "emailAddress");
        let email = self
            .required(map, path, "emailAddress")
            .and_then(|v| self.string(v, &email_path));
        let email = email.and_then(|e| {
            if e.trim().is_empty() || !e.contains('@') || e.chars().any(char::is_whitespace) {
                self.report(
                    &email_path,
                    format_args!("{} is not an email address", quote(&e.into())),
                );
                None
            } else {
                Some(e.to_owned())
            }
        });

        let access_path = field_path(path, "callsAccess");
        let calls_access = match map.get("callsAccess") {
            None | Some(Value::Null) => Some(CallsAccess::None),
            Some(v) => self.string(v, &access_path).and_then(|s| {
                s.parse::<CallsAccess>()
                    .map_err(|e| self.report(&access_path, e))
                    .ok()
            }),
        };
        Some(PendingUser {
            id: id?,
            email_address: email?,
            calls_access: calls_access?,
        })
    }

    fn call(&mut self, value: &Value, path: &str) -> Option<PendingCall> {
        let map = self.object(value, path, CALL_FIELDS)?;
        let id = self.required_id(map, path, "id", CallId::from_json);
        let title = match map.get("title") {
            None | Some(Value::Null) => Some(None),
            Some(v) => self
                .string(v, &field_path(path, "title"))
                .map(|t| Some(t.to_owned())),
        };
        let primary = self.required_id(map, path, "primaryUserId", UserId::from_json);

        // Unlike shares, a repeated participant is refused rather than kept
        // once: dropping it would shift the index of every later participant
        // and make the store's messages point at the wrong entry.
        let list_path = field_path(path, "participantIds");
        let mut participants = Some(Vec::new());
        let mut first_at: HashMap<UserId, usize> = HashMap::new();
        for (j, item) in self.items(map, path, "participantIds").iter().enumerate() {
            let item_path = index_path(&list_path, j);
            match self.id(item, &item_path, UserId::from_json) {
                Some(user) => match first_at.get(&user) {
                    Some(&k) => {
                        let first = index_path(&list_path, k);
                        self.report(
                            &item_path,
                            format_args!("\"{user}\" appears twice (first at {first})"),
                        );
                        participants = None;
                    }
                    None => {
                        first_at.insert(user, j);
                        if let Some(list) = participants.as_mut() {
                            list.push(user);
                        }
                    }
                },
                None => participants = None,
            }
        }
        Some(PendingCall {
            id: id?,
            title: title?,
            primary_user_id: primary?,
            participant_ids: participants?,
        })
    }

    fn link(&mut self, value: &Value, path: &str) -> Option<SeedLink> {
        let map = self.object(value, path, LINK_FIELDS)?;
        let call = self.required_id(map, path, "callId", CallId::from_json);
        let user = self.required_id(map, path, "userId", UserId::from_json);
        Some(SeedLink {
            path: path.to_owned(),
            call: call?,
            user: user?,
        })
    }
}

/// A user as the file gives it, before its company id is known to be valid.
struct PendingUser {
    id: UserId,
    email_address: String,
    calls_access: CallsAccess,
}

impl PendingUser {
    fn build(self, company: CompanyId) -> User {
        User {
            company,
            id: self.id,
            email_address: self.email_address,
            calls_access: self.calls_access,
        }
    }
}

struct PendingCall {
    id: CallId,
    title: Option<String>,
    primary_user_id: UserId,
    participant_ids: Vec<UserId>,
}

impl PendingCall {
    fn build(self, company: CompanyId) -> Call {
        Call {
            company,
            id: self.id,
            title: self.title,
            primary_user_id: self.primary_user_id,
            participant_ids: self.participant_ids,
        }
    }
}

/// Shares and grants are sets: listing one twice says nothing new.
fn keep_once(links: &mut Vec<SeedLink>, link: SeedLink) {
    if !links
        .iter()
        .any(|l| l.call == link.call && l.user == link.user)
    {
        links.push(link);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    /// The example of the seed specification, verbatim.
    const SPEC_EXAMPLE: &str = r#"{
  "companies": [
    {
      "id": "1000000000000000001",
      "name": "Acme",
      "rateLimit": { "perSecond": 3, "perDay": 10000 },
      "apiKeys": [
        { "accessKey": "ACMEKEY1", "accessKeySecret": "acme-secret-0123456789", "expiresAt": "2030-01-01T00:00:00Z" }
      ],
      "tokens": [
        { "token": "acme-read-token-0123456789", "scopes": ["api:call-user-access:read"] }
      ],
      "users": [
        { "id": "234599484848423", "emailAddress": "ada@acme.test", "callsAccess": "none" },
        { "id": "234599484848424", "emailAddress": "bob@acme.test", "callsAccess": "own" },
        { "id": "234599484848425", "emailAddress": "cy@acme.test",  "callsAccess": "all" }
      ],
      "calls": [
        { "id": "7782342274025937895", "title": "Discovery", "primaryUserId": "234599484848424", "participantIds": [] }
      ],
      "shares":    [ { "callId": "7782342274025937895", "userId": "234599484848423" } ],
      "apiGrants": [ ]
    }
  ]
}"#;

    fn company_id(n: i64) -> CompanyId {
        CompanyId::from_i64(n).unwrap()
    }
    fn user_id(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }
    fn call_id(n: i64) -> CallId {
        CallId::from_i64(n).unwrap()
    }

    /// A valid one-company seed to break in one place at a time.
    fn base() -> Value {
        json!({"companies": [{
            "id": "1",
            "name": "Acme",
            "users": [
                {"id": "10", "emailAddress": "ada@acme.test"},
                {"id": "11", "emailAddress": "bob@acme.test", "callsAccess": "own"}
            ],
            "calls": [{"id": "100", "primaryUserId": "11"}]
        }]})
    }

    fn errors_of(value: &Value) -> Vec<String> {
        parse(&value.to_string()).expect_err("the seed should be rejected")
    }

    /// Applies `edit` to a fresh base seed and expects exactly one message.
    fn single_error(edit: impl FnOnce(&mut Value)) -> String {
        let mut seed = base();
        edit(&mut seed);
        let errors = errors_of(&seed);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn the_specification_example_parses() {
        let seed = parse(SPEC_EXAMPLE).unwrap();
        assert_eq!(seed.companies.len(), 1);
        let acme = &seed.companies[0];
        assert_eq!(acme.path, "companies[0]");
        assert_eq!(acme.id, company_id(1_000_000_000_000_000_001));
        assert_eq!(acme.name, "Acme");
        assert_eq!(
            acme.rate_limit,
            RateLimit {
                per_second: Limit::Max(3),
                per_day: Limit::Max(10_000)
            }
        );

        assert_eq!(acme.api_keys.len(), 1);
        let key = &acme.api_keys[0];
        assert_eq!(key.path, "companies[0].apiKeys[0]");
        assert_eq!(key.access_key, "ACMEKEY1");
        assert!(secret::verify(&key.digest, "acme-secret-0123456789"));
        assert_eq!(key.scopes, None);
        assert_eq!(
            key.expires_at,
            Some(Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap())
        );

        let token = &acme.tokens[0];
        assert!(secret::verify(&token.digest, "acme-read-token-0123456789"));
        assert_eq!(token.scopes, vec![Scope::parse(Scope::READ).unwrap()]);
        assert_eq!(token.expires_at, None);

        let access: Vec<_> = acme
            .users
            .iter()
            .map(|u| (u.id, u.calls_access, u.company))
            .collect();
        let owner = acme.id;
        assert_eq!(
            access,
            vec![
                (user_id(234599484848423), CallsAccess::None, owner),
                (user_id(234599484848424), CallsAccess::Own, owner),
                (user_id(234599484848425), CallsAccess::All, owner),
            ]
        );
        assert_eq!(acme.users[0].email_address, "ada@acme.test");

        let call = &acme.calls[0];
        assert_eq!(call.id, call_id(7782342274025937895));
        assert_eq!(call.company, owner);
        assert_eq!(call.title.as_deref(), Some("Discovery"));
        assert_eq!(call.primary_user_id, user_id(234599484848424));
        assert!(call.participant_ids.is_empty());

        assert_eq!(
            acme.shares,
            vec![SeedLink {
                path: "companies[0].shares[0]".to_owned(),
                call: call_id(7782342274025937895),
                user: user_id(234599484848423),
            }]
        );
        assert!(acme.api_grants.is_empty());
        assert!(external_references(&seed).is_empty());
    }

    #[test]
    fn optional_parts_take_their_defaults() {
        let seed = parse(r#"{"companies":[{"id":"5","name":"Bare"}]}"#).unwrap();
        let company = &seed.companies[0];
        assert_eq!(company.rate_limit, RateLimit::default());
        assert!(
            company.users.is_empty() && company.calls.is_empty() && company.api_keys.is_empty()
        );

        let seed = parse(&base().to_string()).unwrap();
        assert_eq!(seed.companies[0].users[0].calls_access, CallsAccess::None);
        assert_eq!(seed.companies[0].calls[0].title, None);

        assert_eq!(parse(r#"{"companies":[]}"#).unwrap().companies, vec![]);
    }

    #[test]
    fn ids_may_be_json_integers_and_are_normalised() {
        let mut seed = base();
        seed["companies"][0]["id"] = json!(7);
        seed["companies"][0]["users"][0]["id"] = json!("0010");
        let parsed = parse(&seed.to_string()).unwrap();
        assert_eq!(parsed.companies[0].id, company_id(7));
        assert_eq!(parsed.companies[0].users[0].id, user_id(10));
    }

    #[test]
    fn rate_limits_accept_positive_integers_and_off() {
        let mut seed = base();
        seed["companies"][0]["rateLimit"] = json!({"perSecond": "off", "perDay": 50});
        let parsed = parse(&seed.to_string()).unwrap();
        assert_eq!(
            parsed.companies[0].rate_limit,
            RateLimit {
                per_second: Limit::Off,
                per_day: Limit::Max(50)
            }
        );

        seed["companies"][0]["rateLimit"] = json!({"perDay": 50});
        let parsed = parse(&seed.to_string()).unwrap();
        assert_eq!(parsed.companies[0].rate_limit.per_second, Limit::Default);

        for bad in [
            json!(0),
            json!(-1),
            json!(1.5),
            json!("on"),
            json!(5_000_000_000u64),
            json!(true),
        ] {
            let message = single_error(|s| {
                s["companies"][0]["rateLimit"] = json!({"perSecond": bad.clone()})
            });
            assert_eq!(
                message,
                format!(
                    "companies[0].rateLimit.perSecond: {bad} is not a rate limit (expected a positive integer or \"off\")"
                )
            );
        }
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let errors = parse("{\n  \"companies\": [\n    {\"id\": \"1\" \"name\": \"x\"}\n  ]\n}")
            .unwrap_err();
        assert_eq!(errors, vec!["line 3, column 16: expected ',' or '}'"]);

        assert_eq!(
            parse("{\"companies\": [").unwrap_err(),
            vec!["line 1, column 15: the file ends inside a list"]
        );
        assert_eq!(
            parse("{} x").unwrap_err(),
            vec!["line 1, column 4: unexpected text after the end of the document"]
        );
        assert_eq!(
            parse("{\"a\": tru}").unwrap_err(),
            vec!["line 1, column 10: expected true, false or null"]
        );
        assert_eq!(parse("  \n").unwrap_err().len(), 1);
        assert!(parse("").unwrap_err()[0].starts_with("the file is empty"));

        let deep = "[".repeat(1000);
        let message = &parse(&deep).unwrap_err()[0];
        assert!(
            message.ends_with("values are nested too deeply"),
            "{message}"
        );

        // No message carries serde's own wording.
        for text in ["{", "{\"a\" 1}", "[1,]", "\"\\q\""] {
            let message = &parse(text).unwrap_err()[0];
            assert!(message.starts_with("line "), "{message}");
            assert!(
                !message.contains(" at line ")
                    && !message.contains('`')
                    && !message.contains("EOF"),
                "{message}"
            );
        }
    }

    #[test]
    fn a_byte_order_mark_is_ignored() {
        let text = format!("\u{feff}{}", base());
        assert!(parse(&text).is_ok());
    }

    #[test]
    fn the_top_level_must_be_an_object_with_companies() {
        assert_eq!(
            parse("[]").unwrap_err(),
            vec!["a seed is a JSON object such as {\"companies\": []}, not []"]
        );
        assert_eq!(parse("{}").unwrap_err(), vec!["companies: is required"]);
        assert_eq!(
            parse(r#"{"companies": null}"#).unwrap_err(),
            vec!["companies: must not be null"]
        );
        assert_eq!(
            parse(r#"{"companies": {}}"#).unwrap_err(),
            vec!["companies: must be an array, not {}"]
        );
        assert_eq!(
            parse(r#"{"companies": [], "company": []}"#).unwrap_err(),
            vec!["company: unknown field"]
        );
        assert_eq!(
            parse(r#"{"companies": [3]}"#).unwrap_err(),
            vec!["companies[0]: must be an object, not 3"]
        );
    }

    #[test]
    fn bad_ids_are_reported_with_the_id_message() {
        let message = single_error(|s| s["companies"][0]["users"][1]["id"] = json!("12a"));
        assert_eq!(
            message,
            "companies[0].users[1].id: \"12a\" is not a numeric id"
        );

        let message = single_error(|s| s["companies"][0]["id"] = json!("0"));
        assert_eq!(
            message,
            "companies[0].id: \"0\" is not a valid id (ids start at 1)"
        );

        let message =
            single_error(|s| s["companies"][0]["calls"][0]["id"] = json!("9223372036854775808"));
        assert_eq!(
            message,
            "companies[0].calls[0].id: \"9223372036854775808\" is out of range (ids are at most 9223372036854775807)"
        );

        let message =
            single_error(|s| s["companies"][0]["calls"][0]["participantIds"] = json!(["10", -4]));
        assert_eq!(
            message,
            "companies[0].calls[0].participantIds[1]: -4 is not a numeric id"
        );

        let message = single_error(|s| {
            s["companies"][0]["shares"] = json!([{"callId": "100", "userId": 1.5}])
        });
        assert_eq!(
            message,
            "companies[0].shares[0].userId: 1.5 is not a numeric id"
        );
    }

    #[test]
    fn required_fields_null_fields_and_wrong_types() {
        let message = single_error(|s| s["companies"][0]["name"] = Value::Null);
        assert_eq!(message, "companies[0].name: must not be null");

        let message = single_error(|s| {
            s["companies"][0].as_object_mut().unwrap().remove("name");
        });
        assert_eq!(message, "companies[0].name: is required");

        let message = single_error(|s| s["companies"][0]["name"] = json!(5));
        assert_eq!(message, "companies[0].name: must be a string, not 5");

        let message = single_error(|s| s["companies"][0]["name"] = json!("  "));
        assert_eq!(message, "companies[0].name: must not be empty");

        let message = single_error(|s| {
            s["companies"][0]["calls"][0]
                .as_object_mut()
                .unwrap()
                .remove("primaryUserId");
        });
        assert_eq!(message, "companies[0].calls[0].primaryUserId: is required");

        let message = single_error(|s| s["companies"][0]["users"] = json!({"id": "1"}));
        assert_eq!(
            message,
            "companies[0].users: must be an array, not {\"id\":\"1\"}"
        );

        let message = single_error(|s| s["companies"][0]["calls"][0]["title"] = json!(["x"]));
        assert_eq!(
            message,
            "companies[0].calls[0].title: must be a string, not [\"x\"]"
        );

        let message = single_error(|s| s["companies"][0]["name"] = json!("x".repeat(300)));
        assert!(
            message.starts_with("companies[0].name: \"xxxx"),
            "{message}"
        );
        assert!(
            message.ends_with("… is too long (at most 200 characters)"),
            "{message}"
        );
    }

    #[test]
    fn null_optional_fields_mean_absent() {
        let mut seed = base();
        seed["companies"][0]["rateLimit"] = Value::Null;
        seed["companies"][0]["apiKeys"] = Value::Null;
        seed["companies"][0]["users"][0]["callsAccess"] = Value::Null;
        seed["companies"][0]["calls"][0]["title"] = Value::Null;
        let parsed = parse(&seed.to_string()).unwrap();
        assert_eq!(parsed.companies[0].users[0].calls_access, CallsAccess::None);
    }

    #[test]
    fn unknown_fields_are_typos() {
        let message = single_error(|s| s["companies"][0]["apiKey"] = json!([]));
        assert_eq!(message, "companies[0].apiKey: unknown field");

        let message = single_error(|s| s["companies"][0]["users"][0]["email"] = json!("x@y"));
        assert_eq!(message, "companies[0].users[0].email: unknown field");

        let message = single_error(|s| s["companies"][0]["calls"][0]["primary user"] = json!("1"));
        assert_eq!(
            message,
            "companies[0].calls[0][\"primary user\"]: unknown field"
        );
    }

    #[test]
    fn enum_values_and_emails() {
        let message =
            single_error(|s| s["companies"][0]["users"][0]["callsAccess"] = json!("admin"));
        assert_eq!(
            message,
            "companies[0].users[0].callsAccess: \"admin\" is not a calls access level (expected all, own or none)"
        );

        for bad in ["", "ada", "ada @x.test"] {
            let message =
                single_error(|s| s["companies"][0]["users"][0]["emailAddress"] = json!(bad));
            assert_eq!(
                message,
                format!(
                    "companies[0].users[0].emailAddress: {:?} is not an email address",
                    bad
                )
            );
        }
    }

    #[test]
    fn credentials_are_checked_and_never_quoted_back() {
        let message = single_error(|s| {
            s["companies"][0]["apiKeys"] =
                json!([{"accessKey": "A:B", "accessKeySecret": "s3cret-s3cret-s3cret"}]);
        });
        assert_eq!(
            message,
            "companies[0].apiKeys[0].accessKey: \"A:B\" is not an access key (1-128 printable characters, no ':' or spaces)"
        );

        let message = single_error(|s| {
            s["companies"][0]["apiKeys"] =
                json!([{"accessKey": "K1", "accessKeySecret": "short secret"}]);
        });
        assert_eq!(
            message,
            "companies[0].apiKeys[0].accessKeySecret: must be 16-512 printable characters without spaces"
        );

        let message = single_error(|s| {
            s["companies"][0]["apiKeys"] =
                json!([{"accessKey": "K1", "accessKeySecret": 1234567890123456789u64}]);
        });
        assert_eq!(
            message,
            "companies[0].apiKeys[0].accessKeySecret: must be a string"
        );

        let message = single_error(|s| {
            s["companies"][0]["apiKeys"] = json!([{"accessKeySecret": "s3cret-s3cret-s3cret"}])
        });
        assert_eq!(message, "companies[0].apiKeys[0].accessKey: is required");

        let message = single_error(|s| {
            s["companies"][0]["apiKeys"] = json!([{"accessKey": "K1", "accessKeySecret": "s3cret-s3cret-s3cret", "expiresAt": "tomorrow"}]);
        });
        assert_eq!(
            message,
            "companies[0].apiKeys[0].expiresAt: \"tomorrow\" is not an RFC 3339 date-time such as \"2030-01-01T00:00:00Z\""
        );

        let message = single_error(|s| {
            s["companies"][0]["tokens"] = json!([{"token": "tok-tok-tok-tok-tok"}])
        });
        assert_eq!(message, "companies[0].tokens[0].scopes: is required");

        let message = single_error(|s| {
            s["companies"][0]["tokens"] = json!([{"token": "tok-tok-tok-tok-tok", "scopes": []}])
        });
        assert_eq!(message, "companies[0].tokens[0].scopes: must not be empty");

        let message = single_error(|s| {
            s["companies"][0]["tokens"] = json!([{"token": "tok-tok-tok-tok-tok", "scopes": ["api:call-user-access:read", "a b"]}]);
        });
        assert_eq!(
            message,
            "companies[0].tokens[0].scopes[1]: \"a b\" is not a scope (printable characters without spaces, such as \"api:call-user-access:read\")"
        );

        let message = single_error(|s| {
            s["companies"][0]["apiKeys"] = json!([{
                "accessKey": "K1",
                "accessKeySecret": "s3cret-s3cret-s3cret",
                "scopes": ["bogus:scope"]
            }]);
        });
        assert_eq!(
            message,
            "companies[0].apiKeys[0].scopes[0]: \"bogus:scope\" is not one of Gong's scopes, such as \"api:call-user-access:read\" (`callaccess key create --help` lists them all)"
        );

        let message = single_error(|s| {
            s["companies"][0]["tokens"] = json!([{"token": "too short", "scopes": [Scope::READ]}])
        });
        assert_eq!(
            message,
            "companies[0].tokens[0].token: must be 16-512 printable characters without spaces"
        );
    }

    #[test]
    fn api_keys_may_carry_scopes() {
        let mut seed = base();
        seed["companies"][0]["apiKeys"] = json!([{
            "accessKey": "K1",
            "accessKeySecret": "s3cret-s3cret-s3cret",
            "scopes": ["api:call-user-access:read", "api:call-user-access:read"]
        }]);
        let parsed = parse(&seed.to_string()).unwrap();
        assert_eq!(
            parsed.companies[0].api_keys[0].scopes,
            Some(vec![Scope::parse(Scope::READ).unwrap()])
        );
    }

    #[test]
    fn duplicates_are_reported_at_the_second_occurrence() {
        let message = single_error(|s| {
            s["companies"][0]["users"] = json!([
                {"id": "5", "emailAddress": "a@x"},
                {"id": "11", "emailAddress": "b@x"},
                {"id": "0005", "emailAddress": "c@x"}
            ]);
        });
        assert_eq!(
            message,
            "companies[0].users[2].id: \"5\" appears twice (first at companies[0].users[0])"
        );

        let message = single_error(|s| {
            s["companies"][0]["calls"] =
                json!([{"id": "100", "primaryUserId": "11"}, {"id": "100", "primaryUserId": "10"}]);
        });
        assert_eq!(
            message,
            "companies[0].calls[1].id: \"100\" appears twice (first at companies[0].calls[0])"
        );

        let message = single_error(|s| {
            s["companies"][0]["calls"][0]["participantIds"] = json!(["10", "11", "10"])
        });
        assert_eq!(
            message,
            "companies[0].calls[0].participantIds[2]: \"10\" appears twice (first at companies[0].calls[0].participantIds[0])"
        );

        let mut seed = base();
        let mut other = seed["companies"][0].clone();
        other["name"] = json!("Acme again");
        seed["companies"].as_array_mut().unwrap().push(other);
        assert_eq!(
            errors_of(&seed),
            vec!["companies[1].id: \"1\" appears twice (first at companies[0])"]
        );
    }

    #[test]
    fn user_and_call_ids_may_repeat_across_companies() {
        let mut seed = base();
        let mut other = seed["companies"][0].clone();
        other["id"] = json!("2");
        seed["companies"].as_array_mut().unwrap().push(other);
        let parsed = parse(&seed.to_string()).unwrap();
        assert_eq!(parsed.companies[1].users[0].company, company_id(2));
        assert_eq!(parsed.companies[1].calls[0].company, company_id(2));
    }

    #[test]
    fn access_keys_and_tokens_are_unique_across_the_file() {
        let key = json!({"accessKey": "SHARED", "accessKeySecret": "s3cret-s3cret-s3cret"});
        let token = json!({"token": "tok-tok-tok-tok-tok", "scopes": [Scope::READ]});
        let mut seed = base();
        seed["companies"][0]["apiKeys"] = json!([key]);
        seed["companies"][0]["tokens"] = json!([token, token]);
        let mut other = json!({"id": "2", "name": "Other", "apiKeys": [key]});
        other["apiKeys"][0]["accessKeySecret"] = json!("another-secret-0000");
        seed["companies"].as_array_mut().unwrap().push(other);
        assert_eq!(
            errors_of(&seed),
            vec![
                "companies[0].tokens[1].token: appears twice (first at companies[0].tokens[0])",
                "companies[1].apiKeys[0].accessKey: \"SHARED\" appears twice (first at companies[0].apiKeys[0])",
            ]
        );
    }

    #[test]
    fn repeated_shares_and_grants_are_kept_once() {
        let mut seed = base();
        seed["companies"][0]["shares"] = json!([
            {"callId": "100", "userId": "10"},
            {"callId": "100", "userId": "10"},
            {"callId": "100", "userId": "11"}
        ]);
        seed["companies"][0]["apiGrants"] =
            json!([{"callId": "100", "userId": "10"}, {"callId": "0100", "userId": "010"}]);
        let parsed = parse(&seed.to_string()).unwrap();
        let shares: Vec<_> = parsed.companies[0]
            .shares
            .iter()
            .map(|l| (l.path.as_str(), l.user))
            .collect();
        assert_eq!(
            shares,
            vec![
                ("companies[0].shares[0]", user_id(10)),
                ("companies[0].shares[2]", user_id(11))
            ]
        );
        assert_eq!(parsed.companies[0].api_grants.len(), 1);
        assert_eq!(parsed.summary().shares, 2);
    }

    #[test]
    fn many_problems_are_reported_at_once_in_file_order() {
        let seed = json!({"companies": [{
            "id": "x1",
            "name": null,
            "rateLimit": {"perSecond": 0, "perMinute": 3},
            "users": [
                {"id": "10", "emailAddress": "nobody", "callsAccess": "admin"},
                {"emailAddress": "b@x"}
            ],
            "calls": [{"id": "100", "primaryUserId": "1x", "participantIds": "10"}],
            "shares": [{"callId": "100"}],
            "apiGrants": [{"callId": "100", "userId": "10", "why": "test"}]
        }]});
        assert_eq!(
            errors_of(&seed),
            vec![
                "companies[0].id: \"x1\" is not a numeric id",
                "companies[0].name: must not be null",
                "companies[0].rateLimit.perMinute: unknown field",
                "companies[0].rateLimit.perSecond: 0 is not a rate limit (expected a positive integer or \"off\")",
                "companies[0].users[0].emailAddress: \"nobody\" is not an email address",
                "companies[0].users[0].callsAccess: \"admin\" is not a calls access level (expected all, own or none)",
                "companies[0].users[1].id: is required",
                "companies[0].calls[0].primaryUserId: \"1x\" is not a numeric id",
                "companies[0].calls[0].participantIds: must be an array, not \"10\"",
                "companies[0].shares[0].userId: is required",
                "companies[0].apiGrants[0].why: unknown field",
            ]
        );
    }

    #[test]
    fn problems_in_several_companies_are_all_reported() {
        let seed = json!({"companies": [
            {"id": "1", "name": "A", "users": [{"id": "a", "emailAddress": "a@x"}]},
            {"id": "2", "name": "B", "users": [{"id": "b", "emailAddress": "b@x"}]}
        ]});
        assert_eq!(
            errors_of(&seed),
            vec![
                "companies[0].users[0].id: \"a\" is not a numeric id",
                "companies[1].users[0].id: \"b\" is not a numeric id",
            ]
        );
    }

    #[test]
    fn the_number_of_messages_is_capped() {
        let users: Vec<Value> = (0..500)
            .map(|i| json!({"id": format!("x{i}"), "emailAddress": "a@x"}))
            .collect();
        let seed = json!({"companies": [{"id": "1", "name": "A", "users": users}]});
        let errors = errors_of(&seed);
        assert_eq!(errors.len(), MAX_MESSAGES + 1);
        assert_eq!(
            errors[0],
            "companies[0].users[0].id: \"x0\" is not a numeric id"
        );
        assert_eq!(errors[MAX_MESSAGES], "… and 400 more problems not shown");
    }

    #[test]
    fn references_outside_the_file_are_listed_with_their_paths() {
        let seed = json!({"companies": [
            {
                "id": "1",
                "name": "A",
                "users": [{"id": "10", "emailAddress": "a@x"}],
                "calls": [
                    {"id": "100", "primaryUserId": "10", "participantIds": ["10", "12"]},
                    {"id": "101", "primaryUserId": "13"}
                ],
                "shares": [{"callId": "100", "userId": "10"}, {"callId": "100", "userId": "14"}],
                "apiGrants": [{"callId": "200", "userId": "10"}]
            },
            // User 10 exists only in company 1; company 2 must find it in the database.
            {"id": "2", "name": "B", "apiGrants": [{"callId": "100", "userId": "10"}]}
        ]});
        let parsed = parse(&seed.to_string()).unwrap();
        let found: Vec<(String, CompanyId, ReferenceTarget)> = external_references(&parsed)
            .into_iter()
            .map(|r| (r.path, r.company, r.target))
            .collect();
        let (one, two) = (company_id(1), company_id(2));
        assert_eq!(
            found,
            vec![
                (
                    "companies[0].calls[0].participantIds[1]".to_owned(),
                    one,
                    ReferenceTarget::User(user_id(12))
                ),
                (
                    "companies[0].calls[1].primaryUserId".to_owned(),
                    one,
                    ReferenceTarget::User(user_id(13))
                ),
                (
                    "companies[0].shares[1].userId".to_owned(),
                    one,
                    ReferenceTarget::User(user_id(14))
                ),
                (
                    "companies[0].apiGrants[0].callId".to_owned(),
                    one,
                    ReferenceTarget::Call(call_id(200))
                ),
                (
                    "companies[1].apiGrants[0].callId".to_owned(),
                    two,
                    ReferenceTarget::Call(call_id(100))
                ),
                (
                    "companies[1].apiGrants[0].userId".to_owned(),
                    two,
                    ReferenceTarget::User(user_id(10))
                ),
            ]
        );
        assert_eq!(
            parsed.external_references()[2].missing_message(),
            "companies[0].shares[1].userId: user \"14\" does not exist in company \"1\""
        );
    }

    /// JSON values built from the seed's own field names, so that random
    /// input reaches deep into the walker instead of failing at the top.
    fn seedish() -> impl Strategy<Value = Value> {
        let names = prop::sample::select(
            [
                "companies",
                "id",
                "name",
                "rateLimit",
                "perSecond",
                "perDay",
                "apiKeys",
                "accessKey",
                "accessKeySecret",
                "scopes",
                "expiresAt",
                "tokens",
                "token",
                "users",
                "emailAddress",
                "callsAccess",
                "calls",
                "title",
                "primaryUserId",
                "participantIds",
                "shares",
                "apiGrants",
                "callId",
                "userId",
                "other",
            ]
            .as_slice(),
        );
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>()
                .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
            prop_oneof![
                Just("1".to_owned()),
                Just("all".to_owned()),
                Just("off".to_owned()),
                Just("a@b".to_owned()),
                Just("2030-01-01T00:00:00Z".to_owned()),
                Just("0123456789abcdef-secret".to_owned()),
                "[0-9]{1,21}",
                ".{0,30}",
            ]
            .prop_map(Value::from),
        ];
        leaf.prop_recursive(5, 64, 6, move |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map(names.clone(), inner, 0..6).prop_map(
                    |m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
                ),
            ]
        })
    }

    proptest! {
        #[test]
        fn parse_never_panics_on_text(text in ".{0,200}") {
            let _ = parse(&text);
        }

        #[test]
        fn parse_never_panics_on_seed_shaped_values(value in seedish()) {
            let wrapped = json!({"companies": [value.clone()]});
            for candidate in [value, wrapped] {
                match parse(&candidate.to_string()) {
                    Ok(seed) => {
                        let _ = external_references(&seed);
                    }
                    Err(errors) => {
                        prop_assert!(!errors.is_empty());
                        prop_assert!(errors.len() <= MAX_MESSAGES + 1);
                    }
                }
            }
        }
    }
}
