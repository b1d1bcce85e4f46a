//! Registration's one write: the pairing code is consumed, and the device, its metadata,
//! its first token, the audit event and the webhook events are created, and the attempt
//! counted against the failure limits is given back, all in one transaction. On SQLite registrations are
//! written in groups by one writer task (see `sqlite.rs`).

use super::{
    Backend, CountedAttempt, NewAuditEvent, NewWebhookEvent, SqlBuilder, Store, StoreResult,
};

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
    /// The attempt counted against the failure limits before the code was checked: a
    /// registration that succeeds gives it back in its own transaction.
    pub counted_attempt: Option<&'a CountedAttempt>,
    /// The webhook events of the registration (the code consumed, the device registered),
    /// written with it if it registers and an endpoint will receive them.
    pub webhook_events: &'a [NewWebhookEvent],
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
            .statement(
                "UPDATE enrollments SET status = 'CONSUMED', live_code = NULL, consumed_at = ",
            )
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
        for event in device.webhook_events {
            batch.push_webhook_event(event, device.id);
        }
        // Last, so that PostgreSQL holds the counters' rows (the global one is every
        // registration's) as briefly as it can; bucket by bucket in one order, like every
        // other statement on them.
        if let Some(attempt) = device.counted_attempt {
            for bucket in attempt.sorted_buckets() {
                batch
                    .statement(
                        "UPDATE attempt_failures SET failures = failures - 1 WHERE bucket = ",
                    )
                    .bind_text(bucket)
                    .push(" AND window_start = ")
                    .bind_int(attempt.window_start)
                    .push(" AND failures > 0 AND EXISTS (SELECT 1 FROM devices WHERE id = ")
                    .bind_text(device.id)
                    .push(")");
            }
        }

        match &self.group_writer {
            Some(writer) => writer.write_registration(batch, device.id).await,
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

/// Statements run in order in one transaction: on SQLite sent together as one batch, in
/// a single round trip; on PostgreSQL one at a time, as its protocol binds values to
/// one statement at a time. Placeholders are numbered across the whole batch, which
/// SQLite binds by number in each statement.
pub(super) struct StatementBatch {
    backend: Backend,
    pub(super) statements: Vec<SqlBuilder>,
}

impl StatementBatch {
    fn new(backend: Backend) -> Self {
        Self {
            backend,
            statements: Vec::new(),
        }
    }

    /// Starts the next statement with `sql`; bind its values on what this returns.
    pub(super) fn statement(&mut self, sql: &str) -> &mut SqlBuilder {
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

    /// Rows written by all the statements.
    pub(super) async fn execute(&self, tx: &mut super::Tx) -> StoreResult<u64> {
        let mut written = 0;
        for statement in &self.statements {
            written += statement.execute(tx).await?;
        }
        Ok(written)
    }
}
