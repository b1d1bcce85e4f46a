//! Passkeys driven without a browser: a software authenticator (a P-256 key, the
//! attestation and assertion a browser would pass on) talks to the portal's server
//! functions as the passkey islands do.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use leptos::server_fn::ServerFn;
use openssl::bn::{BigNum, BigNumContext};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::sign::Signer;
use reqwest::StatusCode;
use serde_json::{Value, json};

use app::domain::role::Role;
use app::ui::components::passkeys::{
    FinishAddingPasskey, FinishPasskeySecondStep, FinishPasskeySignIn, PasskeysUnavailable,
    StartAddingPasskey, StartPasskeySecondStep, StartPasskeySignIn,
};
use app::ui::pages::account::{MyPasskeys, RemovePasskey};
use app::ui::pages::second_factors::SecondFactorsSection;
use app::ui::pages::second_step::SecondStepPage;
use app::ui::session::CurrentUser;
use server::application::ApplicationConfig;

use crate::helpers::{PASSWORD, PortalClient, TestApp, expect_json};
use crate::{on_both_databases, on_both_databases_with};

on_both_databases!(
    a_passkey_is_added_listed_and_signs_in_without_a_password,
    forged_and_replayed_passkey_answers_are_refused,
    removing_a_passkey_ends_the_other_sessions,
    nobody_else_touches_your_passkeys,
    a_password_sign_in_asks_for_the_passkey_next,
    passkey_sign_ins_started_are_limited_per_address,
);

on_both_databases_with!(
    at_an_ip_address => passkeys_say_why_they_are_unavailable,
);

/// What the test app's public URL (`https://portal.test`) makes the relying party.
const RP_ID: &str = "portal.test";
const ORIGIN: &str = "https://portal.test";

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(text: &Value) -> Vec<u8> {
    URL_SAFE_NO_PAD
        .decode(text.as_str().expect("base64url text"))
        .expect("base64url")
}

/// The smallest CBOR the attestation needs: lengths as CBOR heads, maps, text, bytes.
fn cbor_head(major: u8, length: usize, out: &mut Vec<u8>) {
    let major = major << 5;
    match length {
        0..=23 => out.push(major | length as u8),
        24..=255 => out.extend([major | 24, length as u8]),
        _ => {
            out.push(major | 25);
            out.extend((length as u16).to_be_bytes());
        }
    }
}

fn cbor_text(text: &str, out: &mut Vec<u8>) {
    cbor_head(3, text.len(), out);
    out.extend(text.as_bytes());
}

fn cbor_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    cbor_head(2, bytes.len(), out);
    out.extend(bytes);
}

/// A CBOR integer key or value between -24 and 23.
fn cbor_small_int(value: i8, out: &mut Vec<u8>) {
    if value >= 0 {
        out.push(value as u8);
    } else {
        out.push(0x20 | (-1 - value) as u8);
    }
}

/// An authenticator in software, with one passkey: what Chromium's virtual authenticator
/// is in the browser tests.
struct SoftAuthenticator {
    key: EcKey<Private>,
    credential_id: Vec<u8>,
    user_handle: Vec<u8>,
    counter: u32,
}

impl SoftAuthenticator {
    fn new() -> Self {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
        let mut credential_id = vec![0u8; 32];
        openssl::rand::rand_bytes(&mut credential_id).expect("random id");
        Self {
            key: EcKey::generate(&group).expect("a key"),
            credential_id,
            user_handle: Vec::new(),
            counter: 0,
        }
    }

    /// The public key as COSE (EC2, ES256, P-256).
    fn cose_key(&self) -> Vec<u8> {
        let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).expect("P-256");
        let (mut x, mut y) = (BigNum::new().unwrap(), BigNum::new().unwrap());
        let mut context = BigNumContext::new().unwrap();
        self.key
            .public_key()
            .affine_coordinates(&group, &mut x, &mut y, &mut context)
            .expect("coordinates");
        let mut out = Vec::new();
        cbor_head(5, 5, &mut out);
        for (key, value) in [(1, 2), (3, -7), (-1, 1)] {
            cbor_small_int(key, &mut out);
            cbor_small_int(value, &mut out);
        }
        cbor_small_int(-2, &mut out);
        cbor_bytes(&x.to_vec_padded(32).unwrap(), &mut out);
        cbor_small_int(-3, &mut out);
        cbor_bytes(&y.to_vec_padded(32).unwrap(), &mut out);
        out
    }

    /// The answer to `navigator.credentials.create` with the portal's `options`.
    fn register(&mut self, options: &Value) -> String {
        let options = &options["publicKey"];
        self.user_handle = unb64(&options["user"]["id"]);
        let client_data = json!({
            "type": "webauthn.create",
            "challenge": options["challenge"],
            "origin": ORIGIN,
            "crossOrigin": false,
        })
        .to_string();
        let rp_id = options["rp"]["id"].as_str().expect("rp id");
        let mut auth_data = openssl::sha::sha256(rp_id.as_bytes()).to_vec();
        // User present, user verified, attested credential data included.
        auth_data.push(0x01 | 0x04 | 0x40);
        auth_data.extend(self.counter.to_be_bytes());
        auth_data.extend([0u8; 16]);
        auth_data.extend((self.credential_id.len() as u16).to_be_bytes());
        auth_data.extend(&self.credential_id);
        auth_data.extend(self.cose_key());
        let mut attestation = Vec::new();
        cbor_head(5, 3, &mut attestation);
        cbor_text("fmt", &mut attestation);
        cbor_text("none", &mut attestation);
        cbor_text("attStmt", &mut attestation);
        cbor_head(5, 0, &mut attestation);
        cbor_text("authData", &mut attestation);
        cbor_bytes(&auth_data, &mut attestation);
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "attestationObject": b64(&attestation),
                "clientDataJSON": b64(client_data.as_bytes()),
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }

    /// The answer to `navigator.credentials.get` with the portal's `options`, signed by
    /// `signer` (this passkey's own key, or a forger's), as `origin` reports it.
    fn assert_with(&mut self, options: &Value, signer: &EcKey<Private>, origin: &str) -> String {
        let options = &options["publicKey"];
        self.counter += 1;
        let client_data = json!({
            "type": "webauthn.get",
            "challenge": options["challenge"],
            "origin": origin,
            "crossOrigin": false,
        })
        .to_string();
        let rp_id = options["rpId"].as_str().expect("rp id");
        let mut auth_data = openssl::sha::sha256(rp_id.as_bytes()).to_vec();
        auth_data.push(0x01 | 0x04);
        auth_data.extend(self.counter.to_be_bytes());
        let mut signed = auth_data.clone();
        signed.extend(openssl::sha::sha256(client_data.as_bytes()));
        let key = PKey::from_ec_key(signer.clone()).expect("key");
        let mut signing = Signer::new(MessageDigest::sha256(), &key).expect("signer");
        signing.update(&signed).expect("sign");
        let signature = signing.sign_to_vec().expect("signature");
        json!({
            "id": b64(&self.credential_id),
            "rawId": b64(&self.credential_id),
            "type": "public-key",
            "response": {
                "authenticatorData": b64(&auth_data),
                "clientDataJSON": b64(client_data.as_bytes()),
                "signature": b64(&signature),
                "userHandle": b64(&self.user_handle),
            },
            "clientExtensionResults": {},
        })
        .to_string()
    }

    fn assert(&mut self, options: &Value) -> String {
        let key = self.key.clone();
        self.assert_with(options, &key, ORIGIN)
    }
}

/// A server function's JSON options, handed over as a JSON string.
fn options_of(body: &Value) -> Value {
    serde_json::from_str(body.as_str().expect("options as a string")).expect("options JSON")
}

/// Adds a passkey named `name` for the user signed in on `portal`.
async fn add_passkey(portal: &PortalClient, name: &str) -> SoftAuthenticator {
    let (status, body) = portal
        .call(StartAddingPasskey::PATH, &[("name", name)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut authenticator = SoftAuthenticator::new();
    let credential = authenticator.register(&options_of(&body));
    let (status, body) = portal
        .call(FinishAddingPasskey::PATH, &[("credential", &credential)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    authenticator
}

async fn start_sign_in(portal: &PortalClient) -> Value {
    let (status, body) = portal.call(StartPasskeySignIn::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    options_of(&body)
}

async fn sign_in_with(portal: &PortalClient, credential: &str) -> (StatusCode, Value) {
    portal
        .call(
            FinishPasskeySignIn::PATH,
            &[("credential", credential), ("next", "/devices")],
        )
        .await
}

async fn my_passkeys(portal: &PortalClient) -> Value {
    let (status, body) = portal.call(MyPasskeys::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn a_passkey_is_added_listed_and_signs_in_without_a_password(app: &TestApp) {
    let portal = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    assert_eq!(
        portal.call(PasskeysUnavailable::PATH, &[]).await.1,
        Value::Null
    );

    // The options bind the passkey to the public URL's host and ask for a discoverable
    // credential verified by the user.
    let (status, body) = portal
        .call(StartAddingPasskey::PATH, &[("name", "  Work laptop ")])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let options = options_of(&body);
    let public_key = &options["publicKey"];
    assert_eq!(public_key["rp"]["id"], RP_ID);
    assert_eq!(public_key["user"]["name"], "ops@shop.example");
    assert_eq!(
        public_key["authenticatorSelection"]["residentKey"],
        "required"
    );
    assert_eq!(
        public_key["authenticatorSelection"]["userVerification"],
        "required"
    );
    assert!(unb64(&public_key["challenge"]).len() >= 16);
    let mut authenticator = SoftAuthenticator::new();
    let credential = authenticator.register(&options);
    let (status, body) = portal
        .call(FinishAddingPasskey::PATH, &[("credential", &credential)])
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");

    let listed = my_passkeys(&portal).await;
    assert_eq!(listed["unavailable"], Value::Null);
    let passkeys = listed["passkeys"].as_array().expect("a list");
    assert_eq!(passkeys.len(), 1);
    assert_eq!(passkeys[0]["name"], "Work laptop");
    assert_eq!(passkeys[0]["last_used_at"], Value::Null);
    assert!(passkeys[0]["created_at"].is_string());

    // A blank name is refused before any ceremony starts.
    let (status, body) = portal
        .call(StartAddingPasskey::PATH, &[("name", "   ")])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");

    // Signing in names nobody: the browser offers whatever passkeys it holds.
    let browser = PortalClient::new(&app.address);
    let options = start_sign_in(&browser).await;
    assert_eq!(options["publicKey"]["rpId"], RP_ID);
    assert_eq!(options["publicKey"]["allowCredentials"], json!([]));
    assert_eq!(options["publicKey"]["userVerification"], "required");
    assert_eq!(options.get("mediation"), None, "a button, not autofill");
    let (status, next) = sign_in_with(&browser, &authenticator.assert(&options)).await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_eq!(next, "/devices");
    let (_, me) = browser.call(CurrentUser::PATH, &[]).await;
    assert_eq!(me["email"], "ops@shop.example");
    assert_eq!(browser.page("/devices").await.0, StatusCode::OK);

    let listed = my_passkeys(&browser).await;
    assert!(listed["passkeys"][0]["last_used_at"].is_string());

    let events = expect_json(
        app.get("/ipp/v1/audit-events?action=user.passkey_added")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["content"][0]["actor"]["label"], "ops@shop.example");
    assert_eq!(events["content"][0]["details"]["name"], "Work laptop");
    // The account's first second factor: its recovery codes came with it.
    assert_eq!(
        events["content"][0]["details"]["recovery_codes_issued"],
        true
    );
}

async fn forged_and_replayed_passkey_answers_are_refused(app: &TestApp) {
    let portal = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let mut authenticator = add_passkey(&portal, "Phone").await;
    let browser = PortalClient::new(&app.address);

    // Signed by another key.
    let options = start_sign_in(&browser).await;
    let forger =
        EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap();
    let forged = authenticator.assert_with(&options, &forger, ORIGIN);
    assert_eq!(
        sign_in_with(&browser, &forged).await.0,
        StatusCode::UNAUTHORIZED
    );
    // From another site.
    let options = start_sign_in(&browser).await;
    let key = authenticator.key.clone();
    let phished = authenticator.assert_with(&options, &key, "https://portal.test.evil.example");
    assert_eq!(
        sign_in_with(&browser, &phished).await.0,
        StatusCode::UNAUTHORIZED
    );
    // Not JSON at all.
    start_sign_in(&browser).await;
    assert_eq!(
        sign_in_with(&browser, "{not json").await.0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(browser.call(CurrentUser::PATH, &[]).await.1, Value::Null);

    // A good answer works once: the challenge is used up with it.
    let options = start_sign_in(&browser).await;
    let answer = authenticator.assert(&options);
    assert_eq!(sign_in_with(&browser, &answer).await.0, StatusCode::OK);
    let other = PortalClient::new(&app.address);
    assert_eq!(
        sign_in_with(&other, &answer).await.0,
        StatusCode::CONFLICT,
        "no challenge was handed out to this browser"
    );
    start_sign_in(&other).await;
    assert_eq!(
        sign_in_with(&other, &answer).await.0,
        StatusCode::UNAUTHORIZED,
        "an answer to another challenge"
    );
    assert_eq!(other.call(CurrentUser::PATH, &[]).await.1, Value::Null);

    // A registration answer cannot be sent twice either.
    let (_, body) = portal
        .call(StartAddingPasskey::PATH, &[("name", "Tablet")])
        .await;
    let mut tablet = SoftAuthenticator::new();
    let credential = tablet.register(&options_of(&body));
    let finish = [("credential", credential.as_str())];
    assert_eq!(
        portal.call(FinishAddingPasskey::PATH, &finish).await.0,
        StatusCode::OK
    );
    assert_eq!(
        portal.call(FinishAddingPasskey::PATH, &finish).await.0,
        StatusCode::CONFLICT
    );
    assert_eq!(
        my_passkeys(&portal).await["passkeys"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

async fn removing_a_passkey_ends_the_other_sessions(app: &TestApp) {
    let here = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let mut authenticator = add_passkey(&here, "Laptop").await;
    let elsewhere = PortalClient::new(&app.address);
    let options = start_sign_in(&elsewhere).await;
    assert_eq!(
        sign_in_with(&elsewhere, &authenticator.assert(&options))
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        elsewhere.call(CurrentUser::PATH, &[]).await.1["email"],
        "ops@shop.example"
    );

    let id = my_passkeys(&here).await["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, body) = here.call(RemovePasskey::PATH, &[("passkey_id", &id)]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        here.call(CurrentUser::PATH, &[]).await.1["email"],
        "ops@shop.example",
        "the session that removed it stays"
    );
    assert_eq!(elsewhere.call(CurrentUser::PATH, &[]).await.1, Value::Null);
    assert_eq!(my_passkeys(&here).await["passkeys"], json!([]));

    // The removed passkey signs nobody in.
    let options = start_sign_in(&elsewhere).await;
    assert_eq!(
        sign_in_with(&elsewhere, &authenticator.assert(&options))
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    let events = expect_json(
        app.get("/ipp/v1/audit-events?action=user.passkey_removed")
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(events["content"][0]["details"]["name"], "Laptop");
}

async fn nobody_else_touches_your_passkeys(app: &TestApp) {
    let owner = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    add_passkey(&owner, "Laptop").await;
    let id = my_passkeys(&owner).await["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let other = app.other_merchant().await;
    app.create_user(&other.id, "admin@other.example", Role::Admin, &[])
        .await;
    let stranger = PortalClient::new(&app.address);
    stranger
        .login("admin@other.example", crate::helpers::PASSWORD)
        .await;
    let admin = app.signed_in("admin@shop.example", Role::Admin, &[]).await;
    for someone in [&stranger, &admin] {
        assert_eq!(my_passkeys(someone).await["passkeys"], json!([]));
        assert_eq!(
            someone
                .call(RemovePasskey::PATH, &[("passkey_id", &id)])
                .await
                .0,
            StatusCode::NOT_FOUND
        );
    }
    let anonymous = PortalClient::new(&app.address);
    assert_eq!(
        anonymous
            .call(RemovePasskey::PATH, &[("passkey_id", &id)])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous
            .call(StartAddingPasskey::PATH, &[("name", "Mine now")])
            .await
            .0,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        my_passkeys(&owner).await["passkeys"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

fn at_an_ip_address(config: &mut ApplicationConfig) {
    config.public_url = Some("http://127.0.0.1:3000".into());
}

async fn passkeys_say_why_they_are_unavailable(app: &TestApp) {
    let portal = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let (_, reason) = portal.call(PasskeysUnavailable::PATH, &[]).await;
    let reason = reason.as_str().expect("a reason");
    assert!(reason.contains("IP address"), "{reason}");
    assert_eq!(my_passkeys(&portal).await["unavailable"], reason);
    let (status, body) = portal
        .call(StartAddingPasskey::PATH, &[("name", "Laptop")])
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(
        PortalClient::new(&app.address)
            .call(StartPasskeySignIn::PATH, &[])
            .await
            .0,
        StatusCode::CONFLICT
    );
    let html = portal.html("/account").await;
    assert!(html.contains("IP address"), "the page says why");
}

/// A user with a passkey who signs in with a password is asked for the passkey as the
/// second step, and is signed in once it answers. Their first passkey, like a first
/// authenticator app, came with recovery codes, shown once.
async fn a_password_sign_in_asks_for_the_passkey_next(app: &TestApp) {
    let desk = app.signed_in("ops@shop.example", Role::Ops, &[]).await;
    let mut authenticator = add_passkey(&desk, "Laptop").await;
    let (_, section) = desk.call(SecondFactorsSection::PATH, &[]).await;
    assert_eq!(
        section["new_recovery_codes"].as_array().map(Vec::len),
        Some(10)
    );
    assert_eq!(section["factors"]["recovery_codes_left"], 10);
    let (_, again) = desk.call(SecondFactorsSection::PATH, &[]).await;
    assert_eq!(again["new_recovery_codes"], Value::Null, "shown once");

    let browser = PortalClient::new(&app.address);
    let (status, body) = browser.login("ops@shop.example", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection(), "{body}");
    // Half signed in: nobody yet, and the step offers the passkey.
    assert_eq!(browser.call(CurrentUser::PATH, &[]).await.1, Value::Null);
    let (_, step) = browser.call(SecondStepPage::PATH, &[]).await;
    assert_eq!(step["passkeys"], true, "{step}");

    let (status, body) = browser.call(StartPasskeySecondStep::PATH, &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let options = options_of(&body);
    // Only this user's passkeys may answer.
    assert_eq!(
        options["publicKey"]["allowCredentials"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let answer = authenticator.assert(&options);
    let (status, next) = browser
        .call(
            FinishPasskeySecondStep::PATH,
            &[("credential", answer.as_str()), ("next", "/devices")],
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{next}");
    assert_eq!(next, "/devices");
    assert_eq!(
        browser.call(CurrentUser::PATH, &[]).await.1["email"],
        "ops@shop.example"
    );
    // The same answer again finds no ceremony waiting.
    let (status, _) = browser
        .call(
            FinishPasskeySecondStep::PATH,
            &[("credential", answer.as_str()), ("next", "/devices")],
        )
        .await;
    assert!(status.is_client_error(), "{status}");
}

/// Each start of a passkey sign-in keeps a challenge in a new session for a caller nobody
/// knows: a script cannot make them without end.
async fn passkey_sign_ins_started_are_limited_per_address(app: &TestApp) {
    for _ in 0..60 {
        let (status, body) = PortalClient::new(&app.address)
            .call(StartPasskeySignIn::PATH, &[])
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (status, body) = PortalClient::new(&app.address)
        .call(StartPasskeySignIn::PATH, &[])
        .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
}
