//! `GET /metrics` in the Prometheus text format, and the measuring of every HTTP request.
//!
//! The process has one recorder (the `metrics` crate's global one), installed by the first
//! application built and shared by every later one in the same process (the integration
//! tests build many): what a scrape shows is the process's. The names and the recording
//! functions are in `app::metrics`; this module installs the recorder, measures requests
//! by route template, and answers scrapes. `/metrics` tells no secret and needs no
//! credentials; a deployment that wants it off the public port serves it on
//! `--metrics-addr` instead, on a private interface.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{MatchedPath, State};
use axum::http::{Request, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use app::metrics::{self as names, HTTP_LATENCY_BUCKETS, UNMATCHED_ROUTE};
use app::services::Services;

/// The media type of the Prometheus text format.
const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

/// How often histogram samples are folded into their buckets between scrapes, so that
/// an instance nobody scrapes does not keep every sample.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use.
pub fn handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(install).clone()
}

fn install() -> PrometheusHandle {
    let builder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Full(names::HTTP_REQUEST_DURATION_SECONDS.to_owned()),
            HTTP_LATENCY_BUCKETS,
        )
        .and_then(|builder| {
            builder.set_buckets_for_metric(
                Matcher::Full(names::WEBHOOK_ATTEMPT_DURATION_SECONDS.to_owned()),
                HTTP_LATENCY_BUCKETS,
            )
        });
    let recorder = match builder {
        Ok(builder) => builder.build_recorder(),
        // Only an empty bucket list is refused; the metric is then a summary.
        Err(_) => PrometheusBuilder::new().build_recorder(),
    };
    let handle = recorder.handle();
    if metrics::set_global_recorder(recorder).is_err() {
        // Someone else's recorder came first: scrapes show only what reaches this one.
        tracing::warn!("another metrics recorder is installed; /metrics will be empty");
    }
    names::describe();
    let upkeep = handle.clone();
    let started = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_INTERVAL);
                upkeep.run_upkeep();
            }
        });
    if let Err(error) = started {
        tracing::warn!("metrics upkeep not started ({error}); scrapes will do it");
    }
    handle
}

/// Counts and times every request by route template (never the path, which may hold ids
/// or codes), method and status class. A layer added with `Router::layer`, so it runs
/// after routing and finds the template; a request no route matched counts as
/// [`UNMATCHED_ROUTE`].
pub async fn measure_request(request: Request<Body>, next: Next) -> Response {
    let started = Instant::now();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or(UNMATCHED_ROUTE, MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let response = next.run(request).await;
    names::http_request(
        &route,
        method.as_str(),
        response.status().as_u16(),
        started.elapsed(),
    );
    response
}

/// `GET /metrics`, outside the portal's sessions and the API's authentication.
pub fn router(services: Services) -> axum::Router {
    let handle = handle();
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .with_state((services, handle))
}

async fn scrape(State((services, handle)): State<(Services, PrometheusHandle)>) -> Response {
    let connections = services.connection_counts();
    names::db_connections(connections.in_use, connections.idle);
    // A database that does not answer leaves the gauge as it was: the scrape still works.
    if let Ok(pending) = services.webhook_queue_depth().await {
        names::webhook_queue_depth(pending);
    }
    (
        [
            (header::CONTENT_TYPE, TEXT_FORMAT),
            (header::CACHE_CONTROL, "no-store"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        handle.render(),
    )
        .into_response()
}
