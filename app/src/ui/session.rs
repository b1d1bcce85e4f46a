//! Who is signed in: the server functions for signing in and out, and (on the server) the
//! checks every other server function starts with.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::errors::PortalError;
use crate::model::StaffUser;

#[cfg(feature = "ssr")]
pub use server::*;

/// The signed-in user, or `None`.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<StaffUser>, PortalError> {
    signed_in_user().await
}

/// Signs in and goes on to `next` (a path of this portal), or to the start page.
#[server(endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
) -> Result<(), PortalError> {
    use axum::http::StatusCode;
    use leptos::server_fn::ServerFn;

    use crate::services::LoginError;

    // The email comes back with a refusal; the password never does.
    let kept = OldInput::new(Login::PATH).with("email", &email);
    keeping_input(kept, async move {
        let services = services()?;
        let session = session().await?;
        let address = client_address().await;
        let grant = services
            .login(&email, &password, &address)
            .await
            .map_err(|error| {
                set_status(match error {
                    LoginError::WrongCredentials | LoginError::Disabled => StatusCode::UNAUTHORIZED,
                    LoginError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
                    LoginError::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                });
                PortalError::Refused(error.to_string())
            })?;
        // A new id at sign-in: an id planted before cannot ride on this session.
        session
            .cycle_id()
            .await
            .map_err(|_| PortalError::Refused("sessions are unavailable; try again".into()))?;
        session
            .insert(GRANT_KEY, &grant)
            .await
            .map_err(|_| PortalError::Refused("sessions are unavailable; try again".into()))?;
        leptos_axum::redirect(&safe_next(next.as_deref()));
        Ok(())
    })
    .await
}

/// The notice a plain form post left for the page it leads back to ("Deregistered 2
/// devices."), once.
#[server(endpoint = "notice")]
pub async fn take_notice() -> Result<Option<String>, PortalError> {
    let Ok(session) = session().await else {
        return Ok(None);
    };
    // Looked up first: removing marks the session changed, and it would be saved on
    // every page.
    let Ok(Some(notice)) = session.get::<String>(NOTICE_KEY).await else {
        return Ok(None);
    };
    let _ = session.remove::<String>(NOTICE_KEY).await;
    Ok(Some(notice))
}

/// The fields of a form the server refused, kept for the page the plain form post goes
/// back to, so the user fixes the bad field instead of typing everything again. Passwords,
/// keys and tokens are never kept.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OldInput {
    /// The path of the server function the form posted to.
    pub form: String,
    pub fields: Vec<(String, String)>,
}

impl OldInput {
    pub fn new(form: &str) -> Self {
        Self {
            form: form.to_owned(),
            fields: Vec::new(),
        }
    }

    pub fn with(mut self, name: &str, value: &str) -> Self {
        self.fields.push((name.to_owned(), value.to_owned()));
        self
    }

    pub fn with_all(mut self, name: &str, values: &[String]) -> Self {
        for value in values {
            self = self.with(name, value);
        }
        self
    }

    /// The input of `form` if this page shows that form's refusal (its error is in the
    /// URL); nothing otherwise, so a kept value never outlives its error message.
    pub fn of(old: &Option<Self>, form: &str) -> Self {
        let shown = use_context::<leptos::server::ServerActionError>()
            .is_some_and(|error| error.path() == form);
        match old {
            Some(old) if shown && old.form == form => old.clone(),
            _ => Self::default(),
        }
    }

    /// The first value of a field, if it was sent.
    pub fn value(&self, name: &str) -> Option<String> {
        self.fields
            .iter()
            .find(|(field, _)| field == name)
            .map(|(_, value)| value.clone())
    }

    /// Every value of a field that repeats (checkboxes, rows).
    pub fn values(&self, name: &str) -> Vec<String> {
        self.fields
            .iter()
            .filter(|(field, _)| field == name)
            .map(|(_, value)| value.clone())
            .collect()
    }
}

/// The input of the last refused form post, once: the page it went back to takes it.
#[server(endpoint = "old_input")]
pub async fn take_old_input() -> Result<Option<OldInput>, PortalError> {
    let Ok(session) = session().await else {
        return Ok(None);
    };
    // Looked up first, as for notices: an empty removal would save the session.
    let Ok(Some(old)) = session.get::<OldInput>(OLD_INPUT_KEY).await else {
        return Ok(None);
    };
    let _ = session.remove::<OldInput>(OLD_INPUT_KEY).await;
    Ok(Some(old))
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), PortalError> {
    let session = session().await?;
    let _ = session.flush().await;
    leptos_axum::redirect("/login");
    Ok(())
}

/// Only paths of this portal: never another site.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path)
            if path.starts_with('/') && !path.starts_with("//") && !path.starts_with("/\\") =>
        {
            path.to_owned()
        }
        _ => "/".to_owned(),
    }
}

#[cfg(feature = "ssr")]
mod server {
    use axum::http::StatusCode;
    use leptos::prelude::*;
    use tower_sessions::Session;

    use crate::domain::role::Role;
    use crate::model::StaffUser;
    use crate::services::{Actor, Services, SessionGrant};
    use crate::ui::errors::PortalError;

    pub const GRANT_KEY: &str = "grant";

    pub fn services() -> Result<Services, PortalError> {
        use_context::<crate::state::AppState>()
            .map(|state| state.services)
            .ok_or_else(|| PortalError::Refused("the portal is not set up".into()))
    }

    /// Sets the status of a server function's answer. A plain HTML form (JavaScript off)
    /// is answered with a redirect back to its page instead, which must keep its 303.
    pub fn set_status(status: StatusCode) {
        if is_plain_form_post() {
            return;
        }
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(status);
        }
    }

    /// Whether the request came from an HTML form submitted without JavaScript.
    pub fn is_plain_form_post() -> bool {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get(axum::http::header::ACCEPT).cloned())
            .and_then(|accept| accept.to_str().ok().map(|a| a.contains("text/html")))
            .unwrap_or(false)
    }

    const FLASH_KEY: &str = "flash";

    /// Keeps a value for the next page this session loads, once: how a secret made by a
    /// plain form post (JavaScript off) reaches the page the browser is sent back to.
    pub async fn put_flash(value: &str) {
        if let Ok(session) = session().await {
            let _ = session.insert(FLASH_KEY, value).await;
        }
    }

    pub const NOTICE_KEY: &str = "notice";

    /// Tells the page a plain form post goes back to how it went: forms outside the
    /// browser-side islands are answered with a redirect, which carries errors but no result.
    pub async fn put_notice(text: &str) {
        if !is_plain_form_post() {
            return;
        }
        if let Ok(session) = session().await {
            let _ = session.insert(NOTICE_KEY, text).await;
        }
    }

    pub const OLD_INPUT_KEY: &str = "old_input";

    /// Runs a server function's body; if it refuses a plain form post, keeps `input` (the
    /// form's non-secret fields) for the page the browser is sent back to.
    pub async fn keeping_input<T>(
        input: super::OldInput,
        body: impl Future<Output = Result<T, PortalError>>,
    ) -> Result<T, PortalError> {
        let result = body.await;
        if result.is_err()
            && is_plain_form_post()
            && let Ok(session) = session().await
        {
            let _ = session.insert(OLD_INPUT_KEY, &input).await;
        }
        result
    }

    pub async fn take_flash() -> Option<String> {
        let session = session().await.ok()?;
        // Looked up first, as in `take_notice`: an empty removal would save the session.
        let flash = session.get::<String>(FLASH_KEY).await.ok()??;
        let _ = session.remove::<String>(FLASH_KEY).await;
        Some(flash)
    }

    pub async fn session() -> Result<Session, PortalError> {
        leptos_axum::extract::<Session>()
            .await
            .map_err(|_| PortalError::Refused("sessions are unavailable".into()))
    }

    /// The client's address as the server saw it.
    pub async fn client_address() -> String {
        use axum::extract::ConnectInfo;
        leptos_axum::extract::<ConnectInfo<std::net::SocketAddr>>()
            .await
            .map(|ConnectInfo(addr)| addr.ip().to_string())
            .unwrap_or_else(|_| "unknown".into())
    }

    pub async fn signed_in_user() -> Result<Option<StaffUser>, PortalError> {
        let session = session().await?;
        let Ok(Some(grant)) = session.get::<SessionGrant>(GRANT_KEY).await else {
            return Ok(None);
        };
        let user = services()?.session_user(&grant).await?;
        if user.is_none() {
            // Disabled, password changed, or too old: this session is over.
            let _ = session.flush().await;
        }
        Ok(user)
    }

    /// The signed-in user if their role is one of `roles`, with the actor to act as.
    /// Sets 401 or 403 on the response otherwise.
    pub async fn require(roles: &[Role]) -> Result<(StaffUser, Actor), PortalError> {
        let Some(user) = signed_in_user().await? else {
            set_status(StatusCode::UNAUTHORIZED);
            return Err(PortalError::NotSignedIn);
        };
        if !roles.contains(&user.role) {
            set_status(StatusCode::FORBIDDEN);
            return Err(PortalError::Forbidden);
        }
        let actor = Services::staff_actor(&user);
        Ok((user, actor))
    }

    /// Turns a service error into the portal's, with a fitting status code.
    pub fn refuse(error: crate::services::ServiceError) -> PortalError {
        reject(PortalError::from(error))
    }

    /// Answers with the portal's own error and its status code.
    pub fn reject(error: PortalError) -> PortalError {
        set_status(error.status());
        error
    }

    /// Stores the grant of a session whose password just changed, so it stays signed in.
    pub async fn renew_grant(grant: &SessionGrant) -> Result<(), PortalError> {
        let session = session().await?;
        session
            .cycle_id()
            .await
            .map_err(|_| PortalError::Refused("sessions are unavailable".into()))?;
        session
            .insert(GRANT_KEY, grant)
            .await
            .map_err(|_| PortalError::Refused("sessions are unavailable".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_stays_on_the_portal() {
        assert_eq!(
            safe_next(Some("/devices?platform=IOS")),
            "/devices?platform=IOS"
        );
        assert_eq!(safe_next(Some("//evil.example")), "/");
        assert_eq!(safe_next(Some("/\\evil.example")), "/");
        assert_eq!(safe_next(Some("https://evil.example")), "/");
        assert_eq!(safe_next(None), "/");
    }
}
