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
