//! scimgate: a SCIM 2.0 service provider and admin console in one binary.
//!
//! Module map and the dependency rule (each module imports only those listed after it):
//! - [`scim`]: the protocol, pure; imports nothing from the crate; the application's own
//!   schemas come in as a `SchemaRegistry`.
//! - [`directory`]: domain types; std, serde, uuid only (plus utoipa's schema derive on the
//!   records the application API publishes).
//! - [`store`]: persistence (SQLite, PostgreSQL); imports `directory`.
//! - [`auth`]: passwords and SCIM tokens.
//! - [`provisioning`]: SCIM use cases; imports `scim`, `directory`, `store`.
//! - [`management`]: console and CLI use cases (orgs, admins, tokens, console-made users
//!   and teams, page reads); imports `auth`, `directory`, `store`.
//! - [`scim_api`]: the axum adapter for `/scim/v2/{org}`; imports `provisioning` and below.
//! - [`app_api`]: the axum adapter for `/v1` (the application's read API and event feed);
//!   imports `management` and below.
//! - [`metrics`]: `/metrics` (Prometheus); reads `store` and `scim_api`'s log writer.
//! - [`log_sink`]: where log lines go (standard error, gathered); nothing from the crate.
//! - [`assets`]: static files' hashed names and caching headers; no store.
//! - [`net`]: the network edge (client address, per-address limits, header checks); no store.
//! - [`console`]: the Leptos UI (both targets); outside `console::api`, no server types;
//!   its server functions call `management`, never `store`.
//! - [`server`]: wiring; imported only by `main`.
//!
//! Server-only modules are gated on the `ssr` feature here and only here.

pub mod console;

#[cfg(feature = "ssr")]
pub mod app_api;
#[cfg(feature = "ssr")]
pub mod assets;
#[cfg(feature = "ssr")]
pub mod auth;
#[cfg(feature = "ssr")]
pub mod config;
#[cfg(feature = "ssr")]
pub mod directory;
#[cfg(feature = "ssr")]
pub mod log_sink;
#[cfg(feature = "ssr")]
pub mod management;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod net;
#[cfg(feature = "ssr")]
pub mod provisioning;
#[cfg(feature = "ssr")]
pub mod scim;
#[cfg(feature = "ssr")]
pub mod scim_api;
#[cfg(feature = "ssr")]
pub mod seed;
#[cfg(feature = "ssr")]
pub mod server;
#[cfg(feature = "ssr")]
pub mod sessions;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;
#[cfg(feature = "ssr")]
pub mod webhooks;

#[cfg(feature = "hydrate")]
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    leptos::mount::hydrate_body(console::App);
    // End-to-end tests wait for this marker: clicks before hydration would be lost.
    if let Some(body) = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.body())
    {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}
