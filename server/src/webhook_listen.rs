//! `ipp-portal webhook listen`: a small receiver for a merchant developer to try webhooks
//! with. It checks each delivery's signature as a receiver should (Standard Webhooks:
//! the timestamp within 300 s of this clock, one `v1` signature matching the secret),
//! prints each accepted event as one JSON line on stdout, and answers 204; a delivery that
//! fails the check is answered 401 and said so on stderr.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use clap::{Args, Subcommand};

use app::clock::{Clock, SystemClock};
use app::domain::webhook;
use app::services::ErrorKind;

use crate::cli::CliError;

/// Bodies larger than this are refused (the product's events are a few KB).
const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Subcommand)]
pub enum WebhookCommand {
    /// Receive webhooks on this machine: verify each signature and print each event.
    Listen(ListenArgs),
}

#[derive(Debug, Args)]
pub struct ListenArgs {
    /// The endpoint's signing secret (whsec_...).
    #[arg(long, env = "IPP_WEBHOOK_SECRET", hide_env_values = true)]
    pub secret: String,
    /// Address and port to listen on; the endpoint's URL is http://<addr>/ (serve the
    /// portal with --allow-private-webhook-targets to send to it).
    #[arg(long, default_value = "127.0.0.1:4000")]
    pub addr: SocketAddr,
}

pub async fn run(command: WebhookCommand) -> Result<(), CliError> {
    match command {
        WebhookCommand::Listen(args) => listen(args).await,
    }
}

async fn listen(args: ListenArgs) -> Result<(), CliError> {
    let key = webhook::secret_key(args.secret.trim()).ok_or_else(|| {
        CliError::new(
            ErrorKind::Invalid,
            "secret: a signing secret is whsec_ followed by base64 (as the portal shows it)",
        )
    })?;
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .map_err(|e| CliError::io(format!("cannot listen on {}: {e}", args.addr)))?;
    let address = listener
        .local_addr()
        .map_err(|e| CliError::io(e.to_string()))?;
    let router = Router::new()
        .fallback(receive)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(std::sync::Arc::new(key));
    eprintln!("listening on http://{address}/ for webhooks; Ctrl-C stops");
    axum::serve(listener, router)
        .with_graceful_shutdown(crate::startup::shutdown_signal())
        .await
        .map_err(|e| CliError::io(e.to_string()))
}

async fn receive(
    State(key): State<std::sync::Arc<Vec<u8>>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let now = SystemClock.now_ms() / 1000;
    let checked = webhook::verify(
        &key,
        header("webhook-id"),
        header("webhook-timestamp"),
        header("webhook-signature"),
        &body,
        now,
    );
    match checked {
        Ok(()) => {
            // One line per event: the body as sent (it is one line of JSON already).
            match std::str::from_utf8(&body) {
                Ok(text) => println!("{}", text.trim()),
                Err(_) => println!("{}", String::from_utf8_lossy(&body)),
            }
            eprintln!(
                "accepted {} ({})",
                header("webhook-id").unwrap_or_default(),
                event_type(&body)
            );
            StatusCode::NO_CONTENT
        }
        Err(error) => {
            eprintln!(
                "refused a delivery (webhook-id {}): {error}",
                header("webhook-id").unwrap_or("missing")
            );
            StatusCode::UNAUTHORIZED
        }
    }
}

fn event_type(body: &[u8]) -> String {
    serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|event| event["type"].as_str().map(str::to_owned))
        .unwrap_or_else(|| "not JSON".into())
}
