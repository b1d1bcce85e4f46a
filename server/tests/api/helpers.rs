//! Each test gets the real application on a random port with a database of its own, on
//! SQLite or PostgreSQL, and a merchant with one location and an API key to call it with.

use std::sync::Arc;

use leptos::server_fn::ServerFn;
use reqwest::{Method, RequestBuilder, Response, StatusCode};
use serde_json::{Value, json};

use app::clock::ManualClock;
use app::services::{Actor, RegistrationLimits, Services, Settings};
use app::store::Store;
use app::ui::session::Login;
use server::application::{Application, ApplicationConfig};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn(TestApp)` once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Sqlite).await;
                super::$name(&app).await;
                app.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_skipped() {
                    return;
                }
                let app = $crate::helpers::TestApp::spawn($crate::helpers::Backend::Postgres).await;
                super::$name(&app).await;
                app.cleanup().await;
            }
        }
    )*};
}

/// Like `on_both_databases!`, on an application whose configuration the function
/// `$configure(&mut ApplicationConfig)` (in the calling module) changes first.
#[macro_export]
macro_rules! on_both_databases_with {
    ($configure:ident => $($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let app = $crate::helpers::TestApp::spawn_configured(
                    $crate::helpers::Backend::Sqlite,
                    super::$configure,
                )
                .await;
                super::$name(&app).await;
                app.cleanup().await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if $crate::helpers::postgres_skipped() {
                    return;
                }
                let app = $crate::helpers::TestApp::spawn_configured(
                    $crate::helpers::Backend::Postgres,
                    super::$configure,
                )
                .await;
                super::$name(&app).await;
                app.cleanup().await;
            }
        }
    )*};
}

/// The PostgreSQL server the PostgreSQL half runs on; `make test` starts one and sets it.
const POSTGRES_URL_VARIABLE: &str = "TEST_POSTGRES_URL";
/// Set by `make test` (scripts/with-postgres.sh): there, no PostgreSQL is a failure.
const REQUIRE_POSTGRES_VARIABLE: &str = "IPP_REQUIRE_POSTGRES";

/// Whether this PostgreSQL test is to be skipped: true without `TEST_POSTGRES_URL`, which
/// is said once on stderr (past the test harness' capture, so plain `cargo test` shows it).
/// Under `make test`, which requires PostgreSQL, a missing URL fails the test instead.
pub fn postgres_skipped() -> bool {
    if std::env::var_os(POSTGRES_URL_VARIABLE).is_some_and(|url| !url.is_empty()) {
        return false;
    }
    let required = std::env::var_os(REQUIRE_POSTGRES_VARIABLE)
        .is_some_and(|value| !value.is_empty() && value != "0");
    assert!(
        !required,
        "{POSTGRES_URL_VARIABLE} is not set, and {REQUIRE_POSTGRES_VARIABLE} requires the PostgreSQL half"
    );
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        use std::io::Write;
        let _ = writeln!(
            std::io::stderr(),
            "skipped: PostgreSQL half ({POSTGRES_URL_VARIABLE} not set; make test sets it)"
        );
    });
    true
}

/// A merchant of the test, with what it takes to call the API as it.
pub struct Merchant {
    pub id: String,
    pub location_id: String,
    pub api_key: String,
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub clock: ManualClock,
    pub services: Services,
    pub merchant: Merchant,
    /// The test's own database, for other processes (the command line) to open.
    pub database_url: String,
    database: TestDatabase,
    server: tokio::task::JoinHandle<()>,
}

enum TestDatabase {
    Sqlite(std::path::PathBuf),
    Postgres { admin_url: String, name: String },
}

impl TestDatabase {
    async fn create(backend: Backend) -> (Self, String) {
        match backend {
            Backend::Sqlite => {
                let dir =
                    std::env::temp_dir().join(format!("ipp-portal-test-{}", uuid::Uuid::new_v4()));
                std::fs::create_dir_all(&dir).expect("create the test database folder");
                let url = format!("sqlite://{}/test.db", dir.display());
                (TestDatabase::Sqlite(dir), url)
            }
            Backend::Postgres => {
                let admin_url = std::env::var(POSTGRES_URL_VARIABLE).expect(
                    "TEST_POSTGRES_URL is not set: run the tests with `make test`, which starts a PostgreSQL",
                );
                let name = format!("ipp_test_{}", uuid::Uuid::new_v4().simple());
                sqlx::any::install_default_drivers();
                let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
                    .await
                    .expect("connect to TEST_POSTGRES_URL");
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut admin)
                    .await
                    .expect("create the test database");
                let url = database_url_with_name(&admin_url, &name);
                (TestDatabase::Postgres { admin_url, name }, url)
            }
        }
    }

    async fn drop_database(&self) {
        match self {
            TestDatabase::Sqlite(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            TestDatabase::Postgres { admin_url, name } => {
                if let Ok(mut admin) =
                    <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url).await
                {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut admin)
                        .await;
                }
            }
        }
    }
}

/// The same server and credentials, another database name.
pub fn database_url_with_name(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let scheme_end = base.find("://").map(|i| i + 3).unwrap_or(0);
    let server = match base[scheme_end..].find('/') {
        Some(slash) => &base[..scheme_end + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{name}?{query}"),
        None => format!("{server}/{name}"),
    }
}

/// Limits loose enough that no ordinary test trips them.
pub fn test_settings() -> Settings {
    Settings {
        public_url: "https://portal.test".into(),
        registration_limits: RegistrationLimits {
            per_address: 10_000,
            global: 100_000,
            window_seconds: 900,
        },
        ..Settings::default()
    }
}

impl TestApp {
    /// The database the app runs on.
    pub fn backend(&self) -> Backend {
        match self.database {
            TestDatabase::Sqlite(_) => Backend::Sqlite,
            TestDatabase::Postgres { .. } => Backend::Postgres,
        }
    }

    pub async fn spawn(backend: Backend) -> Self {
        Self::spawn_with(backend, test_settings()).await
    }

    pub async fn spawn_with(backend: Backend, settings: Settings) -> Self {
        Self::spawn_configured(backend, |config| {
            config.public_url = Some(settings.public_url);
            config.registration_limits = settings.registration_limits;
            config.sessions = settings.sessions;
        })
        .await
    }

    /// The application with the test settings, then whatever `configure` changes.
    pub async fn spawn_configured(
        backend: Backend,
        configure: impl FnOnce(&mut ApplicationConfig),
    ) -> Self {
        let (database, url) = TestDatabase::create(backend).await;
        // A fixed start in the recent past, so times read like real ones.
        let clock = ManualClock::starting_at(1_790_000_000_000);
        let mut config = test_config(&url, &clock, test_settings());
        configure(&mut config);
        let application = Application::build(config)
            .await
            .expect("build the application");
        let address = format!("http://{}", application.address());
        let services = application.services().clone();
        let server = tokio::spawn(async move {
            let _ = application.run_until_stopped().await;
        });

        let merchant = create_merchant(&services, "Test Merchant").await;
        Self {
            address,
            client: reqwest::Client::new(),
            clock,
            services,
            merchant,
            database_url: url,
            database,
            server,
        }
    }

    pub async fn cleanup(self) {
        self.server.abort();
        self.services.close().await;
        self.database.drop_database().await;
    }

    /// The test's database, read directly to check what is stored (hashes, not secrets).
    pub async fn storage(&self) -> Store {
        Store::connect(&self.database_url)
            .await
            .expect("connect to the test database")
    }

    /// `127.0.0.1:port`, to open a raw TCP connection to.
    pub fn host_and_port(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// A request as the test merchant, with its API key.
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.request_as(&self.merchant, method, path)
    }

    pub fn request_as(&self, merchant: &Merchant, method: Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&merchant.api_key)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.request(Method::GET, path).send().await.expect("send")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(Method::POST, path)
            .json(body)
            .send()
            .await
            .expect("send")
    }

    /// A new enrollment of the test merchant; panics unless it is created.
    pub async fn create_enrollment(&self, body: Value) -> Value {
        let response = self.post_json("/ipp/v1/enrollments", &body).await;
        expect_json(response, StatusCode::CREATED).await
    }

    /// Registers a device as the POS app would, with no credentials.
    pub async fn register(&self, code: &str, hardware_id: &str) -> Response {
        self.client
            .post(self.url("/ipp/v1/devices/register"))
            .json(&json!({"enrollment_code": code, "hardware_id": hardware_id, "platform": "ANDROID"}))
            .send()
            .await
            .expect("send")
    }

    /// An enrollment with `metadata`, used by a new device; returns the registration.
    pub async fn enroll_device(&self, metadata: Value, hardware_id: &str) -> Value {
        let enrollment = self.create_enrollment(json!({"metadata": metadata})).await;
        let code = enrollment["enrollment_code"]
            .as_str()
            .expect("a pending code");
        expect_json(self.register(code, hardware_id).await, StatusCode::CREATED).await
    }

    pub async fn create_location(&self, name: &str) -> String {
        let actor = Actor::system(&self.merchant.id);
        self.services
            .create_location(&actor, name, None)
            .await
            .expect("create location")
            .id
    }

    pub async fn other_merchant(&self) -> Merchant {
        create_merchant(&self.services, "Other Merchant").await
    }
}

async fn create_merchant(services: &Services, name: &str) -> Merchant {
    let merchant = services
        .create_merchant(name)
        .await
        .expect("create merchant");
    let actor = Actor::system(&merchant.id);
    let location = services
        .create_location(&actor, "Main Street", Some("Stockholm"))
        .await
        .expect("create location");
    let key = services
        .create_api_key(&actor, "tests")
        .await
        .expect("create API key");
    Merchant {
        id: merchant.id,
        location_id: location.id,
        api_key: key.key,
    }
}

/// The body of a response that must have `status`; shows the body when it has not.
pub async fn expect_json(response: Response, status: StatusCode) -> Value {
    let actual = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let text = response.text().await.expect("body");
    assert_eq!(actual, status, "unexpected status; body: {text}");
    if !status.is_success() {
        assert_eq!(
            content_type, "application/problem+json",
            "errors are problem documents"
        );
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
}

/// The field names of a 400 problem's `errors` object, each with a message, sorted.
pub async fn expect_invalid_fields(response: Response) -> Vec<String> {
    let body = expect_json(response, StatusCode::BAD_REQUEST).await;
    let errors = body["errors"].as_object().expect("errors object");
    for (field, message) in errors {
        let message = message.as_str().expect("one message per field");
        assert!(!message.is_empty(), "{field} has a message");
    }
    errors.keys().cloned().collect()
}

#[test]
fn database_urls_get_another_name() {
    assert_eq!(
        database_url_with_name(
            "postgres://u:p@127.0.0.1:5432/postgres?sslmode=disable",
            "t1"
        ),
        "postgres://u:p@127.0.0.1:5432/t1?sslmode=disable"
    );
    assert_eq!(
        database_url_with_name("postgres://127.0.0.1:5433", "t2"),
        "postgres://127.0.0.1:5433/t2"
    );
}

/// A browser's view of the portal: a cookie jar, and server functions called as the
/// portal's own pages call them.
pub struct PortalClient {
    pub client: reqwest::Client,
    pub address: String,
}

impl PortalClient {
    pub fn new(address: &str) -> Self {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            client,
            address: address.to_owned(),
        }
    }

    /// Calls a server function at `path` (its `ServerFn::PATH`, `/api/login`) with form
    /// fields, as a page does; returns status and body.
    pub async fn call(&self, path: &str, fields: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .form(fields)
            .send()
            .await
            .expect("send");
        let status = response.status();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, body)
    }

    pub async fn login(&self, email: &str, password: &str) -> (StatusCode, Value) {
        self.call(Login::PATH, &[("email", email), ("password", password)])
            .await
    }

    /// Sends a form to the server function at `path` as a browser does without JavaScript,
    /// from the page at `from`; returns the address the answer redirects to.
    pub async fn post_form(&self, path: &str, from: &str, fields: &[(&str, &str)]) -> String {
        let response = self
            .client
            .post(format!("{}{path}", self.address))
            .header("accept", "text/html")
            .header("referer", format!("{}{from}", self.address))
            .form(fields)
            .send()
            .await
            .expect("send");
        assert!(
            response.status().is_redirection(),
            "a plain form post is answered with a redirect, not {}",
            response.status()
        );
        response.headers()["location"]
            .to_str()
            .expect("location")
            .to_owned()
    }

    /// GET a page (a path, or an address as a redirect gives it) and return its HTML.
    pub async fn html(&self, path_or_url: &str) -> String {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_owned()
        } else {
            format!("{}{path_or_url}", self.address)
        };
        let response = self.client.get(url).send().await.expect("send");
        assert_eq!(response.status(), StatusCode::OK);
        response.text().await.expect("body")
    }

    /// GET a page; returns status and the Location it redirects to, if any.
    pub async fn page(&self, path: &str) -> (StatusCode, Option<String>) {
        let response = self
            .client
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .expect("send");
        let location = response
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        (response.status(), location)
    }
}

impl TestApp {
    /// A portal user of the test merchant with this role, signed in.
    pub async fn signed_in(
        &self,
        email: &str,
        role: app::domain::role::Role,
        locations: &[String],
    ) -> PortalClient {
        self.create_user(&self.merchant.id, email, role, locations)
            .await;
        let portal = PortalClient::new(&self.address);
        let (status, body) = portal.login(email, PASSWORD).await;
        assert!(
            status.is_success() || status.is_redirection(),
            "login failed: {status} {body}"
        );
        portal
    }

    pub async fn create_user(
        &self,
        merchant_id: &str,
        email: &str,
        role: app::domain::role::Role,
        locations: &[String],
    ) {
        let input = app::services::NewUserInput {
            merchant_id: merchant_id.to_owned(),
            email: email.to_owned(),
            password: PASSWORD.to_owned(),
            role,
            location_ids: locations.to_vec(),
        };
        self.services
            .create_user(&Actor::system(merchant_id), input)
            .await
            .expect("create user");
    }

    /// The id of the user with this email.
    pub async fn user_id(&self, email: &str) -> String {
        self.storage()
            .await
            .user_by_email(email)
            .await
            .expect("read the user")
            .expect("the user exists")
            .id
    }

    /// Another server instance on the same database and clock, with the test settings, as
    /// a second machine behind a load balancer would be.
    pub async fn second_instance(&self) -> (String, tokio::task::JoinHandle<()>) {
        self.instance_configured(|_| {}).await
    }
}

impl TestApp {
    /// Another instance on the same database and clock, with the test settings and then
    /// whatever `configure` changes.
    pub async fn instance_configured(
        &self,
        configure: impl FnOnce(&mut ApplicationConfig),
    ) -> (String, tokio::task::JoinHandle<()>) {
        let mut config = test_config(&self.database_url, &self.clock, test_settings());
        configure(&mut config);
        let application = Application::build(config)
            .await
            .expect("build another instance");
        let address = format!("http://{}", application.address());
        let handle = tokio::spawn(async move {
            let _ = application.run_until_stopped().await;
        });
        (address, handle)
    }

    /// Stops serving at once, as a crash would (the database stays for another instance).
    pub fn stop_serving(&self) {
        self.server.abort();
    }
}

/// The application on a free loopback port, on the test's database and clock, with
/// cookies a plain-HTTP client sends back.
fn test_config(database_url: &str, clock: &ManualClock, settings: Settings) -> ApplicationConfig {
    ApplicationConfig {
        public_url: Some(settings.public_url),
        secure_cookies: Some(false),
        registration_limits: settings.registration_limits,
        sessions: settings.sessions,
        clock: Arc::new(clock.clone()),
        ..ApplicationConfig::new(([127, 0, 0, 1], 0).into(), database_url)
    }
}

pub const PASSWORD: &str = "correct horse battery";
