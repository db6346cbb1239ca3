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
    /// Every password slot stayed taken for [`QUEUE_WAIT`]: the caller answers 429.
    #[error("too many sign-ins at once; try again in a moment")]
    Busy,
}

/// How long a hash or verification waits for a free slot before giving up.
pub const QUEUE_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// argon2id takes ~19 MiB and tens of milliseconds of CPU per call: unbounded, 60 parallel
/// sign-ins once took the server to 1.4 GB. At most this many run at once (one per CPU by
/// default; see [`set_concurrency`]).
static SLOTS: std::sync::OnceLock<tokio::sync::Semaphore> = std::sync::OnceLock::new();

/// Sets the number of concurrent hashes and verifications, once, at start-up.
pub fn set_concurrency(n: usize) {
    let _ = SLOTS.set(tokio::sync::Semaphore::new(n.max(1)));
}

fn slots() -> &'static tokio::sync::Semaphore {
    SLOTS.get_or_init(|| {
        tokio::sync::Semaphore::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    })
}

/// Runs `f` on the blocking pool once a slot is free, or fails with `Busy`.
async fn limited<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, PasswordError> {
    let _permit = tokio::time::timeout(QUEUE_WAIT, slots().acquire())
        .await
        .map_err(|_| PasswordError::Busy)?
        .map_err(|_| PasswordError::Busy)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|_| PasswordError::Hash)
}

pub fn validate(password: &str) -> Result<(), PasswordError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(PasswordError::TooShort);
    }
    Ok(())
}

pub async fn hash_password(password: String) -> Result<String, PasswordError> {
    limited(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|_| PasswordError::Hash)
    })
    .await?
}

/// Verifies `password` against a PHC hash. With `None` (unknown account) a dummy hash is
/// verified anyway so that the response time does not reveal whether the account exists.
pub async fn verify_password(
    password: String,
    hash: Option<String>,
) -> Result<bool, PasswordError> {
    limited(move || {
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
        assert!(
            verify_password("correct horse battery".into(), Some(h.clone()))
                .await
                .unwrap()
        );
        assert!(!verify_password("wrong horse battery".into(), Some(h))
            .await
            .unwrap());
        assert!(!verify_password("anything".into(), None).await.unwrap());
        assert!(validate("short").is_err());
        assert_eq!(generate_password().len(), 20);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn at_most_the_configured_number_run_at_once() {
        // Many more verifications than slots: none fails, and the slots bound the peak.
        let peak = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let now = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mut tasks = Vec::new();
        for _ in 0..8 {
            let (peak, now) = (peak.clone(), now.clone());
            tasks.push(tokio::spawn(async move {
                limited(move || {
                    let n = now.fetch_add(1, std::sync::atomic::Ordering::SeqCst) + 1;
                    peak.fetch_max(n, std::sync::atomic::Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(30));
                    now.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
                })
                .await
            }));
        }
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        // Nothing set a concurrency in this process: one slot per CPU.
        let slots = std::thread::available_parallelism().map_or(2, |n| n.get());
        let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
        assert!(peak <= slots && peak >= 1, "peak {peak} with {slots} slots");
    }
}
