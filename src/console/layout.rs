//! The signed-in frame: brand, org, navigation and sign-out.

use super::api::{OrgSummary, SignOut};
use leptos::prelude::*;
use leptos_router::components::A;

#[component]
pub fn OrgLayout(
    org: OrgSummary,
    #[prop(into)] active: String,
    children: Children,
) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let base = format!("/orgs/{}", org.login);
    let link = move |href: String, label: &'static str, key: &'static str| {
        let current = active == key;
        view! {
            <A href=href attr:class=if current { "nav-link current" } else { "nav-link" } attr:aria-current=if current { Some("page") } else { None }>
                {label}
            </A>
        }
    };
    view! {
        <div class="app">
            <header class="topbar">
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    "scimgate"
                </a>
                <span class="org-name" data-testid="org-name">{org.name.clone()}</span>
                <nav class="nav" aria-label="Main">{link(base.clone(), "Dashboard", "dashboard")}</nav>
                <ActionForm action=sign_out attr:class="sign-out">
                    <button type="submit" class="btn btn-ghost">
                        "Sign out"
                    </button>
                </ActionForm>
            </header>
            <main class="content">{children()}</main>
        </div>
    }
}
