//! Users' passkeys: the public key credentials their authenticators made, as webauthn-rs
//! stores them (JSON), found by the credential id a browser presents.

use super::{Store, StoreError, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PasskeyRow {
    pub id: String,
    pub user_id: String,
    /// base64url, as the authenticator names the credential.
    pub credential_id: String,
    pub name: String,
    /// The stored credential (public key, counter), JSON.
    pub credential: String,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
}

pub struct NewPasskey<'a> {
    pub id: &'a str,
    pub user_id: &'a str,
    pub credential_id: &'a str,
    pub name: &'a str,
    pub credential: &'a str,
    pub now: i64,
}

const COLUMNS: &str = "id, user_id, credential_id, name, credential, created_at, last_used_at";

impl Store {
    /// A new passkey; [`StoreError::UniqueViolation`] when its credential is registered
    /// already (to this user or any other).
    pub async fn insert_passkey(tx: &mut Tx, passkey: &NewPasskey<'_>) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO passkeys (id, user_id, credential_id, name, credential, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(passkey.id)
        .bind(passkey.user_id)
        .bind(passkey.credential_id)
        .bind(passkey.name)
        .bind(passkey.credential)
        .bind(passkey.now)
        .execute(&mut **tx)
        .await
        .map_err(StoreError::classify)?;
        Ok(())
    }

    /// The user's passkeys, oldest first.
    pub async fn passkeys(&self, user_id: &str) -> StoreResult<Vec<PasskeyRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE user_id = $1 ORDER BY created_at, id"
        ))
        .bind(user_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// How many passkeys the user has, read inside the transaction that adds one.
    pub async fn count_passkeys(tx: &mut Tx, user_id: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(&mut **tx)
                .await?,
        )
    }

    pub async fn passkey_by_credential_id(
        &self,
        credential_id: &str,
    ) -> StoreResult<Option<PasskeyRow>> {
        Ok(sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM passkeys WHERE credential_id = $1"
        ))
        .bind(credential_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// Removes one of the user's passkeys; `None` when the user has no such passkey.
    pub async fn delete_passkey(
        tx: &mut Tx,
        user_id: &str,
        passkey_id: &str,
    ) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar(
                "DELETE FROM passkeys WHERE user_id = $1 AND id = $2 RETURNING name",
            )
            .bind(user_id)
            .bind(passkey_id)
            .fetch_optional(&mut **tx)
            .await?,
        )
    }

    /// A passkey was used to sign in: when, and its credential as it is now (its counter).
    pub async fn record_passkey_use(
        &self,
        passkey_id: &str,
        credential: &str,
        now: i64,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE passkeys SET credential = $1, last_used_at = $2 WHERE id = $3")
            .bind(credential)
            .bind(now)
            .bind(passkey_id)
            .execute(self.writer())
            .await?;
        Ok(())
    }
}
