//! Organizations: each has its own SCIM base URL (`/scim/v2/{login}`) and settings.

use super::{bool_int, Result, StoreError};
use crate::directory::{new_id, now_ms, Org, ScimToken};
use sqlx::AnyConnection;

#[derive(sqlx::FromRow)]
struct OrgRow {
    id: String,
    login: String,
    name: String,
    user_name_immutable: i64,
    unique_identifier: String,
    allowed_roles: String,
    created_at: i64,
}

impl OrgRow {
    fn into_org(self) -> Result<Org> {
        Ok(Org {
            id: self.id,
            login: self.login,
            name: self.name,
            user_name_immutable: self.user_name_immutable != 0,
            unique_identifier: self.unique_identifier,
            allowed_roles: serde_json::from_str(&self.allowed_roles)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            created_at: self.created_at,
        })
    }
}

const COLUMNS: &str =
    "id, login, name, user_name_immutable, unique_identifier, allowed_roles, created_at";

pub async fn create_org(conn: &mut AnyConnection, login: &str, name: &str) -> Result<Org> {
    let org = Org {
        id: new_id(),
        login: login.to_string(),
        name: name.to_string(),
        user_name_immutable: false,
        unique_identifier: "userName".into(),
        allowed_roles: Vec::new(),
        created_at: now_ms(),
    };
    sqlx::query("INSERT INTO orgs (id, login, login_key, name, user_name_immutable, unique_identifier, allowed_roles, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&org.id)
        .bind(&org.login)
        .bind(org.login.to_lowercase())
        .bind(&org.name)
        .bind(bool_int(org.user_name_immutable))
        .bind(&org.unique_identifier)
        .bind("[]")
        .bind(org.created_at)
        .execute(conn)
        .await
        .map_err(|e| StoreError::conflict_or(e, "an organization with this login already exists"))?;
    Ok(org)
}

pub async fn find_org_by_login(conn: &mut AnyConnection, login: &str) -> Result<Option<Org>> {
    let row: Option<OrgRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM orgs WHERE login_key = $1"))
            .bind(login.to_lowercase())
            .fetch_optional(conn)
            .await?;
    row.map(OrgRow::into_org).transpose()
}

#[derive(sqlx::FromRow)]
struct OrgTokenRow {
    #[sqlx(flatten)]
    org: OrgRow,
    t_id: Option<String>,
    t_label: Option<String>,
    t_hint: Option<String>,
    t_created_by: Option<String>,
    t_created_at: Option<i64>,
    t_last_used_at: Option<i64>,
    t_expires_at: Option<i64>,
    t_revoked_at: Option<i64>,
    t_replaced_by: Option<String>,
    t_hash: Option<String>,
}

/// The org a SCIM request addresses and, if `token_hash` belongs to one of its tokens, that
/// token with its stored hash (for the caller's constant-time comparison). One query, because
/// every SCIM request asks both questions before anything else.
pub async fn find_org_with_token(
    conn: &mut AnyConnection,
    login: &str,
    token_hash: &str,
) -> Result<Option<(Org, Option<(ScimToken, String)>)>> {
    let row: Option<OrgTokenRow> = sqlx::query_as(
        "SELECT o.id, o.login, o.name, o.user_name_immutable, o.unique_identifier, o.allowed_roles, o.created_at, \
         t.id AS t_id, t.label AS t_label, t.hint AS t_hint, t.created_by AS t_created_by, t.created_at AS t_created_at, \
         t.last_used_at AS t_last_used_at, t.expires_at AS t_expires_at, t.revoked_at AS t_revoked_at, t.replaced_by AS t_replaced_by, t.token_hash AS t_hash \
         FROM orgs o LEFT JOIN scim_tokens t ON t.token_hash = $2 AND t.org_id = o.id WHERE o.login_key = $1",
    )
    .bind(login.to_lowercase())
    .bind(token_hash)
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let token = match (r.t_id, r.t_label, r.t_hint, r.t_created_at, r.t_hash) {
        (Some(id), Some(label), Some(hint), Some(created_at), Some(hash)) => Some((
            ScimToken {
                id,
                org_id: r.org.id.clone(),
                label,
                hint,
                created_by: r.t_created_by,
                created_at,
                last_used_at: r.t_last_used_at,
                expires_at: r.t_expires_at,
                revoked_at: r.t_revoked_at,
                replaced_by: r.t_replaced_by,
            },
            hash,
        )),
        _ => None,
    };
    Ok(Some((r.org.into_org()?, token)))
}

pub async fn find_org(conn: &mut AnyConnection, id: &str) -> Result<Option<Org>> {
    let row: Option<OrgRow> = sqlx::query_as(&format!("SELECT {COLUMNS} FROM orgs WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?;
    row.map(OrgRow::into_org).transpose()
}

pub async fn get_org_by_login(conn: &mut AnyConnection, login: &str) -> Result<Org> {
    find_org_by_login(conn, login)
        .await?
        .ok_or(StoreError::NotFound)
}

pub async fn list_orgs(conn: &mut AnyConnection) -> Result<Vec<Org>> {
    let rows: Vec<OrgRow> =
        sqlx::query_as(&format!("SELECT {COLUMNS} FROM orgs ORDER BY login_key"))
            .fetch_all(conn)
            .await?;
    rows.into_iter().map(OrgRow::into_org).collect()
}

pub async fn count_orgs(conn: &mut AnyConnection) -> Result<i64> {
    Ok(sqlx::query_scalar("SELECT COUNT(*) FROM orgs")
        .fetch_one(conn)
        .await?)
}

/// Updates the org's provisioning settings.
pub async fn update_org_settings(conn: &mut AnyConnection, org: &Org) -> Result<()> {
    let roles = serde_json::to_string(&org.allowed_roles)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let done = sqlx::query("UPDATE orgs SET name = $1, user_name_immutable = $2, unique_identifier = $3, allowed_roles = $4 WHERE id = $5")
        .bind(&org.name)
        .bind(bool_int(org.user_name_immutable))
        .bind(&org.unique_identifier)
        .bind(roles)
        .bind(&org.id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
