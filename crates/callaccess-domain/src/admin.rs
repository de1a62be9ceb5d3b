//! What an admin change must satisfy, checked in a fixed order before the
//! backend writes it: the existence and duplicate checks of companies,
//! credentials, users, calls and shares. The messages are
//! [`StoreError`]'s. A backend answers [`Directory`] — SQLite from its
//! connection, PostgreSQL from what it fetched in one round trip
//! ([`Known`], filled for [`Needs`]) — and writes only once the check
//! passed, in the same transaction.

use std::collections::{HashMap, HashSet};

use crate::access::{OrgChart, UserFacts};
use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};
use crate::model::{
    Call, NewApiKey, NewCompany, NewToken, Profile, SecretDigest, User, UserUpdate, Workspace,
};
use crate::store::StoreError;

/// What the admin checks (and seeds) need to know of the stored data.
pub trait Directory {
    fn company_exists(&self, company: CompanyId) -> Result<bool, StoreError>;
    fn user_exists(&self, company: CompanyId, user: UserId) -> Result<bool, StoreError>;
    fn call_exists(&self, company: CompanyId, call: CallId) -> Result<bool, StoreError>;
    /// The company an access key belongs to, if it exists.
    fn key_owner(&self, access_key: &str) -> Result<Option<CompanyId>, StoreError>;
    /// The company a token belongs to, by its digest, if it exists.
    fn token_owner(&self, digest: &SecretDigest) -> Result<Option<CompanyId>, StoreError>;
    /// Whether a token with this handle exists.
    fn token_id_taken(&self, id: &str) -> Result<bool, StoreError>;
    /// The company a workspace belongs to, if it exists.
    fn workspace_owner(&self, workspace: WorkspaceId) -> Result<Option<CompanyId>, StoreError>;
    /// The company and workspace of a profile, if it exists.
    fn profile_home(
        &self,
        profile: ProfileId,
    ) -> Result<Option<(CompanyId, WorkspaceId)>, StoreError>;
    /// The call of the company that has this `clientUniqueId`, if any.
    fn call_with_client_id(
        &self,
        company: CompanyId,
        client_unique_id: &str,
    ) -> Result<Option<CallId>, StoreError>;
    /// A user's manager: `None` if the company has no such user.
    fn manager(
        &self,
        company: CompanyId,
        user: UserId,
    ) -> Result<Option<Option<UserId>>, StoreError>;
    /// The company's default workspace, if the company exists and has one
    /// (a seed checks `callsAccess` against the profiles of it).
    fn default_workspace(&self, company: CompanyId) -> Result<Option<WorkspaceId>, StoreError>;
}

/// One company's org chart, as a directory answers it.
struct ChartOf<'d, D: ?Sized> {
    d: &'d D,
    company: CompanyId,
}

impl<D: Directory + ?Sized> OrgChart for ChartOf<'_, D> {
    fn user(&self, user: UserId) -> Result<Option<UserFacts>, StoreError> {
        Ok(self
            .d
            .manager(self.company, user)?
            .map(|manager| UserFacts { manager }))
    }
}

/// The company's workspace, or `NoWorkspace` (another company's reads the
/// same as an unknown one).
pub fn workspace_of(
    d: &impl Directory,
    company: CompanyId,
    workspace: WorkspaceId,
) -> Result<(), StoreError> {
    if d.workspace_owner(workspace)? == Some(company) {
        Ok(())
    } else {
        Err(StoreError::NoWorkspace { company, workspace })
    }
}

/// The workspace of the company's profile, or `NoProfile`.
pub fn profile_of(
    d: &impl Directory,
    company: CompanyId,
    profile: ProfileId,
) -> Result<WorkspaceId, StoreError> {
    match d.profile_home(profile)? {
        Some((owner, workspace)) if owner == company => Ok(workspace),
        _ => Err(StoreError::NoProfile { company, profile }),
    }
}

/// A new workspace: its company exists, its id is not taken.
pub fn create_workspace(d: &impl Directory, workspace: &Workspace) -> Result<(), StoreError> {
    company_must_exist(d, workspace.company)?;
    if d.workspace_owner(workspace.id)?.is_some() {
        return Err(StoreError::WorkspaceExists(workspace.id));
    }
    Ok(())
}

/// A profile to create (`create`) or to replace: the workspace is the
/// company's, every team lead is a user of the company, the name is not
/// blank; a new id is not taken, a replaced profile is the company's and
/// stays in its workspace.
pub fn save_profile(d: &impl Directory, profile: &Profile, create: bool) -> Result<(), StoreError> {
    let company = profile.company;
    if create {
        workspace_of(d, company, profile.workspace)?;
        if d.profile_home(profile.id)?.is_some() {
            return Err(StoreError::ProfileExists(profile.id));
        }
    } else if profile_of(d, company, profile.id)? != profile.workspace {
        return Err(StoreError::Invalid(format!(
            "permission profile \"{}\" belongs to another workspace; a profile cannot move",
            profile.id
        )));
    }
    if profile.name.trim().is_empty() {
        return Err(StoreError::Invalid(
            "a permission profile needs a name".to_owned(),
        ));
    }
    let missing: Vec<UserId> = profile
        .calls
        .team_leads
        .iter()
        .copied()
        .filter(|&lead| !matches!(d.user_exists(company, lead), Ok(true)))
        .collect();
    if !missing.is_empty() {
        return Err(StoreError::UsersNotFound(missing));
    }
    Ok(())
}

/// Giving a user a profile: the user and the profile are the company's.
/// Answers the profile's workspace, where it replaces the user's profile.
pub fn assign_profile(
    d: &impl Directory,
    company: CompanyId,
    user: UserId,
    profile: ProfileId,
) -> Result<WorkspaceId, StoreError> {
    if !d.user_exists(company, user)? {
        return Err(StoreError::NoUser { company, user });
    }
    profile_of(d, company, profile)
}

/// A manager change: the user exists, the manager is a user of the
/// company, and no loop closes ([`crate::access::check_manager`]).
pub fn set_manager(
    d: &impl Directory,
    company: CompanyId,
    user: UserId,
    manager: Option<UserId>,
) -> Result<(), StoreError> {
    if !d.user_exists(company, user)? {
        return Err(StoreError::NoUser { company, user });
    }
    crate::access::check_manager(&ChartOf { d, company }, company, user, manager)
}

/// A change of several of a user's fields at once, checked in the order
/// the admin API has always answered: the user, then each profile
/// ([`assign_profile`]), then the manager ([`set_manager`]); the level of
/// `calls_access` needs no check. Answers the profiles to hold, one per
/// workspace (the later of two in one workspace), for the backend to write
/// after the manager, `active` and `calls_access`.
pub fn update_user(
    d: &impl Directory,
    company: CompanyId,
    user: UserId,
    change: &UserUpdate,
) -> Result<Vec<(WorkspaceId, ProfileId)>, StoreError> {
    if !d.user_exists(company, user)? {
        return Err(StoreError::NoUser { company, user });
    }
    let mut held: Vec<(WorkspaceId, ProfileId)> = Vec::new();
    for &profile in &change.profiles {
        let workspace = assign_profile(d, company, user, profile)?;
        match held.iter_mut().find(|(w, _)| *w == workspace) {
            Some(slot) => slot.1 = profile,
            None => held.push((workspace, profile)),
        }
    }
    if let Some(manager) = change.manager {
        set_manager(d, company, user, manager)?;
    }
    Ok(held)
}

/// Marking a call private or not: the call exists.
pub fn set_private(d: &impl Directory, company: CompanyId, call: CallId) -> Result<(), StoreError> {
    if d.call_exists(company, call)? {
        Ok(())
    } else {
        Err(StoreError::NoCall { company, call })
    }
}

fn company_must_exist(d: &impl Directory, company: CompanyId) -> Result<(), StoreError> {
    if d.company_exists(company)? {
        Ok(())
    } else {
        Err(StoreError::NoCompany(company))
    }
}

pub fn create_company(d: &impl Directory, new: &NewCompany) -> Result<(), StoreError> {
    if d.company_exists(new.id)? {
        return Err(StoreError::CompanyExists(new.id));
    }
    Ok(())
}

pub fn create_api_key(d: &impl Directory, key: &NewApiKey) -> Result<(), StoreError> {
    company_must_exist(d, key.company)?;
    if d.key_owner(&key.access_key)?.is_some() {
        return Err(StoreError::KeyExists(key.access_key.clone()));
    }
    Ok(())
}

/// Whether the token may be created under the handle `id` (drawn by
/// [`crate::secret::generate_token_id`]): its company exists, and neither
/// the handle nor the token is taken. A clash of 64-bit random handles is
/// not expected in practice; it is refused like a clash of tokens.
pub fn create_token(d: &impl Directory, token: &NewToken, id: &str) -> Result<(), StoreError> {
    company_must_exist(d, token.company)?;
    if d.token_id_taken(id)? || d.token_owner(&token.digest)?.is_some() {
        return Err(StoreError::TokenExists);
    }
    Ok(())
}

pub fn add_user(d: &impl Directory, user: &User) -> Result<(), StoreError> {
    company_must_exist(d, user.company)?;
    if d.user_exists(user.company, user.id)? {
        return Err(StoreError::UserExists {
            company: user.company,
            user: user.id,
        });
    }
    Ok(())
}

/// The company first, then the primary user, then each participant in
/// order, then the workspace, then that the call is new and its
/// `clientUniqueId` unused.
pub fn add_call(d: &impl Directory, call: &Call) -> Result<(), StoreError> {
    let company = call.company;
    company_must_exist(d, company)?;
    if !d.user_exists(company, call.primary_user_id)? {
        return Err(StoreError::NoPrimaryUser {
            company,
            user: call.primary_user_id,
        });
    }
    for &user in &call.participant_ids {
        if !d.user_exists(company, user)? {
            return Err(StoreError::NoParticipant { company, user });
        }
    }
    if let Some(workspace) = call.workspace {
        workspace_of(d, company, workspace)?;
    }
    if d.call_exists(company, call.id)? {
        return Err(StoreError::CallExists {
            company,
            call: call.id,
        });
    }
    if let Some(client_unique_id) = &call.client_unique_id {
        if let Some(existing) = d.call_with_client_id(company, client_unique_id)? {
            return Err(StoreError::ClientUniqueIdTaken {
                client_unique_id: client_unique_id.clone(),
                call: existing,
            });
        }
    }
    Ok(())
}

/// The call first, then the user.
pub fn add_share(
    d: &impl Directory,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<(), StoreError> {
    if !d.call_exists(company, call)? {
        return Err(StoreError::NoCall { company, call });
    }
    if !d.user_exists(company, user)? {
        return Err(StoreError::NoUser { company, user });
    }
    Ok(())
}

/// The stored facts a check is about, for a backend that fetches them all
/// at once before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Companies whose existence is needed, with their default workspace
    /// ([`Known::company_default`]).
    pub companies: Vec<CompanyId>,
    pub users: Vec<(CompanyId, UserId)>,
    pub calls: Vec<(CompanyId, CallId)>,
    pub keys: Vec<String>,
    pub token_digests: Vec<SecretDigest>,
    pub token_ids: Vec<String>,
    pub workspaces: Vec<WorkspaceId>,
    pub profiles: Vec<ProfileId>,
    pub client_ids: Vec<(CompanyId, String)>,
    /// Users whose whole chain of managers is needed (a manager change).
    pub chains: Vec<(CompanyId, UserId)>,
}

impl Needs {
    pub fn create_company(new: &NewCompany) -> Self {
        Self {
            companies: vec![new.id],
            ..Self::default()
        }
    }

    pub fn create_api_key(key: &NewApiKey) -> Self {
        Self {
            companies: vec![key.company],
            keys: vec![key.access_key.clone()],
            ..Self::default()
        }
    }

    pub fn create_token(token: &NewToken, id: &str) -> Self {
        Self {
            companies: vec![token.company],
            token_digests: vec![token.digest],
            token_ids: vec![id.to_owned()],
            ..Self::default()
        }
    }

    pub fn add_user(user: &User) -> Self {
        Self {
            companies: vec![user.company],
            users: vec![(user.company, user.id)],
            ..Self::default()
        }
    }

    pub fn add_call(call: &Call) -> Self {
        Self {
            companies: vec![call.company],
            users: call
                .participant_ids
                .iter()
                .chain([&call.primary_user_id])
                .map(|user| (call.company, *user))
                .collect(),
            calls: vec![(call.company, call.id)],
            workspaces: call.workspace.into_iter().collect(),
            client_ids: call
                .client_unique_id
                .iter()
                .map(|id| (call.company, id.clone()))
                .collect(),
            ..Self::default()
        }
    }

    pub fn create_workspace(workspace: &Workspace) -> Self {
        Self {
            companies: vec![workspace.company],
            workspaces: vec![workspace.id],
            ..Self::default()
        }
    }

    pub fn save_profile(profile: &Profile) -> Self {
        Self {
            workspaces: vec![profile.workspace],
            profiles: vec![profile.id],
            users: profile
                .calls
                .team_leads
                .iter()
                .map(|lead| (profile.company, *lead))
                .collect(),
            ..Self::default()
        }
    }

    pub fn assign_profile(company: CompanyId, user: UserId, profile: ProfileId) -> Self {
        Self {
            users: vec![(company, user)],
            profiles: vec![profile],
            ..Self::default()
        }
    }

    pub fn set_manager(company: CompanyId, user: UserId, manager: Option<UserId>) -> Self {
        Self {
            users: vec![(company, user)],
            chains: manager.into_iter().map(|m| (company, m)).collect(),
            ..Self::default()
        }
    }

    pub fn update_user(company: CompanyId, user: UserId, change: &UserUpdate) -> Self {
        Self {
            users: vec![(company, user)],
            profiles: change.profiles.clone(),
            chains: change
                .manager
                .flatten()
                .map(|m| (company, m))
                .into_iter()
                .collect(),
            ..Self::default()
        }
    }

    pub fn add_share(company: CompanyId, call: CallId, user: UserId) -> Self {
        Self {
            users: vec![(company, user)],
            calls: vec![(company, call)],
            ..Self::default()
        }
    }
}

/// Facts fetched for [`Needs`]; what was not fetched reads as absent.
#[derive(Debug, Clone, Default)]
pub struct Known {
    companies: HashSet<CompanyId>,
    users: HashSet<(CompanyId, UserId)>,
    calls: HashSet<(CompanyId, CallId)>,
    key_owners: HashMap<String, CompanyId>,
    token_owners: HashMap<SecretDigest, CompanyId>,
    token_ids: HashSet<String>,
    workspace_owners: HashMap<WorkspaceId, CompanyId>,
    profile_homes: HashMap<ProfileId, (CompanyId, WorkspaceId)>,
    client_ids: HashMap<(CompanyId, String), CallId>,
    managers: HashMap<(CompanyId, UserId), Option<UserId>>,
    default_workspaces: HashMap<CompanyId, WorkspaceId>,
}

impl Known {
    pub fn workspace(&mut self, workspace: WorkspaceId, owner: CompanyId) {
        self.workspace_owners.insert(workspace, owner);
    }
    pub fn profile(&mut self, profile: ProfileId, company: CompanyId, workspace: WorkspaceId) {
        self.profile_homes.insert(profile, (company, workspace));
    }
    pub fn client_id(&mut self, company: CompanyId, client_unique_id: String, call: CallId) {
        self.client_ids.insert((company, client_unique_id), call);
    }
    /// A user of a chain, with their manager (the user exists).
    pub fn manager(&mut self, company: CompanyId, user: UserId, manager: Option<UserId>) {
        self.users.insert((company, user));
        self.managers.insert((company, user), manager);
    }
    pub fn company(&mut self, company: CompanyId) {
        self.companies.insert(company);
    }
    /// A company (it exists) and its default workspace.
    pub fn company_default(&mut self, company: CompanyId, workspace: WorkspaceId) {
        self.companies.insert(company);
        self.default_workspaces.insert(company, workspace);
    }
    pub fn user(&mut self, company: CompanyId, user: UserId) {
        self.users.insert((company, user));
    }
    pub fn call(&mut self, company: CompanyId, call: CallId) {
        self.calls.insert((company, call));
    }
    pub fn key(&mut self, access_key: String, owner: CompanyId) {
        self.key_owners.insert(access_key, owner);
    }
    pub fn token(&mut self, digest: SecretDigest, id: String, owner: CompanyId) {
        self.token_owners.insert(digest, owner);
        self.token_ids.insert(id);
    }
}

impl Directory for Known {
    fn company_exists(&self, company: CompanyId) -> Result<bool, StoreError> {
        Ok(self.companies.contains(&company))
    }
    fn user_exists(&self, company: CompanyId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.users.contains(&(company, user)))
    }
    fn call_exists(&self, company: CompanyId, call: CallId) -> Result<bool, StoreError> {
        Ok(self.calls.contains(&(company, call)))
    }
    fn key_owner(&self, access_key: &str) -> Result<Option<CompanyId>, StoreError> {
        Ok(self.key_owners.get(access_key).copied())
    }
    fn token_owner(&self, digest: &SecretDigest) -> Result<Option<CompanyId>, StoreError> {
        Ok(self.token_owners.get(digest).copied())
    }
    fn token_id_taken(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.token_ids.contains(id))
    }
    fn workspace_owner(&self, workspace: WorkspaceId) -> Result<Option<CompanyId>, StoreError> {
        Ok(self.workspace_owners.get(&workspace).copied())
    }
    fn profile_home(
        &self,
        profile: ProfileId,
    ) -> Result<Option<(CompanyId, WorkspaceId)>, StoreError> {
        Ok(self.profile_homes.get(&profile).copied())
    }
    fn call_with_client_id(
        &self,
        company: CompanyId,
        client_unique_id: &str,
    ) -> Result<Option<CallId>, StoreError> {
        Ok(self
            .client_ids
            .get(&(company, client_unique_id.to_owned()))
            .copied())
    }
    fn manager(
        &self,
        company: CompanyId,
        user: UserId,
    ) -> Result<Option<Option<UserId>>, StoreError> {
        if let Some(manager) = self.managers.get(&(company, user)) {
            return Ok(Some(*manager));
        }
        // A user fetched without their chain has no manager on record here.
        Ok(self.users.contains(&(company, user)).then_some(None))
    }
    fn default_workspace(&self, company: CompanyId) -> Result<Option<WorkspaceId>, StoreError> {
        Ok(self.default_workspaces.get(&company).copied())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn c(n: i64) -> CompanyId {
        CompanyId::from_i64(n).unwrap()
    }
    fn u(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }

    #[test]
    fn a_call_checks_company_primary_participants_then_itself() {
        let mut call = Call::new(c(1), CallId::from_i64(5).unwrap(), u(1));
        call.participant_ids = vec![u(2), u(3)];
        let mut known = Known::default();
        assert_eq!(add_call(&known, &call), Err(StoreError::NoCompany(c(1))));
        known.company(c(1));
        assert_eq!(
            add_call(&known, &call),
            Err(StoreError::NoPrimaryUser {
                company: c(1),
                user: u(1)
            })
        );
        known.user(c(1), u(1));
        known.user(c(1), u(3));
        assert_eq!(
            add_call(&known, &call),
            Err(StoreError::NoParticipant {
                company: c(1),
                user: u(2)
            })
        );
        known.user(c(1), u(2));
        assert_eq!(add_call(&known, &call), Ok(()));
        known.call(c(1), call.id);
        assert_eq!(
            add_call(&known, &call),
            Err(StoreError::CallExists {
                company: c(1),
                call: call.id
            })
        );
        assert_eq!(
            StoreError::NoParticipant {
                company: c(1),
                user: u(2)
            }
            .to_string(),
            "participant \"2\" does not exist in company \"1\""
        );
    }

    #[test]
    fn a_user_update_checks_user_profiles_then_manager_and_keeps_one_profile_per_workspace() {
        let p = |n| ProfileId::from_i64(n).unwrap();
        let w = |n| WorkspaceId::from_i64(n).unwrap();
        let change = UserUpdate {
            manager: Some(Some(u(2))),
            profiles: vec![p(7), p(8), p(9)],
            ..UserUpdate::default()
        };
        let mut known = Known::default();
        assert_eq!(
            update_user(&known, c(1), u(1), &change),
            Err(StoreError::NoUser {
                company: c(1),
                user: u(1)
            })
        );
        known.user(c(1), u(1));
        known.profile(p(7), c(1), w(70));
        known.profile(p(8), c(1), w(80));
        assert_eq!(
            update_user(&known, c(1), u(1), &change),
            Err(StoreError::NoProfile {
                company: c(1),
                profile: p(9)
            })
        );
        known.profile(p(9), c(1), w(70));
        assert_eq!(
            update_user(&known, c(1), u(1), &change),
            Err(StoreError::NoUser {
                company: c(1),
                user: u(2)
            })
        );
        Known::manager(&mut known, c(1), u(2), Some(u(1)));
        assert!(matches!(
            update_user(&known, c(1), u(1), &change),
            Err(StoreError::ManagerLoop(_))
        ));
        Known::manager(&mut known, c(1), u(2), None);
        assert_eq!(
            update_user(&known, c(1), u(1), &change),
            Ok(vec![(w(70), p(9)), (w(80), p(8))])
        );
        let needs = Needs::update_user(c(1), u(1), &change);
        assert_eq!(needs.chains, vec![(c(1), u(2))]);
        assert_eq!(needs.profiles, change.profiles);
    }

    #[test]
    fn users_need_their_company_and_are_unique() {
        let user = User::new(c(1), u(1), "a@example.com");
        let mut known = Known::default();
        assert_eq!(add_user(&known, &user), Err(StoreError::NoCompany(c(1))));
        known.company(c(1));
        assert_eq!(add_user(&known, &user), Ok(()));
        known.user(c(1), u(1));
        assert_eq!(
            add_user(&known, &user).unwrap_err().to_string(),
            "user \"1\" already exists in company \"1\""
        );
        assert_eq!(Needs::add_user(&user).users, vec![(c(1), u(1))]);
    }
}
