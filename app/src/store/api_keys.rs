use super::{Store, StoreError, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ApiKeyRow {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub key_prefix: String,
    pub created_by_user_id: Option<String>,
    /// The email of the user who created the key, if a user did.
    pub created_by_email: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

pub struct NewApiKey<'a> {
    pub id: &'a str,
    pub merchant_id: &'a str,
    pub name: &'a str,
    pub key_prefix: &'a str,
    pub key_hash: &'a str,
    pub created_by_user_id: Option<&'a str>,
    pub now: i64,
}

const SELECT: &str = "SELECT k.id, k.merchant_id, k.name, k.key_prefix, k.created_by_user_id, \
    u.email AS created_by_email, k.created_at, k.last_used_at, k.revoked_at \
    FROM api_keys k LEFT JOIN users u ON u.id = k.created_by_user_id";

/// How stale `last_used_at` may get before a request writes it again: keeps a busy
/// integration from turning every read into a write.
const LAST_USED_RESOLUTION_MS: i64 = 60_000;

impl Store {
    pub async fn insert_api_key(tx: &mut Tx, key: &NewApiKey<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, merchant_id, name, key_prefix, key_hash, created_by_user_id, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(key.id)
        .bind(key.merchant_id)
        .bind(key.name)
        .bind(key.key_prefix)
        .bind(key.key_hash)
        .bind(key.created_by_user_id)
        .bind(key.now)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::classify)?;
        Ok(())
    }

    /// The live (not revoked) key with this hash.
    pub async fn active_api_key_by_hash(&self, key_hash: &str) -> StoreResult<Option<ApiKeyRow>> {
        Ok(sqlx::query_as(&format!(
            "{SELECT} WHERE k.key_hash = $1 AND k.revoked_at IS NULL"
        ))
        .bind(key_hash)
        .fetch_optional(self.pool())
        .await?)
    }

    /// The merchant's keys, revoked ones included, newest first.
    pub async fn api_keys(&self, merchant_id: &str) -> StoreResult<Vec<ApiKeyRow>> {
        Ok(sqlx::query_as(&format!(
            "{SELECT} WHERE k.merchant_id = $1 ORDER BY k.created_at DESC, k.id DESC"
        ))
        .bind(merchant_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Records that the key was used, at most once a minute per key.
    pub async fn touch_api_key(&self, id: &str, now: i64) -> StoreResult<()> {
        sqlx::query(
            "UPDATE api_keys SET last_used_at = $1 \
             WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)",
        )
        .bind(now)
        .bind(id)
        .bind(now - LAST_USED_RESOLUTION_MS)
        .execute(self.writer())
        .await?;
        Ok(())
    }

    pub async fn revoke_api_key(
        tx: &mut Tx,
        merchant_id: &str,
        id: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let result = sqlx::query(
            "UPDATE api_keys SET revoked_at = $1 WHERE merchant_id = $2 AND id = $3 AND revoked_at IS NULL",
        )
        .bind(now)
        .bind(merchant_id)
        .bind(id)
        .execute(&mut **tx)
        .await?;
        Ok(result.rows_affected() == 1)
    }
}
