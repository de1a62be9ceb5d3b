//! The console over HTTP, without a browser: sign-in and the session
//! cookie, CSRF and read-only refusals, grants made from a page as `/v2`
//! and the audit trail see them, placement beside the admin API, escaping,
//! and every page answering a signed-in token. (The browser tests are
//! `console_browser`.)

use callaccess::http::console::session::{
    COOKIE_NAME, CSRF_MESSAGE, READ_ONLY_MESSAGE, REFUSED_MESSAGE,
};
use callaccess_domain::admin_token::{self, AdminTokenId};
use callaccess_domain::{Call, Origin};
use reqwest::header::{HeaderMap, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use reqwest::Method;
use serde_json::json;

use crate::audit::Stream;
use crate::helpers::ids::*;
use crate::helpers::{call, user, Auth, TestApp};

/// A browser's view of the console at one address: a session cookie once
/// signed in, and no redirects followed (so each answer is seen as sent).
struct Console {
    client: reqwest::Client,
    base: String,
    cookie: Option<String>,
}

/// An answer: status, headers and body text.
struct Page {
    status: u16,
    headers: HeaderMap,
    body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field of the page.
    fn csrf(&self) -> String {
        let at = self
            .body
            .find(r#"name="csrf" value=""#)
            .expect("a csrf field")
            + 19;
        self.body[at..at + 64].to_owned()
    }

    fn location(&self) -> &str {
        self.headers[LOCATION].to_str().unwrap()
    }
}

fn token_text(auth: &Auth) -> String {
    match auth {
        Auth::Bearer(token) => token.clone(),
        other => panic!("not an admin token: {other:?}"),
    }
}

fn token_id(auth: &Auth) -> AdminTokenId {
    admin_token::split(&token_text(auth)).unwrap().0
}

impl Console {
    fn at(base: &str) -> Self {
        Self {
            client: reqwest::Client::builder()
                .redirect(Policy::none())
                .build()
                .unwrap(),
            base: base.to_owned(),
            cookie: None,
        }
    }

    async fn answer(response: reqwest::Response) -> Page {
        Page {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.text().await.unwrap(),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(cookie) = &self.cookie {
            request = request.header("cookie", cookie);
        }
        request
    }

    async fn sign_in_with(&self, token: &str) -> Page {
        Self::answer(
            self.request(Method::POST, "/console/sign-in")
                .form(&[("token", token)])
                .send()
                .await
                .unwrap(),
        )
        .await
    }

    /// Signed in with `token`; the cookie kept as the answer set it.
    async fn signed_in(base: &str, token: &Auth) -> Self {
        let mut console = Self::at(base);
        let page = console.sign_in_with(&token_text(token)).await;
        assert_eq!(page.status, 303, "{}", page.body);
        let set = page.headers[SET_COOKIE].to_str().unwrap();
        console.cookie = Some(set.split(';').next().unwrap().to_owned());
        console
    }

    async fn get(&self, path: &str) -> Page {
        Self::answer(self.request(Method::GET, path).send().await.unwrap()).await
    }

    async fn post(&self, path: &str, form: &[(&str, &str)]) -> Page {
        Self::answer(
            self.request(Method::POST, path)
                .form(form)
                .send()
                .await
                .unwrap(),
        )
        .await
    }
}

fn call_page(call: i64) -> String {
    format!("/console/companies/1/calls/{call}")
}

#[tokio::test]
async fn sign_in_sets_a_session_cookie_and_refuses_bad_revoked_and_gong_tokens() {
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let console = Console::at(&app.base);

    let page = console.sign_in_with(&token_text(&admin)).await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert_eq!(page.location(), "/console");
    let cookie = page.headers[SET_COOKIE].to_str().unwrap();
    assert_eq!(
        cookie,
        format!(
            "{COOKIE_NAME}={}; HttpOnly; SameSite=Strict; Path=/console",
            token_text(&admin)
        )
    );

    let expired = app.new_admin_token(false, Some(app.clock.now())).await;
    app.clock
        .advance(std::time::Duration::from_secs(1))
        .unwrap();
    let expired = token_text(&expired);
    let wrong_secret = format!("{}x", token_text(&admin));
    let gong_key = company.access_key.clone();
    for bad in [
        "",
        "caadm_nothing_here",
        wrong_secret.as_str(),
        expired.as_str(),
        gong_key.as_str(),
    ] {
        let page = console.sign_in_with(bad).await;
        assert_eq!(page.status, 401, "{bad}: {}", page.body);
        assert!(page.headers.get(SET_COOKIE).is_none(), "{bad}");
        assert!(
            page.body
                .contains(r#"<p role="alert" id="sign-in-error" class="error">"#),
            "{}",
            page.body
        );
        assert!(
            page.body.contains(&html_escaped(REFUSED_MESSAGE)),
            "{}",
            page.body
        );
        assert!(page.body.contains(r#"<form id="sign-in""#));
    }

    // A session whose token is revoked ends on its next request.
    let signed_in = Console::signed_in(&app.base, &admin).await;
    assert_eq!(signed_in.get("/console").await.status, 200);
    let again = signed_in.get("/console/sign-in").await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains(r#"<p id="signed-in" role="status">"#));
    assert!(again.body.contains(r#"<form id="sign-in""#));
    app.store
        .revoke_admin_token(&Origin::cli(), &token_id(&admin), app.clock.now())
        .await
        .unwrap();
    let page = signed_in.get("/console").await;
    assert_eq!(page.status, 303);
    assert_eq!(page.location(), "/console/sign-in");
    assert!(page.headers[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    assert_eq!(console.sign_in_with(&token_text(&admin)).await.status, 401);
    let again = signed_in.get("/console/sign-in").await;
    assert!(!again.body.contains(r#"id="signed-in""#));
}

/// The value of the attribute whose opening (`name="`) is `opening`.
fn attribute(body: &str, opening: &str) -> String {
    let at = body.find(opening).expect(opening) + opening.len();
    body[at..].split('"').next().unwrap().replace("&#38;", "&")
}

/// What askama writes for `text` (it escapes quotes and `&` too).
fn html_escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

#[tokio::test]
async fn every_page_without_a_session_redirects_to_sign_in() {
    let (app, _company) = TestApp::spawn_with_company().await;
    let console = Console::at(&app.base);
    let pages = [
        "/console".to_owned(),
        "/console/companies/1/calls".to_owned(),
        call_page(CALL_1),
        format!("/console/companies/1/users/{OWN_PRIMARY}"),
        "/console/companies/1/audit".to_owned(),
        "/console/companies/1/audit/stream".to_owned(),
        "/console/journal".to_owned(),
        "/console/faults".to_owned(),
    ];
    for path in &pages {
        let page = console.get(path).await;
        assert_eq!(page.status, 303, "{path}");
        assert_eq!(page.location(), "/console/sign-in", "{path}");
    }
    // A cookie that is not a token is no session either.
    let mut forged = Console::at(&app.base);
    forged.cookie = Some(format!("{COOKIE_NAME}=caadm_0000000000000000_nope"));
    assert_eq!(forged.get("/console").await.status, 303);
    let page = forged
        .post(&format!("{}/grant", call_page(CALL_2)), &[("user", "1001")])
        .await;
    assert_eq!(page.status, 303);
    assert_eq!(console.get("/console/sign-in").await.status, 200);
}

#[tokio::test]
async fn a_write_without_the_right_csrf_value_is_refused_and_changes_nothing() {
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let console = Console::signed_in(&app.base, &admin).await;
    let grant = format!("{}/grant", call_page(CALL_2));
    let other = Console::signed_in(&app.base, &app.admin_token().await).await;
    let others_csrf = other.get("/console").await.csrf();
    let user_id = NONE_A.to_string();
    for form in [
        vec![("user", user_id.as_str())],
        vec![("user", user_id.as_str()), ("csrf", "")],
        vec![("user", user_id.as_str()), ("csrf", others_csrf.as_str())],
    ] {
        let page = console.post(&grant, &form).await;
        assert_eq!(page.status, 403, "{form:?}: {}", page.body);
        assert!(
            page.body.contains(&html_escaped(CSRF_MESSAGE)),
            "{}",
            page.body
        );
    }
    let page = console.post("/console/faults", &[("status", "503")]).await;
    assert_eq!(page.status, 403);
    assert!(app.grantees(&company.auth, CALL_2).await.is_empty());
    assert!(app.faults_listed().await.is_empty());

    // The same form with the page's own value goes through.
    let csrf = console.get(&call_page(CALL_2)).await.csrf();
    let page = console
        .post(
            &grant,
            &[("user", user_id.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert_eq!(app.grantees(&company.auth, CALL_2).await, [user_id]);
}

impl TestApp {
    async fn faults_listed(&self) -> Vec<serde_json::Value> {
        let admin = self.admin_token().await;
        let reply = self
            .admin(Method::GET, "/admin/v1/faults", &admin, None)
            .await;
        reply.body["items"].as_array().unwrap().clone()
    }
}

#[tokio::test]
async fn a_read_only_token_sees_no_write_controls_and_cannot_write() {
    let (app, company) = TestApp::spawn_with_company().await;
    app.grant(&company.auth, CALL_1, &[NONE_A]).await;
    let console = Console::signed_in(&app.base, &app.read_only_admin_token().await).await;
    let page = console.get(&call_page(CALL_1)).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains(r#"<span id="role">read-only</span>"#));
    assert!(page
        .body
        .contains(&format!(r#"<tr data-user-id="{NONE_A}">"#)));
    for control in [r#"id="grant""#, r#"class="revoke""#] {
        assert!(!page.body.contains(control), "{control}");
    }
    let faults = console.get("/console/faults").await;
    assert!(!faults.body.contains(r#"id="add-fault""#));

    // Its own csrf value does not make a write of it acceptable.
    let csrf = page.csrf();
    let none_a = NONE_A.to_string();
    let refused = [
        (format!("{}/revoke", call_page(CALL_1)), none_a.clone()),
        (format!("{}/grant", call_page(CALL_2)), none_a),
    ];
    for (path, user_id) in &refused {
        let page = console
            .post(path, &[("user", user_id.as_str()), ("csrf", csrf.as_str())])
            .await;
        assert_eq!(page.status, 403, "{path}: {}", page.body);
        assert!(page.body.contains(&html_escaped(READ_ONLY_MESSAGE)));
    }
    let page = console
        .post(
            "/console/faults",
            &[("status", "503"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 403);
    assert_eq!(
        app.grantees(&company.auth, CALL_1).await,
        [NONE_A.to_string()]
    );
    assert!(app.grantees(&company.auth, CALL_2).await.is_empty());
    assert!(app.faults_listed().await.is_empty());
}

#[tokio::test]
async fn a_grant_from_the_console_is_a_v2_grant_in_the_audit_trail_as_the_admin_token() {
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let console = Console::signed_in(&app.base, &admin).await;
    let csrf = console.get(&call_page(CALL_2)).await.csrf();

    // By email address, as the form allows.
    let email = format!("u{NONE_A}@c1.test");
    let page = console
        .post(
            &format!("{}/grant", call_page(CALL_2)),
            &[("user", email.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains(r#"<p id="flash" role="status">Granted"#),
        "{}",
        page.body
    );
    assert!(page
        .body
        .contains(r#"<span class="badge" data-route="apiGrant">API grant ("#));
    // Who made it, from the audit trail.
    let by = format!(", by admin:{})</span>", token_id(&admin).as_str());
    assert!(page.body.contains(&by), "{}", page.body);
    assert_eq!(
        app.grantees(&company.auth, CALL_2).await,
        [NONE_A.to_string()]
    );

    let trail = app
        .admin(
            Method::GET,
            &format!("/admin/v1/audit?company=1&call={CALL_2}&action=grant.add"),
            &admin,
            None,
        )
        .await;
    let entries = trail.body["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", trail.body);
    assert_eq!(
        entries[0]["actor"],
        format!("admin:{}", token_id(&admin).as_str())
    );
    assert_eq!(entries[0]["user"], NONE_A.to_string());
    assert_eq!(
        entries[0]["requestId"],
        page.headers["x-traceid"].to_str().unwrap()
    );

    // A user the company does not have: refused on the page, nothing written.
    let page = console
        .post(
            &format!("{}/grant", call_page(CALL_2)),
            &[("user", "nobody@c1.test"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(
        page.body.contains(r#"<p id="flash" role="status">no user"#),
        "{}",
        page.body
    );

    // Revoke, by id, as the row's button sends it.
    let none_a = NONE_A.to_string();
    let page = console
        .post(
            &format!("{}/revoke", call_page(CALL_2)),
            &[("user", none_a.as_str()), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(app.grantees(&company.auth, CALL_2).await.is_empty());
    let trail = app
        .admin(
            Method::GET,
            &format!("/admin/v1/audit?call={CALL_2}&action=grant.remove"),
            &admin,
            None,
        )
        .await;
    assert_eq!(trail.body["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn with_admin_listen_the_console_is_only_on_the_admin_address() {
    let (app, admin_base) = TestApp::spawn_with_admin_listener(TestApp::options()).await;
    let api = Console::at(&app.base);
    for path in [
        "/console",
        "/console/sign-in",
        "/console/assets/console.css",
    ] {
        assert_eq!(api.get(path).await.status, 404, "{path}");
    }
    let token = app.admin_token().await;
    assert_eq!(api.sign_in_with(&token_text(&token)).await.status, 404);
    let console = Console::signed_in(&admin_base, &token).await;
    assert_eq!(console.get("/console").await.status, 200);
}

#[tokio::test]
async fn a_call_title_is_escaped() {
    let (app, _company) = TestApp::spawn_with_company().await;
    let company = callaccess_domain::CompanyId::from_i64(1).unwrap();
    let title = r#"<script>alert("x")</script>"#;
    app.store
        .add_call(
            &Origin::cli(),
            &Call {
                title: Some(title.to_owned()),
                ..Call::new(company, call(CALL_3 + 10), user(NONE_A))
            },
        )
        .await
        .unwrap();
    let console = Console::signed_in(&app.base, &app.admin_token().await).await;
    for path in [
        "/console/companies/1/calls?q=script".to_owned(),
        call_page(CALL_3 + 10),
    ] {
        let page = console.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert!(
            page.body.contains(&html_escaped(title)),
            "{path}: {}",
            page.body
        );
        assert!(!page.body.contains("<script>alert"), "{path}");
    }
}

#[tokio::test]
async fn calls_are_found_by_title_id_or_host_and_paged() {
    let (app, _company) = TestApp::spawn_with_company().await;
    let console = Console::signed_in(&app.base, &app.admin_token().await).await;
    let rows = |page: &Page| {
        page.body
            .match_indices("<tr data-call-id=\"")
            .map(|(at, _)| page.body[at + 18..at + 37].to_owned())
            .collect::<Vec<_>>()
    };
    let search = |q: &str| format!("/console/companies/1/calls?q={q}");
    let cases = [
        (search(""), vec![CALL_1, CALL_2, CALL_3]),
        (search("CALL+7782342274025937002"), vec![CALL_2]),
        (search(&CALL_3.to_string()), vec![CALL_3]),
        // The host's email address: NONE_B hosts CALL_2.
        (search(&format!("u{NONE_B}%40c1")), vec![CALL_2]),
        (search("no+such+call"), vec![]),
    ];
    for (path, calls) in cases {
        let page = console.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        let expected: Vec<String> = calls.iter().map(ToString::to_string).collect();
        assert_eq!(rows(&page), expected, "{path}");
        assert!(!page.body.contains("id=\"next-page\""));
    }

    // More calls than a page: a next link that goes on where it stopped.
    let company = callaccess_domain::CompanyId::from_i64(1).unwrap();
    for n in 0..60 {
        app.store
            .add_call(
                &Origin::cli(),
                &Call {
                    title: Some(format!("bulk {n}")),
                    ..Call::new(company, call(CALL_3 + 100 + n), user(NONE_A))
                },
            )
            .await
            .unwrap();
    }
    let first = console.get(&search("bulk")).await;
    assert_eq!(rows(&first).len(), 50);
    let next = attribute(&first.body, r#"<a id="next-page" href=""#);
    let second = console.get(&next).await;
    assert_eq!(rows(&second).len(), 10, "{next}");
    assert!(!second.body.contains("id=\"next-page\""));
}

#[tokio::test]
async fn users_are_found_by_id_or_email() {
    let (app, _company) = TestApp::spawn_with_company().await;
    let console = Console::signed_in(&app.base, &app.admin_token().await).await;
    let cases = [
        // The fixed world's users have the ids 1001 to 1007.
        ("", (NONE_A..=OWN_OTHER).collect()),
        ("1003", vec![SHARED]),
        ("U1005%40C1.test", vec![OWN_PRIMARY]),
        ("nobody", vec![]),
    ];
    for (q, users) in cases {
        let page = console
            .get(&format!("/console/companies/1/users?q={q}"))
            .await;
        assert_eq!(page.status, 200, "{q}");
        let rows: Vec<String> = page
            .body
            .match_indices("<tr data-user-id=\"")
            .map(|(at, _)| page.body[at + 18..].split('"').next().unwrap().to_owned())
            .collect();
        let expected: Vec<String> = users.iter().map(ToString::to_string).collect();
        assert_eq!(rows, expected, "{q}");
    }
}

#[tokio::test]
async fn every_page_renders_for_a_signed_in_token() {
    let (app, company) = TestApp::spawn_with_company().await;
    app.grant(&company.auth, CALL_2, &[NONE_A]).await;
    let console = Console::signed_in(&app.base, &app.admin_token().await).await;
    let pages = [
        ("/console".to_owned(), r#"data-company-id="1""#),
        (
            "/console/companies/1/calls".to_owned(),
            r#"<table id="calls">"#,
        ),
        (call_page(CALL_1), r#"data-route="shared""#),
        (call_page(CALL_2), r#"<form class="revoke""#),
        (
            format!("/console/companies/1/users/{NONE_A}"),
            r#"<table id="user-calls">"#,
        ),
        (
            "/console/companies/1/audit?actor=&call=&user=&action=grant.add&since=&until="
                .to_owned(),
            r#"<tr data-seq=""#,
        ),
        (
            "/console/journal".to_owned(),
            r#"<pre class="request-body">"#,
        ),
        ("/console/faults".to_owned(), r#"<form id="add-fault""#),
    ];
    for (path, element) in &pages {
        let page = console.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_eq!(
            page.headers[CONTENT_TYPE], "text/html; charset=utf-8",
            "{path}"
        );
        assert!(page.body.contains(r#"<nav id="console-nav""#), "{path}");
        assert!(
            page.body.contains(r#"<span id="role">full</span>"#),
            "{path}"
        );
        assert!(page.body.contains(element), "{path}: no {element}");
    }
    for (asset, kind) in [
        ("console.css", "text/css; charset=utf-8"),
        ("console.js", "text/javascript; charset=utf-8"),
    ] {
        let page = Console::at(&app.base)
            .get(&format!("/console/assets/{asset}"))
            .await;
        assert_eq!(page.status, 200);
        assert_eq!(page.headers[CONTENT_TYPE], kind);
        assert!(page.headers["cache-control"]
            .to_str()
            .unwrap()
            .contains("max-age"));
    }
    let page = console.get("/console/companies/1/calls/123").await;
    assert_eq!(page.status, 404);
    assert!(page.body.contains(r#"id="failure""#), "{}", page.body);
}

#[tokio::test]
async fn a_fault_rule_from_the_form_fails_the_next_v2_request_and_is_removed() {
    let (app, company) = TestApp::spawn_with_company().await;
    let console = Console::signed_in(&app.base, &app.admin_token().await).await;
    let csrf = console.get("/console/faults").await.csrf();
    let page = console
        .post(
            "/console/faults",
            &[
                ("operation", "addUsersAccessToCalls"),
                ("method", ""),
                ("path", ""),
                ("status", "503"),
                ("times", "1"),
                ("probability", ""),
                ("delay", ""),
                ("csrf", csrf.as_str()),
            ],
        )
        .await;
    assert_eq!(page.status, 200, "{}", page.body);
    let rules = app.faults_listed().await;
    assert_eq!(rules.len(), 1);
    assert_eq!(
        rules[0]["match"],
        json!({"operationId": "addUsersAccessToCalls"})
    );
    let id = rules[0]["id"].as_str().unwrap().to_owned();
    assert!(page.body.contains(&format!(r#"<tr data-rule-id="{id}">"#)));

    let reply = app
        .put(&company.auth, crate::helpers::change(CALL_2, &[NONE_A]))
        .await;
    assert_eq!(reply.status, 503);
    let page = console.get("/console/faults").await;
    assert!(
        page.body
            .contains(r#"<td data-label="Fired" class="fired">1</td>"#),
        "{}",
        page.body
    );

    // A bad field: the parser's message, and no rule added.
    let page = console
        .post(
            "/console/faults",
            &[("status", "200"), ("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 400);
    assert!(page.body.contains(r#"id="fault-errors""#));
    assert!(page.body.contains("effect.status"), "{}", page.body);
    assert_eq!(app.faults_listed().await.len(), 1);

    let page = console
        .post(
            &format!("/console/faults/{id}/remove"),
            &[("csrf", csrf.as_str())],
        )
        .await;
    assert_eq!(page.status, 200);
    assert!(app.faults_listed().await.is_empty());
}

#[tokio::test]
async fn the_live_audit_stream_sends_a_v2_change_to_a_signed_in_page() {
    let (app, company) = TestApp::spawn_with_company().await;
    let console = Console::signed_in(&app.base, &app.admin_token().await).await;
    let page = console
        .get("/console/companies/1/audit?action=grant.add")
        .await;
    let stream_url = attribute(&page.body, r#"data-stream=""#);
    assert!(stream_url.starts_with("/console/companies/1/audit/stream?action=grant.add&after="));
    let mut stream = Stream::of(
        console
            .request(Method::GET, &stream_url)
            .send()
            .await
            .unwrap(),
    );

    // The grants come through, the revoke between them is filtered out.
    app.grant(&company.auth, CALL_2, &[NONE_A]).await;
    let revoke = app
        .delete(&company.auth, crate::helpers::change(CALL_2, &[NONE_A]))
        .await;
    assert_eq!(revoke.status, 200);
    app.grant(&company.auth, CALL_3, &[NONE_B]).await;
    for expected in [CALL_2, CALL_3] {
        let entry = stream.entry().await;
        assert_eq!(entry["action"], "grant.add", "{entry}");
        assert_eq!(entry["call"], expected.to_string());
        assert_eq!(entry["actor"], format!("apiKey:{}", company.access_key));
    }

    // Filters that do not parse: the form again, saying what is wrong.
    let page = console
        .get("/console/companies/1/audit?since=yesterday&action=grant.add")
        .await;
    assert_eq!(page.status, 400);
    assert!(page
        .body
        .contains(r#"<div id="filter-errors" role="alert">"#));
    assert!(page.body.contains("since: "), "{}", page.body);
    assert!(page.body.contains(r#"value="yesterday""#));
    assert!(!page.body.contains("data-stream="));
    let bad = "/console/companies/1/audit/stream?user=someone";
    assert_eq!(console.get(bad).await.status, 400);

    // Without a session, no stream.
    let page = Console::at(&app.base).get(&stream_url).await;
    assert_eq!(page.status, 303);
}
