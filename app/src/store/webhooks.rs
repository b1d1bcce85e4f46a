//! Webhook endpoints, the outbox of events, and their deliveries.
//!
//! An event is written by the transaction of the change it reports, together with one
//! delivery for each enabled endpoint of the merchant that subscribes to its type, and
//! only when there is such an endpoint. Delivery workers claim due deliveries (on
//! PostgreSQL with `FOR UPDATE SKIP LOCKED`, so instances never claim the same one), send
//! them, and record each attempt.

use std::collections::HashMap;

use crate::domain::webhook::{ALL_EVENTS, WebhookEventType};

use super::{Backend, SqlBuilder, Store, StoreResult, Tx};

// No Debug: the row holds the signing secrets.
#[derive(Clone, sqlx::FromRow)]
pub struct WebhookEndpointRow {
    pub id: String,
    pub merchant_id: String,
    pub url: String,
    pub description: String,
    /// `*` or `,name,name,` (see `Subscription::to_stored`).
    pub events: String,
    pub enabled: i64,
    pub secret: String,
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<i64>,
    pub failing_since: Option<i64>,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl WebhookEndpointRow {
    pub fn is_enabled(&self) -> bool {
        self.enabled != 0
    }

    /// The secrets that sign at `now`: the current one, and the previous one until it
    /// expires.
    pub fn signing_secrets(&self, now: i64) -> Vec<&str> {
        let mut secrets = vec![self.secret.as_str()];
        if let (Some(previous), Some(until)) =
            (&self.previous_secret, self.previous_secret_expires_at)
            && until > now
        {
            secrets.push(previous);
        }
        secrets
    }
}

const ENDPOINT_COLUMNS: &str = "id, merchant_id, url, description, events, enabled, secret, \
    previous_secret, previous_secret_expires_at, failing_since, disabled_at, disabled_reason, \
    created_at, updated_at";

/// An endpoint's new settings; `None` keeps what is there.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointUpdate {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<String>,
    pub enabled: Option<bool>,
}

/// An event about to be written, with the JSON every delivery of it sends.
#[derive(Debug, Clone)]
pub struct NewWebhookEvent {
    pub id: String,
    pub merchant_id: String,
    pub event_type: WebhookEventType,
    pub occurred_at: i64,
    pub body: String,
}

/// A delivery of an event to an endpoint, with the event it sends.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookDeliveryRow {
    pub endpoint_id: String,
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    pub status: String,
    pub created_at: i64,
    pub next_attempt_at: Option<i64>,
    pub claim: Option<String>,
    pub attempts: i64,
    pub manual: i64,
    pub last_attempt_at: Option<i64>,
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    pub last_error: Option<String>,
    pub last_response: Option<String>,
}

/// All but `last_response`, which follows.
const DELIVERY_COLUMNS: &str = "d.endpoint_id, d.event_id, ev.type AS event_type, ev.body, \
    d.status, d.created_at, d.next_attempt_at, d.claim, d.attempts, d.manual, \
    d.last_attempt_at, d.last_status_code, d.last_latency_ms, d.last_error";

/// One attempt at a delivery.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct WebhookAttemptRow {
    pub endpoint_id: String,
    pub event_id: String,
    pub attempt: i64,
    pub attempted_at: i64,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

const ATTEMPT_COLUMNS: &str =
    "endpoint_id, event_id, attempt, attempted_at, status_code, latency_ms, error";

/// A delivery a worker has claimed: nobody else sends it until the claim lapses.
#[derive(Debug, Clone)]
pub struct ClaimedDelivery {
    pub event_id: String,
    pub event_type: String,
    pub body: String,
    /// Attempts made before this one.
    pub attempts: i64,
    /// A resend: one attempt, no retries.
    pub manual: bool,
}

/// What an attempt came to, to be recorded with the delivery's next state.
#[derive(Debug, Clone)]
pub struct AttemptRecord<'a> {
    pub endpoint_id: &'a str,
    pub event_id: &'a str,
    pub claim: &'a str,
    pub attempted_at: i64,
    pub succeeded: bool,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<&'a str>,
    pub response: Option<&'a str>,
    /// `PENDING` (with `next_attempt_at`), `SUCCEEDED` or `FAILED`.
    pub status: &'a str,
    pub next_attempt_at: Option<i64>,
}

/// `e.merchant_id = .. AND e.enabled = 1 AND <e subscribes to the type>`, for one event.
fn push_subscribed(sql: &mut SqlBuilder, merchant_id: &str, event_type: WebhookEventType) {
    let merchant_id = sql.placeholder(merchant_id.into());
    let event_type = sql.placeholder(event_type.as_str().into());
    sql.push(&subscribed_on_columns(&merchant_id, &event_type));
}

/// Whether endpoint `e` receives events of type `event_type` of `merchant_id`, both SQL
/// expressions (columns, when a statement writes the events of many merchants at once).
pub(super) fn subscribed_on_columns(merchant_id: &str, event_type: &str) -> String {
    format!(
        "e.merchant_id = {merchant_id} AND e.enabled = 1 AND (e.events = '{ALL_EVENTS}' \
         OR e.events LIKE '%,' || {event_type} || ',%')"
    )
}

/// `<id>, <merchant id>, <type>, <occurred at>, <body>`: an event's values.
fn push_event_values<'s>(sql: &'s mut SqlBuilder, event: &NewWebhookEvent) -> &'s mut SqlBuilder {
    sql.bind_text(&event.id)
        .push(", ")
        .bind_text(&event.merchant_id)
        .push(", ")
        .bind_text(event.event_type.as_str())
        .push(", ")
        .bind_int(event.occurred_at)
        .push(", ")
        .bind_text(&event.body)
}

/// The statement that writes an event, only when an endpoint will receive it.
fn push_event_insert(sql: &mut SqlBuilder, event: &NewWebhookEvent) {
    sql.push("INSERT INTO webhook_events (id, merchant_id, type, occurred_at, body) SELECT ");
    push_event_values(sql, event).push(" WHERE EXISTS (SELECT 1 FROM webhook_endpoints e WHERE ");
    push_subscribed(sql, &event.merchant_id, event.event_type);
    sql.push(")");
}

/// The statement that writes a written event's deliveries, one to each endpoint that
/// subscribes to it.
fn push_fan_out(sql: &mut SqlBuilder, event: &NewWebhookEvent) {
    sql.push(
        "INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, \
         created_at, next_attempt_at) \
         SELECT e.id, ev.id, ev.merchant_id, 'PENDING', ev.occurred_at, ev.occurred_at \
         FROM webhook_events ev CROSS JOIN webhook_endpoints e WHERE ev.id = ",
    )
    .bind_text(&event.id)
    .push(" AND ");
    push_subscribed(sql, &event.merchant_id, event.event_type);
}

impl Store {
    // --- endpoints -------------------------------------------------------------------

    /// Adds the endpoint unless its merchant has `most` already; false then. Concurrent
    /// additions for one merchant are counted one after the other: SQLite has one writer,
    /// and on PostgreSQL each first locks the merchant's row (a lock that foreign keys to
    /// it do not wait for).
    pub async fn insert_webhook_endpoint(
        &self,
        tx: &mut Tx,
        row: &WebhookEndpointRow,
        most: i64,
    ) -> StoreResult<bool> {
        if self.backend == Backend::Postgres {
            sqlx::query("SELECT id FROM merchants WHERE id = $1 FOR NO KEY UPDATE")
                .bind(&row.merchant_id)
                .fetch_optional(&mut **tx)
                .await?;
        }
        let result = sqlx::query(
            "INSERT INTO webhook_endpoints (id, merchant_id, url, description, events, enabled, \
             secret, disabled_at, created_at, updated_at) \
             SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10 \
             WHERE (SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = $2) < $11",
        )
        .bind(&row.id)
        .bind(&row.merchant_id)
        .bind(&row.url)
        .bind(&row.description)
        .bind(&row.events)
        .bind(row.enabled)
        .bind(&row.secret)
        .bind(row.disabled_at)
        .bind(row.created_at)
        .bind(row.updated_at)
        .bind(most)
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    pub async fn webhook_endpoint(
        &self,
        merchant_id: &str,
        id: &str,
    ) -> StoreResult<Option<WebhookEndpointRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2"
        ))
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A page of the merchant's endpoints, oldest first, with the total count.
    pub async fn webhook_endpoints(
        &self,
        merchant_id: &str,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<WebhookEndpointRow>, i64)> {
        let total = self.count_webhook_endpoints(merchant_id).await?;
        let rows = sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE merchant_id = $1 \
             ORDER BY created_at, id LIMIT $2 OFFSET $3"
        ))
        .bind(merchant_id)
        .bind(limit)
        .bind(offset)
        .fetch_all(self.pool())
        .await?;
        Ok((rows, total))
    }

    async fn count_webhook_endpoints(&self, merchant_id: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_endpoints WHERE merchant_id = $1")
                .bind(merchant_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// False when the merchant has no such endpoint. Enabling one clears why it was
    /// disabled and since when it fails; disabling one by hand records when.
    pub async fn update_webhook_endpoint(
        tx: &mut Tx,
        merchant_id: &str,
        id: &str,
        update: &WebhookEndpointUpdate,
        now: i64,
    ) -> StoreResult<bool> {
        let mut sql = SqlBuilder::new("UPDATE webhook_endpoints SET updated_at = ");
        sql.bind_int(now);
        if let Some(url) = &update.url {
            sql.push(", url = ").bind_text(url);
        }
        if let Some(description) = &update.description {
            sql.push(", description = ").bind_text(description);
        }
        if let Some(events) = &update.events {
            sql.push(", events = ").bind_text(events);
        }
        match update.enabled {
            Some(true) => {
                sql.push(
                    ", enabled = 1, disabled_at = NULL, disabled_reason = NULL, \
                     failing_since = NULL",
                );
            }
            Some(false) => {
                sql.push(", enabled = 0, disabled_at = COALESCE(disabled_at, ")
                    .bind_int(now)
                    .push(")");
            }
            None => {}
        }
        sql.push(" WHERE merchant_id = ")
            .bind_text(merchant_id)
            .push(" AND id = ")
            .bind_text(id);
        Ok(sql.execute(tx).await? == 1)
    }

    /// Removes the endpoint with its deliveries and their attempts.
    pub async fn delete_webhook_endpoint(
        tx: &mut Tx,
        merchant_id: &str,
        id: &str,
    ) -> StoreResult<bool> {
        let result =
            sqlx::query("DELETE FROM webhook_endpoints WHERE merchant_id = $1 AND id = $2")
                .bind(merchant_id)
                .bind(id)
                .execute(&mut **tx)
                .await?;
        Ok(result.rows_affected() == 1)
    }

    /// `secret` signs from now on; the one it replaces signs alongside until
    /// `previous_expires_at`.
    pub async fn rotate_webhook_secret(
        tx: &mut Tx,
        merchant_id: &str,
        id: &str,
        secret: &str,
        previous_expires_at: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE webhook_endpoints SET previous_secret = secret, \
             previous_secret_expires_at = $1, secret = $2, updated_at = $3 \
             WHERE merchant_id = $4 AND id = $5",
        )
        .bind(previous_expires_at)
        .bind(secret)
        .bind(now)
        .bind(merchant_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    /// The latest attempt at any delivery of each endpoint, by endpoint id.
    pub async fn latest_webhook_attempts(
        &self,
        endpoint_ids: &[String],
    ) -> StoreResult<HashMap<String, WebhookAttemptRow>> {
        if endpoint_ids.is_empty() {
            return Ok(HashMap::new());
        }
        // One statement, and for each endpoint one probe at the start of its attempts in
        // `webhook_attempts_latest`.
        let mut sql = SqlBuilder::default();
        for (index, id) in endpoint_ids.iter().enumerate() {
            if index > 0 {
                sql.push(" UNION ALL ");
            }
            sql.push(&format!(
                "SELECT * FROM (SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts WHERE endpoint_id = "
            ))
            .bind_text(id)
            .push(&format!(
                " ORDER BY attempted_at DESC, attempt DESC LIMIT 1) AS latest_{index}"
            ));
        }
        let rows: Vec<WebhookAttemptRow> = sql.query_as()?.fetch_all(self.pool()).await?;
        Ok(rows
            .into_iter()
            .map(|row| (row.endpoint_id.clone(), row))
            .collect())
    }

    // --- events ----------------------------------------------------------------------

    /// Writes the event in `tx`, with a delivery to each enabled endpoint of its merchant
    /// that subscribes to its type; nothing when there is none. True when it was written.
    pub async fn insert_webhook_event(tx: &mut Tx, event: &NewWebhookEvent) -> StoreResult<bool> {
        let mut insert = SqlBuilder::default();
        push_event_insert(&mut insert, event);
        let written = insert.execute(tx).await? == 1;
        if written {
            let mut fan_out = SqlBuilder::default();
            push_fan_out(&mut fan_out, event);
            fan_out.execute(tx).await?;
        }
        Ok(written)
    }

    /// Writes the event in `tx` with one delivery, to `endpoint_id` (a test event).
    pub async fn insert_webhook_event_for(
        tx: &mut Tx,
        event: &NewWebhookEvent,
        endpoint_id: &str,
    ) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO webhook_events (id, merchant_id, type, occurred_at, body) \
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(&event.id)
        .bind(&event.merchant_id)
        .bind(event.event_type.as_str())
        .bind(event.occurred_at)
        .bind(&event.body)
        .execute(&mut **tx)
        .await?;
        sqlx::query(
            "INSERT INTO webhook_deliveries (endpoint_id, event_id, merchant_id, status, \
             created_at, next_attempt_at) VALUES ($1, $2, $3, 'PENDING', $4, $4)",
        )
        .bind(endpoint_id)
        .bind(&event.id)
        .bind(&event.merchant_id)
        .bind(event.occurred_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Removes events that happened before `before` and have nothing left to send, with
    /// their deliveries and attempts; at most `limit` of them. Returns how many.
    pub async fn prune_webhook_events(&self, before: i64, limit: i64) -> StoreResult<u64> {
        let result = sqlx::query(
            "DELETE FROM webhook_events WHERE id IN (SELECT ev.id FROM webhook_events ev \
             WHERE ev.occurred_at < $1 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d \
             WHERE d.event_id = ev.id AND d.status = 'PENDING') \
             ORDER BY ev.occurred_at LIMIT $2)",
        )
        .bind(before)
        .bind(limit)
        .execute(self.writer())
        .await?;
        Ok(result.rows_affected())
    }

    // --- deliveries --------------------------------------------------------------------

    /// A page of an endpoint's deliveries, newest first, with the total count;
    /// `status` keeps only those in that state. Of each last answer only the first
    /// `response_chars` characters are read.
    pub async fn webhook_deliveries(
        &self,
        endpoint_id: &str,
        status: Option<&str>,
        response_chars: i64,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<WebhookDeliveryRow>, i64)> {
        let mut filter = SqlBuilder::new(
            " FROM webhook_deliveries d JOIN webhook_events ev ON ev.id = d.event_id \
             WHERE d.endpoint_id = ",
        );
        filter.bind_text(endpoint_id);
        if let Some(status) = status {
            filter.push(" AND d.status = ").bind_text(status);
        }
        let total: i64 = filter
            .with_prefix("SELECT COUNT(*)")
            .query_scalar()?
            .fetch_one(self.pool())
            .await?;
        let mut page = filter.with_prefix(&format!(
            "SELECT {DELIVERY_COLUMNS}, SUBSTR(d.last_response, 1, {response_chars}) AS last_response"
        ));
        page.push(" ORDER BY d.created_at DESC, d.event_id DESC LIMIT ")
            .bind_int(limit)
            .push(" OFFSET ")
            .bind_int(offset);
        let rows = page.query_as()?.fetch_all(self.pool()).await?;
        Ok((rows, total))
    }

    pub async fn webhook_delivery(
        &self,
        endpoint_id: &str,
        event_id: &str,
    ) -> StoreResult<Option<WebhookDeliveryRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {DELIVERY_COLUMNS}, d.last_response FROM webhook_deliveries d \
             JOIN webhook_events ev ON ev.id = d.event_id \
             WHERE d.endpoint_id = $1 AND d.event_id = $2"
        ))
        .bind(endpoint_id)
        .bind(event_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The attempts at a delivery, in order.
    pub async fn webhook_attempts(
        &self,
        endpoint_id: &str,
        event_id: &str,
    ) -> StoreResult<Vec<WebhookAttemptRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts \
             WHERE endpoint_id = $1 AND event_id = $2 ORDER BY attempt"
        ))
        .bind(endpoint_id)
        .bind(event_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Makes a delivery due at `now` again: a finished one becomes a resend (one attempt,
    /// no retries). False when there is no such delivery, or an attempt is under way.
    pub async fn resend_webhook_delivery(
        tx: &mut Tx,
        endpoint_id: &str,
        event_id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE webhook_deliveries SET \
             manual = CASE WHEN status = 'PENDING' THEN manual ELSE 1 END, \
             status = 'PENDING', next_attempt_at = $1 \
             WHERE endpoint_id = $2 AND event_id = $3 AND claim IS NULL",
        )
        .bind(now)
        .bind(endpoint_id)
        .bind(event_id)
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }

    // --- the delivery workers --------------------------------------------------------

    /// The enabled endpoints with a delivery due at `now`. Read from the due deliveries
    /// (an index of them by time), so that it costs next to nothing when none is due,
    /// however many endpoints there are: the worker looks after every change that wrote
    /// a delivery, and after every registration.
    pub async fn endpoints_with_due_deliveries(
        &self,
        now: i64,
    ) -> StoreResult<Vec<WebhookEndpointRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE enabled = 1 AND id IN \
             (SELECT endpoint_id FROM webhook_deliveries \
              WHERE status = 'PENDING' AND next_attempt_at <= $1)"
        ))
        .bind(now)
        .fetch_all(self.pool())
        .await?)
    }

    /// Deliveries not yet made (pending), of every merchant.
    pub async fn count_pending_webhook_deliveries(&self) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM webhook_deliveries WHERE status = 'PENDING'")
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Claims up to `limit` of the endpoint's due deliveries for one attempt each, under
    /// `claim`, until `lease_until` (when an instance that stopped mid-attempt has its
    /// deliveries taken up again). On PostgreSQL rows another instance is claiming are
    /// skipped, not waited for: no two instances claim one delivery.
    pub async fn claim_webhook_deliveries(
        &self,
        endpoint_id: &str,
        now: i64,
        lease_until: i64,
        claim: &str,
        limit: i64,
    ) -> StoreResult<Vec<ClaimedDelivery>> {
        // The due rows are picked first, in a CTE of their own, and then updated by key.
        // Picked inside `event_id IN (...)`, PostgreSQL may run the pick again for every
        // pending row and claim them all, past the limit.
        let mut sql = SqlBuilder::new(
            "WITH due AS (SELECT endpoint_id, event_id FROM webhook_deliveries \
             WHERE endpoint_id = ",
        );
        sql.bind_text(endpoint_id)
            .push(" AND status = 'PENDING' AND next_attempt_at <= ")
            .bind_int(now)
            .push(" ORDER BY next_attempt_at LIMIT ")
            .bind_int(limit);
        if self.backend == Backend::Postgres {
            sql.push(" FOR UPDATE SKIP LOCKED");
        }
        sql.push(") UPDATE webhook_deliveries SET next_attempt_at = ")
            .bind_int(lease_until)
            .push(", claim = ")
            .bind_text(claim)
            .push(
                " FROM due WHERE webhook_deliveries.endpoint_id = due.endpoint_id \
                 AND webhook_deliveries.event_id = due.event_id \
                 RETURNING webhook_deliveries.event_id, attempts, manual",
            );
        let claimed: Vec<(String, i64, i64)> = sql.query_as()?.fetch_all(self.writer()).await?;
        if claimed.is_empty() {
            return Ok(Vec::new());
        }
        let mut events = SqlBuilder::new("SELECT id, type, body FROM webhook_events WHERE id IN (");
        events
            .bind_list(claimed.iter().map(|(id, _, _)| id.clone()))
            .push(")");
        let mut bodies: HashMap<String, (String, String)> = events
            .query_as::<(String, String, String)>()?
            .fetch_all(self.pool())
            .await?
            .into_iter()
            .map(|(id, kind, body)| (id, (kind, body)))
            .collect();
        Ok(claimed
            .into_iter()
            .filter_map(|(event_id, attempts, manual)| {
                let (event_type, body) = bodies.remove(&event_id)?;
                Some(ClaimedDelivery {
                    event_id,
                    event_type,
                    body,
                    attempts,
                    manual: manual != 0,
                })
            })
            .collect())
    }

    /// Records an attempt and the delivery's next state, if the claim still holds (the
    /// endpoint may have been deleted meanwhile). Returns the attempt's number, if
    /// recorded.
    pub async fn record_webhook_attempt(
        tx: &mut Tx,
        record: &AttemptRecord<'_>,
    ) -> StoreResult<Option<i64>> {
        let attempt: Option<i64> = sqlx::query_scalar(
            "UPDATE webhook_deliveries SET status = $1, next_attempt_at = $2, claim = NULL, \
             attempts = attempts + 1, last_attempt_at = $3, last_status_code = $4, \
             last_latency_ms = $5, last_error = $6, last_response = $7 \
             WHERE endpoint_id = $8 AND event_id = $9 AND claim = $10 RETURNING attempts",
        )
        .bind(record.status)
        .bind(record.next_attempt_at)
        .bind(record.attempted_at)
        .bind(record.status_code)
        .bind(record.latency_ms)
        .bind(record.error)
        .bind(record.response)
        .bind(record.endpoint_id)
        .bind(record.event_id)
        .bind(record.claim)
        .fetch_optional(&mut **tx)
        .await?;
        let Some(attempt) = attempt else {
            return Ok(None);
        };
        sqlx::query(
            "INSERT INTO webhook_attempts (endpoint_id, event_id, attempt, attempted_at, \
             status_code, latency_ms, error) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(record.endpoint_id)
        .bind(record.event_id)
        .bind(attempt)
        .bind(record.attempted_at)
        .bind(record.status_code)
        .bind(record.latency_ms)
        .bind(record.error)
        .execute(&mut **tx)
        .await?;
        // The endpoint's row is written only when it starts or stops failing.
        let endpoint_state = if record.succeeded {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = NULL \
                 WHERE id = $1 AND failing_since IS NOT NULL",
            )
            .bind(record.endpoint_id)
        } else {
            sqlx::query(
                "UPDATE webhook_endpoints SET failing_since = $2 \
                 WHERE id = $1 AND failing_since IS NULL",
            )
            .bind(record.endpoint_id)
            .bind(record.attempted_at)
        };
        endpoint_state.execute(&mut **tx).await?;
        Ok(Some(attempt))
    }

    /// Disables the endpoint if it is enabled and has failed since at least
    /// `failing_before`; returns its merchant when it did.
    pub async fn disable_failing_webhook_endpoint(
        tx: &mut Tx,
        id: &str,
        failing_before: i64,
        reason: &str,
        now: i64,
    ) -> StoreResult<Option<String>> {
        Ok(sqlx::query_scalar(
            "UPDATE webhook_endpoints SET enabled = 0, disabled_at = $1, disabled_reason = $2, \
             updated_at = $1 WHERE id = $3 AND enabled = 1 AND failing_since <= $4 \
             RETURNING merchant_id",
        )
        .bind(now)
        .bind(reason)
        .bind(id)
        .bind(failing_before)
        .fetch_optional(&mut **tx)
        .await?)
    }
}
