//! Applying a seed file: `callaccess_domain::seed::plan` checks it against
//! the database and lays out the writes; this module executes them, in the
//! writer's transaction, so a seed is applied whole or not at all.

use callaccess_domain::seed::{self, Seed, SeedSummary, SeedWrite};
use callaccess_domain::{encoding, NewApiKey, NewCompany, NewToken, Timestamp, Workspace};
use rusqlite::{params, Connection};

use crate::access::INSERT_GRANT;
use crate::admin::{self, ConnDirectory, Write};
use crate::error::Fail;
use crate::rows;

/// Applies `seed` or, if it does not fit the database, changes nothing and
/// answers `SeedRejected` with one message per problem.
pub(crate) fn apply(conn: &Connection, seed: &Seed, now: Timestamp) -> Result<SeedSummary, Fail> {
    let writes = seed::plan(seed, &ConnDirectory(conn))?;
    for write in &writes {
        execute(conn, write, now)?;
    }
    Ok(seed.summary())
}

fn execute(conn: &Connection, write: &SeedWrite, now: Timestamp) -> Result<(), Fail> {
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
            // No row: the key is another company's, which the plan ruled out.
            admin::write_api_key(conn, Write::Upsert, &new, key.created_at.unwrap_or(now))?;
            if let Some(at) = key.revoked_at {
                rows::execute(
                    conn,
                    "UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?3)
                     WHERE access_key = ?1 AND company_id = ?2",
                    params![key.access_key, company.get(), at.unix()],
                )?;
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
                admin::insert_token(conn, &new, id, token.created_at.unwrap_or(now))?;
            }
            if let Some(at) = token.revoked_at {
                rows::execute(
                    conn,
                    "UPDATE tokens SET revoked_at = coalesce(revoked_at, ?3)
                     WHERE digest = ?1 AND company_id = ?2",
                    params![token.digest.0.as_slice(), company.get(), at.unix()],
                )?;
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
        SeedWrite::Profile(profile) => admin::write_profile(conn, profile),
        SeedWrite::User(user) => admin::write_user(conn, Write::Upsert, user, now),
        SeedWrite::Manager {
            company,
            user,
            manager,
        } => admin::write_manager(conn, *company, *user, *manager),
        SeedWrite::AssignProfile {
            company,
            user,
            profile,
        } => admin::assign_profile(conn, *company, *user, *profile),
        SeedWrite::CallsAccess {
            company,
            user,
            level,
        } => admin::set_calls_access(conn, *company, *user, *level),
        SeedWrite::Call(call) => admin::upsert_call(conn, call),
        SeedWrite::Share {
            company,
            call,
            user,
        } => admin::insert_share(conn, *company, *call, *user, now),
        SeedWrite::ApiGrant {
            company,
            call,
            user,
        } => {
            let grant = params![company.get(), call.get(), user.get(), now.unix()];
            rows::execute(conn, INSERT_GRANT, grant)?;
            Ok(())
        }
    }
}
