//! Applying a seed file: validate against the database, then create or
//! update everything the file names, in the store's one transaction. The
//! rules and messages are the SQLite backend's.

use std::collections::HashMap;

use callaccess_domain::seed::{ExternalReference, ReferenceTarget, Seed, SeedCompany, SeedSummary};
use callaccess_domain::{CompanyId, NewToken, StoreError, Timestamp};
use deadpool_postgres::GenericClient;

use crate::admin;
use crate::error::Fail;
use crate::rows;

/// Applies `seed` or, if it does not fit the database, answers
/// `SeedRejected` with one message per problem; the caller's transaction is
/// then rolled back, so nothing of it stays.
pub(crate) async fn apply(
    db: &impl GenericClient,
    seed: &Seed,
    now: Timestamp,
) -> Result<SeedSummary, Fail> {
    let problems = check(db, seed).await?;
    if !problems.is_empty() {
        return Err(StoreError::SeedRejected(problems).into());
    }
    // `check` resolved every reference the parser listed. Writing still
    // verifies each reference as it goes, so that one the list missed is
    // reported like any other instead of surfacing as a foreign key failure.
    let mut problems = Vec::new();
    for company in &seed.companies {
        write_company(db, company, now, &mut problems).await?;
    }
    if !problems.is_empty() {
        return Err(StoreError::SeedRejected(problems).into());
    }
    Ok(seed.summary())
}

/// Everything that makes the seed not fit, found before anything is written.
async fn check(db: &impl GenericClient, seed: &Seed) -> Result<Vec<String>, Fail> {
    let mut problems = Vec::new();
    for reference in seed.external_references() {
        if !exists(db, &reference).await? {
            problems.push(reference.missing_message());
        }
    }

    // Access keys and tokens are unique across companies. A credential may
    // already be another company's, in the database or earlier in the file.
    let mut key_owners: HashMap<&str, CompanyId> = HashMap::new();
    let mut token_owners: HashMap<[u8; 32], CompanyId> = HashMap::new();
    let key_owner = db
        .prepare_cached("SELECT company_id FROM api_keys WHERE access_key = $1")
        .await?;
    let token_owner = db
        .prepare_cached("SELECT company_id FROM tokens WHERE digest = $1")
        .await?;
    for company in &seed.companies {
        for key in &company.api_keys {
            let owner = match key_owners.get(key.access_key.as_str()) {
                Some(owner) => Some(*owner),
                None => db
                    .query_opt(&key_owner, &[&key.access_key])
                    .await?
                    .map(|row| rows::company_at(&row, 0))
                    .transpose()?,
            };
            if owner.is_some_and(|owner| owner != company.id) {
                problems.push(format!(
                    "{}.accessKey: \"{}\" already belongs to another company",
                    key.path, key.access_key
                ));
            } else {
                key_owners.insert(&key.access_key, company.id);
            }
        }
        for token in &company.tokens {
            let owner = match token_owners.get(&token.digest.0) {
                Some(owner) => Some(*owner),
                None => db
                    .query_opt(&token_owner, &[&token.digest.0.as_slice()])
                    .await?
                    .map(|row| rows::company_at(&row, 0))
                    .transpose()?,
            };
            if owner.is_some_and(|owner| owner != company.id) {
                problems.push(format!(
                    "{}.token: this token already belongs to another company",
                    token.path
                ));
            } else {
                token_owners.insert(token.digest.0, company.id);
            }
        }
    }
    Ok(problems)
}

async fn exists(db: &impl GenericClient, reference: &ExternalReference) -> Result<bool, Fail> {
    Ok(match reference.target {
        ReferenceTarget::User(user) => rows::user_access(db, reference.company, user)
            .await?
            .is_some(),
        ReferenceTarget::Call(call) => rows::call_primary(db, reference.company, call)
            .await?
            .is_some(),
    })
}

/// Records `reference` as a problem unless its target exists (in the
/// database, or written earlier in this transaction).
async fn verify(
    db: &impl GenericClient,
    reference: ExternalReference,
    problems: &mut Vec<String>,
) -> Result<bool, Fail> {
    let found = exists(db, &reference).await?;
    if !found {
        problems.push(reference.missing_message());
    }
    Ok(found)
}

async fn write_company(
    db: &impl GenericClient,
    seed: &SeedCompany,
    now: Timestamp,
    problems: &mut Vec<String>,
) -> Result<(), Fail> {
    let company = seed.id;
    // Creation times and revocations are history, not settings: an update
    // keeps them, so re-applying a seed never revives a revoked key.
    let statement = db
        .prepare_cached(
            "INSERT INTO companies (id, name, per_second_limit, per_day_limit, created_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                 per_second_limit = excluded.per_second_limit,
                 per_day_limit = excluded.per_day_limit",
        )
        .await?;
    db.execute(
        &statement,
        &[
            &company.get(),
            &seed.name,
            &rows::limit_value(seed.rate_limit.per_second),
            &rows::limit_value(seed.rate_limit.per_day),
            &now.unix(),
        ],
    )
    .await?;

    let upsert_key = db
        .prepare_cached(
            "INSERT INTO api_keys (access_key, company_id, secret_digest, scopes, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6)
             ON CONFLICT (access_key) DO UPDATE SET secret_digest = excluded.secret_digest,
                 scopes = excluded.scopes, expires_at = excluded.expires_at
             WHERE api_keys.company_id = excluded.company_id",
        )
        .await?;
    for key in &seed.api_keys {
        // `check` made sure the key is not another company's; the WHERE is
        // a second lock on that door.
        db.execute(
            &upsert_key,
            &[
                &key.access_key,
                &company.get(),
                &key.digest.0.as_slice(),
                &key.scopes.as_deref().map(rows::scopes_value),
                &now.unix(),
                &key.expires_at.map(Timestamp::unix),
            ],
        )
        .await?;
    }

    let update_token = db
        .prepare_cached(
            "UPDATE tokens SET scopes = $3, expires_at = $4 WHERE digest = $1 AND company_id = $2",
        )
        .await?;
    for token in &seed.tokens {
        let updated = db
            .execute(
                &update_token,
                &[
                    &token.digest.0.as_slice(),
                    &company.get(),
                    &rows::scopes_value(&token.scopes),
                    &token.expires_at.map(Timestamp::unix),
                ],
            )
            .await?;
        if updated == 0 {
            admin::create_token(
                db,
                &NewToken {
                    company,
                    digest: token.digest,
                    scopes: token.scopes.clone(),
                    expires_at: token.expires_at,
                },
                now,
            )
            .await?;
        }
    }

    let upsert_user = db
        .prepare_cached(
            "INSERT INTO users (company_id, id, email, calls_access) VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_id, id)
             DO UPDATE SET email = excluded.email, calls_access = excluded.calls_access",
        )
        .await?;
    for user in &seed.users {
        db.execute(
            &upsert_user,
            &[
                &company.get(),
                &user.id.get(),
                &user.email_address,
                &user.calls_access.as_str(),
            ],
        )
        .await?;
    }

    for (index, call) in seed.calls.iter().enumerate() {
        let path = format!("{}.calls[{index}]", seed.path);
        let user_ref = |path: String, user| ExternalReference {
            path,
            company,
            target: ReferenceTarget::User(user),
        };
        let mut complete = verify(
            db,
            user_ref(format!("{path}.primaryUserId"), call.primary_user_id),
            problems,
        )
        .await?;
        for (position, &participant) in call.participant_ids.iter().enumerate() {
            complete &= verify(
                db,
                user_ref(format!("{path}.participantIds[{position}]"), participant),
                problems,
            )
            .await?;
        }
        if complete {
            // The call belongs to the company being written, whatever the
            // parsed value says.
            admin::upsert_call(
                db,
                &callaccess_domain::Call {
                    company,
                    ..call.clone()
                },
            )
            .await?;
        }
    }

    let insert_grant = db
        .prepare_cached(
            "INSERT INTO api_grants (company_id, call_id, user_id, granted_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (company_id, call_id, user_id) DO NOTHING",
        )
        .await?;
    for (links, is_grant) in [(&seed.shares, false), (&seed.api_grants, true)] {
        for link in links {
            let call_ok = verify(
                db,
                ExternalReference {
                    path: format!("{}.callId", link.path),
                    company,
                    target: ReferenceTarget::Call(link.call),
                },
                problems,
            )
            .await?;
            let user_ok = verify(
                db,
                ExternalReference {
                    path: format!("{}.userId", link.path),
                    company,
                    target: ReferenceTarget::User(link.user),
                },
                problems,
            )
            .await?;
            if !(call_ok && user_ok) {
                continue;
            }
            if is_grant {
                // Seed grants are taken as given, even for users who could
                // open the call otherwise: the file states the grant table.
                db.execute(
                    &insert_grant,
                    &[
                        &company.get(),
                        &link.call.get(),
                        &link.user.get(),
                        &now.unix(),
                    ],
                )
                .await?;
            } else {
                admin::insert_share(db, company, link.call, link.user, now).await?;
            }
        }
    }
    Ok(())
}
