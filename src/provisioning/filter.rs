//! SCIM filters (parsed by [`crate::scim::filter`]) become store queries ([`Cond`]):
//! attribute names are resolved against the schema (unknown → `invalidFilter`), values are
//! type-checked, `caseExact` decides the comparison and dates become timestamps.

use crate::directory::query::{Collection, Cond, Op, SortKey, Target, Val};
use crate::scim::filter::{AttrPath, CompValue, CompareOp, Filter};
use crate::scim::schema::{find_attr, AttrDef, AttrType, ResourceKind};
use crate::scim::ScimError;

pub fn to_cond(kind: ResourceKind, f: &Filter) -> Result<Cond, ScimError> {
    Ok(match f {
        Filter::And(a, b) => Cond::And(Box::new(to_cond(kind, a)?), Box::new(to_cond(kind, b)?)),
        Filter::Or(a, b) => Cond::Or(Box::new(to_cond(kind, a)?), Box::new(to_cond(kind, b)?)),
        Filter::Not(a) => Cond::Not(Box::new(to_cond(kind, a)?)),
        Filter::Present(p) => attr_test(kind, p, Op::Pr, &CompValue::Null)?,
        Filter::Compare(p, op, v) => attr_test(kind, p, map_op(*op), v)?,
        Filter::ValuePath(p, inner) => {
            let (coll, def) = collection(kind, p)?;
            check_collection(&coll, inner)?;
            let coll = refine_emails(coll, inner);
            Cond::Any(coll, Box::new(elem_cond(def, inner)?))
        }
    })
}

fn map_op(op: CompareOp) -> Op {
    match op {
        CompareOp::Eq => Op::Eq,
        CompareOp::Ne => Op::Ne,
        CompareOp::Co => Op::Co,
        CompareOp::Sw => Op::Sw,
        CompareOp::Ew => Op::Ew,
        CompareOp::Gt => Op::Gt,
        CompareOp::Ge => Op::Ge,
        CompareOp::Lt => Op::Lt,
        CompareOp::Le => Op::Le,
    }
}

fn unknown(p: &AttrPath) -> ScimError {
    ScimError::invalid_filter(format!("'{p}' is not an attribute that can be filtered on"))
}

/// Which schema a path belongs to: `Ok(None)` for the core schema, or the extension URN.
fn schema_of(
    kind: ResourceKind,
    p: &AttrPath,
) -> Result<Option<&'static crate::scim::schema::SchemaDef>, ScimError> {
    match &p.urn {
        None => Ok(None),
        Some(u) if u.eq_ignore_ascii_case(kind.core().id) => Ok(None),
        Some(u) => super::schemas::REGISTRY
            .extension(kind, u)
            .map(Some)
            .ok_or_else(|| unknown(p)),
    }
}

/// A multi-valued attribute as a collection to search with EXISTS.
fn collection(
    kind: ResourceKind,
    p: &AttrPath,
) -> Result<(Collection, &'static AttrDef), ScimError> {
    let def = match schema_of(kind, p)? {
        None => kind.core_attr(&p.name),
        Some(ext) => find_attr(ext.attributes, &p.name),
    }
    .ok_or_else(|| unknown(p))?;
    if !def.multi || def.ty != AttrType::Complex {
        return Err(ScimError::invalid_filter(format!(
            "'{p}' is not a multi-valued attribute; '[...]' filters need one"
        )));
    }
    let coll = match (kind, def.name) {
        (ResourceKind::Group, "members") => Collection::Members,
        (ResourceKind::User, "emails") => Collection::Emails,
        (ResourceKind::User, "groups") => Collection::UserGroups,
        _ => {
            let mut path = Vec::new();
            if let Some(ext) = schema_of(kind, p)? {
                path.push(ext.id.to_string());
            }
            path.push(def.name.to_string());
            Collection::Json(path)
        }
    };
    Ok((coll, def))
}

/// The indexed email table holds value, type and primary; other sub-attributes are read
/// from the JSON body.
fn refine_emails(coll: Collection, inner: &Filter) -> Collection {
    refine(coll, inner)
}

fn value_only(f: &Filter) -> bool {
    match f {
        Filter::And(a, b) | Filter::Or(a, b) => value_only(a) && value_only(b),
        Filter::Not(a) => value_only(a),
        Filter::Present(p) | Filter::Compare(p, _, _) => p.name.eq_ignore_ascii_case("value"),
        Filter::ValuePath(..) => false,
    }
}

/// Membership collections can be searched by `value` (the id) only.
pub fn check_collection(coll: &Collection, inner: &Filter) -> Result<(), ScimError> {
    if matches!(coll, Collection::Members | Collection::UserGroups) && !value_only(inner) {
        return Err(ScimError::invalid_filter(
            "Memberships can be filtered by 'value' (the id) only",
        ));
    }
    Ok(())
}

fn refine(coll: Collection, inner: &Filter) -> Collection {
    fn subs_ok(f: &Filter) -> bool {
        match f {
            Filter::And(a, b) | Filter::Or(a, b) => subs_ok(a) && subs_ok(b),
            Filter::Not(a) => subs_ok(a),
            Filter::Present(p) | Filter::Compare(p, _, _) => ["value", "type", "primary"]
                .iter()
                .any(|s| s.eq_ignore_ascii_case(&p.name)),
            Filter::ValuePath(..) => false,
        }
    }
    match coll {
        Collection::Emails if !subs_ok(inner) => Collection::Json(vec!["emails".into()]),
        other => other,
    }
}

fn elem_cond(def: &'static AttrDef, f: &Filter) -> Result<Cond, ScimError> {
    Ok(match f {
        Filter::And(a, b) => Cond::And(Box::new(elem_cond(def, a)?), Box::new(elem_cond(def, b)?)),
        Filter::Or(a, b) => Cond::Or(Box::new(elem_cond(def, a)?), Box::new(elem_cond(def, b)?)),
        Filter::Not(a) => Cond::Not(Box::new(elem_cond(def, a)?)),
        Filter::ValuePath(..) => {
            return Err(ScimError::invalid_filter("Value filters cannot be nested"))
        }
        Filter::Present(p) => elem_test(def, p, Op::Pr, &CompValue::Null)?,
        Filter::Compare(p, op, v) => elem_test(def, p, map_op(*op), v)?,
    })
}

fn elem_test(
    def: &'static AttrDef,
    p: &AttrPath,
    op: Op,
    v: &CompValue,
) -> Result<Cond, ScimError> {
    if p.urn.is_some() || p.sub.is_some() {
        return Err(ScimError::invalid_filter(format!(
            "'{p}' is not a sub-attribute of '{}'",
            def.name
        )));
    }
    let sd = find_attr(def.sub, &p.name).ok_or_else(|| {
        ScimError::invalid_filter(format!(
            "'{}' is not a sub-attribute of '{}'",
            p.name, def.name
        ))
    })?;
    let val = value_for(sd, op, v)?;
    Ok(Cond::Test(
        Target::Elem {
            sub: sd.name.to_string(),
            case_exact: sd.case_exact,
            boolean: sd.ty == AttrType::Boolean,
        },
        op,
        val,
    ))
}

fn attr_test(kind: ResourceKind, p: &AttrPath, op: Op, v: &CompValue) -> Result<Cond, ScimError> {
    let ext = schema_of(kind, p)?;
    if ext.is_none() && p.name.eq_ignore_ascii_case("meta") {
        let target = match p.sub.as_deref().map(str::to_ascii_lowercase).as_deref() {
            Some("created") => Target::Created,
            Some("lastmodified") => Target::Modified,
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{p}' cannot be filtered on; use meta.created or meta.lastModified"
                )))
            }
        };
        let val = match (op, v) {
            (Op::Pr, _) => Val::Null,
            (_, CompValue::Str(s)) => Val::Time(parse_time(s)?),
            _ => {
                return Err(ScimError::invalid_filter(format!(
                    "'{p}' is compared with a date string like \"2026-01-31T12:00:00Z\""
                )))
            }
        };
        return Ok(Cond::Test(target, op, val));
    }
    let def = match ext {
        None => kind.core_attr(&p.name),
        Some(e) => find_attr(e.attributes, &p.name),
    }
    .ok_or_else(|| unknown(p))?;
    if def.multi {
        // `emails eq "x"` means `emails.value eq "x"`; `emails pr` means "has any".
        let (coll, def) = collection(
            kind,
            &AttrPath {
                urn: p.urn.clone(),
                name: p.name.clone(),
                sub: None,
            },
        )?;
        let sub = p.sub.clone().unwrap_or_else(|| "value".into());
        let inner_path = AttrPath {
            urn: None,
            name: sub,
            sub: None,
        };
        let inner = match op {
            Op::Pr if p.sub.is_none() => return Ok(Cond::Any(coll, Box::new(Cond::All))),
            Op::Pr => Filter::Present(inner_path),
            _ => Filter::Compare(inner_path, unmap_op(op), v.clone()),
        };
        check_collection(&coll, &inner)?;
        let coll = refine_emails(coll, &inner);
        return Ok(Cond::Any(coll, Box::new(elem_cond(def, &inner)?)));
    }
    let (leaf, json_path) = match (&p.sub, def.ty) {
        (Some(sub), AttrType::Complex) => {
            let sd = find_attr(def.sub, sub).ok_or_else(|| unknown(p))?;
            (sd, vec![def.name.to_string(), sd.name.to_string()])
        }
        (Some(_), _) => return Err(unknown(p)),
        (None, _) => (def, vec![def.name.to_string()]),
    };
    let val = value_for(leaf, op, v)?;
    let target = match (ext, leaf.name, kind) {
        (None, "id", _) => Target::Id,
        (None, "externalId", _) => Target::ExternalId,
        (None, "userName", ResourceKind::User) => Target::UserName,
        (None, "displayName", _) if p.sub.is_none() => Target::DisplayName,
        (None, "active", ResourceKind::User) => Target::Active,
        _ => {
            let mut path = Vec::new();
            if let Some(e) = ext {
                path.push(e.id.to_string());
            }
            path.extend(json_path);
            Target::Json {
                path,
                case_exact: leaf.case_exact,
                boolean: leaf.ty == AttrType::Boolean,
            }
        }
    };
    Ok(Cond::Test(target, op, val))
}

fn unmap_op(op: Op) -> CompareOp {
    match op {
        Op::Eq | Op::Pr => CompareOp::Eq,
        Op::Ne => CompareOp::Ne,
        Op::Co => CompareOp::Co,
        Op::Sw => CompareOp::Sw,
        Op::Ew => CompareOp::Ew,
        Op::Gt => CompareOp::Gt,
        Op::Ge => CompareOp::Ge,
        Op::Lt => CompareOp::Lt,
        Op::Le => CompareOp::Le,
    }
}

fn value_for(def: &AttrDef, op: Op, v: &CompValue) -> Result<Val, ScimError> {
    if op == Op::Pr {
        return Ok(Val::Null);
    }
    match (def.ty, v) {
        (_, CompValue::Null) if matches!(op, Op::Eq | Op::Ne) => Ok(Val::Null),
        (AttrType::Boolean, CompValue::Bool(b)) if matches!(op, Op::Eq | Op::Ne) => {
            Ok(Val::Bool(*b))
        }
        (AttrType::Boolean, CompValue::Str(s))
            if matches!(op, Op::Eq | Op::Ne)
                && (s.eq_ignore_ascii_case("true") || s.eq_ignore_ascii_case("false")) =>
        {
            Ok(Val::Bool(s.eq_ignore_ascii_case("true")))
        }
        (AttrType::Boolean, _) => Err(ScimError::invalid_filter(format!(
            "'{}' is a boolean: use eq or ne with true or false",
            def.name
        ))),
        (AttrType::Complex, _) => Err(ScimError::invalid_filter(format!(
            "'{}' is complex: filter on one of its sub-attributes",
            def.name
        ))),
        (_, CompValue::Str(s)) => Ok(Val::Str(s.clone())),
        (_, CompValue::Num(n)) => Ok(Val::Str(n.to_string())),
        (_, CompValue::Bool(b)) => Ok(Val::Str(b.to_string())),
        (_, CompValue::Null) => Err(ScimError::invalid_filter(
            "null can only be compared with eq or ne",
        )),
    }
}

/// RFC 3339 / xsd:dateTime to Unix milliseconds.
pub fn parse_time(s: &str) -> Result<i64, ScimError> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339)
        .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
        .map_err(|_| {
            ScimError::invalid_filter(format!(
                "'{s}' is not a date-time like \"2026-01-31T12:00:00Z\""
            ))
        })
}

pub fn sort_key(kind: ResourceKind, sort_by: Option<&str>) -> Result<SortKey, ScimError> {
    let Some(s) = sort_by else {
        return Ok(SortKey::Id);
    };
    let s = s.rsplit(':').next().unwrap_or(s).to_ascii_lowercase();
    Ok(match (s.as_str(), kind) {
        ("id", _) => SortKey::Id,
        ("username", ResourceKind::User) => SortKey::UserName,
        ("displayname", _) => SortKey::DisplayName,
        ("externalid", _) => SortKey::ExternalId,
        ("meta.created", _) => SortKey::Created,
        ("meta.lastmodified", _) => SortKey::Modified,
        _ => {
            return Err(ScimError::invalid_value(format!(
                "sortBy '{s}' is not supported; use id, userName, displayName, externalId, meta.created or meta.lastModified"
            )))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scim::filter::parse_filter;

    fn c(kind: ResourceKind, f: &str) -> Result<Cond, ScimError> {
        to_cond(kind, &parse_filter(f).unwrap())
    }

    #[test]
    fn known_attributes_translate() {
        for f in [
            r#"userName eq "a""#,
            r#"UserName Eq "A""#,
            r#"externalId eq "x""#,
            r#"emails[type eq "work" and value co "@x"]"#,
            r#"emails.value eq "a@x""#,
            r#"emails eq "a@x""#,
            r#"emails pr"#,
            r#"name.givenName sw "J""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "R""#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "m""#,
            r#"meta.lastModified gt "2026-01-01T00:00:00Z""#,
            r#"active eq true"#,
            r#"phoneNumbers[type eq "mobile" and value pr]"#,
            r#"emails[display co "x"]"#,
            r#"groups eq "g1""#,
        ] {
            let r = c(ResourceKind::User, f);
            assert!(r.is_ok(), "{f}: {r:?}");
        }
        assert!(c(ResourceKind::Group, r#"members eq "u1""#).is_ok());
        assert!(c(ResourceKind::Group, r#"id eq "g" and members eq "u""#).is_ok());
        assert!(c(ResourceKind::Group, r#"displayName eq "Eng""#).is_ok());
    }

    #[test]
    fn unknown_attributes_and_bad_values_are_invalid_filter() {
        for f in [
            r#"nosuch eq "a""#,
            r#"name.nosuch eq "a""#,
            r#"urn:ietf:params:scim:schemas:extension:other:2.0:User:x eq "a""#,
            r#"active gt true"#,
            r#"active eq "maybe""#,
            r#"meta.created gt "yesterday""#,
            r#"name eq "x""#,
            r#"userName[value eq "x"]"#,
            r#"emails[nosuch eq "x"]"#,
        ] {
            let e = c(ResourceKind::User, f).unwrap_err();
            assert_eq!(
                e.scim_type,
                Some(crate::scim::ScimType::InvalidFilter),
                "{f}"
            );
        }
        assert!(c(ResourceKind::Group, r#"userName eq "a""#).is_err());
    }
}
