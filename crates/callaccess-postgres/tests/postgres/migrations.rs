//! Migrations: the same list as SQLite's, applied once even when several
//! nodes start together, and refusal of databases that are not ours.

use callaccess_domain::Origin;
use callaccess_domain::{Store, StoreError};
use callaccess_postgres::{connect, migrations, PoolOptions};
use tokio_postgres::NoTls;

use crate::scratch;

#[test]
fn the_migrations_match_the_sqlite_backend() {
    assert_eq!(migrations(), callaccess_sqlite::migrations());
    assert!(!migrations().is_empty());
}

/// The version every migration brings a database to.
fn latest() -> i64 {
    migrations().last().unwrap().0
}

/// A plain connection to a scratch database, for looking behind the store.
async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

async fn tables(client: &tokio_postgres::Client) -> Vec<String> {
    client
        .query(
            "SELECT table_name::TEXT FROM information_schema.tables
             WHERE table_schema = current_schema() ORDER BY 1",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect()
}

#[tokio::test]
async fn a_fresh_database_is_migrated_once_and_reopened_without_changes() {
    let Some(db) = scratch().await else { return };
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    assert_eq!(store.applied_at_open(), migrations().to_vec());
    assert_eq!(store.schema_version(), latest());
    assert_eq!(store.backend(), "postgres");
    store.ping().await.unwrap();
    store.close().await.unwrap();

    let again = connect(db.url(), PoolOptions::default()).await.unwrap();
    assert!(again.applied_at_open().is_empty());
    assert_eq!(again.schema_version(), latest());
    let client = raw(db.url()).await;
    let history: Vec<(i64, String)> = client
        .query("SELECT version, name FROM schema_migrations", &[])
        .await
        .unwrap()
        .iter()
        .map(|row| (row.get(0), row.get(1)))
        .collect();
    let history: Vec<(i64, &str)> = history.iter().map(|(v, n)| (*v, n.as_str())).collect();
    assert_eq!(history, migrations());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn nodes_starting_together_apply_each_migration_exactly_once() {
    let Some(db) = scratch().await else { return };
    let mut starts = Vec::new();
    for _ in 0..6 {
        let url = db.url().to_owned();
        starts.push(tokio::spawn(async move {
            connect(&url, PoolOptions::default()).await
        }));
    }
    let mut applied = 0;
    for start in starts {
        let store = start.await.unwrap().unwrap();
        assert_eq!(store.schema_version(), latest());
        applied += store.applied_at_open().len();
        store.close().await.unwrap();
    }
    assert_eq!(
        applied,
        migrations().len(),
        "one node applies each migration, the others find it done"
    );
    let client = raw(db.url()).await;
    let count: i64 = client
        .query_one("SELECT count(*) FROM schema_migrations", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(count, i64::try_from(migrations().len()).unwrap());
}

#[tokio::test]
async fn a_database_of_another_application_is_refused_untouched() {
    let Some(db) = scratch().await else { return };
    let client = raw(db.url()).await;
    client
        .batch_execute(
            "CREATE TABLE notes (id BIGINT PRIMARY KEY, body TEXT);
             INSERT INTO notes VALUES (1, 'not yours')",
        )
        .await
        .unwrap();

    let refused = connect(db.url(), PoolOptions::default()).await;
    let Err(StoreError::Incompatible(message)) = refused else {
        panic!("expected Incompatible, got {:?}", refused.map(|_| ()));
    };
    assert!(
        message.contains("is not a callaccess database"),
        "{message}"
    );
    assert!(message.contains(db.name()), "{message}");
    assert_eq!(tables(&client).await, vec!["notes".to_owned()]);
    let body: String = client
        .query_one("SELECT body FROM notes WHERE id = 1", &[])
        .await
        .unwrap()
        .get(0);
    assert_eq!(body, "not yours");
}

#[tokio::test]
async fn a_newer_schema_is_refused_untouched_and_fails_the_ping_of_running_nodes() {
    let Some(db) = scratch().await else { return };
    let running = connect(db.url(), PoolOptions::default()).await.unwrap();
    let client = raw(db.url()).await;
    client
        .batch_execute("INSERT INTO schema_migrations VALUES (99, 'from the future', 0)")
        .await
        .unwrap();
    let before = tables(&client).await;

    let refused = connect(db.url(), PoolOptions::default()).await;
    let Err(StoreError::Incompatible(message)) = refused else {
        panic!("expected Incompatible, got {:?}", refused.map(|_| ()));
    };
    assert!(message.contains("newer callaccess"), "{message}");
    assert!(message.contains("schema version 99"), "{message}");
    assert_eq!(tables(&client).await, before);

    // A node started before the upgrade is no longer ready.
    assert!(matches!(
        running.ping().await,
        Err(StoreError::Incompatible(_))
    ));
}

#[tokio::test]
async fn a_bad_url_is_refused_without_echoing_the_password() {
    let result = connect(
        "postgres://bob:hunter2@127.0.0.1:notaport/x",
        PoolOptions::default(),
    )
    .await;
    let Err(error) = result else {
        panic!("a bad URL was accepted");
    };
    assert!(!error.to_string().contains("hunter2"), "{error}");
}

/// The SQL of migrations 1 to 4, as a database of the schema before
/// workspaces and profiles was built.
const BEFORE_DIRECTORY: [(i64, &str, &str); 4] = [
    (
        1,
        "initial",
        include_str!("../../migrations/0001_initial.sql"),
    ),
    (
        2,
        "api_grants_without_foreign_keys",
        include_str!("../../migrations/0002_api_grants_without_foreign_keys.sql"),
    ),
    (
        3,
        "storage_probe",
        include_str!("../../migrations/0003_storage_probe.sql"),
    ),
    (
        4,
        "credential_changes",
        include_str!("../../migrations/0004_credential_changes.sql"),
    ),
];

/// Schema 4's data: two companies sharing ids; every level (`all`, `own`,
/// `none`), participants, shares and API grants.
const SCHEMA_4_DATA: &str = "
INSERT INTO companies (id, name, per_second_limit, per_day_limit, created_at)
VALUES (1001, 'Acme', NULL, 5000, 10), (2002, 'Globex', 0, NULL, 20);
INSERT INTO users (company_id, id, email, calls_access) VALUES
    (1001, 1, 'u1@acme.test', 'all'),
    (1001, 2, 'u2@acme.test', 'own'),
    (1001, 3, 'u3@acme.test', 'none'),
    (1001, 4, 'u4@acme.test', 'own'),
    (1001, 5, 'u5@acme.test', 'none'),
    (2002, 1, 'u1@globex.test', 'none'),
    (2002, 2, 'u2@globex.test', 'all');
INSERT INTO calls (company_id, id, title, primary_user_id) VALUES
    (1001, 100, 'kickoff', 2), (1001, 101, NULL, 3), (1001, 102, 'renewal', 5),
    (2002, 100, 'other', 1);
INSERT INTO call_participants (company_id, call_id, user_id) VALUES
    (1001, 100, 4), (1001, 101, 2);
INSERT INTO shares (company_id, call_id, user_id, created_at) VALUES
    (1001, 101, 5, 30), (1001, 102, 4, 31);
INSERT INTO api_grants (company_id, call_id, user_id, granted_at) VALUES
    (1001, 100, 3, 40), (1001, 102, 1, 41), (2002, 100, 1, 42);
INSERT INTO api_keys (access_key, company_id, secret_digest, scopes, created_at, expires_at, revoked_at)
VALUES ('K1', 1001, decode(repeat('ab', 32), 'hex'), 'api:call-user-access:read', 50, NULL, NULL);
UPDATE credential_changes SET count = 7;
";

/// Who opened which call at schema 4, besides by an API grant: a share, a
/// profile of `all`, or a profile of `own` for the primary user and the
/// participants (the rule before workspaces), from the data above.
fn opened_at_schema_4(company_id: i64, call_id: i64, user_id: i64) -> bool {
    let level = |u| match (company_id, u) {
        (1001, 1) | (2002, 2) => "all",
        (1001, 2 | 4) => "own",
        _ => "none",
    };
    let parties: &[i64] = match (company_id, call_id) {
        (1001, 100) => &[2, 4],
        (1001, 101) => &[3, 2],
        (1001, 102) => &[5],
        _ => &[1],
    };
    let shared = matches!(
        (company_id, call_id, user_id),
        (1001, 101, 5) | (1001, 102, 4)
    );
    shared || level(user_id) == "all" || (level(user_id) == "own" && parties.contains(&user_id))
}

#[tokio::test]
async fn a_schema_4_database_keeps_every_answer_after_migration_5() {
    use callaccess_domain::contract::{call, caller, change, company, grants};
    use callaccess_domain::{legacy_profile_name, CallsAccess, Limit};

    let Some(db) = scratch().await else { return };
    let client = raw(db.url()).await;
    migrated_by_hand(&client, BEFORE_DIRECTORY).await;
    client.batch_execute(SCHEMA_4_DATA).await.unwrap();

    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    // The directory migration, then any later ones.
    assert_eq!(store.applied_at_open().first(), Some(&(5, "directory")));
    assert_eq!(store.schema_version(), latest());

    // Companies and their limits are as they were.
    let companies = store.companies().await.unwrap();
    let summary: Vec<_> = companies
        .iter()
        .map(|c| {
            (
                c.id.get(),
                c.name.as_str(),
                c.rate_limit.per_second,
                c.rate_limit.per_day,
            )
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (1001, "Acme", Limit::Default, Limit::Max(5000)),
            (2002, "Globex", Limit::Off, Limit::Default),
        ]
    );

    // So are the credentials, and the count of their changes.
    let key = store.api_key("K1").await.unwrap().unwrap();
    assert_eq!(key.company, company(1001));
    assert_eq!(key.digest.0, [0xab; 32]);
    assert_eq!(key.rate_limit.per_day, Limit::Max(5000));
    assert_eq!(store.credentials_epoch(), Some(7));

    // Each company has one workspace, "Default", holding all its calls,
    // and one profile per level its users had, named as the domain names
    // it and held by exactly those users.
    let expected_levels: [(i64, &[(i64, CallsAccess)]); 2] = [
        (
            1001,
            &[
                (1, CallsAccess::All),
                (2, CallsAccess::Own),
                (3, CallsAccess::None),
                (4, CallsAccess::Own),
                (5, CallsAccess::None),
            ],
        ),
        (2002, &[(1, CallsAccess::None), (2, CallsAccess::All)]),
    ];
    for (company_id, levels) in expected_levels {
        let workspaces = store.workspaces(caller(company_id)).await.unwrap();
        assert_eq!(workspaces.len(), 1, "{workspaces:?}");
        let default = &workspaces[0];
        assert_eq!(default.name, "Default");
        assert_eq!(default.id.to_string().len(), 19, "{default:?}");
        for c in store.calls(company(company_id)).await.unwrap() {
            assert_eq!(c.workspace, Some(default.id), "{c:?}");
            assert!(!c.is_private, "{c:?}");
        }
        let users = store.users(company(company_id)).await.unwrap();
        let read: Vec<(i64, Option<CallsAccess>)> =
            users.iter().map(|u| (u.id.get(), u.calls_access)).collect();
        let want: Vec<(i64, Option<CallsAccess>)> =
            levels.iter().map(|(u, level)| (*u, Some(*level))).collect();
        assert_eq!(read, want);
        for u in &users {
            assert!(
                u.active && u.manager_id.is_none() && u.created.is_some(),
                "{u:?}"
            );
            assert_eq!(
                u.email_address,
                format!(
                    "u{}@{}.test",
                    u.id,
                    if company_id == 1001 { "acme" } else { "globex" }
                )
            );
        }
        let profiles = store
            .profiles(caller(company_id), default.id)
            .await
            .unwrap();
        let mut distinct: Vec<CallsAccess> = levels.iter().map(|(_, level)| *level).collect();
        distinct.sort_by_key(|level| legacy_profile_name(*level).to_lowercase());
        distinct.dedup();
        let names: Vec<&str> = profiles.iter().map(|p| p.name.as_str()).collect();
        let want: Vec<String> = distinct.iter().map(|l| legacy_profile_name(*l)).collect();
        assert_eq!(names, want);
        for profile in &profiles {
            assert_eq!(profile.calls.team_leads, vec![]);
            assert_eq!(
                serde_json::Value::Object(profile.fields.clone()),
                serde_json::json!({
                    "name": profile.name,
                    "callsAccess": {
                        "permissionLevel": profile.calls.level.as_str(),
                        "teamLeadIds": []
                    }
                })
            );
            let holders: Vec<i64> = store
                .profile_users(caller(company_id), profile.id)
                .await
                .unwrap()
                .iter()
                .map(|u| u.id.get())
                .collect();
            let want: Vec<i64> = levels
                .iter()
                .filter(|(_, level)| *level == profile.calls.level)
                .map(|(u, _)| *u)
                .collect();
            assert_eq!(holders, want, "{}", profile.name);
        }
    }

    // The grants and shares are as they were.
    assert_eq!(
        grants(&store, 1001, &[100, 101, 102]).await,
        vec![(100, vec![3]), (101, vec![]), (102, vec![1])]
    );
    assert_eq!(grants(&store, 2002, &[100]).await, vec![(100, vec![1])]);

    // Everyone who opened a call still opens it, and only they: the
    // operator's view lists exactly them, with a route of the same kind.
    let calls = [(1001, vec![100, 101, 102]), (2002, vec![100])];
    let users_of = |company_id| if company_id == 1001 { 1..=5 } else { 1..=2 };
    for (company_id, ids) in &calls {
        for &call_id in ids {
            let facts = store
                .call_access(company(*company_id), call(call_id))
                .await
                .unwrap();
            let granted = grants(&store, *company_id, &[call_id]).await[0].1.clone();
            let viewers: Vec<i64> = facts.viewers.iter().map(|v| v.user.get()).collect();
            let want: Vec<i64> = users_of(*company_id)
                .filter(|&u| granted.contains(&u) || opened_at_schema_4(*company_id, call_id, u))
                .collect();
            assert_eq!(viewers, want, "call {call_id} of {company_id}");
        }
    }

    // PUT records a grant exactly for the pairs nobody could open
    // otherwise before the migration.
    for (company_id, ids) in &calls {
        let before: Vec<(i64, Vec<i64>)> = grants(&store, *company_id, ids).await;
        let everyone: Vec<i64> = users_of(*company_id).collect();
        let items: Vec<(i64, &[i64])> = ids.iter().map(|c| (*c, everyone.as_slice())).collect();
        store
            .grant_access(&Origin::cli(), caller(*company_id), &change(&items))
            .await
            .unwrap();
        let after = grants(&store, *company_id, ids).await;
        for ((call_id, was), (_, now)) in before.iter().zip(&after) {
            let want: Vec<i64> = everyone
                .iter()
                .copied()
                .filter(|&u| was.contains(&u) || !opened_at_schema_4(*company_id, *call_id, u))
                .collect();
            assert_eq!(now, &want, "call {call_id} of {company_id}");
        }
    }

    // The levels live in profiles now; every call is in a workspace.
    let columns: Vec<String> = client
        .query(
            "SELECT column_name::TEXT FROM information_schema.columns
              WHERE table_schema = current_schema() AND table_name = 'users'",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    assert!(!columns.contains(&"calls_access".to_owned()), "{columns:?}");
}

/// Migration 7 (the audit trail) on a database at schema 6 with data:
/// every answer stays, the trail starts empty, and the next write records
/// the first entry.
#[tokio::test]
async fn a_schema_6_database_keeps_its_data_and_starts_an_empty_trail() {
    use callaccess_domain::audit::{AuditFilter, AuditOrder, AuditPage, NewEntry};
    use callaccess_domain::contract::{call, caller, change, company, grants, user};

    let Some(db) = scratch().await else { return };
    let client = raw(db.url()).await;
    let later: [(i64, &str, &str); 2] = [
        (
            5,
            "directory",
            include_str!("../../migrations/0005_directory.sql"),
        ),
        (
            6,
            "admin_tokens",
            include_str!("../../migrations/0006_admin_tokens.sql"),
        ),
    ];
    migrated_by_hand(&client, BEFORE_DIRECTORY).await;
    client.batch_execute(SCHEMA_4_DATA).await.unwrap();
    migrated_by_hand(&client, later).await;

    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    assert_eq!(
        store.applied_at_open(),
        vec![(7, "audit"), (8, "audit_runs")]
    );
    assert_eq!(store.schema_version(), latest());
    assert_eq!(
        grants(&store, 1001, &[100, 101, 102]).await,
        vec![(100, vec![3]), (101, vec![]), (102, vec![1])]
    );
    assert_eq!(
        store.api_key("K1").await.unwrap().unwrap().company,
        company(1001)
    );
    assert_eq!(store.credentials_epoch(), Some(7));
    assert_eq!(store.users(company(1001)).await.unwrap().len(), 5);

    let everything = AuditPage {
        order: AuditOrder::Oldest,
        from: None,
        limit: 100,
    };
    let trail = store.audit(&AuditFilter::default(), everything).await;
    assert_eq!(trail.unwrap(), vec![]);
    store
        .grant_access(&Origin::cli(), caller(1001), &change(&[(101, &[3])]))
        .await
        .unwrap();
    let trail = store
        .audit(&AuditFilter::default(), everything)
        .await
        .unwrap();
    assert_eq!(trail.len(), 1, "{trail:?}");
    assert_eq!(trail[0].seq, 1);
    assert_eq!(
        NewEntry {
            company: trail[0].company,
            action: trail[0].action,
            call: trail[0].call,
            user: trail[0].user,
            before: None,
            after: None,
        },
        NewEntry::grant_added(company(1001), call(101), user(3))
    );
}

/// Applies `applied` (the migrations from the first, or those after the
/// ones applied already) as an older binary did, bookkeeping included.
async fn migrated_by_hand(
    client: &tokio_postgres::Client,
    applied: impl IntoIterator<Item = (i64, &'static str, &'static str)>,
) {
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations \
             (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
        )
        .await
        .unwrap();
    for (version, name, sql) in applied {
        assert_eq!(
            (version, name),
            migrations()[usize::try_from(version - 1).unwrap()]
        );
        client.batch_execute(sql).await.unwrap();
        client
            .execute(
                "INSERT INTO schema_migrations VALUES ($1, $2, 0)",
                &[&version, &name],
            )
            .await
            .unwrap();
    }
}
