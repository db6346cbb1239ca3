//! Users: the searchable list, a user's page, and the users an admin makes by hand.

#[cfg(feature = "ssr")]
use super::guard::*;
#[cfg(feature = "ssr")]
use super::log::event_row;
use super::views::*;
#[cfg(feature = "ssr")]
use crate::management::{reads, users};
use leptos::prelude::*;

#[server]
pub async fn list_users(
    org: String,
    q: Option<String>,
    status: Option<String>,
    source: Option<String>,
    after: Option<String>,
) -> Result<Page<UserRowView>, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let cond = users::search(
            &actor.org.id,
            q.as_deref(),
            status.as_deref(),
            source.as_deref(),
        );
        let page = reads::users_page(&store(), &actor.org, cond, after).await?;
        Ok(Page {
            items: page.rows.iter().map(user_row).collect(),
            total: page.total,
            next: page.next,
        })
    })
    .await
}

#[server]
pub async fn user_detail(
    org: String,
    id: String,
    before: Option<i64>,
) -> Result<UserDetailView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let d = reads::user_detail(&store(), &actor.org, &id, before).await?;
        let u = &d.user;
        let cols = crate::directory::UserColumns::from_attributes(&u.attributes);
        Ok(UserDetailView {
            org: summary(&actor.org),
            external_id: u.external_id.clone(),
            role: d.role.clone(),
            emails: cols
                .emails
                .into_iter()
                .map(|e| EmailView {
                    value: e.value,
                    kind: e.kind,
                    primary: e.primary,
                })
                .collect(),
            attributes_json: serde_json::to_string_pretty(&u.attributes).unwrap_or_default(),
            teams: d
                .teams
                .into_iter()
                .map(|(id, name)| TeamRef { id, name })
                .collect(),
            history: d.history.iter().map(event_row).collect(),
            timeline: d.timeline.iter().map(timeline_entry).collect(),
            timeline_older: d.timeline_older,
            created_at: u.created_at,
            user: user_row(u),
        })
    })
    .await
}

#[server]
pub async fn create_console_user(
    org: String,
    user_name: String,
    display_name: String,
    email: String,
) -> Result<String, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let u = users::create_user(&store(), &actor, &user_name, &display_name, &email).await?;
        Ok(u.id)
    })
    .await
}

#[server]
pub async fn update_console_user(
    org: String,
    id: String,
    display_name: String,
    active: Option<String>,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(users::update_user(&store(), &actor, &id, &display_name, active.is_some()).await?)
    })
    .await
}

#[cfg(feature = "ssr")]
fn user_row(u: &crate::directory::User) -> UserRowView {
    let email = u
        .attributes
        .get("emails")
        .and_then(|e| e.as_array())
        .and_then(|a| {
            a.iter()
                .find(|e| e.get("primary") == Some(&serde_json::Value::Bool(true)))
                .or_else(|| a.first())
        })
        .and_then(|e| e.get("value"))
        .and_then(|v| v.as_str())
        .map(str::to_string);
    UserRowView {
        id: u.id.clone(),
        user_name: u.user_name.clone(),
        display_name: u.display_name.clone(),
        email,
        active: u.active,
        managed_by: managed_by(&u.source),
        updated_at: u.updated_at,
    }
}

/// A change event as an entry of the person's story.
#[cfg(feature = "ssr")]
fn timeline_entry(e: &crate::directory::feed::ChangeEvent) -> TimelineEntryView {
    use serde_json::Value;
    let data = &e.data;
    let title = match e.event_type.as_str() {
        "user.created" => "Created",
        "user.updated" => "Profile changed",
        "user.deactivated" => "Deactivated",
        "user.reactivated" => "Reactivated",
        "user.deleted" => "Deleted",
        "user.role_changed" => "Role changed",
        "team.member_added" => "Joined team",
        "team.member_removed" => "Left team",
        other => other,
    };
    let team = matches!(
        e.event_type.as_str(),
        "team.member_added" | "team.member_removed"
    )
    .then(|| TeamRef {
        id: text(data.pointer("/team/id")),
        name: text(data.pointer("/team/name")),
    });
    let mut changes = Vec::new();
    match e.event_type.as_str() {
        "user.updated" => {
            let fields = data.get("changed_fields").and_then(Value::as_array);
            for f in fields.into_iter().flatten().filter_map(Value::as_str) {
                if f == "active" {
                    continue; // told by its own deactivated/reactivated entry
                }
                changes.push(FieldChangeView {
                    field: f.to_string(),
                    before: shown(data.get("previous").and_then(|p| p.get(f))),
                    // Events from before `current` was recorded carry only `previous`.
                    after: data
                        .get("current")
                        .map(|c| shown(c.get(f)))
                        .unwrap_or_else(|| "(not recorded)".into()),
                });
            }
        }
        "user.role_changed" => changes.push(FieldChangeView {
            field: "role".into(),
            before: shown(data.get("previous_role")),
            after: shown(data.get("role")),
        }),
        _ => {}
    }
    TimelineEntryView {
        seq: e.seq,
        occurred_at: e.occurred_at,
        event_type: e.event_type.clone(),
        title: title.to_string(),
        origin: origin_label(&e.origin),
        team,
        changes,
    }
}

/// "scim:okta" → "Okta (SCIM)"; "console:ada@example.com" → "ada@example.com (console)".
#[cfg(feature = "ssr")]
fn origin_label(origin: &str) -> String {
    if let Some(admin) = origin.strip_prefix("console:") {
        return format!("{admin} (console)");
    }
    match crate::directory::managed_by(origin) {
        Some("SCIM") | None => format!("{} (SCIM)", origin.trim_start_matches("scim:")),
        Some(provider) => format!("{provider} (SCIM)"),
    }
}

#[cfg(feature = "ssr")]
fn text(v: Option<&serde_json::Value>) -> String {
    v.and_then(serde_json::Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// An attribute value in a line: strings as they are, emails and other multi-valued
/// attributes by their values, complex ones as `key: value` pairs, nothing as "—".
#[cfg(feature = "ssr")]
fn shown(v: Option<&serde_json::Value>) -> String {
    use serde_json::Value;
    match v {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) if s.is_empty() => "—".into(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(items)) if items.is_empty() => "—".into(),
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i.get("value") {
                Some(v) => shown(Some(v)),
                None => shown(Some(i)),
            })
            .collect::<Vec<_>>()
            .join(", "),
        Some(Value::Object(m)) => m
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, v)| format!("{k}: {}", shown(Some(v))))
            .collect::<Vec<_>>()
            .join("; "),
        Some(other) => other.to_string(),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn values_read_as_an_admin_would_write_them() {
        assert_eq!(shown(None), "—");
        assert_eq!(shown(Some(&json!("Ada"))), "Ada");
        assert_eq!(
            shown(Some(
                &json!([{"value": "a@x.test", "primary": true}, {"value": "b@x.test"}])
            )),
            "a@x.test, b@x.test"
        );
        assert_eq!(
            shown(Some(&json!({"familyName": "Lovelace", "givenName": "Ada"}))),
            "familyName: Lovelace; givenName: Ada"
        );
        assert_eq!(shown(Some(&json!(true))), "true");
    }

    #[test]
    fn origins_name_the_provider_or_the_admin() {
        assert_eq!(origin_label("scim:okta"), "Okta (SCIM)");
        assert_eq!(origin_label("scim:entra"), "Microsoft Entra ID (SCIM)");
        assert_eq!(origin_label("scim:curl"), "curl (SCIM)");
        assert_eq!(
            origin_label("console:ada@example.com"),
            "ada@example.com (console)"
        );
    }
}
