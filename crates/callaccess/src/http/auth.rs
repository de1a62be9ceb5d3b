//! Authentication: who is calling, for which company, with which scopes.
//!
//! `Authorization: Basic base64(accessKey:accessKeySecret)` names an API key;
//! `Authorization: Bearer <token>` names an access token. Either resolves to a
//! [`Principal`]: one company and, for scoped credentials, the scopes it may
//! use. Every failure is the same [`ApiError::Unauthenticated`].

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use callaccess_domain::secret;
use callaccess_domain::{CompanyId, RateLimit, Scope, StoredCredential, Timestamp};

use super::error::ApiError;
use super::request_id::RequestContext;
use super::AppState;

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub company: CompanyId,
    /// `None`: full access (an API key created without scopes, as in Gong).
    /// `Some`: only these scopes (bearer tokens, scoped keys).
    pub scopes: Option<Arc<[Scope]>>,
}

impl Principal {
    /// Refuses the request unless the credential carries `scope`.
    pub fn require(&self, scope: &'static str) -> Result<(), ApiError> {
        match &self.scopes {
            None => Ok(()),
            Some(scopes) if scopes.iter().any(|s| s.as_str() == scope) => Ok(()),
            Some(_) => Err(ApiError::MissingScope(scope)),
        }
    }
}

/// A credential as the client presented it.
enum Presented {
    Basic { access_key: String, secret: String },
    Bearer(String),
}

fn parse_header(value: &str) -> Option<Presented> {
    let (scheme, rest) = value.trim().split_once(' ')?;
    let rest = rest.trim();
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = STANDARD.decode(rest).ok()?;
        let text = String::from_utf8(decoded).ok()?;
        let (access_key, secret) = text.split_once(':')?;
        if access_key.is_empty() || secret.is_empty() {
            return None;
        }
        Some(Presented::Basic {
            access_key: access_key.to_owned(),
            secret: secret.to_owned(),
        })
    } else if scheme.eq_ignore_ascii_case("bearer") && !rest.is_empty() {
        Some(Presented::Bearer(rest.to_owned()))
    } else {
        None
    }
}

/// Whether a stored credential may be used now.
fn usable(credential: &StoredCredential, now: Timestamp) -> bool {
    credential.revoked_at.is_none() && credential.expires_at.is_none_or(|at| now < at)
}

async fn authenticate(
    state: &AppState,
    header: Option<&str>,
) -> Result<(Principal, RateLimit), ApiError> {
    let presented = header
        .and_then(parse_header)
        .ok_or(ApiError::Unauthenticated)?;
    let credential = match &presented {
        Presented::Basic {
            access_key,
            secret: presented_secret,
        } => {
            let found = state.store.api_key(access_key).await?;
            // Compare against a fixed digest when the key is unknown, so an
            // unknown key costs the same as a wrong secret.
            let expected = found.as_ref().map_or(secret::digest(""), |c| c.digest);
            let matches = secret::verify(&expected, presented_secret);
            found.filter(|_| matches)
        }
        // The token is looked up by its digest, which is what the store keeps.
        Presented::Bearer(token) => state.store.token(&secret::digest(token)).await?,
    };
    match credential {
        Some(c) if usable(&c, Timestamp::now()) => Ok((
            Principal {
                company: c.company,
                scopes: c.scopes.map(Arc::from),
            },
            c.rate_limit,
        )),
        _ => Err(ApiError::Unauthenticated),
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let (principal, rate_limit) = authenticate(state, header).await?;
        if let Some(context) = parts.extensions.get::<Arc<RequestContext>>() {
            let _ = context.company.set(principal.company);
        }
        // Every authenticated request counts, whatever becomes of it later.
        let policy = state.rate_limits.policy(&rate_limit);
        if let Err(exceeded) = state.limiter.acquire(principal.company, policy).await {
            let window = match exceeded.window {
                crate::ratelimit::Window::Second => "second",
                crate::ratelimit::Window::Day => "day",
            };
            metrics::counter!("callaccess_rate_limited_total", "window" => window).increment(1);
            return Err(ApiError::RateLimited(exceeded));
        }
        Ok(principal)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_basic_and_bearer() {
        let basic = format!("Basic {}", STANDARD.encode("KEY:se:cret"));
        match parse_header(&basic) {
            Some(Presented::Basic { access_key, secret }) => {
                assert_eq!(access_key, "KEY");
                assert_eq!(secret, "se:cret");
            }
            _ => panic!("basic not parsed"),
        }
        assert!(matches!(parse_header("bearer abc"), Some(Presented::Bearer(t)) if t == "abc"));
        for bad in [
            "",
            "Basic",
            "Basic !!!",
            "Bearer ",
            "Digest abc",
            &format!("Basic {}", STANDARD.encode("nocolon")),
        ] {
            assert!(parse_header(bad).is_none(), "{bad:?}");
        }
    }
}
