//! Integrations: what the application that relies on scimgate uses. Application keys (the
//! secret shown once), webhook endpoints (the signing secret shown once; each endpoint with
//! its newest deliveries, refreshed every few seconds), and the live event feed: the newest
//! change events, with new ones fetched every few seconds (only those after the newest
//! sequence number seen).

use crate::console::api::{
    list_app_keys, list_webhook_endpoints, recent_change_events, AddWebhookEndpoint, AppKeyView,
    ChangeEventView, CreateAppKey, EnableWebhookEndpoint, RemoveWebhookEndpoint,
    ResendWebhookEvent, RevokeAppKey, WebhookAttemptView, WebhookEndpointView, FEED_EVENTS,
};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{
    reset_on_success, Empty, SecretReveal, SecretSubmit, StatusPill, Time,
};
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
            <WebhookEndpoints/>
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
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, move || matches!(create.value().get(), Some(Ok(_))));
    view! {
        <section class="card">
            <h2>"Application keys"</h2>
            <p class="muted">"A key lets your application read the directory and its event feed; it cannot change anything. Its secret is shown once, when it is created; scimgate keeps only a hash."</p>
            <ActionForm action=create node_ref=form attr:class="form form-row">
                <input type="hidden" name="org" value=org/>
                <label for="app_key_label">"Label"</label>
                <input id="app_key_label" name="label" required placeholder="Billing service" maxlength="100"/>
                <SecretSubmit pending=create.pending()>"Create key"</SecretSubmit>
            </ActionForm>
            {move || create_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || secret().map(|n| view! {
                <SecretReveal title="Copy this key now. This is shown once: it will not be shown again." secret=n.secret.clone() testid="new-app-key" secret_testid="app-key-secret">
                    <p class="muted">{format!("Label: {} · {}", n.key.label, n.key.hint)}</p>
                </SecretReveal>
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
                                <thead><tr><th>"Label"</th><th class="opt">"Key"</th><th class="opt">"Created"</th><th class="opt">"Last used"</th><th>"State"</th><th></th></tr></thead>
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
            <td class="opt"><code>{key.hint.clone()}</code></td>
            <td class="opt">
                <Time ms=key.created_at/>
                {key.created_by.clone().map(|b| view! { <span class="muted">{format!(" by {b}")}</span> })}
            </td>
            <td class="opt">{match key.last_used_at { Some(t) => view! { <Time ms=t/> }.into_any(), None => view! { <span class="muted">"never"</span> }.into_any() }}</td>
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

/// How often the webhook endpoints (and their deliveries) are fetched again.
const WEBHOOK_POLL: std::time::Duration = std::time::Duration::from_secs(3);

/// The event types an endpoint can be limited to.
const EVENT_TYPES: [&str; 11] = [
    "user.created",
    "user.updated",
    "user.deactivated",
    "user.reactivated",
    "user.deleted",
    "user.role_changed",
    "team.created",
    "team.updated",
    "team.deleted",
    "team.member_added",
    "team.member_removed",
];

/// The org's webhook endpoints, each with its newest delivery attempts. The list comes with
/// the page; once hydrated it is fetched again every [`WEBHOOK_POLL`] (and right after each
/// change made here), so deliveries appear without a reload. Rows are keyed by endpoint, so
/// a refresh keeps an open confirmation.
#[component]
fn WebhookEndpoints() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let add = ServerAction::<AddWebhookEndpoint>::new();
    let remove = ServerAction::<RemoveWebhookEndpoint>::new();
    let enable = ServerAction::<EnableWebhookEndpoint>::new();
    let resend = ServerAction::<ResendWebhookEvent>::new();
    let initial = Resource::new(org, list_webhook_endpoints);
    // The newest list fetched since the page was loaded.
    let latest = RwSignal::new(None::<Vec<WebhookEndpointView>>);
    let poll_error = RwSignal::new(None::<String>);
    let poll = Action::new(|o: &String| list_webhook_endpoints(o.clone()));
    let refresh = move || {
        let o = params.read_untracked().get("org").unwrap_or_default();
        poll.dispatch(o);
    };
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                let loaded = initial.get_untracked().is_some_and(|r| r.is_ok());
                if loaded && !poll.pending().get_untracked() {
                    refresh();
                }
            },
            WEBHOOK_POLL,
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    // After each change made here: at once (not on the first run, which is the page load).
    Effect::new(move |first: Option<()>| {
        add.version().get();
        remove.version().get();
        enable.version().get();
        resend.version().get();
        if first.is_some() {
            refresh();
        }
    });
    Effect::new(move |_| match poll.value().get() {
        Some(Ok(list)) => {
            poll_error.set(None);
            latest.set(Some(list));
        }
        Some(Err(e)) => poll_error.set(Some(super::message(&e))),
        None => {}
    });
    let secret = move || add.value().get().and_then(|r| r.ok());
    let add_error = move || {
        add.value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    let action_error = move || {
        let e = remove
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| enable.value().get().and_then(|r| r.err()))
            .or_else(|| resend.value().get().and_then(|r| r.err()));
        e.map(|e| super::message(&e))
    };
    let form = NodeRef::<leptos::html::Form>::new();
    reset_on_success(form, move || matches!(add.value().get(), Some(Ok(_))));
    view! {
        <section class="card" data-testid="webhooks">
            <div class="page-head">
                <h2>"Webhook endpoints"</h2>
                <span class="muted small live">"Live · updates every few seconds"</span>
            </div>
            <p class="muted">"scimgate POSTs each change event to these URLs as it happens, in order, signed with the endpoint's secret. A failed delivery is retried with growing delays for about a day; an endpoint that keeps failing for days is disabled until you enable it again."</p>
            <ActionForm action=add node_ref=form attr:class="form">
                <input type="hidden" name="org" value=org/>
                <label for="webhook_url">"URL"</label>
                <input id="webhook_url" name="url" type="url" required placeholder="https://app.example.com/hooks/scimgate" maxlength="2000"/>
                <label for="webhook_types">"Event types"</label>
                <input id="webhook_types" name="event_types" placeholder="all events" list="webhook-event-types"/>
                <datalist id="webhook-event-types">
                    {EVENT_TYPES.iter().map(|t| view! { <option value=*t/> }).collect_view()}
                </datalist>
                <p class="muted small">{format!("Separated by commas; empty for all events. Types: {}.", EVENT_TYPES.join(", "))}</p>
                <label for="webhook_description">"Description"</label>
                <input id="webhook_description" name="description" placeholder="Billing service" maxlength="200"/>
                <div>
                    <SecretSubmit pending=add.pending()>"Add endpoint"</SecretSubmit>
                </div>
            </ActionForm>
            {move || add_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || secret().map(|n| view! {
                <SecretReveal title="Copy this signing secret now. This is shown once: it will not be shown again." secret=n.secret.clone() testid="new-webhook" secret_testid="webhook-secret">
                    <p class="muted">{format!("For {}", n.endpoint.url)}</p>
                    <p class="small">
                        "Each delivery follows "
                        <a href="https://www.standardwebhooks.com/" target="_blank" rel="noopener noreferrer">"Standard Webhooks"</a>
                        ": check the "<code>"webhook-signature"</code>" header (v1, HMAC-SHA256 with this secret over "
                        <code>"webhook-id.webhook-timestamp.body"</code>
                        "), refuse a "<code>"webhook-timestamp"</code>" more than five minutes off, and use "
                        <code>"webhook-id"</code>" to ignore an event you already processed (deliveries are at least once). "
                        "Any Standard Webhooks library does this; see the section “Webhooks” of scimgate's README."
                    </p>
                </SecretReveal>
            })}
            {move || action_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            {move || poll_error.get().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match initial.await {
                        Ok(first) => {
                            let first = StoredValue::new(first);
                            let rows = move || latest.get().unwrap_or_else(|| first.get_value());
                            let ids = move || rows().into_iter().map(|e| e.id).collect::<Vec<_>>();
                            view! {
                                <Show
                                    when=move || !ids().is_empty()
                                    fallback=|| view! {
                                        <Empty title="No webhook endpoint yet">"Add one above and your application hears about every change as it happens."</Empty>
                                    }
                                >
                                    <table class="table" data-testid="webhook-endpoints">
                                        <thead><tr><th>"URL"</th><th>"Events"</th><th>"State"</th><th>"Last success"</th><th></th></tr></thead>
                                        <For each=ids key=|id| id.clone() let:id>
                                            <WebhookEndpointRows
                                                endpoint=Signal::derive(move || rows().into_iter().find(|e| e.id == id))
                                                remove=remove
                                                enable=enable
                                                resend=resend
                                            />
                                        </For>
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

/// One endpoint: its row, then a row with its newest deliveries.
#[component]
fn WebhookEndpointRows(
    endpoint: Signal<Option<WebhookEndpointView>>,
    remove: ServerAction<RemoveWebhookEndpoint>,
    enable: ServerAction<EnableWebhookEndpoint>,
    resend: ServerAction<ResendWebhookEvent>,
) -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let confirm = RwSignal::new(false);
    // The endpoint without its attempts (which change more often), and the attempts.
    let head = Memo::new(move |_| {
        endpoint.get().map(|mut e| {
            e.recent.clear();
            e
        })
    });
    let attempts = Memo::new(move |_| endpoint.get().map(|e| e.recent).unwrap_or_default());
    let id = move || head.with(|e| e.as_ref().map(|e| e.id.clone()).unwrap_or_default());
    view! {
        <tbody data-testid="webhook-endpoint">
            {move || head.get().map(|e| {
                let row_class = if e.state == "disabled" { "row-muted" } else { "" };
                let disabled = e.state == "disabled";
                view! {
                    <tr class=row_class data-state=e.state.clone()>
                        <td>
                            <code class="url">{e.url.clone()}</code>
                            {(!e.description.is_empty()).then(|| view! { <div class="muted small">{e.description.clone()}</div> })}
                            <div class="muted small">
                                <code>{e.secret_hint.clone()}</code>
                                " · added "<Time ms=e.created_at/>
                                {e.created_by.clone().map(|b| format!(" by {b}"))}
                            </div>
                        </td>
                        <td class="small">
                            {if e.event_types.is_empty() {
                                view! { <span class="muted">"all events"</span> }.into_any()
                            } else {
                                e.event_types.iter().map(|t| view! { <code class="event-type">{t.clone()}</code>" " }).collect_view().into_any()
                            }}
                        </td>
                        <td><EndpointState endpoint=e.clone()/></td>
                        <td>{match e.last_success_at { Some(t) => view! { <Time ms=t/> }.into_any(), None => view! { <span class="muted">"never"</span> }.into_any() }}</td>
                        <td class="actions">
                            {disabled.then(|| view! {
                                <button type="button" class="btn btn-primary btn-small" on:click=move |_| {
                                    enable.dispatch(EnableWebhookEndpoint { org: org(), endpoint_id: id() });
                                }>"Enable"</button>
                                " "
                            })}
                            {move || if confirm.get() {
                                view! {
                                    <span class="confirm">
                                        "Remove this endpoint? Deliveries stop at once. "
                                        <button type="button" class="btn btn-danger btn-small" on:click=move |_| {
                                            remove.dispatch(RemoveWebhookEndpoint { org: org(), endpoint_id: id() });
                                            confirm.set(false);
                                        }>"Confirm remove"</button>
                                        <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(false)>"Cancel"</button>
                                    </span>
                                }.into_any()
                            } else {
                                view! {
                                    <button type="button" class="btn btn-danger btn-small" on:click=move |_| confirm.set(true)>"Remove"</button>
                                }.into_any()
                            }}
                        </td>
                    </tr>
                }
            })}
            <tr class="webhook-deliveries">
                <td colspan="5">
                    <Show
                        when=move || attempts.with(|a| !a.is_empty())
                        fallback=|| view! { <p class="muted small">"No delivery yet: the next change event goes here."</p> }
                    >
                        <table class="table small" data-testid="webhook-deliveries">
                            <thead><tr><th>"Time"</th><th>"Event"</th><th>"Outcome"</th><th>"Status"</th><th class="num">"Latency"</th><th>"Detail"</th><th></th></tr></thead>
                            <tbody>
                                <For each=move || attempts.get() key=|a| a.id.clone() let:a>
                                    <AttemptRow attempt=a endpoint_id=Signal::derive(id) resend=resend/>
                                </For>
                            </tbody>
                        </table>
                    </Show>
                </td>
            </tr>
        </tbody>
    }
    .into_any()
}

/// active / failing since … / disabled (with the reason).
#[component]
fn EndpointState(endpoint: WebhookEndpointView) -> impl IntoView {
    match endpoint.state.as_str() {
        "disabled" => view! {
            <span class="badge badge-revoked">"disabled"</span>
            {endpoint.disabled_at.map(|t| view! { <div class="small muted">"since "<Time ms=t/></div> })}
            {endpoint.disabled_reason.clone().map(|r| view! { <div class="small">{r}</div> })}
        }
        .into_any(),
        "failing" => view! {
            <span class="badge badge-failing">"failing"</span>
            {endpoint.failing_since.map(|t| view! { <div class="small muted">"since "<Time ms=t/></div> })}
        }
        .into_any(),
        other => view! { <span class="badge badge-active">{other.to_string()}</span> }.into_any(),
    }
}

#[component]
fn AttemptRow(
    attempt: WebhookAttemptView,
    endpoint_id: Signal<String>,
    resend: ServerAction<ResendWebhookEvent>,
) -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let event_id = StoredValue::new(attempt.event_id.clone());
    let requested = RwSignal::new(false);
    let outcome_class = match attempt.outcome.as_str() {
        "delivered" | "resent" => "pill pill-ok",
        "retrying" => "pill pill-warn",
        _ => "pill pill-bad",
    };
    let failed = !matches!(attempt.outcome.as_str(), "delivered" | "resent");
    let detail = attempt
        .error
        .clone()
        .or_else(|| attempt.response_excerpt.clone())
        .unwrap_or_default();
    view! {
        <tr class=if failed { "failed" } else { "" } data-outcome=attempt.outcome.clone() data-seq=attempt.seq>
            <td><Time ms=attempt.attempted_at/></td>
            <td><code class="event-type">{attempt.event_type.clone()}</code><span class="muted">{format!(" #{}", attempt.seq)}</span></td>
            <td><span class=outcome_class>{attempt.outcome.replace('_', " ")}</span></td>
            <td>{match attempt.status_code { Some(s) => view! { <StatusPill status=s/> }.into_any(), None => view! { <span class="muted">"—"</span> }.into_any() }}</td>
            <td class="num">{format!("{} ms", attempt.latency_ms)}</td>
            <td class="small webhook-detail" title=detail.clone()>{detail.clone()}</td>
            <td class="actions">
                <button type="button" class="btn btn-ghost btn-small" disabled=move || requested.get() on:click=move |_| {
                    resend.dispatch(ResendWebhookEvent { org: org(), endpoint_id: endpoint_id.get_untracked(), event_id: event_id.get_value() });
                    requested.set(true);
                }>{move || if requested.get() { "Resend requested" } else { "Resend" }}</button>
            </td>
        </tr>
    }
    .into_any()
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
                                        <thead><tr><th>"Time"</th><th>"Event"</th><th>"What"</th><th class="opt">"Origin"</th><th class="num opt">"#"</th></tr></thead>
                                        <tbody>
                                            <For each=rows key=|e| e.seq let:e>
                                                <tr data-seq=e.seq data-type=e.event_type.clone()>
                                                    <td><Time ms=e.occurred_at/></td>
                                                    <td><code class="event-type">{e.event_type.clone()}</code></td>
                                                    <td title=e.resource_id.clone()>{e.summary.clone()}</td>
                                                    <td class="small opt">{origin_text(&e.origin)}</td>
                                                    <td class="num muted opt">{e.seq}</td>
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
