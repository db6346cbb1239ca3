//! Webhook endpoints an org admin registers (console or CLI): the destination is checked,
//! the signing secret is shown once and stored sealed, and delivery starts with the events
//! that follow. Deliveries themselves are [`crate::webhooks`]'.

use super::{Actor, ManagementError, Result};
use crate::directory::feed::EventType;
use crate::directory::{new_id, now_ms, Org};
use crate::store::webhooks::{self as db, Attempt, Endpoint};
use crate::store::{feed, Store};
use base64::Engine;

/// Endpoints an org may have.
const MAX_ENDPOINTS: usize = 20;

pub struct NewEndpoint {
    pub endpoint: Endpoint,
    /// The Standard Webhooks signing secret (`whsec_…`), shown once.
    pub secret: String,
}

/// The event-type filter as the admin typed it: names separated by commas or spaces;
/// empty for every type.
fn parse_types(text: &str) -> Result<String> {
    let mut out: Vec<&str> = Vec::new();
    for t in text
        .split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        if EventType::parse(t).is_none() {
            return Err(ManagementError::Invalid(format!(
                "Unknown event type '{}'.",
                crate::net::truncate(t, 60)
            )));
        }
        if !out.contains(&t) {
            out.push(t);
        }
    }
    Ok(out.join(","))
}

#[allow(clippy::too_many_arguments)]
async fn create_for(
    store: &Store,
    org: &Org,
    url: &str,
    types: &str,
    description: &str,
    created_by: &str,
    allow_private: bool,
    actor: Option<&Actor>,
) -> Result<NewEndpoint> {
    let url = crate::webhooks::client::check_url(url, allow_private)
        .map_err(ManagementError::Invalid)?
        .to_string();
    let event_types = parse_types(types)?;
    let description = description.trim();
    if description.chars().count() > 200 {
        return Err(ManagementError::Invalid(
            "A description is at most 200 characters.".into(),
        ));
    }
    let mut raw = [0u8; 32];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut raw);
    let secret = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    );
    let sealed =
        crate::auth::sealing::seal(&secret).map_err(|e| ManagementError::Invalid(e.to_string()))?;
    let mut tx = store.begin().await?;
    if db::list(&mut tx, &org.id).await?.len() >= MAX_ENDPOINTS {
        return Err(ManagementError::Busy(format!(
            "An organization has at most {MAX_ENDPOINTS} webhook endpoints."
        )));
    }
    let (last, _) = feed::bounds(&mut tx, &org.id).await?;
    let ep = Endpoint {
        id: new_id(),
        org_id: org.id.clone(),
        url,
        description: description.to_string(),
        event_types,
        secret: sealed,
        secret_hint: format!("{}…", &secret[..12]),
        created_by: Some(created_by.to_string()),
        created_at: now_ms(),
        disabled_at: None,
        disabled_reason: None,
        // Deliveries start with the events after this one.
        cursor_seq: last,
        attempt: 0,
        next_attempt_at: 0,
        failing_since: None,
        last_success_at: None,
    };
    db::insert(&mut tx, &ep).await?;
    if let Some(a) = actor {
        a.audit(&mut tx, "webhook endpoint added", Some(&ep.url), None)
            .await?;
    }
    tx.commit().await?;
    Ok(NewEndpoint {
        endpoint: ep,
        secret,
    })
}

/// Adds an endpoint from the console, with its audit row.
pub async fn add(
    store: &Store,
    actor: &Actor,
    url: &str,
    types: &str,
    description: &str,
    allow_private: bool,
) -> Result<NewEndpoint> {
    let by = actor.admin.email.clone();
    create_for(
        store,
        &actor.org,
        url,
        types,
        description,
        &by,
        allow_private,
        Some(actor),
    )
    .await
}

/// Adds an endpoint from the CLI.
pub async fn create(
    store: &Store,
    org: &Org,
    url: &str,
    types: &str,
    description: &str,
    allow_private: bool,
) -> Result<NewEndpoint> {
    create_for(
        store,
        org,
        url,
        types,
        description,
        "cli",
        allow_private,
        None,
    )
    .await
}

/// An endpoint with its newest attempts.
pub struct EndpointView {
    pub endpoint: Endpoint,
    pub recent: Vec<Attempt>,
}

/// The org's endpoints, each with its `recent` newest attempts (at most 20 endpoints: a
/// bounded number of queries).
pub async fn list(store: &Store, org: &Org, recent: i64) -> Result<Vec<EndpointView>> {
    let mut c = store.read().await?;
    let mut attempts = std::collections::HashMap::new();
    for endpoint in db::list(&mut c, &org.id).await? {
        let list = db::recent_attempts(&mut c, &endpoint.id, recent).await?;
        attempts.insert(endpoint.id, list);
    }
    // The endpoints are read again after their attempts: their state (cursor, last
    // success) is then never older than the newest attempt shown.
    Ok(db::list(&mut c, &org.id)
        .await?
        .into_iter()
        .map(|endpoint| EndpointView {
            recent: attempts.remove(&endpoint.id).unwrap_or_default(),
            endpoint,
        })
        .collect())
}

pub async fn remove(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    let ep = db::find(&mut tx, &actor.org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("Endpoint not found."))?;
    db::delete(&mut tx, &actor.org.id, id).await?;
    actor
        .audit(&mut tx, "webhook endpoint removed", Some(&ep.url), None)
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_cli(store: &Store, org: &Org, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    if !db::delete(&mut tx, &org.id, id).await? {
        return Err(ManagementError::NotFound("Endpoint not found."));
    }
    tx.commit().await?;
    Ok(())
}

/// Turns a disabled endpoint back on; delivery resumes where it stopped.
pub async fn enable(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    let ep = db::find(&mut tx, &actor.org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("Endpoint not found."))?;
    db::enable(&mut tx, &actor.org.id, id).await?;
    actor
        .audit(&mut tx, "webhook endpoint enabled", Some(&ep.url), None)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// Asks for one event to be delivered again to an endpoint (whichever instance delivers
/// next sends it, once; recorded as `resent`).
pub async fn resend(store: &Store, actor: &Actor, endpoint_id: &str, event_id: &str) -> Result<()> {
    let mut tx = store.begin().await?;
    let ep = db::find(&mut tx, &actor.org.id, endpoint_id)
        .await?
        .ok_or(ManagementError::NotFound("Endpoint not found."))?;
    if feed::by_id(&mut tx, &actor.org.id, event_id)
        .await?
        .is_none()
    {
        return Err(ManagementError::NotFound(
            "Event not found (it may have expired).",
        ));
    }
    db::request_resend(&mut tx, &ep.id, event_id).await?;
    actor
        .audit(
            &mut tx,
            "webhook event resent",
            Some(&ep.url),
            Some(event_id),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// How many of the org's endpoints are disabled (the dashboard warns).
pub async fn disabled_count(store: &Store, org: &Org) -> Result<i64> {
    let mut c = store.read().await?;
    Ok(db::count_disabled(&mut c, &org.id).await?)
}
