//! A client generated from Gong's published OpenAPI spec (the `gong-rs`
//! crate) grants, lists and revokes against the server unchanged.

use gong_rs::apis::configuration::Configuration;
use gong_rs::apis::permissions_api::{
    add_users_access_to_calls, delete_users_access_to_calls, get_users_access_to_calls,
    AddUsersAccessToCallsParams, DeleteUsersAccessToCallsParams, GetUsersAccessToCallsParams,
};
use gong_rs::models::{
    CallUsersAccessDto, CallsAccessGetDto, CallsUsersAccessAddDto, CallsUsersAccessDeleteDto,
    FilterRequestCallsAccessGetDto,
};

use crate::helpers::ids::*;
use crate::helpers::{Auth, TestApp};

#[tokio::test]
async fn the_gong_rs_client_works_unchanged() {
    let app = TestApp::spawn().await;
    let c = app.company(1).await;
    let Auth::Basic(key, secret) = c.auth.clone() else {
        unreachable!()
    };
    let mut config = Configuration::new();
    config.base_path = app.base.clone();
    config.basic_auth = Some((key, Some(secret)));

    let item = CallUsersAccessDto::new(
        CALL_3.to_string(),
        vec![NONE_A.to_string(), NONE_B.to_string()],
    );
    let added = add_users_access_to_calls(
        &config,
        AddUsersAccessToCallsParams {
            calls_users_access_add_dto: CallsUsersAccessAddDto {
                call_access_list: Some(vec![item]),
            },
        },
    )
    .await
    .expect("grant");
    assert_eq!(added.request_id.as_deref().map(str::len), Some(19));

    let filter = FilterRequestCallsAccessGetDto::new(CallsAccessGetDto::new(vec![
        CALL_3.to_string(),
        CALL_2.to_string(),
    ]));
    let listed = get_users_access_to_calls(
        &config,
        GetUsersAccessToCallsParams {
            filter_request_calls_access_get_dto: filter.clone(),
        },
    )
    .await
    .expect("list");
    let list = listed.call_access_list.expect("callAccessList");
    assert_eq!(list.len(), 2);
    assert_eq!(
        list[0].call_id.as_deref(),
        Some(CALL_3.to_string().as_str())
    );
    let users: Vec<_> = list[0]
        .users
        .clone()
        .unwrap()
        .into_iter()
        .filter_map(|u| u.user_id)
        .collect();
    assert_eq!(users, vec![NONE_A.to_string(), NONE_B.to_string()]);
    assert_eq!(list[1].users.as_deref().map(<[_]>::len), Some(0));

    let item = CallUsersAccessDto::new(CALL_3.to_string(), vec![NONE_A.to_string()]);
    delete_users_access_to_calls(
        &config,
        DeleteUsersAccessToCallsParams {
            calls_users_access_delete_dto: CallsUsersAccessDeleteDto {
                call_access_list: Some(vec![item]),
            },
        },
    )
    .await
    .expect("revoke");
    let listed = get_users_access_to_calls(
        &config,
        GetUsersAccessToCallsParams {
            filter_request_calls_access_get_dto: filter,
        },
    )
    .await
    .expect("list again");
    let users: Vec<_> = listed.call_access_list.unwrap()[0]
        .users
        .clone()
        .unwrap()
        .into_iter()
        .filter_map(|u| u.user_id)
        .collect();
    assert_eq!(users, vec![NONE_B.to_string()]);

    // Errors come back as Gong's ErrorResponse.
    config.basic_auth = Some(("WRONG".into(), Some("wrong-secret".into())));
    let err = add_users_access_to_calls(
        &config,
        AddUsersAccessToCallsParams {
            calls_users_access_add_dto: CallsUsersAccessAddDto {
                call_access_list: Some(vec![]),
            },
        },
    )
    .await
    .unwrap_err();
    match err {
        gong_rs::apis::Error::ResponseError(content) => assert_eq!(content.status.as_u16(), 401),
        other => panic!("expected a 401, got {other:?}"),
    }
}
