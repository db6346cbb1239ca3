//! One module per page.

mod auth;
mod dashboard;

pub use auth::{Home, NotFound, Setup, SignIn};
pub use dashboard::Dashboard;

/// Whether a server-function error means "sign in first".
pub fn is_signed_out(e: &leptos::prelude::ServerFnError) -> bool {
    e.to_string().contains(super::api::NOT_SIGNED_IN)
}

/// The message of a server-function error, without the framework's prefix.
pub fn message(e: &leptos::prelude::ServerFnError) -> String {
    let s = e.to_string();
    s.split_once(": ").map(|(_, m)| m.to_string()).unwrap_or(s)
}
