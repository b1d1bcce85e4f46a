//! Second factors of portal users: the authenticator app (`user_totp`), recovery codes
//! (hashes only), how many passkeys a user has, and the merchant's rule requiring one.
//!
//! Using a code is one conditional UPDATE each, so two requests with the same code (or
//! the same recovery code) cannot both be accepted, on either backend.

use super::{Store, StoreResult, Tx};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UserTotpRow {
    pub user_id: String,
    /// Base 32, as the app was given it.
    pub secret: String,
    /// `None` until a first code confirmed it.
    pub confirmed_at: Option<i64>,
    /// The highest step accepted so far.
    pub last_used_step: i64,
    pub created_at: i64,
}

impl Store {
    pub async fn user_totp(&self, user_id: &str) -> StoreResult<Option<UserTotpRow>> {
        Ok(sqlx::query_as(
            "SELECT user_id, secret, confirmed_at, last_used_step, created_at \
             FROM user_totp WHERE user_id = $1",
        )
        .bind(user_id)
        .fetch_optional(self.pool())
        .await?)
    }

    /// A new secret waiting for its first code, in place of one that waited before. A
    /// confirmed one stays: then this returns false.
    pub async fn put_unconfirmed_totp(
        tx: &mut Tx,
        user_id: &str,
        secret: &str,
        now: i64,
    ) -> StoreResult<bool> {
        sqlx::query("DELETE FROM user_totp WHERE user_id = $1 AND confirmed_at IS NULL")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        let inserted = sqlx::query(
            "INSERT INTO user_totp (user_id, secret, created_at) \
             SELECT $1, $2, $3 \
             WHERE NOT EXISTS (SELECT 1 FROM user_totp WHERE user_id = $1)",
        )
        .bind(user_id)
        .bind(secret)
        .bind(now)
        .execute(&mut **tx)
        .await?;
        Ok(inserted.rows_affected() == 1)
    }

    /// Confirms the waiting secret `secret` with the code of `step`; false if it is no
    /// longer the one waiting (confirmed, replaced or removed meanwhile).
    pub async fn confirm_totp(
        tx: &mut Tx,
        user_id: &str,
        secret: &str,
        step: i64,
        now: i64,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE user_totp SET confirmed_at = $1, last_used_step = $2 \
             WHERE user_id = $3 AND secret = $4 AND confirmed_at IS NULL",
        )
        .bind(now)
        .bind(step)
        .bind(user_id)
        .bind(secret)
        .execute(&mut **tx)
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Takes the code of `step` as used: true only for the first request to do so with a
    /// step past every one used before.
    pub async fn use_totp_step(&self, user_id: &str, step: i64) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE user_totp SET last_used_step = $1 \
             WHERE user_id = $2 AND confirmed_at IS NOT NULL AND last_used_step < $1",
        )
        .bind(step)
        .bind(user_id)
        .execute(self.writer())
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    /// Removes the user's authenticator app, confirmed or waiting; true if there was one.
    pub async fn delete_totp(tx: &mut Tx, user_id: &str) -> StoreResult<bool> {
        let deleted = sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    /// The user's recovery codes become these (hashes); the old ones, used or not, are gone.
    pub async fn replace_recovery_codes(
        tx: &mut Tx,
        user_id: &str,
        code_hashes: &[String],
        now: i64,
    ) -> StoreResult<()> {
        Self::delete_recovery_codes(tx, user_id).await?;
        for hash in code_hashes {
            sqlx::query(
                "INSERT INTO recovery_codes (user_id, code_hash, used_at, created_at) \
                 VALUES ($1, $2, NULL, $3)",
            )
            .bind(user_id)
            .bind(hash)
            .bind(now)
            .execute(&mut **tx)
            .await?;
        }
        Ok(())
    }

    pub async fn delete_recovery_codes(tx: &mut Tx, user_id: &str) -> StoreResult<u64> {
        let deleted = sqlx::query("DELETE FROM recovery_codes WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(deleted.rows_affected())
    }

    /// Uses the unused recovery code with this hash: true for the one request that does.
    pub async fn use_recovery_code(
        &self,
        user_id: &str,
        code_hash: &str,
        now: i64,
    ) -> StoreResult<bool> {
        let updated = sqlx::query(
            "UPDATE recovery_codes SET used_at = $1 \
             WHERE user_id = $2 AND code_hash = $3 AND used_at IS NULL",
        )
        .bind(now)
        .bind(user_id)
        .bind(code_hash)
        .execute(self.writer())
        .await?;
        Ok(updated.rows_affected() == 1)
    }

    pub async fn unused_recovery_codes(&self, user_id: &str) -> StoreResult<i64> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM recovery_codes WHERE user_id = $1 AND used_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?)
    }

    pub async fn passkey_count(&self, user_id: &str) -> StoreResult<i64> {
        Ok(
            sqlx::query_scalar("SELECT COUNT(*) FROM passkeys WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(self.pool())
                .await?,
        )
    }

    /// Whether the user has a second factor: a confirmed authenticator app or a passkey.
    pub async fn has_second_factor(&self, user_id: &str) -> StoreResult<bool> {
        let count: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL) \
                  + (SELECT COUNT(*) FROM passkeys WHERE user_id = $1)",
        )
        .bind(user_id)
        .fetch_one(self.pool())
        .await?;
        Ok(count > 0)
    }

    /// The ids of the merchant's users who have a second factor.
    pub async fn users_with_second_factor(&self, merchant_id: &str) -> StoreResult<Vec<String>> {
        Ok(sqlx::query_scalar(
            "SELECT id FROM users WHERE merchant_id = $1 AND (\
                EXISTS (SELECT 1 FROM user_totp t WHERE t.user_id = users.id AND t.confirmed_at IS NOT NULL) \
                OR EXISTS (SELECT 1 FROM passkeys p WHERE p.user_id = users.id))",
        )
        .bind(merchant_id)
        .fetch_all(self.pool())
        .await?)
    }

    /// Removes every second factor of the user (authenticator app, passkeys, recovery
    /// codes); returns how many of each went: (apps, passkeys, recovery codes).
    pub async fn delete_second_factors(tx: &mut Tx, user_id: &str) -> StoreResult<(u64, u64, u64)> {
        let apps =
            sqlx::query("DELETE FROM user_totp WHERE user_id = $1 AND confirmed_at IS NOT NULL")
                .bind(user_id)
                .execute(&mut **tx)
                .await?
                .rows_affected();
        sqlx::query("DELETE FROM user_totp WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        let passkeys = sqlx::query("DELETE FROM passkeys WHERE user_id = $1")
            .bind(user_id)
            .execute(&mut **tx)
            .await?
            .rows_affected();
        let codes = Self::delete_recovery_codes(tx, user_id).await?;
        Ok((apps, passkeys, codes))
    }

    /// Ends every session of the user granted before `at`: sessions remember the
    /// `password_changed_at` they saw, and one that differs ends (the column is the
    /// sessions' cut-off, moved by a password change and by removing a second factor).
    pub async fn end_user_sessions(tx: &mut Tx, user_id: &str, at: i64) -> StoreResult<()> {
        sqlx::query("UPDATE users SET password_changed_at = $1 WHERE id = $2")
            .bind(at)
            .bind(user_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }

    pub async fn set_second_factor_required(
        tx: &mut Tx,
        merchant_id: &str,
        required: bool,
    ) -> StoreResult<()> {
        sqlx::query("UPDATE merchants SET require_second_factor = $1 WHERE id = $2")
            .bind(i64::from(required))
            .bind(merchant_id)
            .execute(&mut **tx)
            .await?;
        Ok(())
    }
}
