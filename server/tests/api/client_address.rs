//! Behind a reverse proxy, the limits on guessing key on the client the proxy forwarded,
//! and only a trusted proxy is believed.

use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::json;

use app::clock::Clock;
use app::domain::role::Role;
use app::services::LOGIN_WINDOW_SECONDS;
use app::ui::session::Login;
use server::application::ApplicationConfig;
use server::edge::client_address::TrustedProxies;

use crate::helpers::{PortalClient, TestApp, expect_json, test_settings};
use crate::on_both_databases_with;

on_both_databases_with!(
    behind_a_trusted_proxy =>
    clients_behind_a_trusted_proxy_are_limited_each_on_their_own,
    sign_in_failures_count_against_the_forwarded_client,
    ipv6_clients_are_limited_by_their_64,
);
on_both_databases_with!(trusting_nobody => a_spoofed_forwarded_address_is_ignored);

fn low_limit(config: &mut ApplicationConfig) {
    config.registration_limits.per_address = 2;
    config.registration_limits.global = 1000;
}

/// The tests' own client is the "proxy": it connects from 127.0.0.1.
fn behind_a_trusted_proxy(config: &mut ApplicationConfig) {
    low_limit(config);
    config.trusted_proxies = TrustedProxies::new(vec!["127.0.0.1/32".parse().unwrap()]);
}

fn trusting_nobody(config: &mut ApplicationConfig) {
    low_limit(config);
}

/// A wrong code sent on behalf of `client`, as a proxy appends it to X-Forwarded-For
/// (after whatever the client itself claimed).
async fn guess_from(app: &TestApp, forwarded_for: &str) -> StatusCode {
    guess_at(&app.address, forwarded_for).await
}

/// The same, to the server at `base`.
pub async fn guess_at(base: &str, forwarded_for: &str) -> StatusCode {
    reqwest::Client::new()
        .post(format!("{base}/ipp/v1/devices/register"))
        .header("x-forwarded-for", forwarded_for)
        .json(&json!({"enrollment_code": "BBBB-BBBB", "hardware_id": "hw", "platform": "IOS"}))
        .send()
        .await
        .unwrap()
        .status()
}

async fn clients_behind_a_trusted_proxy_are_limited_each_on_their_own(app: &TestApp) {
    for _ in 0..2 {
        assert_eq!(guess_from(app, "203.0.113.1").await, StatusCode::NOT_FOUND);
    }
    assert_eq!(
        guess_from(app, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    // Another client of the same proxy still has its own attempts, whatever the first
    // one claims to be: only the entry the proxy appended counts.
    assert_eq!(guess_from(app, "203.0.113.2").await, StatusCode::NOT_FOUND);
    assert_eq!(
        guess_from(app, "203.0.113.2, 203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a client cannot pass for another by putting its address on the left"
    );
    assert_eq!(
        guess_from(app, "203.0.113.1, 203.0.113.2").await,
        StatusCode::NOT_FOUND
    );
    // IPv6 clients too, and the Forwarded header when there is no X-Forwarded-For.
    let forwarded = app
        .client
        .post(app.url("/ipp/v1/devices/register"))
        .header("forwarded", r#"for="[2001:db8::7]:4711";proto=https"#)
        .json(&json!({"enrollment_code": "BBBB-BBBB", "hardware_id": "hw", "platform": "IOS"}))
        .send()
        .await
        .unwrap();
    expect_json(forwarded, StatusCode::NOT_FOUND).await;
    let failures = app
        .storage()
        .await
        .attempt_failures(
            &["register:addr:2001:db8::/64"],
            window_start(app, registration_window_seconds()),
        )
        .await
        .unwrap();
    assert_eq!(failures, vec![1]);
}

async fn a_spoofed_forwarded_address_is_ignored(app: &TestApp) {
    assert_eq!(guess_from(app, "203.0.113.1").await, StatusCode::NOT_FOUND);
    assert_eq!(guess_from(app, "203.0.113.2").await, StatusCode::NOT_FOUND);
    // Both counted against the TCP peer, 127.0.0.1, which is now at its limit.
    assert_eq!(
        guess_from(app, "203.0.113.3").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    let failures = app
        .storage()
        .await
        .attempt_failures(
            &["register:addr:127.0.0.1", "register:addr:203.0.113.1"],
            window_start(app, registration_window_seconds()),
        )
        .await
        .unwrap();
    assert_eq!(failures, vec![2, 0]);
}

/// The portal's sign-in counts failures (15-minute windows) per client address, found
/// the same way.
async fn sign_in_failures_count_against_the_forwarded_client(app: &TestApp) {
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let portal = PortalClient::new(&app.address);
    let response = portal
        .client
        .post(app.url(Login::PATH))
        .header("x-forwarded-for", "198.51.100.23")
        .form(&[
            ("email", "ops@shop.example"),
            ("password", "not the password"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let failures = app
        .storage()
        .await
        .attempt_failures(
            &["login:addr:198.51.100.23", "login:addr:127.0.0.1"],
            window_start(app, LOGIN_WINDOW_SECONDS),
        )
        .await
        .unwrap();
    assert_eq!(failures, vec![1, 0]);
}

/// An IPv6 subscriber picks the low 64 bits of its address at will: addresses in one /64
/// share a limit, and another /64 has its own.
async fn ipv6_clients_are_limited_by_their_64(app: &TestApp) {
    assert_eq!(
        guess_from(app, "2001:db8:1:2::a").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        guess_from(app, "2001:db8:1:2:ffff:ffff:ffff:b").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        guess_from(app, "2001:db8:1:2:1234::c").await,
        StatusCode::TOO_MANY_REQUESTS,
        "a third address of the same /64 is the same client"
    );
    assert_eq!(
        guess_from(app, "2001:db8:1:3::a").await,
        StatusCode::NOT_FOUND
    );
    // IPv4 clients still count one address each, mapped into IPv6 or not.
    assert_eq!(guess_from(app, "203.0.113.1").await, StatusCode::NOT_FOUND);
    assert_eq!(
        guess_from(app, "::ffff:203.0.113.1").await,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        guess_from(app, "203.0.113.1").await,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(guess_from(app, "203.0.113.2").await, StatusCode::NOT_FOUND);
}

/// The registration limits' window in these tests.
fn registration_window_seconds() -> i64 {
    test_settings().registration_limits.window_seconds
}

/// The start of the current counting window, as the services compute it.
fn window_start(app: &TestApp, window_seconds: i64) -> i64 {
    let now = app.clock.now_ms();
    let window = window_seconds * 1000;
    now - now.rem_euclid(window)
}
