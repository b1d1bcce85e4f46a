//! Reading the merchant's locations.

use crate::domain::paging::{Page, PageRequest};
use crate::model::Location;

use super::accounts::location_view;
use super::{Actor, ServiceResult, Services};

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
