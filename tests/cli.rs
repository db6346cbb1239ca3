//! The `scimgate` binary as operators and scripts use it: help, exit codes, one-line errors
//! that change nothing, the first-run path, and graceful shutdown on SIGTERM.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_scimgate"))
}

fn run(db: &str, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = bin()
        .env("DATABASE_URL", db)
        .env("SCIMGATE_LOG", "error")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn scimgate");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn help_describes_every_command_and_option() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["org", "create", "--help"],
        vec!["admin", "create", "--help"],
        vec!["token", "create", "--help"],
        vec!["migrate", "--help"],
    ] {
        let out = bin().args(&args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let help = text(&out.stdout);
        assert!(help.contains("Usage: scimgate"), "{help}");
        let lines: Vec<&str> = help.lines().collect();
        for (i, line) in lines
            .iter()
            .enumerate()
            .filter(|(_, l)| l.trim_start().starts_with("--") && !l.contains("--help"))
        {
            // clap puts a long description on the next, further indented line.
            let described = line.split_whitespace().count() > 2
                || lines
                    .get(i + 1)
                    .is_some_and(|n| !n.trim().is_empty() && !n.trim_start().starts_with('-'));
            assert!(
                described,
                "option without a description in {args:?}: {line}"
            );
        }
    }
    let serve = text(&bin().args(["serve", "--help"]).output().unwrap().stdout);
    for opt in [
        "--addr",
        "--database-url",
        "--log-level",
        "--public-url",
        "--max-body-bytes",
        "--max-filter-bytes",
        "--max-filter-terms",
        "--max-filter-depth",
        "--max-filter-string-bytes",
        "--unauthenticated-per-minute",
        "--password-concurrency",
        "--trusted-proxy",
        "--header-timeout-secs",
        "--body-timeout-secs",
        "--max-connections",
        "--max-console-body-bytes",
        "--secure-cookies",
    ] {
        assert!(serve.contains(opt), "{opt}");
    }
}

#[test]
fn org_admin_token_and_their_errors() {
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/cli.db", dir.path().display());
    let ok = run(&db, &["org", "create", "acme", "--name", "Acme Inc"], None);
    assert!(ok.status.success(), "{}", text(&ok.stderr));

    for (args, needle) in [
        (vec!["org", "create", "acme"], "already exists"),
        (vec!["org", "create", "Not Valid"], "not a valid org login"),
        (
            vec!["admin", "create", "--org", "nope", "--email", "a@b.co"],
            "organization 'nope' does not exist",
        ),
        (
            vec![
                "admin",
                "create",
                "--org",
                "acme",
                "--email",
                "not-an-email",
            ],
            "not a valid email",
        ),
        (
            vec!["token", "create", "--org", "nope"],
            "organization 'nope' does not exist",
        ),
    ] {
        let out = run(&db, &args, Some("a long enough password\n"));
        assert!(!out.status.success(), "{args:?} should fail");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");
    }

    // Password from stdin; then a duplicate admin is refused.
    let out = run(
        &db,
        &[
            "admin",
            "create",
            "--org",
            "acme",
            "--email",
            "ops@acme.test",
        ],
        Some("a long enough password\n"),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).is_empty(),
        "a given password is not printed"
    );
    let out = run(
        &db,
        &[
            "admin",
            "create",
            "--org",
            "acme",
            "--email",
            "OPS@acme.test",
        ],
        Some("another long password\n"),
    );
    assert!(!out.status.success());
    assert!(text(&out.stderr).contains("already exists"));
    let short = run(
        &db,
        &["admin", "create", "--org", "acme", "--email", "x@acme.test"],
        Some("short\n"),
    );
    assert!(!short.status.success());
    assert!(text(&short.stderr).contains("at least 12"));
    // Empty stdin: a password is generated and printed once.
    let out = run(
        &db,
        &[
            "admin",
            "create",
            "--org",
            "acme",
            "--email",
            "gen@acme.test",
        ],
        Some(""),
    );
    assert!(out.status.success());
    assert_eq!(text(&out.stdout).trim().len(), 20);

    let out = run(
        &db,
        &["token", "create", "--org", "acme", "--label", "Okta"],
        None,
    );
    assert!(out.status.success());
    let token = text(&out.stdout).trim().to_string();
    assert!(
        token.starts_with("scimgate_") && token.len() == 73,
        "{token}"
    );
    let list = run(&db, &["token", "list", "--org", "acme"], None);
    let listed = text(&list.stdout);
    assert!(
        listed.contains("Okta") && !listed.contains(&token[12..]),
        "the secret is never shown again: {listed}"
    );
    let orgs = text(&run(&db, &["org", "list"], None).stdout);
    assert_eq!(orgs.trim(), "acme\tAcme Inc");
}

#[test]
fn a_database_that_cannot_be_opened_is_one_clear_line() {
    for url in [
        "mysql://nope",
        "postgres://nobody@127.0.0.1:1/none",
        "sqlite:///proc/forbidden/dir/x.db",
    ] {
        let out = run(url, &["migrate"], None);
        assert!(!out.status.success(), "{url}");
        let err = text(&out.stderr);
        assert!(
            err.starts_with("error: cannot open database"),
            "{url}: {err}"
        );
        assert_eq!(err.trim_end().lines().count(), 1, "{err}");
    }
}

#[cfg(unix)]
#[test]
fn serves_health_and_stops_cleanly_on_sigterm() {
    use std::time::{Duration, Instant};
    let dir = tempfile::tempdir().unwrap();
    let db = format!("sqlite://{}/serve.db", dir.path().display());
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    // The log goes to a file, as under a service manager: plain text, no colour codes.
    let log_path = dir.path().join("serve.log");
    let mut child = bin()
        .env("DATABASE_URL", &db)
        .env("SCIMGATE_LOG", "info")
        .args(["serve", "--addr", &addr.to_string()])
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log_path).unwrap())
        .spawn()
        .unwrap();
    let start = Instant::now();
    let mut healthy = false;
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(mut s) = std::net::TcpStream::connect(addr) {
            use std::io::Read;
            s.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .unwrap();
            let mut resp = String::new();
            let _ = s.read_to_string(&mut resp);
            if resp.starts_with("HTTP/1.1 200") && resp.contains("\"ok\"") {
                healthy = true;
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(healthy, "server answered /healthz");
    // SIGTERM: the process must exit by itself, successfully.
    let _ = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
    let mut out = String::new();
    use std::io::Read;
    child
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut out)
        .unwrap();
    assert!(
        out.contains(&format!("http://{addr}/")),
        "prints the URL to open: {out}"
    );
    let log = std::fs::read_to_string(&log_path).unwrap();
    assert!(log.contains("scimgate listening on"), "{log}");
    assert!(log.contains("scimgate stopped"), "{log}");
    assert!(
        !log.contains('\u{1b}'),
        "colour codes in a log file: {log:?}"
    );
}
