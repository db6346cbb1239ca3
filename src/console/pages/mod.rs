//! One module per page.

mod admins;
mod auth;
mod connect;
mod dashboard;
mod integrations;
mod invitations;
mod log;
mod teams;
mod users;

pub use admins::Admins;
pub use auth::{Home, NotFound, Setup, SignIn};
pub use connect::Connect;
pub use dashboard::Dashboard;
pub use integrations::Integrations;
pub use invitations::{Invitations, Join};
pub use log::{EventPage, Log};
pub use teams::{TeamPage, Teams};
pub use users::{UserPage, Users};

/// Whether a server-function error means "sign in first".
pub fn is_signed_out(e: &leptos::prelude::ServerFnError) -> bool {
    e.to_string().contains(super::api::NOT_SIGNED_IN)
}

/// The message of a server-function error, without the framework's prefix.
pub fn message(e: &leptos::prelude::ServerFnError) -> String {
    let s = e.to_string();
    s.split_once(": ").map(|(_, m)| m.to_string()).unwrap_or(s)
}

/// Now, in Unix ms, on either side.
pub fn now_ms() -> i64 {
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::Date::now() as i64
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0)
    }
}
