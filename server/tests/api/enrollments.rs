use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{TestApp, expect_invalid_fields, expect_json};
use crate::on_both_databases;

on_both_databases!(
    create_returns_a_pending_code_with_its_qr_payload,
    create_accepts_ttl_and_defaults,
    create_refuses_bad_fields_naming_each,
    location_is_required_when_the_merchant_has_several,
    idempotency_key_replays_the_same_enrollment,
    list_filters_by_metadata_status_and_location,
    list_pages_in_the_kustom_envelope,
    cancel_pending_then_again_then_not_after_use,
    expiry_is_judged_at_read_time,
    plain_codes_are_forgotten_once_they_cannot_be_used,
);

async fn create_returns_a_pending_code_with_its_qr_payload(app: &TestApp) {
    let body = json!({
        "metadata": {"username": "john.doe", "type": "android"},
        "expires_in": 36000,
        "location_id": app.merchant.location_id,
    });
    let enrollment = app.create_enrollment(body).await;

    assert_eq!(enrollment["status"], "PENDING");
    let code = enrollment["enrollment_code"].as_str().unwrap();
    // Ten hours is longer than two: a long code, in four groups.
    assert_eq!(code.len(), 19, "XXXX-XXXX-XXXX-XXXX: {code}");
    assert_eq!(code.matches('-').count(), 3);
    assert!(
        code.replace('-', "")
            .bytes()
            .all(|b| b"BCDFGHJKLMNPQRSTVWXZ".contains(&b))
    );
    assert_eq!(
        enrollment["metadata"],
        json!({"username": "john.doe", "type": "android"})
    );
    assert_eq!(enrollment["location_id"], app.merchant.location_id.as_str());
    assert_eq!(
        enrollment["qr_payload"],
        format!("https://portal.test/pair#code={code}").as_str()
    );
    assert_eq!(enrollment["created_by"], "tests");
    // The fixed test clock starts at 1_790_000_000 s; 36000 s later:
    assert_eq!(enrollment["created_at"], "2026-09-21T14:13:20Z");
    assert_eq!(enrollment["expires_at"], "2026-09-22T00:13:20Z");

    let id = enrollment["enrollment_id"].as_str().unwrap();
    let fetched = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(fetched, enrollment);
}

async fn create_accepts_ttl_and_defaults(app: &TestApp) {
    let default = app.create_enrollment(json!({})).await;
    assert_eq!(
        default["expires_at"], "2026-09-21T16:13:20Z",
        "two hours by default"
    );
    assert_eq!(
        default["location_id"],
        app.merchant.location_id.as_str(),
        "the only location"
    );
    assert_eq!(default["metadata"], json!({}));

    let day = app
        .create_enrollment(json!({"ttl": "TWENTY_FOUR_HOURS"}))
        .await;
    assert_eq!(day["expires_at"], "2026-09-22T14:13:20Z");

    // An empty body is an enrollment with every default.
    let response = app
        .request(Method::POST, "/ipp/v1/enrollments")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
}

async fn create_refuses_bad_fields_naming_each(app: &TestApp) {
    let cases = [
        (json!({"expires_in": 59}), vec!["expires_in"]),
        (json!({"expires_in": 259_201}), vec!["expires_in"]),
        (json!({"expires_in": "soon"}), vec!["expires_in"]),
        (json!({"expires_in": 3600, "ttl": "TWO_HOURS"}), vec!["ttl"]),
        (json!({"ttl": "FOREVER"}), vec!["ttl"]),
        (
            json!({"metadata": {"bad key": "x"}}),
            vec!["metadata.bad key"],
        ),
        (json!({"metadata": {"n": 5}}), vec!["metadata.n"]),
        (
            json!({"metadata": {"k": "x".repeat(501)}}),
            vec!["metadata.k"],
        ),
        (
            json!({"location_id": "no-such-location"}),
            vec!["location_id"],
        ),
        (
            json!({"expires_in": 10, "metadata": {"a b": "x"}}),
            vec!["expires_in", "metadata.a b"],
        ),
    ];
    for (body, fields) in cases {
        let response = app.post_json("/ipp/v1/enrollments", &body).await;
        assert_eq!(expect_invalid_fields(response).await, fields, "for {body}");
    }
    let too_many: serde_json::Map<String, serde_json::Value> =
        (0..21).map(|i| (format!("k{i}"), json!("v"))).collect();
    let response = app
        .post_json("/ipp/v1/enrollments", &json!({"metadata": too_many}))
        .await;
    assert_eq!(expect_invalid_fields(response).await, vec!["metadata"]);

    let response = app
        .request(Method::POST, "/ipp/v1/enrollments")
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let problem = expect_json(response, StatusCode::BAD_REQUEST).await;
    assert!(problem["errors"]["body"].is_string(), "{problem}");
    assert_eq!(problem["status"], 400);
    assert_eq!(problem["type"], "urn:ipp-portal:problem:invalid-request");

    // Nothing was created by any of these.
    let list = expect_json(app.get("/ipp/v1/enrollments").await, StatusCode::OK).await;
    assert_eq!(list["total_elements"], 0);
}

async fn location_is_required_when_the_merchant_has_several(app: &TestApp) {
    let second = app.create_location("Harbour Kiosk").await;
    let response = app.post_json("/ipp/v1/enrollments", &json!({})).await;
    assert_eq!(expect_invalid_fields(response).await, vec!["location_id"]);

    let enrollment = app.create_enrollment(json!({"location_id": second})).await;
    assert_eq!(enrollment["location_id"], second.as_str());

    // Another merchant's location is as unknown as one that does not exist.
    let other = app.other_merchant().await;
    let response = app
        .post_json(
            "/ipp/v1/enrollments",
            &json!({"location_id": other.location_id}),
        )
        .await;
    assert_eq!(expect_invalid_fields(response).await, vec!["location_id"]);
}

async fn idempotency_key_replays_the_same_enrollment(app: &TestApp) {
    let body = json!({"metadata": {"store": "s1"}});
    let send = |key: &'static str, body: serde_json::Value| async move {
        app.request(Method::POST, "/ipp/v1/enrollments")
            .header("Idempotency-Key", key)
            .json(&body)
            .send()
            .await
            .unwrap()
    };
    let first = send("order-42", body.clone()).await;
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first = expect_json(first, StatusCode::CREATED).await;

    let again = send("order-42", body.clone()).await;
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    let again = expect_json(again, StatusCode::CREATED).await;
    assert_eq!(again["enrollment_id"], first["enrollment_id"]);
    assert_eq!(again["enrollment_code"], first["enrollment_code"]);

    let changed = send("order-42", json!({"metadata": {"store": "s2"}})).await;
    let problem = expect_json(changed, StatusCode::CONFLICT).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Idempotency-Key")
    );

    let other_key = expect_json(send("order-43", body).await, StatusCode::CREATED).await;
    assert_ne!(other_key["enrollment_id"], first["enrollment_id"]);

    // Concurrent first sends with one key still make a single enrollment.
    let sends = (0..10).map(|_| send("order-44", json!({"metadata": {"store": "s3"}})));
    let responses = futures::future::join_all(sends).await;
    let mut ids = std::collections::HashSet::new();
    for response in responses {
        let body = expect_json(response, StatusCode::CREATED).await;
        ids.insert(body["enrollment_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(ids.len(), 1);

    let list = expect_json(app.get("/ipp/v1/enrollments").await, StatusCode::OK).await;
    assert_eq!(list["total_elements"], 3);
}

async fn list_filters_by_metadata_status_and_location(app: &TestApp) {
    let kiosk = app.create_location("Kiosk").await;
    let main = &app.merchant.location_id;
    let a = app
        .create_enrollment(
            json!({"metadata": {"store": "s1", "type": "android"}, "location_id": main}),
        )
        .await;
    app.clock.advance_seconds(1);
    let b = app
        .create_enrollment(
            json!({"metadata": {"store": "s1", "type": "ios"}, "location_id": kiosk}),
        )
        .await;
    app.clock.advance_seconds(1);
    let c = app
        .create_enrollment(json!({"metadata": {"store": "s2"}, "location_id": main}))
        .await;
    // c is used by a device; a is cancelled.
    let code = c["enrollment_code"].as_str().unwrap();
    expect_json(app.register(code, "hw-c").await, StatusCode::CREATED).await;
    let a_id = a["enrollment_id"].as_str().unwrap();
    let response = app
        .request(Method::DELETE, &format!("/ipp/v1/enrollments/{a_id}"))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;

    let ids = |page: serde_json::Value| -> Vec<String> {
        page["content"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["enrollment_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let id = |e: &serde_json::Value| e["enrollment_id"].as_str().unwrap().to_owned();
    let list = |query: &'static str| async move {
        expect_json(
            app.get(&format!("/ipp/v1/enrollments{query}")).await,
            StatusCode::OK,
        )
        .await
    };

    // Default: pending and consumed, newest first; the cancelled one is left out.
    assert_eq!(ids(list("").await), vec![id(&c), id(&b)]);
    assert_eq!(ids(list("?include_consumed=false").await), vec![id(&b)]);
    assert_eq!(ids(list("?status=CANCELLED").await), vec![id(&a)]);
    assert_eq!(
        ids(list("?status=cancelled&status=PENDING").await),
        vec![id(&b), id(&a)]
    );
    assert_eq!(ids(list("?metadata=store:s1").await), vec![id(&b)]);
    assert_eq!(
        ids(list("?metadata=store:s1&metadata=type:ios").await),
        vec![id(&b)]
    );
    assert_eq!(
        ids(list("?metadata=store:s1&metadata=type:android").await),
        Vec::<String>::new()
    );
    let by_location = expect_json(
        app.get(&format!("/ipp/v1/enrollments?location_id={main}"))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ids(by_location), vec![id(&c)]);
    // A consumed enrollment no longer shows its code.
    let consumed = &list("?status=CONSUMED").await["content"][0];
    assert_eq!(consumed["enrollment_code"], serde_json::Value::Null);
    assert_eq!(consumed["qr_payload"], serde_json::Value::Null);
    assert!(consumed["device_id"].is_string());

    let bad = [
        ("?status=DONE", "status"),
        ("?metadata=nocolon", "metadata"),
        ("?include_consumed=maybe", "include_consumed"),
        (
            "?metadata=a:1&metadata=b:1&metadata=c:1&metadata=d:1&metadata=e:1&metadata=f:1",
            "metadata",
        ),
    ];
    for (query, field) in bad {
        let response = app.get(&format!("/ipp/v1/enrollments{query}")).await;
        assert_eq!(
            expect_invalid_fields(response).await,
            vec![field],
            "for {query}"
        );
    }
}

async fn list_pages_in_the_kustom_envelope(app: &TestApp) {
    for _ in 0..5 {
        app.create_enrollment(json!({})).await;
    }
    let page = expect_json(
        app.get("/ipp/v1/enrollments?page_size=2&page_number=1")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page["content"].as_array().unwrap().len(), 2);
    assert_eq!(page["total_elements"], 5);
    assert_eq!(page["total_pages"], 3);
    assert_eq!(page["page_number"], 1);
    assert_eq!(page["page_size"], 2);
    assert_eq!(page["first"], false);
    assert_eq!(page["last"], false);
    let last = expect_json(
        app.get("/ipp/v1/enrollments?page_size=2&page_number=2")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(last["content"].as_array().unwrap().len(), 1);
    assert_eq!(last["last"], true);
    let default = expect_json(app.get("/ipp/v1/enrollments").await, StatusCode::OK).await;
    assert_eq!(default["page_size"], 20);
    assert_eq!(default["first"], true);

    for (query, field) in [
        ("page_size=0", "page_size"),
        ("page_size=101", "page_size"),
        ("page_number=-1", "page_number"),
        ("page_number=x", "page_number"),
    ] {
        let response = app.get(&format!("/ipp/v1/enrollments?{query}")).await;
        assert_eq!(expect_invalid_fields(response).await, vec![field]);
    }
}

async fn cancel_pending_then_again_then_not_after_use(app: &TestApp) {
    let enrollment = app.create_enrollment(json!({})).await;
    let id = enrollment["enrollment_id"].as_str().unwrap();
    let path = format!("/ipp/v1/enrollments/{id}");
    let cancel = || async { app.request(Method::DELETE, &path).send().await.unwrap() };

    let cancelled = expect_json(cancel().await, StatusCode::OK).await;
    assert_eq!(cancelled["status"], "CANCELLED");
    assert_eq!(cancelled["enrollment_code"], serde_json::Value::Null);
    let again = expect_json(cancel().await, StatusCode::OK).await;
    assert_eq!(again["status"], "CANCELLED");
    // The cancelled code no longer registers anything.
    let code = enrollment["enrollment_code"].as_str().unwrap();
    expect_json(app.register(code, "hw-1").await, StatusCode::GONE).await;

    let used = app.create_enrollment(json!({})).await;
    let used_id = used["enrollment_id"].as_str().unwrap();
    expect_json(
        app.register(used["enrollment_code"].as_str().unwrap(), "hw-2")
            .await,
        StatusCode::CREATED,
    )
    .await;
    let response = app
        .request(Method::DELETE, &format!("/ipp/v1/enrollments/{used_id}"))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CONFLICT).await;

    let response = app
        .request(Method::DELETE, "/ipp/v1/enrollments/no-such-id")
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::NOT_FOUND).await;

    // One audit event per change: the second cancel changed nothing.
    let events = expect_json(
        app.get(&format!(
            "/ipp/v1/audit-events?action=enrollment.cancelled&target_id={id}"
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["total_elements"], 1);
    assert_eq!(events["content"][0]["actor"]["kind"], "api_key");
    assert_eq!(events["content"][0]["actor"]["label"], "tests");
}

async fn expiry_is_judged_at_read_time(app: &TestApp) {
    let enrollment = app.create_enrollment(json!({"expires_in": 60})).await;
    let id = enrollment["enrollment_id"].as_str().unwrap();
    let code = enrollment["enrollment_code"].as_str().unwrap().to_owned();

    app.clock.advance_seconds(59);
    let still = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["status"], "PENDING");

    app.clock.advance_seconds(1);
    let expired = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(expired["status"], "EXPIRED");
    assert_eq!(expired["enrollment_code"], serde_json::Value::Null);

    let list = expect_json(app.get("/ipp/v1/enrollments").await, StatusCode::OK).await;
    assert_eq!(list["total_elements"], 0, "expired ones are left out");
    let history = expect_json(
        app.get("/ipp/v1/enrollments?status=EXPIRED").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(history["content"][0]["enrollment_id"], id);

    let problem = expect_json(app.register(&code, "hw-late").await, StatusCode::GONE).await;
    assert!(problem["detail"].as_str().unwrap().contains("expired"));
    let response = app
        .request(Method::DELETE, &format!("/ipp/v1/enrollments/{id}"))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CONFLICT).await;
}

/// A code is kept in plain text only while it can be used; afterwards the enrollment is
/// found by the code's hash, so a late attempt is still answered "gone".
async fn plain_codes_are_forgotten_once_they_cannot_be_used(app: &TestApp) {
    let mut codes = Vec::new();
    for lifetime in [600, 600, 60, 600] {
        let enrollment = app.create_enrollment(json!({"expires_in": lifetime})).await;
        codes.push((
            enrollment["enrollment_id"].as_str().unwrap().to_owned(),
            enrollment["enrollment_code"].as_str().unwrap().to_owned(),
        ));
    }
    let [
        (used_id, used),
        (cancelled_id, cancelled),
        (expired_id, expired),
        (live_id, _),
    ] = <[(String, String); 4]>::try_from(codes).unwrap();
    expect_json(app.register(&used, "hw-used").await, StatusCode::CREATED).await;
    let cancel = app
        .request(
            Method::DELETE,
            &format!("/ipp/v1/enrollments/{cancelled_id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cancel.status(), StatusCode::OK);
    app.clock.advance_seconds(61);
    // What every instance does each minute. The webhook worker may announce the expiry
    // meanwhile (it polls every second); that leaves the code to be forgotten here.
    let forgotten = app.services.forget_expired_codes().await.unwrap();
    assert_eq!(forgotten, 1);

    let storage = app.storage().await;
    for id in [&used_id, &cancelled_id, &expired_id] {
        let row = storage
            .enrollment(&app.merchant.id, id)
            .await
            .unwrap()
            .unwrap();
        assert!(row.live_code.is_none(), "{id} still holds its code");
    }
    let live = storage
        .enrollment(&app.merchant.id, &live_id)
        .await
        .unwrap()
        .unwrap();
    assert!(
        live.live_code.is_some(),
        "a pending code is kept to be shown"
    );

    for (code, reason) in [
        (&used, "already used"),
        (&cancelled, "cancelled"),
        (&expired, "expired"),
    ] {
        let problem = expect_json(app.register(code, "hw-late").await, StatusCode::GONE).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(reason),
            "{code}: {problem}"
        );
    }
}
