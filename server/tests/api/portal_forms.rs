//! Forms posted without JavaScript: a refused form comes back with what was typed in it
//! (never a password), once, on the page it was sent from.

use app::ui::pages::api_keys::CreateApiKey;
use app::ui::pages::enrollments::CreateEnrollment;
use app::ui::pages::enrollments::EnrollmentsPage;
use app::ui::pages::users::CreateUser;
use leptos::server_fn::ServerFn;

use app::domain::role::Role;
use app::ui::pages::devices::RenameDevice;
use app::ui::session::Login;

use crate::helpers::{PASSWORD, PortalClient, TestApp};
use crate::on_both_databases;

on_both_databases!(
    a_refused_sign_in_keeps_the_email_but_never_the_password,
    a_refused_pairing_code_comes_back_as_typed,
    refused_users_keys_and_renames_come_back_as_typed,
);

/// The start tag of the element with this id.
fn element<'a>(html: &'a str, id: &str) -> &'a str {
    let at = html
        .find(&format!(" id=\"{id}\""))
        .unwrap_or_else(|| panic!("no element #{id}"));
    let start = html[..at].rfind('<').unwrap();
    let end = at + html[at..].find('>').unwrap();
    &html[start..=end]
}

/// The start tag of the `<option>` with this value inside the `<select>` with this id.
fn option<'a>(html: &'a str, select: &str, value: &str) -> &'a str {
    let from = html.find(&format!(" id=\"{select}\"")).unwrap();
    let end = from + html[from..].find("</select>").unwrap();
    let at = from + html[from..end].find(&format!("value=\"{value}\"")).unwrap();
    let start = html[..at].rfind('<').unwrap();
    &html[start..at + html[at..].find('>').unwrap() + 1]
}

async fn a_refused_sign_in_keeps_the_email_but_never_the_password(app: &TestApp) {
    app.create_user(&app.merchant.id, "ops@shop.example", Role::Ops, &[])
        .await;
    let portal = PortalClient::new(&app.address);
    let wrong = "not the password 42";
    let back = portal
        .post_form(
            Login::PATH,
            "/login?next=%2Fdevices",
            &[
                ("email", "ops@shop.example"),
                ("password", wrong),
                ("next", "/devices"),
            ],
        )
        .await;
    // Back to the form, the email as typed in its URL (nobody is signed in, so nothing is
    // kept in a session), never the password.
    assert!(
        back.starts_with("/login?next=%2Fdevices&email=ops%40shop.example&__path="),
        "{back}"
    );
    assert!(!back.contains("42"), "the password is never sent back");

    let page = portal.html(&back).await;
    assert!(page.contains("wrong email or password"));
    assert!(element(&page, "email").contains("value=\"ops@shop.example\""));
    assert!(!element(&page, "password").contains("value="));
    assert!(!page.contains(wrong), "the password is never sent back");

    // Without the refusal in the URL, the form starts empty.
    let fresh = portal.html("/login?email=ops%40shop.example").await;
    assert!(!element(&fresh, "email").contains("value="));

    // A successful sign-in leaves nothing behind, and goes on to `next`.
    let next = portal
        .post_form(
            Login::PATH,
            "/login",
            &[
                ("email", "ops@shop.example"),
                ("password", PASSWORD),
                ("next", "/devices"),
            ],
        )
        .await;
    assert_eq!(next, "/devices");
    let (status, _) = portal.page("/").await;
    assert!(status.is_success());
}

async fn a_refused_pairing_code_comes_back_as_typed(app: &TestApp) {
    let kiosk = app.create_location("Kiosk").await;
    let ops = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let back = ops
        .post_form(
            CreateEnrollment::PATH,
            "/enrollments",
            &[
                ("location_id", &kiosk),
                ("expiry", "custom"),
                ("custom_minutes", "90"),
                ("metadata_keys[0]", "store"),
                ("metadata_values[0]", "s1"),
                ("metadata_keys[1]", "bad key"),
                ("metadata_values[1]", "x"),
                ("metadata_keys[2]", ""),
                ("metadata_values[2]", ""),
                ("metadata_keys[3]", "till"),
                ("metadata_values[3]", "4"),
            ],
        )
        .await;
    assert!(back.contains("/enrollments?__path="), "{back}");

    let page = ops.html(&back).await;
    assert!(option(&page, "location_id", &kiosk).contains("selected"));
    assert!(!option(&page, "location_id", &app.merchant.location_id).contains("selected"));
    assert!(option(&page, "expiry", "custom").contains("selected"));
    assert!(element(&page, "custom_minutes").contains("value=\"90\""));
    // The rows as typed, the empty one dropped; the browser's metadata rows start with them.
    for (row, key, value) in [(0, "store", "s1"), (1, "bad key", "x"), (2, "till", "4")] {
        assert!(element(&page, &format!("mk-{row}")).contains(&format!("value=\"{key}\"")));
        assert!(element(&page, &format!("mv-{row}")).contains(&format!("value=\"{value}\"")));
    }
    assert!(page.contains(
        "[[&quot;store&quot;,&quot;s1&quot;],[&quot;bad key&quot;,&quot;x&quot;],[&quot;till&quot;,&quot;4&quot;]]"
    ));
    let message = &page[page.find("id=\"metadata-error\"").unwrap()..];
    assert!(
        message.starts_with("id=\"metadata-error\" class=\"field-error\">a metadata key uses only")
    );
    assert_eq!(
        ops.call(EnrollmentsPage::PATH, &[]).await.1["page"]["total_elements"],
        0
    );

    // Shown once: reloading the page gives a fresh form.
    let again = ops.html(&back).await;
    assert!(option(&again, "expiry", "2h").contains("selected"));
    assert!(element(&again, "mk-0").contains("value=\"\""));

    // The sheet form keeps its count too.
    let back = ops
        .post_form(
            CreateEnrollment::PATH,
            "/enrollments/new-sheet",
            &[
                ("count", "7"),
                ("location_id", &kiosk),
                ("expiry", "custom"),
            ],
        )
        .await;
    let page = ops.html(&back).await;
    assert!(element(&page, "count").contains("value=\"7\""));
    assert!(page.contains("enter the lifetime in whole minutes"));
}

async fn refused_users_keys_and_renames_come_back_as_typed(app: &TestApp) {
    let device = app
        .enroll_device(serde_json::json!({"store": "s1"}), "hw-1")
        .await;
    let id = device["device"]["id"].as_str().unwrap();
    let kiosk = app.create_location("Kiosk").await;
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;

    let secret = "a secret password 1";
    let back = admin
        .post_form(
            CreateUser::PATH,
            "/users",
            &[
                ("email", "new@shop"),
                ("role", "store_manager"),
                ("location_ids[1]", &kiosk),
                ("password", secret),
            ],
        )
        .await;
    let page = admin.html(&back).await;
    assert!(page.contains("enter an email address like name@example.com"));
    assert!(element(&page, "new-email").contains("value=\"new@shop\""));
    assert!(option(&page, "new-role", "store_manager").contains("selected"));
    let checkbox = |location: &str| {
        (0..2)
            .map(|index| element(&page, &format!("new-loc-{index}")))
            .find(|tag| tag.contains(&format!("value=\"{location}\"")))
            .unwrap()
    };
    assert!(checkbox(&kiosk).contains("checked"));
    assert!(!checkbox(&app.merchant.location_id).contains("checked"));
    assert!(!element(&page, "new-password").contains("value="));
    assert!(!page.contains(secret), "the password is never sent back");

    let long_name = "n".repeat(101);
    let back = admin
        .post_form(CreateApiKey::PATH, "/api-keys", &[("name", &long_name)])
        .await;
    let page = admin.html(&back).await;
    assert!(element(&page, "key-name").contains(&format!("value=\"{long_name}\"")));
    assert!(page.contains("id=\"name-error\" class=\"field-error\">"));
    assert!(!page.contains("data-testid=\"new-api-key\""));

    let too_long = "r".repeat(101);
    let back = admin
        .post_form(
            RenameDevice::PATH,
            "/devices",
            &[("id", id), ("name", &too_long)],
        )
        .await;
    let page = admin.html(&back).await;
    assert!(element(&page, "rename-0").contains(&format!("value=\"{too_long}\"")));
    assert!(page.contains("<details open class=\"inline-edit\">"));
    let message = &page[page.find("id=\"rename-0-error\"").unwrap()..];
    assert!(!message.starts_with("id=\"rename-0-error\" class=\"field-error\"></p>"));
}
