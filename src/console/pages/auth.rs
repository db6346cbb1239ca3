//! First run, sign-in, and the front door that sends each visitor to the right one.

use crate::console::api::{session_info, FirstRun, SignIn as SignInFn, SIGN_IN_FAILED};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn Home() -> impl IntoView {
    let info = Resource::new(|| (), |_| session_info());
    view! {
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(v) if v.needs_setup => view! { <Redirect path="/setup"/> }.into_any(),
                    Ok(v) => match (v.admin_email, v.orgs.first()) {
                        (Some(_), Some(o)) => view! { <Redirect path=format!("/orgs/{}", o.login)/> }.into_any(),
                        (Some(email), None) => view! {
                            <main class="auth-page">
                                <div class="card auth-card">
                                    <h1>"No organization yet"</h1>
                                    <p>{format!("{email} does not belong to any organization. Ask an admin to add you.")}</p>
                                </div>
                            </main>
                        }.into_any(),
                        _ => view! { <Redirect path="/sign-in"/> }.into_any(),
                    },
                    Err(e) => view! { <p class="form-error">{super::message(&e)}</p> }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn SignIn() -> impl IntoView {
    let action = ServerAction::<SignInFn>::new();
    let failed = move || action.value().get().is_some_and(|r| r.is_err());
    view! {
        <Title text="Sign in"/>
        <main class="auth-page">
            <div class="card auth-card">
                <h1>"Sign in to scimgate"</h1>
                <p class="muted">"Manage SCIM provisioning for your organization."</p>
                <ActionForm action=action attr:class="form">
                    <label for="email">"Email"</label>
                    <input id="email" type="email" name="email" autocomplete="username" required/>
                    <label for="password">"Password"</label>
                    <input id="password" type="password" name="password" autocomplete="current-password" required/>
                    <Show when=failed>
                        <p class="form-error" role="alert" data-testid="sign-in-error">{SIGN_IN_FAILED}</p>
                    </Show>
                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>
                        {move || if action.pending().get() { "Signing in…" } else { "Sign in" }}
                    </button>
                </ActionForm>
                <p class="muted small">"Invited with a code and no account yet? "<a href="/join">"Join an organization"</a></p>
            </div>
        </main>
    }
}

#[component]
pub fn Setup() -> impl IntoView {
    let info = Resource::new(|| (), |_| session_info());
    let action = ServerAction::<FirstRun>::new();
    let error = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    view! {
        <Title text="Set up"/>
        <Suspense fallback=|| view! { <p class="loading">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match info.await {
                    Ok(v) if !v.needs_setup => view! { <Redirect path="/sign-in"/> }.into_any(),
                    _ => view! {
                        <main class="auth-page">
                            <div class="card auth-card">
                                <h1>"Welcome to scimgate"</h1>
                                <p class="muted">"Create your organization and its first admin. You can add more admins later."</p>
                                <ActionForm action=action attr:class="form">
                                    <label for="org_login">"Organization login"</label>
                                    // The server's rule (2–63 of a-z, 0-9, '-', no dash at either end). Browsers
                                    // compile `pattern` with the `v` flag, where a bare '-' in a class is an
                                    // invalid expression (and the check was skipped): it is escaped.
                                    <input id="org_login" name="org_login" required pattern="[a-z0-9][a-z0-9\\-]{0,61}[a-z0-9]" maxlength="63" placeholder="acme" aria-describedby="org_login_help"/>
                                    <small id="org_login_help" class="help">"Lowercase letters, digits and dashes. It becomes your SCIM URL: /scim/v2/acme"</small>
                                    <label for="org_name">"Display name"</label>
                                    <input id="org_name" name="org_name" placeholder="Acme Inc."/>
                                    <label for="email">"Your email"</label>
                                    <input id="email" type="email" name="email" autocomplete="username" required/>
                                    <label for="password">"Password"</label>
                                    <input id="password" type="password" name="password" autocomplete="new-password" minlength="12" required aria-describedby="password_help"/>
                                    <small id="password_help" class="help">"At least 12 characters."</small>
                                    {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>
                                        "Create organization"
                                    </button>
                                </ActionForm>
                            </div>
                        </main>
                    }.into_any(),
                }
            })}
        </Suspense>
    }
}

#[component]
pub fn NotFound() -> impl IntoView {
    view! {
        <Title text="Not found"/>
        <main class="auth-page">
            <div class="card auth-card">
                <h1>"Page not found"</h1>
                <p><a href="/">"Go to the console"</a></p>
            </div>
        </main>
    }
}
