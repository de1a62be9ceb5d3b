//! Explain and reverse lookup (control-plane.md §8): every route of one
//! pair, a call's viewers and a user's calls, paged.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::*;
use crate::access::Route;
use crate::page::PageAfter;
use crate::ProfileId;

fn page(after: Option<i64>, limit: usize) -> PageAfter {
    PageAfter {
        after,
        limit,
        count: false,
    }
}

async fn explain(store: &dyn Store, c: i64, u: i64) -> Vec<Route> {
    store
        .access_routes(company(HOOLI), call(c), user(u))
        .await
        .unwrap()
}

/// The chain and team of the one profile route of `routes`, with its
/// level; panics unless that is all there is.
fn profile_of(routes: &[Route]) -> (CallsAccess, Vec<i64>, Option<i64>) {
    match routes {
        [Route::Profile {
            level,
            chain,
            team_of,
            ..
        }] => (
            *level,
            chain.iter().map(|u| u.get()).collect(),
            team_of.map(|u| u.get()),
        ),
        other => panic!("expected one profile route, got {other:?}"),
    }
}

/// HOOLI's org chart with a profile of each level, a call of 7 with
/// participant 6 (30, and 31 the same but private), each granted to 4 and
/// shared with 8. Returns the time span in which the grants were recorded.
async fn explained_world(store: &dyn Store) -> (Timestamp, Timestamp) {
    org_chart(store).await;
    let ws = default_workspace(store, HOOLI).await;
    give(store, ws, 1, 501, CallsAccess::ReportToThem, &[]).await;
    give(store, ws, 20, 520, CallsAccess::ManagersTeam, &[3]).await;
    give(store, ws, 9, 509, CallsAccess::ManagersTeam, &[]).await;
    give(store, ws, 5, 505, CallsAccess::All, &[]).await;
    give(store, ws, 6, 506, CallsAccess::Own, &[]).await;
    give(store, ws, 7, 507, CallsAccess::None, &[]).await;
    hooli_call(store, 30, 7, &[6], None, false).await;
    hooli_call(store, 31, 7, &[6], None, true).await;
    let before = Timestamp::now();
    for c in [30, 31] {
        store
            .grant_access(&Origin::cli(), caller(HOOLI), &change(&[(c, &[4])]))
            .await
            .unwrap();
        store
            .add_share(&Origin::cli(), company(HOOLI), call(c), user(8))
            .await
            .unwrap();
    }
    (before, Timestamp::now())
}

pub async fn explain_names_each_route_with_its_facts(store: &dyn Store) {
    let (before, after) = explained_world(store).await;
    // The API grant, with when it was recorded.
    match explain(store, 30, 4).await.as_slice() {
        [Route::ApiGrant(grant)] => assert!(
            before <= grant.granted_at && grant.granted_at <= after,
            "granted at {} outside {before}..{after}",
            grant.granted_at
        ),
        other => panic!("expected an API grant, got {other:?}"),
    }
    assert_eq!(explain(store, 30, 8).await, vec![Route::Shared]);
    // report-to-them: six managers from 7 up to 1.
    let routes = explain(store, 30, 1).await;
    assert!(matches!(
        &routes[0],
        Route::Profile { profile, name, .. } if profile.get() == 501 && name == "report-to-them 501"
    ));
    assert_eq!(
        profile_of(&routes),
        (CallsAccess::ReportToThem, vec![7, 6, 5, 4, 3, 2, 1], None)
    );
    // managers-team with a team lead four managers above the primary user.
    assert_eq!(
        profile_of(&explain(store, 30, 20).await),
        (CallsAccess::ManagersTeam, vec![7, 6, 5, 4, 3], Some(3))
    );
    assert_eq!(
        profile_of(&explain(store, 30, 5).await),
        (CallsAccess::All, vec![], None)
    );
    assert_eq!(
        profile_of(&explain(store, 30, 6).await),
        (CallsAccess::Own, vec![], None),
        "a participant"
    );
    // Who cannot open it has no route: the primary user whose level is
    // none, 9 (the team of 8, which 7 is not in), 2 (no profile).
    for u in [7, 9, 2] {
        assert_eq!(explain(store, 30, u).await, vec![], "user {u}");
    }
    // Private: grants, shares and the parties' profiles only.
    assert!(matches!(
        explain(store, 31, 4).await.as_slice(),
        [Route::ApiGrant(_)]
    ));
    assert_eq!(explain(store, 31, 8).await, vec![Route::Shared]);
    assert_eq!(
        profile_of(&explain(store, 31, 6).await),
        (CallsAccess::Own, vec![], None)
    );
    for u in [1, 20, 5] {
        assert_eq!(explain(store, 31, u).await, vec![], "user {u}");
    }
    // Both routes of one user, API grant first.
    store
        .grant_access(&Origin::cli(), caller(HOOLI), &change(&[(30, &[8])]))
        .await
        .unwrap();
    store
        .add_share(&Origin::cli(), company(HOOLI), call(30), user(8))
        .await
        .unwrap();
    assert!(matches!(
        explain(store, 30, 8).await.as_slice(),
        [Route::Shared] | [Route::ApiGrant(_), Route::Shared]
    ));
}

pub async fn explain_viewers_and_calls_refuse_unknown_calls_and_users(store: &dyn Store) {
    explained_world(store).await;
    let hooli = company(HOOLI);
    assert_eq!(
        err(store.access_routes(hooli, call(999), user(1)).await),
        StoreError::NoCall {
            company: hooli,
            call: call(999)
        }
    );
    assert_eq!(
        err(store.access_routes(hooli, call(30), user(999)).await),
        StoreError::NoUser {
            company: hooli,
            user: user(999)
        }
    );
    assert_eq!(
        err(store.call_viewers(hooli, call(999), page(None, 10)).await),
        StoreError::NoCall {
            company: hooli,
            call: call(999)
        }
    );
    assert_eq!(
        err(store.user_calls(hooli, user(999), page(None, 10)).await),
        StoreError::NoUser {
            company: hooli,
            user: user(999)
        }
    );
    // Another company's call reads as unknown: ACME has call 101.
    assert_eq!(
        err(store.call_viewers(hooli, call(101), page(None, 10)).await).kind(),
        ErrorKind::NotFound
    );
}

/// Every page of `call`'s viewers of `limit` users, as (user, routes).
async fn all_viewers(store: &dyn Store, c: i64, limit: usize) -> (Vec<(i64, Vec<Route>)>, usize) {
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let got = store
            .call_viewers(company(HOOLI), call(c), page(after, limit))
            .await
            .unwrap();
        pages += 1;
        assert!(got.items.len() <= limit);
        assert!(
            !got.more || got.items.len() == limit,
            "a page short of the limit is the last"
        );
        seen.extend(got.items.iter().map(|v| (v.user.get(), v.routes.clone())));
        after = got.items.last().map(|v| v.user.get());
        if !got.more {
            return (seen, pages);
        }
    }
}

/// Every page of `u`'s calls of `limit` calls, as (call, routes).
async fn all_calls(store: &dyn Store, u: i64, limit: usize) -> (Vec<(i64, Vec<Route>)>, usize) {
    let mut seen = Vec::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let got = store
            .user_calls(company(HOOLI), user(u), page(after, limit))
            .await
            .unwrap();
        pages += 1;
        assert!(got.items.len() <= limit);
        seen.extend(got.items.iter().map(|c| (c.call.get(), c.routes.clone())));
        after = got.items.last().map(|c| c.call.get());
        if !got.more {
            return (seen, pages);
        }
    }
}

fn ids(listed: &[(i64, Vec<Route>)]) -> Vec<i64> {
    listed.iter().map(|(id, _)| *id).collect()
}

pub async fn viewers_and_calls_page_in_id_order_each_once(store: &dyn Store) {
    explained_world(store).await;
    let ws = default_workspace(store, HOOLI).await;
    // 30 more users under 8, every third holding `all`, every third of
    // the rest `managers-team` without leads (the team of 8), the rest
    // nothing; and calls 40..=52 of 2 (10 of them private).
    let all = ProfileId::from_i64(540).unwrap();
    let team = ProfileId::from_i64(541).unwrap();
    store
        .create_profile(
            &Origin::cli(),
            caller(HOOLI),
            &hooli_profile(ws, 540, CallsAccess::All, &[]),
        )
        .await
        .unwrap();
    store
        .create_profile(
            &Origin::cli(),
            caller(HOOLI),
            &hooli_profile(ws, 541, CallsAccess::ManagersTeam, &[]),
        )
        .await
        .unwrap();
    for id in 100..130 {
        store
            .add_user(&Origin::cli(), &new_user(HOOLI, id, None))
            .await
            .unwrap();
        store
            .set_manager(&Origin::cli(), company(HOOLI), user(id), Some(user(8)))
            .await
            .unwrap();
        let held = match id % 3 {
            0 => Some(all),
            1 => Some(team),
            _ => None,
        };
        if let Some(profile) = held {
            store
                .assign_profile(&Origin::cli(), company(HOOLI), user(id), profile)
                .await
                .unwrap();
        }
    }
    for (n, c) in (40..=52).enumerate() {
        hooli_call(store, c, 2, &[], None, n % 4 == 3).await;
    }
    // A call of 8: the team-of-8 holders open it too.
    hooli_call(store, 53, 8, &[125], None, false).await;
    store
        .grant_access(&Origin::cli(), caller(HOOLI), &change(&[(53, &[2, 101])]))
        .await
        .unwrap();

    // What explaining each pair says is what the listings must say.
    let company_users: Vec<i64> = [1, 2, 3, 4, 5, 6, 7, 8, 9, 20]
        .into_iter()
        .chain(100..130)
        .collect();
    let mut calls: Vec<i64> = vec![30, 31, 53];
    calls.extend(40..=52);
    calls.sort_unstable();
    for c in [30, 31, 44, 53] {
        let mut expected = Vec::new();
        for &u in &company_users {
            let routes = explain(store, c, u).await;
            if !routes.is_empty() {
                expected.push((u, routes));
            }
        }
        for limit in [1, 4, 100] {
            let (listed, pages) = all_viewers(store, c, limit).await;
            assert_eq!(listed, expected, "viewers of {c}, pages of {limit}");
            assert!(limit >= listed.len() || pages > 1);
        }
    }
    // Every viewer of 53 exactly once, ascending, over more than one page.
    let (listed, pages) = all_viewers(store, 53, 3).await;
    let users = ids(&listed);
    assert!(pages > 3, "{pages} pages");
    assert!(users.windows(2).all(|w| w[0] < w[1]), "{users:?}");
    for u in [2, 5, 101] {
        assert!(users.contains(&u), "user {u} in {users:?}");
    }
    for u in [8, 125] {
        assert!(!users.contains(&u), "a party without a profile: {u}");
    }
    let holders_of_all: Vec<i64> = (100..130).filter(|u| u % 3 == 0).collect();
    assert!(holders_of_all.iter().all(|u| users.contains(u)));
    assert!(
        (100..130)
            .filter(|u| u % 3 == 1)
            .all(|u| users.contains(&u)),
        "the team of 8"
    );
    assert!(!users.contains(&128), "no profile, no grant: {users:?}");

    for u in [1, 2, 4, 5, 6, 8, 9, 20, 101, 102, 105] {
        let mut expected = Vec::new();
        for &c in &calls {
            let routes = explain(store, c, u).await;
            if !routes.is_empty() {
                expected.push((c, routes));
            }
        }
        for limit in [1, 3, 100] {
            let (listed, _) = all_calls(store, u, limit).await;
            assert_eq!(listed, expected, "calls of {u}, pages of {limit}");
        }
    }
    // Level all: every non-private call, over several pages.
    let (listed, pages) = all_calls(store, 5, 2).await;
    assert!(pages > 2);
    let expected: Vec<i64> = vec![30, 40, 41, 42, 44, 45, 46, 48, 49, 50, 52, 53];
    assert_eq!(ids(&listed), expected);
    // Nothing at all: an empty page, nothing more.
    let none = store
        .user_calls(company(HOOLI), user(128), page(None, 10))
        .await
        .unwrap();
    assert!(none.items.is_empty() && !none.more);
}
