//! What the contract suite cannot see of the PostgreSQL audit trail: the
//! table refuses changes to an entry, and a commit through one node wakes
//! a waiter on another, also after the waiter's listening connection was
//! cut, and also when the writing store closes right after its write.

use std::time::{Duration, Instant};

use callaccess_domain::contract::{call, company, user, world};
use callaccess_domain::{Origin, Store};
use callaccess_postgres::{connect, PoolOptions};
use tokio_postgres::NoTls;

use crate::scratch;

async fn raw(url: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

#[tokio::test]
async fn an_entry_cannot_be_changed_through_sql_but_can_be_deleted() {
    let Some(db) = scratch().await else { return };
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    world(&store).await;
    let client = raw(db.url()).await;
    let count = |sql: &'static str| {
        let client = &client;
        async move {
            let row = client.query_one(sql, &[]).await.unwrap();
            row.get::<_, i64>(0)
        }
    };
    let before = count("SELECT count(*) FROM audit_entries").await;
    assert!(before > 0);

    let refused = client
        .execute("UPDATE audit_entries SET actor = 'someone else'", &[])
        .await
        .unwrap_err();
    let db_error = refused.as_db_error().unwrap();
    assert_eq!(db_error.message(), "audit entries are never changed");
    let refused = client
        .execute(
            "UPDATE audit_entries SET after = NULL WHERE seq = (SELECT min(seq) FROM audit_entries)",
            &[],
        )
        .await;
    assert!(refused.is_err());
    assert_eq!(
        count("SELECT count(*) FROM audit_entries WHERE actor = 'cli'").await,
        before
    );

    // Retention and resets delete entries.
    let deleted = client
        .execute(
            "DELETE FROM audit_entries WHERE seq = (SELECT min(seq) FROM audit_entries)",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(deleted, 1);
    assert_eq!(
        count("SELECT count(*) FROM audit_entries").await,
        before - 1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_through_one_node_wakes_a_waiter_on_another_even_after_a_lost_connection() {
    let Some(db) = scratch().await else { return };
    let waiting = connect(db.url(), PoolOptions::default()).await.unwrap();
    let writing = connect(db.url(), PoolOptions::default()).await.unwrap();
    world(&writing).await;
    let last = last_seq(&waiting).await;

    let woken = |after: u64| {
        let waiting = &waiting;
        async move {
            let started = Instant::now();
            waiting
                .wait_for_changes(after, Duration::from_secs(30))
                .await
                .unwrap();
            started.elapsed()
        }
    };
    let share = |n: i64| {
        let writing = &writing;
        async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            writing
                .add_share(&Origin::cli(), company(1001), call(101), user(n))
                .await
                .unwrap();
        }
    };
    let (waited, ()) = tokio::join!(woken(last), share(2));
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(waiting.changes_after(last, 10).await.unwrap().len(), 1);

    // Cut every listening connection: the store connects again, catches up
    // on what it missed and wakes on the next commit.
    let client = raw(db.url()).await;
    let cut = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database()
                AND application_name = 'callaccess audit listener'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), 2, "one listener per store");
    let last = last_seq(&waiting).await;
    let (waited, ()) = tokio::join!(woken(last), share(3));
    assert!(waited < Duration::from_secs(10), "{waited:?}");
    assert_eq!(waiting.changes_after(last, 10).await.unwrap().len(), 1);
}

/// A process that writes and closes at once (the command line) has its
/// commit announced by `close`, even when its listening connection is
/// down and so cannot: the other node wakes well before its timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_that_closes_right_after_a_write_still_announces_it() {
    let Some(db) = scratch().await else { return };
    let waiting = connect(db.url(), PoolOptions::default()).await.unwrap();
    world(&waiting).await;
    let writing = connect(db.url(), PoolOptions::default()).await.unwrap();
    let last = last_seq(&waiting).await;
    let client = raw(db.url()).await;
    // The writing store's listener only: the one that connected last.
    let cut = client
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
              WHERE datname = current_database()
                AND application_name = 'callaccess audit listener'
              ORDER BY backend_start DESC LIMIT 1",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(cut.len(), 1);
    let started = Instant::now();
    let (woken, ()) = tokio::join!(
        async {
            waiting
                .wait_for_changes(last, Duration::from_secs(30))
                .await
                .unwrap();
            started.elapsed()
        },
        async {
            writing
                .add_share(&Origin::cli(), company(1001), call(101), user(2))
                .await
                .unwrap();
            writing.close().await.unwrap();
        }
    );
    assert!(woken < Duration::from_secs(10), "{woken:?}");
    assert_eq!(waiting.changes_after(last, 10).await.unwrap().len(), 1);
}

/// Taken by the tests that hold a drawn number open on purpose. Xids are
/// the cluster's, not a database's: while one such test keeps writer A
/// open, a wait for "every transaction before mine has ended" in any
/// other test's database waits for A as well, and may time out. Run one
/// at a time, each sees only its own writers.
static HOLDS_A_GAP: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn last_seq(store: &dyn Store) -> u64 {
    callaccess_domain::contract::audit::last_seq(store).await
}

/// The case a snapshot's list of running transactions misses: writer A
/// takes its xid after writer B, draws its number first, and is still
/// running when B has committed. A reader's snapshot then has its xmax at
/// B's xid plus one, below A's, so A is not in its list — yet A's number
/// is a gap that may still fill. The reader waits for A (here 300 ms) and
/// answers both entries; when A rolls back, B's alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn changes_after_waits_for_a_writer_above_the_snapshots_xmax() {
    let _one_at_a_time = HOLDS_A_GAP.lock().await;
    let Some(db) = scratch().await else { return };
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    for commit in [true, false] {
        let after = last_seq(&store).await;
        let (a, b) = (raw(db.url()).await, raw(db.url()).await);
        let xid = "SELECT pg_current_xact_id()::TEXT::BIGINT";
        let entry = "INSERT INTO audit_entries (seq, at, company_id, actor, action)
                     VALUES (nextval('audit_seq'), 0, 1, 'cli', 'share.add') RETURNING seq";
        b.batch_execute("BEGIN").await.unwrap();
        let b_xid: i64 = b.query_one(xid, &[]).await.unwrap().get(0);
        a.batch_execute("BEGIN").await.unwrap();
        let a_xid: i64 = a.query_one(xid, &[]).await.unwrap().get(0);
        assert!(a_xid > b_xid);
        let a_seq: i64 = a.query_one(entry, &[]).await.unwrap().get(0);
        let b_seq: i64 = b.query_one(entry, &[]).await.unwrap().get(0);
        assert!(a_seq < b_seq);
        b.batch_execute("COMMIT").await.unwrap();

        let end = if commit { "COMMIT" } else { "ROLLBACK" };
        let (read, ()) = tokio::join!(store.changes_after(after, 10), async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            a.batch_execute(end).await.unwrap();
        });
        let seqs: Vec<i64> = read
            .unwrap()
            .iter()
            .map(|e| i64::try_from(e.seq).unwrap())
            .collect();
        if commit {
            assert_eq!(seqs, vec![a_seq, b_seq], "A's entry is not skipped");
        } else {
            assert_eq!(seqs, vec![b_seq], "A's hole is passed once A is gone");
        }
    }
}

/// `settled_through` answers the newest entry only once no transaction
/// can still commit a number below it: with writer A holding a drawn
/// number open under B's committed one, it answers nothing (the tailer
/// then keeps reading the trail); once A has ended, B's number. A reader
/// that started from the answer then misses nothing A commits later, as
/// A can no longer commit at all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settled_through_waits_for_a_writer_holding_a_gap() {
    let _one_at_a_time = HOLDS_A_GAP.lock().await;
    let Some(db) = scratch().await else { return };
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    world(&store).await;
    let newest = last_seq(&store).await;
    assert_eq!(store.settled_through().await.unwrap(), Some(newest));

    let (a, b) = (raw(db.url()).await, raw(db.url()).await);
    let entry = "INSERT INTO audit_entries (seq, at, company_id, actor, action)
                 VALUES (nextval('audit_seq'), 0, 1, 'cli', 'share.add') RETURNING seq";
    a.batch_execute("BEGIN").await.unwrap();
    let a_seq: i64 = a.query_one(entry, &[]).await.unwrap().get(0);
    let b_seq: i64 = b.query_one(entry, &[]).await.unwrap().get(0);
    assert!(a_seq < b_seq);

    // A stays open past the wait: nothing can be said.
    assert_eq!(store.settled_through().await.unwrap(), None);

    // A commits while the store waits: B's number is settled, and A's
    // entry, below it, is already readable.
    let (settled, ()) = tokio::join!(store.settled_through(), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.batch_execute("COMMIT").await.unwrap();
    });
    let b_seq = u64::try_from(b_seq).unwrap();
    assert_eq!(settled.unwrap(), Some(b_seq));
    let read: Vec<u64> = store
        .changes_after(newest, 10)
        .await
        .unwrap()
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(read, vec![u64::try_from(a_seq).unwrap(), b_seq]);
}
