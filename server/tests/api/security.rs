//! The server as it is deployed: `ipp-portal serve` as a process of its own, driven over
//! HTTP, watched through its log and its memory. What it logs about security, and how it
//! holds up under a flood of sign-ins.

use app::ui::pages::account::ChangePassword;
use app::ui::pages::api_keys::{ApiKeys, CreateApiKey, RevokeApiKey};
use app::ui::pages::users::SetUserDisabled;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::json;

use app::domain::role::Role;
use app::ui::session::Login;

use crate::helpers::{PASSWORD, PortalClient, TestApp};
use crate::on_both_databases;
use crate::server_process::ServerProcess;

on_both_databases!(
    security_events_are_logged_without_secrets,
    second_factor_events_are_logged_without_codes,
);

/// The one line of the security event `event` having each of `fields` (`name`, `value`).
pub fn security_event<'a>(log: &'a [String], event: &str, fields: &[(&str, &str)]) -> &'a str {
    let wanted: Vec<String> = std::iter::once(format!("event=\"{event}\""))
        .chain(
            fields
                .iter()
                .map(|(name, value)| format!("{name}=\"{value}\"")),
        )
        .collect();
    log.iter()
        .find(|line| {
            line.contains(" security: ") && wanted.iter().all(|field| line.contains(field.as_str()))
        })
        .unwrap_or_else(|| {
            let events: Vec<&String> = log.iter().filter(|l| l.contains(" security: ")).collect();
            panic!("no security event with {wanted:?}; security events: {events:#?}")
        })
}

const NEW_PASSWORD: &str = "a brand new passphrase";
const WRONG_PASSWORD: &str = "not the password at all";

async fn security_events_are_logged_without_secrets(app: &TestApp) {
    let server = ServerProcess::start(
        &app.database_url,
        &["--registration-failures-per-address", "2"],
    )
    .await;
    app.create_user(&app.merchant.id, "admin@shop.example", Role::Admin, &[])
        .await;
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let storage = app.storage().await;
    let user_id = |email: &'static str| {
        let storage = &storage;
        async move { storage.user_by_email(email).await.unwrap().unwrap().id }
    };
    let admin_id = user_id("admin@shop.example").await;
    let ops_id = user_id("ops@shop.example").await;

    let admin = PortalClient::new(&server.address);
    let (status, _) = admin.login("admin@shop.example", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    let stranger = PortalClient::new(&server.address);
    let (status, _) = stranger.login("nobody@shop.example", WRONG_PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    // Guessing in parallel: the account's limit refuses the rest.
    let guesses = (0..20).map(|i| {
        let stranger = &stranger;
        async move {
            stranger
                .login("ops@shop.example", &format!("{WRONG_PASSWORD} {i}"))
                .await
                .0
        }
    });
    let statuses = futures::future::join_all(guesses).await;
    assert!(
        statuses.contains(&StatusCode::TOO_MANY_REQUESTS),
        "{statuses:?}"
    );

    let (status, key) = admin.call(CreateApiKey::PATH, &[("name", "ERP")]).await;
    assert_eq!(status, StatusCode::OK);
    let key = key.as_str().unwrap().to_owned();
    let (_, keys) = admin.call(ApiKeys::PATH, &[]).await;
    let key_id = keys["keys"][0]["id"].as_str().unwrap().to_owned();
    let (status, _) = admin.call(RevokeApiKey::PATH, &[("key_id", &key_id)]).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin
        .call(
            SetUserDisabled::PATH,
            &[("user_id", &ops_id), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = admin
        .call(
            ChangePassword::PATH,
            &[
                ("current_password", PASSWORD),
                ("new_password", NEW_PASSWORD),
                ("confirm_password", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let codes = ["BBBB-BBBB", "BBBB-BBBC", "BBBB-BBBD"];
    let mut statuses = Vec::new();
    for code in codes {
        let response = app
            .client
            .post(format!("{}/ipp/v1/devices/register", server.address))
            .json(&json!({"enrollment_code": code, "hardware_id": "hw", "platform": "IOS"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status());
    }
    assert_eq!(
        statuses,
        [
            StatusCode::NOT_FOUND,
            StatusCode::NOT_FOUND,
            StatusCode::TOO_MANY_REQUESTS
        ]
    );

    // Stopped first, so every event written is read.
    let (_, log) = server.stop_and_read_log().await;
    let merchant = app.merchant.id.as_str();
    let here = ("client_address", "127.0.0.1");
    security_event(
        &log,
        "sign_in.succeeded",
        &[
            ("merchant_id", merchant),
            ("user_id", &admin_id),
            ("email", "admin@shop.example"),
            here,
        ],
    );
    let unknown = security_event(
        &log,
        "sign_in.failed",
        &[("email", "nobody@shop.example"), here],
    );
    assert!(!unknown.contains("user_id="), "{unknown}");
    security_event(
        &log,
        "sign_in.failed",
        &[
            ("merchant_id", merchant),
            ("user_id", &ops_id),
            ("email", "ops@shop.example"),
            here,
        ],
    );
    security_event(
        &log,
        "sign_in.locked_out",
        &[("email", "ops@shop.example"), ("limit", "account"), here],
    );
    security_event(
        &log,
        "api_key.created",
        &[
            ("merchant_id", merchant),
            ("api_key_id", &key_id),
            ("user_id", &admin_id),
            ("email", "admin@shop.example"),
        ],
    );
    security_event(
        &log,
        "api_key.revoked",
        &[("merchant_id", merchant), ("api_key_id", &key_id)],
    );
    security_event(
        &log,
        "user.disabled",
        &[
            ("merchant_id", merchant),
            ("user_id", &ops_id),
            ("email", "ops@shop.example"),
            ("by_email", "admin@shop.example"),
        ],
    );
    security_event(
        &log,
        "password.changed",
        &[
            ("merchant_id", merchant),
            ("user_id", &admin_id),
            ("email", "admin@shop.example"),
        ],
    );
    security_event(
        &log,
        "registration.locked_out",
        &[("limit", "address"), here],
    );

    let everything = log.join("\n");
    for secret in [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, key.as_str()]
        .into_iter()
        .chain(codes)
    {
        assert!(
            !everything.contains(secret),
            "the log holds a secret ({secret}):\n{everything}"
        );
    }
}

/// The authenticator code the app of `secret` shows now (the server process keeps real time).
fn code_now(secret: &[u8]) -> String {
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    app::domain::second_factor::totp_code(secret, app::domain::second_factor::step_at(now_ms))
}

/// Sets up an authenticator app for the user signed in on `portal`; returns its key as
/// shown and the recovery codes.
async fn set_up_authenticator(portal: &PortalClient) -> (String, Vec<u8>, Vec<String>) {
    use app::ui::pages::second_factors::{
        ConfirmAuthenticator, SecondFactorsSection, StartAuthenticator,
    };
    assert_eq!(
        portal.call(StartAuthenticator::PATH, &[]).await.0,
        StatusCode::OK
    );
    let (_, data) = portal.call(SecondFactorsSection::PATH, &[]).await;
    let text = data["factors"]["authenticator"]["Waiting"]["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = app::domain::second_factor::secret_from_base32(&text).unwrap();
    let (status, codes) = portal
        .call(ConfirmAuthenticator::PATH, &[("code", &code_now(&secret))])
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    (text, secret, serde_json::from_value(codes).unwrap())
}

async fn second_factor_events_are_logged_without_codes(app: &TestApp) {
    use app::ui::pages::second_factors::RegenerateRecoveryCodes;
    use app::ui::pages::second_step::{VerifyCode, VerifyRecoveryCode};
    use app::ui::pages::users::{ResetSecondFactors, SetSecondFactorRule};

    let server = ServerProcess::start(&app.database_url, &[]).await;
    app.create_user(&app.merchant.id, "admin@shop.example", Role::Admin, &[])
        .await;
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let ops_id = app.user_id("ops@shop.example").await;
    let admin = PortalClient::new(&server.address);
    admin.login("admin@shop.example", PASSWORD).await;
    let (admin_key, _, _) = set_up_authenticator(&admin).await;
    let ops = PortalClient::new(&server.address);
    ops.login("ops@shop.example", PASSWORD).await;
    let (ops_key, secret, codes) = set_up_authenticator(&ops).await;

    let phone = PortalClient::new(&server.address);
    phone.login("ops@shop.example", PASSWORD).await;
    let right = code_now(&secret);
    let wrong = if right == "000000" {
        "111111"
    } else {
        "000000"
    };
    let (status, _) = phone.call(VerifyCode::PATH, &[("code", wrong)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = phone
        .call(VerifyRecoveryCode::PATH, &[("recovery_code", &codes[0])])
        .await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    let (status, fresh) = phone.call(RegenerateRecoveryCodes::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let fresh: Vec<String> = serde_json::from_value(fresh).unwrap();
    let (status, _) = admin
        .call(SetSecondFactorRule::PATH, &[("required", "true")])
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = admin
        .call(ResetSecondFactors::PATH, &[("user_id", &ops_id)])
        .await;
    assert_eq!(status, StatusCode::OK);

    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = server.log();
    let merchant = app.merchant.id.as_str();
    let ops_fields = [
        ("merchant_id", merchant),
        ("user_id", ops_id.as_str()),
        ("email", "ops@shop.example"),
    ];
    security_event(&log, "second_factor.added", &ops_fields);
    security_event(
        &log,
        "second_step.failed",
        &[("user_id", &ops_id), ("kind", "authenticator")],
    );
    security_event(
        &log,
        "recovery_code.used",
        &[("user_id", &ops_id), ("client_address", "127.0.0.1")],
    );
    security_event(&log, "recovery_codes.regenerated", &ops_fields);
    let rule = security_event(
        &log,
        "second_factor.policy_changed",
        &[("email", "admin@shop.example")],
    );
    assert!(rule.contains("required=true"), "{rule}");
    security_event(
        &log,
        "second_factor.reset",
        &[("user_id", &ops_id), ("by_email", "admin@shop.example")],
    );

    let everything = log.join("\n");
    // (Six digits may well appear in a timestamp: the keys and recovery codes are checked.)
    for secret in [admin_key.as_str(), ops_key.as_str()]
        .into_iter()
        .chain(codes.iter().map(String::as_str))
        .chain(fresh.iter().map(String::as_str))
    {
        assert!(
            !everything.contains(secret),
            "the log holds a secret ({secret}):\n{everything}"
        );
    }
    server.stop().await;
}

/// 600 sign-ins at once, each from one of 199 addresses (so the per-address limit does
/// not refuse them first) with an email of its own: every one would check a password.
/// Checks run a few at a time and a short line waits; the rest are answered 503 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_is_answered_busy_within_bounded_memory() {
    let folder = std::env::temp_dir().join(format!("ipp-portal-flood-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    let database_url = format!("sqlite://{}/x.db", folder.display());
    let server = ServerProcess::start(&database_url, &["--seed-demo"]).await;
    let demo_password = server
        .log()
        .iter()
        .find_map(|line| line.split("password: ").nth(1).map(|p| p.trim().to_owned()))
        .expect("the demo login in the log");

    let clients: Vec<reqwest::Client> = (2..=200)
        .map(|last| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap()
        })
        .collect();
    let login_url = format!("{}{}", server.address, Login::PATH);
    let started = Instant::now();
    let attempts = (0..600).map(|i| {
        let client = &clients[i % clients.len()];
        let login_url = &login_url;
        async move {
            let email = format!("nobody-{i}@flood.example");
            let response = client
                .post(login_url)
                .form(&[("email", email.as_str()), ("password", WRONG_PASSWORD)])
                .send()
                .await
                .expect("the server answers every sign-in");
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status(), retry_after)
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let took = started.elapsed();
    let count = |status: StatusCode| answers.iter().filter(|(s, _)| *s == status).count();
    let (unauthorized, limited, busy) = (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS),
        count(StatusCode::SERVICE_UNAVAILABLE),
    );
    let peak_mb = server.peak_memory_mb();
    eprintln!(
        "600 parallel sign-ins in {:.1} s: {unauthorized} × 401, {limited} × 429, {busy} × 503; \
         peak memory {peak_mb} MB",
        took.as_secs_f64()
    );
    assert_eq!(
        unauthorized + limited + busy,
        600,
        "every answer is 401, 429 or 503: {answers:?}"
    );
    for (status, retry_after) in &answers {
        if *status == StatusCode::SERVICE_UNAVAILABLE {
            let seconds: i64 = retry_after
                .as_ref()
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .expect("a 503 says when to retry");
            assert!(seconds >= 1);
        }
    }
    // One hash per core runs at once, 19 MB each: past eight cores a machine is allowed
    // 40 MB more per core than the 512 MB this one gets.
    let cores = std::thread::available_parallelism().map_or(1, usize::from) as u64;
    let allowed_mb = 512.max(200 + 40 * cores);
    assert!(peak_mb < allowed_mb, "peak memory {peak_mb} MB");

    // Still serving, and the right password still works.
    let portal = PortalClient::new(&server.address);
    let (status, body) = portal.login("admin@demo.example", &demo_password).await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {body}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}
