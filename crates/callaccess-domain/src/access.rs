//! Who can open a call, and what the three endpoints do about it (contract
//! §2, §3), written once for every backend.
//!
//! A backend answers [`Facts`], a small synchronous view of one company's
//! data — SQLite lazily from its connection, PostgreSQL from what it
//! prefetched for the request in one round trip ([`Prefetched`]) — and the
//! pure functions here decide: which pairs a PUT records
//! ([`grants_to_record`]), which calls a request names that do not exist
//! ([`missing_calls`]), and by which routes a user opens a call
//! ([`routes`]).
//!
//! A user opens a call by an API grant, by a share, or by their permission
//! profile: `all` opens every call of the company, `own` the calls where
//! they are the primary user or a participant, `none` nothing. The profile
//! rule is [`opens_by_profile`], the only place an access level is matched.

use std::collections::{HashMap, HashSet};

use serde::Serialize;

use crate::ids::{CallId, CompanyId, UserId};
use crate::model::{AccessChange, Call, CallAccessFacts, CallsAccess};
use crate::store::StoreError;

/// What the rules need to know of one company's data. Each answer may come
/// from the database, so each may fail.
pub trait Facts {
    /// The call's primary user; `None` if the company has no such call.
    fn primary(&self, call: CallId) -> Result<Option<UserId>, StoreError>;
    /// The user's profile level; `None` if the company has no such user.
    fn profile_level(&self, user: UserId) -> Result<Option<CallsAccess>, StoreError>;
    /// Whether the user took part in the call.
    fn is_participant(&self, call: CallId, user: UserId) -> Result<bool, StoreError>;
    /// Whether the call is shared with the user.
    fn is_shared(&self, call: CallId, user: UserId) -> Result<bool, StoreError>;
    /// Whether the user holds an API grant to the call.
    fn is_granted(&self, call: CallId, user: UserId) -> Result<bool, StoreError>;
}

/// One way a user can open a call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "route", rename_all = "camelCase")]
pub enum Route {
    /// Given through `PUT /v2/calls/users-access`.
    ApiGrant,
    /// The call was shared with the user.
    Shared,
    /// The user's permission profile opens it, at this level.
    Profile { level: CallsAccess },
}

/// The profile rule: whether a user whose profile is `level` opens a call,
/// given whether they are its primary user or a participant.
pub fn opens_by_profile(
    level: CallsAccess,
    involved: impl FnOnce() -> Result<bool, StoreError>,
) -> Result<bool, StoreError> {
    Ok(match level {
        CallsAccess::All => true,
        CallsAccess::Own => involved()?,
        CallsAccess::None => false,
    })
}

/// Whether the user is the call's primary user or one of its participants.
fn involved(
    facts: &impl Facts,
    call: CallId,
    user: UserId,
    primary: UserId,
) -> Result<bool, StoreError> {
    Ok(user == primary || facts.is_participant(call, user)?)
}

/// Whether the user can open the call other than by an API grant: the
/// routes that make a PUT "have no effect" for them (Gong's words).
fn opens_otherwise(
    facts: &impl Facts,
    call: CallId,
    primary: UserId,
    user: UserId,
    level: CallsAccess,
) -> Result<bool, StoreError> {
    Ok(
        opens_by_profile(level, || involved(facts, call, user, primary))?
            || facts.is_shared(call, user)?,
    )
}

/// Every route by which `user` opens `call`, API grant first; empty when
/// they cannot open it. `NoCall` / `NoUser` when either does not exist.
pub fn routes(
    facts: &impl Facts,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Vec<Route>, StoreError> {
    let primary = facts
        .primary(call)?
        .ok_or(StoreError::NoCall { company, call })?;
    let level = facts
        .profile_level(user)?
        .ok_or(StoreError::NoUser { company, user })?;
    let mut routes = Vec::new();
    if facts.is_granted(call, user)? {
        routes.push(Route::ApiGrant);
    }
    if facts.is_shared(call, user)? {
        routes.push(Route::Shared);
    }
    if opens_by_profile(level, || involved(facts, call, user, primary))? {
        routes.push(Route::Profile { level });
    }
    Ok(routes)
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
    missing_calls(change.calls(), |call| Ok(facts.primary(call)?.is_some()))?;
    let mut missing = Vec::new();
    for user in change.users() {
        if facts.profile_level(user)?.is_none() {
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
        // Every call and user was found above; a miss cannot happen, and
        // skipping would only leave out a grant those checks vouched for.
        let Some(primary) = facts.primary(*call)? else {
            continue;
        };
        for &user in users {
            let Some(level) = facts.profile_level(user)? else {
                continue;
            };
            if !opens_otherwise(facts, *call, primary, user, level)? {
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
    missing_calls(change.calls(), |call| Ok(facts.primary(call)?.is_some()))?;
    let mut remove = Vec::new();
    for (call, users) in change.items() {
        let start = remove.len();
        remove.extend(users.iter().map(|user| (*call, *user)));
        remove[start..].sort_unstable();
    }
    Ok(remove)
}

/// Everything an operator is shown about who opens one call: the API
/// grants and shares as stored, and the users whose profile opens it, from
/// the company's users and their levels.
pub fn call_access(
    call: Call,
    api_grants: Vec<UserId>,
    shares: Vec<UserId>,
    users: &[(UserId, CallsAccess)],
) -> Result<CallAccessFacts, StoreError> {
    let involved: HashSet<UserId> = call
        .participant_ids
        .iter()
        .copied()
        .chain([call.primary_user_id])
        .collect();
    let mut profile_all = Vec::new();
    let mut profile_own = Vec::new();
    for &(user, level) in users {
        if opens_by_profile(level, || Ok(involved.contains(&user)))? {
            match level {
                CallsAccess::All => profile_all.push(user),
                _ => profile_own.push(user),
            }
        }
    }
    profile_all.sort_unstable();
    profile_own.sort_unstable();
    Ok(CallAccessFacts {
        call,
        api_grants,
        shares,
        profile_all,
        profile_own,
    })
}

/// The facts of one request, fetched before the rules run (by a backend for
/// which each question is a round trip). What was not fetched reads as
/// absent, so a backend must fetch everything [`Prefetched::wants`] names.
#[derive(Debug, Clone, Default)]
pub struct Prefetched {
    primaries: HashMap<CallId, UserId>,
    levels: HashMap<UserId, CallsAccess>,
    participants: HashSet<(CallId, UserId)>,
    shares: HashSet<(CallId, UserId)>,
    grants: HashSet<(CallId, UserId)>,
}

/// The ids a request's facts are about: every call and user it names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    pub calls: Vec<CallId>,
    pub users: Vec<UserId>,
}

impl Prefetched {
    /// What a backend must fetch for `change`: its calls and its users, and
    /// the participants, shares and grants among those.
    pub fn wants(change: &AccessChange) -> Wanted {
        Wanted {
            calls: change.calls().collect(),
            users: change.users(),
        }
    }

    pub fn call(&mut self, call: CallId, primary: UserId) {
        self.primaries.insert(call, primary);
    }
    pub fn user(&mut self, user: UserId, level: CallsAccess) {
        self.levels.insert(user, level);
    }
    pub fn participant(&mut self, call: CallId, user: UserId) {
        self.participants.insert((call, user));
    }
    pub fn share(&mut self, call: CallId, user: UserId) {
        self.shares.insert((call, user));
    }
    pub fn grant(&mut self, call: CallId, user: UserId) {
        self.grants.insert((call, user));
    }
}

impl Facts for Prefetched {
    fn primary(&self, call: CallId) -> Result<Option<UserId>, StoreError> {
        Ok(self.primaries.get(&call).copied())
    }
    fn profile_level(&self, user: UserId) -> Result<Option<CallsAccess>, StoreError> {
        Ok(self.levels.get(&user).copied())
    }
    fn is_participant(&self, call: CallId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.participants.contains(&(call, user)))
    }
    fn is_shared(&self, call: CallId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.shares.contains(&(call, user)))
    }
    fn is_granted(&self, call: CallId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.grants.contains(&(call, user)))
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

    /// Call 1 (primary 1, participant 2, shared with 3, granted to 4);
    /// users 1 own, 2 own, 3 none, 4 none, 5 all, 6 own.
    fn world() -> Prefetched {
        let mut facts = Prefetched::default();
        facts.call(call(1), user(1));
        facts.call(call(2), user(6));
        facts.participant(call(1), user(2));
        facts.share(call(1), user(3));
        facts.grant(call(1), user(4));
        for (n, level) in [
            (1, CallsAccess::Own),
            (2, CallsAccess::Own),
            (3, CallsAccess::None),
            (4, CallsAccess::None),
            (5, CallsAccess::All),
            (6, CallsAccess::Own),
        ] {
            facts.user(user(n), level);
        }
        facts
    }

    #[test]
    fn a_put_records_only_users_who_cannot_open_the_call_otherwise() {
        let change = AccessChange::new([(call(1), (1..=6).rev().map(user).collect::<Vec<_>>())]);
        let record = grants_to_record(&world(), &change).unwrap();
        // 1 primary (own), 2 participant (own), 3 shared, 5 all: skipped.
        // 4 already granted is recorded again (a no-op insert), 6 own but
        // not on the call.
        assert_eq!(record, vec![(call(1), user(4)), (call(1), user(6))]);
    }

    #[test]
    fn calls_are_checked_before_users_and_reported_in_request_order_once() {
        let facts = world();
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
        let facts = world();
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
    fn routes_say_why() {
        let facts = world();
        let company = CompanyId::from_i64(1).unwrap();
        let r = |u| routes(&facts, company, call(1), user(u)).unwrap();
        assert_eq!(
            r(1),
            vec![Route::Profile {
                level: CallsAccess::Own
            }]
        );
        assert_eq!(r(3), vec![Route::Shared]);
        assert_eq!(r(4), vec![Route::ApiGrant]);
        assert_eq!(
            r(5),
            vec![Route::Profile {
                level: CallsAccess::All
            }]
        );
        assert_eq!(r(6), vec![]);
        assert_eq!(
            routes(&facts, company, call(1), user(77)),
            Err(StoreError::NoUser {
                company,
                user: user(77)
            })
        );
    }

    #[test]
    fn call_access_lists_profile_routes() {
        let c = Call {
            company: CompanyId::from_i64(1).unwrap(),
            id: call(1),
            title: None,
            primary_user_id: user(1),
            participant_ids: vec![user(2)],
        };
        let users = [
            (user(6), CallsAccess::Own),
            (user(5), CallsAccess::All),
            (user(2), CallsAccess::Own),
            (user(1), CallsAccess::Own),
            (user(3), CallsAccess::None),
        ];
        let facts = call_access(c, vec![], vec![], &users).unwrap();
        assert_eq!(facts.profile_all, vec![user(5)]);
        assert_eq!(facts.profile_own, vec![user(1), user(2)]);
    }
}
