//! The writer task that writes registrations in groups, on either database, and on
//! SQLite the attempt counts as well.
//!
//! A registration writes a row in eight tables. Written one at a time, each costs its
//! statements, its commit and, on SQLite, its turn with the single writer. So one task
//! takes every registration waiting at that moment and writes them all in one
//! transaction, by statements that each write their table's rows for the whole group
//! (see `registration.rs`). Registrations arriving together share the statements, the
//! commit and the pages they have in common (the ends of the devices' indexes, the audit
//! log). Attempts are counted the same way, one statement for the attempts waiting
//! together. On SQLite they join the registrations' groups, so counting costs no commit
//! of its own, and a group is one batch sent to the connection's thread. On PostgreSQL a
//! second task counts them, so that a count never waits for a group of registrations
//! being written, and each statement commits on its own: the counters are locked until
//! their transaction ends, and every attempt is counted on the one global row. There a
//! group gives its registrations' attempts back in one statement after its own.

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Row};
use tokio::sync::{mpsc, oneshot};

use super::enrollments::STILL_PENDING;
use super::rate_limits::counts_together;
use super::registration::{GroupedRegistration, registrations_together, sqlite_registrations};
use super::{Backend, CountedAttempt, SqlBuilder, StoreError, StoreResult};

/// Most writes (registrations, counts) in one transaction.
const MOST_PER_GROUP: usize = 64;

/// How long a writer task keeps its connection (PostgreSQL) with nothing to write. Under
/// load, groups follow each other within milliseconds. A connection idle longer goes back
/// to the pool, which checks it before handing it out again: the database, or a proxy on
/// the way, may drop a connection that has been idle, and a registration must not fail on
/// one.
const KEEP_IDLE_CONNECTION: Duration = Duration::from_millis(250);

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

    /// Every registration and sign-in counts an attempt, and the attempts waiting together
    /// are counted by one statement: on SQLite in the group's transaction, on PostgreSQL
    /// by a task of their own (through the registrations' task each count waited for the
    /// group being written, and registration went from 1,625 to 1,306 a second).
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
    // PostgreSQL: the task keeps its connection from group to group, sparing each group
    // the pool's check of the connection it hands out (a round trip). A connection that
    // failed, or has been idle a moment, is let go, and the next group takes a checked one.
    let mut held: Option<PoolConnection<Any>> = None;
    loop {
        let first = tokio::select! {
            next = queue.recv() => match next {
                Some(first) => first,
                None => break,
            },
            () = tokio::time::sleep(KEEP_IDLE_CONNECTION), if held.is_some() => {
                held = None;
                continue;
            }
            // Closing the pool waits for every connection to come back.
            () = writer.close_event(), if held.is_some() => {
                held = None;
                continue;
            }
        };
        group.push(first);
        while group.len() < MOST_PER_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match write_group(backend, &writer, &mut held, &group).await {
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

/// Each write's outcome, of a group written: the counters' statements, the attempts
/// counted, the registrations, each in the group's order.
type GroupOutcomes = (
    Vec<StoreResult<Vec<(String, i64)>>>,
    Vec<StoreResult<Vec<(String, i64)>>>,
    Vec<StoreResult<bool>>,
);

/// Writes the group and answers each write, in the group's order.
async fn write_group(
    backend: Backend,
    writer: &AnyPool,
    held: &mut Option<PoolConnection<Any>>,
    group: &[QueuedWrite],
) -> StoreResult<Vec<Written>> {
    let attempts: Vec<&CountedAttempt> = group
        .iter()
        .filter_map(|write| match write {
            QueuedWrite::Attempt { attempt, .. } => Some(attempt),
            _ => None,
        })
        .collect();
    let registrations: Vec<&GroupedRegistration> = group
        .iter()
        .filter_map(|write| match write {
            QueuedWrite::Registration { registration, .. } => Some(registration.as_ref()),
            _ => None,
        })
        .collect();
    let (counted, attempts_counted, registered) = match backend {
        Backend::Sqlite => write_group_sqlite(writer, group, &attempts, &registrations).await?,
        Backend::Postgres => {
            // No transaction around them: each statement is atomic and commits on its
            // own, and a group's statements need nothing of each other's. Every
            // BEGIN, SAVEPOINT and COMMIT would be one more round trip for the group.
            let mut connection = match held.take() {
                Some(connection) => connection,
                None => writer.acquire().await?,
            };
            let attempts_counted = count_together(backend, &mut connection, &attempts).await;
            let registered = write_registrations(backend, &mut connection, &registrations).await?;
            give_back_together(&mut connection, &registrations, &registered).await;
            if attempts_counted.iter().all(Result::is_ok) {
                *held = Some(connection);
            }
            (Vec::new(), attempts_counted, registered)
        }
    };
    let mut counted = counted.into_iter();
    let mut attempts_counted = attempts_counted.into_iter();
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

/// SQLite: the group in one transaction, sent to the connection's thread as one batch
/// (see [`SQLITE_GROUP`]). Should the batch fail, or the group hold other statements on
/// the counters, it is written step by step: the counters' statements, the attempts,
/// then the registrations, each failing alone.
async fn write_group_sqlite(
    writer: &AnyPool,
    group: &[QueuedWrite],
    attempts: &[&CountedAttempt],
    registrations: &[&GroupedRegistration],
) -> StoreResult<GroupOutcomes> {
    let only_attempts_and_registrations = !group
        .iter()
        .any(|write| matches!(write, QueuedWrite::Counts { .. }));
    if only_attempts_and_registrations {
        let mut connection = writer.acquire().await?;
        match write_in_one_batch(&mut connection, attempts, registrations).await {
            Ok(Some((attempts_counted, registered))) => {
                return Ok((Vec::new(), attempts_counted, registered));
            }
            Ok(None) => {}
            Err(error) => {
                tracing::warn!(%error, "a group could not be written in one batch; writing it step by step");
            }
        }
    }
    // The write lock from the start: the group's first statement reads before it
    // writes, and a SQLite transaction that has begun reading cannot write at all once
    // another process (a second instance, the command line) has committed meanwhile;
    // waiting for the lock first, it sees that commit.
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let counted = write_counts_together(&mut tx, group).await;
    let attempts_counted = count_together(Backend::Sqlite, &mut tx, attempts).await;
    let registered = write_registrations(Backend::Sqlite, &mut tx, registrations).await?;
    tx.commit().await?;
    Ok((counted, attempts_counted, registered))
}

/// SQLite: a group of attempts and registrations in one transaction, sent to the
/// connection's thread as one batch. Each statement sent is a round trip between the
/// writer task and that thread, both woken for it, and the group used to take six; this
/// is one. `$1` is the attempts to count ([`attempts_to_count`]), `$2` the registrations.
static SQLITE_GROUP: LazyLock<String> = LazyLock::new(|| {
    format!(
        "BEGIN IMMEDIATE; {counts}; {registrations}; COMMIT",
        counts = counts_together(Backend::Sqlite),
        registrations = sqlite_registrations("$2"),
    )
});

/// Writes the group as [`SQLITE_GROUP`]: each attempt's counts and each registration's
/// outcome. `None` when the database refused the batch: nothing of it is written then,
/// and the group is to be written step by step.
async fn write_in_one_batch(
    connection: &mut AnyConnection,
    attempts: &[&CountedAttempt],
    registrations: &[&GroupedRegistration],
) -> StoreResult<Option<(Vec<StoreResult<Vec<(String, i64)>>>, Vec<StoreResult<bool>>)>> {
    let in_group = attempts_in_group(attempts);
    let to_count = attempts_to_count(&in_group)?;
    let group = serde_json::to_string(registrations)
        .map_err(|error| StoreError::GroupFailed(error.to_string()))?;
    let rows = match sqlx::query(&SQLITE_GROUP)
        .bind(to_count)
        .bind(group)
        .fetch_all(&mut *connection)
        .await
    {
        Ok(rows) => rows,
        Err(error) => {
            tracing::debug!(%error, "the group's batch was refused");
            // The batch stops at its first error, inside its transaction (or before it
            // began, when even BEGIN failed: then there is nothing to roll back).
            let _ = sqlx::query("ROLLBACK").execute(&mut *connection).await;
            return Ok(None);
        }
    };
    // The counters' rows come first, then one row for each registration.
    let (count_rows, registration_rows) = rows.split_at(in_group.len().min(rows.len()));
    let totals: Result<Vec<(String, i64, i64)>, sqlx::Error> = count_rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?, row.try_get(2)?)))
        .collect();
    let written: Result<Vec<(String, i64)>, sqlx::Error> = registration_rows
        .iter()
        .map(|row| Ok((row.try_get(0)?, row.try_get(1)?)))
        .collect();
    let attempts_counted = counts_of_attempts(attempts, &in_group, totals.map_err(Into::into));
    // Committed already: a failure to read the answer fails each registration; none is
    // written again.
    let registered = match written {
        Ok(written) => outcomes_in_order(connection, registrations, written).await,
        Err(error) => Err(StoreError::from(error)),
    };
    let registered =
        registered.unwrap_or_else(|error| all_failed(registrations.len(), &error.to_string()));
    Ok(Some((attempts_counted, registered)))
}

/// Writes the registrations together, answering each in order. Should that fail (none
/// of the refusals registration expects does), each is written again on its own, so that
/// a registration the database refuses fails alone.
async fn write_registrations(
    backend: Backend,
    connection: &mut AnyConnection,
    registrations: &[&GroupedRegistration],
) -> StoreResult<Vec<StoreResult<bool>>> {
    if registrations.is_empty() {
        return Ok(Vec::new());
    }
    match write_together(backend, connection, registrations).await? {
        Ok(outcomes) => return Ok(outcomes),
        Err(error) if registrations.len() == 1 => return Ok(vec![Err(error)]),
        Err(error) => {
            tracing::warn!(%error, "a group of registrations failed; writing them one by one");
        }
    }
    let mut outcomes = Vec::with_capacity(registrations.len());
    for registration in registrations {
        outcomes.push(
            match write_together(backend, connection, &[registration]).await? {
                Ok(mut outcome) => outcome.pop().expect("one outcome"),
                Err(error) => Err(error),
            },
        );
    }
    Ok(outcomes)
}

/// One run of [`registrations_together`]: each registration's outcome, or the error,
/// with everything the run wrote undone. On SQLite the run is inside the group's
/// transaction, under a savepoint; on PostgreSQL it is one statement, which commits or
/// fails whole on its own. The outer error is the connection's, when even that fails.
async fn write_together(
    backend: Backend,
    connection: &mut AnyConnection,
    registrations: &[&GroupedRegistration],
) -> StoreResult<Result<Vec<StoreResult<bool>>, StoreError>> {
    let values = serde_json::to_string(registrations)
        .map_err(|error| StoreError::GroupFailed(error.to_string()))?;
    let savepoint = backend == Backend::Sqlite;
    if savepoint {
        sqlx::query("SAVEPOINT registrations")
            .execute(&mut *connection)
            .await?;
    }
    let written: Result<Vec<(String, i64)>, sqlx::Error> =
        sqlx::query_as(registrations_together(backend))
            .bind(values)
            .fetch_all(&mut *connection)
            .await;
    let written = match written {
        Ok(written) => written,
        Err(error) => {
            if savepoint {
                sqlx::query("ROLLBACK TO registrations")
                    .execute(&mut *connection)
                    .await?;
                sqlx::query("RELEASE registrations")
                    .execute(&mut *connection)
                    .await?;
            }
            return Ok(Err(StoreError::classify(error)));
        }
    };
    if savepoint {
        sqlx::query("RELEASE registrations")
            .execute(&mut *connection)
            .await?;
    }
    Ok(outcomes_in_order(connection, registrations, written).await)
}

/// Each registration's outcome from the rows written for the group (device id, and `1`
/// if it registered), which come in the group's order; a registration not written is
/// asked why, and should asking fail, that registration alone fails: the group's rows
/// may be committed already, and must not be written again. Rows out of that order are
/// the error.
async fn outcomes_in_order(
    connection: &mut AnyConnection,
    registrations: &[&GroupedRegistration],
    written: Vec<(String, i64)>,
) -> Result<Vec<StoreResult<bool>>, StoreError> {
    let in_order = written.len() == registrations.len()
        && written
            .iter()
            .zip(registrations)
            .all(|((device_id, _), registration)| registration.device_id == *device_id);
    if !in_order {
        return Err(StoreError::GroupFailed(format!(
            "{} outcomes, not in order, for {} registrations",
            written.len(),
            registrations.len()
        )));
    }
    let mut outcomes = Vec::with_capacity(written.len());
    for ((_, registered), registration) in written.into_iter().zip(registrations) {
        outcomes.push(if registered == 1 {
            Ok(true)
        } else {
            why_not_registered(connection, registration)
                .await
                .unwrap_or_else(Err)
        });
    }
    Ok(outcomes)
}

/// A registration the group did not write: its code was no longer pending (`false`), or,
/// if it still is, the hardware id was taken. Asked by a statement after the group's: on
/// PostgreSQL a new statement sees what other instances committed meanwhile, which the
/// group's statement read from before.
async fn why_not_registered(
    connection: &mut AnyConnection,
    registration: &GroupedRegistration,
) -> StoreResult<StoreResult<bool>> {
    let still_pending: i64 = sqlx::query_scalar(&format!(
        "SELECT COUNT(*) FROM enrollments WHERE id = $1 AND {STILL_PENDING} AND expires_at > $2"
    ))
    .bind(&registration.enrollment_id)
    .bind(registration.now)
    .fetch_one(&mut *connection)
    .await?;
    Ok(if still_pending > 0 {
        Err(StoreError::UniqueViolation)
    } else {
        Ok(false)
    })
}

/// PostgreSQL: the attempts of the group's registrations given back, one statement for
/// the group, after the registrations' statement has committed. Its rows are locked in
/// bucket order, as every statement on the counters does, so it never waits in a circle
/// with a count. Should it fail, the attempts stay counted: the limit is reached sooner,
/// never passed, and the devices, registered and about to be answered, stay so.
async fn give_back_together(
    connection: &mut AnyConnection,
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
        Ok(query) => query.execute(&mut *connection).await.map(|_| ()),
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
    all_failed(counts.len(), &failure)
}

/// How many of the group's attempts fall in each bucket's window, in bucket order.
fn attempts_in_group<'a>(attempts: &[&'a CountedAttempt]) -> BTreeMap<(&'a str, i64), i64> {
    let mut in_group: BTreeMap<(&str, i64), i64> = BTreeMap::new();
    for attempt in attempts {
        for bucket in attempt.sorted_buckets() {
            *in_group.entry((bucket, attempt.window_start)).or_default() += 1;
        }
    }
    in_group
}

/// What [`counts_together`] is given: `[bucket, window_start, attempts]` for each bucket
/// of the group, in bucket order.
fn attempts_to_count(in_group: &BTreeMap<(&str, i64), i64>) -> StoreResult<String> {
    let rows: Vec<(&str, i64, i64)> = in_group
        .iter()
        .map(|((bucket, window_start), count)| (*bucket, *window_start, *count))
        .collect();
    serde_json::to_string(&rows).map_err(|error| StoreError::GroupFailed(error.to_string()))
}

/// The group's attempts counted by one statement ([`counts_together`]): each bucket's row
/// goes up by the group's attempts in it.
async fn count_together(
    backend: Backend,
    connection: &mut AnyConnection,
    attempts: &[&CountedAttempt],
) -> Vec<StoreResult<Vec<(String, i64)>>> {
    if attempts.is_empty() {
        return Vec::new();
    }
    let in_group = attempts_in_group(attempts);
    let totals = match attempts_to_count(&in_group) {
        Ok(to_count) => sqlx::query_as(counts_together(backend))
            .bind(to_count)
            .fetch_all(&mut *connection)
            .await
            .map_err(StoreError::from),
        Err(error) => Err(error),
    };
    counts_of_attempts(attempts, &in_group, totals)
}

/// Each attempt's counts from the rows the group's count left (`totals`): the count it
/// would have had counted alone in the group's order, the total before the group plus
/// its place among the group's attempts in that bucket. Should the count have failed,
/// every attempt hears so.
fn counts_of_attempts(
    attempts: &[&CountedAttempt],
    in_group: &BTreeMap<(&str, i64), i64>,
    totals: StoreResult<Vec<(String, i64, i64)>>,
) -> Vec<StoreResult<Vec<(String, i64)>>> {
    let failure = match totals {
        Ok(totals) if totals.len() == in_group.len() => {
            return counts_from_totals(attempts, in_group, totals);
        }
        Ok(totals) => format!("{} counter rows for {}", totals.len(), in_group.len()),
        Err(error) => error.to_string(),
    };
    all_failed(attempts.len(), &failure)
}

fn counts_from_totals(
    attempts: &[&CountedAttempt],
    in_group: &BTreeMap<(&str, i64), i64>,
    totals: Vec<(String, i64, i64)>,
) -> Vec<StoreResult<Vec<(String, i64)>>> {
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

/// `writes` outcomes, each the group's `failure`: every write of a group hears it.
fn all_failed<T>(writes: usize, failure: &str) -> Vec<StoreResult<T>> {
    (0..writes)
        .map(|_| Err(StoreError::GroupFailed(failure.to_owned())))
        .collect()
}
