//! The audit trail in the file itself: what SQL outside the store may do
//! to it, what migration 7 keeps, and a change feed that another process
//! (the command line) writes to.

use std::time::{Duration, Instant};

use callaccess_domain::contract::audit::entries_after;
use callaccess_domain::contract::{call, company, snapshot, user, world, ACME};
use callaccess_domain::{Action, Actor, AuditFilter, AuditOrder, AuditPage, Origin, Store};
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

    // The file as version 6 left it: migrations 7 and 8 only add their
    // tables (8 drops two indexes of 7's).
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(
            "DROP TABLE audit_run_keys;
             DROP TABLE audit_runs;
             DROP TABLE audit_entries;
             DROP TABLE audit_expired_noted;
             DELETE FROM sqlite_sequence WHERE name = 'audit_entries';
             DELETE FROM schema_migrations WHERE version >= 7;",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(
        store.applied_at_open(),
        vec![(7, "audit"), (8, "audit_runs")]
    );
    assert_eq!(store.schema_version(), 8);
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

/// The sequence numbers of the newest `limit` entries of call 101 of
/// ACME, read with SQL from every row.
fn newest_of_call_101(conn: &Connection, limit: i64) -> Vec<u64> {
    conn.prepare(
        "SELECT seq FROM audit_entries WHERE company_id = ?1 AND call_id = 101
          ORDER BY seq DESC LIMIT ?2",
    )
    .unwrap()
    .query_map(rusqlite::params![ACME, limit], |row| row.get(0))
    .unwrap()
    .collect::<rusqlite::Result<_>>()
    .unwrap()
}

#[tokio::test]
async fn a_version_7_trail_is_read_whole_after_the_upgrade_and_put_in_runs_by_later_commits() {
    let fixture = fresh().await;
    world(&*fixture).await;
    let path = fixture.path();
    fixture.close().await.unwrap();

    // The file as version 7 left it, with a trail longer than a run.
    {
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(&format!(
            "DROP TABLE audit_run_keys;
             DROP TABLE audit_runs;
             CREATE INDEX audit_entries_by_call ON audit_entries (company_id, call_id, seq);
             CREATE INDEX audit_entries_by_user ON audit_entries (company_id, user_id, seq);
             DELETE FROM schema_migrations WHERE version = 8;
             WITH RECURSIVE k(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM k WHERE i + 1 < 6000)
             INSERT INTO audit_entries (at, company_id, actor, action, call_id, user_id)
             SELECT 1800000000, {ACME}, 'cli', 'grant.add', 101 + i % 3, 1 + i % 4 FROM k;"
        ))
        .unwrap();
    }
    let store = SqliteStore::open(&path).await.unwrap();
    assert_eq!(store.applied_at_open(), vec![(8, "audit_runs")]);
    let filter = AuditFilter {
        company: Some(company(ACME)),
        call: Some(call(101)),
        ..AuditFilter::default()
    };
    let newest = |from: Option<u64>| AuditPage {
        order: AuditOrder::Newest,
        from,
        limit: 500,
    };
    let conn = Connection::open(&path).unwrap();
    let page = |entries: Vec<callaccess_domain::AuditEntry>| -> Vec<u64> {
        entries.iter().map(|e| e.seq).collect()
    };
    // Read from the tail alone.
    let expected = newest_of_call_101(&conn, 500);
    assert_eq!(
        page(store.audit(&filter, newest(None)).await.unwrap()),
        expected
    );

    // A commit, and the writer's upkeep after it puts the first entries in
    // a run; the pages read the same.
    store
        .add_share(&Origin::cli(), company(ACME), call(101), user(3))
        .await
        .unwrap();
    let runs = || -> i64 {
        conn.query_row("SELECT count(*) FROM audit_runs", [], |row| row.get(0))
            .unwrap()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while runs() == 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(runs(), 1, "one step after the commit");
    let expected = newest_of_call_101(&conn, 10_000);
    let mut seen = Vec::new();
    let mut from = None;
    loop {
        let got = page(store.audit(&filter, newest(from)).await.unwrap());
        let Some(last) = got.last() else { break };
        from = Some(*last);
        seen.extend(got);
    }
    assert_eq!(
        seen, expected,
        "every entry of the call, newest first, once"
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
