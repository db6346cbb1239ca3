//! Group PATCH as membership deltas: operations become [`GroupChange`]s without touching
//! storage, so adding one member to a large group never rewrites the member list.

use super::{OpKind, PatchOp};
use crate::scim::error::ScimError;
use crate::scim::filter::{parse_patch_path, CompValue, CompareOp, Filter};
use crate::scim::json::get_ci;
use serde_json::Value;

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
                    .is_some_and(|u| !u.eq_ignore_ascii_case(crate::scim::schema::GROUP_SCHEMA))
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
