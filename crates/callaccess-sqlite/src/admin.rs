//! Credentials, companies, users, calls and shares: what the admin tools and
//! the authentication layer need. Every change runs the domain's check
//! (`callaccess_domain::admin`) over [`ConnDirectory`] first, then writes,
//! on the same connection in the same transaction.

use std::collections::HashMap;

use callaccess_domain::admin::{self, Directory};
use callaccess_domain::encoding;
use callaccess_domain::secret::generate_token_id;
use callaccess_domain::{
    legacy_profile, legacy_profile_name, parties_from_json, parties_to_json, ApiKeyInfo, Call,
    CallDetails, CallId, CallsAccess, CallsRule, Company, CompanyId, NewApiKey, NewCompany,
    NewEntry, NewToken, Profile, ProfileId, RateLimit, Scope, SecretDigest, StoreError,
    StoredCredential, Timestamp, TokenInfo, User, UserId, UserUpdate, Workspace, WorkspaceId,
};
use rusqlite::{params, Connection, Params, Row};

use crate::audit::Audit;
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
        Ok(rows::user_manager(self.0, company, user)?.is_some())
    }

    fn call_exists(&self, company: CompanyId, call: CallId) -> Result<bool, StoreError> {
        Ok(rows::call_primary(self.0, company, call)?.is_some())
    }

    fn workspace_owner(&self, workspace: WorkspaceId) -> Result<Option<CompanyId>, StoreError> {
        Ok(rows::lookup(
            self.0,
            "SELECT company_id FROM workspaces WHERE id = ?1",
            [workspace.get()],
            |row| rows::company_at(row, 0),
        )?)
    }

    fn profile_home(
        &self,
        profile: ProfileId,
    ) -> Result<Option<(CompanyId, WorkspaceId)>, StoreError> {
        Ok(rows::lookup(
            self.0,
            "SELECT company_id, workspace_id FROM permission_profiles WHERE id = ?1",
            [profile.get()],
            |row| Ok((rows::company_at(row, 0)?, rows::workspace_at(row, 1)?)),
        )?)
    }

    fn call_with_client_id(
        &self,
        company: CompanyId,
        client_unique_id: &str,
    ) -> Result<Option<CallId>, StoreError> {
        Ok(rows::lookup(
            self.0,
            "SELECT id FROM calls WHERE company_id = ?1 AND client_unique_id = ?2",
            params![company.get(), client_unique_id],
            |row| rows::call_at(row, 0),
        )?)
    }

    fn manager(
        &self,
        company: CompanyId,
        user: UserId,
    ) -> Result<Option<Option<UserId>>, StoreError> {
        Ok(rows::user_manager(self.0, company, user)?)
    }

    fn default_workspace(&self, company: CompanyId) -> Result<Option<WorkspaceId>, StoreError> {
        Ok(rows::default_workspace(self.0, company)?)
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
pub(crate) fn all<T>(
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

/// Marks a credential revoked unless it is already (the first revocation
/// time stays) and reads it back: `None` if there is no such one, else the
/// credential and whether this call revoked it.
fn revoke_credential<T>(
    conn: &Connection,
    table: &str,
    key_column: &str,
    columns: &str,
    key: &str,
    at: Timestamp,
    read: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
) -> Result<Option<(T, bool)>, Fail> {
    let revoked = rows::execute(
        conn,
        &format!(
            "UPDATE {table} SET revoked_at = ?2 WHERE {key_column} = ?1 AND revoked_at IS NULL"
        ),
        params![key, at.unix()],
    )?;
    let found = rows::lookup(
        conn,
        &format!("SELECT {columns} FROM {table} WHERE {key_column} = ?1"),
        [key],
        read,
    )?;
    Ok(found.map(|info| (info, revoked > 0)))
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

/// A new company, with its default workspace "Default" (a fresh random
/// id), in the same transaction.
pub(crate) fn create_company(
    conn: &Connection,
    new: &NewCompany,
    now: Timestamp,
) -> Result<Company, Fail> {
    admin::create_company(&ConnDirectory(conn), new)?;
    let company = inserted(write_company(conn, Write::Insert, new, now)?)?;
    write_workspace(
        conn,
        Write::Insert,
        &Workspace::default_for(new.id, WorkspaceId::random()),
    )?;
    Ok(company)
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
const API_KEY_ORDER: &str = "created_at, access_key";

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
    audit: &Audit,
) -> Result<ApiKeyInfo, Fail> {
    admin::create_api_key(&ConnDirectory(conn), key)?;
    let info = inserted(write_api_key(conn, Write::Insert, key, audit.now)?)?;
    audit.record(conn, NewEntry::api_key_created(&info))?;
    Ok(info)
}

/// One key's public facts, `None` if there is no such key.
pub(crate) fn api_key_info_of(
    conn: &Connection,
    access_key: &str,
) -> Result<Option<ApiKeyInfo>, Fail> {
    rows::lookup(
        conn,
        &format!("SELECT {API_KEY_COLUMNS} FROM api_keys WHERE access_key = ?1"),
        [access_key],
        api_key_info,
    )
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
        API_KEY_ORDER,
        company,
        api_key_info,
    )
}

/// One company's keys as [`api_keys`] orders them, each with the digest of
/// its secret: for an export, which carries digests, never secrets.
pub(crate) fn api_keys_with_digests(
    conn: &Connection,
    company: CompanyId,
) -> Result<Vec<(ApiKeyInfo, SecretDigest)>, Fail> {
    listing(
        conn,
        &format!("{API_KEY_COLUMNS}, secret_digest"),
        "api_keys",
        API_KEY_ORDER,
        Some(company),
        |row| Ok((api_key_info(row)?, rows::digest_at(row, 6)?)),
    )
}

/// Revokes the key unless it is already; only a first revocation is
/// recorded.
pub(crate) fn revoke_api_key(
    conn: &Connection,
    access_key: &str,
    at: Timestamp,
    audit: &Audit,
) -> Result<ApiKeyInfo, Fail> {
    let found = revoke_credential(
        conn,
        "api_keys",
        "access_key",
        API_KEY_COLUMNS,
        access_key,
        at,
        api_key_info,
    )?;
    let (info, revoked) = found.ok_or_else(|| StoreError::NoApiKey(access_key.to_owned()))?;
    if revoked {
        audit.record(conn, NewEntry::api_key_revoked(&info))?;
    }
    Ok(info)
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
            handle: row.get(7)?,
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
                c.per_second_limit, c.per_day_limit, k.access_key
         FROM api_keys k JOIN companies c ON c.id = k.company_id WHERE k.access_key = ?1",
        [access_key],
        |scopes| scopes,
    )
}

// --- tokens ---

const TOKEN_COLUMNS: &str = "id, company_id, scopes, created_at, expires_at, revoked_at";
const TOKEN_ORDER: &str = "created_at, id";

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
    audit: &Audit,
) -> Result<TokenInfo, Fail> {
    insert_token(conn, token, &generate_token_id(), audit.now, audit)
}

/// Creates the token under the handle `id` at `created`, once the rules
/// allow it, and records it.
pub(crate) fn insert_token(
    conn: &Connection,
    token: &NewToken,
    id: &str,
    created: Timestamp,
    audit: &Audit,
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
            created.unix(),
            token.expires_at.map(Timestamp::unix),
        ],
        token_info,
    )?;
    let info = inserted(row)?;
    audit.record(conn, NewEntry::token_created(&info))?;
    Ok(info)
}

/// One token's public facts by its handle, `None` if there is no such one.
pub(crate) fn token_info_of(conn: &Connection, id: &str) -> Result<Option<TokenInfo>, Fail> {
    rows::lookup(
        conn,
        &format!("SELECT {TOKEN_COLUMNS} FROM tokens WHERE id = ?1"),
        [id],
        token_info,
    )
}

pub(crate) fn tokens(
    conn: &Connection,
    company: Option<CompanyId>,
) -> Result<Vec<TokenInfo>, Fail> {
    listing(
        conn,
        TOKEN_COLUMNS,
        "tokens",
        TOKEN_ORDER,
        company,
        token_info,
    )
}

/// One company's tokens as [`tokens`] orders them, each with its digest:
/// for an export.
pub(crate) fn tokens_with_digests(
    conn: &Connection,
    company: CompanyId,
) -> Result<Vec<(TokenInfo, SecretDigest)>, Fail> {
    listing(
        conn,
        &format!("{TOKEN_COLUMNS}, digest"),
        "tokens",
        TOKEN_ORDER,
        Some(company),
        |row| Ok((token_info(row)?, rows::digest_at(row, 6)?)),
    )
}

pub(crate) fn revoke_token(
    conn: &Connection,
    id: &str,
    at: Timestamp,
    audit: &Audit,
) -> Result<TokenInfo, Fail> {
    let found = revoke_credential(conn, "tokens", "id", TOKEN_COLUMNS, id, at, token_info)?;
    let (info, revoked) = found.ok_or_else(|| StoreError::NoToken(id.to_owned()))?;
    if revoked {
        audit.record(conn, NewEntry::token_revoked(&info))?;
    }
    Ok(info)
}

pub(crate) fn token(
    conn: &Connection,
    digest: &SecretDigest,
) -> Result<Option<StoredCredential>, Fail> {
    // A token always has a scope list; a stored NULL reads as none.
    credential(
        conn,
        "SELECT t.company_id, t.digest, t.scopes, t.expires_at, t.revoked_at,
                c.per_second_limit, c.per_day_limit, t.id
         FROM tokens t JOIN companies c ON c.id = t.company_id WHERE t.digest = ?1",
        [digest.0.as_slice()],
        |scopes| Some(scopes.unwrap_or_default()),
    )
}

// --- workspaces ---

pub(crate) fn create_workspace(
    conn: &Connection,
    workspace: &Workspace,
) -> Result<Workspace, Fail> {
    admin::create_workspace(&ConnDirectory(conn), workspace)?;
    write_workspace(conn, Write::Insert, workspace)?;
    Ok(workspace.clone())
}

/// Writes the workspace (a seed's upsert keeps it with its company); the
/// first workspace a company gets becomes its default.
pub(crate) fn write_workspace(
    conn: &Connection,
    write: Write,
    workspace: &Workspace,
) -> Result<(), Fail> {
    rows::execute(
        conn,
        &write.sql(
            "INSERT INTO workspaces (id, company_id, name, description) VALUES (?1, ?2, ?3, ?4)",
            "ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description
             WHERE workspaces.company_id = excluded.company_id",
        ),
        params![
            workspace.id.get(),
            workspace.company.get(),
            workspace.name,
            workspace.description
        ],
    )?;
    rows::execute(
        conn,
        "UPDATE companies SET default_workspace_id = ?2 WHERE id = ?1 AND default_workspace_id IS NULL",
        params![workspace.company.get(), workspace.id.get()],
    )?;
    Ok(())
}

/// The company's default workspace. Every company has one since migration
/// 5, so a company without one is a defect of the file.
pub(crate) fn default_workspace_of(
    conn: &Connection,
    company: CompanyId,
) -> Result<WorkspaceId, Fail> {
    rows::default_workspace(conn, company)?.ok_or_else(|| {
        StoreError::Other(format!("company \"{company}\" has no default workspace")).into()
    })
}

pub(crate) const WORKSPACE_COLUMNS: &str = "company_id, id, name, description";

pub(crate) fn workspace_row(row: &Row<'_>) -> rusqlite::Result<Workspace> {
    Ok(Workspace {
        company: rows::company_at(row, 0)?,
        id: rows::workspace_at(row, 1)?,
        name: row.get(2)?,
        description: row.get(3)?,
    })
}

// --- permission profiles ---

pub(crate) const PROFILE_COLUMNS: &str =
    "p.company_id, p.workspace_id, p.id, p.name, p.level, p.team_lead_ids, p.fields";

pub(crate) fn profile_row(row: &Row<'_>) -> rusqlite::Result<Profile> {
    Ok(Profile {
        company: rows::company_at(row, 0)?,
        workspace: rows::workspace_at(row, 1)?,
        id: rows::profile_at(row, 2)?,
        name: row.get(3)?,
        calls: CallsRule {
            level: rows::calls_access_at(row, 4)?,
            team_leads: rows::user_list_at(row, 5)?,
        },
        fields: rows::at(row, 6, |text: String| {
            serde_json::from_str(&text).map_err(|e| format!("stored profile fields: {e}"))
        })?,
    })
}

/// Creates the profile, or replaces its fields; it stays in its workspace
/// and with its company.
pub(crate) fn write_profile(conn: &Connection, profile: &Profile) -> Result<(), Fail> {
    let mut fields = profile.fields.clone();
    fields.remove("id");
    let fields = serde_json::Value::Object(fields).to_string();
    rows::execute(
        conn,
        "INSERT INTO permission_profiles (id, company_id, workspace_id, name, level, team_lead_ids, fields)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
         ON CONFLICT (id) DO UPDATE SET name = excluded.name, level = excluded.level,
             team_lead_ids = excluded.team_lead_ids, fields = excluded.fields
         WHERE permission_profiles.company_id = excluded.company_id",
        params![
            profile.id.get(),
            profile.company.get(),
            profile.workspace.get(),
            profile.name,
            encoding::calls_access_value(profile.calls.level),
            encoding::user_list_value(&profile.calls.team_leads),
            fields
        ],
    )?;
    Ok(())
}

/// Creates the profile or replaces its fields, as [`write_profile`], and
/// records `profile.create` or, if a field changed, `profile.update`;
/// answers the profile as stored.
pub(crate) fn save_profile(
    conn: &Connection,
    profile: &Profile,
    audit: &Audit,
) -> Result<Profile, Fail> {
    let before = load_profile(conn, profile.company, profile.id)?;
    write_profile(conn, profile)?;
    let after = load_profile(conn, profile.company, profile.id)?.ok_or_else(|| {
        Fail::from(StoreError::Other(
            "a written profile cannot be read back".to_owned(),
        ))
    })?;
    match &before {
        None => audit.record(conn, NewEntry::profile_created(&after))?,
        Some(before) => audit.record_if(conn, NewEntry::profile_updated(before, &after))?,
    }
    Ok(after)
}

/// One profile of the company, `None` if it has no such profile.
pub(crate) fn load_profile(
    conn: &Connection,
    company: CompanyId,
    profile: ProfileId,
) -> Result<Option<Profile>, Fail> {
    rows::lookup(
        conn,
        &format!("SELECT {PROFILE_COLUMNS} FROM permission_profiles p WHERE p.id = ?1 AND p.company_id = ?2"),
        params![profile.get(), company.get()],
        profile_row,
    )
}

/// Gives the user the profile of `workspace`, replacing theirs there;
/// answers the one they held before (the row is left alone if it was this
/// one). Records nothing: the callers know which change is the user's.
fn hold_profile(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    workspace: WorkspaceId,
    profile: ProfileId,
) -> Result<Option<ProfileId>, Fail> {
    let held = rows::lookup(
        conn,
        "SELECT profile_id FROM user_profiles WHERE company_id = ?1 AND user_id = ?2 AND workspace_id = ?3",
        params![company.get(), user.get(), workspace.get()],
        |row| rows::profile_at(row, 0),
    )?;
    if held != Some(profile) {
        rows::execute(
            conn,
            "INSERT INTO user_profiles (company_id, user_id, workspace_id, profile_id) VALUES (?1, ?2, ?3, ?4)
             ON CONFLICT (company_id, user_id, workspace_id) DO UPDATE SET profile_id = excluded.profile_id",
            params![company.get(), user.get(), workspace.get(), profile.get()],
        )?;
    }
    Ok(held)
}

/// [`hold_profile`], recording `user.profile` if it changed.
fn hold_profile_recorded(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    workspace: WorkspaceId,
    profile: ProfileId,
    audit: &Audit,
) -> Result<(), Fail> {
    let before = hold_profile(conn, company, user, workspace, profile)?;
    audit.record_if(
        conn,
        NewEntry::user_profile(company, user, workspace, before, Some(profile)),
    )
}

pub(crate) fn assign_profile(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    profile: ProfileId,
    audit: &Audit,
) -> Result<(), Fail> {
    let workspace = admin::assign_profile(&ConnDirectory(conn), company, user, profile)?;
    hold_profile_recorded(conn, company, user, workspace, profile, audit)
}

// --- users ---

/// A user with their default workspace's level, from column 0 on (`u`),
/// after `FROM {from}` (which names `u`).
macro_rules! users_from {
    ($from:literal) => {
        concat!(
            "SELECT u.id, u.email, u.first_name, u.last_name, u.title, u.manager_id,
                    u.active, u.created_at, p.level
             FROM ",
            $from,
            " JOIN companies co ON co.id = u.company_id
             LEFT JOIN user_profiles up ON up.company_id = u.company_id AND up.user_id = u.id
                  AND up.workspace_id = co.default_workspace_id
             LEFT JOIN permission_profiles p ON p.id = up.profile_id"
        )
    };
}
pub(crate) use users_from;

const USER_SELECT: &str = users_from!("users u");

pub(crate) fn user_select() -> &'static str {
    USER_SELECT
}

pub(crate) fn user_row(company: CompanyId) -> impl Fn(&Row<'_>) -> rusqlite::Result<User> {
    move |row| {
        Ok(User {
            company,
            id: rows::user_at(row, 0)?,
            email_address: row.get(1)?,
            first_name: row.get(2)?,
            last_name: row.get(3)?,
            title: row.get(4)?,
            manager_id: rows::optional_user_at(row, 5)?,
            active: row.get(6)?,
            created: Some(rows::timestamp_at(row, 7)?),
            calls_access: rows::optional_calls_access_at(row, 8)?,
        })
    }
}

/// A new user, with their manager (checked for loops) and their
/// `callsAccess` shorthand if given: one `user.create` with both, after
/// the `profile.create` of a legacy profile the shorthand made.
pub(crate) fn add_user(conn: &Connection, user: &User, audit: &Audit) -> Result<(), Fail> {
    admin::add_user(&ConnDirectory(conn), user)?;
    write_user(conn, Write::Insert, user, audit.now)?;
    if user.manager_id.is_some() {
        admin::set_manager(&ConnDirectory(conn), user.company, user.id, user.manager_id)?;
        write_manager(conn, user.company, user.id, user.manager_id)?;
    }
    let mut profiles = Vec::new();
    if let Some(level) = user.calls_access {
        let (workspace, profile) = legacy_profile_for(conn, user.company, level, audit)?;
        hold_profile(conn, user.company, user.id, workspace, profile)?;
        profiles.push((workspace, profile));
    }
    audit.record(conn, NewEntry::user_created(user, &profiles))
}

/// A new user of a seed: their own fields only (the plan writes their
/// manager and profiles next), recorded as such.
pub(crate) fn seed_user(conn: &Connection, user: &User, audit: &Audit) -> Result<(), Fail> {
    let new = rows::user_manager(conn, user.company, user.id)?.is_none();
    write_user(conn, Write::Upsert, user, audit.now)?;
    if new {
        let written = User {
            manager_id: None,
            ..user.clone()
        };
        audit.record(conn, NewEntry::user_created(&written, &[]))?;
    }
    Ok(())
}

/// Writes the user's own fields: email, names, title, `active`, and their
/// creation time (`None`: now on insert, kept on update). Never their
/// manager or profiles.
pub(crate) fn write_user(
    conn: &Connection,
    write: Write,
    user: &User,
    now: Timestamp,
) -> Result<(), Fail> {
    rows::execute(
        conn,
        &write.sql(
            "INSERT INTO users (company_id, id, email, first_name, last_name, title, active, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, coalesce(?8, ?9))",
            "ON CONFLICT (company_id, id) DO UPDATE SET email = excluded.email,
                 first_name = excluded.first_name, last_name = excluded.last_name,
                 title = excluded.title, active = excluded.active,
                 created_at = coalesce(?8, users.created_at)",
        ),
        params![
            user.company.get(),
            user.id.get(),
            user.email_address,
            user.first_name,
            user.last_name,
            user.title,
            user.active,
            user.created.map(Timestamp::unix),
            now.unix()
        ],
    )?;
    Ok(())
}

pub(crate) fn users(conn: &Connection, company: CompanyId) -> Result<Vec<User>, Fail> {
    all(
        conn,
        &format!("{USER_SELECT} WHERE u.company_id = ?1 ORDER BY u.id"),
        [company.get()],
        user_row(company),
    )
}

/// Sets the user's manager once the domain found no loop.
pub(crate) fn set_manager(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    manager: Option<UserId>,
    audit: &Audit,
) -> Result<(), Fail> {
    admin::set_manager(&ConnDirectory(conn), company, user, manager)?;
    change_manager(conn, company, user, manager, audit)
}

/// Writes a manager the caller checked, recording `user.manager` if it
/// changed (and writing nothing if not).
pub(crate) fn change_manager(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    manager: Option<UserId>,
    audit: &Audit,
) -> Result<(), Fail> {
    let Some(before) = rows::user_manager(conn, company, user)? else {
        return Err(StoreError::NoUser { company, user }.into());
    };
    if let Some(entry) = NewEntry::user_manager(company, user, before, manager) {
        write_manager(conn, company, user, manager)?;
        audit.record(conn, entry)?;
    }
    Ok(())
}

/// Writes a manager the caller checked.
fn write_manager(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    manager: Option<UserId>,
) -> Result<(), Fail> {
    rows::execute(
        conn,
        "UPDATE users SET manager_id = ?3 WHERE company_id = ?1 AND id = ?2",
        params![company.get(), user.get(), manager.map(UserId::get)],
    )?;
    Ok(())
}

/// Several of a user's fields at once, in the caller's transaction: the
/// domain checks the whole change first, then each part is written by the
/// helper of its single change (manager, `active`, level, profiles).
///
/// Recorded: `user.manager`, then the `profile.create` of a legacy profile
/// the shorthand made, then one `user.profile` per workspace whose profile
/// differs at the end from the one held at the start (by workspace id);
/// `active` is no access and records nothing.
pub(crate) fn update_user(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    change: &UserUpdate,
    audit: &Audit,
) -> Result<(), Fail> {
    let held = admin::update_user(&ConnDirectory(conn), company, user, change)?;
    if let Some(manager) = change.manager {
        change_manager(conn, company, user, manager, audit)?;
    }
    if let Some(active) = change.active {
        rows::execute(
            conn,
            "UPDATE users SET active = ?3 WHERE company_id = ?1 AND id = ?2",
            params![company.get(), user.get(), active],
        )?;
    }
    // Each workspace touched: the profile held first, and last.
    let mut moved: std::collections::BTreeMap<WorkspaceId, (Option<ProfileId>, ProfileId)> =
        std::collections::BTreeMap::new();
    let mut hold = |workspace: WorkspaceId, profile: ProfileId| -> Result<(), Fail> {
        let before = hold_profile(conn, company, user, workspace, profile)?;
        moved
            .entry(workspace)
            .and_modify(|(_, last)| *last = profile)
            .or_insert((before, profile));
        Ok(())
    };
    if let Some(level) = change.calls_access {
        let (workspace, profile) = legacy_profile_for(conn, company, level, audit)?;
        hold(workspace, profile)?;
    }
    for (workspace, profile) in held {
        hold(workspace, profile)?;
    }
    for (workspace, (first, last)) in moved {
        audit.record_if(
            conn,
            NewEntry::user_profile(company, user, workspace, first, Some(last)),
        )?;
    }
    Ok(())
}

/// The `callsAccess` shorthand: the default workspace's profile named
/// `legacy_profile_name(level)` (created if missing), held by the user.
pub(crate) fn set_calls_access(
    conn: &Connection,
    company: CompanyId,
    user: UserId,
    level: CallsAccess,
    audit: &Audit,
) -> Result<(), Fail> {
    if rows::user_manager(conn, company, user)?.is_none() {
        return Err(StoreError::NoUser { company, user }.into());
    }
    let (workspace, profile) = legacy_profile_for(conn, company, level, audit)?;
    hold_profile_recorded(conn, company, user, workspace, profile, audit)
}

/// The default workspace and its profile of `level` for the shorthand,
/// created (and recorded) if the workspace has none of that name.
fn legacy_profile_for(
    conn: &Connection,
    company: CompanyId,
    level: CallsAccess,
    audit: &Audit,
) -> Result<(WorkspaceId, ProfileId), Fail> {
    let workspace = default_workspace_of(conn, company)?;
    let found = rows::lookup(
        conn,
        "SELECT id FROM permission_profiles WHERE workspace_id = ?1 AND name = ?2 ORDER BY id LIMIT 1",
        params![workspace.get(), legacy_profile_name(level)],
        |row| rows::profile_at(row, 0),
    )?;
    let profile = match found {
        Some(profile) => profile,
        None => {
            let profile = legacy_profile(company, workspace, ProfileId::random(), level);
            write_profile(conn, &profile)?;
            audit.record(conn, NewEntry::profile_created(&profile))?;
            profile.id
        }
    };
    Ok((workspace, profile))
}

// --- calls ---

/// A call from column 0 on (`c`), without its participants.
pub(crate) const CALL_COLUMNS: &str =
    "c.id, c.workspace_id, c.title, c.primary_user_id, c.is_private,
        c.started, c.client_unique_id, c.details, c.parties";

pub(crate) fn call_row(company: CompanyId) -> impl Fn(&Row<'_>) -> rusqlite::Result<Call> {
    move |row| {
        Ok(Call {
            company,
            id: rows::call_at(row, 0)?,
            workspace: Some(rows::workspace_at(row, 1)?),
            title: row.get(2)?,
            primary_user_id: rows::user_at(row, 3)?,
            participant_ids: Vec::new(),
            is_private: row.get(4)?,
            started: rows::optional_timestamp_at(row, 5)?,
            client_unique_id: row.get(6)?,
            details: rows::at(row, 7, |text: String| CallDetails::from_json(&text))?,
            parties: rows::at(row, 8, |text: String| parties_from_json(&text))?,
        })
    }
}

/// Fills each call's participants, one range read per call.
pub(crate) fn with_participants(
    conn: &Connection,
    mut calls: Vec<Call>,
) -> Result<Vec<Call>, Fail> {
    for call in &mut calls {
        call.participant_ids =
            rows::linked_users(conn, LinkTable::Participants, call.company, call.id)?;
    }
    Ok(calls)
}

pub(crate) fn add_call(conn: &Connection, call: &Call, audit: &Audit) -> Result<(), Fail> {
    admin::add_call(&ConnDirectory(conn), call)?;
    upsert_call(conn, call, audit)
}

/// Creates or updates a call (without a workspace: in the company's
/// default) and makes its participants exactly the given ones. The caller
/// has checked that every user exists. Records `call.create` for a new
/// call, `call.private` for one whose privacy changed.
pub(crate) fn upsert_call(conn: &Connection, call: &Call, audit: &Audit) -> Result<(), Fail> {
    let company = call.company.get();
    let workspace = match call.workspace {
        Some(workspace) => workspace,
        None => default_workspace_of(conn, call.company)?,
    };
    let was_private = rows::lookup(
        conn,
        "SELECT is_private FROM calls WHERE company_id = ?1 AND id = ?2",
        params![company, call.id.get()],
        |row| row.get::<_, bool>(0),
    )?;
    rows::execute(
        conn,
        "INSERT INTO calls (company_id, id, title, primary_user_id, workspace_id, is_private, started,
                            client_unique_id, details, parties)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
         ON CONFLICT (company_id, id) DO UPDATE SET title = excluded.title,
             primary_user_id = excluded.primary_user_id, workspace_id = excluded.workspace_id,
             is_private = excluded.is_private, started = excluded.started,
             client_unique_id = excluded.client_unique_id, details = excluded.details,
             parties = excluded.parties",
        params![
            company,
            call.id.get(),
            call.title,
            call.primary_user_id.get(),
            workspace.get(),
            call.is_private,
            call.started.map(Timestamp::unix),
            call.client_unique_id,
            call.details.to_json(),
            parties_to_json(&call.parties)
        ],
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
    match was_private {
        None => {
            let stored = Call {
                workspace: Some(workspace),
                ..call.clone()
            };
            audit.record(conn, NewEntry::call_created(&stored, audit.now))
        }
        Some(before) => audit.record_if(
            conn,
            NewEntry::call_private(call.company, call.id, before, call.is_private),
        ),
    }
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
    let read = call_row(company);
    all(
        conn,
        &format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.company_id = ?1 ORDER BY c.id"),
        [company.get()],
        |row| {
            let mut call = read(row)?;
            call.participant_ids = participants.remove(&call.id).unwrap_or_default();
            Ok(call)
        },
    )
}

/// One call of the company with its participants, `None` if it has no
/// such call.
pub(crate) fn load_call(
    conn: &Connection,
    company: CompanyId,
    id: CallId,
) -> Result<Option<Call>, Fail> {
    let found = rows::lookup(
        conn,
        &format!("SELECT {CALL_COLUMNS} FROM calls c WHERE c.company_id = ?1 AND c.id = ?2"),
        params![company.get(), id.get()],
        call_row(company),
    )?;
    let Some(mut call) = found else {
        return Ok(None);
    };
    call.participant_ids = rows::linked_users(conn, LinkTable::Participants, company, id)?;
    Ok(Some(call))
}

pub(crate) fn set_private(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    private: bool,
    audit: &Audit,
) -> Result<(), Fail> {
    admin::set_private(&ConnDirectory(conn), company, call)?;
    let changed = rows::execute(
        conn,
        "UPDATE calls SET is_private = ?3 WHERE company_id = ?1 AND id = ?2 AND is_private IS NOT ?3",
        params![company.get(), call.get(), private],
    )?;
    if changed > 0 {
        audit.record_if(
            conn,
            NewEntry::call_private(company, call, !private, private),
        )?;
    }
    Ok(())
}

// --- shares and the full picture of one call ---

pub(crate) fn add_share(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
    audit: &Audit,
) -> Result<(), Fail> {
    admin::add_share(&ConnDirectory(conn), company, call, user)?;
    insert_share(conn, company, call, user, audit)
}

/// Records a share unless it exists (the first sharing time is kept), and
/// `share.add` if it did not.
pub(crate) fn insert_share(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
    audit: &Audit,
) -> Result<(), Fail> {
    let added = rows::execute(
        conn,
        "INSERT OR IGNORE INTO shares (company_id, call_id, user_id, created_at) VALUES (?1, ?2, ?3, ?4)",
        params![company.get(), call.get(), user.get(), audit.now.unix()],
    )?;
    if added > 0 {
        audit.record(conn, NewEntry::share_added(company, call, user))?;
    }
    Ok(())
}

pub(crate) fn remove_share(
    conn: &Connection,
    company: CompanyId,
    call: CallId,
    user: UserId,
    audit: &Audit,
) -> Result<bool, Fail> {
    let removed = rows::execute(
        conn,
        "DELETE FROM shares WHERE company_id = ?1 AND call_id = ?2 AND user_id = ?3",
        params![company.get(), call.get(), user.get()],
    )?;
    if removed > 0 {
        audit.record(conn, NewEntry::share_removed(company, call, user))?;
    }
    Ok(removed > 0)
}
