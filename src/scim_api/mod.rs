//! The SCIM HTTP adapter: routes under `/scim/v2/{org}`, bearer-token authentication, body
//! limits, content types and the provisioning-log middleware. Handlers are thin: they parse
//! the request, call [`crate::provisioning`] and render the result.

mod auth;
pub mod bulk;
mod handlers;
pub mod log_writer;
mod response;

use crate::store::Store;
use axum::routing::{get, post};
use axum::Router;
use std::sync::Arc;

pub use log_writer::LogWriter;
pub use response::ScimResponse;

#[derive(Clone, Debug)]
pub struct ScimConfig {
    /// Request bodies above this many bytes get 413.
    pub max_body_bytes: usize,
    pub default_count: u64,
    pub max_count: u64,
    pub bulk_max_operations: usize,
    /// e.g. `https://scim.example.com`; when unset, derived from the request's Host.
    pub public_url: Option<String>,
    /// The whole body must arrive within this time (408 otherwise).
    pub body_timeout: std::time::Duration,
    /// Successful reads are counted per minute rather than logged one row each.
    pub reads_per_minute: bool,
}

impl Default for ScimConfig {
    fn default() -> Self {
        ScimConfig {
            max_body_bytes: 1 << 20,
            default_count: 100,
            max_count: 1000,
            bulk_max_operations: 1000,
            public_url: None,
            body_timeout: std::time::Duration::from_secs(30),
            reads_per_minute: true,
        }
    }
}

/// The SCIM routes' state: axum clones it for every middleware and handler a request
/// passes, so it is one reference count (see [`Store`]).
#[derive(Clone)]
pub struct ScimState(Arc<ScimParts>);

impl ScimState {
    pub fn new(parts: ScimParts) -> ScimState {
        ScimState(Arc::new(parts))
    }
}

impl std::ops::Deref for ScimState {
    type Target = ScimParts;
    fn deref(&self) -> &ScimParts {
        &self.0
    }
}

pub struct ScimParts {
    pub store: Store,
    pub config: Arc<ScimConfig>,
    pub log: LogWriter,
    /// Requests with a missing or unknown token, per client address.
    pub unauthenticated: crate::net::AddrLimiter,
    /// Tokens that verified lately (see [`crate::auth::verified`]).
    pub verified: Arc<crate::auth::verified::VerifiedTokens>,
}

/// The `/scim/v2/{org}/…` routes.
pub fn router(state: ScimState) -> Router {
    let org_routes = Router::new()
        .route(
            "/Users",
            get(handlers::list_users).post(handlers::create_user),
        )
        .route("/Users/.search", post(handlers::search_users))
        .route(
            "/Users/{id}",
            get(handlers::get_user)
                .put(handlers::replace_user)
                .patch(handlers::patch_user)
                .delete(handlers::delete_user),
        )
        .route(
            "/Groups",
            get(handlers::list_groups).post(handlers::create_group),
        )
        .route("/Groups/.search", post(handlers::search_groups))
        .route(
            "/Groups/{id}",
            get(handlers::get_group)
                .put(handlers::replace_group)
                .patch(handlers::patch_group)
                .delete(handlers::delete_group),
        )
        .route("/Bulk", post(bulk::bulk))
        .route("/.search", post(handlers::search_all))
        .route(
            "/ServiceProviderConfig",
            get(handlers::service_provider_config),
        )
        .route("/Schemas", get(handlers::schemas))
        .route("/Schemas/{urn}", get(handlers::schema))
        .route("/ResourceTypes", get(handlers::resource_types))
        .route("/ResourceTypes/{name}", get(handlers::resource_type))
        .route("/Me", axum::routing::any(handlers::me))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::authenticate,
        ))
        .with_state(state);
    Router::new().nest("/scim/v2/{org}", org_routes)
}

/// The product an identity provider's requests come from, by `User-Agent`.
pub fn client_from_user_agent(ua: &str) -> &'static str {
    let ua = ua.to_ascii_lowercase();
    if ua.contains("okta") {
        "okta"
    } else if ua.contains("azure")
        || ua.contains("entra")
        || ua.contains("microsoft")
        || ua.contains("aad")
    {
        "entra"
    } else if ua.contains("onelogin") {
        "onelogin"
    } else if ua.contains("jumpcloud") {
        "jumpcloud"
    } else {
        "other"
    }
}
