//! A database of schema version 4 (per-user levels, no workspaces or
//! profiles) opened by this binary: migration 5 must keep every answer.

use callaccess_domain::Origin;
use std::collections::BTreeSet;

use callaccess_domain::access::Route;
use callaccess_domain::contract::{call, caller, change, company, user};
use callaccess_domain::{legacy_profile_name, CallsAccess, Store};
use callaccess_sqlite::{migrations, SqliteStore};
use rusqlite::Connection;

/// What version 4 held: (company, user, level).
const USERS: &[(i64, i64, &str)] = &[
    (1, 1, "all"),
    (1, 2, "own"),
    (1, 3, "none"),
    (1, 4, "own"),
    (1, 5, "none"),
    (2, 1, "own"),
    (2, 5, "all"),
    (2, 6, "none"),
];
/// (company, call, primary, participants)
const CALLS: &[(i64, i64, i64, &[i64])] = &[
    (1, 10, 2, &[4, 3]),
    (1, 11, 1, &[]),
    (1, 12, 3, &[5]),
    (1, 13, 5, &[2]),
    (2, 10, 5, &[1]),
    (2, 20, 1, &[]),
];
/// (company, call, user)
const SHARES: &[(i64, i64, i64)] = &[(1, 11, 3), (1, 12, 4), (1, 13, 5), (2, 20, 6)];
const GRANTS: &[(i64, i64, i64)] = &[(1, 10, 5), (1, 11, 2), (1, 12, 1), (1, 13, 3), (2, 10, 6)];

fn level_of(c: i64, u: i64) -> &'static str {
    USERS
        .iter()
        .find(|(uc, uu, _)| (*uc, *uu) == (c, u))
        .map(|(_, _, level)| *level)
        .unwrap()
}

/// The routes version 4's rules gave (users-access.md §2.3): an API
/// grant, a share, and the profile: `all` every call of the company, `own`
/// the calls where the user is the primary user or a participant.
fn old_routes(c: i64, id: i64, u: i64) -> Vec<String> {
    let (_, _, primary, participants) = CALLS
        .iter()
        .find(|(cc, ci, _, _)| (*cc, *ci) == (c, id))
        .unwrap();
    let mut routes = Vec::new();
    if GRANTS.contains(&(c, id, u)) {
        routes.push("apiGrant".to_owned());
    }
    if SHARES.contains(&(c, id, u)) {
        routes.push("shared".to_owned());
    }
    let level = level_of(c, u);
    let party = *primary == u || participants.contains(&u);
    if level == "all" || (level == "own" && party) {
        routes.push(format!("profile {level}"));
    }
    routes
}

fn described(route: &Route) -> String {
    match route {
        Route::ApiGrant(_) => "apiGrant".to_owned(),
        Route::Shared => "shared".to_owned(),
        Route::Profile {
            name,
            level,
            chain,
            team_of,
            ..
        } => {
            assert_eq!(name, &legacy_profile_name(*level));
            assert!(chain.is_empty() && team_of.is_none(), "{route:?}");
            format!("profile {level}")
        }
    }
}

/// A file at schema version 4, as the last release wrote it.
fn version_4_file(path: &std::path::Path) {
    let conn = Connection::open(path).unwrap();
    conn.execute_batch(
        "PRAGMA application_id = 1128352844;
         CREATE TABLE schema_migrations (
             version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);",
    )
    .unwrap();
    for sql in [
        include_str!("../../migrations/0001_initial.sql"),
        include_str!("../../migrations/0002_api_grants_without_foreign_keys.sql"),
        include_str!("../../migrations/0003_storage_probe.sql"),
        include_str!("../../migrations/0004_credential_changes.sql"),
    ] {
        conn.execute_batch(sql).unwrap();
    }
    for (version, name) in &migrations()[..4] {
        conn.execute(
            "INSERT INTO schema_migrations VALUES (?1, ?2, 0)",
            (version, name),
        )
        .unwrap();
    }
    conn.execute_batch(
        "INSERT INTO companies (id, name, created_at) VALUES (1, 'Acme', 0), (2, 'Globex', 0);",
    )
    .unwrap();
    for (c, u, level) in USERS {
        conn.execute(
            "INSERT INTO users (company_id, id, email, calls_access) VALUES (?1, ?2, ?3, ?4)",
            (c, u, format!("u{u}@c{c}.test"), level),
        )
        .unwrap();
    }
    for (c, id, primary, participants) in CALLS {
        conn.execute(
            "INSERT INTO calls (company_id, id, title, primary_user_id) VALUES (?1, ?2, 'call', ?3)",
            (c, id, primary),
        )
        .unwrap();
        for p in *participants {
            conn.execute(
                "INSERT INTO call_participants VALUES (?1, ?2, ?3)",
                (c, id, p),
            )
            .unwrap();
        }
    }
    for (c, id, u) in SHARES {
        conn.execute("INSERT INTO shares VALUES (?1, ?2, ?3, 0)", (c, id, u))
            .unwrap();
    }
    for (c, id, u) in GRANTS {
        conn.execute("INSERT INTO api_grants VALUES (?1, ?2, ?3, 0)", (c, id, u))
            .unwrap();
    }
}

fn users_of(c: i64) -> Vec<i64> {
    USERS
        .iter()
        .filter(|(uc, _, _)| *uc == c)
        .map(|(_, u, _)| *u)
        .collect()
}

fn calls_of(c: i64) -> Vec<i64> {
    CALLS
        .iter()
        .filter(|(cc, _, _, _)| *cc == c)
        .map(|(_, id, _, _)| *id)
        .collect()
}

/// The API grants of every call of company `c`, as POST lists them.
async fn listed(store: &SqliteStore, c: i64) -> BTreeSet<(i64, i64)> {
    let calls: Vec<_> = calls_of(c).into_iter().map(call).collect();
    store
        .list_api_grants(caller(c), &calls)
        .await
        .unwrap()
        .into_iter()
        .flat_map(|g| g.users.into_iter().map(move |u| (g.call.get(), u.get())))
        .collect()
}

#[tokio::test]
async fn a_version_4_database_keeps_every_answer_through_the_directory_migration() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v4.db");
    version_4_file(&path);

    let store = SqliteStore::open(&path).await.unwrap();
    // The directory migration, then any later ones.
    assert_eq!(store.applied_at_open().first(), Some(&(5, "directory")));

    for c in [1, 2] {
        // One workspace, "Default", holding every call.
        let workspaces = store.workspaces(caller(c)).await.unwrap();
        assert_eq!(workspaces.len(), 1, "{workspaces:?}");
        assert_eq!(workspaces[0].name, "Default");
        let default = workspaces[0].id;
        assert!(default.get() >= 1_000_000_000_000_000_000, "{default}");
        let calls = store.calls(company(c)).await.unwrap();
        assert_eq!(
            calls.iter().map(|x| x.id.get()).collect::<Vec<_>>(),
            calls_of(c)
        );
        for stored in &calls {
            assert_eq!(stored.workspace, Some(default), "{stored:?}");
            assert!(!stored.is_private);
            let (_, _, primary, participants) = CALLS
                .iter()
                .find(|(cc, id, _, _)| (*cc, *id) == (c, stored.id.get()))
                .unwrap();
            assert_eq!(stored.primary_user_id, user(*primary));
            let mut expected: Vec<i64> = participants.to_vec();
            expected.sort_unstable();
            assert_eq!(
                stored
                    .participant_ids
                    .iter()
                    .map(|u| u.get())
                    .collect::<Vec<_>>(),
                expected
            );
        }

        // One profile per level held, named for it, with its holders.
        let profiles = store.profiles(caller(c), default).await.unwrap();
        let levels: BTreeSet<&str> = USERS
            .iter()
            .filter(|(uc, _, _)| *uc == c)
            .map(|(_, _, l)| *l)
            .collect();
        assert_eq!(profiles.len(), levels.len(), "{profiles:?}");
        for profile in &profiles {
            let level = profile.calls.level.as_str();
            assert!(levels.contains(level));
            assert_eq!(profile.name, legacy_profile_name(profile.calls.level));
            assert_eq!(
                serde_json::Value::Object(profile.fields.clone()),
                serde_json::json!({
                    "name": profile.name,
                    "callsAccess": { "permissionLevel": level, "teamLeadIds": [] }
                })
            );
            let holders: Vec<i64> = store
                .profile_users(caller(c), profile.id)
                .await
                .unwrap()
                .iter()
                .map(|u| u.id.get())
                .collect();
            let expected: Vec<i64> = USERS
                .iter()
                .filter(|(uc, _, l)| *uc == c && *l == level)
                .map(|(_, u, _)| *u)
                .collect();
            assert_eq!(holders, expected, "{}", profile.name);
        }

        // Each user's level reads back as before.
        for stored in store.users(company(c)).await.unwrap() {
            let level: CallsAccess = level_of(c, stored.id.get()).parse().unwrap();
            assert_eq!(stored.calls_access, Some(level), "{stored:?}");
            assert_eq!(stored.email_address, format!("u{}@c{c}.test", stored.id));
            assert!(stored.active && stored.manager_id.is_none());
            assert!(stored.created.is_some_and(|t| t.unix() > 0), "{stored:?}");
        }

        // Every (call, user): the same routes as version 4's rules gave.
        for id in calls_of(c) {
            let facts = store.call_access(company(c), call(id)).await.unwrap();
            for u in users_of(c) {
                let routes: Vec<String> = facts
                    .viewers
                    .iter()
                    .find(|v| v.user == user(u))
                    .map(|v| v.routes.iter().map(described).collect())
                    .unwrap_or_default();
                assert_eq!(
                    routes,
                    old_routes(c, id, u),
                    "company {c}, call {id}, user {u}"
                );
            }
        }

        // POST lists the grants as they were.
        let before: BTreeSet<(i64, i64)> = GRANTS
            .iter()
            .filter(|(gc, _, _)| *gc == c)
            .map(|(_, id, u)| (*id, *u))
            .collect();
        assert_eq!(listed(&store, c).await, before);
    }

    // A PUT of every user on every call records exactly the pairs that
    // had no route other than a grant before.
    for c in [1, 2] {
        let everyone = users_of(c);
        let items: Vec<(i64, &[i64])> = calls_of(c)
            .into_iter()
            .map(|id| (id, everyone.as_slice()))
            .collect();
        store
            .grant_access(&Origin::cli(), caller(c), &change(&items))
            .await
            .unwrap();
        let mut expected: BTreeSet<(i64, i64)> = GRANTS
            .iter()
            .filter(|(gc, _, _)| *gc == c)
            .map(|(_, id, u)| (*id, *u))
            .collect();
        for id in calls_of(c) {
            for &u in &everyone {
                let otherwise = old_routes(c, id, u).into_iter().any(|r| r != "apiGrant");
                if !otherwise {
                    expected.insert((id, u));
                }
            }
        }
        assert_eq!(listed(&store, c).await, expected, "company {c}");
    }
    store.close().await.unwrap();
    drop(store);

    let conn = Connection::open(&path).unwrap();
    let old_column: i64 = conn
        .query_row(
            "SELECT count(*) FROM pragma_table_info('users') WHERE name = 'calls_access'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(old_column, 0, "the level lives in the profiles now");
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
    let fk_problems: i64 = conn
        .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(fk_problems, 0);
}
