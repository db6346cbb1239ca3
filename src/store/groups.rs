//! Groups (teams) and memberships. Memberships are a table of (group, user) pairs indexed
//! both ways; every change is a delta on those rows plus an O(1) update of the group's
//! `member_count`, so its cost does not grow with the group.

use super::query_sql::{page_sql, push_where, Table};
use super::sql::Sql;
use super::{Backend, Result, StoreError};
use crate::directory::query::{Cond, ListQuery};
use crate::directory::{now_ms, Group, Member};
use sqlx::AnyConnection;
use std::collections::HashSet;

/// Rows per multi-row statement (well under SQLite's bound-parameter limit).
const CHUNK: usize = 400;

#[derive(sqlx::FromRow)]
struct GroupRow {
    id: String,
    org_id: String,
    display_name: String,
    external_id: Option<String>,
    source: String,
    member_count: i64,
    version: i64,
    created_at: i64,
    updated_at: i64,
}

impl From<GroupRow> for Group {
    fn from(r: GroupRow) -> Group {
        Group {
            id: r.id,
            org_id: r.org_id,
            display_name: r.display_name,
            external_id: r.external_id,
            source: r.source,
            member_count: r.member_count,
            version: r.version,
            created_at: r.created_at,
            updated_at: r.updated_at,
        }
    }
}

const COLUMNS: &str = "g.id, g.org_id, g.display_name, g.external_id, g.source, g.member_count, g.version, g.created_at, g.updated_at";

pub async fn insert_group(conn: &mut AnyConnection, g: &Group) -> Result<()> {
    sqlx::query(
        "INSERT INTO groups (id, org_id, display_name, display_name_key, external_id, source, member_count, version, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9)",
    )
    .bind(&g.id)
    .bind(&g.org_id)
    .bind(&g.display_name)
    .bind(super::fold::fold(&g.display_name))
    .bind(&g.external_id)
    .bind(&g.source)
    .bind(g.version)
    .bind(g.created_at)
    .bind(g.updated_at)
    .execute(conn)
    .await
    .map_err(|e| StoreError::conflict_or(e, "displayName"))?;
    Ok(())
}

pub async fn find_group(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Option<Group>> {
    let row: Option<GroupRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM groups g WHERE g.org_id = $1 AND g.id = $2"
    ))
    .bind(org_id)
    .bind(id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(Group::from))
}

pub async fn get_group(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<Group> {
    find_group(conn, org_id, id)
        .await?
        .ok_or(StoreError::NotFound)
}

/// Renames a group / sets its externalId and bumps its version.
pub async fn update_group(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    display_name: &str,
    external_id: Option<&str>,
) -> Result<()> {
    let done = sqlx::query(
        "UPDATE groups SET display_name = $1, display_name_key = $2, external_id = $3, version = version + 1, updated_at = $4 WHERE org_id = $5 AND id = $6",
    )
    .bind(display_name)
    .bind(super::fold::fold(display_name))
    .bind(external_id)
    .bind(now_ms())
    .bind(org_id)
    .bind(id)
    .execute(conn)
    .await
    .map_err(|e| StoreError::conflict_or(e, "displayName"))?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Locks the group row for this transaction and checks its version (`None`: any version).
/// Every membership change starts here, so concurrent changes to one group serialise on
/// its row in PostgreSQL (SQLite has a single writer anyway).
pub async fn lock_group(
    conn: &mut AnyConnection,
    org_id: &str,
    id: &str,
    expected_version: Option<i64>,
) -> Result<Group> {
    // One statement takes the lock and reads the row: every round trip here is time the
    // row stays locked against the group's other writers.
    let row: Option<GroupRow> = sqlx::query_as(&format!(
        "UPDATE groups SET version = version + 1, updated_at = $1 WHERE org_id = $2 AND id = $3 RETURNING {}",
        COLUMNS.replace("g.", "")
    ))
    .bind(now_ms())
    .bind(org_id)
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    let g = Group::from(row.ok_or(StoreError::NotFound)?);
    if let Some(v) = expected_version {
        if g.version != v + 1 {
            return Err(StoreError::VersionMismatch);
        }
    }
    Ok(g)
}

/// What [`change_members_at_once`] did.
pub struct MemberDelta {
    /// The group after the change (its version bumped, its count moved).
    pub group: Group,
    /// The ids added or removed, in the order asked for.
    pub changed: Vec<String>,
    /// Adds only: ids that are no user of the org.
    pub skipped: Vec<String>,
    /// The changed users' names, for their change events.
    pub names: Vec<Member>,
}

/// At most this many ids go to [`change_members_at_once`].
pub const AT_ONCE_MAX: usize = CHUNK;

/// PostgreSQL, a PATCH that only adds or only removes members (what identity providers
/// send, one user at a time): [`lock_group`], the member rows, the count and the changed
/// users' names in one statement. Writes to one group run one after another (in the org's
/// lane, see [`super::write`]), so every round trip saved here is throughput.
///
/// The group is checked (its org, `expected_version`) in the statement's snapshot, and again
/// as the UPDATE locks its row; nothing can change it in between anyway, since every
/// directory write of the org holds the org's lock. With no such group (or another
/// version), no row comes back: the caller's rollback undoes anything written.
pub async fn change_members_at_once(
    conn: &mut AnyConnection,
    org_id: &str,
    group_id: &str,
    expected_version: Option<i64>,
    ids: &[String],
    add: bool,
) -> Result<MemberDelta> {
    let ids = dedup(ids);
    debug_assert!(ids.len() <= AT_ONCE_MAX);
    let now = now_ms();
    let mut q = Sql::new("WITH ok AS (SELECT id FROM groups WHERE org_id = ");
    q.push_bind(org_id).push(" AND id = ").push_bind(group_id);
    if let Some(v) = expected_version {
        q.push(" AND version = ").push_bind(v);
    }
    if add {
        q.push("), ch AS (INSERT INTO group_members (group_id, user_id, created_at) SELECT ok.id, u.id, ")
            .push_bind(now)
            .push(" FROM ok, users u WHERE u.org_id = ")
            .push_bind(org_id)
            .push(" AND u.id IN (")
            .push_list(&ids)
            .push(") ON CONFLICT (group_id, user_id) DO NOTHING RETURNING user_id");
    } else {
        q.push("), ch AS (DELETE FROM group_members WHERE group_id IN (SELECT id FROM ok) AND user_id IN (")
            .push_list(&ids)
            .push(") RETURNING user_id");
    }
    // The row is checked again as the UPDATE locks it: should a writer without the org's
    // lock ever have changed it since the snapshot, nothing comes back and the caller's
    // rollback undoes the member rows.
    q.push("), g AS (UPDATE groups SET version = version + 1, updated_at = ")
        .push_bind(now)
        .push(", member_count = member_count ")
        .push(if add { "+" } else { "-" })
        .push(" (SELECT COUNT(*) FROM ch) WHERE id IN (SELECT id FROM ok) AND org_id = ")
        .push_bind(org_id);
    if let Some(v) = expected_version {
        q.push(" AND version = ").push_bind(v);
    }
    q.push(format!(
        " RETURNING {}) SELECT g.*, (SELECT COALESCE(json_agg(json_build_array(c.user_id, u.user_name, u.display_name)), '[]')::text \
         FROM ch c JOIN users u ON u.id = c.user_id) AS changed FROM g",
        COLUMNS.replace("g.", "")
    ));
    let row: Option<DeltaRow> = q.query_as().fetch_optional(&mut *conn).await?;
    let Some(row) = row else {
        let exists: Option<i64> =
            sqlx::query_scalar("SELECT version FROM groups WHERE org_id = $1 AND id = $2")
                .bind(org_id)
                .bind(group_id)
                .fetch_optional(&mut *conn)
                .await?;
        return Err(match exists {
            Some(_) => StoreError::VersionMismatch,
            None => StoreError::NotFound,
        });
    };
    let named: Vec<(String, String, Option<String>)> = serde_json::from_str(&row.changed)
        .map_err(|e| StoreError::Corrupt(format!("members of group {group_id}: {e}")))?;
    let done: HashSet<&str> = named.iter().map(|(id, _, _)| id.as_str()).collect();
    let changed: Vec<String> = ids
        .iter()
        .filter(|i| done.contains(i.as_str()))
        .cloned()
        .collect();
    let mut skipped = Vec::new();
    if add && changed.len() < ids.len() {
        // Rare (a re-sent add): which of the rest are no users at all.
        skipped = not_users(conn, org_id, &ids).await?;
    }
    let names = named
        .into_iter()
        .map(|(user_id, user_name, display_name)| Member {
            user_id,
            user_name,
            display_name,
        })
        .collect();
    Ok(MemberDelta {
        group: row.group.into(),
        changed,
        skipped,
        names,
    })
}

#[derive(sqlx::FromRow)]
struct DeltaRow {
    #[sqlx(flatten)]
    group: GroupRow,
    changed: String,
}

/// The ids (at most [`CHUNK`]) that are no user of the org, in the order given.
async fn not_users(conn: &mut AnyConnection, org_id: &str, ids: &[String]) -> Result<Vec<String>> {
    let mut qb = Sql::new("SELECT id FROM users WHERE org_id = ");
    qb.push_bind(org_id)
        .push(" AND id IN (")
        .push_list(ids)
        .push(")");
    let valid: HashSet<String> = qb
        .query_scalar::<String>()
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .collect();
    Ok(ids
        .iter()
        .filter(|i| !valid.contains(*i))
        .cloned()
        .collect())
}

async fn adjust_count(conn: &mut AnyConnection, id: &str, delta: i64) -> Result<()> {
    if delta != 0 {
        sqlx::query("UPDATE groups SET member_count = member_count + $1 WHERE id = $2")
            .bind(delta)
            .bind(id)
            .execute(conn)
            .await?;
    }
    Ok(())
}

pub async fn delete_group(conn: &mut AnyConnection, org_id: &str, id: &str) -> Result<()> {
    let done = sqlx::query("DELETE FROM groups WHERE org_id = $1 AND id = $2")
        .bind(org_id)
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

fn dedup(ids: &[String]) -> Vec<String> {
    let mut seen = HashSet::new();
    ids.iter()
        .filter(|i| seen.insert(i.as_str()))
        .cloned()
        .collect()
}

/// Adds users to a group. Returns (added, skipped): ids already members are neither; ids
/// that are not users of the org are skipped.
pub async fn add_members(
    conn: &mut AnyConnection,
    org_id: &str,
    group_id: &str,
    ids: &[String],
) -> Result<(Vec<String>, Vec<String>)> {
    add_members_named(conn, org_id, group_id, ids, &mut Vec::new()).await
}

/// [`add_members`]; on PostgreSQL also appends the added users' names to `names` (read in
/// the same statement, for their change events), in no particular order.
pub async fn add_members_named(
    conn: &mut AnyConnection,
    org_id: &str,
    group_id: &str,
    ids: &[String],
    names: &mut Vec<Member>,
) -> Result<(Vec<String>, Vec<String>)> {
    let ids = dedup(ids);
    let mut added = Vec::new();
    let mut skipped = Vec::new();
    let now = now_ms();
    let counted = Backend::of(conn) == Backend::Postgres;
    for chunk in ids.chunks(CHUNK) {
        // Only users of this org are added; the ids that are neither added nor already
        // members are looked up afterwards, and only when some id was not added.
        let mut ins = Sql::new(if counted { "WITH ins AS (" } else { "" });
        ins.push("INSERT INTO group_members (group_id, user_id, created_at) SELECT ")
            .push_bind(group_id)
            .push(", u.id, ")
            .push_bind(now)
            .push(" FROM users u WHERE u.org_id = ")
            .push_bind(org_id)
            .push(" AND u.id IN (")
            .push_list(chunk)
            .push(") ON CONFLICT (group_id, user_id) DO NOTHING RETURNING user_id");
        let inserted: HashSet<String> = if counted {
            count_in_same_statement(&mut ins, "ins", "+", group_id);
            fetch_named(conn, &ins, names).await?
        } else {
            ins.query_scalar::<String>()
                .fetch_all(&mut *conn)
                .await?
                .into_iter()
                .collect()
        };
        if inserted.len() < chunk.len() {
            skipped.extend(not_users(conn, org_id, chunk).await?);
        }
        // In the order asked for, which the log shows.
        added.extend(chunk.iter().filter(|i| inserted.contains(*i)).cloned());
    }
    if !counted {
        adjust_count(conn, group_id, added.len() as i64).await?;
    }
    Ok((added, skipped))
}

/// PostgreSQL: the member rows and the group's count change in one statement (a
/// data-modifying `WITH`), which also returns the changed members' names for their change
/// events: two round trips less while the group's row is locked against its other writers.
/// `rows` names the CTE returning the changed members' `user_id`.
fn count_in_same_statement(q: &mut Sql, rows: &str, sign: &str, group_id: &str) {
    q.push(format!(
        "), counted AS (UPDATE groups SET member_count = member_count {sign} (SELECT COUNT(*) FROM {rows}) WHERE id = "
    ))
    .push_bind(group_id)
    .push(format!(
        " AND EXISTS (SELECT 1 FROM {rows})) SELECT r.user_id, u.user_name, u.display_name FROM {rows} r JOIN users u ON u.id = r.user_id"
    ));
}

/// Runs a statement of [`count_in_same_statement`]: the changed ids, their names appended
/// to `names`.
async fn fetch_named(
    conn: &mut AnyConnection,
    q: &Sql,
    names: &mut Vec<Member>,
) -> Result<HashSet<String>> {
    let rows: Vec<(String, String, Option<String>)> = q.query_as().fetch_all(&mut *conn).await?;
    let mut ids = HashSet::with_capacity(rows.len());
    for (user_id, user_name, display_name) in rows {
        ids.insert(user_id.clone());
        names.push(Member {
            user_id,
            user_name,
            display_name,
        });
    }
    Ok(ids)
}

/// Removes users from a group; returns those that were members.
pub async fn remove_members(
    conn: &mut AnyConnection,
    group_id: &str,
    ids: &[String],
) -> Result<Vec<String>> {
    remove_members_named(conn, group_id, ids, &mut Vec::new()).await
}

/// [`remove_members`]; on PostgreSQL also appends the removed users' names to `names` (see
/// [`add_members_named`]).
pub async fn remove_members_named(
    conn: &mut AnyConnection,
    group_id: &str,
    ids: &[String],
    names: &mut Vec<Member>,
) -> Result<Vec<String>> {
    let ids = dedup(ids);
    let mut removed = Vec::new();
    let counted = Backend::of(conn) == Backend::Postgres;
    for chunk in ids.chunks(CHUNK) {
        let mut qb = Sql::new(if counted { "WITH del AS (" } else { "" });
        qb.push("DELETE FROM group_members WHERE group_id = ")
            .push_bind(group_id)
            .push(" AND user_id IN (")
            .push_list(chunk)
            .push(") RETURNING user_id");
        if counted {
            count_in_same_statement(&mut qb, "del", "-", group_id);
            let gone = fetch_named(conn, &qb, names).await?;
            // In the order asked for, which the log shows.
            removed.extend(chunk.iter().filter(|i| gone.contains(*i)).cloned());
        } else {
            removed.extend(qb.query_scalar::<String>().fetch_all(&mut *conn).await?);
        }
    }
    if !counted {
        adjust_count(conn, group_id, -(removed.len() as i64)).await?;
    }
    Ok(removed)
}

pub async fn remove_all_members(conn: &mut AnyConnection, group_id: &str) -> Result<Vec<String>> {
    let removed: Vec<String> =
        sqlx::query_scalar("DELETE FROM group_members WHERE group_id = $1 RETURNING user_id")
            .bind(group_id)
            .fetch_all(&mut *conn)
            .await?;
    sqlx::query("UPDATE groups SET member_count = 0 WHERE id = $1")
        .bind(group_id)
        .execute(conn)
        .await?;
    Ok(removed)
}

pub async fn list_member_ids(conn: &mut AnyConnection, group_id: &str) -> Result<Vec<String>> {
    Ok(
        sqlx::query_scalar(
            "SELECT user_id FROM group_members WHERE group_id = $1 ORDER BY user_id",
        )
        .bind(group_id)
        .fetch_all(conn)
        .await?,
    )
}

/// Members with their names, one page (`limit` 0: all), ordered by user id.
pub async fn list_members(
    conn: &mut AnyConnection,
    group_id: &str,
    after: Option<&str>,
    limit: u64,
) -> Result<Vec<Member>> {
    let mut qb = Sql::new(
        "SELECT m.user_id, u.user_name, u.display_name FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id = ",
    );
    qb.push_bind(group_id);
    if let Some(a) = after {
        qb.push(" AND m.user_id > ");
        qb.push_bind(a);
    }
    qb.push(" ORDER BY m.user_id");
    if limit > 0 {
        qb.push(" LIMIT ");
        qb.push_bind(limit as i64);
    }
    let rows: Vec<(String, String, Option<String>)> = qb.query_as().fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|(user_id, user_name, display_name)| Member {
            user_id,
            user_name,
            display_name,
        })
        .collect())
}

/// The members of several groups, in one query per 500 groups (a group listing must not
/// query once per group), by group id; groups without members are absent.
pub async fn members_of(
    conn: &mut AnyConnection,
    group_ids: &[&str],
) -> Result<std::collections::HashMap<String, Vec<Member>>> {
    let mut out: std::collections::HashMap<String, Vec<Member>> = Default::default();
    for chunk in group_ids.chunks(500) {
        let mut qb = Sql::new(
            "SELECT m.group_id, m.user_id, u.user_name, u.display_name FROM group_members m JOIN users u ON u.id = m.user_id WHERE m.group_id IN (",
        );
        for (i, id) in chunk.iter().enumerate() {
            if i > 0 {
                qb.push(", ");
            }
            qb.push_bind(*id);
        }
        qb.push(") ORDER BY m.group_id, m.user_id");
        let rows: Vec<(String, String, String, Option<String>)> =
            qb.query_as().fetch_all(&mut *conn).await?;
        for (group_id, user_id, user_name, display_name) in rows {
            out.entry(group_id).or_default().push(Member {
                user_id,
                user_name,
                display_name,
            });
        }
    }
    Ok(out)
}

pub async fn is_member(conn: &mut AnyConnection, group_id: &str, user_id: &str) -> Result<bool> {
    let n: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM group_members WHERE group_id = $1 AND user_id = $2",
    )
    .bind(group_id)
    .bind(user_id)
    .fetch_one(conn)
    .await?;
    Ok(n > 0)
}

pub async fn list_groups(
    conn: &mut AnyConnection,
    org_id: &str,
    q: &ListQuery,
) -> Result<(i64, Vec<Group>)> {
    if q.limit == 0 {
        return Ok((
            count_matching_groups(conn, org_id, &q.cond).await?,
            Vec::new(),
        ));
    }
    let page = page_groups(conn, org_id, q).await?;
    let total = match q.total_from_page(page.len()) {
        Some(t) => t,
        None => count_matching_groups(conn, org_id, &q.cond).await?,
    };
    Ok((total, page))
}

/// How many groups of the org match `cond`.
pub async fn count_matching_groups(
    conn: &mut AnyConnection,
    org_id: &str,
    cond: &Cond,
) -> Result<i64> {
    let mut count = Sql::new("SELECT COUNT(*) FROM groups g WHERE g.org_id = ");
    count.push_bind(org_id).push(" AND ");
    push_where(&mut count, Backend::of(conn), Table::Groups, cond);
    Ok(count.query_scalar().fetch_one(conn).await?)
}

/// One page of groups matching `q`, without counting them.
pub async fn page_groups(
    conn: &mut AnyConnection,
    org_id: &str,
    q: &ListQuery,
) -> Result<Vec<Group>> {
    let qb = page_sql(Backend::of(conn), Table::Groups, COLUMNS, org_id, q);
    let rows: Vec<GroupRow> = qb.query_as().fetch_all(conn).await?;
    Ok(rows.into_iter().map(Group::from).collect())
}

/// (managed, console-made) group counts of an org.
/// The source of a team an identity provider manages under this name (compared as the
/// unique index compares them: case-folded), if there is one.
pub async fn managed_source_named(
    conn: &mut AnyConnection,
    org_id: &str,
    display_name: &str,
) -> Result<Option<String>> {
    let row: Option<(String,)> = sqlx::query_as(
        "SELECT source FROM groups WHERE org_id = $1 AND display_name_key = $2 AND source <> 'console' LIMIT 1",
    )
    .bind(org_id)
    .bind(super::fold::fold(display_name))
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.0))
}

pub async fn count_groups(conn: &mut AnyConnection, org_id: &str) -> Result<(i64, i64)> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT CASE WHEN source = 'console' THEN 0 ELSE 1 END AS managed, COUNT(*) FROM groups WHERE org_id = $1 GROUP BY CASE WHEN source = 'console' THEN 0 ELSE 1 END",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    let get = |a: i64| rows.iter().find(|r| r.0 == a).map(|r| r.1).unwrap_or(0);
    Ok((get(1), get(0)))
}
