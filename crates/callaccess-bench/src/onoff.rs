//! Costs of a feature measured on and off (`--journal-rounds N`,
//! `--fault-rounds N`): PUT 1 pair and POST 1 call with the feature off and
//! on, on the run's own loaded store, in N rounds whose order alternates
//! (off, on, then on, off, …). The store grows as it runs (each PUT adds a
//! grant, which later POSTs list), so a fixed order would always give the
//! later side the bigger store; alternating, and with an even N, that drift
//! and the drift of a shared machine fall on both sides alike. Each block
//! restarts the server with its setting; the table shows every figure, the
//! on/off ratio of the summed rates and of the server's CPU per request.
//!
//! The trials ([`Trial`]):
//! - the request journal: `--journal-size 0` against its default, 10,000
//!   entries (target ≥ 0.95, docs/PERFORMANCE.md);
//! - the fault check: no rules against one rule that matches no request
//!   (`--faults FILE`). With no rules the check is one atomic load, a
//!   strict part of what a rule that never matches costs, so the "on" side
//!   bounds its cost from above.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde::Serialize;

use crate::load::{self, Cursors, Scenario, Target};
use crate::server::{self, Server};
use crate::Owned;

/// The journal size the server runs with when "on": its default.
pub const ON_SIZE: usize = 10_000;

/// A rule no request of the benchmark matches: its company does not exist.
const UNMATCHED_RULE: &str =
    r#"[{"match": {"company": "999999999999"}, "effect": {"status": 503}}]"#;

/// The feature a comparison turns off and on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Trial {
    Journal,
    Faults,
}

impl Trial {
    fn name(self) -> &'static str {
        match self {
            Trial::Journal => "request journal",
            Trial::Faults => "fault check",
        }
    }

    /// How each side is shown in the table.
    fn side(self, on: bool) -> &'static str {
        match (self, on) {
            (Trial::Journal, false) => "off",
            (Trial::Journal, true) => "on (10,000)",
            (Trial::Faults, false) => "no rules",
            (Trial::Faults, true) => "1 unmatched rule",
        }
    }

    /// The ratio the issue sets for the "on" side, if any.
    fn target(self) -> &'static str {
        match self {
            Trial::Journal => " (target ≥ 0.95)",
            Trial::Faults => "",
        }
    }

    /// The server's arguments for one side; `dir` holds files they name.
    fn args(self, on: bool, dir: &std::path::Path) -> anyhow::Result<Vec<String>> {
        Ok(match (self, on) {
            (Trial::Journal, false) => vec!["--journal-size".to_owned(), "0".to_owned()],
            (Trial::Journal, true) => vec!["--journal-size".to_owned(), ON_SIZE.to_string()],
            (Trial::Faults, false) => Vec::new(),
            (Trial::Faults, true) => {
                let file = dir.join("bench-faults.json");
                std::fs::write(&file, UNMATCHED_RULE)
                    .with_context(|| format!("writing {}", file.display()))?;
                vec!["--faults".to_owned(), file.display().to_string()]
            }
        })
    }
}

/// One measured scenario of one round.
#[derive(Debug, Clone, Serialize)]
pub struct Figure {
    pub round: usize,
    /// The feature on (`true`) or off.
    pub on: bool,
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
    pub trial: Trial,
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

/// Restarts `own`'s server with the feature off, then on, `rounds` times,
/// measuring PUT 1 and POST 1 each time; hands back the server running
/// with the default settings and the target pointing at it.
pub async fn compare(
    trial: Trial,
    mut own: Owned,
    mut target: Arc<Target>,
    cursors: &Arc<Cursors>,
    settings: &Settings,
) -> anyhow::Result<(Owned, Arc<Target>, Comparison)> {
    let mut figures = Vec::new();
    for round in 1..=settings.rounds {
        let order = if round % 2 == 1 {
            [false, true]
        } else {
            [true, false]
        };
        for on in order {
            eprintln!("{} round {round}: {}", trial.name(), trial.side(on));
            let args = trial.args(on, own._dir.path())?;
            let (moved, address) = restart(own, &args)?;
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
                    on,
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
    // Back to the defaults, as the rest of the run expects.
    let (own, address) = restart(own, &[])?;
    let mut retargeted = (*target).clone();
    retargeted.address = address;
    Ok((own, Arc::new(retargeted), Comparison { trial, figures }))
}

/// Stops the server and starts it again on the same store with `extra`
/// arguments; the new address.
fn restart(own: Owned, extra: &[String]) -> anyhow::Result<(Owned, String)> {
    let Owned {
        binary,
        server,
        max_batch,
        store,
        _dir,
    } = own;
    server.stop()?;
    let server = Server::start_with_args(&binary, &store.store, max_batch, None, extra)
        .context("restarting the server for an on/off comparison")?;
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
    /// Summed rate with the feature on over off, for one scenario.
    pub fn ratio(&self, scenario: &str) -> Option<f64> {
        let sum = |on: bool| -> f64 {
            self.figures
                .iter()
                .filter(|f| f.scenario == scenario && f.on == on)
                .map(|f| f.requests_per_second)
                .sum()
        };
        let off = sum(false);
        (off > 0.0).then(|| sum(true) / off)
    }

    /// Mean server CPU per request with the feature on over off, for one
    /// scenario (above 1: the feature costs CPU).
    pub fn cpu_ratio(&self, scenario: &str) -> Option<f64> {
        let mean = |on: bool| -> Option<f64> {
            let values: Vec<f64> = self
                .figures
                .iter()
                .filter(|f| f.scenario == scenario && f.on == on)
                .filter_map(|f| f.server_cpu_us)
                .collect();
            (!values.is_empty()).then(|| values.iter().sum::<f64>() / values.len() as f64)
        };
        let (off, on) = (mean(false)?, mean(true)?);
        (off > 0.0).then(|| on / off)
    }

    pub fn healthy(&self) -> bool {
        self.figures
            .iter()
            .all(|f| f.errors == 0 && f.requests_per_second > 0.0)
    }

    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let trial = self.trial;
        out.push_str(&format!(
            "\n### The {}: {} vs {}, rounds in alternating order\n\n",
            trial.name(),
            trial.side(true),
            trial.side(false)
        ));
        out.push_str(&format!(
            "| round | {} | scenario | req/s | p50 ms | p99 ms | server CPU µs/req | errors |\n",
            trial.name()
        ));
        out.push_str("|---:|---|---|---:|---:|---:|---:|---:|\n");
        for f in &self.figures {
            let side = trial.side(f.on);
            let cpu = f
                .server_cpu_us
                .map_or_else(|| "–".to_owned(), |us| format!("{us:.1}"));
            out.push_str(&format!(
                "| {} | {side} | {} | {:.0} | {:.2} | {:.2} | {cpu} | {} |\n",
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
                    "- {}: rate on/off = {ratio:.3}{}{cpu}\n",
                    scenario.name(),
                    trial.target()
                ));
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figure(round: usize, on: bool, scenario: &'static str, rate: f64) -> Figure {
        Figure {
            round,
            on,
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
            trial: Trial::Journal,
            figures: vec![
                figure(1, false, "put1", 100.0),
                figure(1, true, "put1", 90.0),
                figure(2, false, "put1", 100.0),
                figure(2, true, "put1", 100.0),
                figure(1, false, "post1", 50.0),
            ],
        };
        assert_eq!(comparison.ratio("put1"), Some(0.95));
        assert_eq!(comparison.ratio("post1"), Some(0.0));
        assert_eq!(comparison.ratio("delete1"), None);
        let table = comparison.markdown();
        assert_eq!(comparison.cpu_ratio("put1"), Some(0.95));
        assert_eq!(comparison.cpu_ratio("post1"), None);
        assert!(table.contains("| 1 | off | put1 | 100 |"), "{table}");
        assert!(
            table.contains("| 2 | on (10,000) | put1 | 100 |"),
            "{table}"
        );
        assert!(
            table.contains("- put1: rate on/off = 0.950 (target ≥ 0.95); server CPU per request on/off = 0.950"),
            "{table}"
        );
    }
}
