//! Applying a seed file: `callaccess_domain::seed::plan` checks it against
//! the database and lays out the writes; this module executes them, in the
//! writer's transaction, so a seed is applied whole or not at all.

use callaccess_domain::seed::{self, Seed, SeedSummary, SeedWrite};
use callaccess_domain::{
    encoding, NewApiKey, NewCompany, NewEntry, NewToken, Timestamp, Workspace,
};
use rusqlite::{params, Connection};

use crate::access::INSERT_GRANT;
use crate::admin::{self, ConnDirectory, Write};
use crate::audit::Audit;
use crate::error::Fail;
use crate::rows;

/// Applies `seed` or, if it does not fit the database, changes nothing and
/// answers `SeedRejected` with one message per problem. Records the entry
/// of every row it creates or changes the access of, in the plan's order.
pub(crate) fn apply(conn: &Connection, seed: &Seed, audit: &Audit) -> Result<SeedSummary, Fail> {
    let writes = seed::plan(seed, &ConnDirectory(conn))?;
    for write in &writes {
        execute(conn, write, audit)?;
    }
    Ok(seed.summary())
}

fn execute(conn: &Connection, write: &SeedWrite, audit: &Audit) -> Result<(), Fail> {
    let now = audit.now;
    match write {
        SeedWrite::Company {
            id,
            name,
            rate_limit,
            created_at,
        } => {
            let company = NewCompany {
                id: *id,
                name: name.clone(),
                rate_limit: *rate_limit,
            };
            // The time only lands in a new row: an upsert keeps the stored one.
            admin::write_company(conn, Write::Upsert, &company, created_at.unwrap_or(now))?;
            Ok(())
        }
        SeedWrite::ApiKey { company, key } => {
            let new = NewApiKey {
                company: *company,
                access_key: key.access_key.clone(),
                digest: key.digest,
                scopes: key.scopes.clone(),
                expires_at: key.expires_at,
            };
            let existed = admin::api_key_info_of(conn, &key.access_key)?.is_some();
            // No row: the key is another company's, which the plan ruled out.
            let written =
                admin::write_api_key(conn, Write::Upsert, &new, key.created_at.unwrap_or(now))?;
            if let (false, Some(info)) = (existed, &written) {
                audit.record(conn, NewEntry::api_key_created(info))?;
            }
            if let Some(at) = key.revoked_at {
                let revoked = rows::lookup(
                    conn,
                    "UPDATE api_keys SET revoked_at = ?3
                     WHERE access_key = ?1 AND company_id = ?2 AND revoked_at IS NULL
                     RETURNING access_key",
                    params![key.access_key, company.get(), at.unix()],
                    |row| row.get::<_, String>(0),
                )?;
                if let Some(access_key) = revoked {
                    if let Some(info) = admin::api_key_info_of(conn, &access_key)? {
                        audit.record(conn, NewEntry::api_key_revoked(&info))?;
                    }
                }
            }
            Ok(())
        }
        SeedWrite::Token { company, id, token } => {
            let updated = rows::execute(
                conn,
                "UPDATE tokens SET scopes = ?3, expires_at = ?4 WHERE digest = ?1 AND company_id = ?2",
                params![
                    token.digest.0.as_slice(),
                    company.get(),
                    encoding::scopes_value(&token.scopes),
                    token.expires_at.map(Timestamp::unix)
                ],
            )?;
            if updated == 0 {
                let new = NewToken {
                    company: *company,
                    digest: token.digest,
                    scopes: token.scopes.clone(),
                    expires_at: token.expires_at,
                };
                admin::insert_token(conn, &new, id, token.created_at.unwrap_or(now), audit)?;
            }
            if let Some(at) = token.revoked_at {
                let revoked = rows::lookup(
                    conn,
                    "UPDATE tokens SET revoked_at = ?3
                     WHERE digest = ?1 AND company_id = ?2 AND revoked_at IS NULL
                     RETURNING id",
                    params![token.digest.0.as_slice(), company.get(), at.unix()],
                    |row| row.get::<_, String>(0),
                )?;
                if let Some(id) = revoked {
                    if let Some(info) = admin::token_info_of(conn, &id)? {
                        audit.record(conn, NewEntry::token_revoked(&info))?;
                    }
                }
            }
            Ok(())
        }
        SeedWrite::Workspace(workspace) => admin::write_workspace(conn, Write::Upsert, workspace),
        SeedWrite::DefaultWorkspace { company, id } => {
            if rows::default_workspace(conn, *company)?.is_none() {
                admin::write_workspace(
                    conn,
                    Write::Insert,
                    &Workspace::default_for(*company, *id),
                )?;
            }
            Ok(())
        }
        SeedWrite::Profile(profile) => admin::save_profile(conn, profile, audit).map(drop),
        SeedWrite::User(user) => admin::seed_user(conn, user, audit),
        SeedWrite::Manager {
            company,
            user,
            manager,
        } => admin::change_manager(conn, *company, *user, *manager, audit),
        SeedWrite::AssignProfile {
            company,
            user,
            profile,
        } => admin::assign_profile(conn, *company, *user, *profile, audit),
        SeedWrite::CallsAccess {
            company,
            user,
            level,
        } => admin::set_calls_access(conn, *company, *user, *level, audit),
        SeedWrite::Call(call) => admin::upsert_call(conn, call, audit),
        SeedWrite::Share {
            company,
            call,
            user,
        } => admin::insert_share(conn, *company, *call, *user, audit),
        SeedWrite::ApiGrant {
            company,
            call,
            user,
        } => {
            let grant = params![company.get(), call.get(), user.get(), now.unix()];
            if rows::execute(conn, INSERT_GRANT, grant)? > 0 {
                audit.record(conn, NewEntry::grant_added(*company, *call, *user))?;
            }
            Ok(())
        }
    }
}
