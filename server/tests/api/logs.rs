//! What `ipp-portal serve` writes to its log, read from the real process: one JSON object
//! a line when asked for JSON, one line per request with its route template, status,
//! latency and request id; and, through a whole flow, never a secret.

use std::sync::Arc;

use base64::Engine as _;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use reqwest::cookie::CookieStore as _;
use serde_json::{Value, json};

use app::domain::role::Role;
use app::ui::pages::account::ChangePassword;
use app::ui::pages::api_keys::CreateApiKey;
use app::ui::pages::users::CreateUser;

use crate::helpers::{PASSWORD, PortalClient, TestApp, expect_json};
use crate::on_both_databases;
use crate::server_process::ServerProcess;

on_both_databases!(
    json_logs_are_one_object_a_line_with_each_request,
    a_whole_flow_leaves_no_secret_in_the_log,
);

/// Every line of `log` as JSON; fails naming the first line that is not an object.
fn json_lines(log: &[String]) -> Vec<Value> {
    assert!(!log.is_empty(), "the server logged something");
    log.iter()
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => value,
            _ => panic!("not a JSON object: {line}"),
        })
        .collect()
}

/// The request span of a JSON log line, if it was written inside one.
fn request_span(line: &Value) -> Option<&Value> {
    line["spans"]
        .as_array()?
        .iter()
        .find(|span| span["name"] == "request")
}

async fn json_logs_are_one_object_a_line_with_each_request(app: &TestApp) {
    let server = ServerProcess::start(&app.database_url, &["--log-format", "json"]).await;
    let device_path = format!("/ipp/v1/devices/{}", uuid::Uuid::now_v7());
    let missing = app
        .client
        .get(format!("{}{device_path}", server.address))
        .bearer_auth(&app.merchant.api_key)
        .header("x-request-id", "log-check-1")
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);
    let listed = app
        .client
        .get(format!("{}/ipp/v1/devices?page_size=5", server.address))
        .bearer_auth(&app.merchant.api_key)
        .header("x-request-id", "log-check-2")
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    // A path no route matches may carry anything: it is not logged.
    let wrong_path = "/ipp/v1/no-such-thing/BCDF-GHJK";
    let wrong = app
        .client
        .get(format!("{}{wrong_path}", server.address))
        .header("x-request-id", "log-check-3")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), StatusCode::NOT_FOUND);

    let (status, log) = server.stop_and_read_log().await;
    assert!(status.success(), "exit {status}");
    let lines = json_lines(&log);
    for line in &lines {
        for field in ["timestamp", "level", "target"] {
            assert!(line[field].is_string(), "{field} in {line}");
        }
    }
    let answered = |request_id: &str| {
        lines
            .iter()
            .find(|line| {
                line["status"].is_number()
                    && request_span(line).is_some_and(|span| span["request_id"] == request_id)
            })
            .unwrap_or_else(|| panic!("no line answers {request_id}: {lines:#?}"))
    };
    let first = answered("log-check-1");
    assert_eq!(first["level"], "INFO");
    assert_eq!(first["status"], 404);
    assert!(first["latency"].is_string(), "{first}");
    let span = request_span(first).unwrap();
    assert_eq!(span["method"], "GET");
    // The route's template: no id, and never a query string (codes travel in some).
    assert_eq!(span["route"], "/ipp/v1/devices/{id}");
    let second = answered("log-check-2");
    assert_eq!(second["status"], 200);
    assert_eq!(request_span(second).unwrap()["route"], "/ipp/v1/devices");
    let third = answered("log-check-3");
    assert_eq!(request_span(third).unwrap()["route"], "unmatched");
    let everything = log.join("\n");
    assert!(
        !everything.contains(&device_path),
        "the raw path is not logged"
    );
    assert!(
        !everything.contains(wrong_path),
        "nor a path no route matched"
    );
    assert!(!everything.contains("page_size=5"), "nor the query");
    assert!(
        lines.iter().any(|line| line["message"]
            == "stopping: no new connections; finishing the requests under way"),
        "the stop is logged too"
    );
}

const NEW_PASSWORD: &str = "a brand new passphrase";
const WRONG_PASSWORD: &str = "not the password at all";
const OWN_PASSWORD: &str = "the newcomer's own passphrase";

/// A portal client whose session cookie the test can read.
fn portal_with_jar(address: &str) -> (PortalClient, Arc<reqwest::cookie::Jar>) {
    let jar = Arc::new(reqwest::cookie::Jar::default());
    let client = reqwest::Client::builder()
        .cookie_provider(jar.clone())
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let portal = PortalClient {
        client,
        address: address.to_owned(),
    };
    (portal, jar)
}

/// The value of the portal's session cookie in `jar`.
fn session_cookie(jar: &reqwest::cookie::Jar, address: &str) -> String {
    let cookies = jar
        .cookies(&address.parse().unwrap())
        .expect("cookies for the portal");
    cookies
        .to_str()
        .unwrap()
        .split("; ")
        .find_map(|cookie| cookie.strip_prefix("ipp_session="))
        .expect("a session cookie")
        .to_owned()
}

async fn change_password(portal: &PortalClient, current: &str, new: &str) {
    let fields = [
        ("current_password", current),
        ("new_password", new),
        ("confirm_password", new),
    ];
    let (status, body) = portal.call(ChangePassword::PATH, &fields).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

/// A pairing code as shown (`BCDF-GHJK`), and the other forms it is typed in.
fn code_forms(code: &str) -> Vec<String> {
    let compact = code.replace('-', "");
    vec![code.to_owned(), compact.to_lowercase(), compact]
}

/// Everything a deployment handles that must stay secret goes through the real server
/// (passwords, a one-time password, an API key sent as Bearer and as Basic, pairing codes
/// short and long in every form, as typed and in the QR link, device tokens, session
/// cookies), at debug level: the log holds none of them.
async fn a_whole_flow_leaves_no_secret_in_the_log(app: &TestApp) {
    let server = ServerProcess::launch(
        &[
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            &app.database_url,
            "--log-format",
            "json",
        ],
        &[("RUST_LOG", "debug")],
    )
    .await;
    let base = server.address.clone();
    let mut secrets: Vec<String> = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, OWN_PASSWORD]
        .map(str::to_owned)
        .to_vec();

    // Staff: a sign-in, a refused one, an API key, a user with a one-time password.
    app.create_user(&app.merchant.id, "admin@shop.example", Role::Admin, &[])
        .await;
    let (admin, admin_jar) = portal_with_jar(&base);
    let (status, _) = admin.login("admin@shop.example", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    secrets.push(session_cookie(&admin_jar, &base));
    let (status, _) = PortalClient::new(&base)
        .login("admin@shop.example", WRONG_PASSWORD)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, key) = admin.call(CreateApiKey::PATH, &[("name", "ERP")]).await;
    assert_eq!(status, StatusCode::OK);
    let key = key.as_str().unwrap().to_owned();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{key}", app.merchant.id));
    secrets.extend([key.clone(), basic.clone()]);
    let (status, one_time) = admin
        .call(
            CreateUser::PATH,
            &[("email", "new@shop.example"), ("role", "ops")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{one_time}");
    let one_time = one_time.as_str().unwrap().to_owned();
    secrets.push(one_time.clone());
    let (newcomer, newcomer_jar) = portal_with_jar(&base);
    let (status, _) = newcomer.login("new@shop.example", &one_time).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    secrets.push(session_cookie(&newcomer_jar, &base));
    change_password(&newcomer, &one_time, OWN_PASSWORD).await;
    secrets.push(session_cookie(&newcomer_jar, &base));
    change_password(&admin, PASSWORD, NEW_PASSWORD).await;
    secrets.push(session_cookie(&admin_jar, &base));

    // The Device API with the new key: a short code and a long one.
    let client = reqwest::Client::new();
    let short = client
        .post(format!("{base}/ipp/v1/enrollments"))
        .bearer_auth(&key)
        .json(&json!({"metadata": {"store": "berlin-01"}}))
        .send()
        .await
        .unwrap();
    let short = expect_json(short, StatusCode::CREATED).await;
    let long = client
        .post(format!("{base}/ipp/v1/enrollments"))
        .basic_auth(&app.merchant.id, Some(&key))
        .json(&json!({"ttl": "SEVENTY_TWO_HOURS"}))
        .send()
        .await
        .unwrap();
    let long = expect_json(long, StatusCode::CREATED).await;
    let short_code = short["enrollment_code"].as_str().unwrap().to_owned();
    let long_code = long["enrollment_code"].as_str().unwrap().to_owned();
    assert_eq!(long_code.len(), 19, "a long code: {long_code}");
    secrets.extend(code_forms(&short_code));
    secrets.extend(code_forms(&long_code));

    // A clerk checks the code on /pair; the POS app registers with it, typed loosely, and
    // with the QR link of the long one; then a guess.
    let pair = client
        .get(format!("{base}/pair?code={short_code}"))
        .send()
        .await
        .unwrap();
    assert_eq!(pair.status(), StatusCode::OK);
    let typed = short_code.replace('-', " ").to_lowercase();
    let qr_link = long["qr_payload"].as_str().unwrap().to_owned();
    let mut tokens = Vec::new();
    for (code, hardware_id) in [(typed.as_str(), "hw-short"), (qr_link.as_str(), "hw-long")] {
        let registered = client
            .post(format!("{base}/ipp/v1/devices/register"))
            .json(&json!({"enrollment_code": code, "hardware_id": hardware_id, "platform": "IOS"}))
            .send()
            .await
            .unwrap();
        let registered = expect_json(registered, StatusCode::CREATED).await;
        tokens.push(
            registered["credentials"]["access_token"]
                .as_str()
                .unwrap()
                .to_owned(),
        );
    }
    secrets.push(typed);
    secrets.extend(tokens.iter().cloned());
    let guess = "BCDF-GHJK";
    let guessed = client
        .post(format!("{base}/ipp/v1/devices/register"))
        .json(&json!({"enrollment_code": guess, "hardware_id": "hw-guess", "platform": "IOS"}))
        .send()
        .await
        .unwrap();
    assert_eq!(guessed.status(), StatusCode::NOT_FOUND);
    secrets.extend(code_forms(guess));
    for token in &tokens {
        let me = client
            .get(format!("{base}/ipp/v1/devices/me"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), StatusCode::OK);
    }
    // A wrong key and a wrong token are refused, and not logged either.
    let wrong_key = format!("{key}x");
    let wrong_token = format!("{}x", tokens[0]);
    for credential in [&wrong_key, &wrong_token] {
        let refused = client
            .get(format!("{base}/ipp/v1/devices/me"))
            .bearer_auth(credential)
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    }
    // The portal's list of live codes.
    let (status, _) = admin.page("/enrollments").await;
    assert_eq!(status, StatusCode::OK);

    let (status, log) = server.stop_and_read_log().await;
    assert!(status.success(), "exit {status}");
    json_lines(&log);
    assert!(
        log.len() > 40,
        "a debug log of the whole flow: {} lines",
        log.len()
    );
    let everything = log.join("\n");
    for secret in &secrets {
        assert!(
            !everything.contains(secret.as_str()),
            "the log holds a secret ({secret})"
        );
    }
}
