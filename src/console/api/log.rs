//! The provisioning log: a filtered page of SCIM requests, and one request in full.

#[cfg(feature = "ssr")]
use super::guard::*;
use super::views::*;
#[cfg(feature = "ssr")]
use crate::management::reads;
use leptos::prelude::*;

/// Filters are separate arguments (not a `LogQuery`) so that the form encoding stays flat.
#[allow(clippy::too_many_arguments)]
#[server]
pub async fn provisioning_log(
    org: String,
    status: Option<String>,
    kind: Option<String>,
    client: Option<String>,
    token: Option<String>,
    resource: Option<String>,
    text: Option<String>,
    hours: Option<i64>,
    before: Option<String>,
    after: Option<String>,
) -> Result<LogPageView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let search = reads::LogSearch {
            hours,
            status,
            kind,
            resource,
            client,
            token,
            text,
            before,
            after,
        };
        let page = reads::log_page(&store(), &actor.org, search).await?;
        Ok(LogPageView {
            org: summary(&actor.org),
            events: page.events.iter().map(event_row).collect(),
            next: page.next,
            newer: page.newer,
            tokens: page.tokens.iter().map(super::tokens::token_view).collect(),
            reads: page
                .reads
                .into_iter()
                .map(|r| ReadTrafficView {
                    minute: r.minute,
                    client: r.client,
                    token_label: r.token_label,
                    route: r.route,
                    remote_addr: r.remote_addr,
                    requests: r.requests,
                    total_us: r.total_us,
                    max_us: r.max_us,
                })
                .collect(),
        })
    })
    .await
}

#[server]
pub async fn event_detail(org: String, id: String) -> Result<EventDetailView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let (e, member_names) = reads::event(&store(), &actor.org, &id).await?;
        Ok(EventDetailView {
            org: summary(&actor.org),
            event: event_row(&e),
            query: e.query.clone(),
            request_body: e.request_body.clone(),
            member_names,
        })
    })
    .await
}

#[cfg(feature = "ssr")]
pub(super) fn event_row(e: &crate::directory::Event) -> EventRowView {
    EventRowView {
        id: e.id.clone(),
        occurred_at: e.occurred_at,
        method: e.method.clone(),
        path: e.path.clone(),
        status: e.status,
        scim_type: e.scim_type.clone(),
        client: e.client.clone(),
        token_label: e.token_label.clone(),
        duration_us: e.duration_us,
        summary: e.response_summary.clone(),
        changes: e
            .changes
            .iter()
            .map(|c| ChangeView {
                kind: c.kind.as_str().to_string(),
                resource_type: c.resource_type.clone(),
                resource_id: c.resource_id.clone(),
                resource_name: c.resource_name.clone(),
                detail_json: c
                    .detail
                    .as_ref()
                    .map(|d| serde_json::to_string_pretty(d).unwrap_or_default()),
            })
            .collect(),
    }
}
