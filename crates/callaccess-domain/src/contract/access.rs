//! The three endpoints, tenancy and profiles.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::*;
use crate::Origin;

// --- PUT and POST ---

pub async fn put_records_grants_and_post_lists_them(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[3, 1]), (102, &[1])]),
        )
        .await
        .unwrap();
    assert_eq!(
        grants(store, ACME, &[101, 102]).await,
        vec![(101, vec![1, 3]), (102, vec![1])]
    );
    let facts = store.call_access(company(ACME), call(101)).await.unwrap();
    assert_eq!(facts.api_grants(), users(&[1, 3]));
    assert!(
        facts.shares().is_empty(),
        "a grant is not a share: {facts:?}"
    );
}

pub async fn post_lists_each_call_once_in_request_order(store: &dyn Store) {
    world(store).await;
    // Users given out of order and repeated come back once, ascending.
    store
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[3, 1, 2]), (101, &[2])]),
        )
        .await
        .unwrap();
    assert_eq!(
        grants(store, ACME, &[102, 101, 102, 100]).await,
        vec![(102, vec![]), (101, vec![1, 2, 3]), (100, vec![])]
    );
}

pub async fn empty_changes_and_lists_do_nothing(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &AccessChange::default())
        .await
        .unwrap();
    store
        .revoke_access(&Origin::cli(), caller(ACME), &AccessChange::default())
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[]).await, vec![]);
    // Even for a company that does not exist: there is nothing to check.
    store
        .grant_access(&Origin::cli(), caller(999), &AccessChange::default())
        .await
        .unwrap();
    assert_eq!(snapshot(store).await, before);
}

pub async fn put_twice_is_a_noop(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    let once = snapshot(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    assert_eq!(snapshot(store).await, once);
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
}

pub async fn put_skips_users_with_a_share(store: &dyn Store) {
    world(store).await;
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap();
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2, 3])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![3])]);
    assert_eq!(shares_of(store, ACME, 101).await, users(&[2]));
}

pub async fn put_skips_users_whose_profile_is_all(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[10, 1])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![1])]);
}

pub async fn put_skips_own_profile_primary_and_participants(store: &dyn Store) {
    world(store).await;
    // Call 100: 11 is its primary user, 12 a participant, 13 neither; all
    // three have the `own` profile.
    store
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(100, &[11, 12, 13])]),
        )
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[100]).await, vec![(100, vec![13])]);
    // On a call they are not part of, `own` users need the grant.
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[11, 12])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![11, 12])]);
    // A participant with profile `none` is not let in by the profile.
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(102, &[3])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[102]).await, vec![(102, vec![3])]);
}

pub async fn put_rejects_unknown_calls_in_request_order_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    let result = store
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[1]), (555, &[1]), (444, &[2]), (555, &[3])]),
        )
        .await;
    assert_eq!(calls_not_found(result), vec![555, 444]);
    assert_eq!(snapshot(store).await, before);
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![])]);
}

pub async fn put_checks_calls_before_users(store: &dyn Store) {
    world(store).await;
    let result = store
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[77]), (555, &[78])]),
        )
        .await;
    assert_eq!(calls_not_found(result), vec![555]);
}

pub async fn put_rejects_unknown_users_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    let result = store
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(100, &[1, 78]), (101, &[77, 2, 78])]),
        )
        .await;
    assert_eq!(users_not_found(result), vec![78, 77]);
    assert_eq!(snapshot(store).await, before);
}

pub async fn empty_user_lists_still_need_existing_calls(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[])]))
        .await
        .unwrap();
    store
        .revoke_access(&Origin::cli(), caller(ACME), &change(&[(101, &[])]))
        .await
        .unwrap();
    assert_eq!(snapshot(store).await, before);
    let result = store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(555, &[])]))
        .await;
    assert_eq!(calls_not_found(result), vec![555]);
    let result = store
        .revoke_access(&Origin::cli(), caller(ACME), &change(&[(555, &[])]))
        .await;
    assert_eq!(calls_not_found(result), vec![555]);
}

// --- DELETE ---

pub async fn delete_removes_only_api_grants(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2, 3])]))
        .await
        .unwrap();
    // 3 now has both a grant and a share; 10 opens every call by profile.
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(3))
        .await
        .unwrap();
    store
        .revoke_access(&Origin::cli(), caller(ACME), &change(&[(101, &[3, 10])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
    let facts = store.call_access(company(ACME), call(101)).await.unwrap();
    assert_eq!(
        facts.shares(),
        users(&[3]),
        "DELETE must leave shares alone"
    );
    assert_eq!(
        facts.by_profile(CallsAccess::All),
        users(&[10]),
        "DELETE must leave profiles alone"
    );
    let ten = store
        .users(company(ACME))
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.id == user(10))
        .unwrap();
    assert_eq!(ten.calls_access, Some(CallsAccess::All));
}

pub async fn delete_ignores_unknown_users_and_missing_grants(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    store
        .revoke_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[77, 1, 2]), (102, &[1])]),
        )
        .await
        .unwrap();
    assert_eq!(
        grants(store, ACME, &[101, 102]).await,
        vec![(101, vec![]), (102, vec![])]
    );
    // Revoking what is already gone is fine too.
    store
        .revoke_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
}

pub async fn delete_rejects_unknown_calls_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[1]), (102, &[1])]),
        )
        .await
        .unwrap();
    let before = snapshot(store).await;
    let result = store
        .revoke_access(
            &Origin::cli(),
            caller(ACME),
            &change(&[(101, &[1]), (555, &[1]), (102, &[1]), (444, &[])]),
        )
        .await;
    assert_eq!(calls_not_found(result), vec![555, 444]);
    assert_eq!(snapshot(store).await, before);
    assert_eq!(
        grants(store, ACME, &[101, 102]).await,
        vec![(101, vec![1]), (102, vec![1])]
    );
}

pub async fn post_rejects_unknown_calls_each_once_in_request_order(store: &dyn Store) {
    world(store).await;
    let calls: Vec<CallId> = [555, 100, 444, 555, 444].iter().map(|c| call(*c)).collect();
    let result = store.list_api_grants(caller(ACME), &calls).await;
    assert_eq!(calls_not_found(result), vec![555, 444]);
}

// --- tenancy ---

pub async fn companies_are_isolated(store: &dyn Store) {
    world(store).await;
    // Call 900 exists, but in GLOBEX: to ACME it is unknown, everywhere.
    let result = store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(900, &[1])]))
        .await;
    assert_eq!(calls_not_found(result), vec![900]);
    let result = store
        .revoke_access(&Origin::cli(), caller(ACME), &change(&[(900, &[1])]))
        .await;
    assert_eq!(calls_not_found(result), vec![900]);
    assert_eq!(
        calls_not_found(store.list_api_grants(caller(ACME), &[call(900)]).await),
        vec![900]
    );
    assert_eq!(
        err(store.call_access(company(ACME), call(900)).await).kind(),
        ErrorKind::NotFound
    );
    assert_eq!(
        err(store
            .add_share(&Origin::cli(), company(ACME), call(900), user(1))
            .await)
        .kind(),
        ErrorKind::NotFound
    );
    // User 5 exists, but in GLOBEX.
    let result = store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(100, &[5])]))
        .await;
    assert_eq!(users_not_found(result), vec![5]);

    // Call 100 and user 1 exist in both; each company sees only its own.
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(100, &[1])]))
        .await
        .unwrap();
    assert_eq!(grants(store, GLOBEX, &[100]).await, vec![(100, vec![])]);
    store
        .grant_access(&Origin::cli(), caller(GLOBEX), &change(&[(100, &[1])]))
        .await
        .unwrap();
    store
        .revoke_access(&Origin::cli(), caller(GLOBEX), &change(&[(100, &[1])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[100]).await, vec![(100, vec![1])]);
    assert_eq!(grants(store, GLOBEX, &[100]).await, vec![(100, vec![])]);

    let globex_users: Vec<i64> = store
        .users(company(GLOBEX))
        .await
        .unwrap()
        .iter()
        .map(|u| u.id.get())
        .collect();
    assert_eq!(globex_users, vec![1, 5]);
    let globex_calls: Vec<i64> = store
        .calls(company(GLOBEX))
        .await
        .unwrap()
        .iter()
        .map(|c| c.id.get())
        .collect();
    assert_eq!(globex_calls, vec![100, 900]);
}

// --- profiles and the full picture ---

pub async fn profile_changes_decide_later_puts(store: &dyn Store) {
    world(store).await;
    store
        .set_calls_access(&Origin::cli(), company(ACME), user(2), CallsAccess::All)
        .await
        .unwrap();
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![])]);
    // Lowering the profile does not invent grants; the next PUT records one.
    store
        .set_calls_access(&Origin::cli(), company(ACME), user(2), CallsAccess::None)
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![])]);
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
    assert_eq!(
        err(store
            .set_calls_access(&Origin::cli(), company(ACME), user(77), CallsAccess::All)
            .await),
        StoreError::NoUser {
            company: company(1001),
            user: user(77)
        }
    );
    // The same id in another company is another user.
    assert_eq!(
        err(store
            .set_calls_access(&Origin::cli(), company(GLOBEX), user(2), CallsAccess::All)
            .await,)
        .kind(),
        ErrorKind::NotFound
    );
}

pub async fn call_access_reports_every_route(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(100, &[3, 1])]))
        .await
        .unwrap();
    store
        .add_share(&Origin::cli(), company(ACME), call(100), user(2))
        .await
        .unwrap();
    let facts = store.call_access(company(ACME), call(100)).await.unwrap();
    assert_eq!(
        without_workspace(&facts.call),
        new_call(ACME, 100, 11, &[12])
    );
    assert_eq!(
        facts.call.workspace,
        Some(default_workspace(store, ACME).await)
    );
    assert_eq!(facts.api_grants(), users(&[1, 3]));
    assert_eq!(facts.shares(), users(&[2]));
    assert_eq!(facts.by_profile(CallsAccess::All), users(&[10]));
    assert_eq!(facts.by_profile(CallsAccess::Own), users(&[11, 12]));
    let viewers: Vec<i64> = facts.viewers.iter().map(|v| v.user.get()).collect();
    assert_eq!(viewers, vec![1, 2, 3, 10, 11, 12]);
    // A user with a grant and a profile route has both, the grant first.
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[10])]))
        .await
        .unwrap();
    let ten = store.call_access(company(ACME), call(101)).await.unwrap();
    let ten = ten.viewers.iter().find(|v| v.user == user(10)).unwrap();
    assert_eq!(ten.routes.len(), 1, "PUT recorded nothing for 10: {ten:?}");
    assert!(matches!(
        &ten.routes[0],
        crate::access::Route::Profile { name, level: CallsAccess::All, .. }
            if name == "Calls access: all"
    ));
    assert_eq!(
        err(store.call_access(company(ACME), call(555)).await),
        StoreError::NoCall {
            company: company(1001),
            call: call(555)
        }
    );
}
