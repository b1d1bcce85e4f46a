use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, expect_json};
use crate::on_both_databases;

on_both_databases!(
    api_keys_are_required_and_checked,
    basic_auth_and_merchant_header_follow_the_kustom_convention,
    another_merchants_objects_are_not_found_anywhere,
    the_openapi_document_describes_every_endpoint,
);

async fn api_keys_are_required_and_checked(app: &TestApp) {
    let no_key = app
        .client
        .get(app.url("/ipp/v1/enrollments"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        no_key.headers()["www-authenticate"],
        "Bearer realm=\"ipp\", Basic realm=\"ipp\""
    );
    expect_json(no_key, StatusCode::UNAUTHORIZED).await;
    for header in [
        "Bearer ipp_sk_wrong",
        "Bearer ",
        "Token abc",
        "Basic !!!",
        "Bearer",
    ] {
        let response = app
            .client
            .get(app.url("/ipp/v1/devices"))
            .header("authorization", header)
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::UNAUTHORIZED).await;
    }
    let response = app
        .client
        .post(app.url("/ipp/v1/enrollments"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::UNAUTHORIZED).await;

    // A working key records when it was last used.
    let keys = app
        .storage()
        .await
        .api_keys(&app.merchant.id)
        .await
        .unwrap();
    assert_eq!(
        keys[0].last_used_at, None,
        "the failed attempts above were no use"
    );
    expect_json(app.get("/ipp/v1/locations").await, StatusCode::OK).await;
    let keys = app
        .storage()
        .await
        .api_keys(&app.merchant.id)
        .await
        .unwrap();
    assert_eq!(keys[0].last_used_at, Some(app.services.now()));
}

async fn basic_auth_and_merchant_header_follow_the_kustom_convention(app: &TestApp) {
    let basic = |user: &str| {
        let credentials = base64::engine::general_purpose::STANDARD
            .encode(format!("{user}:{}", app.merchant.api_key));
        format!("Basic {credentials}")
    };
    let response = app
        .client
        .get(app.url("/ipp/v1/locations"))
        .header("authorization", basic(&app.merchant.id))
        .send()
        .await
        .unwrap();
    let locations = expect_json(response, StatusCode::OK).await;
    assert_eq!(
        locations["content"][0]["id"],
        app.merchant.location_id.as_str()
    );

    let other = app.other_merchant().await;
    let response = app
        .client
        .get(app.url("/ipp/v1/locations"))
        .header("authorization", basic(&other.id))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::UNAUTHORIZED).await;

    let matching = app
        .request(Method::GET, "/ipp/v1/locations")
        .header("x-merchant-id", &app.merchant.id)
        .send()
        .await
        .unwrap();
    expect_json(matching, StatusCode::OK).await;
    let mismatched = app
        .request(Method::GET, "/ipp/v1/locations")
        .header("x-merchant-id", &other.id)
        .send()
        .await
        .unwrap();
    // The key is good; it is pointed at another merchant: refused, not unknown.
    expect_json(mismatched, StatusCode::FORBIDDEN).await;
}

async fn another_merchants_objects_are_not_found_anywhere(app: &TestApp) {
    let enrollment = app
        .create_enrollment(json!({"metadata": {"store": "s1"}}))
        .await;
    let pending = app.create_enrollment(json!({})).await;
    let registration = app.enroll_device(json!({"store": "s1"}), "hw-1").await;
    let device_id = registration["device"]["id"].as_str().unwrap();
    let enrollment_id = enrollment["enrollment_id"].as_str().unwrap();
    let pending_id = pending["enrollment_id"].as_str().unwrap();

    let other = app.other_merchant().await;
    let as_other = |method: Method, path: String| app.request_as(&other, method, &path);
    let attempts = [
        as_other(Method::GET, format!("/ipp/v1/enrollments/{enrollment_id}")),
        as_other(Method::DELETE, format!("/ipp/v1/enrollments/{pending_id}")),
        as_other(Method::GET, format!("/ipp/v1/devices/{device_id}")),
        as_other(Method::PUT, format!("/ipp/v1/devices/{device_id}"))
            .json(&json!({"name": "mine"})),
        as_other(Method::PATCH, format!("/ipp/v1/devices/{device_id}"))
            .json(&json!({"name": "mine"})),
        as_other(Method::DELETE, format!("/ipp/v1/devices/{device_id}")),
    ];
    for attempt in attempts {
        expect_json(attempt.send().await.unwrap(), StatusCode::NOT_FOUND).await;
    }
    for path in [
        "/ipp/v1/enrollments",
        "/ipp/v1/devices",
        "/ipp/v1/devices?metadata=store:s1",
        "/ipp/v1/audit-events",
    ] {
        let page = expect_json(
            as_other(Method::GET, path.into()).send().await.unwrap(),
            StatusCode::OK,
        )
        .await;
        let mine: Vec<_> = page["content"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|item| {
                item.to_string().contains(&app.merchant.id) || item.to_string().contains(device_id)
            })
            .collect();
        assert!(mine.is_empty(), "{path} leaks: {mine:?}");
    }
    let locations = expect_json(
        as_other(Method::GET, "/ipp/v1/locations".into())
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;
    assert_eq!(locations["total_elements"], 1);
    assert_eq!(locations["content"][0]["id"], other.location_id.as_str());

    // Everything of the first merchant is still as it was.
    let pending_now = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{pending_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(pending_now["status"], "PENDING");
    let device = expect_json(
        app.get(&format!("/ipp/v1/devices/{device_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(device["name"], registration["device"]["name"]);
}

async fn the_openapi_document_describes_every_endpoint(app: &TestApp) {
    let response = app
        .client
        .get(app.url("/ipp/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    let document = expect_json(response, StatusCode::OK).await;
    assert_eq!(document["openapi"], "3.1.0");
    let paths = document["paths"].as_object().unwrap();
    let expected = [
        ("/ipp/v1/enrollments", vec!["get", "post"]),
        ("/ipp/v1/enrollments/{id}", vec!["delete", "get"]),
        ("/ipp/v1/devices", vec!["get"]),
        ("/ipp/v1/devices/register", vec!["post"]),
        ("/ipp/v1/devices/me", vec!["get"]),
        (
            "/ipp/v1/devices/{id}",
            vec!["delete", "get", "patch", "put"],
        ),
        ("/ipp/v1/locations", vec!["get"]),
        ("/ipp/v1/audit-events", vec!["get"]),
        ("/ipp/v1/webhook-endpoints", vec!["get", "post"]),
        (
            "/ipp/v1/webhook-endpoints/{id}",
            vec!["delete", "get", "patch"],
        ),
        ("/ipp/v1/webhook-endpoints/{id}/rotate-secret", vec!["post"]),
        ("/ipp/v1/webhook-endpoints/{id}/test", vec!["post"]),
        ("/ipp/v1/webhook-endpoints/{id}/deliveries", vec!["get"]),
        (
            "/ipp/v1/webhook-endpoints/{id}/deliveries/{event_id}",
            vec!["get"],
        ),
        (
            "/ipp/v1/webhook-endpoints/{id}/deliveries/{event_id}/resend",
            vec!["post"],
        ),
    ];
    assert_eq!(paths.len(), expected.len());
    for (path, methods) in expected {
        let mut documented: Vec<&str> = paths[path]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        documented.retain(|key| ["get", "post", "put", "patch", "delete"].contains(key));
        documented.sort();
        assert_eq!(documented, methods, "{path}");
    }
    let schemas = document["components"]["schemas"].as_object().unwrap();
    for schema in [
        "Enrollment",
        "Device",
        "Registration",
        "Problem",
        "CreateEnrollmentBody",
        "RegisterBody",
        "WebhookEndpoint",
        "WebhookDelivery",
        "EnrollmentEventData",
        "DeviceEventData",
    ] {
        assert!(schemas.contains_key(schema), "schema {schema}");
    }
    // What is sent to webhook endpoints: each event, with its body's schema.
    let webhooks = document["webhooks"]
        .as_object()
        .expect("a webhooks section");
    assert_eq!(webhooks.len(), 8);
    for (event, operation) in webhooks {
        let reference =
            operation["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                .as_str()
                .unwrap_or_else(|| panic!("{event} has a body schema"));
        let name = reference.trim_start_matches("#/components/schemas/");
        assert_eq!(
            schemas[name]["properties"]["type"]["enum"][0],
            event.as_str(),
            "{event}"
        );
    }

    // Unknown API paths answer as the API does, not with a portal page.
    let missing = app.get("/ipp/v1/nothing-here").await;
    expect_json(missing, StatusCode::NOT_FOUND).await;
}
