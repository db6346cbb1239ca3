//! The rest of the SCIM contract over real HTTP handling: authentication and org isolation,
//! error bodies, limits, versions (ETag, If-Match, If-None-Match), paging, sorting and
//! projection, bulk, discovery, org settings (role mapping, immutable userName) and the
//! provisioning log.

mod common;

use common::{assert_scim_error, backends, enc, TestApp};
use scimgate::store::{orgs, tokens};
use serde_json::{json, Value};

fn user(n: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": n, "emails": [{"value": n, "type": "work"}]})
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[tokio::test]
async fn authentication_and_org_isolation() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let beta = scimgate::management::create_org(&app.db.store, "beta", None)
            .await
            .unwrap();
        let beta_token =
            scimgate::management::create_token(&app.db.store, &beta, "okta", None, None)
                .await
                .unwrap()
                .secret;
        let (_, u) = app.scim("POST", "/Users", Some(user("a@acme.test"))).await;
        let id = u["id"].as_str().unwrap();

        // Bare token (Okta "HTTP Header" with just the secret) is accepted.
        let (s, _, _) = app
            .request(
                "GET",
                "/scim/v2/acme/Users",
                None,
                None,
                &[("authorization", &app.token)],
            )
            .await;
        assert_eq!(s, 200);
        // Missing, wrong scheme, wrong token: 401 with the SCIM body.
        for auth in [None, Some("Basic abc"), Some("Bearer scimgate_0000")] {
            let headers: Vec<(&str, &str)> =
                auth.map(|a| vec![("authorization", a)]).unwrap_or_default();
            let (s, h, e) = app
                .request("GET", "/scim/v2/acme/Users", None, None, &headers)
                .await;
            assert_eq!(s, 401);
            assert!(h.contains_key("www-authenticate"));
            assert_scim_error(&e, 401, None);
        }
        // Org A's token on org B's URL, and on an org that does not exist: the same 401.
        let (s1, _, e1) = app
            .request("GET", "/scim/v2/beta/Users", Some(&app.token), None, &[])
            .await;
        let (s2, _, e2) = app
            .request(
                "GET",
                "/scim/v2/nosuchorg/Users",
                Some(&app.token),
                None,
                &[],
            )
            .await;
        assert_eq!((s1.as_u16(), s2.as_u16()), (401, 401));
        assert_eq!(e1, e2, "nothing about beta is revealed");
        // Beta's own token sees none of acme's users.
        let (s, _, e) = app
            .request(
                "GET",
                &format!("/scim/v2/beta/Users/{id}"),
                Some(&beta_token),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 404);
        assert_scim_error(&e, 404, None);
        let (_, _, l) = app
            .request("GET", "/scim/v2/beta/Users", Some(&beta_token), None, &[])
            .await;
        assert_eq!(l["totalResults"], 0);
        // The org login in the URL is case-insensitive.
        let (s, _, _) = app
            .request("GET", "/scim/v2/ACME/Users", Some(&app.token), None, &[])
            .await;
        assert_eq!(s, 200);

        // Revocation takes effect on the next request.
        let mut c = app.db.store.read().await.unwrap();
        let t = tokens::list_tokens(&mut c, &app.org.id)
            .await
            .unwrap()
            .remove(0);
        tokens::revoke_token(&mut c, &app.org.id, &t.id)
            .await
            .unwrap();
        drop(c);
        // As every path that changes tokens does (management::tokens): the SCIM API's cache
        // of verified tokens must read this one again.
        app.db.store.credentials_changed();
        let (s, _) = app.scim("GET", "/Users", None).await;
        assert_eq!(s, 401);
        // Expired tokens are refused too.
        let acme = scimgate::management::get_org(&app.db.store, "acme")
            .await
            .unwrap();
        let expiring =
            scimgate::management::create_token(&app.db.store, &acme, "short", Some(0), None)
                .await
                .unwrap();
        let (s, _, _) = app
            .request(
                "GET",
                "/scim/v2/acme/Users",
                Some(&expiring.secret),
                None,
                &[],
            )
            .await;
        assert_eq!(s, 401);
        // 401s are in the org's provisioning log (an admin must see a stale token in use).
        let evs = app.events().await;
        assert!(
            evs.iter()
                .any(|e| e.status == 401 && e.token_label.as_deref() == Some("test")),
            "revoked token's use is logged with its label"
        );
        app.finish().await;
    }
}

#[tokio::test]
async fn client_mistakes_get_scim_errors_and_change_nothing() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (_, u) = app
            .scim("POST", "/Users", Some(user("keep@acme.test")))
            .await;
        let id = u["id"].as_str().unwrap().to_string();

        let (s, _, e) = app
            .request(
                "POST",
                "/scim/v2/acme/Users",
                Some(&app.token),
                None,
                &[("content-type", "application/json")],
            )
            .await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("invalidSyntax"));
        let raw = |body: &'static str| {
            axum::http::Request::builder()
                .method("POST")
                .uri("/scim/v2/acme/Users")
                .header("authorization", format!("Bearer {}", app.token))
                .body(axum::body::Body::from(body))
                .unwrap()
        };
        use tower::ServiceExt;
        let resp = app.app.clone().oneshot(raw("{not json")).await.unwrap();
        assert_eq!(resp.status(), 400);
        for (path, body, status, scim_type) in [
            (
                "/Users",
                json!({"name": {"givenName": "no userName"}}),
                400,
                Some("invalidValue"),
            ),
            (
                "/Users",
                json!({"userName": "x", "active": "perhaps"}),
                400,
                Some("invalidValue"),
            ),
            (
                "/Users",
                json!({"userName": "KEEP@acme.test"}),
                409,
                Some("uniqueness"),
            ),
            ("/Groups", json!({"members": []}), 400, Some("invalidValue")),
        ] {
            let (s, e) = app.scim("POST", path, Some(body)).await;
            assert_eq!(s.as_u16(), status);
            assert_scim_error(&e, status, scim_type);
        }
        for (q, scim_type) in [
            ("userName eq", "invalidFilter"),
            ("nosuch eq \"x\"", "invalidFilter"),
            ("userName eq bare", "invalidFilter"),
            ("(userName eq \"x\"", "invalidFilter"),
        ] {
            let (s, e) = app
                .scim("GET", &format!("/Users?filter={}", enc(q)), None)
                .await;
            assert_eq!(s, 400, "{q}");
            assert_scim_error(&e, 400, Some(scim_type));
        }
        let (s, e) = app.scim("GET", "/Users?count=ten", None).await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("invalidValue"));
        // A PATCH whose second operation fails applies nothing.
        let (s, e) = app.scim("PATCH", &format!("/Users/{id}"), Some(patch(json!([{"op": "replace", "path": "title", "value": "changed"}, {"op": "replace", "path": "bogus", "value": 1}])))).await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("invalidPath"));
        let (_, after) = app.scim("GET", &format!("/Users/{id}"), None).await;
        assert!(after.get("title").is_none());
        assert_eq!(after["meta"]["version"], "W/\"1\"");
        let (s, e) = app
            .scim(
                "PATCH",
                &format!("/Users/{id}"),
                Some(patch(json!([{"op": "jump", "path": "title"}]))),
            )
            .await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("invalidSyntax"));
        // PUT with another id in the body.
        let (s, e) = app
            .scim(
                "PUT",
                &format!("/Users/{id}"),
                Some(json!({"id": "other", "userName": "keep@acme.test"})),
            )
            .await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("mutability"));
        // Too large a body.
        let big = json!({"userName": "big", "displayName": "x".repeat(1_100_000)});
        let (s, e) = app.scim("POST", "/Users", Some(big)).await;
        assert_eq!(s, 413);
        assert_scim_error(&e, 413, Some("tooMany"));
        // Unknown endpoint, unsupported method, /Me.
        let (s, e) = app.scim("GET", "/Widgets", None).await;
        assert_eq!(s, 404);
        assert_scim_error(&e, 404, None);
        let (s, e) = app.scim("DELETE", "/Users", None).await;
        assert_eq!(s, 405);
        assert_scim_error(&e, 405, None);
        let (s, e) = app.scim("GET", "/Me", None).await;
        assert_eq!(s, 501);
        assert_scim_error(&e, 501, None);
        // Nothing above created a user.
        let (_, l) = app.scim("GET", "/Users", None).await;
        assert_eq!(l["totalResults"], 1);
        // A failing call's scimType is in the log.
        let evs = app.events().await;
        assert!(evs
            .iter()
            .any(|e| e.status == 400 && e.scim_type.as_deref() == Some("invalidFilter")));
        app.finish().await;
    }
}

#[tokio::test]
async fn versions_etags_and_preconditions() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (_, u) = app.scim("POST", "/Users", Some(user("v@acme.test"))).await;
        let id = u["id"].as_str().unwrap().to_string();
        let path = format!("/scim/v2/acme/Users/{id}");
        let (s, h, _) = app.request("GET", &path, Some(&app.token), None, &[]).await;
        assert_eq!(s, 200);
        assert_eq!(h["etag"], "W/\"1\"");
        let (s, _, _) = app
            .request(
                "GET",
                &path,
                Some(&app.token),
                None,
                &[("if-none-match", "W/\"1\"")],
            )
            .await;
        assert_eq!(s, 304);
        let body = patch(json!([{"op": "replace", "path": "title", "value": "t"}]));
        let (s, _, e) = app
            .request(
                "PATCH",
                &path,
                Some(&app.token),
                Some(body.clone()),
                &[("if-match", "W/\"7\"")],
            )
            .await;
        assert_eq!(s, 412);
        assert_scim_error(&e, 412, None);
        let (s, h, _) = app
            .request(
                "PATCH",
                &path,
                Some(&app.token),
                Some(body),
                &[("if-match", "W/\"1\"")],
            )
            .await;
        assert_eq!(s, 200);
        assert_eq!(h["etag"], "W/\"2\"");
        let (s, _, _) = app
            .request(
                "PUT",
                &path,
                Some(&app.token),
                Some(user("v@acme.test")),
                &[("if-match", "W/\"1\"")],
            )
            .await;
        assert_eq!(s, 412);
        let (s, _, _) = app
            .request(
                "DELETE",
                &path,
                Some(&app.token),
                None,
                &[("if-match", "W/\"1\"")],
            )
            .await;
        assert_eq!(s, 412);
        let (s, _, _) = app
            .request(
                "GET",
                &path,
                Some(&app.token),
                None,
                &[("if-none-match", "W/\"1\"")],
            )
            .await;
        assert_eq!(s, 200, "stale If-None-Match gets the resource");
        let (s, _, _) = app
            .request(
                "DELETE",
                &path,
                Some(&app.token),
                None,
                &[("if-match", "*")],
            )
            .await;
        assert_eq!(s, 204);
        // Groups too.
        let (_, g) = app
            .scim("POST", "/Groups", Some(json!({"displayName": "G"})))
            .await;
        let gpath = format!("/scim/v2/acme/Groups/{}", g["id"].as_str().unwrap());
        let (s, _, _) = app
            .request(
                "PATCH",
                &gpath,
                Some(&app.token),
                Some(patch(
                    json!([{"op": "replace", "path": "displayName", "value": "H"}]),
                )),
                &[("if-match", "W/\"9\"")],
            )
            .await;
        assert_eq!(s, 412);
        let (_, _, gg) = app
            .request("GET", &gpath, Some(&app.token), None, &[])
            .await;
        assert_eq!(gg["displayName"], "G");
        // A group PATCH answers with the version it stored, whether it changed members,
        // the name, or nothing at all (a member added twice, an unknown user).
        let mut ids = Vec::new();
        for n in 0..3 {
            let (_, u) = app
                .scim("POST", "/Users", Some(user(&format!("m{n}@acme.test"))))
                .await;
            ids.push(u["id"].as_str().unwrap().to_string());
        }
        let steps = [
            json!([{"op": "add", "path": "members", "value": [{"value": ids[0]}, {"value": ids[1]}]}]),
            json!([{"op": "add", "path": "members", "value": [{"value": ids[1]}, {"value": "nobody"}]}]),
            json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", ids[0])},
                   {"op": "add", "path": "members", "value": [{"value": ids[2]}]}]),
            json!([{"op": "replace", "path": "displayName", "value": "H2"}]),
            json!([{"op": "replace", "path": "members", "value": [{"value": ids[0]}]}]),
        ];
        let mut last = 0;
        for (i, ops) in steps.into_iter().enumerate() {
            let (s, h, _) = app
                .request("PATCH", &gpath, Some(&app.token), Some(patch(ops)), &[])
                .await;
            assert_eq!(s, 204, "step {i}");
            let (_, gh, gg) = app
                .request("GET", &gpath, Some(&app.token), None, &[])
                .await;
            assert_eq!(
                h["etag"], gh["etag"],
                "step {i}: the ETag of the PATCH is stored"
            );
            let v = gg["meta"]["version"].as_str().unwrap().to_string();
            let n: i64 = v
                .trim_start_matches("W/\"")
                .trim_end_matches('"')
                .parse()
                .unwrap();
            assert!(n > last, "step {i}: the version moves forward");
            last = n;
        }
        let (_, _, gg) = app
            .request(
                "GET",
                &format!("{gpath}?attributes=members"),
                Some(&app.token),
                None,
                &[],
            )
            .await;
        assert_eq!(gg["members"].as_array().unwrap().len(), 1);
        let (_, _, listed) = app
            .request(
                "GET",
                "/scim/v2/acme/Groups?filter=displayName%20eq%20%22H2%22",
                Some(&app.token),
                None,
                &[],
            )
            .await;
        assert_eq!(listed["totalResults"], 1);
        app.finish().await;
    }
}

#[tokio::test]
async fn paging_sorting_projection_and_trailing_slashes() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        for n in ["carol", "alice", "erin", "bob", "dave"] {
            app.scim("POST", "/Users", Some(user(&format!("{n}@acme.test"))))
                .await;
        }
        let names = |v: &Value| {
            v["Resources"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    r["userName"]
                        .as_str()
                        .unwrap()
                        .split('@')
                        .next()
                        .unwrap()
                        .to_string()
                })
                .collect::<Vec<_>>()
        };
        let (_, p) = app.scim("GET", "/Users?startIndex=2&count=2", None).await;
        assert_eq!(
            (
                p["totalResults"].as_i64(),
                p["itemsPerPage"].as_i64(),
                p["startIndex"].as_i64()
            ),
            (Some(5), Some(2), Some(2))
        );
        assert_eq!(
            names(&p),
            vec!["alice", "erin"],
            "creation order is the default and is stable"
        );
        // Walking the pages (later pages resume where earlier ones ended) gives what
        // OFFSET gives, also after a user before the position is deleted or added.
        let walk = |pages: Vec<Value>| pages.iter().flat_map(&names).collect::<Vec<_>>();
        let mut pages = Vec::new();
        for start in [1, 3, 5] {
            pages.push(
                app.scim("GET", &format!("/Users?startIndex={start}&count=2"), None)
                    .await
                    .1,
            );
        }
        assert_eq!(walk(pages), vec!["carol", "alice", "erin", "bob", "dave"]);
        let (_, p) = app
            .scim(
                "GET",
                &format!("/Users?filter={}", enc("userName sw \"alice\"")),
                None,
            )
            .await;
        let alice = p["Resources"][0]["id"].as_str().unwrap().to_string();
        assert_eq!(
            app.scim("DELETE", &format!("/Users/{alice}"), None).await.0,
            204
        );
        let (_, p) = app.scim("GET", "/Users?startIndex=3&count=2", None).await;
        assert_eq!(
            (names(&p), p["totalResults"].as_i64()),
            (vec!["bob".to_string(), "dave".to_string()], Some(4))
        );
        app.scim("POST", "/Users", Some(user("alice@acme.test")))
            .await;
        let (_, p) = app.scim("GET", "/Users?startIndex=3&count=2", None).await;
        assert_eq!(
            (names(&p), p["totalResults"].as_i64()),
            (vec!["bob".to_string(), "dave".to_string()], Some(5))
        );
        let (_, p) = app.scim("GET", "/Users?startIndex=5&count=2", None).await;
        assert_eq!(names(&p), vec!["alice"]);
        let (_, p) = app.scim("GET", "/Users?count=0", None).await;
        assert_eq!(
            (p["totalResults"].as_i64(), p["Resources"].clone()),
            (Some(5), json!([]))
        );
        let (_, p) = app
            .scim(
                "GET",
                "/Users?startIndex=0&count=100&sortBy=userName&sortOrder=descending",
                None,
            )
            .await;
        assert_eq!(names(&p), vec!["erin", "dave", "carol", "bob", "alice"]);
        let (_, p) = app.scim("GET", "/Users?startIndex=10", None).await;
        assert_eq!(
            (p["totalResults"].as_i64(), p["itemsPerPage"].as_i64()),
            (Some(5), Some(0))
        );
        let (s, e) = app.scim("GET", "/Users?sortBy=favouriteColour", None).await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("invalidValue"));
        let (_, p) = app
            .scim("GET", "/Users?attributes=userName&count=1", None)
            .await;
        let r = p["Resources"][0].as_object().unwrap();
        let mut keys: Vec<&String> = r.keys().collect();
        keys.sort();
        assert_eq!(keys, vec!["id", "schemas", "userName"]);
        let (_, p) = app
            .scim("GET", "/Users?excludedAttributes=emails,meta&count=1", None)
            .await;
        assert!(
            p["Resources"][0].get("emails").is_none()
                && p["Resources"][0].get("meta").is_none()
                && p["Resources"][0].get("id").is_some()
        );
        // POST /.search gives the same as GET.
        let (s, p) = app.scim("POST", "/Users/.search", Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": "userName sw \"d\"", "attributes": ["userName"], "count": 10}))).await;
        assert_eq!(s, 200);
        assert_eq!(names(&p), vec!["dave"]);
        // Trailing slashes and Entra's flag are fine.
        let (s, _, p) = app
            .request(
                "GET",
                "/scim/v2/acme/Users/?aadOptscim062020",
                Some(&app.token),
                None,
                &[],
            )
            .await;
        assert_eq!((s.as_u16(), p["totalResults"].as_i64()), (200, Some(5)));
        app.finish().await;
    }
}

#[tokio::test]
async fn bulk_with_references_and_fail_on_errors() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (s, r) = app.scim("POST", "/Bulk", Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulk1@acme.test")},
                {"method": "POST", "path": "/Groups", "bulkId": "g1", "data": {"displayName": "Bulk team", "members": [{"value": "bulkId:u1"}]}},
                {"method": "PATCH", "path": "/Users/bulkId:u1", "data": patch(json!([{"op": "replace", "path": "title", "value": "Bulked"}]))},
                {"method": "POST", "path": "/Users", "bulkId": "dup", "data": user("BULK1@acme.test")},
                {"method": "DELETE", "path": "/Users/no-such-user"}
            ]
        }))).await;
        assert_eq!(s, 200, "{r}");
        let ops = r["Operations"].as_array().unwrap();
        let statuses: Vec<&str> = ops.iter().map(|o| o["status"].as_str().unwrap()).collect();
        assert_eq!(statuses, vec!["201", "201", "200", "409", "404"]);
        assert_eq!(ops[3]["response"]["scimType"], "uniqueness");
        let gid = ops[1]["location"]
            .as_str()
            .unwrap()
            .rsplit('/')
            .next()
            .unwrap();
        let (_, g) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(g["members"].as_array().unwrap().len(), 1);
        let (_, u) = app
            .scim(
                "GET",
                &format!("/Users/{}", g["members"][0]["value"].as_str().unwrap()),
                None,
            )
            .await;
        assert_eq!(u["title"], "Bulked");
        // failOnErrors stops after that many errors.
        let (_, r) = app.scim("POST", "/Bulk", Some(json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:BulkRequest"],
            "failOnErrors": 1,
            "Operations": [
                {"method": "POST", "path": "/Users", "bulkId": "x", "data": {"name": {}}},
                {"method": "POST", "path": "/Users", "bulkId": "y", "data": user("never@acme.test")}
            ]
        }))).await;
        assert_eq!(r["Operations"].as_array().unwrap().len(), 1);
        let (_, l) = app
            .scim(
                "GET",
                &format!("/Users?filter={}", enc("userName eq \"never@acme.test\"")),
                None,
            )
            .await;
        assert_eq!(l["totalResults"], 0);
        // Each bulk operation is in the log with its own changes.
        let evs = app.events().await;
        assert!(evs
            .iter()
            .any(|e| e.path.ends_with("/Users (bulk)") && e.status == 201 && e.changes.len() == 1));
        app.finish().await;
    }
}

#[tokio::test]
async fn discovery_documents() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (s, spc) = app.scim("GET", "/ServiceProviderConfig", None).await;
        assert_eq!(s, 200);
        assert_eq!(spc["patch"]["supported"], true);
        assert_eq!(spc["bulk"]["maxOperations"], 1000);
        assert_eq!(spc["filter"]["maxResults"], 1000);
        assert_eq!(spc["changePassword"]["supported"], false);
        assert_eq!(spc["etag"]["supported"], true);
        assert_eq!(spc["authenticationSchemes"][0]["type"], "oauthbearertoken");
        let (_, schemas) = app.scim("GET", "/Schemas", None).await;
        assert_eq!(schemas["totalResults"], 4);
        let (s, ent) = app
            .scim(
                "GET",
                "/Schemas/urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
                None,
            )
            .await;
        assert_eq!(s, 200);
        assert!(ent["attributes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|a| a["name"] == "manager"));
        let (_, rts) = app.scim("GET", "/ResourceTypes", None).await;
        assert_eq!(rts["totalResults"], 2);
        let (s, rt) = app.scim("GET", "/ResourceTypes/User", None).await;
        assert_eq!((s.as_u16(), rt["endpoint"].as_str()), (200, Some("/Users")));
        let (s, _) = app.scim("GET", "/ResourceTypes/Widget", None).await;
        assert_eq!(s, 404);
        app.finish().await;
    }
}

#[tokio::test]
async fn org_settings_role_mapping_and_immutable_user_name() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let mut org = app.org.clone();
        org.allowed_roles = vec!["admin".into(), "member".into()];
        org.user_name_immutable = true;
        let mut c = app.db.store.read().await.unwrap();
        orgs::update_org_settings(&mut c, &org).await.unwrap();
        drop(c);
        let ext = "urn:ietf:params:scim:schemas:extension:scimgate:2.0:User";
        let mut u = user("r@acme.test");
        u[ext] = json!({"role": "superuser"});
        let (s, e) = app.scim("POST", "/Users", Some(u.clone())).await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("invalidValue"));
        u[ext] = json!({"role": "admin"});
        let (s, created) = app.scim("POST", "/Users", Some(u)).await;
        assert_eq!(s, 201);
        assert_eq!(created[ext]["role"], "admin");
        let id = created["id"].as_str().unwrap();
        let (s, p) = app
            .scim(
                "PATCH",
                &format!("/Users/{id}"),
                Some(patch(
                    json!([{"op": "replace", "path": format!("{ext}:role"), "value": "member"}]),
                )),
            )
            .await;
        assert_eq!((s.as_u16(), p[ext]["role"].as_str()), (200, Some("member")));
        let (s, e) = app
            .scim(
                "PATCH",
                &format!("/Users/{id}"),
                Some(patch(
                    json!([{"op": "replace", "path": "userName", "value": "renamed@acme.test"}]),
                )),
            )
            .await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("mutability"));
        app.finish().await;
    }
}

#[tokio::test]
async fn changes_and_their_log_entries_commit_together() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (_, u) = app
            .scim(
                "POST",
                "/Users",
                Some(
                    json!({"userName": "log@acme.test", "password": "Sup3rSecret!", "title": "A"}),
                ),
            )
            .await;
        let id = u["id"].as_str().unwrap().to_string();
        app.scim("PATCH", &format!("/Users/{id}"), Some(patch(json!([{"op": "replace", "path": "title", "value": "B"}, {"op": "replace", "path": "password", "value": "An0therSecret"}])))).await;
        // A failed change leaves no change entry.
        app.scim("POST", "/Users", Some(json!({"userName": "LOG@acme.test"})))
            .await;
        app.scim("GET", &format!("/Users/{id}"), None).await;
        let evs = app.events().await;
        let writes: Vec<&scimgate::directory::Event> =
            evs.iter().filter(|e| !e.changes.is_empty()).collect();
        assert_eq!(writes.len(), 2);
        let upd = &writes[0].changes[0];
        assert_eq!(upd.kind.as_str(), "updated");
        assert_eq!(
            upd.detail.as_ref().unwrap(),
            &json!({"title": {"before": "A", "after": "B"}})
        );
        for e in &evs {
            let body = e.request_body.clone().unwrap_or_default();
            assert!(
                !body.contains("Sup3rSecret") && !body.contains("An0therSecret"),
                "{body}"
            );
        }
        let conflict = evs.iter().find(|e| e.status == 409).expect("409 logged");
        assert_eq!(conflict.scim_type.as_deref(), Some("uniqueness"));
        assert!(conflict.changes.is_empty());
        // The successful GET is counted in its minute (`--log-reads minute`), not a row.
        assert!(!evs.iter().any(|e| e.method == "GET"));
        let mut c = app.db.store.read().await.unwrap();
        let reads =
            scimgate::store::events::read_traffic(&mut c, &app.org.id, &Default::default(), 10)
                .await
                .unwrap();
        drop(c);
        assert_eq!(reads.len(), 1, "{reads:?}");
        assert_eq!(
            (reads[0].route.as_str(), reads[0].requests),
            ("GET /Users/{id}", 1)
        );
        assert!(evs.iter().all(|e| e.token_label.as_deref() == Some("test")
            && e.org_id.as_deref() == Some(app.org.id.as_str())));
        app.finish().await;
    }
}

/// Case-insensitive attributes compare with a Unicode fold on both sides: `displayName eq
/// "åsa"` finds "ÅSA" (and the other way round), and a userName differing only in
/// non-ASCII case is taken.
#[tokio::test]
async fn unicode_case_insensitive_filters_and_uniqueness() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let mut u = user("ÅSA.ÖBERG@acme.test");
        u["displayName"] = json!("ÅSA Öberg");
        u["title"] = json!("INGÉNIEUR");
        u["emails"] = json!([{"value": "ÅSA.ÖBERG@acme.test", "type": "work"}]);
        u["addresses"] = json!([{"locality": "MÜNCHEN", "type": "work"}]);
        let (s, created) = app.scim("POST", "/Users", Some(u)).await;
        assert_eq!(s, 201, "{created}");
        let (s, _) = app
            .scim("POST", "/Users", Some(user("bob@acme.test")))
            .await;
        assert_eq!(s, 201);
        for f in [
            r#"displayName eq "åsa öberg""#,
            r#"displayName eq "ÅSA ÖBERG""#,
            r#"displayName sw "å""#,
            r#"displayName gt "z""#,
            r#"userName eq "åsa.öberg@acme.test""#,
            r#"title eq "ingénieur""#,
            r#"title co "é""#,
            r#"emails.value co "öberg""#,
            r#"emails[type eq "WORK" and value sw "åsa."]"#,
            r#"addresses[locality eq "münchen"]"#,
        ] {
            let (s, r) = app
                .scim("GET", &format!("/Users?filter={}", enc(f)), None)
                .await;
            assert_eq!(s, 200, "{f}: {r}");
            assert_eq!(r["totalResults"], 1, "{f}: {r}");
            assert_eq!(r["Resources"][0]["id"], created["id"], "{f}");
        }
        // Sorting is on the folded name too: "åsa a" before "ÅSA Öberg" (unfolded, 'Å'
        // sorts before 'å').
        let mut other = user("asa2@acme.test");
        other["displayName"] = json!("åsa a");
        let (s, second) = app.scim("POST", "/Users", Some(other)).await;
        assert_eq!(s, 201);
        let (_, sorted) = app
            .scim(
                "GET",
                &format!(
                    "/Users?sortBy=displayName&filter={}",
                    enc(r#"displayName sw "Å""#)
                ),
                None,
            )
            .await;
        let order: Vec<&Value> = sorted["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| &r["id"])
            .collect();
        assert_eq!(order, vec![&second["id"], &created["id"]], "{sorted}");
        let (s, e) = app
            .scim("POST", "/Users", Some(user("åsa.öberg@acme.test")))
            .await;
        assert_eq!(s, 409, "{e}");
        assert_scim_error(&e, 409, Some("uniqueness"));
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "ÉQUIPE ÅSA"})),
            )
            .await;
        assert_eq!(s, 201, "{g}");
        let (s, r) = app
            .scim(
                "GET",
                &format!("/Groups?filter={}", enc(r#"displayName eq "équipe åsa""#)),
                None,
            )
            .await;
        assert_eq!(
            (s.as_u16(), r["totalResults"].as_i64()),
            (200, Some(1)),
            "{r}"
        );
        app.finish().await;
    }
}
