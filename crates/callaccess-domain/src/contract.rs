//! The storage contract suite: what every `Store` must do, as plain async
//! functions that take a fresh, empty, migrated store and panic on failure.
//!
//! A backend runs them all with one line in its integration tests:
//!
//! ```ignore
//! callaccess_domain::contract_tests!(fresh_store());
//! ```
//!
//! where `fresh_store()` is a future giving something that dereferences to
//! a store (a `Box<dyn Store>`, or a fixture that also owns a temporary
//! folder). The macro expands to one `#[tokio::test]` per case, so a failure
//! names the rule that broke.
//!
//! Most cases start from [`world`]: two companies that share call and user
//! ids, so that every check of company isolation has something to confuse.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::fmt::Write as _;

use crate::secret::{digest, token_id};
use crate::seed::{Seed, SeedApiKey, SeedCompany, SeedLink, SeedToken};
use crate::{
    AccessChange, Call, CallId, CallsAccess, CompanyId, CredentialCheck, Limit, NewApiKey,
    NewCompany, NewToken, RateLimit, Scope, Store, StoreError, Timestamp, User, UserId,
};

/// Expands to one `#[tokio::test]` per contract case. `$fresh` is evaluated
/// (and awaited) once per test and must dereference to a `Store`.
#[macro_export]
macro_rules! contract_tests {
    ($fresh:expr) => {
        $crate::__contract_cases!(
            $fresh;
            put_records_grants_and_post_lists_them,
            post_lists_each_call_once_in_request_order,
            empty_changes_and_lists_do_nothing,
            put_twice_is_a_noop,
            put_skips_users_with_a_share,
            put_skips_users_whose_profile_is_all,
            put_skips_own_profile_primary_and_participants,
            put_rejects_unknown_calls_in_request_order_and_changes_nothing,
            put_checks_calls_before_users,
            put_rejects_unknown_users_and_changes_nothing,
            empty_user_lists_still_need_existing_calls,
            delete_removes_only_api_grants,
            delete_ignores_unknown_users_and_missing_grants,
            delete_rejects_unknown_calls_and_changes_nothing,
            post_rejects_unknown_calls_each_once_in_request_order,
            companies_are_isolated,
            profile_changes_decide_later_puts,
            call_access_reports_every_route,
            companies_conflict_and_keep_their_rate_limits,
            api_keys_look_up_conflict_and_revoke_once,
            tokens_look_up_by_digest_and_revoke_once,
            users_conflict_and_need_their_company,
            calls_need_their_company_and_users,
            shares_need_call_and_user,
            seed_applies_and_is_idempotent,
            seed_updates_what_it_names_and_deletes_nothing,
            seed_rejects_credentials_of_another_company_and_changes_nothing,
            seed_rejects_missing_references_and_changes_nothing,
            ping_answers,
            rate_limits_are_set_and_travel_with_credentials,
            rate_budgets_are_shared_and_kept_per_company_and_window,
            a_stale_credential_check_fails_the_operation_and_changes_nothing,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __contract_cases {
    ($fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let fixture = $fresh.await;
                $crate::contract::$case(&*fixture).await;
            }
        )*
    };
}

// --- the shared starting point ---

/// Two companies whose call and user ids overlap.
pub const ACME: i64 = 1001;
pub const GLOBEX: i64 = 2002;

pub fn company(n: i64) -> CompanyId {
    CompanyId::from_i64(n).unwrap()
}
pub fn call(n: i64) -> CallId {
    CallId::from_i64(n).unwrap()
}
pub fn user(n: i64) -> UserId {
    UserId::from_i64(n).unwrap()
}

fn users(ns: &[i64]) -> Vec<UserId> {
    ns.iter().map(|n| user(*n)).collect()
}

/// A change from `(call, [users])` pairs, merged like the HTTP edge does.
pub fn change(items: &[(i64, &[i64])]) -> AccessChange {
    AccessChange::new(items.iter().map(|(c, us)| (call(*c), users(us))))
}

/// Creates the world most cases start from:
///
/// - ACME: users 1, 2, 3 (profile none), 10 (all), 11, 12, 13 (own); call
///   100 (primary 11, participant 12), 101 (primary 1), 102 (primary 2,
///   participant 3).
/// - GLOBEX: users 1, 5 (none); call 100 (primary 5), 900 (primary 5).
pub async fn world(store: &dyn Store) {
    for (id, name) in [(ACME, "Acme"), (GLOBEX, "Globex")] {
        store
            .create_company(&NewCompany {
                id: company(id),
                name: name.to_owned(),
                rate_limit: RateLimit::default(),
            })
            .await
            .unwrap();
    }
    let acme_users = [
        (1, CallsAccess::None),
        (2, CallsAccess::None),
        (3, CallsAccess::None),
        (10, CallsAccess::All),
        (11, CallsAccess::Own),
        (12, CallsAccess::Own),
        (13, CallsAccess::Own),
    ];
    for (id, level) in acme_users {
        add_user(store, ACME, id, level).await;
    }
    for id in [1, 5] {
        add_user(store, GLOBEX, id, CallsAccess::None).await;
    }
    for (company_id, id, primary, participants) in [
        (ACME, 100, 11, &[12][..]),
        (ACME, 101, 1, &[][..]),
        (ACME, 102, 2, &[3][..]),
        (GLOBEX, 100, 5, &[][..]),
        (GLOBEX, 900, 5, &[][..]),
    ] {
        store
            .add_call(&new_call(company_id, id, primary, participants))
            .await
            .unwrap();
    }
}

async fn add_user(store: &dyn Store, company_id: i64, id: i64, level: CallsAccess) {
    store
        .add_user(&User {
            company: company(company_id),
            id: user(id),
            email_address: format!("u{id}@c{company_id}.test"),
            calls_access: level,
        })
        .await
        .unwrap();
}

fn new_call(company_id: i64, id: i64, primary: i64, participants: &[i64]) -> Call {
    Call {
        company: company(company_id),
        id: call(id),
        title: Some(format!("call {id}")),
        primary_user_id: user(primary),
        participant_ids: users(participants),
    }
}

/// The API grants POST would list, as plain numbers.
pub async fn grants(store: &dyn Store, company_id: i64, calls: &[i64]) -> Vec<(i64, Vec<i64>)> {
    let calls: Vec<CallId> = calls.iter().map(|c| call(*c)).collect();
    store
        .list_api_grants(company(company_id), &calls)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.call.get(), g.users.iter().map(|u| u.get()).collect()))
        .collect()
}

/// Everything a store holds, rendered for comparison: "changes nothing"
/// means the snapshot before and after are equal.
pub async fn snapshot(store: &dyn Store) -> String {
    let mut out = String::new();
    let companies = store.companies().await.unwrap();
    writeln!(out, "{companies:?}").unwrap();
    writeln!(out, "{:?}", store.api_keys(None).await.unwrap()).unwrap();
    writeln!(out, "{:?}", store.tokens(None).await.unwrap()).unwrap();
    for c in companies {
        writeln!(out, "{:?}", store.users(c.id).await.unwrap()).unwrap();
        for call in store.calls(c.id).await.unwrap() {
            writeln!(out, "{:?}", store.call_access(c.id, call.id).await.unwrap()).unwrap();
        }
    }
    out
}

fn calls_not_found(result: Result<impl std::fmt::Debug, StoreError>) -> Vec<i64> {
    match result {
        Err(StoreError::CallsNotFound(calls)) => calls.iter().map(|c| c.get()).collect(),
        other => panic!("expected CallsNotFound, got {other:?}"),
    }
}

fn users_not_found(result: Result<impl std::fmt::Debug, StoreError>) -> Vec<i64> {
    match result {
        Err(StoreError::UsersNotFound(users)) => users.iter().map(|u| u.get()).collect(),
        other => panic!("expected UsersNotFound, got {other:?}"),
    }
}

fn not_found(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::NotFound(message)) => message,
        other => panic!("expected NotFound, got {other:?}"),
    }
}

fn conflict(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Conflict(message)) => message,
        other => panic!("expected Conflict, got {other:?}"),
    }
}

fn invalid(result: Result<impl std::fmt::Debug, StoreError>) -> String {
    match result {
        Err(StoreError::Invalid(message)) => message,
        other => panic!("expected Invalid, got {other:?}"),
    }
}

fn seed_rejected(result: Result<impl std::fmt::Debug, StoreError>) -> Vec<String> {
    match result {
        Err(StoreError::SeedRejected(mut messages)) => {
            // The order of the messages is not part of the contract.
            messages.sort();
            messages
        }
        other => panic!("expected SeedRejected, got {other:?}"),
    }
}

// --- PUT and POST ---

pub async fn put_records_grants_and_post_lists_them(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[3, 1]), (102, &[1])]))
        .await
        .unwrap();
    assert_eq!(
        grants(store, ACME, &[101, 102]).await,
        vec![(101, vec![1, 3]), (102, vec![1])]
    );
    let facts = store.call_access(company(ACME), call(101)).await.unwrap();
    assert_eq!(facts.api_grants, users(&[1, 3]));
    assert!(facts.shares.is_empty(), "a grant is not a share: {facts:?}");
}

pub async fn post_lists_each_call_once_in_request_order(store: &dyn Store) {
    world(store).await;
    // Users given out of order and repeated come back once, ascending.
    store
        .grant_access(company(ACME), &change(&[(101, &[3, 1, 2]), (101, &[2])]))
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
        .grant_access(company(ACME), &AccessChange::default())
        .await
        .unwrap();
    store
        .revoke_access(company(ACME), &AccessChange::default())
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[]).await, vec![]);
    // Even for a company that does not exist: there is nothing to check.
    store
        .grant_access(company(999), &AccessChange::default())
        .await
        .unwrap();
    assert_eq!(snapshot(store).await, before);
}

pub async fn put_twice_is_a_noop(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    let once = snapshot(store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    assert_eq!(snapshot(store).await, once);
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
}

pub async fn put_skips_users_with_a_share(store: &dyn Store) {
    world(store).await;
    store
        .add_share(company(ACME), call(101), user(2))
        .await
        .unwrap();
    store
        .grant_access(company(ACME), &change(&[(101, &[2, 3])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![3])]);
    assert_eq!(
        store
            .call_access(company(ACME), call(101))
            .await
            .unwrap()
            .shares,
        users(&[2])
    );
}

pub async fn put_skips_users_whose_profile_is_all(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[10, 1])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![1])]);
}

pub async fn put_skips_own_profile_primary_and_participants(store: &dyn Store) {
    world(store).await;
    // Call 100: 11 is its primary user, 12 a participant, 13 neither; all
    // three have the `own` profile.
    store
        .grant_access(company(ACME), &change(&[(100, &[11, 12, 13])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[100]).await, vec![(100, vec![13])]);
    // On a call they are not part of, `own` users need the grant.
    store
        .grant_access(company(ACME), &change(&[(101, &[11, 12])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![11, 12])]);
    // A participant with profile `none` is not let in by the profile.
    store
        .grant_access(company(ACME), &change(&[(102, &[3])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[102]).await, vec![(102, vec![3])]);
}

pub async fn put_rejects_unknown_calls_in_request_order_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    let result = store
        .grant_access(
            company(ACME),
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
        .grant_access(company(ACME), &change(&[(101, &[77]), (555, &[78])]))
        .await;
    assert_eq!(calls_not_found(result), vec![555]);
}

pub async fn put_rejects_unknown_users_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    let result = store
        .grant_access(
            company(ACME),
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
        .grant_access(company(ACME), &change(&[(101, &[])]))
        .await
        .unwrap();
    store
        .revoke_access(company(ACME), &change(&[(101, &[])]))
        .await
        .unwrap();
    assert_eq!(snapshot(store).await, before);
    let result = store
        .grant_access(company(ACME), &change(&[(555, &[])]))
        .await;
    assert_eq!(calls_not_found(result), vec![555]);
    let result = store
        .revoke_access(company(ACME), &change(&[(555, &[])]))
        .await;
    assert_eq!(calls_not_found(result), vec![555]);
}

// --- DELETE ---

pub async fn delete_removes_only_api_grants(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[2, 3])]))
        .await
        .unwrap();
    // 3 now has both a grant and a share; 10 opens every call by profile.
    store
        .add_share(company(ACME), call(101), user(3))
        .await
        .unwrap();
    store
        .revoke_access(company(ACME), &change(&[(101, &[3, 10])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
    let facts = store.call_access(company(ACME), call(101)).await.unwrap();
    assert_eq!(facts.shares, users(&[3]), "DELETE must leave shares alone");
    assert_eq!(
        facts.profile_all,
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
    assert_eq!(ten.calls_access, CallsAccess::All);
}

pub async fn delete_ignores_unknown_users_and_missing_grants(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    store
        .revoke_access(company(ACME), &change(&[(101, &[77, 1, 2]), (102, &[1])]))
        .await
        .unwrap();
    assert_eq!(
        grants(store, ACME, &[101, 102]).await,
        vec![(101, vec![]), (102, vec![])]
    );
    // Revoking what is already gone is fine too.
    store
        .revoke_access(company(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
}

pub async fn delete_rejects_unknown_calls_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(company(ACME), &change(&[(101, &[1]), (102, &[1])]))
        .await
        .unwrap();
    let before = snapshot(store).await;
    let result = store
        .revoke_access(
            company(ACME),
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
    let result = store.list_api_grants(company(ACME), &calls).await;
    assert_eq!(calls_not_found(result), vec![555, 444]);
}

// --- tenancy ---

pub async fn companies_are_isolated(store: &dyn Store) {
    world(store).await;
    // Call 900 exists, but in GLOBEX: to ACME it is unknown, everywhere.
    let result = store
        .grant_access(company(ACME), &change(&[(900, &[1])]))
        .await;
    assert_eq!(calls_not_found(result), vec![900]);
    let result = store
        .revoke_access(company(ACME), &change(&[(900, &[1])]))
        .await;
    assert_eq!(calls_not_found(result), vec![900]);
    assert_eq!(
        calls_not_found(store.list_api_grants(company(ACME), &[call(900)]).await),
        vec![900]
    );
    not_found(store.call_access(company(ACME), call(900)).await);
    not_found(store.add_share(company(ACME), call(900), user(1)).await);
    // User 5 exists, but in GLOBEX.
    let result = store
        .grant_access(company(ACME), &change(&[(100, &[5])]))
        .await;
    assert_eq!(users_not_found(result), vec![5]);

    // Call 100 and user 1 exist in both; each company sees only its own.
    store
        .grant_access(company(ACME), &change(&[(100, &[1])]))
        .await
        .unwrap();
    assert_eq!(grants(store, GLOBEX, &[100]).await, vec![(100, vec![])]);
    store
        .grant_access(company(GLOBEX), &change(&[(100, &[1])]))
        .await
        .unwrap();
    store
        .revoke_access(company(GLOBEX), &change(&[(100, &[1])]))
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
        .set_calls_access(company(ACME), user(2), CallsAccess::All)
        .await
        .unwrap();
    store
        .grant_access(company(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![])]);
    // Lowering the profile does not invent grants; the next PUT records one.
    store
        .set_calls_access(company(ACME), user(2), CallsAccess::None)
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![])]);
    store
        .grant_access(company(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
    assert_eq!(
        not_found(
            store
                .set_calls_access(company(ACME), user(77), CallsAccess::All)
                .await
        ),
        "user \"77\" does not exist in company \"1001\""
    );
    // The same id in another company is another user.
    not_found(
        store
            .set_calls_access(company(GLOBEX), user(2), CallsAccess::All)
            .await,
    );
}

pub async fn call_access_reports_every_route(store: &dyn Store) {
    world(store).await;
    store
        .grant_access(company(ACME), &change(&[(100, &[3, 1])]))
        .await
        .unwrap();
    store
        .add_share(company(ACME), call(100), user(2))
        .await
        .unwrap();
    let facts = store.call_access(company(ACME), call(100)).await.unwrap();
    assert_eq!(facts.call, new_call(ACME, 100, 11, &[12]));
    assert_eq!(facts.api_grants, users(&[1, 3]));
    assert_eq!(facts.shares, users(&[2]));
    assert_eq!(facts.profile_all, users(&[10]));
    assert_eq!(facts.profile_own, users(&[11, 12]));
    assert_eq!(
        not_found(store.call_access(company(ACME), call(555)).await),
        "call \"555\" does not exist in company \"1001\""
    );
}

// --- administration ---

pub async fn companies_conflict_and_keep_their_rate_limits(store: &dyn Store) {
    let limits = RateLimit {
        per_second: Limit::Max(7),
        per_day: Limit::Off,
    };
    let new = NewCompany {
        id: company(ACME),
        name: "Acme".to_owned(),
        rate_limit: limits,
    };
    let before = Timestamp::now();
    let created = store.create_company(&new).await.unwrap();
    assert_eq!(
        (created.id, created.name.as_str(), created.rate_limit),
        (company(ACME), "Acme", limits)
    );
    assert!(created.created_at >= before, "{created:?}");
    store
        .create_company(&NewCompany {
            id: company(GLOBEX),
            name: "Globex".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await
        .unwrap();

    let again = NewCompany {
        name: "Other".to_owned(),
        ..new
    };
    assert_eq!(
        conflict(store.create_company(&again).await),
        "company \"1001\" already exists"
    );

    let listed = store.companies().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(
        listed[0], created,
        "stored as created, and the failed create changed nothing"
    );
    assert_eq!(listed[1].rate_limit, RateLimit::default());
}

pub async fn api_keys_look_up_conflict_and_revoke_once(store: &dyn Store) {
    world(store).await;
    let expires = Timestamp::from_unix(1_893_456_000);
    let key = NewApiKey {
        access_key: "ACMEKEY1".to_owned(),
        company: company(ACME),
        digest: digest("acme-secret-0123456789"),
        scopes: None,
        expires_at: Some(expires),
    };
    let info = store.create_api_key(&key).await.unwrap();
    assert_eq!(
        (
            info.access_key.as_str(),
            info.company,
            info.expires_at,
            info.revoked_at
        ),
        ("ACMEKEY1", company(ACME), Some(expires), None)
    );
    let limited = NewApiKey {
        access_key: "ACMEKEY2".to_owned(),
        scopes: Some(vec![Scope::parse(Scope::READ).unwrap()]),
        expires_at: None,
        ..key.clone()
    };
    store.create_api_key(&limited).await.unwrap();

    let found = store.api_key("ACMEKEY1").await.unwrap().unwrap();
    assert_eq!(
        (
            found.company,
            found.digest,
            found.scopes,
            found.expires_at,
            found.revoked_at
        ),
        (
            company(ACME),
            digest("acme-secret-0123456789"),
            None,
            Some(expires),
            None
        )
    );
    let found = store.api_key("ACMEKEY2").await.unwrap().unwrap();
    assert_eq!(found.scopes, Some(vec![Scope::parse(Scope::READ).unwrap()]));
    assert_eq!(store.api_key("NOPE").await.unwrap(), None);

    assert_eq!(
        conflict(store.create_api_key(&key).await),
        "access key \"ACMEKEY1\" already exists"
    );
    let elsewhere = NewApiKey {
        company: company(GLOBEX),
        ..key.clone()
    };
    assert_eq!(
        conflict(store.create_api_key(&elsewhere).await),
        "access key \"ACMEKEY1\" already exists"
    );
    let orphan = NewApiKey {
        access_key: "ORPHAN".to_owned(),
        company: company(999),
        ..key.clone()
    };
    assert_eq!(
        not_found(store.create_api_key(&orphan).await),
        "company \"999\" does not exist"
    );

    let first = Timestamp::from_unix(1_800_000_000);
    let revoked = store.revoke_api_key("ACMEKEY1", first).await.unwrap();
    assert_eq!(revoked.revoked_at, Some(first));
    let again = store
        .revoke_api_key("ACMEKEY1", first.plus_seconds(60))
        .await
        .unwrap();
    assert_eq!(
        again.revoked_at,
        Some(first),
        "revoking twice keeps the first time"
    );
    assert_eq!(
        store.api_key("ACMEKEY1").await.unwrap().unwrap().revoked_at,
        Some(first)
    );
    assert_eq!(
        not_found(store.revoke_api_key("NOPE", first).await),
        "access key \"NOPE\" does not exist"
    );

    let acme_keys: Vec<String> = store
        .api_keys(Some(company(ACME)))
        .await
        .unwrap()
        .into_iter()
        .map(|k| k.access_key)
        .collect();
    assert_eq!(acme_keys.len(), 2);
    assert!(
        acme_keys.contains(&"ACMEKEY1".to_owned()) && acme_keys.contains(&"ACMEKEY2".to_owned())
    );
    assert!(store
        .api_keys(Some(company(GLOBEX)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.api_keys(None).await.unwrap().len(), 2);
}

pub async fn tokens_look_up_by_digest_and_revoke_once(store: &dyn Store) {
    world(store).await;
    let read = vec![Scope::parse(Scope::READ).unwrap()];
    let token = NewToken {
        company: company(ACME),
        digest: digest("acme-read-token-0123456789"),
        scopes: read.clone(),
        expires_at: None,
    };
    let info = store.create_token(&token).await.unwrap();
    assert_eq!(info.id, token_id(&token.digest));
    assert_eq!(
        (info.company, info.scopes.clone(), info.revoked_at),
        (company(ACME), read.clone(), None)
    );
    let no_scopes = NewToken {
        digest: digest("acme-no-scope-token-0123"),
        scopes: vec![],
        ..token.clone()
    };
    store.create_token(&no_scopes).await.unwrap();

    let found = store
        .token(&digest("acme-read-token-0123456789"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.company, found.digest, found.scopes),
        (company(ACME), token.digest, Some(read.clone()))
    );
    let found = store.token(&no_scopes.digest).await.unwrap().unwrap();
    assert_eq!(
        found.scopes,
        Some(vec![]),
        "a token's scopes are always explicit"
    );
    assert_eq!(
        store
            .token(&digest("unknown-token-0123456789"))
            .await
            .unwrap(),
        None
    );

    assert_eq!(
        conflict(store.create_token(&token).await),
        format!("token \"{}\" already exists", info.id)
    );
    let orphan = NewToken {
        company: company(999),
        digest: digest("orphan-token-0123456789"),
        ..token.clone()
    };
    assert_eq!(
        not_found(store.create_token(&orphan).await),
        "company \"999\" does not exist"
    );

    let first = Timestamp::from_unix(1_800_000_000);
    assert_eq!(
        store
            .revoke_token(&info.id, first)
            .await
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert_eq!(
        store
            .revoke_token(&info.id, first.plus_seconds(5))
            .await
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert_eq!(
        store
            .token(&token.digest)
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(first)
    );
    assert_eq!(
        not_found(store.revoke_token("0000000000000000", first).await),
        "token \"0000000000000000\" does not exist"
    );

    assert_eq!(store.tokens(Some(company(ACME))).await.unwrap().len(), 2);
    assert!(store
        .tokens(Some(company(GLOBEX)))
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.tokens(None).await.unwrap().len(), 2);
}

pub async fn users_conflict_and_need_their_company(store: &dyn Store) {
    world(store).await;
    let user_1 = User {
        company: company(ACME),
        id: user(1),
        email_address: "x@y.test".to_owned(),
        calls_access: CallsAccess::All,
    };
    assert_eq!(
        conflict(store.add_user(&user_1).await),
        "user \"1\" already exists in company \"1001\""
    );
    let orphan = User {
        company: company(999),
        ..user_1.clone()
    };
    assert_eq!(
        not_found(store.add_user(&orphan).await),
        "company \"999\" does not exist"
    );
    let listed = store.users(company(ACME)).await.unwrap();
    assert_eq!(
        listed[0],
        User {
            email_address: "u1@c1001.test".to_owned(),
            calls_access: CallsAccess::None,
            ..user_1
        }
    );
    let ids: Vec<i64> = listed.iter().map(|u| u.id.get()).collect();
    assert_eq!(ids, vec![1, 2, 3, 10, 11, 12, 13]);
    assert!(store.users(company(999)).await.unwrap().is_empty());
}

pub async fn calls_need_their_company_and_users(store: &dyn Store) {
    world(store).await;
    assert_eq!(
        not_found(store.add_call(&new_call(999, 1, 1, &[])).await),
        "company \"999\" does not exist"
    );
    assert_eq!(
        invalid(store.add_call(&new_call(ACME, 200, 77, &[])).await),
        "primary user \"77\" does not exist in company \"1001\""
    );
    assert_eq!(
        invalid(store.add_call(&new_call(ACME, 200, 1, &[2, 78])).await),
        "participant \"78\" does not exist in company \"1001\""
    );
    // GLOBEX's user 5 is not ACME's.
    invalid(store.add_call(&new_call(ACME, 200, 5, &[])).await);
    assert_eq!(
        conflict(store.add_call(&new_call(ACME, 100, 1, &[])).await),
        "call \"100\" already exists in company \"1001\""
    );
    let untitled = Call {
        title: None,
        ..new_call(ACME, 200, 1, &[3, 2, 3])
    };
    store.add_call(&untitled).await.unwrap();
    let listed = store.calls(company(ACME)).await.unwrap();
    let ids: Vec<i64> = listed.iter().map(|c| c.id.get()).collect();
    assert_eq!(ids, vec![100, 101, 102, 200]);
    // Participants come back once each, ascending.
    assert_eq!(
        listed[3],
        Call {
            participant_ids: users(&[2, 3]),
            ..untitled
        }
    );
    assert_eq!(listed[0], new_call(ACME, 100, 11, &[12]));
}

pub async fn shares_need_call_and_user(store: &dyn Store) {
    world(store).await;
    assert_eq!(
        not_found(store.add_share(company(ACME), call(555), user(1)).await),
        "call \"555\" does not exist in company \"1001\""
    );
    assert_eq!(
        not_found(store.add_share(company(ACME), call(101), user(77)).await),
        "user \"77\" does not exist in company \"1001\""
    );
    store
        .add_share(company(ACME), call(101), user(2))
        .await
        .unwrap();
    store
        .add_share(company(ACME), call(101), user(2))
        .await
        .unwrap();
    assert_eq!(
        store
            .call_access(company(ACME), call(101))
            .await
            .unwrap()
            .shares,
        users(&[2])
    );
    assert!(store
        .remove_share(company(ACME), call(101), user(2))
        .await
        .unwrap());
    assert!(!store
        .remove_share(company(ACME), call(101), user(2))
        .await
        .unwrap());
    assert!(!store
        .remove_share(company(ACME), call(555), user(2))
        .await
        .unwrap());
    assert!(store
        .call_access(company(ACME), call(101))
        .await
        .unwrap()
        .shares
        .is_empty());
}

// --- seeds ---

const INITECH: i64 = 3003;

fn link(path: &str, c: i64, u: i64) -> SeedLink {
    SeedLink {
        path: path.to_owned(),
        call: call(c),
        user: user(u),
    }
}

/// A seed as the parser would produce it for one company, `companies[0]`.
fn initech_seed() -> Seed {
    let c = company(INITECH);
    Seed {
        companies: vec![SeedCompany {
            path: "companies[0]".to_owned(),
            id: c,
            name: "Initech".to_owned(),
            rate_limit: RateLimit {
                per_second: Limit::Max(5),
                per_day: Limit::Off,
            },
            api_keys: vec![SeedApiKey {
                path: "companies[0].apiKeys[0]".to_owned(),
                access_key: "INITECHKEY1".to_owned(),
                digest: digest("initech-secret-0123456789"),
                scopes: None,
                expires_at: Some(Timestamp::from_unix(1_893_456_000)),
            }],
            tokens: vec![SeedToken {
                path: "companies[0].tokens[0]".to_owned(),
                digest: digest("initech-read-token-0123456789"),
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                expires_at: None,
            }],
            users: vec![
                User {
                    company: c,
                    id: user(1),
                    email_address: "peter@initech.test".to_owned(),
                    calls_access: CallsAccess::None,
                },
                User {
                    company: c,
                    id: user(2),
                    email_address: "bill@initech.test".to_owned(),
                    calls_access: CallsAccess::Own,
                },
                User {
                    company: c,
                    id: user(3),
                    email_address: "bob@initech.test".to_owned(),
                    calls_access: CallsAccess::All,
                },
            ],
            calls: vec![
                Call {
                    company: c,
                    id: call(500),
                    title: Some("TPS reports".to_owned()),
                    primary_user_id: user(2),
                    participant_ids: users(&[1]),
                },
                Call {
                    company: c,
                    id: call(501),
                    title: None,
                    primary_user_id: user(1),
                    participant_ids: vec![],
                },
            ],
            shares: vec![link("companies[0].shares[0]", 500, 3)],
            api_grants: vec![link("companies[0].apiGrants[0]", 501, 2)],
        }],
    }
}

pub async fn seed_applies_and_is_idempotent(store: &dyn Store) {
    let seed = initech_seed();
    assert_eq!(store.apply_seed(&seed).await.unwrap(), seed.summary());

    let companies = store.companies().await.unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(
        (companies[0].id, companies[0].name.as_str()),
        (company(INITECH), "Initech")
    );
    assert_eq!(
        companies[0].rate_limit,
        RateLimit {
            per_second: Limit::Max(5),
            per_day: Limit::Off
        }
    );
    let key = store.api_key("INITECHKEY1").await.unwrap().unwrap();
    assert_eq!(
        (key.company, key.digest, key.expires_at),
        (
            company(INITECH),
            digest("initech-secret-0123456789"),
            Some(Timestamp::from_unix(1_893_456_000))
        )
    );
    let token = store
        .token(&digest("initech-read-token-0123456789"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (token.company, token.scopes),
        (
            company(INITECH),
            Some(vec![Scope::parse(Scope::READ).unwrap()])
        )
    );
    assert_eq!(
        store.users(company(INITECH)).await.unwrap(),
        seed.companies[0].users
    );
    assert_eq!(
        store.calls(company(INITECH)).await.unwrap(),
        seed.companies[0].calls
    );
    assert_eq!(
        store
            .call_access(company(INITECH), call(500))
            .await
            .unwrap()
            .shares,
        users(&[3])
    );
    // Seed grants are recorded as given.
    assert_eq!(
        grants(store, INITECH, &[500, 501]).await,
        vec![(500, vec![]), (501, vec![2])]
    );

    let once = snapshot(store).await;
    assert_eq!(store.apply_seed(&seed).await.unwrap(), seed.summary());
    assert_eq!(
        snapshot(store).await,
        once,
        "applying a seed twice changes nothing"
    );
}

pub async fn seed_updates_what_it_names_and_deletes_nothing(store: &dyn Store) {
    let mut seed = initech_seed();
    store.apply_seed(&seed).await.unwrap();
    // Things the file does not name: a user, a call, a grant made by PUT.
    add_user(store, INITECH, 9, CallsAccess::None).await;
    store
        .add_call(&new_call(INITECH, 502, 9, &[]))
        .await
        .unwrap();
    store
        .grant_access(company(INITECH), &change(&[(500, &[9])]))
        .await
        .unwrap();
    let revoked_at = Timestamp::from_unix(1_800_000_000);
    store
        .revoke_api_key("INITECHKEY1", revoked_at)
        .await
        .unwrap();

    let c = &mut seed.companies[0];
    c.name = "Initech Inc".to_owned();
    c.rate_limit = RateLimit::default();
    c.users[0].email_address = "peter.gibbons@initech.test".to_owned();
    c.users[0].calls_access = CallsAccess::Own;
    c.calls[0].title = Some("TPS reports, again".to_owned());
    c.calls[0].participant_ids = users(&[3]);
    c.api_keys[0].scopes = Some(vec![Scope::parse(Scope::WRITE).unwrap()]);
    // A reference to a user that only the database has.
    c.shares.push(link("companies[0].shares[1]", 501, 9));
    store.apply_seed(&seed).await.unwrap();

    let company_row = store.companies().await.unwrap().remove(0);
    assert_eq!(
        (company_row.name.as_str(), company_row.rate_limit),
        ("Initech Inc", RateLimit::default())
    );
    let listed = store.users(company(INITECH)).await.unwrap();
    assert_eq!(listed[0], seed.companies[0].users[0]);
    assert_eq!(
        listed.iter().map(|u| u.id.get()).collect::<Vec<_>>(),
        vec![1, 2, 3, 9]
    );
    let calls = store.calls(company(INITECH)).await.unwrap();
    assert_eq!(
        calls[0], seed.companies[0].calls[0],
        "participants are replaced by the file's list"
    );
    assert_eq!(
        calls.iter().map(|c| c.id.get()).collect::<Vec<_>>(),
        vec![500, 501, 502]
    );
    assert_eq!(
        grants(store, INITECH, &[500, 501]).await,
        vec![(500, vec![9]), (501, vec![2])]
    );
    assert_eq!(
        store
            .call_access(company(INITECH), call(501))
            .await
            .unwrap()
            .shares,
        users(&[9])
    );
    let key = store.api_key("INITECHKEY1").await.unwrap().unwrap();
    assert_eq!(
        key.revoked_at,
        Some(revoked_at),
        "a seed never revives a revoked key"
    );
    assert_eq!(key.scopes, Some(vec![Scope::parse(Scope::WRITE).unwrap()]));
}

pub async fn seed_rejects_credentials_of_another_company_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let acme_key = NewApiKey {
        access_key: "INITECHKEY1".to_owned(),
        company: company(ACME),
        digest: digest("some-other-secret-0123"),
        scopes: None,
        expires_at: None,
    };
    store.create_api_key(&acme_key).await.unwrap();
    let acme_token = NewToken {
        company: company(ACME),
        digest: digest("initech-read-token-0123456789"),
        scopes: vec![],
        expires_at: None,
    };
    store.create_token(&acme_token).await.unwrap();
    let before = snapshot(store).await;

    let result = store.apply_seed(&initech_seed()).await;
    assert_eq!(
        seed_rejected(result),
        vec![
            "companies[0].apiKeys[0].accessKey: \"INITECHKEY1\" already belongs to another company"
                .to_owned(),
            "companies[0].tokens[0].token: this token already belongs to another company"
                .to_owned(),
        ]
    );
    assert_eq!(snapshot(store).await, before);
}

pub async fn seed_rejects_missing_references_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let before = snapshot(store).await;
    let mut seed = initech_seed();
    // User 42 and call 777 are neither in the file nor in the database; user
    // 5 and call 900 exist, but in GLOBEX.
    seed.companies[0]
        .shares
        .push(link("companies[0].shares[1]", 500, 42));
    seed.companies[0]
        .api_grants
        .push(link("companies[0].apiGrants[1]", 777, 1));
    seed.companies[0]
        .api_grants
        .push(link("companies[0].apiGrants[2]", 900, 5));
    let result = store.apply_seed(&seed).await;
    let mut expected = vec![
        "companies[0].shares[1].userId: user \"42\" does not exist in company \"3003\"".to_owned(),
        "companies[0].apiGrants[1].callId: call \"777\" does not exist in company \"3003\""
            .to_owned(),
        "companies[0].apiGrants[2].callId: call \"900\" does not exist in company \"3003\""
            .to_owned(),
        "companies[0].apiGrants[2].userId: user \"5\" does not exist in company \"3003\""
            .to_owned(),
    ];
    expected.sort();
    assert_eq!(seed_rejected(result), expected);
    assert_eq!(snapshot(store).await, before);
}

pub async fn ping_answers(store: &dyn Store) {
    store.ping().await.unwrap();
    assert!(!store.backend().is_empty());
}

pub async fn rate_limits_are_set_and_travel_with_credentials(store: &dyn Store) {
    world(store).await;
    let limit = RateLimit {
        per_second: Limit::Max(7),
        per_day: Limit::Off,
    };
    let updated = store.set_rate_limit(company(ACME), limit).await.unwrap();
    assert_eq!(updated.rate_limit, limit);
    let listed = store.companies().await.unwrap();
    assert_eq!(
        listed
            .iter()
            .find(|c| c.id == company(ACME))
            .unwrap()
            .rate_limit,
        limit
    );
    assert_eq!(
        listed
            .iter()
            .find(|c| c.id == company(GLOBEX))
            .unwrap()
            .rate_limit,
        RateLimit::default()
    );
    let missing = store
        .set_rate_limit(company(4242), limit)
        .await
        .unwrap_err();
    assert_eq!(missing.to_string(), "company \"4242\" does not exist");

    store
        .create_api_key(&NewApiKey {
            access_key: "RATEKEY".to_owned(),
            company: company(ACME),
            digest: digest("rate-key-secret-0123"),
            scopes: None,
            expires_at: None,
        })
        .await
        .unwrap();
    let key = store.api_key("RATEKEY").await.unwrap().unwrap();
    assert_eq!(key.rate_limit, limit);
    store
        .create_token(&NewToken {
            company: company(ACME),
            digest: digest("rate-token-0123456789"),
            scopes: vec![Scope::parse(Scope::READ).unwrap()],
            expires_at: None,
        })
        .await
        .unwrap();
    let token = store
        .token(&digest("rate-token-0123456789"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(token.rate_limit, limit);
    // Back to the server's defaults.
    store
        .set_rate_limit(company(ACME), RateLimit::default())
        .await
        .unwrap();
    assert_eq!(
        store.api_key("RATEKEY").await.unwrap().unwrap().rate_limit,
        RateLimit::default()
    );
}

pub async fn rate_budgets_are_shared_and_kept_per_company_and_window(store: &dyn Store) {
    use crate::RateWindow;
    use std::time::Duration;
    world(store).await;
    // A budget of 3 that refills one per hour: the test cannot outlive it.
    let hour = Duration::from_secs(3600);
    for _ in 0..3 {
        assert_eq!(
            store
                .rate_acquire(company(ACME), RateWindow::Day, hour, 3)
                .await
                .unwrap(),
            Ok(())
        );
    }
    let wait = store
        .rate_acquire(company(ACME), RateWindow::Day, hour, 3)
        .await
        .unwrap()
        .unwrap_err();
    assert!(wait > Duration::from_secs(3500) && wait <= hour, "{wait:?}");
    // Another window and another company have budgets of their own.
    assert_eq!(
        store
            .rate_acquire(company(ACME), RateWindow::Second, hour, 1)
            .await
            .unwrap(),
        Ok(())
    );
    assert!(store
        .rate_acquire(company(ACME), RateWindow::Second, hour, 1)
        .await
        .unwrap()
        .is_err());
    assert_eq!(
        store
            .rate_acquire(company(GLOBEX), RateWindow::Day, hour, 3)
            .await
            .unwrap(),
        Ok(())
    );
}

/// A store that reports a credentials epoch checks it in each operation's
/// transaction: a check under the current count passes, a check under an
/// older one fails with `CredentialsChanged` and changes nothing, and a
/// revocation moves the count. A store without epochs never receives a
/// check, and its operations ignore `None`.
pub async fn a_stale_credential_check_fails_the_operation_and_changes_nothing(store: &dyn Store) {
    world(store).await;
    let c = company(ACME);
    let put = change(&[(101, &[2])]);
    let Some(epoch) = store.credentials_epoch() else {
        store.grant_access_checked(c, &put, None).await.unwrap();
        store.revoke_access_checked(c, &put, None).await.unwrap();
        assert!(store
            .list_api_grants_checked(c, &[call(101)], None)
            .await
            .is_ok());
        return;
    };
    let (current_check, stale_check) = (
        CredentialCheck { epoch },
        CredentialCheck {
            epoch: epoch.wrapping_add(1),
        },
    );
    let (current, stale) = (Some(current_check), Some(stale_check));
    let is_changed = |r: Result<(), StoreError>| matches!(r, Err(StoreError::CredentialsChanged));

    let before = snapshot(store).await;
    assert!(is_changed(store.grant_access_checked(c, &put, stale).await));
    assert!(is_changed(
        store
            .revoke_access_checked(c, &change(&[(101, &[])]), stale)
            .await
    ));
    assert!(is_changed(
        store
            .list_api_grants_checked(c, &[call(101)], stale)
            .await
            .map(drop)
    ));
    // Even when there is nothing to do, and before any other answer.
    assert!(is_changed(
        store
            .grant_access_checked(c, &AccessChange::default(), stale)
            .await
    ));
    assert!(is_changed(
        store
            .grant_access_checked(c, &change(&[(999_999, &[1])]), stale)
            .await
    ));
    assert!(is_changed(store.confirm_credentials(stale_check).await));
    assert_eq!(
        snapshot(store).await,
        before,
        "a failed check changes nothing"
    );

    store.grant_access_checked(c, &put, current).await.unwrap();
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![2])]);
    store.confirm_credentials(current_check).await.unwrap();

    let key = NewApiKey {
        access_key: "EPOCHKEY".to_owned(),
        company: c,
        digest: digest("epoch-secret-0123456789"),
        scopes: None,
        expires_at: None,
    };
    store.create_api_key(&key).await.unwrap();
    store
        .revoke_api_key("EPOCHKEY", Timestamp::from_unix(1_800_000_000))
        .await
        .unwrap();
    assert_ne!(
        store.credentials_epoch(),
        Some(epoch),
        "a revocation moves it"
    );
    assert!(is_changed(
        store
            .list_api_grants_checked(c, &[call(101)], current)
            .await
            .map(drop)
    ));
}
