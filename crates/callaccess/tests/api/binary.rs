//! The real `callaccess` binary: `serve --seed` with its log lines, `serve
//! --demo` with curl commands that work as printed, refusal of a foreign
//! database, and a clean exit on SIGTERM.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
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
    /// From the "metrics on …" line, when `--metrics-listen` was given.
    metrics_base: Option<String>,
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
        let stdout = crate::helpers::forward_lines(child.stdout.take().unwrap());
        let mut stderr = crate::helpers::forward_lines(child.stderr.take().unwrap());
        // The "listening" line comes after the socket is bound.
        let mut metrics_base = None;
        let base = loop {
            let line = next_line(&mut stderr)
                .await
                .expect("the server exited before listening");
            let Ok(event) = serde_json::from_str::<Value>(&line) else {
                continue;
            };
            let message = event["message"].as_str().unwrap_or_default();
            if let Some(rest) = message.strip_prefix("metrics on ") {
                metrics_base = Some(rest.trim_end_matches("/metrics").to_owned());
            }
            if let Some(rest) = message.strip_prefix("listening on ") {
                break rest.to_owned();
            }
        };
        Server {
            child,
            stdout,
            stderr,
            base,
            metrics_base,
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

/// `(status line, body)` of one raw HTTP/1.1 answer read to the end.
async fn read_answer(stream: &mut tokio::net::TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    tokio::time::timeout(GUARD, stream.read_to_end(&mut answer))
        .await
        .unwrap()
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn sigterm_lets_the_request_in_flight_finish_and_exits_0() {
    use base64::Engine;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let dir = tempfile::tempdir().unwrap();
    let seed = write_seed(dir.path());
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let server = Server::start(&["--database", &database, "--seed", seed.to_str().unwrap()]).await;
    let address = server.base.trim_start_matches("http://").to_owned();

    let body =
        br#"{"callAccessList":[{"callId":"7782342274025937895","userIds":["234599484848423"]}]}"#;
    let auth = base64::engine::general_purpose::STANDARD.encode("ACMEKEY1:acme-secret-0123456789");
    let head = format!(
        "PUT /v2/calls/users-access HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {auth}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(&address).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // "100 Continue" comes when the handler starts reading the body: from
    // here on the request is in flight.
    let mut interim = [0u8; 25];
    tokio::time::timeout(GUARD, stream.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert!(
        interim.starts_with(b"HTTP/1.1 100 Continue"),
        "{:?}",
        String::from_utf8_lossy(&interim)
    );

    let pid = server.child.id().unwrap().to_string();
    assert!(std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    // The server stops accepting: new connections are refused soon after.
    let refused = tokio::time::timeout(GUARD, async {
        loop {
            if tokio::net::TcpStream::connect(&address).await.is_err() {
                break;
            }
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert!(refused.is_ok(), "the server kept accepting after SIGTERM");

    stream.write_all(body).await.unwrap();
    let answer = read_answer(&mut stream).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let mut child = server.child;
    let status = tokio::time::timeout(GUARD, child.wait())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(status.code(), Some(0));

    // The acknowledged grant is on disk.
    let output = tokio::process::Command::new(BIN)
        .args([
            "grants",
            "list",
            "--company",
            "1000000000000000001",
            "--call",
            "7782342274025937895",
            "--json",
        ])
        .args(["--database", &database])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert!(listed.to_string().contains("234599484848423"), "{listed}");
}

#[tokio::test]
async fn settings_come_from_flags_then_environment_then_file_then_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("callaccess.toml");
    std::fs::write(
        &file,
        "[server]\nlisten = \"127.0.0.1:7000\"\n[limits]\nmax_pairs = 5\nmax_body_bytes = 1000\n[rate_limit]\nper_second = 9\n",
    )
    .unwrap();
    let output = tokio::process::Command::new(BIN)
        .args(["config", "show", "--config"])
        .arg(&file)
        .args(["--max-body-bytes", "3000"])
        .env("CALLACCESS_MAX_PAIRS", "6")
        .env("CALLACCESS_MAX_BODY_BYTES", "2000")
        .env_remove("CALLACCESS_LISTEN")
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let shown = String::from_utf8_lossy(&output.stdout).into_owned();
    for line in [
        "listen = \"127.0.0.1:7000\"", // file over default
        "max_pairs = 6",               // environment over file
        "max_body_bytes = 3000",       // flag over environment and file
        "per_second = 9",              // file over default
        "per_day = 10000",             // default
        "request_timeout = \"30s\"",   // default
    ] {
        assert!(
            shown.lines().any(|l| l == line),
            "missing {line:?} in:\n{shown}"
        );
    }

    // The printed default file is a valid configuration.
    let output = tokio::process::Command::new(BIN)
        .args(["config", "default"])
        .output()
        .await
        .unwrap();
    std::fs::write(&file, &output.stdout).unwrap();
    let output = tokio::process::Command::new(BIN)
        .args(["config", "show", "--config"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    // A misspelt setting is refused with its name.
    std::fs::write(&file, "[limits]\nmax_pair = 5\n").unwrap();
    let output = tokio::process::Command::new(BIN)
        .args(["config", "show", "--config"])
        .arg(&file)
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("max_pair"));
}

#[tokio::test]
async fn metrics_can_have_their_own_listener() {
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    // The metrics line is logged before the API's "listening" line, so
    // `start` has seen it.
    let server = Server::start(&["--database", &database, "--metrics-listen", "127.0.0.1:0"]).await;
    let client = reqwest::Client::new();
    let on_api = client
        .get(format!("{}/metrics", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(on_api.status().as_u16(), 404);
    assert!(client
        .get(format!("{}/healthz", server.base))
        .send()
        .await
        .unwrap()
        .status()
        .is_success());
    let metrics_base = server
        .metrics_base
        .clone()
        .expect("no metrics line in the log");
    let metrics = client
        .get(format!("{metrics_base}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("callaccess_http_requests_total"), "{text}");
    assert_eq!(server.terminate().await, 0);
}

#[tokio::test]
async fn a_key_revoked_with_the_cli_is_refused_by_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let seed = write_seed(dir.path());
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let server = Server::start(&[
        "--database",
        &database,
        "--seed",
        seed.to_str().unwrap(),
        "--rate-limit-per-second",
        "off",
    ])
    .await;
    let client = reqwest::Client::new();
    let list = || {
        client
            .post(format!("{}/v2/calls/users-access", server.base))
            .basic_auth("ACMEKEY1", Some("acme-secret-0123456789"))
            .json(&json!({"filter": {"callIds": ["7782342274025937895"]}}))
            .send()
    };
    // Verified twice, so the server has the key in its cache.
    assert_eq!(list().await.unwrap().status().as_u16(), 200);
    assert_eq!(list().await.unwrap().status().as_u16(), 200);
    let output = tokio::process::Command::new(BIN)
        .args(["key", "revoke", "ACMEKEY1", "--database", &database])
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The next request, at once, is refused.
    assert_eq!(list().await.unwrap().status().as_u16(), 401);
    assert_eq!(server.terminate().await, 0);
}
