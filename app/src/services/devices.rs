//! The device fleet: listing, reading, changing and deregistering devices.

use std::collections::BTreeMap;

use serde_json::json;

use crate::domain::device::DeviceSort;
use crate::domain::device::{self, Platform};
use crate::domain::metadata::{self, Metadata};
use crate::domain::paging::{MAX_CURSOR_LENGTH, Page, PageCursor, PageRequest, cut_to_page};
use crate::domain::text::{at_most, plausible_id};
use crate::domain::webhook::WebhookEventType;
use crate::domain::{FieldError, Permission};
use crate::model::Device;
use crate::store::{DeviceCursor, DeviceFilter, DeviceRow, DeviceUpdate, Store};

use super::webhook_events::device_event;
use super::{Actor, ServiceError, ServiceResult, Services, audit, rfc3339};

/// The longest name fragment a device list is filtered by (`q`).
pub const MAX_NAME_FRAGMENT_LENGTH: usize = 100;

/// What a device list is filtered by, and which page of it is wanted.
#[derive(Debug, Clone, Default)]
pub struct DeviceListQuery {
    pub location_id: Option<String>,
    pub metadata: Vec<String>,
    pub platform: Option<String>,
    pub name_contains: Option<String>,
    pub page: PageRequest,
}

/// PUT: the device's name and metadata as given; the location too when given.
#[derive(Debug, Clone, Default)]
pub struct DeviceReplacement {
    pub name: String,
    pub metadata: Metadata,
    pub location_id: Option<String>,
}

/// PATCH (JSON merge patch): only what is given changes; a metadata key set to null is
/// removed.
#[derive(Debug, Clone, Default)]
pub struct DevicePatch {
    pub name: Option<String>,
    pub location_id: Option<String>,
    pub metadata: Option<BTreeMap<String, Option<String>>>,
    /// `"metadata": null`: remove every key.
    pub clear_metadata: bool,
}

pub(crate) fn device_view(row: DeviceRow) -> Device {
    Device {
        platform: Platform::parse(&row.platform).unwrap_or(Platform::Android),
        id: row.id,
        hardware_id: row.hardware_id,
        merchant_id: row.merchant_id,
        location_id: row.location_id,
        name: row.name,
        metadata: row.metadata,
        enrollment_id: row.enrollment_id,
        created_at: rfc3339(row.created_at),
        updated_at: rfc3339(row.updated_at),
        last_seen_at: row.last_seen_at.map(rfc3339),
    }
}

/// One page of the portal's device list: the devices, how many match (past
/// `OVERVIEW_COUNT_CAP`, more than it), and where the next page starts.
#[derive(Debug, Clone)]
pub struct DevicePage {
    pub devices: Vec<Device>,
    pub total: i64,
    pub next: Option<String>,
}

impl Services {
    /// The portal's list: filtered like the API's, ordered by `sort`, and paged by cursor
    /// so that deep pages cost what the first one does.
    #[tracing::instrument(skip_all)]
    pub async fn device_page(
        &self,
        actor: &Actor,
        query: DeviceListQuery,
        sort: DeviceSort,
        after: Option<&str>,
    ) -> ServiceResult<DevicePage> {
        actor.require(Permission::ViewDevices)?;
        let filter = self.device_filter(actor, query.clone())?;
        let (devices, next) = self.device_batch(actor, query, sort, after).await?;
        let total = self
            .store
            .count_devices_at_most(&filter, super::OVERVIEW_COUNT_CAP)
            .await?;
        Ok(DevicePage {
            devices,
            total,
            next,
        })
    }

    /// One page of the list and where the next starts, without counting the matches: for
    /// walking a whole view (the CSV export) page after page.
    pub async fn device_batch(
        &self,
        actor: &Actor,
        query: DeviceListQuery,
        sort: DeviceSort,
        after: Option<&str>,
    ) -> ServiceResult<(Vec<Device>, Option<String>)> {
        actor.require(Permission::ViewDevices)?;
        let limit = query.page.page_size;
        let filter = self.device_filter(actor, query)?;
        if let Some(after) = after {
            at_most("after", after, MAX_CURSOR_LENGTH)?;
        }
        // One this list did not give out starts it over.
        let cursor = after.and_then(|after| DeviceCursor::decode(after, sort));
        let mut rows = self
            .store
            .devices_after(&filter, sort, cursor.as_ref(), limit + 1)
            .await?;
        let more = cut_to_page(&mut rows, limit);
        let next = rows
            .last()
            .filter(|_| more)
            .map(|row| DeviceCursor::of(row, sort).encode());
        Ok((rows.into_iter().map(device_view).collect(), next))
    }

    /// Whether a list query's filters are well-formed, without running it.
    pub fn check_device_query(&self, actor: &Actor, query: &DeviceListQuery) -> ServiceResult<()> {
        actor.require(Permission::ViewDevices)?;
        self.device_filter(actor, query.clone()).map(|_| ())
    }

    /// The store's filter for a list query, every part of it bounded: at most 5 metadata
    /// filters, a name fragment of at most 100 characters, an id of at most 64.
    fn device_filter(&self, actor: &Actor, query: DeviceListQuery) -> ServiceResult<DeviceFilter> {
        let mut errors = Vec::new();
        if let Some(q) = &query.name_contains {
            errors.extend(at_most("q", q, MAX_NAME_FRAGMENT_LENGTH).err());
        }
        if let Some(location_id) = &query.location_id {
            errors.extend(plausible_id("location_id", location_id).err());
        }
        let metadata = metadata::parse_filters(&query.metadata)
            .map_err(|e| errors.push(e))
            .unwrap_or_default();
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let platform = match query.platform.as_deref().filter(|p| !p.is_empty()) {
            Some(raw) => Some(
                Platform::parse(raw)
                    .ok_or_else(|| FieldError::new("platform", "platform is IOS or ANDROID"))?
                    .as_str()
                    .to_owned(),
            ),
            None => None,
        };
        Ok(DeviceFilter {
            merchant_id: actor.merchant_id.clone(),
            allowed_locations: actor.allowed_locations.clone(),
            location_id: query.location_id.filter(|id| !id.is_empty()),
            metadata,
            platform,
            name_contains: query
                .name_contains
                .map(|q| q.trim().to_owned())
                .filter(|q| !q.is_empty()),
        })
    }

    /// A page of the list, newest first: the page `query.page` names, or, given a `cursor`
    /// from an earlier page's `next_cursor`, the one after that page (its `page_number`
    /// is then ignored) read from the index however deep it is.
    #[tracing::instrument(skip_all)]
    pub async fn list_devices_from(
        &self,
        actor: &Actor,
        query: DeviceListQuery,
        cursor: Option<&str>,
    ) -> ServiceResult<Page<Device>> {
        actor.require(Permission::ViewDevices)?;
        let cursor = cursor.map(PageCursor::decode).transpose()?;
        let size = query.page.page_size;
        let filter = self.device_filter(actor, query.clone())?;
        let page = match cursor {
            // Only the first page of a walk is counted; the cursor carries the count on.
            None => {
                let rows = self
                    .store
                    .devices_page(&filter, size, query.page.offset())
                    .await?;
                let total = self.store.count_devices(&filter).await?;
                Page::new(rows, total, query.page)
            }
            Some(cursor) => {
                let after = DeviceCursor::registered(cursor.created_at, cursor.id.clone());
                let mut rows = self
                    .store
                    .devices_after(&filter, DeviceSort::Registered, Some(&after), size + 1)
                    .await?;
                let more = cut_to_page(&mut rows, size);
                Page::after_cursor(rows, &cursor, size, more)
            }
        };
        Ok(page
            .continued_by(|row| (row.created_at, row.id.clone()))
            .map(device_view))
    }

    pub async fn device(&self, actor: &Actor, id: &str) -> ServiceResult<Device> {
        actor.require(Permission::ViewDevices)?;
        Ok(device_view(self.visible_device(actor, id).await?))
    }

    #[tracing::instrument(skip_all)]
    pub async fn replace_device(
        &self,
        actor: &Actor,
        id: &str,
        input: DeviceReplacement,
    ) -> ServiceResult<Device> {
        actor.require(Permission::ManageDevices)?;
        let current = self.visible_device(actor, id).await?;
        let update = DeviceUpdate {
            name: Some(input.name),
            location_id: input.location_id,
            metadata: Some(input.metadata),
        };
        self.apply_device_update(actor, current, update).await
    }

    #[tracing::instrument(skip_all)]
    pub async fn patch_device(
        &self,
        actor: &Actor,
        id: &str,
        patch: DevicePatch,
    ) -> ServiceResult<Device> {
        actor.require(Permission::ManageDevices)?;
        let current = self.visible_device(actor, id).await?;
        let base = if patch.clear_metadata {
            Metadata::new()
        } else {
            current.metadata.clone()
        };
        let metadata = match patch.metadata {
            None if patch.clear_metadata => Some(base),
            None => None,
            Some(changes) => Some({
                let mut merged = base;
                for (key, value) in changes {
                    match value {
                        Some(value) => merged.insert(key, value),
                        None => merged.remove(&key),
                    };
                }
                merged
            }),
        };
        let update = DeviceUpdate {
            name: patch.name,
            location_id: patch.location_id,
            metadata,
        };
        self.apply_device_update(actor, current, update).await
    }

    async fn apply_device_update(
        &self,
        actor: &Actor,
        current: DeviceRow,
        mut update: DeviceUpdate,
    ) -> ServiceResult<Device> {
        let mut errors = Vec::new();
        if let Some(name) = &update.name {
            match device::validate_name("name", name) {
                Ok(valid) => update.name = Some(valid),
                Err(error) => errors.push(error),
            }
        }
        if let Some(metadata) = &update.metadata {
            errors.extend(metadata::validate("metadata", metadata));
        }
        if let Some(location_id) = &update.location_id {
            match self.resolve_location(actor, Some(location_id)).await {
                Ok(_) => {}
                Err(ServiceError::Validation(more)) => errors.extend(more),
                Err(other) => return Err(other),
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        let mut changes = serde_json::Map::new();
        if let Some(name) = update.name.as_ref().filter(|name| **name != current.name) {
            changes.insert("name".into(), json!({"from": current.name, "to": name}));
        }
        if let Some(location_id) = update
            .location_id
            .as_ref()
            .filter(|id| **id != current.location_id)
        {
            changes.insert(
                "location_id".into(),
                json!({"from": current.location_id, "to": location_id}),
            );
        }
        if let Some(metadata) = update.metadata.as_ref().filter(|m| **m != current.metadata) {
            changes.insert(
                "metadata".into(),
                json!({"from": current.metadata, "to": metadata}),
            );
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::update_device(&mut tx, &actor.merchant_id, &current.id, &update, now).await? {
            return Err(ServiceError::NotFound("device"));
        }
        let changed = !changes.is_empty();
        let changes = serde_json::Value::Object(changes);
        audit(
            &mut tx,
            actor,
            now,
            "device.updated",
            ("device", &current.id),
            changes.clone(),
        )
        .await?;
        // As written: the answer, and the event's object.
        let updated = device_view(DeviceRow {
            name: update.name.unwrap_or(current.name),
            location_id: update.location_id.unwrap_or(current.location_id),
            metadata: update.metadata.unwrap_or(current.metadata),
            updated_at: now,
            ..current
        });
        // Receivers hear of a change only: a PUT of what is there sends nothing.
        let mut to_deliver = false;
        if changed {
            let event = device_event(
                WebhookEventType::DeviceUpdated,
                now,
                updated.clone(),
                Some(changes),
            );
            to_deliver = Store::insert_webhook_event(&mut tx, &event).await?;
        }
        tx.commit().await?;
        if to_deliver {
            self.wake_webhook_delivery();
        }
        Ok(updated)
    }

    /// Removes the device; its token is refused from the moment this returns.
    #[tracing::instrument(skip_all)]
    pub async fn deregister_device(&self, actor: &Actor, id: &str) -> ServiceResult<()> {
        actor.require(Permission::ManageDevices)?;
        let current = self.visible_device(actor, id).await?;
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::delete_device(&mut tx, &actor.merchant_id, id).await? {
            return Err(ServiceError::NotFound("device"));
        }
        audit(
            &mut tx,
            actor,
            now,
            "device.deregistered",
            ("device", id),
            json!({"name": current.name, "hardware_id": current.hardware_id, "location_id": current.location_id}),
        )
        .await?;
        let event = device_event(
            WebhookEventType::DeviceDeregistered,
            now,
            device_view(current),
            None,
        );
        let to_deliver = Store::insert_webhook_event(&mut tx, &event).await?;
        tx.commit().await?;
        if to_deliver {
            self.wake_webhook_delivery();
        }
        Ok(())
    }

    async fn visible_device(&self, actor: &Actor, id: &str) -> ServiceResult<DeviceRow> {
        self.store
            .device(&actor.merchant_id, id)
            .await?
            .filter(|row| actor.may_use_location(&row.location_id))
            .ok_or(ServiceError::NotFound("device"))
    }
}
