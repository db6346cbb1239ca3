//! The per-org dashboard.

use crate::console::api::dashboard;
use crate::console::layout::OrgLayout;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Dashboard() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let data = Resource::new(org, dashboard);
    view! {
        <Title text="Dashboard"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match data.await {
                    Ok(d) => view! {
                        <OrgLayout org=d.org.clone() active="dashboard">
                            <h1>"Dashboard"</h1>
                            <section class="stats" aria-label="Directory">
                                <div class="stat card">
                                    <span class="stat-value" data-testid="users-active">{d.users_active}</span>
                                    <span class="stat-label">"Active users"</span>
                                </div>
                                <div class="stat card">
                                    <span class="stat-value">{d.users_deactivated}</span>
                                    <span class="stat-label">"Deactivated users"</span>
                                </div>
                                <div class="stat card">
                                    <span class="stat-value">{d.teams_managed}</span>
                                    <span class="stat-label">"Teams managed by SSO"</span>
                                </div>
                                <div class="stat card">
                                    <span class="stat-value">{d.teams_console}</span>
                                    <span class="stat-label">"Teams made here"</span>
                                </div>
                            </section>
                            <section class="card">
                                <h2>"SCIM endpoint"</h2>
                                <p class="muted">"Point your identity provider at this base URL with a SCIM token."</p>
                                <code class="url" data-testid="scim-base-url">{d.scim_base_url.clone()}</code>
                            </section>
                        </OrgLayout>
                    }.into_any(),
                    Err(e) if super::is_signed_out(&e) => view! { <Redirect path="/sign-in"/> }.into_any(),
                    Err(e) => view! {
                        <main class="auth-page">
                            <div class="card auth-card">
                                <h1>"Cannot open this organization"</h1>
                                <p class="form-error">{super::message(&e)}</p>
                                <p><a href="/">"Back to the console"</a></p>
                            </div>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}
