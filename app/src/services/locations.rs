//! Reading the merchant's locations.

use serde_json::json;

use crate::domain::paging::{Page, PageRequest};
use crate::model::Location;
use crate::store::Store;

use super::accounts::{location_view, optional_text, required_text};
use super::{Actor, ServiceError, ServiceResult, Services, audit};

impl Services {
    /// The locations the actor may use, by name.
    pub async fn list_locations(
        &self,
        actor: &Actor,
        page: PageRequest,
    ) -> ServiceResult<Page<Location>> {
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
}

impl Services {
    /// Every location the actor may use, by name: for the portal's pickers.
    pub async fn all_locations(&self, actor: &Actor) -> ServiceResult<Vec<Location>> {
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

    pub async fn rename_location(
        &self,
        actor: &Actor,
        id: &str,
        name: &str,
        city: Option<&str>,
    ) -> ServiceResult<Location> {
        let name = required_text("name", name, 200)?;
        let city = optional_text("city", city, 200)?;
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
