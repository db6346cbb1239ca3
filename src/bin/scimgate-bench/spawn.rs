//! Starting the server under test: a fresh database in a temporary directory, seeded with
//! `scimgate seed`, a console admin and a SCIM token created with the CLI, then `serve` on a
//! free port. Also the server's peak resident memory, read from /proc.

use super::{Args, CONSOLE_PASSWORD};
use std::process::{Child, Command, Stdio};
use std::time::Instant;

pub struct Spawned {
    pub child: Child,
    /// Where the server's log goes (a file, as a service manager would keep it).
    pub log: std::path::PathBuf,
    _dir: tempdir::Dir,
}

mod tempdir {
    pub struct Dir(pub std::path::PathBuf);
    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn cli(bin: &str, db: &str, args: &[&str]) -> Result<String, String> {
    let out = Command::new(bin)
        .arg("--database-url")
        .arg(db)
        .arg("--log-level")
        .arg("error")
        .args(args)
        .output()
        .map_err(|e| format!("{bin}: {e}"))?;
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// CPU time the process has used so far (user + system), in milliseconds, from
/// /proc/<pid>/stat (clock ticks of 10 ms).
pub fn cpu_ms(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = &s[s.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
    Some(ticks * 10.0)
}

pub fn peak_rss_mb(pid: u32) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = s.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

pub fn start_server(a: &Args) -> Result<(Spawned, String, String, String), String> {
    let dir = std::env::temp_dir().join(format!("scimgate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let db = a
        .database_url
        .clone()
        .unwrap_or_else(|| format!("sqlite://{}/bench.db", dir.display()));
    let t = Instant::now();
    cli(
        &a.server_bin,
        &db,
        &[
            "seed",
            "--org",
            &a.org,
            "--users",
            &a.seed_users.to_string(),
            "--groups",
            &a.seed_groups.to_string(),
            "--memberships",
            &a.seed_memberships.to_string(),
            "--events",
            &a.seed_events.to_string(),
        ],
    )?;
    let mut admin = Command::new(&a.server_bin)
        .args([
            "--database-url",
            &db,
            "--log-level",
            "error",
            "admin",
            "create",
            "--org",
            &a.org,
            "--email",
            "bench@example.com",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .map_err(|e| e.to_string())?;
    if let Some(mut stdin) = admin.stdin.take() {
        use std::io::Write;
        let _ = stdin.write_all(format!("{CONSOLE_PASSWORD}\n").as_bytes());
    }
    admin.wait().map_err(|e| e.to_string())?;
    eprintln!(
        "seeded {} users, {} groups, {} memberships in {:.1} s",
        a.seed_users,
        a.seed_groups,
        a.seed_memberships,
        t.elapsed().as_secs_f64()
    );
    let token = cli(
        &a.server_bin,
        &db,
        &["token", "create", "--org", &a.org, "--label", "bench"],
    )?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map_err(|e| e.to_string())?
        .port();
    // The server as it ships: default log level, every request logged, the log written
    // to a file (not /dev/null: writing it is part of the cost).
    let mut serve = vec![
        "--database-url".to_string(),
        db.clone(),
        "serve".into(),
        "--addr".into(),
        format!("127.0.0.1:{port}"),
    ];
    // Scenario h posts webhooks to a receiver on loopback.
    if a.scenarios.split(',').any(|s| s.trim() == "h") {
        serve.push("--webhook-allow-private".into());
    }
    serve.extend(a.server_args.iter().cloned());
    let log = dir.join("server.log");
    let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut command = Command::new(&a.server_bin);
    if a.without_change_events {
        // Only a server built with the `bench` feature reads this (see provisioning::feed_of).
        command.env("SCIMGATE_BENCH_WITHOUT_CHANGE_EVENTS", "1");
    }
    let child = command
        .args(&serve)
        .stdout(out)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("{}: {e}", a.server_bin))?;
    Ok((
        Spawned {
            child,
            log,
            _dir: tempdir::Dir(dir),
        },
        format!("http://127.0.0.1:{port}"),
        token,
        db,
    ))
}
