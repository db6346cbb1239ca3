//! Admin passwords: argon2id with the crate's default (OWASP-recommended) parameters,
//! computed on the blocking pool so sign-ins never stall the async executor.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;

pub const MIN_PASSWORD_LEN: usize = 12;

#[derive(Debug, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be at least {MIN_PASSWORD_LEN} characters long")]
    TooShort,
    #[error("password hashing failed")]
    Hash,
}

pub fn validate(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| PasswordError::Hash)
    })
    .await
    .map_err(|_| PasswordError::Hash)?
}

/// Verifies `password` against a PHC hash. With `None` (unknown account) a dummy hash is
/// verified anyway so that the response time does not reveal whether the account exists.
pub async fn verify_password(password: String, hash: Option<String>) -> bool {
    tokio::task::spawn_blocking(move || {
        let hash = hash.unwrap_or_else(|| DUMMY_HASH.to_string());
        match PasswordHash::new(&hash) {
            Ok(parsed) => {
                Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
                    && hash != DUMMY_HASH
            }
            Err(_) => false,
        }
    })
    .await
    .unwrap_or(false)
}

/// argon2id hash of a random string nobody knows; used only to spend equal time.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c2NpbWdhdGVkdW1teXNhbHQ$0YpVJxP6qK9wT7CSpKXnH3uT1BqkR+0vMJ8q8b5zq4Y";

/// A random password for `admin create` when none is given on stdin.
pub fn generate_password() -> String {
    use rand::Rng;
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::rngs::OsRng;
    (0..20)
        .map(|_| ALPHABET[rng.gen_range(0..ALPHABET.len())] as char)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_and_verify() {
        let h = hash_password("correct horse battery".into()).await.unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery".into(), Some(h.clone())).await);
        assert!(!verify_password("wrong horse battery".into(), Some(h)).await);
        assert!(!verify_password("anything".into(), None).await);
        assert!(validate("short").is_err());
        assert_eq!(generate_password().len(), 20);
    }
}
