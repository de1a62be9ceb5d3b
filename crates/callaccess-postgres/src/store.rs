//! `PostgresStore`: connecting, the pool, and the `Store` implementation,
//! which runs each operation as one transaction (see [`crate::run`]).

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callaccess_domain::seed::{Seed, SeedSummary};
use callaccess_domain::{
    AccessChange, ApiKeyInfo, Call, CallAccessFacts, CallGrants, CallId, CallsAccess, Company,
    CompanyId, NewApiKey, NewCompany, NewToken, RateLimit, RateWindow, SecretDigest, Store,
    StoreError, StoredCredential, Timestamp, TokenInfo, User, UserId,
};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};

use crate::error::from_pool;
use crate::run::{statement, transaction, Counters, Mode, RetryStats};
use crate::{access, admin, migrate, seed};

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

fn micros(duration: Duration) -> i64 {
    i64::try_from(duration.as_micros()).unwrap_or(i64::MAX)
}

#[async_trait]
impl Store for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    /// A round trip that also proves the schema is still the one this binary
    /// runs against: a node left behind by an upgrade is not ready.
    async fn ping(&self) -> Result<(), StoreError> {
        let version = statement!(self, "ping", |db| migrate::current(db))?;
        if version != self.schema_version {
            return Err(StoreError::Incompatible(format!(
                "the database schema is now at version {version}, but this node runs version {}; restart it with a matching callaccess",
                self.schema_version
            )));
        }
        Ok(())
    }

    /// Every acknowledged write is already committed (and so durable) in
    /// PostgreSQL; closing only stops handing out connections and drops the
    /// idle ones.
    async fn close(&self) -> Result<(), StoreError> {
        self.pool.close();
        Ok(())
    }

    async fn api_key(&self, access_key: &str) -> Result<Option<StoredCredential>, StoreError> {
        statement!(self, "api_key", |db| admin::api_key(db, access_key))
    }

    async fn token(&self, digest: &SecretDigest) -> Result<Option<StoredCredential>, StoreError> {
        statement!(self, "token", |db| admin::token(db, digest))
    }

    async fn grant_access(
        &self,
        company: CompanyId,
        change: &AccessChange,
    ) -> Result<(), StoreError> {
        if change.is_empty() {
            return Ok(());
        }
        let now = Timestamp::now();
        transaction!(self, Mode::Write, "grant_access", |tx| access::grant(
            &tx, company, change, now
        ))
    }

    async fn revoke_access(
        &self,
        company: CompanyId,
        change: &AccessChange,
    ) -> Result<(), StoreError> {
        if change.is_empty() {
            return Ok(());
        }
        transaction!(self, Mode::Write, "revoke_access", |tx| access::revoke(
            &tx, company, change
        ))
    }

    async fn list_api_grants(
        &self,
        company: CompanyId,
        calls: &[CallId],
    ) -> Result<Vec<CallGrants>, StoreError> {
        if calls.is_empty() {
            return Ok(Vec::new());
        }
        transaction!(self, Mode::Read, "list_api_grants", |tx| access::list(
            &tx, company, calls
        ))
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company, StoreError> {
        let now = Timestamp::now();
        transaction!(self, Mode::Write, "create_company", |tx| {
            admin::create_company(&tx, company, now)
        })
    }

    async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        statement!(self, "companies", |db| admin::companies(db))
    }

    async fn set_rate_limit(
        &self,
        company: CompanyId,
        limit: RateLimit,
    ) -> Result<Company, StoreError> {
        transaction!(self, Mode::Write, "set_rate_limit", |tx| {
            admin::set_rate_limit(&tx, company, limit)
        })
    }

    async fn rate_acquire(
        &self,
        company: CompanyId,
        window: RateWindow,
        emission: Duration,
        burst: u32,
    ) -> Result<Result<(), Duration>, StoreError> {
        let emission = micros(emission);
        let outcome = transaction!(self, Mode::Locked, "rate_acquire", |tx| {
            admin::rate_acquire(&tx, company, window, emission, burst)
        })?;
        Ok(outcome.map_err(|wait| Duration::from_micros(u64::try_from(wait).unwrap_or(0))))
    }

    async fn create_api_key(&self, key: &NewApiKey) -> Result<ApiKeyInfo, StoreError> {
        let now = Timestamp::now();
        transaction!(self, Mode::Write, "create_api_key", |tx| {
            admin::create_api_key(&tx, key, now)
        })
    }

    async fn api_keys(&self, company: Option<CompanyId>) -> Result<Vec<ApiKeyInfo>, StoreError> {
        statement!(self, "api_keys", |db| admin::api_keys(db, company))
    }

    async fn revoke_api_key(
        &self,
        access_key: &str,
        at: Timestamp,
    ) -> Result<ApiKeyInfo, StoreError> {
        transaction!(self, Mode::Write, "revoke_api_key", |tx| {
            admin::revoke_api_key(&tx, access_key, at)
        })
    }

    async fn create_token(&self, token: &NewToken) -> Result<TokenInfo, StoreError> {
        let now = Timestamp::now();
        transaction!(self, Mode::Write, "create_token", |tx| {
            admin::create_token(&tx, token, now)
        })
    }

    async fn tokens(&self, company: Option<CompanyId>) -> Result<Vec<TokenInfo>, StoreError> {
        statement!(self, "tokens", |db| admin::tokens(db, company))
    }

    async fn revoke_token(&self, id: &str, at: Timestamp) -> Result<TokenInfo, StoreError> {
        transaction!(self, Mode::Write, "revoke_token", |tx| {
            admin::revoke_token(&tx, id, at)
        })
    }

    async fn add_user(&self, user: &User) -> Result<(), StoreError> {
        transaction!(self, Mode::Write, "add_user", |tx| admin::add_user(
            &tx, user
        ))
    }

    async fn users(&self, company: CompanyId) -> Result<Vec<User>, StoreError> {
        statement!(self, "users", |db| admin::users(db, company))
    }

    async fn set_calls_access(
        &self,
        company: CompanyId,
        user: UserId,
        access: CallsAccess,
    ) -> Result<(), StoreError> {
        transaction!(self, Mode::Write, "set_calls_access", |tx| {
            admin::set_calls_access(&tx, company, user, access)
        })
    }

    async fn add_call(&self, call: &Call) -> Result<(), StoreError> {
        transaction!(self, Mode::Write, "add_call", |tx| admin::add_call(
            &tx, call
        ))
    }

    async fn calls(&self, company: CompanyId) -> Result<Vec<Call>, StoreError> {
        transaction!(self, Mode::Read, "calls", |tx| admin::calls(&tx, company))
    }

    async fn add_share(
        &self,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        transaction!(self, Mode::Write, "add_share", |tx| {
            admin::add_share(&tx, company, call, user, now)
        })
    }

    async fn remove_share(
        &self,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        transaction!(self, Mode::Write, "remove_share", |tx| {
            admin::remove_share(&tx, company, call, user)
        })
    }

    async fn call_access(
        &self,
        company: CompanyId,
        call: CallId,
    ) -> Result<CallAccessFacts, StoreError> {
        transaction!(self, Mode::Read, "call_access", |tx| {
            admin::call_access(&tx, company, call)
        })
    }

    async fn apply_seed(&self, seed: &Seed) -> Result<SeedSummary, StoreError> {
        let now = Timestamp::now();
        transaction!(self, Mode::Write, "apply_seed", |tx| seed::apply(
            &tx, seed, now
        ))
    }
}
