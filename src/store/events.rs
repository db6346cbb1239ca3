//! The provisioning log: one event per SCIM request and the changes it made.

use super::{Result, StoreError};
use crate::directory::{Change, ChangeKind, Event};
use sqlx::AnyConnection;

pub async fn insert_event(conn: &mut AnyConnection, e: &Event) -> Result<()> {
    sqlx::query(
        "INSERT INTO events (id, org_id, occurred_at, token_id, token_label, method, path, query, client, status, scim_type, duration_us, request_body, response_summary) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
    )
    .bind(&e.id)
    .bind(&e.org_id)
    .bind(e.occurred_at)
    .bind(&e.token_id)
    .bind(&e.token_label)
    .bind(&e.method)
    .bind(&e.path)
    .bind(&e.query)
    .bind(&e.client)
    .bind(e.status)
    .bind(&e.scim_type)
    .bind(e.duration_us)
    .bind(&e.request_body)
    .bind(&e.response_summary)
    .execute(&mut *conn)
    .await?;
    let org = e.org_id.clone().unwrap_or_default();
    for (pos, c) in e.changes.iter().enumerate() {
        sqlx::query(
            "INSERT INTO event_changes (event_id, position, org_id, resource_type, resource_id, resource_name, kind, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&e.id)
        .bind(pos as i64)
        .bind(&org)
        .bind(&c.resource_type)
        .bind(&c.resource_id)
        .bind(&c.resource_name)
        .bind(c.kind.as_str())
        .bind(c.detail.as_ref().map(|d| d.to_string()))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: String,
    org_id: Option<String>,
    occurred_at: i64,
    token_id: Option<String>,
    token_label: Option<String>,
    method: String,
    path: String,
    query: Option<String>,
    client: String,
    status: i64,
    scim_type: Option<String>,
    duration_us: i64,
    request_body: Option<String>,
    response_summary: Option<String>,
}

const COLUMNS: &str = "id, org_id, occurred_at, token_id, token_label, method, path, query, client, status, scim_type, duration_us, request_body, response_summary";

fn kind_from(s: &str) -> Result<ChangeKind> {
    Ok(match s {
        "created" => ChangeKind::Created,
        "updated" => ChangeKind::Updated,
        "deactivated" => ChangeKind::Deactivated,
        "reactivated" => ChangeKind::Reactivated,
        "deleted" => ChangeKind::Deleted,
        "member_added" => ChangeKind::MemberAdded,
        "member_removed" => ChangeKind::MemberRemoved,
        "member_skipped" => ChangeKind::MemberSkipped,
        other => return Err(StoreError::Corrupt(format!("unknown change kind {other}"))),
    })
}

#[derive(sqlx::FromRow)]
struct ChangeRow {
    resource_type: String,
    resource_id: String,
    resource_name: Option<String>,
    kind: String,
    detail: Option<String>,
}

async fn changes_of(conn: &mut AnyConnection, event_id: &str) -> Result<Vec<Change>> {
    let rows: Vec<ChangeRow> = sqlx::query_as(
        "SELECT resource_type, resource_id, resource_name, kind, detail FROM event_changes WHERE event_id = $1 ORDER BY position",
    )
    .bind(event_id)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|r| {
            Ok(Change {
                resource_type: r.resource_type,
                resource_id: r.resource_id,
                resource_name: r.resource_name,
                kind: kind_from(&r.kind)?,
                detail: r.detail.and_then(|d| serde_json::from_str(&d).ok()),
            })
        })
        .collect()
}

fn to_event(r: EventRow, changes: Vec<Change>) -> Event {
    Event {
        id: r.id,
        org_id: r.org_id,
        occurred_at: r.occurred_at,
        token_id: r.token_id,
        token_label: r.token_label,
        method: r.method,
        path: r.path,
        query: r.query,
        client: r.client,
        status: r.status,
        scim_type: r.scim_type,
        duration_us: r.duration_us,
        request_body: r.request_body,
        response_summary: r.response_summary,
        changes,
    }
}

pub async fn find_event(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<Event>> {
    let row: Option<EventRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        None => Ok(None),
        Some(r) => {
            let changes = changes_of(conn, &r.id).await?;
            Ok(Some(to_event(r, changes)))
        }
    }
}

/// Newest first, keyset-paginated by id (UUIDv7 ids are time-ordered).
pub async fn list_events(
    conn: &mut AnyConnection,
    org_id: &str,
    before: Option<&str>,
    limit: i64,
) -> Result<Vec<Event>> {
    let rows: Vec<EventRow> = match before {
        Some(b) => {
            sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM events WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3"
        ))
            .bind(org_id)
            .bind(b)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
        None => {
            sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM events WHERE org_id = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(org_id)
            .bind(limit)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    let mut out = Vec::with_capacity(rows.len());
    for r in rows {
        let changes = changes_of(conn, &r.id).await?;
        out.push(to_event(r, changes));
    }
    Ok(out)
}

/// Deletes events older than `before` (Unix ms); returns how many.
pub async fn prune_events(conn: &mut AnyConnection, before: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM events WHERE occurred_at < $1")
        .bind(before)
        .execute(conn)
        .await?
        .rows_affected())
}
