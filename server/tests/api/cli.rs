use std::process::Stdio;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::AsyncWriteExt;

use crate::helpers::{TestApp, expect_json};
use crate::on_both_databases;

on_both_databases!(
    bootstrap_commands_create_a_working_merchant,
    bootstrap_commands_refuse_bad_input,
    the_pos_simulator_registers_and_asks_who_it_is,
    reset_mfa_removes_every_second_factor_of_a_locked_out_user,
);

struct Output {
    success: bool,
    exit_code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Output {
    /// The one JSON line a successful command prints.
    fn json(&self) -> Value {
        assert!(self.success, "command failed: {}", self.stderr);
        let lines: Vec<&str> = self.stdout.lines().collect();
        assert_eq!(lines.len(), 1, "one line on stdout: {}", self.stdout);
        serde_json::from_str(lines[0]).expect("a JSON line")
    }
}

async fn ipp_portal(app: &TestApp, args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ipp-portal"))
        .args(args)
        .env("DATABASE_URL", &app.database_url)
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start ipp-portal");
    let mut input = child.stdin.take().unwrap();
    if let Some(text) = stdin
        && let Err(error) = input.write_all(text.as_bytes()).await
    {
        // A command that refuses its arguments may exit before it reads its input.
        assert_eq!(error.kind(), std::io::ErrorKind::BrokenPipe, "{error}");
    }
    drop(input);
    let output = child.wait_with_output().await.unwrap();
    Output {
        success: output.status.success(),
        exit_code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn bootstrap_commands_create_a_working_merchant(app: &TestApp) {
    let merchant = ipp_portal(
        app,
        &["merchant", "create", "--name", "Corner Bakery"],
        None,
    )
    .await
    .json();
    assert_eq!(merchant["name"], "Corner Bakery");
    let merchant_id = merchant["id"].as_str().unwrap();

    let location = ipp_portal(
        app,
        &[
            "location",
            "create",
            "--merchant",
            merchant_id,
            "--name",
            "Old Town",
            "--city",
            "Uppsala",
        ],
        None,
    )
    .await
    .json();
    assert_eq!(location["city"], "Uppsala");
    let location_id = location["id"].as_str().unwrap();

    let user = ipp_portal(
        app,
        &[
            "user",
            "create",
            "--merchant",
            merchant_id,
            "--email",
            "Manager@Bakery.Example",
            "--role",
            "store-manager",
            "--location",
            location_id,
            "--password-stdin",
        ],
        Some("a long enough password\n"),
    )
    .await
    .json();
    assert_eq!(user["email"], "manager@bakery.example");
    assert_eq!(user["role"], "store_manager");
    assert_eq!(user["location_ids"], json!([location_id]));
    assert!(!user.to_string().contains("a long enough password"));
    let stored = app
        .storage()
        .await
        .user_by_email("manager@bakery.example")
        .await
        .unwrap()
        .unwrap();
    assert!(stored.password_hash.starts_with("$argon2id$"));
    assert!(app::passwords::verify_password(
        "a long enough password",
        &stored.password_hash
    ));

    let key = ipp_portal(
        app,
        &[
            "api-key",
            "create",
            "--merchant",
            merchant_id,
            "--name",
            "ERP",
        ],
        None,
    )
    .await
    .json();
    let secret = key["key"].as_str().unwrap();
    assert!(secret.starts_with("ipp_sk_"));
    // The key works against the running server, which shares the database.
    let response = app
        .client
        .get(app.url("/ipp/v1/locations"))
        .bearer_auth(secret)
        .send()
        .await
        .unwrap();
    let locations = expect_json(response, StatusCode::OK).await;
    assert_eq!(locations["content"][0]["id"], location_id);
    // Only its hash is stored.
    let keys = app.storage().await.api_keys(merchant_id).await.unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0].key_prefix, &secret[..13]);
}

async fn bootstrap_commands_refuse_bad_input(app: &TestApp) {
    // Exit codes tell scripts the kind of failure: 66 no such object, 65 bad input,
    // 2 a usage error caught by the argument parser.
    let cases: [(&[&str], Option<&str>, &str, i32); 6] = [
        (
            &["location", "create", "--merchant", "nope", "--name", "X"],
            None,
            "no such merchant",
            66,
        ),
        (&["merchant", "create", "--name", "  "], None, "name", 65),
        (
            &[
                "user",
                "create",
                "--merchant",
                &app.merchant.id,
                "--email",
                "x@y.example",
                "--role",
                "admin",
                "--password-stdin",
            ],
            Some("short\n"),
            "password",
            65,
        ),
        (
            &[
                "user",
                "create",
                "--merchant",
                &app.merchant.id,
                "--email",
                "not-an-email",
                "--role",
                "ops",
                "--password-stdin",
            ],
            Some("a long enough password"),
            "email",
            65,
        ),
        (
            &[
                "user",
                "create",
                "--merchant",
                &app.merchant.id,
                "--email",
                "s@y.example",
                "--role",
                "store-manager",
                "--password-stdin",
            ],
            Some("a long enough password"),
            "location",
            65,
        ),
        (
            &[
                "user",
                "create",
                "--merchant",
                &app.merchant.id,
                "--email",
                "r@y.example",
                "--role",
                "root",
                "--password-stdin",
            ],
            Some("a long enough password"),
            "root",
            2,
        ),
    ];
    for (args, stdin, mentions, exit_code) in cases {
        let output = ipp_portal(app, args, stdin).await;
        assert!(!output.success, "{args:?} should fail");
        assert_eq!(
            output.exit_code,
            Some(exit_code),
            "{args:?}: {}",
            output.stderr
        );
        assert!(
            output.stdout.is_empty(),
            "nothing on stdout: {}",
            output.stdout
        );
        assert!(
            output.stderr.contains(mentions),
            "{args:?}: {}",
            output.stderr
        );
    }
    let first = ipp_portal(
        app,
        &[
            "user",
            "create",
            "--merchant",
            &app.merchant.id,
            "--email",
            "dup@y.example",
            "--role",
            "ops",
            "--password-stdin",
        ],
        Some("a long enough password"),
    )
    .await;
    assert!(first.success, "{}", first.stderr);
    let again = ipp_portal(
        app,
        &[
            "user",
            "create",
            "--merchant",
            &app.merchant.id,
            "--email",
            "DUP@y.example",
            "--role",
            "ops",
            "--password-stdin",
        ],
        Some("a long enough password"),
    )
    .await;
    assert!(!again.success);
    assert!(again.stderr.contains("already exists"), "{}", again.stderr);
}

async fn the_pos_simulator_registers_and_asks_who_it_is(app: &TestApp) {
    let enrollment = app
        .create_enrollment(json!({"metadata": {"store": "s1"}}))
        .await;
    let link = enrollment["qr_payload"].as_str().unwrap();
    let registration = ipp_portal(
        app,
        &[
            "pos",
            "register",
            "--api-url",
            &app.address,
            "--code",
            link,
            "--platform",
            "IOS",
            "--name",
            "Sim till",
        ],
        None,
    )
    .await
    .json();
    assert_eq!(registration["device"]["name"], "Sim till");
    assert_eq!(registration["device"]["metadata"], json!({"store": "s1"}));
    let token = registration["credentials"]["access_token"]
        .as_str()
        .unwrap();

    let me = ipp_portal(
        app,
        &["pos", "whoami", "--api-url", &app.address, "--token", token],
        None,
    )
    .await
    .json();
    assert_eq!(me["id"], registration["device"]["id"]);

    let again = ipp_portal(
        app,
        &["pos", "register", "--api-url", &app.address, "--code", link],
        None,
    )
    .await;
    assert!(!again.success);
    assert!(again.stderr.contains("410"), "{}", again.stderr);
}

/// An operator helps a user who lost their phone: every factor goes (the passkeys too),
/// their sessions end, and the password alone signs them in again.
async fn reset_mfa_removes_every_second_factor_of_a_locked_out_user(app: &TestApp) {
    use app::domain::role::Role;
    use app::ui::session::CurrentUser;
    use leptos::server_fn::ServerFn;

    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    crate::second_factors::enroll_authenticator(app, &ops).await;
    let user_id = app.user_id("ops@shop.example").await;
    // A passkey, as the passkey ceremony stores one.
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    sqlx::query(
        "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind("pk-1")
    .bind(&user_id)
    .bind("Y3JlZGVudGlhbA")
    .bind("Phone")
    .bind("{}")
    .bind(1_i64)
    .execute(&pool)
    .await
    .unwrap();

    let reset = ipp_portal(
        app,
        &[
            "user",
            "reset-mfa",
            "--merchant",
            &app.merchant.id,
            "--email",
            "OPS@shop.example",
        ],
        None,
    )
    .await
    .json();
    assert_eq!(reset["email"], "ops@shop.example");
    assert_eq!(reset["authenticator_apps"], 1);
    assert_eq!(reset["passkeys"], 1);
    assert_eq!(reset["recovery_codes"], 10);
    let passkeys: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM passkeys")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(passkeys, 0);
    pool.close().await;
    assert_eq!(ops.call(CurrentUser::PATH, &[]).await.1, Value::Null);
    let (status, _) = crate::helpers::PortalClient::new(&app.address)
        .login("ops@shop.example", crate::helpers::PASSWORD)
        .await;
    assert!(status.is_success() || status.is_redirection());

    // Another merchant's user, or nobody, is no such user (66).
    let other = app.other_merchant().await;
    let refused = ipp_portal(
        app,
        &[
            "user",
            "reset-mfa",
            "--merchant",
            &other.id,
            "--email",
            "ops@shop.example",
        ],
        None,
    )
    .await;
    assert_eq!(refused.exit_code, Some(66), "{}", refused.stderr);
}
