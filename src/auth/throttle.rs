//! Password-attempt throttling for the console's sign-in and join forms. Attempts are
//! counted before the password is checked, in one transaction with the check that neither
//! key is blocked, so parallel guesses cannot all pass a stale count.

use crate::directory::now_ms;
use crate::store::{admins, Store, StoreError};
use std::net::IpAddr;

/// Failures allowed before attempts for a key are slowed down.
const FREE_FAILURES: i64 = 5;

/// Failures further apart than this start the count again.
const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

/// Milliseconds a key waits after `failures` failed attempts in a row: nothing for the
/// first few, then doubling up to 15 minutes.
fn backoff_ms(failures: i64) -> i64 {
    if failures < FREE_FAILURES {
        0
    } else {
        (1i64 << (failures - FREE_FAILURES).min(10)).min(900) * 1000
    }
}

/// The keys an attempt counts against: the address (IPv6 per /64, since one host usually
/// holds the whole prefix) and the email at that address, so a stranger elsewhere cannot
/// lock an admin out.
#[derive(Clone, Debug)]
pub struct AttemptKeys {
    pub address: String,
    pub email_at_address: String,
}

/// Counts a password attempt for `email` from `addr`. `None` when throttled; else the keys,
/// to clear on success.
pub async fn count_attempt(
    store: &Store,
    addr: IpAddr,
    email: &str,
) -> Result<Option<AttemptKeys>, StoreError> {
    let bucket = crate::net::bucket_key(addr);
    let keys = AttemptKeys {
        address: format!("ip:{bucket}"),
        email_at_address: format!("email:{}|ip:{bucket}", email.trim().to_lowercase()),
    };
    let both = [keys.address.clone(), keys.email_at_address.clone()];
    let mut tx = store.begin().await?;
    let blocked =
        admins::reserve_login_attempt(&mut tx, &both, now_ms(), FAILURE_WINDOW_MS, backoff_ms)
            .await?;
    if let Some(wait_ms) = blocked {
        drop(tx);
        tracing::warn!(addr = %bucket, wait_ms, "password attempt throttled");
        return Ok(None);
    }
    tx.commit().await?;
    Ok(Some(keys))
}

#[cfg(test)]
mod tests {
    use super::backoff_ms;

    #[test]
    fn backoff_starts_after_the_free_failures_and_is_capped() {
        assert_eq!(backoff_ms(4), 0);
        assert_eq!(backoff_ms(5), 1000);
        assert_eq!(backoff_ms(6), 2000);
        assert_eq!(backoff_ms(100), 900_000);
    }
}
