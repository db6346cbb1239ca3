//! Microsoft Entra ID's provisioning requests, replayed: the random-GUID test connection,
//! capitalised ops, string booleans, filtered email paths, manager forms, group PATCH with
//! 204, `excludedAttributes=members`, and the `aadOptscim062020` flag.

mod common;

use common::{backends, TestApp};
use serde_json::{json, Value};

const ENTERPRISE: &str = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn entra_user(n: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "externalId": format!("ext-{n}"),
        "userName": format!("Test_User_{n}@contoso.test"),
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": format!("Test_User_{n}@contoso.test")}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": [],
        ENTERPRISE: {"department": "Sales", "employeeNumber": "42"}
    })
}

#[tokio::test]
async fn entra_test_connection_and_user_flows() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        // Test Connection: a random GUID that matches nothing must give 200 and an empty list.
        let (s, r) = app
            .scim(
                "GET",
                "/Users?filter=userName+eq+%22a4f1b5ae-7c3d-4d8e-9f10-0b1c2d3e4f50%22",
                None,
            )
            .await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(0)));
        let (s, r) = app
            .scim(
                "GET",
                "/Users?filter=id+eq+%22a4f1b5ae-7c3d-4d8e-9f10-0b1c2d3e4f50%22",
                None,
            )
            .await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(0)));
        let (s, r) = app
            .scim(
                "GET",
                "/Groups?excludedAttributes=members&filter=displayName+eq+%22a4f1b5ae%22",
                None,
            )
            .await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(0)));

        let (s, u) = app
            .scim("POST", "/Users?aadOptscim062020", Some(entra_user("1")))
            .await;
        assert_eq!(s, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_string();
        assert_eq!(u[ENTERPRISE]["department"], "Sales");
        assert!(u["schemas"]
            .as_array()
            .unwrap()
            .contains(&json!(ENTERPRISE)));
        let (_, by_ext) = app
            .scim("GET", "/Users?filter=externalId+eq+%22ext-1%22", None)
            .await;
        assert_eq!(by_ext["totalResults"], 1);

        // Capitalised ops, a filtered email path, a sub-attribute, a string boolean.
        let (s, p) = app.scim("PATCH", &format!("/Users/{id}"), Some(patch(json!([
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@contoso.test"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
            {"op": "Add", "path": "addresses[type eq \"work\"].streetAddress", "value": "1 Main St"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+1 555 0100"},
            {"op": "Replace", "path": format!("{ENTERPRISE}:manager"), "value": "manager-id-1"},
            {"op": "Replace", "path": "active", "value": "False"}
        ])))).await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(p["emails"][0]["value"], "updatedEmail@contoso.test");
        assert_eq!(p["emails"].as_array().unwrap().len(), 1);
        assert_eq!(p["name"]["familyName"], "updatedFamilyName");
        assert_eq!(p["name"]["givenName"], "givenName");
        assert_eq!(
            p["addresses"],
            json!([{"type": "work", "streetAddress": "1 Main St"}])
        );
        assert_eq!(
            p["phoneNumbers"],
            json!([{"type": "mobile", "value": "+1 555 0100"}])
        );
        assert_eq!(p[ENTERPRISE]["manager"], json!({"value": "manager-id-1"}));
        assert_eq!(p["active"], false);
        // The changed email is what filters see now.
        let (_, f) = app
            .scim(
                "GET",
                &format!(
                    "/Users?filter={}",
                    common::enc(
                        r#"emails[type eq "work" and value eq "UPDATEDEMAIL@contoso.test"]"#
                    )
                ),
                None,
            )
            .await;
        assert_eq!(f["totalResults"], 1, "{f}");
        // Old manager form: an array with one object carrying a null $ref; and removal.
        let (_, p2) = app.scim("PATCH", &format!("/Users/{id}"), Some(patch(json!([{"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": [{"$ref": null, "value": "manager-id-2"}]}])))).await;
        assert_eq!(p2[ENTERPRISE]["manager"], json!({"value": "manager-id-2"}));
        let (_, p3) = app
            .scim(
                "PATCH",
                &format!("/Users/{id}"),
                Some(patch(
                    json!([{"op": "Remove", "path": format!("{ENTERPRISE}:manager")}]),
                )),
            )
            .await;
        assert!(p3[ENTERPRISE].get("manager").is_none());
        // aadOptscim062020: path-less replace with real booleans; reactivation.
        let (s, p4) = app.scim("PATCH", &format!("/Users/{id}?aadOptscim062020"), Some(patch(json!([{"op": "replace", "value": {"active": true, "displayName": "New Name", "name.givenName": "G2"}}])))).await;
        assert_eq!(s, 200);
        assert_eq!(
            (
                p4["active"].as_bool(),
                p4["displayName"].as_str(),
                p4["name"]["givenName"].as_str()
            ),
            (Some(true), Some("New Name"), Some("G2"))
        );
        // Unknown, misspelt schema URNs in a POST are ignored rather than failed.
        let mut odd = entra_user("2");
        odd["urn:ietf:params:scim:schemas:extension:enterprise:2.0:Usr"] =
            json!({"department": "x"});
        odd["UserName"] = odd["userName"].take();
        odd.as_object_mut().unwrap().remove("userName");
        let (s, u2) = app.scim("POST", "/Users", Some(odd)).await;
        assert_eq!(s, 201, "{u2}");
        assert_eq!(u2["userName"], "Test_User_2@contoso.test");
        app.finish().await;
    }
}

#[tokio::test]
async fn entra_group_flows() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let mut ids = Vec::new();
        for n in ["a", "b", "c"] {
            let (_, u) = app.scim("POST", "/Users", Some(entra_user(n))).await;
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        let (s, g) = app.scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159", "displayName": "Group1DisplayName", "meta": {"resourceType": "Group"}}))).await;
        assert_eq!(s, 201);
        let gid = g["id"].as_str().unwrap().to_string();
        let (s, _) = app.scim("PATCH", &format!("/Groups/{gid}"), Some(patch(json!([{"op": "Add", "path": "members", "value": [{"$ref": null, "value": ids[0]}, {"$ref": null, "value": ids[1]}]}])))).await;
        assert_eq!(s, 204);
        // Adding a present member is a no-op, not an error.
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(patch(
                    json!([{"op": "Add", "path": "members", "value": [{"value": ids[0]}]}]),
                )),
            )
            .await;
        assert_eq!(s, 204);
        // Old Entra remove form: path members with a value list.
        let (s, _) = app.scim("PATCH", &format!("/Groups/{gid}"), Some(patch(json!([{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": ids[1]}]}])))).await;
        assert_eq!(s, 204);
        // Removing an absent member is a no-op.
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(patch(
                    json!([{"op": "Remove", "path": format!("members[value eq \"{}\"]", ids[2])}]),
                )),
            )
            .await;
        assert_eq!(s, 204);
        // excludedAttributes=members never returns members.
        let (s, one) = app
            .scim(
                "GET",
                &format!("/Groups/{gid}?excludedAttributes=members"),
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert!(one.get("members").is_none());
        assert_eq!(one["displayName"], "Group1DisplayName");
        let (_, list) = app
            .scim(
                "GET",
                "/Groups?excludedAttributes=members&filter=displayName+eq+%22Group1DisplayName%22",
                None,
            )
            .await;
        assert_eq!(list["totalResults"], 1);
        assert!(list["Resources"][0].get("members").is_none());
        // Membership filters.
        let (_, m) = app.scim("GET", &format!("/Groups?filter=id+eq+%22{gid}%22+and+members+eq+%22{}%22&excludedAttributes=members", ids[0]), None).await;
        assert_eq!(m["totalResults"], 1);
        let (_, m) = app
            .scim(
                "GET",
                &format!(
                    "/Groups?filter=id+eq+%22{gid}%22+and+members+eq+%22{}%22",
                    ids[1]
                ),
                None,
            )
            .await;
        assert_eq!(m["totalResults"], 0);
        // attributes on PATCH asks for a body: 200 with the group.
        let (s, body) = app
            .scim(
                "PATCH",
                &format!("/Groups/{gid}?attributes=members"),
                Some(patch(
                    json!([{"op": "replace", "path": "displayName", "value": "Renamed"}]),
                )),
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(body["members"].as_array().unwrap().len(), 1);
        assert!(
            body.get("displayName").is_none(),
            "only the asked-for attributes, plus id and schemas"
        );
        // Deleting a user removes its memberships.
        let (s, _) = app
            .scim("DELETE", &format!("/Users/{}", ids[0]), None)
            .await;
        assert_eq!(s, 204);
        let (_, after) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(after["members"], json!([]));
        let (s, _) = app.scim("GET", &format!("/Users/{}", ids[0]), None).await;
        assert_eq!(s, 404);
        app.finish().await;
    }
}

/// Entra's documented manager update (an array holding one object, or a bare id), the
/// enterprise attributes it and other clients send without their URN, an app role through
/// `roles[primary eq "True"].value`, and the value-path filter with a sub-attribute
/// (`emails[type eq "work"].value eq …`).
#[tokio::test]
async fn entra_manager_bare_enterprise_paths_roles_and_value_path_filters() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (_, m) = app.scim("POST", "/Users", Some(entra_user("mgr"))).await;
        let manager = m["id"].as_str().unwrap().to_string();
        let (s, u) = app.scim("POST", "/Users", Some(entra_user("1"))).await;
        assert_eq!(s, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_string();
        let path = format!("/Users/{id}");
        for value in [json!([{"value": manager}]), json!(manager)] {
            let (s, p) = app
                .scim(
                    "PATCH",
                    &path,
                    Some(patch(json!([
                        {"op": "Remove", "path": format!("{ENTERPRISE}:manager")},
                        {"op": "Add", "path": format!("{ENTERPRISE}:manager"), "value": value}
                    ]))),
                )
                .await;
            assert_eq!(s, 200, "{p}");
            assert_eq!(p[ENTERPRISE]["manager"]["value"], manager.as_str(), "{p}");
        }
        // Without the URN: path-based and path-less, and manager.value.
        let (s, p) = app
            .scim(
                "PATCH",
                &path,
                Some(patch(json!([
                    {"op": "Replace", "path": "department", "value": "Research"},
                    {"op": "Add", "path": "employeeNumber", "value": "1001"},
                    {"op": "Replace", "path": "manager.value", "value": "someone-else"},
                    {"op": "Replace", "value": {"costCenter": "CC-7", "organization": "Contoso", "division": "West"}}
                ]))),
            )
            .await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(
            p[ENTERPRISE],
            json!({"department": "Research", "employeeNumber": "1001", "manager": {"value": "someone-else"}, "costCenter": "CC-7", "organization": "Contoso", "division": "West"})
        );
        let (s, got) = app.scim("GET", &path, None).await;
        assert_eq!(s, 200);
        assert_eq!(got[ENTERPRISE], p[ENTERPRISE], "stored, not only echoed");
        assert!(got.get("department").is_none(), "{got}");
        let (_, f) = app
            .scim(
                "GET",
                &format!(
                    "/Users?filter={}",
                    common::enc(&format!("{ENTERPRISE}:department eq \"research\""))
                ),
                None,
            )
            .await;
        assert_eq!(f["totalResults"], 1, "{f}");

        // An app role assignment mapped to roles[primary eq "True"].value.
        let (s, p) = app
            .scim(
                "PATCH",
                &path,
                Some(patch(json!([
                    {"op": "Add", "path": "roles[primary eq \"True\"].value", "value": "admin"}
                ]))),
            )
            .await;
        assert_eq!(s, 200, "{p}");
        assert_eq!(
            p["urn:ietf:params:scim:schemas:extension:scimgate:2.0:User"]["role"], "admin",
            "{p}"
        );

        // emails[type eq "work"].value eq "…": some element matches both.
        for (f, want) in [
            (
                r#"emails[type eq "work"].value eq "test_user_1@contoso.test""#,
                1,
            ),
            (
                r#"emails[type eq "home"].value eq "Test_User_1@contoso.test""#,
                0,
            ),
            (r#"emails[type eq "work"].value sw "test_user_""#, 2),
            (
                r#"emails[type eq "work"].value eq "Test_User_1@contoso.test" and active eq true"#,
                1,
            ),
        ] {
            let (s, r) = app
                .scim("GET", &format!("/Users?filter={}", common::enc(f)), None)
                .await;
            assert_eq!(s, 200, "{f}: {r}");
            assert_eq!(r["totalResults"], want, "{f}: {r}");
        }
        let (s, e) = app
            .scim(
                "GET",
                &format!(
                    "/Users?filter={}",
                    common::enc(r#"emails[type eq "work"].nope eq "x""#)
                ),
                None,
            )
            .await;
        assert_eq!(s, 400, "{e}");
        common::assert_scim_error(&e, 400, Some("invalidFilter"));
        app.finish().await;
    }
}
