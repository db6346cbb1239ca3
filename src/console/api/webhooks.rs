//! Webhook endpoints on the Integrations page: listed with their newest delivery attempts
//! (the page polls), added (the signing secret answered once and never cached), removed,
//! re-enabled after being disabled, and one event resent.

#[cfg(feature = "ssr")]
use super::guard::*;
use super::views::*;
#[cfg(feature = "ssr")]
use crate::management::webhooks;
use leptos::prelude::*;

/// How many of each endpoint's newest attempts the page shows.
pub const WEBHOOK_RECENT_ATTEMPTS: i64 = 10;

#[server]
pub async fn list_webhook_endpoints(
    org: String,
) -> Result<Vec<WebhookEndpointView>, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let list = webhooks::list(&store(), &actor.org, WEBHOOK_RECENT_ATTEMPTS).await?;
        Ok(list
            .iter()
            .map(|v| endpoint_view(&v.endpoint, &v.recent))
            .collect())
    })
    .await
}

/// Adds an endpoint; `event_types` is the filter as typed (names separated by commas or
/// spaces; empty for every type).
#[server]
pub async fn add_webhook_endpoint(
    org: String,
    url: String,
    event_types: String,
    description: String,
) -> Result<NewWebhookEndpointView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let made = webhooks::add(
            &store(),
            &actor,
            &url,
            &event_types,
            &description,
            webhook_allow_private(),
        )
        .await?;
        // The one answer that shows the secret.
        no_store();
        Ok(NewWebhookEndpointView {
            endpoint: endpoint_view(&made.endpoint, &[]),
            secret: made.secret,
        })
    })
    .await
}

#[server]
pub async fn remove_webhook_endpoint(
    org: String,
    endpoint_id: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(webhooks::remove(&store(), &actor, &endpoint_id).await?)
    })
    .await
}

#[server]
pub async fn enable_webhook_endpoint(
    org: String,
    endpoint_id: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(webhooks::enable(&store(), &actor, &endpoint_id).await?)
    })
    .await
}

/// Delivers one event to the endpoint again (soon, by whichever instance delivers next).
#[server]
pub async fn resend_webhook_event(
    org: String,
    endpoint_id: String,
    event_id: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(webhooks::resend(&store(), &actor, &endpoint_id, &event_id).await?)
    })
    .await
}

#[cfg(feature = "ssr")]
fn endpoint_view(
    e: &crate::store::webhooks::Endpoint,
    recent: &[crate::store::webhooks::Attempt],
) -> WebhookEndpointView {
    let state = if e.disabled_at.is_some() {
        "disabled"
    } else if e.failing_since.is_some() {
        "failing"
    } else {
        "active"
    };
    WebhookEndpointView {
        id: e.id.clone(),
        url: e.url.clone(),
        description: e.description.clone(),
        event_types: e.types().into_iter().map(str::to_string).collect(),
        secret_hint: e.secret_hint.clone(),
        created_by: e.created_by.clone(),
        created_at: e.created_at,
        state: state.into(),
        failing_since: e.failing_since,
        disabled_at: e.disabled_at,
        disabled_reason: e.disabled_reason.clone(),
        last_success_at: e.last_success_at,
        recent: recent
            .iter()
            .map(|a| WebhookAttemptView {
                id: a.id.clone(),
                event_id: a.event_id.clone(),
                seq: a.seq,
                event_type: a.event_type.clone(),
                attempted_at: a.attempted_at,
                outcome: a.outcome.clone(),
                status_code: a.status_code,
                latency_ms: a.latency_ms,
                error: a.error.clone(),
                response_excerpt: a.response_excerpt.clone(),
            })
            .collect(),
    }
}
