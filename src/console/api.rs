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
    /// The last 24 hours, one entry per hour with requests.
    pub hourly: Vec<HourView>,
    pub clients: Vec<ClientView>,
    /// Set when the most recent requests failed (e.g. a revoked token still in use).
    pub warning: Option<String>,
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    pub client: String,
    pub last_at: i64,
    pub last_status: i64,
    pub token_label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourView {
    pub hour: i64,
    pub total: i64,
    pub errors: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectView {
    pub org: OrgSummary,
    pub scim_base_url: String,
    pub unique_identifier: String,
    pub user_name_immutable: bool,
    pub allowed_roles: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    pub hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// active, expired or revoked
    pub state: String,
}

/// A token just created: the secret is in this one response and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTokenView {
    pub token: TokenView,
    pub secret: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    /// Cursor for the next page, if any.
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRowView {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    /// "Okta", "Microsoft Entra ID", … for provisioned users; None for console-made ones.
    pub managed_by: Option<String>,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailView {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRef {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetailView {
    pub org: OrgSummary,
    pub user: UserRowView,
    pub external_id: Option<String>,
    pub role: Option<String>,
    pub emails: Vec<EmailView>,
    pub attributes_json: String,
    pub teams: Vec<TeamRef>,
    pub history: Vec<EventRowView>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRowView {
    pub id: String,
    pub name: String,
    pub managed_by: Option<String>,
    pub member_count: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDetailView {
    pub org: OrgSummary,
    pub team: TeamRowView,
    pub external_id: Option<String>,
    pub members: Vec<MemberView>,
    pub next_members: Option<String>,
    pub history: Vec<EventRowView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    pub kind: String,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    pub detail_json: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRowView {
    pub id: String,
    pub occurred_at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub scim_type: Option<String>,
    pub client: String,
    pub token_label: Option<String>,
    pub duration_us: i64,
    pub summary: Option<String>,
    pub changes: Vec<ChangeView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetailView {
    pub org: OrgSummary,
    pub event: EventRowView,
    pub query: Option<String>,
    pub request_body: Option<String>,
}

/// Filters of the provisioning-log page, as they appear in its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub client: Option<String>,
    pub token: Option<String>,
    pub resource: Option<String>,
    pub text: Option<String>,
    /// Hours back from now (time range).
    pub hours: Option<i64>,
    pub before: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPageView {
    pub org: OrgSummary,
    pub events: Vec<EventRowView>,
    pub next: Option<String>,
    pub tokens: Vec<TokenView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    pub is_you: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub occurred_at: i64,
    pub admin_email: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminsPageView {
    pub org: OrgSummary,
    pub admins: Vec<AdminView>,
    pub invited: Vec<InvitedView>,
    pub audit: Vec<AuditView>,
}

/// An invitation just created: the code is shown once. The same answer whether or not the
/// email already has an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub email: String,
    pub code: String,
    pub expires_at: i64,
}

/// An invitation waiting for the signed-in admin's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitationView {
    pub id: String,
    pub org: OrgSummary,
    pub invited_by: String,
    pub expires_at: i64,
}

/// An invitation of this org nobody has answered yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitedView {
    pub email: String,
    pub invited_by: String,
    pub expires_at: i64,
}

/// A product name for a record's source (`scim:okta` → "Okta"); None for console-made.
pub fn managed_by(source: &str) -> Option<String> {
    let client = source.strip_prefix("scim:")?;
    Some(
        match client {
            "okta" => "Okta",
            "entra" => "Microsoft Entra ID",
            "onelogin" => "OneLogin",
            "jumpcloud" => "JumpCloud",
            _ => "SCIM",
        }
        .to_string(),
    )
}

#[server]
pub async fn connect_info(org: String) -> Result<ConnectView, ServerFnError> {
    server::connect_info(org).await
}

#[server]
pub async fn update_settings(
    org: String,
    unique_identifier: String,
    user_name_immutable: Option<String>,
    allowed_roles: String,
) -> Result<(), ServerFnError> {
    server::update_settings(
        org,
        unique_identifier,
        user_name_immutable.is_some(),
        allowed_roles,
    )
    .await
}

#[server]
pub async fn list_tokens(org: String) -> Result<Vec<TokenView>, ServerFnError> {
    server::list_tokens(org).await
}

#[server]
pub async fn create_token(
    org: String,
    label: String,
    expires_in_days: Option<String>,
) -> Result<NewTokenView, ServerFnError> {
    server::create_token(org, label, expires_in_days).await
}

#[server]
pub async fn regenerate_token(
    org: String,
    token_id: String,
) -> Result<NewTokenView, ServerFnError> {
    server::regenerate_token(org, token_id).await
}

#[server]
pub async fn revoke_token(org: String, token_id: String) -> Result<(), ServerFnError> {
    server::revoke_token(org, token_id).await
}

#[server]
pub async fn list_users(
    org: String,
    q: Option<String>,
    status: Option<String>,
    source: Option<String>,
    after: Option<String>,
) -> Result<Page<UserRowView>, ServerFnError> {
    server::list_users(org, q, status, source, after).await
}

#[server]
pub async fn user_detail(org: String, id: String) -> Result<UserDetailView, ServerFnError> {
    server::user_detail(org, id).await
}

#[server]
pub async fn create_console_user(
    org: String,
    user_name: String,
    display_name: String,
    email: String,
) -> Result<String, ServerFnError> {
    server::create_console_user(org, user_name, display_name, email).await
}

#[server]
pub async fn update_console_user(
    org: String,
    id: String,
    display_name: String,
    active: Option<String>,
) -> Result<(), ServerFnError> {
    server::update_console_user(org, id, display_name, active.is_some()).await
}

#[server]
pub async fn list_teams(
    org: String,
    q: Option<String>,
    after: Option<String>,
) -> Result<Page<TeamRowView>, ServerFnError> {
    server::list_teams(org, q, after).await
}

#[server]
pub async fn team_detail(
    org: String,
    id: String,
    after: Option<String>,
) -> Result<TeamDetailView, ServerFnError> {
    server::team_detail(org, id, after).await
}

#[server]
pub async fn create_team(org: String, name: String) -> Result<String, ServerFnError> {
    server::create_team(org, name).await
}

#[server]
pub async fn rename_team(org: String, id: String, name: String) -> Result<(), ServerFnError> {
    server::rename_team(org, id, name).await
}

#[server]
pub async fn add_team_member(
    org: String,
    id: String,
    user_name: String,
) -> Result<(), ServerFnError> {
    server::add_team_member(org, id, user_name).await
}

#[server]
pub async fn remove_team_member(
    org: String,
    id: String,
    user_id: String,
) -> Result<(), ServerFnError> {
    server::remove_team_member(org, id, user_id).await
}

#[server]
pub async fn delete_team(org: String, id: String) -> Result<(), ServerFnError> {
    server::delete_team(org, id).await
}

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
) -> Result<LogPageView, ServerFnError> {
    server::provisioning_log(
        org,
        LogQuery {
            status,
            kind,
            client,
            token,
            resource,
            text,
            hours,
            before,
        },
    )
    .await
}

#[server]
pub async fn event_detail(org: String, id: String) -> Result<EventDetailView, ServerFnError> {
    server::event_detail(org, id).await
}

#[server]
pub async fn admins_page(org: String) -> Result<AdminsPageView, ServerFnError> {
    server::admins_page(org).await
}

#[server]
pub async fn invite_admin(org: String, email: String) -> Result<InvitationView, ServerFnError> {
    server::invite_admin(org, email).await
}

#[server]
pub async fn pending_invitations() -> Result<Vec<PendingInvitationView>, ServerFnError> {
    server::pending_invitations().await
}

#[server]
pub async fn answer_invitation(
    id: String,
    accept: bool,
    #[server(default)] code: String,
) -> Result<(), ServerFnError> {
    server::answer_invitation(id, accept, code).await
}

#[server]
pub async fn join_org(email: String, code: String, password: String) -> Result<(), ServerFnError> {
    server::join_org(email, code, password).await
}

#[server]
pub async fn remove_admin(org: String, admin_id: String) -> Result<(), ServerFnError> {
    server::remove_admin(org, admin_id).await
}

/// Sets the page's Content-Security-Policy with this render's nonce (on the server; a
/// no-op in the browser). Called by the shell, before anything is streamed.
pub fn page_csp() {
    #[cfg(feature = "ssr")]
    if let (Some(nonce), Some(res)) = (
        leptos::nonce::use_nonce(),
        use_context::<leptos_axum::ResponseOptions>(),
    ) {
        if let Ok(v) = axum::http::HeaderValue::from_str(&crate::net::csp(Some(&nonce.to_string())))
        {
            res.insert_header(axum::http::header::CONTENT_SECURITY_POLICY, v);
        }
    }
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
        // Refused before the (deliberately expensive) hash once set-up has happened.
        let already = {
            let mut c = st.store.read().await.map_err(internal)?;
            orgs::count_orgs(&mut c).await.map_err(internal)? > 0
        };
        if already {
            return Err(fail(
                axum::http::StatusCode::CONFLICT,
                "scimgate is already set up; sign in instead.",
            ));
        }
        let hash = password::hash_password(password)
            .await
            .map_err(password_error)?;
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

    /// The client's address (the socket's, or a trusted proxy's `X-Forwarded-For`).
    fn client_addr() -> crate::net::ClientAddr {
        use_context::<axum::http::request::Parts>()
            .map(|p| crate::net::ClientAddr::of(&p.extensions))
            .unwrap_or(crate::net::ClientAddr::UNKNOWN)
    }

    /// Milliseconds a key waits after `failures` failed attempts in a row.
    fn backoff_ms(failures: i64) -> i64 {
        if failures < FREE_FAILURES {
            0
        } else {
            (1i64 << (failures - FREE_FAILURES).min(10)).min(900) * 1000
        }
    }

    /// Failures further apart than this start the count again.
    const FAILURE_WINDOW_MS: i64 = 15 * 60 * 1000;

    fn password_error(e: password::PasswordError) -> ServerFnError {
        match e {
            password::PasswordError::Busy => fail(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "Too many sign-ins at once; try again in a moment.",
            ),
            other => internal(other),
        }
    }

    /// Counts a password attempt for `email` from this client before the password is
    /// checked, in one transaction with the check that neither key is blocked (parallel
    /// guesses cannot all pass a stale count). Keys: the address (IPv6 per /64, since one
    /// host usually holds the whole prefix) and the email at that address, so a stranger
    /// elsewhere cannot lock an admin out. `None` when throttled; else the keys, to clear
    /// on success.
    async fn count_attempt(email: &str) -> Result<Option<[String; 2]>, ServerFnError> {
        let addr = crate::net::bucket_key(client_addr().0);
        let keys = [
            format!("ip:{addr}"),
            format!("email:{}|ip:{addr}", email.trim().to_lowercase()),
        ];
        let now = crate::directory::now_ms();
        let mut tx = state().store.begin().await.map_err(internal)?;
        let blocked =
            admins::reserve_login_attempt(&mut tx, &keys, now, FAILURE_WINDOW_MS, backoff_ms)
                .await
                .map_err(internal)?;
        if let Some(wait_ms) = blocked {
            drop(tx);
            tracing::warn!(%addr, wait_ms, "password attempt throttled");
            return Ok(None);
        }
        tx.commit().await.map_err(internal)?;
        Ok(Some(keys))
    }

    pub async fn sign_in(email: String, password: String) -> Result<(), ServerFnError> {
        let st = state();
        let Some(keys) = count_attempt(&email).await? else {
            return Err(fail(axum::http::StatusCode::UNAUTHORIZED, SIGN_IN_FAILED));
        };
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
        let ok = password::verify_password(password, hash)
            .await
            .map_err(password_error)?;
        match (ok, admin) {
            (true, Some(admin)) => {
                // A success takes back what this attempt counted, for the address too:
                // admins sharing an address (NAT) must not throttle each other by signing in.
                // Guesses at one account stay throttled by its email-at-address key.
                let mut tx = st.store.begin().await.map_err(internal)?;
                for key in &keys {
                    admins::clear_login_failures(&mut tx, key)
                        .await
                        .map_err(internal)?;
                }
                tx.commit().await.map_err(internal)?;
                start_session(&admin.id).await?;
                let mut c = st.store.read().await.map_err(internal)?;
                let orgs = admins::list_admin_orgs(&mut c, &admin.id)
                    .await
                    .map_err(internal)?;
                // Invitations waiting for this admin are answered first.
                let invited = crate::store::invitations::pending_for_email(
                    &mut c,
                    &admin.email,
                    crate::directory::now_ms(),
                )
                .await
                .map_err(internal)?;
                leptos_axum::redirect(&if !invited.is_empty() {
                    "/invitations".to_string()
                } else {
                    orgs.first()
                        .map(|o| format!("/orgs/{}", o.login))
                        .unwrap_or_else(|| "/".into())
                });
                Ok(())
            }
            _ => Err(fail(axum::http::StatusCode::UNAUTHORIZED, SIGN_IN_FAILED)),
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
        let since = crate::directory::now_ms() - 24 * 3_600_000;
        let hourly = crate::store::events::hourly_counts(&mut c, &org.id, since)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|(hour, total, errors)| HourView {
                hour,
                total,
                errors,
            })
            .collect();
        let clients: Vec<ClientView> = crate::store::events::client_activity(&mut c, &org.id)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|a| ClientView {
                client: a.client,
                last_at: a.last_at,
                last_status: a.last_status,
                token_label: a.last_token_label,
            })
            .collect();
        // Only the org's own tokens count: a stranger's 401s say nothing about its identity
        // provider.
        let identified = crate::store::events::EventFilter {
            identified: true,
            ..Default::default()
        };
        let recent = crate::store::events::search_events(&mut c, &org.id, &identified, 5)
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
            hourly,
            clients,
            warning: failing_warning(&recent),
        })
    }

    /// A warning when the newest requests failed: the admin should learn that, say, Okta
    /// still sends a token that was revoked.
    fn failing_warning(recent: &[crate::directory::Event]) -> Option<String> {
        let latest = recent.first()?;
        if latest.status < 400 {
            return None;
        }
        let failed = recent.iter().take_while(|e| e.status >= 400).count();
        let who = managed_by(&format!("scim:{}", latest.client))
            .unwrap_or_else(|| "The identity provider".into());
        Some(if latest.status == 401 {
            format!(
                "The last {failed} SCIM request(s) from {who} were refused with 401: it is probably still using a revoked, expired or mistyped token{}. Paste a current token into {who}.",
                latest.token_label.as_ref().map(|l| format!(" (\"{l}\")")).unwrap_or_default()
            )
        } else {
            format!("The last {failed} SCIM request(s) from {who} failed (latest: HTTP {}). Open the provisioning log for details.", latest.status)
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
        crate::net::base_url_from_headers(&headers)
    }

    use crate::directory::query;
    use crate::directory::{now_ms, Admin, Event, Org, User};
    use crate::store::{audit, events, tokens};

    /// The org and the signed-in admin, if the admin belongs to it.
    async fn require_org_admin(login: &str) -> Result<(Org, Admin), ServerFnError> {
        let admin_id = require_admin().await?;
        let org = require_org(login).await?;
        let mut c = state().store.read().await.map_err(internal)?;
        let admin = admins::find_admin(&mut c, &admin_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::UNAUTHORIZED, NOT_SIGNED_IN))?;
        Ok((org, admin))
    }

    fn summary(o: &Org) -> OrgSummary {
        OrgSummary {
            login: o.login.clone(),
            name: o.name.clone(),
        }
    }

    async fn audit_action(
        org: &Org,
        admin: &Admin,
        action: &str,
        target: Option<&str>,
        detail: Option<&str>,
    ) -> Result<(), ServerFnError> {
        let mut tx = state().store.begin().await.map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            action,
            target,
            detail,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    fn token_view(t: &crate::directory::ScimToken) -> TokenView {
        let state = if t.revoked_at.is_some() {
            "revoked"
        } else if !t.usable_at(now_ms()) {
            "expired"
        } else {
            "active"
        };
        TokenView {
            id: t.id.clone(),
            label: t.label.clone(),
            hint: t.hint.clone(),
            created_by: t.created_by.clone(),
            created_at: t.created_at,
            last_used_at: t.last_used_at,
            expires_at: t.expires_at,
            state: state.into(),
        }
    }

    fn event_row(e: &Event) -> EventRowView {
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

    fn user_row(u: &User) -> UserRowView {
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

    const PAGE: u64 = 50;

    /// The console's keyset page: `PAGE` rows after the `after` id (ids are time-ordered),
    /// plus one to know whether there is a next page.
    fn keyset_query(cond: query::Cond, after: Option<String>) -> query::ListQuery {
        query::ListQuery {
            cond,
            limit: PAGE + 1,
            after,
            ..Default::default()
        }
    }

    fn keyset_page<T, U>(
        total: i64,
        list: Vec<T>,
        id: impl Fn(&T) -> String,
        view: impl Fn(&T) -> U,
    ) -> Page<U> {
        let next = (list.len() as u64 > PAGE).then(|| id(&list[PAGE as usize - 1]));
        Page {
            items: list.iter().take(PAGE as usize).map(view).collect(),
            total,
            next,
        }
    }

    pub async fn connect_info(login: String) -> Result<ConnectView, ServerFnError> {
        let org = require_org(&login).await?;
        Ok(ConnectView {
            scim_base_url: format!("{}/scim/v2/{}", public_base().await, org.login),
            unique_identifier: org.unique_identifier.clone(),
            user_name_immutable: org.user_name_immutable,
            allowed_roles: org.allowed_roles.clone(),
            org: summary(&org),
        })
    }

    pub async fn update_settings(
        login: String,
        unique_identifier: String,
        user_name_immutable: bool,
        allowed_roles: String,
    ) -> Result<(), ServerFnError> {
        let (mut org, admin) = require_org_admin(&login).await?;
        if !["userName", "email"].contains(&unique_identifier.as_str()) {
            return Err(fail(
                axum::http::StatusCode::BAD_REQUEST,
                "The unique identifier is userName or email.",
            ));
        }
        let mut roles: Vec<String> = allowed_roles
            .split([',', '\n'])
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        roles.dedup();
        if roles.iter().any(|r| r.chars().count() > 64) {
            return Err(fail(
                axum::http::StatusCode::BAD_REQUEST,
                "Role names are at most 64 characters.",
            ));
        }
        org.unique_identifier = unique_identifier;
        org.user_name_immutable = user_name_immutable;
        org.allowed_roles = roles;
        let mut tx = state().store.begin().await.map_err(internal)?;
        crate::store::orgs::update_org_settings(&mut tx, &org)
            .await
            .map_err(internal)?;
        let detail = format!(
            "identifier={}, userName immutable={}, roles={}",
            org.unique_identifier,
            org.user_name_immutable,
            org.allowed_roles.join(",")
        );
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "settings updated",
            None,
            Some(&detail),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    pub async fn list_tokens(login: String) -> Result<Vec<TokenView>, ServerFnError> {
        let org = require_org(&login).await?;
        let mut c = state().store.read().await.map_err(internal)?;
        Ok(tokens::list_tokens(&mut c, &org.id)
            .await
            .map_err(internal)?
            .iter()
            .map(token_view)
            .collect())
    }

    fn no_store() {
        // The one response that carries a secret must not be cached anywhere.
        if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
            r.insert_header(
                axum::http::header::CACHE_CONTROL,
                axum::http::HeaderValue::from_static("no-store"),
            );
        }
    }

    pub async fn create_token(
        login: String,
        label: String,
        expires_in_days: Option<String>,
    ) -> Result<NewTokenView, ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let days = match expires_in_days
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
        {
            None => None,
            Some(d) => Some(
                d.parse::<u32>()
                    .ok()
                    .filter(|d| (1..=3650).contains(d))
                    .ok_or_else(|| {
                        fail(
                            axum::http::StatusCode::BAD_REQUEST,
                            "Expiry must be a number of days between 1 and 3650.",
                        )
                    })?,
            ),
        };
        let issued =
            crate::management::create_token(&state().store, &org, &label, days, Some(&admin.email))
                .await
                .map_err(|e| match e {
                    crate::management::ManagementError::Invalid(m) => {
                        fail(axum::http::StatusCode::BAD_REQUEST, m)
                    }
                    other => internal(other),
                })?;
        audit_action(
            &org,
            &admin,
            "token created",
            Some(&issued.token.label),
            Some(&issued.token.hint),
        )
        .await?;
        no_store();
        Ok(NewTokenView {
            token: token_view(&issued.token),
            secret: issued.secret,
        })
    }

    pub async fn regenerate_token(
        login: String,
        token_id: String,
    ) -> Result<NewTokenView, ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let old = {
            let mut c = state().store.read().await.map_err(internal)?;
            tokens::find_token(&mut c, &org.id, &token_id)
                .await
                .map_err(internal)?
                .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "Token not found."))?
        };
        {
            let mut tx = state().store.begin().await.map_err(internal)?;
            tokens::revoke_token(&mut tx, &org.id, &old.id)
                .await
                .map_err(internal)?;
            tx.commit().await.map_err(internal)?;
        }
        let days = old
            .expires_at
            .map(|e| ((e - old.created_at) / 86_400_000).max(1) as u32);
        let issued = crate::management::create_token(
            &state().store,
            &org,
            &old.label,
            days,
            Some(&admin.email),
        )
        .await
        .map_err(internal)?;
        audit_action(
            &org,
            &admin,
            "token regenerated",
            Some(&old.label),
            Some(&format!("{} replaced by {}", old.hint, issued.token.hint)),
        )
        .await?;
        no_store();
        Ok(NewTokenView {
            token: token_view(&issued.token),
            secret: issued.secret,
        })
    }

    pub async fn revoke_token(login: String, token_id: String) -> Result<(), ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let mut tx = state().store.begin().await.map_err(internal)?;
        let t = tokens::find_token(&mut tx, &org.id, &token_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "Token not found."))?;
        tokens::revoke_token(&mut tx, &org.id, &token_id)
            .await
            .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "token revoked",
            Some(&t.label),
            Some(&t.hint),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    fn and(a: query::Cond, b: query::Cond) -> query::Cond {
        query::Cond::And(Box::new(a), Box::new(b))
    }

    pub async fn list_users(
        login: String,
        q: Option<String>,
        status: Option<String>,
        source: Option<String>,
        after: Option<String>,
    ) -> Result<Page<UserRowView>, ServerFnError> {
        use query::{Collection, Cond, Op, Target, Val};
        let org = require_org(&login).await?;
        let mut cond = Cond::All;
        if let Some(q) = q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            let email = Cond::Any(
                Collection::Emails,
                Box::new(Cond::Test(
                    Target::Elem {
                        sub: "value".into(),
                        case_exact: false,
                        boolean: false,
                    },
                    Op::Sw,
                    Val::Str(q.to_string()),
                )),
            );
            // Prefix searches, so that each term is an index range even with 100,000 users.
            let starts = |t: Target| Cond::Test(t, Op::Sw, Val::Str(q.to_string()));
            cond = if q.contains('@') {
                Cond::Or(Box::new(starts(Target::UserName)), Box::new(email))
            } else {
                Cond::Or(
                    Box::new(starts(Target::UserName)),
                    Box::new(starts(Target::DisplayName)),
                )
            };
        }
        match status.as_deref() {
            Some("active") => cond = and(cond, Cond::Test(Target::Active, Op::Eq, Val::Bool(true))),
            Some("deactivated") => {
                cond = and(cond, Cond::Test(Target::Active, Op::Eq, Val::Bool(false)))
            }
            _ => {}
        }
        match source.as_deref() {
            Some("scim") => {
                cond = and(
                    cond,
                    Cond::Test(Target::Source, Op::Sw, Val::Str("scim:".into())),
                )
            }
            Some("console") => {
                cond = and(
                    cond,
                    Cond::Test(
                        Target::Source,
                        Op::Eq,
                        Val::Str(crate::directory::SOURCE_CONSOLE.into()),
                    ),
                )
            }
            _ => {}
        }
        let (total, list) = state()
            .store
            .page_users(&org.id, &keyset_query(cond, after))
            .await
            .map_err(internal)?;
        Ok(keyset_page(total, list, |x| x.id.clone(), user_row))
    }

    pub async fn user_detail(login: String, id: String) -> Result<UserDetailView, ServerFnError> {
        let org = require_org(&login).await?;
        let mut c = state().store.read().await.map_err(internal)?;
        let u = crate::store::users::find_user(&mut c, &org.id, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "User not found."))?;
        let teams = crate::store::users::list_user_groups(&mut c, &u.id)
            .await
            .map_err(internal)?
            .into_iter()
            .map(|(id, name)| TeamRef { id, name })
            .collect();
        let history = events::events_for_resource(&mut c, &org.id, &u.id, 20)
            .await
            .map_err(internal)?
            .iter()
            .map(event_row)
            .collect();
        let cols = crate::directory::UserColumns::from_attributes(&u.attributes);
        Ok(UserDetailView {
            org: summary(&org),
            external_id: u.external_id.clone(),
            role: u
                .attributes
                .get(crate::scim::schema::SCIMGATE_USER_SCHEMA)
                .and_then(|e| e.get("role"))
                .and_then(|r| r.as_str())
                .map(str::to_string),
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
            teams,
            history,
            created_at: u.created_at,
            user: user_row(&u),
        })
    }

    fn bad(m: impl Into<String>) -> ServerFnError {
        fail(axum::http::StatusCode::BAD_REQUEST, m)
    }

    pub async fn create_console_user(
        login: String,
        user_name: String,
        display_name: String,
        email: String,
    ) -> Result<String, ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let user_name = user_name.trim().to_string();
        if user_name.is_empty() {
            return Err(bad("A username is required."));
        }
        let mut attrs = serde_json::Map::new();
        attrs.insert("userName".into(), user_name.clone().into());
        attrs.insert("active".into(), true.into());
        if !display_name.trim().is_empty() {
            attrs.insert("displayName".into(), display_name.trim().into());
        }
        if !email.trim().is_empty() {
            crate::directory::validate_email(email.trim()).map_err(bad)?;
            attrs.insert(
                "emails".into(),
                serde_json::json!([{"value": email.trim(), "type": "work", "primary": true}]),
            );
        }
        let cols = crate::directory::UserColumns::from_attributes(&attrs);
        let now = now_ms();
        let u = User {
            id: crate::directory::new_id(),
            org_id: org.id.clone(),
            user_name: cols.user_name,
            external_id: None,
            display_name: cols.display_name,
            active: true,
            attributes: attrs,
            source: crate::directory::SOURCE_CONSOLE.into(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut tx = state().store.begin().await.map_err(internal)?;
        crate::store::users::insert_user(&mut tx, &u)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(_) => fail(
                    axum::http::StatusCode::CONFLICT,
                    "A user with this username already exists.",
                ),
                other => internal(other),
            })?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "user created",
            Some(&user_name),
            None,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(u.id)
    }

    pub async fn update_console_user(
        login: String,
        id: String,
        display_name: String,
        active: bool,
    ) -> Result<(), ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let mut tx = state().store.begin().await.map_err(internal)?;
        let mut u = crate::store::users::find_user(&mut tx, &org.id, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "User not found."))?;
        if let Some(by) = managed_by(&u.source) {
            return Err(fail(
                axum::http::StatusCode::FORBIDDEN,
                format!("This user is managed by {by}; change it there."),
            ));
        }
        let version = u.version;
        if display_name.trim().is_empty() {
            u.attributes.remove("displayName");
        } else {
            u.attributes
                .insert("displayName".into(), display_name.trim().into());
        }
        u.attributes.insert("active".into(), active.into());
        u.updated_at = now_ms();
        crate::store::users::update_user(&mut tx, &u, version, None)
            .await
            .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "user updated",
            Some(&u.user_name),
            Some(&format!("active={active}")),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    fn team_row(g: &crate::directory::Group) -> TeamRowView {
        TeamRowView {
            id: g.id.clone(),
            name: g.display_name.clone(),
            managed_by: managed_by(&g.source),
            member_count: g.member_count,
            updated_at: g.updated_at,
        }
    }

    pub async fn list_teams(
        login: String,
        q: Option<String>,
        after: Option<String>,
    ) -> Result<Page<TeamRowView>, ServerFnError> {
        use query::{Cond, Op, Target, Val};
        let org = require_org(&login).await?;
        let mut cond = Cond::All;
        if let Some(q) = q.as_deref().map(str::trim).filter(|q| !q.is_empty()) {
            cond = Cond::Test(Target::DisplayName, Op::Sw, Val::Str(q.to_string()));
        }
        let (total, list, _) = state()
            .store
            .page_groups(&org.id, &keyset_query(cond, after))
            .await
            .map_err(internal)?;
        Ok(keyset_page(total, list, |x| x.id.clone(), team_row))
    }

    pub async fn team_detail(
        login: String,
        id: String,
        after: Option<String>,
    ) -> Result<TeamDetailView, ServerFnError> {
        let org = require_org(&login).await?;
        let mut c = state().store.read().await.map_err(internal)?;
        let g = crate::store::groups::find_group(&mut c, &org.id, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "Team not found."))?;
        let mut members =
            crate::store::groups::list_members(&mut c, &g.id, after.as_deref(), PAGE + 1)
                .await
                .map_err(internal)?;
        let next_members =
            (members.len() as u64 > PAGE).then(|| members[PAGE as usize - 1].user_id.clone());
        members.truncate(PAGE as usize);
        let history = events::events_for_resource(&mut c, &org.id, &g.id, 20)
            .await
            .map_err(internal)?
            .iter()
            .map(event_row)
            .collect();
        Ok(TeamDetailView {
            org: summary(&org),
            team: team_row(&g),
            external_id: g.external_id.clone(),
            members: members
                .into_iter()
                .map(|m| MemberView {
                    user_id: m.user_id,
                    user_name: m.user_name,
                    display_name: m.display_name,
                })
                .collect(),
            next_members,
            history,
        })
    }

    /// Loads a team for a console change, refusing teams an identity provider manages: the
    /// check is here, on the server, not only in the hidden buttons.
    async fn editable_team(
        tx: &mut crate::store::Tx,
        org: &Org,
        id: &str,
    ) -> Result<crate::directory::Group, ServerFnError> {
        let g = crate::store::groups::find_group(&mut *tx, &org.id, id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "Team not found."))?;
        if let Some(by) = managed_by(&g.source) {
            return Err(fail(
                axum::http::StatusCode::FORBIDDEN,
                format!("This team is managed by {by}; its name and members are changed there."),
            ));
        }
        Ok(g)
    }

    fn team_name(name: &str) -> Result<String, ServerFnError> {
        let n = name.trim();
        if n.is_empty() || n.chars().count() > 200 {
            return Err(bad("A team name is 1 to 200 characters."));
        }
        Ok(n.to_string())
    }

    pub async fn create_team(login: String, name: String) -> Result<String, ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let name = team_name(&name)?;
        let now = now_ms();
        let g = crate::directory::Group {
            id: crate::directory::new_id(),
            org_id: org.id.clone(),
            display_name: name.clone(),
            external_id: None,
            source: crate::directory::SOURCE_CONSOLE.into(),
            member_count: 0,
            version: 1,
            created_at: now,
            updated_at: now,
        };
        let mut tx = state().store.begin().await.map_err(internal)?;
        crate::store::groups::insert_group(&mut tx, &g)
            .await
            .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "team created",
            Some(&name),
            None,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(g.id)
    }

    pub async fn rename_team(login: String, id: String, name: String) -> Result<(), ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let name = team_name(&name)?;
        let mut tx = state().store.begin().await.map_err(internal)?;
        let g = editable_team(&mut tx, &org, &id).await?;
        crate::store::groups::update_group(&mut tx, &org.id, &id, &name, g.external_id.as_deref())
            .await
            .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "team renamed",
            Some(&name),
            Some(&format!("was {}", g.display_name)),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    pub async fn add_team_member(
        login: String,
        id: String,
        user_name: String,
    ) -> Result<(), ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let mut tx = state().store.begin().await.map_err(internal)?;
        let g = editable_team(&mut tx, &org, &id).await?;
        let u = crate::store::users::find_user_by_user_name(&mut tx, &org.id, user_name.trim())
            .await
            .map_err(internal)?
            .ok_or_else(|| bad("No user with this username."))?;
        crate::store::groups::add_members(&mut tx, &org.id, &g.id, std::slice::from_ref(&u.id))
            .await
            .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "team member added",
            Some(&g.display_name),
            Some(&u.user_name),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    pub async fn remove_team_member(
        login: String,
        id: String,
        user_id: String,
    ) -> Result<(), ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let mut tx = state().store.begin().await.map_err(internal)?;
        let g = editable_team(&mut tx, &org, &id).await?;
        crate::store::groups::remove_members(&mut tx, &g.id, std::slice::from_ref(&user_id))
            .await
            .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "team member removed",
            Some(&g.display_name),
            Some(&user_id),
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    pub async fn delete_team(login: String, id: String) -> Result<(), ServerFnError> {
        let (org, admin) = require_org_admin(&login).await?;
        let mut tx = state().store.begin().await.map_err(internal)?;
        let g = editable_team(&mut tx, &org, &id).await?;
        crate::store::groups::delete_group(&mut tx, &org.id, &g.id)
            .await
            .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&admin.id),
            &admin.email,
            "team deleted",
            Some(&g.display_name),
            None,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    pub async fn provisioning_log(
        login: String,
        q: LogQuery,
    ) -> Result<LogPageView, ServerFnError> {
        let org = require_org(&login).await?;
        let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        let f = events::EventFilter {
            from: q.hours.filter(|h| *h > 0).map(|h| now_ms() - h * 3_600_000),
            to: None,
            status_class: clean(q.status),
            kind: clean(q.kind),
            resource_id: clean(q.resource),
            client: clean(q.client),
            token_id: clean(q.token),
            identified: false,
            text: clean(q.text),
            before: clean(q.before),
        };
        let mut c = state().store.read().await.map_err(internal)?;
        let list = events::search_events(&mut c, &org.id, &f, PAGE as i64 + 1)
            .await
            .map_err(internal)?;
        let next = (list.len() as u64 > PAGE).then(|| list[PAGE as usize - 1].id.clone());
        let tokens = tokens::list_tokens(&mut c, &org.id)
            .await
            .map_err(internal)?
            .iter()
            .map(token_view)
            .collect();
        Ok(LogPageView {
            org: summary(&org),
            events: list.iter().take(PAGE as usize).map(event_row).collect(),
            next,
            tokens,
        })
    }

    pub async fn event_detail(login: String, id: String) -> Result<EventDetailView, ServerFnError> {
        let org = require_org(&login).await?;
        let mut c = state().store.read().await.map_err(internal)?;
        let e = events::find_event(&mut c, &org.id, &id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "Event not found."))?;
        Ok(EventDetailView {
            org: summary(&org),
            event: event_row(&e),
            query: e.query.clone(),
            request_body: e.request_body.clone(),
        })
    }

    pub async fn admins_page(login: String) -> Result<AdminsPageView, ServerFnError> {
        let (org, me) = require_org_admin(&login).await?;
        let mut c = state().store.read().await.map_err(internal)?;
        let list = admins::list_org_admins(&mut c, &org.id)
            .await
            .map_err(internal)?;
        let trail = audit::list(&mut c, &org.id, None, 100)
            .await
            .map_err(internal)?;
        let invited = crate::store::invitations::pending_for_org(&mut c, &org.id, now_ms())
            .await
            .map_err(internal)?
            .into_iter()
            .map(|i| InvitedView {
                email: i.email,
                invited_by: i.invited_by_email,
                expires_at: i.expires_at,
            })
            .collect();
        Ok(AdminsPageView {
            org: summary(&org),
            invited,
            admins: list
                .into_iter()
                .map(|a| AdminView {
                    is_you: a.id == me.id,
                    id: a.id,
                    email: a.email,
                    created_at: a.created_at,
                })
                .collect(),
            audit: trail
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
    }

    /// Pending invitations an org may hold at once.
    const MAX_PENDING_INVITATIONS: usize = 100;

    /// Invitations are valid this long.
    const INVITATION_TTL_MS: i64 = 7 * 24 * 3_600_000;

    /// Invites `email` to the org. Nobody is added without their consent: the person
    /// accepts at their next sign-in, or (without an account yet) with the one-time code.
    /// The answer does not tell whether the email has an account; the orgs the account
    /// already belongs to record the invitation in their audit trails too.
    pub async fn invite_admin(
        login: String,
        email: String,
    ) -> Result<InvitationView, ServerFnError> {
        let (org, me) = require_org_admin(&login).await?;
        let email = email.trim().to_string();
        crate::directory::validate_email(&email).map_err(bad)?;
        let st = state();
        let existing = {
            let mut c = st.store.read().await.map_err(internal)?;
            match admins::find_admin_credentials(&mut c, &email)
                .await
                .map_err(internal)?
            {
                Some((a, _)) => {
                    let orgs = admins::list_admin_orgs(&mut c, &a.id)
                        .await
                        .map_err(internal)?;
                    Some((a, orgs))
                }
                None => None,
            }
        };
        if let Some((_, orgs)) = &existing {
            if orgs.iter().any(|o| o.id == org.id) {
                return Err(fail(
                    axum::http::StatusCode::CONFLICT,
                    "This admin already belongs to the organization.",
                ));
            }
        }
        let code = crate::auth::password::generate_password();
        let mut tx = st.store.begin().await.map_err(internal)?;
        // One pending invitation per email and org: inviting again replaces the code (and
        // tells the other orgs nothing new); an org holds at most 100 pending invitations.
        let pending = crate::store::invitations::pending_for_org(&mut tx, &org.id, now_ms())
            .await
            .map_err(internal)?;
        let again = pending
            .iter()
            .find(|i| i.email.eq_ignore_ascii_case(&email))
            .map(|i| i.id.clone());
        if let Some(old) = &again {
            crate::store::invitations::answer(&mut tx, old, false, now_ms())
                .await
                .map_err(internal)?;
        } else if pending.len() >= MAX_PENDING_INVITATIONS {
            return Err(fail(
                axum::http::StatusCode::TOO_MANY_REQUESTS,
                "This organization has 100 pending invitations; wait until some are answered or expire.",
            ));
        }
        let inv = crate::store::invitations::insert_invitation(
            &mut tx,
            &org.id,
            &email,
            &crate::auth::token::hash(&code),
            &me.email,
            INVITATION_TTL_MS,
        )
        .await
        .map_err(internal)?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&me.id),
            &me.email,
            if again.is_some() {
                "admin invited again"
            } else {
                "admin invited"
            },
            Some(&email),
            None,
        )
        .await
        .map_err(internal)?;
        let others = existing
            .iter()
            .filter(|_| again.is_none())
            .flat_map(|(_, orgs)| orgs);
        for other in others {
            audit::record(
                &mut tx,
                &other.id,
                None,
                &me.email,
                "admin invited to another organization",
                Some(&email),
                Some(&format!("invited to '{}' by {}", org.login, me.email)),
            )
            .await
            .map_err(internal)?;
        }
        tx.commit().await.map_err(internal)?;
        no_store();
        Ok(InvitationView {
            email,
            code,
            expires_at: inv.expires_at,
        })
    }

    pub async fn pending_invitations() -> Result<Vec<PendingInvitationView>, ServerFnError> {
        let admin_id = require_admin().await?;
        let mut c = state().store.read().await.map_err(internal)?;
        let admin = admins::find_admin(&mut c, &admin_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::UNAUTHORIZED, NOT_SIGNED_IN))?;
        Ok(
            crate::store::invitations::pending_for_email(&mut c, &admin.email, now_ms())
                .await
                .map_err(internal)?
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
                .collect(),
        )
    }

    /// Records an answer and, when accepted, the membership; both orgs' audit trails (the
    /// inviting org and those the admin already belongs to) record it, in one transaction.
    async fn settle_invitation(
        tx: &mut crate::store::Tx,
        inv: &crate::store::invitations::PendingInvitation,
        admin: &Admin,
        accept: bool,
    ) -> Result<(), ServerFnError> {
        let earlier = admins::list_admin_orgs(tx, &admin.id)
            .await
            .map_err(internal)?;
        if !crate::store::invitations::answer(tx, &inv.id, accept, now_ms())
            .await
            .map_err(internal)?
        {
            return Err(fail(
                axum::http::StatusCode::CONFLICT,
                "This invitation was already answered.",
            ));
        }
        if accept {
            match admins::add_org_admin(tx, &inv.org_id, &admin.id).await {
                Ok(()) | Err(crate::store::StoreError::Conflict(_)) => {}
                Err(e) => return Err(internal(e)),
            }
        }
        let action = if accept {
            "admin joined"
        } else {
            "invitation declined"
        };
        audit::record(
            tx,
            &inv.org_id,
            Some(&admin.id),
            &admin.email,
            action,
            Some(&admin.email),
            None,
        )
        .await
        .map_err(internal)?;
        if accept {
            for other in earlier.iter().filter(|o| o.id != inv.org_id) {
                audit::record(
                    tx,
                    &other.id,
                    Some(&admin.id),
                    &admin.email,
                    "admin joined another organization",
                    Some(&admin.email),
                    Some(&format!("joined '{}'", inv.org_login)),
                )
                .await
                .map_err(internal)?;
            }
        }
        Ok(())
    }

    /// Accepting needs the invitation's one-time code too, not only the signed-in account:
    /// emails are not verified, so an account made for someone else's address (say, by an
    /// admin of another org who invited it and joined with the code) must not be able to
    /// accept what the real owner's org sends to that address. Declining needs no code.
    pub async fn answer_invitation(
        id: String,
        accept: bool,
        code: String,
    ) -> Result<(), ServerFnError> {
        let admin_id = require_admin().await?;
        let st = state();
        let mut tx = st.store.begin().await.map_err(internal)?;
        let admin = admins::find_admin(&mut tx, &admin_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::UNAUTHORIZED, NOT_SIGNED_IN))?;
        let now = now_ms();
        let inv = if accept {
            crate::store::invitations::pending_by_code(
                &mut tx,
                &admin.email,
                &crate::auth::token::hash(code.trim()),
                now,
            )
            .await
            .map_err(internal)?
            .filter(|i| i.id == id)
            .ok_or_else(|| {
                fail(
                    axum::http::StatusCode::FORBIDDEN,
                    "Enter the invitation code the inviting admin gave you.",
                )
            })?
        } else {
            crate::store::invitations::pending_for_email(&mut tx, &admin.email, now)
                .await
                .map_err(internal)?
                .into_iter()
                .find(|i| i.id == id)
                .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "Invitation not found."))?
        };
        settle_invitation(&mut tx, &inv, &admin, accept).await?;
        tx.commit().await.map_err(internal)?;
        if accept {
            leptos_axum::redirect(&format!("/orgs/{}", inv.org_login));
        }
        Ok(())
    }

    /// Accepts an invitation with its one-time code: with an existing account's password, or
    /// creating the account with a new one. Throttled like sign-in; one generic failure.
    pub async fn join_org(
        email: String,
        code: String,
        password_in: String,
    ) -> Result<(), ServerFnError> {
        const JOIN_FAILED: &str = "The email, invitation code or password is not valid.";
        // The password rule is checked first, for everyone: checking it only for new
        // accounts would tell whether the email has one.
        password::validate(&password_in).map_err(|e| bad(e.to_string()))?;
        let st = state();
        let Some(keys) = count_attempt(&email).await? else {
            return Err(fail(axum::http::StatusCode::UNAUTHORIZED, JOIN_FAILED));
        };
        let now = now_ms();
        let (inv, existing) = {
            let mut c = st.store.read().await.map_err(internal)?;
            let inv = crate::store::invitations::pending_by_code(
                &mut c,
                &email,
                &crate::auth::token::hash(code.trim()),
                now,
            )
            .await
            .map_err(internal)?;
            let existing = admins::find_admin_credentials(&mut c, &email)
                .await
                .map_err(internal)?;
            (inv, existing)
        };
        let Some(inv) = inv else {
            return Err(fail(axum::http::StatusCode::UNAUTHORIZED, JOIN_FAILED));
        };
        // Slow work (argon2) before the write transaction opens.
        let new_hash = match &existing {
            Some((_, hash)) => {
                if !password::verify_password(password_in, Some(hash.clone()))
                    .await
                    .map_err(password_error)?
                {
                    return Err(fail(axum::http::StatusCode::UNAUTHORIZED, JOIN_FAILED));
                }
                None
            }
            None => Some(
                password::hash_password(password_in)
                    .await
                    .map_err(password_error)?,
            ),
        };
        let mut tx = st.store.begin().await.map_err(internal)?;
        let admin = match (existing, new_hash) {
            (Some((a, _)), _) => a,
            (None, Some(hash)) => admins::create_admin(&mut tx, email.trim(), &hash)
                .await
                .map_err(|e| match e {
                    crate::store::StoreError::Conflict(_) => {
                        fail(axum::http::StatusCode::UNAUTHORIZED, JOIN_FAILED)
                    }
                    other => internal(other),
                })?,
            (None, None) => return Err(internal("no password hash for a new admin")),
        };
        settle_invitation(&mut tx, &inv, &admin, true).await?;
        admins::clear_login_failures(&mut tx, &keys[1])
            .await
            .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        start_session(&admin.id).await?;
        leptos_axum::redirect(&format!("/orgs/{}", inv.org_login));
        Ok(())
    }

    pub async fn remove_admin(login: String, admin_id: String) -> Result<(), ServerFnError> {
        let (org, me) = require_org_admin(&login).await?;
        let mut tx = st_begin().await?;
        let target = admins::find_admin(&mut tx, &admin_id)
            .await
            .map_err(internal)?
            .ok_or_else(|| fail(axum::http::StatusCode::NOT_FOUND, "Admin not found."))?;
        admins::remove_org_admin(&mut tx, &org.id, &admin_id)
            .await
            .map_err(|e| match e {
                crate::store::StoreError::Conflict(m) => fail(
                    axum::http::StatusCode::CONFLICT,
                    format!("Cannot remove: {m}."),
                ),
                crate::store::StoreError::NotFound => {
                    fail(axum::http::StatusCode::NOT_FOUND, "Admin not found.")
                }
                other => internal(other),
            })?;
        audit::record(
            &mut tx,
            &org.id,
            Some(&me.id),
            &me.email,
            "admin removed",
            Some(&target.email),
            None,
        )
        .await
        .map_err(internal)?;
        tx.commit().await.map_err(internal)?;
        Ok(())
    }

    async fn st_begin() -> Result<crate::store::Tx, ServerFnError> {
        state().store.begin().await.map_err(internal)
    }
}
