//! Work each server instance does on its own, on a timer, beside serving requests.

use std::time::Duration;

use app::services::Services;
use tokio::task::JoinHandle;

/// How often the upkeep runs. Expired pairing codes are kept in plain text at most this
/// long after they expire, and ended windows of failed attempts about this long after
/// the window that followed them.
pub const UPKEEP_EVERY: Duration = Duration::from_secs(60);

/// Starts the timer; abort the handle to stop it.
pub fn spawn(services: Services) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut timer = tokio::time::interval(UPKEEP_EVERY);
        timer.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            timer.tick().await;
            match services.forget_expired_codes().await {
                Ok(0) => {}
                Ok(forgotten) => tracing::debug!(forgotten, "expired pairing codes forgotten"),
                Err(error) => tracing::warn!(%error, "forgetting expired pairing codes failed"),
            }
            if let Err(error) = services.forget_old_attempts().await {
                tracing::warn!(%error, "forgetting old windows of failed attempts failed");
            }
        }
    })
}
