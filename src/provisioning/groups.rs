//! Group use cases. Membership changes are applied as deltas inside one transaction that
//! first locks the group row, so concurrent PATCHes through different instances serialise
//! and none is lost.

use super::log::RequestLog;
use super::schemas::REGISTRY;
use super::{feed_of, store_error, ScimContext};
use crate::directory::feed::{self, EventType, NewChange};
use crate::directory::{new_id, now_ms, scim_source, Change, ChangeKind, Group, Member};
use crate::scim::list::ListParams;
use crate::scim::patch::{group_changes, member_ids, GroupChange, PatchOp};
use crate::scim::resource::canonicalize;
use crate::scim::schema::ResourceKind;
use crate::scim::ScimError;
use crate::store::{groups, users, Store, StoreError, Tx};
use serde_json::{json, Value};
use std::collections::HashSet;

fn conflict(e: StoreError, name: &str) -> ScimError {
    match e {
        StoreError::Conflict(_) => ScimError::uniqueness(format!(
            "A group named '{name}' already exists in this organization"
        )),
        other => store_error(other),
    }
}

fn not_found(id: &str) -> ScimError {
    ScimError::not_found(format!("Group {id} not found"))
}

fn members_of(body: &Value) -> Result<Vec<String>, ScimError> {
    let m = body
        .as_object()
        .and_then(|o| crate::scim::json::get_ci(o, "members"));
    member_ids(m)
}

fn display_name_of(attrs: &serde_json::Map<String, Value>) -> Result<String, ScimError> {
    match attrs
        .get("displayName")
        .and_then(Value::as_str)
        .map(str::trim)
    {
        Some(n) if !n.is_empty() => Ok(n.to_string()),
        _ => Err(ScimError::invalid_value(
            "'displayName' is required and must be a non-empty string",
        )),
    }
}

/// Skipped (unknown) member ids kept in a change's detail.
const SKIPPED_KEPT: usize = 100;

/// Accumulates the log entries of one request's membership changes.
#[derive(Default)]
struct Changes {
    added: Vec<String>,
    removed: Vec<String>,
    skipped: Vec<String>,
    other: Vec<Change>,
    /// Names of added and removed users the store returned with the change itself
    /// (PostgreSQL), saving a read for their events.
    names: Vec<crate::directory::Member>,
}

impl Changes {
    /// One feed event per member added or removed, naming the user and the team.
    async fn member_events(&self, tx: &mut Tx, g: &Group) -> Result<Vec<NewChange>, ScimError> {
        let mut out = Vec::new();
        let named: std::collections::HashMap<&str, &crate::directory::Member> =
            self.names.iter().map(|m| (m.user_id.as_str(), m)).collect();
        for (kind, ids) in [
            (EventType::TeamMemberRemoved, &self.removed),
            (EventType::TeamMemberAdded, &self.added),
        ] {
            if ids.is_empty() {
                continue;
            }
            let known: Vec<crate::directory::Member> = ids
                .iter()
                .filter_map(|id| named.get(id.as_str()).map(|m| (*m).clone()))
                .collect();
            let members = if known.len() == ids.len() {
                known
            } else {
                users::members_by_id(&mut *tx, &g.org_id, ids)
                    .await
                    .map_err(store_error)?
            };
            out.extend(feed::membership(kind, &g.id, &g.display_name, &members));
        }
        Ok(out)
    }

    fn into_vec(self, g: &Group) -> Vec<Change> {
        let mut out = self.other;
        for (kind, ids) in [
            (ChangeKind::MemberAdded, self.added),
            (ChangeKind::MemberRemoved, self.removed),
            (ChangeKind::MemberSkipped, self.skipped),
        ] {
            if !ids.is_empty() {
                // Added and removed ids are users of the org; skipped ones are whatever the
                // client sent, so only the first few (clipped) are kept, with the count.
                let detail = if kind == ChangeKind::MemberSkipped && ids.len() > SKIPPED_KEPT {
                    let kept: Vec<String> = ids
                        .iter()
                        .take(SKIPPED_KEPT)
                        .map(|i| crate::scim::filter::clip(i))
                        .collect();
                    json!({"members": kept, "count": ids.len()})
                } else if kind == ChangeKind::MemberSkipped {
                    let kept: Vec<String> =
                        ids.iter().map(|i| crate::scim::filter::clip(i)).collect();
                    json!({"members": kept})
                } else {
                    json!({"members": ids})
                };
                out.push(Change {
                    resource_type: "Group".into(),
                    resource_id: g.id.clone(),
                    resource_name: Some(g.display_name.clone()),
                    kind,
                    detail: Some(detail),
                });
            }
        }
        out
    }
}

async fn add(tx: &mut Tx, g: &Group, ids: &[String], ch: &mut Changes) -> Result<(), ScimError> {
    let (added, skipped) =
        groups::add_members_named(&mut *tx, &g.org_id, &g.id, ids, &mut ch.names)
            .await
            .map_err(store_error)?;
    ch.added.extend(added);
    ch.skipped.extend(skipped);
    Ok(())
}

async fn remove(tx: &mut Tx, g: &Group, ids: &[String], ch: &mut Changes) -> Result<(), ScimError> {
    let removed = groups::remove_members_named(&mut *tx, &g.id, ids, &mut ch.names)
        .await
        .map_err(store_error)?;
    ch.removed.extend(removed);
    Ok(())
}

async fn replace_members(
    tx: &mut Tx,
    g: &Group,
    ids: &[String],
    ch: &mut Changes,
) -> Result<(), ScimError> {
    let current: HashSet<String> = groups::list_member_ids(&mut *tx, &g.id)
        .await
        .map_err(store_error)?
        .into_iter()
        .collect();
    let wanted: HashSet<&String> = ids.iter().collect();
    let to_remove: Vec<String> = current
        .iter()
        .filter(|c| !wanted.contains(c))
        .cloned()
        .collect();
    let to_add: Vec<String> = ids
        .iter()
        .filter(|i| !current.contains(*i))
        .cloned()
        .collect();
    remove(tx, g, &to_remove, ch).await?;
    add(tx, g, &to_add, ch).await
}

pub async fn create_group(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    body: &Value,
) -> Result<(Group, Vec<Member>), ScimError> {
    let attrs = canonicalize(&REGISTRY, ResourceKind::Group, body)?;
    let name = display_name_of(&attrs)?;
    let ids = members_of(body)?;
    let now = now_ms();
    let mut g = Group {
        id: new_id(),
        org_id: ctx.org.id.clone(),
        display_name: name.clone(),
        external_id: attrs
            .get("externalId")
            .and_then(Value::as_str)
            .map(str::to_string),
        source: scim_source(&ctx.client),
        member_count: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin_org(&ctx.org.id).await.map_err(store_error)?;
    groups::insert_group(&mut tx, &g)
        .await
        .map_err(|e| conflict(e, &name))?;
    let mut ch = Changes::default();
    ch.other.push(Change {
        resource_type: "Group".into(),
        resource_id: g.id.clone(),
        resource_name: Some(name.clone()),
        kind: ChangeKind::Created,
        detail: None,
    });
    add(&mut tx, &g, &ids, &mut ch).await?;
    g.member_count = ch.added.len() as i64;
    let mut events = vec![feed::team_created(&g)];
    events.extend(ch.member_events(&mut tx, &g).await?);
    let outbox = feed_of(&tx, ctx, &events);
    let members = groups::list_members(&mut tx, &g.id, None, 0)
        .await
        .map_err(store_error)?;
    log.write_in(
        &mut tx,
        201,
        Some(format!("created group {name}")),
        ch.into_vec(&g),
        outbox,
    )
    .await
    .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    log.mark_written();
    Ok((g, members))
}

/// A group and, unless `with_members` is false, all its members.
pub async fn get_group(
    store: &Store,
    ctx: &ScimContext,
    id: &str,
    with_members: bool,
) -> Result<(Group, Option<Vec<Member>>), ScimError> {
    let mut c = store.read().await.map_err(store_error)?;
    let g = groups::find_group(&mut c, &ctx.org.id, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(id))?;
    let members = if with_members {
        Some(
            groups::list_members(&mut c, &g.id, None, 0)
                .await
                .map_err(store_error)?,
        )
    } else {
        None
    };
    Ok((g, members))
}

pub async fn list_groups(
    store: &Store,
    ctx: &ScimContext,
    p: &ListParams,
    with_members: bool,
) -> Result<(i64, Vec<(Group, Option<Vec<Member>>)>), ScimError> {
    let q = super::list_query(ResourceKind::Group, p)?;
    let (total, gs, mut c) = store
        .page_groups(&ctx.org.id, &q)
        .await
        .map_err(store_error)?;
    // One query for the members of the whole page, not one per group.
    let mut members = if with_members && !gs.is_empty() {
        let ids: Vec<&str> = gs.iter().map(|g| g.id.as_str()).collect();
        groups::members_of(&mut c, &ids)
            .await
            .map_err(store_error)?
    } else {
        Default::default()
    };
    let out = gs
        .into_iter()
        .map(|g| {
            let m = with_members.then(|| members.remove(&g.id).unwrap_or_default());
            (g, m)
        })
        .collect();
    Ok((total, out))
}

/// PATCH: every operation applied in order, atomically.
/// `status` is what the caller will answer (204, or 200 when it returns the group), for the log.
pub async fn patch_group(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    id: &str,
    ops: &[PatchOp],
    if_match: Option<i64>,
    status: u16,
) -> Result<Group, ScimError> {
    let changes = group_changes(id, ops)?;
    apply_changes(store, ctx, log, id, changes, if_match, status).await
}

/// PUT: displayName, externalId and the full member list.
pub async fn replace_group(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    id: &str,
    body: &Value,
    if_match: Option<i64>,
) -> Result<Group, ScimError> {
    if let Some(body_id) = body.get("id").and_then(Value::as_str) {
        if body_id != id {
            return Err(ScimError::mutability(
                "'id' in the body differs from the id in the URL",
            ));
        }
    }
    let attrs = canonicalize(&REGISTRY, ResourceKind::Group, body)?;
    let name = display_name_of(&attrs)?;
    let changes = vec![
        GroupChange::SetDisplayName(name),
        GroupChange::SetExternalId(
            attrs
                .get("externalId")
                .and_then(Value::as_str)
                .map(str::to_string),
        ),
        GroupChange::ReplaceMembers(members_of(body)?),
    ];
    apply_changes(store, ctx, log, id, changes, if_match, 200).await
}

async fn apply_changes(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    id: &str,
    changes: Vec<GroupChange>,
    if_match: Option<i64>,
    status: u16,
) -> Result<Group, ScimError> {
    let mut tx = store.begin_org(&ctx.org.id).await.map_err(store_error)?;
    let (g_before, g_after, ch) = match at_once(store, &changes) {
        Some((add, ids)) => {
            match groups::change_members_at_once(&mut tx, &ctx.org.id, id, if_match, ids, add).await
            {
                Ok(d) => {
                    let mut ch = Changes {
                        skipped: d.skipped,
                        names: d.names,
                        ..Changes::default()
                    };
                    if add {
                        ch.added = d.changed;
                    } else {
                        ch.removed = d.changed;
                    }
                    (d.group.clone(), d.group, ch)
                }
                Err(StoreError::NotFound) => return Err(not_found(id)),
                Err(StoreError::VersionMismatch) => return Err(ScimError::precondition_failed()),
                Err(e) => return Err(store_error(e)),
            }
        }
        None => change_in_steps(&mut tx, ctx, id, changes, if_match).await?,
    };
    let mut events: Vec<NewChange> = feed::team_updated(&g_before, &g_after)
        .into_iter()
        .collect();
    events.extend(ch.member_events(&mut tx, &g_after).await?);
    let outbox = feed_of(&tx, ctx, &events);
    let summary = format!(
        "+{} -{} members, {} skipped",
        ch.added.len(),
        ch.removed.len(),
        ch.skipped.len()
    );
    log.write_in(
        &mut tx,
        status,
        Some(summary),
        ch.into_vec(&g_after),
        outbox,
    )
    .await
    .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    log.mark_written();
    Ok(g_after)
}

/// A change that [`groups::change_members_at_once`] makes in one statement: only adds or
/// only removes (PostgreSQL; on SQLite a statement is no round trip over a network).
fn at_once<'a>(store: &Store, changes: &'a [GroupChange]) -> Option<(bool, &'a [String])> {
    if store.backend() != crate::store::Backend::Postgres {
        return None;
    }
    match changes {
        // An empty list changes nothing (and `IN ()` is no SQL): the general path says so.
        [GroupChange::AddMembers(ids)] if (1..=groups::AT_ONCE_MAX).contains(&ids.len()) => {
            Some((true, ids))
        }
        [GroupChange::RemoveMembers(ids)] if (1..=groups::AT_ONCE_MAX).contains(&ids.len()) => {
            Some((false, ids))
        }
        _ => None,
    }
}

/// The general case: the group locked, then each change in turn. Returns the group before
/// and after, and what changed.
async fn change_in_steps(
    tx: &mut Tx,
    ctx: &ScimContext,
    id: &str,
    changes: Vec<GroupChange>,
    if_match: Option<i64>,
) -> Result<(Group, Group, Changes), ScimError> {
    let mut g = match groups::lock_group(tx, &ctx.org.id, id, if_match).await {
        Ok(g) => g,
        Err(StoreError::NotFound) => return Err(not_found(id)),
        Err(StoreError::VersionMismatch) => return Err(ScimError::precondition_failed()),
        Err(e) => return Err(store_error(e)),
    };
    let mut ch = Changes::default();
    let g_before = g.clone();
    let before = json!({"displayName": g.display_name, "externalId": g.external_id});
    for change in changes {
        match change {
            GroupChange::SetDisplayName(n) => g.display_name = n,
            GroupChange::SetExternalId(e) => g.external_id = e,
            GroupChange::AddMembers(ids) => add(tx, &g, &ids, &mut ch).await?,
            GroupChange::RemoveMembers(ids) => remove(tx, &g, &ids, &mut ch).await?,
            GroupChange::RemoveAllMembers => ch.removed.extend(
                groups::remove_all_members(tx, &g.id)
                    .await
                    .map_err(store_error)?,
            ),
            GroupChange::ReplaceMembers(ids) => replace_members(tx, &g, &ids, &mut ch).await?,
        }
    }
    let after = json!({"displayName": g.display_name, "externalId": g.external_id});
    let renamed = before != after;
    if renamed {
        groups::update_group(
            tx,
            &g.org_id,
            &g.id,
            &g.display_name,
            g.external_id.as_deref(),
        )
        .await
        .map_err(|e| conflict(e, &g.display_name))?;
        let mut detail = serde_json::Map::new();
        for k in ["displayName", "externalId"] {
            if before[k] != after[k] {
                detail.insert(k.into(), json!({"before": before[k], "after": after[k]}));
            }
        }
        ch.other.push(Change {
            resource_type: "Group".into(),
            resource_id: g.id.clone(),
            resource_name: Some(g.display_name.clone()),
            kind: ChangeKind::Updated,
            detail: Some(Value::Object(detail)),
        });
    }
    // Membership changes are deltas on the locked row, so the group's state after them is
    // known without reading it back (a round trip while the row is locked); a rename bumps
    // the version again, so that rarer case reads it.
    let g_after = if renamed {
        groups::get_group(tx, &ctx.org.id, id)
            .await
            .map_err(store_error)?
    } else {
        Group {
            member_count: g.member_count + ch.added.len() as i64 - ch.removed.len() as i64,
            ..g
        }
    };
    Ok((g_before, g_after, ch))
}

pub async fn delete_group(
    store: &Store,
    ctx: &ScimContext,
    log: &RequestLog,
    id: &str,
    if_match: Option<i64>,
) -> Result<(), ScimError> {
    let mut tx = store.begin_org(&ctx.org.id).await.map_err(store_error)?;
    let g = groups::find_group(&mut tx, &ctx.org.id, id)
        .await
        .map_err(store_error)?
        .ok_or_else(|| not_found(id))?;
    if if_match.is_some_and(|v| v != g.version) {
        return Err(ScimError::precondition_failed());
    }
    groups::delete_group(&mut tx, &ctx.org.id, id)
        .await
        .map_err(store_error)?;
    // One event for the team, not one per member: its member count says how many left.
    let outbox = feed_of(&tx, ctx, &[feed::team_deleted(&g)]);
    let change = Change {
        resource_type: "Group".into(),
        resource_id: g.id.clone(),
        resource_name: Some(g.display_name.clone()),
        kind: ChangeKind::Deleted,
        detail: Some(json!({"memberCount": g.member_count})),
    };
    log.write_in(
        &mut tx,
        204,
        Some(format!("deleted group {}", g.display_name)),
        vec![change],
        outbox,
    )
    .await
    .map_err(store_error)?;
    tx.commit().await.map_err(store_error)?;
    log.mark_written();
    Ok(())
}
