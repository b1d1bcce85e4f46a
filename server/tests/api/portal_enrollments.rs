use app::ui::pages::enrollment_detail::PairingCard;
use app::ui::pages::enrollments::CancelEnrollment;
use app::ui::pages::enrollments::CreateEnrollment;
use app::ui::pages::enrollments::EnrollmentsPage;
use app::ui::pages::pairing_sheet::PairingSheet;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::json;

use app::domain::role::Role;

use crate::helpers::{PortalClient, TestApp, expect_json};
use crate::on_both_databases;

on_both_databases!(
    codes_are_created_listed_and_cancelled_from_the_portal,
    store_managers_create_and_see_codes_of_their_locations_only,
    a_sheet_holds_the_codes_created_together,
);

async fn codes_are_created_listed_and_cancelled_from_the_portal(app: &TestApp) {
    let anonymous = PortalClient::new(&app.address);
    assert_eq!(
        anonymous.call(CreateEnrollment::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous.call(EnrollmentsPage::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );

    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (status, error) = ops
        .call(
            CreateEnrollment::PATH,
            &[("expiry", "custom"), ("custom_minutes", "soon")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "expires_in");
    let (status, error) = ops
        .call(
            CreateEnrollment::PATH,
            &[("metadata_keys[0]", "a b"), ("metadata_values[0]", "x")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "metadata.a b");

    let (status, _) = ops
        .call(
            CreateEnrollment::PATH,
            &[
                ("expiry", "48h"),
                ("metadata_keys[0]", "store"),
                ("metadata_values[0]", "s1"),
                ("metadata_keys[2]", ""),
                ("metadata_values[2]", ""),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = ops.call(EnrollmentsPage::PATH, &[]).await;
    let listed = &page["page"]["content"][0];
    assert_eq!(listed["metadata"], json!({"store": "s1"}));
    assert_eq!(listed["created_by"], "ops@shop.example");
    let id = listed["enrollment_id"].as_str().unwrap();
    let (_, card) = ops.call(PairingCard::PATH, &[("id", id)]).await;
    assert!(card["qr_svg"].as_str().unwrap().starts_with("<svg"));
    assert_eq!(card["seconds_left"], 48 * 3600);

    let (status, _) = ops.call(CancelEnrollment::PATH, &[("id", id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, page) = ops.call(EnrollmentsPage::PATH, &[]).await;
    assert_eq!(page["page"]["total_elements"], 0);
    let (_, history) = ops
        .call(EnrollmentsPage::PATH, &[("view", "history")])
        .await;
    assert_eq!(history["page"]["content"][0]["status"], "CANCELLED");
    // The API sees the same enrollment, cancelled.
    let seen = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(seen["status"], "CANCELLED");
}

async fn store_managers_create_and_see_codes_of_their_locations_only(app: &TestApp) {
    let main = app.merchant.location_id.clone();
    let kiosk = app.create_location("Kiosk").await;
    let hq_code = app.create_enrollment(json!({"location_id": main})).await;
    let manager = app
        .signed_in(
            "kiosk@shop.example",
            Role::StoreManager,
            std::slice::from_ref(&kiosk),
        )
        .await;

    let (status, error) = manager
        .call(CreateEnrollment::PATH, &[("location_id", &main)])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "location_id");
    // With one location of their own, that one is taken.
    let (status, _) = manager.call(CreateEnrollment::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);

    let (_, page) = manager.call(EnrollmentsPage::PATH, &[]).await;
    let content = page["page"]["content"].as_array().unwrap();
    assert_eq!(content.len(), 1);
    assert_eq!(content[0]["location_id"], kiosk.as_str());
    assert_eq!(page["locations"].as_array().unwrap().len(), 1);

    let hq_id = hq_code["enrollment_id"].as_str().unwrap();
    let (status, _) = manager.call(PairingCard::PATH, &[("id", hq_id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = manager.call(CancelEnrollment::PATH, &[("id", hq_id)]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let still = expect_json(
        app.get(&format!("/ipp/v1/enrollments/{hq_id}")).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["status"], "PENDING");
}

async fn a_sheet_holds_the_codes_created_together(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    for count in ["0", "51"] {
        let (status, error) = ops.call(CreateEnrollment::PATH, &[("count", count)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["Invalid"][0]["field"], "count");
    }
    let response = ops
        .client
        .post(format!("{}{}", app.address, CreateEnrollment::PATH))
        .form(&[
            ("count", "12"),
            ("metadata_keys[0]", "batch"),
            ("metadata_values[0]", "opening"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let target = response.headers()["location"].to_str().unwrap().to_owned();
    let batch = target
        .strip_prefix("/enrollments/sheet/")
        .expect("sheet url");
    let (_, cards) = ops.call(PairingSheet::PATH, &[("batch", batch)]).await;
    let cards = cards.as_array().unwrap();
    assert_eq!(cards.len(), 12);
    let codes: std::collections::HashSet<&str> = cards
        .iter()
        .map(|c| c["enrollment"]["enrollment_code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 12);
    assert!(
        cards
            .iter()
            .all(|c| c["enrollment"]["metadata"] == json!({"batch": "opening"}))
    );
    let list = expect_json(
        app.get("/ipp/v1/enrollments?metadata=batch:opening").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["total_elements"], 12);
}
