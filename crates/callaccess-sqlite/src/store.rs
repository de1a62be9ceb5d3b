//! `SqliteStore`: opening a database file and the `Store` implementation,
//! which routes each operation to the writer thread or the read pool.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use async_trait::async_trait;
use callaccess_domain::access::Route;
use callaccess_domain::explain::CallRoutes;
use callaccess_domain::page::{CallFilter, Page, PageAfter, UserFilter};
use callaccess_domain::seed::{Seed, SeedSummary};
use callaccess_domain::Clock;
use callaccess_domain::{
    AccessChange, ApiKeyInfo, AuditEntry, AuditFilter, AuditPage, Call, CallGrants, CallId, Caller,
    CallsAccess, Company, CompanyId, CredentialCheck, ExpiredCredential, NewApiKey, NewCompany,
    NewToken, Origin, Profile, ProfileId, RateLimit, SecretDigest, Store, StoreError,
    StoredCredential, Timestamp, TokenInfo, User, UserId, UserUpdate, Viewer, Workspace,
    WorkspaceId,
};
use rusqlite::Connection;

use crate::audit::{Audit, Expired};
use crate::checkpoint::Checkpointer;
use crate::error::Fail;
use crate::open::{self, Found};
use crate::readers::Readers;
use crate::writer::{self, WriteStats, Writer};
use crate::{access, admin, directory, explain, migrate, seed};

/// POSTs listing at most this many calls are read on the calling thread.
const INLINE_LIST_CALLS: usize = 16;

/// The embedded store: one SQLite file in WAL mode, one writer thread that
/// commits in groups, and a small pool of readers.
pub struct SqliteStore {
    path: PathBuf,
    writer: Writer,
    /// Folds the log into the database off the write path.
    checkpointer: Arc<Checkpointer>,
    readers: Arc<Readers>,
    schema_version: i64,
    applied: Vec<(i64, &'static str)>,
    /// Where every stored time is read (creation, revocation and grant
    /// times): the system clock unless [`SqliteStore::with_clock`] gave the
    /// server's manual one. Migrations keep the system clock.
    clock: Clock,
    /// The highest audit sequence number this process's writer committed
    /// (or found at open): what wakes [`Store::wait_for_changes`] without
    /// polling. Kept here as well as by the writer so that it never closes
    /// while the store lives.
    committed: Arc<tokio::sync::watch::Sender<u64>>,
}

/// How the write connection is set up, as SQLite reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteSettings {
    /// `wal`.
    pub journal_mode: String,
    /// 2 (`FULL`): every commit is fsync'd before it is acknowledged.
    pub synchronous: i64,
    pub foreign_keys: bool,
}

impl SqliteStore {
    /// Opens the callaccess database at `path`, creating the file and its
    /// folder if missing and applying pending migrations. Refuses, with
    /// `Incompatible` and without writing to it, a file that is not an
    /// SQLite database, belongs to another application, or was written by
    /// a newer callaccess.
    pub async fn open(path: &Path) -> Result<Self, StoreError> {
        let path = path.to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(path))
            .await
            .map_err(|e| StoreError::Other(format!("opening the database failed: {e}")))?
    }

    fn open_blocking(path: PathBuf) -> Result<Self, StoreError> {
        if let Some(folder) = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty())
        {
            std::fs::create_dir_all(folder).map_err(|e| {
                StoreError::Unavailable(format!(
                    "cannot create the folder \"{}\": {e}",
                    folder.display()
                ))
            })?;
        }
        let found = open::inspect(&path)?;
        let conn = open::writer(&path)?;
        if found == Found::Fresh {
            migrate::bootstrap(&conn)?;
        }
        let applied = migrate::apply_pending(&conn)?;
        let schema_version = migrate::current(&conn)?;
        // Readers open their connections later, on demand, and the writer
        // may open its own again; a relative path must still name this file
        // if the working directory changes.
        let absolute = std::fs::canonicalize(&path).unwrap_or_else(|_| path.clone());
        // The newest entry at open: one seek to the end of the primary key.
        let newest = crate::audit::last_seq(&conn)?;
        let committed = Arc::new(tokio::sync::watch::Sender::new(newest));
        let after_commit = {
            let committed = Arc::clone(&committed);
            // The audit trail's upkeep after each commit (`audit_runs`).
            let mut upkeep = crate::audit_runs::Upkeep::default();
            Box::new(
                move |conn: &Connection| match crate::audit::last_seq(conn) {
                    Ok(seq) => {
                        committed.send_if_modified(|known| {
                            let newer = seq > *known;
                            if newer {
                                *known = seq;
                            }
                            newer
                        });
                        crate::audit_runs::maintain(
                            conn,
                            i64::try_from(seq).unwrap_or(i64::MAX),
                            &mut upkeep,
                        );
                    }
                    // Waiters then wake by their timeout and read anyway.
                    Err(e) => tracing::warn!(error = %e.0, "cannot read the newest audit entry"),
                },
            )
        };
        let writer = Writer::start_with(conn, absolute.clone(), schema_version, after_commit)?;
        let checkpointer = Arc::new(Checkpointer::start(&absolute, writer.progress())?);
        tracing::info!(path = %path.display(), schema_version, "opened the sqlite store");
        Ok(Self {
            readers: Readers::new(absolute),
            path,
            writer,
            checkpointer,
            schema_version,
            applied,
            clock: Clock::system(),
            committed,
        })
    }

    /// This store, reading the time it stores from `clock` (the server's,
    /// so that a manual clock moves stored times too).
    #[must_use]
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The file this store uses.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The schema version after opening (the highest applied migration).
    pub fn schema_version(&self) -> i64 {
        self.schema_version
    }

    /// The migrations this open applied, oldest first; empty when the
    /// database was already current.
    pub fn applied_at_open(&self) -> Vec<(i64, &'static str)> {
        self.applied.clone()
    }

    /// Transactions and jobs the writer has run since opening.
    pub fn write_stats(&self) -> WriteStats {
        self.writer.stats()
    }

    /// SQLite's `PRAGMA integrity_check` over the whole file: `["ok"]` when
    /// the file is sound, else one line per problem. For crash tests and
    /// operators; it reads every page, so it takes a while on a big store.
    pub async fn integrity_check(&self) -> Result<Vec<String>, StoreError> {
        self.readers
            .read(|conn| {
                let mut statement = conn.prepare("PRAGMA integrity_check")?;
                let lines = statement
                    .query_map([], |row| row.get::<_, String>(0))?
                    .collect::<rusqlite::Result<Vec<_>>>()?;
                Ok(lines)
            })
            .await
    }

    /// The durability settings of the write connection, read from SQLite
    /// itself, for diagnostics and tests.
    pub async fn write_settings(&self) -> Result<WriteSettings, StoreError> {
        self.writer
            .write(|conn| {
                Ok(WriteSettings {
                    journal_mode: conn
                        .pragma_query_value(None, "journal_mode", |row| row.get(0))?,
                    synchronous: conn.pragma_query_value(None, "synchronous", |row| row.get(0))?,
                    foreign_keys: conn
                        .pragma_query_value(None, "foreign_keys", |row| row.get(0))?,
                })
            })
            .await
    }
}

impl SqliteStore {
    /// The answer to an empty change or list: success, once the caller's
    /// check (if any) holds.
    async fn nothing_to_change(&self, caller: Caller) -> Result<(), StoreError> {
        match caller.check {
            Some(check) => self.confirm_credentials(check).await,
            None => Ok(()),
        }
    }

    /// An audited write: `work` runs in one writer job with the entries'
    /// [`Audit`], whose time is read from the clock as the job runs (so
    /// that entries are in time order as well as in commit order), and the
    /// entries it holds are inserted once the job's savepoint is released;
    /// durable on return, with its entries.
    async fn audited<T, F>(&self, origin: &Origin, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Audit) -> Result<T, Fail> + Send + 'static,
    {
        let origin = origin.clone();
        let clock = self.clock.clone();
        self.writer
            .write_then(move |conn| {
                let audit = Audit::new(&origin, clock.now());
                let value = work(conn, &audit)?;
                Ok((value, audit.finish()))
            })
            .await
    }

    /// A PUT or DELETE: the caller's check first, then `op`, in one writer
    /// job; durable on return.
    async fn change_access(
        &self,
        origin: &Origin,
        caller: Caller,
        change: &AccessChange,
        op: fn(&Connection, CompanyId, &AccessChange, &Audit) -> Result<(), Fail>,
    ) -> Result<(), StoreError> {
        if change.is_empty() {
            return self.nothing_to_change(caller).await;
        }
        let change = change.clone();
        self.audited(origin, move |conn, audit| {
            access::confirm(conn, &caller)?;
            op(conn, caller.company, &change, audit)
        })
        .await
    }

    /// A directory read for `caller` on the calling thread (a point
    /// lookup), the caller's check first.
    fn read_for<T>(
        &self,
        caller: Caller,
        work: impl FnOnce(&Connection, CompanyId) -> Result<T, Fail>,
    ) -> Result<T, StoreError> {
        self.readers.read_now(|conn| {
            access::confirm(conn, &caller)?;
            work(conn, caller.company)
        })
    }

    /// A directory listing for `caller` off the runtime's threads, the
    /// caller's check first.
    async fn list_for<T, F>(&self, caller: Caller, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, CompanyId) -> Result<T, Fail> + Send + 'static,
    {
        self.readers
            .read(move |conn| {
                access::confirm(conn, &caller)?;
                work(conn, caller.company)
            })
            .await
    }

    /// A directory change for `caller` on the writer, the caller's check
    /// first; durable on return.
    async fn write_for<T, F>(
        &self,
        origin: &Origin,
        caller: Caller,
        work: F,
    ) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, CompanyId, &Audit) -> Result<T, Fail> + Send + 'static,
    {
        self.audited(origin, move |conn, audit| {
            access::confirm(conn, &caller)?;
            work(conn, caller.company, audit)
        })
        .await
    }

    /// An admin change of `new` on the writer thread, at the time it was
    /// asked for; durable on return.
    async fn create<A, T>(
        &self,
        new: &A,
        op: fn(&Connection, &A, Timestamp) -> Result<T, Fail>,
    ) -> Result<T, StoreError>
    where
        A: Clone + Send + 'static,
        T: Send + 'static,
    {
        let new = new.clone();
        let now = self.clock.now();
        self.writer.write(move |conn| op(conn, &new, now)).await
    }
}

#[async_trait]
impl Store for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    fn credentials_epoch(&self) -> Option<u64> {
        // Triggers in the file count every change to keys, tokens and company
        // limits, whichever process commits it (this one's writer or the
        // admin CLI). Requests served from the credential cache check the
        // count in their own transaction (`Caller::check`); this separate
        // read is for cache misses and for answers that touch no data. If it
        // fails, nothing may be cached.
        match self.readers.read_now(access::credentials_epoch) {
            Ok(count) => Some(count),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the credential change count; not caching");
                None
            }
        }
    }

    async fn confirm_credentials(&self, check: CredentialCheck) -> Result<(), StoreError> {
        // The default's comparison, but a failed read is answered as the
        // failure it is, not as a change of credentials.
        check.holds_at(self.readers.read_now(access::credentials_epoch)?)
    }

    async fn ping(&self) -> Result<(), StoreError> {
        // Ready means writable, reachable and on the schema this binary was
        // built for (a newer callaccess may have migrated the file since we
        // opened it). While writes fail for a fault of the storage, a real
        // write on the writer checks whether the fault is gone: it opens
        // the write connection again if the fault asked for that, and
        // rewrites the probe row, which only a disk that takes writes
        // again lets commit (see `writer`).
        if self.writer.failing().is_some() {
            // Its own failure is recorded as the writer's health, read next.
            let now = self.clock.now();
            let _ = self
                .writer
                .write(move |conn| writer::probe(conn, now))
                .await;
            if let Some(why) = self.writer.failing() {
                return Err(StoreError::Unavailable(why));
            }
        }
        let version = self.readers.read(migrate::current).await?;
        callaccess_domain::migrations::still_current(version, self.schema_version)
    }

    async fn close(&self) -> Result<(), StoreError> {
        // First the background checkpoints, so that the writer's final one
        // (which truncates the log) does not find the checkpoint lock taken.
        let checkpointer = Arc::clone(&self.checkpointer);
        tokio::task::spawn_blocking(move || checkpointer.stop())
            .await
            .map_err(|e| StoreError::Other(format!("cannot stop the checkpoint thread: {e}")))?;
        self.writer.close().await
    }

    async fn api_key(&self, access_key: &str) -> Result<Option<StoredCredential>, StoreError> {
        // A point lookup on every request: run inline (see `readers`).
        self.readers
            .read_now(|conn| admin::api_key(conn, access_key))
    }

    async fn token(&self, digest: &SecretDigest) -> Result<Option<StoredCredential>, StoreError> {
        self.readers.read_now(|conn| admin::token(conn, digest))
    }

    async fn grant_access(
        &self,
        origin: &Origin,
        caller: Caller,
        change: &AccessChange,
    ) -> Result<(), StoreError> {
        self.change_access(origin, caller, change, access::grant)
            .await
    }

    async fn revoke_access(
        &self,
        origin: &Origin,
        caller: Caller,
        change: &AccessChange,
    ) -> Result<(), StoreError> {
        self.change_access(origin, caller, change, access::revoke)
            .await
    }

    async fn list_api_grants(
        &self,
        caller: Caller,
        calls: &[CallId],
    ) -> Result<Vec<CallGrants>, StoreError> {
        if calls.is_empty() {
            return self.nothing_to_change(caller).await.map(|()| Vec::new());
        }
        let work = move |conn: &Connection, calls: &[CallId]| {
            access::confirm(conn, &caller)?;
            access::list(conn, caller.company, calls)
        };
        // A few calls are a few point lookups: inline. A long list may take
        // milliseconds, which a runtime thread must not spend blocked.
        if calls.len() <= INLINE_LIST_CALLS {
            return self.readers.read_now(|conn| work(conn, calls));
        }
        let calls = calls.to_vec();
        self.readers.read(move |conn| work(conn, &calls)).await
    }

    async fn workspaces(&self, caller: Caller) -> Result<Vec<Workspace>, StoreError> {
        self.read_for(caller, directory::workspaces)
    }

    async fn list_users(
        &self,
        caller: Caller,
        filter: &UserFilter,
        page: PageAfter,
    ) -> Result<Page<User>, StoreError> {
        let filter = filter.clone();
        self.list_for(caller, move |conn, company| {
            directory::list_users(conn, company, &filter, page)
        })
        .await
    }

    async fn user(&self, caller: Caller, user: UserId) -> Result<Option<User>, StoreError> {
        self.read_for(caller, |conn, company| directory::user(conn, company, user))
    }

    async fn list_calls(
        &self,
        caller: Caller,
        filter: &CallFilter,
        page: PageAfter,
    ) -> Result<Page<Call>, StoreError> {
        let filter = filter.clone();
        self.list_for(caller, move |conn, company| {
            directory::list_calls(conn, company, &filter, page)
        })
        .await
    }

    async fn call(&self, caller: Caller, call: CallId) -> Result<Option<Call>, StoreError> {
        self.read_for(caller, |conn, company| directory::call(conn, company, call))
    }

    async fn create_call(
        &self,
        origin: &Origin,
        caller: Caller,
        call: &Call,
    ) -> Result<Call, StoreError> {
        let call = call.clone();
        self.write_for(origin, caller, move |conn, company, audit| {
            directory::create_call(conn, company, &call, audit)
        })
        .await
    }

    async fn profiles(
        &self,
        caller: Caller,
        workspace: WorkspaceId,
    ) -> Result<Vec<Profile>, StoreError> {
        self.list_for(caller, move |conn, company| {
            directory::profiles(conn, company, workspace)
        })
        .await
    }

    async fn profile(&self, caller: Caller, profile: ProfileId) -> Result<Profile, StoreError> {
        self.read_for(caller, |conn, company| {
            directory::profile(conn, company, profile)
        })
    }

    async fn create_profile(
        &self,
        origin: &Origin,
        caller: Caller,
        profile: &Profile,
    ) -> Result<Profile, StoreError> {
        let profile = profile.clone();
        self.write_for(origin, caller, move |conn, company, audit| {
            directory::create_profile(conn, company, &profile, audit)
        })
        .await
    }

    async fn update_profile(
        &self,
        origin: &Origin,
        caller: Caller,
        profile: &Profile,
    ) -> Result<Profile, StoreError> {
        let profile = profile.clone();
        self.write_for(origin, caller, move |conn, company, audit| {
            directory::update_profile(conn, company, &profile, audit)
        })
        .await
    }

    async fn profile_users(
        &self,
        caller: Caller,
        profile: ProfileId,
    ) -> Result<Vec<User>, StoreError> {
        self.list_for(caller, move |conn, company| {
            directory::profile_users(conn, company, profile)
        })
        .await
    }

    async fn create_workspace(&self, workspace: &Workspace) -> Result<Workspace, StoreError> {
        self.create(workspace, |conn, workspace, _| {
            admin::create_workspace(conn, workspace)
        })
        .await
    }

    async fn set_manager(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        manager: Option<UserId>,
    ) -> Result<(), StoreError> {
        self.audited(origin, move |conn, audit| {
            admin::set_manager(conn, company, user, manager, audit)
        })
        .await
    }

    async fn assign_profile(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        profile: ProfileId,
    ) -> Result<(), StoreError> {
        self.audited(origin, move |conn, audit| {
            admin::assign_profile(conn, company, user, profile, audit)
        })
        .await
    }

    async fn update_user(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        change: &UserUpdate,
    ) -> Result<(), StoreError> {
        let change = change.clone();
        self.audited(origin, move |conn, audit| {
            admin::update_user(conn, company, user, &change, audit)
        })
        .await
    }

    async fn set_private(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        private: bool,
    ) -> Result<(), StoreError> {
        self.audited(origin, move |conn, audit| {
            admin::set_private(conn, company, call, private, audit)
        })
        .await
    }

    async fn create_company(&self, company: &NewCompany) -> Result<Company, StoreError> {
        self.create(company, admin::create_company).await
    }

    async fn companies(&self) -> Result<Vec<Company>, StoreError> {
        self.readers.read(admin::companies).await
    }

    async fn set_rate_limit(
        &self,
        company: CompanyId,
        limit: RateLimit,
    ) -> Result<Company, StoreError> {
        self.writer
            .write(move |conn| admin::set_rate_limit(conn, company, limit))
            .await
    }

    async fn create_api_key(
        &self,
        origin: &Origin,
        key: &NewApiKey,
    ) -> Result<ApiKeyInfo, StoreError> {
        let key = key.clone();
        self.audited(origin, move |conn, audit| {
            admin::create_api_key(conn, &key, audit)
        })
        .await
    }

    async fn api_keys(&self, company: Option<CompanyId>) -> Result<Vec<ApiKeyInfo>, StoreError> {
        self.readers
            .read(move |conn| admin::api_keys(conn, company))
            .await
    }

    async fn revoke_api_key(
        &self,
        origin: &Origin,
        access_key: &str,
        at: Timestamp,
    ) -> Result<ApiKeyInfo, StoreError> {
        let access_key = access_key.to_owned();
        self.audited(origin, move |conn, audit| {
            admin::revoke_api_key(conn, &access_key, at, audit)
        })
        .await
    }

    async fn create_token(
        &self,
        origin: &Origin,
        token: &NewToken,
    ) -> Result<TokenInfo, StoreError> {
        let token = token.clone();
        self.audited(origin, move |conn, audit| {
            admin::create_token(conn, &token, audit)
        })
        .await
    }

    async fn tokens(&self, company: Option<CompanyId>) -> Result<Vec<TokenInfo>, StoreError> {
        self.readers
            .read(move |conn| admin::tokens(conn, company))
            .await
    }

    async fn revoke_token(
        &self,
        origin: &Origin,
        id: &str,
        at: Timestamp,
    ) -> Result<TokenInfo, StoreError> {
        let id = id.to_owned();
        self.audited(origin, move |conn, audit| {
            admin::revoke_token(conn, &id, at, audit)
        })
        .await
    }

    async fn add_user(&self, origin: &Origin, user: &User) -> Result<(), StoreError> {
        let user = user.clone();
        self.audited(origin, move |conn, audit| {
            admin::add_user(conn, &user, audit)
        })
        .await
    }

    async fn users(&self, company: CompanyId) -> Result<Vec<User>, StoreError> {
        self.readers
            .read(move |conn| admin::users(conn, company))
            .await
    }

    async fn set_calls_access(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        access: CallsAccess,
    ) -> Result<(), StoreError> {
        self.audited(origin, move |conn, audit| {
            admin::set_calls_access(conn, company, user, access, audit)
        })
        .await
    }

    async fn add_call(&self, origin: &Origin, call: &Call) -> Result<(), StoreError> {
        let call = call.clone();
        self.audited(origin, move |conn, audit| {
            admin::add_call(conn, &call, audit)
        })
        .await
    }

    async fn calls(&self, company: CompanyId) -> Result<Vec<Call>, StoreError> {
        self.readers
            .read(move |conn| admin::calls(conn, company))
            .await
    }

    async fn add_share(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<(), StoreError> {
        self.audited(origin, move |conn, audit| {
            admin::add_share(conn, company, call, user, audit)
        })
        .await
    }

    async fn shares(&self, company: CompanyId) -> Result<Vec<(CallId, UserId)>, StoreError> {
        self.readers
            .read(move |conn| crate::state::shares(conn, company))
            .await
    }

    async fn remove_share(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<bool, StoreError> {
        self.audited(origin, move |conn, audit| {
            admin::remove_share(conn, company, call, user, audit)
        })
        .await
    }

    async fn access_routes(
        &self,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<Vec<Route>, StoreError> {
        self.readers
            .read(move |conn| explain::routes(conn, company, call, user))
            .await
    }

    async fn call_viewers(
        &self,
        company: CompanyId,
        call: CallId,
        page: PageAfter,
    ) -> Result<Page<Viewer>, StoreError> {
        self.readers
            .read(move |conn| explain::viewers(conn, company, call, page))
            .await
    }

    async fn user_calls(
        &self,
        company: CompanyId,
        user: UserId,
        page: PageAfter,
    ) -> Result<Page<CallRoutes>, StoreError> {
        self.readers
            .read(move |conn| explain::calls(conn, company, user, page))
            .await
    }

    async fn apply_seed(&self, origin: &Origin, seed: &Seed) -> Result<SeedSummary, StoreError> {
        let seed = seed.clone();
        self.audited(origin, move |conn, audit| seed::apply(conn, &seed, audit))
            .await
    }

    // --- admin tokens: rows of their own (`admin_tokens`) ---

    async fn create_admin_token(
        &self,
        origin: &Origin,
        token: &callaccess_domain::admin_token::NewAdminToken,
    ) -> Result<callaccess_domain::admin_token::AdminTokenInfo, StoreError> {
        let token = token.clone();
        self.audited(origin, move |conn, audit| {
            crate::admin_tokens::create(conn, &token, audit)
        })
        .await
    }

    async fn admin_token(
        &self,
        id: &callaccess_domain::admin_token::AdminTokenId,
    ) -> Result<Option<callaccess_domain::admin_token::StoredAdminToken>, StoreError> {
        self.readers
            .read_now(|conn| crate::admin_tokens::get(conn, id))
    }

    async fn admin_tokens(
        &self,
    ) -> Result<Vec<callaccess_domain::admin_token::AdminTokenInfo>, StoreError> {
        self.readers.read(crate::admin_tokens::list).await
    }

    async fn revoke_admin_token(
        &self,
        origin: &Origin,
        id: &callaccess_domain::admin_token::AdminTokenId,
        at: Timestamp,
    ) -> Result<callaccess_domain::admin_token::AdminTokenInfo, StoreError> {
        let id = id.clone();
        self.audited(origin, move |conn, audit| {
            crate::admin_tokens::revoke(conn, &id, at, audit)
        })
        .await
    }

    // --- state for tests: `state` ---

    async fn snapshot(
        &self,
        company: Option<CompanyId>,
    ) -> Result<callaccess_domain::seed::Snapshot, StoreError> {
        self.readers
            .read(move |conn| crate::state::snapshot(conn, company))
            .await
    }

    async fn reset(
        &self,
        origin: &Origin,
        company: Option<CompanyId>,
        seed: Option<&Seed>,
    ) -> Result<callaccess_domain::seed::ResetSummary, StoreError> {
        let seed = seed.cloned();
        self.audited(origin, move |conn, audit| {
            crate::state::reset(conn, company, seed.as_ref(), audit)
        })
        .await
    }

    async fn note_expired_use(
        &self,
        origin: &Origin,
        credential: ExpiredCredential<'_>,
    ) -> Result<(), StoreError> {
        let credential = Expired::from(credential);
        self.audited(origin, move |conn, audit| {
            crate::audit::note_expired_use(conn, &credential, audit)
        })
        .await
    }

    async fn audit(
        &self,
        filter: &AuditFilter,
        page: AuditPage,
    ) -> Result<Vec<AuditEntry>, StoreError> {
        let filter = filter.clone();
        self.readers
            .read(move |conn| crate::audit::list(conn, &filter, page))
            .await
    }

    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError> {
        self.readers
            .read(move |conn| crate::audit::changes_after(conn, after, limit))
            .await
    }

    async fn wait_for_changes(
        &self,
        after: u64,
        timeout: std::time::Duration,
    ) -> Result<(), StoreError> {
        let mut committed = self.committed.subscribe();
        if *committed.borrow_and_update() > after {
            return Ok(());
        }
        // Another process (the command line) may have written the file:
        // this writer would not know until its own next commit.
        if self.readers.read_now(crate::audit::last_seq)? > after {
            return Ok(());
        }
        // Woken by this writer's commits; the timeout covers the rest. The
        // sender lives as long as the store, so the wait cannot fail early.
        let _ = tokio::time::timeout(timeout, committed.wait_for(|seq| *seq > after)).await;
        Ok(())
    }

    async fn settled_through(&self) -> Result<Option<u64>, StoreError> {
        // One writer at a time takes numbers in commit order (see
        // `audit`): below the newest committed entry, everything is.
        self.readers.read_now(crate::audit::last_seq).map(Some)
    }

    async fn prune_audit(&self, before: Timestamp, limit: usize) -> Result<u64, StoreError> {
        self.writer
            .write(move |conn| crate::audit::prune(conn, before, limit))
            .await
    }
}
