//! The change feed's storage (see [`crate::directory::feed`]): events appended in the
//! caller's transaction under the org's next sequence numbers, read back in order.

use super::sql::Sql;
use super::Result;
use crate::directory::feed::{ChangeEvent, NewChange};
use crate::directory::{new_id, now_ms};
use sqlx::AnyConnection;

/// Rows per INSERT statement (9 or 10 values each, well under either database's limit).
const ROWS_PER_INSERT: usize = 500;

/// Appends `events` for `org_id` in the caller's transaction. The org's sequence row is
/// locked from here to the commit, so sequence numbers become visible in order.
pub async fn append(
    conn: &mut AnyConnection,
    org_id: &str,
    origin: &str,
    events: &[NewChange],
) -> Result<()> {
    let backend = super::Backend::of(conn);
    append_statements(backend, org_id, origin, events)
        .run(conn, &[])
        .await
}

/// The statements of an append, built but not yet run: a write runs them in the same call
/// to the database as its provisioning-log entry ([`Append::run`]), because on SQLite every
/// call is a round trip to its worker thread and a SCIM write makes only a handful.
#[derive(Default)]
pub struct Append {
    statements: Vec<Sql>,
    backend: Option<super::Backend>,
    org_id: String,
}

/// Statements of an [`Append`] that go into one SQLite call: the counter and two INSERTs of
/// 500 rows (10,000 values), well below SQLite's 32,766 bound parameters per call.
const SHARED_CALL: usize = 3;
/// Values one shared call may bind in all.
const SHARED_ARGS: usize = 30_000;

impl Append {
    /// Values bound by the append's statements and `with`'s together.
    fn args(&self, with: &[&Sql]) -> usize {
        self.statements
            .iter()
            .chain(with.iter().copied())
            .map(Sql::arg_count)
            .sum()
    }

    /// The statements [`Append::run`] would run on SQLite in its one call (`with`, then the
    /// append's), when they fit in one; `None` on PostgreSQL. The write's own statements go
    /// first: on SQLite's write thread a write whose first statement fails (a taken
    /// userName) has changed nothing, so it needs no savepoint of its own
    /// ([`super::write_thread`]). The append reads its counter in its own statements, so
    /// nothing before it depends on it.
    pub(crate) fn one_sqlite_call<'a>(&'a self, with: &[&'a Sql]) -> Option<Vec<&'a Sql>> {
        (self.backend == Some(super::Backend::Sqlite)
            && self.statements.len() <= SHARED_CALL
            && self.args(with) <= SHARED_ARGS)
            .then(|| with.iter().copied().chain(self.statements.iter()).collect())
    }

    /// Runs the append and `with` (statements of the same transaction), in as few calls as
    /// each database allows: on SQLite one call (`with` first, see
    /// [`Append::one_sqlite_call`]); on PostgreSQL one statement (the
    /// counter's upsert `RETURNING` the new value feeds the rows' INSERTs through `WITH`),
    /// because the org's counter row stays locked from its upsert to COMMIT and every round
    /// trip in between is time the org's other writers wait.
    pub(crate) async fn run(self, conn: &mut AnyConnection, with: &[&Sql]) -> Result<()> {
        let args = self.args(with);
        match self.backend {
            Some(super::Backend::Sqlite) => {
                if let Some(all) = self.one_sqlite_call(with) {
                    Sql::execute_all(conn, &all).await?;
                    return Ok(());
                }
                let head: Vec<&Sql> = self.statements.iter().take(SHARED_CALL).collect();
                Sql::execute_all(conn, &head).await?;
                for rest in self.statements.iter().skip(SHARED_CALL) {
                    rest.query().execute(&mut *conn).await?;
                }
            }
            Some(super::Backend::Postgres) if !self.statements.is_empty() => {
                // statements: [upsert RETURNING last_seq, pg_notify, INSERT rows…], the rows
                // reading the counter as `feed_seq`.
                let names: Vec<String> = (0..self.statements.len() + with.len())
                    .map(|i| match i {
                        0 => "feed_seq".to_string(),
                        1 => "feed_note".to_string(),
                        i => format!("feed_w{i}"),
                    })
                    .collect();
                if args <= SHARED_ARGS {
                    let ctes: Vec<(&str, &Sql)> = names
                        .iter()
                        .map(String::as_str)
                        .zip(self.statements.iter().chain(with.iter().copied()))
                        .collect();
                    let one = Sql::with_ctes(&ctes, &Sql::new("SELECT 1 FROM feed_note"));
                    one.query().execute(&mut *conn).await?;
                    return Ok(());
                }
                // Too many values for one statement (a PATCH of thousands of members): the
                // counter first, then each INSERT reading it back from the table.
                for s in self.statements.iter().take(2) {
                    s.query().execute(&mut *conn).await?;
                }
                let mut seq = Sql::new("SELECT last_seq FROM change_event_seq WHERE org_id = ");
                seq.push_bind(self.org_id.as_str());
                for rows in self.statements.iter().skip(2) {
                    Sql::with_ctes(&[("feed_seq", &seq)], rows)
                        .query()
                        .execute(&mut *conn)
                        .await?;
                }
            }
            _ => {}
        }
        if !with.is_empty() {
            Sql::insert_all(conn, with).await?;
        }
        Ok(())
    }
}

/// Builds the statements that append `events` for `org_id` (see [`append`]).
pub fn append_statements(
    backend: super::Backend,
    org_id: &str,
    origin: &str,
    events: &[NewChange],
) -> Append {
    if events.is_empty() {
        return Append {
            statements: Vec::new(),
            backend: Some(backend),
            org_id: org_id.to_string(),
        };
    }
    let n = events.len() as i64;
    // The org's counter moves by n; each row's sequence is read back from it in the same
    // batch (`last - (n - 1 - k)`), so that the counter and the rows need no read between.
    let mut upsert = Sql::new("INSERT INTO change_event_seq (org_id, last_seq) VALUES (");
    upsert
        .push_bind(org_id)
        .push(", ")
        .push_bind(n)
        .push(") ON CONFLICT (org_id) DO UPDATE SET last_seq = change_event_seq.last_seq + excluded.last_seq");
    let postgres = backend == super::Backend::Postgres;
    if postgres {
        upsert.push(" RETURNING last_seq");
    }
    let mut statements = vec![upsert];
    if postgres {
        // Delivered at commit, to every instance listening (see [`Listener`]).
        statements.push(Sql::new("SELECT pg_notify('scimgate_feed', '')"));
    }
    let now = now_ms();
    for (c, chunk) in events.chunks(ROWS_PER_INSERT).enumerate() {
        let mut q = Sql::new(
            "INSERT INTO change_events (id, org_id, seq, event_type, occurred_at, origin, resource_id, user_id, data) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            let back = n - 1 - (c * ROWS_PER_INSERT + i) as i64;
            q.push("(")
                .push_bind(new_id())
                .push(", ")
                .push_bind(org_id)
                .push(", ");
            if postgres {
                // The counter as the upsert returned it (see [`Append::run`]).
                q.push("(SELECT last_seq FROM feed_seq) - ");
            } else {
                q.push("(SELECT last_seq FROM change_event_seq WHERE org_id = ")
                    .push_bind(org_id)
                    .push(") - ");
            }
            q.push_bind(back)
                .push(", ")
                .push_bind(e.event_type.as_str())
                .push(", ")
                .push_bind(now)
                .push(", ")
                .push_bind(origin)
                .push(", ")
                .push_bind(e.resource_id.as_str())
                .push(", ")
                .push_bind(e.user_id())
                .push(", ")
                .push_bind(e.data.to_string())
                .push(")");
        }
        statements.push(q);
    }
    Append {
        statements,
        backend: Some(backend),
        org_id: org_id.to_string(),
    }
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    org_id: String,
    seq: i64,
    event_type: String,
    occurred_at: i64,
    origin: String,
    resource_id: String,
    data: String,
}

impl Row {
    fn into_event(self) -> Result<ChangeEvent> {
        Ok(ChangeEvent {
            data: serde_json::from_str(&self.data)
                .map_err(|e| super::StoreError::Corrupt(format!("change event data: {e}")))?,
            id: self.id,
            org_id: self.org_id,
            seq: self.seq,
            event_type: self.event_type,
            occurred_at: self.occurred_at,
            origin: self.origin,
            resource_id: self.resource_id,
        })
    }
}

const COLUMNS: &str = "id, org_id, seq, event_type, occurred_at, origin, resource_id, data";

/// Up to `limit` events of the org after sequence `after`, oldest first; only of the given
/// types when `types` is not empty.
pub async fn list_after(
    conn: &mut AnyConnection,
    org_id: &str,
    after: i64,
    types: &[&str],
    limit: i64,
) -> Result<Vec<ChangeEvent>> {
    let mut q = Sql::new(format!(
        "SELECT {COLUMNS} FROM change_events WHERE org_id = "
    ));
    q.push_bind(org_id).push(" AND seq > ").push_bind(after);
    if !types.is_empty() {
        q.push(" AND event_type IN (");
        for (i, t) in types.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push_bind(*t);
        }
        q.push(")");
    }
    q.push(" ORDER BY seq LIMIT ").push_bind(limit);
    let rows: Vec<Row> = q.query_as().fetch_all(conn).await?;
    rows.into_iter().map(Row::into_event).collect()
}

/// The org's newest events, newest first: up to `limit` of them, only those after sequence
/// `after` when it is given (the console's live feed asks for what it has not seen yet).
pub async fn list_newest(
    conn: &mut AnyConnection,
    org_id: &str,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ChangeEvent>> {
    let mut q = Sql::new(format!(
        "SELECT {COLUMNS} FROM change_events WHERE org_id = "
    ));
    q.push_bind(org_id);
    if let Some(after) = after {
        q.push(" AND seq > ").push_bind(after);
    }
    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
    let rows: Vec<Row> = q.query_as().fetch_all(conn).await?;
    rows.into_iter().map(Row::into_event).collect()
}

/// One user's events (their own, and their team joins and leaves), newest first: up to
/// `limit` of them, only those before sequence `before` when it is given (older pages).
pub async fn list_for_user(
    conn: &mut AnyConnection,
    org_id: &str,
    user_id: &str,
    before: Option<i64>,
    limit: i64,
) -> Result<Vec<ChangeEvent>> {
    let mut q = Sql::new(format!(
        "SELECT {COLUMNS} FROM change_events WHERE org_id = "
    ));
    q.push_bind(org_id)
        .push(" AND user_id = ")
        .push_bind(user_id);
    if let Some(before) = before {
        q.push(" AND seq < ").push_bind(before);
    }
    q.push(" ORDER BY seq DESC LIMIT ").push_bind(limit);
    let rows: Vec<Row> = q.query_as().fetch_all(conn).await?;
    rows.into_iter().map(Row::into_event).collect()
}

/// The org's last sequence number (0 before its first event).
pub async fn last_seq(conn: &mut AnyConnection, org_id: &str) -> Result<i64> {
    let last: Option<i64> =
        sqlx::query_scalar("SELECT last_seq FROM change_event_seq WHERE org_id = $1")
            .bind(org_id)
            .fetch_optional(&mut *conn)
            .await?;
    Ok(last.unwrap_or(0))
}

/// The org's last sequence number (0 before its first event), and the lowest one still
/// kept (`None` when none is): a cursor below that has expired.
pub async fn bounds(conn: &mut AnyConnection, org_id: &str) -> Result<(i64, Option<i64>)> {
    let last = last_seq(conn, org_id).await?;
    let oldest: Option<i64> =
        sqlx::query_scalar("SELECT MIN(seq) FROM change_events WHERE org_id = $1")
            .bind(org_id)
            .fetch_one(&mut *conn)
            .await?;
    Ok((last, oldest))
}

/// Deletes events that occurred before `before` (retention). There is no index on time
/// (each one would be paid by every SCIM write): within an org, sequence order is commit
/// order, so each org's expired events are a prefix of its range, found by walking it from
/// the oldest event up to the first one still kept.
pub async fn prune(conn: &mut AnyConnection, before: i64) -> Result<u64> {
    let orgs: Vec<String> = sqlx::query_scalar("SELECT org_id FROM change_event_seq")
        .fetch_all(&mut *conn)
        .await?;
    let mut deleted = 0;
    for org in orgs {
        let kept: Option<i64> = sqlx::query_scalar(
            "SELECT seq FROM change_events WHERE org_id = $1 AND occurred_at >= $2 ORDER BY seq LIMIT 1",
        )
        .bind(&org)
        .bind(before)
        .fetch_optional(&mut *conn)
        .await?;
        let done = match kept {
            Some(kept) => {
                sqlx::query("DELETE FROM change_events WHERE org_id = $1 AND seq < $2")
                    .bind(&org)
                    .bind(kept)
                    .execute(&mut *conn)
                    .await?
            }
            None => {
                // Every event seen was expired, but on PostgreSQL a write may have
                // committed one since the look above: bounded by time too, it stays.
                sqlx::query("DELETE FROM change_events WHERE org_id = $1 AND occurred_at < $2")
                    .bind(&org)
                    .bind(before)
                    .execute(&mut *conn)
                    .await?
            }
        };
        deleted += done.rows_affected();
    }
    Ok(deleted)
}

/// PostgreSQL: wakes this instance's long polls when another instance commits events
/// (`NOTIFY scimgate_feed`, sent by [`append`] and delivered at commit).
#[derive(Debug)]
pub struct Listener {
    task: tokio::task::JoinHandle<()>,
}

impl Listener {
    pub fn start(
        pool: sqlx::PgPool,
        signal: std::sync::Arc<tokio::sync::watch::Sender<u64>>,
    ) -> Listener {
        let task = tokio::spawn(async move {
            loop {
                let listened = async {
                    let mut l = sqlx::postgres::PgListener::connect_with(&pool).await?;
                    l.listen("scimgate_feed").await?;
                    loop {
                        l.recv().await?;
                        signal.send_modify(|v| *v = v.wrapping_add(1));
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), sqlx::Error>(())
                }
                .await;
                if let Err(e) = listened {
                    tracing::warn!(error = %e, "change-feed listener lost its connection; retrying");
                }
                // Whatever was missed meanwhile is found by the polls' own timeouts.
                signal.send_modify(|v| *v = v.wrapping_add(1));
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
        });
        Listener { task }
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One event of the org by id. Ids are not indexed (see [`prune`]): this walks the org's
/// kept events, which only an admin's resend asks for.
pub async fn by_id(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
) -> Result<Option<ChangeEvent>> {
    let row: Option<Row> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM change_events WHERE org_id = $1 AND id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    row.map(Row::into_event).transpose()
}
