//! No N+1: a page of the provisioning log and a listing of groups with their members take a
//! fixed number of SQL statements, whatever their size. Statements are counted from sqlx's
//! own `sqlx::query` tracing events, on SQLite and PostgreSQL. One test in this binary: the
//! counting subscriber is process-wide.

mod common;

use common::{backends, TestApp};
use scimgate::directory::{new_id, Change, ChangeKind, Event};
use serde_json::json;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

struct Counter(Arc<AtomicUsize>);

/// Whether a statement event is the WAL checkpointer's `PRAGMA wal_checkpoint`: that task
/// wakes on its own clock after commits, so its statement can land inside a counted window
/// (it did, once, in CI). No code under count runs a PRAGMA.
#[derive(Default)]
struct IsPragma(bool);

impl tracing::field::Visit for IsPragma {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.check(field, value);
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.check(field, &format!("{value:?}"));
    }
}

impl IsPragma {
    fn check(&mut self, field: &tracing::field::Field, value: &str) {
        if matches!(field.name(), "summary" | "db.statement") {
            let v = value.trim_start_matches(|c: char| c == '"' || c.is_whitespace());
            self.0 |= v.get(..6).is_some_and(|p| p.eq_ignore_ascii_case("pragma"));
        }
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Counter {
    fn on_event(&self, e: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if e.metadata().target().starts_with("sqlx::query") {
            let mut pragma = IsPragma::default();
            e.record(&mut pragma);
            if !pragma.0 {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
    }
}

async fn counted<T>(n: &AtomicUsize, f: impl std::future::Future<Output = T>) -> (usize, T) {
    let before = n.load(Ordering::SeqCst);
    let out = f.await;
    (n.load(Ordering::SeqCst) - before, out)
}

#[tokio::test]
async fn log_pages_and_group_listings_take_a_fixed_number_of_statements() {
    let n = Arc::new(AtomicUsize::new(0));
    tracing_subscriber::registry()
        .with(Counter(n.clone()))
        .init();
    for b in backends() {
        // No webhook dispatcher: its background statements would be counted too.
        let app = TestApp::with_args(
            &b,
            scimgate::config::ServeArgs {
                site_root: "target/site".into(),
                webhook_delivery: false,
                ..Default::default()
            },
        )
        .await;
        // 60 log events with two changes each.
        {
            let mut c = app.db.store.read().await.unwrap();
            for i in 0..60 {
                let e = Event {
                    id: new_id(),
                    org_id: Some(app.org.id.clone()),
                    // Recent: the retention job prunes old events in the background.
                    occurred_at: scimgate::directory::now_ms() + i,
                    token_id: None,
                    token_label: None,
                    method: "POST".into(),
                    path: "/scim/v2/acme/Groups".into(),
                    query: None,
                    client: "okta".into(),
                    status: 201,
                    scim_type: None,
                    duration_us: 1,
                    request_body: None,
                    response_summary: None,
                    remote_addr: None,
                    user_agent: None,
                    changes: (0..2)
                        .map(|k| Change {
                            resource_type: "Group".into(),
                            resource_id: format!("g{i}"),
                            resource_name: Some(format!("G{i}")),
                            kind: if k == 0 {
                                ChangeKind::Created
                            } else {
                                ChangeKind::MemberAdded
                            },
                            detail: None,
                        })
                        .collect(),
                };
                scimgate::store::events::insert_event(&mut c, &e)
                    .await
                    .unwrap();
            }
            let (small, few) = counted(
                &n,
                scimgate::store::events::list_events(&mut c, &app.org.id, None, 5),
            )
            .await;
            let (large, many) = counted(
                &n,
                scimgate::store::events::list_events(&mut c, &app.org.id, None, 60),
            )
            .await;
            assert_eq!((few.unwrap().len(), many.as_ref().unwrap().len()), (5, 60));
            assert!(many.unwrap().iter().all(|e| e.changes.len() == 2));
            assert!(small >= 1, "statements are counted");
            if b == common::Backend::Sqlite {
                // The filter above skips PRAGMAs (the checkpointer's), and only them.
                let (pragma, _) = counted(
                    &n,
                    sqlx::query("PRAGMA wal_checkpoint(PASSIVE)").execute(&mut *c),
                )
                .await;
                assert_eq!(pragma, 0, "a PRAGMA is not counted");
            }
            assert_eq!(small, large, "a log page: {small} vs {large} statements");
            let f = scimgate::store::events::EventFilter::default();
            let (small, _) = counted(
                &n,
                scimgate::store::events::search_events(&mut c, &app.org.id, &f, 5),
            )
            .await;
            let (large, _) = counted(
                &n,
                scimgate::store::events::search_events(&mut c, &app.org.id, &f, 60),
            )
            .await;
            assert_eq!(small, large, "a filtered log page");
        }
        // 20 groups with 3 members each, listed with their members.
        let mut users = Vec::new();
        for i in 0..3 {
            let (s, u) = app
                .scim("POST", "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i}@x.test")})))
                .await;
            assert_eq!(s, 201);
            users.push(json!({"value": u["id"]}));
        }
        for i in 0..20 {
            let (s, _) = app
                .scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("Team {i:02}"), "members": users})))
                .await;
            assert_eq!(s, 201);
        }
        app.flush_log().await;
        let ctx = scimgate::provisioning::ScimContext {
            org: app.org.clone(),
            token: None,
            client: "other".into(),
            base_url: "http://x/scim/v2/acme".into(),
            remote_addr: None,
        };
        let list = |count: &'static str| {
            let p = scimgate::scim::list::ListParams::from_pairs([("count", count)], 100, 1000)
                .unwrap();
            let store = app.db.store.clone();
            let ctx = ctx.clone();
            async move { scimgate::provisioning::groups::list_groups(&store, &ctx, &p, true).await }
        };
        let (small, two) = counted(&n, list("2")).await;
        let (large, all) = counted(&n, list("20")).await;
        let (two, all) = (two.unwrap(), all.unwrap());
        assert_eq!((two.1.len(), all.1.len()), (2, 20));
        assert!(all.1.iter().all(|(_, m)| m.as_ref().unwrap().len() == 3));
        assert!(
            large <= small.max(1) + 1,
            "groups with members: {small} vs {large} statements"
        );
        assert!(large <= 4, "{large} statements for 20 groups");
        app.finish().await;
    }
}
