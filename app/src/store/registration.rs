//! Registration's one write: the pairing code is consumed, and the device, its metadata,
//! its first token and the audit event are created, all in one transaction.
//!
//! On SQLite, registrations are written in groups: one writer task takes every
//! registration waiting at that moment and writes them in one transaction, each under its
//! own savepoint. SQLite has a single writer, and a commit rewrites every page it touched:
//! registrations arriving together share one commit and the pages they have in common
//! (the ends of the devices' indexes, the audit log) instead of queueing for one each.

use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use super::{Backend, NewAuditEvent, SqlBuilder, Store, StoreError, StoreResult};

/// Most registrations written in one transaction.
const MOST_PER_GROUP: usize = 64;

/// A device about to be registered with the pending enrollment `enrollment_id`. Its
/// merchant, location and metadata are the enrollment's, copied by the database.
pub struct NewDevice<'a> {
    pub id: &'a str,
    pub enrollment_id: &'a str,
    pub hardware_id: &'a str,
    pub name: &'a str,
    pub platform: &'a str,
    pub token_hash: &'a str,
    pub now: i64,
}

impl Store {
    /// Consumes the enrollment and creates the device with its token, logging `audit`.
    /// `false` when the enrollment was no longer pending (another registration won, or it
    /// was cancelled or expired meanwhile); nothing is written then. A hardware id already
    /// registered with the merchant fails with [`StoreError::UniqueViolation`].
    ///
    /// Every statement after the first writes only if the enrollment now names this
    /// device, which the first does only while it is pending: of concurrent registrations
    /// with one code, exactly one writes anything. On SQLite the statements travel as one
    /// batch: its single writer holds the write lock for the whole transaction, so the
    /// round trips to the database are part of what limits registrations.
    pub async fn register_device(
        &self,
        device: &NewDevice<'_>,
        audit: &NewAuditEvent<'_>,
    ) -> StoreResult<bool> {
        let mut batch = StatementBatch::new(self.backend);
        batch
            .statement("UPDATE enrollments SET status = 'CONSUMED', consumed_at = ")
            .bind_int(device.now)
            .push(", device_id = ")
            .bind_text(device.id)
            .push(" WHERE id = ")
            .bind_text(device.enrollment_id)
            .push(" AND status = 'PENDING' AND expires_at > ")
            .bind_int(device.now);
        batch
            .statement(
                "INSERT INTO devices (id, merchant_id, location_id, enrollment_id, hardware_id, \
                 name, platform, created_at, updated_at) SELECT ",
            )
            .bind_text(device.id)
            .push(", merchant_id, location_id, id, ")
            .bind_text(device.hardware_id)
            .push(", ")
            .bind_text(device.name)
            .push(", ")
            .bind_text(device.platform)
            .push(", ")
            .bind_int(device.now)
            .push(", ")
            .bind_int(device.now)
            .push(" FROM enrollments WHERE id = ")
            .bind_text(device.enrollment_id)
            .push(" AND device_id = ")
            .bind_text(device.id);
        batch
            .statement(
                "INSERT INTO device_metadata (device_id, merchant_id, key, value, \
                 device_created_at) SELECT d.id, d.merchant_id, m.key, m.value, d.created_at \
                 FROM devices d CROSS JOIN enrollment_metadata m WHERE d.id = ",
            )
            .bind_text(device.id)
            .push(" AND m.enrollment_id = d.enrollment_id");
        batch
            .statement("INSERT INTO device_tokens (token_hash, device_id, created_at) SELECT ")
            .bind_text(device.token_hash)
            .push(", id, created_at FROM devices WHERE id = ")
            .bind_text(device.id);
        let statement = batch.statement(
            "INSERT INTO audit_events (merchant_id, occurred_at, actor_kind, actor_id, \
             actor_label, action, target_kind, target_id, details) SELECT merchant_id, ",
        );
        statement
            .bind_int(audit.occurred_at)
            .push(", ")
            .bind_text(audit.actor_kind)
            .push(", ");
        match audit.actor_id {
            Some(actor_id) => statement.bind_text(actor_id),
            None => statement.push("NULL"),
        };
        statement
            .push(", ")
            .bind_text(audit.actor_label)
            .push(", ")
            .bind_text(audit.action)
            .push(", ")
            .bind_text(audit.target_kind)
            .push(", ")
            .bind_text(audit.target_id)
            .push(", ")
            .bind_text(&audit.details)
            .push(" FROM devices WHERE id = ")
            .bind_text(device.id);

        match &self.registrations {
            Some(queue) => queue.write(batch, device.id).await,
            None => {
                let mut tx = self.begin().await?;
                let written = batch.execute(&mut tx).await?;
                if written == 0 {
                    return Ok(false);
                }
                tx.commit().await?;
                Ok(true)
            }
        }
    }
}

/// The way to SQLite's registration writer task.
#[derive(Clone)]
pub(super) struct RegistrationQueue {
    sender: mpsc::UnboundedSender<QueuedRegistration>,
}

struct QueuedRegistration {
    batch: StatementBatch,
    device_id: String,
    /// Whether the registration consumed its code; the caller may have gone meanwhile.
    reply: oneshot::Sender<StoreResult<bool>>,
}

impl RegistrationQueue {
    /// Starts the writer task; it ends when the last queue handle is dropped.
    pub(super) fn start(writer: AnyPool) -> Self {
        let (sender, receiver) = mpsc::unbounded_channel();
        tokio::spawn(write_registrations(writer, receiver));
        Self { sender }
    }

    async fn write(&self, batch: StatementBatch, device_id: &str) -> StoreResult<bool> {
        let (reply, outcome) = oneshot::channel();
        self.sender
            .send(QueuedRegistration {
                batch,
                device_id: device_id.to_owned(),
                reply,
            })
            .map_err(|_| StoreError::WriterStopped)?;
        // The writer task finishes the group even if this caller is cancelled, so a
        // registration is either wholly written or not at all.
        outcome.await.map_err(|_| StoreError::WriterStopped)?
    }
}

async fn write_registrations(
    writer: AnyPool,
    mut queue: mpsc::UnboundedReceiver<QueuedRegistration>,
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
        match write_group(&writer, &group).await {
            Ok(outcomes) => {
                for (registration, outcome) in group.drain(..).zip(outcomes) {
                    let _ = registration.reply.send(outcome);
                }
            }
            Err(error) => {
                tracing::error!(%error, "a group of registrations could not be written");
                for registration in group.drain(..) {
                    let _ = registration
                        .reply
                        .send(Err(StoreError::GroupFailed(error.to_string())));
                }
            }
        }
    }
}

/// One transaction for the group; each registration under a savepoint, so one refused
/// (a hardware id already registered) leaves the others in. The savepoint travels in the
/// registration's own batch: one round trip each, unless it fails.
async fn write_group(
    writer: &AnyPool,
    group: &[QueuedRegistration],
) -> StoreResult<Vec<StoreResult<bool>>> {
    let mut tx = writer.begin().await?;
    let mut outcomes = Vec::with_capacity(group.len());
    for registration in group {
        let outcome = registration
            .batch
            .execute_in_savepoint(&mut tx, &registration.device_id)
            .await;
        if outcome.is_err() {
            sqlx::query("ROLLBACK TO registration; RELEASE registration")
                .execute(&mut *tx)
                .await?;
        }
        outcomes.push(outcome);
    }
    tx.commit().await?;
    Ok(outcomes)
}

/// Statements run in order in one transaction: on SQLite sent together as one batch, in
/// a single round trip; on PostgreSQL one at a time, as its protocol binds values to
/// one statement at a time. Placeholders are numbered across the whole batch, which
/// SQLite binds by number in each statement.
struct StatementBatch {
    backend: Backend,
    statements: Vec<SqlBuilder>,
}

impl StatementBatch {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
        }
    }

    /// Starts the next statement with `sql`; bind its values on what this returns.
    fn statement(&mut self, sql: &str) -> &mut SqlBuilder {
        match (self.backend, self.statements.last_mut()) {
            (Backend::Sqlite, Some(_)) => {}
            _ => self.statements.push(SqlBuilder::new("")),
        }
        let statement = self
            .statements
            .last_mut()
            .expect("a statement was just made");
        if !statement.is_empty() {
            statement.push("; ");
        }
        statement.push(sql)
    }

    /// Runs the statements inside `SAVEPOINT registration`, released if all succeed, and
    /// tells whether they created `device_id` (SQLite only: a single batch). Asked of the
    /// database, not summed from row counts: SQLite reports a savepoint's count as that
    /// of the statement before it, which may be another registration's.
    async fn execute_in_savepoint(&self, tx: &mut super::Tx, device_id: &str) -> StoreResult<bool> {
        let [statement] = self.statements.as_slice() else {
            unreachable!("SQLite batches are one statement list");
        };
        let mut wrapped = statement.with_prefix("SAVEPOINT registration; ");
        wrapped
            .push("; RELEASE registration; SELECT COUNT(*) FROM devices WHERE id = ")
            .bind_text(device_id);
        // All rows, not the first: reading stops the batch where the reading stops.
        let created: Vec<i64> = wrapped
            .query_scalar()?
            .fetch_all(&mut **tx)
            .await
            .map_err(StoreError::classify)?;
        Ok(created == [1])
    }

    /// Rows written by all the statements.
    async fn execute(&self, tx: &mut super::Tx) -> StoreResult<u64> {
        let mut written = 0;
        for statement in &self.statements {
            written += statement
                .query()?
                .execute(&mut **tx)
                .await
                .map_err(StoreError::classify)?
                .rows_affected();
        }
        Ok(written)
    }
}
