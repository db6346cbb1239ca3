//! Scenario h: the application side. A local webhook receiver and a long-polling feed
//! reader follow the server while SCIM writes go in; prints how fast deliveries go out
//! (one endpoint, events made by one group PATCH) and how long after a SCIM write's
//! answer its webhook arrives and a waiting long poll wakes (p50, p99).

use super::spawn::cli;
use super::{HttpClient, Target};
use hyper::Method;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Default)]
struct Seen {
    /// sequence → arrival
    arrivals: HashMap<i64, Instant>,
    /// userName of user.created events → arrival
    by_user: HashMap<String, Instant>,
}

fn pct(mut v: Vec<f64>, p: f64) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.partial_cmp(b).unwrap_or(std::cmp::Ordering::Equal));
    v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1]
}

pub async fn feed(
    t: &Target,
    client: &HttpClient,
    url: &str,
    org: &str,
    bin: &str,
    db: &str,
    ids: &[String],
) {
    // The receiver.
    let seen: Arc<Mutex<Seen>> = Arc::default();
    let s = seen.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: String| {
            let s = s.clone();
            async move {
                let now = Instant::now();
                if let Ok(v) = serde_json::from_str::<Value>(&body) {
                    let mut g = s.lock().unwrap_or_else(|p| p.into_inner());
                    if let Some(seq) = v["sequence"].as_i64() {
                        g.arrivals.insert(seq, now);
                    }
                    if v["type"] == "user.created" {
                        if let Some(u) = v["data"]["user"]["user_name"].as_str() {
                            g.by_user.insert(u.to_string(), now);
                        }
                    }
                }
                "ok"
            }
        }),
    );
    let Ok(l) = tokio::net::TcpListener::bind("127.0.0.1:0").await else {
        println!("h  skipped: no local port for the receiver");
        return;
    };
    let hook = format!(
        "http://{}/hook",
        l.local_addr().map(|a| a.to_string()).unwrap_or_default()
    );
    tokio::spawn(async move {
        let _ = axum::serve(l, app).await;
    });
    if let Err(e) = cli(
        bin,
        db,
        &[
            "webhook",
            "create",
            "--org",
            org,
            "--url",
            &hook,
            "--allow-private",
        ],
    ) {
        println!("h  skipped: {e}");
        return;
    }
    let key = match cli(
        bin,
        db,
        &["app-key", "create", "--org", org, "--label", "bench"],
    ) {
        Ok(k) => k,
        Err(e) => {
            println!("h  skipped: {e}");
            return;
        }
    };
    let app_api = Target {
        client: client.clone(),
        base: format!("{url}/v1/orgs/{org}"),
        auth: format!("Bearer {key}"),
    };
    let (_, b) = app_api
        .call(Method::GET, "/events?after=0&limit=1", None)
        .await
        .unwrap_or_default();
    let start_cursor = serde_json::from_slice::<Value>(&b)
        .ok()
        .and_then(|v| v["next_cursor"].as_i64())
        .unwrap_or(0);
    // The long-poll reader: the newest sequence it has seen, by userName, and when.
    let woke: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let reader = {
        let (api, woke) = (app_api.clone(), woke.clone());
        tokio::spawn(async move {
            // Skip to the end of the feed first.
            let mut after = start_cursor;
            loop {
                let (_, b) = match api
                    .call(
                        Method::GET,
                        &format!("/events?after={after}&limit=500"),
                        None,
                    )
                    .await
                {
                    Ok(r) => r,
                    Err(_) => return,
                };
                let v: Value = serde_json::from_slice(&b).unwrap_or_default();
                let n = v["data"].as_array().map_or(0, |d| d.len());
                after = v["next_cursor"].as_i64().unwrap_or(after);
                if n == 0 {
                    break;
                }
            }
            loop {
                let Ok((_, b)) = api
                    .call(
                        Method::GET,
                        &format!("/events?after={after}&wait=30&limit=500"),
                        None,
                    )
                    .await
                else {
                    return;
                };
                let now = Instant::now();
                let v: Value = serde_json::from_slice(&b).unwrap_or_default();
                after = v["next_cursor"].as_i64().unwrap_or(after);
                let mut g = woke.lock().unwrap_or_else(|p| p.into_inner());
                for e in v["data"].as_array().into_iter().flatten() {
                    if e["type"] == "user.created" {
                        if let Some(u) = e["data"]["user"]["user_name"].as_str() {
                            g.entry(u.to_string()).or_insert(now);
                        }
                    }
                }
            }
        })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;

    // Delay: one SCIM write at a time, 10 ms apart, so that each is measured alone.
    let run = std::process::id();
    let mut answered: Vec<(String, Instant)> = Vec::new();
    for i in 0..300 {
        let name = format!("feed-{run}-{i}@example.com");
        let body =
            json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": name});
        if let Ok((s, _)) = t.call(Method::POST, "/Users", Some(&body)).await {
            if s.is_success() {
                answered.push((name, Instant::now()));
            }
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let delays = |arrived: &HashMap<String, Instant>| -> (Vec<f64>, usize) {
        let mut d = Vec::new();
        for (name, at) in &answered {
            if let Some(a) = arrived.get(name) {
                // Negative when the event arrived before the client read the answer.
                d.push(a.saturating_duration_since(*at).as_secs_f64() * 1000.0);
            }
        }
        let missing = answered.len() - d.len();
        (d, missing)
    };
    let (hook_d, hook_missing) = delays(&seen.lock().unwrap_or_else(|p| p.into_inner()).by_user);
    let (poll_d, poll_missing) = delays(&woke.lock().unwrap_or_else(|p| p.into_inner()));
    println!(
        "h  SCIM write answered → webhook arrives      p50 {:>7.2} ms   p99 {:>7.2} ms   ({} writes, {} not arrived)",
        pct(hook_d.clone(), 0.5),
        pct(hook_d, 0.99),
        answered.len(),
        hook_missing
    );
    println!(
        "h  SCIM write answered → long poll wakes      p50 {:>7.2} ms   p99 {:>7.2} ms   ({} writes, {} not seen)",
        pct(poll_d.clone(), 0.5),
        pct(poll_d, 0.99),
        answered.len(),
        poll_missing
    );
    reader.abort();

    // Throughput: one PATCH adds up to 5,000 members (that many events in one commit); the
    // receiver's first and last arrival give the delivery rate to one endpoint.
    let members: Vec<Value> = ids.iter().take(5000).map(|i| json!({"value": i})).collect();
    let n = members.len();
    let group = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "displayName": format!("feed-bench-{run}")});
    let gid = match t.call(Method::POST, "/Groups", Some(&group)).await {
        Ok((s, b)) if s.is_success() => serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string)),
        _ => None,
    };
    let Some(gid) = gid else {
        println!("h  deliveries/s: skipped (group not created)");
        return;
    };
    let before = seen
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .arrivals
        .len();
    let patch = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "add", "path": "members", "value": members}]});
    let sent = Instant::now();
    let _ = t
        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(&patch))
        .await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let got = seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .arrivals
            .len()
            - before;
        if got >= n || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let g = seen.lock().unwrap_or_else(|p| p.into_inner());
    let mut times: Vec<Instant> = g
        .arrivals
        .values()
        .copied()
        .filter(|t| *t >= sent)
        .collect();
    times.sort();
    if let (Some(first), Some(last)) = (times.first(), times.last()) {
        let span = last.duration_since(*first).as_secs_f64().max(1e-6);
        println!(
            "h  webhook deliveries, one endpoint           {:>7} events in {:>6.2} s = {:>7.0} deliveries/s (local receiver)",
            times.len(),
            span,
            times.len() as f64 / span
        );
    }
}
