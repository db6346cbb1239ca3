//! Console admins, their org memberships, and the failed-sign-in counters that slow down
//! password guessing (kept in the database so every instance sees them).

use super::{Result, StoreError};
use crate::directory::{new_id, now_ms, Admin, Org};
use sqlx::AnyConnection;

#[derive(sqlx::FromRow)]
struct AdminRow {
    id: String,
    email: String,
    created_at: i64,
}

impl From<AdminRow> for Admin {
    fn from(r: AdminRow) -> Admin {
        Admin {
            id: r.id,
            email: r.email,
            created_at: r.created_at,
        }
    }
}

pub async fn create_admin(
    conn: &mut AnyConnection,
    email: &str,
    password_hash: &str,
) -> Result<Admin> {
    let admin = Admin {
        id: new_id(),
        email: email.to_string(),
        created_at: now_ms(),
    };
    sqlx::query("INSERT INTO admins (id, email, email_key, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)")
        .bind(&admin.id)
        .bind(&admin.email)
        .bind(admin.email.to_lowercase())
        .bind(password_hash)
        .bind(admin.created_at)
        .execute(conn)
        .await
        .map_err(|e| StoreError::conflict_or(e, "an admin with this email already exists"))?;
    Ok(admin)
}

pub async fn add_org_admin(conn: &mut AnyConnection, org_id: &str, admin_id: &str) -> Result<()> {
    sqlx::query("INSERT INTO org_admins (org_id, admin_id, created_at) VALUES ($1, $2, $3)")
        .bind(org_id)
        .bind(admin_id)
        .bind(now_ms())
        .execute(conn)
        .await
        .map_err(|e| {
            StoreError::conflict_or(e, "this admin already belongs to the organization")
        })?;
    Ok(())
}

/// Removes an admin from an org, refusing to remove the last one.
pub async fn remove_org_admin(
    conn: &mut AnyConnection,
    org_id: &str,
    admin_id: &str,
) -> Result<()> {
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM org_admins WHERE org_id = $1")
        .bind(org_id)
        .fetch_one(&mut *conn)
        .await?;
    if count <= 1 {
        return Err(StoreError::Conflict(
            "an organization must keep at least one admin".into(),
        ));
    }
    let done = sqlx::query("DELETE FROM org_admins WHERE org_id = $1 AND admin_id = $2")
        .bind(org_id)
        .bind(admin_id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The admin and its password hash, by email (case-insensitive).
pub async fn find_admin_credentials(
    conn: &mut AnyConnection,
    email: &str,
) -> Result<Option<(Admin, String)>> {
    let row: Option<(String, String, i64, String)> = sqlx::query_as(
        "SELECT id, email, created_at, password_hash FROM admins WHERE email_key = $1",
    )
    .bind(email.trim().to_lowercase())
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|(id, email, created_at, hash)| {
        (
            Admin {
                id,
                email,
                created_at,
            },
            hash,
        )
    }))
}

pub async fn find_admin(conn: &mut AnyConnection, id: &str) -> Result<Option<Admin>> {
    let row: Option<AdminRow> =
        sqlx::query_as("SELECT id, email, created_at FROM admins WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(Admin::from))
}

pub async fn count_admins(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM admins")
        .fetch_one(conn)
        .await?)
}

pub async fn list_org_admins(conn: &mut AnyConnection, org_id: &str) -> Result<Vec<Admin>> {
    let rows: Vec<AdminRow> = sqlx::query_as(
        "SELECT a.id, a.email, a.created_at FROM admins a JOIN org_admins oa ON oa.admin_id = a.id WHERE oa.org_id = $1 ORDER BY a.email_key",
    )
    .bind(org_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(Admin::from).collect())
}

/// The orgs an admin belongs to.
pub async fn list_admin_orgs(conn: &mut AnyConnection, admin_id: &str) -> Result<Vec<Org>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT o.id FROM orgs o JOIN org_admins oa ON oa.org_id = o.id WHERE oa.admin_id = $1 ORDER BY o.login_key",
    )
    .bind(admin_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        if let Some(o) = super::orgs::find_org(&mut *conn, &id).await? {
            out.push(o);
        }
    }
    Ok(out)
}

pub async fn is_org_admin(conn: &mut AnyConnection, org_id: &str, admin_id: &str) -> Result<bool> {
    let n: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM org_admins WHERE org_id = $1 AND admin_id = $2")
            .bind(org_id)
            .bind(admin_id)
            .fetch_one(conn)
            .await?;
    Ok(n > 0)
}

/// Failures recorded for `key` and the time of the last one.
pub async fn login_failures(conn: &mut AnyConnection, key: &str) -> Result<(i64, i64)> {
    let row: Option<(i64, i64)> =
        sqlx::query_as("SELECT failures, last_failure_at FROM login_failures WHERE key = $1")
            .bind(key)
            .fetch_optional(conn)
            .await?;
    Ok(row.unwrap_or((0, 0)))
}

pub async fn record_login_failure(conn: &mut AnyConnection, key: &str) -> Result<()> {
    sqlx::query(
        "INSERT INTO login_failures (key, failures, last_failure_at) VALUES ($1, 1, $2) \
         ON CONFLICT (key) DO UPDATE SET failures = login_failures.failures + 1, last_failure_at = excluded.last_failure_at",
    )
    .bind(key)
    .bind(now_ms())
    .execute(conn)
    .await?;
    Ok(())
}

/// Counts a sign-in attempt for every key, before the password is checked, atomically with
/// the check that none of them is blocked: concurrent attempts cannot all slip through
/// between a read and a write. Failures older than `window_ms` are forgotten. Returns the
/// milliseconds to wait when a key is blocked (and then counts nothing), `None` when the
/// attempt may go ahead. `backoff(failures)` is the wait in ms after that many failures.
/// Call inside a write transaction; commit it before verifying the password.
pub async fn reserve_login_attempt(
    conn: &mut AnyConnection,
    keys: &[String],
    now: i64,
    window_ms: i64,
    backoff: impl Fn(i64) -> i64,
) -> Result<Option<i64>> {
    for key in keys {
        sqlx::query(
            "INSERT INTO login_failures (key, failures, last_failure_at, blocked_until) VALUES ($1, 0, 0, 0) ON CONFLICT (key) DO NOTHING",
        )
        .bind(key)
        .execute(&mut *conn)
        .await?;
        // On PostgreSQL this UPDATE locks the row until commit, and a concurrent one
        // re-checks `blocked_until` on the committed row.
        let counted: Option<(i64,)> = sqlx::query_as(
            "UPDATE login_failures SET failures = CASE WHEN last_failure_at < $2 THEN 1 ELSE failures + 1 END, last_failure_at = $3 \
             WHERE key = $1 AND blocked_until <= $3 RETURNING failures",
        )
        .bind(key)
        .bind(now - window_ms)
        .bind(now)
        .fetch_optional(&mut *conn)
        .await?;
        match counted {
            Some((failures,)) => {
                sqlx::query("UPDATE login_failures SET blocked_until = $2 WHERE key = $1")
                    .bind(key)
                    .bind(now + backoff(failures))
                    .execute(&mut *conn)
                    .await?;
            }
            None => {
                let (until,): (i64,) =
                    sqlx::query_as("SELECT blocked_until FROM login_failures WHERE key = $1")
                        .bind(key)
                        .fetch_one(&mut *conn)
                        .await?;
                return Ok(Some((until - now).max(1)));
            }
        }
    }
    Ok(None)
}

pub async fn clear_login_failures(conn: &mut AnyConnection, key: &str) -> Result<()> {
    sqlx::query("DELETE FROM login_failures WHERE key = $1")
        .bind(key)
        .execute(conn)
        .await?;
    Ok(())
}
