//! The entities the service keeps, and the request shapes the store applies.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};

/// Seconds since the Unix epoch, UTC. Stored as an integer by every backend so
/// that comparisons (expiry) are plain integer comparisons.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    pub fn now() -> Self {
        Self(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn from_unix(seconds: i64) -> Self {
        Self(seconds)
    }

    pub fn unix(self) -> i64 {
        self.0
    }

    /// Parses an RFC 3339 date-time such as `2030-01-01T00:00:00Z`.
    pub fn parse_rfc3339(s: &str) -> Result<Self, String> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Self(t.unix_timestamp()))
            .map_err(|_| {
                format!("{s:?} is not an RFC 3339 date-time such as \"2030-01-01T00:00:00Z\"")
            })
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self(self.0.saturating_add(seconds))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match OffsetDateTime::from_unix_timestamp(self.0)
            .ok()
            .and_then(|t| t.format(&Rfc3339).ok())
        {
            Some(text) => f.write_str(&text),
            None => write!(f, "@{}", self.0),
        }
    }
}

impl Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// A permission profile's call access level (Gong's
/// `CallAccessWithPermissionLevel.permissionLevel`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
pub enum CallsAccess {
    /// Every call of the workspace.
    #[serde(rename = "all")]
    All,
    /// `own`, plus the calls of the profile's team leads and everyone who
    /// reports to them; without team leads, of the user's own manager's team.
    #[serde(rename = "managers-team")]
    ManagersTeam,
    /// `own`, plus the calls of everyone who reports to the user, directly
    /// or through a chain of managers.
    #[serde(rename = "report-to-them")]
    ReportToThem,
    /// Calls where the user is the primary user or a participant.
    #[serde(rename = "own")]
    Own,
    /// No call through the profile.
    #[default]
    #[serde(rename = "none")]
    None,
}

impl CallsAccess {
    pub const NAMES: [&'static str; 5] = ["all", "managers-team", "report-to-them", "own", "none"];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::ManagersTeam => "managers-team",
            Self::ReportToThem => "report-to-them",
            Self::Own => "own",
            Self::None => "none",
        }
    }

    /// Whether the level follows the org chart (its routes carry a chain).
    pub fn is_hierarchy(self) -> bool {
        matches!(self, Self::ManagersTeam | Self::ReportToThem)
    }
}

impl FromStr for CallsAccess {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "all" => Ok(Self::All),
            "managers-team" => Ok(Self::ManagersTeam),
            "report-to-them" => Ok(Self::ReportToThem),
            "own" => Ok(Self::Own),
            "none" => Ok(Self::None),
            _ => Err(format!(
                "{s:?} is not a calls access level (expected all, managers-team, report-to-them, own or none)"
            )),
        }
    }
}

impl fmt::Display for CallsAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The part of a permission profile that decides who opens calls
/// (Gong's `callsAccess`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallsRule {
    #[serde(rename = "permissionLevel")]
    pub level: CallsAccess,
    /// For `managers-team`: whose teams the profile opens. Ascending, each
    /// once.
    #[serde(rename = "teamLeadIds")]
    pub team_leads: Vec<UserId>,
}

/// A workspace of a company (Gong's `WorkspaceMetadata`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Workspace {
    pub company: CompanyId,
    pub id: WorkspaceId,
    pub name: String,
    pub description: Option<String>,
}

/// A permission profile (Gong's `PermissionProfileDTO`) of one workspace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub company: CompanyId,
    pub workspace: WorkspaceId,
    pub id: ProfileId,
    pub name: String,
    /// What `callsAccess` says, parsed; it is also in `fields`.
    pub calls: CallsRule,
    /// Every field of the profile as it was given, `id` excepted (the
    /// store owns ids): returned as given.
    pub fields: serde_json::Map<String, serde_json::Value>,
}

impl Profile {
    /// The profile as Gong's `PermissionProfileDTO`: its fields as given,
    /// with its id.
    pub fn to_dto(&self) -> serde_json::Value {
        let mut fields = serde_json::Map::with_capacity(self.fields.len() + 1);
        fields.insert(
            "id".to_owned(),
            serde_json::Value::String(self.id.to_string()),
        );
        for (name, value) in &self.fields {
            if name != "id" {
                fields.insert(name.clone(), value.clone());
            }
        }
        serde_json::Value::Object(fields)
    }
}

/// Gong's `PermissionProfileDTO` fields besides `id`, `name`,
/// `description` and `callsAccess`, by the type of their values.
pub const PROFILE_OBJECT_FIELDS: &[&str] = &[
    "libraryFolderAccess",
    "dealsAccess",
    "forecastPermissions",
    "coachingAccess",
    "insightsAccess",
    "usageAccess",
    "emailsAccess",
];
pub const PROFILE_BOOLEAN_FIELDS: &[&str] = &[
    "scoreCalls",
    "downloadCallMedia",
    "shareCallsWithCustomers",
    "manuallyScheduleAndUploadCalls",
    "privateCalls",
    "deleteCalls",
    "trimCalls",
    "listenInCalls",
    "deleteEmails",
    "callsAndSearch",
    "library",
    "deals",
    "createEditAndDeleteDealsBoards",
    "dealsInlineEditing",
    "account",
    "coaching",
    "usage",
    "teamStats",
    "initiatives",
    "market",
    "activity",
    "forecast",
    "forecastManage",
    "engageManageCompanyTemplates",
    "engageManageCompanySequences",
    "engageSnoozeFlowToDosForOthers",
    "manageGeneralBusinessSettings",
    "manageScorecards",
    "exportCallsAndCoachingDataToCSV",
    "crmDataInlineEditing",
    "crmDataImport",
    "viewRevenueAnalytics",
    "manageRevenueAnalytics",
];

/// Gong's enums of `CallBasicData`.
pub const CALL_DIRECTIONS: &[&str] = &["Inbound", "Outbound", "Conference", "Unknown"];
pub const CALL_SCOPES: &[&str] = &["Internal", "External", "Unknown"];
pub const CALL_MEDIA: &[&str] = &["Video", "Audio"];

/// The name of the workspace a company gets when it is created without one
/// (and that migration 5 gave every company).
pub const DEFAULT_WORKSPACE_NAME: &str = "Default";

impl Workspace {
    /// The workspace a company gets when it has none.
    pub fn default_for(company: CompanyId, id: WorkspaceId) -> Self {
        Self {
            company,
            id,
            name: DEFAULT_WORKSPACE_NAME.to_owned(),
            description: None,
        }
    }
}

/// The profile a user held before workspaces and profiles existed, in the
/// company's default workspace: one per level, named by
/// [`legacy_profile_name`]. Migration 5 creates them under the same names.
pub fn legacy_profile_name(level: CallsAccess) -> String {
    format!("Calls access: {level}")
}

/// The profile [`legacy_profile_name`] names, as a store creates it when a
/// workspace lacks it: only its name and `callsAccess`, as migration 5
/// writes them.
pub fn legacy_profile(
    company: CompanyId,
    workspace: WorkspaceId,
    id: ProfileId,
    level: CallsAccess,
) -> Profile {
    let name = legacy_profile_name(level);
    let mut fields = serde_json::Map::new();
    fields.insert("name".to_owned(), serde_json::Value::String(name.clone()));
    fields.insert(
        "callsAccess".to_owned(),
        serde_json::json!({ "permissionLevel": level.as_str(), "teamLeadIds": [] }),
    );
    Profile {
        company,
        workspace,
        id,
        name,
        calls: CallsRule {
            level,
            team_leads: Vec::new(),
        },
        fields,
    }
}

/// One rate limit setting of a company. Serialised as the seed file writes
/// it: a number, `"off"`, or `"default"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Limit {
    /// Whatever the server is configured with.
    #[default]
    Default,
    /// No limit.
    Off,
    /// At most this many requests in the window.
    Max(u32),
}

impl Serialize for Limit {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::Default => serializer.serialize_str("default"),
            Self::Off => serializer.serialize_str("off"),
            Self::Max(n) => serializer.serialize_u32(*n),
        }
    }
}

/// A company's own rate limits; `Default` defers to the server's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RateLimit {
    pub per_second: Limit,
    pub per_day: Limit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Company {
    pub id: CompanyId,
    pub name: String,
    pub rate_limit: RateLimit,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub company: CompanyId,
    pub id: UserId,
    pub email_address: String,
    /// Written: shorthand for the profile of this level in the company's
    /// default workspace ([`legacy_profile_name`]); `None` leaves the
    /// user's profiles alone. Read: the level of the user's profile in the
    /// default workspace, if any.
    pub calls_access: Option<CallsAccess>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub title: Option<String>,
    /// The user's manager, another user of the company.
    pub manager_id: Option<UserId>,
    /// Gong keeps users who left; they can be granted and listed alike.
    pub active: bool,
    /// When the user was created; `None` on a write means now.
    pub created: Option<Timestamp>,
}

impl User {
    /// A user with only an email: active, no names, no manager, profiles
    /// left alone.
    pub fn new(company: CompanyId, id: UserId, email_address: impl Into<String>) -> Self {
        Self {
            company,
            id,
            email_address: email_address.into(),
            calls_access: None,
            first_name: None,
            last_name: None,
            title: None,
            manager_id: None,
            active: true,
            created: None,
        }
    }

    /// First and last name, as Gong's `fullName`; `None` without either.
    pub fn full_name(&self) -> Option<String> {
        let parts: Vec<&str> = [&self.first_name, &self.last_name]
            .into_iter()
            .flatten()
            .map(String::as_str)
            .filter(|part| !part.is_empty())
            .collect();
        (!parts.is_empty()).then(|| parts.join(" "))
    }
}

/// A change of an existing user that is written all at once or not at all
/// ([`crate::Store::update_user`]); a field left `None` (or no profiles) is
/// kept as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    /// `Some(None)` clears the manager.
    pub manager: Option<Option<UserId>>,
    /// The `callsAccess` shorthand: the default workspace's profile of this
    /// level ([`legacy_profile_name`]).
    pub calls_access: Option<CallsAccess>,
    /// Profiles to give the user, each replacing the one they hold in its
    /// workspace; of two in one workspace the later wins. Written after
    /// `calls_access`, so a profile of the default workspace wins over it.
    pub profiles: Vec<ProfileId>,
    pub active: Option<bool>,
}

impl UserUpdate {
    /// Whether it changes nothing at all.
    pub fn is_empty(&self) -> bool {
        self.manager.is_none()
            && self.calls_access.is_none()
            && self.profiles.is_empty()
            && self.active.is_none()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Call {
    pub company: CompanyId,
    pub id: CallId,
    /// Written: `None` puts the call in the company's default workspace.
    /// Read: always set.
    pub workspace: Option<WorkspaceId>,
    pub title: Option<String>,
    pub primary_user_id: UserId,
    /// Users who took part in the call; with the primary user they are the
    /// ones an `own` profile lets in.
    pub participant_ids: Vec<UserId>,
    /// Closed to profile routes except for the call's own parties.
    pub is_private: bool,
    /// When the call started (Gong's `started`, `actualStart` on addCall).
    pub started: Option<Timestamp>,
    /// Unique within the company when set (addCall's duplicate check).
    pub client_unique_id: Option<String>,
    /// The rest of Gong's `CallBasicData` the service keeps.
    pub details: CallDetails,
    /// The call's parties as given (Gong's `Party` shapes), including those
    /// who are not users.
    pub parties: Vec<Party>,
}

impl Call {
    /// A call with only its owner: no title, participants or details, in
    /// the default workspace, not private.
    pub fn new(company: CompanyId, id: CallId, primary_user_id: UserId) -> Self {
        Self {
            company,
            id,
            workspace: None,
            title: None,
            primary_user_id,
            participant_ids: Vec::new(),
            is_private: false,
            started: None,
            client_unique_id: None,
            details: CallDetails::default(),
            parties: Vec::new(),
        }
    }
}

/// Fields of Gong's `CallBasicData` that decide nothing here: kept and
/// returned as given. Names are Gong's.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CallDetails {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdr_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_event_id: Option<String>,
}

impl CallDetails {
    /// The stored form: JSON of the fields that are set.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    pub fn from_json(text: &str) -> Result<Self, String> {
        serde_json::from_str(text).map_err(|e| format!("stored call details are not valid: {e}"))
    }
}

/// One party of a call, as Gong's `Party` names its fields; `userId` links
/// it to a user of the company.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Party {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
}

/// The stored form of a call's parties: a JSON array.
pub fn parties_to_json(parties: &[Party]) -> String {
    serde_json::to_string(parties).unwrap_or_else(|_| "[]".to_owned())
}

pub fn parties_from_json(text: &str) -> Result<Vec<Party>, String> {
    serde_json::from_str(text).map_err(|e| format!("stored call parties are not valid: {e}"))
}

/// An OAuth-style scope string such as `api:call-user-access:read`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Scope(String);

impl Scope {
    pub const READ: &'static str = "api:call-user-access:read";
    pub const WRITE: &'static str = "api:call-user-access:write";

    /// Gong's scopes, as its OpenAPI document names them (the
    /// `spec/openapi.json` that the `gong-rs` crate ships), sorted. A
    /// credential made here may carry only these, so a mistyped scope is
    /// refused when the credential is made instead of failing every call.
    pub const KNOWN: &'static [&'static str] = &[
        "api:call-user-access:read",
        "api:call-user-access:write",
        "api:calls:create",
        "api:calls:read:basic",
        "api:calls:read:extensive",
        "api:calls:read:media-url",
        "api:calls:read:transcript",
        "api:coaching:read",
        "api:crm-calls:manual-association:read",
        "api:crm:get-objects",
        "api:crm:integration:delete",
        "api:crm:integration:register",
        "api:crm:integrations:read",
        "api:crm:schema",
        "api:crm:upload",
        "api:data-privacy:delete",
        "api:data-privacy:read",
        "api:digital-interactions:write",
        "api:engagement-data:write",
        "api:flows:read",
        "api:flows:write",
        "api:integration-settings:write",
        "api:library:read",
        "api:logs:read",
        "api:meetings:integration:status",
        "api:meetings:user:create",
        "api:meetings:user:delete",
        "api:meetings:user:update",
        // Gong names no scope for its permission profile operations; these
        // two are this project's (directory.md §3).
        "api:permission-profile:read",
        "api:permission-profile:write",
        "api:settings:scorecards:read",
        "api:settings:trackers:read",
        "api:stats:interaction",
        "api:stats:scorecards",
        "api:stats:user-actions",
        "api:stats:user-actions:detailed",
        "api:users:read",
        "api:workspaces:read",
    ];

    /// A scope is a non-empty run of printable ASCII without spaces, at most
    /// 100 characters; Gong's scopes look like `api:calls:read:basic`.
    pub fn parse(s: &str) -> Result<Self, String> {
        let ok = !s.is_empty() && s.len() <= 100 && s.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Self(s.to_owned()))
        } else {
            Err(format!(
                "{s:?} is not a scope (printable characters without spaces, such as {:?})",
                Self::READ
            ))
        }
    }

    /// A scope an operator gives for a new credential (a flag, a seed
    /// file): well formed and one of [`Scope::KNOWN`]. Stored credentials
    /// are read with [`Scope::parse`], so a database written before this
    /// check still loads.
    pub fn parse_known(s: &str) -> Result<Self, String> {
        let scope = Self::parse(s)?;
        if Self::KNOWN.contains(&s) {
            Ok(scope)
        } else {
            Err(format!(
                "{s:?} is not one of Gong's scopes, such as {:?} (`callaccess key create --help` lists them all)",
                Self::READ
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Public facts about an API key; the secret itself is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKeyInfo {
    pub access_key: String,
    pub company: CompanyId,
    /// `None`: full access, like Gong's API keys. `Some`: only these scopes.
    pub scopes: Option<Vec<Scope>>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// Public facts about a bearer token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenInfo {
    /// A handle for listing and revoking: random, drawn when the token is
    /// created, so it names the token without telling anything about it.
    pub id: String,
    pub company: CompanyId,
    pub scopes: Vec<Scope>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

/// SHA-256 of a secret (an API key's secret or a bearer token).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SecretDigest(pub [u8; 32]);

impl SecretDigest {
    /// The digest as 64 lower-case hex digits, as an export writes it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// A digest from 64 hex digits (either case); `None` for anything else.
    pub fn from_hex(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() != 64 || !bytes.iter().all(u8::is_ascii_hexdigit) {
            return None;
        }
        let mut digest = [0u8; 32];
        for (byte, pair) in digest.iter_mut().zip(bytes.chunks_exact(2)) {
            let pair = std::str::from_utf8(pair).ok()?;
            *byte = u8::from_str_radix(pair, 16).ok()?;
        }
        Some(Self(digest))
    }
}

impl fmt::Debug for SecretDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretDigest(..)")
    }
}

/// What the store knows about a presented credential; the edge decides.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCredential {
    /// What names the credential without revealing it: the access key of
    /// an API key, the id of a token.
    pub handle: String,
    pub company: CompanyId,
    pub digest: SecretDigest,
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The owning company's own rate limits, read with the credential so that
    /// a request needs one lookup before it is counted.
    pub rate_limit: RateLimit,
}

/// One of a company's rate-limit budgets, kept apart in shared state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RateWindow {
    Second,
    Day,
}

impl RateWindow {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Second => "second",
            Self::Day => "day",
        }
    }
}

/// The generic cell rate algorithm on one stored value, the theoretical
/// arrival time (`tat`, microseconds since the epoch): a budget of `burst`
/// requests that refills one request every `emission` microseconds.
///
/// Returns `Ok(new_tat)` if a request arriving at `now` is admitted, or
/// `Err(wait)`, the microseconds until one would be. Backends that share
/// limits across nodes store `tat` per (company, window) and apply this in
/// one transaction.
pub fn gcra(tat: Option<i64>, now: i64, emission: i64, burst: u32) -> Result<i64, i64> {
    let emission = emission.max(1);
    let tat = tat.unwrap_or(now).max(now);
    let new_tat = tat.saturating_add(emission);
    let allow_at = new_tat.saturating_sub(emission.saturating_mul(i64::from(burst)));
    if allow_at <= now {
        Ok(new_tat)
    } else {
        Err(allow_at - now)
    }
}

/// [`gcra`] for `count` requests that arrive together at `now` and must
/// each be admitted by every one of `budgets` (`(tat, emission, burst)`):
/// the first requests are admitted while every budget admits them, in
/// order, and the rest refused. Each budget's new tat, and why the rest
/// were refused: the budget's index and the microseconds until a request
/// would be admitted.
pub fn gcra_many(budgets: &[(Option<i64>, i64, u32)], now: i64, count: u32) -> GcraOutcome {
    let mut tats: Vec<Option<i64>> = budgets.iter().map(|(tat, _, _)| *tat).collect();
    let mut admitted = 0;
    let mut refused = None;
    'requests: while admitted < count {
        let mut next = Vec::with_capacity(budgets.len());
        for (index, ((_, emission, burst), tat)) in budgets.iter().zip(&tats).enumerate() {
            match gcra(*tat, now, *emission, *burst) {
                Ok(new_tat) => next.push(Some(new_tat)),
                Err(wait) => {
                    refused = Some((index, wait));
                    break 'requests;
                }
            }
        }
        tats = next;
        admitted += 1;
    }
    GcraOutcome {
        admitted,
        tats,
        refused,
    }
}

/// What [`gcra_many`] decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GcraOutcome {
    /// How many of the requests were admitted (the first ones).
    pub admitted: u32,
    /// Each budget's tat after them (unchanged where none was admitted).
    pub tats: Vec<Option<i64>>,
    /// Set when some were refused: which budget refused, and the
    /// microseconds until it would admit one.
    pub refused: Option<(usize, i64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewCompany {
    pub id: CompanyId,
    pub name: String,
    pub rate_limit: RateLimit,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewApiKey {
    pub access_key: String,
    pub company: CompanyId,
    pub digest: SecretDigest,
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    pub company: CompanyId,
    pub digest: SecretDigest,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<Timestamp>,
}

/// The calls and users named by one PUT or DELETE, merged: each call once, in
/// the order it first appears, with the union of its user ids.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccessChange {
    items: Vec<(CallId, Vec<UserId>)>,
}

impl AccessChange {
    pub fn new<I, U>(items: I) -> Self
    where
        I: IntoIterator<Item = (CallId, U)>,
        U: IntoIterator<Item = UserId>,
    {
        let mut merged: Vec<(CallId, Vec<UserId>)> = Vec::new();
        let mut position = std::collections::HashMap::new();
        for (call, users) in items {
            let slot = *position.entry(call).or_insert_with(|| {
                merged.push((call, Vec::new()));
                merged.len() - 1
            });
            merged[slot].1.extend(users);
        }
        for (_, users) in &mut merged {
            let mut seen = std::collections::HashSet::with_capacity(users.len());
            users.retain(|u| seen.insert(*u));
        }
        Self { items: merged }
    }

    pub fn items(&self) -> &[(CallId, Vec<UserId>)] {
        &self.items
    }

    pub fn calls(&self) -> impl Iterator<Item = CallId> + '_ {
        self.items.iter().map(|(c, _)| *c)
    }

    /// Distinct user ids across the whole change, in first-seen order.
    pub fn users(&self) -> Vec<UserId> {
        let mut seen = std::collections::HashSet::new();
        self.items
            .iter()
            .flat_map(|(_, us)| us.iter().copied())
            .filter(|u| seen.insert(*u))
            .collect()
    }

    pub fn pairs(&self) -> impl Iterator<Item = (CallId, UserId)> + '_ {
        self.items
            .iter()
            .flat_map(|(c, us)| us.iter().map(move |u| (*c, *u)))
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }
}

/// The API grants of one call, as POST lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CallGrants {
    pub call: CallId,
    /// Ascending by user id.
    pub users: Vec<UserId>,
}

/// Every user who can open one call, each with every route, for operators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallAccessFacts {
    pub call: Call,
    /// Ascending by user id.
    pub viewers: Vec<Viewer>,
}

impl CallAccessFacts {
    /// The users with a route that `is` accepts, ascending.
    pub fn users_by(&self, is: impl Fn(&crate::access::Route) -> bool) -> Vec<UserId> {
        self.viewers
            .iter()
            .filter(|viewer| viewer.routes.iter().any(&is))
            .map(|viewer| viewer.user)
            .collect()
    }

    /// The users with an API grant, ascending.
    pub fn api_grants(&self) -> Vec<UserId> {
        self.users_by(|route| matches!(route, crate::access::Route::ApiGrant(_)))
    }

    /// The users the call is shared with, ascending.
    pub fn shares(&self) -> Vec<UserId> {
        self.users_by(|route| matches!(route, crate::access::Route::Shared))
    }

    /// The users whose profile opens the call at `level`, ascending.
    pub fn by_profile(&self, level: CallsAccess) -> Vec<UserId> {
        self.users_by(
            |route| matches!(route, crate::access::Route::Profile { level: l, .. } if *l == level),
        )
    }
}

/// One user who can open a call, and every way they can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Viewer {
    pub user: UserId,
    pub routes: Vec<crate::access::Route>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn call(n: i64) -> CallId {
        CallId::from_i64(n).unwrap()
    }
    fn user(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }

    #[test]
    fn access_change_merges_repeated_calls_and_users() {
        let change = AccessChange::new(vec![
            (call(2), vec![user(1), user(1), user(3)]),
            (call(1), vec![]),
            (call(2), vec![user(3), user(4)]),
        ]);
        assert_eq!(
            change.items(),
            &[
                (call(2), vec![user(1), user(3), user(4)]),
                (call(1), vec![])
            ]
        );
        assert_eq!(change.users(), vec![user(1), user(3), user(4)]);
        assert_eq!(change.pairs().count(), 3);
    }

    #[test]
    fn timestamps_print_and_parse_rfc3339() {
        let t = Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        assert_eq!(t.unix(), 1_893_456_000);
        assert_eq!(t.to_string(), "2030-01-01T00:00:00Z");
        assert!(Timestamp::parse_rfc3339("2030-01-01").is_err());
    }

    #[test]
    fn gcra_many_admits_what_every_budget_admits_in_turn() {
        let second = (None, 100_000, 3);
        let day = (None, 1_000_000, 2);
        // Two budgets: the tighter one decides, and both advance together.
        let outcome = gcra_many(&[second, day], 0, 5);
        assert_eq!(outcome.admitted, 2);
        assert_eq!(outcome.refused, Some((1, 1_000_000)));
        let one_by_one = {
            let (mut s, mut d) = (None, None);
            for _ in 0..2 {
                s = Some(gcra(s, 0, 100_000, 3).unwrap());
                d = Some(gcra(d, 0, 1_000_000, 2).unwrap());
            }
            vec![s, d]
        };
        assert_eq!(outcome.tats, one_by_one);
        // Nothing asked, nothing changed.
        let none = gcra_many(&[second], 0, 0);
        assert_eq!(
            (none.admitted, none.tats, none.refused),
            (0, vec![None], None)
        );
        // All fit.
        let all = gcra_many(&[second], 0, 3);
        assert_eq!((all.admitted, all.refused), (3, None));
    }

    #[test]
    fn gcra_admits_a_burst_then_one_per_emission() {
        let (emission, burst) = (1_000_000, 3);
        let mut tat = None;
        for _ in 0..3 {
            tat = Some(gcra(tat, 0, emission, burst).unwrap());
        }
        assert_eq!(gcra(tat, 0, emission, burst), Err(1_000_000));
        assert_eq!(gcra(tat, 400_000, emission, burst), Err(600_000));
        let after = gcra(tat, 1_000_000, emission, burst).unwrap();
        assert_eq!(
            gcra(Some(after), 1_000_000, emission, burst),
            Err(1_000_000)
        );
        // A long pause refills the whole budget, never more.
        let rested = Some(after);
        let mut t = rested;
        for _ in 0..3 {
            t = Some(gcra(t, 100_000_000, emission, burst).unwrap());
        }
        assert!(gcra(t, 100_000_000, emission, burst).is_err());
    }

    #[test]
    fn scopes_reject_blanks() {
        assert!(Scope::parse(Scope::READ).is_ok());
        assert!(Scope::parse("").is_err());
        assert!(Scope::parse("a b").is_err());
    }

    #[test]
    fn only_gongs_scopes_are_known() {
        assert!(Scope::KNOWN.contains(&Scope::READ));
        assert!(Scope::KNOWN.contains(&Scope::WRITE));
        assert!(
            Scope::KNOWN.windows(2).all(|w| w[0] < w[1]),
            "sorted, once each"
        );
        for known in Scope::KNOWN {
            assert_eq!(Scope::parse_known(known).unwrap().as_str(), *known);
        }
        let typo = Scope::parse_known("api:call-user-acess:read").unwrap_err();
        assert_eq!(
            typo,
            "\"api:call-user-acess:read\" is not one of Gong's scopes, such as \"api:call-user-access:read\" \
             (`callaccess key create --help` lists them all)"
        );
        assert!(Scope::parse_known("bogus:scope").is_err());
        // A malformed one is told so, as before.
        assert!(Scope::parse_known("a b")
            .unwrap_err()
            .contains("is not a scope"));
        // Stored values outside the list still load.
        assert!(Scope::parse("bogus:scope").is_ok());
    }
}
