//! The portal's typed session: who is signed in, and the values a plain form post leaves
//! once for the page it leads back to. Used by the page guard, the CSV export and every
//! server function alike, so they all judge a session the same way.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tower_sessions::Session;

use crate::model::StaffUser;
use crate::services::{Actor, SESSION_ENDED, ServiceError, ServiceResult, Services, SessionGrant};

const GRANT_KEY: &str = "grant";
/// A sign-in whose password was right, waiting for its second step: the grant it will
/// give. Nobody is signed in meanwhile.
const PENDING_KEY: &str = "pending_sign_in";
/// The browser's time zone at sign-in (a name the zone database knows).
const BROWSER_ZONE_KEY: &str = "browser_time_zone";
/// When the session was last used (the services' clock, ms): an idle session ends.
const ACTIVE_KEY: &str = "active_at";
/// How often a session in use is written back to say so. Reading a session does not keep
/// it alive (tower-sessions counts changes only), so this write is what does, at most once
/// a minute per session instead of on every request.
const TOUCH_EVERY_MS: i64 = 60_000;

/// A value kept in the session for the next page load only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    /// A secret made by a plain form post (a new API key, a one-time password).
    Secret,
    /// A webhook endpoint's signing secret with the endpoint's id: only that endpoint's
    /// page shows it, never the page of an API key or a user.
    WebhookSecret,
    /// How a plain form post went ("Deregistered 2 devices.").
    Notice,
    /// What was typed into a refused form, secrets left out.
    TypedInput,
    /// Recovery codes just made, for My account to show once.
    RecoveryCodes,
}

impl Once {
    fn key(self) -> &'static str {
        match self {
            Once::Secret => "flash",
            Once::WebhookSecret => "webhook_secret",
            Once::Notice => "notice",
            Once::TypedInput => "old_input",
            Once::RecoveryCodes => "recovery_codes",
        }
    }
}

/// A passkey ceremony under way: its state, kept between the call that hands the browser
/// a challenge and the call that checks the answer, which takes it (so once only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasskeyCeremony {
    /// A signed-in user adding a passkey.
    Add,
    /// Signing in with a passkey, nobody named.
    SignIn,
    /// A passkey as the second step after a right password.
    SecondStep,
}

impl PasskeyCeremony {
    fn key(self) -> &'static str {
        match self {
            PasskeyCeremony::Add => "passkey_add",
            PasskeyCeremony::SignIn => "passkey_sign_in",
            PasskeyCeremony::SecondStep => "passkey_second_step",
        }
    }
}

#[derive(Clone)]
pub struct PortalSession(Session);

impl PortalSession {
    pub fn new(session: Session) -> Self {
        Self(session)
    }

    async fn grant(&self) -> Option<SessionGrant> {
        self.0.get::<SessionGrant>(GRANT_KEY).await.ok().flatten()
    }

    /// The signed-in user while the session is still good; a session that is over
    /// (user disabled, password changed, unused or signed in too long ago) is ended here.
    /// A session in use is marked so now and then, which keeps it from ending idle.
    pub async fn user(&self, services: &Services) -> ServiceResult<Option<StaffUser>> {
        let Some(grant) = self.grant().await else {
            return Ok(None);
        };
        let active_at = self
            .0
            .get::<i64>(ACTIVE_KEY)
            .await
            .ok()
            .flatten()
            .unwrap_or(grant.signed_in_at);
        let user = services.session_user(&grant, active_at).await?;
        let now = services.now();
        match &user {
            None => {
                let _ = self.0.flush().await;
            }
            Some(_) if now - active_at >= TOUCH_EVERY_MS => {
                let _ = self.0.insert(ACTIVE_KEY, now).await;
            }
            Some(_) => {}
        }
        Ok(user)
    }

    /// The signed-in user and the actor they act as: what every server function and the
    /// CSV export start with. 401 when nobody is signed in; 403 for a user who signed in
    /// with a one-time password and has not chosen their own yet (see
    /// [`PortalSession::signed_in_to_change_password`]), and for one whose merchant
    /// requires a second factor they have not added (see
    /// [`PortalSession::signed_in_to_add_second_factor`]).
    pub async fn signed_in(&self, services: &Services) -> ServiceResult<(StaffUser, Actor)> {
        let (user, actor) = self.signed_in_to_add_second_factor(services).await?;
        if user.must_add_second_factor {
            return Err(ServiceError::SecondFactorRequired);
        }
        Ok((user, actor))
    }

    /// The signed-in user, whether their merchant's rule still wants a second factor of
    /// them or not: for adding one (and seeing what they have). A one-time password must
    /// be replaced first (403).
    pub async fn signed_in_to_add_second_factor(
        &self,
        services: &Services,
    ) -> ServiceResult<(StaffUser, Actor)> {
        let user = self.signed_in_to_change_password(services).await?;
        if user.must_change_password {
            return Err(ServiceError::PasswordChangeRequired);
        }
        let actor = Services::staff_actor(&user);
        Ok((user, actor))
    }

    /// The signed-in user, one-time password or not: for changing that password, the one
    /// thing such a user may do. 401 when nobody is signed in.
    pub async fn signed_in_to_change_password(
        &self,
        services: &Services,
    ) -> ServiceResult<StaffUser> {
        self.user(services)
            .await?
            .ok_or(ServiceError::Unauthorized(SESSION_ENDED))
    }

    /// Starts (or renews, after a password change) a signed-in session under a new id,
    /// so an id planted before cannot ride on it.
    pub async fn sign_in(&self, grant: &SessionGrant) -> ServiceResult<()> {
        self.0.cycle_id().await.map_err(ServiceError::internal)?;
        let _ = self.0.remove_value(PENDING_KEY).await;
        self.0
            .insert(ACTIVE_KEY, grant.signed_in_at)
            .await
            .map_err(ServiceError::internal)?;
        self.0
            .insert(GRANT_KEY, grant)
            .await
            .map_err(ServiceError::internal)
    }

    /// Keeps the state of a passkey ceremony for its second call (replacing any earlier
    /// one of the same kind). Also for a caller not signed in: a passkey sign-in has to
    /// remember its challenge somewhere only the server can change.
    pub async fn keep_ceremony<T: Serialize>(
        &self,
        ceremony: PasskeyCeremony,
        state: &T,
    ) -> ServiceResult<()> {
        self.0
            .insert(ceremony.key(), state)
            .await
            .map_err(ServiceError::internal)
    }

    /// Takes the state of a passkey ceremony: a second answer finds none.
    pub async fn take_ceremony<T: DeserializeOwned>(&self, ceremony: PasskeyCeremony) -> Option<T> {
        self.0.remove::<T>(ceremony.key()).await.ok().flatten()
    }

    /// After the right password: signs in, or, for a user with a second factor, keeps
    /// the grant waiting for the second step (under a new session id, nobody signed in
    /// meanwhile). Returns whether the second step is needed.
    pub async fn after_password(
        &self,
        services: &Services,
        grant: &SessionGrant,
    ) -> ServiceResult<bool> {
        if !services.needs_second_step(grant).await? {
            self.sign_in(grant).await?;
            return Ok(false);
        }
        // Whoever was signed in on this browser before is not any more.
        let _ = self.0.remove_value(GRANT_KEY).await;
        let _ = self.0.remove_value(ACTIVE_KEY).await;
        self.0.cycle_id().await.map_err(ServiceError::internal)?;
        self.0
            .insert(PENDING_KEY, grant)
            .await
            .map_err(ServiceError::internal)?;
        Ok(true)
    }

    /// The sign-in waiting for its second step, if any: the grant it will give.
    pub async fn pending_second_step(&self) -> Option<SessionGrant> {
        self.0.get::<SessionGrant>(PENDING_KEY).await.ok().flatten()
    }

    /// The second step succeeded: the waiting sign-in is over, and `grant` signs in under
    /// a new session id, as [`PortalSession::sign_in`] does.
    pub async fn finish_second_step(&self, grant: &SessionGrant) -> ServiceResult<()> {
        let _ = self.0.remove_value(PENDING_KEY).await;
        self.sign_in(grant).await
    }

    /// Forgets a sign-in waiting for its second step (it took too long, or was given up).
    pub async fn drop_second_step(&self) {
        if self.pending_second_step().await.is_some() {
            let _ = self.0.remove_value(PENDING_KEY).await;
        }
    }

    /// Remembers the time zone the browser signed in from (already checked to be known).
    pub async fn set_browser_time_zone(&self, zone: &str) {
        if self.has_sign_in().await || self.pending_second_step().await.is_some() {
            let _ = self.0.insert(BROWSER_ZONE_KEY, zone).await;
        }
    }

    pub async fn browser_time_zone(&self) -> Option<String> {
        self.0.get::<String>(BROWSER_ZONE_KEY).await.ok().flatten()
    }

    /// Whether someone is signed in on this session (not whether the session is still
    /// good: see [`PortalSession::user`]).
    pub async fn has_sign_in(&self) -> bool {
        self.grant().await.is_some()
    }

    pub async fn sign_out(&self) {
        let _ = self.0.flush().await;
    }

    /// Keeps `value` for the next page load, in the session of a signed-in user only:
    /// a caller who is not signed in gets no session made or grown for them, whatever
    /// they post. (A user whose session ended here has none any more either.)
    pub async fn put_once<T: Serialize>(&self, what: Once, value: &T) {
        if self.has_sign_in().await {
            let _ = self.0.insert(what.key(), value).await;
        }
    }

    /// Takes the value kept for this page load, if any.
    pub async fn take_once<T: DeserializeOwned>(&self, what: Once) -> Option<T> {
        // Looked up first: removing marks the session changed, and it would then be saved
        // on every page load, even with nothing kept.
        let value = self.0.get::<T>(what.key()).await.ok()??;
        let _ = self.0.remove_value(what.key()).await;
        Some(value)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for PortalSession {
    type Rejection = <Session as FromRequestParts<S>>::Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Session::from_request_parts(parts, state)
            .await
            .map(PortalSession)
    }
}
