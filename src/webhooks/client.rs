//! The outbound HTTP side of webhooks: which destinations are allowed, and one signed
//! delivery (Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature`).
//!
//! Destinations in private, loopback, link-local and other non-public ranges are refused
//! unless the operator allows them: a console admin must not be able to make the server
//! call into its own network. The check is made on every address the name resolves to, at
//! connection time (a resolver that drops refused addresses), so a name that later resolves
//! somewhere else (DNS rebinding) gains nothing; redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match crate::net::canonical(ip) {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_unspecified()
                || v4.is_multicast()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1])) // carrier-grade NAT
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1])) // benchmarking
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0] == 0x2001 && s[1] == 0x0db8)) // documentation
        }
    }
}

/// Checks a destination URL as an admin enters it: http(s) only (https unless private
/// destinations are allowed, as in tests), no credentials in it, and an IP literal must be
/// public unless allowed. Names are checked again at each connection.
pub fn check_url(url: &str, allow_private: bool) -> Result<reqwest::Url, String> {
    let u = reqwest::Url::parse(url.trim()).map_err(|_| {
        "Enter a full URL, e.g. https://app.example.com/webhooks/scimgate.".to_string()
    })?;
    match u.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err("Webhook URLs must use https.".into()),
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Err("Put no credentials in the URL; verify the signature instead.".into());
    }
    if url.len() > 2000 {
        return Err("The URL is too long (2,000 characters at most).".into());
    }
    let host = u.host().ok_or("The URL needs a host.")?;
    let literal = match host {
        url::Host::Ipv4(a) => Some(IpAddr::V4(a)),
        url::Host::Ipv6(a) => Some(IpAddr::V6(a)),
        url::Host::Domain(d) => {
            if !allow_private && (d.eq_ignore_ascii_case("localhost") || d.ends_with(".localhost"))
            {
                return Err(
                    "Private, loopback and link-local destinations are not allowed.".into(),
                );
            }
            None
        }
    };
    if let Some(ip) = literal {
        if !allow_private && !is_public(ip) {
            return Err("Private, loopback and link-local destinations are not allowed.".into());
        }
    }
    Ok(u)
}

/// Resolves names like the system does, then drops the addresses not allowed.
struct PublicOnly;

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await?
                .filter(|a| is_public(a.ip()))
                .collect();
            if addrs.is_empty() {
                return Err(format!("{host} resolves to no public address").into());
            }
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// The HTTP client deliveries use: 10 s per attempt, no redirects, no proxy from the
/// environment, rustls.
pub fn http_client(allow_private: bool, timeout: Duration) -> reqwest::Client {
    let mut b = reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .user_agent(concat!("scimgate-webhooks/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(4);
    if !allow_private {
        b = b.dns_resolver(Arc::new(PublicOnly));
    }
    b.build().unwrap_or_else(|_| reqwest::Client::new())
}

/// What one delivery attempt gave.
#[derive(Clone, Debug)]
pub struct Outcome {
    pub status: Option<u16>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the answer's body, for the console.
    pub excerpt: Option<String>,
}

impl Outcome {
    pub fn delivered(&self) -> bool {
        self.status.is_some_and(|s| (200..300).contains(&s))
    }
}

/// Characters of a receiver's answer kept with the attempt.
const EXCERPT_CHARS: usize = 200;

/// Posts one signed event.
pub async fn deliver(
    client: &reqwest::Client,
    url: &str,
    secret: &str,
    allow_private: bool,
    msg_id: &str,
    body: &str,
) -> Outcome {
    let started = Instant::now();
    let fail = |e: String| Outcome {
        status: None,
        latency_ms: started.elapsed().as_millis() as i64,
        error: Some(e),
        excerpt: None,
    };
    // IP literals never pass through the resolver: checked here, on each attempt.
    match check_url(url, allow_private) {
        Ok(_) => {}
        Err(e) => return fail(e),
    }
    let wh = match standardwebhooks::Webhook::new(secret) {
        Ok(w) => w,
        Err(e) => return fail(format!("signing secret unusable: {e}")),
    };
    let ts = crate::directory::now_ms() / 1000;
    let signature = match wh.sign(msg_id, ts, body.as_bytes()) {
        Ok(s) => s,
        Err(e) => return fail(format!("signing failed: {e}")),
    };
    let sent = client
        .post(url)
        .header("content-type", "application/json")
        .header(standardwebhooks::HEADER_WEBHOOK_ID, msg_id)
        .header(standardwebhooks::HEADER_WEBHOOK_TIMESTAMP, ts.to_string())
        .header(standardwebhooks::HEADER_WEBHOOK_SIGNATURE, signature)
        .body(body.to_string())
        .send()
        .await;
    match sent {
        Ok(resp) => {
            let status = resp.status().as_u16();
            // The answer is read only up to a bound: a receiver cannot make us buffer much.
            let mut excerpt = Vec::new();
            let mut resp = resp;
            while excerpt.len() < 4096 {
                match resp.chunk().await {
                    Ok(Some(c)) => excerpt.extend_from_slice(&c),
                    _ => break,
                }
            }
            let text: String = String::from_utf8_lossy(&excerpt)
                .chars()
                .filter(|c| !c.is_control() || *c == ' ')
                .take(EXCERPT_CHARS)
                .collect();
            Outcome {
                status: Some(status),
                latency_ms: started.elapsed().as_millis() as i64,
                error: None,
                excerpt: (!text.is_empty()).then_some(text),
            }
        }
        Err(e) => {
            let what = if e.is_timeout() {
                "timed out".to_string()
            } else if e.is_connect() {
                format!("could not connect: {}", root_cause(&e))
            } else {
                root_cause(&e)
            };
            fail(what)
        }
    }
}

fn root_cause(e: &dyn std::error::Error) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    crate::net::truncate(&cur.to_string(), 200).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_destinations_are_refused_unless_allowed() {
        for url in [
            "http://app.example.com/hook",
            "https://127.0.0.1/hook",
            "https://10.1.2.3/hook",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/hook",
            "https://[fd00::1]/hook",
            "https://[::ffff:192.168.1.1]/hook",
            "https://localhost/hook",
            "https://user:pw@app.example.com/hook",
            "ftp://app.example.com/hook",
            "not a url",
        ] {
            assert!(check_url(url, false).is_err(), "{url}");
        }
        assert!(check_url("https://app.example.com/hook", false).is_ok());
        assert!(check_url("https://93.184.216.34/hook", false).is_ok());
        assert!(check_url("http://127.0.0.1:9000/hook", true).is_ok());
    }
}
