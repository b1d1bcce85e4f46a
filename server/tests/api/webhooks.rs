//! Webhooks: endpoints over the API, every event delivered signed (checked with the
//! `standardwebhooks` crate), retries with the same webhook-id, targets refused when
//! saved and when sent, rotation, the outbox across a restart, and two instances.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use app::domain::role::Role;
use app::services::{Actor, ActorKind, ErrorKind};
use server::application::ApplicationConfig;

use crate::helpers::{Merchant, TestApp, expect_invalid_fields, expect_json};
use crate::webhook_receiver::{Answer, Receiver, eventually};
use crate::{on_both_databases, on_both_databases_with};

on_both_databases_with!(local_targets =>
    every_event_is_delivered_signed_with_its_object,
    failed_attempts_are_retried_with_the_same_webhook_id,
    disabled_endpoints_get_nothing,
    another_merchants_events_never_arrive,
    a_rotated_secret_signs_alongside_the_new_one_for_a_day,
    deliveries_are_logged_and_can_be_resent,
    endpoints_are_managed_and_audited,
    an_endpoint_failing_for_three_days_is_disabled,
    two_instances_deliver_each_event_once,
    the_cli_listener_verifies_and_prints_events,
    at_most_twenty_endpoints_even_when_added_at_once,
    endpoint_changes_that_matter_to_security_are_logged,
);

on_both_databases_with!(local_targets_without_worker =>
    the_outbox_survives_a_restart,
    a_backlog_goes_out_a_few_at_a_time,
    private_targets_are_refused_when_sent,
);

on_both_databases!(
    private_targets_are_refused_when_saved,
    only_admins_and_api_keys_manage_webhooks,
);

/// Private targets allowed (the receivers are on loopback), quick polling, a short
/// attempt timeout.
fn local_targets(config: &mut ApplicationConfig) {
    config.webhooks.allow_private_targets = true;
    config.webhooks.poll_interval = Duration::from_millis(50);
    config.webhooks.attempt_timeout = Duration::from_secs(2);
}

/// As `local_targets`, with no delivery worker in this instance.
fn local_targets_without_worker(config: &mut ApplicationConfig) {
    local_targets(config);
    config.webhooks.deliver = false;
}

const ENDPOINTS: &str = "/ipp/v1/webhook-endpoints";

/// A new endpoint of the test merchant for `url`: its id and secret.
async fn add_endpoint(app: &TestApp, url: &str) -> (String, String) {
    add_endpoint_as(app, &app.merchant, json!({"url": url})).await
}

async fn add_endpoint_as(app: &TestApp, merchant: &Merchant, body: Value) -> (String, String) {
    let response = app
        .request_as(merchant, Method::POST, ENDPOINTS)
        .json(&body)
        .send()
        .await
        .unwrap();
    let created = expect_json(response, StatusCode::CREATED).await;
    (
        created["id"].as_str().unwrap().to_owned(),
        created["secret"].as_str().unwrap().to_owned(),
    )
}

async fn send_test(app: &TestApp, endpoint_id: &str) -> String {
    let response = app
        .request(Method::POST, &format!("{ENDPOINTS}/{endpoint_id}/test"))
        .send()
        .await
        .unwrap();
    let delivery = expect_json(response, StatusCode::ACCEPTED).await;
    delivery["event_id"].as_str().unwrap().to_owned()
}

async fn deliveries(app: &TestApp, endpoint_id: &str, query: &str) -> Value {
    let response = app
        .get(&format!("{ENDPOINTS}/{endpoint_id}/deliveries{query}"))
        .await;
    expect_json(response, StatusCode::OK).await
}

async fn delivery(app: &TestApp, endpoint_id: &str, event_id: &str) -> Value {
    let response = app
        .get(&format!("{ENDPOINTS}/{endpoint_id}/deliveries/{event_id}"))
        .await;
    expect_json(response, StatusCode::OK).await
}

/// Waits until the delivery has had `attempts` attempts recorded.
async fn after_attempts(app: &TestApp, endpoint_id: &str, event_id: &str, attempts: i64) -> Value {
    eventually(
        &format!("attempt {attempts} of {event_id}"),
        || async move {
            let delivery = delivery(app, endpoint_id, event_id).await;
            (delivery["attempts"] == attempts).then_some(delivery)
        },
    )
    .await
}

/// Waits until no delivery of the endpoint is pending.
async fn all_recorded(app: &TestApp, endpoint_id: &str) {
    eventually("every attempt recorded", || async {
        let pending = deliveries(app, endpoint_id, "?status=PENDING").await;
        (pending["total_elements"] == 0).then_some(())
    })
    .await
}

fn event_types(received: &[crate::webhook_receiver::Received]) -> Vec<String> {
    let mut types: Vec<String> = received
        .iter()
        .map(|r| r.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    types
}

async fn every_event_is_delivered_signed_with_its_object(app: &TestApp) {
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = add_endpoint(app, &receiver.url).await;

    // created, then consumed with the device registered
    let enrollment = app
        .create_enrollment(json!({"metadata": {"store": "berlin-01"}}))
        .await;
    let enrollment_id = enrollment["enrollment_id"].as_str().unwrap().to_owned();
    let code = enrollment["enrollment_code"].as_str().unwrap().to_owned();
    let registration =
        expect_json(app.register(&code, "hw-hooks-1").await, StatusCode::CREATED).await;
    let token = registration["credentials"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let device_id = registration["device"]["id"].as_str().unwrap().to_owned();
    // updated; replacing it with what it is sends nothing
    let device_path = format!("/ipp/v1/devices/{device_id}");
    let renamed = app
        .request(Method::PATCH, &device_path)
        .json(&json!({"name": "Till 7"}))
        .send()
        .await
        .unwrap();
    let renamed = expect_json(renamed, StatusCode::OK).await;
    let unchanged = app
        .request(Method::PUT, &device_path)
        .json(&json!({"name": "Till 7", "metadata": {"store": "berlin-01"}}))
        .send()
        .await
        .unwrap();
    expect_json(unchanged, StatusCode::OK).await;
    let consumed_view = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{enrollment_id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    // deregistered
    let gone = app
        .request(Method::DELETE, &device_path)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    // created, then cancelled
    let cancelled = app.create_enrollment(json!({})).await;
    let cancelled_id = cancelled["enrollment_id"].as_str().unwrap().to_owned();
    let cancel = app
        .request(
            Method::DELETE,
            &format!("/ipp/v1/enrollments/{cancelled_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    // created, then expired once its time has passed
    let expiring = app.create_enrollment(json!({"expires_in": 60})).await;
    let other_codes = [
        cancelled["enrollment_code"].as_str().unwrap().to_owned(),
        expiring["enrollment_code"].as_str().unwrap().to_owned(),
    ];
    // and a test event
    send_test(app, &endpoint_id).await;
    // The clock moves by hand here: only once every attempt so far is recorded (a claim
    // on a delivery lapses after a minute, and the next look would send it again).
    receiver.wait_for(9).await;
    all_recorded(app, &endpoint_id).await;
    app.clock.advance_seconds(61);

    let received = receiver.wait_for(10).await;
    all_recorded(app, &endpoint_id).await;
    assert_eq!(
        event_types(&received),
        [
            "ipp.device.deregistered",
            "ipp.device.registered",
            "ipp.device.updated",
            "ipp.enrollment.cancelled",
            "ipp.enrollment.consumed",
            "ipp.enrollment.created",
            "ipp.enrollment.created",
            "ipp.enrollment.created",
            "ipp.enrollment.expired",
            "ipp.webhook.test",
        ]
    );
    // Deliveries are written with the changes: ten, and no more are coming.
    assert_eq!(
        deliveries(app, &endpoint_id, "").await["total_elements"],
        10
    );

    let mut by_type: HashMap<String, Vec<Value>> = HashMap::new();
    for request in &received {
        request
            .verify(&secret)
            .unwrap_or_else(|e| panic!("signature of {}: {e}", request.body));
        assert_eq!(request.header("content-type"), "application/json");
        let body = request.json();
        assert_eq!(body["id"], request.webhook_id());
        assert!(request.webhook_id().starts_with("kevt_"));
        assert_eq!(body["merchant_id"], app.merchant.id.as_str());
        assert!(
            time::OffsetDateTime::parse(
                body["timestamp"].as_str().unwrap(),
                &time::format_description::well_known::Rfc3339
            )
            .is_ok(),
            "timestamp is RFC 3339: {body}"
        );
        assert!(body["data"].get("id").is_none(), "no bare data.id: {body}");
        for secret_text in [code.as_str(), token.as_str()]
            .into_iter()
            .chain(other_codes.iter().map(String::as_str))
        {
            let bare = secret_text.replace('-', "");
            assert!(
                !request.body.contains(secret_text) && !request.body.contains(&bare),
                "no code or token in {}",
                request.body
            );
        }
        by_type
            .entry(body["type"].as_str().unwrap().to_owned())
            .or_default()
            .push(body["data"].clone());
    }

    let registered = &by_type["ipp.device.registered"][0];
    assert_eq!(registered["device_id"], device_id.as_str());
    assert_eq!(registered["device"], registration["device"]);
    let updated = &by_type["ipp.device.updated"][0];
    assert_eq!(updated["device"], renamed);
    assert_eq!(updated["changes"]["name"]["to"], "Till 7");
    let deregistered = &by_type["ipp.device.deregistered"][0];
    assert_eq!(deregistered["device"]["name"], "Till 7");
    let consumed = &by_type["ipp.enrollment.consumed"][0];
    assert_eq!(consumed["enrollment_id"], enrollment_id.as_str());
    assert_eq!(consumed["enrollment"], consumed_view);
    assert_eq!(consumed["enrollment"]["device_id"], device_id.as_str());
    for created in &by_type["ipp.enrollment.created"] {
        assert_eq!(created["enrollment"]["status"], "PENDING");
        assert!(created["enrollment"]["enrollment_code"].is_null());
        assert!(created["enrollment"]["qr_payload"].is_null());
        assert_eq!(
            created["enrollment_id"],
            created["enrollment"]["enrollment_id"]
        );
    }
    let cancelled_data = &by_type["ipp.enrollment.cancelled"][0];
    assert_eq!(cancelled_data["enrollment_id"], cancelled_id.as_str());
    assert_eq!(cancelled_data["enrollment"]["status"], "CANCELLED");
    let expired = &by_type["ipp.enrollment.expired"][0];
    assert_eq!(expired["enrollment_id"], expiring["enrollment_id"]);
    assert_eq!(expired["enrollment"]["status"], "EXPIRED");
    let test = &by_type["ipp.webhook.test"][0];
    assert_eq!(test["webhook_endpoint_id"], endpoint_id.as_str());
}

async fn failed_attempts_are_retried_with_the_same_webhook_id(app: &TestApp) {
    let receiver = Receiver::start().await;
    // A server error, then no answer within the attempt timeout (2 s here), then 200.
    receiver.plan(&[Answer::Status(500), Answer::Hang(Duration::from_secs(4))]);
    let (endpoint_id, secret) = add_endpoint(app, &receiver.url).await;
    let event_id = send_test(app, &endpoint_id).await;

    let first = after_attempts(app, &endpoint_id, &event_id, 1).await;
    assert_eq!(first["status"], "PENDING");
    assert_eq!(first["last_status_code"], 500);
    assert!(first["next_attempt_at"].is_string());
    // The next attempt comes about 5 s later (the test's clock moves by hand).
    app.clock.advance_seconds(6);
    let second = after_attempts(app, &endpoint_id, &event_id, 2).await;
    assert_eq!(second["status"], "PENDING");
    assert!(second["last_status_code"].is_null());
    assert!(
        second["last_error"]
            .as_str()
            .unwrap()
            .contains("no answer within 2 s"),
        "{second}"
    );
    // Then about 5 minutes later.
    app.clock.advance_seconds(331);
    let third = after_attempts(app, &endpoint_id, &event_id, 3).await;
    assert_eq!(third["status"], "SUCCEEDED");
    assert!(third["next_attempt_at"].is_null());
    let codes: Vec<Value> = third["attempt_log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|attempt| attempt["status_code"].clone())
        .collect();
    assert_eq!(codes, [json!(500), Value::Null, json!(200)]);

    let received = receiver.wait_for(3).await;
    assert_eq!(received.len(), 3);
    for request in &received {
        assert_eq!(request.webhook_id(), event_id);
        assert_eq!(request.body, received[0].body);
        request.verify(&secret).expect("every attempt is signed");
    }
}

async fn disabled_endpoints_get_nothing(app: &TestApp) {
    let off = Receiver::start().await;
    let on = Receiver::start().await;
    let (off_id, _) = add_endpoint(app, &off.url).await;
    let (on_id, _) = add_endpoint(app, &on.url).await;
    let disable = app
        .request(Method::PATCH, &format!("{ENDPOINTS}/{off_id}"))
        .json(&json!({"enabled": false}))
        .send()
        .await
        .unwrap();
    let disabled = expect_json(disable, StatusCode::OK).await;
    assert_eq!(disabled["enabled"], false);
    assert!(disabled["disabled_at"].is_string());
    assert!(disabled["disabled_reason"].is_null());

    app.create_enrollment(json!({})).await;
    on.wait_for(1).await;
    // Nothing was even queued for the disabled endpoint.
    assert_eq!(deliveries(app, &off_id, "").await["total_elements"], 0);
    assert!(off.received().is_empty());
    let test = app
        .request(Method::POST, &format!("{ENDPOINTS}/{off_id}/test"))
        .send()
        .await
        .unwrap();
    expect_json(test, StatusCode::CONFLICT).await;

    // Enabled again, it receives what happens from then on.
    let enable = app
        .request(Method::PATCH, &format!("{ENDPOINTS}/{off_id}"))
        .json(&json!({"enabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_json(enable, StatusCode::OK).await["enabled"], true);
    app.create_enrollment(json!({})).await;
    let received = off.wait_for(1).await;
    assert_eq!(received.len(), 1);
    let on_deliveries = deliveries(app, &on_id, "").await;
    assert_eq!(on_deliveries["total_elements"], 2);

    // The list shows each endpoint's own latest attempt.
    all_recorded(app, &off_id).await;
    all_recorded(app, &on_id).await;
    let off_event = deliveries(app, &off_id, "").await["content"][0]["event_id"].clone();
    let on_events: Vec<Value> = on_deliveries["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|delivery| delivery["event_id"].clone())
        .collect();
    let listed = expect_json(app.get(ENDPOINTS).await, StatusCode::OK).await;
    let last_attempts: HashMap<&str, &Value> = listed["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|endpoint| (endpoint["id"].as_str().unwrap(), &endpoint["last_attempt"]))
        .collect();
    assert_eq!(last_attempts[off_id.as_str()]["event_id"], off_event);
    assert_eq!(last_attempts[off_id.as_str()]["succeeded"], true);
    assert!(
        on_events.contains(&last_attempts[on_id.as_str()]["event_id"]),
        "{listed}"
    );
}

async fn another_merchants_events_never_arrive(app: &TestApp) {
    let ours = Receiver::start().await;
    let theirs = Receiver::start().await;
    let other = app.other_merchant().await;
    let (our_id, _) = add_endpoint(app, &ours.url).await;
    let (their_id, _) = add_endpoint_as(app, &other, json!({"url": theirs.url})).await;

    let response = app
        .request_as(&other, Method::POST, "/ipp/v1/enrollments")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await;
    let received = theirs.wait_for(1).await;
    assert_eq!(received[0].json()["merchant_id"], other.id.as_str());
    assert_eq!(deliveries(app, &our_id, "").await["total_elements"], 0);
    assert!(ours.received().is_empty());

    // Another merchant's endpoint is not found, whatever is asked of it.
    for (method, path) in [
        (Method::GET, format!("{ENDPOINTS}/{their_id}")),
        (Method::PATCH, format!("{ENDPOINTS}/{their_id}")),
        (Method::DELETE, format!("{ENDPOINTS}/{their_id}")),
        (Method::POST, format!("{ENDPOINTS}/{their_id}/test")),
        (
            Method::POST,
            format!("{ENDPOINTS}/{their_id}/rotate-secret"),
        ),
        (Method::GET, format!("{ENDPOINTS}/{their_id}/deliveries")),
    ] {
        let response = app
            .request(method.clone(), &path)
            .json(&json!({"enabled": false}))
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::NOT_FOUND).await;
    }
    let listed = expect_json(app.get(ENDPOINTS).await, StatusCode::OK).await;
    assert_eq!(listed["total_elements"], 1);
}

async fn private_targets_are_refused_when_saved(app: &TestApp) {
    // Without --allow-private-webhook-targets: https to public addresses only.
    for url in [
        "http://127.0.0.1:8080/hooks",
        "https://127.0.0.1/hooks",
        "https://localhost/hooks",
        "https://10.1.2.3/hooks",
        "https://192.168.0.10/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/",
        "https://[::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://[::ffff:a9fe:a9fe]/",
        "https://[fd00:ec2::254]/",
        "https://[fe80::1]/",
        "https://0x7f.0.0.1/",
        "http://example.com/hooks",
        "ftp://example.com/",
        "https://user:secret@example.com/",
        "https://no-such-host.invalid/hooks",
        "not a url",
    ] {
        let response = app.post_json(ENDPOINTS, &json!({"url": url})).await;
        assert_eq!(
            expect_invalid_fields(response).await,
            ["url"],
            "{url} is refused"
        );
    }
    let listed = expect_json(app.get(ENDPOINTS).await, StatusCode::OK).await;
    assert_eq!(listed["total_elements"], 0);
}

async fn private_targets_are_refused_when_sent(app: &TestApp) {
    // Saved while private targets were allowed (this instance sends nothing) ...
    let receiver = Receiver::start().await;
    let loopback_name = receiver
        .url
        .replace("http://127.0.0.1", "https://localhost");
    let (by_address, _) = add_endpoint(app, &receiver.url).await;
    let (by_name, _) = add_endpoint(app, &loopback_name).await;
    let first = send_test(app, &by_address).await;
    let second = send_test(app, &by_name).await;
    // ... and sent by an instance that does not allow them.
    let (_, strict) = app
        .instance_configured(|config| {
            config.webhooks.poll_interval = Duration::from_millis(50);
        })
        .await;
    for (endpoint_id, event_id) in [(&by_address, &first), (&by_name, &second)] {
        let attempted = after_attempts(app, endpoint_id, event_id, 1).await;
        assert_eq!(attempted["status"], "PENDING", "retried later");
        let error = attempted["last_error"].as_str().unwrap();
        assert!(error.starts_with("refused"), "{error}");
        assert!(attempted["last_status_code"].is_null());
    }
    assert!(receiver.received().is_empty());
    strict.abort();
}

async fn a_rotated_secret_signs_alongside_the_new_one_for_a_day(app: &TestApp) {
    let receiver = Receiver::start().await;
    let (endpoint_id, old_secret) = add_endpoint(app, &receiver.url).await;
    let rotated = app
        .request(
            Method::POST,
            &format!("{ENDPOINTS}/{endpoint_id}/rotate-secret"),
        )
        .send()
        .await
        .unwrap();
    let rotated = expect_json(rotated, StatusCode::OK).await;
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, old_secret);
    assert!(new_secret.starts_with("whsec_"));
    assert!(rotated["previous_secret_expires_at"].is_string());

    let first = send_test(app, &endpoint_id).await;
    after_attempts(app, &endpoint_id, &first, 1).await;
    let received = receiver.wait_for(1).await;
    let signatures = received[0].header("webhook-signature");
    assert_eq!(signatures.split(' ').count(), 2, "{signatures}");
    assert!(signatures.split(' ').all(|s| s.starts_with("v1,")));
    received[0]
        .verify(&old_secret)
        .expect("the old secret still verifies");
    received[0]
        .verify(&new_secret)
        .expect("the new secret verifies");

    // A day later the old secret signs no more.
    app.clock.advance_seconds(24 * 3600 + 1);
    send_test(app, &endpoint_id).await;
    let received = receiver.wait_for(2).await;
    assert_eq!(
        received[1].header("webhook-signature").split(' ').count(),
        1
    );
    received[1]
        .verify(&new_secret)
        .expect("the new secret verifies");
    assert!(received[1].verify(&old_secret).is_err());
}

async fn deliveries_are_logged_and_can_be_resent(app: &TestApp) {
    let receiver = Receiver::start().await;
    // A long answer, of two-byte characters: 10,000 bytes.
    let answer = "ä".repeat(5_000);
    receiver.plan(&[Answer::Text(answer.clone())]);
    let (endpoint_id, secret) = add_endpoint(app, &receiver.url).await;
    let queued = app
        .request(Method::POST, &format!("{ENDPOINTS}/{endpoint_id}/test"))
        .send()
        .await
        .unwrap();
    let queued = expect_json(queued, StatusCode::ACCEPTED).await;
    assert_eq!(queued["status"], "PENDING");
    assert_eq!(queued["attempts"], 0);
    assert_eq!(queued["attempt_log"], json!([]));
    let event_id = queued["event_id"].as_str().unwrap().to_owned();
    let delivered = after_attempts(app, &endpoint_id, &event_id, 1).await;
    assert_eq!(delivered["status"], "SUCCEEDED");
    assert_eq!(delivered["event_type"], "ipp.webhook.test");
    assert_eq!(delivered["last_status_code"], 200);
    assert!(delivered["last_latency_ms"].is_i64());
    assert_eq!(delivered["request_body"], queued["request_body"]);
    let sent: Value = serde_json::from_str(delivered["request_body"].as_str().unwrap()).unwrap();
    assert_eq!(sent["id"], event_id.as_str());
    // Read on its own: the whole answer (up to 64 KB) and every attempt.
    assert_eq!(delivered["response_excerpt"], answer.as_str());
    assert_eq!(delivered["attempt_log"].as_array().unwrap().len(), 1);

    let page = deliveries(app, &endpoint_id, "?page_size=1").await;
    assert_eq!(page["total_elements"], 1);
    assert_eq!(page["page_size"], 1);
    let listed = &page["content"][0];
    assert_eq!(listed["event_id"], event_id.as_str());
    // In a list: no attempt log, and the answer's first 2 KB, cut between characters.
    assert!(listed.get("attempt_log").is_none(), "{listed}");
    let excerpt = listed["response_excerpt"].as_str().unwrap();
    assert_eq!(excerpt.len(), 2048);
    assert!(answer.starts_with(excerpt));
    let failed = deliveries(app, &endpoint_id, "?status=FAILED").await;
    assert_eq!(failed["total_elements"], 0);
    let bad = app
        .get(&format!("{ENDPOINTS}/{endpoint_id}/deliveries?status=LOST"))
        .await;
    assert_eq!(expect_invalid_fields(bad).await, ["status"]);

    let resend = app
        .request(
            Method::POST,
            &format!("{ENDPOINTS}/{endpoint_id}/deliveries/{event_id}/resend"),
        )
        .send()
        .await
        .unwrap();
    let resent = expect_json(resend, StatusCode::ACCEPTED).await;
    assert_eq!(resent["status"], "PENDING");
    assert!(resent["next_attempt_at"].is_string());
    assert_eq!(resent["attempts"], 1);
    assert_eq!(resent["attempt_log"].as_array().unwrap().len(), 1);
    let missing = app
        .request(
            Method::POST,
            &format!("{ENDPOINTS}/{endpoint_id}/deliveries/kevt_nothing/resend"),
        )
        .send()
        .await
        .unwrap();
    expect_json(missing, StatusCode::NOT_FOUND).await;
    let again = after_attempts(app, &endpoint_id, &event_id, 2).await;
    assert_eq!(again["status"], "SUCCEEDED");
    assert_eq!(again["attempt_log"].as_array().unwrap().len(), 2);
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].webhook_id(), event_id);
    assert_eq!(received[1].body, received[0].body);
    received[1].verify(&secret).unwrap();

    let missing = app
        .get(&format!(
            "{ENDPOINTS}/{endpoint_id}/deliveries/kevt_nothing"
        ))
        .await;
    expect_json(missing, StatusCode::NOT_FOUND).await;
    // The endpoint shows how its latest attempt went.
    let endpoint = expect_json(
        app.get(&format!("{ENDPOINTS}/{endpoint_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(endpoint["last_attempt"]["succeeded"], true);
    assert_eq!(endpoint["last_attempt"]["event_id"], event_id.as_str());
}

async fn endpoints_are_managed_and_audited(app: &TestApp) {
    let receiver = Receiver::start().await;
    let response = app
        .post_json(
            ENDPOINTS,
            &json!({"url": receiver.url, "description": "ERP", "events": ["ipp.device.registered"]}),
        )
        .await;
    let created = expect_json(response, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
    assert_eq!(created["events"], json!(["ipp.device.registered"]));
    assert_eq!(created["enabled"], true);
    assert_eq!(created["description"], "ERP");

    // The secret is shown once: never in a read or a list.
    let read = expect_json(app.get(&format!("{ENDPOINTS}/{id}")).await, StatusCode::OK).await;
    assert!(read.get("secret").is_none());
    assert!(read["last_attempt"].is_null());
    let listed = expect_json(app.get(ENDPOINTS).await, StatusCode::OK).await;
    assert_eq!(listed["total_elements"], 1);
    assert_eq!(listed["first"], true);
    assert!(listed["content"][0].get("secret").is_none());

    // Subscribed to registrations only: an enrollment sends nothing, and of a
    // registration only the device's event is sent, not the code's.
    let enrollment = app.create_enrollment(json!({})).await;
    assert_eq!(deliveries(app, &id, "").await["total_elements"], 0);
    let code = enrollment["enrollment_code"].as_str().unwrap();
    expect_json(
        app.register(code, "hw-hooks-sub").await,
        StatusCode::CREATED,
    )
    .await;
    let sent = deliveries(app, &id, "").await;
    assert_eq!(sent["total_elements"], 1);
    assert_eq!(sent["content"][0]["event_type"], "ipp.device.registered");

    for (body, field) in [
        (json!({"events": []}), "events"),
        (json!({"events": ["ipp.device.exploded"]}), "events"),
        (json!({"events": ["*", "ipp.device.updated"]}), "events"),
        (json!({"description": "x".repeat(201)}), "description"),
        (json!({"url": "http://example.com/"}), "url"),
        (json!({"enabled": "yes"}), "enabled"),
    ] {
        let response = app
            .request(Method::PATCH, &format!("{ENDPOINTS}/{id}"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(expect_invalid_fields(response).await, [field], "{body}");
    }
    let changed = app
        .request(Method::PATCH, &format!("{ENDPOINTS}/{id}"))
        .json(&json!({"events": ["*"], "description": "ERP, all events"}))
        .send()
        .await
        .unwrap();
    let changed = expect_json(changed, StatusCode::OK).await;
    assert_eq!(changed["events"], json!(["*"]));
    assert_eq!(changed["description"], "ERP, all events");

    let deleted = app
        .request(Method::DELETE, &format!("{ENDPOINTS}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    expect_json(
        app.get(&format!("{ENDPOINTS}/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;

    let audit = expect_json(
        app.get(&format!("/ipp/v1/audit-events?target_id={id}"))
            .await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = audit["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "webhook_endpoint.deleted",
            "webhook_endpoint.updated",
            "webhook_endpoint.created"
        ]
    );
    assert!(
        !audit.to_string().contains("whsec_"),
        "no secret in the log"
    );
}

async fn an_endpoint_failing_for_three_days_is_disabled(app: &TestApp) {
    let receiver = Receiver::start().await;
    receiver.always(503);
    let (endpoint_id, _) = add_endpoint(app, &receiver.url).await;
    let first = send_test(app, &endpoint_id).await;
    after_attempts(app, &endpoint_id, &first, 1).await;
    // Failing for two days is not enough.
    app.clock.advance_seconds(2 * 24 * 3600);
    after_attempts(app, &endpoint_id, &first, 2).await;
    let endpoint = expect_json(
        app.get(&format!("{ENDPOINTS}/{endpoint_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(endpoint["enabled"], true, "{endpoint}");
    // Still failing three days after the first failure: disabled at its next failure.
    app.clock.advance_seconds(24 * 3600 + 1);
    let endpoint = eventually("the endpoint disabled", || async {
        let endpoint = expect_json(
            app.get(&format!("{ENDPOINTS}/{endpoint_id}")).await,
            StatusCode::OK,
        )
        .await;
        (endpoint["enabled"] == false).then_some(endpoint)
    })
    .await;
    assert!(
        endpoint["disabled_reason"]
            .as_str()
            .unwrap()
            .contains("3 days"),
        "{endpoint}"
    );
    let audit = expect_json(
        app.get(&format!(
            "/ipp/v1/audit-events?target_id={endpoint_id}&action=webhook_endpoint.disabled"
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(audit["total_elements"], 1);
    assert_eq!(audit["content"][0]["actor"]["kind"], "system");
}

async fn two_instances_deliver_each_event_once(app: &TestApp) {
    const EVENTS: usize = 60;
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = add_endpoint(app, &receiver.url).await;
    let (second_address, second) = app.instance_configured(local_targets).await;
    // Changes come in through both instances, and both deliver.
    for index in 0..EVENTS {
        let base = if index % 2 == 0 {
            app.address.clone()
        } else {
            second_address.clone()
        };
        let response = app
            .client
            .post(format!("{base}/ipp/v1/enrollments"))
            .bearer_auth(&app.merchant.api_key)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        expect_json(response, StatusCode::CREATED).await;
    }
    receiver.wait_for(EVENTS).await;
    all_recorded(app, &endpoint_id).await;
    let received = receiver.received();
    let mut times: HashMap<&str, usize> = HashMap::new();
    for request in &received {
        request.verify(&secret).unwrap();
        *times.entry(request.webhook_id()).or_default() += 1;
    }
    assert_eq!(times.len(), EVENTS);
    assert!(
        times.values().all(|count| *count == 1),
        "each event once: {times:?}"
    );
    second.abort();
}

/// Deliveries that piled up while no instance sent them go out at most `per_endpoint` at
/// a time to their endpoint, each once: a backlog never floods a merchant's server.
async fn a_backlog_goes_out_a_few_at_a_time(app: &TestApp) {
    const EVENTS: usize = 40;
    const PER_ENDPOINT: usize = 4;
    let receiver = Receiver::start().await;
    receiver.hold_each(Duration::from_millis(100));
    let (endpoint_id, _) = add_endpoint(app, &receiver.url).await;
    for _ in 0..EVENTS {
        app.create_enrollment(json!({})).await;
    }
    let pending = deliveries(app, &endpoint_id, "").await;
    assert_eq!(pending["total_elements"], EVENTS);

    let (_, sender) = app
        .instance_configured(|config| {
            local_targets(config);
            config.webhooks.per_endpoint = PER_ENDPOINT;
        })
        .await;
    receiver.wait_for(EVENTS).await;
    all_recorded(app, &endpoint_id).await;
    let mut ids: Vec<String> = receiver
        .received()
        .iter()
        .map(|request| request.webhook_id().to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), EVENTS, "each event once");
    assert_eq!(receiver.received().len(), EVENTS, "each event once");
    let most = receiver.most_at_once();
    assert!(
        most <= PER_ENDPOINT,
        "{most} requests at once, against a limit of {PER_ENDPOINT}"
    );
    sender.abort();
}

async fn the_outbox_survives_a_restart(app: &TestApp) {
    let receiver = Receiver::start().await;
    let (endpoint_id, secret) = add_endpoint(app, &receiver.url).await;
    let enrollment = app.create_enrollment(json!({})).await;
    let pending = deliveries(app, &endpoint_id, "").await;
    assert_eq!(pending["total_elements"], 1);
    assert_eq!(pending["content"][0]["status"], "PENDING");
    assert_eq!(pending["content"][0]["attempts"], 0);
    let event_id = pending["content"][0]["event_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // The instance stops before sending; another starts on the same database.
    app.stop_serving();
    let (address, restarted) = app.instance_configured(local_targets).await;
    let received = receiver.wait_for(1).await;
    assert_eq!(received[0].webhook_id(), event_id);
    received[0].verify(&secret).unwrap();
    assert_eq!(
        received[0].json()["data"]["enrollment_id"],
        enrollment["enrollment_id"]
    );
    let recorded = eventually("the attempt recorded", || async {
        let response = app
            .client
            .get(format!(
                "{address}{ENDPOINTS}/{endpoint_id}/deliveries/{event_id}"
            ))
            .bearer_auth(&app.merchant.api_key)
            .send()
            .await
            .unwrap();
        let delivery = expect_json(response, StatusCode::OK).await;
        (delivery["status"] == "SUCCEEDED").then_some(delivery)
    })
    .await;
    assert_eq!(recorded["attempts"], 1);
    restarted.abort();
}

async fn only_admins_and_api_keys_manage_webhooks(app: &TestApp) {
    let staff = |role: Role| Actor {
        merchant_id: app.merchant.id.clone(),
        kind: ActorKind::User(role),
        id: Some("u".into()),
        label: "someone@example.com".into(),
        allowed_locations: None,
    };
    for role in [Role::Ops, Role::StoreManager] {
        let refused = app
            .services
            .list_webhook_endpoints(&staff(role), Default::default())
            .await
            .unwrap_err();
        assert_eq!(refused.kind(), ErrorKind::Forbidden, "{role:?}");
    }
    let admin = app
        .services
        .list_webhook_endpoints(&staff(Role::Admin), Default::default())
        .await
        .unwrap();
    assert_eq!(admin.total_elements, 0);
    // API keys reach them through the API.
    expect_json(app.get(ENDPOINTS).await, StatusCode::OK).await;
}

async fn the_cli_listener_verifies_and_prints_events(app: &TestApp) {
    use std::process::Stdio;
    use tokio::io::{AsyncBufReadExt, BufReader};

    // The endpoint first, for its secret; its URL is the listener's once that listens.
    let (endpoint_id, secret) = add_endpoint(app, "http://127.0.0.1:9/").await;
    let mut listener = tokio::process::Command::new(env!("CARGO_BIN_EXE_ipp-portal"))
        .args(["webhook", "listen", "--addr", "127.0.0.1:0"])
        .env("IPP_WEBHOOK_SECRET", &secret)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the listener");
    let mut log = BufReader::new(listener.stderr.take().unwrap()).lines();
    let mut events = BufReader::new(listener.stdout.take().unwrap()).lines();
    let listening = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = log.next_line().await.unwrap().expect("the listener runs");
            if line.contains("listening on") {
                return line;
            }
        }
    })
    .await
    .expect("the listener starts");
    let url = listening
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("an address in {listening:?}"))
        .to_owned();
    let moved = app
        .request(Method::PATCH, &format!("{ENDPOINTS}/{endpoint_id}"))
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    expect_json(moved, StatusCode::OK).await;

    let event_id = send_test(app, &endpoint_id).await;
    let line = tokio::time::timeout(Duration::from_secs(60), events.next_line())
        .await
        .expect("the listener prints the event")
        .unwrap()
        .unwrap();
    let printed: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(printed["id"], event_id.as_str());
    assert_eq!(printed["type"], "ipp.webhook.test");
    let delivered = after_attempts(app, &endpoint_id, &event_id, 1).await;
    assert_eq!(delivered["last_status_code"], 204);

    // A delivery it cannot verify is refused.
    let forged = app
        .client
        .post(&url)
        .header("webhook-id", "kevt_forged")
        .header(
            "webhook-timestamp",
            (time::OffsetDateTime::now_utc().unix_timestamp()).to_string(),
        )
        .header("webhook-signature", "v1,bm90IGEgc2lnbmF0dXJl")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
    let refusal = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            let line = log.next_line().await.unwrap().unwrap();
            if line.contains("refused") {
                return line;
            }
        }
    })
    .await
    .expect("the refusal is said");
    assert!(refusal.contains("kevt_forged"), "{refusal}");
    listener.kill().await.unwrap();
}

async fn at_most_twenty_endpoints_even_when_added_at_once(app: &TestApp) {
    let attempts = (0..30).map(|index| async move {
        app.post_json(
            ENDPOINTS,
            &json!({"url": format!("http://127.0.0.1:9/hooks/{index}")}),
        )
        .await
        .status()
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses
        .iter()
        .filter(|status| **status == StatusCode::CREATED)
        .count();
    let refused = statuses
        .iter()
        .filter(|status| **status == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, refused), (20, 10), "{statuses:?}");
    let listed = expect_json(app.get(ENDPOINTS).await, StatusCode::OK).await;
    assert_eq!(listed["total_elements"], 20);
}

async fn endpoint_changes_that_matter_to_security_are_logged(app: &TestApp) {
    use app::ui::pages::webhook_endpoint::RevealWebhookSecret;
    use leptos::server_fn::ServerFn;

    use crate::helpers::{PASSWORD, PortalClient};
    use crate::security::security_event;
    use crate::server_process::ServerProcess;

    let server =
        ServerProcess::start(&app.database_url, &["--allow-private-webhook-targets"]).await;
    app.create_user(&app.merchant.id, "admin@shop.example", Role::Admin, &[])
        .await;
    let admin_id = app
        .storage()
        .await
        .user_by_email("admin@shop.example")
        .await
        .unwrap()
        .unwrap()
        .id;
    let api = |method: Method, path: &str| {
        app.client
            .request(method, format!("{}{path}", server.address))
            .bearer_auth(&app.merchant.api_key)
    };
    // The receiver's own token in the URL: never logged.
    let url = "http://127.0.0.1:9/hooks/receiver-token-7f3a?key=query-token-9c1e";
    let created = api(Method::POST, ENDPOINTS)
        .json(&json!({"url": url}))
        .send()
        .await
        .unwrap();
    let created = expect_json(created, StatusCode::CREATED).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let rotated = api(Method::POST, &format!("{ENDPOINTS}/{id}/rotate-secret"))
        .send()
        .await
        .unwrap();
    let rotated = expect_json(rotated, StatusCode::OK).await;
    let admin = PortalClient::new(&server.address);
    let (status, _) = admin.login("admin@shop.example", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    let (status, body) = admin.call(RevealWebhookSecret::PATH, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let deleted = api(Method::DELETE, &format!("{ENDPOINTS}/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);

    // Stopped first, so every event written is read.
    let (_, log) = server.stop_and_read_log().await;
    let merchant = app.merchant.id.as_str();
    let endpoint = [
        ("merchant_id", merchant),
        ("webhook_endpoint_id", id.as_str()),
        ("url_host", "127.0.0.1:9"),
    ];
    let by_key = [endpoint.as_slice(), &[("actor_kind", "api_key")]].concat();
    security_event(&log, "webhook_endpoint.created", &by_key);
    security_event(&log, "webhook_endpoint.secret_rotated", &by_key);
    security_event(&log, "webhook_endpoint.deleted", &by_key);
    let by_admin = [
        endpoint.as_slice(),
        &[
            ("user_id", admin_id.as_str()),
            ("email", "admin@shop.example"),
        ],
    ]
    .concat();
    security_event(&log, "webhook_endpoint.secret_revealed", &by_admin);

    let everything = log.join("\n");
    for secret in [
        created["secret"].as_str().unwrap(),
        rotated["secret"].as_str().unwrap(),
        "whsec_",
        "receiver-token-7f3a",
        "query-token-9c1e",
    ] {
        assert!(
            !everything.contains(secret),
            "the log holds a secret ({secret}):\n{everything}"
        );
    }
}
