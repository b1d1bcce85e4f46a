//! Delivering webhooks: a worker runs in every server instance. It claims due deliveries
//! from the outbox (no two instances claim the same one), sends each signed, with the
//! event id as `webhook-id` on every attempt, and records the attempt and what comes next:
//! done on a 2xx within the timeout, otherwise a retry after about 5 s, 5 min, 30 min,
//! 2 h, 5 h, 10 h and 10 h, then failed. An endpoint whose every attempt has failed for
//! 3 days is disabled. Attempts under way are bounded per endpoint and in all, so a slow
//! endpoint holds back no other. The same worker announces expired pairing codes.
//!
//! Targets are checked again when sent: the URL's rules, and every address its host
//! resolves to, by the HTTP client's own resolver (so no other lookup can slip between the
//! check and the connection). Redirects are not followed; at most 64 KB of an answer is
//! read.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

use crate::clock::{Clock, SystemClock};
use crate::domain::webhook::{
    self, DISABLE_AFTER_FAILING_MS, TargetPolicy, forbidden_target_message, retry_delay_ms,
};
use crate::store::{AttemptRecord, ClaimedDelivery, Store, WebhookEndpointRow};

use super::webhooks::WebhookSettings;
use super::{Actor, ActorKind, ServiceResult, Services, audit, new_id};

/// The most of an answer's body read, and kept for the delivery log.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
/// How long a host name may take to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);
/// Outcomes written in one transaction at most.
const MOST_OUTCOMES_PER_WRITE: usize = 64;
/// The shortest time between two looks for due deliveries: changes wake the worker, and
/// under a flood of them (thousands of registrations a second) one look serves many.
const LEAST_BETWEEN_ROUNDS: Duration = Duration::from_millis(5);
/// Events kept after they happened, once nothing is left to send.
const EVENT_RETENTION_MS: i64 = 30 * 24 * 3600 * 1000;
const PRUNE_EVERY: Duration = Duration::from_secs(3600);

/// The running worker of this instance; [`WebhookWorker::stop`] lets the attempts under
/// way finish and records them. Dropping it stops the worker too, without waiting.
pub struct WebhookWorker {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl WebhookWorker {
    /// Claims nothing more, waits for the attempts under way (at most the attempt
    /// timeout) and records them.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

impl Services {
    /// Starts this instance's delivery worker, unless the settings say it has none.
    pub fn start_webhook_delivery(&self) -> Option<WebhookWorker> {
        if !self.settings.webhooks.deliver {
            return None;
        }
        let (stop, stopped) = watch::channel(false);
        let task = tokio::spawn(run(self.clone(), stopped));
        Some(WebhookWorker { stop, task })
    }

    /// Tells this instance's worker that something may be due now (a change just wrote
    /// an event), instead of waiting for its next look.
    pub(crate) fn wake_webhook_delivery(&self) {
        self.webhook_wake.notify_one();
    }
}

/// The addresses `url`'s host stands for, if it may receive webhooks under `policy`;
/// otherwise why not.
pub(crate) async fn resolve_target(
    url: &url::Url,
    policy: TargetPolicy,
) -> Result<Vec<SocketAddr>, String> {
    let port = url.port_or_known_default().unwrap_or(443);
    match url.host() {
        Some(url::Host::Domain(name)) => resolve_host(name, port, policy).await,
        Some(url::Host::Ipv4(ip)) => checked(vec![SocketAddr::new(ip.into(), port)], policy),
        Some(url::Host::Ipv6(ip)) => checked(vec![SocketAddr::new(ip.into(), port)], policy),
        None => Err("a webhook URL names a host".into()),
    }
}

async fn resolve_host(
    name: &str,
    port: u16,
    policy: TargetPolicy,
) -> Result<Vec<SocketAddr>, String> {
    let lookup = tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((name, port)));
    let addresses: Vec<SocketAddr> = match lookup.await {
        Ok(Ok(addresses)) => addresses.collect(),
        Ok(Err(_)) => Vec::new(),
        Err(_) => {
            return Err(format!(
                "the host name did not resolve within {} s",
                RESOLVE_TIMEOUT.as_secs()
            ));
        }
    };
    if addresses.is_empty() {
        return Err("the host name does not resolve".into());
    }
    checked(addresses, policy)
}

/// All the addresses, unless one of them is forbidden under `policy`: a name that
/// resolves to a public and a private address is refused as a whole.
fn checked(addresses: Vec<SocketAddr>, policy: TargetPolicy) -> Result<Vec<SocketAddr>, String> {
    if !policy.allow_private
        && addresses
            .iter()
            .any(|address| webhook::is_forbidden_address(address.ip()))
    {
        return Err(forbidden_target_message().into());
    }
    Ok(addresses)
}

/// The HTTP client's resolver: names resolve only to addresses the policy allows.
struct TargetResolver {
    policy: TargetPolicy,
}

impl reqwest::dns::Resolve for TargetResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy;
        Box::pin(async move {
            let addresses = resolve_host(name.as_str(), 0, policy).await.map_err(
                |message| -> Box<dyn std::error::Error + Send + Sync> { message.into() },
            )?;
            let addresses: reqwest::dns::Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

/// Where an endpoint's deliveries go and the keys they are signed with.
struct Target {
    endpoint_id: String,
    url: String,
    keys: Vec<Vec<u8>>,
}

impl Target {
    fn of(endpoint: &WebhookEndpointRow, now: i64) -> Self {
        Self {
            endpoint_id: endpoint.id.clone(),
            url: endpoint.url.clone(),
            keys: endpoint
                .signing_secrets(now)
                .into_iter()
                .filter_map(webhook::secret_key)
                .collect(),
        }
    }
}

/// What one attempt came to.
struct Attempted {
    status_code: Option<i64>,
    latency_ms: i64,
    error: Option<String>,
    response: Option<String>,
}

impl Attempted {
    fn succeeded(&self) -> bool {
        webhook::succeeded(self.status_code)
    }

    fn refused(started: Instant, error: String) -> Self {
        Self {
            status_code: None,
            latency_ms: elapsed_ms(started),
            error: Some(error),
            response: None,
        }
    }
}

fn elapsed_ms(started: Instant) -> i64 {
    i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX)
}

/// Sends attempts: one HTTP client (its connections reused) for the worker.
struct Sender {
    client: reqwest::Client,
    policy: TargetPolicy,
    timeout: Duration,
}

impl Sender {
    fn new(settings: &WebhookSettings) -> Self {
        let policy = settings.policy();
        let client = reqwest::Client::builder()
            .timeout(settings.attempt_timeout)
            .redirect(reqwest::redirect::Policy::none())
            // Straight to the endpoint: a proxy from the environment would connect to
            // addresses this resolver never saw.
            .no_proxy()
            .dns_resolver(Arc::new(TargetResolver { policy }))
            .user_agent(concat!("ipp-portal-webhooks/", env!("CARGO_PKG_VERSION")))
            .build()
            .expect("the webhook HTTP client builds");
        Self {
            client,
            policy,
            timeout: settings.attempt_timeout,
        }
    }

    async fn attempt(&self, target: &Target, delivery: &ClaimedDelivery) -> Attempted {
        let started = Instant::now();
        // The rules again: the URL was saved under them, but the deployment may have
        // changed since (and an address in the URL itself never reaches the resolver).
        let url = match webhook::check_url("url", &target.url, self.policy) {
            Ok(url) => url,
            Err(error) => {
                return Attempted::refused(started, format!("refused: {}", error.message));
            }
        };
        // Receivers compare this with their own clock: the real time, whatever clock the
        // services go by.
        let timestamp = SystemClock.now_ms() / 1000;
        let signature = webhook::signature_header(
            &target.keys,
            &delivery.event_id,
            timestamp,
            delivery.body.as_bytes(),
        );
        let sent = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.event_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signature)
            .body(delivery.body.clone())
            .send()
            .await;
        let mut response = match sent {
            Ok(response) => response,
            Err(error) => return Attempted::refused(started, self.describe(&error)),
        };
        let status = response.status();
        let status_code = Some(i64::from(status.as_u16()));
        let mut body = Vec::new();
        let mut error = None;
        while body.len() < MAX_RESPONSE_BYTES {
            match response.chunk().await {
                Ok(Some(chunk)) => body.extend_from_slice(&chunk),
                Ok(None) => break,
                Err(read_error) => {
                    // The status counts; a body cut short is noted, not a failure.
                    if !webhook::succeeded(status_code) {
                        error = Some(self.describe(&read_error));
                    }
                    break;
                }
            }
        }
        body.truncate(MAX_RESPONSE_BYTES);
        if status.is_redirection() {
            error = Some(format!(
                "answered {} (a redirect): redirects are not followed",
                status.as_u16()
            ));
        }
        Attempted {
            status_code,
            latency_ms: elapsed_ms(started),
            error,
            response: Some(String::from_utf8_lossy(&body).into_owned()),
        }
    }

    /// Why an attempt got no answer, without the URL (it is in the log already).
    fn describe(&self, error: &reqwest::Error) -> String {
        if error.is_timeout() {
            return format!("no answer within {} s", self.timeout.as_secs());
        }
        let mut text = String::from(if error.is_connect() {
            "could not connect"
        } else {
            "the request failed"
        });
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !text.ends_with(&cause_text) {
                text.push_str(": ");
                text.push_str(&cause_text);
            }
            source = cause.source();
        }
        text
    }
}

/// An attempt's outcome on its way to the database.
struct Outcome {
    endpoint_id: String,
    event_id: String,
    claim: String,
    attempted_at: i64,
    attempted: Attempted,
    status: &'static str,
    next_attempt_at: Option<i64>,
}

async fn run(services: Services, mut stop: watch::Receiver<bool>) {
    let settings = services.settings.webhooks.clone();
    let sender = Arc::new(Sender::new(&settings));
    let (outcomes, queued) = mpsc::unbounded_channel();
    let recorder = tokio::spawn(record_outcomes(services.clone(), queued));
    let mut in_flight = InFlight::default();
    let mut tasks: JoinSet<()> = JoinSet::new();
    let mut last_sweep: Option<Instant> = None;
    let mut last_prune: Option<Instant> = None;
    let mut round: usize = 0;
    let mut last_round = Instant::now();
    loop {
        if *stop.borrow() {
            break;
        }
        if last_sweep.is_none_or(|at| at.elapsed() >= settings.poll_interval) {
            last_sweep = Some(Instant::now());
            if let Err(error) = services.announce_expired_enrollments().await {
                tracing::error!(%error, "could not announce expired pairing codes");
            }
        }
        if last_prune.is_none_or(|at| at.elapsed() >= PRUNE_EVERY) {
            last_prune = Some(Instant::now());
            let before = services.now() - EVENT_RETENTION_MS;
            if let Err(error) = services.store.prune_webhook_events(before, 10_000).await {
                tracing::error!(%error, "could not remove old webhook events");
            }
        }
        if let Some(wait) = LEAST_BETWEEN_ROUNDS.checked_sub(last_round.elapsed()) {
            tokio::time::sleep(wait).await;
        }
        last_round = Instant::now();
        round = round.wrapping_add(1);
        let claimed = claim(&services, &settings, round, &in_flight, tasks.len()).await;
        match claimed {
            Ok(claimed) => {
                for (target, claim, delivery) in claimed {
                    let endpoint_id = target.endpoint_id.clone();
                    let sender = sender.clone();
                    let services = services.clone();
                    let outcomes = outcomes.clone();
                    let task = tasks.spawn(async move {
                        let outcome = deliver(&services, &sender, &target, claim, delivery).await;
                        let _ = outcomes.send(outcome);
                    });
                    in_flight.started(task.id(), endpoint_id);
                }
            }
            Err(error) => tracing::error!(%error, "could not claim webhook deliveries"),
        }
        tokio::select! {
            _ = stop.changed() => break,
            () = services.webhook_wake.notified() => {}
            Some(done) = tasks.join_next_with_id(), if !tasks.is_empty() => in_flight.finished(done),
            () = tokio::time::sleep(settings.poll_interval) => {}
        }
        while let Some(done) = tasks.try_join_next_with_id() {
            in_flight.finished(done);
        }
    }
    // Stopping: the attempts under way end within the timeout and are recorded.
    while tasks.join_next().await.is_some() {}
    drop(outcomes);
    let _ = recorder.await;
}

/// The attempts under way, by task and by endpoint. A task is counted off its endpoint
/// however it ends, a panic included: otherwise the endpoint would stay short of its share
/// of attempts for as long as the worker runs.
#[derive(Default)]
struct InFlight {
    endpoints: HashMap<tokio::task::Id, String>,
    by_endpoint: HashMap<String, usize>,
}

impl InFlight {
    fn started(&mut self, task: tokio::task::Id, endpoint_id: String) {
        *self.by_endpoint.entry(endpoint_id.clone()).or_default() += 1;
        self.endpoints.insert(task, endpoint_id);
    }

    fn finished(&mut self, done: Result<(tokio::task::Id, ()), tokio::task::JoinError>) {
        let task = match done {
            Ok((task, ())) => task,
            Err(error) => {
                if error.is_panic() {
                    tracing::error!("a webhook delivery attempt panicked");
                }
                error.id()
            }
        };
        let Some(endpoint_id) = self.endpoints.remove(&task) else {
            return;
        };
        if let Some(count) = self.by_endpoint.get_mut(&endpoint_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.by_endpoint.remove(&endpoint_id);
            }
        }
    }

    /// Attempts under way to the endpoint.
    fn at(&self, endpoint_id: &str) -> usize {
        self.by_endpoint.get(endpoint_id).copied().unwrap_or(0)
    }
}

/// Claims what may be sent now: for each endpoint with due deliveries, as many as its
/// free share of attempts under way (claimed once half its share is free, so claims come
/// in groups), within the worker's total. Endpoints take turns at going first.
async fn claim(
    services: &Services,
    settings: &WebhookSettings,
    round: usize,
    in_flight: &InFlight,
    running: usize,
) -> ServiceResult<Vec<(Arc<Target>, String, ClaimedDelivery)>> {
    let now = services.now();
    let mut endpoints = services.store.endpoints_with_due_deliveries(now).await?;
    if endpoints.is_empty() {
        return Ok(Vec::new());
    }
    let turn = round % endpoints.len();
    endpoints.rotate_left(turn);
    let lease_ms =
        i64::try_from(settings.attempt_timeout.as_millis()).unwrap_or(i64::MAX / 4) + 50_000;
    let mut free_in_all = settings.max_in_flight.saturating_sub(running);
    let mut claimed = Vec::new();
    for endpoint in endpoints {
        let busy = in_flight.at(&endpoint.id);
        if free_in_all == 0 {
            break;
        }
        if busy > settings.per_endpoint / 2 {
            continue;
        }
        let free = settings.per_endpoint.saturating_sub(busy).min(free_in_all);
        let claim = new_id();
        let deliveries = services
            .store
            .claim_webhook_deliveries(
                &endpoint.id,
                now,
                now + lease_ms,
                &claim,
                i64::try_from(free).unwrap_or(1),
            )
            .await?;
        if deliveries.is_empty() {
            continue;
        }
        free_in_all = free_in_all.saturating_sub(deliveries.len());
        let target = Arc::new(Target::of(&endpoint, now));
        claimed.extend(
            deliveries
                .into_iter()
                .map(|delivery| (target.clone(), claim.clone(), delivery)),
        );
    }
    Ok(claimed)
}

/// One attempt, and the delivery's next state: done, due again later, or failed.
async fn deliver(
    services: &Services,
    sender: &Sender,
    target: &Target,
    claim: String,
    delivery: ClaimedDelivery,
) -> Outcome {
    let attempted_at = services.now();
    let attempted = sender.attempt(target, &delivery).await;
    let now = services.now();
    let (status, next_attempt_at) = if attempted.succeeded() {
        ("SUCCEEDED", None)
    } else if delivery.manual {
        ("FAILED", None)
    } else {
        let jitter = rand::random::<f64>() * 2.0 - 1.0;
        match retry_delay_ms(delivery.attempts + 1, jitter) {
            Some(delay) => ("PENDING", Some(now + delay)),
            None => ("FAILED", None),
        }
    };
    Outcome {
        endpoint_id: target.endpoint_id.clone(),
        event_id: delivery.event_id,
        claim,
        attempted_at,
        attempted,
        status,
        next_attempt_at,
    }
}

/// Writes outcomes as they come, those waiting together in one transaction; ends when
/// every sender has gone and the last is written.
async fn record_outcomes(services: Services, mut queued: mpsc::UnboundedReceiver<Outcome>) {
    let mut group = Vec::with_capacity(MOST_OUTCOMES_PER_WRITE);
    while let Some(first) = queued.recv().await {
        group.push(first);
        while group.len() < MOST_OUTCOMES_PER_WRITE {
            match queued.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        if let Err(error) = services.record_outcomes(&group).await {
            // The claims lapse and the deliveries are tried again: at least once.
            tracing::error!(%error, "could not record webhook attempts");
        }
        group.clear();
    }
}

impl Services {
    async fn record_outcomes(&self, group: &[Outcome]) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let mut failing = Vec::new();
        for outcome in group {
            let attempted = &outcome.attempted;
            let succeeded = attempted.succeeded();
            Store::record_webhook_attempt(
                &mut tx,
                &AttemptRecord {
                    endpoint_id: &outcome.endpoint_id,
                    event_id: &outcome.event_id,
                    claim: &outcome.claim,
                    attempted_at: outcome.attempted_at,
                    succeeded,
                    status_code: attempted.status_code,
                    latency_ms: attempted.latency_ms,
                    error: attempted.error.as_deref(),
                    response: attempted.response.as_deref(),
                    status: outcome.status,
                    next_attempt_at: outcome.next_attempt_at,
                },
            )
            .await?;
            if !succeeded && !failing.contains(&outcome.endpoint_id) {
                failing.push(outcome.endpoint_id.clone());
            }
        }
        for endpoint_id in &failing {
            let reason = "every delivery attempt failed for 3 days; enable the endpoint again \
                          once it answers 2xx";
            if let Some(merchant_id) = Store::disable_failing_webhook_endpoint(
                &mut tx,
                endpoint_id,
                now - DISABLE_AFTER_FAILING_MS,
                reason,
                now,
            )
            .await?
            {
                tracing::warn!(
                    endpoint_id,
                    merchant_id,
                    "webhook endpoint disabled: failing for 3 days"
                );
                let actor = Actor {
                    merchant_id,
                    kind: ActorKind::System,
                    id: None,
                    label: "webhook delivery".into(),
                    allowed_locations: None,
                };
                audit(
                    &mut tx,
                    &actor,
                    now,
                    "webhook_endpoint.disabled",
                    ("webhook_endpoint", endpoint_id),
                    json!({"reason": reason}),
                )
                .await?;
            }
        }
        tx.commit().await?;
        for outcome in group {
            let latency = Duration::from_millis(outcome.attempted.latency_ms.max(0) as u64);
            crate::metrics::webhook_attempt(outcome.status, latency);
        }
        Ok(())
    }

    /// Deliveries waiting to be made, of every merchant and instance: for the metrics.
    pub async fn webhook_queue_depth(&self) -> ServiceResult<i64> {
        Ok(self.store.count_pending_webhook_deliveries().await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_attempt_that_panicked_frees_its_endpoints_share() {
        let mut tasks = JoinSet::new();
        let mut in_flight = InFlight::default();
        let ended = tasks.spawn(async {});
        in_flight.started(ended.id(), "e1".into());
        let panicked = tasks.spawn(async { panic!("an attempt that panics") });
        in_flight.started(panicked.id(), "e1".into());
        let other = tasks.spawn(async {});
        in_flight.started(other.id(), "e2".into());
        assert_eq!((in_flight.at("e1"), in_flight.at("e2")), (2, 1));
        while let Some(done) = tasks.join_next_with_id().await {
            in_flight.finished(done);
        }
        assert_eq!((in_flight.at("e1"), in_flight.at("e2")), (0, 0));
        assert!(in_flight.endpoints.is_empty());
    }
}
