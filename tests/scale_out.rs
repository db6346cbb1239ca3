//! Two scimgate instances on one PostgreSQL database, no sticky sessions: concurrent
//! membership changes lose nothing, concurrent creates of one userName give exactly one
//! 201, a token revoked through one instance is refused by the other at once, and a console
//! session made on one instance works on the other. Needs SCIMGATE_TEST_POSTGRES_URL.

mod common;

use bytes::Bytes;
use common::{Backend, TestDb};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use leptos::server_fn::ServerFn;
use scimgate::config::ServeArgs;
use scimgate::console::api::{Dashboard, RevokeToken, SignIn};
use scimgate::store::Store;
use serde_json::{json, Value};

struct Instance {
    url: String,
    _task: tokio::task::JoinHandle<()>,
}

async fn start(url: &str) -> Instance {
    let store = Store::connect(url).await.unwrap();
    let (app, _bg) = scimgate::server::build(store, &ServeArgs::default())
        .await
        .unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let task = tokio::spawn(async move {
        let _bg = _bg;
        let svc = axum::ServiceExt::<axum::extract::Request>::into_make_service_with_connect_info::<
            std::net::SocketAddr,
        >(app);
        let _ = axum::serve(listener, svc).await;
    });
    Instance {
        url: format!("http://{addr}"),
        _task: task,
    }
}

type Http = Client<HttpConnector, Full<Bytes>>;

async fn call(
    c: &Http,
    method: &str,
    url: String,
    headers: &[(&str, String)],
    body: Option<String>,
) -> (u16, Option<String>, Value) {
    let mut b = hyper::Request::builder().method(method).uri(url);
    for (k, v) in headers {
        b = b.header(*k, v);
    }
    let resp = c
        .request(
            b.body(Full::new(body.map(Bytes::from).unwrap_or_default()))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let cookie = resp
        .headers()
        .get("set-cookie")
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string());
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        cookie,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

#[tokio::test]
async fn two_instances_share_one_postgres() {
    if common::postgres_url().is_none() {
        eprintln!("skipped: SCIMGATE_TEST_POSTGRES_URL is not set");
        return;
    }
    let db = TestDb::new(&Backend::Postgres).await;
    let org = scimgate::management::create_org(&db.store, "acme", None)
        .await
        .unwrap();
    scimgate::management::create_admin(
        &db.store,
        "acme",
        "ops@acme.test",
        "a long enough password".into(),
    )
    .await
    .unwrap();
    let issued = scimgate::management::create_token(&db.store, &org, "okta", None, None)
        .await
        .unwrap();
    let (a, b) = (start(&db.url).await, start(&db.url).await);
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let auth = vec![
        ("authorization", format!("Bearer {}", issued.secret)),
        ("content-type", "application/scim+json".to_string()),
    ];
    let base = |i: usize| if i.is_multiple_of(2) { &a.url } else { &b.url };

    // (i) concurrent single-member PATCHes to one group through both instances.
    let mut users = Vec::new();
    for i in 0..40 {
        let (s, _, u) = call(
            &http,
            "POST",
            format!("{}/scim/v2/acme/Users", base(i)),
            &auth,
            Some(json!({"userName": format!("u{i}@acme.test")}).to_string()),
        )
        .await;
        assert_eq!(s, 201);
        users.push(u["id"].as_str().unwrap().to_string());
    }
    let (_, _, g) = call(
        &http,
        "POST",
        format!("{}/scim/v2/acme/Groups", a.url),
        &auth,
        Some(json!({"displayName": "Everyone"}).to_string()),
    )
    .await;
    let gid = g["id"].as_str().unwrap().to_string();
    let mut tasks = Vec::new();
    for (i, uid) in users.iter().enumerate() {
        let (http, auth, url) = (
            http.clone(),
            auth.clone(),
            format!("{}/scim/v2/acme/Groups/{gid}", base(i)),
        );
        let body = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": [{"value": uid}]}]}).to_string();
        tasks.push(tokio::spawn(async move {
            call(&http, "PATCH", url, &auth, Some(body)).await.0
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 204);
    }
    let (_, _, g) = call(
        &http,
        "GET",
        format!("{}/scim/v2/acme/Groups/{gid}", b.url),
        &auth,
        None,
    )
    .await;
    assert_eq!(
        g["members"].as_array().unwrap().len(),
        40,
        "no membership change was lost"
    );
    let mut c = db.store.read().await.unwrap();
    assert_eq!(
        scimgate::store::groups::get_group(&mut c, &org.id, &gid)
            .await
            .unwrap()
            .member_count,
        40
    );
    drop(c);

    // (ii) concurrent POSTs of one userName through both: exactly one 201, the rest 409.
    let mut tasks = Vec::new();
    for i in 0..10 {
        let (http, auth, url) = (
            http.clone(),
            auth.clone(),
            format!("{}/scim/v2/acme/Users", base(i)),
        );
        tasks.push(tokio::spawn(async move {
            call(
                &http,
                "POST",
                url,
                &auth,
                Some(json!({"userName": "Same@acme.test"}).to_string()),
            )
            .await
            .0
        }));
    }
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(t.await.unwrap());
    }
    statuses.sort();
    assert_eq!(
        statuses.iter().filter(|s| **s == 201).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        9,
        "{statuses:?}"
    );

    // (iv) a console session made on A works on B.
    let form = vec![
        (
            "content-type",
            "application/x-www-form-urlencoded".to_string(),
        ),
        ("accept", "application/json".to_string()),
    ];
    let (s, cookie, _) = call(
        &http,
        "POST",
        format!("{}{}", a.url, SignIn::PATH),
        &form,
        Some("email=ops%40acme.test&password=a+long+enough+password".into()),
    )
    .await;
    assert!(s < 400, "{s}");
    let cookie = cookie.expect("session cookie");
    let mut with_cookie = form.clone();
    with_cookie.push(("cookie", cookie));
    let (s, _, d) = call(
        &http,
        "POST",
        format!("{}{}", b.url, Dashboard::PATH),
        &with_cookie,
        Some("org=acme".into()),
    )
    .await;
    assert_eq!(s, 200, "{d}");

    // (iii) a token revoked through A is refused by B on the next request.
    let (s, _, _) = call(
        &http,
        "GET",
        format!("{}/scim/v2/acme/Users?count=1", b.url),
        &auth,
        None,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _, _) = call(
        &http,
        "POST",
        format!("{}{}", a.url, RevokeToken::PATH),
        &with_cookie,
        Some(format!("org=acme&token_id={}", issued.token.id)),
    )
    .await;
    assert!(s < 400, "{s}");
    let (s, _, _) = call(
        &http,
        "GET",
        format!("{}/scim/v2/acme/Users?count=1", b.url),
        &auth,
        None,
    )
    .await;
    assert_eq!(s, 401, "no instance caches a revoked token");
    db.finish().await;
}

/// `startIndex` pages resume where earlier ones ended (an importer's walk would otherwise
/// re-read every earlier row on each page); a write through another instance must make
/// what one instance remembered stale at once, so every page is what OFFSET gives.
#[tokio::test]
async fn remembered_pages_stay_exact_when_another_instance_writes() {
    if common::postgres_url().is_none() {
        eprintln!("skipped: SCIMGATE_TEST_POSTGRES_URL is not set");
        return;
    }
    let db = TestDb::new(&Backend::Postgres).await;
    let org = scimgate::management::create_org(&db.store, "acme", None)
        .await
        .unwrap();
    let issued = scimgate::management::create_token(&db.store, &org, "okta", None, None)
        .await
        .unwrap();
    let (a, b) = (start(&db.url).await, start(&db.url).await);
    let http: Http = Client::builder(TokioExecutor::new()).build_http();
    let auth = vec![
        ("authorization", format!("Bearer {}", issued.secret)),
        ("content-type", "application/scim+json".to_string()),
    ];
    let ids_of = |v: &Value| -> Vec<String> {
        v["Resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["id"].as_str().unwrap().to_string())
            .collect()
    };
    let page = |base: String, start: usize| {
        let (http, auth) = (http.clone(), auth.clone());
        async move {
            let (s, _, v) = call(
                &http,
                "GET",
                format!("{base}/scim/v2/acme/Users?startIndex={start}&count=5"),
                &auth,
                None,
            )
            .await;
            assert_eq!(s, 200, "{v}");
            v
        }
    };
    let truth = || async {
        let (_, _, v) = call(
            &http,
            "GET",
            format!("{}/scim/v2/acme/Users?count=1000", b.url),
            &auth,
            None,
        )
        .await;
        ids_of(&v)
    };
    for i in 0..30 {
        let (s, _, _) = call(
            &http,
            "POST",
            format!("{}/scim/v2/acme/Users", a.url),
            &auth,
            Some(json!({"userName": format!("p{i}@acme.test")}).to_string()),
        )
        .await;
        assert_eq!(s, 201);
    }
    // A walk through A: every user once, in id order; the totals agree.
    let all = truth().await;
    let mut walked = Vec::new();
    for start in (1..=30).step_by(5) {
        let v = page(a.url.clone(), start).await;
        assert_eq!(v["totalResults"], 30);
        walked.extend(ids_of(&v));
    }
    assert_eq!(walked, all);

    // Through B: one user from the first page goes, another comes. A's next pages, which
    // it would otherwise resume after the ids it remembers, must shift as OFFSET does.
    let (s, _, _) = call(
        &http,
        "DELETE",
        format!("{}/scim/v2/acme/Users/{}", b.url, all[2]),
        &auth,
        None,
    )
    .await;
    assert_eq!(s, 204);
    let now = truth().await;
    assert_eq!(now.len(), 29);
    for start in [11, 16, 26] {
        let v = page(a.url.clone(), start).await;
        assert_eq!(v["totalResults"], 29, "the remembered total is stale too");
        let want: Vec<String> = now.iter().skip(start - 1).take(5).cloned().collect();
        assert_eq!(ids_of(&v), want, "page at {start} after B's delete");
    }
    let (s, _, _) = call(
        &http,
        "POST",
        format!("{}/scim/v2/acme/Users", b.url),
        &auth,
        Some(json!({"userName": "late@acme.test"}).to_string()),
    )
    .await;
    assert_eq!(s, 201);
    let now = truth().await;
    for start in [16, 21, 26] {
        let v = page(a.url.clone(), start).await;
        assert_eq!(v["totalResults"], 30);
        let want: Vec<String> = now.iter().skip(start - 1).take(5).cloned().collect();
        assert_eq!(ids_of(&v), want, "page at {start} after B's create");
    }
}
