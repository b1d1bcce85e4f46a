//! Limits on failed attempts at guessing something: pairing codes, passwords. Counted per
//! fixed window in the database, so the limits hold across server instances.

use super::{ServiceError, ServiceResult, Services};

/// At most `max` failures per window in `bucket`.
pub(crate) struct AttemptLimit<'a> {
    pub bucket: &'a str,
    pub max: i64,
}

impl Services {
    fn window_start(&self, now: i64, window_seconds: i64) -> i64 {
        let window = window_seconds.max(1) * 1000;
        now - now.rem_euclid(window)
    }

    /// The largest failure count among the buckets in the current window.
    pub(crate) async fn attempt_failures(
        &self,
        buckets: &[&str],
        window_seconds: i64,
    ) -> ServiceResult<i64> {
        let window_start = self.window_start(self.now(), window_seconds);
        let failures = self.store.attempt_failures(buckets, window_start).await?;
        Ok(failures.into_iter().max().unwrap_or(0))
    }

    /// Refuses with 429 (and when to retry) while any bucket is at its limit.
    pub(crate) async fn check_attempt_limits(
        &self,
        limits: &[AttemptLimit<'_>],
        window_seconds: i64,
        attempts: &'static str,
    ) -> ServiceResult<()> {
        let now = self.now();
        let window_start = self.window_start(now, window_seconds);
        let buckets: Vec<&str> = limits.iter().map(|limit| limit.bucket).collect();
        let failures = self.store.attempt_failures(&buckets, window_start).await?;
        for (limit, failures) in limits.iter().zip(failures) {
            if failures >= limit.max {
                let window_end = window_start + window_seconds.max(1) * 1000;
                return Err(ServiceError::RateLimited {
                    retry_after_seconds: ((window_end - now + 999) / 1000).max(1),
                    attempts,
                });
            }
        }
        Ok(())
    }

    pub(crate) async fn record_failed_attempt(
        &self,
        buckets: &[&str],
        window_seconds: i64,
    ) -> ServiceResult<()> {
        let window_start = self.window_start(self.now(), window_seconds);
        let forget_before = window_start - window_seconds.max(1) * 1000;
        self.store
            .record_attempt_failure(buckets, window_start, forget_before)
            .await?;
        Ok(())
    }
}
