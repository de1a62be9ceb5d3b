//! Storage that stops taking writes under a running SQLite node, with real
//! files: a database file its user may not write, a full file system, and,
//! on `callaccess-testfs` (FUSE), a device that fails I/O (EIO) and a file
//! system that turns read-only (EROFS). Each write answers 503 in the
//! envelope with `Retry-After` and the cause in the log only, `/readyz`
//! answers 503 while writes fail, reads keep working, and once the cause is
//! gone writes succeed again without a restart.
//!
//! A folder its user may not write is different, as SQLite makes it: the
//! server cannot start there without its -wal and -shm files (it says so
//! and exits), but a folder that turns read-only under a running server
//! stops nothing, since SQLite needs the folder only to create and remove
//! those files.
//!
//! The tests of owners and mounts need root; they print `SKIPPED: …` and
//! pass where that is not possible. The FUSE tests fail where FUSE cannot be
//! mounted, unless `CALLACCESS_SKIP_FUSE=1` (see `crate::testfs`).

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};

use crate::helpers::{send_with_key, Reply, PATH};
use callaccess_testfs::TestFs;

use crate::server_process::{serve_args, serve_as_to_end, write_json, Server, BIN};
use crate::testfs::{folders, mount};

const KEY: (&str, &str) = ("FAULTKEY", "fault-secret-0123456789");
const CALL: &str = "41";
/// The unprivileged user the read-only test runs the server as.
const USER: &str = "nobody";

/// What the log says of a write on a device that failed it.
const DEVICE_FAILED: &str = "the disk holding the database failed a read or write";
/// What the log says of a write on a database that could not be opened for
/// writing.
const READ_ONLY: &str = "the database cannot be written or opened";

/// Calls besides [`CALL`] that the full-disk test grants on in bulk, so that
/// every write adds rows and pages.
const BULK_CALLS: i64 = 300;

fn bulk_call(i: i64) -> String {
    (1_000 + i).to_string()
}

fn seed() -> Value {
    let users: Vec<Value> = (1..=6)
        .map(|id| json!({"id": id.to_string(), "emailAddress": format!("u{id}@fault.test")}))
        .collect();
    let mut calls = vec![json!({"id": CALL, "primaryUserId": "6"})];
    calls.extend((0..BULK_CALLS).map(|i| json!({"id": bulk_call(i), "primaryUserId": "6"})));
    json!({"companies": [{
        "id": "400",
        "name": "Faults",
        "rateLimit": {"perSecond": "off", "perDay": "off"},
        "apiKeys": [{"accessKey": KEY.0, "accessKeySecret": KEY.1}],
        "users": users,
        "calls": calls
    }]})
}

fn grant(users: &[&str]) -> Value {
    json!({"callAccessList": [{"callId": CALL, "userIds": users}]})
}

/// Grants of `users` on `count` bulk calls from `first` on.
fn bulk_grant(first: i64, count: i64, users: &[&str]) -> Value {
    let items: Vec<Value> = (first..first + count)
        .map(|i| json!({"callId": bulk_call(i % BULK_CALLS), "userIds": users}))
        .collect();
    json!({"callAccessList": items})
}

/// Creates and seeds `database` with the CLI, as the operator would before
/// serving; `seed_dir` holds the seed file.
fn import(database: &Path, seed_dir: &Path) {
    let seed = write_json(seed_dir, "seed.json", &seed());
    let output = Command::new(BIN)
        .arg("--database")
        .arg(format!("sqlite:{}", database.display()))
        .arg("import")
        .arg(&seed)
        .env_remove("CALLACCESS_DATABASE")
        .env_remove("CALLACCESS_LOG_FORMAT")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "import failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// One API request.
async fn send(
    client: &reqwest::Client,
    server: &Server,
    method: reqwest::Method,
    body: Value,
) -> Reply {
    send_with_key(
        client,
        method,
        &format!("{}{PATH}", server.base),
        KEY,
        &body,
    )
    .await
}

/// Status, body and `x-traceid` of one API request.
async fn call(
    client: &reqwest::Client,
    server: &Server,
    method: reqwest::Method,
    body: Value,
) -> (u16, Value, String) {
    let reply = send(client, server, method, body).await;
    let trace = header(&reply, "x-traceid").unwrap_or_default();
    (reply.status, reply.body, trace)
}

fn header(reply: &Reply, name: &str) -> Option<String> {
    reply
        .headers
        .get(name)
        .map(|v| v.to_str().unwrap().to_owned())
}

async fn readyz(client: &reqwest::Client, server: &Server) -> (u16, String) {
    let response = client
        .get(format!("{}/readyz", server.base))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// The users granted on the call, by a read (POST), which must succeed.
async fn granted(client: &reqwest::Client, server: &Server) -> Vec<String> {
    let (status, body, _) = call(
        client,
        server,
        reqwest::Method::POST,
        json!({"filter": {"callIds": [CALL]}}),
    )
    .await;
    assert_eq!(status, 200, "a read must keep working: {body}");
    body["callAccessList"][0]["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userId"].as_str().unwrap().to_owned())
        .collect()
}

/// A write refused for a fault of the storage: 503 with `Retry-After`, the
/// envelope, a generic message for the client, and the operator's message
/// (which contains one of `causes`) in the request's log line.
async fn assert_refused(
    client: &reqwest::Client,
    server: &mut Server,
    method: reqwest::Method,
    body: Value,
    causes: &[&str],
) {
    let reply = send(client, server, method.clone(), body).await;
    let trace = header(&reply, "x-traceid").unwrap_or_default();
    let (status, body) = (reply.status, reply.body.clone());
    assert_eq!(status, 503, "{method} on faulty storage: {body}");
    let retry = header(&reply, "retry-after");
    assert!(
        retry
            .as_deref()
            .and_then(|r| r.parse::<u32>().ok())
            .is_some(),
        "a 503 says when to retry: {retry:?}"
    );
    assert_eq!(body["requestId"].as_str(), Some(trace.as_str()), "{body}");
    let errors = body["errors"].as_array().expect("errors in the envelope");
    assert!(!errors.is_empty(), "{body}");
    cause_only_in_the_log(server, &body, &trace, "database", causes).await;
}

/// The cause of a failed request (one of `causes`) is in its log line and
/// not in the answer's `body`, which must not mention `hidden`.
async fn cause_only_in_the_log(
    server: &mut Server,
    body: &Value,
    trace: &str,
    hidden: &str,
    causes: &[&str],
) {
    assert!(
        !body.to_string().contains(hidden),
        "the cause reached the client: {body}"
    );
    let line = server
        .find_log(|event| {
            let text = event.to_string();
            text.contains(trace) && text.contains("request failed")
        })
        .await;
    assert!(
        causes.iter().any(|cause| line.to_string().contains(cause)),
        "the log line of {trace} must say one of {causes:?}: {line}"
    );
}

/// A server on healthy storage holding `database`: ready, and user 1 granted.
async fn serve_and_grant(database: &Path) -> (Server, reqwest::Client) {
    let args = serve_args(database);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Server::start_with(&args, &[]).await;
    let client = reqwest::Client::new();
    assert_eq!(readyz(&client, &server).await.0, 200);
    let (status, body, _) = call(&client, &server, reqwest::Method::PUT, grant(&["1"])).await;
    assert_eq!(status, 200, "{body}");
    (server, client)
}

/// Three writes (PUT, DELETE, PUT of users 1 and 2) refused as
/// [`assert_refused`] says.
async fn assert_writes_refused(client: &reqwest::Client, server: &mut Server, causes: &[&str]) {
    for method in [
        reqwest::Method::PUT,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
    ] {
        assert_refused(client, server, method, grant(&["1", "2"]), causes).await;
    }
}

/// Once the cause is gone (`what`), without a restart: readiness notices by
/// itself (a load balancer sends no writes to a node that is not ready), and
/// writes succeed. User 1 is granted afterwards, and no other.
async fn assert_recovered(client: &reqwest::Client, server: &Server, what: &str) {
    let (status, body) = readyz(client, server).await;
    assert_eq!(status, 200, "/readyz once {what}: {body}");
    let (status, body, _) = call(client, server, reqwest::Method::PUT, grant(&["1", "2"])).await;
    assert_eq!(status, 200, "the next write: {body}");
    let (status, body, _) = call(client, server, reqwest::Method::DELETE, grant(&["2"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(granted(client, server).await, vec!["1"]);
    assert_eq!(readyz(client, server).await.0, 200);
}

/// SIGTERM, and the node exits 0. Shutdown with idle keep-alive connections
/// open is not what these tests are about, so the client goes first.
async fn stops_cleanly(client: reqwest::Client, server: Server) {
    drop(client);
    let exited = server.terminate().await;
    assert_eq!(exited.code, 0, "{:#?}", exited.log);
}

fn chown(path: &Path, owner: &str) {
    let status = Command::new("chown").arg(owner).arg(path).status().unwrap();
    assert!(status.success(), "chown {owner} {}", path.display());
}

/// Whether this process may give files away (root, or `CAP_CHOWN`).
fn may_chown(dir: &Path) -> Result<(), String> {
    let probe = dir.join("chown-probe");
    std::fs::write(&probe, b"").unwrap();
    let output = Command::new("chown")
        .arg(USER)
        .arg(&probe)
        .output()
        .map_err(|e| format!("cannot run chown: {e}"))?;
    std::fs::remove_file(&probe).unwrap();
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "cannot give a file to {USER}: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}

/// A folder in `dir` holding a seeded database, both of them root's, where
/// [`USER`] can reach them (the temporary folder is private to root);
/// `None`, having said why the test skips, where this process may not give
/// files away.
fn database_for_user(dir: &Path) -> Option<(PathBuf, PathBuf)> {
    if let Err(why) = may_chown(dir) {
        println!("SKIPPED: {why}");
        return None;
    }
    let folder = dir.join("db");
    std::fs::create_dir(&folder).unwrap();
    let database = folder.join("faults.db");
    import(&database, dir);
    std::fs::set_permissions(dir, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    Some((folder, database))
}

#[tokio::test]
async fn a_database_file_its_user_may_not_write_answers_503_and_recovers_without_restart() {
    let dir = tempfile::tempdir().unwrap();
    let Some((folder, database)) = database_for_user(dir.path()) else {
        return;
    };
    // The server's user must be able to create the -wal and -shm files
    // beside the database, but not to write the database file itself.
    for entry in std::fs::read_dir(&folder).unwrap() {
        chown(&entry.unwrap().path(), USER);
    }
    chown(&folder, USER);
    chown(&database, "root");
    std::fs::set_permissions(
        &database,
        std::os::unix::fs::PermissionsExt::from_mode(0o644),
    )
    .unwrap();

    let args = serve_args(&database);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let mut server = match Server::start_as(USER, &args, &[]).await {
        Ok(server) => server,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let client = reqwest::Client::new();

    // Known from the start: the file could only be opened read-only.
    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 503, "/readyz on a read-only database: {body}");
    assert_writes_refused(&client, &mut server, &[READ_ONLY]).await;
    assert_eq!(readyz(&client, &server).await.0, 503);
    assert!(granted(&client, &server).await.is_empty());

    // The operator fixes the owner.
    chown(&database, USER);
    assert_recovered(&client, &server, "the file is writable").await;
    stops_cleanly(client, server).await;
}

#[tokio::test]
async fn a_database_folder_its_user_may_not_write_refuses_to_start_but_does_not_stop_writes() {
    let dir = tempfile::tempdir().unwrap();
    let Some((folder, database)) = database_for_user(dir.path()) else {
        return;
    };
    // The database file is the server's user's; its folder stays root's.
    chown(&database, USER);
    let args = serve_args(&database);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let wal = folder.join("faults.db-wal");

    // SQLite must create the -wal and -shm files beside the database before
    // it can use it, so the server does not start, and says what to fix.
    let refused = match serve_as_to_end(USER, &args).await {
        Ok(output) => output,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let log = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success(),
        "started in a read-only folder: {log}"
    );
    assert!(
        log.contains(READ_ONLY) && log.contains("its folder"),
        "{log}"
    );
    assert!(!wal.exists());

    chown(&folder, USER);
    let server = Server::start_as(USER, &args, &[]).await.unwrap();
    let client = reqwest::Client::new();
    let (status, body, _) = call(&client, &server, reqwest::Method::PUT, grant(&["1"])).await;
    assert_eq!(status, 200, "{body}");

    // The folder turns read-only under the running server. SQLite needs it
    // only to create and remove its -wal and -shm files, which exist now,
    // so writes go on and the node stays ready.
    chown(&folder, "root");
    let (status, body, _) = call(&client, &server, reqwest::Method::PUT, grant(&["1", "2"])).await;
    assert_eq!(status, 200, "a write in a read-only folder: {body}");
    let (status, body, _) = call(&client, &server, reqwest::Method::DELETE, grant(&["2"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(readyz(&client, &server).await.0, 200);
    assert_eq!(granted(&client, &server).await, vec!["1"]);
    stops_cleanly(client, server).await;

    // On the way out it could not remove its -wal file; with it there, the
    // server starts again in the read-only folder, with nothing lost.
    assert!(
        wal.exists(),
        "the -wal file was removed from a read-only folder"
    );
    let server = Server::start_as(USER, &args, &[]).await.unwrap();
    let client = reqwest::Client::new();
    assert_eq!(granted(&client, &server).await, vec!["1"]);
    let (status, body, _) = call(&client, &server, reqwest::Method::PUT, grant(&["3"])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(granted(&client, &server).await, vec!["1", "3"]);
    stops_cleanly(client, server).await;
}

/// A tmpfs mounted for one test, unmounted when dropped (also when the test
/// fails).
struct Mount {
    dir: PathBuf,
}

impl Mount {
    fn tmpfs(dir: &Path, size: &str) -> Result<Self, String> {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir)
            .output()
            .map_err(|e| format!("cannot run mount: {e}"))?;
        if !output.status.success() {
            return Err(format!(
                "cannot mount a tmpfs: {}",
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        Ok(Self {
            dir: dir.to_owned(),
        })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazily: a server killed by a failing test may still hold files.
        let _ = Command::new("umount").arg("-l").arg(&self.dir).status();
    }
}

/// Fills the file system under `filler` until a write fails; returns the
/// bytes written.
fn fill(filler: &Path) -> u64 {
    use std::io::Write;
    let mut file = std::fs::File::create(filler).unwrap();
    let chunk = vec![0xA5u8; 4096];
    let mut written = 0;
    loop {
        match file.write(&chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    // What did fit is on "disk"; on tmpfs sync is a formality.
    let _ = file.sync_all();
    written
}

#[tokio::test]
async fn a_full_disk_answers_503_and_recovers_when_space_returns() {
    let dir = tempfile::tempdir().unwrap();
    let mountpoint = dir.path().join("small");
    std::fs::create_dir(&mountpoint).unwrap();
    // Declared before the server, so dropped (unmounted) after it.
    let _mount = match Mount::tmpfs(&mountpoint, "2m") {
        Ok(mount) => mount,
        Err(why) => {
            println!("SKIPPED: {why}");
            return;
        }
    };
    let database = mountpoint.join("faults.db");
    import(&database, dir.path());
    let (mut server, client) = serve_and_grant(&database).await;

    let filler = mountpoint.join("filler");
    assert!(fill(&filler) > 0, "the tmpfs had no room at all");
    // The log may still have room for a few pages (or reuse frames a
    // checkpoint freed), so a write or two may pass. Each request grants
    // six users on 100 calls none of them had, which adds rows, so the log
    // or the file must grow; the requests together would add several times
    // what the 2 MiB file system holds.
    let users = ["1", "2", "3", "4", "5", "6"];
    let mut refused = None;
    for attempt in 0..BULK_CALLS / 100 * 4 {
        let first = attempt * 100;
        let method = if first < BULK_CALLS {
            reqwest::Method::PUT
        } else {
            reqwest::Method::DELETE
        };
        let (status, body, trace) =
            call(&client, &server, method, bulk_grant(first, 100, &users)).await;
        if status == 503 {
            refused = Some((body, trace));
            break;
        }
        assert_eq!(status, 200, "neither done nor unavailable: {body}");
    }
    let (body, trace) = refused.expect("writes kept succeeding on a full disk");
    assert_eq!(body["requestId"].as_str(), Some(trace.as_str()), "{body}");
    cause_only_in_the_log(
        &mut server,
        &body,
        &trace,
        "disk",
        &["the disk holding the database is full"],
    )
    .await;
    // Still full: readiness says so, writes are refused, reads work.
    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 503, "/readyz on a full disk: {body}");
    assert_refused(
        &client,
        &mut server,
        reqwest::Method::PUT,
        bulk_grant(0, 100, &users),
        &["the disk holding the database is full"],
    )
    .await;
    let before = granted(&client, &server).await;

    std::fs::remove_file(&filler).unwrap();
    // Readiness learns it first, with no client write to show it the way:
    // a node out of rotation gets none. Its own probe write did.
    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 200, "/readyz once space returns: {body}");
    let (status, body, _) = call(
        &client,
        &server,
        reqwest::Method::PUT,
        grant(&["1", "2", "3", "4", "5", "6"]),
    )
    .await;
    assert_eq!(status, 200, "the first write once space returns: {body}");
    assert_eq!(granted(&client, &server).await.len(), 6, "was {before:?}");

    // Shutdown with idle keep-alive connections open is not what this
    // test is about; it only checks that the node stops cleanly.
    stops_cleanly(client, server).await;
}

/// A running node on `callaccess-testfs` whose device `set` makes faulty and
/// then repairs; `causes` are what the log may say of a refused write.
async fn a_faulty_device(set: fn(&TestFs, bool), causes: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let (backing, mountpoint) = folders(dir.path());
    import(&backing.join("faults.db"), dir.path());
    // Declared before the server, so dropped (unmounted) after it.
    let Some(fs) = mount(&backing, &mountpoint) else {
        return;
    };
    let (mut server, client) = serve_and_grant(&mountpoint.join("faults.db")).await;

    set(&fs, true);
    assert_writes_refused(&client, &mut server, causes).await;
    let (status, body) = readyz(&client, &server).await;
    assert_eq!(status, 503, "/readyz while the device fails: {body}");
    assert_eq!(granted(&client, &server).await, vec!["1"]);

    // The device is repaired.
    set(&fs, false);
    assert_recovered(&client, &server, "the device works").await;
    stops_cleanly(client, server).await;
    drop(fs);
}

#[tokio::test]
async fn a_device_that_fails_io_answers_503_and_recovers_without_restart() {
    a_faulty_device(TestFs::fail_io, &[DEVICE_FAILED]).await;
}

#[tokio::test]
async fn a_file_system_turned_read_only_answers_503_and_recovers_without_restart() {
    // SQLite reports EROFS from write(2) as an I/O error; once the writer
    // opens the file anew, it can only open it read-only.
    a_faulty_device(TestFs::read_only, &[DEVICE_FAILED, READ_ONLY]).await;
}
