//! `kill -9` of the real `scimgate` binary while it delivers webhooks: after a restart every
//! event is delivered (at least once); none is lost.

#![cfg(unix)]

use axum::http::HeaderMap;
use axum::routing::post;
use std::collections::BTreeSet;
use std::io::Write;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scimgate"))
}

fn cli(db: &str, args: &[&str]) -> String {
    let mut child = bin()
        .env("DATABASE_URL", db)
        .env("SCIMGATE_LOG", "error")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(b"").unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn serve(db: &str, addr: &str) -> Child {
    bin()
        .env("DATABASE_URL", db)
        .env_remove("SCIMGATE_LOG")
        .args([
            "serve",
            "--addr",
            addr,
            "--webhook-allow-private",
            "--webhook-retry-initial-ms",
            "200",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

async fn wait_up(http: &reqwest::Client, base: &str) {
    let start = Instant::now();
    while http.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "server did not start"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn kill_9_during_deliveries_loses_nothing() {
    // The receiver: slow enough that deliveries are in flight when the server dies.
    let seen: Arc<Mutex<Vec<i64>>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        post(move |_h: HeaderMap, body: String| {
            let s = s.clone();
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                let v: serde_json::Value = serde_json::from_str(&body).unwrap();
                s.lock().unwrap().push(v["sequence"].as_i64().unwrap());
                "ok"
            }
        }),
    );
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let hook = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/crash.db", dir.path().display());
    cli(&db, &["org", "create", "acme"]);
    let token = cli(&db, &["token", "create", "--org", "acme"])
        .trim()
        .to_string();
    let secret = cli(
        &db,
        &[
            "webhook",
            "create",
            "--org",
            "acme",
            "--url",
            &hook,
            "--allow-private",
        ],
    );
    assert!(secret.trim().starts_with("whsec_"), "{secret}");

    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let addr = port.to_string();
    let base = format!("http://{addr}");
    let http = reqwest::Client::new();
    let mut server = serve(&db, &addr);
    wait_up(&http, &base).await;
    let create = |i: usize| {
        let http = http.clone();
        let url = format!("{base}/scim/v2/acme/Users");
        let token = token.clone();
        async move {
            let r = http
                .post(url)
                .bearer_auth(token)
                .header("content-type", "application/scim+json")
                .body(format!(r#"{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"u{i}@example.com"}}"#))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 201);
        }
    };
    for i in 0..300 {
        create(i).await;
    }
    // Let some deliveries through, then kill -9 mid-stream.
    let start = Instant::now();
    while seen.lock().unwrap().len() < 30 {
        assert!(start.elapsed() < Duration::from_secs(30), "no deliveries");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    let at_kill = seen.lock().unwrap().len();
    assert!(
        at_kill < 300,
        "the kill came after every delivery ({at_kill}): not a crash test"
    );

    let mut server = serve(&db, &addr);
    wait_up(&http, &base).await;
    for i in 300..320 {
        create(i).await;
    }
    let start = Instant::now();
    loop {
        let got: BTreeSet<i64> = seen.lock().unwrap().iter().copied().collect();
        if got.len() == 320 {
            assert_eq!(got, (1..=320).collect::<BTreeSet<_>>());
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{} of 320 events delivered after the restart (killed at {at_kill})",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // In order, apart from the redelivery right after the restart.
    let all = seen.lock().unwrap().clone();
    let after: Vec<i64> = all[at_kill..].to_vec();
    assert!(
        after
            .windows(2)
            .all(|w| w[1] > w[0] || w[1] <= at_kill as i64 + 1),
        "{after:?}"
    );
    server.kill().unwrap();
    server.wait().unwrap();
}
