//! The store contract: every store operation, uniqueness conflicts and rollback, run
//! against SQLite always and PostgreSQL when SCIMGATE_TEST_POSTGRES_URL is set.

mod common;

use common::{backends, TestDb};
use scimgate::directory::query::{Cond, ListQuery, SortKey};
use scimgate::directory::{new_id, now_ms, Change, ChangeKind, Event, Group, ScimToken, User};
use scimgate::provisioning::filter::to_cond;
use scimgate::scim::filter::parse_filter;
use scimgate::scim::schema::ResourceKind;
use scimgate::store::sql::Sql;
use scimgate::store::{admins, events, groups, orgs, tokens, users, StoreError, WriteFailed};
use serde_json::json;

fn user(org: &str, user_name: &str, extra: serde_json::Value) -> User {
    let mut attrs = json!({"userName": user_name, "active": true})
        .as_object()
        .unwrap()
        .clone();
    attrs.extend(extra.as_object().cloned().unwrap_or_default());
    let cols = scimgate::directory::UserColumns::from_attributes(&attrs);
    User {
        id: new_id(),
        org_id: org.into(),
        user_name: cols.user_name,
        external_id: cols.external_id,
        display_name: cols.display_name,
        active: cols.active,
        attributes: attrs,
        source: "scim:okta".into(),
        version: 1,
        created_at: now_ms(),
        updated_at: now_ms(),
    }
}

fn group(org: &str, name: &str, source: &str) -> Group {
    Group {
        id: new_id(),
        org_id: org.into(),
        display_name: name.into(),
        external_id: None,
        source: source.into(),
        member_count: 0,
        version: 1,
        created_at: now_ms(),
        updated_at: now_ms(),
    }
}

#[tokio::test]
async fn orgs_are_unique_case_insensitively() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let mut tx = db.store.begin().await.unwrap();
        let org = orgs::create_org(&mut tx, "acme", "Acme").await.unwrap();
        tx.commit().await.unwrap();
        let mut c = db.store.read().await.unwrap();
        assert!(matches!(
            orgs::create_org(&mut c, "ACME", "Other").await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(
            orgs::find_org_by_login(&mut c, "AcMe")
                .await
                .unwrap()
                .unwrap()
                .id,
            org.id
        );
        assert_eq!(
            orgs::find_org(&mut c, &org.id)
                .await
                .unwrap()
                .unwrap()
                .login,
            "acme"
        );
        assert!(orgs::find_org_by_login(&mut c, "nope")
            .await
            .unwrap()
            .is_none());
        assert!(matches!(
            orgs::get_org_by_login(&mut c, "nope").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(orgs::count_orgs(&mut c).await.unwrap(), 1);
        assert_eq!(orgs::list_orgs(&mut c).await.unwrap().len(), 1);
        let mut changed = org.clone();
        changed.user_name_immutable = true;
        changed.allowed_roles = vec!["admin".into(), "member".into()];
        orgs::update_org_settings(&mut c, &changed).await.unwrap();
        assert_eq!(
            orgs::find_org(&mut c, &org.id).await.unwrap().unwrap(),
            changed
        );
        drop(c);
        db.finish().await;
    }
}

#[tokio::test]
async fn admins_memberships_and_login_failures() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let mut c = db.store.read().await.unwrap();
        let o1 = orgs::create_org(&mut c, "one", "One").await.unwrap();
        let o2 = orgs::create_org(&mut c, "two", "Two").await.unwrap();
        let a = admins::create_admin(&mut c, "Ops@Example.com", "hash-a")
            .await
            .unwrap();
        assert!(matches!(
            admins::create_admin(&mut c, "ops@example.COM", "h").await,
            Err(StoreError::Conflict(_))
        ));
        let b2 = admins::create_admin(&mut c, "second@example.com", "hash-b")
            .await
            .unwrap();
        admins::add_org_admin(&mut c, &o1.id, &a.id).await.unwrap();
        assert!(matches!(
            admins::add_org_admin(&mut c, &o1.id, &a.id).await,
            Err(StoreError::Conflict(_))
        ));
        let (found, hash) = admins::find_admin_credentials(&mut c, " OPS@example.com ")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (found.id.as_str(), hash.as_str()),
            (a.id.as_str(), "hash-a")
        );
        assert!(admins::is_org_admin(&mut c, &o1.id, &a.id).await.unwrap());
        assert!(!admins::is_org_admin(&mut c, &o2.id, &a.id).await.unwrap());
        assert_eq!(
            admins::list_admin_orgs(&mut c, &a.id)
                .await
                .unwrap()
                .iter()
                .map(|o| o.login.clone())
                .collect::<Vec<_>>(),
            vec!["one"]
        );
        assert!(
            matches!(
                admins::remove_org_admin(&mut c, &o1.id, &a.id).await,
                Err(StoreError::Conflict(_))
            ),
            "the last admin stays"
        );
        admins::add_org_admin(&mut c, &o1.id, &b2.id).await.unwrap();
        assert_eq!(
            admins::list_org_admins(&mut c, &o1.id).await.unwrap().len(),
            2
        );
        admins::remove_org_admin(&mut c, &o1.id, &a.id)
            .await
            .unwrap();
        assert!(!admins::is_org_admin(&mut c, &o1.id, &a.id).await.unwrap());
        assert_eq!(
            admins::find_admin(&mut c, &a.id)
                .await
                .unwrap()
                .unwrap()
                .email,
            "Ops@Example.com"
        );
        assert_eq!(admins::count_admins(&mut c).await.unwrap(), 2);

        assert_eq!(
            admins::login_failures(&mut c, "email:x").await.unwrap().0,
            0
        );
        admins::record_login_failure(&mut c, "email:x")
            .await
            .unwrap();
        admins::record_login_failure(&mut c, "email:x")
            .await
            .unwrap();
        assert_eq!(
            admins::login_failures(&mut c, "email:x").await.unwrap().0,
            2
        );
        admins::clear_login_failures(&mut c, "email:x")
            .await
            .unwrap();
        assert_eq!(
            admins::login_failures(&mut c, "email:x").await.unwrap().0,
            0
        );
        drop(c);
        db.finish().await;
    }
}

#[tokio::test]
async fn tokens_by_hash_revoke_and_touch() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let mut c = db.store.read().await.unwrap();
        let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
        let t = ScimToken {
            id: new_id(),
            org_id: org.id.clone(),
            label: "okta".into(),
            hint: "scimgate_abc…".into(),
            created_by: None,
            created_at: now_ms(),
            last_used_at: None,
            expires_at: None,
            revoked_at: None,
            replaced_by: None,
        };
        tokens::insert_token(&mut c, &t, "hash1").await.unwrap();
        let t2 = ScimToken {
            id: new_id(),
            ..t.clone()
        };
        assert!(matches!(
            tokens::insert_token(&mut c, &t2, "hash1").await,
            Err(StoreError::Conflict(_))
        ));
        let (found, h) = tokens::find_token_by_hash(&mut c, "hash1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!((found.id.as_str(), h.as_str()), (t.id.as_str(), "hash1"));
        assert!(tokens::find_token_by_hash(&mut c, "other")
            .await
            .unwrap()
            .is_none());
        // The request path asks for the org and its token in one query.
        let (o, tok) = orgs::find_org_with_token(&mut c, "ACME", "hash1")
            .await
            .unwrap()
            .unwrap();
        let (tok, h) = tok.expect("token of this org found");
        assert_eq!(
            (o.id.as_str(), tok.id.as_str(), h.as_str()),
            (org.id.as_str(), t.id.as_str(), "hash1")
        );
        assert_eq!(
            (tok.label.as_str(), tok.org_id.as_str()),
            ("okta", org.id.as_str())
        );
        let (_, none) = orgs::find_org_with_token(&mut c, "acme", "other")
            .await
            .unwrap()
            .unwrap();
        assert!(none.is_none(), "unknown hash: org without token");
        let other = orgs::create_org(&mut c, "globex", "Globex").await.unwrap();
        let (o2, none) = orgs::find_org_with_token(&mut c, "globex", "hash1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(o2.id, other.id);
        assert!(none.is_none(), "another org's token is not this org's");
        assert!(orgs::find_org_with_token(&mut c, "nope", "hash1")
            .await
            .unwrap()
            .is_none());
        tokens::touch_token(&mut c, &t.id, 1_000_000).await.unwrap();
        tokens::touch_token(&mut c, &t.id, 1_030_000).await.unwrap();
        assert_eq!(
            tokens::find_token(&mut c, &org.id, &t.id)
                .await
                .unwrap()
                .unwrap()
                .last_used_at,
            Some(1_000_000),
            "touched at most once a minute"
        );
        tokens::touch_token(&mut c, &t.id, 1_070_000).await.unwrap();
        assert_eq!(
            tokens::find_token(&mut c, &org.id, &t.id)
                .await
                .unwrap()
                .unwrap()
                .last_used_at,
            Some(1_070_000)
        );
        tokens::revoke_token(&mut c, &org.id, &t.id).await.unwrap();
        let revoked = tokens::list_tokens(&mut c, &org.id).await.unwrap();
        assert!(revoked[0].revoked_at.is_some() && !revoked[0].usable_at(now_ms()));
        assert!(matches!(
            tokens::revoke_token(&mut c, "other-org", &t.id).await,
            Err(StoreError::NotFound)
        ));
        drop(c);
        db.finish().await;
    }
}

#[tokio::test]
async fn users_crud_uniqueness_versions_and_queries() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let mut c = db.store.read().await.unwrap();
        let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
        let other = orgs::create_org(&mut c, "other", "Other").await.unwrap();
        let u1 = user(
            &org.id,
            "Alice@Example.com",
            json!({"displayName": "Alice A", "externalId": "ext-1", "emails": [{"value": "Alice@Example.com", "type": "work", "primary": true}, {"value": "al@home.test", "type": "home"}], "name": {"givenName": "Alice"}, "title": "CTO", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}}),
        );
        users::insert_user(&mut c, &u1).await.unwrap();
        let dup = user(&org.id, "alice@example.COM", json!({}));
        assert!(matches!(
            users::insert_user(&mut c, &dup).await,
            Err(StoreError::Conflict(_))
        ));
        users::insert_user(&mut c, &user(&other.id, "alice@example.com", json!({})))
            .await
            .unwrap();
        let u2 = user(
            &org.id,
            "bob@example.com",
            json!({"active": false, "displayName": "Bob", "phoneNumbers": [{"value": "+1 555", "type": "mobile"}]}),
        );
        users::insert_user(&mut c, &u2).await.unwrap();

        assert_eq!(users::get_user(&mut c, &org.id, &u1.id).await.unwrap(), u1);
        assert!(
            users::find_user(&mut c, &other.id, &u1.id)
                .await
                .unwrap()
                .is_none(),
            "orgs are isolated"
        );
        assert_eq!(
            users::find_user_by_user_name(&mut c, &org.id, "ALICE@example.com")
                .await
                .unwrap()
                .unwrap()
                .id,
            u1.id
        );
        assert_eq!(users::count_users(&mut c, &org.id).await.unwrap(), (1, 1));

        let q = |f: &str| ListQuery {
            cond: to_cond(ResourceKind::User, &parse_filter(f).unwrap()).unwrap(),
            ..ListQuery::default()
        };
        let ids = |r: (i64, Vec<User>)| r.1.into_iter().map(|u| u.user_name).collect::<Vec<_>>();
        for (f, want) in [
            (
                r#"userName eq "ALICE@EXAMPLE.COM""#,
                vec!["Alice@Example.com"],
            ),
            (r#"externalId eq "ext-1""#, vec!["Alice@Example.com"]),
            (r#"externalId eq "EXT-1""#, vec![]),
            (
                r#"emails[type eq "work" and value co "@example"]"#,
                vec!["Alice@Example.com"],
            ),
            (
                r#"emails.value eq "al@HOME.test""#,
                vec!["Alice@Example.com"],
            ),
            (
                r#"emails[type eq "home"].value"#.trim_end_matches(".value"),
                vec!["Alice@Example.com"],
            ),
            (r#"name.givenName sw "ali""#, vec!["Alice@Example.com"]),
            (r#"title eq "cto""#, vec!["Alice@Example.com"]),
            (
                r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#,
                vec!["Alice@Example.com"],
            ),
            (r#"active eq false"#, vec!["bob@example.com"]),
            (
                r#"phoneNumbers[type eq "mobile" and value co "555"]"#,
                vec!["bob@example.com"],
            ),
            (r#"not (title pr)"#, vec!["bob@example.com"]),
            (
                r#"userName sw "a" or displayName eq "bob""#,
                vec!["Alice@Example.com", "bob@example.com"],
            ),
            (r#"userName co "100%_""#, vec![]),
            (
                r#"meta.created gt "2000-01-01T00:00:00Z" and active eq true"#,
                vec!["Alice@Example.com"],
            ),
            (r#"id eq "no-such-id""#, vec![]),
        ] {
            let got = ids(users::list_users(&mut c, &org.id, &q(f)).await.unwrap());
            assert_eq!(got, want, "filter {f}");
        }
        let page = users::list_users(
            &mut c,
            &org.id,
            &ListQuery {
                cond: Cond::All,
                sort: SortKey::UserName,
                descending: true,
                offset: 1,
                limit: 1,
                after: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(
            (page.0, page.1[0].user_name.as_str()),
            (2, "Alice@Example.com")
        );
        let counted = users::list_users(
            &mut c,
            &org.id,
            &ListQuery {
                limit: 0,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
        assert_eq!((counted.0, counted.1.len()), (2, 0));
        // A keyset page: the rows after an id, and the total of every match.
        let mut ids_in_order: Vec<String> = vec![u1.id.clone(), u2.id.clone()];
        ids_in_order.sort();
        let (total, rows) = db
            .store
            .page_users(
                &org.id,
                &ListQuery {
                    after: Some(ids_in_order[0].clone()),
                    ..ListQuery::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(
            (total, rows.iter().map(|u| u.id.clone()).collect::<Vec<_>>()),
            (2, vec![ids_in_order[1].clone()]),
            "{}: keyset page",
            db.store.backend().name()
        );

        let mut changed = u1.clone();
        changed
            .attributes
            .insert("userName".into(), json!("alice2@example.com"));
        changed
            .attributes
            .insert("emails".into(), json!([{"value": "new@example.com"}]));
        changed.version = 2;
        users::update_user(&mut c, &changed, 1, None).await.unwrap();
        assert!(matches!(
            users::update_user(&mut c, &changed, 1, None).await,
            Err(StoreError::VersionMismatch)
        ));
        let stored = users::get_user(&mut c, &org.id, &u1.id).await.unwrap();
        assert_eq!(
            (stored.user_name.as_str(), stored.version),
            ("alice2@example.com", 2)
        );
        assert!(
            ids(users::list_users(
                &mut c,
                &org.id,
                &q(r#"emails.value eq "alice@example.com""#)
            )
            .await
            .unwrap())
            .is_empty(),
            "old emails are gone"
        );
        // Given the stored user, email rows are kept when the emails did not change and
        // replaced when they did.
        let mut renamed = stored.clone();
        renamed
            .attributes
            .insert("displayName".into(), json!("Alice Two"));
        users::update_user(&mut c, &renamed, 2, Some(&stored))
            .await
            .unwrap();
        let by_email = |v: &str| q(&format!(r#"emails.value eq "{v}""#));
        assert_eq!(
            ids(
                users::list_users(&mut c, &org.id, &by_email("new@example.com"))
                    .await
                    .unwrap()
            ),
            vec!["alice2@example.com".to_string()]
        );
        let stored = users::get_user(&mut c, &org.id, &u1.id).await.unwrap();
        let mut moved = stored.clone();
        moved
            .attributes
            .insert("emails".into(), json!([{"value": "third@example.com"}]));
        users::update_user(&mut c, &moved, 3, Some(&stored))
            .await
            .unwrap();
        assert!(ids(
            users::list_users(&mut c, &org.id, &by_email("new@example.com"))
                .await
                .unwrap()
        )
        .is_empty());
        assert_eq!(
            ids(
                users::list_users(&mut c, &org.id, &by_email("third@example.com"))
                    .await
                    .unwrap()
            ),
            vec!["alice2@example.com".to_string()]
        );
        let stored = users::get_user(&mut c, &org.id, &u1.id).await.unwrap();
        let mut clash = stored.clone();
        clash
            .attributes
            .insert("userName".into(), json!("BOB@example.com"));
        assert!(matches!(
            users::update_user(&mut c, &clash, stored.version, None).await,
            Err(StoreError::Conflict(_))
        ));

        users::delete_user(&mut c, &org.id, &u1.id).await.unwrap();
        assert!(matches!(
            users::delete_user(&mut c, &org.id, &u1.id).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            users::get_user(&mut c, &org.id, &u1.id).await,
            Err(StoreError::NotFound)
        ));
        drop(c);
        db.finish().await;
    }
}

#[tokio::test]
async fn groups_memberships_are_deltas() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let mut c = db.store.read().await.unwrap();
        let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
        let other = orgs::create_org(&mut c, "other", "Other").await.unwrap();
        let us: Vec<User> = (0..5)
            .map(|i| user(&org.id, &format!("u{i}"), json!({})))
            .collect();
        for u in &us {
            users::insert_user(&mut c, u).await.unwrap();
        }
        let foreign = user(&other.id, "f", json!({}));
        users::insert_user(&mut c, &foreign).await.unwrap();

        let g = group(&org.id, "Engineering", "scim:okta");
        groups::insert_group(&mut c, &g).await.unwrap();
        assert!(matches!(
            groups::insert_group(&mut c, &group(&org.id, "ENGINEERING", "scim:entra")).await,
            Err(StoreError::Conflict(_))
        ));
        let console = group(&org.id, "engineering", "console");
        groups::insert_group(&mut c, &console).await.unwrap();

        let ids: Vec<String> = us.iter().map(|u| u.id.clone()).collect();
        let (added, skipped) = groups::add_members(
            &mut c,
            &org.id,
            &g.id,
            &[
                ids[0].clone(),
                ids[1].clone(),
                ids[1].clone(),
                foreign.id.clone(),
                "nope".into(),
            ],
        )
        .await
        .unwrap();
        assert_eq!(added.len(), 2);
        assert_eq!(skipped, vec![foreign.id.clone(), "nope".to_string()]);
        let (again, _) =
            groups::add_members(&mut c, &org.id, &g.id, &[ids[0].clone(), ids[2].clone()])
                .await
                .unwrap();
        assert_eq!(again, vec![ids[2].clone()], "present members are a no-op");
        assert_eq!(
            groups::get_group(&mut c, &org.id, &g.id)
                .await
                .unwrap()
                .member_count,
            3
        );
        assert!(groups::is_member(&mut c, &g.id, &ids[2]).await.unwrap());
        let removed = groups::remove_members(&mut c, &g.id, &[ids[0].clone(), ids[4].clone()])
            .await
            .unwrap();
        assert_eq!(removed, vec![ids[0].clone()]);
        assert_eq!(
            groups::get_group(&mut c, &org.id, &g.id)
                .await
                .unwrap()
                .member_count,
            2
        );
        let page1 = groups::list_members(&mut c, &g.id, None, 1).await.unwrap();
        let page2 = groups::list_members(&mut c, &g.id, Some(&page1[0].user_id), 1)
            .await
            .unwrap();
        assert_eq!(page1.len() + page2.len(), 2);
        assert_ne!(page1[0].user_id, page2[0].user_id);
        assert_eq!(
            groups::list_member_ids(&mut c, &g.id).await.unwrap().len(),
            2
        );

        let q = |f: &str| ListQuery {
            cond: to_cond(ResourceKind::Group, &parse_filter(f).unwrap()).unwrap(),
            ..ListQuery::default()
        };
        let names = |r: (i64, Vec<Group>)| r.1.into_iter().map(|g| g.source).collect::<Vec<_>>();
        assert_eq!(
            names(
                groups::list_groups(&mut c, &org.id, &q(r#"displayName eq "ENGINEERING""#))
                    .await
                    .unwrap()
            )
            .len(),
            2
        );
        assert_eq!(
            names(
                groups::list_groups(&mut c, &org.id, &q(&format!(r#"members eq "{}""#, ids[1])))
                    .await
                    .unwrap()
            ),
            vec!["scim:okta"]
        );
        assert_eq!(
            names(
                groups::list_groups(
                    &mut c,
                    &org.id,
                    &q(&format!(r#"id eq "{}" and members eq "{}""#, g.id, ids[0]))
                )
                .await
                .unwrap()
            )
            .len(),
            0
        );
        assert_eq!(groups::count_groups(&mut c, &org.id).await.unwrap(), (1, 1));
        assert_eq!(
            users::list_user_groups(&mut c, &ids[1]).await.unwrap(),
            vec![(g.id.clone(), "Engineering".to_string())]
        );

        groups::update_group(&mut c, &org.id, &g.id, "Eng", Some("x1"))
            .await
            .unwrap();
        let locked = groups::lock_group(&mut c, &org.id, &g.id, None)
            .await
            .unwrap();
        assert_eq!(locked.display_name, "Eng");
        assert!(matches!(
            groups::lock_group(&mut c, &org.id, &g.id, Some(1)).await,
            Err(StoreError::VersionMismatch)
        ));

        users::delete_user(&mut c, &org.id, &ids[1]).await.unwrap();
        assert_eq!(
            groups::get_group(&mut c, &org.id, &g.id)
                .await
                .unwrap()
                .member_count,
            1,
            "deleting a user leaves its groups' counts right"
        );
        let all = groups::remove_all_members(&mut c, &g.id).await.unwrap();
        assert_eq!(all, vec![ids[2].clone()]);
        assert_eq!(
            groups::get_group(&mut c, &org.id, &g.id)
                .await
                .unwrap()
                .member_count,
            0
        );
        groups::delete_group(&mut c, &org.id, &g.id).await.unwrap();
        assert!(matches!(
            groups::delete_group(&mut c, &org.id, &g.id).await,
            Err(StoreError::NotFound)
        ));
        drop(c);
        db.finish().await;
    }
}

#[tokio::test]
async fn transactions_roll_back() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let org = {
            let mut c = db.store.read().await.unwrap();
            orgs::create_org(&mut c, "acme", "Acme").await.unwrap()
        };
        let u = user(&org.id, "rolled@back", json!({}));
        {
            let mut tx = db.store.begin().await.unwrap();
            users::insert_user(&mut tx, &u).await.unwrap();
            let g = group(&org.id, "G", "scim:okta");
            groups::insert_group(&mut tx, &g).await.unwrap();
            groups::add_members(&mut tx, &org.id, &g.id, std::slice::from_ref(&u.id))
                .await
                .unwrap();
            // Dropped without commit.
        }
        {
            let mut tx = db.store.begin().await.unwrap();
            users::insert_user(&mut tx, &user(&org.id, "x", json!({})))
                .await
                .unwrap();
            assert!(users::insert_user(&mut tx, &user(&org.id, "X", json!({})))
                .await
                .is_err());
            tx.rollback().await.unwrap();
        }
        let mut c = db.store.read().await.unwrap();
        assert!(users::find_user(&mut c, &org.id, &u.id)
            .await
            .unwrap()
            .is_none());
        assert_eq!(users::count_users(&mut c, &org.id).await.unwrap(), (0, 0));
        assert_eq!(groups::count_groups(&mut c, &org.id).await.unwrap(), (0, 0));
        drop(c);
        db.finish().await;
    }
}

/// A write dropped while its BEGIN is on its way (its client gone) leaves no transaction
/// behind: on SQLite one would hold the write lock against the write thread, and every
/// create after it would wait out the busy timeout and fail.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_dropped_during_its_begin_leaves_creates_working() {
    use std::future::Future;
    use std::task::{Context, Waker};
    for b in backends() {
        let db = TestDb::new(&b).await;
        let org = {
            let mut c = db.store.read().await.unwrap();
            orgs::create_org(&mut c, "acme", "Acme").await.unwrap()
        };
        for i in 0..5 {
            {
                let mut begin = Box::pin(db.store.begin());
                let _ = begin.as_mut().poll(&mut Context::from_waker(Waker::noop()));
            }
            let statements = users::insert_user_statements(
                db.store.backend(),
                &user(&org.id, &format!("c{i}"), json!({})),
            );
            let all: Vec<&Sql> = statements.iter().collect();
            let written = tokio::time::timeout(
                std::time::Duration::from_secs(5),
                db.store.write_user_with(&org.id, &all),
            )
            .await;
            assert!(
                matches!(written, Ok(Ok(()))),
                "create {i} after a dropped BEGIN: {written:?}"
            );
        }
        let mut c = db.store.read().await.unwrap();
        assert_eq!(users::count_users(&mut c, &org.id).await.unwrap(), (5, 0));
        drop(c);
        db.finish().await;
    }
}

/// Writes made of known statements (on SQLite: queued, and run by the committer in one call
/// each, in its own savepoint, in the open group): one that fails on a taken userName, after
/// a statement of the same call succeeded, takes that statement with it and nothing of the
/// requests sharing its group.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_fail_alone() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let org = {
            let mut c = db.store.read().await.unwrap();
            orgs::create_org(&mut c, "acme", "Acme").await.unwrap()
        };
        let taken = user(&org.id, "taken", json!({}));
        let mut tx = db.store.begin().await.unwrap();
        users::insert_user(&mut tx, &taken).await.unwrap();
        tx.commit().await.unwrap();
        let mut tasks = Vec::new();
        for i in 0..60 {
            let (store, org_id) = (db.store.clone(), org.id.clone());
            tasks.push(tokio::spawn(async move {
                let mine = users::insert_user_statements(
                    store.backend(),
                    &user(&org_id, &format!("w{i}"), json!({})),
                );
                let mut all: Vec<&Sql> = mine.iter().collect();
                let dup = users::insert_user_statements(
                    store.backend(),
                    &user(&org_id, "TAKEN", json!({})),
                );
                if i % 3 == 0 {
                    all.extend(dup.iter());
                }
                // Half through the path PostgreSQL's creates take (the org's lane).
                let written = if i % 2 == 0 {
                    match store.write_user_with(&org_id, &all).await {
                        Ok(()) => Ok(()),
                        Err(WriteFailed::Statements(e)) => Err(e),
                        Err(WriteFailed::Commit(e)) => panic!("w{i}: COMMIT failed: {e}"),
                    }
                } else {
                    match store.begin_create(&org_id).await {
                        Ok(mut tx) => match Sql::execute_all(&mut tx, &all).await {
                            Ok(()) => {
                                tx.commit().await.unwrap();
                                Ok(())
                            }
                            Err(e) => Err(StoreError::from(e)),
                        },
                        Err(e) => Err(e),
                    }
                };
                match written {
                    Ok(()) => {
                        assert!(i % 3 != 0, "w{i}: the taken userName went through");
                        true
                    }
                    Err(e) => {
                        assert!(
                            matches!(users::user_conflict(e), StoreError::Conflict(_)),
                            "w{i}: not a conflict"
                        );
                        assert_eq!(i % 3, 0, "w{i} failed");
                        false
                    }
                }
            }));
        }
        let mut kept = 0;
        for t in tasks {
            if t.await.unwrap() {
                kept += 1;
            }
        }
        assert_eq!(kept, 40);
        let mut c = db.store.read().await.unwrap();
        assert_eq!(users::count_users(&mut c, &org.id).await.unwrap(), (41, 0));
        for i in 0..60 {
            let found = users::find_user_by_user_name(&mut c, &org.id, &format!("w{i}"))
                .await
                .unwrap();
            assert_eq!(found.is_some(), i % 3 != 0, "w{i}");
        }
        // The people search has exactly the kept users, whichever path wrote them and
        // whether or not their group ran them again one by one after a failure.
        let name = db.store.backend().name();
        if db.store.backend() == scimgate::store::Backend::Sqlite {
            let astray: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM users u WHERE u.search_rowid IS NULL OR NOT EXISTS \
                 (SELECT 1 FROM user_search s WHERE s.rowid = u.search_rowid AND s.user_id = u.id)",
            )
            .fetch_one(&mut *c)
            .await
            .unwrap();
            assert_eq!(
                astray, 0,
                "{name}: every user's search_rowid is its own FTS row"
            );
            let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_search")
                .fetch_one(&mut *c)
                .await
                .unwrap();
            assert_eq!(rows, 41, "{name}: no FTS row of a create that failed");
        }
        drop(c);
        let mut kept: Vec<String> = (0..60)
            .filter(|i| i % 3 != 0)
            .map(|i| format!("w{i}"))
            .collect();
        kept.sort();
        assert_eq!(
            people_found(&db.store, &org.id, "w").await,
            kept,
            "{name}: search finds the kept users"
        );
        db.finish().await;
    }
}

/// Writes made of known statements and cut short at any point (their client gone): each
/// keeps all of its statements or none, a success is kept, and a failure keeps nothing. Each write here creates two users in one call: never one without the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_writes_cut_short_keep_all_or_nothing() {
    const PER_WRITE: usize = 100;
    for b in backends() {
        let db = TestDb::new(&b).await;
        let org = {
            let mut c = db.store.read().await.unwrap();
            orgs::create_org(&mut c, "acme", "Acme").await.unwrap()
        };
        // Each round: a small write and a big one at once (so that one of them usually
        // finds the other's group open), the big one cut short after 0 to 5 ms.
        let mut outcomes = Vec::new();
        for i in 0..100u64 {
            let mut round = Vec::new();
            for big in [false, true] {
                let (store, org_id) = (db.store.clone(), org.id.clone());
                let id = 2 * i + u64::from(big);
                round.push(tokio::spawn(async move {
                    let n = if big { PER_WRITE } else { 1 };
                    let statements: Vec<Sql> = (0..n)
                        .flat_map(|k| {
                            users::insert_user_statements(
                                store.backend(),
                                &user(&org_id, &format!("w{id}-{k}"), json!({})),
                            )
                        })
                        .collect();
                    let all: Vec<&Sql> = statements.iter().collect();
                    let write = async {
                        store
                            .write_user_with(&org_id, &all)
                            .await
                            .map_err(|e| match e {
                                WriteFailed::Statements(e) | WriteFailed::Commit(e) => e,
                            })
                    };
                    let outcome = if big {
                        let limit = std::time::Duration::from_micros(251 * (i % 20));
                        tokio::time::timeout(limit, write)
                            .await
                            .ok()
                            .map(|r| r.is_ok())
                    } else {
                        Some(write.await.is_ok())
                    };
                    (id, n, outcome)
                }));
            }
            for t in round {
                outcomes.push(t.await.unwrap());
            }
        }
        // Let any rollback the cancellations left to the committer finish.
        let mut tx = db.store.begin().await.unwrap();
        users::insert_user(&mut tx, &user(&org.id, "last", json!({})))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let mut c = db.store.read().await.unwrap();
        for (i, n, outcome) in outcomes {
            let mut kept = 0;
            for k in 0..n {
                kept += usize::from(
                    users::find_user_by_user_name(&mut c, &org.id, &format!("w{i}-{k}"))
                        .await
                        .unwrap()
                        .is_some(),
                );
            }
            assert!(
                kept == 0 || kept == n,
                "write {i} kept {kept} of its {n} users ({outcome:?})"
            );
            if let Some(ok) = outcome {
                assert_eq!(kept > 0, ok, "write {i}: answered {ok}, kept {kept}");
            }
        }
        drop(c);
        db.finish().await;
    }
}

/// Many writers at once (SQLite groups them into shared commits): each commit that
/// returns Ok is visible to readers at once, and a writer that fails or gives up takes
/// only its own statements with it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_commit_alone_or_fail_alone() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let org = {
            let mut c = db.store.read().await.unwrap();
            orgs::create_org(&mut c, "acme", "Acme").await.unwrap()
        };
        let mut tasks = Vec::new();
        for i in 0..40 {
            let (store, org_id) = (db.store.clone(), org.id.clone());
            tasks.push(tokio::spawn(async move {
                let u = user(&org_id, &format!("w{i}"), json!({}));
                let mut tx = store.begin().await.unwrap();
                users::insert_user(&mut tx, &u).await.unwrap();
                match i % 4 {
                    // Fails on a uniqueness conflict, then drops the transaction.
                    0 => {
                        let dup = user(&org_id, &format!("W{i}"), json!({}));
                        assert!(matches!(
                            users::insert_user(&mut tx, &dup).await,
                            Err(StoreError::Conflict(_))
                        ));
                        drop(tx);
                        false
                    }
                    1 => {
                        tx.rollback().await.unwrap();
                        false
                    }
                    _ => {
                        tx.commit().await.unwrap();
                        let mut c = store.read().await.unwrap();
                        assert!(
                            users::find_user(&mut c, &org_id, &u.id)
                                .await
                                .unwrap()
                                .is_some(),
                            "a committed write is visible as soon as commit returns"
                        );
                        true
                    }
                }
            }));
        }
        let mut kept = 0;
        for t in tasks {
            if t.await.unwrap() {
                kept += 1;
            }
        }
        let mut c = db.store.read().await.unwrap();
        assert_eq!(
            users::count_users(&mut c, &org.id).await.unwrap(),
            (kept, 0)
        );
        for i in 0..40 {
            let found = users::find_user_by_user_name(&mut c, &org.id, &format!("w{i}"))
                .await
                .unwrap();
            assert_eq!(found.is_some(), i % 4 >= 2, "w{i}");
        }
        drop(c);
        db.finish().await;
    }
}

/// PostgreSQL: when the server drops every connection (a restart, a failover,
/// `pg_terminate_backend`), at most the request that first meets a dead connection fails;
/// the pool then checks the others before handing them out, and reads and writes go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_recover_after_the_server_drops_them() {
    use sqlx::Connection;
    if common::postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(&common::Backend::Postgres).await;
    let org = {
        let mut c = db.store.read().await.unwrap();
        orgs::create_org(&mut c, "acme", "Acme").await.unwrap()
    };
    // Several pooled connections, all idle.
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(db.store.read().await.unwrap());
    }
    drop(held);
    let mut admin = sqlx::PgConnection::connect(&db.url).await.unwrap();
    let killed: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND pid <> pg_backend_pid()",
    )
    .fetch_all(&mut admin)
    .await
    .unwrap();
    assert!(killed.len() >= 4, "terminated {} backends", killed.len());
    admin.close().await.unwrap();

    let mut failures = 0;
    for i in 0..12 {
        let outcome = async {
            if i % 2 == 0 {
                let mut c = db.store.read().await?;
                orgs::find_org_by_login(&mut c, "acme").await.map(|_| ())
            } else {
                let mut tx = db.store.begin().await?;
                users::insert_user(&mut tx, &user(&org.id, &format!("r{i}"), json!({}))).await?;
                tx.commit().await
            }
        }
        .await;
        match outcome {
            Ok(()) => {}
            Err(e) if i == 0 => {
                failures += 1;
                eprintln!("first request after the drop failed as allowed: {e}");
            }
            Err(e) => panic!("request {i} failed after the pool knew of the drop: {e}"),
        }
    }
    assert!(failures <= 1);
    let mut c = db.store.read().await.unwrap();
    assert_eq!(users::count_users(&mut c, &org.id).await.unwrap(), (6, 0));
    drop(c);
    db.finish().await;
}

#[tokio::test]
async fn events_keyset_pages_and_pruning() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let mut c = db.store.read().await.unwrap();
        let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
        let mut ids = Vec::new();
        for i in 0..5 {
            let e = Event {
                id: new_id(),
                org_id: Some(org.id.clone()),
                occurred_at: 1_000 + i,
                token_id: None,
                token_label: Some("okta".into()),
                method: "POST".into(),
                path: "/scim/v2/acme/Users".into(),
                query: None,
                client: "okta".into(),
                status: 201,
                scim_type: None,
                duration_us: 10,
                request_body: Some("{}".into()),
                response_summary: None,
                remote_addr: Some("192.0.2.7".into()),
                user_agent: Some("Okta SCIM Client 1.0.0".into()),
                changes: vec![Change {
                    resource_type: "User".into(),
                    resource_id: format!("u{i}"),
                    resource_name: Some("n".into()),
                    kind: ChangeKind::Created,
                    detail: Some(json!({"a": 1})),
                }],
            };
            events::insert_event(&mut c, &e).await.unwrap();
            ids.push(e.id);
        }
        let first = events::list_events(&mut c, &org.id, None, 2).await.unwrap();
        assert_eq!(
            first.iter().map(|e| e.id.clone()).collect::<Vec<_>>(),
            vec![ids[4].clone(), ids[3].clone()]
        );
        let next = events::list_events(&mut c, &org.id, Some(&first[1].id), 10)
            .await
            .unwrap();
        assert_eq!(next.len(), 3);
        let one = events::find_event(&mut c, &org.id, &ids[0])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(one.changes[0].kind, ChangeKind::Created);
        assert_eq!(one.changes[0].detail, Some(json!({"a": 1})));
        assert_eq!(one.remote_addr.as_deref(), Some("192.0.2.7"));
        assert_eq!(one.user_agent.as_deref(), Some("Okta SCIM Client 1.0.0"));
        assert_eq!(events::prune_events(&mut c, 1_002).await.unwrap(), 2);
        assert_eq!(
            events::list_events(&mut c, &org.id, None, 10)
                .await
                .unwrap()
                .len(),
            3
        );
        drop(c);
        db.finish().await;
    }
}

#[test]
fn migrations_have_the_same_versions_on_both_databases() {
    let names = |d: &str| {
        let mut v: Vec<String> =
            std::fs::read_dir(format!("{}/migrations/{d}", env!("CARGO_MANIFEST_DIR")))
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
        v.sort();
        v
    };
    assert_eq!(names("sqlite"), names("postgres"));
    assert!(!names("sqlite").is_empty());
}

/// Case-insensitive comparisons fold Unicode, not ASCII only, identically on SQLite and
/// PostgreSQL; rows written before the fold columns existed are folded at start-up.
#[tokio::test]
async fn case_insensitive_matching_folds_unicode() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let mut c = db.store.read().await.unwrap();
        let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
        let asa = user(
            &org.id,
            "Åsa@example.com",
            json!({"displayName": "ÅSA", "title": "Élan", "emails": [{"value": "Åsa@Example.com", "type": "WÖRK"}], "addresses": [{"locality": "MÜNCHEN", "type": "work"}], "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "FORSKNING & UTVECKLING Ö"}}),
        );
        users::insert_user(&mut c, &asa).await.unwrap();
        let plain = user(
            &org.id,
            "bob@example.com",
            json!({"displayName": "Bob", "title": "elan"}),
        );
        users::insert_user(&mut c, &plain).await.unwrap();
        assert!(
            matches!(
                users::insert_user(&mut c, &user(&org.id, "åsa@EXAMPLE.COM", json!({}))).await,
                Err(StoreError::Conflict(_))
            ),
            "userName uniqueness folds Å"
        );
        let names = |r: (i64, Vec<User>)| r.1.into_iter().map(|u| u.user_name).collect::<Vec<_>>();
        let filters = [
            r#"displayName eq "åsa""#,
            r#"displayName eq "ÅSA""#,
            r#"displayName sw "ås""#,
            r#"displayName co "å" and displayName ne "BOB""#,
            r#"userName eq "åsa@example.com""#,
            r#"title eq "élan""#,
            r#"title eq "ÉLAN""#,
            r#"emails.value ew "åsa@example.com""#,
            r#"emails[type eq "wörk"]"#,
            r#"addresses[locality eq "münchen"]"#,
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department sw "forskning & utveckling ö""#,
        ];
        let q = |f: &str| ListQuery {
            cond: to_cond(ResourceKind::User, &parse_filter(f).unwrap()).unwrap(),
            ..ListQuery::default()
        };
        for f in filters {
            let got = names(users::list_users(&mut c, &org.id, &q(f)).await.unwrap());
            assert_eq!(got, vec!["Åsa@example.com"], "filter {f}");
        }
        // ASCII rows keep no folded copy and still match case-insensitively.
        let got = names(
            users::list_users(&mut c, &org.id, &q(r#"title eq "ELAN""#))
                .await
                .unwrap(),
        );
        assert_eq!(got, vec!["bob@example.com"]);
        let sorted = users::list_users(
            &mut c,
            &org.id,
            &ListQuery {
                sort: SortKey::DisplayName,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            names(sorted),
            vec!["bob@example.com", "Åsa@example.com"],
            "sorted by the folded displayName"
        );
        let g = group(&org.id, "ÅSA Team", "scim:okta");
        groups::insert_group(&mut c, &g).await.unwrap();
        assert!(matches!(
            groups::insert_group(&mut c, &group(&org.id, "åsa team", "scim:okta")).await,
            Err(StoreError::Conflict(_))
        ));
        let gq = ListQuery {
            cond: to_cond(
                ResourceKind::Group,
                &parse_filter(r#"displayName eq "åsa team""#).unwrap(),
            )
            .unwrap(),
            ..ListQuery::default()
        };
        assert_eq!(
            groups::list_groups(&mut c, &org.id, &gq).await.unwrap().0,
            1
        );

        // A row as the migration left it (SQL lower(), no folded body, listed as pending)
        // is folded by the start-up backfill.
        for sql in [
            "UPDATE users SET display_name_key = lower(display_name), attributes_key = NULL",
            "UPDATE user_emails SET type_key = lower(type)",
        ] {
            sqlx::query(sql).execute(&mut *c).await.unwrap();
        }
        sqlx::query("INSERT INTO unicode_fold_pending (user_id) VALUES ($1)")
            .bind(&asa.id)
            .execute(&mut *c)
            .await
            .unwrap();
        if matches!(b, common::Backend::Sqlite) {
            // SQLite's lower() leaves 'Å' alone: without the backfill these miss.
            for f in [
                r#"title eq "élan""#,
                r#"displayName eq "åsa""#,
                r#"emails[type eq "wörk"]"#,
            ] {
                let got = users::list_users(&mut c, &org.id, &q(f)).await.unwrap();
                assert!(got.1.is_empty(), "{f}");
            }
        }
        drop(c);
        let folded = scimgate::store::fold::backfill(&db.store).await.unwrap();
        assert_eq!(folded, 1);
        let mut c = db.store.read().await.unwrap();
        for f in filters {
            let got = names(users::list_users(&mut c, &org.id, &q(f)).await.unwrap());
            assert_eq!(got, vec!["Åsa@example.com"], "after backfill: filter {f}");
        }
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM unicode_fold_pending")
            .fetch_one(&mut *c)
            .await
            .unwrap();
        assert_eq!(left, 0);
        drop(c);
        db.finish().await;
    }
}

/// The userNames the people search finds for `q` in the org, sorted (its total agreeing).
async fn people_found(store: &scimgate::store::Store, org_id: &str, q: &str) -> Vec<String> {
    let cond = Cond::Words {
        org_id: org_id.to_string(),
        words: scimgate::store::search::query_words(q),
        many: false,
    };
    let (total, rows) = store
        .page_users(
            org_id,
            &ListQuery {
                cond,
                limit: 100,
                ..ListQuery::default()
            },
        )
        .await
        .unwrap();
    let mut names: Vec<String> = rows.into_iter().map(|u| u.user_name).collect();
    names.sort();
    assert_eq!(total as usize, names.len());
    names
}

/// A word most users have (the company's mail domain) is searched the other way round on
/// SQLite (see `store::search::plan`): the same pages, totals and keyset paging as the
/// ids the database holds, alone and beside another condition; a rare word keeps the
/// plan that lists its few matches.
#[tokio::test]
async fn people_search_by_a_word_most_users_have_pages_like_any_other() {
    use scimgate::directory::query::{Op, Target, Val};
    let n = scimgate::store::search::MANY_MATCHES as u64 + 150;
    for b in backends() {
        let db = TestDb::new(&b).await;
        let name = db.store.backend().name();
        let sqlite = db.store.backend() == scimgate::store::Backend::Sqlite;
        let mut c = db.store.read().await.unwrap();
        let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
        let other = orgs::create_org(&mut c, "other", "Other").await.unwrap();
        drop(c);
        let size = |users| scimgate::seed::SeedSize {
            users,
            groups: 0,
            memberships: 0,
            events: 0,
        };
        // Seeded users are user{i}@{org}.example: every one has "example".
        scimgate::seed::seed(&db.store, &org, size(n))
            .await
            .unwrap();
        scimgate::seed::seed(&db.store, &other, size(20))
            .await
            .unwrap();
        let mut c = db.store.read().await.unwrap();
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM users WHERE org_id = $1 ORDER BY id")
                .bind(&org.id)
                .fetch_all(&mut *c)
                .await
                .unwrap();
        assert_eq!(ids.len() as u64, n);
        // Every third of the first 300 deactivated (the seed deactivates every tenth: all
        // active first): a condition beside the words.
        sqlx::query("UPDATE users SET active = 1 WHERE org_id = $1")
            .bind(&org.id)
            .execute(&mut *c)
            .await
            .unwrap();
        let off: Vec<String> = ids.iter().take(300).step_by(3).cloned().collect();
        // Five users renamed: their words get new FTS rows, whose row ids no longer follow
        // the users' own order (a plan that confused the two would lose them).
        for id in &ids[..5] {
            let old = users::find_user(&mut c, &org.id, id)
                .await
                .unwrap()
                .unwrap();
            let mut u = old.clone();
            u.attributes
                .insert("displayName".into(), json!("Renamed Person"));
            u.display_name = Some("Renamed Person".into());
            u.version = old.version + 1;
            users::update_user(&mut c, &u, old.version, Some(&old))
                .await
                .unwrap();
        }
        for id in &off {
            sqlx::query("UPDATE users SET active = 0 WHERE id = $1")
                .bind(id)
                .execute(&mut *c)
                .await
                .unwrap();
        }
        let words = |q: &str| Cond::Words {
            org_id: org.id.clone(),
            words: scimgate::store::search::query_words(q),
            many: false,
        };
        let planned = scimgate::store::search::plan(&mut c, &words("example"))
            .await
            .unwrap();
        let rare = scimgate::store::search::plan(&mut c, &words("user11"))
            .await
            .unwrap();
        if sqlite {
            assert!(
                matches!(planned, Some(Cond::Words { many: true, .. })),
                "{name}: a word every user has is planned as many: {planned:?}"
            );
        } else {
            assert_eq!(planned, None, "{name}: PostgreSQL keeps its plan");
        }
        assert_eq!(rare, None, "{name}: a rare word keeps its plan");
        drop(c);

        let page = |cond: Cond, after: Option<String>| {
            let store = &db.store;
            let org_id = org.id.clone();
            async move {
                let (total, rows) = store
                    .page_users(
                        &org_id,
                        &ListQuery {
                            cond,
                            limit: 100,
                            after,
                            ..ListQuery::default()
                        },
                    )
                    .await
                    .unwrap();
                (total, rows.into_iter().map(|u| u.id).collect::<Vec<_>>())
            }
        };
        let (total, first) = page(words("example"), None).await;
        assert_eq!(total as u64, n, "{name}: every user of the org, no other's");
        assert_eq!(first, ids[..100], "{name}: the first page, in id order");
        let (total, second) = page(words("EXAMPLE acme"), Some(first[99].clone())).await;
        assert_eq!(total as u64, n, "{name}: two words, both everyone's");
        assert_eq!(
            second,
            ids[100..200],
            "{name}: the next page after the keyset"
        );
        let (total, last) = page(words("example"), Some(ids[n as usize - 30].clone())).await;
        assert_eq!(total as u64, n, "{name}");
        assert_eq!(last, ids[n as usize - 29..], "{name}: the last, short page");

        let deactivated = Cond::And(
            Box::new(words("example")),
            Box::new(Cond::Test(Target::Active, Op::Eq, Val::Bool(false))),
        );
        let (total, rows) = page(deactivated, None).await;
        assert_eq!(
            total as usize,
            off.len(),
            "{name}: beside another condition"
        );
        assert_eq!(rows, off, "{name}");

        let (total, rows) = page(words("renamed example"), None).await;
        assert_eq!((total, rows), (5, ids[..5].to_vec()), "{name}: the renamed");

        let (total, rows) = page(words("user11"), None).await;
        let mut want: Vec<String> = (0..n)
            .map(|i| format!("user{i}@acme.example"))
            .filter(|u| u.starts_with("user11"))
            .collect();
        want.sort();
        let mut c = db.store.read().await.unwrap();
        let mut got = Vec::new();
        for id in &rows {
            let u = users::find_user(&mut c, &org.id, id)
                .await
                .unwrap()
                .unwrap();
            got.push(u.user_name);
        }
        got.sort();
        assert_eq!(got, want, "{name}: a prefix few users have");
        assert_eq!(total as usize, want.len(), "{name}");

        // The user with the newest FTS row deleted, and a user created after it: FTS5 may
        // give the new user's row the deleted one's row id, which must then be the new
        // user's alone. A user without words (its userName has none) is found by none.
        let newest_sql = if sqlite {
            "SELECT id FROM users WHERE org_id = $1 ORDER BY search_rowid DESC LIMIT 1"
        } else {
            "SELECT id FROM users WHERE org_id = $1 ORDER BY id DESC LIMIT 1"
        };
        let newest: String = sqlx::query_scalar(newest_sql)
            .bind(&org.id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
        let fts_row = "SELECT search_rowid FROM users WHERE id = $1";
        let freed: Option<i64> = if sqlite {
            sqlx::query_scalar(fts_row)
                .bind(&newest)
                .fetch_one(&mut *c)
                .await
                .unwrap()
        } else {
            None
        };
        users::delete_user(&mut c, &org.id, &newest).await.unwrap();
        let late = user(&org.id, "late@acme.example", json!({}));
        users::insert_user(&mut c, &late).await.unwrap();
        if sqlite {
            let reused: Option<i64> = sqlx::query_scalar(fts_row)
                .bind(&late.id)
                .fetch_one(&mut *c)
                .await
                .unwrap();
            assert_eq!(
                reused, freed,
                "{name}: the case this covers: a row id given again"
            );
        }
        users::insert_user(&mut c, &user(&org.id, "+++", json!({})))
            .await
            .unwrap();
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM users WHERE org_id = $1 AND user_name <> '+++' ORDER BY id",
        )
        .bind(&org.id)
        .fetch_all(&mut *c)
        .await
        .unwrap();
        drop(c);
        assert!(!ids.contains(&newest) && ids.contains(&late.id));
        let (total, first) = page(words("example"), None).await;
        assert_eq!(
            total as u64, n,
            "{name}: one deleted, one created, one without words"
        );
        assert_eq!(first, ids[..100], "{name}");
        let (_, last) = page(words("example"), Some(ids[n as usize - 60].clone())).await;
        assert_eq!(
            last,
            ids[n as usize - 59..],
            "{name}: the created user, not the deleted"
        );

        // Words cleared on a row whose FTS row stays (as a migration might): the backfill
        // replaces that row instead of adding a second one.
        let mut c = db.store.read().await.unwrap();
        sqlx::query("UPDATE users SET search_words = NULL WHERE id = $1")
            .bind(&ids[7])
            .execute(&mut *c)
            .await
            .unwrap();
        drop(c);
        assert_eq!(
            scimgate::store::search::backfill(&db.store).await.unwrap(),
            1
        );
        if sqlite {
            let rows: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM user_search WHERE user_id = $1")
                    .bind(&ids[7])
                    .fetch_one(&mut *db.store.read().await.unwrap())
                    .await
                    .unwrap();
            assert_eq!(rows, 1, "{name}: one FTS row per user");
        }
        let (total, first) = page(words("example"), None).await;
        assert_eq!((total as u64, first), (n, ids[..100].to_vec()), "{name}");
        db.finish().await;
    }
}

/// The console's people search: any word of userName, displayName, name or emails, by
/// prefix, every word of the query; kept in step with updates and deletes; per org.
#[tokio::test]
async fn people_search_finds_any_word_and_follows_changes() {
    for b in backends() {
        let db = TestDb::new(&b).await;
        let name = db.store.backend().name();
        let mut c = db.store.read().await.unwrap();
        let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
        let other = orgs::create_org(&mut c, "other", "Other").await.unwrap();
        let ada = user(
            &org.id,
            "ada@acme.example",
            json!({"displayName": "Ada Lovelace", "name": {"givenName": "Ada", "familyName": "Lovelace"}, "emails": [{"value": "countess@analytical.test"}]}),
        );
        let bob = user(
            &org.id,
            "bob@acme.example",
            json!({"displayName": "Bob Byron"}),
        );
        users::insert_user(&mut c, &ada).await.unwrap();
        users::insert_user(&mut c, &bob).await.unwrap();
        // Another org's Lovelace is never found from acme.
        users::insert_user(
            &mut c,
            &user(
                &other.id,
                "ada@other.example",
                json!({"displayName": "Ada Lovelace"}),
            ),
        )
        .await
        .unwrap();
        drop(c);
        let find = |q: &'static str| people_found(&db.store, &org.id, q);
        assert_eq!(
            find("lovelace").await,
            ["ada@acme.example"],
            "{name}: a last name"
        );
        assert_eq!(
            find("LOVE").await,
            ["ada@acme.example"],
            "{name}: a prefix, any case"
        );
        assert_eq!(
            find("analytical").await,
            ["ada@acme.example"],
            "{name}: part of a secondary email"
        );
        assert_eq!(
            find("acme").await,
            ["ada@acme.example", "bob@acme.example"],
            "{name}: a domain"
        );
        assert_eq!(
            find("ada acme").await,
            ["ada@acme.example"],
            "{name}: every word must match"
        );
        assert!(find("ada byron").await.is_empty(), "{name}");
        assert!(find("zzz").await.is_empty(), "{name}");

        // A rename moves the words; a delete removes them.
        let mut c = db.store.read().await.unwrap();
        let mut renamed = bob.clone();
        renamed
            .attributes
            .insert("displayName".into(), json!("Robert Shelley"));
        renamed.display_name = Some("Robert Shelley".into());
        users::update_user(&mut c, &renamed, 1, Some(&bob))
            .await
            .unwrap();
        drop(c);
        assert!(
            find("byron").await.is_empty(),
            "{name}: the old name is gone"
        );
        assert_eq!(find("shelley").await, ["bob@acme.example"], "{name}");
        // Without the earlier record (the console's path), from the words stored on the row.
        let mut c = db.store.read().await.unwrap();
        let mut again = renamed.clone();
        again
            .attributes
            .insert("displayName".into(), json!("Percy"));
        again.display_name = Some("Percy".into());
        users::update_user(&mut c, &again, 2, None).await.unwrap();
        drop(c);
        assert!(find("shelley").await.is_empty(), "{name}");
        assert_eq!(find("percy").await, ["bob@acme.example"], "{name}");
        let mut c = db.store.read().await.unwrap();
        if db.store.backend() == scimgate::store::Backend::Sqlite {
            // VACUUM may renumber implicit rowids: the FTS row kept on the user must still
            // be the user's.
            sqlx::query("VACUUM").execute(&mut *c).await.unwrap();
        }
        users::delete_user(&mut c, &org.id, &ada.id).await.unwrap();
        let words_left = match db.store.backend() {
            scimgate::store::Backend::Sqlite => {
                "SELECT COUNT(*) FROM user_search WHERE user_id = $1"
            }
            scimgate::store::Backend::Postgres => {
                "SELECT COUNT(*) FROM user_words WHERE user_id = $1"
            }
        };
        let left: i64 = sqlx::query_scalar(words_left)
            .bind(&ada.id)
            .fetch_one(&mut *c)
            .await
            .unwrap();
        drop(c);
        assert_eq!(left, 0, "{name}: a deleted user leaves no words behind");
        assert!(find("lovelace").await.is_empty(), "{name}");
        assert_eq!(
            find("percy").await,
            ["bob@acme.example"],
            "{name}: the other users keep theirs"
        );
    }
}

/// PostgreSQL breaking a deadlock is a `Busy` error (a 503 with `Retry-After` on the SCIM
/// API: the same request may well succeed again), not a database failure (a 500).
#[tokio::test]
async fn a_deadlock_postgres_breaks_is_busy() {
    use sqlx::{Connection, Executor};
    if common::postgres_url().is_none() {
        return;
    }
    let db = TestDb::new(&scimgate::store::Backend::Postgres).await;
    sqlx::any::install_default_drivers();
    let mut a = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    let mut b = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    a.execute("CREATE TABLE busy_probe (id INT PRIMARY KEY, n INT); INSERT INTO busy_probe VALUES (1, 0), (2, 0)")
        .await
        .unwrap();
    a.execute("BEGIN; UPDATE busy_probe SET n = 1 WHERE id = 1")
        .await
        .unwrap();
    b.execute("BEGIN; UPDATE busy_probe SET n = 1 WHERE id = 2")
        .await
        .unwrap();
    let (ra, rb) = tokio::join!(
        a.execute("UPDATE busy_probe SET n = 2 WHERE id = 2"),
        b.execute("UPDATE busy_probe SET n = 2 WHERE id = 1"),
    );
    let lost = match (ra, rb) {
        (Err(e), Ok(_)) | (Ok(_), Err(e)) => e,
        other => panic!("expected exactly one side to lose: {other:?}"),
    };
    let e = StoreError::from(lost);
    assert!(matches!(e, StoreError::Busy(_)), "{e:?}");
    let _ = a.execute("ROLLBACK").await;
    let _ = b.execute("ROLLBACK").await;
    drop((a, b));
    db.finish().await;
}

/// `Store::find_user` and a first page of `userName eq` / `id eq` read one user by a unique
/// key; on SQLite they run on the calling thread, outside sqlx (see `store::point_reads`).
/// Either way they must answer exactly what the general paths do: the same user, case
/// folded, within its org only, and a change committed through the write connection is
/// seen at once.
#[tokio::test]
async fn point_reads_answer_what_the_general_paths_do() {
    for b in backends() {
        let name = b.name();
        let db = TestDb::new(&b).await;
        let (org, other) = {
            let mut c = db.store.read().await.unwrap();
            let org = orgs::create_org(&mut c, "acme", "Acme").await.unwrap();
            let other = orgs::create_org(&mut c, "other", "Other").await.unwrap();
            (org, other)
        };
        let u = user(
            &org.id,
            "Zoë@Example.com",
            json!({"displayName": "Zoë", "emails": [{"value": "z@example.com"}]}),
        );
        let mut tx = db.store.begin_org(&org.id).await.unwrap();
        users::insert_user(&mut tx, &u).await.unwrap();
        tx.commit().await.unwrap();

        let mut c = db.store.read().await.unwrap();
        let general = users::find_user(&mut c, &org.id, &u.id).await.unwrap();
        drop(c);
        assert_eq!(general.as_ref(), Some(&u), "{name}");
        assert_eq!(
            db.store.find_user(&org.id, &u.id).await.unwrap(),
            general,
            "{name}"
        );
        assert_eq!(
            db.store.find_user(&other.id, &u.id).await.unwrap(),
            None,
            "{name}: orgs are isolated"
        );
        assert_eq!(
            db.store.find_user(&org.id, "no-such-id").await.unwrap(),
            None,
            "{name}"
        );

        let served = db.store.point_reads_served();
        let lookup = |f: &str| {
            let cond = to_cond(ResourceKind::User, &parse_filter(f).unwrap()).unwrap();
            ListQuery {
                cond,
                limit: 100,
                ..ListQuery::default()
            }
        };
        let (n, page) = db
            .store
            .page_users(&org.id, &lookup("userName eq \"ZOË@example.COM\""))
            .await
            .unwrap();
        assert_eq!(
            (n, page),
            (1, vec![u.clone()]),
            "{name}: userName is case-insensitive"
        );
        let (n, page) = db
            .store
            .page_users(&other.id, &lookup("userName eq \"zoë@example.com\""))
            .await
            .unwrap();
        assert_eq!((n, page.len()), (0, 0), "{name}: orgs are isolated");
        let (n, page) = db
            .store
            .page_users(&org.id, &lookup(&format!("id eq \"{}\"", u.id)))
            .await
            .unwrap();
        assert_eq!((n, page), (1, vec![u.clone()]), "{name}");
        let count_only = ListQuery {
            limit: 0,
            ..lookup("userName eq \"zoë@example.com\"")
        };
        assert_eq!(
            db.store.page_users(&org.id, &count_only).await.unwrap(),
            (1, vec![]),
            "{name}: count=0 still counts"
        );

        // A committed change is seen by the next read.
        let mut changed = u.clone();
        changed
            .attributes
            .insert("userName".into(), json!("zoe@example.com"));
        let cols = scimgate::directory::UserColumns::from_attributes(&changed.attributes);
        changed.user_name = cols.user_name;
        let mut tx = db.store.begin_org(&org.id).await.unwrap();
        users::update_user(&mut tx, &changed, u.version, Some(&u))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (n, _) = db
            .store
            .page_users(&org.id, &lookup("userName eq \"zoë@example.com\""))
            .await
            .unwrap();
        assert_eq!(n, 0, "{name}: the old userName is gone");
        let (n, page) = db
            .store
            .page_users(&org.id, &lookup("userName eq \"ZOE@example.com\""))
            .await
            .unwrap();
        assert_eq!(n, 1, "{name}");
        assert_eq!(page[0].user_name, "zoe@example.com", "{name}");
        assert_eq!(
            db.store
                .find_user(&org.id, &u.id)
                .await
                .unwrap()
                .map(|x| x.user_name),
            Some("zoe@example.com".to_string()),
            "{name}"
        );
        // Not a fallback in disguise: on SQLite these were answered outside sqlx.
        let outside = db.store.point_reads_served() - served;
        match b {
            scimgate::store::Backend::Sqlite => assert_eq!(outside, 6, "{name}"),
            scimgate::store::Backend::Postgres => assert_eq!(outside, 0, "{name}"),
        }
        db.finish().await;
    }
}

/// SQLite checkpoints its WAL on a connection of its own (see `store::wal`), not inside the
/// write connection's COMMITs, whose automatic checkpoint is only a backstop far above what
/// this test writes. Once a complete checkpoint covers the last commit, the database file
/// alone, copied without its WAL, holds every committed user; and the store's close ends
/// the task, whose connection was the last to hold the file open besides the copy's.
#[tokio::test]
async fn sqlite_checkpoints_the_wal_off_the_write_connection() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wal.db");
    let store = scimgate::store::Store::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    let org = {
        let mut c = store.read().await.unwrap();
        orgs::create_org(&mut c, "acme", "Acme").await.unwrap()
    };
    for i in 0..50 {
        let u = user(&org.id, &format!("u{i}@example.com"), json!({}));
        let mut tx = store.begin_org(&org.id).await.unwrap();
        users::insert_user(&mut tx, &u).await.unwrap();
        tx.commit().await.unwrap();
    }
    // Every group committed so far, including the last user's.
    let commits = store.wal_checkpoints().commits;
    assert!(commits > 0, "the writes went through the write connection");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while store.wal_checkpoints().covered_commits < commits {
        assert!(
            std::time::Instant::now() < deadline,
            "no complete checkpoint within 10 s of the last commit: {:?}",
            store.wal_checkpoints()
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let counts = store.wal_checkpoints();
    assert!(counts.complete > 0 && counts.frames > 0, "{counts:?}");

    let copy = dir.path().join("copy.db");
    std::fs::copy(&path, &copy).unwrap();
    assert!(!dir.path().join("copy.db-wal").exists());
    let c = rusqlite::Connection::open(&copy).unwrap();
    let n: i64 = c
        .query_row(
            "SELECT count(*) FROM users WHERE org_id = ?1",
            [&org.id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(n, 50, "the database file holds every committed user");
    drop(c);
    let closing = std::time::Instant::now();
    store.close().await;
    assert!(closing.elapsed() < std::time::Duration::from_secs(5));
    // The last connection to close checkpoints and removes the WAL: only if the
    // checkpointer's connection was closed too.
    assert!(
        !dir.path().join("wal.db-wal").exists(),
        "a connection to the database is still open after the store's close"
    );
}
