//! SCIM tokens: issued (the secret shown once, only its hash kept), regenerated and revoked.
//! In the console each is one transaction with its audit row; regenerating issues the new
//! token and revokes the old one (or, with an overlap, lets it work a while longer) in that
//! same transaction, so a failure halfway cannot leave the org without a working token.

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
        replaced_by: None,
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

/// How long a regenerated token keeps working beside its successor: the time it takes to
/// paste the new secret into the identity provider without a single refused request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Overlap {
    /// The old secret stops at once (a leaked token).
    None,
    OneHour,
    OneDay,
}

impl Overlap {
    /// The form's value: `none` (or nothing, the old behaviour), `1h` or `24h`.
    pub fn parse(text: Option<&str>) -> Result<Overlap> {
        match text.map(str::trim).unwrap_or("") {
            "" | "none" => Ok(Overlap::None),
            "1h" => Ok(Overlap::OneHour),
            "24h" => Ok(Overlap::OneDay),
            _ => Err(ManagementError::Invalid(
                "The overlap must be none, 1 hour or 24 hours.".into(),
            )),
        }
    }

    pub fn ms(self) -> i64 {
        match self {
            Overlap::None => 0,
            Overlap::OneHour => 3_600_000,
            Overlap::OneDay => 24 * 3_600_000,
        }
    }
}

/// A regenerated token: the new one with its secret, and when the old one stops working
/// (now, or the end of the overlap; earlier if it was due to expire before).
pub struct Regenerated {
    pub issued: IssuedToken,
    pub old_stops_at: i64,
}

/// Replaces a token by a new one with the same label and lifetime, in one transaction.
/// Without an overlap the old one is revoked; with one it is marked replaced and works
/// until the overlap ends (the SCIM token check reads its expiry, on every instance).
pub async fn regenerate(
    store: &Store,
    actor: &Actor,
    token_id: &str,
    overlap: Overlap,
) -> Result<Regenerated> {
    let mut tx = store.begin().await?;
    let old = tokens::find_token(&mut tx, &actor.org.id, token_id)
        .await?
        .ok_or(ManagementError::NotFound("Token not found."))?;
    let now = now_ms();
    if old.revoked_at.is_some() {
        return Err(ManagementError::Conflict(
            "This token is revoked; create a new one instead.".into(),
        ));
    }
    if !old.usable_at(now) {
        return Err(ManagementError::Conflict(
            "This token has expired; create a new one instead.".into(),
        ));
    }
    // Regenerating a replaced token again would leave two successors, both working: the
    // admin would not know which one the identity provider holds.
    if old.replaced_by.is_some() {
        return Err(ManagementError::Conflict(
            "This token was already replaced; regenerate its successor, or revoke this one to end the overlap now.".into(),
        ));
    }
    let days = old
        .expires_at
        .map(|e| ((e - old.created_at) / 86_400_000).max(1) as u32);
    let (t, issued) = new_token(&actor.org, &old.label, days, Some(&actor.admin.email))?;
    tokens::insert_token(&mut tx, &t, &issued.hash).await?;
    let old_stops_at = match overlap {
        Overlap::None => {
            tokens::revoke_token(&mut tx, &actor.org.id, &old.id).await?;
            now
        }
        _ => {
            let until = now + overlap.ms();
            tokens::retire_token(&mut tx, &actor.org.id, &old.id, &t.id, until).await?;
            old.expires_at.map_or(until, |e| e.min(until))
        }
    };
    let detail = format!(
        "{} replaced by {}; {}",
        old.hint,
        t.hint,
        match overlap {
            Overlap::None => "the old one stopped at once",
            Overlap::OneHour => "the old one works for at most 1 more hour",
            Overlap::OneDay => "the old one works for at most 24 more hours",
        }
    );
    actor
        .audit(
            &mut tx,
            "token regenerated",
            Some(&old.label),
            Some(&detail),
        )
        .await?;
    // The old token's expiry moved: verified copies of it must be read again. Told even
    // when COMMIT reports a failure: it may have committed before the connection broke.
    let committed = tx.commit().await;
    store.credentials_changed();
    committed?;
    Ok(Regenerated {
        issued: IssuedToken {
            token: t,
            secret: issued.secret,
        },
        old_stops_at,
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
    let committed = tx.commit().await;
    store.credentials_changed();
    committed?;
    Ok(())
}

pub async fn list_tokens(store: &Store, org: &Org) -> Result<Vec<ScimToken>> {
    let mut c = store.read().await?;
    Ok(tokens::list_tokens(&mut c, &org.id).await?)
}
