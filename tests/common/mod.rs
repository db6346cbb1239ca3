//! Test support: a fresh database per test (a SQLite file in a temporary directory, or a
//! new PostgreSQL database when SCIMGATE_TEST_POSTGRES_URL is set), and the real router.
#![allow(dead_code)]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use scimgate::config::ServeArgs;
use scimgate::store::Store;
use serde_json::Value;
use tower::ServiceExt;

pub mod console;

/// The database a test runs on: the store's own name for it.
pub use scimgate::store::Backend;

pub struct TestDb {
    pub store: Store,
    pub url: String,
    _dir: Option<tempfile::TempDir>,
    admin_url: Option<String>,
    db_name: Option<String>,
}

pub fn postgres_url() -> Option<String> {
    std::env::var("SCIMGATE_TEST_POSTGRES_URL")
        .ok()
        .filter(|s| !s.is_empty())
}

/// The backends to run a test on: SQLite always, PostgreSQL when configured.
pub fn backends() -> Vec<Backend> {
    let mut b = vec![Backend::Sqlite];
    if postgres_url().is_some() {
        b.push(Backend::Postgres);
    }
    b
}

fn with_database(url: &str, db: &str) -> String {
    let (base, query) = url
        .split_once('?')
        .map(|(b, q)| (b, Some(q)))
        .unwrap_or((url, None));
    let prefix = match base.rfind('/') {
        Some(i) if i > base.find("://").map(|p| p + 2).unwrap_or(0) => &base[..i],
        _ => base,
    };
    match query {
        Some(q) => format!("{prefix}/{db}?{q}"),
        None => format!("{prefix}/{db}"),
    }
}

impl TestDb {
    pub async fn new(backend: &Backend) -> TestDb {
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}/test.db", dir.path().display());
                let store = Store::connect(&url).await.expect("open sqlite");
                // Shown with a failing test's output: which backend it failed on.
                eprintln!("backend: SQLite ({url})");
                TestDb {
                    store,
                    url,
                    _dir: Some(dir),
                    admin_url: None,
                    db_name: None,
                }
            }
            Backend::Postgres => {
                use sqlx::Executor;
                let admin = postgres_url().expect("postgres url");
                let name = format!("scimgate_test_{}", uuid::Uuid::new_v4().simple());
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&admin)
                    .await
                    .expect("connect to postgres");
                conn.execute(format!("CREATE DATABASE {name}").as_str())
                    .await
                    .expect("create test database");
                let url = with_database(&admin, &name);
                let store = Store::connect(&url).await.expect("open postgres");
                eprintln!("backend: PostgreSQL (database {name})");
                TestDb {
                    store,
                    url,
                    _dir: None,
                    admin_url: Some(admin),
                    db_name: Some(name),
                }
            }
        }
    }

    /// Closes the store and drops a PostgreSQL test database.
    pub async fn finish(mut self) {
        self.store.close().await;
        if let (Some(admin), Some(name)) = (self.admin_url.clone(), self.db_name.take()) {
            use sqlx::Executor;
            if let Ok(mut conn) = <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await {
                let _ = conn
                    .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                    .await;
            }
        }
    }
}

/// A test that panics never reaches `finish`: its PostgreSQL database is dropped here, from
/// a thread of its own (the test's runtime may be gone or be the one panicking).
impl Drop for TestDb {
    fn drop(&mut self) {
        let (Some(admin), Some(name)) = (self.admin_url.clone(), self.db_name.take()) else {
            return;
        };
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                use sqlx::Executor;
                if let Ok(mut conn) =
                    <sqlx::PgConnection as sqlx::Connection>::connect(&admin).await
                {
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)").as_str())
                        .await;
                }
            });
        })
        .join();
    }
}

/// The application router on a test database, with an org and a SCIM token.
pub struct TestApp {
    pub db: TestDb,
    pub app: scimgate::server::AppService,
    pub org: scimgate::directory::Org,
    pub token: String,
    background: Option<scimgate::server::Background>,
}

impl TestApp {
    pub async fn new(backend: &Backend) -> TestApp {
        Self::with_args(
            backend,
            ServeArgs {
                site_root: "target/site".into(),
                ..ServeArgs::default()
            },
        )
        .await
    }

    pub async fn with_args(backend: &Backend, mut args: ServeArgs) -> TestApp {
        // One sealing key for every test app of the process (the key is process-wide).
        args.secrets_key
            .get_or_insert_with(|| "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into());
        let db = TestDb::new(backend).await;
        let (app, background) = scimgate::server::build(db.store.clone(), &args)
            .await
            .expect("build app");
        let org = scimgate::management::create_org(&db.store, "acme", Some("Acme"))
            .await
            .expect("org");
        let token = scimgate::management::create_token(&db.store, &org, "test", None, None)
            .await
            .expect("token")
            .secret;
        TestApp {
            db,
            app,
            org,
            token,
            background: Some(background),
        }
    }

    /// Waits until the provisioning-log events queued so far are written.
    pub async fn flush_log(&self) {
        if let Some(b) = &self.background {
            b.flush().await;
        }
    }

    pub async fn finish(mut self) {
        drop(self.app);
        if let Some(b) = self.background.take() {
            b.finish().await;
        }
        self.db.finish().await;
    }

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, axum::http::HeaderMap, Value) {
        let mut b = Request::builder().method(method).uri(path);
        if !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("host")) {
            b = b.header("host", "scim.test");
        }
        if let Some(t) = token {
            b = b.header("authorization", format!("Bearer {t}"));
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        let body = match body {
            Some(v) => {
                b = b.header("content-type", "application/scim+json");
                Body::from(v.to_string())
            }
            None => Body::empty(),
        };
        let resp = self
            .app
            .clone()
            .oneshot(b.body(body).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()))
        };
        (status, headers, json)
    }

    /// A SCIM call with this app's token on `/scim/v2/acme` + `path`.
    pub async fn scim(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let (s, _, v) = self
            .request(
                method,
                &format!("/scim/v2/acme{path}"),
                Some(&self.token),
                body,
                &[],
            )
            .await;
        (s, v)
    }

    /// Provisioning events written so far, newest first (waits for the background writer).
    pub async fn events(&self) -> Vec<scimgate::directory::Event> {
        self.flush_log().await;
        let mut c = self.db.store.read().await.unwrap();
        scimgate::store::events::list_events(&mut c, &self.org.id, None, 1000)
            .await
            .unwrap()
    }
}

/// Asserts an RFC 7644 §3.12 error body.
pub fn assert_scim_error(body: &Value, status: u16, scim_type: Option<&str>) {
    assert_eq!(
        body["schemas"][0], "urn:ietf:params:scim:api:messages:2.0:Error",
        "{body}"
    );
    assert_eq!(body["status"], status.to_string(), "{body}");
    match scim_type {
        Some(t) => assert_eq!(body["scimType"], t, "{body}"),
        None => assert!(body.get("scimType").is_none(), "{body}"),
    }
    assert!(
        body["detail"].as_str().is_some_and(|d| !d.is_empty()),
        "{body}"
    );
}

/// Percent-encodes a query value.
pub fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
