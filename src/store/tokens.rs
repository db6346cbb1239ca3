//! SCIM bearer tokens: only the SHA-256 of the secret is stored.

use super::{Result, StoreError};
use crate::directory::{now_ms, ScimToken};
use sqlx::AnyConnection;

#[derive(sqlx::FromRow)]
struct TokenRow {
    id: String,
    org_id: String,
    label: String,
    hint: String,
    created_by: Option<String>,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
    revoked_at: Option<i64>,
    replaced_by: Option<String>,
}

impl From<TokenRow> for ScimToken {
    fn from(r: TokenRow) -> ScimToken {
        ScimToken {
            id: r.id,
            org_id: r.org_id,
            label: r.label,
            hint: r.hint,
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            replaced_by: r.replaced_by,
        }
    }
}

const COLUMNS: &str =
    "id, org_id, label, hint, created_by, created_at, last_used_at, expires_at, revoked_at, replaced_by";

pub async fn insert_token(
    conn: &mut AnyConnection,
    token: &ScimToken,
    token_hash: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO scim_tokens (id, org_id, label, token_hash, hint, created_by, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&token.id)
        .bind(&token.org_id)
        .bind(&token.label)
        .bind(token_hash)
        .bind(&token.hint)
        .bind(&token.created_by)
        .bind(token.created_at)
        .bind(token.expires_at)
        .execute(conn)
        .await
        .map_err(|e| StoreError::conflict_or(e, "token collision"))?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct TokenWithHash {
    #[sqlx(flatten)]
    token: TokenRow,
    token_hash: String,
}

/// The token whose secret hashes to `token_hash`, with that stored hash for a
/// constant-time comparison by the caller.
pub async fn find_token_by_hash(
    conn: &mut AnyConnection,
    token_hash: &str,
) -> Result<Option<(ScimToken, String)>> {
    let row: Option<TokenWithHash> = sqlx::query_as(&format!(
        "SELECT {COLUMNS}, token_hash FROM scim_tokens WHERE token_hash = $1"
    ))
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| (r.token.into(), r.token_hash)))
}

pub async fn list_tokens(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<ScimToken>> {
    let rows: Vec<TokenRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM scim_tokens WHERE org_id = $1 ORDER BY created_at DESC, id DESC"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(ScimToken::from).collect())
}

pub async fn find_token(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<ScimToken>> {
    let row: Option<TokenRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM scim_tokens WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(ScimToken::from))
}

/// Revokes a token of `org_id`; revoking an already revoked token is a no-op.
pub async fn revoke_token(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<()> {
    let done = sqlx::query("UPDATE scim_tokens SET revoked_at = COALESCE(revoked_at, $1) WHERE org_id = $2 AND id = $3")
        .bind(now_ms())
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Marks `id` as replaced by `successor` and lets it work until `until` at the latest (an
/// earlier expiry is kept): the overlap of a rotation. A revoked token is not found.
pub async fn retire_token(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    successor: &str,
    until: i64,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE scim_tokens SET replaced_by = $1, \
         expires_at = CASE WHEN expires_at IS NOT NULL AND expires_at < $2 THEN expires_at ELSE $2 END \
         WHERE org_id = $3 AND id = $4 AND revoked_at IS NULL",
    )
    .bind(successor)
    .bind(until)
    .bind(org_id)
    .bind(id)
    .execute(conn)
    .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Records use, at most once a minute per token so reads stay cheap.
pub async fn touch_token(conn: &mut AnyConnection, id: &str, at: i64) -> Result<()> {
    sqlx::query("UPDATE scim_tokens SET last_used_at = $1 WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)")
        .bind(at)
        .bind(id)
        .bind(at - 60_000)
        .execute(conn)
        .await?;
    Ok(())
}
