use app::ui::pages::audit_log::AuditPage;
use app::ui::pages::device_detail::DeregisterDevice;
use app::ui::pages::device_detail::DeviceDetail;
use app::ui::pages::device_detail::UpdateDevice;
use app::ui::pages::locations::CreateLocation;
use app::ui::pages::locations::LocationsPage;
use app::ui::pages::locations::RenameLocation;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};

use app::domain::role::Role;
use app::ui::pages::devices::{DeregisterDevices, DevicesPage, RenameDevice};

use crate::helpers::{PortalClient, TestApp, expect_json};
use crate::on_both_databases;

on_both_databases!(
    the_fleet_is_filtered_sorted_and_paged_by_cursor,
    store_managers_see_and_change_only_their_devices,
    devices_are_renamed_edited_and_deregistered_from_the_portal,
    the_csv_export_holds_the_filtered_view,
    locations_are_listed_with_device_counts_created_and_renamed,
    the_audit_log_is_for_admins_and_ops,
);

fn names(page: &Value) -> Vec<String> {
    page["devices"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect()
}

async fn register(app: &TestApp, name: &str, metadata: Value, location: Option<&str>) -> String {
    let mut body = json!({"metadata": metadata});
    if let Some(location) = location {
        body["location_id"] = json!(location);
    }
    let enrollment = app.create_enrollment(body).await;
    let response = app
        .client
        .post(app.url("/ipp/v1/devices/register"))
        .json(&json!({"enrollment_code": enrollment["enrollment_code"], "hardware_id": format!("hw-{name}"), "platform": "ANDROID", "name": name}))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::CREATED).await["device"]["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn the_fleet_is_filtered_sorted_and_paged_by_cursor(app: &TestApp) {
    for (index, name) in ["Charlie", "Alpha", "Bravo"].into_iter().enumerate() {
        register(
            app,
            name,
            json!({"store": if index == 1 { "s2" } else { "s1" }}),
            None,
        )
        .await;
        app.clock.advance_seconds(1);
    }
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (_, page) = ops.call(DevicesPage::PATH, &[]).await;
    assert_eq!(
        names(&page),
        vec!["Bravo", "Alpha", "Charlie"],
        "newest first"
    );
    assert_eq!(page["total"], 3);
    let (_, by_name) = ops
        .call(DevicesPage::PATH, &[("filters[sort]", "name")])
        .await;
    assert_eq!(names(&by_name), vec!["Alpha", "Bravo", "Charlie"]);
    let (_, filtered) = ops
        .call(DevicesPage::PATH, &[("filters[metadata]", "store:s1")])
        .await;
    assert_eq!(names(&filtered), vec!["Bravo", "Charlie"]);
    assert_eq!(filtered["total"], 2);
    let (status, error) = ops
        .call(DevicesPage::PATH, &[("filters[metadata]", "nocolon")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "metadata");

    // 60 more devices: pages of 50, the second one reached by its cursor.
    for index in 0..60 {
        register(app, &format!("Bulk {index:02}"), json!({}), None).await;
    }
    let (_, first) = ops
        .call(DevicesPage::PATH, &[("filters[sort]", "name")])
        .await;
    assert_eq!(first["devices"].as_array().unwrap().len(), 50);
    let cursor = first["next"].as_str().unwrap().to_owned();
    let (_, second) = ops
        .call(
            DevicesPage::PATH,
            &[("filters[sort]", "name"), ("filters[after]", &cursor)],
        )
        .await;
    let second_names = names(&second);
    assert_eq!(second_names.len(), 13);
    assert_eq!(second_names.last().unwrap(), "Charlie");
    assert_eq!(second["next"], Value::Null);
    let mut all = names(&first);
    all.extend(second_names);
    let mut sorted = all.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(all, sorted, "no device twice, none skipped");
}

async fn store_managers_see_and_change_only_their_devices(app: &TestApp) {
    let kiosk = app.create_location("Kiosk").await;
    let main_device = register(app, "HQ till", json!({}), Some(&app.merchant.location_id)).await;
    let kiosk_device = register(app, "Kiosk till", json!({}), Some(&kiosk)).await;
    let manager = app
        .signed_in(
            "kiosk@shop.example",
            Role::StoreManager,
            std::slice::from_ref(&kiosk),
        )
        .await;

    let (_, page) = manager.call(DevicesPage::PATH, &[]).await;
    assert_eq!(names(&page), vec!["Kiosk till"]);
    let (status, _) = manager
        .call(DeviceDetail::PATH, &[("id", &main_device)])
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = manager
        .call(
            RenameDevice::PATH,
            &[("id", &main_device), ("name", "mine now")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, summary) = manager
        .call(
            DeregisterDevices::PATH,
            &[("ids[0]", &main_device), ("ids[1]", &kiosk_device)],
        )
        .await;
    assert_eq!(
        summary,
        "Deregistered 1 device. 1 was already gone or not yours."
    );
    let hq = expect_json(
        app.get(&format!("/ipp/v1/devices/{main_device}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(hq["name"], "HQ till");
    expect_json(
        app.get(&format!("/ipp/v1/devices/{kiosk_device}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    // Nor may they move a device of theirs to a store that is not theirs.
    let other = register(app, "Kiosk till 2", json!({}), Some(&kiosk)).await;
    let (status, error) = manager
        .call(
            UpdateDevice::PATH,
            &[
                ("id", &other),
                ("name", "x"),
                ("location_id", &app.merchant.location_id),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "location_id");
    assert_eq!(
        manager.call(LocationsPage::PATH, &[]).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        manager.call(AuditPage::PATH, &[]).await.0,
        StatusCode::FORBIDDEN
    );
}

async fn devices_are_renamed_edited_and_deregistered_from_the_portal(app: &TestApp) {
    let id = register(app, "Till 1", json!({"store": "s1"}), None).await;
    let kiosk = app.create_location("Kiosk").await;
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;

    let (status, error) = ops
        .call(RenameDevice::PATH, &[("id", &id), ("name", " ")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "name");
    let (status, _) = ops
        .call(RenameDevice::PATH, &[("id", &id), ("name", "Front till")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen = expect_json(
        app.get(&format!("/ipp/v1/devices/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["name"], "Front till");
    assert_eq!(
        seen["metadata"],
        json!({"store": "s1"}),
        "a rename keeps the metadata"
    );

    let (status, _) = ops
        .call(
            UpdateDevice::PATH,
            &[
                ("id", &id),
                ("name", "Kiosk till"),
                ("location_id", &kiosk),
                ("metadata_keys[0]", "store"),
                ("metadata_values[0]", "s9"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let seen = expect_json(
        app.get(&format!("/ipp/v1/devices/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["location_id"], kiosk.as_str());
    assert_eq!(seen["metadata"], json!({"store": "s9"}));

    let (_, detail) = ops.call(DeviceDetail::PATH, &[("id", &id)]).await;
    assert_eq!(detail["enrollment"]["created_by"], "tests");
    let actions: Vec<&str> = detail["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        vec!["device.updated", "device.updated", "device.registered"]
    );

    let (status, _) = ops.call(DeregisterDevice::PATH, &[("id", &id)]).await;
    assert_eq!(status, StatusCode::OK);
    expect_json(
        app.get(&format!("/ipp/v1/devices/{id}")).await,
        StatusCode::NOT_FOUND,
    )
    .await;
    let (status, error) = ops.call(DeregisterDevices::PATH, &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "ids");
}

async fn the_csv_export_holds_the_filtered_view(app: &TestApp) {
    register(app, "Till, the first", json!({"store": "s1"}), None).await;
    register(app, "=cmd|' /C calc'!A0", json!({"store": "s1"}), None).await;
    register(app, "Other", json!({"store": "s2"}), None).await;
    let anonymous = PortalClient::new(&app.address);
    assert_eq!(
        anonymous.page("/devices.csv").await.0,
        StatusCode::UNAUTHORIZED
    );

    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let response = ops
        .client
        .get(format!("{}/devices.csv?metadata=store%3As1", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 3, "{csv}");
    assert!(lines[0].starts_with("id,name,platform,location_id,location,"));
    assert!(csv.contains("\"Till, the first\""));
    assert!(
        csv.contains(",'=cmd|' /C calc'!A0,"),
        "formulas are defused: {csv}"
    );
    assert!(csv.contains(",Main Street,"));
    assert!(csv.contains("store=s1"));
    assert!(!csv.contains("Other"));
}

async fn locations_are_listed_with_device_counts_created_and_renamed(app: &TestApp) {
    register(app, "Till", json!({}), None).await;
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (status, error) = ops.call(CreateLocation::PATH, &[("name", "")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "name");
    let (status, _) = ops
        .call(
            CreateLocation::PATH,
            &[("name", "Harbour"), ("city", "Gothenburg")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, rows) = ops.call(LocationsPage::PATH, &[]).await;
    let rows = rows.as_array().unwrap();
    assert_eq!(rows.len(), 2);
    let harbour = rows
        .iter()
        .find(|r| r["location"]["name"] == "Harbour")
        .unwrap();
    assert_eq!(harbour["devices"], 0);
    let main = rows
        .iter()
        .find(|r| r["location"]["name"] == "Main Street")
        .unwrap();
    assert_eq!(main["devices"], 1);

    let id = harbour["location"]["id"].as_str().unwrap();
    let (status, _) = ops
        .call(
            RenameLocation::PATH,
            &[("id", id), ("name", "Harbour Kiosk"), ("city", "")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let api = expect_json(app.get("/ipp/v1/locations").await, StatusCode::OK).await;
    let renamed = api["content"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["id"] == id)
        .unwrap()
        .clone();
    assert_eq!(renamed["name"], "Harbour Kiosk");
    assert_eq!(renamed["city"], Value::Null);
    let other = app.other_merchant().await;
    let (status, _) = ops
        .call(
            RenameLocation::PATH,
            &[("id", &other.location_id), ("name", "taken")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn the_audit_log_is_for_admins_and_ops(app: &TestApp) {
    let id = register(app, "Till", json!({}), None).await;
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    ops.call(RenameDevice::PATH, &[("id", &id), ("name", "Renamed")])
        .await;
    let (status, page) = ops
        .call(AuditPage::PATH, &[("action", "device.updated")])
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total_elements"], 1);
    assert_eq!(page["content"][0]["actor"]["label"], "ops@shop.example");
    assert_eq!(page["content"][0]["actor"]["kind"], "user");
    let (_, by_target) = ops.call(AuditPage::PATH, &[("target", &id)]).await;
    assert_eq!(by_target["total_elements"], 2);
    let ops_id = app.user_id("ops@shop.example").await;
    let (_, by_actor) = ops.call(AuditPage::PATH, &[("actor", &ops_id)]).await;
    assert_eq!(by_actor["total_elements"], 1);
}
