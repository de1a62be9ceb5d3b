//! Real `callaccess serve` processes for the tests that need several nodes
//! or a database that goes away: started on port 0, known to be serving once
//! they log their "listening" line, with every log line kept for the end.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const BIN: &str = env!("CARGO_BIN_EXE_callaccess");

/// Guard against a hung child; never reached when things work.
const GUARD: Duration = Duration::from_secs(120);

pub struct Node {
    child: Child,
    stderr: mpsc::UnboundedReceiver<String>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// Log lines read while waiting for "listening".
    pub startup_log: Vec<String>,
}

impl Node {
    /// `callaccess serve --listen 127.0.0.1:0 --log-format json ARGS…`,
    /// returned once it listens. Debug lines of the PostgreSQL store are on,
    /// so that its retries can be counted.
    pub async fn start(args: &[&str]) -> Node {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(args)
            .env("RUST_LOG", "info,callaccess_postgres=debug")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut stderr = crate::helpers::forward_lines(child.stderr.take().unwrap());
        let mut startup_log = Vec::new();
        let base = loop {
            let line = tokio::time::timeout(GUARD, stderr.recv())
                .await
                .expect("the node went silent")
                .unwrap_or_else(|| panic!("the node exited before listening: {startup_log:#?}"));
            let listening = serde_json::from_str::<Value>(&line).ok().and_then(|event| {
                event["message"]
                    .as_str()
                    .and_then(|m| m.strip_prefix("listening on "))
                    .map(str::to_owned)
            });
            startup_log.push(line);
            if let Some(base) = listening {
                break base;
            }
        };
        Node {
            child,
            stderr,
            base,
            startup_log,
        }
    }

    /// Sends SIGTERM, waits for the exit, and returns the exit code with
    /// every log line written since startup.
    pub async fn terminate(mut self) -> (i32, Vec<String>) {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let status = tokio::time::timeout(GUARD, self.child.wait())
            .await
            .expect("the node did not stop")
            .unwrap();
        let mut lines = std::mem::take(&mut self.startup_log);
        while let Ok(Some(line)) = tokio::time::timeout(GUARD, self.stderr.recv()).await {
            lines.push(line);
        }
        (status.code().unwrap_or(-1), lines)
    }
}

/// How many log lines carry `message`.
pub fn count_messages(lines: &[String], message: &str) -> usize {
    lines
        .iter()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|event| event["message"] == message)
        .count()
}

/// `scripts/pg-test-cluster.sh`, which starts and stops throwaway servers.
pub fn cluster_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../scripts/pg-test-cluster.sh")
}

/// Runs the cluster script and returns its standard output, trimmed.
pub fn cluster(args: &[&str]) -> Result<String, String> {
    let output = std::process::Command::new("bash")
        .arg(cluster_script())
        .args(args)
        .output()
        .map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).into_owned())
    }
}

/// A throwaway PostgreSQL server in a folder of its own, destroyed on drop.
pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub url: String,
}

impl Cluster {
    /// `None` when PostgreSQL's server programs are not installed (outside
    /// CI, which must have them).
    pub fn start() -> Option<Cluster> {
        let dir = tempfile::tempdir().unwrap();
        match cluster(&["start", dir.path().to_str().unwrap()]) {
            Ok(url) => Some(Cluster { dir, url }),
            Err(why) if why.contains("were not found") && std::env::var_os("CI").is_none() => {
                use std::io::Write as _;
                let _ = writeln!(std::io::stderr(), "SKIPPED: {}", why.trim());
                None
            }
            Err(why) => panic!("cannot start a PostgreSQL cluster: {why}"),
        }
    }

    pub fn stop(&self) {
        cluster(&["stop", self.dir.path().to_str().unwrap()]).unwrap();
    }

    pub fn restart(&self) {
        let url = cluster(&["start", self.dir.path().to_str().unwrap()]).unwrap();
        assert_eq!(url, self.url, "the cluster came back on another port");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = cluster(&["destroy", self.dir.path().to_str().unwrap()]);
    }
}
