//! SCIM tokens: listed, created, regenerated and revoked. The answers that carry a secret
//! are never cached.

#[cfg(feature = "ssr")]
use super::guard::*;
use super::views::*;
#[cfg(feature = "ssr")]
use crate::management::tokens;
use leptos::prelude::*;

#[server]
pub async fn list_tokens(org: String) -> Result<Vec<TokenView>, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let list = tokens::list_tokens(&store(), &actor.org).await?;
        Ok(list.iter().map(token_view).collect())
    })
    .await
}

#[server]
pub async fn create_token(
    org: String,
    label: String,
    expires_in_days: Option<String>,
) -> Result<NewTokenView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let days = tokens::parse_expiry_days(expires_in_days.as_deref())?;
        let issued = tokens::issue(&store(), &actor, &label, days).await?;
        Ok(new_token_view(issued))
    })
    .await
}

/// `overlap`: `none` (the default), `1h` or `24h`: how long the old secret keeps working.
#[server]
pub async fn regenerate_token(
    org: String,
    token_id: String,
    overlap: Option<String>,
) -> Result<NewTokenView, ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        let overlap = tokens::Overlap::parse(overlap.as_deref())?;
        let r = tokens::regenerate(&store(), &actor, &token_id, overlap).await?;
        let mut view = new_token_view(r.issued);
        view.old_stops_at = Some(r.old_stops_at);
        Ok(view)
    })
    .await
}

#[server]
pub async fn revoke_token(org: String, token_id: String) -> Result<(), ServerFnError> {
    console(async move {
        let actor = org_admin(&org).await?;
        Ok(tokens::revoke(&store(), &actor, &token_id).await?)
    })
    .await
}

/// The one answer that shows a new secret: marked `no-store`.
#[cfg(feature = "ssr")]
fn new_token_view(issued: tokens::IssuedToken) -> NewTokenView {
    no_store();
    NewTokenView {
        token: token_view(&issued.token),
        secret: issued.secret,
        old_stops_at: None,
    }
}

#[cfg(feature = "ssr")]
pub(super) fn token_view(t: &crate::directory::ScimToken) -> TokenView {
    let state = t.state(crate::directory::now_ms());
    TokenView {
        id: t.id.clone(),
        label: t.label.clone(),
        hint: t.hint.clone(),
        created_by: t.created_by.clone(),
        created_at: t.created_at,
        last_used_at: t.last_used_at,
        expires_at: t.expires_at,
        state: state.into(),
    }
}
