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
    let resp = app
        .app
        .clone()
        .oneshot(b.body(Body::from(body)).unwrap())
        .await
        .unwrap();
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
        assert!(!cookie.contains("Secure"), "plain http in tests");
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
