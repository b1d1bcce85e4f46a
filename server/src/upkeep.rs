//! Work each server instance does on its own, on a timer, beside serving requests.

use std::time::Duration;

use app::services::Services;
use tokio::task::JoinHandle;

/// How often expired pairing codes are forgotten: a code is kept in plain text at most
/// this long after it expires.
pub const FORGET_EXPIRED_CODES_EVERY: Duration = Duration::from_secs(60);

/// Starts the timers; abort the handle to stop them.
pub fn spawn(services: Services) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(FORGET_EXPIRED_CODES_EVERY);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            match services.forget_expired_codes().await {
                Ok(0) => {}
                Ok(forgotten) => tracing::debug!(forgotten, "expired pairing codes forgotten"),
                Err(error) => tracing::warn!(%error, "forgetting expired pairing codes failed"),
            }
        }
    })
}
