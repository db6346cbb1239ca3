//! Invitations of admins to an org: created by an admin of the org, answered by the invited
//! person (accepted or declined), never both; pending ones expire.

use super::Result;
use crate::directory::{new_id, now_ms};
use sqlx::AnyConnection;

#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct Invitation {
    pub id: String,
    pub org_id: String,
    pub email: String,
    pub invited_by_email: String,
    pub created_at: i64,
    pub expires_at: i64,
}

/// A pending invitation with its org, for the invited person.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct PendingInvitation {
    pub id: String,
    pub org_id: String,
    pub org_login: String,
    pub org_name: String,
    pub invited_by_email: String,
    pub expires_at: i64,
}

pub async fn insert_invitation(
    conn: &mut AnyConnection,
    org_id: &str,
    email: &str,
    code_hash: &str,
    invited_by_email: &str,
    ttl_ms: i64,
) -> Result<Invitation> {
    let now = now_ms();
    let inv = Invitation {
        id: new_id(),
        org_id: org_id.to_string(),
        email: email.to_string(),
        invited_by_email: invited_by_email.to_string(),
        created_at: now,
        expires_at: now + ttl_ms,
    };
    sqlx::query("INSERT INTO admin_invitations (id, org_id, email_key, email, code_hash, invited_by_email, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&inv.id)
        .bind(&inv.org_id)
        .bind(email.trim().to_lowercase())
        .bind(&inv.email)
        .bind(code_hash)
        .bind(&inv.invited_by_email)
        .bind(inv.created_at)
        .bind(inv.expires_at)
        .execute(conn)
        .await?;
    Ok(inv)
}

const PENDING: &str = "SELECT i.id, i.org_id, o.login AS org_login, o.name AS org_name, i.invited_by_email, i.expires_at \
     FROM admin_invitations i JOIN orgs o ON o.id = i.org_id \
     WHERE i.answered_at IS NULL AND i.expires_at > $1";

/// Pending, unexpired invitations for an email (case-insensitive), oldest first.
pub async fn pending_for_email(
    conn: &mut AnyConnection,
    email: &str,
    now: i64,
) -> Result<Vec<PendingInvitation>> {
    Ok(sqlx::query_as(&format!(
        "{PENDING} AND i.email_key = $2 ORDER BY i.created_at"
    ))
    .bind(now)
    .bind(email.trim().to_lowercase())
    .fetch_all(conn)
    .await?)
}

/// The pending invitation with this code for this email, if any.
pub async fn pending_by_code(
    conn: &mut AnyConnection,
    email: &str,
    code_hash: &str,
    now: i64,
) -> Result<Option<PendingInvitation>> {
    Ok(sqlx::query_as(&format!(
        "{PENDING} AND i.email_key = $2 AND i.code_hash = $3"
    ))
    .bind(now)
    .bind(email.trim().to_lowercase())
    .bind(code_hash)
    .fetch_optional(conn)
    .await?)
}

/// Pending, unexpired invitations of an org, newest first.
pub async fn pending_for_org(
    conn: &mut AnyConnection,
    org_id: &str,
    now: i64,
) -> Result<Vec<Invitation>> {
    Ok(sqlx::query_as(
        "SELECT id, org_id, email, invited_by_email, created_at, expires_at FROM admin_invitations \
         WHERE org_id = $1 AND answered_at IS NULL AND expires_at > $2 ORDER BY created_at DESC LIMIT 100",
    )
    .bind(org_id)
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// Records the answer; false when the invitation was already answered (a race, or a replay).
pub async fn answer(conn: &mut AnyConnection, id: &str, accepted: bool, now: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE admin_invitations SET answered_at = $2, accepted = $3 WHERE id = $1 AND answered_at IS NULL",
    )
    .bind(id)
    .bind(now)
    .bind(accepted)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}
