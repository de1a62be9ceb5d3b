//! Crash safety under load: the real binary on an SQLite file, concurrent
//! multi-pair PUTs and DELETEs, `kill -9` at a random moment, restart on the
//! same file, and an exact check of what must have survived; many cycles.
//! The workload and the check are in [`crate::workload`]. A kill leaves the
//! operating system's page cache intact; `power_loss` cuts the power too.

use rand::Rng;

use crate::workload::{start, write_seed, Ledger, Load};

const CYCLES: usize = 24;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_kill_9_and_requests_are_all_or_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("crash.db");
    let seed = write_seed(dir.path());
    let mut ledger = Ledger::new();
    let mut rng = rand::rng();

    for cycle in 0..CYCLES {
        let server = start(&database, &seed, &[]).await;
        let load = Load::start(&server.base, &ledger, rng.random_range(20..=200));
        load.reached().await;
        server.kill().await;
        load.finish(&mut ledger).await;

        let violations = ledger.check(&database, cycle).await;
        assert!(violations.is_empty(), "{violations:#?}");
    }
    ledger.assert_exercised(CYCLES);
}
