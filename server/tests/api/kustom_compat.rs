//! A client written for Kustom's Device API, replayed exactly as it calls us: the
//! in-person-payments part of a WooCommerce checkout plugin. It sends HTTP Basic
//! `merchant_id:shared_secret` and `Content-Type: application/json` on every call (GETs
//! included), `x-merchant-id` on the device and location lists, only `ttl` (and a
//! location when it has one) to create a code, `page_size=100` on lists, and PUTs a
//! device back whole. It shows merchants the values of `errors` joined with spaces, else
//! `detail`, else `title`.

use base64::Engine;
use reqwest::{Method, RequestBuilder, StatusCode};
use serde_json::{Value, json};

use crate::helpers::TestApp;
use crate::on_both_databases;

on_both_databases!(
    the_location_picker_and_a_two_hour_code,
    longer_lifetimes_get_long_codes_that_register,
    the_device_list_and_a_whole_put,
    refusals_read_well_when_joined_as_the_plugin_joins_them,
    the_merchant_header_must_name_the_keys_merchant,
);

/// The plugin's request: Basic auth, JSON content type whatever the method.
fn plugin(app: &TestApp, method: Method, path: &str) -> RequestBuilder {
    plugin_with_secret(app, method, path, &app.merchant.api_key)
}

fn plugin_with_secret(app: &TestApp, method: Method, path: &str, secret: &str) -> RequestBuilder {
    let credentials =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", app.merchant.id));
    app.client
        .request(method, app.url(path))
        .header("authorization", format!("Basic {credentials}"))
        .header("content-type", "application/json")
}

/// What the plugin does with any answer: a 2xx is success and its JSON; otherwise the
/// message it shows the merchant.
async fn send(request: RequestBuilder) -> Result<Value, (StatusCode, String)> {
    let response = request.send().await.expect("send");
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if status.is_success() {
        return Ok(body);
    }
    let message = match body.get("errors").and_then(Value::as_object) {
        Some(errors) => errors
            .values()
            .map(|value| value.as_str().expect("each error is a message").to_owned())
            .collect::<Vec<_>>()
            .join(" "),
        None => body
            .get("detail")
            .or_else(|| body.get("title"))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
    };
    Err((status, message))
}

async fn the_location_picker_and_a_two_hour_code(app: &TestApp) {
    let locations = send(
        plugin(app, Method::GET, "/ipp/v1/locations?page_size=100")
            .header("x-merchant-id", &app.merchant.id),
    )
    .await
    .expect("locations");
    let first = &locations["content"][0];
    assert_eq!(first["id"], app.merchant.location_id.as_str());
    assert_eq!(first["name"], "Main Street");
    assert_eq!(first["city"], "Stockholm");
    assert_eq!(locations["page_size"], 100);

    // One location: the plugin may leave it out.
    let created =
        send(plugin(app, Method::POST, "/ipp/v1/enrollments").json(&json!({"ttl": "TWO_HOURS"})))
            .await
            .expect("enrollment");
    let code = created["enrollment_code"].as_str().expect("a code");
    assert_eq!(code.len(), "XXXX-XXXX".len(), "{code}");
    assert!(created["expires_at"].as_str().is_some());
    assert_eq!(created["location_id"], app.merchant.location_id.as_str());

    // Several locations: the one chosen, or a refusal naming the field.
    let second = app.create_location("Harbour").await;
    let at_second = send(
        plugin(app, Method::POST, "/ipp/v1/enrollments")
            .json(&json!({"ttl": "TWO_HOURS", "location_id": second})),
    )
    .await
    .expect("enrollment at the second location");
    assert_eq!(at_second["location_id"], second.as_str());
    for body in [
        json!({"ttl": "TWO_HOURS"}),
        json!({"ttl": "TWO_HOURS", "location_id": ""}),
    ] {
        let response = plugin(app, Method::POST, "/ipp/v1/enrollments")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let problem: Value = response.json().await.unwrap();
        let message = problem["errors"]["location_id"]
            .as_str()
            .expect("location_id named");
        assert!(message.contains("several locations"), "{message}");
    }
}

async fn longer_lifetimes_get_long_codes_that_register(app: &TestApp) {
    for ttl in [
        "TWENTY_FOUR_HOURS",
        "FORTY_EIGHT_HOURS",
        "SEVENTY_TWO_HOURS",
    ] {
        let created =
            send(plugin(app, Method::POST, "/ipp/v1/enrollments").json(&json!({"ttl": ttl})))
                .await
                .expect("enrollment");
        let code = created["enrollment_code"].as_str().expect("a code");
        assert_eq!(code.len(), "XXXX-XXXX-XXXX-XXXX".len(), "{ttl}: {code}");
    }
    // A long code registers like a short one, typed without its hyphens and in lower case.
    let created = send(
        plugin(app, Method::POST, "/ipp/v1/enrollments").json(&json!({"ttl": "SEVENTY_TWO_HOURS"})),
    )
    .await
    .expect("enrollment");
    let typed = created["enrollment_code"]
        .as_str()
        .unwrap()
        .replace('-', "")
        .to_lowercase();
    let response = app.register(&typed, "hw-long").await;
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn the_device_list_and_a_whole_put(app: &TestApp) {
    let registration = app
        .enroll_device(json!({"store": "s1", "till": "3"}), "hw-plugin")
        .await;
    let device_id = registration["device"]["id"].as_str().unwrap().to_owned();

    let devices = send(
        plugin(app, Method::GET, "/ipp/v1/devices?page_size=100")
            .header("x-merchant-id", &app.merchant.id),
    )
    .await
    .expect("devices");
    let device = &devices["content"][0];
    for field in [
        "id",
        "name",
        "platform",
        "created_at",
        "metadata",
        "location_id",
    ] {
        assert!(!device[field].is_null(), "{field} in {device}");
    }

    // Kustom's PUT replaces the record, so the plugin sends back what it wants kept.
    let renamed = send(
        plugin(app, Method::PUT, &format!("/ipp/v1/devices/{device_id}")).json(&json!({
            "name": "Front till",
            "metadata": device["metadata"],
            "location_id": device["location_id"],
        })),
    )
    .await
    .expect("renamed");
    assert_eq!(renamed["name"], "Front till");
    assert_eq!(renamed["metadata"], json!({"store": "s1", "till": "3"}));
    assert_eq!(renamed["location_id"], app.merchant.location_id.as_str());

    // A name over 100 characters (here 120, not ASCII) is refused, and says why.
    let long_name = "Kassa för frukost ☕ ".repeat(6);
    assert_eq!(long_name.chars().count(), 120);
    let (status, message) = send(
        plugin(app, Method::PUT, &format!("/ipp/v1/devices/{device_id}"))
            .json(&json!({"name": long_name})),
    )
    .await
    .expect_err("too long");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(message, "a device name has 1 to 100 characters");
}

async fn refusals_read_well_when_joined_as_the_plugin_joins_them(app: &TestApp) {
    let (status, message) = send(plugin_with_secret(
        app,
        Method::GET,
        "/ipp/v1/devices?page_size=100",
        "ipp_sk_not-the-secret",
    ))
    .await
    .expect_err("wrong secret");
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(message.contains("API key"), "{message}");
    assert!(message.contains("merchant id"), "{message}");

    let (status, message) =
        send(plugin(app, Method::POST, "/ipp/v1/enrollments").json(&json!({"ttl": "ONE_HOUR"})))
            .await
            .expect_err("unknown ttl");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("TWO_HOURS"), "{message}");

    // Milliseconds where seconds are meant: the message names the unit and the range.
    let (status, message) = send(
        plugin(app, Method::POST, "/ipp/v1/enrollments").json(&json!({"expires_in": 7_200_000})),
    )
    .await
    .expect_err("milliseconds");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    for wanted in ["seconds", "259200"] {
        assert!(message.contains(wanted), "{wanted} in {message}");
    }

    let (status, message) = send(
        plugin(app, Method::POST, "/ipp/v1/enrollments")
            .json(&json!({"ttl": "TWO_HOURS", "metadata": {"store": 5}})),
    )
    .await
    .expect_err("a number for a text");
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(message.contains("string"), "{message}");
    for noise in ["Array", "[object", "{"] {
        assert!(!message.contains(noise), "{noise} in {message}");
    }
}

async fn the_merchant_header_must_name_the_keys_merchant(app: &TestApp) {
    let other = app.other_merchant().await;
    let registration = app.enroll_device(json!({}), "hw-header").await;
    let token = registration["credentials"]["access_token"]
        .as_str()
        .unwrap();
    let device_id = registration["device"]["id"].as_str().unwrap();
    let enrollments = || async {
        send(plugin(
            app,
            Method::GET,
            "/ipp/v1/enrollments?include_consumed=true",
        ))
        .await
        .expect("enrollments")["total_elements"]
            .clone()
    };
    let enrollments_before = enrollments().await;
    let requests = [
        plugin(app, Method::GET, "/ipp/v1/locations?page_size=100"),
        plugin(app, Method::GET, "/ipp/v1/devices?page_size=100"),
        plugin(app, Method::GET, "/ipp/v1/enrollments"),
        plugin(app, Method::POST, "/ipp/v1/enrollments").json(&json!({"ttl": "TWO_HOURS"})),
        plugin(app, Method::PUT, &format!("/ipp/v1/devices/{device_id}"))
            .json(&json!({"name": "moved"})),
        app.client
            .get(app.url("/ipp/v1/devices/me"))
            .bearer_auth(token),
    ];
    for request in requests {
        let response = request
            .header("x-merchant-id", &other.id)
            .send()
            .await
            .unwrap();
        let url = response.url().path().to_owned();
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "{url}");
        let problem: Value = response.json().await.unwrap();
        assert_eq!(problem["status"], 403, "{url}");
    }
    // Nothing was created or changed by the refused calls.
    let device = send(plugin(
        app,
        Method::GET,
        &format!("/ipp/v1/devices/{device_id}"),
    ))
    .await
    .expect("device");
    assert_eq!(device["name"], registration["device"]["name"]);
    assert_eq!(
        enrollments().await,
        enrollments_before,
        "no enrollment was made"
    );
}
