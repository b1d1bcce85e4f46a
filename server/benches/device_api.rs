//! `make bench`: the Device API on a SQLite database of 1,000,000 devices, next to a bare
//! axum handler served by the same process as the baseline.
//!
//! Measures registration throughput, the latency of a metadata-filtered device list and of
//! the portal's device page filtered the same way (rendered whole on the server), and
//! webhooks: how fast a backlog is delivered to a local receiver, and the time from a
//! registration to its `ipp.device.registered` delivery. Prints them against their
//! targets and exits 0 either way: a measurement, not a test. All traffic stays on
//! 127.0.0.1.

// The portal's view types nest deeply; optimised builds need room to lay them out.
#![recursion_limit = "512"]

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::{Json, Router, routing::get};
use futures::{StreamExt, stream};
use leptos::server_fn::ServerFn;
use reqwest::{RequestBuilder, StatusCode};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

use app::domain::metadata::Metadata;
use app::services::{
    Actor, CreateEnrollment, NewWebhookEndpoint, RegistrationLimits, Services, WebhookSettings,
};
use app::store::DeviceRow;
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
const TARGET_REGISTRATIONS_PER_SECOND: f64 = 2_000.0;
const TARGET_LIST_P99_MS: f64 = 10.0;
/// The portal's device page, rendered whole on the server.
const TARGET_PAGE_P99_MS: f64 = 100.0;
/// Events waiting when the delivery worker starts, for the throughput of webhooks.
const WEBHOOK_BACKLOG: usize = 5_000;
const TARGET_DELIVERIES_PER_SECOND: f64 = 1_000.0;
/// Registrations (at `IN_FLIGHT` at once) timed until their webhook arrives.
const DELIVERY_LATENCY_REGISTRATIONS: usize = 2_000;
const TARGET_DELIVERY_P99_MS: f64 = 500.0;
/// No request may hang the run.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A slow build still finishes: a latency phase stops early, with fewer samples, past this.
const LATENCY_PHASE_BUDGET: Duration = Duration::from_secs(180);

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let run_started = Instant::now();
    let temp_dir = TempDir::create();
    let database_url = format!("sqlite://{}/bench.db", temp_dir.0.display());
    // The real application on a random loopback port, as `ipp-portal serve` and the
    // integration tests build it; seeded through its services before it serves.
    let application = Application::build(ApplicationConfig {
        // Far above what the run sends, so no registration is refused with 429.
        registration_limits: RegistrationLimits {
            per_address: 10_000_000,
            global: 10_000_000,
            window_seconds: 900,
        },
        // The webhook receiver is on loopback.
        webhooks: WebhookSettings {
            allow_private_targets: true,
            ..WebhookSettings::default()
        },
        ..ApplicationConfig::new(([127, 0, 0, 1], 0).into(), database_url)
    })
    .await
    .expect("build the application");
    let services = application.services().clone();

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
    eprintln!("seeding {seeded_count} devices ...");
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

    let app_url = format!("http://{}", application.address());
    let app_server = tokio::spawn(async move {
        let _ = application.run_until_stopped().await;
    });
    let (bare_url, bare_server) = spawn_bare().await;
    let client = reqwest::Client::builder()
        .timeout(REQUEST_TIMEOUT)
        // Loopback only: no proxy from the environment may carry the traffic elsewhere.
        .no_proxy()
        .pool_max_idle_per_host(IN_FLIGHT)
        .build()
        .expect("HTTP client");

    eprintln!("creating {REGISTRATIONS} enrollments ...");
    let mut codes = Vec::with_capacity(REGISTRATIONS);
    for index in 0..REGISTRATIONS {
        let input = CreateEnrollment {
            metadata: device_metadata(index, index % 2 == 0),
            ..CreateEnrollment::default()
        };
        let (enrollment, _) = services
            .create_enrollment(&actor, input)
            .await
            .expect("create enrollment");
        codes.push(enrollment.enrollment_code.expect("a pending code"));
    }

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
    let list = measure_latency(|index| {
        expect_status(
            client.get(list_url(index)).bearer_auth(&api_key),
            StatusCode::OK,
        )
    })
    .await;
    let bare_latency =
        measure_latency(|_| expect_status(client.get(&bare_path), StatusCode::OK)).await;

    eprintln!("rendering the portal's device page filtered by metadata, {LIST_REQUESTS} times ...");
    let portal = signed_in_portal(&services, &merchant.id, &app_url).await;
    let portal_page = measure_latency(|index| {
        let store_value = (index * 7_919) % STORES;
        expect_status(
            portal.get(format!("{app_url}/devices?metadata=store%3As{store_value}")),
            StatusCode::OK,
        )
    })
    .await;
    let overview = measure_overview(&portal, &app_url).await;

    eprintln!(
        "registering {DELIVERY_LATENCY_REGISTRATIONS} devices, {IN_FLIGHT} in flight, each timed until its webhook arrives ..."
    );
    let mut latency_codes = Vec::with_capacity(DELIVERY_LATENCY_REGISTRATIONS);
    for index in 0..DELIVERY_LATENCY_REGISTRATIONS {
        let (enrollment, _) = services
            .create_enrollment(&actor, CreateEnrollment::default())
            .await
            .expect("create enrollment");
        latency_codes.push((index, enrollment.enrollment_code.expect("a pending code")));
    }
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

    let database_size = database_size(&temp_dir.0);
    app_server.abort();
    bare_server.abort();
    services.close().await;

    eprintln!("delivering a backlog of {WEBHOOK_BACKLOG} webhooks to a local receiver ...");
    let delivery_throughput = measure_delivery_throughput(&temp_dir.0).await;

    print_report(&Report {
        seeded: seeded_count,
        seeding_time,
        database_size,
        matching,
        register,
        bare_throughput,
        list,
        bare_latency,
        portal_page,
        delivery_throughput,
        delivery_latency,
    });
    print_overview(&overview);
    drop(temp_dir);
    println!(
        "total wall time: {:.1} s",
        run_started.elapsed().as_secs_f64()
    );
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
    /// Nearest-rank percentile, in milliseconds.
    fn percentile_ms(&self, percent: usize) -> f64 {
        if self.sorted.is_empty() {
            return f64::NAN;
        }
        let rank = (percent * self.sorted.len()).div_ceil(100).max(1);
        self.sorted[rank - 1].as_secs_f64() * 1_000.0
    }
}

/// One request at a time: a warm-up, then `LIST_REQUESTS` timed ones, within
/// `LATENCY_PHASE_BUDGET`.
async fn measure_latency<F, Fut>(send: F) -> Latency
where
    F: Fn(usize) -> Fut,
    Fut: Future<Output = Result<(), String>>,
{
    let deadline = Instant::now() + LATENCY_PHASE_BUDGET;
    for index in 0..LIST_WARMUP_REQUESTS {
        let _ = send(index).await;
    }
    let mut latency = Latency {
        sorted: Vec::with_capacity(LIST_REQUESTS),
        failed: 0,
        first_error: None,
    };
    for index in LIST_WARMUP_REQUESTS..LIST_WARMUP_REQUESTS + LIST_REQUESTS {
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

/// The database file with its write-ahead log, in bytes.
fn database_size(dir: &std::path::Path) -> u64 {
    ["bench.db", "bench.db-wal"]
        .iter()
        .filter_map(|name| std::fs::metadata(dir.join(name)).ok())
        .map(|metadata| metadata.len())
        .sum()
}

struct Report {
    seeded: usize,
    seeding_time: Duration,
    database_size: u64,
    matching: i64,
    register: Throughput,
    bare_throughput: Throughput,
    list: Latency,
    bare_latency: Latency,
    portal_page: Latency,
    delivery_throughput: Throughput,
    delivery_latency: Latency,
}

fn print_report(report: &Report) {
    let seconds = report.seeding_time.as_secs_f64();
    println!();
    println!("ipp-portal Device API benchmark (SQLite, release build, one process)");
    println!(
        "seeded {} devices in {seconds:.1} s ({:.0} devices/s); database {:.0} MB",
        report.seeded,
        report.seeded as f64 / seconds,
        report.database_size as f64 / 1e6
    );
    println!(
        "list filter store:s<k> matches {} devices; page_size {LIST_PAGE_SIZE}",
        report.matching
    );
    println!();
    println!(
        "{:<44} {:>12} {:>12} {:>12}  met",
        "measure", "app", "bare axum", "target"
    );
    let register_rate = report.register.per_second();
    println!(
        "{:<44} {:>12.0} {:>12.0} {:>12}  {}",
        format!("register, {IN_FLIGHT} in flight (requests/s)"),
        register_rate,
        report.bare_throughput.per_second(),
        format!(">= {TARGET_REGISTRATIONS_PER_SECOND:.0}"),
        verdict(register_rate >= TARGET_REGISTRATIONS_PER_SECOND && report.register.failed == 0)
    );
    println!(
        "{:<44} {:>12.2} {:>12.2} {:>12}",
        "list by metadata p50 (ms)",
        report.list.percentile_ms(50),
        report.bare_latency.percentile_ms(50),
        ""
    );
    let list_p99 = report.list.percentile_ms(99);
    println!(
        "{:<44} {:>12.2} {:>12.2} {:>12}  {}",
        "list by metadata p99 (ms)",
        list_p99,
        report.bare_latency.percentile_ms(99),
        format!("<= {TARGET_LIST_P99_MS:.0}"),
        verdict(list_p99 <= TARGET_LIST_P99_MS && report.list.failed == 0)
    );
    let page_p99 = report.portal_page.percentile_ms(99);
    println!(
        "{:<44} {:>12.2} {:>12} {:>12}",
        "portal devices page by metadata p50 (ms)",
        report.portal_page.percentile_ms(50),
        "",
        ""
    );
    println!(
        "{:<44} {:>12.2} {:>12} {:>12}  {}",
        "portal devices page by metadata p99 (ms)",
        page_p99,
        "",
        format!("<= {TARGET_PAGE_P99_MS:.0}"),
        verdict(page_p99 <= TARGET_PAGE_P99_MS && report.portal_page.failed == 0)
    );
    let deliveries = report.delivery_throughput.per_second();
    println!(
        "{:<44} {:>12.0} {:>12} {:>12}  {}",
        "webhooks delivered, backlog (deliveries/s)",
        deliveries,
        "",
        format!(">= {TARGET_DELIVERIES_PER_SECOND:.0}"),
        verdict(
            deliveries >= TARGET_DELIVERIES_PER_SECOND && report.delivery_throughput.failed == 0
        )
    );
    println!(
        "{:<44} {:>12.1} {:>12} {:>12}",
        "registration to its webhook p50 (ms)",
        report.delivery_latency.percentile_ms(50),
        "",
        ""
    );
    let delivery_p99 = report.delivery_latency.percentile_ms(99);
    println!(
        "{:<44} {:>12.1} {:>12} {:>12}  {}",
        "registration to its webhook p99 (ms)",
        delivery_p99,
        "",
        format!("<= {TARGET_DELIVERY_P99_MS:.0}"),
        verdict(delivery_p99 <= TARGET_DELIVERY_P99_MS && report.delivery_latency.failed == 0)
    );
    println!();
    println!(
        "webhooks: {} delivered, {} missing in {:.2} s; {} registrations timed to their webhook, {} failed",
        report.delivery_throughput.succeeded,
        report.delivery_throughput.failed,
        report.delivery_throughput.elapsed.as_secs_f64(),
        report.delivery_latency.sorted.len(),
        report.delivery_latency.failed
    );
    println!(
        "register: {} succeeded, {} failed in {:.2} s; bare: {} succeeded, {} failed in {:.2} s",
        report.register.succeeded,
        report.register.failed,
        report.register.elapsed.as_secs_f64(),
        report.bare_throughput.succeeded,
        report.bare_throughput.failed,
        report.bare_throughput.elapsed.as_secs_f64()
    );
    println!(
        "list: {} timed after {LIST_WARMUP_REQUESTS} warm-up, {} failed; bare: {} timed, {} failed",
        report.list.sorted.len(),
        report.list.failed,
        report.bare_latency.sorted.len(),
        report.bare_latency.failed
    );
    if report.list.sorted.len() + report.list.failed < LIST_REQUESTS {
        println!(
            "list stopped early: {} s time budget spent",
            LATENCY_PHASE_BUDGET.as_secs()
        );
    }
    for (what, error) in [
        ("register", &report.register.first_error),
        ("bare throughput", &report.bare_throughput.first_error),
        ("list", &report.list.first_error),
        ("bare latency", &report.bare_latency.first_error),
        ("portal page", &report.portal_page.first_error),
        ("webhook delivery", &report.delivery_throughput.first_error),
        (
            "registration to webhook",
            &report.delivery_latency.first_error,
        ),
    ] {
        if let Some(error) = error {
            println!("first {what} error: {error}");
        }
    }
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
    codes: &[(usize, String)],
    receiver: &BenchReceiver,
) -> Latency {
    let outcomes: Vec<Result<Duration, String>> = stream::iter(codes)
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
async fn measure_delivery_throughput(dir: &std::path::Path) -> Throughput {
    let database_url = format!("sqlite://{}/webhooks.db", dir.display());
    let config = |deliver: bool| ApplicationConfig {
        webhooks: WebhookSettings {
            allow_private_targets: true,
            deliver,
            ..WebhookSettings::default()
        },
        ..ApplicationConfig::new(([127, 0, 0, 1], 0).into(), database_url.clone())
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

/// The portal's overview (counts, codes expiring soon, devices registered today and gone
/// quiet, latest activity), rendered on the server, one request at a time.
async fn measure_overview(portal: &reqwest::Client, app_url: &str) -> Latency {
    eprintln!("rendering the portal's overview, {LIST_REQUESTS} times ...");
    let url = format!("{app_url}/");
    measure_latency(|_| expect_status(portal.get(&url), StatusCode::OK)).await
}

fn print_overview(overview: &Latency) {
    let p99 = overview.percentile_ms(99);
    println!(
        "{:<44} {:>12.2} {:>12} {:>12}",
        "portal overview p50 (ms)",
        overview.percentile_ms(50),
        "",
        ""
    );
    println!(
        "{:<44} {:>12.2} {:>12} {:>12}  {}",
        "portal overview p99 (ms)",
        p99,
        "",
        format!("<= {TARGET_PAGE_P99_MS:.0}"),
        verdict(p99 <= TARGET_PAGE_P99_MS && overview.failed == 0)
    );
    if let Some(error) = &overview.first_error {
        println!("first overview error: {error}");
    }
}

fn verdict(met: bool) -> &'static str {
    if met { "yes" } else { "NO" }
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
