//! Admin tokens: the credentials of the admin API (control-plane.md §1).
//!
//! A token reads `caadm_<id>_<secret>`: the id is 16 random hex digits,
//! public (listed, revoked by), the secret 32 random bytes in base64url.
//! Only the SHA-256 of the secret is stored; a presented token is looked up
//! by its id and its secret compared with the digest in constant time
//! ([`crate::secret::verify`]). Admin tokens belong to no company: a reset
//! of the data leaves them.

use std::fmt;

use serde::Serialize;

use crate::model::{SecretDigest, Timestamp};
use crate::secret;

/// What every admin token starts with, so that one pasted in the wrong
/// place (a Gong client's config, a log) is recognisable.
pub const PREFIX: &str = "caadm_";

/// Longest note an operator may attach to a token.
pub const MAX_NOTE_CHARS: usize = 200;

/// The public handle of an admin token: 16 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(transparent)]
pub struct AdminTokenId(String);

impl AdminTokenId {
    /// A fresh random id (64 bits).
    pub fn random() -> Self {
        Self(secret::generate_token_id())
    }

    pub fn parse(text: &str) -> Result<Self, String> {
        if text.len() == 16
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            Ok(Self(text.to_owned()))
        } else {
            Err(format!(
                "{:?} is not an admin token id (16 hex digits, as `callaccess admin-token list` shows)",
                text.chars().take(40).collect::<String>()
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AdminTokenId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An admin token to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAdminToken {
    pub id: AdminTokenId,
    /// SHA-256 of the secret part.
    pub digest: SecretDigest,
    /// May use GET (and HEAD) only.
    pub read_only: bool,
    pub note: Option<String>,
    /// Given by the caller, so that it follows the service's clock.
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
}

/// Public facts about an admin token; the secret is never kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AdminTokenInfo {
    pub id: AdminTokenId,
    pub read_only: bool,
    pub note: Option<String>,
    pub created_at: Timestamp,
    pub expires_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
}

impl AdminTokenInfo {
    /// Whether the token may be used at `now`: not revoked, not expired.
    pub fn usable(&self, now: Timestamp) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|at| now < at)
    }
}

/// What the store keeps of an admin token, for authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredAdminToken {
    pub info: AdminTokenInfo,
    pub digest: SecretDigest,
}

/// A freshly drawn admin token: the text to show once, and what to store.
#[derive(Debug, Clone)]
pub struct IssuedAdminToken {
    pub text: String,
    pub new: NewAdminToken,
}

/// Draws a new admin token.
pub fn issue(
    read_only: bool,
    note: Option<String>,
    created_at: Timestamp,
    expires_at: Option<Timestamp>,
) -> IssuedAdminToken {
    let id = AdminTokenId::random();
    let secret_part = secret::generate_secret();
    IssuedAdminToken {
        text: format!("{PREFIX}{id}_{secret_part}"),
        new: NewAdminToken {
            id,
            digest: secret::digest(&secret_part),
            read_only,
            note,
            created_at,
            expires_at,
        },
    }
}

/// The id and secret of a presented token, or `None` if it is not shaped
/// like an admin token (a Gong token, a typo). The secret's alphabet
/// (base64url) contains `_`, so only the first `_` after the id splits.
pub fn split(text: &str) -> Option<(AdminTokenId, &str)> {
    let rest = text.strip_prefix(PREFIX)?;
    let (id, secret_part) = rest.split_once('_')?;
    let id = AdminTokenId::parse(id).ok()?;
    (!secret_part.is_empty()).then_some((id, secret_part))
}

/// Whether `presented` is the token `stored` describes and may be used at
/// `now`. The secret is compared in constant time; a token of another id
/// never reaches this (it is looked up by id).
pub fn accepts(stored: &StoredAdminToken, secret_part: &str, now: Timestamp) -> bool {
    secret::verify(&stored.digest, secret_part) && stored.info.usable(now)
}

/// A note: trimmed, none when blank, at most [`MAX_NOTE_CHARS`] characters
/// without control characters.
pub fn check_note(note: Option<&str>) -> Result<Option<String>, String> {
    let Some(note) = note.map(str::trim).filter(|n| !n.is_empty()) else {
        return Ok(None);
    };
    if note.chars().count() > MAX_NOTE_CHARS || note.chars().any(char::is_control) {
        return Err(format!(
            "a note must be at most {MAX_NOTE_CHARS} characters without control characters"
        ));
    }
    Ok(Some(note.to_owned()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "test code")]
    use super::*;

    #[test]
    fn an_issued_token_splits_into_its_id_and_verifies() {
        let now = Timestamp::from_unix(1_000);
        let issued = issue(true, None, now, Some(now.plus_seconds(60)));
        assert!(issued.text.starts_with(PREFIX));
        let (id, secret_part) = split(&issued.text).unwrap();
        assert_eq!(id, issued.new.id);
        let stored = StoredAdminToken {
            info: AdminTokenInfo {
                id,
                read_only: true,
                note: None,
                created_at: now,
                expires_at: issued.new.expires_at,
                revoked_at: None,
            },
            digest: issued.new.digest,
        };
        assert!(accepts(&stored, secret_part, now));
        assert!(!accepts(&stored, "wrong", now));
        assert!(!accepts(&stored, secret_part, now.plus_seconds(60)));
        let revoked = StoredAdminToken {
            info: AdminTokenInfo {
                revoked_at: Some(now),
                ..stored.info.clone()
            },
            ..stored
        };
        assert!(!accepts(&revoked, secret_part, now));
    }

    #[test]
    fn only_admin_shaped_tokens_split() {
        for bad in [
            "",
            "caadm_",
            "caadm_0123456789abcdef",
            "caadm_0123456789abcdef_",
            "caadm_0123456789ABCDEF_secret",
            "caadm_0123_secret",
            "abc_0123456789abcdef_secret",
        ] {
            assert!(split(bad).is_none(), "{bad:?}");
        }
        let (id, secret_part) = split("caadm_0123456789abcdef_se_cr-et").unwrap();
        assert_eq!(id.as_str(), "0123456789abcdef");
        assert_eq!(secret_part, "se_cr-et");
    }

    #[test]
    fn notes_are_trimmed_and_bounded() {
        assert_eq!(check_note(None), Ok(None));
        assert_eq!(check_note(Some("  ")), Ok(None));
        assert_eq!(check_note(Some(" ci ")), Ok(Some("ci".to_owned())));
        assert!(check_note(Some(&"x".repeat(201))).is_err());
        assert!(check_note(Some("a\nb")).is_err());
    }
}
