//! The PATCH engine (RFC 7644 §3.5.2). Users: read → apply every operation in memory, in
//! order, on a copy → the caller writes the result, so one failing operation applies none.
//! Groups: operations become membership deltas ([`GroupChange`]) so that adding one member
//! to a 10,000-member group never rewrites the member list.

use super::error::ScimError;
use super::filter::{parse_patch_path, AttrPath, CompValue, CompareOp, Filter, PatchPath};
use super::json::get_ci;
use super::resource::{canonicalize_value, coerce_bool, role_from_roles, role_of, set_role};
use super::schema::{
    find_attr, AttrDef, AttrType, Mutability, ResourceKind, SchemaDef, PATCH_OP_SCHEMA,
};
use serde_json::{Map, Value};

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
    kind: ResourceKind,
    resource: &mut Map<String, Value>,
    ops: &[PatchOp],
) -> Result<(), ScimError> {
    let mut work = resource.clone();
    for op in ops {
        apply_one(kind, &mut work, op)?;
    }
    // A change to `roles` that left the product role alone sets it from the new primary
    // (or only) role, as on POST and PUT.
    if kind == ResourceKind::User
        && work.get("roles") != resource.get("roles")
        && role_of(&work) == role_of(resource)
    {
        if let Some(r) = role_from_roles(&work) {
            set_role(&mut work, r);
        }
    }
    *resource = work;
    Ok(())
}

fn apply_one(
    kind: ResourceKind,
    res: &mut Map<String, Value>,
    op: &PatchOp,
) -> Result<(), ScimError> {
    match &op.path {
        // The whole extension object: `path: "urn:…:enterprise:2.0:User"`.
        Some(path) if kind.extension(path).is_some() => {
            let ext = kind.extension(path).ok_or_else(ScimError::internal)?;
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
                apply_path(kind, res, OpKind::Add, &pp, Some(v))?;
            }
            Ok(())
        }
        Some(path) => {
            let pp = parse_patch_path(path)?;
            apply_path(kind, res, op.op, &pp, op.value.as_ref())
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
                if let Some(ext) = kind.extension(key) {
                    if let Some(o) = v.as_object() {
                        for (k, sv) in o {
                            let pp = parse_patch_path(&format!("{}:{k}", ext.id))?;
                            apply_path(kind, res, op.op, &pp, Some(sv))?;
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
                    !u.eq_ignore_ascii_case(kind.core().id) && kind.extension(u).is_none()
                }) {
                    continue;
                }
                apply_path(kind, res, op.op, &pp, Some(v))?;
            }
            Ok(())
        }
    }
}

/// The object holding an attribute (the root or an extension object) and its definition.
type Located<'a> = (&'a mut Map<String, Value>, &'static AttrDef);

/// Resolves the container object (the root or an extension object) and the attribute.
fn resolve<'a>(
    kind: ResourceKind,
    res: &'a mut Map<String, Value>,
    attr: &AttrPath,
    create: bool,
) -> Result<Option<Located<'a>>, ScimError> {
    match &attr.urn {
        Some(urn) if !urn.eq_ignore_ascii_case(kind.core().id) => {
            let ext = kind.extension(urn).ok_or_else(|| {
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
            let Some(ext) = bare_extension(kind, &attr.name) else {
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
            resolve(kind, res, &full, create)
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
/// looked up first, so `roles` stays core and `role` is scimgate's).
fn bare_extension(kind: ResourceKind, name: &str) -> Option<&'static SchemaDef> {
    kind.extensions()
        .iter()
        .copied()
        .find(|e| find_attr(e.attributes, name).is_some())
}

fn apply_path(
    kind: ResourceKind,
    res: &mut Map<String, Value>,
    op: OpKind,
    pp: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some((container, def)) = resolve(kind, res, &pp.attr, op != OpKind::Remove)? else {
        return Ok(());
    };
    if def.mutability == Mutability::ReadOnly {
        // Okta and Entra resend `id` unchanged; anything that would change it is refused.
        if def.name == "id" {
            return Ok(());
        }
        return Err(ScimError::mutability(format!(
            "'{}' is read-only",
            def.name
        )));
    }
    if def.mutability == Mutability::WriteOnly {
        // `password` is accepted and dropped: scimgate does not synchronise passwords.
        return Ok(());
    }
    let name = def.name;
    match (&pp.filter, &pp.attr.sub) {
        (None, None) => apply_whole(container, def, op, value),
        (None, Some(sub)) => {
            let sd = sub_def(def, sub)?;
            if def.multi {
                return Err(ScimError::invalid_path(format!(
                    "Use a filter to pick elements of '{name}', e.g. {name}[type eq \"work\"].{}",
                    sd.name
                )));
            }
            match op {
                OpKind::Remove => {
                    if let Some(Value::Object(o)) = container.get_mut(name) {
                        o.remove(sd.name);
                        if o.is_empty() {
                            container.remove(name);
                        }
                    }
                }
                _ => {
                    let v = value.ok_or_else(|| ScimError::invalid_value("Missing value"))?;
                    let entry = container
                        .entry(name.to_string())
                        .or_insert_with(|| Value::Object(Map::new()));
                    if !entry.is_object() {
                        *entry = Value::Object(Map::new());
                    }
                    let o = entry.as_object_mut().ok_or_else(ScimError::internal)?;
                    match canonicalize_value(sd, v)? {
                        Some(v) => {
                            o.insert(sd.name.to_string(), v);
                        }
                        None => {
                            o.remove(sd.name);
                        }
                    }
                }
            }
            Ok(())
        }
        (Some(filter), sub) => {
            if !def.multi || def.ty != AttrType::Complex {
                return Err(ScimError::invalid_path(format!(
                    "'{name}' is not a multi-valued complex attribute"
                )));
            }
            if sub.is_some() {
                return Err(ScimError::invalid_path(
                    "A sub-attribute goes after the filter: attr[filter].sub",
                ));
            }
            let target_sub = pp
                .filter_sub
                .as_deref()
                .map(|s| sub_def(def, s))
                .transpose()?;
            let arr = container
                .entry(name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !arr.is_array() {
                *arr = Value::Array(Vec::new());
            }
            let items = arr.as_array_mut().ok_or_else(ScimError::internal)?;
            let mut matched = false;
            for item in items.iter_mut() {
                if !matches_element(def, filter, item)? {
                    continue;
                }
                matched = true;
                match (op, target_sub) {
                    (OpKind::Remove, Some(sd)) => {
                        if let Some(o) = item.as_object_mut() {
                            o.remove(sd.name);
                        }
                    }
                    (OpKind::Remove, None) => *item = Value::Null,
                    (_, Some(sd)) => {
                        let v = canonicalize_value(sd, value.unwrap_or(&Value::Null))?;
                        if let (Some(o), Some(v)) = (item.as_object_mut(), v) {
                            o.insert(sd.name.to_string(), v);
                        }
                    }
                    (_, None) => {
                        let v = value.and_then(Value::as_object).ok_or_else(|| {
                            ScimError::invalid_value(format!(
                                "The value for '{}' must be an object",
                                pp.attr
                            ))
                        })?;
                        let merged = canonicalize_value(def, &Value::Object(v.clone()))?;
                        if let (Some(o), Some(Value::Array(m))) = (item.as_object_mut(), merged) {
                            for (k, v) in m
                                .into_iter()
                                .filter_map(|e| e.as_object().cloned())
                                .flatten()
                            {
                                o.insert(k, v);
                            }
                        }
                    }
                }
            }
            items.retain(|v| !v.is_null());
            if !matched && op != OpKind::Remove {
                // Entra adds e.g. `emails[type eq "work"].value` to a user without a work
                // email: create the element from the filter's equality terms.
                let mut elem = Map::new();
                collect_equalities(def, filter, &mut elem)?;
                match target_sub {
                    Some(sd) => {
                        if let Some(v) = canonicalize_value(sd, value.unwrap_or(&Value::Null))? {
                            elem.insert(sd.name.to_string(), v);
                        }
                    }
                    None => {
                        if let Some(Value::Array(m)) =
                            canonicalize_value(def, value.unwrap_or(&Value::Null))?
                        {
                            for (k, v) in m
                                .into_iter()
                                .filter_map(|e| e.as_object().cloned())
                                .flatten()
                            {
                                elem.insert(k, v);
                            }
                        }
                    }
                }
                items.push(Value::Object(elem));
            }
            if items.is_empty() {
                container.remove(name);
            }
            enforce_single_primary(container, name);
            Ok(())
        }
    }
}

fn apply_whole(
    container: &mut Map<String, Value>,
    def: &AttrDef,
    op: OpKind,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let name = def.name;
    if op == OpKind::Remove {
        if def.required {
            return Err(ScimError::mutability(format!(
                "'{name}' is required and cannot be removed"
            )));
        }
        match value {
            // `remove` with a value on a multi-valued attribute removes just those elements.
            Some(v) if def.multi => {
                let gone = canonicalize_value(def, v)?
                    .and_then(|v| v.as_array().cloned())
                    .unwrap_or_default();
                if let Some(Value::Array(items)) = container.get_mut(name) {
                    items.retain(|i| !gone.iter().any(|g| same_element(i, g)));
                    if items.is_empty() {
                        container.remove(name);
                    }
                }
            }
            _ => {
                container.remove(name);
            }
        }
        return Ok(());
    }
    let v = value.ok_or_else(|| ScimError::invalid_value("Missing value"))?;
    let Some(new) = canonicalize_value(def, v)? else {
        if op == OpKind::Replace {
            if def.required {
                return Err(ScimError::invalid_value(format!("'{name}' is required")));
            }
            container.remove(name);
        }
        return Ok(());
    };
    match (def.multi, def.ty, op) {
        (true, _, OpKind::Add) => {
            let existing = container
                .entry(name.to_string())
                .or_insert_with(|| Value::Array(Vec::new()));
            if !existing.is_array() {
                *existing = Value::Array(Vec::new());
            }
            let items = existing.as_array_mut().ok_or_else(ScimError::internal)?;
            for n in new.as_array().cloned().unwrap_or_default() {
                if !items.iter().any(|i| i == &n) {
                    items.push(n);
                }
            }
        }
        (false, AttrType::Complex, _) => {
            // RFC 7644 §3.5.2.1/3: sub-attributes not named in the value stay as they are.
            let entry = container
                .entry(name.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let (Some(o), Value::Object(n)) = (entry.as_object_mut(), new) {
                o.extend(n);
            }
        }
        _ => {
            container.insert(name.to_string(), new);
        }
    }
    enforce_single_primary(container, name);
    Ok(())
}

/// RFC 7643 §2.4: at most one element has `primary: true`; the one written last wins.
fn enforce_single_primary(container: &mut Map<String, Value>, name: &str) {
    if let Some(Value::Array(items)) = container.get_mut(name) {
        let last = items
            .iter()
            .rposition(|i| i.get("primary") == Some(&Value::Bool(true)));
        if let Some(last) = last {
            for (idx, i) in items.iter_mut().enumerate() {
                if idx != last {
                    if let Some(o) = i.as_object_mut() {
                        if o.get("primary") == Some(&Value::Bool(true)) {
                            o.insert("primary".into(), Value::Bool(false));
                        }
                    }
                }
            }
        }
    }
}

fn same_element(a: &Value, b: &Value) -> bool {
    match (a.get("value"), b.get("value")) {
        (Some(x), Some(y)) => x == y,
        _ => a == b,
    }
}

fn sub_def(def: &AttrDef, sub: &str) -> Result<&'static AttrDef, ScimError> {
    def.sub
        .iter()
        .find(|s| s.name.eq_ignore_ascii_case(sub))
        .ok_or_else(|| {
            ScimError::invalid_path(format!("'{sub}' is not a sub-attribute of '{}'", def.name))
        })
}

fn collect_equalities(
    def: &AttrDef,
    f: &Filter,
    out: &mut Map<String, Value>,
) -> Result<(), ScimError> {
    match f {
        Filter::Compare(p, CompareOp::Eq, v) => {
            let sd = sub_def(def, &p.name)?;
            let json = match v {
                CompValue::Str(s) => Value::String(s.clone()),
                CompValue::Bool(b) => Value::Bool(*b),
                CompValue::Num(n) => serde_json::Number::from_f64(*n)
                    .map(Value::Number)
                    .unwrap_or(Value::Null),
                CompValue::Null => Value::Null,
            };
            if let Some(v) = canonicalize_value(sd, &json)? {
                out.insert(sd.name.to_string(), v);
            }
            Ok(())
        }
        Filter::And(a, b) => {
            collect_equalities(def, a, out)?;
            collect_equalities(def, b, out)
        }
        _ => Ok(()),
    }
}

/// Evaluates a value filter against one element of a multi-valued complex attribute.
pub fn matches_element(def: &AttrDef, f: &Filter, elem: &Value) -> Result<bool, ScimError> {
    Ok(match f {
        Filter::And(a, b) => matches_element(def, a, elem)? && matches_element(def, b, elem)?,
        Filter::Or(a, b) => matches_element(def, a, elem)? || matches_element(def, b, elem)?,
        Filter::Not(a) => !matches_element(def, a, elem)?,
        Filter::ValuePath(..) => {
            return Err(ScimError::invalid_filter(
                "Nested value filters are not allowed",
            ))
        }
        Filter::Present(p) => {
            let sd = sub_def(def, &p.name).map_err(|e| ScimError::invalid_filter(e.detail))?;
            elem.get(sd.name)
                .is_some_and(|v| !v.is_null() && v != &Value::String(String::new()))
        }
        Filter::Compare(p, op, v) => {
            let sd = sub_def(def, &p.name).map_err(|e| ScimError::invalid_filter(e.detail))?;
            compare_json(sd, elem.get(sd.name), *op, v)
        }
    })
}

fn compare_json(def: &AttrDef, actual: Option<&Value>, op: CompareOp, want: &CompValue) -> bool {
    match (actual, want) {
        (None | Some(Value::Null), CompValue::Null) => op == CompareOp::Eq,
        (None | Some(Value::Null), _) => op == CompareOp::Ne,
        (Some(_), CompValue::Null) => op == CompareOp::Ne,
        (Some(Value::Bool(a)), CompValue::Bool(b)) => match op {
            CompareOp::Eq => a == b,
            CompareOp::Ne => a != b,
            _ => false,
        },
        (Some(Value::Bool(a)), CompValue::Str(s)) => coerce_bool("", &Value::String(s.clone()))
            .ok()
            .map(|b| (op == CompareOp::Eq) == (b == Value::Bool(*a)))
            .unwrap_or(false),
        (Some(Value::String(a)), CompValue::Str(b)) => {
            let (a, b) = if def.case_exact {
                (a.clone(), b.clone())
            } else {
                (a.to_lowercase(), b.to_lowercase())
            };
            match op {
                CompareOp::Eq => a == b,
                CompareOp::Ne => a != b,
                CompareOp::Co => a.contains(&b),
                CompareOp::Sw => a.starts_with(&b),
                CompareOp::Ew => a.ends_with(&b),
                CompareOp::Gt => a > b,
                CompareOp::Ge => a >= b,
                CompareOp::Lt => a < b,
                CompareOp::Le => a <= b,
            }
        }
        _ => false,
    }
}

/// One membership or attribute change of a group PATCH, in request order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GroupChange {
    SetDisplayName(String),
    SetExternalId(Option<String>),
    AddMembers(Vec<String>),
    RemoveMembers(Vec<String>),
    RemoveAllMembers,
    ReplaceMembers(Vec<String>),
}

/// Turns group PATCH operations into [`GroupChange`]s without touching storage. Every form
/// Okta, Entra, OneLogin and JumpCloud send is accepted; see the tests for the catalogue.
pub fn group_changes(group_id: &str, ops: &[PatchOp]) -> Result<Vec<GroupChange>, ScimError> {
    let mut out = Vec::new();
    for op in ops {
        match &op.path {
            None => {
                if op.op == OpKind::Remove {
                    return Err(ScimError::no_target("A 'remove' operation needs a 'path'"));
                }
                let obj = op
                    .value
                    .as_ref()
                    .and_then(Value::as_object)
                    .ok_or_else(|| {
                        ScimError::invalid_value(
                            "An operation without 'path' needs an object 'value'",
                        )
                    })?;
                for (k, v) in obj {
                    if k.eq_ignore_ascii_case("id") {
                        // Okta sends the unchanged id with a rename.
                        if v.as_str() != Some(group_id) {
                            return Err(ScimError::mutability(
                                "'id' is read-only and cannot be changed",
                            ));
                        }
                    } else if k.eq_ignore_ascii_case("displayName") {
                        out.push(GroupChange::SetDisplayName(display_name(v)?));
                    } else if k.eq_ignore_ascii_case("externalId") {
                        out.push(GroupChange::SetExternalId(v.as_str().map(str::to_string)));
                    } else if k.eq_ignore_ascii_case("members") {
                        let ids = member_ids(Some(v))?;
                        out.push(if op.op == OpKind::Add {
                            GroupChange::AddMembers(ids)
                        } else {
                            GroupChange::ReplaceMembers(ids)
                        });
                    }
                }
            }
            Some(path) => {
                let pp = parse_patch_path(path)?;
                if pp
                    .attr
                    .urn
                    .as_deref()
                    .is_some_and(|u| !u.eq_ignore_ascii_case(super::schema::GROUP_SCHEMA))
                {
                    return Err(ScimError::invalid_path(format!(
                        "Unknown schema in path '{path}'"
                    )));
                }
                let name = pp.attr.name.to_ascii_lowercase();
                match (name.as_str(), op.op) {
                    ("displayname", OpKind::Remove) => {
                        return Err(ScimError::mutability(
                            "'displayName' is required and cannot be removed",
                        ))
                    }
                    ("displayname", _) => out.push(GroupChange::SetDisplayName(display_name(
                        op.value.as_ref().unwrap_or(&Value::Null),
                    )?)),
                    ("externalid", OpKind::Remove) => out.push(GroupChange::SetExternalId(None)),
                    ("externalid", _) => out.push(GroupChange::SetExternalId(
                        op.value
                            .as_ref()
                            .and_then(Value::as_str)
                            .map(str::to_string),
                    )),
                    ("members", kind) => {
                        if pp.attr.sub.is_some() || pp.filter_sub.is_some() {
                            return Err(ScimError::invalid_path("Members are changed as a whole: use 'members' or 'members[value eq \"id\"]'"));
                        }
                        match (kind, &pp.filter) {
                            (OpKind::Remove, Some(f)) => {
                                out.push(GroupChange::RemoveMembers(filter_member_ids(f)?))
                            }
                            (OpKind::Remove, None) => match &op.value {
                                None => out.push(GroupChange::RemoveAllMembers),
                                Some(v) => {
                                    out.push(GroupChange::RemoveMembers(member_ids(Some(v))?))
                                }
                            },
                            (OpKind::Add, None) => {
                                out.push(GroupChange::AddMembers(member_ids(op.value.as_ref())?))
                            }
                            (OpKind::Replace, None) => out
                                .push(GroupChange::ReplaceMembers(member_ids(op.value.as_ref())?)),
                            (_, Some(f)) => {
                                // `add members[value eq "x"]` adds x; a replace there is the same.
                                out.push(GroupChange::AddMembers(filter_member_ids(f)?));
                            }
                        }
                    }
                    ("id", _) => return Err(ScimError::mutability("'id' is read-only")),
                    _ => {
                        return Err(ScimError::invalid_path(format!(
                            "'{}' is not an attribute of Group",
                            pp.attr.name
                        )))
                    }
                }
            }
        }
    }
    Ok(out)
}

fn display_name(v: &Value) -> Result<String, ScimError> {
    match v.as_str().map(str::trim) {
        Some(s) if !s.is_empty() => Ok(s.to_string()),
        _ => Err(ScimError::invalid_value(
            "'displayName' must be a non-empty string",
        )),
    }
}

/// Member ids from a value: an array of `{value}` objects, one object, a bare id string or
/// an array of strings (JumpCloud and some Okta custom apps).
pub fn member_ids(v: Option<&Value>) -> Result<Vec<String>, ScimError> {
    let bad = || {
        ScimError::invalid_value("'members' must be a list of objects with a 'value' (the user id)")
    };
    let one = |m: &Value| -> Result<String, ScimError> {
        match m {
            Value::String(s) => Ok(s.clone()),
            Value::Object(o) => get_ci(o, "value")
                .and_then(Value::as_str)
                .map(str::to_string)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    };
    match v {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(a)) => a.iter().map(one).collect(),
        Some(other) => Ok(vec![one(other)?]),
    }
}

fn filter_member_ids(f: &Filter) -> Result<Vec<String>, ScimError> {
    match f {
        Filter::Compare(p, CompareOp::Eq, CompValue::Str(s))
            if p.name.eq_ignore_ascii_case("value") && p.sub.is_none() =>
        {
            Ok(vec![s.clone()])
        }
        Filter::Or(a, b) => {
            let mut v = filter_member_ids(a)?;
            v.extend(filter_member_ids(b)?);
            Ok(v)
        }
        _ => Err(ScimError::invalid_filter(
            "Member filters must be 'value eq \"id\"', optionally joined with 'or'",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::resource::canonicalize;
    use serde_json::json;

    fn ops(v: Value) -> Vec<PatchOp> {
        parse_patch_request(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": v})).unwrap()
    }

    fn user(v: Value) -> Map<String, Value> {
        canonicalize(ResourceKind::User, &v).unwrap()
    }

    fn patched(start: Value, o: Value) -> Result<Value, ScimError> {
        let mut u = user(start);
        apply_patch(ResourceKind::User, &mut u, &ops(o))?;
        Ok(Value::Object(u))
    }

    #[test]
    fn replace_active_capitalised_op_and_string_boolean() {
        let u = patched(
            json!({"userName": "a", "active": true}),
            json!([{"op": "Replace", "path": "active", "value": "False"}]),
        )
        .unwrap();
        assert_eq!(u["active"], false);
        let u = patched(
            json!({"userName": "a", "active": true}),
            json!([{"op": "replace", "value": {"active": false}}]),
        )
        .unwrap();
        assert_eq!(u["active"], false);
    }

    #[test]
    fn pathless_replace_merges_keys_including_dotted_and_urn() {
        let u = patched(
            json!({"userName": "a", "name": {"givenName": "A", "familyName": "F"}, "title": "T"}),
            json!([{"op": "replace", "value": {
                "name.givenName": "B",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department": "Ops",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"costCenter": "42"},
                "displayName": "Bee"
            }}]),
        )
        .unwrap();
        assert_eq!(u["name"], json!({"givenName": "B", "familyName": "F"}));
        assert_eq!(u["title"], "T");
        assert_eq!(u["displayName"], "Bee");
        assert_eq!(
            u["urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
            json!({"department": "Ops", "costCenter": "42"})
        );
    }

    #[test]
    fn filtered_email_paths_update_and_create() {
        let start = json!({"userName": "a", "emails": [{"value": "a@x", "type": "work", "primary": true}, {"value": "h@x", "type": "home"}]});
        let u = patched(
            start.clone(),
            json!([{"op": "replace", "path": "emails[type eq \"work\"].value", "value": "new@x"}]),
        )
        .unwrap();
        assert_eq!(u["emails"][0]["value"], "new@x");
        assert_eq!(u["emails"][1]["value"], "h@x");
        let u = patched(
            json!({"userName": "a"}),
            json!([{"op": "add", "path": "emails[type eq \"work\"].value", "value": "w@x"}]),
        )
        .unwrap();
        assert_eq!(u["emails"], json!([{"type": "work", "value": "w@x"}]));
        let u = patched(
            start.clone(),
            json!([{"op": "remove", "path": "emails[type eq \"home\"]"}]),
        )
        .unwrap();
        assert_eq!(u["emails"].as_array().unwrap().len(), 1);
        let u = patched(start, json!([{"op": "add", "path": "emails", "value": [{"value": "third@x", "type": "other", "primary": true}]}])).unwrap();
        assert_eq!(u["emails"].as_array().unwrap().len(), 3);
        assert_eq!(u["emails"][0]["primary"], false);
    }

    #[test]
    fn manager_forms() {
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        for value in [
            json!("m1"),
            json!({"value": "m1"}),
            json!([{"value": "m1"}]),
        ] {
            let u = patched(
                json!({"userName": "a"}),
                json!([{"op": "add", "path": format!("{urn}:manager"), "value": value}]),
            )
            .unwrap();
            assert_eq!(u[urn]["manager"], json!({"value": "m1"}));
        }
        let u = patched(
            json!({"userName": "a"}),
            json!([{"op": "replace", "path": format!("{urn}:manager.value"), "value": "m2"}]),
        )
        .unwrap();
        assert_eq!(u[urn]["manager"], json!({"value": "m2"}));
        let u = patched(
            json!({"userName": "a", urn: {"manager": "m"}}),
            json!([{"op": "remove", "path": format!("{urn}:manager")}]),
        )
        .unwrap();
        assert!(u.get(urn).and_then(|e| e.get("manager")).is_none());
    }

    #[test]
    fn enterprise_attributes_without_their_urn() {
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let u = patched(
            json!({"userName": "a"}),
            json!([
                {"op": "add", "path": "department", "value": "Sales"},
                {"op": "add", "path": "employeeNumber", "value": "7"},
                {"op": "replace", "path": "costCenter", "value": "CC"},
                {"op": "add", "path": "organization", "value": "Org"},
                {"op": "add", "path": "division", "value": "Div"},
                {"op": "add", "path": "manager", "value": [{"value": "m1"}]}
            ]),
        )
        .unwrap();
        assert_eq!(
            u[urn],
            json!({"department": "Sales", "employeeNumber": "7", "costCenter": "CC", "organization": "Org", "division": "Div", "manager": {"value": "m1"}})
        );
        assert!(u.get("department").is_none(), "{u}");
        for value in [
            json!("m2"),
            json!({"value": "m2"}),
            json!([{"value": "m2"}]),
        ] {
            let u = patched(
                json!({"userName": "a", urn: {"manager": "m1"}}),
                json!([{"op": "Replace", "path": "manager", "value": value}]),
            )
            .unwrap();
            assert_eq!(u[urn]["manager"], json!({"value": "m2"}));
        }
        let u = patched(
            json!({"userName": "a"}),
            json!([{"op": "replace", "path": "manager.value", "value": "m3"}]),
        )
        .unwrap();
        assert_eq!(u[urn]["manager"], json!({"value": "m3"}));
        // Path-less replace with bare keys, as Okta sends profile updates.
        let u = patched(
            json!({"userName": "a", urn: {"division": "D"}}),
            json!([{"op": "replace", "value": {"department": "Ops", "manager": {"value": "m4"}, "title": "T"}}]),
        )
        .unwrap();
        assert_eq!(
            u[urn],
            json!({"division": "D", "department": "Ops", "manager": {"value": "m4"}})
        );
        assert_eq!(u["title"], "T");
        let u = patched(
            json!({"userName": "a", urn: {"department": "X", "division": "D"}}),
            json!([{"op": "remove", "path": "department"}]),
        )
        .unwrap();
        assert_eq!(u[urn], json!({"division": "D"}));
        // Unknown bare names are still refused.
        let e = patched(
            json!({"userName": "a"}),
            json!([{"op": "add", "path": "departement", "value": "X"}]),
        )
        .unwrap_err();
        assert_eq!(e.status, 400);
    }

    #[test]
    fn role_forms_land_in_the_scimgate_extension() {
        let ext = crate::scim::schema::SCIMGATE_USER_SCHEMA;
        for o in [
            json!([{"op": "replace", "path": "role", "value": "admin"}]),
            json!([{"op": "add", "path": "role", "value": {"role": "admin"}}]),
            json!([{"op": "replace", "value": {"role": "admin"}}]),
            json!([{"op": "replace", "value": {"role": {"role": "admin"}}}]),
            json!([{"op": "replace", "path": format!("{ext}:role"), "value": "admin"}]),
            json!([{"op": "add", "path": "roles", "value": [{"value": "admin", "primary": true}]}]),
            json!([{"op": "replace", "value": {"roles": [{"value": "admin"}]}}]),
            json!([{"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "admin"}]),
        ] {
            let u = patched(json!({"userName": "a", ext: {"role": "member"}}), o.clone()).unwrap();
            assert_eq!(u[ext]["role"], "admin", "{o}");
            assert!(u.get("role").is_none(), "{o}: {u}");
        }
        // An explicit role in the same PATCH wins over roles.
        let u = patched(
            json!({"userName": "a"}),
            json!([
                {"op": "add", "path": "roles", "value": [{"value": "admin", "primary": true}]},
                {"op": "replace", "path": "role", "value": "viewer"}
            ]),
        )
        .unwrap();
        assert_eq!(u[ext]["role"], "viewer");
        // Several roles and none primary: no role is picked; the old one stays.
        let u = patched(
            json!({"userName": "a", ext: {"role": "member"}}),
            json!([{"op": "add", "path": "roles", "value": [{"value": "x"}, {"value": "y"}]}]),
        )
        .unwrap();
        assert_eq!(u[ext]["role"], "member");
        let u = patched(
            json!({"userName": "a", ext: {"role": "member"}}),
            json!([{"op": "remove", "path": "role"}]),
        )
        .unwrap();
        assert!(u.get(ext).and_then(|e| e.get("role")).is_none(), "{u}");
    }

    #[test]
    fn whole_extension_paths() {
        let urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";
        let u = patched(
            json!({"userName": "a", urn: {"division": "D"}}),
            json!([{"op": "add", "path": urn, "value": {"department": "X"}}]),
        )
        .unwrap();
        assert_eq!(u[urn], json!({"division": "D", "department": "X"}));
        let u = patched(
            json!({"userName": "a", urn: {"division": "D"}}),
            json!([{"op": "replace", "path": urn, "value": {"department": "X"}}]),
        )
        .unwrap();
        assert_eq!(u[urn], json!({"department": "X"}));
        let u = patched(
            json!({"userName": "a", urn: {"division": "D"}}),
            json!([{"op": "remove", "path": urn}]),
        )
        .unwrap();
        assert!(u.get(urn).is_none());
    }

    #[test]
    fn sub_attribute_paths_and_remove() {
        let u = patched(json!({"userName": "a", "name": {"familyName": "F"}}), json!([{"op": "add", "path": "name.givenName", "value": "G"}, {"op": "remove", "path": "name.familyName"}])).unwrap();
        assert_eq!(u["name"], json!({"givenName": "G"}));
        let u = patched(
            json!({"userName": "a", "title": "T"}),
            json!([{"op": "remove", "path": "title"}]),
        )
        .unwrap();
        assert!(u.get("title").is_none());
    }

    #[test]
    fn atomic_failure_changes_nothing() {
        let mut u = user(json!({"userName": "a", "title": "T"}));
        let before = u.clone();
        let o = ops(json!([
            {"op": "replace", "path": "title", "value": "changed"},
            {"op": "replace", "path": "noSuchAttribute", "value": "x"}
        ]));
        let e = apply_patch(ResourceKind::User, &mut u, &o).unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidPath));
        assert_eq!(u, before);
        let o = ops(
            json!([{"op": "replace", "path": "title", "value": "c"}, {"op": "replace", "path": "active", "value": "maybe"}]),
        );
        assert!(apply_patch(ResourceKind::User, &mut u, &o).is_err());
        assert_eq!(u, before);
        let o = ops(json!([{"op": "remove", "path": "userName"}]));
        assert!(apply_patch(ResourceKind::User, &mut u, &o).is_err());
    }

    #[test]
    fn malformed_requests() {
        assert!(
            parse_patch_request(&json!({"Operations": [{"op": "move", "path": "x"}]})).is_err()
        );
        assert!(parse_patch_request(&json!({"Operations": []})).is_err());
        assert!(
            parse_patch_request(&json!({"Operations": [{"op": "add", "path": "title"}]})).is_err()
        );
        assert!(parse_patch_request(
            &json!({"schemas": ["urn:wrong"], "Operations": [{"op": "remove", "path": "title"}]})
        )
        .is_err());
        assert!(parse_patch_request(&json!([])).is_err());
        let o = parse_patch_request(&json!({"operations": [{"OP": "REMOVE", "Path": "title"}]}))
            .unwrap();
        assert_eq!(o[0].op, OpKind::Remove);
    }

    #[test]
    fn group_forms() {
        use GroupChange::*;
        let g = |v: Value| group_changes("g1", &ops(v));
        assert_eq!(g(json!([{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}])).unwrap(), vec![AddMembers(vec!["u1".into(), "u2".into()])]);
        assert_eq!(
            g(json!([{"op": "Add", "path": "members", "value": "u1"}])).unwrap(),
            vec![AddMembers(vec!["u1".into()])]
        );
        assert_eq!(
            g(json!([{"op": "remove", "path": "members[value eq \"u1\"]"}])).unwrap(),
            vec![RemoveMembers(vec!["u1".into()])]
        );
        assert_eq!(
            g(json!([{"op": "remove", "path": "members[value eq \"u1\" or value eq \"u2\"]"}]))
                .unwrap(),
            vec![RemoveMembers(vec!["u1".into(), "u2".into()])]
        );
        assert_eq!(
            g(json!([{"op": "remove", "path": "members", "value": [{"value": "u3"}]}])).unwrap(),
            vec![RemoveMembers(vec!["u3".into()])]
        );
        assert_eq!(
            g(json!([{"op": "remove", "path": "members"}])).unwrap(),
            vec![RemoveAllMembers]
        );
        assert_eq!(
            g(json!([{"op": "replace", "path": "members", "value": []}])).unwrap(),
            vec![ReplaceMembers(vec![])]
        );
        assert_eq!(
            g(json!([{"op": "replace", "value": {"id": "g1", "displayName": "New"}}])).unwrap(),
            vec![SetDisplayName("New".into())]
        );
        assert_eq!(
            g(json!([{"op": "replace", "path": "displayName", "value": "N2"}])).unwrap(),
            vec![SetDisplayName("N2".into())]
        );
        let e = g(json!([{"op": "replace", "value": {"id": "other", "displayName": "New"}}]))
            .unwrap_err();
        assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::Mutability));
        assert_eq!(
            g(json!([{"op": "remove", "path": "members", "value": [{"value": "a"}]}, {"op": "add", "path": "members", "value": [{"value": "b"}]}])).unwrap(),
            vec![RemoveMembers(vec!["a".into()]), AddMembers(vec!["b".into()])]
        );
        assert!(g(json!([{"op": "remove", "path": "members[display eq \"x\"]"}])).is_err());
        assert!(
            g(json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}])).is_err()
        );
        assert!(g(json!([{"op": "replace", "path": "displayName", "value": ""}])).is_err());
    }

    mod props {
        use super::*;
        use proptest::prelude::*;

        fn arb_path() -> impl Strategy<Value = Option<String>> {
            prop::option::of(
                prop::sample::select(vec![
                    "title",
                    "active",
                    "userName",
                    "name.givenName",
                    "name",
                    "emails",
                    "emails[type eq \"work\"].value",
                    "emails[type eq \"home\"]",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
                    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                    "nosuch",
                    "emails[",
                    "id",
                    "groups",
                ])
                .prop_map(str::to_string),
            )
        }

        fn arb_value() -> impl Strategy<Value = Option<Value>> {
            prop::option::of(prop_oneof![
                any::<String>().prop_map(Value::String),
                any::<bool>().prop_map(Value::Bool),
                Just(json!({"givenName": "G", "active": "False"})),
                Just(json!([{"value": "v@x", "type": "work"}])),
                Just(json!({"title": "T", "name.familyName": "F"})),
                Just(Value::Null),
            ])
        }

        fn arb_ops() -> impl Strategy<Value = Vec<PatchOp>> {
            prop::collection::vec(
                (
                    prop::sample::select(vec![OpKind::Add, OpKind::Replace, OpKind::Remove]),
                    arb_path(),
                    arb_value(),
                )
                    .prop_map(|(op, path, value)| PatchOp { op, path, value }),
                1..6,
            )
        }

        proptest! {
            /// Any sequence of operations either applies or leaves the resource exactly as it
            /// was; it never panics, and a result always keeps a non-empty userName.
            #[test]
            fn all_or_nothing(ops in arb_ops()) {
                let start = user(json!({"userName": "a", "title": "t", "emails": [{"value": "a@x", "type": "work"}]}));
                let mut u = start.clone();
                match apply_patch(ResourceKind::User, &mut u, &ops) {
                    Ok(()) => prop_assert!(u.get("userName").is_some_and(|v| v.as_str().is_some_and(|s| !s.is_empty()) || v.is_string())),
                    Err(e) => {
                        prop_assert_eq!(&u, &start);
                        prop_assert!(e.status == 400);
                    }
                }
            }

            #[test]
            fn group_changes_never_panic(ops in arb_ops()) {
                let _ = group_changes("g", &ops);
            }
        }
    }
}
