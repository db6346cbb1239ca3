//! A short-lived cache of verified SCIM tokens: (org login, token hash) → the org and the
//! token as last read. Every SCIM request used to read both from the database before doing
//! anything else; on SQLite that read is a hand-off to sqlx's database thread and back, a
//! large share of a lookup's CPU (see the README's profiles).
//!
//! Only tokens that verified are kept (a guessed token is read every time and throttled as
//! before), at most [`MAX_ENTRIES`] of them. An entry is used only while it is younger than
//! the TTL and no org or token change was committed through this instance since it was read
//! ([`crate::store::Store::credentials_changed`]): a revocation, a regeneration or new
//! settings here take effect at once; made elsewhere (another instance, a direct database
//! edit), within the TTL. That is why it is on by default only on SQLite, where one
//! instance serves; on PostgreSQL several instances share the tokens and a revocation on
//! one must hold on all at once (`--token-cache-ms` turns it on there too). Expiry is
//! checked on every request against the cached expiry time, so a token still stops working
//! at the exact moment it expires.

use crate::directory::{Org, ScimToken};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Beyond this many verified tokens the cache starts again empty: a bound, not a policy
/// (real installations have a few tokens per org).
pub const MAX_ENTRIES: usize = 4096;

/// The org login as the database matches it (case-insensitively): every spelling of one
/// org's login is one entry, so spellings cannot crowd the cache.
fn key(login: &str, hash: &str) -> (String, String) {
    (login.to_lowercase(), hash.to_string())
}

struct Entry {
    read_at: Instant,
    generation: u64,
    org: Org,
    token: ScimToken,
}

pub struct VerifiedTokens {
    ttl: Duration,
    entries: Mutex<HashMap<(String, String), Entry>>,
}

impl VerifiedTokens {
    /// A zero `ttl` turns the cache off.
    pub fn new(ttl: Duration) -> VerifiedTokens {
        VerifiedTokens {
            ttl,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<(String, String), Entry>> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The org and token verified for `(login, hash)`, if still valid at `generation`.
    pub fn get(&self, login: &str, hash: &str, generation: u64) -> Option<(Org, ScimToken)> {
        if self.ttl.is_zero() {
            return None;
        }
        let key = key(login, hash);
        let mut entries = self.lock();
        let fresh = entries
            .get(&key)
            .is_some_and(|e| e.generation == generation && e.read_at.elapsed() < self.ttl);
        if !fresh {
            entries.remove(&key);
            return None;
        }
        entries.get(&key).map(|e| (e.org.clone(), e.token.clone()))
    }

    /// Keeps a token that verified. `generation` and `read_at` are taken *before* the
    /// database read: a change committed meanwhile makes the entry stale at once, and the
    /// TTL counts from before the read.
    pub fn put(
        &self,
        login: &str,
        hash: &str,
        (generation, read_at): (u64, Instant),
        org: &Org,
        token: &ScimToken,
    ) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            key(login, hash),
            Entry {
                read_at,
                generation,
                org: org.clone(),
                token: token.clone(),
            },
        );
    }

    /// Notes that the token was just touched (its "last used"), so that the cached copy
    /// does not ask for another touch on every request.
    pub fn touched(&self, login: &str, hash: &str, at: i64) {
        if let Some(e) = self.lock().get_mut(&(login.to_string(), hash.to_string())) {
            e.token.last_used_at = Some(at);
        }
    }

    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn org() -> Org {
        Org {
            id: "o1".into(),
            login: "acme".into(),
            name: "Acme".into(),
            user_name_immutable: false,
            unique_identifier: "userName".into(),
            allowed_roles: Vec::new(),
            created_at: 0,
        }
    }

    fn token() -> ScimToken {
        ScimToken {
            id: "t1".into(),
            org_id: "o1".into(),
            label: "okta".into(),
            hint: "abcd".into(),
            created_by: None,
            created_at: 0,
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
            replaced_by: None,
        }
    }

    #[test]
    fn entries_live_for_the_ttl_and_one_generation() {
        let c = VerifiedTokens::new(Duration::from_millis(50));
        c.put("acme", "h", (1, Instant::now()), &org(), &token());
        assert!(c.get("acme", "h", 1).is_some());
        assert!(c.get("acme", "other", 1).is_none(), "keyed by the hash");
        assert!(
            c.get("ACME", "h", 1).is_some(),
            "the login in any case, as looked up"
        );
        assert!(
            c.get("acme", "h", 2).is_none(),
            "a change since: read again"
        );
        assert!(
            c.get("acme", "h", 1).is_none(),
            "and the stale entry is gone"
        );
        c.put("acme", "h", (1, Instant::now()), &org(), &token());
        std::thread::sleep(Duration::from_millis(60));
        assert!(c.get("acme", "h", 1).is_none(), "older than the TTL");
    }

    #[test]
    fn zero_ttl_keeps_nothing_and_size_is_bounded() {
        let off = VerifiedTokens::new(Duration::ZERO);
        off.put("acme", "h", (0, Instant::now()), &org(), &token());
        assert!(off.is_empty());
        let c = VerifiedTokens::new(Duration::from_secs(60));
        for i in 0..MAX_ENTRIES + 10 {
            c.put(
                "acme",
                &i.to_string(),
                (0, Instant::now()),
                &org(),
                &token(),
            );
        }
        assert!(c.len() <= MAX_ENTRIES, "{}", c.len());
        c.touched("acme", &(MAX_ENTRIES + 9).to_string(), 42);
        let (_, t) = c.get("acme", &(MAX_ENTRIES + 9).to_string(), 0).unwrap();
        assert_eq!(t.last_used_at, Some(42));
    }
}
