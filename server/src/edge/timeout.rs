//! A deadline for every request, from its headers to the head of its answer, so that a
//! slow body or a stuck handler cannot hold a connection and its resources for ever.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::api::problem;

/// Answers 408 when the rest of the stack has not answered within `limit`: a problem
/// document for the Device API, plain text for the portal. The request's work is dropped
/// at its next await; a change already committed stays committed.
pub async fn limit_request_time(
    State(limit): State<Duration>,
    request: Request,
    next: Next,
) -> Response {
    let api = request.uri().path().starts_with("/ipp/");
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("request timed out after {} s", limit.as_secs());
            if api {
                problem::request_timed_out(limit)
            } else {
                let mut response = (
                    StatusCode::REQUEST_TIMEOUT,
                    "The request took too long. Try again.",
                )
                    .into_response();
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                response
            }
        }
    }
}
