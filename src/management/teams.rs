//! Teams made in the console: their names and members are edited here. Teams an identity
//! provider pushed are read-only here (the check is on the server, not only in the hidden
//! buttons): the provider would undo any change at its next push.

use super::{Actor, ManagementError, Result};
use crate::directory::feed::{self, EventType};
use crate::directory::query::{Cond, Op, Target, Val};
use crate::directory::{new_id, now_ms, provider_of, Group};
use crate::store::{groups, users, Store, Tx};

/// The longest team name, in characters.
const MAX_TEAM_NAME: usize = 200;

fn team_name(name: &str) -> Result<String> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > MAX_TEAM_NAME {
        return Err(ManagementError::Invalid(
            "A team name is 1 to 200 characters.".into(),
        ));
    }
    Ok(n.to_string())
}

/// Loads a team for a console change, refusing teams an identity provider manages.
async fn editable_team(tx: &mut Tx, actor: &Actor, id: &str) -> Result<Group> {
    let g = groups::find_group(&mut *tx, &actor.org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("Team not found."))?;
    if let Some(by) = provider_of(&g.source) {
        return Err(ManagementError::Forbidden(format!(
            "This team is managed by {by}; its name and members are changed there."
        )));
    }
    Ok(g)
}

/// Words of the refusal the console recognises to offer "use this name anyway".
pub const SAME_NAME_AS_MANAGED: &str = "is already the name of a team managed by";

/// A console team may share its name with a team an identity provider manages (the unique
/// index leaves room for it), but it is seldom what the admin means: people and the
/// application then see two teams of that name, and adding someone to the console one does
/// not put them in the provider's. So the name is refused unless the admin confirms it.
async fn check_managed_name(tx: &mut Tx, actor: &Actor, name: &str, confirmed: bool) -> Result<()> {
    if confirmed {
        return Ok(());
    }
    if let Some(source) = groups::managed_source_named(&mut *tx, &actor.org.id, name).await? {
        let by = provider_of(&source).unwrap_or(crate::directory::UNKNOWN_PROVIDER);
        return Err(ManagementError::Conflict(format!(
            "\"{name}\" {SAME_NAME_AS_MANAGED} {by}. Its members change in {by}, not here. \
             Pick another name, or confirm to make a separate console team with the same name."
        )));
    }
    Ok(())
}

/// Creates a console team; `confirmed`: the admin accepted a name a managed team has.
pub async fn create_team(
    store: &Store,
    actor: &Actor,
    name: &str,
    confirmed: bool,
) -> Result<Group> {
    let name = team_name(name)?;
    let now = now_ms();
    let g = Group {
        id: new_id(),
        org_id: actor.org.id.clone(),
        display_name: name.clone(),
        external_id: None,
        source: crate::directory::SOURCE_CONSOLE.into(),
        member_count: 0,
        version: 1,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin_org(&actor.org.id).await?;
    check_managed_name(&mut tx, actor, &name, confirmed).await?;
    groups::insert_group(&mut tx, &g).await?;
    actor.record(&mut tx, &[feed::team_created(&g)]).await?;
    actor
        .audit(&mut tx, "team created", Some(&name), None)
        .await?;
    tx.commit().await?;
    Ok(g)
}

pub async fn rename_team(
    store: &Store,
    actor: &Actor,
    id: &str,
    name: &str,
    confirmed: bool,
) -> Result<()> {
    let name = team_name(name)?;
    let mut tx = store.begin_org(&actor.org.id).await?;
    let g = editable_team(&mut tx, actor, id).await?;
    // Keeping its own name (a no-op rename) asks nothing.
    if crate::store::fold::fold(&g.display_name) != crate::store::fold::fold(&name) {
        check_managed_name(&mut tx, actor, &name, confirmed).await?;
    }
    groups::update_group(&mut tx, &actor.org.id, id, &name, g.external_id.as_deref()).await?;
    let after = Group {
        display_name: name.clone(),
        updated_at: now_ms(),
        ..g.clone()
    };
    if let Some(event) = feed::team_updated(&g, &after) {
        actor.record(&mut tx, &[event]).await?;
    }
    actor
        .audit(
            &mut tx,
            "team renamed",
            Some(&name),
            Some(&format!("was {}", g.display_name)),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn add_member(store: &Store, actor: &Actor, id: &str, user_name: &str) -> Result<()> {
    let mut tx = store.begin_org(&actor.org.id).await?;
    let g = editable_team(&mut tx, actor, id).await?;
    let u = users::find_user_by_user_name(&mut tx, &actor.org.id, user_name.trim())
        .await?
        .ok_or_else(|| ManagementError::Invalid("No user with this username.".into()))?;
    let (added, _) =
        groups::add_members(&mut tx, &actor.org.id, &g.id, std::slice::from_ref(&u.id)).await?;
    if !added.is_empty() {
        let member = crate::directory::Member {
            user_id: u.id.clone(),
            user_name: u.user_name.clone(),
            display_name: u.display_name.clone(),
        };
        let events = feed::membership(
            EventType::TeamMemberAdded,
            &g.id,
            &g.display_name,
            &[member],
        );
        actor.record(&mut tx, &events).await?;
    }
    actor
        .audit(
            &mut tx,
            "team member added",
            Some(&g.display_name),
            Some(&u.user_name),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_member(store: &Store, actor: &Actor, id: &str, user_id: &str) -> Result<()> {
    let mut tx = store.begin_org(&actor.org.id).await?;
    let g = editable_team(&mut tx, actor, id).await?;
    // Someone not in the team (or another org's user) is not found, and nothing is audited.
    let member = users::members_by_id(&mut tx, &actor.org.id, &[user_id.to_string()]).await?;
    if member.is_empty()
        || groups::remove_members(&mut tx, &g.id, &[user_id.to_string()])
            .await?
            .is_empty()
    {
        return Err(ManagementError::NotFound("Member not found."));
    }
    let events = feed::membership(
        EventType::TeamMemberRemoved,
        &g.id,
        &g.display_name,
        &member,
    );
    actor.record(&mut tx, &events).await?;
    actor
        .audit(
            &mut tx,
            "team member removed",
            Some(&g.display_name),
            Some(user_id),
        )
        .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn delete_team(store: &Store, actor: &Actor, id: &str) -> Result<()> {
    let mut tx = store.begin_org(&actor.org.id).await?;
    let g = editable_team(&mut tx, actor, id).await?;
    groups::delete_group(&mut tx, &actor.org.id, &g.id).await?;
    actor.record(&mut tx, &[feed::team_deleted(&g)]).await?;
    actor
        .audit(&mut tx, "team deleted", Some(&g.display_name), None)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The console's team search: a prefix of the name.
pub fn search(q: Option<&str>) -> Cond {
    match q.map(str::trim).filter(|q| !q.is_empty()) {
        Some(q) => Cond::Test(Target::DisplayName, Op::Sw, Val::Str(q.to_string())),
        None => Cond::All,
    }
}
