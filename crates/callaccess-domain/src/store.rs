//! The storage traits: one method per use case, taking and returning domain
//! types. Handlers and the admin CLI hold an `Arc<dyn Store>` and never see a
//! connection, a pool or SQL. A backend fetches facts and runs writes; every
//! rule is decided by [`crate::access`], [`crate::admin`] and
//! [`crate::seed::plan`].

use std::time::Duration;

use async_trait::async_trait;

use crate::access::Route;
use crate::admin_token::{AdminTokenId, AdminTokenInfo, NewAdminToken, StoredAdminToken};
use crate::audit::{AuditEntry, AuditFilter, AuditPage, Origin};
use crate::explain::CallRoutes;
use crate::ids::{CallId, CompanyId, ProfileId, UserId, WorkspaceId};
use crate::model::{
    AccessChange, ApiKeyInfo, Call, CallAccessFacts, CallGrants, CallsAccess, Company, NewApiKey,
    NewCompany, NewToken, Profile, RateLimit, RateWindow, SecretDigest, StoredCredential,
    Timestamp, TokenInfo, User, UserUpdate, Viewer, Workspace,
};
use crate::page::{CallFilter, Page, PageAfter, UserFilter};
use crate::seed::{ResetSummary, Seed, SeedSummary, Snapshot};

/// Everything a store can answer besides success. Backends map their
/// driver's errors by kind, never by constraint name or message text. Every
/// message is worded here, once; the variants carry what the message names,
/// so tests compare meanings.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// Calls named by a request that the company does not have, in request
    /// order. Another company's call is reported exactly like an unknown one.
    #[error("some calls not found")]
    CallsNotFound(Vec<CallId>),
    /// Users named by a PUT that the company does not have, in request order.
    #[error("some users not found")]
    UsersNotFound(Vec<UserId>),

    #[error("company \"{0}\" does not exist")]
    NoCompany(CompanyId),
    #[error("user \"{user}\" does not exist in company \"{company}\"")]
    NoUser { company: CompanyId, user: UserId },
    #[error("call \"{call}\" does not exist in company \"{company}\"")]
    NoCall { company: CompanyId, call: CallId },
    #[error("access key \"{0}\" does not exist")]
    NoApiKey(String),
    #[error("token \"{0}\" does not exist")]
    NoToken(String),
    /// A new call names a primary user the company does not have.
    #[error("primary user \"{user}\" does not exist in company \"{company}\"")]
    NoPrimaryUser { company: CompanyId, user: UserId },
    /// A new call names a participant the company does not have.
    #[error("participant \"{user}\" does not exist in company \"{company}\"")]
    NoParticipant { company: CompanyId, user: UserId },

    #[error("workspace \"{workspace}\" does not exist in company \"{company}\"")]
    NoWorkspace {
        company: CompanyId,
        workspace: WorkspaceId,
    },
    #[error("permission profile \"{profile}\" does not exist in company \"{company}\"")]
    NoProfile {
        company: CompanyId,
        profile: ProfileId,
    },
    /// A manager change would close a loop; the users from the changed one
    /// round to it again.
    #[error("a manager loop is not allowed: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" reports to "))]
    ManagerLoop(Vec<UserId>),

    #[error("company \"{0}\" already exists")]
    CompanyExists(CompanyId),
    #[error("workspace \"{0}\" already exists")]
    WorkspaceExists(WorkspaceId),
    #[error("permission profile \"{0}\" already exists")]
    ProfileExists(ProfileId),
    /// addCall with a `clientUniqueId` the company has used already.
    #[error("a call with clientUniqueId {client_unique_id:?} already exists: call {call}")]
    ClientUniqueIdTaken {
        client_unique_id: String,
        call: CallId,
    },
    #[error("access key \"{0}\" already exists")]
    KeyExists(String),
    /// The token (or, in practice never, its random handle) is taken.
    #[error("this token already exists; a token is stored once, so generate a new one")]
    TokenExists,
    #[error("user \"{user}\" already exists in company \"{company}\"")]
    UserExists { company: CompanyId, user: UserId },
    #[error("call \"{call}\" already exists in company \"{company}\"")]
    CallExists { company: CompanyId, call: CallId },

    // --- admin tokens ---
    #[error("admin token \"{0}\" does not exist")]
    NoAdminToken(AdminTokenId),
    /// A new admin token's random id is taken (not expected in practice).
    #[error("admin token \"{0}\" already exists; create another")]
    AdminTokenExists(AdminTokenId),

    /// A seed file does not fit the database; one message per problem, each
    /// starting with the JSON path.
    #[error("the seed was rejected: {}", .0.join("; "))]
    SeedRejected(Vec<String>),
    /// A setting or an argument the store cannot work with (a URL of the
    /// wrong kind, say).
    #[error("{0}")]
    Invalid(String),
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

/// What kind of answer an error is, for callers that act on the kind (exit
/// codes, HTTP statuses) rather than on the variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Something named does not exist.
    NotFound,
    /// Something to be created exists already.
    Conflict,
    /// The request does not fit the data or the settings.
    Invalid,
    /// Worth retrying later.
    Unavailable,
    /// A defect, corruption, or a database this binary may not use.
    Other,
}

impl StoreError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::CallsNotFound(_)
            | Self::UsersNotFound(_)
            | Self::NoCompany(_)
            | Self::NoUser { .. }
            | Self::NoCall { .. }
            | Self::NoApiKey(_)
            | Self::NoToken(_)
            | Self::NoWorkspace { .. }
            | Self::NoProfile { .. }
            | Self::NoAdminToken(_) => ErrorKind::NotFound,
            Self::CompanyExists(_)
            | Self::WorkspaceExists(_)
            | Self::ProfileExists(_)
            | Self::ClientUniqueIdTaken { .. }
            | Self::KeyExists(_)
            | Self::TokenExists
            | Self::UserExists { .. }
            | Self::CallExists { .. }
            | Self::AdminTokenExists(_) => ErrorKind::Conflict,
            Self::NoPrimaryUser { .. }
            | Self::NoParticipant { .. }
            | Self::ManagerLoop(_)
            | Self::SeedRejected(_)
            | Self::Invalid(_)
            | Self::CredentialsChanged => ErrorKind::Invalid,
            Self::Unavailable(_) => ErrorKind::Unavailable,
            Self::Incompatible(_) | Self::Other(_) => ErrorKind::Other,
        }
    }
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

impl CredentialCheck {
    /// `CredentialsChanged` unless `count`, the store's count of credential
    /// changes as the operation reads it, is still the one the credential
    /// was verified under.
    pub fn holds_at(self, count: u64) -> Result<(), StoreError> {
        if count == self.epoch {
            Ok(())
        } else {
            Err(StoreError::CredentialsChanged)
        }
    }
}

/// Who an API operation runs for: the company of the caller's credential
/// and, when the credential came from a cache, the check the store makes in
/// the operation's own transaction. There is no way to run an API operation
/// without saying which, so a backend cannot forget the check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caller {
    pub company: CompanyId,
    pub check: Option<CredentialCheck>,
}

impl Caller {
    /// A caller whose credential the store itself verified for this request
    /// (or an operator's tool): nothing to check.
    pub fn verified(company: CompanyId) -> Self {
        Self {
            company,
            check: None,
        }
    }

    /// `CredentialsChanged` unless `epoch` (the count the operation's
    /// transaction sees) is the one the credential was verified under.
    /// Backends call this first in each operation, so a stale credential
    /// learns nothing about the request's data.
    pub fn confirm(
        &self,
        epoch: impl FnOnce() -> Result<u64, StoreError>,
    ) -> Result<(), StoreError> {
        match self.check {
            Some(check) => check.holds_at(epoch()?),
            None => Ok(()),
        }
    }
}

/// The one storage interface of the service. Object safe; every backend
/// passes the same contract suite (`contract` feature).
///
/// Every write that can change who opens a call, or the credentials that
/// reach the API, takes an [`Origin`] and records an audit entry
/// ([`crate::audit::NewEntry`]) for each row it changed, in its own
/// transaction: a write is durable together with its entries or not at all,
/// and one that changes nothing records nothing.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    /// `sqlite` or `postgres`, for logs and health answers only: no code
    /// decides anything by it.
    fn backend(&self) -> &'static str;

    /// A number that changes whenever any process commits a change to a
    /// stored credential or a company's limits (a revocation, new limits, a
    /// seed). The HTTP edge may keep a credential verified under one value
    /// and pass that value with the request ([`Caller::check`]); the store
    /// then compares it inside the operation's own transaction. `None`: the
    /// backend cannot say cheaply, so nothing may be kept, which is the only
    /// safe answer when other nodes can revoke.
    fn credentials_epoch(&self) -> Option<u64> {
        None
    }

    /// `CredentialsChanged` unless the credentials epoch is still
    /// `check.epoch`: for a request answered without a store operation of
    /// its own (an invalid body, a missing scope).
    async fn confirm_credentials(&self, check: CredentialCheck) -> Result<(), StoreError> {
        match self.credentials_epoch() {
            Some(epoch) => check.holds_at(epoch),
            None => Err(StoreError::CredentialsChanged),
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

    // --- the three endpoints, each for a caller ---

    /// PUT: [`crate::access::grants_to_record`] decides, in one transaction
    /// with the writes; all or nothing, durable on return. An empty change
    /// only confirms the caller.
    async fn grant_access(
        &self,
        origin: &Origin,
        caller: Caller,
        change: &AccessChange,
    ) -> Result<(), StoreError>;

    /// DELETE: [`crate::access::grants_to_remove`] decides; unknown users and
    /// missing grants are ignored.
    async fn revoke_access(
        &self,
        origin: &Origin,
        caller: Caller,
        change: &AccessChange,
    ) -> Result<(), StoreError>;

    /// POST: the API grants of each call, one entry per distinct call in the
    /// order given, users ascending. Unknown calls: `CallsNotFound`
    /// ([`crate::access::missing_calls`]).
    async fn list_api_grants(
        &self,
        caller: Caller,
        calls: &[CallId],
    ) -> Result<Vec<CallGrants>, StoreError>;

    // --- Gong's directory operations (directory.md §3), each for a caller ---

    /// The company's workspaces, by id.
    async fn workspaces(&self, caller: Caller) -> Result<Vec<Workspace>, StoreError>;

    /// One page of the company's users that `filter` selects, by id, after
    /// `page.after`; with their total when `page.count` is set.
    async fn list_users(
        &self,
        caller: Caller,
        filter: &UserFilter,
        page: PageAfter,
    ) -> Result<Page<User>, StoreError>;

    /// One user, or `None` if the company has no such user.
    async fn user(&self, caller: Caller, user: UserId) -> Result<Option<User>, StoreError>;

    /// One page of the company's calls that `filter` selects, by id.
    /// `NoWorkspace` for a workspace the company does not have.
    async fn list_calls(
        &self,
        caller: Caller,
        filter: &CallFilter,
        page: PageAfter,
    ) -> Result<Page<Call>, StoreError>;

    /// One call, or `None` if the company has no such call.
    async fn call(&self, caller: Caller, call: CallId) -> Result<Option<Call>, StoreError>;

    /// addCall: [`crate::admin::add_call`] decides, then the call is
    /// written with its participants; answers it as stored.
    async fn create_call(
        &self,
        origin: &Origin,
        caller: Caller,
        call: &Call,
    ) -> Result<Call, StoreError>;

    /// The workspace's profiles by name (case-insensitively), then id.
    async fn profiles(
        &self,
        caller: Caller,
        workspace: WorkspaceId,
    ) -> Result<Vec<Profile>, StoreError>;

    /// One profile; `NoProfile` if the company has no such profile.
    async fn profile(&self, caller: Caller, profile: ProfileId) -> Result<Profile, StoreError>;

    /// Creates the profile ([`crate::admin::save_profile`] decides).
    async fn create_profile(
        &self,
        origin: &Origin,
        caller: Caller,
        profile: &Profile,
    ) -> Result<Profile, StoreError>;

    /// Replaces the profile's fields; its workspace and id stay.
    async fn update_profile(
        &self,
        origin: &Origin,
        caller: Caller,
        profile: &Profile,
    ) -> Result<Profile, StoreError>;

    /// The users who hold the profile, by id.
    async fn profile_users(
        &self,
        caller: Caller,
        profile: ProfileId,
    ) -> Result<Vec<User>, StoreError>;

    // --- administration; the checks are [`crate::admin`]'s ---

    /// Adds a workspace to an existing company.
    async fn create_workspace(&self, workspace: &Workspace) -> Result<Workspace, StoreError>;

    /// Sets or clears a user's manager; [`crate::access::check_manager`]
    /// refuses a loop. Never touches a grant.
    async fn set_manager(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        manager: Option<UserId>,
    ) -> Result<(), StoreError>;

    /// Gives the user the profile, replacing the one they held in its
    /// workspace. Never touches a grant.
    async fn assign_profile(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        profile: ProfileId,
    ) -> Result<(), StoreError>;

    /// Changes the user's manager, `active`, `callsAccess` level and
    /// profiles in one transaction: all or nothing, durable on return.
    /// [`crate::admin::update_user`] decides (the user, each profile, then
    /// the manager, with [`crate::access::check_manager`] refusing a loop);
    /// the writes are those of [`Store::set_manager`],
    /// [`Store::set_calls_access`] and [`Store::assign_profile`], in that
    /// order. Never touches a grant. An empty change only checks the user.
    async fn update_user(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        change: &UserUpdate,
    ) -> Result<(), StoreError>;

    /// Marks a call private or not.
    async fn set_private(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        private: bool,
    ) -> Result<(), StoreError>;

    async fn create_company(&self, company: &NewCompany) -> Result<Company, StoreError>;
    async fn companies(&self) -> Result<Vec<Company>, StoreError>;
    /// `NoCompany` if there is no such company. Takes effect on the next request.
    async fn set_rate_limit(
        &self,
        company: CompanyId,
        limit: RateLimit,
    ) -> Result<Company, StoreError>;

    async fn create_api_key(
        &self,
        origin: &Origin,
        key: &NewApiKey,
    ) -> Result<ApiKeyInfo, StoreError>;
    /// All keys, or one company's, by creation time.
    async fn api_keys(&self, company: Option<CompanyId>) -> Result<Vec<ApiKeyInfo>, StoreError>;
    /// `NoApiKey` if there is no such key; revoking twice keeps the first time.
    async fn revoke_api_key(
        &self,
        origin: &Origin,
        access_key: &str,
        at: Timestamp,
    ) -> Result<ApiKeyInfo, StoreError>;

    async fn create_token(
        &self,
        origin: &Origin,
        token: &NewToken,
    ) -> Result<TokenInfo, StoreError>;
    async fn tokens(&self, company: Option<CompanyId>) -> Result<Vec<TokenInfo>, StoreError>;
    async fn revoke_token(
        &self,
        origin: &Origin,
        id: &str,
        at: Timestamp,
    ) -> Result<TokenInfo, StoreError>;

    async fn add_user(&self, origin: &Origin, user: &User) -> Result<(), StoreError>;
    async fn users(&self, company: CompanyId) -> Result<Vec<User>, StoreError>;
    /// Gives the user the profile of `access` in the company's default
    /// workspace ([`crate::model::legacy_profile_name`]), creating it if
    /// the workspace has none of that name.
    async fn set_calls_access(
        &self,
        origin: &Origin,
        company: CompanyId,
        user: UserId,
        access: CallsAccess,
    ) -> Result<(), StoreError>;

    /// The primary user and participants must be users of the company.
    async fn add_call(&self, origin: &Origin, call: &Call) -> Result<(), StoreError>;
    async fn calls(&self, company: CompanyId) -> Result<Vec<Call>, StoreError>;

    async fn add_share(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<(), StoreError>;
    /// The company's shares as (call, user), by call then user; none for a
    /// company that does not exist.
    async fn shares(&self, company: CompanyId) -> Result<Vec<(CallId, UserId)>, StoreError>;
    /// `Ok(false)` if there was no such share.
    async fn remove_share(
        &self,
        origin: &Origin,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<bool, StoreError>;

    // --- explain and reverse lookup (control-plane.md §8): the facts are
    // the backend's, the candidates [`crate::explain`]'s and every route
    // [`crate::access::routes`]'s ---

    /// Every route by which `user` opens `call`, API grant first; empty
    /// when they cannot open it. `NoCall` / `NoUser` when either is not
    /// the company's.
    async fn access_routes(
        &self,
        company: CompanyId,
        call: CallId,
        user: UserId,
    ) -> Result<Vec<Route>, StoreError>;

    /// One page of the users who can open `call`, by id after
    /// `page.after`, each with every route; never a total. `NoCall` when
    /// the company has no such call.
    async fn call_viewers(
        &self,
        company: CompanyId,
        call: CallId,
        page: PageAfter,
    ) -> Result<Page<Viewer>, StoreError>;

    /// One page of the calls `user` can open, by id after `page.after`,
    /// each with every route; never a total. `NoUser` when the company has
    /// no such user.
    async fn user_calls(
        &self,
        company: CompanyId,
        user: UserId,
        page: PageAfter,
    ) -> Result<Page<CallRoutes>, StoreError>;

    /// The call and every user who can open it, for the CLI's
    /// `grants list` and tests: [`Store::call_viewers`], page after page.
    async fn call_access(
        &self,
        company: CompanyId,
        call: CallId,
    ) -> Result<CallAccessFacts, StoreError> {
        let found = self
            .call(Caller::verified(company), call)
            .await?
            .ok_or(StoreError::NoCall { company, call })?;
        let mut viewers = Vec::new();
        let mut after = None;
        loop {
            let page = PageAfter {
                after,
                limit: crate::page::PAGE_SIZE * 10,
                count: false,
            };
            let page = self.call_viewers(company, call, page).await?;
            after = page.items.last().map(|viewer| viewer.user.get());
            viewers.extend(page.items);
            if !page.more || after.is_none() {
                break;
            }
        }
        Ok(CallAccessFacts {
            call: found,
            viewers,
        })
    }

    /// Applies a parsed seed in one transaction, as
    /// [`crate::seed::plan`] lays it out: creates or updates what it names,
    /// deletes nothing. `SeedRejected` if it does not fit the database.
    async fn apply_seed(&self, origin: &Origin, seed: &Seed) -> Result<SeedSummary, StoreError>;

    // --- admin tokens (control-plane.md §1); not company data, so a reset
    // of the data keeps them ---

    /// Stores a new admin token; `AdminTokenExists` if its id is taken.
    async fn create_admin_token(
        &self,
        origin: &Origin,
        token: &NewAdminToken,
    ) -> Result<AdminTokenInfo, StoreError>;

    /// One admin token with its digest, for authentication; `None` if
    /// there is no such token.
    async fn admin_token(&self, id: &AdminTokenId) -> Result<Option<StoredAdminToken>, StoreError>;

    /// Every admin token, by creation time then id.
    async fn admin_tokens(&self) -> Result<Vec<AdminTokenInfo>, StoreError>;

    /// `NoAdminToken` if there is no such token; revoking twice keeps the
    /// first time.
    async fn revoke_admin_token(
        &self,
        origin: &Origin,
        id: &AdminTokenId,
        at: Timestamp,
    ) -> Result<AdminTokenInfo, StoreError>;

    // --- state for tests (control-plane.md §3): the rows only; the export
    // document is [`crate::seed::export`]'s ---

    /// Every row of `company` (all companies with `None`), read in one
    /// snapshot of the database. `NoCompany` for a company that does not
    /// exist.
    async fn snapshot(&self, company: Option<CompanyId>) -> Result<Snapshot, StoreError>;

    /// Removes all company data (or one company's, with everything in it),
    /// then applies `seed` if given, all in one transaction: if the seed is
    /// rejected, nothing is removed. Admin tokens are not company data and
    /// stay. A reset of one company takes a seed of that company only
    /// ([`crate::seed::only_company`]). Durable on return.
    async fn reset(
        &self,
        origin: &Origin,
        company: Option<CompanyId>,
        seed: Option<&Seed>,
    ) -> Result<ResetSummary, StoreError>;

    // --- the audit trail (control-plane.md §7, §9); the entries are
    // [`crate::audit::NewEntry`]'s, recorded by the writes above ---

    /// Records that an expired credential was presented, once per
    /// credential: a second call for the same one records nothing.
    /// `NoApiKey` / `NoToken` if there is no such credential.
    async fn note_expired_use(
        &self,
        origin: &Origin,
        credential: ExpiredCredential<'_>,
    ) -> Result<(), StoreError>;

    /// One page of the entries `filter` selects, in `page`'s order.
    async fn audit(
        &self,
        filter: &AuditFilter,
        page: AuditPage,
    ) -> Result<Vec<AuditEntry>, StoreError>;

    /// The entries after sequence number `after`, in sequence order, at
    /// most `limit`, and never one past an entry that may still commit:
    /// read again from the last one returned, this misses nothing and
    /// repeats nothing, however the writers' commits interleave.
    async fn changes_after(&self, after: u64, limit: usize) -> Result<Vec<AuditEntry>, StoreError>;

    /// Returns once an entry after `after` may have committed (through any
    /// node of the database), or after `timeout`, whichever comes first; a
    /// caller reads [`Store::changes_after`] either way.
    async fn wait_for_changes(&self, after: u64, timeout: Duration) -> Result<(), StoreError>;

    /// A sequence number at or below which every entry is settled now
    /// (committed, or never to be): a reader that starts after it and
    /// reads [`Store::changes_after`] from there misses none committed
    /// later. `None` where the backend cannot tell without reading the
    /// trail through [`Store::changes_after`]. The change stream's tailer
    /// pauses while no stream is open only where this answers, and starts
    /// again from here (crates/callaccess/src/changes.rs).
    async fn settled_through(&self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }

    /// Removes the entries recorded before `before`, at most `limit` of
    /// them (oldest first), and answers how many went: retention, run in
    /// batches so that no transaction holds the table for long.
    async fn prune_audit(&self, before: Timestamp, limit: usize) -> Result<u64, StoreError>;
}

/// A credential found expired when it was presented.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExpiredCredential<'a> {
    /// By access key.
    ApiKey(&'a str),
    /// By token id.
    Token(&'a str),
}

/// Rate-limit budgets kept in the database, so that every node on one
/// database counts against the same budget. Only a backend that several
/// nodes share implements it; a single node keeps its budgets in memory.
#[async_trait]
pub trait SharedRateBudget: Send + Sync + 'static {
    /// Counts one request of `company` against the `window` budget of
    /// `burst` requests refilled one per `emission` (see
    /// [`crate::model::gcra`]), atomically. `now_micros`: the moment, in
    /// microseconds since the Unix epoch, or `None` for the database's own
    /// clock (the one all nodes agree on). `Ok(Ok(()))`: admitted.
    /// `Ok(Err(wait))`: refused; the next request is admitted after `wait`.
    async fn acquire(
        &self,
        company: CompanyId,
        window: RateWindow,
        emission: Duration,
        burst: u32,
        now_micros: Option<i64>,
    ) -> Result<Result<(), Duration>, StoreError> {
        let budget = Budget {
            window,
            emission,
            burst,
        };
        let outcome = self.acquire_many(company, &[budget], 1, now_micros).await?;
        Ok(match outcome.refused {
            Some((_, wait)) if outcome.admitted == 0 => Err(wait),
            _ => Ok(()),
        })
    }

    /// Counts `count` requests of `company` that arrived together against
    /// every one of `budgets` at once, as [`crate::model::gcra_many`]
    /// decides, atomically: a node gathers the requests that wait for the
    /// database and counts them in one round of statements. The first
    /// `admitted` are admitted; the rest were refused by `refused`'s
    /// window, until its wait has passed.
    async fn acquire_many(
        &self,
        company: CompanyId,
        budgets: &[Budget],
        count: u32,
        now_micros: Option<i64>,
    ) -> Result<Admitted, StoreError>;
}

/// One budget a request is counted against: `burst` requests, refilled one
/// per `emission`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    pub window: RateWindow,
    pub emission: Duration,
    pub burst: u32,
}

/// What [`SharedRateBudget::acquire_many`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Admitted {
    /// How many of the requests were admitted (the first ones).
    pub admitted: u32,
    /// Why the rest were refused: the window, and the wait until it admits
    /// one again.
    pub refused: Option<(RateWindow, Duration)>,
}
