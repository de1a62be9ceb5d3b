//! Gong's directory operations (directory.md §3): workspaces, users, calls
//! and permission profiles, each an [`auth::Operation`] with its scope,
//! run through [`auth::perform`] like the users-access operations.
//!
//! A handler reads its inputs (query string, path, body) into the
//! operation or the 400 that says what is wrong, lets `perform` check the
//! scope and run it, and shapes the answer with [`super::gong`]. Listings
//! page by id ([`callaccess_domain::page`]): the cursor a page hands out
//! names the company and a digest of the listing's other inputs, so it is
//! refused on any other query.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use callaccess_domain::page::{
    query_digest, CallFilter, Cursor, Page, PageAfter, UserFilter, PAGE_SIZE,
};
use callaccess_domain::{
    Call, CallDetails, CallId, Caller, CallsAccess, CallsRule, Origin, Party, Profile, ProfileId,
    Store, StoreError, Timestamp, User, UserId, Workspace, WorkspaceId,
};
use serde_json::{Map, Value};

use super::auth::{self, Principal, StoreFuture};
use super::body::JsonBody;
use super::error::ApiError;
use super::gong;
use super::query::{Problems, QueryParams};
use super::shape::{self, Checker};
use super::{json_response, AppState, CommonErrors, Context, ReadErrors};

/// The scopes of the directory operations. Gong's document names none for
/// the permission profile operations; those two are this project's.
pub mod scopes {
    pub const WORKSPACES_READ: &str = "api:workspaces:read";
    pub const USERS_READ: &str = "api:users:read";
    pub const CALLS_CREATE: &str = "api:calls:create";
    pub const CALLS_READ_BASIC: &str = "api:calls:read:basic";
    pub const CALLS_READ_EXTENSIVE: &str = "api:calls:read:extensive";
    pub const PROFILES_READ: &str = "api:permission-profile:read";
    pub const PROFILES_WRITE: &str = "api:permission-profile:write";
}

/// Gong's answer when a call listing selects nothing; clients rely on it.
pub const NO_CALLS: &str = "No calls found corresponding to the provided filters";
/// Gong's answer when a user listing selects nothing.
pub const NO_USERS: &str = "No users found corresponding to the provided filters";

/// A fresh id drawn for a new record can, very rarely, be taken already;
/// the record is then tried again under another, this many times in all.
const FRESH_ID_ATTEMPTS: usize = 3;

fn request_id(context: &super::request_id::RequestContext) -> String {
    context.id.to_string()
}

/// A store answer with the parameter a client used to name the thing it
/// is about, so the message says which input was wrong.
fn naming(error: StoreError, workspace_field: &str) -> ApiError {
    match error {
        e @ StoreError::NoWorkspace { .. } => {
            ApiError::bad_request(format!("{workspace_field}: {e}"))
        }
        // The profile checks' own refusals (a blank name, say).
        StoreError::Invalid(message) => ApiError::bad_request(message),
        other => other.into(),
    }
}

// --- paging ---

/// The first page, or the one the presented cursor leads to; the cursor
/// must be this company's, for this operation and these other inputs.
fn paging(
    principal: &Principal,
    operation: &str,
    inputs: &[&str],
    cursor: Option<&str>,
) -> Result<(gong::Paging, PageAfter), String> {
    let query = query_digest(operation, inputs);
    let cursor = match cursor.map(str::trim) {
        None | Some("") => None,
        Some(text) => Some(Cursor::decode(text, principal.company, query).map_err(str::to_owned)?),
    };
    let after = match cursor {
        None => PageAfter::first(),
        Some(c) => PageAfter {
            after: Some(c.after),
            limit: PAGE_SIZE,
            count: false,
        },
    };
    Ok((
        gong::Paging {
            company: principal.company,
            query,
            cursor,
        },
        after,
    ))
}

/// Ids as a listing's digest reads them: sorted, each once.
fn id_input<T: Ord + Copy + std::fmt::Display>(ids: &Option<Vec<T>>) -> String {
    match ids {
        None => "-".to_owned(),
        Some(ids) => {
            let mut ids = ids.clone();
            ids.sort_unstable();
            ids.dedup();
            ids.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(",")
        }
    }
}

fn time_input(t: Option<Timestamp>) -> String {
    t.map_or_else(|| "-".to_owned(), |t| t.unix().to_string())
}

// --- operations ---

struct ListWorkspaces;

impl auth::Operation for ListWorkspaces {
    type Output = Vec<Workspace>;
    const SCOPE: &'static str = scopes::WORKSPACES_READ;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.workspaces(caller)
    }
}

struct ListUsers {
    filter: UserFilter,
    page: PageAfter,
}

impl auth::Operation for ListUsers {
    type Output = Page<User>;
    const SCOPE: &'static str = scopes::USERS_READ;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.list_users(caller, &self.filter, self.page)
    }
}

struct GetUser(UserId);

impl auth::Operation for GetUser {
    type Output = Option<User>;
    const SCOPE: &'static str = scopes::USERS_READ;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.user(caller, self.0)
    }
}

/// listCalls (`EXTENSIVE = false`) and listCallsExtensive: the same
/// listing under two scopes.
struct ListCalls<const EXTENSIVE: bool> {
    filter: CallFilter,
    page: PageAfter,
}

impl<const EXTENSIVE: bool> auth::Operation for ListCalls<EXTENSIVE> {
    type Output = Page<Call>;
    const SCOPE: &'static str = if EXTENSIVE {
        scopes::CALLS_READ_EXTENSIVE
    } else {
        scopes::CALLS_READ_BASIC
    };
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.list_calls(caller, &self.filter, self.page)
    }
    fn refine(&self, error: StoreError) -> ApiError {
        naming(
            error,
            if EXTENSIVE {
                "filter.workspaceId"
            } else {
                "workspaceId"
            },
        )
    }
}

struct GetCall(CallId);

impl auth::Operation for GetCall {
    type Output = Option<Call>;
    const SCOPE: &'static str = scopes::CALLS_READ_BASIC;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.call(caller, self.0)
    }
}

struct AddCall(Call);

impl auth::Operation for AddCall {
    type Output = Call;
    const SCOPE: &'static str = scopes::CALLS_CREATE;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        Box::pin(async move {
            let mut call = self.0.clone();
            let mut attempt = 1;
            loop {
                match store.create_call(origin, caller, &call).await {
                    Err(StoreError::CallExists { .. }) if attempt < FRESH_ID_ATTEMPTS => {
                        call.id = CallId::random();
                        attempt += 1;
                    }
                    result => return result,
                }
            }
        })
    }
    fn refine(&self, error: StoreError) -> ApiError {
        naming(error, "workspaceId")
    }
}

struct ListProfiles(WorkspaceId);

impl auth::Operation for ListProfiles {
    type Output = Vec<Profile>;
    const SCOPE: &'static str = scopes::PROFILES_READ;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.profiles(caller, self.0)
    }
    fn refine(&self, error: StoreError) -> ApiError {
        naming(error, "workspaceId")
    }
}

struct GetProfile(ProfileId);

impl auth::Operation for GetProfile {
    type Output = Profile;
    const SCOPE: &'static str = scopes::PROFILES_READ;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.profile(caller, self.0)
    }
    fn refine(&self, error: StoreError) -> ApiError {
        naming(error, "workspaceId")
    }
}

struct CreateProfile(Profile);

impl auth::Operation for CreateProfile {
    type Output = Profile;
    const SCOPE: &'static str = scopes::PROFILES_WRITE;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        Box::pin(async move {
            let mut profile = self.0.clone();
            let mut attempt = 1;
            loop {
                match store.create_profile(origin, caller, &profile).await {
                    Err(StoreError::ProfileExists(_)) if attempt < FRESH_ID_ATTEMPTS => {
                        profile.id = ProfileId::random();
                        attempt += 1;
                    }
                    result => return result,
                }
            }
        })
    }
    fn refine(&self, error: StoreError) -> ApiError {
        naming(error, "workspaceId")
    }
}

/// updatePermissionProfile: the profile named in the query, with the
/// body's fields; it stays in its workspace.
struct UpdateProfile(ProfileId, ProfileDraft);

impl auth::Operation for UpdateProfile {
    type Output = Profile;
    const SCOPE: &'static str = scopes::PROFILES_WRITE;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        Box::pin(async move {
            // A profile never moves, so its workspace read first is the
            // one it has when it is replaced.
            let stored = store.profile(caller, self.0).await?;
            let profile = self.1.clone().into_profile(stored.workspace, self.0);
            store.update_profile(origin, caller, &profile).await
        })
    }
    fn refine(&self, error: StoreError) -> ApiError {
        naming(error, "workspaceId")
    }
}

struct ProfileUsers(ProfileId);

impl auth::Operation for ProfileUsers {
    type Output = Vec<User>;
    const SCOPE: &'static str = scopes::USERS_READ;
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        _origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output> {
        store.profile_users(caller, self.0)
    }
    fn refine(&self, error: StoreError) -> ApiError {
        naming(error, "workspaceId")
    }
}

// --- reading requests ---

/// A path's `{id}`, or the 400 that says why it is not one.
fn path_id<T>(
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
    parse: fn(&str) -> Result<T, callaccess_domain::IdError>,
) -> Result<T, ApiError> {
    let Path(text) = path.map_err(|_| ApiError::bad_request("id: is not a valid path segment"))?;
    parse(&text).map_err(|e| ApiError::bad_request(format!("id: {e}")))
}

/// The ids of a checked `Ids` field, if given.
fn ids_of<T>(map: &Map<String, Value>, key: &str, from: fn(i64) -> Option<T>) -> Option<Vec<T>> {
    map.get(key).and_then(Value::as_array).map(|ids| {
        ids.iter()
            .filter_map(Value::as_str)
            .filter_map(|s| s.parse::<i64>().ok())
            .filter_map(from)
            .collect()
    })
}

fn string_of(map: &Map<String, Value>, key: &str) -> Option<String> {
    map.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// A checked `DateTime` field as a filter bound.
fn bound_of(map: &Map<String, Value>, key: &str) -> Option<Timestamp> {
    map.get(key)
        .and_then(Value::as_str)
        .and_then(shape::date_time)
}

fn id_of<T>(
    map: &Map<String, Value>,
    key: &str,
    parse: fn(&str) -> Result<T, callaccess_domain::IdError>,
) -> Option<T> {
    map.get(key)
        .and_then(Value::as_str)
        .and_then(|s| parse(s).ok())
}

fn object_of<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m Map<String, Value>> {
    map.get(key).and_then(Value::as_object)
}

fn list_users_request(
    principal: &Principal,
    query: &QueryParams,
) -> Result<(ListUsers, gong::Paging), ApiError> {
    let mut problems = Problems::default();
    let cursor = problems.take(query.get("cursor"));
    // Checked, then ignored: this service has no avatars.
    problems.take(query.boolean("includeAvatars"));
    problems.finish()?;
    let (paging, page) =
        paging(principal, "listUsers", &[], cursor.flatten()).map_err(ApiError::bad_request)?;
    let filter = UserFilter::default();
    Ok((ListUsers { filter, page }, paging))
}

/// listMultipleUsers' body as its filter and page.
fn multiple_users_request(
    principal: &Principal,
    body: &Value,
    max_ids: usize,
) -> Result<(ListUsers, gong::Paging), ApiError> {
    let clean = Checker::new(max_ids).body(body, &gong::USERS_REQUEST)?;
    let empty = Map::new();
    let filter = object_of(&clean, "filter").unwrap_or(&empty);
    let filter = UserFilter {
        ids: ids_of(filter, "userIds", UserId::from_i64),
        created_from: bound_of(filter, "createdFromDateTime"),
        created_to: bound_of(filter, "createdToDateTime"),
    };
    let inputs = [
        id_input(&filter.ids),
        time_input(filter.created_from),
        time_input(filter.created_to),
    ];
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let cursor = clean.get("cursor").and_then(Value::as_str);
    let (paging, page) =
        paging(principal, "listMultipleUsers", &inputs, cursor).map_err(ApiError::bad_request)?;
    Ok((ListUsers { filter, page }, paging))
}

fn call_inputs(filter: &CallFilter) -> Vec<String> {
    vec![
        id_input(&filter.ids),
        id_input(&filter.primary_users),
        time_input(filter.from),
        time_input(filter.to),
        filter
            .workspace
            .map_or_else(|| "-".to_owned(), |w| w.to_string()),
    ]
}

fn list_calls_request(
    principal: &Principal,
    query: &QueryParams,
) -> Result<(ListCalls<false>, gong::Paging), ApiError> {
    let mut problems = Problems::default();
    let cursor = problems.take(query.get("cursor"));
    let from = problems.take(query.date("fromDateTime"));
    let to = problems.take(query.date("toDateTime"));
    let workspace = problems.take(query.id("workspaceId", WorkspaceId::parse));
    problems.finish()?;
    let filter = CallFilter {
        from: from.flatten(),
        to: to.flatten(),
        workspace: workspace.flatten(),
        ..CallFilter::default()
    };
    let inputs = call_inputs(&filter);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let (paging, page) =
        paging(principal, "listCalls", &inputs, cursor.flatten()).map_err(ApiError::bad_request)?;
    Ok((ListCalls { filter, page }, paging))
}

/// listCallsExtensive's body: the listing, its page, and whether parties
/// were asked for.
fn calls_extensive_request(
    principal: &Principal,
    body: &Value,
    max_ids: usize,
) -> Result<(ListCalls<true>, gong::Paging, bool), ApiError> {
    let clean = Checker::new(max_ids).body(body, &gong::CALLS_REQUEST)?;
    let empty = Map::new();
    let filter = object_of(&clean, "filter").unwrap_or(&empty);
    let parties = object_of(&clean, "contentSelector")
        .and_then(|s| object_of(s, "exposedFields"))
        .and_then(|f| f.get("parties"))
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let filter = CallFilter {
        ids: ids_of(filter, "callIds", CallId::from_i64),
        primary_users: ids_of(filter, "primaryUserIds", UserId::from_i64),
        from: bound_of(filter, "fromDateTime"),
        to: bound_of(filter, "toDateTime"),
        workspace: id_of(filter, "workspaceId", WorkspaceId::parse),
    };
    let inputs = call_inputs(&filter);
    let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
    let cursor = clean.get("cursor").and_then(Value::as_str);
    let (paging, page) =
        paging(principal, "listCallsExtensive", &inputs, cursor).map_err(ApiError::bad_request)?;
    Ok((ListCalls { filter, page }, paging, parties))
}

/// addCall's body as the call to create, under a fresh id.
fn new_call(principal: &Principal, body: &Value, max_ids: usize) -> Result<Call, ApiError> {
    let clean = Checker::new(max_ids).body(body, &gong::NEW_CALL)?;
    // Required and checked, so present.
    let primary = id_of(&clean, "primaryUser", UserId::parse)
        .ok_or_else(|| ApiError::bad_request("primaryUser: must not be null"))?;
    let started = clean
        .get("actualStart")
        .and_then(Value::as_str)
        .and_then(shape::instant);
    let mut parties = Vec::new();
    let mut participants: Vec<UserId> = Vec::new();
    for party in clean
        .get("parties")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(party) = party.as_object() else {
            continue;
        };
        let user = id_of(party, "userId", UserId::parse);
        if let Some(user) = user {
            if user != primary && !participants.contains(&user) {
                participants.push(user);
            }
        }
        parties.push(Party {
            id: string_of(party, "partyId"),
            email_address: string_of(party, "emailAddress"),
            name: string_of(party, "name"),
            title: None,
            user_id: user,
            phone_number: string_of(party, "phoneNumber"),
            affiliation: None,
        });
    }
    if !parties.iter().any(|p| p.user_id == Some(primary)) {
        return Err(ApiError::bad_request(format!(
            "parties: one party must be the primary user (a party with \"userId\": \"{primary}\")"
        )));
    }
    let duration = clean
        .get("duration")
        .and_then(Value::as_f64)
        .map(|seconds| {
            // Checked finite and at least 0; a duration beyond i64 seconds
            // saturates, which `as` does for floats.
            #[expect(clippy::cast_possible_truncation, reason = "rounded, saturating")]
            let whole = seconds.round() as i64;
            whole
        });
    let details = CallDetails {
        scheduled: string_of(&clean, "scheduledStart"),
        duration,
        direction: string_of(&clean, "direction"),
        system: string_of(&clean, "callProviderCode"),
        language: string_of(&clean, "languageCode"),
        sdr_disposition: string_of(&clean, "disposition"),
        custom_data: string_of(&clean, "customData"),
        purpose: string_of(&clean, "purpose"),
        meeting_url: string_of(&clean, "meetingUrl"),
        ..CallDetails::default()
    };
    Ok(Call {
        workspace: id_of(&clean, "workspaceId", WorkspaceId::parse),
        title: string_of(&clean, "title"),
        participant_ids: participants,
        started,
        client_unique_id: string_of(&clean, "clientUniqueId"),
        details,
        parties,
        ..Call::new(principal.company, CallId::random(), primary)
    })
}

/// A profile body (`PermissionProfileDTO`), before it has a workspace
/// and an id: its fields as given, `id` excepted.
#[derive(Debug, Clone)]
struct ProfileDraft {
    company: callaccess_domain::CompanyId,
    name: String,
    calls: CallsRule,
    fields: Map<String, Value>,
}

impl ProfileDraft {
    fn into_profile(self, workspace: WorkspaceId, id: ProfileId) -> Profile {
        Profile {
            company: self.company,
            workspace,
            id,
            name: self.name,
            calls: self.calls,
            fields: self.fields,
        }
    }
}

fn profile_draft(
    principal: &Principal,
    body: &Value,
    max_ids: usize,
) -> Result<ProfileDraft, ApiError> {
    draft_for(principal.company, body, max_ids)
}

/// A profile of `company` from a body of Gong's `PermissionProfileDTO`
/// shape, checked as `/v2` checks it; for the admin API, which reads
/// profiles the same way.
pub(crate) fn profile_from_body(
    company: callaccess_domain::CompanyId,
    body: &Value,
    max_ids: usize,
    workspace: WorkspaceId,
    id: ProfileId,
) -> Result<Profile, ApiError> {
    draft_for(company, body, max_ids).map(|draft| draft.into_profile(workspace, id))
}

fn draft_for(
    company: callaccess_domain::CompanyId,
    body: &Value,
    max_ids: usize,
) -> Result<ProfileDraft, ApiError> {
    let fields = Checker::new(max_ids).body(body, &gong::PERMISSION_PROFILE)?;
    let calls = match object_of(&fields, "callsAccess") {
        None => CallsRule::default(),
        Some(access) => {
            let level = access
                .get("permissionLevel")
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<CallsAccess>().ok())
                .unwrap_or_default();
            let mut team_leads =
                ids_of(access, "teamLeadIds", UserId::from_i64).unwrap_or_default();
            team_leads.sort_unstable();
            team_leads.dedup();
            CallsRule { level, team_leads }
        }
    };
    Ok(ProfileDraft {
        company,
        name: string_of(&fields, "name").unwrap_or_default(),
        calls,
        fields,
    })
}

// --- handlers ---

/// List the company's workspaces.
#[utoipa::path(
    get,
    path = "/v2/workspaces",
    operation_id = "listWorkspaces",
    tag = "Settings",
    responses(
        (status = 200, description = "The company's workspaces", body = gong::WorkspacesMetadata),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:workspaces:read"]))
)]
pub(crate) async fn list_workspaces(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
) -> Result<Response, ApiError> {
    let workspaces = auth::perform(&state, &principal, Ok(ListWorkspaces)).await?;
    let body = gong::WorkspacesMetadata {
        request_id: request_id(&context),
        workspaces: workspaces.into_iter().map(Into::into).collect(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn users_page(
    context: &super::request_id::RequestContext,
    paging: &gong::Paging,
    page: Page<User>,
) -> gong::UsersMetadata {
    let records = paging.records(&page, page.items.last().map(|u| u.id.get()));
    gong::UsersMetadata {
        request_id: request_id(context),
        records,
        users: page.items.into_iter().map(Into::into).collect(),
    }
}

/// List the company's users, 100 a page, by id.
#[utoipa::path(
    get,
    path = "/v2/users",
    operation_id = "listUsers",
    tag = "Users",
    params(
        ("cursor" = Option<String>, Query, description = "The previous page's cursor, to get the next page."),
        ("includeAvatars" = Option<bool>, Query, description = "Accepted; this service has no avatars."),
    ),
    responses(
        (status = 200, description = "One page of users", body = gong::UsersMetadata),
        (status = 400, description = "Malformed request, or a cursor not of this listing", body = super::dto::ErrorResponse),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:users:read"]))
)]
pub(crate) async fn list_users(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let (request, paging) = match list_users_request(&principal, &query) {
        Ok((request, paging)) => (Ok(request), Some(paging)),
        Err(e) => (Err(e), None),
    };
    let page = auth::perform(&state, &principal, request).await?;
    let paging = paging.ok_or_else(|| ApiError::Internal("listing without paging".to_owned()))?;
    Ok(json_response(
        StatusCode::OK,
        &users_page(&context, &paging, page),
    ))
}

/// One user of the company.
#[utoipa::path(
    get,
    path = "/v2/users/{id}",
    operation_id = "getUser",
    tag = "Users",
    params(("id" = String, Path, pattern = "^[0-9]{1,20}$", description = "Gong's numeric user id (up to 20 digits).")),
    responses(
        (status = 200, description = "The user", body = gong::UserResponse),
        (status = 400, description = "Malformed id", body = super::dto::ErrorResponse),
        (status = 404, description = "User not found", body = super::dto::ErrorResponse),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:users:read"]))
)]
pub(crate) async fn get_user(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let request = path_id(path, UserId::parse).map(GetUser);
    let user = auth::perform(&state, &principal, request)
        .await?
        .ok_or_else(|| ApiError::NoRecords("User not found".to_owned()))?;
    let body = gong::UserResponse {
        request_id: request_id(&context),
        user: user.into(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// The company's users that a filter selects, 100 a page, by id; 404 when
/// none does.
#[utoipa::path(
    post,
    path = "/v2/users/extensive",
    operation_id = "listMultipleUsers",
    tag = "Users",
    request_body = gong::UsersRequest,
    responses(
        (status = 200, description = "One page of users", body = gong::UsersMetadata),
        (status = 400, description = "Malformed request, or a cursor not of this listing", body = super::dto::ErrorResponse),
        (status = 404, description = "No users found corresponding to the provided filters", body = super::dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:users:read"]))
)]
pub(crate) async fn list_multiple_users(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let max_ids = state.limits.max_pairs;
    let request =
        body.and_then(|JsonBody(body)| multiple_users_request(&principal, &body, max_ids));
    let (request, paging) = match request {
        Ok((request, paging)) => (Ok(request), Some(paging)),
        Err(e) => (Err(e), None),
    };
    let page = auth::perform(&state, &principal, request).await?;
    if page.items.is_empty() {
        return Err(ApiError::NoRecords(NO_USERS.to_owned()));
    }
    let paging = paging.ok_or_else(|| ApiError::Internal("listing without paging".to_owned()))?;
    Ok(json_response(
        StatusCode::OK,
        &users_page(&context, &paging, page),
    ))
}

fn calls_records(paging: &gong::Paging, page: &Page<Call>) -> gong::Records {
    paging.records(page, page.items.last().map(|c| c.id.get()))
}

/// The company's calls that started in a period, 100 a page, by id; 404
/// when none did.
#[utoipa::path(
    get,
    path = "/v2/calls",
    operation_id = "listCalls",
    tag = "Calls",
    params(
        ("cursor" = Option<String>, Query, description = "The previous page's cursor, to get the next page."),
        ("fromDateTime" = Option<String>, Query, format = DateTime, description = "Only calls that started at or after this time (ISO-8601 with an offset, e.g. '2018-02-18T02:30:00-07:00' or '2018-02-18T08:00:00Z')."),
        ("toDateTime" = Option<String>, Query, format = DateTime, description = "Only calls that started before this time (ISO-8601 with an offset)."),
        ("workspaceId" = Option<String>, Query, pattern = "^[0-9]{1,20}$", description = "Only calls of this workspace, one of the company's."),
    ),
    responses(
        (status = 200, description = "One page of calls", body = gong::CallsResponse),
        (status = 400, description = "Malformed request, unknown workspace, or a cursor not of this listing", body = super::dto::ErrorResponse),
        (status = 404, description = "No calls found corresponding to the provided filters", body = super::dto::ErrorResponse),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:calls:read:basic"]))
)]
pub(crate) async fn list_calls(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let (request, paging) = match list_calls_request(&principal, &query) {
        Ok((request, paging)) => (Ok(request), Some(paging)),
        Err(e) => (Err(e), None),
    };
    let page = auth::perform(&state, &principal, request).await?;
    if page.items.is_empty() {
        return Err(ApiError::NoRecords(NO_CALLS.to_owned()));
    }
    let paging = paging.ok_or_else(|| ApiError::Internal("listing without paging".to_owned()))?;
    let body = gong::CallsResponse {
        request_id: request_id(&context),
        records: calls_records(&paging, &page),
        calls: page.items.iter().map(Into::into).collect(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// Create a call. Its `clientUniqueId` must be new to the company.
#[utoipa::path(
    post,
    path = "/v2/calls",
    operation_id = "addCall",
    tag = "Calls",
    request_body = gong::NewCallAddingRequest,
    responses(
        (status = 200, description = "The call was created", body = gong::NewCallAddingResponse),
        (status = 400, description = "Malformed request, unknown users or workspace", body = super::dto::ErrorResponse),
        (status = 409, description = "A call with this clientUniqueId exists; the message names it", body = super::dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:calls:create"]))
)]
pub(crate) async fn add_call(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let max_ids = state.limits.max_pairs;
    let request = body
        .and_then(|JsonBody(body)| new_call(&principal, &body, max_ids))
        .map(AddCall);
    let call = auth::perform(&state, &principal, request).await?;
    let body = gong::NewCallAddingResponse {
        request_id: request_id(&context),
        call_id: call.id,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// One call of the company.
#[utoipa::path(
    get,
    path = "/v2/calls/{id}",
    operation_id = "getCall",
    tag = "Calls",
    params(("id" = String, Path, pattern = "^[0-9]{1,20}$", description = "Gong's numeric call id (up to 20 digits).")),
    responses(
        (status = 200, description = "The call", body = gong::SpecificCall),
        (status = 400, description = "Malformed id", body = super::dto::ErrorResponse),
        (status = 404, description = "Call ID was not found", body = super::dto::ErrorResponse),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:calls:read:basic"]))
)]
pub(crate) async fn get_call(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    path: Result<Path<String>, axum::extract::rejection::PathRejection>,
) -> Result<Response, ApiError> {
    let request = path_id(path, CallId::parse).map(GetCall);
    let id = request.as_ref().map(|r| r.0).ok();
    let call = auth::perform(&state, &principal, request).await?;
    let Some(call) = call else {
        let id = id.map(|id| id.to_string()).unwrap_or_default();
        return Err(ApiError::NoRecords(format!("Call ID {id} was not found")));
    };
    let body = gong::SpecificCall {
        request_id: request_id(&context),
        call: (&call).into(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// The company's calls that a filter selects, with their metadata and,
/// when asked for, their parties; 100 a page, by id; 404 when none.
#[utoipa::path(
    post,
    path = "/v2/calls/extensive",
    operation_id = "listCallsExtensive",
    tag = "Calls",
    request_body = gong::CallsRequest,
    responses(
        (status = 200, description = "One page of calls", body = gong::Calls),
        (status = 400, description = "Malformed request, unknown workspace, or a cursor not of this listing", body = super::dto::ErrorResponse),
        (status = 404, description = "No calls found corresponding to the provided filters", body = super::dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:calls:read:extensive"]))
)]
pub(crate) async fn list_calls_extensive(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let max_ids = state.limits.max_pairs;
    let parsed =
        body.and_then(|JsonBody(body)| calls_extensive_request(&principal, &body, max_ids));
    let (request, paging, parties) = match parsed {
        Ok((request, paging, parties)) => (Ok(request), Some(paging), parties),
        Err(e) => (Err(e), None, false),
    };
    let page = auth::perform(&state, &principal, request).await?;
    if page.items.is_empty() {
        return Err(ApiError::NoRecords(NO_CALLS.to_owned()));
    }
    let paging = paging.ok_or_else(|| ApiError::Internal("listing without paging".to_owned()))?;
    let records = calls_records(&paging, &page);
    let calls = page
        .items
        .into_iter()
        .map(|call| gong::CallData {
            meta_data: (&call).into(),
            parties: parties.then(|| call.parties.into_iter().map(Into::into).collect()),
        })
        .collect();
    let body = gong::Calls {
        request_id: request_id(&context),
        records,
        calls,
    };
    Ok(json_response(StatusCode::OK, &body))
}

/// The profiles of one of the company's workspaces, by name.
#[utoipa::path(
    get,
    path = "/v2/all-permission-profiles",
    operation_id = "listPermissionProfile",
    tag = "Permissions",
    params(("workspaceId" = String, Query, pattern = "^[0-9]{1,20}$", description = "One of the company's workspaces.")),
    responses(
        (status = 200, description = "The workspace's profiles", body = gong::PermissionProfilesResponse),
        (status = 400, description = "Malformed or unknown workspace id", body = super::dto::ErrorResponse),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:permission-profile:read"]))
)]
pub(crate) async fn list_permission_profile(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let request = query
        .required_id("workspaceId", WorkspaceId::parse)
        .map(ListProfiles)
        .map_err(ApiError::bad_request);
    let profiles = auth::perform(&state, &principal, request).await?;
    let body = gong::PermissionProfilesResponse {
        request_id: request_id(&context),
        profiles: profiles.iter().map(gong::profile_dto).collect(),
    };
    Ok(json_response(StatusCode::OK, &body))
}

fn profile_response(context: &super::request_id::RequestContext, profile: &Profile) -> Response {
    let body = gong::PermissionProfileResponse {
        request_id: request_id(context),
        profile: gong::profile_dto(profile),
    };
    json_response(StatusCode::OK, &body)
}

/// One of the company's permission profiles.
#[utoipa::path(
    get,
    path = "/v2/permission-profile",
    operation_id = "getPermissionProfile",
    tag = "Permissions",
    params(("profileId" = String, Query, pattern = "^[0-9]{1,20}$", description = "The profile's id.")),
    responses(
        (status = 200, description = "The profile", body = gong::PermissionProfileResponse),
        (status = 400, description = "Malformed or unknown profile id", body = super::dto::ErrorResponse),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:permission-profile:read"]))
)]
pub(crate) async fn get_permission_profile(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let request = query
        .required_id("profileId", ProfileId::parse)
        .map(GetProfile)
        .map_err(ApiError::bad_request);
    let profile = auth::perform(&state, &principal, request).await?;
    Ok(profile_response(&context, &profile))
}

/// Create a permission profile in one of the company's workspaces; the
/// answer is the stored profile with its new id.
#[utoipa::path(
    post,
    path = "/v2/permission-profile",
    operation_id = "createPermissionProfile",
    tag = "Permissions",
    params(("workspaceId" = String, Query, pattern = "^[0-9]{1,20}$", description = "One of the company's workspaces.")),
    request_body = gong::PermissionProfileDto,
    responses(
        (status = 200, description = "The profile as stored", body = gong::PermissionProfileResponse),
        (status = 400, description = "Malformed request, unknown workspace or team leads", body = super::dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:permission-profile:write"]))
)]
pub(crate) async fn create_permission_profile(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let max_ids = state.limits.max_pairs;
    let workspace = query
        .required_id("workspaceId", WorkspaceId::parse)
        .map_err(ApiError::bad_request);
    let request = workspace.and_then(|workspace| {
        body.and_then(|JsonBody(body)| profile_draft(&principal, &body, max_ids))
            .map(|draft| draft.into_profile(workspace, ProfileId::random()))
    });
    let profile = auth::perform(&state, &principal, request.map(CreateProfile)).await?;
    Ok(profile_response(&context, &profile))
}

/// Replace a permission profile's fields; the profile named by `profileId`
/// keeps its id and workspace (an `id` in the body is ignored).
#[utoipa::path(
    put,
    path = "/v2/permission-profile",
    operation_id = "updatePermissionProfile",
    tag = "Permissions",
    params(("profileId" = String, Query, pattern = "^[0-9]{1,20}$", description = "The profile's id.")),
    request_body = gong::PermissionProfileDto,
    responses(
        (status = 200, description = "The profile after the change", body = gong::PermissionProfileResponse),
        (status = 400, description = "Malformed request, unknown profile or team leads", body = super::dto::ErrorResponse),
        CommonErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:permission-profile:write"]))
)]
pub(crate) async fn update_permission_profile(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let max_ids = state.limits.max_pairs;
    let id = query
        .required_id("profileId", ProfileId::parse)
        .map_err(ApiError::bad_request);
    // The workspace is the stored profile's; `UpdateProfile` reads it.
    let request = id.and_then(|id| {
        body.and_then(|JsonBody(body)| profile_draft(&principal, &body, max_ids))
            .map(|draft| UpdateProfile(id, draft))
    });
    let profile = auth::perform(&state, &principal, request).await?;
    Ok(profile_response(&context, &profile))
}

/// The users who hold a permission profile, by id.
#[utoipa::path(
    get,
    path = "/v2/permission-profile/users",
    operation_id = "listPermissionProfileUsers",
    tag = "Permissions",
    params(("profileId" = String, Query, pattern = "^[0-9]{1,20}$", description = "The profile's id.")),
    responses(
        (status = 200, description = "The profile's users (possibly none)", body = gong::PermissionProfileUsersResponse),
        (status = 400, description = "Malformed or unknown profile id", body = super::dto::ErrorResponse),
        ReadErrors,
    ),
    security(("basicAuth" = []), ("bearerAuth" = ["api:users:read"]))
)]
pub(crate) async fn list_permission_profile_users(
    State(state): State<AppState>,
    Extension(context): Context,
    principal: Principal,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let request = query
        .required_id("profileId", ProfileId::parse)
        .map(ProfileUsers)
        .map_err(ApiError::bad_request);
    let users = auth::perform(&state, &principal, request).await?;
    let body = gong::PermissionProfileUsersResponse {
        request_id: request_id(&context),
        users: users.into_iter().map(Into::into).collect(),
    };
    Ok(json_response(StatusCode::OK, &body))
}
