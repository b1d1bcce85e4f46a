//! The POS simulator: does over HTTP exactly what the POS app does, so operators can test
//! a setup and tests can drive the real API.

use clap::Subcommand;
use serde_json::{Value, json};

use app::domain::pairing_code::PairingCode;
use app::services::ErrorKind;

use crate::cli::CliError;

#[derive(Debug, Subcommand)]
pub enum PosCommand {
    /// Register a device with a pairing code (or the QR link that carries one).
    Register {
        /// The portal's base address, e.g. http://127.0.0.1:3000
        #[arg(long)]
        api_url: String,
        /// The pairing code as typed, or the `qr_payload` link.
        #[arg(long)]
        code: String,
        /// The hardware id to report; a random one when left out.
        #[arg(long)]
        hardware_id: Option<String>,
        #[arg(long, default_value = "ANDROID")]
        platform: String,
        #[arg(long)]
        name: Option<String>,
    },
    /// Show the device record that a device token belongs to.
    Whoami {
        #[arg(long)]
        api_url: String,
        #[arg(long)]
        token: String,
    },
}

pub async fn run(command: PosCommand) -> Result<(), CliError> {
    let client = reqwest::Client::new();
    let (request, expected) = match command {
        PosCommand::Register {
            api_url,
            code,
            hardware_id,
            platform,
            name,
        } => {
            // Read the code as the app does: from a scanned link or as typed.
            let code = PairingCode::parse_code_or_link(&code)
                .map_err(|e| CliError::new(ErrorKind::Invalid, format!("--code: {e}")))?;
            let hardware_id =
                hardware_id.unwrap_or_else(|| format!("SIM-{}", uuid::Uuid::new_v4().simple()));
            let body = json!({
                "enrollment_code": code.display(),
                "hardware_id": hardware_id,
                "platform": platform,
                "name": name,
            });
            (
                client
                    .post(endpoint(&api_url, "/ipp/v1/devices/register"))
                    .json(&body),
                201,
            )
        }
        PosCommand::Whoami { api_url, token } => (
            client
                .get(endpoint(&api_url, "/ipp/v1/devices/me"))
                .bearer_auth(token),
            200,
        ),
    };
    let response = request
        .send()
        .await
        .map_err(|e| CliError::io(format!("cannot reach the API: {e}")))?;
    let status = response.status();
    let body: Value = response.json().await.map_err(|e| {
        CliError::io(format!(
            "the API answered {status} with a body that is not JSON: {e}"
        ))
    })?;
    if status.as_u16() != expected {
        let detail = body
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or("no detail");
        return Err(CliError::new(
            ErrorKind::of_status(status.as_u16()),
            format!("the API answered {status}: {detail}"),
        ));
    }
    println!("{body}");
    Ok(())
}

fn endpoint(api_url: &str, path: &str) -> String {
    format!("{}{path}", api_url.trim_end_matches('/'))
}
