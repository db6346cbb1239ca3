//! Integrations: what the application that relies on scimgate uses. Application keys (the
//! secret shown once), and the live event feed: the newest change events, with new ones
//! fetched every few seconds (only those after the newest sequence number seen).

use crate::console::api::{
    list_app_keys, recent_change_events, AppKeyView, ChangeEventView, CreateAppKey, RevokeAppKey,
    FEED_EVENTS,
};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{CopyButton, Empty, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

/// How often the event feed asks for new events.
const FEED_POLL: std::time::Duration = std::time::Duration::from_secs(3);

#[component]
pub fn Integrations() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    view! {
        <Title text="Integrations"/>
        <OrgLayout login=org() active="integrations">
            <h1>"Integrations"</h1>
            <AppKeys/>
            // Webhook endpoints (issue 12, webhooks part) go here, between the keys and the
            // feed, as their own section.
            <EventFeed/>
        </OrgLayout>
    }
}

#[component]
fn AppKeys() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let create = ServerAction::<CreateAppKey>::new();
    let revoke = ServerAction::<RevokeAppKey>::new();
    let keys = Resource::new(
        move || (org(), create.version().get(), revoke.version().get()),
        |(o, _, _)| list_app_keys(o),
    );
    // The secret lives only in the action's result in this page's memory: a reload or the
    // back button cannot show it again.
    let secret = move || create.value().get().and_then(|r| r.ok());
    let create_error = move || {
        create
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    let revoke_error = move || {
        revoke
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    view! {
        <section class="card">
            <h2>"Application keys"</h2>
            <p class="muted">"A key lets your application read the directory and its event feed; it cannot change anything. Its secret is shown once, when it is created; scimgate keeps only a hash."</p>
            <ActionForm action=create attr:class="form form-row">
                <input type="hidden" name="org" value=org/>
                <label for="app_key_label">"Label"</label>
                <input id="app_key_label" name="label" required placeholder="Billing service" maxlength="100"/>
                <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>"Create key"</button>
            </ActionForm>
            {move || create_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || secret().map(|n| view! {
                <div class="secret" role="status" data-testid="new-app-key">
                    <p><strong>"Copy this key now. This is shown once: it will not be shown again."</strong></p>
                    <div class="copy-row">
                        <code class="url" data-testid="app-key-secret">{n.secret.clone()}</code>
                        <CopyButton text=n.secret.clone()/>
                    </div>
                    <p class="muted">{format!("Label: {} · {}", n.key.label, n.key.hint)}</p>
                </div>
            })}
            {move || revoke_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match keys.await {
                        Ok(list) if list.is_empty() => view! {
                            <Empty title="No application key yet">"Create one above for each application that reads the directory."</Empty>
                        }.into_any(),
                        Ok(list) => view! {
                            <table class="table" data-testid="app-keys">
                                <thead><tr><th>"Label"</th><th>"Key"</th><th>"Created"</th><th>"Last used"</th><th>"State"</th><th></th></tr></thead>
                                <tbody>
                                    {list.into_iter().map(|k| view! { <AppKeyRow key=k revoke=revoke/> }).collect_view()}
                                </tbody>
                            </table>
                        }.into_any(),
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

#[component]
fn AppKeyRow(key: AppKeyView, revoke: ServerAction<RevokeAppKey>) -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let confirm = RwSignal::new(false);
    let active = key.state == "active";
    let id = StoredValue::new(key.id.clone());
    let row_class = if active { "" } else { "row-muted" };
    view! {
        <tr class=row_class>
            <td>{key.label.clone()}</td>
            <td><code>{key.hint.clone()}</code></td>
            <td>
                <Time ms=key.created_at/>
                {key.created_by.clone().map(|b| view! { <span class="muted">{format!(" by {b}")}</span> })}
            </td>
            <td>{match key.last_used_at { Some(t) => view! { <Time ms=t/> }.into_any(), None => view! { <span class="muted">"never"</span> }.into_any() }}</td>
            <td><span class=format!("badge badge-{}", key.state)>{key.state.clone()}</span></td>
            <td class="actions">
                <Show when=move || active>
                    {move || if confirm.get() {
                        view! {
                            <span class="confirm">
                                "Revoke now? Requests with it fail at once. "
                                <button type="button" class="btn btn-danger btn-small" on:click=move |_| {
                                    revoke.dispatch(RevokeAppKey { org: org(), key_id: id.get_value() });
                                    confirm.set(false);
                                }>"Confirm revoke"</button>
                                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(false)>"Cancel"</button>
                            </span>
                        }.into_any()
                    } else {
                        view! {
                            <button type="button" class="btn btn-danger btn-small" on:click=move |_| confirm.set(true)>"Revoke"</button>
                        }.into_any()
                    }}
                </Show>
            </td>
        </tr>
    }
}

/// The newest change events. The first ones come with the page (server-rendered); once
/// hydrated, the page asks every [`FEED_POLL`] for events after the newest it has, and puts
/// them on top.
#[component]
fn EventFeed() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let initial = Resource::new(org, |o| recent_change_events(o, None));
    // Events that arrived after the page was loaded, newest first.
    let fresh = RwSignal::new(Vec::<ChangeEventView>::new());
    let poll_error = RwSignal::new(None::<String>);
    let poll =
        Action::new(|(o, after): &(String, i64)| recent_change_events(o.clone(), Some(*after)));
    // The newest sequence number on the page (0 before the first event).
    let newest_seen = move || {
        fresh
            .with_untracked(|v| v.first().map(|e| e.seq))
            .or_else(|| {
                initial
                    .get_untracked()
                    .and_then(|r| r.ok())
                    .and_then(|v| v.first().map(|e| e.seq))
            })
            .unwrap_or(0)
    };
    // Polling, like the provisioning log: simple, proxy-friendly, one indexed query.
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                // Not before the first answer is in (its newest event is the cursor), and
                // never two requests at once.
                let loaded = initial.get_untracked().is_some_and(|r| r.is_ok());
                if loaded && !poll.pending().get_untracked() {
                    let o = params.read_untracked().get("org").unwrap_or_default();
                    poll.dispatch((o, newest_seen()));
                }
            },
            FEED_POLL,
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    Effect::new(move |_| match poll.value().get() {
        Some(Ok(new)) => {
            poll_error.set(None);
            let newest = newest_seen();
            let mut new: Vec<ChangeEventView> =
                new.into_iter().filter(|e| e.seq > newest).collect();
            if !new.is_empty() {
                fresh.update(|v| {
                    new.append(v);
                    new.truncate(FEED_EVENTS as usize);
                    *v = new;
                });
            }
        }
        Some(Err(e)) => poll_error.set(Some(super::message(&e))),
        None => {}
    });
    view! {
        <section class="card">
            <div class="page-head">
                <h2>"Event feed"</h2>
                <span class="muted small live" data-testid="feed-live">"Live · updates every few seconds"</span>
            </div>
            <p class="muted">"What your application hears: every change to the directory, from your identity provider or this console, newest first."</p>
            {move || poll_error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(first) => {
                            let first_empty = first.is_empty();
                            let first = StoredValue::new(first);
                            let rows = move || {
                                let mut all = fresh.get();
                                first.with_value(|f| all.extend(f.iter().cloned()));
                                all.truncate(FEED_EVENTS as usize);
                                all
                            };
                            view! {
                                <Show
                                    when=move || !first_empty || fresh.with(|f| !f.is_empty())
                                    fallback=|| view! {
                                        <Empty title="No event yet">"Events appear here as soon as your identity provider (or an admin) changes a user or a team."</Empty>
                                    }
                                >
                                    <table class="table feed" data-testid="event-feed">
                                        <thead><tr><th>"Time"</th><th>"Event"</th><th>"What"</th><th>"Origin"</th><th class="num">"#"</th></tr></thead>
                                        <tbody>
                                            <For each=rows key=|e| e.seq let:e>
                                                <tr data-seq=e.seq data-type=e.event_type.clone()>
                                                    <td><Time ms=e.occurred_at/></td>
                                                    <td><code class="event-type">{e.event_type.clone()}</code></td>
                                                    <td title=e.resource_id.clone()>{e.summary.clone()}</td>
                                                    <td class="small">{origin_text(&e.origin)}</td>
                                                    <td class="num muted">{e.seq}</td>
                                                </tr>
                                            </For>
                                        </tbody>
                                    </table>
                                </Show>
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// `scim:okta` → "SCIM (okta)", `console:ops@acme.test` → "Console (ops@acme.test)".
fn origin_text(origin: &str) -> String {
    match origin.split_once(':') {
        Some(("scim", who)) => format!("SCIM ({who})"),
        Some(("console", who)) => format!("Console ({who})"),
        _ => origin.to_string(),
    }
}
