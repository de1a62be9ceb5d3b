//! Power loss, not just `kill -9`: a kill leaves the operating system's page
//! cache intact, so it cannot show that a 200 waited for fsync. Here the
//! database sits on `callaccess-testfs`, which keeps every write no fsync
//! has made durable in memory; a cycle runs the real binary under the
//! workload of [`crate::workload`], cuts the power at a random number of
//! acknowledged requests (the file system first, so nothing unsynced
//! reaches the disk, then `kill -9`), mounts the disk again and checks it
//! exactly: every acknowledged write is there, every request whole or
//! absent, and `PRAGMA integrity_check` says ok.
//!
//! A second test runs the same cycles on a binary told to acknowledge before
//! fsync (`CALLACCESS_TEST_ONLY_ACK_BEFORE_FSYNC=1`, compiled in only for
//! test builds) and requires the check to find acknowledged writes lost,
//! showing that the first test can tell.
//!
//! Both need FUSE (root and `/dev/fuse`); without it they fail, unless
//! `CALLACCESS_SKIP_FUSE=1`.

use std::time::Instant;

use rand::Rng;

use crate::server_process::cli_ok;
use crate::testfs::{folders, mount, remount};
use crate::workload::{start, write_seed, Ledger, Load};

const CYCLES: usize = 24;
const ACK_BEFORE_FSYNC_CYCLES: usize = 3;
const ACK_BEFORE_FSYNC: (&str, &str) = ("CALLACCESS_TEST_ONLY_ACK_BEFORE_FSYNC", "1");
const DATABASE: &str = "power.db";

/// What `cycles` power cuts left.
struct Outcome {
    ledger: Ledger,
    /// Every broken promise the checks found.
    violations: Vec<String>,
    /// Whether a server said it acknowledges before fsync.
    acked_before_fsync: bool,
}

/// Runs `cycles` power cuts under a server with `envs`; `None` when FUSE is
/// not to be had and the test is to be skipped.
async fn power_cuts(cycles: usize, envs: &[(&str, &str)]) -> Option<Outcome> {
    let dir = tempfile::tempdir().unwrap();
    let (backing, mountpoint) = folders(dir.path());
    let seed = write_seed(dir.path());
    // The seeded database is on the disk before the power ever goes.
    let on_disk = format!("sqlite:{}", backing.join(DATABASE).display());
    cli_ok(&["--database", &on_disk, "import", seed.to_str().unwrap()]).await;
    let mut fs = mount(&backing, &mountpoint)?;
    let database = mountpoint.join(DATABASE);
    let mut outcome = Outcome {
        ledger: Ledger::new(),
        violations: Vec::new(),
        acked_before_fsync: false,
    };
    let mut rng = rand::rng();

    for cycle in 0..cycles {
        let server = start(&database, &seed, envs).await;
        outcome.acked_before_fsync |= server
            .log
            .iter()
            .any(|line| line.contains(ACK_BEFORE_FSYNC.0));
        let load = Load::start(&server.base, &outcome.ledger, rng.random_range(20..=200));
        load.reached().await;
        load.crashing();
        fs.power_cut();
        server.kill().await;
        load.finish(&mut outcome.ledger).await;
        fs.unmount().unwrap();

        fs = remount(&backing, &mountpoint);
        let found = outcome.ledger.check(&database, cycle).await;
        outcome.violations.extend(found);
    }
    Some(outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_a_power_cut_and_requests_are_all_or_nothing() {
    let began = Instant::now();
    let Some(outcome) = power_cuts(CYCLES, &[]).await else {
        return;
    };
    let Outcome {
        ledger, violations, ..
    } = outcome;
    assert!(violations.is_empty(), "{violations:#?}");
    ledger.assert_exercised(CYCLES);
    println!(
        "{CYCLES} power cuts, {} acknowledged requests checked, {} in flight at a cut, in {:.1?}",
        ledger.acked,
        ledger.in_flight_at_crash,
        began.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_check_catches_a_store_that_acknowledges_before_fsync() {
    let Some(outcome) = power_cuts(ACK_BEFORE_FSYNC_CYCLES, &[ACK_BEFORE_FSYNC]).await else {
        return;
    };
    assert!(
        outcome.acked_before_fsync,
        "the server did not take up {}: was it built without the feature \
         test-unsafe-ack-before-fsync of callaccess-sqlite?",
        ACK_BEFORE_FSYNC.0
    );
    let lost = outcome
        .violations
        .iter()
        .filter(|v| v.contains("lost an acknowledged"))
        .count();
    // Every write since the import stays in memory and goes with the power,
    // so each cut undoes every group its cycle left flipped. At least 20
    // acknowledged flips over 32 groups per cycle leave none flipped in all
    // of them about never (each worker's flips would all have to pair up).
    assert!(
        lost > 0,
        "no acknowledged write was lost although none reached the disk: {:#?}",
        outcome.violations
    );
    println!(
        "acknowledging before fsync: {ACK_BEFORE_FSYNC_CYCLES} power cuts, {} acknowledged \
         requests, {lost} acknowledged group states lost, {} violations in all; first: {}",
        outcome.ledger.acked,
        outcome.violations.len(),
        outcome.violations[0]
    );
}
