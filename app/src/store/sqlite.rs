//! What only SQLite needs: its connection settings, and the single writer task that
//! writes registrations (and the attempt counts every registration and sign-in makes)
//! in groups.
//!
//! SQLite has one writer at a time, and a commit rewrites every page it touched. So
//! registrations are written in groups: one writer task takes every registration waiting
//! at that moment and writes them in one transaction, by statements that each write
//! their table's rows for the whole group. Registrations arriving together share one
//! commit, the writer's round trips, and the pages they have in common (the ends of the
//! devices' indexes, the audit log) instead of queueing for one each. Attempt counts join
//! the same groups, so counting costs no commit of its own.

use std::path::Path;
use std::str::FromStr;

use sqlx::any::AnyConnectOptions;
use sqlx::{AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

use super::registration::REGISTRATIONS_TOGETHER;
use super::{SqlBuilder, StoreError, StoreResult};

/// Most writes (registrations, counts) in one transaction.
const MOST_PER_GROUP: usize = 64;

/// Pages each reading connection keeps of its own, in KiB. A million devices make a
/// database of gigabytes, which the operating system's page cache holds for every process
/// at once; what a connection keeps beyond that is the server's own memory, 8 readers
/// over.
pub(super) const READER_CACHE_KIB: u32 = 4 * 1024;
/// The writer's: registrations rewrite the same pages (the ends of indexes) again and
/// again, so it keeps more.
pub(super) const WRITER_CACHE_KIB: u32 = 16 * 1024;

/// Settings every SQLite connection gets when it opens; `cache_kib` is its page cache.
pub(super) async fn configure_connection(
    conn: &mut AnyConnection,
    cache_kib: u32,
) -> Result<(), sqlx::Error> {
    // WAL lets readers work while the writer writes; the busy timeout
    // covers other processes (the command line) writing meanwhile.
    for pragma in [
        "PRAGMA journal_mode = WAL",
        "PRAGMA busy_timeout = 10000",
        "PRAGMA foreign_keys = ON",
        "PRAGMA synchronous = NORMAL",
        &format!("PRAGMA cache_size = -{cache_kib}"),
        // Pages are read with read calls, not through a memory map: a mapped page
        // counts in the server's resident memory once for each connection that
        // touched it.
        "PRAGMA mmap_size = 0",
        // A group's registrations are written under a savepoint, which keeps the
        // pages it changes in a sub-journal, and read from temporary tables: in
        // memory, not temporary files made and deleted for every group.
        "PRAGMA temp_store = MEMORY",
        // Registrations rewrite the same pages (the ends of indexes) again and
        // again: a longer log between checkpoints copies each of them back to
        // the database once instead of many times.
        "PRAGMA wal_autocheckpoint = 10000",
    ] {
        sqlx::query(pragma).execute(&mut *conn).await?;
    }
    Ok(())
}

fn file_path(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or(rest);
    (!path.is_empty() && path != ":memory:").then_some(path)
}

pub(super) fn create_folder(url: &str) -> std::io::Result<()> {
    if let Some(parent) = file_path(url).and_then(|path| Path::new(path).parent())
        && !parent.as_os_str().is_empty()
    {
        std::fs::create_dir_all(parent)?;
    }
    Ok(())
}

/// SQLite URLs get `mode=rwc` unless they say otherwise, so a new file is created.
pub(super) fn connect_options(url: &str) -> StoreResult<AnyConnectOptions> {
    let url = if url.contains("mode=") {
        url.to_owned()
    } else if url.contains('?') {
        format!("{url}&mode=rwc")
    } else {
        format!("{url}?mode=rwc")
    };
    Ok(AnyConnectOptions::from_str(&url)?)
}

/// The way to SQLite's writer task, for registrations and attempt counts.
#[derive(Clone)]
pub(super) struct GroupWriter {
    sender: mpsc::UnboundedSender<QueuedWrite>,
}

/// A write waiting for the writer task. Whoever queued it may have gone meanwhile: the
/// task writes it anyway and drops the answer.
enum QueuedWrite {
    Registration {
        /// What [`REGISTRATIONS_TOGETHER`] reads of it.
        values: serde_json::Value,
        /// Whether the registration consumed its code.
        reply: oneshot::Sender<StoreResult<bool>>,
    },
    /// One statement on the attempt counters, answered with its `(bucket, failures)` rows
    /// (`rows` of them) once the group is committed.
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
    /// Starts the writer task; it ends when the last handle is dropped.
    pub(super) fn start(writer: AnyPool) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_groups(writer, receiver));
        Self { sender }
    }

    pub(super) async fn write_registration(&self, values: serde_json::Value) -> StoreResult<bool> {
        let (reply, outcome) = oneshot::channel();
        self.queue(QueuedWrite::Registration { values, reply })?;
        // The writer task finishes the group even if this caller is cancelled, so a
        // registration is either wholly written or not at all.
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Counting an attempt is a write on every call (registrations included): it goes
    /// with the registrations, into their group's transaction, instead of taking the one
    /// writer connection for a commit of its own.
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

async fn write_groups(writer: AnyPool, mut queue: mpsc::UnboundedReceiver<QueuedWrite>) {
    let mut group = Vec::with_capacity(MOST_PER_GROUP);
    while let Some(first) = queue.recv().await {
        group.push(first);
        while group.len() < MOST_PER_GROUP {
            match queue.try_recv() {
                Ok(next) => group.push(next),
                Err(_) => break,
            }
        }
        match write_group(&writer, &group).await {
            Ok(outcomes) => {
                for (write, outcome) in group.drain(..).zip(outcomes) {
                    match (write, outcome) {
                        (QueuedWrite::Registration { reply, .. }, Written::Registration(o)) => {
                            let _ = reply.send(o);
                        }
                        (QueuedWrite::Counts { reply, .. }, Written::Counts(o)) => {
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
                        QueuedWrite::Counts { reply, .. } => {
                            let _ = reply.send(Err(failed));
                        }
                    }
                }
            }
        }
    }
}

/// One transaction for the group: the counts first, all in one batch, then the
/// registrations, all together (see [`REGISTRATIONS_TOGETHER`]).
async fn write_group(writer: &AnyPool, group: &[QueuedWrite]) -> StoreResult<Vec<Written>> {
    // The write lock from the start: the group's first statements fill temporary
    // tables, and a transaction that has begun reading the database before it writes
    // cannot write at all once another process (a second instance, the command line)
    // has committed meanwhile; waiting for the lock first, it sees that commit.
    let mut tx = writer.begin_with("BEGIN IMMEDIATE").await?;
    let mut counted = write_counts_together(&mut tx, group).await.into_iter();
    let registrations: Vec<&serde_json::Value> = group
        .iter()
        .filter_map(|write| match write {
            QueuedWrite::Registration { values, .. } => Some(values),
            QueuedWrite::Counts { .. } => None,
        })
        .collect();
    let mut registered = write_registrations(&mut tx, &registrations)
        .await?
        .into_iter();
    let outcomes = group
        .iter()
        .map(|write| match write {
            QueuedWrite::Registration { .. } => {
                Written::Registration(registered.next().expect("an outcome for each"))
            }
            QueuedWrite::Counts { .. } => {
                Written::Counts(counted.next().expect("an outcome for each count"))
            }
        })
        .collect();
    tx.commit().await?;
    Ok(outcomes)
}

/// Writes the registrations together, answering each in order. Should that fail (none
/// of the refusals registration expects does), each is written again on its own, so that
/// a registration the database refuses fails alone.
async fn write_registrations(
    tx: &mut super::Tx,
    registrations: &[&serde_json::Value],
) -> StoreResult<Vec<StoreResult<bool>>> {
    if registrations.is_empty() {
        return Ok(Vec::new());
    }
    match write_together(tx, registrations).await? {
        Ok(outcomes) => return Ok(outcomes),
        Err(error) if registrations.len() == 1 => return Ok(vec![Err(error)]),
        Err(error) => {
            tracing::warn!(%error, "a group of registrations failed; writing them one by one");
        }
    }
    let mut outcomes = Vec::with_capacity(registrations.len());
    for registration in registrations {
        outcomes.push(match write_together(tx, &[registration]).await? {
            Ok(mut outcome) => outcome.pop().expect("one outcome"),
            Err(error) => Err(error),
        });
    }
    Ok(outcomes)
}

/// One run of [`REGISTRATIONS_TOGETHER`]: its outcomes, or its error with everything it
/// wrote rolled back. The outer error is the connection's, when even that fails.
async fn write_together(
    tx: &mut super::Tx,
    registrations: &[&serde_json::Value],
) -> StoreResult<Result<Vec<StoreResult<bool>>, StoreError>> {
    let values =
        serde_json::Value::from(registrations.iter().copied().cloned().collect::<Vec<_>>());
    let written: Result<Vec<(String, String)>, sqlx::Error> =
        sqlx::query_as(REGISTRATIONS_TOGETHER.as_str())
            .bind(values.to_string())
            .fetch_all(&mut **tx)
            .await;
    let in_order = |rows: &[(String, String)]| {
        rows.len() == registrations.len()
            && rows
                .iter()
                .zip(registrations)
                .all(|((device_id, _), registration)| {
                    registration["device_id"].as_str() == Some(device_id)
                })
    };
    match written {
        Ok(rows) if in_order(&rows) => Ok(Ok(rows
            .into_iter()
            .map(|(_, outcome)| match outcome.as_str() {
                "registered" => Ok(true),
                "taken" => Err(StoreError::UniqueViolation),
                _ => Ok(false),
            })
            .collect())),
        Ok(rows) => Err(StoreError::GroupFailed(format!(
            "{} outcomes, not in order, for {} registrations",
            rows.len(),
            registrations.len()
        ))),
        Err(error) => {
            sqlx::query("ROLLBACK TO registrations; RELEASE registrations")
                .execute(&mut **tx)
                .await?;
            Ok(Err(StoreError::classify(error)))
        }
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
            QueuedWrite::Registration { .. } => None,
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

#[cfg(test)]
mod tests {
    use super::file_path;

    #[test]
    fn sqlite_paths_are_found_in_urls() {
        assert_eq!(file_path("sqlite://data/x.db"), Some("data/x.db"));
        assert_eq!(file_path("sqlite:data/x.db?mode=rwc"), Some("data/x.db"));
        assert_eq!(file_path("sqlite::memory:"), None);
        assert_eq!(file_path("postgres://h/db"), None);
    }
}
