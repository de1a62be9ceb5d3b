//! `TestApp`: a server on 127.0.0.1:0 over a database of its own, with the
//! server options a test asks for, and a small fixed world of users and
//! calls that every rule can be tested on.
//!
//! The backend comes from `CALLACCESS_TEST_DATABASE`: unset or `sqlite`, a
//! SQLite file in the test's temporary folder; a `postgres://…` URL, a fresh
//! database created on that server for each test and dropped after it. The
//! same tests run on both, which is how parity is proved.
//!
//! A `TestApp` serves on a manual clock (`app.clock`) that moves only when
//! the test advances it: rate-limit windows, credential expiry and the
//! times the store records all read it, so no test waits out a window.

use callaccess_domain::Origin;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use base64::Engine;
use callaccess::db::{open_with, DatabaseUrl, PoolSettings};
use callaccess::http::Limits;
use callaccess::ratelimit::RateLimitDefaults;
use callaccess::server::{serve_split, ServeOptions};
use callaccess_domain::secret;
use callaccess_domain::{
    Call, CallId, CallsAccess, Clock, CompanyId, NewApiKey, NewCompany, NewToken, RateLimit, Scope,
    Store, Timestamp, User, UserId,
};
use callaccess_postgres::scratch::{test_server_url, ScratchDatabase};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub const PATH: &str = "/v2/calls/users-access";

/// The fixed world of one company. Ids are offset per company so that two
/// companies never share an id by accident (except where a test wants it).
pub mod ids {
    pub const NONE_A: i64 = 1001; // profile none
    pub const NONE_B: i64 = 1002; // profile none, primary user of CALL_2
    pub const SHARED: i64 = 1003; // profile none, CALL_1 is shared with them
    pub const ALL: i64 = 1004; // profile all
    pub const OWN_PRIMARY: i64 = 1005; // profile own, primary user of CALL_1
    pub const OWN_PARTICIPANT: i64 = 1006; // profile own, participant of CALL_1
    pub const OWN_OTHER: i64 = 1007; // profile own, on no call
    pub const CALL_1: i64 = 7_782_342_274_025_937_001;
    pub const CALL_2: i64 = 7_782_342_274_025_937_002;
    pub const CALL_3: i64 = 7_782_342_274_025_937_003;
    pub const UNKNOWN_CALL: i64 = 7_782_342_274_025_937_999;
    pub const UNKNOWN_USER: i64 = 1999;
}

pub fn call(n: i64) -> CallId {
    CallId::from_i64(n).unwrap()
}
pub fn user(n: i64) -> UserId {
    UserId::from_i64(n).unwrap()
}

/// A credential to send.
#[derive(Clone, Debug)]
pub enum Auth {
    None,
    Basic(String, String),
    Bearer(String),
    Raw(String),
}

impl Auth {
    /// The `Authorization` header's value.
    pub fn header(&self) -> Option<String> {
        match self {
            Auth::None => None,
            Auth::Basic(k, s) => Some(format!(
                "Basic {}",
                base64::engine::general_purpose::STANDARD.encode(format!("{k}:{s}"))
            )),
            Auth::Bearer(t) => Some(format!("Bearer {t}")),
            Auth::Raw(r) => Some(r.clone()),
        }
    }
}

/// One company of the fixed world, with a full-access API key.
#[derive(Clone, Debug)]
pub struct Company {
    pub id: CompanyId,
    pub auth: Auth,
    pub access_key: String,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Checks the envelope every response shares and returns `errors`.
    pub fn errors(&self) -> Vec<String> {
        self.assert_request_id();
        let errors = self.body["errors"]
            .as_array()
            .unwrap_or_else(|| panic!("no errors in {}", self.body));
        errors
            .iter()
            .map(|e| e.as_str().unwrap().to_owned())
            .collect()
    }

    /// `requestId` is 19 characters of [0-9a-z] and equals `x-traceid`.
    pub fn assert_request_id(&self) -> String {
        let id = self.body["requestId"]
            .as_str()
            .unwrap_or_else(|| panic!("no requestId in {}", self.body));
        assert_eq!(id.len(), 19, "{id}");
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()),
            "{id}"
        );
        assert_eq!(self.headers["x-traceid"].to_str().unwrap(), id);
        id.to_owned()
    }

    pub fn assert_error(&self, status: u16, first: &str) -> Vec<String> {
        assert_eq!(self.status, status, "{}", self.body);
        let errors = self.errors();
        assert_eq!(errors[0], first, "{errors:?}");
        errors
    }

    pub fn assert_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.body);
        self.assert_request_id();
        assert!(self.body.get("errors").is_none());
    }
}

/// The backend the HTTP suite runs on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TestBackend {
    Sqlite,
    /// A server URL; each test creates its own database there.
    Postgres(String),
}

/// Reads `CALLACCESS_TEST_DATABASE`.
pub fn test_backend() -> TestBackend {
    match std::env::var("CALLACCESS_TEST_DATABASE") {
        Err(_) => TestBackend::Sqlite,
        Ok(value) if value.is_empty() || value == "sqlite" => TestBackend::Sqlite,
        Ok(value) if value.starts_with("postgres://") || value.starts_with("postgresql://") => {
            TestBackend::Postgres(value)
        }
        Ok(value) => panic!(
            "CALLACCESS_TEST_DATABASE must be unset, `sqlite` or a postgres:// server URL, not {:?}",
            callaccess::db::redact(&value)
        ),
    }
}

/// A PostgreSQL server for the tests that need one whatever the suite's
/// backend (several nodes, outages): `CALLACCESS_TEST_POSTGRES`, else the
/// suite's own server if it runs on PostgreSQL, else a throwaway cluster
/// this process starts once (`scratch::test_server_url`). `None` means skip
/// (PostgreSQL is not installed), which CI (`CI` set) does not allow.
pub fn postgres_server() -> Option<String> {
    let configured = std::env::var("CALLACCESS_TEST_POSTGRES").is_ok_and(|url| !url.is_empty());
    match test_backend() {
        TestBackend::Postgres(url) if !configured => Some(url),
        _ => test_server_url(),
    }
}

/// PostgreSQL databases of tests that were stopped to be started again on
/// the same database (`stop` then `spawn_in`), by their test's folder. A
/// folder is the identity of a test's database on both backends.
fn parked() -> &'static Mutex<HashMap<PathBuf, Arc<ScratchDatabase>>> {
    static PARKED: std::sync::OnceLock<Mutex<HashMap<PathBuf, Arc<ScratchDatabase>>>> =
        std::sync::OnceLock::new();
    PARKED.get_or_init(Mutex::default)
}

/// The database of one test: its URL, and for PostgreSQL the handle that
/// drops the database once no server of the test uses it.
pub struct TestDatabase {
    pub url: DatabaseUrl,
    scratch: Option<Arc<ScratchDatabase>>,
}

impl TestDatabase {
    /// The database that belongs to the test folder `dir`: created on first
    /// use, the same one after a restart.
    pub async fn for_dir(dir: &TempDir) -> TestDatabase {
        match test_backend() {
            TestBackend::Sqlite => TestDatabase {
                url: DatabaseUrl::Sqlite(TestApp::db_path(dir)),
                scratch: None,
            },
            TestBackend::Postgres(server) => {
                let parked = parked().lock().unwrap().remove(dir.path());
                let scratch = match parked {
                    Some(scratch) => scratch,
                    None => Arc::new(ScratchDatabase::create(&server).await.unwrap()),
                };
                TestDatabase {
                    url: DatabaseUrl::Postgres(scratch.url().to_owned()),
                    scratch: Some(scratch),
                }
            }
        }
    }

    /// Keeps a PostgreSQL database for the next `for_dir(dir)`.
    fn park(&self, dir: &Path) {
        if let Some(scratch) = &self.scratch {
            parked()
                .lock()
                .unwrap()
                .insert(dir.to_owned(), Arc::clone(scratch));
        }
    }
}

pub struct TestApp {
    pub base: String,
    pub address: SocketAddr,
    pub client: reqwest::Client,
    pub store: Arc<dyn Store>,
    /// The clock the server and its store read: manual unless the test's
    /// options said otherwise.
    pub clock: Clock,
    pub dir: Arc<TempDir>,
    shutdown: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    // Last, so that the database outlives everything that uses it.
    _db: TestDatabase,
}

impl TestApp {
    /// The options a test server starts from: the service's defaults, but
    /// no rate limits, and a manual clock (standing at the present moment).
    pub fn options() -> ServeOptions {
        ServeOptions {
            rate_limits: RateLimitDefaults::OFF,
            clock: Clock::manual(),
            ..ServeOptions::default()
        }
    }

    pub async fn spawn() -> Self {
        Self::spawn_with_options(Self::options()).await
    }

    /// A server with company 1 of the fixed world.
    pub async fn spawn_with_company() -> (Self, Company) {
        let app = Self::spawn().await;
        let company = app.company(1).await;
        (app, company)
    }

    pub async fn spawn_with(limits: Limits) -> Self {
        Self::spawn_with_options(ServeOptions {
            limits,
            ..Self::options()
        })
        .await
    }

    pub async fn spawn_with_options(options: ServeOptions) -> Self {
        Self::spawn_in(Arc::new(tempfile::tempdir().unwrap()), options).await
    }

    /// The SQLite file of a test folder (SQLite backend only).
    pub fn db_path(dir: &TempDir) -> PathBuf {
        dir.path().join("callaccess.db")
    }

    /// Serves the database of `dir` on the suite's backend; bound before the
    /// server task starts, so requests can be sent at once.
    pub async fn spawn_in(dir: Arc<TempDir>, options: ServeOptions) -> Self {
        Self::spawn_split(dir, options, None).await
    }

    /// A server with the admin API on an address of its own, as with
    /// `--admin-listen`; answers the app and the admin API's base URL.
    pub async fn spawn_with_admin_listener(options: ServeOptions) -> (Self, String) {
        let admin = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let admin_base = format!("http://{}", admin.local_addr().unwrap());
        let app =
            Self::spawn_split(Arc::new(tempfile::tempdir().unwrap()), options, Some(admin)).await;
        (app, admin_base)
    }

    /// [`Self::spawn_in`], with the admin API on `admin` if given.
    async fn spawn_split(
        dir: Arc<TempDir>,
        options: ServeOptions,
        admin: Option<tokio::net::TcpListener>,
    ) -> Self {
        let db = TestDatabase::for_dir(&dir).await;
        let backend = open_with(&db.url, &PoolSettings::default(), &options.clock)
            .await
            .unwrap();
        let store = backend.store.clone();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let clock = options.clock.clone();
        let (tx, rx) = oneshot::channel::<()>();
        let server = tokio::spawn(serve_split(listener, admin, backend, options, async move {
            let _ = rx.await;
        }));
        Self {
            base: format!("http://{address}"),
            address,
            client: reqwest::Client::new(),
            store,
            clock,
            dir,
            shutdown: Some(tx),
            server: Some(server),
            _db: db,
        }
    }

    /// The URL of the test's database, for tests that read rows directly.
    pub fn database_url(&self) -> &DatabaseUrl {
        &self._db.url
    }

    /// Stops the server gracefully and closes the store; returns the folder
    /// so a test can start again on the same database.
    pub async fn stop(mut self) -> Arc<TempDir> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(server) = self.server.take() {
            server.await.unwrap().unwrap();
        }
        self.store.close().await.unwrap();
        self._db.park(self.dir.path());
        self.dir.clone()
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(h) = auth.header() {
            request = request.header("authorization", h);
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        reply_of(request.send().await.unwrap()).await
    }

    /// PUT of a body as given, with these headers only.
    pub async fn put_bytes(&self, auth: &Auth, body: Vec<u8>, headers: &[(&str, &str)]) -> Reply {
        self.request(Method::PUT, PATH, auth, Some(body), headers)
            .await
    }

    pub async fn send(&self, method: Method, auth: &Auth, body: Value) -> Reply {
        let bytes = serde_json::to_vec(&body).unwrap();
        self.request(
            method,
            PATH,
            auth,
            Some(bytes),
            &[("content-type", "application/json")],
        )
        .await
    }

    pub async fn put(&self, auth: &Auth, body: Value) -> Reply {
        self.send(Method::PUT, auth, body).await
    }
    pub async fn delete(&self, auth: &Auth, body: Value) -> Reply {
        self.send(Method::DELETE, auth, body).await
    }
    pub async fn post(&self, auth: &Auth, body: Value) -> Reply {
        self.send(Method::POST, auth, body).await
    }

    /// PUT of one call and some users, checked to succeed.
    pub async fn grant(&self, auth: &Auth, call: i64, users: &[i64]) {
        let users: Vec<String> = users.iter().map(i64::to_string).collect();
        self.put(
            auth,
            json!({"callAccessList": [{"callId": call.to_string(), "userIds": users}]}),
        )
        .await
        .assert_ok();
    }

    /// POST of some calls, as it answers.
    pub async fn post_calls(&self, auth: &Auth, calls: &[i64]) -> Reply {
        let ids: Vec<String> = calls.iter().map(i64::to_string).collect();
        self.post(auth, json!({"filter": {"callIds": ids}})).await
    }

    /// The API grants of some calls, as POST lists them.
    pub async fn listed(&self, auth: &Auth, calls: &[i64]) -> Vec<(String, Vec<String>)> {
        let reply = self.post_calls(auth, calls).await;
        reply.assert_ok();
        reply.body["callAccessList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|entry| {
                let users = entry["users"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|u| u["userId"].as_str().unwrap().to_owned())
                    .collect();
                (entry["callId"].as_str().unwrap().to_owned(), users)
            })
            .collect()
    }

    /// Users with an API grant on one call.
    pub async fn grantees(&self, auth: &Auth, call: i64) -> Vec<String> {
        self.listed(auth, &[call]).await.remove(0).1
    }

    /// Creates a company with the fixed world and a full-access key.
    pub async fn company(&self, id: i64) -> Company {
        create_world(self.store.as_ref(), id).await
    }

    /// A new API key of `company`.
    pub async fn api_key(
        &self,
        company: &Company,
        scopes: Option<&[&str]>,
        expires_at: Option<Timestamp>,
    ) -> Auth {
        let scopes = scopes.map(|scopes| scopes.iter().map(|s| Scope::parse(s).unwrap()).collect());
        new_api_key(self.store.as_ref(), company.id, scopes, expires_at)
            .await
            .1
    }

    pub async fn token(&self, company: &Company, scopes: &[&str]) -> Auth {
        let token = secret::generate_secret();
        self.store
            .create_token(
                &Origin::cli(),
                &NewToken {
                    company: company.id,
                    digest: secret::digest(&token),
                    scopes: scopes.iter().map(|s| Scope::parse(s).unwrap()).collect(),
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        Auth::Bearer(token)
    }
}

pub async fn create_world(store: &dyn Store, id: i64) -> Company {
    use ids::*;
    let company = CompanyId::from_i64(id).unwrap();
    store
        .create_company(&NewCompany {
            id: company,
            name: format!("Company {id}"),
            rate_limit: RateLimit::default(),
        })
        .await
        .unwrap();
    let profiles = [
        (NONE_A, CallsAccess::None),
        (NONE_B, CallsAccess::None),
        (SHARED, CallsAccess::None),
        (ALL, CallsAccess::All),
        (OWN_PRIMARY, CallsAccess::Own),
        (OWN_PARTICIPANT, CallsAccess::Own),
        (OWN_OTHER, CallsAccess::Own),
    ];
    for (uid, access) in profiles {
        store
            .add_user(
                &Origin::cli(),
                &User {
                    calls_access: Some(access),
                    ..User::new(company, user(uid), format!("u{uid}@c{id}.test"))
                },
            )
            .await
            .unwrap();
    }
    let calls = [
        (CALL_1, OWN_PRIMARY, vec![OWN_PARTICIPANT]),
        (CALL_2, NONE_B, vec![]),
        (CALL_3, NONE_A, vec![]),
    ];
    for (cid, primary, participants) in calls {
        store
            .add_call(
                &Origin::cli(),
                &Call {
                    title: Some(format!("call {cid}")),
                    participant_ids: participants.into_iter().map(user).collect(),
                    ..Call::new(company, call(cid), user(primary))
                },
            )
            .await
            .unwrap();
    }
    store
        .add_share(&Origin::cli(), company, call(CALL_1), user(SHARED))
        .await
        .unwrap();
    let (access_key, auth) = new_api_key(store, company, None, None).await;
    Company {
        id: company,
        auth,
        access_key,
    }
}

/// Creates an API key with a fresh access key and secret; returns the
/// access key and the credential to send.
pub async fn new_api_key(
    store: &dyn Store,
    company: CompanyId,
    scopes: Option<Vec<Scope>>,
    expires_at: Option<Timestamp>,
) -> (String, Auth) {
    let access_key = secret::generate_access_key();
    let key_secret = secret::generate_secret();
    let key = NewApiKey {
        access_key: access_key.clone(),
        company,
        digest: secret::digest(&key_secret),
        scopes,
        expires_at,
    };
    store.create_api_key(&Origin::cli(), &key).await.unwrap();
    (access_key.clone(), Auth::Basic(access_key, key_secret))
}

/// `{"callAccessList":[{"callId":C,"userIds":[U…]}]}` with string ids.
pub fn change(call: i64, users: &[i64]) -> Value {
    let users: Vec<String> = users.iter().map(i64::to_string).collect();
    json!({"callAccessList": [{"callId": call.to_string(), "userIds": users}]})
}

/// A whole answer, whose body must be JSON.
pub async fn reply_of(response: reqwest::Response) -> Reply {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let bytes = response.bytes().await.unwrap();
    let body = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "body is not JSON ({e}): {:?}",
            String::from_utf8_lossy(&bytes)
        )
    });
    Reply {
        status,
        headers,
        body,
    }
}

/// One request with an API key and a JSON body, to any server.
pub async fn send_with_key(
    client: &reqwest::Client,
    method: Method,
    url: &str,
    key: (&str, &str),
    body: &Value,
) -> Reply {
    let response = client
        .request(method, url)
        .basic_auth(key.0, Some(key.1))
        .json(body)
        .send()
        .await
        .expect("the request failed or hung");
    reply_of(response).await
}

/// The lines a child process writes to one of its pipes, as they come.
pub fn forward_lines(
    reader: impl tokio::io::AsyncRead + Unpin + Send + 'static,
) -> tokio::sync::mpsc::UnboundedReceiver<String> {
    use tokio::io::AsyncBufReadExt;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(reader).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// The admin API: admin tokens made through the store, and requests to
/// `/admin/v1` (or wherever `base` serves it).
impl TestApp {
    /// A new full admin token (GET and writes), as the header to send.
    pub async fn admin_token(&self) -> Auth {
        self.new_admin_token(false, None).await
    }

    /// A new read-only admin token (GET only).
    pub async fn read_only_admin_token(&self) -> Auth {
        self.new_admin_token(true, None).await
    }

    /// A new admin token as the store keeps it, expiring at `expires_at`
    /// if given; the returned `Auth` carries the token text.
    pub async fn new_admin_token(&self, read_only: bool, expires_at: Option<Timestamp>) -> Auth {
        let issued = callaccess_domain::admin_token::issue(
            read_only,
            Some("test".to_owned()),
            self.clock.now(),
            expires_at,
        );
        self.store
            .create_admin_token(&Origin::cli(), &issued.new)
            .await
            .unwrap();
        Auth::Bearer(issued.text)
    }

    /// A request to this server's admin API, with a JSON body if given.
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        auth: &Auth,
        body: Option<Value>,
    ) -> Reply {
        admin_request(&self.client, &self.base, method, path, auth, body).await
    }
}

/// A request to an admin API at `base` (such as an `--admin-listen`
/// address), with a JSON body if given.
pub async fn admin_request(
    client: &reqwest::Client,
    base: &str,
    method: Method,
    path: &str,
    auth: &Auth,
    body: Option<Value>,
) -> Reply {
    let mut request = client.request(method, format!("{base}{path}"));
    if let Some(h) = auth.header() {
        request = request.header("authorization", h);
    }
    if let Some(body) = body {
        request = request.json(&body);
    }
    reply_of(request.send().await.unwrap()).await
}

/// The 403 of a read-only admin token on a write.
pub const ADMIN_READ_ONLY: &str = callaccess::http::admin::auth::READ_ONLY_MESSAGE;

impl Reply {
    /// A 200 of the admin API: its own shape (no `requestId` in the body),
    /// an `x-traceid` header, no `errors`.
    pub fn assert_admin_ok(&self) {
        assert_eq!(self.status, 200, "{}", self.body);
        let trace = self.headers["x-traceid"].to_str().unwrap();
        assert_eq!(trace.len(), 19, "{trace}");
        assert!(self.body.get("errors").is_none(), "{}", self.body);
    }
}
