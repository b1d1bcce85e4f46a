//! Passkeys in the browser: the islands that add one (My account), sign in with one
//! (`/login`) and use one as the second step of a sign-in, and the server functions each
//! ceremony calls: the first hands out a challenge (its state stays in the server-side
//! session), the second checks the browser's answer.
//!
//! Passkeys need the browser's WebAuthn API, so these parts need JavaScript; each says so
//! when the browser cannot, and the page says why when the portal's address cannot have
//! passkeys at all (an IP address).

use leptos::prelude::*;

#[cfg(feature = "hydrate")]
use super::browser;
use crate::ui::errors::PortalError;

/// The server side of the ceremonies: their state in the session, and the sign-in that
/// waits for its second step.
#[cfg(feature = "ssr")]
mod kept {
    use serde::Serialize;
    use serde::de::DeserializeOwned;

    use crate::portal_session::{PasskeyCeremony, PortalSession};
    use crate::services::{Ceremony, SESSION_ENDED, ServiceError, SessionGrant, no_ceremony};
    use crate::ui::errors::PortalError;
    use crate::ui::session::refuse;

    /// Keeps the ceremony's state for its second call; returns the browser's options.
    pub async fn keep<S: Serialize>(
        session: &PortalSession,
        which: PasskeyCeremony,
        ceremony: Result<Ceremony<S>, ServiceError>,
    ) -> Result<String, PortalError> {
        let ceremony = ceremony.map_err(refuse)?;
        session
            .keep_ceremony(which, &ceremony.state)
            .await
            .map_err(refuse)?;
        Ok(ceremony.options)
    }

    /// Takes the state the first call kept (once only).
    pub async fn take<S: DeserializeOwned>(
        session: &PortalSession,
        which: PasskeyCeremony,
    ) -> Result<S, PortalError> {
        session
            .take_ceremony(which)
            .await
            .ok_or_else(|| refuse(no_ceremony()))
    }

    /// The sign-in waiting for its second step (401 when there is none).
    pub async fn pending(session: &PortalSession) -> Result<SessionGrant, PortalError> {
        session
            .pending_second_step()
            .await
            .ok_or_else(|| refuse(ServiceError::Unauthorized(SESSION_ENDED)))
    }
}

/// Why passkeys cannot be used at this portal's address, if they cannot.
#[server(endpoint = "passkeys_unavailable")]
pub async fn passkeys_unavailable() -> Result<Option<String>, PortalError> {
    use crate::ui::session::services;

    Ok(services()?.passkeys_unavailable())
}

/// Starts adding a passkey named `name` to the signed-in user: the options for
/// `navigator.credentials.create`, as JSON.
#[server(endpoint = "start_adding_passkey")]
pub async fn start_adding_passkey(name: String) -> Result<String, PortalError> {
    use crate::portal_session::PasskeyCeremony;
    use crate::ui::session::{portal_session, services, signed_in_to_add_second_factor};

    // A user whom the merchant's rule sends to set up a second factor may add one.
    let (user, _) = signed_in_to_add_second_factor().await?;
    let ceremony = services()?.start_passkey_registration(&user, &name).await;
    kept::keep(&portal_session().await?, PasskeyCeremony::Add, ceremony).await
}

/// Keeps the passkey the browser made (`credential`, its JSON) for the signed-in user.
#[server(endpoint = "finish_adding_passkey")]
pub async fn finish_adding_passkey(credential: String) -> Result<(), PortalError> {
    use crate::portal_session::Once;
    use crate::portal_session::PasskeyCeremony;
    use crate::services::PendingPasskey;
    use crate::ui::session::{portal_session, refuse, services, signed_in_to_add_second_factor};

    let (user, _) = signed_in_to_add_second_factor().await?;
    let session = portal_session().await?;
    let pending: PendingPasskey = kept::take(&session, PasskeyCeremony::Add).await?;
    let (_, codes) = services()?
        .finish_passkey_registration(&user, pending, &credential)
        .await
        .map_err(refuse)?;
    // Shown once by My account, which the browser reloads next.
    if let Some(codes) = codes {
        session.put_once(Once::RecoveryCodes, &codes).await;
    }
    Ok(())
}

/// Starts a sign-in with a passkey, nobody named: the options for
/// `navigator.credentials.get`, as JSON.
#[server(endpoint = "start_passkey_sign_in")]
pub async fn start_passkey_sign_in() -> Result<String, PortalError> {
    use crate::portal_session::PasskeyCeremony;
    use crate::ui::session::{client_address, portal_session, services};

    let ceremony = services()?
        .start_passkey_sign_in(&client_address().await)
        .await;
    kept::keep(&portal_session().await?, PasskeyCeremony::SignIn, ceremony).await
}

/// Signs in the passkey's user with the browser's answer (`credential`, JSON); returns
/// where to go (`next` if it is a portal path). `time_zone` is the browser's, as with a
/// password sign-in.
#[server(endpoint = "finish_passkey_sign_in")]
pub async fn finish_passkey_sign_in(
    credential: String,
    next: Option<String>,
    time_zone: Option<String>,
) -> Result<String, PortalError> {
    use crate::portal_session::PasskeyCeremony;
    use crate::ui::session::{
        client_address, portal_session, refuse, remember_browser_zone, safe_next, services,
    };

    let session = portal_session().await?;
    let state = kept::take(&session, PasskeyCeremony::SignIn).await?;
    let grant = services()?
        .passkey_sign_in(state, &credential, &client_address().await)
        .await
        .map_err(refuse)?;
    session.sign_in(&grant).await.map_err(refuse)?;
    remember_browser_zone(&session, time_zone.as_deref()).await;
    Ok(safe_next(next.as_deref()))
}

/// Starts the passkey second step of a sign-in whose password was right.
#[server(endpoint = "start_passkey_second_step")]
pub async fn start_passkey_second_step() -> Result<String, PortalError> {
    use crate::portal_session::PasskeyCeremony;
    use crate::ui::session::{portal_session, services};

    let session = portal_session().await?;
    let pending = kept::pending(&session).await?;
    let ceremony = services()?.start_passkey_second_step(&pending).await;
    kept::keep(&session, PasskeyCeremony::SecondStep, ceremony).await
}

/// Finishes the sign-in with the passkey's answer (`credential`, JSON); returns where to
/// go (`next` if it is a portal path).
#[server(endpoint = "finish_passkey_second_step")]
pub async fn finish_passkey_second_step(
    credential: String,
    next: Option<String>,
) -> Result<String, PortalError> {
    use crate::portal_session::PasskeyCeremony;
    use crate::ui::session::{client_address, portal_session, refuse, safe_next, services};

    let session = portal_session().await?;
    let pending = kept::pending(&session).await?;
    let state = kept::take(&session, PasskeyCeremony::SecondStep).await?;
    services()?
        .passkey_second_step(&pending, state, &credential, &client_address().await)
        .await
        .map_err(refuse)?;
    session.finish_second_step(&pending).await.map_err(refuse)?;
    Ok(safe_next(next.as_deref()))
}

/// What an island knows of the browser: nothing before it runs (no JavaScript), then
/// whether WebAuthn is there.
#[derive(Clone, Copy)]
struct BrowserSupport {
    hydrated: RwSignal<bool>,
    webauthn: RwSignal<bool>,
}

impl BrowserSupport {
    fn new() -> Self {
        let support = Self {
            hydrated: RwSignal::new(false),
            webauthn: RwSignal::new(false),
        };
        #[cfg(feature = "hydrate")]
        Effect::new(move || {
            support.webauthn.set(browser::has_webauthn());
            support.hydrated.set(true);
        });
        support
    }

    /// Why this browser cannot do it, while it cannot.
    fn missing(self, what: &'static str) -> impl Fn() -> Option<String> + Send + Sync {
        move || match (self.hydrated.get(), self.webauthn.get()) {
            (_, true) => None,
            (false, false) => Some(format!(
                "{what} needs JavaScript, which is off or still loading."
            )),
            (true, false) => Some(format!(
                "{what} needs a browser with passkeys (WebAuthn), on https or localhost; this one cannot here."
            )),
        }
    }
}

/// Runs one ceremony from a click: busy meanwhile, its message if it fails. `run` goes
/// on to the next page itself when it succeeds.
#[cfg(feature = "hydrate")]
fn run_ceremony<F>(busy: RwSignal<bool>, error: RwSignal<Option<String>>, run: F)
where
    F: Future<Output = Result<(), String>> + 'static,
{
    busy.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        if let Err(message) = run.await {
            error.set(Some(message));
            busy.set(false);
        }
    });
}

/// Adds a passkey on My account: a name, then the browser's passkey prompt. The page
/// loads again with the new passkey listed.
#[island]
pub fn AddPasskey() -> impl IntoView {
    let support = BrowserSupport::new();
    let name = RwSignal::new(String::new());
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let add = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        #[cfg(feature = "hydrate")]
        run_ceremony(busy, error, async move {
            let options = start_adding_passkey(name.get_untracked())
                .await
                .map_err(|e| e.to_string())?;
            let credential = browser::passkey_ceremony(&options, true).await?;
            finish_adding_passkey(credential)
                .await
                .map_err(|e| e.to_string())?;
            browser::reload();
            Ok(())
        });
    };
    view! {
        <form class="form-grid" on:submit=add>
            <div class="field">
                <label for="passkey-name">"Name (the device or password manager that keeps it)"</label>
                <input id="passkey-name" name="name" required maxlength="100" placeholder="Work laptop"
                    aria-describedby="passkey-error"
                    prop:value=move || name.get()
                    on:input=move |ev| name.set(event_target_value(&ev))/>
            </div>
            <p class="form-error" id="passkey-error" aria-live="assertive">{move || error.get()}</p>
            <p class="muted" data-testid="passkey-support">{support.missing("Adding a passkey")}</p>
            <div class="form-actions">
                <button type="submit" disabled=move || !support.webauthn.get() || busy.get()
                    aria-busy=move || busy.get().then_some("true")>
                    {move || if busy.get() { "Waiting for the passkey…" } else { "Add a passkey" }}
                </button>
            </div>
        </form>
    }
}

/// "Sign in with a passkey" on `/login`: any passkey the browser holds for this portal,
/// no email typed. `unavailable` says why the portal's address cannot have passkeys.
#[island]
pub fn PasskeySignIn(unavailable: Option<String>, next: String) -> impl IntoView {
    let support = BrowserSupport::new();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let blocked = unavailable.is_some();
    let sign_in = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let next = next.clone();
            run_ceremony(busy, error, async move {
                let options = start_passkey_sign_in().await.map_err(|e| e.to_string())?;
                let credential = browser::passkey_ceremony(&options, false).await?;
                let zone = Some(browser::time_zone());
                let to = finish_passkey_sign_in(credential, Some(next), zone)
                    .await
                    .map_err(|e| e.to_string())?;
                browser::go_to(&to);
                Ok(())
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &next;
    };
    view! {
        <div class="passkey-sign-in">
            <button type="button" class="secondary" on:click=sign_in
                disabled=move || blocked || !support.webauthn.get() || busy.get()
                aria-busy=move || busy.get().then_some("true")>
                {move || if busy.get() { "Waiting for the passkey…" } else { "Sign in with a passkey" }}
            </button>
            {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <p class="muted" data-testid="passkey-support">
                {move || unavailable.clone().or_else(support.missing("Signing in with a passkey"))}
            </p>
        </div>
    }
}

/// The passkey way through the second step of a sign-in (on `/login/verify`, for a user
/// who has passkeys): any of that user's passkeys.
#[island]
pub fn PasskeySecondStep(next: String) -> impl IntoView {
    let support = BrowserSupport::new();
    let busy = RwSignal::new(false);
    let error = RwSignal::new(None::<String>);
    let verify = move |_| {
        #[cfg(feature = "hydrate")]
        {
            let next = next.clone();
            run_ceremony(busy, error, async move {
                let options = start_passkey_second_step()
                    .await
                    .map_err(|e| e.to_string())?;
                let credential = browser::passkey_ceremony(&options, false).await?;
                let to = finish_passkey_second_step(credential, Some(next))
                    .await
                    .map_err(|e| e.to_string())?;
                browser::go_to(&to);
                Ok(())
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = &next;
    };
    view! {
        <div class="passkey-second-step">
            <button type="button" on:click=verify disabled=move || !support.webauthn.get() || busy.get()
                aria-busy=move || busy.get().then_some("true")>
                {move || if busy.get() { "Waiting for the passkey…" } else { "Use a passkey" }}
            </button>
            {move || error.get().map(|message| view! { <p class="form-error" role="alert">{message}</p> })}
            <p class="muted" data-testid="passkey-support">{support.missing("Using a passkey")}</p>
        </div>
    }
}
