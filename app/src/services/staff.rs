//! Merchant staff in the portal: signing in, whose session is still good, managing users
//! and API keys, changing one's own password.

use std::sync::OnceLock;
use std::time::Duration;

use serde_json::json;

use crate::domain::FieldError;
use crate::domain::role::Role;
use crate::model::{ApiKeySummary, StaffUser, UserSummary};
use crate::secrets;
use crate::store::{Store, UserRow};

use super::accounts::MIN_PASSWORD_LENGTH;
use super::attempts::AttemptLimit;
use super::{Actor, ActorKind, ServiceError, ServiceResult, Services, audit, rfc3339};

/// Failed sign-ins counted per window, per account and per client address.
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;
pub const LOGIN_FAILURES_PER_ACCOUNT: i64 = 10;
pub const LOGIN_FAILURES_PER_ADDRESS: i64 = 30;
/// From this many failures on, each further attempt is answered more slowly.
const SLOW_DOWN_AFTER: i64 = 3;
/// A session ends this long after sign-in, however active.
pub const SESSION_ABSOLUTE_MS: i64 = 7 * 24 * 3600 * 1000;

/// What a session remembers of its user: who, and which password and sign-in it saw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionGrant {
    pub user_id: String,
    pub password_changed_at: i64,
    pub signed_in_at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// The same answer for an unknown email and a wrong password.
    #[error("wrong email or password")]
    WrongCredentials,
    #[error("this account is disabled; ask an admin of your merchant")]
    Disabled,
    #[error("too many failed sign-ins; try again in {} minutes", (retry_after_seconds + 59) / 60)]
    TooManyAttempts { retry_after_seconds: i64 },
    #[error("signing in is not possible right now; try again")]
    Unavailable,
}

/// A hash to verify against when the email is unknown, so that the answer takes as long
/// as for a known one.
fn decoy_hash() -> &'static str {
    static DECOY: OnceLock<String> = OnceLock::new();
    DECOY.get_or_init(|| {
        secrets::hash_password("decoy password for unknown emails").unwrap_or_default()
    })
}

async fn verify_off_runtime(password: String, hash: String) -> bool {
    tokio::task::spawn_blocking(move || secrets::verify_password(&password, &hash))
        .await
        .unwrap_or(false)
}

async fn hash_off_runtime(password: String) -> ServiceResult<String> {
    tokio::task::spawn_blocking(move || secrets::hash_password(&password))
        .await
        .map_err(|_| ServiceError::Conflict("password hashing was interrupted; try again".into()))?
        .map_err(|_| ServiceError::field("password", "this password cannot be used"))
}

fn validate_new_password(field: &str, password: &str) -> Result<(), FieldError> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(FieldError::new(
            field,
            format!("a password has at least {MIN_PASSWORD_LENGTH} characters"),
        ));
    }
    if password.chars().count() > 1000 {
        return Err(FieldError::new(
            field,
            "a password has at most 1000 characters",
        ));
    }
    Ok(())
}

fn role_of(row: &UserRow) -> Role {
    // The schema allows no other value; a stranger one gets the least access.
    Role::parse(&row.role).unwrap_or(Role::StoreManager)
}

impl Services {
    /// Checks an email and password; returns what the new session should remember.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client_address: &str,
    ) -> Result<SessionGrant, LoginError> {
        let email = email.trim().to_lowercase();
        let account_bucket = format!("login:email:{email}");
        let address_bucket = format!("login:addr:{client_address}");
        let buckets = [account_bucket.as_str(), address_bucket.as_str()];
        let limits = [
            AttemptLimit {
                bucket: &account_bucket,
                max: LOGIN_FAILURES_PER_ACCOUNT,
            },
            AttemptLimit {
                bucket: &address_bucket,
                max: LOGIN_FAILURES_PER_ADDRESS,
            },
        ];
        match self
            .check_attempt_limits(&limits, LOGIN_WINDOW_SECONDS)
            .await
        {
            Err(ServiceError::RateLimited {
                retry_after_seconds,
            }) => {
                return Err(LoginError::TooManyAttempts {
                    retry_after_seconds,
                });
            }
            Err(_) => return Err(LoginError::Unavailable),
            Ok(()) => {}
        }
        let failures = self
            .attempt_failures(&buckets, LOGIN_WINDOW_SECONDS)
            .await
            .map_err(|_| LoginError::Unavailable)?;
        if failures >= SLOW_DOWN_AFTER {
            let delay_ms = ((failures - SLOW_DOWN_AFTER + 1) * 500).min(3000) as u64;
            tokio::time::sleep(Duration::from_millis(delay_ms)).await;
        }

        let user = self
            .store
            .user_by_email(&email)
            .await
            .map_err(|_| LoginError::Unavailable)?;
        let hash = user
            .as_ref()
            .map_or_else(|| decoy_hash().to_owned(), |u| u.password_hash.clone());
        let verified = verify_off_runtime(password.to_owned(), hash).await;
        let Some(user) = user.filter(|_| verified) else {
            self.record_failed_attempt(&buckets, LOGIN_WINDOW_SECONDS)
                .await
                .map_err(|_| LoginError::Unavailable)?;
            return Err(LoginError::WrongCredentials);
        };
        if user.disabled_at.is_some() {
            return Err(LoginError::Disabled);
        }
        Ok(SessionGrant {
            user_id: user.id,
            password_changed_at: user.password_changed_at,
            signed_in_at: self.now(),
        })
    }

    /// The user a session belongs to, while the session is still good: the user is not
    /// disabled, has not changed password since, and signed in recently enough.
    pub async fn session_user(&self, grant: &SessionGrant) -> ServiceResult<Option<StaffUser>> {
        let Some(user) = self.store.user(&grant.user_id).await? else {
            return Ok(None);
        };
        let expired = self.now() - grant.signed_in_at > SESSION_ABSOLUTE_MS;
        if user.disabled_at.is_some()
            || user.password_changed_at != grant.password_changed_at
            || expired
        {
            return Ok(None);
        }
        let merchant = self
            .store
            .merchant(&user.merchant_id)
            .await?
            .ok_or(ServiceError::NotFound("merchant"))?;
        let role = role_of(&user);
        let location_ids = if role.sees_all_locations() {
            Vec::new()
        } else {
            self.store.user_location_ids(&user.id).await?
        };
        Ok(Some(StaffUser {
            id: user.id,
            email: user.email,
            role,
            merchant_id: user.merchant_id,
            merchant_name: merchant.name,
            location_ids,
            must_change_password: user.must_change_password != 0,
        }))
    }

    /// What a signed-in user may touch: their merchant, and for a store manager their
    /// locations only.
    pub fn staff_actor(user: &StaffUser) -> Actor {
        Actor {
            merchant_id: user.merchant_id.clone(),
            kind: ActorKind::User,
            id: Some(user.id.clone()),
            label: user.email.clone(),
            allowed_locations: (!user.role.sees_all_locations()).then(|| user.location_ids.clone()),
        }
    }

    pub async fn list_users(&self, actor: &Actor) -> ServiceResult<Vec<UserSummary>> {
        let mut summaries = Vec::new();
        for row in self.store.users(&actor.merchant_id).await? {
            let location_ids = self.store.user_location_ids(&row.id).await?;
            summaries.push(UserSummary {
                role: role_of(&row),
                id: row.id,
                email: row.email,
                location_ids,
                created_at: rfc3339(row.created_at),
                disabled: row.disabled_at.is_some(),
            });
        }
        Ok(summaries)
    }

    /// A new user with a generated one-time password, returned this once; they choose
    /// their own at first sign-in.
    pub async fn create_user_with_one_time_password(
        &self,
        actor: &Actor,
        email: &str,
        role: Role,
        location_ids: Vec<String>,
    ) -> ServiceResult<(super::CreatedUser, String)> {
        let password = one_time_password();
        let input = super::NewUserInput {
            merchant_id: actor.merchant_id.clone(),
            email: email.to_owned(),
            password: password.clone(),
            role,
            location_ids,
        };
        let created = self.create_user_inner(actor, input, true).await?;
        Ok((created, password))
    }

    pub async fn update_user_access(
        &self,
        actor: &Actor,
        user_id: &str,
        role: Role,
        location_ids: Vec<String>,
    ) -> ServiceResult<()> {
        let user = self.merchant_user(actor, user_id).await?;
        if actor.id.as_deref() == Some(user_id) && role != Role::Admin {
            return Err(ServiceError::field(
                "role",
                "you cannot take away your own admin role",
            ));
        }
        let location_ids = if role == Role::StoreManager {
            location_ids
        } else {
            Vec::new()
        };
        if role == Role::StoreManager && location_ids.is_empty() {
            return Err(ServiceError::field(
                "location",
                "a store manager needs at least one location",
            ));
        }
        for location_id in &location_ids {
            if self
                .store
                .location(&actor.merchant_id, location_id)
                .await?
                .is_none()
            {
                return Err(ServiceError::field(
                    "location",
                    "no such location at this merchant",
                ));
            }
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        Store::update_user_access(
            &mut tx,
            &actor.merchant_id,
            user_id,
            role.as_str(),
            &location_ids,
        )
        .await?;
        audit(
            &mut tx,
            actor,
            now,
            "user.access_changed",
            ("user", user_id),
            json!({"email": user.email, "role": role.as_str(), "location_ids": location_ids}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A disabled user's sessions end at once: every request checks.
    pub async fn set_user_disabled(
        &self,
        actor: &Actor,
        user_id: &str,
        disabled: bool,
    ) -> ServiceResult<()> {
        let user = self.merchant_user(actor, user_id).await?;
        if disabled && actor.id.as_deref() == Some(user_id) {
            return Err(ServiceError::Conflict(
                "you cannot disable your own account".into(),
            ));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        Store::set_user_disabled(
            &mut tx,
            &actor.merchant_id,
            user_id,
            disabled.then_some(now),
        )
        .await?;
        let action = if disabled {
            "user.disabled"
        } else {
            "user.enabled"
        };
        audit(
            &mut tx,
            actor,
            now,
            action,
            ("user", user_id),
            json!({"email": user.email}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Changes the signed-in user's password; their other sessions end. Returns the grant
    /// the current session keeps.
    pub async fn change_own_password(
        &self,
        user: &StaffUser,
        current: &str,
        new: &str,
    ) -> ServiceResult<SessionGrant> {
        let row = self
            .store
            .user(&user.id)
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        if !verify_off_runtime(current.to_owned(), row.password_hash.clone()).await {
            return Err(ServiceError::field(
                "current_password",
                "this is not your current password",
            ));
        }
        validate_new_password("new_password", new)?;
        if new == current {
            return Err(ServiceError::field(
                "new_password",
                "choose a password different from the current one",
            ));
        }
        let hash = hash_off_runtime(new.to_owned()).await?;
        // Strictly later than before, so sessions granted in the same millisecond end too.
        let now = self.now().max(row.password_changed_at + 1);
        let actor = Self::staff_actor(user);
        let mut tx = self.store.begin().await?;
        Store::set_user_password(&mut tx, &user.id, &hash, false, now).await?;
        audit(
            &mut tx,
            &actor,
            now,
            "user.password_changed",
            ("user", &user.id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(SessionGrant {
            user_id: user.id.clone(),
            password_changed_at: now,
            signed_in_at: now,
        })
    }

    pub async fn list_api_keys(&self, actor: &Actor) -> ServiceResult<Vec<ApiKeySummary>> {
        Ok(self
            .store
            .api_keys(&actor.merchant_id)
            .await?
            .into_iter()
            .map(|row| ApiKeySummary {
                id: row.id,
                name: row.name,
                key_prefix: row.key_prefix,
                created_by: row.created_by_email,
                created_at: rfc3339(row.created_at),
                last_used_at: row.last_used_at.map(rfc3339),
                revoked_at: row.revoked_at.map(rfc3339),
            })
            .collect())
    }

    /// The key is refused by the API from the moment this returns.
    pub async fn revoke_api_key(&self, actor: &Actor, key_id: &str) -> ServiceResult<()> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        if !Store::revoke_api_key(&mut tx, &actor.merchant_id, key_id, now).await? {
            return Err(ServiceError::NotFound("API key"));
        }
        audit(
            &mut tx,
            actor,
            now,
            "api_key.revoked",
            ("api_key", key_id),
            json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    async fn merchant_user(&self, actor: &Actor, user_id: &str) -> ServiceResult<UserRow> {
        self.store
            .user(user_id)
            .await?
            .filter(|user| user.merchant_id == actor.merchant_id)
            .ok_or(ServiceError::NotFound("user"))
    }
}

/// Easy to read out and type: four groups of four letters and digits.
fn one_time_password() -> String {
    let raw = secrets::new_secret("").plaintext;
    raw.as_bytes()
        .chunks(4)
        .take(4)
        .map(|chunk| String::from_utf8_lossy(chunk).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_passwords_are_long_enough_and_differ() {
        let a = one_time_password();
        assert_eq!(a.len(), 19);
        assert!(a.len() >= MIN_PASSWORD_LENGTH);
        assert_ne!(a, one_time_password());
    }

    #[test]
    fn new_passwords_have_a_minimum_length() {
        assert!(validate_new_password("p", "short").is_err());
        assert!(validate_new_password("p", "long enough pass").is_ok());
    }
}
