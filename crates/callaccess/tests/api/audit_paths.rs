//! One case for every audited action through each path that can cause it
//! (control-plane.md §7): `/v2`, the admin API, the command line and a
//! seed. Each path's test makes every change that path can make, then
//! reads the trail back and checks that it holds exactly those entries, in
//! order, each with its actor, request id, company, call and user. The
//! four tables together must name every action the domain knows
//! ([`every_action_has_a_path_that_causes_it`]), so a new action without a
//! case fails here.

use std::collections::BTreeSet;
use std::time::Duration;

use callaccess_domain::Action;
use reqwest::Method;
use serde_json::{json, Value};

use crate::audit::{after, newest_seq};
use crate::cli::{Db, ACME};
use crate::helpers::ids::*;
use crate::helpers::*;

/// What `/v2` can change, in the order [`through_v2`] changes it.
const V2: &[&str] = &[
    "grant.add",
    "grant.remove",
    "call.create",
    "profile.create",
    "profile.update",
    "apiKey.expired",
    "token.expired",
];

/// What the admin API can change, in the order [`through_the_admin_api`]
/// changes it.
const ADMIN: &[&str] = &[
    "user.create",
    "user.manager",
    "profile.create",
    "profile.update",
    "user.profile",
    "call.create",
    "call.private",
    "share.add",
    "share.remove",
    "apiKey.create",
    "apiKey.revoke",
    "token.create",
    "token.revoke",
    "reset",
];

/// What the command line can change, in the order [`through_the_cli`]
/// changes it.
const CLI: &[&str] = &[
    "user.create",
    "user.create",
    "user.manager",
    // `user set-access` makes the profile "Calls access: all" it assigns.
    "profile.create",
    "user.profile",
    "profile.create",
    "profile.update",
    "user.profile",
    "call.create",
    "call.private",
    "share.add",
    "share.remove",
    "apiKey.create",
    "apiKey.revoke",
    "token.create",
    "token.revoke",
    "adminToken.create",
    "adminToken.revoke",
    "reset",
];

/// What a seed can record, in the order [`through_a_seed`] expects it: the
/// users first, then the profiles, then who manages whom and holds which
/// profile (a seed may name a manager or profile defined after the user).
const SEED: &[&str] = &[
    "apiKey.create",
    "token.create",
    "user.create",
    "user.create",
    "profile.create",
    "user.manager",
    "user.profile",
    "call.create",
    "share.add",
    "grant.add",
];

#[test]
fn every_action_has_a_path_that_causes_it() {
    let covered: BTreeSet<&str> = [V2, ADMIN, CLI, SEED].concat().into_iter().collect();
    let all: BTreeSet<&str> = Action::ALL.iter().map(|a| a.as_str()).collect();
    let missing: Vec<_> = all.difference(&covered).collect();
    let unknown: Vec<_> = covered.difference(&all).collect();
    assert!(missing.is_empty(), "actions with no case: {missing:?}");
    assert!(unknown.is_empty(), "cases of no action: {unknown:?}");
}

/// What one entry must say.
struct Expect {
    action: &'static str,
    actor: String,
    /// The request it was made in; `None` for the CLI and seeds.
    request: Option<String>,
    company: Option<String>,
    /// Checked when given.
    call: Option<String>,
    /// Checked when given.
    user: Option<String>,
}

impl Expect {
    fn new(action: &'static str, actor: &str, company: Option<&str>) -> Self {
        Self {
            action,
            actor: actor.to_owned(),
            request: None,
            company: company.map(str::to_owned),
            call: None,
            user: None,
        }
    }

    /// Made in the request that `reply` answered.
    fn in_reply(mut self, reply: &Reply) -> Self {
        self.request = Some(reply.headers["x-traceid"].to_str().unwrap().to_owned());
        self
    }

    fn call(mut self, call: impl ToString) -> Self {
        self.call = Some(call.to_string());
        self
    }

    fn user(mut self, user: impl ToString) -> Self {
        self.user = Some(user.to_string());
        self
    }
}

/// The trail holds exactly `table`'s actions, in order, each entry as
/// `expected` says, with rising sequence numbers.
fn check(entries: &[Value], expected: &[Expect], table: &[&str]) {
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, table, "the trail: {entries:#?}");
    assert_eq!(expected.len(), table.len(), "one expectation per entry");
    let mut last = 0;
    for (entry, want) in entries.iter().zip(expected) {
        assert_eq!(entry["action"], want.action, "{entry}");
        assert_eq!(entry["actor"], want.actor, "{entry}");
        assert_eq!(entry["requestId"], json!(want.request), "{entry}");
        assert_eq!(entry["company"], json!(want.company), "{entry}");
        if let Some(call) = &want.call {
            assert_eq!(entry["call"], *call, "{entry}");
        }
        if let Some(user) = &want.user {
            assert_eq!(entry["user"], *user, "{entry}");
        }
        let seq = entry["seq"].as_u64().unwrap();
        assert!(seq > last, "sequence numbers rise: {entry}");
        last = seq;
        assert!(
            entry["at"].as_str().is_some_and(|at| at.ends_with('Z')),
            "{entry}"
        );
    }
}

fn json_body(value: Value) -> Option<Vec<u8>> {
    Some(serde_json::to_vec(&value).unwrap())
}

const JSON: [(&str, &str); 1] = [("content-type", "application/json")];

#[tokio::test]
async fn through_v2() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let company = c.id.to_string();
    // Credentials that expire in a minute, made before the trail is read.
    let expiring_key = app
        .admin(
            Method::POST,
            &format!("/admin/v1/companies/{company}/api-keys"),
            &admin,
            Some(json!({"expires": "60s"})),
        )
        .await;
    expiring_key.assert_admin_ok();
    let key_auth = Auth::Basic(
        expiring_key.body["accessKey"].as_str().unwrap().to_owned(),
        expiring_key.body["accessKeySecret"]
            .as_str()
            .unwrap()
            .to_owned(),
    );
    let expiring_token = app
        .admin(
            Method::POST,
            &format!("/admin/v1/companies/{company}/tokens"),
            &admin,
            Some(json!({"scopes": ["api:call-user-access:read"], "expires": "60s"})),
        )
        .await;
    expiring_token.assert_admin_ok();
    let token_auth = Auth::Bearer(expiring_token.body["token"].as_str().unwrap().to_owned());
    let token_id = expiring_token.body["id"].as_str().unwrap().to_owned();
    let start = newest_seq(&app, &admin).await;
    let key = format!("apiKey:{}", c.access_key);

    let put = app.put(&c.auth, change(CALL_3, &[NONE_B])).await;
    put.assert_ok();
    let delete = app.delete(&c.auth, change(CALL_3, &[NONE_B])).await;
    delete.assert_ok();
    let call = app
        .request(
            Method::POST,
            "/v2/calls",
            &c.auth,
            json_body(json!({
                "clientUniqueId": "crm-1",
                "actualStart": "2024-05-01T10:00:00Z",
                "direction": "Outbound",
                "primaryUser": OWN_PRIMARY.to_string(),
                "parties": [{"userId": OWN_PRIMARY.to_string()}],
            })),
            &JSON,
        )
        .await;
    call.assert_ok();
    let workspaces = app
        .request(Method::GET, "/v2/workspaces", &c.auth, None, &[])
        .await;
    let workspace = workspaces.body["workspaces"][0]["id"].as_str().unwrap();
    let profile = app
        .request(
            Method::POST,
            &format!("/v2/permission-profile?workspaceId={workspace}"),
            &c.auth,
            json_body(json!({"name": "Reviewers"})),
            &JSON,
        )
        .await;
    profile.assert_ok();
    let profile_id = profile.body["profile"]["id"].as_str().unwrap();
    let renamed = app
        .request(
            Method::PUT,
            &format!("/v2/permission-profile?profileId={profile_id}"),
            &c.auth,
            json_body(json!({"name": "Auditors"})),
            &JSON,
        )
        .await;
    renamed.assert_ok();
    app.clock.advance(Duration::from_secs(120)).unwrap();
    let expired_key = app.post_calls(&key_auth, &[CALL_1]).await;
    assert_eq!(expired_key.status, 401);
    let expired_token = app.post_calls(&token_auth, &[CALL_1]).await;
    assert_eq!(expired_token.status, 401);

    let of = |action| Expect::new(action, &key, Some(&company));
    let expected = [
        of("grant.add").in_reply(&put).call(CALL_3).user(NONE_B),
        of("grant.remove")
            .in_reply(&delete)
            .call(CALL_3)
            .user(NONE_B),
        of("call.create")
            .in_reply(&call)
            .call(call.body["callId"].as_str().unwrap())
            .user(OWN_PRIMARY),
        of("profile.create").in_reply(&profile),
        of("profile.update").in_reply(&renamed),
        Expect::new(
            "apiKey.expired",
            &format!(
                "apiKey:{}",
                expiring_key.body["accessKey"].as_str().unwrap()
            ),
            Some(&company),
        )
        .in_reply(&expired_key),
        Expect::new(
            "token.expired",
            &format!("token:{token_id}"),
            Some(&company),
        )
        .in_reply(&expired_token),
    ];
    check(&after(&app, &admin, start).await, &expected, V2);
}

#[tokio::test]
async fn through_the_admin_api() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let Auth::Bearer(text) = &admin else {
        unreachable!("admin tokens are bearer tokens")
    };
    let actor = format!("admin:{}", text.split('_').nth(1).unwrap());
    let company = c.id.to_string();
    let base = format!("/admin/v1/companies/{company}");
    let workspaces = app
        .admin(Method::GET, &format!("{base}/workspaces"), &admin, None)
        .await;
    let workspace = workspaces.body["items"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let start = newest_seq(&app, &admin).await;
    let send = |method: Method, path: String, body: Option<Value>| {
        let (app, admin) = (&app, &admin);
        async move {
            let reply = app.admin(method, &path, admin, body).await;
            reply.assert_admin_ok();
            reply
        }
    };

    let user = send(
        Method::POST,
        format!("{base}/users"),
        Some(json!({"id": "77", "emailAddress": "new@c.test"})),
    )
    .await;
    let manager = send(
        Method::PATCH,
        format!("{base}/users/77"),
        Some(json!({"managerId": ALL.to_string()})),
    )
    .await;
    let profile = send(
        Method::POST,
        format!("{base}/profiles?workspaceId={workspace}"),
        Some(json!({"name": "Reviewers", "callsAccess": {"permissionLevel": "all"}})),
    )
    .await;
    let profile_id = profile.body["id"].as_str().unwrap().to_owned();
    let renamed = send(
        Method::PUT,
        format!("{base}/profiles/{profile_id}"),
        Some(json!({"name": "Auditors", "callsAccess": {"permissionLevel": "all"}})),
    )
    .await;
    let held = send(
        Method::PATCH,
        format!("{base}/users/77"),
        Some(json!({"profileIds": [profile_id]})),
    )
    .await;
    let call = send(
        Method::POST,
        format!("{base}/calls"),
        Some(json!({"id": "555", "primaryUserId": "77"})),
    )
    .await;
    let private = send(
        Method::PATCH,
        format!("{base}/calls/555"),
        Some(json!({"isPrivate": true})),
    )
    .await;
    let share = json!({"callId": "555", "userId": NONE_A.to_string()});
    let shared = send(Method::POST, format!("{base}/shares"), Some(share.clone())).await;
    let unshared = send(Method::DELETE, format!("{base}/shares"), Some(share)).await;
    let key = send(Method::POST, format!("{base}/api-keys"), Some(json!({}))).await;
    let access_key = key.body["accessKey"].as_str().unwrap().to_owned();
    let revoked_key = send(
        Method::DELETE,
        format!("{base}/api-keys/{access_key}"),
        None,
    )
    .await;
    let token = send(
        Method::POST,
        format!("{base}/tokens"),
        Some(json!({"scopes": ["api:call-user-access:read"]})),
    )
    .await;
    let token_id = token.body["id"].as_str().unwrap().to_owned();
    let revoked_token = send(Method::DELETE, format!("{base}/tokens/{token_id}"), None).await;
    // A reset of another company (a company's reset removes its own
    // entries, and records itself).
    send(
        Method::POST,
        "/admin/v1/companies".to_owned(),
        Some(json!({"id": "900", "name": "Other"})),
    )
    .await;
    let reset = send(Method::POST, "/admin/v1/reset?company=900".to_owned(), None).await;

    let of = |action| Expect::new(action, &actor, Some(&company));
    let expected = [
        of("user.create").in_reply(&user).user(77),
        of("user.manager").in_reply(&manager).user(77),
        of("profile.create").in_reply(&profile),
        of("profile.update").in_reply(&renamed),
        of("user.profile").in_reply(&held).user(77),
        of("call.create").in_reply(&call).call(555).user(77),
        of("call.private").in_reply(&private).call(555),
        of("share.add").in_reply(&shared).call(555).user(NONE_A),
        of("share.remove")
            .in_reply(&unshared)
            .call(555)
            .user(NONE_A),
        of("apiKey.create").in_reply(&key),
        of("apiKey.revoke").in_reply(&revoked_key),
        of("token.create").in_reply(&token),
        of("token.revoke").in_reply(&revoked_token),
        Expect::new("reset", &actor, Some("900")).in_reply(&reset),
    ];
    check(&after(&app, &admin, start).await, &expected, ADMIN);
}

/// The sequence number of the newest entry of `db`'s trail.
fn newest_in(db: &Db) -> u64 {
    let newest = db.json("audit list --newest --limit 1");
    newest[0]["seq"].as_u64().unwrap_or(0)
}

#[test]
fn through_the_cli() {
    let db = Db::fresh();
    db.ok(&format!("company create --id {ACME} --name Acme"));
    let workspaces = db.json(&format!("workspace list --company {ACME}"));
    let workspace = workspaces[0]["id"].as_str().unwrap().to_owned();
    let start = newest_in(&db);

    db.ok(&format!(
        "user add --company {ACME} --id 1 --email one@acme.test"
    ));
    db.ok(&format!(
        "user add --company {ACME} --id 2 --email two@acme.test"
    ));
    db.ok(&format!("user set-manager --company {ACME} 2 1"));
    db.ok(&format!(
        "user set-access --company {ACME} --id 2 --calls-access all"
    ));
    let profile = db.json(&format!(
        "profile create --company {ACME} --workspace {workspace} --name Reviewers --level own"
    ));
    let profile = profile["id"].as_str().unwrap().to_owned();
    db.ok(&format!(
        "profile update --company {ACME} --profile {profile} --name Auditors"
    ));
    db.ok(&format!(
        "profile assign --company {ACME} --user 1 --profile {profile}"
    ));
    db.ok(&format!(
        "call add --company {ACME} --id 10 --primary-user 1"
    ));
    db.ok(&format!("call set-private --company {ACME} 10 true"));
    db.ok(&format!("share add --company {ACME} --call 10 --user 2"));
    db.ok(&format!("share remove --company {ACME} --call 10 --user 2"));
    let key = db.json(&format!("key create --company {ACME}"));
    db.ok(&format!(
        "key revoke {}",
        key["accessKey"].as_str().unwrap()
    ));
    let token = db.json(&format!(
        "token create --company {ACME} --scope api:call-user-access:read"
    ));
    db.ok(&format!("token revoke {}", token["id"].as_str().unwrap()));
    let admin = db.json("admin-token create");
    db.ok(&format!(
        "admin-token revoke {}",
        admin["id"].as_str().unwrap()
    ));
    const OTHER: &str = "1000000000000000002";
    db.ok(&format!("company create --id {OTHER} --name Other"));
    db.ok(&format!("reset --company {OTHER} --yes"));

    let entries: Vec<Value> = db
        .json(&format!("audit list --after {start} --limit 1000"))
        .as_array()
        .unwrap()
        .clone();
    let of = |action| Expect::new(action, "cli", Some(ACME));
    let expected = [
        of("user.create").user(1),
        of("user.create").user(2),
        of("user.manager").user(2),
        of("profile.create"),
        of("user.profile").user(2),
        of("profile.create"),
        of("profile.update"),
        of("user.profile").user(1),
        of("call.create").call(10).user(1),
        of("call.private").call(10),
        of("share.add").call(10).user(2),
        of("share.remove").call(10).user(2),
        of("apiKey.create"),
        of("apiKey.revoke"),
        of("token.create"),
        of("token.revoke"),
        Expect::new("adminToken.create", "cli", None),
        Expect::new("adminToken.revoke", "cli", None),
        Expect::new("reset", "cli", Some(OTHER)),
    ];
    check(&entries, &expected, CLI);
}

#[test]
fn through_a_seed() {
    let db = Db::fresh();
    let seed = db.file(
        "seed.json",
        &json!({"companies": [{
            "id": ACME, "name": "Acme",
            "apiKeys": [{"accessKey": "ACMEKEY1", "accessKeySecret": "acme-secret-0123456789"}],
            "tokens": [{"token": "acme-read-token-0123456789", "scopes": ["api:call-user-access:read"]}],
            "workspaces": [{"id": "623457276584334", "name": "Sales"}],
            "profiles": [{"id": "3843152912968920037", "workspaceId": "623457276584334",
                "name": "Managers", "callsAccess": {"permissionLevel": "report-to-them"}}],
            "users": [
                {"id": "1", "emailAddress": "one@acme.test", "profileIds": ["3843152912968920037"]},
                {"id": "2", "emailAddress": "two@acme.test", "managerId": "1"}
            ],
            "calls": [{"id": "10", "workspaceId": "623457276584334", "primaryUserId": "2"}],
            "shares": [{"callId": "10", "userId": "1"}],
            "apiGrants": [{"callId": "10", "userId": "1"}]
        }]})
        .to_string(),
    );
    db.ok(&format!("import {seed}"));

    let entries: Vec<Value> = db
        .json("audit list --limit 1000")
        .as_array()
        .unwrap()
        .clone();
    let of = |action| Expect::new(action, "seed", Some(ACME));
    let expected = [
        of("apiKey.create"),
        of("token.create"),
        of("user.create").user(1),
        of("user.create").user(2),
        of("profile.create"),
        of("user.manager").user(2),
        of("user.profile").user(1),
        of("call.create").call(10).user(2),
        of("share.add").call(10).user(1),
        of("grant.add").call(10).user(1),
    ];
    check(&entries, &expected, SEED);
    assert_eq!(
        entries[5]["after"],
        json!({"managerId": "1"}),
        "{}",
        entries[5]
    );
    assert_eq!(
        entries[6]["after"]["profileId"], "3843152912968920037",
        "{}",
        entries[6]
    );
    assert_eq!(entries[0]["after"]["accessKey"], "ACMEKEY1");
    // No secret is ever in the trail.
    let shown = serde_json::to_string(&entries).unwrap();
    assert!(!shown.contains("acme-secret-0123456789"), "{shown}");
    assert!(!shown.contains("acme-read-token-0123456789"), "{shown}");
}
