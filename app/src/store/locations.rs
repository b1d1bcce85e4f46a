use super::{SqlBuilder, Store, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LocationRow {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub city: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

const COLUMNS: &str = "id, merchant_id, name, city, created_at, updated_at";

impl Store {
    pub async fn insert_location(tx: &mut Tx, location: &LocationRow) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO locations (id, merchant_id, name, city, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(&location.id)
        .bind(&location.merchant_id)
        .bind(&location.name)
        .bind(&location.city)
        .bind(location.created_at)
        .bind(location.updated_at)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// A location of this merchant; another merchant's location reads as missing.
    pub async fn location(&self, merchant_id: &str, id: &str) -> StoreResult<Option<LocationRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM locations WHERE merchant_id = $1 AND id = $2"
        ))
        .bind(merchant_id)
        .bind(id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The merchant's locations by name; `only` limits them to the given ids.
    pub async fn locations(
        &self,
        merchant_id: &str,
        only: Option<&[String]>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<LocationRow>, i64)> {
        let mut filter = SqlBuilder::new(" FROM locations WHERE merchant_id = ");
        filter.bind_text(merchant_id);
        if let Some(ids) = only {
            if ids.is_empty() {
                return Ok((Vec::new(), 0));
            }
            filter
                .push(" AND id IN (")
                .bind_list(ids.iter().cloned())
                .push(")");
        }
        let count = filter.with_prefix("SELECT COUNT(*)");
        let total: i64 = count.query_scalar()?.fetch_one(self.pool()).await?;
        let mut page = filter.with_prefix(&format!("SELECT {COLUMNS}"));
        page.push(" ORDER BY name, id LIMIT ")
            .bind_int(limit)
            .push(" OFFSET ")
            .bind_int(offset);
        let rows = page.query_as()?.fetch_all(self.pool()).await?;
        Ok((rows, total))
    }

    /// False when the merchant has no such location.
    pub async fn update_location(
        tx: &mut Tx,
        merchant_id: &str,
        id: &str,
        name: &str,
        city: Option<&str>,
        now: i64,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE locations SET name = $1, city = $2, updated_at = $3 WHERE merchant_id = $4 AND id = $5",
        )
        .bind(name)
        .bind(city)
        .bind(now)
        .bind(merchant_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn count_locations(&self, merchant_id: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM locations WHERE merchant_id = $1")
                .bind(merchant_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// The merchant's only location, when it has exactly one.
    pub async fn sole_location(&self, merchant_id: &str) -> StoreResult<Option<String>> {
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT id FROM locations WHERE merchant_id = $1 LIMIT 2")
                .bind(merchant_id)
                .fetch_all(self.pool())
                .await?;
        Ok(if ids.len() == 1 {
            ids.into_iter().next()
        } else {
            None
        })
    }
}
