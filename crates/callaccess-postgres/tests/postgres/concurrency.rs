//! Conflicting requests from many tasks on two pools (two "nodes") on one
//! database: every one is acknowledged — serialization failures are retried
//! inside the store — and their effects are those of some serial order.

use callaccess_domain::Origin;
use std::sync::Arc;

use callaccess_domain::contract::{call, company, user};
use callaccess_domain::seed::Seed;
use callaccess_domain::{AccessChange, Caller, Store};
use callaccess_postgres::{connect, PoolOptions};

use crate::scratch;

const COMPANY: i64 = 7;
const CALL_A: i64 = 1;
const CALL_B: i64 = 2;
const USERS: i64 = 4;
const TASKS: usize = 8;
const OPS_PER_TASK: usize = 25;

/// Users 1 to USERS + 1 with profile none; calls A and B, whose primary
/// user is not one of the users that requests name.
async fn contended(store: &dyn Store) {
    let users: Vec<String> = (1..=USERS + 1)
        .map(|id| format!(r#"{{"id": "{id}", "emailAddress": "u{id}@contended.test"}}"#))
        .collect();
    let owner = USERS + 1;
    let seed = format!(
        r#"{{"companies": [{{"id": "{COMPANY}", "name": "Contended", "users": [{}],
            "calls": [{{"id": "{CALL_A}", "primaryUserId": "{owner}"}},
                      {{"id": "{CALL_B}", "primaryUserId": "{owner}"}}]}}]}}"#,
        users.join(", ")
    );
    store
        .apply_seed(&Origin::cli(), &Seed::parse(&seed).unwrap())
        .await
        .unwrap();
}

/// Every request grants or revokes (A, u) and (B, u) together for a random
/// set of users. If each request is applied whole and the requests serialize,
/// A and B always have the same grantees — in the end, and in every snapshot
/// a reader takes meanwhile. A torn or interleaved write shows up as a
/// difference.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn conflicting_grants_and_revokes_serialize_and_are_all_acknowledged() {
    let Some(db) = scratch().await else { return };
    let options = PoolOptions {
        max_connections: 4,
        ..PoolOptions::default()
    };
    let nodes = [
        Arc::new(connect(db.url(), options).await.unwrap()),
        Arc::new(connect(db.url(), options).await.unwrap()),
    ];
    let c = company(COMPANY);
    let caller = Caller::verified(c);
    let store = &nodes[0];
    contended(&**store).await;

    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let node = Arc::clone(&nodes[task % 2]);
        tasks.push(tokio::spawn(async move {
            let mut torn_reads = 0;
            for _ in 0..OPS_PER_TASK {
                let users: Vec<_> = (1..=USERS)
                    .filter(|_| rand::random::<bool>())
                    .map(user)
                    .collect();
                let change =
                    AccessChange::new([(call(CALL_A), users.clone()), (call(CALL_B), users)]);
                if rand::random::<bool>() {
                    node.grant_access(&Origin::cli(), caller, &change)
                        .await
                        .unwrap();
                } else {
                    node.revoke_access(&Origin::cli(), caller, &change)
                        .await
                        .unwrap();
                }
                let listed = node
                    .list_api_grants(caller, &[call(CALL_A), call(CALL_B)])
                    .await
                    .unwrap();
                if listed[0].users != listed[1].users {
                    torn_reads += 1;
                }
            }
            torn_reads
        }));
    }
    let mut torn_reads = 0;
    for task in tasks {
        torn_reads += task.await.unwrap();
    }
    assert_eq!(torn_reads, 0, "a reader saw half of a request");

    let listed = store
        .list_api_grants(caller, &[call(CALL_A), call(CALL_B)])
        .await
        .unwrap();
    assert_eq!(listed[0].users, listed[1].users, "{listed:?}");
    let conflicts: u64 = nodes.iter().map(|n| n.retry_stats().conflicts).sum();
    // Not asserted (it depends on timing), but worth seeing in the output.
    println!(
        "{} requests, {conflicts} transactions retried after a serialization failure or deadlock",
        TASKS * OPS_PER_TASK
    );
}

/// Writers on three stores ("nodes") of one database, and slow ones that
/// hold a drawn number for a while before committing (or rolling back),
/// commit audit entries out of their numbers' order; a reader on the first follows them with
/// `changes_after` from the last number it delivered — and now and then
/// drops the rest of a page, as a stream that disconnected would, and
/// resumes from the last one it did deliver. It sees every entry exactly
/// once, in sequence order, and what it saw is the whole table.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reader_following_changes_after_sees_every_entry_once_in_order() {
    use callaccess_domain::audit::{AuditEntry, AuditFilter, AuditOrder, AuditPage, MAX_PAGE};
    use callaccess_domain::contract::{change, company as company_id};
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    const WRITERS: usize = 9;
    const WRITES: usize = 30;
    let Some(db) = scratch().await else { return };
    let options = PoolOptions {
        max_connections: 4,
        ..PoolOptions::default()
    };
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(connect(db.url(), options).await.unwrap()));
    }
    contended(&*nodes[0]).await;
    let caller = Caller::verified(company_id(COMPANY));

    let done = Arc::new(AtomicBool::new(false));
    let reader = {
        let store = Arc::clone(&nodes[0]);
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            let mut delivered: Vec<AuditEntry> = Vec::new();
            let mut from = 0;
            let mut disconnects = 0;
            loop {
                let finished = done.load(Ordering::Acquire);
                let limit = rand::random_range(1..=20);
                let page = store.changes_after(from, limit).await.unwrap();
                assert!(page.len() <= limit);
                for pair in page.windows(2) {
                    assert!(pair[0].seq < pair[1].seq, "out of order: {page:#?}");
                }
                if page.is_empty() {
                    if finished {
                        return (delivered, disconnects);
                    }
                    store
                        .wait_for_changes(from, Duration::from_millis(50))
                        .await
                        .unwrap();
                    continue;
                }
                assert!(page[0].seq > from, "{} repeats {from}", page[0].seq);
                // A stream that drops what it had not sent yet resumes from
                // the last entry it did send.
                let kept = if rand::random_range(0..5) == 0 {
                    disconnects += 1;
                    rand::random_range(0..=page.len())
                } else {
                    page.len()
                };
                delivered.extend(page.into_iter().take(kept));
                from = delivered.last().map_or(0, |e| e.seq);
            }
        })
    };

    let mut writers = Vec::new();
    for task in 0..WRITERS {
        let node = Arc::clone(&nodes[task % 3]);
        writers.push(tokio::spawn(async move {
            for _ in 0..WRITES {
                let users: Vec<i64> = (1..=USERS).filter(|_| rand::random::<bool>()).collect();
                let pairs = change(&[(CALL_A, &users), (CALL_B, &users)]);
                let origin = Origin::cli();
                if rand::random::<bool>() {
                    node.grant_access(&origin, caller, &pairs).await.unwrap();
                } else {
                    node.revoke_access(&origin, caller, &pairs).await.unwrap();
                }
            }
        }));
    }
    // Slow nodes: each draws a number the way the store's writers do (its
    // xid first), then takes a while before it commits — or rolls back,
    // leaving a hole for good — while the others commit higher numbers.
    for _ in 0..3 {
        let url = db.url().to_owned();
        writers.push(tokio::spawn(async move {
            let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
                .await
                .unwrap();
            let driver = tokio::spawn(connection);
            for _ in 0..WRITES / 2 {
                client
                    .batch_execute(
                        "BEGIN;
                         SELECT pg_current_xact_id();
                         INSERT INTO audit_entries (seq, at, company_id, actor, action)
                         VALUES (nextval('audit_seq'), 0, 7, 'cli', 'share.add')",
                    )
                    .await
                    .unwrap();
                tokio::time::sleep(Duration::from_millis(rand::random_range(0..30))).await;
                let end = if rand::random_range(0..4) == 0 {
                    "ROLLBACK"
                } else {
                    "COMMIT"
                };
                client.batch_execute(end).await.unwrap();
            }
            drop(client);
            let _ = driver.await;
        }));
    }
    for writer in writers {
        writer.await.unwrap();
    }
    done.store(true, Ordering::Release);
    let (delivered, disconnects) = reader.await.unwrap();

    let mut table = Vec::new();
    let mut from = None;
    loop {
        let page = nodes[2]
            .audit(
                &AuditFilter::default(),
                AuditPage {
                    order: AuditOrder::Oldest,
                    from,
                    limit: MAX_PAGE,
                },
            )
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        from = Some(last.seq);
        table.extend(page);
    }
    assert!(table.len() > WRITERS, "{} entries", table.len());
    assert_eq!(delivered.len(), table.len(), "every entry once");
    assert_eq!(delivered, table);
    let holes = table
        .windows(2)
        .filter(|pair| pair[1].seq != pair[0].seq + 1)
        .count();
    // Not asserted (timing), but worth seeing: holes are numbers drawn by
    // transactions that were retried.
    println!(
        "{} entries, {holes} holes in the numbers, {disconnects} disconnects",
        table.len()
    );
}
