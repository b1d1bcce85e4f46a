//! Passkeys (WebAuthn): a user adds them on My account and signs in with one, without a
//! password (discoverable credentials) or as the second step after a password.
//!
//! Each ceremony has two calls: the first hands the browser its options (a fresh
//! challenge) and returns the ceremony's state, which the caller keeps in the server-side
//! session; the second checks what the browser's authenticator answered against that
//! state, which is then gone, so an answer cannot be replayed.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use webauthn_rs::prelude::{
    DiscoverableAuthentication, DiscoverableKey, Passkey, PasskeyAuthentication,
    PasskeyRegistration, PublicKeyCredential, RegisterPublicKeyCredential, Url, Uuid, Webauthn,
    WebauthnBuilder,
};
use webauthn_rs_proto::ResidentKeyRequirement;

use crate::domain::passkey::{
    MAX_CREDENTIAL_LENGTH, MAX_PASSKEY_NAME_LENGTH, MAX_PASSKEYS_PER_USER, relying_party,
};
use crate::domain::text::{plausible_id, required_text};
use crate::model::{PasskeySummary, StaffUser};
use crate::store::{NewPasskey, PasskeyRow, Store, StoreError, UserRow};

use super::attempts::{AttemptLimit, LOGIN_KIND, address_key};
use super::auth::{ACCOUNT_DISABLED, LOGIN_WINDOW_SECONDS, SessionGrant};
use super::{ServiceError, ServiceResult, Services, audit, new_id, rfc3339, security};

/// The one answer for every passkey that does not sign anyone in: unknown, another
/// user's, a forged or replayed answer, a challenge that is not this session's.
pub const PASSKEY_REFUSED: &str = "this passkey was not accepted; try again or use your password";
/// Passkey sign-ins started per client address in a sign-in window.
const PASSKEY_STARTS_PER_ADDRESS: i64 = 60;
/// The second call of a ceremony without the first (or after it was used).
const NO_CEREMONY: &str = "start again: this passkey request has expired or was used already";

/// The portal as a WebAuthn relying party, or why it cannot be one at its public URL.
#[derive(Clone)]
pub struct PasskeyParty(Arc<Result<Webauthn, String>>);

impl PasskeyParty {
    /// The relying party for a portal reached at `public_url`: its host is the id, its
    /// origin the one browsers must report.
    pub fn new(public_url: &str) -> Self {
        let webauthn = relying_party(public_url).and_then(|party| {
            let origin = Url::parse(&party.origin).map_err(|e| e.to_string())?;
            WebauthnBuilder::new(&party.id, &origin)
                .and_then(|builder| builder.rp_name("ipp-portal").build())
                .map_err(|e| format!("passkeys cannot be set up for {public_url}: {e}"))
        });
        Self(Arc::new(webauthn))
    }
}

/// A passkey being added: its name and the ceremony's state, kept in the session between
/// the two calls.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PendingPasskey {
    pub name: String,
    pub state: PasskeyRegistration,
}

/// The options a ceremony gives the browser (JSON, for `navigator.credentials`) and the
/// state to keep for its second call.
pub struct Ceremony<S> {
    pub options: String,
    pub state: S,
}

fn summary(row: PasskeyRow) -> PasskeySummary {
    PasskeySummary {
        id: row.id,
        name: row.name,
        created_at: rfc3339(row.created_at),
        last_used_at: row.last_used_at.map(rfc3339),
    }
}

fn options_json<T: Serialize>(options: &T) -> ServiceResult<String> {
    serde_json::to_string(options).map_err(ServiceError::internal)
}

/// The browser's answer, as webauthn-rs reads it; anything else is no passkey.
fn parse_credential<T: serde::de::DeserializeOwned>(credential: &str) -> ServiceResult<T> {
    if credential.len() > MAX_CREDENTIAL_LENGTH {
        return Err(ServiceError::Unauthorized(PASSKEY_REFUSED));
    }
    serde_json::from_str(credential).map_err(|_| ServiceError::Unauthorized(PASSKEY_REFUSED))
}

fn stored_passkey(row: &PasskeyRow) -> ServiceResult<Passkey> {
    serde_json::from_str(&row.credential).map_err(ServiceError::internal)
}

/// The id webauthn-rs gives the user's passkeys: the user's own id (a UUID).
fn user_handle(user_id: &str) -> ServiceResult<Uuid> {
    Uuid::parse_str(user_id).map_err(ServiceError::internal)
}

impl Services {
    fn webauthn(&self) -> ServiceResult<&Webauthn> {
        self.passkey_party
            .0
            .as_ref()
            .as_ref()
            .map_err(|reason| ServiceError::Conflict(reason.clone()))
    }

    /// Why passkeys cannot be used at this portal's public URL, if they cannot.
    pub fn passkeys_unavailable(&self) -> Option<String> {
        self.passkey_party.0.as_ref().as_ref().err().cloned()
    }

    /// The signed-in user's passkeys, oldest first.
    pub async fn own_passkeys(&self, user: &StaffUser) -> ServiceResult<Vec<PasskeySummary>> {
        let rows = self.store.passkeys(&user.id).await?;
        Ok(rows.into_iter().map(summary).collect())
    }

    /// Starts adding a passkey named `name` to the signed-in user. The authenticator is
    /// asked for a discoverable credential, so the passkey signs in without an email.
    pub async fn start_passkey_registration(
        &self,
        user: &StaffUser,
        name: &str,
    ) -> ServiceResult<Ceremony<PendingPasskey>> {
        let name = required_text("name", name, MAX_PASSKEY_NAME_LENGTH)?;
        let webauthn = self.webauthn()?;
        let existing = self.store.passkeys(&user.id).await?;
        if existing.len() >= MAX_PASSKEYS_PER_USER {
            return Err(ServiceError::field(
                "name",
                format!(
                    "you have {MAX_PASSKEYS_PER_USER} passkeys, the most there can be: remove one first"
                ),
            ));
        }
        // The authenticators that hold one already are not asked again.
        let exclude = existing
            .iter()
            .map(|row| stored_passkey(row).map(|key| key.cred_id().clone()))
            .collect::<ServiceResult<Vec<_>>>()?;
        let (mut options, state) = webauthn
            .start_passkey_registration(
                user_handle(&user.id)?,
                &user.email,
                &user.email,
                Some(exclude),
            )
            .map_err(ServiceError::internal)?;
        if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
            selection.resident_key = Some(ResidentKeyRequirement::Required);
            selection.require_resident_key = true;
        }
        Ok(Ceremony {
            options: options_json(&options)?,
            state: PendingPasskey { name, state },
        })
    }

    /// Checks the authenticator's new credential and keeps it as the user's passkey.
    #[tracing::instrument(skip_all)]
    pub async fn finish_passkey_registration(
        &self,
        user: &StaffUser,
        pending: PendingPasskey,
        credential: &str,
    ) -> ServiceResult<(PasskeySummary, Option<Vec<String>>)> {
        let webauthn = self.webauthn()?;
        let credential: RegisterPublicKeyCredential = parse_credential(credential)?;
        let passkey = webauthn
            .finish_passkey_registration(&credential, &pending.state)
            .map_err(|_| ServiceError::Unauthorized(PASSKEY_REFUSED))?;
        let stored = serde_json::to_string(&passkey).map_err(ServiceError::internal)?;
        let credential_id = URL_SAFE_NO_PAD.encode(passkey.cred_id().as_slice());
        let now = self.now();
        let id = new_id();
        let actor = Self::staff_actor(user);
        // A first second factor comes with recovery codes, as an authenticator app does.
        let first_factor = !self.store.has_second_factor(&user.id).await?;
        let mut tx = self.store.begin().await?;
        if Store::count_passkeys(&mut tx, &user.id).await? >= MAX_PASSKEYS_PER_USER as i64 {
            return Err(ServiceError::field(
                "name",
                format!(
                    "you have {MAX_PASSKEYS_PER_USER} passkeys, the most there can be: remove one first"
                ),
            ));
        }
        let inserted = Store::insert_passkey(
            &mut tx,
            &NewPasskey {
                id: &id,
                user_id: &user.id,
                credential_id: &credential_id,
                name: &pending.name,
                credential: &stored,
                now,
            },
        )
        .await;
        match inserted {
            Err(StoreError::UniqueViolation) => {
                return Err(ServiceError::Conflict(
                    "this passkey is registered already".into(),
                ));
            }
            other => other?,
        }
        let codes = self
            .recovery_codes_for_first_factor(&mut tx, first_factor, &user.id, now)
            .await?;
        audit(
            &mut tx,
            &actor,
            now,
            "user.passkey_added",
            ("user", &user.id),
            json!({"passkey_id": id, "name": pending.name, "recovery_codes_issued": codes.is_some()}),
        )
        .await?;
        tx.commit().await?;
        security::passkey_changed(user, "passkey.added", &id);
        let summary = PasskeySummary {
            id,
            name: pending.name,
            created_at: rfc3339(now),
            last_used_at: None,
        };
        Ok((summary, codes))
    }

    /// Removes one of the signed-in user's passkeys; their other sessions end. Returns
    /// the grant the current session keeps.
    #[tracing::instrument(skip_all)]
    pub async fn remove_own_passkey(
        &self,
        user: &StaffUser,
        passkey_id: &str,
    ) -> ServiceResult<SessionGrant> {
        plausible_id("passkey_id", passkey_id).map_err(|_| ServiceError::NotFound("passkey"))?;
        let row = self
            .store
            .user(&user.id)
            .await?
            .ok_or(ServiceError::Unauthorized(super::auth::SESSION_ENDED))?;
        // Strictly later than before, so sessions granted in the same millisecond end too.
        let now = self.now().max(row.password_changed_at + 1);
        let actor = Self::staff_actor(user);
        let mut tx = self.store.begin().await?;
        let name = Store::delete_passkey(&mut tx, &user.id, passkey_id)
            .await?
            .ok_or(ServiceError::NotFound("passkey"))?;
        Store::renew_sign_ins(&mut tx, &user.id, now).await?;
        audit(
            &mut tx,
            &actor,
            now,
            "user.passkey_removed",
            ("user", &user.id),
            json!({"passkey_id": passkey_id, "name": name}),
        )
        .await?;
        tx.commit().await?;
        security::passkey_changed(user, "passkey.removed", passkey_id);
        Ok(SessionGrant {
            user_id: user.id.clone(),
            password_changed_at: now,
            signed_in_at: now,
        })
    }

    /// Starts a sign-in with any passkey the browser's authenticators hold for this
    /// portal: nobody is named, the passkey says whose it is.
    pub async fn start_passkey_sign_in(
        &self,
        client_address: &str,
    ) -> ServiceResult<Ceremony<DiscoverableAuthentication>> {
        // Each start keeps its challenge in a session made for a caller nobody knows yet:
        // a script must not grow the session store at will, so starts are limited per
        // address (and never given back).
        let bucket = format!("login:passkey_start:{}", address_key(client_address));
        let limits = [AttemptLimit {
            bucket: &bucket,
            max: PASSKEY_STARTS_PER_ADDRESS,
            per: "address",
        }];
        if let Err(refusal) = self
            .count_attempt(LOGIN_KIND, &limits, LOGIN_WINDOW_SECONDS)
            .await?
        {
            return Err(refusal.error("passkey sign-ins"));
        }
        let (mut options, state) = self
            .webauthn()?
            .start_discoverable_authentication()
            .map_err(ServiceError::internal)?;
        // A button asks for the passkey; no waiting in the email field's autofill.
        options.mediation = None;
        Ok(Ceremony {
            options: options_json(&options)?,
            state,
        })
    }

    /// Signs in the user whose passkey answered the challenge of `state`. Counted like a
    /// password sign-in, per client address and per account: a refused passkey is a
    /// failure, past the limits attempts are refused unchecked.
    #[tracing::instrument(skip_all)]
    pub async fn passkey_sign_in(
        &self,
        state: DiscoverableAuthentication,
        credential: &str,
        client_address: &str,
    ) -> ServiceResult<SessionGrant> {
        let grant = self
            .check_passkey_sign_in(state, credential, client_address)
            .await;
        crate::metrics::login(&grant);
        grant
    }

    async fn check_passkey_sign_in(
        &self,
        state: DiscoverableAuthentication,
        credential: &str,
        client_address: &str,
    ) -> ServiceResult<SessionGrant> {
        let webauthn = self.webauthn()?;
        let parsed: Option<PublicKeyCredential> = parse_credential(credential).ok();
        // Whose the passkey says it is, unchecked yet: their account's counter is used.
        let row = match &parsed {
            Some(credential) => {
                let id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
                self.store.passkey_by_credential_id(&id).await?
            }
            None => None,
        };
        let user = match &row {
            Some(row) => self.store.user(&row.user_id).await?,
            None => None,
        };
        let email = user.as_ref().map(|u| u.email.clone()).unwrap_or_default();
        let attempt = self
            .count_sign_in(user.as_ref().map(|u| u.email.as_str()), client_address)
            .await?;
        let refused = |user: Option<&UserRow>| {
            security::sign_in_failed(&email, user, client_address, "passkey_refused");
            ServiceError::Unauthorized(PASSKEY_REFUSED)
        };
        let (Some(credential), Some(row), Some(user)) = (parsed, row, user) else {
            return Err(refused(None));
        };
        // The user handle the authenticator returned must be the passkey's own user.
        let claimed = webauthn
            .identify_discoverable_authentication(&credential)
            .ok()
            .map(|(uuid, _)| uuid);
        if claimed != Uuid::parse_str(&row.user_id).ok() {
            return Err(refused(Some(&user)));
        }
        let mut passkey = stored_passkey(&row)?;
        let result = match webauthn.finish_discoverable_authentication(
            &credential,
            state,
            &[DiscoverableKey::from(&passkey)],
        ) {
            Ok(result) => result,
            Err(_) => return Err(refused(Some(&user))),
        };
        self.give_back(attempt).await?;
        if user.disabled_at.is_some() {
            security::sign_in_failed(&email, Some(&user), client_address, "account_disabled");
            return Err(ServiceError::Unauthorized(ACCOUNT_DISABLED));
        }
        let _ = passkey.update_credential(&result);
        self.record_use(&row, &passkey).await?;
        security::sign_in_succeeded(&user, client_address);
        Ok(SessionGrant {
            user_id: user.id,
            password_changed_at: user.password_changed_at,
            signed_in_at: self.now(),
        })
    }

    async fn record_use(&self, row: &PasskeyRow, passkey: &Passkey) -> ServiceResult<()> {
        let stored = serde_json::to_string(passkey).map_err(ServiceError::internal)?;
        self.store
            .record_passkey_use(&row.id, &stored, self.now())
            .await?;
        Ok(())
    }

    /// Starts the second step of a sign-in whose password was right: any of the pending
    /// user's passkeys may answer.
    pub async fn start_passkey_second_step(
        &self,
        pending: &SessionGrant,
    ) -> ServiceResult<Ceremony<PasskeyAuthentication>> {
        // Within the step's time, for a user still enabled with the same password.
        self.check_second_step_grant(pending).await?;
        let webauthn = self.webauthn()?;
        let passkeys = self
            .store
            .passkeys(&pending.user_id)
            .await?
            .iter()
            .map(stored_passkey)
            .collect::<ServiceResult<Vec<_>>>()?;
        if passkeys.is_empty() {
            return Err(ServiceError::Conflict(
                "you have no passkey: use your authenticator app or a recovery code".into(),
            ));
        }
        let (options, state) = webauthn
            .start_passkey_authentication(&passkeys)
            .map_err(ServiceError::internal)?;
        Ok(Ceremony {
            options: options_json(&options)?,
            state,
        })
    }

    /// Checks the passkey answering the second step of `pending`'s sign-in; a refused
    /// one counts toward the account's and the address's sign-in limits.
    #[tracing::instrument(skip_all)]
    pub async fn passkey_second_step(
        &self,
        pending: &SessionGrant,
        state: PasskeyAuthentication,
        credential: &str,
        client_address: &str,
    ) -> ServiceResult<()> {
        self.check_second_step_grant(pending).await?;
        let webauthn = self.webauthn()?;
        let user = self
            .store
            .user(&pending.user_id)
            .await?
            .ok_or(ServiceError::Unauthorized(super::auth::SESSION_ENDED))?;
        let attempt = self
            .count_sign_in(Some(&user.email), client_address)
            .await?;
        let refused = || {
            security::sign_in_failed(&user.email, Some(&user), client_address, "passkey_refused");
            ServiceError::Unauthorized(PASSKEY_REFUSED)
        };
        let Ok(credential) = parse_credential::<PublicKeyCredential>(credential) else {
            return Err(refused());
        };
        let id = URL_SAFE_NO_PAD.encode(credential.get_credential_id());
        let Some(row) = self
            .store
            .passkey_by_credential_id(&id)
            .await?
            .filter(|row| row.user_id == user.id)
        else {
            return Err(refused());
        };
        let result = match webauthn.finish_passkey_authentication(&credential, &state) {
            Ok(result) => result,
            Err(_) => return Err(refused()),
        };
        self.give_back(attempt).await?;
        let mut passkey = stored_passkey(&row)?;
        let _ = passkey.update_credential(&result);
        self.record_use(&row, &passkey).await?;
        security::sign_in_succeeded(&user, client_address);
        Ok(())
    }
}

/// The error for a second call that finds no ceremony started in its session.
pub fn no_ceremony() -> ServiceError {
    ServiceError::Conflict(NO_CEREMONY.into())
}
