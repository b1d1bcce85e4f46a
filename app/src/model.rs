//! The shapes the Device API returns and the portal shows. Shared with the browser
//! bundle, so server functions can hand them to components as they are.

use serde::{Deserialize, Serialize};

use crate::domain::device::Platform;
use crate::domain::enrollment::EnrollmentStatus;
use crate::domain::metadata::Metadata;
use crate::domain::role::Role;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Enrollment {
    pub enrollment_id: String,
    /// `XXXX-XXXX`; only while the enrollment is PENDING.
    pub enrollment_code: Option<String>,
    pub status: EnrollmentStatus,
    /// RFC 3339.
    pub expires_at: String,
    pub created_at: String,
    pub location_id: String,
    pub metadata: Metadata,
    /// What the QR code encodes: a link on the portal carrying the code; only while PENDING.
    pub qr_payload: Option<String>,
    /// Who created the enrollment: a user's email or an API key's name.
    pub created_by: String,
    pub consumed_at: Option<String>,
    /// The device registered with the code, once CONSUMED.
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Device {
    pub id: String,
    pub hardware_id: String,
    pub merchant_id: String,
    pub location_id: String,
    pub name: String,
    pub platform: Platform,
    pub metadata: Metadata,
    pub enrollment_id: String,
    pub created_at: String,
    pub updated_at: String,
    pub last_seen_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceCredentials {
    /// Sent as `Authorization: Bearer <access_token>`; shown this once only.
    pub access_token: String,
    pub token_type: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Registration {
    pub device: Device,
    pub credentials: DeviceCredentials,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct Location {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub city: Option<String>,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditEvent {
    pub id: i64,
    pub occurred_at: String,
    pub actor: AuditActor,
    /// e.g. `enrollment.created`, `device.deregistered`.
    pub action: String,
    pub target_kind: String,
    pub target_id: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct AuditActor {
    /// `user`, `api_key`, `device` or `system`.
    pub kind: String,
    pub id: Option<String>,
    pub label: String,
}

/// The signed-in member of staff, as the portal shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StaffUser {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub merchant_id: String,
    pub merchant_name: String,
    /// The locations a store manager manages; empty for other roles.
    pub location_ids: Vec<String>,
    /// Signed in with a one-time password: must choose a password first.
    pub must_change_password: bool,
    /// The merchant requires a second factor and the user has none: must add one first.
    #[serde(default)]
    pub must_add_second_factor: bool,
    /// The time zone chosen on My account (`Europe/Stockholm`); `None`: the browser's.
    #[serde(default)]
    pub time_zone: Option<String>,
}

/// A user as the users page lists them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserSummary {
    pub id: String,
    pub email: String,
    pub role: Role,
    pub location_ids: Vec<String>,
    pub created_at: String,
    pub disabled: bool,
    /// An authenticator app or a passkey.
    #[serde(default)]
    pub has_second_factor: bool,
}

/// A user's second factors as My account shows them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SecondFactors {
    pub authenticator: Authenticator,
    pub passkeys: i64,
    /// Recovery codes not used yet.
    pub recovery_codes_left: i64,
    /// The merchant requires every user to have a second factor.
    pub required: bool,
}

/// The user's authenticator app.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Authenticator {
    None,
    /// Set up, waiting for a first code: the secret, for the QR code and to type in.
    Waiting {
        secret: String,
        otpauth_uri: String,
    },
    /// In use since then (RFC 3339).
    Confirmed {
        since: String,
    },
}

/// One of a user's passkeys, as My account lists it (never the key itself).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PasskeySummary {
    pub id: String,
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ApiKeySummary {
    pub id: String,
    pub name: String,
    /// The key's first characters, to tell keys apart.
    pub key_prefix: String,
    pub created_by: Option<String>,
    pub created_at: String,
    pub last_used_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// A URL a merchant's events are sent to, as the API returns it and the portal shows it.
/// The signing secret is not part of it: it is shown when the endpoint is created or its
/// secret rotated, and in the portal on request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    /// What the endpoint is for; may be empty.
    pub description: String,
    /// `["*"]` for every event (also those added later), or the event types sent.
    pub events: Vec<String>,
    pub enabled: bool,
    /// When the endpoint was disabled, by a person or for failing.
    pub disabled_at: Option<String>,
    /// Why the server disabled it (every attempt failing for 3 days); none when a person
    /// disabled it.
    pub disabled_reason: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    /// After a rotation: until when the previous secret signs alongside the new one.
    pub previous_secret_expires_at: Option<String>,
    /// The latest attempt at any delivery to this endpoint.
    pub last_attempt: Option<WebhookAttempt>,
}

/// A new endpoint, with its signing secret: the API shows the secret this once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct CreatedWebhookEndpoint {
    #[serde(flatten)]
    pub endpoint: WebhookEndpoint,
    /// `whsec_...`: verify deliveries with it (Standard Webhooks).
    pub secret: String,
}

/// An endpoint's signing secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookSecret {
    /// `whsec_...`, signing every delivery.
    pub secret: String,
    /// Until when the secret it replaced signs alongside it, after a rotation.
    pub previous_secret_expires_at: Option<String>,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum WebhookDeliveryStatus {
    /// Not yet delivered: due at `next_attempt_at`.
    Pending,
    /// An attempt was answered 2xx.
    Succeeded,
    /// Every attempt failed.
    Failed,
}

impl WebhookDeliveryStatus {
    pub const ALL: [WebhookDeliveryStatus; 3] = [
        WebhookDeliveryStatus::Pending,
        WebhookDeliveryStatus::Succeeded,
        WebhookDeliveryStatus::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookDeliveryStatus::Pending => "PENDING",
            WebhookDeliveryStatus::Succeeded => "SUCCEEDED",
            WebhookDeliveryStatus::Failed => "FAILED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(value))
    }
}

/// One event sent (or to be sent) to one endpoint; read on its own, with every attempt.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookDelivery {
    /// The event (`kevt_...`): the `webhook-id` of every attempt.
    pub event_id: String,
    pub event_type: String,
    pub endpoint_id: String,
    pub status: WebhookDeliveryStatus,
    /// Attempts made so far.
    pub attempts: i64,
    pub created_at: String,
    /// When the next attempt is due (while PENDING).
    pub next_attempt_at: Option<String>,
    pub last_attempt_at: Option<String>,
    /// The last answer's status; none when no answer came.
    pub last_status_code: Option<i64>,
    pub last_latency_ms: Option<i64>,
    /// Why the last attempt failed without an answer (a timeout, a refused address).
    pub last_error: Option<String>,
    /// The body every attempt sends.
    pub request_body: String,
    /// The start of the last answer's body: at most 64 KB when the delivery is read on
    /// its own, at most 2 KB in a list of deliveries.
    pub response_excerpt: Option<String>,
    /// Every attempt, in order: only when the delivery is read on its own (its GET, a
    /// test event, a resend), never in a list of deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(nullable = false))]
    pub attempt_log: Option<Vec<WebhookAttempt>>,
}

/// One attempt at a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct WebhookAttempt {
    pub event_id: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub attempted_at: String,
    /// Answered 2xx.
    pub succeeded: bool,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
}

/// The body of every webhook: `data` names its object by `enrollment_id` or `device_id`
/// and holds it as the API returns it (never with a pairing code or a token).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEvent<T> {
    /// `kevt_...`, also sent as `webhook-id`, the same on every retry.
    pub id: String,
    pub merchant_id: String,
    /// RFC 3339: when the change happened.
    pub timestamp: String,
    /// `ipp.enrollment.created`, ...
    #[serde(rename = "type")]
    pub event_type: String,
    pub data: T,
}

/// `data` of the `ipp.enrollment.*` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct EnrollmentEventData {
    pub enrollment_id: String,
    /// As `GET /ipp/v1/enrollments/{id}` returns it, without `enrollment_code` and
    /// `qr_payload` (always null here).
    pub enrollment: Enrollment,
}

/// `data` of the `ipp.device.*` events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct DeviceEventData {
    pub device_id: String,
    /// As `GET /ipp/v1/devices/{id}` returns it (for `ipp.device.deregistered`, as it was).
    pub device: Device,
    /// `ipp.device.updated` only: each changed field (`name`, `location_id`, `metadata`)
    /// with its value `from` before and `to` after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "ssr", schema(value_type = Option<Object>))]
    pub changes: Option<serde_json::Value>,
}

/// `data` of `ipp.webhook.test`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct TestEventData {
    pub webhook_endpoint_id: String,
    pub message: String,
}

/// The overview of a merchant, or of a store manager's locations: what needs attention
/// now. Counts stop past a cap (`count_cap`): a count above it reads "more than".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MerchantOverview {
    pub count_cap: i64,
    /// Codes that can still be used.
    pub live_codes: i64,
    /// Devices in all (past the cap: more than it).
    pub devices: i64,
    pub locations: i64,
    /// Live codes expiring within the hour, soonest first (at most 10), and how many.
    pub expiring_soon: Vec<Enrollment>,
    pub expiring_soon_count: i64,
    /// Devices registered since midnight in the viewer's zone, newest first (at most 5).
    pub registered_today: Vec<Device>,
    pub registered_today_count: i64,
    /// Devices not heard from for 7 days, those gone quiet last first (at most 5).
    pub quiet: Vec<Device>,
    pub quiet_count: i64,
    /// The latest audit events (10): the merchant's, or for a role that may not read the
    /// audit log, only the user's own (`own_activity`).
    pub activity: Vec<AuditEvent>,
    pub own_activity: bool,
}
