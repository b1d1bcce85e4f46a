//! What a load balancer asks: alive, and ready to serve (not while stopping).

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::helpers::{TestApp, expect_json};
use crate::on_both_databases;
use crate::server_process::{ServerProcess, read_to_close};

on_both_databases!(
    alive_and_ready_without_credentials,
    not_ready_when_the_database_is_gone,
    not_ready_at_once_on_sigterm_while_a_slow_request_finishes,
);

async fn alive_and_ready_without_credentials(app: &TestApp) {
    let alive = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.headers()["x-content-type-options"], "nosniff");
    assert_eq!(expect_json(alive, StatusCode::OK).await["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.headers()["cache-control"], "no-store");
    assert_eq!(ready.headers()["x-content-type-options"], "nosniff");
    assert_eq!(expect_json(ready, StatusCode::OK).await["status"], "ready");
}

async fn not_ready_when_the_database_is_gone(app: &TestApp) {
    app.services.close().await;
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    let problem = expect_json(ready, StatusCode::SERVICE_UNAVAILABLE).await;
    // A word for the load balancer; the cause is in the log, not in the answer.
    assert_eq!(problem["detail"], "database unavailable");
    // Alive all the same: the process answers without touching the database.
    let alive = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(alive.status(), StatusCode::OK);
}

/// SIGTERM while a POS app is slowly sending its registration and a probe is asking
/// `/readyz`: the server refuses new connections, the probe gets 503 (shutting down)
/// while the registration is still under way, the registration is then answered 201,
/// the process exits 0, and the device is in the database.
async fn not_ready_at_once_on_sigterm_while_a_slow_request_finishes(app: &TestApp) {
    let mut server = ServerProcess::start(&app.database_url, &[]).await;
    let ready = reqwest::get(format!("{}/readyz", server.address))
        .await
        .unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    let enrollment = server
        .create_enrollment(&app.merchant.api_key, json!({}))
        .await;
    let code = enrollment["enrollment_code"].as_str().unwrap();

    // The probe: a readiness request whose headers are not finished yet.
    let address = server.host_and_port().to_owned();
    let mut probe = TcpStream::connect(&address).await.unwrap();
    probe
        .write_all(format!("GET /readyz HTTP/1.1\r\nHost: {address}\r\n").as_bytes())
        .await
        .unwrap();
    // The slow registration, on a connection made after the probe's: once its handler
    // asks for the body, the server has accepted both (it accepts in order).
    let slow = server.start_slow_registration(code, "hw-slow").await;

    server.terminate().await;
    server.until_refusing_connections().await;
    probe.write_all(b"Connection: close\r\n\r\n").await.unwrap();
    let answer = read_to_close(&mut probe).await;
    assert!(
        answer.starts_with("HTTP/1.1 503"),
        "not ready while stopping: {answer}"
    );
    let problem: Value = serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    assert_eq!(problem["detail"], "shutting down");

    // The slow request is still under way, and is answered.
    let answer = slow.finish().await;
    assert!(answer.starts_with("HTTP/1.1 201"), "registered: {answer}");
    let registration: Value =
        serde_json::from_str(answer.split("\r\n\r\n").nth(1).unwrap()).unwrap();
    let device_id = registration["device"]["id"].as_str().unwrap().to_owned();
    let status = tokio::time::timeout(Duration::from_secs(10), server.wait())
        .await
        .expect("the server exits once the requests are answered");
    assert!(status.success(), "exit {status}; log: {:#?}", server.log());

    // What was answered is kept.
    let device = app.get(&format!("/ipp/v1/devices/{device_id}")).await;
    let device = expect_json(device, StatusCode::OK).await;
    assert_eq!(device["hardware_id"], "hw-slow");
}
