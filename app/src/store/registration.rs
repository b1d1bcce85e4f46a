//! Registration's one write: the pairing code is consumed, and the device, its metadata,
//! its first token, the audit event and the webhook events are created, all in one
//! transaction, and the attempt counted against the failure limits is given back. On
//! SQLite registrations are written in groups by one writer task (see `sqlite.rs`), the
//! attempt given back in the same transaction; on PostgreSQL each is one statement, and
//! the attempt is given back by another once it has committed.

use super::enrollments::STILL_PENDING;
use super::webhooks::push_registration_event;
use super::{
    CountedAttempt, NewAuditEvent, NewWebhookEvent, SqlBuilder, Store, StoreError, StoreResult,
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
    /// registration that succeeds gives it back.
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
    /// round trips to the database are part of what limits registrations. On PostgreSQL
    /// they are one statement (see [`registration_in_one_statement`]), and the attempt is
    /// given back after it: every registration's attempt is counted on the one global
    /// row, which stays locked until its transaction ends, so only a statement that does
    /// nothing else may lock it. Given back in the registration's statement, the row was
    /// held for all of its inserts, and registrations queued behind each other on it
    /// (760 a second on two cores, against 1,230 apart). Should the give-back fail, or the server stop
    /// between the two, the attempt stays counted: a limit is reached sooner, never
    /// passed.
    pub async fn register_device(
        &self,
        device: &NewDevice<'_>,
        audit: &NewAuditEvent<'_>,
    ) -> StoreResult<bool> {
        let Some(writer) = &self.group_writer else {
            let statement = registration_in_one_statement(device, audit);
            let registered: i64 = statement
                .query_scalar()?
                .fetch_one(self.writer())
                .await
                .map_err(StoreError::classify)?;
            if registered > 0
                && let Some(attempt) = device.counted_attempt
                && let Err(error) = self.give_back_attempt(attempt).await
            {
                // The device is registered and its token about to be answered: a count
                // left standing only brings the limit nearer, so it does not undo that.
                tracing::warn!(%error, "a registration's attempt could not be given back");
            }
            return Ok(registered > 0);
        };
        let mut batch = StatementBatch::default();
        batch
            .statement(
                "UPDATE enrollments SET status = 'CONSUMED', live_code = NULL, consumed_at = ",
            )
            .bind_int(device.now)
            .push(", device_id = ")
            .bind_text(device.id)
            .push(" WHERE id = ")
            .bind_text(device.enrollment_id)
            .push(" AND ")
            .push(STILL_PENDING)
            .push(" AND expires_at > ")
            .bind_int(device.now);
        let statement = batch.statement(
            "INSERT INTO devices (id, merchant_id, location_id, enrollment_id, hardware_id, \
             name, platform, created_at, updated_at) SELECT ",
        );
        push_device_values(statement, device)
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
        push_audit_values(statement, audit)
            .push(" FROM devices WHERE id = ")
            .bind_text(device.id);
        for event in device.webhook_events {
            batch.push_webhook_event(event, device.id);
        }
        // The attempt given back, bucket by bucket in one order, like every other
        // statement on the counters.
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

        writer.write_registration(batch, device.id).await
    }
}

/// The registration as one PostgreSQL statement of data-modifying CTEs, each fed by the
/// one before through `RETURNING` (a statement's parts do not see each other's rows in
/// the tables): one round trip, and a transaction no longer than its execution, so the
/// enrollment's row is not held locked across round trips.
fn registration_in_one_statement(device: &NewDevice<'_>, audit: &NewAuditEvent<'_>) -> SqlBuilder {
    let mut sql = SqlBuilder::new(
        "WITH consumed AS (UPDATE enrollments SET status = 'CONSUMED', live_code = NULL, \
         consumed_at = ",
    );
    sql.bind_int(device.now)
        .push(", device_id = ")
        .bind_text(device.id)
        .push(" WHERE id = ")
        .bind_text(device.enrollment_id)
        .push(" AND ")
        .push(STILL_PENDING)
        .push(" AND expires_at > ")
        .bind_int(device.now)
        .push(
            " RETURNING id, merchant_id, location_id), \
             registered AS (INSERT INTO devices (id, merchant_id, location_id, enrollment_id, \
             hardware_id, name, platform, created_at, updated_at) SELECT ",
        );
    push_device_values(&mut sql, device)
        .push(
            " FROM consumed RETURNING id, merchant_id, enrollment_id, created_at), \
             metadata AS (INSERT INTO device_metadata (device_id, merchant_id, key, value, \
             device_created_at) SELECT d.id, d.merchant_id, m.key, m.value, d.created_at \
             FROM registered d JOIN enrollment_metadata m ON m.enrollment_id = d.enrollment_id), \
             token AS (INSERT INTO device_tokens (token_hash, device_id, created_at) SELECT ",
        )
        .bind_text(device.token_hash)
        .push(
            ", id, created_at FROM registered), \
             audit AS (INSERT INTO audit_events (merchant_id, occurred_at, actor_kind, \
             actor_id, actor_label, action, target_kind, target_id, details) SELECT merchant_id, ",
        );
    push_audit_values(&mut sql, audit).push(" FROM registered)");
    for (index, event) in device.webhook_events.iter().enumerate() {
        push_registration_event(&mut sql, event, index);
    }
    sql.push(" SELECT COUNT(*) FROM registered");
    sql
}

/// SQLite's statements of one registration, run in order in one transaction and sent
/// together as one batch, in a single round trip. Placeholders are numbered across the
/// whole batch, which SQLite binds by number in each statement.
#[derive(Default)]
pub(super) struct StatementBatch {
    pub(super) sql: SqlBuilder,
}

impl StatementBatch {
    /// Starts the next statement with `sql`; bind its values on what this returns.
    pub(super) fn statement(&mut self, sql: &str) -> &mut SqlBuilder {
        if !self.sql.is_empty() {
            self.sql.push("; ");
        }
        self.sql.push(sql)
    }
}

/// `<id>, merchant_id, location_id, id, <hardware id>, <name>, <platform>, <now>, <now>`: a
/// new device's values, read from a row of its enrollment.
fn push_device_values<'s>(sql: &'s mut SqlBuilder, device: &NewDevice<'_>) -> &'s mut SqlBuilder {
    sql.bind_text(device.id)
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
}

/// `<occurred at>, <actor kind>, <actor id or NULL>, <label>, <action>, <target kind>,
/// <target id>, <details>`: the registration's audit event, after its `merchant_id`.
fn push_audit_values<'s>(sql: &'s mut SqlBuilder, audit: &NewAuditEvent<'_>) -> &'s mut SqlBuilder {
    sql.bind_int(audit.occurred_at)
        .push(", ")
        .bind_text(audit.actor_kind)
        .push(", ");
    match audit.actor_id {
        Some(actor_id) => sql.bind_text(actor_id),
        None => sql.push("NULL"),
    };
    sql.push(", ")
        .bind_text(audit.actor_label)
        .push(", ")
        .bind_text(audit.action)
        .push(", ")
        .bind_text(audit.target_kind)
        .push(", ")
        .bind_text(audit.target_id)
        .push(", ")
        .bind_text(&audit.details)
}
