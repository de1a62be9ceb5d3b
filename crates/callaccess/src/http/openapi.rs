//! The OpenAPI 3 document of the `/v2` operations, generated from the handler
//! annotations and the DTO types with utoipa, under Gong's schema and
//! operation names so that clients generated from either document agree.

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use super::dto::{
    BaseResponse, CallAccessDetails, CallsAccessDetailsResponse, ErrorResponse, UserAccessDetails,
};
use super::{directory, gong};

/// Gong `CallUsersAccessDto`: one call and the users to grant or revoke.
#[derive(ToSchema, serde::Deserialize)]
#[allow(
    dead_code,
    reason = "describes the wire shape; requests are read field by field in dto.rs"
)]
#[serde(rename_all = "camelCase")]
pub struct CallUsersAccessDto {
    /// Gong's numeric call id, as a string of 1-20 digits.
    #[schema(pattern = "^[0-9]{1,20}$", example = "7782342274025937895")]
    call_id: String,
    /// Gong's numeric user ids, as strings of 1-20 digits.
    #[schema(inline = false)]
    user_ids: Vec<NumericId>,
}

/// A Gong numeric id: 1-20 decimal digits, 1 to 9223372036854775807.
#[derive(ToSchema, serde::Deserialize)]
#[schema(value_type = String, pattern = "^[0-9]{1,20}$", example = "234599484848423")]
#[allow(dead_code, reason = "schema only")]
pub struct NumericId(String);

/// Gong `CallsUsersAccessAddDto`: the body of PUT.
#[derive(ToSchema, serde::Deserialize)]
#[allow(dead_code, reason = "schema only")]
#[serde(rename_all = "camelCase")]
pub struct CallsUsersAccessAddDto {
    /// Calls and the users to give access to; missing or empty: nothing to do.
    call_access_list: Option<Vec<CallUsersAccessDto>>,
}

/// Gong `CallsUsersAccessDeleteDto`: the body of DELETE.
#[derive(ToSchema, serde::Deserialize)]
#[allow(dead_code, reason = "schema only")]
#[serde(rename_all = "camelCase")]
pub struct CallsUsersAccessDeleteDto {
    /// Calls and the users whose API access to remove.
    call_access_list: Option<Vec<CallUsersAccessDto>>,
}

/// Gong `CallsAccessGetDto`.
#[derive(ToSchema, serde::Deserialize)]
#[allow(dead_code, reason = "schema only")]
#[serde(rename_all = "camelCase")]
pub struct CallsAccessGetDto {
    /// The calls to list API grants for.
    call_ids: Vec<NumericId>,
}

/// Gong `FilterRequestCallsAccessGetDto`: the body of POST.
#[derive(ToSchema, serde::Deserialize)]
#[allow(dead_code, reason = "schema only")]
pub struct FilterRequestCallsAccessGetDto {
    filter: CallsAccessGetDto,
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basicAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Basic)),
        );
        components.add_security_scheme(
            "bearerAuth",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "callaccess",
        description = "Gong-compatible call user-access API: grant, list and revoke individual users' access to calls; and the workspaces, users, calls and permission profiles a program finds first. Basic keys created without scopes may use every operation; a Bearer token needs each operation's scope. Gong's document names no scope for the permission profile operations: api:permission-profile:read and api:permission-profile:write are this service's."
    ),
    paths(
        super::add_users_access,
        super::get_users_access,
        super::delete_users_access,
        directory::list_workspaces,
        directory::list_users,
        directory::get_user,
        directory::list_multiple_users,
        directory::add_call,
        directory::list_calls,
        directory::get_call,
        directory::list_calls_extensive,
        directory::list_permission_profile,
        directory::get_permission_profile,
        directory::create_permission_profile,
        directory::update_permission_profile,
        directory::list_permission_profile_users,
    ),
    components(schemas(
        CallsUsersAccessAddDto,
        CallsUsersAccessDeleteDto,
        CallUsersAccessDto,
        FilterRequestCallsAccessGetDto,
        CallsAccessGetDto,
        CallsAccessDetailsResponse,
        CallAccessDetails,
        UserAccessDetails,
        BaseResponse,
        ErrorResponse,
        NumericId,
        gong::WorkspacesMetadata,
        gong::WorkspaceMetadata,
        gong::Records,
        gong::UsersMetadata,
        gong::UserMetadata,
        gong::UserResponse,
        gong::UserSimpleMetadata,
        gong::PermissionProfileUsersResponse,
        gong::CallBasicData,
        gong::SpecificCall,
        gong::CallsResponse,
        gong::Party,
        gong::CallData,
        gong::Calls,
        gong::NewCallAddingResponse,
        gong::NewCallAddingRequest,
        gong::PermissionProfilesResponse,
        gong::PermissionProfileResponse,
        gong::PermissionProfileDto,
        gong::UsersRequest,
        gong::CallsRequest,
    )),
    modifiers(&SecuritySchemes),
    tags(
        (name = "Permissions", description = "Users' access to calls, and permission profiles"),
        (name = "Settings", description = "Workspaces"),
        (name = "Users", description = "The company's users"),
        (name = "Calls", description = "The company's calls"),
    )
)]
pub struct ApiDoc;

/// The document served at `/openapi.json`.
pub fn document() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}
