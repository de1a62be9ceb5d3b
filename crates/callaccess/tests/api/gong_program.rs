//! A program written against Gong's documentation, run unchanged against a
//! seeded callaccess: it lists workspaces, pages through users, finds calls
//! by date and by id, creates a call, reads, creates and updates a profile,
//! and grants and revokes access — all through the `gong-rs` client, with
//! nothing but a base URL and a key pointing it at callaccess.

use callaccess_domain::seed::Seed;
use callaccess_domain::Origin;
use gong_rs::apis::calls_api::{
    add_call, get_call, list_calls, AddCallParams, GetCallParams, ListCallsParams,
};
use gong_rs::apis::configuration::Configuration;
use gong_rs::apis::permissions_api::{
    add_users_access_to_calls, create_permission_profile, delete_users_access_to_calls,
    get_permission_profile, get_users_access_to_calls, list_permission_profile,
    update_permission_profile, AddUsersAccessToCallsParams, CreatePermissionProfileParams,
    DeleteUsersAccessToCallsParams, GetPermissionProfileParams, GetUsersAccessToCallsParams,
    ListPermissionProfileParams, UpdatePermissionProfileParams,
};
use gong_rs::apis::settings_api::list_workspaces;
use gong_rs::apis::users_api::{list_users, ListUsersParams};
use gong_rs::models;
use serde_json::json;

use crate::helpers::TestApp;

const COMPANY: &str = "4000000000000000001";
const WORKSPACE: &str = "623457276584334";
const MANAGER: u64 = 100;
const REP: u64 = 101;
/// Users besides the manager and the rep, so that users fill three pages.
const OTHERS: u64 = 248;

fn seed() -> String {
    let mut users = vec![
        json!({"id": MANAGER.to_string(), "emailAddress": "maya@acme.test", "profileIds": ["3843152912968920037"]}),
        json!({"id": REP.to_string(), "emailAddress": "rita@acme.test", "managerId": MANAGER.to_string(),
               "profileIds": ["3843152912968920038"]}),
    ];
    for n in 0..OTHERS {
        users
            .push(json!({"id": (1000 + n).to_string(), "emailAddress": format!("u{n}@acme.test")}));
    }
    json!({"companies": [{
        "id": COMPANY, "name": "Acme",
        "apiKeys": [{"accessKey": "ACMEPROGRAMKEY", "accessKeySecret": "acme-program-secret-0123456789"}],
        "workspaces": [{"id": WORKSPACE, "name": "Sales"}],
        "profiles": [
            {"id": "3843152912968920037", "workspaceId": WORKSPACE, "name": "Managers",
             "callsAccess": {"permissionLevel": "report-to-them", "teamLeadIds": []}},
            {"id": "3843152912968920038", "workspaceId": WORKSPACE, "name": "Reps",
             "callsAccess": {"permissionLevel": "own", "teamLeadIds": []}}
        ],
        "users": users,
        "calls": [
            {"id": "7782342274025937895", "title": "Discovery", "primaryUserId": REP.to_string(),
             "started": "2026-11-02T15:00:00Z", "direction": "Conference"},
            {"id": "7782342274025937896", "title": "Pricing", "primaryUserId": REP.to_string(),
             "started": "2026-11-20T15:00:00Z", "direction": "Outbound"}
        ]
    }]})
    .to_string()
}

#[tokio::test]
async fn a_program_written_against_gongs_docs_runs_unchanged() {
    let app = TestApp::spawn().await;
    app.store
        .apply_seed(&Origin::cli(), &Seed::parse(&seed()).unwrap())
        .await
        .unwrap();
    let mut config = Configuration::new();
    config.base_path = app.base.clone();
    config.basic_auth = Some((
        "ACMEPROGRAMKEY".to_owned(),
        Some("acme-program-secret-0123456789".to_owned()),
    ));

    // 1. List workspaces.
    let workspaces = list_workspaces(&config).await.unwrap().workspaces.unwrap();
    assert_eq!(workspaces.len(), 1);
    assert_eq!(workspaces[0].id.as_deref(), Some(WORKSPACE));
    assert_eq!(workspaces[0].name.as_deref(), Some("Sales"));

    // 2. Page through users, following the cursor.
    let (mut seen, mut pages, mut cursor) = (Vec::new(), 0, None);
    loop {
        let page = list_users(
            &config,
            ListUsersParams {
                cursor: cursor.take(),
                include_avatars: None,
            },
        )
        .await
        .unwrap();
        let records = page.records.unwrap();
        assert_eq!(records.total_records, Some(250));
        assert_eq!(records.current_page_number, Some(pages));
        pages += 1;
        seen.extend(page.users.unwrap().into_iter().map(|u| u.id.unwrap()));
        match records.cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 250);
    let distinct: std::collections::HashSet<_> = seen.iter().collect();
    assert_eq!(distinct.len(), 250, "no user listed twice");

    // 3. Find calls by date, then one by id.
    let november = list_calls(
        &config,
        ListCallsParams {
            from_date_time: "2026-11-01T00:00:00Z".to_owned(),
            to_date_time: "2026-11-10T00:00:00Z".to_owned(),
            cursor: None,
            workspace_id: None,
        },
    )
    .await
    .unwrap()
    .calls
    .unwrap();
    let ids: Vec<_> = november.iter().map(|c| c.id.clone().unwrap()).collect();
    assert_eq!(ids, vec!["7782342274025937895"]);
    let pricing = get_call(
        &config,
        GetCallParams {
            id: "7782342274025937896".to_owned(),
        },
    )
    .await
    .unwrap()
    .call
    .unwrap();
    assert_eq!(pricing.title.as_deref(), Some("Pricing"));
    assert_eq!(pricing.workspace_id.as_deref(), Some(WORKSPACE));

    // 4. Create a call for the rep.
    let mut host = models::CallParticipant::new();
    host.user_id = Some(REP.to_string());
    let request = models::NewCallAddingRequest::new(
        "crm-42".to_owned(),
        "2026-11-25T10:00:00Z".to_owned(),
        vec![host],
        models::new_call_adding_request::Direction::Inbound,
        REP.to_string(),
    );
    let new_call = add_call(
        &config,
        AddCallParams {
            new_call_adding_request: request,
        },
    )
    .await
    .unwrap()
    .call_id
    .unwrap();

    // 5. Read, create and update profiles.
    let profiles = list_permission_profile(
        &config,
        ListPermissionProfileParams {
            workspace_id: WORKSPACE.to_owned(),
        },
    )
    .await
    .unwrap()
    .profiles
    .unwrap();
    let names: Vec<_> = profiles.iter().map(|p| p.name.clone().unwrap()).collect();
    assert_eq!(names, vec!["Managers", "Reps"]);
    let mut access = models::CallAccessWithPermissionLevel::new();
    access.permission_level = Some(models::call_access_with_permission_level::PermissionLevel::Own);
    let mut dto = models::PermissionProfileDto::new();
    dto.name = Some("Interns".to_owned());
    dto.calls_access = Some(Box::new(access));
    let created = create_permission_profile(
        &config,
        CreatePermissionProfileParams {
            workspace_id: WORKSPACE.to_owned(),
            permission_profile_dto: dto.clone(),
        },
    )
    .await
    .unwrap()
    .profile
    .unwrap();
    let id = created.id.clone().unwrap();
    dto.name = Some("Interns 2027".to_owned());
    update_permission_profile(
        &config,
        UpdatePermissionProfileParams {
            profile_id: id.clone(),
            permission_profile_dto: dto,
        },
    )
    .await
    .unwrap();
    let read = get_permission_profile(&config, GetPermissionProfileParams { profile_id: id })
        .await
        .unwrap()
        .profile
        .unwrap();
    assert_eq!(read.name.as_deref(), Some("Interns 2027"));

    // 6. Grant and revoke. The manager opens the rep's new call through the
    // org chart, so granting her has no effect; another user is granted.
    let other = "1000".to_owned();
    let grant = |users: Vec<String>| AddUsersAccessToCallsParams {
        calls_users_access_add_dto: models::CallsUsersAccessAddDto {
            call_access_list: Some(vec![models::CallUsersAccessDto::new(
                new_call.clone(),
                users,
            )]),
        },
    };
    add_users_access_to_calls(&config, grant(vec![MANAGER.to_string(), other.clone()]))
        .await
        .unwrap();
    let listed = || async {
        let filter =
            models::FilterRequestCallsAccessGetDto::new(models::CallsAccessGetDto::new(vec![
                new_call.clone(),
            ]));
        let entries = get_users_access_to_calls(
            &config,
            GetUsersAccessToCallsParams {
                filter_request_calls_access_get_dto: filter,
            },
        )
        .await
        .unwrap()
        .call_access_list
        .unwrap();
        entries[0]
            .users
            .clone()
            .unwrap()
            .into_iter()
            .filter_map(|u| u.user_id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        listed().await,
        vec![other.clone()],
        "the manager needed no grant"
    );
    delete_users_access_to_calls(
        &config,
        DeleteUsersAccessToCallsParams {
            calls_users_access_delete_dto: models::CallsUsersAccessDeleteDto {
                call_access_list: Some(vec![models::CallUsersAccessDto::new(
                    new_call.clone(),
                    vec![other],
                )]),
            },
        },
    )
    .await
    .unwrap();
    assert_eq!(listed().await, Vec::<String>::new());
}
