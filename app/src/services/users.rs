//! Merchant staff: creating users, their roles and locations, disabling them, and a
//! user changing their own password.

use serde::Serialize;
use serde_json::json;

use crate::domain::role::Role;
use crate::domain::text::{MAX_ID_LENGTH, is_plausible_email};
use crate::domain::{FieldError, Permission};
use crate::model::{StaffUser, UserSummary};
use crate::passwords::{
    self, MAX_PASSWORD_LENGTH, hash_off_runtime, validate_new_password, verify_off_runtime,
};
use crate::store::{NewUser, Store, StoreError, UserRow};

use super::attempts::{AttemptLimit, LOGIN_KIND};
use super::auth::{
    LOGIN_FAILURES_PER_ACCOUNT, LOGIN_WINDOW_SECONDS, SessionGrant, account_bucket, role_of,
};
use super::{Actor, ServiceError, ServiceResult, Services, audit, new_id, rfc3339};

/// The most locations a store manager is given: past that, a role that sees all fits.
pub const MAX_USER_LOCATIONS: usize = 200;

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

impl Services {
    /// A new user with the password given.
    #[tracing::instrument(skip_all)]
    pub async fn create_user(
        &self,
        actor: &Actor,
        input: NewUserInput,
    ) -> ServiceResult<CreatedUser> {
        self.insert_user(actor, input, false).await
    }

    /// A new user with a generated one-time password, returned this once; they choose
    /// their own at first sign-in.
    #[tracing::instrument(skip_all)]
    pub async fn create_user_with_one_time_password(
        &self,
        actor: &Actor,
        email: &str,
        role: Role,
        location_ids: Vec<String>,
    ) -> ServiceResult<(CreatedUser, String)> {
        let password = passwords::one_time_password();
        let input = NewUserInput {
            merchant_id: actor.merchant_id.clone(),
            email: email.to_owned(),
            password: password.clone(),
            role,
            location_ids,
        };
        let created = self.insert_user(actor, input, true).await?;
        Ok((created, password))
    }

    async fn insert_user(
        &self,
        actor: &Actor,
        input: NewUserInput,
        one_time_password: bool,
    ) -> ServiceResult<CreatedUser> {
        actor.require(Permission::ManageUsers)?;
        if input.merchant_id != actor.merchant_id {
            return Err(ServiceError::NotFound("merchant"));
        }
        let email = input.email.trim().to_lowercase();
        let mut errors = Vec::new();
        if !is_plausible_email(&email) {
            errors.push(FieldError::new(
                "email",
                "enter an email address like name@example.com",
            ));
        }
        if let Err(error) = validate_new_password("password", &input.password) {
            errors.push(error);
        }
        let location_ids = match self
            .access_locations(actor, input.role, input.location_ids)
            .await
        {
            Ok(ids) => ids,
            Err(ServiceError::Validation(more)) => {
                errors.extend(more);
                Vec::new()
            }
            Err(other) => return Err(other),
        };
        if !errors.is_empty() {
            return Err(ServiceError::Validation(errors));
        }
        self.require_merchant(actor).await?;
        let password_hash = hash_off_runtime(input.password).await?;
        let now = self.now();
        let id = new_id();
        let mut tx = self.store.begin().await?;
        let inserted = Store::insert_user(
            &mut tx,
            &NewUser {
                id: &id,
                merchant_id: &actor.merchant_id,
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
            merchant_id: actor.merchant_id.clone(),
            email,
            role: input.role,
            location_ids,
            created_at: rfc3339(now),
        })
    }

    /// The locations a user with `role` is limited to: a store manager's must be at least
    /// one, each of this merchant; other roles see every location and keep none.
    async fn access_locations(
        &self,
        actor: &Actor,
        role: Role,
        location_ids: Vec<String>,
    ) -> ServiceResult<Vec<String>> {
        if role.sees_all_locations() {
            return Ok(Vec::new());
        }
        if location_ids.is_empty() {
            return Err(ServiceError::field(
                "location",
                "a store manager needs at least one location",
            ));
        }
        if location_ids.len() > MAX_USER_LOCATIONS {
            return Err(ServiceError::field(
                "location",
                format!("a store manager has at most {MAX_USER_LOCATIONS} locations"),
            ));
        }
        let mut errors = Vec::new();
        for location_id in &location_ids {
            if location_id.chars().count() > MAX_ID_LENGTH {
                errors.push(FieldError::new(
                    "location",
                    "no such location at this merchant",
                ));
                continue;
            }
            if self
                .store
                .location(&actor.merchant_id, location_id)
                .await?
                .is_none()
            {
                errors.push(FieldError::new(
                    "location",
                    format!("no location {location_id} at this merchant"),
                ));
            }
        }
        if errors.is_empty() {
            Ok(location_ids)
        } else {
            Err(ServiceError::Validation(errors))
        }
    }

    pub async fn list_users(&self, actor: &Actor) -> ServiceResult<Vec<UserSummary>> {
        actor.require(Permission::ManageUsers)?;
        let mut summaries = Vec::new();
        let with_second_factor = self
            .store
            .users_with_second_factor(&actor.merchant_id)
            .await?;
        for row in self.store.users(&actor.merchant_id).await? {
            let location_ids = self.store.user_location_ids(&row.id).await?;
            summaries.push(UserSummary {
                has_second_factor: with_second_factor.contains(&row.id),
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

    #[tracing::instrument(skip_all)]
    pub async fn update_user_access(
        &self,
        actor: &Actor,
        user_id: &str,
        role: Role,
        location_ids: Vec<String>,
    ) -> ServiceResult<()> {
        actor.require(Permission::ManageUsers)?;
        let user = self.merchant_user(actor, user_id).await?;
        if actor.id.as_deref() == Some(user_id) && role != Role::Admin {
            return Err(ServiceError::field(
                "role",
                "you cannot take away your own admin role",
            ));
        }
        let location_ids = self.access_locations(actor, role, location_ids).await?;
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
    #[tracing::instrument(skip_all)]
    pub async fn set_user_disabled(
        &self,
        actor: &Actor,
        user_id: &str,
        disabled: bool,
    ) -> ServiceResult<()> {
        actor.require(Permission::ManageUsers)?;
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
        if disabled {
            super::security::user_disabled(actor, user_id, &user.email);
        }
        Ok(())
    }

    /// Changes the signed-in user's password; their other sessions end. Returns the grant
    /// the current session keeps.
    #[tracing::instrument(skip_all)]
    pub async fn change_own_password(
        &self,
        user: &StaffUser,
        current: &str,
        new: &str,
    ) -> ServiceResult<SessionGrant> {
        // No password is this long: refused before any hashing.
        if current.chars().count() > MAX_PASSWORD_LENGTH {
            return Err(ServiceError::field(
                "current_password",
                "this is not your current password",
            ));
        }
        let row = self
            .store
            .user(&user.id)
            .await?
            .ok_or(ServiceError::Unauthorized(super::auth::SESSION_ENDED))?;
        let account_bucket = account_bucket(&row.email);
        let limits = [AttemptLimit {
            bucket: &account_bucket,
            max: LOGIN_FAILURES_PER_ACCOUNT,
            per: "account",
        }];
        let attempt = match self
            .count_attempt(LOGIN_KIND, &limits, LOGIN_WINDOW_SECONDS)
            .await?
        {
            Ok(attempt) => attempt,
            Err(refusal) => return Err(refusal.error("password checks")),
        };
        match verify_off_runtime(current.to_owned(), Some(row.password_hash.clone())).await {
            Ok(true) => self.give_back(attempt).await?,
            // A wrong password stays counted.
            Ok(false) => {
                return Err(ServiceError::field(
                    "current_password",
                    "this is not your current password",
                ));
            }
            Err(busy) => {
                // Not checked, so not a failure.
                self.give_back(attempt).await?;
                return Err(busy.into());
            }
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
        super::security::password_changed(user);
        Ok(SessionGrant {
            user_id: user.id.clone(),
            password_changed_at: now,
            signed_in_at: now,
        })
    }

    /// The time zone the user reads the portal's times in: a name the zone database knows
    /// (`Europe/Stockholm`), or `None` for their browser's. Returns the name as the
    /// database spells it.
    pub async fn set_own_time_zone(
        &self,
        user: &StaffUser,
        zone: Option<&str>,
    ) -> ServiceResult<Option<String>> {
        let zone = match zone.map(str::trim).filter(|z| !z.is_empty()) {
            None => None,
            Some(name) => Some(
                crate::local_time::Zone::named(name)
                    .ok_or_else(|| {
                        ServiceError::field("time_zone", "choose a time zone from the list")
                    })?
                    .name()
                    .to_owned(),
            ),
        };
        self.store
            .set_user_time_zone(&user.id, zone.as_deref())
            .await?;
        Ok(zone)
    }

    pub(super) async fn merchant_user(
        &self,
        actor: &Actor,
        user_id: &str,
    ) -> ServiceResult<UserRow> {
        self.store
            .user(user_id)
            .await?
            .filter(|user| user.merchant_id == actor.merchant_id)
            .ok_or(ServiceError::NotFound("user"))
    }
}
