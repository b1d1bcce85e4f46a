use super::{Store, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct MerchantRow {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    /// 1: every user must have a second factor.
    pub require_second_factor: i64,
}

impl Store {
    pub async fn insert_merchant(tx: &mut Tx, merchant: &MerchantRow) -> StoreResult<()> {
        sqlx::query("INSERT INTO merchants (id, name, created_at) VALUES ($1, $2, $3)")
            .bind(&merchant.id)
            .bind(&merchant.name)
            .bind(merchant.created_at)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn merchant(&self, id: &str) -> StoreResult<Option<MerchantRow>> {
        Ok(sqlx::query_as(
            "SELECT id, name, created_at, require_second_factor FROM merchants WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    pub async fn count_merchants(&self) -> StoreResult<i64> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM merchants")
            .fetch_one(self.pool())
            .await?)
    }
}
