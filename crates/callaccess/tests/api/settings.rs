//! Every group of settings, each set through the layer an operator would use
//! (file, environment variable, flag), shown taking effect in the real
//! binary from outside: the status a client gets, the port that answers, the
//! lines logged, the connections PostgreSQL sees. And what the binary prints
//! of settings: never a password, never a colour code into a pipe.
//!
//! Nothing here waits on a clock for an effect. Where a setting is a time,
//! it is shown either by a message that names it or by its order against
//! another configured time far from it.

use std::io::ErrorKind;
use std::path::Path;
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures_util::future::join_all;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::helpers::{postgres_server, PATH};
use crate::server_process::{command, write_json, Exited, Server, GUARD};

const KEY: (&str, &str) = ("SETTINGSKEY1", "settings-secret-0123456789");
const CALL: &str = "7782342274025937001";
const USERS: [&str; 3] = ["1001", "1002", "1003"];

/// One company with the key above, three users with profile `none` and a
/// call owned by a fourth; `rate_limit` is its own setting.
fn seed(dir: &Path, companies: &[(&str, Value)]) -> String {
    let companies: Vec<Value> = companies
        .iter()
        .enumerate()
        .map(|(i, (id, rate_limit))| {
            let mut users: Vec<Value> = USERS
                .iter()
                .map(|u| json!({"id": u, "emailAddress": format!("u{u}@c{id}.test")}))
                .collect();
            users.push(json!({"id": "1009", "emailAddress": format!("owner@c{id}.test")}));
            json!({
                "id": id,
                "name": format!("Company {id}"),
                "rateLimit": rate_limit,
                "apiKeys": [{"accessKey": format!("{}{i}", KEY.0), "accessKeySecret": KEY.1}],
                "users": users,
                "calls": [{"id": CALL, "primaryUserId": "1009"}]
            })
        })
        .collect();
    let path = write_json(dir, "seed.json", &json!({ "companies": companies }));
    path.display().to_string()
}

fn sqlite(dir: &Path, name: &str) -> String {
    format!("sqlite:{}", dir.join(name).display())
}

/// A client that keeps no idle connection, so that none holds a slot of a
/// server with few.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap()
}

/// A GET on a connection of its own.
async fn get(url: String) -> reqwest::Response {
    client().get(url).send().await.unwrap()
}

/// `(status, body)` of one API request with the key of company `index`.
async fn call_api(base: &str, index: usize, method: reqwest::Method, body: &str) -> (u16, Value) {
    let response = client()
        .request(method, format!("{base}{PATH}"))
        .basic_auth(format!("{}{index}", KEY.0), Some(KEY.1))
        .header("content-type", "application/json")
        .body(body.to_owned())
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

fn list_body() -> String {
    json!({"filter": {"callIds": [CALL]}}).to_string()
}

fn grant_body(users: &[&str]) -> String {
    json!({"callAccessList": [{"callId": CALL, "userIds": users}]}).to_string()
}

fn basic_header() -> String {
    use base64::Engine;
    let pair = format!("{}0:{}", KEY.0, KEY.1);
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// A PUT whose body never comes: its headers, with `extra` among them.
async fn stalled_put(address: &str, extra: &str) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let head = format!(
        "PUT {PATH} HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n{extra}Connection: close\r\n\r\n{{",
        basic_header()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

/// Everything until the server closes the connection.
async fn read_to_close(stream: &mut TcpStream) -> String {
    let mut answer = Vec::new();
    // A reset after the answer still leaves the answer.
    let _ = tokio::time::timeout(GUARD, stream.read_to_end(&mut answer))
        .await
        .expect("the server kept the connection");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Whether an answer has arrived, without waiting for one.
fn answered(stream: &TcpStream) -> bool {
    let mut byte = [0u8; 1];
    match stream.try_read(&mut byte) {
        Ok(_) => true,
        Err(e) if e.kind() == ErrorKind::WouldBlock => false,
        Err(_) => true,
    }
}

fn errors_of(answer: &str) -> Value {
    let body = answer.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str::<Value>(body).unwrap_or_else(|_| panic!("no JSON in {answer:?}"))
        ["errors"]
        .clone()
}

fn config(dir: &Path, text: &str) -> String {
    let path = dir.join("callaccess.toml");
    std::fs::write(&path, text).unwrap();
    path.display().to_string()
}

/// A company with no rate limits of its own.
const UNLIMITED: (&str, &str) = ("100", r#"{"perSecond": "off", "perDay": "off"}"#);

/// A test's folder: a SQLite database, a seed of `companies` (id, own rate
/// limits) and a configuration file of `settings`.
struct Setup {
    /// Held so that the folder outlives the test's servers.
    _dir: tempfile::TempDir,
    database: String,
    seed: String,
    config: String,
}

impl Setup {
    fn new(companies: &[(&str, &str)], settings: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let companies: Vec<(&str, Value)> = companies
            .iter()
            .map(|(id, limits)| (*id, serde_json::from_str(limits).unwrap()))
            .collect();
        Setup {
            database: sqlite(dir.path(), "db.sqlite"),
            seed: seed(dir.path(), &companies),
            config: config(dir.path(), settings),
            _dir: dir,
        }
    }

    /// `serve` on this database, seeded, with this file, and `more`.
    async fn serve(&self, more: &[&str], env: &[(&str, &str)]) -> Server {
        let mut args = vec![
            "--config",
            &self.config,
            "--database",
            &self.database,
            "--seed",
            &self.seed,
        ];
        args.extend(more);
        Server::start_with(&args, env).await
    }
}

#[tokio::test]
async fn server_settings_take_effect() {
    // The request held in flight below would end by its request timeout
    // (20 s) if the grace period (1 ms) were not applied.
    let setup = Setup::new(
        &[UNLIMITED],
        "[server]\nlisten = \"127.0.0.1:0\"\nshutdown_grace = \"1ms\"\n[limits]\nrequest_timeout = \"20s\"\nbody_read_timeout = \"1h\"\n",
    );
    let metrics = [("CALLACCESS_METRICS_LISTEN", "127.0.0.1:0")];
    let server = setup.serve(&["--max-connections", "1"], &metrics).await;

    // listen, from the file: port 0 there, so not the default 8080.
    assert!(
        server.base.starts_with("http://127.0.0.1:"),
        "{}",
        server.base
    );
    assert!(!server.base.ends_with(":8080"), "{}", server.base);

    // max_connections, from the flag: while the only slot is held by a
    // request in flight, a second connection is not served, however long it
    // waits...
    let metrics_base = server.metrics_base.clone().expect("no \"metrics on\" line");
    let mut first = stalled_put(&server.address, "Expect: 100-continue\r\n").await;
    let mut interim = [0u8; 25];
    tokio::time::timeout(GUARD, first.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert!(interim.starts_with(b"HTTP/1.1 100 Continue"));
    let mut second = TcpStream::connect(&server.address).await.unwrap();
    second
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    for _ in 0..20 {
        let metrics = get(format!("{metrics_base}/metrics")).await;
        assert_eq!(metrics.status().as_u16(), 200);
    }
    assert!(!answered(&second), "a connection over the limit was served");
    // ...and is served once that request has its answer.
    first.write_all(&[b' '; 99]).await.unwrap();
    let first_answer = read_to_close(&mut first).await;
    assert!(first_answer.starts_with("HTTP/1.1 400"), "{first_answer}");
    let answer = read_to_close(&mut second).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");

    // metrics_listen, from the environment: /metrics on a port of its own.
    let on_api = get(format!("{}/metrics", server.base)).await;
    assert_eq!(on_api.status().as_u16(), 404);
    let metrics = get(format!("{metrics_base}/metrics")).await;
    assert_eq!(metrics.status().as_u16(), 200);
    let text = metrics.text().await.unwrap();
    assert!(text.contains("callaccess_http_requests_total"), "{text}");
    let health = get(format!("{}/healthz", server.base)).await;
    assert!(health.status().is_success());

    // shutdown_grace, from the file: a request still waiting for its body
    // at SIGTERM is cut off at the end of the grace period, unanswered.
    let mut in_flight = stalled_put(&server.address, "Expect: 100-continue\r\n").await;
    let mut interim = [0u8; 25];
    tokio::time::timeout(GUARD, in_flight.read_exact(&mut interim))
        .await
        .unwrap()
        .unwrap();
    assert!(interim.starts_with(b"HTTP/1.1 100 Continue"));
    let Exited { code, log } = server.terminate().await;
    assert_eq!(code, 0, "{log:#?}");
    let rest = read_to_close(&mut in_flight).await;
    assert!(
        !rest.contains("HTTP/1.1 503"),
        "answered instead of cut off: {rest}"
    );
    assert!(
        log.iter().any(|l| l.contains("cut off")),
        "no cut-off line in {log:#?}"
    );
}

#[tokio::test]
async fn limit_settings_take_effect() {
    let setup = Setup::new(
        &[UNLIMITED],
        "[limits]\nmax_body_bytes = 2000\nbody_read_timeout = \"2s\"\n",
    );
    let env = [
        ("CALLACCESS_MAX_PAIRS", "2"),
        ("CALLACCESS_REQUEST_TIMEOUT", "1h"),
    ];
    let flags = ["--listen", "127.0.0.1:0", "--header-read-timeout", "200ms"];
    let server = setup.serve(&flags, &env).await;

    // max_body_bytes, from the file: 2000 bytes pass, 2001 are refused.
    let padded = |size: usize| {
        let body = list_body();
        format!("{body}{}", " ".repeat(size - body.len()))
    };
    let (status, body) = call_api(&server.base, 0, reqwest::Method::POST, &padded(2000)).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call_api(&server.base, 0, reqwest::Method::POST, &padded(2001)).await;
    assert_eq!(status, 413, "{body}");
    assert_eq!(
        body["errors"][0],
        "request body is larger than the limit of 2000 bytes"
    );

    // max_pairs, from the environment.
    let (status, body) = call_api(
        &server.base,
        0,
        reqwest::Method::PUT,
        &grant_body(&USERS[..2]),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call_api(&server.base, 0, reqwest::Method::PUT, &grant_body(&USERS)).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body["errors"][0],
        "callAccessList: at most 2 (call, user) pairs are allowed per request, got 3"
    );

    // header_read_timeout (flag, 200 ms) and body_read_timeout (file, 2 s):
    // a client that never finishes its headers is let go while one that
    // began at the same time and stalls in its body still waits; were the
    // header timeout the default 10 s, the body's 408 would come first.
    let mut headers_only = TcpStream::connect(&server.address).await.unwrap();
    headers_only
        .write_all(format!("POST {PATH} HTTP/1.1\r\nHost: x\r\n").as_bytes())
        .await
        .unwrap();
    let mut body_stalled = stalled_put(&server.address, "").await;
    read_to_close(&mut headers_only).await;
    assert!(
        !answered(&body_stalled),
        "the body timeout struck before the header timeout"
    );
    let answer = read_to_close(&mut body_stalled).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(
        errors_of(&answer)[0],
        "the request body was not received within 2s"
    );
    assert_eq!(server.terminate().await.code, 0);

    // request_timeout, from the environment, where it is shorter than the
    // body's time.
    let server = Server::start_with(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &setup.database,
            "--body-read-timeout",
            "1h",
        ],
        &[("CALLACCESS_REQUEST_TIMEOUT", "300ms")],
    )
    .await;
    let mut stalled = stalled_put(&server.address, "").await;
    let answer = read_to_close(&mut stalled).await;
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert_eq!(
        errors_of(&answer)[0],
        "the request did not finish within 300ms; retry it (PUT and DELETE are safe to repeat)"
    );
    assert_eq!(server.terminate().await.code, 0);
}

#[tokio::test]
async fn rate_limit_settings_take_effect() {
    // Company 0 is held only to the per-second default, company 1 only to
    // the daily one.
    let setup = Setup::new(
        &[
            ("100", r#"{"perDay": "off"}"#),
            ("200", r#"{"perSecond": "off"}"#),
        ],
        "[rate_limit]\nper_second = 2\n",
    );
    let flags = ["--listen", "127.0.0.1:0", "--rate-limit-day-window", "1h"];
    let server = setup
        .serve(&flags, &[("CALLACCESS_RATE_LIMIT_PER_DAY", "3")])
        .await;

    // per_second, from the file: a burst past 2 is refused.
    let list = list_body();
    let burst = (0..12).map(|_| call_api(&server.base, 0, reqwest::Method::POST, &list));
    let answers = join_all(burst).await;
    let refused: Vec<&Value> = answers
        .iter()
        .filter(|(status, _)| *status == 429)
        .map(|(_, body)| &body["errors"][0])
        .collect();
    assert!(
        answers.iter().any(|(status, _)| *status == 200),
        "{answers:?}"
    );
    assert!(!refused.is_empty(), "no request of the burst was refused");
    for error in refused {
        assert!(
            error
                .as_str()
                .unwrap()
                .starts_with("rate limit exceeded: this company may make 2 requests per second"),
            "{error}"
        );
    }

    // per_day, from the environment, over the window from the flag: a
    // budget of 3 an hour returns one request every 1200 s.
    for _ in 0..3 {
        let (status, body) = call_api(&server.base, 1, reqwest::Method::POST, &list_body()).await;
        assert_eq!(status, 200, "{body}");
    }
    let response = client()
        .post(format!("{}{PATH}", server.base))
        .basic_auth(format!("{}1", KEY.0), Some(KEY.1))
        .header("content-type", "application/json")
        .body(list_body())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1000..=1200).contains(&retry_after),
        "retry after {retry_after} s, not about a third of an hour"
    );
    let body: Value = response.json().await.unwrap();
    assert!(
        body["errors"][0]
            .as_str()
            .unwrap()
            .starts_with("rate limit exceeded: this company may make 3 requests per day"),
        "{body}"
    );
    assert_eq!(server.terminate().await.code, 0);
}

/// `callaccess ARGS…` with `env` added.
async fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .await
        .unwrap()
}

async fn companies_in(database: &str) -> Vec<String> {
    let output = run(&["company", "list", "--json", "--database", database], &[]).await;
    assert!(output.status.success(), "{output:?}");
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn the_database_setting_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let (file_db, env_db, flag_db) = (
        sqlite(dir.path(), "file.db"),
        sqlite(dir.path(), "env.db"),
        sqlite(dir.path(), "flag.db"),
    );
    let config = config(dir.path(), &format!("database = \"{file_db}\"\n"));
    let env = [("CALLACCESS_DATABASE", env_db.as_str())];
    let create = |name: &'static str| {
        [
            "--config",
            config.as_str(),
            "company",
            "create",
            "--name",
            name,
        ]
    };
    assert!(run(&create("FromFile"), &[]).await.status.success());
    assert!(run(&create("FromEnv"), &env).await.status.success());
    let mut flagged = create("FromFlag").to_vec();
    flagged.extend(["--database", flag_db.as_str()]);
    assert!(run(&flagged, &env).await.status.success());
    assert_eq!(companies_in(&file_db).await, ["FromFile"]);
    assert_eq!(companies_in(&env_db).await, ["FromEnv"]);
    assert_eq!(companies_in(&flag_db).await, ["FromFlag"]);

    // serve, too, opens the database of the environment over the file's: a
    // key created there is accepted.
    let output = run(&["company", "list", "--json", "--database", &env_db], &[]).await;
    let listed: Value = serde_json::from_slice(&output.stdout).unwrap();
    let company = listed[0]["id"].as_str().unwrap().to_owned();
    let output = run(
        &[
            "key",
            "create",
            "--company",
            &company,
            "--json",
            "--database",
            &env_db,
        ],
        &[],
    )
    .await;
    assert!(output.status.success(), "{output:?}");
    let key: Value = serde_json::from_slice(&output.stdout).unwrap();
    let server = Server::start_with(&["--listen", "127.0.0.1:0", "--config", &config], &env).await;
    let response = client()
        .post(format!("{}{PATH}", server.base))
        .basic_auth(
            key["accessKey"].as_str().unwrap(),
            key["accessKeySecret"].as_str(),
        )
        .json(&json!({"filter": {"callIds": []}}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(server.terminate().await.code, 0);
}

/// Starts, answers one request, stops; every line it logged.
async fn log_of(args: &[&str], env: &[(&str, &str)]) -> Vec<String> {
    let server = Server::start_with(args, env).await;
    let health = get(format!("{}/healthz", server.base)).await;
    assert_eq!(health.status().as_u16(), 200);
    let Exited { code, log } = server.terminate().await;
    assert_eq!(code, 0, "{log:#?}");
    assert!(log.len() >= 3, "{log:#?}");
    log
}

fn is_json(line: &str) -> bool {
    serde_json::from_str::<Value>(line).is_ok_and(|v| v.is_object())
}

#[tokio::test]
async fn the_log_format_setting_takes_effect() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path(), "log_format = \"json\"\n");
    let database = sqlite(dir.path(), "db.sqlite");
    let args = [
        "--listen",
        "127.0.0.1:0",
        "--config",
        &config,
        "--database",
        &database,
    ];

    let from_file = log_of(&args, &[]).await;
    assert!(from_file.iter().all(|l| is_json(l)), "{from_file:#?}");

    let text = [("CALLACCESS_LOG_FORMAT", "text")];
    let from_env = log_of(&args, &text).await;
    assert!(from_env.iter().all(|l| !is_json(l)), "{from_env:#?}");
    assert!(
        from_env.iter().any(|l| l.contains(" INFO ")),
        "{from_env:#?}"
    );

    let mut flagged = args.to_vec();
    flagged.extend(["--log-format", "json"]);
    let from_flag = log_of(&flagged, &text).await;
    assert!(from_flag.iter().all(|l| is_json(l)), "{from_flag:#?}");
}

#[tokio::test]
async fn logs_carry_no_colour_codes_when_stderr_is_not_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite(dir.path(), "db.sqlite");
    // Text is the format that colours, and a request logs fields.
    let log = log_of(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            &database,
            "--log-format",
            "text",
        ],
        &[],
    )
    .await;
    assert!(log.iter().any(|l| l.contains("/healthz")), "{log:#?}");
    for line in &log {
        assert!(!line.contains("\x1b["), "a colour code in {line:?}");
    }
}

/// Environment variables to add.
type Env<'a> = Vec<(&'a str, &'a str)>;

#[tokio::test]
async fn no_password_is_printed() {
    const SECRET: &str = "SuperSecret";
    let url = format!("postgres://u:{SECRET}@127.0.0.1/x");
    // Port 1: nothing listens, so opening fails, and says so.
    let unreachable = format!("postgres://u:{SECRET}@127.0.0.1:1/x");
    let malformed = format!("postgres//u:{SECRET}@127.0.0.1/x");
    let key_values = format!("host=127.0.0.1 user=u password={SECRET} dbname=x");
    let runs: Vec<(Vec<&str>, Env)> = vec![
        (vec!["config", "show", "--database", &url], vec![]),
        (vec!["config", "show"], vec![("CALLACCESS_DATABASE", &url)]),
        (vec!["migrate", "--database", &unreachable], vec![]),
        (vec!["migrate"], vec![("CALLACCESS_DATABASE", &unreachable)]),
        (vec!["config", "show", "--database", &malformed], vec![]),
        (
            vec!["config", "show"],
            vec![("CALLACCESS_DATABASE", &key_values)],
        ),
    ];
    for (args, env) in &runs {
        let output = run(args, env).await;
        let printed = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        assert!(
            !printed.contains(SECRET),
            "{args:?} {env:?} printed: {printed}"
        );
        assert!(!printed.is_empty(), "{args:?} {env:?} printed nothing");
        if args.starts_with(&["config", "show"]) && output.status.success() {
            assert!(
                printed.contains("database = \"postgres://u:***@127.0.0.1/x\""),
                "{printed}"
            );
        }
    }
}

/// How many sessions the server has open on `database`, as PostgreSQL
/// counts them.
const SESSIONS: &str = "SELECT count(*) FROM pg_stat_activity \
                        WHERE datname = $1 AND application_name = 'callaccess'";

#[tokio::test]
async fn the_pool_settings_bound_the_connections_serve_opens() {
    let Some(server_url) = postgres_server() else {
        return;
    };
    let scratch = callaccess_postgres::scratch::ScratchDatabase::create(&server_url)
        .await
        .unwrap();
    let setup = Setup::new(&[UNLIMITED], "");
    let imported = run(&["import", &setup.seed, "--database", scratch.url()], &[]).await;
    assert!(imported.status.success(), "{imported:?}");
    let key = run(
        &[
            "key",
            "create",
            "--company",
            "100",
            "--json",
            "--database",
            scratch.url(),
        ],
        &[],
    )
    .await;
    assert!(key.status.success(), "{key:?}");
    let key: Value = serde_json::from_slice(&key.stdout).unwrap();
    let (access_key, key_secret) = (
        key["accessKey"].as_str().unwrap().to_owned(),
        key["accessKeySecret"].as_str().unwrap().to_owned(),
    );

    let server = Server::start_with(
        &[
            "--listen",
            "127.0.0.1:0",
            "--database",
            scratch.url(),
            "--pool-max-connections",
            "3",
        ],
        &[],
    )
    .await;

    // Sampled from a connection of the test's own, which PostgreSQL names
    // otherwise, until after the load: a pooled connection stays open when
    // idle, so the last sample sees every one the load opened.
    let (sampler, connection) = tokio_postgres::connect(&server_url, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    let done = Arc::new(AtomicBool::new(false));
    let sampling = tokio::spawn({
        let done = done.clone();
        let name = scratch.name().to_owned();
        async move {
            let mut samples = Vec::new();
            loop {
                let finished = done.load(Ordering::SeqCst);
                let row = sampler.query_one(SESSIONS, &[&name]).await.unwrap();
                samples.push(row.get::<_, i64>(0));
                if finished {
                    return samples;
                }
            }
        }
    });

    let client = reqwest::Client::new();
    for round in 0..4 {
        let requests = (0..64).map(|i| {
            let request = if i % 2 == 0 {
                let user = USERS[(i / 2 + round) % USERS.len()];
                client
                    .put(format!("{}{PATH}", server.base))
                    .body(grant_body(&[user]))
            } else {
                client
                    .post(format!("{}{PATH}", server.base))
                    .body(list_body())
            };
            request
                .basic_auth(&access_key, Some(&key_secret))
                .header("content-type", "application/json")
                .send()
        });
        for response in join_all(requests).await {
            let response = response.unwrap();
            let status = response.status().as_u16();
            assert_eq!(status, 200, "{}", response.text().await.unwrap());
        }
    }
    done.store(true, Ordering::SeqCst);
    let samples = sampling.await.unwrap();
    let most = samples.iter().copied().max().unwrap_or(0);
    // The pool's 3, and the one connection that listens for audit entries
    // committed through other nodes (the change stream).
    assert!(
        (2..=4).contains(&most),
        "serve had up to {most} connections open with --pool-max-connections 3 (+1 listening) ({} samples)",
        samples.len()
    );
    assert_eq!(server.terminate().await.code, 0);
}

/// `callaccess ARGS… --database DATABASE --json`, which must succeed.
async fn json_of(args: &[&str], database: &str) -> Value {
    let mut all = args.to_vec();
    all.extend(["--database", database, "--json"]);
    let output = run(&all, &[]).await;
    assert!(output.status.success(), "{output:?}");
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn the_audit_settings_take_effect() {
    let dir = tempfile::tempdir().unwrap();
    let database = sqlite(dir.path(), "audit.db");
    // Entries written now, by the command line's (system) clock.
    json_of(
        &["company", "create", "--id", "100", "--name", "A"],
        &database,
    )
    .await;
    json_of(
        &[
            "user",
            "add",
            "--company",
            "100",
            "--id",
            "1",
            "--email",
            "a@a.test",
        ],
        &database,
    )
    .await;
    let admin = json_of(&["admin-token", "create"], &database).await;
    let token = admin["token"].as_str().unwrap().to_owned();
    let before = json_of(&["audit", "list"], &database).await;
    assert_eq!(before.as_array().unwrap().len(), 2, "{before}");

    // audit_retention from the file, changes_heartbeat from the flag, on a
    // clock years ahead: every entry is past its retention at start.
    let config = config(dir.path(), "[control]\naudit_retention = \"90d\"\n");
    let server = Server::start_with(
        &[
            "--config",
            &config,
            "--database",
            &database,
            "--listen",
            "127.0.0.1:0",
            "--clock",
            "manual=2040-01-01T00:00:00Z",
            "--changes-heartbeat",
            "100ms",
        ],
        &[],
    )
    .await;
    let client = client();
    let mut stream = client
        .get(format!("{}/admin/v1/changes", server.base))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status().as_u16(), 200);
    let mut text = String::new();
    while !text.contains(": heartbeat\n\n: heartbeat") {
        let chunk = tokio::time::timeout(GUARD, stream.chunk())
            .await
            .expect("no heartbeat")
            .unwrap()
            .expect("the stream ended");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    // Retention runs beside serving; each heartbeat is a moment to look
    // again, for as long as the guard allows.
    let pruned = tokio::time::timeout(GUARD, async {
        loop {
            let audit = client
                .get(format!("{}/admin/v1/audit", server.base))
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            let listed: Value = audit.json().await.unwrap();
            if listed["items"] == json!([]) {
                return;
            }
            stream.chunk().await.unwrap().expect("the stream ended");
        }
    })
    .await;
    assert!(pruned.is_ok(), "the entries past their retention stayed");
    drop(stream);
    assert_eq!(server.terminate().await.code, 0);
}
