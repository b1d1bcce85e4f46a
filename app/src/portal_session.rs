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

/// A value kept in the session for the next page load only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Once {
    /// A secret made by a plain form post (a new API key, a one-time password).
    Secret,
    /// How a plain form post went ("Deregistered 2 devices.").
    Notice,
    /// What was typed into a refused form, secrets left out.
    TypedInput,
}

impl Once {
    fn key(self) -> &'static str {
        match self {
            Once::Secret => "flash",
            Once::Notice => "notice",
            Once::TypedInput => "old_input",
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
    /// (user disabled, password changed, too old) is ended here.
    pub async fn user(&self, services: &Services) -> ServiceResult<Option<StaffUser>> {
        let Some(grant) = self.grant().await else {
            return Ok(None);
        };
        let user = services.session_user(&grant).await?;
        if user.is_none() {
            let _ = self.0.flush().await;
        }
        Ok(user)
    }

    /// The signed-in user and the actor they act as; 401 when nobody is signed in.
    pub async fn signed_in(&self, services: &Services) -> ServiceResult<(StaffUser, Actor)> {
        let user = self
            .user(services)
            .await?
            .ok_or(ServiceError::Unauthorized(SESSION_ENDED))?;
        let actor = Services::staff_actor(&user);
        Ok((user, actor))
    }

    /// Starts (or renews, after a password change) a signed-in session under a new id,
    /// so an id planted before cannot ride on it.
    pub async fn sign_in(&self, grant: &SessionGrant) -> ServiceResult<()> {
        self.0.cycle_id().await.map_err(ServiceError::internal)?;
        self.0
            .insert(GRANT_KEY, grant)
            .await
            .map_err(ServiceError::internal)
    }

    pub async fn sign_out(&self) {
        let _ = self.0.flush().await;
    }

    /// Keeps `value` for the next page load.
    pub async fn put_once<T: Serialize>(&self, what: Once, value: &T) {
        let _ = self.0.insert(what.key(), value).await;
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
