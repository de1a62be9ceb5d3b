//! State for tests over the admin API (control-plane.md §3): an export
//! imported into an empty server answers every `/v2` operation as the
//! original does; a reset of one company leaves the others; a reset with
//! a seed is one transaction; admin tokens survive a reset.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::ids::*;
use crate::helpers::{change, Auth, Company, Reply, TestApp};

/// Company 2 of the suite: what the fixed world lacks, made by a seed
/// over the admin API (workspaces, hierarchy profiles with extra fields,
/// managers, an inactive user, a private call with details and long text,
/// shares and grants) and with a key and a token given in clear.
fn rich_seed() -> Value {
    json!({"companies": [{
        "id": "2", "name": "Rich", "rateLimit": {"perSecond": 50, "perDay": "off"},
        "workspaces": [{"id": "20", "name": "Sales", "description": "the sales team"},
                       {"id": "21", "name": "Support"}],
        "profiles": [
            {"id": "200", "workspaceId": "20", "name": "Managers",
             "callsAccess": {"permissionLevel": "report-to-them", "teamLeadIds": []},
             "scoreCalls": true, "dealsAccess": {"permissionLevel": "all"}},
            {"id": "201", "workspaceId": "20", "name": "Leads",
             "callsAccess": {"permissionLevel": "managers-team", "teamLeadIds": ["2001"]}},
            {"id": "210", "workspaceId": "21", "name": "Support all",
             "callsAccess": {"permissionLevel": "all", "teamLeadIds": []}}
        ],
        "users": [
            {"id": "2001", "emailAddress": "boss@rich.test", "firstName": "Bo", "lastName": "Ss",
             "title": "CEO", "profileIds": ["200", "210"]},
            {"id": "2002", "emailAddress": "mid@rich.test", "managerId": "2001", "profileIds": ["201"]},
            {"id": "2003", "emailAddress": "rep@rich.test", "managerId": "2002", "callsAccess": "own"},
            {"id": "2004", "emailAddress": "gone@rich.test", "active": false}
        ],
        "calls": [
            {"id": "9001", "workspaceId": "20", "primaryUserId": "2003", "participantIds": ["2004"],
             "title": "t".repeat(600), "isPrivate": true, "started": "2026-11-02T15:00:00Z",
             "clientUniqueId": "pbx-9001", "direction": "Inbound", "scope": "External",
             "duration": 61, "customData": "x".repeat(300), "purpose": "Demo",
             "parties": [{"name": "Pat Prospect", "emailAddress": "pat@prospect.test"},
                         {"userId": "2003", "name": "Rep"}]},
            {"id": "9002", "workspaceId": "21", "primaryUserId": "2004", "started": "2026-11-03T09:00:00Z"},
            {"id": "9003", "primaryUserId": "2002"}
        ],
        "shares": [{"callId": "9002", "userId": "2003"}],
        "apiGrants": [{"callId": "9003", "userId": "2004"}],
        "apiKeys": [{"accessKey": "RICHKEY1", "accessKeySecret": "rich-secret-0123456789"}],
        "tokens": [{"token": "rich-token-0123456789-abcdef",
                    "scopes": ["api:call-user-access:read", "api:call-user-access:write"]}]
    }]})
}

fn rich_auth() -> Auth {
    Auth::Basic("RICHKEY1".to_owned(), "rich-secret-0123456789".to_owned())
}

/// A server with company 1 (the fixed world, with grants and a call and a
/// profile made through `/v2`) and company 2 (the rich seed).
async fn populated() -> (TestApp, Auth, Company, Auth) {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let c = app.company(1).await;
    app.admin(Method::POST, "/admin/v1/import", &admin, Some(rich_seed()))
        .await
        .assert_admin_ok();
    // Through /v2: grants, a call (with parties) and a profile.
    app.put(&c.auth, change(CALL_2, &[NONE_A, OWN_OTHER]))
        .await
        .assert_ok();
    app.put(&rich_auth(), change(9001, &[2001]))
        .await
        .assert_ok();
    let call = v2(
        &app,
        &c.auth,
        Method::POST,
        "/v2/calls",
        Some(json!({
            "clientUniqueId": "crm-77", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Outbound", "primaryUser": NONE_B.to_string(), "title": "added",
            "parties": [{"userId": NONE_B.to_string()}, {"name": "Pat", "emailAddress": "pat@p.test"}]
        })),
    )
    .await;
    call.assert_ok();
    let workspace = first_workspace(&app, &c.auth).await;
    let profile = v2(
        &app,
        &c.auth,
        Method::POST,
        &format!("/v2/permission-profile?workspaceId={workspace}"),
        Some(json!({"name": "Made over v2", "callsAccess": {"permissionLevel": "own"}, "scoreCalls": false})),
    )
    .await;
    profile.assert_ok();
    let token = app.token(&c, &["api:call-user-access:read"]).await;
    (app, admin, c, token)
}

async fn v2(app: &TestApp, auth: &Auth, method: Method, path: &str, body: Option<Value>) -> Reply {
    let body = body.map(|b| serde_json::to_vec(&b).unwrap());
    let headers: &[(&str, &str)] = if body.is_some() {
        &[("content-type", "application/json")]
    } else {
        &[]
    };
    app.request(method, path, auth, body, headers).await
}

async fn first_workspace(app: &TestApp, auth: &Auth) -> String {
    let reply = v2(app, auth, Method::GET, "/v2/workspaces", None).await;
    reply.assert_ok();
    reply.body["workspaces"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// An answer without what differs between any two requests.
fn shown(reply: &Reply) -> (u16, Value) {
    let mut body = reply.body.clone();
    if let Some(object) = body.as_object_mut() {
        object.remove("requestId");
    }
    (reply.status, body)
}

/// The strings at `pointer` in each element of the array at `list`.
fn ids_at(body: &Value, list: &str, field: &str) -> Vec<String> {
    body.pointer(list)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|item| item[field].as_str().map(str::to_owned))
        .collect()
}

/// Every answer of every read operation of `/v2` for one company, each
/// labelled by its request: workspaces, users (every page, and each
/// user), calls (every page, each call, extensive with parties), profiles
/// of each workspace, each profile and its users, and the API grants of
/// every call.
async fn observe(app: &TestApp, auth: &Auth) -> Vec<(String, (u16, Value))> {
    let mut seen = Vec::new();
    let mut note = |label: String, reply: &Reply| seen.push((label, shown(reply)));

    let workspaces = v2(app, auth, Method::GET, "/v2/workspaces", None).await;
    note("workspaces".to_owned(), &workspaces);
    let workspace_ids = ids_at(&workspaces.body, "/workspaces", "id");

    let mut users = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/users?cursor={c}"),
            None => "/v2/users".to_owned(),
        };
        let page = v2(app, auth, Method::GET, &path, None).await;
        note(path, &page);
        users.extend(ids_at(&page.body, "/users", "id"));
        cursor = page.body["records"]["cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(!users.is_empty());
    for id in &users {
        let path = format!("/v2/users/{id}");
        note(path.clone(), &v2(app, auth, Method::GET, &path, None).await);
    }
    let extensive = v2(
        app,
        auth,
        Method::POST,
        "/v2/users/extensive",
        Some(json!({"filter": {}})),
    )
    .await;
    note("users/extensive".to_owned(), &extensive);

    let mut calls = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/v2/calls?cursor={c}"),
            None => "/v2/calls".to_owned(),
        };
        let page = v2(app, auth, Method::GET, &path, None).await;
        note(path, &page);
        calls.extend(ids_at(&page.body, "/calls", "id"));
        cursor = page.body["records"]["cursor"].as_str().map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert!(!calls.is_empty());
    for id in &calls {
        let path = format!("/v2/calls/{id}");
        note(path.clone(), &v2(app, auth, Method::GET, &path, None).await);
    }
    let extensive = v2(
        app,
        auth,
        Method::POST,
        "/v2/calls/extensive",
        Some(json!({"filter": {}, "contentSelector": {"exposedFields": {"parties": true}}})),
    )
    .await;
    note("calls/extensive".to_owned(), &extensive);

    for workspace in &workspace_ids {
        let path = format!("/v2/all-permission-profiles?workspaceId={workspace}");
        let profiles = v2(app, auth, Method::GET, &path, None).await;
        note(path, &profiles);
        for profile in ids_at(&profiles.body, "/profiles", "id") {
            for path in [
                format!("/v2/permission-profile?profileId={profile}"),
                format!("/v2/permission-profile/users?profileId={profile}"),
            ] {
                note(path.clone(), &v2(app, auth, Method::GET, &path, None).await);
            }
        }
    }
    let grants = v2(
        app,
        auth,
        Method::POST,
        crate::helpers::PATH,
        Some(json!({"filter": {"callIds": calls}})),
    )
    .await;
    note("grants".to_owned(), &grants);
    seen
}

/// What every company's answers are, for the companies given.
async fn observe_all(app: &TestApp, auths: &[&Auth]) -> Vec<(String, (u16, Value))> {
    let mut all = Vec::new();
    for auth in auths {
        all.extend(observe(app, auth).await);
    }
    all
}

async fn export(app: &TestApp, admin: &Auth, query: &str) -> Reply {
    app.admin(
        Method::GET,
        &format!("/admin/v1/export{query}"),
        admin,
        None,
    )
    .await
}

/// What a PUT for a manager does: their report's call opens for them by
/// profile, so the PUT records no grant; the answer of the POST after it.
async fn manager_put(app: &TestApp) -> (u16, Value) {
    app.put(&rich_auth(), change(9003, &[2001]))
        .await
        .assert_ok();
    shown(&app.post_calls(&rich_auth(), &[9003]).await)
}

#[tokio::test]
async fn an_export_imported_into_an_empty_server_answers_every_operation_the_same() {
    let (a, admin_a, c, token) = populated().await;
    let exported = export(&a, &admin_a, "").await;
    exported.assert_admin_ok();
    let document = exported.body.clone();
    let text = document.to_string();
    assert!(
        !text.contains("rich-secret") && !text.contains("rich-token"),
        "secrets never leave in clear"
    );
    assert!(text.contains("accessKeySecretDigest") && text.contains("tokenDigest"));
    let before = observe_all(&a, &[&c.auth, &rich_auth()]).await;

    let b = TestApp::spawn().await;
    let admin_b = b.admin_token().await;
    let imported = b
        .admin(
            Method::POST,
            "/admin/v1/import",
            &admin_b,
            Some(document.clone()),
        )
        .await;
    imported.assert_admin_ok();
    assert_eq!(imported.body["companies"], 2, "{}", imported.body);
    assert_eq!(imported.body["users"], 11, "{}", imported.body);

    // The same keys authenticate, and every answer is the same.
    let after = observe_all(&b, &[&c.auth, &rich_auth()]).await;
    assert_eq!(after.len(), before.len());
    for ((label, was), (_, is)) in before.iter().zip(&after) {
        assert_eq!(is, was, "{label}");
    }
    // The bearer tokens too, with their scopes.
    let rich_token = Auth::Bearer("rich-token-0123456789-abcdef".to_owned());
    for app in [&a, &b] {
        assert_eq!(
            shown(&app.post_calls(&token, &[CALL_2]).await),
            shown(&a.post_calls(&c.auth, &[CALL_2]).await)
        );
        app.post_calls(&rich_token, &[9001]).await.assert_ok();
        let refused = v2(app, &token, Method::GET, "/v2/workspaces", None).await;
        assert_eq!(refused.status, 401, "a read token still lacks the scope");
    }
    // The export of the copy is the export of the original.
    assert_eq!(export(&b, &admin_b, "").await.body, document);
    // And a PUT decides the same on both.
    assert_eq!(manager_put(&a).await, manager_put(&b).await);
    manager_put(&b).await;
    assert_eq!(
        b.grantees(&rich_auth(), 9003).await,
        vec!["2004"],
        "the manager opens the call by profile: no grant was recorded"
    );
    // While a user without such a route gets one, on both.
    for app in [&a, &b] {
        app.put(&rich_auth(), change(9002, &[2002]))
            .await
            .assert_ok();
        assert_eq!(app.grantees(&rich_auth(), 9002).await, vec!["2002"]);
    }
}

#[tokio::test]
async fn an_export_of_one_company_is_that_company_and_an_unknown_one_is_404() {
    let (app, admin, _c, _token) = populated().await;
    let one = export(&app, &admin, "?company=2").await;
    one.assert_admin_ok();
    let companies = one.body["companies"].as_array().unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(companies[0]["id"], "2");
    assert_eq!(
        companies[0]["workspaces"][0]["id"], "20",
        "the default first"
    );
    assert_eq!(
        companies[0]["users"][2]["profileIds"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "callsAccess is exported as the profile it names"
    );
    export(&app, &admin, "?company=3")
        .await
        .assert_error(404, "company \"3\" does not exist");
    export(&app, &admin, "?company=x")
        .await
        .assert_error(400, "company: \"x\" is not a numeric id");
    // A misspelt parameter is refused, never ignored.
    export(&app, &admin, "?compnay=2")
        .await
        .assert_error(400, "compnay: unknown parameter (the only one is company)");
}

#[tokio::test]
async fn a_reset_of_one_company_leaves_the_others_intact() {
    let (app, admin, c, _token) = populated().await;
    let before = observe(&app, &c.auth).await;
    let reset = app
        .admin(Method::POST, "/admin/v1/reset?company=2", &admin, None)
        .await;
    reset.assert_admin_ok();
    assert_eq!(
        reset.body,
        json!({"companies": 1, "users": 4, "calls": 3, "seeded": null})
    );
    assert_eq!(observe(&app, &c.auth).await, before);
    // Company 2 is gone with its credentials.
    let gone = v2(&app, &rich_auth(), Method::GET, "/v2/workspaces", None).await;
    assert_eq!(gone.status, 401, "{}", gone.body);
    export(&app, &admin, "?company=2")
        .await
        .assert_error(404, "company \"2\" does not exist");
    // Its ids are free: the seed applies again as to a new store.
    app.admin(Method::POST, "/admin/v1/import", &admin, Some(rich_seed()))
        .await
        .assert_admin_ok();
    v2(&app, &rich_auth(), Method::GET, "/v2/workspaces", None)
        .await
        .assert_ok();
}

#[tokio::test]
async fn a_reset_with_a_seed_is_one_transaction() {
    let (app, admin, c, _token) = populated().await;
    let before = export(&app, &admin, "").await.body;
    // Valid as a document; user 99 does not exist once the reset has run.
    let bad = json!({"seed": {"companies": [{"id": "2", "name": "Rich",
        "calls": [{"id": "1", "primaryUserId": "99"}]}]}});
    for path in ["/admin/v1/reset", "/admin/v1/reset?company=2"] {
        app.admin(Method::POST, path, &admin, Some(bad.clone()))
            .await
            .assert_error(
                400,
                "seed.companies[0].calls[0].primaryUserId: user \"99\" does not exist in company \"2\"",
            );
        assert_eq!(
            export(&app, &admin, "").await.body,
            before,
            "nothing removed"
        );
    }
    // A document that does not parse names its place in the body.
    app.admin(
        Method::POST,
        "/admin/v1/reset",
        &admin,
        Some(json!({"seed": {"companies": [{"id": "12a", "name": "X"}]}})),
    )
    .await
    .assert_error(400, "seed.companies[0].id: \"12a\" is not a numeric id");
    app.admin(
        Method::POST,
        "/admin/v1/reset",
        &admin,
        Some(json!({"sed": {}})),
    )
    .await
    .assert_error(400, "request body: unknown field 'sed', expected 'seed'");
    // A seed of another company than the one reset is refused whole.
    app.admin(
        Method::POST,
        "/admin/v1/reset?company=1",
        &admin,
        Some(json!({"seed": rich_seed()})),
    )
    .await
    .assert_error(400, "seed.companies[0].id: \"2\" is not the company being reset (\"1\"); a reset of one company takes a seed of that company only");
    assert_eq!(export(&app, &admin, "").await.body, before);

    // A good seed replaces everything, and the admin token still works.
    let reset = app
        .admin(
            Method::POST,
            "/admin/v1/reset",
            &admin,
            Some(json!({"seed": rich_seed()})),
        )
        .await;
    reset.assert_admin_ok();
    assert_eq!(reset.body["companies"], 2);
    assert_eq!(reset.body["seeded"]["users"], 4);
    let after = export(&app, &admin, "").await;
    after.assert_admin_ok();
    let companies = after.body["companies"].as_array().unwrap();
    assert_eq!(companies.len(), 1);
    assert_eq!(companies[0]["id"], "2");
    let old = v2(&app, &c.auth, Method::GET, "/v2/workspaces", None).await;
    assert_eq!(old.status, 401, "company 1's key went with the reset");
    v2(&app, &rich_auth(), Method::GET, "/v2/workspaces", None)
        .await
        .assert_ok();
}

#[tokio::test]
async fn import_rejects_a_bad_seed_whole_with_its_paths_and_read_only_tokens_only_export() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut seed = rich_seed();
    seed["companies"][0]["users"][1]["id"] = json!("12a");
    seed["companies"][0]["shares"][0]["userId"] = json!("77");
    let reply = app
        .admin(Method::POST, "/admin/v1/import", &admin, Some(seed))
        .await;
    assert_eq!(
        reply.assert_error(400, "companies[0].users[1].id: \"12a\" is not a numeric id"),
        vec!["companies[0].users[1].id: \"12a\" is not a numeric id"]
    );
    let mut seed = rich_seed();
    seed["companies"][0]["shares"][0]["userId"] = json!("77");
    app.admin(Method::POST, "/admin/v1/import", &admin, Some(seed))
        .await
        .assert_error(
            400,
            "companies[0].shares[0].userId: user \"77\" does not exist in company \"2\"",
        );
    assert_eq!(
        export(&app, &admin, "").await.body,
        json!({"companies": []}),
        "nothing was written"
    );

    let read_only = app.read_only_admin_token().await;
    let helpers_403 = crate::helpers::ADMIN_READ_ONLY;
    app.admin(
        Method::POST,
        "/admin/v1/import",
        &read_only,
        Some(rich_seed()),
    )
    .await
    .assert_error(403, helpers_403);
    app.admin(Method::POST, "/admin/v1/reset", &read_only, None)
        .await
        .assert_error(403, helpers_403);
    export(&app, &read_only, "").await.assert_admin_ok();
    // A Gong key is no admin credential.
    app.admin(Method::POST, "/admin/v1/import", &admin, Some(rich_seed()))
        .await
        .assert_admin_ok();
    let reply = app
        .admin(Method::POST, "/admin/v1/reset", &rich_auth(), None)
        .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    v2(&app, &rich_auth(), Method::GET, "/v2/workspaces", None)
        .await
        .assert_ok();
}

/// `callaccess export` and `reset`: the same documents and rules as the
/// admin API, against the configured database (SQLite file here).
#[test]
fn the_cli_exports_a_state_that_imports_as_the_same_and_resets_on_confirmation() {
    use crate::cli::Db;
    let original = Db::fresh();
    let seed = original.file("rich.json", &rich_seed().to_string());
    original.ok(&format!("import {seed}"));
    let second = original.json("key create --company 2");
    let second = second["accessKey"].as_str().unwrap().to_owned();
    original.ok(&format!("key revoke {second}"));
    let exported = original.ok("export");
    let document: Value = serde_json::from_str(&exported).unwrap();
    assert!(!exported.contains("rich-secret"), "no secret in clear");
    assert_eq!(original.ok("export --company 2"), exported);
    assert!(original
        .fail("export --company 3")
        .contains("company \"3\" does not exist"));

    let copy = Db::fresh();
    let file = copy.file("state.json", &exported);
    copy.ok(&format!("import {file}"));
    assert_eq!(copy.ok("export"), exported, "the copy exports the same");
    assert_eq!(copy.snapshot("2"), original.snapshot("2"));
    let keys = copy.json("key list");
    let revoked = keys
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["accessKey"] == second.as_str())
        .unwrap_or_else(|| panic!("{keys}"));
    assert!(revoked["revokedAt"].is_string(), "{keys}");

    // A reset wants --yes, and a bad seed leaves everything as it was.
    assert!(copy.fail("reset").contains("run it again with --yes"));
    assert_eq!(copy.ok("export"), exported);
    let mut bad = document.clone();
    bad["companies"][0]["shares"][0]["userId"] = json!("77");
    let bad = copy.file("bad.json", &bad.to_string());
    let stderr = copy.fail(&format!("reset --yes --seed {bad}"));
    assert!(
        stderr
            .contains("companies[0].shares[0].userId: user \"77\" does not exist in company \"2\""),
        "{stderr}"
    );
    assert_eq!(copy.ok("export"), exported, "nothing removed");
    let reset = copy.json(&format!("reset --yes --company 2 --seed {file}"));
    assert_eq!(reset["companies"], 1);
    assert_eq!(reset["seeded"]["users"], 4);
    assert_eq!(copy.ok("export"), exported);
    let said = copy.ok("reset --yes");
    assert_eq!(
        said,
        "removed 1 company (4 users, 3 calls); admin tokens were kept\n"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&copy.ok("export")).unwrap(),
        json!({"companies": []})
    );
}

#[tokio::test]
async fn a_reset_gives_the_companies_it_removes_a_fresh_rate_budget() {
    let app = TestApp::spawn().await;
    let admin = app.admin_token().await;
    let mut seed = rich_seed();
    seed["companies"][0]["rateLimit"] = json!({"perSecond": "off", "perDay": 2});
    let reset_with_seed = |path: &'static str| {
        let (app, admin, seed) = (&app, &admin, seed.clone());
        async move {
            app.admin(Method::POST, path, admin, Some(json!({ "seed": seed })))
                .await
                .assert_admin_ok();
        }
    };
    for path in ["/admin/v1/reset", "/admin/v1/reset?company=2"] {
        reset_with_seed(path).await;
        for _ in 0..2 {
            v2(&app, &rich_auth(), Method::GET, "/v2/workspaces", None)
                .await
                .assert_ok();
        }
        let spent = v2(&app, &rich_auth(), Method::GET, "/v2/workspaces", None).await;
        assert_eq!(spent.status, 429, "{path}: {}", spent.body);
        // The same seed again: the budget the company spent went with it.
        reset_with_seed(path).await;
        v2(&app, &rich_auth(), Method::GET, "/v2/workspaces", None)
            .await
            .assert_ok();
    }
}
