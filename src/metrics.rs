//! `/metrics`: Prometheus (OpenMetrics text) counters for operators. Off unless
//! `--metrics-token` is set, and then only for `Authorization: Bearer <token>`.
//!
//! What it shows, and why no label can carry an org, a user or a secret:
//! - HTTP requests and their latency by *route template* (`/scim/v2/{org}/Users/{id}`, taken
//!   from axum's `MatchedPath`, never from the request's path), method (the standard
//!   methods, anything else `OTHER`) and status class (`2xx`…). Requests no route matched
//!   (static files, unknown paths) share the route `(unmatched)`.
//! - The provisioning-log writer: queue depth, entries dropped, sends that found it full.
//! - The database pools: acquires, waits for a connection (a histogram of wait time) and
//!   acquire timeouts, per pool (`connections`, and SQLite's `sqlite_writer`).
//!
//! The middleware runs on every request, so it allocates nothing once a route has been seen:
//! the route template is interned (a bounded set: the router's own routes), the label set is
//! `Copy`, and the families are looked up under read locks.

use crate::scim_api::LogWriter;
use crate::store::Store;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{
    DescriptorEncoder, EncodeLabelSet, EncodeLabelValue, LabelValueEncoder, NoLabelSet,
};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fmt::Write;
use std::sync::{Arc, RwLock};
use std::time::Instant;

/// Shortest accepted `--metrics-token`: it is the only thing between the network and the
/// service's traffic figures.
pub const MIN_TOKEN_LEN: usize = 16;

/// The route label of requests that matched no route.
const UNMATCHED: &str = "(unmatched)";
/// Interned route templates beyond this share one label (defence in depth: templates come
/// from the router, which has a few dozen).
const MAX_ROUTES: usize = 512;

/// Request latency buckets, in seconds: sub-millisecond reads to long polls.
const LATENCY_BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
enum MethodLabel {
    Get,
    Head,
    Post,
    Put,
    Patch,
    Delete,
    Options,
    Other,
}

impl MethodLabel {
    fn of(m: &Method) -> MethodLabel {
        match *m {
            Method::GET => MethodLabel::Get,
            Method::HEAD => MethodLabel::Head,
            Method::POST => MethodLabel::Post,
            Method::PUT => MethodLabel::Put,
            Method::PATCH => MethodLabel::Patch,
            Method::DELETE => MethodLabel::Delete,
            Method::OPTIONS => MethodLabel::Options,
            _ => MethodLabel::Other,
        }
    }
}

impl EncodeLabelValue for MethodLabel {
    fn encode(&self, e: &mut LabelValueEncoder) -> std::fmt::Result {
        e.write_str(match self {
            MethodLabel::Get => "GET",
            MethodLabel::Head => "HEAD",
            MethodLabel::Post => "POST",
            MethodLabel::Put => "PUT",
            MethodLabel::Patch => "PATCH",
            MethodLabel::Delete => "DELETE",
            MethodLabel::Options => "OPTIONS",
            MethodLabel::Other => "OTHER",
        })
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq)]
struct StatusClass(u8);

impl StatusClass {
    fn of(s: StatusCode) -> StatusClass {
        StatusClass((s.as_u16() / 100).clamp(1, 5) as u8)
    }
}

impl EncodeLabelValue for StatusClass {
    fn encode(&self, e: &mut LabelValueEncoder) -> std::fmt::Result {
        e.write_str(match self.0 {
            1 => "1xx",
            2 => "2xx",
            3 => "3xx",
            4 => "4xx",
            _ => "5xx",
        })
    }
}

#[derive(Clone, Copy, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    route: &'static str,
    method: MethodLabel,
    status: StatusClass,
}

type LatencyFamily = Family<HttpLabels, Histogram, fn() -> Histogram>;

/// The registry and the HTTP families; one per server (no process-wide recorder: tests run
/// several servers in one process).
pub struct Metrics {
    token_hash: [u8; 32],
    registry: Registry,
    requests: Family<HttpLabels, Counter>,
    latency: LatencyFamily,
    routes: RwLock<HashSet<&'static str>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token (nor its hash).
        f.write_str("Metrics")
    }
}

#[derive(Debug, thiserror::Error)]
#[error(
    "--metrics-token must be at least {MIN_TOKEN_LEN} characters (e.g. `openssl rand -hex 32`)"
)]
pub struct WeakToken;

impl Metrics {
    /// The metrics of one server, readable with `token`.
    pub fn new(token: &str, store: Store, log: LogWriter) -> Result<Metrics, WeakToken> {
        if token.trim().len() < MIN_TOKEN_LEN {
            return Err(WeakToken);
        }
        let mut registry = Registry::with_prefix("scimgate");
        let requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "HTTP requests answered, by route template, method and status class",
            requests.clone(),
        );
        let latency: LatencyFamily =
            Family::new_with_constructor(|| Histogram::new(LATENCY_BUCKETS));
        registry.register_with_unit(
            "http_request_duration",
            "Time to the response's headers, by route template, method and status class",
            Unit::Seconds,
            latency.clone(),
        );
        registry.register_collector(Box::new(Internals { store, log }));
        Ok(Metrics {
            token_hash: Sha256::digest(token.trim().as_bytes()).into(),
            registry,
            requests,
            latency,
            routes: RwLock::new(HashSet::new()),
        })
    }

    /// The `'static` copy of a route template (made once per template).
    fn intern(&self, route: &str) -> &'static str {
        if let Some(r) = self
            .routes
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .get(route)
        {
            return r;
        }
        let mut routes = self.routes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(r) = routes.get(route) {
            return r;
        }
        if routes.len() >= MAX_ROUTES {
            return "(other)";
        }
        // Leaked on purpose: the set of templates is the router's, bounded and lives as long
        // as the process.
        let r: &'static str = Box::leak(route.to_owned().into_boxed_str());
        routes.insert(r);
        r
    }

    fn observe(&self, labels: HttpLabels, seconds: f64) {
        self.requests.get_or_create(&labels).inc();
        self.latency.get_or_create(&labels).observe(seconds);
    }

    /// Whether `headers` carry the token. Both sides are hashed first, so the comparison
    /// takes the same time whatever the guess (length included).
    fn authorized(&self, headers: &HeaderMap) -> bool {
        let Some(given) = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
        else {
            return false;
        };
        let given: [u8; 32] = Sha256::digest(given.trim().as_bytes()).into();
        subtle::ConstantTimeEq::ct_eq(&given[..], &self.token_hash[..]).into()
    }

    /// The exposition, as Prometheus scrapes it.
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut out = String::with_capacity(16 * 1024);
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }
}

/// Counts and times every request. Added outermost (outside the panic catcher), so a panic
/// counts as the 500 the client got.
pub async fn track(State(m): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) => m.intern(p.as_str()),
        None => UNMATCHED,
    };
    let method = MethodLabel::of(req.method());
    let start = Instant::now();
    let resp = next.run(req).await;
    let labels = HttpLabels {
        route,
        method,
        status: StatusClass::of(resp.status()),
    };
    m.observe(labels, start.elapsed().as_secs_f64());
    resp
}

/// `GET /metrics`: 404 when metrics are off (as if there were no such page), 401 without
/// the token.
pub async fn scrape(State(m): State<Option<Arc<Metrics>>>, headers: HeaderMap) -> Response {
    let Some(m) = m else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    if !m.authorized(&headers) {
        return (
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer")],
            "metrics need the metrics token",
        )
            .into_response();
    }
    match m.render() {
        Ok(body) => (
            [
                (
                    header::CONTENT_TYPE,
                    "application/openmetrics-text; version=1.0.0; charset=utf-8",
                ),
                (header::CACHE_CONTROL, "no-store"),
            ],
            body,
        )
            .into_response(),
        Err(_) => {
            tracing::error!("could not encode the metrics");
            (StatusCode::INTERNAL_SERVER_ERROR, "metrics unavailable").into_response()
        }
    }
}

/// The figures read at scrape time from the parts that keep them (atomics there, so the
/// request path pays nothing for metrics being scraped).
struct Internals {
    store: Store,
    log: LogWriter,
}

impl std::fmt::Debug for Internals {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Internals")
    }
}

fn gauge(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Gauge)?
        .encode_gauge(&v)
}

fn counter(e: &mut DescriptorEncoder, name: &str, help: &str, v: u64) -> std::fmt::Result {
    e.encode_descriptor(name, help, None, MetricType::Counter)?
        .encode_counter::<NoLabelSet, _, u64>(&v, None)
}

impl Collector for Internals {
    fn encode(&self, mut e: DescriptorEncoder) -> std::fmt::Result {
        let log = self.log.stats();
        gauge(
            &mut e,
            "provisioning_log_queue_depth",
            "Provisioning-log jobs queued for the background writer",
            log.queued,
        )?;
        gauge(
            &mut e,
            "provisioning_log_queue_capacity",
            "Room in the provisioning-log queue; when full, requests wait",
            log.capacity,
        )?;
        counter(
            &mut e,
            "provisioning_log_dropped",
            "Provisioning-log entries that were not written (their batch failed or the writer had stopped)",
            log.dropped,
        )?;
        counter(
            &mut e,
            "provisioning_log_queue_full",
            "Requests that waited because the provisioning-log queue was full",
            log.waited_full,
        )?;

        if self.store.backend() == crate::store::Backend::Sqlite {
            // How the one write connection and the WAL's checkpointer keep up (see
            // store::write and store::wal): creates per COMMIT is requests over commits, and
            // a growing gap between commits and the checkpointed ones means the WAL grows.
            let wal = self.store.wal_checkpoints();
            counter(
                &mut e,
                "sqlite_commits",
                "Group COMMITs of the SQLite write connection",
                wal.commits,
            )?;
            gauge(
                &mut e,
                "sqlite_commits_not_checkpointed",
                "COMMITs of the write connection since the checkpointer last copied the whole WAL into the database file",
                wal.commits.saturating_sub(wal.covered_commits),
            )?;
            {
                let mut m = e.encode_descriptor(
                    "sqlite_wal_checkpoints",
                    "WAL checkpoints run off the write connection, by outcome (partial ones are retried)",
                    None,
                    MetricType::Counter,
                )?;
                m.encode_family(&[("outcome", "complete")])?
                    .encode_counter::<NoLabelSet, _, u64>(&wal.complete, None)?;
                m.encode_family(&[("outcome", "partial")])?
                    .encode_counter::<NoLabelSet, _, u64>(&wal.partial, None)?;
            }
            counter(
                &mut e,
                "sqlite_wal_checkpointed_frames",
                "WAL frames (pages) copied into the database file by the checkpointer",
                wal.frames,
            )?;
        }

        let pools = self.store.pool_waits();
        {
            let mut m = e.encode_descriptor(
                "db_pool_acquires",
                "Connections taken from the pool",
                None,
                MetricType::Counter,
            )?;
            for (pool, w) in &pools {
                m.encode_family(&[("pool", *pool)])?
                    .encode_counter::<NoLabelSet, _, u64>(&w.acquires, None)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "db_pool_wait",
                "Time spent waiting for a connection, for acquires that found none free",
                Some(&Unit::Seconds),
                MetricType::Histogram,
            )?;
            for (pool, w) in &pools {
                m.encode_family(&[("pool", *pool)])?
                    .encode_histogram::<NoLabelSet>(w.wait_seconds, w.waits, &w.buckets, None)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "db_pool_timeouts",
                "Acquires that gave up waiting for a connection (the request failed)",
                None,
                MetricType::Counter,
            )?;
            for (pool, w) in &pools {
                m.encode_family(&[("pool", *pool)])?
                    .encode_counter::<NoLabelSet, _, u64>(&w.timeouts, None)?;
            }
        }
        {
            let mut m = e.encode_descriptor(
                "db_pool_in_use",
                "Connections handed out now",
                None,
                MetricType::Gauge,
            )?;
            for (pool, w) in &pools {
                m.encode_family(&[("pool", *pool)])?
                    .encode_gauge(&w.in_use)?;
            }
        }
        let mut m = e.encode_descriptor(
            "db_pool_size",
            "Most connections the pool opens",
            None,
            MetricType::Gauge,
        )?;
        for (pool, w) in &pools {
            m.encode_family(&[("pool", *pool)])?.encode_gauge(&w.size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(StatusClass::of(StatusCode::OK).0, 2);
        assert_eq!(StatusClass::of(StatusCode::NOT_FOUND).0, 4);
        assert_eq!(StatusClass::of(StatusCode::SERVICE_UNAVAILABLE).0, 5);
        assert_eq!(StatusClass::of(StatusCode::SWITCHING_PROTOCOLS).0, 1);
    }
}
