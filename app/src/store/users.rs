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
    pub must_change_password: i64,
    pub disabled_at: Option<i64>,
    /// The zone the user reads times in; `None`: their browser's.
    pub time_zone: Option<String>,
}

pub struct NewUser<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub email: &'a str,
    pub password_hash: &'a str,
    pub role: &'a str,
    pub location_ids: &'a [String],
    pub must_change_password: bool,
    pub now: i64,
}

const COLUMNS: &str = "id, merchant_id, email, password_hash, role, created_at, \
    password_changed_at, must_change_password, disabled_at, time_zone";

impl Store {
    pub async fn insert_user(tx: &mut Tx, user: &NewUser<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO users (id, merchant_id, email, password_hash, role, created_at, \
             password_changed_at, must_change_password) VALUES ($1, $2, $3, $4, $5, $6, $6, $7)",
        )
        .bind(user.id)
        .bind(user.merchant_id)
        .bind(user.email)
        .bind(user.password_hash)
        .bind(user.role)
        .bind(user.now)
        .bind(i64::from(user.must_change_password))
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

    pub async fn user(&self, id: &str) -> StoreResult<Option<UserRow>> {
        Ok(
            sqlx::query_as(&format!("SELECT {COLUMNS} FROM users WHERE id = $1"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?,
        )
    }

    /// The merchant's users by email.
    pub async fn users(&self, merchant_id: &str) -> StoreResult<Vec<UserRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM users WHERE merchant_id = $1 ORDER BY email"
        ))
        .bind(merchant_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Role and locations at once; false when the merchant has no such user.
    pub async fn update_user_access(
        tx: &mut Tx,
        merchant_id: &str,
        user_id: &str,
        role: &str,
        location_ids: &[String],
    ) -> StoreResult<bool> {
        let updated = sqlx::query("UPDATE users SET role = $1 WHERE merchant_id = $2 AND id = $3")
            .bind(role)
            .bind(merchant_id)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        if updated.rows_affected() == 0 {
            return Ok(false);
        }
        sqlx::query("DELETE FROM user_locations WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        for location_id in location_ids {
            sqlx::query("INSERT INTO user_locations (user_id, location_id) VALUES ($1, $2)")
                .bind(user_id)
                .bind(location_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(true)
    }

    /// `Some(time)` disables, `None` enables; false when the merchant has no such user.
    pub async fn set_user_disabled(
        tx: &mut Tx,
        merchant_id: &str,
        user_id: &str,
        disabled_at: Option<i64>,
    ) -> StoreResult<bool> {
        let updated =
            sqlx::query("UPDATE users SET disabled_at = $1 WHERE merchant_id = $2 AND id = $3")
                .bind(disabled_at)
                .bind(merchant_id)
                .bind(user_id)
                .execute(&mut **tx)
                .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// A new password hash; sessions from before `now` end with it.
    pub async fn set_user_password(
        tx: &mut Tx,
        user_id: &str,
        password_hash: &str,
        must_change_password: bool,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query(
            "UPDATE users SET password_hash = $1, password_changed_at = $2, must_change_password = $3 \
             WHERE id = $4",
        )
        .bind(password_hash)
        .bind(now)
        .bind(i64::from(must_change_password))
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
        Ok(())
    }

    /// Ends every session granted to the user before `now` (they remember the time of the
    /// last password change, which this moves on without changing the password): what a
    /// removed second factor does to the user's other sessions.
    pub async fn renew_sign_ins(tx: &mut Tx, user_id: &str, now: i64) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_changed_at = $1 WHERE id = $2")
            .bind(now)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    /// The zone the user reads times in (`None`: their browser's).
    pub async fn set_user_time_zone(&self, user_id: &str, zone: Option<&str>) -> StoreResult<()> {
        sqlx::query("UPDATE users SET time_zone = $1 WHERE id = $2")
            .bind(zone)
            .bind(user_id)
            .execute(self.writer())
            .await?;
        Ok(())
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
