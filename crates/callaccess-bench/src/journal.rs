//! The request journal's cost (`--journal-rounds N`): PUT 1 pair and POST
//! 1 call with the journal off (`--journal-size 0`) and on (the default,
//! 10,000 entries), on the run's own loaded store, in N rounds whose order
//! alternates (off, on, then on, off, …). The store grows as it runs (each
//! PUT adds a grant, which later POSTs list), so a fixed order would
//! always give the later side the bigger store; alternating, and with an
//! even N, that drift and the drift of a shared machine fall on both sides
//! alike. Each block restarts the server with its setting; the table shows
//! every figure, the on/off ratio of the summed rates (target ≥ 0.95,
//! docs/PERFORMANCE.md) and of the server's CPU per request.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::load::{self, Cursors, Scenario, Target};
use crate::server::{self, Server};
use crate::Owned;

/// The journal size the server runs with when "on": its default.
pub const ON_SIZE: usize = 10_000;

/// One measured scenario of one round.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub round: usize,
    pub journal_size: usize,
    pub scenario: &'static str,
    pub requests_per_second: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    /// The server's CPU time per request over the measured window: far
    /// steadier than the rate on a machine shared with other work.
    pub server_cpu_us: Option<f64>,
    pub errors: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Comparison {
    pub figures: Vec<Figure>,
}

/// How long each measured scenario runs, on how many connections.
pub struct Settings {
    pub rounds: usize,
    pub connections: usize,
    pub warmup: Duration,
    pub duration: Duration,
}

const SCENARIOS: [Scenario; 2] = [Scenario::Put1, Scenario::Post1];

/// Restarts `own`'s server with the journal off, then on, `rounds` times,
/// measuring PUT 1 and POST 1 each time; hands back the server running
/// with the default setting and the target pointing at it.
pub async fn compare(
    mut own: Owned,
    mut target: Arc<Target>,
    cursors: &Arc<Cursors>,
    settings: &Settings,
) -> anyhow::Result<(Owned, Arc<Target>, Comparison)> {
    let mut figures = Vec::new();
    for round in 1..=settings.rounds {
        let order = if round % 2 == 1 {
            [0, ON_SIZE]
        } else {
            [ON_SIZE, 0]
        };
        for size in order {
            eprintln!("journal round {round}: --journal-size {size}");
            let (moved, address) = restart(own, size)?;
            own = moved;
            let mut retargeted = (*target).clone();
            retargeted.address = address;
            target = Arc::new(retargeted);
            let pid = own.server.pid();
            for scenario in SCENARIOS {
                let warmup = settings.warmup;
                let cpu_start = tokio::spawn(async move {
                    tokio::time::sleep(warmup).await;
                    server::cpu_seconds(pid)
                });
                let measured = load::run(
                    scenario,
                    &target,
                    cursors,
                    settings.connections,
                    settings.warmup,
                    settings.duration,
                )
                .await?;
                let cpu_end = server::cpu_seconds(pid);
                let cpu_start = cpu_start.await.unwrap_or(None);
                let server_cpu_us = cpu_start
                    .zip(cpu_end)
                    .filter(|_| measured.requests > 0)
                    .map(|(a, b)| (b - a) * 1e6 / measured.requests as f64);
                for sample in &measured.error_samples {
                    eprintln!("  error: {sample}");
                }
                let ms = |q: f64| measured.latency.value_at_quantile(q) as f64 / 1000.0;
                figures.push(Figure {
                    round,
                    journal_size: size,
                    scenario: scenario.name(),
                    requests_per_second: measured.requests as f64 / measured.elapsed.as_secs_f64(),
                    p50_ms: ms(0.5),
                    p99_ms: ms(0.99),
                    server_cpu_us,
                    errors: measured.errors,
                });
            }
        }
    }
    // Back to the default, as the rest of the run expects.
    let (own, address) = restart(own, ON_SIZE)?;
    let mut retargeted = (*target).clone();
    retargeted.address = address;
    Ok((own, Arc::new(retargeted), Comparison { figures }))
}

/// Stops the server and starts it again on the same store with
/// `--journal-size size`; the new address.
fn restart(own: Owned, size: usize) -> anyhow::Result<(Owned, String)> {
    let Owned {
        binary,
        server,
        max_batch,
        store,
        _dir,
    } = own;
    server.stop()?;
    let extra = ["--journal-size".to_owned(), size.to_string()];
    let server = Server::start_with_args(&binary, &store.store, max_batch, None, &extra)
        .context("restarting the server for the journal comparison")?;
    let address = server.address.clone();
    Ok((
        Owned {
            binary,
            server,
            max_batch,
            store,
            _dir,
        },
        address,
    ))
}

impl Comparison {
    /// Summed rate with the journal on over off, for one scenario.
    pub fn ratio(&self, scenario: &str) -> Option<f64> {
        let sum = |size: usize| -> f64 {
            self.figures
                .iter()
                .filter(|f| f.scenario == scenario && f.journal_size == size)
                .map(|f| f.requests_per_second)
                .sum()
        };
        let off = sum(0);
        (off > 0.0).then(|| sum(ON_SIZE) / off)
    }

    /// Mean server CPU per request with the journal on over off, for one
    /// scenario (above 1: the journal costs CPU).
    pub fn cpu_ratio(&self, scenario: &str) -> Option<f64> {
        let mean = |size: usize| -> Option<f64> {
            let values: Vec<f64> = self
                .figures
                .iter()
                .filter(|f| f.scenario == scenario && f.journal_size == size)
                .filter_map(|f| f.server_cpu_us)
                .collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let (off, on) = (mean(0)?, mean(ON_SIZE)?);
        (off > 0.0).then(|| on / off)
    }

    pub fn healthy(&self) -> bool {
        self.figures
            .iter()
            .all(|f| f.errors == 0 && f.requests_per_second > 0.0)
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        out.push_str("\n### Request journal: on (10,000) vs off, rounds in alternating order\n\n");
        out.push_str(
            "| round | journal | scenario | req/s | p50 ms | p99 ms | server CPU µs/req | errors |\n",
        );
        out.push_str("|---:|---|---|---:|---:|---:|---:|---:|\n");
        for f in &self.figures {
            let journal = if f.journal_size == 0 {
                "off".to_owned()
            } else {
                format!("on ({})", f.journal_size)
            };
            let cpu = f
                .server_cpu_us
                .map_or_else(|| "–".to_owned(), |us| format!("{us:.1}"));
            out.push_str(&format!(
                "| {} | {journal} | {} | {:.0} | {:.2} | {:.2} | {cpu} | {} |\n",
                f.round, f.scenario, f.requests_per_second, f.p50_ms, f.p99_ms, f.errors
            ));
        }
        out.push('\n');
        for scenario in SCENARIOS {
            if let Some(ratio) = self.ratio(scenario.name()) {
                let cpu = self
                    .cpu_ratio(scenario.name())
                    .map_or_else(String::new, |r| {
                        format!("; server CPU per request on/off = {r:.3}")
                    });
                out.push_str(&format!(
                    "- {}: rate on/off = {ratio:.3} (target ≥ 0.95){cpu}\n",
                    scenario.name()
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(round: usize, journal_size: usize, scenario: &'static str, rate: f64) -> Figure {
        Figure {
            round,
            journal_size,
            scenario,
            requests_per_second: rate,
            p50_ms: 1.0,
            p99_ms: 2.0,
            server_cpu_us: Some(rate / 10.0),
            errors: 0,
        }
    }

    #[test]
    fn the_ratio_sums_the_rounds_of_each_side() {
        let comparison = Comparison {
            figures: vec![
                figure(1, 0, "put1", 100.0),
                figure(1, ON_SIZE, "put1", 90.0),
                figure(2, 0, "put1", 100.0),
                figure(2, ON_SIZE, "put1", 100.0),
                figure(1, 0, "post1", 50.0),
            ],
        };
        assert_eq!(comparison.ratio("put1"), Some(0.95));
        assert_eq!(comparison.ratio("post1"), Some(0.0));
        assert_eq!(comparison.ratio("delete1"), None);
        let table = comparison.markdown();
        assert_eq!(comparison.cpu_ratio("put1"), Some(0.95));
        assert_eq!(comparison.cpu_ratio("post1"), None);
        assert!(table.contains("| 1 | off | put1 | 100 |"), "{table}");
        assert!(table.contains("| 2 | on (10000) | put1 | 100 |"), "{table}");
        assert!(
            table.contains("- put1: rate on/off = 0.950 (target ≥ 0.95); server CPU per request on/off = 0.950"),
            "{table}"
        );
    }
}
