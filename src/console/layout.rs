//! The signed-in frame: brand, org, navigation and sign-out. Below 768 px the navigation
//! is a menu behind a button (CSS decides; the button's state is `aria-expanded`).

use super::api::{session_info, SignOut};
use leptos::prelude::*;
use leptos_router::components::A;

const SECTIONS: [(&str, &str, &str); 8] = [
    ("dashboard", "", "Dashboard"),
    ("connect", "/connect", "Connect"),
    ("users", "/users", "Users"),
    ("teams", "/teams", "Teams"),
    ("log", "/log", "Provisioning log"),
    ("integrations", "/integrations", "Integrations"),
    ("admins", "/admins", "Admins"),
    ("", "", ""),
];

#[component]
pub fn OrgLayout(
    #[prop(into)] login: String,
    #[prop(into)] active: String,
    children: Children,
) -> impl IntoView {
    let sign_out = ServerAction::<SignOut>::new();
    let info = Resource::new(|| (), |_| session_info());
    let base = format!("/orgs/{login}");
    let login_for_name = login.clone();
    let org_name = move || {
        info.get()
            .and_then(|r| r.ok())
            .and_then(|v| {
                v.orgs
                    .into_iter()
                    .find(|o| o.login == login_for_name)
                    .map(|o| o.name)
            })
            .unwrap_or_default()
    };
    let email = move || {
        info.get()
            .and_then(|r| r.ok())
            .and_then(|v| v.admin_email)
            .unwrap_or_default()
    };
    let links = SECTIONS
        .iter()
        .filter(|(key, _, _)| !key.is_empty())
        .map(|(key, suffix, label)| {
            let current = active == *key;
            view! {
                <A href=format!("{base}{suffix}") attr:class=if current { "nav-link current" } else { "nav-link" } attr:aria-current=if current { Some("page") } else { None }>
                    {*label}
                </A>
            }
        })
        .collect_view();
    // The phone menu: closed on each page (every page renders its own frame), toggled by
    // the button, closed by Escape with focus back on the button.
    let menu_open = RwSignal::new(false);
    let menu_button = NodeRef::<leptos::html::Button>::new();
    let on_keydown = move |ev: leptos::ev::KeyboardEvent| {
        if ev.key() == "Escape" && menu_open.get_untracked() {
            menu_open.set(false);
            #[cfg(feature = "hydrate")]
            if let Some(b) = menu_button.get_untracked() {
                let _ = b.focus();
            }
        }
    };
    view! {
        <div class="app">
            <header class="topbar" on:keydown=on_keydown>
                <a class="brand" href="/">
                    <span class="brand-mark" aria-hidden="true">"◆"</span>
                    "scimgate"
                </a>
                <Transition fallback=|| ()>
                    <span class="org-name" data-testid="org-name">{org_name}</span>
                </Transition>
                <button
                    type="button"
                    class="btn btn-ghost menu-button"
                    node_ref=menu_button
                    aria-controls="main-nav"
                    aria-expanded=move || if menu_open.get() { "true" } else { "false" }
                    on:click=move |_| menu_open.update(|o| *o = !*o)
                >
                    <span aria-hidden="true">"☰ "</span>
                    "Menu"
                </button>
                <nav id="main-nav" class="nav" class:open=move || menu_open.get() aria-label="Main">{links}</nav>
                <Transition fallback=|| ()>
                    <span class="muted admin-email">{email}</span>
                </Transition>
                <ActionForm action=sign_out attr:class="sign-out">
                    <button type="submit" class="btn btn-ghost">"Sign out"</button>
                </ActionForm>
            </header>
            <main class="content">{children()}</main>
        </div>
    }
}

/// What a page shows when its data could not be loaded: sign-in for a lost session,
/// otherwise the (generic) message.
#[component]
pub fn LoadError(error: ServerFnError) -> impl IntoView {
    if super::pages::is_signed_out(&error) {
        view! { <leptos_router::components::Redirect path="/sign-in"/> }.into_any()
    } else {
        view! { <p class="form-error" role="alert">{super::pages::message(&error)}</p> }.into_any()
    }
}
