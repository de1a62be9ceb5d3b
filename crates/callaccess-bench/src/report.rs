//! The results: one row per scenario, printed as a markdown table or JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::attack::Pressure;
use crate::load::{Measured, Scenario};
use crate::metrics::{self, Snapshot};
use crate::pgbench;

/// Facts about the store and the server outside the scenarios.
#[derive(Debug, Default, Serialize)]
pub struct StoreInfo {
    /// `callaccess import` of the seed (users, calls, key).
    pub seed_seconds: Option<f64>,
    /// First start, on the freshly seeded store.
    pub first_startup_ms: Option<f64>,
    /// Storing the preloaded grants through the API.
    pub preload_seconds: Option<f64>,
    /// Store size once the grants were stored: the SQLite file and its
    /// log, or the PostgreSQL database.
    pub store_bytes: Option<u64>,
    /// Second start, on the store holding the preloaded grants: from spawn
    /// to the "listening on" line.
    pub restart_ms: Option<f64>,
    /// Server memory right after that start.
    pub idle_rss: Option<u64>,
    /// Database and log size after the scenarios.
    pub store_bytes_after: Option<u64>,
    /// SQLite's log file size when the server was killed during 1,000-pair
    /// PUTs (none on PostgreSQL, whose log is the server's).
    pub wal_bytes_at_crash: Option<u64>,
    /// Start after that kill (the log is recovered): spawn to "listening".
    pub crash_restart_ms: Option<f64>,
    /// One client paging through every user with `GET /v2/users`, once per
    /// pass: the pages and each pass's time, in seconds.
    pub user_pages: Option<u64>,
    pub user_pass_seconds: Vec<f64>,
}

#[derive(Debug, Serialize)]
pub struct Row {
    pub scenario: &'static str,
    pub label: &'static str,
    pub requests: u64,
    pub errors: u64,
    pub requests_per_second: f64,
    pub pairs_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    /// Highest server RSS sampled during the scenario.
    pub server_rss_bytes: Option<u64>,
    /// Requests per second over those of (a), when (a) ran first.
    pub ratio_to_ceiling: Option<f64>,
    /// Requests per write transaction during the scenario (group commit at
    /// work), from the server's /metrics.
    pub jobs_per_commit: Option<f64>,
    /// Write transactions (and so fsyncs) per second.
    pub commits_per_second: Option<f64>,
    /// Mean time of one write transaction including its fsync.
    pub mean_commit_ms: Option<f64>,
    /// Server CPU time (user and system) per request in the measured
    /// window, in microseconds.
    pub server_cpu_us: Option<f64>,
    /// The benchmark's own CPU time per request, in microseconds.
    pub client_cpu_us: Option<f64>,
    /// Round trips to the database per request, from the store's counters
    /// in /metrics (PostgreSQL); `None` where the server has none.
    pub round_trips_per_request: Option<f64>,
    /// Statements sent to the database per request, likewise.
    pub statements_per_request: Option<f64>,
    /// Round trips per request of each store operation that made any.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub round_trips_by_operation: BTreeMap<String, f64>,
    /// DELETE requests that named random, probably already removed, pairs
    /// because every pair the benchmark had granted was gone (see `load`).
    pub random_deletes: u64,
}

fn millis(histogram: &hdrhistogram::Histogram<u64>, quantile: f64) -> f64 {
    histogram.value_at_quantile(quantile) as f64 / 1000.0
}

impl Row {
    pub fn new(
        scenario: Scenario,
        measured: &Measured,
        rss: Option<u64>,
        ceiling: Option<f64>,
        random_deletes: u64,
        metrics: Option<(&Snapshot, &Snapshot)>,
        cpu_seconds: (Option<f64>, Option<f64>),
    ) -> Self {
        let per_request = |cpu: Option<f64>| {
            cpu.filter(|_| measured.requests > 0)
                .map(|s| s * 1e6 / measured.requests as f64)
        };
        let seconds = measured.elapsed.as_secs_f64();
        let requests_per_second = measured.requests as f64 / seconds;
        let writer = metrics.map(|(before, after)| (before.writer_totals(), after.writer_totals()));
        let (jobs_per_commit, commits_per_second, mean_commit_ms) = match writer {
            Some((before, after)) if after.commits > before.commits => {
                let commits = after.commits - before.commits;
                (
                    Some((after.jobs - before.jobs) / commits),
                    // The totals include the warm-up; close enough for a
                    // rate only shown to compare modes.
                    Some(commits / seconds),
                    Some((after.commit_seconds - before.commit_seconds) / commits * 1000.0),
                )
            }
            _ => (None, None, None),
        };
        let cost = metrics
            .map(|(before, after)| metrics::store_cost(before, after, measured.requests))
            .unwrap_or_default();
        Self {
            scenario: scenario.name(),
            label: scenario.label(),
            requests: measured.requests,
            errors: measured.errors,
            requests_per_second,
            pairs_per_second: measured.pairs as f64 / seconds,
            p50_ms: millis(&measured.latency, 0.5),
            p99_ms: millis(&measured.latency, 0.99),
            p999_ms: millis(&measured.latency, 0.999),
            server_rss_bytes: rss.filter(|&bytes| bytes > 0),
            ratio_to_ceiling: ceiling
                .filter(|&c| c > 0.0 && scenario != Scenario::Healthz)
                .map(|c| requests_per_second / c),
            jobs_per_commit,
            commits_per_second,
            mean_commit_ms,
            server_cpu_us: per_request(cpu_seconds.0),
            client_cpu_us: per_request(cpu_seconds.1),
            round_trips_per_request: cost.round_trips,
            statements_per_request: cost.statements,
            round_trips_by_operation: cost.round_trips_by_operation,
            random_deletes,
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// Which store the server ran on ("SQLite …", "PostgreSQL 15.20 on …",
    /// or a running server at --url).
    pub backend: String,
    pub connections: usize,
    pub duration_seconds: f64,
    pub users: u64,
    pub calls: u64,
    pub grants: u64,
    pub path_mode: &'static str,
    pub store: StoreInfo,
    pub rows: Vec<Row>,
    /// The attack scenario, when it ran.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pressure: Option<Pressure>,
    /// pgbench on the same PostgreSQL server, when the run was on one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pgbench: Option<pgbench::Outcome>,
    /// The callaccess rates over pgbench's, when pgbench ran.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pgbench_ratios: Vec<Ratio>,
}

/// One callaccess scenario's rate over one pgbench mode's.
#[derive(Debug, Serialize)]
pub struct Ratio {
    pub scenario: &'static str,
    pub label: &'static str,
    pub requests_per_second: Option<f64>,
    /// The pgbench option, `-S` or `-N`.
    pub pgbench: &'static str,
    /// What its transactions are.
    pub pgbench_transaction: &'static str,
    pub pgbench_tps: f64,
    pub ratio: Option<f64>,
}

/// The comparisons: POST 1 call with `pgbench -S`, PUT 1 pair with
/// `pgbench -N`.
pub fn pgbench_ratios(rows: &[Row], pgbench: Option<&pgbench::Outcome>) -> Vec<Ratio> {
    let Some(pgbench::Outcome::Ran(baseline)) = pgbench else {
        return Vec::new();
    };
    [
        (
            Scenario::Post1,
            "-S",
            "select only",
            baseline.select_only_tps,
        ),
        (
            Scenario::Put1,
            "-N",
            "simple update",
            baseline.simple_update_tps,
        ),
    ]
    .into_iter()
    .map(|(scenario, mode, transaction, tps)| {
        let rate = rows
            .iter()
            .find(|row| row.scenario == scenario.name())
            .map(|row| row.requests_per_second);
        Ratio {
            scenario: scenario.name(),
            label: scenario.label(),
            requests_per_second: rate,
            pgbench: mode,
            pgbench_transaction: transaction,
            pgbench_tps: tps,
            ratio: rate.filter(|_| tps > 0.0).map(|r| r / tps),
        }
    })
    .collect()
}

fn mib(bytes: u64) -> String {
    format!("{:.0}", bytes as f64 / (1024.0 * 1024.0))
}

fn or_dash(value: Option<String>) -> String {
    value.unwrap_or_else(|| "–".to_owned())
}

impl Report {
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{}: {} connections, {:.0} s per scenario, {} users, {} calls, {} grants preloaded, {}",
            self.backend,
            self.connections,
            self.duration_seconds,
            self.users,
            self.calls,
            self.grants,
            self.path_mode
        );
        let s = &self.store;
        let mut facts = Vec::new();
        if let Some(v) = s.seed_seconds {
            facts.push(format!("seed import {v:.1} s"));
        }
        if let Some(v) = s.first_startup_ms {
            facts.push(format!("first start {v:.0} ms"));
        }
        if let Some(v) = s.preload_seconds {
            facts.push(format!("preload {v:.1} s"));
        }
        if let Some(v) = s.store_bytes {
            facts.push(format!("store {} MiB", mib(v)));
        }
        if let Some(v) = s.restart_ms {
            facts.push(format!("start on loaded store {v:.0} ms"));
        }
        if let Some(v) = s.idle_rss {
            facts.push(format!("idle RSS {} MiB", mib(v)));
        }
        if let Some(v) = s.store_bytes_after {
            facts.push(format!("store after the run {} MiB", mib(v)));
        }
        match (s.crash_restart_ms, s.wal_bytes_at_crash) {
            (Some(ms), Some(wal)) => facts.push(format!(
                "start after kill -9 under load {ms:.0} ms (log {} MiB)",
                mib(wal)
            )),
            (Some(ms), None) => facts.push(format!("start after kill -9 under load {ms:.0} ms")),
            _ => {}
        }
        if let (Some(pages), false) = (s.user_pages, s.user_pass_seconds.is_empty()) {
            let passes: Vec<String> = s
                .user_pass_seconds
                .iter()
                .map(|t| format!("{t:.2} s"))
                .collect();
            facts.push(format!(
                "paging through all {} users with GET /v2/users ({pages} pages, one client): {}",
                self.users,
                passes.join(", ")
            ));
        }
        if !facts.is_empty() {
            let _ = writeln!(out, "{}", facts.join(", "));
        }
        out.push('\n');
        out.push_str("| scenario | req/s | pairs/s | p50 ms | p99 ms | p99.9 ms | server RSS MiB | × (a) | server CPU µs/req | client CPU µs/req | jobs/commit | commits/s | round trips / request | statements / request | errors |\n");
        out.push_str(
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
        );
        for row in &self.rows {
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.2} | {:.2} | {:.2} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                row.label,
                row.requests_per_second,
                row.pairs_per_second,
                row.p50_ms,
                row.p99_ms,
                row.p999_ms,
                or_dash(row.server_rss_bytes.map(mib)),
                or_dash(row.ratio_to_ceiling.map(|r| format!("{r:.2}"))),
                or_dash(row.server_cpu_us.map(|c| format!("{c:.1}"))),
                or_dash(row.client_cpu_us.map(|c| format!("{c:.1}"))),
                or_dash(row.jobs_per_commit.map(|j| format!("{j:.1}"))),
                or_dash(row.commits_per_second.map(|c| format!("{c:.0}"))),
                or_dash(row.round_trips_per_request.map(|r| format!("{r:.2}"))),
                or_dash(row.statements_per_request.map(|s| format!("{s:.2}"))),
                row.errors
            );
        }
        let by_operation: Vec<String> = self
            .rows
            .iter()
            .filter(|row| !row.round_trips_by_operation.is_empty())
            .map(|row| {
                let operations: Vec<String> = row
                    .round_trips_by_operation
                    .iter()
                    .map(|(operation, per)| format!("{operation} {per:.2}"))
                    .collect();
                format!("{}: {}", row.label, operations.join(", "))
            })
            .collect();
        if !by_operation.is_empty() {
            let _ = writeln!(
                out,
                "\nRound trips per request by store operation (the warm-up included): {}.",
                by_operation.join("; ")
            );
        }
        let rate = |name: &str| {
            self.rows
                .iter()
                .find(|row| row.scenario == name)
                .map(|row| row.requests_per_second)
        };
        if let (Some(hierarchy), Some(flat)) = (rate("put1-hier"), rate("put1-flat")) {
            if flat > 0.0 {
                let _ = writeln!(
                    out,
                    "\nPUT for a report-to-them user over PUT for a flat one: {:.2}×.",
                    hierarchy / flat
                );
            }
        }
        for row in self.rows.iter().filter(|r| r.random_deletes > 0) {
            let _ = writeln!(
                out,
                "\n{}: {} requests (with the warm-up) ran out of granted pairs and named random ones, mostly gone already.",
                row.label, row.random_deletes
            );
        }
        if let Some(pressure) = &self.pressure {
            out.push('\n');
            out.push_str(&pressure_markdown(pressure));
        }
        if let Some(outcome) = &self.pgbench {
            out.push('\n');
            out.push_str(&pgbench_markdown(outcome, &self.pgbench_ratios));
        }
        out
    }
}

/// pgbench's rates on the same server and the callaccess rates over them.
fn pgbench_markdown(outcome: &pgbench::Outcome, ratios: &[Ratio]) -> String {
    let mut out = String::new();
    let baseline = match outcome {
        pgbench::Outcome::Ran(baseline) => baseline,
        pgbench::Outcome::Missing { looked_in } => {
            let _ = writeln!(
                out,
                "pgbench: not found (looked in {looked_in}); no ratios to PostgreSQL's own rates."
            );
            return out;
        }
        pgbench::Outcome::Failed { error } => {
            let _ = writeln!(out, "pgbench failed, so no ratios: {error}");
            return out;
        }
    };
    let _ = writeln!(
        out,
        "{} on the same server, in a scratch database of its own after the scenarios (callaccess stopped): scale {}, {} clients, {} threads, {:.0} s each",
        baseline.version,
        baseline.scale,
        baseline.clients,
        baseline.threads,
        baseline.duration_seconds
    );
    out.push('\n');
    out.push_str("| callaccess | req/s | pgbench | tps | callaccess / pgbench |\n");
    out.push_str("|---|---:|---|---:|---:|\n");
    for ratio in ratios {
        let _ = writeln!(
            out,
            "| {} | {} | `pgbench {}` ({}) | {:.0} | {} |",
            ratio.label,
            or_dash(ratio.requests_per_second.map(|r| format!("{r:.0}"))),
            ratio.pgbench,
            ratio.pgbench_transaction,
            ratio.pgbench_tps,
            or_dash(ratio.ratio.map(|r| format!("{r:.2}")))
        );
    }
    out
}

/// The attack scenario's table: fresh requests (a new connection each,
/// from 127.0.0.2) while one address holds the attacker connections.
pub fn pressure_markdown(p: &Pressure) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "(g) fresh requests under connection pressure: --max-connections {}, {} attacker connections from 127.0.0.1 (half trickling headers, half idle), {:.0} s, a new connection per request, timeout {} s",
        p.max_connections,
        p.attackers,
        p.duration_seconds,
        crate::attack::BOUND.as_secs()
    );
    out.push('\n');
    out.push_str(
        "| answered | p50 ms | p99 ms | max ms | timeouts | errors | attacker reconnects |\n",
    );
    out.push_str("|---:|---:|---:|---:|---:|---:|---:|\n");
    // With nothing answered there is no latency to show.
    let ms = |v: f64| or_dash((p.answered > 0).then(|| format!("{v:.2}")));
    let _ = writeln!(
        out,
        "| {} | {} | {} | {} | {} | {} | {} |",
        p.answered,
        ms(p.p50_ms),
        ms(p.p99_ms),
        ms(p.max_ms),
        p.timeouts,
        p.errors,
        p.attacker_reconnects
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_pgbench_is_said_and_gives_no_ratios() {
        let missing = pgbench::Outcome::Missing {
            looked_in: "PATH".to_owned(),
        };
        assert!(pgbench_ratios(&[], Some(&missing)).is_empty());
        let text = pgbench_markdown(&missing, &[]);
        assert!(
            text.contains("pgbench: not found (looked in PATH)"),
            "{text}"
        );
        assert!(!text.contains('|'), "{text}");
    }

    #[test]
    fn ratios_compare_post_with_select_and_put_with_update() {
        let baseline = pgbench::Outcome::Ran(pgbench::Baseline {
            version: "pgbench (PostgreSQL) 15.20".to_owned(),
            scale: 10,
            clients: 16,
            threads: 2,
            duration_seconds: 8.0,
            select_only_tps: 40_000.0,
            simple_update_tps: 5_000.0,
        });
        // No rows ran: the rates are unknown, pgbench's still shown.
        let ratios = pgbench_ratios(&[], Some(&baseline));
        assert_eq!(ratios.len(), 2);
        assert_eq!(
            (ratios[0].scenario, ratios[0].pgbench),
            (Scenario::Post1.name(), "-S")
        );
        assert_eq!(
            (ratios[1].scenario, ratios[1].pgbench),
            (Scenario::Put1.name(), "-N")
        );
        assert!(ratios.iter().all(|r| r.ratio.is_none()));
        let text = pgbench_markdown(&baseline, &ratios);
        assert!(
            text.contains("| (d) POST 1 call | – | `pgbench -S` (select only) | 40000 | – |"),
            "{text}"
        );
    }
}
