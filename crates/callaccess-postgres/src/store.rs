//! `PostgresStore`: connecting, the pool, and the `Store` implementation,
//! which runs each operation as one transaction (see [`crate::run`]).

use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use callaccess_domain::page::{CallFilter, Page, PageAfter, UserFilter};
use callaccess_domain::seed::{Seed, SeedSummary};
use callaccess_domain::Clock;
use callaccess_domain::{
    AccessChange, Admitted, ApiKeyInfo, AuditEntry, AuditFilter, AuditPage, Budget, Call,
    CallGrants, CallId, Caller, CallsAccess, Company, CompanyId, CredentialCheck,
    ExpiredCredential, NewApiKey, NewCompany, NewEntry, NewToken, Origin, Profile, ProfileId,
    RateLimit, RateWindow, SecretDigest, SharedRateBudget, Store, StoreError, StoredCredential,
    Timestamp, TokenInfo, User, UserId, UserUpdate, Viewer, Workspace, WorkspaceId,
};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};

use crate::error::from_pool;
use crate::error::Fail;
use crate::run::{pipelined, statement, transaction, Counters, Mode, RetryStats};
use crate::tally::Db;
use crate::{access, admin, audit, directory, explain, migrate, rate, rows, seed};
use callaccess_domain::access::Route;
use callaccess_domain::explain::CallRoutes;

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
    epoch: Epoch,
    /// Where every stored time is read (creation, revocation and grant
    /// times, and the shared rate budgets' moment when it is manual): the
    /// system clock unless [`PostgresStore::with_clock`] gave the server's
    /// manual one. Migrations keep the system clock.
    clock: Clock,
    /// The highest audit entry any node announced ([`audit::Listener`]),
    /// for [`Store::wait_for_changes`].
    listener: audit::Listener,
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
    let mut listener_config = config.clone();
    // Told apart in pg_stat_activity from the pool's sessions.
    listener_config.application_name(format!(
        "{} audit listener",
        config.get_application_name().unwrap_or("callaccess")
    ));
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
    let epoch = Epoch(AtomicU64::new(Epoch::UNKNOWN));
    epoch.saw(read_epoch(&client).await.map_err(Fail::into_store_error)?);
    drop(client);
    tracing::info!(database = %database, schema_version, "opened the postgres store");
    Ok(PostgresStore {
        pool,
        database,
        schema_version,
        applied,
        counters: Arc::default(),
        epoch,
        clock: Clock::system(),
        listener: audit::Listener::spawn(listener_config),
    })
}

impl PostgresStore {
    /// This store, reading the time it stores from `clock` (the server's,
    /// so that a manual clock moves stored times too).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The time an operation records, from the store's clock.
    pub(crate) fn now(&self) -> Timestamp {
        self.clock.now()
    }

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

    /// Where the runner reports writes that recorded audit entries, once
    /// they have committed.
    pub(crate) fn announcer(&self) -> &audit::Announcer {
        self.listener.announcer()
    }

    /// After this node changed credentials: its own next requests need not
    /// learn of it from a refused check. Best effort; the checks in the
    /// statements are what keep every node exact.
    async fn read_epoch_again(&self) {
        if let Ok(count) = statement!(self, "credentials_epoch", |db| read_epoch(db)) {
            self.epoch.saw(count);
        }
    }

    /// A request with nothing to read or write still has its kept
    /// credential confirmed.
    async fn confirm_caller(&self, caller: Caller) -> Result<()> {
        match caller.check {
            Some(check) => self.confirm_credentials(check).await,
            None => Ok(()),
        }
    }
}

/// What the store's operations answer.
type Result<T, E = StoreError> = std::result::Result<T, E>;

/// The count of credential changes (table `credential_changes`) as this
/// node last read it: every transaction that changes a key, a token or a
/// company's limits, through any node or the CLI, adds one. It is what
/// [`Store::credentials_epoch`] answers, so the edge tags each credential
/// it keeps with it; every API statement reads the database's own count
/// again in the same statement and refuses a tag that no longer matches
/// ([`Epoch::confirm`]). The count read here may lag the database's (it
/// is only as new as this node's last statement), which errs towards
/// checking a credential again, never towards keeping a revoked one.
#[derive(Debug)]
pub(crate) struct Epoch(AtomicU64);

impl Epoch {
    /// Not yet read.
    const UNKNOWN: u64 = u64::MAX;

    fn known(&self) -> Option<u64> {
        Some(self.0.load(Ordering::Acquire)).filter(|&count| count != Self::UNKNOWN)
    }

    /// A count a statement read. Counts only grow, so the newest wins.
    pub(crate) fn saw(&self, count: u64) {
        if count != Self::UNKNOWN {
            let _ = self
                .0
                .fetch_update(Ordering::AcqRel, Ordering::Acquire, |current| {
                    (current == Self::UNKNOWN || count > current).then_some(count)
                });
        }
    }

    /// `CredentialsChanged` if the caller's credential was kept under
    /// another count than `count`, which the operation's own statement
    /// read.
    pub(crate) fn confirm(&self, caller: &Caller, count: u64) -> Result<()> {
        self.saw(count);
        caller.confirm(|| Ok(count))
    }
}

/// The count of credential changes, read on its own (outside the hot path).
async fn read_epoch(db: &impl Db) -> Result<u64, Fail> {
    let row = rows::first(db, "SELECT count FROM credential_changes WHERE id = 1", &[]).await?;
    let count = row.map(|row| rows::at::<i64>(&row, 0)).transpose()?;
    Ok(count
        .and_then(|count| u64::try_from(count).ok())
        .unwrap_or(0))
}

/// Adds one to the count of credential changes, in the transaction that
/// makes one.
pub(crate) async fn credentials_changed(db: &impl Db) -> Result<(), Fail> {
    rows::execute(
        db,
        "UPDATE credential_changes SET count = count + 1 WHERE id = 1",
        &[],
    )
    .await?;
    Ok(())
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
    /// PostgreSQL; closing announces the audit entries this node committed
    /// and has not announced yet, then stops handing out connections and
    /// drops the idle ones.
    async fn close(&self) -> Result<()> {
        self.listener.stop(&self.pool).await;
        self.pool.close();
        Ok(())
    }

    /// The count this node last read (see [`Epoch`]); `None` until the
    /// first read, which `connect` makes.
    fn credentials_epoch(&self) -> Option<u64> {
        self.epoch.known()
    }

    /// For an answer that runs no statement of its own (an invalid body, a
    /// missing scope): one read of the count.
    async fn confirm_credentials(&self, check: CredentialCheck) -> Result<()> {
        let count = statement!(self, "confirm_credentials", |db| read_epoch(db))?;
        self.epoch.saw(count);
        check.holds_at(count)
    }

    async fn api_key(&self, access_key: &str) -> Result<Option<StoredCredential>> {
        let found = statement!(self, "api_key", |db| {
            admin::API_KEYS.lookup(db, &access_key)
        })?;
        Ok(found.map(|(credential, count)| {
            self.epoch.saw(count);
            credential
        }))
    }

    async fn token(&self, digest: &SecretDigest) -> Result<Option<StoredCredential>> {
        let found = statement!(self, "token", |db| {
            admin::TOKENS.lookup(db, &digest.0.as_slice())
        })?;
        Ok(found.map(|(credential, count)| {
            self.epoch.saw(count);
            credential
        }))
    }

    async fn grant_access(
        &self,
        origin: &Origin,
        caller: Caller,
        change: &AccessChange,
    ) -> Result<()> {
        if change.is_empty() {
            return self.confirm_caller(caller).await;
        }
        pipelined!(self, "grant_access", |db, now| {
            access::grant(db, origin, &caller, &self.epoch, change, now)
        })
    }

    async fn revoke_access(
        &self,
        origin: &Origin,
        caller: Caller,
        change: &AccessChange,
    ) -> Result<()> {
        if change.is_empty() {
            return self.confirm_caller(caller).await;
        }
        pipelined!(self, "revoke_access", |db, now| {
            access::revoke(db, origin, &caller, &self.epoch, change, now)
        })
    }

    /// One statement, so no explicit transaction: it sees one snapshot.
    async fn list_api_grants(&self, caller: Caller, calls: &[CallId]) -> Result<Vec<CallGrants>> {
        if calls.is_empty() {
            return self.confirm_caller(caller).await.map(|()| Vec::new());
        }
        statement!(self, "list_api_grants", |db| {
            access::list(db, &caller, &self.epoch, calls)
        })
    }

    // --- Gong's directory operations: one statement per read, two round
    // trips per write (see `directory`) ---

    async fn workspaces(&self, caller: Caller) -> Result<Vec<Workspace>> {
        statement!(self, "workspaces", |db| {
            directory::workspaces(db, &caller, &self.epoch)
        })
    }

    async fn list_users(
        &self,
        caller: Caller,
        filter: &UserFilter,
        page: PageAfter,
    ) -> Result<Page<User>> {
        statement!(self, "list_users", |db| {
            directory::list_users(db, &caller, &self.epoch, filter, page)
        })
    }

    async fn user(&self, caller: Caller, user: UserId) -> Result<Option<User>> {
        statement!(self, "user", |db| directory::user(
            db,
            &caller,
            &self.epoch,
            user
        ))
    }

    async fn list_calls(
        &self,
        caller: Caller,
        filter: &CallFilter,
        page: PageAfter,
    ) -> Result<Page<Call>> {
        statement!(self, "list_calls", |db| {
            directory::list_calls(db, &caller, &self.epoch, filter, page)
        })
    }

    async fn call(&self, caller: Caller, call: CallId) -> Result<Option<Call>> {
        statement!(self, "call", |db| directory::call(
            db,
            &caller,
            &self.epoch,
            call
        ))
    }

    async fn create_call(&self, origin: &Origin, caller: Caller, call: &Call) -> Result<Call> {
        pipelined!(self, "create_call", |db, now| {
            directory::create_call(db, origin, &caller, &self.epoch, call, now)
        })
    }

    async fn profiles(&self, caller: Caller, workspace: WorkspaceId) -> Result<Vec<Profile>> {
        statement!(self, "profiles", |db| {
            directory::profiles(db, &caller, &self.epoch, workspace)
        })
    }

    async fn profile(&self, caller: Caller, profile: ProfileId) -> Result<Profile> {
        statement!(self, "profile", |db| {
            directory::profile(db, &caller, &self.epoch, profile)
        })
    }

    async fn create_profile(
        &self,
        origin: &Origin,
        caller: Caller,
        profile: &Profile,
    ) -> Result<Profile> {
        pipelined!(self, "create_profile", |db, now| {
            directory::save_profile(db, origin, &caller, &self.epoch, profile, true, now)
        })
    }

    async fn update_profile(
        &self,
        origin: &Origin,
        caller: Caller,
        profile: &Profile,
    ) -> Result<Profile> {
        pipelined!(self, "update_profile", |db, now| {
            directory::save_profile(db, origin, &caller, &self.epoch, profile, false, now)
        })
    }

    async fn profile_users(&self, caller: Caller, profile: ProfileId) -> Result<Vec<User>> {
        statement!(self, "profile_users", |db| {
            directory::profile_users(db, &caller, &self.epoch, profile)
        })
    }

    // --- administration ---

    async fn create_workspace(&self, workspace: &Workspace) -> Result<Workspace> {
        transaction!(self, Mode::Write, "create_workspace", |tx| {
            admin::create_workspace(&tx, workspace)
        })
    }

    async fn set_manager(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        manager: Option<UserId>,
    ) -> Result<()> {
        transaction!(self, Mode::Write, "set_manager", |tx, now| {
            audited(
                &tx,
                origin,
                now,
                admin::set_manager(&tx, company, user, manager),
            )
        })
    }

    async fn assign_profile(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        profile: ProfileId,
    ) -> Result<()> {
        transaction!(self, Mode::Write, "assign_profile", |tx, now| {
            audited(
                &tx,
                origin,
                now,
                admin::assign_profile(&tx, company, user, profile),
            )
        })
    }

    async fn update_user(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        change: &UserUpdate,
    ) -> Result<()> {
        transaction!(self, Mode::Write, "update_user", |tx, now| {
            audited(
                &tx,
                origin,
                now,
                admin::update_user(&tx, company, user, change),
            )
        })
    }

    async fn set_private(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        private: bool,
    ) -> Result<()> {
        transaction!(self, Mode::Write, "set_private", |tx, now| {
            audited(
                &tx,
                origin,
                now,
                admin::set_private(&tx, company, call, private),
            )
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
        let changed = transaction!(self, Mode::Write, "set_rate_limit", |tx| {
            admin::set_rate_limit(&tx, company, limit)
        })?;
        self.read_epoch_again().await;
        Ok(changed)
    }

    async fn create_api_key(&self, origin: &Origin, key: &NewApiKey) -> Result<ApiKeyInfo> {
        transaction!(self, Mode::Write, "create_api_key", |tx, now| {
            recorded(
                &tx,
                origin,
                now,
                admin::create_api_key(&tx, key, now),
                |info| Some(NewEntry::api_key_created(info)),
            )
        })
    }

    async fn api_keys(&self, company: Option<CompanyId>) -> Result<Vec<ApiKeyInfo>> {
        statement!(self, "api_keys", |db| admin::API_KEYS.list(db, company))
    }

    async fn revoke_api_key(
        &self,
        origin: &Origin,
        access_key: &str,
        at: Timestamp,
    ) -> Result<ApiKeyInfo> {
        let revoked = transaction!(self, Mode::Write, "revoke_api_key", |tx, now| {
            revoked(&tx, origin, now, &admin::API_KEYS, access_key, at)
        })?;
        self.read_epoch_again().await;
        Ok(revoked)
    }

    async fn create_token(&self, origin: &Origin, token: &NewToken) -> Result<TokenInfo> {
        transaction!(self, Mode::Write, "create_token", |tx, now| {
            recorded(
                &tx,
                origin,
                now,
                admin::create_token(&tx, token, now),
                |info| Some(NewEntry::token_created(info)),
            )
        })
    }

    async fn tokens(&self, company: Option<CompanyId>) -> Result<Vec<TokenInfo>> {
        statement!(self, "tokens", |db| admin::TOKENS.list(db, company))
    }

    async fn revoke_token(&self, origin: &Origin, id: &str, at: Timestamp) -> Result<TokenInfo> {
        let revoked = transaction!(self, Mode::Write, "revoke_token", |tx, now| {
            revoked(&tx, origin, now, &admin::TOKENS, id, at)
        })?;
        self.read_epoch_again().await;
        Ok(revoked)
    }

    async fn add_user(&self, origin: &Origin, user: &User) -> Result<()> {
        transaction!(self, Mode::Write, "add_user", |tx, now| {
            audited(&tx, origin, now, admin::add_user(&tx, user, now))
        })
    }

    async fn users(&self, company: CompanyId) -> Result<Vec<User>> {
        statement!(self, "users", |db| admin::users(db, company))
    }

    async fn set_calls_access(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        access: CallsAccess,
    ) -> Result<()> {
        transaction!(self, Mode::Write, "set_calls_access", |tx, now| {
            audited(&tx, origin, now, async {
                Ok(admin::set_calls_access(&tx, company, user, access)
                    .await?
                    .entries(company))
            })
        })
    }

    async fn add_call(&self, origin: &Origin, call: &Call) -> Result<()> {
        transaction!(self, Mode::Write, "add_call", |tx, now| {
            audited(&tx, origin, now, admin::add_call(&tx, call, now))
        })
    }

    async fn calls(&self, company: CompanyId) -> Result<Vec<Call>> {
        statement!(self, "calls", |db| admin::calls(db, company))
    }

    async fn add_share(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<()> {
        transaction!(self, Mode::Write, "add_share", |tx, now| {
            audited(
                &tx,
                origin,
                now,
                admin::add_share(&tx, company, call, user, now),
            )
        })
    }

    async fn shares(&self, company: CompanyId) -> Result<Vec<(CallId, UserId)>> {
        statement!(self, "shares", |db| crate::state::shares(db, company))
    }

    async fn remove_share(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<bool> {
        transaction!(self, Mode::Write, "remove_share", |tx, now| {
            recorded(
                &tx,
                origin,
                now,
                admin::remove_share(&tx, company, call, user),
                Clone::clone,
            )
        })
        .map(|removed| removed.is_some())
    }

    async fn access_routes(
        &self,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<Vec<Route>> {
        statement!(self, "access_routes", |db| explain::routes(
            db, company, call, user
        ))
    }

    async fn call_viewers(
        &self,
        company: CompanyId,
        call: CallId,
        page: PageAfter,
    ) -> Result<Page<Viewer>> {
        transaction!(self, Mode::Read, "call_viewers", |tx| {
            explain::viewers(&tx, company, call, page)
        })
    }

    async fn user_calls(
        &self,
        company: CompanyId,
        user: UserId,
        page: PageAfter,
    ) -> Result<Page<CallRoutes>> {
        transaction!(self, Mode::Read, "user_calls", |tx| {
            explain::calls(&tx, company, user, page)
        })
    }

    async fn apply_seed(&self, origin: &Origin, seed: &Seed) -> Result<SeedSummary> {
        let summary = transaction!(self, Mode::Write, "apply_seed", |tx, now| seed::apply(
            &tx, origin, seed, now
        ))?;
        self.read_epoch_again().await;
        if summary.users + summary.calls >= seed::ANALYZE_AFTER {
            // Statistics for the rows just written, so the first requests
            // are planned for the tables' real sizes; best effort, since
            // autovacuum would get there later anyway.
            if let Err(e) = statement!(self, "analyze", |db| seed::analyze(db)) {
                tracing::warn!(error = %e, "ANALYZE after the seed failed");
            }
        }
        Ok(summary)
    }

    // --- admin tokens: rows of their own (`admin_tokens`), one statement
    // each ---

    /// With its audit entry, so in a transaction of its own.
    async fn create_admin_token(
        &self,
        origin: &Origin,
        token: &callaccess_domain::admin_token::NewAdminToken,
    ) -> Result<callaccess_domain::admin_token::AdminTokenInfo> {
        transaction!(self, Mode::Write, "create_admin_token", |tx, now| {
            recorded(
                &tx,
                origin,
                now,
                crate::admin_tokens::create(&tx, token),
                |info| Some(NewEntry::admin_token_created(info)),
            )
        })
    }

    async fn admin_token(
        &self,
        id: &callaccess_domain::admin_token::AdminTokenId,
    ) -> Result<Option<callaccess_domain::admin_token::StoredAdminToken>> {
        statement!(self, "admin_token", |db| crate::admin_tokens::get(db, id))
    }

    async fn admin_tokens(&self) -> Result<Vec<callaccess_domain::admin_token::AdminTokenInfo>> {
        statement!(self, "admin_tokens", |db| crate::admin_tokens::list(db))
    }

    /// With its audit entry when it revoked the token, so in a transaction
    /// of its own.
    async fn revoke_admin_token(
        &self,
        origin: &Origin,
        id: &callaccess_domain::admin_token::AdminTokenId,
        at: Timestamp,
    ) -> Result<callaccess_domain::admin_token::AdminTokenInfo> {
        let (info, _) = transaction!(self, Mode::Write, "revoke_admin_token", |tx, now| {
            recorded(
                &tx,
                origin,
                now,
                crate::admin_tokens::revoke(&tx, id, at),
                |(info, fresh)| fresh.then(|| NewEntry::admin_token_revoked(info)),
            )
        })?;
        Ok(info)
    }

    // --- state for tests: `state` ---

    async fn snapshot(
        &self,
        company: Option<CompanyId>,
    ) -> Result<callaccess_domain::seed::Snapshot> {
        transaction!(self, Mode::Read, "snapshot", |tx| crate::state::snapshot(
            &tx, company
        ))
    }

    async fn reset(
        &self,
        origin: &Origin,
        company: Option<CompanyId>,
        seed: Option<&Seed>,
    ) -> Result<callaccess_domain::seed::ResetSummary> {
        let summary = transaction!(self, Mode::Write, "reset", |tx, now| {
            crate::state::reset(&tx, origin, company, seed, now)
        })?;
        self.read_epoch_again().await;
        if let Some(seeded) = summary.seeded {
            if seeded.users + seeded.calls >= seed::ANALYZE_AFTER {
                // As after a seed: statistics for the rows just written.
                if let Err(e) = statement!(self, "analyze", |db| seed::analyze(db)) {
                    tracing::warn!(error = %e, "ANALYZE after the reset failed");
                }
            }
        }
        Ok(summary)
    }

    /// The credential, a note in `audit_expired_noted` and the entry the
    /// first time, in one transaction.
    async fn note_expired_use(
        &self,
        origin: &Origin,
        credential: ExpiredCredential<'_>,
    ) -> Result<(), StoreError> {
        transaction!(self, Mode::Write, "note_expired_use", |tx, now| {
            audited(&tx, origin, now, async {
                Ok(match credential {
                    ExpiredCredential::ApiKey(key) => {
                        expired(&tx, &admin::API_KEYS, key, |info| info.company).await?
                    }
                    ExpiredCredential::Token(id) => {
                        expired(&tx, &admin::TOKENS, id, |info| info.company).await?
                    }
                })
            })
        })
    }

    /// One statement, by the indexes of `audit_entries`.
    async fn audit(
        &self,
        filter: &AuditFilter,
        page: AuditPage,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        statement!(self, "audit", |db| audit::list(db, filter, page))
    }

    /// See [`audit::changes_after`]; no retry on a lost connection (the
    /// caller reads again).
    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        let client = self.client().await?;
        audit::changes_after(&client, after, limit)
            .await
            .map_err(Fail::into_store_error)
    }

    /// On the notifications every node's writes send at commit
    /// ([`audit::Listener`]); the timeout covers one that was lost.
    async fn wait_for_changes(&self, after: u64, timeout: Duration) -> Result<(), StoreError> {
        self.listener.wait(after, timeout).await;
        Ok(())
    }

    /// See [`audit::settled_through`]: the highest entry, once the
    /// transactions that may hold a number below it have ended.
    async fn settled_through(&self) -> Result<Option<u64>, StoreError> {
        let client = self.client().await?;
        audit::settled_through(&client)
            .await
            .map_err(Fail::into_store_error)
    }

    async fn prune_audit(&self, before: Timestamp, limit: usize) -> Result<u64, StoreError> {
        statement!(self, "prune_audit", |db| audit::prune(db, before, limit))
    }
}

/// Runs `write`, then records the entries it answered, in the caller's
/// transaction.
async fn audited(
    db: &impl Db,
    origin: &Origin,
    now: Timestamp,
    write: impl std::future::Future<Output = Result<impl IntoIterator<Item = NewEntry>, Fail>>,
) -> Result<(), Fail> {
    let entries: Vec<NewEntry> = write.await?.into_iter().collect();
    audit::record(db, origin, now, &entries).await
}

/// Runs `write`, then records the entry `entry` makes of its answer (if
/// any), in the caller's transaction; the answer.
async fn recorded<T>(
    db: &impl Db,
    origin: &Origin,
    now: Timestamp,
    write: impl std::future::Future<Output = Result<T, Fail>>,
    entry: impl FnOnce(&T) -> Option<NewEntry>,
) -> Result<T, Fail> {
    let answer = write.await?;
    if let Some(entry) = entry(&answer) {
        audit::record(db, origin, now, &[entry]).await?;
    }
    Ok(answer)
}

/// Revokes a key or token, recording its entry when this revoked it.
async fn revoked<T>(
    db: &impl Db,
    origin: &Origin,
    now: Timestamp,
    kind: &admin::Credentials<T>,
    handle: &str,
    at: Timestamp,
) -> Result<T, Fail> {
    let (info, fresh) = kind.revoke(db, handle, at).await?;
    if fresh {
        audit::record(db, origin, now, &[(kind.revoked)(&info)]).await?;
    }
    Ok(info)
}

/// The entry of an expired use of a key or token, the first time only;
/// `NoApiKey` / `NoToken` for a credential that does not exist.
async fn expired<T>(
    db: &impl Db,
    kind: &admin::Credentials<T>,
    handle: &str,
    company: fn(&T) -> CompanyId,
) -> Result<Option<NewEntry>, Fail> {
    let info = kind
        .get(db, handle)
        .await?
        .ok_or_else(|| kind.missing(handle))?;
    let first = audit::note_expired(db, company(&info).get(), kind.kind, handle).await?;
    Ok(first.then(|| (kind.expired)(&info)))
}

#[async_trait]
impl SharedRateBudget for PostgresStore {
    /// Two round trips under READ COMMITTED with the budgets' rows locked;
    /// see [`rate`].
    async fn acquire_many(
        &self,
        company: CompanyId,
        budgets: &[Budget],
        count: u32,
        now_micros: Option<i64>,
    ) -> Result<Admitted> {
        let (admitted, refused) = pipelined!(self, "rate_acquire", |db, _now| {
            rate::acquire(db, company, budgets, count, now_micros)
        })?;
        Ok(Admitted {
            admitted,
            // A refusal's wait is positive (gcra answers `allow_at - now`
            // only when that is above zero); 0 would be a wait of nothing.
            refused: refused.map(|(index, wait)| {
                let window = budgets.get(index).map_or(RateWindow::Second, |b| b.window);
                (
                    window,
                    Duration::from_micros(u64::try_from(wait).unwrap_or(0)),
                )
            }),
        })
    }
}
