//! Unicode case folding for case-insensitive comparisons. SQLite's `lower()` folds ASCII
//! only and PostgreSQL's depends on the database collation, so every case-insensitive
//! column (`*_key`, `users.attributes_key`) is folded here, in Rust, when the row is
//! written; a query lowercases only its bound value with the same function. The migration
//! that added the columns filled them with SQL `lower()` (the same fold for ASCII text)
//! and listed the rows with other characters in `unicode_fold_pending`; [`backfill`]
//! folds those at start-up.

use super::{Result, Store};
use serde_json::{Map, Value};

/// The case fold of every case-insensitive comparison.
pub fn fold(s: &str) -> String {
    s.to_lowercase()
}

/// `v` with every string (not the object keys) folded.
pub fn fold_json(v: &Value) -> Value {
    match v {
        Value::String(s) => Value::String(fold(s)),
        Value::Array(a) => Value::Array(a.iter().map(fold_json).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), fold_json(v))).collect())
        }
        other => other.clone(),
    }
}

/// The folded copy of a user's canonical body (`body` is its JSON text), or `None` when the
/// body is ASCII-only: SQL `lower()` on the body itself is then the same fold, and most
/// directories store no second copy.
pub fn attributes_key(body: &str, attrs: &Map<String, Value>) -> Option<String> {
    (!body.is_ascii()).then(|| fold_json(&Value::Object(attrs.clone())).to_string())
}

/// Folds the rows the migration could not (non-ASCII text), a batch at a time. Safe to run
/// on several instances at once: a user row is written only if its version is the one read
/// (a newer write folded it already), an email row only if its type is unchanged.
pub async fn backfill(store: &Store) -> Result<u64> {
    const BATCH: i64 = 500;
    let mut done = 0;
    loop {
        let mut c = store.read().await?;
        let users: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT u.id, u.version, u.attributes FROM unicode_fold_pending p JOIN users u ON u.id = p.user_id ORDER BY p.user_id LIMIT $1",
        )
        .bind(BATCH)
        .fetch_all(&mut *c)
        .await?;
        // Nothing pending (every start after the first): no write, so that a command run
        // beside a serving instance does not queue for its write lock.
        let leftovers = users.is_empty()
            && sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM unicode_fold_pending")
                .fetch_one(&mut *c)
                .await?
                > 0;
        drop(c);
        if users.is_empty() && !leftovers {
            return Ok(done);
        }
        let mut tx = store.begin().await?;
        if users.is_empty() {
            // Whatever is left names deleted users.
            sqlx::query("DELETE FROM unicode_fold_pending")
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            return Ok(done);
        }
        for (id, version, body) in &users {
            let attrs: Map<String, Value> = serde_json::from_str(body)
                .map_err(|e| super::StoreError::Corrupt(format!("user {id}: {e}")))?;
            let display = attrs.get("displayName").and_then(Value::as_str).map(fold);
            sqlx::query(
                "UPDATE users SET display_name_key = $1, attributes_key = $2 WHERE id = $3 AND version = $4",
            )
            .bind(display)
            .bind(attributes_key(body, &attrs))
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            let emails: Vec<(i64, Option<String>)> =
                sqlx::query_as("SELECT position, type FROM user_emails WHERE user_id = $1")
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?;
            for (pos, ty) in emails {
                if let Some(ty) = ty {
                    sqlx::query(
                        "UPDATE user_emails SET type_key = $1 WHERE user_id = $2 AND position = $3 AND type = $4",
                    )
                    .bind(fold(&ty))
                    .bind(id)
                    .bind(pos)
                    .bind(&ty)
                    .execute(&mut *tx)
                    .await?;
                }
            }
            sqlx::query("DELETE FROM unicode_fold_pending WHERE user_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
            done += 1;
        }
        tx.commit().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn folds_beyond_ascii() {
        assert_eq!(fold("ÅSA"), "åsa");
        assert_eq!(fold("ÉLODIE Ørsted"), "élodie ørsted");
        assert_eq!(fold("ΣΩΚΡΑΤΗΣ").chars().next(), Some('σ'));
    }

    #[test]
    fn folded_body_only_for_non_ascii_and_keys_kept() {
        let attrs = json!({"userName": "A", "title": "Chef"});
        let m = attrs.as_object().unwrap();
        assert_eq!(attributes_key(&attrs.to_string(), m), None);
        let attrs = json!({"userName": "A", "title": "ÅSA", "addresses": [{"locality": "MÜNCHEN", "primary": true}]});
        let m = attrs.as_object().unwrap();
        let folded: Value =
            serde_json::from_str(&attributes_key(&attrs.to_string(), m).unwrap()).unwrap();
        assert_eq!(
            folded,
            json!({"userName": "a", "title": "åsa", "addresses": [{"locality": "münchen", "primary": true}]})
        );
    }
}
