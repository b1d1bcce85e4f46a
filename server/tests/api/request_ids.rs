//! Every response names its request, so a caller's report can be found in the logs.

use reqwest::StatusCode;
use reqwest::header::HeaderMap;

use crate::helpers::{PortalClient, TestApp};
use crate::on_both_databases;

on_both_databases!(
    every_response_carries_a_new_request_id,
    a_sensible_request_id_of_the_caller_is_kept,
);

fn request_id(headers: &HeaderMap) -> String {
    headers
        .get("x-request-id")
        .expect("an x-request-id header")
        .to_str()
        .expect("a readable request id")
        .to_owned()
}

async fn every_response_carries_a_new_request_id(app: &TestApp) {
    let listed = app.get("/ipp/v1/devices").await;
    assert_eq!(listed.status(), StatusCode::OK);
    let first = request_id(listed.headers());
    // Refusals and unknown routes have one too.
    let refused = app
        .client
        .get(app.url("/ipp/v1/devices"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let second = request_id(refused.headers());
    let unknown = app.get("/ipp/v1/no-such-thing").await;
    assert_eq!(unknown.status(), StatusCode::NOT_FOUND);
    let third = request_id(unknown.headers());
    // And the portal's pages.
    let portal = PortalClient::new(&app.address);
    let page = portal.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let fourth = request_id(page.headers());

    let ids = [&first, &second, &third, &fourth];
    for id in ids {
        assert!(!id.is_empty());
        assert!(uuid::Uuid::parse_str(id).is_ok(), "a UUID: {id}");
    }
    let distinct: std::collections::HashSet<_> = ids.into_iter().collect();
    assert_eq!(distinct.len(), 4, "each request its own id: {ids:?}");
}

async fn a_sensible_request_id_of_the_caller_is_kept(app: &TestApp) {
    let kept = app
        .client
        .get(app.url("/ipp/v1/openapi.json"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(request_id(kept.headers()), "abc-123");

    // One that could carry anything into the logs is replaced.
    for unusable in ["two words", "code=BCDF-GHJK", &"a".repeat(65)] {
        let replaced = app
            .client
            .get(app.url("/ipp/v1/openapi.json"))
            .header("x-request-id", unusable)
            .send()
            .await
            .unwrap();
        let id = request_id(replaced.headers());
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "a new UUID: {id}");
    }
}
