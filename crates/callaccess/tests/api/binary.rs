//! The real `callaccess` binary: `serve --seed` with its log lines, `serve
//! --demo` with curl commands that work as printed, refusal of a foreign
//! database, and a clean exit on SIGTERM.

use std::path::{Path, PathBuf};

use serde_json::{json, Value};

use crate::server_process::{cli, cli_ok, command, stdout_of, write_json, Server, GUARD};

fn write_seed(dir: &Path) -> PathBuf {
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
    write_json(dir, "seed.json", &seed)
}

/// `serve` on a SQLite file in `dir` seeded with [`write_seed`], and the
/// database's URL.
async fn start_seeded(dir: &Path, more: &[&str]) -> (Server, String) {
    let seed = write_seed(dir);
    let database = format!("sqlite:{}", dir.join("db.sqlite").display());
    let mut args = vec!["--database", &database, "--seed", seed.to_str().unwrap()];
    args.extend_from_slice(more);
    let server = Server::start(&args).await;
    (server, database)
}

/// The status of `response` and the log event of its request.
async fn logged(server: &mut Server, response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let request_id = response.headers()["x-traceid"].to_str().unwrap().to_owned();
    let event = server
        .find_log(|e| e["request_id"] == request_id.as_str())
        .await;
    (status, event)
}

#[tokio::test]
async fn serve_with_a_seed_logs_one_line_per_request_without_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let (mut server, _) = start_seeded(dir.path(), &[]).await;

    let client = reqwest::Client::new();
    let response = client
        .put(format!("{}/v2/calls/users-access", server.base))
        .basic_auth("ACMEKEY1", Some("acme-secret-0123456789"))
        .json(&json!({"callAccessList": [{"callId": "7782342274025937895", "userIds": ["234599484848423"]}]}))
        .send()
        .await
        .unwrap();
    let (status, event) = logged(&mut server, response).await;
    assert_eq!(status, 200);
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
    let (status, event) = logged(&mut server, response).await;
    assert_eq!(status, 401);
    assert_eq!(event["status"], 401);
    assert!(
        event.get("company_id").is_none_or(Value::is_null),
        "{event}"
    );
    assert!(!event.to_string().contains("guessed-secret"), "{event}");

    assert_eq!(server.terminate().await.code, 0);
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
    while curl_commands(&banner).len() < 8 {
        banner.push(
            server
                .next_stdout_line()
                .await
                .expect("the demo banner ended early"),
        );
    }
    let commands = curl_commands(&banner);
    assert_eq!(commands.len(), 8, "{banner:#?}");
    assert!(
        commands.iter().all(|c| c.contains(&server.base)),
        "{commands:#?}"
    );
    // Each command is run as printed, in the order printed.
    let mut answers = Vec::new();
    for command in &commands {
        let bash = tokio::process::Command::new("bash")
            .args(["-c", &format!("{command} -s")])
            .output()
            .await;
        let stdout = stdout_of(bash.unwrap(), command);
        let body: Value =
            serde_json::from_str(&stdout).unwrap_or_else(|_| panic!("{command} answered {stdout}"));
        assert!(body.get("errors").is_none(), "{command} answered {body}");
        // Gong's answers carry a request id; the admin API's have their own shapes.
        if !command.contains("/admin/v1/") {
            assert_eq!(body["requestId"].as_str().map(str::len), Some(19), "{body}");
        }
        answers.push(body);
    }
    let methods: Vec<&str> = commands
        .iter()
        .map(|c| {
            ["PUT", "POST", "DELETE"]
                .into_iter()
                .find(|m| c.contains(&format!(" -X {m} ")))
                .unwrap_or("GET")
        })
        .collect();
    assert_eq!(
        methods,
        vec!["PUT", "POST", "DELETE", "GET", "PUT", "POST", "POST", "GET"],
        "{commands:#?}"
    );
    let grantees = |answer: &Value| -> Vec<String> {
        answer["callAccessList"][0]["users"]
            .as_array()
            .unwrap_or_else(|| panic!("not a list answer: {answer}"))
            .iter()
            .map(|u| u["userId"].as_str().unwrap().to_owned())
            .collect()
    };
    // Grant, list, revoke: the list shows the granted user.
    assert_eq!(grantees(&answers[1]).len(), 1, "{}", answers[1]);
    // The users, with their managers.
    let users = answers[3]["users"].as_array().expect("a users list");
    assert_eq!(users.len(), 7, "{}", answers[3]);
    assert!(
        users.iter().any(|u| u["managerId"].is_string()),
        "{}",
        answers[3]
    );
    // The manager's PUT on a rep's call recorded nothing.
    assert_eq!(
        grantees(&answers[5]),
        Vec::<String>::new(),
        "{}",
        answers[5]
    );
    assert!(
        banner.iter().any(|l| l.contains("no effect")),
        "{banner:#?}"
    );
    // The admin commands: the fault rule was added, and it works: the next
    // DELETE of users-access is answered 429 with Retry-After.
    assert!(commands[6].contains("/admin/v1/faults"), "{}", commands[6]);
    let delete = commands[2].replace(" -X DELETE ", " -i -X DELETE ");
    let bash = tokio::process::Command::new("bash")
        .args(["-c", &format!("{delete} -s")])
        .output()
        .await
        .unwrap();
    let answer = stdout_of(bash, &delete);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 7"),
        "{answer}"
    );
    // The journal lists the requests the commands made.
    assert!(
        commands[7].contains("/admin/v1/requests"),
        "{}",
        commands[7]
    );
    assert!(
        answers[7].to_string().contains("/v2/calls/users-access"),
        "{}",
        answers[7]
    );
    assert_eq!(server.terminate().await.code, 0);
}

#[tokio::test]
async fn serve_refuses_a_file_that_is_not_a_callaccess_database() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notes.txt");
    let content = b"these are my notes, not a database\n".repeat(100);
    std::fs::write(&path, &content).unwrap();
    let output = cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &format!("sqlite:{}", path.display()),
    ])
    .await;
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
    let output = cli(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--database",
        &format!("sqlite:{}", dir.path().join("db.sqlite").display()),
        "--seed",
        seed.to_str().unwrap(),
    ])
    .await;
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
    let output = cli(&["serve", "--listen", "nowhere"]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--listen"));
    let output = cli(&["migrate", "--database", "mysql://u:hunter2@h/db"]).await;
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
    let (server, database) = start_seeded(dir.path(), &[]).await;
    let address = server.address.clone();

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

    server.sigterm();
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
    assert_eq!(server.wait().await.code, 0);

    // The acknowledged grant is on disk.
    let listed = cli_ok(&[
        "grants",
        "list",
        "--company",
        "1000000000000000001",
        "--call",
        "7782342274025937895",
        "--json",
        "--database",
        &database,
    ])
    .await;
    let listed: Value = serde_json::from_str(&listed).unwrap();
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
    let output = command()
        .args(["config", "show", "--config"])
        .arg(&file)
        .args(["--max-body-bytes", "3000"])
        .env("CALLACCESS_MAX_PAIRS", "6")
        .env("CALLACCESS_MAX_BODY_BYTES", "2000")
        .output()
        .await;
    let shown = stdout_of(output.unwrap(), "config show");
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
    let file_arg = file.to_str().unwrap();
    std::fs::write(&file, cli_ok(&["config", "default"]).await).unwrap();
    cli_ok(&["config", "show", "--config", file_arg]).await;

    // A misspelt setting is refused with its name.
    std::fs::write(&file, "[limits]\nmax_pair = 5\n").unwrap();
    let output = cli(&["config", "show", "--config", file_arg]).await;
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("max_pair"));
}

#[tokio::test]
async fn a_key_revoked_with_the_cli_is_refused_by_the_running_server() {
    let dir = tempfile::tempdir().unwrap();
    let (server, database) = start_seeded(dir.path(), &["--rate-limit-per-second", "off"]).await;
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
    cli_ok(&["key", "revoke", "ACMEKEY1", "--database", &database]).await;
    // The next request, at once, is refused.
    assert_eq!(list().await.unwrap().status().as_u16(), 401);
    assert_eq!(server.terminate().await.code, 0);
}
