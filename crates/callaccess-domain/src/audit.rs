//! The audit trail (control-plane.md §7): who changed who can open a call,
//! and the credentials that let them.
//!
//! Every write the [`crate::Store`] runs takes an [`Origin`]: who asked
//! ([`Actor`]) and, for a request, its id. The backend records one
//! [`NewEntry`] for each row the write actually changed, in the same
//! transaction as the change, and gives it the next sequence number and
//! the time of the store's clock. A write that changes nothing records
//! nothing. The entries are built here, by the constructors of
//! [`NewEntry`], so both backends record the same action with the same
//! fields; a backend only says which rows changed.
//!
//! Entries are never changed. Retention ([`crate::Store::prune_audit`])
//! and a reset of the data remove them; nothing else does.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use serde_json::{json, Value};

use crate::admin_token::{AdminTokenId, AdminTokenInfo};
use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};
use crate::model::{ApiKeyInfo, Call, Profile, Timestamp, TokenInfo, User};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Actor {
    /// A `/v2` request signed with this API key (its access key, never its
    /// secret).
    ApiKey(String),
    /// A `/v2` request with this bearer token (its id, never the token).
    Token(String),
    /// An admin API request with this admin token.
    Admin(AdminTokenId),
    /// The `callaccess` command line, run by whoever can reach the database.
    Cli,
    /// A seed file applied at start (`serve --seed`) or by `callaccess seed`.
    Seed,
}

impl fmt::Display for Actor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(key) => write!(f, "apiKey:{key}"),
            Self::Token(id) => write!(f, "token:{id}"),
            Self::Admin(id) => write!(f, "admin:{}", id.as_str()),
            Self::Cli => f.write_str("cli"),
            Self::Seed => f.write_str("seed"),
        }
    }
}

impl FromStr for Actor {
    type Err = String;

    /// The form [`Actor`]'s `Display` writes, as a filter names it.
    fn from_str(text: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{text:?} is not an actor: expected apiKey:<accessKey>, token:<id>, admin:<token id>, cli or seed"
            )
        };
        match text {
            "cli" => return Ok(Self::Cli),
            "seed" => return Ok(Self::Seed),
            _ => {}
        }
        let (kind, id) = text.split_once(':').ok_or_else(bad)?;
        if id.is_empty() {
            return Err(bad());
        }
        match kind {
            "apiKey" => Ok(Self::ApiKey(id.to_owned())),
            "token" => Ok(Self::Token(id.to_owned())),
            "admin" => AdminTokenId::parse(id).map(Self::Admin).map_err(|_| bad()),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Actor {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Where a write comes from: what every [`crate::Store`] write takes, so
/// that its audit entries say who and which request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    pub actor: Actor,
    /// The id of the HTTP request that made the change; `None` for the
    /// command line and seeds at start.
    pub request_id: Option<String>,
}

impl Origin {
    pub fn new(actor: Actor, request_id: Option<String>) -> Self {
        Self { actor, request_id }
    }

    /// A change made from the command line.
    pub fn cli() -> Self {
        Self::new(Actor::Cli, None)
    }

    /// A change made by applying a seed file outside any request.
    pub fn seed() -> Self {
        Self::new(Actor::Seed, None)
    }
}

/// What an entry records. The names are the API's (`grant.add`, …).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Action {
    /// An API grant was recorded (PUT, a seed, the admin API or the CLI).
    GrantAdd,
    /// An API grant was removed.
    GrantRemove,
    /// A call was shared with a user.
    ShareAdd,
    /// A share was removed.
    ShareRemove,
    /// A permission profile was created; `after` is the profile.
    ProfileCreate,
    /// A profile's fields changed (its call access among them); `before`
    /// and `after` are the profile.
    ProfileUpdate,
    /// A user was added, with their manager and profiles in `after`.
    UserCreate,
    /// The profile a user holds in a workspace changed.
    UserProfile,
    /// A user's manager changed.
    UserManager,
    /// A call was created; `after` holds its workspace, primary user,
    /// participants, privacy and the time it was created.
    CallCreate,
    /// A call became private, or stopped being.
    CallPrivate,
    ApiKeyCreate,
    ApiKeyRevoke,
    /// An expired API key was presented (recorded once per key).
    ApiKeyExpired,
    TokenCreate,
    TokenRevoke,
    /// An expired token was presented (recorded once per token).
    TokenExpired,
    AdminTokenCreate,
    AdminTokenRevoke,
    /// The data was reset (of one company, or of every company when the
    /// entry has none): what a mirror of the data must start again from.
    Reset,
}

impl Action {
    pub const ALL: &'static [Action] = &[
        Self::GrantAdd,
        Self::GrantRemove,
        Self::ShareAdd,
        Self::ShareRemove,
        Self::ProfileCreate,
        Self::ProfileUpdate,
        Self::UserCreate,
        Self::UserProfile,
        Self::UserManager,
        Self::CallCreate,
        Self::CallPrivate,
        Self::ApiKeyCreate,
        Self::ApiKeyRevoke,
        Self::ApiKeyExpired,
        Self::TokenCreate,
        Self::TokenRevoke,
        Self::TokenExpired,
        Self::AdminTokenCreate,
        Self::AdminTokenRevoke,
        Self::Reset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::GrantAdd => "grant.add",
            Self::GrantRemove => "grant.remove",
            Self::ShareAdd => "share.add",
            Self::ShareRemove => "share.remove",
            Self::ProfileCreate => "profile.create",
            Self::ProfileUpdate => "profile.update",
            Self::UserCreate => "user.create",
            Self::UserProfile => "user.profile",
            Self::UserManager => "user.manager",
            Self::CallCreate => "call.create",
            Self::CallPrivate => "call.private",
            Self::ApiKeyCreate => "apiKey.create",
            Self::ApiKeyRevoke => "apiKey.revoke",
            Self::ApiKeyExpired => "apiKey.expired",
            Self::TokenCreate => "token.create",
            Self::TokenRevoke => "token.revoke",
            Self::TokenExpired => "token.expired",
            Self::AdminTokenCreate => "adminToken.create",
            Self::AdminTokenRevoke => "adminToken.revoke",
            Self::Reset => "reset",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Action {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::ALL
            .iter()
            .copied()
            .find(|a| a.as_str() == text)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|a| a.as_str()).collect();
                format!(
                    "{text:?} is not an action; expected one of {}",
                    names.join(", ")
                )
            })
    }
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

/// An entry as a write records it: the backend adds the sequence number,
/// the time and the [`Origin`].
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub company: Option<CompanyId>,
    pub action: Action,
    pub call: Option<CallId>,
    pub user: Option<UserId>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

impl NewEntry {
    fn of(company: CompanyId, action: Action) -> Self {
        Self {
            company: Some(company),
            action,
            call: None,
            user: None,
            before: None,
            after: None,
        }
    }

    fn on(mut self, call: Option<CallId>, user: Option<UserId>) -> Self {
        self.call = call;
        self.user = user;
        self
    }

    fn change(mut self, before: Option<Value>, after: Option<Value>) -> Self {
        self.before = before;
        self.after = after;
        self
    }

    pub fn grant_added(company: CompanyId, call: CallId, user: UserId) -> Self {
        Self::of(company, Action::GrantAdd).on(Some(call), Some(user))
    }

    pub fn grant_removed(company: CompanyId, call: CallId, user: UserId) -> Self {
        Self::of(company, Action::GrantRemove).on(Some(call), Some(user))
    }

    pub fn share_added(company: CompanyId, call: CallId, user: UserId) -> Self {
        Self::of(company, Action::ShareAdd).on(Some(call), Some(user))
    }

    pub fn share_removed(company: CompanyId, call: CallId, user: UserId) -> Self {
        Self::of(company, Action::ShareRemove).on(Some(call), Some(user))
    }

    pub fn profile_created(profile: &Profile) -> Self {
        Self::of(profile.company, Action::ProfileCreate).change(None, Some(profile.to_dto()))
    }

    /// `None` when nothing of the profile changed.
    pub fn profile_updated(before: &Profile, after: &Profile) -> Option<Self> {
        let (b, a) = (before.to_dto(), after.to_dto());
        (b != a).then(|| Self::of(after.company, Action::ProfileUpdate).change(Some(b), Some(a)))
    }

    /// A user as added: their manager and the profile they hold in each
    /// workspace, by workspace.
    pub fn user_created(user: &User, profiles: &[(WorkspaceId, ProfileId)]) -> Self {
        let mut profiles = profiles.to_vec();
        profiles.sort_unstable();
        let after = json!({
            "emailAddress": user.email_address,
            "managerId": user.manager_id.map(|m| m.to_string()),
            "profiles": profiles_json(&profiles),
        });
        Self::of(user.company, Action::UserCreate)
            .on(None, Some(user.id))
            .change(None, Some(after))
    }

    /// The profile `user` holds in `workspace` went from `before` to
    /// `after`; `None` when it did not change.
    pub fn user_profile(
        company: CompanyId,
        user: UserId,
        workspace: WorkspaceId,
        before: Option<ProfileId>,
        after: Option<ProfileId>,
    ) -> Option<Self> {
        let held = |profile: Option<ProfileId>| {
            json!({
                "workspaceId": workspace.to_string(),
                "profileId": profile.map(|p| p.to_string()),
            })
        };
        (before != after).then(|| {
            Self::of(company, Action::UserProfile)
                .on(None, Some(user))
                .change(Some(held(before)), Some(held(after)))
        })
    }

    /// `None` when the manager did not change.
    pub fn user_manager(
        company: CompanyId,
        user: UserId,
        before: Option<UserId>,
        after: Option<UserId>,
    ) -> Option<Self> {
        let manager = |m: Option<UserId>| json!({ "managerId": m.map(|m| m.to_string()) });
        (before != after).then(|| {
            Self::of(company, Action::UserManager)
                .on(None, Some(user))
                .change(Some(manager(before)), Some(manager(after)))
        })
    }

    /// A call as stored, with `created`: when it was created, by the
    /// store's clock (a call itself keeps only when it started).
    pub fn call_created(call: &Call, created: Timestamp) -> Self {
        let mut participants = call.participant_ids.clone();
        participants.sort_unstable();
        participants.dedup();
        let after = json!({
            "workspaceId": call.workspace.map(|w| w.to_string()),
            "primaryUserId": call.primary_user_id.to_string(),
            "participants": participants.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "isPrivate": call.is_private,
            "created": created,
        });
        Self::of(call.company, Action::CallCreate)
            .on(Some(call.id), Some(call.primary_user_id))
            .change(None, Some(after))
    }

    /// `None` when the call's privacy did not change.
    pub fn call_private(
        company: CompanyId,
        call: CallId,
        before: bool,
        after: bool,
    ) -> Option<Self> {
        (before != after).then(|| {
            Self::of(company, Action::CallPrivate)
                .on(Some(call), None)
                .change(
                    Some(json!({ "isPrivate": before })),
                    Some(json!({ "isPrivate": after })),
                )
        })
    }

    /// A new API key: its public facts, never its secret.
    pub fn api_key_created(key: &ApiKeyInfo) -> Self {
        Self::of(key.company, Action::ApiKeyCreate).change(None, Some(api_key_json(key)))
    }

    pub fn api_key_revoked(key: &ApiKeyInfo) -> Self {
        Self::of(key.company, Action::ApiKeyRevoke).change(None, Some(api_key_json(key)))
    }

    pub fn api_key_expired(key: &ApiKeyInfo) -> Self {
        Self::of(key.company, Action::ApiKeyExpired).change(None, Some(api_key_json(key)))
    }

    pub fn token_created(token: &TokenInfo) -> Self {
        Self::of(token.company, Action::TokenCreate).change(None, Some(token_json(token)))
    }

    pub fn token_revoked(token: &TokenInfo) -> Self {
        Self::of(token.company, Action::TokenRevoke).change(None, Some(token_json(token)))
    }

    pub fn token_expired(token: &TokenInfo) -> Self {
        Self::of(token.company, Action::TokenExpired).change(None, Some(token_json(token)))
    }

    /// Admin tokens belong to no company.
    pub fn admin_token_created(token: &AdminTokenInfo) -> Self {
        Self::admin_token(Action::AdminTokenCreate, token)
    }

    pub fn admin_token_revoked(token: &AdminTokenInfo) -> Self {
        Self::admin_token(Action::AdminTokenRevoke, token)
    }

    fn admin_token(action: Action, token: &AdminTokenInfo) -> Self {
        Self {
            company: None,
            action,
            call: None,
            user: None,
            before: None,
            after: Some(json!({
                "tokenId": token.id.as_str(),
                "readOnly": token.read_only,
                "expiresAt": token.expires_at,
                "revokedAt": token.revoked_at,
            })),
        }
    }

    /// A reset of one company's data, or of all of it.
    pub fn reset(company: Option<CompanyId>) -> Self {
        Self {
            company,
            action: Action::Reset,
            call: None,
            user: None,
            before: None,
            after: None,
        }
    }
}

fn profiles_json(profiles: &[(WorkspaceId, ProfileId)]) -> Value {
    Value::Array(
        profiles
            .iter()
            .map(|(w, p)| json!({ "workspaceId": w.to_string(), "profileId": p.to_string() }))
            .collect(),
    )
}

fn api_key_json(key: &ApiKeyInfo) -> Value {
    json!({
        "accessKey": key.access_key,
        "scopes": key.scopes,
        "expiresAt": key.expires_at,
        "revokedAt": key.revoked_at,
    })
}

fn token_json(token: &TokenInfo) -> Value {
    json!({
        "tokenId": token.id,
        "scopes": token.scopes,
        "expiresAt": token.expires_at,
        "revokedAt": token.revoked_at,
    })
}

/// One recorded entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Strictly increasing per database, in the order the changes
    /// committed (control-plane.md §9 streams them in this order).
    pub seq: u64,
    pub at: Timestamp,
    pub company: Option<CompanyId>,
    pub actor: String,
    pub request_id: Option<String>,
    pub action: Action,
    pub call: Option<CallId>,
    pub user: Option<UserId>,
    pub before: Option<Value>,
    pub after: Option<Value>,
}

/// Which entries a listing selects; every field that is set must hold.
/// `since` inclusive, `until` exclusive.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub company: Option<CompanyId>,
    pub call: Option<CallId>,
    pub user: Option<UserId>,
    pub actor: Option<Actor>,
    pub action: Option<Action>,
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
}

impl AuditFilter {
    /// Whether `entry` is one this filter selects: what a stream applies
    /// to entries as they arrive, and what the backends' queries say in SQL.
    pub fn selects(&self, entry: &AuditEntry) -> bool {
        let actor = self.actor.as_ref().map(ToString::to_string);
        self.company.is_none_or(|c| entry.company == Some(c))
            && self.call.is_none_or(|c| entry.call == Some(c))
            && self.user.is_none_or(|u| entry.user == Some(u))
            && actor.is_none_or(|a| entry.actor == a)
            && self.action.is_none_or(|a| entry.action == a)
            && self.since.is_none_or(|t| entry.at >= t)
            && self.until.is_none_or(|t| entry.at < t)
    }
}

/// One page of a listing: entries after `after` (oldest first) or before
/// `before` (newest first), at most `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditPage {
    pub order: AuditOrder,
    /// The sequence number the previous page ended at.
    pub from: Option<u64>,
    pub limit: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditOrder {
    /// In sequence order: `from` is the last one seen, the page is after it.
    #[default]
    Oldest,
    /// Newest first: the page is before `from`.
    Newest,
}

/// The most entries a page may hold.
pub const MAX_PAGE: usize = 1000;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn actors_read_back_as_written() {
        let admin = AdminTokenId::random();
        for actor in [
            Actor::ApiKey("KEY1".into()),
            Actor::Token("t0k".into()),
            Actor::Admin(admin),
            Actor::Cli,
            Actor::Seed,
        ] {
            assert_eq!(actor.to_string().parse::<Actor>(), Ok(actor));
        }
        assert!("apiKey:".parse::<Actor>().is_err());
        assert!("root".parse::<Actor>().is_err());
    }

    #[test]
    fn every_action_reads_back_and_names_are_unique() {
        let mut names: Vec<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
        for action in Action::ALL {
            assert_eq!(action.as_str().parse::<Action>(), Ok(*action));
        }
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Action::ALL.len());
        assert!("grant.added"
            .parse::<Action>()
            .unwrap_err()
            .contains("grant.add"));
    }

    #[test]
    fn changes_that_change_nothing_make_no_entry() {
        let company = CompanyId::parse("1").unwrap();
        let user = UserId::parse("2").unwrap();
        let call = CallId::parse("3").unwrap();
        let ws = WorkspaceId::parse("4").unwrap();
        assert!(NewEntry::user_manager(company, user, None, None).is_none());
        assert!(NewEntry::call_private(company, call, true, true).is_none());
        let p = Some(ProfileId::parse("5").unwrap());
        assert!(NewEntry::user_profile(company, user, ws, p, p).is_none());
        let moved = NewEntry::user_manager(company, user, None, Some(call_user())).unwrap();
        assert_eq!(moved.before, Some(json!({"managerId": null})));
        assert_eq!(moved.after, Some(json!({"managerId": "9"})));
    }

    fn call_user() -> UserId {
        UserId::parse("9").unwrap()
    }
}
