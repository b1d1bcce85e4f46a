use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use app::ui::pages::account::ChangePassword;
use app::ui::pages::api_keys::ApiKeys;
use app::ui::pages::api_keys::CreateApiKey;
use app::ui::pages::api_keys::RevokeApiKey;
use app::ui::pages::overview::Overview;
use app::ui::pages::users::CreateUser;
use app::ui::pages::users::SetUserDisabled;
use app::ui::pages::users::UpdateUserAccess;
use app::ui::pages::users::UsersPage;
use base64::Engine;
use leptos::server_fn::ServerFn;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use app::domain::role::Role;
use app::services::{LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_SECONDS};
use app::ui::session::{CurrentUser, Login, Logout};

use crate::helpers::{Backend, PASSWORD, PortalClient, TestApp, expect_json};
use crate::on_both_databases;

on_both_databases!(
    sign_in_out_and_the_same_answer_for_any_wrong_credentials,
    pages_need_a_session_and_come_back_after_sign_in,
    repeated_failures_lock_an_account_for_a_while,
    guessing_the_current_password_counts_like_sign_in,
    server_functions_check_session_role_and_merchant,
    store_managers_see_only_their_locations,
    an_api_key_made_in_the_portal_works_until_revoked,
    disabling_a_user_ends_their_sessions_at_once,
    changing_the_password_ends_the_other_sessions,
    a_one_time_password_must_be_replaced_first,
    cross_site_changes_are_refused,
    sessions_survive_a_restart_and_are_shared_by_instances,
);

async fn sign_in_out_and_the_same_answer_for_any_wrong_credentials(app: &TestApp) {
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let portal = PortalClient::new(&app.address);

    let (status, unknown) = portal.login("nobody@shop.example", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, wrong) = portal.login("ops@shop.example", "wrong password!").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        unknown, wrong,
        "unknown email and wrong password answer alike"
    );
    assert_eq!(portal.call(CurrentUser::PATH, &[]).await.1, Value::Null);

    let (status, _) = portal.login(" OPS@Shop.Example ", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection());
    let (status, user) = portal.call(CurrentUser::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "ops@shop.example");
    assert_eq!(user["role"], "ops");
    assert_eq!(user["merchant_name"], "Test Merchant");

    portal.call(Logout::PATH, &[]).await;
    assert_eq!(portal.call(CurrentUser::PATH, &[]).await.1, Value::Null);
    assert_eq!(portal.page("/").await.0, StatusCode::SEE_OTHER);
}

async fn pages_need_a_session_and_come_back_after_sign_in(app: &TestApp) {
    let anonymous = PortalClient::new(&app.address);
    let (status, location) = anonymous.page("/users?x=1").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/login?next=%2Fusers%3Fx%3D1"));
    assert_eq!(anonymous.page("/login").await.0, StatusCode::OK);
    assert_eq!(
        anonymous.page("/pair?code=BCDF-GHJK").await.0,
        StatusCode::OK
    );

    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    assert_eq!(admin.page("/users").await.0, StatusCode::OK);
    assert_eq!(admin.page("/").await.0, StatusCode::OK);

    // The login form's `next` decides where sign-in leads, but only within the portal.
    let portal = PortalClient::new(&app.address);
    let response = portal
        .client
        .post(format!("{}{}", app.address, Login::PATH))
        .header("accept", "text/html")
        .form(&[
            ("email", "admin@shop.example"),
            ("password", PASSWORD),
            ("next", "//evil.example/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["location"], "/");
}

async fn repeated_failures_lock_an_account_for_a_while(app: &TestApp) {
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let portal = PortalClient::new(&app.address);
    for _ in 0..LOGIN_FAILURES_PER_ACCOUNT {
        assert_eq!(
            portal.login("ops@shop.example", "not the password").await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    // Now even the right password waits until the window has passed.
    let (status, body) = portal.login("ops@shop.example", PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        body.to_string().contains("too many failed sign-ins"),
        "{body}"
    );
    app.clock.advance_seconds(LOGIN_WINDOW_SECONDS);
    let (status, _) = portal.login("ops@shop.example", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
}

/// Someone holding a stolen session cannot guess the current password (to change it and
/// keep the account) faster than the sign-in form would let them.
async fn guessing_the_current_password_counts_like_sign_in(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let new = "a brand new passphrase";
    let change = |current: &'static str| {
        let ops = &ops;
        async move {
            ops.call(
                ChangePassword::PATH,
                &[
                    ("current_password", current),
                    ("new_password", new),
                    ("confirm_password", new),
                ],
            )
            .await
        }
    };
    for _ in 0..LOGIN_FAILURES_PER_ACCOUNT {
        assert_eq!(change("not the password").await.0, StatusCode::BAD_REQUEST);
    }
    let (status, body) = change(PASSWORD).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    // The same counter holds the sign-in form.
    let portal = PortalClient::new(&app.address);
    assert_eq!(
        portal.login("ops@shop.example", PASSWORD).await.0,
        StatusCode::TOO_MANY_REQUESTS
    );
    app.clock.advance_seconds(LOGIN_WINDOW_SECONDS);
    assert_eq!(change(PASSWORD).await.0, StatusCode::OK);
}

async fn server_functions_check_session_role_and_merchant(app: &TestApp) {
    let anonymous = PortalClient::new(&app.address);
    for endpoint in [UsersPage::PATH, ApiKeys::PATH, Overview::PATH] {
        assert_eq!(
            anonymous.call(endpoint, &[]).await.0,
            StatusCode::UNAUTHORIZED,
            "{endpoint}"
        );
    }
    assert_eq!(
        anonymous.call(CreateApiKey::PATH, &[("name", "x")]).await.0,
        StatusCode::UNAUTHORIZED
    );

    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    assert_eq!(ops.call(Overview::PATH, &[]).await.0, StatusCode::OK);
    for (endpoint, fields) in [
        (UsersPage::PATH, vec![]),
        (ApiKeys::PATH, vec![]),
        (CreateApiKey::PATH, vec![("name", "sneaky")]),
        (
            CreateUser::PATH,
            vec![("email", "x@shop.example"), ("role", "admin")],
        ),
    ] {
        assert_eq!(
            ops.call(endpoint, &fields).await.0,
            StatusCode::FORBIDDEN,
            "{endpoint}"
        );
    }
    let keys = app
        .storage()
        .await
        .api_keys(&app.merchant.id)
        .await
        .unwrap();
    assert_eq!(keys.len(), 1, "no key was created by the refused calls");

    // An admin of another merchant cannot touch this merchant's users.
    let other = app.other_merchant().await;
    app.create_user(&other.id, "admin@other.example", Role::Admin, &[])
        .await;
    let outsider = PortalClient::new(&app.address);
    outsider.login("admin@other.example", PASSWORD).await;
    let victim = app
        .storage()
        .await
        .user_by_email("ops@shop.example")
        .await
        .unwrap()
        .unwrap();
    let (status, _) = outsider
        .call(
            SetUserDisabled::PATH,
            &[("user_id", &victim.id), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = outsider
        .call(
            UpdateUserAccess::PATH,
            &[("user_id", &victim.id), ("role", "admin")],
        )
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let victim = app.storage().await.user(&victim.id).await.unwrap().unwrap();
    assert_eq!(victim.disabled_at, None);
    assert_eq!(victim.role, "ops");
    let (_, users) = outsider.call(UsersPage::PATH, &[]).await;
    let emails: Vec<&str> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap())
        .collect();
    assert_eq!(emails, vec!["admin@other.example"]);
}

async fn store_managers_see_only_their_locations(app: &TestApp) {
    app.enroll_device(json!({"store": "main"}), "hw-main").await;
    let kiosk = app.create_location("Kiosk").await;
    let kiosk_enrollment = app.create_enrollment(json!({"location_id": kiosk})).await;
    expect_json(
        app.register(
            kiosk_enrollment["enrollment_code"].as_str().unwrap(),
            "hw-kiosk",
        )
        .await,
        StatusCode::CREATED,
    )
    .await;

    let manager = app
        .signed_in(
            "kiosk@shop.example",
            Role::StoreManager,
            std::slice::from_ref(&kiosk),
        )
        .await;
    let (status, overview) = manager.call(Overview::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(overview["devices"], 1, "only the kiosk's device");
    assert_eq!(overview["locations"], 1);
    assert_eq!(
        manager.call(UsersPage::PATH, &[]).await.0,
        StatusCode::FORBIDDEN
    );

    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    assert_eq!(ops.call(Overview::PATH, &[]).await.1["devices"], 2);
}

async fn an_api_key_made_in_the_portal_works_until_revoked(app: &TestApp) {
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let (status, error) = admin.call(CreateApiKey::PATH, &[("name", "  ")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "name");

    let (status, key) = admin.call(CreateApiKey::PATH, &[("name", "ERP")]).await;
    assert_eq!(status, StatusCode::OK);
    let key = key.as_str().unwrap().to_owned();
    let with_key =
        |method: Method, path: &str| app.client.request(method, app.url(path)).bearer_auth(&key);
    expect_json(
        with_key(Method::GET, "/ipp/v1/devices")
            .send()
            .await
            .unwrap(),
        StatusCode::OK,
    )
    .await;

    let (_, keys) = admin.call(ApiKeys::PATH, &[]).await;
    // The page shows the merchant id, the user name of Basic authentication with the key.
    assert_eq!(keys["merchant_id"], app.merchant.id.as_str());
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{key}", app.merchant.id));
    let response = app
        .client
        .get(app.url("/ipp/v1/devices"))
        .header("authorization", format!("Basic {basic}"))
        .send()
        .await
        .unwrap();
    expect_json(response, StatusCode::OK).await;
    assert_eq!(
        keys["new_key"],
        Value::Null,
        "a key shown in the page's answer is not kept for later"
    );
    let listed = keys["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "ERP")
        .unwrap()
        .clone();
    assert_eq!(listed["created_by"], "admin@shop.example");
    assert!(listed["last_used_at"].is_string());
    assert!(
        !keys.to_string().contains(&key),
        "the secret is never listed"
    );

    let (status, _) = admin
        .call(
            RevokeApiKey::PATH,
            &[("key_id", listed["id"].as_str().unwrap())],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    expect_json(
        with_key(Method::GET, "/ipp/v1/devices")
            .send()
            .await
            .unwrap(),
        StatusCode::UNAUTHORIZED,
    )
    .await;

    let events = expect_json(
        app.get("/ipp/v1/audit-events?action=api_key.revoked").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["content"][0]["actor"]["label"], "admin@shop.example");
}

async fn disabling_a_user_ends_their_sessions_at_once(app: &TestApp) {
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    assert_eq!(ops.call(Overview::PATH, &[]).await.0, StatusCode::OK);
    let ops_id = app.user_id("ops@shop.example").await;

    let (status, _) = admin
        .call(
            SetUserDisabled::PATH,
            &[("user_id", &ops_id), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        ops.call(Overview::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(ops.page("/").await.0, StatusCode::SEE_OTHER);
    let (status, body) = ops.login("ops@shop.example", PASSWORD).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.to_string().contains("disabled"), "{body}");

    // Admins cannot lock themselves out.
    let admin_id = app.user_id("admin@shop.example").await;
    let (status, _) = admin
        .call(
            SetUserDisabled::PATH,
            &[("user_id", &admin_id), ("disabled", "true")],
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);

    let (status, _) = admin
        .call(
            SetUserDisabled::PATH,
            &[("user_id", &ops_id), ("disabled", "false")],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = ops.login("ops@shop.example", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection());
}

async fn changing_the_password_ends_the_other_sessions(app: &TestApp) {
    let laptop = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let phone = PortalClient::new(&app.address);
    phone.login("ops@shop.example", PASSWORD).await;
    assert_eq!(phone.call(Overview::PATH, &[]).await.0, StatusCode::OK);

    let new = "a brand new passphrase";
    let (status, error) = laptop
        .call(
            ChangePassword::PATH,
            &[
                ("current_password", "wrong one!!"),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "current_password");
    let (status, error) = laptop
        .call(
            ChangePassword::PATH,
            &[
                ("current_password", PASSWORD),
                ("new_password", "short"),
                ("confirm_password", "short"),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "new_password");

    let (status, _) = laptop
        .call(
            ChangePassword::PATH,
            &[
                ("current_password", PASSWORD),
                ("new_password", new),
                ("confirm_password", new),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        laptop.call(Overview::PATH, &[]).await.0,
        StatusCode::OK,
        "this session goes on"
    );
    assert_eq!(
        phone.call(Overview::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED,
        "the other one ended"
    );
    assert_eq!(
        phone.login("ops@shop.example", PASSWORD).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, _) = phone.login("ops@shop.example", new).await;
    assert!(status.is_success() || status.is_redirection());
}

async fn a_one_time_password_must_be_replaced_first(app: &TestApp) {
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let kiosk = app.create_location("Kiosk").await;
    let (status, one_time) = admin
        .call(
            CreateUser::PATH,
            &[
                ("email", "new@shop.example"),
                ("role", "store_manager"),
                ("location_ids[0]", &kiosk),
            ],
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let one_time = one_time.as_str().unwrap().to_owned();
    let (_, users) = admin.call(UsersPage::PATH, &[]).await;
    let created = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["email"] == "new@shop.example")
        .unwrap()
        .clone();
    assert_eq!(created["role"], "store_manager");
    assert_eq!(created["location_ids"], json!([kiosk]));

    let newcomer = PortalClient::new(&app.address);
    let (status, _) = newcomer.login("new@shop.example", &one_time).await;
    assert!(status.is_success() || status.is_redirection());
    assert_eq!(newcomer.page("/").await.1.as_deref(), Some("/account"));
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
    assert_eq!(newcomer.page("/").await.0, StatusCode::OK);

    let (status, error) = admin
        .call(
            CreateUser::PATH,
            &[("email", "sm@shop.example"), ("role", "store_manager")],
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "location");
}

async fn cross_site_changes_are_refused(app: &TestApp) {
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let forged = admin
        .client
        .post(format!("{}{}", app.address, CreateApiKey::PATH))
        .header("origin", "https://evil.example")
        .form(&[("name", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let fetched = admin
        .client
        .post(format!("{}{}", app.address, CreateApiKey::PATH))
        .header("sec-fetch-site", "cross-site")
        .form(&[("name", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(fetched.status(), StatusCode::FORBIDDEN);
    let keys = app
        .storage()
        .await
        .api_keys(&app.merchant.id)
        .await
        .unwrap();
    assert!(keys.iter().all(|k| k.name != "forged"));
}

async fn sessions_survive_a_restart_and_are_shared_by_instances(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (second, handle) = app.second_instance().await;
    // The same cookie jar, another server process on the same database.
    let on_second = PortalClient {
        client: ops.client.clone(),
        address: second,
    };
    let (status, user) = on_second.call(CurrentUser::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(user["email"], "ops@shop.example");
    handle.abort();
}

/// Building an application lists the portal's routes by rendering it once, and while that
/// runs Leptos holds back every resource first polled anywhere in the process. Tests,
/// the benchmark and a multi-instance process build several applications side by side,
/// so a page rendered meanwhile must still load: the listing is made once a process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pages_render_while_another_application_starts_in_the_process() {
    const SHORT_DEADLINE: Duration = Duration::from_secs(3);
    let app = TestApp::spawn_configured(Backend::Sqlite, |config| {
        config.request_timeout = SHORT_DEADLINE;
    })
    .await;
    let ops = Arc::new(app.signed_in("ops@shop.example", Role::Ops, &[]).await);

    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..4)
        .map(|_| {
            let ops = Arc::clone(&ops);
            let stop = Arc::clone(&stop);
            tokio::spawn(async move {
                let mut statuses = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    for path in ["/devices", "/enrollments", "/"] {
                        statuses.push(ops.page(path).await.0);
                    }
                }
                statuses
            })
        })
        .collect();
    for _ in 0..12 {
        TestApp::spawn(Backend::Sqlite).await.cleanup().await;
    }
    stop.store(true, Ordering::Relaxed);

    let mut pages = 0;
    for reader in readers {
        for status in reader.await.expect("reader") {
            assert_eq!(
                status,
                StatusCode::OK,
                "a page answered while others started"
            );
            pages += 1;
        }
    }
    assert!(
        pages >= 12,
        "pages were loaded while the others started ({pages})"
    );
    app.cleanup().await;
}
