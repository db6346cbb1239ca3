//! Users. The canonical SCIM body is the source of truth; `user_name_key`, `external_id`,
//! `display_name` (and the folded keys of [`super::fold`]), `active` and the `user_emails` rows are projections of it for indexed
//! lookups, rewritten with every write.

use super::fold::{self, fold};
use super::query_sql::{page_sql, push_where, Table};
use super::search;
use super::sql::Sql;
use super::{bool_int, Backend, Result, StoreError};
use crate::directory::query::{Cond, ListQuery};
use crate::directory::{User, UserColumns};
use serde_json::{Map, Value};
use sqlx::AnyConnection;

#[derive(sqlx::FromRow)]
struct UserRow {
    id: String,
    org_id: String,
    user_name: String,
    external_id: Option<String>,
    display_name: Option<String>,
    active: i64,
    attributes: String,
    source: String,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl UserRow {
    fn into_user(self) -> Result<User> {
        let attributes: Map<String, Value> = serde_json::from_str(&self.attributes)
            .map_err(|e| StoreError::Corrupt(format!("user {}: {e}", self.id)))?;
        Ok(User {
            id: self.id,
            org_id: self.org_id,
            user_name: self.user_name,
            external_id: self.external_id,
            display_name: self.display_name,
            active: self.active != 0,
            attributes,
            source: self.source,
            version: self.version,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

const COLUMNS: &str = "u.id, u.org_id, u.user_name, u.external_id, u.display_name, u.active, u.attributes, u.source, u.version, u.created_at, u.updated_at";

/// Inserts a user. `user.attributes` must be canonical; the columns are derived from it.
pub async fn insert_user(conn: &mut AnyConnection, user: &User) -> Result<()> {
    let statements = insert_user_statements(Backend::of(conn), user);
    let statements: Vec<&Sql> = statements.iter().collect();
    Sql::insert_all(conn, &statements)
        .await
        .map_err(|e| StoreError::conflict_or(e, "userName"))
}

/// The statements of [`insert_user`] (the user, its email rows, its search words), for a
/// caller that runs them in one call with others: see [`user_conflict`] for their errors.
pub fn insert_user_statements(backend: Backend, user: &User) -> Vec<Sql> {
    let cols = UserColumns::from_attributes(&user.attributes);
    let mut q = Sql::new(
        "INSERT INTO users (id, org_id, user_name, user_name_key, external_id, display_name, display_name_key, active, attributes, attributes_key, search_words, source, version, created_at, updated_at) VALUES (",
    );
    let words = search::user_words(&user.attributes);
    let body = Value::Object(user.attributes.clone()).to_string();
    let body_key = fold::attributes_key(&body, &user.attributes);
    q.push_bind(&user.id)
        .push(", ")
        .push_bind(&user.org_id)
        .push(", ")
        .push_bind(&cols.user_name)
        .push(", ")
        .push_bind(fold(&cols.user_name))
        .push(", ")
        .push_bind(cols.external_id.clone())
        .push(", ")
        .push_bind(cols.display_name.clone())
        .push(", ")
        .push_bind(cols.display_name.as_deref().map(fold))
        .push(", ")
        .push_bind(bool_int(cols.active))
        .push(", ")
        .push_bind(body)
        .push(", ")
        .push_bind(body_key)
        .push(", ")
        .push_bind(search::joined(&words))
        .push(", ")
        .push_bind(&user.source)
        .push(", ")
        .push_bind(user.version)
        .push(", ")
        .push_bind(user.created_at)
        .push(", ")
        .push_bind(user.updated_at)
        .push(")");
    let emails = emails_insert(&user.org_id, &user.id, &cols);
    let indexed = search::index(backend, &user.org_id, &user.id, &words);
    std::iter::once(q).chain(emails).chain(indexed).collect()
}

/// An error of a call that ran [`insert_user_statements`] among others: a unique violation
/// on the users table is the userName taken ([`StoreError::Conflict`]); any other error is
/// left as it was (the other statements' unique keys are ids and counters, whose violation
/// would be a fault, not the client's).
pub fn user_conflict(e: StoreError) -> StoreError {
    match e {
        StoreError::Database(sqlx::Error::Database(d))
            if d.is_unique_violation() && on_users(d.as_ref()) =>
        {
            StoreError::Conflict("userName".into())
        }
        other => other,
    }
}

/// Whether a database error names the users table: PostgreSQL gives the constraint
/// (`users_user_name`, `users_pkey`), SQLite the columns (`users.org_id, users.user_name_key`).
fn on_users(d: &dyn sqlx::error::DatabaseError) -> bool {
    match d.constraint() {
        Some(c) => c.starts_with("users_"),
        None => d.message().contains(" users."),
    }
}

/// The INSERTs of the user's email rows, one per email: a multi-row INSERT needs a
/// statement journal, and opening one makes FTS5 write out the words it gathered so far in
/// the transaction (see super::search), a segment per create instead of one per batch.
fn emails_insert(org_id: &str, user_id: &str, cols: &UserColumns) -> Vec<Sql> {
    cols.emails
        .iter()
        .enumerate()
        .map(|(pos, e)| {
            let mut q = Sql::new(
                "INSERT INTO user_emails (user_id, org_id, position, value, value_key, type, type_key, is_primary) VALUES (",
            );
            q.push_bind(user_id)
                .push(", ")
                .push_bind(org_id)
                .push(", ")
                .push_bind(pos as i64)
                .push(", ")
                .push_bind(&e.value)
                .push(", ")
                .push_bind(fold(&e.value))
                .push(", ")
                .push_bind(e.kind.clone())
                .push(", ")
                .push_bind(e.kind.as_deref().map(fold))
                .push(", ")
                .push_bind(bool_int(e.primary))
                .push(")");
            q
        })
        .collect()
}

/// Writes `user` (its attributes, `updated_at`) if the stored version is still
/// `expected_version`; the stored version becomes `expected_version + 1`. With `before`
/// (the stored user), the email rows are rewritten only if the emails changed.
pub async fn update_user(
    conn: &mut AnyConnection,
    user: &User,
    expected_version: i64,
    before: Option<&User>,
) -> Result<()> {
    let cols = UserColumns::from_attributes(&user.attributes);
    let body = Value::Object(user.attributes.clone()).to_string();
    let body_key = fold::attributes_key(&body, &user.attributes);
    let done = sqlx::query(
        "UPDATE users SET user_name = $1, user_name_key = $2, external_id = $3, display_name = $4, display_name_key = $5, active = $6, \
         attributes = $7, attributes_key = $8, version = version + 1, updated_at = $9 WHERE id = $10 AND org_id = $11 AND version = $12",
    )
    .bind(&cols.user_name)
    .bind(fold(&cols.user_name))
    .bind(&cols.external_id)
    .bind(&cols.display_name)
    .bind(cols.display_name.as_deref().map(fold))
    .bind(bool_int(cols.active))
    .bind(body)
    .bind(body_key)
    .bind(user.updated_at)
    .bind(&user.id)
    .bind(&user.org_id)
    .bind(expected_version)
    .execute(&mut *conn)
    .await
    .map_err(|e| StoreError::conflict_or(e, "userName"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::VersionMismatch);
    }
    reindex(conn, user, before).await?;
    if before.is_some_and(|b| UserColumns::from_attributes(&b.attributes).emails == cols.emails) {
        return Ok(());
    }
    let mut q = Sql::new("DELETE FROM user_emails WHERE user_id = ");
    q.push_bind(&user.id);
    let emails = emails_insert(&user.org_id, &user.id, &cols);
    let emails: Vec<&Sql> = emails.iter().collect();
    if Backend::of(conn) == Backend::Sqlite {
        // One call to SQLite's worker thread for the lot.
        let statements: Vec<&Sql> = std::iter::once(&q).chain(emails).collect();
        return Ok(Sql::execute_all(conn, &statements).await?);
    }
    // PostgreSQL: the DELETE first, then the rows in as few statements as their
    // parameters allow (the parts of one statement would not see the DELETE).
    q.query().execute(&mut *conn).await?;
    Ok(Sql::insert_all(conn, &emails).await?)
}

/// Moves a user's search words to those of its new attributes, when they changed. Without
/// `before`, the words it was indexed under are read from its row.
async fn reindex(conn: &mut AnyConnection, user: &User, before: Option<&User>) -> Result<()> {
    let words = search::user_words(&user.attributes);
    let old = match before {
        Some(b) => search::user_words(&b.attributes),
        None => {
            let stored: Option<String> =
                sqlx::query_scalar("SELECT search_words FROM users WHERE id = $1")
                    .bind(&user.id)
                    .fetch_optional(&mut *conn)
                    .await?
                    .flatten();
            search::split(stored.as_deref())
        }
    };
    if old == words {
        return Ok(());
    }
    let statements = search::reindex(Backend::of(conn), &user.org_id, &user.id, &old, &words);
    let statements: Vec<&Sql> = statements.iter().collect();
    Ok(Sql::execute_all(conn, &statements).await?)
}

/// (id, userName) of those of `ids` that are users of the org.
pub async fn user_names(
    conn: &mut AnyConnection,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<(String, String)>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut q = Sql::new("SELECT id, user_name FROM users WHERE org_id = ");
    q.push_bind(org_id).push(" AND id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.push_bind(id.as_str());
    }
    q.push(")");
    Ok(q.query_as().fetch_all(conn).await?)
}

pub async fn find_user(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users u WHERE u.org_id = $1 AND u.id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(UserRow::into_user).transpose()
}

pub async fn get_user(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<User> {
    find_user(conn, org_id, id)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn find_user_by_user_name(
    conn: &mut AnyConnection,
    org_id: &str,
    user_name: &str,
) -> Result<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM users u WHERE u.org_id = $1 AND u.user_name_key = $2"
    ))
    .bind(org_id)
    .bind(fold(user_name))
    .fetch_optional(conn)
    .await?;
    row.map(UserRow::into_user).transpose()
}

/// Deletes a user and its memberships (keeping group member counts right).
/// Returns the ids of the groups it was removed from.
pub async fn delete_user(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Vec<String>> {
    let groups: Vec<String> =
        sqlx::query_scalar("SELECT group_id FROM group_members WHERE user_id = $1")
            .bind(id)
            .fetch_all(&mut *conn)
            .await?;
    let backend = Backend::of(conn);
    // SQLite's FTS row is found by the rowid kept on the user's row (see super::search).
    let returning = match backend {
        Backend::Sqlite => "search_words, search_rowid",
        Backend::Postgres => "search_words, NULL::bigint",
    };
    let deleted: Option<(Option<String>, Option<i64>)> = sqlx::query_as(&format!(
        "DELETE FROM users WHERE org_id = $1 AND id = $2 RETURNING {returning}"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((words, search_rowid)) = deleted else {
        return Err(StoreError::NotFound);
    };
    match backend {
        Backend::Sqlite => {
            if let Some(rowid) = search_rowid {
                sqlx::query("DELETE FROM user_search WHERE rowid = $1")
                    .bind(rowid)
                    .execute(&mut *conn)
                    .await?;
            }
        }
        Backend::Postgres => {
            for q in search::unindex(backend, org_id, id, &search::split(words.as_deref())) {
                q.query().execute(&mut *conn).await?;
            }
        }
    }
    for g in &groups {
        sqlx::query("UPDATE groups SET member_count = member_count - 1, version = version + 1, updated_at = $1 WHERE id = $2")
            .bind(crate::directory::now_ms())
            .bind(g)
            .execute(&mut *conn)
            .await?;
    }
    Ok(groups)
}

/// One page of users matching `q`, and the total number of matches.
pub async fn list_users(
    conn: &mut AnyConnection,
    org_id: &str,
    q: &ListQuery,
) -> Result<(i64, Vec<User>)> {
    let planned = search::plan(&mut *conn, &q.cond)
        .await?
        .map(|cond| ListQuery { cond, ..q.clone() });
    let q = planned.as_ref().unwrap_or(q);
    if q.limit == 0 {
        return Ok((
            count_matching_users(conn, org_id, &q.cond).await?,
            Vec::new(),
        ));
    }
    let page = page_users(conn, org_id, q).await?;
    let total = match q.total_from_page(page.len()) {
        Some(t) => t,
        None => count_matching_users(conn, org_id, &q.cond).await?,
    };
    Ok((total, page))
}

/// How many users of the org match `cond`, planned or not (see [`page_users`]).
pub async fn count_matching_users(
    conn: &mut AnyConnection,
    org_id: &str,
    cond: &Cond,
) -> Result<i64> {
    let mut count = Sql::new("SELECT COUNT(*) FROM users u WHERE u.org_id = ");
    count.push_bind(org_id).push(" AND ");
    push_where(&mut count, Backend::of(conn), Table::Users, cond);
    Ok(count.query_scalar().fetch_one(conn).await?)
}

/// One page of users matching `q`, without counting them. A people search's words are
/// matched as they stand: the caller plans them once with [`search::plan`] for the page and
/// its count (planning counts a word's matches, about 16 ms for a word most of 100,000
/// users have); an unplanned search gives the same rows, by the plan for rare words.
pub async fn page_users(
    conn: &mut AnyConnection,
    org_id: &str,
    q: &ListQuery,
) -> Result<Vec<User>> {
    let qb = page_sql(Backend::of(conn), Table::Users, COLUMNS, org_id, q);
    let rows: Vec<UserRow> = qb.query_as().fetch_all(conn).await?;
    rows.into_iter().map(UserRow::into_user).collect()
}

/// The groups a user belongs to: (id, displayName).
pub async fn list_user_groups(
    conn: &mut AnyConnection,
    user_id: &str,
) -> Result<Vec<(String, String)>> {
    Ok(sqlx::query_as(
        "SELECT g.id, g.display_name FROM group_members m JOIN groups g ON g.id = m.group_id WHERE m.user_id = $1 ORDER BY g.display_name_key, g.id",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?)
}

/// (active, deactivated) user counts of an org.
pub async fn count_users(conn: &mut AnyConnection, org_id: &str) -> Result<(i64, i64)> {
    let rows: Vec<(i64, i64)> =
        sqlx::query_as("SELECT active, COUNT(*) FROM users WHERE org_id = $1 GROUP BY active")
            .bind(org_id)
            .fetch_all(conn)
            .await?;
    let get = |a: i64| rows.iter().find(|r| r.0 == a).map(|r| r.1).unwrap_or(0);
    Ok((get(1), get(0)))
}

/// Users and groups an identity provider pushed (any source but the console).
pub async fn count_provisioned(conn: &mut AnyConnection, org_id: &str) -> Result<(i64, i64)> {
    Ok(sqlx::query_as(
        "SELECT (SELECT COUNT(*) FROM users WHERE org_id = $1 AND source <> 'console'), \
         (SELECT COUNT(*) FROM groups WHERE org_id = $2 AND source <> 'console')",
    )
    .bind(org_id)
    .bind(org_id)
    .fetch_one(conn)
    .await?)
}

/// The users of the org with these ids, as members (id, userName, displayName), in the
/// order of `ids`; ids of no user of the org are left out.
pub async fn members_by_id(
    conn: &mut AnyConnection,
    org_id: &str,
    ids: &[String],
) -> Result<Vec<crate::directory::Member>> {
    let mut found: std::collections::HashMap<String, crate::directory::Member> = Default::default();
    for chunk in ids.chunks(500) {
        let mut q = Sql::new("SELECT id, user_name, display_name FROM users WHERE org_id = ");
        q.push_bind(org_id).push(" AND id IN (");
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_bind(id.as_str());
        }
        q.push(")");
        let rows: Vec<(String, String, Option<String>)> =
            q.query_as().fetch_all(&mut *conn).await?;
        for (user_id, user_name, display_name) in rows {
            found.insert(
                user_id.clone(),
                crate::directory::Member {
                    user_id,
                    user_name,
                    display_name,
                },
            );
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}
