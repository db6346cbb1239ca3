//! The PATCH engine (RFC 7644 §3.5.2). Users: read → apply every operation in memory, in
//! order, on a copy → the caller writes the result, so one failing operation applies none.
//! Groups: operations become membership deltas ([`GroupChange`]) so that adding one member
//! to a 10,000-member group never rewrites the member list.

mod group;
mod value;

pub use group::{group_changes, member_ids, GroupChange};
pub use value::matches_element;

use super::error::ScimError;
use super::filter::{parse_patch_path, AttrPath};
use super::json::get_ci;
use super::registry::SchemaRegistry;
use super::resource::role_from_roles;
use super::schema::{find_attr, AttrDef, ResourceKind, SchemaDef, PATCH_OP_SCHEMA};
use serde_json::{Map, Value};
use value::apply_path;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpKind {
    Add,
    Replace,
    Remove,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PatchOp {
    pub op: OpKind,
    pub path: Option<String>,
    pub value: Option<Value>,
}

/// Bounds on one PATCH and on one stored resource. A PATCH is applied inside the write
/// transaction: 550 operations with 100-term filters once held every org's writes for 30 s,
/// and `replace emails[value pr].value` with a 30 KB value on a user with 3,000 emails
/// produced a 90 MB user (and as much again in its change log).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ResourceLimits {
    /// Most operations in one PATCH request.
    pub max_patch_operations: usize,
    /// Largest resource (its JSON attributes) after a create, replace or PATCH, in bytes.
    pub max_resource_bytes: usize,
}

impl Default for ResourceLimits {
    fn default() -> Self {
        ResourceLimits {
            max_patch_operations: 256,
            max_resource_bytes: 256 * 1024,
        }
    }
}

static RESOURCE_LIMITS: std::sync::OnceLock<ResourceLimits> = std::sync::OnceLock::new();

/// Sets the process-wide resource limits once, at start-up.
pub fn set_resource_limits(l: ResourceLimits) {
    let _ = RESOURCE_LIMITS.set(ResourceLimits {
        max_patch_operations: l.max_patch_operations.max(1),
        max_resource_bytes: l.max_resource_bytes.max(1024),
    });
}

pub fn resource_limits() -> ResourceLimits {
    RESOURCE_LIMITS.get().copied().unwrap_or_default()
}

/// Refuses a resource whose attributes would exceed the configured size.
pub fn check_resource_size(attrs: &Map<String, Value>) -> Result<(), ScimError> {
    let max = resource_limits().max_resource_bytes;
    // Counted as it is serialised, without building the text (this runs on every write).
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut n = Count(0);
    let size = match serde_json::to_writer(&mut n, attrs) {
        Ok(()) => n.0,
        Err(_) => usize::MAX,
    };
    if size > max {
        return Err(ScimError::invalid_value(format!(
            "The resource would be {size} bytes; the limit is {max}"
        )));
    }
    Ok(())
}

/// Reads a PatchOp request body. Keys and `op` values are matched case-insensitively
/// (Entra sends `Replace`, `Add`, `Remove`).
pub fn parse_patch_request(body: &Value) -> Result<Vec<PatchOp>, ScimError> {
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("PATCH body must be a JSON object"))?;
    if let Some(schemas) = get_ci(obj, "schemas") {
        let ok = schemas.as_array().is_some_and(|a| {
            a.iter().any(|s| {
                s.as_str()
                    .is_some_and(|s| s.eq_ignore_ascii_case(PATCH_OP_SCHEMA))
            })
        });
        if !ok {
            return Err(ScimError::invalid_syntax(format!(
                "PATCH body must declare the schema {PATCH_OP_SCHEMA}"
            )));
        }
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            ScimError::invalid_syntax("PATCH body must contain an 'Operations' array")
        })?;
    if ops.is_empty() {
        return Err(ScimError::invalid_syntax("'Operations' must not be empty"));
    }
    let max = resource_limits().max_patch_operations;
    if ops.len() > max {
        return Err(ScimError::invalid_value(format!(
            "A PATCH may hold at most {max} operations; this one has {}",
            ops.len()
        )));
    }
    ops.iter()
        .map(|o| {
            let o = o
                .as_object()
                .ok_or_else(|| ScimError::invalid_syntax("Each operation must be an object"))?;
            let op = match get_ci(o, "op")
                .and_then(Value::as_str)
                .map(str::to_ascii_lowercase)
                .as_deref()
            {
                Some("add") => OpKind::Add,
                Some("replace") => OpKind::Replace,
                Some("remove") => OpKind::Remove,
                Some(other) => {
                    return Err(ScimError::invalid_syntax(format!(
                        "Unknown PATCH op '{other}': use add, replace or remove"
                    )))
                }
                None => return Err(ScimError::invalid_syntax("Each operation needs an 'op'")),
            };
            let path = match get_ci(o, "path") {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) if s.trim().is_empty() => None,
                Some(Value::String(s)) => Some(s.trim().to_string()),
                Some(_) => return Err(ScimError::invalid_path("'path' must be a string")),
            };
            let value = get_ci(o, "value").filter(|v| !v.is_null()).cloned();
            if op != OpKind::Remove && value.is_none() {
                return Err(ScimError::invalid_value(format!(
                    "A '{}' operation needs a 'value'",
                    if op == OpKind::Add { "add" } else { "replace" }
                )));
            }
            Ok(PatchOp { op, path, value })
        })
        .collect()
}

/// Applies operations to a canonical resource body (as produced by
/// [`super::resource::canonicalize`]). All or nothing: on error `resource` is unchanged.
pub fn apply_patch(
    reg: &SchemaRegistry,
    kind: ResourceKind,
    resource: &mut Map<String, Value>,
    ops: &[PatchOp],
) -> Result<(), ScimError> {
    let mut work = resource.clone();
    for op in ops {
        apply_one(reg, kind, &mut work, op)?;
    }
    // A change to `roles` that left the role attribute alone sets it from the new primary
    // (or only) role, as on POST and PUT.
    if let Some(role) = reg.role_attribute(kind) {
        if work.get("roles") != resource.get("roles") && role.get(&work) == role.get(resource) {
            if let Some(r) = role_from_roles(&work) {
                role.set(&mut work, r);
            }
        }
    }
    *resource = work;
    Ok(())
}

fn apply_one(
    reg: &SchemaRegistry,
    kind: ResourceKind,
    res: &mut Map<String, Value>,
    op: &PatchOp,
) -> Result<(), ScimError> {
    match &op.path {
        // The whole extension object: `path: "urn:…:enterprise:2.0:User"`.
        Some(path) if reg.extension(kind, path).is_some() => {
            let ext = reg.extension(kind, path).ok_or_else(ScimError::internal)?;
            if op.op == OpKind::Remove {
                res.remove(ext.id);
                return Ok(());
            }
            let obj = op
                .value
                .as_ref()
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "The value for '{}' must be an object of its attributes",
                        ext.id
                    ))
                })?;
            if op.op == OpKind::Replace {
                res.remove(ext.id);
            }
            // Unknown keys (a `schemas` echoed inside the object) are ignored, as on POST.
            for (k, v) in obj
                .iter()
                .filter(|(k, _)| find_attr(ext.attributes, k).is_some())
            {
                let pp = parse_patch_path(&format!("{}:{k}", ext.id))?;
                apply_path(reg, kind, res, OpKind::Add, &pp, Some(v))?;
            }
            Ok(())
        }
        Some(path) => {
            let pp = parse_patch_path(path)?;
            apply_path(reg, kind, res, op.op, &pp, op.value.as_ref())
        }
        None => {
            if op.op == OpKind::Remove {
                return Err(ScimError::no_target("A 'remove' operation needs a 'path'"));
            }
            let value = op
                .value
                .as_ref()
                .and_then(Value::as_object)
                .ok_or_else(|| {
                    ScimError::invalid_value("An operation without 'path' needs an object 'value'")
                })?;
            // Each key is its own path: `name.givenName`, `urn:…:User:department`, or an
            // extension URN holding an object of its attributes.
            for (key, v) in value {
                if let Some(ext) = reg.extension(kind, key) {
                    if let Some(o) = v.as_object() {
                        for (k, sv) in o {
                            let pp = parse_patch_path(&format!("{}:{k}", ext.id))?;
                            apply_path(reg, kind, res, op.op, &pp, Some(sv))?;
                        }
                        continue;
                    }
                }
                if ["schemas", "meta", "id"]
                    .iter()
                    .any(|k| k.eq_ignore_ascii_case(key))
                {
                    continue;
                }
                let pp = match parse_patch_path(key) {
                    Ok(pp) => pp,
                    Err(_) if key.contains(':') => continue,
                    Err(e) => return Err(e),
                };
                // Unknown or misspelt URN keys are ignored, as on POST and PUT.
                if pp.attr.urn.as_deref().is_some_and(|u| {
                    !u.eq_ignore_ascii_case(kind.core().id) && reg.extension(kind, u).is_none()
                }) {
                    continue;
                }
                apply_path(reg, kind, res, op.op, &pp, Some(v))?;
            }
            Ok(())
        }
    }
}

/// The object holding an attribute (the root or an extension object) and its definition.
type Located<'a> = (&'a mut Map<String, Value>, &'static AttrDef);

/// Resolves the container object (the root or an extension object) and the attribute.
pub(super) fn resolve<'a>(
    reg: &SchemaRegistry,
    kind: ResourceKind,
    res: &'a mut Map<String, Value>,
    attr: &AttrPath,
    create: bool,
) -> Result<Option<Located<'a>>, ScimError> {
    match &attr.urn {
        Some(urn) if !urn.eq_ignore_ascii_case(kind.core().id) => {
            let ext = reg.extension(kind, urn).ok_or_else(|| {
                ScimError::invalid_path(format!("Unknown schema '{urn}' in path"))
            })?;
            let def = find_attr(ext.attributes, &attr.name).ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "'{}' is not an attribute of {}",
                    attr.name, ext.id
                ))
            })?;
            if !res.contains_key(ext.id) {
                if !create {
                    return Ok(None);
                }
                res.insert(ext.id.to_string(), Value::Object(Map::new()));
            }
            let container = res
                .get_mut(ext.id)
                .and_then(Value::as_object_mut)
                .ok_or_else(ScimError::internal)?;
            Ok(Some((container, def)))
        }
        None if kind.core_attr(&attr.name).is_none() => {
            // A bare extension attribute (`manager`, `department`, `role`, …): the
            // extension that defines it, as Entra and Okta send them without the URN.
            let Some(ext) = bare_extension(reg, kind, &attr.name) else {
                return Err(ScimError::invalid_path(format!(
                    "'{}' is not an attribute of {}",
                    attr.name,
                    kind.name()
                )));
            };
            let full = AttrPath {
                urn: Some(ext.id.to_string()),
                ..attr.clone()
            };
            resolve(reg, kind, res, &full, create)
        }
        _ => {
            let def = kind.core_attr(&attr.name).ok_or_else(|| {
                ScimError::invalid_path(format!(
                    "'{}' is not an attribute of {}",
                    attr.name,
                    kind.name()
                ))
            })?;
            Ok(Some((res, def)))
        }
    }
}

/// The extension defining `name`, for paths that leave out the URN (the core schema is
/// looked up first, so core `roles` is never taken for an extension's `role`).
fn bare_extension(
    reg: &SchemaRegistry,
    kind: ResourceKind,
    name: &str,
) -> Option<&'static SchemaDef> {
    reg.extensions(kind)
        .find(|e| find_attr(e.attributes, name).is_some())
}

#[cfg(test)]
mod tests;
