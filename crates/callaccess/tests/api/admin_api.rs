//! The admin API (control-plane.md §1–2): admin tokens on every
//! `/admin/v1` route, kept apart from Gong's credentials; read-only tokens;
//! revocation and expiry; tokens stored hashed and never logged; the
//! directory CRUD with the CLI's rules and messages, paged lists.

use callaccess_domain::Origin;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{Auth, Reply, TestApp};

const COMPANIES: &str = "/admin/v1/companies";

/// The 401 of the admin API, with its envelope and challenge.
fn assert_admin_refused(reply: &Reply, what: &str) {
    assert_eq!(reply.status, 401, "{what}: {}", reply.body);
    let errors = reply.errors();
    assert!(
        errors[0].starts_with("admin authentication failed"),
        "{what}: {errors:?}"
    );
    assert_eq!(
        reply.headers["www-authenticate"], "Bearer realm=\"callaccess-admin\"",
        "{what}"
    );
}

#[tokio::test]
async fn gong_credentials_and_bad_tokens_get_401_on_admin_routes() {
    let (app, company) = TestApp::spawn_with_company().await;
    let gong_token = app.token(&company, &["api:calls:read:basic"]).await;
    let Auth::Bearer(admin) = app.admin_token().await else {
        unreachable!()
    };
    let (prefix, secret) = admin.rsplit_once('_').unwrap();
    let unknown_id = format!("caadm_0000000000000000_{secret}");
    let cases = [
        ("no credential", Auth::None),
        ("a Gong API key", company.auth.clone()),
        ("a Gong bearer token", gong_token),
        (
            "a Basic header with the admin token",
            Auth::Basic(admin.clone(), "x".to_owned()),
        ),
        (
            "a malformed token",
            Auth::Bearer("caadm_nothex_secret".to_owned()),
        ),
        ("an unknown id", Auth::Bearer(unknown_id)),
        (
            "a wrong secret",
            Auth::Bearer(format!("{prefix}_{secret}x")),
        ),
        (
            "the id without its secret",
            Auth::Bearer(format!("{prefix}_")),
        ),
        ("another scheme", Auth::Raw(format!("Token {admin}"))),
    ];
    for (what, auth) in &cases {
        for method in [Method::GET, Method::POST] {
            let body = (method == Method::POST).then(|| json!({"name": "Nope"}));
            let reply = app.admin(method.clone(), COMPANIES, auth, body).await;
            assert_admin_refused(&reply, &format!("{method} with {what}"));
        }
    }
    // Nothing was created by any refused POST.
    let listed = app
        .admin(Method::GET, COMPANIES, &Auth::Bearer(admin), None)
        .await;
    listed.assert_admin_ok();
    assert_eq!(
        listed.body["items"].as_array().unwrap().len(),
        1,
        "{}",
        listed.body
    );
}

#[tokio::test]
async fn an_admin_token_is_not_a_gong_credential() {
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    for path in ["/v2/users", "/v2/workspaces"] {
        let reply = app.request(Method::GET, path, &admin, None, &[]).await;
        reply.assert_error(401, "authentication failed: send 'Authorization: Basic' with a valid access key and secret, or 'Authorization: Bearer' with a valid access token");
    }
    let reply = app.post_calls(&admin, &[crate::helpers::ids::CALL_1]).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    // The company's own key still works, so the 401s were the token's.
    app.request(Method::GET, "/v2/users", &company.auth, None, &[])
        .await
        .assert_ok();
}

#[tokio::test]
async fn a_read_only_token_may_read_and_nothing_else() {
    let app = TestApp::spawn().await;
    let read_only = app.read_only_admin_token().await;
    let reply = app.admin(Method::GET, COMPANIES, &read_only, None).await;
    reply.assert_admin_ok();
    assert_eq!(reply.body, json!({"items": [], "nextCursor": null}));

    let reply = app
        .admin(
            Method::POST,
            COMPANIES,
            &read_only,
            Some(json!({"name": "Acme"})),
        )
        .await;
    reply.assert_error(403, crate::helpers::ADMIN_READ_ONLY);
    let reply = app
        .admin(
            Method::PATCH,
            &format!("{COMPANIES}/1"),
            &read_only,
            Some(json!({"rateLimit": {"perDay": 5}})),
        )
        .await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    let listed = app.admin(Method::GET, COMPANIES, &read_only, None).await;
    assert_eq!(
        listed.body["items"],
        json!([]),
        "a refused write changed something"
    );

    // A full token writes.
    let full = app.admin_token().await;
    let reply = app
        .admin(
            Method::POST,
            COMPANIES,
            &full,
            Some(json!({"name": "Acme"})),
        )
        .await;
    reply.assert_admin_ok();
    assert_eq!(reply.body["name"], "Acme");
}

#[tokio::test]
async fn revoked_and_expired_tokens_get_401() {
    let app = TestApp::spawn().await;
    let token = app.admin_token().await;
    app.admin(Method::GET, COMPANIES, &token, None)
        .await
        .assert_admin_ok();
    let Auth::Bearer(text) = &token else {
        unreachable!()
    };
    let (id, _) = callaccess_domain::admin_token::split(text).unwrap();
    app.store
        .revoke_admin_token(&Origin::cli(), &id, app.clock.now())
        .await
        .unwrap();
    // Seen on the very next request: nothing keeps a verified admin token.
    assert_admin_refused(
        &app.admin(Method::GET, COMPANIES, &token, None).await,
        "revoked",
    );

    // Expiry follows the server's clock.
    let now = app.clock.now();
    let expiring = app
        .new_admin_token(false, Some(now.plus_seconds(3_600)))
        .await;
    app.admin(Method::GET, COMPANIES, &expiring, None)
        .await
        .assert_admin_ok();
    app.clock
        .advance(std::time::Duration::from_secs(3_600))
        .unwrap();
    assert_admin_refused(
        &app.admin(Method::GET, COMPANIES, &expiring, None).await,
        "expired",
    );
    let expired = app.new_admin_token(true, Some(now)).await;
    assert_admin_refused(
        &app.admin(Method::GET, COMPANIES, &expired, None).await,
        "born expired",
    );
}

#[tokio::test]
async fn admin_tokens_are_stored_as_digests_of_their_secret() {
    let app = TestApp::spawn().await;
    let Auth::Bearer(text) = app.admin_token().await else {
        unreachable!()
    };
    let (id, secret) = callaccess_domain::admin_token::split(&text).unwrap();
    let stored = app.store.admin_token(&id).await.unwrap().unwrap();
    assert_eq!(stored.digest, callaccess_domain::secret::digest(secret));
    assert_ne!(stored.digest, callaccess_domain::secret::digest(&text));
    // On SQLite, no byte of the database files holds the secret.
    if let crate::helpers::TestBackend::Sqlite = crate::helpers::test_backend() {
        for entry in std::fs::read_dir(app.dir.path()).unwrap() {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            assert!(
                !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
                "{} holds the secret",
                path.display()
            );
        }
    }
}

// --- the real binary: the CLI makes tokens, the server never logs them ---

#[tokio::test]
async fn the_cli_makes_lists_and_revokes_tokens_and_the_server_never_logs_them() {
    use crate::server_process::{cli, cli_ok, Server};
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let created: Value = serde_json::from_str(
        &cli_ok(&[
            "admin-token",
            "create",
            "--database",
            &database,
            "--note",
            "ci",
            "--json",
        ])
        .await,
    )
    .unwrap();
    let token = created["token"].as_str().unwrap().to_owned();
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(token.starts_with(&format!("caadm_{id}_")), "{created}");
    assert_eq!(
        (created["readOnly"].as_bool(), created["note"].as_str()),
        (Some(false), Some("ci"))
    );
    let text = cli_ok(&[
        "admin-token",
        "create",
        "--database",
        &database,
        "--read-only",
        "--expires",
        "1d",
    ])
    .await;
    assert!(text.contains("created a read-only admin token"), "{text}");
    assert!(text.contains("shown only this once"), "{text}");

    let listed = cli_ok(&["admin-token", "list", "--database", &database, "--json"]).await;
    let listed: Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
    assert!(
        !listed.to_string().contains(&token[6 + 16 + 1..]),
        "list shows a secret: {listed}"
    );
    let table = cli_ok(&["admin-token", "list", "--database", &database]).await;
    assert!(table.starts_with("ID "), "{table}");
    assert!(
        table.contains("read-only") && table.contains(" ci"),
        "{table}"
    );

    let mut server = Server::start(&["--database", &database]).await;
    let client = reqwest::Client::new();
    let admin = Auth::Bearer(token.clone());
    let url = format!("{}/admin/v1/companies", server.base);
    let reply = crate::helpers::admin_request(
        &client,
        &server.base,
        Method::GET,
        "/admin/v1/companies",
        &admin,
        None,
    )
    .await;
    reply.assert_admin_ok();
    let wrong = Auth::Bearer(format!("{token}x"));
    let reply = crate::helpers::admin_request(
        &client,
        &server.base,
        Method::GET,
        "/admin/v1/companies",
        &wrong,
        None,
    )
    .await;
    assert_eq!(reply.status, 401);
    let request_id = reply.headers["x-traceid"].to_str().unwrap().to_owned();
    server
        .find_log(|e| e["request_id"] == request_id.as_str())
        .await;

    // Revoked by the CLI, refused by the running server at once.
    let revoked = cli_ok(&["admin-token", "revoke", &id, "--database", &database]).await;
    assert_eq!(revoked, format!("revoked admin token {id}\n"));
    let again = cli_ok(&["admin-token", "revoke", &id, "--database", &database]).await;
    assert!(
        again.starts_with(&format!("admin token {id} was already revoked at ")),
        "{again}"
    );
    let response = client.get(&url).bearer_auth(&token).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let missing = cli(&[
        "admin-token",
        "revoke",
        "0000000000000000",
        "--database",
        &database,
    ])
    .await;
    assert_eq!(
        String::from_utf8_lossy(&missing.stderr),
        "error: admin token \"0000000000000000\" does not exist\n"
    );

    let exited = server.terminate().await;
    assert_eq!(exited.code, 0);
    let secret = &token[6 + 16 + 1..];
    for line in &exited.log {
        assert!(!line.contains(secret), "the token reached the log: {line}");
    }
    assert!(
        exited.log.iter().any(|l| l.contains("/admin/v1/companies")),
        "{:#?}",
        exited.log
    );
}

#[tokio::test]
async fn with_an_admin_listener_the_api_address_has_no_admin_api() {
    let (app, admin_base) = TestApp::spawn_with_admin_listener(TestApp::options()).await;
    let company = app.company(1).await;
    let admin = app.admin_token().await;
    // On the API's address: 404, as for any path it does not serve, with
    // or without a token, for every method.
    for (method, body) in [
        (Method::GET, None),
        (Method::POST, Some(json!({"name": "Nope"}))),
    ] {
        for auth in [&admin, &Auth::None] {
            let reply = app
                .admin(method.clone(), COMPANIES, auth, body.clone())
                .await;
            assert_eq!(reply.status, 404, "{}", reply.body);
            assert!(
                reply.errors()[0].starts_with("no such endpoint"),
                "{}",
                reply.body
            );
        }
    }
    // The admin address serves it, with the same envelope and auth...
    let reply = crate::helpers::admin_request(
        &app.client,
        &admin_base,
        Method::GET,
        COMPANIES,
        &admin,
        None,
    )
    .await;
    reply.assert_admin_ok();
    assert_eq!(reply.body["items"][0]["id"], company.id.to_string());
    let refused = crate::helpers::admin_request(
        &app.client,
        &admin_base,
        Method::GET,
        COMPANIES,
        &company.auth,
        None,
    )
    .await;
    assert_admin_refused(&refused, "a Gong key on the admin address");
    // ... and nothing of Gong's API.
    let reply = crate::helpers::admin_request(
        &app.client,
        &admin_base,
        Method::GET,
        "/v2/users",
        &company.auth,
        None,
    )
    .await;
    assert_eq!(reply.status, 404, "{}", reply.body);
    // Gong's API still answers on its own address.
    app.request(Method::GET, "/v2/users", &company.auth, None, &[])
        .await
        .assert_ok();
    app.stop().await;
}

// --- directory CRUD ---

#[tokio::test]
async fn companies_are_created_read_changed_and_paged() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    for n in 1..=3 {
        let body =
            json!({"name": format!("Co {n}"), "id": format!("{n}"), "rateLimit": {"perSecond": n}});
        app.admin(Method::POST, COMPANIES, &admin, Some(body))
            .await
            .assert_admin_ok();
    }
    // The CLI's rules and messages.
    app.admin(Method::POST, COMPANIES, &admin, Some(json!({"name": " "})))
        .await
        .assert_error(400, "a company name must not be empty");
    app.admin(
        Method::POST,
        COMPANIES,
        &admin,
        Some(json!({"name": "Again", "id": "1"})),
    )
    .await
    .assert_error(409, "company \"1\" already exists");
    let unknown_field = app
        .admin(
            Method::POST,
            COMPANIES,
            &admin,
            Some(json!({"name": "X", "colour": "red"})),
        )
        .await;
    assert_eq!(unknown_field.status, 400);
    assert!(
        unknown_field.errors()[0].contains("unknown field 'colour'"),
        "{}",
        unknown_field.body
    );
    app.admin(
        Method::POST,
        COMPANIES,
        &admin,
        Some(json!({"name": "X", "rateLimit": {"perDay": 0}})),
    )
    .await
    .assert_error(
        400,
        "rateLimit.perDay: \"0\" is not a rate limit (a positive whole number, or off)",
    );

    // Pages of two, then one; a cursor of another list is refused.
    let first = app
        .admin(Method::GET, &format!("{COMPANIES}?limit=2"), &admin, None)
        .await;
    let ids: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["1", "2"]);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let second = app
        .admin(
            Method::GET,
            &format!("{COMPANIES}?limit=2&cursor={cursor}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(second.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(second.body["items"][0]["id"], "3");
    assert_eq!(second.body["nextCursor"], Value::Null);
    let bad = app
        .admin(
            Method::GET,
            &format!("{COMPANIES}?cursor=bm90LWEtY3Vyc29y"),
            &admin,
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let bad = app
        .admin(
            Method::GET,
            &format!("{COMPANIES}?limit=1001"),
            &admin,
            None,
        )
        .await;
    bad.assert_error(400, "limit: \"1001\" is not a page size (1 to 1000)");

    let one = app
        .admin(Method::GET, &format!("{COMPANIES}/2"), &admin, None)
        .await;
    assert_eq!(
        one.body["rateLimit"],
        json!({"perSecond": 2, "perDay": "default"})
    );
    let changed = app
        .admin(
            Method::PATCH,
            &format!("{COMPANIES}/2"),
            &admin,
            Some(json!({"rateLimit": {"perDay": "off"}})),
        )
        .await;
    changed.assert_admin_ok();
    assert_eq!(
        changed.body["rateLimit"],
        json!({"perSecond": 2, "perDay": "off"})
    );
    app.admin(Method::GET, &format!("{COMPANIES}/9"), &admin, None)
        .await
        .assert_error(404, "company \"9\" does not exist");
    app.admin(
        Method::PATCH,
        &format!("{COMPANIES}/9"),
        &admin,
        Some(json!({"rateLimit": {"perDay": 5}})),
    )
    .await
    .assert_error(404, "company \"9\" does not exist");
}

#[tokio::test]
async fn users_calls_shares_and_profiles_follow_the_clis_rules() {
    let (app, company) = TestApp::spawn_with_company().await;
    let other = app.company(2).await;
    let admin = app.admin_token().await;
    let base = format!("{COMPANIES}/{}", company.id);

    // Users: created with a manager and a level, paged by id, changed.
    let reply = app
        .admin(
            Method::POST,
            &format!("{base}/users"),
            &admin,
            Some(json!({
                "id": "5000", "emailAddress": "new@c1.test", "firstName": "New",
                "managerId": "1004", "callsAccess": "own"
            })),
        )
        .await;
    reply.assert_admin_ok();
    assert_eq!(
        (
            reply.body["managerId"].as_str(),
            reply.body["callsAccess"].as_str()
        ),
        (Some("1004"), Some("own"))
    );
    app.admin(
        Method::POST,
        &format!("{base}/users"),
        &admin,
        Some(json!({"id": "5001", "emailAddress": "nobody"})),
    )
    .await
    .assert_error(400, "\"nobody\" is not an email address");
    app.admin(
        Method::POST,
        &format!("{base}/users"),
        &admin,
        Some(json!({"id": "5000", "emailAddress": "a@b.test"})),
    )
    .await
    .assert_error(
        409,
        &format!("user \"5000\" already exists in company \"{}\"", company.id),
    );
    let page = app
        .admin(Method::GET, &format!("{base}/users?limit=5"), &admin, None)
        .await;
    let first: Vec<&str> = page.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(first, ["1001", "1002", "1003", "1004", "1005"]);
    let cursor = page.body["nextCursor"].as_str().unwrap();
    let rest = app
        .admin(
            Method::GET,
            &format!("{base}/users?limit=5&cursor={cursor}"),
            &admin,
            None,
        )
        .await;
    let rest: Vec<&str> = rest.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(rest, ["1006", "1007", "5000"]);
    let patched = app
        .admin(
            Method::PATCH,
            &format!("{base}/users/5000"),
            &admin,
            Some(json!({"managerId": null, "callsAccess": "all"})),
        )
        .await;
    patched.assert_admin_ok();
    assert_eq!(
        (
            patched.body["managerId"].clone(),
            patched.body["callsAccess"].clone()
        ),
        (Value::Null, json!("all"))
    );
    // A manager loop is refused with the domain's words; another company's user is 404.
    let looped = app
        .admin(
            Method::PATCH,
            &format!("{base}/users/1004"),
            &admin,
            Some(json!({"managerId": "5000"})),
        )
        .await;
    assert_eq!(looped.status, 200, "{}", looped.body);
    let looped = app
        .admin(
            Method::PATCH,
            &format!("{base}/users/5000"),
            &admin,
            Some(json!({"managerId": "1004"})),
        )
        .await;
    assert_eq!(looped.status, 400, "{}", looped.body);
    assert!(
        looped.errors()[0].starts_with("a manager loop is not allowed"),
        "{}",
        looped.body
    );
    app.admin(
        Method::GET,
        &format!("{COMPANIES}/{}/users/5000", other.id),
        &admin,
        None,
    )
    .await
    .assert_error(
        404,
        &format!("user \"5000\" does not exist in company \"{}\"", other.id),
    );

    // Calls: created, read, made private; unknown participants refused.
    let call = "7782342274025937500";
    let reply = app
        .admin(Method::POST, &format!("{base}/calls"), &admin, Some(json!({
            "id": call, "primaryUserId": "1001", "participantIds": ["1002", "1002"], "title": "New call"
        })))
        .await;
    reply.assert_admin_ok();
    assert_eq!(reply.body["participantIds"], json!(["1002"]));
    let refused = app
        .admin(
            Method::POST,
            &format!("{base}/calls"),
            &admin,
            Some(json!({"id": "7782342274025937501", "primaryUserId": "1999"})),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let private = app
        .admin(
            Method::PATCH,
            &format!("{base}/calls/{call}"),
            &admin,
            Some(json!({"isPrivate": true})),
        )
        .await;
    assert_eq!(private.body["isPrivate"], true, "{}", private.body);
    app.admin(
        Method::GET,
        &format!("{COMPANIES}/{}/calls/{call}", other.id),
        &admin,
        None,
    )
    .await
    .assert_error(
        404,
        &format!("call \"{call}\" does not exist in company \"{}\"", other.id),
    );
    let calls = app
        .admin(Method::GET, &format!("{base}/calls"), &admin, None)
        .await;
    assert_eq!(
        calls.body["items"].as_array().unwrap().len(),
        4,
        "{}",
        calls.body
    );

    // Shares open the call through /v2's rules; removing a missing one is 404.
    let share = json!({"callId": call, "userId": "1007"});
    app.admin(
        Method::POST,
        &format!("{base}/shares"),
        &admin,
        Some(share.clone()),
    )
    .await
    .assert_admin_ok();
    app.admin(
        Method::DELETE,
        &format!("{base}/shares"),
        &admin,
        Some(share.clone()),
    )
    .await
    .assert_admin_ok();
    app.admin(
        Method::DELETE,
        &format!("{base}/shares"),
        &admin,
        Some(share),
    )
    .await
    .assert_error(
        404,
        &format!(
            "call \"{call}\" is not shared with user \"1007\" in company \"{}\"",
            company.id
        ),
    );

    // Profiles in a new workspace; PUT replaces; assigned through PATCH users.
    let workspace = app
        .admin(
            Method::POST,
            &format!("{base}/workspaces"),
            &admin,
            Some(json!({"name": "Support", "id": "42"})),
        )
        .await;
    workspace.assert_admin_ok();
    let profile = app
        .admin(
            Method::POST,
            &format!("{base}/profiles?workspaceId=42"),
            &admin,
            Some(json!({
                "name": "Agents", "callsAccess": {"permissionLevel": "own", "teamLeadIds": []}
            })),
        )
        .await;
    profile.assert_admin_ok();
    assert_eq!(profile.body["workspaceId"], "42");
    let id = profile.body["id"].as_str().unwrap().to_owned();
    let put = app
        .admin(
            Method::PUT,
            &format!("{base}/profiles/{id}"),
            &admin,
            Some(json!({
                "name": "Leads", "callsAccess": {"permissionLevel": "all", "teamLeadIds": []}
            })),
        )
        .await;
    assert_eq!(put.body["name"], "Leads", "{}", put.body);
    app.admin(
        Method::PATCH,
        &format!("{base}/users/1001"),
        &admin,
        Some(json!({"profileIds": [id]})),
    )
    .await
    .assert_admin_ok();
    let holders = app
        .store
        .profile_users(
            callaccess_domain::Caller::verified(company.id),
            id.parse().unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        holders.iter().map(|u| u.id.to_string()).collect::<Vec<_>>(),
        ["1001"]
    );
    let profiles = app
        .admin(Method::GET, &format!("{base}/profiles"), &admin, None)
        .await;
    assert!(
        profiles.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["id"] == id.as_str() && p["workspaceId"] == "42"),
        "{}",
        profiles.body
    );
    app.admin(
        Method::GET,
        &format!("{COMPANIES}/{}/profiles/{id}", other.id),
        &admin,
        None,
    )
    .await
    .assert_error(
        404,
        &format!(
            "permission profile \"{id}\" does not exist in company \"{}\"",
            other.id
        ),
    );
}

#[tokio::test]
async fn a_user_patch_with_one_bad_field_changes_nothing() {
    use crate::helpers::ids::*;
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let base = format!("{COMPANIES}/{}", company.id);
    let path = format!("{base}/users/{OWN_OTHER}");
    // A profile of the default workspace, to give along with the rest.
    let workspaces = app
        .admin(Method::GET, &format!("{base}/workspaces"), &admin, None)
        .await;
    let default_workspace = workspaces.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let profile = app
        .admin(
            Method::POST,
            &format!("{base}/profiles?workspaceId={default_workspace}"),
            &admin,
            Some(json!({
                "name": "Custom", "callsAccess": {"permissionLevel": "all", "teamLeadIds": []}
            })),
        )
        .await;
    profile.assert_admin_ok();
    let profile_id = profile.body["id"].as_str().unwrap().to_owned();
    let before = app.admin(Method::GET, &path, &admin, None).await;
    before.assert_admin_ok();
    let rows_before = app.store.snapshot(Some(company.id)).await.unwrap();

    // Every field good but the last profile: the manager, the level,
    // `active` and the good profile are not written either.
    let refused = app
        .admin(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({
                "managerId": ALL.to_string(), "callsAccess": "all", "active": false,
                "profileIds": [profile_id, "8999"]
            })),
        )
        .await;
    refused.assert_error(
        404,
        &format!(
            "permission profile \"8999\" does not exist in company \"{}\"",
            company.id
        ),
    );
    // A manager the company lacks, with a good profile and level.
    let refused = app
        .admin(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({
                "profileIds": [profile_id], "callsAccess": "none", "active": false,
                "managerId": UNKNOWN_USER.to_string()
            })),
        )
        .await;
    refused.assert_error(
        404,
        &format!(
            "user \"{UNKNOWN_USER}\" does not exist in company \"{}\"",
            company.id
        ),
    );
    // A loop, refused by the domain's rule with the same words.
    app.admin(
        Method::PATCH,
        &format!("{base}/users/{ALL}"),
        &admin,
        Some(json!({"managerId": OWN_OTHER.to_string()})),
    )
    .await
    .assert_admin_ok();
    let looped = app
        .admin(
            Method::PATCH,
            &path,
            &admin,
            Some(
                json!({"active": false, "profileIds": [profile_id], "managerId": ALL.to_string()}),
            ),
        )
        .await;
    looped.assert_error(
        400,
        &format!(
            "a manager loop is not allowed: {OWN_OTHER} reports to {ALL} reports to {OWN_OTHER}"
        ),
    );
    app.admin(
        Method::PATCH,
        &format!("{base}/users/{ALL}"),
        &admin,
        Some(json!({"managerId": null})),
    )
    .await
    .assert_admin_ok();

    let after = app.admin(Method::GET, &path, &admin, None).await;
    assert_eq!(after.body, before.body, "a refused change was written");
    assert_eq!(
        app.store.snapshot(Some(company.id)).await.unwrap(),
        rows_before,
        "a refused change left a row behind"
    );

    // Nothing to change, in the API's words; an unknown user is 404 first.
    app.admin(Method::PATCH, &path, &admin, Some(json!({})))
        .await
        .assert_error(
            400,
            "nothing to change: give managerId, callsAccess, profileIds or active",
        );
    app.admin(
        Method::PATCH,
        &format!("{base}/users/{UNKNOWN_USER}"),
        &admin,
        Some(json!({})),
    )
    .await
    .assert_error(
        404,
        &format!(
            "user \"{UNKNOWN_USER}\" does not exist in company \"{}\"",
            company.id
        ),
    );

    // The same change with a good profile is written whole.
    let changed = app
        .admin(
            Method::PATCH,
            &path,
            &admin,
            Some(json!({
                "managerId": ALL.to_string(), "callsAccess": "none", "active": false,
                "profileIds": [profile_id]
            })),
        )
        .await;
    changed.assert_admin_ok();
    assert_eq!(
        (
            &changed.body["managerId"],
            &changed.body["active"],
            // The profile of the default workspace is written after the
            // level, so it is the one held there.
            &changed.body["callsAccess"]
        ),
        (&json!(ALL.to_string()), &json!(false), &json!("all")),
        "{}",
        changed.body
    );
}

#[tokio::test]
async fn active_round_trips_and_an_inactive_user_is_granted_and_listed_like_any_other() {
    use crate::helpers::ids::*;
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let base = format!("{COMPANIES}/{}", company.id);
    for uid in [OWN_OTHER, OWN_PRIMARY] {
        let reply = app
            .admin(
                Method::PATCH,
                &format!("{base}/users/{uid}"),
                &admin,
                Some(json!({"active": false})),
            )
            .await;
        reply.assert_admin_ok();
        assert_eq!(reply.body["active"], false, "{}", reply.body);
        // Only `active` changed.
        assert_eq!(reply.body["callsAccess"], "own", "{}", reply.body);
    }
    let read = app
        .admin(
            Method::GET,
            &format!("{base}/users/{OWN_OTHER}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(read.body["active"], false, "{}", read.body);

    // directory.md §2: a user who is not active is listed and granted like
    // any other, and their profile still opens what it opens.
    let listed = app
        .request(
            Method::GET,
            &format!("/v2/users/{OWN_OTHER}"),
            &company.auth,
            None,
            &[],
        )
        .await;
    listed.assert_ok();
    assert_eq!(listed.body["user"]["active"], false, "{}", listed.body);
    app.grant(&company.auth, CALL_2, &[OWN_OTHER]).await;
    assert_eq!(
        app.grantees(&company.auth, CALL_2).await,
        [OWN_OTHER.to_string()]
    );
    // The primary user of CALL_1 opens it by their `own` profile, so PUT
    // records no grant for them, active or not.
    app.grant(&company.auth, CALL_1, &[OWN_PRIMARY]).await;
    assert!(app.grantees(&company.auth, CALL_1).await.is_empty());

    let back = app
        .admin(
            Method::PATCH,
            &format!("{base}/users/{OWN_OTHER}"),
            &admin,
            Some(json!({"active": true})),
        )
        .await;
    back.assert_admin_ok();
    assert_eq!(back.body["active"], true, "{}", back.body);
    let read = app
        .admin(
            Method::GET,
            &format!("{base}/users/{OWN_OTHER}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(read.body["active"], true, "{}", read.body);
    // The grant made while inactive stays.
    assert_eq!(
        app.grantees(&company.auth, CALL_2).await,
        [OWN_OTHER.to_string()]
    );
    let wrong = app
        .admin(
            Method::PATCH,
            &format!("{base}/users/{OWN_OTHER}"),
            &admin,
            Some(json!({"active": "no"})),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert!(
        wrong.errors()[0].starts_with("request body: invalid type"),
        "{}",
        wrong.body
    );
}

#[tokio::test]
async fn shares_are_listed_and_paged_for_any_admin_token() {
    use crate::helpers::ids::*;
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let read_only = app.read_only_admin_token().await;
    let shares = format!("{COMPANIES}/{}/shares", company.id);
    let share =
        |call: i64, user: i64| json!({"callId": call.to_string(), "userId": user.to_string()});

    // The fixed world shares CALL_1 with SHARED; two more are added.
    for (call, user) in [(CALL_2, NONE_A), (CALL_1, OWN_OTHER)] {
        app.admin(Method::POST, &shares, &admin, Some(share(call, user)))
            .await
            .assert_admin_ok();
    }
    let listed = app.admin(Method::GET, &shares, &admin, None).await;
    listed.assert_admin_ok();
    assert_eq!(
        listed.body,
        json!({
            "items": [share(CALL_1, SHARED), share(CALL_1, OWN_OTHER), share(CALL_2, NONE_A)],
            "nextCursor": null
        })
    );
    // An item is the body DELETE takes.
    let item = listed.body["items"][1].clone();
    app.admin(Method::DELETE, &shares, &admin, Some(item))
        .await
        .assert_admin_ok();

    // Two pages of one; a read-only token may read them.
    let first = app
        .admin(Method::GET, &format!("{shares}?limit=1"), &read_only, None)
        .await;
    first.assert_admin_ok();
    assert_eq!(first.body["items"], json!([share(CALL_1, SHARED)]));
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let second = app
        .admin(
            Method::GET,
            &format!("{shares}?limit=1&cursor={cursor}"),
            &read_only,
            None,
        )
        .await;
    second.assert_admin_ok();
    assert_eq!(
        second.body,
        json!({"items": [share(CALL_2, NONE_A)], "nextCursor": null})
    );
    // ... and nothing else.
    app.admin(
        Method::POST,
        &shares,
        &read_only,
        Some(share(CALL_3, NONE_B)),
    )
    .await
    .assert_error(403, crate::helpers::ADMIN_READ_ONLY);

    // A cursor of another list is refused; another company's shares are its own.
    let users = app
        .admin(
            Method::GET,
            &format!("{COMPANIES}/{}/users?limit=1", company.id),
            &admin,
            None,
        )
        .await;
    let users_cursor = users.body["nextCursor"].as_str().unwrap();
    let bad = app
        .admin(
            Method::GET,
            &format!("{shares}?cursor={users_cursor}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let other = app.company(2).await;
    let theirs = app
        .admin(
            Method::GET,
            &format!("{COMPANIES}/{}/shares", other.id),
            &admin,
            None,
        )
        .await;
    assert_eq!(theirs.body["items"], json!([share(CALL_1, SHARED)]));
    app.admin(
        Method::GET,
        &format!("{COMPANIES}/9/shares"),
        &read_only,
        None,
    )
    .await
    .assert_error(404, "company \"9\" does not exist");
}

#[tokio::test]
async fn the_admin_openapi_lists_shares_and_the_whole_user_patch() {
    let app = TestApp::spawn().await;
    let read_only = app.read_only_admin_token().await;
    let doc = app
        .admin(Method::GET, "/admin/v1/openapi.json", &read_only, None)
        .await;
    doc.assert_admin_ok();
    let shares = &doc.body["paths"]["/admin/v1/companies/{id}/shares"];
    for (method, id) in [
        ("get", "listShares"),
        ("post", "addShare"),
        ("delete", "removeShare"),
    ] {
        assert_eq!(shares[method]["operationId"], id, "{shares}");
    }
    assert!(shares["get"]["responses"]["403"].is_null(), "{shares}");
    let user = &doc.body["paths"]["/admin/v1/companies/{id}/users/{userId}"]["patch"];
    assert_eq!(user["operationId"], "updateUser", "{user}");
    let summary = user["summary"].as_str().unwrap();
    assert!(
        summary.contains("active?") && summary.contains("all or nothing"),
        "{summary}"
    );
}

#[tokio::test]
async fn api_keys_and_tokens_show_their_secret_once_and_revoke() {
    let (app, company) = TestApp::spawn_with_company().await;
    let other = app.company(2).await;
    let admin = app.admin_token().await;
    let base = format!("{COMPANIES}/{}", company.id);

    let key = app
        .admin(
            Method::POST,
            &format!("{base}/api-keys"),
            &admin,
            Some(json!({"scopes": ["api:users:read"]})),
        )
        .await;
    key.assert_admin_ok();
    let (access_key, secret) = (
        key.body["accessKey"].as_str().unwrap().to_owned(),
        key.body["accessKeySecret"].as_str().unwrap().to_owned(),
    );
    let auth = Auth::Basic(access_key.clone(), secret.clone());
    app.request(Method::GET, "/v2/users", &auth, None, &[])
        .await
        .assert_ok();
    let listed = app
        .admin(Method::GET, &format!("{base}/api-keys"), &admin, None)
        .await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 2);
    assert!(
        !listed.body.to_string().contains(&secret),
        "a list shows a secret"
    );
    app.admin(Method::POST, &format!("{base}/api-keys"), &admin, Some(json!({"scopes": ["api:nope"]})))
        .await
        .assert_error(400, "\"api:nope\" is not one of Gong's scopes, such as \"api:call-user-access:read\" (`callaccess key create --help` lists them all)");
    app.admin(
        Method::POST,
        &format!("{base}/api-keys"),
        &admin,
        Some(json!({"expires": "2020-01-01T00:00:00Z"})),
    )
    .await
    .assert_error(
        400,
        "\"2020-01-01T00:00:00Z\" is not in the future; an expiry must be a later time",
    );
    // Another company cannot revoke it; its own revocation takes effect.
    app.admin(
        Method::DELETE,
        &format!("{COMPANIES}/{}/api-keys/{access_key}", other.id),
        &admin,
        None,
    )
    .await
    .assert_error(404, &format!("access key \"{access_key}\" does not exist"));
    let revoked = app
        .admin(
            Method::DELETE,
            &format!("{base}/api-keys/{access_key}"),
            &admin,
            None,
        )
        .await;
    assert!(revoked.body["revokedAt"].is_string(), "{}", revoked.body);
    assert_eq!(
        app.request(Method::GET, "/v2/users", &auth, None, &[])
            .await
            .status,
        401
    );

    let token = app
        .admin(
            Method::POST,
            &format!("{base}/tokens"),
            &admin,
            Some(json!({"scopes": ["api:users:read"], "expires": "1d"})),
        )
        .await;
    token.assert_admin_ok();
    let bearer = Auth::Bearer(token.body["token"].as_str().unwrap().to_owned());
    app.request(Method::GET, "/v2/users", &bearer, None, &[])
        .await
        .assert_ok();
    app.admin(
        Method::POST,
        &format!("{base}/tokens"),
        &admin,
        Some(json!({})),
    )
    .await
    .assert_error(400, "a token needs at least one scope");
    let id = token.body["id"].as_str().unwrap();
    app.admin(Method::DELETE, &format!("{base}/tokens/{id}"), &admin, None)
        .await
        .assert_admin_ok();
    assert_eq!(
        app.request(Method::GET, "/v2/users", &bearer, None, &[])
            .await
            .status,
        401
    );
}

#[tokio::test]
async fn the_admin_api_documents_itself_behind_an_admin_token() {
    let app = TestApp::spawn().await;
    let path = "/admin/v1/openapi.json";
    assert_admin_refused(
        &app.admin(Method::GET, path, &Auth::None, None).await,
        "openapi without a token",
    );
    let read_only = app.read_only_admin_token().await;
    let reply = app.admin(Method::GET, path, &read_only, None).await;
    reply.assert_admin_ok();
    let doc = &reply.body;
    assert_eq!(
        doc["components"]["securitySchemes"]["adminToken"]["scheme"], "bearer",
        "{doc}"
    );
    let users = &doc["paths"]["/admin/v1/companies/{id}/users"];
    assert_eq!(users["get"]["operationId"], "listUsers", "{users}");
    assert_eq!(users["post"]["operationId"], "addUser", "{users}");
    assert!(users["post"]["responses"]["403"].is_object(), "{users}");
    // Every directory path it names is served: a GET answers something
    // other than 404 or 405 for an existing company.
    let full = app.admin_token().await;
    app.admin(
        Method::POST,
        COMPANIES,
        &full,
        Some(json!({"name": "Co", "id": "1"})),
    )
    .await
    .assert_admin_ok();
    for (path, item) in doc["paths"].as_object().unwrap() {
        if item.get("get").is_none() || !path.starts_with("/admin/v1/companies") {
            continue;
        }
        let mut concrete = path
            .replace("{id}", "1")
            .replace("{userId}", "1001")
            .replace("{callId}", "1")
            .replace("{profileId}", "1");
        // The query parameters it says are required, each an id.
        let query: Vec<String> = item["get"]["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .map(|p| format!("{}=1", p["name"].as_str().unwrap()))
            .collect();
        if !query.is_empty() {
            concrete = format!("{concrete}?{}", query.join("&"));
        }
        let reply = app.admin(Method::GET, &concrete, &full, None).await;
        assert!(
            reply.status == 200 || reply.errors()[0].contains("does not exist"),
            "{path}: {} {}",
            reply.status,
            reply.body
        );
    }
}

#[tokio::test]
async fn serve_with_admin_listen_moves_the_admin_api_to_its_address() {
    use crate::server_process::{cli_ok, Server};
    let dir = tempfile::tempdir().unwrap();
    let database = format!("sqlite:{}", dir.path().join("db.sqlite").display());
    let created: Value = serde_json::from_str(
        &cli_ok(&["admin-token", "create", "--database", &database, "--json"]).await,
    )
    .unwrap();
    let admin = Auth::Bearer(created["token"].as_str().unwrap().to_owned());
    let server = Server::start(&["--database", &database, "--admin-listen", "127.0.0.1:0"]).await;
    // Logged before the "listening" line, which `start` waited for.
    let admin_base = server
        .log
        .iter()
        .find_map(|line| {
            let at = line.find("admin API on http://")? + "admin API on ".len();
            let url = &line[at..];
            let end = url.find("/admin/v1")?;
            Some(url[..end].to_owned())
        })
        .unwrap_or_else(|| panic!("no admin address logged: {:#?}", server.log));
    let client = reqwest::Client::new();
    let on_api =
        crate::helpers::admin_request(&client, &server.base, Method::GET, COMPANIES, &admin, None)
            .await;
    assert_eq!(on_api.status, 404, "{}", on_api.body);
    let on_admin =
        crate::helpers::admin_request(&client, &admin_base, Method::GET, COMPANIES, &admin, None)
            .await;
    on_admin.assert_admin_ok();
    assert_eq!(server.terminate().await.code, 0);
}

#[tokio::test]
async fn explain_viewers_and_user_calls_answer_every_route_paged_for_any_admin_token() {
    use crate::helpers::ids::*;
    let (app, company) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let read_only = app.read_only_admin_token().await;
    let base = format!("{COMPANIES}/{}", company.id);
    // NONE_B (CALL_2's primary user) reports to OWN_OTHER, whose level
    // becomes report-to-them; NONE_A gets an API grant on CALL_2.
    app.admin(
        Method::PATCH,
        &format!("{base}/users/{NONE_B}"),
        &admin,
        Some(json!({"managerId": OWN_OTHER.to_string()})),
    )
    .await
    .assert_admin_ok();
    app.admin(
        Method::PATCH,
        &format!("{base}/users/{OWN_OTHER}"),
        &admin,
        Some(json!({"callsAccess": "report-to-them"})),
    )
    .await
    .assert_admin_ok();
    app.grant(&company.auth, CALL_2, &[NONE_A]).await;

    let explain = |call: i64, user: i64| format!("{base}/access?callId={call}&userId={user}");
    let granted = app
        .admin(Method::GET, &explain(CALL_2, NONE_A), &read_only, None)
        .await;
    granted.assert_admin_ok();
    assert_eq!(granted.body["canOpen"], true, "{}", granted.body);
    assert_eq!(granted.body["callId"], CALL_2.to_string());
    assert_eq!(granted.body["userId"], NONE_A.to_string());
    let route = &granted.body["routes"][0];
    assert_eq!(route["route"], "apiGrant", "{route}");
    let at = route["grantedAt"].as_str().unwrap();
    assert!(
        callaccess_domain::Timestamp::parse_rfc3339(at).is_ok(),
        "grantedAt {at:?} is RFC 3339"
    );

    let chain = app
        .admin(Method::GET, &explain(CALL_2, OWN_OTHER), &read_only, None)
        .await;
    chain.assert_admin_ok();
    let route = &chain.body["routes"][0];
    assert_eq!(route["route"], "profile", "{route}");
    assert_eq!(route["level"], "report-to-them");
    assert_eq!(route["name"], "Calls access: report-to-them");
    assert!(route["profile"].is_string(), "{route}");
    assert_eq!(
        route["chain"],
        json!([NONE_B.to_string(), OWN_OTHER.to_string()])
    );

    let shared = app
        .admin(Method::GET, &explain(CALL_1, SHARED), &admin, None)
        .await;
    assert_eq!(shared.body["routes"], json!([{"route": "shared"}]));
    let nothing = app
        .admin(Method::GET, &explain(CALL_1, NONE_A), &admin, None)
        .await;
    nothing.assert_admin_ok();
    assert_eq!(
        nothing.body,
        json!({"callId": CALL_1.to_string(), "userId": NONE_A.to_string(), "canOpen": false, "routes": []})
    );

    // Unknown call, user or company: 404 with the envelope; a missing
    // parameter is 400.
    app.admin(Method::GET, &explain(UNKNOWN_CALL, NONE_A), &admin, None)
        .await
        .assert_error(
            404,
            &format!(
                "call \"{UNKNOWN_CALL}\" does not exist in company \"{}\"",
                company.id
            ),
        );
    app.admin(Method::GET, &explain(CALL_1, UNKNOWN_USER), &admin, None)
        .await
        .assert_error(
            404,
            &format!(
                "user \"{UNKNOWN_USER}\" does not exist in company \"{}\"",
                company.id
            ),
        );
    app.admin(
        Method::GET,
        &format!("{COMPANIES}/9/access?callId={CALL_1}&userId={NONE_A}"),
        &admin,
        None,
    )
    .await
    .assert_error(404, "company \"9\" does not exist");
    let missing = app
        .admin(
            Method::GET,
            &format!("{base}/access?callId={CALL_1}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(missing.status, 400, "{}", missing.body);
    assert!(missing.body["requestId"].is_string());

    // The viewers of CALL_1, one a page, with a read-only token: each
    // once, by user id, and the same routes explain gives.
    let viewers = format!("{base}/calls/{CALL_1}/viewers");
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{viewers}?limit=1&cursor={c}"),
            None => format!("{viewers}?limit=1"),
        };
        let page = app.admin(Method::GET, &url, &read_only, None).await;
        page.assert_admin_ok();
        let items = page.body["items"].as_array().unwrap().clone();
        assert!(items.len() <= 1, "{}", page.body);
        for item in items {
            let user = item["userId"].as_str().unwrap().to_owned();
            let explained = app
                .admin(
                    Method::GET,
                    &format!("{base}/access?callId={CALL_1}&userId={user}"),
                    &admin,
                    None,
                )
                .await;
            assert_eq!(item["routes"], explained.body["routes"], "{user}");
            seen.push(user);
        }
        match page.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    let expected: Vec<String> = [SHARED, ALL, OWN_PRIMARY, OWN_PARTICIPANT]
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(seen, expected);
    let whole = app.admin(Method::GET, &viewers, &admin, None).await;
    assert_eq!(whole.body["nextCursor"], Value::Null);

    // The calls of ALL (level all): every call, paged; of NONE_A: CALL_2.
    let calls = |user: i64| format!("{base}/users/{user}/calls");
    let first = app
        .admin(
            Method::GET,
            &format!("{}?limit=2", calls(ALL)),
            &read_only,
            None,
        )
        .await;
    first.assert_admin_ok();
    let ids: Vec<&str> = first.body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["callId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec![CALL_1.to_string(), CALL_2.to_string()]);
    let cursor = first.body["nextCursor"].as_str().unwrap();
    let second = app
        .admin(
            Method::GET,
            &format!("{}?limit=2&cursor={cursor}", calls(ALL)),
            &read_only,
            None,
        )
        .await;
    assert_eq!(second.body["items"][0]["callId"], CALL_3.to_string());
    assert_eq!(second.body["nextCursor"], Value::Null);
    let granted_calls = app.admin(Method::GET, &calls(NONE_A), &admin, None).await;
    // The same route, without who recorded it: only explain reads the
    // audit trail for that.
    let mut routes = granted.body["routes"].clone();
    for route in routes.as_array_mut().unwrap() {
        let route = route.as_object_mut().unwrap();
        assert!(route.remove("grantedBy").is_some(), "{route:?}");
        route.remove("requestId");
    }
    assert_eq!(
        granted_calls.body["items"],
        json!([{"callId": CALL_2.to_string(), "routes": routes}])
    );
    // A cursor of another list is refused; unknown ids are 404.
    let bad = app
        .admin(
            Method::GET,
            &format!("{viewers}?cursor={cursor}"),
            &admin,
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    app.admin(
        Method::GET,
        &format!("{base}/calls/{UNKNOWN_CALL}/viewers"),
        &admin,
        None,
    )
    .await
    .assert_error(
        404,
        &format!(
            "call \"{UNKNOWN_CALL}\" does not exist in company \"{}\"",
            company.id
        ),
    );
    app.admin(Method::GET, &calls(UNKNOWN_USER), &admin, None)
        .await
        .assert_error(
            404,
            &format!(
                "user \"{UNKNOWN_USER}\" does not exist in company \"{}\"",
                company.id
            ),
        );

    // The admin document lists the three.
    let doc = app
        .admin(Method::GET, "/admin/v1/openapi.json", &read_only, None)
        .await;
    for (path, id) in [
        ("/admin/v1/companies/{id}/access", "explainAccess"),
        (
            "/admin/v1/companies/{id}/calls/{callId}/viewers",
            "listCallViewers",
        ),
        (
            "/admin/v1/companies/{id}/users/{userId}/calls",
            "listUserCalls",
        ),
    ] {
        assert_eq!(doc.body["paths"][path]["get"]["operationId"], id, "{path}");
    }
}
