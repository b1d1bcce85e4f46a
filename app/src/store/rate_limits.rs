//! Counters of failed attempts (pairing codes, sign-ins) in fixed windows, kept in the
//! database so that every server instance on one PostgreSQL sees the same counts.

use super::{SqlBuilder, Store, StoreResult};

impl Store {
    /// Failures recorded in each bucket's window starting at `window_start`, in the order
    /// asked, in one query (a registration checks two buckets on every call).
    pub async fn attempt_failures(
        &self,
        buckets: &[&str],
        window_start: i64,
    ) -> StoreResult<Vec<i64>> {
        if buckets.is_empty() {
            return Ok(Vec::new());
        }
        let mut query =
            SqlBuilder::new("SELECT bucket, failures FROM attempt_failures WHERE window_start = ");
        query
            .bind_int(window_start)
            .push(" AND bucket IN (")
            .bind_list(buckets.iter().map(|bucket| (*bucket).to_owned()))
            .push(")");
        let recorded: Vec<(String, i64)> = query.query_as()?.fetch_all(self.pool()).await?;
        Ok(buckets
            .iter()
            .map(|bucket| {
                recorded
                    .iter()
                    .find(|(recorded_bucket, _)| recorded_bucket == bucket)
                    .map_or(0, |(_, failures)| *failures)
            })
            .collect())
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
