//! Applying one operation to one attribute of a user: whole values, sub-attributes and
//! `attr[filter].sub` paths, with the value-filter matching they need (RFC 7644 §3.5.2).

use super::{resolve, OpKind};
use crate::scim::error::ScimError;
use crate::scim::filter::{CompValue, CompareOp, Filter, PatchPath};
use crate::scim::registry::SchemaRegistry;
use crate::scim::resource::{canonicalize_attr, canonicalize_value, coerce_bool};
use crate::scim::schema::{AttrDef, AttrType, Mutability, ResourceKind};
use serde_json::{Map, Value};

pub(super) fn apply_path(
    reg: &SchemaRegistry,
    kind: ResourceKind,
    res: &mut Map<String, Value>,
    op: OpKind,
    pp: &PatchPath,
    value: Option<&Value>,
) -> Result<(), ScimError> {
    let Some((container, def)) = resolve(reg, kind, res, &pp.attr, op != OpKind::Remove)? else {
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
        // `password` is accepted and dropped: passwords are never stored.
        return Ok(());
    }
    let name = def.name;
    match (&pp.filter, &pp.attr.sub) {
        (None, None) => apply_whole(reg, kind, container, def, op, value),
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
    reg: &SchemaRegistry,
    kind: ResourceKind,
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
    let Some(new) = canonicalize_attr(reg.role_attribute(kind), def, v)? else {
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
