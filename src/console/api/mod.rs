//! The console's only door into the server: server functions, one file per page or
//! feature. Each checks the session (and org membership) through [`guard`], delegates to a
//! use case in [`crate::management`], and answers with plain view types ([`views`]).
//! Errors shown to users are generic; details go to the server log. Only this module (and
//! only its ssr-gated parts) names server types.

mod admins;
mod dashboard;
#[cfg(feature = "ssr")]
pub mod guard;
mod integrations;
mod log;
mod session;
mod teams;
mod tokens;
mod users;
mod views;
mod webhooks;

pub use admins::*;
pub use dashboard::*;
pub use integrations::*;
pub use log::*;
pub use session::*;
pub use teams::*;
pub use tokens::*;
pub use users::*;
pub use views::*;
pub use webhooks::*;

#[cfg(feature = "ssr")]
use leptos::prelude::*;

/// What the browser is told when a sign-in fails, whatever the reason.
pub const SIGN_IN_FAILED: &str = "Sign-in failed: check your email and password.";
pub const NOT_SIGNED_IN: &str = "not signed in";
/// In the refusal of a console team named like a managed team: the page then offers to use
/// the name anyway (the words are management's; a test keeps the two the same).
pub const SAME_NAME_AS_MANAGED: &str = "is already the name of a team managed by";

#[cfg(all(test, feature = "ssr"))]
mod tests {
    #[test]
    fn the_page_recognises_the_same_name_refusal() {
        assert_eq!(
            super::SAME_NAME_AS_MANAGED,
            crate::management::teams::SAME_NAME_AS_MANAGED
        );
    }
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
