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

use crate::Origin;
use std::fmt::Write as _;

mod access;
mod admin;
mod admin_tokens;
pub mod audit;
mod directory;
mod explain;
mod hierarchy;
mod seed;
mod state;

pub use access::*;
pub use admin::*;
pub use admin_tokens::*;
pub use directory::*;
pub use explain::*;
pub use hierarchy::*;
pub use seed::*;
pub use state::*;

use crate::secret::digest;
use crate::seed::{Seed, SeedApiKey, SeedCompany, SeedLink, SeedToken};
use crate::{
    AccessChange, Call, CallId, Caller, CallsAccess, CompanyId, CredentialCheck, ErrorKind, Limit,
    NewApiKey, NewCompany, NewToken, RateLimit, Scope, Store, StoreError, Timestamp, User, UserId,
    WorkspaceId,
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
            seed_writes_workspaces_profiles_managers_and_private_calls,
            ping_answers,
            rate_limits_are_set_and_travel_with_credentials,
            a_stale_credential_check_fails_the_operation_and_changes_nothing,
            report_to_them_opens_calls_over_a_chain_of_six,
            managers_team_with_and_without_team_leads,
            a_private_call_opens_by_each_route_but_profiles_of_non_parties,
            a_profile_in_another_workspace_does_not_apply,
            a_manager_change_changes_puts_answer_and_never_removes_a_grant,
            a_manager_loop_is_refused_and_named,
            companies_get_a_default_workspace_and_calls_land_in_it,
            workspaces_are_created_checked_and_isolated,
            users_page_by_id_with_filters_and_totals,
            calls_page_by_id_with_filters_and_totals,
            directory_lookups_are_isolated_in_both_directions,
            profiles_list_by_name_then_id_and_read_back_as_given,
            profiles_are_checked_and_updated_in_place,
            create_call_refuses_a_taken_client_unique_id,
            set_calls_access_uses_the_default_workspaces_legacy_profiles,
            users_read_back_their_fields_and_managers,
            a_stale_credential_check_fails_every_directory_operation,
            admin_tokens_are_stored_hashed_listed_and_revoked_once,
            admin_tokens_are_no_companys_credentials,
            an_export_applied_after_a_reset_reproduces_every_row,
            a_reset_of_one_company_leaves_the_others_intact,
            a_reset_with_a_rejected_seed_removes_nothing,
            a_full_reset_keeps_admin_tokens_and_frees_every_id,
            a_snapshot_of_one_company_is_that_company_only,
            update_user_writes_every_field_at_once_or_nothing,
            shares_list_by_call_then_user_in_their_company,
            explain_names_each_route_with_its_facts,
            explain_viewers_and_calls_refuse_unknown_calls_and_users,
            viewers_and_calls_page_in_id_order_each_once,
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

/// A caller of company `n` whose credential the store verified.
pub fn caller(n: i64) -> Caller {
    Caller::verified(company(n))
}

pub fn company(n: i64) -> CompanyId {
    CompanyId::from_i64(n).unwrap()
}
pub fn call(n: i64) -> CallId {
    CallId::from_i64(n).unwrap()
}
pub fn user(n: i64) -> UserId {
    UserId::from_i64(n).unwrap()
}

pub(crate) fn users(ns: &[i64]) -> Vec<UserId> {
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
            .add_call(
                &Origin::cli(),
                &new_call(company_id, id, primary, participants),
            )
            .await
            .unwrap();
    }
}

pub(crate) async fn add_user(store: &dyn Store, company_id: i64, id: i64, level: CallsAccess) {
    store
        .add_user(&Origin::cli(), &new_user(company_id, id, Some(level)))
        .await
        .unwrap();
}

/// A user with an email and, if given, the `callsAccess` shorthand.
pub(crate) fn new_user(company_id: i64, id: i64, level: Option<CallsAccess>) -> User {
    User {
        calls_access: level,
        ..User::new(
            company(company_id),
            user(id),
            format!("u{id}@c{company_id}.test"),
        )
    }
}

pub(crate) fn new_call(company_id: i64, id: i64, primary: i64, participants: &[i64]) -> Call {
    Call {
        title: Some(format!("call {id}")),
        participant_ids: users(participants),
        ..Call::new(company(company_id), call(id), user(primary))
    }
}

/// A user as written, for comparing with one read back: the store fills
/// in the creation time.
pub(crate) fn as_written(user: &User) -> User {
    User {
        created: None,
        ..user.clone()
    }
}

/// A call as written without a workspace, for comparing with one read
/// back: the store fills in the default workspace.
pub(crate) fn without_workspace(call: &Call) -> Call {
    Call {
        workspace: None,
        ..call.clone()
    }
}

/// The company's default workspace, while it is the company's only one
/// (a company made by `create_company` or [`world`]).
pub async fn default_workspace(store: &dyn Store, company_id: i64) -> WorkspaceId {
    let workspaces = store.workspaces(caller(company_id)).await.unwrap();
    assert_eq!(workspaces.len(), 1, "one workspace: {workspaces:?}");
    workspaces[0].id
}

/// The API grants POST would list, as plain numbers.
pub async fn grants(store: &dyn Store, company_id: i64, calls: &[i64]) -> Vec<(i64, Vec<i64>)> {
    let calls: Vec<CallId> = calls.iter().map(|c| call(*c)).collect();
    store
        .list_api_grants(caller(company_id), &calls)
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.call.get(), g.users.iter().map(|u| u.get()).collect()))
        .collect()
}

/// Everything a store holds, rendered for comparison: "changes nothing"
/// means the snapshot before and after are equal.
/// The users a call is shared with, ascending.
pub async fn shares_of(store: &dyn Store, company_id: i64, call_id: i64) -> Vec<UserId> {
    store
        .call_access(company(company_id), call(call_id))
        .await
        .unwrap()
        .shares()
}

pub async fn snapshot(store: &dyn Store) -> String {
    let mut out = String::new();
    let companies = store.companies().await.unwrap();
    writeln!(out, "{companies:?}").unwrap();
    writeln!(out, "{:?}", store.api_keys(None).await.unwrap()).unwrap();
    writeln!(out, "{:?}", store.tokens(None).await.unwrap()).unwrap();
    for c in companies {
        let workspaces = store.workspaces(Caller::verified(c.id)).await.unwrap();
        writeln!(out, "{workspaces:?}").unwrap();
        for w in workspaces {
            let profiles = store.profiles(Caller::verified(c.id), w.id).await.unwrap();
            writeln!(out, "{profiles:?}").unwrap();
        }
        writeln!(out, "{:?}", store.users(c.id).await.unwrap()).unwrap();
        for call in store.calls(c.id).await.unwrap() {
            writeln!(out, "{:?}", store.call_access(c.id, call.id).await.unwrap()).unwrap();
        }
    }
    out
}

pub(crate) fn calls_not_found(result: Result<impl std::fmt::Debug, StoreError>) -> Vec<i64> {
    match result {
        Err(StoreError::CallsNotFound(calls)) => calls.iter().map(|c| c.get()).collect(),
        other => panic!("expected CallsNotFound, got {other:?}"),
    }
}

pub(crate) fn users_not_found(result: Result<impl std::fmt::Debug, StoreError>) -> Vec<i64> {
    match result {
        Err(StoreError::UsersNotFound(users)) => users.iter().map(|u| u.get()).collect(),
        other => panic!("expected UsersNotFound, got {other:?}"),
    }
}

/// The error of a result that must have failed.
pub(crate) fn err(result: Result<impl std::fmt::Debug, StoreError>) -> StoreError {
    match result {
        Err(error) => error,
        Ok(value) => panic!("expected an error, got {value:?}"),
    }
}

pub(crate) fn seed_rejected(result: Result<impl std::fmt::Debug, StoreError>) -> Vec<String> {
    match result {
        Err(StoreError::SeedRejected(mut messages)) => {
            // The order of the messages is not part of the contract.
            messages.sort();
            messages
        }
        other => panic!("expected SeedRejected, got {other:?}"),
    }
}
