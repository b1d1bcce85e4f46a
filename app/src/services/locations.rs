//! The merchant's locations (stores): creating, renaming and listing them.

use serde_json::json;

use crate::domain::Permission;
use crate::domain::paging::{Page, PageRequest};
use crate::domain::text::{MAX_PLACE_LENGTH, optional_text, required_text};
use crate::model::Location;
use crate::store::{LocationRow, Store};

use super::{Actor, ServiceError, ServiceResult, Services, audit, new_id, rfc3339};

pub(crate) fn location_view(row: LocationRow) -> Location {
    Location {
        id: row.id,
        merchant_id: row.merchant_id,
        name: row.name,
        city: row.city,
        created_at: rfc3339(row.created_at),
    }
}

/// A location's name (required) and city (optional), trimmed and within bounds.
fn location_fields(name: &str, city: Option<&str>) -> ServiceResult<(String, Option<String>)> {
    Ok((
        required_text("name", name, MAX_PLACE_LENGTH)?,
        optional_text("city", city, MAX_PLACE_LENGTH)?,
    ))
}

impl Services {
    #[tracing::instrument(skip_all)]
    pub async fn create_location(
        &self,
        actor: &Actor,
        name: &str,
        city: Option<&str>,
    ) -> ServiceResult<Location> {
        actor.require(Permission::ManageLocations)?;
        let (name, city) = location_fields(name, city)?;
        self.require_merchant(actor).await?;
        let now = self.now();
        let row = LocationRow {
            id: new_id(),
            merchant_id: actor.merchant_id.clone(),
            name,
            city,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        Store::insert_location(&mut tx, &row).await?;
        audit(
            &mut tx,
            actor,
            now,
            "location.created",
            ("location", &row.id),
            json!({"name": row.name, "city": row.city}),
        )
        .await?;
        tx.commit().await?;
        Ok(location_view(row))
    }

    /// The locations the actor may use, by name.
    #[tracing::instrument(skip_all)]
    pub async fn list_locations(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> ServiceResult<Page<Location>> {
        actor.require(Permission::ViewLocations)?;
        let (rows, total) = self
            .store
            .locations(
                &actor.merchant_id,
                actor.allowed_locations.as_deref(),
                page.page_size,
                page.offset(),
            )
            .await?;
        Ok(Page::new(
            rows.into_iter().map(location_view).collect(),
            total,
            page,
        ))
    }

    /// One location the actor may use.
    pub async fn location(&self, actor: &Actor, id: &str) -> ServiceResult<Location> {
        actor.require(Permission::ViewLocations)?;
        self.store
            .location(&actor.merchant_id, id)
            .await?
            .filter(|row| actor.may_use_location(&row.id))
            .map(location_view)
            .ok_or(ServiceError::NotFound("location"))
    }

    /// Every location the actor may use, by name: for the portal's pickers.
    pub async fn all_locations(&self, actor: &Actor) -> ServiceResult<Vec<Location>> {
        actor.require(Permission::ViewLocations)?;
        let (rows, _) = self
            .store
            .locations(
                &actor.merchant_id,
                actor.allowed_locations.as_deref(),
                10_000,
                0,
            )
            .await?;
        Ok(rows.into_iter().map(location_view).collect())
    }

    /// Each location the actor may use, with how many devices it has.
    pub async fn locations_with_device_counts(
        &self,
        actor: &Actor,
    ) -> ServiceResult<Vec<(Location, i64)>> {
        actor.require(Permission::ManageLocations)?;
        let locations = self.all_locations(actor).await?;
        let counts = self
            .store
            .device_counts_by_location(&actor.merchant_id)
            .await?;
        Ok(locations
            .into_iter()
            .map(|location| {
                let count = counts
                    .iter()
                    .find(|(id, _)| *id == location.id)
                    .map_or(0, |(_, n)| *n);
                (location, count)
            })
            .collect())
    }

    #[tracing::instrument(skip_all)]
    pub async fn rename_location(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        city: Option<&str>,
    ) -> ServiceResult<Location> {
        actor.require(Permission::ManageLocations)?;
        let (name, city) = location_fields(name, city)?;
        if !actor.may_use_location(id) {
            return Err(ServiceError::NotFound("location"));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::update_location(&mut tx, &actor.merchant_id, id, &name, city.as_deref(), now)
            .await?
        {
            return Err(ServiceError::NotFound("location"));
        }
        audit(
            &mut tx,
            actor,
            now,
            "location.updated",
            ("location", id),
            json!({"name": name, "city": city}),
        )
        .await?;
        tx.commit().await?;
        let row = self
            .store
            .location(&actor.merchant_id, id)
            .await?
            .ok_or(ServiceError::NotFound("location"))?;
        Ok(location_view(row))
    }
}
