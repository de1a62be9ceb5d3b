//! Gong's directory operations (directory.md §3): workspaces, users, calls
//! and permission profiles, driven through the `gong-rs` client unchanged
//! and over raw HTTP for every validation, tenancy and paging rule.

use callaccess_domain::Origin;
use std::collections::{BTreeSet, HashSet};

use callaccess_domain::{
    Call, CallId, CompanyId, NewCompany, RateLimit, Store, Timestamp, User, Workspace, WorkspaceId,
};
use gong_rs::apis::calls_api::{
    add_call, get_call, list_calls, list_calls_extensive, AddCallParams, GetCallParams,
    ListCallsExtensiveParams, ListCallsParams,
};
use gong_rs::apis::configuration::Configuration;
use gong_rs::apis::permissions_api::{
    create_permission_profile, get_permission_profile, list_permission_profile,
    list_permission_profile_users, update_permission_profile, CreatePermissionProfileParams,
    GetPermissionProfileParams, ListPermissionProfileParams, ListPermissionProfileUsersParams,
    UpdatePermissionProfileParams,
};
use gong_rs::apis::settings_api::list_workspaces;
use gong_rs::apis::users_api::{
    get_user, list_multiple_users, list_users, GetUserParams, ListMultipleUsersParams,
    ListUsersParams,
};
use gong_rs::models;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::ids::*;
use crate::helpers::{new_api_key, user, Auth, Company, Reply, TestApp};

const NO_CALLS: &str = "No calls found corresponding to the provided filters";
const NO_USERS: &str = "No users found corresponding to the provided filters";
const BAD_CURSOR: &str = callaccess_domain::page::BAD_CURSOR;

/// A gong-rs configuration for one company's full-access key.
fn gong(app: &TestApp, company: &Company) -> Configuration {
    let Auth::Basic(key, secret) = company.auth.clone() else {
        unreachable!("the fixed world's keys are Basic")
    };
    let mut config = Configuration::new();
    config.base_path = app.base.clone();
    config.basic_auth = Some((key, Some(secret)));
    config
}

async fn get(app: &TestApp, auth: &Auth, path: &str) -> Reply {
    app.request(Method::GET, path, auth, None, &[]).await
}

async fn send(app: &TestApp, method: Method, auth: &Auth, path: &str, body: &Value) -> Reply {
    let bytes = serde_json::to_vec(body).unwrap();
    app.request(
        method,
        path,
        auth,
        Some(bytes),
        &[("content-type", "application/json")],
    )
    .await
}

/// The company's default workspace, as listWorkspaces answers it.
async fn default_workspace(app: &TestApp, c: &Company) -> String {
    let reply = get(app, &c.auth, "/v2/workspaces").await;
    reply.assert_ok();
    let workspaces = reply.body["workspaces"].as_array().unwrap();
    assert_eq!(workspaces.len(), 1, "{}", reply.body);
    workspaces[0]["id"].as_str().unwrap().to_owned()
}

/// A call started at `started` (unix seconds), with a clientUniqueId.
fn started_call(company: CompanyId, id: i64, primary: i64, started: i64) -> Call {
    Call {
        started: Some(Timestamp::from_unix(started)),
        title: Some(format!("call {id}")),
        ..Call::new(company, CallId::from_i64(id).unwrap(), user(primary))
    }
}

/// An addCall body that passes every check.
fn new_call_body(client_id: &str, primary: i64) -> Value {
    json!({
        "clientUniqueId": client_id,
        "actualStart": "2024-05-01T10:00:00Z",
        "direction": "Outbound",
        "primaryUser": primary.to_string(),
        "parties": [{"userId": primary.to_string()}, {"name": "Pat Prospect", "emailAddress": "pat@prospect.test"}],
    })
}

/// Drops the request id, and every occurrence of `id` in messages, so two
/// answers that differ only by the id they name compare equal.
fn shape_without(reply: &Reply, id: &str) -> (u16, String) {
    let mut body = reply.body.clone();
    body.as_object_mut().unwrap().remove("requestId");
    (reply.status, body.to_string().replace(id, "<id>"))
}

#[tokio::test]
async fn the_gong_rs_client_drives_every_directory_operation_unchanged() {
    let (app, c) = TestApp::spawn_with_company().await;
    let config = gong(&app, &c);
    app.store
        .set_manager(&Origin::cli(), c.id, user(OWN_OTHER), Some(user(ALL)))
        .await
        .unwrap();

    // listWorkspaces: the company's default workspace.
    let workspaces = list_workspaces(&config).await.expect("listWorkspaces");
    assert_eq!(workspaces.request_id.as_deref().map(str::len), Some(19));
    let workspaces = workspaces.workspaces.unwrap();
    assert_eq!(workspaces.len(), 1);
    let workspace = workspaces[0].id.clone().unwrap();

    // listUsers: every user, one page, by id.
    let users = list_users(
        &config,
        ListUsersParams {
            cursor: None,
            include_avatars: Some(false),
        },
    )
    .await
    .expect("listUsers");
    let records = users.records.unwrap();
    assert_eq!(
        (
            records.total_records,
            records.current_page_size,
            records.current_page_number
        ),
        (Some(7), Some(7), Some(0))
    );
    assert_eq!(records.cursor, None, "one page: no cursor");
    let ids: Vec<String> = users
        .users
        .unwrap()
        .into_iter()
        .map(|u| u.id.unwrap())
        .collect();
    let expected: Vec<String> = (NONE_A..=OWN_OTHER).map(|id| id.to_string()).collect();
    assert_eq!(ids, expected);

    // getUser: the stored fields, the manager included.
    let one = get_user(
        &config,
        GetUserParams {
            id: OWN_OTHER.to_string(),
        },
    )
    .await
    .expect("getUser")
    .user
    .unwrap();
    assert_eq!(one.email_address.as_deref(), Some("u1007@c1.test"));
    assert_eq!(one.active, Some(true));
    assert_eq!(one.manager_id, Some(ALL.to_string()));
    assert!(one.created.is_some());

    // listMultipleUsers: the ids asked for that exist.
    let mut filter = models::MultipleUsersRequestWithCreationDates::new();
    filter.user_ids = Some(vec![
        ALL.to_string(),
        UNKNOWN_USER.to_string(),
        NONE_A.to_string(),
    ]);
    let some = list_multiple_users(
        &config,
        ListMultipleUsersParams {
            public_api_base_request_v2_multiple_users_request_with_creation_dates:
                models::PublicApiBaseRequestV2MultipleUsersRequestWithCreationDates::new(filter),
        },
    )
    .await
    .expect("listMultipleUsers");
    let ids: Vec<String> = some
        .users
        .unwrap()
        .into_iter()
        .map(|u| u.id.unwrap())
        .collect();
    assert_eq!(ids, vec![NONE_A.to_string(), ALL.to_string()]);

    // addCall, then getCall answers what was stored.
    let mut host = models::CallParticipant::new();
    host.user_id = Some(OWN_PRIMARY.to_string());
    let mut guest = models::CallParticipant::new();
    guest.name = Some("Pat Prospect".to_owned());
    guest.email_address = Some("pat@prospect.test".to_owned());
    let mut request = models::NewCallAddingRequest::new(
        "crm-1".to_owned(),
        "2024-05-01T10:00:00Z".to_owned(),
        vec![host, guest],
        models::new_call_adding_request::Direction::Outbound,
        OWN_PRIMARY.to_string(),
    );
    request.title = Some("Discovery".to_owned());
    request.duration = Some(1800.0);
    let added = add_call(
        &config,
        AddCallParams {
            new_call_adding_request: request,
        },
    )
    .await
    .expect("addCall");
    let new_id = added.call_id.unwrap();
    assert_eq!(new_id.len(), 19, "{new_id}");
    let call = get_call(&config, GetCallParams { id: new_id.clone() })
        .await
        .expect("getCall")
        .call
        .unwrap();
    assert_eq!(call.id.as_deref(), Some(new_id.as_str()));
    assert_eq!(call.title.as_deref(), Some("Discovery"));
    assert_eq!(call.started.as_deref(), Some("2024-05-01T10:00:00Z"));
    assert_eq!(call.duration, Some(1800));
    assert_eq!(
        call.direction,
        Some(models::call_basic_data::Direction::Outbound)
    );
    assert_eq!(call.primary_user_id, Some(OWN_PRIMARY.to_string()));
    assert_eq!(call.workspace_id.as_deref(), Some(workspace.as_str()));
    assert_eq!(call.client_unique_id.as_deref(), Some("crm-1"));
    assert_eq!(call.is_private, Some(false), "a stored false is returned");
    assert_eq!(call.url, None, "no data: left out");

    // listCalls by date: only the new call started that day.
    let by_date = list_calls(
        &config,
        ListCallsParams {
            from_date_time: "2024-05-01T00:00:00Z".to_owned(),
            to_date_time: "2024-05-01T04:00:00-07:00".to_owned(),
            cursor: None,
            workspace_id: Some(workspace.clone()),
        },
    )
    .await
    .expect("listCalls");
    let calls = by_date.calls.unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].id.as_deref(), Some(new_id.as_str()));

    // listCallsExtensive by id, with parties.
    let mut filter = models::CallsRequestFilterWithOwners::new();
    filter.call_ids = Some(vec![new_id.clone(), CALL_1.to_string()]);
    let mut body =
        models::PublicApiBaseRequestWithDataV2CallsRequestFilterWithOwnersContentSelector::new(
            filter,
        );
    let mut exposed = models::ExposedFields::new();
    exposed.parties = Some(true);
    let mut selector = models::ContentSelector::new();
    selector.exposed_fields = Some(Box::new(exposed));
    body.content_selector = Some(Box::new(selector));
    let extensive = list_calls_extensive(
        &config,
        ListCallsExtensiveParams {
            public_api_base_request_with_data_v2_calls_request_filter_with_owners_content_selector:
                body,
        },
    )
    .await
    .expect("listCallsExtensive");
    let calls = extensive.calls.unwrap();
    let ids: Vec<String> = calls
        .iter()
        .map(|c| c.meta_data.as_ref().unwrap().id.clone().unwrap())
        .collect();
    let mut expected = vec![new_id.clone(), CALL_1.to_string()];
    expected.sort_by_key(|id| id.parse::<i64>().unwrap());
    assert_eq!(ids, expected, "by id");
    let new = calls
        .iter()
        .find(|c| c.meta_data.as_ref().unwrap().id.as_deref() == Some(new_id.as_str()))
        .unwrap();
    let parties = new.parties.clone().unwrap();
    assert_eq!(parties.len(), 2);
    assert_eq!(parties[0].user_id, Some(OWN_PRIMARY.to_string()));
    assert_eq!(parties[1].name.as_deref(), Some("Pat Prospect"));

    // Profiles: list, create, read, update, and their users.
    let listed = list_permission_profile(
        &config,
        ListPermissionProfileParams {
            workspace_id: workspace.clone(),
        },
    )
    .await
    .expect("listPermissionProfile")
    .profiles
    .unwrap();
    let names: Vec<String> = listed.iter().map(|p| p.name.clone().unwrap()).collect();
    assert_eq!(
        names,
        vec![
            "Calls access: all",
            "Calls access: none",
            "Calls access: own"
        ]
    );

    let mut access = models::CallAccessWithPermissionLevel::new();
    access.permission_level =
        Some(models::call_access_with_permission_level::PermissionLevel::ManagersTeam);
    access.team_lead_ids = Some(vec![ALL.to_string()]);
    let mut dto = models::PermissionProfileDto::new();
    dto.name = Some("team leads".to_owned());
    dto.calls_access = Some(Box::new(access));
    dto.score_calls = Some(false);
    let created = create_permission_profile(
        &config,
        CreatePermissionProfileParams {
            workspace_id: workspace.clone(),
            permission_profile_dto: dto,
        },
    )
    .await
    .expect("createPermissionProfile")
    .profile
    .unwrap();
    let profile_id = created.id.clone().unwrap();
    assert_eq!(profile_id.len(), 19);
    assert_eq!(created.name.as_deref(), Some("team leads"));
    assert_eq!(created.score_calls, Some(false), "stored as given");
    assert_eq!(
        created.calls_access.as_ref().unwrap().team_lead_ids,
        Some(vec![ALL.to_string()])
    );

    let read = get_permission_profile(
        &config,
        GetPermissionProfileParams {
            profile_id: profile_id.clone(),
        },
    )
    .await
    .expect("getPermissionProfile")
    .profile
    .unwrap();
    assert_eq!(read, created);

    let mut access = models::CallAccessWithPermissionLevel::new();
    access.permission_level =
        Some(models::call_access_with_permission_level::PermissionLevel::ReportToThem);
    let mut dto = models::PermissionProfileDto::new();
    dto.id = Some("12345".to_owned());
    dto.name = Some("Managers".to_owned());
    dto.calls_access = Some(Box::new(access));
    let updated = update_permission_profile(
        &config,
        UpdatePermissionProfileParams {
            profile_id: profile_id.clone(),
            permission_profile_dto: dto,
        },
    )
    .await
    .expect("updatePermissionProfile")
    .profile
    .unwrap();
    assert_eq!(
        updated.id.as_deref(),
        Some(profile_id.as_str()),
        "the query's id wins"
    );
    assert_eq!(updated.name.as_deref(), Some("Managers"));
    assert_eq!(updated.score_calls, None, "the profile was replaced");

    let holders = list_permission_profile_users(
        &config,
        ListPermissionProfileUsersParams {
            profile_id: profile_id.clone(),
        },
    )
    .await
    .expect("listPermissionProfileUsers");
    assert_eq!(holders.users, Some(vec![]), "no users: 200 with []");
    app.store
        .assign_profile(
            &Origin::cli(),
            c.id,
            user(OWN_OTHER),
            profile_id.parse().unwrap(),
        )
        .await
        .unwrap();
    let holders = list_permission_profile_users(
        &config,
        ListPermissionProfileUsersParams {
            profile_id: profile_id.clone(),
        },
    )
    .await
    .expect("listPermissionProfileUsers")
    .users
    .unwrap();
    assert_eq!(holders.len(), 1);
    assert_eq!(holders[0].id, Some(OWN_OTHER.to_string()));
    assert_eq!(holders[0].email_address.as_deref(), Some("u1007@c1.test"));

    // A Gong error answer reaches the client as Gong's ErrorResponse.
    let err = get_user(
        &config,
        GetUserParams {
            id: UNKNOWN_USER.to_string(),
        },
    )
    .await
    .unwrap_err();
    match err {
        gong_rs::apis::Error::ResponseError(content) => {
            assert_eq!(content.status.as_u16(), 404);
            let body: Value = serde_json::from_str(&content.content).unwrap();
            assert_eq!(body["errors"][0], "User not found");
        }
        other => panic!("expected a 404, got {other:?}"),
    }
}

#[tokio::test]
async fn stored_values_come_back_and_missing_ones_are_left_out() {
    let (app, c) = TestApp::spawn_with_company().await;
    let named = User {
        first_name: Some("Ada".to_owned()),
        last_name: Some("Lovelace".to_owned()),
        title: Some("AE".to_owned()),
        active: false,
        created: Some(Timestamp::from_unix(1_700_000_000)),
        ..User::new(c.id, user(2001), "ada@c1.test")
    };
    app.store.add_user(&Origin::cli(), &named).await.unwrap();
    let reply = get(&app, &c.auth, "/v2/users/2001").await;
    reply.assert_ok();
    assert_eq!(
        reply.body["user"],
        json!({"id": "2001", "emailAddress": "ada@c1.test", "created": "2023-11-14T22:13:20Z",
               "active": false, "firstName": "Ada", "lastName": "Lovelace", "title": "AE"})
    );
    // The bare user of the fixed world: no names, no manager.
    let reply = get(&app, &c.auth, &format!("/v2/users/{NONE_A}")).await;
    let user_body = reply.body["user"].as_object().unwrap();
    for absent in ["firstName", "lastName", "title", "managerId"] {
        assert!(!user_body.contains_key(absent), "{absent}: {}", reply.body);
    }
    // The call of the fixed world has no start, no details: only what it has.
    let reply = get(&app, &c.auth, &format!("/v2/calls/{CALL_2}")).await;
    reply.assert_ok();
    let call = reply.body["call"].as_object().unwrap();
    let keys: BTreeSet<&str> = call.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["id", "title", "primaryUserId", "workspaceId", "isPrivate"]),
        "{}",
        reply.body
    );
    // Private, as stored.
    app.store
        .set_private(&Origin::cli(), c.id, crate::helpers::call(CALL_2), true)
        .await
        .unwrap();
    let reply = get(&app, &c.auth, &format!("/v2/calls/{CALL_2}")).await;
    assert_eq!(reply.body["call"]["isPrivate"], true);
    // UserSimpleMetadata's fullName from the names.
    let workspace = default_workspace(&app, &c).await;
    let created = send(
        &app,
        Method::POST,
        &c.auth,
        &format!("/v2/permission-profile?workspaceId={workspace}"),
        &json!({"name": "named", "callsAccess": {"permissionLevel": "own"}}),
    )
    .await;
    created.assert_ok();
    let profile = created.body["profile"]["id"].as_str().unwrap().to_owned();
    app.store
        .assign_profile(&Origin::cli(), c.id, user(2001), profile.parse().unwrap())
        .await
        .unwrap();
    let reply = get(
        &app,
        &c.auth,
        &format!("/v2/permission-profile/users?profileId={profile}"),
    )
    .await;
    assert_eq!(
        reply.body["users"],
        json!([{"id": "2001", "fullName": "Ada Lovelace", "emailAddress": "ada@c1.test"}])
    );
}

/// One row of a validation table: a request and the answer's status and
/// first message.
struct Row {
    method: Method,
    path: String,
    body: Option<Value>,
    status: u16,
    first: String,
}

fn row(method: Method, path: &str, body: Option<Value>, status: u16, first: &str) -> Row {
    Row {
        method,
        path: path.to_owned(),
        body,
        status,
        first: first.to_owned(),
    }
}

async fn check_rows(app: &TestApp, auth: &Auth, rows: Vec<Row>) {
    for row in rows {
        let reply = match &row.body {
            Some(body) => send(app, row.method.clone(), auth, &row.path, body).await,
            None => {
                app.request(row.method.clone(), &row.path, auth, None, &[])
                    .await
            }
        };
        assert_eq!(
            reply.status, row.status,
            "{} {} {:?}: {}",
            row.method, row.path, row.body, reply.body
        );
        let errors = reply.errors();
        assert_eq!(
            errors[0], row.first,
            "{} {} {:?}: {errors:?}",
            row.method, row.path, row.body
        );
    }
}

fn date_problem(field: &str, value: &str) -> String {
    format!(
        "{field}: \"{value}\" is not an ISO-8601 date-time with an offset, such as \"2018-02-18T02:30:00-07:00\" or \"2018-02-18T08:00:00Z\""
    )
}

#[tokio::test]
async fn every_operation_validates_its_inputs() {
    let (app, c) = TestApp::spawn_with_company().await;
    let workspace = default_workspace(&app, &c).await;
    let unknown_workspace = "1234567890123456789";
    let no_workspace =
        format!("workspaceId: workspace \"{unknown_workspace}\" does not exist in company \"1\"");
    let profile = send(
        &app,
        Method::POST,
        &c.auth,
        &format!("/v2/permission-profile?workspaceId={workspace}"),
        &json!({"name": "p"}),
    )
    .await;
    profile.assert_ok();
    let profile = profile.body["profile"]["id"].as_str().unwrap().to_owned();
    let create = format!("/v2/permission-profile?workspaceId={workspace}");
    let update = format!("/v2/permission-profile?profileId={profile}");
    let long_id = "x".repeat(2049);
    let combined = "all / managers-team / report-to-them / own / none";
    use Method as M;
    let rows = vec![
        // listUsers
        row(M::GET, "/v2/users?includeAvatars=maybe", None, 400,
            "includeAvatars: \"maybe\" is not a boolean (true or false)"),
        row(M::GET, "/v2/users?cursor=abc", None, 400, BAD_CURSOR),
        row(M::GET, "/v2/users?cursor=a&cursor=b", None, 400, "cursor: must be given at most once"),
        // getUser
        row(M::GET, "/v2/users/abc", None, 400, "id: \"abc\" is not a numeric id"),
        row(M::GET, "/v2/users/0", None, 400, "id: \"0\" is not a valid id (ids start at 1)"),
        row(M::GET, "/v2/users/99999999999999999999", None, 400,
            "id: \"99999999999999999999\" is out of range (ids are at most 9223372036854775807)"),
        row(M::GET, &format!("/v2/users/{UNKNOWN_USER}"), None, 404, "User not found"),
        // listMultipleUsers
        row(M::POST, "/v2/users/extensive", Some(json!({})), 400, "filter: must not be null"),
        row(M::POST, "/v2/users/extensive", Some(json!({"filter": []})), 400, "filter: must be an object"),
        row(M::POST, "/v2/users/extensive", Some(json!([])), 400, "request body must be a JSON object"),
        row(M::POST, "/v2/users/extensive", Some(json!({"filter": {"userIds": "1"}})), 400,
            "filter.userIds: must be an array"),
        row(M::POST, "/v2/users/extensive", Some(json!({"filter": {"userIds": ["1", "x"]}})), 400,
            "filter.userIds[1]: \"x\" is not a numeric id"),
        row(M::POST, "/v2/users/extensive", Some(json!({"filter": {"createdFromDateTime": "2020-01-01"}})), 400,
            &date_problem("filter.createdFromDateTime", "2020-01-01")),
        row(M::POST, "/v2/users/extensive", Some(json!({"filter": {"includeAvatars": "no"}})), 400,
            "filter.includeAvatars: \"no\" is not a boolean"),
        row(M::POST, "/v2/users/extensive", Some(json!({"filter": {}, "cursor": "zzz"})), 400, BAD_CURSOR),
        row(M::POST, "/v2/users/extensive", None, 400, "request body is required"),
        // addCall
        row(M::POST, "/v2/calls", Some(json!({})), 400, "clientUniqueId: must not be null"),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": long_id, "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": "1001", "parties": [{"userId": "1001"}]})), 400,
            "clientUniqueId: must be at most 2048 characters long, got 2049"),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "soon",
            "direction": "Inbound", "primaryUser": "1001", "parties": [{"userId": "1001"}]})), 400,
            &date_problem("actualStart", "soon")),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "inbound", "primaryUser": "1001", "parties": [{"userId": "1001"}]})), 400,
            "direction: \"inbound\" is not one of \"Inbound\", \"Outbound\", \"Conference\", \"Unknown\""),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": "1001", "parties": []})), 400,
            "parties: must hold at least 1 item(s)"),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": "1001", "parties": [{"userId": "1001", "mediaChannelId": 2}]})), 400,
            "parties[0].mediaChannelId: 2 is not an integer from 0 to 1"),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": "1001", "parties": [{"name": "x"}]})), 400,
            "parties: one party must be the primary user (a party with \"userId\": \"1001\")"),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": UNKNOWN_USER.to_string(),
            "parties": [{"userId": UNKNOWN_USER.to_string()}]})), 400, "Some users not found"),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": "1001",
            "parties": [{"userId": "1001"}, {"userId": UNKNOWN_USER.to_string()}]})), 400, "Some users not found"),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": "1001", "parties": [{"userId": "1001"}],
            "workspaceId": unknown_workspace})), 400, &no_workspace),
        row(M::POST, "/v2/calls", Some(json!({"clientUniqueId": "a", "actualStart": "2024-05-01T10:00:00Z",
            "direction": "Inbound", "primaryUser": "1001", "parties": [{"userId": "1001"}],
            "duration": "long"})), 400, "duration: \"long\" is not a number of at least 0"),
        // listCalls
        row(M::GET, "/v2/calls?fromDateTime=yesterday", None, 400, &date_problem("fromDateTime", "yesterday")),
        row(M::GET, "/v2/calls?toDateTime=2024-05-01T10:00:00", None, 400,
            &date_problem("toDateTime", "2024-05-01T10:00:00")),
        row(M::GET, "/v2/calls?workspaceId=x", None, 400, "workspaceId: \"x\" is not a numeric id"),
        row(M::GET, &format!("/v2/calls?workspaceId={unknown_workspace}"), None, 400, &no_workspace),
        row(M::GET, "/v2/calls?fromDateTime=2024-05-01T10:00:00Z&fromDateTime=2024-05-01T10:00:00Z", None, 400,
            "fromDateTime: must be given at most once"),
        row(M::GET, "/v2/calls?cursor=abc", None, 400, BAD_CURSOR),
        // getCall
        row(M::GET, "/v2/calls/abc", None, 400, "id: \"abc\" is not a numeric id"),
        row(M::GET, &format!("/v2/calls/{UNKNOWN_CALL}"), None, 404,
            &format!("Call ID {UNKNOWN_CALL} was not found")),
        // listCallsExtensive
        row(M::POST, "/v2/calls/extensive", Some(json!({})), 400, "filter: must not be null"),
        row(M::POST, "/v2/calls/extensive", Some(json!({"filter": {"callIds": [1.5]}})), 400,
            "filter.callIds[0]: 1.5 is not a numeric id"),
        row(M::POST, "/v2/calls/extensive", Some(json!({"filter": {"primaryUserIds": [true]}})), 400,
            "filter.primaryUserIds[0]: true is not a numeric id"),
        row(M::POST, "/v2/calls/extensive", Some(json!({"filter": {"toDateTime": "2024"}})), 400,
            &date_problem("filter.toDateTime", "2024")),
        row(M::POST, "/v2/calls/extensive", Some(json!({"filter": {"workspaceId": unknown_workspace}})), 400,
            &format!("filter.workspaceId: workspace \"{unknown_workspace}\" does not exist in company \"1\"")),
        row(M::POST, "/v2/calls/extensive", Some(json!({"filter": {"callIds": [], "workspaceId": unknown_workspace}})), 400,
            &format!("filter.workspaceId: workspace \"{unknown_workspace}\" does not exist in company \"1\"")),
        row(M::POST, "/v2/calls/extensive", Some(json!({"filter": {},
            "contentSelector": {"exposedFields": {"parties": "yes"}}})), 400,
            "contentSelector.exposedFields.parties: \"yes\" is not a boolean"),
        row(M::POST, "/v2/calls/extensive", Some(json!({"filter": {},
            "contentSelector": {"context": "All"}})), 400,
            "contentSelector.context: \"All\" is not one of \"None\", \"Basic\", \"Extended\""),
        // listPermissionProfile
        row(M::GET, "/v2/all-permission-profiles", None, 400, "workspaceId: is required"),
        row(M::GET, "/v2/all-permission-profiles?workspaceId=w", None, 400, "workspaceId: \"w\" is not a numeric id"),
        row(M::GET, &format!("/v2/all-permission-profiles?workspaceId={unknown_workspace}"), None, 400, &no_workspace),
        // getPermissionProfile
        row(M::GET, "/v2/permission-profile", None, 400, "profileId: is required"),
        row(M::GET, "/v2/permission-profile?profileId=5", None, 400,
            "profileId: permission profile \"5\" does not exist in company \"1\""),
        // createPermissionProfile
        row(M::POST, "/v2/permission-profile", Some(json!({"name": "x"})), 400, "workspaceId: is required"),
        row(M::POST, &format!("/v2/permission-profile?workspaceId={unknown_workspace}"),
            Some(json!({"name": "x"})), 400, &no_workspace),
        row(M::POST, &create, None, 400, "request body is required"),
        row(M::POST, &create, Some(json!({"name": 5})), 400, "name: 5 is not a string"),
        row(M::POST, &create, Some(json!({"name": "  "})), 400, "a permission profile needs a name"),
        row(M::POST, &create, Some(json!({"name": "x", "scoreCalls": "yes"})), 400,
            "scoreCalls: \"yes\" is not a boolean"),
        row(M::POST, &create, Some(json!({"name": "x", "callsAccess": {}})), 400,
            "callsAccess.permissionLevel: must not be null"),
        row(M::POST, &create, Some(json!({"name": "x", "callsAccess": {"permissionLevel": "some"}})), 400,
            "callsAccess.permissionLevel: \"some\" is not one of \"all\", \"managers-team\", \"report-to-them\", \"own\", \"none\""),
        row(M::POST, &create, Some(json!({"name": "x", "callsAccess": {"permissionLevel": combined}})), 400,
            &format!("callsAccess.permissionLevel: \"{}… is not one of \"all\", \"managers-team\", \"report-to-them\", \"own\", \"none\"",
                &combined[..39])),
        row(M::POST, &create, Some(json!({"name": "x", "callsAccess": {"permissionLevel": "managers-team",
            "teamLeadIds": [UNKNOWN_USER.to_string()]}})), 400, "Some users not found"),
        row(M::POST, &create, Some(json!({"name": "x", "callsAccess": {"permissionLevel": "own",
            "teamLeadIds": ["lead"]}})), 400, "callsAccess.teamLeadIds[0]: \"lead\" is not a numeric id"),
        row(M::POST, &create, Some(json!({"name": "x", "dealsAccess": {"permissionLevel": combined}})), 400,
            &format!("dealsAccess.permissionLevel: \"{}… is not one of \"all\", \"managers-team\", \"report-to-them\", \"own\", \"none\"",
                &combined[..39])),
        // updatePermissionProfile
        row(M::PUT, "/v2/permission-profile", Some(json!({"name": "x"})), 400, "profileId: is required"),
        row(M::PUT, "/v2/permission-profile?profileId=5", Some(json!({"name": "x"})), 400,
            "profileId: permission profile \"5\" does not exist in company \"1\""),
        row(M::PUT, &update, Some(json!({"name": ""})), 400, "a permission profile needs a name"),
        row(M::PUT, &update, Some(json!({"name": "x", "callsAccess": {"permissionLevel": "own",
            "teamLeadIds": [UNKNOWN_USER.to_string()]}})), 400, "Some users not found"),
        // listPermissionProfileUsers
        row(M::GET, "/v2/permission-profile/users", None, 400, "profileId: is required"),
        row(M::GET, "/v2/permission-profile/users?profileId=abc", None, 400, "profileId: \"abc\" is not a numeric id"),
        row(M::GET, "/v2/permission-profile/users?profileId=5", None, 400,
            "profileId: permission profile \"5\" does not exist in company \"1\""),
    ];
    check_rows(&app, &c.auth, rows).await;

    // Bodies are read as users-access reads them: JSON only, within the limit.
    for path in [
        "/v2/calls",
        "/v2/calls/extensive",
        "/v2/users/extensive",
        create.as_str(),
    ] {
        let reply = app
            .request(
                Method::POST,
                path,
                &c.auth,
                Some(b"{\"filter\":".to_vec()),
                &[("content-type", "application/json")],
            )
            .await;
        assert_eq!(reply.status, 400, "{path}");
        assert!(
            reply.errors()[0].starts_with("request body is not valid JSON"),
            "{path}"
        );
        let reply = app
            .request(
                Method::POST,
                path,
                &c.auth,
                Some(b"{}".to_vec()),
                &[("content-type", "text/plain")],
            )
            .await;
        reply.assert_error(
            415,
            "content type must be application/json, got 'text/plain'",
        );
    }
    // Unknown fields are ignored, and so is an id in a profile body.
    let reply = send(
        &app,
        Method::POST,
        &c.auth,
        &create,
        &json!({"id": "42", "name": "extra", "someNewGongField": {"x": 1}}),
    )
    .await;
    reply.assert_ok();
    assert_ne!(reply.body["profile"]["id"], "42");
    assert_eq!(
        reply.body["profile"].as_object().unwrap().len(),
        2,
        "only id and name: {}",
        reply.body
    );
    // Nothing a refused request named was written.
    let listed = get(
        &app,
        &c.auth,
        &format!("/v2/all-permission-profiles?workspaceId={workspace}"),
    )
    .await;
    let names: Vec<&str> = listed.body["profiles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        vec![
            "Calls access: all",
            "Calls access: none",
            "Calls access: own",
            "extra",
            "p"
        ]
    );
    let calls = send(
        &app,
        Method::POST,
        &c.auth,
        "/v2/calls/extensive",
        &json!({"filter": {}}),
    )
    .await;
    assert_eq!(
        calls.body["records"]["totalRecords"], 3,
        "no call was added"
    );
}

#[tokio::test]
async fn many_ids_are_refused_before_anything_is_read() {
    let app = TestApp::spawn_with(callaccess::http::Limits {
        max_pairs: 2,
        ..callaccess::http::Limits::default()
    })
    .await;
    let c = app.company(1).await;
    let reply = send(
        &app,
        Method::POST,
        &c.auth,
        "/v2/users/extensive",
        &json!({"filter": {"userIds": ["1", "2", "3"]}}),
    )
    .await;
    reply.assert_error(
        400,
        "filter.userIds: at most 2 ids are allowed per request, got 3",
    );
    let reply = send(
        &app,
        Method::POST,
        &c.auth,
        "/v2/calls/extensive",
        &json!({"filter": {"callIds": ["1", "2", "3"]}}),
    )
    .await;
    reply.assert_error(
        400,
        "filter.callIds: at most 2 ids are allowed per request, got 3",
    );
}

#[tokio::test]
async fn empty_results_are_answered_as_gong_does() {
    let (app, c) = TestApp::spawn_with_company().await;
    let reply = get(
        &app,
        &c.auth,
        "/v2/calls?fromDateTime=2001-01-01T00:00:00Z&toDateTime=2001-01-02T00:00:00Z",
    )
    .await;
    assert_eq!(reply.errors(), vec![NO_CALLS]);
    assert_eq!(reply.status, 404);
    for filter in [
        json!({"callIds": [UNKNOWN_CALL.to_string()]}),
        json!({"callIds": []}),
        json!({"primaryUserIds": [ALL.to_string()]}),
        json!({"fromDateTime": "2001-01-01T00:00:00Z", "toDateTime": "2001-01-01T00:00:00Z"}),
    ] {
        let reply = send(
            &app,
            Method::POST,
            &c.auth,
            "/v2/calls/extensive",
            &json!({"filter": filter}),
        )
        .await;
        reply.assert_error(404, NO_CALLS);
    }
    for filter in [
        json!({"userIds": [UNKNOWN_USER.to_string()]}),
        json!({"userIds": []}),
        json!({"createdToDateTime": "2001-01-01T00:00:00Z"}),
    ] {
        let reply = send(
            &app,
            Method::POST,
            &c.auth,
            "/v2/users/extensive",
            &json!({"filter": filter}),
        )
        .await;
        reply.assert_error(404, NO_USERS);
    }
    // A listing that is not Gong's 404 case answers an empty list.
    let other = TestApp::spawn().await;
    let company = CompanyId::from_i64(9).unwrap();
    other
        .store
        .create_company(&NewCompany {
            id: company,
            name: "empty".to_owned(),
            rate_limit: RateLimit::default(),
        })
        .await
        .unwrap();
    let (_, auth) = new_api_key(other.store.as_ref(), company, None, None).await;
    let reply = get(&other, &auth, "/v2/users").await;
    reply.assert_ok();
    assert_eq!(reply.body["users"], json!([]));
    assert_eq!(
        reply.body["records"],
        json!({"totalRecords": 0, "currentPageSize": 0, "currentPageNumber": 0})
    );
}

#[tokio::test]
async fn filters_select_by_dates_ids_owners_and_workspace() {
    let (app, c) = TestApp::spawn_with_company().await;
    let day = 1_714_521_600; // 2024-05-01T00:00:00Z
    let second = WorkspaceId::from_i64(5_000_000_000_000_000_001).unwrap();
    app.store
        .create_workspace(&Workspace {
            company: c.id,
            id: second,
            name: "EMEA".to_owned(),
            description: Some("Europe".to_owned()),
        })
        .await
        .unwrap();
    for (id, primary, started) in [
        (11, ALL, day - 1),
        (12, ALL, day),
        (13, NONE_A, day + 10),
        (14, ALL, day + 86_400),
    ] {
        app.store
            .add_call(&Origin::cli(), &started_call(c.id, id, primary, started))
            .await
            .unwrap();
    }
    app.store
        .add_call(
            &Origin::cli(),
            &Call {
                workspace: Some(second),
                ..started_call(c.id, 15, ALL, day + 5)
            },
        )
        .await
        .unwrap();
    let ids = |reply: &Reply, key: &str| -> Vec<i64> {
        reply.assert_ok();
        reply.body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let c = if key.is_empty() { c } else { &c[key] };
                c["id"].as_str().unwrap().parse().unwrap()
            })
            .collect()
    };
    // from inclusive, to exclusive; offsets honoured.
    let reply = get(
        &app,
        &c.auth,
        "/v2/calls?fromDateTime=2024-05-01T00:00:00Z&toDateTime=2024-05-01T17:00:00-07:00",
    )
    .await;
    assert_eq!(ids(&reply, ""), vec![12, 13, 15]);
    let reply = get(&app, &c.auth, &format!("/v2/calls?workspaceId={second}")).await;
    assert_eq!(ids(&reply, ""), vec![15]);
    let workspaces = get(&app, &c.auth, "/v2/workspaces").await;
    let listed: Vec<&Value> = workspaces.body["workspaces"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(listed.len(), 2);
    assert!(listed
        .iter()
        .any(|w| w["name"] == "EMEA" && w["description"] == "Europe"));
    let body = json!({"filter": {"primaryUserIds": [ALL.to_string()], "fromDateTime": "2024-05-01T00:00:00Z",
                      "callIds": ["12", "13", "14", "15", UNKNOWN_CALL.to_string()]}});
    let reply = send(&app, Method::POST, &c.auth, "/v2/calls/extensive", &body).await;
    assert_eq!(ids(&reply, "metaData"), vec![12, 14, 15]);
    assert!(
        reply.body["calls"][0].get("parties").is_none(),
        "parties only when asked for"
    );
    // Users by creation date.
    for (id, created) in [(3001, day - 1), (3002, day), (3003, day + 1)] {
        app.store
            .add_user(
                &Origin::cli(),
                &User {
                    created: Some(Timestamp::from_unix(created)),
                    ..User::new(c.id, user(id), format!("u{id}@c1.test"))
                },
            )
            .await
            .unwrap();
    }
    let body = json!({"filter": {"createdFromDateTime": "2024-05-01T00:00:00Z",
                                  "createdToDateTime": "2024-05-01T00:00:01Z"}});
    let reply = send(&app, Method::POST, &c.auth, "/v2/users/extensive", &body).await;
    reply.assert_ok();
    let users: Vec<&str> = reply.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap())
        .collect();
    assert_eq!(users, vec!["3002"]);
}

#[tokio::test]
async fn another_companys_ids_answer_exactly_like_unknown_ones_in_both_directions() {
    let app = TestApp::spawn().await;
    let a = app.company(1).await;
    let b = app.company(2).await;
    // What only one company has: a user, a call, a workspace, a profile.
    let mut only = Vec::new();
    for (n, c) in [(1, &a), (2, &b)] {
        let user_id = 5000 + n;
        app.store
            .add_user(
                &Origin::cli(),
                &User::new(c.id, user(user_id), format!("x@c{n}.test")),
            )
            .await
            .unwrap();
        let call_id = 6_000_000_000_000_000_000 + n;
        app.store
            .add_call(
                &Origin::cli(),
                &started_call(c.id, call_id, NONE_A, 1_714_521_600),
            )
            .await
            .unwrap();
        let workspace = default_workspace(&app, c).await;
        let profile = send(
            &app,
            Method::POST,
            &c.auth,
            &format!("/v2/permission-profile?workspaceId={workspace}"),
            &json!({"name": "mine"}),
        )
        .await;
        profile.assert_ok();
        let profile = profile.body["profile"]["id"].as_str().unwrap().to_owned();
        only.push((user_id.to_string(), call_id.to_string(), workspace, profile));
    }
    for (me, mine, theirs) in [(&a, &only[0], &only[1]), (&b, &only[1], &only[0])] {
        let (their_user, their_call, their_workspace, their_profile) = theirs;
        let unknown = "4444444444444444444";
        let probes: Vec<(Method, String, Option<Value>, &str)> = vec![
            (Method::GET, "/v2/users/{}".into(), None, their_user),
            (Method::GET, "/v2/calls/{}".into(), None, their_call),
            (
                Method::GET,
                "/v2/calls?workspaceId={}".into(),
                None,
                their_workspace,
            ),
            (
                Method::GET,
                "/v2/all-permission-profiles?workspaceId={}".into(),
                None,
                their_workspace,
            ),
            (
                Method::GET,
                "/v2/permission-profile?profileId={}".into(),
                None,
                their_profile,
            ),
            (
                Method::GET,
                "/v2/permission-profile/users?profileId={}".into(),
                None,
                their_profile,
            ),
            (
                Method::PUT,
                "/v2/permission-profile?profileId={}".into(),
                Some(json!({"name": "taken"})),
                their_profile,
            ),
            (
                Method::POST,
                "/v2/permission-profile?workspaceId={}".into(),
                Some(json!({"name": "new"})),
                their_workspace,
            ),
            (
                Method::POST,
                "/v2/users/extensive".into(),
                Some(json!({"filter": {"userIds": ["{}"]}})),
                their_user,
            ),
            (
                Method::POST,
                "/v2/calls/extensive".into(),
                Some(json!({"filter": {"callIds": ["{}"]}})),
                their_call,
            ),
            (
                Method::POST,
                "/v2/calls/extensive".into(),
                Some(json!({"filter": {"workspaceId": "{}"}})),
                their_workspace,
            ),
            (
                Method::POST,
                "/v2/calls".into(),
                Some(
                    json!({"clientUniqueId": "t", "actualStart": "2024-05-01T10:00:00Z",
                "direction": "Inbound", "primaryUser": "{}", "parties": [{"userId": "{}"}]}),
                ),
                their_user,
            ),
            (
                Method::POST,
                "/v2/calls".into(),
                Some(
                    json!({"clientUniqueId": "t", "actualStart": "2024-05-01T10:00:00Z",
                "direction": "Inbound", "primaryUser": "1001", "parties": [{"userId": "1001"}], "workspaceId": "{}"}),
                ),
                their_workspace,
            ),
        ];
        for (method, path, body, id) in probes {
            let ask = |id: &str| {
                let path = path.replace("{}", id);
                let body = body.as_ref().map(|b| {
                    serde_json::from_str::<Value>(&b.to_string().replace("{}", id)).unwrap()
                });
                let method = method.clone();
                let app = &app;
                let auth = me.auth.clone();
                async move {
                    match body {
                        Some(body) => send(app, method, &auth, &path, &body).await,
                        None => get(app, &auth, &path).await,
                    }
                }
            };
            let foreign = ask(id).await;
            let absent = ask(unknown).await;
            assert!(
                foreign.status >= 400,
                "{method} {path} with {id}: {}",
                foreign.body
            );
            assert_eq!(
                shape_without(&foreign, id),
                shape_without(&absent, unknown),
                "{method} {path}"
            );
        }
        // And their records never appear in my listings.
        let users = get(&app, &me.auth, "/v2/users").await;
        let listed: Vec<&str> = users.body["users"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap())
            .collect();
        assert!(listed.contains(&mine.0.as_str()));
        assert!(!listed.contains(&theirs.0.as_str()));
        let calls = send(
            &app,
            Method::POST,
            &me.auth,
            "/v2/calls/extensive",
            &json!({"filter": {}}),
        )
        .await;
        let ids: Vec<&str> = calls.body["calls"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["metaData"]["id"].as_str().unwrap())
            .collect();
        assert!(ids.contains(&mine.1.as_str()));
        assert!(!ids.contains(&theirs.1.as_str()));
    }
    // The refused PUT left the other company's profile as it was.
    let profile = get(
        &app,
        &b.auth,
        &format!("/v2/permission-profile?profileId={}", only[1].3),
    )
    .await;
    assert_eq!(profile.body["profile"]["name"], "mine");
}

/// Another task that adds records whenever a page has been read, and
/// says when it is done, so the pages of one listing interleave with
/// writes without any test sleeping.
struct Between {
    tell: tokio::sync::mpsc::Sender<()>,
    done: tokio::sync::Mutex<tokio::sync::mpsc::Receiver<()>>,
}

impl Between {
    /// Starts `add(round)` in a task of its own, once per [`Between::round`].
    fn spawn<F, Fut>(mut add: F) -> (Self, tokio::task::JoinHandle<()>)
    where
        F: FnMut(usize) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = ()> + Send,
    {
        let (tell, mut told) = tokio::sync::mpsc::channel::<()>(1);
        let (done, finished) = tokio::sync::mpsc::channel::<()>(1);
        let task = tokio::spawn(async move {
            let mut round = 0;
            while told.recv().await.is_some() {
                round += 1;
                add(round).await;
                let _ = done.send(()).await;
            }
        });
        let between = Self {
            tell,
            done: tokio::sync::Mutex::new(finished),
        };
        (between, task)
    }

    async fn round(&self) {
        self.tell.send(()).await.unwrap();
        self.done.lock().await.recv().await.unwrap();
    }
}

/// Pages through a listing to its end; answers each page's body. Between
/// two pages, `between` (if any) adds records.
async fn page_through(
    app: &TestApp,
    auth: &Auth,
    mut next: impl FnMut(Option<String>) -> (Method, String, Option<Value>),
    between: Option<&Between>,
) -> Vec<Value> {
    let mut pages = Vec::new();
    let mut cursor = None;
    loop {
        let (method, path, body) = next(cursor.clone());
        let reply = match body {
            Some(body) => send(app, method, auth, &path, &body).await,
            None => get(app, auth, &path).await,
        };
        reply.assert_ok();
        let records = reply.body["records"].clone();
        pages.push(reply.body);
        match records.get("cursor").and_then(Value::as_str) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
        assert!(pages.len() < 50, "paging does not end");
        if let Some(between) = between {
            between.round().await;
        }
    }
    pages
}

/// Checks pages of a listing that had `before` (ascending) when it began:
/// each record at most once, every one of `before` present, pages of 100,
/// numbered from 0, with the first page's total.
fn check_pages(pages: &[Value], list: &str, id: impl Fn(&Value) -> i64, before: &[i64]) {
    assert!(pages.len() >= 3, "only {} pages", pages.len());
    let mut seen = HashSet::new();
    let mut all = Vec::new();
    for (n, page) in pages.iter().enumerate() {
        let records = &page["records"];
        assert_eq!(records["currentPageNumber"], n, "{records}");
        assert_eq!(
            records["totalRecords"],
            before.len(),
            "the first page's count: {records}"
        );
        let items = page[list].as_array().unwrap();
        assert_eq!(records["currentPageSize"], items.len());
        assert!(items.len() <= 100);
        if n + 1 < pages.len() {
            assert_eq!(items.len(), 100, "only the last page may be short");
        } else {
            assert!(records.get("cursor").is_none());
        }
        for item in items {
            let id = id(item);
            assert!(seen.insert(id), "{id} shown twice");
            all.push(id);
        }
    }
    assert!(all.windows(2).all(|w| w[0] < w[1]), "by id");
    let missing: Vec<&i64> = before.iter().filter(|id| !seen.contains(id)).collect();
    assert!(missing.is_empty(), "skipped: {missing:?}");
}

#[tokio::test]
async fn paging_through_users_while_users_are_added_skips_and_repeats_nothing() {
    let (app, c) = TestApp::spawn_with_company().await;
    // 307 users in all, spread out so that users added later land between them.
    for n in 0..300 {
        let id = 10_000 + n * 10;
        app.store
            .add_user(
                &Origin::cli(),
                &User::new(c.id, user(id), format!("u{id}@c1.test")),
            )
            .await
            .unwrap();
    }
    let before: Vec<i64> = {
        let mut ids: Vec<i64> = (NONE_A..=OWN_OTHER)
            .chain((0..300).map(|n| 10_000 + n * 10))
            .collect();
        ids.sort_unstable();
        ids
    };
    // Another task adds users whenever a page was read: below, between
    // and above the records already paged (ids ending in 5, never taken).
    let store = app.store.clone();
    let company = c.id;
    let (between, inserter) = Between::spawn(move |round| {
        let store = store.clone();
        async move {
            for k in 0..15 {
                let id = 10_005 + k * 200 + round as i64 * 10;
                store
                    .add_user(
                        &Origin::cli(),
                        &User::new(company, user(id), format!("late{id}@c1.test")),
                    )
                    .await
                    .unwrap();
            }
        }
    });
    let pages = page_through(
        &app,
        &c.auth,
        |cursor| {
            let path = match cursor {
                Some(c) => format!("/v2/users?cursor={c}"),
                None => "/v2/users".to_owned(),
            };
            (Method::GET, path, None)
        },
        Some(&between),
    )
    .await;
    drop(between);
    inserter.await.unwrap();
    check_pages(
        &pages,
        "users",
        |u| u["id"].as_str().unwrap().parse().unwrap(),
        &before,
    );

    // listMultipleUsers pages the same way, with its filter.
    let filter = json!({"createdToDateTime": "2100-01-01T00:00:00Z"});
    let pages = page_through(
        &app,
        &c.auth,
        |cursor| {
            let mut body = json!({"filter": filter});
            if let Some(c) = cursor {
                body["cursor"] = json!(c);
            }
            (Method::POST, "/v2/users/extensive".to_owned(), Some(body))
        },
        None,
    )
    .await;
    let everyone = get(&app, &c.auth, "/v2/users").await.body["records"]["totalRecords"]
        .as_i64()
        .unwrap();
    assert_eq!(pages[0]["records"]["totalRecords"], everyone);
    let listed: usize = pages
        .iter()
        .map(|p| p["users"].as_array().unwrap().len())
        .sum();
    assert_eq!(listed as i64, everyone);
}

#[tokio::test]
async fn paging_through_calls_while_calls_are_added_skips_and_repeats_nothing() {
    let (app, c) = TestApp::spawn_with_company().await;
    let day = 1_714_521_600;
    // Ids spread over the whole 19-digit range, so that the fresh random
    // ids addCall draws land before, between and after them.
    let id_of = |n: i64| 1_000_000_000_000_000_000 + n * 30_000_000_000_000_000;
    for n in 0..250 {
        app.store
            .add_call(&Origin::cli(), &started_call(c.id, id_of(n), ALL, day + n))
            .await
            .unwrap();
    }
    let before: Vec<i64> = (0..250).map(id_of).collect();
    // Another task adds calls through addCall whenever a page was read.
    let client = app.client.clone();
    let base = app.base.clone();
    let header = c.auth.header().unwrap();
    let (between, adder) = Between::spawn(move |round| {
        let (client, base, header) = (client.clone(), base.clone(), header.clone());
        async move {
            for k in 0..10 {
                let mut body = new_call_body(&format!("late-{round}-{k}"), ALL);
                body["actualStart"] = json!("2024-05-01T00:01:00Z");
                let answer = client
                    .post(format!("{base}/v2/calls"))
                    .header("authorization", &header)
                    .json(&body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(answer.status().as_u16(), 200);
            }
        }
    });
    let query = "fromDateTime=2024-05-01T00:00:00Z&toDateTime=2024-05-02T00:00:00Z";
    let pages = page_through(
        &app,
        &c.auth,
        |cursor| {
            let path = match cursor {
                Some(c) => format!("/v2/calls?{query}&cursor={c}"),
                None => format!("/v2/calls?{query}"),
            };
            (Method::GET, path, None)
        },
        Some(&between),
    )
    .await;
    check_pages(
        &pages,
        "calls",
        |c| c["id"].as_str().unwrap().parse().unwrap(),
        &before,
    );

    // listCallsExtensive, under the same kind of traffic.
    let pages = page_through(
        &app,
        &c.auth,
        |cursor| {
            let mut body = json!({"filter": {"primaryUserIds": [ALL.to_string()], "toDateTime": "2024-05-01T00:01:00Z"}});
            if let Some(c) = cursor {
                body["cursor"] = json!(c);
            }
            (Method::POST, "/v2/calls/extensive".to_owned(), Some(body))
        },
        Some(&between),
    )
    .await;
    drop(between);
    adder.await.unwrap();
    let first_minute: Vec<i64> = (0..60).map(id_of).collect();
    assert_eq!(pages.len(), 1, "60 calls: one page");
    let ids: Vec<i64> = pages[0]["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["metaData"]["id"].as_str().unwrap().parse().unwrap())
        .collect();
    assert_eq!(ids, first_minute);
}

#[tokio::test]
async fn a_cursor_is_refused_when_altered_or_used_on_another_query_or_company() {
    let app = TestApp::spawn().await;
    let a = app.company(1).await;
    let b = app.company(2).await;
    for n in 0..150 {
        for c in [&a, &b] {
            app.store
                .add_user(
                    &Origin::cli(),
                    &User::new(c.id, user(20_000 + n), format!("u{n}@x.test")),
                )
                .await
                .unwrap();
        }
    }
    let first = get(&app, &a.auth, "/v2/users").await;
    first.assert_ok();
    let cursor = first.body["records"]["cursor"].as_str().unwrap().to_owned();
    // It works as given.
    let second = get(&app, &a.auth, &format!("/v2/users?cursor={cursor}")).await;
    second.assert_ok();
    assert_eq!(second.body["records"]["currentPageNumber"], 1);
    // Altered anywhere.
    for at in [0, cursor.len() / 2, cursor.len() - 2] {
        let mut bytes = cursor.clone().into_bytes();
        bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
        let altered = String::from_utf8(bytes).unwrap();
        get(&app, &a.auth, &format!("/v2/users?cursor={altered}"))
            .await
            .assert_error(400, BAD_CURSOR);
    }
    // Another company.
    get(&app, &b.auth, &format!("/v2/users?cursor={cursor}"))
        .await
        .assert_error(400, BAD_CURSOR);
    // Another operation, or the same one with another filter.
    send(
        &app,
        Method::POST,
        &a.auth,
        "/v2/users/extensive",
        &json!({"filter": {}, "cursor": cursor}),
    )
    .await
    .assert_error(400, BAD_CURSOR);
    let filtered = send(
        &app,
        Method::POST,
        &a.auth,
        "/v2/users/extensive",
        &json!({"filter": {"createdToDateTime": "2100-01-01T00:00:00Z"}}),
    )
    .await;
    let cursor = filtered.body["records"]["cursor"]
        .as_str()
        .unwrap()
        .to_owned();
    send(
        &app,
        Method::POST,
        &a.auth,
        "/v2/users/extensive",
        &json!({"filter": {"createdToDateTime": "2100-01-02T00:00:00Z"}, "cursor": cursor}),
    )
    .await
    .assert_error(400, BAD_CURSOR);
    send(
        &app,
        Method::POST,
        &a.auth,
        "/v2/users/extensive",
        &json!({"filter": {"createdToDateTime": "2100-01-01T00:00:00Z"}, "cursor": cursor}),
    )
    .await
    .assert_ok();
}

#[tokio::test]
async fn a_repeated_client_unique_id_is_a_conflict_naming_the_existing_call() {
    let (app, c) = TestApp::spawn_with_company().await;
    let first = send(
        &app,
        Method::POST,
        &c.auth,
        "/v2/calls",
        &new_call_body("crm-7", ALL),
    )
    .await;
    first.assert_ok();
    let id = first.body["callId"].as_str().unwrap().to_owned();
    assert_eq!(first.body.as_object().unwrap().len(), 2, "{}", first.body);
    let again = send(
        &app,
        Method::POST,
        &c.auth,
        "/v2/calls",
        &new_call_body("crm-7", NONE_A),
    )
    .await;
    again.assert_error(
        409,
        &format!("a call with clientUniqueId \"crm-7\" already exists: call {id}"),
    );
    // A seeded call's id counts too.
    let seeded = Call {
        client_unique_id: Some("seeded-1".to_owned()),
        ..Call::new(c.id, CallId::from_i64(77).unwrap(), user(ALL))
    };
    app.store.add_call(&Origin::cli(), &seeded).await.unwrap();
    send(
        &app,
        Method::POST,
        &c.auth,
        "/v2/calls",
        &new_call_body("seeded-1", ALL),
    )
    .await
    .assert_error(
        409,
        "a call with clientUniqueId \"seeded-1\" already exists: call 77",
    );
    // Another company may use the same clientUniqueId.
    let other = app.company(2).await;
    send(
        &app,
        Method::POST,
        &other.auth,
        "/v2/calls",
        &new_call_body("crm-7", ALL),
    )
    .await
    .assert_ok();
    // New ids are fresh each time.
    let second = send(
        &app,
        Method::POST,
        &c.auth,
        "/v2/calls",
        &new_call_body("crm-8", ALL),
    )
    .await;
    assert_ne!(second.body["callId"], first.body["callId"]);
    // The new call is in the default workspace, as given.
    let call = get(&app, &c.auth, &format!("/v2/calls/{id}")).await;
    assert_eq!(
        call.body["call"]["workspaceId"],
        default_workspace(&app, &c).await
    );
    let stored = app
        .store
        .calls(c.id)
        .await
        .unwrap()
        .into_iter()
        .find(|call| call.id.to_string() == id)
        .unwrap();
    assert_eq!(stored.parties.len(), 2);
    assert_eq!(stored.started, Some(Timestamp::from_unix(1_714_557_600)));
}

#[tokio::test]
async fn each_operation_needs_its_own_scope() {
    let (app, c) = TestApp::spawn_with_company().await;
    let workspace = default_workspace(&app, &c).await;
    let operations: Vec<(&str, Method, String, Option<Value>)> = vec![
        (
            "api:workspaces:read",
            Method::GET,
            "/v2/workspaces".into(),
            None,
        ),
        ("api:users:read", Method::GET, "/v2/users".into(), None),
        (
            "api:users:read",
            Method::GET,
            format!("/v2/users/{ALL}"),
            None,
        ),
        (
            "api:users:read",
            Method::POST,
            "/v2/users/extensive".into(),
            Some(json!({"filter": {}})),
        ),
        (
            "api:calls:create",
            Method::POST,
            "/v2/calls".into(),
            Some(new_call_body("scoped", ALL)),
        ),
        (
            "api:calls:read:basic",
            Method::GET,
            "/v2/calls".into(),
            None,
        ),
        (
            "api:calls:read:basic",
            Method::GET,
            format!("/v2/calls/{CALL_1}"),
            None,
        ),
        (
            "api:calls:read:extensive",
            Method::POST,
            "/v2/calls/extensive".into(),
            Some(json!({"filter": {}})),
        ),
        (
            "api:permission-profile:read",
            Method::GET,
            format!("/v2/all-permission-profiles?workspaceId={workspace}"),
            None,
        ),
        (
            "api:permission-profile:write",
            Method::POST,
            format!("/v2/permission-profile?workspaceId={workspace}"),
            Some(json!({"name": "scoped"})),
        ),
    ];
    let everything_else = |scope: &str| -> Vec<&str> {
        operations
            .iter()
            .map(|o| o.0)
            .filter(|s| *s != scope)
            .collect()
    };
    for (scope, method, path, body) in &operations {
        let ask = |auth: Auth| {
            let (method, path, body) = (method.clone(), path.clone(), body.clone());
            let app = &app;
            async move {
                match body {
                    Some(body) => send(app, method, &auth, &path, &body).await,
                    None => get(app, &auth, &path).await,
                }
            }
        };
        let without = app.token(&c, &everything_else(scope)).await;
        let refused = ask(without).await;
        refused.assert_error(
            401,
            &format!("You don't have permission to use '{scope}' in your app."),
        );
        assert!(refused.headers.get("www-authenticate").is_some());
        let with = app.token(&c, &[scope]).await;
        assert_eq!(ask(with).await.status, 200, "{method} {path} with {scope}");
    }
    // The profile read, write and users operations.
    let profile = send(
        &app,
        Method::POST,
        &c.auth,
        &format!("/v2/permission-profile?workspaceId={workspace}"),
        &json!({"name": "z"}),
    )
    .await
    .body["profile"]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let read = app.token(&c, &["api:permission-profile:read"]).await;
    get(
        &app,
        &read,
        &format!("/v2/permission-profile?profileId={profile}"),
    )
    .await
    .assert_ok();
    send(
        &app,
        Method::PUT,
        &read,
        &format!("/v2/permission-profile?profileId={profile}"),
        &json!({"name": "y"}),
    )
    .await
    .assert_error(
        401,
        "You don't have permission to use 'api:permission-profile:write' in your app.",
    );
    get(
        &app,
        &read,
        &format!("/v2/permission-profile/users?profileId={profile}"),
    )
    .await
    .assert_error(
        401,
        "You don't have permission to use 'api:users:read' in your app.",
    );
    let users = app.token(&c, &["api:users:read"]).await;
    get(
        &app,
        &users,
        &format!("/v2/permission-profile/users?profileId={profile}"),
    )
    .await
    .assert_ok();
    get(
        &app,
        &users,
        &format!("/v2/permission-profile?profileId={profile}"),
    )
    .await
    .assert_error(
        401,
        "You don't have permission to use 'api:permission-profile:read' in your app.",
    );
    // The scopes are ones a credential can be made with.
    for scope in [
        "api:permission-profile:read",
        "api:permission-profile:write",
    ] {
        assert!(
            callaccess_domain::Scope::parse_known(scope).is_ok(),
            "{scope}"
        );
    }
    // No credential at all: 401 before anything else.
    let reply = get(&app, &Auth::None, "/v2/users/abc").await;
    assert_eq!(reply.status, 401);
}

#[tokio::test]
async fn each_directory_path_lists_its_own_methods() {
    let (app, c) = TestApp::spawn_with_company().await;
    let paths = [
        ("/v2/workspaces", "GET, HEAD", Method::POST),
        ("/v2/users", "GET, HEAD", Method::DELETE),
        ("/v2/users/1001", "GET, HEAD", Method::PUT),
        ("/v2/users/extensive", "POST", Method::GET),
        ("/v2/calls", "GET, HEAD, POST", Method::PUT),
        ("/v2/calls/1", "GET, HEAD", Method::POST),
        ("/v2/calls/extensive", "POST", Method::GET),
        ("/v2/all-permission-profiles", "GET, HEAD", Method::POST),
        (
            "/v2/permission-profile",
            "GET, HEAD, POST, PUT",
            Method::DELETE,
        ),
        ("/v2/permission-profile/users", "GET, HEAD", Method::PATCH),
    ];
    for (path, allow, wrong) in paths {
        let reply = app.request(wrong.clone(), path, &c.auth, None, &[]).await;
        reply.assert_error(
            405,
            &format!("method not allowed on this path; use one of {allow}"),
        );
        assert_eq!(reply.headers["allow"], allow, "{wrong} {path}");
    }
}

#[tokio::test]
async fn the_document_lists_every_operation_with_gongs_names_and_scopes() {
    let app = TestApp::spawn().await;
    let doc = get(&app, &Auth::None, "/openapi.json").await.body;
    let operations = [
        (
            "/v2/workspaces",
            "get",
            "listWorkspaces",
            "api:workspaces:read",
            "WorkspacesMetadata",
        ),
        (
            "/v2/users",
            "get",
            "listUsers",
            "api:users:read",
            "UsersMetadata",
        ),
        ("/v2/users/{id}", "get", "getUser", "api:users:read", "User"),
        (
            "/v2/users/extensive",
            "post",
            "listMultipleUsers",
            "api:users:read",
            "UsersMetadata",
        ),
        (
            "/v2/calls",
            "post",
            "addCall",
            "api:calls:create",
            "NewCallAddingResponse",
        ),
        (
            "/v2/calls",
            "get",
            "listCalls",
            "api:calls:read:basic",
            "CallsResponse",
        ),
        (
            "/v2/calls/{id}",
            "get",
            "getCall",
            "api:calls:read:basic",
            "SpecificCall",
        ),
        (
            "/v2/calls/extensive",
            "post",
            "listCallsExtensive",
            "api:calls:read:extensive",
            "Calls",
        ),
        (
            "/v2/all-permission-profiles",
            "get",
            "listPermissionProfile",
            "api:permission-profile:read",
            "PermissionProfilesResponse",
        ),
        (
            "/v2/permission-profile",
            "get",
            "getPermissionProfile",
            "api:permission-profile:read",
            "PermissionProfileResponse",
        ),
        (
            "/v2/permission-profile",
            "post",
            "createPermissionProfile",
            "api:permission-profile:write",
            "PermissionProfileResponse",
        ),
        (
            "/v2/permission-profile",
            "put",
            "updatePermissionProfile",
            "api:permission-profile:write",
            "PermissionProfileResponse",
        ),
        (
            "/v2/permission-profile/users",
            "get",
            "listPermissionProfileUsers",
            "api:users:read",
            "PermissionProfileUsersResponse",
        ),
    ];
    for (path, method, id, scope, schema) in operations {
        let operation = &doc["paths"][path][method];
        assert_eq!(operation["operationId"], id, "{method} {path}");
        assert_eq!(operation["security"][1]["bearerAuth"][0], scope, "{id}");
        assert_eq!(
            operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"],
            format!("#/components/schemas/{schema}"),
            "{id}"
        );
    }
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "WorkspaceMetadata",
        "UserMetadata",
        "Records",
        "CallBasicData",
        "CallData",
        "Party",
        "NewCallAddingRequest",
        "CallParticipant",
        "PermissionProfileDTO",
        "CallAccessWithPermissionLevel",
        "UserSimpleMetadata",
        "PublicApiBaseRequestV2MultipleUsersRequestWithCreationDates",
        "PublicApiBaseRequestWithDataV2CallsRequestFilterWithOwnersContentSelector",
        "ErrorResponse",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}");
    }
    // Field names are Gong's.
    let dto = schemas["PermissionProfileDTO"]["properties"]
        .as_object()
        .unwrap();
    for field in [
        "id",
        "name",
        "callsAccess",
        "scoreCalls",
        "manageRevenueAnalytics",
    ] {
        assert!(
            dto.contains_key(field),
            "PermissionProfileDTO lacks {field}"
        );
    }
    let levels = &schemas["CallAccessWithPermissionLevel"]["properties"]["permissionLevel"]["enum"];
    assert_eq!(
        levels,
        &json!(["all", "managers-team", "report-to-them", "own", "none"])
    );
    let required = &schemas["NewCallAddingRequest"]["required"];
    let required: BTreeSet<&str> = required
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        required,
        BTreeSet::from([
            "actualStart",
            "clientUniqueId",
            "direction",
            "parties",
            "primaryUser"
        ])
    );
}

/// The store a test sees is the one the server uses; a last check that the
/// trait's directory reads agree with what the wire shows.
#[tokio::test]
async fn the_wire_shows_what_the_store_holds() {
    let (app, c) = TestApp::spawn_with_company().await;
    let store: &dyn Store = app.store.as_ref();
    let users = store.users(c.id).await.unwrap();
    let reply = get(&app, &c.auth, "/v2/users").await;
    let listed: Vec<String> = reply.body["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].as_str().unwrap().to_owned())
        .collect();
    let stored: Vec<String> = users.iter().map(|u| u.id.to_string()).collect();
    assert_eq!(listed, stored);
}
