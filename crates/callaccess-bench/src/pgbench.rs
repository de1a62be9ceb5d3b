//! The PostgreSQL baseline: what the same server does with `pgbench`'s own
//! transactions, so a callaccess rate can be read as a fraction of what
//! PostgreSQL itself manages on this machine. `pgbench -i` fills a scratch
//! database of its own, then `pgbench -S` (one primary-key SELECT per
//! transaction) and `pgbench -N` (an UPDATE, a SELECT and an INSERT in one
//! transaction, without the contended branch and teller updates) run in
//! turn. They are compared with (d) POST 1 call and (b) PUT 1 pair.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context as _};
use serde::Serialize;

/// Where the Debian packages put the programs of each major version.
const DEBIAN_FOLDER: &str = "/usr/lib/postgresql";

/// The shape of the baseline runs.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// `pgbench -i -s`: 100,000 accounts per unit.
    pub scale: u32,
    /// `-T` of each run.
    pub duration: Duration,
    /// `-c`.
    pub clients: usize,
    /// `-j`.
    pub threads: usize,
}

/// The measured baseline.
#[derive(Debug, Clone, Serialize)]
pub struct Baseline {
    /// `pgbench --version`.
    pub version: String,
    pub scale: u32,
    pub clients: usize,
    pub threads: usize,
    pub duration_seconds: f64,
    /// `pgbench -S`, transactions per second without connection time.
    pub select_only_tps: f64,
    /// `pgbench -N`, likewise.
    pub simple_update_tps: f64,
}

/// What became of the baseline: it never fails the benchmark.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    Ran(Baseline),
    /// No `pgbench` program was found.
    Missing {
        looked_in: String,
    },
    Failed {
        error: String,
    },
}

/// Finds `pgbench`: on `PATH`, else in the newest
/// `/usr/lib/postgresql/VERSION/bin`.
pub fn locate() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|folder| folder.join("pgbench"))
            .find(|candidate| candidate.is_file())
    });
    on_path.or_else(|| newest_debian(Path::new(DEBIAN_FOLDER)))
}

/// Where [`locate`] looks, for the report when it finds nothing.
pub fn looked_in() -> String {
    format!("PATH and {DEBIAN_FOLDER}/*/bin")
}

fn newest_debian(folder: &Path) -> Option<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(folder)
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            let program = entry.path().join("bin").join("pgbench");
            program.is_file().then_some((major, program))
        })
        .collect();
    versions.sort();
    versions.pop().map(|(_, program)| program)
}

/// The rate in pgbench's summary: `tps = N (without initial connection
/// time)` since PostgreSQL 14, `tps = N (excluding connections
/// establishing)` before.
pub fn parse_tps(output: &str) -> Option<f64> {
    let rate = |suffix: &str| {
        output.lines().find_map(|line| {
            let rest = line.trim().strip_prefix("tps = ")?;
            let (number, note) = rest.split_once(' ')?;
            note.contains(suffix).then(|| number.parse().ok()).flatten()
        })
    };
    rate("without initial connection time").or_else(|| rate("excluding connections"))
}

/// Runs the baseline on the (empty) database `url` with `program`.
pub async fn run(program: &Path, url: &str, settings: Settings) -> anyhow::Result<Baseline> {
    let version = pgbench(program, &["--version"]).await?.trim().to_owned();
    eprintln!(
        "pgbench -i -s {} (a scratch database of its own)",
        settings.scale
    );
    pgbench(
        program,
        &["-i", "-q", "-s", &settings.scale.to_string(), url],
    )
    .await?;
    let seconds = settings.duration.as_secs().max(1).to_string();
    let clients = settings.clients.to_string();
    let threads = settings.threads.to_string();
    let mut rates = Vec::new();
    for mode in ["-S", "-N"] {
        eprintln!("pgbench {mode} -T {seconds} -c {clients} -j {threads}");
        let output = pgbench(
            program,
            &[mode, "-T", &seconds, "-c", &clients, "-j", &threads, url],
        )
        .await?;
        let tps = parse_tps(&output)
            .with_context(|| format!("no tps in the output of pgbench {mode}:\n{output}"))?;
        eprintln!("  {tps:.0} tps");
        rates.push(tps);
    }
    Ok(Baseline {
        version,
        scale: settings.scale,
        clients: settings.clients,
        threads: settings.threads,
        duration_seconds: settings.duration.as_secs().max(1) as f64,
        select_only_tps: rates[0],
        simple_update_tps: rates[1],
    })
}

/// Runs pgbench to the end; its standard output, or its error output as
/// the error.
async fn pgbench(program: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = tokio::process::Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true)
        .output()
        .await
        .with_context(|| format!("cannot run {}", program.display()))?;
    if !output.status.success() {
        bail!(
            "pgbench {} failed ({}): {}",
            args.first().copied().unwrap_or_default(),
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]

    use super::*;

    #[test]
    fn reads_the_rate_without_connection_time() {
        let output = "\
pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
number of clients: 16
duration: 8 s
number of transactions actually processed: 338958
latency average = 0.377 ms
initial connection time = 17.161 ms
tps = 42369.761832 (without initial connection time)
";
        assert_eq!(parse_tps(output), Some(42369.761832));
    }

    #[test]
    fn reads_the_rate_of_older_versions() {
        let output = "\
tps = 1200.5 (including connections establishing)
tps = 1234.25 (excluding connections establishing)
";
        assert_eq!(parse_tps(output), Some(1234.25));
    }

    #[test]
    fn no_rate_is_none() {
        assert_eq!(parse_tps("pgbench: error: connection failed\n"), None);
        assert_eq!(
            parse_tps("tps = many (without initial connection time)\n"),
            None
        );
    }
}
