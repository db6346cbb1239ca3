//! Organization management shared by the CLI and the console: orgs, admins and SCIM tokens.
//! Input is validated here so both front doors refuse the same bad input with the same words.

use crate::auth::{password, token};
use crate::directory::{new_id, now_ms, validate_email, validate_login, Admin, Org, ScimToken};
use crate::store::{admins, orgs, tokens, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("{0}")]
    Invalid(String),
    #[error("organization '{0}' does not exist")]
    UnknownOrg(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for ManagementError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(what) => ManagementError::Conflict(what),
            other => ManagementError::Store(other),
        }
    }
}

pub type Result<T> = std::result::Result<T, ManagementError>;

pub async fn create_org(store: &Store, login: &str, name: Option<&str>) -> Result<Org> {
    validate_login(login).map_err(ManagementError::Invalid)?;
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(login);
    let mut tx = store.begin().await?;
    let org = orgs::create_org(&mut tx, login, name).await?;
    tx.commit().await?;
    Ok(org)
}

pub async fn get_org(store: &Store, login: &str) -> Result<Org> {
    let mut c = store.read().await?;
    orgs::find_org_by_login(&mut c, login)
        .await?
        .ok_or_else(|| ManagementError::UnknownOrg(login.to_string()))
}

pub async fn create_admin(
    store: &Store,
    org_login: &str,
    email: &str,
    pw: String,
) -> Result<Admin> {
    validate_email(email).map_err(ManagementError::Invalid)?;
    password::validate(&pw).map_err(|e| ManagementError::Invalid(e.to_string()))?;
    let org = get_org(store, org_login).await?;
    let hash = password::hash_password(pw)
        .await
        .map_err(|e| ManagementError::Invalid(e.to_string()))?;
    let mut tx = store.begin().await?;
    let admin = admins::create_admin(&mut tx, email, &hash).await?;
    admins::add_org_admin(&mut tx, &org.id, &admin.id).await?;
    tx.commit().await?;
    Ok(admin)
}

/// A new token: the record, and the secret to show exactly once.
pub struct IssuedToken {
    pub token: ScimToken,
    pub secret: String,
}

pub async fn create_token(
    store: &Store,
    org: &Org,
    label: &str,
    expires_in_days: Option<u32>,
    created_by: Option<&str>,
) -> Result<IssuedToken> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ManagementError::Invalid(
            "a token label must be 1 to 100 characters".into(),
        ));
    }
    let now = now_ms();
    let issued = token::generate();
    let t = ScimToken {
        id: new_id(),
        org_id: org.id.clone(),
        label: label.to_string(),
        hint: issued.hint,
        created_by: created_by.map(str::to_string),
        created_at: now,
        last_used_at: None,
        expires_at: expires_in_days.map(|d| now + i64::from(d) * 86_400_000),
        revoked_at: None,
    };
    let mut tx = store.begin().await?;
    tokens::insert_token(&mut tx, &t, &issued.hash).await?;
    tx.commit().await?;
    Ok(IssuedToken {
        token: t,
        secret: issued.secret,
    })
}

pub async fn list_tokens(store: &Store, org: &Org) -> Result<Vec<ScimToken>> {
    let mut c = store.read().await?;
    Ok(tokens::list_tokens(&mut c, &org.id).await?)
}
