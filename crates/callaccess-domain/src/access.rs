//! Who can open a call, and what the three endpoints do about it
//! (directory.md §2, users-access.md §3), written once for every backend.
//!
//! A backend answers [`Facts`], a small synchronous view of one company's
//! data — SQLite lazily from its connection, PostgreSQL from what it
//! prefetched for the request in one round trip ([`Prefetched`]) — and the
//! pure functions here decide: which pairs a PUT records
//! ([`grants_to_record`]), which calls a request names that do not exist
//! ([`missing_calls`]), by which routes a user opens a call ([`routes`]),
//! and whether a new manager would close a loop ([`check_manager`]).
//!
//! A user opens a call (of workspace W) by an API grant, by a share, or by
//! their permission profile in W ([`profile_route`], the only place a
//! level is matched): `all` every call of W; `own` the calls where they
//! are the primary user or a participant; `report-to-them` also the calls
//! of everyone below them in the org chart; `managers-team` also the calls
//! of the profile's team leads and everyone below those, or, without team
//! leads, of the user's own manager and everyone below the manager;
//! `none` nothing. A private call opens by profile only for its parties.
//! Walking the org chart asks one manager per step, so a check costs the
//! depth of one chain, never the size of the company.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use serde::Serialize;

use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};
use crate::model::{AccessChange, CallsAccess, CallsRule, Timestamp, Viewer};
use crate::store::StoreError;

/// One company's org chart: who manages whom.
pub trait OrgChart {
    /// The user's manager; `None` if the company has no such user.
    fn user(&self, user: UserId) -> Result<Option<UserFacts>, StoreError>;

    /// Everyone above `user`, nearest first, stopping before anyone seen
    /// already (a loop written around the checks) and after
    /// [`MAX_CHAIN`] managers. A backend for which each [`Self::user`] is
    /// a statement may read the whole chain at once; the answer must be
    /// this walk's.
    fn managers_above(&self, user: UserId) -> Result<Vec<UserId>, StoreError> {
        let mut chain = Vec::new();
        let mut current = user;
        while chain.len() < MAX_CHAIN {
            let Some(manager) = self.user(current)?.and_then(|u| u.manager) else {
                break;
            };
            if manager == user || chain.contains(&manager) {
                break;
            }
            chain.push(manager);
            current = manager;
        }
        Ok(chain)
    }
}

/// What the rules need to know of one company's data. Each answer may come
/// from the database, so each may fail.
pub trait Facts: OrgChart {
    /// The call's owner, workspace and privacy; `None` if the company has
    /// no such call.
    fn call(&self, call: CallId) -> Result<Option<CallFacts>, StoreError>;
    /// The user's profile in the workspace, if they have one there.
    fn profile(
        &self,
        user: UserId,
        workspace: WorkspaceId,
    ) -> Result<Option<Arc<ProfileFacts>>, StoreError>;
    /// Whether the user took part in the call.
    fn is_participant(&self, call: CallId, user: UserId) -> Result<bool, StoreError>;
    /// Whether the call is shared with the user.
    fn is_shared(&self, call: CallId, user: UserId) -> Result<bool, StoreError>;
    /// When the user's API grant to the call was recorded; `None` when
    /// they hold none.
    fn granted_at(&self, call: CallId, user: UserId) -> Result<Option<Timestamp>, StoreError>;
}

/// What the rules need of a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallFacts {
    pub primary: UserId,
    pub workspace: WorkspaceId,
    pub private: bool,
}

/// What the rules need of a user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UserFacts {
    pub manager: Option<UserId>,
}

/// What the rules need of a profile: its call access, and what a route
/// through it names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProfileFacts {
    pub id: ProfileId,
    pub name: String,
    pub calls: CallsRule,
}

/// What is known of an API grant. A struct of its own, flattened into the
/// route, so that what is learnt later (who granted it, in which request)
/// is a new field rather than a new shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grant {
    /// When the grant was first recorded (granting again keeps it).
    pub granted_at: Timestamp,
    /// Who recorded it, as the audit trail names actors; absent when the
    /// trail no longer has its entry (pruned, or written before auditing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub granted_by: Option<String>,
    /// The request that recorded it, when a request did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

impl Grant {
    pub fn at(granted_at: Timestamp) -> Self {
        Self {
            granted_at,
            granted_by: None,
            request_id: None,
        }
    }

    /// The grant with who made it, from its `grant.add` entry.
    pub fn by(self, entry: &crate::audit::AuditEntry) -> Self {
        Self {
            granted_by: Some(entry.actor.clone()),
            request_id: entry.request_id.clone(),
            ..self
        }
    }
}

/// One way a user can open a call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "route", rename_all = "camelCase")]
pub enum Route {
    /// Given through `PUT /v2/calls/users-access`.
    ApiGrant(Grant),
    /// The call was shared with the user.
    Shared,
    /// The user's permission profile in the call's workspace opens it.
    #[serde(rename_all = "camelCase")]
    Profile {
        profile: ProfileId,
        name: String,
        level: CallsAccess,
        /// For a hierarchy level when the user is not a party: the call's
        /// primary user, then each manager up to `through` (the user for
        /// `report-to-them`, the team lead for `managers-team`).
        #[serde(skip_serializing_if = "Vec::is_empty")]
        chain: Vec<UserId>,
        /// For `managers-team`: whose team the call belongs to.
        #[serde(skip_serializing_if = "Option::is_none")]
        team_of: Option<UserId>,
    },
}

/// Far more managers than any org chart has: a walk that goes on longer
/// is looping through data written around the checks, and stops.
pub const MAX_CHAIN: usize = 10_000;

/// The path from `from` up its managers to the first user `is_anchor`
/// accepts (`from` itself included when `include_from`), or `None` when
/// the chain ends first. The chain is [`OrgChart::managers_above`]'s.
fn chain_to(
    facts: &impl OrgChart,
    from: UserId,
    include_from: bool,
    is_anchor: impl Fn(UserId) -> bool,
) -> Result<Option<Vec<UserId>>, StoreError> {
    let mut path = vec![from];
    if include_from && is_anchor(from) {
        return Ok(Some(path));
    }
    for manager in facts.managers_above(from)? {
        path.push(manager);
        if is_anchor(manager) {
            return Ok(Some(path));
        }
    }
    Ok(None)
}

/// The profile rule: the route by which `user`'s profile in the call's
/// workspace opens the call, if it does.
pub fn profile_route(
    facts: &impl Facts,
    call: CallId,
    found: &CallFacts,
    user: UserId,
) -> Result<Option<Route>, StoreError> {
    let Some(profile) = facts.profile(user, found.workspace)? else {
        return Ok(None);
    };
    let level = profile.calls.level;
    let route = |chain: Vec<UserId>, team_of: Option<UserId>| Route::Profile {
        profile: profile.id,
        name: profile.name.clone(),
        level,
        chain,
        team_of,
    };
    if level == CallsAccess::None {
        return Ok(None);
    }
    if user == found.primary || facts.is_participant(call, user)? {
        return Ok(Some(route(Vec::new(), None)));
    }
    if found.private {
        return Ok(None);
    }
    Ok(match level {
        CallsAccess::All => Some(route(Vec::new(), None)),
        CallsAccess::Own | CallsAccess::None => None,
        CallsAccess::ReportToThem => {
            chain_to(facts, found.primary, false, |u| u == user)?.map(|chain| route(chain, None))
        }
        CallsAccess::ManagersTeam => {
            let leads = &profile.calls.team_leads;
            let chain = if leads.is_empty() {
                match facts.user(user)?.and_then(|u| u.manager) {
                    Some(manager) => chain_to(facts, found.primary, true, |u| u == manager)?,
                    None => None,
                }
            } else {
                chain_to(facts, found.primary, true, |u| {
                    leads.binary_search(&u).is_ok()
                })?
            };
            chain.map(|chain| {
                let team_of = chain.last().copied();
                route(chain, team_of)
            })
        }
    })
}

/// Whether the user can open the call other than by an API grant: the
/// routes that make a PUT "have no effect" for them (Gong's words).
fn opens_otherwise(
    facts: &impl Facts,
    call: CallId,
    found: &CallFacts,
    user: UserId,
) -> Result<bool, StoreError> {
    Ok(facts.is_shared(call, user)? || profile_route(facts, call, found, user)?.is_some())
}

/// Every route by which `user` opens `call`, API grant first; empty when
/// they cannot open it. `NoCall` / `NoUser` when either does not exist.
pub fn routes(
    facts: &impl Facts,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Vec<Route>, StoreError> {
    let found = facts
        .call(call)?
        .ok_or(StoreError::NoCall { company, call })?;
    if facts.user(user)?.is_none() {
        return Err(StoreError::NoUser { company, user });
    }
    let mut routes = Vec::new();
    if let Some(at) = facts.granted_at(call, user)? {
        routes.push(Route::ApiGrant(Grant::at(at)));
    }
    if facts.is_shared(call, user)? {
        routes.push(Route::Shared);
    }
    routes.extend(profile_route(facts, call, &found, user)?);
    Ok(routes)
}

/// Every user among `users` who can open `call`, ascending, each with every
/// route: what an operator is shown about one call.
pub fn viewers(
    facts: &impl Facts,
    company: CompanyId,
    call: CallId,
    users: impl IntoIterator<Item = UserId>,
) -> Result<Vec<Viewer>, StoreError> {
    let mut users: Vec<UserId> = users.into_iter().collect();
    users.sort_unstable();
    users.dedup();
    let mut viewers = Vec::new();
    for user in users {
        let routes = routes(facts, company, call, user)?;
        if !routes.is_empty() {
            viewers.push(Viewer { user, routes });
        }
    }
    Ok(viewers)
}

/// Refuses making `manager` the manager of `user` when that closes a loop
/// (`ManagerLoop`, naming it from `user` back to `user`); `NoUser` when
/// the manager is not a user of the company.
pub fn check_manager(
    facts: &impl OrgChart,
    company: CompanyId,
    user: UserId,
    manager: Option<UserId>,
) -> Result<(), StoreError> {
    let Some(manager) = manager else {
        return Ok(());
    };
    if manager == user {
        return Err(StoreError::ManagerLoop(vec![user, user]));
    }
    if facts.user(manager)?.is_none() {
        return Err(StoreError::NoUser {
            company,
            user: manager,
        });
    }
    if let Some(chain) = chain_to(facts, manager, false, |u| u == user)? {
        let mut lp = vec![user];
        lp.extend(chain);
        return Err(StoreError::ManagerLoop(lp));
    }
    Ok(())
}

/// `CallsNotFound` naming, in request order and each once, the calls for
/// which `exists` says no; `Ok` when all exist.
pub fn missing_calls(
    calls: impl IntoIterator<Item = CallId>,
    mut exists: impl FnMut(CallId) -> Result<bool, StoreError>,
) -> Result<(), StoreError> {
    let mut seen = HashSet::new();
    let mut missing = Vec::new();
    for call in calls {
        if seen.insert(call) && !exists(call)? {
            missing.push(call);
        }
    }
    if missing.is_empty() {
        Ok(())
    } else {
        Err(StoreError::CallsNotFound(missing))
    }
}

/// The calls of a POST, each once, in the order first named.
pub fn distinct_calls(calls: &[CallId]) -> Vec<CallId> {
    let mut seen = HashSet::with_capacity(calls.len());
    calls
        .iter()
        .copied()
        .filter(|call| seen.insert(*call))
        .collect()
}

/// PUT: every call must exist (checked first, `CallsNotFound`), then every
/// user (`UsersNotFound`, in request order); then the pairs whose user
/// cannot already open the call, which are the grants to record — in the
/// change's call order, users ascending within a call (consecutive inserts
/// then land on the same index page).
pub fn grants_to_record(
    facts: &impl Facts,
    change: &AccessChange,
) -> Result<Vec<(CallId, UserId)>, StoreError> {
    missing_calls(change.calls(), |call| Ok(facts.call(call)?.is_some()))?;
    let mut missing = Vec::new();
    for user in change.users() {
        if facts.user(user)?.is_none() {
            missing.push(user);
        }
    }
    if !missing.is_empty() {
        return Err(StoreError::UsersNotFound(missing));
    }
    // Asked again below rather than kept here: every backend's facts answer
    // a repeated question from what they already read.
    let mut record = Vec::new();
    for (call, users) in change.items() {
        let start = record.len();
        // Every call was found above; a miss cannot happen, and skipping
        // would only leave out a grant those checks vouched for.
        let Some(found) = facts.call(*call)? else {
            continue;
        };
        for &user in users {
            if !opens_otherwise(facts, *call, &found, user)? {
                record.push((*call, user));
            }
        }
        record[start..].sort_unstable();
    }
    Ok(record)
}

/// DELETE: every call must exist (`CallsNotFound`); then every named pair
/// goes, whether or not it is a grant (users the company lacks have none),
/// in the change's call order, users ascending within a call.
pub fn grants_to_remove(
    facts: &impl Facts,
    change: &AccessChange,
) -> Result<Vec<(CallId, UserId)>, StoreError> {
    missing_calls(change.calls(), |call| Ok(facts.call(call)?.is_some()))?;
    let mut remove = Vec::new();
    for (call, users) in change.items() {
        let start = remove.len();
        remove.extend(users.iter().map(|user| (*call, *user)));
        remove[start..].sort_unstable();
    }
    Ok(remove)
}

/// The facts of one request, fetched before the rules run (by a backend for
/// which each question is a round trip). What was not fetched reads as
/// absent, so a backend must fetch everything [`Prefetched::wants`] names:
/// its calls, its users, the participants, shares and grants among those,
/// the users' profiles in the calls' workspaces, and every manager above
/// each call's primary user and above each named user.
#[derive(Debug, Clone, Default)]
pub struct Prefetched {
    calls: HashMap<CallId, CallFacts>,
    users: HashMap<UserId, UserFacts>,
    profiles: HashMap<(UserId, WorkspaceId), Arc<ProfileFacts>>,
    participants: HashSet<(CallId, UserId)>,
    shares: HashSet<(CallId, UserId)>,
    grants: HashMap<(CallId, UserId), Timestamp>,
}

/// The ids a request's facts are about: every call and user it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub calls: Vec<CallId>,
    pub users: Vec<UserId>,
}

impl Prefetched {
    /// What a backend must fetch for `change` (see [`Prefetched`]).
    pub fn wants(change: &AccessChange) -> Wanted {
        Wanted {
            calls: change.calls().collect(),
            users: change.users(),
        }
    }

    pub fn insert_call(&mut self, call: CallId, facts: CallFacts) {
        self.calls.insert(call, facts);
    }
    pub fn insert_user(&mut self, user: UserId, manager: Option<UserId>) {
        self.users.insert(user, UserFacts { manager });
    }
    pub fn insert_profile(
        &mut self,
        user: UserId,
        workspace: WorkspaceId,
        profile: Arc<ProfileFacts>,
    ) {
        self.profiles.insert((user, workspace), profile);
    }
    pub fn participant(&mut self, call: CallId, user: UserId) {
        self.participants.insert((call, user));
    }
    pub fn share(&mut self, call: CallId, user: UserId) {
        self.shares.insert((call, user));
    }
    pub fn grant(&mut self, call: CallId, user: UserId, at: Timestamp) {
        self.grants.insert((call, user), at);
    }
}

impl OrgChart for Prefetched {
    fn user(&self, user: UserId) -> Result<Option<UserFacts>, StoreError> {
        Ok(self.users.get(&user).copied())
    }
}

impl Facts for Prefetched {
    fn call(&self, call: CallId) -> Result<Option<CallFacts>, StoreError> {
        Ok(self.calls.get(&call).copied())
    }
    fn profile(
        &self,
        user: UserId,
        workspace: WorkspaceId,
    ) -> Result<Option<Arc<ProfileFacts>>, StoreError> {
        Ok(self.profiles.get(&(user, workspace)).cloned())
    }
    fn is_participant(&self, call: CallId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.participants.contains(&(call, user)))
    }
    fn is_shared(&self, call: CallId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.shares.contains(&(call, user)))
    }
    fn granted_at(&self, call: CallId, user: UserId) -> Result<Option<Timestamp>, StoreError> {
        Ok(self.grants.get(&(call, user)).copied())
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    fn call(n: i64) -> CallId {
        CallId::from_i64(n).unwrap()
    }
    fn user(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }
    fn ws(n: i64) -> WorkspaceId {
        WorkspaceId::from_i64(n).unwrap()
    }
    const COMPANY: i64 = 1;
    fn company() -> CompanyId {
        CompanyId::from_i64(COMPANY).unwrap()
    }

    /// A small org chart in workspace 1: 1 is at the top; 2 reports to 1;
    /// 3..=7 each report to the one before (a chain six deep); 8 reports to
    /// 2 and 9 to 8. User 20 has no manager.
    fn chart() -> Prefetched {
        let mut facts = Prefetched::default();
        facts.insert_user(user(1), None);
        facts.insert_user(user(2), Some(user(1)));
        for n in 3..=7 {
            facts.insert_user(user(n), Some(user(n - 1)));
        }
        facts.insert_user(user(8), Some(user(2)));
        facts.insert_user(user(9), Some(user(8)));
        facts.insert_user(user(20), None);
        facts
    }

    fn give(facts: &mut Prefetched, u: i64, w: i64, level: CallsAccess, leads: &[i64]) {
        facts.insert_profile(
            user(u),
            ws(w),
            Arc::new(ProfileFacts {
                id: ProfileId::from_i64(100 + u).unwrap(),
                name: format!("p{u}"),
                calls: CallsRule {
                    level,
                    team_leads: leads.iter().copied().map(user).collect(),
                },
            }),
        );
    }

    fn add_call(facts: &mut Prefetched, c: i64, primary: i64, w: i64, private: bool) {
        facts.insert_call(
            call(c),
            CallFacts {
                primary: user(primary),
                workspace: ws(w),
                private,
            },
        );
    }

    fn opens(facts: &Prefetched, c: i64, u: i64) -> Option<Route> {
        let found = facts.call(call(c)).unwrap().unwrap();
        profile_route(facts, call(c), &found, user(u)).unwrap()
    }

    fn chain(route: Option<Route>) -> Vec<i64> {
        match route {
            Some(Route::Profile { chain, .. }) => chain.iter().map(|u| u.get()).collect(),
            other => panic!("expected a profile route, got {other:?}"),
        }
    }

    #[test]
    fn report_to_them_follows_any_depth_of_managers() {
        let mut facts = chart();
        give(&mut facts, 1, 1, CallsAccess::ReportToThem, &[]);
        give(&mut facts, 4, 1, CallsAccess::ReportToThem, &[]);
        add_call(&mut facts, 1, 7, 1, false);
        add_call(&mut facts, 2, 20, 1, false);
        add_call(&mut facts, 3, 2, 1, false);
        // 7 → 6 → 5 → 4 → 3 → 2 → 1: six managers up.
        assert_eq!(chain(opens(&facts, 1, 1)), vec![7, 6, 5, 4, 3, 2, 1]);
        assert_eq!(chain(opens(&facts, 1, 4)), vec![7, 6, 5, 4]);
        // Not above the primary user: nothing.
        assert_eq!(opens(&facts, 2, 1), None);
        assert_eq!(opens(&facts, 3, 4), None, "2 is above 4, not below");
        // Without the profile the same user opens nothing.
        let plain = chart();
        let mut plain = plain;
        add_call(&mut plain, 1, 7, 1, false);
        give(&mut plain, 1, 1, CallsAccess::Own, &[]);
        assert_eq!(opens(&plain, 1, 1), None);
    }

    #[test]
    fn managers_team_with_lead_ids_opens_their_teams() {
        let mut facts = chart();
        give(&mut facts, 20, 1, CallsAccess::ManagersTeam, &[3, 8]);
        add_call(&mut facts, 1, 7, 1, false); // below 3
        add_call(&mut facts, 2, 8, 1, false); // the lead itself
        add_call(&mut facts, 3, 9, 1, false); // below 8
        add_call(&mut facts, 4, 2, 1, false); // above both
        assert_eq!(chain(opens(&facts, 1, 20)), vec![7, 6, 5, 4, 3]);
        assert_eq!(chain(opens(&facts, 2, 20)), vec![8]);
        assert!(matches!(
            opens(&facts, 3, 20),
            Some(Route::Profile { team_of: Some(t), .. }) if t == user(8)
        ));
        assert_eq!(opens(&facts, 4, 20), None);
    }

    #[test]
    fn managers_team_without_lead_ids_opens_the_users_managers_team() {
        let mut facts = chart();
        // 9's manager is 8: the team is 8 and everyone below 8.
        give(&mut facts, 9, 1, CallsAccess::ManagersTeam, &[]);
        give(&mut facts, 20, 1, CallsAccess::ManagersTeam, &[]);
        add_call(&mut facts, 1, 8, 1, false);
        add_call(&mut facts, 2, 2, 1, false);
        add_call(&mut facts, 3, 7, 1, false);
        assert_eq!(chain(opens(&facts, 1, 9)), vec![8]);
        assert_eq!(opens(&facts, 2, 9), None, "2 manages 8: outside 8's team");
        assert_eq!(opens(&facts, 3, 9), None);
        // Without a manager, only the user's own calls.
        assert_eq!(opens(&facts, 1, 20), None);
        add_call(&mut facts, 4, 20, 1, false);
        assert_eq!(chain(opens(&facts, 4, 20)), Vec::<i64>::new());
    }

    #[test]
    fn a_private_call_opens_by_profile_only_for_its_parties() {
        let mut facts = chart();
        give(&mut facts, 1, 1, CallsAccess::All, &[]);
        give(&mut facts, 2, 1, CallsAccess::ReportToThem, &[]);
        give(&mut facts, 20, 1, CallsAccess::ManagersTeam, &[8]);
        give(&mut facts, 9, 1, CallsAccess::Own, &[]);
        give(&mut facts, 7, 1, CallsAccess::None, &[]);
        add_call(&mut facts, 1, 9, 1, true);
        facts.participant(call(1), user(7));
        facts.share(call(1), user(3));
        facts.grant(call(1), user(4), Timestamp::from_unix(40));
        for u in [1, 2, 20] {
            assert_eq!(opens(&facts, 1, u), None, "user {u}");
        }
        assert!(opens(&facts, 1, 9).is_some(), "the primary user");
        assert_eq!(
            opens(&facts, 1, 7),
            None,
            "a participant whose level is none"
        );
        // Grants and shares still open it.
        let r = |u| routes(&facts, company(), call(1), user(u)).unwrap();
        assert_eq!(r(3), vec![Route::Shared]);
        assert_eq!(
            r(4),
            vec![Route::ApiGrant(Grant::at(Timestamp::from_unix(40)))]
        );
        // The same call, not private, opens for all three.
        add_call(&mut facts, 1, 9, 1, false);
        for u in [1, 2, 20] {
            assert!(opens(&facts, 1, u).is_some(), "user {u}");
        }
    }

    #[test]
    fn a_profile_in_another_workspace_does_not_apply() {
        let mut facts = chart();
        give(&mut facts, 1, 2, CallsAccess::All, &[]);
        add_call(&mut facts, 1, 7, 1, false);
        add_call(&mut facts, 2, 7, 2, false);
        assert_eq!(opens(&facts, 1, 1), None);
        assert!(opens(&facts, 2, 1).is_some());
    }

    #[test]
    fn a_put_records_only_users_who_cannot_open_the_call_otherwise() {
        let mut facts = chart();
        add_call(&mut facts, 1, 7, 1, false);
        give(&mut facts, 1, 1, CallsAccess::ReportToThem, &[]);
        give(&mut facts, 2, 1, CallsAccess::Own, &[]);
        facts.share(call(1), user(8));
        let change = AccessChange::new([(call(1), vec![user(9), user(8), user(2), user(1)])]);
        // 1 manages 7 through the chain; 8 is shared; 2 and 9 are recorded.
        assert_eq!(
            grants_to_record(&facts, &change).unwrap(),
            vec![(call(1), user(2)), (call(1), user(9))]
        );
    }

    #[test]
    fn calls_are_checked_before_users_and_reported_in_request_order_once() {
        let mut facts = chart();
        add_call(&mut facts, 1, 7, 1, false);
        let change = AccessChange::new([
            (call(9), vec![user(99)]),
            (call(1), vec![user(98)]),
            (call(8), vec![]),
        ]);
        assert_eq!(
            grants_to_record(&facts, &change),
            Err(StoreError::CallsNotFound(vec![call(9), call(8)]))
        );
        let change = AccessChange::new([(call(1), vec![user(99), user(1), user(98)])]);
        assert_eq!(
            grants_to_record(&facts, &change),
            Err(StoreError::UsersNotFound(vec![user(99), user(98)]))
        );
        assert_eq!(
            missing_calls([call(9), call(1), call(9)], |c| Ok(c == call(1))),
            Err(StoreError::CallsNotFound(vec![call(9)]))
        );
    }

    #[test]
    fn a_delete_checks_calls_and_names_every_pair() {
        let mut facts = chart();
        add_call(&mut facts, 1, 7, 1, false);
        let change = AccessChange::new([(call(1), vec![user(99), user(4)])]);
        assert_eq!(
            grants_to_remove(&facts, &change).unwrap(),
            vec![(call(1), user(4)), (call(1), user(99))]
        );
        let change = AccessChange::new([(call(7), vec![user(4)])]);
        assert_eq!(
            grants_to_remove(&facts, &change),
            Err(StoreError::CallsNotFound(vec![call(7)]))
        );
    }

    #[test]
    fn a_manager_loop_is_refused_and_named() {
        let facts = chart();
        // 1 reporting to 7 would close 1 → 7 → 6 → … → 2 → 1.
        assert_eq!(
            check_manager(&facts, company(), user(1), Some(user(7))),
            Err(StoreError::ManagerLoop(
                [1, 7, 6, 5, 4, 3, 2, 1].into_iter().map(user).collect()
            ))
        );
        assert_eq!(
            StoreError::ManagerLoop(vec![user(1), user(2), user(1)]).to_string(),
            "a manager loop is not allowed: 1 reports to 2 reports to 1"
        );
        assert_eq!(
            check_manager(&facts, company(), user(5), Some(user(5))),
            Err(StoreError::ManagerLoop(vec![user(5), user(5)]))
        );
        assert_eq!(
            check_manager(&facts, company(), user(5), Some(user(77))),
            Err(StoreError::NoUser {
                company: company(),
                user: user(77)
            })
        );
        assert_eq!(
            check_manager(&facts, company(), user(2), Some(user(20))),
            Ok(())
        );
        assert_eq!(check_manager(&facts, company(), user(2), None), Ok(()));
    }

    #[test]
    fn a_stored_loop_ends_the_walk() {
        // Written around the checks: the rules must still answer.
        let mut facts = Prefetched::default();
        facts.insert_user(user(1), Some(user(2)));
        facts.insert_user(user(2), Some(user(1)));
        facts.insert_user(user(3), None);
        give(&mut facts, 3, 1, CallsAccess::ReportToThem, &[]);
        add_call(&mut facts, 1, 1, 1, false);
        assert_eq!(opens(&facts, 1, 3), None);
    }

    #[test]
    fn viewers_list_every_route_of_every_user() {
        let mut facts = chart();
        add_call(&mut facts, 1, 7, 1, false);
        give(&mut facts, 1, 1, CallsAccess::ReportToThem, &[]);
        facts.grant(call(1), user(1), Timestamp::from_unix(10));
        facts.share(call(1), user(9));
        let viewers = viewers(&facts, company(), call(1), (1..=9).map(user)).unwrap();
        let users: Vec<i64> = viewers.iter().map(|v| v.user.get()).collect();
        assert_eq!(users, vec![1, 9]);
        assert_eq!(viewers[0].routes.len(), 2);
        assert_eq!(
            viewers[0].routes[0],
            Route::ApiGrant(Grant::at(Timestamp::from_unix(10)))
        );
    }
}
