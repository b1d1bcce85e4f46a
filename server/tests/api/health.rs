//! What a load balancer asks: alive, and ready to serve.

use reqwest::StatusCode;

use crate::helpers::{TestApp, expect_json};
use crate::on_both_databases;

on_both_databases!(
    alive_and_ready_without_credentials,
    not_ready_when_the_database_is_gone,
);

async fn alive_and_ready_without_credentials(app: &TestApp) {
    let alive = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(expect_json(alive, StatusCode::OK).await["status"], "ok");
    let ready = app.client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.headers()["cache-control"], "no-store");
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
