//! Unit tests of the PATCH engine: the request forms Okta, Entra, OneLogin and JumpCloud send.

use super::*;
use crate::scim::registry::testing::{EXAMPLE_USER_SCHEMA, REGISTRY};
use crate::scim::resource::canonicalize;
use serde_json::json;

fn ops(v: Value) -> Vec<PatchOp> {
    parse_patch_request(&json!({"schemas": [PATCH_OP_SCHEMA], "Operations": v})).unwrap()
}

fn user(v: Value) -> Map<String, Value> {
    canonicalize(&REGISTRY, ResourceKind::User, &v).unwrap()
}

fn patched(start: Value, o: Value) -> Result<Value, ScimError> {
    let mut u = user(start);
    apply_patch(&REGISTRY, ResourceKind::User, &mut u, &ops(o))?;
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
fn role_forms_land_in_the_role_extension() {
    let ext = EXAMPLE_USER_SCHEMA;
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
    let e = apply_patch(&REGISTRY, ResourceKind::User, &mut u, &o).unwrap_err();
    assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::InvalidPath));
    assert_eq!(u, before);
    let o = ops(
        json!([{"op": "replace", "path": "title", "value": "c"}, {"op": "replace", "path": "active", "value": "maybe"}]),
    );
    assert!(apply_patch(&REGISTRY, ResourceKind::User, &mut u, &o).is_err());
    assert_eq!(u, before);
    let o = ops(json!([{"op": "remove", "path": "userName"}]));
    assert!(apply_patch(&REGISTRY, ResourceKind::User, &mut u, &o).is_err());
}

#[test]
fn malformed_requests() {
    assert!(parse_patch_request(&json!({"Operations": [{"op": "move", "path": "x"}]})).is_err());
    assert!(parse_patch_request(&json!({"Operations": []})).is_err());
    assert!(parse_patch_request(&json!({"Operations": [{"op": "add", "path": "title"}]})).is_err());
    assert!(parse_patch_request(
        &json!({"schemas": ["urn:wrong"], "Operations": [{"op": "remove", "path": "title"}]})
    )
    .is_err());
    assert!(parse_patch_request(&json!([])).is_err());
    let o =
        parse_patch_request(&json!({"operations": [{"OP": "REMOVE", "Path": "title"}]})).unwrap();
    assert_eq!(o[0].op, OpKind::Remove);
}

#[test]
fn group_forms() {
    use GroupChange::*;
    let g = |v: Value| group_changes("g1", &ops(v));
    assert_eq!(
        g(json!([{"op": "add", "path": "members", "value": [{"value": "u1"}, {"value": "u2"}]}]))
            .unwrap(),
        vec![AddMembers(vec!["u1".into(), "u2".into()])]
    );
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
    let e =
        g(json!([{"op": "replace", "value": {"id": "other", "displayName": "New"}}])).unwrap_err();
    assert_eq!(e.scim_type, Some(crate::scim::error::ScimType::Mutability));
    assert_eq!(
        g(json!([{"op": "remove", "path": "members", "value": [{"value": "a"}]}, {"op": "add", "path": "members", "value": [{"value": "b"}]}])).unwrap(),
        vec![RemoveMembers(vec!["a".into()]), AddMembers(vec!["b".into()])]
    );
    assert!(g(json!([{"op": "remove", "path": "members[display eq \"x\"]"}])).is_err());
    assert!(g(json!([{"op": "add", "path": "members", "value": [{"display": "no id"}]}])).is_err());
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
            match apply_patch(&REGISTRY, ResourceKind::User, &mut u, &ops) {
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
