//! The admin console: a Leptos app rendered on the server and hydrated in the browser.
//! Pages and components never name server types; they reach the server only through the
//! server functions in [`api`].

pub mod api;
mod layout;
mod pages;
mod widgets;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

/// The HTML document around [`App`]; rendered on the server only.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    api::page_csp();
    // The stylesheet under the name the build gave it (content-hashed, cached for a year).
    #[cfg(feature = "ssr")]
    let css = {
        let manifest = options
            .hash_files
            .then(|| std::path::PathBuf::from(options.hash_file.as_ref()));
        format!(
            "/{}/{}",
            options.site_pkg_dir,
            crate::assets::hashed_name(manifest.as_deref(), &options.output_name, "css")
        )
    };
    #[cfg(not(feature = "ssr"))]
    let css = format!("/{}/{}.css", options.site_pkg_dir, options.output_name);
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
                <link rel="stylesheet" id="leptos" href=css/>
                <link rel="icon" href="/favicon.ico" sizes="32x32"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                // Without JavaScript the menu button cannot open the navigation: show it (and sign-out).
                <noscript><style>".menu-button { display: none !important; } .nav, .sign-out { display: flex !important; }"</style></noscript>
                <AutoReload options=options.clone()/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Title formatter=|t: String| if t.is_empty() { "scimgate".to_string() } else { format!("{t} · scimgate") }/>
        <Router>
            <Routes fallback=pages::NotFound>
                <Route path=path!("/") view=pages::Home/>
                <Route path=path!("/setup") view=pages::Setup/>
                <Route path=path!("/sign-in") view=pages::SignIn/>
                <Route path=path!("/join") view=pages::Join/>
                <Route path=path!("/invitations") view=pages::Invitations/>
                <Route path=path!("/orgs/:org") view=pages::Dashboard/>
                <Route path=path!("/orgs/:org/connect") view=pages::Connect/>
                <Route path=path!("/orgs/:org/users") view=pages::Users/>
                <Route path=path!("/orgs/:org/users/:id") view=pages::UserPage/>
                <Route path=path!("/orgs/:org/teams") view=pages::Teams/>
                <Route path=path!("/orgs/:org/teams/:id") view=pages::TeamPage/>
                <Route path=path!("/orgs/:org/log") view=pages::Log/>
                <Route path=path!("/orgs/:org/log/:id") view=pages::EventPage/>
                <Route path=path!("/orgs/:org/integrations") view=pages::Integrations/>
                <Route path=path!("/orgs/:org/admins") view=pages::Admins/>
            </Routes>
        </Router>
    }
}
