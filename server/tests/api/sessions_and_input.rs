//! Sessions and input, black-box over HTTP: a caller who is not signed in gets nothing
//! stored, whatever they post; `next` never leads off the portal; a user on a one-time
//! password can do nothing else first; sessions end when configured; input that drives
//! cost is capped; and nothing a caller sends makes the server fail.

use std::time::Duration;

use app::domain::role::Role;
use app::services::{Actor, SessionLifetimes};
use app::ui::pages::account::ChangePassword;
use app::ui::pages::api_keys::CreateApiKey;
use app::ui::pages::device_detail::UpdateDevice;
use app::ui::pages::devices::{DeregisterDevices, DevicesPage, RenameDevice};
use app::ui::pages::enrollments::CreateEnrollment;
use app::ui::pages::locations::CreateLocation;
use app::ui::pages::overview::Overview;
use app::ui::pages::users::CreateUser;
use app::ui::session::{CurrentUser, Login, Logout};
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{
    Backend, PASSWORD, PortalClient, TestApp, expect_invalid_fields, expect_json, postgres_skipped,
    test_settings,
};
use crate::on_both_databases;

on_both_databases!(
    refused_posts_of_anonymous_callers_store_nothing,
    sign_in_leads_only_to_pages_of_the_portal,
    a_one_time_password_user_can_only_change_it,
    a_session_ends_twelve_hours_after_sign_in_however_active,
    an_unused_session_ends_after_thirty_minutes,
    list_parameters_are_bounded,
    bodies_are_capped_and_unreadable_input_is_the_callers_fault,
);

/// How many sessions the database keeps, and their bytes.
async fn sessions(app: &TestApp) -> (i64, i64) {
    sqlx::any::install_default_drivers();
    let mut connection = <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
        .await
        .expect("connect to the test database");
    let (rows, bytes): (i64, i64) = sqlx::query_as(
        "SELECT CAST(COUNT(*) AS BIGINT), CAST(COALESCE(SUM(LENGTH(data)), 0) AS BIGINT) FROM sessions",
    )
    .fetch_one(&mut connection)
    .await
    .expect("count sessions");
    (rows, bytes)
}

/// The size of the whole database: on SQLite its file and write-ahead log, on PostgreSQL
/// what the server reports.
async fn database_bytes(app: &TestApp) -> u64 {
    match app.database_url.strip_prefix("sqlite://") {
        Some(path) => ["", "-wal"]
            .iter()
            .map(|suffix| std::fs::metadata(format!("{path}{suffix}")).map_or(0, |file| file.len()))
            .sum(),
        None => {
            let mut connection =
                <sqlx::AnyConnection as sqlx::Connection>::connect(&app.database_url)
                    .await
                    .expect("connect to the test database");
            let (bytes,): (i64,) =
                sqlx::query_as("SELECT CAST(pg_database_size(current_database()) AS BIGINT)")
                    .fetch_one(&mut connection)
                    .await
                    .expect("database size");
            bytes as u64
        }
    }
}

/// A plain HTML form post (JavaScript off) with no cookie, as from the page `from`;
/// returns the status and where it redirects to.
async fn anonymous_form_post(
    app: &TestApp,
    path: &str,
    from: &str,
    fields: &[(&str, &str)],
) -> (StatusCode, String) {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let response = client
        .post(app.url(path))
        .header("accept", "text/html")
        .header("referer", app.url(from))
        .form(fields)
        .send()
        .await
        .expect("send");
    assert!(
        response.headers().get("set-cookie").is_none(),
        "no session for an anonymous {path}"
    );
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), location)
}

/// A server function's path, the page its form is on, and the fields sent.
type FormPost<'a> = (&'static str, &'static str, Vec<(&'a str, &'a str)>);

/// 21 refused form posts of 1 MB each, and 21 more just under the portal's body cap, from
/// callers who are not signed in: the database grows by less than 100 KB, and no session is
/// made. (Before, each one was kept, typed input and all, in a session of its own.)
async fn refused_posts_of_anonymous_callers_store_nothing(app: &TestApp) {
    let device = app.enroll_device(json!({}), "hw-1").await;
    let device_id = device["device"]["id"].as_str().unwrap().to_owned();
    let before = (sessions(app).await, database_bytes(app).await);

    for size in [1024 * 1024, 200 * 1024] {
        let big = "x".repeat(size);
        let big_email = format!("{}@shop.example", "a".repeat(size));
        let metadata_rows: Vec<(String, String)> = (0..size / 600)
            .flat_map(|row| {
                [
                    (format!("metadata_keys[{row}]"), format!("k{row}")),
                    (format!("metadata_values[{row}]"), "v".repeat(500)),
                ]
            })
            .collect();
        let metadata_fields: Vec<(&str, &str)> = metadata_rows
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let posts: [FormPost; 7] = [
            (
                Login::PATH,
                "/login",
                vec![("email", &big_email), ("password", "wrong")],
            ),
            (
                Login::PATH,
                "/login",
                vec![("email", "ops@shop.example"), ("password", &big)],
            ),
            (CreateLocation::PATH, "/locations", vec![("name", &big)]),
            (CreateApiKey::PATH, "/api-keys", vec![("name", &big)]),
            (
                CreateUser::PATH,
                "/users",
                vec![("email", &big_email), ("role", "ops")],
            ),
            (
                RenameDevice::PATH,
                "/devices",
                vec![("id", &device_id), ("name", &big)],
            ),
            (CreateEnrollment::PATH, "/enrollments", metadata_fields),
        ];
        for (path, from, fields) in posts.iter().cycle().take(20) {
            let (status, location) = anonymous_form_post(app, path, from, fields).await;
            if size > 256 * 1024 {
                assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
            } else {
                assert!(status.is_redirection(), "{path}: {status}");
                assert!(
                    location.len() < 4096,
                    "{path}: the refusal does not echo the input ({} bytes)",
                    location.len()
                );
            }
        }
        // And once more with an update of a device, its metadata rows too.
        let mut fields = vec![
            ("id", device_id.as_str()),
            ("name", "Till"),
            ("location_id", &big),
        ];
        fields.extend(posts[6].2.iter().take(40));
        let (status, _) = anonymous_form_post(app, UpdateDevice::PATH, "/devices", &fields).await;
        assert!(status.is_redirection() || status == StatusCode::PAYLOAD_TOO_LARGE);
    }

    let ((rows, bytes), size) = (sessions(app).await, database_bytes(app).await);
    let ((rows_before, bytes_before), size_before) = before;
    assert_eq!(rows, rows_before, "no session was made");
    assert_eq!(bytes, bytes_before);
    let growth = size.saturating_sub(size_before);
    assert!(
        growth < 100 * 1024,
        "the database grew by {growth} bytes ({size_before} -> {size})"
    );
    eprintln!("database growth under 42 refused anonymous posts: {growth} bytes");
}

/// Signs in for real as a plain form post with `next`; returns status and Location.
async fn sign_in_with_next(app: &TestApp, password: &str, next: &str) -> (StatusCode, String) {
    let portal = PortalClient::new(&app.address);
    let response = portal
        .client
        .post(app.url(Login::PATH))
        .header("accept", "text/html")
        .header("referer", app.url("/login"))
        .form(&[
            ("email", "ops@shop.example"),
            ("password", password),
            ("next", next),
        ])
        .send()
        .await
        .expect("send");
    let location = response
        .headers()
        .get("location")
        .map(|value| value.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (response.status(), location)
}

/// Whether a Location keeps the browser on the portal: a path of it, which no browser
/// reads as another host (after dropping tabs and newlines, with `\` as `/`).
fn stays_on_the_portal(location: &str) -> bool {
    let as_browsers_read_it: String = location
        .chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .map(|c| if c == '\\' { '/' } else { c })
        .collect();
    as_browsers_read_it.starts_with('/')
        && !as_browsers_read_it.starts_with("//")
        && location.bytes().all(|byte| byte.is_ascii_graphic())
}

async fn sign_in_leads_only_to_pages_of_the_portal(app: &TestApp) {
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let outside = [
        "//evil.example",
        "/\\evil.example",
        "/\t/evil.example",
        "/\r\n",
        "/\r\nSet-Cookie: planted=1",
        "https:evil.example",
        "https://evil.example/",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/caf\u{e9}",
    ];
    for next in outside {
        let (status, location) = sign_in_with_next(app, PASSWORD, next).await;
        assert!(status.is_redirection(), "{next:?}: {status}");
        assert_eq!(location, "/", "{next:?} leads to the start page");
    }
    // A refused sign-in goes back to the sign-in form, also on the portal. (A few only:
    // failures are counted, and slowed down after three.)
    for next in ["//evil.example", "/\t/evil.example", "/\r\n"] {
        let (status, location) = sign_in_with_next(app, "wrong password!", next).await;
        assert!(status.is_redirection(), "{next:?}: {status}");
        assert!(
            location.starts_with("/login?next=%2F&"),
            "{next:?}: {location}"
        );
        assert!(stays_on_the_portal(&location), "{next:?}: {location}");
    }
    let (_, location) = sign_in_with_next(app, PASSWORD, "/devices?q=till&platform=IOS").await;
    assert_eq!(location, "/devices?q=till&platform=IOS");

    // The login page passes `next` on as the guard gave it.
    let (_, location) = sign_in_with_next(app, "wrong password!", "/devices?q=a%20b").await;
    assert!(
        location
            .starts_with("/login?next=%2Fdevices%3Fq%3Da%2520b&email=ops%40shop.example&__path=")
    );
}

async fn a_one_time_password_user_can_only_change_it(app: &TestApp) {
    let (_, one_time) = app
        .services
        .create_user_with_one_time_password(
            &Actor::system(&app.merchant.id),
            "new@shop.example",
            Role::Ops,
            vec![],
        )
        .await
        .expect("create user");
    let newcomer = PortalClient::new(&app.address);
    let (status, _) = newcomer.login("new@shop.example", &one_time).await;
    assert!(status.is_success() || status.is_redirection());

    // Who they are, yes: the account page shows it.
    let (status, me) = newcomer.call(CurrentUser::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["must_change_password"], true);
    // Anything else, no: a server function, a page's data, the export.
    let (status, error) = newcomer
        .call(
            CreateEnrollment::PATH,
            &[("location_id", &app.merchant.location_id)],
        )
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        error.to_string().contains("one-time password"),
        "the refusal says why: {error}"
    );
    for endpoint in [Overview::PATH, DevicesPage::PATH] {
        assert_eq!(
            newcomer.call(endpoint, &[]).await.0,
            StatusCode::FORBIDDEN,
            "{endpoint}"
        );
    }
    let export = newcomer
        .client
        .get(app.url("/devices.csv"))
        .send()
        .await
        .unwrap();
    let problem = expect_json(export, StatusCode::FORBIDDEN).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("one-time password")
    );
    let listed = app
        .services
        .list_enrollments(&Actor::system(&app.merchant.id), Default::default())
        .await
        .unwrap();
    assert_eq!(listed.total_elements, 0, "nothing was created");

    // The password change itself, yes; then everything else too.
    let new = "my very own password";
    let (status, _) = newcomer
        .call(
            ChangePassword::PATH,
            &[
                ("current_password", &one_time),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(newcomer.call(Overview::PATH, &[]).await.0, StatusCode::OK);
    let export = newcomer
        .client
        .get(app.url("/devices.csv"))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::OK);

    // Sign-out is always allowed.
    let (_, other_one_time) = app
        .services
        .create_user_with_one_time_password(
            &Actor::system(&app.merchant.id),
            "other@shop.example",
            Role::Ops,
            vec![],
        )
        .await
        .unwrap();
    let other = PortalClient::new(&app.address);
    other.login("other@shop.example", &other_one_time).await;
    assert!(other.call(Logout::PATH, &[]).await.0.is_success());
    assert_eq!(other.call(CurrentUser::PATH, &[]).await.1, Value::Null);
}

async fn a_session_ends_twelve_hours_after_sign_in_however_active(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    // A call every 20 minutes keeps the session from going idle, for 11 h 40 min.
    for _ in 0..35 {
        app.clock.advance_seconds(20 * 60);
        assert_eq!(ops.call(Overview::PATH, &[]).await.0, StatusCode::OK);
    }
    app.clock.advance_seconds(20 * 60 + 1);
    assert_eq!(
        ops.call(Overview::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ops.page("/").await.1.as_deref(), Some("/login?next=%2F"));
}

async fn an_unused_session_ends_after_thirty_minutes(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    for _ in 0..4 {
        app.clock.advance_seconds(29 * 60);
        assert_eq!(ops.call(Overview::PATH, &[]).await.0, StatusCode::OK);
    }
    app.clock.advance_seconds(30 * 60 + 1);
    assert_eq!(
        ops.call(Overview::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
}

/// Lifetimes come from the deployment's settings (`--session-idle-minutes`,
/// `--session-max-hours`): here 10 minutes unused and 1 hour at most.
async fn sessions_end_after_the_configured_lifetimes(backend: Backend) {
    let mut settings = test_settings();
    settings.sessions = SessionLifetimes {
        idle: Duration::from_secs(10 * 60),
        absolute: Duration::from_secs(3600),
    };
    let app = TestApp::spawn_with(backend, settings).await;
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    for _ in 0..6 {
        app.clock.advance_seconds(9 * 60);
        assert_eq!(ops.call(Overview::PATH, &[]).await.0, StatusCode::OK);
    }
    app.clock.advance_seconds(6 * 60 + 1);
    assert_eq!(
        ops.call(Overview::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED,
        "an hour after sign-in"
    );

    let idle = app.signed_in("idle@shop.example", Role::Ops, &[]).await;
    app.clock.advance_seconds(10 * 60 + 1);
    assert_eq!(
        idle.call(Overview::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED,
        "ten minutes unused"
    );
    app.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_the_configured_lifetimes_on_sqlite() {
    sessions_end_after_the_configured_lifetimes(Backend::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_after_the_configured_lifetimes_on_postgres() {
    if postgres_skipped() {
        return;
    }
    sessions_end_after_the_configured_lifetimes(Backend::Postgres).await;
}

async fn list_parameters_are_bounded(app: &TestApp) {
    let long_q = "q".repeat(101);
    let cases = [
        (format!("/ipp/v1/devices?q={long_q}"), "q"),
        (format!("/ipp/v1/devices?q={}", "q".repeat(100)), ""),
        ("/ipp/v1/devices?page_number=100001&page_size=100".into(), "page_number"),
        ("/ipp/v1/devices?page_number=100000&page_size=100".into(), ""),
        ("/ipp/v1/devices?page_number=9223372036854775807".into(), "page_number"),
        (format!("/ipp/v1/devices?location_id={}", "l".repeat(65)), "location_id"),
        (format!("/ipp/v1/devices?metadata=k:{}", "v".repeat(501)), "metadata"),
        (
            "/ipp/v1/enrollments?status=PENDING&status=PENDING&status=CONSUMED&status=EXPIRED&status=CANCELLED"
                .into(),
            "status",
        ),
        (
            "/ipp/v1/enrollments?status=PENDING&status=CONSUMED&status=EXPIRED&status=CANCELLED"
                .into(),
            "",
        ),
        ("/ipp/v1/locations?page_number=1000000000".into(), "page_number"),
        (format!("/ipp/v1/audit-events?action={}", "a".repeat(65)), "action"),
    ];
    for (path, field) in cases {
        let response = app.get(&path).await;
        if field.is_empty() {
            assert_eq!(response.status(), StatusCode::OK, "{path}");
        } else {
            assert_eq!(expect_invalid_fields(response).await, vec![field], "{path}");
        }
    }

    // The portal's lists have the same bounds.
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (status, error) = ops
        .call(DevicesPage::PATH, &[("filters[q]", long_q.as_str())])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["Invalid"][0]["field"], "q");
    let ids: Vec<(String, String)> = (0..101)
        .map(|i| (format!("ids[{i}]"), format!("device-{i}")))
        .collect();
    let fields: Vec<(&str, &str)> = ids.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (status, error) = ops.call(DeregisterDevices::PATH, &fields).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["Invalid"][0]["field"], "ids");
}

/// Field errors of a problem document: at most 20, however many fields are wrong.
async fn bodies_are_capped_and_unreadable_input_is_the_callers_fault(app: &TestApp) {
    let metadata: serde_json::Map<String, Value> = (0..300)
        .map(|i| (format!("bad key {i}"), json!("v")))
        .collect();
    let device = app.enroll_device(json!({}), "hw-1").await;
    let id = device["device"]["id"].as_str().unwrap();
    let response = app
        .request(reqwest::Method::PATCH, &format!("/ipp/v1/devices/{id}"))
        .json(&json!({"metadata": metadata}))
        .send()
        .await
        .unwrap();
    let body = expect_json(response, StatusCode::BAD_REQUEST).await;
    assert!(body["errors"].as_object().unwrap().len() <= 20, "{body}");

    // An API body past 64 KB is refused unread.
    let huge = json!({"metadata": {"k": "v".repeat(70 * 1024)}});
    let response = app.post_json("/ipp/v1/enrollments", &huge).await;
    expect_json(response, StatusCode::PAYLOAD_TOO_LARGE).await;

    // A portal call that cannot be read is a 400, not a server error.
    let anonymous = PortalClient::new(&app.address);
    let (status, _) = anonymous.call(Login::PATH, &[("email", "x")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = anonymous
        .call(CreateEnrollment::PATH, &[("count", "many")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Signed in or not, no form is larger than 256 KB.
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (status, _) = ops
        .call(CreateLocation::PATH, &[("name", &"x".repeat(300 * 1024))])
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}
