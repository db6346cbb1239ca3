//! The provisioning log: one event per SCIM request and the changes it made.

use super::sql::Sql;
use super::{Result, StoreError};
use crate::directory::{Change, ChangeKind, Event};
use sqlx::AnyConnection;

/// Inserts one event and its changes (a write logs itself in its own transaction). The
/// client's "last request" is left to [`insert_events`] in the log writer: on PostgreSQL the
/// one row per client would make every concurrent write wait on its lock until COMMIT.
pub async fn insert_event(conn: &mut AnyConnection, e: &Event) -> Result<()> {
    insert_events(conn, std::slice::from_ref(e), &[], &[]).await
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
    log_statements(std::slice::from_ref(e), &[], &[])
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
    reads: &[ReadTraffic],
) -> Result<()> {
    let statements = log_statements(events, seen, reads);
    let statements: Vec<&Sql> = statements.iter().collect();
    Ok(Sql::insert_all(conn, &statements).await?)
}

/// The INSERTs of [`insert_events`].
fn log_statements(events: &[Event], seen: &[ClientSeen], reads: &[ReadTraffic]) -> Vec<Sql> {
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
    // Rows in key order: concurrent batches (several instances) lock them alike.
    latest.sort_by(|(a, _), (b, _)| (&a.org_id, &a.client).cmp(&(&b.org_id, &b.client)));
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
    // Each key at most once per batch (the log writer adds up a batch's reads first): an
    // upsert may not touch one row twice.
    for chunk in reads.chunks(ROWS_PER_INSERT) {
        let mut q = Sql::new(
            "INSERT INTO read_traffic (org_id, minute, client, token_id, token_label, route, remote_addr, user_agent, requests, total_us, max_us) VALUES ",
        );
        for (i, r) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" })
                .push_bind(&r.org_id)
                .push(", ")
                .push_bind(r.minute)
                .push(", ")
                .push_bind(&r.client)
                .push(", ")
                .push_bind(&r.token_id)
                .push(", ")
                .push_bind(r.token_label.clone())
                .push(", ")
                .push_bind(&r.route)
                .push(", ")
                .push_bind(&r.remote_addr)
                .push(", ")
                .push_bind(r.user_agent.clone())
                .push(", ")
                .push_bind(r.requests)
                .push(", ")
                .push_bind(r.total_us)
                .push(", ")
                .push_bind(r.max_us)
                .push(")");
        }
        q.push(
            " ON CONFLICT (org_id, minute, client, token_id, route, remote_addr) DO UPDATE SET \
             requests = read_traffic.requests + excluded.requests, \
             total_us = read_traffic.total_us + excluded.total_us, \
             max_us = CASE WHEN excluded.max_us > read_traffic.max_us THEN excluded.max_us ELSE read_traffic.max_us END, \
             token_label = COALESCE(excluded.token_label, read_traffic.token_label), \
             user_agent = COALESCE(excluded.user_agent, read_traffic.user_agent)",
        );
        statements.push(q);
    }
    statements
}

/// Successful reads of one (org, minute, client, token, route), counted instead of logged
/// one row each (see `serve --log-reads`).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize, sqlx::FromRow)]
pub struct ReadTraffic {
    pub org_id: String,
    /// Unix ms of the minute's start.
    pub minute: i64,
    pub client: String,
    /// Empty when the request had no token (cannot happen for a 2xx today).
    pub token_id: String,
    pub token_label: Option<String>,
    pub route: String,
    /// The client's address, empty if unknown.
    pub remote_addr: String,
    /// The latest `User-Agent` seen (truncated as in the log).
    pub user_agent: Option<String>,
    pub requests: i64,
    pub total_us: i64,
    pub max_us: i64,
}

impl ReadTraffic {
    /// The one-request tally of `e`, if it is a read counted per minute: a GET (or HEAD, or
    /// a POST to a `.search` endpoint) that succeeded (2xx) and changed nothing, made by a
    /// known org. Everything else (writes, failures, 401s) keeps its full row.
    pub fn of(e: &Event) -> Option<ReadTraffic> {
        let read = matches!(e.method.as_str(), "GET" | "HEAD")
            || (e.method == "POST" && e.path.ends_with("/.search"));
        if !read || !(200..300).contains(&e.status) || !e.changes.is_empty() {
            return None;
        }
        Some(ReadTraffic {
            org_id: e.org_id.clone()?,
            minute: e.occurred_at - e.occurred_at.rem_euclid(60_000),
            client: e.client.clone(),
            token_id: e.token_id.clone().unwrap_or_default(),
            token_label: e.token_label.clone(),
            route: read_route(&e.method, &e.path, e.query.as_deref()),
            remote_addr: e.remote_addr.clone().unwrap_or_default(),
            user_agent: e.user_agent.clone(),
            requests: 1,
            total_us: e.duration_us,
            max_us: e.duration_us,
        })
    }

    fn key(&self) -> (&str, i64, &str, &str, &str, &str) {
        (
            &self.org_id,
            self.minute,
            &self.client,
            &self.token_id,
            &self.route,
            &self.remote_addr,
        )
    }

    /// Adds `other` (same key) into this tally.
    fn add(&mut self, other: &ReadTraffic) {
        self.requests += other.requests;
        self.total_us += other.total_us;
        self.max_us = self.max_us.max(other.max_us);
        if other.token_label.is_some() {
            self.token_label.clone_from(&other.token_label);
        }
        if other.user_agent.is_some() {
            self.user_agent.clone_from(&other.user_agent);
        }
    }

    /// Adds up tallies of the same key, so that each key is written once, in key order:
    /// two instances upserting an org's rows of one minute lock them in the same order
    /// (on PostgreSQL, opposite orders deadlock and one batch is lost).
    pub fn merge(tallies: impl IntoIterator<Item = ReadTraffic>) -> Vec<ReadTraffic> {
        let mut out: Vec<ReadTraffic> = tallies.into_iter().collect();
        out.sort_by(|a, b| a.key().cmp(&b.key()));
        out.dedup_by(|later, kept| {
            let same = later.key() == kept.key();
            if same {
                kept.add(later);
            }
            same
        });
        out
    }
}

/// The route of a SCIM read with its ids left out, so that an org's counters stay a
/// handful of rows a minute however many users are looked up: `GET /Users/{id}`,
/// `GET /Users?filter` (a lookup) apart from `GET /Users` (a listing, an import's walk),
/// `POST /Users/.search`, `GET /Schemas/{id}`. Only routes that answer 2xx get here; any
/// other shape is `other`.
pub fn read_route(method: &str, path: &str, query: Option<&str>) -> String {
    const RESOURCES: [&str; 8] = [
        "Users",
        "Groups",
        "Schemas",
        "ResourceTypes",
        "ServiceProviderConfig",
        "Me",
        ".search",
        "Bulk",
    ];
    // `/scim/v2/{org}/Resource[/id]`
    let rest = path
        .strip_prefix("/scim/v2/")
        .and_then(|p| p.split_once('/'))
        .map_or("", |(_, r)| r);
    let mut parts = rest.trim_end_matches('/').splitn(2, '/');
    let resource = parts.next().unwrap_or("");
    let method = if matches!(method, "GET" | "HEAD" | "POST") {
        method
    } else {
        "other"
    };
    if !RESOURCES.contains(&resource) {
        return format!("{method} other");
    }
    let route = match parts.next() {
        Some(".search") => format!("/{resource}/.search"),
        Some(_) => format!("/{resource}/{{id}}"),
        None => {
            let filtered = query.is_some_and(|q| {
                q.split('&').any(|kv| {
                    kv.split('=')
                        .next()
                        .is_some_and(|k| k.eq_ignore_ascii_case("filter"))
                })
            });
            if filtered {
                format!("/{resource}?filter")
            } else {
                format!("/{resource}")
            }
        }
    };
    format!("{method} {route}")
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
    let events = sqlx::query("DELETE FROM events WHERE occurred_at < $1")
        .bind(before)
        .execute(&mut *conn)
        .await?
        .rows_affected();
    // The per-minute read counters are the same log, kept as long.
    let reads = sqlx::query("DELETE FROM read_traffic WHERE minute < $1")
        .bind(before)
        .execute(conn)
        .await?
        .rows_affected();
    Ok(events + reads)
}

/// What [`read_traffic`] returns.
#[derive(Clone, Debug, Default)]
pub struct ReadTrafficFilter {
    /// Unix ms; minutes from this one on.
    pub since: Option<i64>,
    pub client: Option<String>,
    pub token_id: Option<String>,
    /// Minutes before this one (Unix ms): the next page of older rows.
    pub before: Option<i64>,
}

/// An org's counted reads, newest minute first, at most `limit` rows.
pub async fn read_traffic(
    conn: &mut AnyConnection,
    org_id: &str,
    f: &ReadTrafficFilter,
    limit: i64,
) -> Result<Vec<ReadTraffic>> {
    let mut q = Sql::new(
        "SELECT org_id, minute, client, token_id, token_label, route, remote_addr, user_agent, requests, total_us, max_us \
         FROM read_traffic WHERE org_id = ",
    );
    q.push_bind(org_id);
    if let Some(since) = f.since {
        q.push(" AND minute >= ").push_bind(since);
    }
    if let Some(before) = f.before {
        q.push(" AND minute < ").push_bind(before);
    }
    if let Some(client) = &f.client {
        q.push(" AND client = ").push_bind(client.as_str());
    }
    if let Some(token) = &f.token_id {
        q.push(" AND token_id = ").push_bind(token.as_str());
    }
    q.push(" ORDER BY minute DESC, client, token_id, route, remote_addr LIMIT ")
        .push_bind(limit);
    Ok(q.query_as::<ReadTraffic>().fetch_all(conn).await?)
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
            super::search::push_match(
                &mut q,
                super::Backend::of(conn),
                "c.resource_id",
                org_id,
                &words,
            );
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
        // Successful reads are counted per minute in `read_traffic`, not logged one by one.
        "SELECT hour, CAST(SUM(total) AS BIGINT), CAST(SUM(errors) AS BIGINT) FROM ( \
         SELECT (occurred_at / 3600000) * 3600000 AS hour, COUNT(*) AS total, \
         SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS errors \
         FROM events WHERE org_id = $1 AND occurred_at >= $2 GROUP BY (occurred_at / 3600000) * 3600000 \
         UNION ALL \
         SELECT (minute / 3600000) * 3600000 AS hour, SUM(requests) AS total, 0 AS errors \
         FROM read_traffic WHERE org_id = $1 AND minute >= $2 GROUP BY (minute / 3600000) * 3600000 \
         ) per_source GROUP BY hour ORDER BY hour",
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

#[cfg(test)]
mod read_route_tests {
    use super::read_route;

    #[test]
    fn routes_leave_ids_and_filters_out() {
        let r = |m, p, q| read_route(m, p, q);
        assert_eq!(r("GET", "/scim/v2/acme/Users", None), "GET /Users");
        assert_eq!(
            r("GET", "/scim/v2/acme/Users", Some("startIndex=1&count=100")),
            "GET /Users"
        );
        assert_eq!(
            r(
                "GET",
                "/scim/v2/acme/Users",
                Some("Filter=userName%20eq%20%22a%22")
            ),
            "GET /Users?filter"
        );
        assert_eq!(
            r("GET", "/scim/v2/acme/Users/0190-ab", None),
            "GET /Users/{id}"
        );
        assert_eq!(
            r("GET", "/scim/v2/acme/Groups/x/", None),
            "GET /Groups/{id}"
        );
        assert_eq!(
            r("POST", "/scim/v2/acme/Users/.search", None),
            "POST /Users/.search"
        );
        assert_eq!(r("POST", "/scim/v2/acme/.search", None), "POST /.search");
        assert_eq!(
            r(
                "GET",
                "/scim/v2/acme/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
                None
            ),
            "GET /Schemas/{id}"
        );
        assert_eq!(
            r("GET", "/scim/v2/acme/ServiceProviderConfig", None),
            "GET /ServiceProviderConfig"
        );
        // Whatever a client makes up stays one bounded label.
        assert_eq!(r("GET", "/scim/v2/acme/Whatever/1/2", None), "GET other");
        assert_eq!(r("PROPFIND", "/scim/v2/acme/Users", None), "other /Users");
        assert_eq!(r("GET", "/elsewhere", None), "GET other");
    }
}
