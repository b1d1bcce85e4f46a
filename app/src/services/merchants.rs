//! Merchants: the tenants. Operators create them from the command line; everything else
//! belongs to one.

use serde::Serialize;
use serde_json::json;

use crate::domain::text::required_text;
use crate::store::{MerchantRow, Store};

use super::{Actor, ServiceError, ServiceResult, Services, audit, new_id, rfc3339};

#[derive(Debug, Clone, Serialize)]
pub struct CreatedMerchant {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

impl Services {
    #[tracing::instrument(skip_all)]
    pub async fn create_merchant(&self, name: &str) -> ServiceResult<CreatedMerchant> {
        let name = required_text("name", name, 200)?;
        let now = self.now();
        let merchant = MerchantRow {
            id: new_id(),
            name,
            created_at: now,
            require_second_factor: 0,
        };
        let mut tx = self.store.begin().await?;
        Store::insert_merchant(&mut tx, &merchant).await?;
        let actor = Actor::system(&merchant.id);
        audit(
            &mut tx,
            &actor,
            now,
            "merchant.created",
            ("merchant", &merchant.id),
            json!({"name": merchant.name}),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedMerchant {
            id: merchant.id,
            name: merchant.name,
            created_at: rfc3339(now),
        })
    }

    /// An operator acting for `merchant_id`, which must exist.
    pub async fn operator_for(&self, merchant_id: &str) -> ServiceResult<Actor> {
        self.store
            .merchant(merchant_id)
            .await?
            .ok_or(ServiceError::NotFound("merchant"))?;
        Ok(Actor::system(merchant_id))
    }

    /// Whether any merchant exists yet (a brand-new database has none).
    pub async fn has_merchants(&self) -> ServiceResult<bool> {
        Ok(self.store.count_merchants().await? > 0)
    }

    /// Refuses unless the actor's merchant exists.
    pub(crate) async fn require_merchant(&self, actor: &Actor) -> ServiceResult<()> {
        self.store
            .merchant(&actor.merchant_id)
            .await?
            .map(|_| ())
            .ok_or(ServiceError::NotFound("merchant"))
    }
}
