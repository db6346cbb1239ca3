//! Domain types of the directory: organizations, their admins and SCIM tokens, users,
//! groups (teams) and provisioning events. Plain data (std, serde, uuid): no storage, no
//! protocol, no web framework.

pub mod feed;
pub mod query;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A new time-ordered id (UUIDv7), generated in the application so that SQLite and
/// PostgreSQL behave the same and keyset pagination by id follows creation order.
pub fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Org {
    pub id: String,
    pub login: String,
    pub name: String,
    /// Pulumi's rule: once created, `userName` may not change.
    pub user_name_immutable: bool,
    /// What the identity provider uses as the unique identifier: `userName` or `email`.
    pub unique_identifier: String,
    /// Role names allowed in the scimgate extension's `role` (empty: any role accepted).
    pub allowed_roles: Vec<String>,
    pub created_at: i64,
}

/// A read-only key of the application that relies on scimgate (read API, event feed).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppKey {
    pub id: String,
    pub org_id: String,
    pub label: String,
    /// The first characters of the secret, to recognise it by.
    pub hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Admin {
    pub id: String,
    pub email: String,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScimToken {
    pub id: String,
    pub org_id: String,
    pub label: String,
    /// A non-secret reminder of which token this is (`scimgate_ab12cd…`).
    pub hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// The token that replaced this one when it was regenerated with an overlap; it keeps
    /// working until `expires_at`.
    pub replaced_by: Option<String>,
}

impl ScimToken {
    pub fn usable_at(&self, now: i64) -> bool {
        self.revoked_at.is_none() && self.expires_at.is_none_or(|e| e > now)
    }

    /// What people are told: `active`, `replaced` (regenerated, still working until its
    /// overlap ends), `expired` or `revoked`.
    pub fn state(&self, now: i64) -> &'static str {
        if self.revoked_at.is_some() {
            "revoked"
        } else if !self.usable_at(now) {
            "expired"
        } else if self.replaced_by.is_some() {
            "replaced"
        } else {
            "active"
        }
    }
}

/// Where a user or group came from: provisioned by an identity provider over SCIM, or made
/// in the console.
pub const SOURCE_CONSOLE: &str = "console";

/// The product that manages a record, from its source (`scim:okta` → "Okta"); `None` for
/// records made in the console. This is the `/v1` API's published `managed_by`, where an
/// unrecognised client has always been "SCIM"; people see [`provider_of`].
pub fn managed_by(source: &str) -> Option<&'static str> {
    let client = source.strip_prefix("scim:")?;
    Some(match provider_name(client) {
        UNKNOWN_PROVIDER => "SCIM",
        known => known,
    })
}

/// What the console calls a client it cannot name: read in "Managed by your identity
/// provider" and "This team is managed by your identity provider".
pub const UNKNOWN_PROVIDER: &str = "your identity provider";

/// The product behind a SCIM client, as people write it (the one spelling the console
/// uses everywhere): Okta, Microsoft Entra ID, OneLogin, JumpCloud.
pub fn provider_name(client: &str) -> &'static str {
    match client {
        "okta" => "Okta",
        "entra" => "Microsoft Entra ID",
        "onelogin" => "OneLogin",
        "jumpcloud" => "JumpCloud",
        _ => UNKNOWN_PROVIDER,
    }
}

/// The provider that manages a record, for people; `None` for records made in the console.
pub fn provider_of(source: &str) -> Option<&'static str> {
    source.strip_prefix("scim:").map(provider_name)
}

pub fn scim_source(client: &str) -> String {
    format!("scim:{client}")
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct User {
    pub id: String,
    pub org_id: String,
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    /// The canonical SCIM body: every client-writable attribute.
    pub attributes: Map<String, Value>,
    pub source: String,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// The indexed projections of a user's canonical body.
#[derive(Clone, Debug, PartialEq)]
pub struct UserColumns {
    pub user_name: String,
    pub external_id: Option<String>,
    pub display_name: Option<String>,
    pub active: bool,
    pub emails: Vec<Email>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Email {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

impl UserColumns {
    pub fn from_attributes(attrs: &Map<String, Value>) -> UserColumns {
        let s = |k: &str| attrs.get(k).and_then(Value::as_str).map(str::to_string);
        UserColumns {
            user_name: s("userName").unwrap_or_default(),
            external_id: s("externalId"),
            display_name: s("displayName"),
            active: attrs.get("active").and_then(Value::as_bool).unwrap_or(true),
            emails: attrs
                .get("emails")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|e| {
                            Some(Email {
                                value: e.get("value")?.as_str()?.to_string(),
                                kind: e.get("type").and_then(Value::as_str).map(str::to_string),
                                primary: e.get("primary").and_then(Value::as_bool).unwrap_or(false),
                            })
                        })
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub org_id: String,
    pub display_name: String,
    pub external_id: Option<String>,
    pub source: String,
    pub member_count: i64,
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Group {
    pub fn is_managed(&self) -> bool {
        self.source != SOURCE_CONSOLE
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub user_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
}

/// What a change did to one resource, as the provisioning log records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    Created,
    Updated,
    Deactivated,
    Reactivated,
    Deleted,
    MemberAdded,
    MemberRemoved,
    MemberSkipped,
}

impl ChangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Deactivated => "deactivated",
            ChangeKind::Reactivated => "reactivated",
            ChangeKind::Deleted => "deleted",
            ChangeKind::MemberAdded => "member_added",
            ChangeKind::MemberRemoved => "member_removed",
            ChangeKind::MemberSkipped => "member_skipped",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Change {
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    pub kind: ChangeKind,
    /// Before/after of changed attributes, or the member id for membership changes.
    pub detail: Option<Value>,
}

/// One SCIM request in the provisioning log.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    pub id: String,
    pub org_id: Option<String>,
    pub occurred_at: i64,
    pub token_id: Option<String>,
    pub token_label: Option<String>,
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    pub client: String,
    pub status: i64,
    pub scim_type: Option<String>,
    pub duration_us: i64,
    pub request_body: Option<String>,
    pub response_summary: Option<String>,
    /// The client's address (see `net::ClientAddr`).
    pub remote_addr: Option<String>,
    /// The request's `User-Agent`, truncated.
    pub user_agent: Option<String>,
    pub changes: Vec<Change>,
}

/// An org login is its SCIM URL segment: 2–63 lowercase letters, digits and dashes.
pub fn validate_login(login: &str) -> Result<(), String> {
    let ok = (2..=63).contains(&login.len())
        && login
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !login.starts_with('-')
        && !login.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{login}' is not a valid org login: use 2 to 63 lowercase letters, digits and dashes"
        ))
    }
}

/// A deliberately simple check: one '@' with text on both sides and a dot in the domain.
pub fn validate_email(email: &str) -> Result<(), String> {
    let ok = match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && !email.chars().any(|c| c.is_whitespace() || c.is_control())
                && email.len() <= 254
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        let shown: String = email
            .chars()
            .take(100)
            .filter(|c| !c.is_control())
            .collect();
        Err(format!(
            "'{shown}' is not a valid email address (at most 254 characters)"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_and_emails() {
        assert!(validate_login("acme").is_ok());
        assert!(validate_login("acme-eu-2").is_ok());
        for bad in ["a", "Acme", "acme corp", "-acme", "acme-", "ac/me", ""] {
            assert!(validate_login(bad).is_err(), "{bad}");
        }
        assert!(validate_email("ops@example.com").is_ok());
        for bad in [
            "ops",
            "ops@",
            "@example.com",
            "ops@example",
            "o ps@example.com",
            "a@b@c.com",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }
}
