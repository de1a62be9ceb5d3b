//! The audit trail in the file itself: what SQL outside the store may do
//! to it, what migration 7 keeps, and a change feed that another process
//! (the command line) writes to.

use std::time::{Duration, Instant};

use callaccess_domain::contract::audit::entries_after;
use callaccess_domain::contract::{call, company, snapshot, user, world, ACME};
use callaccess_domain::{Action, Actor, Origin, Store};
use callaccess_sqlite::SqliteStore;
use rusqlite::Connection;

use crate::fresh;

#[tokio::test]
async fn an_entry_cannot_be_changed_through_sql_but_can_be_deleted() {
    let fixture = fresh().await;
    world(&*fixture).await;
    let before = entries_after(&*fixture, 0).await;
    let conn = Connection::open(fixture.path()).unwrap();
    for sql in [
        "UPDATE audit_entries SET actor = 'cli' WHERE seq = 1",
        "UPDATE audit_entries SET at = 0",
        "UPDATE audit_entries SET seq = seq + 1000",
    ] {
        let refused = conn.execute(sql, []).unwrap_err().to_string();
        assert!(
            refused.contains("audit entries are never changed"),
            "{sql}: {refused}"
        );
    }
    assert_eq!(entries_after(&*fixture, 0).await, before, "nothing changed");

    // Retention and resets delete; so may an operator.
    let last = before.last().unwrap().seq;
    conn.execute("DELETE FROM audit_entries WHERE seq = ?1", [last])
        .unwrap();
    assert_eq!(
        entries_after(&*fixture, 0).await,
        before[..before.len() - 1].to_vec()
    );
}

#[tokio::test]
async fn a_version_6_database_keeps_its_data_and_starts_an_empty_trail() {
    let fixture = fresh().await;
    world(&*fixture).await;
    fixture
        .grant_access(
            &Origin::cli(),
            callaccess_domain::Caller::verified(company(ACME)),
            &callaccess_domain::contract::change(&[(101, &[2])]),
        )
        .await
        .unwrap();
    let rows_before = snapshot(&*fixture).await;
    let path = fixture.path();
    fixture.close().await.unwrap();

    // The file as version 6 left it: migration 7 only adds its tables.
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE audit_entries;
             DROP TABLE audit_expired_noted;
             DELETE FROM sqlite_sequence WHERE name = 'audit_entries';
             DELETE FROM schema_migrations WHERE version = 7;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.applied_at_open(), vec![(7, "audit")]);
    assert_eq!(store.schema_version(), 7);
    assert_eq!(snapshot(&store).await, rows_before, "every row kept");
    assert!(entries_after(&store, 0).await.is_empty());

    // Writes record from the first number on.
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(3))
        .await
        .unwrap();
    let entries = entries_after(&store, 0).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(
        (entries[0].seq, entries[0].action, entries[0].actor.as_str()),
        (1, Action::ShareAdd, "cli")
    );
    store.close().await.unwrap();
}

#[tokio::test]
async fn a_change_another_process_commits_is_seen_by_a_waiter_at_its_timeout() {
    let fixture = fresh().await;
    world(&*fixture).await;
    let last = entries_after(&*fixture, 0).await.last().unwrap().seq;

    // The command line opens the same file as a store of its own.
    let cli = SqliteStore::open(&fixture.path()).await.unwrap();
    let origin = Origin::new(Actor::Cli, None);
    let started = Instant::now();
    let (woke, wrote) = tokio::join!(
        fixture.wait_for_changes(last, Duration::from_millis(300)),
        cli.add_share(&origin, company(ACME), call(101), user(2))
    );
    woke.unwrap();
    wrote.unwrap();
    assert!(started.elapsed() < Duration::from_secs(10));
    // Whether it woke early or at its timeout, the entry is there to read,
    // and a new wait after it returns at once.
    let new = fixture.changes_after(last, 10).await.unwrap();
    assert_eq!(new.len(), 1);
    assert_eq!(new[0].action, Action::ShareAdd);
    let started = Instant::now();
    fixture
        .wait_for_changes(last, Duration::from_secs(30))
        .await
        .unwrap();
    assert!(started.elapsed() < Duration::from_secs(5));
    cli.close().await.unwrap();
}
