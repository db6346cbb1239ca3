//! Teams. Teams pushed by an identity provider carry a "Managed by <provider>" badge and show no edit
//! controls (the server refuses such changes too); console-made teams are editable.

use crate::console::api::{
    list_teams, list_users, team_detail, AddTeamMember, CreateTeam, DeleteTeam, RemoveTeamMember,
    RenameTeam, SAME_NAME_AS_MANAGED,
};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{managed_by_text, Empty, ManagedBadge, Saved, Time};
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
    let create_error = move || {
        create
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
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
                    <SameNameConfirm error=Signal::derive(create_error)/>
                    <button type="submit" class="btn btn-primary">"Create team"</button>
                </ActionForm>
            </div>
            {move || create_error().map(|e| view! { <p class="form-error" role="alert" data-testid="team-form-error">{e}</p> })}
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
    let rename_error = move || {
        rename
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    let renamed = Signal::derive(move || {
        !rename.pending().get() && matches!(rename.value().get(), Some(Ok(())))
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
                                                <SameNameConfirm error=Signal::derive(rename_error)/>
                                                <button type="submit" class="btn btn-ghost">"Rename"</button>
                                                <Saved done=renamed text="Renamed"/>
                                            </ActionForm>
                                            <MemberPicker org=login2 team=tid2 add=add/>
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

/// After a refusal because a managed team has the name: the box that confirms it, so the
/// next submit of the same form makes a separate console team of that name.
#[component]
fn SameNameConfirm(error: Signal<Option<String>>) -> impl IntoView {
    view! {
        <Show when=move || error.get().is_some_and(|e| e.contains(SAME_NAME_AS_MANAGED))>
            <label class="check warn-confirm">
                <input type="checkbox" name="same_name" value="on"/>
                " Use this name anyway"
            </label>
        </Show>
    }
}

/// Debounce of the member search: one request when the admin pauses, not one per key.
const SEARCH_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(250);

/// Adds a member by searching the directory: type the start of a name, username or email,
/// pick from the results. Typing an exact username and "Add member" works as before.
#[component]
fn MemberPicker(org: String, team: String, add: ServerAction<AddTeamMember>) -> impl IntoView {
    let typed = RwSignal::new(String::new());
    let query = RwSignal::new(String::new());
    let form = NodeRef::<leptos::html::Form>::new();
    let org = StoredValue::new(org);
    let team = StoredValue::new(team);
    // Each keystroke restarts the timer; the search runs once typing pauses.
    let pending = StoredValue::new(None::<TimeoutHandle>);
    Effect::new(move |_| {
        let text = typed.get();
        if let Some(h) = pending.get_value() {
            h.clear();
        }
        let handle =
            set_timeout_with_handle(move || query.set(text.trim().to_string()), SEARCH_DEBOUNCE)
                .ok();
        pending.set_value(handle);
    });
    let results = Resource::new(
        move || query.get(),
        move |q| async move {
            if q.chars().count() < 2 {
                return Ok(Vec::new());
            }
            list_users(org.get_value(), Some(q), None, None, None)
                .await
                .map(|p| p.items.into_iter().take(8).collect::<Vec<_>>())
        },
    );
    // After a member is added: an empty field and no results, ready for the next one.
    Effect::new(move |_| {
        if let Some(Ok(())) = add.value().get() {
            if let Some(f) = form.get_untracked() {
                f.reset();
            }
            typed.set(String::new());
            query.set(String::new());
        }
    });
    view! {
        <div class="member-picker">
            <ActionForm action=add node_ref=form attr:class="filters">
                <input type="hidden" name="org" value=org.get_value()/>
                <input type="hidden" name="id" value=team.get_value()/>
                <input name="user_name" aria-label="Add a member (name, username or email)" placeholder="Find a person: name, username or email"
                    autocomplete="off" required role="combobox" aria-controls="member-results" aria-autocomplete="list"
                    on:input=move |ev| typed.set(event_target_value(&ev))/>
                <button type="submit" class="btn btn-ghost">"Add member"</button>
            </ActionForm>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match results.await {
                        Ok(list) if list.is_empty() => {
                            (query.get_untracked().chars().count() >= 2).then(|| view! {
                                <p class="muted small" data-testid="member-results-empty">"Nobody found."</p>
                            }).into_any()
                        }
                        Ok(list) => view! {
                            <ul class="picker-results" id="member-results" role="listbox" data-testid="member-results">
                                {list.into_iter().map(|u| {
                                    let user_name = u.user_name.clone();
                                    let shown = u.display_name.clone().unwrap_or_else(|| u.user_name.clone());
                                    let detail = u.email.clone().filter(|e| *e != u.user_name).map(|e| format!("{} · {e}", u.user_name)).unwrap_or_else(|| u.user_name.clone());
                                    view! {
                                        <li role="option" aria-selected="false">
                                            <button type="button" class="picker-option" on:click=move |_| {
                                                add.dispatch(AddTeamMember { org: org.get_value(), id: team.get_value(), user_name: user_name.clone() });
                                            }>
                                                <strong>{shown}</strong>
                                                <span class="muted small">{format!(" {detail}")}</span>
                                                {(!u.active).then(|| view! { <span class="badge">"deactivated"</span> })}
                                            </button>
                                        </li>
                                    }
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <p class="form-error">{super::message(&e)}</p> }.into_any(),
                    }
                })}
            </Transition>
        </div>
    }
}
