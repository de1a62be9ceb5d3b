//! Explain and reverse lookup (control-plane.md §8): why a user can open
//! a call, who can open a call and which calls a user can open, each
//! with every route as the store's [`Route`] names it. GETs only, so a
//! read-only admin token may use them; the lists page by id with
//! `?limit=&cursor=`.

use axum::extract::{Path, State};
use axum::response::Response;
use axum::routing::get;
use axum::Router;
use callaccess_domain::access::Route;
use callaccess_domain::page::Page;
use callaccess_domain::{CallId, UserId};
use serde::Serialize;

use super::directory::{company_of, path_id, store_page, store_paging};
use super::{ok, store_error, Paging};
use crate::http::error::ApiError;
use crate::http::query::QueryParams;
use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/admin/v1/companies/{id}/access", get(explain))
        .route(
            "/admin/v1/companies/{id}/calls/{call}/viewers",
            get(viewers),
        )
        .route("/admin/v1/companies/{id}/users/{user}/calls", get(calls))
}

/// The answer of `…/access`: whether the user can open the call, and
/// every route that opens it (API grant first; none when they cannot).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Explained {
    call_id: CallId,
    user_id: UserId,
    can_open: bool,
    routes: Vec<Route>,
}

/// One item of a call's viewers.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedViewer {
    user_id: UserId,
    routes: Vec<Route>,
}

/// One item of a user's calls.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ListedCall {
    call_id: CallId,
    routes: Vec<Route>,
}

async fn explain(
    State(state): State<AppState>,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let company = company_of(&state, &id).await?;
    let call = query
        .required_id("callId", CallId::parse)
        .map_err(ApiError::bad_request)?;
    let user = query
        .required_id("userId", UserId::parse)
        .map_err(ApiError::bad_request)?;
    let routes = crate::ops::explain::access(state.store.as_ref(), company, call, user)
        .await
        .map_err(store_error)?;
    Ok(ok(&Explained {
        call_id: call,
        user_id: user,
        can_open: !routes.is_empty(),
        routes,
    }))
}

/// A page of the store's items, shown as `item` makes them.
fn shown<T, U>(page: Page<T>, item: impl Fn(T) -> U) -> Page<U> {
    Page {
        items: page.items.into_iter().map(item).collect(),
        more: page.more,
        total: page.total,
    }
}

async fn viewers(
    State(state): State<AppState>,
    Path((id, call)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "viewers")?;
    let company = company_of(&state, &id).await?;
    let call: CallId = path_id(&call, "call")?;
    let page = state
        .store
        .call_viewers(company, call, store_paging(&paging)?)
        .await
        .map_err(store_error)?;
    let page = shown(page, |viewer| ListedViewer {
        user_id: viewer.user,
        routes: viewer.routes,
    });
    Ok(ok(&store_page(&paging, page, |v| v.user_id.get())))
}

async fn calls(
    State(state): State<AppState>,
    Path((id, user)): Path<(String, String)>,
    query: QueryParams,
) -> Result<Response, ApiError> {
    let paging = Paging::from_query(&query, "user-calls")?;
    let company = company_of(&state, &id).await?;
    let user: UserId = path_id(&user, "user")?;
    let page = state
        .store
        .user_calls(company, user, store_paging(&paging)?)
        .await
        .map_err(store_error)?;
    let page = shown(page, |found| ListedCall {
        call_id: found.call,
        routes: found.routes,
    });
    Ok(ok(&store_page(&paging, page, |c| c.call_id.get())))
}
