//! The audit trail through every path that writes (control-plane.md §7):
//! `/v2`, the admin API, the command line and seeds, each entry with its
//! actor and request id; listing it over HTTP and the CLI; and the change
//! stream (§9): resume without gap or duplicate, heartbeat.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};

use crate::cli::{Db, ACME};
use crate::helpers::ids::*;
use crate::helpers::*;

/// Every entry the admin API lists for `query`, all pages.
pub(crate) async fn audit(app: &TestApp, admin: &Auth, query: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            None => format!("/admin/v1/audit?{query}"),
            Some(c) => format!("/admin/v1/audit?{query}&cursor={c}"),
        };
        let reply = app.admin(Method::GET, &path, admin, None).await;
        reply.assert_admin_ok();
        all.extend(reply.body["items"].as_array().unwrap().iter().cloned());
        match reply.body["nextCursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return all,
        }
    }
}

/// The entries recorded after `after` (a sequence number).
pub(crate) async fn after(app: &TestApp, admin: &Auth, after: u64) -> Vec<Value> {
    audit(app, admin, "limit=1000")
        .await
        .into_iter()
        .filter(|e| e["seq"].as_u64().unwrap() > after)
        .collect()
}

pub(crate) async fn newest_seq(app: &TestApp, admin: &Auth) -> u64 {
    let reply = app
        .admin(
            Method::GET,
            "/admin/v1/audit?order=newest&limit=1",
            admin,
            None,
        )
        .await;
    reply.assert_admin_ok();
    reply.body["items"][0]["seq"].as_u64().unwrap_or(0)
}

fn trace(reply: &Reply) -> String {
    reply.headers["x-traceid"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn v2_grants_and_revocations_are_recorded_with_their_key_and_request_and_no_ops_are_not() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let start = newest_seq(&app, &admin).await;

    let put = app.put(&c.auth, change(CALL_3, &[NONE_B])).await;
    put.assert_ok();
    let entries = after(&app, &admin, start).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    let e = &entries[0];
    assert_eq!(e["action"], "grant.add");
    assert_eq!(e["actor"], format!("apiKey:{}", c.access_key));
    assert_eq!(e["requestId"], put.body["requestId"]);
    assert_eq!(e["requestId"], trace(&put));
    assert_eq!(e["company"], c.id.to_string());
    assert_eq!(e["call"], CALL_3.to_string());
    assert_eq!(e["user"], NONE_B.to_string());
    assert_eq!(e["at"], app.clock.now().to_string());
    let granted = e["seq"].as_u64().unwrap();
    assert!(granted > start);

    // The same grant again, a grant with no effect (ALL opens every call),
    // and a DELETE of a grant that is not there change nothing.
    app.put(&c.auth, change(CALL_3, &[NONE_B]))
        .await
        .assert_ok();
    app.put(&c.auth, change(CALL_3, &[ALL])).await.assert_ok();
    app.delete(&c.auth, change(CALL_2, &[NONE_A]))
        .await
        .assert_ok();
    assert!(after(&app, &admin, granted).await.is_empty());

    let token = app.token(&c, &["api:call-user-access:write"]).await;
    let granted = newest_seq(&app, &admin).await;
    let deleted = app.delete(&token, change(CALL_3, &[NONE_B])).await;
    deleted.assert_ok();
    let entries = after(&app, &admin, granted).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["action"], "grant.remove");
    assert!(entries[0]["actor"].as_str().unwrap().starts_with("token:"));
    assert_eq!(entries[0]["requestId"], trace(&deleted));
}

#[tokio::test]
async fn a_rejected_request_records_nothing() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let start = newest_seq(&app, &admin).await;
    // One unknown call: the whole PUT is refused, the known pair included.
    let body = json!({"callAccessList": [
        {"callId": CALL_3.to_string(), "userIds": [NONE_B.to_string()]},
        {"callId": UNKNOWN_CALL.to_string(), "userIds": [NONE_B.to_string()]},
    ]});
    assert_eq!(app.put(&c.auth, body).await.status, 400);
    assert!(after(&app, &admin, start).await.is_empty());
}

#[tokio::test]
async fn admin_api_changes_are_recorded_as_the_admin_token_with_before_and_after() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let token_id = match &admin {
        Auth::Bearer(text) => text.split('_').nth(1).unwrap().to_owned(),
        _ => unreachable!(),
    };
    let start = newest_seq(&app, &admin).await;
    let company = c.id.to_string();

    let share = app
        .admin(
            Method::POST,
            &format!("/admin/v1/companies/{company}/shares"),
            &admin,
            Some(json!({"callId": CALL_2.to_string(), "userId": NONE_A.to_string()})),
        )
        .await;
    share.assert_admin_ok();
    let manager = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/companies/{company}/users/{NONE_A}"),
            &admin,
            Some(json!({"managerId": ALL.to_string()})),
        )
        .await;
    manager.assert_admin_ok();
    let private = app
        .admin(
            Method::PATCH,
            &format!("/admin/v1/companies/{company}/calls/{CALL_2}"),
            &admin,
            Some(json!({"isPrivate": true})),
        )
        .await;
    private.assert_admin_ok();
    let key = app
        .admin(
            Method::POST,
            &format!("/admin/v1/companies/{company}/api-keys"),
            &admin,
            Some(json!({})),
        )
        .await;
    key.assert_admin_ok();
    let access_key = key.body["accessKey"].as_str().unwrap().to_owned();
    let revoked = app
        .admin(
            Method::DELETE,
            &format!("/admin/v1/companies/{company}/api-keys/{access_key}"),
            &admin,
            None,
        )
        .await;
    revoked.assert_admin_ok();

    let entries = after(&app, &admin, start).await;
    let actions: Vec<&str> = entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "share.add",
            "user.manager",
            "call.private",
            "apiKey.create",
            "apiKey.revoke"
        ]
    );
    for (entry, reply) in entries
        .iter()
        .zip([&share, &manager, &private, &key, &revoked])
    {
        assert_eq!(entry["actor"], format!("admin:{token_id}"), "{entry}");
        assert_eq!(entry["requestId"], trace(reply), "{entry}");
        assert_eq!(entry["company"], company);
    }
    assert_eq!(entries[0]["call"], CALL_2.to_string());
    assert_eq!(entries[0]["user"], NONE_A.to_string());
    assert_eq!(entries[1]["before"], json!({"managerId": null}));
    assert_eq!(entries[1]["after"], json!({"managerId": ALL.to_string()}));
    assert_eq!(entries[2]["before"], json!({"isPrivate": false}));
    assert_eq!(entries[2]["after"], json!({"isPrivate": true}));
    assert_eq!(entries[3]["after"]["accessKey"], access_key);
    // No secret is ever in the trail.
    let secret = key.body["secret"].as_str().unwrap_or("no secret field");
    assert!(!serde_json::to_string(&entries).unwrap().contains(secret));

    // The same manager again changes nothing, and records nothing.
    let last = entries.last().unwrap()["seq"].as_u64().unwrap();
    app.admin(
        Method::PATCH,
        &format!("/admin/v1/companies/{company}/users/{NONE_A}"),
        &admin,
        Some(json!({"managerId": ALL.to_string()})),
    )
    .await
    .assert_admin_ok();
    assert!(after(&app, &admin, last).await.is_empty());
}

#[tokio::test]
async fn an_expired_key_in_use_is_recorded_once() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let expires = app.clock.now().plus_seconds(60);
    let key = app.api_key(&c, None, Some(expires)).await;
    let start = newest_seq(&app, &admin).await;
    app.clock.advance(Duration::from_secs(120)).unwrap();
    let first = app.post_calls(&key, &[CALL_1]).await;
    assert_eq!(first.status, 401);
    assert_eq!(app.post_calls(&key, &[CALL_1]).await.status, 401);
    let entries = after(&app, &admin, start).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert_eq!(entries[0]["action"], "apiKey.expired");
    assert_eq!(entries[0]["requestId"], trace(&first));
    let Auth::Basic(access_key, _) = &key else {
        unreachable!()
    };
    assert_eq!(entries[0]["actor"], format!("apiKey:{access_key}"));
}

#[tokio::test]
async fn the_list_filters_pages_both_ways_and_refuses_what_it_does_not_know() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    for user in [NONE_A, NONE_B, SHARED] {
        app.grant(&c.auth, CALL_3, &[user]).await;
    }
    let oldest = audit(
        &app,
        &admin,
        &format!("company={}&action=grant.add&limit=1", c.id),
    )
    .await;
    let users: Vec<&str> = oldest.iter().map(|e| e["user"].as_str().unwrap()).collect();
    assert_eq!(
        users,
        [NONE_A.to_string(), NONE_B.to_string(), SHARED.to_string()]
    );
    let newest = audit(
        &app,
        &admin,
        &format!("company={}&action=grant.add&order=newest&limit=2", c.id),
    )
    .await;
    let reversed: Vec<Value> = oldest.iter().rev().cloned().collect();
    assert_eq!(newest, reversed);
    let one = audit(&app, &admin, &format!("user={NONE_B}&call={CALL_3}")).await;
    assert_eq!(one.len(), 1);
    let by_key = audit(&app, &admin, &format!("actor=apiKey:{}", c.access_key)).await;
    assert_eq!(by_key.len(), 3);
    let later = app.clock.now().plus_seconds(1).to_string();
    assert!(audit(&app, &admin, &format!("since={later}"))
        .await
        .is_empty());

    let read_only = app.read_only_admin_token().await;
    app.admin(Method::GET, "/admin/v1/audit", &read_only, None)
        .await
        .assert_admin_ok();
    let bad = app
        .admin(Method::GET, "/admin/v1/audit?acton=grant.add", &admin, None)
        .await;
    bad.assert_error(
        400,
        "acton: unknown parameter; the audit list takes company, call, user, actor, action, since, until, order, limit, cursor",
    );
    let bad = app
        .admin(
            Method::GET,
            "/admin/v1/audit?action=grant.added",
            &admin,
            None,
        )
        .await;
    assert_eq!(bad.status, 400);
    let message = &bad.errors()[0];
    assert!(
        message.starts_with("action: \"grant.added\" is not an action; expected one of grant.add,"),
        "{message}"
    );
    let cursor = app
        .admin(Method::GET, "/admin/v1/audit?limit=1", &admin, None)
        .await
        .body["nextCursor"]
        .as_str()
        .unwrap()
        .to_owned();
    let bad = app
        .admin(
            Method::GET,
            &format!("/admin/v1/audit?order=newest&cursor={cursor}"),
            &admin,
            None,
        )
        .await;
    bad.assert_error(
        400,
        "cursor: not a cursor of this list; pass the nextCursor of the previous page unchanged",
    );
    // Entries cannot be changed through the API.
    let refused = app
        .admin(Method::DELETE, "/admin/v1/audit", &admin, None)
        .await;
    assert_eq!(refused.status, 405);
}

#[test]
fn the_cli_and_seeds_are_recorded_as_cli_and_seed_and_audit_list_shows_them() {
    let db = Db::fresh();
    db.ok(&format!("company create --id {ACME} --name Acme"));
    db.ok(&format!(
        "user add --company {ACME} --id 1 --email one@acme.test --calls-access none"
    ));
    db.ok(&format!(
        "user add --company {ACME} --id 2 --email two@acme.test --calls-access none"
    ));
    db.ok(&format!(
        "call add --company {ACME} --id 10 --primary-user 1"
    ));
    db.ok(&format!("share add --company {ACME} --call 10 --user 2"));
    let seed = db.file(
        "seed.json",
        &json!({"companies": [{"id": ACME.to_string(), "name": "Acme",
            "users": [{"id": "3", "emailAddress": "three@acme.test"}]}]})
        .to_string(),
    );
    db.ok(&format!("import {seed}"));

    let entries = db.json(&format!("audit list --company {ACME}"));
    let entries = entries.as_array().unwrap();
    let shown: Vec<(&str, &str)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert!(shown.contains(&("call.create", "cli")), "{shown:?}");
    assert!(shown.contains(&("share.add", "cli")), "{shown:?}");
    assert!(shown.contains(&("user.create", "seed")), "{shown:?}");
    for entry in entries {
        assert!(entry["requestId"].is_null(), "{entry}");
    }
    let share = entries.iter().find(|e| e["action"] == "share.add").unwrap();
    assert_eq!(share["call"], "10");
    assert_eq!(share["user"], "2");

    let table = db.ok(&format!("audit list --company {ACME} --action share.add"));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].starts_with("SEQ"), "{table}");
    assert!(
        lines[1].contains("share.add") && lines[1].contains("cli"),
        "{table}"
    );
    let stderr = db.usage_error("audit list --action grant.added");
    assert!(stderr.contains("is not an action"), "{stderr}");
}

// --- the change stream ---

/// An open change stream, read event by event.
pub(crate) struct Stream {
    response: reqwest::Response,
    buffer: String,
}

/// One event: its id, name and data, or a comment.
#[derive(Debug, Default, PartialEq)]
struct Event {
    id: Option<String>,
    event: Option<String>,
    data: String,
    comment: Option<String>,
}

impl Stream {
    async fn open(app: &TestApp, admin: &Auth, query: &str, last_event_id: Option<u64>) -> Self {
        let header = admin.header().unwrap();
        Self::open_at(&app.client, &app.base, &header, query, last_event_id).await
    }

    /// A stream of the server at `base`, with this `authorization` header.
    pub(crate) async fn open_at(
        client: &reqwest::Client,
        base: &str,
        authorization: &str,
        query: &str,
        last_event_id: Option<u64>,
    ) -> Self {
        let mut request = client
            .get(format!("{base}/admin/v1/changes?{query}"))
            .header("authorization", authorization);
        if let Some(id) = last_event_id {
            request = request.header("last-event-id", id.to_string());
        }
        Self::of(request.send().await.unwrap())
    }

    /// The stream a request opened (the admin API's, or the console's).
    pub(crate) fn of(response: reqwest::Response) -> Self {
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Self {
            response,
            buffer: String::new(),
        }
    }

    /// The next event (or comment), waiting at most 10 s.
    async fn next(&mut self) -> Event {
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = Event::default();
                for line in block.lines() {
                    if let Some(rest) = line.strip_prefix(':') {
                        event.comment = Some(rest.trim().to_owned());
                    } else if let Some((field, value)) = line.split_once(':') {
                        let value = value.strip_prefix(' ').unwrap_or(value);
                        match field {
                            "id" => event.id = Some(value.to_owned()),
                            "event" => event.event = Some(value.to_owned()),
                            "data" => event.data.push_str(value),
                            _ => {}
                        }
                    }
                }
                return event;
            }
            let chunk = tokio::time::timeout(Duration::from_secs(10), self.response.chunk())
                .await
                .expect("no event within 10 s")
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// The next entry, skipping heartbeats.
    pub(crate) async fn entry(&mut self) -> Value {
        loop {
            let event = self.next().await;
            if event.comment.is_some() {
                continue;
            }
            assert_eq!(event.event, None, "{event:?}");
            let entry: Value = serde_json::from_str(&event.data).unwrap();
            assert_eq!(event.id.as_deref(), Some(entry["seq"].to_string().as_str()));
            return entry;
        }
    }
}

#[tokio::test]
async fn the_stream_sends_changes_as_they_commit_and_resumes_without_gap_or_duplicate() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let start = newest_seq(&app, &admin).await;

    // From now on: the next change is the first event.
    let mut live = Stream::open(&app, &admin, "", None).await;
    app.grant(&c.auth, CALL_3, &[NONE_A]).await;
    let first = live.entry().await;
    assert_eq!(first["action"], "grant.add");
    assert_eq!(first["user"], NONE_A.to_string());
    let first_seq = first["seq"].as_u64().unwrap();
    assert!(first_seq > start);

    // More changes, then a stream resumed after the first (as a browser
    // does with Last-Event-ID): exactly the later ones, in order.
    app.grant(&c.auth, CALL_3, &[NONE_B]).await;
    app.grant(&c.auth, CALL_3, &[SHARED]).await;
    let mut resumed = Stream::open(&app, &admin, "", Some(first_seq)).await;
    let second = resumed.entry().await;
    let third = resumed.entry().await;
    assert_eq!(second["user"], NONE_B.to_string());
    assert_eq!(third["user"], SHARED.to_string());
    assert_eq!(second["seq"].as_u64().unwrap(), first_seq + 1);
    assert_eq!(third["seq"].as_u64().unwrap(), first_seq + 2);
    // The live stream got the same ones.
    assert_eq!(live.entry().await, second);
    assert_eq!(live.entry().await, third);

    // ?after= from the start replays everything since, then goes on live.
    let mut replay = Stream::open(&app, &admin, &format!("after={start}"), None).await;
    for expected in [&first, &second, &third] {
        assert_eq!(&replay.entry().await, expected);
    }
    app.delete(&c.auth, change(CALL_3, &[NONE_A]))
        .await
        .assert_ok();
    let removed = replay.entry().await;
    assert_eq!(removed["action"], "grant.remove");
    assert_eq!(removed["seq"].as_u64().unwrap(), first_seq + 3);

    // A filter: only this call's entries for one user.
    let mut filtered =
        Stream::open(&app, &admin, &format!("after={start}&user={NONE_B}"), None).await;
    assert_eq!(filtered.entry().await, second);

    let bad = app
        .admin(Method::GET, "/admin/v1/changes?since=x", &admin, None)
        .await;
    bad.assert_error(
        400,
        "since: unknown parameter; the change stream takes company, call, user, actor, action, after",
    );
}

#[tokio::test]
async fn an_idle_stream_sends_heartbeats() {
    let app = TestApp::spawn_with_options(callaccess::server::ServeOptions {
        changes_heartbeat: Duration::from_millis(100),
        ..TestApp::options()
    })
    .await;
    let admin = app.admin_token().await;
    let mut stream = Stream::open(&app, &admin, "", None).await;
    for _ in 0..2 {
        let event = stream.next().await;
        assert_eq!(event.comment.as_deref(), Some("heartbeat"), "{event:?}");
    }
}

#[tokio::test]
async fn explain_says_who_recorded_an_api_grant_and_in_which_request() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let put = app.put(&c.auth, change(CALL_3, &[NONE_B])).await;
    put.assert_ok();
    let path = format!(
        "/admin/v1/companies/{}/access?callId={CALL_3}&userId={NONE_B}",
        c.id
    );
    let explained = app.admin(Method::GET, &path, &admin, None).await;
    explained.assert_admin_ok();
    assert_eq!(explained.body["canOpen"], true);
    assert_eq!(
        explained.body["routes"],
        json!([{
            "route": "apiGrant",
            "grantedAt": app.clock.now().to_string(),
            "grantedBy": format!("apiKey:{}", c.access_key),
            "requestId": trace(&put),
        }])
    );
}

/// The entries of `action` recorded after `start`.
async fn of(app: &TestApp, admin: &Auth, start: u64, action: &str) -> Vec<Value> {
    after(app, admin, start)
        .await
        .into_iter()
        .filter(|e| e["action"] == action)
        .collect()
}

#[tokio::test]
async fn v2_calls_and_permission_profiles_are_recorded_with_their_request() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let start = newest_seq(&app, &admin).await;
    let json = [("content-type", "application/json")];
    let body = |v: Value| Some(serde_json::to_vec(&v).unwrap());

    let added = app
        .request(
            Method::POST,
            "/v2/calls",
            &c.auth,
            body(json!({
                "clientUniqueId": "crm-9",
                "actualStart": "2024-05-01T10:00:00Z",
                "direction": "Outbound",
                "primaryUser": OWN_PRIMARY.to_string(),
                "parties": [{"userId": OWN_PRIMARY.to_string()}],
            })),
            &json,
        )
        .await;
    added.assert_ok();
    let created = of(&app, &admin, start, "call.create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["call"], added.body["callId"]);
    assert_eq!(created[0]["user"], OWN_PRIMARY.to_string());
    assert_eq!(created[0]["requestId"], trace(&added));
    assert_eq!(created[0]["actor"], format!("apiKey:{}", c.access_key));
    assert_eq!(created[0]["after"]["created"], app.clock.now().to_string());

    let workspaces = app
        .request(Method::GET, "/v2/workspaces", &c.auth, None, &[])
        .await;
    let workspace = workspaces.body["workspaces"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let made = app
        .request(
            Method::POST,
            &format!("/v2/permission-profile?workspaceId={workspace}"),
            &c.auth,
            body(json!({"name": "Reviewers"})),
            &json,
        )
        .await;
    made.assert_ok();
    let profile = made.body["profile"]["id"].as_str().unwrap().to_owned();
    let changed = app
        .request(
            Method::PUT,
            &format!("/v2/permission-profile?profileId={profile}"),
            &c.auth,
            body(json!({"name": "Auditors"})),
            &json,
        )
        .await;
    changed.assert_ok();
    let create = of(&app, &admin, start, "profile.create").await;
    assert_eq!(create.len(), 1, "{create:?}");
    assert_eq!(create[0]["after"]["name"], "Reviewers");
    assert_eq!(create[0]["requestId"], trace(&made));
    let update = of(&app, &admin, start, "profile.update").await;
    assert_eq!(update.len(), 1, "{update:?}");
    assert_eq!(update[0]["before"]["name"], "Reviewers");
    assert_eq!(update[0]["after"]["name"], "Auditors");
    assert_eq!(update[0]["requestId"], trace(&changed));
}

#[tokio::test]
async fn admin_users_profiles_imports_and_resets_are_recorded() {
    let (app, c) = TestApp::spawn_with_company().await;
    let admin = app.admin_token().await;
    let start = newest_seq(&app, &admin).await;
    let company = c.id.to_string();
    let users = format!("/admin/v1/companies/{company}/users");
    let added = app
        .admin(
            Method::POST,
            &users,
            &admin,
            Some(json!({"id": "77", "emailAddress": "new@c.test", "managerId": ALL.to_string()})),
        )
        .await;
    added.assert_admin_ok();
    let created = of(&app, &admin, start, "user.create").await;
    assert_eq!(created.len(), 1, "{created:?}");
    assert_eq!(created[0]["user"], "77");
    assert_eq!(created[0]["after"]["managerId"], ALL.to_string());
    assert_eq!(created[0]["requestId"], trace(&added));

    let profiles = app
        .admin(
            Method::GET,
            &format!("/admin/v1/companies/{company}/profiles"),
            &admin,
            None,
        )
        .await;
    let profile = profiles.body["items"][0]["id"].as_str().unwrap().to_owned();
    let assigned = app
        .admin(
            Method::PATCH,
            &format!("{users}/77"),
            &admin,
            Some(json!({"profileIds": [profile]})),
        )
        .await;
    assigned.assert_admin_ok();
    let held = of(&app, &admin, start, "user.profile").await;
    assert_eq!(held.len(), 1, "{held:?}");
    assert_eq!(held[0]["before"]["profileId"], Value::Null);
    assert_eq!(held[0]["after"]["profileId"], profile);

    let imported = app
        .admin(
            Method::POST,
            "/admin/v1/import",
            &admin,
            Some(json!({"companies": [{"id": "900", "name": "Imported",
                "users": [{"id": "1", "emailAddress": "one@imported.test"}]}]})),
        )
        .await;
    imported.assert_admin_ok();
    let from_seed = of(&app, &admin, start, "user.create").await;
    let imported_user = from_seed.iter().find(|e| e["company"] == "900").unwrap();
    assert!(imported_user["actor"]
        .as_str()
        .unwrap()
        .starts_with("admin:"));
    assert_eq!(imported_user["requestId"], trace(&imported));

    // A reset of company 900 removes its entries and records itself.
    let reset = app
        .admin(Method::POST, "/admin/v1/reset?company=900", &admin, None)
        .await;
    reset.assert_admin_ok();
    let left = audit(&app, &admin, "company=900").await;
    assert_eq!(left.len(), 1, "{left:?}");
    assert_eq!(left[0]["action"], "reset");
    assert_eq!(left[0]["requestId"], trace(&reset));
    // Company 1's entries are untouched.
    assert!(!of(&app, &admin, start, "user.profile").await.is_empty());
}

#[test]
fn cli_credentials_and_managers_are_recorded_as_cli() {
    let db = Db::fresh();
    db.ok(&format!("company create --id {ACME} --name Acme"));
    for id in ["1", "2"] {
        db.ok(&format!(
            "user add --company {ACME} --id {id} --email u{id}@acme.test"
        ));
    }
    db.ok(&format!("user set-manager --company {ACME} 2 1"));
    let key = db.json(&format!("key create --company {ACME}"));
    let access_key = key["accessKey"].as_str().unwrap().to_owned();
    db.ok(&format!("key revoke {access_key}"));
    let admin = db.json("admin-token create");
    let admin_id = admin["id"].as_str().unwrap().to_owned();

    let entries = db.json("audit list");
    let actions: Vec<(&str, &str)> = entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["action"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    for wanted in [
        "user.manager",
        "apiKey.create",
        "apiKey.revoke",
        "adminToken.create",
    ] {
        assert!(actions.contains(&(wanted, "cli")), "{wanted}: {actions:?}");
    }
    let manager = db.json("audit list --action user.manager --user 2");
    assert_eq!(manager[0]["after"], json!({"managerId": "1"}));
    let token = db.json("audit list --action adminToken.create");
    assert_eq!(token[0]["after"]["tokenId"], admin_id);
    assert_eq!(token[0]["company"], Value::Null);
    let revoked = db.json("audit list --action apiKey.revoke");
    assert_eq!(revoked[0]["after"]["accessKey"], access_key);
}
