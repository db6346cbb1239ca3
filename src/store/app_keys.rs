//! Application keys: only the SHA-256 of the secret is stored.

use super::{Result, StoreError};
use crate::directory::AppKey;
use sqlx::AnyConnection;

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    label: String,
    hint: String,
    created_by: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    revoked_at: Option<i64>,
}

impl From<Row> for AppKey {
    fn from(r: Row) -> AppKey {
        AppKey {
            id: r.id,
            org_id: r.org_id,
            label: r.label,
            hint: r.hint,
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        }
    }
}

const COLUMNS: &str = "id, org_id, label, hint, created_by, created_at, last_used_at, revoked_at";

pub async fn insert(conn: &mut AnyConnection, key: &AppKey, key_hash: &str) -> Result<()> {
    sqlx::query("INSERT INTO app_keys (id, org_id, label, key_hash, hint, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
        .bind(&key.id)
        .bind(&key.org_id)
        .bind(&key.label)
        .bind(key_hash)
        .bind(&key.hint)
        .bind(&key.created_by)
        .bind(key.created_at)
        .execute(conn)
        .await
        .map_err(|e| StoreError::conflict_or(e, "key collision"))?;
    Ok(())
}

pub async fn list(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<AppKey>> {
    let rows: Vec<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_keys WHERE org_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Into::into).collect())
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<AppKey>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM app_keys WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Into::into))
}

#[derive(sqlx::FromRow)]
struct WithHash {
    #[sqlx(flatten)]
    key: Row,
    key_hash: String,
}

/// The key whose secret hashes to `key_hash`, with the stored hash for a constant-time
/// comparison by the caller.
pub async fn find_by_hash(
    conn: &mut AnyConnection,
    key_hash: &str,
) -> Result<Option<(AppKey, String)>> {
    let row: Option<WithHash> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, key_hash FROM app_keys WHERE key_hash = $1"
    ))
    .bind(key_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.key.into(), r.key_hash)))
}

/// Revokes the key; false when it was not there or already revoked.
pub async fn revoke(conn: &mut AnyConnection, org_id: &str, id: &str, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE app_keys SET revoked_at = $1 WHERE org_id = $2 AND id = $3 AND revoked_at IS NULL",
    )
    .bind(now)
    .bind(org_id)
    .bind(id)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records a use, at most once a minute per key (a busy reader does not write per request).
pub async fn touch(conn: &mut AnyConnection, id: &str, now: i64) -> Result<()> {
    sqlx::query(
        "UPDATE app_keys SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
    )
    .bind(now)
    .bind(id)
    .bind(now - 60_000)
    .execute(conn)
    .await?;
    Ok(())
}
