//! Gong's shapes for the directory operations (directory.md §3): the
//! response bodies under Gong's schema names, built from domain types, and
//! the tables ([`shape`]) that check and document the request bodies.
//!
//! Every field of Gong's response schemas is optional; a field the service
//! has no data for is left out, while a stored value (`false`, `[]`) is
//! always returned.

use callaccess_domain::page::{Cursor, Page};
use callaccess_domain::{
    Call, CallId, CallsAccess, CompanyId, Profile, User, UserId, Workspace, WorkspaceId,
};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::shape::{self, Field, Object, Shape};

/// Gong `WorkspacesMetadata`: the body of listWorkspaces.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspacesMetadata {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    /// The company's workspaces, by id.
    pub workspaces: Vec<WorkspaceMetadata>,
}

/// Gong `WorkspaceMetadata`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct WorkspaceMetadata {
    #[schema(value_type = String, example = "623457276584334")]
    pub id: WorkspaceId,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

impl From<Workspace> for WorkspaceMetadata {
    fn from(w: Workspace) -> Self {
        Self {
            id: w.id,
            name: w.name,
            description: w.description,
        }
    }
}

/// Gong `Records`: where a page stands in its listing.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Records {
    /// Every record the listing selects, as counted for its first page.
    pub total_records: i32,
    /// Records in this page.
    pub current_page_size: i32,
    /// This page's number; the first page is 0.
    pub current_page_number: i32,
    /// Present only when more records follow: send it back, with the same
    /// other inputs, for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// Where one request stands in its listing: the company and query its
/// cursor must be bound to, and what the presented cursor said.
#[derive(Debug, Clone, Copy)]
pub struct Paging {
    pub company: CompanyId,
    pub query: [u8; 16],
    /// The presented cursor, `None` for the first page.
    pub cursor: Option<Cursor>,
}

impl Paging {
    /// `Records` of `page`, whose last record has id `last`.
    pub fn records<T>(&self, page: &Page<T>, last: Option<i64>) -> Records {
        let number = self.cursor.map_or(0, |c| c.page);
        let total = page
            .total
            .or(self.cursor.map(|c| c.total))
            .unwrap_or(page.items.len() as u64);
        let cursor = match (page.more, last) {
            (true, Some(after)) => Some(
                Cursor {
                    company: self.company,
                    query: self.query,
                    after,
                    page: number.saturating_add(1),
                    total,
                }
                .encode(),
            ),
            _ => None,
        };
        let int = |n: u64| i32::try_from(n).unwrap_or(i32::MAX);
        Records {
            total_records: int(total),
            current_page_size: int(page.items.len() as u64),
            current_page_number: int(u64::from(number)),
            cursor,
        }
    }
}

/// Gong `UsersMetadata`: the body of listUsers and listMultipleUsers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UsersMetadata {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    pub records: Records,
    /// By id.
    pub users: Vec<UserMetadata>,
}

/// Gong `UserMetadata`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserMetadata {
    #[schema(value_type = String, example = "234599484848423")]
    pub id: UserId,
    pub email_address: String,
    /// When the user was created.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, format = DateTime)]
    pub created: Option<String>,
    pub active: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub manager_id: Option<UserId>,
}

impl From<User> for UserMetadata {
    fn from(u: User) -> Self {
        Self {
            id: u.id,
            email_address: u.email_address,
            created: u.created.map(|t| t.to_string()),
            active: u.active,
            first_name: u.first_name,
            last_name: u.last_name,
            title: u.title,
            manager_id: u.manager_id,
        }
    }
}

/// Gong `User`: the body of getUser.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = User)]
#[serde(rename_all = "camelCase")]
pub struct UserResponse {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    pub user: UserMetadata,
}

/// Gong `UserSimpleMetadata`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserSimpleMetadata {
    #[schema(value_type = String, example = "234599484848423")]
    pub id: UserId,
    /// First and last name, when the user has either.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub full_name: Option<String>,
    pub email_address: String,
}

impl From<User> for UserSimpleMetadata {
    fn from(u: User) -> Self {
        Self {
            full_name: u.full_name(),
            id: u.id,
            email_address: u.email_address,
        }
    }
}

/// Gong `PermissionProfileUsersResponse`: the body of
/// listPermissionProfileUsers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionProfileUsersResponse {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    /// The users who hold the profile, by id.
    pub users: Vec<UserSimpleMetadata>,
}

/// Gong `CallBasicData`: a call's metadata.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallBasicData {
    #[schema(value_type = String, example = "7782342274025937895")]
    pub id: CallId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub scheduled: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(format = DateTime)]
    pub started: Option<String>,
    /// Seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[schema(value_type = String, example = "234599484848423")]
    pub primary_user_id: UserId,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>, example = "Outbound")]
    pub direction: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "External")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "Video")]
    pub media: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub workspace_id: Option<WorkspaceId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sdr_disposition: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_unique_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_data: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub meeting_url: Option<String>,
    /// Private calls are open to profile access only for their parties.
    pub is_private: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calendar_event_id: Option<String>,
}

impl From<&Call> for CallBasicData {
    fn from(c: &Call) -> Self {
        let d = c.details.clone();
        Self {
            id: c.id,
            url: d.url,
            title: c.title.clone(),
            scheduled: d.scheduled,
            started: c.started.map(|t| t.to_string()),
            duration: d.duration,
            primary_user_id: c.primary_user_id,
            direction: d.direction,
            system: d.system,
            scope: d.scope,
            media: d.media,
            language: d.language,
            workspace_id: c.workspace,
            sdr_disposition: d.sdr_disposition,
            client_unique_id: c.client_unique_id.clone(),
            custom_data: d.custom_data,
            purpose: d.purpose,
            meeting_url: d.meeting_url,
            is_private: c.is_private,
            calendar_event_id: d.calendar_event_id,
        }
    }
}

/// Gong `SpecificCall`: the body of getCall.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SpecificCall {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    pub call: CallBasicData,
}

/// Gong `CallsResponse`: the body of listCalls.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallsResponse {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    pub records: Records,
    /// By id.
    pub calls: Vec<CallBasicData>,
}

/// Gong `Party`: one party of a call.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Party {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email_address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Set when the party is a user of the company.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub user_id: Option<UserId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub affiliation: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone_number: Option<String>,
}

impl From<callaccess_domain::Party> for Party {
    fn from(p: callaccess_domain::Party) -> Self {
        Self {
            id: p.id,
            email_address: p.email_address,
            name: p.name,
            title: p.title,
            user_id: p.user_id,
            affiliation: p.affiliation,
            phone_number: p.phone_number,
        }
    }
}

/// Gong `CallData`: one call of listCallsExtensive.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CallData {
    pub meta_data: CallBasicData,
    /// Only when `contentSelector.exposedFields.parties` is true.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parties: Option<Vec<Party>>,
}

/// Gong `Calls`: the body of listCallsExtensive.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Calls {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    pub records: Records,
    /// By id.
    pub calls: Vec<CallData>,
}

/// Gong `NewCallAddingResponse`: the body of addCall.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct NewCallAddingResponse {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    /// The new call's id.
    #[schema(value_type = String, example = "7782342274025937895")]
    pub call_id: CallId,
}

/// Gong `PermissionProfilesResponse`: the body of listPermissionProfile.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionProfilesResponse {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    /// By name, case-insensitively, then by id.
    #[schema(value_type = Vec<PermissionProfileDto>)]
    pub profiles: Vec<Value>,
}

/// Gong `PermissionProfileResponse`: one profile, with its id.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionProfileResponse {
    #[schema(example = "4al018gzaztcr8nbukw")]
    pub request_id: String,
    #[schema(value_type = PermissionProfileDto)]
    pub profile: Value,
}

/// A profile as Gong's `PermissionProfileDTO`.
pub fn profile_dto(profile: &Profile) -> Value {
    profile.to_dto()
}

// --- request tables ---

const STRING: Shape = Shape::Str { max: None };

/// Gong's level names for the access objects other than `callsAccess`,
/// which only store them. Gong's enum also lists the five joined into one
/// string, a slip of its documentation rather than a level; it is refused.
const LEVELS: &[&str] = &CallsAccess::NAMES;

static LEVEL_FIELDS: [Field; 2] = [
    Field::optional(
        "permissionLevel",
        Shape::OneOf(LEVELS),
        "Permission access scope.",
    ),
    Field::optional(
        "teamLeadIds",
        Shape::Ids,
        "Users whose teams the managers-team level covers.",
    ),
];

macro_rules! level_object {
    ($name:ident, $gong:literal) => {
        static $name: Object = Object {
            name: Some($gong),
            fields: &LEVEL_FIELDS,
        };
    };
}
level_object!(DEALS_ACCESS, "DealsAccessWithPermissionLevel");
level_object!(COACHING_ACCESS, "CoachingAccessWithPermissionLevel");
level_object!(INSIGHTS_ACCESS, "InsightsAccessWithPermissionLevel");
level_object!(USAGE_ACCESS, "UsageAccessWithPermissionLevel");
level_object!(EMAILS_ACCESS, "EmailsAccessWithPermissionLevel");
level_object!(FORECAST_ACCESS, "ForecastAccess");
level_object!(FORECAST_EDIT_SUBMISSIONS, "ForecastEditSubmissions");
level_object!(FORECAST_EDIT_TARGETS, "ForecastEditTargets");

/// Gong `CallAccessWithPermissionLevel`: the part of a profile that decides
/// who opens calls.
pub static CALLS_ACCESS: Object = Object {
    name: Some("CallAccessWithPermissionLevel"),
    fields: &[
        Field::required(
            "permissionLevel",
            Shape::OneOf(LEVELS),
            "Which calls of the workspace the profile opens: all; managers-team (own, plus the teams of teamLeadIds, or of the user's manager); report-to-them (own, plus everyone who reports to the user); own (calls the user hosts or takes part in); none.",
        ),
        Field::optional(
            "teamLeadIds",
            Shape::Ids,
            "For managers-team: users of the company whose teams the profile opens.",
        ),
    ],
};

static LIBRARY_FOLDER_ACCESS: Object = Object {
    name: Some("LibraryFolderAccess"),
    fields: &[
        Field::optional(
            "permissionLevel",
            Shape::OneOf(&["none", "all", "specific-folders"]),
            "Library folder permission level.",
        ),
        Field::optional("libraryFolderIds", Shape::Strings, "Library folder ids."),
        Field::optional("managePublicFolder", Shape::Bool, "Stored as given."),
        Field::optional("manageStreams", Shape::Bool, "Stored as given."),
        Field::optional("manageFolderCalls", Shape::Bool, "Stored as given."),
        Field::optional("shareFoldersAndStreams", Shape::Bool, "Stored as given."),
    ],
};

static FORECAST_PERMISSIONS: Object = Object {
    name: Some("ForecastPermissions"),
    fields: &[
        Field::optional(
            "forecastAccess",
            Shape::Object(&FORECAST_ACCESS),
            "Stored as given.",
        ),
        Field::optional(
            "forecastEditSubmissions",
            Shape::Object(&FORECAST_EDIT_SUBMISSIONS),
            "Stored as given.",
        ),
        Field::optional(
            "forecastEditTargets",
            Shape::Object(&FORECAST_EDIT_TARGETS),
            "Stored as given.",
        ),
    ],
};

/// A profile's fields: `$head`, then the flags, each a boolean stored as given.
macro_rules! profile_fields {
    ($($head:expr),* ; $($flag:literal),* $(,)?) => {
        &[$($head,)* $(Field::optional($flag, Shape::Bool, "Stored and returned as given."),)*]
    };
}

/// Gong `PermissionProfileDTO`: every field is stored and returned as
/// given; only `callsAccess` decides who opens calls.
pub static PERMISSION_PROFILE: Object = Object {
    name: Some("PermissionProfileDTO"),
    fields: profile_fields![
        Field::optional(
            "id",
            Shape::Ignored("string"),
            "The profile's id; set by the service, ignored in a request body.",
        ),
        Field::optional("name", STRING, "The profile's name; must not be blank."),
        Field::optional("description", STRING, "Stored as given."),
        Field::optional(
            "callsAccess",
            Shape::Object(&CALLS_ACCESS),
            "Which calls the profile opens.",
        ),
        Field::optional(
            "libraryFolderAccess",
            Shape::Object(&LIBRARY_FOLDER_ACCESS),
            "Stored as given.",
        ),
        Field::optional("dealsAccess", Shape::Object(&DEALS_ACCESS), "Stored as given."),
        Field::optional(
            "forecastPermissions",
            Shape::Object(&FORECAST_PERMISSIONS),
            "Stored as given.",
        ),
        Field::optional("coachingAccess", Shape::Object(&COACHING_ACCESS), "Stored as given."),
        Field::optional("insightsAccess", Shape::Object(&INSIGHTS_ACCESS), "Stored as given."),
        Field::optional("usageAccess", Shape::Object(&USAGE_ACCESS), "Stored as given."),
        Field::optional("emailsAccess", Shape::Object(&EMAILS_ACCESS), "Stored as given.");
        "scoreCalls",
        "downloadCallMedia",
        "shareCallsWithCustomers",
        "manuallyScheduleAndUploadCalls",
        "privateCalls",
        "deleteCalls",
        "trimCalls",
        "listenInCalls",
        "deleteEmails",
        "callsAndSearch",
        "library",
        "deals",
        "createEditAndDeleteDealsBoards",
        "dealsInlineEditing",
        "account",
        "coaching",
        "usage",
        "teamStats",
        "initiatives",
        "market",
        "activity",
        "forecast",
        "forecastManage",
        "engageManageCompanyTemplates",
        "engageManageCompanySequences",
        "engageSnoozeFlowToDosForOthers",
        "manageGeneralBusinessSettings",
        "manageScorecards",
        "exportCallsAndCoachingDataToCSV",
        "crmDataInlineEditing",
        "crmDataImport",
        "viewRevenueAnalytics",
        "manageRevenueAnalytics",
    ],
};

shape::documented!(PermissionProfileDto, &PERMISSION_PROFILE);

static CALL_PARTICIPANT: Object = Object {
    name: Some("CallParticipant"),
    fields: &[
        Field::optional("phoneNumber", STRING, "The party's phone number."),
        Field::optional("emailAddress", STRING, "The party's email address."),
        Field::optional("name", STRING, "The party's name."),
        Field::optional("partyId", STRING, "The party's id within the call."),
        Field::optional(
            "mediaChannelId",
            Shape::Int { min: 0, max: 1 },
            "Accepted, not kept.",
        ),
        Field::optional("context", Shape::Ignored("array"), "Accepted, not kept."),
        Field::optional(
            "userId",
            Shape::Id,
            "The party's user id, when the party is a user of the company.",
        ),
    ],
};

/// Gong `NewCallAddingRequest`: the body of addCall.
pub static NEW_CALL: Object = Object {
    name: Some("NewCallAddingRequest"),
    fields: &[
        Field::required(
            "clientUniqueId",
            Shape::Str { max: Some(2048) },
            "The call's id in the system it comes from; unique within the company.",
        ),
        Field::optional("title", STRING, "The call's title."),
        Field::optional(
            "purpose",
            Shape::Str { max: Some(255) },
            "The call's purpose.",
        ),
        Field::optional(
            "scheduledStart",
            Shape::DateTime,
            "When the call was scheduled to start.",
        ),
        Field::optional("scheduledEnd", Shape::DateTime, "Accepted, not kept."),
        Field::required(
            "actualStart",
            Shape::DateTime,
            "When the call started: its `started`.",
        ),
        Field::optional("duration", Shape::Number, "Seconds."),
        Field::required(
            "parties",
            Shape::Array {
                item: &Shape::Object(&CALL_PARTICIPANT),
                min: 1,
            },
            "The call's parties; one of them must be the primary user.",
        ),
        Field::required(
            "direction",
            Shape::OneOf(DIRECTIONS),
            "The call's direction.",
        ),
        Field::optional(
            "disposition",
            Shape::Str { max: Some(255) },
            "The call's disposition: its `sdrDisposition`.",
        ),
        Field::optional("context", Shape::Ignored("array"), "Accepted, not kept."),
        Field::optional("customData", STRING, "Stored and returned as given."),
        Field::optional(
            "speakersTimeline",
            Shape::Ignored("object"),
            "Accepted, not kept.",
        ),
        Field::optional("meetingUrl", STRING, "The meeting's URL."),
        Field::optional(
            "callProviderCode",
            STRING,
            "The system the call was made with: its `system`.",
        ),
        Field::optional("downloadMediaUrl", STRING, "Accepted, not kept."),
        Field::optional(
            "workspaceId",
            Shape::Id,
            "The workspace of the call; the company's default workspace if not given.",
        ),
        Field::optional(
            "languageCode",
            STRING,
            "The call's language: its `language`.",
        ),
        Field::required(
            "primaryUser",
            Shape::Id,
            "The user who hosted the call, a user of the company.",
        ),
    ],
};

shape::documented!(NewCallAddingRequest, &NEW_CALL);

/// Gong's call directions, the values of `direction`.
pub const DIRECTIONS: &[&str] = callaccess_domain::model::CALL_DIRECTIONS;

static USERS_FILTER: Object = Object {
    name: Some("MultipleUsersRequestWithCreationDates"),
    fields: &[
        Field::optional(
            "createdFromDateTime",
            Shape::DateTime,
            "Only users created at or after this time.",
        ),
        Field::optional(
            "createdToDateTime",
            Shape::DateTime,
            "Only users created before this time.",
        ),
        Field::optional(
            "includeAvatars",
            Shape::Bool,
            "Accepted; this service has no avatars.",
        ),
        Field::optional(
            "userIds",
            Shape::Ids,
            "Only these users; ids the company does not have match nothing.",
        ),
    ],
};

/// Gong `PublicApiBaseRequestV2MultipleUsersRequestWithCreationDates`: the
/// body of listMultipleUsers.
pub static USERS_REQUEST: Object = Object {
    name: Some("PublicApiBaseRequestV2MultipleUsersRequestWithCreationDates"),
    fields: &[
        Field::optional(
            "cursor",
            STRING,
            "The previous page's cursor, to get the next page.",
        ),
        Field::required("filter", Shape::Object(&USERS_FILTER), "Which users."),
    ],
};

shape::documented!(UsersRequest, &USERS_REQUEST);

static CALLS_FILTER: Object = Object {
    name: Some("CallsRequestFilterWithOwners"),
    fields: &[
        Field::optional(
            "fromDateTime",
            Shape::DateTime,
            "Only calls that started at or after this time.",
        ),
        Field::optional(
            "toDateTime",
            Shape::DateTime,
            "Only calls that started before this time.",
        ),
        Field::optional(
            "workspaceId",
            Shape::Id,
            "Only calls of this workspace, one of the company's.",
        ),
        Field::optional(
            "callIds",
            Shape::Ids,
            "Only these calls; ids the company does not have match nothing.",
        ),
        Field::optional(
            "primaryUserIds",
            Shape::Ids,
            "Only calls hosted by these users.",
        ),
    ],
};

static EXPOSED_FIELDS: Object = Object {
    name: Some("ExposedFields"),
    fields: &[
        Field::optional(
            "parties",
            Shape::Bool,
            "If true, each call comes with its parties.",
        ),
        Field::optional(
            "content",
            Shape::Ignored("object"),
            "Accepted; nothing to add.",
        ),
        Field::optional(
            "interaction",
            Shape::Ignored("object"),
            "Accepted; nothing to add.",
        ),
        Field::optional(
            "collaboration",
            Shape::Ignored("object"),
            "Accepted; nothing to add.",
        ),
        Field::optional("media", Shape::Bool, "Accepted; nothing to add."),
    ],
};

static CONTENT_SELECTOR: Object = Object {
    name: Some("ContentSelector"),
    fields: &[
        Field::optional(
            "context",
            Shape::OneOf(&["None", "Basic", "Extended"]),
            "Accepted; nothing to add.",
        ),
        Field::optional(
            "contextTiming",
            Shape::Array {
                item: &Shape::OneOf(&["Now", "TimeOfCall"]),
                min: 0,
            },
            "Accepted; nothing to add.",
        ),
        Field::optional(
            "exposedFields",
            Shape::Object(&EXPOSED_FIELDS),
            "Which parts of each call to add.",
        ),
    ],
};

/// Gong `PublicApiBaseRequestWithDataV2CallsRequestFilterWithOwnersContentSelector`:
/// the body of listCallsExtensive.
pub static CALLS_REQUEST: Object = Object {
    name: Some("PublicApiBaseRequestWithDataV2CallsRequestFilterWithOwnersContentSelector"),
    fields: &[
        Field::optional(
            "cursor",
            STRING,
            "The previous page's cursor, to get the next page.",
        ),
        Field::required("filter", Shape::Object(&CALLS_FILTER), "Which calls."),
        Field::optional(
            "contentSelector",
            Shape::Object(&CONTENT_SELECTOR),
            "What to return of each call.",
        ),
    ],
};

shape::documented!(CallsRequest, &CALLS_REQUEST);

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use callaccess_domain::page::query_digest;

    #[test]
    fn the_profile_document_lists_the_fields_the_domain_keeps() {
        // The seed parser and this document both take their profile fields
        // from the domain's lists; this keeps the document from drifting.
        let mut documented: Vec<&str> = PERMISSION_PROFILE.fields.iter().map(|f| f.name).collect();
        documented.sort_unstable();
        let mut kept = vec!["id", "name", "description", "callsAccess"];
        kept.extend_from_slice(callaccess_domain::model::PROFILE_OBJECT_FIELDS);
        kept.extend_from_slice(callaccess_domain::model::PROFILE_BOOLEAN_FIELDS);
        kept.sort_unstable();
        assert_eq!(documented, kept);
    }

    fn page(items: usize, more: bool, total: Option<u64>) -> Page<()> {
        Page {
            items: vec![(); items],
            more,
            total,
        }
    }

    #[test]
    fn records_hand_out_a_cursor_only_while_more_follow() {
        let company = CompanyId::from_i64(3).unwrap();
        let query = query_digest("listUsers", &[]);
        let first = Paging {
            company,
            query,
            cursor: None,
        };
        let records = first.records(&page(100, true, Some(250)), Some(77));
        assert_eq!(
            (
                records.total_records,
                records.current_page_size,
                records.current_page_number
            ),
            (250, 100, 0)
        );
        let cursor = Cursor::decode(records.cursor.as_deref().unwrap(), company, query).unwrap();
        assert_eq!((cursor.after, cursor.page, cursor.total), (77, 1, 250));

        // The next page counts nothing: its total comes from the cursor.
        let second = Paging {
            cursor: Some(cursor),
            ..first
        };
        let records = second.records(&page(50, false, None), Some(99));
        assert_eq!(
            (
                records.total_records,
                records.current_page_size,
                records.current_page_number
            ),
            (250, 50, 1)
        );
        assert_eq!(records.cursor, None);
        let body = serde_json::to_value(&records).unwrap();
        assert!(body.get("cursor").is_none(), "left out, not null: {body}");
    }
}
