//! Who can open a call through the org chart, privacy and workspaces
//! (directory.md §2), as the store answers PUT and `call_access`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::*;
use crate::access::Route;
use crate::model::{CallsRule, Profile, Workspace};
use crate::Origin;
use crate::ProfileId;

/// The company of the org chart cases.
pub const HOOLI: i64 = 4004;

/// HOOLI's org chart, no user with a profile: 1 is at the top; 2 reports
/// to 1; 3..=7 each report to the one before (7 is six managers below 1);
/// 8 reports to 2 and 9 to 8; 20 has no manager. GLOBEX from [`world`]
/// exists too, with users 1 and 5.
pub async fn org_chart(store: &dyn Store) {
    world(store).await;
    store
        .create_company(&NewCompany {
            id: company(HOOLI),
            name: "Hooli".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await
        .unwrap();
    for id in [1, 2, 3, 4, 5, 6, 7, 8, 9, 20] {
        store
            .add_user(&Origin::cli(), &new_user(HOOLI, id, None))
            .await
            .unwrap();
    }
    let managers = [
        (2, 1),
        (3, 2),
        (4, 3),
        (5, 4),
        (6, 5),
        (7, 6),
        (8, 2),
        (9, 8),
    ];
    for (id, manager) in managers {
        store
            .set_manager(
                &Origin::cli(),
                company(HOOLI),
                user(id),
                Some(user(manager)),
            )
            .await
            .unwrap();
    }
}

/// A profile of HOOLI as Gong's DTO would give it: name and `callsAccess`.
pub fn hooli_profile(
    workspace: WorkspaceId,
    id: i64,
    level: CallsAccess,
    leads: &[i64],
) -> Profile {
    let name = format!("{level} {id}");
    let mut fields = serde_json::Map::new();
    fields.insert("name".to_owned(), serde_json::json!(name));
    fields.insert(
        "callsAccess".to_owned(),
        serde_json::json!({
            "permissionLevel": level.as_str(),
            "teamLeadIds": leads.iter().map(|l| l.to_string()).collect::<Vec<_>>(),
        }),
    );
    Profile {
        company: company(HOOLI),
        workspace,
        id: ProfileId::from_i64(id).unwrap(),
        name,
        calls: CallsRule {
            level,
            team_leads: users(leads),
        },
        fields,
    }
}

/// Creates a profile of `level` in `workspace` (id `profile`) and gives it
/// to `holder`.
pub async fn give(
    store: &dyn Store,
    workspace: WorkspaceId,
    holder: i64,
    profile: i64,
    level: CallsAccess,
    leads: &[i64],
) {
    store
        .create_profile(
            &Origin::cli(),
            caller(HOOLI),
            &hooli_profile(workspace, profile, level, leads),
        )
        .await
        .unwrap();
    store
        .assign_profile(
            &Origin::cli(),
            company(HOOLI),
            user(holder),
            ProfileId::from_i64(profile).unwrap(),
        )
        .await
        .unwrap();
}

/// A HOOLI call of `primary` in `workspace` (the default if `None`).
pub async fn hooli_call(
    store: &dyn Store,
    id: i64,
    primary: i64,
    participants: &[i64],
    workspace: Option<WorkspaceId>,
    private: bool,
) {
    store
        .add_call(
            &Origin::cli(),
            &Call {
                workspace,
                is_private: private,
                ..new_call(HOOLI, id, primary, participants)
            },
        )
        .await
        .unwrap();
}

/// The routes by which `u` opens HOOLI's call `c`, as `call_access` says.
pub async fn routes_of(store: &dyn Store, c: i64, u: i64) -> Vec<Route> {
    store
        .call_access(company(HOOLI), call(c))
        .await
        .unwrap()
        .viewers
        .into_iter()
        .find(|viewer| viewer.user == user(u))
        .map(|viewer| viewer.routes)
        .unwrap_or_default()
}

/// The chain of the profile route by which `u` opens `c`; panics unless
/// there is one.
async fn chain_of(store: &dyn Store, c: i64, u: i64) -> Vec<i64> {
    let routes = routes_of(store, c, u).await;
    match routes.as_slice() {
        [Route::Profile { chain, .. }] => chain.iter().map(|u| u.get()).collect(),
        other => panic!("user {u} on call {c}: expected one profile route, got {other:?}"),
    }
}

/// The users a PUT of `users` on HOOLI's call `c` records.
async fn put_records(store: &dyn Store, c: i64, us: &[i64]) -> Vec<i64> {
    let before: Vec<i64> = grants(store, HOOLI, &[c]).await.remove(0).1;
    store
        .grant_access(&Origin::cli(), caller(HOOLI), &change(&[(c, us)]))
        .await
        .unwrap();
    let after = grants(store, HOOLI, &[c]).await.remove(0).1;
    after.into_iter().filter(|u| !before.contains(u)).collect()
}

pub async fn report_to_them_opens_calls_over_a_chain_of_six(store: &dyn Store) {
    org_chart(store).await;
    let ws = default_workspace(store, HOOLI).await;
    give(store, ws, 1, 501, CallsAccess::ReportToThem, &[]).await;
    give(store, ws, 4, 504, CallsAccess::ReportToThem, &[]).await;
    hooli_call(store, 1, 7, &[], None, false).await;
    hooli_call(store, 2, 20, &[], None, false).await;
    hooli_call(store, 3, 2, &[], None, false).await;

    // 7 → 6 → 5 → 4 → 3 → 2 → 1: six managers up.
    assert_eq!(chain_of(store, 1, 1).await, vec![7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(chain_of(store, 1, 4).await, vec![7, 6, 5, 4]);
    let routes = routes_of(store, 1, 1).await;
    assert!(matches!(
        &routes[0],
        Route::Profile { profile, name, level: CallsAccess::ReportToThem, team_of: None, .. }
            if profile.get() == 501 && name == "report-to-them 501"
    ));
    // PUT records nothing for the managers above 7, a grant for 20.
    assert_eq!(put_records(store, 1, &[1, 4, 20]).await, vec![20]);
    // Not above the primary user: nothing.
    assert!(routes_of(store, 2, 1).await.is_empty());
    assert!(routes_of(store, 3, 4).await.is_empty(), "2 is above 4");
    assert_eq!(put_records(store, 3, &[1, 4]).await, vec![4]);
    // Without the profile, 1 opens nothing: the chain was the route.
    give(store, ws, 1, 511, CallsAccess::Own, &[]).await;
    assert!(routes_of(store, 1, 1).await.is_empty());
}

pub async fn managers_team_with_and_without_team_leads(store: &dyn Store) {
    org_chart(store).await;
    let ws = default_workspace(store, HOOLI).await;
    give(store, ws, 20, 520, CallsAccess::ManagersTeam, &[3, 8]).await;
    give(store, ws, 9, 509, CallsAccess::ManagersTeam, &[]).await;
    give(store, ws, 1, 501, CallsAccess::ManagersTeam, &[]).await;
    hooli_call(store, 1, 7, &[], None, false).await; // below lead 3
    hooli_call(store, 2, 8, &[], None, false).await; // lead 8 itself
    hooli_call(store, 3, 9, &[], None, false).await; // below lead 8
    hooli_call(store, 4, 2, &[], None, false).await; // above both leads

    // With team leads: the leads and everyone below them.
    assert_eq!(chain_of(store, 1, 20).await, vec![7, 6, 5, 4, 3]);
    assert_eq!(chain_of(store, 2, 20).await, vec![8]);
    assert!(matches!(
        routes_of(store, 3, 20).await.as_slice(),
        [Route::Profile { team_of: Some(t), level: CallsAccess::ManagersTeam, .. }] if *t == user(8)
    ));
    assert!(routes_of(store, 4, 20).await.is_empty());
    assert_eq!(put_records(store, 4, &[20]).await, vec![20]);
    assert_eq!(put_records(store, 1, &[20]).await, Vec::<i64>::new());

    // Without: the team of the user's own manager (9's is 8).
    assert_eq!(chain_of(store, 2, 9).await, vec![8]);
    assert!(routes_of(store, 4, 9).await.is_empty(), "2 manages 8");
    assert!(routes_of(store, 1, 9).await.is_empty());
    assert_eq!(chain_of(store, 3, 9).await, Vec::<i64>::new(), "own call");
    assert_eq!(put_records(store, 2, &[9]).await, Vec::<i64>::new());
    assert_eq!(put_records(store, 4, &[9]).await, vec![9]);
    // Without a manager, only the user's own calls.
    assert!(routes_of(store, 4, 1).await.is_empty());
    assert_eq!(put_records(store, 4, &[1]).await, vec![1]);
}

pub async fn a_private_call_opens_by_each_route_but_profiles_of_non_parties(store: &dyn Store) {
    org_chart(store).await;
    let ws = default_workspace(store, HOOLI).await;
    give(store, ws, 1, 501, CallsAccess::All, &[]).await;
    give(store, ws, 2, 502, CallsAccess::ReportToThem, &[]).await;
    give(store, ws, 20, 520, CallsAccess::ManagersTeam, &[8]).await;
    give(store, ws, 9, 509, CallsAccess::Own, &[]).await;
    give(store, ws, 6, 506, CallsAccess::ReportToThem, &[]).await;
    give(store, ws, 7, 507, CallsAccess::None, &[]).await;
    // Private, of 9, with participants 6 and 7.
    hooli_call(store, 10, 9, &[6, 7], None, true).await;
    store
        .add_share(&Origin::cli(), company(HOOLI), call(10), user(3))
        .await
        .unwrap();
    store
        .grant_access(&Origin::cli(), caller(HOOLI), &change(&[(10, &[4])]))
        .await
        .unwrap();

    let facts = store.call_access(company(HOOLI), call(10)).await.unwrap();
    let viewers: Vec<i64> = facts.viewers.iter().map(|v| v.user.get()).collect();
    assert_eq!(viewers, vec![3, 4, 6, 9], "{facts:?}");
    assert_eq!(routes_of(store, 10, 3).await, vec![Route::Shared]);
    assert!(
        matches!(
            routes_of(store, 10, 4).await.as_slice(),
            [Route::ApiGrant(_)]
        ),
        "an API grant alone"
    );
    // The parties' profiles: the primary user's `own`, a participant's
    // hierarchy level; a participant whose level is `none` has nothing.
    assert_eq!(chain_of(store, 10, 9).await, Vec::<i64>::new());
    assert_eq!(chain_of(store, 10, 6).await, Vec::<i64>::new());
    // The profiles of non-parties (all, report-to-them over 9, a team
    // lead's team) are refused, so PUT records their grants.
    assert_eq!(
        put_records(store, 10, &[1, 2, 20, 7, 9, 6, 3]).await,
        vec![1, 2, 7, 20]
    );

    // The same call, not private: all three open it by profile too.
    store
        .set_private(&Origin::cli(), company(HOOLI), call(10), false)
        .await
        .unwrap();
    for u in [1, 2, 20] {
        let routes = routes_of(store, 10, u).await;
        assert!(
            routes.iter().any(|r| matches!(r, Route::Profile { .. })),
            "user {u}: {routes:?}"
        );
    }
    assert!(store
        .call(caller(HOOLI), call(10))
        .await
        .unwrap()
        .is_some_and(|c| !c.is_private));
    assert_eq!(
        err(store
            .set_private(&Origin::cli(), company(HOOLI), call(900), true)
            .await),
        StoreError::NoCall {
            company: company(HOOLI),
            call: call(900)
        }
    );
}

pub async fn a_profile_in_another_workspace_does_not_apply(store: &dyn Store) {
    org_chart(store).await;
    let other = WorkspaceId::from_i64(4_004_000_002).unwrap();
    store
        .create_workspace(&Workspace {
            company: company(HOOLI),
            id: other,
            name: "Support".to_owned(),
            description: Some("the other one".to_owned()),
        })
        .await
        .unwrap();
    give(store, other, 1, 501, CallsAccess::All, &[]).await;
    hooli_call(store, 1, 7, &[], None, false).await;
    hooli_call(store, 2, 7, &[], Some(other), false).await;
    assert!(routes_of(store, 1, 1).await.is_empty());
    assert_eq!(chain_of(store, 2, 1).await, Vec::<i64>::new());
    assert_eq!(put_records(store, 1, &[1]).await, vec![1]);
    assert_eq!(put_records(store, 2, &[1]).await, Vec::<i64>::new());
    // A profile of the default workspace as well: each applies in its own.
    let ws = default_workspace_of_call(store, 1).await;
    assert_ne!(ws, other);
    give(store, ws, 1, 502, CallsAccess::ReportToThem, &[]).await;
    hooli_call(store, 3, 7, &[], None, false).await;
    hooli_call(store, 4, 7, &[], Some(other), false).await;
    assert_eq!(chain_of(store, 3, 1).await, vec![7, 6, 5, 4, 3, 2, 1]);
    assert_eq!(
        chain_of(store, 4, 1).await,
        Vec::<i64>::new(),
        "`all` there"
    );
}

async fn default_workspace_of_call(store: &dyn Store, c: i64) -> WorkspaceId {
    store
        .call(caller(HOOLI), call(c))
        .await
        .unwrap()
        .unwrap()
        .workspace
        .unwrap()
}

pub async fn a_manager_change_changes_puts_answer_and_never_removes_a_grant(store: &dyn Store) {
    org_chart(store).await;
    let ws = default_workspace(store, HOOLI).await;
    give(store, ws, 20, 520, CallsAccess::ReportToThem, &[]).await;
    hooli_call(store, 1, 9, &[], None, false).await;
    hooli_call(store, 2, 9, &[], None, false).await;
    assert_eq!(put_records(store, 1, &[20]).await, vec![20]);

    // 8 (9's manager) now reports to 20: 20 is above 9.
    store
        .set_manager(&Origin::cli(), company(HOOLI), user(8), Some(user(20)))
        .await
        .unwrap();
    assert_eq!(chain_of(store, 2, 20).await, vec![9, 8, 20]);
    assert_eq!(put_records(store, 2, &[20]).await, Vec::<i64>::new());
    assert_eq!(
        grants(store, HOOLI, &[1, 2]).await,
        vec![(1, vec![20]), (2, vec![])],
        "the grant made before stays"
    );
    let routes = routes_of(store, 1, 20).await;
    assert_eq!(routes.len(), 2, "a grant and the chain: {routes:?}");
    assert!(matches!(routes[0], Route::ApiGrant(_)), "{routes:?}");

    // Back under 2: the grant stays, and PUT records one again.
    store
        .set_manager(&Origin::cli(), company(HOOLI), user(8), Some(user(2)))
        .await
        .unwrap();
    assert_eq!(grants(store, HOOLI, &[1]).await, vec![(1, vec![20])]);
    assert_eq!(put_records(store, 2, &[20]).await, vec![20]);
    // Clearing a manager cuts the chain, and never touches a grant.
    store
        .set_manager(&Origin::cli(), company(HOOLI), user(9), None)
        .await
        .unwrap();
    assert_eq!(
        grants(store, HOOLI, &[1, 2]).await,
        vec![(1, vec![20]), (2, vec![20])]
    );
    let nine = store.user(caller(HOOLI), user(9)).await.unwrap().unwrap();
    assert_eq!(nine.manager_id, None);
}

pub async fn a_manager_loop_is_refused_and_named(store: &dyn Store) {
    org_chart(store).await;
    let before = snapshot(store).await;
    let looped = err(store
        .set_manager(&Origin::cli(), company(HOOLI), user(1), Some(user(7)))
        .await);
    assert_eq!(
        looped,
        StoreError::ManagerLoop(users(&[1, 7, 6, 5, 4, 3, 2, 1]))
    );
    assert_eq!(
        looped.to_string(),
        "a manager loop is not allowed: 1 reports to 7 reports to 6 reports to 5 reports to 4 \
         reports to 3 reports to 2 reports to 1"
    );
    assert_eq!(looped.kind(), ErrorKind::Invalid);
    assert_eq!(
        err(store
            .set_manager(&Origin::cli(), company(HOOLI), user(5), Some(user(5)))
            .await),
        StoreError::ManagerLoop(users(&[5, 5]))
    );
    // A manager the company does not have (GLOBEX's 5 is not HOOLI's 77).
    assert_eq!(
        err(store
            .set_manager(&Origin::cli(), company(HOOLI), user(2), Some(user(77)))
            .await),
        StoreError::NoUser {
            company: company(HOOLI),
            user: user(77)
        }
    );
    assert_eq!(
        err(store
            .set_manager(&Origin::cli(), company(GLOBEX), user(5), Some(user(2)))
            .await),
        StoreError::NoUser {
            company: company(GLOBEX),
            user: user(2)
        }
    );
    assert_eq!(
        err(store
            .set_manager(&Origin::cli(), company(HOOLI), user(77), Some(user(2)))
            .await),
        StoreError::NoUser {
            company: company(HOOLI),
            user: user(77)
        }
    );
    assert_eq!(
        snapshot(store).await,
        before,
        "a refused change changes nothing"
    );
    let one = store.user(caller(HOOLI), user(1)).await.unwrap().unwrap();
    assert_eq!(one.manager_id, None);
}
