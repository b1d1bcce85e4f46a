//! The product's operations, called by the Device API handlers, the portal's server
//! functions and the command line alike. Each checks its input, decides by the domain
//! rules, and changes the store in one transaction together with its audit event.

mod actor;
mod api_keys;
mod attempts;
mod audit;
mod auth;
mod devices;
mod enrollments;
mod error;
mod locations;
mod merchants;
mod overview;
mod passkeys;
mod registration;
mod second_factors;
mod security;
mod users;
mod webhook_delivery;
mod webhook_events;
mod webhooks;

use std::sync::Arc;

use crate::clock::{Clock, format_rfc3339};
use crate::store::{ConnectionCounts, NewAuditEvent, SessionStorage, Store, StoreResult, Tx};

pub use actor::{Actor, ActorKind};
pub use api_keys::CreatedApiKey;
pub use audit::AuditQuery;
pub use auth::{
    ACCOUNT_DISABLED, BAD_API_CREDENTIALS, LOGIN_FAILURES_PER_ACCOUNT, LOGIN_FAILURES_PER_ADDRESS,
    LOGIN_WINDOW_SECONDS, PASSWORD_CHANGE_REQUIRED, SECOND_FACTOR_REQUIRED, SESSION_ENDED,
    SessionGrant, SessionLifetimes, WRONG_CREDENTIALS,
};
pub use devices::{DeviceListQuery, DevicePage, DevicePatch, DeviceReplacement};
pub use enrollments::{CreateEnrollment, EnrollmentListQuery};
pub use error::{ErrorKind, ServiceError, ServiceResult, wait_text};
pub use merchants::CreatedMerchant;
pub use overview::{EXPIRING_WITHIN_SECONDS, OVERVIEW_COUNT_CAP, QUIET_AFTER_DAYS};
pub use passkeys::{Ceremony, PASSKEY_REFUSED, PasskeyParty, PendingPasskey, no_ceremony};
pub use registration::{RegisterDevice, RegistrationLimits};
pub use second_factors::{
    SECOND_STEP_EXPIRED, SECOND_STEP_MS, SecondFactorsReset, SecondStepProof, WRONG_CODE,
};
pub use users::{CreatedUser, NewUserInput};
pub use webhook_delivery::{MAX_RESPONSE_BYTES, WebhookWorker};
pub use webhooks::{
    MAX_WEBHOOK_ENDPOINTS, NewWebhookEndpoint, PREVIOUS_SECRET_VALID_MS, WebhookDeliveryQuery,
    WebhookEndpointPatch, WebhookSettings,
};

/// Settings the services need from the deployment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people reach the portal (`https://portal.example.com`); QR codes link here.
    pub public_url: String,
    pub registration_limits: RegistrationLimits,
    /// How long a portal session lasts unused, and at most.
    pub sessions: SessionLifetimes,
    /// Where webhooks may go and how they are delivered.
    pub webhooks: WebhookSettings,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".into(),
            registration_limits: RegistrationLimits::default(),
            sessions: SessionLifetimes::default(),
            webhooks: WebhookSettings::default(),
        }
    }
}

/// The product's operations. Storage stays behind them: callers pass inputs and get the
/// product's shapes (`crate::model`), never rows.
#[derive(Clone)]
pub struct Services {
    store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
    /// Wakes this instance's webhook worker when a change has written an event.
    webhook_wake: Arc<tokio::sync::Notify>,
    /// The portal as a WebAuthn relying party (from `settings.public_url`).
    passkey_party: PasskeyParty,
}

impl Services {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Self {
            store,
            clock,
            passkey_party: PasskeyParty::new(&settings.public_url),
            settings: Arc::new(settings),
            webhook_wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Where the portal keeps its sessions: the same database.
    pub async fn session_storage(&self) -> StoreResult<SessionStorage> {
        self.store.session_storage().await
    }

    /// Loads devices straight into the store, for the benchmark only (see
    /// `Store::bulk_insert_devices`: no tokens, no audit events, no checks).
    #[cfg(feature = "bench")]
    pub async fn seed_devices(
        &self,
        devices: impl IntoIterator<Item = crate::store::DeviceRow>,
    ) -> StoreResult<u64> {
        self.store.bulk_insert_devices(devices).await
    }

    /// Whether this instance can serve: its database answers and its schema is current.
    pub async fn check_ready(&self) -> ServiceResult<()> {
        if self.store.is_current().await? {
            Ok(())
        } else {
            Err(ServiceError::internal(
                "the database schema is behind this build",
            ))
        }
    }

    /// The database connections this instance holds, in use and idle (for `/metrics`).
    pub fn connection_counts(&self) -> ConnectionCounts {
        self.store.connection_counts()
    }

    /// Closes the database connections (at shutdown, and between tests).
    pub async fn close(&self) {
        self.store.close().await;
    }
}

/// Writes the audit event of a change inside the change's own transaction.
pub(crate) async fn audit(
    tx: &mut Tx,
    actor: &Actor,
    now: i64,
    action: &str,
    target: (&str, &str),
    details: serde_json::Value,
) -> ServiceResult<()> {
    Store::insert_audit_event(tx, &audit_event(actor, now, action, target, details)).await?;
    Ok(())
}

/// The audit event of `actor` doing `action` to `target`, for a store write to log.
pub(crate) fn audit_event<'a>(
    actor: &'a Actor,
    now: i64,
    action: &'a str,
    target: (&'a str, &'a str),
    details: serde_json::Value,
) -> NewAuditEvent<'a> {
    NewAuditEvent {
        merchant_id: &actor.merchant_id,
        occurred_at: now,
        actor_kind: actor.kind.as_str(),
        actor_id: actor.id.as_deref(),
        actor_label: &actor.label,
        action,
        target_kind: target.0,
        target_id: target.1,
        details: details.to_string(),
    }
}

/// Time-ordered ids (UUID v7): new rows land at the end of the primary-key index.
pub(crate) fn new_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

pub(crate) fn rfc3339(ms: i64) -> String {
    format_rfc3339(ms)
}
