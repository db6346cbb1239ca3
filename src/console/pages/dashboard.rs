//! The per-org dashboard: counts, the last day's traffic, last contact per client, and a
//! warning when the identity provider's latest requests fail or webhook endpoints were
//! disabled.

use crate::console::api::dashboard;
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{HourlyChart, StatusPill, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Dashboard() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let data = Resource::new(org, dashboard);
    view! {
        <Title text="Dashboard"/>
        <OrgLayout login=org() active="dashboard">
            <h1>"Dashboard"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => {
                            let now = crate::console::pages::now_ms();
                            view! {
                                {d.warning.clone().map(|w| view! { <div class="banner banner-warn" role="alert" data-testid="dashboard-warning">{w}</div> })}
                                {(d.webhooks_disabled > 0).then(|| {
                                    let n = d.webhooks_disabled;
                                    let (text, link) = if n == 1 {
                                        ("1 webhook endpoint was disabled after failing for too long: your application no longer hears about changes there. ".to_string(), "Check it and enable it again on the Integrations page.")
                                    } else {
                                        (format!("{n} webhook endpoints were disabled after failing for too long: your application no longer hears about changes there. "), "Check them and enable them again on the Integrations page.")
                                    };
                                    view! {
                                        <div class="banner banner-warn" role="alert" data-testid="webhooks-disabled-warning">
                                            {text}
                                            <a href=format!("/orgs/{}/integrations", d.org.login)>{link}</a>
                                        </div>
                                    }
                                })}
                                <section class="stats" aria-label="Directory">
                                    <div class="stat card"><span class="stat-value" data-testid="users-active">{d.users_active}</span><span class="stat-label">"Active users"</span></div>
                                    <div class="stat card"><span class="stat-value" data-testid="users-deactivated">{d.users_deactivated}</span><span class="stat-label">"Deactivated users"</span></div>
                                    <div class="stat card"><span class="stat-value" data-testid="teams-managed">{d.teams_managed}</span><span class="stat-label">"Teams managed by your identity provider"</span></div>
                                    <div class="stat card"><span class="stat-value">{d.teams_console}</span><span class="stat-label">"Teams made here"</span></div>
                                </section>
                                <div class="grid-2">
                                    <section class="card">
                                        <h2>"SCIM traffic"</h2>
                                        <HourlyChart hours=d.hourly.clone() now=now/>
                                    </section>
                                    <section class="card">
                                        <h2>"Identity providers"</h2>
                                        {if d.clients.is_empty() {
                                            view! {
                                                <div class="empty" data-testid="dashboard-empty">
                                                    <h3>"No identity provider connected yet"</h3>
                                                    <p class="muted">"Choose Okta, Microsoft Entra ID, OneLogin or JumpCloud and follow its steps; the page tells you when the first request arrives."</p>
                                                    <a class="btn btn-primary" href=format!("/orgs/{}/connect", d.org.login) data-testid="connect-cta">"Connect your identity provider"</a>
                                                </div>
                                            }.into_any()
                                        } else {
                                            view! {
                                                <table class="table">
                                                    <thead><tr><th>"Client"</th><th>"Last request"</th><th>"Status"</th><th class="opt">"Token"</th></tr></thead>
                                                    <tbody>
                                                        {d.clients.iter().map(|c| view! {
                                                            <tr>
                                                                <td>{c.provider.clone()}</td>
                                                                <td><Time ms=c.last_at/></td>
                                                                <td><StatusPill status=c.last_status/></td>
                                                                <td class="opt">{c.token_label.clone().unwrap_or_else(|| "—".into())}</td>
                                                            </tr>
                                                        }).collect_view()}
                                                    </tbody>
                                                </table>
                                            }.into_any()
                                        }}
                                    </section>
                                </div>
                                <section class="card">
                                    <h2>"SCIM endpoint"</h2>
                                    <p class="muted">"Point your identity provider at this base URL with a SCIM token."</p>
                                    <code class="url" data-testid="scim-base-url">{d.scim_base_url.clone()}</code>
                                </section>
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
        </OrgLayout>
    }
}
