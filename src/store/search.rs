//! The console's people search: every word of a user's userName, displayName, name and
//! emails, so that "lovelace", "ada" or "acme" (from ada@acme.example) each find Ada, by
//! prefix. One definition of a word and of a match serves both stores (one contract suite);
//! each store keeps the words where writing them is cheapest:
//!
//! - PostgreSQL: `user_words` (org, word, user), one B-tree range per searched word.
//! - SQLite: the FTS5 table `user_search`, one row per user whose `words` are the user's
//!   words, each prefixed with its org's [`org_tag`] (so a prefix query is org-scoped and
//!   finds no other org's users), and `user_id` unindexed. A B-tree of words takes each
//!   word as an insert at a random place: 6.8 leaf pages dirtied per created user, the
//!   largest share of what a create wrote to the WAL. FTS5 gathers a transaction's words in
//!   memory and writes them as one sorted segment at COMMIT, merged in the background of
//!   later writes. It also writes them out at a savepoint and before any statement that
//!   needs a statement journal (a multi-row INSERT, say): creates write their rows one
//!   INSERT each so that a batch of creates stays one segment (a create retried under its
//!   own savepoint after a failure in its batch makes a segment of its own). The `ascii`
//!   tokenizer keeps our words as they are (they are alphanumeric runs, already lowercased;
//!   non-ASCII characters are word characters to it), and `detail=none` keeps no
//!   positions, which a prefix match does not need. The FTS row's
//!   rowid is kept on the user's row (`search_rowid`), to remove it; it is the FTS5 table's
//!   own (an `INTEGER PRIMARY KEY` of its content table), which `VACUUM` keeps, unlike the
//!   implicit rowid of `users`.
//!
//! The words a user was indexed under are kept on the user's row (`search_words`), so that
//! a change removes exactly those.

use super::sql::Sql;
use super::{Backend, Result};
use crate::directory::query::Cond;
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

/// The tag in front of every word of an org's users in SQLite's `user_search`: 32 hex
/// digits of a hash of the org id (fixed length, so `tag + word` is unambiguous, and made
/// of ASCII alphanumerics, so the tokenizer keeps it in the word).
pub fn org_tag(org_id: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(org_id.as_bytes())[..16])
}

/// SQLite's `user_search.words` for a user's words.
fn tagged(org_id: &str, words: &[String]) -> String {
    let tag = org_tag(org_id);
    let mut out = String::with_capacity(words.iter().map(|w| tag.len() + w.len() + 1).sum());
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&tag);
        out.push_str(w);
    }
    out
}

/// The statements that index `words` for a user whose row exists and is indexed under
/// nothing yet (none when there are no words).
pub fn index(backend: Backend, org_id: &str, user_id: &str, words: &[String]) -> Vec<Sql> {
    if words.is_empty() {
        return Vec::new();
    }
    match backend {
        Backend::Sqlite => {
            let mut insert = Sql::new("INSERT INTO user_search (user_id, words) VALUES (");
            insert
                .push_bind(user_id)
                .push(", ")
                .push_bind(tagged(org_id, words))
                .push(")");
            // The FTS5 insert sets last_insert_rowid() (SQLite sets it after the virtual
            // table's xUpdate, not from the shadow tables' inserts).
            let mut keep =
                Sql::new("UPDATE users SET search_rowid = last_insert_rowid() WHERE id = ");
            keep.push_bind(user_id);
            vec![insert, keep]
        }
        Backend::Postgres => {
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
            vec![q]
        }
    }
}

/// The statements that remove `words` of those a user is indexed under (on SQLite, all of
/// them: its one FTS row), while its row still exists.
pub fn unindex(backend: Backend, org_id: &str, user_id: &str, words: &[String]) -> Vec<Sql> {
    match backend {
        Backend::Sqlite => {
            // Whatever row the user has, whatever `words` says (a rowid lookup: nothing to
            // save by skipping it).
            let mut q = Sql::new(
                "DELETE FROM user_search WHERE rowid = (SELECT search_rowid FROM users WHERE id = ",
            );
            q.push_bind(user_id).push(")");
            vec![q]
        }
        Backend::Postgres if words.is_empty() => Vec::new(),
        Backend::Postgres => {
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
            vec![q]
        }
    }
}

/// The statements that move a user from the words `old` (those it is indexed under) to
/// `new`, and keep `new` on its row.
pub fn reindex(
    backend: Backend,
    org_id: &str,
    user_id: &str,
    old: &[String],
    new: &[String],
) -> Vec<Sql> {
    let mut stored = Sql::new("UPDATE users SET search_words = ");
    stored.push_bind(joined(new));
    match backend {
        Backend::Sqlite => {
            // The one FTS row is replaced whole: remove it while its rowid is on the row.
            stored
                .push(", search_rowid = NULL WHERE id = ")
                .push_bind(user_id);
            let mut out = unindex(backend, org_id, user_id, old);
            out.push(stored);
            out.extend(index(backend, org_id, user_id, new));
            out
        }
        Backend::Postgres => {
            stored.push(" WHERE id = ").push_bind(user_id);
            let gone: Vec<String> = old.iter().filter(|w| !new.contains(w)).cloned().collect();
            let added: Vec<String> = new.iter().filter(|w| !old.contains(w)).cloned().collect();
            let mut out = vec![stored];
            out.extend(unindex(backend, org_id, user_id, &gone));
            out.extend(index(backend, org_id, user_id, &added));
            out
        }
    }
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

/// SQLite's FTS5 query for `words` in the org: each word a prefix query ("…" *) of the
/// org's tagged words. query_words gives alphanumeric runs; a quote is doubled all the
/// same, so that no word can end the string early and escape its org's tag.
fn fts_query(org_id: &str, words: &[String]) -> String {
    let tag = org_tag(org_id);
    words
        .iter()
        .map(|w| format!("\"{tag}{}\" *", w.replace('"', "\"\"")))
        .collect::<Vec<_>>()
        .join(" AND ")
}

/// Above this many matching users, a search's words are planned as "many" on SQLite
/// (see [`plan`]).
pub const MANY_MATCHES: i64 = 1_000;

/// SQLite: which people-search words of `cond` match more than [`MANY_MATCHES`] users of
/// their org; `Some` with those marked `many`, `None` when nothing changes (PostgreSQL
/// always).
///
/// Why: `user_id IN (SELECT user_id … MATCH …)` lists every match first, reading each
/// one's row of the FTS5 content table. For a word few users have that is the fastest
/// plan there is; for one every user has (the company's mail domain, typed into the
/// console's search box) it read 100,000 rows before the first page of 50 could be
/// sorted: about 110 ms a page and 260 ms with its count. Marked `many`, a user's FTS row
/// id (`search_rowid`) is checked against the matching row ids, which FTS5 answers from
/// its index alone, while the page walks users in its own order and stops when full.
/// Counting up to [`MANY_MATCHES`] + 1 matches first costs a fraction of a millisecond for
/// a rare word; for a common one FTS5 merges the prefix's whole list of row ids before the
/// LIMIT applies (about 16 ms at 100,000 matches), a fifth of listing the matches' ids.
pub async fn plan(conn: &mut sqlx::AnyConnection, cond: &Cond) -> Result<Option<Cond>> {
    if !needs_plan(Backend::of(conn), cond) {
        return Ok(None);
    }
    let mut planned = cond.clone();
    let mut nodes = Vec::new();
    words_nodes(&mut planned, &mut nodes);
    let mut changed = false;
    for node in nodes {
        if let Cond::Words {
            org_id,
            words,
            many,
        } = node
        {
            if *many || words.is_empty() {
                continue;
            }
            let found: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM (SELECT 1 FROM user_search WHERE user_search MATCH $1 LIMIT $2)",
            )
            .bind(fts_query(org_id, words))
            .bind(MANY_MATCHES + 1)
            .fetch_one(&mut *conn)
            .await?;
            if found > MANY_MATCHES {
                *many = true;
                changed = true;
            }
        }
    }
    Ok(changed.then_some(planned))
}

/// Whether [`plan`] has anything to decide for `cond` on `backend`.
pub fn needs_plan(backend: Backend, cond: &Cond) -> bool {
    backend == Backend::Sqlite && has_words(cond)
}

fn has_words(cond: &Cond) -> bool {
    match cond {
        Cond::Words { .. } => true,
        Cond::And(a, b) | Cond::Or(a, b) => has_words(a) || has_words(b),
        Cond::Not(a) => has_words(a),
        _ => false,
    }
}

fn words_nodes<'a>(cond: &'a mut Cond, out: &mut Vec<&'a mut Cond>) {
    if matches!(cond, Cond::Words { .. }) {
        out.push(cond);
        return;
    }
    match cond {
        Cond::And(a, b) | Cond::Or(a, b) => {
            words_nodes(a, out);
            words_nodes(b, out);
        }
        Cond::Not(a) => words_nodes(a, out),
        _ => {}
    }
}

/// SQLite, for words planned as many: `"{search_rowid} IN (…)"`, the user's FTS row among
/// the rows whose words match.
pub fn push_match_by_rowid(qb: &mut Sql, search_rowid: &str, org_id: &str, words: &[String]) {
    if words.is_empty() {
        qb.push("1 = 1");
        return;
    }
    qb.push(format!(
        "{search_rowid} IN (SELECT us.rowid FROM user_search us WHERE us.user_search MATCH "
    ))
    .push_bind(fts_query(org_id, words))
    .push(")");
}

/// `"{user_id} IN (…)"`: users of the org with, for each query word, a word starting
/// with it.
pub fn push_match(qb: &mut Sql, backend: Backend, user_id: &str, org_id: &str, words: &[String]) {
    if words.is_empty() {
        qb.push("1 = 1");
        return;
    }
    if backend == Backend::Sqlite {
        qb.push(format!(
            "{user_id} IN (SELECT us.user_id FROM user_search us WHERE us.user_search MATCH "
        ))
        .push_bind(fts_query(org_id, words))
        .push(")");
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
                // As a rename does: an FTS row the user may still have (its words cleared
                // by a migration, say) goes first, so that `search_rowid` names the one
                // row the user has ([`plan`]'s searches rely on it).
                for q in reindex(store.backend(), org_id, id, &[], &words) {
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
    fn a_quote_cannot_end_the_fts_string_early() {
        let mut q = Sql::new("");
        let words = vec!["zz\" OR \"b".to_string()];
        push_match(&mut q, Backend::Sqlite, "u.id", "org", &words);
        let tag = org_tag("org");
        assert!(matches!(
            q.args(),
            [super::super::sql::Arg::Str(s)] if *s == format!("\"{tag}zz\"\" OR \"\"b\" *")
        ));
    }

    #[test]
    fn stored_words_round_trip() {
        let w = vec!["ada".to_string(), "lovelace".to_string()];
        assert_eq!(split(Some(&joined(&w))), w);
        assert!(split(None).is_empty());
        assert!(split(Some("")).is_empty());
    }
}
