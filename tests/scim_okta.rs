//! Okta's request sequences, replayed step by step against the real router: the "SCIM 2.0
//! SPEC Test", the OIN user lifecycle, the custom-app (AIW) PUT deactivation and Push Groups.

mod common;

use common::{assert_scim_error, backends, TestApp};
use serde_json::{json, Value};

const OKTA_UA: &str = "Okta SCIM Client 1.0.0";

fn okta_user(user_name: &str) -> Value {
    json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "name": {"givenName": "Rick", "familyName": "Sanchez"},
        "emails": [{"primary": true, "value": user_name, "type": "work"}],
        "displayName": "Rick Sanchez",
        "locale": "en-US",
        "externalId": "00ujl29u0le5T6Aj10h7",
        "groups": [],
        "password": "1mz050nq",
        "active": true
    })
}

#[tokio::test]
async fn okta_scim_spec_test() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        // Seed one user so the list steps have something to read.
        let (s, seeded) = app
            .scim("POST", "/Users", Some(okta_user("seed@example.com")))
            .await;
        assert_eq!(s, 201);

        // 1. GET /Users?count=1&startIndex=1
        let (s, list) = app.scim("GET", "/Users?count=1&startIndex=1", None).await;
        assert_eq!(s, 200);
        assert_eq!(
            list["schemas"][0],
            "urn:ietf:params:scim:api:messages:2.0:ListResponse"
        );
        assert_eq!(
            (
                list["totalResults"].as_i64(),
                list["itemsPerPage"].as_i64(),
                list["startIndex"].as_i64()
            ),
            (Some(1), Some(1), Some(1))
        );
        // 2. GET /Users/{id} of the first
        let id = list["Resources"][0]["id"].as_str().unwrap().to_string();
        let (s, one) = app.scim("GET", &format!("/Users/{id}"), None).await;
        assert_eq!((s.as_u16(), one["id"].as_str()), (200, Some(id.as_str())));
        assert!(one.get("password").is_none(), "password is never returned");
        // 3. Invalid user by userName → empty list
        let (s, none) = app
            .scim(
                "GET",
                "/Users?filter=userName%20eq%20%22invalidUser%40example.com%22",
                None,
            )
            .await;
        assert_eq!((s.as_u16(), none["totalResults"].as_i64()), (200, Some(0)));
        assert_eq!(none["Resources"], json!([]));
        // 4. Invalid user by id → 404 error body
        let (s, e) = app.scim("GET", "/Users/010101-invalid-id", None).await;
        assert_eq!(s, 404);
        assert_scim_error(&e, 404, None);
        // 5. The random user does not exist yet
        let (s, r) = app
            .scim(
                "GET",
                "/Users?filter=userName%20eq%20%22rick%40example.com%22",
                None,
            )
            .await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(0)));
        // 6. Create it with realistic values
        let (s, created) = app
            .scim("POST", "/Users", Some(okta_user("Rick@example.com")))
            .await;
        assert_eq!(s, 201, "{created}");
        assert_eq!(created["active"], true);
        assert_eq!(created["userName"], "Rick@example.com");
        assert_eq!(created["name"]["familyName"], "Sanchez");
        assert!(created.get("password").is_none());
        // 7. Verify it was created
        let rid = created["id"].as_str().unwrap();
        let (s, got) = app.scim("GET", &format!("/Users/{rid}"), None).await;
        assert_eq!(s, 200);
        assert_eq!(got["emails"][0]["value"], "Rick@example.com");
        // 8. Recreating fails with 409 uniqueness
        let (s, e) = app
            .scim("POST", "/Users", Some(okta_user("Rick@example.com")))
            .await;
        assert_eq!(s, 409);
        assert_scim_error(&e, 409, Some("uniqueness"));
        // 9. userName lookups are case-insensitive
        let (s, r) = app
            .scim(
                "GET",
                "/Users?filter=userName%20eq%20%22RICK%40EXAMPLE.COM%22",
                None,
            )
            .await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(1)));
        assert_eq!(r["Resources"][0]["id"], created["id"]);
        // 10. A wrong token gets 401 with an error body
        let (s, h, e) = app
            .request(
                "GET",
                "/scim/v2/acme/Users",
                Some("scimgate_wrong"),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 401);
        assert_eq!(h["www-authenticate"], "Bearer realm=\"scimgate\"");
        assert_scim_error(&e, 401, None);
        // 11. A deactivated user is still a duplicate
        let (s, _) = app.scim("PATCH", &format!("/Users/{rid}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]}))).await;
        assert_eq!(s, 200);
        let (s, e) = app
            .scim("POST", "/Users", Some(okta_user("rick@example.com")))
            .await;
        assert_eq!(s, 409);
        assert_scim_error(&e, 409, Some("uniqueness"));
        // 12. Responses are application/scim+json
        let (_, h, _) = app
            .request(
                "GET",
                &format!("/scim/v2/acme/Users/{}", seeded["id"].as_str().unwrap()),
                Some(&app.token),
                None,
                &[],
            )
            .await;
        assert_eq!(h["content-type"], "application/scim+json");
        app.finish().await;
    }
}

#[tokio::test]
async fn okta_oin_user_lifecycle() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let ua = [("user-agent", OKTA_UA)];
        // Okta checks for an existing user before creating one.
        let (s, _, r) = app.request("GET", "/scim/v2/acme/Users?filter=userName%20eq%20%22morty%40example.com%22&startIndex=1&count=100", Some(&app.token), None, &ua).await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(0)));
        let (s, h, u) = app
            .request(
                "POST",
                "/scim/v2/acme/Users",
                Some(&app.token),
                Some(okta_user("morty@example.com")),
                &ua,
            )
            .await;
        assert_eq!(s, 201);
        let id = u["id"].as_str().unwrap().to_string();
        assert_eq!(
            h["location"],
            format!("http://scim.test/scim/v2/acme/Users/{id}")
        );
        assert_eq!(h["etag"], "W/\"1\"");
        // Push Profile Updates: PUT echoes the whole resource, id and meta included.
        let mut put = u.clone();
        put["name"]["givenName"] = json!("Mortimer");
        put["title"] = json!("Sidekick");
        let (s, updated) = app.scim("PUT", &format!("/Users/{id}"), Some(put)).await;
        assert_eq!(s, 200, "{updated}");
        assert_eq!(updated["name"]["givenName"], "Mortimer");
        assert_eq!(updated["meta"]["version"], "W/\"2\"");
        // PUT replaces: an attribute left out is cleared.
        let mut put2 = updated.clone();
        put2.as_object_mut().unwrap().remove("title");
        let (_, cleared) = app.scim("PUT", &format!("/Users/{id}"), Some(put2)).await;
        assert!(cleared.get("title").is_none());
        // Deactivate, still readable and listable.
        let deactivate = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
        let (s, d) = app
            .scim("PATCH", &format!("/Users/{id}"), Some(deactivate))
            .await;
        assert_eq!((s.as_u16(), d["active"].as_bool()), (200, Some(false)));
        let (s, g) = app.scim("GET", &format!("/Users/{id}"), None).await;
        assert_eq!((s.as_u16(), g["active"].as_bool()), (200, Some(false)));
        let (_, l) = app
            .scim(
                "GET",
                "/Users?filter=userName%20eq%20%22morty%40example.com%22",
                None,
            )
            .await;
        assert_eq!(l["totalResults"], 1);
        // Reactivate.
        let (s, r) = app.scim("PATCH", &format!("/Users/{id}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": true}}]}))).await;
        assert_eq!((s.as_u16(), r["active"].as_bool()), (200, Some(true)));
        // The log tells the story, newest first, with the client recognised.
        let kinds: Vec<String> = app
            .events()
            .await
            .iter()
            .flat_map(|e| e.changes.iter().map(|c| c.kind.as_str().to_string()))
            .collect();
        assert_eq!(
            kinds,
            vec![
                "reactivated",
                "deactivated",
                "updated",
                "updated",
                "created"
            ]
        );
        let evs = app.events().await;
        let created = evs.iter().find(|e| e.method == "POST").unwrap();
        assert_eq!(created.client, "okta");
        assert_eq!(created.status, 201);
        assert!(
            !created
                .request_body
                .as_deref()
                .unwrap()
                .contains("1mz050nq"),
            "password is redacted in the log"
        );
        app.finish().await;
    }
}

#[tokio::test]
async fn okta_custom_app_deactivates_with_put() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (_, u) = app
            .scim("POST", "/Users", Some(okta_user("aiw@example.com")))
            .await;
        let id = u["id"].as_str().unwrap();
        let mut put = u.clone();
        put["active"] = json!(false);
        let (s, d) = app.scim("PUT", &format!("/Users/{id}"), Some(put)).await;
        assert_eq!((s.as_u16(), d["active"].as_bool()), (200, Some(false)));
        let evs = app.events().await;
        assert_eq!(evs[0].changes[0].kind.as_str(), "deactivated");
        let detail = evs[0].changes[0].detail.clone().unwrap();
        assert_eq!(detail["active"], json!({"before": true, "after": false}));
        app.finish().await;
    }
}

#[tokio::test]
async fn okta_push_groups() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let mut ids = Vec::new();
        for i in 0..4 {
            let (_, u) = app
                .scim(
                    "POST",
                    "/Users",
                    Some(okta_user(&format!("member{i}@example.com"))),
                )
                .await;
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        // Create with immediate membership push.
        let (s, g) = app.scim("POST", "/Groups", Some(json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Test SCIMv2",
            "members": [{"value": ids[0], "display": "member0@example.com"}, {"value": ids[1], "display": "member1@example.com"}]
        }))).await;
        assert_eq!(s, 201, "{g}");
        let gid = g["id"].as_str().unwrap().to_string();
        assert_eq!(g["members"].as_array().unwrap().len(), 2);
        let (s, e) = app.scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "test scimv2"}))).await;
        assert_eq!(s, 409);
        assert_scim_error(&e, 409, Some("uniqueness"));
        // Okta looks the group up by name.
        let (_, found) = app
            .scim(
                "GET",
                "/Groups?filter=displayName%20eq%20%22Test%20SCIMv2%22&startIndex=1&count=100",
                None,
            )
            .await;
        assert_eq!(found["totalResults"], 1);
        // Rename: path-less replace carrying the unchanged id.
        let (s, _) = app.scim("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Renamed"}}]}))).await;
        assert_eq!(s, 204);
        // A different id is refused.
        let (s, e) = app.scim("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"id": "another", "displayName": "X"}}]}))).await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("mutability"));
        // Batched remove + add in one request.
        let (s, _) = app.scim("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
            {"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])},
            {"op": "add", "path": "members", "value": [{"value": ids[2], "display": "member2@example.com"}, {"value": ids[3], "display": "member3@example.com"}]}
        ]}))).await;
        assert_eq!(s, 204);
        let (_, g2) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(g2["displayName"], "Renamed");
        let mut members: Vec<String> = g2["members"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["value"].as_str().unwrap().to_string())
            .collect();
        members.sort();
        let mut want = vec![ids[1].clone(), ids[2].clone(), ids[3].clone()];
        want.sort();
        assert_eq!(members, want);
        // Full replace through PUT.
        let (s, g3) = app.scim("PUT", &format!("/Groups/{gid}"), Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "id": gid, "displayName": "Renamed", "members": [{"value": ids[0]}]}))).await;
        assert_eq!(s, 200, "{g3}");
        assert_eq!(
            g3["members"],
            json!([{"value": ids[0], "display": "Rick Sanchez", "type": "User", "$ref": format!("http://scim.test/scim/v2/acme/Users/{}", ids[0])}])
        );
        // Empty replace clears the members.
        let (s, _) = app.scim("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "path": "members", "value": []}]}))).await;
        assert_eq!(s, 204);
        let (_, g4) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(g4["members"], json!([]));
        // Members of another org or unknown ids are skipped, not failed, and logged as such.
        let (s, _) = app.scim("PATCH", &format!("/Groups/{gid}"), Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": "not-a-user"}, {"value": ids[1]}]}]}))).await;
        assert_eq!(s, 204);
        let last = &app.events().await[0];
        let kinds: Vec<&str> = last.changes.iter().map(|c| c.kind.as_str()).collect();
        assert_eq!(kinds, vec!["member_added", "member_skipped"]);
        assert_eq!(
            last.changes[1].detail.as_ref().unwrap()["members"],
            json!(["not-a-user"])
        );
        // Delete.
        let (s, _) = app.scim("DELETE", &format!("/Groups/{gid}"), None).await;
        assert_eq!(s, 204);
        let (s, e) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(s, 404);
        assert_scim_error(&e, 404, None);
        app.finish().await;
    }
}

/// The console's per-client "last request" follows reads and writes alike (a write's event
/// is logged with its change; its client row is moved forward by the log writer).
#[tokio::test]
async fn each_clients_last_request_includes_writes() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (s, _) = app.scim("GET", "/Users", None).await;
        assert_eq!(s.as_u16(), 200);
        let (s, _) = app
            .scim("POST", "/Users", Some(okta_user("last@example.com")))
            .await;
        assert_eq!(s.as_u16(), 201);
        let post_at = app
            .events()
            .await
            .iter()
            .find(|e| e.method == "POST")
            .map(|e| e.occurred_at)
            .expect("the POST is logged");
        app.flush_log().await;
        let mut c = app.db.store.read().await.unwrap();
        let rows = scimgate::store::events::client_activity(&mut c, &app.org.id)
            .await
            .unwrap();
        drop(c);
        assert_eq!(rows.len(), 1, "one client: {rows:?}");
        assert_eq!((rows[0].last_status, rows[0].last_at), (201, post_at));
        assert_eq!(rows[0].last_token_label.as_deref(), Some("test"));
        app.finish().await;
    }
}

/// Okta's app attribute `role`, whichever external namespace the admin chose: top level
/// (core, Okta's default), `{"role": …}` (namespace `role`), the scimgate extension, or a
/// primary value of `roles`; on POST, PUT and PATCH. Values outside the org's allowed roles
/// are refused as before.
#[tokio::test]
async fn okta_role_attribute_in_every_namespace() {
    const EXT: &str = "urn:ietf:params:scim:schemas:extension:scimgate:2.0:User";
    let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
    for b in backends() {
        let app = TestApp::new(&b).await;
        let mut org = app.org.clone();
        org.allowed_roles = vec!["admin".into(), "member".into(), "viewer".into()];
        let mut c = app.db.store.read().await.unwrap();
        scimgate::store::orgs::update_org_settings(&mut c, &org)
            .await
            .unwrap();
        drop(c);
        let forms = [
            ("role", json!("admin")),
            ("role", json!({"role": "admin"})),
            (EXT, json!({"role": "admin"})),
            ("roles", json!([{"value": "admin", "primary": true}])),
        ];
        for (n, (key, value)) in forms.iter().enumerate() {
            let mut u = okta_user(&format!("role{n}@example.com"));
            u[*key] = value.clone();
            let (s, created) = app.scim("POST", "/Users", Some(u.clone())).await;
            assert_eq!(s, 201, "{key}: {created}");
            assert_eq!(created[EXT]["role"], "admin", "{key}: {created}");
            let id = created["id"].as_str().unwrap().to_string();
            let (_, got) = app.scim("GET", &format!("/Users/{id}"), None).await;
            assert_eq!(got[EXT]["role"], "admin", "stored: {key}");
            // PUT with the same form and another role.
            let mut v = value.clone();
            match *key {
                "role" if v.is_string() => v = json!("member"),
                "roles" => v = json!([{"value": "member", "primary": true}]),
                _ => v["role"] = json!("member"),
            }
            u[*key] = v;
            let (s, put) = app
                .scim("PUT", &format!("/Users/{id}"), Some(u.clone()))
                .await;
            assert_eq!(
                (s.as_u16(), put[EXT]["role"].as_str()),
                (200, Some("member")),
                "PUT {key}: {put}"
            );
            // An unknown role in the same form is refused and changes nothing.
            let mut bad = u.clone();
            bad[*key] = match *key {
                "roles" => json!([{"value": "superuser", "primary": true}]),
                _ if value.is_string() => json!("superuser"),
                _ => json!({"role": "superuser"}),
            };
            bad["userName"] = json!(format!("bad{n}@example.com"));
            let (s, e) = app.scim("POST", "/Users", Some(bad.clone())).await;
            assert_eq!(s, 400, "POST unknown role as {key}: {e}");
            assert_scim_error(&e, 400, Some("invalidValue"));
            let (s, _) = app.scim("PUT", &format!("/Users/{id}"), Some(bad)).await;
            assert_eq!(s, 400, "PUT unknown role as {key}");
            let (_, got) = app.scim("GET", &format!("/Users/{id}"), None).await;
            assert_eq!(got[EXT]["role"], "member");
        }
        // PATCH: path `role`, path-less replace with a `role` key (both namespaces), roles.
        let (_, u) = app
            .scim("POST", "/Users", Some(okta_user("patch@example.com")))
            .await;
        let path = format!("/Users/{}", u["id"].as_str().unwrap());
        assert!(u.get(EXT).is_none(), "{u}");
        for (ops, want) in [
            (
                json!([{"op": "replace", "path": "role", "value": "viewer"}]),
                "viewer",
            ),
            (
                json!([{"op": "replace", "value": {"role": "admin"}}]),
                "admin",
            ),
            (
                json!([{"op": "replace", "value": {"role": {"role": "member"}}}]),
                "member",
            ),
            (
                json!([{"op": "add", "path": "roles", "value": [{"value": "viewer", "primary": true}]}]),
                "viewer",
            ),
        ] {
            let (s, p) = app.scim("PATCH", &path, Some(patch(ops.clone()))).await;
            assert_eq!(
                (s.as_u16(), p[EXT]["role"].as_str()),
                (200, Some(want)),
                "{ops}: {p}"
            );
        }
        for ops in [
            json!([{"op": "replace", "path": "role", "value": "superuser"}]),
            json!([{"op": "replace", "value": {"role": "superuser"}}]),
            json!([{"op": "replace", "value": {"role": {"role": "superuser"}}}]),
            json!([{"op": "replace", "path": "roles", "value": [{"value": "superuser", "primary": true}]}]),
        ] {
            let (s, e) = app.scim("PATCH", &path, Some(patch(ops.clone()))).await;
            assert_eq!(s, 400, "{ops}: {e}");
            assert_scim_error(&e, 400, Some("invalidValue"));
        }
        let (_, got) = app.scim("GET", &path, None).await;
        assert_eq!(got[EXT]["role"], "viewer");
        app.finish().await;
    }
}
