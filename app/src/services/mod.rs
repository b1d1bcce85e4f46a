//! The product's operations, called by the Device API handlers, the portal's server
//! functions and the command line alike. Each checks its input, decides by the domain
//! rules, and changes the store in one transaction together with its audit event.

mod accounts;
mod attempts;
mod audit;
mod devices;
mod enrollments;
mod locations;
mod registration;
mod staff;

use std::sync::Arc;

use crate::clock::{Clock, format_rfc3339};
use crate::domain::FieldError;
use crate::store::{NewAuditEvent, Store, StoreError, Tx};

pub use accounts::{CreatedApiKey, CreatedUser, NewUserInput};
pub use devices::{DeviceListQuery, DevicePage, DevicePatch, DeviceReplacement};
pub use enrollments::{CreateEnrollment, EnrollmentListQuery};
pub use registration::{RegisterDevice, RegistrationLimits};
pub use staff::{LoginError, SessionGrant};

/// Settings the services need from the deployment.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where people reach the portal (`https://portal.example.com`); QR codes link here.
    pub public_url: String,
    pub registration_limits: RegistrationLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            public_url: "http://127.0.0.1:3000".into(),
            registration_limits: RegistrationLimits::default(),
        }
    }
}

#[derive(Clone)]
pub struct Services {
    pub store: Store,
    pub clock: Arc<dyn Clock>,
    pub settings: Arc<Settings>,
}

impl Services {
    pub fn new(store: Store, clock: Arc<dyn Clock>, settings: Settings) -> Self {
        Self {
            store,
            clock,
            settings: Arc::new(settings),
        }
    }

    pub fn now(&self) -> i64 {
        self.clock.now_ms()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    ApiKey,
    Device,
    /// The command line and other operator tools.
    System,
}

impl ActorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActorKind::User => "user",
            ActorKind::ApiKey => "api_key",
            ActorKind::Device => "device",
            ActorKind::System => "system",
        }
    }
}

/// Who is acting, for which merchant, and within which locations.
#[derive(Debug, Clone)]
pub struct Actor {
    pub merchant_id: String,
    pub kind: ActorKind,
    pub id: Option<String>,
    pub label: String,
    /// `Some` limits the actor to these locations (a store manager); `None` sees all.
    pub allowed_locations: Option<Vec<String>>,
}

impl Actor {
    pub fn system(merchant_id: &str) -> Self {
        Self {
            merchant_id: merchant_id.to_owned(),
            kind: ActorKind::System,
            id: None,
            label: "command line".into(),
            allowed_locations: None,
        }
    }

    pub fn may_use_location(&self, location_id: &str) -> bool {
        self.allowed_locations
            .as_ref()
            .is_none_or(|allowed| allowed.iter().any(|id| id == location_id))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// No such object for this merchant: also what another merchant's object looks like.
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Gone(String),
    #[error("too many failed attempts; try again in {retry_after_seconds} s")]
    RateLimited { retry_after_seconds: i64 },
    #[error("missing or invalid credentials")]
    Unauthorized,
    #[error("not allowed")]
    Forbidden,
    #[error("internal error")]
    Internal(#[from] StoreError),
}

impl ServiceError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Validation(vec![FieldError::new(field, message)])
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        ServiceError::Internal(StoreError::Database(error))
    }
}

impl From<FieldError> for ServiceError {
    fn from(error: FieldError) -> Self {
        ServiceError::Validation(vec![error])
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

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
