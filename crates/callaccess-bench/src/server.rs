//! The server under test: finding the `callaccess` binary, seeding a
//! store (SQLite or PostgreSQL, see `store`) with `callaccess import`,
//! starting `callaccess serve` on port 0, reading its address from the
//! "listening on" log line (no sleeping), its memory from `/proc`, and
//! stopping it.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _};

use crate::store::Store;

/// Finds the `callaccess` binary: `--server-bin`, else the one built next
/// to this executable. Under `cargo run` it is (re)built first, so the
/// benchmark always measures the current source.
pub fn locate(explicit: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = explicit {
        return Ok(path.to_owned());
    }
    let own = std::env::current_exe().context("cannot find this executable")?;
    let folder = own
        .parent()
        .context("this executable has no parent folder")?;
    let binary = folder.join("callaccess");
    // `cargo run` sets CARGO; the profile folder is `release` or `debug`.
    if let Ok(cargo) = std::env::var("CARGO") {
        let release = folder.file_name().is_some_and(|name| name == "release");
        let mut command = Command::new(cargo);
        command.args([
            "build",
            "--quiet",
            "-p",
            "callaccess",
            "--bin",
            "callaccess",
        ]);
        if release {
            command.arg("--release");
        }
        eprintln!(
            "building the server: cargo build -p callaccess{}",
            if release { " --release" } else { "" }
        );
        let status = command.status().context("cannot run cargo")?;
        if !status.success() {
            bail!("building the callaccess binary failed");
        }
    }
    if !binary.exists() {
        bail!(
            "no server binary at {}; build it (cargo build --release -p callaccess) or pass --server-bin",
            binary.display()
        );
    }
    Ok(binary)
}

/// Applies a seed file to a store with `callaccess import`.
pub fn import(binary: &Path, store: &Store, seed: &Path) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let output = Command::new(binary)
        .arg("--database")
        .arg(store.url())
        .arg("import")
        .arg(seed)
        .stdin(Stdio::null())
        .output()
        .context("cannot run callaccess import")?;
    if !output.status.success() {
        bail!(
            "callaccess import failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(started.elapsed())
}

/// A running `callaccess serve`.
pub struct Server {
    child: Child,
    pub address: String,
    /// From spawning the process to its "listening on" line.
    pub startup: Duration,
}

impl Server {
    /// Starts the server on `store` with rate limits off and waits for
    /// its "listening on http://ADDR" line. `max_batch` caps SQLite's
    /// writer batches (1 = one transaction per request).
    pub fn start(binary: &Path, store: &Store, max_batch: Option<usize>) -> anyhow::Result<Self> {
        Self::start_with(binary, store, max_batch, None)
    }

    /// [`Server::start`], serving at most `max_connections` connections at
    /// once when given (`--max-connections`).
    pub fn start_with(
        binary: &Path,
        store: &Store,
        max_batch: Option<usize>,
        max_connections: Option<usize>,
    ) -> anyhow::Result<Self> {
        Self::start_with_args(binary, store, max_batch, max_connections, &[])
    }

    /// [`Server::start_with`], with more `serve` flags (`extra`), such as
    /// `--journal-size 0`.
    pub fn start_with_args(
        binary: &Path,
        store: &Store,
        max_batch: Option<usize>,
        max_connections: Option<usize>,
        extra: &[String],
    ) -> anyhow::Result<Self> {
        let mut command = Command::new(binary);
        command
            .arg("--database")
            .arg(store.url())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--rate-limit-per-second",
                "off",
                "--rate-limit-per-day",
                "off",
                "--log-format",
                "text",
            ])
            // One log line per request is part of what is measured.
            .env("RUST_LOG", "info")
            // On PostgreSQL, 64 closed-loop clients of 1,000-pair requests
            // queue for the pool's 16 connections for longer than the
            // default wait of 500 ms, which is tuned to answer an outage
            // quickly; the benchmark measures throughput, so it waits.
            // SQLite has no pool and ignores it.
            .env("CALLACCESS_POOL_ACQUIRE_TIMEOUT", "10s")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(n) = max_connections {
            command.args(["--max-connections", &n.to_string()]);
        }
        command.args(extra);
        match max_batch {
            Some(n) => command.env("CALLACCESS_SQLITE_MAX_BATCH", n.to_string()),
            None => command.env_remove("CALLACCESS_SQLITE_MAX_BATCH"),
        };
        let started = Instant::now();
        let mut child = command.spawn().context("cannot start callaccess serve")?;
        let stderr = child
            .stderr
            .take()
            .context("the server's stderr was not captured")?;
        let mut lines = BufReader::new(stderr);
        let mut line = String::new();
        let mut seen = Vec::new();
        let address = loop {
            line.clear();
            let read = lines
                .read_line(&mut line)
                .context("reading the server's log")?;
            if read == 0 {
                let _ = child.wait();
                bail!("the server exited before listening:\n{}", seen.join(""));
            }
            if let Some(at) = line.find("listening on http://") {
                let rest = &line[at + "listening on http://".len()..];
                break rest
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .to_owned();
            }
            if seen.len() < 50 {
                seen.push(line.clone());
            }
        };
        let startup = started.elapsed();
        // The server writes a line per request; keep reading (and dropping)
        // them in big chunks so its stderr never fills and blocks it.
        let mut rest = lines.into_inner();
        std::thread::spawn(move || {
            let mut buffer = vec![0u8; 1 << 16];
            while matches!(rest.read(&mut buffer), Ok(n) if n > 0) {}
        });
        Ok(Self {
            child,
            address,
            startup,
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the server with SIGTERM (it flushes and checkpoints the store)
    /// and waits for it to exit.
    pub fn stop(mut self) -> anyhow::Result<()> {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .context("cannot run kill")?;
        if !status.success() {
            bail!("kill -TERM {} failed", self.child.id());
        }
        let exit = self.child.wait().context("waiting for the server")?;
        if !exit.success() {
            bail!("the server exited with {exit}");
        }
        Ok(())
    }
}

impl Server {
    /// Kills the server with SIGKILL, as a crash would: no flush, no
    /// checkpoint.
    pub fn kill(mut self) -> anyhow::Result<()> {
        self.child.kill().context("cannot kill the server")?;
        self.child.wait().context("waiting for the server")?;
        Ok(())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        // Stopped already, or being abandoned on an error: never leave it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Resident memory of a process in bytes, from `/proc/PID/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// CPU time a process has used so far (user and system, all threads), in
/// seconds, from `/proc/PID/stat`. Linux reports it in clock ticks of
/// `USER_HZ`, which is 100 on every architecture it exports it for.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    const USER_HZ: f64 = 100.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may itself hold spaces.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some((utime + stime) as f64 / USER_HZ)
}
