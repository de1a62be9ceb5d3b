//! Migrations: the same list as SQLite's, applied once even when several
//! nodes start together, and refusal of databases that are not ours.

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
