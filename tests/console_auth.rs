//! Console sign-in over real HTTP: one generic failure, throttling after repeated failures,
//! session cookie flags and rotation, sign-out ending the session server-side, and the
//! cross-origin refusal.

mod common;

use axum::body::Body;
use axum::http::{header, Request};
use common::{backends, enc, TestApp};
use leptos::server_fn::ServerFn;
use scimgate::console::api::{Dashboard, SignIn, SignOut, SIGN_IN_FAILED};
use tower::ServiceExt;

async fn call(
    app: &TestApp,
    path: &str,
    body: String,
    cookie: Option<&str>,
    origin: Option<&str>,
) -> (u16, Option<String>, String) {
    call_from(app, path, body, cookie, origin, None).await
}

/// A console request from the client address `from` (as the socket would report it).
async fn call_from(
    app: &TestApp,
    path: &str,
    body: String,
    cookie: Option<&str>,
    origin: Option<&str>,
    from: Option<&str>,
) -> (u16, Option<String>, String) {
    let mut b = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "console.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    if let Some(o) = origin {
        b = b.header(header::ORIGIN, o);
    }
    let mut req = b.body(Body::from(body)).unwrap();
    if let Some(ip) = from {
        let addr: std::net::SocketAddr = format!("{ip}:40000").parse().unwrap();
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(addr));
    }
    let resp = app.app.clone().oneshot(req).await.unwrap();
    let status = resp.status().as_u16();
    let set_cookie = resp
        .headers()
        .get(header::SET_COOKIE)
        .map(|v| v.to_str().unwrap().to_string());
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    (
        status,
        set_cookie,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn form(email: &str, password: &str) -> String {
    format!("email={}&password={}", enc(email), enc(password))
}

#[tokio::test]
async fn sign_in_sessions_and_throttling() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        scimgate::management::create_admin(
            &app.db.store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();

        // Wrong password and unknown account: the same answer.
        let (s1, c1, b1) = call(
            &app,
            SignIn::PATH,
            form("ops@acme.test", "wrong password!!"),
            None,
            None,
        )
        .await;
        let (s2, _, b2) = call(
            &app,
            SignIn::PATH,
            form("ghost@acme.test", "wrong password!!"),
            None,
            None,
        )
        .await;
        assert_eq!((s1, s2), (401, 401));
        assert!(
            b1.contains(SIGN_IN_FAILED) && b2.contains(SIGN_IN_FAILED),
            "{b1} / {b2}"
        );
        assert!(c1.is_none(), "no session for a failed sign-in");

        // A good sign-in: HttpOnly, SameSite=Lax session cookie; the dashboard answers.
        let (s, cookie, _) = call(
            &app,
            SignIn::PATH,
            form("OPS@acme.test", "a long enough password"),
            None,
            None,
        )
        .await;
        assert!(s < 400, "{s}");
        let cookie = cookie.expect("session cookie");
        assert!(cookie.starts_with("scimgate_session="), "{cookie}");
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "{cookie}"
        );
        // Secure by default: browsers keep it on https and on http://localhost.
        assert!(cookie.contains("Secure"), "{cookie}");
        let session = cookie.split(';').next().unwrap().to_string();
        let (s, _, body) = call(
            &app,
            Dashboard::PATH,
            "org=acme".into(),
            Some(&session),
            None,
        )
        .await;
        assert_eq!(s, 200, "{body}");
        assert!(body.contains("/scim/v2/acme"));
        // Another org's dashboard is not found for this admin.
        scimgate::management::create_org(&app.db.store, "beta", None)
            .await
            .unwrap();
        let (s, _, _) = call(
            &app,
            Dashboard::PATH,
            "org=beta".into(),
            Some(&session),
            None,
        )
        .await;
        assert_eq!(s, 404);
        // A state-changing request from another origin is refused.
        let (s, _, _) = call(
            &app,
            Dashboard::PATH,
            "org=acme".into(),
            Some(&session),
            Some("https://evil.example"),
        )
        .await;
        assert_eq!(s, 403);
        let (s, _, _) = call(
            &app,
            Dashboard::PATH,
            "org=acme".into(),
            Some(&session),
            Some("http://console.test"),
        )
        .await;
        assert_eq!(s, 200);
        // Sign out ends the session on the server: the old cookie no longer works.
        let (s, _, _) = call(&app, SignOut::PATH, String::new(), Some(&session), None).await;
        assert!(s < 400);
        let (s, _, _) = call(
            &app,
            Dashboard::PATH,
            "org=acme".into(),
            Some(&session),
            None,
        )
        .await;
        assert_eq!(s, 401);

        // Five failures for an account slow it down: even the right password is refused now.
        for _ in 0..5 {
            let (s, _, _) = call(
                &app,
                SignIn::PATH,
                form("ops@acme.test", "guess guess guess"),
                None,
                None,
            )
            .await;
            assert_eq!(s, 401);
        }
        let (s, cookie, body) = call(
            &app,
            SignIn::PATH,
            form("ops@acme.test", "a long enough password"),
            None,
            None,
        )
        .await;
        assert_eq!(s, 401, "throttled");
        assert!(cookie.is_none() && body.contains(SIGN_IN_FAILED));
        app.finish().await;
    }
}

#[tokio::test]
async fn throttling_is_per_address_and_counted_before_verifying() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        scimgate::management::create_admin(
            &app.db.store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        // A stranger fails with the admin's email, many times, from one address...
        for _ in 0..8 {
            let (s, _, _) = call_from(
                &app,
                SignIn::PATH,
                form("ops@acme.test", "guess guess guess"),
                None,
                None,
                Some("203.0.113.66"),
            )
            .await;
            assert_eq!(s, 401);
        }
        let (s, _, _) = call_from(
            &app,
            SignIn::PATH,
            form("ops@acme.test", "a long enough password"),
            None,
            None,
            Some("203.0.113.66"),
        )
        .await;
        assert_eq!(
            s, 401,
            "that address is slowed down, even with the right password"
        );
        // ...and the admin, elsewhere, still signs in.
        let (s, cookie, body) = call_from(
            &app,
            SignIn::PATH,
            form("ops@acme.test", "a long enough password"),
            None,
            None,
            Some("198.51.100.20"),
        )
        .await;
        assert!(s < 400 && cookie.is_some(), "{s} {body}");

        // 40 parallel guesses from one address: the attempt is counted before the password
        // is verified, so only the free attempts (and at most one more) are verified; the
        // rest are refused without spending argon2 time.
        let mut tasks = Vec::new();
        for _ in 0..40 {
            let fut = call_from(
                &app,
                SignIn::PATH,
                form("ops@acme.test", "parallel guess!!"),
                None,
                None,
                Some("192.0.2.99"),
            );
            tasks.push(fut);
        }
        let results = futures::future::join_all(tasks).await;
        assert!(results.iter().all(|(s, _, _)| *s == 401));
        let mut c = app.db.store.read().await.unwrap();
        let (verified, _) = scimgate::store::admins::login_failures(&mut c, "ip:192.0.2.99")
            .await
            .unwrap();
        assert!(
            (5..=6).contains(&verified),
            "{verified} attempts reached argon2"
        );
        drop(c);
        app.finish().await;
    }
}

#[tokio::test]
async fn console_responses_carry_security_headers() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let resp = app
            .app
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/sign-in")
                    .header("host", "console.test")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(resp.status(), 200);
        let h = resp.headers().clone();
        let csp = h[header::CONTENT_SECURITY_POLICY]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(csp.contains("'wasm-unsafe-eval'"), "{csp}");
        assert!(
            !csp.contains("unsafe-inline'; script")
                && !csp.contains("script-src 'self' 'unsafe-inline'")
        );
        assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
        assert_eq!(h[header::CACHE_CONTROL], "no-store");
        assert!(
            !h.contains_key(header::STRICT_TRANSPORT_SECURITY),
            "plain http"
        );
        // The page's inline scripts carry the nonce the policy names, and only that one.
        let nonce = csp
            .split("'nonce-")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .expect("a nonce in the policy")
            .to_string();
        let bytes = http_body_util::BodyExt::collect(resp.into_body())
            .await
            .unwrap()
            .to_bytes();
        let html = String::from_utf8_lossy(&bytes);
        let inline_scripts = html.matches("<script").count();
        assert!(inline_scripts > 0);
        assert_eq!(
            html.matches(&format!("nonce=\"{nonce}\"")).count(),
            inline_scripts,
            "every script has this render's nonce"
        );
        // Another render, another nonce.
        let again = app
            .app
            .clone()
            .oneshot(
                Request::builder()
                    .uri("/sign-in")
                    .header("host", "console.test")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_ne!(
            again.headers()[header::CONTENT_SECURITY_POLICY],
            csp.as_str()
        );
        // A streamed page holds the app's state until its body is dropped.
        drop(again);

        // Server functions answer through the same layers.
        let (s, _, _) = call(&app, SignIn::PATH, form("a@b.test", "x"), None, None).await;
        assert_eq!(s, 401);
        // (Oversized bodies, declared and chunked, are checked over TCP in hostile_binary.rs.)
        // The SCIM API is not framed by a console policy but is still nosniff.
        let (_, h, _) = app
            .request("GET", "/scim/v2/acme/Users", Some(&app.token), None, &[])
            .await;
        assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert!(!h.contains_key(header::CONTENT_SECURITY_POLICY));
        app.finish().await;
    }
}

#[tokio::test]
async fn first_run_is_refused_once_set_up() {
    for b in backends() {
        let app = TestApp::new(&b).await;
        let body = format!(
            "org_login=other&org_name=Other&email={}&password={}",
            enc("new@other.test"),
            enc("a long enough password")
        );
        let (s, cookie, _) = call(
            &app,
            scimgate::console::api::FirstRun::PATH,
            body,
            None,
            None,
        )
        .await;
        assert_eq!(s, 409);
        assert!(cookie.is_none());
        let mut c = app.db.store.read().await.unwrap();
        assert!(scimgate::store::orgs::find_org_by_login(&mut c, "other")
            .await
            .unwrap()
            .is_none());
        drop(c);
        app.finish().await;
    }
}

async fn is_member(store: &scimgate::store::Store, email: &str, org: &str) -> bool {
    let mut c = store.read().await.unwrap();
    let Some((a, _)) = scimgate::store::admins::find_admin_credentials(&mut c, email)
        .await
        .unwrap()
    else {
        return false;
    };
    scimgate::store::admins::list_admin_orgs(&mut c, &a.id)
        .await
        .unwrap()
        .iter()
        .any(|o| o.login == org)
}

async fn audit_actions(store: &scimgate::store::Store, org_id: String) -> Vec<String> {
    let mut c = store.read().await.unwrap();
    scimgate::store::audit::list(&mut c, &org_id, None, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect()
}

async fn sign_in_as(app: &TestApp, email: &str, password: &str) -> String {
    let (s, cookie, body) = call(app, SignIn::PATH, form(email, password), None, None).await;
    assert!(s < 400, "{s} {body}");
    cookie.unwrap().split(';').next().unwrap().to_string()
}

#[tokio::test]
async fn admins_are_invited_never_pulled_across_orgs() {
    use scimgate::console::api::{AnswerInvitation, InviteAdmin, JoinOrg, PendingInvitations};
    for b in backends() {
        let app = TestApp::new(&b).await;
        let store = &app.db.store;
        scimgate::management::create_admin(
            store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        let beta = scimgate::management::create_org(store, "beta", None)
            .await
            .unwrap();
        scimgate::management::create_admin(
            store,
            "beta",
            "b@beta.test",
            "beta's own password".into(),
        )
        .await
        .unwrap();
        let ops = sign_in_as(&app, "ops@acme.test", "a long enough password").await;

        // An existing account and a new email get answers of the same shape.
        let invite = |email: &str| format!("org=acme&email={}", enc(email));
        let (s1, _, existing) = call(
            &app,
            InviteAdmin::PATH,
            invite("b@beta.test"),
            Some(&ops),
            None,
        )
        .await;
        let (s2, _, fresh) = call(
            &app,
            InviteAdmin::PATH,
            invite("new@else.test"),
            Some(&ops),
            None,
        )
        .await;
        assert_eq!((s1, s2), (200, 200), "{existing} {fresh}");
        let existing: serde_json::Value = serde_json::from_str(&existing).unwrap();
        let fresh: serde_json::Value = serde_json::from_str(&fresh).unwrap();
        let keys =
            |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
        assert_eq!(keys(&existing), keys(&fresh));
        assert_eq!(
            existing["code"].as_str().unwrap().len(),
            fresh["code"].as_str().unwrap().len()
        );

        assert!(
            !is_member(store, "b@beta.test", "acme").await,
            "not added without consent"
        );
        assert!(audit_actions(store, beta.id.clone())
            .await
            .contains(&"admin invited to another organization".to_string()));
        assert_eq!(
            audit_actions(store, app.org.id.clone())
                .await
                .iter()
                .filter(|a| *a == "admin invited")
                .count(),
            2
        );

        // The invited admin sees it at the next sign-in and accepts.
        let b_session = sign_in_as(&app, "b@beta.test", "beta's own password").await;
        let (s, _, pending) = call(
            &app,
            PendingInvitations::PATH,
            String::new(),
            Some(&b_session),
            None,
        )
        .await;
        assert_eq!(s, 200);
        let pending: serde_json::Value = serde_json::from_str(&pending).unwrap();
        assert_eq!(pending.as_array().unwrap().len(), 1);
        assert_eq!(pending[0]["org"]["login"], "acme");
        let id = pending[0]["id"].as_str().unwrap().to_string();
        let beta_code = existing["code"].as_str().unwrap();
        // Another admin cannot answer it, even with the code.
        let (s, _, _) = call(
            &app,
            AnswerInvitation::PATH,
            format!("id={id}&accept=true&code={}", enc(beta_code)),
            Some(&ops),
            None,
        )
        .await;
        assert!(s == 403 || s == 404, "{s}");
        // The invited account itself cannot accept without the code: emails are not
        // verified, so an account made for someone else's address must not collect the
        // invitations that address receives.
        let (s, _, _) = call(
            &app,
            AnswerInvitation::PATH,
            format!("id={id}&accept=true"),
            Some(&b_session),
            None,
        )
        .await;
        assert_eq!(s, 403);
        let (s, _, _) = call(
            &app,
            AnswerInvitation::PATH,
            format!(
                "id={id}&accept=true&code={}",
                enc(fresh["code"].as_str().unwrap())
            ),
            Some(&b_session),
            None,
        )
        .await;
        assert_eq!(s, 403, "another invitation's code");
        assert!(!is_member(store, "b@beta.test", "acme").await);
        let (s, _, body) = call(
            &app,
            AnswerInvitation::PATH,
            format!("id={id}&accept=true&code={}", enc(beta_code)),
            Some(&b_session),
            None,
        )
        .await;
        assert!(s < 400, "{s} {body}");
        assert!(is_member(store, "b@beta.test", "acme").await);
        assert!(audit_actions(store, app.org.id.clone())
            .await
            .contains(&"admin joined".to_string()));
        assert!(audit_actions(store, beta.id.clone())
            .await
            .contains(&"admin joined another organization".to_string()));

        // A new person joins with the code and a new password; a wrong code or a replay fails.
        let code = fresh["code"].as_str().unwrap();
        let join = |code: &str| {
            format!(
                "email={}&code={}&password={}",
                enc("new@else.test"),
                enc(code),
                enc("brand new password")
            )
        };
        let (s, _, _) = call(&app, JoinOrg::PATH, join("not-the-code"), None, None).await;
        assert_eq!(s, 401);
        assert!(!is_member(store, "new@else.test", "acme").await);
        let (s, cookie, body) = call(&app, JoinOrg::PATH, join(code), None, None).await;
        assert!(s < 400 && cookie.is_some(), "{s} {body}");
        assert!(is_member(store, "new@else.test", "acme").await);
        let (s, _, _) = call(&app, JoinOrg::PATH, join(code), None, None).await;
        assert_eq!(s, 401, "a code works once");
        app.finish().await;
    }
}

#[tokio::test]
async fn under_https_the_cookie_is_host_prefixed_and_hsts_is_sent() {
    for b in backends() {
        let app = TestApp::with_args(
            &b,
            scimgate::config::ServeArgs {
                site_root: "target/site".into(),
                public_url: Some("https://scim.example.com".into()),
                ..Default::default()
            },
        )
        .await;
        scimgate::management::create_admin(
            &app.db.store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        let resp = app
            .app
            .clone()
            .oneshot(
                Request::builder()
                    .method("POST")
                    .uri(SignIn::PATH)
                    .header("host", "scim.example.com")
                    .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                    .header(header::ACCEPT, "application/json")
                    .body(Body::from(form("ops@acme.test", "a long enough password")))
                    .unwrap(),
            )
            .await
            .unwrap();
        let cookie = resp.headers()[header::SET_COOKIE]
            .to_str()
            .unwrap()
            .to_string();
        assert!(cookie.starts_with("__Host-scimgate_session="), "{cookie}");
        assert!(
            cookie.contains("Secure") && cookie.contains("Path=/"),
            "{cookie}"
        );
        assert!(!cookie.contains("Domain"), "{cookie}");
        assert!(resp.headers()[header::STRICT_TRANSPORT_SECURITY]
            .to_str()
            .unwrap()
            .starts_with("max-age="));
        drop(resp);
        // And a SCIM Location under the public URL, whatever the Host header says.
        let (s, h, _) = app
            .request(
                "POST",
                "/scim/v2/acme/Users",
                Some(&app.token),
                Some(serde_json::json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "p@x.test"})),
                &[("host", "evil.example")],
            )
            .await;
        assert_eq!(s, 201);
        assert!(h["location"]
            .to_str()
            .unwrap()
            .starts_with("https://scim.example.com/scim/v2/acme/Users/"));
        app.finish().await;
    }
}

#[tokio::test]
async fn strangers_do_not_trigger_the_dead_token_warning_but_a_revoked_token_does() {
    use scimgate::console::api::Dashboard;
    for b in backends() {
        let app = TestApp::new(&b).await;
        scimgate::management::create_admin(
            &app.db.store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        let session = sign_in_as(&app, "ops@acme.test", "a long enough password").await;
        let (s, _) = app.scim("GET", "/Users", None).await;
        assert_eq!(s, 200);
        let okta = [("user-agent", "Okta SCIM Client 1.0.0")];
        let warning = || async {
            app.flush_log().await;
            let (s, _, body) = call(
                &app,
                Dashboard::PATH,
                "org=acme".into(),
                Some(&session),
                None,
            )
            .await;
            assert_eq!(s, 200, "{body}");
            serde_json::from_str::<serde_json::Value>(&body).unwrap()["warning"].clone()
        };
        // A stranger claiming to be Okta, with a token nobody issued.
        for _ in 0..5 {
            let (s, _, _) = app
                .request(
                    "GET",
                    "/scim/v2/acme/Users",
                    Some("scimgate_forged"),
                    None,
                    &okta,
                )
                .await;
            assert_eq!(s, 401);
        }
        assert!(
            warning().await.is_null(),
            "no warning from a stranger's 401s"
        );
        // The org's own token, revoked, still used by Okta.
        let old =
            scimgate::management::create_token(&app.db.store, &app.org, "Okta old", None, None)
                .await
                .unwrap();
        let mut tx = app.db.store.begin().await.unwrap();
        scimgate::store::tokens::revoke_token(&mut tx, &app.org.id, &old.token.id)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let (s, _, _) = app
            .request("GET", "/scim/v2/acme/Users", Some(&old.secret), None, &okta)
            .await;
        assert_eq!(s, 401);
        let w = warning().await;
        assert!(
            w.as_str()
                .is_some_and(|w| w.contains("401") && w.contains("Okta old")),
            "{w}"
        );
        // The admin pastes a current token and Okta only reads (an import): the reads are
        // counted per minute, not listed, and still clear the warning.
        tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        let (s, _, _) = app
            .request("GET", "/scim/v2/acme/Users", Some(&app.token), None, &okta)
            .await;
        assert_eq!(s, 200);
        let w = warning().await;
        assert!(w.is_null(), "the warning outlived the recovery: {w}");
        app.finish().await;
    }
}

#[tokio::test]
async fn console_mistakes_and_repeated_invitations() {
    use scimgate::console::api::{InviteAdmin, JoinOrg};
    for b in backends() {
        let app = TestApp::new(&b).await;
        let store = &app.db.store;
        scimgate::management::create_admin(
            store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        let beta = scimgate::management::create_org(store, "beta", None)
            .await
            .unwrap();
        scimgate::management::create_admin(
            store,
            "beta",
            "b@beta.test",
            "beta's own password".into(),
        )
        .await
        .unwrap();
        // Arguments that do not decode are the client's mistake: 400, not 500.
        let (s, _, _) = call(&app, SignIn::PATH, String::new(), None, None).await;
        assert_eq!(s, 400);
        // Admins sharing an address do not throttle each other by signing in.
        for _ in 0..8 {
            let (s, _, _) = call_from(
                &app,
                SignIn::PATH,
                form("ops@acme.test", "a long enough password"),
                None,
                None,
                Some("198.51.100.7"),
            )
            .await;
            assert!(s < 400, "{s}");
        }
        let ops = sign_in_as(&app, "ops@acme.test", "a long enough password").await;
        // Inviting the same person again replaces the invitation and tells the other org
        // nothing new.
        for _ in 0..5 {
            let (s, _, _) = call(
                &app,
                InviteAdmin::PATH,
                format!("org=acme&email={}", enc("b@beta.test")),
                Some(&ops),
                None,
            )
            .await;
            assert_eq!(s, 200);
        }
        let beta_trail = audit_actions(store, beta.id.clone()).await;
        assert_eq!(
            beta_trail
                .iter()
                .filter(|a| a.contains("another organization"))
                .count(),
            1,
            "{beta_trail:?}"
        );
        let mut c = store.read().await.unwrap();
        let pending = scimgate::store::invitations::pending_for_email(
            &mut c,
            "b@beta.test",
            scimgate::directory::now_ms(),
        )
        .await
        .unwrap();
        assert_eq!(pending.len(), 1);
        drop(c);
        // Joining with a short password: the same answer whether or not the email has an
        // account.
        let (s1, _, b1) = call(
            &app,
            JoinOrg::PATH,
            format!("email={}&code=x&password=short", enc("b@beta.test")),
            None,
            None,
        )
        .await;
        let (s2, _, b2) = call(
            &app,
            JoinOrg::PATH,
            format!("email={}&code=x&password=short", enc("nobody@else.test")),
            None,
            None,
        )
        .await;
        assert_eq!((s1, &b1), (s2, &b2));
        app.finish().await;
    }
}
