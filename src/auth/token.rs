//! SCIM bearer tokens. `scimgate_` + 64 hex characters (256 random bits): the prefix lets
//! secret scanners and humans recognise a leaked token. Only the SHA-256 is stored.

use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

pub const TOKEN_PREFIX: &str = "scimgate_";

/// Application keys (the read API and event feed): a prefix of their own, so neither kind
/// of secret can pass for the other and a leaked one says what it opens.
pub const APP_KEY_PREFIX: &str = "sgapp_";

pub struct NewToken {
    /// Shown once to whoever created it, never stored.
    pub secret: String,
    pub hash: String,
    pub hint: String,
}

pub fn generate() -> NewToken {
    generate_with(TOKEN_PREFIX)
}

/// A random secret under `prefix`: 256 bits as hex.
pub fn generate_with(prefix: &str) -> NewToken {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let secret = format!("{prefix}{}", hex::encode(bytes));
    let hint = format!("{}…", &secret[..prefix.len() + 6]);
    NewToken {
        hash: hash(&secret),
        secret,
        hint,
    }
}

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Constant-time equality of two hex digests.
pub fn hashes_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// The token in an `Authorization` header: `Bearer <t>` (scheme case-insensitive), or the
/// bare token, which some Okta "HTTP Header" set-ups send exactly as pasted.
pub fn from_authorization(header: &str) -> Option<&str> {
    let h = header.trim();
    let t = match h.split_once(' ') {
        Some((scheme, rest)) if scheme.eq_ignore_ascii_case("bearer") => rest.trim(),
        Some(_) => return None,
        None if h.eq_ignore_ascii_case("bearer") => return None,
        None => h,
    };
    (!t.is_empty()).then_some(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_prefixed_and_hashed() {
        let a = generate();
        let b = generate();
        assert_ne!(a.secret, b.secret);
        assert!(a.secret.starts_with(TOKEN_PREFIX));
        assert_eq!(a.secret.len(), TOKEN_PREFIX.len() + 64);
        assert_eq!(a.hash, hash(&a.secret));
        assert!(!a.hint.contains(&a.secret[TOKEN_PREFIX.len() + 6..]));
        assert!(hashes_equal(&a.hash, &hash(&a.secret)));
        assert!(!hashes_equal(&a.hash, &b.hash));
    }

    #[test]
    fn authorization_forms() {
        assert_eq!(from_authorization("Bearer abc"), Some("abc"));
        assert_eq!(from_authorization("bearer  abc "), Some("abc"));
        assert_eq!(from_authorization("abc"), Some("abc"));
        assert_eq!(from_authorization("Basic abc"), None);
        assert_eq!(from_authorization(""), None);
        assert_eq!(from_authorization("Bearer "), None);
    }
}
