//! The Integrations page: application keys (listed, created, revoked; the secret answered
//! once and never cached) and the newest change events, which the page polls for.
//!
//! Webhook endpoints, on the same page, have their server functions in [`super::webhooks`].

#[cfg(feature = "ssr")]
use super::guard::*;
use super::views::*;
#[cfg(feature = "ssr")]
use crate::management::{app_keys, reads};
use leptos::prelude::*;

/// How many change events the page shows (and asks for at once).
pub const FEED_EVENTS: i64 = 50;

// ── Application keys ────────────────────────────────────────────────────────────────────

#[server]
pub async fn list_app_keys(org: String) -> Result<Vec<AppKeyView>, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let list = app_keys::list(&store(), &actor.org).await?;
        Ok(list.iter().map(app_key_view).collect())
    })
    .await
}

#[server]
pub async fn create_app_key(org: String, label: String) -> Result<NewAppKeyView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let issued = app_keys::issue(&store(), &actor, &label).await?;
        // The one answer that shows the secret.
        no_store();
        Ok(NewAppKeyView {
            key: app_key_view(&issued.key),
            secret: issued.secret,
        })
    })
    .await
}

#[server]
pub async fn revoke_app_key(org: String, key_id: String) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(app_keys::revoke(&store(), &actor, &key_id).await?)
    })
    .await
}

#[cfg(feature = "ssr")]
fn app_key_view(k: &crate::directory::AppKey) -> AppKeyView {
    AppKeyView {
        id: k.id.clone(),
        label: k.label.clone(),
        hint: k.hint.clone(),
        created_by: k.created_by.clone(),
        created_at: k.created_at,
        last_used_at: k.last_used_at,
        state: if k.revoked_at.is_some() {
            "revoked"
        } else {
            "active"
        }
        .into(),
    }
}

// ── Event feed ──────────────────────────────────────────────────────────────────────────

/// The org's newest change events, newest first ([`FEED_EVENTS`] at most); with `after`,
/// only those after that sequence number (what the page has not seen yet).
#[server]
pub async fn recent_change_events(
    org: String,
    after: Option<i64>,
) -> Result<Vec<ChangeEventView>, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let list = reads::change_events(&store(), &actor.org, after, FEED_EVENTS).await?;
        Ok(list.iter().map(change_event_view).collect())
    })
    .await
}

#[cfg(feature = "ssr")]
fn change_event_view(e: &crate::directory::feed::ChangeEvent) -> ChangeEventView {
    ChangeEventView {
        seq: e.seq,
        event_type: e.event_type.clone(),
        occurred_at: e.occurred_at,
        origin: e.origin.clone(),
        summary: summary(&e.event_type, &e.data, &e.resource_id),
        resource_id: e.resource_id.clone(),
    }
}

/// One line about an event for people, from its data: "alice@example.com added to
/// Engineering", "bob@example.com's role: member → admin".
#[cfg(feature = "ssr")]
fn summary(event_type: &str, data: &serde_json::Value, resource_id: &str) -> String {
    use serde_json::Value;
    let text = |v: &Value, keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(Value::as_str).filter(|s| !s.is_empty()))
            .map(str::to_string)
    };
    let user = text(&data["user"], &["user_name", "email", "display_name", "id"])
        .unwrap_or_else(|| resource_id.to_string());
    let team = text(&data["team"], &["name", "id"]).unwrap_or_else(|| resource_id.to_string());
    let fields = || {
        let list: Vec<&str> = data["changed_fields"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        if list.is_empty() {
            String::new()
        } else {
            format!(": {}", list.join(", "))
        }
    };
    let role = |v: &Value| v.as_str().unwrap_or("none").to_string();
    match event_type {
        "user.created" => format!("{user} created"),
        "user.updated" => format!("{user} updated{}", fields()),
        "user.deactivated" => format!("{user} deactivated"),
        "user.reactivated" => format!("{user} reactivated"),
        "user.deleted" => format!("{user} deleted"),
        "user.role_changed" => format!(
            "{user}'s role: {} → {}",
            role(&data["previous_role"]),
            role(&data["role"])
        ),
        "team.created" => format!("Team {team} created"),
        "team.updated" => match data["previous"]["name"].as_str() {
            Some(old) if old != team => format!("Team {old} renamed to {team}"),
            _ => format!("Team {team} updated{}", fields()),
        },
        "team.deleted" => format!("Team {team} deleted"),
        "team.member_added" => format!("{user} added to {team}"),
        "team.member_removed" => format!("{user} removed from {team}"),
        other => format!("{other} {resource_id}"),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::summary;
    use serde_json::json;

    #[test]
    fn summaries_name_the_user_and_the_team() {
        let alice = json!({"user": {"id": "u1", "user_name": "alice@example.com"}});
        assert_eq!(
            summary("user.created", &alice, "u1"),
            "alice@example.com created"
        );
        let member = json!({
            "team": {"id": "t1", "name": "Engineering"},
            "user": {"id": "u1", "user_name": "alice@example.com", "display_name": null},
        });
        assert_eq!(
            summary("team.member_added", &member, "t1"),
            "alice@example.com added to Engineering"
        );
        assert_eq!(
            summary("team.member_removed", &member, "t1"),
            "alice@example.com removed from Engineering"
        );
        let updated =
            json!({"user": {"user_name": "bob"}, "changed_fields": ["displayName", "emails"]});
        assert_eq!(
            summary("user.updated", &updated, "u2"),
            "bob updated: displayName, emails"
        );
        let role = json!({"user": {"user_name": "bob"}, "role": "admin", "previous_role": null});
        assert_eq!(
            summary("user.role_changed", &role, "u2"),
            "bob's role: none → admin"
        );
        let renamed = json!({"team": {"name": "Platform"}, "changed_fields": ["name"], "previous": {"name": "Infra"}});
        assert_eq!(
            summary("team.updated", &renamed, "t2"),
            "Team Infra renamed to Platform"
        );
        // Data without names falls back to the resource id.
        assert_eq!(summary("user.deleted", &json!({}), "u3"), "u3 deleted");
    }
}
