//! The console's Integrations page driven over HTTP (server-function paths and form bodies),
//! on every backend: application keys (the secret answered once and never cached, listed
//! without it, revoked for good, each write audited), the live event feed, and isolation
//! between orgs.

mod common;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request};
use common::{backends, Backend, TestApp};
use leptos::server_fn::ServerFn;
use scimgate::console::api::{
    AdminsPage, CreateAppKey, ListAppKeys, RecentChangeEvents, RevokeAppKey, SignIn,
};
use scimgate::management::{app_keys, ManagementError};
use serde_json::{json, Value};
use tower::ServiceExt;

const PW: &str = "a long enough password";
const OPS: &str = "ops@acme.test";
const BETA_OPS: &str = "b@beta.test";

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

struct Resp {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// acme (the TestApp's org) with ops@acme.test, beta with b@beta.test; both signed in.
struct World {
    app: TestApp,
    be: &'static str,
    ops: String,
    beta: String,
}

impl World {
    async fn new(b: &Backend) -> World {
        let be = b.name();
        let app = TestApp::new(b).await;
        let store = &app.db.store;
        scimgate::management::create_org(store, "beta", Some("Beta"))
            .await
            .unwrap();
        for (org, email) in [("acme", OPS), ("beta", BETA_OPS)] {
            scimgate::management::create_admin(store, org, email, PW.into())
                .await
                .unwrap_or_else(|e| panic!("[{be}] create admin {email}: {e}"));
        }
        let mut w = World {
            app,
            be,
            ops: String::new(),
            beta: String::new(),
        };
        w.ops = w.sign_in(OPS).await;
        w.beta = w.sign_in(BETA_OPS).await;
        w
    }

    async fn call(&self, path: &str, body: String, cookie: Option<&str>) -> Resp {
        let mut b = Request::builder()
            .method("POST")
            .uri(path)
            .header("host", "console.test")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::ACCEPT, "application/json");
        if let Some(c) = cookie {
            b = b.header(header::COOKIE, c);
        }
        let resp = self
            .app
            .app
            .clone()
            .oneshot(b.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        Resp {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn expect(
        &self,
        path: &str,
        body: String,
        cookie: Option<&str>,
        want: u16,
        what: &str,
    ) -> Resp {
        let r = self.call(path, body, cookie).await;
        assert_eq!(
            r.status, want,
            "[{}] {what}: expected HTTP {want}, got {}: {}",
            self.be, r.status, r.body
        );
        r
    }

    fn json(&self, r: &Resp, what: &str) -> Value {
        serde_json::from_str(&r.body).unwrap_or_else(|e| {
            panic!("[{}] {what}: answer is not JSON ({e}): {}", self.be, r.body)
        })
    }

    async fn ok(&self, path: &str, body: String, cookie: &str, what: &str) -> Value {
        let r = self.expect(path, body, Some(cookie), 200, what).await;
        self.json(&r, what)
    }

    async fn sign_in(&self, email: &str) -> String {
        let r = self
            .call(
                SignIn::PATH,
                form(&[("email", email), ("password", PW)]),
                None,
            )
            .await;
        assert!(
            r.status < 400,
            "[{}] sign in {email}: {} {}",
            self.be,
            r.status,
            r.body
        );
        let cookie = r
            .headers
            .get(header::SET_COOKIE)
            .unwrap_or_else(|| panic!("[{}] sign in {email}: no session cookie", self.be))
            .to_str()
            .unwrap();
        cookie.split(';').next().unwrap().to_string()
    }

    /// acme's audit trail as admins_page shows it, newest first.
    async fn audit(&self) -> Vec<Value> {
        let page = self
            .ok(
                AdminsPage::PATH,
                form(&[("org", "acme")]),
                &self.ops,
                "admins_page",
            )
            .await;
        page["audit"].as_array().cloned().unwrap_or_default()
    }

    /// acme's feed as the page sees it (`after` as the page sends it).
    async fn feed(&self, after: Option<i64>) -> Vec<Value> {
        let after = after.map(|a| a.to_string());
        let mut f = vec![("org", "acme")];
        if let Some(a) = &after {
            f.push(("after", a));
        }
        let v = self
            .ok(
                RecentChangeEvents::PATH,
                form(&f),
                &self.ops,
                "recent_change_events",
            )
            .await;
        v.as_array()
            .unwrap_or_else(|| panic!("[{}] the feed is a list: {v}", self.be))
            .clone()
    }

    /// A user pushed to acme over SCIM, as Okta would.
    async fn scim_user(&self, user_name: &str) -> String {
        let (s, _, u) = self
            .app
            .request(
                "POST",
                "/scim/v2/acme/Users",
                Some(&self.app.token),
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                    "userName": user_name,
                    "active": true,
                })),
                &[("user-agent", "Okta SCIM Client 1.0.0")],
            )
            .await;
        assert_eq!(
            s.as_u16(),
            201,
            "[{}] SCIM create {user_name}: {u}",
            self.be
        );
        u["id"].as_str().unwrap().to_string()
    }
}

fn assert_no_store(be: &str, r: &Resp, what: &str) {
    let cc = r
        .headers
        .get(header::CACHE_CONTROL)
        .map(|v| v.to_str().unwrap().to_string());
    assert!(
        cc.as_deref()
            .is_some_and(|v| v.split(',').any(|d| d.trim() == "no-store")),
        "[{be}] {what}: Cache-Control is {cc:?}, not no-store"
    );
}

#[tokio::test]
async fn an_app_key_is_shown_once_listed_without_its_secret_and_revoked_for_good() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let store = w.app.db.store.clone();
        let audit_before = w.audit().await.len();

        // Created: the secret once, in an answer nobody may cache.
        let r = w
            .expect(
                CreateAppKey::PATH,
                form(&[("org", "acme"), ("label", "Billing")]),
                Some(&w.ops),
                200,
                "create_app_key",
            )
            .await;
        assert_no_store(be, &r, "create_app_key");
        let created = w.json(&r, "create_app_key");
        let secret = created["secret"].as_str().unwrap().to_string();
        let id = created["key"]["id"].as_str().unwrap().to_string();
        assert!(secret.starts_with("sgapp_"), "[{be}] an app key: {created}");
        assert_eq!(created["key"]["label"], "Billing", "[{be}] {created}");
        assert_eq!(created["key"]["state"], "active", "[{be}] {created}");
        assert_eq!(created["key"]["created_by"], OPS, "[{be}] {created}");
        let (org, key) = app_keys::authenticate(&store, "acme", &secret)
            .await
            .unwrap_or_else(|e| panic!("[{be}] the new key authenticates: {e}"));
        assert_eq!(
            (org.login.as_str(), key.id.as_str()),
            ("acme", id.as_str()),
            "[{be}]"
        );
        // The key is acme's: it opens nothing of beta's, and it is no SCIM token.
        assert!(
            matches!(
                app_keys::authenticate(&store, "beta", &secret).await,
                Err(ManagementError::Refused)
            ),
            "[{be}] acme's key refused for beta"
        );
        let (s, _, _) = w
            .app
            .request("GET", "/scim/v2/acme/Users", Some(&secret), None, &[])
            .await;
        assert_eq!(s.as_u16(), 401, "[{be}] an app key is not a SCIM token");

        // Invalid labels are refused, and leave nothing behind.
        w.expect(
            CreateAppKey::PATH,
            form(&[("org", "acme"), ("label", "   ")]),
            Some(&w.ops),
            400,
            "create_app_key with a blank label",
        )
        .await;

        // Listed with its hint, never with its secret.
        let r = w
            .expect(
                ListAppKeys::PATH,
                form(&[("org", "acme")]),
                Some(&w.ops),
                200,
                "list_app_keys",
            )
            .await;
        assert!(
            !r.body.contains(&secret),
            "[{be}] the list repeats the secret: {}",
            r.body
        );
        let list = w.json(&r, "list_app_keys");
        let list = list.as_array().unwrap();
        assert_eq!(list.len(), 1, "[{be}] one key: {list:?}");
        assert_eq!(list[0]["id"], id.as_str(), "[{be}] {list:?}");
        assert_eq!(list[0]["hint"], created["key"]["hint"], "[{be}] {list:?}");
        assert!(
            secret.starts_with(list[0]["hint"].as_str().unwrap().trim_end_matches('…')),
            "[{be}] the hint is the secret's start: {list:?}"
        );
        assert!(list[0].get("secret").is_none(), "[{be}] {list:?}");
        let feed = w
            .expect(
                RecentChangeEvents::PATH,
                form(&[("org", "acme")]),
                Some(&w.ops),
                200,
                "recent_change_events",
            )
            .await;
        assert!(
            !feed.body.contains(&secret),
            "[{be}] the feed repeats the secret"
        );

        // Revoked: refused at once, and a second revoke is a conflict.
        w.expect(
            RevokeAppKey::PATH,
            form(&[("org", "acme"), ("key_id", &id)]),
            Some(&w.ops),
            200,
            "revoke_app_key",
        )
        .await;
        assert!(
            matches!(
                app_keys::authenticate(&store, "acme", &secret).await,
                Err(ManagementError::Refused)
            ),
            "[{be}] a revoked key is refused"
        );
        w.expect(
            RevokeAppKey::PATH,
            form(&[("org", "acme"), ("key_id", &id)]),
            Some(&w.ops),
            409,
            "revoke_app_key twice",
        )
        .await;
        w.expect(
            RevokeAppKey::PATH,
            form(&[("org", "acme"), ("key_id", "no-such-key")]),
            Some(&w.ops),
            404,
            "revoke_app_key of an unknown id",
        )
        .await;
        let list = w
            .ok(
                ListAppKeys::PATH,
                form(&[("org", "acme")]),
                &w.ops,
                "list_app_keys",
            )
            .await;
        assert_eq!(list[0]["state"], "revoked", "[{be}] {list}");

        // One audit row per write, none for the refusals; the secret in none of them.
        let audit = w.audit().await;
        assert_eq!(
            audit.len(),
            audit_before + 2,
            "[{be}] two new audit rows: {audit:?}"
        );
        assert_eq!(audit[0]["action"], "app key revoked", "[{be}] {audit:?}");
        assert_eq!(audit[1]["action"], "app key created", "[{be}] {audit:?}");
        for row in &audit[..2] {
            assert_eq!(row["admin_email"], OPS, "[{be}] {row}");
            assert_eq!(row["target"], "Billing", "[{be}] {row}");
            assert!(!row.to_string().contains(&secret), "[{be}] {row}");
        }
        w.app.finish().await;
    }
}

#[tokio::test]
async fn the_feed_shows_scim_changes_newest_first_and_what_came_after() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        assert!(w.feed(None).await.is_empty(), "[{be}] no event yet");

        let alice = w.scim_user("alice@example.com").await;
        let feed = w.feed(None).await;
        assert_eq!(feed.len(), 1, "[{be}] {feed:?}");
        let e = &feed[0];
        assert_eq!(e["event_type"], "user.created", "[{be}] {e}");
        assert_eq!(e["resource_id"], alice.as_str(), "[{be}] {e}");
        assert_eq!(e["summary"], "alice@example.com created", "[{be}] {e}");
        assert!(
            e["origin"].as_str().unwrap().starts_with("scim:"),
            "[{be}] {e}"
        );
        assert!(e["occurred_at"].as_i64().unwrap() > 0, "[{be}] {e}");
        let first = e["seq"].as_i64().unwrap();

        // A team with alice: team.created, then a membership event naming both.
        let (s, _, team) = w
            .app
            .request(
                "POST",
                "/scim/v2/acme/Groups",
                Some(&w.app.token),
                Some(json!({
                    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
                    "displayName": "Engineering",
                    "members": [{"value": alice}],
                })),
                &[("user-agent", "Okta SCIM Client 1.0.0")],
            )
            .await;
        assert_eq!(s.as_u16(), 201, "[{be}] SCIM create team: {team}");
        let bob = w.scim_user("bob@example.com").await;

        let feed = w.feed(None).await;
        let seqs: Vec<i64> = feed.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
        assert!(
            seqs.windows(2).all(|p| p[0] > p[1]),
            "[{be}] newest first: {seqs:?}"
        );
        assert_eq!(feed[0]["event_type"], "user.created", "[{be}] {feed:?}");
        assert_eq!(feed[0]["resource_id"], bob.as_str(), "[{be}] {feed:?}");
        assert_eq!(feed.last().unwrap()["seq"], first, "[{be}] {feed:?}");
        let summaries: Vec<&str> = feed.iter().filter_map(|e| e["summary"].as_str()).collect();
        assert!(
            summaries.contains(&"alice@example.com added to Engineering"),
            "[{be}] {summaries:?}"
        );
        assert!(
            summaries.contains(&"Team Engineering created"),
            "[{be}] {summaries:?}"
        );

        // What the page polls for: only what came after the newest it has.
        let after = w.feed(Some(first)).await;
        assert_eq!(
            after.len(),
            feed.len() - 1,
            "[{be}] after {first}: {after:?}"
        );
        assert!(
            after.iter().all(|e| e["seq"].as_i64().unwrap() > first),
            "[{be}] {after:?}"
        );
        let newest = feed[0]["seq"].as_i64().unwrap();
        assert!(
            w.feed(Some(newest)).await.is_empty(),
            "[{be}] nothing after the newest"
        );

        // Beta's feed is beta's own.
        let beta = w
            .ok(
                RecentChangeEvents::PATH,
                form(&[("org", "beta")]),
                &w.beta,
                "recent_change_events of beta",
            )
            .await;
        assert_eq!(beta, json!([]), "[{be}] beta has no events");
        w.app.finish().await;
    }
}

#[tokio::test]
async fn another_orgs_admin_gets_not_found_and_no_session_gets_unauthorized() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let created = w
            .ok(
                CreateAppKey::PATH,
                form(&[("org", "acme"), ("label", "Billing")]),
                &w.ops,
                "create_app_key",
            )
            .await;
        let id = created["key"]["id"].as_str().unwrap().to_string();
        let secret = created["secret"].as_str().unwrap().to_string();
        w.scim_user("alice@example.com").await;

        let calls = [
            ("list_app_keys", ListAppKeys::PATH, form(&[("org", "acme")])),
            (
                "create_app_key",
                CreateAppKey::PATH,
                form(&[("org", "acme"), ("label", "Intruder")]),
            ),
            (
                "revoke_app_key",
                RevokeAppKey::PATH,
                form(&[("org", "acme"), ("key_id", &id)]),
            ),
            (
                "recent_change_events",
                RecentChangeEvents::PATH,
                form(&[("org", "acme")]),
            ),
        ];
        for (name, path, body) in &calls {
            w.expect(
                path,
                body.clone(),
                None,
                401,
                &format!("{name} without a session"),
            )
            .await;
            // 404, not 403: the answer must not tell that the org exists.
            let r = w
                .expect(
                    path,
                    body.clone(),
                    Some(&w.beta),
                    404,
                    &format!("{name} by beta's admin on acme"),
                )
                .await;
            assert!(!r.body.contains("alice"), "[{be}] {name}: {}", r.body);
        }
        // acme's key id in beta's own org is not found either.
        w.expect(
            RevokeAppKey::PATH,
            form(&[("org", "beta"), ("key_id", &id)]),
            Some(&w.beta),
            404,
            "revoke_app_key of acme's key in beta",
        )
        .await;
        let beta_keys = w
            .ok(
                ListAppKeys::PATH,
                form(&[("org", "beta")]),
                &w.beta,
                "list_app_keys of beta",
            )
            .await;
        assert_eq!(beta_keys, json!([]), "[{be}] beta has no keys");

        // Nothing changed in acme: one key, still active, still working.
        let keys = w
            .ok(
                ListAppKeys::PATH,
                form(&[("org", "acme")]),
                &w.ops,
                "list_app_keys",
            )
            .await;
        let keys = keys.as_array().unwrap();
        assert_eq!(keys.len(), 1, "[{be}] {keys:?}");
        assert_eq!(keys[0]["state"], "active", "[{be}] {keys:?}");
        app_keys::authenticate(&w.app.db.store, "acme", &secret)
            .await
            .unwrap_or_else(|e| panic!("[{be}] the key still works: {e}"));
        w.app.finish().await;
    }
}
