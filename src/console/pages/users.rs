//! Users: a paged, searchable list and a page per user with its attributes, teams and
//! provisioning history. Users provisioned over SCIM are read-only here.

use crate::console::api::{list_users, user_detail, CreateConsoleUser, UpdateConsoleUser};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{Empty, ManagedBadge, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};

#[component]
pub fn Users() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let q = move |k: &str| query.read().get(k).filter(|v| !v.is_empty());
    let create = ServerAction::<CreateConsoleUser>::new();
    let data = Resource::new(
        move || {
            (
                org(),
                q("q"),
                q("status"),
                q("source"),
                q("after"),
                create.version().get(),
            )
        },
        |(o, q, s, src, a, _)| list_users(o, q, s, src, a),
    );
    let show_new = RwSignal::new(false);
    view! {
        <Title text="Users"/>
        <OrgLayout login=org() active="users">
            <div class="page-head">
                <h1>"Users"</h1>
                <button type="button" class="btn btn-ghost" on:click=move |_| show_new.update(|v| *v = !*v)>"Add user"</button>
            </div>
            <Show when=move || show_new.get()>
                <ActionForm action=create attr:class="form form-row card">
                    <input type="hidden" name="org" value=org/>
                    <label for="user_name">"Username"</label>
                    <input id="user_name" name="user_name" required/>
                    <label for="display_name">"Display name"</label>
                    <input id="display_name" name="display_name"/>
                    <label for="new_email">"Email"</label>
                    <input id="new_email" name="email" type="email"/>
                    <button type="submit" class="btn btn-primary">"Create user"</button>
                    {move || create.value().get().and_then(|r| r.err()).map(|e| view! { <p class="form-error">{super::message(&e)}</p> })}
                </ActionForm>
            </Show>
            <Form method="GET" action="" attr:class="filters">
                <input type="search" name="q" placeholder="Name, username or email starts with…" aria-label="Search users" value=move || q("q").unwrap_or_default()/>
                <select name="status" aria-label="Status">
                    <option value="">"Any status"</option>
                    <option value="active" selected=move || q("status").as_deref() == Some("active")>"Active"</option>
                    <option value="deactivated" selected=move || q("status").as_deref() == Some("deactivated")>"Deactivated"</option>
                </select>
                <select name="source" aria-label="Source">
                    <option value="">"Any source"</option>
                    <option value="scim" selected=move || q("source").as_deref() == Some("scim")>"Managed by an identity provider"</option>
                    <option value="console" selected=move || q("source").as_deref() == Some("console")>"Made in the console"</option>
                </select>
                <button type="submit" class="btn btn-ghost">"Filter"</button>
            </Form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(p) if p.items.is_empty() => view! {
                            <Empty title="No users here">"Users appear when your identity provider pushes them (Connect page), or add one with “Add user”."</Empty>
                        }.into_any(),
                        Ok(p) => {
                            let base = format!("/orgs/{}", org());
                            let next = p.next.clone().map(|n| {
                                let mut qs: Vec<String> = ["q", "status", "source"].iter().filter_map(|k| q(k).map(|v| format!("{k}={}", urlencode(&v)))).collect();
                                qs.push(format!("after={n}"));
                                format!("{base}/users?{}", qs.join("&"))
                            });
                            view! {
                                <p class="muted" data-testid="user-total">{format!("{} users", p.total)}</p>
                                <table class="table">
                                    // On a phone the name and status stay; the `opt` columns are left out.
                                    <thead><tr><th>"User"</th><th class="opt">"Email"</th><th>"Status"</th><th class="opt">"Source"</th><th class="opt">"Updated"</th></tr></thead>
                                    <tbody>
                                        {p.items.into_iter().map(|u| {
                                            let shown = u.display_name.clone().unwrap_or_else(|| u.user_name.clone());
                                            view! {
                                            <tr>
                                                <td><A href=format!("{base}/users/{}", u.id)>{shown}</A><div class="muted small">{u.user_name.clone()}</div></td>
                                                <td class="opt">{u.email.clone().unwrap_or_default()}</td>
                                                <td>{if u.active { view! { <span class="badge badge-active">"active"</span> } } else { view! { <span class="badge badge-revoked">"deactivated"</span> } }}</td>
                                                <td class="opt"><ManagedBadge by=u.managed_by.clone()/></td>
                                                <td class="opt"><Time ms=u.updated_at/></td>
                                            </tr>
                                        }}).collect_view()}
                                    </tbody>
                                </table>
                                {next.map(|href| view! { <A href=href attr:class="btn btn-ghost">"Next page →"</A> })}
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </OrgLayout>
    }
}

pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

#[component]
pub fn UserPage() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let id = move || params.read().get("id").unwrap_or_default();
    let query = use_query_map();
    let before = move || {
        query
            .read()
            .get("before")
            .and_then(|b| b.parse::<i64>().ok())
    };
    let update = ServerAction::<UpdateConsoleUser>::new();
    let data = Resource::new(
        move || (org(), id(), before(), update.version().get()),
        |(o, i, b, _)| user_detail(o, i, b),
    );
    view! {
        <Title text="User"/>
        <OrgLayout login=org() active="users">
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => {
                            let base = format!("/orgs/{}", d.org.login);
                            let managed = d.user.managed_by.is_some();
                            let teams = d.teams.clone();
                            let (login, uid, dn, active) = (d.org.login.clone(), d.user.id.clone(), d.user.display_name.clone().unwrap_or_default(), d.user.active);
                            let history_org = d.org.login.clone();
                            view! {
                                <div class="page-head">
                                    <h1>{d.user.display_name.clone().unwrap_or_else(|| d.user.user_name.clone())}</h1>
                                    <ManagedBadge by=d.user.managed_by.clone()/>
                                </div>
                                <div class="grid-2">
                                    <section class="card">
                                        <h2>"Profile"</h2>
                                        <dl class="facts">
                                            <dt>"Username"</dt><dd>{d.user.user_name.clone()}</dd>
                                            <dt>"Status"</dt><dd>{if d.user.active { "active" } else { "deactivated" }}</dd>
                                            <dt>"Role"</dt><dd>{d.role.clone().unwrap_or_else(|| "—".into())}</dd>
                                            <dt>"External id"</dt><dd>{d.external_id.clone().unwrap_or_else(|| "—".into())}</dd>
                                            <dt>"Created"</dt><dd><Time ms=d.created_at/></dd>
                                            <dt>"Updated"</dt><dd><Time ms=d.user.updated_at/></dd>
                                        </dl>
                                        <h3>"Emails"</h3>
                                        <ul>{d.emails.iter().map(|e| view! { <li>{e.value.clone()} <span class="muted">{format!(" {}{}", e.kind.clone().unwrap_or_default(), if e.primary { " · primary" } else { "" })}</span></li> }).collect_view()}</ul>
                                        <h3>"Teams"</h3>
                                        {if d.teams.is_empty() { view! { <p class="muted">"Not in any team."</p> }.into_any() } else {
                                            view! { <ul>{teams.into_iter().map(|t| view! { <li><A href=format!("{base}/teams/{}", t.id)>{t.name}</A></li> }).collect_view()}</ul> }.into_any()
                                        }}
                                        {if managed {
                                            view! { <p class="muted">{format!("Read-only: change this user in {}.", d.user.managed_by.clone().unwrap_or_default())}</p> }.into_any()
                                        } else {
                                            view! {
                                                <ActionForm action=update attr:class="form">
                                                    <input type="hidden" name="org" value=login/>
                                                    <input type="hidden" name="id" value=uid/>
                                                    <label for="edit_display_name">"Display name"</label>
                                                    <input id="edit_display_name" name="display_name" value=dn/>
                                                    <label class="check"><input type="checkbox" name="active" value="on" checked=active/>" Active"</label>
                                                    <button type="submit" class="btn btn-primary">"Save"</button>
                                                </ActionForm>
                                            }.into_any()
                                        }}
                                    </section>
                                    <section class="card">
                                        <h2>"All attributes"</h2>
                                        <pre class="code" tabindex="0">{d.attributes_json.clone()}</pre>
                                    </section>
                                </div>
                                <Timeline base=base.clone() user_id=d.user.id.clone() entries=d.timeline.clone() older=d.timeline_older paged=before().is_some()/>
                                <section class="card">
                                    <h2>"Provisioning history"</h2>
                                    <super::log::EventTable events=d.history.clone() org=history_org/>
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

/// A person's story: every change to the user, whichever path made it (SCIM user or group
/// requests, the console), newest first, with team joins and leaves by name and attribute
/// changes before and after.
#[component]
fn Timeline(
    base: String,
    user_id: String,
    entries: Vec<crate::console::api::TimelineEntryView>,
    older: Option<i64>,
    paged: bool,
) -> impl IntoView {
    let empty = entries.is_empty();
    let items = entries
        .into_iter()
        .map(|e| {
            let team = e.team.map(|t| {
                view! { " " <A href=format!("{base}/teams/{}", t.id)>{t.name}</A> }
            });
            let changes = (!e.changes.is_empty()).then(|| {
                view! {
                    <table class="changes">
                        <thead><tr><th scope="col">"Field"</th><th scope="col">"Before"</th><th scope="col">"After"</th></tr></thead>
                        <tbody>
                            {e.changes.into_iter().map(|c| view! {
                                <tr><th scope="row">{c.field}</th><td class="before">{c.before}</td><td class="after">{c.after}</td></tr>
                            }).collect_view()}
                        </tbody>
                    </table>
                }
            });
            view! {
                <li class="timeline-entry" data-type=e.event_type.clone()>
                    <div class="timeline-head">
                        <strong>{e.title}</strong>
                        {team}
                        <span class="muted">" · by " {e.origin} " · "</span>
                        <Time ms=e.occurred_at/>
                    </div>
                    {changes}
                </li>
            }
        })
        .collect_view();
    let user_url = format!("{base}/users/{user_id}");
    view! {
        <section class="card" aria-labelledby="timeline-heading">
            <h2 id="timeline-heading">"Timeline"</h2>
            {if empty {
                view! { <p class="muted">"No changes recorded in the change-event retention period."</p> }.into_any()
            } else {
                view! { <ol class="timeline">{items}</ol> }.into_any()
            }}
            <nav class="pager" aria-label="Timeline pages">
                {paged.then(|| view! { <A href=user_url.clone()>"Newest changes"</A> })}
                {older.map(|seq| view! { <A href=format!("{user_url}?before={seq}")>"Older changes"</A> })}
            </nav>
        </section>
    }
}
