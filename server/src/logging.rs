//! Where log lines go and how they look: standard error (standard output carries what
//! commands print), as JSON for log collectors or as readable lines for people, at the
//! levels `RUST_LOG` names.

use std::io::IsTerminal;

use tracing_subscriber::EnvFilter;

use crate::cli::LogFormat;

/// The levels when `RUST_LOG` names none: the product's info, the database driver's
/// warnings.
const DEFAULT_LEVELS: &str = "info,sqlx=warn";

/// Installs the process's logger. `None`: JSON unless standard error is a terminal.
pub fn init(format: Option<LogFormat>) {
    let on_terminal = std::io::stderr().is_terminal();
    let format = format.unwrap_or(if on_terminal {
        LogFormat::Pretty
    } else {
        LogFormat::Json
    });
    let levels =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_LEVELS));
    let logger = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(levels);
    match format {
        // Each line one object: `timestamp`, `level`, `target`, the event's fields
        // (`message` among them) at the top, and `spans`, outermost first, the request's
        // (`method`, `route`, `request_id`) among them.
        LogFormat::Json => logger
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(true)
            .init(),
        LogFormat::Pretty => {
            let no_color = std::env::var_os("NO_COLOR").is_some_and(|value| !value.is_empty());
            logger.with_ansi(on_terminal && !no_color).init();
        }
    }
}
