//! Conflicting requests from many tasks on two pools (two "nodes") on one
//! database: every one is acknowledged — serialization failures are retried
//! inside the store — and their effects are those of some serial order.

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
    // Users 1 to USERS + 1 with profile none; calls A and B, whose primary
    // user is not one of the users that requests name.
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
        .apply_seed(&Seed::parse(&seed).unwrap())
        .await
        .unwrap();

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
                    node.grant_access(caller, &change).await.unwrap();
                } else {
                    node.revoke_access(caller, &change).await.unwrap();
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
