//! Counters of failed attempts (pairing codes, sign-ins) in fixed windows, kept in the
//! database so that every server instance on one PostgreSQL sees the same counts.

use super::{Store, StoreResult};

impl Store {
    /// Failures recorded in this bucket's window starting at `window_start`.
    pub async fn attempt_failures(&self, bucket: &str, window_start: i64) -> StoreResult<i64> {
        let count: Option<i64> = sqlx::query_scalar(
            "SELECT failures FROM attempt_failures WHERE bucket = $1 AND window_start = $2",
        )
        .bind(bucket)
        .bind(window_start)
        .fetch_optional(self.pool())
        .await?;
        Ok(count.unwrap_or(0))
    }

    /// Counts one more failure in each bucket's window, and forgets windows that ended.
    pub async fn record_attempt_failure(
        &self,
        buckets: &[&str],
        window_start: i64,
        forget_before: i64,
    ) -> StoreResult<()> {
        let mut tx = self.begin().await?;
        for bucket in buckets {
            sqlx::query(
                "INSERT INTO attempt_failures (bucket, window_start, failures) VALUES ($1, $2, 1) \
                 ON CONFLICT (bucket, window_start) \
                 DO UPDATE SET failures = attempt_failures.failures + 1",
            )
            .bind(*bucket)
            .bind(window_start)
            .execute(&mut *tx)
            .await?;
        }
        sqlx::query("DELETE FROM attempt_failures WHERE window_start < $1")
            .bind(forget_before)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
