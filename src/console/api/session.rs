//! Signing in and out, and the first run.

#[cfg(feature = "ssr")]
use super::guard::*;
use super::views::*;
#[cfg(feature = "ssr")]
use super::SIGN_IN_FAILED;
#[cfg(feature = "ssr")]
use crate::management::{self, admins};
use leptos::prelude::*;

#[server]
pub async fn session_info() -> Result<SessionView, ServerFnError> {
    console(async move {
        let store = store();
        let needs_setup = management::orgs::needs_setup(&store).await?;
        let mut view = SessionView {
            needs_setup,
            admin_email: None,
            orgs: Vec::new(),
        };
        if let Some(admin) = current_admin().await? {
            view.orgs = admins::orgs_of(&store, &admin)
                .await?
                .iter()
                .map(summary)
                .collect();
            view.admin_email = Some(admin.email);
        }
        Ok(view)
    })
    .await
}

#[server]
pub async fn first_run(
    org_login: String,
    org_name: String,
    email: String,
    password: String,
) -> Result<(), ServerFnError> {
    console(async move {
        let (org, admin) =
            admins::first_run(&store(), &org_login, &org_name, &email, password).await?;
        start_session(&admin.id).await?;
        leptos_axum::redirect(&format!("/orgs/{}", org.login));
        Ok(())
    })
    .await
}

#[server]
pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
    console(async move {
        let store = store();
        let admin = admins::sign_in(&store, client_addr(), &email, password)
            .await
            .map_err(|e| ConsoleError::refused_as(e, SIGN_IN_FAILED))?;
        start_session(&admin.id).await?;
        leptos_axum::redirect(&admins::landing(&store, &admin).await?);
        Ok(())
    })
    .await
}

#[server]
pub async fn sign_out() -> Result<(), ServerFnError> {
    console(async move {
        end_session().await?;
        leptos_axum::redirect("/sign-in");
        Ok(())
    })
    .await
}
