use reqwest::{Method, StatusCode};
use serde_json::json;

use app::services::RegistrationLimits;
use app::store::{NewAuditEvent, NewDevice, Store, StoreError};

use crate::helpers::{
    Backend, TestApp, expect_invalid_fields, expect_json, postgres_skipped, test_settings,
};
use crate::on_both_databases;

on_both_databases!(
    registration_returns_the_device_with_metadata_and_a_working_token,
    registration_reads_codes_as_people_type_them,
    registration_errors_tell_unknown_from_used,
    a_second_registration_of_the_same_hardware_is_refused,
    one_code_registers_exactly_one_device_under_concurrency,
    concurrent_registrations_fail_alone,
    deregistering_revokes_the_token_at_once,
    a_registration_the_database_refuses_fails_alone,
    two_instances_register_side_by_side,
    a_code_cancelled_while_registering_ends_one_way,
);

async fn registration_returns_the_device_with_metadata_and_a_working_token(app: &TestApp) {
    let enrollment = app
        .create_enrollment(json!({"metadata": {"store": "s1", "type": "android"}}))
        .await;
    let code = enrollment["enrollment_code"].as_str().unwrap();
    let response = app
        .client
        .post(app.url("/ipp/v1/devices/register"))
        .json(&json!({"enrollment_code": code, "hardware_id": "SN-0012345678", "platform": "ANDROID", "name": "Till 1"}))
        .send()
        .await
        .unwrap();
    let registration = expect_json(response, StatusCode::CREATED).await;
    let device = &registration["device"];
    assert_eq!(device["name"], "Till 1");
    assert_eq!(device["platform"], "ANDROID");
    assert_eq!(device["hardware_id"], "SN-0012345678");
    assert_eq!(device["merchant_id"], app.merchant.id.as_str());
    assert_eq!(device["location_id"], app.merchant.location_id.as_str());
    assert_eq!(
        device["metadata"],
        json!({"store": "s1", "type": "android"})
    );
    assert_eq!(device["enrollment_id"], enrollment["enrollment_id"]);
    assert_eq!(device["last_seen_at"], serde_json::Value::Null);
    let credentials = &registration["credentials"];
    assert_eq!(credentials["token_type"], "Bearer");
    let token = credentials["access_token"].as_str().unwrap();
    assert!(token.len() >= 32, "at least 128 bits");

    // The enrollment is now consumed and points at the device.
    let id = enrollment["enrollment_id"].as_str().unwrap();
    let consumed = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(consumed["status"], "CONSUMED");
    assert_eq!(consumed["device_id"], device["id"]);

    app.clock.advance_seconds(30);
    let me = app
        .client
        .get(app.url("/ipp/v1/devices/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    let me = expect_json(me, StatusCode::OK).await;
    assert_eq!(me["id"], device["id"]);
    assert_eq!(me["last_seen_at"], "2026-09-21T14:13:50Z");
    let path = format!("/ipp/v1/devices/{}", device["id"].as_str().unwrap());
    let seen = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(seen["last_seen_at"], "2026-09-21T14:13:50Z");

    // A device token is no API key.
    let response = app
        .client
        .get(app.url("/ipp/v1/devices"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::UNAUTHORIZED).await;

    let events = expect_json(
        app.get("/ipp/v1/audit-events?action=device.registered")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["content"][0]["actor"]["kind"], "device");
    assert_eq!(events["content"][0]["target_id"], device["id"]);
}

async fn registration_reads_codes_as_people_type_them(app: &TestApp) {
    for (index, shape) in ["lower", "spaced", "link"].into_iter().enumerate() {
        let enrollment = app.create_enrollment(json!({})).await;
        let code = enrollment["enrollment_code"].as_str().unwrap();
        let typed = match shape {
            "lower" => code.to_lowercase(),
            "spaced" => format!(" {} {} ", &code[..4], &code[5..]),
            _ => enrollment["qr_payload"].as_str().unwrap().to_owned(),
        };
        let response = app.register(&typed, &format!("hw-{index}")).await;
        expect_json(response, StatusCode::CREATED).await;
    }
}

async fn registration_errors_tell_unknown_from_used(app: &TestApp) {
    expect_json(
        app.register("BBBB-BBBB", "hw-1").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    assert_eq!(
        expect_invalid_fields(app.register("AEIO-U123", "hw-1").await).await,
        vec!["enrollment_code"]
    );
    assert_eq!(
        expect_invalid_fields(app.register("BCD", "hw-1").await).await,
        vec!["enrollment_code"]
    );

    let enrollment = app.create_enrollment(json!({})).await;
    let code = enrollment["enrollment_code"].as_str().unwrap();
    let bad_fields = app
        .client
        .post(app.url("/ipp/v1/devices/register"))
        .json(&json!({"enrollment_code": code, "hardware_id": " ", "platform": "WINDOWS", "name": ""}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        expect_invalid_fields(bad_fields).await,
        vec!["hardware_id", "name", "platform"]
    );
    let missing = app
        .client
        .post(app.url("/ipp/v1/devices/register"))
        .json(&json!({"enrollment_code": code, "platform": "IOS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(expect_invalid_fields(missing).await, vec!["hardware_id"]);

    // None of that used the code up.
    expect_json(app.register(code, "hw-1").await, StatusCode::CREATED).await;
    let problem = expect_json(app.register(code, "hw-2").await, StatusCode::GONE).await;
    assert!(problem["detail"].as_str().unwrap().contains("already used"));
}

async fn a_second_registration_of_the_same_hardware_is_refused(app: &TestApp) {
    app.enroll_device(json!({}), "hw-same").await;
    let enrollment = app.create_enrollment(json!({})).await;
    let code = enrollment["enrollment_code"].as_str().unwrap();
    expect_json(app.register(code, "hw-same").await, StatusCode::CONFLICT).await;
    // The refused attempt left the code usable.
    let id = enrollment["enrollment_id"].as_str().unwrap();
    let still = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["status"], "PENDING");
    expect_json(app.register(code, "hw-other").await, StatusCode::CREATED).await;
}

async fn one_code_registers_exactly_one_device_under_concurrency(app: &TestApp) {
    let enrollment = app.create_enrollment(json!({})).await;
    let code = enrollment["enrollment_code"].as_str().unwrap().to_owned();
    let attempts = (0..100).map(|i| {
        let code = code.clone();
        async move { app.register(&code, &format!("hw-race-{i}")).await.status() }
    });
    let statuses = futures::future::join_all(attempts).await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let gone = statuses.iter().filter(|s| **s == StatusCode::GONE).count();
    assert_eq!(created, 1, "statuses: {statuses:?}");
    assert_eq!(gone, 99, "statuses: {statuses:?}");
    let devices = expect_json(app.get("/ipp/v1/devices").await, StatusCode::OK).await;
    assert_eq!(devices["total_elements"], 1);
}

/// Registrations arriving together may share a transaction: one refused among them must
/// leave the others registered, and its own code usable.
async fn concurrent_registrations_fail_alone(app: &TestApp) {
    app.enroll_device(json!({}), "hw-taken").await;
    let mut codes = Vec::new();
    for _ in 0..30 {
        let enrollment = app
            .create_enrollment(json!({"metadata": {"batch": "b"}}))
            .await;
        codes.push((
            enrollment["enrollment_id"].as_str().unwrap().to_owned(),
            enrollment["enrollment_code"].as_str().unwrap().to_owned(),
        ));
    }
    // Every third attempt reuses a registered hardware id.
    let hardware_id = |i: usize| {
        if i.is_multiple_of(3) {
            "hw-taken".to_owned()
        } else {
            format!("hw-new-{i}")
        }
    };
    let attempts = codes
        .iter()
        .enumerate()
        .map(|(i, (_, code))| async move { app.register(code, &hardware_id(i)).await.status() });
    let statuses = futures::future::join_all(attempts).await;
    for (i, status) in statuses.iter().enumerate() {
        let expected = if i.is_multiple_of(3) {
            StatusCode::CONFLICT
        } else {
            StatusCode::CREATED
        };
        assert_eq!(*status, expected, "attempt {i}: {statuses:?}");
    }
    let registered = expect_json(
        app.get("/ipp/v1/devices?metadata=batch:b&page_size=100")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(registered["total_elements"], 20);
    let audited = expect_json(
        app.get("/ipp/v1/audit-events?page_size=100").await,
        StatusCode::OK,
    )
    .await;
    let registrations = audited["content"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["action"] == "device.registered")
        .count();
    assert_eq!(registrations, 21, "the first device and the 20 new ones");
    for (i, (id, _)) in codes.iter().enumerate() {
        let enrollment = expect_json(
            app.get(&format!("/ipp/v1/enrollments/{id}")).await,
            StatusCode::OK,
        )
        .await;
        let expected = if i.is_multiple_of(3) {
            "PENDING"
        } else {
            "CONSUMED"
        };
        assert_eq!(enrollment["status"], expected, "enrollment {i}");
    }
}

/// Registrations written together (SQLite writes those waiting at one moment in one
/// go) do not stand or fall together: when the database refuses one for a reason
/// registration does not foresee, here a token hash another device has, only that one
/// fails, and nothing of it is written.
async fn a_registration_the_database_refuses_fails_alone(app: &TestApp) {
    let store = Store::connect(&app.database_url).await.unwrap();
    let mut enrollment_ids = Vec::new();
    for _ in 0..8 {
        let enrollment = app.create_enrollment(json!({})).await;
        enrollment_ids.push(enrollment["enrollment_id"].as_str().unwrap().to_owned());
    }
    let now = app.services.now();
    let device_ids: Vec<String> = (0..8).map(|i| format!("device-{i}")).collect();
    let registrations = (0..8).map(|i| {
        let (store, enrollment_id, device_id) = (&store, &enrollment_ids[i], &device_ids[i]);
        async move {
            let hardware_id = format!("hw-{i}");
            // The last two carry one token hash: whichever is written second is refused.
            let token_hash = format!("token-{}", i.min(6));
            store
                .register_device(
                    &NewDevice {
                        id: device_id,
                        enrollment_id,
                        hardware_id: &hardware_id,
                        name: "Till",
                        platform: "IOS",
                        token_hash: &token_hash,
                        now,
                        counted_attempt: None,
                        webhook_events: &[],
                    },
                    &NewAuditEvent {
                        merchant_id: &app.merchant.id,
                        occurred_at: now,
                        actor_kind: "device",
                        actor_id: Some(device_id),
                        actor_label: "Till",
                        action: "device.registered",
                        target_kind: "device",
                        target_id: device_id,
                        details: "{}".to_owned(),
                    },
                )
                .await
        }
    });
    let outcomes = futures::future::join_all(registrations).await;
    let refused: Vec<usize> = (0..8)
        .filter(|&i| matches!(outcomes[i], Err(StoreError::UniqueViolation)))
        .collect();
    assert_eq!(refused.len(), 1, "{outcomes:?}");
    assert!(refused[0] >= 6, "{outcomes:?}");
    for (i, outcome) in outcomes.iter().enumerate() {
        if i != refused[0] {
            assert!(matches!(outcome, Ok(true)), "registration {i}: {outcome:?}");
        }
    }
    for (i, enrollment_id) in enrollment_ids.iter().enumerate() {
        let enrollment = expect_json(
            app.get(&format!("/ipp/v1/enrollments/{enrollment_id}"))
                .await,
            StatusCode::OK,
        )
        .await;
        let expected = if i == refused[0] {
            "PENDING"
        } else {
            "CONSUMED"
        };
        assert_eq!(enrollment["status"], expected, "enrollment {i}");
    }
    let devices = expect_json(
        app.get("/ipp/v1/devices?page_size=100").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(devices["total_elements"], 7);
    store.close().await;
}

/// Two instances on one database (several on PostgreSQL; on SQLite, the command line
/// writing beside the server is the same case) each write while the other does: every
/// registration goes through, and each gives its attempt back.
async fn two_instances_register_side_by_side(app: &TestApp) {
    let (second, handle) = app.instance_configured(|_| {}).await;
    let mut codes = Vec::new();
    for _ in 0..60 {
        let enrollment = app.create_enrollment(json!({})).await;
        codes.push(enrollment["enrollment_code"].as_str().unwrap().to_owned());
    }
    let registrations = codes.iter().enumerate().map(|(i, code)| {
        let base = if i % 2 == 0 { &app.address } else { &second };
        let request = app
            .client
            .post(format!("{base}/ipp/v1/devices/register"))
            .json(&json!({"enrollment_code": code, "hardware_id": format!("hw-{i}"), "platform": "IOS"}))
            .send();
        async move { request.await.unwrap().status() }
    });
    let statuses = futures::future::join_all(registrations).await;
    assert!(
        statuses.iter().all(|status| *status == StatusCode::CREATED),
        "{statuses:?}"
    );
    handle.abort();
}

/// A cancellation and a registration of one code at the same moment: one of them wins,
/// and the answers and the records agree on which.
async fn a_code_cancelled_while_registering_ends_one_way(app: &TestApp) {
    let mut enrollments = Vec::new();
    for _ in 0..24 {
        let enrollment = app.create_enrollment(json!({})).await;
        enrollments.push((
            enrollment["enrollment_id"].as_str().unwrap().to_owned(),
            enrollment["enrollment_code"].as_str().unwrap().to_owned(),
        ));
    }
    let races = enrollments
        .iter()
        .enumerate()
        .map(|(i, (id, code))| async move {
            let path = format!("/ipp/v1/enrollments/{id}");
            let (cancelled, registered) = tokio::join!(
                async {
                    app.request(Method::DELETE, &path)
                        .send()
                        .await
                        .unwrap()
                        .status()
                },
                async { app.register(code, &format!("hw-{i}")).await.status() },
            );
            (cancelled, registered)
        });
    let answers = futures::future::join_all(races).await;
    for ((id, _), (cancelled, registered)) in enrollments.iter().zip(&answers) {
        let enrollment = expect_json(
            app.get(&format!("/ipp/v1/enrollments/{id}")).await,
            StatusCode::OK,
        )
        .await;
        let expected = if *registered == StatusCode::CREATED {
            assert_eq!(*cancelled, StatusCode::CONFLICT, "{answers:?}");
            "CONSUMED"
        } else {
            assert_eq!(*cancelled, StatusCode::OK, "{answers:?}");
            assert_eq!(*registered, StatusCode::GONE, "{answers:?}");
            "CANCELLED"
        };
        assert_eq!(enrollment["status"], expected, "{answers:?}");
    }
    let consumed = answers
        .iter()
        .filter(|(_, registered)| *registered == StatusCode::CREATED)
        .count();
    let devices = expect_json(
        app.get("/ipp/v1/devices?page_size=100").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(devices["total_elements"], consumed);
}

async fn deregistering_revokes_the_token_at_once(app: &TestApp) {
    let registration = app.enroll_device(json!({"store": "s1"}), "hw-1").await;
    let token = registration["credentials"]["access_token"]
        .as_str()
        .unwrap();
    let id = registration["device"]["id"].as_str().unwrap();
    let me = || async {
        app.client
            .get(app.url("/ipp/v1/devices/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    };
    expect_json(me().await, StatusCode::OK).await;

    let response = app
        .request(Method::DELETE, &format!("/ipp/v1/devices/{id}"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    let refused = me().await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert!(refused.headers().get("www-authenticate").is_some());
    expect_json(
        app.get(&format!("/ipp/v1/devices/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let response = app
        .request(Method::DELETE, &format!("/ipp/v1/devices/{id}"))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::NOT_FOUND).await;

    // The same hardware can be enrolled again, as a new device.
    let again = app.enroll_device(json!({}), "hw-1").await;
    assert_ne!(again["device"]["id"], id);
    let events = expect_json(
        app.get(&format!(
            "/ipp/v1/audit-events?action=device.deregistered&target_id={id}"
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["total_elements"], 1);
    assert_eq!(events["content"][0]["details"]["hardware_id"], "hw-1");
}

async fn failed_attempts_are_limited_per_address(backend: Backend) {
    let mut settings = test_settings();
    settings.registration_limits = RegistrationLimits {
        per_address: 3,
        global: 1000,
        window_seconds: 600,
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let enrollment = app.create_enrollment(json!({})).await;
    let code = enrollment["enrollment_code"].as_str().unwrap();
    for _ in 0..3 {
        expect_json(app.register("BBBB-BBBB", "hw").await, StatusCode::NOT_FOUND).await;
    }
    // Now even the right code waits: the limit is on trying, not on failing.
    let limited = app.register(code, "hw").await;
    let retry_after: i64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(
        (1..=600).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    expect_json(limited, StatusCode::TOO_MANY_REQUESTS).await;

    app.clock.advance_seconds(600);
    expect_json(app.register(code, "hw").await, StatusCode::CREATED).await;
    app.cleanup().await;
}

async fn failed_attempts_are_limited_overall(backend: Backend) {
    let mut settings = test_settings();
    settings.registration_limits = RegistrationLimits {
        per_address: 100,
        global: 2,
        window_seconds: 600,
    };
    let app = TestApp::spawn_with(backend, settings).await;
    for _ in 0..2 {
        expect_json(app.register("BBBB-BBBB", "hw").await, StatusCode::NOT_FOUND).await;
    }
    expect_json(
        app.register("BBBB-BBBB", "hw").await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
    app.cleanup().await;
}

#[tokio::test]
async fn failed_attempts_are_limited_per_address_on_sqlite() {
    failed_attempts_are_limited_per_address(Backend::Sqlite).await;
}

#[tokio::test]
async fn failed_attempts_are_limited_per_address_on_postgres() {
    if postgres_skipped() {
        return;
    }
    failed_attempts_are_limited_per_address(Backend::Postgres).await;
}

#[tokio::test]
async fn failed_attempts_are_limited_overall_on_sqlite() {
    failed_attempts_are_limited_overall(Backend::Sqlite).await;
}

#[tokio::test]
async fn failed_attempts_are_limited_overall_on_postgres() {
    if postgres_skipped() {
        return;
    }
    failed_attempts_are_limited_overall(Backend::Postgres).await;
}

/// The counts live in the database: an attacker spreading guesses over several server
/// instances behind a load balancer meets the same limit.
async fn limits_hold_across_server_instances(backend: Backend) {
    let app = TestApp::spawn_with(backend, settings_with_limit(2)).await;
    let (second, handle) = app
        .instance_configured(|config| config.registration_limits.per_address = 2)
        .await;
    let register_on = |base: String| {
        let client = app.client.clone();
        async move {
            client
                .post(format!("{base}/ipp/v1/devices/register"))
                .json(&json!({"enrollment_code": "BBBB-BBBB", "hardware_id": "hw", "platform": "IOS"}))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(
        register_on(app.address.clone()).await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(register_on(second.clone()).await, StatusCode::NOT_FOUND);
    assert_eq!(
        register_on(app.address.clone()).await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(register_on(second).await, StatusCode::TOO_MANY_REQUESTS);
    handle.abort();
    app.cleanup().await;
}

fn settings_with_limit(per_address: i64) -> app::services::Settings {
    let mut settings = test_settings();
    settings.registration_limits.per_address = per_address;
    settings
}

#[tokio::test]
async fn limits_hold_across_server_instances_on_sqlite() {
    limits_hold_across_server_instances(Backend::Sqlite).await;
}

#[tokio::test]
async fn limits_hold_across_server_instances_on_postgres() {
    if postgres_skipped() {
        return;
    }
    limits_hold_across_server_instances(Backend::Postgres).await;
}

/// PostgreSQL: the writer tasks keep their connections between groups, but not while
/// idle. The database (restarted, or a proxy's idle limit) may drop connections while
/// nothing is written; the next registration must not fail on one.
#[tokio::test]
async fn connections_dropped_while_idle_cost_no_registration_on_postgres() {
    if postgres_skipped() {
        return;
    }
    let app = TestApp::spawn(Backend::Postgres).await;
    let register = |index: usize| {
        let app = &app;
        async move {
            let enrollment = app.create_enrollment(json!({})).await;
            let code = enrollment["enrollment_code"].as_str().unwrap();
            app.register(code, &format!("hw-idle-{index}"))
                .await
                .status()
        }
    };
    assert_eq!(register(0).await, StatusCode::CREATED);

    sqlx::any::install_default_drivers();
    let admin = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    let others = "FROM pg_stat_activity WHERE datname = current_database() \
                  AND pid <> pg_backend_pid()";
    let open: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) {others}"))
        .fetch_one(&admin)
        .await
        .unwrap();
    assert!(open > 0, "the application has connections open");
    sqlx::query(&format!("SELECT pg_terminate_backend(pid) {others}"))
        .execute(&admin)
        .await
        .unwrap();
    admin.close().await;
    // Idle for a second, as between two registrations at a quiet time.
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;

    assert_eq!(register(1).await, StatusCode::CREATED);
    let statuses = futures::future::join_all((2..8).map(register)).await;
    assert!(
        statuses.iter().all(|status| *status == StatusCode::CREATED),
        "{statuses:?}"
    );
    app.cleanup().await;
}
