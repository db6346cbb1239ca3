//! Users an admin makes or changes by hand in the console. Users an identity provider
//! manages are changed there, not here.

use super::{Actor, ManagementError, Result};
use crate::directory::query::{Cond, Op, Target, Val};
use crate::directory::{feed, new_id, now_ms, provider_of, validate_email, User, UserColumns};
use crate::provisioning::schemas::role_of;
use crate::store::{users, Store, StoreError};

pub async fn create_user(
    store: &Store,
    actor: &Actor,
    user_name: &str,
    display_name: &str,
    email: &str,
) -> Result<User> {
    let user_name = user_name.trim();
    if user_name.is_empty() {
        return Err(ManagementError::Invalid("A username is required.".into()));
    }
    let mut attrs = serde_json::Map::new();
    attrs.insert("userName".into(), user_name.into());
    attrs.insert("active".into(), true.into());
    if !display_name.trim().is_empty() {
        attrs.insert("displayName".into(), display_name.trim().into());
    }
    if !email.trim().is_empty() {
        validate_email(email.trim()).map_err(ManagementError::Invalid)?;
        attrs.insert(
            "emails".into(),
            serde_json::json!([{"value": email.trim(), "type": "work", "primary": true}]),
        );
    }
    let cols = UserColumns::from_attributes(&attrs);
    let now = now_ms();
    let u = User {
        id: new_id(),
        org_id: actor.org.id.clone(),
        user_name: cols.user_name,
        external_id: None,
        display_name: cols.display_name,
        active: true,
        attributes: attrs,
        source: crate::directory::SOURCE_CONSOLE.into(),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin_user(&actor.org.id).await?;
    users::insert_user(&mut tx, &u).await.map_err(|e| match e {
        StoreError::Conflict(_) => {
            ManagementError::Conflict("A user with this username already exists.".into())
        }
        other => other.into(),
    })?;
    actor
        .record(&mut tx, &[feed::user_created(&u, None)])
        .await?;
    actor
        .audit(&mut tx, "user created", Some(user_name), None)
        .await?;
    tx.commit().await?;
    Ok(u)
}

pub async fn update_user(
    store: &Store,
    actor: &Actor,
    id: &str,
    display_name: &str,
    active: bool,
) -> Result<()> {
    let mut tx = store.begin_user(&actor.org.id).await?;
    let mut u = users::find_user(&mut tx, &actor.org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("User not found."))?;
    if let Some(by) = provider_of(&u.source) {
        return Err(ManagementError::Forbidden(format!(
            "This user is managed by {by}; change it there."
        )));
    }
    let before = u.clone();
    let version = u.version;
    if display_name.trim().is_empty() {
        u.attributes.remove("displayName");
    } else {
        u.attributes
            .insert("displayName".into(), display_name.trim().into());
    }
    u.attributes.insert("active".into(), active.into());
    u.updated_at = now_ms();
    u.active = active;
    u.display_name = UserColumns::from_attributes(&u.attributes).display_name;
    u.version = version + 1;
    users::update_user(&mut tx, &u, version, None).await?;
    let role = role_of(&u.attributes);
    actor
        .record(&mut tx, &feed::user_updated(&before, role, &u, role))
        .await?;
    actor
        .audit(
            &mut tx,
            "user updated",
            Some(&u.user_name),
            Some(&format!("active={active}")),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

/// What the console's user search asks for: `q`, whose every word must start a word of
/// the user's userName, displayName, name or emails (an index range per word, see
/// [`crate::store::search`], so it stays fast at 100,000 users), status (active,
/// deactivated) and source (scim, console).
pub fn search(org_id: &str, q: Option<&str>, status: Option<&str>, source: Option<&str>) -> Cond {
    let mut cond = Cond::All;
    if let Some(q) = q {
        let words = crate::store::search::query_words(q);
        if !words.is_empty() {
            cond = Cond::Words {
                org_id: org_id.to_string(),
                words,
                many: false,
            };
        }
    }
    let active = match status {
        Some("active") => Some(true),
        Some("deactivated") => Some(false),
        _ => None,
    };
    if let Some(a) = active {
        cond = and(cond, Cond::Test(Target::Active, Op::Eq, Val::Bool(a)));
    }
    match source {
        Some("scim") => {
            cond = and(
                cond,
                Cond::Test(Target::Source, Op::Sw, Val::Str("scim:".into())),
            )
        }
        Some("console") => {
            cond = and(
                cond,
                Cond::Test(
                    Target::Source,
                    Op::Eq,
                    Val::Str(crate::directory::SOURCE_CONSOLE.into()),
                ),
            )
        }
        _ => {}
    }
    cond
}

pub(super) fn and(a: Cond, b: Cond) -> Cond {
    Cond::And(Box::new(a), Box::new(b))
}
