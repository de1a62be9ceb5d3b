//! What an admin change must satisfy, checked in a fixed order before the
//! backend writes it: the existence and duplicate checks of companies,
//! credentials, users, calls and shares. The messages are
//! [`StoreError`]'s. A backend answers [`Directory`] — SQLite from its
//! connection, PostgreSQL from what it fetched in one round trip
//! ([`Known`], filled for [`Needs`]) — and writes only once the check
//! passed, in the same transaction.

use std::collections::{HashMap, HashSet};

use crate::ids::{CallId, CompanyId, UserId};
use crate::model::{Call, NewApiKey, NewCompany, NewToken, SecretDigest, User};
use crate::store::StoreError;

/// What the admin checks (and seeds) need to know of the stored data.
pub trait Directory {
    fn company_exists(&self, company: CompanyId) -> Result<bool, StoreError>;
    fn user_exists(&self, company: CompanyId, user: UserId) -> Result<bool, StoreError>;
    fn call_exists(&self, company: CompanyId, call: CallId) -> Result<bool, StoreError>;
    /// The company an access key belongs to, if it exists.
    fn key_owner(&self, access_key: &str) -> Result<Option<CompanyId>, StoreError>;
    /// The company a token belongs to, by its digest, if it exists.
    fn token_owner(&self, digest: &SecretDigest) -> Result<Option<CompanyId>, StoreError>;
    /// Whether a token with this handle exists.
    fn token_id_taken(&self, id: &str) -> Result<bool, StoreError>;
}

fn company_must_exist(d: &impl Directory, company: CompanyId) -> Result<(), StoreError> {
    if d.company_exists(company)? {
        Ok(())
    } else {
        Err(StoreError::NoCompany(company))
    }
}

pub fn create_company(d: &impl Directory, new: &NewCompany) -> Result<(), StoreError> {
    if d.company_exists(new.id)? {
        return Err(StoreError::CompanyExists(new.id));
    }
    Ok(())
}

pub fn create_api_key(d: &impl Directory, key: &NewApiKey) -> Result<(), StoreError> {
    company_must_exist(d, key.company)?;
    if d.key_owner(&key.access_key)?.is_some() {
        return Err(StoreError::KeyExists(key.access_key.clone()));
    }
    Ok(())
}

/// Whether the token may be created under the handle `id` (drawn by
/// [`crate::secret::generate_token_id`]): its company exists, and neither
/// the handle nor the token is taken. A clash of 64-bit random handles is
/// not expected in practice; it is refused like a clash of tokens.
pub fn create_token(d: &impl Directory, token: &NewToken, id: &str) -> Result<(), StoreError> {
    company_must_exist(d, token.company)?;
    if d.token_id_taken(id)? || d.token_owner(&token.digest)?.is_some() {
        return Err(StoreError::TokenExists);
    }
    Ok(())
}

pub fn add_user(d: &impl Directory, user: &User) -> Result<(), StoreError> {
    company_must_exist(d, user.company)?;
    if d.user_exists(user.company, user.id)? {
        return Err(StoreError::UserExists {
            company: user.company,
            user: user.id,
        });
    }
    Ok(())
}

/// The company first, then the primary user, then each participant in
/// order, then that the call is new.
pub fn add_call(d: &impl Directory, call: &Call) -> Result<(), StoreError> {
    let company = call.company;
    company_must_exist(d, company)?;
    if !d.user_exists(company, call.primary_user_id)? {
        return Err(StoreError::NoPrimaryUser {
            company,
            user: call.primary_user_id,
        });
    }
    for &user in &call.participant_ids {
        if !d.user_exists(company, user)? {
            return Err(StoreError::NoParticipant { company, user });
        }
    }
    if d.call_exists(company, call.id)? {
        return Err(StoreError::CallExists {
            company,
            call: call.id,
        });
    }
    Ok(())
}

/// The call first, then the user.
pub fn add_share(
    d: &impl Directory,
    company: CompanyId,
    call: CallId,
    user: UserId,
) -> Result<(), StoreError> {
    if !d.call_exists(company, call)? {
        return Err(StoreError::NoCall { company, call });
    }
    if !d.user_exists(company, user)? {
        return Err(StoreError::NoUser { company, user });
    }
    Ok(())
}

/// The stored facts a check is about, for a backend that fetches them all
/// at once before checking.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    pub companies: Vec<CompanyId>,
    pub users: Vec<(CompanyId, UserId)>,
    pub calls: Vec<(CompanyId, CallId)>,
    pub keys: Vec<String>,
    pub token_digests: Vec<SecretDigest>,
    pub token_ids: Vec<String>,
}

impl Needs {
    pub fn create_company(new: &NewCompany) -> Self {
        Self {
            companies: vec![new.id],
            ..Self::default()
        }
    }

    pub fn create_api_key(key: &NewApiKey) -> Self {
        Self {
            companies: vec![key.company],
            keys: vec![key.access_key.clone()],
            ..Self::default()
        }
    }

    pub fn create_token(token: &NewToken, id: &str) -> Self {
        Self {
            companies: vec![token.company],
            token_digests: vec![token.digest],
            token_ids: vec![id.to_owned()],
            ..Self::default()
        }
    }

    pub fn add_user(user: &User) -> Self {
        Self {
            companies: vec![user.company],
            users: vec![(user.company, user.id)],
            ..Self::default()
        }
    }

    pub fn add_call(call: &Call) -> Self {
        Self {
            companies: vec![call.company],
            users: call
                .participant_ids
                .iter()
                .chain([&call.primary_user_id])
                .map(|user| (call.company, *user))
                .collect(),
            calls: vec![(call.company, call.id)],
            ..Self::default()
        }
    }

    pub fn add_share(company: CompanyId, call: CallId, user: UserId) -> Self {
        Self {
            users: vec![(company, user)],
            calls: vec![(company, call)],
            ..Self::default()
        }
    }
}

/// Facts fetched for [`Needs`]; what was not fetched reads as absent.
#[derive(Debug, Clone, Default)]
pub struct Known {
    companies: HashSet<CompanyId>,
    users: HashSet<(CompanyId, UserId)>,
    calls: HashSet<(CompanyId, CallId)>,
    key_owners: HashMap<String, CompanyId>,
    token_owners: HashMap<SecretDigest, CompanyId>,
    token_ids: HashSet<String>,
}

impl Known {
    pub fn company(&mut self, company: CompanyId) {
        self.companies.insert(company);
    }
    pub fn user(&mut self, company: CompanyId, user: UserId) {
        self.users.insert((company, user));
    }
    pub fn call(&mut self, company: CompanyId, call: CallId) {
        self.calls.insert((company, call));
    }
    pub fn key(&mut self, access_key: String, owner: CompanyId) {
        self.key_owners.insert(access_key, owner);
    }
    pub fn token(&mut self, digest: SecretDigest, id: String, owner: CompanyId) {
        self.token_owners.insert(digest, owner);
        self.token_ids.insert(id);
    }
}

impl Directory for Known {
    fn company_exists(&self, company: CompanyId) -> Result<bool, StoreError> {
        Ok(self.companies.contains(&company))
    }
    fn user_exists(&self, company: CompanyId, user: UserId) -> Result<bool, StoreError> {
        Ok(self.users.contains(&(company, user)))
    }
    fn call_exists(&self, company: CompanyId, call: CallId) -> Result<bool, StoreError> {
        Ok(self.calls.contains(&(company, call)))
    }
    fn key_owner(&self, access_key: &str) -> Result<Option<CompanyId>, StoreError> {
        Ok(self.key_owners.get(access_key).copied())
    }
    fn token_owner(&self, digest: &SecretDigest) -> Result<Option<CompanyId>, StoreError> {
        Ok(self.token_owners.get(digest).copied())
    }
    fn token_id_taken(&self, id: &str) -> Result<bool, StoreError> {
        Ok(self.token_ids.contains(id))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;
    use crate::model::CallsAccess;

    fn c(n: i64) -> CompanyId {
        CompanyId::from_i64(n).unwrap()
    }
    fn u(n: i64) -> UserId {
        UserId::from_i64(n).unwrap()
    }

    #[test]
    fn a_call_checks_company_primary_participants_then_itself() {
        let call = Call {
            company: c(1),
            id: CallId::from_i64(5).unwrap(),
            title: None,
            primary_user_id: u(1),
            participant_ids: vec![u(2), u(3)],
        };
        let mut known = Known::default();
        assert_eq!(add_call(&known, &call), Err(StoreError::NoCompany(c(1))));
        known.company(c(1));
        assert_eq!(
            add_call(&known, &call),
            Err(StoreError::NoPrimaryUser {
                company: c(1),
                user: u(1)
            })
        );
        known.user(c(1), u(1));
        known.user(c(1), u(3));
        assert_eq!(
            add_call(&known, &call),
            Err(StoreError::NoParticipant {
                company: c(1),
                user: u(2)
            })
        );
        known.user(c(1), u(2));
        assert_eq!(add_call(&known, &call), Ok(()));
        known.call(c(1), call.id);
        assert_eq!(
            add_call(&known, &call),
            Err(StoreError::CallExists {
                company: c(1),
                call: call.id
            })
        );
        assert_eq!(
            StoreError::NoParticipant {
                company: c(1),
                user: u(2)
            }
            .to_string(),
            "participant \"2\" does not exist in company \"1\""
        );
    }

    #[test]
    fn users_need_their_company_and_are_unique() {
        let user = User {
            company: c(1),
            id: u(1),
            email_address: "a@example.com".to_owned(),
            calls_access: CallsAccess::None,
        };
        let mut known = Known::default();
        assert_eq!(add_user(&known, &user), Err(StoreError::NoCompany(c(1))));
        known.company(c(1));
        assert_eq!(add_user(&known, &user), Ok(()));
        known.user(c(1), u(1));
        assert_eq!(
            add_user(&known, &user).unwrap_err().to_string(),
            "user \"1\" already exists in company \"1\""
        );
        assert_eq!(Needs::add_user(&user).users, vec![(c(1), u(1))]);
    }
}
