//! Admins of the org and the audit trail of console changes.

use crate::console::api::{admins_page, InviteAdmin, RemoveAdmin};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{SecretSubmit, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Admins() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let add = ServerAction::<InviteAdmin>::new();
    let remove = ServerAction::<RemoveAdmin>::new();
    let data = Resource::new(
        move || (org(), add.version().get(), remove.version().get()),
        |(o, _, _)| admins_page(o),
    );
    let error = move || {
        add.value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| remove.value().get().and_then(|r| r.err()))
            .map(|e| super::message(&e))
    };
    view! {
        <Title text="Admins"/>
        <OrgLayout login=org() active="admins">
            <h1>"Admins"</h1>
            <section class="card">
                <h2>"Invite an admin"</h2>
                <p class="muted">"Nobody joins without accepting. People who already use scimgate accept when they next sign in; others join at /join with the one-time code below."</p>
                <ActionForm action=add attr:class="form form-row">
                    <input type="hidden" name="org" value=org/>
                    <label for="admin_email">"Email"</label>
                    <input id="admin_email" name="email" type="email" required/>
                    <SecretSubmit pending=add.pending()>"Invite"</SecretSubmit>
                </ActionForm>
                {move || add.value().get().and_then(|r| r.ok()).map(|a| view! {
                    <div class="secret" role="status" data-testid="invitation">
                        <p><strong>{format!("{} is invited. One-time code (shown once):", a.email)}</strong></p>
                        <code class="url">{a.code}</code>
                        <p class="muted small">"Valid until "<Time ms=a.expires_at/>". Give it to them together with the address of this console's /join page."</p>
                    </div>
                })}
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            </section>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(p) => {
                            let login = p.org.login.clone();
                            view! {
                                <section class="card">
                                    <table class="table" data-testid="admins">
                                        <thead><tr><th>"Email"</th><th>"Added"</th><th></th></tr></thead>
                                        <tbody>
                                            {p.admins.into_iter().map(|a| {
                                                let (l, id) = (login.clone(), a.id.clone());
                                                view! {
                                                    <tr>
                                                        <td>{a.email.clone()}{a.is_you.then(|| view! { <span class="muted">" (you)"</span> })}</td>
                                                        <td><Time ms=a.created_at/></td>
                                                        <td class="actions"><button type="button" class="btn btn-ghost btn-small" on:click=move |_| { remove.dispatch(RemoveAdmin { org: l.clone(), admin_id: id.clone() }); }>"Remove"</button></td>
                                                    </tr>
                                                }
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </section>
                                {(!p.invited.is_empty()).then(|| view! {
                                    <section class="card">
                                        <h2>"Invited"</h2>
                                        <table class="table" data-testid="invited">
                                            <thead><tr><th>"Email"</th><th class="opt">"Invited by"</th><th>"Expires"</th></tr></thead>
                                            <tbody>{p.invited.clone().into_iter().map(|i| view! {
                                                <tr><td>{i.email}</td><td class="opt">{i.invited_by}</td><td><Time ms=i.expires_at/></td></tr>
                                            }).collect_view()}</tbody>
                                        </table>
                                    </section>
                                })}
                                <section class="card">
                                    <h2>"Audit trail"</h2>
                                    {if p.audit.is_empty() { view! { <p class="muted">"No console changes yet."</p> }.into_any() } else {
                                        view! {
                                            <table class="table" data-testid="audit">
                                                <thead><tr><th>"Time"</th><th class="opt">"Admin"</th><th>"Action"</th><th>"Target"</th><th class="opt">"Detail"</th></tr></thead>
                                                <tbody>{p.audit.into_iter().map(|e| view! {
                                                    <tr><td><Time ms=e.occurred_at/></td><td class="opt">{e.admin_email}</td><td>{e.action}</td><td>{e.target.unwrap_or_default()}</td><td class="small opt">{e.detail.unwrap_or_default()}</td></tr>
                                                }).collect_view()}</tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                </section>
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </OrgLayout>
    }
}
