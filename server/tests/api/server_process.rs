//! `ipp-portal serve` run as a real process, for tests of what only the whole program
//! shows: its log, its memory, how it stops.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};

/// `ipp-portal serve` on a free loopback port, its log collected as it is written.
pub struct ServerProcess {
    child: tokio::process::Child,
    pub address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl ServerProcess {
    pub async fn start(database_url: &str, options: &[&str]) -> Self {
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
                    let _ =
                        listening.send(at.split_whitespace().next().unwrap_or_default().to_owned());
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

    pub fn log(&self) -> Vec<String> {
        self.log.lock().unwrap().clone()
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

    pub async fn stop(mut self) {
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
