//! `scimgate-bench`: drives a running scimgate over HTTP and prints throughput, latency
//! percentiles and errors per scenario (issue: performance and scale). It can start the
//! server itself on a fresh, seeded database and then also reports the server's peak
//! resident memory. It is a separate binary: nothing here is on the product's request path.
//!
//! Scenarios: a POST /Users · b userName eq lookups · c GET /Users/{id} · d paging with
//! count=100 · e deactivate PATCH · f membership add/remove on a big and a small group ·
//! g an Okta-shaped mix · h the application side (webhook delivery rate, write → webhook
//! and write → long-poll delays; started server only).

mod console;
mod feed;
mod outside;
mod spawn;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use hyper_util::client::legacy::{connect::HttpConnector, Client};
use hyper_util::rt::TokioExecutor;
use serde_json::{json, Value};
use spawn::{cpu_ms, peak_rss_mb, start_server};
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Parser, Clone)]
#[command(
    name = "scimgate-bench",
    about = "Load benchmark for a scimgate SCIM endpoint"
)]
struct Args {
    /// Base URL of a running server (e.g. http://127.0.0.1:3000); default: start one
    #[arg(long)]
    url: Option<String>,
    /// Org login (with --url)
    #[arg(long, default_value = "bench")]
    org: String,
    /// SCIM token (with --url)
    #[arg(long, env = "SCIMGATE_BENCH_TOKEN")]
    token: Option<String>,
    /// Server binary to start when no --url is given
    #[arg(long, default_value = "target/release/scimgate")]
    server_bin: String,
    /// An extra flag for the started server's `serve` (repeatable), e.g.
    /// `--server-arg=--log-level=error`; by default it runs exactly as shipped
    #[arg(long = "server-arg", allow_hyphen_values = true)]
    server_args: Vec<String>,
    /// Start the server with SCIM writes recording no change events (the application's
    /// feed): the B side of measuring what events cost a write. Needs a server built with
    /// the `bench` feature; never a shipped configuration.
    #[arg(long)]
    without_change_events: bool,
    /// Database for the started server (default: a fresh SQLite file)
    #[arg(long)]
    database_url: Option<String>,
    /// Users to seed before the run (started server only)
    #[arg(long, default_value_t = 10_000)]
    seed_users: u64,
    /// Groups to seed
    #[arg(long, default_value_t = 100)]
    seed_groups: u64,
    /// Memberships to seed
    #[arg(long, default_value_t = 100_000)]
    seed_memberships: u64,
    /// Provisioning-log events to seed (for the console scenario)
    #[arg(long, default_value_t = 0)]
    seed_events: u64,
    /// Concurrent clients
    #[arg(long, short = 'c', default_value_t = 16)]
    concurrency: usize,
    /// Requests per scenario
    #[arg(long, short = 'n', default_value_t = 5000)]
    requests: usize,
    /// Members of the big group in scenario f
    #[arg(long, default_value_t = 10_000)]
    group_size: usize,
    /// Scenarios to run, e.g. a,b,c
    #[arg(long, default_value = "a,b,c,d,e,f,g")]
    scenarios: String,
    /// Load generator: `own` (this binary's client, every scenario) or `wrk` (the external
    /// wrk for a, b, c, e, with a static nginx and scim2-server as references)
    #[arg(long, value_enum, default_value_t = outside::Generator::Own)]
    generator: outside::Generator,
    /// wrk: open connections (-c)
    #[arg(long, default_value_t = 16)]
    wrk_connections: u32,
    /// wrk: threads (-t)
    #[arg(long, default_value_t = 2)]
    wrk_threads: u32,
    /// wrk: duration of each run (-d), e.g. 10s
    #[arg(long, default_value = "10s")]
    wrk_duration: String,
    /// wrk binary
    #[arg(long, default_value = "wrk")]
    wrk_bin: String,
    /// nginx binary for the static reference under wrk
    #[arg(long, default_value = "/usr/sbin/nginx")]
    nginx_bin: String,
    /// scim2-server reference for POST /Users under wrk: `auto` (start one with the peer
    /// scripts in --peers-dir), `off`, or the base URL of a running one
    #[arg(long, default_value = "auto")]
    peer_scim2: String,
    /// Bearer token of the scim2-server reference
    #[arg(long, default_value = "peer-token")]
    peer_token: String,
    /// Directory of the peer scripts (start-scim2-server.sh, stop-peer.sh)
    #[arg(long, default_value = "../shared/peers")]
    peers_dir: String,
}

type HttpClient = Client<HttpConnector, Full<Bytes>>;

const CONSOLE_PASSWORD: &str = "bench password, not secret";

#[derive(Clone)]
struct Target {
    client: HttpClient,
    base: String,
    auth: String,
}

impl Target {
    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(StatusCode, Bytes), String> {
        let req = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", &self.auth)
            .header("content-type", "application/scim+json")
            .header("user-agent", "Okta SCIM Client (scimgate-bench)")
            .body(Full::new(
                body.map(|b| Bytes::from(b.to_string())).unwrap_or_default(),
            ))
            .map_err(|e| e.to_string())?;
        let resp = self.client.request(req).await.map_err(|e| e.to_string())?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        Ok((status, bytes))
    }
}

struct Report {
    name: String,
    latencies_us: Vec<u64>,
    errors: usize,
    wall: Duration,
    /// CPU time the started server used during the run (user + system), in ms.
    server_cpu_ms: Option<f64>,
}

/// The started server's pid, for CPU time per request (none with --url).
static SERVER_PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

fn server_cpu_ms() -> Option<f64> {
    SERVER_PID.get().copied().and_then(cpu_ms)
}

impl Report {
    fn print(&self) {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        let pct = |p: f64| {
            if l.is_empty() {
                0.0
            } else {
                l[((l.len() as f64 * p).ceil() as usize).clamp(1, l.len()) - 1] as f64 / 1000.0
            }
        };
        let rps = self.latencies_us.len() as f64 / self.wall.as_secs_f64();
        println!(
            "{:<44} {:>7} req {:>5} err {:>9.0} req/s   p50 {:>7.2} ms   p95 {:>7.2} ms   p99 {:>7.2} ms",
            self.name,
            self.latencies_us.len(),
            self.errors,
            rps,
            pct(0.50),
            pct(0.95),
            pct(0.99)
        );
        // CPU per unit of work is far steadier than req/s on a shared machine.
        if let Some(ms) = self.server_cpu_ms {
            println!(
                "{:<44} server CPU {:>6.0} µs per unit",
                "",
                ms * 1000.0 / self.latencies_us.len().max(1) as f64
            );
        }
    }
    fn p50_ms(&self) -> f64 {
        let mut l = self.latencies_us.clone();
        l.sort_unstable();
        l.get(l.len() / 2).copied().unwrap_or(0) as f64 / 1000.0
    }
}

/// Runs `n` requests over `c` workers; `make(i)` gives the i-th request.
async fn run<F, Fut>(name: &str, n: usize, c: usize, make: F) -> Report
where
    F: Fn(usize) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<bool, String>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let make = Arc::new(make);
    let cpu_before = server_cpu_ms();
    let start = Instant::now();
    let mut handles = Vec::new();
    for _ in 0..c.max(1) {
        let (next, make) = (next.clone(), make.clone());
        handles.push(tokio::spawn(async move {
            let mut lat = Vec::new();
            let mut errors = 0;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let t = Instant::now();
                match make(i).await {
                    Ok(true) => lat.push(t.elapsed().as_micros() as u64),
                    _ => {
                        errors += 1;
                        lat.push(t.elapsed().as_micros() as u64);
                    }
                }
            }
            (lat, errors)
        }));
    }
    let mut latencies_us = Vec::with_capacity(n);
    let mut errors = 0;
    for h in handles {
        if let Ok((l, e)) = h.await {
            latencies_us.extend(l);
            errors += e;
        }
    }
    Report {
        name: name.to_string(),
        latencies_us,
        errors,
        wall: start.elapsed(),
        server_cpu_ms: cpu_before.zip(server_cpu_ms()).map(|(b, a)| a - b),
    }
}

fn ok(s: StatusCode) -> bool {
    s.is_success()
}

fn patch(ops: Value) -> Value {
    json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": ops})
}

fn filter_path(expr: &str) -> String {
    let enc: String = form_urlencoded::byte_serialize(expr.as_bytes()).collect();
    format!("/Users?filter={enc}")
}

#[tokio::main]
async fn main() {
    let a = Args::parse();
    let mut spawned = None;
    let mut spawned_db: Option<String> = None;
    let (url, token) = match &a.url {
        Some(u) => (u.clone(), a.token.clone().unwrap_or_default()),
        None => match start_server(&a) {
            Ok((s, u, t, db)) => {
                eprintln!(
                    "server: {} serve {} on {db} (its log: {})",
                    a.server_bin,
                    match (a.server_args.is_empty(), a.without_change_events) {
                        (true, false) => "(shipped defaults)".to_string(),
                        (_, without) => format!(
                            "{}{}",
                            a.server_args.join(" "),
                            if without {
                                " [bench build: change events NOT recorded]"
                            } else {
                                ""
                            }
                        ),
                    },
                    s.log.display()
                );
                spawned = Some(s);
                spawned_db = Some(db);
                (u, t)
            }
            Err(e) => {
                eprintln!("error: {e}");
                std::process::exit(1);
            }
        },
    };
    let mut connector = HttpConnector::new();
    connector.set_nodelay(true);
    let client: HttpClient = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(256)
        .build(connector);
    let t = Target {
        client,
        base: format!("{url}/scim/v2/{}", a.org),
        auth: format!("Bearer {token}"),
    };
    for _ in 0..100 {
        if t.call(Method::GET, "/ServiceProviderConfig", None)
            .await
            .map(|r| r.0.is_success())
            .unwrap_or(false)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let server_pid = spawned.as_ref().map(|s: &spawn::Spawned| s.child.id());
    let own = a.generator == outside::Generator::Own;
    if own {
        println!(
            "scimgate-bench: {} clients, {} requests per scenario, {url}",
            a.concurrency, a.requests
        );
    } else {
        outside::run(&t, &a, server_pid).await;
    }
    // With --generator wrk every scenario ran above (or was reported as skipped).
    let want = |s: &str| own && a.scenarios.split(',').any(|x| x.trim() == s);
    let run_id = std::process::id();
    let (n, c) = (a.requests, a.concurrency);
    let created: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();

    if let Some(pid) = server_pid {
        let _ = SERVER_PID.set(pid);
    }
    let cpu = move || server_pid.and_then(cpu_ms);
    if want("a") {
        let cpu_before = cpu();
        let (t2, created2) = (t.clone(), created.clone());
        let r = run("a  POST /Users", n, c, move |i| {
            let (t, created) = (t2.clone(), created2.clone());
            async move {
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": format!("bench-{run_id}-{i}@example.com"), "name": {"givenName": "B", "familyName": format!("{i}")}, "emails": [{"value": format!("bench-{run_id}-{i}@example.com"), "type": "work", "primary": true}], "active": true});
                let (s, b) = t.call(Method::POST, "/Users", Some(&body)).await?;
                if let Some(id) = serde_json::from_slice::<Value>(&b).ok().and_then(|v| v["id"].as_str().map(str::to_string)) {
                    created.lock().map_err(|e| e.to_string())?.push(id);
                }
                Ok(ok(s))
            }
        })
        .await;
        r.print();
        if let (Some(b), Some(a)) = (cpu_before, cpu()) {
            println!(
                "a  server CPU per POST /Users: {:.0} µs ({} requests)",
                (a - b) * 1000.0 / r.latencies_us.len().max(1) as f64,
                r.latencies_us.len()
            );
        }
    }
    // Ids to read and patch: created above, or the first pages of the directory.
    if own && created.lock().map(|c| c.is_empty()).unwrap_or(true) {
        let ids = first_user_ids(&t, 2000).await;
        if let Ok(mut c) = created.lock() {
            *c = ids;
        }
    }
    let ids: Arc<Vec<String>> = Arc::new(created.lock().map(|c| c.clone()).unwrap_or_default());
    let seeded = a.seed_users.max(1) as usize;

    if want("b") {
        let (t2, org) = (t.clone(), a.org.clone());
        let r = run("b  GET /Users?filter=userName eq (hit)", n, c, move |i| {
            let (t, org) = (t2.clone(), org.clone());
            async move {
                let user = (i * 7919) % seeded;
                let (s, b) = t
                    .call(
                        Method::GET,
                        &filter_path(&format!("userName eq \"user{user}@{org}.example\"")),
                        None,
                    )
                    .await?;
                Ok(ok(s) && (a_user_found(&b) || seeded == 0))
            }
        })
        .await;
        r.print();
    }
    if want("c") && !ids.is_empty() {
        let (t2, ids2) = (t.clone(), ids.clone());
        let r = run("c  GET /Users/{id}", n, c, move |i| {
            let (t, ids) = (t2.clone(), ids2.clone());
            async move {
                Ok(ok(t
                    .call(Method::GET, &format!("/Users/{}", ids[i % ids.len()]), None)
                    .await?
                    .0))
            }
        })
        .await;
        r.print();
    }
    if want("d") {
        let total: usize = t
            .call(Method::GET, "/Users?count=0", None)
            .await
            .ok()
            .and_then(|(_, b)| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["totalResults"].as_u64())
            .unwrap_or(0) as usize;
        let pages = total.div_ceil(100).max(1);
        let t2 = t.clone();
        let r = run(
            &format!("d  paging all {total} users, count=100"),
            pages,
            c,
            move |p| {
                let t = t2.clone();
                async move {
                    Ok(ok(t
                        .call(
                            Method::GET,
                            &format!("/Users?startIndex={}&count=100", p * 100 + 1),
                            None,
                        )
                        .await?
                        .0))
                }
            },
        )
        .await;
        r.print();
    }
    if want("e") && !ids.is_empty() {
        let (t2, ids2) = (t.clone(), ids.clone());
        let r = run("e  PATCH active=false (deactivate)", n, c, move |i| {
            let (t, ids) = (t2.clone(), ids2.clone());
            async move {
                let body = patch(json!([{"op": "replace", "value": {"active": i % 2 == 1}}]));
                Ok(ok(t
                    .call(
                        Method::PATCH,
                        &format!("/Users/{}", ids[i % ids.len()]),
                        Some(&body),
                    )
                    .await?
                    .0))
            }
        })
        .await;
        r.print();
    }
    if want("f") {
        membership(&t, &a, run_id).await;
    }
    if want("g") {
        let t2 = t.clone();
        // One unit = Okta's lifecycle for one user: pre-create lookup, POST, GET, profile
        // PATCH, deactivate PATCH (5 requests); latencies are per unit.
        let r = run("g  Okta mix, per 5-request user lifecycle", n / 5, c, move |i| {
            let t = t2.clone();
            async move {
                let user = format!("okta-mix-{run_id}-{i}@example.com");
                let miss = ok(t.call(Method::GET, &filter_path(&format!("userName eq \"{user}\"")), None).await?.0);
                let body = json!({"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": user, "active": true, "name": {"givenName": "M", "familyName": "X"}});
                let (s, b) = t.call(Method::POST, "/Users", Some(&body)).await?;
                let id = serde_json::from_slice::<Value>(&b).ok().and_then(|v| v["id"].as_str().map(str::to_string)).unwrap_or_default();
                let got = ok(t.call(Method::GET, &format!("/Users/{id}"), None).await?.0);
                let upd = ok(t.call(Method::PATCH, &format!("/Users/{id}"), Some(&patch(json!([{"op": "replace", "path": "name.givenName", "value": "N"}])))).await?.0);
                let deact = ok(t.call(Method::PATCH, &format!("/Users/{id}"), Some(&patch(json!([{"op": "replace", "value": {"active": false}}])))).await?.0);
                Ok(miss && ok(s) && got && upd && deact)
            }
        })
        .await;
        r.print();
        println!(
            "{:<44} {:>9.0} req/s",
            "g  (requests)",
            (r.latencies_us.len() * 5) as f64 / r.wall.as_secs_f64()
        );
    }

    if want("console") {
        console::console(&t.client, &url, &a.org).await;
    }
    if want("h") {
        match &spawned_db {
            Some(db) => {
                let many = first_user_ids(&t, 5000).await;
                feed::feed(&t, &t.client, &url, &a.org, &a.server_bin, db, &many).await
            }
            None => println!("h  skipped: needs a server started by the benchmark"),
        }
    }

    if let Some(mut s) = spawned.take() {
        let pid = s.child.id();
        match peak_rss_mb(pid) {
            Some(mb) => println!("server peak resident memory (VmHWM): {mb:.1} MB"),
            None => println!("server peak resident memory: unavailable"),
        }
        let _ = Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status();
        let _ = s.child.wait();
    }
}

fn a_user_found(b: &[u8]) -> bool {
    serde_json::from_slice::<Value>(b)
        .ok()
        .and_then(|v| v["totalResults"].as_i64())
        .unwrap_or(0)
        == 1
}

/// Scenario f: build a group of `group_size` members in batches of 100, then single-member
/// add/remove PATCHes on it and on a 10-member group.
async fn membership(t: &Target, a: &Args, run_id: u32) {
    // Enough users: the directory's first pages.
    let ids = first_user_ids(t, a.group_size + 200).await;
    if ids.len() < 220 {
        println!("f  skipped: the directory has fewer than 220 users");
        return;
    }
    let size = a.group_size.min(ids.len() - 200);
    let mut groups = Vec::new();
    for (label, members) in [("big", size), ("small", 10)] {
        let (s, b) = t
            .call(
                Method::POST,
                "/Groups",
                Some(&json!({"displayName": format!("bench-{label}-{run_id}")})),
            )
            .await
            .unwrap_or_default();
        let gid = serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| v["id"].as_str().map(str::to_string))
            .unwrap_or_default();
        if !s.is_success() {
            println!("f  could not create a group: {s}");
            return;
        }
        let build = Instant::now();
        let mut batches = Report {
            name: format!("f  build {label} group ({members}) in PATCHes of 100"),
            latencies_us: Vec::new(),
            errors: 0,
            wall: Duration::ZERO,
            server_cpu_ms: None,
        };
        for chunk in ids[..members].chunks(100) {
            let value: Vec<Value> = chunk.iter().map(|id| json!({"value": id})).collect();
            let tt = Instant::now();
            let (s, _) = t
                .call(
                    Method::PATCH,
                    &format!("/Groups/{gid}"),
                    Some(&patch(
                        json!([{"op": "add", "path": "members", "value": value}]),
                    )),
                )
                .await
                .unwrap_or_default();
            batches.latencies_us.push(tt.elapsed().as_micros() as u64);
            if !s.is_success() {
                batches.errors += 1;
            }
        }
        batches.wall = build.elapsed();
        batches.print();
        groups.push((label, gid));
    }
    let extra: Arc<Vec<String>> = Arc::new(ids[ids.len() - 200..].to_vec());
    let mut p50 = Vec::new();
    for (label, gid) in groups {
        let (t2, extra2, gid2) = (t.clone(), extra.clone(), gid.clone());
        // Alternate add and remove of users outside the group: each request changes one row.
        let r = run(
            &format!("f  single add/remove on {label} group"),
            a.requests.min(4000),
            a.concurrency,
            move |i| {
                let (t, extra, gid) = (t2.clone(), extra2.clone(), gid2.clone());
                async move {
                    let user = &extra[(i / 2) % extra.len()];
                    let op = if i % 2 == 0 {
                        json!([{"op": "add", "path": "members", "value": [{"value": user}]}])
                    } else {
                        json!([{"op": "remove", "path": format!("members[value eq \"{user}\"]")}])
                    };
                    Ok(ok(t
                        .call(Method::PATCH, &format!("/Groups/{gid}"), Some(&patch(op)))
                        .await?
                        .0))
                }
            },
        )
        .await;
        r.print();
        p50.push(r.p50_ms());
    }
    if let [big, small] = p50[..] {
        println!(
            "f  big/small p50 ratio: {:.2} (target ≤ 2)",
            big / small.max(0.001)
        );
    }
}

/// The ids of the directory's first `want` users (fewer if it is smaller).
async fn first_user_ids(t: &Target, want: usize) -> Vec<String> {
    let mut ids: Vec<String> = Vec::new();
    while ids.len() < want {
        let path = format!(
            "/Users?count=1000&startIndex={}&attributes=id",
            ids.len() + 1
        );
        let Ok((_, b)) = t.call(Method::GET, &path, None).await else {
            break;
        };
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        let page: Vec<String> = v["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| r["id"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        if page.is_empty() {
            break;
        }
        ids.extend(page);
    }
    ids
}
