//! The real `callaccess` binary, for the tests that need a process of its
//! own (logs, signals, `kill -9`, several nodes, a database that goes away):
//! [`Server::start`] runs `callaccess serve` on port 0 and returns once the
//! server has logged its "listening" line, which it writes after binding, so
//! no test waits on a clock for a server. [`cli`] runs any other command.
//! [`Server::start_as`] runs the server as another user, for the storage
//! faults an unprivileged user meets.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

pub const BIN: &str = env!("CARGO_BIN_EXE_callaccess");

/// Guard against a hung child; never reached when things work.
pub const GUARD: Duration = Duration::from_secs(120);

/// `callaccess` without the developer's own `CALLACCESS_…` settings, which
/// must not leak into a test.
pub fn command() -> Command {
    without_settings(Command::new(BIN))
}

fn without_settings(mut command: Command) -> Command {
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("CALLACCESS_") {
            command.env_remove(name);
        }
    }
    command.kill_on_drop(true);
    command
}

/// `callaccess` as `user` (with its primary group and no other), through
/// `setpriv`, which execs the binary. `Err` with the reason when this
/// machine cannot do that (no `setpriv`, no such user, not root).
fn as_user(user: &str) -> Result<Command, String> {
    let gid = std::process::Command::new("id")
        .args(["-g", user])
        .output()
        .map_err(|e| format!("cannot run id: {e}"))?;
    if !gid.status.success() {
        return Err(format!("there is no user {user}"));
    }
    let gid = String::from_utf8_lossy(&gid.stdout).trim().to_owned();
    // The same switch, on a harmless command, tells whether it works here.
    let probe = std::process::Command::new("setpriv")
        .args([
            "--reuid",
            user,
            "--regid",
            &gid,
            "--clear-groups",
            BIN,
            "--help",
        ])
        .output()
        .map_err(|e| format!("cannot run setpriv: {e}"))?;
    if !probe.status.success() {
        return Err(format!(
            "setpriv cannot run the binary as {user}: {}",
            String::from_utf8_lossy(&probe.stderr).trim()
        ));
    }
    let mut setpriv = Command::new("setpriv");
    setpriv.args(["--reuid", user, "--regid", &gid, "--clear-groups", BIN]);
    Ok(without_settings(setpriv))
}

/// Runs `callaccess serve ARGS…` as `user` to its end, for a server that
/// is expected to refuse to start; `Err` as for [`Server::start_as`].
pub async fn serve_as_to_end(user: &str, args: &[&str]) -> Result<Output, String> {
    let run = as_user(user)?.arg("serve").args(args).output();
    Ok(tokio::time::timeout(GUARD, run)
        .await
        .expect("the server did not stop by itself")
        .unwrap())
}

/// Runs `callaccess ARGS…` to its end.
pub async fn cli(args: &[&str]) -> Output {
    command().args(args).output().await.unwrap()
}

/// Runs `callaccess ARGS…`, which must succeed; returns its standard output.
pub async fn cli_ok(args: &[&str]) -> String {
    stdout_of(cli(args).await, &format!("{args:?}"))
}

/// The standard output of a command that must have succeeded.
pub fn stdout_of(output: Output, what: &str) -> String {
    assert!(
        output.status.success(),
        "{what} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// `serve`'s arguments for an SQLite `database`, on port 0 with JSON logs,
/// for [`Server::start_with`] and [`Server::start_as`].
pub fn serve_args(database: &Path) -> Vec<String> {
    [
        "--listen",
        "127.0.0.1:0",
        "--log-format",
        "json",
        "--database",
        &format!("sqlite:{}", database.display()),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Writes `value` as JSON into `dir/name` (a seed file, say).
pub fn write_json(dir: &Path, name: &str, value: &Value) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, serde_json::to_vec_pretty(value).unwrap()).unwrap();
    path
}

/// A running `callaccess serve` with its output lines.
pub struct Server {
    child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
    /// `http://127.0.0.1:PORT`
    pub base: String,
    /// `127.0.0.1:PORT`
    pub address: String,
    /// From the "metrics on …" line, when `--metrics-listen` was given (it
    /// comes before the "listening" line).
    pub metrics_base: Option<String>,
    /// Every log line (stderr) read so far.
    pub log: Vec<String>,
}

/// How a server ended.
pub struct Exited {
    pub code: i32,
    /// Every line it logged.
    pub log: Vec<String>,
}

/// The word after `marker` in a log line, text or JSON.
fn word_after<'a>(line: &'a str, marker: &str) -> Option<&'a str> {
    let (_, rest) = line.split_once(marker)?;
    rest.split(|c: char| c.is_whitespace() || c == '"').next()
}

/// The `message` of a JSON log line.
fn message(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line).ok()?;
    event["message"].as_str().map(str::to_owned)
}

async fn next(rx: &mut mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(GUARD, rx.recv())
        .await
        .expect("the server went silent")
}

impl Server {
    /// `callaccess serve --listen 127.0.0.1:0 --log-format json ARGS…`,
    /// returned once it listens. Debug lines of the PostgreSQL store are on,
    /// so that its retries can be counted.
    pub async fn start(args: &[&str]) -> Server {
        let mut all = vec!["--listen", "127.0.0.1:0", "--log-format", "json"];
        all.extend_from_slice(args);
        Self::start_with(&all, &[]).await
    }

    /// `callaccess serve ARGS…` with `envs` (which may set `RUST_LOG`) and
    /// nothing else added, so that the address and the log format can come
    /// from any layer of the settings; returned once it has logged, as text
    /// or as JSON, that it listens.
    pub async fn start_with(args: &[&str], envs: &[(&str, &str)]) -> Server {
        Self::launch(command(), args, envs).await
    }

    /// [`Server::start_with`] as `user` (with its primary group and no
    /// other), through `setpriv`, which execs the binary: the process is the
    /// server itself, so signals and `kill_on_drop` reach it. `Err` with the
    /// reason when this machine cannot do that (no `setpriv`, no such user,
    /// not root), for the caller to skip.
    pub async fn start_as(
        user: &str,
        args: &[&str],
        envs: &[(&str, &str)],
    ) -> Result<Server, String> {
        Ok(Self::launch(as_user(user)?, args, envs).await)
    }

    async fn launch(mut command: Command, args: &[&str], envs: &[(&str, &str)]) -> Server {
        let mut child = command
            .arg("serve")
            .args(args)
            .env("RUST_LOG", "info,callaccess_postgres=debug")
            .envs(envs.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = crate::helpers::forward_lines(child.stdout.take().unwrap());
        let stderr = crate::helpers::forward_lines(child.stderr.take().unwrap());
        let mut server = Server {
            child,
            stdout,
            stderr,
            base: String::new(),
            address: String::new(),
            metrics_base: None,
            log: Vec::new(),
        };
        loop {
            let Some(line) = server.next_log_line().await else {
                panic!("the server exited before listening: {:#?}", server.log);
            };
            if let Some(metrics) = word_after(&line, "metrics on ") {
                server.metrics_base = Some(metrics.trim_end_matches("/metrics").to_owned());
            }
            if let Some(base) = word_after(&line, "listening on ") {
                server.address = base.trim_start_matches("http://").to_owned();
                server.base = base.to_owned();
                return server;
            }
        }
    }

    /// The next log line, kept in `log`; `None` once the server has exited.
    pub async fn next_log_line(&mut self) -> Option<String> {
        let line = next(&mut self.stderr).await?;
        self.log.push(line.clone());
        Some(line)
    }

    /// The next line on standard output.
    pub async fn next_stdout_line(&mut self) -> Option<String> {
        next(&mut self.stdout).await
    }

    /// Log events from here on until one satisfies `pick`.
    pub async fn find_log(&mut self, pick: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = self.next_log_line().await.expect("the server exited");
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                if pick(&event) {
                    return event;
                }
            }
        }
    }

    /// Sends SIGTERM without waiting.
    pub fn sigterm(&self) {
        let pid = self.child.id().expect("the server has exited").to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits for the exit and the rest of the log.
    pub async fn wait(mut self) -> Exited {
        let status = tokio::time::timeout(GUARD, self.child.wait())
            .await
            .expect("the server did not stop")
            .unwrap();
        while self.next_log_line().await.is_some() {}
        Exited {
            code: status.code().unwrap_or(-1),
            log: self.log,
        }
    }

    /// SIGTERM, then [`Server::wait`].
    pub async fn terminate(self) -> Exited {
        self.sigterm();
        self.wait().await
    }

    /// SIGKILL: no shutdown, no flush, no checkpoint.
    pub async fn kill(mut self) {
        self.child.start_kill().unwrap();
        self.child.wait().await.unwrap();
    }
}

/// How many log lines carry `message`.
pub fn count_messages(lines: &[String], wanted: &str) -> usize {
    lines
        .iter()
        .filter(|line| message(line).as_deref() == Some(wanted))
        .count()
}
