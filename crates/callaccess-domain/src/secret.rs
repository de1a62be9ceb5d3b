//! Credentials: generation, digests and constant-time checks.
//!
//! Secrets are shown once and kept only as SHA-256 digests. A secret has 256
//! bits of entropy, so a plain (unsalted) digest is as strong as a password
//! hash would be, and it lets the store look a bearer token up by digest.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::Rng;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::model::SecretDigest;

/// Alphabet of access keys: upper-case letters and digits without look-alikes.
const KEY_ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";

/// A fresh access key: 24 characters (120 bits), never containing `:`.
pub fn generate_access_key() -> String {
    let mut rng = rand::rng();
    (0..24)
        .map(|_| char::from(KEY_ALPHABET[rng.random_range(0..KEY_ALPHABET.len())]))
        .collect()
}

/// A fresh secret (API key secret or bearer token): 32 random bytes, base64url.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn digest(secret: &str) -> SecretDigest {
    SecretDigest(Sha256::digest(secret.as_bytes()).into())
}

/// Whether `presented` hashes to `expected`, compared in constant time.
pub fn verify(expected: &SecretDigest, presented: &str) -> bool {
    digest(presented).0.ct_eq(&expected.0).into()
}

/// A fresh public handle for a bearer token: 8 random bytes in hex.
///
/// Random, not derived from the token: a handle is listed to anyone who
/// may list tokens, and one derived from the digest would let them check
/// guesses of a weak (seeded) token offline.
pub fn generate_token_id() -> String {
    let mut bytes = [0u8; 8];
    rand::rng().fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `id` may name a token: 1–64 ASCII letters, digits, `-` or `_`
/// (generated ids are 16 hex digits; a seed or an export may give its own).
pub fn is_token_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// An access key is 1–128 printable ASCII characters without `:` (Basic auth
/// splits on the first colon).
pub fn check_access_key(key: &str) -> Result<(), String> {
    if key.is_empty() || key.len() > 128 || !key.bytes().all(|b| b.is_ascii_graphic() && b != b':')
    {
        return Err(format!(
            "{key:?} is not an access key (1-128 printable characters, no ':' or spaces)"
        ));
    }
    Ok(())
}

/// Secrets given by an operator (seed files) must be long enough to matter.
pub fn check_secret(secret: &str) -> Result<(), String> {
    if secret.len() < 16 || secret.len() > 512 || !secret.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be 16-512 printable characters without spaces".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_credentials_are_distinct_and_well_formed() {
        let a = generate_access_key();
        let b = generate_access_key();
        assert_ne!(a, b);
        assert!(check_access_key(&a).is_ok());
        let s = generate_secret();
        assert_eq!(s.len(), 43);
        assert!(check_secret(&s).is_ok());
        assert_ne!(s, generate_secret());
    }

    #[test]
    fn verify_accepts_only_the_secret() {
        let d = digest("correct horse battery staple");
        assert!(verify(&d, "correct horse battery staple"));
        assert!(!verify(&d, "correct horse battery stapler"));
        assert!(!verify(&d, ""));
    }

    #[test]
    fn token_ids_are_random_hex() {
        let id = generate_token_id();
        assert_eq!(id.len(), 16);
        assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(id, generate_token_id());
    }
}
