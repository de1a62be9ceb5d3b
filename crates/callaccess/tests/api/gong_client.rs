//! A client generated from Gong's published OpenAPI spec (the `gong-rs`
//! crate) grants, lists and revokes against the server unchanged.

use gong_rs::apis::configuration::Configuration;
use gong_rs::apis::permissions_api::{
    add_users_access_to_calls, delete_users_access_to_calls, get_users_access_to_calls,
    AddUsersAccessToCallsParams, DeleteUsersAccessToCallsParams, GetUsersAccessToCallsParams,
};
use gong_rs::models::{
    CallAccessDetails, CallUsersAccessDto, CallsAccessGetDto, CallsUsersAccessAddDto,
    CallsUsersAccessDeleteDto, FilterRequestCallsAccessGetDto,
};

use crate::helpers::ids::*;
use crate::helpers::{Auth, TestApp};

/// PUT through the client.
fn grant(call: i64, users: &[i64]) -> AddUsersAccessToCallsParams {
    AddUsersAccessToCallsParams {
        calls_users_access_add_dto: CallsUsersAccessAddDto {
            call_access_list: Some(vec![item(call, users)]),
        },
    }
}

fn item(call: i64, users: &[i64]) -> CallUsersAccessDto {
    CallUsersAccessDto::new(call.to_string(), users.iter().map(i64::to_string).collect())
}

/// POST of CALL_3 and CALL_2 through the client: its entries.
async fn list(config: &Configuration) -> Vec<CallAccessDetails> {
    let filter = FilterRequestCallsAccessGetDto::new(CallsAccessGetDto::new(vec![
        CALL_3.to_string(),
        CALL_2.to_string(),
    ]));
    let params = GetUsersAccessToCallsParams {
        filter_request_calls_access_get_dto: filter,
    };
    let listed = get_users_access_to_calls(config, params)
        .await
        .expect("list");
    listed.call_access_list.expect("callAccessList")
}

/// The users of one listed call.
fn users_of(entry: &CallAccessDetails) -> Vec<String> {
    let users = entry.users.clone().expect("users");
    users.into_iter().filter_map(|u| u.user_id).collect()
}

#[tokio::test]
async fn the_gong_rs_client_works_unchanged() {
    let (app, c) = TestApp::spawn_with_company().await;
    let Auth::Basic(key, secret) = c.auth.clone() else {
        unreachable!()
    };
    let mut config = Configuration::new();
    config.base_path = app.base.clone();
    config.basic_auth = Some((key, Some(secret)));

    let added = add_users_access_to_calls(&config, grant(CALL_3, &[NONE_A, NONE_B]))
        .await
        .expect("grant");
    assert_eq!(added.request_id.as_deref().map(str::len), Some(19));

    let list_once = list(&config).await;
    assert_eq!(list_once.len(), 2);
    assert_eq!(
        list_once[0].call_id.as_deref(),
        Some(CALL_3.to_string().as_str())
    );
    assert_eq!(
        users_of(&list_once[0]),
        vec![NONE_A.to_string(), NONE_B.to_string()]
    );
    assert_eq!(list_once[1].users.as_deref().map(<[_]>::len), Some(0));

    let revoke = CallsUsersAccessDeleteDto {
        call_access_list: Some(vec![item(CALL_3, &[NONE_A])]),
    };
    let params = DeleteUsersAccessToCallsParams {
        calls_users_access_delete_dto: revoke,
    };
    delete_users_access_to_calls(&config, params)
        .await
        .expect("revoke");
    assert_eq!(users_of(&list(&config).await[0]), vec![NONE_B.to_string()]);

    // Errors come back as Gong's ErrorResponse.
    config.basic_auth = Some(("WRONG".into(), Some("wrong-secret".into())));
    let mut refused = grant(CALL_3, &[]);
    refused.calls_users_access_add_dto.call_access_list = Some(vec![]);
    let err = add_users_access_to_calls(&config, refused)
        .await
        .unwrap_err();
    match err {
        gong_rs::apis::Error::ResponseError(content) => assert_eq!(content.status.as_u16(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
}
