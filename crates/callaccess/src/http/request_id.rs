//! Request ids and the per-request context.
//!
//! A request id is 19 characters of `[0-9a-z]`: the base-36 rendering of a
//! 96-bit value made of the time in milliseconds (48 bits, so ids sort
//! roughly by time) and 48 random bits. Two nodes, or two restarts, would
//! have to draw the same 48 random bits in the same millisecond to collide.

use std::fmt;
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use callaccess_domain::CompanyId;
use rand::Rng;

/// 36^19 > 2^96, so every 96-bit value fits in 19 base-36 digits.
const LEN: usize = 19;
const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct RequestId([u8; LEN]);

impl RequestId {
    pub fn generate() -> Self {
        let millis = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis())
            .unwrap_or(0);
        let random: u64 = rand::rng().random::<u64>() & 0xffff_ffff_ffff;
        Self::from_value(((millis & 0xffff_ffff_ffff) << 48) | u128::from(random))
    }

    fn from_value(mut value: u128) -> Self {
        let mut out = [b'0'; LEN];
        for slot in out.iter_mut().rev() {
            *slot = DIGITS[(value % 36) as usize];
            value /= 36;
        }
        Self(out)
    }

    pub fn as_str(&self) -> &str {
        // Every byte comes from DIGITS, which is ASCII.
        std::str::from_utf8(&self.0).unwrap_or("0000000000000000000")
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the edge learns about a request while handling it, shared between the
/// request-id middleware (which logs) and the extractors (which fill it in).
#[derive(Debug)]
pub struct RequestContext {
    pub id: RequestId,
    /// Set once the caller is authenticated, for the request's log line.
    pub company: OnceLock<CompanyId>,
    /// The credential that authenticated the request, once known (never
    /// its secret): for the request journal and fault rules.
    pub credential: OnceLock<CredentialId>,
    /// The fault rule that applied to the request, if one did.
    pub fault: OnceLock<String>,
}

/// Which credential a request used, by the name that is safe to show: the
/// access key of an API key, the id of a bearer token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialId {
    ApiKey(String),
    Token(String),
}

impl CredentialId {
    /// The credential as the audit trail names who made a change.
    pub fn actor(&self) -> callaccess_domain::Actor {
        match self {
            Self::ApiKey(key) => callaccess_domain::Actor::ApiKey(key.clone()),
            Self::Token(id) => callaccess_domain::Actor::Token(id.clone()),
        }
    }
}

impl fmt::Display for CredentialId {
    /// `apiKey:<accessKey>` or `token:<id>`, as the audit trail names actors.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ApiKey(key) => write!(f, "apiKey:{key}"),
            Self::Token(id) => write!(f, "token:{id}"),
        }
    }
}

impl RequestContext {
    pub fn new() -> Self {
        Self {
            id: RequestId::generate(),
            company: OnceLock::new(),
            credential: OnceLock::new(),
            fault: OnceLock::new(),
        }
    }
}

impl Default for RequestContext {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn ids_are_nineteen_base36_characters() {
        for _ in 0..1000 {
            let id = RequestId::generate();
            assert_eq!(id.as_str().len(), 19);
            assert!(id
                .as_str()
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase()));
        }
    }

    #[test]
    fn the_largest_value_fits() {
        let max = RequestId::from_value((1u128 << 96) - 1);
        assert_eq!(max.as_str().len(), 19);
        assert_ne!(max.as_str().as_bytes()[0], b'0');
        assert_eq!(RequestId::from_value(35).as_str(), "000000000000000000z");
    }

    #[test]
    fn ids_do_not_repeat() {
        let ids: HashSet<_> = (0..100_000).map(|_| RequestId::generate()).collect();
        assert_eq!(ids.len(), 100_000);
    }
}
