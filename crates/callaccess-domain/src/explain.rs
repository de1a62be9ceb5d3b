//! Explain and reverse lookup (control-plane.md §8): every user who can
//! open a call, and every call a user can open, each with every route,
//! paged by id. [`crate::access::routes`] decides each pair; this module
//! decides where the pairs worth asking about are found, so that a page
//! costs what can open the call, never the size of the company.
//!
//! - A call's viewers come from its API grants, shares and participants,
//!   and from what [`viewer_sources`] names: the primary user and everyone
//!   above them (the only users a `report-to-them` profile can open the
//!   call for, or whose team it is in), the holders of the workspace's
//!   profiles that open the call whoever holds them (`all`, or
//!   `managers-team` with a team lead in that chain), and the holders of a
//!   `managers-team` profile without team leads whose manager is in that
//!   chain. Only the named users, participants included, may turn out not
//!   to open it; every other source is a viewer by construction.
//! - A user's calls come from their API grants, shares and the calls they
//!   are a party to, and from every non-private call of the workspaces
//!   [`call_sources`] names (where their level opens more than their own
//!   calls), which are read in id order and decided a page at a time.
//!
//! A backend lists the union of the sources in id order, a bounded number
//! at a time, and [`Pager`] decides each candidate until a page is full.

use std::sync::Arc;

use serde::Serialize;

use crate::access::{self, CallFacts, Facts, ProfileFacts, Route};
use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};
use crate::model::{CallsAccess, Viewer};
use crate::page::Page;
use crate::store::StoreError;

/// One call a user can open, and every way they can.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CallRoutes {
    pub call: CallId,
    pub routes: Vec<Route>,
}

/// Where the users who may open one call are found, besides its API
/// grants, shares and participants (which every backend lists too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ViewerSources {
    /// Users named outright: the primary user and, unless the call is
    /// private, everyone above them. They may not open the call.
    pub users: Vec<UserId>,
    /// Every holder of one of these profiles opens the call.
    pub profiles: Vec<ProfileId>,
    /// A holder of one of these profiles opens the call when their manager
    /// is among `managers`.
    pub team_profiles: Vec<ProfileId>,
    pub managers: Vec<UserId>,
}

/// The sources of a call's viewers: `above_primary` is
/// [`crate::access::OrgChart::managers_above`] of its primary user and
/// `profiles` every profile of its workspace.
pub fn viewer_sources(
    found: &CallFacts,
    above_primary: &[UserId],
    profiles: &[Arc<ProfileFacts>],
) -> ViewerSources {
    if found.private {
        // A profile opens a private call for its parties only.
        return ViewerSources {
            users: vec![found.primary],
            ..ViewerSources::default()
        };
    }
    let mut team = vec![found.primary];
    team.extend_from_slice(above_primary);
    let mut sources = ViewerSources {
        users: team.clone(),
        ..ViewerSources::default()
    };
    for profile in profiles {
        let leads = &profile.calls.team_leads;
        match profile.calls.level {
            CallsAccess::All => sources.profiles.push(profile.id),
            CallsAccess::ManagersTeam if leads.is_empty() => {
                sources.team_profiles.push(profile.id);
            }
            CallsAccess::ManagersTeam => {
                if team.iter().any(|u| leads.binary_search(u).is_ok()) {
                    sources.profiles.push(profile.id);
                }
            }
            // Their holders are in `users` or among the participants.
            CallsAccess::ReportToThem | CallsAccess::Own | CallsAccess::None => {}
        }
    }
    if !sources.team_profiles.is_empty() {
        sources.managers = team;
    }
    sources
}

/// Where the calls one user may open are found, besides their API grants,
/// shares and the calls they are a party to (which every backend lists
/// too).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallSources {
    /// Every non-private call of these workspaces may open for the user.
    pub workspaces: Vec<WorkspaceId>,
}

/// The sources of a user's calls: `held` is every profile they hold,
/// with its workspace, and `manager` their manager.
pub fn call_sources(
    manager: Option<UserId>,
    held: &[(WorkspaceId, Arc<ProfileFacts>)],
) -> CallSources {
    let mut workspaces: Vec<WorkspaceId> = held
        .iter()
        .filter(|(_, profile)| match profile.calls.level {
            CallsAccess::All | CallsAccess::ReportToThem => true,
            CallsAccess::ManagersTeam => !profile.calls.team_leads.is_empty() || manager.is_some(),
            CallsAccess::Own | CallsAccess::None => false,
        })
        .map(|(workspace, _)| *workspace)
        .collect();
    workspaces.sort_unstable();
    workspaces.dedup();
    CallSources { workspaces }
}

/// The viewer `user` is of `call`, if they are one; `None` also for a
/// user the company does not have (a row written around the checks).
pub fn viewer(
    facts: &impl Facts,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Option<Viewer>, StoreError> {
    if facts.user(user)?.is_none() {
        return Ok(None);
    }
    let routes = access::routes(facts, company, call, user)?;
    Ok((!routes.is_empty()).then_some(Viewer { user, routes }))
}

/// The routes by which `user` opens `call`, if any; `None` also for a
/// call the company does not have (a grant written around the checks).
pub fn call_routes(
    facts: &impl Facts,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Option<CallRoutes>, StoreError> {
    if facts.call(call)?.is_none() {
        return Ok(None);
    }
    let routes = access::routes(facts, company, call, user)?;
    Ok((!routes.is_empty()).then_some(CallRoutes { call, routes }))
}

/// One page of a listing whose candidates are read in key order and
/// decided one by one: ask [`Pager::wants`] what to read next, give what
/// was read to [`Pager::take`], until `wants` says the page is complete.
#[derive(Debug)]
pub struct Pager<K, T> {
    limit: usize,
    /// Candidates read besides those the page still needs, so that a few
    /// candidates that turn out not to belong cost no second read.
    slack: usize,
    after: Option<K>,
    asked: usize,
    found: Vec<T>,
    exhausted: bool,
}

impl<K: Copy, T> Pager<K, T> {
    /// A page of at most `limit` items after the key `after`.
    pub fn new(after: Option<K>, limit: usize, slack: usize) -> Self {
        Self {
            limit,
            slack,
            after,
            asked: 0,
            found: Vec::new(),
            exhausted: false,
        }
    }

    /// The next candidates to read — after which key, and at most how
    /// many — or `None` once the page is complete. One item past the page
    /// is looked for, to know whether more follow.
    pub fn wants(&mut self) -> Option<(Option<K>, usize)> {
        if self.exhausted || self.found.len() > self.limit {
            return None;
        }
        self.asked = self.limit + 1 - self.found.len() + self.slack;
        Some((self.after, self.asked))
    }

    /// The candidates read for the last [`Pager::wants`], ascending: each
    /// is kept if `decide` makes an item of it, until the page and one
    /// more are found. Fewer candidates than asked for end the listing.
    pub fn take(
        &mut self,
        candidates: &[K],
        mut decide: impl FnMut(K) -> Result<Option<T>, StoreError>,
    ) -> Result<(), StoreError> {
        for &candidate in candidates {
            if self.found.len() > self.limit {
                return Ok(());
            }
            self.after = Some(candidate);
            if let Some(item) = decide(candidate)? {
                self.found.push(item);
            }
        }
        if candidates.len() < self.asked {
            self.exhausted = true;
        }
        Ok(())
    }

    /// The page, and whether items follow it.
    pub fn finish(mut self) -> Page<T> {
        let more = self.found.len() > self.limit;
        self.found.truncate(self.limit);
        Page {
            items: self.found,
            more,
            total: None,
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use crate::model::CallsRule;

    fn user(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }
    fn ws(n: i64) -> WorkspaceId {
        WorkspaceId::from_i64(n).unwrap()
    }
    fn profile(id: i64, level: CallsAccess, leads: &[i64]) -> Arc<ProfileFacts> {
        Arc::new(ProfileFacts {
            id: ProfileId::from_i64(id).unwrap(),
            name: format!("p{id}"),
            calls: CallsRule {
                level,
                team_leads: leads.iter().copied().map(user).collect(),
            },
        })
    }
    fn found(private: bool) -> CallFacts {
        CallFacts {
            primary: user(7),
            workspace: ws(1),
            private,
        }
    }

    #[test]
    fn viewer_sources_name_the_chain_and_the_profiles_that_open_the_call() {
        let profiles = [
            profile(1, CallsAccess::All, &[]),
            profile(2, CallsAccess::ManagersTeam, &[5]),
            profile(3, CallsAccess::ManagersTeam, &[99]),
            profile(4, CallsAccess::ManagersTeam, &[]),
            profile(5, CallsAccess::ReportToThem, &[]),
            profile(6, CallsAccess::Own, &[]),
        ];
        let sources = viewer_sources(&found(false), &[6, 5, 1].map(user), &profiles);
        let ids = |ids: &[ProfileId]| ids.iter().map(|p| p.get()).collect::<Vec<_>>();
        assert_eq!(sources.users, [7, 6, 5, 1].map(user));
        assert_eq!(ids(&sources.profiles), vec![1, 2]);
        assert_eq!(ids(&sources.team_profiles), vec![4]);
        assert_eq!(sources.managers, [7, 6, 5, 1].map(user));
        // Private: the primary user alone (participants are listed anyway).
        let private = viewer_sources(&found(true), &[6, 5, 1].map(user), &profiles);
        assert_eq!(
            private,
            ViewerSources {
                users: vec![user(7)],
                ..ViewerSources::default()
            }
        );
    }

    #[test]
    fn call_sources_name_the_workspaces_where_a_level_opens_more_than_own() {
        let held = [
            (ws(3), profile(1, CallsAccess::All, &[])),
            (ws(1), profile(2, CallsAccess::ReportToThem, &[])),
            (ws(2), profile(3, CallsAccess::Own, &[])),
            (ws(4), profile(4, CallsAccess::ManagersTeam, &[])),
            (ws(5), profile(5, CallsAccess::ManagersTeam, &[8])),
        ];
        assert_eq!(call_sources(None, &held).workspaces, [1, 3, 5].map(ws));
        assert_eq!(
            call_sources(Some(user(2)), &held).workspaces,
            [1, 3, 4, 5].map(ws)
        );
    }

    /// A page of the even numbers among 1..=20 after `after`.
    fn evens(after: i64, limit: usize, slack: usize) -> (Page<i64>, usize) {
        let all: Vec<i64> = (1..=20).collect();
        let mut pager = Pager::new(Some(after), limit, slack);
        let mut reads = 0;
        while let Some((after, n)) = pager.wants() {
            reads += 1;
            let read: Vec<i64> = all
                .iter()
                .copied()
                .filter(|k| after.is_none_or(|a| *k > a))
                .take(n)
                .collect();
            pager
                .take(&read, |k| Ok((k % 2 == 0).then_some(k)))
                .unwrap();
        }
        (pager.finish(), reads)
    }

    #[test]
    fn the_pager_reads_until_a_page_and_one_more_are_found() {
        let (page, reads) = evens(2, 3, 0);
        assert_eq!(page.items, vec![4, 6, 8]);
        assert!(page.more);
        assert!(reads >= 2, "odd candidates needed more reads");
        // The last page: nothing follows.
        let (page, _) = evens(16, 3, 1);
        assert_eq!(page.items, vec![18, 20]);
        assert!(!page.more);
    }
}
