//! Webhook endpoints: the URLs a merchant's events go to, their signing secrets, test
//! events, and the log of deliveries with "resend". Admins in the portal and API keys
//! manage them (`Permission::ManageWebhooks`); every change is audited.

use std::time::Duration;

use serde_json::json;

use crate::domain::paging::{Page, PageRequest};
use crate::domain::text::{MAX_ID_LENGTH, optional_text};
use crate::domain::webhook::{
    self, MAX_DESCRIPTION_LENGTH, Subscription, TargetPolicy, WebhookEventType,
};
use crate::domain::{FieldError, Permission};
use crate::model::{
    CreatedWebhookEndpoint, TestEventData, WebhookAttempt, WebhookDelivery, WebhookDeliveryStatus,
    WebhookEndpoint, WebhookSecret,
};
use crate::store::{
    Store, WebhookAttemptRow, WebhookDeliveryRow, WebhookEndpointRow, WebhookEndpointUpdate,
};

use super::security::{self, WebhookEndpointEvent};
use super::webhook_delivery::resolve_target;
use super::webhook_events::new_event;
use super::{Actor, ServiceError, ServiceResult, Services, audit, new_id, rfc3339};

/// The most endpoints a merchant may have.
pub const MAX_WEBHOOK_ENDPOINTS: i64 = 20;
/// The most of a delivery's last answer a list of deliveries shows.
pub const LISTED_RESPONSE_BYTES: usize = 2 * 1024;
/// After a rotation the previous secret signs alongside the new one this long.
pub const PREVIOUS_SECRET_VALID_MS: i64 = 24 * 3600 * 1000;

/// How webhooks are delivered by this deployment.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// Let endpoints be private addresses, and `http://` to loopback
    /// (`--allow-private-webhook-targets`): for tests and local development only.
    pub allow_private_targets: bool,
    /// Whether this instance runs a delivery worker (every `serve` does).
    pub deliver: bool,
    /// How often the worker looks for due deliveries it was not told about (those of
    /// other instances, retries coming due, expired codes).
    pub poll_interval: Duration,
    /// An attempt that has no answer in this time has failed.
    pub attempt_timeout: Duration,
    /// Attempts under way at once to one endpoint, so a slow one holds back no other.
    pub per_endpoint: usize,
    /// Attempts under way at once in all.
    pub max_in_flight: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            allow_private_targets: false,
            deliver: true,
            poll_interval: Duration::from_secs(1),
            attempt_timeout: Duration::from_secs(10),
            per_endpoint: 16,
            max_in_flight: 128,
        }
    }
}

impl WebhookSettings {
    pub fn policy(&self) -> TargetPolicy {
        TargetPolicy {
            allow_private: self.allow_private_targets,
        }
    }
}

/// A new endpoint, as a client asks for it.
#[derive(Debug, Clone, Default)]
pub struct NewWebhookEndpoint {
    pub url: String,
    pub description: Option<String>,
    /// `None` or `["*"]`: every event.
    pub events: Option<Vec<String>>,
    /// `None`: enabled.
    pub enabled: Option<bool>,
}

/// Changes to an endpoint; what is `None` stays.
#[derive(Debug, Clone, Default)]
pub struct WebhookEndpointPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub events: Option<Vec<String>>,
    pub enabled: Option<bool>,
}

#[derive(Debug, Clone, Default)]
pub struct WebhookDeliveryQuery {
    pub status: Option<WebhookDeliveryStatus>,
    pub page: PageRequest,
}

impl Services {
    /// A new endpoint with a new secret, which the answer holds (shown this once by the
    /// API; the portal can show it again).
    #[tracing::instrument(skip_all)]
    pub async fn create_webhook_endpoint(
        &self,
        actor: &Actor,
        input: NewWebhookEndpoint,
    ) -> ServiceResult<CreatedWebhookEndpoint> {
        actor.require(Permission::ManageWebhooks)?;
        let mut errors = Vec::new();
        let description = optional_text(
            "description",
            input.description.as_deref(),
            MAX_DESCRIPTION_LENGTH,
        )
        .map_err(|e| errors.push(e))
        .ok()
        .flatten()
        .unwrap_or_default();
        let events = Subscription::parse("events", input.events.as_deref())
            .map_err(|e| errors.push(e))
            .ok();
        let url = match self.check_webhook_url(&input.url).await {
            Ok(url) => Some(url),
            Err(error) => {
                errors.push(error);
                None
            }
        };
        let (Some(url), Some(events), true) = (url, events, errors.is_empty()) else {
            return Err(ServiceError::Validation(errors));
        };
        self.require_merchant(actor).await?;
        let now = self.now();
        let enabled = input.enabled.unwrap_or(true);
        let row = WebhookEndpointRow {
            id: new_id(),
            merchant_id: actor.merchant_id.clone(),
            url,
            description,
            events: events.to_stored(),
            enabled: i64::from(enabled),
            secret: webhook::new_secret(),
            previous_secret: None,
            previous_secret_expires_at: None,
            failing_since: None,
            disabled_at: (!enabled).then_some(now),
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        if !self
            .store
            .insert_webhook_endpoint(&mut tx, &row, MAX_WEBHOOK_ENDPOINTS)
            .await?
        {
            return Err(ServiceError::Conflict(format!(
                "a merchant has at most {MAX_WEBHOOK_ENDPOINTS} webhook endpoints; delete one first"
            )));
        }
        audit(
            &mut tx,
            actor,
            now,
            "webhook_endpoint.created",
            ("webhook_endpoint", &row.id),
            json!({"url": row.url, "events": events.names(), "enabled": enabled}),
        )
        .await?;
        tx.commit().await?;
        security::webhook_endpoint(actor, WebhookEndpointEvent::Created, &row.id, &row.url);
        let secret = row.secret.clone();
        Ok(CreatedWebhookEndpoint {
            endpoint: self.endpoint_view(row, None),
            secret,
        })
    }

    /// The merchant's endpoints, oldest first, each with its latest attempt.
    pub async fn list_webhook_endpoints(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> ServiceResult<Page<WebhookEndpoint>> {
        actor.require(Permission::ManageWebhooks)?;
        let (rows, total) = self
            .store
            .webhook_endpoints(&actor.merchant_id, page.page_size, page.offset())
            .await?;
        let ids: Vec<String> = rows.iter().map(|row| row.id.clone()).collect();
        let mut latest = self.store.latest_webhook_attempts(&ids).await?;
        let content = rows
            .into_iter()
            .map(|row| {
                let last = latest.remove(&row.id);
                self.endpoint_view(row, last)
            })
            .collect();
        Ok(Page::new(content, total, page))
    }

    pub async fn webhook_endpoint(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<WebhookEndpoint> {
        actor.require(Permission::ManageWebhooks)?;
        let row = self.visible_endpoint(actor, id).await?;
        let last = self
            .store
            .latest_webhook_attempts(std::slice::from_ref(&row.id))
            .await?
            .remove(&row.id);
        Ok(self.endpoint_view(row, last))
    }

    /// Changes the URL, description, events or whether the endpoint is enabled. Enabling
    /// a disabled endpoint sends what was left pending when it was disabled.
    #[tracing::instrument(skip_all)]
    pub async fn update_webhook_endpoint(
        &self,
        actor: &Actor,
        id: &str,
        patch: WebhookEndpointPatch,
    ) -> ServiceResult<WebhookEndpoint> {
        actor.require(Permission::ManageWebhooks)?;
        let current = self.visible_endpoint(actor, id).await?;
        let mut errors = Vec::new();
        let mut update = WebhookEndpointUpdate {
            enabled: patch.enabled,
            ..Default::default()
        };
        if let Some(description) = &patch.description {
            match optional_text("description", Some(description), MAX_DESCRIPTION_LENGTH) {
                Ok(text) => update.description = Some(text.unwrap_or_default()),
                Err(error) => errors.push(error),
            }
        }
        if let Some(events) = &patch.events {
            match Subscription::parse("events", Some(events)) {
                Ok(subscription) => update.events = Some(subscription.to_stored()),
                Err(error) => errors.push(error),
            }
        }
        if let Some(url) = &patch.url {
            match self.check_webhook_url(url).await {
                Ok(url) => update.url = Some(url),
                Err(error) => errors.push(error),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let mut changes = serde_json::Map::new();
        if let Some(url) = update.url.as_ref().filter(|url| **url != current.url) {
            changes.insert("url".into(), json!({"from": current.url, "to": url}));
        }
        if let Some(description) = update
            .description
            .as_ref()
            .filter(|d| **d != current.description)
        {
            changes.insert(
                "description".into(),
                json!({"from": current.description, "to": description}),
            );
        }
        if let Some(events) = update.events.as_ref().filter(|e| **e != current.events) {
            changes.insert(
                "events".into(),
                json!({
                    "from": Subscription::from_stored(&current.events).names(),
                    "to": Subscription::from_stored(events).names(),
                }),
            );
        }
        if let Some(enabled) = update.enabled.filter(|e| *e != current.is_enabled()) {
            changes.insert(
                "enabled".into(),
                json!({"from": current.is_enabled(), "to": enabled}),
            );
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::update_webhook_endpoint(&mut tx, &actor.merchant_id, id, &update, now).await? {
            return Err(ServiceError::NotFound("webhook endpoint"));
        }
        audit(
            &mut tx,
            actor,
            now,
            "webhook_endpoint.updated",
            ("webhook_endpoint", id),
            serde_json::Value::Object(changes),
        )
        .await?;
        tx.commit().await?;
        if update.enabled == Some(true) {
            self.wake_webhook_delivery();
        }
        self.webhook_endpoint(actor, id).await
    }

    /// Removes the endpoint and its delivery log; nothing more is sent to it.
    #[tracing::instrument(skip_all)]
    pub async fn delete_webhook_endpoint(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        actor.require(Permission::ManageWebhooks)?;
        let current = self.visible_endpoint(actor, id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::delete_webhook_endpoint(&mut tx, &actor.merchant_id, id).await? {
            return Err(ServiceError::NotFound("webhook endpoint"));
        }
        audit(
            &mut tx,
            actor,
            now,
            "webhook_endpoint.deleted",
            ("webhook_endpoint", id),
            json!({"url": current.url}),
        )
        .await?;
        tx.commit().await?;
        security::webhook_endpoint(actor, WebhookEndpointEvent::Deleted, id, &current.url);
        Ok(())
    }

    /// A new secret signs from now on; the previous one signs alongside it for 24 hours,
    /// so receivers can switch without missing a delivery.
    #[tracing::instrument(skip_all)]
    pub async fn rotate_webhook_secret(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<WebhookSecret> {
        actor.require(Permission::ManageWebhooks)?;
        let current = self.visible_endpoint(actor, id).await?;
        let now = self.now();
        let secret = webhook::new_secret();
        let previous_expires_at = now + PREVIOUS_SECRET_VALID_MS;
        let mut tx = self.store.begin().await?;
        if !Store::rotate_webhook_secret(
            &mut tx,
            &actor.merchant_id,
            id,
            &secret,
            previous_expires_at,
            now,
        )
        .await?
        {
            return Err(ServiceError::NotFound("webhook endpoint"));
        }
        audit(
            &mut tx,
            actor,
            now,
            "webhook_endpoint.secret_rotated",
            ("webhook_endpoint", id),
            json!({"previous_secret_expires_at": rfc3339(previous_expires_at)}),
        )
        .await?;
        tx.commit().await?;
        security::webhook_endpoint(actor, WebhookEndpointEvent::SecretRotated, id, &current.url);
        Ok(WebhookSecret {
            secret,
            previous_secret_expires_at: Some(rfc3339(previous_expires_at)),
        })
    }

    /// The endpoint's secret, for the portal's "reveal"; each look is audited.
    pub async fn reveal_webhook_secret(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<WebhookSecret> {
        actor.require(Permission::ManageWebhooks)?;
        let row = self.visible_endpoint(actor, id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            actor,
            now,
            "webhook_endpoint.secret_revealed",
            ("webhook_endpoint", id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        security::webhook_endpoint(actor, WebhookEndpointEvent::SecretRevealed, id, &row.url);
        Ok(WebhookSecret {
            previous_secret_expires_at: row
                .previous_secret_expires_at
                .filter(|until| *until > now)
                .map(rfc3339),
            secret: row.secret,
        })
    }

    /// Sends `ipp.webhook.test` to this endpoint alone; returns its delivery (pending).
    #[tracing::instrument(skip_all)]
    pub async fn send_test_webhook(
        &self,
        actor: &Actor,
        id: &str,
    ) -> ServiceResult<WebhookDelivery> {
        actor.require(Permission::ManageWebhooks)?;
        let endpoint = self.visible_endpoint(actor, id).await?;
        if !endpoint.is_enabled() {
            return Err(ServiceError::Conflict(
                "the endpoint is disabled; enable it to send it events".into(),
            ));
        }
        let now = self.now();
        let event = new_event(
            &actor.merchant_id,
            WebhookEventType::Test,
            now,
            TestEventData {
                webhook_endpoint_id: endpoint.id.clone(),
                message: "A test event from ipp-portal: this endpoint receives webhooks.".into(),
            },
        );
        let mut tx = self.store.begin().await?;
        Store::insert_webhook_event_for(&mut tx, &event, &endpoint.id).await?;
        audit(
            &mut tx,
            actor,
            now,
            "webhook_endpoint.tested",
            ("webhook_endpoint", id),
            json!({"event_id": event.id}),
        )
        .await?;
        tx.commit().await?;
        self.wake_webhook_delivery();
        let queued = WebhookDeliveryRow {
            endpoint_id: endpoint.id,
            event_id: event.id,
            event_type: event.event_type.as_str().to_owned(),
            body: event.body,
            status: WebhookDeliveryStatus::Pending.as_str().to_owned(),
            created_at: now,
            next_attempt_at: Some(now),
            claim: None,
            attempts: 0,
            manual: 0,
            last_attempt_at: None,
            last_status_code: None,
            last_latency_ms: None,
            last_error: None,
            last_response: None,
        };
        Ok(delivery_view(queued, Some(Vec::new())))
    }

    /// A page of the endpoint's deliveries, newest first: without their attempts, and
    /// with the first [`LISTED_RESPONSE_BYTES`] of each last answer, so a page stays small.
    pub async fn list_webhook_deliveries(
        &self,
        actor: &Actor,
        endpoint_id: &str,
        query: WebhookDeliveryQuery,
    ) -> ServiceResult<Page<WebhookDelivery>> {
        actor.require(Permission::ManageWebhooks)?;
        let endpoint = self.visible_endpoint(actor, endpoint_id).await?;
        let (rows, total) = self
            .store
            .webhook_deliveries(
                &endpoint.id,
                query.status.map(WebhookDeliveryStatus::as_str),
                LISTED_RESPONSE_BYTES as i64,
                query.page.page_size,
                query.page.offset(),
            )
            .await?;
        let content = rows.into_iter().map(listed_delivery_view).collect();
        Ok(Page::new(content, total, query.page))
    }

    /// One delivery, with every attempt.
    pub async fn webhook_delivery(
        &self,
        actor: &Actor,
        endpoint_id: &str,
        event_id: &str,
    ) -> ServiceResult<WebhookDelivery> {
        actor.require(Permission::ManageWebhooks)?;
        let endpoint = self.visible_endpoint(actor, endpoint_id).await?;
        let row = self.visible_delivery(&endpoint, event_id).await?;
        let log = self.attempt_log(&row).await?;
        Ok(delivery_view(row, Some(log)))
    }

    /// Sends the delivery again now, with the same `webhook-id` and body: one attempt
    /// for a finished delivery, the next retry brought forward for a pending one.
    #[tracing::instrument(skip_all)]
    pub async fn resend_webhook_delivery(
        &self,
        actor: &Actor,
        endpoint_id: &str,
        event_id: &str,
    ) -> ServiceResult<WebhookDelivery> {
        actor.require(Permission::ManageWebhooks)?;
        let endpoint = self.visible_endpoint(actor, endpoint_id).await?;
        if !endpoint.is_enabled() {
            return Err(ServiceError::Conflict(
                "the endpoint is disabled; enable it to send it events".into(),
            ));
        }
        let row = self.visible_delivery(&endpoint, event_id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::resend_webhook_delivery(&mut tx, &endpoint.id, event_id, now).await? {
            return Err(ServiceError::Conflict(
                "an attempt at this delivery is under way; try again in a moment".into(),
            ));
        }
        audit(
            &mut tx,
            actor,
            now,
            "webhook_delivery.resent",
            ("webhook_endpoint", endpoint_id),
            json!({"event_id": event_id}),
        )
        .await?;
        tx.commit().await?;
        self.wake_webhook_delivery();
        let log = self.attempt_log(&row).await?;
        let resent = WebhookDeliveryRow {
            status: WebhookDeliveryStatus::Pending.as_str().to_owned(),
            next_attempt_at: Some(now),
            ..row
        };
        Ok(delivery_view(resent, Some(log)))
    }

    async fn visible_delivery(
        &self,
        endpoint: &WebhookEndpointRow,
        event_id: &str,
    ) -> ServiceResult<WebhookDeliveryRow> {
        self.store
            .webhook_delivery(&endpoint.id, event_id)
            .await?
            .ok_or(ServiceError::NotFound("webhook delivery"))
    }

    /// Every attempt at the delivery, in order.
    async fn attempt_log(&self, row: &WebhookDeliveryRow) -> ServiceResult<Vec<WebhookAttemptRow>> {
        Ok(self
            .store
            .webhook_attempts(&row.endpoint_id, &row.event_id)
            .await?)
    }

    async fn visible_endpoint(&self, actor: &Actor, id: &str) -> ServiceResult<WebhookEndpointRow> {
        if id.len() > MAX_ID_LENGTH {
            return Err(ServiceError::NotFound("webhook endpoint"));
        }
        self.store
            .webhook_endpoint(&actor.merchant_id, id)
            .await?
            .ok_or(ServiceError::NotFound("webhook endpoint"))
    }

    /// The URL as it will be stored, if the rules allow it: checked as written, then
    /// (unless private targets are allowed) every address its host resolves to.
    async fn check_webhook_url(&self, raw: &str) -> Result<String, FieldError> {
        let policy = self.settings.webhooks.policy();
        let url = webhook::check_url("url", raw, policy)?;
        if !policy.allow_private {
            resolve_target(&url, policy)
                .await
                .map_err(|message| FieldError::new("url", message))?;
        }
        Ok(url.to_string())
    }

    fn endpoint_view(
        &self,
        row: WebhookEndpointRow,
        last: Option<WebhookAttemptRow>,
    ) -> WebhookEndpoint {
        let now = self.now();
        WebhookEndpoint {
            enabled: row.is_enabled(),
            events: Subscription::from_stored(&row.events).names(),
            id: row.id,
            url: row.url,
            description: row.description,
            disabled_at: row.disabled_at.filter(|_| row.enabled == 0).map(rfc3339),
            disabled_reason: row.disabled_reason,
            created_at: rfc3339(row.created_at),
            updated_at: rfc3339(row.updated_at),
            previous_secret_expires_at: row
                .previous_secret_expires_at
                .filter(|until| *until > now)
                .map(rfc3339),
            last_attempt: last.map(attempt_view),
        }
    }
}

fn attempt_view(row: WebhookAttemptRow) -> WebhookAttempt {
    WebhookAttempt {
        succeeded: webhook::succeeded(row.status_code),
        event_id: row.event_id,
        attempt: row.attempt,
        attempted_at: rfc3339(row.attempted_at),
        status_code: row.status_code,
        latency_ms: row.latency_ms,
        error: row.error,
    }
}

/// A delivery as a list shows it: no attempt log, the answer's excerpt cut to
/// [`LISTED_RESPONSE_BYTES`] (the store reads no more than that many characters of it).
fn listed_delivery_view(mut row: WebhookDeliveryRow) -> WebhookDelivery {
    if let Some(response) = &mut row.last_response
        && response.len() > LISTED_RESPONSE_BYTES
    {
        let mut end = LISTED_RESPONSE_BYTES;
        while !response.is_char_boundary(end) {
            end -= 1;
        }
        response.truncate(end);
    }
    delivery_view(row, None)
}

fn delivery_view(row: WebhookDeliveryRow, log: Option<Vec<WebhookAttemptRow>>) -> WebhookDelivery {
    let status = WebhookDeliveryStatus::parse(&row.status).unwrap_or(WebhookDeliveryStatus::Failed);
    WebhookDelivery {
        event_id: row.event_id,
        event_type: row.event_type,
        endpoint_id: row.endpoint_id,
        status,
        attempts: row.attempts,
        created_at: rfc3339(row.created_at),
        next_attempt_at: row
            .next_attempt_at
            .filter(|_| status == WebhookDeliveryStatus::Pending)
            .map(rfc3339),
        last_attempt_at: row.last_attempt_at.map(rfc3339),
        last_status_code: row.last_status_code,
        last_latency_ms: row.last_latency_ms,
        last_error: row.last_error,
        request_body: row.body,
        response_excerpt: row.last_response,
        attempt_log: log.map(|log| log.into_iter().map(attempt_view).collect()),
    }
}
