//! Hostile input against the SCIM API in process, on SQLite and PostgreSQL: oversized and
//! deeply chained filters and PATCH paths, LIKE metacharacters, unauthenticated floods.
//! Every answer is a 4xx with the RFC 7644 §3.12 body, and nothing changes. The same
//! attacks against a running binary (stack, memory, slow clients) are in `hostile_binary.rs`.

mod common;

use common::{assert_scim_error, backends, enc, TestApp};
use serde_json::{json, Value};

fn user(n: &str) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": n, "displayName": n})
}

fn chain(n: usize, term: &str, op: &str) -> String {
    vec![term; n].join(&format!(" {op} "))
}

#[tokio::test]
async fn long_and_deep_filters_are_400_not_a_crash() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let (s, _) = app.scim("POST", "/Users", Some(user("%_odd_%"))).await;
        assert_eq!(s, 201);
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng"})),
            )
            .await;
        assert_eq!(s, 201);
        let gid = g["id"].as_str().unwrap().to_string();

        // The request that aborted the process: 5,000 `or` terms in a .search body.
        for op in ["or", "and"] {
            let f = chain(5000, "userName pr", op);
            let (s, e) = app
                .scim(
                    "POST",
                    "/Users/.search",
                    Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": f})),
                )
                .await;
            assert_eq!(s, 400, "{op}: {e}");
            assert_scim_error(&e, 400, Some("invalidFilter"));
            assert!(e["detail"].as_str().unwrap().len() < 300, "bounded detail");
        }
        // 1,000 terms in a GET (answered 500 before).
        let f = chain(1000, "userName pr", "or");
        let (s, e) = app
            .scim("GET", &format!("/Users?filter={}", enc(&f)), None)
            .await;
        assert_scim_error(&e, 400, Some("invalidFilter"));
        assert_eq!(s, 400);
        // The most a filter may hold by default is evaluated, not refused.
        let f = chain(100, "userName eq \"%_odd_%\"", "or");
        let (s, r) = app
            .scim("GET", &format!("/Users?filter={}", enc(&f)), None)
            .await;
        assert_eq!(s, 200, "{r}");
        assert_eq!(r["totalResults"], 1);
        let f = chain(100, "displayName co \"x\"", "and");
        let (s, _) = app
            .scim("GET", &format!("/Groups?filter={}", enc(&f)), None)
            .await;
        assert_eq!(s, 200);
        // LIKE metacharacters are matched literally and a long pattern is not a DB error.
        let (s, r) = app
            .scim(
                "GET",
                &format!("/Users?filter={}", enc("userName co \"%_\"")),
                None,
            )
            .await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(1)));
        let (s, r) = app
            .scim(
                "GET",
                &format!("/Users?filter={}", enc("userName co \"_\"")),
                None,
            )
            .await;
        assert_eq!((s.as_u16(), r["totalResults"].as_i64()), (200, Some(1)));
        let at_limit = format!("displayName co \"{}\"", "%_".repeat(2048));
        let (s, r) = app
            .scim("GET", &format!("/Users?filter={}", enc(&at_limit)), None)
            .await;
        assert_eq!(
            (s.as_u16(), r["totalResults"].as_i64()),
            (200, Some(0)),
            "{r}"
        );
        let over = format!("displayName co \"{}\"", "%_".repeat(3000));
        let (s, e) = app
            .scim(
                "POST",
                "/Users/.search",
                Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": over})),
            )
            .await;
        assert_eq!(s, 400);
        assert_scim_error(&e, 400, Some("invalidFilter"));
        // Parenthesis and not() nesting.
        let deep = format!("{}userName pr{}", "(".repeat(5000), ")".repeat(5000));
        let (s, _) = app
            .scim(
                "POST",
                "/Users/.search",
                Some(json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"], "filter": deep})),
            )
            .await;
        assert_eq!(s, 400);

        // A PATCH path with a 5,000-term member filter: invalidPath, and nothing changes.
        let path = format!("members[{}]", chain(5000, "value eq \"x\"", "or"));
        let (s, e) = app
            .scim(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "remove", "path": path}]}),
                ),
            )
            .await;
        assert_eq!(s, 400, "{e}");
        assert_scim_error(&e, 400, Some("invalidPath"));
        assert!(
            e["detail"].as_str().unwrap().len() < 400,
            "the path is not echoed whole"
        );
        let path = format!("emails[{}].value", chain(300, "type eq \"work\"", "and"));
        let (s, e) = app
            .scim(
                "PATCH",
                &format!("/Groups/{gid}"),
                Some(
                    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": path, "value": "x"}]}),
                ),
            )
            .await;
        assert_eq!(s, 400, "{e}");
        let (_, g2) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(
            g2["meta"]["version"], g["meta"]["version"],
            "nothing changed"
        );

        // The server still answers.
        let (s, _) = app.scim("GET", "/Users", None).await;
        assert_eq!(s, 200);
        app.finish().await;
    }
}

#[tokio::test]
async fn unauthenticated_requests_are_cheap_contained_and_rate_limited() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        // A revoked token is still the org's own identity provider calling.
        let old =
            scimgate::management::create_token(&app.db.store, &app.org, "Okta old", None, None)
                .await
                .unwrap();
        {
            let mut tx = app.db.store.begin().await.unwrap();
            scimgate::store::tokens::revoke_token(&mut tx, &app.org.id, &old.token.id)
                .await
                .unwrap();
            tx.commit().await.unwrap();
        }
        let query = format!("filter={}", "x".repeat(30_000));
        let body = json!({"junk": "y".repeat(16_000)});
        let mut statuses = Vec::new();
        for _ in 0..60 {
            let (s, h, e) = app
                .request(
                    "POST",
                    &format!("/scim/v2/acme/Users?{query}"),
                    Some("scimgate_notatoken"),
                    Some(body.clone()),
                    &[("user-agent", "Okta SCIM Client 1.0.0")],
                )
                .await;
            if s == 429 {
                assert!(h.contains_key("retry-after"), "429 says when to retry");
                assert_scim_error(&e, 429, None);
            } else {
                assert_eq!(s, 401);
            }
            statuses.push(s.as_u16());
        }
        let refused = statuses.iter().filter(|s| **s == 401).count();
        assert_eq!(
            refused, 30,
            "the default allowance is 30 a minute per address"
        );
        // A valid token from the same address still works while it is limited.
        let (s, _) = app.scim("GET", "/Users", None).await;
        assert_eq!(s, 200);
        // The revoked token: recognised, logged with its label, still 401.
        let (s, _, _) = app
            .request(
                "GET",
                "/scim/v2/acme/Users?filter=userName%20eq%20%22a%22",
                Some(&old.secret),
                None,
                &[("user-agent", "Okta SCIM Client 1.0.0")],
            )
            .await;
        assert!(s == 401 || s == 429);

        let events = app.events().await;
        let strangers: Vec<_> = events.iter().filter(|e| e.token_id.is_none()).collect();
        assert!(strangers.len() <= 30, "{}", strangers.len());
        for e in &strangers {
            assert_eq!(e.status, 401);
            assert!(
                e.query.is_none() && e.request_body.is_none(),
                "no content is kept"
            );
            assert!(e.path.len() <= 210);
            assert_eq!(e.client, "unknown", "a stranger is not 'okta'");
            assert!(e.remote_addr.is_some() && e.user_agent.is_some());
        }
        let stored: usize = strangers
            .iter()
            .map(|e| e.path.len() + e.user_agent.as_deref().map_or(0, str::len))
            .sum();
        assert!(stored < 30 * 300, "{stored} bytes for 60 hostile requests");
        let mut c = app.db.store.read().await.unwrap();
        let activity = scimgate::store::events::client_activity(&mut c, &app.org.id)
            .await
            .unwrap();
        assert!(
            activity.iter().all(|a| a.client != "unknown"),
            "strangers move no client's last request: {activity:?}"
        );
        app.finish().await;
    }
}

#[tokio::test]
async fn locations_never_echo_a_forged_host_or_scheme() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        for (host, proto) in [
            ("evil.example/phish?", "http"),
            ("scim.test", "javascript"),
            ("a\"b", "https"),
        ] {
            let (s, h, u) = app
                .request(
                    "POST",
                    "/scim/v2/acme/Users",
                    Some(&app.token),
                    Some(user(&format!("u{}@x.test", host.len() + proto.len()))),
                    &[("host", host), ("x-forwarded-proto", proto)],
                )
                .await;
            assert_eq!(s, 201, "{u}");
            let loc = h["location"].to_str().unwrap();
            // Only http/https and a valid host are taken; anything else is localhost.
            let expected = match (host, proto) {
                ("scim.test", _) => "http://scim.test/scim/v2/acme/Users/",
                (_, "https") => "https://localhost/scim/v2/acme/Users/",
                _ => "http://localhost/scim/v2/acme/Users/",
            };
            assert!(loc.starts_with(expected), "{loc}");
            assert_eq!(u["meta"]["location"], loc);
        }
        app.finish().await;
    }
}

/// Random, deep, long and malformed filters, PATCH bodies and JSON through the real handlers:
/// never a 5xx, never a panic, and the server keeps answering.
#[test]
fn random_hostile_requests_never_get_a_5xx() {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    for b in backends() {
        let app = rt.block_on(TestApp::new(&b));
        let (_, g) = rt.block_on(app.scim(
            "POST",
            "/Groups",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "G"})),
        ));
        let gid = g["id"].as_str().unwrap().to_string();
        let word = prop_oneof![
            Just("userName".to_string()),
            Just("emails".to_string()),
            Just("members".to_string()),
            Just("value".to_string()),
            Just("eq".to_string()),
            Just("co".to_string()),
            Just("pr".to_string()),
            Just("and".to_string()),
            Just("or".to_string()),
            Just("not".to_string()),
            Just("(".to_string()),
            Just(")".to_string()),
            Just("[".to_string()),
            Just("]".to_string()),
            Just("\"%_\\\\\"".to_string()),
            Just(".value".to_string()),
            Just("urn:x:y".to_string()),
            Just("\u{c5}SA".to_string()),
            "[a-zA-Z\"\\[\\]()%_.:\\\\ ]{0,12}",
        ];
        let filter = proptest::collection::vec(word, 0..400).prop_map(|w| w.join(" "));
        let json_value = any::<String>().prop_map(serde_json::Value::String);
        let patch = (filter.clone(), prop_oneof![Just("add"), Just("remove"), Just("replace"), Just("bogus")], json_value)
            .prop_map(|(path, op, v)| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": op, "path": path, "value": v}]}));
        let mut runner = TestRunner::new(Config {
            cases: 64,
            ..Config::default()
        });
        runner
            .run(
                &(filter, patch, "[\\[{\"a-z:,0-9\\]}]{0,300}"),
                |(f, p, raw)| {
                    rt.block_on(async {
                        let (s, _) = app
                            .scim("GET", &format!("/Users?filter={}", enc(&f)), None)
                            .await;
                        prop_assert!(s.as_u16() < 500, "GET filter {f:?}: {s}");
                        let (s, _) = app
                            .scim("PATCH", &format!("/Groups/{gid}"), Some(p.clone()))
                            .await;
                        prop_assert!(s.as_u16() < 500, "PATCH {p}: {s}");
                        let (s, _, _) = app
                            .request(
                                "POST",
                                "/scim/v2/acme/Users",
                                Some(&app.token),
                                None,
                                &[("content-type", "application/scim+json")],
                            )
                            .await;
                        prop_assert!(s.as_u16() < 500);
                        let (s, _) = app
                            .scim(
                                "POST",
                                "/Users",
                                serde_json::from_str(&raw)
                                    .ok()
                                    .or(Some(serde_json::Value::String(raw.clone()))),
                            )
                            .await;
                        prop_assert!(s.as_u16() < 500, "POST {raw:?}: {s}");
                        Ok(())
                    })
                },
            )
            .unwrap();
        let (s, _) = rt.block_on(app.scim("GET", "/Users", None));
        assert_eq!(s, 200);
        rt.block_on(app.finish());
    }
}

#[tokio::test]
async fn patches_and_resources_are_bounded_and_log_details_clipped() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let emails: Vec<_> = (0..200)
            .map(|i| json!({"value": format!("{i}@x.test")}))
            .collect();
        let (s, u) = app
            .scim(
                "POST",
                "/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "amp", "emails": emails})),
            )
            .await;
        assert_eq!(s, 201, "{u}");
        let id = u["id"].as_str().unwrap().to_string();
        let op = |n: usize, value: Value| {
            json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                "Operations": vec![json!({"op": "replace", "path": "emails[value pr].value", "value": value}); n]})
        };
        // Too many operations.
        let (s, e) = app
            .scim(
                "PATCH",
                &format!("/Users/{id}"),
                Some(op(257, json!("a@b.c"))),
            )
            .await;
        assert_eq!(s, 400, "{e}");
        assert_scim_error(&e, 400, Some("invalidValue"));
        // An amplifying PATCH: 200 emails × a 2 KB value would be a 400 KB user.
        let (s, e) = app
            .scim(
                "PATCH",
                &format!("/Users/{id}"),
                Some(op(1, json!("D".repeat(2000)))),
            )
            .await;
        assert_eq!(s, 400, "{e}");
        assert_scim_error(&e, 400, Some("invalidValue"));
        let (_, now) = app.scim("GET", &format!("/Users/{id}"), None).await;
        assert_eq!(
            now["meta"]["version"], u["meta"]["version"],
            "nothing changed"
        );
        // A created resource over the limit.
        let (s, _) = app
            .scim(
                "POST",
                "/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "big", "title": "t".repeat(300_000)})),
            )
            .await;
        assert_eq!(s, 400);
        // 500 unknown member ids: the log keeps 100 of them, clipped, and the count.
        let fake: Vec<_> = (0..500)
            .map(|i| json!({"value": format!("{}{i}", "f".repeat(300))}))
            .collect();
        let (s, _) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Fakes", "members": fake})),
            )
            .await;
        assert_eq!(s, 201);
        let events = app.events().await;
        let skipped = events
            .iter()
            .flat_map(|e| e.changes.iter())
            .find(|c| c.kind == scimgate::directory::ChangeKind::MemberSkipped)
            .expect("skipped members are logged");
        let d = skipped.detail.as_ref().unwrap();
        assert_eq!(d["count"], 500);
        assert_eq!(d["members"].as_array().unwrap().len(), 100);
        assert!(d["members"][0].as_str().unwrap().chars().count() <= 101);
        app.finish().await;
    }
}
