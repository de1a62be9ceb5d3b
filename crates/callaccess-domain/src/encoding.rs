//! How values are written to a database column and read back, the same for
//! every backend: ids are their integer value; rate limits are NULL (server
//! default), 0 (off) or N; scope lists are space-separated text; digests
//! are 32 bytes; a calls access level is its lowercase name; times are unix
//! seconds; a profile's team leads are space-separated ids, ascending.
//!
//! A stored value these functions refuse was not written by callaccess
//! (the database was edited by hand, or is corrupt): the error says what
//! was found, and backends report it as a storage failure, never skip it.

use crate::ids::UserId;
use crate::model::{CallsAccess, Limit, Scope, SecretDigest};

pub fn limit_value(limit: Limit) -> Option<i64> {
    match limit {
        Limit::Default => None,
        // A limit of zero requests would lock the company out; revoking its
        // credentials is the way to do that, so 0 is free to mean "off".
        Limit::Off | Limit::Max(0) => Some(0),
        Limit::Max(n) => Some(i64::from(n)),
    }
}

pub fn limit_from(value: Option<i64>) -> Result<Limit, String> {
    Ok(match value {
        None => Limit::Default,
        Some(0) => Limit::Off,
        Some(n) => Limit::Max(u32::try_from(n).map_err(|_| format!("the rate limit {n}"))?),
    })
}

/// What a limit reads back as once stored.
pub fn stored_limit(limit: Limit) -> Limit {
    match limit {
        Limit::Max(0) => Limit::Off,
        other => other,
    }
}

pub fn scopes_value(scopes: &[Scope]) -> String {
    scopes
        .iter()
        .map(Scope::as_str)
        .collect::<Vec<_>>()
        .join(" ")
}

pub fn scopes_from(text: &str) -> Result<Vec<Scope>, String> {
    text.split_whitespace()
        .map(Scope::parse)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| "a malformed scope list".to_owned())
}

pub fn digest_from(bytes: &[u8]) -> Result<SecretDigest, String> {
    <[u8; 32]>::try_from(bytes)
        .map(SecretDigest)
        .map_err(|_| format!("a digest of {} bytes", bytes.len()))
}

pub fn calls_access_value(level: CallsAccess) -> &'static str {
    level.as_str()
}

pub fn calls_access_from(text: &str) -> Result<CallsAccess, String> {
    text.parse().map_err(|_| format!("{text:?}"))
}

/// A stored id that is not a valid id.
pub fn id_from<T>(value: i64, make: fn(i64) -> Option<T>) -> Result<T, String> {
    make(value).ok_or_else(|| format!("the id {value}"))
}

/// A list of user ids as stored (a profile's team leads): space-separated,
/// ascending, each once; `""` for none.
pub fn user_list_value(users: &[UserId]) -> String {
    let mut ids: Vec<i64> = users.iter().map(|u| u.get()).collect();
    ids.sort_unstable();
    ids.dedup();
    ids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads back [`user_list_value`].
pub fn user_list_from(text: &str) -> Result<Vec<UserId>, String> {
    text.split_whitespace()
        .map(|id| {
            id.parse::<i64>()
                .ok()
                .and_then(UserId::from_i64)
                .ok_or_else(|| format!("the id list {text:?}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn values_read_back_as_written() {
        for limit in [Limit::Default, Limit::Off, Limit::Max(7), Limit::Max(0)] {
            assert_eq!(limit_from(limit_value(limit)).unwrap(), stored_limit(limit));
        }
        assert!(limit_from(Some(-1)).is_err());
        let scopes = vec![Scope::parse("a:b").unwrap(), Scope::parse("c").unwrap()];
        assert_eq!(scopes_from(&scopes_value(&scopes)).unwrap(), scopes);
        assert!(digest_from(&[0; 31]).is_err());
        for level in [CallsAccess::All, CallsAccess::Own, CallsAccess::None] {
            assert_eq!(calls_access_from(calls_access_value(level)).unwrap(), level);
        }
        assert_eq!(calls_access_from("most").unwrap_err(), "\"most\"");
    }

    #[test]
    fn user_lists_are_sorted_once_each_and_read_back() {
        let u = |n| UserId::from_i64(n).unwrap();
        assert_eq!(user_list_value(&[u(3), u(1), u(3)]), "1 3");
        assert_eq!(user_list_value(&[]), "");
        assert_eq!(user_list_from("1 3").unwrap(), vec![u(1), u(3)]);
        assert_eq!(user_list_from("").unwrap(), vec![]);
        assert!(user_list_from("1 x").is_err());
        assert!(user_list_from("0").is_err());
    }
}
