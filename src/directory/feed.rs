//! The application's change feed: what happened to the directory, as the application that
//! relies on scimgate hears it (read API, event feed, webhooks). Events are built here from
//! the records before and after a change, by whichever use case made it (SCIM or console),
//! and stored in the same transaction as the change.

use super::{Group, User};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

/// Every kind of change event, with its wire name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    UserCreated,
    UserUpdated,
    UserDeactivated,
    UserReactivated,
    UserDeleted,
    UserRoleChanged,
    TeamCreated,
    TeamUpdated,
    TeamDeleted,
    TeamMemberAdded,
    TeamMemberRemoved,
}

impl EventType {
    pub const ALL: [EventType; 11] = [
        EventType::UserCreated,
        EventType::UserUpdated,
        EventType::UserDeactivated,
        EventType::UserReactivated,
        EventType::UserDeleted,
        EventType::UserRoleChanged,
        EventType::TeamCreated,
        EventType::TeamUpdated,
        EventType::TeamDeleted,
        EventType::TeamMemberAdded,
        EventType::TeamMemberRemoved,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::UserCreated => "user.created",
            EventType::UserUpdated => "user.updated",
            EventType::UserDeactivated => "user.deactivated",
            EventType::UserReactivated => "user.reactivated",
            EventType::UserDeleted => "user.deleted",
            EventType::UserRoleChanged => "user.role_changed",
            EventType::TeamCreated => "team.created",
            EventType::TeamUpdated => "team.updated",
            EventType::TeamDeleted => "team.deleted",
            EventType::TeamMemberAdded => "team.member_added",
            EventType::TeamMemberRemoved => "team.member_removed",
        }
    }

    pub fn parse(s: &str) -> Option<EventType> {
        EventType::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// An event about to be recorded (its id, sequence and time are given when stored).
#[derive(Clone, Debug, PartialEq)]
pub struct NewChange {
    pub event_type: EventType,
    /// The user or team the event is about (the team, for membership events).
    pub resource_id: String,
    pub data: Value,
}

impl NewChange {
    /// The user the event is about: the resource of a user event, the member of a
    /// membership event, none for a team event (indexed, for each person's story).
    pub fn user_id(&self) -> Option<&str> {
        match self.event_type {
            EventType::UserCreated
            | EventType::UserUpdated
            | EventType::UserDeactivated
            | EventType::UserReactivated
            | EventType::UserDeleted
            | EventType::UserRoleChanged => Some(&self.resource_id),
            EventType::TeamMemberAdded | EventType::TeamMemberRemoved => {
                self.data.pointer("/user/id").and_then(Value::as_str)
            }
            EventType::TeamCreated | EventType::TeamUpdated | EventType::TeamDeleted => None,
        }
    }
}

/// A recorded event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ChangeEvent {
    pub id: String,
    pub org_id: String,
    /// Strictly increasing per org, in commit order: the feed's cursor.
    pub seq: i64,
    pub event_type: String,
    pub occurred_at: i64,
    /// `scim:<client>` or `console:<admin email>`.
    pub origin: String,
    pub resource_id: String,
    pub data: Value,
}

/// An event as the application receives it: feed entries and webhook bodies alike.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct WireEvent {
    /// Unique; the same on every delivery of this event (deduplicate on it).
    pub id: String,
    /// Strictly increasing per org, in commit order: the feed's cursor.
    pub sequence: i64,
    /// `user.created`, `user.updated`, `user.deactivated`, `user.reactivated`,
    /// `user.deleted`, `user.role_changed`, `team.created`, `team.updated`, `team.deleted`,
    /// `team.member_added` or `team.member_removed`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// RFC 3339.
    pub occurred_at: String,
    /// `scim:<identity provider>` or `console:<admin email>`.
    pub origin: String,
    /// `user` (a UserRecord) for user events, with `changed_fields` and `previous` for
    /// updates and `role`/`previous_role` for role changes; `team` (a TeamRecord) for team
    /// events; `team` ({id, name}) and `user` (a MemberRecord) for membership events.
    #[schema(value_type = Object)]
    pub data: Value,
}

impl ChangeEvent {
    pub fn to_wire(&self) -> WireEvent {
        WireEvent {
            id: self.id.clone(),
            sequence: self.seq,
            event_type: self.event_type.clone(),
            occurred_at: iso8601(self.occurred_at),
            origin: self.origin.clone(),
            data: self.data.clone(),
        }
    }
}

/// Unix milliseconds as an RFC 3339 UTC time (`2026-11-27T10:00:00.000Z`).
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{millis:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A user as the application sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct UserRecord {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub external_id: Option<String>,
    /// The primary email (or the first one).
    pub email: Option<String>,
    pub emails: Vec<EmailRecord>,
    /// The SCIM `name` object (givenName, familyName, …), as the identity provider sent it.
    #[schema(value_type = Option<Object>)]
    pub name: Option<Value>,
    pub active: bool,
    /// The product role (scimgate's SCIM extension), if set.
    pub role: Option<String>,
    /// The identity provider that manages the user ("Okta"); null when made in the console.
    pub managed_by: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    pub updated_at: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailRecord {
    pub value: String,
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub primary: bool,
}

/// A team as the application sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct TeamRecord {
    pub id: String,
    pub name: String,
    pub external_id: Option<String>,
    /// The identity provider that manages the team ("Okta"): its membership is changed
    /// there. Null for teams made in the console.
    pub managed_by: Option<String>,
    pub member_count: i64,
    pub created_at: String,
    pub updated_at: String,
}

/// A user named in a membership event or a team's member list.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct MemberRecord {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
}

impl From<&super::Member> for MemberRecord {
    fn from(m: &super::Member) -> MemberRecord {
        MemberRecord {
            id: m.user_id.clone(),
            user_name: m.user_name.clone(),
            display_name: m.display_name.clone(),
        }
    }
}

pub fn user_record(u: &User, role: Option<&str>) -> UserRecord {
    let cols = super::UserColumns::from_attributes(&u.attributes);
    let email = cols
        .emails
        .iter()
        .find(|e| e.primary)
        .or(cols.emails.first())
        .map(|e| e.value.clone());
    UserRecord {
        id: u.id.clone(),
        user_name: u.user_name.clone(),
        display_name: u.display_name.clone(),
        external_id: u.external_id.clone(),
        email,
        emails: cols
            .emails
            .into_iter()
            .map(|e| EmailRecord {
                value: e.value,
                kind: e.kind,
                primary: e.primary,
            })
            .collect(),
        name: u.attributes.get("name").cloned(),
        active: u.active,
        role: role.map(str::to_string),
        managed_by: super::managed_by(&u.source).map(str::to_string),
        created_at: iso8601(u.created_at),
        updated_at: iso8601(u.updated_at),
    }
}

pub fn team_record(g: &Group) -> TeamRecord {
    TeamRecord {
        id: g.id.clone(),
        name: g.display_name.clone(),
        external_id: g.external_id.clone(),
        managed_by: super::managed_by(&g.source).map(str::to_string),
        member_count: g.member_count,
        created_at: iso8601(g.created_at),
        updated_at: iso8601(g.updated_at),
    }
}

/// The attributes that differ between two bodies, their earlier values and their new ones.
fn changed_fields(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
) -> (Vec<String>, Map<String, Value>, Map<String, Value>) {
    let mut keys: Vec<&String> = before.keys().chain(after.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut fields = Vec::new();
    let mut previous = Map::new();
    let mut current = Map::new();
    for k in keys {
        if k == "meta" || before.get(k) == after.get(k) {
            continue;
        }
        fields.push(k.clone());
        previous.insert(k.clone(), before.get(k).cloned().unwrap_or(Value::Null));
        current.insert(k.clone(), after.get(k).cloned().unwrap_or(Value::Null));
    }
    (fields, previous, current)
}

pub fn user_created(u: &User, role: Option<&str>) -> NewChange {
    NewChange {
        event_type: EventType::UserCreated,
        resource_id: u.id.clone(),
        data: json!({"user": user_record(u, role)}),
    }
}

pub fn user_deleted(u: &User, role: Option<&str>) -> NewChange {
    NewChange {
        event_type: EventType::UserDeleted,
        resource_id: u.id.clone(),
        data: json!({"user": user_record(u, role)}),
    }
}

/// The events of one user update: deactivated or reactivated when `active` flipped,
/// updated when anything else changed (with which fields and their earlier values), and
/// role_changed when the role did. Nothing when nothing changed.
pub fn user_updated(
    before: &User,
    role_before: Option<&str>,
    after: &User,
    role_after: Option<&str>,
) -> Vec<NewChange> {
    let record = user_record(after, role_after);
    let mut out = Vec::new();
    let event = |event_type, data| NewChange {
        event_type,
        resource_id: after.id.clone(),
        data,
    };
    match (before.active, after.active) {
        (true, false) => out.push(event(EventType::UserDeactivated, json!({"user": record}))),
        (false, true) => out.push(event(EventType::UserReactivated, json!({"user": record}))),
        _ => {}
    }
    let (fields, previous, current) = changed_fields(&before.attributes, &after.attributes);
    if fields.iter().any(|f| f != "active") {
        out.push(event(
            EventType::UserUpdated,
            json!({"user": record, "changed_fields": fields, "previous": previous, "current": current}),
        ));
    }
    if role_before != role_after {
        out.push(event(
            EventType::UserRoleChanged,
            json!({"user": record, "role": role_after, "previous_role": role_before}),
        ));
    }
    out
}

pub fn team_created(g: &Group) -> NewChange {
    NewChange {
        event_type: EventType::TeamCreated,
        resource_id: g.id.clone(),
        data: json!({"team": team_record(g)}),
    }
}

pub fn team_deleted(g: &Group) -> NewChange {
    NewChange {
        event_type: EventType::TeamDeleted,
        resource_id: g.id.clone(),
        data: json!({"team": team_record(g)}),
    }
}

/// A rename or a new externalId; nothing when neither changed.
pub fn team_updated(before: &Group, after: &Group) -> Option<NewChange> {
    let mut fields = Vec::new();
    let mut previous = Map::new();
    if before.display_name != after.display_name {
        fields.push("name");
        previous.insert("name".into(), json!(before.display_name));
    }
    if before.external_id != after.external_id {
        fields.push("external_id");
        previous.insert("external_id".into(), json!(before.external_id));
    }
    (!fields.is_empty()).then(|| NewChange {
        event_type: EventType::TeamUpdated,
        resource_id: after.id.clone(),
        data: json!({"team": team_record(after), "changed_fields": fields, "previous": previous}),
    })
}

/// One event per member added to or removed from a team, naming both.
pub fn membership(
    event_type: EventType,
    team_id: &str,
    team_name: &str,
    members: &[super::Member],
) -> Vec<NewChange> {
    members
        .iter()
        .map(|m| NewChange {
            event_type,
            resource_id: team_id.to_string(),
            data: json!({
                "team": {"id": team_id, "name": team_name},
                "user": MemberRecord::from(m),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_795_766_400_123), "2026-11-27T08:00:00.123Z");
        assert_eq!(iso8601(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn every_type_round_trips() {
        for t in EventType::ALL {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(EventType::parse("user.exploded"), None);
    }
}
