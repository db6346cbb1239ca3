//! Shared application state handed to axum handlers and, as Leptos context, to server
//! functions.

use crate::scim_api::ScimState;
use crate::store::Store;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;

#[derive(Clone)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub store: Store,
    pub scim: ScimState,
    /// Public base URL (e.g. `https://scim.example.com`) for URLs shown to admins.
    pub public_url: Option<String>,
    /// Webhook destinations may be private (tests, closed networks).
    pub webhook_allow_private: bool,
}

impl FromRef<AppState> for LeptosOptions {
    fn from_ref(s: &AppState) -> LeptosOptions {
        s.leptos_options.clone()
    }
}
