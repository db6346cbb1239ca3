//! Successful reads are counted per minute (`serve --log-reads minute`, the default) while
//! every write and every failed request keeps its full provisioning-log row; the counts
//! reach the dashboard, the log page and the client's "last request"; `--log-reads each`
//! keeps a row per read. On SQLite and on PostgreSQL.

mod common;

use common::console::backend_name;
use common::{backends, TestApp};
use scimgate::config::{LogReads, ServeArgs};
use scimgate::management::reads;
use scimgate::store::events::{self, ReadTraffic, ReadTrafficFilter};
use serde_json::json;

fn args(log_reads: LogReads) -> ServeArgs {
    ServeArgs {
        site_root: "target/site".into(),
        log_reads,
        ..ServeArgs::default()
    }
}

/// Three GETs by id, two `userName eq` lookups, a listing, a `.search`, one GET of a user
/// that does not exist (404) and one create, all with the app's token and an Okta
/// User-Agent. Returns the created user's id.
async fn traffic(app: &TestApp) -> String {
    let okta = [("user-agent", "Okta SCIM Client 1.0.0")];
    let (s, _, u) = app
        .request(
            "POST",
            "/scim/v2/acme/Users",
            Some(&app.token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "ada@example.com"
            })),
            &okta,
        )
        .await;
    assert_eq!(s, 201, "{u}");
    let id = u["id"].as_str().unwrap().to_string();
    let get = |path: String| async move {
        let (s, _, body) = app
            .request("GET", &path, Some(&app.token), None, &okta)
            .await;
        (s.as_u16(), body)
    };
    for _ in 0..3 {
        assert_eq!(get(format!("/scim/v2/acme/Users/{id}")).await.0, 200);
    }
    for name in ["ada@example.com", "nobody@example.com"] {
        let path = format!(
            "/scim/v2/acme/Users?filter={}",
            common::enc(&format!("userName eq \"{name}\""))
        );
        assert_eq!(get(path).await.0, 200);
    }
    assert_eq!(get("/scim/v2/acme/Users?count=10".into()).await.0, 200);
    let (s, _, _) = app
        .request(
            "POST",
            "/scim/v2/acme/Users/.search",
            Some(&app.token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
                "filter": "userName sw \"ada\""
            })),
            &okta,
        )
        .await;
    assert_eq!(s, 200);
    let (s, body) = get("/scim/v2/acme/Users/no-such-user".into()).await;
    assert_eq!(s, 404, "{body}");
    id
}

fn count(rows: &[ReadTraffic], route: &str) -> i64 {
    rows.iter()
        .filter(|r| r.route == route)
        .map(|r| r.requests)
        .sum()
}

#[tokio::test]
async fn successful_reads_are_counted_per_minute_and_everything_else_is_kept_in_full() {
    for b in backends() {
        let be = backend_name(&b);
        let app = TestApp::with_args(&b, args(LogReads::Minute)).await;
        let id = traffic(&app).await;

        // Full rows: the create and the 404, nothing else.
        let logged = app.events().await;
        let mut kinds: Vec<(String, i64)> = logged
            .iter()
            .map(|e| (e.method.clone(), e.status))
            .collect();
        kinds.sort();
        assert_eq!(
            kinds,
            vec![("GET".to_string(), 404), ("POST".to_string(), 201)],
            "{be}: {logged:#?}"
        );
        let failed = logged.iter().find(|e| e.status == 404).unwrap();
        assert!(failed.path.ends_with("/Users/no-such-user"), "{be}");
        assert_eq!(failed.client, "okta", "{be}");

        // The reads, counted by route with ids left out; each row names client and token.
        let mut c = app.db.store.read().await.unwrap();
        let rows = events::read_traffic(&mut c, &app.org.id, &ReadTrafficFilter::default(), 100)
            .await
            .unwrap();
        drop(c);
        assert_eq!(count(&rows, "GET /Users/{id}"), 3, "{be}: {rows:#?}");
        assert_eq!(count(&rows, "GET /Users?filter"), 2, "{be}: {rows:#?}");
        assert_eq!(count(&rows, "GET /Users"), 1, "{be}: {rows:#?}");
        assert_eq!(count(&rows, "POST /Users/.search"), 1, "{be}: {rows:#?}");
        assert_eq!(rows.iter().map(|r| r.requests).sum::<i64>(), 7, "{be}");
        for r in &rows {
            assert_eq!(r.client, "okta", "{be}");
            assert_eq!(r.token_label.as_deref(), Some("test"), "{be}");
            assert!(!r.token_id.is_empty(), "{be}");
            assert_eq!(r.minute % 60_000, 0, "{be}");
            assert!(r.max_us > 0 && r.total_us >= r.max_us, "{be}: {r:?}");
            assert!(!r.route.contains(&id), "{be}: ids stay out of routes");
        }

        // A second batch adds to the same minute's rows (an upsert, not a second row), as
        // long as the minute has not turned meanwhile.
        let before = rows.len();
        let (s, _) = app.scim("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(s, 200);
        app.flush_log().await;
        let mut c = app.db.store.read().await.unwrap();
        let again = events::read_traffic(&mut c, &app.org.id, &ReadTrafficFilter::default(), 100)
            .await
            .unwrap();
        drop(c);
        // The app's own `scim` helper sends no User-Agent: client "other", a row of its own.
        assert_eq!(again.len(), before + 1, "{be}: {again:#?}");
        let other: Vec<_> = again.iter().filter(|r| r.client == "other").collect();
        assert_eq!(other.len(), 1, "{be}");
        assert_eq!(other[0].route, "GET /Users/{id}", "{be}");
        assert_eq!(other[0].requests, 1, "{be}");

        // The dashboard's hourly counts include the counted reads; its client list moved.
        let d = reads::dashboard(&app.db.store, &app.org).await.unwrap();
        let total: i64 = d.hourly.iter().map(|h| h.1).sum();
        let errors: i64 = d.hourly.iter().map(|h| h.2).sum();
        assert_eq!((total, errors), (10, 1), "{be}: {:?}", d.hourly);
        assert!(
            d.clients
                .iter()
                .any(|c| c.client == "other" && c.last_status == 200),
            "{be}: {:?}",
            d.clients
        );

        // The log page shows them when its filters can match a read, and not otherwise.
        let page = reads::log_page(&app.db.store, &app.org, reads::LogSearch::default())
            .await
            .unwrap();
        assert_eq!(
            page.reads.iter().map(|r| r.requests).sum::<i64>(),
            8,
            "{be}"
        );
        assert_eq!(page.events.len(), 2, "{be}");
        let okta_only = reads::LogSearch {
            client: Some("okta".into()),
            hours: Some(1),
            ..Default::default()
        };
        let page = reads::log_page(&app.db.store, &app.org, okta_only)
            .await
            .unwrap();
        assert_eq!(
            page.reads.iter().map(|r| r.requests).sum::<i64>(),
            7,
            "{be}"
        );
        let failures = reads::LogSearch {
            status: Some("client".into()),
            ..Default::default()
        };
        let page = reads::log_page(&app.db.store, &app.org, failures)
            .await
            .unwrap();
        assert!(page.reads.is_empty(), "{be}");
        assert_eq!(page.events.len(), 1, "{be}");

        // Retention takes the counts with the log.
        let mut tx = app.db.store.begin().await.unwrap();
        let pruned = events::prune_events(&mut tx, scimgate::directory::now_ms() + 120_000)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(pruned, 2 + again.len() as u64, "{be}");
        let mut c = app.db.store.read().await.unwrap();
        let left = events::read_traffic(&mut c, &app.org.id, &ReadTrafficFilter::default(), 100)
            .await
            .unwrap();
        assert!(left.is_empty(), "{be}");
        drop(c);
        app.finish().await;
    }
}

#[tokio::test]
async fn log_reads_each_keeps_a_row_per_read() {
    for b in backends() {
        let be = backend_name(&b);
        let app = TestApp::with_args(&b, args(LogReads::Each)).await;
        traffic(&app).await;
        let logged = app.events().await;
        assert_eq!(logged.len(), 9, "{be}: {logged:#?}");
        assert_eq!(
            logged.iter().filter(|e| e.method == "GET").count(),
            7,
            "{be}"
        );
        let mut c = app.db.store.read().await.unwrap();
        let rows = events::read_traffic(&mut c, &app.org.id, &ReadTrafficFilter::default(), 100)
            .await
            .unwrap();
        drop(c);
        assert!(rows.is_empty(), "{be}: {rows:#?}");
        let d = reads::dashboard(&app.db.store, &app.org).await.unwrap();
        let total: i64 = d.hourly.iter().map(|h| h.1).sum();
        assert_eq!(total, 9, "{be}");
        app.finish().await;
    }
}

#[tokio::test]
async fn a_flood_of_reads_stays_a_handful_of_rows() {
    // An org's counters grow with minutes, clients, tokens and routes, never with requests
    // or with the ids and filters a client sends.
    for b in backends() {
        let be = backend_name(&b);
        let app = TestApp::with_args(&b, args(LogReads::Minute)).await;
        for i in 0..300 {
            let path = match i % 3 {
                0 => format!("/Users/{}", uuid::Uuid::new_v4()),
                1 => format!(
                    "/Users?filter={}",
                    common::enc(&format!("userName eq \"u{i}@example.com\""))
                ),
                _ => format!("/Groups?startIndex={i}&count=1"),
            };
            let (s, body) = app.scim("GET", &path, None).await;
            assert!(s == 200 || s == 404, "{be}: {s} {body}");
        }
        app.flush_log().await;
        let mut c = app.db.store.read().await.unwrap();
        let rows = events::read_traffic(&mut c, &app.org.id, &ReadTrafficFilter::default(), 100)
            .await
            .unwrap();
        drop(c);
        // Two routes answered 200 (lookups, listings), in at most two minutes.
        assert!(rows.len() <= 4, "{be}: {rows:#?}");
        assert_eq!(rows.iter().map(|r| r.requests).sum::<i64>(), 200, "{be}");
        // The 100 GETs of unknown ids failed (404): each is in the log in full.
        assert_eq!(app.events().await.len(), 100, "{be}");
        app.finish().await;
    }
}

#[tokio::test]
async fn counted_reads_keep_each_client_address_apart() {
    // A leaked token's dump from one address must stand apart from the identity provider's
    // import from another, though both are "GET /Users" with the same token.
    use axum::extract::ConnectInfo;
    use tower::ServiceExt;
    for b in backends() {
        let be = backend_name(&b);
        let app = TestApp::with_args(&b, args(LogReads::Minute)).await;
        for (ip, ua) in [
            ("10.0.0.1", "Okta SCIM Client 1.0.0"),
            ("10.0.0.1", "Okta SCIM Client 1.0.0"),
            ("203.0.113.9", "curl/8.5.0"),
        ] {
            let mut req = axum::http::Request::builder()
                .method("GET")
                .uri("/scim/v2/acme/Users?startIndex=1&count=100")
                .header("host", "scim.test")
                .header("authorization", format!("Bearer {}", app.token))
                .header("user-agent", ua)
                .body(axum::body::Body::empty())
                .unwrap();
            let peer: std::net::SocketAddr = format!("{ip}:50000").parse().unwrap();
            req.extensions_mut().insert(ConnectInfo(peer));
            let resp = app.app.clone().oneshot(req).await.unwrap();
            assert_eq!(resp.status(), 200, "{be}");
        }
        app.flush_log().await;
        let mut c = app.db.store.read().await.unwrap();
        let mut rows =
            events::read_traffic(&mut c, &app.org.id, &ReadTrafficFilter::default(), 100)
                .await
                .unwrap();
        drop(c);
        rows.sort_by(|a, b| a.remote_addr.cmp(&b.remote_addr));
        let seen: Vec<(&str, &str, i64, Option<&str>)> = rows
            .iter()
            .map(|r| {
                (
                    r.remote_addr.as_str(),
                    r.client.as_str(),
                    r.requests,
                    r.user_agent.as_deref(),
                )
            })
            .collect();
        // (Both minutes of a turn would split a row in two: sum per address instead.)
        let per_addr = |addr: &str| -> i64 {
            rows.iter()
                .filter(|r| r.remote_addr == addr)
                .map(|r| r.requests)
                .sum()
        };
        assert_eq!(per_addr("10.0.0.1"), 2, "{be}: {seen:?}");
        assert_eq!(per_addr("203.0.113.9"), 1, "{be}: {seen:?}");
        let curl = rows
            .iter()
            .find(|r| r.remote_addr == "203.0.113.9")
            .unwrap();
        assert_eq!(curl.client, "other", "{be}");
        assert_eq!(curl.user_agent.as_deref(), Some("curl/8.5.0"), "{be}");
        assert_eq!(curl.route, "GET /Users", "{be}");
        app.finish().await;
    }
}
