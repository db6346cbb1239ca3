//! Many clients changing one group at once, on every backend: single-member adds and
//! removes mixed with renames and If-Match PATCHes. No request gets a 5xx, and at the end
//! the group's stored member count agrees with its members.

mod common;

use common::{backends, TestApp};
use serde_json::{json, Value};
use std::sync::Arc;

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

#[tokio::test]
async fn concurrent_changes_to_one_group_stay_consistent() {
    for b in backends() {
        let name = b.name();
        let app = Arc::new(TestApp::new(&b).await);
        let mut users = Vec::new();
        for i in 0..24 {
            let (s, u) = app
                .scim(
                    "POST",
                    "/Users",
                    Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("u{i}@example.com")})),
                )
                .await;
            assert_eq!(s, 201, "{name}: {u}");
            users.push(u["id"].as_str().unwrap().to_string());
        }
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Shared"})),
            )
            .await;
        assert_eq!(s, 201, "{name}: {g}");
        let gid = g["id"].as_str().unwrap().to_string();
        let users = Arc::new(users);

        let mut tasks = Vec::new();
        for w in 0..16usize {
            let (app, users, gid) = (app.clone(), users.clone(), gid.clone());
            tasks.push(tokio::spawn(async move {
                let mut statuses = Vec::new();
                for k in 0..12usize {
                    let u = &users[(w * 7 + k * 5) % users.len()];
                    let path = format!("/Groups/{gid}");
                    let (s, _, body) = match (w % 4, k % 3) {
                        // Renames and If-Match PATCHes take the group's row first.
                        (0, 0) => {
                            app.request(
                                "PATCH",
                                &format!("/scim/v2/acme{path}"),
                                Some(&app.token),
                                Some(patch(json!([
                                    {"op": "replace", "path": "displayName", "value": format!("Shared {w}-{k}")},
                                    {"op": "add", "path": "members", "value": [{"value": u}]}
                                ]))),
                                &[],
                            )
                            .await
                        }
                        (1, 0) => {
                            app.request(
                                "PATCH",
                                &format!("/scim/v2/acme{path}"),
                                Some(&app.token),
                                Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]))),
                                &[("if-match", "*")],
                            )
                            .await
                        }
                        // A stale version: fails inside a batch of others that succeed.
                        (2, 2) => {
                            app.request(
                                "PATCH",
                                &format!("/scim/v2/acme{path}"),
                                Some(&app.token),
                                Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]))),
                                &[("if-match", "W/\"1\"")],
                            )
                            .await
                        }
                        (_, 1) => {
                            app.request(
                                "PATCH",
                                &format!("/scim/v2/acme{path}"),
                                Some(&app.token),
                                Some(patch(json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]))),
                                &[],
                            )
                            .await
                        }
                        _ => {
                            app.request(
                                "PATCH",
                                &format!("/scim/v2/acme{path}"),
                                Some(&app.token),
                                Some(patch(json!([{"op": "add", "path": "members", "value": [{"value": u}]}]))),
                                &[],
                            )
                            .await
                        }
                    };
                    statuses.push((s.as_u16(), body));
                }
                statuses
            }));
        }
        let mut stale = 0;
        for t in tasks {
            for (s, body) in t.await.unwrap() {
                assert!(
                    (200..300).contains(&s) || s == 409 || s == 412,
                    "{name}: {s} {body}"
                );
                stale += usize::from(s == 412);
            }
        }
        assert!(
            stale >= 4,
            "{name}: the stale If-Match PATCHes failed ({stale})"
        );
        if app.db.store.backend() == scimgate::store::Backend::Postgres {
            // Concurrent writes to one group share a transaction on PostgreSQL (a lane):
            // none may leave its pooled connection inside a transaction.
            // A transaction still running (a 412's rollback, the log writer's batch) ends
            // within moments; a leaked one would stay.
            let mut open = -1;
            for _ in 0..50 {
                let mut c = app.db.store.read().await.unwrap();
                open = sqlx::query_scalar(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND state LIKE 'idle in transaction%'",
                )
                .fetch_one(&mut *c)
                .await
                .unwrap();
                if open == 0 {
                    break;
                }
                drop(c);
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            }
            assert_eq!(open, 0, "{name}: connections left inside a transaction");
        }
        // Every change got its own event number, in one unbroken run.
        let mut c = app.db.store.read().await.unwrap();
        let (n, lo, hi): (i64, Option<i64>, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(DISTINCT seq), MIN(seq), MAX(seq) FROM change_events WHERE org_id = $1",
        )
        .bind(&app.org.id)
        .fetch_one(&mut *c)
        .await
        .unwrap();
        drop(c);
        assert_eq!(
            Some(n),
            hi.zip(lo).map(|(h, l)| h - l + 1),
            "{name}: event numbers"
        );
        let (s, g) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(s, 200, "{name}: {g}");
        let members = g["members"].as_array().map_or(0, Vec::len);
        let mut c = app.db.store.read().await.unwrap();
        let stored = scimgate::store::groups::get_group(&mut c, &app.org.id, &gid)
            .await
            .unwrap();
        drop(c);
        assert_eq!(
            stored.member_count, members as i64,
            "{name}: the stored count agrees with the members"
        );
        if let Ok(app) = Arc::try_unwrap(app) {
            app.finish().await;
        }
    }
}

/// Adding a member takes a share lock on the user's row, and renaming a user (a new
/// userName) locks that row. On PostgreSQL, concurrent writes of an org share a transaction
/// (a lane), which holds the org's event counter once a write in it has appended its events:
/// a member add joining it while another transaction renamed the user and waited for the
/// counter deadlocked, until every directory write took the org's lock first. Every request
/// here must get an answer that is not a 5xx.
#[tokio::test]
async fn member_adds_racing_user_renames_do_not_deadlock() {
    for b in backends() {
        let name = b.name();
        let app = Arc::new(TestApp::new(&b).await);
        let mut users = Vec::new();
        for i in 0..8 {
            let (s, u) = app
                .scim(
                    "POST",
                    "/Users",
                    Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("r{i}@example.com")})),
                )
                .await;
            assert_eq!(s, 201, "{name}: {u}");
            users.push(u["id"].as_str().unwrap().to_string());
        }
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Racing"})),
            )
            .await;
        assert_eq!(s, 201, "{name}: {g}");
        let gid = g["id"].as_str().unwrap().to_string();
        let users = Arc::new(users);
        let mut tasks = Vec::new();
        for w in 0..12usize {
            let (app, users, gid) = (app.clone(), users.clone(), gid.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                for k in 0..10usize {
                    let u = &users[(w + k) % users.len()];
                    let (path, ops) = if w % 3 == 0 {
                        (
                            format!("/scim/v2/acme/Users/{u}"),
                            json!([{"op": "replace", "path": "userName", "value": format!("r{w}-{k}-{u}@example.com")}]),
                        )
                    } else if k % 2 == 0 {
                        (
                            format!("/scim/v2/acme/Groups/{gid}"),
                            json!([{"op": "add", "path": "members", "value": [{"value": u}]}]),
                        )
                    } else {
                        (
                            format!("/scim/v2/acme/Groups/{gid}"),
                            json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]),
                        )
                    };
                    let (s, _, body) = app
                        .request("PATCH", &path, Some(&app.token), Some(patch(ops)), &[])
                        .await;
                    out.push((s.as_u16(), body));
                }
                out
            }));
        }
        for t in tasks {
            for (s, body) in t.await.unwrap() {
                assert!((200..300).contains(&s) || s == 409, "{name}: {s} {body}");
            }
        }
        if let Ok(app) = Arc::try_unwrap(app) {
            app.finish().await;
        }
    }
}

/// User deletes racing PATCHes that remove the same users from a group. A delete locks the
/// user, then its membership rows and the group; a removal locks the group, then the
/// membership row: without one lock order for the org's writes, PostgreSQL broke the cycle
/// by failing one of them (a 500). Every answer must be a success or a 404, and the group's
/// count must match its members afterwards.
#[tokio::test]
async fn user_deletes_racing_member_removals_do_not_deadlock() {
    for b in backends() {
        let name = b.name();
        let app = Arc::new(TestApp::new(&b).await);
        let mut users = Vec::new();
        for i in 0..24 {
            let (s, u) = app
                .scim(
                    "POST",
                    "/Users",
                    Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("d{i}@example.com")})),
                )
                .await;
            assert_eq!(s, 201, "{name}: {u}");
            users.push(u["id"].as_str().unwrap().to_string());
        }
        let members: Vec<Value> = users.iter().map(|u| json!({"value": u})).collect();
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Leaving", "members": members})),
            )
            .await;
        assert_eq!(s, 201, "{name}: {g}");
        let gid = g["id"].as_str().unwrap().to_string();
        let users = Arc::new(users);
        let mut tasks = Vec::new();
        for w in 0..8usize {
            let (app, users, gid) = (app.clone(), users.clone(), gid.clone());
            tasks.push(tokio::spawn(async move {
                let mut out = Vec::new();
                // Workers come in pairs over the same users, in opposite orders.
                let mine: Vec<&String> = users.iter().skip(w / 2).step_by(4).collect();
                let order: Vec<&&String> = if w % 2 == 0 {
                    mine.iter().collect()
                } else {
                    mine.iter().rev().collect()
                };
                for u in order {
                    let (method, path, body) = if w % 2 == 0 {
                        ("DELETE", format!("/scim/v2/acme/Users/{u}"), None)
                    } else {
                        (
                            "PATCH",
                            format!("/scim/v2/acme/Groups/{gid}"),
                            Some(patch(json!([{"op": "remove", "path": format!("members[value eq \"{u}\"]")}]))),
                        )
                    };
                    let (s, _, body) = app
                        .request(method, &path, Some(&app.token), body, &[])
                        .await;
                    out.push((s.as_u16(), body));
                }
                out
            }));
        }
        for t in tasks {
            for (s, body) in t.await.unwrap() {
                assert!((200..300).contains(&s) || s == 404, "{name}: {s} {body}");
            }
        }
        let (s, g) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(s, 200, "{name}: {g}");
        let listed = g["members"].as_array().map_or(0, Vec::len);
        assert_eq!(
            listed, 0,
            "{name}: every member was removed or deleted: {g}"
        );
        if let Ok(app) = Arc::try_unwrap(app) {
            app.finish().await;
        }
    }
}

/// The member-only PATCHes that PostgreSQL makes in one statement answer what the general
/// path answers, edge cases included: an empty list, ids repeated, ids of no user, a stale
/// If-Match (nothing written), a group that does not exist, a member removed twice.
#[tokio::test]
async fn member_only_patches_answer_like_the_general_path() {
    let mut transcripts = Vec::new();
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let mut users = Vec::new();
        for i in 0..3 {
            let (s, u) = app
                .scim(
                    "POST",
                    "/Users",
                    Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("e{i}@example.com")})),
                )
                .await;
            assert_eq!(s, 201, "{name}: {u}");
            users.push(u["id"].as_str().unwrap().to_string());
        }
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Edges"})),
            )
            .await;
        assert_eq!(s, 201, "{name}: {g}");
        let gid = g["id"].as_str().unwrap().to_string();
        let path = format!("/scim/v2/acme/Groups/{gid}");
        let send = |ops: Value, headers: Vec<(&'static str, String)>| {
            let (app, path) = (&app, path.clone());
            async move {
                let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
                let (s, _, body) = app
                    .request("PATCH", &path, Some(&app.token), Some(patch(ops)), &h)
                    .await;
                (s.as_u16(), body)
            }
        };
        let members = |body: &Value| -> Vec<String> {
            let mut m: Vec<String> = body["members"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .map(|m| m["value"].as_str().unwrap().to_string())
                        .collect()
                })
                .unwrap_or_default();
            m.sort();
            m
        };
        // An empty list changes nothing.
        let (s, body) = send(
            json!([{"op": "add", "path": "members", "value": []}]),
            vec![],
        )
        .await;
        assert!((200..300).contains(&s), "{name}: {s} {body}");
        // Repeated ids and an id of no user: the user is added once, the stranger skipped.
        let (s, body) = send(
            json!([{"op": "add", "path": "members", "value": [{"value": users[0]}, {"value": users[0]}, {"value": "no-such-user"}]}]),
            vec![],
        )
        .await;
        assert!((200..300).contains(&s), "{name}: {s} {body}");
        let (s, body) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(s, 200);
        assert_eq!(members(&body), vec![users[0].clone()], "{name}: {body}");
        let version = body["meta"]["version"].as_str().unwrap().to_string();
        // A stale If-Match writes nothing.
        let (s, body) = send(
            json!([{"op": "add", "path": "members", "value": [{"value": users[1]}]}]),
            vec![("if-match", "W/\"1\"".to_string())],
        )
        .await;
        assert_eq!(s, 412, "{name}: {body}");
        // The current one does.
        let (s, body) = send(
            json!([{"op": "add", "path": "members", "value": [{"value": users[1]}, {"value": users[2]}]}]),
            vec![("if-match", version.clone())],
        )
        .await;
        assert!((200..300).contains(&s), "{name}: {s} {body}");
        let (_, body) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        let mut all = users.clone();
        all.sort();
        assert_eq!(members(&body), all, "{name}: {body}");
        assert_ne!(
            body["meta"]["version"].as_str().unwrap(),
            version,
            "{name}: the version moved"
        );
        // Removed twice: the second is a no-op, not an error.
        for _ in 0..2 {
            let (s, body) = send(
                json!([{"op": "remove", "path": format!("members[value eq \"{}\"]", users[2])}]),
                vec![],
            )
            .await;
            assert!((200..300).contains(&s), "{name}: {s} {body}");
        }
        let (_, body) = app.scim("GET", &format!("/Groups/{gid}"), None).await;
        assert_eq!(members(&body).len(), 2, "{name}: {body}");
        // No such group.
        let (s, _, body) = app
            .request(
                "PATCH",
                "/scim/v2/acme/Groups/no-such-group",
                Some(&app.token),
                Some(patch(
                    json!([{"op": "add", "path": "members", "value": [{"value": users[0]}]}]),
                )),
                &[],
            )
            .await;
        assert_eq!(s.as_u16(), 404, "{name}: {body}");
        // The log tells what happened: the stranger was skipped, not added.
        app.flush_log().await;
        let events = app.events().await;
        assert!(
            events.iter().any(|e| e.changes.iter().any(|c| c
                .detail
                .as_ref()
                .is_some_and(|d| d.to_string().contains("no-such-user")))),
            "{name}: the skipped id is in the log"
        );
        transcripts.push((name, transcript(&app, &users, &gid).await));
        app.finish().await;
    }
    // PostgreSQL makes these changes in one statement (`groups::change_members_at_once`);
    // what they leave in the log and the feed must be what the general path leaves.
    for pair in transcripts.windows(2) {
        let ((a, ta), (b, tb)) = (&pair[0], &pair[1]);
        assert_eq!(ta, tb, "the log and feed of {a} and of {b} differ");
    }
}

/// The org's provisioning log (oldest first) and change feed, with ids replaced by names
/// (`u0`…, `g`) so that two databases' runs compare equal. Checks that the feed's sequence
/// numbers run 1, 2, 3, … without a gap.
async fn transcript(app: &TestApp, users: &[String], gid: &str) -> Vec<String> {
    let norm = |s: &str| {
        let mut s = s.replace(gid, "g");
        for (i, u) in users.iter().enumerate() {
            s = s.replace(u.as_str(), &format!("u{i}"));
        }
        s
    };
    let mut out = Vec::new();
    let mut events = app.events().await;
    events.reverse();
    for e in events {
        let changes: Vec<String> = e
            .changes
            .iter()
            .map(|c| {
                format!(
                    "{} {} {} {:?} {}",
                    c.kind.as_str(),
                    c.resource_type,
                    norm(&c.resource_id),
                    c.resource_name,
                    c.detail
                        .as_ref()
                        .map(|d| norm(&d.to_string()))
                        .unwrap_or_default()
                )
            })
            .collect();
        out.push(format!(
            "log: {} {} {} {:?} [{}]",
            e.method,
            norm(&e.path),
            e.status,
            e.response_summary,
            changes.join("; ")
        ));
    }
    let mut c = app.db.store.read().await.unwrap();
    let feed = scimgate::store::feed::list_after(&mut c, &app.org.id, 0, &[], 1000)
        .await
        .unwrap();
    for (i, ev) in feed.iter().enumerate() {
        assert_eq!(
            ev.seq,
            i as i64 + 1,
            "feed numbers run without a gap: {feed:?}"
        );
        let detail = if ev.event_type.starts_with("team.member") {
            norm(&format!(
                "{} {} {} {} {}",
                ev.data["team"]["id"],
                ev.data["team"]["name"],
                ev.data["user"]["id"],
                ev.data["user"]["user_name"],
                ev.data["user"]["display_name"]
            ))
        } else {
            String::new()
        };
        out.push(format!(
            "feed: {} {} {} {}",
            ev.event_type,
            norm(&ev.resource_id),
            ev.origin,
            detail
        ));
    }
    out
}
