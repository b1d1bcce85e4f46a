//! The writer task that writes registrations in groups, on either database, and on
//! SQLite the attempt counts as well.
//!
//! A registration writes a row in eight tables. Written one at a time, each costs its
//! statements, its commit and, on SQLite, its turn with the single writer. So one task
//! takes every registration waiting at that moment and writes them all in one
//! transaction, by statements that each write their table's rows for the whole group
//! (see `registration.rs`). Registrations arriving together share the statements, the
//! commit and the pages they have in common (the ends of the devices' indexes, the audit
//! log). On SQLite, attempt counts join the same groups, one statement for a group's
//! attempts, so counting costs no commit of its own; on PostgreSQL each count commits on
//! its own (the counters are locked until their transaction ends, and every
//! registration's is on the one global row), and a group gives its registrations'
//! attempts back in one statement after it commits.

use std::collections::BTreeMap;

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::enrollments::STILL_PENDING;
use super::registration::{GroupedRegistration, registrations_together};
use super::{Backend, CountedAttempt, SqlBuilder, StoreError, StoreResult, Tx};

/// Most writes (registrations, counts) in one transaction.
const MOST_PER_GROUP: usize = 64;

/// The way to the writer task.
#[derive(Clone)]
pub(super) struct GroupWriter {
    sender: mpsc::UnboundedSender<QueuedWrite>,
}

/// A write waiting for the writer task. Whoever queued it may have gone meanwhile: the
/// task writes it anyway and drops the answer.
enum QueuedWrite {
    Registration {
        registration: Box<GroupedRegistration>,
        /// Whether the registration consumed its code.
        reply: oneshot::Sender<StoreResult<bool>>,
    },
    /// An attempt to count in each of its buckets, answered with each bucket's count,
    /// this attempt included, once the count is committed.
    Attempt {
        attempt: CountedAttempt,
        reply: oneshot::Sender<StoreResult<Vec<(String, i64)>>>,
    },
    /// Another statement on the attempt counters (SQLite), answered with its
    /// `(bucket, failures)` rows (`rows` of them) once the group is committed.
    Counts {
        statement: SqlBuilder,
        rows: usize,
        reply: oneshot::Sender<StoreResult<Vec<(String, i64)>>>,
    },
}

/// What one write of a group came to, sent back once the group is committed.
enum Written {
    Registration(StoreResult<bool>),
    Counts(StoreResult<Vec<(String, i64)>>),
}

impl GroupWriter {
    /// Starts the writer task on `writer`; it ends when the last handle is dropped.
    pub(super) fn start(backend: Backend, writer: AnyPool) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(backend, writer, receiver));
        Self { sender }
    }

    pub(super) async fn write_registration(
        &self,
        registration: GroupedRegistration,
    ) -> StoreResult<bool> {
        let (reply, outcome) = oneshot::channel();
        self.queue(QueuedWrite::Registration {
            registration: Box::new(registration),
            reply,
        })?;
        // The writer task finishes the group even if this caller is cancelled, so a
        // registration is either wholly written or not at all.
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// SQLite: every registration and sign-in counts an attempt, and the attempts waiting
    /// together are counted by one statement in the group's transaction. (On PostgreSQL
    /// each is a statement of its own, side by side: through this one task, each count
    /// would wait for the group being written, and registration went from 1,625 to
    /// 1,306 a second.)
    pub(super) async fn count_attempt(
        &self,
        attempt: CountedAttempt,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (reply, outcome) = oneshot::channel();
        self.queue(QueuedWrite::Attempt { attempt, reply })?;
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// On SQLite, the other writes on the counters go with the group as well, instead
    /// of taking the one writer connection for a commit of their own.
    pub(super) async fn write_counts(
        &self,
        statement: SqlBuilder,
        rows: usize,
    ) -> StoreResult<Vec<(String, i64)>> {
        let (reply, outcome) = oneshot::channel();
        self.queue(QueuedWrite::Counts {
            statement,
            rows,
            reply,
        })?;
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }

    fn queue(&self, write: QueuedWrite) -> StoreResult<()> {
        self.sender
            .send(write)
            .map_err(|_| StoreError::WriterStopped)
    }
}

async fn write_groups(
    backend: Backend,
    writer: AnyPool,
    mut queue: mpsc::UnboundedReceiver<QueuedWrite>,
) {
    let mut group = Vec::with_capacity(MOST_PER_GROUP);
    while let Some(first) = queue.recv().await {
        group.push(first);
        while group.len() < MOST_PER_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match write_group(backend, &writer, &group).await {
            Ok(outcomes) => {
                for (write, outcome) in group.drain(..).zip(outcomes) {
                    match (write, outcome) {
                        (QueuedWrite::Registration { reply, .. }, Written::Registration(o)) => {
                            let _ = reply.send(o);
                        }
                        (QueuedWrite::Counts { reply, .. }, Written::Counts(o))
                        | (QueuedWrite::Attempt { reply, .. }, Written::Counts(o)) => {
                            let _ = reply.send(o);
                        }
                        _ => unreachable!("each write has the outcome of its kind"),
                    }
                }
            }
            Err(error) => {
                tracing::error!(%error, "a group of writes could not be written");
                for write in group.drain(..) {
                    let failed = StoreError::GroupFailed(error.to_string());
                    match write {
                        QueuedWrite::Registration { reply, .. } => {
                            let _ = reply.send(Err(failed));
                        }
                        QueuedWrite::Counts { reply, .. } | QueuedWrite::Attempt { reply, .. } => {
                            let _ = reply.send(Err(failed));
                        }
                    }
                }
            }
        }
    }
}

/// One transaction for the group: the counts first (SQLite), then the registrations,
/// all together.
async fn write_group(
    backend: Backend,
    writer: &AnyPool,
    group: &[QueuedWrite],
) -> StoreResult<Vec<Written>> {
    let attempts: Vec<&CountedAttempt> = group
        .iter()
        .filter_map(|write| match write {
            QueuedWrite::Attempt { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    let mut tx = match backend {
        // The write lock from the start: the group's first statement reads before it
        // writes, and a SQLite transaction that has begun reading cannot write at all
        // once another process (a second instance, the command line) has committed
        // meanwhile; waiting for the lock first, it sees that commit.
        Backend::Sqlite => writer.begin_with("BEGIN IMMEDIATE").await?,
        Backend::Postgres => writer.begin().await?,
    };
    let mut counted = write_counts_together(&mut tx, group).await.into_iter();
    let mut attempts_counted = count_together(&mut tx, &attempts).await.into_iter();
    let registrations: Vec<&GroupedRegistration> = group
        .iter()
        .filter_map(|write| match write {
            QueuedWrite::Registration { registration, .. } => Some(registration.as_ref()),
            _ => None,
        })
        .collect();
    let registered = write_registrations(backend, &mut tx, &registrations).await?;
    tx.commit().await?;
    if backend == Backend::Postgres {
        give_back_together(writer, &registrations, &registered).await;
    }
    let mut registered = registered.into_iter();
    Ok(group
        .iter()
        .map(|write| match write {
            QueuedWrite::Registration { .. } => {
                Written::Registration(registered.next().expect("an outcome for each"))
            }
            QueuedWrite::Counts { .. } => {
                Written::Counts(counted.next().expect("an outcome for each count"))
            }
            QueuedWrite::Attempt { .. } => Written::Counts(
                attempts_counted
                    .next()
                    .expect("an outcome for each attempt"),
            ),
        })
        .collect())
}

/// Writes the registrations together, answering each in order. Should that fail (none
/// of the refusals registration expects does), each is written again on its own, so that
/// a registration the database refuses fails alone.
async fn write_registrations(
    backend: Backend,
    tx: &mut Tx,
    registrations: &[&GroupedRegistration],
) -> StoreResult<Vec<StoreResult<bool>>> {
    if registrations.is_empty() {
        return Ok(Vec::new());
    }
    match write_together(backend, tx, registrations).await? {
        Ok(outcomes) => return Ok(outcomes),
        Err(error) if registrations.len() == 1 => return Ok(vec![Err(error)]),
        Err(error) => {
            tracing::warn!(%error, "a group of registrations failed; writing them one by one");
        }
    }
    let mut outcomes = Vec::with_capacity(registrations.len());
    for registration in registrations {
        outcomes.push(match write_together(backend, tx, &[registration]).await? {
            Ok(mut outcome) => outcome.pop().expect("one outcome"),
            Err(error) => Err(error),
        });
    }
    Ok(outcomes)
}

/// One run of [`registrations_together`] under a savepoint: each registration's outcome,
/// or the error, with everything the run wrote rolled back. The outer error is the
/// connection's, when even that fails.
async fn write_together(
    backend: Backend,
    tx: &mut Tx,
    registrations: &[&GroupedRegistration],
) -> StoreResult<Result<Vec<StoreResult<bool>>, StoreError>> {
    let values = serde_json::to_string(registrations)
        .map_err(|error| StoreError::GroupFailed(error.to_string()))?;
    sqlx::query("SAVEPOINT registrations")
        .execute(&mut **tx)
        .await?;
    let written: Result<Vec<(String, i64)>, sqlx::Error> =
        sqlx::query_as(registrations_together(backend))
            .bind(values)
            .fetch_all(&mut **tx)
            .await;
    let rows = match written {
        Ok(rows) => rows,
        Err(error) => {
            sqlx::query("ROLLBACK TO registrations")
                .execute(&mut **tx)
                .await?;
            sqlx::query("RELEASE registrations")
                .execute(&mut **tx)
                .await?;
            return Ok(Err(StoreError::classify(error)));
        }
    };
    sqlx::query("RELEASE registrations")
        .execute(&mut **tx)
        .await?;
    let in_order = rows.len() == registrations.len()
        && rows
            .iter()
            .zip(registrations)
            .all(|((device_id, _), registration)| registration.device_id == *device_id);
    if !in_order {
        return Ok(Err(StoreError::GroupFailed(format!(
            "{} outcomes, not in order, for {} registrations",
            rows.len(),
            registrations.len()
        ))));
    }
    let mut outcomes = Vec::with_capacity(rows.len());
    for ((_, registered), registration) in rows.into_iter().zip(registrations) {
        outcomes.push(if registered == 1 {
            Ok(true)
        } else {
            why_not_registered(tx, registration).await?
        });
    }
    Ok(Ok(outcomes))
}

/// A registration the group did not write: its code was no longer pending (`false`), or,
/// if it still is, the hardware id was taken. Asked after the group's statements, in its
/// transaction: on PostgreSQL a new statement sees what other instances committed
/// meanwhile, which the group's statement read from before.
async fn why_not_registered(
    tx: &mut Tx,
    registration: &GroupedRegistration,
) -> StoreResult<StoreResult<bool>> {
    let still_pending: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM enrollments WHERE id = $1 AND {STILL_PENDING} AND expires_at > $2"
    ))
    .bind(&registration.enrollment_id)
    .bind(registration.now)
    .fetch_one(&mut **tx)
    .await?;
    Ok(if still_pending > 0 {
        Err(StoreError::UniqueViolation)
    } else {
        Ok(false)
    })
}

/// PostgreSQL: the attempts of the group's registrations given back, one statement for
/// the group. Its rows are locked in bucket order, as every statement on the counters
/// does, so it never waits in a circle with a count. Should it fail, the attempts stay
/// counted: the limit is reached sooner, never passed, and the devices, registered and
/// about to be answered, stay so.
async fn give_back_together(
    writer: &AnyPool,
    registrations: &[&GroupedRegistration],
    registered: &[StoreResult<bool>],
) {
    let mut attempts: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for (registration, outcome) in registrations.iter().zip(registered) {
        let Some(window_start) = registration.window_start else {
            continue;
        };
        if !matches!(outcome, Ok(true)) {
            continue;
        }
        for bucket in &registration.buckets {
            *attempts.entry((bucket.as_str(), window_start)).or_default() += 1;
        }
    }
    if attempts.is_empty() {
        return;
    }
    let mut statement = SqlBuilder::new("WITH given (bucket, window_start, attempts) AS (VALUES ");
    for (index, ((bucket, window_start), count)) in attempts.into_iter().enumerate() {
        statement.bind_row(index, [bucket.into(), window_start.into(), count.into()]);
    }
    statement.push(
        "), locked AS (SELECT a.bucket, a.window_start, g.attempts FROM attempt_failures a \
         JOIN given g ON g.bucket = a.bucket AND g.window_start = a.window_start \
         ORDER BY a.bucket, a.window_start FOR UPDATE OF a) \
         UPDATE attempt_failures a SET failures = GREATEST(a.failures - l.attempts, 0) \
         FROM locked l WHERE a.bucket = l.bucket AND a.window_start = l.window_start",
    );
    let given_back = match statement.query() {
        Ok(query) => query.execute(writer).await.map(|_| ()),
        Err(error) => Err(error),
    };
    if let Err(error) = given_back {
        tracing::warn!(%error, "a group's registration attempts could not be given back");
    }
}
/// The group's counts, in its order: their statements sent as one batch, one round trip
/// for them all (each registration and sign-in makes one, so one each would double the
/// round trips of registrations). Their rows come back statement by statement, each
/// count's as many as it said. Should a statement fail, every count of the group hears
/// so, and those before it stay counted: an error never lets an attempt through.
async fn write_counts_together(
    tx: &mut super::Tx,
    group: &[QueuedWrite],
) -> Vec<StoreResult<Vec<(String, i64)>>> {
    let counts: Vec<(&SqlBuilder, usize)> = group
        .iter()
        .filter_map(|write| match write {
            QueuedWrite::Counts {
                statement, rows, ..
            } => Some((statement, *rows)),
            _ => None,
        })
        .collect();
    if counts.is_empty() {
        return Vec::new();
    }
    let mut batch = SqlBuilder::new("");
    for (statement, _) in &counts {
        if !batch.is_empty() {
            batch.push("; ");
        }
        batch.append(statement);
    }
    let expected: usize = counts.iter().map(|(_, rows)| rows).sum();
    let rows: StoreResult<Vec<(String, i64)>> = match batch.query_as() {
        Ok(query) => query.fetch_all(&mut **tx).await.map_err(StoreError::from),
        Err(error) => Err(error.into()),
    };
    let failure = match rows {
        Ok(rows) if rows.len() == expected => {
            let mut rows = rows.into_iter();
            return counts
                .iter()
                .map(|(_, count)| Ok(rows.by_ref().take(*count).collect()))
                .collect();
        }
        Ok(rows) => format!("{} counter rows for {expected}", rows.len()),
        Err(error) => error.to_string(),
    };
    counts
        .iter()
        .map(|_| Err(StoreError::GroupFailed(failure.clone())))
        .collect()
}

/// The group's attempts counted by one statement: each bucket's row goes up by the
/// group's attempts in it (rows in bucket order, the order every statement on the
/// counters locks them in). Each attempt's count is the one it would have had counted
/// alone in the group's order: the total before the group, plus its place among the
/// group's attempts in that bucket. Should the statement fail, every attempt hears so.
async fn count_together(
    tx: &mut Tx,
    attempts: &[&CountedAttempt],
) -> Vec<StoreResult<Vec<(String, i64)>>> {
    if attempts.is_empty() {
        return Vec::new();
    }
    let mut in_group: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for attempt in attempts {
        for bucket in attempt.sorted_buckets() {
            *in_group.entry((bucket, attempt.window_start)).or_default() += 1;
        }
    }
    let mut statement =
        SqlBuilder::new("INSERT INTO attempt_failures (bucket, window_start, failures) VALUES ");
    for (index, ((bucket, window_start), count)) in in_group.iter().enumerate() {
        statement.bind_row(
            index,
            [(*bucket).into(), (*window_start).into(), (*count).into()],
        );
    }
    statement.push(
        " ON CONFLICT (bucket, window_start) DO UPDATE \
         SET failures = attempt_failures.failures + excluded.failures \
         RETURNING bucket, window_start, failures",
    );
    let totals: StoreResult<Vec<(String, i64, i64)>> = match statement.query_as() {
        Ok(query) => query.fetch_all(&mut **tx).await.map_err(StoreError::from),
        Err(error) => Err(error.into()),
    };
    let totals = match totals {
        Ok(totals) if totals.len() == in_group.len() => totals,
        Ok(totals) => {
            let failure = format!("{} counter rows for {}", totals.len(), in_group.len());
            return attempts
                .iter()
                .map(|_| Err(StoreError::GroupFailed(failure.clone())))
                .collect();
        }
        Err(error) => {
            let failure = error.to_string();
            return attempts
                .iter()
                .map(|_| Err(StoreError::GroupFailed(failure.clone())))
                .collect();
        }
    };
    // The count each bucket had before the group, raised by each attempt in turn.
    let mut before: BTreeMap<(String, i64), i64> = totals
        .into_iter()
        .map(|(bucket, window_start, total)| {
            let count = in_group
                .get(&(bucket.as_str(), window_start))
                .copied()
                .unwrap_or_default();
            ((bucket, window_start), total - count)
        })
        .collect();
    attempts
        .iter()
        .map(|attempt| {
            attempt
                .sorted_buckets()
                .into_iter()
                .map(|bucket| {
                    let count = before
                        .get_mut(&(bucket.to_owned(), attempt.window_start))
                        .ok_or(StoreError::Database(sqlx::Error::RowNotFound))?;
                    *count += 1;
                    Ok((bucket.to_owned(), *count))
                })
                .collect()
        })
        .collect()
}
