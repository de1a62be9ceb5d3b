//! Exporting a store's state as a seed document (control-plane §3).
//!
//! A backend reads its rows into a [`Snapshot`] and nothing more; this
//! module decides what the document says, so that both backends export the
//! same document for the same state and [`super::Seed::parse`] accepts it.
//! Applied to an empty store, the document reproduces the state: every
//! entity with its id, the default workspace first (a company's first
//! workspace is its default), profiles with every field as given, users
//! with their manager, `active`, creation time and the profiles they hold
//! (never the `callsAccess` shorthand: the legacy profiles it names are
//! exported as profiles), calls with every field, shares, API grants, and
//! credentials as digests with their ids, times and revocations.

use serde_json::{json, Map, Value};

use crate::ids::{CallId, CompanyId, ProfileId, UserId};
use crate::model::{
    ApiKeyInfo, Call, Company, Limit, Profile, SecretDigest, Timestamp, TokenInfo, User, Workspace,
};

/// Every row a store holds for some companies, as read in one snapshot of
/// the database.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// By id.
    pub companies: Vec<CompanySnapshot>,
}

/// One company's rows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanySnapshot {
    pub company: Company,
    /// The default workspace first, then the others by id.
    pub workspaces: Vec<Workspace>,
    /// By id.
    pub profiles: Vec<Profile>,
    /// By id; `calls_access` is not read (the profiles say it).
    pub users: Vec<User>,
    /// Who holds which profile, by user then profile.
    pub assignments: Vec<(UserId, ProfileId)>,
    /// By id, each with its participants ascending.
    pub calls: Vec<Call>,
    /// By call then user.
    pub shares: Vec<(CallId, UserId)>,
    /// By call then user.
    pub api_grants: Vec<(CallId, UserId)>,
    /// By creation time, each with the digest of its secret.
    pub api_keys: Vec<(ApiKeyInfo, SecretDigest)>,
    /// By creation time, each with its digest.
    pub tokens: Vec<(TokenInfo, SecretDigest)>,
}

impl CompanySnapshot {
    /// A company with nothing in it yet.
    pub fn new(company: Company) -> Self {
        Self {
            company,
            workspaces: Vec::new(),
            profiles: Vec::new(),
            users: Vec::new(),
            assignments: Vec::new(),
            calls: Vec::new(),
            shares: Vec::new(),
            api_grants: Vec::new(),
            api_keys: Vec::new(),
            tokens: Vec::new(),
        }
    }
}

/// What a reset removed, and what the seed it applied wrote.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResetSummary {
    /// Companies removed, with everything in them.
    pub companies: usize,
    pub users: usize,
    pub calls: usize,
    /// What the seed given with the reset wrote, if one was.
    pub seeded: Option<super::SeedSummary>,
}

/// The seed document that reproduces `snapshot`.
pub fn export(snapshot: &Snapshot) -> Value {
    let companies: Vec<Value> = snapshot.companies.iter().map(company).collect();
    json!({ "companies": companies })
}

fn id_list<T: ToString>(ids: impl IntoIterator<Item = T>) -> Value {
    Value::Array(
        ids.into_iter()
            .map(|id| Value::String(id.to_string()))
            .collect(),
    )
}

fn time(at: Timestamp) -> Value {
    Value::String(at.to_string())
}

/// Sets `key` to `value` when there is one.
fn put<T: Into<Value>>(object: &mut Map<String, Value>, key: &str, value: Option<T>) {
    if let Some(value) = value {
        object.insert(key.to_owned(), value.into());
    }
}

fn limit(value: Limit) -> Option<Value> {
    match value {
        // A missing field is the server's setting.
        Limit::Default => None,
        Limit::Off => Some(Value::String("off".to_owned())),
        Limit::Max(n) => Some(Value::from(n)),
    }
}

fn company(s: &CompanySnapshot) -> Value {
    let c = &s.company;
    let mut object = Map::new();
    object.insert("id".to_owned(), Value::String(c.id.to_string()));
    object.insert("name".to_owned(), Value::String(c.name.clone()));
    object.insert("createdAt".to_owned(), time(c.created_at));
    let mut rate = Map::new();
    put(&mut rate, "perSecond", limit(c.rate_limit.per_second));
    put(&mut rate, "perDay", limit(c.rate_limit.per_day));
    if !rate.is_empty() {
        object.insert("rateLimit".to_owned(), Value::Object(rate));
    }
    let keys = s.api_keys.iter().map(|(k, d)| api_key(k, d)).collect();
    object.insert("apiKeys".to_owned(), Value::Array(keys));
    let tokens = s.tokens.iter().map(|(t, d)| token(t, d)).collect();
    object.insert("tokens".to_owned(), Value::Array(tokens));
    let workspaces = s.workspaces.iter().map(workspace).collect();
    object.insert("workspaces".to_owned(), Value::Array(workspaces));
    let profiles = s.profiles.iter().map(profile).collect();
    object.insert("profiles".to_owned(), Value::Array(profiles));
    let users = s.users.iter().map(|u| user(u, &s.assignments)).collect();
    object.insert("users".to_owned(), Value::Array(users));
    let calls = s.calls.iter().map(call).collect();
    object.insert("calls".to_owned(), Value::Array(calls));
    object.insert("shares".to_owned(), links(&s.shares));
    object.insert("apiGrants".to_owned(), links(&s.api_grants));
    Value::Object(object)
}

fn api_key(key: &ApiKeyInfo, digest: &SecretDigest) -> Value {
    let mut object = Map::new();
    object.insert(
        "accessKey".to_owned(),
        Value::String(key.access_key.clone()),
    );
    object.insert(
        "accessKeySecretDigest".to_owned(),
        Value::String(digest.to_hex()),
    );
    put(
        &mut object,
        "scopes",
        key.scopes.as_ref().map(|s| id_list(s.iter())),
    );
    put(&mut object, "expiresAt", key.expires_at.map(time));
    object.insert("createdAt".to_owned(), time(key.created_at));
    put(&mut object, "revokedAt", key.revoked_at.map(time));
    Value::Object(object)
}

fn token(token: &TokenInfo, digest: &SecretDigest) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), Value::String(token.id.clone()));
    object.insert("tokenDigest".to_owned(), Value::String(digest.to_hex()));
    object.insert("scopes".to_owned(), id_list(token.scopes.iter()));
    put(&mut object, "expiresAt", token.expires_at.map(time));
    object.insert("createdAt".to_owned(), time(token.created_at));
    put(&mut object, "revokedAt", token.revoked_at.map(time));
    Value::Object(object)
}

fn workspace(w: &Workspace) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), Value::String(w.id.to_string()));
    object.insert("name".to_owned(), Value::String(w.name.clone()));
    put(&mut object, "description", w.description.clone());
    Value::Object(object)
}

/// The profile's fields as given, with its id and workspace; `name` and
/// `callsAccess` from the parsed profile when the fields lack them, as a
/// seed requires both.
fn profile(p: &Profile) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), Value::String(p.id.to_string()));
    object.insert(
        "workspaceId".to_owned(),
        Value::String(p.workspace.to_string()),
    );
    for (key, value) in &p.fields {
        if key != "id" && key != "workspaceId" {
            object.insert(key.clone(), value.clone());
        }
    }
    object
        .entry("name")
        .or_insert_with(|| Value::String(p.name.clone()));
    object.entry("callsAccess").or_insert_with(|| {
        json!({
            "permissionLevel": p.calls.level.as_str(),
            "teamLeadIds": id_list(p.calls.team_leads.iter()),
        })
    });
    Value::Object(object)
}

fn user(u: &User, assignments: &[(UserId, ProfileId)]) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), Value::String(u.id.to_string()));
    object.insert(
        "emailAddress".to_owned(),
        Value::String(u.email_address.clone()),
    );
    put(&mut object, "firstName", u.first_name.clone());
    put(&mut object, "lastName", u.last_name.clone());
    put(&mut object, "title", u.title.clone());
    put(
        &mut object,
        "managerId",
        u.manager_id.map(|m| m.to_string()),
    );
    object.insert("active".to_owned(), Value::Bool(u.active));
    put(&mut object, "created", u.created.map(time));
    let held = assignments
        .iter()
        .filter(|(user, _)| *user == u.id)
        .map(|(_, profile)| *profile);
    object.insert("profileIds".to_owned(), id_list(held));
    Value::Object(object)
}

fn call(c: &Call) -> Value {
    let mut object = Map::new();
    object.insert("id".to_owned(), Value::String(c.id.to_string()));
    put(
        &mut object,
        "workspaceId",
        c.workspace.map(|w| w.to_string()),
    );
    put(&mut object, "title", c.title.clone());
    object.insert(
        "primaryUserId".to_owned(),
        Value::String(c.primary_user_id.to_string()),
    );
    object.insert(
        "participantIds".to_owned(),
        id_list(c.participant_ids.iter()),
    );
    object.insert("isPrivate".to_owned(), Value::Bool(c.is_private));
    put(&mut object, "started", c.started.map(time));
    put(&mut object, "clientUniqueId", c.client_unique_id.clone());
    // The details serialise under Gong's names, only those that are set.
    if let Ok(Value::Object(details)) = serde_json::to_value(&c.details) {
        object.extend(details);
    }
    if !c.parties.is_empty() {
        if let Ok(parties) = serde_json::to_value(&c.parties) {
            object.insert("parties".to_owned(), parties);
        }
    }
    Value::Object(object)
}

fn links(pairs: &[(CallId, UserId)]) -> Value {
    Value::Array(
        pairs
            .iter()
            .map(|(call, user)| json!({ "callId": call.to_string(), "userId": user.to_string() }))
            .collect(),
    )
}

/// A reset of one company applies a seed of that company only: anything
/// else would write outside what the reset cleared. One message per other
/// company, at its path.
pub fn only_company(seed: &super::Seed, company: CompanyId) -> Result<(), Vec<String>> {
    let problems: Vec<String> = seed
        .companies
        .iter()
        .filter(|c| c.id != company)
        .map(|c| {
            format!(
                "{}.id: \"{}\" is not the company being reset (\"{company}\"); a reset of one company takes a seed of that company only",
                c.path, c.id
            )
        })
        .collect();
    if problems.is_empty() {
        Ok(())
    } else {
        Err(problems)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use serde_json::json;

    use super::*;
    use crate::model::{CallDetails, CallsAccess, CallsRule, Party, RateLimit, Scope};
    use crate::seed::Seed;
    use crate::WorkspaceId;

    fn snapshot() -> Snapshot {
        let c = CompanyId::from_i64(7).unwrap();
        let u = |n| UserId::from_i64(n).unwrap();
        let w = WorkspaceId::from_i64(70).unwrap();
        let p = ProfileId::from_i64(700).unwrap();
        let mut s = CompanySnapshot::new(Company {
            id: c,
            name: "Seven".to_owned(),
            rate_limit: RateLimit {
                per_second: Limit::Off,
                per_day: Limit::Max(9),
            },
            created_at: Timestamp::from_unix(1_700_000_000),
        });
        s.workspaces.push(Workspace::default_for(c, w));
        let mut fields = Map::new();
        fields.insert("scoreCalls".to_owned(), Value::Bool(true));
        s.profiles.push(Profile {
            company: c,
            workspace: w,
            id: p,
            name: "Leads".to_owned(),
            calls: CallsRule {
                level: CallsAccess::ManagersTeam,
                team_leads: vec![u(2)],
            },
            fields,
        });
        s.users.push(User {
            created: Some(Timestamp::from_unix(1_700_000_100)),
            ..User::new(c, u(1), "a@seven.test")
        });
        s.users.push(User {
            manager_id: Some(u(1)),
            active: false,
            first_name: Some("Bo".to_owned()),
            created: Some(Timestamp::from_unix(1_700_000_200)),
            ..User::new(c, u(2), "b@seven.test")
        });
        s.assignments.push((u(2), p));
        s.calls.push(Call {
            workspace: Some(w),
            title: Some("t".repeat(500)),
            participant_ids: vec![u(2)],
            is_private: true,
            started: Some(Timestamp::from_unix(1_700_000_300)),
            client_unique_id: Some("pbx-1".to_owned()),
            details: CallDetails {
                custom_data: Some("x".repeat(300)),
                direction: Some("Inbound".to_owned()),
                duration: Some(30),
                ..CallDetails::default()
            },
            parties: vec![Party {
                name: Some("Outsider".to_owned()),
                ..Party::default()
            }],
            ..Call::new(c, CallId::from_i64(100).unwrap(), u(1))
        });
        s.shares.push((CallId::from_i64(100).unwrap(), u(2)));
        s.api_grants.push((CallId::from_i64(100).unwrap(), u(1)));
        s.api_keys.push((
            ApiKeyInfo {
                access_key: "SEVENKEY".to_owned(),
                company: c,
                scopes: None,
                created_at: Timestamp::from_unix(1_700_000_400),
                expires_at: Some(Timestamp::from_unix(1_900_000_000)),
                revoked_at: Some(Timestamp::from_unix(1_700_000_500)),
            },
            crate::secret::digest("seven-secret-0123456789"),
        ));
        s.tokens.push((
            TokenInfo {
                id: "00ff00ff00ff00ff".to_owned(),
                company: c,
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                created_at: Timestamp::from_unix(1_700_000_600),
                expires_at: None,
                revoked_at: None,
            },
            crate::secret::digest("seven-token-0123456789"),
        ));
        Snapshot { companies: vec![s] }
    }

    #[test]
    fn an_export_parses_back_into_the_same_entities() {
        let snapshot = snapshot();
        let document = export(&snapshot);
        let seed = Seed::parse(&document.to_string()).unwrap();
        let (parsed, given) = (&seed.companies[0], &snapshot.companies[0]);
        assert_eq!(parsed.id, given.company.id);
        assert_eq!(parsed.rate_limit, given.company.rate_limit);
        assert_eq!(parsed.created_at, Some(given.company.created_at));
        assert_eq!(parsed.workspaces, given.workspaces);
        let profile = &parsed.profiles[0];
        assert_eq!(profile.calls, given.profiles[0].calls);
        assert_eq!(profile.fields.get("scoreCalls"), Some(&Value::Bool(true)));
        // Users: every field, and no callsAccess shorthand.
        for (p, g) in parsed.users.iter().zip(&given.users) {
            assert_eq!(
                User {
                    calls_access: None,
                    ..g.clone()
                },
                *p
            );
        }
        assert_eq!(parsed.assignments.len(), 1);
        assert_eq!(parsed.assignments[0].profile, given.profiles[0].id);
        assert_eq!(parsed.calls, given.calls, "long text and parties survive");
        assert_eq!(parsed.shares[0].user, given.shares[0].1);
        assert_eq!(parsed.api_grants[0].user, given.api_grants[0].1);
        let (key, key_digest) = &given.api_keys[0];
        assert_eq!(parsed.api_keys[0].digest, *key_digest);
        assert_eq!(parsed.api_keys[0].created_at, Some(key.created_at));
        assert_eq!(parsed.api_keys[0].revoked_at, key.revoked_at);
        assert_eq!(parsed.api_keys[0].expires_at, key.expires_at);
        let (token, token_digest) = &given.tokens[0];
        assert_eq!(parsed.tokens[0].digest, *token_digest);
        assert_eq!(parsed.tokens[0].id.as_deref(), Some(token.id.as_str()));
        assert_eq!(parsed.tokens[0].scopes, token.scopes);
        // No secret in clear: only digests.
        let text = document.to_string();
        assert!(!text.contains("seven-secret") && !text.contains("seven-token"));
        assert!(text.contains(&key_digest.to_hex()));
    }

    /// The messages of a one-company seed with these keys and tokens.
    fn credential_errors(keys: Value, tokens: Value) -> Vec<String> {
        let text =
            json!({"companies": [{"id": "1", "name": "A", "apiKeys": keys, "tokens": tokens}]});
        Seed::parse(&text.to_string()).unwrap_err()
    }

    #[test]
    fn digests_ids_and_times_of_credentials_are_checked() {
        let hex = crate::secret::digest("some-secret-0123456789").to_hex();
        assert_eq!(
            credential_errors(
                json!([{"accessKey": "K", "accessKeySecret": "some-secret-0123456789", "accessKeySecretDigest": hex}]),
                json!([])
            ),
            vec!["companies[0].apiKeys[0].accessKeySecretDigest: give accessKeySecret or accessKeySecretDigest, not both"]
        );
        assert_eq!(
            credential_errors(json!([{"accessKey": "K", "accessKeySecretDigest": "abc"}]), json!([])),
            vec!["companies[0].apiKeys[0].accessKeySecretDigest: must be 64 hexadecimal digits (the SHA-256 digest of the secret)"]
        );
        assert_eq!(
            credential_errors(json!([{"accessKey": "K"}]), json!([])),
            vec!["companies[0].apiKeys[0].accessKeySecret: is required"]
        );
        let token = |id: &str| json!({"tokenDigest": hex, "id": id, "scopes": ["api:call-user-access:read"]});
        let mut second = token("t1");
        second["tokenDigest"] = json!(crate::secret::digest("other-secret-0123456789").to_hex());
        assert_eq!(
            credential_errors(json!([]), json!([token("t1"), second])),
            vec![
                "companies[0].tokens[1].id: \"t1\" appears twice (first at companies[0].tokens[0])"
            ]
        );
        assert_eq!(
            credential_errors(json!([]), json!([token("no spaces")])),
            vec!["companies[0].tokens[0].id: \"no spaces\" is not a token id (1-64 letters, digits, '-' or '_')"]
        );
        assert_eq!(
            credential_errors(json!([]), json!([token("t1"), token("t2")])),
            vec!["companies[0].tokens[1].tokenDigest: appears twice (first at companies[0].tokens[0])"]
        );
        let mut dated = token("t1");
        dated["revokedAt"] = json!("soon");
        assert_eq!(
            credential_errors(json!([]), json!([dated])),
            vec!["companies[0].tokens[0].revokedAt: \"soon\" is not an RFC 3339 date-time such as \"2030-01-01T00:00:00Z\""]
        );
        // A digest in capitals is the same digest.
        let seed = Seed::parse(
            &json!({"companies": [{"id": "1", "name": "A",
                "apiKeys": [{"accessKey": "K", "accessKeySecretDigest": hex.to_uppercase()}]}]})
            .to_string(),
        )
        .unwrap();
        assert_eq!(
            seed.companies[0].api_keys[0].digest,
            crate::secret::digest("some-secret-0123456789")
        );
    }

    #[test]
    fn a_party_is_checked_and_free_text_is_not_quoted_back() {
        let text = json!({"companies": [{"id": "1", "name": "A",
            "users": [{"id": "2", "emailAddress": "a@b"}],
            "calls": [{"id": "3", "primaryUserId": "2", "parties": [{"nick": "x"}],
                       "customData": "y".repeat(MAX_KEPT + 1)}]}]});
        let errors = Seed::parse(&text.to_string()).unwrap_err();
        assert_eq!(errors.len(), 2, "{errors:?}");
        assert!(
            errors[0].starts_with("companies[0].calls[0].customData: is too long"),
            "{errors:?}"
        );
        assert!(
            errors[1].starts_with(
                "companies[0].calls[0].parties[0]: is not a party: unknown field 'nick'"
            ),
            "{errors:?}"
        );
    }

    /// The limit of a call's free text (parse.rs's `MAX_KEPT_TEXT`).
    const MAX_KEPT: usize = 1 << 20;

    #[test]
    fn a_reset_of_one_company_takes_only_its_seed() {
        let seed = Seed::parse(&export(&snapshot()).to_string()).unwrap();
        assert!(only_company(&seed, CompanyId::from_i64(7).unwrap()).is_ok());
        assert_eq!(
            only_company(&seed, CompanyId::from_i64(8).unwrap()).unwrap_err(),
            vec!["companies[0].id: \"7\" is not the company being reset (\"8\"); a reset of one company takes a seed of that company only"]
        );
    }
}
