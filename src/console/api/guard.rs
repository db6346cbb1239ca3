//! What every console server function shares on the server: the signed-in admin and the org
//! they act in, the console's one error type, and the response headers.
//!
//! Server functions run their body through [`console`], whose future yields
//! `Result<_, ConsoleError>`: use-case errors convert to it with `?` and carry their HTTP
//! status. (A bare `?` on a use-case error inside a server function would go through
//! leptos's blanket conversion instead: status 500 and the error's text shown to the user.)

use super::views::OrgSummary;
use super::NOT_SIGNED_IN;
use crate::directory::{Admin, Org};
use crate::management::{self, Actor, ManagementError};
use crate::state::AppState;
use crate::store::Store;
use axum::http::StatusCode;
use leptos::prelude::*;
use tower_sessions::Session;

const SESSION_ADMIN: &str = "admin_id";

/// A console failure: what the user reads, and the status for logs and scripts (a wrong
/// password is not a server error). Server failures say only that the details are in the
/// server log, where [`ConsoleError::internal`] put them.
#[derive(Debug)]
pub struct ConsoleError {
    status: StatusCode,
    message: String,
}

impl ConsoleError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> ConsoleError {
        ConsoleError {
            status,
            message: message.into(),
        }
    }

    pub fn internal(e: impl std::fmt::Display) -> ConsoleError {
        tracing::error!(error = %e, "console request failed");
        ConsoleError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong; the details are in the server log.",
        )
    }

    fn not_signed_in() -> ConsoleError {
        ConsoleError::new(StatusCode::UNAUTHORIZED, NOT_SIGNED_IN)
    }

    /// Credentials refused: the one message `message`; other errors unchanged.
    pub fn refused_as(e: ManagementError, message: &str) -> ConsoleError {
        match e {
            ManagementError::Refused => ConsoleError::new(StatusCode::UNAUTHORIZED, message),
            other => other.into(),
        }
    }
}

impl From<ManagementError> for ConsoleError {
    fn from(e: ManagementError) -> ConsoleError {
        use ManagementError as M;
        let status = match &e {
            M::Invalid(_) => StatusCode::BAD_REQUEST,
            M::UnknownOrg(_) | M::NotFound(_) => StatusCode::NOT_FOUND,
            M::Forbidden(_) => StatusCode::FORBIDDEN,
            M::Conflict(_) => StatusCode::CONFLICT,
            M::Refused => StatusCode::UNAUTHORIZED,
            M::Busy(_) => StatusCode::TOO_MANY_REQUESTS,
            M::Gone(_) => StatusCode::GONE,
            M::Store(_) | M::Internal(_) => return ConsoleError::internal(e),
        };
        ConsoleError::new(status, e.to_string())
    }
}

impl From<tower_sessions::session::Error> for ConsoleError {
    fn from(e: tower_sessions::session::Error) -> ConsoleError {
        ConsoleError::internal(e)
    }
}

impl From<ConsoleError> for ServerFnError {
    fn from(e: ConsoleError) -> ServerFnError {
        if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
            r.set_status(e.status);
        }
        ServerFnError::new(e.message)
    }
}

/// Runs a server function's body, turning its [`ConsoleError`] into the answer.
pub async fn console<T>(
    body: impl std::future::Future<Output = Result<T, ConsoleError>>,
) -> Result<T, ServerFnError> {
    Ok(body.await?)
}

pub fn store() -> Store {
    expect_context::<AppState>().store
}

/// Whether webhook destinations may be private addresses (`--webhook-allow-private`).
pub fn webhook_allow_private() -> bool {
    expect_context::<AppState>().webhook_allow_private
}

async fn session() -> Result<Session, ConsoleError> {
    leptos_axum::extract::<Session>()
        .await
        .map_err(ConsoleError::internal)
}

/// The signed-in admin, if any. A session whose admin no longer exists is ended.
pub async fn current_admin() -> Result<Option<Admin>, ConsoleError> {
    let s = session().await?;
    let Some(id) = s.get::<String>(SESSION_ADMIN).await? else {
        return Ok(None);
    };
    match management::admins::find_admin(&store(), &id).await? {
        Some(a) => Ok(Some(a)),
        None => {
            s.flush().await?;
            Ok(None)
        }
    }
}

/// The signed-in admin, or the error the pages turn into a redirect to sign-in.
pub async fn signed_in() -> Result<Admin, ConsoleError> {
    current_admin()
        .await?
        .ok_or_else(ConsoleError::not_signed_in)
}

/// The signed-in admin acting in the org `login`, if they belong to it. Another org's
/// login answers 404, like one that does not exist.
pub async fn org_admin(login: &str) -> Result<Actor, ConsoleError> {
    let admin = signed_in().await?;
    Ok(management::admins::actor(&store(), admin, login).await?)
}

/// Starts a session for `admin_id` under a new id (which defeats session fixation).
pub async fn start_session(admin_id: &str) -> Result<(), ConsoleError> {
    let s = session().await?;
    s.cycle_id().await?;
    s.insert(SESSION_ADMIN, admin_id.to_string()).await?;
    Ok(())
}

/// Ends the session in the store, not just in the browser.
pub async fn end_session() -> Result<(), ConsoleError> {
    Ok(session().await?.flush().await?)
}

/// The client's address (the socket's, or a trusted proxy's `X-Forwarded-For`).
pub fn client_addr() -> std::net::IpAddr {
    use_context::<axum::http::request::Parts>()
        .map(|p| crate::net::ClientAddr::of(&p.extensions))
        .unwrap_or(crate::net::ClientAddr::UNKNOWN)
        .0
}

/// An answer that carries a secret must not be cached anywhere.
pub fn no_store() {
    if let Some(r) = use_context::<leptos_axum::ResponseOptions>() {
        r.insert_header(
            axum::http::header::CACHE_CONTROL,
            axum::http::HeaderValue::from_static("no-store"),
        );
    }
}

/// The org's SCIM base URL: under the configured public URL, or the one the browser used.
pub async fn scim_base_url(org: &Org) -> String {
    let base = match &expect_context::<AppState>().public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let headers = leptos_axum::extract::<axum::http::HeaderMap>()
                .await
                .unwrap_or_default();
            crate::net::base_url_from_headers(&headers)
        }
    };
    format!("{base}/scim/v2/{}", org.login)
}

pub fn summary(o: &Org) -> OrgSummary {
    OrgSummary {
        login: o.login.clone(),
        name: o.name.clone(),
    }
}

/// The product that manages a record ("Okta"), for the pages.
pub fn managed_by(source: &str) -> Option<String> {
    crate::directory::provider_of(source).map(str::to_string)
}
