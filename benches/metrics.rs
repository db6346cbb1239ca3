//! The cost of the `/metrics` middleware on a request: the same trivial route through axum
//! with and without `metrics::track` (the difference is what every request pays when
//! `--metrics-token` is set). `cargo bench --bench metrics`.

use axum::body::Body;
use axum::http::Request;
use axum::routing::get;
use axum::Router;
use criterion::{criterion_group, criterion_main, Criterion};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tower::ServiceExt;

fn router() -> Router {
    Router::new()
        .route("/scim/v2/{org}/Users/{id}", get(|| async { "ok" }))
        .route("/scim/v2/{org}/Users", get(|| async { "ok" }))
}

fn requests(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let store = rt
        .block_on(scimgate::store::Store::connect(&format!(
            "sqlite://{}/bench.db",
            dir.path().display()
        )))
        .unwrap();
    let (log, _task) = rt.block_on(async { scimgate::scim_api::LogWriter::start(store.clone()) });
    let metrics = Arc::new(
        scimgate::metrics::Metrics::new("a-bench-token-0123456789", store.clone(), log).unwrap(),
    );
    let plain = router();
    let measured = router().layer(axum::middleware::from_fn_with_state(
        metrics.clone(),
        scimgate::metrics::track,
    ));
    let run = |app: &Router, iters: u64| -> Duration {
        rt.block_on(async {
            let start = Instant::now();
            for i in 0..iters {
                // Two templates, many concrete ids: the labels stay two series.
                let uri = if i % 2 == 0 {
                    "/scim/v2/acme/Users/0190a0a0-0000-7000-8000-000000000001"
                } else {
                    "/scim/v2/acme/Users"
                };
                let req = Request::get(uri).body(Body::empty()).unwrap();
                let resp = app.clone().oneshot(req).await.unwrap();
                std::hint::black_box(resp);
            }
            start.elapsed()
        })
    };
    c.bench_function("request without metrics", |b| {
        b.iter_custom(|iters| run(&plain, iters))
    });
    c.bench_function("request with metrics", |b| {
        b.iter_custom(|iters| run(&measured, iters))
    });
    c.bench_function("scrape (render /metrics)", |b| {
        b.iter(|| std::hint::black_box(metrics.render().unwrap()))
    });
}

criterion_group!(benches, requests);
criterion_main!(benches);
