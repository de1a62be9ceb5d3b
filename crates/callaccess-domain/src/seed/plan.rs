//! Applying a seed, decided once: what must hold against the database,
//! and the writes that apply it, in order. A backend fetches the facts
//! ([`needs`] says which), asks for the [`plan`], and executes each
//! [`SeedWrite`] in one transaction.

use std::collections::{HashMap, HashSet};

use super::{ExternalReference, ReferenceTarget, Seed, SeedApiKey, SeedToken};
use crate::admin::{Directory, Needs};
use crate::ids::{CallId, CompanyId, UserId};
use crate::model::{Call, RateLimit, User};
use crate::secret::generate_token_id;
use crate::store::StoreError;

/// One write of a seed. Every write creates or updates; none deletes.
/// Creation times and revocations are history, not settings: an update
/// keeps them, so re-applying a seed never revives a revoked key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SeedWrite {
    /// Create the company, or update its name and limits.
    Company {
        id: CompanyId,
        name: String,
        rate_limit: RateLimit,
    },
    /// Create the key, or update its secret, scopes and expiry. The plan
    /// made sure the key is not another company's.
    ApiKey { company: CompanyId, key: SeedApiKey },
    /// Create the token (with handle `id`), or update its scopes and expiry.
    Token {
        company: CompanyId,
        id: String,
        token: SeedToken,
    },
    /// Create the user, or update their email and profile level.
    User(User),
    /// Create the call, or update it; its participants become exactly these.
    Call(Call),
    /// Record the share unless it exists.
    Share {
        company: CompanyId,
        call: CallId,
        user: UserId,
    },
    /// Record the grant unless it exists. Seed grants are taken as given,
    /// even for users who could open the call otherwise: the file states
    /// the grant table.
    ApiGrant {
        company: CompanyId,
        call: CallId,
        user: UserId,
    },
}

/// Everything [`plan`] asks the directory about.
pub fn needs(seed: &Seed) -> Needs {
    let mut needs = Needs::default();
    for reference in seed.external_references() {
        match reference.target {
            ReferenceTarget::User(user) => needs.users.push((reference.company, user)),
            ReferenceTarget::Call(call) => needs.calls.push((reference.company, call)),
        }
    }
    for company in &seed.companies {
        needs
            .keys
            .extend(company.api_keys.iter().map(|key| key.access_key.clone()));
        needs
            .token_digests
            .extend(company.tokens.iter().map(|token| token.digest));
    }
    needs
}

/// The writes that apply `seed`, or `SeedRejected` with one message per
/// problem (each starting with its JSON path) if it does not fit the
/// database. Nothing is to be written unless the whole plan is returned.
pub fn plan(seed: &Seed, d: &impl Directory) -> Result<Vec<SeedWrite>, StoreError> {
    let mut problems = Vec::new();
    for reference in seed.external_references() {
        if !exists(d, &reference, &Written::default())? {
            problems.push(reference.missing_message());
        }
    }
    credential_owners(seed, d, &mut problems)?;
    if !problems.is_empty() {
        return Err(StoreError::SeedRejected(problems));
    }

    // The parser listed every reference the file leaves to the database,
    // and all were found. Each reference is still verified as its write is
    // planned — against the database and what the plan wrote before it —
    // so that one the list missed is reported like any other.
    let mut writes = Vec::new();
    let mut written = Written::default();
    for seed in &seed.companies {
        let company = seed.id;
        writes.push(SeedWrite::Company {
            id: company,
            name: seed.name.clone(),
            rate_limit: seed.rate_limit,
        });
        writes.extend(seed.api_keys.iter().map(|key| SeedWrite::ApiKey {
            company,
            key: key.clone(),
        }));
        writes.extend(seed.tokens.iter().map(|token| SeedWrite::Token {
            company,
            id: generate_token_id(),
            token: token.clone(),
        }));
        for user in &seed.users {
            written.users.insert((company, user.id));
            writes.push(SeedWrite::User(User {
                company,
                ..user.clone()
            }));
        }
        for (index, call) in seed.calls.iter().enumerate() {
            let path = format!("{}.calls[{index}]", seed.path);
            let user_ref = |path: String, user| ExternalReference {
                path,
                company,
                target: ReferenceTarget::User(user),
            };
            let mut complete = verify(
                d,
                user_ref(format!("{path}.primaryUserId"), call.primary_user_id),
                &written,
                &mut problems,
            )?;
            for (position, &participant) in call.participant_ids.iter().enumerate() {
                complete &= verify(
                    d,
                    user_ref(format!("{path}.participantIds[{position}]"), participant),
                    &written,
                    &mut problems,
                )?;
            }
            if complete {
                written.calls.insert((company, call.id));
                // The call belongs to the company being written, whatever
                // the parsed value says.
                writes.push(SeedWrite::Call(Call {
                    company,
                    ..call.clone()
                }));
            }
        }
        for (links, is_grant) in [(&seed.shares, false), (&seed.api_grants, true)] {
            for link in links {
                let mut check = |field: &str, target| {
                    let path = format!("{}.{field}", link.path);
                    let reference = ExternalReference {
                        path,
                        company,
                        target,
                    };
                    verify(d, reference, &written, &mut problems)
                };
                let call_ok = check("callId", ReferenceTarget::Call(link.call))?;
                let user_ok = check("userId", ReferenceTarget::User(link.user))?;
                if !(call_ok && user_ok) {
                    continue;
                }
                let (call, user) = (link.call, link.user);
                writes.push(if is_grant {
                    SeedWrite::ApiGrant {
                        company,
                        call,
                        user,
                    }
                } else {
                    SeedWrite::Share {
                        company,
                        call,
                        user,
                    }
                });
            }
        }
    }
    if !problems.is_empty() {
        return Err(StoreError::SeedRejected(problems));
    }
    Ok(writes)
}

/// What the plan writes before a later write refers to it.
#[derive(Default)]
struct Written {
    users: HashSet<(CompanyId, UserId)>,
    calls: HashSet<(CompanyId, CallId)>,
}

fn exists(
    d: &impl Directory,
    reference: &ExternalReference,
    written: &Written,
) -> Result<bool, StoreError> {
    let company = reference.company;
    Ok(match reference.target {
        ReferenceTarget::User(user) => {
            written.users.contains(&(company, user)) || d.user_exists(company, user)?
        }
        ReferenceTarget::Call(call) => {
            written.calls.contains(&(company, call)) || d.call_exists(company, call)?
        }
    })
}

/// Records `reference` as a problem unless its target exists.
fn verify(
    d: &impl Directory,
    reference: ExternalReference,
    written: &Written,
    problems: &mut Vec<String>,
) -> Result<bool, StoreError> {
    let found = exists(d, &reference, written)?;
    if !found {
        problems.push(reference.missing_message());
    }
    Ok(found)
}

/// Access keys and tokens are unique across companies. A credential may
/// already be another company's, in the database or earlier in the file.
fn credential_owners(
    seed: &Seed,
    d: &impl Directory,
    problems: &mut Vec<String>,
) -> Result<(), StoreError> {
    let mut key_owners: HashMap<&str, CompanyId> = HashMap::new();
    let mut token_owners = HashMap::new();
    for company in &seed.companies {
        for key in &company.api_keys {
            let owner = match key_owners.get(key.access_key.as_str()) {
                Some(owner) => Some(*owner),
                None => d.key_owner(&key.access_key)?,
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
            let owner = match token_owners.get(&token.digest) {
                Some(owner) => Some(*owner),
                None => d.token_owner(&token.digest)?,
            };
            if owner.is_some_and(|owner| owner != company.id) {
                problems.push(format!(
                    "{}.token: this token already belongs to another company",
                    token.path
                ));
            } else {
                token_owners.insert(token.digest, company.id);
            }
        }
    }
    Ok(())
}
