//! Companies and everything in them: the checks the CLI and the admin API
//! make before the store's, then the store call.

use callaccess_domain::{
    secret, ApiKeyInfo, Call, CallDetails, CallId, Company, CompanyId, Limit, NewApiKey,
    NewCompany, NewToken, Origin, RateLimit, Scope, Store, StoreError, Timestamp, TokenInfo, User,
    UserId, UserUpdate, Workspace, WorkspaceId,
};

use super::{
    blank_is_none, check_email, check_new_credential, invalid, require_company, required_name,
};

// --- companies ---

/// A new company (a random id when none is given) with its own rate
/// limits.
pub async fn create_company(
    store: &dyn Store,
    name: &str,
    id: Option<CompanyId>,
    rate_limit: RateLimit,
) -> Result<Company, StoreError> {
    let name = required_name(name, "a company name")?;
    store
        .create_company(&NewCompany {
            id: id.unwrap_or_else(CompanyId::random),
            name,
            rate_limit,
        })
        .await
}

/// Changes a company's own limits; a limit not given is kept.
/// `nothing`: the message when neither is given, in the caller's terms.
pub async fn set_rate_limit(
    store: &dyn Store,
    company: CompanyId,
    per_second: Option<Limit>,
    per_day: Option<Limit>,
    nothing: &str,
) -> Result<Company, StoreError> {
    let current = require_company(store, company).await?;
    if per_second.is_none() && per_day.is_none() {
        return Err(invalid(nothing));
    }
    let wanted = RateLimit {
        per_second: per_second.unwrap_or(current.rate_limit.per_second),
        per_day: per_day.unwrap_or(current.rate_limit.per_day),
    };
    store.set_rate_limit(company, wanted).await
}

/// A company's limit as an operator writes it: a positive number, `off`,
/// or `default` (the server's setting).
pub fn parse_limit(text: &str) -> Result<Limit, String> {
    if text.eq_ignore_ascii_case("default") {
        return Ok(Limit::Default);
    }
    match text.parse::<crate::config::LimitSetting>()? {
        crate::config::LimitSetting::Off => Ok(Limit::Off),
        crate::config::LimitSetting::Max(n) => Ok(Limit::Max(n.get())),
    }
}

// --- workspaces ---

pub async fn create_workspace(
    store: &dyn Store,
    company: CompanyId,
    id: Option<WorkspaceId>,
    name: &str,
    description: Option<String>,
) -> Result<Workspace, StoreError> {
    require_company(store, company).await?;
    let name = required_name(name, "a workspace name")?;
    store
        .create_workspace(&Workspace {
            company,
            id: id.unwrap_or_else(WorkspaceId::random),
            name,
            description: blank_is_none(description),
        })
        .await
}

// --- users ---

/// Adds the user (with their manager and default-workspace access, in one
/// write) once the company exists and the email reads as one; blank names
/// and title are none.
pub async fn add_user(store: &dyn Store, origin: &Origin, user: User) -> Result<User, StoreError> {
    require_company(store, user.company).await?;
    check_email(&user.email_address)?;
    let user = User {
        first_name: blank_is_none(user.first_name),
        last_name: blank_is_none(user.last_name),
        title: blank_is_none(user.title),
        ..user
    };
    store.add_user(origin, &user).await?;
    Ok(user)
}

/// Changes a user's manager, `active`, level and profiles in one write
/// once the company exists; the store checks the user, the profiles and
/// the manager. `nothing`: the message when the change names no field, in
/// the caller's terms.
pub async fn update_user(
    store: &dyn Store,
    origin: &Origin,
    company: CompanyId,
    user: UserId,
    change: &UserUpdate,
    nothing: &str,
) -> Result<(), StoreError> {
    require_company(store, company).await?;
    if change.is_empty() {
        return Err(invalid(nothing));
    }
    store.update_user(origin, company, user, change).await
}

/// The company's shares as (call, user), by call then user, once the
/// company exists.
pub async fn shares(
    store: &dyn Store,
    company: CompanyId,
) -> Result<Vec<(CallId, UserId)>, StoreError> {
    require_company(store, company).await?;
    store.shares(company).await
}

// --- calls ---

/// Adds the call once the company exists; each participant once, blank
/// texts none.
pub async fn add_call(store: &dyn Store, origin: &Origin, call: Call) -> Result<Call, StoreError> {
    require_company(store, call.company).await?;
    let mut participants = call.participant_ids;
    let mut seen = std::collections::HashSet::new();
    participants.retain(|p| seen.insert(*p));
    let call = Call {
        title: blank_is_none(call.title),
        client_unique_id: blank_is_none(call.client_unique_id),
        participant_ids: participants,
        details: CallDetails {
            purpose: blank_is_none(call.details.purpose),
            ..call.details
        },
        ..call
    };
    store.add_call(origin, &call).await?;
    Ok(call)
}

// --- shares ---

pub async fn add_share(
    store: &dyn Store,
    origin: &Origin,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<(), StoreError> {
    require_company(store, company).await?;
    store.add_share(origin, company, call, user).await
}

/// Removing a share that is not there is most likely a mistyped id, which
/// the operator should hear about.
pub async fn remove_share(
    store: &dyn Store,
    origin: &Origin,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<(), StoreError> {
    require_company(store, company).await?;
    if store.remove_share(origin, company, call, user).await? {
        Ok(())
    } else {
        Err(StoreError::Invalid(format!(
            "call \"{call}\" is not shared with user \"{user}\" in company \"{company}\""
        )))
    }
}

// --- credentials ---

/// A created API key: what is stored, and the secret, shown this once.
#[derive(Debug, Clone)]
pub struct CreatedKey {
    pub info: ApiKeyInfo,
    pub secret: String,
}

/// A created bearer token: what is stored, and the token, shown this once.
#[derive(Debug, Clone)]
pub struct CreatedToken {
    pub info: TokenInfo,
    pub token: String,
}

/// A new API key with a fresh access key and secret; no scopes: full access.
pub async fn create_api_key(
    store: &dyn Store,
    origin: &Origin,
    company: CompanyId,
    scopes: Vec<Scope>,
    expires: Option<&str>,
    now: Timestamp,
) -> Result<CreatedKey, StoreError> {
    let expires_at = check_new_credential(store, company, expires, now).await?;
    let access_key = secret::generate_access_key();
    let key_secret = secret::generate_secret();
    let info = store
        .create_api_key(
            origin,
            &NewApiKey {
                access_key,
                company,
                digest: secret::digest(&key_secret),
                scopes: (!scopes.is_empty()).then_some(scopes),
                expires_at,
            },
        )
        .await?;
    Ok(CreatedKey {
        info,
        secret: key_secret,
    })
}

/// A new bearer token; it carries at least one scope.
pub async fn create_token(
    store: &dyn Store,
    origin: &Origin,
    company: CompanyId,
    scopes: Vec<Scope>,
    expires: Option<&str>,
    now: Timestamp,
) -> Result<CreatedToken, StoreError> {
    let expires_at = check_new_credential(store, company, expires, now).await?;
    if scopes.is_empty() {
        return Err(invalid("a token needs at least one scope"));
    }
    let token = secret::generate_secret();
    let info = store
        .create_token(
            origin,
            &NewToken {
                company,
                digest: secret::digest(&token),
                scopes,
                expires_at,
            },
        )
        .await?;
    Ok(CreatedToken { info, token })
}

/// Scopes an operator gives for a new credential: Gong's only.
pub fn parse_scopes(given: &[String]) -> Result<Vec<Scope>, StoreError> {
    given
        .iter()
        .map(|s| Scope::parse_known(s).map_err(invalid))
        .collect()
}
