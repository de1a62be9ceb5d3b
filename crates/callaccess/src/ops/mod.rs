//! The operations the CLI and the admin API share: each check an admin
//! change makes before the store's own (a blank name, an email address, an
//! expiry, the company that must exist), written once and worded once,
//! then the store call. The CLI (`crate::admin`) prints what an operation
//! answers; the admin API (`crate::http::admin`) answers it as JSON.
//!
//! Every error is a [`StoreError`]: the store's own, or
//! [`StoreError::Invalid`] for a value the operation refused. So both
//! callers map errors by kind (exit status, HTTP status) and show the same
//! message.
//!
//! - [`admin_tokens`]: admin tokens (create, list, revoke).
//! - [`directory`]: companies, workspaces, users, calls, shares, profiles,
//!   API keys and bearer tokens.
//! - [`explain`]: why a user can open a call, with who granted it.
//! - [`find`]: what the console looks up by what an operator knows: calls
//!   by title, id or host, a user by id or email, a user's profiles and
//!   manager chain.

pub mod admin_tokens;
pub mod directory;
pub mod explain;
pub mod find;

use callaccess_domain::{Company, CompanyId, Store, StoreError, Timestamp};

/// A refused value, as the store would name a bad argument.
pub fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::Invalid(message.into())
}

/// The company, or `NoCompany`: listing or changing the entities of a
/// company that does not exist would otherwise answer with an empty list or
/// a less direct message.
pub async fn require_company(store: &dyn Store, id: CompanyId) -> Result<Company, StoreError> {
    store
        .companies()
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(StoreError::NoCompany(id))
}

/// [`require_company`] for a listing that may be of every company.
pub async fn require_any_company(
    store: &dyn Store,
    id: Option<CompanyId>,
) -> Result<(), StoreError> {
    if let Some(id) = id {
        require_company(store, id).await?;
    }
    Ok(())
}

/// An expiry: an RFC 3339 time, or a duration from `now` such as `90d`;
/// it must be later than `now`.
pub fn parse_expiry(text: &str, now: Timestamp) -> Result<Timestamp, StoreError> {
    let at = match Timestamp::parse_rfc3339(text) {
        Ok(at) => at,
        Err(_) => {
            let duration = humantime::parse_duration(text).map_err(|_| {
                invalid(format!(
                    "{text:?} is not an expiry (use an RFC 3339 time such as \
                     2030-01-01T00:00:00Z or a duration such as 90d or 12h)"
                ))
            })?;
            let seconds = i64::try_from(duration.as_secs())
                .map_err(|_| invalid(format!("{text:?} is too far in the future")))?;
            now.plus_seconds(seconds)
        }
    };
    if at <= now {
        return Err(invalid(format!(
            "{text:?} is not in the future; an expiry must be a later time"
        )));
    }
    Ok(at)
}

/// Before a key or token is created: its company must exist and its
/// expiry must read as a later time.
pub async fn check_new_credential(
    store: &dyn Store,
    company: CompanyId,
    expires: Option<&str>,
    now: Timestamp,
) -> Result<Option<Timestamp>, StoreError> {
    require_company(store, company).await?;
    expires.map(|e| parse_expiry(e, now)).transpose()
}

/// A name that must not be blank (`what`: "a company name"), trimmed.
pub fn required_name(name: &str, what: &str) -> Result<String, StoreError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(invalid(format!("{what} must not be empty")));
    }
    Ok(name.to_owned())
}

/// Optional free text: `None` when absent or blank.
pub fn blank_is_none(text: Option<String>) -> Option<String> {
    text.filter(|t| !t.trim().is_empty())
}

/// Whether a credential may be used at `now`, in words: revocation
/// first, then expiry.
pub fn credential_status(
    revoked_at: Option<Timestamp>,
    expires_at: Option<Timestamp>,
    now: Timestamp,
) -> String {
    match (revoked_at, expires_at) {
        (Some(at), _) => format!("revoked {at}"),
        (None, Some(at)) if at <= now => "expired".to_owned(),
        _ => "active".to_owned(),
    }
}

pub fn check_email(email: &str) -> Result<(), StoreError> {
    if email.trim().is_empty() || !email.contains('@') || email.chars().any(char::is_whitespace) {
        return Err(invalid(format!("{email:?} is not an email address")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn expiry_accepts_times_and_durations() {
        let now = at("2025-01-01T00:00:00Z");
        assert_eq!(
            parse_expiry("2030-01-01T00:00:00Z", now).unwrap(),
            at("2030-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_expiry("90d", now).unwrap(),
            now.plus_seconds(90 * 86_400)
        );
        assert_eq!(
            parse_expiry("12h", now).unwrap(),
            now.plus_seconds(12 * 3_600)
        );
    }

    #[test]
    fn expiry_refuses_the_past_and_nonsense() {
        let now = at("2025-01-01T00:00:00Z");
        let past = parse_expiry("2020-01-01T00:00:00Z", now)
            .unwrap_err()
            .to_string();
        assert_eq!(
            past,
            "\"2020-01-01T00:00:00Z\" is not in the future; an expiry must be a later time"
        );
        assert!(parse_expiry("0s", now).is_err());
        let nonsense = parse_expiry("tomorrow", now).unwrap_err().to_string();
        assert!(
            nonsense.starts_with("\"tomorrow\" is not an expiry"),
            "{nonsense}"
        );
    }

    #[test]
    fn names_and_emails_are_checked() {
        assert_eq!(
            required_name("  ", "a company name")
                .unwrap_err()
                .to_string(),
            "a company name must not be empty"
        );
        assert_eq!(required_name(" Acme ", "x").unwrap(), "Acme");
        assert!(check_email("a@b.test").is_ok());
        assert_eq!(
            check_email("nobody").unwrap_err().to_string(),
            "\"nobody\" is not an email address"
        );
    }
}
