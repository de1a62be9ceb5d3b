//! Rate budgets live in the database, so two stores (two nodes) on one
//! database spend one budget between them.

use std::sync::Arc;
use std::time::Duration;

use callaccess_domain::contract::{company, world, ACME, GLOBEX};
use callaccess_domain::{RateWindow, Store};
use callaccess_postgres::{connect, PoolOptions};

use crate::scratch;

/// A budget that refills one request per hour: nothing refills while the
/// test runs, so the count of admissions is exact.
const HOUR: Duration = Duration::from_secs(3600);
const BURST: u32 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_stores_share_one_budget_under_concurrent_requests() {
    let Some(db) = scratch().await else { return };
    let nodes = [
        Arc::new(connect(db.url(), PoolOptions::default()).await.unwrap()),
        Arc::new(connect(db.url(), PoolOptions::default()).await.unwrap()),
    ];
    world(nodes[0].as_ref()).await;

    // Three times the budget, at once, half through each store.
    let mut attempts = Vec::new();
    for n in 0..3 * BURST as usize {
        let node = Arc::clone(&nodes[n % 2]);
        attempts.push(tokio::spawn(async move {
            node.rate_acquire(company(ACME), RateWindow::Second, HOUR, BURST)
                .await
                .unwrap()
        }));
    }
    let mut admitted = 0;
    let mut waits = Vec::new();
    for attempt in attempts {
        match attempt.await.unwrap() {
            Ok(()) => admitted += 1,
            Err(wait) => waits.push(wait),
        }
    }
    assert_eq!(admitted, BURST, "the budget is one, not one per store");
    assert!(
        waits.iter().all(|w| *w > Duration::ZERO && *w <= HOUR),
        "{waits:?}"
    );

    // Each store sees the budget the other spent.
    for node in &nodes {
        assert!(node
            .rate_acquire(company(ACME), RateWindow::Second, HOUR, BURST)
            .await
            .unwrap()
            .is_err());
    }
    // Another company's budget is untouched.
    assert_eq!(
        nodes[1]
            .rate_acquire(company(GLOBEX), RateWindow::Second, HOUR, BURST)
            .await
            .unwrap(),
        Ok(())
    );
}

#[tokio::test]
async fn a_budget_refills_on_the_database_clock() {
    let Some(db) = scratch().await else { return };
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    world(&store).await;
    // One request per 50 ms, no burst beyond one: the second request at
    // once is refused with a wait of at most 50 ms, and admitted after it.
    let emission = Duration::from_millis(50);
    let acquire = || store.rate_acquire(company(ACME), RateWindow::Second, emission, 1);
    assert_eq!(acquire().await.unwrap(), Ok(()));
    let wait = acquire().await.unwrap().unwrap_err();
    assert!(wait <= emission, "{wait:?}");
    tokio::time::sleep(wait + Duration::from_millis(5)).await;
    assert_eq!(acquire().await.unwrap(), Ok(()));
}
