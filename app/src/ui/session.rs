//! Who is signed in: the server functions for signing in and out, and (on the server) the
//! checks every other server function starts with.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use super::errors::PortalError;
use crate::model::StaffUser;

#[cfg(feature = "ssr")]
pub use server::*;

/// The signed-in user, and the time zone their browser had when they signed in.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Me {
    #[serde(flatten)]
    pub user: StaffUser,
    /// The browser's zone sent with the sign-in, if it sent a known one.
    pub browser_time_zone: Option<String>,
}

impl Me {
    /// The zone the user reads times in: the one they chose on My account, else their
    /// browser's at sign-in, else UTC.
    pub fn zone(&self) -> &str {
        self.user
            .time_zone
            .as_deref()
            .or(self.browser_time_zone.as_deref())
            .unwrap_or("UTC")
    }
}

/// The signed-in user, or `None`.
#[server(endpoint = "current_user")]
pub async fn current_user() -> Result<Option<Me>, PortalError> {
    let Some(user) = signed_in_user().await? else {
        return Ok(None);
    };
    Ok(Some(me(user).await?))
}

/// Signs in and goes on to `next` (a path of this portal), or to the start page.
/// `time_zone` is the browser's (`Europe/Stockholm`), which the sign-in form sends when
/// JavaScript runs: times are shown in it unless the user chose another; an unknown one
/// is ignored.
///
/// A refused plain form post goes back to the sign-in form with the email as typed (cut
/// to the longest an email can be) in the URL, never the password: nothing is kept in a
/// session for someone who is not signed in.
#[server(endpoint = "login")]
pub async fn login(
    email: String,
    password: String,
    next: Option<String>,
    time_zone: Option<String>,
) -> Result<(), PortalError> {
    let next = safe_next(next.as_deref());
    let signed_in = async {
        let services = services()?;
        let address = client_address().await;
        let grant = services
            .login(&email, &password, &address)
            .await
            .map_err(refuse)?;
        let session = portal_session().await?;
        let second_step = session
            .after_password(&services, &grant)
            .await
            .map_err(refuse)?;
        remember_browser_zone(&session, time_zone.as_deref()).await;
        Ok(second_step)
    }
    .await;
    match signed_in {
        // A user with a second factor is asked for it next.
        Ok(true) => leptos_axum::redirect(&format!(
            "{SECOND_STEP_PAGE}?next={}",
            percent_encode(&next)
        )),
        Ok(false) => leptos_axum::redirect(&next),
        Err(ref error) if is_plain_form_post() => {
            leptos_axum::redirect(&back_to_login(error, &email, &next));
        }
        Err(_) => {}
    }
    signed_in.map(|_| ())
}

/// The page of the second sign-in step.
pub const SECOND_STEP_PAGE: &str = "/login/verify";

/// Where a refused plain-form sign-in goes: the sign-in form, with `next`, the email as
/// typed (capped) and the error, as the page reads them from its URL.
#[cfg(feature = "ssr")]
fn back_to_login(error: &PortalError, email: &str, next: &str) -> String {
    use leptos::server_fn::ServerFn;
    use leptos::server_fn::error::ServerFnUrlError;

    let email: String = email
        .trim()
        .chars()
        .take(crate::domain::text::MAX_EMAIL_LENGTH)
        .collect();
    let page = format!(
        "/login?next={}&email={}",
        percent_encode(next),
        percent_encode(&email)
    );
    // The URL parser wants an absolute URL; only its path and query are sent.
    match ServerFnUrlError::new(Login::PATH, error.clone()).to_url(&format!("http://portal{page}"))
    {
        Ok(url) => match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        },
        Err(_) => "/login".to_owned(),
    }
}

/// A value for a URL's query string: everything but letters, digits and `-._~` escaped.
#[cfg(feature = "ssr")]
pub fn percent_encode(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// The notice a plain form post left for the page it leads back to ("Deregistered 2
/// devices."), once.
#[server(endpoint = "notice")]
pub async fn take_notice() -> Result<Option<String>, PortalError> {
    use crate::portal_session::Once;
    let Ok(session) = portal_session().await else {
        return Ok(None);
    };
    Ok(session.take_once(Once::Notice).await)
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

/// The most fields a refused form is kept with: every field of the largest form (the
/// pairing code's, with its 20 metadata rows) and no more.
pub const MAX_KEPT_FIELDS: usize = 2 * crate::domain::metadata::MAX_PAIRS + 8;

impl OldInput {
    pub fn new(form: &str) -> Self {
        Self {
            form: form.to_owned(),
            fields: Vec::new(),
        }
    }

    /// Adds a field as typed, cut to one character past `max` (the field's cap), so a
    /// value that was too long still shows it; fields past [`MAX_KEPT_FIELDS`] are left
    /// out. So what a session keeps of a refused form is small, whatever was posted.
    pub fn with(mut self, name: &str, value: &str, max: usize) -> Self {
        if self.fields.len() < MAX_KEPT_FIELDS {
            let value = value.chars().take(max.saturating_add(1)).collect();
            self.fields.push((name.to_owned(), value));
        }
        self
    }

    pub fn with_all(mut self, name: &str, values: &[String], max: usize) -> Self {
        for value in values {
            self = self.with(name, value, max);
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
    use crate::portal_session::Once;
    let Ok(session) = portal_session().await else {
        return Ok(None);
    };
    Ok(session.take_once(Once::TypedInput).await)
}

#[server(endpoint = "logout")]
pub async fn logout() -> Result<(), PortalError> {
    portal_session().await?.sign_out().await;
    leptos_axum::redirect("/login");
    Ok(())
}

/// The longest `next` kept: a page's path and query, never more.
const MAX_NEXT_LENGTH: usize = 2000;

/// Only paths of this portal: never another site. `next` must be a path-absolute URL
/// (`/devices?platform=IOS`): `/` and then no second `/`, of printable ASCII only, so no
/// control character a browser drops (`/\t/evil.example` is `//evil.example` to it) and
/// none that cannot go in a header (CR, LF); no backslash, which browsers read as `/`; and
/// so no scheme or host. Anything else goes to the start page.
pub fn safe_next(next: Option<&str>) -> String {
    match next {
        Some(path) if is_portal_path(path) => path.to_owned(),
        _ => "/".to_owned(),
    }
}

fn is_portal_path(path: &str) -> bool {
    let mut bytes = path.bytes();
    bytes.next() == Some(b'/')
        && !matches!(bytes.next(), Some(b'/' | b'\\'))
        && path.len() <= MAX_NEXT_LENGTH
        && path
            .bytes()
            .all(|byte| byte.is_ascii_graphic() && byte != b'\\')
}

#[cfg(feature = "ssr")]
mod server {
    use axum::http::{HeaderValue, header};
    use leptos::prelude::*;

    use crate::model::StaffUser;
    use crate::portal_session::{Once, PortalSession};
    use crate::services::{Actor, ServiceError, Services, SessionGrant};
    use crate::ui::errors::PortalError;

    pub fn services() -> Result<Services, PortalError> {
        use_context::<crate::state::AppState>()
            .map(|state| state.services)
            .ok_or(PortalError::Internal)
    }

    /// Whether the request came from an HTML form submitted without JavaScript.
    pub fn is_plain_form_post() -> bool {
        use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.headers.get(axum::http::header::ACCEPT).cloned())
            .and_then(|accept| accept.to_str().ok().map(|a| a.contains("text/html")))
            .unwrap_or(false)
    }

    pub async fn portal_session() -> Result<PortalSession, PortalError> {
        leptos_axum::extract::<PortalSession>()
            .await
            .map_err(|_| reject(PortalError::Internal))
    }

    /// Keeps a value for the next page this session loads, once: how a secret made by a
    /// plain form post (JavaScript off) reaches the page the browser is sent back to.
    pub async fn put_flash(value: &str) {
        if let Ok(session) = portal_session().await {
            session.put_once(Once::Secret, &value).await;
        }
    }

    pub async fn take_flash() -> Option<String> {
        portal_session().await.ok()?.take_once(Once::Secret).await
    }

    /// Keeps the signing secret of the webhook endpoint `endpoint_id` for that endpoint's
    /// page, once (see [`put_flash`]).
    pub async fn put_webhook_secret(endpoint_id: &str, secret: &str) {
        if let Ok(session) = portal_session().await {
            session
                .put_once(Once::WebhookSecret, &(endpoint_id, secret))
                .await;
        }
    }

    /// The secret kept for the page of the endpoint `endpoint_id`, once; one kept for
    /// another endpoint stays for that endpoint's page.
    pub async fn take_webhook_secret(endpoint_id: &str) -> Option<String> {
        let session = portal_session().await.ok()?;
        let (id, secret) = session
            .take_once::<(String, String)>(Once::WebhookSecret)
            .await?;
        if id == endpoint_id {
            return Some(secret);
        }
        session.put_once(Once::WebhookSecret, &(id, secret)).await;
        None
    }

    /// Tells the page a plain form post goes back to how it went: forms outside the
    /// browser-side islands are answered with a redirect, which carries errors but no result.
    pub async fn put_notice(text: &str) {
        if !is_plain_form_post() {
            return;
        }
        if let Ok(session) = portal_session().await {
            session.put_once(Once::Notice, &text).await;
        }
    }

    /// Runs a server function's body; if it refuses a plain form post, keeps `input` (the
    /// form's non-secret fields, capped) for the page the browser is sent back to, in the
    /// session of a signed-in user only (see `PortalSession::put_once`).
    pub async fn keeping_input<T>(
        input: super::OldInput,
        body: impl Future<Output = Result<T, PortalError>>,
    ) -> Result<T, PortalError> {
        let result = body.await;
        if result.is_err()
            && is_plain_form_post()
            && let Ok(session) = portal_session().await
        {
            session.put_once(Once::TypedInput, &input).await;
        }
        result
    }

    /// The client's address: the TCP peer, or behind a trusted proxy the one it forwarded.
    pub async fn client_address() -> String {
        leptos_axum::extract::<crate::client_address::ClientAddress>()
            .await
            .map(|address| address.to_string())
            .unwrap_or_else(|_| "unknown".into())
    }

    pub async fn signed_in_user() -> Result<Option<StaffUser>, PortalError> {
        let services = services()?;
        portal_session()
            .await?
            .user(&services)
            .await
            .map_err(refuse)
    }

    /// `user` as the portal knows them: with the zone their browser sent at sign-in,
    /// which this session keeps.
    pub async fn me(user: StaffUser) -> Result<super::Me, PortalError> {
        let browser_time_zone = portal_session().await?.browser_time_zone().await;
        Ok(super::Me {
            user,
            browser_time_zone,
        })
    }

    /// The signed-in user and the actor to act as (401 otherwise). What the user may do
    /// is the services' to decide.
    pub async fn signed_in() -> Result<(StaffUser, Actor), PortalError> {
        let services = services()?;
        portal_session()
            .await?
            .signed_in(&services)
            .await
            .map_err(refuse)
    }

    /// The signed-in user even while their merchant's rule wants a second factor of them:
    /// for adding one (401 when nobody is signed in, 403 on a one-time password).
    pub async fn signed_in_to_add_second_factor() -> Result<(StaffUser, Actor), PortalError> {
        let services = services()?;
        portal_session()
            .await?
            .signed_in_to_add_second_factor(&services)
            .await
            .map_err(refuse)
    }

    /// The signed-in user even while on a one-time password: for changing it, the one
    /// thing such a user may do (401 otherwise).
    pub async fn signed_in_to_change_password() -> Result<StaffUser, PortalError> {
        let services = services()?;
        portal_session()
            .await?
            .signed_in_to_change_password(&services)
            .await
            .map_err(refuse)
    }

    /// Turns a service error into the portal's, with its status code.
    pub fn refuse(error: ServiceError) -> PortalError {
        reject(PortalError::from(error))
    }

    /// Answers with the portal's own error, its status code, and when to retry. A plain
    /// HTML form (JavaScript off) is answered with a redirect back to its page instead,
    /// which must keep its 303.
    pub fn reject(error: PortalError) -> PortalError {
        if is_plain_form_post() {
            return error;
        }
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(error.status());
            if let Some(seconds) = error.retry_after_seconds() {
                response.insert_header(header::RETRY_AFTER, HeaderValue::from(seconds));
            }
        }
        error
    }

    /// Keeps the time zone the browser sent with a sign-in, if the zone database knows it.
    pub async fn remember_browser_zone(session: &PortalSession, time_zone: Option<&str>) {
        if let Some(zone) = time_zone.and_then(crate::local_time::Zone::named) {
            session.set_browser_time_zone(zone.name()).await;
        }
    }

    /// Keeps the session of a user whose password just changed signed in, under a new id.
    pub async fn renew_grant(grant: &SessionGrant) -> Result<(), PortalError> {
        portal_session().await?.sign_in(grant).await.map_err(refuse)
    }
}

#[cfg(test)]
mod tests {
    use super::{MAX_KEPT_FIELDS, OldInput, safe_next};

    #[test]
    fn next_stays_on_the_portal() {
        assert_eq!(
            safe_next(Some("/devices?platform=IOS")),
            "/devices?platform=IOS"
        );
        assert_eq!(
            safe_next(Some("/devices?q=caf%C3%A9&metadata=store%3As1")),
            "/devices?q=caf%C3%A9&metadata=store%3As1"
        );
        assert_eq!(safe_next(Some("/")), "/");
        for outside in [
            "//evil.example",
            "/\\evil.example",
            "\\\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "\t//evil.example",
            "/\r\nSet-Cookie: x=1",
            "/%0D%0A\r\n",
            "https://evil.example",
            "https:evil.example",
            "javascript:alert(1)",
            "evil.example",
            " /devices",
            "/devices page",
            "/caf\u{e9}",
            "",
        ] {
            assert_eq!(safe_next(Some(outside)), "/", "{outside:?}");
        }
        assert_eq!(safe_next(Some(&format!("/{}", "a".repeat(3000)))), "/");
        assert_eq!(safe_next(None), "/");
    }

    #[test]
    fn kept_input_is_capped() {
        let kept = OldInput::new("/api/x")
            .with("name", &"n".repeat(1_000_000), 100)
            .with("city", "Malmö", 200);
        assert_eq!(kept.value("name").unwrap().chars().count(), 101);
        assert_eq!(kept.value("city").as_deref(), Some("Malmö"));
        let many: Vec<String> = (0..1000).map(|i| i.to_string()).collect();
        let kept = OldInput::new("/api/x").with_all("metadata_keys", &many, 40);
        assert_eq!(kept.fields.len(), MAX_KEPT_FIELDS);
    }
}
