//! Hostile input on the console's read paths, over HTTP on every backend: a signed-in admin
//! (or a stolen session) sends search text, cursors and page anchors that are huge, garbled,
//! out of range or SQL-shaped. Each gets a clear answer (never a 5xx), nothing changes, and
//! the server keeps answering.

mod common;

use common::console::{form, Console};
use common::{backends, Backend};
use leptos::server_fn::ServerFn;
use scimgate::console::api::{ListUsers, ProvisioningLog, UserDetail};
use serde_json::json;

const PW: &str = "a long enough password";
const OPS: &str = "ops@acme.test";

/// Values no browser form would send.
fn nasty() -> Vec<String> {
    vec![
        "x".repeat(100_000),
        "word ".repeat(5_000),
        "%_\\'\"; DROP TABLE users; --".into(),
        "\u{0}\u{1}\u{7f}".into(),
        "ǅ\u{301}\u{200d}🧑‍🚀".repeat(1_000),
        "-1".into(),
        "9223372036854775807".into(),
        "-9223372036854775808".into(),
        "99999999999999999999999".into(),
        "not-a-cursor".into(),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==".into(),
        String::new(),
    ]
}

async fn world(b: &Backend) -> Console {
    Console::new(b, OPS, PW).await
}

#[tokio::test]
async fn console_searches_and_cursors_never_get_a_5xx() {
    for b in backends() {
        let w = world(&b).await;
        let be = w.be;
        let (s, alice) = w
            .app
            .scim(
                "POST",
                "/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test", "name": {"givenName": "Alice", "familyName": "Liddell"}})),
            )
            .await;
        assert_eq!(s.as_u16(), 201, "[{be}] {alice}");
        let alice_id = alice["id"].as_str().unwrap().to_string();
        w.app.flush_log().await;
        let (_, _, before_users) = w.call(ListUsers::PATH, form(&[("org", "acme")])).await;

        for v in nasty() {
            let short: String = v.chars().take(40).collect();
            for field in ["q", "after", "status", "source"] {
                let (s, _, body) = w
                    .call(ListUsers::PATH, form(&[("org", "acme"), (field, &v)]))
                    .await;
                assert!(
                    s < 500,
                    "[{be}] list_users {field}={short:?}: {s} {}",
                    &body[..body.len().min(300)]
                );
            }
            for field in [
                "text", "before", "after", "client", "token", "resource", "status", "kind", "hours",
            ] {
                let (s, _, body) = w
                    .call(ProvisioningLog::PATH, form(&[("org", "acme"), (field, &v)]))
                    .await;
                assert!(
                    s < 500,
                    "[{be}] provisioning_log {field}={short:?}: {s} {}",
                    &body[..body.len().min(300)]
                );
            }
            for (id, before) in [(alice_id.as_str(), v.as_str()), (v.as_str(), "")] {
                let mut pairs = vec![("org", "acme"), ("id", id)];
                if !before.is_empty() {
                    pairs.push(("before", before));
                }
                let (s, _, body) = w.call(UserDetail::PATH, form(&pairs)).await;
                assert!(
                    s < 500,
                    "[{be}] user_detail id/before {short:?}: {s} {}",
                    &body[..body.len().min(300)]
                );
            }
        }

        // The words of a name still find her, and nothing changed.
        let found = w
            .ok(
                ListUsers::PATH,
                &[("org", "acme"), ("q", "liddell")],
                "search",
            )
            .await;
        assert_eq!(found["total"], json!(1), "[{be}] {found}");
        let (_, _, after_users) = w.call(ListUsers::PATH, form(&[("org", "acme")])).await;
        assert_eq!(
            before_users, after_users,
            "[{be}] the directory is as it was"
        );
        let (s, _) = w.app.scim("GET", "/Users?count=1", None).await;
        assert_eq!(s.as_u16(), 200, "[{be}] still serving");
        w.app.finish().await;
    }
}

/// The application API's query parameters, with the same values: a clear 4xx in the API's
/// error shape, never a 5xx.
#[tokio::test]
async fn app_api_parameters_never_get_a_5xx() {
    for b in backends() {
        let be = b.name();
        let app = common::TestApp::new(&b).await;
        let key = scimgate::management::app_keys::create(&app.db.store, &app.org, "app")
            .await
            .unwrap();
        let (s, u) = app
            .scim(
                "POST",
                "/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test"})),
            )
            .await;
        assert_eq!(s.as_u16(), 201, "[{be}] {u}");
        let id = u["id"].as_str().unwrap();
        for v in nasty() {
            // A URL longer than this is refused by the HTTP layer before any handler.
            let v: String = v.chars().take(2_000).collect();
            let v = common::enc(&v);
            for path in [
                format!("/v1/orgs/acme/users?email={v}"),
                format!("/v1/orgs/acme/users?status={v}"),
                format!("/v1/orgs/acme/users?after={v}"),
                format!("/v1/orgs/acme/users?updated_after={v}"),
                format!("/v1/orgs/acme/users?limit={v}"),
                format!("/v1/orgs/acme/users/{v}"),
                format!("/v1/orgs/acme/teams?after={v}"),
                format!("/v1/orgs/acme/teams/{v}/members"),
                format!("/v1/orgs/acme/events?after={v}&wait=0"),
                format!("/v1/orgs/acme/events?limit={v}&wait=0"),
                format!("/v1/orgs/acme/events?wait={v}"),
            ] {
                let (s, _, body) = app
                    .request("GET", &path, Some(&key.secret), None, &[])
                    .await;
                let short: String = path.chars().take(80).collect();
                assert!(s.as_u16() < 500, "[{be}] {short}: {s} {body}");
                if !s.is_success() {
                    assert!(body["error"]["code"].is_string(), "[{be}] {short}: {body}");
                }
            }
        }
        let (s, _, body) = app
            .request(
                "GET",
                &format!("/v1/orgs/acme/users/{id}"),
                Some(&key.secret),
                None,
                &[],
            )
            .await;
        assert_eq!(s.as_u16(), 200, "[{be}] still serving: {body}");
        app.finish().await;
    }
}
