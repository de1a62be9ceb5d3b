//! Gong's directory operations: workspaces, users, calls and profiles as a
//! caller's company sees them, with paging, filters and tenancy.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "test code: a failed unwrap is a failed test"
)]

use super::hierarchy::{hooli_profile, org_chart, HOOLI};
use super::*;
use crate::model::{legacy_profile_name, Profile, Workspace};
use crate::page::{CallFilter, Page, PageAfter, UserFilter};
use crate::Origin;
use crate::ProfileId;

fn workspace(n: i64) -> WorkspaceId {
    WorkspaceId::from_i64(n).unwrap()
}

fn profile_id(n: i64) -> ProfileId {
    ProfileId::from_i64(n).unwrap()
}

fn new_workspace(company_id: i64, id: i64, name: &str) -> Workspace {
    Workspace {
        company: company(company_id),
        id: workspace(id),
        name: name.to_owned(),
        description: None,
    }
}

fn page(after: Option<i64>, limit: usize, count: bool) -> PageAfter {
    PageAfter {
        after,
        limit,
        count,
    }
}

fn user_ids(page: &Page<User>) -> Vec<i64> {
    page.items.iter().map(|u| u.id.get()).collect()
}

fn call_ids(page: &Page<Call>) -> Vec<i64> {
    page.items.iter().map(|c| c.id.get()).collect()
}

pub async fn companies_get_a_default_workspace_and_calls_land_in_it(store: &dyn Store) {
    world(store).await;
    let workspaces = store.workspaces(caller(ACME)).await.unwrap();
    assert_eq!(workspaces.len(), 1, "{workspaces:?}");
    let default = &workspaces[0];
    assert_eq!(
        (default.company, default.name.as_str(), &default.description),
        (company(ACME), "Default", &None)
    );
    assert!(default.id.get() >= 1_000_000_000_000_000_000, "19 digits");
    let globex = default_workspace(store, GLOBEX).await;
    assert_ne!(globex, default.id);
    for c in store.calls(company(ACME)).await.unwrap() {
        assert_eq!(c.workspace, Some(default.id), "{c:?}");
    }

    // A second workspace does not become the default.
    store
        .create_workspace(&new_workspace(ACME, 77, "Support"))
        .await
        .unwrap();
    store
        .add_call(&Origin::cli(), &new_call(ACME, 300, 1, &[]))
        .await
        .unwrap();
    store
        .add_call(
            &Origin::cli(),
            &Call {
                workspace: Some(workspace(77)),
                ..new_call(ACME, 301, 1, &[])
            },
        )
        .await
        .unwrap();
    let at = |id| async move {
        store
            .call(caller(ACME), call(id))
            .await
            .unwrap()
            .unwrap()
            .workspace
    };
    assert_eq!(at(300).await, Some(default.id));
    assert_eq!(at(301).await, Some(workspace(77)));
    // The `callsAccess` shorthand reads the default workspace only.
    let ten = store.user(caller(ACME), user(10)).await.unwrap().unwrap();
    assert_eq!(ten.calls_access, Some(CallsAccess::All));
    assert_eq!(
        err(store
            .add_call(
                &Origin::cli(),
                &Call {
                    workspace: Some(globex),
                    ..new_call(ACME, 302, 1, &[])
                }
            )
            .await),
        StoreError::NoWorkspace {
            company: company(ACME),
            workspace: globex
        }
    );
}

pub async fn workspaces_are_created_checked_and_isolated(store: &dyn Store) {
    world(store).await;
    let support = Workspace {
        description: Some("Support team".to_owned()),
        ..new_workspace(ACME, 77, "Support")
    };
    assert_eq!(store.create_workspace(&support).await.unwrap(), support);
    assert_eq!(
        err(store.create_workspace(&support).await),
        StoreError::WorkspaceExists(workspace(77))
    );
    // Workspace ids are unique across companies.
    assert_eq!(
        err(store
            .create_workspace(&new_workspace(GLOBEX, 77, "Mine"))
            .await),
        StoreError::WorkspaceExists(workspace(77))
    );
    assert_eq!(
        err(store
            .create_workspace(&new_workspace(999, 78, "Orphan"))
            .await),
        StoreError::NoCompany(company(999))
    );
    store
        .create_workspace(&new_workspace(ACME, 76, "Earlier id"))
        .await
        .unwrap();
    let acme = store.workspaces(caller(ACME)).await.unwrap();
    let ids: Vec<i64> = acme.iter().map(|w| w.id.get()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "by id");
    assert_eq!(acme.len(), 3);
    assert!(acme.contains(&support));
    let globex = store.workspaces(caller(GLOBEX)).await.unwrap();
    assert_eq!(globex.len(), 1);
    assert!(!globex.iter().any(|w| w.id == workspace(77)));
    assert!(store.workspaces(caller(999)).await.unwrap().is_empty());
}

/// ACME gets users 30..=54 created at 1_000 + id seconds, on top of
/// [`world`]'s seven.
async fn many_users(store: &dyn Store) {
    world(store).await;
    for id in 30..=54 {
        store
            .add_user(
                &Origin::cli(),
                &User {
                    created: Some(Timestamp::from_unix(1_000 + id)),
                    ..new_user(ACME, id, None)
                },
            )
            .await
            .unwrap();
    }
}

pub async fn users_page_by_id_with_filters_and_totals(store: &dyn Store) {
    many_users(store).await;
    let all = UserFilter::default();
    let first = store
        .list_users(caller(ACME), &all, page(None, 10, true))
        .await
        .unwrap();
    assert_eq!(user_ids(&first), vec![1, 2, 3, 10, 11, 12, 13, 30, 31, 32]);
    assert_eq!((first.more, first.total), (true, Some(32)));
    let second = store
        .list_users(caller(ACME), &all, page(Some(32), 10, false))
        .await
        .unwrap();
    assert_eq!(user_ids(&second), (33..=42).collect::<Vec<_>>());
    assert_eq!((second.more, second.total), (true, None));
    // Exactly the rest: no more.
    let last = store
        .list_users(caller(ACME), &all, page(Some(44), 10, false))
        .await
        .unwrap();
    assert_eq!(user_ids(&last), (45..=54).collect::<Vec<_>>());
    assert!(!last.more);
    let past = store
        .list_users(caller(ACME), &all, page(Some(54), 10, true))
        .await
        .unwrap();
    assert_eq!(
        (past.items.len(), past.more, past.total),
        (0, false, Some(32))
    );
    // A user added between pages lands after the cursor or before it.
    store
        .add_user(&Origin::cli(), &new_user(ACME, 60, None))
        .await
        .unwrap();
    let next = store
        .list_users(caller(ACME), &all, page(Some(54), 10, false))
        .await
        .unwrap();
    assert_eq!(user_ids(&next), vec![60]);

    // Ids select; unknown ones and another company's match nothing.
    let ids = UserFilter {
        ids: Some(users(&[40, 2, 5, 777, 31])),
        ..UserFilter::default()
    };
    let found = store
        .list_users(caller(ACME), &ids, page(None, 2, true))
        .await
        .unwrap();
    assert_eq!(
        (user_ids(&found), found.more, found.total),
        (vec![2, 31], true, Some(3))
    );
    let found = store
        .list_users(caller(ACME), &ids, page(Some(31), 2, false))
        .await
        .unwrap();
    assert_eq!((user_ids(&found), found.more), (vec![40], false));
    let globex = store
        .list_users(caller(GLOBEX), &ids, page(None, 10, true))
        .await
        .unwrap();
    assert_eq!((user_ids(&globex), globex.total), (vec![5], Some(1)));

    // Created: from inclusive, to exclusive.
    let created = UserFilter {
        created_from: Some(Timestamp::from_unix(1_035)),
        created_to: Some(Timestamp::from_unix(1_040)),
        ..UserFilter::default()
    };
    let found = store
        .list_users(caller(ACME), &created, page(None, 100, true))
        .await
        .unwrap();
    assert_eq!(
        (user_ids(&found), found.total),
        (vec![35, 36, 37, 38, 39], Some(5))
    );
    let nothing = UserFilter {
        ids: Some(users(&[30])),
        created_from: Some(Timestamp::from_unix(1_031)),
        ..UserFilter::default()
    };
    let found = store
        .list_users(caller(ACME), &nothing, page(None, 100, true))
        .await
        .unwrap();
    assert_eq!(
        (found.items.len(), found.more, found.total),
        (0, false, Some(0))
    );
    // A company without users, or none at all.
    let none = store
        .list_users(caller(999), &all, page(None, 10, true))
        .await
        .unwrap();
    assert_eq!((none.items.len(), none.total), (0, Some(0)));
}

/// ACME gets calls 200..=224 started at 2_000 + id seconds of user 1 or 2
/// (even: 2) in the default workspace, and 230..=234 in workspace 77.
async fn many_calls(store: &dyn Store) {
    world(store).await;
    store
        .create_workspace(&new_workspace(ACME, 77, "Support"))
        .await
        .unwrap();
    for id in 200..=224 {
        store
            .add_call(
                &Origin::cli(),
                &Call {
                    started: Some(Timestamp::from_unix(2_000 + id)),
                    ..new_call(ACME, id, if id % 2 == 0 { 2 } else { 1 }, &[3])
                },
            )
            .await
            .unwrap();
    }
    for id in 230..=234 {
        store
            .add_call(
                &Origin::cli(),
                &Call {
                    workspace: Some(workspace(77)),
                    ..new_call(ACME, id, 1, &[])
                },
            )
            .await
            .unwrap();
    }
}

pub async fn calls_page_by_id_with_filters_and_totals(store: &dyn Store) {
    many_calls(store).await;
    let all = CallFilter::default();
    let first = store
        .list_calls(caller(ACME), &all, page(None, 10, true))
        .await
        .unwrap();
    assert_eq!(
        call_ids(&first),
        vec![100, 101, 102, 200, 201, 202, 203, 204, 205, 206]
    );
    assert_eq!((first.more, first.total), (true, Some(33)));
    // Participants come with each call.
    assert_eq!(first.items[0].participant_ids, users(&[12]));
    assert_eq!(first.items[3].participant_ids, users(&[3]));
    let mut seen = call_ids(&first);
    let mut after = seen.last().copied();
    loop {
        let next = store
            .list_calls(caller(ACME), &all, page(after, 10, false))
            .await
            .unwrap();
        assert_eq!(next.total, None);
        seen.extend(call_ids(&next));
        after = seen.last().copied();
        if !next.more {
            break;
        }
    }
    assert_eq!(seen.len(), 33, "no call skipped or repeated: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert_eq!(sorted, seen);

    // Started: from inclusive, to exclusive; calls without a start never
    // match a range.
    let started = CallFilter {
        from: Some(Timestamp::from_unix(2_210)),
        to: Some(Timestamp::from_unix(2_215)),
        ..CallFilter::default()
    };
    let found = store
        .list_calls(caller(ACME), &started, page(None, 100, true))
        .await
        .unwrap();
    assert_eq!(
        (call_ids(&found), found.total),
        (vec![210, 211, 212, 213, 214], Some(5))
    );
    let since = CallFilter {
        from: Some(Timestamp::from_unix(2_222)),
        ..CallFilter::default()
    };
    let found = store
        .list_calls(caller(ACME), &since, page(None, 100, false))
        .await
        .unwrap();
    assert_eq!(call_ids(&found), vec![222, 223, 224]);

    // Ids and primary users select; unknown and GLOBEX's ids match nothing.
    let ids = CallFilter {
        ids: Some([900, 201, 202, 777, 100].map(call).to_vec()),
        primary_users: Some(users(&[2, 11])),
        ..CallFilter::default()
    };
    let found = store
        .list_calls(caller(ACME), &ids, page(None, 100, true))
        .await
        .unwrap();
    assert_eq!((call_ids(&found), found.total), (vec![100, 202], Some(2)));

    // Workspaces: the company's select; another's or an unknown one is
    // NoWorkspace.
    let support = CallFilter {
        workspace: Some(workspace(77)),
        ..CallFilter::default()
    };
    let found = store
        .list_calls(caller(ACME), &support, page(None, 3, true))
        .await
        .unwrap();
    assert_eq!(
        (call_ids(&found), found.more, found.total),
        (vec![230, 231, 232], true, Some(5))
    );
    let default = CallFilter {
        workspace: Some(default_workspace(store, GLOBEX).await),
        ..CallFilter::default()
    };
    let globex_default = default.workspace.unwrap();
    assert_eq!(
        err(store
            .list_calls(caller(ACME), &default, page(None, 3, true))
            .await),
        StoreError::NoWorkspace {
            company: company(ACME),
            workspace: globex_default
        }
    );
    let unknown = CallFilter {
        workspace: Some(workspace(4242)),
        ..CallFilter::default()
    };
    assert_eq!(
        err(store
            .list_calls(caller(ACME), &unknown, page(None, 3, true))
            .await),
        StoreError::NoWorkspace {
            company: company(ACME),
            workspace: workspace(4242)
        }
    );
    assert_eq!(
        err(store
            .list_calls(caller(GLOBEX), &support, page(None, 3, true))
            .await),
        StoreError::NoWorkspace {
            company: company(GLOBEX),
            workspace: workspace(77)
        }
    );
    let globex = store
        .list_calls(caller(GLOBEX), &all, page(None, 10, true))
        .await
        .unwrap();
    assert_eq!((call_ids(&globex), globex.total), (vec![100, 900], Some(2)));
}

pub async fn directory_lookups_are_isolated_in_both_directions(store: &dyn Store) {
    world(store).await;
    let acme_ws = default_workspace(store, ACME).await;
    let globex_ws = default_workspace(store, GLOBEX).await;
    let acme_profile = acme_profiles(store).await[0].clone();
    let globex_profile = store
        .profiles(caller(GLOBEX), globex_ws)
        .await
        .unwrap()
        .remove(0);

    // Users and calls: another company's id reads like an unknown one.
    assert_eq!(store.user(caller(ACME), user(5)).await.unwrap(), None);
    assert_eq!(store.user(caller(GLOBEX), user(10)).await.unwrap(), None);
    assert_eq!(store.user(caller(ACME), user(777)).await.unwrap(), None);
    assert_eq!(store.call(caller(ACME), call(900)).await.unwrap(), None);
    assert_eq!(store.call(caller(GLOBEX), call(101)).await.unwrap(), None);
    // The same ids in both companies are each company's own.
    let acme_1 = store.user(caller(ACME), user(1)).await.unwrap().unwrap();
    let globex_1 = store.user(caller(GLOBEX), user(1)).await.unwrap().unwrap();
    assert_eq!(
        (acme_1.company, globex_1.company),
        (company(ACME), company(GLOBEX))
    );
    assert_ne!(acme_1.email_address, globex_1.email_address);
    let acme_100 = store.call(caller(ACME), call(100)).await.unwrap().unwrap();
    let globex_100 = store
        .call(caller(GLOBEX), call(100))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (acme_100.primary_user_id, globex_100.primary_user_id),
        (user(11), user(5))
    );
    assert_eq!(acme_100.workspace, Some(acme_ws));

    // Profiles and workspaces.
    for (who, other, other_ws, other_profile) in [
        (ACME, GLOBEX, globex_ws, &globex_profile),
        (GLOBEX, ACME, acme_ws, &acme_profile),
    ] {
        let _ = other;
        assert_eq!(
            err(store.profile(caller(who), other_profile.id).await),
            StoreError::NoProfile {
                company: company(who),
                profile: other_profile.id
            }
        );
        assert_eq!(
            err(store.profile(caller(who), profile_id(4242)).await),
            StoreError::NoProfile {
                company: company(who),
                profile: profile_id(4242)
            }
        );
        assert_eq!(
            err(store.profiles(caller(who), other_ws).await),
            StoreError::NoWorkspace {
                company: company(who),
                workspace: other_ws
            }
        );
        assert_eq!(
            err(store.profile_users(caller(who), other_profile.id).await),
            StoreError::NoProfile {
                company: company(who),
                profile: other_profile.id
            }
        );
        let taken = Profile {
            company: company(who),
            ..other_profile.clone()
        };
        assert_eq!(
            err(store
                .update_profile(&Origin::cli(), caller(who), &taken)
                .await)
            .kind(),
            ErrorKind::NotFound
        );
        let moved = Profile {
            id: profile_id(4243),
            ..taken.clone()
        };
        assert_eq!(
            err(store
                .create_profile(&Origin::cli(), caller(who), &moved)
                .await),
            StoreError::NoWorkspace {
                company: company(who),
                workspace: other_ws
            }
        );
        // Assigning another company's profile, or to another's user.
        assert_eq!(
            err(store
                .assign_profile(&Origin::cli(), company(who), user(1), other_profile.id)
                .await),
            StoreError::NoProfile {
                company: company(who),
                profile: other_profile.id
            }
        );
    }
    assert_eq!(
        store.profile(caller(ACME), acme_profile.id).await.unwrap(),
        acme_profile
    );
    assert_eq!(
        err(store
            .assign_profile(&Origin::cli(), company(ACME), user(5), acme_profile.id)
            .await),
        StoreError::NoUser {
            company: company(ACME),
            user: user(5)
        }
    );
}

/// ACME's profiles in its default workspace (from [`world`]: one per level).
async fn acme_profiles(store: &dyn Store) -> Vec<Profile> {
    // Call 101 was added without a workspace: it is in the default one.
    let ws = store
        .call(caller(ACME), call(101))
        .await
        .unwrap()
        .unwrap()
        .workspace
        .unwrap();
    store.profiles(caller(ACME), ws).await.unwrap()
}

fn named(company_id: i64, ws: i64, id: i64, name: &str, level: CallsAccess) -> Profile {
    let mut fields = serde_json::Map::new();
    fields.insert("name".to_owned(), serde_json::json!(name));
    fields.insert(
        "callsAccess".to_owned(),
        serde_json::json!({ "permissionLevel": level.as_str(), "teamLeadIds": [] }),
    );
    fields.insert("scoreCalls".to_owned(), serde_json::json!(true));
    fields.insert("description".to_owned(), serde_json::json!("kept as given"));
    Profile {
        company: company(company_id),
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

pub async fn profiles_list_by_name_then_id_and_read_back_as_given(store: &dyn Store) {
    world(store).await;
    store
        .create_workspace(&new_workspace(ACME, 77, "Support"))
        .await
        .unwrap();
    let made = [
        named(ACME, 77, 9, "beta", CallsAccess::Own),
        named(ACME, 77, 8, "alpha", CallsAccess::All),
        named(ACME, 77, 3, "Alpha", CallsAccess::None),
        named(ACME, 77, 5, "Gamma", CallsAccess::ReportToThem),
        named(ACME, 77, 4, "ALPHA", CallsAccess::ManagersTeam),
    ];
    for profile in &made {
        let stored = store
            .create_profile(&Origin::cli(), caller(ACME), profile)
            .await
            .unwrap();
        assert_eq!(&stored, profile, "stored and answered as given");
    }
    let listed: Vec<(i64, String)> = store
        .profiles(caller(ACME), workspace(77))
        .await
        .unwrap()
        .into_iter()
        .map(|p| (p.id.get(), p.name))
        .collect();
    assert_eq!(
        listed,
        vec![
            (3, "Alpha".to_owned()),
            (4, "ALPHA".to_owned()),
            (8, "alpha".to_owned()),
            (9, "beta".to_owned()),
            (5, "Gamma".to_owned()),
        ]
    );
    let gamma = store.profile(caller(ACME), profile_id(5)).await.unwrap();
    assert_eq!(gamma, made[3]);
    let dto = gamma.to_dto();
    assert_eq!(dto["id"], serde_json::json!("5"));
    assert_eq!(dto["scoreCalls"], serde_json::json!(true));
    assert_eq!(dto["callsAccess"]["permissionLevel"], "report-to-them");
    // The default workspace keeps its own list.
    let names: Vec<String> = acme_profiles(store)
        .await
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        names,
        ["all", "none", "own"].map(|l| format!("Calls access: {l}"))
    );
    // An empty workspace lists nothing.
    store
        .create_workspace(&new_workspace(ACME, 78, "Empty"))
        .await
        .unwrap();
    assert!(store
        .profiles(caller(ACME), workspace(78))
        .await
        .unwrap()
        .is_empty());
}

pub async fn profiles_are_checked_and_updated_in_place(store: &dyn Store) {
    org_chart(store).await;
    let ws = default_workspace(store, HOOLI).await;
    let leads = hooli_profile(ws, 600, CallsAccess::ManagersTeam, &[3, 77, 8, 78]);
    assert_eq!(
        users_not_found(
            store
                .create_profile(&Origin::cli(), caller(HOOLI), &leads)
                .await
        ),
        vec![77, 78]
    );
    let blank = Profile {
        name: "  ".to_owned(),
        ..hooli_profile(ws, 600, CallsAccess::Own, &[])
    };
    assert_eq!(
        err(store
            .create_profile(&Origin::cli(), caller(HOOLI), &blank)
            .await)
        .kind(),
        ErrorKind::Invalid
    );
    let unknown_ws = hooli_profile(workspace(4242), 600, CallsAccess::Own, &[]);
    assert_eq!(
        err(store
            .create_profile(&Origin::cli(), caller(HOOLI), &unknown_ws)
            .await),
        StoreError::NoWorkspace {
            company: company(HOOLI),
            workspace: workspace(4242)
        }
    );
    let team = hooli_profile(ws, 600, CallsAccess::ManagersTeam, &[3, 8]);
    assert_eq!(
        store
            .create_profile(&Origin::cli(), caller(HOOLI), &team)
            .await
            .unwrap(),
        team
    );
    assert_eq!(
        err(store
            .create_profile(&Origin::cli(), caller(HOOLI), &team)
            .await),
        StoreError::ProfileExists(profile_id(600))
    );
    // Profile ids are unique across companies.
    let globex_ws = default_workspace(store, GLOBEX).await;
    let elsewhere = Profile {
        company: company(GLOBEX),
        calls: crate::CallsRule::default(),
        ..named(GLOBEX, globex_ws.get(), 600, "Mine", CallsAccess::None)
    };
    assert_eq!(
        err(store
            .create_profile(&Origin::cli(), caller(GLOBEX), &elsewhere)
            .await),
        StoreError::ProfileExists(profile_id(600))
    );
    assert!(store
        .profile_users(caller(HOOLI), profile_id(600))
        .await
        .unwrap()
        .is_empty());
    for u in [9, 2, 7] {
        store
            .assign_profile(&Origin::cli(), company(HOOLI), user(u), profile_id(600))
            .await
            .unwrap();
    }
    let holders: Vec<i64> = store
        .profile_users(caller(HOOLI), profile_id(600))
        .await
        .unwrap()
        .iter()
        .map(|u| u.id.get())
        .collect();
    assert_eq!(holders, vec![2, 7, 9]);

    // An update replaces every field; the profile stays where it is, with
    // its holders.
    let mut updated = named(HOOLI, ws.get(), 600, "Renamed", CallsAccess::All);
    updated.workspace = ws;
    let answered = store
        .update_profile(&Origin::cli(), caller(HOOLI), &updated)
        .await
        .unwrap();
    assert_eq!(answered, updated);
    assert_eq!(
        store.profile(caller(HOOLI), profile_id(600)).await.unwrap(),
        updated
    );
    assert_eq!(
        store
            .profile_users(caller(HOOLI), profile_id(600))
            .await
            .unwrap()
            .len(),
        3
    );
    // The new level decides at once: 9 now opens 20's call.
    store
        .add_call(&Origin::cli(), &new_call(HOOLI, 1, 20, &[]))
        .await
        .unwrap();
    store
        .grant_access(&Origin::cli(), caller(HOOLI), &change(&[(1, &[9])]))
        .await
        .unwrap();
    assert_eq!(grants(store, HOOLI, &[1]).await, vec![(1, vec![])]);
    let bad_leads = hooli_profile(ws, 600, CallsAccess::ManagersTeam, &[79]);
    assert_eq!(
        users_not_found(
            store
                .update_profile(&Origin::cli(), caller(HOOLI), &bad_leads)
                .await
        ),
        vec![79]
    );
    let missing = hooli_profile(ws, 601, CallsAccess::Own, &[]);
    assert_eq!(
        err(store
            .update_profile(&Origin::cli(), caller(HOOLI), &missing)
            .await),
        StoreError::NoProfile {
            company: company(HOOLI),
            profile: profile_id(601)
        }
    );
    assert_eq!(
        store.profile(caller(HOOLI), profile_id(600)).await.unwrap(),
        updated,
        "a refused update changes nothing"
    );
    // One profile per workspace: assigning another replaces it.
    store
        .create_profile(
            &Origin::cli(),
            caller(HOOLI),
            &hooli_profile(ws, 602, CallsAccess::Own, &[]),
        )
        .await
        .unwrap();
    store
        .assign_profile(&Origin::cli(), company(HOOLI), user(9), profile_id(602))
        .await
        .unwrap();
    let holders: Vec<i64> = store
        .profile_users(caller(HOOLI), profile_id(600))
        .await
        .unwrap()
        .iter()
        .map(|u| u.id.get())
        .collect();
    assert_eq!(holders, vec![2, 7]);
    assert_eq!(
        err(store
            .assign_profile(&Origin::cli(), company(HOOLI), user(77), profile_id(602))
            .await),
        StoreError::NoUser {
            company: company(HOOLI),
            user: user(77)
        }
    );
}

pub async fn create_call_refuses_a_taken_client_unique_id(store: &dyn Store) {
    world(store).await;
    let ws = default_workspace(store, ACME).await;
    // A call added by the admin tools (or a seed) with a clientUniqueId.
    store
        .add_call(
            &Origin::cli(),
            &Call {
                client_unique_id: Some("crm-1".to_owned()),
                ..new_call(ACME, 300, 1, &[])
            },
        )
        .await
        .unwrap();
    let new = Call {
        client_unique_id: Some("crm-2".to_owned()),
        started: Some(Timestamp::from_unix(1_800_000_000)),
        is_private: true,
        details: crate::CallDetails {
            direction: Some("Conference".to_owned()),
            purpose: Some("Discovery".to_owned()),
            ..crate::CallDetails::default()
        },
        parties: vec![crate::Party {
            email_address: Some("guest@example.test".to_owned()),
            name: Some("A guest".to_owned()),
            ..crate::Party::default()
        }],
        ..new_call(ACME, 301, 2, &[3, 1])
    };
    let stored = store
        .create_call(&Origin::cli(), caller(ACME), &new)
        .await
        .unwrap();
    assert_eq!(
        stored,
        Call {
            workspace: Some(ws),
            participant_ids: users(&[1, 3]),
            ..new.clone()
        }
    );
    assert_eq!(
        store.call(caller(ACME), call(301)).await.unwrap(),
        Some(stored)
    );
    for (id, client_id, existing) in [(302, "crm-1", 300), (302, "crm-2", 301)] {
        let again = Call {
            client_unique_id: Some(client_id.to_owned()),
            ..new_call(ACME, id, 1, &[])
        };
        let refused = err(store
            .create_call(&Origin::cli(), caller(ACME), &again)
            .await);
        assert_eq!(
            refused,
            StoreError::ClientUniqueIdTaken {
                client_unique_id: client_id.to_owned(),
                call: call(existing)
            }
        );
        assert!(refused.to_string().contains(&existing.to_string()));
        assert_eq!(refused.kind(), ErrorKind::Conflict);
    }
    assert_eq!(store.call(caller(ACME), call(302)).await.unwrap(), None);
    // Another company may use the same clientUniqueId.
    let globex = Call {
        client_unique_id: Some("crm-1".to_owned()),
        ..new_call(GLOBEX, 302, 5, &[])
    };
    store
        .create_call(&Origin::cli(), caller(GLOBEX), &globex)
        .await
        .unwrap();
    // The caller's company decides, whatever the call says.
    let mislabeled = Call {
        company: company(GLOBEX),
        ..new_call(ACME, 303, 1, &[])
    };
    let stored = store
        .create_call(&Origin::cli(), caller(ACME), &mislabeled)
        .await
        .unwrap();
    assert_eq!(stored.company, company(ACME));
    assert_eq!(store.call(caller(GLOBEX), call(303)).await.unwrap(), None);
    // The other checks, in order.
    let checks = [
        (
            new_call(ACME, 310, 5, &[]),
            StoreError::NoPrimaryUser {
                company: company(ACME),
                user: user(5),
            },
        ),
        (
            new_call(ACME, 310, 1, &[2, 5]),
            StoreError::NoParticipant {
                company: company(ACME),
                user: user(5),
            },
        ),
        (
            Call {
                workspace: Some(workspace(4242)),
                ..new_call(ACME, 310, 1, &[])
            },
            StoreError::NoWorkspace {
                company: company(ACME),
                workspace: workspace(4242),
            },
        ),
        (
            new_call(ACME, 100, 1, &[]),
            StoreError::CallExists {
                company: company(ACME),
                call: call(100),
            },
        ),
    ];
    for (call, expected) in checks {
        assert_eq!(
            err(store.create_call(&Origin::cli(), caller(ACME), &call).await),
            expected
        );
    }
}

pub async fn set_calls_access_uses_the_default_workspaces_legacy_profiles(store: &dyn Store) {
    world(store).await;
    let ws = default_workspace(store, ACME).await;
    let before = acme_profiles(store).await;
    assert_eq!(before.len(), 3);
    for profile in &before {
        assert_eq!(profile.workspace, ws);
        assert_eq!(profile.name, legacy_profile_name(profile.calls.level));
        assert_eq!(
            serde_json::Value::Object(profile.fields.clone()),
            serde_json::json!({
                "name": profile.name,
                "callsAccess": { "permissionLevel": profile.calls.level.as_str(), "teamLeadIds": [] }
            })
        );
    }
    let holders = |level: CallsAccess| {
        let id = before.iter().find(|p| p.calls.level == level).map(|p| p.id);
        async move {
            store
                .profile_users(caller(ACME), id.unwrap())
                .await
                .unwrap()
                .iter()
                .map(|u| u.id.get())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(holders(CallsAccess::None).await, vec![1, 2, 3]);
    assert_eq!(holders(CallsAccess::All).await, vec![10]);
    assert_eq!(holders(CallsAccess::Own).await, vec![11, 12, 13]);

    // A level the workspace has no profile for gets one, created once.
    store
        .set_calls_access(
            &Origin::cli(),
            company(ACME),
            user(2),
            CallsAccess::ReportToThem,
        )
        .await
        .unwrap();
    store
        .set_calls_access(
            &Origin::cli(),
            company(ACME),
            user(3),
            CallsAccess::ReportToThem,
        )
        .await
        .unwrap();
    let after = acme_profiles(store).await;
    assert_eq!(after.len(), 4);
    let created = after
        .iter()
        .find(|p| p.name == "Calls access: report-to-them")
        .unwrap();
    assert_eq!(created.calls.level, CallsAccess::ReportToThem);
    let holders_of = |id| async move {
        store
            .profile_users(caller(ACME), id)
            .await
            .unwrap()
            .iter()
            .map(|u| u.id.get())
            .collect::<Vec<_>>()
    };
    assert_eq!(holders_of(created.id).await, vec![2, 3]);
    assert_eq!(holders(CallsAccess::None).await, vec![1], "replaced");
    assert_eq!(
        store
            .user(caller(ACME), user(2))
            .await
            .unwrap()
            .unwrap()
            .calls_access,
        Some(CallsAccess::ReportToThem)
    );
    // An existing profile of that name is reused.
    store
        .set_calls_access(&Origin::cli(), company(ACME), user(1), CallsAccess::All)
        .await
        .unwrap();
    assert_eq!(holders(CallsAccess::All).await, vec![1, 10]);
    assert_eq!(acme_profiles(store).await.len(), 4);
    // Another workspace's profiles are not the shorthand's.
    store
        .create_workspace(&new_workspace(ACME, 77, "Support"))
        .await
        .unwrap();
    store
        .create_profile(
            &Origin::cli(),
            caller(ACME),
            &named(ACME, 77, 700, "Calls access: own", CallsAccess::Own),
        )
        .await
        .unwrap();
    store
        .assign_profile(&Origin::cli(), company(ACME), user(13), profile_id(700))
        .await
        .unwrap();
    assert_eq!(
        store
            .user(caller(ACME), user(13))
            .await
            .unwrap()
            .unwrap()
            .calls_access,
        Some(CallsAccess::Own),
        "the default workspace's level"
    );
    store
        .set_calls_access(&Origin::cli(), company(ACME), user(12), CallsAccess::None)
        .await
        .unwrap();
    assert_eq!(holders(CallsAccess::Own).await, vec![11, 13]);
    assert_eq!(holders_of(profile_id(700)).await, vec![13]);
    // A user without a profile in the default workspace reads as None.
    store
        .add_user(&Origin::cli(), &new_user(ACME, 40, None))
        .await
        .unwrap();
    assert_eq!(
        store
            .user(caller(ACME), user(40))
            .await
            .unwrap()
            .unwrap()
            .calls_access,
        None
    );
}

pub async fn users_read_back_their_fields_and_managers(store: &dyn Store) {
    world(store).await;
    let full = User {
        first_name: Some("Ada".to_owned()),
        last_name: Some("Lovelace".to_owned()),
        title: Some("Engineer".to_owned()),
        manager_id: Some(user(10)),
        active: false,
        created: Some(Timestamp::from_unix(1_700_000_000)),
        calls_access: Some(CallsAccess::ReportToThem),
        ..new_user(ACME, 40, None)
    };
    store.add_user(&Origin::cli(), &full).await.unwrap();
    assert_eq!(
        store.user(caller(ACME), user(40)).await.unwrap(),
        Some(full.clone())
    );
    assert_eq!(full.full_name().as_deref(), Some("Ada Lovelace"));
    let listed = store.users(company(ACME)).await.unwrap();
    assert_eq!(listed.iter().find(|u| u.id == user(40)), Some(&full));
    // A user written without a creation time was created now.
    let before = Timestamp::now();
    store
        .add_user(&Origin::cli(), &new_user(ACME, 41, None))
        .await
        .unwrap();
    let plain = store.user(caller(ACME), user(41)).await.unwrap().unwrap();
    assert!(plain.created.is_some_and(|t| t >= before), "{plain:?}");
    assert!(plain.active);
    assert_eq!(plain.manager_id, None);
    // A manager the company lacks refuses the user, whole.
    let orphan = User {
        manager_id: Some(user(5)),
        ..new_user(ACME, 42, None)
    };
    assert_eq!(
        err(store.add_user(&Origin::cli(), &orphan).await),
        StoreError::NoUser {
            company: company(ACME),
            user: user(5)
        }
    );
    assert_eq!(store.user(caller(ACME), user(42)).await.unwrap(), None);
}

/// Every directory operation checks a cached credential first, even one
/// that would fail for its own reasons.
pub async fn a_stale_credential_check_fails_every_directory_operation(store: &dyn Store) {
    world(store).await;
    let Some(epoch) = store.credentials_epoch() else {
        return;
    };
    let stale = Caller {
        company: company(ACME),
        check: Some(CredentialCheck {
            epoch: epoch.wrapping_add(1),
        }),
    };
    let current = Caller {
        company: company(ACME),
        check: Some(CredentialCheck { epoch }),
    };
    let ws = default_workspace(store, ACME).await;
    let profile = acme_profiles(store).await.remove(0);
    let before = snapshot(store).await;
    let changed = |e: StoreError| assert_eq!(e, StoreError::CredentialsChanged);
    changed(err(store.workspaces(stale).await));
    changed(err(store
        .list_users(stale, &UserFilter::default(), PageAfter::first())
        .await));
    changed(err(store.user(stale, user(1)).await));
    changed(err(store
        .list_calls(stale, &CallFilter::default(), PageAfter::first())
        .await));
    changed(err(store
        .list_calls(
            stale,
            &CallFilter {
                workspace: Some(workspace(4242)),
                ..CallFilter::default()
            },
            PageAfter::first(),
        )
        .await));
    changed(err(store.call(stale, call(100)).await));
    changed(err(store
        .create_call(&Origin::cli(), stale, &new_call(ACME, 300, 1, &[]))
        .await));
    changed(err(store.profiles(stale, ws).await));
    changed(err(store.profile(stale, profile.id).await));
    changed(err(store.profile(stale, profile_id(4242)).await));
    changed(err(store
        .create_profile(
            &Origin::cli(),
            stale,
            &named(ACME, ws.get(), 800, "x", CallsAccess::All),
        )
        .await));
    changed(err(store
        .update_profile(&Origin::cli(), stale, &profile)
        .await));
    changed(err(store.profile_users(stale, profile.id).await));
    assert_eq!(snapshot(store).await, before);
    // Under the current count they answer.
    assert_eq!(store.workspaces(current).await.unwrap().len(), 1);
    assert!(store.user(current, user(1)).await.unwrap().is_some());
    store
        .create_call(&Origin::cli(), current, &new_call(ACME, 300, 1, &[]))
        .await
        .unwrap();
}

/// The user's profiles in every workspace, as the stored rows (the
/// company's snapshot) hold them.
async fn held_profiles(store: &dyn Store, company_id: i64, user_id: i64) -> Vec<i64> {
    let snapshot = store.snapshot(Some(company(company_id))).await.unwrap();
    snapshot.companies[0]
        .assignments
        .iter()
        .filter(|(u, _)| *u == user(user_id))
        .map(|(_, p)| p.get())
        .collect()
}

/// `update_user` writes the manager, `active`, the level and the profiles
/// together; any refused part (a profile, the manager, a loop, the user)
/// leaves every row as it was.
pub async fn update_user_writes_every_field_at_once_or_nothing(store: &dyn Store) {
    world(store).await;
    store
        .create_workspace(&new_workspace(ACME, 7001, "Support"))
        .await
        .unwrap();
    for (id, name, level) in [
        (8001, "Agents", CallsAccess::Own),
        (8002, "Leads", CallsAccess::All),
    ] {
        store
            .create_profile(
                &Origin::cli(),
                caller(ACME),
                &named(ACME, 7001, id, name, level),
            )
            .await
            .unwrap();
    }
    let ws = default_workspace_of(store, ACME).await;
    store
        .create_profile(
            &Origin::cli(),
            caller(ACME),
            &named(ACME, ws.get(), 8003, "Custom", CallsAccess::ReportToThem),
        )
        .await
        .unwrap();
    store
        .grant_access(&Origin::cli(), caller(ACME), &change(&[(101, &[11])]))
        .await
        .unwrap();
    let whole = crate::UserUpdate {
        manager: Some(Some(user(10))),
        calls_access: Some(CallsAccess::All),
        profiles: vec![profile_id(8001)],
        active: Some(false),
    };
    store
        .update_user(&Origin::cli(), company(ACME), user(11), &whole)
        .await
        .unwrap();
    let changed = store.user(caller(ACME), user(11)).await.unwrap().unwrap();
    assert_eq!(
        (changed.manager_id, changed.active, changed.calls_access),
        (Some(user(10)), false, Some(CallsAccess::All)),
        "{changed:?}"
    );
    assert_eq!(held_profiles(store, ACME, 11).await.len(), 2);
    assert!(held_profiles(store, ACME, 11).await.contains(&8001));

    // Each refusal is the single change's, and nothing of the rest is written.
    let before = store.snapshot(None).await.unwrap();
    let refusals = [
        (
            12,
            crate::UserUpdate {
                profiles: vec![profile_id(8001), profile_id(8999)],
                ..whole.clone()
            },
            StoreError::NoProfile {
                company: company(ACME),
                profile: profile_id(8999),
            },
        ),
        (
            12,
            crate::UserUpdate {
                manager: Some(Some(user(77))),
                ..whole.clone()
            },
            StoreError::NoUser {
                company: company(ACME),
                user: user(77),
            },
        ),
        (
            10,
            crate::UserUpdate {
                manager: Some(Some(user(11))),
                ..whole.clone()
            },
            StoreError::ManagerLoop(users(&[10, 11, 10])),
        ),
        (
            // GLOBEX's user 5 is not ACME's.
            5,
            whole.clone(),
            StoreError::NoUser {
                company: company(ACME),
                user: user(5),
            },
        ),
    ];
    for (who, change, refused) in refusals {
        assert_eq!(
            err(store
                .update_user(&Origin::cli(), company(ACME), user(who), &change)
                .await),
            refused,
            "user {who}"
        );
        assert_eq!(
            store.snapshot(None).await.unwrap(),
            before,
            "a refused change to user {who} wrote something"
        );
    }
    // Another company's profile reads as an unknown one.
    let globex_ws = default_workspace_of(store, GLOBEX).await;
    store
        .create_profile(
            &Origin::cli(),
            caller(GLOBEX),
            &named(GLOBEX, globex_ws.get(), 8100, "Theirs", CallsAccess::All),
        )
        .await
        .unwrap();
    let theirs = crate::UserUpdate {
        profiles: vec![profile_id(8100)],
        ..crate::UserUpdate::default()
    };
    assert_eq!(
        err(store
            .update_user(&Origin::cli(), company(ACME), user(12), &theirs)
            .await),
        StoreError::NoProfile {
            company: company(ACME),
            profile: profile_id(8100),
        }
    );

    // Cleared manager and active again; the rest kept.
    let back = crate::UserUpdate {
        manager: Some(None),
        active: Some(true),
        ..crate::UserUpdate::default()
    };
    store
        .update_user(&Origin::cli(), company(ACME), user(11), &back)
        .await
        .unwrap();
    let changed = store.user(caller(ACME), user(11)).await.unwrap().unwrap();
    assert_eq!(
        (changed.manager_id, changed.active, changed.calls_access),
        (None, true, Some(CallsAccess::All)),
        "{changed:?}"
    );

    // Of two profiles in one workspace the later is held; a profile of the
    // default workspace is written after the level, so it wins over it.
    let both = crate::UserUpdate {
        calls_access: Some(CallsAccess::None),
        profiles: vec![profile_id(8001), profile_id(8002), profile_id(8003)],
        ..crate::UserUpdate::default()
    };
    store
        .update_user(&Origin::cli(), company(ACME), user(13), &both)
        .await
        .unwrap();
    let mut held = held_profiles(store, ACME, 13).await;
    held.sort_unstable();
    assert_eq!(held, vec![8002, 8003]);
    let changed = store.user(caller(ACME), user(13)).await.unwrap().unwrap();
    assert_eq!(changed.calls_access, Some(CallsAccess::ReportToThem));

    // An empty change only checks the user.
    store
        .update_user(
            &Origin::cli(),
            company(ACME),
            user(13),
            &crate::UserUpdate::default(),
        )
        .await
        .unwrap();
    assert_eq!(
        err(store
            .update_user(
                &Origin::cli(),
                company(ACME),
                user(99),
                &crate::UserUpdate::default()
            )
            .await),
        StoreError::NoUser {
            company: company(ACME),
            user: user(99),
        }
    );
    // A change of users never touches a grant, even one a new level makes
    // redundant.
    assert_eq!(grants(store, ACME, &[101]).await, vec![(101, vec![11])]);
}

/// The company's shares by call then user, its own only.
pub async fn shares_list_by_call_then_user_in_their_company(store: &dyn Store) {
    world(store).await;
    assert!(store.shares(company(ACME)).await.unwrap().is_empty());
    for (company_id, call_id, user_id) in [
        (ACME, 102, 3),
        (ACME, 100, 2),
        (ACME, 100, 1),
        (ACME, 101, 13),
        (GLOBEX, 100, 1),
    ] {
        store
            .add_share(
                &Origin::cli(),
                company(company_id),
                call(call_id),
                user(user_id),
            )
            .await
            .unwrap();
    }
    let listed = |pairs: &[(i64, i64)]| -> Vec<(CallId, UserId)> {
        pairs.iter().map(|&(c, u)| (call(c), user(u))).collect()
    };
    assert_eq!(
        store.shares(company(ACME)).await.unwrap(),
        listed(&[(100, 1), (100, 2), (101, 13), (102, 3)])
    );
    assert_eq!(
        store.shares(company(GLOBEX)).await.unwrap(),
        listed(&[(100, 1)])
    );
    assert!(store.shares(company(999)).await.unwrap().is_empty());
    store
        .remove_share(&Origin::cli(), company(ACME), call(100), user(2))
        .await
        .unwrap();
    assert_eq!(
        store.shares(company(ACME)).await.unwrap(),
        listed(&[(100, 1), (101, 13), (102, 3)])
    );
    // The export reads the same rows.
    let snapshot = store.snapshot(Some(company(ACME))).await.unwrap();
    assert_eq!(
        snapshot.companies[0].shares,
        store.shares(company(ACME)).await.unwrap()
    );
}

/// The company's default workspace, once it has others too.
async fn default_workspace_of(store: &dyn Store, company_id: i64) -> WorkspaceId {
    let companies = store.snapshot(Some(company(company_id))).await.unwrap();
    companies.companies[0].workspaces[0].id
}
