//! The console's people search: every word of a user's userName, displayName, name and
//! emails, in `user_words` (org, word, user), so that "lovelace", "ada" or "acme" (from
//! ada@acme.example) each find Ada, by prefix, through one B-tree range per word on either
//! database.
//!
//! Why a table of words and not SQLite FTS5 / PostgreSQL full-text: one definition of a
//! word and of a match for both stores (one contract suite), org-scoped ranges instead of a
//! global index filtered afterwards, and no dependence on SQLite's implicit rowids, which
//! `VACUUM` (and `VACUUM INTO`, the backup) may renumber under an FTS5 external-content
//! index. The words a user was indexed under are kept on the user's row (`search_words`),
//! so that a change removes exactly those.

use super::sql::Sql;
use super::Result;
use serde_json::{Map, Value};
use std::collections::BTreeSet;

/// At most this many words per user (a hostile client's 10,000-email user costs no more
/// than 64 index rows) …
pub const MAX_WORDS: usize = 64;
/// … each cut to this many characters.
pub const MAX_WORD_CHARS: usize = 48;
/// Words of a search that are used (the rest are ignored).
pub const MAX_QUERY_WORDS: usize = 5;

/// Lowercased alphanumeric runs of `text`.
fn words_of(text: &str) -> impl Iterator<Item = String> + '_ {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .take(MAX_WORD_CHARS)
                .collect::<String>()
                .to_lowercase()
        })
}

/// The words a user is found by, sorted and without repeats.
pub fn user_words(attrs: &Map<String, Value>) -> Vec<String> {
    let mut texts: Vec<&str> = Vec::new();
    for k in ["userName", "displayName", "nickName"] {
        if let Some(s) = attrs.get(k).and_then(Value::as_str) {
            texts.push(s);
        }
    }
    if let Some(name) = attrs.get("name").and_then(Value::as_object) {
        for k in ["givenName", "middleName", "familyName", "formatted"] {
            if let Some(s) = name.get(k).and_then(Value::as_str) {
                texts.push(s);
            }
        }
    }
    if let Some(emails) = attrs.get("emails").and_then(Value::as_array) {
        for e in emails {
            if let Some(s) = e.get("value").and_then(Value::as_str) {
                texts.push(s);
            }
        }
    }
    let mut set = BTreeSet::new();
    for t in texts {
        for w in words_of(t) {
            set.insert(w);
            if set.len() >= MAX_WORDS {
                return set.into_iter().collect();
            }
        }
    }
    set.into_iter().collect()
}

/// The words of what an admin typed: each must start some word of a user.
pub fn query_words(q: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for w in words_of(q) {
        if !out.contains(&w) {
            out.push(w);
        }
        if out.len() == MAX_QUERY_WORDS {
            break;
        }
    }
    out
}

/// The index rows of `words` for one user (none when there are none).
pub fn insert_words(org_id: &str, user_id: &str, words: &[String]) -> Option<Sql> {
    if words.is_empty() {
        return None;
    }
    let mut q = Sql::new("INSERT INTO user_words (org_id, word, user_id) VALUES ");
    for (i, w) in words.iter().enumerate() {
        q.push(if i == 0 { "(" } else { ", (" })
            .push_bind(org_id)
            .push(", ")
            .push_bind(w.as_str())
            .push(", ")
            .push_bind(user_id)
            .push(")");
    }
    q.push(" ON CONFLICT DO NOTHING");
    Some(q)
}

/// Removes a user's index rows for `words` (those it was indexed under).
pub fn delete_words(org_id: &str, user_id: &str, words: &[String]) -> Option<Sql> {
    if words.is_empty() {
        return None;
    }
    let mut q = Sql::new("DELETE FROM user_words WHERE org_id = ");
    q.push_bind(org_id)
        .push(" AND user_id = ")
        .push_bind(user_id)
        .push(" AND word IN (");
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_bind(w.as_str());
    }
    q.push(")");
    Some(q)
}

/// The stored form of a user's words (on the user's row).
pub fn joined(words: &[String]) -> String {
    words.join(" ")
}

/// The words a stored row was indexed under.
pub fn split(stored: Option<&str>) -> Vec<String> {
    stored
        .unwrap_or_default()
        .split(' ')
        .filter(|w| !w.is_empty())
        .map(str::to_string)
        .collect()
}

/// `"{user_id} IN (…)"` for each query word: users with a word starting with it.
pub fn push_match(qb: &mut Sql, user_id: &str, org_id: &str, words: &[String]) {
    if words.is_empty() {
        qb.push("1 = 1");
        return;
    }
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            qb.push(" AND ");
        }
        qb.push(format!(
            "{user_id} IN (SELECT sw.user_id FROM user_words sw WHERE sw.org_id = "
        ))
        .push_bind(org_id)
        .push(" AND sw.word >= ")
        .push_bind(w.as_str())
        .push(" AND sw.word < ")
        .push_bind(format!("{w}\u{10ffff}"))
        .push(")");
    }
}

/// Indexes users written before search existed (or by `scimgate seed`), a batch at a time,
/// each in its own transaction; run when the store opens, before it serves.
pub async fn backfill(store: &super::Store) -> Result<u64> {
    const BATCH: i64 = 500;
    let mut done = 0;
    let mut after = String::new();
    loop {
        let mut c = store.read().await?;
        let rows: Vec<(String, String, i64, String)> = sqlx::query_as(
            "SELECT id, org_id, version, attributes FROM users WHERE id > $1 AND search_words IS NULL ORDER BY id LIMIT $2",
        )
        .bind(&after)
        .bind(BATCH)
        .fetch_all(&mut *c)
        .await?;
        drop(c);
        let Some(last) = rows.last() else {
            return Ok(done);
        };
        after = last.0.clone();
        let mut tx = store.begin().await?;
        for (id, org_id, version, attributes) in &rows {
            let attrs: Map<String, Value> = serde_json::from_str(attributes)
                .map_err(|e| super::StoreError::Corrupt(format!("user {id}: {e}")))?;
            let words = user_words(&attrs);
            // Only if the user is still as read: a writer that got there first indexed it.
            let set = sqlx::query(
                "UPDATE users SET search_words = $1 WHERE id = $2 AND version = $3 AND search_words IS NULL",
            )
            .bind(joined(&words))
            .bind(id)
            .bind(version)
            .execute(&mut *tx)
            .await?;
            if set.rows_affected() == 1 {
                if let Some(q) = insert_words(org_id, id, &words) {
                    q.query().execute(&mut *tx).await?;
                }
                done += 1;
            }
        }
        tx.commit().await?;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn attrs(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn a_user_is_found_by_every_word_of_names_and_emails() {
        let w = user_words(&attrs(json!({
            "userName": "ada.lovelace@Example.com",
            "displayName": "Ada Lovelace",
            "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Augusta Ada King"},
            "emails": [{"value": "countess@analytical.engine", "type": "work"}],
            "title": "not indexed"
        })));
        assert_eq!(
            w,
            [
                "ada",
                "analytical",
                "augusta",
                "com",
                "countess",
                "engine",
                "example",
                "king",
                "lovelace"
            ]
        );
    }

    #[test]
    fn hostile_users_are_indexed_under_a_bounded_number_of_short_words() {
        let emails: Vec<Value> = (0..10_000)
            .map(|i| json!({"value": format!("u{i}@x{i}.test")}))
            .collect();
        let w = user_words(&attrs(
            json!({"userName": "x".repeat(100_000), "emails": emails}),
        ));
        assert_eq!(w.len(), MAX_WORDS);
        assert!(w.iter().all(|w| w.chars().count() <= MAX_WORD_CHARS));
    }

    #[test]
    fn queries_are_words_in_order_without_repeats() {
        assert_eq!(query_words("  Ada  LOVE "), ["ada", "love"]);
        assert_eq!(query_words("bob@acme"), ["bob", "acme"]);
        assert_eq!(query_words("a a a"), ["a"]);
        assert!(query_words("@@ ..").is_empty());
        assert_eq!(query_words("a b c d e f g").len(), MAX_QUERY_WORDS);
        assert_eq!(query_words("Ünïcode Straße"), ["ünïcode", "straße"]);
    }

    #[test]
    fn stored_words_round_trip() {
        let w = vec!["ada".to_string(), "lovelace".to_string()];
        assert_eq!(split(Some(&joined(&w))), w);
        assert!(split(None).is_empty());
        assert!(split(Some("")).is_empty());
    }
}
