//! The provisioning log: newest first, filterable, keyset-paged; new events appear by
//! polling every 5 seconds while the first page is shown. An event page shows the request
//! and what changed as a before/after table.

use crate::console::api::{
    event_detail, provisioning_log, EventRowView, LogQuery, ReadTrafficView,
};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{Empty, StatusPill, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::{Form, A};
use leptos_router::hooks::{use_params_map, use_query_map};

const KINDS: [&str; 8] = [
    "created",
    "updated",
    "deactivated",
    "reactivated",
    "deleted",
    "member_added",
    "member_removed",
    "member_skipped",
];
const CLIENTS: [(&str, &str); 5] = [
    ("okta", "Okta"),
    ("entra", "Microsoft Entra ID"),
    ("onelogin", "OneLogin"),
    ("jumpcloud", "JumpCloud"),
    ("other", "Other"),
];

/// The log's filters and page, as a query string (an event page's way back to this list).
const LIST_KEYS: [&str; 9] = [
    "hours", "status", "kind", "client", "token", "resource", "text", "before", "after",
];

#[component]
pub fn EventTable(
    events: Vec<EventRowView>,
    #[prop(into)] org: String,
    /// The list's query string, carried to each event page for its link back.
    #[prop(optional, into)]
    back: Option<String>,
) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="muted">"No SCIM request has touched this yet."</p> }.into_any();
    }
    let base = format!("/orgs/{org}/log");
    let suffix = back
        .filter(|b| !b.is_empty())
        .map(|b| format!("?{b}"))
        .unwrap_or_default();
    view! {
        <table class="table log" data-testid="events">
            // On a phone the request and its status stay; the `opt` columns are left out.
            <thead><tr><th>"Time"</th><th>"Request"</th><th>"Status"</th><th class="opt">"Changes"</th><th class="opt">"Client"</th><th class="opt">"ms"</th></tr></thead>
            <tbody>
                {events.into_iter().map(|e| {
                    let row_class = if e.status >= 400 { "failed" } else { "" };
                    let changes = e.changes.iter().map(|c| format!("{} {}", c.kind.replace('_', " "), c.resource_name.clone().unwrap_or_else(|| c.resource_id.clone()))).collect::<Vec<_>>().join(", ");
                    view! {
                        <tr class=row_class data-status=e.status>
                            <td><Time ms=e.occurred_at/></td>
                            <td><A href=format!("{base}/{}{suffix}", e.id)><code>{format!("{} {}", e.method, e.path.split("/scim/v2/").nth(1).map(|p| format!("/{}", p.split_once('/').map(|x| x.1).unwrap_or(""))).unwrap_or(e.path.clone()))}</code></A></td>
                            <td><StatusPill status=e.status/>{e.scim_type.clone().map(|t| view! { <span class="scim-type" data-testid="scim-type">{t}</span> })}</td>
                            <td class="small opt">{changes}</td>
                            <td class="opt">{e.client.clone()}{e.token_label.clone().map(|l| view! { <div class="muted small">{l}</div> })}</td>
                            <td class="num opt">{format!("{:.1}", e.duration_us as f64 / 1000.0)}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// Successful reads, counted per minute: what an identity provider looked up and listed,
/// without a row per request (failures and changes are in the table above, in full).
#[component]
fn ReadTraffic(rows: Vec<ReadTrafficView>) -> impl IntoView {
    let total: i64 = rows.iter().map(|r| r.requests).sum();
    view! {
        <section class="read-traffic" data-testid="read-traffic">
            <h2>"Successful reads, per minute"</h2>
            <p class="muted small">{format!(
                "{total} lookups, listings and searches in the newest {} rows. Reads that succeed are counted per minute, client, token, route and address; every change and every failed request is listed above in full.",
                rows.len()
            )}</p>
            <table class="table log">
                <thead><tr><th>"Minute"</th><th>"Request"</th><th class="num">"Requests"</th><th class="opt">"Client"</th><th class="num opt">"avg ms"</th><th class="num opt">"max ms"</th></tr></thead>
                <tbody>
                    {rows.into_iter().map(|r| {
                        let avg = r.total_us as f64 / r.requests.max(1) as f64 / 1000.0;
                        view! {
                            <tr>
                                <td><Time ms=r.minute/></td>
                                <td><code>{r.route.clone()}</code></td>
                                <td class="num" data-testid="read-count">{r.requests}</td>
                                <td class="opt">{r.client.clone()}{r.token_label.clone().map(|l| view! { <div class="muted small">{l}</div> })}{(!r.remote_addr.is_empty()).then(|| view! { <div class="muted small">{r.remote_addr.clone()}</div> })}</td>
                                <td class="num opt">{format!("{avg:.1}")}</td>
                                <td class="num opt">{format!("{:.1}", r.max_us as f64 / 1000.0)}</td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </section>
    }
}

#[component]
pub fn Log() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let q = move |k: &str| query.read().get(k).filter(|v| !v.is_empty());
    let tick = RwSignal::new(0u64);
    let log_query = move || LogQuery {
        status: q("status"),
        kind: q("kind"),
        client: q("client"),
        token: q("token"),
        resource: q("resource"),
        text: q("text"),
        hours: q("hours").and_then(|h| h.parse().ok()),
        before: q("before"),
        after: q("after"),
    };
    let data = Resource::new(
        move || (org(), log_query(), tick.get()),
        |(o, lq, _)| {
            provisioning_log(
                o,
                lq.status,
                lq.kind,
                lq.client,
                lq.token,
                lq.resource,
                lq.text,
                lq.hours,
                lq.before,
                lq.after,
            )
        },
    );
    // Polling (not server-sent events): simple, proxy-friendly, and one cheap indexed query.
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(
            move || {
                let q = query.read_untracked();
                if q.get("before").is_none() && q.get("after").is_none() {
                    tick.update(|t| *t += 1);
                }
            },
            std::time::Duration::from_secs(5),
        ) {
            on_cleanup(move || handle.clear());
        }
    });
    let selected = move |k: &'static str, v: &'static str| q(k).as_deref() == Some(v);
    view! {
        <Title text="Provisioning log"/>
        <OrgLayout login=org() active="log">
            <h1>"Provisioning log"</h1>
            <Form method="GET" action="" attr:class="filters">
                <select name="hours" aria-label="Time range">
                    <option value="">"All time"</option>
                    <option value="1" selected=move || selected("hours", "1")>"Last hour"</option>
                    <option value="24" selected=move || selected("hours", "24")>"Last 24 h"</option>
                    <option value="168" selected=move || selected("hours", "168")>"Last 7 days"</option>
                </select>
                <select name="status" aria-label="Status">
                    <option value="">"Any status"</option>
                    <option value="success" selected=move || selected("status", "success")>"Success"</option>
                    <option value="client" selected=move || selected("status", "client")>"Client error (4xx)"</option>
                    <option value="server" selected=move || selected("status", "server")>"Server error (5xx)"</option>
                </select>
                <select name="kind" aria-label="Change">
                    <option value="">"Any change"</option>
                    {KINDS.iter().map(|k| view! { <option value=*k selected=move || selected("kind", k)>{k.replace('_', " ")}</option> }).collect_view()}
                </select>
                <select name="client" aria-label="Client">
                    <option value="">"Any client"</option>
                    {CLIENTS.iter().map(|(k, l)| view! { <option value=*k selected=move || selected("client", k)>{*l}</option> }).collect_view()}
                </select>
                <Transition fallback=|| ()>
                    {move || data.get().and_then(|r| r.ok()).map(|p| view! {
                        <select name="token" aria-label="Token">
                            <option value="">"Any token"</option>
                            {p.tokens.into_iter().map(|t| { let id = t.id.clone(); view! { <option value=t.id.clone() selected=move || q("token").as_deref() == Some(id.as_str())>{format!("{} ({})", t.label, t.hint)}</option> } }).collect_view()}
                        </select>
                    })}
                </Transition>
                <input type="search" name="text" placeholder="userName or displayName starts with…" aria-label="Search by name" value=move || q("text").unwrap_or_default()/>
                {move || q("resource").map(|r| view! { <input type="hidden" name="resource" value=r/> })}
                <button type="submit" class="btn btn-ghost">"Filter"</button>
            </Form>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(p) if p.events.is_empty() && p.reads.is_empty() => view! {
                            <Empty title="No requests match">"Every SCIM request shows up here within seconds. Clear the filters, or connect your identity provider."</Empty>
                        }.into_any(),
                        Ok(p) => {
                            let filters = || ["hours", "status", "kind", "client", "token", "resource", "text"].iter().filter_map(|k| q(k).map(|v| format!("{k}={}", super::users::urlencode(&v)))).collect::<Vec<String>>();
                            let page_link = |cursor: String| {
                                let mut qs = filters();
                                qs.push(cursor);
                                format!("/orgs/{}/log?{}", p.org.login, qs.join("&"))
                            };
                            let next = p.next.clone().map(|n| page_link(format!("before={n}")));
                            let newer = match p.newer.clone() {
                                Some(n) => Some(page_link(format!("after={n}"))),
                                // Back at the newest events: the live first page.
                                None if q("after").is_some() => Some(format!("/orgs/{}/log?{}", p.org.login, filters().join("&"))),
                                None => None,
                            };
                            let back = LIST_KEYS.iter().filter_map(|k| q(k).map(|v| format!("{k}={}", super::users::urlencode(&v)))).collect::<Vec<String>>().join("&");
                            view! {
                                {(!p.events.is_empty()).then(|| view! { <EventTable events=p.events.clone() org=p.org.login.clone() back=back/> })}
                                <nav class="pager" aria-label="Log pages">
                                    {newer.map(|href| view! { <A href=href attr:class="btn btn-ghost">"← Newer"</A> })}
                                    {next.map(|href| view! { <A href=href attr:class="btn btn-ghost">"Older →"</A> })}
                                </nav>
                                {(!p.reads.is_empty()).then(|| view! { <ReadTraffic rows=p.reads.clone()/> })}
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
pub fn EventPage() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let id = move || params.read().get("id").unwrap_or_default();
    let data = Resource::new(move || (org(), id()), |(o, i)| event_detail(o, i));
    // Back to the list this page was opened from, with its filters and page.
    let back = move || {
        let q = query.read();
        let qs = LIST_KEYS
            .iter()
            .filter_map(|k| {
                q.get(k)
                    .filter(|v| !v.is_empty())
                    .map(|v| format!("{k}={}", super::users::urlencode(&v)))
            })
            .collect::<Vec<String>>()
            .join("&");
        if qs.is_empty() {
            format!("/orgs/{}/log", org())
        } else {
            format!("/orgs/{}/log?{qs}", org())
        }
    };
    view! {
        <Title text="Request"/>
        <OrgLayout login=org() active="log">
            <p><A href=back attr:class="back-link">"← Back to the log"</A></p>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match data.await {
                        Ok(d) => {
                            let e = d.event.clone();
                            let failed = e.status >= 400;
                            let card_class = if failed { "card card-failed" } else { "card" };
                            let base = format!("/orgs/{}", d.org.login);
                            let names = d.member_names.clone();
                            // The error body scimgate answered (RFC 7644 §3.12), as the client got it.
                            let error_body = failed.then(|| {
                                let mut body = serde_json::json!({
                                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
                                    "status": e.status.to_string(),
                                });
                                if let Some(t) = &e.scim_type { body["scimType"] = serde_json::json!(t); }
                                if let Some(detail) = &e.summary { body["detail"] = serde_json::json!(detail); }
                                serde_json::to_string_pretty(&body).unwrap_or_default()
                            });
                            view! {
                                <div class="page-head">
                                    <h1><code>{format!("{} {}", e.method, e.path)}</code></h1>
                                    <StatusPill status=e.status/>
                                </div>
                                {error_body.map(|b| view! {
                                    <section class="card card-failed" aria-labelledby="error-heading">
                                        <h2 id="error-heading">"Error returned to the client"</h2>
                                        <pre class="code" tabindex="0" data-testid="error-body">{b}</pre>
                                    </section>
                                })}
                                <section class="card" aria-labelledby="changed-heading">
                                    <h2 id="changed-heading">"What changed"</h2>
                                    {if e.changes.is_empty() {
                                        let why = if failed { "Nothing changed: the request failed and was rolled back." } else { "Nothing changed." };
                                        view! { <p class="muted">{why}</p> }.into_any()
                                    } else {
                                        e.changes.iter().map(|c| {
                                            let page = match c.resource_type.as_str() {
                                                "User" => Some(format!("{base}/users/{}", c.resource_id)),
                                                "Group" => Some(format!("{base}/teams/{}", c.resource_id)),
                                                _ => None,
                                            };
                                            let name = c.resource_name.clone().unwrap_or_else(|| c.resource_id.clone());
                                            let title = match page {
                                                Some(href) if c.kind != "deleted" => view! { <A href=href>{name}</A> }.into_any(),
                                                _ => view! { <span>{name}</span> }.into_any(),
                                            };
                                            let is_members = c.kind == "member_added" || c.kind == "member_removed";
                                            let body = if is_members {
                                                view! { <Members json=c.detail_json.clone() names=names.clone() base=base.clone()/> }.into_any()
                                            } else {
                                                view! { <Diff json=c.detail_json.clone()/> }.into_any()
                                            };
                                            view! {
                                                <div class="change">
                                                    <h3>{format!("{} {} ", c.kind.replace('_', " "), c.resource_type)}{title}</h3>
                                                    {body}
                                                </div>
                                            }
                                        }).collect_view().into_any()
                                    }}
                                </section>
                                <section class=card_class>
                                    <dl class="facts">
                                        <dt>"Time"</dt><dd><Time ms=e.occurred_at/></dd>
                                        <dt>"Status"</dt><dd data-testid="event-status">{e.status}</dd>
                                        <dt>"scimType"</dt><dd data-testid="event-scim-type">{e.scim_type.clone().unwrap_or_else(|| "—".into())}</dd>
                                        <dt>"Query"</dt><dd><code>{d.query.clone().unwrap_or_else(|| "—".into())}</code></dd>
                                        <dt>"Duration"</dt><dd>{format!("{:.2} ms", e.duration_us as f64 / 1000.0)}</dd>
                                        <dt>"Client"</dt><dd>{e.client.clone()}</dd>
                                        <dt>"Token"</dt><dd>{e.token_label.clone().unwrap_or_else(|| "none or invalid".into())}</dd>
                                        <dt>{if failed { "Detail" } else { "Summary" }}</dt><dd>{e.summary.clone().unwrap_or_else(|| "—".into())}</dd>
                                    </dl>
                                </section>
                                <section class="card">
                                    <h2>"Request body (secrets redacted)"</h2>
                                    // Focusable: a long body scrolls, and a keyboard must be able to scroll it.
                                    <pre class="code" tabindex="0">{d.request_body.clone().map(|b| serde_json::from_str::<serde_json::Value>(&b).ok().and_then(|v| serde_json::to_string_pretty(&v).ok()).unwrap_or(b)).unwrap_or_else(|| "(none)".into())}</pre>
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

/// The members a group request added or removed, by userName with a link (by id when the
/// user is gone).
#[component]
fn Members(json: Option<String>, names: Vec<(String, String)>, base: String) -> impl IntoView {
    let value: serde_json::Value = json
        .and_then(|j| serde_json::from_str(&j).ok())
        .unwrap_or(serde_json::Value::Null);
    let ids: Vec<String> = value
        .get("members")
        .and_then(|m| m.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let items = ids
        .into_iter()
        .map(|id| {
            let name = names.iter().find(|(i, _)| *i == id).map(|(_, n)| n.clone());
            match name {
                Some(name) => view! { <li><A href=format!("{base}/users/{id}")>{name}</A></li> }.into_any(),
                None => view! { <li><code>{id}</code>" "<span class="muted">"(no longer in the directory)"</span></li> }.into_any(),
            }
        })
        .collect_view();
    view! { <ul class="members" data-testid="members">{items}</ul> }
}

/// Before/after of each changed attribute, or the raw detail when it is not a diff.
#[component]
fn Diff(json: Option<String>) -> impl IntoView {
    let Some(json) = json else {
        return ().into_any();
    };
    let value: serde_json::Value = serde_json::from_str(&json).unwrap_or(serde_json::Value::Null);
    let rows: Option<Vec<(String, String, String)>> = value.as_object().and_then(|o| {
        o.iter()
            .map(|(k, v)| {
                let ba = v.as_object()?;
                let show = |x: Option<&serde_json::Value>| {
                    x.filter(|x| !x.is_null())
                        .map(|x| x.to_string())
                        .unwrap_or_else(|| "—".into())
                };
                (ba.contains_key("before") || ba.contains_key("after"))
                    .then(|| (k.clone(), show(ba.get("before")), show(ba.get("after"))))
            })
            .collect()
    });
    match rows {
        Some(rows) if !rows.is_empty() => view! {
            <table class="table diff">
                <thead><tr><th>"Attribute"</th><th>"Before"</th><th>"After"</th></tr></thead>
                <tbody>{rows.into_iter().map(|(k, b, a)| view! { <tr><td>{k}</td><td class="before">{b}</td><td class="after">{a}</td></tr> }).collect_view()}</tbody>
            </table>
        }.into_any(),
        _ => view! { <pre class="code" tabindex="0">{json}</pre> }.into_any(),
    }
}
