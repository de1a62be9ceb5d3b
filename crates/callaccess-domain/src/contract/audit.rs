//! The audit trail (control-plane.md §7, §9): which entries each write
//! records, with every field; that writes which change nothing, or fail,
//! record nothing; listing with filters in both orders; the change feed;
//! retention; resets; expired credentials noted once.
//!
//! Backend-neutral: every expectation is built with the domain's
//! [`NewEntry`] constructors from what the store answers, so both backends
//! must record the same entries in the same order. Within one write the
//! order is the order of its rows as the domain lays them out:
//!
//! - PUT / DELETE: the change's call order, users ascending within a call;
//! - `add_user`: the legacy profile's `profile.create` (if it made one),
//!   then `user.create` (with the manager and profiles it was given);
//! - `set_calls_access`: `profile.create` (if it made one), then
//!   `user.profile`;
//! - `update_user`: `user.manager`, then `profile.create` (if the
//!   shorthand made one), then one `user.profile` per workspace whose
//!   profile changed (its first and its final profile), by workspace id;
//! - a seed: the writes of [`crate::seed::plan`], in order;
//! - a reset: `reset`, then the seed's entries.
//!
//! A backend runs these with one line next to `contract_tests!`:
//!
//! ```ignore
//! callaccess_domain::audit_contract_tests!(fresh_store());
//! ```

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use std::time::{Duration, Instant};

use super::*;
use crate::admin_token::{self, AdminTokenInfo};
use crate::audit::{
    Action, Actor, AuditEntry, AuditFilter, AuditOrder, AuditPage, NewEntry, MAX_PAGE,
};
use crate::model::{ApiKeyInfo, Profile, UserUpdate, Workspace};
use crate::{ExpiredCredential, Origin, ProfileId};

/// Expands to one `#[tokio::test]` per audit case, like
/// [`crate::contract_tests`].
#[macro_export]
macro_rules! audit_contract_tests {
    ($fresh:expr) => {
        $crate::__audit_contract_cases!(
            $fresh;
            audit_grants_record_one_entry_per_grant_added_or_removed,
            audit_a_put_of_many_grants_records_each,
            audit_shares_record_only_real_changes,
            audit_profiles_record_create_and_changed_fields_only,
            audit_users_record_creation_with_manager_and_profiles,
            audit_managers_record_each_change_once,
            audit_profile_assignments_record_each_workspace_that_changed,
            audit_update_user_records_manager_then_profiles_and_not_active,
            audit_calls_record_creation_and_privacy_changes,
            audit_api_keys_and_tokens_record_create_and_first_revoke,
            audit_admin_tokens_record_without_a_company,
            audit_a_seed_records_what_it_creates_and_nothing_when_applied_again,
            audit_a_reset_removes_the_companys_entries_and_records_reset,
            audit_a_full_reset_keeps_the_sequence_and_a_rejected_one_changes_nothing,
            audit_expired_use_is_recorded_once_per_credential,
            audit_filters_select_as_the_domain_says_in_both_orders,
            audit_changes_after_pages_without_gaps_or_repeats,
            audit_wait_for_changes_wakes_on_a_commit_or_times_out,
            audit_settled_through_is_the_newest_entry_with_no_write_in_flight,
            audit_prune_removes_the_oldest_first_and_seq_is_never_reused,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __audit_contract_cases {
    ($fresh:expr; $($case:ident),* $(,)?) => {
        $(
            #[::tokio::test]
            async fn $case() {
                let fixture = $fresh.await;
                $crate::contract::audit::$case(&*fixture).await;
            }
        )*
    };
}

// --- helpers ---

/// Every entry after `after`, oldest first, read through `changes_after`.
pub async fn entries_after(store: &dyn Store, after: u64) -> Vec<AuditEntry> {
    let mut all = Vec::new();
    let mut from = after;
    loop {
        let page = store.changes_after(from, MAX_PAGE).await.unwrap();
        let Some(last) = page.last() else {
            return all;
        };
        from = last.seq;
        all.extend(page);
    }
}

/// The highest sequence number recorded, 0 when the trail is empty.
pub async fn last_seq(store: &dyn Store) -> u64 {
    let newest = one_page(store, &AuditFilter::default(), AuditOrder::Newest, None, 1).await;
    newest.first().map_or(0, |e| e.seq)
}

/// Where the trail stood before a write, and when (by the system clock,
/// which a fresh store reads).
pub struct Mark {
    seq: u64,
    at: Timestamp,
}

impl Mark {
    pub async fn now(store: &dyn Store) -> Self {
        Self {
            seq: last_seq(store).await,
            at: Timestamp::now(),
        }
    }

    /// The entries recorded since the mark, checked for what every entry
    /// must hold: sequence numbers increasing past the mark, the time of
    /// the store's clock between the mark and now, `origin`'s actor and
    /// request id. Answered as the [`NewEntry`] each was recorded from.
    pub async fn recorded(&self, store: &dyn Store, origin: &Origin) -> Vec<NewEntry> {
        let until = Timestamp::now();
        let entries = entries_after(store, self.seq).await;
        let mut previous = self.seq;
        for entry in &entries {
            assert!(entry.seq > previous, "seq increases: {entries:#?}");
            previous = entry.seq;
            assert!(
                self.at <= entry.at && entry.at <= until,
                "at {} is the store's clock, from {} to {until}",
                entry.at,
                self.at
            );
            assert_eq!(entry.actor, origin.actor.to_string(), "{entry:?}");
            assert_eq!(entry.request_id, origin.request_id, "{entry:?}");
        }
        entries.iter().map(as_new).collect()
    }

    /// Asserts that nothing was recorded since the mark.
    pub async fn nothing(&self, store: &dyn Store, what: &str) {
        let entries = entries_after(store, self.seq).await;
        assert!(entries.is_empty(), "{what} recorded {entries:#?}");
    }
}

fn as_new(entry: &AuditEntry) -> NewEntry {
    NewEntry {
        company: entry.company,
        action: entry.action,
        call: entry.call,
        user: entry.user,
        before: entry.before.clone(),
        after: entry.after.clone(),
    }
}

/// An admin API request's origin, with a request id.
fn admin_request(id: &str) -> Origin {
    Origin::new(
        Actor::Admin(admin_token::AdminTokenId::random()),
        Some(id.to_owned()),
    )
}

/// A `/v2` request's origin.
fn api_request(key: &str, id: &str) -> Origin {
    Origin::new(Actor::ApiKey(key.to_owned()), Some(id.to_owned()))
}

fn workspace(n: i64) -> WorkspaceId {
    WorkspaceId::from_i64(n).unwrap()
}

fn profile_id(n: i64) -> ProfileId {
    ProfileId::from_i64(n).unwrap()
}

fn named_profile(ws: i64, id: i64, name: &str, level: CallsAccess) -> Profile {
    let mut fields = serde_json::Map::new();
    fields.insert("name".to_owned(), serde_json::json!(name));
    fields.insert(
        "callsAccess".to_owned(),
        serde_json::json!({ "permissionLevel": level.as_str(), "teamLeadIds": [] }),
    );
    Profile {
        company: company(ACME),
        workspace: workspace(ws),
        id: profile_id(id),
        name: name.to_owned(),
        calls: crate::CallsRule {
            level,
            team_leads: vec![],
        },
        fields,
    }
}

/// ACME's profile of `level` in its default workspace, if there is one.
async fn legacy_profile(store: &dyn Store, level: CallsAccess) -> Option<Profile> {
    // Call 101 was added without a workspace: it is in the default one.
    let ws = stored_call(store, ACME, 101).await.workspace.unwrap();
    store
        .profiles(caller(ACME), ws)
        .await
        .unwrap()
        .into_iter()
        .find(|p| p.name == crate::model::legacy_profile_name(level))
}

async fn stored_call(store: &dyn Store, company_id: i64, id: i64) -> Call {
    store
        .call(caller(company_id), call(id))
        .await
        .unwrap()
        .unwrap()
}

async fn api_key_info(store: &dyn Store, access_key: &str) -> ApiKeyInfo {
    store
        .api_keys(None)
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.access_key == access_key)
        .unwrap()
}

// --- one case per kind of write ---

pub async fn audit_grants_record_one_entry_per_grant_added_or_removed(store: &dyn Store) {
    world(store).await;
    let origin = api_request("ACMEKEY1", "req-put-1");
    let acme = company(ACME);

    // 11 is call 100's primary user and opens it already: no grant, no entry.
    let mark = Mark::now(store).await;
    store
        .grant_access(
            &origin,
            caller(ACME),
            &change(&[(100, &[11, 2, 1]), (101, &[3])]),
        )
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::grant_added(acme, call(100), user(1)),
            NewEntry::grant_added(acme, call(100), user(2)),
            NewEntry::grant_added(acme, call(101), user(3)),
        ]
    );

    // The same PUT again changes nothing.
    let mark = Mark::now(store).await;
    store
        .grant_access(
            &origin,
            caller(ACME),
            &change(&[(100, &[1, 2]), (101, &[3])]),
        )
        .await
        .unwrap();
    mark.nothing(store, "a PUT of grants that exist").await;

    // A PUT that fails records nothing, even for its valid pairs.
    let failed = store
        .grant_access(&origin, caller(ACME), &change(&[(101, &[2]), (999, &[1])]))
        .await;
    assert_eq!(calls_not_found(failed), vec![999]);
    let failed = store
        .grant_access(&origin, caller(ACME), &change(&[(101, &[2, 77])]))
        .await;
    assert_eq!(users_not_found(failed), vec![77]);
    mark.nothing(store, "a failed PUT").await;

    // DELETE: one entry per grant that went; unknown users, another
    // company's user and missing grants record nothing.
    let origin = Origin::new(
        Actor::Token("tok1".to_owned()),
        Some("req-del-1".to_owned()),
    );
    let mark = Mark::now(store).await;
    store
        .revoke_access(
            &origin,
            caller(ACME),
            &change(&[(100, &[99, 5, 2]), (102, &[2])]),
        )
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::grant_removed(acme, call(100), user(2))]
    );
    let mark = Mark::now(store).await;
    store
        .revoke_access(&origin, caller(ACME), &change(&[(100, &[2])]))
        .await
        .unwrap();
    mark.nothing(store, "a DELETE of a missing grant").await;
    let failed = store
        .revoke_access(&origin, caller(ACME), &change(&[(100, &[1]), (998, &[1])]))
        .await;
    assert_eq!(calls_not_found(failed), vec![998]);
    mark.nothing(store, "a failed DELETE").await;
    assert_eq!(grants(store, ACME, &[100]).await, vec![(100, vec![1])]);

    // Another company's trail is its own.
    let globex = store
        .audit(
            &AuditFilter {
                company: Some(company(GLOBEX)),
                action: Some(Action::GrantAdd),
                ..AuditFilter::default()
            },
            AuditPage {
                order: AuditOrder::Oldest,
                from: None,
                limit: 10,
            },
        )
        .await
        .unwrap();
    assert!(globex.is_empty(), "{globex:?}");
}

pub async fn audit_a_put_of_many_grants_records_each(store: &dyn Store) {
    world(store).await;
    // Users 1, 2, 3 (profile none) on three calls, one pair granted already.
    let origin = api_request("ACMEKEY1", "req-many");
    store
        .grant_access(&origin, caller(ACME), &change(&[(101, &[2])]))
        .await
        .unwrap();
    let mark = Mark::now(store).await;
    store
        .grant_access(
            &origin,
            caller(ACME),
            &change(&[(102, &[3, 1]), (101, &[3, 2, 1]), (100, &[3, 2, 1])]),
        )
        .await
        .unwrap();
    let acme = company(ACME);
    // Users of profile none open no call as its party; 2 holds a grant of
    // 101 already.
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::grant_added(acme, call(102), user(1)),
            NewEntry::grant_added(acme, call(102), user(3)),
            NewEntry::grant_added(acme, call(101), user(1)),
            NewEntry::grant_added(acme, call(101), user(3)),
            NewEntry::grant_added(acme, call(100), user(1)),
            NewEntry::grant_added(acme, call(100), user(2)),
            NewEntry::grant_added(acme, call(100), user(3)),
        ]
    );
}

pub async fn audit_shares_record_only_real_changes(store: &dyn Store) {
    world(store).await;
    let origin = admin_request("req-share");
    let acme = company(ACME);
    let mark = Mark::now(store).await;
    store
        .add_share(&origin, acme, call(101), user(2))
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::share_added(acme, call(101), user(2))]
    );

    let mark = Mark::now(store).await;
    store
        .add_share(&origin, acme, call(101), user(2))
        .await
        .unwrap();
    mark.nothing(store, "a share that exists").await;
    assert!(store
        .add_share(&origin, acme, call(101), user(77))
        .await
        .is_err());
    assert!(store
        .add_share(&origin, acme, call(999), user(2))
        .await
        .is_err());
    mark.nothing(store, "a failed share").await;

    assert!(store
        .remove_share(&origin, acme, call(101), user(2))
        .await
        .unwrap());
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::share_removed(acme, call(101), user(2))]
    );
    let mark = Mark::now(store).await;
    assert!(!store
        .remove_share(&origin, acme, call(101), user(2))
        .await
        .unwrap());
    mark.nothing(store, "removing a missing share").await;
}

pub async fn audit_profiles_record_create_and_changed_fields_only(store: &dyn Store) {
    world(store).await;
    let origin = admin_request("req-profile");

    // A workspace is no access: not audited.
    let mark = Mark::now(store).await;
    store
        .create_workspace(&Workspace {
            company: company(ACME),
            id: workspace(77),
            name: "Support".to_owned(),
            description: None,
        })
        .await
        .unwrap();
    mark.nothing(store, "create_workspace").await;

    let profile = named_profile(77, 9, "Support leads", CallsAccess::Own);
    let stored = store
        .create_profile(&origin, caller(ACME), &profile)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::profile_created(&stored)]
    );
    assert_eq!(
        NewEntry::profile_created(&stored).after.unwrap()["callsAccess"]["permissionLevel"],
        "own"
    );

    // Created twice: refused, nothing recorded.
    let mark = Mark::now(store).await;
    assert_eq!(
        err(store.create_profile(&origin, caller(ACME), &profile).await),
        StoreError::ProfileExists(profile_id(9))
    );
    // The same fields again change nothing.
    store
        .update_profile(&origin, caller(ACME), &profile)
        .await
        .unwrap();
    mark.nothing(store, "a failed create and an identical update")
        .await;

    let mut changed = named_profile(77, 9, "Support leads", CallsAccess::All);
    changed
        .fields
        .insert("description".to_owned(), serde_json::json!("now all"));
    let updated = store
        .update_profile(&origin, caller(ACME), &changed)
        .await
        .unwrap();
    let expected = NewEntry::profile_updated(&stored, &updated).unwrap();
    assert_eq!(mark.recorded(store, &origin).await, vec![expected]);

    // An update of a missing profile fails and records nothing.
    let mark = Mark::now(store).await;
    let missing = named_profile(77, 404, "nobody", CallsAccess::All);
    assert!(store
        .update_profile(&origin, caller(ACME), &missing)
        .await
        .is_err());
    mark.nothing(store, "an update of a missing profile").await;
}

pub async fn audit_users_record_creation_with_manager_and_profiles(store: &dyn Store) {
    world(store).await;
    let origin = Origin::cli();
    let ws = default_workspace(store, ACME).await;

    // A level whose legacy profile exists: the user only.
    let mark = Mark::now(store).await;
    let plain = User {
        manager_id: Some(user(1)),
        ..new_user(ACME, 40, Some(CallsAccess::None))
    };
    store.add_user(&origin, &plain).await.unwrap();
    let none = legacy_profile(store, CallsAccess::None).await.unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::user_created(&plain, &[(ws, none.id)])]
    );
    let after = NewEntry::user_created(&plain, &[(ws, none.id)])
        .after
        .unwrap();
    assert_eq!(after["managerId"], "1");
    assert_eq!(after["emailAddress"], "u40@c1001.test");

    // A level without one: the profile it creates first, then the user.
    let mark = Mark::now(store).await;
    let leader = new_user(ACME, 41, Some(CallsAccess::ReportToThem));
    store.add_user(&origin, &leader).await.unwrap();
    let created = legacy_profile(store, CallsAccess::ReportToThem)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::profile_created(&created),
            NewEntry::user_created(&leader, &[(ws, created.id)]),
        ]
    );

    // No shorthand: no profiles.
    let mark = Mark::now(store).await;
    let bare = new_user(ACME, 42, None);
    store.add_user(&origin, &bare).await.unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::user_created(&bare, &[])]
    );

    // Refused writes record nothing.
    let mark = Mark::now(store).await;
    assert!(store.add_user(&origin, &bare).await.is_err());
    let orphan = new_user(999, 1, Some(CallsAccess::All));
    assert!(store.add_user(&origin, &orphan).await.is_err());
    let lost = User {
        manager_id: Some(user(777)),
        ..new_user(ACME, 43, Some(CallsAccess::ManagersTeam))
    };
    assert!(store.add_user(&origin, &lost).await.is_err());
    mark.nothing(store, "refused users").await;
    assert_eq!(legacy_profile(store, CallsAccess::ManagersTeam).await, None);
}

pub async fn audit_managers_record_each_change_once(store: &dyn Store) {
    world(store).await;
    let origin = admin_request("req-manager");
    let acme = company(ACME);
    let mark = Mark::now(store).await;
    store
        .set_manager(&origin, acme, user(2), Some(user(1)))
        .await
        .unwrap();
    store
        .set_manager(&origin, acme, user(2), Some(user(1)))
        .await
        .unwrap();
    store
        .set_manager(&origin, acme, user(2), Some(user(3)))
        .await
        .unwrap();
    store
        .set_manager(&origin, acme, user(2), None)
        .await
        .unwrap();
    store
        .set_manager(&origin, acme, user(2), None)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::user_manager(acme, user(2), None, Some(user(1))).unwrap(),
            NewEntry::user_manager(acme, user(2), Some(user(1)), Some(user(3))).unwrap(),
            NewEntry::user_manager(acme, user(2), Some(user(3)), None).unwrap(),
        ]
    );

    // A loop, an unknown user or manager: refused, nothing recorded.
    store
        .set_manager(&origin, acme, user(2), Some(user(1)))
        .await
        .unwrap();
    let mark = Mark::now(store).await;
    assert!(matches!(
        store
            .set_manager(&origin, acme, user(1), Some(user(2)))
            .await,
        Err(StoreError::ManagerLoop(_))
    ));
    assert!(store
        .set_manager(&origin, acme, user(77), Some(user(1)))
        .await
        .is_err());
    assert!(store
        .set_manager(&origin, acme, user(1), Some(user(77)))
        .await
        .is_err());
    mark.nothing(store, "refused manager changes").await;
}

pub async fn audit_profile_assignments_record_each_workspace_that_changed(store: &dyn Store) {
    world(store).await;
    let origin = Origin::cli();
    let acme = company(ACME);
    let ws = default_workspace(store, ACME).await;
    let none = legacy_profile(store, CallsAccess::None).await.unwrap();
    let all = legacy_profile(store, CallsAccess::All).await.unwrap();

    let mark = Mark::now(store).await;
    store
        .assign_profile(&origin, acme, user(1), all.id)
        .await
        .unwrap();
    store
        .assign_profile(&origin, acme, user(1), all.id)
        .await
        .unwrap();
    // The shorthand naming the profile held already changes nothing.
    store
        .set_calls_access(&origin, acme, user(1), CallsAccess::All)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::user_profile(acme, user(1), ws, Some(none.id), Some(all.id)).unwrap()]
    );

    // A level without a profile: created, then assigned.
    let mark = Mark::now(store).await;
    store
        .set_calls_access(&origin, acme, user(1), CallsAccess::ReportToThem)
        .await
        .unwrap();
    let report = legacy_profile(store, CallsAccess::ReportToThem)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::profile_created(&report),
            NewEntry::user_profile(acme, user(1), ws, Some(all.id), Some(report.id)).unwrap(),
        ]
    );

    // A profile in another workspace: that workspace's first profile.
    store
        .create_workspace(&Workspace {
            company: acme,
            id: workspace(77),
            name: "Support".to_owned(),
            description: None,
        })
        .await
        .unwrap();
    let support = store
        .create_profile(
            &origin,
            caller(ACME),
            &named_profile(77, 9, "Support", CallsAccess::Own),
        )
        .await
        .unwrap();
    let mark = Mark::now(store).await;
    store
        .assign_profile(&origin, acme, user(1), support.id)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::user_profile(acme, user(1), workspace(77), None, Some(support.id)).unwrap()]
    );

    // Refused: nothing.
    let mark = Mark::now(store).await;
    assert!(store
        .assign_profile(&origin, acme, user(1), profile_id(404))
        .await
        .is_err());
    assert!(store
        .assign_profile(&origin, acme, user(77), support.id)
        .await
        .is_err());
    assert!(store
        .set_calls_access(&origin, acme, user(77), CallsAccess::ManagersTeam)
        .await
        .is_err());
    mark.nothing(store, "refused assignments").await;
    assert_eq!(legacy_profile(store, CallsAccess::ManagersTeam).await, None);
}

pub async fn audit_update_user_records_manager_then_profiles_and_not_active(store: &dyn Store) {
    world(store).await;
    let origin = admin_request("req-update");
    let acme = company(ACME);
    let ws = default_workspace(store, ACME).await;
    let none = legacy_profile(store, CallsAccess::None).await.unwrap();
    let all = legacy_profile(store, CallsAccess::All).await.unwrap();
    let own = legacy_profile(store, CallsAccess::Own).await.unwrap();

    // `active` is no access: nothing.
    let mark = Mark::now(store).await;
    let inactive = UserUpdate {
        active: Some(false),
        ..UserUpdate::default()
    };
    store
        .update_user(&origin, acme, user(2), &inactive)
        .await
        .unwrap();
    mark.nothing(store, "a change of active").await;

    // Manager, the shorthand, and a profile of the same workspace that wins
    // over it: one entry for the manager, one for the workspace.
    let change = UserUpdate {
        manager: Some(Some(user(1))),
        calls_access: Some(CallsAccess::All),
        profiles: vec![own.id],
        active: Some(true),
    };
    store
        .update_user(&origin, acme, user(2), &change)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::user_manager(acme, user(2), None, Some(user(1))).unwrap(),
            NewEntry::user_profile(acme, user(2), ws, Some(none.id), Some(own.id)).unwrap(),
        ]
    );

    // The same again: nothing. A change back to what was held through the
    // shorthand then a profile: nothing either.
    let mark = Mark::now(store).await;
    store
        .update_user(&origin, acme, user(2), &change)
        .await
        .unwrap();
    let round_trip = UserUpdate {
        calls_access: Some(CallsAccess::All),
        profiles: vec![own.id],
        ..UserUpdate::default()
    };
    store
        .update_user(&origin, acme, user(2), &round_trip)
        .await
        .unwrap();
    mark.nothing(store, "an update to what is held").await;

    // The shorthand alone, to a level without a profile.
    let change = UserUpdate {
        calls_access: Some(CallsAccess::ReportToThem),
        ..UserUpdate::default()
    };
    store
        .update_user(&origin, acme, user(2), &change)
        .await
        .unwrap();
    let report = legacy_profile(store, CallsAccess::ReportToThem)
        .await
        .unwrap();
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::profile_created(&report),
            NewEntry::user_profile(acme, user(2), ws, Some(own.id), Some(report.id)).unwrap(),
        ]
    );

    // A change that fails in its last part records nothing of its first.
    let mark = Mark::now(store).await;
    let failing = UserUpdate {
        manager: Some(Some(user(3))),
        calls_access: Some(CallsAccess::ManagersTeam),
        profiles: vec![profile_id(404)],
        active: None,
    };
    assert!(store
        .update_user(&origin, acme, user(2), &failing)
        .await
        .is_err());
    let looping = UserUpdate {
        manager: Some(Some(user(2))),
        profiles: vec![all.id],
        ..UserUpdate::default()
    };
    assert!(store
        .update_user(&origin, acme, user(1), &looping)
        .await
        .is_err());
    mark.nothing(store, "a failed update_user").await;
}

pub async fn audit_calls_record_creation_and_privacy_changes(store: &dyn Store) {
    world(store).await;
    let origin = Origin::cli();
    let acme = company(ACME);

    let mark = Mark::now(store).await;
    let written = Call {
        participant_ids: users(&[3, 2, 3]),
        ..new_call(ACME, 103, 1, &[])
    };
    store.add_call(&origin, &written).await.unwrap();
    let entries = mark.recorded(store, &origin).await;
    let at = entries_after(store, mark.seq).await[0].at;
    let stored = stored_call(store, ACME, 103).await;
    assert_eq!(entries, vec![NewEntry::call_created(&stored, at)]);
    let after = entries[0].after.clone().unwrap();
    assert_eq!(after["participants"], serde_json::json!(["2", "3"]));
    assert_eq!(after["primaryUserId"], "1");
    assert_eq!(after["isPrivate"], false);
    assert_eq!(
        after["workspaceId"],
        serde_json::json!(default_workspace(store, ACME).await.to_string())
    );
    assert_eq!(entries[0].call, Some(call(103)));
    assert_eq!(entries[0].user, Some(user(1)));

    // addCall through the directory operations: the same entry.
    let origin = api_request("ACMEKEY1", "req-add-call");
    let mark = Mark::now(store).await;
    let made = store
        .create_call(&origin, caller(ACME), &new_call(ACME, 104, 2, &[1]))
        .await
        .unwrap();
    let at = entries_after(store, mark.seq).await[0].at;
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::call_created(&made, at)]
    );

    // Refused calls record nothing.
    let mark = Mark::now(store).await;
    assert!(store.add_call(&origin, &written).await.is_err());
    assert!(store
        .add_call(&origin, &new_call(ACME, 105, 77, &[]))
        .await
        .is_err());
    assert!(store
        .create_call(&origin, caller(ACME), &new_call(ACME, 106, 1, &[77]))
        .await
        .is_err());
    mark.nothing(store, "refused calls").await;

    // Privacy: each change once.
    let origin = admin_request("req-private");
    let mark = Mark::now(store).await;
    store
        .set_private(&origin, acme, call(103), true)
        .await
        .unwrap();
    store
        .set_private(&origin, acme, call(103), true)
        .await
        .unwrap();
    store
        .set_private(&origin, acme, call(103), false)
        .await
        .unwrap();
    assert!(store
        .set_private(&origin, acme, call(999), true)
        .await
        .is_err());
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::call_private(acme, call(103), false, true).unwrap(),
            NewEntry::call_private(acme, call(103), true, false).unwrap(),
        ]
    );
}

pub async fn audit_api_keys_and_tokens_record_create_and_first_revoke(store: &dyn Store) {
    world(store).await;
    let origin = admin_request("req-keys");
    let key = NewApiKey {
        access_key: "ACMEKEY1".to_owned(),
        company: company(ACME),
        digest: digest("acme-secret-0123456789"),
        scopes: Some(vec![Scope::parse(Scope::READ).unwrap()]),
        expires_at: Some(Timestamp::from_unix(1_893_456_000)),
    };
    let mark = Mark::now(store).await;
    let created = store.create_api_key(&origin, &key).await.unwrap();
    let revoked_at = Timestamp::from_unix(1_800_000_000);
    let revoked = store
        .revoke_api_key(&origin, "ACMEKEY1", revoked_at)
        .await
        .unwrap();
    store
        .revoke_api_key(&origin, "ACMEKEY1", revoked_at.plus_seconds(5))
        .await
        .unwrap();
    assert!(store.create_api_key(&origin, &key).await.is_err());
    assert!(store
        .revoke_api_key(&origin, "NOPE", revoked_at)
        .await
        .is_err());
    let entries = mark.recorded(store, &origin).await;
    assert_eq!(
        entries,
        vec![
            NewEntry::api_key_created(&created),
            NewEntry::api_key_revoked(&revoked),
        ]
    );
    // Never the secret.
    let text = format!("{entries:?}");
    assert!(!text.contains("acme-secret"), "{text}");
    assert_eq!(entries[1].after.as_ref().unwrap()["accessKey"], "ACMEKEY1");

    let token = NewToken {
        company: company(ACME),
        digest: digest("acme-read-token-0123456789"),
        scopes: vec![Scope::parse(Scope::READ).unwrap()],
        expires_at: None,
    };
    let mark = Mark::now(store).await;
    let created = store.create_token(&origin, &token).await.unwrap();
    let revoked = store
        .revoke_token(&origin, &created.id, revoked_at)
        .await
        .unwrap();
    store
        .revoke_token(&origin, &created.id, revoked_at.plus_seconds(5))
        .await
        .unwrap();
    assert!(store.create_token(&origin, &token).await.is_err());
    assert!(store
        .revoke_token(&origin, "0000000000000000", revoked_at)
        .await
        .is_err());
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::token_created(&created),
            NewEntry::token_revoked(&revoked),
        ]
    );
    let all = entries_after(store, 0).await;
    assert!(all
        .iter()
        .filter(|e| e.action == Action::TokenCreate)
        .all(|e| e.company == Some(company(ACME))));
}

pub async fn audit_admin_tokens_record_without_a_company(store: &dyn Store) {
    let origin = Origin::cli();
    let issued = admin_token::issue(
        true,
        Some("ops".to_owned()),
        Timestamp::from_unix(1_000),
        Some(Timestamp::from_unix(4_600)),
    );
    let mark = Mark::now(store).await;
    let created: AdminTokenInfo = store
        .create_admin_token(&origin, &issued.new)
        .await
        .unwrap();
    assert!(store
        .create_admin_token(&origin, &issued.new)
        .await
        .is_err());
    let revoked = store
        .revoke_admin_token(&origin, &created.id, Timestamp::from_unix(2_000))
        .await
        .unwrap();
    store
        .revoke_admin_token(&origin, &created.id, Timestamp::from_unix(3_000))
        .await
        .unwrap();
    let entries = mark.recorded(store, &origin).await;
    assert_eq!(
        entries,
        vec![
            NewEntry::admin_token_created(&created),
            NewEntry::admin_token_revoked(&revoked),
        ]
    );
    assert!(entries.iter().all(|e| e.company.is_none()));
    assert!(!format!("{entries:?}").contains(&issued.text));
}

// --- seeds and resets ---

const INITECH: i64 = 3003;

fn initech_link(path: &str, c: i64, u: i64) -> SeedLink {
    SeedLink {
        path: path.to_owned(),
        call: call(c),
        user: user(u),
    }
}

/// One company: a key, a token, three users with the shorthand (one with a
/// manager), two calls, a share and a grant.
fn initech_seed() -> Seed {
    let c = company(INITECH);
    let seed_user = |id: i64, level: CallsAccess, manager: Option<i64>| User {
        calls_access: Some(level),
        manager_id: manager.map(user),
        ..User::new(c, user(id), format!("u{id}@initech.test"))
    };
    Seed {
        companies: vec![SeedCompany {
            path: "companies[0]".to_owned(),
            id: c,
            name: "Initech".to_owned(),
            rate_limit: RateLimit::default(),
            created_at: None,
            api_keys: vec![SeedApiKey {
                path: "companies[0].apiKeys[0]".to_owned(),
                access_key: "INITECHKEY1".to_owned(),
                digest: digest("initech-secret-0123456789"),
                scopes: None,
                expires_at: None,
                created_at: None,
                revoked_at: None,
            }],
            tokens: vec![SeedToken {
                path: "companies[0].tokens[0]".to_owned(),
                digest: digest("initech-read-token-0123456789"),
                id: Some("1111222233334444".to_owned()),
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                expires_at: None,
                created_at: None,
                revoked_at: None,
            }],
            workspaces: vec![],
            profiles: vec![],
            users: vec![
                seed_user(1, CallsAccess::None, None),
                seed_user(2, CallsAccess::Own, Some(1)),
                seed_user(3, CallsAccess::None, None),
            ],
            assignments: vec![],
            calls: vec![
                Call {
                    participant_ids: users(&[1]),
                    ..Call::new(c, call(500), user(2))
                },
                Call::new(c, call(501), user(1)),
            ],
            shares: vec![initech_link("companies[0].shares[0]", 500, 3)],
            api_grants: vec![initech_link("companies[0].apiGrants[0]", 501, 2)],
        }],
    }
}

/// What [`initech_seed`] records on an empty database, in the plan's
/// order, read back from the store (profile ids are the store's).
async fn initech_entries(store: &dyn Store, created: &[Timestamp]) -> Vec<NewEntry> {
    let c = company(INITECH);
    let caller = Caller::verified(c);
    let ws = store.workspaces(caller).await.unwrap()[0].id;
    let profiles = store.profiles(caller, ws).await.unwrap();
    let level = |l: CallsAccess| {
        profiles
            .iter()
            .find(|p| p.name == crate::model::legacy_profile_name(l))
            .unwrap()
            .clone()
    };
    let (none, own) = (level(CallsAccess::None), level(CallsAccess::Own));
    let seeded = |id: i64| User::new(c, user(id), format!("u{id}@initech.test"));
    let key = api_key_info_of(store, "INITECHKEY1").await;
    let token = store
        .tokens(Some(c))
        .await
        .unwrap()
        .into_iter()
        .next()
        .unwrap();
    let call_500 = stored_call_of(store, INITECH, 500).await;
    let call_501 = stored_call_of(store, INITECH, 501).await;
    vec![
        NewEntry::api_key_created(&key),
        NewEntry::token_created(&token),
        NewEntry::user_created(&seeded(1), &[]),
        NewEntry::user_created(&seeded(2), &[]),
        NewEntry::user_created(&seeded(3), &[]),
        NewEntry::user_manager(c, user(2), None, Some(user(1))).unwrap(),
        NewEntry::profile_created(&none),
        NewEntry::user_profile(c, user(1), ws, None, Some(none.id)).unwrap(),
        NewEntry::profile_created(&own),
        NewEntry::user_profile(c, user(2), ws, None, Some(own.id)).unwrap(),
        NewEntry::user_profile(c, user(3), ws, None, Some(none.id)).unwrap(),
        NewEntry::call_created(&call_500, created[0]),
        NewEntry::call_created(&call_501, created[1]),
        NewEntry::share_added(c, call(500), user(3)),
        NewEntry::grant_added(c, call(501), user(2)),
    ]
}

async fn api_key_info_of(store: &dyn Store, access_key: &str) -> ApiKeyInfo {
    api_key_info(store, access_key).await
}

async fn stored_call_of(store: &dyn Store, company_id: i64, id: i64) -> Call {
    store
        .call(Caller::verified(company(company_id)), call(id))
        .await
        .unwrap()
        .unwrap()
}

/// The times the `call.create` entries after `after` were recorded.
async fn call_times(store: &dyn Store, after: u64) -> Vec<Timestamp> {
    entries_after(store, after)
        .await
        .iter()
        .filter(|e| e.action == Action::CallCreate)
        .map(|e| e.at)
        .collect()
}

pub async fn audit_a_seed_records_what_it_creates_and_nothing_when_applied_again(
    store: &dyn Store,
) {
    let origin = Origin::seed();
    let seed = initech_seed();
    let mark = Mark::now(store).await;
    store.apply_seed(&origin, &seed).await.unwrap();
    let times = call_times(store, mark.seq).await;
    assert_eq!(
        mark.recorded(store, &origin).await,
        initech_entries(store, &times).await
    );

    let mark = Mark::now(store).await;
    store.apply_seed(&origin, &seed).await.unwrap();
    mark.nothing(store, "a seed applied again").await;

    // A seed that changes one thing records that change only.
    let mut changed = initech_seed();
    changed.companies[0].users[2].calls_access = Some(CallsAccess::Own);
    changed.companies[0].calls[1].is_private = true;
    store.apply_seed(&origin, &changed).await.unwrap();
    let c = company(INITECH);
    let ws = store.workspaces(Caller::verified(c)).await.unwrap()[0].id;
    let profiles = store.profiles(Caller::verified(c), ws).await.unwrap();
    let id_of = |name: &str| profiles.iter().find(|p| p.name == name).unwrap().id;
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::user_profile(
                c,
                user(3),
                ws,
                Some(id_of("Calls access: none")),
                Some(id_of("Calls access: own"))
            )
            .unwrap(),
            NewEntry::call_private(c, call(501), false, true).unwrap(),
        ]
    );

    // A rejected seed records nothing.
    let mut rejected = initech_seed();
    rejected.companies[0].shares[0].user = user(777);
    let mark = Mark::now(store).await;
    assert!(store.apply_seed(&origin, &rejected).await.is_err());
    mark.nothing(store, "a rejected seed").await;
}

pub async fn audit_a_reset_removes_the_companys_entries_and_records_reset(store: &dyn Store) {
    world(store).await;
    let origin = admin_request("req-reset");
    store
        .grant_access(&origin, caller(GLOBEX), &change(&[(900, &[1])]))
        .await
        .unwrap();
    let globex_before: Vec<AuditEntry> = entries_after(store, 0)
        .await
        .into_iter()
        .filter(|e| e.company == Some(company(GLOBEX)))
        .collect();
    assert!(!globex_before.is_empty());
    let last = last_seq(store).await;

    let mark = Mark::now(store).await;
    store
        .reset(&origin, Some(company(ACME)), None)
        .await
        .unwrap();
    let all = entries_after(store, 0).await;
    let acme: Vec<&AuditEntry> = all
        .iter()
        .filter(|e| e.company == Some(company(ACME)))
        .collect();
    assert_eq!(acme.len(), 1, "only the reset is left of ACME: {acme:#?}");
    assert_eq!(as_new(acme[0]), NewEntry::reset(Some(company(ACME))));
    assert!(acme[0].seq > last, "the sequence goes on");
    let globex_after: Vec<AuditEntry> = all
        .iter()
        .filter(|e| e.company == Some(company(GLOBEX)))
        .cloned()
        .collect();
    assert_eq!(globex_after, globex_before, "another company's trail stays");
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::reset(Some(company(ACME)))]
    );

    // With a seed: the reset, then the seed's entries.
    let seed = initech_seed();
    let mark = Mark::now(store).await;
    store
        .reset(&origin, Some(company(INITECH)), Some(&seed))
        .await
        .unwrap();
    let times = call_times(store, mark.seq).await;
    let mut expected = vec![NewEntry::reset(Some(company(INITECH)))];
    expected.extend(initech_entries(store, &times).await);
    assert_eq!(mark.recorded(store, &origin).await, expected);
}

pub async fn audit_a_full_reset_keeps_the_sequence_and_a_rejected_one_changes_nothing(
    store: &dyn Store,
) {
    world(store).await;
    let origin = Origin::cli();
    let before = entries_after(store, 0).await;
    let last = last_seq(store).await;

    // A rejected seed: nothing removed, nothing recorded.
    let mut rejected = initech_seed();
    rejected.companies[0].shares[0].user = user(777);
    assert!(store.reset(&origin, None, Some(&rejected)).await.is_err());
    assert_eq!(entries_after(store, 0).await, before);

    let mark = Mark::now(store).await;
    store.reset(&origin, None, None).await.unwrap();
    let all = entries_after(store, 0).await;
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(all[0].seq > last, "the sequence is not reset");
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![NewEntry::reset(None)]
    );

    // New writes go on from there.
    world(store).await;
    assert!(entries_after(store, 0)
        .await
        .iter()
        .all(|e| e.seq >= all[0].seq));
}

pub async fn audit_expired_use_is_recorded_once_per_credential(store: &dyn Store) {
    world(store).await;
    let admin = Origin::cli();
    let past = Timestamp::from_unix(1_000_000_000);
    let key = store
        .create_api_key(
            &admin,
            &NewApiKey {
                access_key: "OLDKEY".to_owned(),
                company: company(ACME),
                digest: digest("old-secret-0123456789"),
                scopes: None,
                expires_at: Some(past),
            },
        )
        .await
        .unwrap();
    let token = store
        .create_token(
            &admin,
            &NewToken {
                company: company(GLOBEX),
                digest: digest("old-token-0123456789"),
                scopes: vec![],
                expires_at: Some(past),
            },
        )
        .await
        .unwrap();
    let epoch = store.credentials_epoch();

    let origin = api_request("OLDKEY", "req-expired");
    let mark = Mark::now(store).await;
    store
        .note_expired_use(&origin, ExpiredCredential::ApiKey("OLDKEY"))
        .await
        .unwrap();
    store
        .note_expired_use(&origin, ExpiredCredential::ApiKey("OLDKEY"))
        .await
        .unwrap();
    store
        .note_expired_use(&origin, ExpiredCredential::Token(&token.id))
        .await
        .unwrap();
    store
        .note_expired_use(&origin, ExpiredCredential::Token(&token.id))
        .await
        .unwrap();
    assert_eq!(
        err(store
            .note_expired_use(&origin, ExpiredCredential::ApiKey("NOPE"))
            .await),
        StoreError::NoApiKey("NOPE".to_owned())
    );
    assert_eq!(
        err(store
            .note_expired_use(&origin, ExpiredCredential::Token("0000000000000000"))
            .await),
        StoreError::NoToken("0000000000000000".to_owned())
    );
    assert_eq!(
        mark.recorded(store, &origin).await,
        vec![
            NewEntry::api_key_expired(&key),
            NewEntry::token_expired(&token),
        ]
    );
    // Noting changes no credential, so cached credentials stay valid.
    assert_eq!(store.credentials_epoch(), epoch);
    assert_eq!(api_key_info(store, "OLDKEY").await, key);
}

// --- reading the trail ---

/// A trail with several companies, actors, actions, calls and users.
async fn busy_trail(store: &dyn Store) {
    world(store).await;
    let key = api_request("ACMEKEY1", "req-a");
    let token = Origin::new(Actor::Token("tok9".to_owned()), Some("req-b".to_owned()));
    store
        .grant_access(&key, caller(ACME), &change(&[(100, &[1, 2]), (101, &[3])]))
        .await
        .unwrap();
    store
        .grant_access(&token, caller(GLOBEX), &change(&[(900, &[1])]))
        .await
        .unwrap();
    store
        .revoke_access(&token, caller(ACME), &change(&[(100, &[2])]))
        .await
        .unwrap();
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap();
    store
        .set_private(&Origin::cli(), company(ACME), call(100), true)
        .await
        .unwrap();
    store
        .set_manager(&key, company(ACME), user(2), Some(user(1)))
        .await
        .unwrap();
}

/// One page of `filter` in `order`, from `from`.
async fn one_page(
    store: &dyn Store,
    filter: &AuditFilter,
    order: AuditOrder,
    from: Option<u64>,
    limit: usize,
) -> Vec<AuditEntry> {
    store
        .audit(filter, AuditPage { order, from, limit })
        .await
        .unwrap()
}

/// Every page of `filter` in `order`, `limit` at a time.
async fn pages(
    store: &dyn Store,
    filter: &AuditFilter,
    order: AuditOrder,
    limit: usize,
) -> Vec<AuditEntry> {
    let mut all: Vec<AuditEntry> = Vec::new();
    let mut from = None;
    loop {
        let page = one_page(store, filter, order, from, limit).await;
        assert!(page.len() <= limit, "{} > {limit}", page.len());
        let Some(last) = page.last() else {
            return all;
        };
        from = Some(last.seq);
        all.extend(page);
    }
}

pub async fn audit_filters_select_as_the_domain_says_in_both_orders(store: &dyn Store) {
    busy_trail(store).await;
    let all = entries_after(store, 0).await;
    assert!(all.len() > 20, "{}", all.len());
    let at = all[0].at;
    let acme = Some(company(ACME));
    let filters = [
        AuditFilter::default(),
        AuditFilter {
            company: acme,
            ..AuditFilter::default()
        },
        AuditFilter {
            company: Some(company(GLOBEX)),
            ..AuditFilter::default()
        },
        AuditFilter {
            company: acme,
            call: Some(call(100)),
            ..AuditFilter::default()
        },
        AuditFilter {
            company: acme,
            user: Some(user(2)),
            ..AuditFilter::default()
        },
        AuditFilter {
            call: Some(call(100)),
            ..AuditFilter::default()
        },
        AuditFilter {
            actor: Some(Actor::Token("tok9".to_owned())),
            ..AuditFilter::default()
        },
        AuditFilter {
            actor: Some(Actor::Cli),
            action: Some(Action::UserCreate),
            ..AuditFilter::default()
        },
        AuditFilter {
            company: acme,
            action: Some(Action::GrantAdd),
            ..AuditFilter::default()
        },
        AuditFilter {
            since: Some(at),
            until: Some(Timestamp::now().plus_seconds(60)),
            ..AuditFilter::default()
        },
        AuditFilter {
            company: acme,
            since: Some(Timestamp::now().plus_seconds(60)),
            ..AuditFilter::default()
        },
        AuditFilter {
            until: Some(at),
            ..AuditFilter::default()
        },
        AuditFilter {
            company: company(999).into(),
            ..AuditFilter::default()
        },
    ];
    for filter in &filters {
        let expected: Vec<AuditEntry> = all.iter().filter(|e| filter.selects(e)).cloned().collect();
        for limit in [1, 3, MAX_PAGE] {
            assert_eq!(
                pages(store, filter, AuditOrder::Oldest, limit).await,
                expected,
                "{filter:?}, oldest first, {limit} a page"
            );
            let mut newest = pages(store, filter, AuditOrder::Newest, limit).await;
            newest.reverse();
            assert_eq!(newest, expected, "{filter:?}, newest first, {limit} a page");
        }
    }
    // Some filters must select something, or the loop above proves little.
    let count = |f: &AuditFilter| all.iter().filter(|e| f.selects(e)).count();
    assert_eq!(
        count(&filters[3]),
        5,
        "created, grants to 1 and 2, removal of 2, private"
    );
    assert_eq!(count(&filters[6]), 2);
    assert_eq!(count(&filters[9]), all.len());
    assert_eq!(count(&filters[11]), 0);

    // A page starts after (or before) `from`, which need not be an entry
    // the filter selects.
    let middle = all[all.len() / 2].seq;
    let seqs = |entries: Vec<AuditEntry>| entries.iter().map(|e| e.seq).collect::<Vec<_>>();
    let after = one_page(
        store,
        &AuditFilter::default(),
        AuditOrder::Oldest,
        Some(middle),
        2,
    )
    .await;
    let expected: Vec<u64> = seqs(all.clone())
        .into_iter()
        .filter(|s| *s > middle)
        .collect();
    assert_eq!(seqs(after), expected[..2].to_vec());
    let before = one_page(
        store,
        &AuditFilter::default(),
        AuditOrder::Newest,
        Some(middle),
        2,
    )
    .await;
    let expected: Vec<u64> = seqs(all.clone())
        .into_iter()
        .rev()
        .filter(|s| *s < middle)
        .collect();
    assert_eq!(seqs(before), expected[..2].to_vec());
    // More than a page asks for is clamped, never an error.
    let clamped = one_page(
        store,
        &AuditFilter::default(),
        AuditOrder::Oldest,
        None,
        usize::MAX,
    )
    .await;
    assert_eq!(clamped, all);
}

pub async fn audit_changes_after_pages_without_gaps_or_repeats(store: &dyn Store) {
    assert!(store.changes_after(0, 10).await.unwrap().is_empty());
    busy_trail(store).await;
    let all = pages(store, &AuditFilter::default(), AuditOrder::Oldest, MAX_PAGE).await;
    let mut read = Vec::new();
    let mut from = 0;
    loop {
        let page = store.changes_after(from, 4).await.unwrap();
        assert!(page.len() <= 4);
        let Some(last) = page.last() else { break };
        from = last.seq;
        read.extend(page);
    }
    assert_eq!(read, all);
    let last = all.last().unwrap().seq;
    assert!(store.changes_after(last, 10).await.unwrap().is_empty());
    let tail = store.changes_after(all[2].seq, 2).await.unwrap();
    assert_eq!(tail, all[3..5].to_vec());
}

pub async fn audit_wait_for_changes_wakes_on_a_commit_or_times_out(store: &dyn Store) {
    world(store).await;
    let last = last_seq(store).await;

    // Something after `after` committed already: no wait.
    let started = Instant::now();
    store
        .wait_for_changes(0, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));

    // Nothing: the timeout.
    let started = Instant::now();
    store
        .wait_for_changes(last, Duration::from_millis(200))
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(150), "{waited:?}");
    assert!(store.changes_after(last, 10).await.unwrap().is_empty());

    // A commit while waiting wakes the waiter long before its timeout.
    let started = Instant::now();
    let (woke, wrote) = tokio::join!(
        store.wait_for_changes(last, Duration::from_secs(30)),
        async {
            tokio::task::yield_now().await;
            store
                .add_share(&Origin::cli(), company(ACME), call(101), user(2))
                .await
        }
    );
    woke.unwrap();
    wrote.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    let new = store.changes_after(last, 10).await.unwrap();
    assert_eq!(
        new.iter().map(as_new).collect::<Vec<_>>(),
        vec![NewEntry::share_added(company(ACME), call(101), user(2))]
    );
}

/// With no write in flight, a backend that can say where the trail is
/// settled answers its newest entry, and a reader that starts there gets
/// exactly the entries committed later. (A backend may answer `None`
/// instead; both of this project's answer.)
pub async fn audit_settled_through_is_the_newest_entry_with_no_write_in_flight(store: &dyn Store) {
    let empty = store.settled_through().await.unwrap();
    assert!(matches!(empty, Some(0) | None), "{empty:?}");
    world(store).await;
    let Some(settled) = store.settled_through().await.unwrap() else {
        return;
    };
    assert_eq!(settled, last_seq(store).await);
    assert!(store.changes_after(settled, 10).await.unwrap().is_empty());
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap();
    let new = store.changes_after(settled, 10).await.unwrap();
    assert_eq!(
        new.iter().map(as_new).collect::<Vec<_>>(),
        vec![NewEntry::share_added(company(ACME), call(101), user(2))]
    );
    // `None` stays allowed: on a database shared with other work (other
    // tests' databases on the same server, on PostgreSQL) a transaction
    // open elsewhere can keep the backend from telling.
    let again = store.settled_through().await.unwrap();
    assert!(
        matches!(again, Some(s) if s == new[0].seq) || again.is_none(),
        "{again:?}"
    );
}

pub async fn audit_prune_removes_the_oldest_first_and_seq_is_never_reused(store: &dyn Store) {
    world(store).await;
    let all = entries_after(store, 0).await;
    let n = all.len();
    assert!(n > 5);
    let last = all[n - 1].seq;
    assert_eq!(
        store
            .prune_audit(Timestamp::from_unix(1_000), 100)
            .await
            .unwrap(),
        0,
        "nothing is that old"
    );
    assert_eq!(
        store.prune_audit(all[0].at, 100).await.unwrap(),
        0,
        "before is exclusive"
    );
    let later = Timestamp::now().plus_seconds(60);
    assert_eq!(store.prune_audit(later, 2).await.unwrap(), 2);
    assert_eq!(entries_after(store, 0).await, all[2..].to_vec());
    assert_eq!(store.prune_audit(later, 0).await.unwrap(), 0);
    assert_eq!(
        store.prune_audit(later, 10_000).await.unwrap(),
        (n - 2) as u64
    );
    assert!(entries_after(store, 0).await.is_empty());
    assert_eq!(store.prune_audit(later, 10).await.unwrap(), 0);

    // The next entry's number is past every pruned one.
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(2))
        .await
        .unwrap();
    let next = entries_after(store, 0).await;
    assert_eq!(next.len(), 1);
    assert!(next[0].seq > last, "{} reuses a pruned number", next[0].seq);
}
