//! The application API (`/v1`) over in-process HTTP: key scoping, the directory reads and
//! their cursor pages, isolation between orgs, the event feed's cursors, long poll and
//! expiry, one error shape, and the generated OpenAPI document.

mod common;

use common::{backends, enc, TestApp};
use scimgate::management;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

async fn get(app: &TestApp, path: &str, key: Option<&str>) -> (u16, Value) {
    let (s, h, v) = app.request("GET", path, key, None, &[]).await;
    if s == 401 {
        assert_eq!(
            h.get("www-authenticate").map(|v| v.to_str().unwrap()),
            Some("Bearer"),
            "401 names the scheme"
        );
    }
    (s.as_u16(), v)
}

fn assert_error(v: &Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{v}"
    );
}

async fn scim_user(app: &TestApp, name: &str, email: &str, active: bool) -> String {
    let (s, u) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "active": active, "emails": [{"value": email, "primary": true}]})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn keys_are_scoped_to_their_org_and_kind() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let store = &app.db.store;
        let key = management::app_keys::create(store, &app.org, "app")
            .await
            .unwrap();
        assert!(key.secret.starts_with("sgapp_"), "{name}");
        let beta = management::create_org(store, "beta", None).await.unwrap();
        let beta_key = management::app_keys::create(store, &beta, "beta app")
            .await
            .unwrap();

        let users = "/v1/orgs/acme/users";
        let (s, v) = get(&app, users, None).await;
        assert_eq!(s, 401, "{name}");
        assert_error(&v, "unauthorized");
        // The SCIM token opens SCIM only; the application key the API only.
        assert_eq!(
            get(&app, users, Some(&app.token)).await.0,
            401,
            "{name}: SCIM token"
        );
        let (s, _, _) = app
            .request("GET", "/scim/v2/acme/Users", Some(&key.secret), None, &[])
            .await;
        assert_eq!(s, 401, "{name}: app key on SCIM");
        // Another org's key, and a key for a login that does not exist, look the same.
        let (s, v) = get(&app, users, Some(&beta_key.secret)).await;
        assert_eq!(s, 401, "{name}: beta's key on acme");
        assert_error(&v, "unauthorized");
        assert_eq!(
            get(&app, "/v1/orgs/nope/users", Some(&key.secret)).await.0,
            401,
            "{name}"
        );
        assert_eq!(get(&app, users, Some(&key.secret)).await.0, 200, "{name}");
        assert_eq!(
            get(&app, "/v1/orgs/beta/users", Some(&beta_key.secret))
                .await
                .0,
            200,
            "{name}"
        );

        // Revoked: refused at once.
        management::app_keys::revoke_cli(store, &app.org, &key.key.id)
            .await
            .unwrap();
        assert_eq!(
            get(&app, users, Some(&key.secret)).await.0,
            401,
            "{name}: revoked"
        );
        // Unknown endpoints answer the same error shape.
        let (s, v) = get(&app, "/v1/orgs/beta/nothing", Some(&beta_key.secret)).await;
        assert_eq!(s, 404, "{name}");
        assert_error(&v, "not_found");
        app.finish().await;
    }
}

#[tokio::test]
async fn the_directory_reads_page_filter_and_stay_in_their_org() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let store = &app.db.store;
        let key = management::app_keys::create(store, &app.org, "app")
            .await
            .unwrap()
            .secret;
        let k = Some(key.as_str());
        let mut ids = Vec::new();
        for i in 0..5 {
            ids.push(scim_user(&app, &format!("u{i}"), &format!("U{i}@Example.com"), i != 3).await);
        }
        // Pages of 2 by cursor: every user once, in order.
        let mut seen = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let path = match &after {
                Some(a) => format!("/v1/orgs/acme/users?limit=2&after={}", enc(a)),
                None => "/v1/orgs/acme/users?limit=2".into(),
            };
            let (s, v) = get(&app, &path, k).await;
            assert_eq!(s, 200, "{name}: {v}");
            let page: Vec<String> = v["data"]
                .as_array()
                .unwrap()
                .iter()
                .map(|u| u["id"].as_str().unwrap().to_string())
                .collect();
            assert!(page.len() <= 2, "{name}");
            seen.extend(page);
            match v["next_cursor"].as_str() {
                Some(c) => after = Some(c.to_string()),
                None => break,
            }
        }
        assert_eq!(seen, ids, "{name}: cursor pages");

        let (_, v) = get(&app, "/v1/orgs/acme/users?status=deactivated", k).await;
        assert_eq!(v["data"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(v["data"][0]["user_name"], "u3", "{name}");
        assert_eq!(v["data"][0]["active"], false, "{name}");
        let (_, v) = get(&app, "/v1/orgs/acme/users?email=u2%40example.COM", k).await;
        assert_eq!(
            v["data"][0]["id"], ids[2],
            "{name}: email, case-insensitive"
        );
        assert_eq!(v["data"][0]["email"], "U2@Example.com", "{name}");
        let future = scimgate::directory::now_ms() + 60_000;
        let (_, v) = get(
            &app,
            &format!("/v1/orgs/acme/users?updated_after={future}"),
            k,
        )
        .await;
        assert!(v["data"].as_array().unwrap().is_empty(), "{name}");
        let (_, v) = get(
            &app,
            "/v1/orgs/acme/users?updated_after=2000-01-01T00:00:00Z",
            k,
        )
        .await;
        assert_eq!(v["data"].as_array().unwrap().len(), 5, "{name}");
        for bad in [
            "limit=0",
            "limit=501",
            "status=gone",
            "updated_after=yesterday",
            "limit=x",
        ] {
            let (s, v) = get(&app, &format!("/v1/orgs/acme/users?{bad}"), k).await;
            assert_eq!(s, 400, "{name}: {bad}");
            assert_error(&v, "invalid_request");
        }

        // A team pushed over SCIM, and one made in the console.
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng", "members": [{"value": ids[0]}, {"value": ids[1]}, {"value": ids[2]}]})),
            )
            .await;
        assert_eq!(s, 201, "{name}");
        let team = g["id"].as_str().unwrap().to_string();
        let admin = management::create_admin(
            store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        let actor = management::Actor {
            org: app.org.clone(),
            admin,
        };
        management::teams::create_team(store, &actor, "Console team", false)
            .await
            .unwrap();
        let (_, v) = get(&app, "/v1/orgs/acme/teams", k).await;
        assert_eq!(v["data"].as_array().unwrap().len(), 2, "{name}");
        let (_, v) = get(&app, "/v1/orgs/acme/teams?managed=true", k).await;
        assert_eq!(v["data"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(v["data"][0]["name"], "Eng", "{name}");
        assert!(v["data"][0]["managed_by"].is_string(), "{name}: {v}");
        let (_, v) = get(&app, "/v1/orgs/acme/teams?managed=false", k).await;
        assert_eq!(v["data"][0]["name"], "Console team", "{name}");
        assert!(v["data"][0]["managed_by"].is_null(), "{name}");

        let (_, v) = get(
            &app,
            &format!("/v1/orgs/acme/teams/{team}/members?limit=2"),
            k,
        )
        .await;
        assert_eq!(v["data"].as_array().unwrap().len(), 2, "{name}");
        let next = v["next_cursor"].as_str().unwrap().to_string();
        let (_, v) = get(
            &app,
            &format!("/v1/orgs/acme/teams/{team}/members?limit=2&after={next}"),
            k,
        )
        .await;
        assert_eq!(v["data"].as_array().unwrap().len(), 1, "{name}");
        assert!(v["next_cursor"].is_null(), "{name}");

        let (s, v) = get(&app, &format!("/v1/orgs/acme/users/{}", ids[0]), k).await;
        assert_eq!(s, 200, "{name}");
        assert_eq!(v["user_name"], "u0", "{name}");
        assert_eq!(v["teams"], json!([{"id": team, "name": "Eng"}]), "{name}");

        // Another org sees none of it, even by id.
        let beta = management::create_org(store, "beta", None).await.unwrap();
        let bk = management::app_keys::create(store, &beta, "b")
            .await
            .unwrap()
            .secret;
        let bk = Some(bk.as_str());
        let (s, v) = get(&app, &format!("/v1/orgs/beta/users/{}", ids[0]), bk).await;
        assert_eq!(s, 404, "{name}");
        assert_error(&v, "not_found");
        assert_eq!(
            get(&app, &format!("/v1/orgs/beta/teams/{team}/members"), bk)
                .await
                .0,
            404,
            "{name}"
        );
        let (_, v) = get(&app, "/v1/orgs/beta/users", bk).await;
        assert!(v["data"].as_array().unwrap().is_empty(), "{name}");
        let (_, v) = get(&app, "/v1/orgs/beta/events", bk).await;
        assert!(v["data"].as_array().unwrap().is_empty(), "{name}");
        app.finish().await;
    }
}

#[tokio::test]
async fn the_event_feed_pages_waits_and_expires() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let store = &app.db.store;
        let key = management::app_keys::create(store, &app.org, "app")
            .await
            .unwrap()
            .secret;
        let k = Some(key.as_str());
        for i in 0..3 {
            scim_user(&app, &format!("u{i}"), &format!("u{i}@example.com"), true).await;
        }
        let (s, v) = get(&app, "/v1/orgs/acme/events?limit=2", k).await;
        assert_eq!(s, 200, "{name}: {v}");
        let seqs: Vec<i64> = v["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(seqs, [1, 2], "{name}");
        assert_eq!(v["data"][0]["type"], "user.created", "{name}");
        assert!(
            v["data"][0]["occurred_at"].as_str().unwrap().ends_with('Z'),
            "{name}"
        );
        assert_eq!(v["next_cursor"], 2, "{name}");
        let (_, v) = get(&app, "/v1/orgs/acme/events?after=2", k).await;
        assert_eq!(v["data"].as_array().unwrap().len(), 1, "{name}");
        assert_eq!(v["next_cursor"], 3, "{name}");
        // Nothing new: an empty page that keeps the cursor.
        let (_, v) = get(&app, "/v1/orgs/acme/events?after=3", k).await;
        assert_eq!(
            (
                v["data"].as_array().unwrap().len(),
                v["next_cursor"].as_i64()
            ),
            (0, Some(3)),
            "{name}"
        );
        // Filtered by type, the cursor still moves past what was looked at.
        let (_, v) = get(&app, "/v1/orgs/acme/events?types=team.created", k).await;
        assert_eq!(
            (
                v["data"].as_array().unwrap().len(),
                v["next_cursor"].as_i64()
            ),
            (0, Some(3)),
            "{name}"
        );

        // Long poll: the answer comes as soon as an event commits, not at the timeout.
        let started = Instant::now();
        let waiting = get(&app, "/v1/orgs/acme/events?after=3&wait=20", k);
        let writer = async {
            tokio::time::sleep(Duration::from_millis(300)).await;
            scim_user(&app, "late", "late@example.com", true).await;
        };
        let ((s, v), ()) = tokio::join!(waiting, writer);
        let took = started.elapsed();
        assert_eq!(s, 200, "{name}");
        assert_eq!(
            v["data"][0]["data"]["user"]["user_name"], "late",
            "{name}: {v}"
        );
        assert!(
            took >= Duration::from_millis(250) && took < Duration::from_secs(10),
            "{name}: woke after {took:?}"
        );
        // And an empty wait ends at its timeout.
        let started = Instant::now();
        let (_, v) = get(&app, "/v1/orgs/acme/events?after=4&wait=1", k).await;
        assert!(v["data"].as_array().unwrap().is_empty(), "{name}");
        assert!(started.elapsed() >= Duration::from_millis(900), "{name}");

        // A type may be repeated (it is one filter term): a long list is answered, not refused.
        let many = vec!["user.created"; 4_000].join(",");
        let (s, v) = get(&app, &format!("/v1/orgs/acme/events?types={many}"), k).await;
        assert_eq!(s, 200, "{name}: {v}");
        for bad in [
            "wait=31",
            "limit=0",
            "types=user.exploded",
            "after=-1",
            "after=99",
            "after=x",
        ] {
            let (s, v) = get(&app, &format!("/v1/orgs/acme/events?{bad}"), k).await;
            assert_eq!(s, 400, "{name}: {bad}: {v}");
            assert_error(&v, "invalid_request");
        }

        // Events before a cursor's position pruned: 410, with a clear error.
        {
            let mut tx = store.begin().await.unwrap();
            sqlx::query("DELETE FROM change_events WHERE seq <= 3")
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let (s, v) = get(&app, "/v1/orgs/acme/events?after=1", k).await;
        assert_eq!(s, 410, "{name}: {v}");
        assert_error(&v, "gone");
        let (s, v) = get(&app, "/v1/orgs/acme/events?after=3", k).await;
        assert_eq!(
            s, 200,
            "{name}: the cursor right before the oldest kept event is fine"
        );
        assert_eq!(v["data"][0]["sequence"], 4, "{name}");
        app.finish().await;
    }
}

#[tokio::test]
async fn the_openapi_document_is_generated() {
    let b = &backends()[0];
    let app = TestApp::new(b).await;
    let (s, v) = get(&app, "/v1/openapi.json", None).await;
    assert_eq!(s, 200);
    assert!(
        v["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        v["openapi"]
    );
    for p in [
        "/v1/orgs/{org}/users",
        "/v1/orgs/{org}/users/{id}",
        "/v1/orgs/{org}/teams",
        "/v1/orgs/{org}/teams/{id}/members",
        "/v1/orgs/{org}/events",
    ] {
        assert!(v["paths"][p]["get"].is_object(), "{p}");
    }
    assert!(v["components"]["schemas"]["UserRecord"].is_object());
    assert!(v["components"]["schemas"]["WireEvent"].is_object());
    assert_eq!(
        v["components"]["securitySchemes"]["app_key"]["scheme"],
        "bearer"
    );
    app.finish().await;
}
