//! The company picker, the calls of a company (searched, paged), one call
//! with every user who can open it (and the grant and revoke buttons), and
//! one user with the calls they can open.
//!
//! Grant and revoke run the very operations of `PUT` and `DELETE
//! /v2/calls/users-access` ([`crate::http::Grant`], [`crate::http::Revoke`]),
//! recorded in the audit trail as made by `admin:<token id>` in this
//! request.

use std::collections::HashMap;
use std::sync::Arc;

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::Extension;
use callaccess_domain::access::Route;
use callaccess_domain::page::{CallFilter, Page, PageAfter, UserFilter};
use callaccess_domain::{AccessChange, Call, CallId, Caller, CompanyId, StoreError, User, UserId};

use super::session::Session;
use super::view::{self, name_of, Badge, Failure, Nav, Person};
use crate::http::admin::store_error;
use crate::http::auth::Operation as _;
use crate::http::query::QueryParams;
use crate::http::request_id::RequestContext;
use crate::http::AppState;
use crate::ops;

/// Rows of a console list page.
pub const PAGE_ROWS: usize = 50;

/// A path id, or 404: the admin API's.
fn path_id<T: std::str::FromStr>(text: &str, what: &str) -> Result<T, Failure> {
    crate::http::admin::directory::path_id(text, what).map_err(Failure::Api)
}

/// The company of the path, which must exist; with its name.
pub async fn company_of(state: &AppState, text: &str) -> Result<(CompanyId, String), Failure> {
    let id = path_id(text, "company")?;
    let company = ops::require_company(state.store.as_ref(), id).await?;
    Ok((company.id, company.name))
}

/// `?cursor=` of a console list: the key of the last row of the page
/// before (an id, or the audit trail's sequence number).
pub fn cursor_of<T: std::str::FromStr>(query: &QueryParams) -> Result<Option<T>, Failure> {
    match query.get("cursor").map_err(Failure::bad_request)? {
        None | Some("") => Ok(None),
        Some(text) => text.parse::<T>().map(Some).map_err(|_| {
            Failure::bad_request(
                "cursor: not a cursor of this list; follow the page's own next link",
            )
        }),
    }
}

fn page_after(after: Option<i64>) -> PageAfter {
    PageAfter {
        after,
        limit: PAGE_ROWS,
        count: false,
    }
}

/// The one page that holds `ids.len()` records named by id.
fn all_of<T>(ids: &[T]) -> PageAfter {
    PageAfter {
        after: None,
        limit: ids.len(),
        count: false,
    }
}

/// The named users of the company, by id, in one read.
async fn people(
    state: &AppState,
    company: CompanyId,
    ids: impl IntoIterator<Item = UserId>,
) -> Result<HashMap<UserId, User>, StoreError> {
    let mut ids: Vec<UserId> = ids.into_iter().collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let page = all_of(&ids);
    let page = state
        .store
        .list_users(
            Caller::verified(company),
            &UserFilter {
                ids: Some(ids),
                ..UserFilter::default()
            },
            page,
        )
        .await?;
    Ok(page.items.into_iter().map(|u| (u.id, u)).collect())
}

/// The routes of each (call, user) pair, an API grant saying who made it.
async fn with_granters<'a>(
    state: &AppState,
    company: CompanyId,
    pairs: impl Iterator<Item = (CallId, UserId, &'a Vec<Route>)>,
) -> Result<Vec<Vec<Route>>, StoreError> {
    let mut explained = Vec::new();
    for (call, user, routes) in pairs {
        let store = state.store.as_ref();
        explained
            .push(ops::explain::with_granter(store, company, call, user, routes.clone()).await?);
    }
    Ok(explained)
}

fn person(users: &HashMap<UserId, User>, id: UserId) -> Person {
    Person::new(id, users.get(&id).map_or_else(|| id.to_string(), name_of))
}

fn title_of(call: &Call) -> String {
    call.title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .unwrap_or_else(|| format!("Call {}", call.id))
}

// --- the company picker ---

struct CompanyRow {
    id: String,
    name: String,
}

#[derive(Template)]
#[template(path = "console/companies.html")]
struct Companies {
    nav: Nav,
    companies: Vec<CompanyRow>,
}

pub async fn companies(
    State(state): State<AppState>,
    session: Session,
) -> Result<Response, Failure> {
    let companies = state.store.companies().await?;
    let nav = Nav::new(&session, companies.first().map(|c| c.id), "companies");
    let companies = companies
        .into_iter()
        .map(|c| CompanyRow {
            id: c.id.to_string(),
            name: c.name,
        })
        .collect();
    Ok(view::render(StatusCode::OK, &Companies { nav, companies }))
}

// --- calls ---

struct CallRow {
    id: String,
    title: String,
    host: Person,
    started: String,
    private: bool,
}

#[derive(Template)]
#[template(path = "console/calls.html")]
struct Calls {
    nav: Nav,
    company: String,
    company_name: String,
    q: String,
    calls: Vec<CallRow>,
    next: Option<String>,
}

pub async fn calls(
    State(state): State<AppState>,
    session: Session,
    Path(company): Path<String>,
    query: QueryParams,
) -> Result<Response, Failure> {
    let Search {
        company,
        company_name,
        q,
        after,
    } = Search::of(&state, &company, &query).await?;
    let page = ops::find::calls(state.store.as_ref(), company, &q, after, PAGE_ROWS).await?;
    let hosts = people(
        &state,
        company,
        page.items.iter().map(|c| c.primary_user_id),
    )
    .await?;
    let next = next_search(&page, "calls", company, &q, |c| c.id.get());
    let calls = page
        .items
        .iter()
        .map(|call| CallRow {
            id: call.id.to_string(),
            title: title_of(call),
            host: person(&hosts, call.primary_user_id),
            started: call.started.map(|t| t.to_string()).unwrap_or_default(),
            private: call.is_private,
        })
        .collect();
    Ok(view::render(
        StatusCode::OK,
        &Calls {
            nav: Nav::new(&session, Some(company), "calls"),
            company: company.to_string(),
            company_name,
            q,
            calls,
            next,
        },
    ))
}

// --- users ---

struct UserRow {
    user: Person,
    email: String,
    manager: Option<Person>,
    active: bool,
}

#[derive(Template)]
#[template(path = "console/users.html")]
struct Users {
    nav: Nav,
    company: String,
    company_name: String,
    q: String,
    users: Vec<UserRow>,
    next: Option<String>,
}

pub async fn users(
    State(state): State<AppState>,
    session: Session,
    Path(company): Path<String>,
    query: QueryParams,
) -> Result<Response, Failure> {
    let Search {
        company,
        company_name,
        q,
        after,
    } = Search::of(&state, &company, &query).await?;
    let page = ops::find::users(state.store.as_ref(), company, &q, after, PAGE_ROWS).await?;
    let managers = people(
        &state,
        company,
        page.items.iter().filter_map(|u| u.manager_id),
    )
    .await?;
    let next = next_search(&page, "users", company, &q, |u| u.id.get());
    let users = page
        .items
        .iter()
        .map(|user| UserRow {
            user: Person::new(user.id, name_of(user)),
            email: user.email_address.clone(),
            manager: user.manager_id.map(|m| person(&managers, m)),
            active: user.active,
        })
        .collect();
    Ok(view::render(
        StatusCode::OK,
        &Users {
            nav: Nav::new(&session, Some(company), "users"),
            company: company.to_string(),
            company_name,
            q,
            users,
            next,
        },
    ))
}

/// What a search page asks: the company (which must exist), the text
/// (`?q=`) and where the page starts (`?cursor=`).
struct Search {
    company: CompanyId,
    company_name: String,
    q: String,
    after: Option<i64>,
}

impl Search {
    async fn of(state: &AppState, company: &str, query: &QueryParams) -> Result<Self, Failure> {
        let (company, company_name) = company_of(state, company).await?;
        let q = query.get("q").map_err(Failure::bad_request)?.unwrap_or("");
        Ok(Self {
            company,
            company_name,
            q: q.to_owned(),
            after: cursor_of(query)?,
        })
    }
}

/// The next page of a search (`list`: `calls` or `users`) after `page`.
fn next_search<T>(
    page: &Page<T>,
    list: &str,
    company: CompanyId,
    q: &str,
    id: impl Fn(&T) -> i64,
) -> Option<String> {
    page.more.then(|| page.items.last()).flatten().map(|last| {
        format!(
            "/console/companies/{company}/{list}?q={}&cursor={}",
            view::form_encode(q),
            id(last)
        )
    })
}

// --- one call ---

struct ViewerRow {
    user: Person,
    badges: Vec<Badge>,
    api_grant: bool,
}

#[derive(Template)]
#[template(path = "console/call.html")]
struct CallPage {
    nav: Nav,
    company: String,
    title: String,
    call_id: String,
    host: Person,
    private: bool,
    viewers: Vec<ViewerRow>,
    next: Option<String>,
    can_write: bool,
    csrf: String,
    /// What the write of this request did (or why it did nothing).
    flash: Option<String>,
}

/// The call page, with `flash` saying what a write did.
async fn call_page(
    state: &AppState,
    session: &Session,
    company: CompanyId,
    call_id: CallId,
    after: Option<i64>,
    flash: Option<String>,
    status: StatusCode,
) -> Result<Response, Failure> {
    let call = state
        .store
        .call(Caller::verified(company), call_id)
        .await?
        .ok_or_else(|| {
            store_error(StoreError::NoCall {
                company,
                call: call_id,
            })
        })?;
    let page = state
        .store
        .call_viewers(company, call_id, page_after(after))
        .await?;
    let named = page
        .items
        .iter()
        .flat_map(|v| std::iter::once(v.user).chain(view::chain_users(&v.routes)))
        .chain([call.primary_user_id]);
    let users = people(state, company, named.collect::<Vec<_>>()).await?;
    let routes = with_granters(
        state,
        company,
        page.items.iter().map(|v| (call_id, v.user, &v.routes)),
    )
    .await?;
    let name = |id: UserId| person(&users, id).name;
    let viewers = page
        .items
        .iter()
        .zip(&routes)
        .map(|(viewer, routes)| {
            let badges: Vec<Badge> = routes.iter().map(|r| Badge::of(r, name)).collect();
            ViewerRow {
                user: person(&users, viewer.user),
                api_grant: badges.iter().any(Badge::is_api_grant),
                badges,
            }
        })
        .collect();
    let next = page.more.then(|| page.items.last()).flatten().map(|last| {
        format!(
            "/console/companies/{company}/calls/{call_id}?cursor={}",
            last.user
        )
    });
    let page = CallPage {
        nav: Nav::new(session, Some(company), "calls"),
        company: company.to_string(),
        title: title_of(&call),
        call_id: call_id.to_string(),
        host: person(&users, call.primary_user_id),
        private: call.is_private,
        viewers,
        next,
        can_write: session.can_write(),
        csrf: session.csrf(),
        flash,
    };
    Ok(view::render(status, &page))
}

pub async fn call(
    State(state): State<AppState>,
    session: Session,
    Path((company, call)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, Failure> {
    let (company, _) = company_of(&state, &company).await?;
    let call = path_id(&call, "call")?;
    let after = cursor_of::<i64>(&query)?;
    call_page(&state, &session, company, call, after, None, StatusCode::OK).await
}

/// What a grant or revoke form asks: checked (session, CSRF), then the
/// company, call and user it names.
async fn write_target(
    state: &AppState,
    session: &Session,
    company: &str,
    call: &str,
    body: &Bytes,
) -> Result<(CompanyId, CallId, Result<User, StoreError>), Failure> {
    let form = QueryParams::parse(&String::from_utf8_lossy(body));
    session.allow_write(&form)?;
    let (company, _) = company_of(state, company).await?;
    let call: CallId = path_id(call, "call")?;
    let text = form
        .get("user")
        .map_err(Failure::bad_request)?
        .unwrap_or("");
    let user = ops::find::user(state.store.as_ref(), company, text).await;
    Ok((company, call, user))
}

/// Which button: `PUT` or `DELETE /v2/calls/users-access` for one pair.
#[derive(Clone, Copy)]
enum Change {
    Grant,
    Revoke,
}

/// `POST …/calls/{call}/grant` with `user` (an id or an email address),
/// and `POST …/calls/{call}/revoke` with `user`.
pub async fn change(
    State(state): State<AppState>,
    session: Session,
    Extension(context): Extension<Arc<RequestContext>>,
    Path((company, call, button)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, Failure> {
    let change = match button.as_str() {
        "grant" => Change::Grant,
        "revoke" => Change::Revoke,
        _ => {
            return Err(Failure::Page(
                StatusCode::NOT_FOUND,
                "a call's page takes only grant and revoke".to_owned(),
            ))
        }
    };
    let target = (company.as_str(), call.as_str());
    change_access(&state, &session, &context, target, &body, change).await
}

/// A grant or revoke button: the checks, then the `/v2` operation itself,
/// then the call page saying what it did.
async fn change_access(
    state: &AppState,
    session: &Session,
    context: &RequestContext,
    (company, call): (&str, &str),
    body: &Bytes,
    change: Change,
) -> Result<Response, Failure> {
    let (company, call, user) = write_target(state, session, company, call, body).await?;
    let user = match user {
        Ok(user) => user,
        Err(e) => return refused_write(state, session, company, call, e).await,
    };
    let pair = AccessChange::new([(call, [user.id])]);
    let store = state.store.as_ref();
    let caller = Caller::verified(company);
    let origin = session.origin(context);
    let done = match change {
        Change::Grant => crate::http::Grant(pair).run(store, caller, &origin).await,
        Change::Revoke => crate::http::Revoke(pair).run(store, caller, &origin).await,
    };
    if let Err(e) = done {
        return refused_write(state, session, company, call, e).await;
    }
    let who = format!("{} ({})", name_of(&user), user.id);
    let flash = match change {
        Change::Revoke => format!("Revoked the API grant of {who} to this call."),
        Change::Grant => {
            let routes = store.access_routes(company, call, user.id).await?;
            if routes.iter().any(|r| matches!(r, Route::ApiGrant(_))) {
                format!("Granted {who} access to this call.")
            } else {
                format!("{who} can already open this call, so no API grant was recorded.")
            }
        }
    };
    call_page(
        state,
        session,
        company,
        call,
        None,
        Some(flash),
        StatusCode::OK,
    )
    .await
}

/// A write the store refused: the call page again, saying why, with the
/// status the admin API would give (a 5xx is the envelope's).
async fn refused_write(
    state: &AppState,
    session: &Session,
    company: CompanyId,
    call: CallId,
    error: StoreError,
) -> Result<Response, Failure> {
    use axum::response::IntoResponse as _;
    let mut answer = store_error(error).into_response();
    let status = answer.status();
    if status.is_server_error() {
        return Ok(answer);
    }
    let message = answer
        .extensions_mut()
        .remove::<crate::http::error::ErrorMessages>()
        .map(|m| m.errors.join("; "))
        .unwrap_or_default();
    call_page(state, session, company, call, None, Some(message), status).await
}

// --- one user ---

struct ProfileRow {
    workspace: String,
    profile: String,
    level: String,
}

struct UserCallRow {
    id: String,
    title: String,
    badges: Vec<Badge>,
}

#[derive(Template)]
#[template(path = "console/user.html")]
struct UserPage {
    nav: Nav,
    company: String,
    name: String,
    user_id: String,
    email: String,
    active: bool,
    profiles: Vec<ProfileRow>,
    managers: Vec<Person>,
    calls: Vec<UserCallRow>,
    next: Option<String>,
}

pub async fn user(
    State(state): State<AppState>,
    session: Session,
    Path((company, user)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, Failure> {
    let (company, _) = company_of(&state, &company).await?;
    let user_id: UserId = path_id(&user, "user")?;
    let after = cursor_of(&query)?;
    let store = state.store.as_ref();
    let user = store
        .user(Caller::verified(company), user_id)
        .await?
        .ok_or_else(|| {
            store_error(StoreError::NoUser {
                company,
                user: user_id,
            })
        })?;
    let profiles = ops::find::profiles_of(store, company, user_id)
        .await?
        .into_iter()
        .map(|(workspace, profile)| ProfileRow {
            workspace: workspace.name,
            level: profile.calls.level.as_str().to_owned(),
            profile: profile.name,
        })
        .collect();
    let managers = ops::find::manager_chain(store, company, &user)
        .await?
        .iter()
        .map(|m| Person::new(m.id, name_of(m)))
        .collect();
    let page = store
        .user_calls(company, user_id, page_after(after))
        .await?;
    let ids: Vec<CallId> = page.items.iter().map(|c| c.call).collect();
    let titles: HashMap<CallId, String> = if ids.is_empty() {
        HashMap::new()
    } else {
        let page = all_of(&ids);
        store
            .list_calls(
                Caller::verified(company),
                &CallFilter {
                    ids: Some(ids),
                    ..CallFilter::default()
                },
                page,
            )
            .await?
            .items
            .iter()
            .map(|c| (c.id, title_of(c)))
            .collect()
    };
    let users = people(
        &state,
        company,
        page.items
            .iter()
            .flat_map(|c| view::chain_users(&c.routes))
            .collect::<Vec<_>>(),
    )
    .await?;
    let name = |id: UserId| person(&users, id).name;
    let routes = with_granters(
        &state,
        company,
        page.items.iter().map(|c| (c.call, user_id, &c.routes)),
    )
    .await?;
    let calls = page
        .items
        .iter()
        .zip(&routes)
        .map(|(found, routes)| UserCallRow {
            id: found.call.to_string(),
            title: titles
                .get(&found.call)
                .cloned()
                .unwrap_or_else(|| format!("Call {}", found.call)),
            badges: routes.iter().map(|r| Badge::of(r, name)).collect(),
        })
        .collect();
    let next = page.more.then(|| page.items.last()).flatten().map(|last| {
        format!(
            "/console/companies/{company}/users/{user_id}?cursor={}",
            last.call
        )
    });
    Ok(view::render(
        StatusCode::OK,
        &UserPage {
            nav: Nav::new(&session, Some(company), "users"),
            company: company.to_string(),
            name: name_of(&user),
            user_id: user_id.to_string(),
            email: user.email_address.clone(),
            active: user.active,
            profiles,
            managers,
            calls,
            next,
        },
    ))
}
