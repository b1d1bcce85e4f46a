//! Merchants, locations, staff users and API keys as operators create them, and the
//! authentication of API keys and device tokens.

use serde::Serialize;
use serde_json::json;

use crate::domain::role::Role;
use crate::model::Location;
use crate::secrets::{self, API_KEY_PREFIX};
use crate::store::{LocationRow, MerchantRow, NewApiKey, NewUser, Store, StoreError};

use super::{Actor, ActorKind, ServiceError, ServiceResult, Services, audit, new_id, rfc3339};

pub const MIN_PASSWORD_LENGTH: usize = 12;

#[derive(Debug, Clone, Serialize)]
pub struct CreatedMerchant {
    pub id: String,
    pub name: String,
    pub created_at: String,
}

pub struct NewUserInput {
    pub merchant_id: String,
    pub email: String,
    pub password: String,
    pub role: Role,
    pub location_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatedUser {
    pub id: String,
    pub merchant_id: String,
    pub email: String,
    pub role: Role,
    pub location_ids: Vec<String>,
    pub created_at: String,
}

/// A new key: `key` is the secret, shown this once.
#[derive(Clone, Serialize)]
pub struct CreatedApiKey {
    pub id: String,
    pub merchant_id: String,
    pub name: String,
    pub key: String,
    pub key_prefix: String,
    pub created_at: String,
}

pub(crate) fn optional_text(
    field: &str,
    value: Option<&str>,
    max: usize,
) -> ServiceResult<Option<String>> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(value) => Ok(Some(required_text(field, value, max)?)),
        None => Ok(None),
    }
}

pub(crate) fn required_text(field: &str, value: &str, max: usize) -> ServiceResult<String> {
    let trimmed = value.trim();
    if trimmed.is_empty() || trimmed.chars().count() > max {
        return Err(ServiceError::field(
            field,
            format!("{field} has 1 to {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

pub(crate) fn location_view(row: LocationRow) -> Location {
    Location {
        id: row.id,
        merchant_id: row.merchant_id,
        name: row.name,
        city: row.city,
        created_at: rfc3339(row.created_at),
    }
}

impl Services {
    pub async fn create_merchant(&self, name: &str) -> ServiceResult<CreatedMerchant> {
        let name = required_text("name", name, 200)?;
        let now = self.now();
        let merchant = MerchantRow {
            id: new_id(),
            name,
            created_at: now,
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

    pub async fn create_location(
        &self,
        actor: &Actor,
        name: &str,
        city: Option<&str>,
    ) -> ServiceResult<Location> {
        let name = required_text("name", name, 200)?;
        let city = optional_text("city", city, 200)?;
        self.store
            .merchant(&actor.merchant_id)
            .await?
            .ok_or(ServiceError::NotFound("merchant"))?;
        let now = self.now();
        let row = LocationRow {
            id: new_id(),
            merchant_id: actor.merchant_id.clone(),
            name,
            city,
            created_at: now,
            updated_at: now,
        };
        let mut tx = self.store.begin().await?;
        Store::insert_location(&mut tx, &row).await?;
        audit(
            &mut tx,
            actor,
            now,
            "location.created",
            ("location", &row.id),
            json!({"name": row.name, "city": row.city}),
        )
        .await?;
        tx.commit().await?;
        Ok(location_view(row))
    }

    /// A new user with the password given.
    pub async fn create_user(
        &self,
        actor: &Actor,
        input: NewUserInput,
    ) -> ServiceResult<CreatedUser> {
        self.create_user_inner(actor, input, false).await
    }

    pub(crate) async fn create_user_inner(
        &self,
        actor: &Actor,
        input: NewUserInput,
        one_time_password: bool,
    ) -> ServiceResult<CreatedUser> {
        let email = input.email.trim().to_lowercase();
        let mut errors = Vec::new();
        if !is_plausible_email(&email) {
            errors.push(crate::domain::FieldError::new(
                "email",
                "enter an email address like name@example.com",
            ));
        }
        if input.password.chars().count() < MIN_PASSWORD_LENGTH {
            errors.push(crate::domain::FieldError::new(
                "password",
                format!("a password has at least {MIN_PASSWORD_LENGTH} characters"),
            ));
        }
        if input.role == Role::StoreManager && input.location_ids.is_empty() {
            errors.push(crate::domain::FieldError::new(
                "location",
                "a store manager needs at least one location",
            ));
        }
        for location_id in &input.location_ids {
            if self
                .store
                .location(&input.merchant_id, location_id)
                .await?
                .is_none()
            {
                errors.push(crate::domain::FieldError::new(
                    "location",
                    format!("no location {location_id} at this merchant"),
                ));
            }
        }
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        self.store
            .merchant(&input.merchant_id)
            .await?
            .ok_or(ServiceError::NotFound("merchant"))?;
        let password = input.password;
        // Hashing takes a good fraction of a second on purpose: keep it off the async workers.
        let password_hash = tokio::task::spawn_blocking(move || secrets::hash_password(&password))
            .await
            .map_err(|_| ServiceError::Conflict("password hashing was interrupted".into()))?
            .map_err(|_| ServiceError::field("password", "this password cannot be used"))?;
        let now = self.now();
        let id = new_id();
        let location_ids = if input.role == Role::StoreManager {
            input.location_ids
        } else {
            Vec::new()
        };
        let mut tx = self.store.begin().await?;
        let inserted = Store::insert_user(
            &mut tx,
            &NewUser {
                id: &id,
                merchant_id: &input.merchant_id,
                email: &email,
                password_hash: &password_hash,
                role: input.role.as_str(),
                location_ids: &location_ids,
                must_change_password: one_time_password,
                now,
            },
        )
        .await;
        match inserted {
            Err(StoreError::UniqueViolation) => {
                return Err(ServiceError::field(
                    "email",
                    "a user with this email already exists",
                ));
            }
            other => other?,
        }
        audit(
            &mut tx,
            actor,
            now,
            "user.created",
            ("user", &id),
            json!({"email": email, "role": input.role.as_str()}),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedUser {
            id,
            merchant_id: input.merchant_id,
            email,
            role: input.role,
            location_ids,
            created_at: rfc3339(now),
        })
    }

    pub async fn create_api_key(&self, actor: &Actor, name: &str) -> ServiceResult<CreatedApiKey> {
        let name = required_text("name", name, 100)?;
        self.store
            .merchant(&actor.merchant_id)
            .await?
            .ok_or(ServiceError::NotFound("merchant"))?;
        let secret = secrets::new_secret(API_KEY_PREFIX);
        let key_prefix = secrets::display_prefix(&secret.plaintext);
        let now = self.now();
        let id = new_id();
        let created_by_user_id = (actor.kind == ActorKind::User)
            .then(|| actor.id.clone())
            .flatten();
        let mut tx = self.store.begin().await?;
        Store::insert_api_key(
            &mut tx,
            &NewApiKey {
                id: &id,
                merchant_id: &actor.merchant_id,
                name: &name,
                key_prefix: &key_prefix,
                key_hash: &secret.hash,
                created_by_user_id: created_by_user_id.as_deref(),
                now,
            },
        )
        .await?;
        audit(
            &mut tx,
            actor,
            now,
            "api_key.created",
            ("api_key", &id),
            json!({"name": name, "key_prefix": key_prefix}),
        )
        .await?;
        tx.commit().await?;
        Ok(CreatedApiKey {
            id,
            merchant_id: actor.merchant_id.clone(),
            name,
            key: secret.plaintext,
            key_prefix,
            created_at: rfc3339(now),
        })
    }

    /// The merchant system behind an API key. `claimed_merchant` is the merchant the
    /// client says it is (Basic auth user, `x-merchant-id`); it must be the key's.
    pub async fn authenticate_api_key(
        &self,
        key: &str,
        claimed_merchant: Option<&str>,
    ) -> ServiceResult<Actor> {
        let row = self
            .store
            .active_api_key_by_hash(&secrets::hash_secret(key))
            .await?
            .ok_or(ServiceError::Unauthorized)?;
        if claimed_merchant.is_some_and(|claimed| claimed != row.merchant_id) {
            return Err(ServiceError::Unauthorized);
        }
        self.store.touch_api_key(&row.id, self.now()).await?;
        Ok(Actor {
            merchant_id: row.merchant_id,
            kind: ActorKind::ApiKey,
            id: Some(row.id),
            label: row.name,
            allowed_locations: None,
        })
    }
}

fn is_plausible_email(email: &str) -> bool {
    match email.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && email.len() <= 254
                && !email.chars().any(char::is_whitespace)
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::is_plausible_email;

    #[test]
    fn emails_need_a_local_part_and_a_domain() {
        assert!(is_plausible_email("ops@shop.example"));
        assert!(!is_plausible_email("ops@shop"));
        assert!(!is_plausible_email("@shop.example"));
        assert!(!is_plausible_email("ops shop@x.example"));
        assert!(!is_plausible_email("ops.example"));
    }
}
