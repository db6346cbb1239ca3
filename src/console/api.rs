//! The console's only door into the server: server functions. Each one checks the session
//! (and org membership) on the server, delegates to the store, and answers with plain view
//! types. Errors shown to users are generic; details go to the server log.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub login: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// No org exists yet: the console offers the first-run page.
    pub needs_setup: bool,
    pub admin_email: Option<String>,
    pub orgs: Vec<OrgSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    pub org: OrgSummary,
    pub scim_base_url: String,
    pub users_active: i64,
    pub users_deactivated: i64,
    pub teams_managed: i64,
    pub teams_console: i64,
}

/// What the browser is told when a sign-in fails, whatever the reason.
pub const SIGN_IN_FAILED: &str = "Sign-in failed: check your email and password.";
pub const NOT_SIGNED_IN: &str = "not signed in";

#[server]
pub async fn session_info() -> Result<SessionView, ServerFnError> {
    server::session_info().await
}

#[server]
pub async fn first_run(
    org_login: String,
    org_name: String,
    email: String,
    password: String,
) -> Result<(), ServerFnError> {
    server::first_run(org_login, org_name, email, password).await
}

#[server]
pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
    server::sign_in(email, password).await
}

#[server]
pub async fn sign_out() -> Result<(), ServerFnError> {
    server::sign_out().await
}

#[server]
pub async fn dashboard(org: String) -> Result<DashboardView, ServerFnError> {
    server::dashboard(org).await
}

#[cfg(feature = "ssr")]
pub mod server {
    //! Server side of the console API. Only this module names server types.

    use super::*;
    use crate::auth::password;
    use crate::state::AppState;
    use crate::store::{admins, groups, orgs, users};
    use tower_sessions::Session;

    const SESSION_ADMIN: &str = "admin_id";
    /// Failures allowed before sign-ins for that email or address are slowed down.
    const FREE_FAILURES: i64 = 5;

    fn state() -> AppState {
        expect_context::<AppState>()
    }

    /// A client-side failure: the message is for the user, the status for the logs and
    /// scripts (a wrong password is not a server error).
    fn fail(status: axum::http::StatusCode, msg: impl Into<String>) -> ServerFnError {
        if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
            r.set_status(status);
        }
        ServerFnError::new(msg.into())
    }

    fn internal(e: impl std::fmt::Display) -> ServerFnError {
        tracing::error!(error = %e, "console request failed");
        ServerFnError::new("Something went wrong; the details are in the server log.")
    }

    async fn session() -> Result<Session, ServerFnError> {
        leptos_axum::extract::<Session>().await.map_err(internal)
    }

    /// The signed-in admin's id, or an error the pages turn into a redirect to sign-in.
    pub async fn require_admin() -> Result<String, ServerFnError> {
        let s = session().await?;
        let id: Option<String> = s.get(SESSION_ADMIN).await.map_err(internal)?;
        let id = id.ok_or_else(|| fail(axum::http::StatusCode::UNAUTHORIZED, NOT_SIGNED_IN))?;
        let mut c = state().store.read().await.map_err(internal)?;
        if admins::find_admin(&mut c, &id)
            .await
            .map_err(internal)?
            .is_none()
        {
            s.flush().await.map_err(internal)?;
            return Err(fail(axum::http::StatusCode::UNAUTHORIZED, NOT_SIGNED_IN));
        }
        Ok(id)
    }

    /// The org `login`, if the signed-in admin belongs to it. Not-found and forbidden look
    /// the same, so admins cannot probe for other orgs.
    pub async fn require_org(login: &str) -> Result<crate::directory::Org, ServerFnError> {
        let admin = require_admin().await?;
        let mut c = state().store.read().await.map_err(internal)?;
        let org = orgs::find_org_by_login(&mut c, login)
            .await
            .map_err(internal)?;
        match org {
            Some(o)
                if admins::is_org_admin(&mut c, &o.id, &admin)
                    .await
                    .map_err(internal)? =>
            {
                Ok(o)
            }
            _ => Err(fail(
                axum::http::StatusCode::NOT_FOUND,
                "Organization not found.",
            )),
        }
    }

    pub async fn session_info() -> Result<SessionView, ServerFnError> {
        let st = state();
        let mut c = st.store.read().await.map_err(internal)?;
        let needs_setup = orgs::count_orgs(&mut c).await.map_err(internal)? == 0;
        let s = session().await?;
        let id: Option<String> = s.get(SESSION_ADMIN).await.map_err(internal)?;
        let mut view = SessionView {
            needs_setup,
            admin_email: None,
            orgs: Vec::new(),
        };
        if let Some(id) = id {
            if let Some(a) = admins::find_admin(&mut c, &id).await.map_err(internal)? {
                view.admin_email = Some(a.email);
                view.orgs = admins::list_admin_orgs(&mut c, &id)
                    .await
                    .map_err(internal)?
                    .into_iter()
                    .map(|o| OrgSummary {
                        login: o.login,
                        name: o.name,
                    })
                    .collect();
            }
        }
        Ok(view)
    }

    pub async fn first_run(
        org_login: String,
        org_name: String,
        email: String,
        password: String,
    ) -> Result<(), ServerFnError> {
        let st = state();
        let org_login = org_login.trim().to_string();
        crate::directory::validate_login(&org_login)
            .map_err(|e| fail(axum::http::StatusCode::BAD_REQUEST, e))?;
        let email = email.trim().to_string();
        crate::directory::validate_email(&email)
            .map_err(|e| fail(axum::http::StatusCode::BAD_REQUEST, e))?;
        password::validate(&password)
            .map_err(|e| fail(axum::http::StatusCode::BAD_REQUEST, e.to_string()))?;
        let hash = password::hash_password(password).await.map_err(internal)?;
        let mut tx = st.store.begin().await.map_err(internal)?;
        // Checked inside the write transaction: with SQLite's single writer two racing first
        // runs cannot both win; on PostgreSQL the window is the few milliseconds between two
        // simultaneous submissions of the set-up form.
        if orgs::count_orgs(&mut tx).await.map_err(internal)? > 0 {
            return Err(fail(
                axum::http::StatusCode::CONFLICT,
                "scimgate is already set up; sign in instead.",
            ));
        }
        let name = if org_name.trim().is_empty() {
            org_login.clone()
        } else {
            org_name.trim().to_string()
        };
        let org = orgs::create_org(&mut tx, &org_login, &name)
            .await
            .map_err(internal)?;
        let admin = admins::create_admin(&mut tx, &email, &hash)
            .await
            .map_err(internal)?;
        admins::add_org_admin(&mut tx, &org.id, &admin.id)
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        start_session(&admin.id).await?;
        leptos_axum::redirect(&format!("/orgs/{}", org.login));
        Ok(())
    }

    async fn start_session(admin_id: &str) -> Result<(), ServerFnError> {
        let s = session().await?;
        // A new id at sign-in defeats session fixation.
        s.cycle_id().await.map_err(internal)?;
        s.insert(SESSION_ADMIN, admin_id.to_string())
            .await
            .map_err(internal)?;
        Ok(())
    }

    fn client_key() -> String {
        use_context::<axum::http::request::Parts>()
            .and_then(|p| {
                p.extensions
                    .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            })
            .map(|ip| format!("ip:{ip}"))
            .unwrap_or_else(|| "ip:unknown".into())
    }

    /// Seconds the key must still wait before another attempt is considered.
    fn backoff_secs(failures: i64) -> i64 {
        if failures < FREE_FAILURES {
            0
        } else {
            (1i64 << (failures - FREE_FAILURES).min(10)).min(900)
        }
    }

    pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
        let st = state();
        let email_key = format!("email:{}", email.trim().to_lowercase());
        let ip_key = client_key();
        let now = crate::directory::now_ms();
        {
            let mut c = st.store.read().await.map_err(internal)?;
            for key in [&email_key, &ip_key] {
                let (failures, last) = admins::login_failures(&mut c, key)
                    .await
                    .map_err(internal)?;
                if now - last < backoff_secs(failures) * 1000 {
                    tracing::warn!(failures, "sign-in throttled");
                    return Err(fail(axum::http::StatusCode::UNAUTHORIZED, SIGN_IN_FAILED));
                }
            }
        }
        let found = {
            let mut c = st.store.read().await.map_err(internal)?;
            admins::find_admin_credentials(&mut c, &email)
                .await
                .map_err(internal)?
        };
        let (admin, hash) = match found {
            Some((a, h)) => (Some(a), Some(h)),
            None => (None, None),
        };
        let ok = password::verify_password(password, hash).await;
        let mut tx = st.store.begin().await.map_err(internal)?;
        match (ok, admin) {
            (true, Some(admin)) => {
                admins::clear_login_failures(&mut tx, &email_key)
                    .await
                    .map_err(internal)?;
                tx.commit().await.map_err(internal)?;
                start_session(&admin.id).await?;
                let mut c = st.store.read().await.map_err(internal)?;
                let orgs = admins::list_admin_orgs(&mut c, &admin.id)
                    .await
                    .map_err(internal)?;
                leptos_axum::redirect(
                    &orgs
                        .first()
                        .map(|o| format!("/orgs/{}", o.login))
                        .unwrap_or_else(|| "/".into()),
                );
                Ok(())
            }
            _ => {
                admins::record_login_failure(&mut tx, &email_key)
                    .await
                    .map_err(internal)?;
                admins::record_login_failure(&mut tx, &ip_key)
                    .await
                    .map_err(internal)?;
                tx.commit().await.map_err(internal)?;
                Err(fail(axum::http::StatusCode::UNAUTHORIZED, SIGN_IN_FAILED))
            }
        }
    }

    pub async fn sign_out() -> Result<(), ServerFnError> {
        let s = session().await?;
        // flush deletes the session from the store, not just the cookie.
        s.flush().await.map_err(internal)?;
        leptos_axum::redirect("/sign-in");
        Ok(())
    }

    pub async fn dashboard(login: String) -> Result<DashboardView, ServerFnError> {
        let org = require_org(&login).await?;
        let st = state();
        let mut c = st.store.read().await.map_err(internal)?;
        let (users_active, users_deactivated) = users::count_users(&mut c, &org.id)
            .await
            .map_err(internal)?;
        let (teams_managed, teams_console) = groups::count_groups(&mut c, &org.id)
            .await
            .map_err(internal)?;
        Ok(DashboardView {
            scim_base_url: format!("{}/scim/v2/{}", public_base().await, org.login),
            org: OrgSummary {
                login: org.login,
                name: org.name,
            },
            users_active,
            users_deactivated,
            teams_managed,
            teams_console,
        })
    }

    /// The configured public URL, or the one the browser used.
    async fn public_base() -> String {
        if let Some(u) = &state().public_url {
            return u.trim_end_matches('/').to_string();
        }
        let headers = leptos_axum::extract::<axum::http::HeaderMap>()
            .await
            .unwrap_or_default();
        let host = headers
            .get(axum::http::header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or("localhost");
        let proto = headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("http");
        format!("{proto}://{host}")
    }
}
