//! Why a user can open a call: the store's routes, with who recorded an
//! API grant taken from the audit trail.

use callaccess_domain::access::Route;
use callaccess_domain::{
    Action, AuditFilter, AuditOrder, AuditPage, CallId, CompanyId, Store, StoreError, UserId,
};

/// Every route by which `user` opens `call` ([`Store::access_routes`]);
/// an API grant says who recorded it and in which request, from the
/// newest `grant.add` entry of the pair.
pub async fn access(
    store: &dyn Store,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Vec<Route>, StoreError> {
    let routes = store.access_routes(company, call, user).await?;
    with_granter(store, company, call, user, routes).await
}

/// `routes` of `user` to `call` (as a listing of viewers or of a user's
/// calls gives them), an API grant among them saying who recorded it.
pub async fn with_granter(
    store: &dyn Store,
    company: CompanyId,
    call: CallId,
    user: UserId,
    mut routes: Vec<Route>,
) -> Result<Vec<Route>, StoreError> {
    let Some(index) = routes.iter().position(|r| matches!(r, Route::ApiGrant(_))) else {
        return Ok(routes);
    };
    let filter = AuditFilter {
        company: Some(company),
        call: Some(call),
        user: Some(user),
        action: Some(Action::GrantAdd),
        ..AuditFilter::default()
    };
    let newest = AuditPage {
        order: AuditOrder::Newest,
        from: None,
        limit: 1,
    };
    if let Some(entry) = store.audit(&filter, newest).await?.first() {
        if let Route::ApiGrant(grant) = &routes[index] {
            routes[index] = Route::ApiGrant(grant.clone().by(entry));
        }
    }
    Ok(routes)
}
