//! A webhook receiver for the tests: a small axum server on a random loopback port that
//! keeps every request it gets and answers as told (a status, a body, or no answer for a
//! while).
//! Signatures are checked with the `standardwebhooks` crate, not the product's code.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::Value;

/// How long a test waits for deliveries before it fails: far more than they take.
const PATIENCE: Duration = Duration::from_secs(60);

/// A request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: String,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a webhook body is JSON")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
    }

    pub fn webhook_id(&self) -> &str {
        self.header("webhook-id")
    }

    /// Checks the signature as a receiver following Standard Webhooks does.
    pub fn verify(&self, secret: &str) -> Result<(), standardwebhooks::WebhookError> {
        standardwebhooks::Webhook::new(secret)?.verify(self.body.as_bytes(), &self.headers)
    }
}

/// How the receiver answers the next request.
#[derive(Debug, Clone)]
pub enum Answer {
    Status(u16),
    /// No answer for this long, then 200.
    Hang(Duration),
    /// 200 with this body.
    Text(String),
}

#[derive(Default)]
struct Shared {
    received: Mutex<Vec<Received>>,
    plan: Mutex<VecDeque<Answer>>,
    /// After the plan: this status (200 by default).
    then: Mutex<Option<u16>>,
    /// After the plan: how long each request waits for its answer.
    hold: Mutex<Duration>,
    /// Requests being answered now, and the most there ever were at once.
    open: AtomicUsize,
    most_open: AtomicUsize,
}

pub struct Receiver {
    pub url: String,
    shared: Arc<Shared>,
    server: tokio::task::JoinHandle<()>,
}

impl Receiver {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the receiver");
        let url = format!("http://{}/hooks", listener.local_addr().unwrap());
        let router = Router::new().fallback(receive).with_state(shared.clone());
        let server = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Self {
            url,
            shared,
            server,
        }
    }

    /// The next requests are answered so, in order.
    pub fn plan(&self, answers: &[Answer]) {
        self.shared
            .plan
            .lock()
            .unwrap()
            .extend(answers.iter().cloned());
    }

    /// Every request after the plan is answered with `status`.
    pub fn always(&self, status: u16) {
        *self.shared.then.lock().unwrap() = Some(status);
    }

    /// Every request after the plan waits `time` for its answer.
    pub fn hold_each(&self, time: Duration) {
        *self.shared.hold.lock().unwrap() = time;
    }

    /// The most requests the receiver was answering at one moment.
    pub fn most_at_once(&self) -> usize {
        self.shared.most_open.load(Ordering::SeqCst)
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// Waits until at least `count` requests came; returns them all.
    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        eventually(&format!("{count} webhook requests"), || {
            let received = self.received();
            async move { (received.len() >= count).then_some(received) }
        })
        .await
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receive(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, String) {
    shared.received.lock().unwrap().push(Received {
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    });
    let open = shared.open.fetch_add(1, Ordering::SeqCst) + 1;
    shared.most_open.fetch_max(open, Ordering::SeqCst);
    let answer = shared.plan.lock().unwrap().pop_front();
    let hold = *shared.hold.lock().unwrap();
    let (status, text) = match answer {
        Some(Answer::Status(status)) => (status, String::new()),
        Some(Answer::Hang(time)) => {
            tokio::time::sleep(time).await;
            (200, String::new())
        }
        Some(Answer::Text(text)) => (200, text),
        None => {
            tokio::time::sleep(hold).await;
            (shared.then.lock().unwrap().unwrap_or(200), String::new())
        }
    };
    shared.open.fetch_sub(1, Ordering::SeqCst);
    (StatusCode::from_u16(status).unwrap(), text)
}

/// Runs `check` every 20 ms until it gives a value; fails the test after a minute.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let started = std::time::Instant::now();
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            started.elapsed() < PATIENCE,
            "waited {} s for {what}",
            PATIENCE.as_secs()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
