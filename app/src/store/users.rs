use super::{Store, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserRow {
    pub id: String,
    pub merchant_id: String,
    pub email: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: i64,
    pub password_changed_at: i64,
    pub disabled_at: Option<i64>,
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub location_ids: &'a [String],
    pub now: i64,
}

const COLUMNS: &str =
    "id, merchant_id, email, password_hash, role, created_at, password_changed_at, disabled_at";

impl Store {
    pub async fn insert_user(tx: &mut Tx, user: &NewUser<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, merchant_id, email, password_hash, role, created_at, password_changed_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6)",
        )
        .bind(user.id)
        .bind(user.merchant_id)
        .bind(user.email)
        .bind(user.password_hash)
        .bind(user.role)
        .bind(user.now)
        .execute(&mut **tx)
        .await
        .map_err(super::StoreError::classify)?;
        for location_id in user.location_ids {
            sqlx::query("INSERT INTO user_locations (user_id, location_id) VALUES ($1, $2)")
                .bind(user.id)
                .bind(location_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    pub async fn user_by_email(&self, email: &str) -> StoreResult<Option<UserRow>> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE email = $1"))
                .bind(email)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    pub async fn user_location_ids(&self, user_id: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT location_id FROM user_locations WHERE user_id = $1 ORDER BY location_id",
        )
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }
}
