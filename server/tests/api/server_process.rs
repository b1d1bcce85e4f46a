//! `ipp-portal serve` run as a real process, for tests of what only the whole program
//! shows: its log, its memory, its environment, how it stops.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::helpers::expect_json;

/// `ipp-portal serve` on a free loopback port, its log collected as it is written.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub address: String,
    log: Arc<Mutex<Vec<String>>>,
    reader: tokio::task::JoinHandle<()>,
}

/// What every server process of the tests gets in its environment before the test's
/// own variables: info logs, in readable lines without colours (a test asks for JSON).
const BASE_ENVIRONMENT: &[(&str, &str)] = &[
    ("RUST_LOG", "info,sqlx=warn"),
    ("NO_COLOR", "1"),
    ("IPP_PORTAL_LOG_FORMAT", "pretty"),
];

impl ServerProcess {
    /// `serve` on a free loopback port and `database_url`, with further `options`.
    pub async fn start(database_url: &str, options: &[&str]) -> Self {
        let mut args = vec![
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ];
        args.extend_from_slice(options);
        Self::launch(&args, &[]).await
    }

    /// `ipp-portal` with these arguments and, over the base environment, these variables;
    /// returns once it says where it serves.
    pub async fn launch(args: &[&str], environment: &[(&str, &str)]) -> Self {
        let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_ipp-portal"))
            .args(args)
            .envs(BASE_ENVIRONMENT.iter().chain(environment).copied())
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
        let reader = tokio::spawn(async move {
            let mut listening = Some(listening);
            while let Ok(Some(line)) = lines.next_line().await {
                let line = without_colours(&line);
                if let Some(at) = address_after(&line, "serving the portal at ")
                    && let Some(listening) = listening.take()
                {
                    let _ = listening.send(at);
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
            reader,
        }
    }

    /// `host:port`, for a raw TCP client.
    pub fn host_and_port(&self) -> &str {
        self.address.trim_start_matches("http://")
    }

    /// A new enrollment made with `api_key`; panics unless it is created.
    pub async fn create_enrollment(&self, api_key: &str, body: Value) -> Value {
        let response = reqwest::Client::new()
            .post(format!("{}/ipp/v1/enrollments", self.address))
            .bearer_auth(api_key)
            .json(&body)
            .send()
            .await
            .expect("send");
        expect_json(response, StatusCode::CREATED).await
    }

    /// A registration as a slow POS app sends it: the headers and half the body now,
    /// the rest at [`SlowRequest::finish`]. Returns once the handler has begun reading
    /// the body (the server said `100 Continue`), so the request is under way for sure.
    pub async fn start_slow_registration(&self, code: &str, hardware_id: &str) -> SlowRequest {
        let body = json!({"enrollment_code": code, "hardware_id": hardware_id, "platform": "IOS"})
            .to_string();
        let (start, rest) = body.split_at(body.len() / 2);
        let address = self.host_and_port();
        let mut stream = TcpStream::connect(address).await.unwrap();
        let head = format!(
            "POST /ipp/v1/devices/register HTTP/1.1\r\nHost: {address}\r\n\
             Content-Type: application/json\r\nContent-Length: {}\r\n\
             Expect: 100-continue\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        let interim = read_head(&mut stream).await;
        assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
        stream.write_all(start.as_bytes()).await.unwrap();
        SlowRequest {
            stream,
            rest: rest.as_bytes().to_vec(),
        }
    }

    /// Returns once the process refuses new connections (it is stopping); panics if it
    /// still accepts them after five seconds.
    pub async fn until_refusing_connections(&self) {
        let address = self.host_and_port();
        let refused = tokio::time::timeout(Duration::from_secs(5), async {
            while TcpStream::connect(address).await.is_ok() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            refused.is_ok(),
            "the stopping server accepts no new connections"
        );
    }

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
    }

    /// The address the log names after `announcement` (the metrics listener's, say).
    pub fn announced_address(&self, announcement: &str) -> Option<String> {
        self.log()
            .iter()
            .find_map(|line| address_after(line, announcement))
    }

    /// The most memory the process has held at once (VmHWM), in MB.
    pub fn peak_memory_mb(&self) -> u64 {
        let pid = self.child.id().expect("the server runs");
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let kb: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmHWM in /proc/<pid>/status");
        kb / 1024
    }

    /// Asks the process to stop as an orchestrator does (SIGTERM).
    pub async fn terminate(&self) {
        let pid = self.child.id().expect("the server runs").to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .expect("run kill");
        assert!(sent.success(), "SIGTERM sent");
    }

    /// Waits for the process to exit.
    pub async fn wait(&mut self) -> std::process::ExitStatus {
        self.child.wait().await.expect("wait for the server")
    }

    /// Stops the process with SIGTERM and returns its exit status and its whole log, to
    /// the last line it wrote.
    pub async fn stop_and_read_log(mut self) -> (std::process::ExitStatus, Vec<String>) {
        self.terminate().await;
        let status = tokio::time::timeout(Duration::from_secs(40), self.wait())
            .await
            .expect("the server exits after SIGTERM");
        // The pipe closes with the process: the reader has seen every line.
        let _ = tokio::time::timeout(Duration::from_secs(10), &mut self.reader).await;
        let log = self.log();
        (status, log)
    }

    pub async fn stop(mut self) {
        let _ = self.child.start_kill();
        let _ = self.child.wait().await;
    }
}

/// A request under way on a connection of its own, its last bytes not sent yet.
pub struct SlowRequest {
    stream: TcpStream,
    rest: Vec<u8>,
}

impl SlowRequest {
    /// Sends the rest of the request and returns the whole answer, read until the server
    /// closes the connection.
    pub async fn finish(mut self) -> String {
        self.stream.write_all(&self.rest).await.unwrap();
        read_to_close(&mut self.stream).await
    }
}

/// One answer's head (status line and headers) from `stream`, read byte by byte so that
/// nothing after it is taken (at most 10 s).
pub async fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let read = async {
        while !head.ends_with(b"\r\n\r\n") {
            match stream.read_u8().await {
                Ok(byte) => head.push(byte),
                Err(_) => break,
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .expect("an answer's head within 10 s");
    String::from_utf8_lossy(&head).into_owned()
}

/// An HTTP/1.1 answer, read until the server closes the connection (at most 10 s).
pub async fn read_to_close(stream: &mut TcpStream) -> String {
    let (answer, _) = read_until_closed(stream, Duration::from_secs(10))
        .await
        .expect("answered and closed within 10 s");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads until the server closes the connection (or resets it), for at most `limit`;
/// returns what came and when it ended, or `None` if it is still open.
pub async fn read_until_closed(
    stream: &mut TcpStream,
    limit: Duration,
) -> Option<(Vec<u8>, std::time::Instant)> {
    let mut received = Vec::new();
    let read = async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    };
    tokio::time::timeout(limit, read).await.ok()?;
    Some((received, std::time::Instant::now()))
}

/// The `http://...` address that follows `announcement` in a log line, readable or JSON.
fn address_after(line: &str, announcement: &str) -> Option<String> {
    let after = line.split(announcement).nth(1)?;
    let address: String = after
        .chars()
        .take_while(|c| !c.is_whitespace() && *c != '"')
        .collect();
    (!address.is_empty()).then_some(address)
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
