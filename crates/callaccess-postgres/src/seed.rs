//! Applying a seed file: [`callaccess_domain::seed::plan`] decides, over the
//! facts fetched for [`callaccess_domain::seed::needs`] in one round trip,
//! what to write and in what order; this module executes each write, in the
//! store's one transaction.
//!
//! The plan lists a company's users, managers, profile assignments, calls,
//! shares and grants one write each, in runs of the same kind. A run is
//! written as one statement of arrays (up to [`RUN`] writes, and never the
//! same row twice), which applies exactly what the writes one by one
//! would: the writes of a run touch distinct rows of one table, so their
//! order within it does not matter, and runs stay in the plan's order. A
//! seed of 100,000 users thus costs tens of statements, not 100,000.

use std::collections::HashSet;

use crate::tally::Db;
use callaccess_domain::seed::{self, Seed, SeedSummary, SeedWrite};
use callaccess_domain::{
    encoding, Call, CallId, CallsAccess, CompanyId, NewApiKey, NewEntry, NewToken, Origin,
    ProfileId, StoreError, Timestamp, User, UserId,
};
use tokio_postgres::types::ToSql;

use crate::error::Fail;
use crate::{access, admin, audit, rows};

/// Most writes in one statement: large enough that a big seed takes few
/// round trips, small enough to keep each statement's arrays modest.
const RUN: usize = 5_000;

/// Applies `seed`, or answers `SeedRejected` if it does not fit the
/// database; the caller's transaction is then rolled back, so nothing of it
/// stays.
/// A seed of at least this many users and calls is followed by
/// [`analyze`]: before PostgreSQL's statistics know a table's size, its
/// plans assume a handful of rows (paging through 100,000 freshly seeded
/// users took 6 s instead of 1.5 s, docs/PERFORMANCE.md).
pub(crate) const ANALYZE_AFTER: usize = 1_000;

/// Refreshes the planner's statistics of the tables a seed fills.
pub(crate) async fn analyze(db: &impl Db) -> Result<(), Fail> {
    crate::rows::execute(
        db,
        "ANALYZE users, calls, call_participants, user_profiles, permission_profiles, workspaces, shares, api_grants",
        &[],
    )
    .await?;
    Ok(())
}

/// The audit entries are those of every row the seed created or changed,
/// in the plan's order, recorded at the end in runs of arrays.
pub(crate) async fn apply(
    db: &impl Db,
    origin: &Origin,
    seed: &Seed,
    now: Timestamp,
) -> Result<SeedSummary, Fail> {
    let known = admin::fetch_known(db, &seed::needs(seed)).await?.known;
    let mut entries: Vec<NewEntry> = Vec::new();
    let mut pending: Option<Run> = None;
    for write in seed::plan(seed, &known)? {
        let write = match pending.as_mut() {
            Some(run) => match run.absorb(write) {
                None => continue,
                Some(other) => other,
            },
            None => write,
        };
        if let Some(run) = pending.take() {
            entries.extend(run.write(db, now).await?);
        }
        match Run::of(&write) {
            Some(mut run) => match run.absorb(write) {
                None => pending = Some(run),
                // Not expected: an empty run of the write's own kind takes
                // it. `execute` refuses it loudly rather than drop it.
                Some(write) => entries.extend(execute(db, write, now).await?),
            },
            None => entries.extend(execute(db, write, now).await?),
        }
    }
    if let Some(run) = pending {
        entries.extend(run.write(db, now).await?);
    }
    audit::record(db, origin, now, &entries).await?;
    // A seed may change keys, tokens and company limits; nodes check the
    // credentials they kept once more rather than each write saying so.
    crate::store::credentials_changed(db).await?;
    Ok(seed.summary())
}

/// Consecutive writes of one kind for one company, written together.
struct Run {
    company: CompanyId,
    kind: Kind,
    /// The rows the run writes (a user's or a call's id), each once.
    rows: HashSet<i64>,
}

enum Kind {
    Users(Vec<User>),
    Managers(Vec<(UserId, Option<UserId>)>),
    Assignments(Vec<(UserId, ProfileId)>),
    Levels(CallsAccess, Vec<UserId>),
    Calls(Vec<Call>),
    Shares(Vec<(CallId, UserId)>),
    Grants(Vec<(CallId, UserId)>),
}

impl Kind {
    fn len(&self) -> usize {
        match self {
            Self::Users(v) => v.len(),
            Self::Managers(v) => v.len(),
            Self::Assignments(v) => v.len(),
            Self::Levels(_, v) => v.len(),
            Self::Calls(v) => v.len(),
            Self::Shares(v) | Self::Grants(v) => v.len(),
        }
    }
}

impl Run {
    /// An empty run that would take `write`, or `None` for a write that is
    /// written on its own.
    fn of(write: &SeedWrite) -> Option<Self> {
        let (company, kind) = match write {
            SeedWrite::User(user) => (user.company, Kind::Users(Vec::new())),
            SeedWrite::Call(call) => (call.company, Kind::Calls(Vec::new())),
            SeedWrite::Manager { company, .. } => (*company, Kind::Managers(Vec::new())),
            SeedWrite::AssignProfile { company, .. } => (*company, Kind::Assignments(Vec::new())),
            SeedWrite::CallsAccess { company, level, .. } => {
                (*company, Kind::Levels(*level, Vec::new()))
            }
            SeedWrite::Share { company, .. } => (*company, Kind::Shares(Vec::new())),
            SeedWrite::ApiGrant { company, .. } => (*company, Kind::Grants(Vec::new())),
            _ => return None,
        };
        Some(Self::empty(company, kind))
    }

    fn empty(company: CompanyId, kind: Kind) -> Self {
        Self {
            company,
            kind,
            rows: HashSet::new(),
        }
    }

    /// Takes `write` into the run, or gives it back: another kind or
    /// company, a row the run writes already, or a full run.
    fn absorb(&mut self, write: SeedWrite) -> Option<SeedWrite> {
        let (company, row) = match &write {
            SeedWrite::User(user) => (user.company, Some(user.id.get())),
            SeedWrite::Call(call) => (call.company, Some(call.id.get())),
            SeedWrite::Manager { company, user, .. }
            | SeedWrite::AssignProfile { company, user, .. }
            | SeedWrite::CallsAccess { company, user, .. } => (*company, Some(user.get())),
            // Inserting a share or a grant twice is a no-op: no row to guard.
            SeedWrite::Share { company, .. } | SeedWrite::ApiGrant { company, .. } => {
                (*company, None)
            }
            _ => return Some(write),
        };
        let repeated = row.is_some_and(|row| self.rows.contains(&row));
        if company != self.company || repeated || self.kind.len() >= RUN {
            return Some(write);
        }
        match (&mut self.kind, write) {
            (Kind::Users(users), SeedWrite::User(user)) => users.push(user),
            (Kind::Calls(calls), SeedWrite::Call(call)) => calls.push(call),
            (Kind::Managers(managers), SeedWrite::Manager { user, manager, .. }) => {
                managers.push((user, manager));
            }
            (Kind::Assignments(assignments), SeedWrite::AssignProfile { user, profile, .. }) => {
                assignments.push((user, profile));
            }
            (Kind::Levels(at, users), SeedWrite::CallsAccess { user, level, .. })
                if *at == level =>
            {
                users.push(user);
            }
            (Kind::Shares(pairs), SeedWrite::Share { call, user, .. })
            | (Kind::Grants(pairs), SeedWrite::ApiGrant { call, user, .. }) => {
                pairs.push((call, user));
            }
            (_, other) => return Some(other),
        }
        self.rows.extend(row);
        None
    }

    /// Writes the run; the audit entries of what it created or changed.
    async fn write(self, db: &impl Db, now: Timestamp) -> Result<Vec<NewEntry>, Fail> {
        let company = self.company;
        match self.kind {
            Kind::Users(users) => {
                let created = admin::write_users(db, company, &users, now).await?;
                // A seed writes a user's manager and profiles separately,
                // each audited as it is written: a new user is recorded
                // as it is at this write, with neither.
                Ok(users
                    .iter()
                    .filter(|user| created.contains(&user.id))
                    .map(|user| {
                        let bare = User {
                            manager_id: None,
                            calls_access: None,
                            ..user.clone()
                        };
                        NewEntry::user_created(&bare, &[])
                    })
                    .collect())
            }
            Kind::Managers(managers) => admin::write_managers(db, company, &managers).await,
            // The plan checked that each profile is the company's.
            Kind::Assignments(assignments) => {
                let changed = admin::write_assignments(db, company, &assignments).await?;
                Ok(admin::reassigned(company, &changed))
            }
            Kind::Levels(level, users) => Ok(admin::write_calls_access(db, company, &users, level)
                .await?
                .entries(company)),
            Kind::Calls(calls) => admin::write_calls(db, company, &calls, now).await,
            Kind::Shares(shares) => admin::insert_shares(db, company, &shares, now).await,
            Kind::Grants(grants) => access::record(db, company, &grants, now).await,
        }
    }
}

/// A write that no run takes, on its own; its audit entries.
async fn execute(db: &impl Db, write: SeedWrite, now: Timestamp) -> Result<Vec<NewEntry>, Fail> {
    match write {
        SeedWrite::Company {
            id,
            name,
            rate_limit,
            created_at,
        } => {
            // The time only lands in a new row: an upsert keeps the stored one.
            let created = created_at.unwrap_or(now);
            admin::write_company(db, id, &name, rate_limit, created).await?;
            Ok(Vec::new())
        }
        SeedWrite::ApiKey { company, key } => {
            let new = NewApiKey {
                access_key: key.access_key.clone(),
                company,
                digest: key.digest,
                scopes: key.scopes,
                expires_at: key.expires_at,
            };
            let mut entries = Vec::new();
            let written = admin::write_api_key(db, &new, key.created_at.unwrap_or(now)).await?;
            if let Some((info, true)) = &written {
                entries.push(NewEntry::api_key_created(info));
            }
            if let Some(at) = key.revoked_at {
                // Only a key not revoked yet changes, and is audited.
                let sql = format!(
                    "UPDATE api_keys SET revoked_at = $3
                      WHERE access_key = $1 AND company_id = $2 AND revoked_at IS NULL
                     RETURNING {}",
                    admin::API_KEYS.columns()
                );
                let params: [&(dyn ToSql + Sync); 3] =
                    [&key.access_key, &company.get(), &at.unix()];
                if let Some(row) = rows::first(db, &sql, &params).await? {
                    entries.push(NewEntry::api_key_revoked(&admin::API_KEYS.read(&row)?));
                }
            }
            Ok(entries)
        }
        SeedWrite::Token { company, id, token } => {
            let revoked_at = token.revoked_at;
            let created = token.created_at.unwrap_or(now);
            let token = NewToken {
                company,
                digest: token.digest,
                scopes: token.scopes,
                expires_at: token.expires_at,
            };
            // The plan made sure the digest is not another company's: it is
            // this company's token to update, or a new one.
            let sql = "UPDATE tokens SET scopes = $3, expires_at = $4
                       WHERE digest = $1 AND company_id = $2";
            let params: [&(dyn ToSql + Sync); 4] = [
                &token.digest.0.as_slice(),
                &company.get(),
                &encoding::scopes_value(&token.scopes),
                &token.expires_at.map(Timestamp::unix),
            ];
            let mut entries = Vec::new();
            if rows::execute(db, sql, &params).await? == 0 {
                let info = admin::insert_token(db, &id, &token, created).await?;
                entries.push(NewEntry::token_created(&info));
            }
            if let Some(at) = revoked_at {
                // Only a token not revoked yet changes, and is audited.
                let sql = format!(
                    "UPDATE tokens SET revoked_at = $3
                      WHERE digest = $1 AND company_id = $2 AND revoked_at IS NULL
                     RETURNING {}",
                    admin::TOKENS.columns()
                );
                let params: [&(dyn ToSql + Sync); 3] =
                    [&token.digest.0.as_slice(), &company.get(), &at.unix()];
                if let Some(row) = rows::first(db, &sql, &params).await? {
                    entries.push(NewEntry::token_revoked(&admin::TOKENS.read(&row)?));
                }
            }
            Ok(entries)
        }
        SeedWrite::Workspace(workspace) => {
            admin::write_workspace(db, &workspace).await?;
            Ok(Vec::new())
        }
        SeedWrite::DefaultWorkspace { company, id } => {
            admin::write_default_workspace(db, company, id).await?;
            Ok(Vec::new())
        }
        SeedWrite::Profile(profile) => Ok(admin::write_profile(db, &profile)
            .await?
            .into_iter()
            .collect()),
        // Every other write is written in a run (`Run::of`).
        other => Err(Fail::Store(StoreError::Other(format!(
            "a seed write outside a run: {other:?}"
        )))),
    }
}
