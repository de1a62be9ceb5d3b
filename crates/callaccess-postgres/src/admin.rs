//! Companies, workspaces, permission profiles, credentials, users and their
//! managers, calls and shares: what the admin tools and the authentication
//! layer need. The checks are [`callaccess_domain::admin`]'s: each change
//! fetches what its check needs in one round trip ([`fetch_known`], which
//! also walks the chain of managers a manager change needs), runs the
//! check, then writes — all in the transaction the store gives it. Each
//! table's write is here once, for admin changes, the API's writes and
//! seeds alike; the writes of many rows take arrays, so a seed writes a
//! run of users or calls in one statement.

use crate::tally::Db;
use callaccess_domain::admin::{self as rules, Directory, Known, Needs};
use callaccess_domain::encoding;
use callaccess_domain::secret::generate_token_id;
use callaccess_domain::{
    legacy_profile, parties_to_json, ApiKeyInfo, Call, CallId, CallsAccess, CallsRule, Company,
    CompanyId, NewApiKey, NewCompany, NewEntry, NewToken, Profile, ProfileId, RateLimit, Scope,
    SecretDigest, StoreError, StoredCredential, Timestamp, TokenInfo, User, UserId, UserUpdate,
    Workspace, WorkspaceId,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Fail;
use crate::rows;
use crate::run;
use crate::store::credentials_changed;

// --- what the checks know ---

/// Everything a [`Needs`] names, as tagged rows: the count of credential
/// changes (as `id`); companies among `$1` with their default workspace
/// (as `other`); users and calls among the pairs `($2, $3)` and `($4,
/// $5)`; access keys among `$6`; tokens whose handle is among `$7` or
/// digest among `$8`; workspaces among `$9`; profiles among `$10` with
/// their workspace; calls by `clientUniqueId` among the pairs `($11,
/// $12)`; and the whole chain of managers above each user among the pairs
/// `($13, $14)` (`UNION` drops a row seen before, so a stored loop ends
/// the walk).
const KNOWN: &str = "\
WITH RECURSIVE chain (company_id, id, manager_id) AS (
    SELECT company_id, id, manager_id
      FROM users WHERE (company_id, id) IN (SELECT * FROM unnest($13::BIGINT[], $14::BIGINT[]))
    UNION
    SELECT u.company_id, u.id, u.manager_id
      FROM chain c CROSS JOIN LATERAL (
           -- A primary-key lookup per step, whatever the statistics say
           -- (see `facts!` in access.rs).
           SELECT company_id, id, manager_id FROM users
            WHERE company_id = c.company_id AND id = c.manager_id LIMIT 1) u
)
SELECT 'epoch' AS fact, NULL::BIGINT AS company_id, count AS id, NULL::BIGINT AS other,
       NULL::TEXT AS handle, NULL::BYTEA AS digest
  FROM credential_changes WHERE id = 1
UNION ALL
SELECT 'company', id, NULL, default_workspace_id, NULL, NULL
  FROM companies WHERE id = ANY($1::BIGINT[])
UNION ALL
SELECT 'user', company_id, id, NULL, NULL, NULL
  FROM users WHERE (company_id, id) IN (SELECT * FROM unnest($2::BIGINT[], $3::BIGINT[]))
UNION ALL
SELECT 'call', company_id, id, NULL, NULL, NULL
  FROM calls WHERE (company_id, id) IN (SELECT * FROM unnest($4::BIGINT[], $5::BIGINT[]))
UNION ALL
SELECT 'key', company_id, NULL, NULL, access_key, NULL
  FROM api_keys WHERE access_key = ANY($6::TEXT[])
UNION ALL
SELECT 'token', company_id, NULL, NULL, id, digest
  FROM tokens WHERE id = ANY($7::TEXT[]) OR digest = ANY($8::BYTEA[])
UNION ALL
SELECT 'workspace', company_id, id, NULL, NULL, NULL
  FROM workspaces WHERE id = ANY($9::BIGINT[])
UNION ALL
SELECT 'profile', company_id, id, workspace_id, NULL, NULL
  FROM permission_profiles WHERE id = ANY($10::BIGINT[])
UNION ALL
SELECT 'client', company_id, id, NULL, client_unique_id, NULL
  FROM calls
 WHERE client_unique_id IS NOT NULL
   AND (company_id, client_unique_id) IN (SELECT * FROM unnest($11::BIGINT[], $12::TEXT[]))
UNION ALL
SELECT 'manager', company_id, id, manager_id, NULL, NULL FROM chain";

/// What [`KNOWN`] found: the facts for the domain's checks (a company's
/// default workspace among them), and the count of credential changes the
/// statement saw.
pub(crate) struct Fetched {
    pub(crate) known: Known,
    pub(crate) epoch: u64,
}

impl Fetched {
    /// The default workspace of a company [`Needs::companies`] named.
    pub(crate) fn default_workspace(&self, company: CompanyId) -> Result<WorkspaceId, Fail> {
        self.known
            .default_workspace(company)?
            .ok_or_else(|| no_default_workspace(company))
    }
}

/// Every company has a default workspace since migration 5; one without is
/// a defect of the data, never an answer.
pub(crate) fn no_default_workspace(company: CompanyId) -> Fail {
    Fail::Store(StoreError::Other(format!(
        "company \"{company}\" has no default workspace"
    )))
}

/// The parameters of [`KNOWN`] for `needs`, owned.
struct KnownParams {
    companies: Vec<i64>,
    user_companies: Vec<i64>,
    users: Vec<i64>,
    call_companies: Vec<i64>,
    calls: Vec<i64>,
    keys: Vec<String>,
    token_ids: Vec<String>,
    digests: Vec<Vec<u8>>,
    workspaces: Vec<i64>,
    profiles: Vec<i64>,
    client_companies: Vec<i64>,
    client_ids: Vec<String>,
    chain_companies: Vec<i64>,
    chains: Vec<i64>,
}

fn pairs<T: Copy>(items: &[(CompanyId, T)], get: fn(T) -> i64) -> (Vec<i64>, Vec<i64>) {
    items.iter().map(|(c, id)| (c.get(), get(*id))).unzip()
}

impl KnownParams {
    fn new(needs: &Needs) -> Self {
        let (user_companies, users) = pairs(&needs.users, UserId::get);
        let (call_companies, calls) = pairs(&needs.calls, CallId::get);
        let (chain_companies, chains) = pairs(&needs.chains, UserId::get);
        let (client_companies, client_ids) = needs
            .client_ids
            .iter()
            .map(|(c, id)| (c.get(), id.clone()))
            .unzip();
        Self {
            companies: rows::ids(needs.companies.iter().copied(), CompanyId::get),
            user_companies,
            users,
            call_companies,
            calls,
            keys: needs.keys.clone(),
            token_ids: needs.token_ids.clone(),
            digests: needs.token_digests.iter().map(|d| d.0.to_vec()).collect(),
            workspaces: rows::ids(needs.workspaces.iter().copied(), WorkspaceId::get),
            profiles: rows::ids(needs.profiles.iter().copied(), ProfileId::get),
            client_companies,
            client_ids,
            chain_companies,
            chains,
        }
    }

    fn params(&self) -> [&(dyn ToSql + Sync); 14] {
        [
            &self.companies,
            &self.user_companies,
            &self.users,
            &self.call_companies,
            &self.calls,
            &self.keys,
            &self.token_ids,
            &self.digests,
            &self.workspaces,
            &self.profiles,
            &self.client_companies,
            &self.client_ids,
            &self.chain_companies,
            &self.chains,
        ]
    }
}

fn read_known(found: &[Row]) -> Result<Fetched, Fail> {
    let mut fetched = Fetched {
        known: Known::default(),
        epoch: 0,
    };
    let known = &mut fetched.known;
    for row in found {
        let tag = rows::at::<&str>(row, 0)?;
        if tag == "epoch" {
            fetched.epoch = u64::try_from(rows::at::<i64>(row, 2)?).unwrap_or(0);
            continue;
        }
        let company = rows::company_at(row, 1)?;
        match tag {
            "company" => match rows::optional_workspace_at(row, 3)? {
                Some(workspace) => known.company_default(company, workspace),
                None => known.company(company),
            },
            "user" => known.user(company, rows::user_at(row, 2)?),
            "call" => known.call(company, rows::call_at(row, 2)?),
            "key" => known.key(rows::at(row, 4)?, company),
            "token" => known.token(rows::digest_at(row, 5)?, rows::at(row, 4)?, company),
            "workspace" => known.workspace(rows::workspace_at(row, 2)?, company),
            "profile" => known.profile(
                rows::profile_at(row, 2)?,
                company,
                rows::workspace_at(row, 3)?,
            ),
            "client" => known.client_id(company, rows::at(row, 4)?, rows::call_at(row, 2)?),
            "manager" => known.manager(
                company,
                rows::user_at(row, 2)?,
                rows::optional_user_at(row, 3)?,
            ),
            other => return Err(rows::unknown_tag(other)),
        }
    }
    Ok(fetched)
}

/// The stored facts `needs` names, in one round trip; for every admin
/// change and for seeds.
pub(crate) async fn fetch_known(db: &impl Db, needs: &Needs) -> Result<Fetched, Fail> {
    let params = KnownParams::new(needs);
    read_known(&rows::query(db, KNOWN, &params.params()).await?)
}

/// [`fetch_known`] as the first statement of a pipelined transaction: its
/// `BEGIN` goes in the same round trip (see [`crate::run::begin_with_query`]).
pub(crate) async fn begin_with_known(db: &impl Db, needs: &Needs) -> Result<Fetched, Fail> {
    let params = KnownParams::new(needs);
    read_known(&run::begin_with_query(db, KNOWN, &params.params()).await?)
}

/// [`begin_with_known`] with one more statement in the same round trip:
/// its rows.
pub(crate) async fn begin_with_known_and(
    db: &impl Db,
    needs: &Needs,
    other: (&str, &[&(dyn ToSql + Sync)]),
) -> Result<(Fetched, Vec<Row>), Fail> {
    let params = KnownParams::new(needs);
    let (known, other) = run::begin_with_queries(db, (KNOWN, &params.params()), other).await?;
    Ok((read_known(&known)?, other))
}

/// Runs the domain's `check` over what `needs` names; the caller writes
/// only once it passed.
async fn checked<T>(
    db: &impl Db,
    needs: Needs,
    check: impl FnOnce(&Known) -> Result<T, StoreError>,
) -> Result<T, Fail> {
    Ok(check(&fetch_known(db, &needs).await?.known)?)
}

// --- companies ---

const COMPANY_COLUMNS: &str = "id, name, per_second_limit, per_day_limit, created_at";

fn company_row(row: &Row) -> Result<Company, Fail> {
    Ok(Company {
        id: rows::company_at(row, 0)?,
        name: rows::at(row, 1)?,
        rate_limit: RateLimit {
            per_second: rows::limit_at(row, 2)?,
            per_day: rows::limit_at(row, 3)?,
        },
        created_at: rows::timestamp_at(row, 4)?,
    })
}

/// Creates the company, or updates its name and limits. Creation times and
/// revocations are history, not settings: an update keeps them, so
/// re-applying a seed never revives a revoked key.
pub(crate) async fn write_company(
    db: &impl Db,
    id: CompanyId,
    name: &str,
    limit: RateLimit,
    now: Timestamp,
) -> Result<(), Fail> {
    let sql = "INSERT INTO companies (id, name, per_second_limit, per_day_limit, created_at)
               VALUES ($1, $2, $3, $4, $5)
               ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                   per_second_limit = excluded.per_second_limit,
                   per_day_limit = excluded.per_day_limit";
    let params: [&(dyn ToSql + Sync); 5] = [
        &id.get(),
        &name,
        &encoding::limit_value(limit.per_second),
        &encoding::limit_value(limit.per_day),
        &now.unix(),
    ];
    rows::execute(db, sql, &params).await?;
    Ok(())
}

pub(crate) async fn create_company(
    db: &impl Db,
    new: &NewCompany,
    now: Timestamp,
) -> Result<Company, Fail> {
    checked(db, Needs::create_company(new), |k| {
        rules::create_company(k, new)
    })
    .await?;
    // The check found no such company in this transaction: this inserts.
    write_company(db, new.id, &new.name, new.rate_limit, now).await?;
    write_workspace(db, &Workspace::default_for(new.id, WorkspaceId::random())).await?;
    Ok(Company {
        id: new.id,
        name: new.name.clone(),
        rate_limit: RateLimit {
            per_second: encoding::stored_limit(new.rate_limit.per_second),
            per_day: encoding::stored_limit(new.rate_limit.per_day),
        },
        created_at: now,
    })
}

pub(crate) async fn companies(db: &impl Db) -> Result<Vec<Company>, Fail> {
    let sql = format!("SELECT {COMPANY_COLUMNS} FROM companies ORDER BY id");
    let found = rows::query(db, &sql, &[]).await?;
    found.iter().map(company_row).collect()
}

pub(crate) async fn set_rate_limit(
    db: &impl Db,
    company: CompanyId,
    limit: RateLimit,
) -> Result<Company, Fail> {
    let sql = format!(
        "UPDATE companies SET per_second_limit = $2, per_day_limit = $3 WHERE id = $1
         RETURNING {COMPANY_COLUMNS}"
    );
    let params: [&(dyn ToSql + Sync); 3] = [
        &company.get(),
        &encoding::limit_value(limit.per_second),
        &encoding::limit_value(limit.per_day),
    ];
    let changed = match rows::first(db, &sql, &params).await? {
        Some(row) => company_row(&row)?,
        None => return Err(StoreError::NoCompany(company).into()),
    };
    credentials_changed(db).await?;
    Ok(changed)
}

// --- credentials ---

/// What tells the two credential tables apart; everything else about them
/// is one code path. The names are fixed here, so no SQL is ever assembled
/// from a value.
pub(crate) struct Credentials<T> {
    table: &'static str,
    /// The public handle, for listing and revoking.
    handle: &'static str,
    /// Authentication: the credential and its company's limits, by what a
    /// request presents.
    lookup: &'static str,
    /// A token always has an explicit scope list, possibly empty; a key
    /// without one has full access.
    scopes_listed: bool,
    /// The column of the secret's digest, which only an export reads.
    digest: &'static str,
    make: fn(Listed) -> T,
    /// The answer when no credential has the handle.
    missing: fn(String) -> StoreError,
    /// The audit entries of a revocation and of an expired use.
    pub(crate) revoked: fn(&T) -> NewEntry,
    pub(crate) expired: fn(&T) -> NewEntry,
    /// What `audit_expired_noted` calls this kind of credential.
    pub(crate) kind: &'static str,
}

/// What both tables list, in the order of [`Credentials::columns`]: the
/// handle, company, scopes and the creation, expiry and revocation times.
type Listed = (
    String,
    CompanyId,
    Option<Vec<Scope>>,
    Timestamp,
    Option<Timestamp>,
    Option<Timestamp>,
);

pub(crate) const API_KEYS: Credentials<ApiKeyInfo> = Credentials {
    table: "api_keys",
    handle: "access_key",
    lookup: "SELECT k.company_id, k.secret_digest, k.scopes, k.expires_at, k.revoked_at,
                    c.per_second_limit, c.per_day_limit,
                    (SELECT count FROM credential_changes WHERE id = 1), k.access_key
             FROM api_keys k JOIN companies c ON c.id = k.company_id WHERE k.access_key = $1",
    scopes_listed: false,
    digest: "secret_digest",
    make: |(access_key, company, scopes, created_at, expires_at, revoked_at)| ApiKeyInfo {
        access_key,
        company,
        scopes,
        created_at,
        expires_at,
        revoked_at,
    },
    missing: StoreError::NoApiKey,
    revoked: NewEntry::api_key_revoked,
    expired: NewEntry::api_key_expired,
    kind: "apiKey",
};

pub(crate) const TOKENS: Credentials<TokenInfo> = Credentials {
    table: "tokens",
    handle: "id",
    lookup: "SELECT t.company_id, t.digest, t.scopes, t.expires_at, t.revoked_at,
                    c.per_second_limit, c.per_day_limit,
                    (SELECT count FROM credential_changes WHERE id = 1), t.id
             FROM tokens t JOIN companies c ON c.id = t.company_id WHERE t.digest = $1",
    scopes_listed: true,
    digest: "digest",
    make: |(id, company, scopes, created_at, expires_at, revoked_at)| TokenInfo {
        id,
        company,
        scopes: scopes.unwrap_or_default(),
        created_at,
        expires_at,
        revoked_at,
    },
    missing: StoreError::NoToken,
    revoked: NewEntry::token_revoked,
    expired: NewEntry::token_expired,
    kind: "token",
};

impl<T> Credentials<T> {
    /// The columns [`Listed`] holds, in its order.
    pub(crate) fn columns(&self) -> String {
        format!(
            "{}, company_id, scopes, created_at, expires_at, revoked_at",
            self.handle
        )
    }

    pub(crate) fn read(&self, row: &Row) -> Result<T, Fail> {
        Ok((self.make)((
            rows::at(row, 0)?,
            rows::company_at(row, 1)?,
            rows::scopes_at(row, 2)?,
            rows::timestamp_at(row, 3)?,
            rows::optional_timestamp_at(row, 4)?,
            rows::optional_timestamp_at(row, 5)?,
        )))
    }

    /// `sql`'s row, if it returned one.
    async fn returned(
        &self,
        db: &impl Db,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Option<T>, Fail> {
        let row = rows::first(db, sql, params).await?;
        row.map(|row| self.read(&row)).transpose()
    }

    /// All, or one company's, by creation time: two statements rather than
    /// `$1 IS NULL OR …`, so that the per-company listing can use its index.
    pub(crate) async fn list(
        &self,
        db: &impl Db,
        company: Option<CompanyId>,
    ) -> Result<Vec<T>, Fail> {
        let (columns, table, handle) = (self.columns(), self.table, self.handle);
        let all = format!("SELECT {columns} FROM {table}");
        let order = format!("ORDER BY created_at, {handle}");
        let found = match company {
            Some(company) => {
                let sql = format!("{all} WHERE company_id = $1 {order}");
                rows::query(db, &sql, &[&company.get()]).await?
            }
            None => rows::query(db, &format!("{all} {order}"), &[]).await?,
        };
        found.iter().map(|row| self.read(row)).collect()
    }

    /// One company's, as [`Self::list`] orders them, each with the digest
    /// of its secret: for an export, which carries digests, never secrets.
    pub(crate) async fn list_with_digests(
        &self,
        db: &impl Db,
        company: CompanyId,
    ) -> Result<Vec<(T, SecretDigest)>, Fail> {
        let sql = format!(
            "SELECT {}, {} FROM {} WHERE company_id = $1 ORDER BY created_at, {}",
            self.columns(),
            self.digest,
            self.table,
            self.handle
        );
        rows::query(db, &sql, &[&company.get()])
            .await?
            .iter()
            .map(|row| Ok((self.read(row)?, rows::digest_at(row, 6)?)))
            .collect()
    }

    /// Revoking twice keeps the first time (`coalesce`); the credential
    /// as stored, and whether this revoked it (the audit entry). `prior`
    /// reads the row as it was before the statement's update.
    pub(crate) async fn revoke(
        &self,
        db: &impl Db,
        handle: &str,
        at: Timestamp,
    ) -> Result<(T, bool), Fail> {
        let (table, key) = (self.table, self.handle);
        let sql = format!(
            "WITH prior AS (SELECT revoked_at IS NULL AS live FROM {table} WHERE {key} = $1)
             UPDATE {table} SET revoked_at = coalesce(revoked_at, $2) WHERE {key} = $1
             RETURNING {}, (SELECT live FROM prior)",
            self.columns()
        );
        let row = rows::first(db, &sql, &[&handle, &at.unix()]).await?;
        let row = row.ok_or_else(|| (self.missing)(handle.to_owned()))?;
        let revoked = (self.read(&row)?, rows::at::<bool>(&row, 6)?);
        credentials_changed(db).await?;
        Ok(revoked)
    }

    /// The answer for a handle no credential has.
    pub(crate) fn missing(&self, handle: &str) -> Fail {
        Fail::Store((self.missing)(handle.to_owned()))
    }

    /// One credential by its handle, if there is one.
    pub(crate) async fn get(&self, db: &impl Db, handle: &str) -> Result<Option<T>, Fail> {
        let sql = format!(
            "SELECT {} FROM {} WHERE {} = $1",
            self.columns(),
            self.table,
            self.handle
        );
        self.returned(db, &sql, &[&handle]).await
    }

    /// The credential a request presents, with its company's limits, and
    /// the count of credential changes its statement saw.
    pub(crate) async fn lookup(
        &self,
        db: &impl Db,
        presented: &(dyn ToSql + Sync),
    ) -> Result<Option<(StoredCredential, u64)>, Fail> {
        let Some(row) = rows::first(db, self.lookup, &[presented]).await? else {
            return Ok(None);
        };
        let scopes = rows::scopes_at(&row, 2)?;
        let count = u64::try_from(rows::at::<i64>(&row, 7)?).unwrap_or(0);
        let credential = StoredCredential {
            handle: rows::at::<String>(&row, 8)?,
            company: rows::company_at(&row, 0)?,
            digest: rows::digest_at(&row, 1)?,
            scopes: if self.scopes_listed {
                Some(scopes.unwrap_or_default())
            } else {
                scopes
            },
            expires_at: rows::optional_timestamp_at(&row, 3)?,
            revoked_at: rows::optional_timestamp_at(&row, 4)?,
            rate_limit: RateLimit {
                per_second: rows::limit_at(&row, 5)?,
                per_day: rows::limit_at(&row, 6)?,
            },
        };
        Ok(Some((credential, count)))
    }
}

/// Creates the key, or updates its secret, scopes and expiry — only while
/// it is the same company's: the checks made sure it is not another's, and
/// the WHERE is a second lock on that door. The key as stored, or `None`
/// when the WHERE held it back.
pub(crate) async fn write_api_key(
    db: &impl Db,
    key: &NewApiKey,
    now: Timestamp,
) -> Result<Option<(ApiKeyInfo, bool)>, Fail> {
    // `xmax = 0`: the row was inserted, not updated (an updated row
    // carries the updating transaction's xid there); what tells a new key,
    // which is audited, from an update, which is not.
    let sql = format!(
        "INSERT INTO api_keys (access_key, company_id, secret_digest, scopes, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (access_key) DO UPDATE SET secret_digest = excluded.secret_digest,
             scopes = excluded.scopes, expires_at = excluded.expires_at
         WHERE api_keys.company_id = excluded.company_id
         RETURNING {}, (xmax = 0)",
        API_KEYS.columns()
    );
    let params: [&(dyn ToSql + Sync); 6] = [
        &key.access_key,
        &key.company.get(),
        &key.digest.0.as_slice(),
        &key.scopes.as_deref().map(encoding::scopes_value),
        &now.unix(),
        &key.expires_at.map(Timestamp::unix),
    ];
    let row = rows::first(db, &sql, &params).await?;
    row.map(|row| Ok((API_KEYS.read(&row)?, rows::at::<bool>(&row, 6)?)))
        .transpose()
}

pub(crate) async fn create_api_key(
    db: &impl Db,
    key: &NewApiKey,
    now: Timestamp,
) -> Result<ApiKeyInfo, Fail> {
    checked(db, Needs::create_api_key(key), |k| {
        rules::create_api_key(k, key)
    })
    .await?;
    // The check found no such key in this transaction: this inserts.
    let written = write_api_key(db, key, now).await?;
    let (info, _) = written.ok_or_else(|| StoreError::KeyExists(key.access_key.clone()))?;
    Ok(info)
}

/// Inserts a token under the handle `id`, as stored. `TokenExists` if its
/// handle or digest is taken after all: a seed inserts a token its company
/// does not have yet without asking whether its random handle clashes, as
/// a clash of 64 random bits is not expected in practice.
pub(crate) async fn insert_token(
    db: &impl Db,
    id: &str,
    token: &NewToken,
    now: Timestamp,
) -> Result<TokenInfo, Fail> {
    let sql = format!(
        "INSERT INTO tokens (id, digest, company_id, scopes, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT DO NOTHING
         RETURNING {}",
        TOKENS.columns()
    );
    let params: [&(dyn ToSql + Sync); 6] = [
        &id,
        &token.digest.0.as_slice(),
        &token.company.get(),
        &encoding::scopes_value(&token.scopes),
        &now.unix(),
        &token.expires_at.map(Timestamp::unix),
    ];
    let inserted = TOKENS.returned(db, &sql, &params).await?;
    Ok(inserted.ok_or(StoreError::TokenExists)?)
}

pub(crate) async fn create_token(
    db: &impl Db,
    token: &NewToken,
    now: Timestamp,
) -> Result<TokenInfo, Fail> {
    let id = generate_token_id();
    checked(db, Needs::create_token(token, &id), |k| {
        rules::create_token(k, token, &id)
    })
    .await?;
    insert_token(db, &id, token, now).await
}

// --- workspaces ---

/// Creates the workspace, or updates its name and description while it is
/// the same company's; the first workspace a company gets becomes its
/// default. One statement.
pub(crate) async fn write_workspace(db: &impl Db, workspace: &Workspace) -> Result<(), Fail> {
    let sql = "WITH written AS (
                   INSERT INTO workspaces (id, company_id, name, description)
                   VALUES ($1, $2, $3, $4)
                   ON CONFLICT (id) DO UPDATE
                       SET name = excluded.name, description = excluded.description
                       WHERE workspaces.company_id = excluded.company_id
                   RETURNING id, company_id)
               UPDATE companies SET default_workspace_id = written.id
                 FROM written
                WHERE companies.id = written.company_id
                  AND companies.default_workspace_id IS NULL";
    let params: [&(dyn ToSql + Sync); 4] = [
        &workspace.id.get(),
        &workspace.company.get(),
        &workspace.name,
        &workspace.description,
    ];
    rows::execute(db, sql, &params).await?;
    Ok(())
}

/// Unless the company has a default workspace, creates [`default_workspace`]
/// with this id and makes it the default. One statement.
pub(crate) async fn write_default_workspace(
    db: &impl Db,
    company: CompanyId,
    id: WorkspaceId,
) -> Result<(), Fail> {
    let sql = "WITH lacking AS (
                   SELECT id FROM companies WHERE id = $1 AND default_workspace_id IS NULL),
               made AS (
                   INSERT INTO workspaces (id, company_id, name, description)
                   SELECT $2, id, $3, NULL FROM lacking
                   RETURNING id, company_id)
               UPDATE companies SET default_workspace_id = made.id
                 FROM made WHERE companies.id = made.company_id";
    let workspace = Workspace::default_for(company, id);
    let params: [&(dyn ToSql + Sync); 3] = [&company.get(), &id.get(), &workspace.name];
    rows::execute(db, sql, &params).await?;
    Ok(())
}

pub(crate) async fn create_workspace(
    db: &impl Db,
    workspace: &Workspace,
) -> Result<Workspace, Fail> {
    checked(db, Needs::create_workspace(workspace), |k| {
        rules::create_workspace(k, workspace)
    })
    .await?;
    write_workspace(db, workspace).await?;
    Ok(workspace.clone())
}

pub(crate) const WORKSPACE_COLUMNS: &str = "w.id, w.name, w.description";

/// A workspace from [`WORKSPACE_COLUMNS`], starting at column `at`.
pub(crate) fn workspace_row(company: CompanyId, row: &Row, at: usize) -> Result<Workspace, Fail> {
    Ok(Workspace {
        company,
        id: rows::workspace_at(row, at)?,
        name: rows::at(row, at + 1)?,
        description: rows::at(row, at + 2)?,
    })
}

// --- permission profiles ---

pub(crate) const PROFILE_COLUMNS: &str =
    "p.id, p.workspace_id, p.name, p.level, p.team_lead_ids, p.fields";

/// A profile from [`PROFILE_COLUMNS`], starting at column `at`.
pub(crate) fn profile_row(company: CompanyId, row: &Row, at: usize) -> Result<Profile, Fail> {
    Ok(Profile {
        company,
        id: rows::profile_at(row, at)?,
        workspace: rows::workspace_at(row, at + 1)?,
        name: rows::at(row, at + 2)?,
        calls: CallsRule {
            level: rows::calls_access_at(row, at + 3)?,
            team_leads: rows::team_leads_at(row, at + 4)?,
        },
        fields: rows::object_at(row, at + 5)?,
    })
}

/// The statement of [`WRITE_PROFILE`], with `$returning` after it.
macro_rules! profile_upsert {
    ($returning:literal) => {
        concat!(
            "INSERT INTO permission_profiles AS p
       (id, company_id, workspace_id, name, level, team_lead_ids, fields)
VALUES ($1, $2, $3, $4, $5, $6, $7)
ON CONFLICT (id) DO UPDATE
   SET name = excluded.name, level = excluded.level,
       team_lead_ids = excluded.team_lead_ids, fields = excluded.fields
 WHERE p.company_id = excluded.company_id",
            $returning
        )
    };
}

/// Creates the profile, or replaces its name, call access and fields; it
/// stays in its workspace, and another company's profile is left alone
/// (the checks made sure it is not one).
pub(crate) const WRITE_PROFILE: &str = profile_upsert!("");

/// The parameters of [`WRITE_PROFILE`], owned.
pub(crate) struct ProfileParams {
    id: i64,
    company: i64,
    workspace: i64,
    name: String,
    level: &'static str,
    leads: String,
    fields: String,
}

impl ProfileParams {
    pub(crate) fn new(profile: &Profile) -> Self {
        let mut fields = profile.fields.clone();
        // The store owns ids.
        fields.remove("id");
        Self {
            id: profile.id.get(),
            company: profile.company.get(),
            workspace: profile.workspace.get(),
            name: profile.name.clone(),
            level: encoding::calls_access_value(profile.calls.level),
            leads: encoding::user_list_value(&profile.calls.team_leads),
            fields: serde_json::Value::Object(fields).to_string(),
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 7] {
        [
            &self.id,
            &self.company,
            &self.workspace,
            &self.name,
            &self.level,
            &self.leads,
            &self.fields,
        ]
    }
}

/// [`WRITE_PROFILE`] with what the audit needs: whether it inserted
/// (`xmax = 0`, as in [`write_api_key`]), the profile as written, and as
/// it was (`prior` reads the statement's snapshot, before the write).
const WRITE_PROFILE_AUDITED: &str = concat!(
    "WITH prior AS (
    SELECT p.id, p.workspace_id, p.name, p.level, p.team_lead_ids, p.fields
      FROM permission_profiles p WHERE p.id = $1 AND p.company_id = $2),
written AS (",
    profile_upsert!(
        "
RETURNING p.xmax = 0 AS inserted, p.id, p.workspace_id, p.name, p.level, p.team_lead_ids,
          p.fields"
    ),
    ")
SELECT w.*, prior.* FROM written w LEFT JOIN prior ON true"
);

/// Creates the profile or replaces its fields (a seed's write); the audit
/// entry of what changed: `profile.create`, `profile.update` or none.
pub(crate) async fn write_profile(
    db: &impl Db,
    profile: &Profile,
) -> Result<Option<NewEntry>, Fail> {
    let params = ProfileParams::new(profile);
    let Some(row) = rows::first(db, WRITE_PROFILE_AUDITED, &params.params()).await? else {
        return Ok(None);
    };
    let written = profile_row(profile.company, &row, 1)?;
    if rows::at::<bool>(&row, 0)? {
        return Ok(Some(NewEntry::profile_created(&written)));
    }
    if rows::at::<Option<i64>>(&row, 7)?.is_none() {
        return Ok(None);
    }
    let before = profile_row(profile.company, &row, 7)?;
    Ok(NewEntry::profile_updated(&before, &written))
}

/// Gives each user the company's profile paired with them, replacing the
/// one they hold in its workspace: one statement. Each user at most once
/// (a second profile of one user in one workspace would meet the first
/// row); a pair whose profile the company lacks writes nothing, and one
/// the user holds already changes nothing. The rows that changed, in the
/// order given (`prior` reads the rows as they
/// were before the statement).
pub(crate) async fn write_assignments(
    db: &impl Db,
    company: CompanyId,
    assignments: &[(UserId, ProfileId)],
) -> Result<Vec<Reassigned>, Fail> {
    if assignments.is_empty() {
        return Ok(Vec::new());
    }
    let (users, profiles): (Vec<i64>, Vec<i64>) = assignments
        .iter()
        .map(|(user, profile)| (user.get(), profile.get()))
        .unzip();
    let sql = "\
WITH given AS (
    SELECT g.ord, g.user_id, p.workspace_id, p.id AS profile_id
      FROM unnest($2::BIGINT[], $3::BIGINT[]) WITH ORDINALITY AS g (user_id, profile_id, ord)
      JOIN permission_profiles p ON p.id = g.profile_id AND p.company_id = $1),
prior AS (
    SELECT up.user_id, up.workspace_id, up.profile_id
      FROM user_profiles up JOIN given USING (user_id, workspace_id)
     WHERE up.company_id = $1),
written AS (
    INSERT INTO user_profiles AS up (company_id, user_id, workspace_id, profile_id)
    SELECT $1, user_id, workspace_id, profile_id FROM given
    ON CONFLICT (company_id, user_id, workspace_id)
    DO UPDATE SET profile_id = excluded.profile_id
     WHERE up.profile_id <> excluded.profile_id
    RETURNING up.user_id, up.workspace_id, up.profile_id)
SELECT w.user_id, w.workspace_id, prior.profile_id, w.profile_id
  FROM written w JOIN given g USING (user_id, workspace_id)
  LEFT JOIN prior USING (user_id, workspace_id)
 ORDER BY g.ord";
    let found = rows::query(db, sql, &[&company.get(), &users, &profiles]).await?;
    found
        .iter()
        .map(|row| {
            Ok(Reassigned {
                user: rows::user_at(row, 0)?,
                workspace: rows::workspace_at(row, 1)?,
                before: rows::at::<Option<i64>>(row, 2)?
                    .map(|_| rows::profile_at(row, 2))
                    .transpose()?,
                after: rows::profile_at(row, 3)?,
            })
        })
        .collect()
}

/// A profile a user holds in a workspace that a write changed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Reassigned {
    pub(crate) user: UserId,
    pub(crate) workspace: WorkspaceId,
    pub(crate) before: Option<ProfileId>,
    pub(crate) after: ProfileId,
}

/// The `user.profile` entries of `changes`, one each, in their order.
pub(crate) fn reassigned(company: CompanyId, changes: &[Reassigned]) -> Vec<NewEntry> {
    changes
        .iter()
        .filter_map(|c| {
            NewEntry::user_profile(company, c.user, c.workspace, c.before, Some(c.after))
        })
        .collect()
}

pub(crate) async fn assign_profile(
    db: &impl Db,
    company: CompanyId,
    user: UserId,
    profile: ProfileId,
) -> Result<Vec<NewEntry>, Fail> {
    checked(db, Needs::assign_profile(company, user, profile), |k| {
        rules::assign_profile(k, company, user, profile)
    })
    .await?;
    let changed = write_assignments(db, company, &[(user, profile)]).await?;
    Ok(reassigned(company, &changed))
}

/// The `callsAccess` shorthand: gives each user among `$2` the default
/// workspace's profile named [`callaccess_domain::legacy_profile_name`]
/// (`$4`), creating it ([`legacy_profile`]: `$3`, `$5`, `$6`) when the
/// workspace has none of that name and some of the users exist; replaces
/// their profile there. One statement. Its rows: `made` (the profile's id
/// and workspace) if it created the profile, and one `user` per user the
/// company has, with the workspace, the profile held before (`prior`
/// reads the statement's snapshot) and the one written if it changed.
const CALLS_ACCESS: &str = "\
WITH home AS (
    SELECT c.default_workspace_id AS workspace_id
      FROM companies c
     WHERE c.id = $1
       AND EXISTS (SELECT 1 FROM users WHERE company_id = $1 AND id = ANY($2::BIGINT[]))),
found AS (
    SELECT min(p.id) AS id
      FROM permission_profiles p JOIN home ON p.workspace_id = home.workspace_id
     WHERE p.company_id = $1 AND p.name = $4),
made AS (
    INSERT INTO permission_profiles (id, company_id, workspace_id, name, level, team_lead_ids, fields)
    SELECT $3, $1, home.workspace_id, $4, $5, '', $6
      FROM home, found
     WHERE found.id IS NULL AND home.workspace_id IS NOT NULL
    RETURNING id, workspace_id),
chosen AS (
    SELECT id FROM found WHERE id IS NOT NULL
    UNION ALL
    SELECT id FROM made),
targets AS (
    SELECT u.id AS user_id, home.workspace_id, chosen.id AS profile_id
      FROM users u, home, chosen
     WHERE u.company_id = $1 AND u.id = ANY($2::BIGINT[])),
prior AS (
    SELECT up.user_id, up.profile_id
      FROM user_profiles up JOIN targets t USING (user_id, workspace_id)
     WHERE up.company_id = $1),
written AS (
    INSERT INTO user_profiles AS up (company_id, user_id, workspace_id, profile_id)
    SELECT $1, user_id, workspace_id, profile_id FROM targets
    ON CONFLICT (company_id, user_id, workspace_id) DO UPDATE SET profile_id = excluded.profile_id
     WHERE up.profile_id <> excluded.profile_id
    RETURNING up.user_id, up.profile_id)
SELECT 'made' AS row, id AS a, workspace_id AS b, NULL::BIGINT AS c, NULL::BIGINT AS d FROM made
UNION ALL
SELECT 'user', t.user_id, t.workspace_id, prior.profile_id, w.profile_id
  FROM targets t LEFT JOIN prior USING (user_id) LEFT JOIN written w USING (user_id)";

/// What [`write_calls_access`] did.
#[derive(Debug, Default)]
pub(crate) struct LevelsWritten {
    /// How many of the users the company has.
    pub(crate) users: u64,
    /// The legacy profile, if this created it.
    pub(crate) made: Option<Profile>,
    /// The profile each user holds in the default workspace now, for
    /// every user the company has, in the order given.
    pub(crate) held: Vec<(UserId, WorkspaceId, ProfileId)>,
    /// Each user whose profile changed, in the order given.
    pub(crate) changed: Vec<Reassigned>,
}

impl LevelsWritten {
    /// The entries: the profile's creation first, then the assignments.
    pub(crate) fn entries(self, company: CompanyId) -> Vec<NewEntry> {
        let mut entries: Vec<NewEntry> = self.made.iter().map(NewEntry::profile_created).collect();
        entries.extend(reassigned(company, &self.changed));
        entries
    }
}

/// [`CALLS_ACCESS`] for `users` (each once) at `access`.
pub(crate) async fn write_calls_access(
    db: &impl Db,
    company: CompanyId,
    users: &[UserId],
    access: CallsAccess,
) -> Result<LevelsWritten, Fail> {
    if users.is_empty() {
        return Ok(LevelsWritten::default());
    }
    let order: Vec<UserId> = users.to_vec();
    // The statement finds the default workspace itself; the profile's id,
    // name and fields, which are all it takes from here, do not depend on
    // which it is.
    let profile = legacy_profile(company, WorkspaceId::random(), ProfileId::random(), access);
    let params = ProfileParams::new(&profile);
    let users = rows::ids(users.iter().copied(), UserId::get);
    let args: [&(dyn ToSql + Sync); 6] = [
        &company.get(),
        &users,
        &params.id,
        &params.name,
        &params.level,
        &params.fields,
    ];
    let found = rows::query(db, CALLS_ACCESS, &args).await?;
    let mut written = LevelsWritten::default();
    let mut by_user = std::collections::HashMap::new();
    for row in &found {
        match rows::at::<&str>(row, 0)? {
            "made" => {
                let mut made = profile.clone();
                made.id = rows::profile_at(row, 1)?;
                made.workspace = rows::workspace_at(row, 2)?;
                written.made = Some(made);
            }
            "user" => {
                let user = rows::user_at(row, 1)?;
                let workspace = rows::workspace_at(row, 2)?;
                let before = rows::at::<Option<i64>>(row, 3)?
                    .map(|_| rows::profile_at(row, 3))
                    .transpose()?;
                let after = rows::at::<Option<i64>>(row, 4)?
                    .map(|_| rows::profile_at(row, 4))
                    .transpose()?;
                by_user.insert(user, (workspace, before, after));
            }
            other => return Err(rows::unknown_tag(other)),
        }
    }
    for user in order {
        let Some(&(workspace, before, after)) = by_user.get(&user) else {
            continue;
        };
        written.users += 1;
        // Unchanged when the statement wrote nothing for the user.
        let held = after.or(before);
        if let Some(held) = held {
            written.held.push((user, workspace, held));
        }
        if let Some(after) = after {
            written.changed.push(Reassigned {
                user,
                workspace,
                before,
                after,
            });
        }
    }
    Ok(written)
}

pub(crate) async fn set_calls_access(
    db: &impl Db,
    company: CompanyId,
    user: UserId,
    access: CallsAccess,
) -> Result<LevelsWritten, Fail> {
    let written = write_calls_access(db, company, &[user], access).await?;
    if written.users == 0 {
        return Err(StoreError::NoUser { company, user }.into());
    }
    Ok(written)
}

// --- users ---

/// A user's columns, with the level of their profile in the company's
/// default workspace, from `users u` joined by [`USER_JOINS`].
pub(crate) const USER_COLUMNS: &str = "u.id, u.email, u.first_name, u.last_name, u.title, \
u.manager_id, u.active, u.created_at, p.level";

/// What [`USER_COLUMNS`] reads besides `users u`.
pub(crate) const USER_JOINS: &str = "\
LEFT JOIN companies co ON co.id = u.company_id
LEFT JOIN user_profiles up
       ON up.company_id = u.company_id AND up.user_id = u.id
      AND up.workspace_id = co.default_workspace_id
LEFT JOIN permission_profiles p ON p.id = up.profile_id";

/// A user from [`USER_COLUMNS`], starting at column `at`.
pub(crate) fn user_row(company: CompanyId, row: &Row, at: usize) -> Result<User, Fail> {
    Ok(User {
        company,
        id: rows::user_at(row, at)?,
        email_address: rows::at(row, at + 1)?,
        first_name: rows::at(row, at + 2)?,
        last_name: rows::at(row, at + 3)?,
        title: rows::at(row, at + 4)?,
        manager_id: rows::optional_user_at(row, at + 5)?,
        active: rows::at(row, at + 6)?,
        created: Some(rows::timestamp_at(row, at + 7)?),
        calls_access: rows::optional_calls_access_at(row, at + 8)?,
    })
}

/// Creates each user, or updates their email, names, title and `active`,
/// in one statement. `$created` says what an update does with the
/// creation time: the users of a statement either all give one, which it
/// then sets, or none does, and an update keeps the stored one (a new user
/// without one was created `$8`, now).
macro_rules! write_users {
    ($created:literal) => {
        concat!(
            "INSERT INTO users AS u
                    (company_id, id, email, first_name, last_name, title, active, created_at)
             SELECT $1, given.id, given.email, given.first_name, given.last_name, given.title,
                    given.active, coalesce(given.created_at, $8)
               FROM unnest($2::BIGINT[], $3::TEXT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                           $7::BOOLEAN[], $9::BIGINT[])
                    AS given (id, email, first_name, last_name, title, active, created_at)
             ON CONFLICT (company_id, id) DO UPDATE
                SET email = excluded.email, first_name = excluded.first_name,
                    last_name = excluded.last_name, title = excluded.title,
                    active = excluded.active",
            $created,
            " RETURNING u.id, u.xmax = 0"
        )
    };
}

/// Creates or updates the company's `users` (each once), their own fields
/// only: never their manager or profiles, which are separate writes. At
/// most two statements, one for the users that give a creation time and
/// one for those that do not. The ids of the users it created
/// (`xmax = 0`, as in [`write_api_key`]).
pub(crate) async fn write_users(
    db: &impl Db,
    company: CompanyId,
    users: &[User],
    now: Timestamp,
) -> Result<std::collections::HashSet<UserId>, Fail> {
    let mut made = std::collections::HashSet::new();
    const KEEP_CREATED: &str = write_users!("");
    const SET_CREATED: &str = write_users!(", created_at = excluded.created_at");
    for (sql, dated) in [(KEEP_CREATED, false), (SET_CREATED, true)] {
        let group: Vec<&User> = users
            .iter()
            .filter(|user| user.created.is_some() == dated)
            .collect();
        if group.is_empty() {
            continue;
        }
        let ids: Vec<i64> = group.iter().map(|u| u.id.get()).collect();
        let emails: Vec<&str> = group.iter().map(|u| u.email_address.as_str()).collect();
        let first: Vec<Option<&str>> = group.iter().map(|u| u.first_name.as_deref()).collect();
        let last: Vec<Option<&str>> = group.iter().map(|u| u.last_name.as_deref()).collect();
        let titles: Vec<Option<&str>> = group.iter().map(|u| u.title.as_deref()).collect();
        let active: Vec<bool> = group.iter().map(|u| u.active).collect();
        let created: Vec<Option<i64>> = group
            .iter()
            .map(|u| u.created.map(Timestamp::unix))
            .collect();
        let params: [&(dyn ToSql + Sync); 9] = [
            &company.get(),
            &ids,
            &emails,
            &first,
            &last,
            &titles,
            &active,
            &now.unix(),
            &created,
        ];
        for row in rows::query(db, sql, &params).await? {
            if rows::at::<bool>(&row, 1)? {
                made.insert(rows::user_at(&row, 0)?);
            }
        }
    }
    Ok(made)
}

/// A new user, with their manager (checked like any manager change) and
/// their `callsAccess` shorthand when given. The entries: the legacy
/// profile's creation if the shorthand created it, then `user.create`
/// with the manager and the profiles the user holds.
pub(crate) async fn add_user(
    db: &impl Db,
    user: &User,
    now: Timestamp,
) -> Result<Vec<NewEntry>, Fail> {
    let (company, id) = (user.company, user.id);
    let mut needs = Needs::add_user(user);
    let manager = Needs::set_manager(company, id, user.manager_id);
    needs.chains = manager.chains;
    let mut known = fetch_known(db, &needs).await?.known;
    rules::add_user(&known, user)?;
    if user.manager_id.is_some() {
        // The manager is checked as it would be right after the insert,
        // which is when it is written.
        known.user(company, id);
        rules::set_manager(&known, company, id, user.manager_id)?;
    }
    write_users(db, company, std::slice::from_ref(user), now).await?;
    if user.manager_id.is_some() {
        write_managers(db, company, &[(id, user.manager_id)]).await?;
    }
    let mut entries = Vec::new();
    let mut profiles = Vec::new();
    if let Some(level) = user.calls_access {
        let written = set_calls_access(db, company, id, level).await?;
        profiles.extend(written.held.iter().map(|&(_, w, p)| (w, p)));
        entries.extend(written.made.iter().map(NewEntry::profile_created));
    }
    entries.push(NewEntry::user_created(user, &profiles));
    Ok(entries)
}

/// The company's users, ascending.
pub(crate) async fn users(db: &impl Db, company: CompanyId) -> Result<Vec<User>, Fail> {
    let sql = format!(
        "SELECT {USER_COLUMNS} FROM users u {USER_JOINS} WHERE u.company_id = $1 ORDER BY u.id"
    );
    let found = rows::query(db, &sql, &[&company.get()]).await?;
    found.iter().map(|row| user_row(company, row, 0)).collect()
}

/// Writes managers the domain checked, each user once: one statement.
/// The `user.manager` entries of the users whose manager changed, in the
/// order given (`prior`, the table joined again, holds the rows as they
/// were before the update).
pub(crate) async fn write_managers(
    db: &impl Db,
    company: CompanyId,
    managers: &[(UserId, Option<UserId>)],
) -> Result<Vec<NewEntry>, Fail> {
    if managers.is_empty() {
        return Ok(Vec::new());
    }
    let (users, managers): (Vec<i64>, Vec<Option<i64>>) = managers
        .iter()
        .map(|(user, manager)| (user.get(), manager.map(UserId::get)))
        .unzip();
    let sql = "UPDATE users SET manager_id = given.manager_id
                 FROM unnest($2::BIGINT[], $3::BIGINT[]) WITH ORDINALITY AS given (id, manager_id, ord),
                      users prior
                WHERE users.company_id = $1 AND users.id = given.id
                  AND prior.company_id = $1 AND prior.id = given.id
                  AND prior.manager_id IS DISTINCT FROM given.manager_id
            RETURNING given.ord, users.id, prior.manager_id, users.manager_id";
    let mut found = rows::query(db, sql, &[&company.get(), &users, &managers]).await?;
    found.sort_by_key(|row| row.try_get::<_, i64>(0).unwrap_or(0));
    let mut entries = Vec::new();
    for row in &found {
        entries.extend(NewEntry::user_manager(
            company,
            rows::user_at(row, 1)?,
            rows::optional_user_at(row, 2)?,
            rows::optional_user_at(row, 3)?,
        ));
    }
    Ok(entries)
}

pub(crate) async fn set_manager(
    db: &impl Db,
    company: CompanyId,
    user: UserId,
    manager: Option<UserId>,
) -> Result<Vec<NewEntry>, Fail> {
    checked(db, Needs::set_manager(company, user, manager), |k| {
        rules::set_manager(k, company, user, manager)
    })
    .await?;
    write_managers(db, company, &[(user, manager)]).await
}

/// Several of a user's fields at once, in the caller's transaction: the
/// domain checks the whole change over one fetch first, then each part is
/// written by the helper of its single change (manager, `active`, level,
/// profiles). Their entries: the manager's, the shorthand's profile if it
/// made one, then one `user.profile` per workspace whose profile changed
/// from first to last, by workspace (`active` records none: it changes no
/// access).
pub(crate) async fn update_user(
    db: &impl Db,
    company: CompanyId,
    user: UserId,
    change: &UserUpdate,
) -> Result<Vec<NewEntry>, Fail> {
    let mut entries = Vec::new();
    let held = checked(db, Needs::update_user(company, user, change), |k| {
        rules::update_user(k, company, user, change)
    })
    .await?;
    if let Some(manager) = change.manager {
        entries.extend(write_managers(db, company, &[(user, manager)]).await?);
    }
    if let Some(active) = change.active {
        let sql = "UPDATE users SET active = $3 WHERE company_id = $1 AND id = $2";
        rows::execute(db, sql, &[&company.get(), &user.get(), &active]).await?;
    }
    let mut changes = Vec::new();
    if let Some(level) = change.calls_access {
        let written = set_calls_access(db, company, user, level).await?;
        entries.extend(written.made.iter().map(NewEntry::profile_created));
        changes.extend(written.changed);
    }
    // One profile per workspace (the domain's answer), so the statement
    // meets each row of the user once.
    let assignments: Vec<(UserId, ProfileId)> = held.iter().map(|&(_, p)| (user, p)).collect();
    changes.extend(write_assignments(db, company, &assignments).await?);
    // Each workspace's first profile and its last.
    let mut by_workspace: std::collections::BTreeMap<WorkspaceId, Reassigned> =
        std::collections::BTreeMap::new();
    for change in changes {
        by_workspace
            .entry(change.workspace)
            .and_modify(|first| first.after = change.after)
            .or_insert(change);
    }
    let merged: Vec<Reassigned> = by_workspace.into_values().collect();
    entries.extend(reassigned(company, &merged));
    Ok(entries)
}

// --- calls ---

/// A call's columns from `calls c`, its participants ascending.
pub(crate) const CALL_COLUMNS: &str = "c.id, c.workspace_id, c.title, c.primary_user_id, \
ARRAY(SELECT cp.user_id FROM call_participants cp \
      WHERE cp.company_id = c.company_id AND cp.call_id = c.id ORDER BY cp.user_id), \
c.is_private, c.started, c.client_unique_id, c.details, c.parties";

/// A call from [`CALL_COLUMNS`], starting at column `at`.
pub(crate) fn call_row(company: CompanyId, row: &Row, at: usize) -> Result<Call, Fail> {
    Ok(Call {
        company,
        id: rows::call_at(row, at)?,
        workspace: Some(rows::workspace_at(row, at + 1)?),
        title: rows::at(row, at + 2)?,
        primary_user_id: rows::user_at(row, at + 3)?,
        participant_ids: rows::user_ids_at(row, at + 4)?,
        is_private: rows::at(row, at + 5)?,
        started: rows::optional_timestamp_at(row, at + 6)?,
        client_unique_id: rows::at(row, at + 7)?,
        details: rows::details_at(row, at + 8)?,
        parties: rows::parties_at(row, at + 9)?,
    })
}

/// Creates or updates calls of the company `$1` (without a workspace: in
/// its default one) and makes the participants of each exactly the given
/// ones (the pairs `($11, $12)`), in one statement; each call at most once.
/// The caller has checked that every user exists. A participant's row is
/// only added or removed, never both, so the statement's parts never meet
/// on a row. Its rows, for the audit: each call's id, whether it was
/// inserted (`xmax = 0`, as in [`write_api_key`]), its workspace, and its
/// privacy before (`prior` reads the statement's snapshot) and after.
pub(crate) const WRITE_CALLS: &str = "\
WITH prior AS (
    SELECT id, is_private FROM calls WHERE company_id = $1 AND id = ANY($2::BIGINT[])),
written AS (
    INSERT INTO calls AS c (company_id, id, workspace_id, title, primary_user_id, is_private,
                            started, client_unique_id, details, parties)
    SELECT $1, given.id,
           coalesce(given.workspace_id,
                    (SELECT default_workspace_id FROM companies WHERE id = $1)),
           given.title, given.primary_user_id, given.is_private, given.started,
           given.client_unique_id, given.details, given.parties
      FROM unnest($2::BIGINT[], $3::BIGINT[], $4::TEXT[], $5::BIGINT[], $6::BOOLEAN[],
                  $7::BIGINT[], $8::TEXT[], $9::TEXT[], $10::TEXT[])
           AS given (id, workspace_id, title, primary_user_id, is_private, started,
                     client_unique_id, details, parties)
    ON CONFLICT (company_id, id) DO UPDATE
       SET workspace_id = excluded.workspace_id, title = excluded.title,
           primary_user_id = excluded.primary_user_id, is_private = excluded.is_private,
           started = excluded.started, client_unique_id = excluded.client_unique_id,
           details = excluded.details, parties = excluded.parties
    RETURNING c.id, c.xmax = 0 AS inserted, c.workspace_id, c.is_private),
dropped AS (
    DELETE FROM call_participants cp
     WHERE cp.company_id = $1 AND cp.call_id = ANY($2::BIGINT[])
       AND (cp.call_id, cp.user_id) NOT IN (SELECT * FROM unnest($11::BIGINT[], $12::BIGINT[]))),
added AS (
    INSERT INTO call_participants (company_id, call_id, user_id)
    SELECT $1, pair.call_id, pair.user_id
      FROM unnest($11::BIGINT[], $12::BIGINT[]) AS pair (call_id, user_id)
    ON CONFLICT (company_id, call_id, user_id) DO NOTHING)
SELECT w.id, w.inserted, w.workspace_id, prior.is_private, w.is_private
  FROM written w LEFT JOIN prior ON prior.id = w.id";

/// The parameters of [`WRITE_CALLS`], owned.
pub(crate) struct CallsParams {
    company: i64,
    ids: Vec<i64>,
    workspaces: Vec<Option<i64>>,
    titles: Vec<Option<String>>,
    primaries: Vec<i64>,
    private: Vec<bool>,
    started: Vec<Option<i64>>,
    client_unique_ids: Vec<Option<String>>,
    details: Vec<String>,
    parties: Vec<String>,
    participant_calls: Vec<i64>,
    participants: Vec<i64>,
}

impl CallsParams {
    /// For `calls` of `company`.
    pub(crate) fn new(company: CompanyId, calls: &[Call]) -> Self {
        let mut pairs: Vec<(i64, i64)> = calls
            .iter()
            .flat_map(|call| {
                call.participant_ids
                    .iter()
                    .map(move |user| (call.id.get(), user.get()))
            })
            .collect();
        pairs.sort_unstable();
        pairs.dedup();
        let (participant_calls, participants) = pairs.into_iter().unzip();
        Self {
            company: company.get(),
            ids: calls.iter().map(|c| c.id.get()).collect(),
            workspaces: calls
                .iter()
                .map(|c| c.workspace.map(WorkspaceId::get))
                .collect(),
            titles: calls.iter().map(|c| c.title.clone()).collect(),
            primaries: calls.iter().map(|c| c.primary_user_id.get()).collect(),
            private: calls.iter().map(|c| c.is_private).collect(),
            started: calls
                .iter()
                .map(|c| c.started.map(Timestamp::unix))
                .collect(),
            client_unique_ids: calls.iter().map(|c| c.client_unique_id.clone()).collect(),
            details: calls.iter().map(|c| c.details.to_json()).collect(),
            parties: calls.iter().map(|c| parties_to_json(&c.parties)).collect(),
            participant_calls,
            participants,
        }
    }

    pub(crate) fn params(&self) -> [&(dyn ToSql + Sync); 12] {
        [
            &self.company,
            &self.ids,
            &self.workspaces,
            &self.titles,
            &self.primaries,
            &self.private,
            &self.started,
            &self.client_unique_ids,
            &self.details,
            &self.parties,
            &self.participant_calls,
            &self.participants,
        ]
    }
}

/// [`WRITE_CALLS`] for `calls` of `company`, created at `now`; the
/// entries, in the order given: `call.create` for each call it created (in
/// its workspace, participants ascending), `call.private` for each whose
/// privacy changed.
pub(crate) async fn write_calls(
    db: &impl Db,
    company: CompanyId,
    calls: &[Call],
    now: Timestamp,
) -> Result<Vec<NewEntry>, Fail> {
    if calls.is_empty() {
        return Ok(Vec::new());
    }
    let params = CallsParams::new(company, calls);
    let found = rows::query(db, WRITE_CALLS, &params.params()).await?;
    let mut written = std::collections::HashMap::new();
    for row in &found {
        written.insert(rows::call_at(row, 0)?, row);
    }
    let mut entries = Vec::new();
    for call in calls {
        let Some(row) = written.get(&call.id) else {
            continue;
        };
        if rows::at::<bool>(row, 1)? {
            let stored = Call {
                workspace: Some(rows::workspace_at(row, 2)?),
                ..call.clone()
            };
            entries.push(NewEntry::call_created(&stored, now));
        } else if let Some(before) = rows::at::<Option<bool>>(row, 3)? {
            entries.extend(NewEntry::call_private(
                company,
                call.id,
                before,
                rows::at(row, 4)?,
            ));
        }
    }
    Ok(entries)
}

pub(crate) async fn add_call(
    db: &impl Db,
    call: &Call,
    now: Timestamp,
) -> Result<Vec<NewEntry>, Fail> {
    checked(db, Needs::add_call(call), |k| rules::add_call(k, call)).await?;
    write_calls(db, call.company, std::slice::from_ref(call), now).await
}

/// The company's calls, ascending, each with its participants ascending.
pub(crate) async fn calls(db: &impl Db, company: CompanyId) -> Result<Vec<Call>, Fail> {
    let sql = format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.company_id = $1 ORDER BY c.id");
    let found = rows::query(db, &sql, &[&company.get()]).await?;
    found.iter().map(|row| call_row(company, row, 0)).collect()
}

pub(crate) async fn set_private(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    private: bool,
) -> Result<Option<NewEntry>, Fail> {
    let needs = Needs {
        calls: vec![(company, call)],
        ..Needs::default()
    };
    checked(db, needs, |k| rules::set_private(k, company, call)).await?;
    // Only a call whose privacy changes is written, and audited.
    let sql = "UPDATE calls SET is_private = $3
                WHERE company_id = $1 AND id = $2 AND is_private <> $3";
    let changed = rows::execute(db, sql, &[&company.get(), &call.get(), &private]).await?;
    Ok(if changed > 0 {
        NewEntry::call_private(company, call, !private, private)
    } else {
        None
    })
}

// --- shares ---

/// Records shares unless they exist (the first sharing time is kept): one
/// statement. The `share.add` entries of those it recorded, in the order
/// given.
pub(crate) async fn insert_shares(
    db: &impl Db,
    company: CompanyId,
    shares: &[(CallId, UserId)],
    now: Timestamp,
) -> Result<Vec<NewEntry>, Fail> {
    if shares.is_empty() {
        return Ok(Vec::new());
    }
    let (calls, users): (Vec<i64>, Vec<i64>) = shares
        .iter()
        .map(|(call, user)| (call.get(), user.get()))
        .unzip();
    let sql = "INSERT INTO shares (company_id, call_id, user_id, created_at)
               SELECT $1, pair.call_id, pair.user_id, $4
                 FROM unnest($2::BIGINT[], $3::BIGINT[]) AS pair (call_id, user_id)
               ON CONFLICT (company_id, call_id, user_id) DO NOTHING
               RETURNING call_id, user_id";
    let params: [&(dyn ToSql + Sync); 4] = [&company.get(), &calls, &users, &now.unix()];
    let found = rows::query(db, sql, &params).await?;
    pairs_recorded(&found, shares, |call, user| {
        NewEntry::share_added(company, call, user)
    })
}

/// The entries `make` builds for the pairs among `given` that `found` (rows
/// of call and user) returned, in the order of `given`.
pub(crate) fn pairs_recorded(
    found: &[Row],
    given: &[(CallId, UserId)],
    make: impl Fn(CallId, UserId) -> NewEntry,
) -> Result<Vec<NewEntry>, Fail> {
    let mut written = std::collections::HashSet::with_capacity(found.len());
    for row in found {
        written.insert((rows::call_at(row, 0)?, rows::user_at(row, 1)?));
    }
    Ok(given
        .iter()
        .filter(|pair| written.remove(pair))
        .map(|&(call, user)| make(call, user))
        .collect())
}

pub(crate) async fn add_share(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    user: UserId,
    now: Timestamp,
) -> Result<Vec<NewEntry>, Fail> {
    checked(db, Needs::add_share(company, call, user), |k| {
        rules::add_share(k, company, call, user)
    })
    .await?;
    insert_shares(db, company, &[(call, user)], now).await
}

pub(crate) async fn remove_share(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<Option<NewEntry>, Fail> {
    let sql = "DELETE FROM shares WHERE company_id = $1 AND call_id = $2 AND user_id = $3";
    let removed = rows::execute(db, sql, &[&company.get(), &call.get(), &user.get()]).await?;
    Ok((removed > 0).then(|| NewEntry::share_removed(company, call, user)))
}
