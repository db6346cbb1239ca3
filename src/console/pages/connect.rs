//! Connect: the SCIM base URL, provisioning settings, SCIM tokens (secret shown once), and
//! what to set in Okta and Entra ID.

use crate::console::api::{
    connect_info, list_tokens, CreateToken, RegenerateToken, RevokeToken, UpdateSettings,
};
use crate::console::layout::{LoadError, OrgLayout};
use crate::console::widgets::{CopyButton, Empty, Time};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn Connect() -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
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
    // The secret lives only in the action's result in this page's memory: a reload or the
    // back button cannot show it again.
    let secret = move || {
        regenerate
            .value()
            .get()
            .and_then(|r| r.ok())
            .or_else(|| create.value().get().and_then(|r| r.ok()))
    };
    let create_error = move || {
        create
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    view! {
        <Title text="Connect"/>
        <OrgLayout login=org() active="connect">
            <h1>"Connect your identity provider"</h1>
            <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
                {move || Suspend::new(async move {
                    match info.await {
                        Ok(c) => {
                            let by_user_name = c.unique_identifier == "userName";
                            let roles_text = c.allowed_roles.join(", ");
                            view! {
                            <section class="card">
                                <h2>"SCIM base URL"</h2>
                                <div class="copy-row">
                                    <code class="url" data-testid="connect-base-url">{c.scim_base_url.clone()}</code>
                                    <CopyButton text=c.scim_base_url.clone()/>
                                </div>
                            </section>
                            <section class="card">
                                <h2>"Provisioning settings"</h2>
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
                                    <button type="submit" class="btn btn-primary">"Save settings"</button>
                                </ActionForm>
                            </section>
                            <Instructions base=c.scim_base_url.clone() identifier=c.unique_identifier.clone() roles=c.allowed_roles.clone()/>
                        }.into_any()
                        }
                        Err(e) => view! { <LoadError error=e/> }.into_any(),
                    }
                })}
            </Suspense>
            <section class="card">
                <h2>"SCIM tokens"</h2>
                <p class="muted">"A token authenticates your identity provider. Its secret is shown once, when it is created; scimgate keeps only a hash."</p>
                <ActionForm action=create attr:class="form form-row">
                    <input type="hidden" name="org" value=org/>
                    <label for="label">"Label"</label>
                    <input id="label" name="label" required placeholder="Okta production" maxlength="100"/>
                    <label for="expires_in_days">"Expires in (days, optional)"</label>
                    <input id="expires_in_days" name="expires_in_days" type="number" min="1" max="3650" placeholder="never"/>
                    <button type="submit" class="btn btn-primary" disabled=move || create.pending().get()>"Generate token"</button>
                </ActionForm>
                {move || create_error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                {move || secret().map(|n| view! {
                    <div class="secret" role="status" data-testid="new-token">
                        <p><strong>"Copy this token now. It will not be shown again."</strong></p>
                        <div class="copy-row">
                            <code class="url" data-testid="token-secret">{n.secret.clone()}</code>
                            <CopyButton text=n.secret.clone()/>
                        </div>
                        <p class="muted">{format!("Label: {} · {}", n.token.label, n.token.hint)}</p>
                    </div>
                })}
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match tokens.await {
                            Ok(list) if list.is_empty() => view! {
                                <Empty title="No token yet">"Generate one above, then paste it into Okta or Entra ID as the bearer token."</Empty>
                            }.into_any(),
                            Ok(list) => view! {
                                <table class="table" data-testid="tokens">
                                    <thead><tr><th>"Label"</th><th>"Token"</th><th>"Created"</th><th>"Last used"</th><th>"Expires"</th><th>"State"</th><th></th></tr></thead>
                                    <tbody>
                                        {list.into_iter().map(|t| view! { <TokenRow token=t regenerate=regenerate revoke=revoke/> }).collect_view()}
                                    </tbody>
                                </table>
                            }.into_any(),
                            Err(e) => view! { <LoadError error=e/> }.into_any(),
                        }
                    })}
                </Transition>
            </section>
        </OrgLayout>
    }
}

#[component]
fn TokenRow(
    token: crate::console::api::TokenView,
    regenerate: ServerAction<RegenerateToken>,
    revoke: ServerAction<RevokeToken>,
) -> impl IntoView {
    let params = use_params_map();
    let org = move || params.read().get("org").unwrap_or_default();
    let confirm = RwSignal::new(None::<&'static str>);
    let active = token.state == "active";
    let id = StoredValue::new(token.id.clone());
    let row_class = if active { "" } else { "row-muted" };
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
            <td><span class=format!("badge badge-{}", token.state)>{token.state.clone()}</span></td>
            <td class="actions">
                <Show when=move || active>
                    {move || match confirm.get() {
                        None => view! {
                            <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(Some("regenerate"))>"Regenerate"</button>
                            <button type="button" class="btn btn-danger btn-small" on:click=move |_| confirm.set(Some("revoke"))>"Revoke"</button>
                        }.into_any(),
                        Some(what) => {
                            view! {
                                <span class="confirm">
                                    {if what == "revoke" { "Revoke now? Requests with it fail at once. " } else { "Replace it? The old secret stops working at once. " }}
                                    <button type="button" class="btn btn-danger btn-small" on:click=move |_| {
                                        if what == "revoke" {
                                            revoke.dispatch(RevokeToken { org: org(), token_id: id.get_value() });
                                        } else {
                                            regenerate.dispatch(RegenerateToken { org: org(), token_id: id.get_value() });
                                        }
                                        confirm.set(None);
                                    }>{format!("Confirm {what}")}</button>
                                    <button type="button" class="btn btn-ghost btn-small" on:click=move |_| confirm.set(None)>"Cancel"</button>
                                </span>
                            }.into_any()
                        }
                    }}
                </Show>
            </td>
        </tr>
    }
}

/// The role-mapping step: how to send the role, and which values this org accepts.
fn role_mapping(roles: &[String], how: &str) -> String {
    let values = if roles.is_empty() {
        "Any role name is accepted (set allowed roles above to restrict them).".to_string()
    } else {
        format!(
            "Allowed values: {}; any other value is refused.",
            roles.join(", ")
        )
    };
    format!("Role mapping (optional): {how} {values}")
}

#[component]
fn Instructions(base: String, identifier: String, roles: Vec<String>) -> impl IntoView {
    let unique = if identifier == "email" {
        "Email"
    } else {
        "Username (userName)"
    };
    view! {
        <section class="card instructions">
            <h2>"Okta"</h2>
            <ol>
                <li>"In your app's General tab, enable SCIM provisioning. On the Provisioning tab, click Edit."</li>
                <li>"SCIM connector base URL: " <code>{base.clone()}</code> " " <CopyButton text=base.clone()/></li>
                <li>{format!("Unique identifier field for users: {unique}.")}</li>
                <li>"Supported provisioning actions: Import New Users and Profile Updates, Push New Users, Push Profile Updates, Push Groups."</li>
                <li>"Authentication Mode: HTTP Header. Paste a token from below as the Bearer token. Click Test Connector Configuration, then Save."</li>
                <li>"Under To App, enable Create Users, Update User Attributes and Deactivate Users."</li>
                <li>{role_mapping(&roles, "In the app's Profile Editor, add an attribute with external name \"role\"; any external namespace works: urn:ietf:params:scim:schemas:core:2.0:User (Okta's default), role, or urn:ietf:params:scim:schemas:extension:scimgate:2.0:User. A primary value of the standard \"roles\" attribute is read too.")}</li>
            </ol>
            <h2>"Microsoft Entra ID"</h2>
            <ol>
                <li>"Enterprise application → Provisioning → Provisioning Mode: Automatic."</li>
                <li>"Tenant URL: " <code>{format!("{base}?aadOptscim062020")}</code> " " <CopyButton text=format!("{base}?aadOptscim062020")/></li>
                <li>"Secret Token: paste a token from below, then Test Connection and Save."</li>
                <li>"Mappings: keep userName → userPrincipalName (or mail), and enable group provisioning if you want teams."</li>
                <li>{role_mapping(&roles, "Add a mapping from SingleAppRoleAssignment([appRoleAssignments]) to the target attribute roles[primary eq \"True\"].value, and give the app roles those names.")}</li>
            </ol>
        </section>
    }
}
