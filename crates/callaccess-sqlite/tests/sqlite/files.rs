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
