//! SCIM tokens: issued (the secret shown once, only its hash kept), regenerated and revoked.
//! In the console each is one transaction with its audit row; regenerating revokes the old
//! token and issues the new one in that same transaction, so a failure halfway cannot
//! leave the org without a working token.

use super::{Actor, ManagementError, Result};
use crate::auth::token;
use crate::directory::{new_id, now_ms, Org, ScimToken};
use crate::store::{tokens, Store};

/// A new token: the record, and the secret to show exactly once.
pub struct IssuedToken {
    pub token: ScimToken,
    pub secret: String,
}

const MAX_EXPIRY_DAYS: u32 = 3650;

/// The expiry field of the token form: empty for none, else 1 to 3650 days.
pub fn parse_expiry_days(text: Option<&str>) -> Result<Option<u32>> {
    match text.map(str::trim).filter(|d| !d.is_empty()) {
        None => Ok(None),
        Some(d) => d
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=MAX_EXPIRY_DAYS).contains(d))
            .map(Some)
            .ok_or_else(|| {
                ManagementError::Invalid(
                    "Expiry must be a number of days between 1 and 3650.".into(),
                )
            }),
    }
}

/// A token record and its secret, not yet stored.
fn new_token(
    org: &Org,
    label: &str,
    expires_in_days: Option<u32>,
    created_by: Option<&str>,
) -> Result<(ScimToken, token::NewToken)> {
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
        hint: issued.hint.clone(),
        created_by: created_by.map(str::to_string),
        created_at: now,
        last_used_at: None,
        expires_at: expires_in_days.map(|d| now + i64::from(d) * 86_400_000),
        revoked_at: None,
    };
    Ok((t, issued))
}

/// Issues a token from the CLI (`created_by` names the door it came through).
pub async fn create_token(
    store: &Store,
    org: &Org,
    label: &str,
    expires_in_days: Option<u32>,
    created_by: Option<&str>,
) -> Result<IssuedToken> {
    let (t, issued) = new_token(org, label, expires_in_days, created_by)?;
    let mut tx = store.begin().await?;
    tokens::insert_token(&mut tx, &t, &issued.hash).await?;
    tx.commit().await?;
    Ok(IssuedToken {
        token: t,
        secret: issued.secret,
    })
}

/// Issues a token for an admin in the console, with its audit row.
pub async fn issue(
    store: &Store,
    actor: &Actor,
    label: &str,
    expires_in_days: Option<u32>,
) -> Result<IssuedToken> {
    let (t, issued) = new_token(&actor.org, label, expires_in_days, Some(&actor.admin.email))?;
    let mut tx = store.begin().await?;
    tokens::insert_token(&mut tx, &t, &issued.hash).await?;
    actor
        .audit(&mut tx, "token created", Some(&t.label), Some(&t.hint))
        .await?;
    tx.commit().await?;
    Ok(IssuedToken {
        token: t,
        secret: issued.secret,
    })
}

/// Replaces a token by a new one with the same label and lifetime: the old one stops
/// working when the new one starts, in one transaction.
pub async fn regenerate(store: &Store, actor: &Actor, token_id: &str) -> Result<IssuedToken> {
    let mut tx = store.begin().await?;
    let old = tokens::find_token(&mut tx, &actor.org.id, token_id)
        .await?
        .ok_or(ManagementError::NotFound("Token not found."))?;
    if old.revoked_at.is_some() {
        return Err(ManagementError::Conflict(
            "This token is revoked; create a new one instead.".into(),
        ));
    }
    let days = old
        .expires_at
        .map(|e| ((e - old.created_at) / 86_400_000).max(1) as u32);
    let (t, issued) = new_token(&actor.org, &old.label, days, Some(&actor.admin.email))?;
    tokens::revoke_token(&mut tx, &actor.org.id, &old.id).await?;
    tokens::insert_token(&mut tx, &t, &issued.hash).await?;
    actor
        .audit(
            &mut tx,
            "token regenerated",
            Some(&old.label),
            Some(&format!("{} replaced by {}", old.hint, t.hint)),
        )
        .await?;
    tx.commit().await?;
    Ok(IssuedToken {
        token: t,
        secret: issued.secret,
    })
}

pub async fn revoke(store: &Store, actor: &Actor, token_id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    let t = tokens::find_token(&mut tx, &actor.org.id, token_id)
        .await?
        .ok_or(ManagementError::NotFound("Token not found."))?;
    tokens::revoke_token(&mut tx, &actor.org.id, token_id).await?;
    actor
        .audit(&mut tx, "token revoked", Some(&t.label), Some(&t.hint))
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn list_tokens(store: &Store, org: &Org) -> Result<Vec<ScimToken>> {
    let mut c = store.read().await?;
    Ok(tokens::list_tokens(&mut c, &org.id).await?)
}
