//! `/metrics`, as Prometheus scrapes it: the text format, requests by route template,
//! the product's counters, never an id or a code in a label.
//!
//! The recorder is the process's. The flows therefore run against `ipp-portal serve` in a
//! process of its own (on the test's database), whose counters see that flow alone: the
//! deltas between two scrapes are exact.

use std::collections::BTreeMap;

use reqwest::StatusCode;
use serde_json::json;

use app::domain::role::Role;
use server::application::{Application, ApplicationConfig};

use crate::helpers::{PASSWORD, PortalClient, TestApp, expect_json};
use crate::on_both_databases;
use crate::server_process::ServerProcess;
use crate::webhook_receiver::{Answer, Receiver, eventually};

on_both_databases!(
    a_scrape_counts_a_flow_by_route_template_and_outcome,
    webhook_attempts_and_the_queue_are_counted,
    metrics_can_have_an_address_of_their_own,
);

/// Requests to a server process, with the test merchant's API key.
struct Remote {
    address: String,
    client: reqwest::Client,
    api_key: String,
}

impl Remote {
    fn new(server: &ServerProcess, app: &TestApp) -> Self {
        Self {
            address: server.address.clone(),
            client: reqwest::Client::new(),
            api_key: app.merchant.api_key.clone(),
        }
    }

    fn request(&self, method: reqwest::Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.address))
            .bearer_auth(&self.api_key)
    }

    async fn status(&self, method: reqwest::Method, path: &str) -> StatusCode {
        self.request(method, path).send().await.unwrap().status()
    }

    async fn register(&self, code: &str, hardware_id: &str) -> reqwest::Response {
        self.client
            .post(format!("{}/ipp/v1/devices/register", self.address))
            .json(&json!({"enrollment_code": code, "hardware_id": hardware_id, "platform": "ANDROID"}))
            .send()
            .await
            .unwrap()
    }

    async fn scrape(&self) -> Scrape {
        scrape(&self.client, &self.address).await
    }
}

/// A webhook answered 500, then resent and answered 200: one attempt to retry, one
/// delivered, each timed, and the queue's depth as a gauge.
async fn webhook_attempts_and_the_queue_are_counted(app: &TestApp) {
    let server =
        ServerProcess::start(&app.database_url, &["--allow-private-webhook-targets"]).await;
    let remote = Remote::new(&server, app);
    let before = remote.scrape().await;
    let receiver = Receiver::start().await;
    receiver.plan(&[Answer::Status(500)]);
    let created = remote
        .request(reqwest::Method::POST, "/ipp/v1/webhook-endpoints")
        .json(&json!({"url": receiver.url}))
        .send()
        .await
        .unwrap();
    let endpoint = expect_json(created, StatusCode::CREATED).await;
    let id = endpoint["id"].as_str().unwrap();
    let test = remote
        .request(
            reqwest::Method::POST,
            &format!("/ipp/v1/webhook-endpoints/{id}/test"),
        )
        .send()
        .await
        .unwrap();
    let event_id = expect_json(test, StatusCode::ACCEPTED).await["event_id"]
        .as_str()
        .unwrap()
        .to_owned();
    eventually("the failed attempt counted", || async {
        let now = remote.scrape().await;
        (now.value("ipp_webhook_attempts_total", &[("outcome", "retrying")]) >= 1.0).then_some(())
    })
    .await;
    // Sent again at once rather than after the retry's 5 s.
    let resend = remote
        .status(
            reqwest::Method::POST,
            &format!("/ipp/v1/webhook-endpoints/{id}/deliveries/{event_id}/resend"),
        )
        .await;
    assert!(resend.is_success(), "{resend}");
    let after = eventually("the delivery counted", || async {
        let after = remote.scrape().await;
        (after.value("ipp_webhook_attempts_total", &[("outcome", "succeeded")]) >= 1.0)
            .then_some(after)
    })
    .await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };
    assert_eq!(
        grew("ipp_webhook_attempts_total", &[("outcome", "retrying")]),
        1.0
    );
    assert_eq!(
        grew("ipp_webhook_attempts_total", &[("outcome", "succeeded")]),
        1.0
    );
    assert_eq!(
        grew("ipp_webhook_attempts_total", &[("outcome", "failed")]),
        0.0
    );
    assert_eq!(
        after.types["ipp_webhook_attempt_duration_seconds"],
        "histogram"
    );
    assert_eq!(grew("ipp_webhook_attempt_duration_seconds_count", &[]), 2.0);
    assert_eq!(after.types["ipp_webhook_queue_depth"], "gauge");
    assert_eq!(
        after.value("ipp_webhook_queue_depth", &[]),
        0.0,
        "nothing left to send"
    );
}

/// One line of a scrape: `name{label="value",...} value`.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// A scrape, checked line by line against the text format as it is read.
#[derive(Debug)]
struct Scrape {
    /// Each family's type, from its `# TYPE` line.
    types: BTreeMap<String, String>,
    samples: Vec<Sample>,
}

impl Scrape {
    /// Reads the text format; panics, naming the line, at anything it does not allow.
    fn parse(text: &str) -> Self {
        let mut types = BTreeMap::new();
        let mut samples = Vec::new();
        for line in text.lines().filter(|line| !line.trim().is_empty()) {
            if let Some(comment) = line.strip_prefix('#') {
                let mut words = comment.split_whitespace();
                match words.next() {
                    Some("TYPE") => {
                        let name = words.next().expect("a family name");
                        let kind = words.next().expect("a type");
                        assert!(
                            ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                            "unknown type: {line}"
                        );
                        types.insert(name.to_owned(), kind.to_owned());
                    }
                    Some("HELP") => assert!(words.next().is_some(), "HELP names: {line}"),
                    _ => {}
                }
                continue;
            }
            let sample = parse_sample(line).unwrap_or_else(|| panic!("not a sample: {line}"));
            let family = family_of(&sample.name, &types)
                .unwrap_or_else(|| panic!("a sample before its # TYPE: {line}"));
            assert!(
                sample.name.starts_with("ipp_"),
                "the product's names start with ipp_: {family}"
            );
            samples.push(sample);
        }
        Self { types, samples }
    }

    /// The sum of the samples named `name` having each of `labels` (0 when none has).
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> f64 {
        self.matching(name, labels).map(|sample| sample.value).sum()
    }

    fn matching<'a>(
        &'a self,
        name: &'a str,
        labels: &'a [(&str, &str)],
    ) -> impl Iterator<Item = &'a Sample> + 'a {
        self.samples.iter().filter(move |sample| {
            sample.name == name
                && labels
                    .iter()
                    .all(|(key, value)| sample.labels.get(*key).map(String::as_str) == Some(value))
        })
    }

    fn label_values(&self, label: &str) -> Vec<&str> {
        self.samples
            .iter()
            .filter_map(|sample| sample.labels.get(label).map(String::as_str))
            .collect()
    }
}

/// The family a sample belongs to: its own name, or a histogram's or summary's name
/// before `_bucket`, `_sum` or `_count`.
fn family_of<'a>(name: &'a str, types: &BTreeMap<String, String>) -> Option<&'a str> {
    if types.contains_key(name) {
        return Some(name);
    }
    ["_bucket", "_sum", "_count"].iter().find_map(|suffix| {
        let family = name.strip_suffix(suffix)?;
        matches!(
            types.get(family).map(String::as_str),
            Some("histogram" | "summary")
        )
        .then_some(family)
    })
}

fn parse_sample(line: &str) -> Option<Sample> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    if name.is_empty()
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
    {
        return None;
    }
    let mut rest = &line[name_end..];
    let mut labels = BTreeMap::new();
    if let Some(inner) = rest.strip_prefix('{') {
        rest = inner;
        loop {
            if let Some(after) = rest.strip_prefix('}') {
                rest = after;
                break;
            }
            let (key, after) = rest.split_once("=\"")?;
            let mut value = String::new();
            let mut chars = after.char_indices();
            let end = loop {
                match chars.next()? {
                    (i, '"') => break i,
                    (_, '\\') => match chars.next()?.1 {
                        'n' => value.push('\n'),
                        escaped @ ('\\' | '"') => value.push(escaped),
                        _ => return None,
                    },
                    (_, c) => value.push(c),
                }
            };
            labels.insert(key.trim_start_matches(',').to_owned(), value);
            rest = &after[end + 1..];
        }
    }
    let mut fields = rest.split_whitespace();
    let value = match fields.next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number => number.parse().ok()?,
    };
    // An optional timestamp, then nothing.
    if let Some(timestamp) = fields.next() {
        timestamp.parse::<i64>().ok()?;
    }
    fields.next().is_none().then_some(Sample {
        name: name.to_owned(),
        labels,
        value,
    })
}

async fn scrape(client: &reqwest::Client, base: &str) -> Scrape {
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"].to_str().unwrap();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    Scrape::parse(&response.text().await.unwrap())
}

/// Whether `value` holds something shaped like one of the product's ids (a UUID).
fn holds_an_id(value: &str) -> bool {
    value
        .split(['/', '?', '=', '&', '.'])
        .any(|part| uuid::Uuid::parse_str(part).is_ok())
}

/// A flow through the API and the portal, then a scrape: requests by route template,
/// method and status class, with a latency histogram; registrations, sign-ins and
/// enrollments by outcome; the pool's connections; and no id or code in any label.
async fn a_scrape_counts_a_flow_by_route_template_and_outcome(app: &TestApp) {
    let server = ServerProcess::start(
        &app.database_url,
        &["--registration-failures-per-address", "2"],
    )
    .await;
    let remote = Remote::new(&server, app);
    let before = remote.scrape().await;

    let enrollment = server
        .create_enrollment(&app.merchant.api_key, json!({}))
        .await;
    let enrollment_id = enrollment["enrollment_id"].as_str().unwrap().to_owned();
    let code = enrollment["enrollment_code"].as_str().unwrap().to_owned();
    let registration = expect_json(
        remote.register(&code, "hw-metrics").await,
        StatusCode::CREATED,
    )
    .await;
    let device_id = registration["device"]["id"].as_str().unwrap().to_owned();
    let token = registration["credentials"]["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let get = reqwest::Method::GET;
    assert_eq!(
        remote
            .status(get.clone(), &format!("/ipp/v1/devices/{device_id}"))
            .await,
        StatusCode::OK
    );
    assert_eq!(
        remote
            .status(get.clone(), &format!("/ipp/v1/enrollments/{enrollment_id}"))
            .await,
        StatusCode::OK
    );
    let me = remote
        .client
        .get(format!("{}/ipp/v1/devices/me", remote.address))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), StatusCode::OK);
    // Used, unknown, then one failure past the address's limit of two.
    assert_eq!(
        remote.register(&code, "hw-again").await.status(),
        StatusCode::GONE
    );
    assert_eq!(
        remote.register("BBBB-BBBB", "hw-guess").await.status(),
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        remote.register("BBBB-BBBC", "hw-guess").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        remote
            .status(get, &format!("/ipp/v1/no-such-thing/{device_id}"))
            .await,
        StatusCode::NOT_FOUND
    );

    app.create_user(&app.merchant.id, "metrics@shop.example", Role::Admin, &[])
        .await;
    let portal = PortalClient::new(&server.address);
    let (status, _) = portal.login("metrics@shop.example", PASSWORD).await;
    assert!(status.is_success() || status.is_redirection(), "{status}");
    portal.html(&format!("/enrollments/{enrollment_id}")).await;
    let stranger = PortalClient::new(&server.address);
    let (status, _) = stranger
        .login("metrics@shop.example", "not the password")
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let after = remote.scrape().await;
    let grew = |name: &str, labels: &[(&str, &str)]| {
        after.value(name, labels) - before.value(name, labels)
    };

    // Requests, by the route's template.
    let requests = "ipp_http_requests_total";
    for (route, method, status, count) in [
        ("/ipp/v1/enrollments", "POST", "2xx", 1.0),
        ("/ipp/v1/enrollments/{id}", "GET", "2xx", 1.0),
        ("/ipp/v1/devices/register", "POST", "2xx", 1.0),
        ("/ipp/v1/devices/register", "POST", "4xx", 3.0),
        ("/ipp/v1/devices/{id}", "GET", "2xx", 1.0),
        ("/ipp/v1/devices/me", "GET", "2xx", 1.0),
        ("/enrollments/{id}", "GET", "2xx", 1.0),
        ("unmatched", "GET", "4xx", 1.0),
    ] {
        let labels = [("route", route), ("method", method), ("status", status)];
        assert_eq!(
            grew(requests, &labels),
            count,
            "{labels:?}; routes: {:?}",
            after.label_values("route")
        );
    }
    // ... each timed in the histogram, its buckets cumulative up to the count.
    assert_eq!(
        after.types["ipp_http_request_duration_seconds"],
        "histogram"
    );
    let timed = [
        ("route", "/ipp/v1/devices/{id}"),
        ("method", "GET"),
        ("status", "2xx"),
    ];
    let count = after.value("ipp_http_request_duration_seconds_count", &timed);
    assert_eq!(count, 1.0);
    assert!(after.value("ipp_http_request_duration_seconds_sum", &timed) > 0.0);
    let mut buckets: Vec<(f64, f64)> = after
        .matching("ipp_http_request_duration_seconds_bucket", &timed)
        .map(|sample| {
            let le = &sample.labels["le"];
            let bound = if le == "+Inf" {
                f64::INFINITY
            } else {
                le.parse().unwrap()
            };
            (bound, sample.value)
        })
        .collect();
    buckets.sort_by(|a, b| a.0.total_cmp(&b.0));
    assert!(buckets.len() > 5, "{buckets:?}");
    assert!(buckets.windows(2).all(|pair| pair[0].1 <= pair[1].1));
    assert_eq!(buckets.last().unwrap(), &(f64::INFINITY, count));

    // The product's own counters.
    for outcome in ["created", "gone", "unknown_code", "limited"] {
        assert_eq!(
            grew("ipp_registrations_total", &[("outcome", outcome)]),
            1.0,
            "a registration {outcome}"
        );
    }
    for outcome in ["succeeded", "failed"] {
        assert_eq!(
            grew("ipp_logins_total", &[("outcome", outcome)]),
            1.0,
            "a sign-in {outcome}"
        );
    }
    assert_eq!(grew("ipp_enrollments_created_total", &[]), 1.0);
    assert_eq!(after.types["ipp_db_connections"], "gauge");
    for state in ["in_use", "idle"] {
        assert_eq!(
            after
                .matching("ipp_db_connections", &[("state", state)])
                .count(),
            1,
            "{state} connections"
        );
    }

    // Templates only: nothing of this flow's, and nothing shaped like an id, in a label.
    let secrets = [
        enrollment_id.as_str(),
        device_id.as_str(),
        app.merchant.id.as_str(),
        code.as_str(),
        &code.replace('-', ""),
        "BBBB-BBBB",
        "BBBBBBBB",
        token.as_str(),
        "hw-metrics",
        "metrics@shop.example",
    ];
    for sample in &after.samples {
        for value in sample.labels.values() {
            assert!(!holds_an_id(value), "an id in a label: {sample:?}");
            for secret in secrets {
                assert!(!value.contains(secret), "{secret} in a label: {sample:?}");
            }
        }
    }
    for route in after.label_values("route") {
        assert!(
            route == "unmatched" || route.starts_with('/'),
            "a template: {route}"
        );
    }
    // The scrape needs no credentials and tells no secret: it is the same for anyone.
    let anonymous = reqwest::Client::new();
    let text = anonymous
        .get(format!("{}/metrics", server.address))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for secret in secrets.iter().chain([&PASSWORD]) {
        assert!(!text.contains(secret), "{secret} in the scrape");
    }
}

/// With `metrics_addr`, `/metrics` is served there alone: the main address has no such
/// page, so the public port can stay without it.
async fn metrics_can_have_an_address_of_their_own(app: &TestApp) {
    let application = Application::build(ApplicationConfig {
        metrics_addr: Some(([127, 0, 0, 1], 0).into()),
        ..ApplicationConfig::new(([127, 0, 0, 1], 0).into(), app.database_url.clone())
    })
    .await
    .expect("build with a metrics address");
    let main = format!("http://{}", application.address());
    let metrics = format!(
        "http://{}",
        application.metrics_address().expect("a metrics address")
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(application.run_until(async {
        let _ = stopped.await;
    }));

    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let openapi = client
        .get(format!("{main}/ipp/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(openapi.status(), StatusCode::OK);
    let scraped = scrape(&client, &metrics).await;
    assert!(
        scraped
            .matching(
                "ipp_http_requests_total",
                &[("route", "/ipp/v1/openapi.json")]
            )
            .count()
            >= 1
    );
    let on_main = client.get(format!("{main}/metrics")).send().await.unwrap();
    // An unknown page of the portal: the sign-in form for whoever is not signed in.
    assert_eq!(
        on_main.status(),
        StatusCode::SEE_OTHER,
        "no /metrics on the main address"
    );
    assert_eq!(on_main.headers()["location"], "/login?next=%2Fmetrics");
    let body = on_main.text().await.unwrap();
    assert!(!body.contains("ipp_http_requests_total"));
    // The metrics address serves nothing else.
    let elsewhere = client
        .get(format!("{metrics}/ipp/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(elsewhere.status(), StatusCode::NOT_FOUND);

    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[test]
fn the_parser_reads_the_text_format_and_refuses_what_it_is_not() {
    let scrape = Scrape::parse(
        "# HELP ipp_x_total Things.\n# TYPE ipp_x_total counter\n\
         ipp_x_total{route=\"/a/{id}\",note=\"say \\\"hi\\\"\\\\\"} 3\n\
         # TYPE ipp_t_seconds histogram\n\
         ipp_t_seconds_bucket{le=\"+Inf\"} 2\nipp_t_seconds_sum 0.5\nipp_t_seconds_count 2\n",
    );
    assert_eq!(scrape.value("ipp_x_total", &[("route", "/a/{id}")]), 3.0);
    assert_eq!(scrape.samples[0].labels["note"], "say \"hi\"\\");
    assert_eq!(scrape.value("ipp_t_seconds_count", &[]), 2.0);
    assert!(parse_sample("ipp_x{a=\"b} 1").is_none());
    assert!(parse_sample("ipp_x 1 2 3").is_none());
    assert!(parse_sample("ipp x 1").is_none());
    assert!(holds_an_id("/devices/0190f7b4-6c1e-7c4a-9d2b-3f4e5a6b7c8d"));
    assert!(!holds_an_id("/devices/{id}"));
}
