//! The hostile-input suite against the real `scimgate` binary over real TCP: the requests
//! that once aborted the process or grew it without bound, slow clients, and files at rest.
//! Each test starts its own server on a fresh SQLite file with the shipped defaults (plus
//! the flags named in the test), and checks that the process is still up afterwards.

#![cfg(unix)]

use leptos::server_fn::ServerFn;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Server {
    child: Child,
    addr: SocketAddr,
    db: String,
    token: String,
    _dir: tempfile::TempDir,
}

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scimgate"))
}

fn cli(db: &str, args: &[&str], stdin: &str) -> String {
    let mut child = bin()
        .env("DATABASE_URL", db)
        .env("SCIMGATE_LOG", "error")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

impl Server {
    fn start(extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = format!("sqlite://{}/hostile.db", dir.path().display());
        cli(&db, &["org", "create", "acme"], "");
        cli(&db, &["org", "create", "beta"], "");
        cli(
            &db,
            &[
                "admin",
                "create",
                "--org",
                "acme",
                "--email",
                "ops@acme.test",
            ],
            "a long enough password\n",
        );
        let out = cli(
            &db,
            &["token", "create", "--org", "acme", "--label", "okta"],
            "",
        );
        let token = out
            .split_whitespace()
            .find(|w| w.starts_with("scimgate_"))
            .expect("token printed")
            .to_string();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let mut args = vec!["serve", "--addr"];
        let a = addr.to_string();
        args.push(&a);
        args.extend_from_slice(extra);
        // Shipped defaults: the default log level, logging on.
        let child = bin()
            .env("DATABASE_URL", &db)
            .env_remove("SCIMGATE_LOG")
            .args(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let s = Server {
            child,
            addr,
            db,
            token,
            _dir: dir,
        };
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(30) {
            if s.try_get("/healthz").is_some_and(|r| r.0 == 200) {
                return s;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server did not start");
    }

    fn try_get(&self, path: &str) -> Option<(u16, String, String)> {
        let req = format!("GET {path} HTTP/1.1\r\nHost: scim.test\r\nConnection: close\r\n\r\n");
        exchange(self.addr, req.as_bytes()).ok()
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
            && self.try_get("/healthz").is_some_and(|r| r.0 == 200)
    }

    fn peak_rss_kb(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id())).unwrap();
        status
            .lines()
            .find(|l| l.starts_with("VmHWM:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|n| n.parse().ok())
            .unwrap()
    }

    fn scim(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        extra: &str,
    ) -> (u16, String, String) {
        let mut req = format!("{method} /scim/v2/acme{path} HTTP/1.1\r\nHost: scim.test\r\nConnection: close\r\n{extra}");
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
        exchange(self.addr, req.as_bytes()).expect("an answer")
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one request and reads the whole answer: (status, head, body).
fn exchange(addr: SocketAddr, req: &[u8]) -> std::io::Result<(u16, String, String)> {
    let mut s = TcpStream::connect(addr)?;
    s.set_read_timeout(Some(Duration::from_secs(60)))?;
    s.write_all(req)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("no status in {head:?}")))?;
    Ok((status, head.to_string(), body.to_string()))
}

fn chain(n: usize, term: &str, op: &str) -> String {
    vec![term; n].join(&format!(" {op} "))
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

#[test]
fn parser_attacks_get_400_and_the_process_stays_up() {
    let mut srv = Server::start(&[]);
    let t = srv.token.clone();
    for op in ["or", "and"] {
        let body = serde_json::json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
            "filter": chain(5000, "userName pr", op)
        })
        .to_string();
        let (s, _, b) = srv.scim("POST", "/Users/.search", Some(&t), Some(&body), "");
        assert_eq!(s, 400, "{b}");
        assert!(b.contains("invalidFilter"), "{b}");
    }
    let (s, _, _) = srv.scim(
        "GET",
        &format!("/Users?filter={}", enc(&chain(1000, "userName pr", "or"))),
        Some(&t),
        None,
        "",
    );
    assert_eq!(s, 400);
    let (s, _, _) = srv.scim(
        "GET",
        &format!(
            "/Users?filter={}",
            enc(&format!("displayName co \"{}\"", "%_".repeat(4000)))
        ),
        Some(&t),
        None,
        "",
    );
    assert_eq!(s, 400);
    let (s, _, g) = srv.scim(
        "POST",
        "/Groups",
        Some(&t),
        Some(r#"{"schemas":["urn:ietf:params:scim:schemas:core:2.0:Group"],"displayName":"Eng"}"#),
        "",
    );
    assert_eq!(s, 201, "{g}");
    let gid = serde_json::from_str::<serde_json::Value>(&g).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = serde_json::json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "remove", "path": format!("members[{}]", chain(5000, "value eq \"x\"", "or"))}]
    })
    .to_string();
    let (s, _, b) = srv.scim(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&t),
        Some(&patch),
        "",
    );
    assert_eq!(s, 400, "{b}");
    assert!(b.contains("invalidPath"));
    // Deeply nested JSON bodies are refused by the parser, not the stack.
    let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
    let (s, _, _) = srv.scim("POST", "/Users", Some(&t), Some(&deep), "");
    assert_eq!(s, 400);
    assert!(srv.alive(), "the process survived");
}

#[test]
fn floods_stay_bounded_in_memory_and_in_the_log() {
    let mut srv = Server::start(&[]);
    // Any token is a method to hyper: a 5,000-character one is logged clipped.
    for _ in 0..3 {
        let req = format!(
            "{} /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
            "M".repeat(5000)
        );
        let (s, _, _) = exchange(srv.addr, req.as_bytes()).unwrap();
        assert!(s == 401 || s == 405 || s == 400, "{s}");
    }
    // 200 requests with a wrong token, a 30 KB query and a 16 KB body, claiming to be Okta.
    let query = format!("?filter={}", "x".repeat(30_000));
    let body = format!("{{\"junk\":\"{}\"}}", "y".repeat(16_000));
    let mut limited = 0;
    let flood_started = Instant::now();
    for _ in 0..200 {
        let (s, head, _) = srv.scim(
            "POST",
            &format!("/Users{query}"),
            Some("scimgate_wrong"),
            Some(&body),
            "User-Agent: Okta SCIM Client 1.0.0\r\n",
        );
        assert!(s == 401 || s == 429, "{s}");
        if s == 429 {
            limited += 1;
            assert!(head.to_ascii_lowercase().contains("retry-after:"), "{head}");
        }
    }
    // The allowance: a burst of 30, then 30 a minute (however slow this machine is).
    let allowed = 30 + (flood_started.elapsed().as_secs_f64() / 2.0).ceil() as i64 + 1;
    assert!(
        200 - limited <= allowed,
        "{limited} of 200 were rate-limited (allowance {allowed})"
    );

    // 60 parallel sign-ins with wrong passwords for one admin.
    let path = scimgate::console::api::SignIn::PATH;
    let addr = srv.addr;
    let threads: Vec<_> = (0..60)
        .map(|_| {
            std::thread::spawn(move || {
                let body = "email=ops%40acme.test&password=wrong+password+guess";
                let req = format!(
                    "POST {path} HTTP/1.1\r\nHost: scim.test\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                    body.len()
                );
                exchange(addr, req.as_bytes()).map(|r| r.0)
            })
        })
        .collect();
    for t in threads {
        let s = t.join().unwrap().expect("an answer");
        assert!(s == 401 || s == 429, "{s}");
    }
    assert!(srv.alive());
    // An oversized console body is 413, declared or chunked.
    let big = "x".repeat(200_000);
    let declared = format!(
        "POST {path} HTTP/1.1\r\nHost: scim.test\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\n\r\n{big}",
        big.len()
    );
    assert_eq!(exchange(srv.addr, declared.as_bytes()).unwrap().0, 413);
    let chunked = format!(
        "POST {path} HTTP/1.1\r\nHost: scim.test\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{big}\r\n0\r\n\r\n",
        big.len()
    );
    assert_eq!(exchange(srv.addr, chunked.as_bytes()).unwrap().0, 413);
    let peak_mb = srv.peak_rss_kb() / 1024;
    assert!(peak_mb < 250, "peak resident memory {peak_mb} MB");

    // What reached the org's log: a bounded number of small rows.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let db = srv.db.clone();
    let (rows, bytes): (i64, i64) = rt.block_on(async move {
        let mut c = read_only(&db).await;
        sqlx::query_as(
            "SELECT COUNT(*), COALESCE(SUM(LENGTH(path) + COALESCE(LENGTH(query), 0) + COALESCE(LENGTH(request_body), 0) + COALESCE(LENGTH(user_agent), 0)), 0) FROM events",
        )
        .fetch_one(&mut c)
        .await
        .unwrap()
    });
    // The three long-method requests and the allowance of the flood; nothing of the
    // rate-limited ones.
    assert!(rows <= 3 + allowed, "{rows} log rows (allowance {allowed})");
    let db = srv.db.clone();
    let longest: i64 = rt.block_on(async move {
        let mut c = read_only(&db).await;
        sqlx::query_scalar("SELECT COALESCE(MAX(LENGTH(method)), 0) FROM events")
            .fetch_one(&mut c)
            .await
            .unwrap()
    });
    assert!(longest <= 20, "a method of {longest} characters was logged");
    assert!(bytes < (3 + allowed) * 500, "{bytes} bytes logged");
}

/// A read-only connection to the running server's SQLite file. `Store::connect` would run
/// migrations and backfills, i.e. write, racing the server's own writer ("database is
/// locked"); a reader in WAL mode never blocks nor is blocked by it.
async fn read_only(db: &str) -> sqlx::SqliteConnection {
    use sqlx::ConnectOptions;
    use std::str::FromStr;
    sqlx::sqlite::SqliteConnectOptions::from_str(db)
        .unwrap()
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await
        .unwrap()
}

#[test]
fn slow_clients_are_cut_off_and_connections_are_capped() {
    let mut srv = Server::start(&[
        "--header-timeout-secs",
        "2",
        "--body-timeout-secs",
        "2",
        "--max-connections",
        "4",
        "--max-console-body-bytes",
        "2048",
    ]);
    // The configured console body limit.
    let path = scimgate::console::api::SignIn::PATH;
    for (len, over) in [(1500usize, false), (4000, true)] {
        let body = format!("email=a%40b.test&password={}", "x".repeat(len));
        let req = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        let (s, _, _) = exchange(srv.addr, req.as_bytes()).unwrap();
        assert_eq!(s == 413, over, "{len}: {s}");
    }
    let closes_within = |mut s: TcpStream, secs: u64| {
        s.set_read_timeout(Some(Duration::from_secs(secs))).unwrap();
        let start = Instant::now();
        let mut buf = Vec::new();
        let r = s.read_to_end(&mut buf);
        assert!(r.is_ok(), "the server closed the connection: {r:?}");
        (start.elapsed(), String::from_utf8_lossy(&buf).into_owned())
    };
    // Half the headers.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
        .unwrap();
    let (took, _) = closes_within(s, 10);
    assert!(took < Duration::from_secs(6), "{took:?}");
    // Half a body, with a valid token.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    let head = format!(
        "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/scim+json\r\nContent-Length: 1000\r\n\r\n{{\"userName\":",
        srv.token
    );
    s.write_all(head.as_bytes()).unwrap();
    let (took, answer) = closes_within(s, 10);
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert!(
        answer.is_empty()
            || answer.starts_with("HTTP/1.1 408")
            || answer.starts_with("HTTP/1.1 400"),
        "{answer}"
    );
    // A console body dripped a byte at a time, each within the per-chunk timeout: the
    // whole-body deadline still cuts it off.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    let head = format!(
        "POST {} HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 1000\r\n\r\n",
        scimgate::console::api::SignIn::PATH
    );
    s.write_all(head.as_bytes()).unwrap();
    let start = Instant::now();
    let mut answer = String::new();
    s.set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    while start.elapsed() < Duration::from_secs(10) {
        if s.write_all(b"e").is_err() {
            break;
        }
        let mut buf = [0u8; 512];
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                answer.push_str(&String::from_utf8_lossy(&buf[..n]));
                break;
            }
            Err(_) => {}
        }
    }
    assert!(
        start.elapsed() < Duration::from_secs(6),
        "{:?}",
        start.elapsed()
    );
    assert!(
        answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
        "{answer}"
    );
    // An idle keep-alive connection.
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let (took, answer) = closes_within(s, 10);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(took < Duration::from_secs(6), "{took:?}");
    // Four slow clients hold every slot; a fifth is served once they are cut off.
    let slow: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut s = TcpStream::connect(srv.addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n").unwrap();
            s
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let start = Instant::now();
    let r = srv.try_get("/healthz").expect("served eventually");
    assert_eq!(r.0, 200);
    assert!(
        start.elapsed() > Duration::from_millis(800),
        "waited for a free slot: {:?}",
        start.elapsed()
    );
    drop(slow);
    assert!(srv.alive());
}

#[test]
fn the_database_is_private_and_holds_no_session_ids() {
    use std::os::unix::fs::PermissionsExt;
    let srv = Server::start(&[]);
    let path = srv.db.trim_start_matches("sqlite://").to_string();
    // Sign in, so that a session exists.
    let body = "email=ops%40acme.test&password=a+long+enough+password";
    let req = format!(
        "POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nContent-Type: application/x-www-form-urlencoded\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        scimgate::console::api::SignIn::PATH,
        body.len()
    );
    let (s, head, _) = exchange(srv.addr, req.as_bytes()).unwrap();
    assert!(s < 400, "{head}");
    let cookie = head
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("set-cookie:"))
        .expect("a session cookie")
        .to_string();
    assert!(
        cookie.contains("Secure") && cookie.contains("HttpOnly"),
        "{cookie}"
    );
    let value = cookie
        .split_once('=')
        .and_then(|(_, v)| v.split(';').next())
        .unwrap()
        .to_string();
    for suffix in ["", "-wal", "-shm"] {
        let p = format!("{path}{suffix}");
        if let Ok(m) = std::fs::metadata(&p) {
            assert_eq!(
                m.permissions().mode() & 0o077,
                0,
                "{p} is {:o}",
                m.permissions().mode()
            );
        }
    }
    // The cookie's value is nowhere in the database file or its WAL.
    let mut raw = std::fs::read(&path).unwrap();
    raw.extend(std::fs::read(format!("{path}-wal")).unwrap_or_default());
    let hay = String::from_utf8_lossy(&raw);
    assert!(
        !value.is_empty() && !hay.contains(&value),
        "session id stored in clear"
    );
}
