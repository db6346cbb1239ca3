//! The admin console: a Leptos app rendered on the server and hydrated in the browser.
//! Pages and components never name server types; they reach the server only through the
//! server functions in [`api`].

pub mod api;
mod layout;
mod pages;
mod widgets;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes};
use leptos_router::path;

pub fn shell(options: LeptosOptions) -> impl IntoView {
    api::page_csp();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <meta name="color-scheme" content="light"/>
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
        <Stylesheet id="leptos" href="/pkg/scimgate.css"/>
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
