//! Authentication: who is calling, for which company, with which scopes.
//!
//! `Authorization: Basic base64(accessKey:accessKeySecret)` names an API key;
//! `Authorization: Bearer <token>` names an access token. Either resolves to a
//! [`Principal`]: one company and, for scoped credentials, the scopes it may
//! use. Every failure is the same [`ApiError::Unauthenticated`].
//!
//! [`CredentialCache`] keeps credentials verified in the last second, on
//! SQLite only: the digest and the database read it saves were a quarter
//! of the time of a POST (docs/PERFORMANCE.md). Each entry remembers the
//! store's count of credential changes (`Store::credentials_epoch`) under
//! which it was verified; triggers in the file move that count on any
//! committed change to keys, tokens or company limits, whichever process
//! made it (`callaccess key revoke` runs in its own). A principal served
//! from the cache carries a [`CredentialCheck`], and the store compares
//! the count inside the request's own transaction: no extra read, and a
//! revocation committed before that transaction is never missed.
//!
//! Handlers run every store operation through [`perform`], the one place
//! that owns the protocol: the scope check, then the request's own errors
//! (answered 401 instead when a cached credential no longer holds), then
//! the operation for the principal's [`Caller`]; when the store says the
//! count moved, the credential is verified again (401 if it no longer
//! holds) and the operation runs once more. [`CREDENTIAL_TTL`] only bounds
//! how long an entry lives without being checked again. With several nodes
//! on one database no such count is cheap to read, so such a backend gets
//! no cache (`crate::db::open` decides).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use callaccess_domain::secret;
use callaccess_domain::{
    Actor, Caller, CompanyId, CredentialCheck, ExpiredCredential, Origin, RateLimit, Scope, Store,
    StoreError, StoredCredential, Timestamp,
};

use super::error::ApiError;
use super::request_id::{CredentialId, RequestContext};
use super::AppState;

/// The authenticated caller of one request.
#[derive(Debug, Clone)]
pub struct Principal {
    pub company: CompanyId,
    /// The credential, by its shown name (never the secret).
    pub credential: CredentialId,
    /// `None`: full access (an API key created without scopes, as in Gong).
    /// `Some`: only these scopes (bearer tokens, scoped keys).
    pub scopes: Option<Arc<[Scope]>>,
    /// Set when the credential came from the cache: what the store must
    /// check, and the header to verify again if the check fails.
    cached: Option<Recheck>,
    /// The id of the request the principal made, for the audit entries of
    /// its writes.
    request_id: Option<String>,
}

#[derive(Debug, Clone)]
struct Recheck {
    check: CredentialCheck,
    header: HeaderValue,
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

    /// The check the store makes in the request's transaction: `Some` when
    /// the credential came from the cache.
    pub fn check(&self) -> Option<CredentialCheck> {
        self.cached.as_ref().map(|r| r.check)
    }

    /// Who a write of this request is recorded as made by.
    pub fn origin(&self) -> Origin {
        Origin::new(self.credential.actor(), self.request_id.clone())
    }

    /// Who the store runs an operation for.
    pub fn caller(&self) -> Caller {
        Caller {
            company: self.company,
            check: self.check(),
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

/// How long a verified credential is trusted without asking the store, when
/// nothing in this process changed credentials: the bound on how late a
/// revocation made by another process takes effect.
pub const CREDENTIAL_TTL: Duration = Duration::from_secs(1);

/// Entries kept at most; past this, stale ones are dropped, and if all are
/// fresh the new one is simply not kept.
const CACHE_CAPACITY: usize = 4096;

/// Credentials verified recently, keyed by the SHA-256 of the whole
/// `Authorization` value (so no secret is kept in the clear, and a
/// different secret for the same key never matches). Only successes are
/// kept, so a key created a moment ago works at once.
pub struct CredentialCache {
    ttl: Duration,
    entries: Mutex<HashMap<[u8; 32], Cached>>,
}

#[derive(Clone)]
struct Cached {
    principal: Principal,
    rate_limit: RateLimit,
    verified_at: Instant,
    /// The store's credentials epoch read before the credential was.
    epoch: u64,
    /// The credential's own expiry, checked on every use.
    expires_at: Option<Timestamp>,
}

impl CredentialCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// An entry still within its time and its credential's expiry, with
    /// the count it was verified under; the store checks that count.
    fn get(
        &self,
        key: &[u8; 32],
        now: Instant,
        wall: Timestamp,
    ) -> Option<(Principal, RateLimit, CredentialCheck)> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        let cached = entries.get(key)?;
        let fresh = now.saturating_duration_since(cached.verified_at) < self.ttl
            && cached.expires_at.is_none_or(|at| wall < at);
        fresh.then(|| {
            (
                cached.principal.clone(),
                cached.rate_limit,
                CredentialCheck {
                    epoch: cached.epoch,
                },
            )
        })
    }

    fn forget(&self, key: &[u8; 32]) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(key);
    }

    fn put(&self, key: [u8; 32], cached: Cached) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CACHE_CAPACITY {
            let (ttl, now, epoch) = (self.ttl, cached.verified_at, cached.epoch);
            entries.retain(|_, c| {
                c.epoch == epoch && now.saturating_duration_since(c.verified_at) < ttl
            });
            if entries.len() >= CACHE_CAPACITY {
                return;
            }
        }
        entries.insert(key, cached);
    }
}

/// Whether a stored credential may be used now.
fn usable(credential: &StoredCredential, now: Timestamp) -> bool {
    credential.revoked_at.is_none() && credential.expires_at.is_none_or(|at| now < at)
}

async fn authenticate(
    state: &AppState,
    header: Option<&HeaderValue>,
    request_id: Option<&str>,
) -> Result<(Principal, RateLimit), ApiError> {
    authenticate_at(state, header, Instant::now(), true, request_id).await
}

/// [`authenticate`] at a given moment, so tests can move the clock;
/// `use_cache: false` asks the store whatever the cache holds.
async fn authenticate_at(
    state: &AppState,
    header: Option<&HeaderValue>,
    now: Instant,
    use_cache: bool,
    request_id: Option<&str>,
) -> Result<(Principal, RateLimit), ApiError> {
    let value = header.ok_or(ApiError::Unauthenticated)?;
    let text = value.to_str().map_err(|_| ApiError::Unauthenticated)?;
    let cache = state.credentials.as_deref();
    let key = cache.map(|_| secret::digest(text).0);
    if let (Some(cache), Some(key), true) = (cache, &key, use_cache) {
        // Expiry is judged on the server's clock (manual in tests); the
        // entry's age on the machine's, since it bounds how late another
        // process's revocation is seen.
        if let Some((mut principal, rate_limit, check)) = cache.get(key, now, state.clock.now()) {
            principal.cached = Some(Recheck {
                check,
                header: value.clone(),
            });
            return Ok((principal, rate_limit));
        }
    }
    // Read before the credential, so a change committed meanwhile leaves
    // the entry already stale.
    let epoch = cache.and_then(|_| state.store.credentials_epoch());
    let verified = verify(state, text, request_id).await;
    let (principal, rate_limit, expires_at) = match verified {
        Ok(verified) => verified,
        Err(e) => {
            // A credential that no longer passes must not be served from an
            // entry some request with an older clock reading could still hit.
            if let (Some(cache), Some(key)) = (cache, &key) {
                cache.forget(key);
            }
            return Err(e);
        }
    };
    if let (Some(cache), Some(key), Some(epoch)) = (cache, key, epoch) {
        cache.put(
            key,
            Cached {
                principal: principal.clone(),
                rate_limit,
                verified_at: now,
                epoch,
                expires_at,
            },
        );
    }
    Ok((principal, rate_limit))
}

/// After the store answered [`StoreError::CredentialsChanged`]: the
/// principal's credential checked against the store again, as a new
/// principal with no check left to make, or 401 if it no longer holds.
async fn reverify(state: &AppState, principal: &Principal) -> Result<Principal, ApiError> {
    let header = principal.cached.as_ref().map(|r| &r.header);
    let request_id = principal.request_id.as_deref();
    authenticate_at(state, header, Instant::now(), false, request_id)
        .await
        .map(|(principal, _)| principal)
}

/// A store future, as the `Store` trait's methods return them.
pub type StoreFuture<'a, T> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// One API operation a handler runs on the store: its scope, and how to run
/// it for a caller (possibly twice, see [`perform`]).
pub trait Operation: Send + Sync {
    type Output: Send;
    /// The scope a scoped credential needs for it.
    const SCOPE: &'static str;
    /// `origin`: who the operation's writes are recorded as made by.
    fn run<'a>(
        &'a self,
        store: &'a dyn Store,
        caller: Caller,
        origin: &'a Origin,
    ) -> StoreFuture<'a, Self::Output>;
    /// The answer to a store error of this operation: by default the one
    /// every operation gives; an operation can say which of its inputs an
    /// error is about.
    fn refine(&self, error: StoreError) -> ApiError {
        error.into()
    }
}

/// Runs `request` — the parsed request, or why it is not acceptable — for
/// `principal`: the scope first, then the request's own errors, then the
/// operation, checked in its own transaction when the credential came from
/// the cache. If keys, tokens or limits changed since the credential was
/// verified, it is verified again (401 if it no longer holds or lacks the
/// scope) and the operation runs once more.
pub async fn perform<O: Operation>(
    state: &AppState,
    principal: &Principal,
    request: Result<O, ApiError>,
) -> Result<O::Output, ApiError> {
    let operation = match principal.require(O::SCOPE).and(request) {
        Ok(operation) => operation,
        Err(error) => return Err(confirm(state, principal, error).await),
    };
    let store = state.store.as_ref();
    let origin = principal.origin();
    match operation.run(store, principal.caller(), &origin).await {
        Err(StoreError::CredentialsChanged) => {
            let fresh = reverify(state, principal).await?;
            fresh.require(O::SCOPE)?;
            operation
                .run(store, fresh.caller(), &origin)
                .await
                .map_err(|e| operation.refine(e))
        }
        result => result.map_err(|e| operation.refine(e)),
    }
}

/// For an error answer to a request whose credential came from the cache
/// and whose data was not reached (a missing scope, a bad body): 401
/// instead if the credential no longer holds, else `error` unchanged. A
/// revoked credential is thus always told 401, never why its request was
/// wrong.
async fn confirm(state: &AppState, principal: &Principal, error: ApiError) -> ApiError {
    let Some(check) = principal.check() else {
        return error;
    };
    match state.store.confirm_credentials(check).await {
        Err(StoreError::CredentialsChanged) => match reverify(state, principal).await {
            Ok(_) => error,
            Err(refused) => refused,
        },
        // Unconfirmed for another reason (the store is down): the request's
        // own answer stands, it changed nothing.
        _ => error,
    }
}

/// Checks a presented credential against the store: the principal, its
/// company's limits and the credential's expiry.
async fn verify(
    state: &AppState,
    header: &str,
    request_id: Option<&str>,
) -> Result<(Principal, RateLimit, Option<Timestamp>), ApiError> {
    let presented = parse_header(header).ok_or(ApiError::Unauthenticated)?;
    let bearer = matches!(presented, Presented::Bearer(_));
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
        Some(c) if usable(&c, state.clock.now()) => Ok((
            Principal {
                company: c.company,
                credential: if bearer {
                    CredentialId::Token(c.handle)
                } else {
                    CredentialId::ApiKey(c.handle)
                },
                scopes: c.scopes.map(Arc::from),
                cached: None,
                request_id: None,
            },
            c.rate_limit,
            c.expires_at,
        )),
        Some(c) if c.revoked_at.is_none() => {
            // Expired in use: the audit trail records it, once per
            // credential. Its failure changes nothing about the answer.
            let expired = if bearer {
                ExpiredCredential::Token(&c.handle)
            } else {
                ExpiredCredential::ApiKey(&c.handle)
            };
            let actor = if bearer {
                Actor::Token(c.handle.clone())
            } else {
                Actor::ApiKey(c.handle.clone())
            };
            let origin = Origin::new(actor, request_id.map(str::to_owned));
            if let Err(e) = state.store.note_expired_use(&origin, expired).await {
                tracing::warn!(error = %e, "an expired credential's use could not be recorded in the audit trail");
            }
            Err(ApiError::Unauthenticated)
        }
        _ => Err(ApiError::Unauthenticated),
    }
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let header = parts.headers.get(AUTHORIZATION);
        let context = parts.extensions.get::<Arc<RequestContext>>().cloned();
        let request_id = context.as_ref().map(|c| c.id.to_string());
        let (principal, rate_limit) = authenticate(state, header, request_id.as_deref()).await?;
        let mut principal = principal;
        if let Some(context) = context {
            principal.request_id = Some(context.id.to_string());
            let _ = context.company.set(principal.company);
            let _ = context.credential.set(principal.credential.clone());
        }
        // Fault rules apply to an authenticated request before it counts
        // against the rate limit; one that answers in place of the handler
        // keeps the request from reaching the store.
        crate::faults::apply(state, parts, &principal).await?;
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
    #![allow(
        clippy::unwrap_used,
        reason = "test code: a failed unwrap is a failed test"
    )]

    use super::*;
    use callaccess_domain::{NewApiKey, NewCompany, Origin};
    use callaccess_sqlite::SqliteStore;

    /// A store with one company and one full-access key, the state the
    /// handlers see (with a credential cache), and the key's header.
    async fn keyed() -> (tempfile::TempDir, AppState, String, HeaderValue) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("auth.db"))
            .await
            .unwrap();
        let company = CompanyId::from_i64(1).unwrap();
        store
            .create_company(&NewCompany {
                id: company,
                name: "A".to_owned(),
                rate_limit: RateLimit::default(),
            })
            .await
            .unwrap();
        let key = secret::generate_access_key();
        let key_secret = secret::generate_secret();
        store
            .create_api_key(
                &Origin::cli(),
                &NewApiKey {
                    access_key: key.clone(),
                    company,
                    digest: secret::digest(&key_secret),
                    scopes: None,
                    expires_at: None,
                },
            )
            .await
            .unwrap();
        let store: Arc<dyn Store> = Arc::new(store);
        let state = AppState {
            credentials: Some(Arc::new(CredentialCache::new(CREDENTIAL_TTL))),
            limiter: Arc::new(crate::ratelimit::LocalLimiter::new(
                crate::ratelimit::RateClock::manual(),
            )),
            store,
            limits: super::super::Limits::default(),
            rate_limits: crate::ratelimit::RateLimitDefaults::OFF,
            metrics: None,
            clock: callaccess_domain::Clock::system(),
            journal: Arc::new(crate::journal::Journal::new(0)),
            faults: Arc::new(crate::faults::Faults::new()),
            changes: None,
            changes_heartbeat: crate::http::admin::audit::DEFAULT_HEARTBEAT,
        };
        let header = HeaderValue::from_str(&format!(
            "Basic {}",
            STANDARD.encode(format!("{key}:{key_secret}"))
        ))
        .unwrap();
        (dir, state, key, header)
    }

    /// A POST of one call's grants.
    struct ListNothing;

    impl Operation for ListNothing {
        type Output = Vec<callaccess_domain::CallGrants>;
        const SCOPE: &'static str = Scope::READ;
        fn run<'a>(
            &'a self,
            store: &'a dyn Store,
            caller: Caller,
            _origin: &'a Origin,
        ) -> StoreFuture<'a, Self::Output> {
            store.list_api_grants(caller, &[])
        }
    }

    /// One POST as the handler makes it: authenticate (from the cache when
    /// it can), then list a call with the principal's check, verifying again
    /// if the store says credentials changed.
    async fn request(
        state: &AppState,
        header: &HeaderValue,
        now: Instant,
    ) -> Result<bool, ApiError> {
        let (principal, _) = authenticate_at(state, Some(header), now, true, None).await?;
        let cached = principal.check().is_some();
        perform(state, &principal, Ok(ListNothing)).await?;
        Ok(cached)
    }

    fn refused<T>(result: &Result<T, ApiError>) -> bool {
        matches!(result, Err(ApiError::Unauthenticated))
    }

    #[tokio::test]
    async fn a_key_revoked_by_another_process_is_refused_on_the_next_request() {
        let (dir, state, key, header) = keyed().await;
        assert!(state.credentials.is_some(), "sqlite gets a cache");
        let t0 = Instant::now();
        assert!(
            !request(&state, &header, t0).await.unwrap(),
            "first: the store"
        );
        assert!(
            request(&state, &header, t0).await.unwrap(),
            "then: the cache"
        );

        // Revoked through a second store on the same file, as `callaccess
        // key revoke` does from its own process: this process's store does
        // not see it happen, but the file's change count moves.
        let other = SqliteStore::open(&dir.path().join("auth.db"))
            .await
            .unwrap();
        other
            .revoke_api_key(&Origin::cli(), &key, Timestamp::now())
            .await
            .unwrap();
        other.close().await.unwrap();

        // The very next request, at the same instant, still finds the entry,
        // and is refused by the check in its own transaction.
        assert!(refused(&request(&state, &header, t0).await));
        assert!(
            refused(&request(&state, &header, t0).await),
            "the refusal is not cached away"
        );
    }

    #[tokio::test]
    async fn a_cached_credential_is_checked_in_the_operations_own_transaction() {
        let (_dir, state, _key, header) = keyed().await;
        let t0 = Instant::now();
        let (principal, _) = authenticate_at(&state, Some(&header), t0, true, None)
            .await
            .unwrap();
        assert_eq!(
            principal.check(),
            None,
            "verified by the store: nothing to check"
        );
        let (principal, _) = authenticate_at(&state, Some(&header), t0, true, None)
            .await
            .unwrap();
        let check = principal.check().unwrap();
        assert_eq!(Some(check.epoch), state.store.credentials_epoch());
        let c = CompanyId::from_i64(1).unwrap();
        let stale = CredentialCheck {
            epoch: check.epoch + 1,
        };
        assert!(matches!(
            state
                .store
                .list_api_grants(
                    Caller {
                        company: c,
                        check: Some(stale)
                    },
                    &[]
                )
                .await,
            Err(StoreError::CredentialsChanged)
        ));
        assert!(state
            .store
            .list_api_grants(
                Caller {
                    company: c,
                    check: Some(check)
                },
                &[]
            )
            .await
            .is_ok());
    }

    #[tokio::test]
    async fn without_any_change_a_cached_credential_is_checked_again_after_the_bound() {
        let (_dir, state, _key, header) = keyed().await;
        let t0 = Instant::now();
        assert!(authenticate_at(&state, Some(&header), t0, true, None)
            .await
            .is_ok());
        let cache = state.credentials.as_deref().unwrap();
        let key = secret::digest(header.to_str().unwrap()).0;
        assert!(cache.get(&key, t0, Timestamp::now()).is_some());
        assert!(cache
            .get(&key, t0 + CREDENTIAL_TTL, Timestamp::now())
            .is_none());
    }

    #[tokio::test]
    async fn a_key_revoked_through_this_process_is_refused_at_once() {
        let (_dir, state, key, header) = keyed().await;
        let t0 = Instant::now();
        assert!(request(&state, &header, t0).await.is_ok());
        assert!(request(&state, &header, t0).await.unwrap());
        state
            .store
            .revoke_api_key(&Origin::cli(), &key, Timestamp::now())
            .await
            .unwrap();
        assert!(refused(&request(&state, &header, t0).await));
    }

    #[tokio::test]
    async fn a_revoked_cached_key_is_told_401_rather_than_why_its_request_was_wrong() {
        let (_dir, state, key, header) = keyed().await;
        let t0 = Instant::now();
        assert!(request(&state, &header, t0).await.is_ok());
        let (principal, _) = authenticate_at(&state, Some(&header), t0, true, None)
            .await
            .unwrap();
        let bad = || ApiError::bad_request("bad body");
        assert!(matches!(
            confirm(&state, &principal, bad()).await,
            ApiError::BadRequest(_)
        ));
        state
            .store
            .revoke_api_key(&Origin::cli(), &key, Timestamp::now())
            .await
            .unwrap();
        assert!(matches!(
            confirm(&state, &principal, bad()).await,
            ApiError::Unauthenticated
        ));
    }

    #[tokio::test]
    async fn expiry_is_judged_on_the_servers_clock_also_for_a_cached_key() {
        let (_dir, mut state, _key, _header) = keyed().await;
        let start = Timestamp::parse_rfc3339("2030-01-01T00:00:00Z").unwrap();
        state.clock = callaccess_domain::Clock::manual_at(start);
        let key = secret::generate_access_key();
        let key_secret = secret::generate_secret();
        state
            .store
            .create_api_key(
                &Origin::cli(),
                &NewApiKey {
                    access_key: key.clone(),
                    company: CompanyId::from_i64(1).unwrap(),
                    digest: secret::digest(&key_secret),
                    scopes: None,
                    expires_at: Some(start.plus_seconds(3600)),
                },
            )
            .await
            .unwrap();
        let header = HeaderValue::from_str(&format!(
            "Basic {}",
            STANDARD.encode(format!("{key}:{key_secret}"))
        ))
        .unwrap();
        // One instant throughout, so the entry never ages out: only the
        // server's clock decides.
        let t0 = Instant::now();
        assert!(!request(&state, &header, t0).await.unwrap(), "the store");
        assert!(request(&state, &header, t0).await.unwrap(), "the cache");
        state.clock.advance(Duration::from_secs(3599)).unwrap();
        assert!(request(&state, &header, t0).await.unwrap(), "still valid");
        state.clock.advance(Duration::from_secs(1)).unwrap();
        assert!(refused(&request(&state, &header, t0).await), "cached");
        assert!(refused(
            &authenticate_at(&state, Some(&header), t0, false, None).await
        ));
    }

    #[tokio::test]
    async fn a_wrong_secret_never_matches_a_cached_key() {
        let (_dir, state, key, header) = keyed().await;
        let t0 = Instant::now();
        assert!(request(&state, &header, t0).await.is_ok());
        let wrong = HeaderValue::from_str(&format!(
            "Basic {}",
            STANDARD.encode(format!("{key}:not-the-secret"))
        ))
        .unwrap();
        assert!(refused(
            &authenticate_at(&state, Some(&wrong), t0, true, None).await
        ));
    }

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
