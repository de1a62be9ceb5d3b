//! Credentials, companies, users, calls and shares: what the admin tools and
//! the authentication layer need.

use std::collections::HashMap;

use callaccess_domain::gcra;
use callaccess_domain::secret::token_id;
use callaccess_domain::{
    ApiKeyInfo, Call, CallAccessFacts, CallId, CallsAccess, Company, CompanyId, NewApiKey,
    NewCompany, NewToken, RateLimit, RateWindow, SecretDigest, StoreError, StoredCredential,
    Timestamp, TokenInfo, User, UserId,
};
use rusqlite::{params, Connection, OptionalExtension, Row};

use crate::error::Fail;
use crate::rows::{self, LinkTable};

fn timestamp_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Timestamp> {
    row.get(index).map(Timestamp::from_unix)
}

fn optional_timestamp_at(row: &Row<'_>, index: usize) -> rusqlite::Result<Option<Timestamp>> {
    Ok(row.get::<_, Option<i64>>(index)?.map(Timestamp::from_unix))
}

// --- companies ---

pub(crate) fn create_company(
    conn: &Connection,
    new: &NewCompany,
    now: Timestamp,
) -> Result<Company, Fail> {
    if rows::company_exists(conn, new.id)? {
        return Err(StoreError::Conflict(format!("company \"{}\" already exists", new.id)).into());
    }
    conn.prepare_cached(
        "INSERT INTO companies (id, name, per_second_limit, per_day_limit, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![
        new.id.get(),
        new.name,
        rows::limit_value(new.rate_limit.per_second),
        rows::limit_value(new.rate_limit.per_day),
        now.unix()
    ])?;
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

fn company_row(row: &Row<'_>) -> rusqlite::Result<Company> {
    Ok(Company {
        id: rows::company_at(row, 0)?,
        name: row.get(1)?,
        rate_limit: RateLimit {
            per_second: rows::limit_at(row, 2)?,
            per_day: rows::limit_at(row, 3)?,
        },
        created_at: timestamp_at(row, 4)?,
    })
}

pub(crate) fn companies(conn: &Connection) -> Result<Vec<Company>, Fail> {
    let mut statement = conn.prepare_cached(
        "SELECT id, name, per_second_limit, per_day_limit, created_at FROM companies ORDER BY id",
    )?;
    let companies = statement
        .query_map([], company_row)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(companies)
}

pub(crate) fn set_rate_limit(
    conn: &Connection,
    company: CompanyId,
    limit: RateLimit,
) -> Result<Company, Fail> {
    let updated = conn
        .prepare_cached(
            "UPDATE companies SET per_second_limit = ?2, per_day_limit = ?3 WHERE id = ?1
             RETURNING id, name, per_second_limit, per_day_limit, created_at",
        )?
        .query_row(
            params![
                company.get(),
                rows::limit_value(limit.per_second),
                rows::limit_value(limit.per_day)
            ],
            company_row,
        )
        .optional()?;
    updated.ok_or_else(|| rows::no_company(company).into())
}

/// One GCRA step on the stored arrival time of (company, window).
pub(crate) fn rate_acquire(
    conn: &Connection,
    company: CompanyId,
    window: RateWindow,
    now_micros: i64,
    emission_micros: i64,
    burst: u32,
) -> Result<Result<(), i64>, Fail> {
    let tat: Option<i64> = conn
        .prepare_cached("SELECT tat FROM rate_limit_state WHERE company_id = ?1 AND budget = ?2")?
        .query_row(params![company.get(), window.as_str()], |row| row.get(0))
        .optional()?;
    match gcra(tat, now_micros, emission_micros, burst) {
        Ok(new_tat) => {
            conn.prepare_cached(
                "INSERT INTO rate_limit_state (company_id, budget, tat) VALUES (?1, ?2, ?3)
                 ON CONFLICT (company_id, budget) DO UPDATE SET tat = excluded.tat",
            )?
            .execute(params![company.get(), window.as_str(), new_tat])?;
            Ok(Ok(()))
        }
        Err(wait) => Ok(Err(wait)),
    }
}

// --- api keys ---

const API_KEY_COLUMNS: &str = "access_key, company_id, scopes, created_at, expires_at, revoked_at";

fn api_key_info(row: &Row<'_>) -> rusqlite::Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        access_key: row.get(0)?,
        company: rows::company_at(row, 1)?,
        scopes: rows::scopes_at(row, 2)?,
        created_at: timestamp_at(row, 3)?,
        expires_at: optional_timestamp_at(row, 4)?,
        revoked_at: optional_timestamp_at(row, 5)?,
    })
}

fn api_key_exists(conn: &Connection, access_key: &str) -> Result<bool, Fail> {
    let found = conn
        .prepare_cached("SELECT 1 FROM api_keys WHERE access_key = ?1")?
        .query_row([access_key], |_| Ok(()))
        .optional()?;
    Ok(found.is_some())
}

pub(crate) fn create_api_key(
    conn: &Connection,
    key: &NewApiKey,
    now: Timestamp,
) -> Result<ApiKeyInfo, Fail> {
    if !rows::company_exists(conn, key.company)? {
        return Err(rows::no_company(key.company).into());
    }
    if api_key_exists(conn, &key.access_key)? {
        return Err(StoreError::Conflict(format!(
            "access key \"{}\" already exists",
            key.access_key
        ))
        .into());
    }
    conn.prepare_cached(
        "INSERT INTO api_keys (access_key, company_id, secret_digest, scopes, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        key.access_key,
        key.company.get(),
        key.digest.0.as_slice(),
        key.scopes.as_deref().map(rows::scopes_value),
        now.unix(),
        key.expires_at.map(Timestamp::unix),
    ])?;
    Ok(ApiKeyInfo {
        access_key: key.access_key.clone(),
        company: key.company,
        scopes: key.scopes.clone(),
        created_at: now,
        expires_at: key.expires_at,
        revoked_at: None,
    })
}

pub(crate) fn api_keys(
    conn: &Connection,
    company: Option<CompanyId>,
) -> Result<Vec<ApiKeyInfo>, Fail> {
    // Two statements rather than `?1 IS NULL OR …`, so that the per-company
    // listing can use its index.
    let keys = match company {
        Some(company) => conn
            .prepare_cached(&format!(
                "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE company_id = ?1 ORDER BY created_at, access_key"
            ))?
            .query_map([company.get()], api_key_info)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => conn
            .prepare_cached(&format!("SELECT {API_KEY_COLUMNS} FROM api_keys ORDER BY created_at, access_key"))?
            .query_map([], api_key_info)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    Ok(keys)
}

pub(crate) fn revoke_api_key(
    conn: &Connection,
    access_key: &str,
    at: Timestamp,
) -> Result<ApiKeyInfo, Fail> {
    // COALESCE keeps the first revocation time when revoked again.
    conn.prepare_cached(
        "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?2) WHERE access_key = ?1",
    )?
    .execute(params![access_key, at.unix()])?;
    let info = conn
        .prepare_cached(&format!(
            "SELECT {API_KEY_COLUMNS} FROM api_keys WHERE access_key = ?1"
        ))?
        .query_row([access_key], api_key_info)
        .optional()?;
    info.ok_or_else(|| {
        StoreError::NotFound(format!("access key \"{access_key}\" does not exist")).into()
    })
}

pub(crate) fn api_key(
    conn: &Connection,
    access_key: &str,
) -> Result<Option<StoredCredential>, Fail> {
    let credential = conn
        .prepare_cached(
            "SELECT k.company_id, k.secret_digest, k.scopes, k.expires_at, k.revoked_at,
                    c.per_second_limit, c.per_day_limit
             FROM api_keys k JOIN companies c ON c.id = k.company_id WHERE k.access_key = ?1",
        )?
        .query_row([access_key], |row| {
            Ok(StoredCredential {
                company: rows::company_at(row, 0)?,
                digest: rows::digest_at(row, 1)?,
                scopes: rows::scopes_at(row, 2)?,
                expires_at: optional_timestamp_at(row, 3)?,
                revoked_at: optional_timestamp_at(row, 4)?,
                rate_limit: RateLimit {
                    per_second: rows::limit_at(row, 5)?,
                    per_day: rows::limit_at(row, 6)?,
                },
            })
        })
        .optional()?;
    Ok(credential)
}

// --- tokens ---

const TOKEN_COLUMNS: &str = "id, company_id, scopes, created_at, expires_at, revoked_at";

fn token_info(row: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.get(0)?,
        company: rows::company_at(row, 1)?,
        scopes: rows::scopes_at(row, 2)?.unwrap_or_default(),
        created_at: timestamp_at(row, 3)?,
        expires_at: optional_timestamp_at(row, 4)?,
        revoked_at: optional_timestamp_at(row, 5)?,
    })
}

pub(crate) fn create_token(
    conn: &Connection,
    token: &NewToken,
    now: Timestamp,
) -> Result<TokenInfo, Fail> {
    if !rows::company_exists(conn, token.company)? {
        return Err(rows::no_company(token.company).into());
    }
    let id = token_id(&token.digest);
    // The id is a prefix of the digest, so a clash of ids without a clash of
    // digests is not expected in practice; both are refused alike.
    let taken = conn
        .prepare_cached("SELECT 1 FROM tokens WHERE id = ?1 OR digest = ?2")?
        .query_row(params![id, token.digest.0.as_slice()], |_| Ok(()))
        .optional()?;
    if taken.is_some() {
        return Err(StoreError::Conflict(format!("token \"{id}\" already exists")).into());
    }
    conn.prepare_cached(
        "INSERT INTO tokens (id, digest, company_id, scopes, created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
    )?
    .execute(params![
        id,
        token.digest.0.as_slice(),
        token.company.get(),
        rows::scopes_value(&token.scopes),
        now.unix(),
        token.expires_at.map(Timestamp::unix),
    ])?;
    Ok(TokenInfo {
        id,
        company: token.company,
        scopes: token.scopes.clone(),
        created_at: now,
        expires_at: token.expires_at,
        revoked_at: None,
    })
}

pub(crate) fn tokens(
    conn: &Connection,
    company: Option<CompanyId>,
) -> Result<Vec<TokenInfo>, Fail> {
    let tokens = match company {
        Some(company) => conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens WHERE company_id = ?1 ORDER BY created_at, id"
            ))?
            .query_map([company.get()], token_info)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
        None => conn
            .prepare_cached(&format!(
                "SELECT {TOKEN_COLUMNS} FROM tokens ORDER BY created_at, id"
            ))?
            .query_map([], token_info)?
            .collect::<rusqlite::Result<Vec<_>>>()?,
    };
    Ok(tokens)
}

pub(crate) fn revoke_token(conn: &Connection, id: &str, at: Timestamp) -> Result<TokenInfo, Fail> {
    conn.prepare_cached("UPDATE tokens SET revoked_at = coalesce(revoked_at, ?2) WHERE id = ?1")?
        .execute(params![id, at.unix()])?;
    let info = conn
        .prepare_cached(&format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"))?
        .query_row([id], token_info)
        .optional()?;
    info.ok_or_else(|| StoreError::NotFound(format!("token \"{id}\" does not exist")).into())
}

pub(crate) fn token(
    conn: &Connection,
    digest: &SecretDigest,
) -> Result<Option<StoredCredential>, Fail> {
    let credential = conn
        .prepare_cached(
            "SELECT t.company_id, t.digest, t.scopes, t.expires_at, t.revoked_at,
                    c.per_second_limit, c.per_day_limit
             FROM tokens t JOIN companies c ON c.id = t.company_id WHERE t.digest = ?1",
        )?
        .query_row([digest.0.as_slice()], |row| {
            Ok(StoredCredential {
                company: rows::company_at(row, 0)?,
                digest: rows::digest_at(row, 1)?,
                scopes: Some(rows::scopes_at(row, 2)?.unwrap_or_default()),
                expires_at: optional_timestamp_at(row, 3)?,
                revoked_at: optional_timestamp_at(row, 4)?,
                rate_limit: RateLimit {
                    per_second: rows::limit_at(row, 5)?,
                    per_day: rows::limit_at(row, 6)?,
                },
            })
        })
        .optional()?;
    Ok(credential)
}

// --- users ---

pub(crate) fn add_user(conn: &Connection, user: &User) -> Result<(), Fail> {
    if !rows::company_exists(conn, user.company)? {
        return Err(rows::no_company(user.company).into());
    }
    if rows::user_access(conn, user.company, user.id)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "user \"{}\" already exists in company \"{}\"",
            user.id, user.company
        ))
        .into());
    }
    conn.prepare_cached(
        "INSERT INTO users (company_id, id, email, calls_access) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![
        user.company.get(),
        user.id.get(),
        user.email_address,
        user.calls_access.as_str()
    ])?;
    Ok(())
}

pub(crate) fn users(conn: &Connection, company: CompanyId) -> Result<Vec<User>, Fail> {
    let mut statement = conn.prepare_cached(
        "SELECT id, email, calls_access FROM users WHERE company_id = ?1 ORDER BY id",
    )?;
    let users = statement
        .query_map([company.get()], |row| {
            Ok(User {
                company,
                id: rows::user_at(row, 0)?,
                email_address: row.get(1)?,
                calls_access: rows::calls_access_at(row, 2)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(users)
}

pub(crate) fn set_calls_access(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    access: CallsAccess,
) -> Result<(), Fail> {
    let changed = conn
        .prepare_cached("UPDATE users SET calls_access = ?3 WHERE company_id = ?1 AND id = ?2")?
        .execute(params![company.get(), user.get(), access.as_str()])?;
    if changed == 0 {
        return Err(rows::no_user(company, user).into());
    }
    Ok(())
}

// --- calls ---

pub(crate) fn add_call(conn: &Connection, call: &Call) -> Result<(), Fail> {
    let company = call.company;
    if !rows::company_exists(conn, company)? {
        return Err(rows::no_company(company).into());
    }
    if rows::user_access(conn, company, call.primary_user_id)?.is_none() {
        return Err(StoreError::Invalid(format!(
            "primary user \"{}\" does not exist in company \"{company}\"",
            call.primary_user_id
        ))
        .into());
    }
    for &participant in &call.participant_ids {
        if rows::user_access(conn, company, participant)?.is_none() {
            return Err(StoreError::Invalid(format!(
                "participant \"{participant}\" does not exist in company \"{company}\""
            ))
            .into());
        }
    }
    if rows::call_primary(conn, company, call.id)?.is_some() {
        return Err(StoreError::Conflict(format!(
            "call \"{}\" already exists in company \"{company}\"",
            call.id
        ))
        .into());
    }
    upsert_call(conn, call)
}

/// Creates or updates a call and makes its participants exactly the given
/// ones. The caller has checked that every user exists.
pub(crate) fn upsert_call(conn: &Connection, call: &Call) -> Result<(), Fail> {
    let company = call.company.get();
    conn.prepare_cached(
        "INSERT INTO calls (company_id, id, title, primary_user_id) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (company_id, id) DO UPDATE SET title = excluded.title, primary_user_id = excluded.primary_user_id",
    )?
    .execute(params![company, call.id.get(), call.title, call.primary_user_id.get()])?;
    conn.prepare_cached("DELETE FROM call_participants WHERE company_id = ?1 AND call_id = ?2")?
        .execute(params![company, call.id.get()])?;
    let mut insert = conn
        .prepare_cached("INSERT OR IGNORE INTO call_participants (company_id, call_id, user_id) VALUES (?1, ?2, ?3)")?;
    for participant in &call.participant_ids {
        insert.execute(params![company, call.id.get(), participant.get()])?;
    }
    Ok(())
}

pub(crate) fn calls(conn: &Connection, company: CompanyId) -> Result<Vec<Call>, Fail> {
    let mut participants: HashMap<CallId, Vec<UserId>> = HashMap::new();
    let mut statement = conn.prepare_cached(
        "SELECT call_id, user_id FROM call_participants WHERE company_id = ?1 ORDER BY call_id, user_id",
    )?;
    let mut cursor = statement.query([company.get()])?;
    while let Some(row) = cursor.next()? {
        participants
            .entry(rows::call_at(row, 0)?)
            .or_default()
            .push(rows::user_at(row, 1)?);
    }

    let mut statement = conn.prepare_cached(
        "SELECT id, title, primary_user_id FROM calls WHERE company_id = ?1 ORDER BY id",
    )?;
    let calls = statement
        .query_map([company.get()], |row| {
            let id = rows::call_at(row, 0)?;
            Ok(Call {
                company,
                id,
                title: row.get(1)?,
                primary_user_id: rows::user_at(row, 2)?,
                participant_ids: participants.remove(&id).unwrap_or_default(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(calls)
}

fn load_call(conn: &Connection, company: CompanyId, id: CallId) -> Result<Option<Call>, Fail> {
    let found = conn
        .prepare_cached(
            "SELECT title, primary_user_id FROM calls WHERE company_id = ?1 AND id = ?2",
        )?
        .query_row(params![company.get(), id.get()], |row| {
            Ok((row.get::<_, Option<String>>(0)?, rows::user_at(row, 1)?))
        })
        .optional()?;
    let Some((title, primary_user_id)) = found else {
        return Ok(None);
    };
    let participant_ids = rows::linked_users(conn, LinkTable::Participants, company, id)?;
    Ok(Some(Call {
        company,
        id,
        title,
        primary_user_id,
        participant_ids,
    }))
}

// --- shares and the full picture of one call ---

pub(crate) fn add_share(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
    now: Timestamp,
) -> Result<(), Fail> {
    if rows::call_primary(conn, company, call)?.is_none() {
        return Err(rows::no_call(company, call).into());
    }
    if rows::user_access(conn, company, user)?.is_none() {
        return Err(rows::no_user(company, user).into());
    }
    insert_share(conn, company, call, user, now)
}

/// Records a share unless it exists; the first sharing time is kept.
pub(crate) fn insert_share(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
    now: Timestamp,
) -> Result<(), Fail> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO shares (company_id, call_id, user_id, created_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![company.get(), call.get(), user.get(), now.unix()])?;
    Ok(())
}

pub(crate) fn remove_share(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<bool, Fail> {
    let removed = conn
        .prepare_cached(
            "DELETE FROM shares WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
        )?
        .execute(params![company.get(), call.get(), user.get()])?;
    Ok(removed > 0)
}

pub(crate) fn call_access(
    conn: &Connection,
    company: CompanyId,
    id: CallId,
) -> Result<CallAccessFacts, Fail> {
    let call = load_call(conn, company, id)?.ok_or_else(|| rows::no_call(company, id))?;
    let api_grants = rows::linked_users(conn, LinkTable::ApiGrants, company, id)?;
    let shares = rows::linked_users(conn, LinkTable::Shares, company, id)?;

    let mut statement = conn.prepare_cached(
        "SELECT id FROM users WHERE company_id = ?1 AND calls_access = 'all' ORDER BY id",
    )?;
    let profile_all = statement
        .query_map([company.get()], |row| rows::user_at(row, 0))?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let mut profile_own = Vec::new();
    let mut involved: Vec<UserId> = call.participant_ids.clone();
    involved.push(call.primary_user_id);
    involved.sort_unstable();
    involved.dedup();
    for user in involved {
        if rows::user_access(conn, company, user)? == Some(CallsAccess::Own) {
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
