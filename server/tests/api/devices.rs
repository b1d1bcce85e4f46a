use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{TestApp, expect_invalid_fields, expect_json};
use crate::on_both_databases;

on_both_databases!(
    devices_filter_by_metadata_platform_name_and_location,
    put_replaces_name_and_metadata,
    patch_merges_and_a_rename_keeps_the_rest,
    updates_refuse_bad_fields,
);

fn names(page: &Value) -> Vec<String> {
    page["content"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn register_named(
    app: &TestApp,
    name: &str,
    platform: &str,
    metadata: Value,
    location: Option<&str>,
) -> Value {
    let mut body = json!({"metadata": metadata});
    if let Some(location) = location {
        body["location_id"] = json!(location);
    }
    let enrollment = app.create_enrollment(body).await;
    let response = app
        .client
        .post(app.url("/ipp/v1/devices/register"))
        .json(&json!({
            "enrollment_code": enrollment["enrollment_code"],
            "hardware_id": format!("hw-{name}"),
            "platform": platform,
            "name": name,
        }))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await["device"].clone()
}

async fn devices_filter_by_metadata_platform_name_and_location(app: &TestApp) {
    let main = app.merchant.location_id.clone();
    let kiosk = app.create_location("Kiosk").await;
    register_named(
        app,
        "Till 1",
        "ANDROID",
        json!({"store": "s1", "floor": "1"}),
        Some(&main),
    )
    .await;
    app.clock.advance_seconds(1);
    register_named(
        app,
        "Till 2",
        "IOS",
        json!({"store": "s1", "floor": "2"}),
        Some(&main),
    )
    .await;
    app.clock.advance_seconds(1);
    register_named(
        app,
        "Kiosk 50%",
        "ANDROID",
        json!({"store": "s2"}),
        Some(&kiosk),
    )
    .await;

    let list = |query: String| async move {
        expect_json(
            app.get(&format!("/ipp/v1/devices{query}")).await,
            StatusCode::OK,
        )
        .await
    };
    assert_eq!(
        names(&list(String::new()).await),
        vec!["Kiosk 50%", "Till 2", "Till 1"]
    );
    assert_eq!(
        names(&list("?metadata=store:s1".into()).await),
        vec!["Till 2", "Till 1"]
    );
    assert_eq!(
        names(&list("?metadata=store:s1&metadata=floor:1".into()).await),
        vec!["Till 1"]
    );
    assert_eq!(
        names(&list("?metadata=store:s3".into()).await),
        Vec::<String>::new()
    );
    // Pages of a metadata filter keep registration order and count every match.
    for (page_number, expected) in [(0, "Till 2"), (1, "Till 1")] {
        let page = list(format!(
            "?metadata=store:s1&page_size=1&page_number={page_number}"
        ))
        .await;
        assert_eq!(names(&page), vec![expected]);
        assert_eq!(page["total_elements"], 2);
    }
    let combined = list("?metadata=store:s1&platform=IOS".into()).await;
    assert_eq!(names(&combined), vec!["Till 2"]);
    assert_eq!(combined["total_elements"], 1);
    assert_eq!(names(&list("?platform=ios".into()).await), vec!["Till 2"]);
    assert_eq!(
        names(&list("?q=till".into()).await),
        vec!["Till 2", "Till 1"]
    );
    assert_eq!(names(&list("?q=50%25".into()).await), vec!["Kiosk 50%"]);
    assert_eq!(
        names(&list("?q=_".into()).await),
        Vec::<String>::new(),
        "wildcards are literal"
    );
    assert_eq!(
        names(&list(format!("?location_id={kiosk}")).await),
        vec!["Kiosk 50%"]
    );
    let paged = list("?page_size=2&page_number=1".into()).await;
    assert_eq!(names(&paged), vec!["Till 1"]);
    assert_eq!(paged["total_elements"], 3);
    assert_eq!(paged["total_pages"], 2);

    for (query, field) in [
        ("?platform=PALM", "platform"),
        ("?metadata=:x", "metadata"),
        ("?page_size=500", "page_size"),
    ] {
        assert_eq!(
            expect_invalid_fields(app.get(&format!("/ipp/v1/devices{query}")).await).await,
            vec![field]
        );
    }
}

async fn put_replaces_name_and_metadata(app: &TestApp) {
    let device = register_named(
        app,
        "Till 1",
        "ANDROID",
        json!({"store": "s1", "floor": "1"}),
        None,
    )
    .await;
    let path = format!("/ipp/v1/devices/{}", device["id"].as_str().unwrap());
    app.clock.advance_seconds(5);
    let response = app
        .request(Method::PUT, &path)
        .json(&json!({"name": "Front till", "metadata": {"store": "s9"}}))
        .send()
        .await
        .unwrap();
    let updated = expect_json(response, StatusCode::OK).await;
    assert_eq!(updated["name"], "Front till");
    assert_eq!(updated["metadata"], json!({"store": "s9"}));
    assert_eq!(updated["location_id"], device["location_id"]);
    assert_eq!(updated["updated_at"], "2026-09-21T14:13:25Z");
    assert_eq!(updated["created_at"], device["created_at"]);

    // Metadata filters see the new metadata, not the old.
    let old = expect_json(
        app.get("/ipp/v1/devices?metadata=store:s1").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(old["total_elements"], 0);
    let new = expect_json(
        app.get("/ipp/v1/devices?metadata=store:s9").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(new["total_elements"], 1);

    let kiosk = app.create_location("Kiosk").await;
    let response = app
        .request(Method::PUT, &path)
        .json(&json!({"name": "Kiosk till", "location_id": kiosk}))
        .send()
        .await
        .unwrap();
    let moved = expect_json(response, StatusCode::OK).await;
    assert_eq!(moved["location_id"], kiosk.as_str());
    assert_eq!(
        moved["metadata"],
        json!({}),
        "PUT replaces: no metadata given, none kept"
    );

    let events = expect_json(
        app.get(&format!(
            "/ipp/v1/audit-events?action=device.updated&target_id={}",
            device["id"].as_str().unwrap()
        ))
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["total_elements"], 2);
    assert_eq!(
        events["content"][1]["details"]["name"],
        json!({"from": "Till 1", "to": "Front till"})
    );
}

async fn patch_merges_and_a_rename_keeps_the_rest(app: &TestApp) {
    let kiosk = app.create_location("Kiosk").await;
    let device = register_named(
        app,
        "Till 1",
        "IOS",
        json!({"store": "s1", "floor": "1"}),
        Some(&kiosk),
    )
    .await;
    let path = format!("/ipp/v1/devices/{}", device["id"].as_str().unwrap());
    let patch = |body: Value| {
        let path = path.clone();
        async move {
            app.request(Method::PATCH, &path)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };

    let renamed = expect_json(patch(json!({"name": "  Till A "})).await, StatusCode::OK).await;
    assert_eq!(renamed["name"], "Till A");
    assert_eq!(renamed["location_id"], kiosk.as_str());
    assert_eq!(renamed["metadata"], json!({"store": "s1", "floor": "1"}));

    let merged = expect_json(
        patch(json!({"metadata": {"floor": null, "till": "A"}})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(merged["metadata"], json!({"store": "s1", "till": "A"}));
    assert_eq!(merged["name"], "Till A");

    let cleared = expect_json(patch(json!({"metadata": null})).await, StatusCode::OK).await;
    assert_eq!(cleared["metadata"], json!({}));
}

async fn updates_refuse_bad_fields(app: &TestApp) {
    let device = register_named(app, "Till 1", "IOS", json!({}), None).await;
    let path = format!("/ipp/v1/devices/{}", device["id"].as_str().unwrap());
    let send = |method: Method, body: Value| {
        let path = path.clone();
        async move { app.request(method, &path).json(&body).send().await.unwrap() }
    };
    let cases = [
        (Method::PUT, json!({"metadata": {}}), vec!["name"]),
        (Method::PUT, json!({"name": ""}), vec!["name"]),
        (Method::PUT, json!({"name": "x".repeat(101)}), vec!["name"]),
        (
            Method::PUT,
            json!({"name": "ok", "location_id": "nowhere"}),
            vec!["location_id"],
        ),
        (Method::PATCH, json!({"name": 5}), vec!["name"]),
        (
            Method::PATCH,
            json!({"metadata": {"k": 1}}),
            vec!["metadata.k"],
        ),
        (
            Method::PATCH,
            json!({"metadata": {"bad key": "v"}}),
            vec!["metadata.bad key"],
        ),
        (Method::PATCH, json!([1, 2]), vec!["body"]),
    ];
    for (method, body, fields) in cases {
        let response = send(method.clone(), body.clone()).await;
        assert_eq!(
            expect_invalid_fields(response).await,
            fields,
            "{method} {body}"
        );
    }
    let unchanged = expect_json(app.get(&path).await, StatusCode::OK).await;
    assert_eq!(unchanged["name"], "Till 1");
}
