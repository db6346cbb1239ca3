//! Orgs: creating them (CLI, first run) and the settings an admin changes on Connect.

use super::{Actor, ManagementError, Result};
use crate::directory::{validate_login, Org};
use crate::store::{orgs, Store};

pub async fn create_org(store: &Store, login: &str, name: Option<&str>) -> Result<Org> {
    validate_login(login).map_err(ManagementError::Invalid)?;
    let mut tx = store.begin().await?;
    let org = orgs::create_org(&mut tx, login, display_name(login, name)).await?;
    tx.commit().await?;
    Ok(org)
}

/// The org's display name: the one given, or its login.
pub(super) fn display_name<'a>(login: &'a str, name: Option<&'a str>) -> &'a str {
    name.map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(login)
}

pub async fn get_org(store: &Store, login: &str) -> Result<Org> {
    let mut c = store.read().await?;
    orgs::find_org_by_login(&mut c, login)
        .await?
        .ok_or_else(|| ManagementError::UnknownOrg(login.to_string()))
}

pub async fn list_orgs(store: &Store) -> Result<Vec<Org>> {
    let mut c = store.read().await?;
    Ok(orgs::list_orgs(&mut c).await?)
}

/// Whether no org exists yet (the console then offers the first-run page).
pub async fn needs_setup(store: &Store) -> Result<bool> {
    let mut c = store.read().await?;
    Ok(orgs::count_orgs(&mut c).await? == 0)
}

/// The longest role name an org may allow.
const MAX_ROLE_CHARS: usize = 64;

/// Changes how the identity provider's users are matched and which roles they may carry.
/// `allowed_roles` is the text of the form: names separated by commas or lines.
pub async fn update_settings(
    store: &Store,
    actor: &Actor,
    unique_identifier: &str,
    user_name_immutable: bool,
    allowed_roles: &str,
) -> Result<Org> {
    if !["userName", "email"].contains(&unique_identifier) {
        return Err(ManagementError::Invalid(
            "The unique identifier is userName or email.".into(),
        ));
    }
    let mut roles: Vec<String> = allowed_roles
        .split([',', '\n'])
        .map(|r| r.trim().to_string())
        .filter(|r| !r.is_empty())
        .collect();
    roles.dedup();
    if roles.iter().any(|r| r.chars().count() > MAX_ROLE_CHARS) {
        return Err(ManagementError::Invalid(
            "Role names are at most 64 characters.".into(),
        ));
    }
    let mut org = actor.org.clone();
    org.unique_identifier = unique_identifier.to_string();
    org.user_name_immutable = user_name_immutable;
    org.allowed_roles = roles;
    let mut tx = store.begin().await?;
    orgs::update_org_settings(&mut tx, &org).await?;
    let detail = format!(
        "identifier={}, userName immutable={}, roles={}",
        org.unique_identifier,
        org.user_name_immutable,
        org.allowed_roles.join(",")
    );
    actor
        .audit(&mut tx, "settings updated", None, Some(&detail))
        .await?;
    // The SCIM API keeps the org with each verified token: it must read the new settings
    // (told even when COMMIT reports a failure: it may have committed).
    let committed = tx.commit().await;
    store.credentials_changed();
    committed?;
    Ok(org)
}
