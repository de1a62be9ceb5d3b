//! `SharedRateBudget` on PostgreSQL: budgets live in the database, so two
//! stores (two nodes) on one database spend one budget between them; each
//! company and window has its own; time is the database's clock unless the
//! caller gives one.

use std::sync::Arc;
use std::time::Duration;

use callaccess_domain::contract::{company, world, ACME, GLOBEX};
use callaccess_domain::{RateWindow, SharedRateBudget};
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
            node.acquire(company(ACME), RateWindow::Second, HOUR, BURST, None)
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
            .acquire(company(ACME), RateWindow::Second, HOUR, BURST, None)
            .await
            .unwrap()
            .is_err());
    }
    // Another company's budget is untouched.
    assert_eq!(
        nodes[1]
            .acquire(company(GLOBEX), RateWindow::Second, HOUR, BURST, None)
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
    // One request per 500 ms, no burst beyond one: the second request at
    // once is refused with a wait of at most 500 ms, and admitted after it.
    // (At 50 ms, a loaded test server sometimes took longer than that
    // between the two requests, and the budget had refilled.)
    let emission = Duration::from_millis(500);
    let acquire = || store.acquire(company(ACME), RateWindow::Second, emission, 1, None);
    assert_eq!(acquire().await.unwrap(), Ok(()));
    let wait = acquire().await.unwrap().unwrap_err();
    assert!(wait <= emission, "{wait:?}");
    tokio::time::sleep(wait + Duration::from_millis(5)).await;
    assert_eq!(acquire().await.unwrap(), Ok(()));
}

#[tokio::test]
async fn budgets_are_kept_per_company_and_window() {
    let Some(db) = scratch().await else { return };
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    world(&store).await;
    // A budget of 3 that refills one per hour: the test cannot outlive it.
    let acquire = |c, window, burst| store.acquire(company(c), window, HOUR, burst, None);
    for _ in 0..3 {
        assert_eq!(acquire(ACME, RateWindow::Day, 3).await.unwrap(), Ok(()));
    }
    let wait = acquire(ACME, RateWindow::Day, 3)
        .await
        .unwrap()
        .unwrap_err();
    assert!(wait > Duration::from_secs(3500) && wait <= HOUR, "{wait:?}");
    // Another window and another company have budgets of their own.
    assert_eq!(acquire(ACME, RateWindow::Second, 1).await.unwrap(), Ok(()));
    assert!(acquire(ACME, RateWindow::Second, 1).await.unwrap().is_err());
    assert_eq!(acquire(GLOBEX, RateWindow::Day, 3).await.unwrap(), Ok(()));
}

#[tokio::test]
async fn a_budget_refills_when_the_given_time_moves_forward() {
    let Some(db) = scratch().await else { return };
    let store = connect(db.url(), PoolOptions::default()).await.unwrap();
    world(&store).await;
    // One request per second, a burst of 2, at moments the test gives (in
    // 2023, long before the database's clock): the waits are exact.
    let t0: i64 = 1_700_000_000_000_000;
    let second = Duration::from_secs(1);
    let acquire = |at| store.acquire(company(ACME), RateWindow::Second, second, 2, Some(at));
    assert_eq!(acquire(t0).await.unwrap(), Ok(()));
    assert_eq!(acquire(t0).await.unwrap(), Ok(()));
    assert_eq!(acquire(t0).await.unwrap(), Err(second));
    assert_eq!(
        acquire(t0 + 500_000).await.unwrap(),
        Err(Duration::from_millis(500))
    );
    // One second on, one request's worth has refilled, and no more.
    assert_eq!(acquire(t0 + 1_000_000).await.unwrap(), Ok(()));
    assert_eq!(acquire(t0 + 1_000_000).await.unwrap(), Err(second));
    // An hour on, the whole burst is back.
    let later = t0 + 3_600_000_000;
    assert_eq!(acquire(later).await.unwrap(), Ok(()));
    assert_eq!(acquire(later).await.unwrap(), Ok(()));
    assert_eq!(acquire(later).await.unwrap(), Err(second));
}
