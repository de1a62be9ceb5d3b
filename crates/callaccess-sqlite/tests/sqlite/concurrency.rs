use callaccess_domain::Origin;
use std::sync::Arc;

use callaccess_domain::contract::{change, company, grants};
use callaccess_domain::{
    Call, Caller, CallsAccess, NewCompany, RateLimit, Store, StoreError, User,
};

use crate::fresh;

const COMPANY: i64 = 42;
const USERS: i64 = 200;

/// 200 grants sent at once, with failing requests mixed in: every good one
/// is acknowledged and stored, every bad one is refused and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn many_concurrent_grants_are_all_acknowledged_and_stored() {
    let fixture = fresh().await;
    let c = company(COMPANY);
    fixture
        .create_company(&NewCompany {
            id: c,
            name: "Busy".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await
        .unwrap();
    for id in 1..=USERS {
        fixture
            .add_user(
                &Origin::cli(),
                &User {
                    calls_access: Some(CallsAccess::None),
                    ..User::new(c, contract_user(id), format!("u{id}@busy.test"))
                },
            )
            .await
            .unwrap();
    }
    for id in [1, 2] {
        fixture
            .add_call(
                &Origin::cli(),
                &Call::new(c, callaccess_domain::contract::call(id), contract_user(1)),
            )
            .await
            .unwrap();
    }

    let fixture = Arc::new(fixture);
    let mut tasks = Vec::new();
    for id in 1..=USERS {
        let store = Arc::clone(&fixture);
        // Each good request also names a user on call 2, so batches mix
        // calls; every tenth request names an unknown call or user too.
        tasks.push(tokio::spawn(async move {
            let result = match id % 10 {
                0 => {
                    store
                        .grant_access(
                            &Origin::cli(),
                            Caller::verified(c),
                            &change(&[(1, &[id]), (999, &[id])]),
                        )
                        .await
                }
                5 => {
                    store
                        .grant_access(
                            &Origin::cli(),
                            Caller::verified(c),
                            &change(&[(1, &[id]), (2, &[id + 1000])]),
                        )
                        .await
                }
                _ => {
                    store
                        .grant_access(
                            &Origin::cli(),
                            Caller::verified(c),
                            &change(&[(1, &[id]), (2, &[id])]),
                        )
                        .await
                }
            };
            (id, result)
        }));
    }

    let mut expected = Vec::new();
    for task in tasks {
        let (id, result) = task.await.unwrap();
        match id % 10 {
            0 => assert!(
                matches!(&result, Err(StoreError::CallsNotFound(calls)) if calls.len() == 1),
                "{result:?}"
            ),
            5 => assert!(
                matches!(&result, Err(StoreError::UsersNotFound(users)) if users.len() == 1),
                "{result:?}"
            ),
            _ => {
                result.unwrap();
                expected.push(id);
            }
        }
    }
    assert_eq!(expected.len(), 160);
    // One job per write: the setup's 203 and the 200 grants. How many
    // transactions carried them depends on timing, so it is only reported.
    let stats = fixture.write_stats();
    assert_eq!(stats.jobs, 403);
    eprintln!("{} jobs in {} transactions", stats.jobs, stats.batches);
    let listed = grants(&**fixture, COMPANY, &[1, 2]).await;
    assert_eq!(listed, vec![(1, expected.clone()), (2, expected)]);
}

fn contract_user(id: i64) -> callaccess_domain::UserId {
    callaccess_domain::contract::user(id)
}
