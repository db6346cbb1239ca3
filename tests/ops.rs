//! Operability over real HTTP: `/metrics` (off by default, token-protected, labelled by
//! route template and never by org, user or token), `/readyz` (200 with a database, 503
//! when it is gone, on SQLite and PostgreSQL), and `scimgate backup` of a SQLite database
//! while the real server binary takes SCIM writes, the copy then served by a second server.

mod common;

use bytes::Bytes;
use common::{Backend, TestDb};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use scimgate::config::ServeArgs;
use scimgate::store::Store;
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const METRICS_TOKEN: &str = "metrics-token-0123456789abcdef";

/// A server built by `scimgate::server::build` on `store`, behind the product's own accept
/// loop on a loopback port.
struct Served {
    base: String,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Served {
    async fn start(store: Store, args: ServeArgs) -> Served {
        let (app, background) = scimgate::server::build(store, &args).await.unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            scimgate::server::serve_connections(listener, app, &args, async {
                let _ = rx.await;
            })
            .await;
            background.finish().await;
        });
        Served {
            base: format!("http://{addr}"),
            shutdown: Some(tx),
            task,
        }
    }

    async fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        let _ = (&mut self.task).await;
    }
}

type Http = Client<HttpConnector, Full<Bytes>>;

fn client() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

async fn call(
    c: &Http,
    method: &str,
    url: String,
    bearer: Option<&str>,
    body: Option<Value>,
) -> (u16, String) {
    let mut b = hyper::Request::builder().method(method).uri(url);
    if let Some(t) = bearer {
        b = b.header("authorization", format!("Bearer {t}"));
    }
    if body.is_some() {
        b = b.header("content-type", "application/scim+json");
    }
    let body = body.map(|v| Bytes::from(v.to_string())).unwrap_or_default();
    let resp = c.request(b.body(Full::new(body)).unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&bytes).into_owned())
}

fn args() -> ServeArgs {
    ServeArgs {
        site_root: "target/site".into(),
        secrets_key: Some("MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=".into()),
        ..ServeArgs::default()
    }
}

async fn org_and_token(store: &Store) -> String {
    let org = scimgate::management::create_org(store, "acme", Some("Acme Corporation"))
        .await
        .unwrap();
    scimgate::management::create_token(store, &org, "test", None, None)
        .await
        .unwrap()
        .secret
}

/// The value of the sample `name{labels}` in an exposition, if present.
fn sample(exposition: &str, name_and_labels: &str) -> Option<f64> {
    exposition.lines().find_map(|l| {
        l.strip_prefix(name_and_labels)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
    })
}

#[tokio::test]
async fn metrics_are_off_by_default() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let token = org_and_token(&db.store).await;
    let srv = Served::start(db.store.clone(), args()).await;
    let c = client();
    let (s, _) = call(
        &c,
        "GET",
        format!("{}/scim/v2/acme/Users", srv.base),
        Some(&token),
        None,
    )
    .await;
    assert_eq!(s, 200);
    for bearer in [None, Some(METRICS_TOKEN), Some(token.as_str())] {
        let (s, body) = call(&c, "GET", format!("{}/metrics", srv.base), bearer, None).await;
        assert_eq!(s, 404, "{body}");
        assert!(!body.contains("scimgate_http"), "{body}");
    }
    srv.stop().await;
    db.finish().await;
}

#[tokio::test]
async fn a_short_metrics_token_is_refused_at_start() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let err = scimgate::server::build(
        db.store.clone(),
        &ServeArgs {
            metrics_token: Some("short".into()),
            ..args()
        },
    )
    .await
    .err()
    .expect("a 5-character token is refused");
    assert!(err.to_string().contains("at least 16"), "{err}");
    db.finish().await;
}

#[tokio::test]
async fn metrics_need_the_token_and_count_routes_without_naming_orgs_users_or_tokens() {
    for backend in common::backends() {
        let db = TestDb::new(&backend).await;
        let token = org_and_token(&db.store).await;
        let srv = Served::start(
            db.store.clone(),
            ServeArgs {
                metrics_token: Some(METRICS_TOKEN.into()),
                ..args()
            },
        )
        .await;
        let c = client();
        let scim = |p: &str| format!("{}/scim/v2/acme{p}", srv.base);

        let (s, body) = call(
            &c,
            "POST",
            scim("/Users"),
            Some(&token),
            Some(json!({
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": "zelda.quartermain@example.test",
                "name": {"givenName": "Zelda", "familyName": "Quartermain"},
            })),
        )
        .await;
        assert_eq!(s, 201, "{body}");
        let id = serde_json::from_str::<Value>(&body).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string();
        for _ in 0..3 {
            let (s, _) = call(&c, "GET", scim(&format!("/Users/{id}")), Some(&token), None).await;
            assert_eq!(s, 200);
        }
        let missing = "0190a0a0-0000-7000-8000-00000000beef";
        let (s, _) = call(
            &c,
            "GET",
            scim(&format!("/Users/{missing}")),
            Some(&token),
            None,
        )
        .await;
        assert_eq!(s, 404);
        let (s, _) = call(
            &c,
            "GET",
            scim("/Users"),
            Some("not-a-real-token-xyz"),
            None,
        )
        .await;
        assert_eq!(s, 401);
        let (s, _) = call(&c, "GET", format!("{}/healthz", srv.base), None, None).await;
        assert_eq!(s, 200);
        let (s, _) = call(
            &c,
            "GET",
            format!("{}/no/such/page/acme-secret-path", srv.base),
            None,
            None,
        )
        .await;
        assert_eq!(s, 404);
        // An unknown resource under an org: the SCIM router's own fallback.
        let (s, _) = call(&c, "GET", scim("/Widgets/acme-widget"), Some(&token), None).await;
        assert_eq!(s, 404);
        let (s, _) = call(&c, "GET", format!("{}/readyz", srv.base), None, None).await;
        assert_eq!(s, 200);

        // The token is required, and only the metrics token.
        let url = format!("{}/metrics", srv.base);
        for wrong in [
            None,
            Some(token.as_str()),
            Some("metrics-token-0123456789abcdeX"),
        ] {
            let (s, body) = call(&c, "GET", url.clone(), wrong, None).await;
            assert_eq!(s, 401, "{body}");
            assert!(!body.contains("scimgate_http"), "{body}");
        }
        let (s, m) = call(&c, "GET", url.clone(), Some(METRICS_TOKEN), None).await;
        assert_eq!(s, 200, "{m}");

        let user = r#"route="/scim/v2/{org}/Users/{id}""#;
        assert_eq!(
            sample(
                &m,
                &format!(r#"scimgate_http_requests_total{{{user},method="GET",status="2xx"}}"#)
            ),
            Some(3.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                &format!(r#"scimgate_http_requests_total{{{user},method="GET",status="4xx"}}"#)
            ),
            Some(1.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                r#"scimgate_http_requests_total{route="/scim/v2/{org}/Users",method="POST",status="2xx"}"#
            ),
            Some(1.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                r#"scimgate_http_requests_total{route="/scim/v2/{org}/Users",method="GET",status="4xx"}"#
            ),
            Some(1.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                &format!(
                    r#"scimgate_http_request_duration_seconds_count{{{user},method="GET",status="2xx"}}"#
                )
            ),
            Some(3.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                &format!(
                    r#"scimgate_http_request_duration_seconds_bucket{{le="+Inf",{user},method="GET",status="2xx"}}"#
                )
            ),
            Some(3.0),
            "{m}"
        );
        assert!(
            sample(
                &m,
                r#"scimgate_http_requests_total{route="(unmatched)",method="GET",status="4xx"}"#
            )
            .is_some_and(|n| n >= 1.0),
            "{m}"
        );
        assert_eq!(
            sample(
                &m,
                r#"scimgate_http_requests_total{route="/readyz",method="GET",status="2xx"}"#
            ),
            Some(1.0),
            "{m}"
        );
        assert!(
            sample(&m, "scimgate_provisioning_log_queue_depth").is_some(),
            "{m}"
        );
        assert_eq!(
            sample(&m, "scimgate_provisioning_log_dropped_total"),
            Some(0.0),
            "{m}"
        );
        let acquires = sample(&m, r#"scimgate_db_pool_acquires_total{pool="connections"}"#)
            .expect("pool acquires");
        assert!(acquires >= 1.0, "{m}");
        assert!(
            sample(
                &m,
                r#"scimgate_db_pool_wait_seconds_count{pool="connections"}"#
            )
            .is_some(),
            "{m}"
        );
        assert_eq!(
            sample(&m, r#"scimgate_db_pool_size{pool="connections"}"#),
            Some(16.0),
            "{m}"
        );
        if backend == Backend::Sqlite {
            assert!(
                sample(
                    &m,
                    r#"scimgate_db_pool_acquires_total{pool="sqlite_writer"}"#
                )
                .is_some_and(|n| n >= 1.0),
                "{m}"
            );
            // The create above was committed by the write connection.
            assert!(
                sample(&m, "scimgate_sqlite_commits_total").is_some_and(|n| n >= 1.0),
                "{m}"
            );
            assert!(
                sample(&m, "scimgate_sqlite_commits_not_checkpointed").is_some(),
                "{m}"
            );
            assert!(
                sample(
                    &m,
                    r#"scimgate_sqlite_wal_checkpoints_total{outcome="complete"}"#
                )
                .is_some(),
                "{m}"
            );
            assert!(
                sample(&m, "scimgate_sqlite_wal_checkpointed_frames_total").is_some(),
                "{m}"
            );
        } else {
            assert!(!m.contains("scimgate_sqlite_"), "{m}");
        }

        // Nothing of the org, the person, their id or any secret.
        let lower = m.to_lowercase();
        for leak in [
            "acme",
            "zelda",
            "quartermain",
            "example.test",
            id.as_str(),
            missing,
            token.as_str(),
            METRICS_TOKEN,
            "not-a-real-token",
            "secret-path",
        ] {
            assert!(!lower.contains(&leak.to_lowercase()), "{leak} in\n{m}");
        }
        // Every label is one of the known few.
        for line in m.lines().filter(|l| !l.starts_with('#')) {
            // Route templates have braces of their own: the label set is first '{' to last '}'.
            if let (Some(a), Some(b)) = (line.find('{'), line.rfind('}')) {
                for pair in line[a + 1..b].split("\",") {
                    let key = pair.split('=').next().unwrap();
                    assert!(
                        ["route", "method", "status", "pool", "le", "outcome"].contains(&key),
                        "unexpected label {key} in {line}"
                    );
                }
            }
        }

        // The scrape itself is counted under its own route, the 401s included.
        let (_, m2) = call(&c, "GET", url, Some(METRICS_TOKEN), None).await;
        assert_eq!(
            sample(
                &m2,
                r#"scimgate_http_requests_total{route="/metrics",method="GET",status="4xx"}"#
            ),
            Some(3.0),
            "{m2}"
        );
        srv.stop().await;
        db.finish().await;
    }
}

/// The pool counters behind `scimgate_db_pool_*`: an acquire that finds every connection
/// taken is a wait, timed from the moment it queued until a connection came back.
#[tokio::test]
async fn pool_waits_are_counted_and_timed() {
    for backend in common::backends() {
        let db = TestDb::new(&backend).await;
        let store = Store::connect_with(&db.url, 1).await.unwrap();
        let waits = |pool: &str| {
            store
                .pool_waits()
                .into_iter()
                .find(|(p, _)| *p == pool)
                .map(|(_, w)| w)
                .unwrap()
        };
        let before = waits("connections");
        assert_eq!((before.size, before.in_use), (1, 0));
        let held = store.read().await.unwrap();
        assert_eq!(waits("connections").in_use, 1);
        let s2 = store.clone();
        let waiter = tokio::spawn(async move {
            let _c = s2.read().await.unwrap();
        });
        tokio::time::sleep(Duration::from_millis(60)).await;
        drop(held);
        waiter.await.unwrap();
        let after = waits("connections");
        assert_eq!(after.acquires, before.acquires + 2, "{after:?}");
        assert_eq!(after.waits, before.waits + 1, "{after:?}");
        assert!(
            after.wait_seconds - before.wait_seconds >= 0.05,
            "{after:?}"
        );
        // The wait fell in the 0.05–0.1 s bucket (buckets are not cumulative here).
        let bucket = |w: &scimgate::store::pool::WaitSnapshot, le: f64| {
            w.buckets.iter().find(|(b, _)| *b == le).unwrap().1
        };
        assert_eq!(bucket(&after, 0.1), bucket(&before, 0.1) + 1, "{after:?}");

        if backend == Backend::Sqlite {
            // SQLite's one write connection: a second writer waits for the first's commit.
            let before = waits("sqlite_writer");
            let tx = store.begin().await.unwrap();
            assert_eq!(waits("sqlite_writer").in_use, 1);
            let s2 = store.clone();
            let second = tokio::spawn(async move {
                let tx = s2.begin().await.unwrap();
                tx.commit().await.unwrap();
            });
            tokio::time::sleep(Duration::from_millis(60)).await;
            tx.commit().await.unwrap();
            second.await.unwrap();
            let after = waits("sqlite_writer");
            assert_eq!(after.waits, before.waits + 1, "{after:?}");
            assert!(
                after.wait_seconds - before.wait_seconds >= 0.05,
                "{after:?}"
            );
        }
        store.close().await;
        db.finish().await;
    }
}

/// The log writer's figures behind `scimgate_provisioning_log_*`: nothing queued once
/// flushed, and events whose batch could not be written counted as dropped.
#[tokio::test]
async fn the_log_writer_counts_entries_it_could_not_write() {
    let db = TestDb::new(&Backend::Sqlite).await;
    let org = scimgate::management::create_org(&db.store, "acme", None)
        .await
        .unwrap();
    let store = Store::connect(&db.url).await.unwrap();
    let (log, task) = scimgate::scim_api::LogWriter::start(store.clone());
    let event = || scimgate::directory::Event {
        id: scimgate::directory::new_id(),
        org_id: Some(org.id.clone()),
        occurred_at: scimgate::directory::now_ms(),
        token_id: None,
        token_label: None,
        method: "GET".into(),
        path: "/scim/v2/acme/Users".into(),
        query: None,
        client: "other".into(),
        status: 200,
        scim_type: None,
        duration_us: 1,
        request_body: None,
        response_summary: None,
        remote_addr: None,
        user_agent: None,
        changes: Vec::new(),
    };
    log.record(event()).await;
    log.flush().await;
    let s = log.stats();
    assert_eq!((s.queued, s.dropped, s.waited_full), (0, 0, 0), "{s:?}");
    assert_eq!(s.capacity, 16_384);
    // The writer's database goes away: what it takes next cannot be written.
    store.close().await;
    log.record(event()).await;
    log.record(event()).await;
    log.flush().await;
    assert_eq!(log.stats().dropped, 2, "{:?}", log.stats());
    drop(log);
    task.await.unwrap();
    db.finish().await;
}

#[tokio::test]
async fn readyz_is_503_while_the_sqlite_file_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let url = format!("sqlite://{}/scimgate.db", data.display());
    let store = Store::connect(&url).await.unwrap();
    let srv = Served::start(store.clone(), args()).await;
    let c = client();
    let ready = format!("{}/readyz", srv.base);

    let (s, body) = call(&c, "GET", ready.clone(), None, None).await;
    assert_eq!(s, 200, "{body}");
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap(),
        json!({"status": "ready"})
    );

    // The open connections would go on answering from the moved file: readiness looks at
    // the path the server was configured with.
    let moved = dir.path().join("moved");
    std::fs::rename(&data, &moved).unwrap();
    let (s, body) = call(&c, "GET", ready.clone(), None, None).await;
    assert_eq!(s, 503, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["status"], "unavailable");
    assert!(v["reason"].as_str().unwrap().contains("missing"), "{body}");
    assert!(
        !body.contains(&dir.path().display().to_string()),
        "no path: {body}"
    );

    // A different file at the path is not the database the server writes to either.
    std::fs::create_dir(&data).unwrap();
    std::fs::copy(moved.join("scimgate.db"), data.join("scimgate.db")).unwrap();
    let (s, body) = call(&c, "GET", ready.clone(), None, None).await;
    assert_eq!(s, 503, "{body}");
    assert!(body.contains("replaced"), "{body}");

    std::fs::remove_dir_all(&data).unwrap();
    std::fs::rename(&moved, &data).unwrap();
    let (s, body) = call(&c, "GET", ready, None, None).await;
    assert_eq!(s, 200, "{body}");
    srv.stop().await;
    store.close().await;
}

#[tokio::test]
async fn readyz_is_503_while_postgres_refuses_connections() {
    let Some(admin) = common::postgres_url() else {
        eprintln!("skipped: SCIMGATE_TEST_POSTGRES_URL is not set");
        return;
    };
    use sqlx::{Connection, Executor};
    let db = TestDb::new(&Backend::Postgres).await;
    let name = db
        .url
        .rsplit('/')
        .next()
        .unwrap()
        .split('?')
        .next()
        .unwrap()
        .to_string();
    let srv = Served::start(db.store.clone(), args()).await;
    let c = client();
    let ready = format!("{}/readyz", srv.base);
    let (s, body) = call(&c, "GET", ready.clone(), None, None).await;
    assert_eq!(s, 200, "{body}");

    // The database stops accepting connections and every session to it is killed.
    let mut adm = sqlx::PgConnection::connect(&admin).await.unwrap();
    adm.execute(format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false").as_str())
        .await
        .unwrap();
    adm.execute(
        format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}'")
            .as_str(),
    )
    .await
    .unwrap();
    for _ in 0..3 {
        let (s, body) = call(&c, "GET", ready.clone(), None, None).await;
        assert_eq!(s, 503, "{body}");
        assert!(body.contains("does not answer"), "{body}");
        assert!(!body.contains(&name), "no database name: {body}");
    }

    // Back: ready again without a restart.
    adm.execute(format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true").as_str())
        .await
        .unwrap();
    let start = Instant::now();
    loop {
        let (s, body) = call(&c, "GET", ready.clone(), None, None).await;
        if s == 200 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "still {s}: {body}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    srv.stop().await;
    db.finish().await;
}

// ---- backup, against the real binary ----

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scimgate"))
}

/// Runs the CLI: (success, stdout, stderr).
fn cli(db: &str, args: &[&str]) -> (bool, String, String) {
    let out = bin()
        .env("DATABASE_URL", db)
        .env("SCIMGATE_LOG", "error")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

struct Binary {
    child: std::process::Child,
    addr: SocketAddr,
}

impl Binary {
    fn start(db: &str) -> Binary {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let child = bin()
            .env("DATABASE_URL", db)
            .env("SCIMGATE_LOG", "error")
            .args(["serve", "--addr", &addr.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let b = Binary { child, addr };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if http(addr, "GET", "/readyz", None, None).is_ok_and(|r| r.0 == 200) {
                return b;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not start on {db}");
    }
}

impl Drop for Binary {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One request on its own connection: (status, body).
fn http(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&str>,
) -> std::io::Result<(u16, String)> {
    let mut req = format!("{method} {path} HTTP/1.1\r\nHost: scim.test\r\nConnection: close\r\n");
    if let Some(t) = token {
        req.push_str(&format!("Authorization: Bearer {t}\r\n"));
    }
    let body = body.unwrap_or("");
    if !body.is_empty() {
        req.push_str(&format!(
            "Content-Type: application/scim+json\r\nContent-Length: {}\r\n",
            body.len()
        ));
    }
    req.push_str("\r\n");
    req.push_str(body);
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(req.as_bytes())?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    let body = if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        dechunk(body)
    } else {
        body.to_string()
    };
    Ok((status, body))
}

fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 {
            break;
        }
        out.push_str(&rest[..n]);
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn user_names(addr: SocketAddr, token: &str) -> Vec<String> {
    let (s, body) = http(
        addr,
        "GET",
        "/scim/v2/acme/Users?count=1000",
        Some(token),
        None,
    )
    .unwrap();
    assert_eq!(s, 200, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    let names: Vec<String> = v["Resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["userName"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(v["totalResults"].as_u64().unwrap() as usize, names.len());
    names
}

#[test]
fn backup_copies_a_live_sqlite_database_that_a_server_then_serves() {
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let live = format!("sqlite://{}/live.db", dir.path().display());
    let copy = dir.path().join("copy.db");
    let (ok, _, err) = cli(&live, &["org", "create", "acme"]);
    assert!(ok, "{err}");
    let (ok, out, err) = cli(&live, &["token", "create", "--org", "acme"]);
    assert!(ok, "{err}");
    let token = out.trim().to_string();
    let server = Binary::start(&live);
    let addr = server.addr;

    // Two clients write users the whole time; each acknowledged userName is noted.
    const PER_WRITER: usize = 150;
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let acked = acked.clone();
            let token = token.clone();
            std::thread::spawn(move || {
                for i in 0..PER_WRITER {
                    let name = format!("w{w}-user{i}@corp.test");
                    let body = json!({
                        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": name,
                    })
                    .to_string();
                    let (s, b) = http(
                        addr,
                        "POST",
                        "/scim/v2/acme/Users",
                        Some(&token),
                        Some(&body),
                    )
                    .unwrap();
                    assert_eq!(s, 201, "{b}");
                    acked.lock().unwrap().push(name);
                }
            })
        })
        .collect();
    while acked.lock().unwrap().len() < 40 {
        std::thread::sleep(Duration::from_millis(5));
    }

    let before: Vec<String> = acked.lock().unwrap().clone();
    let (ok, _, err) = cli(&live, &["backup", "--to", copy.to_str().unwrap()]);
    let after = acked.lock().unwrap().len();
    assert!(ok, "backup failed: {err}");
    assert!(err.contains("integrity check ok"), "{err}");
    assert!(
        after < 2 * PER_WRITER,
        "the writes were still going on when the backup finished ({after} acknowledged)"
    );
    for w in writers {
        w.join().unwrap();
    }

    // The copy: owner-only, with the key beside it, no temporary files left, and whole.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&copy).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let key = std::fs::read(dir.path().join("live.db.secrets-key")).unwrap();
    assert_eq!(
        std::fs::read(dir.path().join("copy.db.secrets-key")).unwrap(),
        key
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let integrity: String = rt.block_on(async {
        use sqlx::{ConnectOptions, Connection};
        let mut c = sqlx::sqlite::SqliteConnectOptions::new()
            .filename(&copy)
            .read_only(true)
            .connect()
            .await
            .unwrap();
        let r = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut c)
            .await
            .unwrap();
        c.close().await.unwrap();
        r
    });
    assert_eq!(integrity, "ok");

    // A server on the copy: every user acknowledged before the backup began is there, and
    // nothing that was never written.
    let all = user_names(addr, &token);
    assert_eq!(all.len(), 2 * PER_WRITER);
    drop(server);
    let restored_url = format!("sqlite://{}", copy.display());
    let restored = Binary::start(&restored_url);
    let names = user_names(restored.addr, &token);
    for n in &before {
        assert!(
            names.contains(n),
            "{n} was acknowledged before the backup but is missing"
        );
    }
    for n in &names {
        assert!(all.contains(n), "{n} in the copy was never written");
    }
    assert!(
        // (+2: a write can be committed, so in the copy, before its writer notes the answer)
        names.len() >= before.len() && names.len() <= after + 2,
        "copy has {} users; {} acknowledged before, {after} after",
        names.len(),
        before.len()
    );
    // The copy takes writes of its own.
    let (s, b) = http(
        restored.addr,
        "POST",
        "/scim/v2/acme/Users",
        Some(&token),
        Some(&json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "after.restore@corp.test"}).to_string()),
    )
    .unwrap();
    assert_eq!(s, 201, "{b}");
    drop(restored);

    // An existing file is kept unless --force.
    let size = std::fs::metadata(&copy).unwrap().len();
    let (ok, _, err) = cli(&live, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(!ok);
    assert!(
        err.contains("already exists") && err.contains("--force"),
        "{err}"
    );
    assert_eq!(std::fs::metadata(&copy).unwrap().len(), size);
    // The server on the copy was killed: its WAL is still beside it, and would be applied to
    // the new copy by the next server that opens it. Without --force that refuses; with it
    // the leftovers go.
    let wal = dir.path().join("copy.db-wal");
    assert!(wal.exists());
    std::fs::remove_file(&copy).unwrap();
    std::fs::remove_file(dir.path().join("copy.db.secrets-key")).unwrap();
    let (ok, _, err) = cli(&live, &["backup", "--to", copy.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("copy.db-wal already exists"), "{err}");
    assert!(!copy.exists());
    let (ok, _, err) = cli(
        &live,
        &["backup", "--to", copy.to_str().unwrap(), "--force"],
    );
    assert!(ok, "{err}");
    assert!(!wal.exists());
    let restored = Binary::start(&restored_url);
    assert_eq!(user_names(restored.addr, &token).len(), 2 * PER_WRITER);
    drop(restored);

    // The database itself is never a target, even with --force.
    let (ok, _, err) = cli(
        &live,
        &[
            "backup",
            "--to",
            dir.path().join("live.db").to_str().unwrap(),
            "--force",
        ],
    );
    assert!(!ok);
    assert!(err.contains("the database itself"), "{err}");
}

#[test]
fn backup_explains_what_it_cannot_do() {
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("out.db");

    let (ok, _, err) = cli(
        "postgres://postgres@127.0.0.1:5432/scimgate",
        &["backup", "--to", to.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(err.contains("pg_dump"), "{err}");
    assert!(!to.exists());

    // No database there: nothing is created, neither the copy nor the database.
    let missing = dir.path().join("nothing.db");
    let (ok, _, err) = cli(
        &format!("sqlite://{}", missing.display()),
        &["backup", "--to", to.to_str().unwrap()],
    );
    assert!(!ok);
    assert!(err.contains("no database at"), "{err}");
    assert!(!to.exists());
    assert!(!missing.exists());

    // A directory that does not exist.
    let live = format!("sqlite://{}/live.db", dir.path().display());
    let (ok, _, err) = cli(&live, &["migrate"]);
    assert!(ok, "{err}");
    let (ok, _, err) = cli(
        &live,
        &[
            "backup",
            "--to",
            dir.path().join("no/such/dir/x.db").to_str().unwrap(),
        ],
    );
    assert!(!ok);
    assert!(err.contains("does not exist"), "{err}");
}
