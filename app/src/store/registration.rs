//! Registration's one write: the pairing code is consumed, and the device, its metadata,
//! its first token, the audit event and the webhook events are created, all in one
//! transaction, and the attempt counted against the failure limits is given back.
//! Registrations are written in groups by a writer task (see `group_writer.rs`), with
//! the statements here: each writes its table's rows for the whole group.

use std::sync::LazyLock;

use serde::Serialize;

use super::enrollments::STILL_PENDING;
use super::webhooks::subscribed_on_columns;
use super::{Backend, CountedAttempt, NewAuditEvent, NewWebhookEvent, Store, StoreResult};

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
    /// registered with the merchant fails with [`super::StoreError::UniqueViolation`]. Of
    /// concurrent registrations with one code, exactly one writes anything.
    ///
    /// The registration joins the writer task's next group. Its attempt is given back in
    /// the group's transaction on SQLite, and after it commits on PostgreSQL: there every
    /// attempt is counted on the one global row, which stays locked until its
    /// transaction ends, so only a short statement of its own may lock it.
    pub async fn register_device(
        &self,
        device: &NewDevice<'_>,
        audit: &NewAuditEvent<'_>,
    ) -> StoreResult<bool> {
        self.group_writer
            .write_registration(GroupedRegistration::new(device, audit))
            .await
    }
}

/// A registration as the writer task takes it: what its group's statements read, as
/// one object of the JSON array they are given (see [`registrations_together`]).
#[derive(Serialize)]
pub(super) struct GroupedRegistration {
    pub(super) device_id: String,
    pub(super) enrollment_id: String,
    hardware_id: String,
    name: String,
    platform: String,
    token_hash: String,
    pub(super) now: i64,
    audit_occurred_at: i64,
    actor_kind: String,
    actor_id: Option<String>,
    actor_label: String,
    action: String,
    target_kind: String,
    target_id: String,
    details: String,
    /// The counted attempt to give back, if any: its window and buckets.
    pub(super) window_start: Option<i64>,
    pub(super) buckets: Vec<String>,
    events: Vec<GroupedEvent>,
}

/// A webhook event of a [`GroupedRegistration`], written if the device is.
#[derive(Serialize)]
struct GroupedEvent {
    id: String,
    merchant_id: String,
    #[serde(rename = "type")]
    event_type: &'static str,
    occurred_at: i64,
    body: String,
}

impl GroupedRegistration {
    fn new(device: &NewDevice<'_>, audit: &NewAuditEvent<'_>) -> Self {
        Self {
            device_id: device.id.to_owned(),
            enrollment_id: device.enrollment_id.to_owned(),
            hardware_id: device.hardware_id.to_owned(),
            name: device.name.to_owned(),
            platform: device.platform.to_owned(),
            token_hash: device.token_hash.to_owned(),
            now: device.now,
            audit_occurred_at: audit.occurred_at,
            actor_kind: audit.actor_kind.to_owned(),
            actor_id: audit.actor_id.map(str::to_owned),
            actor_label: audit.actor_label.to_owned(),
            action: audit.action.to_owned(),
            target_kind: audit.target_kind.to_owned(),
            target_id: audit.target_id.to_owned(),
            details: audit.details.clone(),
            window_start: device.counted_attempt.map(|attempt| attempt.window_start),
            buckets: device.counted_attempt.map_or_else(Vec::new, |attempt| {
                attempt
                    .sorted_buckets()
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            }),
            events: device
                .webhook_events
                .iter()
                .map(|event| GroupedEvent {
                    id: event.id.clone(),
                    merchant_id: event.merchant_id.clone(),
                    event_type: event.event_type.as_str(),
                    occurred_at: event.occurred_at,
                    body: event.body.clone(),
                })
                .collect(),
        }
    }
}

/// The statements that write a group of registrations on `backend`. `$1` is the
/// group, a JSON array of [`GroupedRegistration`]s; the answer is each registration's
/// device id and `1` if it registered, in the group's order.
///
/// One registration at a time, SQLite's single writer ran fourteen statements for each,
/// every one bound, stepped and answered across threads on its own, and spent most of
/// its time on that; PostgreSQL ran a statement and a commit for each. Written in order,
/// the group comes to what its registrations one after the other would: devices are
/// inserted in the group's order, each only if its enrollment is pending and no device
/// has its enrollment or its hardware id, so of two registrations with one code the first
/// writes; everything else follows from the devices inserted.
pub(super) fn registrations_together(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => &SQLITE_REGISTRATIONS,
        Backend::Postgres => &POSTGRES_REGISTRATIONS,
    }
}

static SQLITE_REGISTRATIONS: LazyLock<String> = LazyLock::new(|| sqlite_registrations("$1"));

/// SQLite: the group (the JSON array bound at `group`, `$1` or another placeholder)
/// copied into temporary tables, then one statement a table.
pub(super) fn sqlite_registrations(group: &str) -> String {
    format!(
        "CREATE TEMP TABLE IF NOT EXISTS registering (seq INTEGER PRIMARY KEY, \
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
         r.value -> 'buckets' FROM json_each({group}) r; \
         INSERT INTO temp.registering_events (device_id, id, merchant_id, type, occurred_at, \
         body) SELECT r.value ->> 'device_id', e.value ->> 'id', e.value ->> 'merchant_id', \
         e.value ->> 'type', e.value ->> 'occurred_at', e.value ->> 'body' \
         FROM json_each({group}) r JOIN json_each(r.value, '$.events') e ORDER BY r.key, e.key; \
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
         SELECT r.device_id, CAST(d.id IS NOT NULL AS BIGINT) \
         FROM temp.registering r LEFT JOIN devices d ON d.id = r.device_id ORDER BY r.seq",
        subscribed = subscribed_on_columns("ev.merchant_id", "ev.type"),
    )
}

/// PostgreSQL: one statement of data-modifying parts, each fed by the one before through
/// `RETURNING` (a statement's parts do not see each other's rows in the tables). The
/// pending enrollments are locked first, in id order: a cancellation or a registration
/// at another instance waits for this one's commit (or this for theirs, and then reads
/// what they wrote), and two groups never wait for each other in a circle.
static POSTGRES_REGISTRATIONS: LazyLock<String> = LazyLock::new(|| {
    format!(
        "WITH input AS MATERIALIZED (SELECT r.seq, r.value ->> 'device_id' AS device_id, \
         r.value ->> 'enrollment_id' AS enrollment_id, r.value ->> 'hardware_id' AS hardware_id, \
         r.value ->> 'name' AS name, r.value ->> 'platform' AS platform, \
         r.value ->> 'token_hash' AS token_hash, (r.value ->> 'now')::BIGINT AS now, \
         (r.value ->> 'audit_occurred_at')::BIGINT AS audit_occurred_at, \
         r.value ->> 'actor_kind' AS actor_kind, r.value ->> 'actor_id' AS actor_id, \
         r.value ->> 'actor_label' AS actor_label, r.value ->> 'action' AS action, \
         r.value ->> 'target_kind' AS target_kind, r.value ->> 'target_id' AS target_id, \
         r.value ->> 'details' AS details, r.value -> 'events' AS events \
         FROM jsonb_array_elements($1::JSONB) WITH ORDINALITY AS r (value, seq)), \
         pending AS (SELECT e.id, e.merchant_id, e.location_id, e.expires_at FROM enrollments e \
         WHERE e.id IN (SELECT enrollment_id FROM input) AND e.{STILL_PENDING} \
         ORDER BY e.id FOR UPDATE), \
         registered AS (INSERT INTO devices (id, merchant_id, location_id, enrollment_id, \
         hardware_id, name, platform, created_at, updated_at) \
         SELECT r.device_id, e.merchant_id, e.location_id, e.id, r.hardware_id, r.name, \
         r.platform, r.now, r.now FROM input r JOIN pending e ON e.id = r.enrollment_id \
         WHERE e.expires_at > r.now ORDER BY r.seq ON CONFLICT DO NOTHING \
         RETURNING id, merchant_id, enrollment_id, created_at), \
         consumed AS (UPDATE enrollments e SET status = 'CONSUMED', live_code = NULL, \
         consumed_at = d.created_at, device_id = d.id FROM registered d \
         WHERE e.id = d.enrollment_id), \
         metadata AS (INSERT INTO device_metadata (device_id, merchant_id, key, value, \
         device_created_at) SELECT d.id, d.merchant_id, m.key, m.value, d.created_at \
         FROM registered d JOIN enrollment_metadata m ON m.enrollment_id = d.enrollment_id), \
         token AS (INSERT INTO device_tokens (token_hash, device_id, created_at) \
         SELECT r.token_hash, d.id, d.created_at FROM registered d JOIN input r \
         ON r.device_id = d.id), \
         audit AS (INSERT INTO audit_events (merchant_id, occurred_at, actor_kind, actor_id, \
         actor_label, action, target_kind, target_id, details) SELECT d.merchant_id, \
         r.audit_occurred_at, r.actor_kind, r.actor_id, r.actor_label, r.action, \
         r.target_kind, r.target_id, r.details FROM registered d JOIN input r \
         ON r.device_id = d.id ORDER BY r.seq), \
         events AS (INSERT INTO webhook_events (id, merchant_id, type, occurred_at, body) \
         SELECT ev.value ->> 'id', ev.value ->> 'merchant_id', ev.value ->> 'type', \
         (ev.value ->> 'occurred_at')::BIGINT, ev.value ->> 'body' \
         FROM registered d JOIN input r ON r.device_id = d.id \
         CROSS JOIN LATERAL jsonb_array_elements(r.events) WITH ORDINALITY AS ev (value, seq) \
         WHERE EXISTS (SELECT 1 FROM webhook_endpoints e WHERE {subscribed_event}) \
         ORDER BY r.seq, ev.seq RETURNING id, merchant_id, type, occurred_at), \
         deliveries AS (INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, \
         status, created_at, next_attempt_at) \
         SELECT e.id, w.id, w.merchant_id, 'PENDING', w.occurred_at, w.occurred_at \
         FROM events w JOIN webhook_endpoints e ON {subscribed_written}) \
         SELECT r.device_id, CAST(CASE WHEN d.id IS NULL THEN 0 ELSE 1 END AS BIGINT) \
         FROM input r LEFT JOIN registered d ON d.id = r.device_id ORDER BY r.seq",
        subscribed_event =
            subscribed_on_columns("(ev.value ->> 'merchant_id')", "(ev.value ->> 'type')"),
        subscribed_written = subscribed_on_columns("w.merchant_id", "w.type"),
    )
});
