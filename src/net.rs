//! The network edge: who the client is (the socket address, or the `X-Forwarded-For` entry
//! added by a configured trusted proxy), a per-address token bucket for traffic that has
//! not authenticated, and the HTTP hardening applied to every response. Nothing here reads
//! the database.

use axum::extract::{ConnectInfo, Request};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// An IP network, `10.0.0.0/8` or `2001:db8::/32`; a bare address is a /32 or /128.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    addr: IpAddr,
    prefix: u8,
}

impl std::str::FromStr for Cidr {
    type Err = String;
    fn from_str(s: &str) -> Result<Cidr, String> {
        let s = s.trim();
        let (a, p) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let addr: IpAddr = a
            .parse()
            .map_err(|_| format!("'{s}' is not an IP address or CIDR network"))?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = match p {
            None => max,
            Some(p) => p
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| format!("'{s}' has an invalid prefix length"))?,
        };
        Ok(Cidr { addr, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:1.2.3.4`, from dual-stack sockets) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client's address as scimgate believes it, in request extensions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

impl ClientAddr {
    /// In-process tests and other callers without a socket share one "unknown" address.
    pub const UNKNOWN: ClientAddr = ClientAddr(IpAddr::V4(Ipv4Addr::UNSPECIFIED));

    pub fn of(headers_ext: &axum::http::Extensions) -> ClientAddr {
        headers_ext
            .get::<ClientAddr>()
            .copied()
            .unwrap_or(ClientAddr::UNKNOWN)
    }
}

impl std::fmt::Display for ClientAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<Vec<Cidr>>);

impl TrustedProxies {
    pub fn parse(list: &[String]) -> Result<TrustedProxies, String> {
        let nets = list
            .iter()
            .filter(|s| !s.trim().is_empty())
            .map(|s| s.parse())
            .collect::<Result<Vec<Cidr>, String>>()?;
        Ok(TrustedProxies(Arc::new(nets)))
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|n| n.contains(ip))
    }

    /// The socket's peer, unless it is a trusted proxy: then the right-most
    /// `X-Forwarded-For` entry that is not itself a trusted proxy (entries to its left were
    /// written by the client and prove nothing).
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> IpAddr {
        let Some(peer) = peer.map(canonical) else {
            return ClientAddr::UNKNOWN.0;
        };
        if !self.trusts(peer) {
            return peer;
        }
        let mut client = peer;
        for value in headers.get_all("x-forwarded-for").iter().rev() {
            let Ok(v) = value.to_str() else { break };
            for entry in v.rsplit(',') {
                match entry.trim().parse::<IpAddr>().map(canonical) {
                    Ok(ip) if self.trusts(ip) => client = ip,
                    Ok(ip) => return ip,
                    Err(_) => return client,
                }
            }
        }
        client
    }
}

/// Middleware: puts the [`ClientAddr`] in the request's extensions.
pub async fn client_addr(
    axum::extract::State(proxies): axum::extract::State<TrustedProxies>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let ip = proxies.client(peer, req.headers());
    req.extensions_mut().insert(ClientAddr(ip));
    next.run(req).await
}

/// A token bucket per client address: `per_minute` requests a minute, bursts of as many.
/// The table holds at most `MAX_TRACKED` addresses; when full, buckets that have refilled
/// are forgotten first, and an address that finds no room is refused (a flood from many
/// addresses cannot grow memory without bound).
#[derive(Clone)]
pub struct AddrLimiter {
    inner: Arc<Mutex<HashMap<IpAddr, Bucket>>>,
    per_minute: u32,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

const MAX_TRACKED: usize = 100_000;

/// One allowance per IPv4 address and per IPv6 /64: a single IPv6 host usually holds a
/// whole /64 and could otherwise rotate through it.
pub fn bucket_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => IpAddr::V6(std::net::Ipv6Addr::from(u128::from(v6) & (u128::MAX << 64))),
        v4 => v4,
    }
}

impl AddrLimiter {
    pub fn new(per_minute: u32) -> AddrLimiter {
        AddrLimiter {
            inner: Arc::new(Mutex::new(HashMap::new())),
            per_minute: per_minute.max(1),
        }
    }

    fn refill(&self, b: &mut Bucket, now: Instant) {
        let rate = f64::from(self.per_minute) / 60.0;
        let elapsed = now.saturating_duration_since(b.at).as_secs_f64();
        b.tokens = (b.tokens + elapsed * rate).min(f64::from(self.per_minute));
        b.at = now;
    }

    /// Whether `ip` has no allowance left, without spending any: then the wait until it has.
    pub fn blocked(&self, ip: IpAddr) -> Option<Duration> {
        let ip = bucket_key(ip);
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let b = map.get_mut(&ip)?;
        self.refill(b, now);
        (b.tokens < 1.0).then(|| self.wait(b))
    }

    /// Spends one request of `ip`'s allowance; `Err(wait)` when there is none.
    pub fn spend(&self, ip: IpAddr) -> Result<(), Duration> {
        let ip = bucket_key(ip);
        let mut map = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        if map.len() >= MAX_TRACKED && !map.contains_key(&ip) {
            let full = f64::from(self.per_minute);
            let rate = full / 60.0;
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * rate < full
            });
            if map.len() >= MAX_TRACKED {
                return Err(Duration::from_secs(60));
            }
        }
        let b = map.entry(ip).or_insert(Bucket {
            tokens: f64::from(self.per_minute),
            at: now,
        });
        self.refill(b, now);
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(self.wait(b))
        }
    }

    fn wait(&self, b: &Bucket) -> Duration {
        let rate = f64::from(self.per_minute) / 60.0;
        Duration::from_secs_f64(((1.0 - b.tokens) / rate).max(0.0)).max(Duration::from_secs(1))
    }
}

/// `Retry-After` in whole seconds, rounded up.
pub fn retry_after(wait: Duration) -> HeaderValue {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    HeaderValue::from(secs.max(1))
}

/// The console's Content-Security-Policy. Pages allow their own inline hydration script by
/// the render's nonce; the WebAssembly bundle needs `'wasm-unsafe-eval'`; nothing may frame
/// a console page (the token and admin pages show secrets).
pub fn csp(nonce: Option<&str>) -> String {
    let scripts = match nonce {
        Some(n) => format!("'self' 'nonce-{n}' 'wasm-unsafe-eval'"),
        None => "'self' 'wasm-unsafe-eval'".to_string(),
    };
    format!(
        "default-src 'self'; script-src {scripts}; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// What [`security_headers`] adds: HSTS only when the public URL is https.
#[derive(Clone, Copy, Debug, Default)]
pub struct Hardening {
    pub hsts: bool,
}

/// Security headers on every response; on console responses (not the SCIM API or static
/// assets) also the CSP (unless the page set its own, with a nonce), frame and referrer
/// denial, and `Cache-Control: no-store` (console pages carry personal data and secrets).
pub async fn security_headers(
    axum::extract::State(h): axum::extract::State<Hardening>,
    req: Request,
    next: Next,
) -> Response {
    let path = req.uri().path();
    let api = path.starts_with("/scim/") || path.starts_with("/v1/");
    let asset = crate::assets::is_static_path(path);
    let mut resp = next.run(req).await;
    // A static file that was found keeps the caching `assets::cache_headers` chose; a miss
    // is a rendered console page like any other.
    let asset = asset && resp.headers().contains_key(header::CACHE_CONTROL);
    let hdrs = resp.headers_mut();
    hdrs.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if h.hsts {
        hdrs.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        );
    }
    if !api {
        hdrs.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        hdrs.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        if !hdrs.contains_key(header::CONTENT_SECURITY_POLICY) {
            if let Ok(v) = HeaderValue::from_str(&csp(None)) {
                hdrs.insert(header::CONTENT_SECURITY_POLICY, v);
            }
        }
        if !asset {
            hdrs.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        }
    }
    resp
}

/// At most `max` characters of `s` (on a character boundary), marked when cut.
pub fn truncate(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

/// A public base URL from the request, when `--public-url` is not set: only an `http` or
/// `https` scheme and a syntactically valid host (name or address, optional port) are
/// taken; anything else falls back to `http://localhost`. Never echoes arbitrary header
/// text into `Location` or `meta.location`.
pub fn base_url_from_headers(headers: &HeaderMap) -> String {
    let proto = match headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .map(|p| {
            p.split(',')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
        .as_deref()
    {
        Some("https") => "https",
        _ => "http",
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| valid_host(h))
        .unwrap_or("localhost");
    format!("{proto}://{host}")
}

/// `name[:port]`, `v4[:port]` or `[v6][:port]`: letters, digits, dots and dashes in labels of
/// at most 63 characters, a port of digits only.
pub fn valid_host(h: &str) -> bool {
    if h.is_empty() || h.len() > 255 {
        return false;
    }
    let (host, port) = if let Some(rest) = h.strip_prefix('[') {
        let Some((v6, after)) = rest.split_once(']') else {
            return false;
        };
        if v6.parse::<std::net::Ipv6Addr>().is_err() {
            return false;
        }
        match after {
            "" => return true,
            p => (None, p.strip_prefix(':').map(Some).unwrap_or(Some("x"))),
        }
    } else {
        match h.rsplit_once(':') {
            Some((n, p)) => (Some(n), Some(p)),
            None => (Some(h), None),
        }
    };
    if let Some(p) = port {
        if !p.parse::<u16>().is_ok_and(|n| n > 0) || !p.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    match host {
        None => true,
        Some(n) => {
            !n.is_empty()
                && n.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    #[test]
    fn cidrs_parse_and_match() {
        let n: Cidr = "10.0.0.0/8".parse().unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(n.contains("::ffff:10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.0.0.1".parse().unwrap()));
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6: Cidr = "2001:db8::/32".parse().unwrap();
        assert!(v6.contains("2001:db8:1::5".parse().unwrap()));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains("8.8.8.8".parse().unwrap()));
        for bad in ["10.0.0.0/33", "nonsense", "1.2.3.4/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let t = TrustedProxies::parse(&["10.0.0.0/8".into()]).unwrap();
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.9, 10.0.0.2")]);
        // From the proxy: the right-most untrusted entry (the spoofed 6.6.6.6 is ignored).
        assert_eq!(
            t.client(Some("10.0.0.1".parse().unwrap()), &h),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // From anyone else: the socket address, whatever the header says.
        assert_eq!(
            t.client(Some("198.51.100.1".parse().unwrap()), &h),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(Some("10.0.0.1".parse().unwrap()), &h),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
        let garbage = headers(&[("x-forwarded-for", "not-an-ip")]);
        assert_eq!(
            t.client(Some("10.0.0.1".parse().unwrap()), &garbage),
            "10.0.0.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn limiter_spends_refuses_and_reports_the_wait() {
        let l = AddrLimiter::new(3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        assert!(l.blocked(a).is_none());
        for _ in 0..3 {
            assert!(l.spend(a).is_ok());
        }
        let wait = l.spend(a).unwrap_err();
        assert!(wait >= Duration::from_secs(1) && wait <= Duration::from_secs(20));
        assert!(l.blocked(a).is_some());
        assert!(l.spend(b).is_ok(), "other addresses are unaffected");
        // IPv6 addresses of one /64 share an allowance.
        let one = AddrLimiter::new(1);
        assert!(one.spend("2001:db8::1".parse().unwrap()).is_ok());
        assert!(one.spend("2001:db8::ffff:2".parse().unwrap()).is_err());
        assert!(one.spend("2001:db8:0:1::1".parse().unwrap()).is_ok());
        assert_eq!(retry_after(Duration::from_millis(19_100)), "20");
    }

    #[test]
    fn base_urls_never_echo_arbitrary_headers() {
        let ok = headers(&[
            ("host", "scim.example.com:8443"),
            ("x-forwarded-proto", "https"),
        ]);
        assert_eq!(base_url_from_headers(&ok), "https://scim.example.com:8443");
        for (host, proto) in [
            ("evil.com/path", "http"),
            ("a b", "http"),
            ("x\"y", "http"),
            ("host:port", "http"),
            ("ok.example", "javascript"),
        ] {
            let h = headers(&[("host", host), ("x-forwarded-proto", proto)]);
            let url = base_url_from_headers(&h);
            assert!(
                url == "http://localhost" || url == "http://ok.example",
                "{url}"
            );
        }
        assert!(valid_host("[::1]:3000"));
        assert!(!valid_host("evil.com:99999") && !valid_host("evil.com:0"));
        assert!(valid_host("127.0.0.1:3000"));
        assert!(!valid_host("[::1]x"));
        assert!(!valid_host(""));
    }
}
