//! The console scenario: signs in as the seeded admin, then times each console page
//! (lists, searches, detail pages) 20 times.

use super::{HttpClient, Report, CONSOLE_PASSWORD};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, StatusCode};
use std::time::{Duration, Instant};

/// The console's pages as a browser loads them (server-side rendered, data included), timed
/// from the client on loopback: close to server time. Signs in as the seeded admin.
pub async fn console(client: &HttpClient, url: &str, org: &str) {
    use leptos::server_fn::ServerFn;
    let form = |body: String| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("{url}{}", scimgate::console::api::SignIn::PATH))
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(Full::new(Bytes::from(body)))
    };
    let Ok(req) = form(format!(
        "email=bench%40example.com&password={}",
        form_urlencoded::byte_serialize(CONSOLE_PASSWORD.as_bytes()).collect::<String>()
    )) else {
        return;
    };
    let Ok(resp) = client.request(req).await else {
        println!("console: sign-in failed");
        return;
    };
    let status = resp.status();
    let Some(cookie) = resp
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(str::to_string)
    else {
        println!(
            "console: sign-in gave no session ({status}; only a started server seeds the admin)"
        );
        return;
    };
    let get = |path: String| {
        let (client, cookie) = (client.clone(), cookie.clone());
        async move {
            let req = Request::builder()
                .uri(format!("{url}{path}"))
                .header("cookie", cookie)
                .body(Full::new(Bytes::new()))
                .map_err(|e| e.to_string())?;
            let resp = client.request(req).await.map_err(|e| e.to_string())?;
            let status = resp.status();
            let body = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<(StatusCode, Bytes), String>((status, body))
        }
    };
    // Ids to open: a user, the first team, an event.
    let users_page = get(format!("/orgs/{org}/users"))
        .await
        .map(|r| String::from_utf8_lossy(&r.1).into_owned())
        .unwrap_or_default();
    let first = |html: &str, prefix: &str| {
        html.split(prefix)
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(str::to_string)
    };
    let user = first(&users_page, &format!("href=\"/orgs/{org}/users/"));
    let teams_page = get(format!("/orgs/{org}/teams"))
        .await
        .map(|r| String::from_utf8_lossy(&r.1).into_owned())
        .unwrap_or_default();
    let team = first(&teams_page, &format!("href=\"/orgs/{org}/teams/"));
    let log_page = get(format!("/orgs/{org}/log"))
        .await
        .map(|r| String::from_utf8_lossy(&r.1).into_owned())
        .unwrap_or_default();
    let event = first(&log_page, &format!("href=\"/orgs/{org}/log/"));
    let mut pages = vec![
        format!("/orgs/{org}"),
        format!("/orgs/{org}/connect"),
        format!("/orgs/{org}/users"),
        format!("/orgs/{org}/users?q=user4242"),
        // People search: a last name (one user) and a word every user has (the worst case).
        format!("/orgs/{org}/users?q=4242"),
        format!("/orgs/{org}/users?q=example"),
        format!("/orgs/{org}/users?status=deactivated"),
        format!("/orgs/{org}/teams"),
        format!("/orgs/{org}/teams?q=Team%2099"),
        format!("/orgs/{org}/log"),
        format!("/orgs/{org}/log?status=client"),
        format!("/orgs/{org}/log?hours=24&kind=created"),
        format!("/orgs/{org}/log?text=user7"),
        format!("/orgs/{org}/log?text=User%204242"),
        format!("/orgs/{org}/admins"),
    ];
    pages.extend(user.map(|u| format!("/orgs/{org}/users/{u}")));
    pages.extend(team.map(|t| format!("/orgs/{org}/teams/{t}")));
    pages.extend(event.map(|e| format!("/orgs/{org}/log/{e}")));
    for p in pages {
        let mut rep = Report {
            name: format!("console GET {}", p.replacen(&format!("/orgs/{org}"), "", 1)),
            latencies_us: Vec::new(),
            errors: 0,
            wall: Duration::ZERO,
            server_cpu_ms: None,
        };
        let start = Instant::now();
        for _ in 0..20 {
            let t = Instant::now();
            match get(p.clone()).await {
                Ok((s, _)) if s.is_success() => {}
                _ => rep.errors += 1,
            }
            rep.latencies_us.push(t.elapsed().as_micros() as u64);
        }
        rep.wall = start.elapsed();
        rep.print();
    }
}
