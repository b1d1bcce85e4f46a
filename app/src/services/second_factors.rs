//! Second factors: a user's authenticator app and recovery codes, the second step of a
//! sign-in, the merchant's rule that everyone needs one, and an admin's reset.
//!
//! Wrong codes at the second step count toward the same per-account and per-address
//! limits as wrong passwords, counted before they are judged (see `attempts`). Each
//! authenticator code is accepted once (the store keeps the last step used), each
//! recovery code once (a conditional update). Removing a factor ends the user's other
//! sessions.

use serde::Serialize;
use serde_json::json;

use crate::domain::Permission;
use crate::domain::second_factor::{
    RECOVERY_CODE_BYTES, RECOVERY_CODE_COUNT, TOTP_SECRET_BYTES, format_recovery_code,
    matching_step, normalize_recovery_code, normalize_totp_code, otpauth_uri, secret_from_base32,
    secret_to_base32,
};
use crate::model::{Authenticator, SecondFactors, StaffUser};
use crate::secrets;
use crate::store::{Store, Tx, UserRow};

use super::auth::{SESSION_ENDED, SessionGrant};
use super::security::{self, SecondFactorEvent};
use super::{Actor, ActorKind, ServiceError, ServiceResult, Services, audit, rfc3339};

/// How long after the password the second step may be taken.
pub const SECOND_STEP_MS: i64 = 10 * 60 * 1000;
pub const SECOND_STEP_EXPIRED: &str = "this sign-in took too long; sign in again";
pub const WRONG_CODE: &str = "this code is wrong or was used already";
const NOT_SIX_DIGITS: &str = "enter the six digits your authenticator app shows";
const NOT_A_RECOVERY_CODE: &str = "a recovery code has 16 letters and digits, like 7k2m-q9xa-…";

/// What the user offers at the second step of a sign-in, as typed.
#[derive(Debug, Clone, Copy)]
pub enum SecondStepProof<'a> {
    /// The six digits of an authenticator app.
    Authenticator(&'a str),
    /// One of the user's recovery codes.
    RecoveryCode(&'a str),
}

impl SecondStepProof<'_> {
    /// The form field the code was typed into.
    fn field(self) -> &'static str {
        match self {
            SecondStepProof::Authenticator(_) => "code",
            SecondStepProof::RecoveryCode(_) => "recovery_code",
        }
    }

    fn kind(self) -> &'static str {
        match self {
            SecondStepProof::Authenticator(_) => "authenticator",
            SecondStepProof::RecoveryCode(_) => "recovery",
        }
    }
}

/// What an admin's (or an operator's) reset removed.
#[derive(Debug, Clone, Serialize)]
pub struct SecondFactorsReset {
    pub user_id: String,
    pub email: String,
    pub authenticator_apps: u64,
    pub passkeys: u64,
    pub recovery_codes: u64,
}

/// Ten new recovery codes: the codes to show once, and their hashes to store.
fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    let codes: Vec<String> = (0..RECOVERY_CODE_COUNT)
        .map(|_| format_recovery_code(&secrets::random_bytes::<RECOVERY_CODE_BYTES>()))
        .collect();
    let hashes = codes
        .iter()
        .map(|code| secrets::hash_secret(code))
        .collect();
    (codes, hashes)
}

impl Services {
    /// Whether a sign-in with this grant needs a second step: the user has a second factor
    /// (a confirmed authenticator app or a passkey).
    pub async fn needs_second_step(&self, grant: &SessionGrant) -> ServiceResult<bool> {
        Ok(self.store.has_second_factor(&grant.user_id).await?)
    }

    /// Which second steps the user of a waiting sign-in can take: (authenticator app,
    /// passkeys). Recovery codes are always offered.
    pub async fn second_step_options(&self, grant: &SessionGrant) -> ServiceResult<(bool, bool)> {
        let authenticator = self
            .store
            .user_totp(&grant.user_id)
            .await?
            .is_some_and(|row| row.confirmed_at.is_some());
        let passkeys = self.store.passkey_count(&grant.user_id).await? > 0;
        Ok((authenticator, passkeys))
    }

    /// The user's second factors, for My account. A user who must add one may see them.
    pub async fn second_factors(&self, user: &StaffUser) -> ServiceResult<SecondFactors> {
        let authenticator = match self.store.user_totp(&user.id).await? {
            None => Authenticator::None,
            Some(row) => match row.confirmed_at {
                Some(since) => Authenticator::Confirmed {
                    since: rfc3339(since),
                },
                None => Authenticator::Waiting {
                    otpauth_uri: otpauth_uri(
                        &row.secret,
                        &format!("ipp-portal ({})", user.merchant_name),
                        &user.email,
                    ),
                    secret: row.secret,
                },
            },
        };
        let required = self
            .store
            .merchant(&user.merchant_id)
            .await?
            .is_some_and(|merchant| merchant.require_second_factor != 0);
        Ok(SecondFactors {
            authenticator,
            passkeys: self.store.passkey_count(&user.id).await?,
            recovery_codes_left: self.store.unused_recovery_codes(&user.id).await?,
            required,
        })
    }

    /// A new secret for the user's authenticator app, in use once a first code confirms
    /// it (a secret waiting before is replaced). Refused while one is in use.
    pub async fn start_authenticator(&self, user: &StaffUser) -> ServiceResult<()> {
        let secret = secret_to_base32(&secrets::random_bytes::<TOTP_SECRET_BYTES>());
        let mut tx = self.store.begin().await?;
        if !Store::put_unconfirmed_totp(&mut tx, &user.id, &secret, self.now()).await? {
            return Err(ServiceError::Conflict(
                "you have an authenticator app already: remove it first to set up another".into(),
            ));
        }
        tx.commit().await?;
        Ok(())
    }

    /// Confirms the waiting authenticator app with a code it shows. When it is the user's
    /// first second factor, returns their new recovery codes, to be shown this once.
    #[tracing::instrument(skip_all)]
    pub async fn confirm_authenticator(
        &self,
        user: &StaffUser,
        code: &str,
    ) -> ServiceResult<Option<Vec<String>>> {
        let Some(row) = self
            .store
            .user_totp(&user.id)
            .await?
            .filter(|row| row.confirmed_at.is_none())
        else {
            return Err(ServiceError::Conflict(
                "there is no authenticator app waiting for a code: set one up first".into(),
            ));
        };
        let code = normalize_totp_code(code).ok_or(ServiceError::field("code", NOT_SIX_DIGITS))?;
        let secret = secret_from_base32(&row.secret)
            .ok_or(ServiceError::internal("unreadable TOTP secret"))?;
        let now = self.now();
        let step = matching_step(&secret, &code, now, 0).ok_or(ServiceError::field(
            "code",
            "this is not the code the app shows now: check that your phone's clock is right",
        ))?;
        let first_factor = !self.store.has_second_factor(&user.id).await?;
        let actor = Self::staff_actor(user);
        let mut tx = self.store.begin().await?;
        if !Store::confirm_totp(&mut tx, &user.id, &row.secret, step, now).await? {
            return Err(ServiceError::Conflict(
                "this authenticator app was changed meanwhile: reload the page".into(),
            ));
        }
        let codes = self
            .recovery_codes_for_first_factor(&mut tx, first_factor, &user.id, now)
            .await?;
        audit(
            &mut tx,
            &actor,
            now,
            "user.second_factor_added",
            ("user", &user.id),
            json!({"email": user.email, "kind": "authenticator", "recovery_codes_issued": codes.is_some()}),
        )
        .await?;
        tx.commit().await?;
        security::second_factor(
            &actor,
            SecondFactorEvent::Added,
            &user.id,
            &user.email,
            None,
        );
        Ok(codes)
    }

    /// The recovery codes that come with a user's first second factor (authenticator app or
    /// passkey), made in the transaction adding it; none when the user had one already.
    pub(crate) async fn recovery_codes_for_first_factor(
        &self,
        tx: &mut Tx,
        first_factor: bool,
        user_id: &str,
        now: i64,
    ) -> ServiceResult<Option<Vec<String>>> {
        match first_factor {
            true => Ok(Some(self.issue_recovery_codes(tx, user_id, now).await?)),
            false => Ok(None),
        }
    }

    /// Replaces the user's recovery codes with ten new ones, inside the transaction that
    /// adds their first second factor (or regenerates them); returns the codes to show.
    pub(crate) async fn issue_recovery_codes(
        &self,
        tx: &mut Tx,
        user_id: &str,
        now: i64,
    ) -> ServiceResult<Vec<String>> {
        let (codes, hashes) = new_recovery_codes();
        Store::replace_recovery_codes(tx, user_id, &hashes, now).await?;
        Ok(codes)
    }

    /// Removes the user's authenticator app; their other sessions end. Without a passkey
    /// left, their recovery codes go too (a new factor comes with new ones). Returns the
    /// grant the current session keeps.
    #[tracing::instrument(skip_all)]
    pub async fn remove_authenticator(&self, user: &StaffUser) -> ServiceResult<SessionGrant> {
        let row = self.session_user_row(&user.id).await?;
        let keeps_passkeys = self.store.passkey_count(&user.id).await? > 0;
        let actor = Self::staff_actor(user);
        let now = self.now();
        let cut_off = now.max(row.password_changed_at + 1);
        let mut tx = self.store.begin().await?;
        if !Store::delete_totp(&mut tx, &user.id).await? {
            return Err(ServiceError::NotFound("authenticator app"));
        }
        if !keeps_passkeys {
            Store::delete_recovery_codes(&mut tx, &user.id).await?;
        }
        Store::end_user_sessions(&mut tx, &user.id, cut_off).await?;
        audit(
            &mut tx,
            &actor,
            now,
            "user.second_factor_removed",
            ("user", &user.id),
            json!({"email": user.email, "kind": "authenticator"}),
        )
        .await?;
        tx.commit().await?;
        security::second_factor(
            &actor,
            SecondFactorEvent::Removed,
            &user.id,
            &user.email,
            None,
        );
        Ok(SessionGrant {
            user_id: user.id.clone(),
            password_changed_at: cut_off,
            signed_in_at: cut_off,
        })
    }

    /// Ten new recovery codes in place of the old ones (used or not), to be shown once.
    #[tracing::instrument(skip_all)]
    pub async fn regenerate_recovery_codes(&self, user: &StaffUser) -> ServiceResult<Vec<String>> {
        if !self.store.has_second_factor(&user.id).await? {
            return Err(ServiceError::Conflict(
                "recovery codes come with a second factor: add one first".into(),
            ));
        }
        let actor = Self::staff_actor(user);
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let codes = self.issue_recovery_codes(&mut tx, &user.id, now).await?;
        audit(
            &mut tx,
            &actor,
            now,
            "user.recovery_codes_regenerated",
            ("user", &user.id),
            json!({"email": user.email}),
        )
        .await?;
        tx.commit().await?;
        security::second_factor(
            &actor,
            SecondFactorEvent::RecoveryCodesRegenerated,
            &user.id,
            &user.email,
            None,
        );
        Ok(codes)
    }

    /// The second step of a sign-in whose password was right (`grant`, waiting in the
    /// session): an authenticator code or a recovery code. Returns the grant to sign in
    /// with. Every attempt counts as a failed sign-in until it succeeds.
    #[tracing::instrument(skip_all)]
    pub async fn second_step(
        &self,
        grant: &SessionGrant,
        proof: SecondStepProof<'_>,
        client_address: &str,
    ) -> ServiceResult<SessionGrant> {
        let now = self.now();
        // A malformed code is no guess: refused before anything is counted.
        let typed = match proof {
            SecondStepProof::Authenticator(code) => normalize_totp_code(code)
                .ok_or(ServiceError::field(proof.field(), NOT_SIX_DIGITS))?,
            SecondStepProof::RecoveryCode(code) => normalize_recovery_code(code)
                .ok_or(ServiceError::field(proof.field(), NOT_A_RECOVERY_CODE))?,
        };
        let user = self.waiting_user(grant).await?;
        let attempt = match self
            .count_sign_in_attempt(Some(&user.email), client_address)
            .await?
        {
            Ok(attempt) => attempt,
            Err(refusal) => {
                security::second_step_refused(
                    &user,
                    client_address,
                    proof.kind(),
                    Some(refusal.per),
                );
                return Err(refusal.error("sign-ins"));
            }
        };
        let accepted = match proof {
            SecondStepProof::Authenticator(_) => {
                self.use_authenticator_code(&user.id, &typed, now).await?
            }
            SecondStepProof::RecoveryCode(_) => {
                self.store
                    .use_recovery_code(&user.id, &secrets::hash_secret(&typed), now)
                    .await?
            }
        };
        if !accepted {
            // The attempt stays counted.
            security::second_step_refused(&user, client_address, proof.kind(), None);
            return Err(ServiceError::field(proof.field(), WRONG_CODE));
        }
        self.give_back(attempt).await?;
        if let SecondStepProof::RecoveryCode(_) = proof {
            self.record_recovery_code_use(&user, now, client_address)
                .await?;
        }
        security::sign_in_succeeded(&user, client_address);
        Ok(grant.clone())
    }

    /// Refuses a sign-in waiting for its second step that may not go on: it waited longer
    /// than [`SECOND_STEP_MS`], or the user was disabled or changed password meanwhile.
    /// Every way of taking the second step (codes here, passkeys) checks this first.
    pub async fn check_second_step_grant(&self, grant: &SessionGrant) -> ServiceResult<()> {
        self.waiting_user(grant).await.map(|_| ())
    }

    async fn waiting_user(&self, grant: &SessionGrant) -> ServiceResult<UserRow> {
        if self.now() - grant.signed_in_at > SECOND_STEP_MS {
            return Err(ServiceError::Unauthorized(SECOND_STEP_EXPIRED));
        }
        let user = self.session_user_row(&grant.user_id).await?;
        if user.disabled_at.is_some() || user.password_changed_at != grant.password_changed_at {
            return Err(ServiceError::Unauthorized(SESSION_ENDED));
        }
        Ok(user)
    }

    /// Whether `code` is the user's authenticator code of a step near `now` not used yet;
    /// if so, that step is used now.
    async fn use_authenticator_code(
        &self,
        user_id: &str,
        code: &str,
        now: i64,
    ) -> ServiceResult<bool> {
        let Some(row) = self
            .store
            .user_totp(user_id)
            .await?
            .filter(|row| row.confirmed_at.is_some())
        else {
            return Ok(false);
        };
        let secret = secret_from_base32(&row.secret)
            .ok_or(ServiceError::internal("unreadable TOTP secret"))?;
        match matching_step(&secret, code, now, row.last_used_step) {
            // Of two requests with the same code, the store lets one through.
            Some(step) => Ok(self.store.use_totp_step(user_id, step).await?),
            None => Ok(false),
        }
    }

    async fn record_recovery_code_use(
        &self,
        user: &UserRow,
        now: i64,
        client_address: &str,
    ) -> ServiceResult<()> {
        let left = self.store.unused_recovery_codes(&user.id).await?;
        let actor = Actor {
            merchant_id: user.merchant_id.clone(),
            kind: ActorKind::User(super::auth::role_of(user)),
            id: Some(user.id.clone()),
            label: user.email.clone(),
            allowed_locations: None,
        };
        let mut tx = self.store.begin().await?;
        audit(
            &mut tx,
            &actor,
            now,
            "user.recovery_code_used",
            ("user", &user.id),
            json!({"email": user.email, "recovery_codes_left": left}),
        )
        .await?;
        tx.commit().await?;
        security::second_factor(
            &actor,
            SecondFactorEvent::RecoveryCodeUsed,
            &user.id,
            &user.email,
            Some(client_address),
        );
        Ok(())
    }

    /// Whether the merchant requires every user to have a second factor.
    pub async fn second_factor_required(&self, actor: &Actor) -> ServiceResult<bool> {
        actor.require(Permission::ManageUsers)?;
        Ok(self
            .store
            .merchant(&actor.merchant_id)
            .await?
            .is_some_and(|merchant| merchant.require_second_factor != 0))
    }

    /// Turns the merchant's rule that every user needs a second factor on or off. An admin
    /// without one cannot turn it on: they would be shut out of this page themselves.
    #[tracing::instrument(skip_all)]
    pub async fn set_second_factor_required(
        &self,
        actor: &Actor,
        required: bool,
    ) -> ServiceResult<()> {
        actor.require(Permission::ManageUsers)?;
        self.require_merchant(actor).await?;
        if required
            && let (ActorKind::User(_), Some(user_id)) = (actor.kind, actor.id.as_deref())
            && !self.store.has_second_factor(user_id).await?
        {
            return Err(ServiceError::Conflict(
                "set up a second factor for yourself first (My account): the rule applies to you too"
                    .into(),
            ));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        Store::set_second_factor_required(&mut tx, &actor.merchant_id, required).await?;
        audit(
            &mut tx,
            actor,
            now,
            "merchant.second_factor_rule_changed",
            ("merchant", &actor.merchant_id),
            json!({"required": required}),
        )
        .await?;
        tx.commit().await?;
        security::second_factor_policy(actor, required);
        Ok(())
    }

    /// Removes every second factor of another user of the merchant (authenticator app,
    /// passkeys, recovery codes) and ends their sessions: for someone who lost their phone.
    #[tracing::instrument(skip_all)]
    pub async fn reset_second_factors(
        &self,
        actor: &Actor,
        user_id: &str,
    ) -> ServiceResult<SecondFactorsReset> {
        actor.require(Permission::ManageUsers)?;
        let user = self.merchant_user(actor, user_id).await?;
        if actor.id.as_deref() == Some(user_id) {
            return Err(ServiceError::Conflict(
                "remove your own second factors on My account".into(),
            ));
        }
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let (authenticator_apps, passkeys, recovery_codes) =
            Store::delete_second_factors(&mut tx, &user.id).await?;
        Store::end_user_sessions(&mut tx, &user.id, now.max(user.password_changed_at + 1)).await?;
        audit(
            &mut tx,
            actor,
            now,
            "user.second_factors_reset",
            ("user", &user.id),
            json!({
                "email": user.email,
                "authenticator_apps": authenticator_apps,
                "passkeys": passkeys,
                "recovery_codes": recovery_codes,
            }),
        )
        .await?;
        tx.commit().await?;
        security::second_factor(actor, SecondFactorEvent::Reset, &user.id, &user.email, None);
        Ok(SecondFactorsReset {
            user_id: user.id,
            email: user.email,
            authenticator_apps,
            passkeys,
            recovery_codes,
        })
    }

    /// [`Services::reset_second_factors`] of the merchant's user with this email (the
    /// command line's way in).
    pub async fn reset_second_factors_by_email(
        &self,
        actor: &Actor,
        email: &str,
    ) -> ServiceResult<SecondFactorsReset> {
        let email = email.trim().to_lowercase();
        let user = self
            .store
            .user_by_email(&email)
            .await?
            .filter(|user| user.merchant_id == actor.merchant_id)
            .ok_or(ServiceError::NotFound("user"))?;
        self.reset_second_factors(actor, &user.id).await
    }

    /// The stored user of a session, or the session is over.
    async fn session_user_row(&self, user_id: &str) -> ServiceResult<UserRow> {
        self.store
            .user(user_id)
            .await?
            .ok_or(ServiceError::Unauthorized(SESSION_ENDED))
    }
}
