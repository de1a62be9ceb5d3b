//! Seed files (`docs/SEED.md`): parsing with JSON-path messages, and the
//! validated form the store applies in one transaction.
//!
//! Parsing checks everything that can be checked without the database: JSON
//! syntax, field types, ids, enum values, duplicates, and references inside
//! the file. What can only be checked against the database (a reference to a
//! user that exists only there, an access key owned by another company) is
//! decided by [`plan`] over facts the store fetches ([`needs`]); the store
//! then executes the plan's writes in one transaction.
//!
//! [`export`] goes the other way: from the rows a store read into a
//! [`Snapshot`] to the seed document that reproduces them.

use serde::Serialize;

use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};
use crate::model::{Call, Profile, RateLimit, Scope, SecretDigest, Timestamp, User, Workspace};
use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seed {
    pub companies: Vec<SeedCompany>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedCompany {
    /// `companies[i]`, the prefix of every message about this company.
    pub path: String,
    pub id: CompanyId,
    pub name: String,
    /// `RateLimit::default()` (both `Default`) when the file has none.
    pub rate_limit: RateLimit,
    /// `createdAt`: when a new company was created (an export keeps it);
    /// `None` means now. An existing company keeps its own.
    pub created_at: Option<Timestamp>,
    pub api_keys: Vec<SeedApiKey>,
    pub tokens: Vec<SeedToken>,
    /// At `{path}.workspaces[i]`; the first is the default of a company
    /// that has none yet.
    pub workspaces: Vec<Workspace>,
    /// At `{path}.profiles[i]`.
    pub profiles: Vec<Profile>,
    /// At `{path}.users[i]`. `calls_access` is the file's `callsAccess`,
    /// `None` when not given (the user's profiles are left alone);
    /// `manager_id` is `managerId`, `None` when not given (the manager is
    /// left alone).
    pub users: Vec<User>,
    /// Every `profileIds` entry of every user, in file order.
    pub assignments: Vec<SeedAssignment>,
    /// At `{path}.calls[i]`.
    pub calls: Vec<Call>,
    pub shares: Vec<SeedLink>,
    pub api_grants: Vec<SeedLink>,
}

/// One entry of a user's `profileIds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedAssignment {
    /// `companies[i].users[j].profileIds[k]`
    pub path: String,
    pub user: UserId,
    pub profile: ProfileId,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedApiKey {
    /// `companies[i].apiKeys[j]`
    pub path: String,
    pub access_key: String,
    /// Of `accessKeySecret`, or `accessKeySecretDigest` as given.
    pub digest: SecretDigest,
    pub scopes: Option<Vec<Scope>>,
    pub expires_at: Option<Timestamp>,
    /// `createdAt` of a new key; `None` means now. A stored key keeps its own.
    pub created_at: Option<Timestamp>,
    /// `revokedAt`: the key is revoked (at the stored time if it was
    /// already). A seed never revives a revoked key.
    pub revoked_at: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedToken {
    /// `companies[i].tokens[j]`
    pub path: String,
    /// Of `token`, or `tokenDigest` as given.
    pub digest: SecretDigest,
    /// `id`: the handle of a new token (an export keeps it); `None` draws
    /// one. A stored token keeps its own.
    pub id: Option<String>,
    pub scopes: Vec<Scope>,
    pub expires_at: Option<Timestamp>,
    /// As [`SeedApiKey::created_at`].
    pub created_at: Option<Timestamp>,
    /// As [`SeedApiKey::revoked_at`].
    pub revoked_at: Option<Timestamp>,
}

/// A share or an API grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedLink {
    /// `companies[i].shares[j]` or `companies[i].apiGrants[j]`
    pub path: String,
    pub call: CallId,
    pub user: UserId,
}

/// A reference from the file to an entity the file does not define; the store
/// must find it in the database or reject the seed with
/// `"{path}: {kind} \"{id}\" does not exist in company \"{company}\""`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalReference {
    /// Full path of the field, e.g. `companies[0].shares[1].userId`.
    pub path: String,
    pub company: CompanyId,
    pub target: ReferenceTarget,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReferenceTarget {
    User(UserId),
    Call(CallId),
    Workspace(WorkspaceId),
    Profile(ProfileId),
}

impl ExternalReference {
    /// The message the store gives when the database lacks the target too:
    /// the path, then what [`StoreError`] says of the missing entity.
    pub fn missing_message(&self) -> String {
        let company = self.company;
        let error = match self.target {
            ReferenceTarget::User(user) => StoreError::NoUser { company, user },
            ReferenceTarget::Call(call) => StoreError::NoCall { company, call },
            ReferenceTarget::Workspace(workspace) => StoreError::NoWorkspace { company, workspace },
            ReferenceTarget::Profile(profile) => StoreError::NoProfile { company, profile },
        };
        format!("{}: {error}", self.path)
    }
}

/// What applying a seed did, for the operator.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedSummary {
    pub companies: usize,
    pub api_keys: usize,
    pub tokens: usize,
    pub workspaces: usize,
    pub profiles: usize,
    pub users: usize,
    pub calls: usize,
    pub shares: usize,
    pub api_grants: usize,
}

impl Seed {
    /// Parses and validates a seed file. On failure, one message per problem
    /// found, each starting with its JSON path (or `line L, column C` for
    /// syntax errors).
    pub fn parse(text: &str) -> Result<Seed, Vec<String>> {
        parse::parse(text)
    }

    /// Every reference to a user, call, workspace or profile that the file
    /// itself does not define (in the same company).
    pub fn external_references(&self) -> Vec<ExternalReference> {
        parse::external_references(self)
    }

    pub fn summary(&self) -> SeedSummary {
        let mut s = SeedSummary {
            companies: self.companies.len(),
            ..SeedSummary::default()
        };
        for c in &self.companies {
            s.api_keys += c.api_keys.len();
            s.tokens += c.tokens.len();
            s.workspaces += c.workspaces.len();
            s.profiles += c.profiles.len();
            s.users += c.users.len();
            s.calls += c.calls.len();
            s.shares += c.shares.len();
            s.api_grants += c.api_grants.len();
        }
        s
    }
}

/// The fields of a permission profile (Gong's `PermissionProfileDTO`) as
/// an operator gives them outside a seed file (`profile create --fields`):
/// each must be a field of the DTO with a value of its type. `id` is the
/// store's and is refused. One message per problem, each naming the field.
pub fn profile_fields(
    value: &serde_json::Value,
) -> Result<serde_json::Map<String, serde_json::Value>, Vec<String>> {
    parse::profile_fields(value)
}

mod export;
mod parse;
mod plan;

pub use export::{export, only_company, CompanySnapshot, ResetSummary, Snapshot};
pub use plan::{needs, plan, SeedWrite};
