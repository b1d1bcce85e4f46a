//! `ipp-portal serve` configured as container platforms do it: by environment variables
//! alone (`IPP_PORTAL_<FLAG>`), the old names still read, a wrong value refused.

use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};

use app::domain::role::Role;

use crate::client_address::guess_at;
use crate::helpers::{PASSWORD, TestApp};
use crate::on_both_databases;
use crate::server_process::ServerProcess;

on_both_databases!(
    serve_is_configured_by_environment_alone,
    the_old_variable_names_are_still_read,
);

/// `serve` with no argument: address, database, public URL, trusted proxies, limits,
/// metrics address and log format all come from `IPP_PORTAL_...` variables, and each
/// shows in what the server does.
async fn serve_is_configured_by_environment_alone(app: &TestApp) {
    let server = ServerProcess::launch(
        &["serve"],
        &[
            ("IPP_PORTAL_ADDR", "127.0.0.1:0"),
            ("IPP_PORTAL_DATABASE_URL", &app.database_url),
            ("IPP_PORTAL_PUBLIC_URL", "https://portal.example.test"),
            ("IPP_PORTAL_TRUSTED_PROXIES", "127.0.0.0/8,::1"),
            ("IPP_PORTAL_REGISTRATION_FAILURES_PER_ADDRESS", "1"),
            ("IPP_PORTAL_METRICS_ADDR", "127.0.0.1:0"),
            ("IPP_PORTAL_LOG_FORMAT", "json"),
        ],
    )
    .await;
    let base = server.address.clone();

    // The database: the test merchant's key works, and the QR link has the public URL.
    let enrollment = server
        .create_enrollment(&app.merchant.api_key, json!({}))
        .await;
    let link = enrollment["qr_payload"].as_str().unwrap();
    assert!(
        link.starts_with("https://portal.example.test/pair#code="),
        "{link}"
    );
    // An https public URL makes the session cookie Secure.
    app.create_user(&app.merchant.id, "env@shop.example", Role::Admin, &[])
        .await;
    let login = reqwest::Client::new()
        .post(format!(
            "{base}{}",
            <app::ui::session::Login as leptos::server_fn::ServerFn>::PATH
        ))
        .form(&[("email", "env@shop.example"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("Secure"), "{cookie}");
    // The proxy is trusted, so the client it names is counted, against a limit of one.
    assert_eq!(guess_at(&base, "203.0.113.7").await, StatusCode::NOT_FOUND);
    assert_eq!(
        guess_at(&base, "203.0.113.7").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(guess_at(&base, "203.0.113.8").await, StatusCode::NOT_FOUND);
    // Metrics on their own address, and not on the main one.
    let metrics = server
        .announced_address("serving metrics at ")
        .expect("the metrics address in the log");
    let scrape = reqwest::get(&metrics).await.unwrap();
    assert_eq!(scrape.status(), StatusCode::OK);
    assert!(
        scrape
            .text()
            .await
            .unwrap()
            .contains("ipp_registrations_total")
    );
    let main = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap();
    // Only the metrics address serves it: here it is an unknown portal page.
    assert_eq!(main.status(), StatusCode::SEE_OTHER);

    // JSON logs.
    let (status, log) = server.stop_and_read_log().await;
    assert!(status.success(), "exit {status}");
    for line in &log {
        let parsed: Value = serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"));
        assert!(parsed["level"].is_string(), "{line}");
    }
}

/// The variables' names before `IPP_PORTAL_` (`DATABASE_URL`, `IPP_ADDR`, ...) still
/// work; where both are set, the new one wins.
async fn the_old_variable_names_are_still_read(app: &TestApp) {
    let server = ServerProcess::launch(
        &["serve"],
        &[
            ("IPP_ADDR", "127.0.0.1:0"),
            ("DATABASE_URL", &app.database_url),
            ("IPP_PUBLIC_URL", "https://old.example.test"),
            ("IPP_PORTAL_PUBLIC_URL", "https://new.example.test"),
        ],
    )
    .await;
    let enrollment = server
        .create_enrollment(&app.merchant.api_key, json!({}))
        .await;
    let link = enrollment["qr_payload"].as_str().unwrap();
    assert!(link.starts_with("https://new.example.test/pair"), "{link}");
    server.stop().await;

    // A value the flag would refuse is refused from the environment too, naming it.
    let refused = tokio::process::Command::new(env!("CARGO_BIN_EXE_ipp-portal"))
        .arg("serve")
        .env("IPP_PORTAL_DATABASE_URL", &app.database_url)
        .env("IPP_PORTAL_MAX_CONNECTIONS", "many")
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    // Were the value taken, the server would serve on: fail instead of waiting for ever.
    let refused = tokio::time::timeout(std::time::Duration::from_secs(30), refused)
        .await
        .expect("refused at once, not served")
        .unwrap();
    assert_eq!(refused.status.code(), Some(2), "a usage error");
    let message = String::from_utf8_lossy(&refused.stderr);
    assert!(message.contains("--max-connections"), "{message}");
}
