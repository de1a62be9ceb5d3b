//! Credentials, companies, users, calls and shares: what the admin tools and
//! the authentication layer need. Every change runs the domain's check
//! (`callaccess_domain::admin`) over [`ConnDirectory`] first, then writes,
//! on the same connection in the same transaction.

use std::collections::HashMap;

use callaccess_domain::admin::{self, Directory};
use callaccess_domain::encoding;
use callaccess_domain::secret::generate_token_id;
use callaccess_domain::{
    access, ApiKeyInfo, Call, CallAccessFacts, CallId, CallsAccess, Company, CompanyId, NewApiKey,
    NewCompany, NewToken, RateLimit, Scope, SecretDigest, StoreError, StoredCredential, Timestamp,
    TokenInfo, User, UserId,
};
use rusqlite::{params, Connection, Params, Row};

use crate::error::Fail;
use crate::rows::{self, LinkTable};

/// The domain's [`Directory`], answered from the connection (and so from the
/// transaction it is in).
pub(crate) struct ConnDirectory<'c>(pub(crate) &'c Connection);

impl Directory for ConnDirectory<'_> {
    fn company_exists(&self, company: CompanyId) -> Result<bool, StoreError> {
        Ok(rows::found(
            self.0,
            "SELECT 1 FROM companies WHERE id = ?1",
            [company.get()],
        )?)
    }

    fn user_exists(&self, company: CompanyId, user: UserId) -> Result<bool, StoreError> {
        Ok(rows::user_access(self.0, company, user)?.is_some())
    }

    fn call_exists(&self, company: CompanyId, call: CallId) -> Result<bool, StoreError> {
        Ok(rows::call_primary(self.0, company, call)?.is_some())
    }

    fn key_owner(&self, access_key: &str) -> Result<Option<CompanyId>, StoreError> {
        Ok(rows::lookup(
            self.0,
            "SELECT company_id FROM api_keys WHERE access_key = ?1",
            [access_key],
            |row| rows::company_at(row, 0),
        )?)
    }

    fn token_owner(&self, digest: &SecretDigest) -> Result<Option<CompanyId>, StoreError> {
        Ok(rows::lookup(
            self.0,
            "SELECT company_id FROM tokens WHERE digest = ?1",
            [digest.0.as_slice()],
            |row| rows::company_at(row, 0),
        )?)
    }

    fn token_id_taken(&self, id: &str) -> Result<bool, StoreError> {
        Ok(rows::found(
            self.0,
            "SELECT 1 FROM tokens WHERE id = ?1",
            [id],
        )?)
    }
}

/// Every row of a statement, read by `read`.
fn all<T>(
    conn: &Connection,
    sql: &str,
    params: impl Params,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, Fail> {
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement
        .query_map(params, read)?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// The rows of `SELECT {columns} FROM {table}`, all of them or one
/// company's, in `order`. Two statements rather than `?1 IS NULL OR …`, so
/// that the per-company listing can use its index.
fn listing<T>(
    conn: &Connection,
    columns: &str,
    table: &str,
    order: &str,
    company: Option<CompanyId>,
    read: impl FnMut(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Vec<T>, Fail> {
    match company {
        Some(company) => all(
            conn,
            &format!("SELECT {columns} FROM {table} WHERE company_id = ?1 ORDER BY {order}"),
            [company.get()],
            read,
        ),
        None => all(
            conn,
            &format!("SELECT {columns} FROM {table} ORDER BY {order}"),
            [],
            read,
        ),
    }
}

/// Marks a credential revoked (COALESCE keeps the first revocation time
/// when revoked again) and reads it back, `None` if there is no such one.
fn revoke_credential<T>(
    conn: &Connection,
    table: &str,
    key_column: &str,
    columns: &str,
    key: &str,
    at: Timestamp,
    read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<T>, Fail> {
    rows::execute(
        conn,
        &format!(
            "UPDATE {table} SET revoked_at = coalesce(revoked_at, ?2) WHERE {key_column} = ?1"
        ),
        params![key, at.unix()],
    )?;
    rows::lookup(
        conn,
        &format!("SELECT {columns} FROM {table} WHERE {key_column} = ?1"),
        [key],
        read,
    )
}

// --- companies ---

/// How a row is written: after the domain's check that it is new (an
/// admin change), or over the row of the same key (a seed, which updates
/// settings and keeps history: creation times and revocations).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Write {
    Insert,
    Upsert,
}

impl Write {
    /// The statement for this kind of write: `insert`, followed in an
    /// upsert by `on_conflict`.
    fn sql(self, insert: &str, on_conflict: &str) -> String {
        match self {
            Self::Insert => insert.to_owned(),
            Self::Upsert => format!("{insert} {on_conflict}"),
        }
    }

    /// [`Write::sql`], returning the row as stored.
    fn returning(self, insert: &str, on_conflict: &str, columns: &str) -> String {
        format!("{} RETURNING {columns}", self.sql(insert, on_conflict))
    }
}

/// The row an insert returned. An insert returns its row or fails, so
/// `None` would be a driver defect, reported as a storage failure.
fn inserted<T>(row: Option<T>) -> Result<T, Fail> {
    row.ok_or_else(|| StoreError::Other("an insert returned no row".to_owned()).into())
}

const COMPANY_COLUMNS: &str = "id, name, per_second_limit, per_day_limit, created_at";

pub(crate) fn create_company(
    conn: &Connection,
    new: &NewCompany,
    now: Timestamp,
) -> Result<Company, Fail> {
    admin::create_company(&ConnDirectory(conn), new)?;
    inserted(write_company(conn, Write::Insert, new, now)?)
}

pub(crate) fn write_company(
    conn: &Connection,
    write: Write,
    new: &NewCompany,
    now: Timestamp,
) -> Result<Option<Company>, Fail> {
    let sql = write.returning(
        "INSERT INTO companies (id, name, per_second_limit, per_day_limit, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        "ON CONFLICT (id) DO UPDATE SET name = excluded.name, per_second_limit = excluded.per_second_limit,
                                        per_day_limit = excluded.per_day_limit",
        COMPANY_COLUMNS,
    );
    let limits = new.rate_limit;
    rows::lookup(
        conn,
        &sql,
        params![
            new.id.get(),
            new.name,
            encoding::limit_value(limits.per_second),
            encoding::limit_value(limits.per_day),
            now.unix()
        ],
        company_row,
    )
}

fn company_row(row: &Row<'_>) -> rusqlite::Result<Company> {
    Ok(Company {
        id: rows::company_at(row, 0)?,
        name: row.get(1)?,
        rate_limit: RateLimit {
            per_second: rows::limit_at(row, 2)?,
            per_day: rows::limit_at(row, 3)?,
        },
        created_at: rows::timestamp_at(row, 4)?,
    })
}

pub(crate) fn companies(conn: &Connection) -> Result<Vec<Company>, Fail> {
    all(
        conn,
        &format!("SELECT {COMPANY_COLUMNS} FROM companies ORDER BY id"),
        [],
        company_row,
    )
}

pub(crate) fn set_rate_limit(
    conn: &Connection,
    company: CompanyId,
    limit: RateLimit,
) -> Result<Company, Fail> {
    let updated = rows::lookup(
        conn,
        &format!(
            "UPDATE companies SET per_second_limit = ?2, per_day_limit = ?3 WHERE id = ?1
             RETURNING {COMPANY_COLUMNS}"
        ),
        params![
            company.get(),
            encoding::limit_value(limit.per_second),
            encoding::limit_value(limit.per_day)
        ],
        company_row,
    )?;
    Ok(updated.ok_or(StoreError::NoCompany(company))?)
}

// --- api keys ---

const API_KEY_COLUMNS: &str = "access_key, company_id, scopes, created_at, expires_at, revoked_at";

fn api_key_info(row: &Row<'_>) -> rusqlite::Result<ApiKeyInfo> {
    Ok(ApiKeyInfo {
        access_key: row.get(0)?,
        company: rows::company_at(row, 1)?,
        scopes: rows::scopes_at(row, 2)?,
        created_at: rows::timestamp_at(row, 3)?,
        expires_at: rows::optional_timestamp_at(row, 4)?,
        revoked_at: rows::optional_timestamp_at(row, 5)?,
    })
}

pub(crate) fn create_api_key(
    conn: &Connection,
    key: &NewApiKey,
    now: Timestamp,
) -> Result<ApiKeyInfo, Fail> {
    admin::create_api_key(&ConnDirectory(conn), key)?;
    inserted(write_api_key(conn, Write::Insert, key, now)?)
}

/// A seed's upsert keeps the key's company: the plan made sure the key is
/// not another company's, and the WHERE is a second lock on that door.
pub(crate) fn write_api_key(
    conn: &Connection,
    write: Write,
    key: &NewApiKey,
    now: Timestamp,
) -> Result<Option<ApiKeyInfo>, Fail> {
    let sql = write.returning(
        "INSERT INTO api_keys (access_key, company_id, secret_digest, scopes, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        "ON CONFLICT (access_key) DO UPDATE SET secret_digest = excluded.secret_digest,
             scopes = excluded.scopes, expires_at = excluded.expires_at
         WHERE api_keys.company_id = excluded.company_id",
        API_KEY_COLUMNS,
    );
    rows::lookup(
        conn,
        &sql,
        params![
            key.access_key,
            key.company.get(),
            key.digest.0.as_slice(),
            key.scopes.as_deref().map(encoding::scopes_value),
            now.unix(),
            key.expires_at.map(Timestamp::unix),
        ],
        api_key_info,
    )
}

pub(crate) fn api_keys(
    conn: &Connection,
    company: Option<CompanyId>,
) -> Result<Vec<ApiKeyInfo>, Fail> {
    listing(
        conn,
        API_KEY_COLUMNS,
        "api_keys",
        "created_at, access_key",
        company,
        api_key_info,
    )
}

pub(crate) fn revoke_api_key(
    conn: &Connection,
    access_key: &str,
    at: Timestamp,
) -> Result<ApiKeyInfo, Fail> {
    let info = revoke_credential(
        conn,
        "api_keys",
        "access_key",
        API_KEY_COLUMNS,
        access_key,
        at,
        api_key_info,
    )?;
    Ok(info.ok_or_else(|| StoreError::NoApiKey(access_key.to_owned()))?)
}

/// The credential the statement finds, with its company's limits; `scopes`
/// says what the stored scope list means for this kind of credential.
fn credential(
    conn: &Connection,
    sql: &str,
    id: impl Params,
    scopes: fn(Option<Vec<Scope>>) -> Option<Vec<Scope>>,
) -> Result<Option<StoredCredential>, Fail> {
    rows::lookup(conn, sql, id, |row| {
        Ok(StoredCredential {
            company: rows::company_at(row, 0)?,
            digest: rows::digest_at(row, 1)?,
            scopes: scopes(rows::scopes_at(row, 2)?),
            expires_at: rows::optional_timestamp_at(row, 3)?,
            revoked_at: rows::optional_timestamp_at(row, 4)?,
            rate_limit: RateLimit {
                per_second: rows::limit_at(row, 5)?,
                per_day: rows::limit_at(row, 6)?,
            },
        })
    })
}

pub(crate) fn api_key(
    conn: &Connection,
    access_key: &str,
) -> Result<Option<StoredCredential>, Fail> {
    // An access key without a scope list may do everything.
    credential(
        conn,
        "SELECT k.company_id, k.secret_digest, k.scopes, k.expires_at, k.revoked_at,
                c.per_second_limit, c.per_day_limit
         FROM api_keys k JOIN companies c ON c.id = k.company_id WHERE k.access_key = ?1",
        [access_key],
        |scopes| scopes,
    )
}

// --- tokens ---

const TOKEN_COLUMNS: &str = "id, company_id, scopes, created_at, expires_at, revoked_at";

fn token_info(row: &Row<'_>) -> rusqlite::Result<TokenInfo> {
    Ok(TokenInfo {
        id: row.get(0)?,
        company: rows::company_at(row, 1)?,
        scopes: rows::scopes_at(row, 2)?.unwrap_or_default(),
        created_at: rows::timestamp_at(row, 3)?,
        expires_at: rows::optional_timestamp_at(row, 4)?,
        revoked_at: rows::optional_timestamp_at(row, 5)?,
    })
}

/// Creates the token under a fresh random handle.
pub(crate) fn create_token(
    conn: &Connection,
    token: &NewToken,
    now: Timestamp,
) -> Result<TokenInfo, Fail> {
    insert_token(conn, token, &generate_token_id(), now)
}

/// Creates the token under the handle `id`, once the rules allow it.
pub(crate) fn insert_token(
    conn: &Connection,
    token: &NewToken,
    id: &str,
    now: Timestamp,
) -> Result<TokenInfo, Fail> {
    admin::create_token(&ConnDirectory(conn), token, id)?;
    let row = rows::lookup(
        conn,
        &format!(
            "INSERT INTO tokens (id, digest, company_id, scopes, created_at, expires_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) RETURNING {TOKEN_COLUMNS}"
        ),
        params![
            id,
            token.digest.0.as_slice(),
            token.company.get(),
            encoding::scopes_value(&token.scopes),
            now.unix(),
            token.expires_at.map(Timestamp::unix),
        ],
        token_info,
    )?;
    inserted(row)
}

pub(crate) fn tokens(
    conn: &Connection,
    company: Option<CompanyId>,
) -> Result<Vec<TokenInfo>, Fail> {
    listing(
        conn,
        TOKEN_COLUMNS,
        "tokens",
        "created_at, id",
        company,
        token_info,
    )
}

pub(crate) fn revoke_token(conn: &Connection, id: &str, at: Timestamp) -> Result<TokenInfo, Fail> {
    let info = revoke_credential(conn, "tokens", "id", TOKEN_COLUMNS, id, at, token_info)?;
    Ok(info.ok_or_else(|| StoreError::NoToken(id.to_owned()))?)
}

pub(crate) fn token(
    conn: &Connection,
    digest: &SecretDigest,
) -> Result<Option<StoredCredential>, Fail> {
    // A token always has a scope list; a stored NULL reads as none.
    credential(
        conn,
        "SELECT t.company_id, t.digest, t.scopes, t.expires_at, t.revoked_at,
                c.per_second_limit, c.per_day_limit
         FROM tokens t JOIN companies c ON c.id = t.company_id WHERE t.digest = ?1",
        [digest.0.as_slice()],
        |scopes| Some(scopes.unwrap_or_default()),
    )
}

// --- users ---

pub(crate) fn add_user(conn: &Connection, user: &User) -> Result<(), Fail> {
    admin::add_user(&ConnDirectory(conn), user)?;
    write_user(conn, Write::Insert, user)
}

pub(crate) fn write_user(conn: &Connection, write: Write, user: &User) -> Result<(), Fail> {
    rows::execute(
        conn,
        &write.sql(
            "INSERT INTO users (company_id, id, email, calls_access) VALUES (?1, ?2, ?3, ?4)",
            "ON CONFLICT (company_id, id) DO UPDATE SET email = excluded.email, calls_access = excluded.calls_access",
        ),
        params![
            user.company.get(),
            user.id.get(),
            user.email_address,
            encoding::calls_access_value(user.calls_access)
        ],
    )?;
    Ok(())
}

/// Every user of the company with their profile level, ascending.
fn levels(conn: &Connection, company: CompanyId) -> Result<Vec<(UserId, CallsAccess)>, Fail> {
    all(
        conn,
        "SELECT id, calls_access FROM users WHERE company_id = ?1 ORDER BY id",
        [company.get()],
        |row| Ok((rows::user_at(row, 0)?, rows::calls_access_at(row, 1)?)),
    )
}

pub(crate) fn users(conn: &Connection, company: CompanyId) -> Result<Vec<User>, Fail> {
    all(
        conn,
        "SELECT id, email, calls_access FROM users WHERE company_id = ?1 ORDER BY id",
        [company.get()],
        |row| {
            Ok(User {
                company,
                id: rows::user_at(row, 0)?,
                email_address: row.get(1)?,
                calls_access: rows::calls_access_at(row, 2)?,
            })
        },
    )
}

pub(crate) fn set_calls_access(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    access: CallsAccess,
) -> Result<(), Fail> {
    let changed = rows::execute(
        conn,
        "UPDATE users SET calls_access = ?3 WHERE company_id = ?1 AND id = ?2",
        params![
            company.get(),
            user.get(),
            encoding::calls_access_value(access)
        ],
    )?;
    if changed == 0 {
        return Err(StoreError::NoUser { company, user }.into());
    }
    Ok(())
}

// --- calls ---

pub(crate) fn add_call(conn: &Connection, call: &Call) -> Result<(), Fail> {
    admin::add_call(&ConnDirectory(conn), call)?;
    upsert_call(conn, call)
}

/// Creates or updates a call and makes its participants exactly the given
/// ones. The caller has checked that every user exists.
pub(crate) fn upsert_call(conn: &Connection, call: &Call) -> Result<(), Fail> {
    let company = call.company.get();
    rows::execute(
        conn,
        "INSERT INTO calls (company_id, id, title, primary_user_id) VALUES (?1, ?2, ?3, ?4)
         ON CONFLICT (company_id, id) DO UPDATE SET title = excluded.title, primary_user_id = excluded.primary_user_id",
        params![company, call.id.get(), call.title, call.primary_user_id.get()],
    )?;
    rows::execute(
        conn,
        "DELETE FROM call_participants WHERE company_id = ?1 AND call_id = ?2",
        params![company, call.id.get()],
    )?;
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
    all(
        conn,
        "SELECT id, title, primary_user_id FROM calls WHERE company_id = ?1 ORDER BY id",
        [company.get()],
        |row| {
            let id = rows::call_at(row, 0)?;
            Ok(Call {
                company,
                id,
                title: row.get(1)?,
                primary_user_id: rows::user_at(row, 2)?,
                participant_ids: participants.remove(&id).unwrap_or_default(),
            })
        },
    )
}

fn load_call(conn: &Connection, company: CompanyId, id: CallId) -> Result<Option<Call>, Fail> {
    let found = rows::lookup(
        conn,
        "SELECT title, primary_user_id FROM calls WHERE company_id = ?1 AND id = ?2",
        params![company.get(), id.get()],
        |row| Ok((row.get::<_, Option<String>>(0)?, rows::user_at(row, 1)?)),
    )?;
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
    admin::add_share(&ConnDirectory(conn), company, call, user)?;
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
    rows::execute(
        conn,
        "INSERT OR IGNORE INTO shares (company_id, call_id, user_id, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![company.get(), call.get(), user.get(), now.unix()],
    )?;
    Ok(())
}

pub(crate) fn remove_share(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<bool, Fail> {
    let removed = rows::execute(
        conn,
        "DELETE FROM shares WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
        params![company.get(), call.get(), user.get()],
    )?;
    Ok(removed > 0)
}

/// The call, its grants and shares as stored, and every user of the company
/// with their level; `access::call_access` decides whose profile opens it.
pub(crate) fn call_access(
    conn: &Connection,
    company: CompanyId,
    id: CallId,
) -> Result<CallAccessFacts, Fail> {
    let call = load_call(conn, company, id)?.ok_or(StoreError::NoCall { company, call: id })?;
    let api_grants = rows::linked_users(conn, LinkTable::ApiGrants, company, id)?;
    let shares = rows::linked_users(conn, LinkTable::Shares, company, id)?;
    let users = levels(conn, company)?;
    Ok(access::call_access(call, api_grants, shares, &users)?)
}
