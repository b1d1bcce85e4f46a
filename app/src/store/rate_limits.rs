//! Counters of attempts at guessing something (pairing codes, sign-ins) in fixed windows,
//! kept in the database so that every server instance on one PostgreSQL sees the same
//! counts.
//!
//! An attempt is counted before it is judged, in one statement for all its buckets, which
//! returns the new counts: of concurrent attempts each sees a count that includes every
//! one counted before it, so no burst gets past a limit between a check and a write. An
//! attempt that turns out to succeed is given back.

use super::{Backend, SqlBuilder, Store, StoreError, StoreResult};

/// One attempt, counted in each of `buckets` in the windows that start at `window_start`.
#[derive(Debug, Clone)]
pub struct CountedAttempt {
    pub buckets: Vec<String>,
    pub window_start: i64,
}

impl CountedAttempt {
    /// The buckets in one order for every statement, so that concurrent statements lock
    /// the same rows in the same order (on PostgreSQL) and never wait for each other in a
    /// circle.
    pub(super) fn sorted_buckets(&self) -> Vec<&str> {
        let mut buckets: Vec<&str> = self.buckets.iter().map(String::as_str).collect();
        buckets.sort_unstable();
        buckets.dedup();
        buckets
    }
}

impl Store {
    /// The failures counted in each bucket's window starting at `window_start`, in the
    /// order asked: what an operator (or a test) reads to see who was counted.
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

    /// Counts the attempt in each of its buckets and returns each bucket's count, this
    /// attempt included, in the order of `attempt.buckets`. The attempts waiting at one
    /// moment are counted together by one statement, atomic per bucket, each attempt
    /// seeing the count it would have had alone (see `group_writer.rs`).
    pub async fn count_attempt(&self, attempt: &CountedAttempt) -> StoreResult<Vec<i64>> {
        let counted = self.attempt_writer.count_attempt(attempt.clone()).await?;
        attempt
            .buckets
            .iter()
            .map(|bucket| {
                counted
                    .iter()
                    .find(|(counted_bucket, _)| counted_bucket == bucket)
                    .map(|(_, count)| *count)
                    .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
            })
            .collect()
    }

    /// Takes the attempt back from each of its buckets (it succeeded, or was refused and
    /// so never tried). Never below zero.
    pub async fn give_back_attempt(&self, attempt: &CountedAttempt) -> StoreResult<()> {
        self.write_counts(give_back(attempt), attempt.sorted_buckets().len())
            .await?;
        Ok(())
    }

    /// Forgets the windows of buckets named `<prefix>...` that started before `before`.
    /// Each kind of bucket has its own window length, so one kind's old windows are not
    /// another's.
    pub async fn forget_attempts(&self, prefix: &str, before: i64) -> StoreResult<()> {
        let mut statement = SqlBuilder::new("DELETE FROM attempt_failures WHERE bucket LIKE ");
        statement
            .bind_text(format!("{prefix}%"))
            .push(" AND window_start < ")
            .bind_int(before);
        self.write_counts(statement, 0).await?;
        Ok(())
    }

    /// Runs a statement on the counters, returning its `(bucket, failures)` rows, of
    /// which there are `rows`.
    async fn write_counts(
        &self,
        statement: SqlBuilder,
        rows: usize,
    ) -> StoreResult<Vec<(String, i64)>> {
        match self.backend {
            Backend::Sqlite => self.group_writer.write_counts(statement, rows).await,
            Backend::Postgres => Ok(statement.query_as()?.fetch_all(self.writer()).await?),
        }
    }
}

/// The statement that counts a group's attempts (see `group_writer.rs`): `$1` is a JSON
/// array of `[bucket, window_start, attempts]`, in bucket order, the order every statement
/// on the counters locks rows in. Each row goes up by its attempts; the answer is each
/// row as it is now.
pub(super) fn counts_together(backend: Backend) -> &'static str {
    match backend {
        // `WHERE true`: SQLite's grammar needs it between a SELECT and its ON CONFLICT.
        Backend::Sqlite => {
            "INSERT INTO attempt_failures (bucket, window_start, failures) \
             SELECT c.value ->> 0, c.value ->> 1, c.value ->> 2 FROM json_each($1) c \
             WHERE true ORDER BY c.key \
             ON CONFLICT (bucket, window_start) DO UPDATE \
             SET failures = attempt_failures.failures + excluded.failures \
             RETURNING bucket, window_start, failures"
        }
        Backend::Postgres => {
            "INSERT INTO attempt_failures (bucket, window_start, failures) \
             SELECT c.value ->> 0, (c.value ->> 1)::BIGINT, (c.value ->> 2)::BIGINT \
             FROM jsonb_array_elements($1::JSONB) WITH ORDINALITY AS c (value, seq) \
             ORDER BY c.seq \
             ON CONFLICT (bucket, window_start) DO UPDATE \
             SET failures = attempt_failures.failures + excluded.failures \
             RETURNING bucket, window_start, failures"
        }
    }
}

/// Takes one attempt back from each of its buckets' rows in the window, in bucket order,
/// never below zero (a row missing is written at zero), returning the rows as they are.
fn give_back(attempt: &CountedAttempt) -> SqlBuilder {
    let mut statement =
        SqlBuilder::new("INSERT INTO attempt_failures (bucket, window_start, failures) VALUES ");
    for (index, bucket) in attempt.sorted_buckets().into_iter().enumerate() {
        statement.bind_row(
            index,
            [bucket.into(), attempt.window_start.into(), 0.into()],
        );
    }
    statement.push(
        " ON CONFLICT (bucket, window_start) DO UPDATE SET failures = \
         CASE WHEN attempt_failures.failures > 0 THEN attempt_failures.failures - 1 ELSE 0 END \
         RETURNING bucket, failures",
    );
    statement
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_statement_gives_back_every_bucket_in_one_order() {
        let attempt = CountedAttempt {
            buckets: vec!["register:global".into(), "register:addr:10.0.0.1".into()],
            window_start: 900_000,
        };
        let statement = give_back(&attempt);
        assert_eq!(
            statement.sql(),
            "INSERT INTO attempt_failures (bucket, window_start, failures) VALUES \
             ($1, $2, $3), ($4, $5, $6) ON CONFLICT (bucket, window_start) DO UPDATE SET \
             failures = CASE WHEN attempt_failures.failures > 0 \
             THEN attempt_failures.failures - 1 ELSE 0 END RETURNING bucket, failures"
        );
        assert_eq!(
            attempt.sorted_buckets(),
            ["register:addr:10.0.0.1", "register:global"]
        );
    }
}
