//! Failure limits under races: every attempt is counted before it is judged, so a burst
//! of parallel guesses gets no more tries than a patient guesser; attempts that succeed
//! give their count back, so honest use never runs into the limits.

use std::net::IpAddr;

use reqwest::StatusCode;
use serde_json::json;

use app::clock::Clock;
use app::domain::role::Role;
use app::services::{LOGIN_FAILURES_PER_ACCOUNT, RegistrationLimits};

use server::application::ApplicationConfig;

use crate::helpers::{PASSWORD, PortalClient, TestApp, expect_json};
use crate::{on_both_databases, on_both_databases_with};

const PER_ADDRESS: i64 = 10;

fn limited(per_address: i64, global: i64) -> RegistrationLimits {
    RegistrationLimits {
        per_address,
        global,
        window_seconds: 900,
    }
}

on_both_databases!(
    parallel_wrong_passwords_get_no_more_tries_than_the_limit,
    sign_ins_that_succeed_do_not_use_up_the_limit,
);
on_both_databases_with!(ten_per_address =>
    parallel_wrong_codes_get_no_more_tries_than_the_limit,
    registrations_that_succeed_do_not_use_up_the_limit,
    old_windows_are_forgotten_by_the_upkeep_not_by_attempts,
);
on_both_databases_with!(three_per_address => used_expired_and_cancelled_codes_count_as_failures);
on_both_databases_with!(two_per_address_five_overall =>
    a_refused_address_does_not_wear_down_the_global_limit,
);

fn ten_per_address(config: &mut ApplicationConfig) {
    config.registration_limits = limited(PER_ADDRESS, 100_000);
}

fn three_per_address(config: &mut ApplicationConfig) {
    config.registration_limits = limited(3, 100_000);
}

fn two_per_address_five_overall(config: &mut ApplicationConfig) {
    config.registration_limits = limited(2, 5);
}

/// A pairing code nobody was given: the `index`th in the code alphabet.
fn unknown_code(index: usize) -> String {
    const LETTERS: &[u8] = b"BCDFGHJKLMNPQRSTVWXZ";
    let mut rest = index;
    let letters: String = (0..8)
        .map(|_| {
            let letter = LETTERS[rest % LETTERS.len()] as char;
            rest /= LETTERS.len();
            letter
        })
        .collect();
    format!("{}-{}", &letters[..4], &letters[4..])
}

/// How many answers were not 429, saying what they were.
fn not_refused(statuses: &[StatusCode]) -> usize {
    statuses
        .iter()
        .filter(|status| **status != StatusCode::TOO_MANY_REQUESTS)
        .count()
}

/// Opens `count` connections to the app and leaves them idle in the client's pool, so
/// that as many requests after it go out at once instead of one connection at a time.
async fn open_connections(app: &TestApp, count: usize) {
    let opened = (0..count).map(|_| async {
        let response = app.client.get(app.url("/ipp/v1/openapi.json")).send().await;
        response.unwrap().bytes().await.unwrap();
    });
    futures::future::join_all(opened).await;
}

async fn parallel_wrong_codes_get_no_more_tries_than_the_limit(app: &TestApp) {
    open_connections(app, 200).await;
    let attempts = (0..200).map(|i| async move {
        app.register(&unknown_code(i), &format!("hw-{i}"))
            .await
            .status()
    });
    let statuses = futures::future::join_all(attempts).await;
    let tried = not_refused(&statuses);
    eprintln!(
        "{:?}: 200 parallel wrong codes from one address, {tried} not refused",
        app.backend()
    );
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::NOT_FOUND, StatusCode::TOO_MANY_REQUESTS].contains(s)),
        "{statuses:?}"
    );
    assert!(
        tried >= 1 && tried <= PER_ADDRESS as usize,
        "{tried} wrong codes were tried, the limit is {PER_ADDRESS}"
    );
}

async fn parallel_wrong_passwords_get_no_more_tries_than_the_limit(app: &TestApp) {
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let portal = PortalClient::new(&app.address);
    let attempts = (0..200).map(|i| {
        let portal = &portal;
        async move {
            portal
                .login("ops@shop.example", &format!("wrong password {i}"))
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let tried = not_refused(&statuses);
    eprintln!(
        "{:?}: 200 parallel wrong passwords for one account, {tried} not refused",
        app.backend()
    );
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::UNAUTHORIZED, StatusCode::TOO_MANY_REQUESTS].contains(s)),
        "{statuses:?}"
    );
    assert!(
        tried >= 1 && tried <= LOGIN_FAILURES_PER_ACCOUNT as usize,
        "{tried} passwords were tried, the limit is {LOGIN_FAILURES_PER_ACCOUNT}"
    );
}

async fn registrations_that_succeed_do_not_use_up_the_limit(app: &TestApp) {
    for i in 0..15 {
        let enrollment = app.create_enrollment(json!({})).await;
        let code = enrollment["enrollment_code"].as_str().unwrap();
        let response = app.register(code, &format!("hw-{i}")).await;
        expect_json(response, StatusCode::CREATED).await;
    }
    // Failures still count, up to the limit and no further.
    for i in 0..PER_ADDRESS as usize {
        let response = app.register(&unknown_code(i), "hw").await;
        expect_json(response, StatusCode::NOT_FOUND).await;
    }
    let enrollment = app.create_enrollment(json!({})).await;
    let code = enrollment["enrollment_code"].as_str().unwrap();
    let response = app.register(code, "hw-late").await;
    expect_json(response, StatusCode::TOO_MANY_REQUESTS).await;
}

async fn sign_ins_that_succeed_do_not_use_up_the_limit(app: &TestApp) {
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let portal = PortalClient::new(&app.address);
    for i in 0..LOGIN_FAILURES_PER_ACCOUNT + 5 {
        let (status, body) = portal.login("ops@shop.example", PASSWORD).await;
        assert!(
            status.is_success() || status.is_redirection(),
            "sign-in {i}: {status} {body}"
        );
    }
}

/// A code that exists but no longer works is as much a failed guess as an unknown one:
/// otherwise guessing among used codes would be free.
async fn used_expired_and_cancelled_codes_count_as_failures(app: &TestApp) {
    let used = app.create_enrollment(json!({})).await;
    let used_code = used["enrollment_code"].as_str().unwrap();
    expect_json(app.register(used_code, "hw-1").await, StatusCode::CREATED).await;
    let cancelled = app.create_enrollment(json!({})).await;
    let id = cancelled["enrollment_id"].as_str().unwrap();
    let response = app
        .request(
            reqwest::Method::DELETE,
            &format!("/ipp/v1/enrollments/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{}", response.status());
    let expired = app.create_enrollment(json!({"expires_in": 60})).await;
    let fresh = app.create_enrollment(json!({"expires_in": 3600})).await;
    app.clock.advance_seconds(61);

    for code in [&used, &cancelled, &expired] {
        let code = code["enrollment_code"].as_str().unwrap();
        expect_json(app.register(code, "hw-2").await, StatusCode::GONE).await;
    }
    let fresh_code = fresh["enrollment_code"].as_str().unwrap();
    expect_json(
        app.register(fresh_code, "hw-2").await,
        StatusCode::TOO_MANY_REQUESTS,
    )
    .await;
}

/// An address held at its limit keeps being refused, but its refused attempts must not
/// count against the limit over all clients: one client could block everyone.
async fn a_refused_address_does_not_wear_down_the_global_limit(app: &TestApp) {
    for i in 0..2 {
        expect_json(
            app.register(&unknown_code(i), "hw").await,
            StatusCode::NOT_FOUND,
        )
        .await;
    }
    for i in 2..20 {
        expect_json(
            app.register(&unknown_code(i), "hw").await,
            StatusCode::TOO_MANY_REQUESTS,
        )
        .await;
    }
    let elsewhere = reqwest::Client::builder()
        .local_address("127.0.0.2".parse::<IpAddr>().unwrap())
        .build()
        .unwrap();
    let response = elsewhere
        .post(app.url("/ipp/v1/devices/register"))
        .json(&json!({"enrollment_code": unknown_code(99), "hardware_id": "hw", "platform": "IOS"}))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::NOT_FOUND).await;
}

#[test]
fn unknown_codes_differ_and_parse() {
    assert_ne!(unknown_code(0), unknown_code(1));
    assert_eq!(unknown_code(0), "BBBB-BBBB");
    assert!(
        app::domain::pairing_code::PairingCode::parse_code_or_link(&unknown_code(12345)).is_ok()
    );
}

/// Windows of failures that ended are forgotten by the upkeep each instance runs every
/// minute, never by an attempt: a flood from many new addresses costs no scan of the
/// counters. The window before the current one is kept for attempts still under way.
async fn old_windows_are_forgotten_by_the_upkeep_not_by_attempts(app: &TestApp) {
    let window_ms = 900 * 1000;
    let now = app.clock.now_ms();
    let first_window = now - now.rem_euclid(window_ms);
    let storage = app.storage().await;
    let counted = async |window_start: i64| {
        let buckets = [
            "register:addr:127.0.0.1",
            "register:global",
            "login:email:nobody@shop.example",
            "login:addr:203.0.113.9",
        ];
        storage
            .attempt_failures(&buckets, window_start)
            .await
            .unwrap()
    };
    let wrong_sign_in = async |address: &str| {
        let refused = app
            .services
            .login("nobody@shop.example", "wrong password", address)
            .await;
        assert!(refused.is_err(), "{address}");
    };
    expect_json(
        app.register(&unknown_code(0), "hw").await,
        StatusCode::NOT_FOUND,
    )
    .await;
    wrong_sign_in("203.0.113.9").await;
    assert_eq!(counted(first_window).await, [1, 1, 1, 1]);

    app.clock.advance_seconds(900);
    app.services.forget_old_attempts().await.unwrap();
    assert_eq!(
        counted(first_window).await,
        [1, 1, 1, 1],
        "the window just ended is kept"
    );

    app.clock.advance_seconds(900);
    // A new address's first attempt forgets nothing.
    wrong_sign_in("203.0.113.10").await;
    assert_eq!(counted(first_window).await, [1, 1, 1, 1]);
    app.services.forget_old_attempts().await.unwrap();
    assert_eq!(counted(first_window).await, [0, 0, 0, 0]);
    let third_window = first_window + 2 * window_ms;
    let kept = storage
        .attempt_failures(&["login:addr:203.0.113.10"], third_window)
        .await
        .unwrap();
    assert_eq!(kept, [1], "the current window stays");
    storage.close().await;
}
