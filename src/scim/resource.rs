//! Canonical resource bodies: client JSON in, canonical JSON out. Attribute names are matched
//! case-insensitively and written back in their schema spelling; read-only, unknown and
//! `null` input is dropped (RFC 7643 §2.5, §7); booleans accept Entra's `"True"`/`"False"`;
//! `password` is never kept. Also the `attributes`/`excludedAttributes` projection (§3.9).

use super::error::ScimError;
use super::registry::{RoleAttribute, SchemaRegistry};
use super::schema::{AttrDef, AttrType, Mutability, ResourceKind};
use serde_json::{Map, Value};

/// Canonicalises a whole resource body (POST/PUT). The result holds only the client-writable
/// attributes, extensions nested under their URN. `id`, `meta`, `schemas` are not part of it.
pub fn canonicalize(
    reg: &SchemaRegistry,
    kind: ResourceKind,
    input: &Value,
) -> Result<Map<String, Value>, ScimError> {
    let role = reg.role_attribute(kind);
    let obj = input
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("The request body must be a JSON object"))?;
    let mut out = Map::new();
    let mut top_role = None;
    for (key, value) in obj {
        if value.is_null() {
            continue;
        }
        if key.eq_ignore_ascii_case("externalId") {
            out.insert("externalId".into(), coerce_string("externalId", value)?);
            continue;
        }
        if let Some(ext) = reg.extension(kind, key) {
            let ext_obj = value.as_object().ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "'{}' must be an object of extension attributes",
                    ext.id
                ))
            })?;
            let mut ext_out = Map::new();
            for (k, v) in ext_obj {
                if let Some(def) = super::schema::find_attr(ext.attributes, k) {
                    if let Some(v) = canonicalize_attr(role, def, v)? {
                        ext_out.insert(def.name.to_string(), v);
                    }
                }
            }
            if !ext_out.is_empty() {
                out.insert(ext.id.to_string(), Value::Object(ext_out));
            }
            continue;
        }
        if let Some(def) = super::schema::find_attr(kind.core().attributes, key) {
            if let Some(v) = canonicalize_value(def, value)? {
                out.insert(def.name.to_string(), v);
            }
            continue;
        }
        // The role attribute outside its extension: Okta's app attribute at top level
        // (namespace core, Okta's default) as `"role": "admin"`, or `"role": {"role": "admin"}`
        // (namespace `role`).
        if let Some(r) = role.filter(|r| key.eq_ignore_ascii_case(r.attr.name)) {
            top_role = canonicalize_attr(role, r.attr, value)?;
        }
        // Anything else (id, meta, schemas, groups, unknown or misspelt URNs) is ignored:
        // Entra and Okta echo such fields back and must not be failed for it.
    }
    if let Some(role) = role.filter(|r| r.get(&out).is_none()) {
        // The extension's role wins; then a top-level one; then the primary (or only)
        // value of `roles`.
        if let Some(r) = top_role.or_else(|| role_from_roles(&out)) {
            role.set(&mut out, r);
        }
    }
    Ok(out)
}

/// The role named by the standard `roles` attribute: its primary value, or its only one.
pub fn role_from_roles(attrs: &Map<String, Value>) -> Option<Value> {
    let roles = attrs.get("roles")?.as_array()?;
    let pick = roles
        .iter()
        .find(|r| r.get("primary") == Some(&Value::Bool(true)))
        .or(if roles.len() == 1 {
            roles.first()
        } else {
            None
        })?;
    pick.get("value").filter(|v| v.is_string()).cloned()
}

/// A role as identity providers send it: `"admin"`, `{"role": "admin"}` (Okta, namespace
/// `role`; the key is the attribute's name), `{"value": "admin"}` or a one-element array of
/// those.
fn role_input<'a>(name: &str, value: &'a Value) -> &'a Value {
    match value {
        Value::Object(o) => o
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name) || k.eq_ignore_ascii_case("value"))
            .map(|(_, v)| role_input(name, v))
            .unwrap_or(value),
        Value::Array(a) if a.len() == 1 => role_input(name, &a[0]),
        v => v,
    }
}

/// [`canonicalize_value`] for a top-level attribute that may be the registry's role
/// attribute, whose wrapped forms are unwrapped first.
pub fn canonicalize_attr(
    role: Option<RoleAttribute>,
    def: &AttrDef,
    value: &Value,
) -> Result<Option<Value>, ScimError> {
    match role {
        Some(r) if r.is(def) && !def.multi && def.ty == AttrType::String => {
            if value.is_null()
                || matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly)
            {
                return Ok(None);
            }
            coerce_string(def.name, role_input(def.name, value)).map(Some)
        }
        _ => canonicalize_value(def, value),
    }
}

/// Canonicalises one attribute value. `Ok(None)` means "drop it" (read-only, write-only or
/// null input).
pub fn canonicalize_value(def: &AttrDef, value: &Value) -> Result<Option<Value>, ScimError> {
    if value.is_null() || matches!(def.mutability, Mutability::ReadOnly | Mutability::WriteOnly) {
        return Ok(None);
    }
    if def.multi {
        let items: Vec<&Value> = match value {
            Value::Array(a) => a.iter().collect(),
            other => vec![other],
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            if let Some(v) = canonicalize_single(def, item)? {
                out.push(v);
            }
        }
        return Ok(Some(Value::Array(out)));
    }
    canonicalize_single(def, value)
}

fn canonicalize_single(def: &AttrDef, value: &Value) -> Result<Option<Value>, ScimError> {
    if value.is_null() {
        return Ok(None);
    }
    match def.ty {
        AttrType::Boolean => coerce_bool(def.name, value).map(Some),
        AttrType::String | AttrType::Reference | AttrType::DateTime => {
            coerce_string(def.name, value).map(Some)
        }
        AttrType::Complex => {
            let has_value_sub = def.sub.iter().any(|s| s.name == "value");
            let value = match value {
                // `manager` arrives as a bare id, an object or a one-element array.
                Value::String(_) if has_value_sub => {
                    return Ok(Some(Value::Object(single("value", value.clone()))))
                }
                Value::Array(a) if !def.multi && a.len() == 1 => &a[0],
                Value::Array(a) if !def.multi && a.is_empty() => return Ok(None),
                v => v,
            };
            let obj = value.as_object().ok_or_else(|| {
                ScimError::invalid_value(format!(
                    "'{}' must be an object with sub-attributes",
                    def.name
                ))
            })?;
            let mut out = Map::new();
            for (k, v) in obj {
                if let Some(sd) = super::schema::find_attr(def.sub, k) {
                    if sd.mutability == Mutability::ReadOnly {
                        continue;
                    }
                    if let Some(v) = canonicalize_single(sd, v)? {
                        out.insert(sd.name.to_string(), v);
                    }
                }
            }
            if out.is_empty() {
                Ok(None)
            } else {
                Ok(Some(Value::Object(out)))
            }
        }
    }
}

fn single(k: &str, v: Value) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert(k.into(), v);
    m
}

pub fn coerce_bool(name: &str, value: &Value) -> Result<Value, ScimError> {
    match value {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        // Entra sends booleans as the strings "True" and "False".
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        _ => Err(ScimError::invalid_value(format!(
            "'{name}' must be a boolean (true or false)"
        ))),
    }
}

fn coerce_string(name: &str, value: &Value) -> Result<Value, ScimError> {
    match value {
        Value::String(s) => Ok(Value::String(s.clone())),
        Value::Number(n) => Ok(Value::String(n.to_string())),
        Value::Bool(b) => Ok(Value::String(b.to_string())),
        _ => Err(ScimError::invalid_value(format!(
            "'{name}' must be a string"
        ))),
    }
}

/// Parsed `attributes` / `excludedAttributes` (RFC 7644 §3.9): comma-separated paths.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Projection {
    pub attributes: Vec<Vec<String>>,
    pub excluded: Vec<Vec<String>>,
}

impl Projection {
    pub fn parse(
        reg: &SchemaRegistry,
        kind: ResourceKind,
        attributes: Option<&str>,
        excluded: Option<&str>,
    ) -> Projection {
        Projection {
            attributes: split_paths(reg, kind, attributes),
            excluded: split_paths(reg, kind, excluded),
        }
    }

    /// Whether the top-level attribute `name` (canonical) is returned.
    pub fn includes(&self, name: &str) -> bool {
        if self
            .excluded
            .iter()
            .any(|p| p.len() == 1 && p[0].eq_ignore_ascii_case(name))
        {
            return false;
        }
        self.attributes.is_empty()
            || self
                .attributes
                .iter()
                .any(|p| p[0].eq_ignore_ascii_case(name))
    }

    /// Applies the projection to a full resource; `id` and `schemas` are always kept.
    pub fn apply(&self, resource: &mut Map<String, Value>) {
        if !self.attributes.is_empty() {
            let keep: Vec<(String, Value)> = resource
                .iter()
                .filter_map(|(k, v)| {
                    if k == "id" || k == "schemas" {
                        return Some((k.clone(), v.clone()));
                    }
                    let wanted: Vec<&Vec<String>> = self
                        .attributes
                        .iter()
                        .filter(|p| p[0].eq_ignore_ascii_case(k))
                        .collect();
                    if wanted.is_empty() {
                        return None;
                    }
                    if wanted.iter().any(|p| p.len() == 1) {
                        return Some((k.clone(), v.clone()));
                    }
                    let subs: Vec<&str> = wanted.iter().map(|p| p[1].as_str()).collect();
                    Some((k.clone(), keep_subs(v, &subs)))
                })
                .collect();
            resource.clear();
            resource.extend(keep);
        }
        for path in &self.excluded {
            let key = resource
                .keys()
                .find(|k| k.eq_ignore_ascii_case(&path[0]))
                .cloned();
            let Some(key) = key else { continue };
            if key == "id" || key == "schemas" {
                continue;
            }
            if path.len() == 1 {
                resource.remove(&key);
            } else if let Some(v) = resource.get_mut(&key) {
                drop_sub(v, &path[1]);
            }
        }
    }
}

fn keep_subs(v: &Value, subs: &[&str]) -> Value {
    match v {
        Value::Object(o) => Value::Object(
            o.iter()
                .filter(|(k, _)| subs.iter().any(|s| s.eq_ignore_ascii_case(k)))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|e| keep_subs(e, subs)).collect()),
        other => other.clone(),
    }
}

fn drop_sub(v: &mut Value, sub: &str) {
    match v {
        Value::Object(o) => {
            if let Some(k) = o.keys().find(|k| k.eq_ignore_ascii_case(sub)).cloned() {
                o.remove(&k);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|e| drop_sub(e, sub)),
        _ => {}
    }
}

/// Splits `a,b.c,urn:…:User:department` into paths. A URN-qualified path becomes
/// `[urn, attr]` (the extension object is the top-level key); a core-URN prefix is dropped.
fn split_paths(reg: &SchemaRegistry, kind: ResourceKind, list: Option<&str>) -> Vec<Vec<String>> {
    let Some(list) = list else { return Vec::new() };
    list.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .filter_map(|item| {
            if let Some(ext) = reg.extension(kind, item) {
                Some(vec![ext.id.to_string()])
            } else if let Ok(path) = super::filter::AttrPath::parse(item) {
                let mut out = Vec::new();
                match &path.urn {
                    Some(urn) if urn.eq_ignore_ascii_case(kind.core().id) => {}
                    Some(urn) => out.push(
                        reg.extension(kind, urn)
                            .map(|e| e.id.to_string())
                            .unwrap_or(urn.clone()),
                    ),
                    None => {}
                }
                out.push(path.name.clone());
                if let Some(s) = path.sub {
                    out.push(s);
                }
                Some(out)
            } else {
                None
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::registry::testing::{EXAMPLE_USER_SCHEMA, REGISTRY};
    use serde_json::json;

    #[test]
    fn role_forms_on_post_and_put() {
        let ext = EXAMPLE_USER_SCHEMA;
        for body in [
            json!({"userName": "a", "role": "admin"}),
            json!({"userName": "a", "Role": {"role": "admin"}}),
            json!({"userName": "a", ext: {"role": "admin"}}),
            json!({"userName": "a", ext: {"role": {"role": "admin"}}}),
            json!({"userName": "a", "roles": [{"value": "admin", "primary": true}, {"value": "x"}]}),
            json!({"userName": "a", "roles": [{"value": "admin"}]}),
            json!({"userName": "a", "role": "admin", "roles": [{"value": "other", "primary": true}]}),
            json!({"userName": "a", ext: {"role": "admin"}, "role": "other"}),
        ] {
            let out = canonicalize(&REGISTRY, ResourceKind::User, &body).unwrap();
            assert_eq!(out[ext]["role"], "admin", "{body}");
            assert!(out.get("role").is_none(), "{body}");
        }
        for body in [
            json!({"userName": "a"}),
            json!({"userName": "a", "roles": []}),
            json!({"userName": "a", "roles": [{"value": "x"}, {"value": "y"}]}),
        ] {
            let out = canonicalize(&REGISTRY, ResourceKind::User, &body).unwrap();
            assert!(out.get(ext).is_none(), "{body}");
        }
        assert!(canonicalize(
            &REGISTRY,
            ResourceKind::User,
            &json!({"userName": "a", "role": {"x": 1}})
        )
        .is_err());
        // Groups have no role.
        let g = canonicalize(
            &REGISTRY,
            ResourceKind::Group,
            &json!({"displayName": "g", "role": "admin"}),
        )
        .unwrap();
        assert!(g.get(ext).is_none());
    }

    #[test]
    fn canonical_names_booleans_and_dropped_fields() {
        let out = canonicalize(&REGISTRY, ResourceKind::User,
            &json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "id": "x", "meta": {"created": "now"}, "groups": [{"value": "g"}],
                "UserName": "Bob", "Active": "False", "password": "secret", "nickName": null,
                "NAME": {"GivenName": "Bob"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"Department": "R&D", "manager": "m1"},
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:Usr": {"department": "typo"},
                "emails": [{"value": "a@x", "type": "work", "primary": "true"}, {"value": "b@x"}]
            }),
        )
        .unwrap();
        assert_eq!(out["userName"], "Bob");
        assert_eq!(out["active"], false);
        assert_eq!(out["name"]["givenName"], "Bob");
        assert!(
            !out.contains_key("password") && !out.contains_key("id") && !out.contains_key("groups")
        );
        assert!(!out.contains_key("nickName") && !out.contains_key("meta"));
        let ent = &out["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"];
        assert_eq!(ent["department"], "R&D");
        assert_eq!(ent["manager"], json!({"value": "m1"}));
        assert_eq!(out["emails"].as_array().unwrap().len(), 2);
        assert_eq!(out["emails"][0]["primary"], true);
        assert_eq!(out.len(), 5);
    }

    #[test]
    fn wrong_types_are_invalid_value() {
        let e = canonicalize(
            &REGISTRY,
            ResourceKind::User,
            &json!({"userName": "a", "active": "yes"}),
        )
        .unwrap_err();
        assert_eq!(
            e.scim_type,
            Some(super::super::error::ScimType::InvalidValue)
        );
        assert!(canonicalize(
            &REGISTRY,
            ResourceKind::User,
            &json!({"userName": {"x": 1}})
        )
        .is_err());
        assert!(canonicalize(&REGISTRY, ResourceKind::User, &json!([1])).is_err());
    }

    #[test]
    fn projection() {
        let mut r = json!({"id": "1", "schemas": ["s"], "userName": "u", "name": {"givenName": "g", "familyName": "f"}, "emails": [{"value": "v", "type": "work"}], "meta": {}})
            .as_object()
            .unwrap()
            .clone();
        let p = Projection::parse(
            &REGISTRY,
            ResourceKind::User,
            Some("userName,name.givenName,emails.value"),
            None,
        );
        p.apply(&mut r);
        assert_eq!(
            Value::Object(r.clone()),
            json!({"id": "1", "schemas": ["s"], "userName": "u", "name": {"givenName": "g"}, "emails": [{"value": "v"}]})
        );
        let p = Projection::parse(
            &REGISTRY,
            ResourceKind::User,
            None,
            Some("emails,id,name.familyName"),
        );
        p.apply(&mut r);
        assert_eq!(
            Value::Object(r),
            json!({"id": "1", "schemas": ["s"], "userName": "u", "name": {"givenName": "g"}})
        );
    }
}
