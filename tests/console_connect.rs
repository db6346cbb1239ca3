//! The Connect page's live status and the console's rules added with it, over HTTP on every
//! backend: the status waits until a request with one of the org's tokens gets through and
//! then counts what the identity provider pushed; a console team named like a managed team
//! is refused until the admin confirms the name; removing yourself works and leaves you
//! without the org.

mod common;

use common::console::{form, Console as World};
use common::{backends, Backend};
use leptos::server_fn::ServerFn;
use scimgate::console::api::{
    AdminsPage, ConnectionStatus, CreateTeam, ListTeams, ListTokens, RemoveAdmin, RenameTeam,
};
use serde_json::{json, Value};

const PW: &str = "a long enough password";
const OPS: &str = "ops@acme.test";

/// ops@acme.test, an admin of acme, signed in.
async fn world(b: &Backend) -> World {
    World::new(b, OPS, PW).await
}

const OKTA_UA: &str = "Okta SCIM Client 1.0.0";

impl World {
    async fn scim_post(&self, token: &str, path: &str, body: Value) -> (u16, Value) {
        let (s, _, v) = self
            .app
            .request(
                "POST",
                &format!("/scim/v2/acme{path}"),
                Some(token),
                Some(body),
                &[("user-agent", OKTA_UA)],
            )
            .await;
        (s.as_u16(), v)
    }
}

#[tokio::test]
async fn the_connection_status_waits_for_an_accepted_request_then_counts() {
    for b in backends() {
        let w = world(&b).await;
        let be = w.be;
        let status = w
            .ok(ConnectionStatus::PATH, &[("org", "acme")], "status")
            .await;
        assert!(status["first_request_at"].is_null(), "[{be}] {status}");

        // A wrong token is not a connection: the log has the 401, the status still waits.
        let (s, _) = w
            .scim_post("scimgate_wrong", "/Users", json!({"userName": "x"}))
            .await;
        assert_eq!(s, 401, "[{be}]");
        w.app.flush_log().await;
        let status = w
            .ok(ConnectionStatus::PATH, &[("org", "acme")], "status")
            .await;
        assert!(status["first_request_at"].is_null(), "[{be}] {status}");

        let token = w.app.token.clone();
        let (s, alice) = w
            .scim_post(
                &token,
                "/Users",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "alice@acme.test", "active": true}),
            )
            .await;
        assert_eq!(s, 201, "[{be}] {alice}");
        w.app.flush_log().await;
        let first = w
            .ok(ConnectionStatus::PATH, &[("org", "acme")], "status")
            .await["first_request_at"]
            .clone();
        assert!(first.is_i64(), "[{be}] {first}");
        let (s, g) = w
            .scim_post(
                &token,
                "/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": [{"value": alice["id"]}]}),
            )
            .await;
        assert_eq!(s, 201, "[{be}] {g}");
        w.app.flush_log().await;
        let status = w
            .ok(ConnectionStatus::PATH, &[("org", "acme")], "status")
            .await;
        assert_eq!(
            status["first_request_at"], first,
            "[{be}] later requests leave the first one where it was: {status}"
        );
        assert_eq!(status["provider"], "Okta", "[{be}] {status}");
        assert_eq!(
            (status["users"].clone(), status["groups"].clone()),
            (json!(1), json!(1)),
            "[{be}] {status}"
        );
        let recent = status["recent"].as_array().unwrap();
        assert_eq!(
            recent.len(),
            2,
            "[{be}] only the accepted requests: {status}"
        );
        assert_eq!(recent[0]["method"], "POST", "[{be}] {status}");
        assert!(
            recent[0]["path"].as_str().unwrap().ends_with("/Groups"),
            "[{be}] newest first: {status}"
        );
        w.app.finish().await;
    }
}

#[tokio::test]
async fn a_console_team_named_like_a_managed_team_needs_confirmation() {
    for b in backends() {
        let w = world(&b).await;
        let be = w.be;
        let token = w.app.token.clone();
        let (s, g) = w
            .scim_post(
                &token,
                "/Groups",
                json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering"}),
            )
            .await;
        assert_eq!(s, 201, "[{be}] {g}");

        // Refused, whatever the case, with words the page recognises; nothing is made.
        let (status, _, body) = w
            .call(
                CreateTeam::PATH,
                form(&[("org", "acme"), ("name", "engineering")]),
            )
            .await;
        assert_eq!(status, 409, "[{be}] {body}");
        assert!(
            body.contains(scimgate::console::api::SAME_NAME_AS_MANAGED) && body.contains("Okta"),
            "[{be}] {body}"
        );
        let teams = w
            .ok(ListTeams::PATH, &[("org", "acme")], "list_teams")
            .await;
        assert_eq!(teams["total"], 1, "[{be}] {teams}");

        // Confirmed: a separate console team of that name.
        let id = w
            .ok(
                CreateTeam::PATH,
                &[
                    ("org", "acme"),
                    ("name", "Engineering"),
                    ("same_name", "on"),
                ],
                "create with confirmation",
            )
            .await;
        let id = id.as_str().unwrap().to_string();
        let teams = w
            .ok(ListTeams::PATH, &[("org", "acme")], "list_teams")
            .await;
        assert_eq!(teams["total"], 2, "[{be}] {teams}");

        // Renaming into a managed name asks too; keeping its own name does not.
        let (status, _, body) = w
            .call(
                RenameTeam::PATH,
                form(&[("org", "acme"), ("id", "none"), ("name", "x")]),
            )
            .await;
        assert_eq!(status, 404, "[{be}] {body}");
        w.ok(
            RenameTeam::PATH,
            &[("org", "acme"), ("id", &id), ("name", "Console Eng")],
            "rename to a free name",
        )
        .await;
        let (status, _, body) = w
            .call(
                RenameTeam::PATH,
                form(&[("org", "acme"), ("id", &id), ("name", "ENGINEERING")]),
            )
            .await;
        assert_eq!(status, 409, "[{be}] {body}");
        w.ok(
            RenameTeam::PATH,
            &[
                ("org", "acme"),
                ("id", &id),
                ("name", "ENGINEERING"),
                ("same_name", "on"),
            ],
            "rename with confirmation",
        )
        .await;
        w.ok(
            RenameTeam::PATH,
            &[("org", "acme"), ("id", &id), ("name", "Engineering")],
            "a rename to its own name (case only) needs no confirmation",
        )
        .await;
        w.app.finish().await;
    }
}

#[tokio::test]
async fn an_admin_who_removes_themselves_loses_the_org() {
    for b in backends() {
        let w = world(&b).await;
        let be = w.be;
        scimgate::management::create_admin(&w.app.db.store, "acme", "second@acme.test", PW.into())
            .await
            .expect("second admin");
        let page = w
            .ok(AdminsPage::PATH, &[("org", "acme")], "admins_page")
            .await;
        let me = page["admins"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["is_you"] == true)
            .map(|a| a["id"].as_str().unwrap().to_string())
            .expect("me");
        w.ok(
            RemoveAdmin::PATH,
            &[("org", "acme"), ("admin_id", &me)],
            "remove myself",
        )
        .await;
        let (status, _, body) = w.call(ListTokens::PATH, form(&[("org", "acme")])).await;
        assert_eq!(status, 404, "[{be}] no longer an admin: {body}");
        w.app.finish().await;
    }
}
