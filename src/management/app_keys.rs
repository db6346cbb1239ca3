//! Application keys: read-only access for the application that relies on scimgate (the
//! /v1 read API and the event feed). Issued in the console or the CLI, shown once, stored as
//! a hash; revoked keys stop working at once.

use super::{Actor, ManagementError, Result};
use crate::auth::token;
use crate::directory::{new_id, now_ms, AppKey, Org};
use crate::store::{app_keys, orgs, Store};

/// A new key: the record, and the secret to show exactly once.
pub struct IssuedKey {
    pub key: AppKey,
    pub secret: String,
}

fn new_key(org: &Org, label: &str, created_by: &str) -> Result<(AppKey, token::NewToken)> {
    let label = label.trim();
    if label.is_empty() || label.chars().count() > 100 {
        return Err(ManagementError::Invalid(
            "A key label must be 1 to 100 characters.".into(),
        ));
    }
    let issued = token::generate_with(token::APP_KEY_PREFIX);
    let key = AppKey {
        id: new_id(),
        org_id: org.id.clone(),
        label: label.to_string(),
        hint: issued.hint.clone(),
        created_by: Some(created_by.to_string()),
        created_at: now_ms(),
        last_used_at: None,
        revoked_at: None,
    };
    Ok((key, issued))
}

/// Issues a key from the CLI.
pub async fn create(store: &Store, org: &Org, label: &str) -> Result<IssuedKey> {
    let (key, issued) = new_key(org, label, "cli")?;
    let mut tx = store.begin().await?;
    app_keys::insert(&mut tx, &key, &issued.hash).await?;
    tx.commit().await?;
    Ok(IssuedKey {
        key,
        secret: issued.secret,
    })
}

/// Issues a key for an admin in the console, with its audit row.
pub async fn issue(store: &Store, actor: &Actor, label: &str) -> Result<IssuedKey> {
    let (key, issued) = new_key(&actor.org, label, &actor.admin.email)?;
    let mut tx = store.begin().await?;
    app_keys::insert(&mut tx, &key, &issued.hash).await?;
    actor
        .audit(
            &mut tx,
            "app key created",
            Some(&key.label),
            Some(&key.hint),
        )
        .await?;
    tx.commit().await?;
    Ok(IssuedKey {
        key,
        secret: issued.secret,
    })
}

pub async fn list(store: &Store, org: &Org) -> Result<Vec<AppKey>> {
    let mut c = store.read().await?;
    Ok(app_keys::list(&mut c, &org.id).await?)
}

/// Revokes a key from the CLI.
pub async fn revoke_cli(store: &Store, org: &Org, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    if !app_keys::revoke(&mut tx, &org.id, id, now_ms()).await? {
        return Err(ManagementError::NotFound("Key not found."));
    }
    tx.commit().await?;
    Ok(())
}

/// Revokes a key in the console, with its audit row.
pub async fn revoke(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    let key = app_keys::find(&mut tx, &actor.org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("Key not found."))?;
    if !app_keys::revoke(&mut tx, &actor.org.id, id, now_ms()).await? {
        return Err(ManagementError::Conflict(
            "This key is already revoked.".into(),
        ));
    }
    actor
        .audit(
            &mut tx,
            "app key revoked",
            Some(&key.label),
            Some(&key.hint),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The org `org_login` and the key, if `secret` is a live application key of that org.
/// Every failure is [`ManagementError::Refused`]: a SCIM token, another org's key, a revoked
/// or unknown one alike.
pub async fn authenticate(store: &Store, org_login: &str, secret: &str) -> Result<(Org, AppKey)> {
    if !secret.starts_with(token::APP_KEY_PREFIX) {
        return Err(ManagementError::Refused);
    }
    let hash = token::hash(secret);
    let mut c = store.read().await?;
    let Some((key, stored)) = app_keys::find_by_hash(&mut c, &hash).await? else {
        return Err(ManagementError::Refused);
    };
    if !token::hashes_equal(&hash, &stored) || key.revoked_at.is_some() {
        return Err(ManagementError::Refused);
    }
    let org = orgs::find_org_by_login(&mut c, org_login)
        .await?
        .filter(|o| o.id == key.org_id)
        .ok_or(ManagementError::Refused)?;
    drop(c);
    // Last use is worth a write at most once a minute; a failure to record it must not
    // refuse the read.
    if key.last_used_at.is_none_or(|t| t < now_ms() - 60_000) {
        let store = store.clone();
        let id = key.id.clone();
        tokio::spawn(async move {
            let result = async {
                let mut tx = store.begin_log().await?;
                app_keys::touch(&mut tx, &id, now_ms()).await?;
                tx.commit().await
            }
            .await;
            if let Err(e) = result {
                tracing::warn!(error = %e, "recording an app key's last use failed");
            }
        });
    }
    Ok((org, key))
}
