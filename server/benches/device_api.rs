//! `make bench`: the Device API on SQLite and on PostgreSQL, each seeded with 1,000,000
//! devices, side by side; a bare axum handler served by the same process as the baseline.
//!
//! Each database is measured in a process of its own (this program started again with
//! `BENCH_BACKEND` set), so that one's memory does not count against the other. Measured:
//! registration throughput with one instance, and the same registrations written through
//! the store alone (no HTTP, no JSON, no services) as the limit; registration with two
//! instances on one database, followed by checks that no code registered two devices and
//! the failure limits held; the latency of a metadata-filtered device list, of the
//! portal's device page and overview (rendered whole on the server), and of a deep page
//! of the device list by cursor and by number; webhooks: how fast a backlog is delivered
//! to a local receiver, and the time from a registration to its delivery; and the peak
//! memory of the server. The one-instance figures are those of `ipp-portal serve` run as
//! a process of its own, as deployed. Prints them against their targets and exits
//! 0 either way: a measurement, not a test. All traffic stays on 127.0.0.1.
//!
//! PostgreSQL is the server at `BENCH_POSTGRES_URL`, else at `TEST_POSTGRES_URL` (`make
//! bench` starts a throwaway one, as the tests do); each run creates its own databases
//! there and drops them at the end. Without either, only SQLite is measured.

// The portal's view types nest deeply; optimised builds need room to lay them out.
#![recursion_limit = "512"]

use std::collections::{BTreeMap, HashMap, HashSet};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{Json, Router, routing::get};
use futures::{StreamExt, stream};
use leptos::server_fn::ServerFn;
use reqwest::{RequestBuilder, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use app::domain::metadata::Metadata;
use app::domain::pairing_code::{CODE_LENGTH, PairingCode};
use app::domain::webhook::WebhookEventType;
use app::services::{
    Actor, CreateEnrollment, NewWebhookEndpoint, RegistrationLimits, Services, WebhookSettings,
};
use app::store::{CountedAttempt, DeviceRow, NewAuditEvent, NewDevice, NewWebhookEvent, Store};
use app::ui::session::Login;
use server::application::{Application, ApplicationConfig};

/// Devices seeded before measuring; `BENCH_DEVICES` overrides it for a quick look (the
/// targets are for the full million).
const SEEDED_DEVICES: usize = 1_000_000;
/// Distinct `store` metadata values among the seeded devices: each matches 1,000 of them.
const STORES: usize = 1_000;
const REGISTRATIONS: usize = 4_000;
const IN_FLIGHT: usize = 32;
const LIST_WARMUP_REQUESTS: usize = 100;
const LIST_REQUESTS: usize = 1_000;
const LIST_PAGE_SIZE: usize = 20;
/// The deep page of the device list, by cursor and by number (or the last page, when
/// fewer devices are seeded).
const DEEP_PAGE: usize = 40_000;
/// Timed requests for each page of the device list; a numbered deep page reads its whole
/// offset, so it gets fewer.
const PAGE_REQUESTS: usize = 300;
const NUMBERED_DEEP_REQUESTS: usize = 20;
const TARGET_REGISTRATIONS_PER_SECOND: f64 = 2_000.0;
const TARGET_LIST_P99_MS: f64 = 10.0;
/// The portal's device page, rendered whole on the server.
const TARGET_PAGE_P99_MS: f64 = 100.0;
/// HTTP registration as a share of the store alone, on SQLite.
const TARGET_SHARE_OF_STORE: f64 = 50.0;
const TARGET_PEAK_RSS_MB: f64 = 150.0;
/// Events waiting when the delivery worker starts, for the throughput of webhooks.
const WEBHOOK_BACKLOG: usize = 5_000;
const TARGET_DELIVERIES_PER_SECOND: f64 = 1_000.0;
/// Registrations (at `IN_FLIGHT` at once) timed until their webhook arrives.
const DELIVERY_LATENCY_REGISTRATIONS: usize = 2_000;
const TARGET_DELIVERY_P99_MS: f64 = 500.0;
/// Two instances on one database: codes registered through them, every `DUPLICATE_EVERY`th
/// sent to both at once and every `UNKNOWN_EVERY`th request followed by an unknown code;
/// then a burst of unknown codes, past the limits. Every request comes from 127.0.0.1, so
/// the per-address and the global counters count the same attempts.
const TWO_INSTANCE_CODES: usize = 4_000;
const DUPLICATE_EVERY: usize = 20;
const UNKNOWN_EVERY: usize = 40;
const TWO_INSTANCE_BURST: usize = 600;
const TWO_INSTANCE_LIMITS: RegistrationLimits = RegistrationLimits {
    per_address: 400,
    global: 500,
    window_seconds: 7 * 24 * 3600,
};
/// The limits of the one-instance runs: far above what they send, so none is refused.
/// Their window is the two-instance runs' one: instances on one database must count in
/// the same windows, since each one's upkeep forgets the windows before its own.
const LOOSE_LIMITS: RegistrationLimits = RegistrationLimits {
    per_address: 10_000_000,
    global: 10_000_000,
    window_seconds: TWO_INSTANCE_LIMITS.window_seconds,
};
/// No request may hang the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A slow build still finishes: a latency phase stops early, with fewer samples, past this.
const LATENCY_PHASE_BUDGET: Duration = Duration::from_secs(180);
/// Set in the process that measures one database: `sqlite` or `postgres`.
const BACKEND_VARIABLE: &str = "BENCH_BACKEND";
/// The PostgreSQL server a `postgres` process creates its databases on.
const ADMIN_URL_VARIABLE: &str = "BENCH_ADMIN_URL";
/// The line on which a measuring process hands its report to the one that prints.
const REPORT_MARKER: &str = "bench-report: ";

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    match std::env::var(BACKEND_VARIABLE).ok().as_deref() {
        Some("sqlite") => hand_over(measure_database(BenchDatabases::sqlite()).await),
        Some("postgres") => {
            let admin_url = std::env::var(ADMIN_URL_VARIABLE).expect("BENCH_ADMIN_URL is set");
            hand_over(measure_database(BenchDatabases::postgres(admin_url)).await)
        }
        _ => compare_databases(),
    }
}

fn hand_over(report: BackendReport) {
    println!(
        "{REPORT_MARKER}{}",
        serde_json::to_string(&report).expect("a report as JSON")
    );
}

/// Measures each database in a process of its own, then prints them side by side.
fn compare_databases() {
    let run_started = Instant::now();
    let postgres_url = ["BENCH_POSTGRES_URL", "TEST_POSTGRES_URL"]
        .iter()
        .find_map(|name| std::env::var(name).ok().filter(|url| !url.is_empty()));
    let mut reports = vec![measure_in_child("sqlite", None)];
    match &postgres_url {
        Some(url) => reports.push(measure_in_child("postgres", Some(url))),
        None => eprintln!(
            "PostgreSQL skipped: neither BENCH_POSTGRES_URL nor TEST_POSTGRES_URL is set \
             (`make bench` starts one)"
        ),
    }
    let reports: Vec<BackendReport> = reports.into_iter().flatten().collect();
    print_comparison(&reports);
    println!(
        "total wall time: {:.1} s",
        run_started.elapsed().as_secs_f64()
    );
}

fn measure_in_child(backend: &str, admin_url: Option<&str>) -> Option<BackendReport> {
    let program = std::env::current_exe().expect("this program's path");
    let mut command = std::process::Command::new(program);
    command
        .env(BACKEND_VARIABLE, backend)
        .stderr(std::process::Stdio::inherit());
    if let Some(url) = admin_url {
        command.env(ADMIN_URL_VARIABLE, url);
    }
    eprintln!("== {backend} ==");
    let output = command.output().expect("start the measuring process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report = stdout
        .lines()
        .find_map(|line| line.strip_prefix(REPORT_MARKER))
        .and_then(|json| serde_json::from_str(json).ok());
    if report.is_none() {
        eprintln!(
            "the {backend} run gave no report ({}); its output:\n{stdout}",
            output.status
        );
    }
    report
}

/// The databases of one run: SQLite files in a temporary folder, or PostgreSQL databases
/// created on the server for the run and dropped at its end.
struct BenchDatabases {
    folder: TempDir,
    postgres_admin_url: Option<String>,
    created: Vec<String>,
}

impl BenchDatabases {
    fn sqlite() -> Self {
        Self {
            folder: TempDir::create(),
            postgres_admin_url: None,
            created: Vec::new(),
        }
    }

    fn postgres(admin_url: String) -> Self {
        Self {
            postgres_admin_url: Some(admin_url),
            ..Self::sqlite()
        }
    }

    fn name(&self) -> &'static str {
        if self.postgres_admin_url.is_some() {
            "PostgreSQL"
        } else {
            "SQLite"
        }
    }

    /// A new, empty database's URL.
    async fn create(&mut self, purpose: &str) -> String {
        let Some(admin_url) = &self.postgres_admin_url else {
            return format!("sqlite://{}/{purpose}.db", self.folder.0.display());
        };
        let name = format!("ipp_bench_{purpose}_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url)
            .await
            .expect("connect to the PostgreSQL server");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut admin)
            .await
            .expect("create a database");
        self.created.push(name.clone());
        url_with_database(admin_url, &name)
    }

    async fn drop_all(self) {
        let Some(admin_url) = &self.postgres_admin_url else {
            return;
        };
        if let Ok(mut admin) = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url).await {
            for name in &self.created {
                let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .execute(&mut admin)
                    .await;
            }
        }
    }
}

/// The same server and credentials, another database.
fn url_with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let server_end = base.find("://").map_or(0, |scheme| scheme + 3);
    let server = match base[server_end..].find('/') {
        Some(slash) => &base[..server_end + slash],
        None => base,
    };
    if query.is_empty() {
        format!("{server}/{name}")
    } else {
        format!("{server}/{name}?{query}")
    }
}

/// An application on a random loopback port, as `ipp-portal serve` and the integration
/// tests build it.
async fn build_application(database_url: &str, limits: RegistrationLimits) -> Application {
    Application::build(ApplicationConfig {
        registration_limits: limits,
        // The webhook receiver is on loopback.
        webhooks: WebhookSettings {
            allow_private_targets: true,
            ..WebhookSettings::default()
        },
        ..ApplicationConfig::new(([127, 0, 0, 1], 0).into(), database_url.to_owned())
    })
    .await
    .expect("build the application")
}

/// Serves `application` until the handle is aborted; its URL.
fn serve(application: Application) -> (String, JoinHandle<()>) {
    let url = format!("http://{}", application.address());
    let server = tokio::spawn(async move {
        let _ = application.run_until_stopped().await;
    });
    (url, server)
}

/// Every measure on one database, seeded with the devices first.
async fn measure_database(mut databases: BenchDatabases) -> BackendReport {
    let database_url = databases.create("devices").await;
    let application = build_application(&database_url, LOOSE_LIMITS).await;
    let services = application.services().clone();
    // The store alone, as registration's services use it: its own connections and its
    // own writer task grouping the writes the same way.
    let store = Store::connect(&database_url).await.expect("open the store");

    let merchant = services
        .create_merchant("Bench Merchant")
        .await
        .expect("create merchant");
    let actor = Actor::system(&merchant.id);
    let location = services
        .create_location(&actor, "Main Street", Some("Stockholm"))
        .await
        .expect("create location");
    let api_key = services
        .create_api_key(&actor, "bench")
        .await
        .expect("create API key")
        .key;

    let seeded_count = std::env::var("BENCH_DEVICES")
        .ok()
        .and_then(|count| count.parse().ok())
        .unwrap_or(SEEDED_DEVICES);
    eprintln!("{}: seeding {seeded_count} devices ...", databases.name());
    let seeding_started = Instant::now();
    let seeded = services
        .seed_devices(seeded_devices(
            seeded_count,
            &merchant.id,
            &location.id,
            services.clock.now_ms(),
        ))
        .await
        .expect("seed devices");
    let seeding_time = seeding_started.elapsed();
    assert_eq!(seeded, seeded_count as u64, "every device is seeded");
    eprintln!("seeded in {:.1} s", seeding_time.as_secs_f64());

    let load_before = load_average();
    // The in-process application prepares (codes, users, endpoints) and is not served;
    // the server measured is `ipp-portal serve` on the same database.
    drop(application);
    let server = ServerProcess::start(&database_url, LOOSE_LIMITS).await;
    let app_url = server.url.clone();
    let (bare_url, bare_server) = spawn_bare().await;
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        // Loopback only: no proxy from the environment may carry the traffic elsewhere.
        .no_proxy()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .expect("HTTP client");

    eprintln!("creating {} enrollments ...", 2 * REGISTRATIONS);
    let codes = create_codes(&services, &actor, REGISTRATIONS, true).await;
    let store_codes = create_codes(&services, &actor, REGISTRATIONS, true).await;

    eprintln!("registering {REGISTRATIONS} devices, {IN_FLIGHT} in flight ...");
    let register_url = format!("{app_url}/ipp/v1/devices/register");
    let register = measure_throughput(REGISTRATIONS, |index| {
        let body = json!({
            "enrollment_code": codes[index],
            "hardware_id": format!("bench-registered-{index:05}"),
            "platform": "ANDROID",
        });
        expect_status(client.post(&register_url).json(&body), StatusCode::CREATED)
    })
    .await;
    eprintln!("the same registrations through the store alone ...");
    let store_alone = measure_throughput(REGISTRATIONS, |index| {
        register_in_store(&store, &store_codes[index], index)
    })
    .await;
    let bare_path = format!("{bare_url}/bare");
    let bare_throughput = measure_throughput(REGISTRATIONS, |_| {
        expect_status(client.get(&bare_path), StatusCode::OK)
    })
    .await;

    eprintln!("listing devices by metadata, {LIST_REQUESTS} requests one at a time ...");
    let list_url = |index: usize| {
        // A stride coprime with STORES visits every store value in a scattered order.
        let store_value = (index * 7_919) % STORES;
        format!("{app_url}/ipp/v1/devices?metadata=store:s{store_value}&page_size={LIST_PAGE_SIZE}")
    };
    let matching = matching_devices(&client, &list_url(0), &api_key).await;
    let list = measure_latency(LIST_WARMUP_REQUESTS, LIST_REQUESTS, |index| {
        expect_status(
            client.get(list_url(index)).bearer_auth(&api_key),
            StatusCode::OK,
        )
    })
    .await;
    let bare_latency = measure_latency(LIST_WARMUP_REQUESTS, LIST_REQUESTS, |_| {
        expect_status(client.get(&bare_path), StatusCode::OK)
    })
    .await;

    let pages = measure_deep_pages(&client, &app_url, &api_key, seeded_count).await;

    eprintln!("rendering the portal's device page filtered by metadata, {LIST_REQUESTS} times ...");
    let portal = signed_in_portal(&services, &merchant.id, &app_url).await;
    let portal_page = measure_latency(LIST_WARMUP_REQUESTS, LIST_REQUESTS, |index| {
        let store_value = (index * 7_919) % STORES;
        expect_status(
            portal.get(format!("{app_url}/devices?metadata=store%3As{store_value}")),
            StatusCode::OK,
        )
    })
    .await;
    eprintln!("rendering the portal's overview, {LIST_REQUESTS} times ...");
    let overview_url = format!("{app_url}/");
    let overview = measure_latency(LIST_WARMUP_REQUESTS, LIST_REQUESTS, |_| {
        expect_status(portal.get(&overview_url), StatusCode::OK)
    })
    .await;

    let (two_instances, checks) =
        measure_two_instances(&database_url, &services, &actor, &client, &store).await;

    eprintln!(
        "registering {DELIVERY_LATENCY_REGISTRATIONS} devices, {IN_FLIGHT} in flight, each timed until its webhook arrives ..."
    );
    let latency_codes =
        create_codes(&services, &actor, DELIVERY_LATENCY_REGISTRATIONS, false).await;
    let receiver = BenchReceiver::start().await;
    services
        .create_webhook_endpoint(
            &actor,
            NewWebhookEndpoint {
                url: receiver.url.clone(),
                events: Some(vec!["ipp.device.registered".into()]),
                ..NewWebhookEndpoint::default()
            },
        )
        .await
        .expect("create the webhook endpoint");
    let delivery_latency =
        measure_delivery_latency(&client, &register_url, &latency_codes, &receiver).await;

    let memory = server.stop().await;
    let load_after = load_average();
    let database_bytes = store.database_bytes().await.unwrap_or(-1);
    let commit_settings = store
        .commit_settings()
        .await
        .unwrap_or_else(|error| error.to_string());
    bare_server.abort();
    services.close().await;
    store.close().await;

    eprintln!("delivering a backlog of {WEBHOOK_BACKLOG} webhooks to a local receiver ...");
    let webhooks_url = databases.create("webhooks").await;
    let delivery_throughput = measure_delivery_throughput(&webhooks_url).await;
    let report = BackendReport {
        database: databases.name().to_owned(),
        seeded: seeded_count,
        seeding_seconds: seeding_time.as_secs_f64(),
        database_mb: database_bytes as f64 / 1e6,
        commit_settings,
        matching,
        register: register.into(),
        store_alone: store_alone.into(),
        two_instances: two_instances.into(),
        checks,
        bare_throughput: bare_throughput.into(),
        list: list.into(),
        bare_latency: bare_latency.into(),
        portal_page: portal_page.into(),
        overview: overview.into(),
        pages,
        delivery_throughput: delivery_throughput.into(),
        delivery_latency: delivery_latency.into(),
        memory,
        load_before,
        load_after,
    };
    databases.drop_all().await;
    report
}

/// `count` pending codes, each for a device with metadata like the seeded ones' (when
/// `with_metadata`), made a few at a time.
async fn create_codes(
    services: &Services,
    actor: &Actor,
    count: usize,
    with_metadata: bool,
) -> Vec<String> {
    stream::iter(0..count)
        .map(|index| async move {
            let input = CreateEnrollment {
                metadata: if with_metadata {
                    device_metadata(index, index % 2 == 0)
                } else {
                    Metadata::default()
                },
                ..CreateEnrollment::default()
            };
            let (enrollment, _) = services
                .create_enrollment(actor, input)
                .await
                .expect("create enrollment");
            enrollment.enrollment_code.expect("a pending code")
        })
        .buffered(8)
        .collect()
        .await
}

/// The statements one registration makes, through the store alone: the attempt counted
/// while the code is looked up, then the one write of the device, its metadata, token,
/// audit event and webhook events, giving the attempt back. What the services add (HTTP,
/// JSON, validation, the views the answer and the events carry) is left out; the values
/// bound are of the same sizes.
async fn register_in_store(store: &Store, code: &str, index: usize) -> Result<(), String> {
    let code = PairingCode::parse_code_or_link(code).map_err(|e| e.to_string())?;
    let now = now_ms();
    let window = LOOSE_LIMITS.window_seconds * 1_000;
    let attempt = CountedAttempt {
        buckets: vec![
            "register:addr:127.0.0.2".to_owned(),
            "register:global".to_owned(),
        ],
        window_start: now - now.rem_euclid(window),
    };
    let (counted, enrollment) = tokio::join!(
        store.count_attempt(&attempt),
        store.enrollment_by_code(code.as_str())
    );
    counted.map_err(|e| e.to_string())?;
    let enrollment = enrollment
        .map_err(|e| e.to_string())?
        .ok_or("no enrollment for the code")?;
    let device_id = uuid::Uuid::now_v7().to_string();
    let hardware_id = format!("bench-store-{index:05}");
    let name = format!("Android {hardware_id}");
    let token = app::secrets::new_secret(app::secrets::DEVICE_TOKEN_PREFIX);
    let device = json!({
        "id": device_id, "merchant_id": enrollment.merchant_id,
        "location_id": enrollment.location_id, "enrollment_id": enrollment.id,
        "hardware_id": hardware_id, "name": name, "platform": "ANDROID",
        "metadata": enrollment.metadata, "created_at": now, "updated_at": now,
    });
    let event = |event_type| NewWebhookEvent {
        id: uuid::Uuid::now_v7().to_string(),
        merchant_id: enrollment.merchant_id.clone(),
        event_type,
        occurred_at: now,
        body: json!({ "type": event_type, "data": device }).to_string(),
    };
    let webhook_events = [
        event(WebhookEventType::EnrollmentConsumed),
        event(WebhookEventType::DeviceRegistered),
    ];
    let details = json!({
        "enrollment_id": enrollment.id, "hardware_id": hardware_id, "platform": "ANDROID",
    });
    let registered = store
        .register_device(
            &NewDevice {
                id: &device_id,
                enrollment_id: &enrollment.id,
                hardware_id: &hardware_id,
                name: &name,
                platform: "ANDROID",
                token_hash: &token.hash,
                now,
                counted_attempt: Some(&attempt),
                webhook_events: &webhook_events,
            },
            &NewAuditEvent {
                merchant_id: &enrollment.merchant_id,
                occurred_at: now,
                actor_kind: "device",
                actor_id: Some(&device_id),
                actor_label: &name,
                action: "device.registered",
                target_kind: "device",
                target_id: &device_id,
                details: details.to_string(),
            },
        )
        .await
        .map_err(|e| e.to_string())?;
    if registered {
        Ok(())
    } else {
        Err("the code was no longer pending".into())
    }
}

fn now_ms() -> i64 {
    let since_epoch = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(since_epoch.as_millis()).unwrap_or(i64::MAX)
}

/// One request of the two-instance run, and what it is meant to show.
struct RaceRequest {
    instance: usize,
    code: String,
    hardware_id: String,
}

/// What a registration was answered.
struct RaceAnswer {
    code: String,
    status: Option<StatusCode>,
    device_id: Option<String>,
}

/// Registration through two instances on one database at once (each with its own
/// connections and, on SQLite, its own writer), at `IN_FLIGHT` in flight over both;
/// then a burst of unknown codes past the failure limits; then checks on what was written
/// and counted.
async fn measure_two_instances(
    database_url: &str,
    services: &Services,
    actor: &Actor,
    client: &reqwest::Client,
    store: &Store,
) -> (Throughput, Vec<Check>) {
    eprintln!("registering {TWO_INSTANCE_CODES} devices through two instances on one database ...");
    let since = services.now();
    let codes = create_codes(services, actor, TWO_INSTANCE_CODES, true).await;
    let mut instances = Vec::new();
    for _ in 0..2 {
        instances.push(serve(
            build_application(database_url, TWO_INSTANCE_LIMITS).await,
        ));
    }
    let urls: Vec<String> = instances
        .iter()
        .map(|(url, _)| format!("{url}/ipp/v1/devices/register"))
        .collect();
    let unknown_code = || PairingCode::generate(CODE_LENGTH).as_str().to_owned();

    let mut requests = Vec::new();
    for (index, code) in codes.iter().enumerate() {
        requests.push(RaceRequest {
            instance: index % 2,
            code: code.clone(),
            hardware_id: format!("bench-two-{index:05}"),
        });
        if index % DUPLICATE_EVERY == 0 {
            // The same code at the other instance at the same moment: one of them wins.
            requests.push(RaceRequest {
                instance: (index + 1) % 2,
                code: code.clone(),
                hardware_id: format!("bench-two-again-{index:05}"),
            });
        }
        if index % UNKNOWN_EVERY == 0 {
            requests.push(RaceRequest {
                instance: index % 2,
                code: unknown_code(),
                hardware_id: format!("bench-two-unknown-{index:05}"),
            });
        }
    }
    let send = |request: &RaceRequest| {
        let body = json!({
            "enrollment_code": request.code,
            "hardware_id": request.hardware_id,
            "platform": "ANDROID",
        });
        let sent = client.post(&urls[request.instance]).json(&body).send();
        let code = request.code.clone();
        async move {
            let mut answer = RaceAnswer {
                code,
                status: None,
                device_id: None,
            };
            if let Ok(response) = sent.await {
                answer.status = Some(response.status());
                let body: Value = response.json().await.unwrap_or_default();
                answer.device_id = body["device"]["id"].as_str().map(str::to_owned);
            }
            answer
        }
    };
    let started = Instant::now();
    let mut answers: Vec<RaceAnswer> = stream::iter(&requests)
        .map(send)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let registered = answers
        .iter()
        .filter(|answer| answer.status == Some(StatusCode::CREATED))
        .count();
    let throughput = Throughput {
        succeeded: registered,
        failed: 0,
        first_error: None,
        elapsed,
    };

    eprintln!("{TWO_INSTANCE_BURST} unknown codes at both instances, past the limits ...");
    let burst: Vec<RaceRequest> = (0..TWO_INSTANCE_BURST)
        .map(|index| RaceRequest {
            instance: index % 2,
            code: unknown_code(),
            hardware_id: format!("bench-two-burst-{index:05}"),
        })
        .collect();
    let burst_answers: Vec<RaceAnswer> = stream::iter(&burst)
        .map(send)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    answers.extend(burst_answers);
    for (_, server) in &instances {
        server.abort();
    }

    let outcome = store
        .registration_outcome(&actor.merchant_id, since, "bench-two-")
        .await
        .expect("read what the registrations wrote");
    let window = TWO_INSTANCE_LIMITS.window_seconds * 1_000;
    let now = now_ms();
    let counted = store
        .attempt_failures(
            &["register:addr:127.0.0.1", "register:global"],
            now - now.rem_euclid(window),
        )
        .await
        .expect("read the failure counters");
    (
        throughput,
        race_checks(&answers, registered, outcome, &counted),
    )
}

/// What must hold after the two-instance run.
fn race_checks(
    answers: &[RaceAnswer],
    registered: usize,
    outcome: app::store::RegistrationOutcome,
    counted: &[i64],
) -> Vec<Check> {
    let count = |status: StatusCode| {
        answers
            .iter()
            .filter(|answer| answer.status == Some(status))
            .count()
    };
    let created = count(StatusCode::CREATED);
    let mut wins: HashMap<&str, usize> = HashMap::new();
    let mut device_ids = HashSet::new();
    for answer in answers {
        if answer.status == Some(StatusCode::CREATED) {
            *wins.entry(answer.code.as_str()).or_default() += 1;
            if let Some(id) = &answer.device_id {
                device_ids.insert(id.as_str());
            }
        }
    }
    let most_wins = wins.values().copied().max().unwrap_or(0);
    // Failures let through to the code lookup: refused as unknown (404) or used (410).
    let failures = count(StatusCode::NOT_FOUND) + count(StatusCode::GONE);
    let refused = count(StatusCode::TOO_MANY_REQUESTS);
    let unanswered = answers
        .iter()
        .filter(|answer| answer.status.is_none())
        .count();
    let other = answers.len() - created - failures - refused - unanswered;
    let (per_address, global) = (counted[0], counted[1]);
    let limits = TWO_INSTANCE_LIMITS;
    vec![
        Check::new(
            "every code registered at most one device",
            most_wins <= 1 && outcome.enrollments_with_several_devices == 0,
            format!(
                "most 201s for one code: {most_wins}; enrollments with several devices: {}",
                outcome.enrollments_with_several_devices
            ),
        ),
        Check::new(
            "every success is one device row",
            created == registered
                && device_ids.len() == created
                && outcome.devices == created as i64
                && outcome.consumed == created as i64
                && outcome.consumed_without_their_device == 0,
            format!(
                "{created} answered 201 with {} distinct device ids; {} device rows, {} codes \
                 consumed, {} consumed without their device",
                device_ids.len(),
                outcome.devices,
                outcome.consumed,
                outcome.consumed_without_their_device
            ),
        ),
        Check::new(
            "every code registered once",
            created == TWO_INSTANCE_CODES,
            format!("{created} of {TWO_INSTANCE_CODES}"),
        ),
        Check::new(
            "per-address limit held",
            failures as i64 <= limits.per_address
                && per_address <= limits.per_address
                && per_address == failures as i64,
            format!(
                "{failures} failures let through (404/410), counter {per_address}, limit {}",
                limits.per_address
            ),
        ),
        Check::new(
            "global limit held",
            global <= limits.global,
            format!("counter {global}, limit {}", limits.global),
        ),
        Check::new(
            "the limit was reached and answered 429",
            refused > 0 && other == 0 && unanswered == 0,
            format!("{refused} answered 429; {other} other statuses; {unanswered} unanswered"),
        ),
    ]
}

/// The device list unfiltered, newest first: page 0 and the deep page by cursor, and by
/// number for contrast (the numbered page reads past its whole offset).
async fn measure_deep_pages(
    client: &reqwest::Client,
    app_url: &str,
    api_key: &str,
    seeded: usize,
) -> DeepPages {
    let deep_page = DEEP_PAGE.min((seeded / LIST_PAGE_SIZE).saturating_sub(1));
    eprintln!("the device list at page 0 and page {deep_page}, by cursor and by number ...");
    let list = format!("{app_url}/ipp/v1/devices?page_size={LIST_PAGE_SIZE}");
    let page = |query: String| {
        let request = client.get(format!("{list}&{query}")).bearer_auth(api_key);
        async move {
            let response = request.send().await.map_err(|e| e.to_string())?;
            let status = response.status();
            let body: Value = response.json().await.map_err(|e| e.to_string())?;
            if status != StatusCode::OK {
                return Err(format!("{status}: {body}"));
            }
            Ok(body)
        }
    };
    let first = page("page_number=0".into()).await.unwrap_or_default();
    let total = first["total_elements"].as_i64().unwrap_or_default();
    // Page 0 by cursor: "after" an entry newer than any, as a cursor of this API reads.
    let cursor_to_first = app::domain::paging::PageCursor {
        page_number: 0,
        total,
        created_at: i64::MAX,
        id: String::new(),
    }
    .encode();
    // The deep page's cursor, as a walk would get it: the page before's next_cursor.
    let before_deep = page(format!("page_number={}", deep_page.saturating_sub(1)))
        .await
        .unwrap_or_default();
    let cursor_to_deep = before_deep["next_cursor"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let timed = |query: String| {
        let sent = page(query);
        async move { sent.await.map(|_| ()) }
    };
    DeepPages {
        deep_page,
        first_by_cursor: measure_latency(10, PAGE_REQUESTS, |_| {
            timed(format!("cursor={cursor_to_first}"))
        })
        .await
        .into(),
        deep_by_cursor: measure_latency(10, PAGE_REQUESTS, |_| {
            timed(format!("cursor={cursor_to_deep}"))
        })
        .await
        .into(),
        first_by_number: measure_latency(10, PAGE_REQUESTS, |_| timed("page_number=0".into()))
            .await
            .into(),
        deep_by_number: measure_latency(1, NUMBERED_DEEP_REQUESTS, |_| {
            timed(format!("page_number={deep_page}"))
        })
        .await
        .into(),
    }
}

/// The server process's memory, in MB: its peak over its whole life (it starts after the
/// seeding), and what it holds at the end.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Memory {
    /// VmHWM: the most resident at once.
    peak_mb: f64,
    /// RssAnon: heap and stacks, at the end.
    anonymous_mb: f64,
    /// The most RssAnon seen, sampled every `MEMORY_SAMPLE_INTERVAL`: the process's own
    /// memory, without the file pages it maps.
    anonymous_peak_mb: f64,
    /// RssFile: pages of files mapped in (the program itself), at the end.
    file_mb: f64,
}

/// A field of `/proc/<pid>/status`, in MB; -1 when missing.
fn status_mb(pid: u32, name: &str) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix(name))
        .and_then(|rest| {
            rest.trim()
                .trim_end_matches("kB")
                .trim()
                .parse::<f64>()
                .ok()
        })
        .map_or(-1.0, |kib| kib / 1024.0)
}

const MEMORY_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// `ipp-portal serve` in a process of its own, as deployed: the one-instance figures are
/// its, and so is the memory measured. Request logging is off (warnings only), as the
/// log's cost depends on where it goes.
struct ServerProcess {
    child: tokio::process::Child,
    pid: u32,
    url: String,
    most_anonymous_kib: Arc<std::sync::atomic::AtomicU64>,
    sampler: JoinHandle<()>,
}

impl ServerProcess {
    async fn start(database_url: &str, limits: RegistrationLimits) -> Self {
        use tokio::io::AsyncBufReadExt;
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ipp-portal"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args([
                "--registration-failures-per-address",
                &limits.per_address.to_string(),
                "--registration-failures-global",
                &limits.global.to_string(),
                "--registration-window-seconds",
                &limits.window_seconds.to_string(),
                // The webhook receiver is on loopback.
                "--allow-private-webhook-targets",
            ])
            .env("RUST_LOG", "warn,server::cli=info")
            .env("NO_COLOR", "1")
            .env("IPP_PORTAL_LOG_FORMAT", "pretty")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start ipp-portal serve");
        let pid = child.id().expect("the server's process id");
        let mut lines = tokio::io::BufReader::new(child.stderr.take().expect("its log")).lines();
        let mut url = None;
        while let Ok(Some(line)) = lines.next_line().await {
            if let Some(at) = line.split("serving the portal at ").nth(1) {
                url = Some(at.trim().to_owned());
                break;
            }
            eprintln!("server: {line}");
        }
        let url = url.expect("the server says where it serves");
        // Read the log all along: a full pipe would stop the server.
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                eprintln!("server: {line}");
            }
        });
        let most_anonymous_kib: Arc<std::sync::atomic::AtomicU64> = Arc::default();
        let noted = most_anonymous_kib.clone();
        let sampler = tokio::spawn(async move {
            loop {
                let kib = (status_mb(pid, "RssAnon:") * 1024.0).max(0.0) as u64;
                noted.fetch_max(kib, std::sync::atomic::Ordering::Relaxed);
                tokio::time::sleep(MEMORY_SAMPLE_INTERVAL).await;
            }
        });
        Self {
            child,
            pid,
            url,
            most_anonymous_kib,
            sampler,
        }
    }

    /// Its memory now, with its peak; then stops it.
    async fn stop(mut self) -> Memory {
        self.sampler.abort();
        let memory = Memory {
            peak_mb: status_mb(self.pid, "VmHWM:"),
            anonymous_mb: status_mb(self.pid, "RssAnon:"),
            anonymous_peak_mb: self
                .most_anonymous_kib
                .load(std::sync::atomic::Ordering::Relaxed) as f64
                / 1024.0,
            file_mb: status_mb(self.pid, "RssFile:"),
        };
        let _ = self.child.kill().await;
        memory
    }
}

/// The load average over the last minute, as `uptime` shows it.
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|text| {
            text.split_whitespace()
                .take(3)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Everything measured on one database, handed from the process that measured it to the
/// one that prints.
#[derive(Debug, Serialize, Deserialize)]
struct BackendReport {
    database: String,
    seeded: usize,
    seeding_seconds: f64,
    database_mb: f64,
    commit_settings: String,
    matching: i64,
    register: Rate,
    store_alone: Rate,
    two_instances: Rate,
    checks: Vec<Check>,
    bare_throughput: Rate,
    list: Percentiles,
    bare_latency: Percentiles,
    portal_page: Percentiles,
    overview: Percentiles,
    pages: DeepPages,
    delivery_throughput: Rate,
    delivery_latency: Percentiles,
    memory: Memory,
    load_before: String,
    load_after: String,
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Rate {
    per_second: f64,
    succeeded: usize,
    failed: usize,
    seconds: f64,
    first_error: Option<String>,
}

impl From<Throughput> for Rate {
    fn from(throughput: Throughput) -> Self {
        Self {
            per_second: throughput.per_second(),
            succeeded: throughput.succeeded,
            failed: throughput.failed,
            seconds: throughput.elapsed.as_secs_f64(),
            first_error: throughput.first_error,
        }
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct Percentiles {
    p50_ms: Option<f64>,
    p99_ms: Option<f64>,
    timed: usize,
    failed: usize,
    first_error: Option<String>,
}

impl From<Latency> for Percentiles {
    fn from(latency: Latency) -> Self {
        Self {
            p50_ms: latency.percentile_ms(50),
            p99_ms: latency.percentile_ms(99),
            timed: latency.sorted.len(),
            failed: latency.failed,
            first_error: latency.first_error,
        }
    }
}

impl Percentiles {
    /// `p50 / p99`, in milliseconds.
    fn both(&self) -> String {
        format!("{} / {}", ms(self.p50_ms), ms(self.p99_ms))
    }

    fn p99_within(&self, target_ms: f64) -> bool {
        self.failed == 0 && self.p99_ms.is_some_and(|p99| p99 <= target_ms)
    }
}

fn ms(value: Option<f64>) -> String {
    match value {
        Some(ms) if ms < 10.0 => format!("{ms:.2}"),
        Some(ms) => format!("{ms:.1}"),
        None => "-".into(),
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
struct DeepPages {
    deep_page: usize,
    first_by_cursor: Percentiles,
    deep_by_cursor: Percentiles,
    first_by_number: Percentiles,
    deep_by_number: Percentiles,
}

#[derive(Debug, Serialize, Deserialize)]
struct Check {
    what: String,
    holds: bool,
    detail: String,
}

impl Check {
    fn new(what: &str, holds: bool, detail: String) -> Self {
        Self {
            what: what.to_owned(),
            holds,
            detail,
        }
    }
}

/// One row of the table: the measure, each database's figure, the target and whether
/// each database met it (`None`: no target).
struct Row {
    measure: String,
    figures: Vec<String>,
    target: String,
    met: Vec<Option<bool>>,
}

fn print_comparison(reports: &[BackendReport]) {
    let rows = comparison_rows(reports);
    println!();
    println!("ipp-portal Device API benchmark (release build; figures as measured)");
    for report in reports {
        println!(
            "{}: seeded {} devices in {:.1} s ({:.0} devices/s); database {:.0} MB; \
             filter store:s<k> matches {}; load average {} before measuring, {} after",
            report.database,
            report.seeded,
            report.seeding_seconds,
            report.seeded as f64 / report.seeding_seconds,
            report.database_mb,
            report.matching,
            report.load_before,
            report.load_after,
        );
        println!("{}: {}", report.database, report.commit_settings);
    }
    println!();
    let mut header = format!("{:<52}", "measure");
    for report in reports {
        header.push_str(&format!(" {:>17}", report.database));
    }
    println!("{header} {:>14}  met", "target");
    for row in rows {
        let mut line = format!("{:<52}", row.measure);
        for figure in &row.figures {
            line.push_str(&format!(" {figure:>17}"));
        }
        let met: Vec<&str> = row
            .met
            .iter()
            .map(|met| match met {
                Some(true) => "yes",
                Some(false) => "NO",
                None => "",
            })
            .collect();
        let met = if met.iter().all(|m| m.is_empty()) {
            String::new()
        } else {
            met.join(" / ")
        };
        println!("{line} {:>14}  {met}", row.target);
    }
    println!();
    for report in reports {
        print_details(report);
    }
}

fn comparison_rows(reports: &[BackendReport]) -> Vec<Row> {
    let row = |measure: &str,
               target: &str,
               figure: &dyn Fn(&BackendReport) -> String,
               met: &dyn Fn(&BackendReport) -> Option<bool>| Row {
        measure: measure.to_owned(),
        figures: reports.iter().map(figure).collect(),
        target: target.to_owned(),
        met: reports.iter().map(met).collect(),
    };
    let rate = |rate: &Rate| format!("{:.0}", rate.per_second);
    let share =
        |report: &BackendReport| 100.0 * report.register.per_second / report.store_alone.per_second;
    let deep = reports
        .first()
        .map_or(DEEP_PAGE, |report| report.pages.deep_page);
    vec![
        row(
            &format!("register, 1 instance, {IN_FLIGHT} in flight (/s)"),
            &format!(">= {TARGET_REGISTRATIONS_PER_SECOND:.0}"),
            &|r: &BackendReport| rate(&r.register),
            &|r: &BackendReport| {
                Some(
                    r.register.failed == 0
                        && r.register.per_second >= TARGET_REGISTRATIONS_PER_SECOND,
                )
            },
        ),
        row(
            "the same through the store alone (/s)",
            "",
            &|r: &BackendReport| rate(&r.store_alone),
            &|_: &BackendReport| None,
        ),
        row(
            "HTTP registration as a share of the store alone",
            &format!(">= {TARGET_SHARE_OF_STORE:.0} % (SQLite)"),
            &|r: &BackendReport| format!("{:.0} %", share(r)),
            &|r: &BackendReport| {
                (r.database == "SQLite").then(|| share(r) >= TARGET_SHARE_OF_STORE)
            },
        ),
        row(
            "register, 2 instances on one database (/s)",
            "",
            &|r: &BackendReport| rate(&r.two_instances),
            &|_: &BackendReport| None,
        ),
        row(
            "  then: single use and limits held",
            "all",
            &|r: &BackendReport| {
                let held = r.checks.iter().filter(|check| check.holds).count();
                format!("{held} of {}", r.checks.len())
            },
            &|r: &BackendReport| Some(r.checks.iter().all(|check| check.holds)),
        ),
        row(
            "list by metadata p50 / p99 (ms)",
            &format!("p99 <= {TARGET_LIST_P99_MS:.0}"),
            &|r: &BackendReport| r.list.both(),
            &|r: &BackendReport| Some(r.list.p99_within(TARGET_LIST_P99_MS)),
        ),
        row(
            "portal device page by metadata p50 / p99 (ms)",
            &format!("p99 <= {TARGET_PAGE_P99_MS:.0}"),
            &|r: &BackendReport| r.portal_page.both(),
            &|r: &BackendReport| Some(r.portal_page.p99_within(TARGET_PAGE_P99_MS)),
        ),
        row(
            "portal overview p50 / p99 (ms)",
            &format!("p99 <= {TARGET_PAGE_P99_MS:.0}"),
            &|r: &BackendReport| r.overview.both(),
            &|r: &BackendReport| Some(r.overview.p99_within(TARGET_PAGE_P99_MS)),
        ),
        row(
            "device list page 0 by cursor p50 / p99 (ms)",
            "",
            &|r: &BackendReport| r.pages.first_by_cursor.both(),
            &|_: &BackendReport| None,
        ),
        row(
            &format!("device list page {deep} by cursor p50 / p99 (ms)"),
            "~ page 0",
            &|r: &BackendReport| r.pages.deep_by_cursor.both(),
            &|r: &BackendReport| {
                // "The same p99": within 2 ms or half again of page 0's, whichever is more.
                let first = r.pages.first_by_cursor.p99_ms?;
                let deep = r.pages.deep_by_cursor.p99_ms?;
                Some(r.pages.deep_by_cursor.failed == 0 && deep <= (first * 1.5).max(first + 2.0))
            },
        ),
        row(
            "device list page 0 numbered, counted p50 / p99 (ms)",
            "",
            &|r: &BackendReport| r.pages.first_by_number.both(),
            &|_: &BackendReport| None,
        ),
        row(
            &format!("device list page {deep} numbered p50 / p99 (ms)"),
            "",
            &|r: &BackendReport| r.pages.deep_by_number.both(),
            &|_: &BackendReport| None,
        ),
        row(
            "webhooks delivered, backlog (/s)",
            &format!(">= {TARGET_DELIVERIES_PER_SECOND:.0}"),
            &|r: &BackendReport| rate(&r.delivery_throughput),
            &|r: &BackendReport| {
                Some(
                    r.delivery_throughput.failed == 0
                        && r.delivery_throughput.per_second >= TARGET_DELIVERIES_PER_SECOND,
                )
            },
        ),
        row(
            "registration to its webhook p50 / p99 (ms)",
            &format!("p99 <= {TARGET_DELIVERY_P99_MS:.0}"),
            &|r: &BackendReport| r.delivery_latency.both(),
            &|r: &BackendReport| Some(r.delivery_latency.p99_within(TARGET_DELIVERY_P99_MS)),
        ),
        row(
            "server process peak RSS (MB)",
            &format!("<= {TARGET_PEAK_RSS_MB:.0}"),
            &|r: &BackendReport| format!("{:.0}", r.memory.peak_mb),
            &|r: &BackendReport| {
                Some(r.memory.peak_mb >= 0.0 && r.memory.peak_mb <= TARGET_PEAK_RSS_MB)
            },
        ),
        row(
            "  peak heap: RssAnon sampled every 50 ms (MB)",
            "",
            &|r: &BackendReport| format!("{:.0}", r.memory.anonymous_peak_mb),
            &|_: &BackendReport| None,
        ),
        row(
            "  at the end: heap / mapped files (MB)",
            "",
            &|r: &BackendReport| format!("{:.0} / {:.0}", r.memory.anonymous_mb, r.memory.file_mb),
            &|_: &BackendReport| None,
        ),
        row(
            "bare axum: requests/s; p50 / p99 (ms)",
            "",
            &|r: &BackendReport| {
                format!(
                    "{:.0}; {}",
                    r.bare_throughput.per_second,
                    r.bare_latency.both()
                )
            },
            &|_: &BackendReport| None,
        ),
    ]
}

fn print_details(report: &BackendReport) {
    let name = &report.database;
    println!(
        "{name}: register {} ok / {} failed in {:.2} s; store alone {} ok / {} failed in {:.2} s; \
         two instances {} registered in {:.2} s",
        report.register.succeeded,
        report.register.failed,
        report.register.seconds,
        report.store_alone.succeeded,
        report.store_alone.failed,
        report.store_alone.seconds,
        report.two_instances.succeeded,
        report.two_instances.seconds,
    );
    for check in &report.checks {
        println!(
            "{name}: {} {}: {}",
            if check.holds { "held:" } else { "FAILED:" },
            check.what,
            check.detail
        );
    }
    println!(
        "{name}: peak RSS is the VmHWM of `ipp-portal serve`, run as a process of its own from \
         after the seeding until the last registration (one instance's registrations, lists, \
         pages and webhooks); the benchmark's client, the store-alone run and the two-instance \
         run are in another process"
    );
    for (what, error) in [
        ("register", &report.register.first_error),
        ("store alone", &report.store_alone.first_error),
        ("bare throughput", &report.bare_throughput.first_error),
        ("list", &report.list.first_error),
        ("portal page", &report.portal_page.first_error),
        ("overview", &report.overview.first_error),
        (
            "page 0 by cursor",
            &report.pages.first_by_cursor.first_error,
        ),
        (
            "deep page by cursor",
            &report.pages.deep_by_cursor.first_error,
        ),
        (
            "deep page by number",
            &report.pages.deep_by_number.first_error,
        ),
        ("webhook delivery", &report.delivery_throughput.first_error),
        (
            "registration to webhook",
            &report.delivery_latency.first_error,
        ),
    ] {
        if let Some(error) = error {
            println!("{name}: first {what} error: {error}");
        }
    }
}

/// A browser session of an ops user of the merchant, signed in through the login form.
async fn signed_in_portal(
    services: &Services,
    merchant_id: &str,
    app_url: &str,
) -> reqwest::Client {
    const PASSWORD: &str = "bench password 1";
    services
        .create_user(
            &Actor::system(merchant_id),
            app::services::NewUserInput {
                merchant_id: merchant_id.to_owned(),
                email: "ops@bench.example".into(),
                password: PASSWORD.into(),
                role: app::domain::role::Role::Ops,
                location_ids: Vec::new(),
            },
        )
        .await
        .expect("create user");
    let portal = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        .no_proxy()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("HTTP client");
    let signed_in = portal
        .post(format!("{app_url}{}", Login::PATH))
        .form(&[("email", "ops@bench.example"), ("password", PASSWORD)])
        .send()
        .await
        .expect("sign in");
    assert!(
        signed_in.status().is_success(),
        "sign-in failed: {}",
        signed_in.status()
    );
    portal
}

/// The seeded devices, made as they are inserted so a million never sit in memory at once;
/// one a millisecond up to `until_ms`, so lists have a realistic newest-first order.
fn seeded_devices(
    count: usize,
    merchant_id: &str,
    location_id: &str,
    until_ms: i64,
) -> impl Iterator<Item = DeviceRow> {
    let merchant_id = merchant_id.to_owned();
    let location_id = location_id.to_owned();
    (0..count).map(move |index| {
        let android = index % 2 == 0;
        let created_at = until_ms - (count - index) as i64;
        DeviceRow {
            id: uuid::Uuid::now_v7().to_string(),
            merchant_id: merchant_id.clone(),
            location_id: location_id.clone(),
            enrollment_id: uuid::Uuid::now_v7().to_string(),
            hardware_id: format!("bench-seeded-{index:07}"),
            name: format!("Till {index}"),
            platform: if android { "ANDROID" } else { "IOS" }.into(),
            created_at,
            updated_at: created_at,
            last_seen_at: None,
            metadata: device_metadata(index, android),
        }
    })
}

fn device_metadata(index: usize, android: bool) -> Metadata {
    BTreeMap::from([
        ("store".to_owned(), format!("s{}", index % STORES)),
        (
            "type".to_owned(),
            if android { "android" } else { "ios" }.to_owned(),
        ),
        ("lane".to_owned(), (index % 10).to_string()),
    ])
}

/// The baseline: what axum, hyper and the client cost without the application.
async fn spawn_bare() -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("address");
    let router = Router::new().route("/bare", get(|| async { Json(json!({"ok": true})) }));
    let handle = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), handle)
}

/// Sends the request and reads the whole body, so the connection goes back to the pool.
async fn expect_status(request: RequestBuilder, expected: StatusCode) -> Result<(), String> {
    let response = request.send().await.map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response.text().await.map_err(|e| e.to_string())?;
    if status == expected {
        Ok(())
    } else {
        Err(format!("{status}: {body}"))
    }
}

/// How many devices the list's first store value matches, to show the size of a result.
async fn matching_devices(client: &reqwest::Client, url: &str, api_key: &str) -> i64 {
    let response = client
        .get(url)
        .bearer_auth(api_key)
        .send()
        .await
        .expect("list devices");
    assert_eq!(response.status(), StatusCode::OK, "the list answers");
    let page: Value = response.json().await.expect("a page");
    page["total_elements"].as_i64().unwrap_or(-1)
}

struct Throughput {
    succeeded: usize,
    failed: usize,
    first_error: Option<String>,
    elapsed: Duration,
}

impl Throughput {
    fn per_second(&self) -> f64 {
        self.succeeded as f64 / self.elapsed.as_secs_f64()
    }
}

/// `requests` requests with at most `IN_FLIGHT` under way at once.
async fn measure_throughput<F, Fut>(requests: usize, send: F) -> Throughput
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let started = Instant::now();
    let outcomes: Vec<Result<(), String>> = stream::iter(0..requests)
        .map(send)
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let elapsed = started.elapsed();
    let failed = outcomes.iter().filter(|outcome| outcome.is_err()).count();
    Throughput {
        succeeded: requests - failed,
        failed,
        first_error: outcomes.into_iter().find_map(Result::err),
        elapsed,
    }
}

struct Latency {
    /// Successful requests' times, shortest first.
    sorted: Vec<Duration>,
    failed: usize,
    first_error: Option<String>,
}

impl Latency {
    /// Nearest-rank percentile, in milliseconds; none without a sample.
    fn percentile_ms(&self, percent: usize) -> Option<f64> {
        let rank = (percent * self.sorted.len()).div_ceil(100).max(1);
        Some(self.sorted.get(rank - 1)?.as_secs_f64() * 1_000.0)
    }
}

/// One request at a time: `warmup` untimed, then `requests` timed ones, within
/// `LATENCY_PHASE_BUDGET`.
async fn measure_latency<F, Fut>(warmup: usize, requests: usize, send: F) -> Latency
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + LATENCY_PHASE_BUDGET;
    for index in 0..warmup {
        if Instant::now() > deadline {
            break;
        }
        let _ = send(index).await;
    }
    let mut latency = Latency {
        sorted: Vec::with_capacity(requests),
        failed: 0,
        first_error: None,
    };
    for index in warmup..warmup + requests {
        if Instant::now() > deadline {
            break;
        }
        let started = Instant::now();
        let outcome = send(index).await;
        let elapsed = started.elapsed();
        match outcome {
            Ok(()) => latency.sorted.push(elapsed),
            Err(error) => {
                latency.failed += 1;
                latency.first_error.get_or_insert(error);
            }
        }
    }
    latency.sorted.sort();
    latency
}

/// A webhook receiver on loopback: answers 204 at once and notes when each delivery came,
/// by the device (or event) it is about.
struct BenchReceiver {
    url: String,
    arrivals: Arc<Mutex<HashMap<String, Instant>>>,
    server: JoinHandle<()>,
}

impl BenchReceiver {
    async fn start() -> Self {
        let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!("http://{}/hooks", listener.local_addr().expect("address"));
        let noted = arrivals.clone();
        let router = Router::new().fallback(move |body: axum::body::Bytes| {
            let noted = noted.clone();
            async move {
                let arrived = Instant::now();
                let event: Value = serde_json::from_slice(&body).unwrap_or_default();
                let key = event["data"]["device_id"]
                    .as_str()
                    .or(event["id"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                noted.lock().unwrap().entry(key).or_insert(arrived);
                StatusCode::NO_CONTENT
            }
        });
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url,
            arrivals,
            server,
        }
    }

    fn arrived(&self, key: &str) -> Option<Instant> {
        self.arrivals.lock().unwrap().get(key).copied()
    }

    fn count(&self) -> usize {
        self.arrivals.lock().unwrap().len()
    }

    /// Waits until `count` deliveries came, for at most `patience`; when the last came.
    async fn wait_for(&self, count: usize, patience: Duration) -> Option<Instant> {
        let deadline = Instant::now() + patience;
        while Instant::now() < deadline {
            if self.count() >= count {
                return self.arrivals.lock().unwrap().values().max().copied();
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        None
    }
}

impl Drop for BenchReceiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// Each registration timed from its request to its `ipp.device.registered` delivery.
async fn measure_delivery_latency(
    client: &reqwest::Client,
    register_url: &str,
    codes: &[String],
    receiver: &BenchReceiver,
) -> Latency {
    let outcomes: Vec<Result<Duration, String>> = stream::iter(codes.iter().enumerate())
        .map(|(index, code)| async move {
            let started = Instant::now();
            let body = json!({
                "enrollment_code": code,
                "hardware_id": format!("bench-webhook-{index:05}"),
                "platform": "ANDROID",
            });
            let response = client
                .post(register_url)
                .json(&body)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            let status = response.status();
            let registration: Value = response.json().await.map_err(|e| e.to_string())?;
            if status != StatusCode::CREATED {
                return Err(format!("{status}: {registration}"));
            }
            let device_id = registration["device"]["id"].as_str().unwrap_or_default();
            let deadline = started + REQUEST_TIMEOUT;
            loop {
                if let Some(arrived) = receiver.arrived(device_id) {
                    return Ok(arrived.saturating_duration_since(started));
                }
                if Instant::now() > deadline {
                    return Err(format!("no webhook for {device_id} within 30 s"));
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        })
        .buffer_unordered(IN_FLIGHT)
        .collect()
        .await;
    let mut latency = Latency {
        sorted: Vec::with_capacity(outcomes.len()),
        failed: 0,
        first_error: None,
    };
    for outcome in outcomes {
        match outcome {
            Ok(time) => latency.sorted.push(time),
            Err(error) => {
                latency.failed += 1;
                latency.first_error.get_or_insert(error);
            }
        }
    }
    latency.sorted.sort();
    latency
}

/// A backlog of test events written while no worker runs, then an instance whose worker
/// delivers them: the time from its start to the last delivery.
async fn measure_delivery_throughput(database_url: &str) -> Throughput {
    let config = |deliver: bool| ApplicationConfig {
        webhooks: WebhookSettings {
            allow_private_targets: true,
            deliver,
            ..WebhookSettings::default()
        },
        ..ApplicationConfig::new(([127, 0, 0, 1], 0).into(), database_url.to_owned())
    };
    let receiver = BenchReceiver::start().await;
    let writer = Application::build(config(false))
        .await
        .expect("build the application");
    let services = writer.services().clone();
    let merchant = services
        .create_merchant("Webhook Merchant")
        .await
        .expect("create merchant");
    let actor = Actor::system(&merchant.id);
    let endpoint = services
        .create_webhook_endpoint(
            &actor,
            NewWebhookEndpoint {
                url: receiver.url.clone(),
                ..NewWebhookEndpoint::default()
            },
        )
        .await
        .expect("create the webhook endpoint");
    for _ in 0..WEBHOOK_BACKLOG {
        services
            .send_test_webhook(&actor, &endpoint.endpoint.id)
            .await
            .expect("queue a test event");
    }
    services.close().await;
    drop(writer);

    let deliverer = Application::build(config(true))
        .await
        .expect("build the application");
    let services = deliverer.services().clone();
    let started = Instant::now();
    let server = tokio::spawn(async move {
        let _ = deliverer.run_until_stopped().await;
    });
    let last = receiver
        .wait_for(WEBHOOK_BACKLOG, Duration::from_secs(300))
        .await;
    let delivered = receiver.count();
    server.abort();
    services.close().await;
    Throughput {
        succeeded: delivered,
        failed: WEBHOOK_BACKLOG.saturating_sub(delivered),
        first_error: last
            .is_none()
            .then(|| format!("{delivered} of {WEBHOOK_BACKLOG} delivered within 300 s")),
        elapsed: last
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(started),
    }
}

/// The run's own folder, removed at the end even when the run panics.
struct TempDir(PathBuf);

impl TempDir {
    fn create() -> Self {
        let path = std::env::temp_dir().join(format!("ipp-portal-bench-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&path).expect("create the temporary folder");
        Self(path)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
