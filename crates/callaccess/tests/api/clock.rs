//! The manual clock (control-plane.md §6): a server on `--clock manual`
//! reads one clock that moves only when told, and everything that depends
//! on time follows it: rate-limit windows (in memory on SQLite, in the
//! database on PostgreSQL), key and token expiry (also when the credential
//! comes from the cache), and every time the store records. The servers
//! here start in 2030, far from the machine's time, so a time read from the
//! system clock anywhere shows up as a wrong value, not as a near miss.
//! Nothing here waits: the clock is moved.

use callaccess::db::DatabaseUrl;
use callaccess::server::ServeOptions;
use callaccess_domain::Origin;
use callaccess_domain::{
    secret, Clock, Limit, NewToken, RateLimit, Scope, Timestamp, User, UserId,
};
use reqwest::Method;
use serde_json::json;

use crate::helpers::ids::*;
use crate::helpers::{change, user, Auth, Reply, TestApp};

const START: &str = "2030-01-01T00:00:00Z";

fn start() -> Timestamp {
    Timestamp::parse_rfc3339(START).unwrap()
}

/// A server whose clock stands at [`START`] until the test moves it.
async fn manual() -> TestApp {
    TestApp::spawn_with_options(ServeOptions {
        clock: Clock::manual_at(start()),
        ..TestApp::options()
    })
    .await
}

/// Moves the server's clock through the admin API, as a test suite would.
async fn advance(app: &TestApp, admin: &Auth, by: &str) -> Reply {
    app.admin(
        Method::POST,
        "/admin/v1/clock",
        admin,
        Some(json!({"advance": by})),
    )
    .await
}

/// An admin answer that succeeded (admin answers carry the request id in
/// `x-traceid`, not in their bodies).
fn ok(reply: &Reply) {
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.headers.contains_key("x-traceid"));
}

/// One integer column of the rows `sql` selects, read from the test's
/// database itself (the same SQL on both backends).
async fn column(app: &TestApp, sql: &str) -> Vec<i64> {
    match app.database_url() {
        DatabaseUrl::Sqlite(path) => {
            let conn = rusqlite::Connection::open(path).unwrap();
            let mut statement = conn.prepare(sql).unwrap();
            statement
                .query_map([], |row| row.get::<_, i64>(0))
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap()
        }
        DatabaseUrl::Postgres(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .unwrap();
            tokio::spawn(connection);
            client
                .query(sql, &[])
                .await
                .unwrap()
                .iter()
                .map(|row| row.get::<_, i64>(0))
                .collect()
        }
    }
}

#[tokio::test]
async fn a_spent_day_budget_is_admitted_again_once_the_clock_moves_a_day() {
    let app = manual().await;
    let admin = app.admin_token().await;
    let c = app.company(1).await;
    app.store
        .set_rate_limit(
            c.id,
            RateLimit {
                per_second: Limit::Off,
                per_day: Limit::Max(5),
            },
        )
        .await
        .unwrap();
    for i in 0..5 {
        let reply = app.post_calls(&c.auth, &[CALL_1]).await;
        assert_eq!(reply.status, 200, "request {i}: {}", reply.body);
    }
    let refused = app.post_calls(&c.auth, &[CALL_1]).await;
    refused.assert_error(
        429,
        "rate limit exceeded: this company may make 5 requests per day; retry after 17280 s",
    );
    // Nearly a day is not enough: one request returns every 86 400 / 5 s.
    ok(&advance(&app, &admin, "4h 47m 59s").await);
    assert_eq!(app.post_calls(&c.auth, &[CALL_1]).await.status, 429);
    let moved = advance(&app, &admin, "1d").await;
    ok(&moved);
    assert_eq!(moved.body["now"], "2030-01-02T04:47:59Z");
    for i in 0..5 {
        let reply = app.post_calls(&c.auth, &[CALL_1]).await;
        assert_eq!(
            reply.status, 200,
            "request {i} of the next day: {}",
            reply.body
        );
    }
    assert_eq!(app.post_calls(&c.auth, &[CALL_1]).await.status, 429);
}

#[tokio::test]
async fn a_key_and_a_token_expire_when_the_clock_passes_their_expiry() {
    let app = manual().await;
    let admin = app.admin_token().await;
    let c = app.company(1).await;
    let in_an_hour = Some(app.clock.now().plus_seconds(3600));
    let key = app.api_key(&c, None, in_an_hour).await;
    let token_text = secret::generate_secret();
    app.store
        .create_token(
            &Origin::cli(),
            &NewToken {
                company: c.id,
                digest: secret::digest(&token_text),
                scopes: vec![Scope::parse(Scope::READ).unwrap()],
                expires_at: in_an_hour,
            },
        )
        .await
        .unwrap();
    let token = Auth::Bearer(token_text);
    // Twice each: on SQLite the second comes from the credential cache,
    // whose expiry check must read the same clock.
    for _ in 0..2 {
        app.post_calls(&key, &[CALL_1]).await.assert_ok();
        app.post_calls(&token, &[CALL_1]).await.assert_ok();
    }
    ok(&advance(&app, &admin, "59m 59s").await);
    app.post_calls(&key, &[CALL_1]).await.assert_ok();
    app.post_calls(&token, &[CALL_1]).await.assert_ok();
    ok(&advance(&app, &admin, "1s").await);
    for auth in [&key, &token] {
        for _ in 0..2 {
            let reply = app.post_calls(auth, &[CALL_1]).await;
            assert_eq!(reply.status, 401, "{}", reply.body);
        }
    }
    // The company's key without an expiry still works.
    app.post_calls(&c.auth, &[CALL_1]).await.assert_ok();
}

#[tokio::test]
async fn every_stored_time_is_the_clocks() {
    let app = manual().await;
    let admin = app.admin_token().await;
    let moved = advance(&app, &admin, "30d").await;
    ok(&moved);
    let now = start().plus_seconds(30 * 86_400);
    assert_eq!(moved.body["now"], now.to_string());
    assert_eq!(app.clock.now(), now);

    // The world: company, users, share, key — all created now.
    let c = app.company(1).await;
    let company = app.store.companies().await.unwrap();
    assert_eq!(company[0].created_at, now, "company");
    let keys = app.store.api_keys(Some(c.id)).await.unwrap();
    assert_eq!(keys[0].created_at, now, "api key");
    app.token(&c, &[Scope::READ]).await;
    let tokens = app.store.tokens(Some(c.id)).await.unwrap();
    assert_eq!(tokens[0].created_at, now, "token");
    assert_eq!(
        column(&app, "SELECT created_at FROM shares WHERE company_id = 1").await,
        vec![now.unix()],
        "share"
    );
    assert_eq!(
        column(
            &app,
            "SELECT DISTINCT created_at FROM users WHERE company_id = 1"
        )
        .await,
        vec![now.unix()],
        "users"
    );

    // A user created later reads back, through Gong's API, with that time.
    ok(&advance(&app, &admin, "1h").await);
    let later = now.plus_seconds(3600);
    app.store
        .add_user(
            &Origin::cli(),
            &User::new(c.id, user(2001), "late@c1.test".to_owned()),
        )
        .await
        .unwrap();
    let reply = app
        .request(Method::GET, "/v2/users/2001", &c.auth, None, &[])
        .await;
    reply.assert_ok();
    assert_eq!(reply.body["user"]["created"], later.to_string());
    let created = app
        .store
        .users(c.id)
        .await
        .unwrap()
        .into_iter()
        .find(|u| u.id == UserId::from_i64(2001).unwrap())
        .unwrap()
        .created;
    assert_eq!(created, Some(later));

    // An API grant through /v2 is recorded at the clock's time; a grant
    // that already exists keeps its time.
    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    ok(&advance(&app, &admin, "1h").await);
    app.put(&c.auth, change(CALL_3, &[NONE_A, NONE_B]))
        .await
        .assert_ok();
    assert_eq!(
        column(
            &app,
            "SELECT granted_at FROM api_grants WHERE company_id = 1 ORDER BY user_id"
        )
        .await,
        vec![later.unix(), later.unix() + 3600],
        "api grants"
    );
}

#[tokio::test]
async fn the_clock_reads_and_moves_only_forward() {
    let app = manual().await;
    let admin = app.admin_token().await;
    let read = app
        .admin(Method::GET, "/admin/v1/clock", &admin, None)
        .await;
    ok(&read);
    assert_eq!(read.body["now"], START);
    assert_eq!(read.body["mode"], "manual");

    let set = app
        .admin(
            Method::POST,
            "/admin/v1/clock",
            &admin,
            Some(json!({"set": "2030-06-01T12:00:00+02:00"})),
        )
        .await;
    ok(&set);
    assert_eq!(set.body["now"], "2030-06-01T10:00:00Z");
    assert_eq!(set.body["mode"], "manual");
    assert_eq!(app.clock.now().to_string(), "2030-06-01T10:00:00Z");

    // Back is refused, naming both times, and moves nothing.
    let back = app
        .admin(
            Method::POST,
            "/admin/v1/clock",
            &admin,
            Some(json!({"set": START})),
        )
        .await;
    back.assert_error(
        409,
        "the clock never goes backwards: it is 2030-06-01T10:00:00Z and 2030-01-01T00:00:00Z is earlier",
    );
    // The time it shows is not a step back.
    ok(&app
        .admin(
            Method::POST,
            "/admin/v1/clock",
            &admin,
            Some(json!({"set": "2030-06-01T10:00:00Z"})),
        )
        .await);
    let read = app
        .admin(Method::GET, "/admin/v1/clock", &admin, None)
        .await;
    assert_eq!(read.body["now"], "2030-06-01T10:00:00Z");

    for (body, message) in [
        (
            json!({}),
            "the body must be an object with \"advance\" (a duration such as \"1d\") or \"set\" (a time such as \"2030-01-01T00:00:00Z\")",
        ),
        (
            json!({"advance": "1d", "set": START}),
            "give either \"advance\" or \"set\", not both",
        ),
        (
            json!({"advance": "a while"}),
            "advance: \"a while\" is not a duration; use e.g. \"1d\", \"2h 30m\" or \"90s\"",
        ),
        (
            json!({"advanse": "1d"}),
            "advanse: unknown field; the clock takes \"advance\" or \"set\"",
        ),
    ] {
        app.admin(Method::POST, "/admin/v1/clock", &admin, Some(body))
            .await
            .assert_error(400, message);
    }
    assert_eq!(app.clock.now().to_string(), "2030-06-01T10:00:00Z");

    // A read-only admin token reads the clock but cannot move it.
    let read_only = app.read_only_admin_token().await;
    ok(&app
        .admin(Method::GET, "/admin/v1/clock", &read_only, None)
        .await);
    let refused = advance(&app, &read_only, "1d").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    // Neither can a Gong credential, nor no credential at all.
    let c = app.company(1).await;
    for auth in [&c.auth, &Auth::None] {
        assert_eq!(advance(&app, auth, "1d").await.status, 401);
    }
    assert_eq!(app.clock.now().to_string(), "2030-06-01T10:00:00Z");
}

#[tokio::test]
async fn on_the_system_clock_moving_time_is_409() {
    let app = TestApp::spawn_with_options(ServeOptions {
        clock: Clock::system(),
        ..TestApp::options()
    })
    .await;
    let admin = app.admin_token().await;
    let read = app
        .admin(Method::GET, "/admin/v1/clock", &admin, None)
        .await;
    ok(&read);
    assert_eq!(read.body["mode"], "system");
    let shown = Timestamp::parse_rfc3339(read.body["now"].as_str().unwrap()).unwrap();
    assert!(
        (shown.unix() - Timestamp::now().unix()).abs() <= 5,
        "{shown}"
    );
    let message = "the server runs on the system clock, which cannot be moved; start it with --clock manual to move time by hand";
    advance(&app, &admin, "1d").await.assert_error(409, message);
    app.admin(
        Method::POST,
        "/admin/v1/clock",
        &admin,
        Some(json!({"set": "2100-01-01T00:00:00Z"})),
    )
    .await
    .assert_error(409, message);
}

#[tokio::test]
async fn serve_clock_manual_starts_the_server_at_that_time() {
    use crate::server_process::{cli_ok, Server};
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let created = cli_ok(&["--database", &database, "admin-token", "create", "--json"]).await;
    let created: serde_json::Value = serde_json::from_str(&created).unwrap();
    let admin = Auth::Bearer(created["token"].as_str().unwrap().to_owned());
    let server = Server::start(&[
        "--database",
        &database,
        "--clock",
        &format!("manual={START}"),
    ])
    .await;
    let client = reqwest::Client::new();
    let at = |reply: Reply| {
        ok(&reply);
        assert_eq!(reply.body["mode"], "manual");
        reply.body["now"].as_str().unwrap().to_owned()
    };
    let clock = |method: Method, body: Option<serde_json::Value>| {
        crate::helpers::admin_request(
            &client,
            &server.base,
            method,
            "/admin/v1/clock",
            &admin,
            body,
        )
    };
    assert_eq!(at(clock(Method::GET, None).await), START);
    let moved = clock(Method::POST, Some(json!({"advance": "1d"}))).await;
    assert_eq!(at(moved), "2030-01-02T00:00:00Z");
    assert_eq!(at(clock(Method::GET, None).await), "2030-01-02T00:00:00Z");
}
