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
        let cond = users::search(q.as_deref(), status.as_deref(), source.as_deref());
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
pub async fn user_detail(org: String, id: String) -> Result<UserDetailView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let d = reads::user_detail(&store(), &actor.org, &id).await?;
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
