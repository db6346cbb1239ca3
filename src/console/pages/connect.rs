//! Connect: a guided connection. The admin picks the identity provider, follows its steps in
//! the provider's own words (the base URL to copy, a token generated in a dialog and shown
//! once), and watches a live status turn from "waiting for the first request" into
//! "connected" with what the provider did. Provisioning settings and the token list sit
//! under "Advanced settings", after the steps.

use crate::console::api::{
    connect_info, connection_status, list_tokens, CreateToken, NewTokenView, RegenerateToken,
    RevokeToken, TokenView, UpdateSettings,
};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{CopyButton, Empty, Saved, SecretReveal, StatusPill, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::{use_params_map, use_query_map};

/// How often the live status asks the server: quick enough that "Test Connection" in the
/// provider shows up while the admin still looks, one small indexed read per tick.
const STATUS_POLL: std::time::Duration = std::time::Duration::from_secs(3);

/// The identity providers with steps of their own (`?idp=` in the URL, so a reload or a
/// shared link keeps the choice, and the steps render on the server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Idp {
    Okta,
    Entra,
    OneLogin,
    JumpCloud,
    Other,
}

impl Idp {
    const ALL: [Idp; 5] = [
        Idp::Okta,
        Idp::Entra,
        Idp::OneLogin,
        Idp::JumpCloud,
        Idp::Other,
    ];

    fn key(self) -> &'static str {
        match self {
            Idp::Okta => "okta",
            Idp::Entra => "entra",
            Idp::OneLogin => "onelogin",
            Idp::JumpCloud => "jumpcloud",
            Idp::Other => "other",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Idp::Okta => "Okta",
            Idp::Entra => "Microsoft Entra ID",
            Idp::OneLogin => "OneLogin",
            Idp::JumpCloud => "JumpCloud",
            Idp::Other => "Another SCIM 2.0 client",
        }
    }

    fn from_key(k: &str) -> Option<Idp> {
        Idp::ALL.into_iter().find(|i| i.key() == k)
    }
}

#[component]
pub fn Connect() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let idp = Memo::new(move |_| query.read().get("idp").and_then(|k| Idp::from_key(&k)));
    let create = ServerAction::<CreateToken>::new();
    let regenerate = ServerAction::<RegenerateToken>::new();
    let revoke = ServerAction::<RevokeToken>::new();
    let settings = ServerAction::<UpdateSettings>::new();
    let info = Resource::new(
        move || (org(), settings.version().get()),
        |(o, _)| connect_info(o),
    );
    let tokens = Resource::new(
        move || {
            (
                org(),
                create.version().get(),
                regenerate.version().get(),
                revoke.version().get(),
            )
        },
        |(o, _, _, _)| list_tokens(o),
    );
    // The token dialog and the secret it shows. The secret lives only here, in this page's
    // memory, until the dialog is closed: a reload or the back button cannot show it again.
    let dialog = RwSignal::new(false);
    let shown = RwSignal::new(None::<NewTokenView>);
    Effect::new(move |_| {
        if let Some(Ok(n)) = create.value().get() {
            shown.set(Some(n));
        }
    });
    Effect::new(move |_| {
        if let Some(Ok(n)) = regenerate.value().get() {
            shown.set(Some(n));
            dialog.set(true);
        }
    });
    let default_label = Signal::derive(move || {
        idp.get()
            .filter(|i| *i != Idp::Other)
            .map(|i| i.name().to_string())
            .unwrap_or_default()
    });
    let settings_saved = Signal::derive(move || {
        !settings.pending().get() && matches!(settings.value().get(), Some(Ok(())))
    });
    let settings_error = move || {
        settings
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    let token_error = move || {
        regenerate
            .value()
            .get()
            .and_then(|r| r.err())
            .or_else(|| revoke.value().get().and_then(|r| r.err()))
            .map(|e| super::message(&e))
    };
    view! {
        <Title text="Connect"/>
        <OrgLayout login=org() active="connect">
            <h1>"Connect your identity provider"</h1>
            <section class="card connect-step" data-testid="choose-idp">
                <h2><span class="step-no">"1"</span>" Choose your identity provider"</h2>
                <ul class="idp-choices">
                    {Idp::ALL.into_iter().map(|i| view! {
                        // A plain link: the router makes it a client-side navigation once
                        // hydrated, and it works before that too.
                        <li><a
                            href=move || format!("/orgs/{}/connect?idp={}", org(), i.key())
                            class=move || if idp.get() == Some(i) { "idp-choice idp-choice-selected" } else { "idp-choice" }
                            aria-current=move || (idp.get() == Some(i)).then_some("true")
                        >
                            {i.name()}
                        </a></li>
                    }).collect_view()}
                </ul>
            </section>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(c) => {
                            let base = c.scim_base_url.clone();
                            let identifier = c.unique_identifier.clone();
                            let roles = c.allowed_roles.clone();
                            view! {
                                <section class="card connect-step" data-testid="idp-steps">
                                    {move || match idp.get() {
                                        None => view! {
                                            <h2><span class="step-no">"2"</span>" Set it up"</h2>
                                            <p class="muted">"Choose your identity provider above to see its steps, in its own words."</p>
                                            <div class="copy-row">
                                                <span>"SCIM base URL: "</span>
                                                <code class="url" data-testid="connect-base-url">{base.clone()}</code>
                                                <CopyButton text=base.clone()/>
                                            </div>
                                        }.into_any(),
                                        Some(i) => view! {
                                            <h2><span class="step-no">"2"</span>{format!(" Set up {}", i.name())}</h2>
                                            <Steps idp=i base=base.clone() identifier=identifier.clone() roles=roles.clone() dialog=dialog shown=shown/>
                                        }.into_any(),
                                    }}
                                </section>
                            }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <LiveStatus idp=idp/>
            <section class="card advanced" data-testid="advanced-settings">
                <h2>"Advanced settings"</h2>
                <h3>"Provisioning settings"</h3>
                <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match info.await {
                            Ok(c) => {
                                let by_user_name = c.unique_identifier == "userName";
                                let roles_text = c.allowed_roles.join(", ");
                                view! {
                                    <ActionForm action=settings attr:class="form form-inline-grid">
                                        <input type="hidden" name="org" value=c.org.login.clone()/>
                                        <label for="unique_identifier">"Unique identifier"</label>
                                        <select id="unique_identifier" name="unique_identifier">
                                            <option value="userName" selected=by_user_name>"userName"</option>
                                            <option value="email" selected=!by_user_name>"email"</option>
                                        </select>
                                        <label class="check">
                                            <input type="checkbox" name="user_name_immutable" value="on" checked=c.user_name_immutable/>
                                            " userName cannot change after creation"
                                        </label>
                                        <label for="allowed_roles">"Allowed roles (comma-separated; empty: any)"</label>
                                        <input id="allowed_roles" name="allowed_roles" value=roles_text placeholder="admin, member, viewer"/>
                                        <div class="form-actions">
                                            <button type="submit" class="btn btn-primary" disabled=move || settings.pending().get()>"Save settings"</button>
                                            <Saved done=settings_saved/>
                                        </div>
                                    </ActionForm>
                                }.into_any()
                            }
                            Err(e) => view! { <LoadError error=e/> }.into_any(),
                        }
                    })}
                </Suspense>
                {move || settings_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <div class="section-head">
                    <h3>"SCIM tokens"</h3>
                    <NewTokenButton dialog=dialog shown=shown/>
                </div>
                <p class="muted">"A token authenticates your identity provider. Its secret is shown once, when it is created; scimgate keeps only a hash. Regenerating can keep the old secret working for a while, so you can paste the new one into your identity provider without a failed request."</p>
                {move || token_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                <TokenList tokens=tokens regenerate=regenerate revoke=revoke/>
            </section>
            <TokenDialog dialog=dialog shown=shown create=create default_label=default_label/>
        </OrgLayout>
    }
}

/// Opens the token dialog on its form (any secret shown before is forgotten).
#[component]
fn NewTokenButton(
    dialog: RwSignal<bool>,
    shown: RwSignal<Option<NewTokenView>>,
    #[prop(optional, into)] label: Option<String>,
) -> impl IntoView {
    let label = label.unwrap_or_else(|| "New token".into());
    // Until the page is hydrated a click would do nothing: say so by being disabled.
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));
    view! {
        <button type="button" class="btn btn-primary btn-small" data-testid="open-token-dialog" data-needs-script="true" disabled=move || !hydrated.get() on:click=move |_| {
            shown.set(None);
            dialog.set(true);
        }>{label}</button>
    }
}

/// The dialog that generates a token and shows its secret once, with a copy button.
#[component]
fn TokenDialog(
    dialog: RwSignal<bool>,
    shown: RwSignal<Option<NewTokenView>>,
    create: ServerAction<CreateToken>,
    default_label: Signal<String>,
) -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let close = move || {
        // Forget the secret: closing the dialog is the end of "shown once".
        shown.set(None);
        create.value().set(None);
        dialog.set(false);
    };
    let error = move || {
        create
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    view! {
        <Show when=move || dialog.get()>
            <div class="dialog-backdrop">
                <div class="dialog card" role="dialog" aria-modal="true" aria-labelledby="token-dialog-title" data-testid="token-dialog"
                    on:keydown=move |ev| if ev.key() == "Escape" { close() }>
                    {move || match shown.get() {
                        Some(n) => view! {
                            <h2 id="token-dialog-title">"Your new SCIM token"</h2>
                            <SecretReveal title="Copy this token now. It will not be shown again." secret=n.secret.clone() testid="new-token" secret_testid="token-secret">
                                <p class="muted">{format!("Label: {} · {}", n.token.label, n.token.hint)}</p>
                                {n.old_stops_at.map(|at| if at <= crate::console::pages::now_ms() {
                                    view! { <p data-testid="old-token-stops">"The old token stopped working."</p> }.into_any()
                                } else {
                                    view! { <p data-testid="old-token-stops">"The old token stops working at "<Time ms=at/>". Paste the new one into your identity provider before then."</p> }.into_any()
                                })}
                            </SecretReveal>
                            <div class="form-actions">
                                <button type="button" class="btn btn-primary" on:click=move |_| close()>"Done, I copied it"</button>
                            </div>
                        }.into_any(),
                        None => view! {
                            <h2 id="token-dialog-title">"Generate a SCIM token"</h2>
                            <ActionForm action=create attr:class="form">
                                <input type="hidden" name="org" value=org/>
                                <label for="label">"Label"</label>
                                <input id="label" name="label" required placeholder="Okta production" maxlength="100" autofocus value=move || default_label.get()/>
                                <label for="expires_in_days">"Expires in (days, optional)"</label>
                                <input id="expires_in_days" name="expires_in_days" type="number" min="1" max="3650" placeholder="never"/>
                                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                                <div class="form-actions">
                                    <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>"Generate token"</button>
                                    <button type="button" class="btn btn-ghost" on:click=move |_| close()>"Cancel"</button>
                                </div>
                            </ActionForm>
                        }.into_any(),
                    }}
                </div>
            </div>
        </Show>
    }
}

/// The token list; revoked and expired tokens are hidden unless asked for (with a count).
#[component]
fn TokenList(
    tokens: Resource<Result<Vec<TokenView>, ServerFnError>>,
    regenerate: ServerAction<RegenerateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    let show_all = RwSignal::new(false);
    let dead = |t: &TokenView| t.state == "revoked" || t.state == "expired";
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match tokens.await {
                    Ok(list) if list.is_empty() => view! {
                        <Empty title="No token yet">"Generate one in the steps above (or with New token), then paste it into your identity provider."</Empty>
                    }.into_any(),
                    Ok(list) => {
                        let hidden = list.iter().filter(|t| dead(t)).count();
                        let list = StoredValue::new(list);
                        // Built as separate erased views: one nested view type of all three
                        // overflows the compiler's query depth on wasm.
                        let toggle = (hidden > 0).then(|| view! {
                            <label class="check toggle" data-testid="show-dead-tokens">
                                <input type="checkbox" prop:checked=move || show_all.get() on:change=move |ev| show_all.set(event_target_checked(&ev))/>
                                {format!(" Show revoked and expired tokens ({hidden})")}
                            </label>
                        }.into_any());
                        let rows = move || {
                            list.get_value()
                                .into_iter()
                                .filter(|t| show_all.get() || !dead(t))
                                .map(|t| view! { <TokenRow token=t regenerate=regenerate revoke=revoke/> })
                                .collect_view()
                        };
                        let table = view! {
                            <table class="table" data-testid="tokens">
                                <thead><tr><th>"Label"</th><th>"Token"</th><th>"Created"</th><th>"Last used"</th><th>"Expires"</th><th>"State"</th><th></th></tr></thead>
                                <tbody>{rows}</tbody>
                            </table>
                        }.into_any();
                        let none_live = move || (!show_all.get() && hidden == list.with_value(|l| l.len())).then(|| view! {
                            <p class="muted" data-testid="no-live-tokens">"No token works now: generate a new one."</p>
                        });
                        view! { {toggle} {table} {none_live} }.into_any()
                    }
                    Err(e) => view! { <LoadError error=e/> }.into_any(),
                }
            })}
        </Transition>
    }
}

#[component]
fn TokenRow(
    token: TokenView,
    regenerate: ServerAction<RegenerateToken>,
    revoke: ServerAction<RevokeToken>,
) -> AnyView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let confirm = RwSignal::new(None::<&'static str>);
    // The overlap offered first is an hour: regenerating is mostly routine rotation, and
    // "none" (a leaked token) is one choice away.
    let overlap = RwSignal::new("1h".to_string());
    let usable = token.state == "active" || token.state == "replaced";
    let can_regenerate = token.state == "active";
    let id = StoredValue::new(token.id.clone());
    let row_class = if usable { "" } else { "row-muted" };
    view! {
        <tr class=row_class>
            <td>{token.label.clone()}</td>
            <td><code>{token.hint.clone()}</code></td>
            <td>
                <Time ms=token.created_at/>
                {token.created_by.clone().map(|b| view! { <span class="muted">{format!(" by {b}")}</span> })}
            </td>
            <td>{match token.last_used_at { Some(t) => view! { <Time ms=t/> }.into_any(), None => view! { <span class="muted">"never"</span> }.into_any() }}</td>
            <td>{match token.expires_at { Some(t) => view! { <Time ms=t/> }.into_any(), None => view! { <span class="muted">"never"</span> }.into_any() }}</td>
            <td>
                <span class=format!("badge badge-{}", token.state)>{token.state.clone()}</span>
                {(token.state == "replaced").then(|| token.expires_at.map(|t| view! {
                    <div class="small muted">"old token stops working at "<Time ms=t/></div>
                }))}
            </td>
            <td class="actions">
                <Show when=move || usable>
                    {move || match confirm.get() {
                        None => view! {
                            {can_regenerate.then(|| view! {
                                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(Some("regenerate"))>"Regenerate"</button>
                            })}
                            <button type="button" class="btn btn-danger btn-small" on:click=move |_| confirm.set(Some("revoke"))>"Revoke"</button>
                        }.into_any(),
                        Some("revoke") => view! {
                            <span class="confirm">
                                "Revoke now? Requests with it fail at once. "
                                <button type="button" class="btn btn-danger btn-small" on:click=move |_| {
                                    revoke.dispatch(RevokeToken { org: org(), token_id: id.get_value() });
                                    confirm.set(None);
                                }>"Confirm revoke"</button>
                                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(None)>"Cancel"</button>
                            </span>
                        }.into_any(),
                        Some(_) => view! {
                            <span class="confirm">
                                <label>
                                    "Replace it; the old secret keeps working for "
                                    <select aria-label="Overlap" on:change=move |ev| overlap.set(event_target_value(&ev)) prop:value=move || overlap.get()>
                                        <option value="none">"no time (stops at once)"</option>
                                        <option value="1h">"1 hour"</option>
                                        <option value="24h">"24 hours"</option>
                                    </select>
                                    " "
                                </label>
                                <button type="button" class="btn btn-danger btn-small" on:click=move |_| {
                                    regenerate.dispatch(RegenerateToken { org: org(), token_id: id.get_value(), overlap: Some(overlap.get_untracked()) });
                                    confirm.set(None);
                                }>"Confirm regenerate"</button>
                                <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(None)>"Cancel"</button>
                            </span>
                        }.into_any(),
                    }}
                </Show>
            </td>
        </tr>
    }
    .into_any()
}

/// The live status: polls the server every few seconds (like the provisioning log), so
/// the page turns "connected" when the identity provider's first request arrives.
#[component]
fn LiveStatus(idp: Memo<Option<Idp>>) -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let tick = RwSignal::new(0u64);
    let status = Resource::new(move || (org(), tick.get()), |(o, _)| connection_status(o));
    Effect::new(move |_| {
        if let Ok(handle) = set_interval_with_handle(move || tick.update(|t| *t += 1), STATUS_POLL)
        {
            on_cleanup(move || handle.clear());
        }
    });
    let who = move || {
        idp.get()
            .filter(|i| *i != Idp::Other)
            .map(|i| i.name())
            .unwrap_or("your identity provider")
    };
    view! {
        <section class="card connect-step" data-testid="connection">
            <h2><span class="step-no">"3"</span>" Check the connection"</h2>
            <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match status.await {
                        Ok(s) => match s.first_request_at {
                            None => view! {
                                <div class="conn conn-waiting" role="status" data-testid="connection-status">
                                    <span class="conn-dot" aria-hidden="true"></span>
                                    <strong>{format!("Waiting for the first request from {}…", who())}</strong>
                                    <p class="muted">"This updates by itself. Testing the connection in your identity provider (Test Connector Configuration, Test Connection) sends one."</p>
                                </div>
                            }.into_any(),
                            Some(first) => {
                                let provider = s.provider.clone().unwrap_or_else(|| "Your identity provider".into());
                                let (users, groups) = (s.users, s.groups);
                                view! {
                                    <div class="conn conn-connected" role="status" data-testid="connection-status">
                                        <span class="conn-dot" aria-hidden="true"></span>
                                        <strong>{format!("Connected: {provider} reached scimgate.")}</strong>
                                        <p>"First request "<Time ms=first/>
                                            {s.last_request_at.map(|l| view! { ", latest "<Time ms=l/> })}
                                            "."
                                        </p>
                                        <p data-testid="connection-counts">
                                            {format!(
                                                "{users} {} and {groups} {} provisioned so far.",
                                                if users == 1 { "user" } else { "users" },
                                                if groups == 1 { "group" } else { "groups" },
                                            )}
                                        </p>
                                    </div>
                                    {(!s.recent.is_empty()).then(|| view! {
                                        <table class="table compact" data-testid="connection-recent">
                                            <thead><tr><th>"Time"</th><th>"Request"</th><th>"Status"</th><th>"What happened"</th></tr></thead>
                                            <tbody>
                                                {s.recent.iter().map(|e| view! {
                                                    <tr>
                                                        <td><Time ms=e.occurred_at/></td>
                                                        <td><code>{format!("{} {}", e.method, e.path)}</code></td>
                                                        <td><StatusPill status=e.status/></td>
                                                        <td>{e.summary.clone().unwrap_or_default()}</td>
                                                    </tr>
                                                }).collect_view()}
                                            </tbody>
                                        </table>
                                    })}
                                }.into_any()
                            }
                        },
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Transition>
        </section>
    }
}

/// The role-mapping step: how to send the role, and which values this org accepts.
fn role_mapping(roles: &[String], how: &str) -> String {
    let values = if roles.is_empty() {
        "Any role name is accepted (set allowed roles under Advanced settings to restrict them)."
            .to_string()
    } else {
        format!(
            "Allowed values: {}; any other value is refused.",
            roles.join(", ")
        )
    };
    format!("Role mapping (optional): {how} {values}")
}

/// One provider's steps, in order, with the names its admin console uses.
#[component]
fn Steps(
    idp: Idp,
    base: String,
    identifier: String,
    roles: Vec<String>,
    dialog: RwSignal<bool>,
    shown: RwSignal<Option<NewTokenView>>,
) -> impl IntoView {
    let by_email = identifier == "email";
    let copy = |label: &'static str, value: String| {
        view! {
            <div class="copy-row">
                <span>{label}</span>
                <code class="url" data-testid="connect-base-url">{value.clone()}</code>
                <CopyButton text=value/>
            </div>
        }
    };
    let token = move |field: &'static str| {
        view! {
            <div class="copy-row">
                <span>{field}</span>
                <NewTokenButton dialog=dialog shown=shown label="Generate token…"/>
                <span class="muted small">"shown once, with a copy button"</span>
            </div>
        }
    };
    let steps = match idp {
        Idp::Okta => view! {
            <ol class="steps" data-testid="steps-okta">
                <li>"In the Okta Admin Console, open your app (Applications → Applications). On the General tab, click Edit under App Settings, check Enable SCIM provisioning, and Save."</li>
                <li>"On the Provisioning tab, under Integration, click Edit."
                    {copy("SCIM connector base URL: ", base.clone())}</li>
                <li>"Unique identifier field for users: " <code>{if by_email { "email" } else { "userName" }}</code></li>
                <li>"Supported provisioning actions: check Import New Users and Profile Updates, Push New Users, Push Profile Updates and Push Groups. Leave Import Groups unchecked."</li>
                <li>"Authentication Mode: HTTP Header. Paste a token into Authorization (Bearer):"
                    {token("Token: ")}</li>
                <li>"Click Test Connector Configuration, then Save."</li>
                <li>"Under Provisioning → To App, click Edit and enable Create Users, Update User Attributes and Deactivate Users (leave Sync Password off). Save."</li>
                <li>"Assign people on the Assignments tab. For teams, open the Push Groups tab: Push Groups → Find groups by name."</li>
                <li>{role_mapping(&roles, "In the app's Profile Editor, add an attribute with external name \"role\"; any external namespace works: urn:ietf:params:scim:schemas:core:2.0:User (Okta's default), role, or urn:ietf:params:scim:schemas:extension:scimgate:2.0:User. A primary value of the standard \"roles\" attribute is read too.")}</li>
            </ol>
        }.into_any(),
        Idp::Entra => {
            let tenant = format!("{base}?aadOptscim062020");
            view! {
                <ol class="steps" data-testid="steps-entra">
                    <li>"In the Microsoft Entra admin center: Enterprise applications → New application → Create your own application → Integrate any other application you don't find in the gallery (Non-gallery)."</li>
                    <li>"Open Provisioning → Get started. Provisioning Mode: Automatic."</li>
                    <li>"Under Admin Credentials:" {copy("Tenant URL: ", tenant)}</li>
                    <li>{token("Secret Token: ")}</li>
                    <li>"Click Test Connection, then Save."</li>
                    <li>"Under Mappings, keep Provision Microsoft Entra ID Users (userName from userPrincipalName, or mail) and enable Provision Microsoft Entra ID Groups if you want teams."</li>
                    <li>"Under Settings, Scope: Sync only assigned users and groups. Set Provisioning Status to On and Save. Assign people and groups under Users and groups; Provision on demand sends one person at once (the regular cycle runs about every 40 minutes)."</li>
                    <li>{role_mapping(&roles, "Add a mapping from SingleAppRoleAssignment([appRoleAssignments]) to the target attribute roles[primary eq \"True\"].value, and give the app roles those names.")}</li>
                </ol>
            }.into_any()
        }
        Idp::OneLogin => view! {
            <ol class="steps" data-testid="steps-onelogin">
                <li>"In OneLogin Administration: Applications → Add App, find SCIM Provisioner with SAML (SCIM v2 Enterprise), and Save."</li>
                <li>"On the Configuration tab:" {copy("SCIM Base URL: ", base.clone())}</li>
                <li>{token("SCIM Bearer Token: ")}</li>
                <li>{format!("SCIM JSON Template: keep OneLogin's default; its \"userName\" is what scimgate matches people on{}.", if by_email { " (this org matches on email: send the email there)" } else { "" })}</li>
                <li>"Under API Connection, click Enable, then Save."</li>
                <li>"On the Provisioning tab, check Enable provisioning; clear the admin-approval boxes for Create user, Delete user and Update user so changes flow at once; when users are deleted or lose access: Suspend. Save."</li>
                <li>"For teams: on the Parameters tab, open Groups and check Include in User Provisioning. Then give people the app on the Users tab or through roles."</li>
            </ol>
        }.into_any(),
        Idp::JumpCloud => view! {
            <ol class="steps" data-testid="steps-jumpcloud">
                <li>"In the JumpCloud Admin Portal: SSO Applications → + Add New Application → Custom Application, with Export users to this app (Identity Management) selected."</li>
                <li>"Open the app's Identity Management tab and choose SCIM 2.0." {copy("Base URL: ", base.clone())}</li>
                <li>{token("Token Key: ")}</li>
                <li>"Click Test Connection, then Activate, then Save."</li>
                <li>"For teams, turn on Group Management. Bind user groups to the app on its User Groups tab: their people are provisioned."</li>
            </ol>
        }.into_any(),
        Idp::Other => view! {
            <ol class="steps" data-testid="steps-other">
                <li>"Point your SCIM 2.0 client at:" {copy("Base URL: ", base.clone())}</li>
                <li>"Send the token in the Authorization header as Bearer <token>." {token("Token: ")}</li>
                <li>{format!("People are matched on {}. Users: create, replace, PATCH, deactivate (active=false), delete. Groups with members: create, PATCH, delete. Filters: eq on userName, externalId, emails.", if by_email { "email" } else { "userName" })}</li>
                <li>"Test it: GET /Users?count=1 with the token answers 200."</li>
            </ol>
        }.into_any(),
    };
    view! {
        {steps}
        <p class="muted small">"Then check the connection below: it turns to connected by itself."</p>
    }
}
