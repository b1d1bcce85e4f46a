//! The portal's overview (codes about to expire, devices registered today and gone quiet,
//! the latest activity), as each role may see it, and the time zone times are read in.

use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};

use app::domain::role::Role;
use app::ui::pages::account::SetTimeZone;
use app::ui::pages::enrollments::CreateEnrollment;
use app::ui::pages::overview::Overview;
use app::ui::session::{CurrentUser, Login};

use crate::helpers::{PASSWORD, PortalClient, TestApp, expect_json};
use crate::on_both_databases;

on_both_databases!(
    the_overview_shows_what_needs_attention,
    store_managers_see_their_locations_and_their_own_activity,
    times_are_read_in_the_zone_chosen_or_sent_at_sign_in,
    today_is_the_viewers_day,
);

async fn register(app: &TestApp, name: &str, location: &str) -> String {
    let enrollment = app
        .create_enrollment(json!({"location_id": location}))
        .await;
    let response = app
        .client
        .post(app.url("/ipp/v1/devices/register"))
        .json(&json!({
            "enrollment_code": enrollment["enrollment_code"],
            "hardware_id": format!("hw-{name}"),
            "platform": "IOS",
            "name": name,
        }))
        .send()
        .await
        .expect("send");
    expect_json(response, StatusCode::CREATED).await["device"]["id"]
        .as_str()
        .expect("device id")
        .to_owned()
}

fn names(list: &Value) -> Vec<&str> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|device| device["name"].as_str().expect("a name"))
        .collect()
}

async fn overview_of(portal: &PortalClient) -> Value {
    let (status, data) = portal.call(Overview::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK, "{data}");
    data
}

async fn the_overview_shows_what_needs_attention(app: &TestApp) {
    let main = app.merchant.location_id.clone();
    register(app, "Old till", &main).await;
    app.clock.advance_seconds(8 * 24 * 3600);
    register(app, "New till", &main).await;
    let soon = app
        .create_enrollment(json!({"location_id": main, "expires_in": 1800}))
        .await;
    app.create_enrollment(json!({"location_id": main, "expires_in": 7200}))
        .await;

    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let overview = overview_of(&admin).await;
    let data = &overview;
    assert_eq!(data["merchant_name"], "Test Merchant");
    assert_eq!(data["may_pair"], true);
    assert_eq!(data["may_audit"], true);
    assert_eq!(overview["live_codes"], 2);
    assert_eq!(overview["devices"], 2);
    assert_eq!(overview["locations"], 1);
    // Only the code expiring within the hour, with its countdown.
    assert_eq!(overview["expiring_soon_count"], 1);
    let expiring = overview["expiring_soon"].as_array().expect("a list");
    assert_eq!(expiring.len(), 1);
    assert_eq!(expiring[0]["enrollment_id"], soon["enrollment_id"]);
    assert_eq!(expiring[0]["expires_at"], soon["expires_at"]);
    assert_eq!(overview["registered_today_count"], 1);
    assert_eq!(names(&overview["registered_today"]), ["New till"]);
    // Registered 8 days ago and not heard from since.
    assert_eq!(overview["quiet_count"], 1);
    assert_eq!(names(&overview["quiet"]), ["Old till"]);
    // The merchant's latest changes, newest first.
    assert_eq!(overview["own_activity"], false);
    let actions: Vec<&str> = overview["activity"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|event| event["action"].as_str().expect("an action"))
        .collect();
    assert_eq!(actions.len(), 10, "{actions:?}");
    assert_eq!(actions[0], "user.created");
    assert_eq!(actions[1], "enrollment.created");
    assert!(actions.contains(&"device.registered"));

    // Past the hour the soon code is gone and the other not yet due (a new session:
    // the first one has been idle too long by then).
    app.clock.advance_seconds(1801);
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let overview = overview_of(&ops).await;
    assert_eq!(overview["expiring_soon_count"], 0);
    assert_eq!(overview["live_codes"], 1);

    // The page itself renders it all.
    let html = ops.html("/").await;
    for text in [
        "Expiring within the hour",
        "Registered today",
        "Not seen for 7 days",
        "Recent activity",
        "New pairing code",
        "Print a pairing sheet",
        "live pairing code<",
        "New till",
        "Old till",
    ] {
        assert!(html.contains(text), "the overview shows {text:?}");
    }
}

async fn store_managers_see_their_locations_and_their_own_activity(app: &TestApp) {
    let main = app.merchant.location_id.clone();
    let kiosk = app.create_location("Kiosk").await;
    register(app, "Main till", &main).await;
    register(app, "Kiosk till", &kiosk).await;
    app.create_enrollment(json!({"location_id": main, "expires_in": 600}))
        .await;
    let kiosk_code = app
        .create_enrollment(json!({"location_id": kiosk, "expires_in": 900}))
        .await;

    let manager = app
        .signed_in(
            "manager@shop.example",
            Role::StoreManager,
            std::slice::from_ref(&kiosk),
        )
        .await;
    let (status, _) = manager
        .call(
            CreateEnrollment::PATH,
            &[("expiry", "custom"), ("custom_minutes", "45")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);

    let overview = overview_of(&manager).await;
    let data = &overview;
    assert_eq!(data["may_pair"], true);
    assert_eq!(data["may_audit"], false);
    assert_eq!(overview["devices"], 1);
    assert_eq!(overview["locations"], 1);
    assert_eq!(names(&overview["registered_today"]), ["Kiosk till"]);
    // Their location's codes only, soonest first.
    let expiring = overview["expiring_soon"].as_array().expect("a list");
    assert_eq!(expiring.len(), 2);
    assert_eq!(expiring[0]["enrollment_id"], kiosk_code["enrollment_id"]);
    assert!(expiring.iter().all(|code| code["location_id"] == kiosk));
    // They may not read the audit log: the overview shows what they did themselves.
    assert_eq!(overview["own_activity"], true);
    let activity = overview["activity"].as_array().expect("a list");
    assert_eq!(activity.len(), 1);
    assert_eq!(activity[0]["action"], "enrollment.created");
    assert_eq!(activity[0]["actor"]["label"], "manager@shop.example");

    let html = manager.html("/").await;
    assert!(html.contains("Your recent activity"));
    assert!(!html.contains("Main till"));

    // Signed out: no overview.
    let anonymous = PortalClient::new(&app.address);
    let (status, _) = anonymous.call(Overview::PATH, &[]).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// Signs in as a new user of `role`, with `time_zone` as the browser would send it.
async fn sign_in_from(app: &TestApp, email: &str, time_zone: &str) -> PortalClient {
    app.create_user(&app.merchant.id, email, Role::Ops, &[])
        .await;
    let portal = PortalClient::new(&app.address);
    let (status, body) = portal
        .call(
            Login::PATH,
            &[
                ("email", email),
                ("password", PASSWORD),
                ("time_zone", time_zone),
            ],
        )
        .await;
    assert!(status.is_success() || status.is_redirection(), "{body}");
    portal
}

async fn times_are_read_in_the_zone_chosen_or_sent_at_sign_in(app: &TestApp) {
    let device = register(app, "Till 1", &app.merchant.location_id.clone()).await;
    // The test clock starts at 2026-09-21 14:13:20 UTC.
    let ops = sign_in_from(app, "ops@shop.example", "Europe/Stockholm").await;
    let (_, me) = ops.call(CurrentUser::PATH, &[]).await;
    assert_eq!(me["browser_time_zone"], "Europe/Stockholm");
    assert_eq!(me["time_zone"], Value::Null);
    let html = ops.html(&format!("/devices/{device}")).await;
    assert!(html.contains("21 Sep 2026, 16:13 CEST"), "Stockholm time");
    // The exact time stays in the markup, in UTC.
    assert!(html.contains("datetime=\"2026-09-21T14:13:20Z\""));

    // A chosen zone wins over the browser's, spelled as the database spells it.
    let (status, _) = ops
        .call(SetTimeZone::PATH, &[("time_zone", "asia/tokyo")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = ops.call(CurrentUser::PATH, &[]).await;
    assert_eq!(me["time_zone"], "Asia/Tokyo");
    let html = ops.html(&format!("/devices/{device}")).await;
    assert!(html.contains("21 Sep 2026, 23:13 JST"), "Tokyo time");

    // Unknown zones are refused, naming the field; nothing changes.
    for bad in ["Mars/Olympus_Mons", &"Europe/".repeat(20)] {
        let (status, error) = ops.call(SetTimeZone::PATH, &[("time_zone", bad)]).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(error["Invalid"][0]["field"], "time_zone");
    }
    let (_, me) = ops.call(CurrentUser::PATH, &[]).await;
    assert_eq!(me["time_zone"], "Asia/Tokyo");

    // Empty: back to the browser's zone.
    let (status, _) = ops.call(SetTimeZone::PATH, &[("time_zone", "")]).await;
    assert_eq!(status, StatusCode::OK);
    let (_, me) = ops.call(CurrentUser::PATH, &[]).await;
    assert_eq!(me["time_zone"], Value::Null);

    // A zone the browser made up is ignored: UTC.
    let other = sign_in_from(app, "other@shop.example", "Nowhere/Land").await;
    let (_, me) = other.call(CurrentUser::PATH, &[]).await;
    assert_eq!(me["browser_time_zone"], Value::Null);
    let html = other.html(&format!("/devices/{device}")).await;
    assert!(html.contains("21 Sep 2026, 14:13 UTC"));

    // Signed out, the setting cannot be changed.
    let anonymous = PortalClient::new(&app.address);
    let (status, _) = anonymous
        .call(SetTimeZone::PATH, &[("time_zone", "UTC")])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

async fn today_is_the_viewers_day(app: &TestApp) {
    // 14:13 UTC is 23:13 in Tokyo; an hour later it is the next day there.
    register(app, "Till 1", &app.merchant.location_id.clone()).await;
    app.clock.advance_seconds(3600);
    let in_utc = sign_in_from(app, "utc@shop.example", "UTC").await;
    let in_tokyo = sign_in_from(app, "tokyo@shop.example", "Asia/Tokyo").await;
    assert_eq!(overview_of(&in_utc).await["registered_today_count"], 1);
    assert_eq!(overview_of(&in_tokyo).await["registered_today_count"], 0);
}
