//! The console's Integrations page driven over HTTP (server-function paths and form bodies),
//! on every backend: application keys (the secret answered once and never cached, listed
//! without it, revoked for good, each write audited), the live event feed, and isolation
//! between orgs; webhook endpoints (the signing secret answered once, private destinations
//! refused unless allowed, deliveries to a local receiver listed, resends, re-enabling,
//! each write audited, the dashboard's warning).

mod common;

use axum::http::{header, HeaderMap};
use common::console::{form, post_form, sign_in, Resp};
use common::{backends, Backend, TestApp};
use leptos::server_fn::ServerFn;
use scimgate::config::ServeArgs;
use scimgate::console::api::{
    AddWebhookEndpoint, AdminsPage, CreateAppKey, Dashboard, EnableWebhookEndpoint, ListAppKeys,
    ListWebhookEndpoints, RecentChangeEvents, RemoveWebhookEndpoint, ResendWebhookEvent,
    RevokeAppKey,
};
use scimgate::management::{app_keys, ManagementError};
use serde_json::{json, Value};

const PW: &str = "a long enough password";
const OPS: &str = "ops@acme.test";
const BETA_OPS: &str = "b@beta.test";

/// acme (the TestApp's org) with ops@acme.test, beta with b@beta.test; both signed in.
struct World {
    app: TestApp,
    be: &'static str,
    ops: String,
    beta: String,
}

impl World {
    async fn new(b: &Backend) -> World {
        World::on(b, TestApp::new(b).await).await
    }

    /// On an app that delivers webhooks to local receivers, soon retried.
    async fn delivering(b: &Backend) -> World {
        let args = ServeArgs {
            site_root: "target/site".into(),
            webhook_allow_private: true,
            webhook_retry_initial_ms: 100,
            ..ServeArgs::default()
        };
        World::on(b, TestApp::with_args(b, args).await).await
    }

    async fn on(b: &Backend, app: TestApp) -> World {
        let be = b.name();
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
        post_form(&self.app, path, body, cookie).await
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
        sign_in(&self.app, self.be, email, PW).await
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

// ── Webhook endpoints ───────────────────────────────────────────────────────────────────

/// A local webhook receiver answering 200; what it got (headers, body).
type Got = std::sync::Arc<std::sync::Mutex<Vec<(HeaderMap, String)>>>;

async fn start_receiver() -> (Got, String) {
    let got = Got::default();
    let app = axum::Router::new()
        .route(
            "/hook",
            axum::routing::post(
                |axum::extract::State(got): axum::extract::State<Got>,
                 headers: HeaderMap,
                 body: String| async move {
                    got.lock().unwrap().push((headers, body));
                    "thanks"
                },
            ),
        )
        .with_state(got.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (got, url)
}

impl World {
    /// acme's endpoints as the page gets them.
    async fn endpoints(&self) -> Vec<Value> {
        let v = self
            .ok(
                ListWebhookEndpoints::PATH,
                form(&[("org", "acme")]),
                &self.ops,
                "list_webhook_endpoints",
            )
            .await;
        v.as_array()
            .unwrap_or_else(|| panic!("[{}] the endpoints are a list: {v}", self.be))
            .clone()
    }

    /// Polls the list (as the page does) until an attempt with `outcome` is listed.
    async fn wait_for_attempt(&self, outcome: &str) -> (Value, Value) {
        let start = std::time::Instant::now();
        loop {
            let list = self.endpoints().await;
            for ep in &list {
                if let Some(a) = ep["recent"]
                    .as_array()
                    .and_then(|r| r.iter().find(|a| a["outcome"] == outcome))
                {
                    return (ep.clone(), a.clone());
                }
            }
            assert!(
                start.elapsed() < std::time::Duration::from_secs(20),
                "[{}] no {outcome} attempt listed: {list:?}",
                self.be
            );
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
    }

    async fn dashboard_disabled(&self) -> i64 {
        let d = self
            .ok(
                Dashboard::PATH,
                form(&[("org", "acme")]),
                &self.ops,
                "dashboard",
            )
            .await;
        d["webhooks_disabled"]
            .as_i64()
            .unwrap_or_else(|| panic!("[{}] the dashboard counts disabled endpoints: {d}", self.be))
    }
}

#[tokio::test]
async fn a_webhook_endpoint_shows_its_secret_once_and_refuses_private_destinations() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let audit_before = w.audit().await.len();

        // Without --webhook-allow-private: loopback, private and plain-http URLs refused.
        for url in [
            "http://127.0.0.1:9/hook",
            "https://10.1.2.3/hook",
            "https://localhost/hook",
            "http://hooks.example.com/hook",
        ] {
            let r = w
                .expect(
                    AddWebhookEndpoint::PATH,
                    form(&[
                        ("org", "acme"),
                        ("url", url),
                        ("event_types", ""),
                        ("description", ""),
                    ]),
                    Some(&w.ops),
                    400,
                    &format!("add_webhook_endpoint {url}"),
                )
                .await;
            assert!(
                r.body.contains("not allowed") || r.body.contains("https"),
                "[{be}] {url}: {}",
                r.body
            );
        }
        // An unknown event type is refused too.
        w.expect(
            AddWebhookEndpoint::PATH,
            form(&[
                ("org", "acme"),
                ("url", "https://hooks.example.com/scimgate"),
                ("event_types", "user.created, user.exploded"),
                ("description", ""),
            ]),
            Some(&w.ops),
            400,
            "add_webhook_endpoint with an unknown type",
        )
        .await;
        assert!(w.endpoints().await.is_empty(), "[{be}] nothing was added");

        // Added: the secret once, in an answer nobody may cache.
        let r = w
            .expect(
                AddWebhookEndpoint::PATH,
                form(&[
                    ("org", "acme"),
                    ("url", "https://hooks.example.com/scimgate"),
                    ("event_types", "user.created, team.member_added"),
                    ("description", "Billing"),
                ]),
                Some(&w.ops),
                200,
                "add_webhook_endpoint",
            )
            .await;
        assert_no_store(be, &r, "add_webhook_endpoint");
        let made = w.json(&r, "add_webhook_endpoint");
        let secret = made["secret"].as_str().unwrap().to_string();
        assert!(secret.starts_with("whsec_"), "[{be}] {made}");
        let ep = &made["endpoint"];
        let id = ep["id"].as_str().unwrap().to_string();
        assert_eq!(
            ep["url"], "https://hooks.example.com/scimgate",
            "[{be}] {ep}"
        );
        assert_eq!(
            ep["event_types"],
            json!(["user.created", "team.member_added"]),
            "[{be}] {ep}"
        );
        assert_eq!(ep["state"], "active", "[{be}] {ep}");
        assert_eq!(ep["created_by"], OPS, "[{be}] {ep}");

        // Listed with its hint, never with its secret.
        let r = w
            .expect(
                ListWebhookEndpoints::PATH,
                form(&[("org", "acme")]),
                Some(&w.ops),
                200,
                "list_webhook_endpoints",
            )
            .await;
        assert!(
            !r.body.contains(&secret),
            "[{be}] the list repeats the secret: {}",
            r.body
        );
        let list = w.json(&r, "list_webhook_endpoints");
        assert_eq!(list.as_array().unwrap().len(), 1, "[{be}] {list}");
        assert_eq!(list[0]["id"], id.as_str(), "[{be}] {list}");
        assert_eq!(list[0]["description"], "Billing", "[{be}] {list}");
        assert_eq!(list[0]["recent"], json!([]), "[{be}] {list}");
        assert!(
            secret.starts_with(
                list[0]["secret_hint"]
                    .as_str()
                    .unwrap()
                    .trim_end_matches('…')
            ),
            "[{be}] the hint is the secret's start: {list}"
        );
        assert_eq!(w.dashboard_disabled().await, 0, "[{be}]");

        // Disabled (as the deliverer does after days of failures): listed with its reason,
        // counted on the dashboard; enabled again from the console.
        {
            let mut tx = w.app.db.store.begin().await.unwrap();
            sqlx::query("UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2, failing_since = $1 WHERE id = $3")
                .bind(scimgate::directory::now_ms())
                .bind("No successful delivery for 72 hours.")
                .bind(&id)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let list = w.endpoints().await;
        assert_eq!(list[0]["state"], "disabled", "[{be}] {list:?}");
        assert_eq!(
            list[0]["disabled_reason"], "No successful delivery for 72 hours.",
            "[{be}] {list:?}"
        );
        assert_eq!(
            w.dashboard_disabled().await,
            1,
            "[{be}] the dashboard warns"
        );
        w.expect(
            EnableWebhookEndpoint::PATH,
            form(&[("org", "acme"), ("endpoint_id", &id)]),
            Some(&w.ops),
            200,
            "enable_webhook_endpoint",
        )
        .await;
        let list = w.endpoints().await;
        assert_eq!(list[0]["state"], "active", "[{be}] {list:?}");
        assert_eq!(list[0]["disabled_reason"], Value::Null, "[{be}] {list:?}");
        assert_eq!(w.dashboard_disabled().await, 0, "[{be}] no more warning");

        // Removed; a second removal is not found.
        w.expect(
            RemoveWebhookEndpoint::PATH,
            form(&[("org", "acme"), ("endpoint_id", &id)]),
            Some(&w.ops),
            200,
            "remove_webhook_endpoint",
        )
        .await;
        assert!(w.endpoints().await.is_empty(), "[{be}] removed");
        w.expect(
            RemoveWebhookEndpoint::PATH,
            form(&[("org", "acme"), ("endpoint_id", &id)]),
            Some(&w.ops),
            404,
            "remove_webhook_endpoint twice",
        )
        .await;

        // One audit row per write, none for the refusals; the secret in none of them.
        let audit = w.audit().await;
        assert_eq!(
            audit.len(),
            audit_before + 3,
            "[{be}] three new audit rows: {audit:?}"
        );
        let actions: Vec<&str> = audit[..3]
            .iter()
            .map(|r| r["action"].as_str().unwrap())
            .collect();
        assert_eq!(
            actions,
            [
                "webhook endpoint removed",
                "webhook endpoint enabled",
                "webhook endpoint added"
            ],
            "[{be}] {audit:?}"
        );
        for row in &audit[..3] {
            assert_eq!(row["admin_email"], OPS, "[{be}] {row}");
            assert_eq!(
                row["target"], "https://hooks.example.com/scimgate",
                "[{be}] {row}"
            );
            assert!(!row.to_string().contains(&secret), "[{be}] {row}");
        }
        w.app.finish().await;
    }
}

#[tokio::test]
async fn a_scim_change_is_listed_as_delivered_and_can_be_resent() {
    for b in backends() {
        let w = World::delivering(&b).await;
        let be = w.be;
        let (got, url) = start_receiver().await;

        // With --webhook-allow-private a local receiver is accepted.
        let made = w
            .ok(
                AddWebhookEndpoint::PATH,
                form(&[
                    ("org", "acme"),
                    ("url", &url),
                    ("event_types", ""),
                    ("description", "local receiver"),
                ]),
                &w.ops,
                "add_webhook_endpoint to a local receiver",
            )
            .await;
        let id = made["endpoint"]["id"].as_str().unwrap().to_string();
        assert_eq!(
            made["endpoint"]["event_types"],
            json!([]),
            "[{be}] all events"
        );
        assert_eq!(
            w.endpoints().await[0]["last_success_at"],
            Value::Null,
            "[{be}]"
        );

        let alice = w.scim_user("alice@example.com").await;
        let (ep, a) = w.wait_for_attempt("delivered").await;
        assert_eq!(ep["id"], id.as_str(), "[{be}] {ep}");
        assert_eq!(a["event_type"], "user.created", "[{be}] {a}");
        assert_eq!(a["status_code"], 200, "[{be}] {a}");
        assert!(a["seq"].as_i64().unwrap() > 0, "[{be}] {a}");
        assert!(a["latency_ms"].as_i64().unwrap() >= 0, "[{be}] {a}");
        assert!(a["attempted_at"].as_i64().unwrap() > 0, "[{be}] {a}");
        assert_eq!(a["response_excerpt"], "thanks", "[{be}] {a}");
        assert_eq!(ep["state"], "active", "[{be}] {ep}");
        assert!(ep["last_success_at"].as_i64().is_some(), "[{be}] {ep}");
        {
            let got = got.lock().unwrap();
            assert_eq!(got.len(), 1, "[{be}] one delivery");
            let (h, body) = &got[0];
            for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
                assert!(h.contains_key(name), "[{be}] {name} missing: {h:?}");
            }
            assert!(body.contains(&alice), "[{be}] {body}");
            assert_eq!(
                h["webhook-id"].to_str().unwrap(),
                a["event_id"].as_str().unwrap(),
                "[{be}] the attempt names the event delivered"
            );
        }

        // Resent: delivered again, listed as resent, audited.
        let event_id = a["event_id"].as_str().unwrap().to_string();
        w.expect(
            ResendWebhookEvent::PATH,
            form(&[
                ("org", "acme"),
                ("endpoint_id", &id),
                ("event_id", &event_id),
            ]),
            Some(&w.ops),
            200,
            "resend_webhook_event",
        )
        .await;
        let (_, resent) = w.wait_for_attempt("resent").await;
        assert_eq!(resent["event_id"], event_id.as_str(), "[{be}] {resent}");
        assert_eq!(resent["status_code"], 200, "[{be}] {resent}");
        assert_eq!(got.lock().unwrap().len(), 2, "[{be}] sent twice");
        w.expect(
            ResendWebhookEvent::PATH,
            form(&[
                ("org", "acme"),
                ("endpoint_id", &id),
                ("event_id", "no-such-event"),
            ]),
            Some(&w.ops),
            404,
            "resend_webhook_event of an unknown event",
        )
        .await;
        let audit = w.audit().await;
        assert_eq!(
            audit[0]["action"], "webhook event resent",
            "[{be}] {audit:?}"
        );
        assert_eq!(audit[0]["target"], url.as_str(), "[{be}] {audit:?}");
        assert_eq!(
            audit[1]["action"], "webhook endpoint added",
            "[{be}] {audit:?}"
        );
        w.app.finish().await;
    }
}

#[tokio::test]
async fn another_orgs_admin_cannot_see_or_touch_webhook_endpoints() {
    for b in backends() {
        let w = World::new(&b).await;
        let be = w.be;
        let made = w
            .ok(
                AddWebhookEndpoint::PATH,
                form(&[
                    ("org", "acme"),
                    ("url", "https://hooks.example.com/acme-secret-path"),
                    ("event_types", ""),
                    ("description", ""),
                ]),
                &w.ops,
                "add_webhook_endpoint",
            )
            .await;
        let id = made["endpoint"]["id"].as_str().unwrap().to_string();
        let calls = [
            (
                "list_webhook_endpoints",
                ListWebhookEndpoints::PATH,
                form(&[("org", "acme")]),
            ),
            (
                "add_webhook_endpoint",
                AddWebhookEndpoint::PATH,
                form(&[
                    ("org", "acme"),
                    ("url", "https://evil.example.com/"),
                    ("event_types", ""),
                    ("description", ""),
                ]),
            ),
            (
                "remove_webhook_endpoint",
                RemoveWebhookEndpoint::PATH,
                form(&[("org", "acme"), ("endpoint_id", &id)]),
            ),
            (
                "enable_webhook_endpoint",
                EnableWebhookEndpoint::PATH,
                form(&[("org", "acme"), ("endpoint_id", &id)]),
            ),
            (
                "resend_webhook_event",
                ResendWebhookEvent::PATH,
                form(&[("org", "acme"), ("endpoint_id", &id), ("event_id", "e1")]),
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
            assert!(
                !r.body.contains("acme-secret-path"),
                "[{be}] {name}: {}",
                r.body
            );
        }
        // acme's endpoint id in beta's own org is not found either.
        for (name, path) in [
            ("remove_webhook_endpoint", RemoveWebhookEndpoint::PATH),
            ("enable_webhook_endpoint", EnableWebhookEndpoint::PATH),
        ] {
            w.expect(
                path,
                form(&[("org", "beta"), ("endpoint_id", &id)]),
                Some(&w.beta),
                404,
                &format!("{name} of acme's endpoint in beta"),
            )
            .await;
        }
        let beta = w
            .ok(
                ListWebhookEndpoints::PATH,
                form(&[("org", "beta")]),
                &w.beta,
                "list_webhook_endpoints of beta",
            )
            .await;
        assert_eq!(beta, json!([]), "[{be}] beta has no endpoints");

        // Nothing changed in acme: one endpoint, still active.
        let list = w.endpoints().await;
        assert_eq!(list.len(), 1, "[{be}] {list:?}");
        assert_eq!(list[0]["state"], "active", "[{be}] {list:?}");
        w.app.finish().await;
    }
}
