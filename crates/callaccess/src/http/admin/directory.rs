//! Companies and everything in them, as JSON CRUD (control-plane.md §2).
//! Every check is the shared operations' (`crate::ops`), so the answers and
//! messages are the CLI's; ids are strings, fields camelCase, lists paged
//! with `?limit=&cursor=`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::{delete, get};
use axum::Extension;
use axum::Router;
use callaccess_domain::page::{CallFilter, PageAfter, UserFilter};
use callaccess_domain::{
    Call, CallDetails, CallId, Caller, CallsAccess, CompanyId, Limit, Origin, ProfileId, RateLimit,
    StoreError, Timestamp, User, UserId, UserUpdate, WorkspaceId,
};
use serde::{Deserialize, Deserializer};
use serde_json::{json, Value};

use super::{id_key, ok, parse_body, store_error, Paging};
use crate::http::body::JsonBody;
use crate::http::error::ApiError;
use crate::http::query::QueryParams;
use crate::http::AppState;
use crate::ops;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/v1/companies",
            get(list_companies).post(create_company),
        )
        .route(
            "/admin/v1/companies/{id}",
            get(get_company).patch(update_company),
        )
        .route(
            "/admin/v1/companies/{id}/workspaces",
            get(list_workspaces).post(create_workspace),
        )
        .route(
            "/admin/v1/companies/{id}/users",
            get(list_users).post(add_user),
        )
        .route(
            "/admin/v1/companies/{id}/users/{user}",
            get(get_user).patch(update_user),
        )
        .route(
            "/admin/v1/companies/{id}/calls",
            get(list_calls).post(add_call),
        )
        .route(
            "/admin/v1/companies/{id}/calls/{call}",
            get(get_call).patch(update_call),
        )
        .route(
            "/admin/v1/companies/{id}/shares",
            get(list_shares).post(add_share).delete(remove_share),
        )
        .route(
            "/admin/v1/companies/{id}/profiles",
            get(list_profiles).post(create_profile),
        )
        .route(
            "/admin/v1/companies/{id}/profiles/{profile}",
            get(get_profile).put(update_profile),
        )
        .route(
            "/admin/v1/companies/{id}/api-keys",
            get(list_api_keys).post(create_api_key),
        )
        .route(
            "/admin/v1/companies/{id}/api-keys/{key}",
            delete(revoke_api_key),
        )
        .route(
            "/admin/v1/companies/{id}/tokens",
            get(list_tokens).post(create_token),
        )
        .route(
            "/admin/v1/companies/{id}/tokens/{token}",
            delete(revoke_token),
        )
}

/// A path id, or 404 (an id that cannot exist names nothing); the
/// console's too.
pub(crate) fn path_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, ApiError> {
    text.parse()
        .map_err(|_| ApiError::NoRecords(format!("{what} \"{}\" does not exist", shown(text))))
}

fn shown(text: &str) -> String {
    text.chars().take(40).collect()
}

/// A limit in a body: a positive number, `"off"` or `"default"`.
fn limit_of(value: &Value, field: &str) -> Result<Limit, ApiError> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        other => other.to_string(),
    };
    ops::directory::parse_limit(&text).map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RateLimitBody {
    per_second: Option<Value>,
    per_day: Option<Value>,
}

impl RateLimitBody {
    fn limits(&self) -> Result<(Option<Limit>, Option<Limit>), ApiError> {
        let per_second = self
            .per_second
            .as_ref()
            .map(|v| limit_of(v, "rateLimit.perSecond"))
            .transpose()?;
        let per_day = self
            .per_day
            .as_ref()
            .map(|v| limit_of(v, "rateLimit.perDay"))
            .transpose()?;
        Ok((per_second, per_day))
    }
}

// --- companies ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCompanyBody {
    name: String,
    id: Option<CompanyId>,
    rate_limit: Option<RateLimitBody>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CompanyChange {
    rate_limit: RateLimitBody,
}

async fn list_companies(
    State(state): State<AppState>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "companies")?;
    let companies = state.store.companies().await.map_err(store_error)?;
    Ok(ok(&paging.page(companies, |c| id_key(c.id.get()))))
}

async fn create_company(
    State(state): State<AppState>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let body: NewCompanyBody = parse_body(body?.0)?;
    let (per_second, per_day) = match &body.rate_limit {
        Some(limits) => limits.limits()?,
        None => (None, None),
    };
    let rate_limit = RateLimit {
        per_second: per_second.unwrap_or_default(),
        per_day: per_day.unwrap_or_default(),
    };
    let company =
        ops::directory::create_company(state.store.as_ref(), &body.name, body.id, rate_limit)
            .await
            .map_err(store_error)?;
    Ok(ok(&company))
}

async fn get_company(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "company")?;
    let company = ops::require_company(state.store.as_ref(), id)
        .await
        .map_err(store_error)?;
    Ok(ok(&company))
}

async fn update_company(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let id = path_id(&id, "company")?;
    // The company first: a change to one that does not exist is 404
    // whatever the body says.
    ops::require_company(state.store.as_ref(), id)
        .await
        .map_err(store_error)?;
    let change: CompanyChange = parse_body(body?.0)?;
    let (per_second, per_day) = change.rate_limit.limits()?;
    let company = ops::directory::set_rate_limit(
        state.store.as_ref(),
        id,
        per_second,
        per_day,
        "nothing to change: give rateLimit.perSecond, rateLimit.perDay or both",
    )
    .await
    .map_err(store_error)?;
    Ok(ok(&company))
}

// --- what the company's lists and changes share ---

/// The company of the path, which must exist (404 otherwise).
pub(super) async fn company_of(state: &AppState, id: &str) -> Result<CompanyId, ApiError> {
    let company = path_id(id, "company")?;
    ops::require_company(state.store.as_ref(), company)
        .await
        .map_err(store_error)?;
    Ok(company)
}

/// A field that may be absent (`None`), `null` (`Some(None)`) or a value.
fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

fn calls_access(text: &str, field: &str) -> Result<CallsAccess, ApiError> {
    text.parse()
        .map_err(|e: String| ApiError::bad_request(format!("{field}: {e}")))
}

fn time(text: &str, field: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_rfc3339(text).map_err(|e| ApiError::bad_request(format!("{field}: {e}")))
}

/// A page of a list the store pages by id.
pub(super) fn store_page<T: serde::Serialize>(
    paging: &Paging,
    page: callaccess_domain::page::Page<T>,
    id: impl Fn(&T) -> i64,
) -> super::Listed {
    let next = page
        .more
        .then(|| {
            page.items
                .last()
                .map(|last| paging.cursor_after(&id_key(id(last))))
        })
        .flatten();
    super::Listed {
        items: page
            .items
            .iter()
            .map(|item| serde_json::to_value(item).unwrap_or(Value::Null))
            .collect(),
        next_cursor: next,
    }
}

pub(super) fn store_paging(paging: &Paging) -> Result<PageAfter, ApiError> {
    Ok(PageAfter {
        after: paging.after_id()?,
        limit: paging.limit,
        count: false,
    })
}

// --- workspaces ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewWorkspace {
    id: Option<WorkspaceId>,
    name: String,
    description: Option<String>,
}

async fn list_workspaces(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "workspaces")?;
    let company = company_of(&state, &id).await?;
    let workspaces = state
        .store
        .workspaces(Caller::verified(company))
        .await
        .map_err(store_error)?;
    Ok(ok(&paging.page(workspaces, |w| id_key(w.id.get()))))
}

async fn create_workspace(
    State(state): State<AppState>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let new: NewWorkspace = parse_body(body?.0)?;
    let workspace = ops::directory::create_workspace(
        state.store.as_ref(),
        company,
        new.id,
        &new.name,
        new.description,
    )
    .await
    .map_err(store_error)?;
    Ok(ok(&workspace))
}

// --- users ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewUser {
    id: UserId,
    email_address: String,
    first_name: Option<String>,
    last_name: Option<String>,
    title: Option<String>,
    active: Option<bool>,
    manager_id: Option<UserId>,
    /// A level: the profile "Calls access: LEVEL" of the default workspace.
    calls_access: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct UserChange {
    #[serde(default, deserialize_with = "nullable")]
    manager_id: Option<Option<UserId>>,
    calls_access: Option<String>,
    /// Profiles to give the user, each replacing the one they hold in its
    /// workspace.
    profile_ids: Option<Vec<ProfileId>>,
    active: Option<bool>,
}

async fn list_users(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "users")?;
    let company = company_of(&state, &id).await?;
    let page = state
        .store
        .list_users(
            Caller::verified(company),
            &UserFilter::default(),
            store_paging(&paging)?,
        )
        .await
        .map_err(store_error)?;
    Ok(ok(&store_page(&paging, page, |u| u.id.get())))
}

async fn read_user(state: &AppState, company: CompanyId, user: UserId) -> Result<User, ApiError> {
    state
        .store
        .user(Caller::verified(company), user)
        .await
        .map_err(store_error)?
        .ok_or_else(|| store_error(StoreError::NoUser { company, user }))
}

async fn get_user(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let user = path_id(&user, "user")?;
    Ok(ok(&read_user(&state, company, user).await?))
}

async fn add_user(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let new: NewUser = parse_body(body?.0)?;
    let calls_access = new
        .calls_access
        .as_deref()
        .map(|level| calls_access(level, "callsAccess"))
        .transpose()?;
    let user = User {
        calls_access,
        first_name: new.first_name,
        last_name: new.last_name,
        title: new.title,
        active: new.active.unwrap_or(true),
        manager_id: new.manager_id,
        ..User::new(company, new.id, new.email_address)
    };
    let added = ops::directory::add_user(state.store.as_ref(), &origin, user)
        .await
        .map_err(store_error)?;
    Ok(ok(&read_user(&state, company, added.id).await?))
}

/// Every field of the change in one write, all or nothing: the store
/// checks the profiles and the manager in the transaction that writes them.
async fn update_user(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path((id, user)): Path<(String, String)>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let user = path_id(&user, "user")?;
    // The user first: a change to one that does not exist is 404 whatever
    // the body says.
    read_user(&state, company, user).await?;
    let change: UserChange = parse_body(body?.0)?;
    let calls_access = change
        .calls_access
        .as_deref()
        .map(|level| calls_access(level, "callsAccess"))
        .transpose()?;
    let update = UserUpdate {
        manager: change.manager_id,
        calls_access,
        profiles: change.profile_ids.unwrap_or_default(),
        active: change.active,
    };
    ops::directory::update_user(
        state.store.as_ref(),
        &origin,
        company,
        user,
        &update,
        "nothing to change: give managerId, callsAccess, profileIds or active",
    )
    .await
    .map_err(store_error)?;
    Ok(ok(&read_user(&state, company, user).await?))
}

// --- calls ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCall {
    id: CallId,
    primary_user_id: UserId,
    #[serde(default)]
    participant_ids: Vec<UserId>,
    title: Option<String>,
    workspace_id: Option<WorkspaceId>,
    #[serde(default)]
    is_private: bool,
    started: Option<String>,
    client_unique_id: Option<String>,
    direction: Option<String>,
    purpose: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CallChange {
    is_private: bool,
}

async fn list_calls(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "calls")?;
    let company = company_of(&state, &id).await?;
    let page = state
        .store
        .list_calls(
            Caller::verified(company),
            &CallFilter::default(),
            store_paging(&paging)?,
        )
        .await
        .map_err(store_error)?;
    Ok(ok(&store_page(&paging, page, |c| c.id.get())))
}

async fn read_call(state: &AppState, company: CompanyId, call: CallId) -> Result<Call, ApiError> {
    state
        .store
        .call(Caller::verified(company), call)
        .await
        .map_err(store_error)?
        .ok_or_else(|| store_error(StoreError::NoCall { company, call }))
}

async fn get_call(
    State(state): State<AppState>,
    Path((id, call)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let call = path_id(&call, "call")?;
    Ok(ok(&read_call(&state, company, call).await?))
}

async fn add_call(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let new: NewCall = parse_body(body?.0)?;
    let started = new
        .started
        .as_deref()
        .map(|t| time(t, "started"))
        .transpose()?;
    let call = Call {
        title: new.title,
        participant_ids: new.participant_ids,
        workspace: new.workspace_id,
        is_private: new.is_private,
        started,
        client_unique_id: new.client_unique_id,
        details: CallDetails {
            direction: new.direction,
            purpose: new.purpose,
            ..CallDetails::default()
        },
        ..Call::new(company, new.id, new.primary_user_id)
    };
    let added = ops::directory::add_call(state.store.as_ref(), &origin, call)
        .await
        .map_err(store_error)?;
    Ok(ok(&read_call(&state, company, added.id).await?))
}

async fn update_call(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path((id, call)): Path<(String, String)>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let call = path_id(&call, "call")?;
    read_call(&state, company, call).await?;
    let change: CallChange = parse_body(body?.0)?;
    state
        .store
        .set_private(&origin, company, call, change.is_private)
        .await
        .map_err(store_error)?;
    Ok(ok(&read_call(&state, company, call).await?))
}

// --- shares ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Share {
    call_id: CallId,
    user_id: UserId,
}

/// A share as the list shows it: the body `POST` and `DELETE` take, so an
/// item can be sent back as it is.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedShare {
    call_id: CallId,
    user_id: UserId,
}

/// By call, then user, as the export lists them.
async fn list_shares(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "shares")?;
    let company = company_of(&state, &id).await?;
    let shares: Vec<ListedShare> = ops::directory::shares(state.store.as_ref(), company)
        .await
        .map_err(store_error)?
        .into_iter()
        .map(|(call_id, user_id)| ListedShare { call_id, user_id })
        .collect();
    Ok(ok(&paging.page(shares, |s| {
        format!("{}:{}", id_key(s.call_id.get()), id_key(s.user_id.get()))
    })))
}

async fn add_share(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let share: Share = parse_body(body?.0)?;
    ops::directory::add_share(
        state.store.as_ref(),
        &origin,
        company,
        share.call_id,
        share.user_id,
    )
    .await
    .map_err(store_error)?;
    Ok(ok(&json!({
        "callId": share.call_id.to_string(),
        "userId": share.user_id.to_string(),
        "shared": true,
    })))
}

async fn remove_share(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let share: Share = parse_body(body?.0)?;
    ops::directory::remove_share(
        state.store.as_ref(),
        &origin,
        company,
        share.call_id,
        share.user_id,
    )
    .await
    .map_err(|e| match e {
        // Not shared: nothing to remove, 404 rather than a bad request.
        StoreError::Invalid(message) => ApiError::NoRecords(message),
        other => store_error(other),
    })?;
    Ok(ok(&json!({
        "callId": share.call_id.to_string(),
        "userId": share.user_id.to_string(),
        "shared": false,
    })))
}

// --- permission profiles: Gong's PermissionProfileDTO, as /v2 reads it ---

/// The profile as the admin API shows it: Gong's DTO with its workspace.
fn shown_profile(profile: &callaccess_domain::Profile) -> Value {
    let mut dto = profile.to_dto();
    if let Value::Object(map) = &mut dto {
        map.insert(
            "workspaceId".to_owned(),
            Value::from(profile.workspace.to_string()),
        );
    }
    dto
}

async fn list_profiles(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "profiles")?;
    let company = company_of(&state, &id).await?;
    let caller = Caller::verified(company);
    let workspaces = state.store.workspaces(caller).await.map_err(store_error)?;
    let mut profiles = Vec::new();
    for workspace in workspaces {
        let listed = state
            .store
            .profiles(caller, workspace.id)
            .await
            .map_err(store_error)?;
        profiles.extend(listed);
    }
    let listed = paging.page(profiles, |p| id_key(p.id.get()));
    // Shown as Gong's DTO with the workspace, like a single profile.
    let items = listed
        .items
        .into_iter()
        .map(|item| match item {
            Value::Object(map) => shown_of_serialised(map),
            other => other,
        })
        .collect();
    Ok(ok(&super::Listed {
        items,
        next_cursor: listed.next_cursor,
    }))
}

/// A serialised `Profile` (its `fields` as given, with `id` and
/// `workspace`) as [`shown_profile`] shows it.
fn shown_of_serialised(map: serde_json::Map<String, Value>) -> Value {
    let mut dto = map.get("fields").cloned().unwrap_or_else(|| json!({}));
    if let Value::Object(out) = &mut dto {
        if let Some(id) = map.get("id") {
            out.insert("id".to_owned(), id.clone());
        }
        if let Some(workspace) = map.get("workspace") {
            out.insert("workspaceId".to_owned(), workspace.clone());
        }
    }
    dto
}

async fn get_profile(
    State(state): State<AppState>,
    Path((id, profile)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let profile = path_id(&profile, "permission profile")?;
    let found = state
        .store
        .profile(Caller::verified(company), profile)
        .await
        .map_err(store_error)?;
    Ok(ok(&shown_profile(&found)))
}

/// `?workspaceId=` names the workspace, as in `/v2/permission-profile`.
async fn create_profile(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    query: QueryParams,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let workspace = query
        .required_id("workspaceId", WorkspaceId::parse)
        .map_err(ApiError::bad_request)?;
    let profile = crate::http::directory::profile_from_body(
        company,
        &body?.0,
        state.limits.max_pairs,
        workspace,
        ProfileId::random(),
    )?;
    let created = state
        .store
        .create_profile(&origin, Caller::verified(company), &profile)
        .await
        .map_err(store_error)?;
    Ok(ok(&shown_profile(&created)))
}

async fn update_profile(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path((id, profile)): Path<(String, String)>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let profile = path_id(&profile, "permission profile")?;
    let caller = Caller::verified(company);
    let current = state
        .store
        .profile(caller, profile)
        .await
        .map_err(store_error)?;
    let changed = crate::http::directory::profile_from_body(
        company,
        &body?.0,
        state.limits.max_pairs,
        current.workspace,
        current.id,
    )?;
    let updated = state
        .store
        .update_profile(&origin, caller, &changed)
        .await
        .map_err(store_error)?;
    Ok(ok(&shown_profile(&updated)))
}

// --- API keys and bearer tokens: the secret only in the create answer ---

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct NewCredential {
    #[serde(default)]
    scopes: Vec<String>,
    /// An RFC 3339 time or a duration from now (`90d`).
    expires: Option<String>,
}

/// A created credential: what is stored, with the secret under `field`.
fn with_secret(info: &impl serde::Serialize, field: &str, secret: &str) -> Value {
    let mut shown = serde_json::to_value(info).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut shown {
        map.insert(field.to_owned(), Value::from(secret));
    }
    shown
}

async fn list_api_keys(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "api-keys")?;
    let company = company_of(&state, &id).await?;
    let keys = state
        .store
        .api_keys(Some(company))
        .await
        .map_err(store_error)?;
    Ok(ok(&paging.page(keys, |k| k.access_key.clone())))
}

async fn create_api_key(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let new: NewCredential = parse_body(body?.0)?;
    let scopes = ops::directory::parse_scopes(&new.scopes).map_err(store_error)?;
    let made = ops::directory::create_api_key(
        state.store.as_ref(),
        &origin,
        company,
        scopes,
        new.expires.as_deref(),
        state.clock.now(),
    )
    .await
    .map_err(store_error)?;
    Ok(ok(&with_secret(
        &made.info,
        "accessKeySecret",
        &made.secret,
    )))
}

async fn revoke_api_key(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path((id, key)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    // Another company's key reads as an unknown one.
    let owned = state
        .store
        .api_keys(Some(company))
        .await
        .map_err(store_error)?
        .into_iter()
        .any(|k| k.access_key == key);
    if !owned {
        return Err(store_error(StoreError::NoApiKey(shown(&key))));
    }
    let info = state
        .store
        .revoke_api_key(&origin, &key, state.clock.now())
        .await
        .map_err(store_error)?;
    Ok(ok(&info))
}

async fn list_tokens(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "tokens")?;
    let company = company_of(&state, &id).await?;
    let tokens = state
        .store
        .tokens(Some(company))
        .await
        .map_err(store_error)?;
    Ok(ok(&paging.page(tokens, |t| t.id.clone())))
}

async fn create_token(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path(id): Path<String>,
    body: Result<JsonBody, ApiError>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let new: NewCredential = parse_body(body?.0)?;
    let scopes = ops::directory::parse_scopes(&new.scopes).map_err(store_error)?;
    let made = ops::directory::create_token(
        state.store.as_ref(),
        &origin,
        company,
        scopes,
        new.expires.as_deref(),
        state.clock.now(),
    )
    .await
    .map_err(store_error)?;
    Ok(ok(&with_secret(&made.info, "token", &made.token)))
}

async fn revoke_token(
    State(state): State<AppState>,
    Extension(origin): Extension<Origin>,
    Path((id, token)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let owned = state
        .store
        .tokens(Some(company))
        .await
        .map_err(store_error)?
        .into_iter()
        .any(|t| t.id == token);
    if !owned {
        return Err(store_error(StoreError::NoToken(shown(&token))));
    }
    let info = state
        .store
        .revoke_token(&origin, &token, state.clock.now())
        .await
        .map_err(store_error)?;
    Ok(ok(&info))
}
