//! The console's audit trail: who changed what, when.

use super::Result;
use crate::directory::{new_id, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub id: String,
    pub org_id: String,
    pub admin_id: Option<String>,
    pub admin_email: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
    pub occurred_at: i64,
}

pub async fn record(
    conn: &mut AnyConnection,
    org_id: &str,
    admin_id: Option<&str>,
    admin_email: &str,
    action: &str,
    target: Option<&str>,
    detail: Option<&str>,
) -> Result<()> {
    sqlx::query("INSERT INTO audit_log (id, org_id, admin_id, admin_email, action, target, detail, occurred_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(new_id())
        .bind(org_id)
        .bind(admin_id)
        .bind(admin_email)
        .bind(action)
        .bind(target)
        .bind(detail)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

/// Newest first, keyset-paginated by id.
pub async fn list(
    conn: &mut AnyConnection,
    org_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<AuditEntry>> {
    let mut q = super::sql::Sql::new("SELECT id, org_id, admin_id, admin_email, action, target, detail, occurred_at FROM audit_log WHERE org_id = ");
    q.push_bind(org_id);
    if let Some(b) = before {
        q.push(" AND id < ").push_bind(b);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(limit);
    Ok(q.query_as().fetch_all(conn).await?)
}
