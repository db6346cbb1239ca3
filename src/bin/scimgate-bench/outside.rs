//! `--generator wrk`: measure the server as shipped, from outside (issue 14, item 1).
//!
//! The own client lives in this process and shares the machine's two cores with the
//! server in a way no deployment does, and its own costs are unknown. Here an external,
//! widely used generator (`wrk`) drives scenarios a, b, c and e, and the same `wrk` drives
//! two references in the same run, so the figures can be read against something:
//! - a static nginx answer (the ceiling of what any HTTP server can do here under this
//!   generator; the issue's target is lookups ≥ 20 % of it),
//! - scim2-server 0.8.3 (Python) for POST /Users (another SCIM server doing the same work).
//!
//! For every run: wrk's req/s, latency percentiles and errors (non-2xx answers and socket
//! errors), and the server's CPU time per request from /proc/<pid>/stat sampled around
//! the wrk run. CPU per request is the figure to compare across runs: req/s on a shared
//! 2-core machine moves with whatever else runs.
//!
//! Nothing here panics: a missing tool or a failed start prints why and the bench goes on.

use super::{filter_path, spawn::cpu_ms, Args, Target};
use hyper::Method;
use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Generator {
    /// This binary's own HTTP client (every scenario)
    Own,
    /// The external `wrk` (scenarios a, b, c, e plus nginx and scim2-server references)
    Wrk,
}

/// Users fetched from the directory to build lookups, reads and PATCHes from.
const SAMPLE_USERS: usize = 2000;

/// The headers every request carries: the same as the own client's (`Target::call`).
const USER_AGENT: &str = "Okta SCIM Client (scimgate-bench)";

/// The scratch directory for Lua scripts and nginx's files: a subdirectory of the bench's
/// temporary directory (the one `spawn` uses, removed when the bench ends), removed here
/// too so a `--url` run leaves nothing behind either.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Result<Scratch, String> {
        let dir = std::env::temp_dir()
            .join(format!("scimgate-bench-{}", std::process::id()))
            .join("outside");
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(Scratch(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
        // Only succeeds when empty, i.e. when no started server's files live there.
        if let Some(parent) = self.0.parent() {
            let _ = std::fs::remove_dir(parent);
        }
    }
}

/// One wrk run, as parsed from its output.
#[derive(Debug, Default, Clone)]
struct WrkRun {
    requests: u64,
    secs: f64,
    rps: f64,
    /// "Non-2xx or 3xx responses:" (wrk counts 3xx as success; SCIM never redirects).
    non_2xx: u64,
    /// "Socket errors: connect, read, write, timeout" summed.
    socket_errors: u64,
    p50_ms: Option<f64>,
    /// wrk's --latency table has no p95; it comes from the script's done() line.
    p95_ms: Option<f64>,
    p99_ms: Option<f64>,
    /// CPU time of the server (process and its children) during the run, in ms.
    cpu_ms: Option<f64>,
}

impl WrkRun {
    fn errors(&self) -> u64 {
        self.non_2xx + self.socket_errors
    }
    fn cpu_us_per_request(&self) -> Option<f64> {
        self.cpu_ms
            .filter(|_| self.requests > 0)
            .map(|ms| ms * 1000.0 / self.requests as f64)
    }
    /// Same columns as `Report::print`, so own and wrk runs read alike.
    fn print(&self, name: &str) {
        let ms = |v: Option<f64>| v.map_or("      -".to_string(), |v| format!("{v:>7.2}"));
        println!(
            "{:<44} {:>7} req {:>5} err {:>9.0} req/s   p50 {} ms   p95 {} ms   p99 {} ms",
            name,
            self.requests,
            self.errors(),
            self.rps,
            ms(self.p50_ms),
            ms(self.p95_ms),
            ms(self.p99_ms)
        );
        match (self.cpu_us_per_request(), self.cpu_ms) {
            (Some(us), Some(total)) => println!(
                "{:<44} server CPU {:>6.0} µs per request ({:.0} % of one core)",
                "",
                us,
                total / (self.secs.max(0.001) * 10.0)
            ),
            _ => println!(
                "{:<44} server CPU unavailable (not started by the bench)",
                ""
            ),
        }
        if self.errors() > 0 {
            println!(
                "{:<44} errors: {} non-2xx/3xx answers, {} socket errors",
                "", self.non_2xx, self.socket_errors
            );
        }
    }
}

/// CPU of a process plus its direct children: nginx's work is done by its worker, a child
/// of the master we started. Children are found by scanning /proc for their parent pid.
fn tree_cpu_ms(pid: u32) -> Option<f64> {
    let mut total = cpu_ms(pid)?;
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for e in entries.flatten() {
            let Some(child) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                continue;
            };
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{child}/stat")) else {
                continue;
            };
            // Field 4 (ppid) is the second after the parenthesised command name.
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat.get(i + 2..))
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|p| p.parse::<u32>().ok());
            if ppid == Some(pid) {
                total += cpu_ms(child).unwrap_or(0.0);
            }
        }
    }
    Some(total)
}

/// "http://127.0.0.1:8080/scim/v2/org" → ("http://127.0.0.1:8080", "/scim/v2/org").
fn split_base(base: &str) -> (String, String) {
    let after = base.find("://").map_or(0, |i| i + 3);
    match base[after..].find('/') {
        Some(i) => (
            base[..after + i].to_string(),
            base[after + i..].trim_end_matches('/').to_string(),
        ),
        None => (base.trim_end_matches('/').to_string(), String::new()),
    }
}

/// A Lua string literal for any text (decimal escapes for anything not printable ASCII).
fn lua_str(s: &str) -> String {
    let mut o = String::with_capacity(s.len() + 2);
    o.push('"');
    for b in s.bytes() {
        match b {
            b'"' => o.push_str("\\\""),
            b'\\' => o.push_str("\\\\"),
            0x20..=0x7e => o.push(b as char),
            _ => {
                let _ = write!(o, "\\{b:03}");
            }
        }
    }
    o.push('"');
    o
}

/// Script parts every scenario shares: headers, the per-thread id (`setup(thread)` runs in
/// wrk's main Lua state before each thread's `init`, and `thread:set` makes `tid` a global
/// in that thread's own state), and a `done()` that prints what the --latency table lacks
/// (p95) in a line easy to parse.
fn lua_common(auth: &str) -> String {
    format!(
        r#"wrk.headers["Authorization"] = {auth}
wrk.headers["Content-Type"] = "application/scim+json"
wrk.headers["User-Agent"] = {ua}
local next_tid = 0
function setup(thread)
  thread:set("tid", next_tid)
  next_tid = next_tid + 1
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format("SCIMGATE-BENCH requests=%d status=%d connect=%d read=%d write=%d timeout=%d p50=%d p95=%d p99=%d\n",
    summary.requests, e.status, e.connect, e.read, e.write, e.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99)))
end
"#,
        auth = lua_str(auth),
        ua = lua_str(USER_AGENT)
    )
}

/// A script that cycles through fixed requests, formatted once per thread in `init` so the
/// generator spends as little as possible per request. `owner` ≥ 0 gives an item to one
/// thread only (PATCHes on one id must stay in order), -1 to every thread (threads then
/// start at different offsets).
fn lua_list(auth: &str, threads: u32, items: &[(&str, String, Option<String>, i64)]) -> String {
    let mut s = lua_common(auth);
    s.push_str("local items = {\n");
    for (method, path, body, owner) in items {
        let _ = writeln!(
            s,
            "  {{{}, {}, {}, {owner}}},",
            lua_str(method),
            lua_str(path),
            body.as_deref().map_or("nil".to_string(), lua_str)
        );
    }
    let _ = write!(
        s,
        r#"}}
local reqs, i = {{}}, 0
function init(args)
  local me = (tid or 0) % {threads}
  for _, it in ipairs(items) do
    if it[4] < 0 or it[4] == me then
      reqs[#reqs + 1] = wrk.format(it[1], it[2], nil, it[3])
    end
  end
  -- A thread that owns nothing (fewer items than threads) shares everything rather than
  -- failing on an empty list.
  if #reqs == 0 then
    for _, it in ipairs(items) do reqs[#reqs + 1] = wrk.format(it[1], it[2], nil, it[3]) end
  end
  if #reqs > 0 then i = (me * 997) % #reqs end
end
function request()
  i = i % #reqs + 1
  return reqs[i]
end
"#
    );
    s
}

/// POST /Users with a userName nobody used: a per-run tag, the thread id and a counter.
fn lua_post(auth: &str, path: &str, tag: &str) -> String {
    let mut s = lua_common(auth);
    let _ = write!(
        s,
        r#"local path, tag, n = {path}, {tag}, 0
function request()
  n = n + 1
  local u = tag .. "t" .. (tid or 0) .. "-" .. n .. "@example.com"
  return wrk.format("POST", path, nil,
    '{{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"' .. u ..
    '","name":{{"givenName":"B","familyName":"' .. n .. '"}},"emails":[{{"value":"' .. u ..
    '","type":"work","primary":true}}],"active":true}}')
end
"#,
        path = lua_str(path),
        tag = lua_str(tag)
    );
    s
}

/// "1.23ms" / "456.00us" / "1.02s" / "2.00m" → milliseconds.
fn parse_dur_ms(s: &str) -> Option<f64> {
    let s = s.trim();
    let (num, mult) = if let Some(v) = s.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = s.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = s.strip_suffix('s') {
        (v, 1000.0)
    } else if let Some(v) = s.strip_suffix('m') {
        (v, 60_000.0)
    } else if let Some(v) = s.strip_suffix('h') {
        (v, 3_600_000.0)
    } else {
        (s, 1.0)
    };
    num.parse::<f64>().ok().map(|v| v * mult)
}

/// wrk's standard text, plus the done() line of `lua_common` for p95.
fn parse_wrk(out: &str) -> Result<WrkRun, String> {
    let mut r = WrkRun::default();
    let mut seen_rps = false;
    for line in out.lines() {
        let l = line.trim();
        if let Some(v) = l.strip_prefix("Requests/sec:") {
            r.rps = v.trim().parse().unwrap_or(0.0);
            seen_rps = true;
        } else if let Some(v) = l.strip_prefix("Non-2xx or 3xx responses:") {
            r.non_2xx = v.trim().parse().unwrap_or(0);
        } else if let Some(v) = l.strip_prefix("Socket errors:") {
            // "connect 0, read 3, write 0, timeout 0"
            r.socket_errors = v
                .split(',')
                .filter_map(|p| p.split_whitespace().nth(1))
                .filter_map(|n| n.parse::<u64>().ok())
                .sum();
        } else if l.contains(" requests in ") {
            // "123456 requests in 10.00s, 45.6MB read"
            let mut w = l.split_whitespace();
            r.requests = w.next().and_then(|n| n.parse().ok()).unwrap_or(0);
            r.secs = l
                .split(" requests in ")
                .nth(1)
                .and_then(|x| x.split(',').next())
                .and_then(parse_dur_ms)
                .map_or(0.0, |ms| ms / 1000.0);
        } else if let Some(v) = l.strip_prefix("50%") {
            r.p50_ms = parse_dur_ms(v);
        } else if let Some(v) = l.strip_prefix("99%") {
            r.p99_ms = parse_dur_ms(v);
        } else if let Some(v) = l.strip_prefix("SCIMGATE-BENCH ") {
            for kv in v.split_whitespace() {
                if let Some(("p95", us)) = kv.split_once('=') {
                    r.p95_ms = us.parse::<f64>().ok().map(|us| us / 1000.0);
                }
            }
        }
    }
    if !seen_rps {
        return Err("no \"Requests/sec:\" line in wrk's output".into());
    }
    Ok(r)
}

struct Wrk<'a> {
    a: &'a Args,
    dir: &'a Path,
}

impl Wrk<'_> {
    /// Runs wrk with `script` against `origin`, sampling `pid`'s CPU around it.
    fn run(&self, name: &str, origin: &str, script: &str, pid: Option<u32>) -> Option<WrkRun> {
        let file = self.dir.join(format!(
            "{}.lua",
            name.chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        ));
        if let Err(e) = std::fs::write(&file, script) {
            println!("{name}: cannot write {}: {e}", file.display());
            return None;
        }
        let cpu_before = pid.and_then(tree_cpu_ms);
        let out = Command::new(&self.a.wrk_bin)
            .arg("-t")
            .arg(self.a.wrk_threads.to_string())
            .arg("-c")
            .arg(self.a.wrk_connections.to_string())
            .arg("-d")
            .arg(&self.a.wrk_duration)
            .arg("--latency")
            .arg("-s")
            .arg(&file)
            // The path is the script's: wrk only needs the host and port from the URL.
            .arg(format!("{origin}/"))
            .output();
        let cpu_after = pid.and_then(tree_cpu_ms);
        let out = match out {
            Ok(o) => o,
            Err(e) => {
                println!("{name}: cannot run {}: {e}", self.a.wrk_bin);
                return None;
            }
        };
        let text = String::from_utf8_lossy(&out.stdout);
        if !out.status.success() {
            println!(
                "{name}: wrk failed ({}): {}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                text.trim()
            );
            return None;
        }
        match parse_wrk(&text) {
            Ok(mut r) => {
                r.cpu_ms = cpu_before.zip(cpu_after).map(|(b, a)| a - b);
                r.print(name);
                Some(r)
            }
            Err(e) => {
                println!("{name}: {e}; wrk said:\n{text}");
                None
            }
        }
    }
}

/// The directory's first `want` users: id, userName and active (to flip it in scenario e).
async fn first_users(t: &Target, want: usize) -> Vec<(String, String, bool)> {
    let mut users = Vec::new();
    while users.len() < want {
        let path = format!(
            "/Users?count=1000&startIndex={}&attributes=userName,active",
            users.len() + 1
        );
        let Ok((_, b)) = t.call(Method::GET, &path, None).await else {
            break;
        };
        let v: Value = serde_json::from_slice(&b).unwrap_or(Value::Null);
        let page: Vec<(String, String, bool)> = v["Resources"]
            .as_array()
            .map(|a| {
                a.iter()
                    .filter_map(|r| {
                        Some((
                            r["id"].as_str()?.to_string(),
                            r["userName"].as_str()?.to_string(),
                            // Absent = the SCIM default for a provisioned user.
                            r["active"].as_bool().unwrap_or(true),
                        ))
                    })
                    .collect()
            })
            .unwrap_or_default();
        if page.is_empty() {
            break;
        }
        users.extend(page);
    }
    users.truncate(want);
    users
}

fn free_port() -> Result<u16, String> {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| e.to_string())
}

/// Asks a child to stop (SIGTERM: nginx's master then stops its worker; SIGKILL would
/// orphan it), and kills it if it has not gone after 5 s.
fn stop(child: &mut Child) {
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// nginx with a minimal config: one worker, no access log, a fixed small JSON answer for
/// any path. keepalive_requests is raised because nginx's default (1000) closes a
/// connection every 1000 requests while scimgate keeps it: both should run on kept-alive
/// connections, as wrk uses them.
fn start_nginx(a: &Args, dir: &Path) -> Result<(Child, String), String> {
    let port = free_port()?;
    let d = dir.join("nginx");
    std::fs::create_dir_all(&d).map_err(|e| e.to_string())?;
    let p = d.display();
    let conf = format!(
        r#"daemon off;
worker_processes 1;
pid {p}/nginx.pid;
error_log {p}/error.log warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 1000000;
  client_body_temp_path {p}/body;
  proxy_temp_path {p}/proxy;
  fastcgi_temp_path {p}/fastcgi;
  uwsgi_temp_path {p}/uwsgi;
  scgi_temp_path {p}/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{
      default_type application/scim+json;
      return 200 '{{"schemas":["urn:ietf:params:scim:api:messages:2.0:ListResponse"],"totalResults":0,"Resources":[]}}';
    }}
  }}
}}
"#
    );
    let conf_path = d.join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let log = std::fs::File::create(d.join("stderr.log")).map_err(|e| e.to_string())?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    let mut child = Command::new(&a.nginx_bin)
        .arg("-p")
        .arg(&d)
        .arg("-c")
        .arg(&conf_path)
        // -e: the error log before the config is read (else /var/log/nginx/error.log).
        .arg("-e")
        .arg(d.join("error.log"))
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log2)
        .spawn()
        .map_err(|e| format!("{}: {e}", a.nginx_bin))?;
    let t = Instant::now();
    while t.elapsed() < Duration::from_secs(5) {
        if let Ok(Some(status)) = child.try_wait() {
            let err = std::fs::read_to_string(d.join("stderr.log")).unwrap_or_default()
                + &std::fs::read_to_string(d.join("error.log")).unwrap_or_default();
            return Err(format!("nginx exited ({status}): {}", err.trim()));
        }
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok((child, format!("http://127.0.0.1:{port}")));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    stop(&mut child);
    Err("nginx did not listen within 5 s".into())
}

/// A scim2-server started with the shared peer scripts; stopped by its pid on drop.
struct Peer {
    pid: u32,
    stop_script: PathBuf,
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = Command::new(&self.stop_script)
            .arg(self.pid.to_string())
            .stdout(Stdio::null())
            .status();
    }
}

/// Starts scim2-server with `start-scim2-server.sh PORT`, which prints
/// "PID=... BASE=http://127.0.0.1:PORT/v2" once it answers.
fn start_peer(peers_dir: &Path) -> Result<(Peer, String), String> {
    let start = peers_dir.join("start-scim2-server.sh");
    let stop_script = peers_dir.join("stop-peer.sh");
    if !start.exists() || !stop_script.exists() {
        return Err(format!("{} not found", start.display()));
    }
    let port = free_port()?;
    let out = Command::new(&start)
        .arg(port.to_string())
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("{}: {e}", start.display()))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |k: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .map(str::to_string)
    };
    let pid = field("PID=").and_then(|p| p.parse::<u32>().ok());
    match (pid, field("BASE=")) {
        (Some(pid), Some(base)) if out.status.success() => Ok((Peer { pid, stop_script }, base)),
        (pid, _) => {
            if let Some(pid) = pid {
                drop(Peer { pid, stop_script });
            }
            Err(format!(
                "{} failed ({}): {} (run {}/setup.sh once?)",
                start.display(),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim(),
                peers_dir.display()
            ))
        }
    }
}

/// A ratio over runs with errors compares error answers, not the work: say so.
fn with_errors(x: &WrkRun, y: &WrkRun) -> &'static str {
    if x.errors() + y.errors() > 0 {
        " (NOT comparable: a run had errors)"
    } else {
        ""
    }
}

/// Checks that the lookups are what they claim: the first hit finds one user, a miss none.
async fn check_lookups(t: &Target, hit: &str, miss: &str) -> Result<(), String> {
    for (path, want) in [(hit, 1), (miss, 0)] {
        let (s, b) = t.call(Method::GET, path, None).await?;
        let total = serde_json::from_slice::<Value>(&b)
            .ok()
            .and_then(|v| v["totalResults"].as_i64());
        if !s.is_success() || total != Some(want) {
            return Err(format!(
                "GET {path}: {s}, totalResults {total:?}, expected {want}"
            ));
        }
    }
    Ok(())
}

pub async fn run(t: &Target, a: &Args, server_pid: Option<u32>) {
    let want = |s: &str| a.scenarios.split(',').any(|x| x.trim() == s);
    let version = Command::new(&a.wrk_bin).arg("--version").output().map(|o| {
        let s =
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr);
        // "wrk debian/4.1.0-3+b2 [epoll] Copyright (C) 2012 Will Glozer"
        let first = s.lines().next().unwrap_or("");
        first
            .split(" Copyright")
            .next()
            .unwrap_or(first)
            .trim()
            .to_string()
    });
    let version = match version {
        Ok(v) => v,
        Err(e) => {
            println!("--generator wrk: cannot run {}: {e}", a.wrk_bin);
            return;
        }
    };
    let scratch = match Scratch::new() {
        Ok(s) => s,
        Err(e) => {
            println!("--generator wrk: {e}");
            return;
        }
    };
    let w = Wrk { a, dir: &scratch.0 };
    let server = match (&a.url, a.server_args.is_empty() && !a.without_change_events) {
        (Some(u), _) => format!("external server at {u} (flags unknown, no CPU figures)"),
        (None, true) => "scimgate serve (shipped defaults)".to_string(),
        (None, false) => format!(
            "scimgate serve {}{}",
            a.server_args.join(" "),
            if a.without_change_events {
                " [bench build: change events NOT recorded]"
            } else {
                ""
            }
        ),
    };
    println!(
        "scimgate-bench --generator wrk: {version}; -t {} -c {} -d {} per scenario, keep-alive, \
         on the same {}-core machine as the servers",
        a.wrk_threads,
        a.wrk_connections,
        a.wrk_duration,
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    println!("server under test: {server}");
    if a.wrk_connections < a.wrk_threads {
        println!("note: wrk needs --wrk-connections ≥ --wrk-threads");
    }
    for s in ["d", "f", "g", "h", "console"] {
        if want(s) {
            println!("{s}  skipped: no wrk form (run it with --generator own)");
        }
    }

    let (origin, prefix) = split_base(&t.base);
    let auth = t.auth.as_str();
    let users = first_users(t, SAMPLE_USERS).await;
    if users.is_empty() {
        println!("the directory has no users (or listing them failed): a, nginx and the peer only");
    }
    let threads = a.wrk_threads.max(1);
    // b: half hits (real userNames, in directory order), half misses, interleaved. The
    // same requests go to nginx, so the two runs send identical bytes.
    let lookups: Vec<(&str, String, Option<String>, i64)> = users
        .iter()
        .enumerate()
        .flat_map(|(j, (_, name, _))| {
            [
                (
                    "GET",
                    format!(
                        "{prefix}{}",
                        filter_path(&format!("userName eq \"{name}\""))
                    ),
                    None,
                    -1,
                ),
                (
                    "GET",
                    format!(
                        "{prefix}{}",
                        filter_path(&format!("userName eq \"absent-{j}@nowhere.example\""))
                    ),
                    None,
                    -1,
                ),
            ]
        })
        .collect();

    // nginx first, right before b: the pair the issue's 20 % target compares.
    let mut nginx = None;
    let nginx_items: Vec<_> = if lookups.is_empty() {
        vec![("GET", format!("{prefix}/Users"), None, -1)]
    } else {
        lookups.clone()
    };
    match start_nginx(a, &scratch.0) {
        Ok((mut child, ng_origin)) => {
            let pid = child.id();
            nginx = w.run(
                "ref nginx static 200, b's requests",
                &ng_origin,
                &lua_list(auth, threads, &nginx_items),
                Some(pid),
            );
            stop(&mut child);
        }
        Err(e) => println!("ref nginx: skipped: {e}"),
    }

    let mut b = None;
    if want("b") && !lookups.is_empty() {
        let (hit, miss) = (
            lookups.first().map(|l| l.1.clone()).unwrap_or_default(),
            lookups.get(1).map(|l| l.1.clone()).unwrap_or_default(),
        );
        // The checks go through the full URL prefix, so strip it for Target::call.
        let rel = |p: &str| p.strip_prefix(&prefix).unwrap_or(p).to_string();
        if let Err(e) = check_lookups(t, &rel(&hit), &rel(&miss)).await {
            println!("b  warning: {e}");
        }
        b = w.run(
            "b  userName eq lookups (½ hit, ½ miss)",
            &origin,
            &lua_list(auth, threads, &lookups),
            server_pid,
        );
    }
    if want("c") && !users.is_empty() {
        let items: Vec<_> = users
            .iter()
            .map(|(id, _, _)| ("GET", format!("{prefix}/Users/{id}"), None, -1))
            .collect();
        w.run(
            "c  GET /Users/{id}",
            &origin,
            &lua_list(auth, threads, &items),
            server_pid,
        );
    }
    if want("e") && !users.is_empty() {
        // Each id belongs to one wrk thread, which sends it the opposite of its current
        // `active`, and a whole pass over its ids later the original value: every PATCH is
        // a real change, and two PATCHes on one id are never in flight together as long as
        // a thread has more ids than connections.
        let body = |active: bool| {
            Some(format!(
                r#"{{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{{"op":"replace","path":"active","value":{active}}}]}}"#
            ))
        };
        let pfx = prefix.as_str();
        let pass = |flip: bool| {
            users.iter().enumerate().map(move |(j, (id, _, active))| {
                (
                    "PATCH",
                    format!("{pfx}/Users/{id}"),
                    body(*active != flip),
                    (j as u32 % threads) as i64,
                )
            })
        };
        let items: Vec<_> = pass(true).chain(pass(false)).collect();
        if (users.len() as u32 / threads) < a.wrk_connections.div_ceil(threads) * 2 {
            println!("e  note: few users per wrk thread; some PATCHes may overlap on one id");
        }
        w.run(
            "e  PATCH active false/true (deactivate)",
            &origin,
            &lua_list(auth, threads, &items),
            server_pid,
        );
    }
    // a last of the scimgate runs: it grows the directory the lookups above read.
    let tag = format!(
        "wrk-{}-{}-",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    );
    let mut post = None;
    if want("a") {
        post = w.run(
            "a  POST /Users",
            &origin,
            &lua_post(auth, &format!("{prefix}/Users"), &tag),
            server_pid,
        );
    }

    // scim2-server: POST /Users reference.
    let mut peer_post = None;
    if want("a") {
        let peer = match a.peer_scim2.as_str() {
            "off" => Err("--peer-scim2 off".to_string()),
            "auto" => start_peer(Path::new(&a.peers_dir)).map(|(p, base)| (Some(p), base)),
            base => Ok((None, base.trim_end_matches('/').to_string())),
        };
        match peer {
            Ok((peer, base)) => {
                let (p_origin, p_prefix) = split_base(&base);
                println!(
                    "ref scim2-server 0.8.3 at {base}: Python wsgiref, HTTP/1.0 (a new \
                     connection per request), token \"{}\"",
                    a.peer_token
                );
                peer_post = w.run(
                    "ref scim2-server POST /Users",
                    &p_origin,
                    &lua_post(
                        &format!("Bearer {}", a.peer_token),
                        &format!("{p_prefix}/Users"),
                        &tag,
                    ),
                    peer.as_ref().map(|p| p.pid),
                );
                drop(peer);
            }
            Err(e) => println!("ref scim2-server: skipped: {e}"),
        }
    }

    println!("configuration: wrk -t {} -c {} -d {} --latency; nginx: daemon off, worker_processes 1, access_log off, keepalive_requests 1000000; server: {server}",
        a.wrk_threads, a.wrk_connections, a.wrk_duration);
    match (&b, &nginx) {
        (Some(b), Some(n)) if n.rps > 0.0 => println!(
            "b lookups vs nginx: {:.1} % of nginx req/s (target ≥ 20 %){}{}",
            b.rps * 100.0 / n.rps,
            match (b.cpu_us_per_request(), n.cpu_us_per_request()) {
                (Some(x), Some(y)) => format!("; server CPU per request {x:.0} µs vs {y:.0} µs"),
                _ => String::new(),
            },
            with_errors(b, n)
        ),
        _ if want("b") => println!("b lookups vs nginx: unavailable"),
        _ => {}
    }
    match (&post, &peer_post) {
        (Some(p), Some(r)) if r.rps > 0.0 => println!(
            "a POST vs scim2-server: {:.1}× its req/s{}{}",
            p.rps / r.rps,
            match (p.cpu_us_per_request(), r.cpu_us_per_request()) {
                (Some(x), Some(y)) if x > 0.0 => format!(
                    "; server CPU per POST {x:.0} µs vs {y:.0} µs (scim2-server/scimgate {:.1}×)",
                    y / x
                ),
                _ => String::new(),
            },
            with_errors(p, r)
        ),
        _ if want("a") => println!("a POST vs scim2-server: unavailable"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_wrk_output() {
        let out = "Running 10s test @ http://127.0.0.1:1/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     1.20ms  300.00us   9.00ms   80.00%
  Latency Distribution
     50%  654.00us
     75%    1.10ms
     90%    2.00ms
     99%    1.02s
  123456 requests in 10.00s, 45.60MB read
  Socket errors: connect 1, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  12345.60
Transfer/sec:      4.56MB
SCIMGATE-BENCH requests=123456 status=7 connect=1 read=2 write=0 timeout=3 p50=654 p95=2500 p99=1020000
";
        let r = parse_wrk(out).expect("parsed");
        assert_eq!(r.requests, 123_456);
        assert!((r.secs - 10.0).abs() < 1e-9);
        assert!((r.rps - 12345.6).abs() < 1e-9);
        assert_eq!((r.non_2xx, r.socket_errors, r.errors()), (7, 6, 13));
        assert_eq!(r.p50_ms, Some(0.654));
        assert_eq!(r.p95_ms, Some(2.5));
        assert_eq!(r.p99_ms, Some(1020.0));
    }

    #[test]
    fn splits_base_and_quotes_lua() {
        assert_eq!(
            split_base("http://127.0.0.1:8080/scim/v2/org/"),
            ("http://127.0.0.1:8080".into(), "/scim/v2/org".into())
        );
        assert_eq!(
            split_base("http://h:1"),
            ("http://h:1".into(), String::new())
        );
        assert_eq!(lua_str("a\"b\\c\né"), "\"a\\\"b\\\\c\\010\\195\\169\"");
    }
}
