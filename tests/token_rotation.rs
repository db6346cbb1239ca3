//! Token rotation without downtime, over HTTP on every backend: regenerating with an
//! overlap keeps the old secret working beside the new one until the overlap ends (then
//! 401), without one the old secret is refused at once; a replaced token cannot be
//! regenerated twice, and each regeneration is audited.
//!
//! The end of an overlap is reached by moving the old token's expiry into the past in the
//! database: the SCIM token check reads it from there on every request.

mod common;

use common::console::{form, Console as World};
use common::{backends, Backend};
use leptos::server_fn::ServerFn;
use scimgate::console::api::{AdminsPage, ListTokens, RegenerateToken, RevokeToken};
use serde_json::Value;

const PW: &str = "a long enough password";
const OPS: &str = "ops@acme.test";

/// ops@acme.test, an admin of acme, signed in.
async fn world(b: &Backend) -> World {
    World::new(b, OPS, PW).await
}

impl World {
    /// The status SCIM answers a request made with `token`.
    async fn scim_status(&self, token: &str) -> u16 {
        let (s, _, _) = self
            .app
            .request("GET", "/scim/v2/acme/Users?count=1", Some(token), None, &[])
            .await;
        s.as_u16()
    }

    async fn token_id_of_app(&self) -> String {
        let list = self
            .ok(ListTokens::PATH, &[("org", "acme")], "list_tokens")
            .await;
        list[0]["id"].as_str().unwrap().to_string()
    }

    async fn state_of(&self, id: &str) -> Value {
        let list = self
            .ok(ListTokens::PATH, &[("org", "acme")], "list_tokens")
            .await;
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["id"] == id)
            .map(|t| t["state"].clone())
            .unwrap_or(Value::Null)
    }

    /// Ends the overlap: the old token's expiry moves one second into the past, in the
    /// database, as another instance would see it; then the SCIM API's cache of verified
    /// tokens (`--token-cache-ms`, 1 s by default on SQLite) must let it go within that second.
    async fn end_overlap(&self, id: &str) {
        let past = scimgate::directory::now_ms() - 1000;
        let mut tx = self.app.db.store.begin().await.unwrap();
        sqlx::query("UPDATE scim_tokens SET expires_at = $1 WHERE id = $2")
            .bind(past)
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(1_100)).await;
    }
}

#[tokio::test]
async fn with_an_overlap_both_secrets_work_until_it_ends() {
    for b in backends() {
        let w = world(&b).await;
        let be = w.be;
        let old = w.app.token.clone();
        let old_id = w.token_id_of_app().await;
        assert_eq!(w.scim_status(&old).await, 200, "[{be}] before");

        let before = scimgate::directory::now_ms();
        let new = w
            .ok(
                RegenerateToken::PATH,
                &[("org", "acme"), ("token_id", &old_id), ("overlap", "1h")],
                "regenerate with 1h overlap",
            )
            .await;
        let secret = new["secret"].as_str().unwrap().to_string();
        let new_id = new["token"]["id"].as_str().unwrap().to_string();
        let stops = new["old_stops_at"].as_i64().expect("old_stops_at");
        assert!(
            (before + 3_600_000..=scimgate::directory::now_ms() + 3_600_000).contains(&stops),
            "[{be}] the old one stops in one hour: {new}"
        );

        // Both work during the overlap; the list says which one is on its way out.
        assert_eq!(w.scim_status(&old).await, 200, "[{be}] old, in overlap");
        assert_eq!(w.scim_status(&secret).await, 200, "[{be}] new, in overlap");
        assert_eq!(w.state_of(&old_id).await, "replaced", "[{be}]");
        assert_eq!(w.state_of(&new_id).await, "active", "[{be}]");

        // A replaced token is not regenerated twice (two working successors).
        let (status, _, body) = w
            .call(
                RegenerateToken::PATH,
                form(&[("org", "acme"), ("token_id", &old_id), ("overlap", "1h")]),
            )
            .await;
        assert_eq!(status, 409, "[{be}] regenerate a replaced token: {body}");
        assert!(body.contains("already replaced"), "[{be}] {body}");

        // An unknown overlap is refused before anything changes.
        let (status, _, body) = w
            .call(
                RegenerateToken::PATH,
                form(&[("org", "acme"), ("token_id", &new_id), ("overlap", "7d")]),
            )
            .await;
        assert_eq!(status, 400, "[{be}] overlap 7d: {body}");
        assert_eq!(
            w.scim_status(&secret).await,
            200,
            "[{be}] new after 7d refusal"
        );

        // After the overlap only the new one works.
        w.end_overlap(&old_id).await;
        assert_eq!(w.scim_status(&old).await, 401, "[{be}] old, after overlap");
        assert_eq!(
            w.scim_status(&secret).await,
            200,
            "[{be}] new, after overlap"
        );
        assert_eq!(w.state_of(&old_id).await, "expired", "[{be}]");

        // The audit trail says what happened, without a secret.
        let page = w
            .ok(AdminsPage::PATH, &[("org", "acme")], "admins_page")
            .await;
        let audit = page["audit"].to_string();
        assert!(
            audit.contains("token regenerated") && audit.contains("at most 1 more hour"),
            "[{be}] {audit}"
        );
        assert!(!audit.contains(&secret) && !audit.contains(&old), "[{be}]");
        w.app.finish().await;
    }
}

#[tokio::test]
async fn without_an_overlap_the_old_secret_is_refused_at_once() {
    for b in backends() {
        let w = world(&b).await;
        let be = w.be;
        let old = w.app.token.clone();
        let old_id = w.token_id_of_app().await;
        let new = w
            .ok(
                RegenerateToken::PATH,
                &[("org", "acme"), ("token_id", &old_id), ("overlap", "none")],
                "regenerate without overlap",
            )
            .await;
        let secret = new["secret"].as_str().unwrap().to_string();
        assert_eq!(w.scim_status(&old).await, 401, "[{be}] old, at once");
        assert_eq!(w.scim_status(&secret).await, 200, "[{be}] new");
        assert_eq!(w.state_of(&old_id).await, "revoked", "[{be}]");
        let stops = new["old_stops_at"].as_i64().expect("old_stops_at");
        assert!(
            stops <= scimgate::directory::now_ms(),
            "[{be}] stopped already: {new}"
        );
        w.app.finish().await;
    }
}

#[tokio::test]
async fn revoking_a_replaced_token_ends_its_overlap_and_an_earlier_expiry_is_kept() {
    for b in backends() {
        let w = world(&b).await;
        let be = w.be;
        let old = w.app.token.clone();
        let old_id = w.token_id_of_app().await;
        // The token was due to expire in ten minutes: a 24-hour overlap does not extend it.
        let soon = scimgate::directory::now_ms() + 600_000;
        {
            let mut tx = w.app.db.store.begin().await.unwrap();
            sqlx::query("UPDATE scim_tokens SET expires_at = $1 WHERE id = $2")
                .bind(soon)
                .bind(&old_id)
                .execute(&mut *tx)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let new = w
            .ok(
                RegenerateToken::PATH,
                &[("org", "acme"), ("token_id", &old_id), ("overlap", "24h")],
                "regenerate with 24h overlap",
            )
            .await;
        assert_eq!(new["old_stops_at"].as_i64(), Some(soon), "[{be}] {new}");
        assert_eq!(w.scim_status(&old).await, 200, "[{be}] old, in overlap");
        w.ok(
            RevokeToken::PATH,
            &[("org", "acme"), ("token_id", &old_id)],
            "revoke the replaced token",
        )
        .await;
        assert_eq!(w.scim_status(&old).await, 401, "[{be}] old, revoked");
        let secret = new["secret"].as_str().unwrap();
        assert_eq!(w.scim_status(secret).await, 200, "[{be}] new");
        w.app.finish().await;
    }
}
