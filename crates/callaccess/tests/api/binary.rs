//! The real `callaccess` binary: `serve --seed` with its log lines, `serve
//! --demo` with curl commands that work as printed, refusal of a foreign
//! database, and a clean exit on SIGTERM.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc;

const BIN: &str = env!("CARGO_BIN_EXE_callaccess");
/// Guard against a hung child; never reached when things work.
const GUARD: Duration = Duration::from_secs(60);

/// A running `callaccess serve` with its output lines.
struct Server {
    child: Child,
    stdout: mpsc::UnboundedReceiver<String>,
    stderr: mpsc::UnboundedReceiver<String>,
    base: String,
}

fn forward(
    reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> mpsc::UnboundedReceiver<String> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

async fn next_line(rx: &mut mpsc::UnboundedReceiver<String>) -> Option<String> {
    tokio::time::timeout(GUARD, rx.recv())
        .await
        .expect("the server went silent")
}

impl Server {
    async fn start(args: &[&str]) -> Server {
        let mut child = Command::new(BIN)
            .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
            .args(args)
            .env("RUST_LOG", "info")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let stdout = forward(child.stdout.take().unwrap());
        let mut stderr = forward(child.stderr.take().unwrap());
        // The "listening" line comes after the socket is bound.
        let base = loop {
            let line = next_line(&mut stderr)
                .await
                .expect("the server exited before listening");
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            if let Some(rest) = event["message"]
                .as_str()
                .and_then(|m| m.strip_prefix("listening on "))
            {
                break rest.to_owned();
            }
        };
        Server {
            child,
            stdout,
            stderr,
            base,
        }
    }

    /// Sends SIGTERM and returns the exit code.
    async fn terminate(mut self) -> i32 {
        let pid = self.child.id().unwrap().to_string();
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(status.success());
        let status = tokio::time::timeout(GUARD, self.child.wait())
            .await
            .unwrap()
            .unwrap();
        status.code().unwrap_or(-1)
    }

    /// Log events until one satisfies `pick`.
    async fn find_log(&mut self, pick: impl Fn(&Value) -> bool) -> Value {
        loop {
            let line = next_line(&mut self.stderr)
                .await
                .expect("the server exited");
            if let Ok(event) = serde_json::from_str::<Value>(&line) {
                if pick(&event) {
                    return event;
                }
            }
        }
    }
}

fn write_seed(dir: &Path) -> std::path::PathBuf {
    let seed = json!({"companies": [{
        "id": "1000000000000000001",
        "name": "Acme",
        "apiKeys": [{"accessKey": "ACMEKEY1", "accessKeySecret": "acme-secret-0123456789"}],
        "users": [
            {"id": "234599484848423", "emailAddress": "ada@acme.test", "callsAccess": "none"},
            {"id": "234599484848424", "emailAddress": "bob@acme.test", "callsAccess": "own"}
        ],
        "calls": [{"id": "7782342274025937895", "title": "Discovery", "primaryUserId": "234599484848424"}]
    }]});
    let path = dir.join("seed.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&seed).unwrap()).unwrap();
    path
}

#[tokio::test]
async fn serve_with_a_seed_logs_one_line_per_request_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let seed = write_seed(dir.path());
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let mut server =
        Server::start(&["--database", &database, "--seed", seed.to_str().unwrap()]).await;

    let client = reqwest::Client::new();
    let response = client
        .put(format!("{}/v2/calls/users-access", server.base))
        .basic_auth("ACMEKEY1", Some("acme-secret-0123456789"))
        .json(&json!({"callAccessList": [{"callId": "7782342274025937895", "userIds": ["234599484848423"]}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let request_id = response.headers()["x-traceid"].to_str().unwrap().to_owned();

    let event = server
        .find_log(|e| e["request_id"] == request_id.as_str())
        .await;
    assert_eq!(event["method"], "PUT");
    assert_eq!(event["path"], "/v2/calls/users-access");
    assert_eq!(event["status"], 200);
    assert_eq!(event["company_id"], 1000000000000000001i64);
    assert!(event["latency_ms"].as_f64().is_some(), "{event}");
    assert!(
        !event.to_string().contains("acme-secret"),
        "a secret reached the log: {event}"
    );

    // A wrong secret is logged without the company and without the secret.
    let response = client
        .post(format!("{}/v2/calls/users-access", server.base))
        .basic_auth("ACMEKEY1", Some("guessed-secret-value"))
        .json(&json!({"filter": {"callIds": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    let request_id = response.headers()["x-traceid"].to_str().unwrap().to_owned();
    let event = server
        .find_log(|e| e["request_id"] == request_id.as_str())
        .await;
    assert_eq!(event["status"], 401);
    assert!(
        event.get("company_id").is_none_or(Value::is_null),
        "{event}"
    );
    assert!(!event.to_string().contains("guessed-secret"), "{event}");

    assert_eq!(server.terminate().await, 0);
}

/// Joins shell continuation lines and returns every `curl` command printed.
fn curl_commands(banner: &[String]) -> Vec<String> {
    let mut commands = Vec::new();
    let mut current: Option<String> = None;
    for line in banner {
        let trimmed = line.trim();
        match current.as_mut() {
            Some(command) => command.push_str(trimmed.trim_end_matches('\\')),
            None if trimmed.starts_with("curl ") => {
                current = Some(trimmed.trim_end_matches('\\').to_owned())
            }
            None => continue,
        }
        if !trimmed.ends_with('\\') {
            commands.extend(current.take());
        } else if let Some(command) = current.as_mut() {
            command.push(' ');
        }
    }
    commands
}

#[tokio::test]
async fn the_demo_prints_curl_commands_that_work_as_printed() {
    let mut server = Server::start(&["--demo"]).await;
    let mut banner = Vec::new();
    while curl_commands(&banner).len() < 3 {
        banner.push(
            next_line(&mut server.stdout)
                .await
                .expect("the demo banner ended early"),
        );
    }
    // Take the rest of the banner's current command, if any.
    let commands = curl_commands(&banner);
    assert_eq!(commands.len(), 3, "{banner:#?}");
    assert!(
        commands.iter().all(|c| c.contains(&server.base)),
        "{commands:#?}"
    );
    let mut answers = Vec::new();
    for command in &commands {
        let output = tokio::process::Command::new("bash")
            .args(["-c", &format!("{command} -s")])
            .output()
            .await
            .unwrap();
        assert!(
            output.status.success(),
            "{command}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let body: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|_| {
            panic!(
                "{command} answered {}",
                String::from_utf8_lossy(&output.stdout)
            )
        });
        assert!(body.get("errors").is_none(), "{command} answered {body}");
        assert_eq!(body["requestId"].as_str().map(str::len), Some(19), "{body}");
        answers.push(body);
    }
    // Grant, list, revoke: the list shows the granted user.
    let methods: Vec<&str> = ["PUT", "POST", "DELETE"]
        .into_iter()
        .filter(|m| commands.iter().any(|c| c.contains(m)))
        .collect();
    assert_eq!(methods.len(), 3, "{commands:#?}");
    let listed = answers
        .iter()
        .find_map(|a| a.get("callAccessList"))
        .expect("a list command");
    assert_eq!(
        listed[0]["users"].as_array().map(Vec::len),
        Some(1),
        "{listed}"
    );
    assert_eq!(server.terminate().await, 0);
}

#[tokio::test]
async fn serve_refuses_a_file_that_is_not_a_callaccess_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = b"these are my notes, not a database\n".repeat(100);
    std::fs::write(&path, &content).unwrap();
    let output = tokio::process::Command::new(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            &format!("sqlite:{}", path.display()),
        ])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not a callaccess database"), "{stderr}");
    assert_eq!(
        std::fs::read(&path).unwrap(),
        content,
        "the foreign file was changed"
    );
}

#[tokio::test]
async fn a_bad_seed_stops_the_server_before_it_listens() {
    let dir = tempfile::tempdir().unwrap();
    let seed = dir.path().join("bad.json");
    std::fs::write(&seed, r#"{"companies": [{"id": "12a", "name": "X"}]}"#).unwrap();
    let output = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--database"])
        .arg(format!("sqlite:{}", dir.path().join("db.sqlite").display()))
        .arg("--seed")
        .arg(&seed)
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("companies[0].id: \"12a\" is not a numeric id"),
        "{stderr}"
    );
    assert!(!stderr.contains("listening on"), "{stderr}");
}

#[tokio::test]
async fn bad_arguments_get_a_clear_error() {
    let output = tokio::process::Command::new(BIN)
        .args(["serve", "--listen", "nowhere"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen"));
    let output = tokio::process::Command::new(BIN)
        .args(["migrate", "--database", "mysql://u:hunter2@h/db"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("is not a database URL"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}
