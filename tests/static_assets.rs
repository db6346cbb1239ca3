//! Static files as `.ci/build` lays them out (hashed names in hash.txt, .br and .gz
//! siblings): the page links the hashed names, files are answered precompressed with
//! `Vary: Accept-Encoding`, hashed names are cached for a year, fixed names revalidated and
//! pages not stored. And a plain HTML post to a server function that answers a secret once
//! is refused before it runs.

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use common::{backends, TestApp};
use http_body_util::BodyExt;
use leptos::server_fn::ServerFn;
use scimgate::config::ServeArgs;
use scimgate::console::api::{CreateAppKey, CreateToken, InviteAdmin, SignIn};
use tower::ServiceExt;

const JS: &str = "0123456789abcdef";
const WASM: &str = "fedcba9876543210";
const CSS: &str = "00112233445566ff";

/// A site root like the build's, with made-up hashes and recognisable bytes per encoding.
fn site() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pkg = dir.path().join("pkg");
    std::fs::create_dir(&pkg).unwrap();
    std::fs::write(
        dir.path().join("hash.txt"),
        format!("profile: debug\njs: {JS}\nwasm: {WASM}\ncss: {CSS}\n"),
    )
    .unwrap();
    for (hash, ext) in [(JS, "js"), (WASM, "wasm"), (CSS, "css")] {
        let name = pkg.join(format!("scimgate.{hash}.{ext}"));
        std::fs::write(&name, format!("identity {ext}")).unwrap();
        std::fs::write(format!("{}.br", name.display()), format!("br {ext}")).unwrap();
        std::fs::write(format!("{}.gz", name.display()), format!("gzip {ext}")).unwrap();
    }
    std::fs::write(dir.path().join("favicon.ico"), b"icon").unwrap();
    dir
}

async fn get(
    app: &TestApp,
    path: &str,
    accept_encoding: &str,
) -> (StatusCode, header::HeaderMap, String) {
    let req = Request::get(path)
        .header(header::HOST, "scim.test")
        .header(header::ACCEPT_ENCODING, accept_encoding)
        .body(Body::empty())
        .unwrap();
    let resp = app.app.clone().oneshot(req).await.unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        String::from_utf8_lossy(&bytes).into_owned(),
    )
}

fn hdr(h: &header::HeaderMap, name: header::HeaderName) -> &str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn hashed_files_are_linked_precompressed_and_cached_for_a_year() {
    let site = site();
    let backend = &backends()[0];
    let args = ServeArgs {
        site_root: site.path().to_string_lossy().into_owned(),
        ..ServeArgs::default()
    };
    let app = TestApp::with_args(backend, args).await;

    let (status, h, html) = get(&app, "/sign-in", "br, gzip").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hdr(&h, header::CACHE_CONTROL), "no-store");
    for name in [
        format!("/pkg/scimgate.{JS}.js"),
        format!("/pkg/scimgate.{WASM}.wasm"),
        format!("/pkg/scimgate.{CSS}.css"),
    ] {
        assert!(html.contains(&name), "the page links {name}: {html}");
    }
    assert!(html.contains(r#"rel="icon""#), "a favicon is linked");

    for (hash, ext) in [(JS, "js"), (WASM, "wasm"), (CSS, "css")] {
        let path = format!("/pkg/scimgate.{hash}.{ext}");
        for (accept, encoding, body) in [
            ("br, gzip", Some("br"), format!("br {ext}")),
            ("gzip", Some("gzip"), format!("gzip {ext}")),
            ("identity", None, format!("identity {ext}")),
        ] {
            let (status, h, got) = get(&app, &path, accept).await;
            assert_eq!(status, StatusCode::OK, "{path} {accept}");
            assert_eq!(
                h.get(header::CONTENT_ENCODING)
                    .and_then(|v| v.to_str().ok()),
                encoding,
                "{path} {accept}"
            );
            assert_eq!(got, body, "{path} {accept}");
            assert_eq!(hdr(&h, header::VARY), "accept-encoding", "{path}");
            assert_eq!(
                hdr(&h, header::CACHE_CONTROL),
                "public, max-age=31536000, immutable",
                "{path}"
            );
        }
    }
    let (_, h, _) = get(&app, &format!("/pkg/scimgate.{WASM}.wasm"), "br").await;
    assert_eq!(hdr(&h, header::CONTENT_TYPE), "application/wasm");

    // A fixed name is kept but revalidated; a missing file is a page, not cached.
    let (status, h, _) = get(&app, "/favicon.ico", "br, gzip").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(hdr(&h, header::CACHE_CONTROL), "no-cache");
    let (status, h, _) = get(&app, "/pkg/scimgate.wasm", "br, gzip").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(hdr(&h, header::CACHE_CONTROL), "no-store");
    app.finish().await;
}

#[tokio::test]
async fn a_plain_post_of_a_secret_form_is_refused_before_it_runs() {
    let backend = &backends()[0];
    let app = TestApp::new(backend).await;
    let post = |path: &'static str, accept: &'static str| {
        Request::post(path)
            .header(header::HOST, "scim.test")
            .header(header::ACCEPT, accept)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("org=acme&label=x&email=a%40b.test"))
            .unwrap()
    };
    let html = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8";
    for path in [CreateToken::PATH, CreateAppKey::PATH, InviteAdmin::PATH] {
        let resp = app.app.clone().oneshot(post(path, html)).await.unwrap();
        assert_eq!(resp.status(), StatusCode::CONFLICT, "{path}");
        let body = resp.into_body().collect().await.unwrap().to_bytes();
        assert!(String::from_utf8_lossy(&body).contains("Nothing was created"));
        // A hydrated form's call (Accept: its answer's encoding) goes through to the
        // function, which wants a session.
        let resp = app
            .app
            .clone()
            .oneshot(post(path, "application/x-www-form-urlencoded"))
            .await
            .unwrap();
        assert_ne!(resp.status(), StatusCode::CONFLICT, "{path}");
    }
    // Other forms keep working without script (sign-in answers with a redirect).
    let resp = app
        .app
        .clone()
        .oneshot(post(SignIn::PATH, html))
        .await
        .unwrap();
    assert_ne!(resp.status(), StatusCode::CONFLICT);
    app.finish().await;
}
