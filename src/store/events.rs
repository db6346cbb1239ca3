//! The provisioning log: one event per SCIM request and the changes it made.

use super::sql::Sql;
use super::{Result, StoreError};
use crate::directory::{Change, ChangeKind, Event};
use sqlx::AnyConnection;

/// Inserts one event and its changes (a write logs itself in its own transaction). The
/// client's "last request" is left to [`insert_events`] in the log writer: on PostgreSQL the
/// one row per client would make every concurrent write wait on its lock until COMMIT.
pub async fn insert_event(conn: &mut AnyConnection, e: &Event) -> Result<()> {
    insert_events(conn, std::slice::from_ref(e), &[]).await
}

/// [`insert_event`] together with the write's change events (`feed`), in one call to the
/// database where it allows.
pub async fn insert_event_with_feed(
    conn: &mut AnyConnection,
    e: &Event,
    feed: super::feed::Append,
) -> Result<()> {
    let statements = entry_statements(e);
    let statements: Vec<&Sql> = statements.iter().collect();
    feed.run(conn, &statements).await
}

/// The statements that insert one request's log entry and its changes.
pub fn entry_statements(e: &Event) -> Vec<Sql> {
    log_statements(std::slice::from_ref(e), &[])
}

/// One request seen from a client, for the console's per-client "last request".
#[derive(Clone, Debug, PartialEq)]
pub struct ClientSeen {
    pub org_id: String,
    pub client: String,
    pub at: i64,
    pub status: i64,
    pub token_label: Option<String>,
}

impl ClientSeen {
    /// None for a request no org can be told of (an unknown org in the URL) and for one
    /// whose token nobody issued: a stranger's requests move no client's "last request".
    pub fn of(e: &Event) -> Option<ClientSeen> {
        e.token_id.as_ref()?;
        Some(ClientSeen {
            org_id: e.org_id.clone()?,
            client: e.client.clone(),
            at: e.occurred_at,
            status: e.status,
            token_label: e.token_label.clone(),
        })
    }
}

/// Rows per multi-row INSERT (well under both databases' bind-parameter limits).
const ROWS_PER_INSERT: usize = 32;

/// Inserts events with their changes, and moves each client's "last request" forward to
/// the latest of `seen`. Multi-row INSERTs, one activity row per client however many
/// requests there were, and all of it in one call ([`Sql::insert_all`]): the log is written
/// for every request, so its cost is paid at request rate.
pub async fn insert_events(
    conn: &mut AnyConnection,
    events: &[Event],
    seen: &[ClientSeen],
) -> Result<()> {
    let statements = log_statements(events, seen);
    let statements: Vec<&Sql> = statements.iter().collect();
    Ok(Sql::insert_all(conn, &statements).await?)
}

/// The INSERTs of [`insert_events`].
fn log_statements(events: &[Event], seen: &[ClientSeen]) -> Vec<Sql> {
    let mut statements = Vec::new();
    for chunk in events.chunks(ROWS_PER_INSERT) {
        let mut q = Sql::new(
            "INSERT INTO events (id, org_id, occurred_at, token_id, token_label, method, path, query, client, status, scim_type, duration_us, request_body, response_summary, remote_addr, user_agent) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(&e.id)
                .push(", ")
                .push_bind(e.org_id.clone())
                .push(", ")
                .push_bind(e.occurred_at)
                .push(", ")
                .push_bind(e.token_id.clone())
                .push(", ")
                .push_bind(e.token_label.clone())
                .push(", ")
                .push_bind(&e.method)
                .push(", ")
                .push_bind(&e.path)
                .push(", ")
                .push_bind(e.query.clone())
                .push(", ")
                .push_bind(&e.client)
                .push(", ")
                .push_bind(e.status)
                .push(", ")
                .push_bind(e.scim_type.clone())
                .push(", ")
                .push_bind(e.duration_us)
                .push(", ")
                .push_bind(e.request_body.clone())
                .push(", ")
                .push_bind(e.response_summary.clone())
                .push(", ")
                .push_bind(e.remote_addr.clone())
                .push(", ")
                .push_bind(e.user_agent.clone())
                .push(")");
        }
        statements.push(q);
    }
    let changes: Vec<(&Event, usize, &Change)> = events
        .iter()
        .flat_map(|e| e.changes.iter().enumerate().map(move |(p, c)| (e, p, c)))
        .collect();
    for chunk in changes.chunks(ROWS_PER_INSERT) {
        let mut q = Sql::new(
            "INSERT INTO event_changes (event_id, position, org_id, resource_type, resource_id, resource_name, kind, detail) VALUES ",
        );
        for (i, (e, pos, c)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(&e.id)
                .push(", ")
                .push_bind(*pos as i64)
                .push(", ")
                .push_bind(e.org_id.clone().unwrap_or_default())
                .push(", ")
                .push_bind(&c.resource_type)
                .push(", ")
                .push_bind(&c.resource_id)
                .push(", ")
                .push_bind(c.resource_name.clone())
                .push(", ")
                .push_bind(c.kind.as_str())
                .push(", ")
                .push_bind(c.detail.as_ref().map(|d| d.to_string()))
                .push(")");
        }
        statements.push(q);
    }
    // The latest request of each (org, client), and its first accepted one in this batch;
    // an upsert may not touch one row twice.
    let mut latest: Vec<(ClientSeen, Option<i64>)> = Vec::new();
    for e in seen.iter().cloned() {
        let ok_at = (e.status != 401).then_some(e.at);
        match latest
            .iter_mut()
            .find(|(l, _)| l.org_id == e.org_id && l.client == e.client)
        {
            Some((l, first)) => {
                *first = match (*first, ok_at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if l.at <= e.at {
                    *l = e;
                }
            }
            None => latest.push((e, ok_at)),
        }
    }
    for chunk in latest.chunks(ROWS_PER_INSERT) {
        let mut q = Sql::new(
            "INSERT INTO client_activity (org_id, client, last_at, last_status, last_token_label, first_ok_at) VALUES ",
        );
        for (i, (e, first)) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(&e.org_id)
                .push(", ")
                .push_bind(&e.client)
                .push(", ")
                .push_bind(e.at)
                .push(", ")
                .push_bind(e.status)
                .push(", ")
                .push_bind(e.token_label.clone())
                .push(", ")
                .push_bind(first.map_or(super::sql::Arg::NullInt, super::sql::Arg::Int))
                .push(")");
        }
        // The update is two: `last_*` only moves forward; `first_ok_at` only back (log
        // batches from several instances may arrive out of order).
        q.push(
            " ON CONFLICT (org_id, client) DO UPDATE SET \
             last_at = CASE WHEN client_activity.last_at <= excluded.last_at THEN excluded.last_at ELSE client_activity.last_at END, \
             last_status = CASE WHEN client_activity.last_at <= excluded.last_at THEN excluded.last_status ELSE client_activity.last_status END, \
             last_token_label = CASE WHEN client_activity.last_at <= excluded.last_at THEN excluded.last_token_label ELSE client_activity.last_token_label END, \
             first_ok_at = CASE WHEN client_activity.first_ok_at IS NULL OR excluded.first_ok_at < client_activity.first_ok_at \
                 THEN COALESCE(excluded.first_ok_at, client_activity.first_ok_at) ELSE client_activity.first_ok_at END",
        );
        statements.push(q);
    }
    statements
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
    remote_addr: Option<String>,
    user_agent: Option<String>,
}

const COLUMNS: &str = "id, org_id, occurred_at, token_id, token_label, method, path, query, client, status, scim_type, duration_us, request_body, response_summary, remote_addr, user_agent";

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

/// The changes of several events in one query per 500 events (a log page must not query
/// once per event), by event id.
async fn changes_of_many(
    conn: &mut AnyConnection,
    event_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<Change>>> {
    #[derive(sqlx::FromRow)]
    struct Row {
        event_id: String,
        #[sqlx(flatten)]
        change: ChangeRow,
    }
    let mut out: std::collections::HashMap<String, Vec<Change>> = Default::default();
    for chunk in event_ids.chunks(500) {
        let mut q = super::sql::Sql::new(
            "SELECT event_id, resource_type, resource_id, resource_name, kind, detail FROM event_changes WHERE event_id IN (",
        );
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_bind(*id);
        }
        q.push(") ORDER BY event_id, position");
        let rows: Vec<Row> = q.query_as().fetch_all(&mut *conn).await?;
        for r in rows {
            let c = r.change;
            out.entry(r.event_id).or_default().push(Change {
                resource_type: c.resource_type,
                resource_id: c.resource_id,
                resource_name: c.resource_name,
                kind: kind_from(&c.kind)?,
                detail: c.detail.and_then(|d| serde_json::from_str(&d).ok()),
            });
        }
    }
    Ok(out)
}

/// Events with their changes: two queries whatever the number of events.
async fn with_changes(conn: &mut AnyConnection, rows: Vec<EventRow>) -> Result<Vec<Event>> {
    let ids: Vec<&str> = rows.iter().map(|r| r.id.as_str()).collect();
    let mut changes = if ids.is_empty() {
        Default::default()
    } else {
        changes_of_many(conn, &ids).await?
    };
    Ok(rows
        .into_iter()
        .map(|r| {
            let c = changes.remove(&r.id).unwrap_or_default();
            to_event(r, c)
        })
        .collect())
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
        remote_addr: r.remote_addr,
        user_agent: r.user_agent,
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
    with_changes(conn, rows).await
}

/// Deletes events older than `before` (Unix ms); returns how many.
pub async fn prune_events(conn: &mut AnyConnection, before: i64) -> Result<u64> {
    Ok(sqlx::query("DELETE FROM events WHERE occurred_at < $1")
        .bind(before)
        .execute(conn)
        .await?
        .rows_affected())
}

/// The provisioning log's filters (all optional, combined with AND).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct EventFilter {
    /// Unix ms, inclusive.
    pub from: Option<i64>,
    /// Unix ms, exclusive.
    pub to: Option<i64>,
    /// `success` (< 400), `client` (4xx) or `server` (5xx).
    pub status_class: Option<String>,
    /// A change kind, e.g. `created` or `member_added`.
    pub kind: Option<String>,
    pub resource_id: Option<String>,
    pub client: Option<String>,
    pub token_id: Option<String>,
    /// Only requests that presented a token this org issued (valid, revoked or expired).
    #[serde(default)]
    pub identified: bool,
    /// The start of a touched resource's name (userName, displayName), case-insensitive.
    pub text: Option<String>,
    /// Keyset cursor: only events older than this id.
    pub before: Option<String>,
    /// Keyset cursor the other way ("Newer"): only events newer than this id, and the
    /// page is the oldest `limit` of them (still listed newest first).
    #[serde(default)]
    pub after: Option<String>,
}

/// How far back (in requests) the dashboard's "recent requests with the org's tokens" look.
pub const IDENTIFIED_WINDOW: i64 = 2000;

/// One page of the log, newest first.
pub async fn search_events(
    conn: &mut AnyConnection,
    org_id: &str,
    f: &EventFilter,
    limit: i64,
) -> Result<Vec<Event>> {
    let mut q = super::sql::Sql::new(format!("SELECT {COLUMNS} FROM events WHERE org_id = "));
    q.push_bind(org_id);
    if let Some(b) = &f.before {
        q.push(" AND id < ").push_bind(b.as_str());
    }
    if let Some(a) = &f.after {
        q.push(" AND id > ").push_bind(a.as_str());
    }
    if let Some(from) = f.from {
        q.push(" AND occurred_at >= ").push_bind(from);
    }
    if let Some(to) = f.to {
        q.push(" AND occurred_at < ").push_bind(to);
    }
    match f.status_class.as_deref() {
        Some("success") => {
            q.push(" AND status < 400");
        }
        Some("client") => {
            q.push(" AND status >= 400 AND status < 500");
        }
        Some("server") => {
            q.push(" AND status >= 500");
        }
        _ => {}
    }
    if let Some(c) = &f.client {
        q.push(" AND client = ").push_bind(c.as_str());
    }
    if f.identified {
        // Among the newest IDENTIFIED_WINDOW requests only: there is no index on tokens (every
        // logged request would pay for it), and an org whose log holds no identified request
        // (a flood of strangers' 401s, or a seeded log) must not cost a scan of all of it.
        q.push(" AND token_id IS NOT NULL AND id >= (SELECT MIN(w.id) FROM (SELECT id FROM events WHERE org_id = ")
            .push_bind(org_id)
            .push(" ORDER BY id DESC LIMIT ")
            .push_bind(IDENTIFIED_WINDOW)
            .push(") w)");
    }
    if let Some(t) = &f.token_id {
        q.push(" AND token_id = ").push_bind(t.as_str());
    }
    // Resource and name filters start from the change index, so they stay fast however
    // many events the org has; the kind filter is common enough to scan newest-first.
    if let Some(r) = &f.resource_id {
        q.push(" AND id IN (SELECT c.event_id FROM event_changes c WHERE c.org_id = ")
            .push_bind(org_id)
            .push(" AND c.resource_id = ")
            .push_bind(r.as_str())
            .push(")");
    }
    // A name: the start of a touched resource's name (a userName, a group's displayName,
    // also of users since deleted), or every word of it starting a word of a user's names
    // or emails (the people search's index): each side an index range.
    if let Some(t) = &f.text {
        let lo = t.to_lowercase();
        let hi = format!("{lo}\u{10ffff}");
        q.push(" AND id IN (SELECT c.event_id FROM event_changes c WHERE c.org_id = ")
            .push_bind(org_id)
            .push(" AND lower(c.resource_name) >= ")
            .push_bind(lo)
            .push(" AND lower(c.resource_name) < ")
            .push_bind(hi);
        let words = super::search::query_words(t);
        if !words.is_empty() {
            q.push(" UNION SELECT c.event_id FROM event_changes c WHERE c.org_id = ")
                .push_bind(org_id)
                .push(" AND ");
            super::search::push_match(&mut q, "c.resource_id", org_id, &words);
        }
        q.push(")");
    }
    if let Some(k) = &f.kind {
        q.push(
            " AND EXISTS (SELECT 1 FROM event_changes c WHERE c.event_id = events.id AND c.kind = ",
        )
        .push_bind(k.as_str())
        .push(")");
    }
    let order = if f.after.is_some() { "ASC" } else { "DESC" };
    q.push(format!(" ORDER BY id {order} LIMIT "))
        .push_bind(limit);
    let mut rows: Vec<EventRow> = q.query_as().fetch_all(&mut *conn).await?;
    if f.after.is_some() {
        rows.reverse();
    }
    with_changes(conn, rows).await
}

/// Events that touched one resource, newest first.
pub async fn events_for_resource(
    conn: &mut AnyConnection,
    org_id: &str,
    resource_id: &str,
    limit: i64,
) -> Result<Vec<Event>> {
    let f = EventFilter {
        resource_id: Some(resource_id.to_string()),
        ..EventFilter::default()
    };
    search_events(conn, org_id, &f, limit).await
}

/// The time and client of the org's first request that one of its own tokens got through
/// (not a 401): when its identity provider connected. UUIDv7 ids are time-ordered, so this
/// reads the org's oldest events first and stops at the first match.
pub async fn first_accepted(
    conn: &mut AnyConnection,
    org_id: &str,
) -> Result<Option<(i64, String)>> {
    // One row per client the org has seen (see `client_activity`), not the log.
    Ok(sqlx::query_as(
        "SELECT first_ok_at, client FROM client_activity WHERE org_id = $1 AND first_ok_at IS NOT NULL \
         ORDER BY first_ok_at LIMIT 1",
    )
    .bind(org_id)
    .fetch_optional(conn)
    .await?)
}

/// Requests and errors per hour since `since` (Unix ms): (hour start, total, errors).
pub async fn hourly_counts(
    conn: &mut AnyConnection,
    org_id: &str,
    since: i64,
) -> Result<Vec<(i64, i64, i64)>> {
    Ok(sqlx::query_as(
        "SELECT (occurred_at / 3600000) * 3600000 AS hour, COUNT(*) AS total, \
         SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors \
         FROM events WHERE org_id = $1 AND occurred_at >= $2 GROUP BY (occurred_at / 3600000) * 3600000 ORDER BY hour",
    )
    .bind(org_id)
    .bind(since)
    .fetch_all(conn)
    .await?)
}

#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ClientActivity {
    pub client: String,
    pub last_at: i64,
    pub last_status: i64,
    pub last_token_label: Option<String>,
}

pub async fn client_activity(
    conn: &mut AnyConnection,
    org_id: &str,
) -> Result<Vec<ClientActivity>> {
    Ok(sqlx::query_as("SELECT client, last_at, last_status, last_token_label FROM client_activity WHERE org_id = $1 ORDER BY last_at DESC")
        .bind(org_id)
        .fetch_all(conn)
        .await?)
}
