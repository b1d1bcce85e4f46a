//! Registration's one write: the pairing code is consumed, and the device, its metadata,
//! its first token, the audit event and the webhook events are created, all in one
//! transaction, and the attempt counted against the failure limits is given back. On
//! SQLite registrations are written in groups by one writer task (see `sqlite.rs`), the
//! attempt given back in the same transaction; on PostgreSQL each is one statement, and
//! the attempt is given back by another once it has committed.

use std::sync::LazyLock;

use serde_json::json;

use super::enrollments::STILL_PENDING;
use super::webhooks::{push_registration_event, subscribed_on_columns};
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
    /// Of concurrent registrations with one code, exactly one writes anything. On SQLite
    /// the registration joins the writer task's next group (see
    /// [`REGISTRATIONS_TOGETHER`]), its attempt given back in the group's transaction. On
    /// PostgreSQL it is one statement (see [`registration_in_one_statement`]), and the
    /// attempt is given back after it: every registration's attempt is counted on the one
    /// global row, which stays locked until its transaction ends, so only a statement
    /// that does nothing else may lock it. Given back in the registration's statement,
    /// the row was held for all of its inserts, and registrations queued behind each
    /// other on it (760 a second on two cores, against 1,230 apart). Should the give-back
    /// fail, or the server stop between the two, the attempt stays counted: a limit is
    /// reached sooner, never passed.
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
        writer
            .write_registration(registration_values(device, audit))
            .await
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

/// A registration as SQLite's writer task takes it: the values its group's statements
/// read (see [`REGISTRATIONS_TOGETHER`]), one JSON object.
fn registration_values(device: &NewDevice<'_>, audit: &NewAuditEvent<'_>) -> serde_json::Value {
    let events: Vec<serde_json::Value> = device
        .webhook_events
        .iter()
        .map(|event| {
            json!({
                "id": event.id,
                "merchant_id": event.merchant_id,
                "type": event.event_type.as_str(),
                "occurred_at": event.occurred_at,
                "body": event.body,
            })
        })
        .collect();
    json!({
        "device_id": device.id,
        "enrollment_id": device.enrollment_id,
        "hardware_id": device.hardware_id,
        "name": device.name,
        "platform": device.platform,
        "token_hash": device.token_hash,
        "now": device.now,
        "audit_occurred_at": audit.occurred_at,
        "actor_kind": audit.actor_kind,
        "actor_id": audit.actor_id,
        "actor_label": audit.actor_label,
        "action": audit.action,
        "target_kind": audit.target_kind,
        "target_id": audit.target_id,
        "details": audit.details,
        "window_start": device.counted_attempt.map(|attempt| attempt.window_start),
        "buckets": device.counted_attempt.map_or_else(Vec::new, CountedAttempt::sorted_buckets),
        "events": events,
    })
}

/// SQLite's registrations of one group, written by a fixed set of statements whatever
/// their number: each statement writes its table's rows for every registration of the
/// group at once. `$1` is the group's registrations, a JSON array of
/// [`registration_values`]; the answer is each registration's device id and outcome,
/// `registered`, `taken` (its hardware id is registered with the merchant) or `not
/// pending`, in the group's order.
///
/// One registration at a time, the writer ran fourteen statements for each, every one
/// bound, stepped and answered across threads on its own; the single writer is what
/// limits registrations on SQLite, and it spent most of its time on that. Written
/// in order, the group comes to what its registrations one after the other would:
/// devices are inserted in the group's order, each only if its enrollment is pending
/// and no device has its enrollment or its hardware id, so of two registrations with
/// one code the first writes; everything else follows from the devices inserted.
pub(super) static REGISTRATIONS_TOGETHER: LazyLock<String> = LazyLock::new(|| {
    format!(
        "SAVEPOINT registrations; \
         CREATE TEMP TABLE IF NOT EXISTS registering (seq INTEGER PRIMARY KEY, \
         device_id TEXT NOT NULL, enrollment_id TEXT NOT NULL, hardware_id TEXT NOT NULL, \
         name TEXT NOT NULL, platform TEXT NOT NULL, token_hash TEXT NOT NULL, \
         now INTEGER NOT NULL, audit_occurred_at INTEGER NOT NULL, actor_kind TEXT NOT NULL, \
         actor_id TEXT, actor_label TEXT NOT NULL, action TEXT NOT NULL, \
         target_kind TEXT NOT NULL, target_id TEXT NOT NULL, details TEXT NOT NULL, \
         window_start INTEGER, buckets TEXT NOT NULL); \
         CREATE TEMP TABLE IF NOT EXISTS registering_events (seq INTEGER PRIMARY KEY, \
         device_id TEXT NOT NULL, id TEXT NOT NULL, merchant_id TEXT NOT NULL, \
         type TEXT NOT NULL, occurred_at INTEGER NOT NULL, body TEXT NOT NULL); \
         DELETE FROM temp.registering; \
         DELETE FROM temp.registering_events; \
         INSERT INTO temp.registering SELECT r.key, r.value ->> 'device_id', \
         r.value ->> 'enrollment_id', r.value ->> 'hardware_id', r.value ->> 'name', \
         r.value ->> 'platform', r.value ->> 'token_hash', r.value ->> 'now', \
         r.value ->> 'audit_occurred_at', r.value ->> 'actor_kind', r.value ->> 'actor_id', \
         r.value ->> 'actor_label', r.value ->> 'action', r.value ->> 'target_kind', \
         r.value ->> 'target_id', r.value ->> 'details', r.value ->> 'window_start', \
         r.value -> 'buckets' FROM json_each($1) r; \
         INSERT INTO temp.registering_events (device_id, id, merchant_id, type, occurred_at, \
         body) SELECT r.value ->> 'device_id', e.value ->> 'id', e.value ->> 'merchant_id', \
         e.value ->> 'type', e.value ->> 'occurred_at', e.value ->> 'body' \
         FROM json_each($1) r JOIN json_each(r.value, '$.events') e ORDER BY r.key, e.key; \
         INSERT INTO devices (id, merchant_id, location_id, enrollment_id, hardware_id, name, \
         platform, created_at, updated_at) SELECT r.device_id, e.merchant_id, e.location_id, \
         e.id, r.hardware_id, r.name, r.platform, r.now, r.now \
         FROM temp.registering r JOIN enrollments e ON e.id = r.enrollment_id \
         WHERE e.{STILL_PENDING} AND e.expires_at > r.now ORDER BY r.seq \
         ON CONFLICT DO NOTHING; \
         UPDATE enrollments SET status = 'CONSUMED', live_code = NULL, consumed_at = r.now, \
         device_id = r.device_id FROM temp.registering r JOIN devices d ON d.id = r.device_id \
         WHERE enrollments.id = r.enrollment_id; \
         INSERT INTO device_metadata (device_id, merchant_id, key, value, device_created_at) \
         SELECT d.id, d.merchant_id, m.key, m.value, d.created_at \
         FROM temp.registering r JOIN devices d ON d.id = r.device_id \
         JOIN enrollment_metadata m ON m.enrollment_id = d.enrollment_id ORDER BY r.seq, m.key; \
         INSERT INTO device_tokens (token_hash, device_id, created_at) \
         SELECT r.token_hash, d.id, d.created_at \
         FROM temp.registering r JOIN devices d ON d.id = r.device_id ORDER BY r.seq; \
         INSERT INTO audit_events (merchant_id, occurred_at, actor_kind, actor_id, actor_label, \
         action, target_kind, target_id, details) SELECT d.merchant_id, r.audit_occurred_at, \
         r.actor_kind, r.actor_id, r.actor_label, r.action, r.target_kind, r.target_id, \
         r.details FROM temp.registering r JOIN devices d ON d.id = r.device_id ORDER BY r.seq; \
         INSERT INTO webhook_events (id, merchant_id, type, occurred_at, body) \
         SELECT ev.id, ev.merchant_id, ev.type, ev.occurred_at, ev.body \
         FROM temp.registering_events ev JOIN devices d ON d.id = ev.device_id \
         WHERE EXISTS (SELECT 1 FROM webhook_endpoints e WHERE {subscribed}) ORDER BY ev.seq; \
         INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, \
         created_at, next_attempt_at) \
         SELECT e.id, w.id, w.merchant_id, 'PENDING', w.occurred_at, w.occurred_at \
         FROM temp.registering_events ev JOIN webhook_events w ON w.id = ev.id \
         JOIN webhook_endpoints e ON {subscribed} ORDER BY ev.seq; \
         UPDATE attempt_failures SET failures = MAX(failures - given.attempts, 0) \
         FROM (SELECT b.value AS bucket, r.window_start AS window_start, COUNT(*) AS attempts \
         FROM temp.registering r JOIN devices d ON d.id = r.device_id \
         JOIN json_each(r.buckets) b GROUP BY b.value, r.window_start) AS given \
         WHERE attempt_failures.bucket = given.bucket \
         AND attempt_failures.window_start = given.window_start; \
         RELEASE registrations; \
         SELECT r.device_id, CASE WHEN d.id IS NOT NULL THEN 'registered' \
         WHEN e.{STILL_PENDING} AND e.expires_at > r.now THEN 'taken' \
         ELSE 'not pending' END \
         FROM temp.registering r LEFT JOIN devices d ON d.id = r.device_id \
         LEFT JOIN enrollments e ON e.id = r.enrollment_id ORDER BY r.seq",
        subscribed = subscribed_on_columns("ev.merchant_id", "ev.type"),
    )
});
