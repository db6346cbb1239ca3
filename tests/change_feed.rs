//! The application's change feed (the outbox): every directory change from SCIM and from
//! the console records its events in the change's own transaction, under a per-org sequence
//! that strictly increases, with the resource as it is after the change.

mod common;

use common::{backends, TestApp};
use scimgate::directory::feed::ChangeEvent;
use scimgate::management::{self, Actor};
use scimgate::store::feed;
use serde_json::{json, Value};

const ROLE_URN: &str = "urn:ietf:params:scim:schemas:extension:scimgate:2.0:User";

async fn events_after(app: &TestApp, org_id: &str, after: i64) -> Vec<ChangeEvent> {
    let mut c = app.db.store.read().await.unwrap();
    feed::list_after(&mut c, org_id, after, &[], 10_000)
        .await
        .unwrap()
}

fn types(evs: &[ChangeEvent]) -> Vec<&str> {
    evs.iter().map(|e| e.event_type.as_str()).collect()
}

async fn user(app: &TestApp, name: &str) -> String {
    let (s, u) = app
        .scim(
            "POST",
            "/Users",
            Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name, "displayName": name, "active": true})),
        )
        .await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn scim_writes_record_events_in_order() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let org = app.org.id.clone();

        // user.created, with the user as it is after the change.
        let alice = user(&app, "alice@example.com").await;
        let evs = events_after(&app, &org, 0).await;
        assert_eq!(types(&evs), ["user.created"], "{name}");
        let e = &evs[0];
        assert_eq!(e.seq, 1, "{name}: the org's first event");
        assert_eq!(e.resource_id, alice, "{name}");
        assert!(e.origin.starts_with("scim:"), "{name}: {}", e.origin);
        assert_eq!(e.data["user"]["user_name"], "alice@example.com", "{name}");
        assert_eq!(e.data["user"]["active"], true, "{name}");

        // user.updated names the changed fields and their earlier values.
        let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Users/{alice}"),
                Some(patch(
                    json!([{"op": "replace", "path": "displayName", "value": "Alice A."}]),
                )),
            )
            .await;
        assert_eq!(s, 200, "{name}");
        let evs = events_after(&app, &org, 1).await;
        assert_eq!(types(&evs), ["user.updated"], "{name}");
        assert_eq!(
            evs[0].data["changed_fields"],
            json!(["displayName"]),
            "{name}"
        );
        assert_eq!(
            evs[0].data["previous"]["displayName"], "alice@example.com",
            "{name}"
        );
        assert_eq!(evs[0].data["user"]["display_name"], "Alice A.", "{name}");

        // Deactivate, reactivate, and a role change.
        for (active, want) in [(false, "user.deactivated"), (true, "user.reactivated")] {
            let last = events_after(&app, &org, 0).await.last().unwrap().seq;
            let (s, _) = app
                .scim(
                    "PATCH",
                    &format!("/Users/{alice}"),
                    Some(patch(
                        json!([{"op": "replace", "path": "active", "value": active}]),
                    )),
                )
                .await;
            assert_eq!(s, 200, "{name}");
            let evs = events_after(&app, &org, last).await;
            assert_eq!(types(&evs), [want], "{name}");
            assert_eq!(evs[0].data["user"]["active"], active, "{name}");
        }
        let last = events_after(&app, &org, 0).await.last().unwrap().seq;
        let (s, body) = app
            .scim(
                "PATCH",
                &format!("/Users/{alice}"),
                Some(patch(
                    json!([{"op": "add", "path": format!("{ROLE_URN}:role"), "value": "admin"}]),
                )),
            )
            .await;
        assert_eq!(s, 200, "{name}: {body}");
        let evs = events_after(&app, &org, last).await;
        assert!(
            types(&evs).contains(&"user.role_changed"),
            "{name}: {:?}",
            types(&evs)
        );
        let rc = evs
            .iter()
            .find(|e| e.event_type == "user.role_changed")
            .unwrap();
        assert_eq!(
            (rc.data["role"].clone(), rc.data["previous_role"].clone()),
            (json!("admin"), Value::Null),
            "{name}"
        );

        // A group pushed with members: team.created, then one member_added per member,
        // naming the user and the team.
        let bob = user(&app, "bob@example.com").await;
        let last = events_after(&app, &org, 0).await.last().unwrap().seq;
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Engineering", "members": [{"value": alice}, {"value": bob}]})),
            )
            .await;
        assert_eq!(s, 201, "{name}: {g}");
        let team = g["id"].as_str().unwrap().to_string();
        let evs = events_after(&app, &org, last).await;
        assert_eq!(
            types(&evs),
            ["team.created", "team.member_added", "team.member_added"],
            "{name}"
        );
        let added: Vec<&str> = evs[1..]
            .iter()
            .map(|e| e.data["user"]["user_name"].as_str().unwrap())
            .collect();
        assert!(
            added.contains(&"alice@example.com") && added.contains(&"bob@example.com"),
            "{name}"
        );
        assert_eq!(
            evs[1].data["team"],
            json!({"id": team, "name": "Engineering"}),
            "{name}"
        );

        // 100 members added by one PATCH: 100 events, contiguous, in one transaction.
        let mut ids = Vec::new();
        for i in 0..100 {
            ids.push(user(&app, &format!("u{i:03}@example.com")).await);
        }
        let last = events_after(&app, &org, 0).await.last().unwrap().seq;
        let members: Vec<Value> = ids.iter().map(|i| json!({"value": i})).collect();
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Groups/{team}"),
                Some(patch(
                    json!([{"op": "add", "path": "members", "value": members}]),
                )),
            )
            .await;
        assert!(s.is_success(), "{name}: {s}");
        let evs = events_after(&app, &org, last).await;
        assert_eq!(evs.len(), 100, "{name}");
        assert!(
            evs.iter().all(|e| e.event_type == "team.member_added"),
            "{name}"
        );
        let seqs: Vec<i64> = evs.iter().map(|e| e.seq).collect();
        assert_eq!(
            seqs,
            ((last + 1)..=(last + 100)).collect::<Vec<_>>(),
            "{name}: contiguous"
        );

        // Rename, member removal, deleting a member user, deleting the team.
        let last = seqs[99];
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Groups/{team}"),
                Some(patch(json!([
                    {"op": "replace", "path": "displayName", "value": "Platform"},
                    {"op": "remove", "path": format!("members[value eq \"{bob}\"]")}
                ]))),
            )
            .await;
        assert!(s.is_success(), "{name}: {s}");
        let evs = events_after(&app, &org, last).await;
        assert_eq!(
            types(&evs),
            ["team.updated", "team.member_removed"],
            "{name}"
        );
        assert_eq!(evs[0].data["previous"]["name"], "Engineering", "{name}");
        assert_eq!(evs[1].data["team"]["name"], "Platform", "{name}");
        assert_eq!(evs[1].data["user"]["id"], bob, "{name}");

        let last = evs[1].seq;
        let (s, _) = app.scim("DELETE", &format!("/Users/{alice}"), None).await;
        assert_eq!(s, 204, "{name}");
        let evs = events_after(&app, &org, last).await;
        assert_eq!(
            types(&evs),
            ["team.member_removed", "user.deleted"],
            "{name}"
        );
        assert_eq!(
            evs[0].data["user"]["user_name"], "alice@example.com",
            "{name}"
        );

        let last = evs[1].seq;
        let (s, _) = app.scim("DELETE", &format!("/Groups/{team}"), None).await;
        assert_eq!(s, 204, "{name}");
        let evs = events_after(&app, &org, last).await;
        assert_eq!(types(&evs), ["team.deleted"], "{name}");

        // A refused write records nothing.
        let last = evs[0].seq;
        let (s, _) = app
            .scim(
                "POST",
                "/Users",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "bob@example.com"})),
            )
            .await;
        assert_eq!(s, 409, "{name}");
        assert!(events_after(&app, &org, last).await.is_empty(), "{name}");

        // Every event has a distinct id; sequences are 1..=n with no gap.
        let all = events_after(&app, &org, 0).await;
        let seqs: Vec<i64> = all.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, (1..=all.len() as i64).collect::<Vec<_>>(), "{name}");
        let mut ids: Vec<&str> = all.iter().map(|e| e.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), all.len(), "{name}");
        app.finish().await;
    }
}

#[tokio::test]
async fn console_writes_record_events_with_their_admin() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let store = &app.db.store;
        let admin = management::create_admin(
            store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        let actor = Actor {
            org: app.org.clone(),
            admin,
        };
        let u = management::users::create_user(store, &actor, "carol", "Carol", "carol@acme.test")
            .await
            .unwrap();
        management::users::update_user(store, &actor, &u.id, "Carol C.", false)
            .await
            .unwrap();
        let t = management::teams::create_team(store, &actor, "Ops", false)
            .await
            .unwrap();
        management::teams::add_member(store, &actor, &t.id, "carol")
            .await
            .unwrap();
        management::teams::rename_team(store, &actor, &t.id, "Operations", false)
            .await
            .unwrap();
        management::teams::remove_member(store, &actor, &t.id, &u.id)
            .await
            .unwrap();
        management::teams::delete_team(store, &actor, &t.id)
            .await
            .unwrap();

        let evs = events_after(&app, &app.org.id, 0).await;
        assert_eq!(
            types(&evs),
            [
                "user.created",
                "user.deactivated",
                "user.updated",
                "team.created",
                "team.member_added",
                "team.updated",
                "team.member_removed",
                "team.deleted"
            ],
            "{name}"
        );
        assert!(
            evs.iter().all(|e| e.origin == "console:ops@acme.test"),
            "{name}: {:?}",
            evs.iter().map(|e| &e.origin).collect::<Vec<_>>()
        );
        assert_eq!(
            evs[2].data["changed_fields"],
            json!(["active", "displayName"]),
            "{name}"
        );
        assert_eq!(evs[4].data["user"]["user_name"], "carol", "{name}");
        assert_eq!(evs[4].data["team"]["name"], "Ops", "{name}");

        // Another org has a sequence of its own.
        let beta = management::create_org(store, "beta", None).await.unwrap();
        let beta_actor = Actor {
            org: beta.clone(),
            admin: actor.admin.clone(),
        };
        management::teams::create_team(store, &beta_actor, "Beta team", false)
            .await
            .unwrap();
        let beta_events = events_after(&app, &beta.id, 0).await;
        assert_eq!(beta_events.len(), 1, "{name}");
        assert_eq!(beta_events[0].seq, 1, "{name}: per-org sequence");
        assert_eq!(
            events_after(&app, &app.org.id, 0).await.len(),
            evs.len(),
            "{name}"
        );
        app.finish().await;
    }
}

/// A person's story (the console's timeline) is their own events and their team joins and
/// leaves, newest first, in pages; retention removes each org's oldest events by sequence.
#[tokio::test]
async fn each_persons_story_and_retention() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let org = app.org.id.clone();
        let patch = |ops: Value| json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops});

        let ada = user(&app, "ada@example.com").await;
        let bob = user(&app, "bob@example.com").await;
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Users/{ada}"),
                Some(patch(
                    json!([{"op": "replace", "path": "displayName", "value": "Ada L."}]),
                )),
            )
            .await;
        assert_eq!(s, 200, "{name}");
        let (s, g) = app
            .scim(
                "POST",
                "/Groups",
                Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Research", "members": [{"value": ada}]})),
            )
            .await;
        assert_eq!(s, 201, "{name}: {g}");
        let team = g["id"].as_str().unwrap().to_string();
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Groups/{team}"),
                Some(patch(
                    json!([{"op": "remove", "path": format!("members[value eq \"{ada}\"]")}]),
                )),
            )
            .await;
        assert_eq!(s, 204, "{name}");
        let (s, _) = app
            .scim(
                "PATCH",
                &format!("/Users/{ada}"),
                Some(patch(
                    json!([{"op": "replace", "path": "active", "value": false}]),
                )),
            )
            .await;
        assert_eq!(s, 200, "{name}");

        let mut c = app.db.store.read().await.unwrap();
        let story = feed::list_for_user(&mut c, &org, &ada, None, 100)
            .await
            .unwrap();
        assert_eq!(
            types(&story),
            [
                "user.deactivated",
                "team.member_removed",
                "team.member_added",
                "user.updated",
                "user.created"
            ],
            "{name}: Ada's story, newest first (team.created is not about her)"
        );
        assert!(
            story.windows(2).all(|w| w[0].seq > w[1].seq),
            "{name}: newest first"
        );
        assert_eq!(story[1].data["team"]["name"], "Research", "{name}");
        let updated = &story[3];
        assert_eq!(
            (
                updated.data["previous"]["displayName"].clone(),
                updated.data["current"]["displayName"].clone()
            ),
            (json!("ada@example.com"), json!("Ada L.")),
            "{name}: an update carries before and after"
        );
        let bobs = feed::list_for_user(&mut c, &org, &bob, None, 100)
            .await
            .unwrap();
        assert_eq!(types(&bobs), ["user.created"], "{name}");
        // Pages: the two entries older than the third.
        let older = feed::list_for_user(&mut c, &org, &ada, Some(story[2].seq), 100)
            .await
            .unwrap();
        assert_eq!(types(&older), ["user.updated", "user.created"], "{name}");
        drop(c);

        // Retention: the first three events (Ada's and Bob's creation, Ada's update) aged
        // past the cut-off go; everything from the fourth on stays, and the cursor bounds
        // move with them.
        let mut tx = app.db.store.begin().await.unwrap();
        sqlx::query("UPDATE change_events SET occurred_at = 1000 WHERE org_id = $1 AND seq <= 3")
            .bind(&org)
            .execute(&mut *tx)
            .await
            .unwrap();
        let pruned = feed::prune(&mut tx, 2000).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(pruned, 3, "{name}");
        let mut c = app.db.store.read().await.unwrap();
        let (last, oldest) = feed::bounds(&mut c, &org).await.unwrap();
        assert_eq!(oldest, Some(4), "{name}");
        assert!(last >= 7, "{name}: {last}");
        drop(c);
        // Everything aged: all go, and the sequence goes on from where it was.
        let mut tx = app.db.store.begin().await.unwrap();
        sqlx::query("UPDATE change_events SET occurred_at = 1000 WHERE org_id = $1")
            .bind(&org)
            .execute(&mut *tx)
            .await
            .unwrap();
        feed::prune(&mut tx, 2000).await.unwrap();
        tx.commit().await.unwrap();
        user(&app, "cy@example.com").await;
        let evs = events_after(&app, &org, 0).await;
        assert_eq!(types(&evs), ["user.created"], "{name}");
        assert_eq!(
            evs[0].seq,
            last + 1,
            "{name}: sequence numbers are never reused"
        );
    }
}

/// An append too big for one statement (thousands of member events from one PATCH) still
/// takes contiguous sequence numbers after the ones before it, in one transaction, on every
/// backend; so does the small one after it.
#[tokio::test]
async fn a_big_append_takes_contiguous_sequence_numbers() {
    use scimgate::directory::feed::{EventType, NewChange};
    for b in backends() {
        let name = b.name();
        let app = TestApp::new(&b).await;
        let org = app.org.id.clone();
        let made = |n: usize, tag: &str| -> Vec<NewChange> {
            (0..n)
                .map(|i| NewChange {
                    event_type: EventType::UserUpdated,
                    resource_id: format!("{tag}-{i}"),
                    data: json!({"i": i}),
                })
                .collect()
        };
        for (n, tag) in [(3_500, "big"), (2, "small")] {
            let before = events_after(&app, &org, 0)
                .await
                .last()
                .map_or(0, |e| e.seq);
            let mut tx = app.db.store.begin().await.unwrap();
            feed::append(&mut tx, &org, "scim:test", &made(n, tag))
                .await
                .unwrap_or_else(|e| panic!("{name}: append {n}: {e}"));
            tx.commit().await.unwrap();
            let evs = events_after(&app, &org, before).await;
            let seqs: Vec<i64> = evs.iter().map(|e| e.seq).collect();
            assert_eq!(
                seqs,
                ((before + 1)..=(before + n as i64)).collect::<Vec<_>>(),
                "{name}: {n} events, contiguous"
            );
            assert_eq!(evs[0].resource_id, format!("{tag}-0"), "{name}: in order");
            assert_eq!(
                evs[n - 1].resource_id,
                format!("{tag}-{}", n - 1),
                "{name}: in order"
            );
        }
        app.finish().await;
    }
}
