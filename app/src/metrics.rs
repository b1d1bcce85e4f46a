//! What the product counts for Prometheus: every metric's name, and one small function
//! per thing recorded, so callers never spell a name or a label themselves.
//!
//! Recording goes to whichever `metrics` recorder the process installed (the server
//! installs a Prometheus one and serves it at `/metrics`); without one, recording does
//! nothing. Labels take values from short fixed sets only (outcomes, route templates,
//! status classes): never an id, a code, an address or anything a caller typed, so the
//! number of series stays bounded and no secret reaches a scrape.
//!
//! A new metric (webhook deliveries, say) gets its name constant here, a line in
//! [`describe`], and a recording function beside the others.

use std::time::Duration;

use crate::services::{ErrorKind, ServiceResult};

/// HTTP requests answered, by `route` (the template), `method` and `status` class.
pub const HTTP_REQUESTS_TOTAL: &str = "ipp_http_requests_total";
/// Seconds from a request's headers to its answer's head, labelled as the count is.
pub const HTTP_REQUEST_DURATION_SECONDS: &str = "ipp_http_request_duration_seconds";
/// Device registrations by `outcome` (see [`registration_outcome`]).
pub const REGISTRATIONS_TOTAL: &str = "ipp_registrations_total";
/// Portal sign-ins by `outcome` (see [`login_outcome`]).
pub const LOGINS_TOTAL: &str = "ipp_logins_total";
/// Enrollments (pairing codes) created, one by one or on a pairing sheet.
pub const ENROLLMENTS_CREATED_TOTAL: &str = "ipp_enrollments_created_total";
/// Database connections of this instance by `state`: `in_use` or `idle`.
pub const DB_CONNECTIONS: &str = "ipp_db_connections";
/// Webhook delivery attempts by `outcome`: `succeeded`, `retrying` (failed, due again
/// later) or `failed` (failed for the last time).
pub const WEBHOOK_ATTEMPTS_TOTAL: &str = "ipp_webhook_attempts_total";
/// Seconds from sending a webhook to its answer (or its failure).
pub const WEBHOOK_ATTEMPT_DURATION_SECONDS: &str = "ipp_webhook_attempt_duration_seconds";
/// Webhook deliveries not yet made, of every instance (read from the database when
/// scraped).
pub const WEBHOOK_QUEUE_DEPTH: &str = "ipp_webhook_queue_depth";

/// The `route` label of a request that matched no route (static files, unknown paths):
/// one value for all of them, never the path itself.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Upper bounds of the latency histogram's buckets, in seconds.
pub const HTTP_LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// Gives each metric its help text in the scrape. Call once, after the recorder is set.
pub fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        HTTP_REQUESTS_TOTAL,
        "HTTP requests answered, by route template, method and status class"
    );
    describe_histogram!(
        HTTP_REQUEST_DURATION_SECONDS,
        Unit::Seconds,
        "Time to answer an HTTP request, by route template, method and status class"
    );
    describe_counter!(
        REGISTRATIONS_TOTAL,
        "Device registrations by outcome: created, unknown_code, gone, limited, invalid, conflict, busy, error"
    );
    describe_counter!(
        LOGINS_TOTAL,
        "Portal sign-ins by outcome: succeeded, failed, limited, busy, invalid, error"
    );
    describe_counter!(
        ENROLLMENTS_CREATED_TOTAL,
        "Enrollments (pairing codes) created"
    );
    describe_gauge!(
        DB_CONNECTIONS,
        "Database connections of this instance, by state: in_use or idle"
    );
    describe_counter!(
        WEBHOOK_ATTEMPTS_TOTAL,
        "Webhook delivery attempts by outcome: succeeded, retrying, failed"
    );
    describe_histogram!(
        WEBHOOK_ATTEMPT_DURATION_SECONDS,
        Unit::Seconds,
        "Time from sending a webhook to its answer or failure"
    );
    describe_gauge!(
        WEBHOOK_QUEUE_DEPTH,
        "Webhook deliveries waiting to be made, of every instance"
    );
}

/// One answered HTTP request. `route` is the matched template (`/ipp/v1/devices/{id}`) or
/// [`UNMATCHED_ROUTE`]; the method is one of the usual ones or `other`.
pub fn http_request(route: &str, method: &str, status: u16, latency: Duration) {
    let method = match method {
        "GET" => "GET",
        "HEAD" => "HEAD",
        "POST" => "POST",
        "PUT" => "PUT",
        "PATCH" => "PATCH",
        "DELETE" => "DELETE",
        "OPTIONS" => "OPTIONS",
        _ => "other",
    };
    let labels = [
        metrics::Label::new("route", route.to_owned()),
        metrics::Label::from_static_parts("method", method),
        metrics::Label::from_static_parts("status", status_class(status)),
    ];
    metrics::counter!(HTTP_REQUESTS_TOTAL, labels.iter()).increment(1);
    metrics::histogram!(HTTP_REQUEST_DURATION_SECONDS, labels.iter()).record(latency.as_secs_f64());
}

/// `2xx`, `4xx`, ...: the class of a status, so the labels stay few.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

/// The outcome of a device registration, as counted.
pub fn registration_outcome<T>(result: &ServiceResult<T>) -> &'static str {
    match result {
        Ok(_) => "created",
        Err(error) => match error.kind() {
            ErrorKind::NotFound => "unknown_code",
            ErrorKind::Gone => "gone",
            ErrorKind::RateLimited => "limited",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Conflict => "conflict",
            ErrorKind::Unavailable => "busy",
            ErrorKind::Unauthorized | ErrorKind::Forbidden | ErrorKind::Internal => "error",
        },
    }
}

/// Counts a device registration by its outcome.
pub fn registration<T>(result: &ServiceResult<T>) {
    metrics::counter!(REGISTRATIONS_TOTAL, "outcome" => registration_outcome(result)).increment(1);
}

/// The outcome of a sign-in, as counted: `failed` is a wrong email or password or a
/// disabled account, `limited` one refused unchecked after too many failures, `busy` one
/// not checked because the server was hashing as many passwords as it takes.
pub fn login_outcome<T>(result: &ServiceResult<T>) -> &'static str {
    match result {
        Ok(_) => "succeeded",
        Err(error) => match error.kind() {
            ErrorKind::Unauthorized => "failed",
            ErrorKind::RateLimited => "limited",
            ErrorKind::Unavailable => "busy",
            ErrorKind::Invalid => "invalid",
            ErrorKind::Forbidden
            | ErrorKind::NotFound
            | ErrorKind::Gone
            | ErrorKind::Conflict
            | ErrorKind::Internal => "error",
        },
    }
}

/// Counts a sign-in by its outcome.
pub fn login<T>(result: &ServiceResult<T>) {
    metrics::counter!(LOGINS_TOTAL, "outcome" => login_outcome(result)).increment(1);
}

/// Counts `count` new enrollments.
pub fn enrollments_created(count: u64) {
    metrics::counter!(ENROLLMENTS_CREATED_TOTAL).increment(count);
}

/// Sets the database connection gauges (read from the pool when scraped).
pub fn db_connections(in_use: u32, idle: u32) {
    metrics::gauge!(DB_CONNECTIONS, "state" => "in_use").set(f64::from(in_use));
    metrics::gauge!(DB_CONNECTIONS, "state" => "idle").set(f64::from(idle));
}

/// Counts one webhook attempt; `next_status` is the delivery's state after it
/// (`SUCCEEDED`, `PENDING` to be retried, or `FAILED`).
pub fn webhook_attempt(next_status: &str, latency: Duration) {
    let outcome = match next_status {
        "SUCCEEDED" => "succeeded",
        "PENDING" => "retrying",
        _ => "failed",
    };
    metrics::counter!(WEBHOOK_ATTEMPTS_TOTAL, "outcome" => outcome).increment(1);
    metrics::histogram!(WEBHOOK_ATTEMPT_DURATION_SECONDS).record(latency.as_secs_f64());
}

/// Sets the webhook queue gauge (read from the database when scraped).
pub fn webhook_queue_depth(pending: i64) {
    metrics::gauge!(WEBHOOK_QUEUE_DEPTH).set(pending as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::services::ServiceError;

    #[test]
    fn statuses_are_counted_by_class() {
        assert_eq!(status_class(200), "2xx");
        assert_eq!(status_class(201), "2xx");
        assert_eq!(status_class(303), "3xx");
        assert_eq!(status_class(429), "4xx");
        assert_eq!(status_class(503), "5xx");
    }

    #[test]
    fn registration_outcomes_follow_the_error_kind() {
        let outcome = |result: ServiceResult<()>| registration_outcome(&result);
        assert_eq!(outcome(Ok(())), "created");
        assert_eq!(
            outcome(Err(ServiceError::NotFound("enrollment code"))),
            "unknown_code"
        );
        assert_eq!(outcome(Err(ServiceError::Gone("used".into()))), "gone");
        assert_eq!(
            outcome(Err(ServiceError::RateLimited {
                retry_after_seconds: 60,
                attempts: "pairing attempts"
            })),
            "limited"
        );
        assert_eq!(
            outcome(Err(ServiceError::field("platform", "no"))),
            "invalid"
        );
    }

    #[test]
    fn login_outcomes_follow_the_error_kind() {
        let outcome = |result: ServiceResult<()>| login_outcome(&result);
        assert_eq!(outcome(Ok(())), "succeeded");
        assert_eq!(outcome(Err(ServiceError::Unauthorized("no"))), "failed");
        assert_eq!(
            outcome(Err(ServiceError::Unavailable {
                retry_after_seconds: 1
            })),
            "busy"
        );
    }
}
