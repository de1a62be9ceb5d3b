//! `PostgresStore`: connecting, the pool, and the `Store` implementation,
//! which runs each operation as one transaction (see [`crate::run`]).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callaccess_domain::seed::{Seed, SeedSummary};
use callaccess_domain::{
    AccessChange, ApiKeyInfo, Call, CallAccessFacts, CallGrants, CallId, Caller, CallsAccess,
    Company, CompanyId, NewApiKey, NewCompany, NewToken, RateLimit, RateWindow, SecretDigest,
    SharedRateBudget, Store, StoreError, StoredCredential, Timestamp, TokenInfo, User, UserId,
};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};

use crate::error::from_pool;
use crate::run::{statement, transaction, Counters, Mode, RetryStats};
use crate::{access, admin, migrate, rate, seed};

/// How the pool behaves. The timeouts are what keeps a request from hanging
/// when PostgreSQL is down or overloaded: a request that cannot get a
/// working connection in time fails with `Unavailable` (503) instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolOptions {
    /// Most connections this node holds open. Every node of a deployment
    /// has its own pool, so PostgreSQL's `max_connections` must cover the
    /// sum over nodes (plus admin sessions).
    pub max_connections: usize,
    /// Longest wait for a new connection to be established (TCP connect,
    /// startup and authentication).
    pub connect_timeout: Duration,
    /// Longest wait for a pooled connection when all are in use.
    pub acquire_timeout: Duration,
}

impl Default for PoolOptions {
    fn default() -> Self {
        Self {
            max_connections: 16,
            // Well under a second each, so that an outage answers 503
            // within a second; a healthy server on the same network
            // connects in a few milliseconds.
            connect_timeout: Duration::from_millis(500),
            acquire_timeout: Duration::from_millis(500),
        }
    }
}

/// The store of several stateless nodes: all state lives in one PostgreSQL
/// database, reached through a pool of connections.
pub struct PostgresStore {
    pool: Pool,
    database: String,
    schema_version: i64,
    applied: Vec<(i64, &'static str)>,
    counters: Arc<Counters>,
}

/// Checks that `url` is a connection string the driver understands, without
/// connecting; the message never repeats the URL (it may hold a password).
pub fn validate_url(url: &str) -> Result<(), String> {
    tokio_postgres::Config::from_str(url)
        .map(|_| ())
        .map_err(|e| format!("not a valid PostgreSQL URL ({e})"))
}

/// Connects to the database `url` names (`postgres://user:password@host:port/db`,
/// or libpq's `key=value` form), checks that it is a callaccess database
/// this binary understands — or an empty one — and applies pending
/// migrations. Refuses with `Incompatible`, without writing anything, a
/// database holding another application's tables or a newer schema.
pub async fn connect(url: &str, options: PoolOptions) -> Result<PostgresStore, StoreError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
        // The parser's message names the bad part, never the password.
        StoreError::Invalid(format!("the PostgreSQL URL is not valid: {e}"))
    })?;
    if config.get_application_name().is_none() {
        // Shows in pg_stat_activity, so operators can tell whose sessions
        // these are.
        config.application_name("callaccess");
    }
    let manager = Manager::from_config(
        config,
        tokio_postgres::NoTls,
        ManagerConfig {
            // A closed connection is noticed without a round trip: when the
            // server goes away the connection task ends and the client is
            // marked closed, so recycling drops it and the next request
            // connects afresh.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(options.max_connections.max(1))
        .wait_timeout(Some(options.acquire_timeout))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| StoreError::Other(format!("cannot build the connection pool: {e}")))?;
    let mut client = pool.get().await.map_err(from_pool)?;
    let (database, schema_version, applied) = migrate::prepare(&mut client).await?;
    drop(client);
    tracing::info!(database = %database, schema_version, "opened the postgres store");
    Ok(PostgresStore {
        pool,
        database,
        schema_version,
        applied,
        counters: Arc::default(),
    })
}

impl PostgresStore {
    /// The database's own name (`current_database()`).
    pub fn database(&self) -> &str {
        &self.database
    }

    /// The schema version after connecting (the highest applied migration).
    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    /// The migrations this connect applied, oldest first; empty when the
    /// database was already current (or another node applied them).
    pub fn applied_at_open(&self) -> Vec<(i64, &'static str)> {
        self.applied.clone()
    }

    /// How often transactions had to be run again since connecting.
    pub fn retry_stats(&self) -> RetryStats {
        self.counters.snapshot()
    }

    pub(crate) async fn client(&self) -> Result<Object, StoreError> {
        self.pool.get().await.map_err(from_pool)
    }

    pub(crate) fn counters(&self) -> &Counters {
        &self.counters
    }
}

/// What the store's operations answer.
type Result<T, E = StoreError> = std::result::Result<T, E>;

/// PostgreSQL keeps no credentials epoch ([`Store::credentials_epoch`] is
/// `None`: other nodes may revoke at any time), so no credential may be
/// kept and no check can be confirmed. One arriving anyway is answered
/// `CredentialsChanged`, so that the edge verifies the credential again.
fn confirm(caller: Caller) -> Result<()> {
    caller.confirm(|| Err(StoreError::CredentialsChanged))
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    /// A round trip that also proves the schema is still the one this binary
    /// runs against: a node left behind by an upgrade is not ready.
    async fn ping(&self) -> Result<()> {
        let version = statement!(self, "ping", |db| migrate::current(db))?;
        callaccess_domain::migrations::still_current(version, self.schema_version)
    }

    /// Every acknowledged write is already committed (and so durable) in
    /// PostgreSQL; closing only stops handing out connections and drops the
    /// idle ones.
    async fn close(&self) -> Result<()> {
        self.pool.close();
        Ok(())
    }

    async fn api_key(&self, access_key: &str) -> Result<Option<StoredCredential>> {
        statement!(self, "api_key", |db| {
            admin::API_KEYS.lookup(db, &access_key)
        })
    }

    async fn token(&self, digest: &SecretDigest) -> Result<Option<StoredCredential>> {
        statement!(self, "token", |db| {
            admin::TOKENS.lookup(db, &digest.0.as_slice())
        })
    }

    async fn grant_access(&self, caller: Caller, change: &AccessChange) -> Result<()> {
        confirm(caller)?;
        if change.is_empty() {
            return Ok(());
        }
        transaction!(self, Mode::Write, "grant_access", |tx, now| {
            access::grant(&tx, caller.company, change, now)
        })
    }

    async fn revoke_access(&self, caller: Caller, change: &AccessChange) -> Result<()> {
        confirm(caller)?;
        if change.is_empty() {
            return Ok(());
        }
        transaction!(self, Mode::Write, "revoke_access", |tx| {
            access::revoke(&tx, caller.company, change)
        })
    }

    /// One statement, so no explicit transaction: it sees one snapshot.
    async fn list_api_grants(&self, caller: Caller, calls: &[CallId]) -> Result<Vec<CallGrants>> {
        confirm(caller)?;
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        statement!(self, "list_api_grants", |db| {
            access::list(db, caller.company, calls)
        })
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company> {
        transaction!(self, Mode::Write, "create_company", |tx, now| {
            admin::create_company(&tx, company, now)
        })
    }

    async fn companies(&self) -> Result<Vec<Company>> {
        statement!(self, "companies", |db| admin::companies(db))
    }

    async fn set_rate_limit(&self, company: CompanyId, limit: RateLimit) -> Result<Company> {
        transaction!(self, Mode::Write, "set_rate_limit", |tx| {
            admin::set_rate_limit(&tx, company, limit)
        })
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKeyInfo> {
        transaction!(self, Mode::Write, "create_api_key", |tx, now| {
            admin::create_api_key(&tx, key, now)
        })
    }

    async fn api_keys(&self, company: Option<CompanyId>) -> Result<Vec<ApiKeyInfo>> {
        statement!(self, "api_keys", |db| admin::API_KEYS.list(db, company))
    }

    async fn revoke_api_key(&self, access_key: &str, at: Timestamp) -> Result<ApiKeyInfo> {
        transaction!(self, Mode::Write, "revoke_api_key", |tx| {
            admin::API_KEYS.revoke(&tx, access_key, at)
        })
    }

    async fn create_token(&self, token: &NewToken) -> Result<TokenInfo> {
        transaction!(self, Mode::Write, "create_token", |tx, now| {
            admin::create_token(&tx, token, now)
        })
    }

    async fn tokens(&self, company: Option<CompanyId>) -> Result<Vec<TokenInfo>> {
        statement!(self, "tokens", |db| admin::TOKENS.list(db, company))
    }

    async fn revoke_token(&self, id: &str, at: Timestamp) -> Result<TokenInfo> {
        transaction!(self, Mode::Write, "revoke_token", |tx| {
            admin::TOKENS.revoke(&tx, id, at)
        })
    }

    async fn add_user(&self, user: &User) -> Result<()> {
        transaction!(self, Mode::Write, "add_user", |tx| admin::add_user(
            &tx, user
        ))
    }

    async fn users(&self, company: CompanyId) -> Result<Vec<User>> {
        statement!(self, "users", |db| admin::users(db, company))
    }

    async fn set_calls_access(
        &self,
        company: CompanyId,
        user: UserId,
        access: CallsAccess,
    ) -> Result<()> {
        transaction!(self, Mode::Write, "set_calls_access", |tx| {
            admin::set_calls_access(&tx, company, user, access)
        })
    }

    async fn add_call(&self, call: &Call) -> Result<()> {
        transaction!(self, Mode::Write, "add_call", |tx| admin::add_call(
            &tx, call
        ))
    }

    async fn calls(&self, company: CompanyId) -> Result<Vec<Call>> {
        transaction!(self, Mode::Read, "calls", |tx| admin::calls(&tx, company))
    }

    async fn add_share(&self, company: CompanyId, call: CallId, user: UserId) -> Result<()> {
        transaction!(self, Mode::Write, "add_share", |tx, now| {
            admin::add_share(&tx, company, call, user, now)
        })
    }

    async fn remove_share(&self, company: CompanyId, call: CallId, user: UserId) -> Result<bool> {
        transaction!(self, Mode::Write, "remove_share", |tx| {
            admin::remove_share(&tx, company, call, user)
        })
    }

    async fn call_access(&self, company: CompanyId, call: CallId) -> Result<CallAccessFacts> {
        transaction!(self, Mode::Read, "call_access", |tx| {
            access::call_access(&tx, company, call)
        })
    }

    async fn apply_seed(&self, seed: &Seed) -> Result<SeedSummary> {
        transaction!(self, Mode::Write, "apply_seed", |tx, now| seed::apply(
            &tx, seed, now
        ))
    }
}

/// Microseconds, saturating (an emission interval of 292,000 years is as
/// good as forever).
fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl SharedRateBudget for PostgresStore {
    /// READ COMMITTED with the budget's row locked; see [`rate::acquire`].
    async fn acquire(
        &self,
        company: CompanyId,
        window: RateWindow,
        emission: Duration,
        burst: u32,
        now_micros: Option<i64>,
    ) -> Result<Result<(), Duration>> {
        let emission = micros(emission);
        let outcome = transaction!(self, Mode::Locked, "rate_acquire", |tx| {
            rate::acquire(&tx, company, window, emission, burst, now_micros)
        })?;
        // A refusal's wait is positive (gcra answers `allow_at - now` only
        // when that is above zero); 0 would only be a wait of nothing.
        Ok(outcome.map_err(|wait| Duration::from_micros(u64::try_from(wait).unwrap_or(0))))
    }
}
