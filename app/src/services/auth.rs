//! Who is calling: staff signing in and their sessions, merchant systems by API key,
//! devices by bearer token. Each answer is an [`Actor`] the other services check.

use std::time::Duration;

use crate::domain::FieldError;
use crate::domain::role::Role;
use crate::domain::text::MAX_EMAIL_LENGTH;
use crate::model::{Device, StaffUser};
use crate::passwords::{MAX_PASSWORD_LENGTH, verify_off_runtime};
use crate::secrets;
use crate::store::UserRow;

use super::attempts::{Attempt, AttemptLimit, LOGIN_KIND, Refusal, address_key};
use super::{Actor, ActorKind, ServiceError, ServiceResult, Services, security};

/// Failed sign-ins counted per window, per account and per client address.
pub const LOGIN_WINDOW_SECONDS: i64 = 15 * 60;
pub const LOGIN_FAILURES_PER_ACCOUNT: i64 = 10;
pub const LOGIN_FAILURES_PER_ADDRESS: i64 = 30;
/// From this many failures on, each further attempt is answered more slowly.
const SLOW_DOWN_AFTER: i64 = 3;
/// How long portal sessions last: ASVS level 2 asks for an end after at most 30 minutes
/// unused and 12 hours however active, the defaults here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionLifetimes {
    /// A session unused this long ends.
    pub idle: Duration,
    /// A session ends this long after sign-in, however active.
    pub absolute: Duration,
}

impl Default for SessionLifetimes {
    fn default() -> Self {
        Self {
            idle: Duration::from_secs(30 * 60),
            absolute: Duration::from_secs(12 * 3600),
        }
    }
}

impl SessionLifetimes {
    fn idle_ms(&self) -> i64 {
        i64::try_from(self.idle.as_millis()).unwrap_or(i64::MAX)
    }

    fn absolute_ms(&self) -> i64 {
        i64::try_from(self.absolute.as_millis()).unwrap_or(i64::MAX)
    }
}

/// The same answer for an unknown email and a wrong password.
pub const WRONG_CREDENTIALS: &str = "wrong email or password";
pub const ACCOUNT_DISABLED: &str = "this account is disabled; ask an admin of your merchant";
pub const SESSION_ENDED: &str = "your session has ended; sign in again";
pub const PASSWORD_CHANGE_REQUIRED: &str =
    "you signed in with a one-time password: choose your own password on My account first";
pub const SECOND_FACTOR_REQUIRED: &str =
    "your merchant requires a second factor: set one up on My account first";
pub const BAD_API_CREDENTIALS: &str =
    "send a valid API key (Bearer, or Basic with the merchant id as user name) or device token";

/// What a session remembers of its user: who, and which password and sign-in it saw.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SessionGrant {
    pub user_id: String,
    pub password_changed_at: i64,
    pub signed_in_at: i64,
}

/// An email or password longer than any account can have is refused before anything is
/// counted, looked up or hashed.
fn check_credentials_length(email: &str, password: &str) -> ServiceResult<()> {
    let mut errors = Vec::new();
    if email.trim().chars().count() > MAX_EMAIL_LENGTH {
        errors.push(FieldError::new(
            "email",
            format!("an email address has at most {MAX_EMAIL_LENGTH} characters"),
        ));
    }
    if password.chars().count() > MAX_PASSWORD_LENGTH {
        errors.push(FieldError::new(
            "password",
            format!("a password has at most {MAX_PASSWORD_LENGTH} characters"),
        ));
    }
    match errors.is_empty() {
        true => Ok(()),
        false => Err(ServiceError::Validation(errors)),
    }
}

pub(crate) fn role_of(row: &UserRow) -> Role {
    // The schema allows no other value; a stranger one gets the least access.
    Role::parse(&row.role).unwrap_or(Role::StoreManager)
}

/// The failed-password counter of one account: sign-ins and password changes share it,
/// so a stolen session cannot guess the current password faster than the sign-in form.
pub(crate) fn account_bucket(email: &str) -> String {
    format!("login:email:{email}")
}

impl Services {
    /// Counts a sign-in attempt from `client_address` as a failure until given back: per
    /// account where the account is known (`email`, lower case) and per address. Passwords,
    /// passkeys and second-step codes share these limits. Past a few failures each attempt
    /// waits a little first; past a limit it is refused unchecked.
    pub(crate) async fn count_sign_in_attempt(
        &self,
        email: Option<&str>,
        client_address: &str,
    ) -> ServiceResult<Result<Attempt, Refusal>> {
        // Longer emails were refused before: the counters never store more than that.
        let account_bucket = email.map(account_bucket);
        let address_bucket = format!("login:addr:{}", address_key(client_address));
        let mut limits = Vec::with_capacity(2);
        if let Some(bucket) = &account_bucket {
            limits.push(AttemptLimit {
                bucket,
                max: LOGIN_FAILURES_PER_ACCOUNT,
                per: "account",
            });
        }
        limits.push(AttemptLimit {
            bucket: &address_bucket,
            max: LOGIN_FAILURES_PER_ADDRESS,
            per: "address",
        });
        let counted = self
            .count_attempt(LOGIN_KIND, &limits, LOGIN_WINDOW_SECONDS)
            .await?;
        if let Ok(attempt) = &counted {
            let failures = attempt.failures_before();
            if failures >= SLOW_DOWN_AFTER {
                let delay_ms = ((failures - SLOW_DOWN_AFTER + 1) * 500).min(3000) as u64;
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
            }
        }
        Ok(counted)
    }

    /// Checks an email and password; returns what the new session should remember.
    ///
    /// The attempt counts as a failure, per account and per client address, from before
    /// the password is checked: parallel guesses each see the ones before them, and past
    /// a limit are refused unchecked. A right password gives the attempt back.
    #[tracing::instrument(skip_all)]
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        client_address: &str,
    ) -> ServiceResult<SessionGrant> {
        let grant = self.check_login(email, password, client_address).await;
        crate::metrics::login(&grant);
        grant
    }

    async fn check_login(
        &self,
        email: &str,
        password: &str,
        client_address: &str,
    ) -> ServiceResult<SessionGrant> {
        check_credentials_length(email, password)?;
        let email = email.trim().to_lowercase();
        // Longer emails were refused above: the counters never store more than that.
        let attempt = self.count_sign_in(Some(&email), client_address).await?;

        let user = self.store.user_by_email(&email).await?;
        let hash = user.as_ref().map(|u| u.password_hash.clone());
        let verified = match verify_off_runtime(password.to_owned(), hash).await {
            Ok(verified) => verified,
            Err(busy) => {
                // Not checked, so not a failure: the caller may try again shortly.
                self.give_back(attempt).await?;
                return Err(busy.into());
            }
        };
        // (The decoy hash verifies with its own password: that is no user either.)
        let user = match (verified, user) {
            (true, Some(user)) => user,
            (_, user) => {
                security::sign_in_failed(
                    &email,
                    user.as_ref(),
                    client_address,
                    "wrong_credentials",
                );
                return Err(ServiceError::Unauthorized(WRONG_CREDENTIALS));
            }
        };
        self.give_back(attempt).await?;
        if user.disabled_at.is_some() {
            security::sign_in_failed(&email, Some(&user), client_address, "account_disabled");
            return Err(ServiceError::Unauthorized(ACCOUNT_DISABLED));
        }
        security::sign_in_succeeded(&user, client_address);
        Ok(SessionGrant {
            user_id: user.id,
            password_changed_at: user.password_changed_at,
            signed_in_at: self.now(),
        })
    }

    /// [`Services::count_sign_in_attempt`] for a password or a passkey: a refusal is
    /// logged as a lockout and becomes the error the caller answers with.
    pub(crate) async fn count_sign_in(
        &self,
        email: Option<&str>,
        client_address: &str,
    ) -> ServiceResult<Attempt> {
        self.count_sign_in_attempt(email, client_address)
            .await?
            .map_err(|refusal| {
                security::sign_in_locked_out(
                    email.unwrap_or_default(),
                    client_address,
                    refusal.per,
                );
                refusal.error("sign-ins")
            })
    }

    /// The user a session belongs to, while the session is still good: the user is not
    /// disabled, has not changed password since, signed in recently enough, and used the
    /// session (last at `active_at`) recently enough.
    pub async fn session_user(
        &self,
        grant: &SessionGrant,
        active_at: i64,
    ) -> ServiceResult<Option<StaffUser>> {
        let now = self.now();
        let lifetimes = &self.settings.sessions;
        if now - grant.signed_in_at > lifetimes.absolute_ms()
            || now - active_at.max(grant.signed_in_at) > lifetimes.idle_ms()
        {
            return Ok(None);
        }
        let Some(user) = self.store.user(&grant.user_id).await? else {
            return Ok(None);
        };
        if user.disabled_at.is_some() || user.password_changed_at != grant.password_changed_at {
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
        // Asked only where the merchant has the rule: most requests pay nothing for it.
        let must_add_second_factor =
            merchant.require_second_factor != 0 && !self.store.has_second_factor(&user.id).await?;
        Ok(Some(StaffUser {
            id: user.id,
            email: user.email,
            role,
            merchant_id: user.merchant_id,
            merchant_name: merchant.name,
            location_ids,
            must_change_password: user.must_change_password != 0,
            must_add_second_factor,
            time_zone: user.time_zone,
        }))
    }

    /// What a signed-in user may touch: their merchant, what their role allows, and for a
    /// store manager their locations only.
    pub fn staff_actor(user: &StaffUser) -> Actor {
        Actor {
            merchant_id: user.merchant_id.clone(),
            kind: ActorKind::User(user.role),
            id: Some(user.id.clone()),
            label: user.email.clone(),
            allowed_locations: (!user.role.sees_all_locations()).then(|| user.location_ids.clone()),
        }
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
            .ok_or(ServiceError::Unauthorized(BAD_API_CREDENTIALS))?;
        if claimed_merchant.is_some_and(|claimed| claimed != row.merchant_id) {
            return Err(ServiceError::Unauthorized(BAD_API_CREDENTIALS));
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

    /// The device behind a bearer token; records that it was seen.
    pub async fn authenticate_device(&self, token: &str) -> ServiceResult<Device> {
        let device = self
            .store
            .device_by_token_hash(&secrets::hash_secret(token))
            .await?
            .ok_or(ServiceError::Unauthorized(BAD_API_CREDENTIALS))?;
        let now = self.now();
        self.store.touch_device(&device.id, now).await?;
        let mut device = device;
        device.last_seen_at = Some(now);
        Ok(super::devices::device_view(device))
    }
}
