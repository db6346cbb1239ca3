//! Teams: the list, a team's page, and the changes an admin makes to console-made teams
//! (teams an identity provider manages are refused by the use cases).

#[cfg(feature = "ssr")]
use super::guard::*;
#[cfg(feature = "ssr")]
use super::log::event_row;
use super::views::*;
#[cfg(feature = "ssr")]
use crate::management::{reads, teams};
use leptos::prelude::*;

#[server]
pub async fn list_teams(
    org: String,
    q: Option<String>,
    after: Option<String>,
) -> Result<Page<TeamRowView>, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let page =
            reads::teams_page(&store(), &actor.org, teams::search(q.as_deref()), after).await?;
        Ok(Page {
            items: page.rows.iter().map(team_row).collect(),
            total: page.total,
            next: page.next,
        })
    })
    .await
}

#[server]
pub async fn team_detail(
    org: String,
    id: String,
    after: Option<String>,
) -> Result<TeamDetailView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let d = reads::team_detail(&store(), &actor.org, &id, after).await?;
        Ok(TeamDetailView {
            org: summary(&actor.org),
            team: team_row(&d.team),
            external_id: d.team.external_id.clone(),
            members: d
                .members
                .rows
                .into_iter()
                .map(|m| MemberView {
                    user_id: m.user_id,
                    user_name: m.user_name,
                    display_name: m.display_name,
                })
                .collect(),
            next_members: d.members.next,
            history: d.history.iter().map(event_row).collect(),
        })
    })
    .await
}

/// `same_name`: set (any value) when the admin confirmed a name a managed team has.
#[server]
pub async fn create_team(
    org: String,
    name: String,
    same_name: Option<String>,
) -> Result<String, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let confirmed = same_name.is_some_and(|v| !v.is_empty());
        Ok(teams::create_team(&store(), &actor, &name, confirmed)
            .await?
            .id)
    })
    .await
}

#[server]
pub async fn rename_team(
    org: String,
    id: String,
    name: String,
    same_name: Option<String>,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let confirmed = same_name.is_some_and(|v| !v.is_empty());
        Ok(teams::rename_team(&store(), &actor, &id, &name, confirmed).await?)
    })
    .await
}

#[server]
pub async fn add_team_member(
    org: String,
    id: String,
    user_name: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(teams::add_member(&store(), &actor, &id, &user_name).await?)
    })
    .await
}

#[server]
pub async fn remove_team_member(
    org: String,
    id: String,
    user_id: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(teams::remove_member(&store(), &actor, &id, &user_id).await?)
    })
    .await
}

#[server]
pub async fn delete_team(org: String, id: String) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(teams::delete_team(&store(), &actor, &id).await?)
    })
    .await
}

#[cfg(feature = "ssr")]
fn team_row(g: &crate::directory::Group) -> TeamRowView {
    TeamRowView {
        id: g.id.clone(),
        name: g.display_name.clone(),
        managed_by: managed_by(&g.source),
        member_count: g.member_count,
        updated_at: g.updated_at,
    }
}
