//! Companies, credentials, users, calls and shares: what the admin tools and
//! the authentication layer need. The checks are
//! [`callaccess_domain::admin`]'s: each change fetches what its check needs
//! in one round trip ([`fetch_known`]), runs the check, then writes — all
//! in the transaction the store gives it. Each table's write is here once,
//! for the admin changes and for seeds alike.

use std::collections::HashMap;

use crate::tally::Db;
use callaccess_domain::admin::{self as rules, Known, Needs};
use callaccess_domain::encoding;
use callaccess_domain::secret::generate_token_id;
use callaccess_domain::{
    ApiKeyInfo, Call, CallId, CallsAccess, Company, CompanyId, NewApiKey, NewCompany, NewToken,
    RateLimit, Scope, StoreError, StoredCredential, Timestamp, TokenInfo, User, UserId,
};
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use crate::error::Fail;
use crate::rows;
use crate::store::credentials_changed;

// --- what the checks know ---

/// Everything a [`Needs`] names, as tagged rows: companies among `$1`,
/// users and calls among the pairs `($2, $3)` and `($4, $5)`, access keys
/// among `$6`, tokens whose handle is among `$7` or digest among `$8`.
const KNOWN: &str = "\
SELECT 'company' AS fact, id AS company_id, NULL::BIGINT AS id, NULL::TEXT AS handle,
       NULL::BYTEA AS digest
  FROM companies WHERE id = ANY($1::BIGINT[])
UNION ALL
SELECT 'user', company_id, id, NULL, NULL
  FROM users WHERE (company_id, id) IN (SELECT * FROM unnest($2::BIGINT[], $3::BIGINT[]))
UNION ALL
SELECT 'call', company_id, id, NULL, NULL
  FROM calls WHERE (company_id, id) IN (SELECT * FROM unnest($4::BIGINT[], $5::BIGINT[]))
UNION ALL
SELECT 'key', company_id, NULL, access_key, NULL
  FROM api_keys WHERE access_key = ANY($6::TEXT[])
UNION ALL
SELECT 'token', company_id, NULL, id, digest
  FROM tokens WHERE id = ANY($7::TEXT[]) OR digest = ANY($8::BYTEA[])";

/// The stored facts `needs` names, in one round trip; for every admin
/// change and for seeds.
pub(crate) async fn fetch_known(db: &impl Db, needs: &Needs) -> Result<Known, Fail> {
    let (user_companies, users): (Vec<i64>, Vec<i64>) =
        needs.users.iter().map(|(c, u)| (c.get(), u.get())).unzip();
    let (call_companies, calls): (Vec<i64>, Vec<i64>) = needs
        .calls
        .iter()
        .map(|(c, call)| (c.get(), call.get()))
        .unzip();
    let digests: Vec<&[u8]> = needs.token_digests.iter().map(|d| d.0.as_slice()).collect();
    let params: [&(dyn ToSql + Sync); 8] = [
        &rows::ids(needs.companies.iter().copied(), CompanyId::get),
        &user_companies,
        &users,
        &call_companies,
        &calls,
        &needs.keys,
        &needs.token_ids,
        &digests,
    ];
    let mut known = Known::default();
    for row in rows::query(db, KNOWN, &params).await? {
        let company = rows::company_at(&row, 1)?;
        match rows::at::<&str>(&row, 0)? {
            "company" => known.company(company),
            "user" => known.user(company, rows::user_at(&row, 2)?),
            "call" => known.call(company, rows::call_at(&row, 2)?),
            "key" => known.key(rows::at(&row, 3)?, company),
            "token" => known.token(rows::digest_at(&row, 4)?, rows::at(&row, 3)?, company),
            other => return Err(rows::unknown_tag(other)),
        }
    }
    Ok(known)
}

/// Runs the domain's `check` over what `needs` names; the caller writes
/// only once it passed.
async fn checked<T>(
    db: &impl Db,
    needs: Needs,
    check: impl FnOnce(&Known) -> Result<T, StoreError>,
) -> Result<T, Fail> {
    Ok(check(&fetch_known(db, &needs).await?)?)
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
    make: fn(Listed) -> T,
    /// The answer when no credential has the handle.
    missing: fn(String) -> StoreError,
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
                    (SELECT count FROM credential_changes WHERE id = 1)
             FROM api_keys k JOIN companies c ON c.id = k.company_id WHERE k.access_key = $1",
    scopes_listed: false,
    make: |(access_key, company, scopes, created_at, expires_at, revoked_at)| ApiKeyInfo {
        access_key,
        company,
        scopes,
        created_at,
        expires_at,
        revoked_at,
    },
    missing: StoreError::NoApiKey,
};

pub(crate) const TOKENS: Credentials<TokenInfo> = Credentials {
    table: "tokens",
    handle: "id",
    lookup: "SELECT t.company_id, t.digest, t.scopes, t.expires_at, t.revoked_at,
                    c.per_second_limit, c.per_day_limit,
                    (SELECT count FROM credential_changes WHERE id = 1)
             FROM tokens t JOIN companies c ON c.id = t.company_id WHERE t.digest = $1",
    scopes_listed: true,
    make: |(id, company, scopes, created_at, expires_at, revoked_at)| TokenInfo {
        id,
        company,
        scopes: scopes.unwrap_or_default(),
        created_at,
        expires_at,
        revoked_at,
    },
    missing: StoreError::NoToken,
};

impl<T> Credentials<T> {
    /// The columns [`Listed`] holds, in its order.
    fn columns(&self) -> String {
        format!(
            "{}, company_id, scopes, created_at, expires_at, revoked_at",
            self.handle
        )
    }

    fn read(&self, row: &Row) -> Result<T, Fail> {
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

    /// Revoking twice keeps the first time (`coalesce`).
    pub(crate) async fn revoke(
        &self,
        db: &impl Db,
        handle: &str,
        at: Timestamp,
    ) -> Result<T, Fail> {
        let sql = format!(
            "UPDATE {} SET revoked_at = coalesce(revoked_at, $2) WHERE {} = $1 RETURNING {}",
            self.table,
            self.handle,
            self.columns()
        );
        let revoked = self.returned(db, &sql, &[&handle, &at.unix()]).await?;
        let revoked = revoked.ok_or_else(|| (self.missing)(handle.to_owned()))?;
        credentials_changed(db).await?;
        Ok(revoked)
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
) -> Result<Option<ApiKeyInfo>, Fail> {
    let sql = format!(
        "INSERT INTO api_keys (access_key, company_id, secret_digest, scopes, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (access_key) DO UPDATE SET secret_digest = excluded.secret_digest,
             scopes = excluded.scopes, expires_at = excluded.expires_at
         WHERE api_keys.company_id = excluded.company_id
         RETURNING {}",
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
    API_KEYS.returned(db, &sql, &params).await
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
    Ok(written.ok_or_else(|| StoreError::KeyExists(key.access_key.clone()))?)
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

// --- users ---

/// Creates the user, or updates their email and profile level.
pub(crate) async fn write_user(db: &impl Db, user: &User) -> Result<(), Fail> {
    let sql = "INSERT INTO users (company_id, id, email, calls_access) VALUES ($1, $2, $3, $4)
               ON CONFLICT (company_id, id)
               DO UPDATE SET email = excluded.email, calls_access = excluded.calls_access";
    let level = encoding::calls_access_value(user.calls_access);
    let params: [&(dyn ToSql + Sync); 4] = [
        &user.company.get(),
        &user.id.get(),
        &user.email_address,
        &level,
    ];
    rows::execute(db, sql, &params).await?;
    Ok(())
}

pub(crate) async fn add_user(db: &impl Db, user: &User) -> Result<(), Fail> {
    checked(db, Needs::add_user(user), |k| rules::add_user(k, user)).await?;
    // The check found no such user in this transaction: this inserts.
    write_user(db, user).await
}

/// The company's users, ascending.
pub(crate) async fn users(db: &impl Db, company: CompanyId) -> Result<Vec<User>, Fail> {
    let sql = "SELECT id, email, calls_access FROM users WHERE company_id = $1 ORDER BY id";
    let found = rows::query(db, sql, &[&company.get()]).await?;
    found
        .iter()
        .map(|row| {
            Ok(User {
                company,
                id: rows::user_at(row, 0)?,
                email_address: rows::at(row, 1)?,
                calls_access: rows::calls_access_at(row, 2)?,
            })
        })
        .collect()
}

pub(crate) async fn set_calls_access(
    db: &impl Db,
    company: CompanyId,
    user: UserId,
    access: CallsAccess,
) -> Result<(), Fail> {
    let sql = "UPDATE users SET calls_access = $3 WHERE company_id = $1 AND id = $2";
    let level = encoding::calls_access_value(access);
    if rows::execute(db, sql, &[&company.get(), &user.get(), &level]).await? == 0 {
        return Err(StoreError::NoUser { company, user }.into());
    }
    Ok(())
}

// --- calls ---

/// Creates or updates a call and makes its participants exactly the given
/// ones. The caller has checked that every user exists.
pub(crate) async fn write_call(db: &impl Db, call: &Call) -> Result<(), Fail> {
    let (company, id) = (call.company.get(), call.id.get());
    let upsert =
        "INSERT INTO calls (company_id, id, title, primary_user_id) VALUES ($1, $2, $3, $4)
                  ON CONFLICT (company_id, id)
                  DO UPDATE SET title = excluded.title, primary_user_id = excluded.primary_user_id";
    let primary = call.primary_user_id.get();
    rows::execute(db, upsert, &[&company, &id, &call.title, &primary]).await?;
    let clear = "DELETE FROM call_participants WHERE company_id = $1 AND call_id = $2";
    rows::execute(db, clear, &[&company, &id]).await?;
    if call.participant_ids.is_empty() {
        return Ok(());
    }
    let participants = rows::ids(call.participant_ids.iter().copied(), UserId::get);
    let insert = "INSERT INTO call_participants (company_id, call_id, user_id)
                  SELECT $1, $2, participant FROM unnest($3::BIGINT[]) AS participant
                  ON CONFLICT (company_id, call_id, user_id) DO NOTHING";
    rows::execute(db, insert, &[&company, &id, &participants]).await?;
    Ok(())
}

pub(crate) async fn add_call(db: &impl Db, call: &Call) -> Result<(), Fail> {
    checked(db, Needs::add_call(call), |k| rules::add_call(k, call)).await?;
    write_call(db, call).await
}

/// The company's calls, ascending, each with its participants ascending.
pub(crate) async fn calls(db: &impl Db, company: CompanyId) -> Result<Vec<Call>, Fail> {
    let mut participants: HashMap<CallId, Vec<UserId>> = HashMap::new();
    let sql = "SELECT call_id, user_id FROM call_participants WHERE company_id = $1
               ORDER BY call_id, user_id";
    for row in rows::query(db, sql, &[&company.get()]).await? {
        participants
            .entry(rows::call_at(&row, 0)?)
            .or_default()
            .push(rows::user_at(&row, 1)?);
    }
    let sql = "SELECT id, title, primary_user_id FROM calls WHERE company_id = $1 ORDER BY id";
    let found = rows::query(db, sql, &[&company.get()]).await?;
    found
        .iter()
        .map(|row| {
            let id = rows::call_at(row, 0)?;
            Ok(Call {
                company,
                id,
                title: rows::at(row, 1)?,
                primary_user_id: rows::user_at(row, 2)?,
                participant_ids: participants.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}

// --- shares ---

/// Records a share unless it exists; the first sharing time is kept.
pub(crate) async fn insert_share(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    user: UserId,
    now: Timestamp,
) -> Result<(), Fail> {
    let sql =
        "INSERT INTO shares (company_id, call_id, user_id, created_at) VALUES ($1, $2, $3, $4)
               ON CONFLICT (company_id, call_id, user_id) DO NOTHING";
    let params: [&(dyn ToSql + Sync); 4] = [&company.get(), &call.get(), &user.get(), &now.unix()];
    rows::execute(db, sql, &params).await?;
    Ok(())
}

pub(crate) async fn add_share(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    user: UserId,
    now: Timestamp,
) -> Result<(), Fail> {
    checked(db, Needs::add_share(company, call, user), |k| {
        rules::add_share(k, company, call, user)
    })
    .await?;
    insert_share(db, company, call, user, now).await
}

pub(crate) async fn remove_share(
    db: &impl Db,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<bool, Fail> {
    let sql = "DELETE FROM shares WHERE company_id = $1 AND call_id = $2 AND user_id = $3";
    let removed = rows::execute(db, sql, &[&company.get(), &call.get(), &user.get()]).await?;
    Ok(removed > 0)
}
