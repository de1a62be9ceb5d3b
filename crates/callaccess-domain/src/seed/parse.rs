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
    ExternalReference, ReferenceTarget, Seed, SeedApiKey, SeedAssignment, SeedCompany, SeedLink,
    SeedToken,
};
use crate::ids::{quote, CallId, CompanyId, IdError, ProfileId, UserId, WorkspaceId};
use crate::model::{
    Call, CallDetails, CallsAccess, CallsRule, Limit, Party, Profile, RateLimit, Scope,
    SecretDigest, Timestamp, User, Workspace, CALL_DIRECTIONS as DIRECTIONS, CALL_MEDIA as MEDIA,
    CALL_SCOPES, PROFILE_BOOLEAN_FIELDS, PROFILE_OBJECT_FIELDS,
};
use crate::secret;

/// More messages than this bury the first (usually causal) ones; a file with
/// thousands of rows sharing one mistake would otherwise print thousands.
const MAX_MESSAGES: usize = 100;

/// Strings longer than this are refused before any finer check, so that a
/// message never echoes a huge value back.
const MAX_TEXT: usize = 200;

/// The limit of a call's free text (title, `customData`, URLs,
/// `clientUniqueId`, …): addCall keeps these as given, so an export of
/// what it stored must import again. Such a value is never quoted back.
const MAX_KEPT_TEXT: usize = 1 << 20;

/// A digest is given as the 64 hex digits of SHA-256.
const DIGEST_HEX_LEN: usize = 64;

const ROOT_FIELDS: &[&str] = &["companies"];
const COMPANY_FIELDS: &[&str] = &[
    "id",
    "name",
    "rateLimit",
    "createdAt",
    "apiKeys",
    "tokens",
    "workspaces",
    "profiles",
    "users",
    "calls",
    "shares",
    "apiGrants",
];
const RATE_LIMIT_FIELDS: &[&str] = &["perSecond", "perDay"];
const API_KEY_FIELDS: &[&str] = &[
    "accessKey",
    "accessKeySecret",
    "accessKeySecretDigest",
    "scopes",
    "expiresAt",
    "createdAt",
    "revokedAt",
];
const TOKEN_FIELDS: &[&str] = &[
    "token",
    "tokenDigest",
    "id",
    "scopes",
    "expiresAt",
    "createdAt",
    "revokedAt",
];
const WORKSPACE_FIELDS: &[&str] = &["id", "name", "description"];
const USER_FIELDS: &[&str] = &[
    "id",
    "emailAddress",
    "callsAccess",
    "firstName",
    "lastName",
    "title",
    "managerId",
    "active",
    "profileIds",
    "created",
];
const CALL_FIELDS: &[&str] = &[
    "id",
    "title",
    "primaryUserId",
    "participantIds",
    "workspaceId",
    "isPrivate",
    "started",
    "clientUniqueId",
    "url",
    "scheduled",
    "duration",
    "direction",
    "system",
    "scope",
    "media",
    "language",
    "sdrDisposition",
    "customData",
    "purpose",
    "meetingUrl",
    "calendarEventId",
    "parties",
];
const CALLS_ACCESS_FIELDS: &[&str] = &["permissionLevel", "teamLeadIds"];

/// Every field of a `PermissionProfileDTO` but `id`.
fn profile_dto_fields() -> Vec<&'static str> {
    let mut fields = vec!["name", "description", "callsAccess"];
    fields.extend_from_slice(PROFILE_OBJECT_FIELDS);
    fields.extend_from_slice(PROFILE_BOOLEAN_FIELDS);
    fields
}

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
        let workspaces: HashSet<WorkspaceId> = company.workspaces.iter().map(|w| w.id).collect();
        let profiles: HashSet<ProfileId> = company.profiles.iter().map(|p| p.id).collect();
        let mut directory_ref = |path: String, target: ReferenceTarget| {
            let defined = match target {
                ReferenceTarget::User(_) | ReferenceTarget::Call(_) => true,
                ReferenceTarget::Workspace(w) => workspaces.contains(&w),
                ReferenceTarget::Profile(p) => profiles.contains(&p),
            };
            if !defined {
                found.push(ExternalReference {
                    path,
                    company: company.id,
                    target,
                });
            }
        };
        for (i, profile) in company.profiles.iter().enumerate() {
            directory_ref(
                format!("{}.profiles[{i}].workspaceId", company.path),
                ReferenceTarget::Workspace(profile.workspace),
            );
        }
        for assignment in &company.assignments {
            directory_ref(
                assignment.path.clone(),
                ReferenceTarget::Profile(assignment.profile),
            );
        }
        for (i, call) in company.calls.iter().enumerate() {
            if let Some(workspace) = call.workspace {
                directory_ref(
                    format!("{}.calls[{i}].workspaceId", company.path),
                    ReferenceTarget::Workspace(workspace),
                );
            }
        }
        let mut user_ref = |path: String, user: UserId| {
            if !users.contains(&user) {
                found.push(ExternalReference {
                    path,
                    company: company.id,
                    target: ReferenceTarget::User(user),
                });
            }
        };
        for (i, profile) in company.profiles.iter().enumerate() {
            for (k, lead) in team_lead_ids(profile).into_iter().enumerate() {
                user_ref(
                    format!(
                        "{}.profiles[{i}].callsAccess.teamLeadIds[{k}]",
                        company.path
                    ),
                    lead,
                );
            }
        }
        for (i, user) in company.users.iter().enumerate() {
            if let Some(manager) = user.manager_id {
                user_ref(format!("{}.users[{i}].managerId", company.path), manager);
            }
        }
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

/// The profile's `callsAccess.teamLeadIds` as the file gives them, each at
/// its index (the parsed rule keeps them sorted).
fn team_lead_ids(profile: &Profile) -> Vec<UserId> {
    profile
        .fields
        .get("callsAccess")
        .and_then(|access| access.get("teamLeadIds"))
        .and_then(Value::as_array)
        .map(|ids| {
            ids.iter()
                .filter_map(|id| UserId::from_json(id).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The fields of a profile given outside a seed file: see
/// [`super::profile_fields`].
pub(super) fn profile_fields(value: &Value) -> Result<Map<String, Value>, Vec<String>> {
    let mut walker = Walker::default();
    let mut allowed = profile_dto_fields();
    allowed.push("id");
    let fields = walker
        .object(value, "", &allowed)
        .and_then(|map| walker.dto_fields(map, "", &[], &[]));
    match fields {
        Some(fields) if walker.messages.is_empty() => Ok(fields),
        _ => Err(walker.finish()),
    }
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
    /// Token id (handle) → path of the token entry that first gave it.
    token_ids: HashMap<String, String>,
    /// Workspace id → path of the workspace that first used it, across the
    /// file (workspace ids are unique across the database).
    workspace_ids: HashMap<WorkspaceId, String>,
    /// Profile id → path of the profile that first used it, across the file.
    profile_ids: HashMap<ProfileId, String>,
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

    /// An optional string field: absent and null both mean `None`.
    fn opt_string(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Option<String>> {
        match map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(v) => self
                .string(v, &field_path(path, key))
                .map(|s| Some(s.to_owned())),
        }
    }

    /// An optional string field that must be one of `allowed`.
    fn opt_choice(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        allowed: &[&str],
        what: &str,
    ) -> Option<Option<String>> {
        let value = self.opt_string(map, path, key)?;
        match value {
            Some(v) if !allowed.contains(&v.as_str()) => {
                let (last, rest) = allowed.split_last().unwrap_or((&"", &[]));
                self.report(
                    &field_path(path, key),
                    format_args!(
                        "{} is not {what} (expected {} or {last})",
                        quote(&Value::String(v.clone())),
                        rest.join(", ")
                    ),
                );
                None
            }
            other => Some(other),
        }
    }

    fn opt_bool(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Option<bool>> {
        match map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::Bool(b)) => Some(Some(*b)),
            Some(other) => {
                self.report(
                    &field_path(path, key),
                    format_args!("must be true or false, not {}", quote(other)),
                );
                None
            }
        }
    }

    /// An optional RFC 3339 date-time field.
    fn opt_time(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Option<Timestamp>> {
        let path = field_path(path, key);
        match map.get(key) {
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

    fn opt_id<T>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        parse: fn(&Value) -> Result<T, IdError>,
    ) -> Option<Option<T>> {
        match map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.id(value, &field_path(path, key), parse).map(Some),
        }
    }

    /// A required string that is not blank.
    fn name(&mut self, map: &Map<String, Value>, path: &str, key: &str) -> Option<String> {
        let name_path = field_path(path, key);
        match self
            .required(map, path, key)
            .and_then(|v| self.string(v, &name_path))
        {
            Some(name) if name.trim().is_empty() => {
                self.report(&name_path, "must not be empty");
                None
            }
            other => other.map(str::to_owned),
        }
    }

    /// A list of ids, each once: a repeated one is refused at its second
    /// place rather than dropped, so later indexes keep pointing at the
    /// file's entries.
    fn id_list<T: Copy + Eq + std::hash::Hash + fmt::Display>(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
        parse: fn(&Value) -> Result<T, IdError>,
    ) -> Option<Vec<T>> {
        let list_path = field_path(path, key);
        let mut ids = Some(Vec::new());
        let mut first_at: HashMap<T, usize> = HashMap::new();
        for (j, item) in self.items(map, path, key).iter().enumerate() {
            let item_path = index_path(&list_path, j);
            match self.id(item, &item_path, parse) {
                Some(id) => match first_at.get(&id) {
                    Some(&k) => {
                        let first = index_path(&list_path, k);
                        self.report(
                            &item_path,
                            format_args!("\"{id}\" appears twice (first at {first})"),
                        );
                        ids = None;
                    }
                    None => {
                        first_at.insert(id, j);
                        if let Some(list) = ids.as_mut() {
                            list.push(id);
                        }
                    }
                },
                None => ids = None,
            }
        }
        ids
    }

    /// Gong's `callsAccess` object: a level, and for `managers-team` the
    /// team leads (any level may carry them; only `managers-team` reads
    /// them).
    fn calls_rule(&mut self, value: &Value, path: &str) -> Option<CallsRule> {
        let map = self.object(value, path, CALLS_ACCESS_FIELDS)?;
        let level_path = field_path(path, "permissionLevel");
        let level = self
            .required(map, path, "permissionLevel")
            .and_then(|v| self.string(v, &level_path))
            .and_then(|s| {
                s.parse::<CallsAccess>()
                    .map_err(|e| self.report(&level_path, e))
                    .ok()
            });
        let leads = self.id_list(map, path, "teamLeadIds", UserId::from_json);
        let mut team_leads = leads?;
        team_leads.sort_unstable();
        Some(CallsRule {
            level: level?,
            team_leads,
        })
    }

    /// The fields of a profile as given, each checked against its type in
    /// Gong's DTO, without `skip` (the fields that are not the DTO's) and
    /// without checking `unchecked` (checked by the caller); null means
    /// absent. An `id` not skipped is refused: the store gives ids.
    fn dto_fields(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        skip: &[&str],
        unchecked: &[&str],
    ) -> Option<Map<String, Value>> {
        let mut fields = Map::new();
        let mut ok = true;
        for (key, value) in map {
            if skip.contains(&key.as_str()) || value.is_null() {
                continue;
            }
            let field = field_path(path, key);
            let fits = match key.as_str() {
                k if unchecked.contains(&k) => true,
                "id" => {
                    self.report(&field, "is given by the store and cannot be set");
                    false
                }
                "name" | "description" => self.string(value, &field).is_some(),
                "callsAccess" => self.calls_rule(value, &field).is_some(),
                k if PROFILE_OBJECT_FIELDS.contains(&k) => {
                    let is_object = value.is_object();
                    if !is_object {
                        self.report(
                            &field,
                            format_args!("must be an object, not {}", quote(value)),
                        );
                    }
                    is_object
                }
                k if PROFILE_BOOLEAN_FIELDS.contains(&k) => {
                    let is_bool = value.is_boolean();
                    if !is_bool {
                        self.report(
                            &field,
                            format_args!("must be true or false, not {}", quote(value)),
                        );
                    }
                    is_bool
                }
                // Reported by `object` already.
                _ => false,
            };
            ok &= fits;
            fields.insert(key.clone(), value.clone());
        }
        ok.then_some(fields)
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

        let created_at = self.opt_time(map, path, "createdAt");

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

        // Workspaces, profiles, users and calls are walked even when the
        // company id is bad, so that their own problems are reported too;
        // they get the company id at the end, once it is known to be valid.
        let mut workspaces: Vec<PendingWorkspace> = Vec::new();
        collect(self, "workspaces", &mut |w, item, p| {
            let Some(workspace) = w.workspace(item, p) else {
                return false;
            };
            if let Some(first) = w.workspace_ids.get(&workspace.id) {
                let first = first.clone();
                w.report(
                    &field_path(p, "id"),
                    format_args!("\"{}\" appears twice (first at {first})", workspace.id),
                );
                return false;
            }
            w.workspace_ids.insert(workspace.id, p.to_owned());
            workspaces.push(workspace);
            true
        });
        let mut profiles: Vec<PendingProfile> = Vec::new();
        collect(self, "profiles", &mut |w, item, p| {
            let Some(profile) = w.profile(item, p) else {
                return false;
            };
            if let Some(first) = w.profile_ids.get(&profile.id) {
                let first = first.clone();
                w.report(
                    &field_path(p, "id"),
                    format_args!("\"{}\" appears twice (first at {first})", profile.id),
                );
                return false;
            }
            w.profile_ids.insert(profile.id, p.to_owned());
            profiles.push(profile);
            true
        });
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
        let mut client_ids: HashMap<String, String> = HashMap::new();
        collect(self, "calls", &mut |w, item, p| match w.call(item, p) {
            Some(call) => {
                if let Some(first) = call_ids.get(&call.id) {
                    w.report(
                        &field_path(p, "id"),
                        format_args!("\"{}\" appears twice (first at {first})", call.id),
                    );
                    return false;
                }
                if let Some(client_id) = &call.client_unique_id {
                    if let Some(first) = client_ids.get(client_id) {
                        w.report(
                            &field_path(p, "clientUniqueId"),
                            format_args!(
                                "{} appears twice (first at {first})",
                                quote(&Value::String(client_id.clone()))
                            ),
                        );
                        return false;
                    }
                    client_ids.insert(client_id.clone(), p.to_owned());
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
        let workspaces = workspaces.into_iter().map(|w| w.build(id)).collect();
        let profiles: Vec<Profile> = profiles.into_iter().map(|p| p.build(id)).collect();
        let mut assignments = Vec::new();
        for (i, user) in users.iter().enumerate() {
            for (k, profile) in user.profile_ids.iter().enumerate() {
                assignments.push(SeedAssignment {
                    path: format!("{path}.users[{i}].profileIds[{k}]"),
                    user: user.id,
                    profile: *profile,
                });
            }
        }
        // Where both profiles are in the file, one per workspace is checked
        // here; the plan checks the rest against the database.
        let homes: HashMap<ProfileId, WorkspaceId> =
            profiles.iter().map(|p| (p.id, p.workspace)).collect();
        let clashes = super::plan::one_per_workspace(&assignments, |profile| {
            Ok::<_, std::convert::Infallible>(homes.get(&profile).copied())
        })
        .unwrap_or_else(|never| match never {});
        if !clashes.is_empty() {
            for clash in clashes {
                self.report("", clash);
            }
            return None;
        }
        let users = users.into_iter().map(|u| u.build(id)).collect();
        let calls = calls.into_iter().map(|c| c.build(id)).collect();
        Some(SeedCompany {
            path: path.to_owned(),
            id,
            name: name?.to_owned(),
            rate_limit: rate_limit?,
            created_at: created_at?,
            api_keys,
            tokens,
            workspaces,
            profiles,
            users,
            assignments,
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

        let digest = self.secret_or_digest(map, path, "accessKeySecret", "accessKeySecretDigest");

        let scopes = match map.get("scopes") {
            None | Some(Value::Null) => Some(None),
            Some(value) => self.scopes(value, &field_path(path, "scopes")).map(Some),
        };
        let expires_at = self.expiry(map, path);
        let created_at = self.opt_time(map, path, "createdAt");
        let revoked_at = self.opt_time(map, path, "revokedAt");
        Some(SeedApiKey {
            path: path.to_owned(),
            access_key: access_key?,
            digest: digest?,
            scopes: scopes?,
            expires_at: expires_at?,
            created_at: created_at?,
            revoked_at: revoked_at?,
        })
    }

    /// The digest of a credential given either in clear (`clear`) or as
    /// the hex of its SHA-256 (`hashed`, as an export writes it), exactly
    /// one of the two. The secret is never quoted back: messages end up in
    /// terminals and logs.
    fn secret_or_digest(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        clear: &str,
        hashed: &str,
    ) -> Option<SecretDigest> {
        match (map.get(clear), map.get(hashed)) {
            (Some(_), Some(_)) => {
                self.report(
                    &field_path(path, hashed),
                    format_args!("give {clear} or {hashed}, not both"),
                );
                None
            }
            (None, Some(value)) => self.hex_digest(value, &field_path(path, hashed)),
            (Some(Value::String(s)), None) => match secret::check_secret(s) {
                Ok(()) => Some(secret::digest(s)),
                Err(e) => {
                    self.report(&field_path(path, clear), e);
                    None
                }
            },
            _ => self.secret_shape(map, path, clear),
        }
    }

    /// A SHA-256 digest as 64 hex digits.
    fn hex_digest(&mut self, value: &Value, path: &str) -> Option<SecretDigest> {
        let parsed = value.as_str().and_then(SecretDigest::from_hex);
        if parsed.is_none() {
            self.report(
                path,
                format_args!(
                    "must be {DIGEST_HEX_LEN} hexadecimal digits (the SHA-256 digest of the secret)"
                ),
            );
        }
        parsed
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
        let given = if map.contains_key("tokenDigest") {
            "tokenDigest"
        } else {
            "token"
        };
        let token_path = field_path(path, given);
        let digest = self
            .secret_or_digest(map, path, "token", "tokenDigest")
            .and_then(|digest| match self.tokens.get(&digest) {
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
            });
        let id = self.token_id(map, path);
        let scopes = self
            .required(map, path, "scopes")
            .and_then(|v| self.scopes(v, &field_path(path, "scopes")));
        let expires_at = self.expiry(map, path);
        let created_at = self.opt_time(map, path, "createdAt");
        let revoked_at = self.opt_time(map, path, "revokedAt");
        Some(SeedToken {
            path: path.to_owned(),
            digest: digest?,
            id: id?,
            scopes: scopes?,
            expires_at: expires_at?,
            created_at: created_at?,
            revoked_at: revoked_at?,
        })
    }

    /// A token's optional `id`: the handle it is listed and revoked by,
    /// once in the file.
    fn token_id(&mut self, map: &Map<String, Value>, path: &str) -> Option<Option<String>> {
        let id_path = field_path(path, "id");
        let id = self.opt_string(map, path, "id")?;
        let Some(id) = id else {
            return Some(None);
        };
        if !secret::is_token_id(&id) {
            self.report(
                &id_path,
                format_args!(
                    "{} is not a token id (1-64 letters, digits, '-' or '_')",
                    quote(&Value::String(id))
                ),
            );
            return None;
        }
        if let Some(first) = self.token_ids.get(&id) {
            let first = first.clone();
            self.report(
                &id_path,
                format_args!("\"{id}\" appears twice (first at {first})"),
            );
            return None;
        }
        self.token_ids.insert(id.clone(), path.to_owned());
        Some(Some(id))
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
            None | Some(Value::Null) => Some(None),
            Some(v) => self.string(v, &access_path).and_then(|s| {
                s.parse::<CallsAccess>()
                    .map(Some)
                    .map_err(|e| self.report(&access_path, e))
                    .ok()
            }),
        };
        let first_name = self.opt_string(map, path, "firstName");
        let last_name = self.opt_string(map, path, "lastName");
        let title = self.opt_string(map, path, "title");
        let manager_id = self.opt_id(map, path, "managerId", UserId::from_json);
        let active = self.opt_bool(map, path, "active");
        let profile_ids = self.id_list(map, path, "profileIds", ProfileId::from_json);
        let created = self.opt_time(map, path, "created");
        Some(PendingUser {
            id: id?,
            email_address: email?,
            calls_access: calls_access?,
            first_name: first_name?,
            last_name: last_name?,
            title: title?,
            manager_id: manager_id?,
            active: active?.unwrap_or(true),
            profile_ids: profile_ids?,
            created: created?,
        })
    }

    fn workspace(&mut self, value: &Value, path: &str) -> Option<PendingWorkspace> {
        let map = self.object(value, path, WORKSPACE_FIELDS)?;
        let id = self.required_id(map, path, "id", WorkspaceId::from_json);
        let name = self.name(map, path, "name");
        let description = self.opt_string(map, path, "description");
        Some(PendingWorkspace {
            id: id?,
            name: name?,
            description: description?,
        })
    }

    fn profile(&mut self, value: &Value, path: &str) -> Option<PendingProfile> {
        let mut allowed = profile_dto_fields();
        allowed.extend(["id", "workspaceId"]);
        let map = self.object(value, path, &allowed)?;
        let id = self.required_id(map, path, "id", ProfileId::from_json);
        let workspace = self.required_id(map, path, "workspaceId", WorkspaceId::from_json);
        let name = self.name(map, path, "name");
        let calls = self
            .required(map, path, "callsAccess")
            .and_then(|v| self.calls_rule(v, &field_path(path, "callsAccess")));
        // The other fields are checked against their types; all are kept.
        let fields = self.dto_fields(map, path, &["id", "workspaceId"], &["name", "callsAccess"]);
        Some(PendingProfile {
            id: id?,
            workspace: workspace?,
            name: name?,
            calls: calls?,
            fields: fields?,
        })
    }

    fn call(&mut self, value: &Value, path: &str) -> Option<PendingCall> {
        let map = self.object(value, path, CALL_FIELDS)?;
        let id = self.required_id(map, path, "id", CallId::from_json);
        let title = self.opt_text(map, path, "title");
        let primary = self.required_id(map, path, "primaryUserId", UserId::from_json);

        // Unlike shares, a repeated participant is refused rather than kept
        // once: dropping it would shift the index of every later participant
        // and make the store's messages point at the wrong entry.
        let participants = self.id_list(map, path, "participantIds", UserId::from_json);
        let workspace = self.opt_id(map, path, "workspaceId", WorkspaceId::from_json);
        let is_private = self.opt_bool(map, path, "isPrivate");
        let started = self.opt_time(map, path, "started");
        let client_unique_id = self.opt_text(map, path, "clientUniqueId");
        let details = self.call_details(map, path);
        let parties = self.parties(map, path);
        Some(PendingCall {
            id: id?,
            title: title?,
            primary_user_id: primary?,
            participant_ids: participants?,
            workspace: workspace?,
            is_private: is_private?.unwrap_or(false),
            started: started?,
            client_unique_id: client_unique_id?,
            details: details?,
            parties: parties?,
        })
    }

    /// A call's `parties`: Gong's `Party` objects, kept as given.
    fn parties(&mut self, map: &Map<String, Value>, path: &str) -> Option<Vec<Party>> {
        let list_path = field_path(path, "parties");
        let mut parties = Some(Vec::new());
        for (i, item) in self.items(map, path, "parties").iter().enumerate() {
            match serde_json::from_value::<Party>(item.clone()) {
                Ok(party) => {
                    if let Some(list) = parties.as_mut() {
                        list.push(party);
                    }
                }
                Err(e) => {
                    self.report(
                        &index_path(&list_path, i),
                        format_args!("is not a party: {}", e.to_string().replace('`', "'")),
                    );
                    parties = None;
                }
            }
        }
        parties
    }

    /// An optional string of free text that is kept as given: up to
    /// [`MAX_KEPT_TEXT`] characters, never quoted back.
    fn opt_text(
        &mut self,
        map: &Map<String, Value>,
        path: &str,
        key: &str,
    ) -> Option<Option<String>> {
        let path = field_path(path, key);
        match map.get(key) {
            None | Some(Value::Null) => Some(None),
            Some(Value::String(s)) if s.chars().count() > MAX_KEPT_TEXT => {
                self.report(
                    &path,
                    format_args!("is too long (at most {MAX_KEPT_TEXT} characters)"),
                );
                None
            }
            Some(Value::String(s)) => Some(Some(s.clone())),
            Some(other) => {
                self.report(
                    &path,
                    format_args!("must be a string, not {}", quote(other)),
                );
                None
            }
        }
    }

    /// The `CallBasicData` fields that decide nothing, kept as given;
    /// Gong's enums are checked.
    fn call_details(&mut self, map: &Map<String, Value>, path: &str) -> Option<CallDetails> {
        let url = self.opt_text(map, path, "url");
        let scheduled = match self.opt_time(map, path, "scheduled") {
            Some(_) => self.opt_string(map, path, "scheduled"),
            None => None,
        };
        let duration = match map.get("duration") {
            None | Some(Value::Null) => Some(None),
            Some(value) => match value.as_i64().filter(|d| *d >= 0) {
                Some(seconds) => Some(Some(seconds)),
                None => {
                    self.report(
                        &field_path(path, "duration"),
                        format_args!(
                            "{} is not a duration (whole seconds, 0 or more)",
                            quote(value)
                        ),
                    );
                    None
                }
            },
        };
        let direction = self.opt_choice(map, path, "direction", DIRECTIONS, "a call direction");
        let system = self.opt_text(map, path, "system");
        let scope = self.opt_choice(map, path, "scope", CALL_SCOPES, "a call scope");
        let media = self.opt_choice(map, path, "media", MEDIA, "a media type");
        let language = self.opt_text(map, path, "language");
        let sdr_disposition = self.opt_text(map, path, "sdrDisposition");
        let custom_data = self.opt_text(map, path, "customData");
        let purpose = self.opt_text(map, path, "purpose");
        let meeting_url = self.opt_text(map, path, "meetingUrl");
        let calendar_event_id = self.opt_text(map, path, "calendarEventId");
        Some(CallDetails {
            url: url?,
            scheduled: scheduled?,
            duration: duration?,
            direction: direction?,
            system: system?,
            scope: scope?,
            media: media?,
            language: language?,
            sdr_disposition: sdr_disposition?,
            custom_data: custom_data?,
            purpose: purpose?,
            meeting_url: meeting_url?,
            calendar_event_id: calendar_event_id?,
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
    calls_access: Option<CallsAccess>,
    first_name: Option<String>,
    last_name: Option<String>,
    title: Option<String>,
    manager_id: Option<UserId>,
    active: bool,
    profile_ids: Vec<ProfileId>,
    /// `created`, as an export writes it; `None` means now.
    created: Option<Timestamp>,
}

impl PendingUser {
    fn build(self, company: CompanyId) -> User {
        User {
            calls_access: self.calls_access,
            first_name: self.first_name,
            last_name: self.last_name,
            title: self.title,
            manager_id: self.manager_id,
            active: self.active,
            created: self.created,
            ..User::new(company, self.id, self.email_address)
        }
    }
}

struct PendingWorkspace {
    id: WorkspaceId,
    name: String,
    description: Option<String>,
}

impl PendingWorkspace {
    fn build(self, company: CompanyId) -> Workspace {
        Workspace {
            company,
            id: self.id,
            name: self.name,
            description: self.description,
        }
    }
}

struct PendingProfile {
    id: ProfileId,
    workspace: WorkspaceId,
    name: String,
    calls: CallsRule,
    fields: Map<String, Value>,
}

impl PendingProfile {
    fn build(self, company: CompanyId) -> Profile {
        Profile {
            company,
            workspace: self.workspace,
            id: self.id,
            name: self.name,
            calls: self.calls,
            fields: self.fields,
        }
    }
}

struct PendingCall {
    id: CallId,
    title: Option<String>,
    primary_user_id: UserId,
    participant_ids: Vec<UserId>,
    workspace: Option<WorkspaceId>,
    is_private: bool,
    started: Option<Timestamp>,
    client_unique_id: Option<String>,
    details: CallDetails,
    parties: Vec<Party>,
}

impl PendingCall {
    fn build(self, company: CompanyId) -> Call {
        Call {
            title: self.title,
            participant_ids: self.participant_ids,
            workspace: self.workspace,
            is_private: self.is_private,
            started: self.started,
            client_unique_id: self.client_unique_id,
            details: self.details,
            parties: self.parties,
            ..Call::new(company, self.id, self.primary_user_id)
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
            .map(|u| (u.id, u.calls_access.unwrap_or_default(), u.company))
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
        // No `callsAccess`: the user's profiles are left alone (a new user
        // has none, which opens nothing, as `none` did).
        let ada = &seed.companies[0].users[0];
        assert_eq!(ada.calls_access, None);
        assert_eq!(
            (ada.manager_id, ada.active, &ada.first_name),
            (None, true, &None)
        );
        let call = &seed.companies[0].calls[0];
        assert_eq!(call.title, None);
        assert_eq!(
            (call.workspace, call.is_private, call.started),
            (None, false, None)
        );
        assert_eq!(call.details, CallDetails::default());
        assert!(seed.companies[0].workspaces.is_empty() && seed.companies[0].profiles.is_empty());

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
        assert_eq!(parsed.companies[0].users[0].calls_access, None);
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
            "companies[0].users[0].callsAccess: \"admin\" is not a calls access level (expected all, managers-team, report-to-them, own or none)"
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
                "companies[0].users[0].callsAccess: \"admin\" is not a calls access level (expected all, managers-team, report-to-them, own or none)",
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

    /// The directory example of the seed specification, verbatim.
    const DIRECTORY_EXAMPLE: &str = r#"{
  "companies": [
    {
      "id": "1000000000000000001",
      "name": "Acme",
      "workspaces": [ { "id": "623457276584334", "name": "Sales", "description": "Sales team" } ],
      "profiles": [
        { "id": "3843152912968920037", "workspaceId": "623457276584334", "name": "Managers",
          "callsAccess": { "permissionLevel": "report-to-them", "teamLeadIds": [] },
          "scoreCalls": true }
      ],
      "users": [
        { "id": "234599484848424", "emailAddress": "bob@acme.test", "firstName": "Bob",
          "managerId": "234599484848425", "active": true, "profileIds": ["3843152912968920037"] }
      ],
      "calls": [
        { "id": "7782342274025937895", "workspaceId": "623457276584334", "title": "Discovery",
          "primaryUserId": "234599484848424", "participantIds": [], "isPrivate": false,
          "started": "2026-11-02T15:00:00Z", "direction": "Conference" }
      ]
    }
  ]
}"#;

    fn workspace_id(n: i64) -> WorkspaceId {
        WorkspaceId::from_i64(n).unwrap()
    }
    fn profile_id(n: i64) -> ProfileId {
        ProfileId::from_i64(n).unwrap()
    }

    /// `base()` with a workspace 5, a profile 50 in it, and user 10 holding it.
    fn directory() -> Value {
        let mut seed = base();
        seed["companies"][0]["workspaces"] = json!([{"id": "5", "name": "Sales"}]);
        seed["companies"][0]["profiles"] = json!([{
            "id": "50", "workspaceId": "5", "name": "Leads",
            "callsAccess": {"permissionLevel": "managers-team", "teamLeadIds": ["11", "10"]},
            "scoreCalls": true, "dealsAccess": {"permissionLevel": "all"}
        }]);
        seed["companies"][0]["users"][0]["profileIds"] = json!(["50"]);
        seed
    }

    fn directory_error(edit: impl FnOnce(&mut Value)) -> String {
        let mut seed = directory();
        edit(&mut seed);
        let errors = errors_of(&seed);
        assert_eq!(errors.len(), 1, "{errors:#?}");
        errors.into_iter().next().unwrap()
    }

    #[test]
    fn the_directory_example_parses_with_every_field() {
        let seed = parse(DIRECTORY_EXAMPLE).unwrap();
        let acme = &seed.companies[0];
        let owner = acme.id;
        assert_eq!(
            acme.workspaces,
            vec![Workspace {
                company: owner,
                id: workspace_id(623457276584334),
                name: "Sales".to_owned(),
                description: Some("Sales team".to_owned()),
            }]
        );
        let profile = &acme.profiles[0];
        assert_eq!(profile.id, profile_id(3843152912968920037));
        assert_eq!(profile.workspace, workspace_id(623457276584334));
        assert_eq!(profile.name, "Managers");
        assert_eq!(profile.calls.level, CallsAccess::ReportToThem);
        // Every field as given, `id` and the seed's `workspaceId` excepted.
        assert_eq!(
            Value::Object(profile.fields.clone()),
            json!({"name": "Managers",
                   "callsAccess": {"permissionLevel": "report-to-them", "teamLeadIds": []},
                   "scoreCalls": true})
        );
        assert_eq!(profile.to_dto()["id"], "3843152912968920037");

        let bob = &acme.users[0];
        assert_eq!(bob.first_name.as_deref(), Some("Bob"));
        assert_eq!(bob.manager_id, Some(user_id(234599484848425)));
        assert!(bob.active);
        assert_eq!(bob.calls_access, None);
        assert_eq!(
            acme.assignments,
            vec![SeedAssignment {
                path: "companies[0].users[0].profileIds[0]".to_owned(),
                user: bob.id,
                profile: profile.id,
            }]
        );

        let call = &acme.calls[0];
        assert_eq!(call.workspace, Some(workspace_id(623457276584334)));
        assert!(!call.is_private);
        assert_eq!(
            call.started,
            Some(Timestamp::parse_rfc3339("2026-11-02T15:00:00Z").unwrap())
        );
        assert_eq!(call.details.direction.as_deref(), Some("Conference"));

        // The manager is not in the file: the database must have them.
        let references: Vec<String> = external_references(&seed)
            .into_iter()
            .map(|r| r.path)
            .collect();
        assert_eq!(references, vec!["companies[0].users[0].managerId"]);
        assert_eq!(seed.summary().workspaces, 1);
        assert_eq!(seed.summary().profiles, 1);
    }

    #[test]
    fn users_and_calls_take_gongs_other_fields() {
        let mut seed = directory();
        seed["companies"][0]["users"][1] = json!({
            "id": "11", "emailAddress": "bob@acme.test", "callsAccess": "own",
            "firstName": "Bob", "lastName": "Loblaw", "title": "AE", "managerId": "10",
            "active": false
        });
        seed["companies"][0]["calls"][0] = json!({
            "id": "100", "primaryUserId": "11", "workspaceId": "5", "isPrivate": true,
            "started": "2026-11-02T15:00:00+02:00", "direction": "Outbound", "purpose": "Demo",
            "clientUniqueId": "pbx-1", "duration": 460, "scope": "External", "media": "Video",
            "url": "https://app.gong.io/call?id=100", "scheduled": "2026-11-02T13:00:00Z",
            "system": "Zoom", "language": "eng", "sdrDisposition": "Got the gatekeeper",
            "customData": "x", "meetingUrl": "https://zoom.us/j/1", "calendarEventId": "e@x"
        });
        let parsed = parse(&seed.to_string()).unwrap();
        let bob = &parsed.companies[0].users[1];
        assert_eq!(bob.full_name().as_deref(), Some("Bob Loblaw"));
        assert_eq!(bob.title.as_deref(), Some("AE"));
        assert_eq!(bob.manager_id, Some(user_id(10)));
        assert!(!bob.active);
        assert_eq!(bob.calls_access, Some(CallsAccess::Own));
        let call = &parsed.companies[0].calls[0];
        assert!(call.is_private);
        assert_eq!(call.started.map(Timestamp::unix), Some(1_793_624_400));
        assert_eq!(call.client_unique_id.as_deref(), Some("pbx-1"));
        assert_eq!(
            call.details,
            CallDetails {
                url: Some("https://app.gong.io/call?id=100".to_owned()),
                scheduled: Some("2026-11-02T13:00:00Z".to_owned()),
                duration: Some(460),
                direction: Some("Outbound".to_owned()),
                system: Some("Zoom".to_owned()),
                scope: Some("External".to_owned()),
                media: Some("Video".to_owned()),
                language: Some("eng".to_owned()),
                sdr_disposition: Some("Got the gatekeeper".to_owned()),
                custom_data: Some("x".to_owned()),
                purpose: Some("Demo".to_owned()),
                meeting_url: Some("https://zoom.us/j/1".to_owned()),
                calendar_event_id: Some("e@x".to_owned()),
            }
        );
        // Team leads are kept sorted in the rule, as given in the fields.
        let profile = &parsed.companies[0].profiles[0];
        assert_eq!(profile.calls.team_leads, vec![user_id(10), user_id(11)]);
        assert_eq!(
            profile.fields["callsAccess"]["teamLeadIds"],
            json!(["11", "10"])
        );
        assert_eq!(
            profile.fields["dealsAccess"],
            json!({"permissionLevel": "all"})
        );
        assert!(external_references(&parsed).is_empty());
    }

    #[test]
    fn directory_fields_are_checked_with_their_paths() {
        type Edit = Box<dyn FnOnce(&mut Value)>;
        let cases: Vec<(Edit, &str)> = vec![
            (
                Box::new(|s| s["companies"][0]["users"][0]["managerId"] = json!("1x")),
                "companies[0].users[0].managerId: \"1x\" is not a numeric id",
            ),
            (
                Box::new(|s| s["companies"][0]["users"][0]["active"] = json!("yes")),
                "companies[0].users[0].active: must be true or false, not \"yes\"",
            ),
            (
                Box::new(|s| s["companies"][0]["users"][0]["profileIds"] = json!(["50", "050"])),
                "companies[0].users[0].profileIds[1]: \"50\" appears twice (first at companies[0].users[0].profileIds[0])",
            ),
            (
                Box::new(|s| s["companies"][0]["calls"][0]["isPrivate"] = json!(1)),
                "companies[0].calls[0].isPrivate: must be true or false, not 1",
            ),
            (
                Box::new(|s| s["companies"][0]["calls"][0]["started"] = json!("yesterday")),
                "companies[0].calls[0].started: \"yesterday\" is not an RFC 3339 date-time such as \"2030-01-01T00:00:00Z\"",
            ),
            (
                Box::new(|s| s["companies"][0]["calls"][0]["direction"] = json!("Sideways")),
                "companies[0].calls[0].direction: \"Sideways\" is not a call direction (expected Inbound, Outbound, Conference or Unknown)",
            ),
            (
                Box::new(|s| s["companies"][0]["calls"][0]["duration"] = json!(-3)),
                "companies[0].calls[0].duration: -3 is not a duration (whole seconds, 0 or more)",
            ),
            (
                Box::new(|s| s["companies"][0]["calls"][0]["workspaceId"] = json!("w")),
                "companies[0].calls[0].workspaceId: \"w\" is not a numeric id",
            ),
            (
                Box::new(|s| s["companies"][0]["workspaces"][0]["name"] = json!(" ")),
                "companies[0].workspaces[0].name: must not be empty",
            ),
            (
                Box::new(|s| s["companies"][0]["workspaces"][0]["owner"] = json!("x")),
                "companies[0].workspaces[0].owner: unknown field",
            ),
            (
                Box::new(|s| {
                    s["companies"][0]["profiles"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("callsAccess");
                }),
                "companies[0].profiles[0].callsAccess: is required",
            ),
            (
                Box::new(|s| {
                    s["companies"][0]["profiles"][0]
                        .as_object_mut()
                        .unwrap()
                        .remove("workspaceId");
                }),
                "companies[0].profiles[0].workspaceId: is required",
            ),
            (
                Box::new(|s| {
                    s["companies"][0]["profiles"][0]["callsAccess"]["permissionLevel"] =
                        json!("all / managers-team / report-to-them / own / none")
                }),
                "companies[0].profiles[0].callsAccess.permissionLevel: \"all / managers-team / report-to-them / own / none\" is not a calls access level (expected all, managers-team, report-to-them, own or none)",
            ),
            (
                Box::new(|s| {
                    s["companies"][0]["profiles"][0]["callsAccess"]["teamLeadIds"] = json!("10")
                }),
                "companies[0].profiles[0].callsAccess.teamLeadIds: must be an array, not \"10\"",
            ),
            (
                Box::new(|s| s["companies"][0]["profiles"][0]["scoreCalls"] = json!("yes")),
                "companies[0].profiles[0].scoreCalls: must be true or false, not \"yes\"",
            ),
            (
                Box::new(|s| s["companies"][0]["profiles"][0]["coachingAccess"] = json!(3)),
                "companies[0].profiles[0].coachingAccess: must be an object, not 3",
            ),
            (
                Box::new(|s| s["companies"][0]["profiles"][0]["scoreCall"] = json!(true)),
                "companies[0].profiles[0].scoreCall: unknown field",
            ),
            (
                Box::new(|s| s["companies"][0]["profiles"][0]["name"] = json!(7)),
                "companies[0].profiles[0].name: must be a string, not 7",
            ),
        ];
        for (edit, message) in cases {
            assert_eq!(directory_error(edit), message);
        }
    }

    #[test]
    fn directory_ids_are_unique_across_the_file() {
        let message = directory_error(|s| {
            s["companies"][0]["workspaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"id": "5", "name": "Again"}));
        });
        assert_eq!(
            message,
            "companies[0].workspaces[1].id: \"5\" appears twice (first at companies[0].workspaces[0])"
        );
        // Across companies too: like company ids, they are the database's.
        let mut seed = directory();
        seed["companies"].as_array_mut().unwrap().push(
            json!({"id": "2", "name": "B", "workspaces": [{"id": "5", "name": "Theirs"}],
                         "profiles": [{"id": "50", "workspaceId": "5", "name": "P",
                                       "callsAccess": {"permissionLevel": "all"}}]}),
        );
        assert_eq!(
            errors_of(&seed),
            vec![
                "companies[1].workspaces[0].id: \"5\" appears twice (first at companies[0].workspaces[0])",
                "companies[1].profiles[0].id: \"50\" appears twice (first at companies[0].profiles[0])",
            ]
        );
        let message = directory_error(|s| {
            s["companies"][0]["calls"] = json!([
                {"id": "100", "primaryUserId": "11", "clientUniqueId": "c1"},
                {"id": "101", "primaryUserId": "11", "clientUniqueId": "c1"}
            ]);
        });
        assert_eq!(
            message,
            "companies[0].calls[1].clientUniqueId: \"c1\" appears twice (first at companies[0].calls[0])"
        );
    }

    #[test]
    fn a_user_holds_one_profile_per_workspace_of_the_file() {
        let message = directory_error(|s| {
            s["companies"][0]["profiles"]
                .as_array_mut()
                .unwrap()
                .push(json!({
                    "id": "51", "workspaceId": "5", "name": "Reps",
                    "callsAccess": {"permissionLevel": "own"}
                }));
            s["companies"][0]["users"][0]["profileIds"] = json!(["50", "51"]);
        });
        assert_eq!(
            message,
            "companies[0].users[0].profileIds[1]: permission profile \"51\" is in workspace \"5\" like \"50\" (at companies[0].users[0].profileIds[0]); a user holds one profile per workspace"
        );
    }

    #[test]
    fn directory_references_outside_the_file_are_listed() {
        let mut seed = directory();
        seed["companies"][0]["profiles"][0]["workspaceId"] = json!("6");
        seed["companies"][0]["profiles"][0]["callsAccess"]["teamLeadIds"] = json!(["11", "12"]);
        seed["companies"][0]["users"][0]["profileIds"] = json!(["50", "60"]);
        seed["companies"][0]["users"][1]["managerId"] = json!("13");
        seed["companies"][0]["calls"][0]["workspaceId"] = json!("7");
        let parsed = parse(&seed.to_string()).unwrap();
        let found: Vec<(String, ReferenceTarget)> = external_references(&parsed)
            .into_iter()
            .map(|r| (r.path, r.target))
            .collect();
        assert_eq!(
            found,
            vec![
                (
                    "companies[0].profiles[0].workspaceId".to_owned(),
                    ReferenceTarget::Workspace(workspace_id(6))
                ),
                (
                    "companies[0].users[0].profileIds[1]".to_owned(),
                    ReferenceTarget::Profile(profile_id(60))
                ),
                (
                    "companies[0].calls[0].workspaceId".to_owned(),
                    ReferenceTarget::Workspace(workspace_id(7))
                ),
                (
                    "companies[0].profiles[0].callsAccess.teamLeadIds[1]".to_owned(),
                    ReferenceTarget::User(user_id(12))
                ),
                (
                    "companies[0].users[1].managerId".to_owned(),
                    ReferenceTarget::User(user_id(13))
                ),
            ]
        );
        assert_eq!(
            external_references(&parsed)[1].missing_message(),
            "companies[0].users[0].profileIds[1]: permission profile \"60\" does not exist in company \"1\""
        );
    }

    #[test]
    fn profile_fields_outside_a_seed_are_checked_like_a_seeds() {
        let fields =
            super::profile_fields(&json!({"scoreCalls": false, "description": "d"})).unwrap();
        assert_eq!(
            Value::Object(fields),
            json!({"scoreCalls": false, "description": "d"})
        );
        assert_eq!(
            super::profile_fields(&json!({"id": "1", "scoreCall": true, "trimCalls": 1}))
                .unwrap_err(),
            vec![
                "scoreCall: unknown field",
                "id: is given by the store and cannot be set",
                "trimCalls: must be true or false, not 1",
            ]
        );
        assert_eq!(
            super::profile_fields(&json!([])).unwrap_err(),
            vec!["must be an object, not []"]
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
                "workspaces",
                "profiles",
                "workspaceId",
                "profileIds",
                "managerId",
                "permissionLevel",
                "teamLeadIds",
                "scoreCalls",
                "isPrivate",
                "started",
                "direction",
                "clientUniqueId",
                "active",
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
                Just("report-to-them".to_owned()),
                Just("Conference".to_owned()),
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
