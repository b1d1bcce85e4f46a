//! What every answer tells the browser: a Content-Security-Policy whose script nonce is
//! new for each page, no sniffing, no referrer to other sites, HTTPS only behind an
//! `https://` public URL; and that nothing showing a secret is ever stored by a cache.

use app::ui::pages::api_keys::CreateApiKey;
use leptos::server_fn::ServerFn;
use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};
use serde_json::json;

use app::domain::role::Role;
use server::application::ApplicationConfig;

use crate::helpers::{PortalClient, TestApp, expect_json};
use crate::{on_both_databases, on_both_databases_with};

on_both_databases!(
    portal_pages_name_a_new_script_nonce_in_their_policy,
    every_answer_has_the_common_headers,
    api_answers_with_secrets_or_credentials_are_never_stored,
    portal_pages_and_server_functions_are_never_stored,
);
on_both_databases_with!(plain_http => a_plain_http_portal_does_not_ask_for_https);

fn plain_http(config: &mut ApplicationConfig) {
    config.public_url = Some("http://portal.test".into());
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("a {name} header"))
        .to_str()
        .unwrap()
}

/// The nonce of the policy's script-src, after checking the rest of the policy.
fn policy_nonce(headers: &HeaderMap) -> String {
    let policy = header(headers, "content-security-policy");
    let directives: Vec<&str> = policy.split(';').map(str::trim).collect();
    for expected in [
        "default-src 'self'",
        "style-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(directives.contains(&expected), "{expected} in {policy}");
    }
    assert!(!policy.contains("unsafe-inline"), "{policy}");
    let script_src = directives
        .iter()
        .find(|d| d.starts_with("script-src "))
        .unwrap_or_else(|| panic!("a script-src in {policy}"));
    let sources: Vec<&str> = script_src.split_whitespace().skip(1).collect();
    let nonces: Vec<&str> = sources
        .iter()
        .filter_map(|s| s.strip_prefix("'nonce-")?.strip_suffix('\''))
        .collect();
    assert_eq!(nonces.len(), 1, "one nonce: {script_src}");
    let mut others: Vec<&str> = sources
        .into_iter()
        .filter(|s| !s.starts_with("'nonce-"))
        .collect();
    others.sort_unstable();
    assert_eq!(others, ["'self'", "'wasm-unsafe-eval'"], "{script_src}");
    assert!(nonces[0].len() >= 22, "at least 128 bits: {}", nonces[0]);
    nonces[0].to_owned()
}

/// The `nonce` attribute of every `<script>` tag of a page; panics on one without.
fn script_nonces(html: &str) -> Vec<String> {
    html.match_indices("<script")
        .map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>').unwrap()];
            let start = tag
                .find(" nonce=\"")
                .unwrap_or_else(|| panic!("a nonce on {tag}"))
                + " nonce=\"".len();
            let length = tag[start..].find('"').unwrap();
            tag[start..start + length].to_owned()
        })
        .collect()
}

/// The page at `path`, checked: its scripts all carry the nonce of its policy. Returns
/// the nonce.
async fn page_nonce(portal: &PortalClient, path: &str, status: StatusCode) -> String {
    let response = portal
        .client
        .get(format!("{}{path}", portal.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), status, "{path}");
    let nonce = policy_nonce(response.headers());
    let html = response.text().await.unwrap();
    let scripts = script_nonces(&html);
    assert!(!scripts.is_empty(), "{path} has the hydration script");
    for script in scripts {
        assert_eq!(
            script, nonce,
            "every script of {path} has the policy's nonce"
        );
    }
    nonce
}

async fn portal_pages_name_a_new_script_nonce_in_their_policy(app: &TestApp) {
    let anonymous = PortalClient::new(&app.address);
    let first = page_nonce(&anonymous, "/login", StatusCode::OK).await;
    let second = page_nonce(&anonymous, "/login", StatusCode::OK).await;
    assert_ne!(first, second, "a new nonce for each answer");
    page_nonce(&anonymous, "/pair?code=BCDF-GHJK", StatusCode::OK).await;

    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let enrollment = app.create_enrollment(json!({})).await;
    let id = enrollment["enrollment_id"].as_str().unwrap();
    let mut nonces = vec![first, second];
    for path in [
        "/",
        "/enrollments",
        &format!("/enrollments/{id}"),
        "/api-keys",
    ] {
        nonces.push(page_nonce(&admin, path, StatusCode::OK).await);
    }
    // The page for an unknown address is rendered by another handler, with the same care.
    nonces.push(page_nonce(&admin, "/no-such-page", StatusCode::NOT_FOUND).await);
    let distinct: std::collections::HashSet<&String> = nonces.iter().collect();
    assert_eq!(distinct.len(), nonces.len(), "{nonces:?}");
}

async fn every_answer_has_the_common_headers(app: &TestApp) {
    let portal = PortalClient::new(&app.address);
    let answers = [
        portal.client.get(app.url("/login")).send().await.unwrap(),
        portal.client.get(app.url("/users")).send().await.unwrap(),
        app.get("/ipp/v1/devices").await,
        app.client
            .get(app.url("/ipp/v1/devices"))
            .send()
            .await
            .unwrap(),
        app.get("/ipp/v1/no-such-thing").await,
        app.client
            .get(app.url("/ipp/v1/openapi.json"))
            .send()
            .await
            .unwrap(),
    ];
    for answer in &answers {
        let headers = answer.headers();
        let what = answer.url().path();
        assert_eq!(
            header(headers, "x-content-type-options"),
            "nosniff",
            "{what}"
        );
        assert_eq!(header(headers, "referrer-policy"), "same-origin", "{what}");
        // The tests' public URL is https://portal.test.
        assert_eq!(
            header(headers, "strict-transport-security"),
            "max-age=31536000",
            "{what}"
        );
    }
    // The API's answers are data: nothing in them may run or be framed.
    for answer in &answers[2..] {
        assert_eq!(
            header(answer.headers(), "content-security-policy"),
            "default-src 'none'; frame-ancestors 'none'"
        );
    }
}

async fn a_plain_http_portal_does_not_ask_for_https(app: &TestApp) {
    let page = app.client.get(app.url("/login")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page.headers().get("strict-transport-security").is_none());
    assert_eq!(header(page.headers(), "x-content-type-options"), "nosniff");
    let api = app.get("/ipp/v1/devices").await;
    assert!(api.headers().get("strict-transport-security").is_none());
}

fn assert_not_stored(headers: &HeaderMap, what: &str) {
    assert_eq!(
        header(headers, "cache-control"),
        "private, no-store",
        "{what}"
    );
}

async fn api_answers_with_secrets_or_credentials_are_never_stored(app: &TestApp) {
    // A new pairing code.
    let created = app.post_json("/ipp/v1/enrollments", &json!({})).await;
    assert_not_stored(created.headers(), "enrollment create");
    let enrollment = expect_json(created, StatusCode::CREATED).await;
    let id = enrollment["enrollment_id"].as_str().unwrap();
    let code = enrollment["enrollment_code"].as_str().unwrap();
    // The code again, while it is pending.
    let one = app.get(&format!("/ipp/v1/enrollments/{id}")).await;
    assert_not_stored(one.headers(), "enrollment get");
    assert_eq!(
        expect_json(one, StatusCode::OK).await["enrollment_code"],
        code
    );
    let list = app.get("/ipp/v1/enrollments").await;
    assert_not_stored(list.headers(), "enrollment list");
    // A device token, to a caller with no credentials.
    let registered = app.register(code, "hw-cache").await;
    assert_not_stored(registered.headers(), "registration");
    let registration = expect_json(registered, StatusCode::CREATED).await;
    let token = registration["credentials"]["access_token"]
        .as_str()
        .unwrap();
    // Every other authenticated answer, and refusals.
    let me = app
        .client
        .get(app.url("/ipp/v1/devices/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    assert_not_stored(me.headers(), "devices/me");
    for path in [
        "/ipp/v1/devices",
        "/ipp/v1/locations",
        "/ipp/v1/audit-events",
    ] {
        let answer = app.get(path).await;
        assert_eq!(answer.status(), StatusCode::OK, "{path}");
        assert_not_stored(answer.headers(), path);
    }
    let device_id = registration["device"]["id"].as_str().unwrap();
    let patched = app
        .request(Method::PATCH, &format!("/ipp/v1/devices/{device_id}"))
        .json(&json!({"name": "Till 9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(patched.status(), StatusCode::OK);
    assert_not_stored(patched.headers(), "device patch");
    let refused = app
        .client
        .get(app.url("/ipp/v1/devices"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    assert_not_stored(refused.headers(), "a refusal");
}

async fn portal_pages_and_server_functions_are_never_stored(app: &TestApp) {
    let anonymous = PortalClient::new(&app.address);
    let login = anonymous
        .client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(login.headers(), "cache-control"),
        "no-store",
        "the login page"
    );

    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let enrollment = app.create_enrollment(json!({})).await;
    let id = enrollment["enrollment_id"].as_str().unwrap();
    for path in [
        "/",
        "/enrollments",
        &format!("/enrollments/{id}"),
        "/api-keys",
        "/users",
        "/account",
        "/devices.csv",
    ] {
        let page = admin.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert_eq!(
            header(page.headers(), "cache-control"),
            "no-store",
            "{path}"
        );
    }
    // A new API key, as the page's form receives it.
    let created = admin
        .client
        .post(app.url(CreateApiKey::PATH))
        .form(&[("name", "ERP")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(
        header(created.headers(), "cache-control"),
        "no-store",
        "a new API key"
    );
}
