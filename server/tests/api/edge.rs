//! The HTTP edge under slow and greedy clients: header and request deadlines, the cap on
//! connections, and a stop that finishes the registration under way.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use server::application::ApplicationConfig;

use crate::helpers::TestApp;
use crate::on_both_databases_with;
use crate::server_process::read_until_closed;

on_both_databases_with!(
    short_deadlines =>
    a_client_that_never_finishes_its_headers_is_disconnected,
    a_request_slower_than_the_deadline_is_answered_408,
);
on_both_databases_with!(one_connection => connections_past_the_limit_wait_for_a_free_one);

const DEADLINE: Duration = Duration::from_secs(2);

fn short_deadlines(config: &mut ApplicationConfig) {
    config.header_read_timeout = DEADLINE;
    config.request_timeout = DEADLINE;
}

fn one_connection(config: &mut ApplicationConfig) {
    config.max_connections = 1;
}

/// A slowloris: half a request line, then nothing. The server drops it after the header
/// deadline, and serves everyone else meanwhile.
async fn a_client_that_never_finishes_its_headers_is_disconnected(app: &TestApp) {
    let mut slow = TcpStream::connect(app.host_and_port()).await.unwrap();
    slow.write_all(b"GET /ipp/v1/openapi.json HT")
        .await
        .unwrap();
    let started = Instant::now();

    for _ in 0..3 {
        let response = app
            .client
            .get(app.url("/ipp/v1/openapi.json"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let others_served = Instant::now();

    let (_, closed_at) = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("the slow client is disconnected within 10 s");
    assert!(
        others_served < closed_at,
        "the others were served while the slow client still held its connection"
    );
    let after = closed_at - started;
    eprintln!(
        "the slow client was disconnected after {} ms",
        after.as_millis()
    );
    assert!(
        after >= DEADLINE - Duration::from_millis(100),
        "not before the deadline: {after:?}"
    );
    assert!(
        after < DEADLINE + Duration::from_secs(3),
        "soon after the deadline: {after:?}"
    );
}

/// A body that stops halfway: the request is answered 408 at the deadline, as a problem
/// document, and its connection closed.
async fn a_request_slower_than_the_deadline_is_answered_408(app: &TestApp) {
    let mut slow = TcpStream::connect(app.host_and_port()).await.unwrap();
    let head = "POST /ipp/v1/devices/register HTTP/1.1\r\nHost: portal.test\r\n\
                Content-Type: application/json\r\nContent-Length: 100\r\n\r\n";
    slow.write_all(head.as_bytes()).await.unwrap();
    slow.write_all(br#"{"enrollm"#).await.unwrap();
    let started = Instant::now();

    let (answer, closed_at) = read_until_closed(&mut slow, Duration::from_secs(10))
        .await
        .expect("answered and closed within 10 s");
    let answer = String::from_utf8_lossy(&answer).to_lowercase();
    assert!(answer.starts_with("http/1.1 408"), "answered 408: {answer}");
    assert!(
        answer.contains("content-type: application/problem+json"),
        "{answer}"
    );
    assert!(answer.contains("connection: close"), "{answer}");
    assert!(
        answer.contains("urn:ipp-portal:problem:request-timeout"),
        "{answer}"
    );
    let after = closed_at - started;
    assert!(
        after >= DEADLINE - Duration::from_millis(100),
        "at the deadline: {after:?}"
    );
}

/// With one connection allowed, a second client waits (in the system's accept queue) until
/// the first hangs up, and is then served.
async fn connections_past_the_limit_wait_for_a_free_one(app: &TestApp) {
    let mut first = TcpStream::connect(app.host_and_port()).await.unwrap();
    first
        .write_all(b"GET /ipp/v1/openapi.json HT")
        .await
        .unwrap();
    // Connections are accepted in the order they came: this one holds the only place.

    let second = tokio::spawn({
        let client = reqwest::Client::new();
        let url = app.url("/ipp/v1/openapi.json");
        async move { client.get(url).send().await.map(|r| r.status()) }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        !second.is_finished(),
        "the second client is not served while the first holds the only connection"
    );

    drop(first);
    let status = tokio::time::timeout(Duration::from_secs(5), second)
        .await
        .expect("served once the first has gone")
        .unwrap()
        .unwrap();
    assert_eq!(status, StatusCode::OK);
}
