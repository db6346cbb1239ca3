//! An org's admins: the list with the audit trail, invitations (sent, answered, accepted
//! with a code), and removal.

#[cfg(feature = "ssr")]
use super::guard::*;
use super::views::*;
#[cfg(feature = "ssr")]
use super::NOT_SIGNED_IN;
#[cfg(feature = "ssr")]
use crate::management::admins;
use leptos::prelude::*;

#[server]
pub async fn admins_page(org: String) -> Result<AdminsPageView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let page = admins::admins_page(&store(), &actor.org).await?;
        Ok(AdminsPageView {
            org: summary(&actor.org),
            invited: page
                .invited
                .into_iter()
                .map(|i| InvitedView {
                    email: i.email,
                    invited_by: i.invited_by_email,
                    expires_at: i.expires_at,
                })
                .collect(),
            admins: page
                .admins
                .into_iter()
                .map(|a| AdminView {
                    is_you: a.id == actor.admin.id,
                    id: a.id,
                    email: a.email,
                    created_at: a.created_at,
                })
                .collect(),
            audit: page
                .audit
                .into_iter()
                .map(|e| AuditView {
                    occurred_at: e.occurred_at,
                    admin_email: e.admin_email,
                    action: e.action,
                    target: e.target,
                    detail: e.detail,
                })
                .collect(),
        })
    })
    .await
}

/// The answer carries the invitation's one-time code: never cached.
#[server]
pub async fn invite_admin(org: String, email: String) -> Result<InvitationView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let inv = admins::invite(&store(), &actor, &email).await?;
        no_store();
        Ok(InvitationView {
            email: inv.email,
            code: inv.code,
            expires_at: inv.expires_at,
        })
    })
    .await
}

#[server]
pub async fn pending_invitations() -> Result<Vec<PendingInvitationView>, ServerFnError> {
    console(async move {
        let admin = signed_in().await?;
        let list = admins::pending_invitations(&store(), &admin).await?;
        Ok(list
            .into_iter()
            .map(|p| PendingInvitationView {
                id: p.id,
                org: OrgSummary {
                    login: p.org_login,
                    name: p.org_name,
                },
                invited_by: p.invited_by_email,
                expires_at: p.expires_at,
            })
            .collect())
    })
    .await
}

#[server]
pub async fn answer_invitation(
    id: String,
    accept: bool,
    #[server(default)] code: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let admin = signed_in().await?;
        let joined = admins::answer_invitation(&store(), &admin.id, &id, accept, &code)
            .await
            .map_err(|e| ConsoleError::refused_as(e, NOT_SIGNED_IN))?;
        if let Some(login) = joined {
            leptos_axum::redirect(&format!("/orgs/{login}"));
        }
        Ok(())
    })
    .await
}

/// Accepts an invitation with its one-time code, signing in (or creating the account).
#[server]
pub async fn join_org(email: String, code: String, password: String) -> Result<(), ServerFnError> {
    const JOIN_FAILED: &str = "The email, invitation code or password is not valid.";
    console(async move {
        let (admin, login) = admins::join_org(&store(), client_addr(), &email, &code, password)
            .await
            .map_err(|e| ConsoleError::refused_as(e, JOIN_FAILED))?;
        start_session(&admin.id).await?;
        leptos_axum::redirect(&format!("/orgs/{login}"));
        Ok(())
    })
    .await
}

#[server]
pub async fn remove_admin(org: String, admin_id: String) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(admins::remove_admin(&store(), &actor, &admin_id).await?)
    })
    .await
}
