//! Applying a seed, decided once: what must hold against the database,
//! and the writes that apply it, in order. A backend fetches the facts
//! ([`needs`] says which), asks for the [`plan`], and executes each
//! [`SeedWrite`] in one transaction.

use std::collections::{HashMap, HashSet};

use super::{
    ExternalReference, ReferenceTarget, Seed, SeedApiKey, SeedAssignment, SeedCompany, SeedToken,
};
use crate::access::{check_manager, OrgChart, UserFacts};
use crate::admin::{Directory, Needs};
use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};
use crate::model::{Call, CallsAccess, Profile, RateLimit, Timestamp, User, Workspace};
use crate::secret::generate_token_id;
use crate::store::StoreError;

/// One write of a seed. Every write creates or updates; none deletes.
/// Creation times and revocations are history, not settings: an update
/// keeps them, so re-applying a seed never revives a revoked key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[expect(
    clippy::large_enum_variant,
    reason = "a plan is a list of writes executed once; boxing calls would only add allocations"
)]
pub enum SeedWrite {
    /// Create the company (created at `created_at`, or now), or update its
    /// name and limits.
    Company {
        id: CompanyId,
        name: String,
        rate_limit: RateLimit,
        created_at: Option<Timestamp>,
    },
    /// Create the key (created at `key.created_at`, or now), or update its
    /// secret, scopes and expiry; then, with `key.revoked_at`, revoke it
    /// unless it is revoked already. The plan made sure the key is not
    /// another company's.
    ApiKey { company: CompanyId, key: SeedApiKey },
    /// Create the token (with handle `id`, the file's or a fresh one, created
    /// at `token.created_at` or now), or update its scopes and expiry; then
    /// revoke it as [`SeedWrite::ApiKey`] does.
    Token {
        company: CompanyId,
        id: String,
        token: SeedToken,
    },
    /// Create the workspace, or update its name and description. The first
    /// workspace a company gets becomes its default.
    Workspace(Workspace),
    /// Unless the company has a default workspace already, create one
    /// named "Default" with this id and make it the default. Planned after
    /// a company's workspaces, so a company always ends up with one.
    DefaultWorkspace { company: CompanyId, id: WorkspaceId },
    /// Create the profile, or replace its fields (its workspace stays).
    Profile(Profile),
    /// Create the user, or update their email, names, title and `active`.
    /// Their manager and profiles are separate writes (`calls_access` and
    /// `manager_id` are not written by this one): a manager may be a user
    /// written later.
    User(User),
    /// Set (or clear) the user's manager; the plan checked for loops over
    /// the database and the whole file.
    Manager {
        company: CompanyId,
        user: UserId,
        manager: Option<UserId>,
    },
    /// Give the user the profile, replacing theirs in its workspace.
    AssignProfile {
        company: CompanyId,
        user: UserId,
        profile: ProfileId,
    },
    /// The `callsAccess` shorthand: what [`crate::Store::set_calls_access`]
    /// does.
    CallsAccess {
        company: CompanyId,
        user: UserId,
        level: CallsAccess,
    },
    /// Create the call, or update it; its participants become exactly
    /// these. Without a workspace it goes to the company's default.
    Call(Call),
    /// Record the share unless it exists.
    Share {
        company: CompanyId,
        call: CallId,
        user: UserId,
    },
    /// Record the grant unless it exists. Seed grants are taken as given,
    /// even for users who could open the call otherwise: the file states
    /// the grant table.
    ApiGrant {
        company: CompanyId,
        call: CallId,
        user: UserId,
    },
}

/// Everything [`plan`] asks the directory about: what the file refers to
/// but does not define, its companies (with their default workspaces), its
/// credentials, workspace and profile ids (unique across the database),
/// `clientUniqueId`s, and the chain of managers above every `managerId`.
pub fn needs(seed: &Seed) -> Needs {
    let mut needs = Needs::default();
    for reference in seed.external_references() {
        let company = reference.company;
        match reference.target {
            ReferenceTarget::User(user) => needs.users.push((company, user)),
            ReferenceTarget::Call(call) => needs.calls.push((company, call)),
            ReferenceTarget::Workspace(workspace) => needs.workspaces.push(workspace),
            ReferenceTarget::Profile(profile) => needs.profiles.push(profile),
        }
    }
    for company in &seed.companies {
        needs.companies.push(company.id);
        needs
            .keys
            .extend(company.api_keys.iter().map(|key| key.access_key.clone()));
        needs
            .token_digests
            .extend(company.tokens.iter().map(|token| token.digest));
        needs
            .token_ids
            .extend(company.tokens.iter().filter_map(|token| token.id.clone()));
        needs
            .workspaces
            .extend(company.workspaces.iter().map(|w| w.id));
        needs.profiles.extend(company.profiles.iter().map(|p| p.id));
        needs.client_ids.extend(
            company
                .calls
                .iter()
                .filter_map(|c| c.client_unique_id.clone())
                .map(|id| (company.id, id)),
        );
        // A walk up from a file's manager follows the file where it sets a
        // manager and the database elsewhere; every database step lies on
        // the chain above some `managerId` of the file.
        needs.chains.extend(
            company
                .users
                .iter()
                .filter_map(|u| u.manager_id)
                .map(|manager| (company.id, manager)),
        );
    }
    needs
}

/// The writes that apply `seed`, or `SeedRejected` with one message per
/// problem (each starting with its JSON path) if it does not fit the
/// database. Nothing is to be written unless the whole plan is returned.
///
/// Per company, in this order: the company, its keys and tokens, its
/// workspaces and then the default one (a no-op when it has one), users,
/// profiles, managers, profile assignments and `callsAccess`, calls,
/// shares and grants; each write finds what it names written before it.
pub fn plan(seed: &Seed, d: &impl Directory) -> Result<Vec<SeedWrite>, StoreError> {
    let mut problems = Vec::new();
    for reference in seed.external_references() {
        if !exists(d, &reference, &Written::default())? {
            problems.push(reference.missing_message());
        }
    }
    credential_owners(seed, d, &mut problems)?;
    for company in &seed.companies {
        directory_ids(company, d, &mut problems)?;
        profile_placement(company, d, &mut problems)?;
        manager_loops(company, d, &mut problems)?;
        client_ids(company, d, &mut problems)?;
    }
    if !problems.is_empty() {
        return Err(StoreError::SeedRejected(problems));
    }

    // The parser listed every reference the file leaves to the database,
    // and all were found. Each reference of a call, share or grant is still
    // verified as its write is planned — against the database and what the
    // plan wrote before it — so that one the list missed is reported like
    // any other.
    let mut writes = Vec::new();
    let mut written = Written::default();
    for seed in &seed.companies {
        let company = seed.id;
        writes.push(SeedWrite::Company {
            id: company,
            name: seed.name.clone(),
            rate_limit: seed.rate_limit,
            created_at: seed.created_at,
        });
        writes.extend(seed.api_keys.iter().map(|key| SeedWrite::ApiKey {
            company,
            key: key.clone(),
        }));
        writes.extend(seed.tokens.iter().map(|token| SeedWrite::Token {
            company,
            id: token.id.clone().unwrap_or_else(generate_token_id),
            token: token.clone(),
        }));
        for workspace in &seed.workspaces {
            written.workspaces.insert((company, workspace.id));
            writes.push(SeedWrite::Workspace(Workspace {
                company,
                ..workspace.clone()
            }));
        }
        writes.push(SeedWrite::DefaultWorkspace {
            company,
            id: WorkspaceId::random(),
        });
        for user in &seed.users {
            written.users.insert((company, user.id));
            writes.push(SeedWrite::User(User {
                company,
                ..user.clone()
            }));
        }
        writes.extend(seed.profiles.iter().map(|profile| {
            SeedWrite::Profile(Profile {
                company,
                ..profile.clone()
            })
        }));
        writes.extend(seed.users.iter().filter_map(|user| {
            user.manager_id.map(|manager| SeedWrite::Manager {
                company,
                user: user.id,
                manager: Some(manager),
            })
        }));
        writes.extend(seed.assignments.iter().map(|a| SeedWrite::AssignProfile {
            company,
            user: a.user,
            profile: a.profile,
        }));
        writes.extend(seed.users.iter().filter_map(|user| {
            user.calls_access.map(|level| SeedWrite::CallsAccess {
                company,
                user: user.id,
                level,
            })
        }));
        for (index, call) in seed.calls.iter().enumerate() {
            let path = format!("{}.calls[{index}]", seed.path);
            let reference = |path: String, target| ExternalReference {
                path,
                company,
                target,
            };
            let mut complete = verify(
                d,
                reference(
                    format!("{path}.primaryUserId"),
                    ReferenceTarget::User(call.primary_user_id),
                ),
                &written,
                &mut problems,
            )?;
            for (position, &participant) in call.participant_ids.iter().enumerate() {
                complete &= verify(
                    d,
                    reference(
                        format!("{path}.participantIds[{position}]"),
                        ReferenceTarget::User(participant),
                    ),
                    &written,
                    &mut problems,
                )?;
            }
            if let Some(workspace) = call.workspace {
                complete &= verify(
                    d,
                    reference(
                        format!("{path}.workspaceId"),
                        ReferenceTarget::Workspace(workspace),
                    ),
                    &written,
                    &mut problems,
                )?;
            }
            if complete {
                written.calls.insert((company, call.id));
                // The call belongs to the company being written, whatever
                // the parsed value says.
                writes.push(SeedWrite::Call(Call {
                    company,
                    ..call.clone()
                }));
            }
        }
        for (links, is_grant) in [(&seed.shares, false), (&seed.api_grants, true)] {
            for link in links {
                let mut check = |field: &str, target| {
                    let path = format!("{}.{field}", link.path);
                    let reference = ExternalReference {
                        path,
                        company,
                        target,
                    };
                    verify(d, reference, &written, &mut problems)
                };
                let call_ok = check("callId", ReferenceTarget::Call(link.call))?;
                let user_ok = check("userId", ReferenceTarget::User(link.user))?;
                if !(call_ok && user_ok) {
                    continue;
                }
                let (call, user) = (link.call, link.user);
                writes.push(if is_grant {
                    SeedWrite::ApiGrant {
                        company,
                        call,
                        user,
                    }
                } else {
                    SeedWrite::Share {
                        company,
                        call,
                        user,
                    }
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::SeedRejected(problems));
    }
    Ok(writes)
}

/// What the plan writes before a later write refers to it.
#[derive(Default)]
struct Written {
    users: HashSet<(CompanyId, UserId)>,
    calls: HashSet<(CompanyId, CallId)>,
    workspaces: HashSet<(CompanyId, WorkspaceId)>,
}

fn exists(
    d: &impl Directory,
    reference: &ExternalReference,
    written: &Written,
) -> Result<bool, StoreError> {
    let company = reference.company;
    Ok(match reference.target {
        ReferenceTarget::User(user) => {
            written.users.contains(&(company, user)) || d.user_exists(company, user)?
        }
        ReferenceTarget::Call(call) => {
            written.calls.contains(&(company, call)) || d.call_exists(company, call)?
        }
        ReferenceTarget::Workspace(workspace) => {
            written.workspaces.contains(&(company, workspace))
                || d.workspace_owner(workspace)? == Some(company)
        }
        ReferenceTarget::Profile(profile) => {
            matches!(d.profile_home(profile)?, Some((owner, _)) if owner == company)
        }
    })
}

/// Records `reference` as a problem unless its target exists.
fn verify(
    d: &impl Directory,
    reference: ExternalReference,
    written: &Written,
    problems: &mut Vec<String>,
) -> Result<bool, StoreError> {
    let found = exists(d, &reference, written)?;
    if !found {
        problems.push(reference.missing_message());
    }
    Ok(found)
}

/// Access keys and tokens are unique across companies. A credential may
/// already be another company's, in the database or earlier in the file.
fn credential_owners(
    seed: &Seed,
    d: &impl Directory,
    problems: &mut Vec<String>,
) -> Result<(), StoreError> {
    let mut key_owners: HashMap<&str, CompanyId> = HashMap::new();
    let mut token_owners = HashMap::new();
    for company in &seed.companies {
        for key in &company.api_keys {
            let owner = match key_owners.get(key.access_key.as_str()) {
                Some(owner) => Some(*owner),
                None => d.key_owner(&key.access_key)?,
            };
            if owner.is_some_and(|owner| owner != company.id) {
                problems.push(format!(
                    "{}.accessKey: \"{}\" already belongs to another company",
                    key.path, key.access_key
                ));
            } else {
                key_owners.insert(&key.access_key, company.id);
            }
        }
        for token in &company.tokens {
            let owner = match token_owners.get(&token.digest) {
                Some(owner) => Some(*owner),
                None => d.token_owner(&token.digest)?,
            };
            if owner.is_some_and(|owner| owner != company.id) {
                problems.push(format!(
                    "{}.token: this token already belongs to another company",
                    token.path
                ));
            } else {
                token_owners.insert(token.digest, company.id);
            }
            // A new token with its own id needs that id free; a stored one
            // keeps the id it has.
            if let Some(id) = token.id.as_deref() {
                if owner.is_none() && d.token_id_taken(id)? {
                    problems.push(format!(
                        "{}.id: a token with id \"{id}\" already exists",
                        token.path
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Workspace and profile ids are unique across the database: one of
/// another company is refused, and a profile stays in its workspace.
fn directory_ids(
    seed: &SeedCompany,
    d: &impl Directory,
    problems: &mut Vec<String>,
) -> Result<(), StoreError> {
    for (i, workspace) in seed.workspaces.iter().enumerate() {
        if d.workspace_owner(workspace.id)?
            .is_some_and(|owner| owner != seed.id)
        {
            problems.push(format!(
                "{}.workspaces[{i}].id: workspace \"{}\" already belongs to another company",
                seed.path, workspace.id
            ));
        }
    }
    for (i, profile) in seed.profiles.iter().enumerate() {
        match d.profile_home(profile.id)? {
            Some((owner, _)) if owner != seed.id => problems.push(format!(
                "{}.profiles[{i}].id: permission profile \"{}\" already belongs to another company",
                seed.path, profile.id
            )),
            Some((_, home)) if home != profile.workspace => problems.push(format!(
                "{}.profiles[{i}].workspaceId: permission profile \"{}\" is in workspace \"{home}\"; a profile cannot move to another workspace",
                seed.path, profile.id
            )),
            _ => {}
        }
    }
    Ok(())
}

/// `profileIds` names at most one profile per workspace: one message for
/// each entry whose workspace an earlier entry of the same user has.
/// `home` says where a profile is; one it cannot place is not checked.
pub(super) fn one_per_workspace<E>(
    assignments: &[SeedAssignment],
    mut home: impl FnMut(ProfileId) -> Result<Option<WorkspaceId>, E>,
) -> Result<Vec<String>, E> {
    let mut first: HashMap<(UserId, WorkspaceId), &SeedAssignment> = HashMap::new();
    let mut clashes = Vec::new();
    for assignment in assignments {
        let Some(workspace) = home(assignment.profile)? else {
            continue;
        };
        match first.get(&(assignment.user, workspace)) {
            Some(earlier) => clashes.push(format!(
                "{}: permission profile \"{}\" is in workspace \"{workspace}\" like \"{}\" (at {}); a user holds one profile per workspace",
                assignment.path, assignment.profile, earlier.profile, earlier.path
            )),
            None => {
                first.insert((assignment.user, workspace), assignment);
            }
        }
    }
    Ok(clashes)
}

/// The company's default workspace once the seed is applied: the one it
/// has, or else the first the file gives it (or else a new one, which no
/// profile of the file can be in).
fn default_workspace(
    seed: &SeedCompany,
    d: &impl Directory,
) -> Result<Option<WorkspaceId>, StoreError> {
    Ok(d.default_workspace(seed.id)?
        .or_else(|| seed.workspaces.first().map(|w| w.id)))
}

/// One profile per user per workspace, over the file and the database;
/// and `callsAccess` (the shorthand for a profile of the default
/// workspace) never beside a profile of the default workspace.
fn profile_placement(
    seed: &SeedCompany,
    d: &impl Directory,
    problems: &mut Vec<String>,
) -> Result<(), StoreError> {
    let in_file: HashMap<ProfileId, WorkspaceId> =
        seed.profiles.iter().map(|p| (p.id, p.workspace)).collect();
    let home = |profile: ProfileId| -> Result<Option<WorkspaceId>, StoreError> {
        if let Some(workspace) = in_file.get(&profile) {
            return Ok(Some(*workspace));
        }
        Ok(match d.profile_home(profile)? {
            Some((owner, workspace)) if owner == seed.id => Some(workspace),
            _ => None,
        })
    };
    problems.extend(one_per_workspace(&seed.assignments, home)?);
    let Some(default) = default_workspace(seed, d)? else {
        return Ok(());
    };
    let shorthand: HashSet<UserId> = seed
        .users
        .iter()
        .filter(|u| u.calls_access.is_some())
        .map(|u| u.id)
        .collect();
    for assignment in &seed.assignments {
        if shorthand.contains(&assignment.user) && home(assignment.profile)? == Some(default) {
            problems.push(format!(
                "{}: permission profile \"{}\" is in the default workspace \"{default}\", where the user's callsAccess already gives them a profile; give one or the other",
                assignment.path, assignment.profile
            ));
        }
    }
    Ok(())
}

/// The org chart once the seed is applied: the file's `managerId` where it
/// gives one, the database's elsewhere.
struct SeedChart<'a, D> {
    d: &'a D,
    company: CompanyId,
    /// Every user of the file, with the manager the file gives them.
    file: HashMap<UserId, Option<UserId>>,
}

impl<D: Directory> OrgChart for SeedChart<'_, D> {
    fn user(&self, user: UserId) -> Result<Option<UserFacts>, StoreError> {
        let stored = || self.d.manager(self.company, user);
        Ok(match self.file.get(&user) {
            Some(Some(manager)) => Some(UserFacts {
                manager: Some(*manager),
            }),
            Some(None) => Some(UserFacts {
                manager: stored()?.flatten(),
            }),
            None => stored()?.map(|manager| UserFacts { manager }),
        })
    }
}

/// No loop of managers, over the database and the whole file: each loop
/// is reported once, at the first `managerId` of the file that closes it.
fn manager_loops(
    seed: &SeedCompany,
    d: &impl Directory,
    problems: &mut Vec<String>,
) -> Result<(), StoreError> {
    let chart = SeedChart {
        d,
        company: seed.id,
        file: seed.users.iter().map(|u| (u.id, u.manager_id)).collect(),
    };
    let mut reported: HashSet<Vec<UserId>> = HashSet::new();
    for (i, user) in seed.users.iter().enumerate() {
        let Some(manager) = user.manager_id else {
            continue;
        };
        match check_manager(&chart, seed.id, user.id, Some(manager)) {
            Ok(()) => {}
            Err(StoreError::ManagerLoop(members)) => {
                let mut key = members.clone();
                key.sort_unstable();
                key.dedup();
                if reported.insert(key) {
                    problems.push(format!(
                        "{}.users[{i}].managerId: {}",
                        seed.path,
                        StoreError::ManagerLoop(members)
                    ));
                }
            }
            // A manager that exists nowhere is reported as a missing
            // reference already.
            Err(StoreError::NoUser { .. }) => {}
            Err(other) => return Err(other),
        }
    }
    Ok(())
}

/// A `clientUniqueId` names one call of the company.
fn client_ids(
    seed: &SeedCompany,
    d: &impl Directory,
    problems: &mut Vec<String>,
) -> Result<(), StoreError> {
    for (i, call) in seed.calls.iter().enumerate() {
        let Some(client_unique_id) = &call.client_unique_id else {
            continue;
        };
        if let Some(existing) = d.call_with_client_id(seed.id, client_unique_id)? {
            if existing != call.id {
                let taken = StoreError::ClientUniqueIdTaken {
                    client_unique_id: client_unique_id.clone(),
                    call: existing,
                };
                problems.push(format!("{}.calls[{i}].clientUniqueId: {taken}", seed.path));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use serde_json::{json, Value};

    use super::*;
    use crate::admin::Known;

    fn c(n: i64) -> CompanyId {
        CompanyId::from_i64(n).unwrap()
    }
    fn u(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }
    fn w(n: i64) -> WorkspaceId {
        WorkspaceId::from_i64(n).unwrap()
    }
    fn p(n: i64) -> ProfileId {
        ProfileId::from_i64(n).unwrap()
    }

    /// Company 1 with workspace 5, profile 50 (managers-team, led by 11)
    /// in it, users 10 (holding 50, reporting to 11) and 11, and a call.
    fn file() -> Value {
        json!({"companies": [{
            "id": "1", "name": "Acme",
            "workspaces": [{"id": "5", "name": "Sales"}],
            "profiles": [{"id": "50", "workspaceId": "5", "name": "Leads",
                          "callsAccess": {"permissionLevel": "managers-team", "teamLeadIds": ["11"]}}],
            "users": [
                {"id": "10", "emailAddress": "a@x", "managerId": "11", "profileIds": ["50"]},
                {"id": "11", "emailAddress": "b@x", "callsAccess": "all"}
            ],
            "calls": [{"id": "100", "primaryUserId": "10", "workspaceId": "5", "isPrivate": true}],
            "shares": [{"callId": "100", "userId": "11"}]
        }]})
    }

    fn seed(value: &Value) -> Seed {
        Seed::parse(&value.to_string()).unwrap()
    }

    fn rejected(value: &Value, d: &Known) -> Vec<String> {
        match plan(&seed(value), d) {
            Err(StoreError::SeedRejected(messages)) => messages,
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    /// The kind of each write, in order.
    fn kinds(writes: &[SeedWrite]) -> Vec<&'static str> {
        writes
            .iter()
            .map(|write| match write {
                SeedWrite::Company { .. } => "company",
                SeedWrite::ApiKey { .. } => "key",
                SeedWrite::Token { .. } => "token",
                SeedWrite::Workspace(_) => "workspace",
                SeedWrite::DefaultWorkspace { .. } => "default workspace",
                SeedWrite::Profile(_) => "profile",
                SeedWrite::User(_) => "user",
                SeedWrite::Manager { .. } => "manager",
                SeedWrite::AssignProfile { .. } => "assign",
                SeedWrite::CallsAccess { .. } => "calls access",
                SeedWrite::Call(_) => "call",
                SeedWrite::Share { .. } => "share",
                SeedWrite::ApiGrant { .. } => "grant",
            })
            .collect()
    }

    #[test]
    fn writes_come_in_an_order_each_can_be_executed_in() {
        let writes = plan(&seed(&file()), &Known::default()).unwrap();
        assert_eq!(
            kinds(&writes),
            vec![
                "company",
                "workspace",
                "default workspace",
                "user",
                "user",
                "profile",
                "manager",
                "assign",
                "calls access",
                "call",
                "share"
            ]
        );
        assert!(writes.contains(&SeedWrite::Manager {
            company: c(1),
            user: u(10),
            manager: Some(u(11))
        }));
        assert!(writes.contains(&SeedWrite::AssignProfile {
            company: c(1),
            user: u(10),
            profile: p(50)
        }));
        assert!(writes.contains(&SeedWrite::CallsAccess {
            company: c(1),
            user: u(11),
            level: CallsAccess::All
        }));
        let call = writes
            .iter()
            .find_map(|write| match write {
                SeedWrite::Call(call) => Some(call),
                _ => None,
            })
            .unwrap();
        assert_eq!((call.workspace, call.is_private), (Some(w(5)), true));
    }

    #[test]
    fn needs_name_what_the_plan_asks() {
        let mut value = file();
        value["companies"][0]["users"][1]["managerId"] = json!("12");
        value["companies"][0]["users"][0]["profileIds"] = json!(["50", "60"]);
        value["companies"][0]["calls"][0]["clientUniqueId"] = json!("pbx-1");
        let needs = needs(&seed(&value));
        assert_eq!(needs.companies, vec![c(1)]);
        assert_eq!(needs.users, vec![(c(1), u(12))]);
        assert_eq!(needs.workspaces, vec![w(5)]);
        assert_eq!(needs.profiles, vec![p(60), p(50)]);
        assert_eq!(needs.client_ids, vec![(c(1), "pbx-1".to_owned())]);
        assert_eq!(needs.chains, vec![(c(1), u(11)), (c(1), u(12))]);
    }

    #[test]
    fn references_may_name_the_database() {
        let mut value = file();
        value["companies"][0]["workspaces"] = json!([]);
        value["companies"][0]["users"][1]["managerId"] = json!("12");
        value["companies"][0]["users"][0]["profileIds"] = json!(["50", "60"]);
        let mut known = Known::default();
        let missing = rejected(&value, &known);
        assert_eq!(
            missing,
            vec![
                "companies[0].profiles[0].workspaceId: workspace \"5\" does not exist in company \"1\"",
                "companies[0].users[0].profileIds[1]: permission profile \"60\" does not exist in company \"1\"",
                "companies[0].calls[0].workspaceId: workspace \"5\" does not exist in company \"1\"",
                "companies[0].users[1].managerId: user \"12\" does not exist in company \"1\"",
            ]
        );
        // Another company's workspace and profile read as unknown ones.
        known.workspace(w(5), c(2));
        known.profile(p(60), c(2), w(6));
        Known::manager(&mut known, c(1), u(12), None);
        assert_eq!(rejected(&value, &known).len(), 3);
        known.workspace(w(5), c(1));
        known.workspace(w(6), c(1));
        known.profile(p(60), c(1), w(6));
        assert!(plan(&seed(&value), &known).is_ok());
    }

    #[test]
    fn workspace_and_profile_ids_of_another_company_are_refused() {
        let mut known = Known::default();
        known.workspace(w(5), c(2));
        known.profile(p(50), c(2), w(8));
        assert_eq!(
            rejected(&file(), &known),
            vec![
                "companies[0].workspaces[0].id: workspace \"5\" already belongs to another company",
                "companies[0].profiles[0].id: permission profile \"50\" already belongs to another company",
            ]
        );
        // The company's own: updated, but a profile does not move.
        let mut known = Known::default();
        known.workspace(w(5), c(1));
        known.workspace(w(6), c(1));
        known.profile(p(50), c(1), w(6));
        assert_eq!(
            rejected(&file(), &known),
            vec!["companies[0].profiles[0].workspaceId: permission profile \"50\" is in workspace \"6\"; a profile cannot move to another workspace"]
        );
        known.profile(p(50), c(1), w(5));
        assert!(plan(&seed(&file()), &known).is_ok());
    }

    #[test]
    fn a_manager_loop_over_the_file_and_the_database_is_refused_once() {
        // In the file alone: 10 → 11 → 10.
        let mut value = file();
        value["companies"][0]["users"][1]["managerId"] = json!("10");
        assert_eq!(
            rejected(&value, &Known::default()),
            vec!["companies[0].users[0].managerId: a manager loop is not allowed: 10 reports to 11 reports to 10"]
        );
        // Through the database: 11 → 12 (file), 12 → 10 (stored).
        let mut value = file();
        value["companies"][0]["users"][1]["managerId"] = json!("12");
        let mut known = Known::default();
        Known::manager(&mut known, c(1), u(12), Some(u(10)));
        Known::manager(&mut known, c(1), u(10), None);
        assert_eq!(
            rejected(&value, &known),
            vec!["companies[0].users[0].managerId: a manager loop is not allowed: 10 reports to 11 reports to 12 reports to 10"]
        );
        // The file's manager replaces the stored one: 10 is stored under 12,
        // but the file moves 10 under 11, so no loop closes.
        let mut known = Known::default();
        Known::manager(&mut known, c(1), u(12), None);
        Known::manager(&mut known, c(1), u(10), Some(u(12)));
        assert!(plan(&seed(&value), &known).is_ok());
        // Oneself.
        let mut value = file();
        value["companies"][0]["users"][1]["managerId"] = json!("11");
        assert_eq!(
            rejected(&value, &Known::default()),
            vec![
                "companies[0].users[1].managerId: a manager loop is not allowed: 11 reports to 11"
            ]
        );
    }

    #[test]
    fn calls_access_and_a_profile_of_the_default_workspace_exclude_each_other() {
        // Workspace 5 is the new company's first, so its default.
        let mut value = file();
        value["companies"][0]["users"][0]["callsAccess"] = json!("own");
        let message = "companies[0].users[0].profileIds[0]: permission profile \"50\" is in the default workspace \"5\", where the user's callsAccess already gives them a profile; give one or the other";
        assert_eq!(rejected(&value, &Known::default()), vec![message]);
        // A company whose default is another workspace: no clash.
        let mut known = Known::default();
        known.company_default(c(1), w(9));
        assert!(plan(&seed(&value), &known).is_ok());
        // A stored profile of the stored default clashes too.
        let mut value = file();
        value["companies"][0]["users"][1]["profileIds"] = json!(["70"]);
        known.profile(p(70), c(1), w(9));
        assert_eq!(
            rejected(&value, &known),
            vec!["companies[0].users[1].profileIds[0]: permission profile \"70\" is in the default workspace \"9\", where the user's callsAccess already gives them a profile; give one or the other"]
        );
    }

    #[test]
    fn one_profile_per_workspace_counts_stored_profiles() {
        let mut value = file();
        value["companies"][0]["users"][0]["profileIds"] = json!(["50", "70"]);
        let mut known = Known::default();
        known.profile(p(70), c(1), w(5));
        assert_eq!(
            rejected(&value, &known),
            vec!["companies[0].users[0].profileIds[1]: permission profile \"70\" is in workspace \"5\" like \"50\" (at companies[0].users[0].profileIds[0]); a user holds one profile per workspace"]
        );
    }

    #[test]
    fn a_client_unique_id_of_another_call_is_refused() {
        let mut value = file();
        value["companies"][0]["calls"][0]["clientUniqueId"] = json!("pbx-1");
        let mut known = Known::default();
        known.client_id(c(1), "pbx-1".to_owned(), CallId::from_i64(100).unwrap());
        assert!(plan(&seed(&value), &known).is_ok(), "the call's own");
        known.client_id(c(1), "pbx-1".to_owned(), CallId::from_i64(7).unwrap());
        assert_eq!(
            rejected(&value, &known),
            vec!["companies[0].calls[0].clientUniqueId: a call with clientUniqueId \"pbx-1\" already exists: call 7"]
        );
    }

    #[test]
    fn a_plan_is_the_same_twice_but_for_fresh_ids() {
        // Applying twice is idempotent when each write creates or updates:
        // the plan itself depends only on the file and the database.
        let strip = |writes: Vec<SeedWrite>| -> Vec<SeedWrite> {
            writes
                .into_iter()
                .filter(|w| {
                    !matches!(
                        w,
                        SeedWrite::DefaultWorkspace { .. } | SeedWrite::Token { .. }
                    )
                })
                .collect()
        };
        let once = strip(plan(&seed(&file()), &Known::default()).unwrap());
        let twice = strip(plan(&seed(&file()), &Known::default()).unwrap());
        assert_eq!(once, twice);
    }
}
