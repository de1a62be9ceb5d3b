//! Applying a seed file: [`callaccess_domain::seed::plan`] decides, over the
//! facts fetched for [`callaccess_domain::seed::needs`] in one round trip,
//! what to write and in what order; this module executes each write, in the
//! store's one transaction.

use crate::tally::Db;
use callaccess_domain::seed::{self, Seed, SeedSummary, SeedWrite};
use callaccess_domain::{encoding, NewApiKey, NewToken, Timestamp};
use tokio_postgres::types::ToSql;

use crate::error::Fail;
use crate::{access, admin, rows};

/// Applies `seed`, or answers `SeedRejected` if it does not fit the
/// database; the caller's transaction is then rolled back, so nothing of it
/// stays.
pub(crate) async fn apply(db: &impl Db, seed: &Seed, now: Timestamp) -> Result<SeedSummary, Fail> {
    let known = admin::fetch_known(db, &seed::needs(seed)).await?;
    for write in seed::plan(seed, &known)? {
        execute(db, write, now).await?;
    }
    // A seed may change keys, tokens and company limits; nodes check the
    // credentials they kept once more rather than each write saying so.
    crate::store::credentials_changed(db).await?;
    Ok(seed.summary())
}

async fn execute(db: &impl Db, write: SeedWrite, now: Timestamp) -> Result<(), Fail> {
    match write {
        SeedWrite::Company {
            id,
            name,
            rate_limit,
        } => admin::write_company(db, id, &name, rate_limit, now).await,
        SeedWrite::ApiKey { company, key } => {
            let key = NewApiKey {
                access_key: key.access_key,
                company,
                digest: key.digest,
                scopes: key.scopes,
                expires_at: key.expires_at,
            };
            admin::write_api_key(db, &key, now).await?;
            Ok(())
        }
        SeedWrite::Token { company, id, token } => {
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
            if rows::execute(db, sql, &params).await? == 0 {
                admin::insert_token(db, &id, &token, now).await?;
            }
            Ok(())
        }
        SeedWrite::User(user) => admin::write_user(db, &user).await,
        SeedWrite::Call(call) => admin::write_call(db, &call).await,
        SeedWrite::Share {
            company,
            call,
            user,
        } => admin::insert_share(db, company, call, user, now).await,
        SeedWrite::ApiGrant {
            company,
            call,
            user,
        } => access::record(db, company, &[(call, user)], now).await,
    }
}
