//! Webhooks against a real local receiver over HTTP: signatures checked by an HMAC written
//! here from the Standard Webhooks specification (not the signing crate), delivery in
//! sequence order, retries after 500s, type filters, resends, refused private
//! destinations, and (PostgreSQL) two instances delivering each event once.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use base64::Engine;
use common::{backends, TestApp};
use scimgate::config::ServeArgs;
use scimgate::management;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Clone, Default)]
struct Receiver {
    got: Arc<Mutex<Vec<(HeaderMap, String)>>>,
    /// Answer 500 to this many requests first.
    fail_first: Arc<Mutex<usize>>,
}

async fn receive(
    State(r): State<Receiver>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    {
        let mut f = r.fail_first.lock().unwrap();
        if *f > 0 {
            *f -= 1;
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "receiver is down for maintenance",
            );
        }
    }
    r.got
        .lock()
        .unwrap()
        .push((headers, String::from_utf8(body.to_vec()).unwrap()));
    (StatusCode::OK, "ok")
}

async fn start_receiver(fail_first: usize) -> (Receiver, String) {
    let r = Receiver::default();
    *r.fail_first.lock().unwrap() = fail_first;
    let app = axum::Router::new()
        .route("/hook", post(receive))
        .with_state(r.clone());
    let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", l.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(l, app).await.unwrap() });
    (r, url)
}

/// HMAC-SHA256 (RFC 2104), written out.
fn hmac_sha256(key: &[u8], msg: &[u8]) -> [u8; 32] {
    let mut k = [0u8; 64];
    if key.len() > 64 {
        k[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        k[..key.len()].copy_from_slice(key);
    }
    let ipad: Vec<u8> = k.iter().map(|b| b ^ 0x36).collect();
    let opad: Vec<u8> = k.iter().map(|b| b ^ 0x5c).collect();
    let inner = Sha256::new()
        .chain_update(&ipad)
        .chain_update(msg)
        .finalize();
    Sha256::new()
        .chain_update(&opad)
        .chain_update(inner)
        .finalize()
        .into()
}

/// Standard Webhooks: `v1,` + base64(HMAC(secret, "{id}.{timestamp}.{body}")), the
/// secret being the base64 after `whsec_`; the timestamp within 5 minutes.
fn verify(secret: &str, headers: &HeaderMap, body: &str) -> Result<(), String> {
    let h = |n: &str| {
        headers
            .get(n)
            .and_then(|v| v.to_str().ok())
            .ok_or(format!("missing {n}"))
    };
    let id = h("webhook-id")?;
    let ts = h("webhook-timestamp")?;
    let sigs = h("webhook-signature")?;
    let t: i64 = ts.parse().map_err(|_| "bad timestamp")?;
    let now = scimgate::directory::now_ms() / 1000;
    if (now - t).abs() > 300 {
        return Err("timestamp too far from now".into());
    }
    let key = base64::engine::general_purpose::STANDARD
        .decode(secret.strip_prefix("whsec_").ok_or("secret prefix")?)
        .map_err(|_| "secret base64")?;
    let want = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(&key, format!("{id}.{ts}.{body}").as_bytes()));
    sigs.split(' ')
        .any(|s| s == format!("v1,{want}"))
        .then_some(())
        .ok_or_else(|| "signature mismatch".into())
}

/// Verifies a delivery with the reference implementation (PyPI `standardwebhooks`), run by
/// `$SCIMGATE_TEST_PYTHON` (CI sets it, see .ci/python-tools: then it must succeed) or a
/// `python3` that has the package; `None` when neither is available.
fn verify_with_python(secret: &str, headers: &HeaderMap, body: &str) -> Option<Result<(), String>> {
    let python = match std::env::var("SCIMGATE_TEST_PYTHON") {
        Ok(p) if !p.is_empty() => p,
        _ => {
            let ok = std::process::Command::new("python3")
                .args(["-c", "import standardwebhooks"])
                .output()
                .is_ok_and(|o| o.status.success());
            if !ok {
                return None;
            }
            "python3".into()
        }
    };
    let h: serde_json::Map<String, Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|n| (n.to_string(), json!(headers[*n].to_str().unwrap())))
            .collect();
    let input = json!({"secret": secret, "headers": h, "body": body}).to_string();
    let script = "import json,sys\nfrom standardwebhooks.webhooks import Webhook\nd=json.load(sys.stdin)\nWebhook(d['secret']).verify(d['body'], d['headers'])\nprint('verified')";
    let mut child = std::process::Command::new(&python)
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("python runs");
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), input.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Some(
        if out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified") {
            Ok(())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        },
    )
}

fn args() -> ServeArgs {
    ServeArgs {
        site_root: "target/site".into(),
        webhook_allow_private: true,
        webhook_retry_initial_ms: 100,
        ..ServeArgs::default()
    }
}

async fn wait_for(r: &Receiver, n: usize, what: &str) -> Vec<(HeaderMap, Value, String)> {
    let start = Instant::now();
    loop {
        let got = r.got.lock().unwrap().clone();
        if got.len() >= n {
            return got
                .into_iter()
                .map(|(h, b)| (h, serde_json::from_str(&b).unwrap(), b))
                .collect();
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{what}: {} of {n} deliveries",
            got.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn user(app: &TestApp, name: &str) -> String {
    let (s, u) = app
        .scim("POST", "/Users", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name})))
        .await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn deliveries_are_signed_ordered_retried_and_resent() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::with_args(&b, args()).await;
        let store = &app.db.store;
        // Events before the endpoint exists are not sent to it.
        user(&app, "before@example.com").await;
        let (r, url) = start_receiver(2).await;
        let made = management::webhooks::create(store, &app.org, &url, "", "test", true)
            .await
            .unwrap();
        assert!(made.secret.starts_with("whsec_"), "{name}");
        for i in 0..5 {
            user(&app, &format!("u{i}@example.com")).await;
        }
        let got = wait_for(&r, 5, name).await;
        let seqs: Vec<i64> = got
            .iter()
            .map(|(_, v, _)| v["sequence"].as_i64().unwrap())
            .collect();
        assert_eq!(
            seqs,
            [2, 3, 4, 5, 6],
            "{name}: in order, after the two 500s, nothing older"
        );
        for (h, v, raw) in &got {
            verify(&made.secret, h, raw).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(h["webhook-id"], v["id"].as_str().unwrap(), "{name}");
            assert_eq!(v["type"], "user.created", "{name}");
        }
        // A tampered body does not verify (the check above can fail).
        let (h, _, raw) = &got[0];
        assert!(
            verify(&made.secret, h, &raw.replace("u0@", "evil@")).is_err(),
            "{name}"
        );
        // And the reference implementation (Python's standardwebhooks) agrees, both ways.
        let (secret, h2, raw2) = (made.secret.clone(), h.clone(), raw.clone());
        let checked = tokio::task::spawn_blocking(move || {
            let genuine = verify_with_python(&secret, &h2, &raw2);
            let forged = verify_with_python(&secret, &h2, &raw2.replace("u0@", "evil@"));
            (genuine, forged)
        })
        .await
        .unwrap();
        match checked {
            (Some(r), forged) => {
                r.unwrap_or_else(|e| panic!("{name}: standardwebhooks (Python) refused: {e}"));
                assert!(
                    matches!(forged, Some(Err(_))),
                    "{name}: Python accepted a forged body"
                );
            }
            (None, _) => eprintln!(
                "standardwebhooks (Python) not installed: reference check skipped (CI runs it)"
            ),
        }

        // Every attempt is recorded: two failures (500, with the answer's start), then
        // deliveries.
        // The receiver may have the deliveries a moment before the dispatcher records them.
        let start = Instant::now();
        let views = loop {
            let v = management::webhooks::list(store, &app.org, 50)
                .await
                .unwrap();
            if v[0].endpoint.cursor_seq == 6 || start.elapsed() > Duration::from_secs(10) {
                break v;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let attempts = &views[0].recent;
        let retrying: Vec<_> = attempts
            .iter()
            .filter(|a| a.outcome == "retrying")
            .collect();
        assert_eq!(retrying.len(), 2, "{name}: {attempts:?}");
        assert!(
            retrying.iter().all(|a| a.status_code == Some(500)),
            "{name}"
        );
        assert!(
            retrying[0]
                .response_excerpt
                .as_deref()
                .is_some_and(|e| e.contains("maintenance")),
            "{name}"
        );
        assert_eq!(
            attempts.iter().filter(|a| a.outcome == "delivered").count(),
            5,
            "{name}: {attempts:?}"
        );
        assert_eq!(views[0].endpoint.cursor_seq, 6, "{name}");

        // Resend: the same event again, once, recorded as resent.
        let admin = management::create_admin(
            store,
            "acme",
            "ops@acme.test",
            "a long enough password".into(),
        )
        .await
        .unwrap();
        let actor = management::Actor {
            org: app.org.clone(),
            admin,
        };
        let first_id = got[0].1["id"].as_str().unwrap().to_string();
        management::webhooks::resend(store, &actor, &made.endpoint.id, &first_id)
            .await
            .unwrap();
        let got = wait_for(&r, 6, name).await;
        assert_eq!(got[5].1["id"], first_id.as_str(), "{name}");
        verify(&made.secret, &got[5].0, &got[5].2).unwrap();
        app.finish().await;
    }
}

#[tokio::test]
async fn filters_and_refused_destinations() {
    for b in backends() {
        let name = b.name();
        let app = TestApp::with_args(&b, args()).await;
        let store = &app.db.store;
        let (r, url) = start_receiver(0).await;
        management::webhooks::create(
            store,
            &app.org,
            &url,
            "team.created, team.member_added",
            "",
            true,
        )
        .await
        .unwrap();
        let u = user(&app, "a@example.com").await;
        let (s, _) = app
            .scim("POST", "/Groups", Some(json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": "Eng", "members": [{"value": u}]})))
            .await;
        assert_eq!(s, 201, "{name}");
        let got = wait_for(&r, 2, name).await;
        let types: Vec<&str> = got
            .iter()
            .map(|(_, v, _)| v["type"].as_str().unwrap())
            .collect();
        assert_eq!(types, ["team.created", "team.member_added"], "{name}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(r.got.lock().unwrap().len(), 2, "{name}: nothing else");

        for (bad, allow) in [
            ("http://127.0.0.1:9/hook", false),
            ("https://10.0.0.1/hook", false),
            ("https://169.254.169.254/", false),
            ("https://localhost/hook", false),
            ("ftp://example.com/", true),
        ] {
            let e = management::webhooks::create(store, &app.org, bad, "", "", allow).await;
            assert!(
                matches!(e, Err(management::ManagementError::Invalid(_))),
                "{name}: {bad}"
            );
        }
        let e =
            management::webhooks::create(store, &app.org, &url, "user.exploded", "", true).await;
        assert!(
            matches!(e, Err(management::ManagementError::Invalid(_))),
            "{name}"
        );
        app.finish().await;
    }
}

/// Two instances on one PostgreSQL deliver to one endpoint: every event arrives, none twice.
#[tokio::test]
async fn two_instances_deliver_each_event_once() {
    let Some(b) = backends()
        .into_iter()
        .find(|b| *b == common::Backend::Postgres)
    else {
        eprintln!("PostgreSQL not configured; skipped");
        return;
    };
    let app = TestApp::with_args(&b, args()).await;
    let second = scimgate::store::Store::connect(&app.db.url).await.unwrap();
    let other = scimgate::webhooks::start(
        second.clone(),
        scimgate::webhooks::WebhookConfig {
            allow_private: true,
            retry_initial: Duration::from_millis(100),
            ..Default::default()
        },
    );
    let (r, url) = start_receiver(0).await;
    management::webhooks::create(&app.db.store, &app.org, &url, "", "", true)
        .await
        .unwrap();
    for i in 0..150 {
        user(&app, &format!("u{i:03}@example.com")).await;
    }
    let got = wait_for(&r, 150, "PostgreSQL").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let got_after = r.got.lock().unwrap().len();
    let mut ids: Vec<String> = got
        .iter()
        .map(|(_, v, _)| v["id"].as_str().unwrap().to_string())
        .collect();
    let seqs: Vec<i64> = got
        .iter()
        .map(|(_, v, _)| v["sequence"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, (1..=150).collect::<Vec<_>>(), "PostgreSQL: in order");
    ids.sort();
    ids.dedup();
    assert_eq!((ids.len(), got_after), (150, 150), "PostgreSQL: each once");
    other.abort();
    second.close().await;
    app.finish().await;
}
