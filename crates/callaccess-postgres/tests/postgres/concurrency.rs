//! Conflicting requests from many tasks on two pools (two "nodes") on one
//! database: every one is acknowledged — serialization failures are retried
//! inside the store — and their effects are those of some serial order.

use std::sync::Arc;

use callaccess_domain::contract::{call, company, user};
use callaccess_domain::{AccessChange, Call, CallsAccess, NewCompany, RateLimit, Store, User};
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
    let store = &nodes[0];
    store
        .create_company(&NewCompany {
            id: c,
            name: "Contended".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await
        .unwrap();
    for id in 1..=USERS + 1 {
        store
            .add_user(&User {
                company: c,
                id: user(id),
                email_address: format!("u{id}@contended.test"),
                calls_access: CallsAccess::None,
            })
            .await
            .unwrap();
    }
    for id in [CALL_A, CALL_B] {
        store
            .add_call(&Call {
                company: c,
                id: call(id),
                title: None,
                // Not one of the users that requests name.
                primary_user_id: user(USERS + 1),
                participant_ids: vec![],
            })
            .await
            .unwrap();
    }

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
                    node.grant_access(c, &change).await.unwrap();
                } else {
                    node.revoke_access(c, &change).await.unwrap();
                }
                let listed = node
                    .list_api_grants(c, &[call(CALL_A), call(CALL_B)])
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
        .list_api_grants(c, &[call(CALL_A), call(CALL_B)])
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
