//! Counters of failed pairing-code attempts, kept in the database so that every server
//! instance on one PostgreSQL sees the same counts.

use super::{Store, StoreResult};

impl Store {
    /// Failures recorded in this bucket's window starting at `window_start`.
    pub async fn registration_failures(&self, bucket: &str, window_start: i64) -> StoreResult<i64> {
        let count: Option<i64> = sqlx::query_scalar(
            "SELECT failures FROM registration_failures WHERE bucket = $1 AND window_start = $2",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_optional(self.pool())
        .await?;
        Ok(count.unwrap_or(0))
    }

    /// Counts one more failure in each bucket's current window, and forgets old windows.
    pub async fn record_registration_failure(
        &self,
        buckets: &[(&str, i64)],
        forget_before: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for (bucket, window_start) in buckets {
            sqlx::query(
                "INSERT INTO registration_failures (bucket, window_start, failures) VALUES ($1, $2, 1) \
                 ON CONFLICT (bucket, window_start) \
                 DO UPDATE SET failures = registration_failures.failures + 1",
            )
            .bind(*bucket)
            .bind(*window_start)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM registration_failures WHERE window_start < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
