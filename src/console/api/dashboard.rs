//! The dashboard and the Connect page (the SCIM base URL and the org's settings).

#[cfg(feature = "ssr")]
use super::guard::*;
use super::views::*;
#[cfg(feature = "ssr")]
use crate::management::{orgs, reads, webhooks};
use leptos::prelude::*;

#[server]
pub async fn dashboard(org: String) -> Result<DashboardView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let d = reads::dashboard(&store(), &actor.org).await?;
        let warning = failing_warning(&d.recent, &d.clients);
        Ok(DashboardView {
            scim_base_url: scim_base_url(&actor.org).await,
            org: summary(&actor.org),
            users_active: d.users_active,
            users_deactivated: d.users_deactivated,
            teams_managed: d.teams_managed,
            teams_console: d.teams_console,
            hourly: d
                .hourly
                .into_iter()
                .map(|(hour, total, errors)| HourView {
                    hour,
                    total,
                    errors,
                })
                .collect(),
            clients: d
                .clients
                .into_iter()
                .map(|a| ClientView {
                    provider: crate::directory::provider_name(&a.client).to_string(),
                    client: a.client,
                    last_at: a.last_at,
                    last_status: a.last_status,
                    token_label: a.last_token_label,
                })
                .collect(),
            warning,
            webhooks_disabled: webhooks::disabled_count(&store(), &actor.org).await?,
        })
    })
    .await
}

/// A warning when the newest requests failed: the admin should learn that, say, Okta
/// still sends a token that was revoked.
#[cfg(feature = "ssr")]
fn failing_warning(
    recent: &[crate::directory::Event],
    clients: &[crate::store::events::ClientActivity],
) -> Option<String> {
    let latest = recent.first()?;
    if latest.status < 400 {
        return None;
    }
    // Successful reads are counted, not listed in `recent`: a client whose newest request
    // (of any kind) succeeded after these failures has recovered.
    let recovered = clients.iter().any(|c| {
        c.client == latest.client && c.last_status < 400 && c.last_at >= latest.occurred_at
    });
    if recovered {
        return None;
    }
    let failed = recent.iter().take_while(|e| e.status >= 400).count();
    let who = match crate::directory::provider_name(&latest.client) {
        crate::directory::UNKNOWN_PROVIDER => "the identity provider",
        known => known,
    };
    Some(if latest.status == 401 {
        format!(
            "The last {failed} SCIM request(s) from {who} were refused with 401: it is probably still using a revoked, expired or mistyped token{}. Paste a current token into {who}.",
            latest.token_label.as_ref().map(|l| format!(" (\"{l}\")")).unwrap_or_default()
        )
    } else {
        format!("The last {failed} SCIM request(s) from {who} failed (latest: HTTP {}). Open the provisioning log for details.", latest.status)
    })
}

#[server]
pub async fn connect_info(org: String) -> Result<ConnectView, ServerFnError> {
    console(async move {
        let org = org_admin(&org).await?.org;
        Ok(ConnectView {
            scim_base_url: scim_base_url(&org).await,
            unique_identifier: org.unique_identifier.clone(),
            user_name_immutable: org.user_name_immutable,
            allowed_roles: org.allowed_roles.clone(),
            org: summary(&org),
        })
    })
    .await
}

/// Polled by the Connect page until (and after) the identity provider's first request.
#[server]
pub async fn connection_status(org: String) -> Result<ConnectionView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let c = reads::connection(&store(), &actor.org).await?;
        Ok(ConnectionView {
            first_request_at: c.first.as_ref().map(|f| f.0),
            provider: c
                .first
                .as_ref()
                .map(|f| crate::directory::provider_name(&f.1).to_string()),
            last_request_at: c.last_at,
            users: c.users,
            groups: c.groups,
            recent: c.recent.iter().map(super::log::event_row).collect(),
        })
    })
    .await
}

#[server]
pub async fn update_settings(
    org: String,
    unique_identifier: String,
    user_name_immutable: Option<String>,
    allowed_roles: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        orgs::update_settings(
            &store(),
            &actor,
            &unique_identifier,
            user_name_immutable.is_some(),
            &allowed_roles,
        )
        .await?;
        Ok(())
    })
    .await
}
