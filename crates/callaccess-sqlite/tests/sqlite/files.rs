use callaccess_domain::Origin;
use std::path::{Path, PathBuf};

use callaccess_domain::StoreError;
use callaccess_sqlite::{migrations, SqliteStore};
use rusqlite::Connection;

fn incompatible(result: Result<SqliteStore, StoreError>) -> String {
    match result {
        Err(StoreError::Incompatible(message)) => message,
        Err(other) => panic!("expected Incompatible, got {other:?}"),
        Ok(_) => panic!("expected Incompatible, the file was opened"),
    }
}

/// The names in the folder, to show that no companion file appeared.
fn listing(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

#[tokio::test]
async fn refuses_a_text_file_and_leaves_it_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in [
        ("short.db", "hello\n".to_owned()),
        (
            "long.db",
            "this is a plain text file that happens to end in .db\n".repeat(40),
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &text).unwrap();
        let message = incompatible(SqliteStore::open(&path).await);
        assert_eq!(
            message,
            format!(
                "\"{}\" is not a callaccess database (it is not an SQLite file)",
                path.display()
            )
        );
        assert_eq!(std::fs::read(&path).unwrap(), text.as_bytes());
    }
    assert_eq!(listing(dir.path()), vec!["long.db", "short.db"]);
}

#[tokio::test]
async fn refuses_another_applications_database_and_leaves_it_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE notes (id INTEGER PRIMARY KEY, body TEXT); INSERT INTO notes (body) VALUES ('keep me');")
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let message = incompatible(SqliteStore::open(&path).await);
    assert!(
        message.starts_with(&format!(
            "\"{}\" is not a callaccess database",
            path.display()
        )),
        "{message}"
    );
    assert!(message.contains("another application"), "{message}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        before,
        "the file must be byte-for-byte unchanged"
    );
    let conn = Connection::open(&path).unwrap();
    let mode: String = conn
        .pragma_query_value(None, "journal_mode", |r| r.get(0))
        .unwrap();
    assert_eq!(
        mode, "delete",
        "the other application's journal mode must be left alone"
    );
}

#[tokio::test]
async fn refuses_a_database_marked_by_another_application_without_opening_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("other.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.pragma_update(None, "application_id", 0x1234_5678)
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let message = incompatible(SqliteStore::open(&path).await);
    assert!(
        message.contains("another application, id 0x12345678"),
        "{message}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
    assert_eq!(
        listing(dir.path()),
        vec!["other.db"],
        "not even -wal or -shm files may appear"
    );
}

#[tokio::test]
async fn refuses_a_newer_schema_and_leaves_the_file_unchanged() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("callaccess.db");
    {
        let store = SqliteStore::open(&path).await.unwrap();
        callaccess_domain::Store::close(&store).await.unwrap();
    }
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute("INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'from_the_future', 0)", [])
            .unwrap();
    }
    let before = std::fs::read(&path).unwrap();
    let message = incompatible(SqliteStore::open(&path).await);
    assert_eq!(
        message,
        format!(
            "\"{}\" was written by a newer callaccess (schema version 9999, this binary knows up to {}); upgrade callaccess to open it",
            path.display(),
            migrations().last().unwrap().0
        )
    );
    assert_eq!(std::fs::read(&path).unwrap(), before);
}

#[tokio::test]
async fn refuses_a_folder() {
    let dir = tempfile::tempdir().unwrap();
    let message = incompatible(SqliteStore::open(dir.path()).await);
    assert!(message.contains("it is a folder"), "{message}");
}

#[tokio::test]
async fn a_new_file_gets_every_migration_and_its_folder() {
    let dir = tempfile::tempdir().unwrap();
    let path: PathBuf = dir.path().join("nested/deeper/callaccess.db");
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.applied_at_open(), migrations().to_vec());
    assert_eq!(store.schema_version(), migrations().last().unwrap().0);
    callaccess_domain::Store::close(&store).await.unwrap();
    drop(store);

    let header = std::fs::read(&path).unwrap();
    assert_eq!(
        &header[68..72],
        b"CALL",
        "the application id marks the file as ours"
    );

    let again = SqliteStore::open(&path).await.unwrap();
    assert!(
        again.applied_at_open().is_empty(),
        "nothing left to apply: {:?}",
        again.applied_at_open()
    );
    assert_eq!(again.schema_version(), migrations().last().unwrap().0);
    drop(again);

    let conn = Connection::open(&path).unwrap();
    let recorded: Vec<(i64, String)> = conn
        .prepare("SELECT version, name FROM schema_migrations ORDER BY version")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let expected: Vec<(i64, String)> = migrations()
        .iter()
        .map(|(v, n)| (*v, (*n).to_owned()))
        .collect();
    assert_eq!(recorded, expected);
}

#[tokio::test]
async fn an_empty_file_is_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.db");
    std::fs::write(&path, b"").unwrap();
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.applied_at_open(), migrations().to_vec());
}

#[tokio::test]
async fn an_sqlite_file_without_tables_is_initialised() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blank.db");
    {
        let conn = Connection::open(&path).unwrap();
        // Writes the header page without creating anything.
        conn.pragma_update(None, "user_version", 0).unwrap();
        conn.execute_batch("VACUUM").unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.applied_at_open(), migrations().to_vec());
}

/// The API grants of calls 10 and 11 of company 1, as plain numbers.
async fn listed(store: &SqliteStore) -> Vec<(i64, Vec<i64>)> {
    use callaccess_domain::contract::{call, caller};
    use callaccess_domain::Store;
    store
        .list_api_grants(caller(1), &[call(10), call(11)])
        .await
        .unwrap()
        .into_iter()
        .map(|g| (g.call.get(), g.users.iter().map(|u| u.get()).collect()))
        .collect()
}

/// A database written by the first release (schema version 1, grants with
/// foreign keys) opens with every grant kept, the table rebuilt without
/// its foreign keys, and writes working as before.
#[tokio::test]
async fn a_version_1_database_keeps_its_grants_through_the_foreign_key_migration() {
    use callaccess_domain::contract::{caller, change};
    use callaccess_domain::Store;

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("v1.db");
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA application_id = 1128352844;
             CREATE TABLE schema_migrations (
                 version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL);",
        )
        .unwrap();
        conn.execute_batch(include_str!("../../migrations/0001_initial.sql"))
            .unwrap();
        conn.execute_batch(
            "INSERT INTO schema_migrations VALUES (1, 'initial', 0);
             INSERT INTO companies (id, name, created_at) VALUES (1, 'Acme', 0);
             INSERT INTO users (company_id, id, email) VALUES (1, 1, 'a@x'), (1, 2, 'b@x');
             INSERT INTO calls (company_id, id, primary_user_id) VALUES (1, 10, 1), (1, 11, 1);
             INSERT INTO api_grants VALUES (1, 10, 2, 5), (1, 11, 1, 6), (1, 11, 2, 7);",
        )
        .unwrap();
        let fks: i64 = conn
            .query_row(
                "SELECT count(DISTINCT id) FROM pragma_foreign_key_list('api_grants')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(fks, 2, "version 1 had the foreign keys");
    }

    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.applied_at_open(),
        migrations()[1..].to_vec(),
        "only the later migrations run"
    );
    assert_eq!(listed(&store).await, vec![(10, vec![2]), (11, vec![1, 2])]);
    store
        .grant_access(&Origin::cli(), caller(1), &change(&[(10, &[1])]))
        .await
        .unwrap();
    assert!(matches!(
        store
            .grant_access(&Origin::cli(), caller(1), &change(&[(10, &[99])]))
            .await,
        Err(StoreError::UsersNotFound(_))
    ));
    assert_eq!(
        listed(&store).await,
        vec![(10, vec![1, 2]), (11, vec![1, 2])]
    );
    store.close().await.unwrap();
    drop(store);

    let conn = Connection::open(&path).unwrap();
    let (fks, granted_at): (i64, i64) = conn
        .query_row(
            "SELECT (SELECT count(DISTINCT id) FROM pragma_foreign_key_list('api_grants')),
                    (SELECT granted_at FROM api_grants WHERE call_id = 11 AND user_id = 2)",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (fks, granted_at),
        (0, 7),
        "no foreign keys; grant times kept"
    );
    let integrity: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(integrity, "ok");
}
