//! Creating, listing and cancelling enrollments.

use serde_json::json;
use sha2::{Digest, Sha256};

use crate::domain::enrollment::{self, EnrollmentStatus, Ttl};
use crate::domain::metadata::{self, Metadata};
use crate::domain::paging::{Page, PageCursor, PageRequest, cut_to_page};
use crate::domain::pairing_code::{self, PairingCode};
use crate::domain::text::plausible_id;
use crate::domain::webhook::WebhookEventType;
use crate::domain::{FieldError, Permission};
use crate::model::Enrollment;
use crate::store::{EnrollmentFilter, EnrollmentRow, NewEnrollment, Store, StoreError, Tx};

use super::webhook_events::enrollment_event;
use super::{Actor, ServiceError, ServiceResult, Services, audit, new_id, rfc3339};

/// Expired pairing codes announced (`ipp.enrollment.expired`) per sweep.
const EXPIRIES_PER_SWEEP: i64 = 100;

/// How many fresh codes to try when a new one happens to equal a live code.
const CODE_ATTEMPTS: usize = 5;
/// The most codes one pairing sheet holds.
pub const MAX_BATCH: i64 = 50;

#[derive(Debug, Clone, Default)]
pub struct CreateEnrollment {
    pub metadata: Metadata,
    pub expires_in: Option<i64>,
    pub ttl: Option<Ttl>,
    pub location_id: Option<String>,
    /// Same key and same request give the same enrollment, however often sent.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct EnrollmentListQuery {
    pub location_id: Option<String>,
    pub metadata: Vec<String>,
    pub statuses: Vec<EnrollmentStatus>,
    pub include_consumed: Option<bool>,
    pub batch_id: Option<String>,
    pub page: PageRequest,
}

impl Services {
    /// A new PENDING enrollment. The second value tells whether it was made now (false:
    /// an earlier request with the same idempotency key made it).
    #[tracing::instrument(skip_all)]
    pub async fn create_enrollment(
        &self,
        actor: &Actor,
        input: CreateEnrollment,
    ) -> ServiceResult<(Enrollment, bool)> {
        actor.require(Permission::ManageEnrollments)?;
        let (lifetime, location_id) = self.validate_new_enrollment(actor, &input).await?;
        let fingerprint = request_fingerprint(&input.metadata, lifetime, &location_id);
        if let Some(key) = &input.idempotency_key
            && let Some(existing) = self.replay(actor, key, &fingerprint).await?
        {
            return Ok((existing, false));
        }

        for _ in 0..CODE_ATTEMPTS {
            let now = self.now();
            let mut tx = self.store.begin().await?;
            let pending = PendingEnrollment {
                location_id: &location_id,
                lifetime,
                metadata: &input.metadata,
                idempotency_key: input.idempotency_key.as_deref(),
                fingerprint: Some(&fingerprint),
                batch_id: None,
            };
            let Some((id, to_deliver)) = self.insert_pending(&mut tx, actor, &pending, now).await?
            else {
                drop(tx);
                // Either a concurrent request with the same idempotency key won, or the
                // code equals a live one: replay the former, draw again for the latter.
                if let Some(key) = &input.idempotency_key
                    && let Some(existing) = self.replay(actor, key, &fingerprint).await?
                {
                    return Ok((existing, false));
                }
                continue;
            };
            tx.commit().await?;
            if to_deliver {
                self.wake_webhook_delivery();
            }
            crate::metrics::enrollments_created(1);
            let created = self
                .store
                .enrollment(&actor.merchant_id, &id)
                .await?
                .ok_or(ServiceError::NotFound("enrollment"))?;
            return Ok((self.enrollment_view(created), true));
        }
        Err(ServiceError::Conflict(
            "could not draw a free pairing code; try again".into(),
        ))
    }

    /// Up to [`MAX_BATCH`] enrollments with the same location, metadata and lifetime, made
    /// together (all or none) to be printed as one pairing sheet. Returns the batch id.
    #[tracing::instrument(skip_all)]
    pub async fn create_enrollment_batch(
        &self,
        actor: &Actor,
        input: CreateEnrollment,
        count: i64,
    ) -> ServiceResult<String> {
        actor.require(Permission::ManageEnrollments)?;
        if !(1..=MAX_BATCH).contains(&count) {
            return Err(ServiceError::field(
                "count",
                format!("a sheet has 1 to {MAX_BATCH} codes"),
            ));
        }
        let (lifetime, location_id) = self.validate_new_enrollment(actor, &input).await?;
        let batch_id = new_id();
        // A drawn code may equal a live one; the whole sheet is then drawn again.
        for _ in 0..CODE_ATTEMPTS {
            let now = self.now();
            let mut tx = self.store.begin().await?;
            let mut collided = false;
            let mut to_deliver = false;
            let pending = PendingEnrollment {
                location_id: &location_id,
                lifetime,
                metadata: &input.metadata,
                idempotency_key: None,
                fingerprint: None,
                batch_id: Some(&batch_id),
            };
            for _ in 0..count {
                match self.insert_pending(&mut tx, actor, &pending, now).await? {
                    Some((_, delivered)) => to_deliver |= delivered,
                    None => {
                        collided = true;
                        break;
                    }
                }
            }
            if collided {
                drop(tx);
                continue;
            }
            tx.commit().await?;
            if to_deliver {
                self.wake_webhook_delivery();
            }
            crate::metrics::enrollments_created(count.unsigned_abs());
            return Ok(batch_id);
        }
        Err(ServiceError::Conflict(
            "could not draw free pairing codes; try again".into(),
        ))
    }

    /// The lifetime and location of a new enrollment, or every problem with the input.
    async fn validate_new_enrollment(
        &self,
        actor: &Actor,
        input: &CreateEnrollment,
    ) -> ServiceResult<(i64, String)> {
        let mut errors = metadata::validate("metadata", &input.metadata);
        let lifetime = enrollment::resolve_lifetime(input.expires_in, input.ttl)
            .map_err(|e| errors.push(e))
            .ok();
        if let Some(key) = &input.idempotency_key
            && (key.is_empty() || key.len() > 255)
        {
            errors.push(FieldError::new(
                "Idempotency-Key",
                "an idempotency key has 1 to 255 characters",
            ));
        }
        let location_id = match self
            .resolve_location(actor, input.location_id.as_deref())
            .await
        {
            Ok(id) => Some(id),
            Err(ServiceError::Validation(more)) => {
                errors.extend(more);
                None
            }
            Err(other) => return Err(other),
        };
        match (lifetime, location_id, errors.is_empty()) {
            (Some(lifetime), Some(location_id), true) => Ok((lifetime, location_id)),
            _ => Err(ServiceError::Validation(errors)),
        }
    }

    pub async fn enrollment(&self, actor: &Actor, id: &str) -> ServiceResult<Enrollment> {
        actor.require(Permission::ViewEnrollments)?;
        let row = self.visible_enrollment(actor, id).await?;
        Ok(self.enrollment_view(row))
    }

    #[tracing::instrument(skip_all)]
    pub async fn list_enrollments(
        &self,
        actor: &Actor,
        query: EnrollmentListQuery,
    ) -> ServiceResult<Page<Enrollment>> {
        self.list_enrollments_from(actor, query, None).await
    }

    /// A page of the list, newest first: the page `query.page` names, or, given a `cursor`
    /// from an earlier page's `next_cursor`, the one after that page (its `page_number`
    /// is then ignored).
    pub async fn list_enrollments_from(
        &self,
        actor: &Actor,
        query: EnrollmentListQuery,
        cursor: Option<&str>,
    ) -> ServiceResult<Page<Enrollment>> {
        actor.require(Permission::ViewEnrollments)?;
        let mut errors = Vec::new();
        let cursor = cursor
            .map(PageCursor::decode)
            .transpose()
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if query.statuses.len() > EnrollmentStatus::ALL.len() {
            errors.push(FieldError::new(
                "status",
                format!(
                    "status is given at most {} times, once for each status",
                    EnrollmentStatus::ALL.len()
                ),
            ));
        }
        for (field, id) in [
            ("location_id", &query.location_id),
            ("batch_id", &query.batch_id),
        ] {
            if let Some(id) = id {
                errors.extend(plausible_id(field, id).err());
            }
        }
        let metadata = metadata::parse_filters(&query.metadata)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let statuses = if query.statuses.is_empty() {
            enrollment::default_listed_statuses(query.include_consumed.unwrap_or(true))
        } else {
            query.statuses
        };
        let filter = EnrollmentFilter {
            merchant_id: actor.merchant_id.clone(),
            allowed_locations: actor.allowed_locations.clone(),
            location_id: query.location_id,
            metadata,
            statuses,
            batch_id: query.batch_id,
        };
        let size = query.page.page_size;
        let now = self.now();
        let page = match &cursor {
            // Only the first page of a walk is counted; the cursor carries the count on.
            None => {
                let (rows, total) = self
                    .store
                    .enrollments(&filter, now, size, query.page.offset())
                    .await?;
                Page::new(rows, total, query.page)
            }
            Some(cursor) => {
                let after = (cursor.created_at, cursor.id.as_str());
                let mut rows = self
                    .store
                    .enrollments_after(&filter, now, after, size + 1)
                    .await?;
                let more = cut_to_page(&mut rows, size);
                Page::after_cursor(rows, cursor, size, more)
            }
        };
        Ok(page
            .continued_by(|row| (row.created_at, row.id.clone()))
            .map(|row| self.enrollment_view(row)))
    }

    /// Forgets the plain text of every code that has expired (its hash stays, so a late
    /// attempt is still told the code expired). Every server instance runs this every
    /// minute; it is idempotent, so instances running it together do no harm.
    pub async fn forget_expired_codes(&self) -> ServiceResult<u64> {
        Ok(self.store.forget_expired_codes(self.now()).await?)
    }

    /// PENDING becomes CANCELLED; cancelling again changes nothing; a used or expired
    /// enrollment cannot be cancelled.
    #[tracing::instrument(skip_all)]
    pub async fn cancel_enrollment(&self, actor: &Actor, id: &str) -> ServiceResult<Enrollment> {
        actor.require(Permission::ManageEnrollments)?;
        let before = self.visible_enrollment(actor, id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if Store::cancel_enrollment(&mut tx, &actor.merchant_id, id, now).await? {
            audit(
                &mut tx,
                actor,
                now,
                "enrollment.cancelled",
                ("enrollment", id),
                json!({}),
            )
            .await?;
            let cancelled = EnrollmentRow {
                status: EnrollmentStatus::Cancelled.as_str().to_owned(),
                cancelled_at: Some(now),
                ..before
            };
            let event = enrollment_event(
                &actor.merchant_id,
                WebhookEventType::EnrollmentCancelled,
                now,
                self.enrollment_view(cancelled),
            );
            let to_deliver = Store::insert_webhook_event(&mut tx, &event).await?;
            tx.commit().await?;
            if to_deliver {
                self.wake_webhook_delivery();
            }
            return self.enrollment(actor, id).await;
        }
        drop(tx);
        let row = self.visible_enrollment(actor, id).await?;
        match row.status_at(now) {
            EnrollmentStatus::Cancelled => Ok(self.enrollment_view(row)),
            EnrollmentStatus::Consumed => Err(ServiceError::Conflict(
                "the enrollment was already used by a device; deregister the device instead".into(),
            )),
            EnrollmentStatus::Expired => Err(ServiceError::Conflict(
                "the enrollment has already expired".into(),
            )),
            EnrollmentStatus::Pending => Err(ServiceError::Conflict(
                "the enrollment changed meanwhile; try again".into(),
            )),
        }
    }

    async fn visible_enrollment(&self, actor: &Actor, id: &str) -> ServiceResult<EnrollmentRow> {
        self.store
            .enrollment(&actor.merchant_id, id)
            .await?
            .filter(|row| actor.may_use_location(&row.location_id))
            .ok_or(ServiceError::NotFound("enrollment"))
    }

    async fn replay(
        &self,
        actor: &Actor,
        key: &str,
        fingerprint: &str,
    ) -> ServiceResult<Option<Enrollment>> {
        let Some(existing) = self
            .store
            .enrollment_by_idempotency_key(&actor.merchant_id, key)
            .await?
        else {
            return Ok(None);
        };
        if existing.request_fingerprint.as_deref() != Some(fingerprint) {
            return Err(ServiceError::Conflict(
                "this Idempotency-Key was already used with a different request".into(),
            ));
        }
        Ok(Some(self.enrollment_view(existing)))
    }

    /// The location a new enrollment goes to: the one asked for, if the actor may use it,
    /// or the merchant's only one.
    pub(crate) async fn resolve_location(
        &self,
        actor: &Actor,
        requested: Option<&str>,
    ) -> ServiceResult<String> {
        let refuse = |message: &str| Err(ServiceError::field("location_id", message));
        // An empty id is no id: the same answer as when it is left out.
        match requested.filter(|id| !id.trim().is_empty()) {
            Some(id) => {
                let found = self.store.location(&actor.merchant_id, id).await?;
                match found {
                    Some(location) if actor.may_use_location(&location.id) => Ok(location.id),
                    _ => refuse("no such location at this merchant"),
                }
            }
            None => {
                if let Some(allowed) = &actor.allowed_locations {
                    return match allowed.as_slice() {
                        [only] => Ok(only.clone()),
                        _ => refuse("choose the location the device will be used at"),
                    };
                }
                match self.store.sole_location(&actor.merchant_id).await? {
                    Some(id) => Ok(id),
                    None if self.store.count_locations(&actor.merchant_id).await? == 0 => {
                        refuse("the merchant has no locations yet; create one first")
                    }
                    None => refuse(
                        "the merchant has several locations: choose the one the device will be used at",
                    ),
                }
            }
        }
    }

    pub(crate) fn enrollment_view(&self, row: EnrollmentRow) -> Enrollment {
        let status = row.status_at(self.now());
        let live_code = (status == EnrollmentStatus::Pending)
            .then_some(row.live_code.as_deref())
            .flatten()
            .and_then(|code| PairingCode::parse(code).ok());
        Enrollment {
            enrollment_id: row.id,
            enrollment_code: live_code.as_ref().map(PairingCode::display),
            status,
            expires_at: rfc3339(row.expires_at),
            created_at: rfc3339(row.created_at),
            location_id: row.location_id,
            metadata: row.metadata,
            qr_payload: live_code.as_ref().map(|code| self.qr_payload(code)),
            created_by: row.created_by_label,
            consumed_at: row.consumed_at.map(rfc3339),
            device_id: row.device_id,
        }
    }

    /// What the QR code encodes: a link a phone can open, from which the POS app reads
    /// the code. The code is in the fragment, which browsers never send: it reaches no
    /// server log, proxy log or `Referer`.
    pub fn qr_payload(&self, code: &PairingCode) -> String {
        format!(
            "{}/pair#code={}",
            self.settings.public_url.trim_end_matches('/'),
            code.display()
        )
    }
}

/// What a new enrollment is made of, besides its id and code.
struct PendingEnrollment<'a> {
    location_id: &'a str,
    lifetime: i64,
    metadata: &'a Metadata,
    idempotency_key: Option<&'a str>,
    fingerprint: Option<&'a str>,
    batch_id: Option<&'a str>,
}

impl Services {
    /// Inserts one PENDING enrollment with a fresh code, its audit event and its webhook
    /// event: its id, and whether a webhook delivery was written. `None` when a unique
    /// constraint refused it (a code equal to a live one, or a taken idempotency key); the
    /// transaction is then spent.
    async fn insert_pending(
        &self,
        tx: &mut Tx,
        actor: &Actor,
        pending: &PendingEnrollment<'_>,
        now: i64,
    ) -> ServiceResult<Option<(String, bool)>> {
        let id = new_id();
        let code = PairingCode::generate(pairing_code::length_for_lifetime(pending.lifetime));
        let row = EnrollmentRow {
            id: id.clone(),
            merchant_id: actor.merchant_id.clone(),
            location_id: pending.location_id.to_owned(),
            live_code: Some(code.as_str().to_owned()),
            status: EnrollmentStatus::Pending.as_str().to_owned(),
            expires_at: now + pending.lifetime * 1000,
            created_at: now,
            created_by_kind: actor.kind.as_str().to_owned(),
            created_by_id: actor.id.clone(),
            created_by_label: actor.label.clone(),
            consumed_at: None,
            cancelled_at: None,
            device_id: None,
            idempotency_key: pending.idempotency_key.map(str::to_owned),
            request_fingerprint: pending.fingerprint.map(str::to_owned),
            batch_id: pending.batch_id.map(str::to_owned),
            metadata: pending.metadata.clone(),
        };
        let inserted = Store::insert_enrollment(tx, &as_new(&row, code.as_str())).await;
        match inserted {
            Ok(()) => {}
            Err(StoreError::UniqueViolation) => return Ok(None),
            Err(other) => return Err(other.into()),
        }
        audit(
            tx,
            actor,
            now,
            "enrollment.created",
            ("enrollment", &id),
            json!({
                "location_id": pending.location_id,
                "expires_in": pending.lifetime,
                "metadata": pending.metadata,
                "batch_id": pending.batch_id,
            }),
        )
        .await?;
        let event = enrollment_event(
            &actor.merchant_id,
            WebhookEventType::EnrollmentCreated,
            now,
            self.enrollment_view(row),
        );
        let to_deliver = Store::insert_webhook_event(tx, &event).await?;
        Ok(Some((id, to_deliver)))
    }

    /// Announces pairing codes that expired unused (`ipp.enrollment.expired`), each once
    /// however many instances sweep: marked in the same transaction as its event.
    /// Returns how many were announced.
    pub(crate) async fn announce_expired_enrollments(&self) -> ServiceResult<usize> {
        let now = self.now();
        let expired = self
            .store
            .enrollments_to_announce_expired(now, EXPIRIES_PER_SWEEP)
            .await?;
        if expired.is_empty() {
            return Ok(0);
        }
        let mut announced = 0;
        let mut to_deliver = false;
        let mut tx = self.store.begin().await?;
        for row in expired {
            if !Store::mark_expiry_announced(&mut tx, &row.id, now).await? {
                continue;
            }
            let merchant_id = row.merchant_id.clone();
            // Read after its expiry: the view says EXPIRED.
            let view = self.enrollment_view(row);
            let event =
                enrollment_event(&merchant_id, WebhookEventType::EnrollmentExpired, now, view);
            to_deliver |= Store::insert_webhook_event(&mut tx, &event).await?;
            announced += 1;
        }
        tx.commit().await?;
        if to_deliver {
            self.wake_webhook_delivery();
        }
        Ok(announced)
    }
}

/// What the store inserts for a new enrollment's `row`, with its `code`.
fn as_new<'a>(row: &'a EnrollmentRow, code: &'a str) -> NewEnrollment<'a> {
    NewEnrollment {
        id: &row.id,
        merchant_id: &row.merchant_id,
        location_id: &row.location_id,
        code,
        expires_at: row.expires_at,
        created_at: row.created_at,
        created_by_kind: &row.created_by_kind,
        created_by_id: row.created_by_id.as_deref(),
        created_by_label: &row.created_by_label,
        idempotency_key: row.idempotency_key.as_deref(),
        request_fingerprint: row.request_fingerprint.as_deref(),
        batch_id: row.batch_id.as_deref(),
        metadata: &row.metadata,
    }
}

/// Identifies an enrollment request's content, so a replayed idempotency key can be told
/// from a reused one.
fn request_fingerprint(metadata: &Metadata, lifetime: i64, location_id: &str) -> String {
    let canonical = json!({"metadata": metadata, "lifetime": lifetime, "location_id": location_id});
    hex::encode(Sha256::digest(canonical.to_string().as_bytes()))
}
