//! User use cases: create, read, list, replace, patch, delete.

use super::log::RequestLog;
use super::render::diff;
use super::schemas::{role_of, REGISTRY};
use super::{feed_for, feed_of, store_error, ScimContext};
use crate::directory::{feed, new_id, now_ms, scim_source, Change, ChangeKind, Org, User};
use crate::scim::list::ListParams;
use crate::scim::patch::{apply_patch, PatchOp};
use crate::scim::resource::canonicalize;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::store::{users, Store, StoreError, WriteFailed};
use serde_json::{json, Map, Value};

/// Optimistic-concurrency retries when two writers race on one user (PostgreSQL).
const RETRIES: usize = 5;

fn validate(org: &Org, attrs: &Map<String, Value>) -> Result<(), ScimError> {
    crate::scim::patch::check_resource_size(attrs)?;
    match attrs.get("userName").and_then(Value::as_str) {
        Some(u) if !u.trim().is_empty() => {}
        _ => {
            return Err(ScimError::invalid_value(
                "'userName' is required and must be a non-empty string",
            ))
        }
    }
    if let Some(role) = role_of(attrs) {
        if !org.allowed_roles.is_empty() && !org.allowed_roles.iter().any(|r| r == role) {
            return Err(ScimError::invalid_value(format!(
                "Role '{role}' is not one of this organization's roles: {}",
                org.allowed_roles.join(", ")
            )));
        }
    }
    Ok(())
}

fn conflict(e: StoreError, user_name: &str) -> ScimError {
    match e {
        StoreError::Conflict(_) => ScimError::uniqueness(format!(
            "userName '{user_name}' is already taken in this organization"
        )),
        other => store_error(other),
    }
}

fn change_for(before: &User, after: &User) -> Change {
    let kind = match (before.active, after.active) {
        (true, false) => ChangeKind::Deactivated,
        (false, true) => ChangeKind::Reactivated,
        _ => ChangeKind::Updated,
    };
    Change {
        resource_type: "User".into(),
        resource_id: after.id.clone(),
        resource_name: Some(after.user_name.clone()),
        kind,
        detail: Some(Value::Object(diff(&before.attributes, &after.attributes))),
    }
}

pub async fn create_user(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    body: &Value,
) -> Result<User, ScimError> {
    let attrs = canonicalize(&REGISTRY, ResourceKind::User, body)?;
    validate(&ctx.org, &attrs)?;
    let now = now_ms();
    let cols = crate::directory::UserColumns::from_attributes(&attrs);
    let user = User {
        id: new_id(),
        org_id: ctx.org.id.clone(),
        user_name: cols.user_name.clone(),
        external_id: cols.external_id,
        display_name: cols.display_name,
        active: cols.active,
        attributes: attrs,
        source: scim_source(&ctx.client),
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let change = Change {
        resource_type: "User".into(),
        resource_id: user.id.clone(),
        resource_name: Some(user.user_name.clone()),
        kind: ChangeKind::Created,
        detail: Some(Value::Object(diff(&Map::new(), &user.attributes))),
    };
    let role = role_of(&user.attributes);
    let outbox = feed_for(store.backend(), ctx, &[feed::user_created(&user, role)]);
    // The user's rows, its log entry and its change event in one write: a taken userName
    // fails it and nothing of it is kept.
    log.create_and_write(
        store,
        &ctx.org.id,
        &users::insert_user_statements(store.backend(), &user),
        201,
        Some(format!("created user {}", user.user_name)),
        vec![change],
        outbox,
    )
    .await
    .map_err(|e| match e {
        WriteFailed::Statements(e) => conflict(users::user_conflict(e), &user.user_name),
        WriteFailed::Commit(e) => store_error(e),
    })?;
    log.mark_written();
    Ok(user)
}

pub async fn get_user(store: &Store, ctx: &ScimContext, id: &str) -> Result<User, ScimError> {
    store
        .find_user(&ctx.org.id, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ScimError::not_found(format!("User {id} not found")))
}

pub async fn list_users(
    store: &Store,
    ctx: &ScimContext,
    p: &ListParams,
) -> Result<(i64, Vec<User>), ScimError> {
    let q = super::list_query(ResourceKind::User, p)?;
    store.page_users(&ctx.org.id, &q).await.map_err(store_error)
}

/// How a write derives the new body from the stored user.
pub enum UserWrite<'a> {
    Replace(&'a Value),
    Patch(&'a [PatchOp]),
}

/// PUT and PATCH: read → compute in memory → write if the version is unchanged.
pub async fn write_user(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    id: &str,
    write: UserWrite<'_>,
    if_match: Option<i64>,
) -> Result<User, ScimError> {
    let replacement = match &write {
        UserWrite::Replace(body) => {
            if let Some(body_id) = body.get("id").and_then(Value::as_str) {
                if body_id != id {
                    return Err(ScimError::mutability(
                        "'id' in the body differs from the id in the URL",
                    ));
                }
            }
            let attrs = canonicalize(&REGISTRY, ResourceKind::User, body)?;
            validate(&ctx.org, &attrs)?;
            Some(attrs)
        }
        UserWrite::Patch(_) => None,
    };
    for _ in 0..RETRIES {
        let mut tx = store.begin_user(&ctx.org.id).await.map_err(store_error)?;
        let current = users::find_user(&mut tx, &ctx.org.id, id)
            .await
            .map_err(store_error)?
            .ok_or_else(|| ScimError::not_found(format!("User {id} not found")))?;
        if if_match.is_some_and(|v| v != current.version) {
            return Err(ScimError::precondition_failed());
        }
        let attrs = match &write {
            // Validated above, before the transaction.
            UserWrite::Replace(_) => replacement.clone().unwrap_or_default(),
            UserWrite::Patch(ops) => {
                let mut a = current.attributes.clone();
                apply_patch(&REGISTRY, ResourceKind::User, &mut a, ops)?;
                validate(&ctx.org, &a)?;
                a
            }
        };
        let new_user_name = attrs
            .get("userName")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        if ctx.org.user_name_immutable && new_user_name != current.user_name {
            return Err(ScimError::mutability(
                "userName cannot be changed in this organization",
            ));
        }
        let mut updated = current.clone();
        let cols = crate::directory::UserColumns::from_attributes(&attrs);
        updated.user_name = cols.user_name;
        updated.external_id = cols.external_id;
        updated.display_name = cols.display_name;
        updated.active = cols.active;
        updated.attributes = attrs;
        updated.updated_at = now_ms();
        updated.version = current.version + 1;
        match users::update_user(&mut tx, &updated, current.version, Some(&current)).await {
            Ok(()) => {}
            Err(StoreError::VersionMismatch) if if_match.is_none() => continue,
            Err(e) => return Err(conflict(e, &updated.user_name)),
        }
        let events = feed::user_updated(
            &current,
            role_of(&current.attributes),
            &updated,
            role_of(&updated.attributes),
        );
        let outbox = feed_of(&tx, ctx, &events);
        let change = change_for(&current, &updated);
        let summary = format!("{} user {}", change.kind.as_str(), updated.user_name);
        log.write_in(&mut tx, 200, Some(summary), vec![change], outbox)
            .await
            .map_err(store_error)?;
        tx.commit().await.map_err(store_error)?;
        log.mark_written();
        return Ok(updated);
    }
    Err(ScimError::new(
        409,
        None,
        "The user is being changed concurrently; retry the request",
    ))
}

pub async fn delete_user(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), ScimError> {
    let mut tx = store.begin_user(&ctx.org.id).await.map_err(store_error)?;
    let current = users::find_user(&mut tx, &ctx.org.id, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| ScimError::not_found(format!("User {id} not found")))?;
    if if_match.is_some_and(|v| v != current.version) {
        return Err(ScimError::precondition_failed());
    }
    let teams = users::list_user_groups(&mut tx, id)
        .await
        .map_err(store_error)?;
    let groups = users::delete_user(&mut tx, &ctx.org.id, id)
        .await
        .map_err(store_error)?;
    // The application hears the memberships end before the user goes.
    let me = [crate::directory::Member {
        user_id: current.id.clone(),
        user_name: current.user_name.clone(),
        display_name: current.display_name.clone(),
    }];
    let mut events: Vec<feed::NewChange> = teams
        .iter()
        .flat_map(|(tid, tname)| {
            feed::membership(feed::EventType::TeamMemberRemoved, tid, tname, &me)
        })
        .collect();
    events.push(feed::user_deleted(&current, role_of(&current.attributes)));
    let outbox = feed_of(&tx, ctx, &events);
    let change = Change {
        resource_type: "User".into(),
        resource_id: id.to_string(),
        resource_name: Some(current.user_name.clone()),
        kind: ChangeKind::Deleted,
        detail: Some(json!({"groups": groups})),
    };
    log.write_in(
        &mut tx,
        204,
        Some(format!("deleted user {}", current.user_name)),
        vec![change],
        outbox,
    )
    .await
    .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    log.mark_written();
    Ok(())
}
