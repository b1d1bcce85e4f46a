//! Second factors in the portal: an authenticator app enrolled and asked for at sign-in,
//! codes used once, wrong codes limited like passwords (also under a race), recovery
//! codes, the merchant's rule (held by every server function), an admin's reset, and
//! other sessions ending when a factor goes.

use app::ui::components::passkeys::{
    FinishAddingPasskey, FinishPasskeySecondStep, FinishPasskeySignIn, PasskeysUnavailable,
    StartAddingPasskey, StartPasskeySecondStep, StartPasskeySignIn,
};
use app::ui::pages::account::MyPasskeys;
use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use serde_json::Value;

use app::domain::paging::PageRequest;
use app::domain::role::Role;
use app::domain::second_factor::{secret_from_base32, step_at, totp_code};
use app::services::{Actor, AuditQuery, LOGIN_FAILURES_PER_ACCOUNT};
use app::ui::pages::account::{ChangePassword, TimeZones};
use app::ui::pages::overview::Overview;
use app::ui::pages::second_factors::{
    ConfirmAuthenticator, RegenerateRecoveryCodes, RemoveAuthenticator, SecondFactorsSection,
    StartAuthenticator,
};
use app::ui::pages::second_step::{SecondStepPage, VerifyCode, VerifyRecoveryCode};
use app::ui::pages::users::{ResetSecondFactors, SetSecondFactorRule, UsersPage};
use app::ui::session::{CurrentUser, Login, Logout, TakeNotice, TakeOldInput};

use crate::helpers::{PASSWORD, PortalClient, TestApp};
use crate::on_both_databases;

on_both_databases!(
    an_authenticator_app_is_enrolled_and_asked_for_at_sign_in,
    a_code_is_accepted_once_even_sent_twice_at_once,
    wrong_codes_are_limited_like_passwords_under_a_race,
    a_recovery_code_works_once,
    the_rule_holds_every_server_function_until_a_factor_is_added,
    removing_a_factor_ends_the_other_sessions,
    an_admin_resets_a_users_second_factors,
);

/// The code the authenticator app of `secret` shows now, and `steps` steps (of 30 s) on.
fn code_at(app: &TestApp, secret: &[u8], steps: i64) -> String {
    totp_code(secret, step_at(app.services.now()) + steps)
}

/// Enrolls an authenticator app for the user signed in on `portal`, as My account does;
/// returns its secret and the recovery codes shown. The clock then moves on a step, so
/// the code used to confirm is not the one the app shows next.
pub async fn enroll_authenticator(app: &TestApp, portal: &PortalClient) -> (Vec<u8>, Vec<String>) {
    let (status, body) = portal.call(StartAuthenticator::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, data) = portal.call(SecondFactorsSection::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK, "{data}");
    let waiting = &data["factors"]["authenticator"]["Waiting"];
    let secret_text = waiting["secret"].as_str().expect("a waiting secret");
    assert!(
        waiting["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/"),
        "{waiting}"
    );
    assert!(data["qr_svg"].as_str().unwrap().starts_with("<svg"));
    let secret = secret_from_base32(secret_text).unwrap();
    assert_eq!(secret.len(), 20);

    let (status, error) = portal
        .call(ConfirmAuthenticator::PATH, &[("code", "12345")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "code");
    let code = code_at(app, &secret, 0);
    let (status, codes) = portal
        .call(ConfirmAuthenticator::PATH, &[("code", &code)])
        .await;
    assert_eq!(status, StatusCode::OK, "{codes}");
    let codes: Vec<String> = serde_json::from_value(codes).expect("recovery codes");
    assert_eq!(codes.len(), 10);
    app.clock.advance_seconds(30);
    (secret, codes)
}

/// Posts the sign-in form; returns where it leads.
async fn sign_in(portal: &PortalClient, email: &str) -> String {
    let response = portal
        .client
        .post(format!("{}{}", portal.address, Login::PATH))
        .header("accept", "text/html")
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("next", "/devices"),
        ])
        .send()
        .await
        .expect("send");
    assert!(response.status().is_redirection(), "{}", response.status());
    response.headers()["location"].to_str().unwrap().to_owned()
}

async fn signed_in_email(portal: &PortalClient) -> Value {
    portal.call(CurrentUser::PATH, &[]).await.1["email"].clone()
}

async fn audit_actions(app: &TestApp, action: &str) -> Vec<app::model::AuditEvent> {
    app.services
        .list_audit_events(
            &Actor::system(&app.merchant.id),
            AuditQuery {
                action: Some(action.to_owned()),
                ..AuditQuery::default()
            },
            PageRequest::new(Some(0), Some(100)).unwrap(),
        )
        .await
        .unwrap()
        .content
}

async fn an_authenticator_app_is_enrolled_and_asked_for_at_sign_in(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (secret, _) = enroll_authenticator(app, &ops).await;
    let (_, data) = ops.call(SecondFactorsSection::PATH, &[]).await;
    assert!(data["factors"]["authenticator"]["Confirmed"]["since"].is_string());
    assert_eq!(data["factors"]["recovery_codes_left"], 10);
    assert_eq!(
        audit_actions(app, "user.second_factor_added").await.len(),
        1
    );

    // After the password nobody is signed in yet: the second step waits.
    let phone = PortalClient::new(&app.address);
    assert_eq!(
        sign_in(&phone, "ops@shop.example").await,
        "/login/verify?next=%2Fdevices"
    );
    assert_eq!(signed_in_email(&phone).await, Value::Null);
    assert_eq!(
        phone.call(Overview::PATH, &[]).await.0,
        StatusCode::UNAUTHORIZED
    );
    let (status, location) = phone.page("/devices").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/login/verify?next=%2Fdevices"));
    let (status, step) = phone.call(SecondStepPage::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(step["authenticator"], true);
    let page = phone.html("/login/verify?next=%2Fdevices").await;
    assert!(page.contains("name=\"code\""), "{page}");
    assert!(page.contains("name=\"recovery_code\""));

    // Without JavaScript: a wrong code goes back to the form with the error.
    let wrong = if code_at(app, &secret, 0) == "000000" {
        "111111"
    } else {
        "000000"
    };
    let back = phone
        .post_form(
            VerifyCode::PATH,
            "/login/verify?next=%2Fdevices",
            &[("code", wrong), ("next", "/devices")],
        )
        .await;
    assert!(back.contains("/login/verify?next=%2Fdevices&"), "{back}");
    let page = phone.html(&back).await;
    assert!(page.contains("wrong or was used already"), "{page}");
    assert_eq!(signed_in_email(&phone).await, Value::Null);

    let code = code_at(app, &secret, 0);
    let next = phone
        .post_form(
            VerifyCode::PATH,
            "/login/verify?next=%2Fdevices",
            &[("code", &code), ("next", "/devices")],
        )
        .await;
    assert_eq!(next, "/devices");
    assert_eq!(signed_in_email(&phone).await, "ops@shop.example");
    assert_eq!(phone.page("/devices").await.0, StatusCode::OK);

    // The same code again, in a sign-in of its own, is refused: each code works once.
    let laptop = PortalClient::new(&app.address);
    sign_in(&laptop, "ops@shop.example").await;
    let (status, error) = laptop.call(VerifyCode::PATH, &[("code", &code)]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["Invalid"][0]["field"], "code");
    // Codes of steps before the last one used are out too; the next step's is good.
    let (status, _) = laptop
        .call(VerifyCode::PATH, &[("code", &code_at(app, &secret, -1))])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    app.clock.advance_seconds(30);
    let (status, body) = laptop
        .call(VerifyCode::PATH, &[("code", &code_at(app, &secret, 0))])
        .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {body}"
    );
    assert_eq!(signed_in_email(&laptop).await, "ops@shop.example");

    // The second step waits ten minutes at most.
    let slow = PortalClient::new(&app.address);
    sign_in(&slow, "ops@shop.example").await;
    app.clock.advance_seconds(11 * 60);
    let (status, _) = slow
        .call(VerifyCode::PATH, &[("code", &code_at(app, &secret, 0))])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(slow.call(SecondStepPage::PATH, &[]).await.1, Value::Null);
}

async fn a_code_is_accepted_once_even_sent_twice_at_once(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (secret, _) = enroll_authenticator(app, &ops).await;
    let first = PortalClient::new(&app.address);
    let second = PortalClient::new(&app.address);
    sign_in(&first, "ops@shop.example").await;
    sign_in(&second, "ops@shop.example").await;
    let code = code_at(app, &secret, 0);
    let fields = [("code", code.as_str())];
    let (a, b) = tokio::join!(
        first.call(VerifyCode::PATH, &fields),
        second.call(VerifyCode::PATH, &fields),
    );
    let accepted = [a.0, b.0]
        .iter()
        .filter(|status| status.is_success() || status.is_redirection())
        .count();
    assert_eq!(accepted, 1, "{a:?} {b:?}");
}

async fn wrong_codes_are_limited_like_passwords_under_a_race(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (secret, _) = enroll_authenticator(app, &ops).await;
    let thief = PortalClient::new(&app.address);
    sign_in(&thief, "ops@shop.example").await;
    let right = code_at(app, &secret, 0);
    let wrong = |i: usize| {
        let code = format!("{:06}", (i * 7919) % 1_000_000);
        // Never the code of a step that would be accepted.
        if (-1..=1).any(|steps| code_at(app, &secret, steps) == code) {
            "999999".to_owned()
        } else {
            code
        }
    };
    let guesses: Vec<[(&str, String); 1]> = (0..50).map(|i| [("code", wrong(i))]).collect();
    let guesses: Vec<[(&str, &str); 1]> = guesses
        .iter()
        .map(|[(name, code)]| [(*name, code.as_str())])
        .collect();
    let answers = futures::future::join_all(
        guesses
            .iter()
            .map(|fields| thief.call(VerifyCode::PATH, fields)),
    )
    .await;
    let judged = answers
        .iter()
        .filter(|(status, _)| *status != StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!(judged as i64, LOGIN_FAILURES_PER_ACCOUNT, "{answers:?}");
    assert!(
        answers
            .iter()
            .filter(|(status, _)| *status != StatusCode::TOO_MANY_REQUESTS)
            .all(|(status, _)| *status == StatusCode::BAD_REQUEST)
    );
    // Now the right code waits too, and so does the password: one counter per account.
    let (status, body) = thief.call(VerifyCode::PATH, &[("code", &right)]).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    let (status, _) = PortalClient::new(&app.address)
        .login("ops@shop.example", PASSWORD)
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

    app.clock.advance_seconds(15 * 60);
    let owner = PortalClient::new(&app.address);
    sign_in(&owner, "ops@shop.example").await;
    let (status, _) = owner
        .call(VerifyCode::PATH, &[("code", &code_at(app, &secret, 0))])
        .await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
}

async fn a_recovery_code_works_once(app: &TestApp) {
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (_, codes) = enroll_authenticator(app, &ops).await;
    // Stored as hashes only.
    let storage = app.storage().await;
    let user = storage
        .user_by_email("ops@shop.example")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(storage.unused_recovery_codes(&user.id).await.unwrap(), 10);

    let lost_phone = PortalClient::new(&app.address);
    sign_in(&lost_phone, "ops@shop.example").await;
    // However typed: upper case, spaces for dashes.
    let typed = codes[0].to_uppercase().replace('-', " ");
    let (status, body) = lost_phone
        .call(VerifyRecoveryCode::PATH, &[("recovery_code", &typed)])
        .await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {body}"
    );
    assert_eq!(signed_in_email(&lost_phone).await, "ops@shop.example");
    assert_eq!(storage.unused_recovery_codes(&user.id).await.unwrap(), 9);
    assert_eq!(audit_actions(app, "user.recovery_code_used").await.len(), 1);

    let again = PortalClient::new(&app.address);
    sign_in(&again, "ops@shop.example").await;
    let (status, error) = again
        .call(VerifyRecoveryCode::PATH, &[("recovery_code", &codes[0])])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error["Invalid"][0]["field"], "recovery_code");

    // New codes void the old ones.
    let (status, fresh) = lost_phone.call(RegenerateRecoveryCodes::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    let fresh: Vec<String> = serde_json::from_value(fresh).unwrap();
    assert_eq!(fresh.len(), 10);
    assert!(fresh.iter().all(|code| !codes.contains(code)));
    let (status, _) = again
        .call(VerifyRecoveryCode::PATH, &[("recovery_code", &codes[1])])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    // Without JavaScript, as a plain form.
    let next = again
        .post_form(
            VerifyRecoveryCode::PATH,
            "/login/verify?next=%2F",
            &[("recovery_code", &fresh[0]), ("next", "/")],
        )
        .await;
    assert_eq!(next, "/");
    assert_eq!(signed_in_email(&again).await, "ops@shop.example");
    assert_eq!(
        audit_actions(app, "user.recovery_codes_regenerated")
            .await
            .len(),
        1
    );
}

/// Calls the server function at `path` as `portal`, filling in each argument the server
/// says is missing with "1", until the call gets past reading its arguments.
async fn call_with_any_arguments(portal: &PortalClient, path: &str) -> (StatusCode, Value) {
    let mut fields: Vec<(String, String)> = Vec::new();
    for _ in 0..10 {
        let borrowed: Vec<(&str, &str)> = fields
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_str()))
            .collect();
        let (status, body) = portal.call(path, &borrowed).await;
        let unreadable = body["Communication"]
            .as_str()
            .filter(|_| status == StatusCode::BAD_REQUEST);
        let Some(text) = unreadable else {
            return (status, body);
        };
        match text.split("missing field `").nth(1) {
            Some(rest) => {
                let field = rest.split('`').next().unwrap_or_default();
                fields.push((field.to_owned(), "true".to_owned()));
            }
            // The last one filled in is a number, not a flag.
            None => match fields.last_mut() {
                Some((_, value)) if value == "true" => *value = "1".to_owned(),
                _ => return (status, body),
            },
        }
    }
    panic!("{path}: too many missing arguments");
}

async fn the_rule_holds_every_server_function_until_a_factor_is_added(app: &TestApp) {
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    // An admin without a second factor would shut themselves out.
    let (status, body) = admin
        .call(SetSecondFactorRule::PATH, &[("required", "true")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    enroll_authenticator(app, &admin).await;
    let (status, body) = admin
        .call(SetSecondFactorRule::PATH, &[("required", "true")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (_, users) = admin.call(UsersPage::PATH, &[]).await;
    assert_eq!(users["second_factor_required"], true);
    assert_eq!(
        audit_actions(app, "merchant.second_factor_rule_changed")
            .await
            .len(),
        1
    );

    // A user without one signs in with the password alone, and is sent to set one up.
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (status, location) = ops.page("/devices").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(location.as_deref(), Some("/account"));
    assert_eq!(ops.page("/account").await.0, StatusCode::OK);
    let (status, me) = ops.call(CurrentUser::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["must_add_second_factor"], true);

    // Every server function but those for adding a factor (and signing in and out,
    // choosing a password, the notices) refuses them.
    let allowed = [
        CurrentUser::PATH,
        Login::PATH,
        Logout::PATH,
        TakeNotice::PATH,
        TakeOldInput::PATH,
        ChangePassword::PATH,
        TimeZones::PATH,
        SecondFactorsSection::PATH,
        StartAuthenticator::PATH,
        ConfirmAuthenticator::PATH,
        RemoveAuthenticator::PATH,
        RegenerateRecoveryCodes::PATH,
        SecondStepPage::PATH,
        VerifyCode::PATH,
        VerifyRecoveryCode::PATH,
        // Passkeys: listing and adding one, and the sign-in ceremonies.
        MyPasskeys::PATH,
        PasskeysUnavailable::PATH,
        StartAddingPasskey::PATH,
        FinishAddingPasskey::PATH,
        StartPasskeySignIn::PATH,
        FinishPasskeySignIn::PATH,
        StartPasskeySecondStep::PATH,
        FinishPasskeySecondStep::PATH,
    ];
    let mut checked = 0;
    for (path, _) in leptos::server_fn::axum::server_fn_paths() {
        if allowed.contains(&path) {
            continue;
        }
        let (status, body) = call_with_any_arguments(&ops, path).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body["SecondFactorRequired"].is_string(), "{path}: {body}");
        checked += 1;
    }
    assert!(checked >= 30, "only {checked} server functions seen");
    let export = ops
        .client
        .get(format!("{}/devices.csv", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(export.status(), StatusCode::FORBIDDEN);
    // The Device API's keys are not touched by the rule.
    assert_eq!(app.get("/ipp/v1/devices").await.status(), StatusCode::OK);

    // Once they have one, all is open again.
    enroll_authenticator(app, &ops).await;
    assert_eq!(ops.page("/devices").await.0, StatusCode::OK);
    assert_eq!(ops.call(Overview::PATH, &[]).await.0, StatusCode::OK);
}

async fn removing_a_factor_ends_the_other_sessions(app: &TestApp) {
    let desk = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (secret, _) = enroll_authenticator(app, &desk).await;
    let phone = PortalClient::new(&app.address);
    sign_in(&phone, "ops@shop.example").await;
    let (status, _) = phone
        .call(VerifyCode::PATH, &[("code", &code_at(app, &secret, 0))])
        .await;
    assert!(status.is_success() || status.is_redirection());
    assert_eq!(signed_in_email(&phone).await, "ops@shop.example");

    let (status, body) = desk.call(RemoveAuthenticator::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(signed_in_email(&desk).await, "ops@shop.example");
    assert_eq!(signed_in_email(&phone).await, Value::Null);
    assert_eq!(
        audit_actions(app, "user.second_factor_removed").await.len(),
        1
    );
    // No factor left: the password alone signs in, and the recovery codes are gone.
    let (_, data) = desk.call(SecondFactorsSection::PATH, &[]).await;
    assert_eq!(data["factors"]["authenticator"], "None");
    assert_eq!(data["factors"]["recovery_codes_left"], 0);
    assert_eq!(sign_in(&phone, "ops@shop.example").await, "/devices");
}

async fn an_admin_resets_a_users_second_factors(app: &TestApp) {
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    enroll_authenticator(app, &ops).await;
    let (_, users) = admin.call(UsersPage::PATH, &[]).await;
    let ops_row = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .find(|user| user["email"] == "ops@shop.example")
        .unwrap()
        .clone();
    assert_eq!(ops_row["has_second_factor"], true);
    let ops_id = ops_row["id"].as_str().unwrap();

    // Only who may manage users may reset.
    let (status, _) = ops
        .call(ResetSecondFactors::PATH, &[("user_id", ops_id)])
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    let (status, body) = admin
        .call(ResetSecondFactors::PATH, &[("user_id", ops_id)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(signed_in_email(&ops).await, Value::Null, "signed out");
    let reset = audit_actions(app, "user.second_factors_reset").await;
    assert_eq!(reset.len(), 1);
    assert_eq!(reset[0].actor.label, "admin@shop.example");
    assert_eq!(reset[0].details["authenticator_apps"], 1);
    assert_eq!(reset[0].details["recovery_codes"], 10);
    // The password alone signs them in now.
    let again = PortalClient::new(&app.address);
    assert_eq!(sign_in(&again, "ops@shop.example").await, "/devices");
}
