//! What a load balancer and an orchestrator ask: is the process alive (`/healthz`, no
//! I/O), and can this instance serve (`/readyz`: the database answers within a second and
//! its schema is current; not while shutting down). Neither needs credentials, and
//! neither tells why beyond a word: the cause goes to the log.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use app::services::Services;

/// How long the database has to answer a readiness check.
const READINESS_TIMEOUT: Duration = Duration::from_secs(1);

/// Set once shutdown begins, so the load balancer stops sending new requests here.
#[derive(Clone, Default)]
pub struct Draining(Arc<AtomicBool>);

impl Draining {
    pub fn start(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    pub fn is_draining(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

/// `/healthz` and `/readyz`, outside the portal's sessions and the API's authentication.
pub fn router(services: Services, draining: Draining) -> axum::Router {
    axum::Router::new()
        .route("/healthz", axum::routing::get(healthz))
        .route("/readyz", axum::routing::get(readyz))
        .with_state((services, draining))
}

pub async fn healthz() -> Response {
    (
        [
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        Json(json!({"status": "ok"})),
    )
        .into_response()
}

pub async fn readyz(State((services, draining)): State<(Services, Draining)>) -> Response {
    let outcome = if draining.is_draining() {
        Err("shutting down")
    } else {
        match tokio::time::timeout(READINESS_TIMEOUT, services.check_ready()).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(error)) => {
                tracing::warn!(error = %error.to_string(), cause = ?error, "not ready");
                Err("database unavailable")
            }
            Err(_) => {
                tracing::warn!("not ready: the database took over a second to answer");
                Err("database unavailable")
            }
        }
    };
    match outcome {
        Ok(()) => (
            [
                (axum::http::header::CACHE_CONTROL, "no-store"),
                (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            Json(json!({"status": "ready"})),
        )
            .into_response(),
        Err(reason) => not_ready(reason),
    }
}

fn not_ready(reason: &str) -> Response {
    let body = json!({
        "type": "urn:ipp-portal:problem:not-ready",
        "title": "Not ready",
        "status": 503,
        "detail": reason,
    });
    (
        StatusCode::SERVICE_UNAVAILABLE,
        [
            (axum::http::header::CONTENT_TYPE, "application/problem+json"),
            (axum::http::header::CACHE_CONTROL, "no-store"),
            (axum::http::header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body.to_string(),
    )
        .into_response()
}
