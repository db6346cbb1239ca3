//! Invitations from the invited person's side: answering them after sign-in, and joining
//! with a one-time code when there is no account yet.

use crate::console::api::{pending_invitations, AnswerInvitation, JoinOrg};
use crate::console::widgets::Time;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn Invitations() -> impl IntoView {
    let answer = ServerAction::<AnswerInvitation>::new();
    let list = Resource::new(move || answer.version().get(), |_| pending_invitations());
    let error = move || {
        answer
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    view! {
        <Title text="Invitations"/>
        <main class="auth-page">
            <div class="card auth-card">
                <h1>"Invitations"</h1>
                <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
                    {move || Suspend::new(async move {
                        match list.await {
                            Ok(items) if items.is_empty() => view! {
                                <p>"No invitations are waiting for you. "<a href="/">"Go to the console"</a></p>
                            }.into_any(),
                            Ok(items) => view! {
                                <p class="muted">"You were invited to administer these organizations. To accept, enter the one-time code the inviting admin gave you; nothing changes until you do."</p>
                                <ul class="invitations" data-testid="invitations">
                                    {items.into_iter().map(|i| {
                                        let d = i.id.clone();
                                        let field = format!("code-{}", i.id);
                                        view! {
                                            <li>
                                                <strong>{i.org.name.clone()}</strong>" ("{i.org.login.clone()}")"
                                                <span class="muted">" · invited by "{i.invited_by.clone()}" · expires "<Time ms=i.expires_at/></span>
                                                <ActionForm action=answer attr:class="form form-row">
                                                    <input type="hidden" name="id" value=i.id.clone()/>
                                                    <input type="hidden" name="accept" value="true"/>
                                                    <label for=field.clone()>"Invitation code"</label>
                                                    <input id=field name="code" autocomplete="one-time-code" required/>
                                                    <button type="submit" class="btn btn-primary btn-small">"Accept"</button>
                                                    <button type="button" class="btn btn-ghost btn-small" on:click=move |_| { answer.dispatch(AnswerInvitation { id: d.clone(), accept: false, code: String::new() }); }>"Decline"</button>
                                                </ActionForm>
                                            </li>
                                        }
                                    }).collect_view()}
                                </ul>
                                <p><a href="/">"Decide later"</a></p>
                            }.into_any(),
                            Err(e) if super::is_signed_out(&e) => view! { <Redirect path="/sign-in"/> }.into_any(),
                            Err(e) => view! { <p class="form-error">{super::message(&e)}</p> }.into_any(),
                        }
                    })}
                </Transition>
                {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
            </div>
        </main>
    }
}

#[component]
pub fn Join() -> impl IntoView {
    let action = ServerAction::<JoinOrg>::new();
    let error = move || {
        action
            .value()
            .get()
            .and_then(|r| r.err())
            .map(|e| super::message(&e))
    };
    view! {
        <Title text="Join an organization"/>
        <main class="auth-page">
            <div class="card auth-card">
                <h1>"Join an organization"</h1>
                <p class="muted">"Enter the one-time code the inviting admin gave you. If you already use scimgate, enter your current password; otherwise choose one."</p>
                <ActionForm action=action attr:class="form">
                    <label for="join_email">"Email"</label>
                    <input id="join_email" type="email" name="email" autocomplete="username" required/>
                    <label for="join_code">"Invitation code"</label>
                    <input id="join_code" name="code" autocomplete="one-time-code" required/>
                    <label for="join_password">"Password"</label>
                    <input id="join_password" type="password" name="password" autocomplete="new-password" minlength="12" required aria-describedby="join_password_help"/>
                    <small id="join_password_help" class="help">"At least 12 characters."</small>
                    {move || error().map(|e| view! { <p class="form-error" role="alert">{e}</p> })}
                    <button type="submit" class="btn btn-primary" disabled=move || action.pending().get()>"Join"</button>
                </ActionForm>
            </div>
        </main>
    }
}
