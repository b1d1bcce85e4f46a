//! The webhook events of the product's changes, made by the services that change things
//! and written in the change's own transaction (see `store::webhooks`). Each carries its
//! object as the API returns it, serialized from the same model, so the two cannot drift;
//! never a pairing code or a token.

use serde::Serialize;

use crate::domain::webhook::WebhookEventType;
use crate::model::{Device, DeviceEventData, Enrollment, EnrollmentEventData, WebhookEvent};
use crate::store::NewWebhookEvent;

use super::rfc3339;

/// Event ids: `kevt_` and a time-ordered UUID.
pub(crate) fn new_event_id() -> String {
    format!("kevt_{}", uuid::Uuid::now_v7().simple())
}

/// The event `kind` of `merchant_id` at `now`, its body serialized once: every attempt
/// sends these bytes.
pub(crate) fn new_event<T: Serialize>(
    merchant_id: &str,
    kind: WebhookEventType,
    now: i64,
    data: T,
) -> NewWebhookEvent {
    let id = new_event_id();
    let body = WebhookEvent {
        id: id.clone(),
        merchant_id: merchant_id.to_owned(),
        timestamp: rfc3339(now),
        event_type: kind.as_str().to_owned(),
        data,
    };
    NewWebhookEvent {
        id,
        merchant_id: merchant_id.to_owned(),
        event_type: kind,
        occurred_at: now,
        body: serde_json::to_string(&body).expect("event bodies serialize"),
    }
}

/// An `ipp.enrollment.*` event; the pairing code (and the QR link carrying it) left out.
pub(crate) fn enrollment_event(
    merchant_id: &str,
    kind: WebhookEventType,
    now: i64,
    enrollment: Enrollment,
) -> NewWebhookEvent {
    let enrollment = Enrollment {
        enrollment_code: None,
        qr_payload: None,
        ..enrollment
    };
    let data = EnrollmentEventData {
        enrollment_id: enrollment.enrollment_id.clone(),
        enrollment,
    };
    new_event(merchant_id, kind, now, data)
}

/// An `ipp.device.*` event; `changes` for `ipp.device.updated`.
pub(crate) fn device_event(
    kind: WebhookEventType,
    now: i64,
    device: Device,
    changes: Option<serde_json::Value>,
) -> NewWebhookEvent {
    let merchant_id = device.merchant_id.clone();
    let data = DeviceEventData {
        device_id: device.id.clone(),
        device,
        changes,
    };
    new_event(&merchant_id, kind, now, data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::enrollment::EnrollmentStatus;

    #[test]
    fn enrollment_events_never_carry_the_code() {
        let enrollment = Enrollment {
            enrollment_id: "e1".into(),
            enrollment_code: Some("BCDF-GHJK".into()),
            status: EnrollmentStatus::Pending,
            expires_at: "2026-01-01T00:00:00Z".into(),
            created_at: "2026-01-01T00:00:00Z".into(),
            location_id: "l1".into(),
            metadata: Default::default(),
            qr_payload: Some("https://portal.test/pair?code=BCDF-GHJK".into()),
            created_by: "tests".into(),
            consumed_at: None,
            device_id: None,
        };
        let event = enrollment_event("m1", WebhookEventType::EnrollmentCreated, 0, enrollment);
        assert!(event.id.starts_with("kevt_"));
        assert!(!event.body.contains("BCDF"), "{}", event.body);
        let body: serde_json::Value = serde_json::from_str(&event.body).unwrap();
        assert_eq!(body["id"], event.id.as_str());
        assert_eq!(body["merchant_id"], "m1");
        assert_eq!(body["type"], "ipp.enrollment.created");
        assert_eq!(body["timestamp"], "1970-01-01T00:00:00Z");
        assert_eq!(body["data"]["enrollment_id"], "e1");
        assert_eq!(body["data"]["enrollment"]["enrollment_id"], "e1");
        assert!(body["data"].get("id").is_none());
    }
}
