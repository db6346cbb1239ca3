//! Directory records as SCIM resources (RFC 7643): schemas, id, attributes, meta.

use crate::directory::{Group, Member, User};
use crate::scim::schema::{ResourceKind, GROUP_SCHEMA, USER_SCHEMA};
use serde_json::{json, Map, Value};

pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let fmt = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    t.format(&fmt).unwrap_or_default()
}

fn meta(
    kind: ResourceKind,
    base: &str,
    id: &str,
    created: i64,
    modified: i64,
    version: i64,
) -> Value {
    json!({
        "resourceType": kind.name(),
        "created": rfc3339(created),
        "lastModified": rfc3339(modified),
        "location": format!("{base}{}/{id}", kind.endpoint()),
        "version": super::etag(version),
    })
}

pub fn user_json(u: &User, base: &str) -> Map<String, Value> {
    let mut schemas = vec![Value::String(USER_SCHEMA.into())];
    for ext in super::schemas::REGISTRY.extensions(ResourceKind::User) {
        if u.attributes.contains_key(ext.id) {
            schemas.push(Value::String(ext.id.into()));
        }
    }
    let mut out = Map::new();
    out.insert("schemas".into(), Value::Array(schemas));
    out.insert("id".into(), Value::String(u.id.clone()));
    for (k, v) in &u.attributes {
        out.insert(k.clone(), v.clone());
    }
    out.insert(
        "meta".into(),
        meta(
            ResourceKind::User,
            base,
            &u.id,
            u.created_at,
            u.updated_at,
            u.version,
        ),
    );
    out
}

pub fn group_json(g: &Group, members: Option<&[Member]>, base: &str) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("schemas".into(), json!([GROUP_SCHEMA]));
    out.insert("id".into(), Value::String(g.id.clone()));
    if let Some(e) = &g.external_id {
        out.insert("externalId".into(), Value::String(e.clone()));
    }
    out.insert("displayName".into(), Value::String(g.display_name.clone()));
    if let Some(members) = members {
        out.insert(
            "members".into(),
            Value::Array(
                members
                    .iter()
                    .map(|m| {
                        json!({
                            "value": m.user_id,
                            "display": m.display_name.clone().unwrap_or_else(|| m.user_name.clone()),
                            "type": "User",
                            "$ref": format!("{base}/Users/{}", m.user_id),
                        })
                    })
                    .collect(),
            ),
        );
    }
    out.insert(
        "meta".into(),
        meta(
            ResourceKind::Group,
            base,
            &g.id,
            g.created_at,
            g.updated_at,
            g.version,
        ),
    );
    out
}

/// The changed top-level attributes between two canonical bodies, as
/// `{attr: {"before": …, "after": …}}` for the provisioning log.
pub fn diff(before: &Map<String, Value>, after: &Map<String, Value>) -> Map<String, Value> {
    let mut out = Map::new();
    for k in before.keys().chain(after.keys()) {
        if out.contains_key(k) {
            continue;
        }
        let (b, a) = (before.get(k), after.get(k));
        if b != a {
            out.insert(k.clone(), json!({"before": b, "after": a}));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(
            super::super::filter::parse_time(&rfc3339(1_700_000_000_123)).unwrap(),
            1_700_000_000_123
        );
    }

    #[test]
    fn diff_lists_changed_attributes() {
        let a = json!({"userName": "a", "title": "x"})
            .as_object()
            .unwrap()
            .clone();
        let b = json!({"userName": "a", "active": false})
            .as_object()
            .unwrap()
            .clone();
        let d = diff(&a, &b);
        assert_eq!(d.len(), 2);
        assert_eq!(d["title"]["after"], Value::Null);
    }
}
