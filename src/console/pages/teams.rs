//! Teams. Teams pushed by an identity provider carry a "Managed by <provider>" badge and show no edit
//! controls (the server refuses such changes too); console-made teams are editable.

use crate::console::api::{
    list_teams, team_detail, AddTeamMember, CreateTeam, DeleteTeam, RemoveTeamMember, RenameTeam,
};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{managed_by_text, Empty, ManagedBadge, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_navigate, use_params_map, use_query_map};

#[component]
pub fn Teams() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let q = move |k: &str| query.read().get(k).filter(|v| !v.is_empty());
    let create = ServerAction::<CreateTeam>::new();
    let data = Resource::new(
        move || (org(), q("q"), q("after"), create.version().get()),
        |(o, q, a, _)| list_teams(o, q, a),
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(id)) = create.value().get() {
            navigate(&format!("/orgs/{}/teams/{id}", org()), Default::default());
        }
    });
    view! {
        <Title text="Teams"/>
        <OrgLayout login=org() active="teams">
            <div class="page-head"><h1>"Teams"</h1></div>
            <div class="toolbar">
                <Form method="GET" action="" attr:class="filters">
                    <input type="search" name="q" placeholder="Search teams" aria-label="Search teams" value=move || q("q").unwrap_or_default()/>
                    <button type="submit" class="btn btn-ghost">"Search"</button>
                </Form>
                <ActionForm action=create attr:class="filters">
                    <input type="hidden" name="org" value=org/>
                    <input name="name" placeholder="New team name" aria-label="New team name" required/>
                    <button type="submit" class="btn btn-primary">"Create team"</button>
                </ActionForm>
            </div>
            {move || create.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error">{super::message(&e)}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(p) if p.items.is_empty() => view! {
                            <Empty title="No teams yet">"Push groups from your identity provider, or create a team above."</Empty>
                        }.into_any(),
                        Ok(p) => {
                            let base = format!("/orgs/{}", org());
                            view! {
                                <p class="muted">{format!("{} teams", p.total)}</p>
                                <table class="table" data-testid="teams">
                                    <thead><tr><th>"Team"</th><th>"Members"</th><th>"Source"</th><th>"Updated"</th></tr></thead>
                                    <tbody>
                                        {p.items.into_iter().map(|t| view! {
                                            <tr>
                                                <td><A href=format!("{base}/teams/{}", t.id)>{t.name.clone()}</A></td>
                                                <td>{t.member_count}</td>
                                                <td><ManagedBadge by=t.managed_by.clone()/></td>
                                                <td><Time ms=t.updated_at/></td>
                                            </tr>
                                        }).collect_view()}
                                    </tbody>
                                </table>
                                {p.next.map(|n| view! { <A href=format!("{base}/teams?after={n}") attr:class="btn btn-ghost">"Next page →"</A> })}
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </OrgLayout>
    }
}

#[component]
pub fn TeamPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let id = move || params.read().get("id").unwrap_or_default();
    let after = move || query.read().get("after").filter(|v| !v.is_empty());
    let rename = ServerAction::<RenameTeam>::new();
    let add = ServerAction::<AddTeamMember>::new();
    let remove = ServerAction::<RemoveTeamMember>::new();
    let delete = ServerAction::<DeleteTeam>::new();
    let data = Resource::new(
        move || {
            (
                org(),
                id(),
                after(),
                rename.version().get(),
                add.version().get(),
                remove.version().get(),
            )
        },
        |(o, i, a, _, _, _)| team_detail(o, i, a),
    );
    let navigate = use_navigate();
    Effect::new(move |_| {
        if let Some(Ok(())) = delete.value().get() {
            navigate(&format!("/orgs/{}/teams", org()), Default::default());
        }
    });
    let errors = move || {
        [
            rename.value().get().and_then(|r| r.err()),
            add.value().get().and_then(|r| r.err()),
            remove.value().get().and_then(|r| r.err()),
            delete.value().get().and_then(|r| r.err()),
        ]
        .into_iter()
        .flatten()
        .map(|e| super::message(&e))
        .next()
    };
    let confirm_delete = RwSignal::new(false);
    view! {
        <Title text="Team"/>
        <OrgLayout login=org() active="teams">
            {move || errors().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => {
                            let base = format!("/orgs/{}", d.org.login);
                            let managed = d.team.managed_by.is_some();
                            let (login, tid) = (d.org.login.clone(), d.team.id.clone());
                            let (login_m, tid_m) = (login.clone(), tid.clone());
                            let members = d.members.clone();
                            view! {
                                <div class="page-head">
                                    <h1 data-testid="team-name">{d.team.name.clone()}</h1>
                                    <ManagedBadge by=d.team.managed_by.clone()/>
                                </div>
                                {if managed {
                                    view! { <p class="banner" data-testid="read-only-note">{format!("{}: its name and members are changed there, not here.", managed_by_text(&d.team.managed_by.clone().unwrap_or_default()))}</p> }.into_any()
                                } else {
                                    let (login2, tid2, login3, tid3) = (login.clone(), tid.clone(), login.clone(), tid.clone());
                                    view! {
                                        <section class="card edit-controls" data-testid="edit-controls">
                                            <ActionForm action=rename attr:class="filters">
                                                <input type="hidden" name="org" value=login.clone()/>
                                                <input type="hidden" name="id" value=tid.clone()/>
                                                <input name="name" aria-label="Team name" value=d.team.name.clone() required/>
                                                <button type="submit" class="btn btn-ghost">"Rename"</button>
                                            </ActionForm>
                                            <ActionForm action=add attr:class="filters">
                                                <input type="hidden" name="org" value=login2/>
                                                <input type="hidden" name="id" value=tid2/>
                                                <input name="user_name" aria-label="Username to add" placeholder="username" required/>
                                                <button type="submit" class="btn btn-ghost">"Add member"</button>
                                            </ActionForm>
                                            {move || if confirm_delete.get() {
                                                let (l, t) = (login3.clone(), tid3.clone());
                                                view! {
                                                    <span class="confirm">"Delete this team? "
                                                        <button type="button" class="btn btn-danger btn-small" on:click=move |_| { delete.dispatch(DeleteTeam { org: l.clone(), id: t.clone() }); }>"Confirm delete"</button>
                                                        <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm_delete.set(false)>"Cancel"</button>
                                                    </span>
                                                }.into_any()
                                            } else {
                                                view! { <button type="button" class="btn btn-danger" on:click=move |_| confirm_delete.set(true)>"Delete team"</button> }.into_any()
                                            }}
                                        </section>
                                    }.into_any()
                                }}
                                <section class="card">
                                    <h2>{format!("Members ({})", d.team.member_count)}</h2>
                                    {if d.members.is_empty() {
                                        view! { <p class="muted">"No members."</p> }.into_any()
                                    } else {
                                        view! {
                                            <table class="table" data-testid="members">
                                                <thead><tr><th>"User"</th><th>"Username"</th><th></th></tr></thead>
                                                <tbody>
                                                    {members.into_iter().map(|m| {
                                                        let (l, t, u) = (login_m.clone(), tid_m.clone(), m.user_id.clone());
                                                        let shown = m.display_name.clone().unwrap_or_else(|| m.user_name.clone());
                                                        view! {
                                                            <tr>
                                                                <td><A href=format!("{base}/users/{}", m.user_id)>{shown}</A></td>
                                                                <td>{m.user_name.clone()}</td>
                                                                <td class="actions">{(!managed).then(|| view! {
                                                                    <button type="button" class="btn btn-ghost btn-small" on:click=move |_| { remove.dispatch(RemoveTeamMember { org: l.clone(), id: t.clone(), user_id: u.clone() }); }>"Remove"</button>
                                                                })}</td>
                                                            </tr>
                                                        }
                                                    }).collect_view()}
                                                </tbody>
                                            </table>
                                        }.into_any()
                                    }}
                                    {d.next_members.clone().map(|n| view! { <A href=format!("{base}/teams/{}?after={n}", d.team.id) attr:class="btn btn-ghost">"More members →"</A> })}
                                </section>
                                <section class="card">
                                    <h2>"Provisioning history"</h2>
                                    <super::log::EventTable events=d.history.clone() org=d.org.login.clone()/>
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
