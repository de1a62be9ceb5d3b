//! Credentials, companies, users, calls, shares and rate-limit budgets: what
//! the admin tools and the authentication layer need. Each function runs
//! inside the transaction (or on the connection) the store gives it, and
//! answers exactly as the SQLite backend does.

use std::collections::HashMap;

use callaccess_domain::gcra;
use callaccess_domain::secret::token_id;
use callaccess_domain::{
    ApiKeyInfo, Call, CallAccessFacts, CallId, CallsAccess, Company, CompanyId, NewApiKey,
    NewCompany, NewToken, RateLimit, RateWindow, SecretDigest, StoreError, StoredCredential,
    Timestamp, TokenInfo, User, UserId,
};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;

use crate::error::Fail;
use crate::rows::{self, LinkTable};

// --- companies ---

const COMPANY_COLUMNS: &str = "id, name, per_second_limit, per_day_limit, created_at";

fn company_row(row: &Row) -> Result<Company, Fail> {
    Ok(Company {
        id: rows::company_at(row, 0)?,
        name: rows::text_at(row, 1)?,
        rate_limit: RateLimit {
            per_second: rows::limit_at(row, 2)?,
            per_day: rows::limit_at(row, 3)?,
        },
        created_at: rows::timestamp_at(row, 4)?,
    })
}

pub(crate) async fn create_company(
    db: &impl GenericClient,
    new: &NewCompany,
    now: Timestamp,
) -> Result<Company, Fail> {
    if rows::company_exists(db, new.id).await? {
        return Err(StoreError::Conflict(format!("company \"{}\" already exists", new.id)).into());
    }
    let statement = db
        .prepare_cached(
            "INSERT INTO companies (id, name, per_second_limit, per_day_limit, created_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .await?;
    db.execute(
        &statement,
        &[
            &new.id.get(),
            &new.name,
            &rows::limit_value(new.rate_limit.per_second),
            &rows::limit_value(new.rate_limit.per_day),
            &now.unix(),
        ],
    )
    .await?;
    Ok(Company {
        id: new.id,
        name: new.name.clone(),
        rate_limit: RateLimit {
            per_second: rows::stored_limit(new.rate_limit.per_second),
            per_day: rows::stored_limit(new.rate_limit.per_day),
        },
        created_at: now,
    })
}

pub(crate) async fn companies(db: &impl GenericClient) -> Result<Vec<Company>, Fail> {
    let statement = db
        .prepare_cached(&format!(
            "SELECT {COMPANY_COLUMNS} FROM companies ORDER BY id"
        ))
        .await?;
    db.query(&statement, &[])
        .await?
        .iter()
        .map(company_row)
        .collect()
}

pub(crate) async fn set_rate_limit(
    db: &impl GenericClient,
    company: CompanyId,
    limit: RateLimit,
) -> Result<Company, Fail> {
    let statement = db
        .prepare_cached(&format!(
            "UPDATE companies SET per_second_limit = $2, per_day_limit = $3 WHERE id = $1
             RETURNING {COMPANY_COLUMNS}"
        ))
        .await?;
    let row = db
        .query_opt(
            &statement,
            &[
                &company.get(),
                &rows::limit_value(limit.per_second),
                &rows::limit_value(limit.per_day),
            ],
        )
        .await?;
    match row {
        Some(row) => company_row(&row),
        None => Err(rows::no_company(company).into()),
    }
}

/// One GCRA step on the stored arrival time of (company, window), timed by
/// the database's clock.
///
/// Runs under READ COMMITTED with the budget's row locked (`FOR UPDATE`):
/// every node's request for one budget queues on that lock, reads the tat the
/// previous one left, and writes its own — a read-modify-write that is
/// serial per budget by construction. SERIALIZABLE would instead abort all
/// but one of a burst of concurrent requests on this hot row and make them
/// retry, which is wasted work for the same outcome. One row per lock, so no
/// deadlock is possible.
pub(crate) async fn rate_acquire(
    db: &impl GenericClient,
    company: CompanyId,
    window: RateWindow,
    emission_micros: i64,
    burst: u32,
) -> Result<Result<(), i64>, Fail> {
    let lock = db
        .prepare_cached(
            "SELECT tat FROM rate_limit_state WHERE company_id = $1 AND budget = $2 FOR UPDATE",
        )
        .await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 2] =
        [&company.get(), &window.as_str()];
    let tat = match db.query_opt(&lock, &params).await? {
        Some(row) => rows::int_at(&row, 0)?,
        None => {
            // The budget's first use: create the row so that there is
            // something to lock. A tat of 0 (1970) reads exactly like no tat
            // at all, a full budget. Two nodes may race here; DO NOTHING
            // lets the second wait for the first and then lock its row.
            let create = db
                .prepare_cached(
                    "INSERT INTO rate_limit_state (company_id, budget, tat) VALUES ($1, $2, 0)
                     ON CONFLICT (company_id, budget) DO NOTHING",
                )
                .await?;
            db.execute(&create, &params).await?;
            rows::int_at(&db.query_one(&lock, &params).await?, 0)?
        }
    };
    // The clock is read only once the lock is held, so that arrival times
    // increase in the order in which requests are counted. `clock_timestamp`
    // rather than `now()`: the latter is the transaction's start time.
    let clock = db
        .prepare_cached("SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT")
        .await?;
    let now = rows::int_at(&db.query_one(&clock, &[]).await?, 0)?;
    match gcra(Some(tat), now, emission_micros, burst) {
        Ok(new_tat) => {
            let update = db
                .prepare_cached(
                    "UPDATE rate_limit_state SET tat = $3 WHERE company_id = $1 AND budget = $2",
                )
                .await?;
            db.execute(&update, &[&company.get(), &window.as_str(), &new_tat])
                .await?;
            Ok(Ok(()))
        }
        Err(wait) => Ok(Err(wait)),
    }
}

// --- api keys ---

const API_KEY_COLUMNS: &str = "access_key, company_id, scopes, created_at, expires_at, revoked_at";

fn api_key_info(row: &Row) -> Result<ApiKeyInfo, Fail> {
    Ok(ApiKeyInfo {
        access_key: rows::text_at(row, 0)?,
        company: rows::company_at(row, 1)?,
        scopes: rows::scopes_at(row, 2)?,
        created_at: rows::timestamp_at(row, 3)?,
        expires_at: rows::optional_timestamp_at(row, 4)?,
        revoked_at: rows::optional_timestamp_at(row, 5)?,
    })
}

pub(crate) async fn create_api_key(
    db: &impl GenericClient,
    key: &NewApiKey,
    now: Timestamp,
) -> Result<ApiKeyInfo, Fail> {
    if !rows::company_exists(db, key.company).await? {
        return Err(rows::no_company(key.company).into());
    }
    let exists = db
        .prepare_cached("SELECT 1 FROM api_keys WHERE access_key = $1")
        .await?;
    if db.query_opt(&exists, &[&key.access_key]).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "access key \"{}\" already exists",
            key.access_key
        ))
        .into());
    }
    let insert = db
        .prepare_cached(
            "INSERT INTO api_keys (access_key, company_id, secret_digest, scopes, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    db.execute(
        &insert,
        &[
            &key.access_key,
            &key.company.get(),
            &key.digest.0.as_slice(),
            &key.scopes.as_deref().map(rows::scopes_value),
            &now.unix(),
            &key.expires_at.map(Timestamp::unix),
        ],
    )
    .await?;
    Ok(ApiKeyInfo {
        access_key: key.access_key.clone(),
        company: key.company,
        scopes: key.scopes.clone(),
        created_at: now,
        expires_at: key.expires_at,
        revoked_at: None,
    })
}

pub(crate) async fn api_keys(
    db: &impl GenericClient,
    company: Option<CompanyId>,
) -> Result<Vec<ApiKeyInfo>, Fail> {
    // Two statements rather than `$1 IS NULL OR …`, so that the per-company
    // listing can use its index.
    let found = match company {
        Some(company) => {
            let statement = db
                .prepare_cached(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE company_id = $1
                     ORDER BY created_at, access_key"
                ))
                .await?;
            db.query(&statement, &[&company.get()]).await?
        }
        None => {
            let statement = db
                .prepare_cached(&format!(
                    "SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, access_key"
                ))
                .await?;
            db.query(&statement, &[]).await?
        }
    };
    found.iter().map(api_key_info).collect()
}

pub(crate) async fn revoke_api_key(
    db: &impl GenericClient,
    access_key: &str,
    at: Timestamp,
) -> Result<ApiKeyInfo, Fail> {
    // COALESCE keeps the first revocation time when revoked again.
    let statement = db
        .prepare_cached(&format!(
            "UPDATE api_keys SET revoked_at = coalesce(revoked_at, $2) WHERE access_key = $1
             RETURNING {API_KEY_COLUMNS}"
        ))
        .await?;
    match db.query_opt(&statement, &[&access_key, &at.unix()]).await? {
        Some(row) => api_key_info(&row),
        None => {
            Err(StoreError::NotFound(format!("access key \"{access_key}\" does not exist")).into())
        }
    }
}

fn credential(row: &Row, all_scopes_listed: bool) -> Result<StoredCredential, Fail> {
    let scopes = rows::scopes_at(row, 2)?;
    Ok(StoredCredential {
        company: rows::company_at(row, 0)?,
        digest: rows::digest_at(row, 1)?,
        // A token always has an explicit list, possibly empty; a key without
        // one has full access.
        scopes: if all_scopes_listed {
            Some(scopes.unwrap_or_default())
        } else {
            scopes
        },
        expires_at: rows::optional_timestamp_at(row, 3)?,
        revoked_at: rows::optional_timestamp_at(row, 4)?,
        rate_limit: RateLimit {
            per_second: rows::limit_at(row, 5)?,
            per_day: rows::limit_at(row, 6)?,
        },
    })
}

pub(crate) async fn api_key(
    db: &impl GenericClient,
    access_key: &str,
) -> Result<Option<StoredCredential>, Fail> {
    let statement = db
        .prepare_cached(
            "SELECT k.company_id, k.secret_digest, k.scopes, k.expires_at, k.revoked_at,
                    c.per_second_limit, c.per_day_limit
             FROM api_keys k JOIN companies c ON c.id = k.company_id WHERE k.access_key = $1",
        )
        .await?;
    db.query_opt(&statement, &[&access_key])
        .await?
        .map(|row| credential(&row, false))
        .transpose()
}

// --- tokens ---

const TOKEN_COLUMNS: &str = "id, company_id, scopes, created_at, expires_at, revoked_at";

fn token_info(row: &Row) -> Result<TokenInfo, Fail> {
    Ok(TokenInfo {
        id: rows::text_at(row, 0)?,
        company: rows::company_at(row, 1)?,
        scopes: rows::scopes_at(row, 2)?.unwrap_or_default(),
        created_at: rows::timestamp_at(row, 3)?,
        expires_at: rows::optional_timestamp_at(row, 4)?,
        revoked_at: rows::optional_timestamp_at(row, 5)?,
    })
}

pub(crate) async fn create_token(
    db: &impl GenericClient,
    token: &NewToken,
    now: Timestamp,
) -> Result<TokenInfo, Fail> {
    if !rows::company_exists(db, token.company).await? {
        return Err(rows::no_company(token.company).into());
    }
    let id = token_id(&token.digest);
    // The id is a prefix of the digest, so a clash of ids without a clash of
    // digests is not expected in practice; both are refused alike.
    let taken = db
        .prepare_cached("SELECT 1 FROM tokens WHERE id = $1 OR digest = $2")
        .await?;
    if db
        .query_opt(&taken, &[&id, &token.digest.0.as_slice()])
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!("token \"{id}\" already exists")).into());
    }
    let insert = db
        .prepare_cached(
            "INSERT INTO tokens (id, digest, company_id, scopes, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .await?;
    db.execute(
        &insert,
        &[
            &id,
            &token.digest.0.as_slice(),
            &token.company.get(),
            &rows::scopes_value(&token.scopes),
            &now.unix(),
            &token.expires_at.map(Timestamp::unix),
        ],
    )
    .await?;
    Ok(TokenInfo {
        id,
        company: token.company,
        scopes: token.scopes.clone(),
        created_at: now,
        expires_at: token.expires_at,
        revoked_at: None,
    })
}

pub(crate) async fn tokens(
    db: &impl GenericClient,
    company: Option<CompanyId>,
) -> Result<Vec<TokenInfo>, Fail> {
    let found = match company {
        Some(company) => {
            let statement = db
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens WHERE company_id = $1 ORDER BY created_at, id"
                ))
                .await?;
            db.query(&statement, &[&company.get()]).await?
        }
        None => {
            let statement = db
                .prepare_cached(&format!(
                    "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"
                ))
                .await?;
            db.query(&statement, &[]).await?
        }
    };
    found.iter().map(token_info).collect()
}

pub(crate) async fn revoke_token(
    db: &impl GenericClient,
    id: &str,
    at: Timestamp,
) -> Result<TokenInfo, Fail> {
    let statement = db
        .prepare_cached(&format!(
            "UPDATE tokens SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1
             RETURNING {TOKEN_COLUMNS}"
        ))
        .await?;
    match db.query_opt(&statement, &[&id, &at.unix()]).await? {
        Some(row) => token_info(&row),
        None => Err(StoreError::NotFound(format!("token \"{id}\" does not exist")).into()),
    }
}

pub(crate) async fn token(
    db: &impl GenericClient,
    digest: &SecretDigest,
) -> Result<Option<StoredCredential>, Fail> {
    let statement = db
        .prepare_cached(
            "SELECT t.company_id, t.digest, t.scopes, t.expires_at, t.revoked_at,
                    c.per_second_limit, c.per_day_limit
             FROM tokens t JOIN companies c ON c.id = t.company_id WHERE t.digest = $1",
        )
        .await?;
    db.query_opt(&statement, &[&digest.0.as_slice()])
        .await?
        .map(|row| credential(&row, true))
        .transpose()
}

// --- users ---

pub(crate) async fn add_user(db: &impl GenericClient, user: &User) -> Result<(), Fail> {
    if !rows::company_exists(db, user.company).await? {
        return Err(rows::no_company(user.company).into());
    }
    if rows::user_access(db, user.company, user.id)
        .await?
        .is_some()
    {
        return Err(StoreError::Conflict(format!(
            "user \"{}\" already exists in company \"{}\"",
            user.id, user.company
        ))
        .into());
    }
    let statement = db
        .prepare_cached(
            "INSERT INTO users (company_id, id, email, calls_access) VALUES ($1, $2, $3, $4)",
        )
        .await?;
    db.execute(
        &statement,
        &[
            &user.company.get(),
            &user.id.get(),
            &user.email_address,
            &user.calls_access.as_str(),
        ],
    )
    .await?;
    Ok(())
}

pub(crate) async fn users(db: &impl GenericClient, company: CompanyId) -> Result<Vec<User>, Fail> {
    let statement = db
        .prepare_cached(
            "SELECT id, email, calls_access FROM users WHERE company_id = $1 ORDER BY id",
        )
        .await?;
    db.query(&statement, &[&company.get()])
        .await?
        .iter()
        .map(|row| {
            Ok(User {
                company,
                id: rows::user_at(row, 0)?,
                email_address: rows::text_at(row, 1)?,
                calls_access: rows::calls_access_at(row, 2)?,
            })
        })
        .collect()
}

pub(crate) async fn set_calls_access(
    db: &impl GenericClient,
    company: CompanyId,
    user: UserId,
    access: CallsAccess,
) -> Result<(), Fail> {
    let statement = db
        .prepare_cached("UPDATE users SET calls_access = $3 WHERE company_id = $1 AND id = $2")
        .await?;
    let changed = db
        .execute(&statement, &[&company.get(), &user.get(), &access.as_str()])
        .await?;
    if changed == 0 {
        return Err(rows::no_user(company, user).into());
    }
    Ok(())
}

// --- calls ---

pub(crate) async fn add_call(db: &impl GenericClient, call: &Call) -> Result<(), Fail> {
    let company = call.company;
    if !rows::company_exists(db, company).await? {
        return Err(rows::no_company(company).into());
    }
    if rows::user_access(db, company, call.primary_user_id)
        .await?
        .is_none()
    {
        return Err(StoreError::Invalid(format!(
            "primary user \"{}\" does not exist in company \"{company}\"",
            call.primary_user_id
        ))
        .into());
    }
    for &participant in &call.participant_ids {
        if rows::user_access(db, company, participant).await?.is_none() {
            return Err(StoreError::Invalid(format!(
                "participant \"{participant}\" does not exist in company \"{company}\""
            ))
            .into());
        }
    }
    if rows::call_primary(db, company, call.id).await?.is_some() {
        return Err(StoreError::Conflict(format!(
            "call \"{}\" already exists in company \"{company}\"",
            call.id
        ))
        .into());
    }
    upsert_call(db, call).await
}

/// Creates or updates a call and makes its participants exactly the given
/// ones. The caller has checked that every user exists.
pub(crate) async fn upsert_call(db: &impl GenericClient, call: &Call) -> Result<(), Fail> {
    let company = call.company.get();
    let upsert = db
        .prepare_cached(
            "INSERT INTO calls (company_id, id, title, primary_user_id) VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_id, id)
             DO UPDATE SET title = excluded.title, primary_user_id = excluded.primary_user_id",
        )
        .await?;
    db.execute(
        &upsert,
        &[
            &company,
            &call.id.get(),
            &call.title,
            &call.primary_user_id.get(),
        ],
    )
    .await?;
    let clear = db
        .prepare_cached("DELETE FROM call_participants WHERE company_id = $1 AND call_id = $2")
        .await?;
    db.execute(&clear, &[&company, &call.id.get()]).await?;
    if call.participant_ids.is_empty() {
        return Ok(());
    }
    let participants: Vec<i64> = call.participant_ids.iter().map(|u| u.get()).collect();
    let insert = db
        .prepare_cached(
            "INSERT INTO call_participants (company_id, call_id, user_id)
             SELECT $1, $2, participant FROM unnest($3::BIGINT[]) AS participant
             ON CONFLICT (company_id, call_id, user_id) DO NOTHING",
        )
        .await?;
    db.execute(&insert, &[&company, &call.id.get(), &participants])
        .await?;
    Ok(())
}

pub(crate) async fn calls(db: &impl GenericClient, company: CompanyId) -> Result<Vec<Call>, Fail> {
    let mut participants: HashMap<CallId, Vec<UserId>> = HashMap::new();
    let statement = db
        .prepare_cached(
            "SELECT call_id, user_id FROM call_participants WHERE company_id = $1
             ORDER BY call_id, user_id",
        )
        .await?;
    for row in db.query(&statement, &[&company.get()]).await? {
        participants
            .entry(rows::call_at(&row, 0)?)
            .or_default()
            .push(rows::user_at(&row, 1)?);
    }
    let statement = db
        .prepare_cached(
            "SELECT id, title, primary_user_id FROM calls WHERE company_id = $1 ORDER BY id",
        )
        .await?;
    db.query(&statement, &[&company.get()])
        .await?
        .iter()
        .map(|row| {
            let id = rows::call_at(row, 0)?;
            Ok(Call {
                company,
                id,
                title: rows::optional_text_at(row, 1)?,
                primary_user_id: rows::user_at(row, 2)?,
                participant_ids: participants.remove(&id).unwrap_or_default(),
            })
        })
        .collect()
}

async fn load_call(
    db: &impl GenericClient,
    company: CompanyId,
    id: CallId,
) -> Result<Option<Call>, Fail> {
    let statement = db
        .prepare_cached(
            "SELECT title, primary_user_id FROM calls WHERE company_id = $1 AND id = $2",
        )
        .await?;
    let Some(row) = db
        .query_opt(&statement, &[&company.get(), &id.get()])
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Call {
        company,
        id,
        title: rows::optional_text_at(&row, 0)?,
        primary_user_id: rows::user_at(&row, 1)?,
        participant_ids: rows::linked_users(db, LinkTable::Participants, company, id).await?,
    }))
}

// --- shares and the full picture of one call ---

pub(crate) async fn add_share(
    db: &impl GenericClient,
    company: CompanyId,
    call: CallId,
    user: UserId,
    now: Timestamp,
) -> Result<(), Fail> {
    if rows::call_primary(db, company, call).await?.is_none() {
        return Err(rows::no_call(company, call).into());
    }
    if rows::user_access(db, company, user).await?.is_none() {
        return Err(rows::no_user(company, user).into());
    }
    insert_share(db, company, call, user, now).await
}

/// Records a share unless it exists; the first sharing time is kept.
pub(crate) async fn insert_share(
    db: &impl GenericClient,
    company: CompanyId,
    call: CallId,
    user: UserId,
    now: Timestamp,
) -> Result<(), Fail> {
    let statement = db
        .prepare_cached(
            "INSERT INTO shares (company_id, call_id, user_id, created_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_id, call_id, user_id) DO NOTHING",
        )
        .await?;
    db.execute(
        &statement,
        &[&company.get(), &call.get(), &user.get(), &now.unix()],
    )
    .await?;
    Ok(())
}

pub(crate) async fn remove_share(
    db: &impl GenericClient,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<bool, Fail> {
    let statement = db
        .prepare_cached(
            "DELETE FROM shares WHERE company_id = $1 AND call_id = $2 AND user_id = $3",
        )
        .await?;
    let removed = db
        .execute(&statement, &[&company.get(), &call.get(), &user.get()])
        .await?;
    Ok(removed > 0)
}

pub(crate) async fn call_access(
    db: &impl GenericClient,
    company: CompanyId,
    id: CallId,
) -> Result<CallAccessFacts, Fail> {
    let call = load_call(db, company, id)
        .await?
        .ok_or_else(|| rows::no_call(company, id))?;
    let api_grants = rows::linked_users(db, LinkTable::ApiGrants, company, id).await?;
    let shares = rows::linked_users(db, LinkTable::Shares, company, id).await?;

    let statement = db
        .prepare_cached(
            "SELECT id FROM users WHERE company_id = $1 AND calls_access = 'all' ORDER BY id",
        )
        .await?;
    let profile_all = db
        .query(&statement, &[&company.get()])
        .await?
        .iter()
        .map(|row| rows::user_at(row, 0))
        .collect::<Result<Vec<_>, _>>()?;

    let mut involved: Vec<UserId> = call.participant_ids.clone();
    involved.push(call.primary_user_id);
    involved.sort_unstable();
    involved.dedup();
    let mut profile_own = Vec::new();
    for user in involved {
        if rows::user_access(db, company, user).await? == Some(CallsAccess::Own) {
            profile_own.push(user);
        }
    }
    Ok(CallAccessFacts {
        call,
        api_grants,
        shares,
        profile_all,
        profile_own,
    })
}
