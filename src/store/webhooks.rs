//! Webhook endpoints, their leases and cursors, and every delivery attempt (see the
//! migration for the model).

use super::{Backend, Result};
use crate::directory::{new_id, now_ms};
use serde::{Deserialize, Serialize};
use sqlx::AnyConnection;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Endpoint {
    pub id: String,
    pub org_id: String,
    pub url: String,
    pub description: String,
    pub event_types: String,
    /// Sealed (see [`crate::auth::sealing`]).
    pub secret: String,
    pub secret_hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub cursor_seq: i64,
    pub attempt: i64,
    pub next_attempt_at: i64,
    pub failing_since: Option<i64>,
    pub last_success_at: Option<i64>,
}

impl Endpoint {
    /// The event types it receives; empty: all.
    pub fn types(&self) -> Vec<&str> {
        self.event_types
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect()
    }
}

const COLUMNS: &str = "id, org_id, url, description, event_types, secret, secret_hint, created_by, created_at, disabled_at, disabled_reason, cursor_seq, attempt, next_attempt_at, failing_since, last_success_at";

pub async fn insert(conn: &mut AnyConnection, e: &Endpoint) -> Result<()> {
    sqlx::query("INSERT INTO webhook_endpoints (id, org_id, url, description, event_types, secret, secret_hint, created_by, created_at, cursor_seq, attempt, next_attempt_at, lease_until) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 0, 0, 0)")
        .bind(&e.id)
        .bind(&e.org_id)
        .bind(&e.url)
        .bind(&e.description)
        .bind(&e.event_types)
        .bind(&e.secret)
        .bind(&e.secret_hint)
        .bind(&e.created_by)
        .bind(e.created_at)
        .bind(e.cursor_seq)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn list(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<Endpoint>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = $1 ORDER BY created_at, id"
    ))
    .bind(org_id)
    .fetch_all(conn)
    .await?)
}

pub async fn find(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<Endpoint>> {
    Ok(sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM webhook_endpoints WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

pub async fn delete(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("DELETE FROM webhook_endpoints WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Turns an endpoint back on: its next attempt is due now.
pub async fn enable(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<bool> {
    let done = sqlx::query("UPDATE webhook_endpoints SET disabled_at = NULL, disabled_reason = NULL, failing_since = NULL, attempt = 0, next_attempt_at = 0 WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// Claims up to `limit` enabled endpoints that are due and have events past their cursor,
/// leasing them to `me` until `lease_until`. On PostgreSQL the rows are picked with
/// `FOR UPDATE SKIP LOCKED`, so instances claiming at once take different endpoints; on
/// both databases the lease check is in the UPDATE itself, so a row is never claimed twice.
pub async fn claim_due(
    conn: &mut AnyConnection,
    me: &str,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<Endpoint>> {
    let due = "w.disabled_at IS NULL AND w.next_attempt_at <= $2 AND w.lease_until < $2 \
               AND EXISTS (SELECT 1 FROM change_events e WHERE e.org_id = w.org_id AND e.seq > w.cursor_seq)";
    let sql = match Backend::of(conn) {
        Backend::Postgres => format!(
            "UPDATE webhook_endpoints SET lease_until = $1, leased_by = $3 WHERE id IN \
             (SELECT w.id FROM webhook_endpoints w WHERE {due} ORDER BY w.next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING {COLUMNS}"
        ),
        Backend::Sqlite => format!(
            "UPDATE webhook_endpoints SET lease_until = $1, leased_by = $3 WHERE id IN \
             (SELECT w.id FROM webhook_endpoints w WHERE {due} ORDER BY w.next_attempt_at LIMIT $4) \
             RETURNING {COLUMNS}"
        ),
    };
    Ok(sqlx::query_as(&sql)
        .bind(lease_until)
        .bind(now)
        .bind(me)
        .bind(limit)
        .fetch_all(conn)
        .await?)
}

/// Whether any endpoint is due or any resend waits: a read, so that an idle dispatcher
/// costs the writers nothing (claiming is a write transaction).
pub async fn anything_due(conn: &mut AnyConnection, now: i64) -> Result<bool> {
    let due: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM webhook_endpoints w WHERE w.disabled_at IS NULL AND w.next_attempt_at <= $1 AND w.lease_until < $1 \
         AND EXISTS (SELECT 1 FROM change_events e WHERE e.org_id = w.org_id AND e.seq > w.cursor_seq) \
         UNION ALL SELECT 1 FROM webhook_resends WHERE lease_until < $1 LIMIT 1",
    )
    .bind(now)
    .fetch_optional(conn)
    .await?;
    Ok(due.is_some())
}

/// Whether the dispatcher has anything to follow: an enabled endpoint in any org, or a
/// resend an admin asked for. With neither, commits need not wake it.
pub async fn any_work(conn: &mut AnyConnection) -> Result<bool> {
    let one: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM webhook_endpoints WHERE disabled_at IS NULL \
         UNION ALL SELECT 1 FROM webhook_resends LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    Ok(one.is_some())
}

/// Extends `me`'s lease; false when it was lost (expired and taken by another instance).
pub async fn renew(conn: &mut AnyConnection, id: &str, me: &str, lease_until: i64) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET lease_until = $1 WHERE id = $2 AND leased_by = $3",
    )
    .bind(lease_until)
    .bind(id)
    .bind(me)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Where delivery stands after a round of attempts.
#[derive(Clone, Debug)]
pub struct Progress {
    pub cursor_seq: i64,
    pub attempt: i64,
    pub next_attempt_at: i64,
    pub failing_since: Option<i64>,
    pub last_success_at: Option<i64>,
    pub disabled_reason: Option<String>,
}

/// Records `me`'s progress and releases the lease, if `me` still holds it.
pub async fn save_progress(
    conn: &mut AnyConnection,
    id: &str,
    me: &str,
    p: &Progress,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET cursor_seq = $1, attempt = $2, next_attempt_at = $3, failing_since = $4, \
         last_success_at = $5, disabled_at = CASE WHEN $6 IS NULL THEN disabled_at ELSE $7 END, \
         disabled_reason = COALESCE($6, disabled_reason), lease_until = 0, leased_by = NULL \
         WHERE id = $8 AND leased_by = $9",
    )
    .bind(p.cursor_seq)
    .bind(p.attempt)
    .bind(p.next_attempt_at)
    .bind(p.failing_since)
    .bind(p.last_success_at)
    .bind(p.disabled_reason.as_deref())
    .bind(now_ms())
    .bind(id)
    .bind(me)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records `me`'s progress mid-way and extends its lease; false when the lease was lost.
pub async fn checkpoint(
    conn: &mut AnyConnection,
    id: &str,
    me: &str,
    p: &Progress,
    lease_until: i64,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE webhook_endpoints SET cursor_seq = $1, attempt = $2, failing_since = $3, last_success_at = $4, \
         lease_until = $5 WHERE id = $6 AND leased_by = $7",
    )
    .bind(p.cursor_seq)
    .bind(p.attempt)
    .bind(p.failing_since)
    .bind(p.last_success_at)
    .bind(lease_until)
    .bind(id)
    .bind(me)
    .execute(conn)
    .await?;
    Ok(done.rows_affected() == 1)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, sqlx::FromRow)]
pub struct Attempt {
    pub id: String,
    pub endpoint_id: String,
    pub event_id: String,
    pub seq: i64,
    pub event_type: String,
    pub attempted_at: i64,
    pub outcome: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    pub response_excerpt: Option<String>,
}

impl Attempt {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        endpoint_id: &str,
        event_id: &str,
        seq: i64,
        event_type: &str,
        outcome: &str,
        status_code: Option<i64>,
        latency_ms: i64,
        error: Option<String>,
        response_excerpt: Option<String>,
    ) -> Attempt {
        Attempt {
            id: new_id(),
            endpoint_id: endpoint_id.into(),
            event_id: event_id.into(),
            seq,
            event_type: event_type.into(),
            attempted_at: now_ms(),
            outcome: outcome.into(),
            status_code,
            latency_ms,
            error,
            response_excerpt,
        }
    }
}

pub async fn insert_attempts(conn: &mut AnyConnection, attempts: &[Attempt]) -> Result<()> {
    for chunk in attempts.chunks(200) {
        let mut q = super::sql::Sql::new("INSERT INTO webhook_attempts (id, endpoint_id, event_id, seq, event_type, attempted_at, outcome, status_code, latency_ms, error, response_excerpt) VALUES ");
        for (i, a) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .push_bind(a.id.as_str())
                .push(", ")
                .push_bind(a.endpoint_id.as_str())
                .push(", ")
                .push_bind(a.event_id.as_str())
                .push(", ")
                .push_bind(a.seq)
                .push(", ")
                .push_bind(a.event_type.as_str())
                .push(", ")
                .push_bind(a.attempted_at)
                .push(", ")
                .push_bind(a.outcome.as_str())
                .push(", ")
                .push_bind(a.status_code)
                .push(", ")
                .push_bind(a.latency_ms)
                .push(", ")
                .push_bind(a.error.clone())
                .push(", ")
                .push_bind(a.response_excerpt.clone())
                .push(")");
        }
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// The newest attempts of an endpoint, newest first.
pub async fn recent_attempts(
    conn: &mut AnyConnection,
    endpoint_id: &str,
    limit: i64,
) -> Result<Vec<Attempt>> {
    Ok(sqlx::query_as(
        "SELECT id, endpoint_id, event_id, seq, event_type, attempted_at, outcome, status_code, latency_ms, error, response_excerpt \
         FROM webhook_attempts WHERE endpoint_id = $1 ORDER BY attempted_at DESC, id DESC LIMIT $2",
    )
    .bind(endpoint_id)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn request_resend(
    conn: &mut AnyConnection,
    endpoint_id: &str,
    event_id: &str,
) -> Result<()> {
    sqlx::query("INSERT INTO webhook_resends (id, endpoint_id, event_id, requested_at, lease_until) VALUES ($1, $2, $3, $4, 0)")
        .bind(new_id())
        .bind(endpoint_id)
        .bind(event_id)
        .bind(now_ms())
        .execute(conn)
        .await?;
    Ok(())
}

/// A resend claimed by `me`: (resend id, endpoint, event id).
pub async fn claim_resends(
    conn: &mut AnyConnection,
    now: i64,
    lease_until: i64,
    limit: i64,
) -> Result<Vec<(String, String, String)>> {
    let skip = match Backend::of(conn) {
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    Ok(sqlx::query_as(&format!(
        "UPDATE webhook_resends SET lease_until = $1 WHERE id IN \
         (SELECT id FROM webhook_resends WHERE lease_until < $2 ORDER BY requested_at LIMIT $3{skip}) \
         RETURNING id, endpoint_id, event_id"
    ))
    .bind(lease_until)
    .bind(now)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

pub async fn finish_resend(conn: &mut AnyConnection, id: &str) -> Result<()> {
    sqlx::query("DELETE FROM webhook_resends WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Endpoints of the org that are disabled (for the dashboard).
pub async fn count_disabled(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    Ok(sqlx::query_scalar(
        "SELECT COUNT(*) FROM webhook_endpoints WHERE org_id = $1 AND disabled_at IS NOT NULL",
    )
    .bind(org_id)
    .fetch_one(conn)
    .await?)
}

/// One change event by id (for a resend).
pub async fn event_by_id(
    conn: &mut AnyConnection,
    org_id: &str,
    event_id: &str,
) -> Result<Option<crate::directory::feed::ChangeEvent>> {
    let list = super::feed::by_id(conn, org_id, event_id).await?;
    Ok(list)
}
