//! The console as a browser drives it: server functions posted as forms over the real
//! router, with a session cookie. Shared by the console test files.

use super::{Backend, TestApp};
use axum::body::Body;
use axum::http::{header, HeaderMap, Request};
use leptos::server_fn::ServerFn;
use tower::ServiceExt;

/// What a failing assertion calls the backend.
pub fn backend_name(b: &Backend) -> &'static str {
    b.name()
}

/// A form body (server-function arguments are form fields).
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// POSTs `body` (a form) to a server function's `path`, as signed in with `cookie`.
pub async fn post_form(app: &TestApp, path: &str, body: String, cookie: Option<&str>) -> Resp {
    let mut b = Request::builder()
        .method("POST")
        .uri(path)
        .header("host", "console.test")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::ACCEPT, "application/json");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    let resp = app
        .app
        .clone()
        .oneshot(b.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    let bytes = http_body_util::BodyExt::collect(resp.into_body())
        .await
        .unwrap()
        .to_bytes();
    Resp {
        status,
        headers,
        body: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

/// Signs `email` in; the session cookie (`name=value`).
pub async fn sign_in(app: &TestApp, be: &str, email: &str, password: &str) -> String {
    use scimgate::console::api::SignIn;
    let r = post_form(
        app,
        SignIn::PATH,
        form(&[("email", email), ("password", password)]),
        None,
    )
    .await;
    assert!(
        r.status < 400,
        "[{be}] sign in {email}: {} {}",
        r.status,
        r.body
    );
    r.headers
        .get(header::SET_COOKIE)
        .and_then(|c| c.to_str().ok())
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("[{be}] sign in {email}: no session cookie"))
        .to_string()
}

/// One admin of acme, signed in: for files that need a single session.
pub struct Console {
    pub app: TestApp,
    pub be: &'static str,
    pub cookie: String,
}

impl Console {
    /// `email` (with `password`) made an admin of acme and signed in.
    pub async fn new(b: &Backend, email: &str, password: &str) -> Console {
        let app = TestApp::new(b).await;
        scimgate::management::create_admin(&app.db.store, "acme", email, password.into())
            .await
            .expect("admin");
        let be = backend_name(b);
        let cookie = sign_in(&app, be, email, password).await;
        Console { app, be, cookie }
    }

    pub async fn call(&self, path: &str, body: String) -> (u16, HeaderMap, String) {
        let r = post_form(&self.app, path, body, Some(&self.cookie)).await;
        (r.status, r.headers, r.body)
    }

    /// A call that must answer 200; its JSON. `what` names the call in a failure.
    pub async fn ok(&self, path: &str, pairs: &[(&str, &str)], what: &str) -> serde_json::Value {
        let (status, _, body) = self.call(path, form(pairs)).await;
        assert_eq!(status, 200, "[{}] {what}: {body}", self.be);
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("[{}] {what}: {e}: {body}", self.be))
    }
}
