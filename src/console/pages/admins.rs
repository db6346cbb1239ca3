//! Admins of the org and the audit trail of console changes.

use crate::console::api::{admins_page, InviteAdmin, RemoveAdmin};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{reset_on_success, SecretReveal, SecretSubmit, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;
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
    let invite_form = NodeRef::<leptos::html::Form>::new();
    // A sent invitation empties the form for the next one (the code stays shown below).
    reset_on_success(invite_form, move || {
        matches!(add.value().get(), Some(Ok(_)))
    });
    // Removing yourself ends your access to this org: its pages would only answer
    // "forbidden" now, so go to the front door, which opens another org of yours or says
    // there is none.
    let removed_self = RwSignal::new(false);
    let navigate = use_navigate();
    Effect::new(move |_| {
        if removed_self.get() && matches!(remove.value().get(), Some(Ok(()))) {
            navigate("/", Default::default());
        }
    });
    let confirm = RwSignal::new(None::<String>);
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
                <ActionForm action=add node_ref=invite_form attr:class="form form-row">
                    <input type="hidden" name="org" value=org/>
                    <label for="admin_email">"Email"</label>
                    <input id="admin_email" name="email" type="email" required/>
                    <SecretSubmit pending=add.pending()>"Invite"</SecretSubmit>
                </ActionForm>
                {move || add.value().get().and_then(|r| r.ok()).map(|a| view! {
                    <SecretReveal title=format!("{} is invited. One-time code (shown once):", a.email) secret=a.code.clone() testid="invitation" secret_testid="invitation-code">
                        <p class="muted small">"Valid until "<Time ms=a.expires_at/>". Give it to them together with the address of this console's /join page."</p>
                    </SecretReveal>
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
                                                let (id_ask, id_is) = (a.id.clone(), a.id.clone());
                                                let you = a.is_you;
                                                let question = if you {
                                                    format!("Remove yourself? You lose access to {} at once; another admin would have to invite you back. ", p.org.name)
                                                } else {
                                                    format!("Remove {}? They lose access to {} at once. ", a.email, p.org.name)
                                                };
                                                view! {
                                                    <tr>
                                                        <td>{a.email.clone()}{you.then(|| view! { <span class="muted">" (you)"</span> })}</td>
                                                        <td><Time ms=a.created_at/></td>
                                                        <td class="actions">
                                                            {move || if confirm.get().as_deref() == Some(id_is.as_str()) {
                                                                let (l, id) = (l.clone(), id.clone());
                                                                view! {
                                                                    <span class="confirm" data-testid="confirm-remove-admin">
                                                                        {question.clone()}
                                                                        <button type="button" class="btn btn-danger btn-small" on:click=move |_| {
                                                                            removed_self.set(you);
                                                                            remove.dispatch(RemoveAdmin { org: l.clone(), admin_id: id.clone() });
                                                                            confirm.set(None);
                                                                        }>{if you { "Confirm: remove me" } else { "Confirm remove" }}</button>
                                                                        <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(None)>"Cancel"</button>
                                                                    </span>
                                                                }.into_any()
                                                            } else {
                                                                let id_ask = id_ask.clone();
                                                                view! {
                                                                    <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(Some(id_ask.clone()))>"Remove"</button>
                                                                }.into_any()
                                                            }}
                                                        </td>
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
