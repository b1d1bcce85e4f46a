//! The server as it is deployed: `ipp-portal serve` as a process of its own, driven over
//! HTTP, watched through its log and its memory: how it holds up under a flood of
//! sign-ins.

use std::net::{IpAddr, Ipv4Addr};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use leptos::server_fn::ServerFn;
use reqwest::StatusCode;
use tokio::io::{AsyncBufReadExt, BufReader};

use app::ui::session::Login;

use crate::helpers::PortalClient;

/// `ipp-portal serve` on a free loopback port, its log collected as it is written.
struct ServerProcess {
    child: tokio::process::Child,
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    async fn start(database_url: &str, options: &[&str]) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ipp-portal"))
            .args([
                "serve",
                "--addr",
                "127.0.0.1:0",
                "--database-url",
                database_url,
            ])
            .args(options)
            .env("RUST_LOG", "info,sqlx=warn")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("start ipp-portal serve");
        let log = Arc::new(Mutex::new(Vec::new()));
        let (listening, address) = tokio::sync::oneshot::channel();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let collected = log.clone();
        // Read the log all along: a full pipe would stop the server.
        tokio::spawn(async move {
            let mut listening = Some(listening);
            while let Ok(Some(line)) = lines.next_line().await {
                let line = without_colours(&line);
                if let Some(at) = line.split("serving the portal at ").nth(1)
                    && let Some(listening) = listening.take()
                {
                    let _ = listening.send(at.trim().to_owned());
                }
                collected.lock().unwrap().push(line);
            }
        });
        let address = tokio::time::timeout(Duration::from_secs(60), address)
            .await
            .ok()
            .and_then(Result::ok)
            .unwrap_or_else(|| {
                panic!(
                    "the server did not start: {}",
                    log.lock().unwrap().join("\n")
                )
            });
        Self {
            child,
            address,
            log,
        }
    }

    fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The most memory the process has held at once (VmHWM), in MB.
    fn peak_memory_mb(&self) -> u64 {
        let pid = self.child.id().expect("the server runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kb / 1024
    }

    async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// The log with any terminal colour codes taken out.
fn without_colours(line: &str) -> String {
    let mut plain = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            plain.push(c);
        }
    }
    plain
}

const WRONG_PASSWORD: &str = "not the password at all";

/// 600 sign-ins at once, each from one of 199 addresses (so the per-address limit does
/// not refuse them first) with an email of its own: every one would check a password.
/// Checks run a few at a time and a short line waits; the rest are answered 503 at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_sign_ins_is_answered_busy_within_bounded_memory() {
    let folder = std::env::temp_dir().join(format!("ipp-portal-flood-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&folder).unwrap();
    let database_url = format!("sqlite://{}/x.db", folder.display());
    let server = ServerProcess::start(&database_url, &["--seed-demo"]).await;
    let demo_password = server
        .log()
        .iter()
        .find_map(|line| line.split("password: ").nth(1).map(|p| p.trim().to_owned()))
        .expect("the demo login in the log");

    let clients: Vec<reqwest::Client> = (2..=200)
        .map(|last| {
            reqwest::Client::builder()
                .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, last)))
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(120))
                .build()
                .unwrap()
        })
        .collect();
    let login_url = format!("{}{}", server.address, Login::PATH);
    let started = Instant::now();
    let attempts = (0..600).map(|i| {
        let client = &clients[i % clients.len()];
        let login_url = &login_url;
        async move {
            let email = format!("nobody-{i}@flood.example");
            let response = client
                .post(login_url)
                .form(&[("email", email.as_str()), ("password", WRONG_PASSWORD)])
                .send()
                .await
                .expect("the server answers every sign-in");
            let retry_after = response.headers().get("retry-after").cloned();
            (response.status(), retry_after)
        }
    });
    let answers = futures::future::join_all(attempts).await;
    let took = started.elapsed();
    let count = |status: StatusCode| answers.iter().filter(|(s, _)| *s == status).count();
    let (unauthorized, limited, busy) = (
        count(StatusCode::UNAUTHORIZED),
        count(StatusCode::TOO_MANY_REQUESTS),
        count(StatusCode::SERVICE_UNAVAILABLE),
    );
    let peak_mb = server.peak_memory_mb();
    eprintln!(
        "600 parallel sign-ins in {:.1} s: {unauthorized} × 401, {limited} × 429, {busy} × 503; \
         peak memory {peak_mb} MB",
        took.as_secs_f64()
    );
    assert_eq!(
        unauthorized + limited + busy,
        600,
        "every answer is 401, 429 or 503: {answers:?}"
    );
    for (status, retry_after) in &answers {
        if *status == StatusCode::SERVICE_UNAVAILABLE {
            let seconds: i64 = retry_after
                .as_ref()
                .and_then(|v| v.to_str().ok()?.parse().ok())
                .expect("a 503 says when to retry");
            assert!(seconds >= 1);
        }
    }
    assert!(peak_mb < 512, "peak memory {peak_mb} MB");

    // Still serving, and the right password still works.
    let portal = PortalClient::new(&server.address);
    let (status, body) = portal.login("admin@demo.example", &demo_password).await;
    assert!(
        status.is_success() || status.is_redirection(),
        "{status} {body}"
    );
    server.stop().await;
    let _ = std::fs::remove_dir_all(&folder);
}
