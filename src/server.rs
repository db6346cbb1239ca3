//! Wiring: the axum router (SCIM API, console, health check, static files), sessions,
//! request logging, background tasks and graceful shutdown. Imported only by `main` (and
//! by tests, which build the same router on a fresh database).

use crate::config::ServeArgs;
use crate::console::{shell, App};
use crate::scim_api::{self, LogWriter, ScimConfig, ScimState};
use crate::sessions::HashedIds;
use crate::state::AppState;
use crate::store::{events, Store, TypedPool};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use leptos::config::{Env, LeptosOptions};
use leptos_axum::{generate_route_list, LeptosRoutes};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::Layer;
use tower_http::normalize_path::{NormalizePath, NormalizePathLayer};
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};

pub type AppService = NormalizePath<Router>;

/// Largest console request body (sign-in, forms, server-function arguments), in bytes.
/// and the time the whole body may take to arrive.
#[derive(Clone, Copy)]
struct ConsoleBodyLimit(usize, Duration);

/// Everything `serve` runs besides the router: the log writer and periodic jobs.
pub struct Background {
    log: Option<LogWriter>,
    log_task: tokio::task::JoinHandle<()>,
    jobs: Vec<tokio::task::JoinHandle<()>>,
}

impl Background {
    /// Waits until the log events queued so far are written.
    pub async fn flush(&self) {
        if let Some(l) = &self.log {
            l.flush().await;
        }
    }

    /// Waits for queued log events to be written (after every router clone is dropped).
    pub async fn finish(mut self) {
        self.log = None;
        for j in self.jobs {
            j.abort();
        }
        let _ = self.log_task.await;
    }
}

/// Builds the whole application on `store`.
pub async fn build(
    store: Store,
    args: &ServeArgs,
) -> Result<(AppService, Background), Box<dyn std::error::Error + Send + Sync>> {
    // A build that hashed the bundle's names (.ci/build) lists them in the site root; the
    // hydration scripts and the stylesheet link then name the hashed files.
    let hash_file = crate::assets::hash_file(&args.site_root);
    let leptos_options = LeptosOptions::builder()
        .output_name("scimgate")
        .hash_files(hash_file.is_some())
        .hash_file(Arc::from(
            hash_file
                .map(|p| p.to_string_lossy().into_owned())
                .unwrap_or_else(|| crate::assets::HASH_FILE.to_string()),
        ))
        .site_root(args.site_root.clone())
        .site_pkg_dir("pkg")
        .site_addr(args.addr)
        .env(match std::env::var("LEPTOS_ENV").as_deref() {
            Ok("DEV") | Ok("dev") | Ok("development") => Env::DEV,
            _ => Env::PROD,
        })
        .build();
    crate::scim::filter::set_limits(args.filter_limits());
    crate::scim::patch::set_resource_limits(crate::scim::patch::ResourceLimits {
        max_patch_operations: args.max_patch_operations,
        max_resource_bytes: args.max_resource_bytes,
    });
    if let Some(n) = args.password_concurrency {
        crate::auth::password::set_concurrency(n);
    }
    crate::auth::sealing::install(args.secrets_key.as_deref(), store.sqlite_path())?;
    let (log, log_task) = LogWriter::start(store.clone());
    let metrics = match args
        .metrics_token
        .as_deref()
        .filter(|t| !t.trim().is_empty())
    {
        Some(token) => Some(Arc::new(crate::metrics::Metrics::new(
            token,
            store.clone(),
            log.clone(),
        )?)),
        None => None,
    };
    let scim = ScimState::new(crate::scim_api::ScimParts {
        store: store.clone(),
        config: Arc::new(ScimConfig {
            max_body_bytes: args.max_body_bytes,
            max_count: args.max_page_size,
            public_url: args.public_url.clone(),
            body_timeout: Duration::from_secs(args.body_timeout_secs.max(1)),
            reads_per_minute: args.log_reads == crate::config::LogReads::Minute,
            ..ScimConfig::default()
        }),
        log: log.clone(),
        unauthenticated: crate::net::AddrLimiter::new(args.unauthenticated_per_minute),
        verified: Arc::new(crate::auth::verified::VerifiedTokens::new(
            Duration::from_millis(args.token_cache_ms.unwrap_or(match store.backend() {
                crate::store::Backend::Sqlite => 1000,
                crate::store::Backend::Postgres => 0,
            })),
        )),
    });
    let proxies = crate::net::TrustedProxies::parse(&args.trusted_proxy)?;
    let state = AppState {
        leptos_options: leptos_options.clone(),
        store: store.clone(),
        scim: scim.clone(),
        public_url: args.public_url.clone(),
        webhook_allow_private: args.webhook_allow_private,
    };
    let secure = args.secure_cookies;
    let https = args
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));

    let routes = generate_route_list(App);
    let console: Router<AppState> = Router::new()
        .route("/healthz", get(healthz))
        .leptos_routes_with_context(&state, routes, || {}, {
            let o = leptos_options.clone();
            move || shell(o.clone())
        })
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(axum::middleware::from_fn(crate::assets::cache_headers))
        .layer(axum::middleware::from_fn(same_origin_writes))
        // Outside the origin check: a browser's plain form post carries `Origin: null`
        // (the console's referrer policy is no-referrer), which that check refuses with a
        // bare 403; this answers it first with a page that says what happened.
        .layer(axum::middleware::from_fn(no_secret_by_plain_post))
        .layer(axum::middleware::from_fn(client_mistakes_are_4xx))
        .layer(axum::middleware::from_fn_with_state(
            ConsoleBodyLimit(
                args.max_console_body_bytes.max(1024),
                Duration::from_secs(args.body_timeout_secs.max(1)),
            ),
            console_body_limit,
        ));
    let mut jobs = Vec::new();
    let console = match store.typed_pool() {
        TypedPool::Sqlite(p) => {
            let s = tower_sessions_sqlx_store::SqliteStore::new(p.clone());
            s.migrate().await?;
            jobs.push(spawn_session_cleanup(s.clone()));
            with_sessions(console, HashedIds(s), secure, https)
        }
        TypedPool::Postgres(p) => {
            let s = tower_sessions_sqlx_store::PostgresStore::new(p.clone());
            s.migrate().await?;
            jobs.push(spawn_session_cleanup(s.clone()));
            with_sessions(console, HashedIds(s), secure, https)
        }
    };
    jobs.push(spawn_event_pruning(
        store.clone(),
        args.event_retention_days,
        args.change_event_retention_days,
    ));
    if args.webhook_delivery {
        jobs.push(crate::webhooks::start(
            store.clone(),
            crate::webhooks::WebhookConfig {
                allow_private: args.webhook_allow_private,
                retry_initial: Duration::from_millis(args.webhook_retry_initial_ms.max(1)),
                disable_after: Duration::from_secs(args.webhook_disable_after_hours.max(1) * 3600),
                ..Default::default()
            },
        ));
    }
    let app_api = crate::app_api::router(crate::app_api::AppApiState {
        store: store.clone(),
        refused: crate::net::AddrLimiter::new(args.unauthenticated_per_minute),
    });
    // Probes and metrics: outside the console's router, so no session is loaded for them.
    let ops = Router::new()
        .route("/readyz", get(readyz).with_state(store.clone()))
        .route(
            "/metrics",
            get(crate::metrics::scrape).with_state(metrics.clone()),
        );
    let app = Router::new()
        .merge(scim_api::router(scim))
        .merge(app_api)
        .merge(ops)
        .merge(console.with_state(state))
        .layer(axum::middleware::from_fn_with_state(
            crate::net::Hardening { hsts: https },
            crate::net::security_headers,
        ))
        .layer(axum::middleware::from_fn(log_request))
        .layer(axum::middleware::from_fn_with_state(
            proxies,
            crate::net::client_addr,
        ))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            panic_response,
        ));
    // Router::layer wraps each route, where axum has already set the MatchedPath the
    // metrics label requests by. Without a token nothing is measured.
    let app = match metrics {
        Some(m) => app.layer(axum::middleware::from_fn_with_state(
            m,
            crate::metrics::track,
        )),
        None => app,
    };
    // Trailing slashes are trimmed before routing: `/scim/v2/acme/Users/` works.
    Ok((
        NormalizePathLayer::trim_trailing_slash().layer(app),
        Background {
            log: Some(log),
            log_task,
            jobs,
        },
    ))
}

fn with_sessions<S: SessionStore + Clone>(
    router: Router<AppState>,
    store: S,
    secure: bool,
    https: bool,
) -> Router<AppState> {
    router.layer(
        SessionManagerLayer::new(store)
            // Under https the `__Host-` prefix makes browsers refuse the cookie unless it is
            // Secure, host-only and for the whole path: no subdomain can plant or read it.
            .with_name(if https && secure {
                "__Host-scimgate_session"
            } else {
                "scimgate_session"
            })
            .with_path("/")
            .with_http_only(true)
            .with_same_site(tower_sessions::cookie::SameSite::Lax)
            .with_secure(secure)
            .with_expiry(Expiry::OnInactivity(
                tower_sessions::cookie::time::Duration::hours(12),
            )),
    )
}

fn spawn_session_cleanup<S>(store: S) -> tokio::task::JoinHandle<()>
where
    S: tower_sessions::ExpiredDeletion + Clone + Send + Sync + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = store
            .continuously_delete_expired(Duration::from_secs(3600))
            .await
        {
            tracing::warn!(error = %e, "expired-session cleanup stopped");
        }
    })
}

/// Hourly: drops provisioning-log events older than `log_days` and change events (the
/// application's feed) older than `feed_days`.
fn spawn_event_pruning(store: Store, log_days: u32, feed_days: u32) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            let now = crate::directory::now_ms();
            let result = async {
                let mut tx = store.begin().await?;
                let log =
                    events::prune_events(&mut tx, now - i64::from(log_days) * 86_400_000).await?;
                let feed =
                    crate::store::feed::prune(&mut tx, now - i64::from(feed_days) * 86_400_000)
                        .await?;
                tx.commit().await?;
                Ok::<(u64, u64), crate::store::StoreError>((log, feed))
            }
            .await;
            match result {
                Ok((0, 0)) => {}
                Ok((log, feed)) => tracing::info!(
                    log,
                    feed,
                    log_days,
                    feed_days,
                    "pruned provisioning log and change events"
                ),
                Err(e) => tracing::warn!(error = %e, "pruning failed"),
            }
        }
    })
}

async fn healthz(State(state): State<AppState>) -> Response {
    match state.store.ping().await {
        Ok(()) => (
            StatusCode::OK,
            axum::Json(serde_json::json!({"status": "ok"})),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                axum::Json(serde_json::json!({"status": "unavailable"})),
            )
                .into_response()
        }
    }
}

/// Readiness (`/healthz` is liveness): 200 when the database answers a query on
/// scimgate's schema (see [`Store::ready`]), else 503 with a reason that names no path or
/// address; the details go to the log.
async fn readyz(State(store): State<Store>) -> Response {
    match store.ready().await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            axum::Json(serde_json::json!({"status": "ready"})),
        )
            .into_response(),
        Err(e) => {
            tracing::warn!(reason = e.reason, detail = %e.detail, "not ready");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CACHE_CONTROL, "no-store")],
                axum::Json(serde_json::json!({"status": "unavailable", "reason": e.reason})),
            )
                .into_response()
        }
    }
}

/// CSRF defence in depth beside SameSite cookies: a state-changing console request whose
/// `Origin` names another site is refused.
async fn same_origin_writes(req: Request, next: Next) -> Response {
    if !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok());
        let host = req
            .headers()
            .get(header::HOST)
            .and_then(|v| v.to_str().ok());
        if let (Some(origin), Some(host)) = (origin, host) {
            let origin_host = origin.split_once("://").map(|(_, h)| h).unwrap_or(origin);
            if origin == "null" || origin_host != host {
                tracing::warn!(origin, "cross-origin console request refused");
                return (StatusCode::FORBIDDEN, "cross-origin request refused").into_response();
            }
        }
    }
    next.run(req).await
}

/// The server functions whose answer is a secret shown once.
fn secret_answers() -> [&'static str; 5] {
    use crate::console::api::{
        AddWebhookEndpoint, CreateAppKey, CreateToken, InviteAdmin, RegenerateToken,
    };
    use leptos::server_fn::ServerFn;
    [
        CreateToken::PATH,
        RegenerateToken::PATH,
        CreateAppKey::PATH,
        AddWebhookEndpoint::PATH,
        InviteAdmin::PATH,
    ]
}

/// A plain HTML form post (sent before the page was hydrated, or with JavaScript off) to a
/// server function whose answer is a secret shown once would create the secret and then,
/// as Leptos answers such posts, redirect back to the page without it: a token nobody ever
/// saw. Such posts are refused before anything is created, with a page that says why.
/// Hydrated forms call with `Accept` naming the answer's encoding, never `text/html`.
async fn no_secret_by_plain_post(req: Request, next: Next) -> Response {
    let plain_post = *req.method() == Method::POST
        && req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|a| a.contains("text/html"));
    if !plain_post || !secret_answers().contains(&req.uri().path()) {
        return next.run(req).await;
    }
    // Nothing here depends on the request beyond its path: no Referer arrives (the console's
    // referrer policy is no-referrer), and the page echoes nothing.
    let page = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>Nothing was created · scimgate</title></head><body><main>\
         <h1>Nothing was created</h1><p>This form creates a secret that is shown only once, \
         on the page that asked for it, and that page had not finished loading (or JavaScript \
         is off). Nothing was created.</p><p>Go back with your browser, wait until the page \
         has loaded, and send the form again.</p></main></body></html>";
    (
        StatusCode::CONFLICT,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        page,
    )
        .into_response()
}

/// Console forms and server-function calls are small: a body over the limit (by its
/// Content-Length, or as it arrives when chunked) is 413 before any handler runs.
async fn console_body_limit(
    State(ConsoleBodyLimit(limit, deadline)): State<ConsoleBodyLimit>,
    req: Request,
    next: Next,
) -> Response {
    let too_large = || (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return next.run(req).await;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return too_large();
    }
    // The whole body is read here, under one deadline: a client dripping a byte now and
    // then would otherwise hold a connection (and a slot) indefinitely.
    let (parts, body) = req.into_parts();
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Ok(Ok(bytes)) => {
            next.run(Request::from_parts(parts, axum::body::Body::from(bytes)))
                .await
        }
        Ok(Err(_)) if declared.is_none() => too_large(),
        Ok(Err(_)) => (StatusCode::BAD_REQUEST, "request body could not be read").into_response(),
        Err(_) => (
            StatusCode::REQUEST_TIMEOUT,
            "request body did not arrive in time",
        )
            .into_response(),
    }
}

/// Leptos answers a server-function call whose arguments do not decode (a missing field, a
/// malformed value) with 500, though the mistake is the client's: such answers become 400.
async fn client_mistakes_are_4xx(req: Request, next: Next) -> Response {
    let api = req.uri().path().starts_with("/api/");
    let resp = next.run(req).await;
    if !api || resp.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let bytes = axum::body::to_bytes(body, 64 * 1024)
        .await
        .unwrap_or_default();
    if bytes.starts_with(b"Args|") || bytes.starts_with(b"Deserialization|") {
        parts.status = StatusCode::BAD_REQUEST;
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// One log line per request: method, path, status, duration. Never headers, bodies or
/// queries (they may carry tokens or personal data).
async fn log_request(req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let start = Instant::now();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(%method, path, status, duration_ms = ms, "request");
    } else {
        tracing::info!(%method, path, status, duration_ms = ms, "request");
    }
    resp
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    let e = crate::scim::ScimError::internal();
    let mut r = (
        StatusCode::INTERNAL_SERVER_ERROR,
        serde_json::to_vec(&e.body()).unwrap_or_default(),
    )
        .into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/scim+json"),
    );
    r
}

/// Runs the server until SIGTERM or Ctrl-C, then drains in-flight requests and the log.
pub async fn serve(
    store: Store,
    args: ServeArgs,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let (app, background) = build(store.clone(), &args).await?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.addr))?;
    let addr = listener.local_addr()?;
    tracing::info!("scimgate listening on http://{addr}");
    // From here a line per request: gathered (see log_sink).
    crate::log_sink::start_gathering();
    println!("scimgate is running: open http://{addr}/");
    serve_connections(listener, app, &args, shutdown_signal()).await;
    // Shutting down: every line at once again.
    crate::log_sink::stop();
    background.finish().await;
    store.close().await;
    tracing::info!("scimgate stopped");
    Ok(())
}

/// The accept loop. axum::serve sets no timeouts: a client that sends half its headers or
/// half a body, or holds an idle connection, kept a task and a socket forever. Here every
/// connection is HTTP/1.1 with a header read timeout (which also closes idle keep-alive
/// connections), bodies must arrive within the body timeout (see `build`), and at most
/// `max_connections` are open at once (the rest wait in the kernel's accept queue).
pub async fn serve_connections(
    listener: tokio::net::TcpListener,
    app: AppService,
    args: &ServeArgs,
    shutdown: impl std::future::Future<Output = ()>,
) {
    use hyper_util::rt::{TokioIo, TokioTimer};
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let slots = Arc::new(tokio::sync::Semaphore::new(args.max_connections.max(1)));
    let header_timeout = Duration::from_secs(args.header_timeout_secs.max(1));
    let body_timeout = Duration::from_secs(args.body_timeout_secs.max(1));
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            p = slots.clone().acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
            _ = &mut shutdown => break,
        };
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        // No Nagle delay: SSR pages are streamed in several writes, and a delayed-ACK stall
        // of ~40 ms on each would dominate page times.
        let _ = tcp.set_nodelay(true);
        let svc = tower::ServiceExt::map_request(
            app.clone(),
            move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut()
                    .insert(axum::extract::ConnectInfo(peer));
                // A body that stalls between chunks longer than the body timeout fails the read.
                req.map(|b| {
                    axum::body::Body::new(tower_http::timeout::TimeoutBody::new(body_timeout, b))
                })
            },
        );
        let svc = hyper_util::service::TowerToHyperService::new(svc);
        let mut builder = hyper::server::conn::http1::Builder::new();
        builder
            .timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .keep_alive(true);
        let conn = builder.serve_connection(TokioIo::new(tcp), svc);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    // In-flight requests finish; idle connections close at once.
    if tokio::time::timeout(Duration::from_secs(30), graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("some connections were still open 30 s after shutdown began");
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down");
}
