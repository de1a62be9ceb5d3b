//! The console (`/console`, docs in `briefs/console-contract.md`) in a real
//! headless Chromium, driven over WebDriver: each test starts its own
//! `chromedriver` on a free port, which starts Chromium with a fresh
//! profile, against a `TestApp` seeded with the demo company (an org chart
//! with every route: API grant, share, `report-to-them` and
//! `managers-team` profiles). The tests find elements by the ids and data
//! attributes the contract names, and check what they did through `/v2` and
//! the admin API, never through the page alone.
//!
//! No test sleeps for a set time and then asserts: [`Browser::until`] polls
//! a condition up to a generous deadline, and a failure shows the page, its
//! URL and chromedriver's log. At most two browsers run at once
//! ([`BROWSERS`]), since the suite runs its tests in parallel.
//!
//! The screenshots of every page at 1280 and 390 px land in
//! `target/console-screenshots/<page>-<width>.png`.

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callaccess::demo::Demo;
use callaccess_domain::CallId;
use fantoccini::actions::{InputSource, KeyAction, KeyActions};
use fantoccini::elements::Element;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::Method;
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::io::AsyncReadExt;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::helpers::{Auth, TestApp};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const INSTALL: &str = "the console's browser tests need Chromium and its WebDriver: \
     install Debian's `chromium chromium-driver` (apt-get install chromium chromium-driver)";

/// Flags Chromium needs here: headless as root (no sandbox, no GPU), and
/// quiet on a closed network, where its background fetches (updates, sync,
/// QUIC probes) otherwise stall page loads.
const CHROMIUM_ARGS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
];

/// How long a condition may take to come true. Generous: the machine's two
/// cores are shared with compilers and other suites, and a test waits this
/// long only when it is about to fail.
const DEADLINE: Duration = Duration::from_secs(45);
const POLL: Duration = Duration::from_millis(100);

/// Browsers open at once: each Chromium is several processes and hundreds
/// of MB, and the suite runs its tests in parallel.
static BROWSERS: Semaphore = Semaphore::const_new(2);

pub const WIDE: u32 = 1280;
pub const NARROW: u32 = 390;
const HEIGHT: u32 = 900;

/// Text a child process wrote, kept for failure messages.
type Log = Arc<Mutex<String>>;

fn keep(mut pipe: impl tokio::io::AsyncRead + Unpin + Send + 'static, log: Log) {
    tokio::spawn(async move {
        let mut buffer = [0u8; 4096];
        while let Ok(n) = pipe.read(&mut buffer).await {
            if n == 0 {
                break;
            }
            log.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buffer[..n]));
        }
    });
}

/// The end of a log, which is where the cause of a failure usually is.
fn tail(text: &str, chars: usize) -> &str {
    let start = text.len().saturating_sub(chars);
    let start = (start..text.len())
        .find(|&i| text.is_char_boundary(i))
        .unwrap_or(text.len());
    &text[start..]
}

/// A `chromedriver` of one test, in a process group of its own so that the
/// Chromium it starts goes with it when the test ends, even by a panic.
struct Driver {
    child: tokio::process::Child,
    url: String,
    log: Log,
}

impl Driver {
    async fn start() -> Driver {
        for program in [CHROMEDRIVER, CHROMIUM] {
            assert!(
                Path::new(program).exists(),
                "{program} is missing: {INSTALL}"
            );
        }
        // A port is free when chosen, but another process may take it
        // before chromedriver binds it; then chromedriver exits, and
        // another port is tried.
        let mut failures = String::new();
        for _ in 0..3 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap()
                .local_addr()
                .unwrap()
                .port();
            match Self::start_on(port).await {
                Ok(driver) => return driver,
                Err(why) => failures.push_str(&why),
            }
        }
        panic!("chromedriver would not start:\n{failures}");
    }

    /// chromedriver on `port`, once it has said it listens there (so the
    /// answer to `/status` is its own, not another process's) and is
    /// ready; `Err` with its log if it exits first.
    async fn start_on(port: u16) -> Result<Driver, String> {
        let mut child = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {CHROMEDRIVER}: {e}; {INSTALL}"));
        let log = Log::default();
        keep(child.stdout.take().unwrap(), log.clone());
        keep(child.stderr.take().unwrap(), log.clone());
        let url = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let start = Instant::now();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!(
                    "chromedriver on port {port} exited ({status}) before it was ready:\n{}\n",
                    log.lock().unwrap()
                ));
            }
            let listening = log.lock().unwrap().contains("started successfully");
            let ready = listening
                && match http.get(format!("{url}/status")).send().await {
                    Ok(reply) => reply
                        .json::<Value>()
                        .await
                        .is_ok_and(|body| body["value"]["ready"] == true),
                    Err(_) => false,
                };
            if ready {
                return Ok(Driver { child, url, log });
            }
            assert!(
                start.elapsed() < DEADLINE,
                "chromedriver did not answer on {url} within {DEADLINE:?}:\n{}",
                log.lock().unwrap()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        // The whole group: chromedriver and every Chromium process under it.
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stderr(Stdio::null())
                .status();
        }
        let _ = self.child.start_kill();
    }
}

/// One headless Chromium on one console (`base`, the server's address).
pub struct Browser {
    client: Client,
    base: String,
    width: u32,
    // Dropped in this order: the session, then chromedriver with its
    // Chromium, then the profile folder Chromium wrote to.
    driver: Driver,
    _profile: TempDir,
    _permit: SemaphorePermit<'static>,
}

impl Browser {
    /// A browser `width` px wide on the server at `base`.
    pub async fn open(base: &str, width: u32) -> Browser {
        let permit = BROWSERS.acquire().await.unwrap();
        let driver = Driver::start().await;
        let profile = tempfile::tempdir().unwrap();
        let mut args: Vec<String> = CHROMIUM_ARGS.iter().map(|a| (*a).to_owned()).collect();
        args.push(format!("--user-data-dir={}", profile.path().display()));
        args.push(format!("--window-size={width},{HEIGHT}"));
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {"binary": CHROMIUM, "args": args},
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object")
        };
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&driver.url)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "chromedriver could not start Chromium ({e}); {INSTALL}\nchromedriver's log:\n{}",
                    driver.log()
                )
            });
        let browser = Browser {
            client,
            base: base.trim_end_matches('/').to_owned(),
            width,
            driver,
            _profile: profile,
            _permit: permit,
        };
        browser.set_size(width, HEIGHT).await;
        browser
    }

    /// Sets the window to `width` px (and the usual height).
    pub async fn resize(&mut self, width: u32) {
        self.width = width;
        self.set_size(width, HEIGHT).await;
    }

    async fn set_size(&self, width: u32, height: u32) {
        if let Err(e) = self.client.set_window_size(width, height).await {
            self.fail(&format!("cannot set the window to {width}x{height}: {e}"))
                .await;
        }
    }

    /// Ends the session, which closes Chromium; dropping the browser
    /// instead (a failed test) kills it.
    pub async fn close(self) {
        let Browser { client, .. } = self;
        let _ = client.close().await;
    }

    /// Fails the test with what it was doing, the page as it stands and
    /// chromedriver's log.
    pub async fn fail(&self, what: &str) -> ! {
        let url = self
            .client
            .current_url()
            .await
            .map_or_else(|e| format!("(unknown: {e})"), |u| u.to_string());
        let source = self.client.source().await.unwrap_or_default();
        panic!(
            "{what}\n--- at {url} ({} px wide), the page:\n{}\n--- chromedriver's log:\n{}",
            self.width,
            tail(&source, 6000),
            tail(&self.driver.log(), 4000)
        );
    }

    /// Polls `probe` until it answers `Some`, up to [`DEADLINE`]; then fails
    /// with `what` (what was awaited).
    pub async fn until<T, F, Fut>(&self, what: &str, mut probe: F) -> T
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Option<T>>,
    {
        let start = Instant::now();
        loop {
            if let Some(value) = probe().await {
                return value;
            }
            if start.elapsed() > DEADLINE {
                self.fail(&format!("waited {DEADLINE:?} for {what}")).await;
            }
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Opens `path` of the server and waits for the page to have loaded.
    pub async fn goto(&self, path: &str) {
        if let Err(e) = self.client.goto(&self.url(path)).await {
            self.fail(&format!("cannot open {path}: {e}")).await;
        }
        self.loaded().await;
    }

    /// Waits until the document is complete.
    pub async fn loaded(&self) {
        self.js_until(
            "the page to load",
            "return document.readyState === 'complete'",
            vec![],
        )
        .await;
    }

    /// The path of the current page (without the query).
    pub async fn path(&self) -> String {
        match self.client.current_url().await {
            Ok(url) => url.path().to_owned(),
            Err(e) => self.fail(&format!("no current URL: {e}")).await,
        }
    }

    /// Fails unless the current page is `path`.
    pub async fn assert_path(&self, path: &str) {
        let current = self.path().await;
        if current != path {
            self.fail(&format!("expected to be at {path}, not at {current}"))
                .await;
        }
    }

    /// Runs `script` (a function body; `arguments[i]` are `args`).
    pub async fn js(&self, script: &str, args: Vec<Value>) -> Value {
        match self.client.execute(script, args).await {
            Ok(value) => value,
            Err(e) => self.fail(&format!("script failed ({e}):\n{script}")).await,
        }
    }

    /// Polls `script` until it returns something other than false, null,
    /// undefined, 0 or ""; returns that. Errors (a page navigating away
    /// mid-script) count as not yet.
    pub async fn js_until(&self, what: &str, script: &str, args: Vec<Value>) -> Value {
        self.until(what, || {
            let args = args.clone();
            async move {
                let value = self.client.execute(script, args).await.ok()?;
                let truthy = match &value {
                    Value::Null => false,
                    Value::Bool(b) => *b,
                    Value::Number(n) => n.as_f64() != Some(0.0),
                    Value::String(s) => !s.is_empty(),
                    _ => true,
                };
                truthy.then_some(value)
            }
        })
        .await
    }

    /// The first element matching `css`, waiting for it to appear.
    pub async fn find(&self, css: &str) -> Element {
        self.until(&format!("an element {css}"), || async {
            self.client.find(Locator::Css(css)).await.ok()
        })
        .await
    }

    /// Every element matching `css` now.
    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        match self.client.find_all(Locator::Css(css)).await {
            Ok(found) => found,
            Err(e) => self.fail(&format!("cannot look for {css}: {e}")).await,
        }
    }

    /// How many elements match `css` now.
    pub async fn count(&self, css: &str) -> usize {
        self.find_all(css).await.len()
    }

    /// Fails unless no element matches `css` (on a page that has loaded).
    pub async fn assert_absent(&self, css: &str, why: &str) {
        let found = self.find_all(css).await;
        if !found.is_empty() {
            self.fail(&format!("{why}: found {} of {css}", found.len()))
                .await;
        }
    }

    /// The text of the first element matching `css` (waiting for it).
    pub async fn text(&self, css: &str) -> String {
        let element = self.find(css).await;
        match element.text().await {
            Ok(text) => text,
            Err(e) => self.fail(&format!("no text for {css}: {e}")).await,
        }
    }

    /// A property of the element matching `css` (`value`, `action`, …).
    pub async fn prop(&self, css: &str, name: &str) -> String {
        let element = self.find(css).await;
        match element.prop(name).await {
            Ok(value) => value.unwrap_or_default(),
            Err(e) => self.fail(&format!("no {name} on {css}: {e}")).await,
        }
    }

    /// Types `text` into the field matching `css`, replacing what it held.
    pub async fn fill(&self, css: &str, text: &str) {
        let field = self.find(css).await;
        if let Err(e) = field.clear().await {
            self.fail(&format!("cannot clear {css}: {e}")).await;
        }
        if let Err(e) = field.send_keys(text).await {
            self.fail(&format!("cannot type into {css}: {e}")).await;
        }
    }

    pub async fn click(&self, css: &str) {
        let element = self.find(css).await;
        if let Err(e) = element.click().await {
            self.fail(&format!("cannot click {css}: {e}")).await;
        }
    }

    /// Does `act` (a click that submits a form or follows a link) and waits
    /// until a new document has replaced this one and has loaded.
    pub async fn navigates<Fut: Future<Output = ()>>(&self, what: &str, act: Fut) {
        self.js("window.__consoleTestOldPage = true;", vec![]).await;
        act.await;
        self.js_until(
            what,
            "return window.__consoleTestOldPage !== true && document.readyState === 'complete'",
            vec![],
        )
        .await;
    }

    /// Clicks the submit button of `form` and waits for the page it leads to.
    pub async fn submit(&self, form: &str) {
        let button = format!("{form} button[type=submit]");
        self.navigates(
            &format!("the page after submitting {form}"),
            self.click(&button),
        )
        .await;
    }

    /// Presses a key where the focus is.
    pub async fn press(&self, key: Key) {
        let value: char = key.into();
        let keys = KeyActions::new("keyboard".to_owned())
            .then(KeyAction::Down { value })
            .then(KeyAction::Up { value });
        if let Err(e) = self.client.perform_actions(keys).await {
            self.fail(&format!("cannot press {key:?}: {e}")).await;
        }
    }

    /// Types `text` key by key where the focus is.
    pub async fn type_keys(&self, text: &str) {
        let keys = text
            .chars()
            .fold(KeyActions::new("typing".to_owned()), |keys, value| {
                keys.then(KeyAction::Down { value })
                    .then(KeyAction::Up { value })
            });
        if let Err(e) = self.client.perform_actions(keys).await {
            self.fail(&format!("cannot type {text:?}: {e}")).await;
        }
    }

    /// `tag#id[type=…]` of the element with the focus.
    pub async fn focused(&self) -> String {
        self.js(
            "const e = document.activeElement; if (!e) return '';
             return e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
               + (e.getAttribute('type') ? '[type=' + e.getAttribute('type') + ']' : '');",
            vec![],
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Signs in with `token` through the sign-in form and waits for the
    /// signed-in page.
    pub async fn sign_in(&self, token: &str) {
        self.goto("/console/sign-in").await;
        self.fill("form#sign-in input#token", token).await;
        self.submit("form#sign-in").await;
        self.find("nav#console-nav").await;
    }

    /// Signs out with the nav's button.
    pub async fn sign_out(&self) {
        self.navigates(
            "the page after signing out",
            self.click("nav#console-nav button"),
        )
        .await;
    }

    /// Sends a form-encoded POST from the page's own context (so with its
    /// session cookie), as a forged form would; answers the status and the
    /// text of the answer's `div#failure[role=alert]`, if it has one.
    pub async fn forge_post(&self, url: &str, fields: Value) -> (u16, Option<String>) {
        let script = "const done = arguments[arguments.length - 1];
             fetch(arguments[0], {method: 'POST', body: new URLSearchParams(arguments[1]),
                                  credentials: 'same-origin', redirect: 'manual'})
               .then(r => r.text().then(text => {
                 const page = new DOMParser().parseFromString(text, 'text/html');
                 const failure = page.querySelector('div#failure[role=alert]');
                 done({status: r.status, failure: failure ? failure.textContent.trim() : null});
               }))
               .catch(e => done({error: String(e)}));";
        let answer = match self
            .client
            .execute_async(script, vec![json!(url), fields])
            .await
        {
            Ok(answer) => answer,
            Err(e) => {
                self.fail(&format!("the forged POST to {url} failed: {e}"))
                    .await
            }
        };
        match answer["status"]
            .as_u64()
            .and_then(|s| u16::try_from(s).ok())
        {
            Some(status) => (status, answer["failure"].as_str().map(str::to_owned)),
            None => {
                self.fail(&format!("the forged POST to {url} answered {answer}"))
                    .await
            }
        }
    }

    /// The screenshot of the whole page, saved as
    /// `target/console-screenshots/<page>-<width>.png`.
    pub async fn screenshot(&self, page: &str) -> PathBuf {
        let height = self
            .js(
                "return Math.max(document.documentElement.scrollHeight,
                                 document.body ? document.body.scrollHeight : 0)",
                vec![],
            )
            .await
            .as_u64()
            .unwrap_or(u64::from(HEIGHT));
        // The window as tall as the page plus what the window itself takes
        // (headless Chromium still keeps room for its toolbars), so the
        // picture holds all of it, within reason; back to the usual height
        // afterwards.
        let frame = self
            .js("return window.outerHeight - window.innerHeight", vec![])
            .await
            .as_u64()
            .unwrap_or(0);
        let tall = u32::try_from(height + frame)
            .unwrap_or(u32::MAX)
            .clamp(HEIGHT, 4000);
        self.set_size(self.width, tall).await;
        let png = match self.client.screenshot().await {
            Ok(png) => png,
            Err(e) => self.fail(&format!("no screenshot of {page}: {e}")).await,
        };
        self.set_size(self.width, HEIGHT).await;
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{page}-{}.png", self.width));
        std::fs::write(&path, png).unwrap();
        path
    }
}

/// `target/console-screenshots`: under `CARGO_TARGET_DIR` when set (a
/// relative one is taken from the workspace root), else the workspace's
/// `target`.
fn screenshot_dir() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let target = match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) if !dir.is_empty() => workspace.join(dir),
        _ => workspace.join("target"),
    };
    target.join("console-screenshots")
}

/// A server with the demo company (docs: `src/demo.rs`), its API key and a
/// full admin token.
struct Console {
    app: TestApp,
    demo: Demo,
    key: Auth,
    admin: Auth,
}

impl Console {
    async fn start() -> Console {
        let app = TestApp::spawn().await;
        let demo = callaccess::demo::prepare(app.store.as_ref(), app.clock.now())
            .await
            .unwrap();
        let key = Auth::Basic(demo.access_key.clone(), demo.secret.clone());
        let admin = app.admin_token().await;
        Console {
            app,
            demo,
            key,
            admin,
        }
    }

    /// A browser 1280 px wide, signed in with `admin`.
    async fn signed_in(&self, admin: &Auth) -> Browser {
        let browser = Browser::open(&self.app.base, WIDE).await;
        browser.sign_in(token(admin)).await;
        browser
    }

    fn company(&self) -> String {
        self.demo.company.id.to_string()
    }

    /// A demo user's id, by first name.
    fn user(&self, first_name: &str) -> String {
        named(self.demo.users(), "user", first_name, |u| {
            (u.first_name.as_deref(), u.id.to_string())
        })
    }

    /// A demo call's id, by title.
    fn call(&self, title: &str) -> String {
        named(self.demo.calls(), "call", title, |c| {
            (c.title.as_deref(), c.id.to_string())
        })
    }

    fn call_page(&self, call: &str) -> String {
        format!("/console/companies/{}/calls/{call}", self.company())
    }

    /// The users with an API grant on `call`, as `POST /v2` lists them.
    async fn grantees(&self, call: &str) -> Vec<String> {
        let call = CallId::parse(call).unwrap();
        self.app.grantees(&self.key, call.get()).await
    }

    /// `GET /admin/v1/…` with the full admin token, checked to succeed.
    async fn admin_get(&self, path: &str) -> Value {
        let reply = self.app.admin(Method::GET, path, &self.admin, None).await;
        reply.assert_admin_ok();
        reply.body
    }

    /// The `field` of each item an admin API list answers, sorted.
    async fn admin_ids(&self, path: &str, field: &str) -> Vec<String> {
        let body = self.admin_get(path).await;
        let mut ids: Vec<String> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item[field].as_str().unwrap().to_owned())
            .collect();
        ids.sort();
        ids
    }

    /// The audit entries of the demo company with `action`, oldest first.
    async fn audit(&self, action: &str) -> Vec<Value> {
        let body = self
            .admin_get(&format!(
                "/admin/v1/audit?company={}&action={action}&limit=1000",
                self.company()
            ))
            .await;
        body["items"].as_array().unwrap().clone()
    }

    /// The newest audit sequence number of the whole database.
    async fn newest_seq(&self) -> u64 {
        let body = self.admin_get("/admin/v1/audit?order=newest&limit=1").await;
        body["items"][0]["seq"].as_u64().unwrap_or(0)
    }
}

/// The id of the demo's `what` whose name is `wanted`; `key` gives an
/// item's name and id.
fn named<T>(
    items: &[T],
    what: &str,
    wanted: &str,
    key: impl Fn(&T) -> (Option<&str>, String),
) -> String {
    items
        .iter()
        .map(key)
        .find(|(name, _)| *name == Some(wanted))
        .map(|(_, id)| id)
        .unwrap_or_else(|| panic!("the demo has no {what} {wanted}"))
}

/// The token text of an admin token.
fn token(auth: &Auth) -> &str {
    match auth {
        Auth::Bearer(token) => token,
        other => panic!("not a bearer token: {other:?}"),
    }
}

/// CSS for an attribute equal to an id (ids are digits, so quoted).
fn with(attribute: &str, id: &str) -> String {
    format!("[{attribute}=\"{id}\"]")
}

/// Each viewer row of a call page: the user, their badges (route, text)
/// and the manager chain drawn for a hierarchy route.
const VIEWERS: &str =
    "return [...document.querySelectorAll('table#viewers tbody tr[data-user-id]')]
  .map(tr => ({
    user: tr.dataset.userId,
    badges: [...tr.querySelectorAll('span.badge[data-route]')]
      .map(b => ({route: b.dataset.route, text: b.textContent.trim()})),
    chain: [...tr.querySelectorAll('ol.chain > li[data-user-id]')].map(li => li.dataset.userId),
  }))";

/// The `data-<attribute>` of each row of `table` (`tbody tr`), in order.
async fn row_ids(browser: &Browser, table: &str, attribute: &str) -> Vec<String> {
    let ids = browser
        .js(
            "return [...document.querySelectorAll(arguments[0])].map(tr => tr.getAttribute(arguments[1]))",
            vec![
                json!(format!("{table} tbody tr[data-{attribute}]")),
                json!(format!("data-{attribute}")),
            ],
        )
        .await;
    serde_json::from_value(ids).unwrap()
}

/// Clicks the link in the row of `table` whose `data-<attribute>` is `id`
/// and waits for the page it leads to.
async fn open_row(browser: &Browser, table: &str, attribute: &str, id: &str) {
    let link = format!(
        "{table} tbody tr{} a",
        with(&format!("data-{attribute}"), id)
    );
    browser
        .navigates(&format!("the page {link} leads to"), browser.click(&link))
        .await;
}

/// Searches the calls page for `query` and answers the call ids listed.
async fn search_calls(browser: &Browser, company: &str, query: &str) -> Vec<String> {
    browser
        .goto(&format!("/console/companies/{company}/calls"))
        .await;
    browser
        .fill("form#call-search input#q[name=q]", query)
        .await;
    browser.submit("form#call-search").await;
    browser.find("table#calls").await;
    row_ids(browser, "table#calls", "call-id").await
}

#[tokio::test]
async fn console_sign_in_keeps_the_token_in_an_http_only_cookie_and_refuses_a_bad_token() {
    let console = Console::start().await;
    let browser = Browser::open(&console.app.base, WIDE).await;

    // Without a session, a console page leads to the sign-in page.
    browser
        .goto(&format!("/console/companies/{}/calls", console.company()))
        .await;
    browser.assert_path("/console/sign-in").await;
    browser.find("label[for=token]").await;
    browser
        .find("form#sign-in input#token[name=token][type=password]")
        .await;
    browser.find("form#sign-in button[type=submit]").await;

    // A bad token, and the company's API secret (not an admin token):
    // the alert, no session.
    for bad in ["not-a-token", console.demo.secret.as_str()] {
        browser.goto("/console/sign-in").await;
        browser.fill("form#sign-in input#token", bad).await;
        browser.submit("form#sign-in").await;
        let alert = browser.text("p#sign-in-error[role=alert]").await;
        assert!(!alert.trim().is_empty(), "the alert says nothing");
        browser.assert_path("/console/sign-in").await;
        browser
            .assert_absent("nav#console-nav", "signed in with a bad token")
            .await;
        assert!(
            browser
                .client
                .get_named_cookie("callaccess_console")
                .await
                .is_err(),
            "a bad token got a session cookie"
        );
    }

    // The good token: the company picker, a session cookie script cannot
    // read, the role shown.
    browser.sign_in(token(&console.admin)).await;
    browser.assert_path("/console").await;
    let link = format!(
        "ul#companies > li > a{}",
        with("data-company-id", &console.company())
    );
    browser.find(&link).await;
    let cookie = browser
        .client
        .get_named_cookie("callaccess_console")
        .await
        .unwrap_or_else(|e| panic!("no session cookie after signing in: {e}"));
    assert_eq!(cookie.http_only(), Some(true), "{cookie:?}");
    let visible = browser.js("return document.cookie", vec![]).await;
    assert!(
        !visible
            .as_str()
            .unwrap_or_default()
            .contains("callaccess_console"),
        "script reads the session cookie: {visible}"
    );
    assert_eq!(browser.text("span#role").await.trim(), "full");
    // The sign-in page, opened again, says the session still works.
    browser.goto("/console/sign-in").await;
    browser.find("p#signed-in").await;
    browser.find("form#sign-in input#token").await;
    browser.goto("/console").await;

    // The picker's link leads to the company's calls.
    browser
        .navigates("the calls page", browser.click(&link))
        .await;
    browser
        .assert_path(&format!("/console/companies/{}/calls", console.company()))
        .await;
    browser.find("table#calls").await;

    // Signing out ends the session.
    browser.sign_out().await;
    browser.goto("/console").await;
    browser.assert_path("/console/sign-in").await;
    browser.close().await;
}

#[tokio::test]
async fn console_finds_a_call_by_search_and_shows_its_viewers_with_routes_and_manager_chains() {
    let console = Console::start().await;
    let company = console.company();
    let initech = console.call("Demo for Initech");
    let pricing = console.call("Pricing review");
    let discovery = console.call("Discovery");
    let browser = console.signed_in(&console.admin).await;

    // By title, by id and by the host's email.
    assert_eq!(
        search_calls(&browser, &company, "Initech").await,
        std::slice::from_ref(&initech)
    );
    assert_eq!(
        search_calls(&browser, &company, &pricing).await,
        std::slice::from_ref(&pricing)
    );
    let ritas = search_calls(&browser, &company, "rita@demo.test").await;
    assert!(ritas.contains(&initech), "{ritas:?}");
    assert!(!ritas.contains(&discovery), "{ritas:?}");

    // Rita's call: who opens it and why, as the explain API says.
    search_calls(&browser, &company, "Initech").await;
    open_row(&browser, "table#calls", "call-id", &initech).await;
    browser.assert_path(&console.call_page(&initech)).await;
    assert_eq!(browser.text("h1").await.trim(), "Demo for Initech");
    browser.find("table#viewers tbody tr[data-user-id]").await;
    let shown = browser.js(VIEWERS, vec![]).await;
    let api = console
        .admin_get(&format!(
            "/admin/v1/companies/{company}/calls/{initech}/viewers?limit=100"
        ))
        .await;
    let api = api["items"].as_array().unwrap();
    let shown = shown.as_array().unwrap();
    let users = |rows: &[Value], key: &str| -> Vec<String> {
        let mut users: Vec<String> = rows
            .iter()
            .map(|r| r[key].as_str().unwrap().to_owned())
            .collect();
        users.sort();
        users
    };
    assert_eq!(
        users(shown, "user"),
        users(api, "userId"),
        "page {shown:?}, API {api:?}"
    );
    for viewer in api {
        let user = viewer["userId"].as_str().unwrap();
        let row = shown.iter().find(|r| r["user"] == user).unwrap();
        let badges: Vec<&str> = row["badges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| b["route"].as_str().unwrap())
            .collect();
        let routes: Vec<&str> = viewer["routes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["route"].as_str().unwrap())
            .collect();
        assert_eq!(badges, routes, "the badges of {user}: {row}");
        let chain = viewer["routes"]
            .as_array()
            .unwrap()
            .iter()
            .find_map(|r| r.get("chain"))
            .cloned()
            .unwrap_or(json!([]));
        assert_eq!(row["chain"], chain, "the chain of {user}: {row}");
    }
    // What that means here: Maya sees Rita's call through her profile,
    // by the chain Rita → Theo → Maya; Ada and Dee do not see it.
    let maya = shown
        .iter()
        .find(|r| r["user"] == console.user("Maya"))
        .unwrap_or_else(|| panic!("Maya is not a viewer: {shown:?}"));
    assert_eq!(maya["badges"][0]["route"], "profile", "{maya}");
    let text = maya["badges"][0]["text"].as_str().unwrap();
    assert!(
        text.contains("Managers") && text.contains("report-to-them"),
        "Maya's badge reads {text:?}"
    );
    assert_eq!(
        maya["chain"],
        json!([
            console.user("Rita"),
            console.user("Theo"),
            console.user("Maya")
        ]),
        "{maya}"
    );
    for outside in ["Ada", "Dee"] {
        assert!(
            !shown.iter().any(|r| r["user"] == console.user(outside)),
            "{outside} is listed: {shown:?}"
        );
    }

    // The shared call: Dee's badge.
    browser.goto(&console.call_page(&pricing)).await;
    browser.find("table#viewers tbody tr[data-user-id]").await;
    let dee = format!(
        "table#viewers tbody tr{} span.badge[data-route]",
        with("data-user-id", &console.user("Dee"))
    );
    let route = browser
        .js(
            "return document.querySelector(arguments[0]).dataset.route",
            vec![json!(dee)],
        )
        .await;
    assert_eq!(route, "shared", "Dee's route on the shared call");
    assert_eq!(browser.text(&dee).await.trim(), "Shared");
    browser.close().await;
}

#[tokio::test]
async fn console_user_found_by_name_shows_profiles_manager_chain_and_the_calls_they_open() {
    let console = Console::start().await;
    let company = console.company();
    let rita = console.user("Rita");
    let browser = console.signed_in(&console.admin).await;
    // Found by name on the users page.
    browser
        .goto(&format!("/console/companies/{company}/users"))
        .await;
    browser
        .fill("form#user-search input#user-q[name=q]", "Rita")
        .await;
    browser.submit("form#user-search").await;
    assert_eq!(
        row_ids(&browser, "table#users", "user-id").await,
        std::slice::from_ref(&rita),
        "the users named Rita"
    );
    open_row(&browser, "table#users", "user-id", &rita).await;
    browser
        .assert_path(&format!("/console/companies/{company}/users/{rita}"))
        .await;
    assert!(browser.text("h1").await.contains("Rita"), "the heading");
    let profiles = browser.text("table#profiles").await;
    assert!(
        profiles.contains("Sales") && profiles.contains("Reps"),
        "Rita's profile in the Sales workspace: {profiles:?}"
    );
    let chain = browser
        .js(
            "return [...document.querySelectorAll('ol#manager-chain > li[data-user-id]')]
               .map(li => li.dataset.userId)",
            vec![],
        )
        .await;
    let chain: Vec<String> = serde_json::from_value(chain).unwrap();
    let managers: Vec<String> = chain.into_iter().filter(|u| *u != rita).collect();
    assert_eq!(
        managers,
        [console.user("Theo"), console.user("Maya")],
        "Rita's managers, nearest first"
    );
    let mut shown = row_ids(&browser, "table#user-calls", "call-id").await;
    let opens = console
        .admin_ids(
            &format!("/admin/v1/companies/{company}/users/{rita}/calls?limit=100"),
            "callId",
        )
        .await;
    shown.sort();
    assert_eq!(shown, opens, "the calls Rita opens");
    assert!(shown.contains(&console.call("Demo for Initech")));
    let badge = format!(
        "table#user-calls tbody tr{} span.badge[data-route]",
        with("data-call-id", &console.call("Demo for Initech"))
    );
    browser.find(&badge).await;
    browser.close().await;
}

#[tokio::test]
async fn console_grant_and_revoke_act_like_v2_and_are_audited() {
    let console = Console::start().await;
    let discovery = console.call("Discovery");
    let ada = console.user("Ada");
    let ada_row = format!("table#viewers tbody tr{}", with("data-user-id", &ada));
    assert!(console.grantees(&discovery).await.is_empty());
    let browser = console.signed_in(&console.admin).await;
    browser.goto(&console.call_page(&discovery)).await;
    browser.find("table#viewers").await;
    browser
        .assert_absent(&ada_row, "Ada opens the call before the grant")
        .await;

    // Granting by email.
    browser.find("form#grant label[for=grant-user]").await;
    browser
        .fill("form#grant input#grant-user[name=user]", "ada@demo.test")
        .await;
    browser.submit("form#grant").await;
    let flash = browser.text("p#flash[role=status]").await;
    assert!(!flash.trim().is_empty(), "the flash says nothing");
    assert_eq!(
        console.grantees(&discovery).await,
        std::slice::from_ref(&ada)
    );
    let added = console.audit("grant.add").await;
    let entry = added
        .iter()
        .find(|e| e["call"] == discovery && e["user"] == ada)
        .unwrap_or_else(|| panic!("no audit entry of the grant: {added:?}"));
    let actor = entry["actor"].as_str().unwrap();
    assert!(actor.starts_with("admin:"), "{entry}");
    // The badge names the route and, from the audit trail, who granted it.
    let badge = browser
        .text(&format!("{ada_row} span.badge[data-route=apiGrant]"))
        .await;
    assert!(
        badge.trim().starts_with("API grant") && badge.contains(actor),
        "Ada's badge reads {badge:?}, not \"API grant … {actor}\""
    );

    // Revoking from Ada's row.
    browser
        .navigates(
            "the page after revoking",
            browser.click(&format!("{ada_row} form.revoke button")),
        )
        .await;
    browser.text("p#flash[role=status]").await;
    browser.find("table#viewers").await;
    browser
        .assert_absent(&ada_row, "Ada still listed after the revoke")
        .await;
    assert!(console.grantees(&discovery).await.is_empty());
    let removed = console.audit("grant.remove").await;
    assert!(
        removed
            .iter()
            .any(|e| e["call"] == discovery && e["user"] == ada),
        "no audit entry of the revoke: {removed:?}"
    );

    // A user the company does not have: the flash says so, nothing changes.
    let grants = console.audit("grant.add").await.len();
    browser
        .fill("form#grant input#grant-user[name=user]", "nobody@demo.test")
        .await;
    browser.submit("form#grant").await;
    let flash = browser.text("p#flash[role=status]").await;
    assert!(
        flash.contains("nobody@demo.test"),
        "the flash reads {flash:?}"
    );
    assert!(console.grantees(&discovery).await.is_empty());
    assert_eq!(console.audit("grant.add").await.len(), grants);
    browser.close().await;
}

#[tokio::test]
async fn console_audit_page_shows_a_v2_put_live_without_reloading() {
    let console = Console::start().await;
    let company = console.company();
    let discovery = console.call("Discovery");
    let ada = console.user("Ada");
    let read_only = console.app.read_only_admin_token().await;
    let browser = console.signed_in(&read_only).await;
    browser
        .goto(&format!("/console/companies/{company}/audit"))
        .await;
    browser.find("form#audit-filters").await;
    browser.find("#live[data-state=open]").await;
    let newest = browser
        .js(
            "return Math.max(0, ...[...document.querySelectorAll('table#audit tbody tr[data-seq]')]
               .map(tr => Number(tr.dataset.seq)))",
            vec![],
        )
        .await
        .as_u64()
        .unwrap();
    // Anything on this document survives only if the page is not reloaded.
    browser
        .js("window.__consoleTestSameDocument = true;", vec![])
        .await;

    let put = console
        .app
        .put(
            &console.key,
            json!({"callAccessList": [{"callId": discovery, "userIds": [ada]}]}),
        )
        .await;
    put.assert_ok();
    let request_id = put.body["requestId"].as_str().unwrap();

    let first = browser
        .js_until(
            "a new grant.add row at the top of the audit table",
            "const tr = document.querySelector('table#audit tbody tr[data-seq]');
             if (!tr || Number(tr.dataset.seq) <= arguments[0]) return null;
             const cell = c => (tr.querySelector(c) || {textContent: ''}).textContent.trim();
             return {seq: Number(tr.dataset.seq), action: cell('.action'), actor: cell('.actor'),
                     call: cell('.call'), user: cell('.user'), at: cell('.at'),
                     requestId: cell('.request-id')};",
            vec![json!(newest)],
        )
        .await;
    assert_eq!(first["action"], "grant.add", "{first}");
    assert_eq!(first["requestId"], request_id, "{first}");
    assert!(
        first["call"].as_str().unwrap().contains(&discovery)
            || first["call"].as_str().unwrap().contains("Discovery"),
        "{first}"
    );
    assert!(
        first["actor"]
            .as_str()
            .unwrap()
            .contains(&console.demo.access_key),
        "{first}"
    );
    let same = browser
        .js("return window.__consoleTestSameDocument === true", vec![])
        .await;
    assert_eq!(same, true, "the page reloaded instead of adding the row");
    assert_eq!(
        browser
            .find("#live")
            .await
            .attr("data-state")
            .await
            .unwrap()
            .as_deref(),
        Some("open")
    );
    browser.close().await;
}

/// `(seq, action, call cell)` of every row of the audit table, top first.
const AUDIT_ROWS: &str = "return [...document.querySelectorAll('table#audit tbody tr[data-seq]')]
  .map(tr => [Number(tr.dataset.seq),
              (tr.querySelector('.action') || {textContent: ''}).textContent.trim(),
              (tr.querySelector('.call') || {textContent: ''}).textContent.trim()])";

#[tokio::test]
async fn console_audit_filters_narrow_the_list_and_the_live_stream() {
    let console = Console::start().await;
    let company = console.company();
    let discovery = console.call("Discovery");
    let pricing = console.call("Pricing review");
    let ada = console.user("Ada");
    let browser = console.signed_in(&console.admin).await;
    browser
        .goto(&format!("/console/companies/{company}/audit"))
        .await;
    // The seed wrote several actions; filtered by one, only it is listed.
    browser
        .fill("form#audit-filters input[name=action]", "call.create")
        .await;
    browser
        .fill("form#audit-filters input[name=call]", &discovery)
        .await;
    browser.submit("form#audit-filters").await;
    browser.find("#live[data-state=open]").await;
    let rows = browser.js(AUDIT_ROWS, vec![]).await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "one call.create of Discovery: {rows:?}");
    assert_eq!(rows[0][1], "call.create", "{rows:?}");

    // The same filters on the stream: a grant on another call, then one on
    // this call, with the filter changed to grants. Entries stream in
    // order, so once the second is shown the first would have been too.
    browser
        .fill("form#audit-filters input[name=action]", "grant.add")
        .await;
    browser.submit("form#audit-filters").await;
    browser.find("#live[data-state=open]").await;
    assert_eq!(browser.js(AUDIT_ROWS, vec![]).await, json!([]));
    for call in [&pricing, &discovery] {
        console
            .app
            .put(
                &console.key,
                json!({"callAccessList": [{"callId": call, "userIds": [ada]}]}),
            )
            .await
            .assert_ok();
    }
    browser
        .js_until(
            "the grant on Discovery in the filtered audit table",
            "return document.querySelector('table#audit tbody tr[data-seq] .action')",
            vec![],
        )
        .await;
    let rows = browser.js(AUDIT_ROWS, vec![]).await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 1, "only the grant on Discovery: {rows:?}");
    assert_eq!(rows[0][1], "grant.add", "{rows:?}");
    let cell = rows[0][2].as_str().unwrap();
    assert!(
        cell.contains(&discovery) || cell.contains("Discovery"),
        "{rows:?}"
    );

    // A time that does not parse: the form again, saying what is wrong,
    // and no live stream.
    browser
        .fill("form#audit-filters input[name=since]", "yesterday")
        .await;
    browser.submit("form#audit-filters").await;
    let errors = browser.text("div#filter-errors[role=alert]").await;
    assert!(errors.contains("since"), "the errors read {errors:?}");
    browser.find("form#audit-filters").await;
    let live = browser
        .find("#live")
        .await
        .attr("data-state")
        .await
        .unwrap();
    assert_ne!(
        live.as_deref(),
        Some("open"),
        "a stream for filters that do not parse"
    );
    browser.close().await;
}

/// The `data-<attribute>` of the rows of `table` on the page shown and on
/// every page after it (following the `next` link while there is one),
/// sorted, checked to hold no id twice; and how many pages there were.
async fn every_page(
    browser: &Browser,
    table: &str,
    attribute: &str,
    next: &str,
) -> (Vec<String>, usize) {
    let mut seen: Vec<String> = Vec::new();
    let mut pages = 0;
    loop {
        browser.find(table).await;
        pages += 1;
        seen.extend(row_ids(browser, table, attribute).await);
        if browser.count(next).await == 0 {
            break;
        }
        assert!(pages < 20, "{next} never ends");
        browser
            .navigates(&format!("the page {next} leads to"), browser.click(next))
            .await;
    }
    let total = seen.len();
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), total, "a row of {table} listed on two pages");
    (seen, pages)
}

#[tokio::test]
async fn console_calls_and_viewers_are_paged_and_each_is_on_exactly_one_page() {
    use callaccess_domain::{Call, Origin, User, UserId};
    let console = Console::start().await;
    let company = console.company();
    let bob = UserId::parse(&console.user("Bob")).unwrap();
    // More calls than a page holds (50, and any page size up to 120).
    for n in 0..120 {
        let id = CallId::from_i64(9_100_000_000_000_000_000 + n).unwrap();
        console
            .app
            .store
            .add_call(
                &Origin::cli(),
                &Call {
                    title: Some(format!("Weekly sync {n}")),
                    ..Call::new(console.demo.company.id, id, bob)
                },
            )
            .await
            .unwrap();
    }
    let browser = console.signed_in(&console.admin).await;
    browser
        .goto(&format!("/console/companies/{company}/calls"))
        .await;
    let (seen, pages) = every_page(&browser, "table#calls", "call-id", "a#next-page").await;
    assert!(pages >= 2, "125 calls on one page");
    let mut all: Vec<String> = console
        .demo
        .calls()
        .iter()
        .map(|c| c.id.to_string())
        .chain((0..120).map(|n| (9_100_000_000_000_000_000_i64 + n).to_string()))
        .collect();
    all.sort();
    assert_eq!(seen, all, "the pages list every call");

    // The viewers of one call, paged the same way: 70 users with an API
    // grant besides those who open it by a profile.
    let discovery = console.call("Discovery");
    let granted: Vec<String> = (0..70_i64)
        .map(|n| (5_550_000_000 + n).to_string())
        .collect();
    for id in &granted {
        console
            .app
            .store
            .add_user(
                &Origin::cli(),
                &User::new(
                    console.demo.company.id,
                    UserId::parse(id).unwrap(),
                    format!("viewer{id}@demo.test"),
                ),
            )
            .await
            .unwrap();
    }
    console
        .app
        .put(
            &console.key,
            json!({"callAccessList": [{"callId": discovery, "userIds": granted}]}),
        )
        .await
        .assert_ok();
    browser.goto(&console.call_page(&discovery)).await;
    let (seen, pages) = every_page(&browser, "table#viewers", "user-id", "a#viewers-next").await;
    assert!(pages >= 2, "{} viewers on one page", seen.len());
    let viewers = console
        .admin_ids(
            &format!("/admin/v1/companies/{company}/calls/{discovery}/viewers?limit=1000"),
            "userId",
        )
        .await;
    assert_eq!(seen, viewers, "the pages list every viewer");
    browser.close().await;
}

#[tokio::test]
async fn console_fault_rule_added_from_the_form_fails_the_next_v2_request() {
    let console = Console::start().await;
    let discovery = console.call("Discovery");
    let operation = callaccess::faults::operation_id(&Method::POST, "/v2/calls/users-access")
        .expect("POST users-access has an operationId");
    let browser = console.signed_in(&console.admin).await;
    browser.goto("/console/faults").await;
    browser.find("table#faults").await;
    assert_eq!(
        browser.count("table#faults tbody tr[data-rule-id]").await,
        0
    );

    let select = browser.find("form#add-fault select[name=operation]").await;
    if let Err(e) = select.select_by_value(operation).await {
        browser
            .fail(&format!(
                "cannot choose {operation} in the operation select: {e}"
            ))
            .await;
    }
    browser.fill("form#add-fault [name=status]", "503").await;
    browser.fill("form#add-fault [name=times]", "1").await;
    browser.submit("form#add-fault").await;
    browser.find("table#faults tbody tr[data-rule-id]").await;
    let rules = console.admin_get("/admin/v1/faults").await;
    assert_eq!(rules["items"].as_array().unwrap().len(), 1, "{rules}");
    assert_eq!(
        rules["items"][0]["match"]["operationId"], operation,
        "{rules}"
    );

    // The next POST fails with the rule's status; the one after it does
    // not (the rule was for one request).
    let call = CallId::parse(&discovery).unwrap().get();
    let failed = console.app.post_calls(&console.key, &[call]).await;
    assert_eq!(failed.status, 503, "{}", failed.body);
    console
        .app
        .post_calls(&console.key, &[call])
        .await
        .assert_ok();
    browser.goto("/console/faults").await;
    assert_eq!(
        browser
            .text("table#faults tbody tr[data-rule-id] td.fired")
            .await
            .trim(),
        "1"
    );

    // Removing it.
    browser
        .navigates(
            "the page after removing the rule",
            browser.click("table#faults tbody tr[data-rule-id] form.remove-fault button"),
        )
        .await;
    browser.find("table#faults").await;
    browser
        .assert_absent(
            "table#faults tbody tr[data-rule-id]",
            "the rule is still listed",
        )
        .await;
    let rules = console.admin_get("/admin/v1/faults").await;
    assert_eq!(rules["items"], json!([]), "{rules}");
    browser.close().await;
}

/// The actions of the write forms a full token sees: grant, revoke (of
/// `user`'s API grant), add a fault rule, remove one.
struct WriteForms {
    grant: String,
    revoke: String,
    add_fault: String,
    remove_fault: String,
}

async fn write_forms(browser: &Browser, console: &Console, call: &str, user: &str) -> WriteForms {
    browser.goto(&console.call_page(call)).await;
    let grant = browser.prop("form#grant", "action").await;
    let revoke = browser
        .prop(
            &format!(
                "table#viewers tbody tr{} form.revoke",
                with("data-user-id", user)
            ),
            "action",
        )
        .await;
    browser.goto("/console/faults").await;
    let add_fault = browser.prop("form#add-fault", "action").await;
    let remove_fault = browser
        .prop(
            "table#faults tbody tr[data-rule-id] form.remove-fault",
            "action",
        )
        .await;
    WriteForms {
        grant,
        revoke,
        add_fault,
        remove_fault,
    }
}

/// Sends each forged POST (a form's action and its fields) from the page
/// and checks that it is refused with a 403 page saying why.
async fn assert_refused(browser: &Browser, who: &str, forged: &[(&String, Value)]) {
    for (url, fields) in forged {
        let (status, failure) = browser.forge_post(url, fields.clone()).await;
        assert_eq!(status, 403, "{who} POST to {url} with {fields}");
        assert!(
            failure.is_some_and(|why| !why.is_empty()),
            "{who}: the refused POST to {url} has no div#failure[role=alert] saying why"
        );
    }
}

#[tokio::test]
async fn console_read_only_token_sees_no_write_controls_and_forged_writes_are_refused() {
    let console = Console::start().await;
    let discovery = console.call("Discovery");
    let ada = console.user("Ada");
    let dee = console.user("Dee");
    // An API grant (which a full token could revoke) and a fault rule
    // (which it could remove).
    console
        .app
        .grant(
            &console.key,
            CallId::parse(&discovery).unwrap().get(),
            &[ada.parse().unwrap()],
        )
        .await;
    console
        .app
        .admin(
            Method::POST,
            "/admin/v1/faults",
            &console.admin,
            Some(json!({"match": {"path": "/v2/users"}, "effect": {"status": 500}})),
        )
        .await
        .assert_admin_ok();
    let faults_before = console.admin_get("/admin/v1/faults").await;
    // Made now: creating it is an audit entry of its own.
    let read_only = console.app.read_only_admin_token().await;
    let seq_before = console.newest_seq().await;

    let browser = console.signed_in(&console.admin).await;
    let forms = write_forms(&browser, &console, &discovery, &ada).await;

    // A full session, but the wrong csrf value, or none.
    let rule = browser
        .find("table#faults tbody tr[data-rule-id]")
        .await
        .attr("data-rule-id")
        .await
        .unwrap()
        .unwrap_or_default();
    let forged = [
        (&forms.grant, json!({"user": dee, "csrf": "forged"})),
        (&forms.grant, json!({"user": dee})),
        (&forms.revoke, json!({"user": ada, "csrf": "forged"})),
        (
            &forms.add_fault,
            json!({"operation": "", "status": "500", "times": "1", "csrf": "forged"}),
        ),
        (&forms.remove_fault, json!({"csrf": "forged", "id": rule})),
    ];
    assert_refused(&browser, "a full session's", &forged).await;

    // Signed in again with a read-only token: no write controls at all.
    browser.goto("/console").await;
    browser.sign_out().await;
    browser.sign_in(token(&read_only)).await;
    assert_eq!(browser.text("span#role").await.trim(), "read-only");
    browser.goto(&console.call_page(&discovery)).await;
    browser
        .find(&format!(
            "table#viewers tbody tr{} span.badge[data-route=apiGrant]",
            with("data-user-id", &ada)
        ))
        .await;
    browser
        .assert_absent("form#grant", "a read-only console")
        .await;
    browser
        .assert_absent("form.revoke", "a read-only console")
        .await;
    browser.goto("/console/faults").await;
    browser.find("table#faults tbody tr[data-rule-id]").await;
    browser
        .assert_absent("form#add-fault", "a read-only console")
        .await;
    browser
        .assert_absent("form.remove-fault", "a read-only console")
        .await;

    // Its forged writes carry its own session's csrf value (the sign-out
    // form's), so only the role refuses them.
    let csrf = browser
        .js(
            "const f = document.querySelector('input[name=csrf]'); return f ? f.value : 'none'",
            vec![],
        )
        .await;
    let forged = [
        (&forms.grant, json!({"user": dee, "csrf": csrf})),
        (&forms.revoke, json!({"user": ada, "csrf": csrf})),
        (
            &forms.add_fault,
            json!({"operation": "", "status": "500", "times": "1", "csrf": csrf}),
        ),
        (&forms.remove_fault, json!({"csrf": csrf, "id": rule})),
    ];
    assert_refused(&browser, "a read-only session's", &forged).await;

    // Nothing changed.
    assert_eq!(
        console.grantees(&discovery).await,
        std::slice::from_ref(&ada)
    );
    assert_eq!(console.admin_get("/admin/v1/faults").await, faults_before);
    assert_eq!(
        console.newest_seq().await,
        seq_before,
        "the audit trail grew"
    );
    browser.close().await;
}

#[tokio::test]
async fn console_sign_in_works_from_the_keyboard() {
    let console = Console::start().await;
    let browser = Browser::open(&console.app.base, WIDE).await;
    browser.goto("/console/sign-in").await;
    let label = browser.text("label[for=token]").await;
    assert!(!label.trim().is_empty(), "the token field's label is empty");

    // Tab, from wherever the page puts the focus, reaches the field and
    // then the button (the field may have the focus to begin with).
    const FIELD: &str = "input#token[type=password]";
    const BUTTON: &str = "button[type=submit]";
    let mut visited = vec![browser.focused().await];
    for _ in 0..20 {
        browser.press(Key::Tab).await;
        let focused = browser.focused().await;
        let done = focused == BUTTON && visited.iter().any(|f| f == FIELD);
        visited.push(focused);
        if done {
            break;
        }
    }
    let field = visited.iter().position(|f| f == FIELD);
    let button = field.and_then(|f| visited[f..].iter().position(|b| b == BUTTON));
    assert!(
        button.is_some(),
        "Tab visited {visited:?}: the token field, then the submit button"
    );

    // Back to the field with Shift+Tab, type the token key by key and
    // press Enter.
    let shift: char = Key::Shift.into();
    let tab: char = Key::Tab.into();
    let back = KeyActions::new("keyboard".to_owned())
        .then(KeyAction::Down { value: shift })
        .then(KeyAction::Down { value: tab })
        .then(KeyAction::Up { value: tab })
        .then(KeyAction::Up { value: shift });
    if let Err(e) = browser.client.perform_actions(back).await {
        browser.fail(&format!("cannot press Shift+Tab: {e}")).await;
    }
    assert_eq!(browser.focused().await, FIELD, "Shift+Tab from the button");
    browser.type_keys(token(&console.admin)).await;
    browser
        .navigates("the page after Enter", browser.press(Key::Enter))
        .await;
    browser.find("nav#console-nav").await;
    browser.assert_path("/console").await;
    browser.close().await;
}

/// How the focused element shows its focus: its outline style and box
/// shadow, and whether it matches `:focus-visible`.
const FOCUS_RING: &str = "const e = document.activeElement; const style = getComputedStyle(e);
  return {visible: e.matches(':focus-visible'), outline: style.outlineStyle,
          width: style.outlineWidth, shadow: style.boxShadow}";

#[tokio::test]
async fn console_grant_form_works_from_the_keyboard_with_a_visible_focus() {
    let console = Console::start().await;
    let discovery = console.call("Discovery");
    let ada = console.user("Ada");
    let browser = console.signed_in(&console.admin).await;
    browser.goto(&console.call_page(&discovery)).await;
    browser.find("form#grant").await;

    // Tab from the top of the page to the grant field; every stop on the
    // way shows where the focus is.
    let mut visited = Vec::new();
    loop {
        browser.press(Key::Tab).await;
        let focused = browser.focused().await;
        let ring = browser.js(FOCUS_RING, vec![]).await;
        let shown = ring["outline"] != "none" && ring["width"] != "0px" || ring["shadow"] != "none";
        assert!(shown, "the focus on {focused} is invisible: {ring}");
        visited.push(focused.clone());
        if focused == "input#grant-user[type=text]" || focused.starts_with("input#grant-user") {
            break;
        }
        assert!(
            visited.len() < 60,
            "Tab never reached input#grant-user: {visited:?}"
        );
    }
    // Type the email key by key and press Enter: the grant is made.
    browser.type_keys("ada@demo.test").await;
    browser
        .navigates(
            "the page after Enter in the grant form",
            browser.press(Key::Enter),
        )
        .await;
    browser.text("p#flash[role=status]").await;
    assert_eq!(
        console.grantees(&discovery).await,
        std::slice::from_ref(&ada)
    );
    browser.close().await;
}

/// Inputs, selects and text areas (other than hidden ones and buttons)
/// without a label.
const UNLABELLED: &str = "return [...document.querySelectorAll('input, select, textarea')]
  .filter(e => !['hidden', 'submit', 'button', 'reset'].includes(e.type))
  .filter(e => !((e.id && document.querySelector('label[for=\"' + CSS.escape(e.id) + '\"]'))
                 || e.closest('label') || e.getAttribute('aria-label')
                 || e.getAttribute('aria-labelledby')))
  .map(e => e.outerHTML)";

#[tokio::test]
async fn console_every_page_at_1280_and_390_px_is_saved_as_a_screenshot_and_fits_its_width() {
    let console = Console::start().await;
    let company = console.company();
    // Something on every page: grants, a fault rule, journal entries; and
    // on the call pictured every kind of route (an API grant, a share,
    // profiles with and without a chain).
    let initech = console.call("Demo for Initech");
    for call in [console.call("Discovery"), initech.clone()] {
        console
            .app
            .grant(
                &console.key,
                CallId::parse(&call).unwrap().get(),
                &[console.user("Ada").parse().unwrap()],
            )
            .await;
    }
    console
        .app
        .admin(
            Method::POST,
            &format!("/admin/v1/companies/{company}/shares"),
            &console.admin,
            Some(json!({"callId": initech, "userId": console.user("Dee")})),
        )
        .await
        .assert_admin_ok();
    console
        .app
        .admin(
            Method::POST,
            "/admin/v1/faults",
            &console.admin,
            Some(json!({"match": {"path": "/v2/users"}, "times": 3, "effect": {"status": 429, "retryAfter": 7}})),
        )
        .await
        .assert_admin_ok();
    let listed = console
        .app
        .post_calls(
            &console.key,
            &[CallId::parse(&console.call("Discovery")).unwrap().get()],
        )
        .await;
    listed.assert_ok();
    let last_request = listed.body["requestId"].as_str().unwrap().to_owned();

    let pages = [
        ("companies", "/console".to_owned(), "ul#companies"),
        (
            "calls",
            format!("/console/companies/{company}/calls"),
            "table#calls",
        ),
        (
            "users",
            format!("/console/companies/{company}/users"),
            "table#users",
        ),
        ("call", console.call_page(&initech), "table#viewers"),
        (
            "user",
            format!(
                "/console/companies/{company}/users/{}",
                console.user("Maya")
            ),
            "table#user-calls",
        ),
        (
            "audit",
            format!("/console/companies/{company}/audit"),
            "table#audit",
        ),
        ("journal", "/console/journal".to_owned(), "table#journal"),
        ("faults", "/console/faults".to_owned(), "table#faults"),
    ];
    let mut problems = Vec::new();
    let mut browser = Browser::open(&console.app.base, WIDE).await;
    // The sign-in page first, before there is a session.
    for width in [WIDE, NARROW] {
        browser.resize(width).await;
        browser.goto("/console/sign-in").await;
        browser.find("form#sign-in").await;
        browser.screenshot("sign-in").await;
        problems.extend(page_problems(&browser, "sign-in").await);
    }
    browser.resize(WIDE).await;
    browser.sign_in(token(&console.admin)).await;
    for width in [WIDE, NARROW] {
        browser.resize(width).await;
        for (page, path, element) in &pages {
            browser.goto(path).await;
            browser.find(element).await;
            browser.find("nav#console-nav").await;
            if *page == "audit" {
                // The live stream connects after the page loads; the
                // picture shows it connected.
                browser.find("#live[data-state=open]").await;
            }
            browser.screenshot(page).await;
            problems.extend(page_problems(&browser, page).await);
        }
    }
    // The journal lists the last /v2 request first, with its bodies.
    browser.goto("/console/journal").await;
    let newest = browser
        .find("table#journal tbody tr[data-request-id]")
        .await
        .attr("data-request-id")
        .await
        .unwrap();
    assert_eq!(newest.as_deref(), Some(last_request.as_str()));
    let bodies = browser
        .js(
            "const tr = document.querySelector('table#journal tbody tr[data-request-id]');
             const pre = c => { const e = tr.querySelector('details ' + c); return e ? e.textContent : null; };
             return [pre('pre.request-body'), pre('pre.response-body')]",
            vec![],
        )
        .await;
    assert!(
        bodies[0].as_str().is_some_and(|b| b.contains("callIds")),
        "the POST's body: {bodies}"
    );
    assert!(
        bodies[1]
            .as_str()
            .is_some_and(|b| b.contains(&last_request)),
        "the answer's body: {bodies}"
    );
    browser.close().await;
    for (page, _, _) in std::iter::once(&("sign-in", String::new(), "")).chain(&pages) {
        for width in [WIDE, NARROW] {
            let path = screenshot_dir().join(format!("{page}-{width}.png"));
            let size = std::fs::metadata(&path).map_or(0, |m| m.len());
            assert!(size > 1000, "{} is missing or empty", path.display());
        }
    }
    assert!(
        problems.is_empty(),
        "the console's layout or labels:\n{}",
        problems.join("\n")
    );
}

/// The innermost elements whose box or content (text too long for its box
/// overflows the box, not the rectangle) reaches past the right edge of the
/// viewport, the first few: what makes a page scroll sideways.
const OVERFLOWING: &str = "const edge = document.documentElement.clientWidth + 1;
  const out = e => e.getBoundingClientRect().left + Math.max(e.scrollWidth, e.offsetWidth) > edge;
  return [...document.querySelectorAll('body *')]
    .filter(e => out(e) && ![...e.children].some(out))
    .slice(0, 6)
    .map(e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '')
      + (typeof e.className === 'string' && e.className.trim()
          ? '.' + e.className.trim().split(/\\s+/).join('.') : '')
      + ' \\'' + e.textContent.trim().slice(0, 40) + '\\'')";

/// Tables wider than the box that holds them (which scrolls them
/// sideways), each with its width, the box's, and its columns' widths.
const WIDER_TABLES: &str = "return [...document.querySelectorAll('table')]
  .filter(t => t.scrollWidth > t.parentElement.clientWidth + 1)
  .map(t => (t.id ? 'table#' + t.id : 'table') + ' ' + t.scrollWidth + ' px in '
    + t.parentElement.clientWidth + ' px; columns: '
    + [...t.querySelectorAll('thead th')]
        .map(th => th.textContent.trim() + ' ' + Math.round(th.getBoundingClientRect().width))
        .join(', '))";

/// What is wrong with the page shown, at either width: a document wider
/// than the window, a table wider than its box, a field without a label.
async fn page_problems(browser: &Browser, page: &str) -> Vec<String> {
    let mut found = Vec::new();
    let width = browser.width;
    let widths = browser
        .js(
            "return [document.documentElement.scrollWidth, document.documentElement.clientWidth]",
            vec![],
        )
        .await;
    let (scroll, client) = (widths[0].as_u64().unwrap(), widths[1].as_u64().unwrap());
    if scroll > client {
        let culprits = browser.js(OVERFLOWING, vec![]).await;
        found.push(format!(
            "{page} at {width} px: the document is {scroll} px wide in a {client} px viewport (it scrolls sideways); what sticks out: {culprits}"
        ));
    }
    let tables = browser.js(WIDER_TABLES, vec![]).await;
    if tables != json!([]) {
        found.push(format!(
            "{page} at {width} px: tables wider than their box (scrolled sideways inside it): {tables}"
        ));
    }
    let unlabelled = browser.js(UNLABELLED, vec![]).await;
    if unlabelled != json!([]) {
        found.push(format!(
            "{page} at {width} px: fields without a label: {unlabelled}"
        ));
    }
    found
}
