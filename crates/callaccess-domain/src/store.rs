//! The storage trait: one method per use case, taking and returning domain
//! types. Handlers and the admin CLI hold an `Arc<dyn Store>` and never see a
//! connection, a pool or SQL.

use async_trait::async_trait;

use crate::ids::{CallId, CompanyId, UserId};
use crate::model::{
    AccessChange, ApiKeyInfo, Call, CallAccessFacts, CallGrants, CallsAccess, Company, NewApiKey,
    NewCompany, NewToken, RateLimit, RateWindow, SecretDigest, StoredCredential, Timestamp,
    TokenInfo, User,
};
use crate::seed::{Seed, SeedSummary};

/// Everything a store can answer besides success. Backends map their
/// driver's errors by kind, never by constraint name or message text.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Calls named by a request that the company does not have, in request
    /// order. Another company's call is reported exactly like an unknown one.
    #[error("some calls not found")]
    CallsNotFound(Vec<CallId>),
    /// Users named by a PUT that the company does not have, in request order.
    #[error("some users not found")]
    UsersNotFound(Vec<UserId>),
    /// An admin operation named something that does not exist.
    #[error("{0}")]
    NotFound(String),
    /// An admin operation would create something that already exists.
    #[error("{0}")]
    Conflict(String),
    /// An admin operation is not valid in the current state.
    #[error("{0}")]
    Invalid(String),
    /// A seed file does not fit the database; one message per problem, each
    /// starting with the JSON path.
    #[error("the seed was rejected: {}", .0.join("; "))]
    SeedRejected(Vec<String>),
    /// The database is not one this binary may open (not a callaccess
    /// database, or a newer schema). Nothing was written.
    #[error("{0}")]
    Incompatible(String),
    /// The request's credential was taken from a cache under a
    /// [`CredentialCheck`] whose count has moved since: keys, tokens or
    /// limits changed. Nothing was done; verify the credential again, then
    /// repeat the request.
    #[error("credentials changed since the request's credential was verified")]
    CredentialsChanged,
    /// The database cannot be reached right now; worth retrying.
    #[error("the database is unavailable: {0}")]
    Unavailable(String),
    /// Anything else; the cause is for the log, never for a client.
    #[error("storage failure: {0}")]
    Other(String),
}

/// What a store checks for a request whose credential the HTTP edge took
/// from its cache instead of the store: the [`Store::credentials_epoch`]
/// under which the credential was verified. The store reads the count in
/// the request's own transaction and answers
/// [`StoreError::CredentialsChanged`] if it moved, so a revocation
/// committed before the request's transaction is never missed, and the
/// check costs no transaction of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CredentialCheck {
    pub epoch: u64,
}

/// The one storage interface of the service. Object safe; every backend
/// passes the same contract suite (`contract` feature).
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and health answers.
    fn backend(&self) -> &'static str;

    /// A number that changes whenever any process commits a change to a
    /// stored credential or a company's limits (a revocation, new limits, a
    /// seed). The HTTP edge may keep a credential verified under one value
    /// and pass that value with the request ([`CredentialCheck`]); the
    /// store then compares it inside the operation's own transaction (the
    /// `_checked` methods). `None` (the default): the backend cannot say
    /// cheaply, so nothing may be kept, which is the only safe answer when
    /// other nodes can revoke.
    fn credentials_epoch(&self) -> Option<u64> {
        None
    }

    /// `CredentialsChanged` unless the credentials epoch is still
    /// `check.epoch`: for a request answered without a store operation of
    /// its own (an empty change, an invalid body). A store without epochs
    /// never receives a check.
    async fn confirm_credentials(&self, check: CredentialCheck) -> Result<(), StoreError> {
        match self.credentials_epoch() {
            Some(epoch) if epoch == check.epoch => Ok(()),
            _ => Err(StoreError::CredentialsChanged),
        }
    }

    /// Cheap round trip to the database, for readiness.
    async fn ping(&self) -> Result<(), StoreError>;

    /// Waits until every acknowledged write is durable and stops accepting
    /// writes; used at shutdown.
    async fn close(&self) -> Result<(), StoreError>;

    // --- authentication ---

    async fn api_key(&self, access_key: &str) -> Result<Option<StoredCredential>, StoreError>;
    async fn token(&self, digest: &SecretDigest) -> Result<Option<StoredCredential>, StoreError>;

    // --- the three endpoints ---

    /// PUT: checks that every call (then every user) exists in the company,
    /// then records an API grant for each pair whose user cannot already open
    /// the call by sharing or profile. All or nothing, durable on return.
    async fn grant_access(
        &self,
        company: CompanyId,
        change: &AccessChange,
    ) -> Result<(), StoreError>;

    /// DELETE: checks that every call exists, then removes the named API
    /// grants; unknown users and missing grants are ignored.
    async fn revoke_access(
        &self,
        company: CompanyId,
        change: &AccessChange,
    ) -> Result<(), StoreError>;

    /// POST: the API grants of each call, one entry per distinct call in the
    /// order given, users ascending. Unknown calls: `CallsNotFound`.
    async fn list_api_grants(
        &self,
        company: CompanyId,
        calls: &[CallId],
    ) -> Result<Vec<CallGrants>, StoreError>;

    /// [`Store::grant_access`] for a credential taken from a cache: the
    /// check is made in the same transaction as the change. A store whose
    /// [`Store::credentials_epoch`] is `None` never receives a check, which
    /// is why the default may ignore it; a store with epochs must override
    /// all three `_checked` methods.
    async fn grant_access_checked(
        &self,
        company: CompanyId,
        change: &AccessChange,
        check: Option<CredentialCheck>,
    ) -> Result<(), StoreError> {
        let _ = check;
        self.grant_access(company, change).await
    }

    /// [`Store::revoke_access`] with a [`CredentialCheck`], as above.
    async fn revoke_access_checked(
        &self,
        company: CompanyId,
        change: &AccessChange,
        check: Option<CredentialCheck>,
    ) -> Result<(), StoreError> {
        let _ = check;
        self.revoke_access(company, change).await
    }

    /// [`Store::list_api_grants`] with a [`CredentialCheck`], as above.
    async fn list_api_grants_checked(
        &self,
        company: CompanyId,
        calls: &[CallId],
        check: Option<CredentialCheck>,
    ) -> Result<Vec<CallGrants>, StoreError> {
        let _ = check;
        self.list_api_grants(company, calls).await
    }

    // --- administration ---

    async fn create_company(&self, company: &NewCompany) -> Result<Company, StoreError>;
    async fn companies(&self) -> Result<Vec<Company>, StoreError>;
    /// `NotFound` if there is no such company. Takes effect on the next request.
    async fn set_rate_limit(
        &self,
        company: CompanyId,
        limit: RateLimit,
    ) -> Result<Company, StoreError>;

    // --- rate limits shared by every node on the database ---

    /// Counts one request of `company` against the `window` budget of
    /// `burst` requests refilled one per `emission` (see
    /// [`crate::model::gcra`]), atomically. `Ok(Ok(()))`: admitted.
    /// `Ok(Err(wait))`: refused; the next request is admitted after `wait`.
    async fn rate_acquire(
        &self,
        company: CompanyId,
        window: RateWindow,
        emission: std::time::Duration,
        burst: u32,
    ) -> Result<Result<(), std::time::Duration>, StoreError>;

    async fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKeyInfo, StoreError>;
    /// All keys, or one company's, by creation time.
    async fn api_keys(&self, company: Option<CompanyId>) -> Result<Vec<ApiKeyInfo>, StoreError>;
    /// `NotFound` if there is no such key; revoking twice keeps the first time.
    async fn revoke_api_key(
        &self,
        access_key: &str,
        at: Timestamp,
    ) -> Result<ApiKeyInfo, StoreError>;

    async fn create_token(&self, token: &NewToken) -> Result<TokenInfo, StoreError>;
    async fn tokens(&self, company: Option<CompanyId>) -> Result<Vec<TokenInfo>, StoreError>;
    async fn revoke_token(&self, id: &str, at: Timestamp) -> Result<TokenInfo, StoreError>;

    async fn add_user(&self, user: &User) -> Result<(), StoreError>;
    async fn users(&self, company: CompanyId) -> Result<Vec<User>, StoreError>;
    async fn set_calls_access(
        &self,
        company: CompanyId,
        user: UserId,
        access: CallsAccess,
    ) -> Result<(), StoreError>;

    /// The primary user and participants must be users of the company.
    async fn add_call(&self, call: &Call) -> Result<(), StoreError>;
    async fn calls(&self, company: CompanyId) -> Result<Vec<Call>, StoreError>;

    async fn add_share(
        &self,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<(), StoreError>;
    /// `Ok(false)` if there was no such share.
    async fn remove_share(
        &self,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<bool, StoreError>;

    /// Every route to one call, for `callaccess grants list`.
    async fn call_access(
        &self,
        company: CompanyId,
        call: CallId,
    ) -> Result<CallAccessFacts, StoreError>;

    /// Applies a parsed seed in one transaction: creates or updates what it
    /// names, deletes nothing. `SeedRejected` if it does not fit the database.
    async fn apply_seed(&self, seed: &Seed) -> Result<SeedSummary, StoreError>;
}
