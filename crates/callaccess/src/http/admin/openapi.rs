//! `/admin/v1/openapi.json`: the admin API's own OpenAPI 3 document, apart
//! from Gong's (`/openapi.json`), with bearer (admin token) security.
//!
//! Built from one table of the admin operations rather than from handler
//! annotations: the admin bodies are small and read with serde, and one
//! table keeps every operation, its summary and whether a read-only token
//! may use it in one place.

use std::sync::OnceLock;

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderValue;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{
    ComponentsBuilder, ContentBuilder, InfoBuilder, OpenApi, OpenApiBuilder, PathItem,
    PathsBuilder, Required, ResponseBuilder,
};

use crate::http::AppState;

pub fn routes() -> Router<AppState> {
    Router::new().route("/admin/v1/openapi.json", get(document_json))
}

/// (method, path, operation id, summary). Read-only tokens may use the
/// GETs only.
const OPERATIONS: &[(HttpMethod, &str, &str, &str)] = &[
    (HttpMethod::Get, "/admin/v1/companies", "listCompanies", "List companies (paged)."),
    (HttpMethod::Post, "/admin/v1/companies", "createCompany", "Create a company: {name, id?, rateLimit?: {perSecond?, perDay?}}."),
    (HttpMethod::Get, "/admin/v1/companies/{id}", "getCompany", "One company."),
    (HttpMethod::Patch, "/admin/v1/companies/{id}", "updateCompany", "Change a company's rate limits: {rateLimit: {perSecond?, perDay?}} (a number, \"off\" or \"default\")."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/workspaces", "listWorkspaces", "A company's workspaces (paged)."),
    (HttpMethod::Post, "/admin/v1/companies/{id}/workspaces", "createWorkspace", "Add a workspace: {name, id?, description?}."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/users", "listUsers", "A company's users by id (paged)."),
    (HttpMethod::Post, "/admin/v1/companies/{id}/users", "addUser", "Add a user: {id, emailAddress, firstName?, lastName?, title?, active?, managerId?, callsAccess?}."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/users/{userId}", "getUser", "One user."),
    (HttpMethod::Patch, "/admin/v1/companies/{id}/users/{userId}", "updateUser", "Change a user in one write, all or nothing: {managerId?: id|null, callsAccess?, profileIds?, active?}."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/calls", "listCalls", "A company's calls by id (paged)."),
    (HttpMethod::Post, "/admin/v1/companies/{id}/calls", "addCall", "Add a call: {id, primaryUserId, participantIds?, title?, workspaceId?, isPrivate?, started?, clientUniqueId?, direction?, purpose?}."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/calls/{callId}", "getCall", "One call."),
    (HttpMethod::Patch, "/admin/v1/companies/{id}/calls/{callId}", "updateCall", "Mark a call private or not: {isPrivate}."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/shares", "listShares", "A company's shares as {callId, userId}, by call then user (paged)."),
    (HttpMethod::Post, "/admin/v1/companies/{id}/shares", "addShare", "Share a call with a user: {callId, userId}."),
    (HttpMethod::Delete, "/admin/v1/companies/{id}/shares", "removeShare", "Stop sharing a call with a user: {callId, userId}."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/profiles", "listProfiles", "A company's permission profiles, every workspace (paged)."),
    (HttpMethod::Post, "/admin/v1/companies/{id}/profiles", "createProfile", "Create a permission profile in ?workspaceId= (Gong's PermissionProfileDTO)."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/profiles/{profileId}", "getProfile", "One permission profile."),
    (HttpMethod::Put, "/admin/v1/companies/{id}/profiles/{profileId}", "updateProfile", "Replace a permission profile's fields (Gong's PermissionProfileDTO)."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/api-keys", "listApiKeys", "A company's API keys, never their secrets (paged)."),
    (HttpMethod::Post, "/admin/v1/companies/{id}/api-keys", "createApiKey", "Create an API key: {scopes?, expires?}; the secret is in this answer only."),
    (HttpMethod::Delete, "/admin/v1/companies/{id}/api-keys/{accessKey}", "revokeApiKey", "Revoke an API key."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/tokens", "listTokens", "A company's bearer tokens, never the tokens (paged)."),
    (HttpMethod::Post, "/admin/v1/companies/{id}/tokens", "createToken", "Create a bearer token: {scopes, expires?}; the token is in this answer only."),
    (HttpMethod::Delete, "/admin/v1/companies/{id}/tokens/{tokenId}", "revokeToken", "Revoke a bearer token."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/access", "explainAccess", "Whether ?userId= can open ?callId=, and every route that opens it: apiGrant (grantedAt), shared, profile (profile, name, level; chain and teamOf for hierarchy levels)."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/calls/{callId}/viewers", "listCallViewers", "Every user who can open the call, by user id, each with its routes (paged)."),
    (HttpMethod::Get, "/admin/v1/companies/{id}/users/{userId}/calls", "listUserCalls", "Every call the user can open, by call id, each with its routes (paged)."),
    (HttpMethod::Post, "/admin/v1/import", "importSeed", "Apply a seed document, as `callaccess import`."),
    (HttpMethod::Get, "/admin/v1/export", "exportSeed", "The state as a seed document (?company=)."),
    (HttpMethod::Post, "/admin/v1/reset", "reset", "Remove all data or one company's (?company=), optionally applying {seed} in the same transaction."),
    (HttpMethod::Get, "/admin/v1/requests", "listRequests", "The request journal, newest first (?method=&path=&status=&company=&since=&limit=)."),
    (HttpMethod::Post, "/admin/v1/requests/count", "countRequests", "Count journal entries: {method?, path?, status?, company?, bodyIncludes?}."),
    (HttpMethod::Delete, "/admin/v1/requests", "clearRequests", "Clear the request journal."),
    (HttpMethod::Get, "/admin/v1/faults", "listFaults", "Fault rules, with fired counts."),
    (HttpMethod::Post, "/admin/v1/faults", "addFaults", "Add a fault rule or an array of them."),
    (HttpMethod::Delete, "/admin/v1/faults", "clearFaults", "Remove every fault rule."),
    (HttpMethod::Delete, "/admin/v1/faults/{id}", "removeFault", "Remove one fault rule."),
    (HttpMethod::Get, "/admin/v1/clock", "getClock", "The service's time and clock mode."),
    (HttpMethod::Post, "/admin/v1/clock", "moveClock", "Move a manual clock: {advance: \"1d\"} or {set: RFC 3339}; never backwards."),
    (HttpMethod::Get, "/admin/v1/audit", "listAudit", "The audit trail, oldest first (?company=&call=&user=&actor=&action=&since=&until=&order=oldest|newest&limit=&cursor=), paged."),
    (HttpMethod::Get, "/admin/v1/changes", "streamChanges", "Audit entries as Server-Sent Events as they commit (id: the sequence number); resumes after Last-Event-ID or ?after=; filters ?company=&call=&user=&actor=&action=; a heartbeat comment when idle."),
    (HttpMethod::Get, "/admin/v1/openapi.json", "adminOpenApi", "This document."),
];

/// The path's `{name}` parameters.
fn path_parameters(path: &str) -> Vec<utoipa::openapi::path::Parameter> {
    path.split('/')
        .filter_map(|part| part.strip_prefix('{').and_then(|p| p.strip_suffix('}')))
        .map(|name| {
            ParameterBuilder::new()
                .name(name)
                .parameter_in(ParameterIn::Path)
                .required(Required::True)
                .build()
        })
        .collect()
}

/// The required query parameters of an operation: explain names its pair
/// there.
fn query_parameters(operation: &str) -> Vec<utoipa::openapi::path::Parameter> {
    let names: &[&str] = match operation {
        "explainAccess" => &["callId", "userId"],
        _ => &[],
    };
    names
        .iter()
        .map(|name| {
            ParameterBuilder::new()
                .name(*name)
                .parameter_in(ParameterIn::Query)
                .required(Required::True)
                .build()
        })
        .collect()
}

/// Every write reads a JSON body but a DELETE that names its target in
/// the path (or clears a list).
fn reads_body(method: &HttpMethod, path: &str) -> bool {
    match method {
        HttpMethod::Get => false,
        HttpMethod::Delete => path.ends_with("/shares"),
        _ => true,
    }
}

pub fn document() -> OpenApi {
    let json = || ContentBuilder::new().build();
    let mut paths = PathsBuilder::new();
    for (method, path, id, summary) in OPERATIONS {
        let read = matches!(method, HttpMethod::Get);
        let mut operation = OperationBuilder::new()
            .operation_id(Some(*id))
            .summary(Some(*summary))
            .tag("Admin")
            .parameters(Some(
                path_parameters(path)
                    .into_iter()
                    .chain(query_parameters(id))
                    .collect::<Vec<_>>(),
            ))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("Done; lists answer {items, nextCursor}")
                    .content("application/json", json()),
            )
            .response(
                "400",
                ResponseBuilder::new()
                    .description("Malformed request or refused value")
                    .content("application/json", json()),
            )
            .response(
                "401",
                ResponseBuilder::new()
                    .description("No valid admin token")
                    .content("application/json", json()),
            )
            .response(
                "404",
                ResponseBuilder::new()
                    .description("No such company, entity or endpoint")
                    .content("application/json", json()),
            )
            .security(SecurityRequirement::new("adminToken", Vec::<String>::new()));
        if !read {
            operation = operation
                .response(
                    "403",
                    ResponseBuilder::new()
                        .description("A read-only admin token")
                        .content("application/json", json()),
                )
                .response(
                    "409",
                    ResponseBuilder::new()
                        .description("Exists already, or not possible now")
                        .content("application/json", json()),
                );
        }
        if reads_body(method, path) {
            operation = operation.request_body(Some(
                RequestBodyBuilder::new()
                    .content("application/json", json())
                    .build(),
            ));
        }
        paths = paths.path(*path, PathItem::new(method.clone(), operation));
    }
    let mut components = ComponentsBuilder::new().build();
    components.add_security_scheme(
        "adminToken",
        SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
    );
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("callaccess admin API")
                .version(env!("CARGO_PKG_VERSION"))
                .description(Some(
                    "The control plane of callaccess: directory management, state for tests, \
                     the request journal, fault rules and the clock. Authenticate with \
                     'Authorization: Bearer <admin token>' (`callaccess admin-token create`); \
                     a read-only token may use GET only. Errors use Gong's envelope \
                     {requestId, errors}.",
                ))
                .build(),
        )
        .paths(paths.build())
        .components(Some(components))
        .build()
}

async fn document_json() -> Response {
    static DOCUMENT: OnceLock<Vec<u8>> = OnceLock::new();
    let bytes = DOCUMENT.get_or_init(|| serde_json::to_vec(&document()).unwrap_or_default());
    let mut response = bytes.clone().into_response();
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}
