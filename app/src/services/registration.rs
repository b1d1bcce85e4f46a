//! Device registration: the POS app trades a pairing code for a device record and a
//! bearer token. Unauthenticated, so guarded by failure limits: every attempt counts as a
//! failure from before its code is looked up, and one that registers a device gives it
//! back in the registration's own write.

use serde_json::json;

use crate::domain::device::{self, Platform};
use crate::domain::enrollment::EnrollmentStatus;
use crate::domain::pairing_code::PairingCode;
use crate::domain::webhook::WebhookEventType;
use crate::model::{DeviceCredentials, Registration};
use crate::secrets::{self, DEVICE_TOKEN_PREFIX};
use crate::store::{DeviceRow, EnrollmentRow, NewDevice, StoreError};

use super::attempts::{AttemptLimit, REGISTER_KIND, address_key};
use super::devices::device_view;
use super::webhook_events::{device_event, enrollment_event};
use super::{
    Actor, ActorKind, ServiceError, ServiceResult, Services, audit_event, new_id, security,
};

#[derive(Debug, Clone)]
pub struct RegisterDevice {
    /// A code as typed (any case, spaces, hyphens) or the QR link carrying it.
    pub enrollment_code: String,
    pub hardware_id: String,
    pub platform: String,
    pub name: Option<String>,
}

/// How many failed pairing-code attempts are let through per window, per client address
/// and over all clients, before registration answers 429.
#[derive(Debug, Clone, Copy)]
pub struct RegistrationLimits {
    pub per_address: i64,
    pub global: i64,
    pub window_seconds: i64,
}

impl Default for RegistrationLimits {
    fn default() -> Self {
        Self {
            per_address: 10,
            global: 300,
            window_seconds: 15 * 60,
        }
    }
}

const GLOBAL_BUCKET: &str = "register:global";

impl Services {
    /// Registers a device with a pairing code; every attempt is counted by its outcome.
    #[tracing::instrument(skip_all)]
    pub async fn register_device(
        &self,
        client_address: &str,
        input: RegisterDevice,
    ) -> ServiceResult<Registration> {
        let registration = self.decide_registration(client_address, input).await;
        crate::metrics::registration(&registration);
        registration
    }

    async fn decide_registration(
        &self,
        client_address: &str,
        input: RegisterDevice,
    ) -> ServiceResult<Registration> {
        let mut errors = Vec::new();
        let hardware_id = device::validate_hardware_id(&input.hardware_id)
            .map_err(|e| errors.push(e))
            .ok();
        let platform = Platform::parse(&input.platform);
        if platform.is_none() {
            errors.push(crate::domain::FieldError::new(
                "platform",
                "platform is IOS or ANDROID",
            ));
        }
        let name = match input.name.as_deref() {
            Some(name) => device::validate_name("name", name)
                .map_err(|e| errors.push(e))
                .ok(),
            None => None,
        };
        let code = PairingCode::parse_code_or_link(&input.enrollment_code)
            .map_err(|e| {
                errors.push(crate::domain::FieldError::new(
                    "enrollment_code",
                    e.to_string(),
                ))
            })
            .ok();

        // A request that cannot name a code guesses nothing: refused before it counts.
        let (Some(hardware_id), Some(platform), Some(code), true) =
            (hardware_id, platform, code, errors.is_empty())
        else {
            return Err(ServiceError::Validation(errors));
        };

        let address_bucket = format!("register:addr:{}", address_key(client_address));
        let limits = self.settings.registration_limits;
        let attempt_limits = [
            AttemptLimit {
                bucket: &address_bucket,
                max: limits.per_address,
                per: "address",
            },
            AttemptLimit {
                bucket: GLOBAL_BUCKET,
                max: limits.global,
                per: "all clients",
            },
        ];
        // The code is looked up while the attempt is counted (a read beside a write, in
        // the time of the slower); what the lookup found is used only if the count allows.
        let (counted, enrollment) = tokio::join!(
            self.count_attempt(REGISTER_KIND, &attempt_limits, limits.window_seconds),
            self.store.enrollment_by_code(code.as_str()),
        );
        let attempt = match counted? {
            Ok(attempt) => attempt,
            Err(refusal) => {
                security::registration_locked_out(client_address, refusal.per);
                return Err(refusal.error("pairing attempts"));
            }
        };

        // From here on every refusal of the code (unknown, used, expired, cancelled)
        // stays counted as a failure.
        let now = self.now();
        let Some(enrollment) = enrollment? else {
            return Err(ServiceError::NotFound("enrollment code"));
        };
        match enrollment.status_at(now) {
            EnrollmentStatus::Pending => {}
            EnrollmentStatus::Consumed => {
                return Err(ServiceError::Gone(
                    "this pairing code was already used".into(),
                ));
            }
            EnrollmentStatus::Expired => {
                return Err(ServiceError::Gone(
                    "this pairing code has expired; ask for a new one".into(),
                ));
            }
            EnrollmentStatus::Cancelled => {
                return Err(ServiceError::Gone("this pairing code was cancelled".into()));
            }
        }

        let device_id = new_id();
        let name = name.unwrap_or_else(|| device::default_name(platform, &hardware_id));
        let token = secrets::new_secret(DEVICE_TOKEN_PREFIX);
        let actor = Actor {
            merchant_id: enrollment.merchant_id.clone(),
            kind: ActorKind::Device,
            id: Some(device_id.clone()),
            label: name.clone(),
            allowed_locations: None,
        };
        let details = json!({
            "enrollment_id": enrollment.id,
            "hardware_id": hardware_id,
            "platform": platform.as_str(),
        });
        // Everything the record holds is known here: the webhook events carry it, and
        // the answer needs no read after the write.
        let device = device_view(DeviceRow {
            id: device_id.clone(),
            merchant_id: enrollment.merchant_id.clone(),
            location_id: enrollment.location_id.clone(),
            enrollment_id: enrollment.id.clone(),
            hardware_id: hardware_id.clone(),
            name: name.clone(),
            platform: platform.as_str().to_owned(),
            created_at: now,
            updated_at: now,
            last_seen_at: None,
            metadata: enrollment.metadata.clone(),
        });
        let merchant_id = enrollment.merchant_id.clone();
        let enrollment_id = enrollment.id.clone();
        let consumed = self.enrollment_view(EnrollmentRow {
            status: EnrollmentStatus::Consumed.as_str().to_owned(),
            consumed_at: Some(now),
            device_id: Some(device_id.clone()),
            ..enrollment
        });
        let webhook_events = [
            enrollment_event(
                &merchant_id,
                WebhookEventType::EnrollmentConsumed,
                now,
                consumed,
            ),
            device_event(
                WebhookEventType::DeviceRegistered,
                now,
                device.clone(),
                None,
            ),
        ];
        let registered = self
            .store
            .register_device(
                &NewDevice {
                    id: &device_id,
                    enrollment_id: &enrollment_id,
                    hardware_id: &hardware_id,
                    name: &name,
                    platform: platform.as_str(),
                    token_hash: &token.hash,
                    now,
                    counted_attempt: Some(attempt.counted()),
                    webhook_events: &webhook_events,
                },
                &audit_event(
                    &actor,
                    now,
                    "device.registered",
                    ("device", &device_id),
                    details,
                ),
            )
            .await;
        match registered {
            // The code was consumed by a concurrent registration (or cancelled meanwhile):
            // of registrations racing for one code, exactly one gets here with `true`.
            Ok(false) => {
                return Err(ServiceError::Gone(
                    "this pairing code was already used".into(),
                ));
            }
            Err(StoreError::UniqueViolation) => {
                // Nothing was written: the code stays usable once the old registration is
                // removed. The code was right, so the attempt was no failed guess.
                self.give_back(attempt).await?;
                return Err(ServiceError::Conflict(
                    "a device with this hardware_id is already registered; deregister it first"
                        .into(),
                ));
            }
            other => other?,
        };

        // The batch reports the registration, not whether an endpoint receives its events:
        // the worker is woken all the same, and its look for due deliveries is cheap.
        self.wake_webhook_delivery();
        Ok(Registration {
            device,
            credentials: DeviceCredentials {
                access_token: token.plaintext,
                token_type: "Bearer".into(),
            },
        })
    }
}
