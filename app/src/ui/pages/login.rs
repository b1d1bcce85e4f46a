//! `/login`: email and password, or a passkey.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use leptos_router::hooks::use_query_map;

use crate::ui::components::passkeys::{PasskeySignIn, passkeys_unavailable};
use crate::ui::components::widgets::SubmitButton;
use crate::ui::session::Login;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    // A refused sign-in comes back with the email as typed in the URL (never in a
    // session: the caller is not signed in), shown only with that refusal's error.
    let refused = use_context::<leptos::server::ServerActionError>()
        .is_some_and(|error| error.path() == Login::PATH);
    let email = move || {
        refused
            .then(|| query.read().get("email"))
            .flatten()
            .filter(|email| !email.is_empty())
    };
    let passkeys = Resource::new(|| (), |_| passkeys_unavailable());
    view! {
        <main class="narrow login">
            <h1>"Sign in to ipp-portal"</h1>
            <LoginForm login next=next() email=email()/>
            <section class="passkey-alternative" aria-label="Passkey">
                <p class="or">"or"</p>
                <Suspense fallback=|| ()>
                    {move || Suspend::new(async move {
                        let unavailable = match passkeys.await {
                            Ok(reason) => reason,
                            Err(error) => Some(error.to_string()),
                        };
                        view! { <PasskeySignIn unavailable next=next()/> }
                    })}
                </Suspense>
            </section>
        </main>
    }
}

/// Email and password. After a refusal the email is typed already: the password is next.
#[component]
fn LoginForm(login: ServerAction<Login>, next: String, email: Option<String>) -> impl IntoView {
    let error = move || {
        login
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };
    let retry = email.is_some();
    view! {
        <ActionForm action=login>
            <input type="hidden" name="next" value=next/>
            <label for="email">"Email"</label>
            <input id="email" name="email" type="email" autocomplete="username" value=email required maxlength="254" autofocus=!retry/>
            <label for="password">"Password"</label>
            <PasswordField autofocus=retry/>
            <p class="form-error" role="alert">{error}</p>
            <BrowserTimeZone/>
            <SubmitButton label="Sign in".to_owned() pending="Signing in…".to_owned()/>
        </ActionForm>
    }
}

/// The browser's time zone (`Europe/Stockholm`), sent with the sign-in so the portal shows
/// times in it. Without JavaScript nothing is sent, and times show in UTC until the user
/// chooses a zone on My account.
#[island]
fn BrowserTimeZone() -> impl IntoView {
    let zone = RwSignal::new(String::new());
    #[cfg(feature = "hydrate")]
    Effect::new(move || zone.set(crate::ui::components::browser::time_zone()));
    view! { <input type="hidden" name="time_zone" prop:value=move || zone.get()/> }
}

/// The password, with a button to show it while typing.
#[island]
fn PasswordField(autofocus: bool) -> impl IntoView {
    let show_password = RwSignal::new(false);
    view! {
        <div class="with-button">
            <input
                id="password"
                name="password"
                type=move || if show_password.get() { "text" } else { "password" }
                autocomplete="current-password"
                required
                autofocus=autofocus
            />
            <button
                type="button"
                class="secondary"
                aria-controls="password"
                aria-pressed=move || show_password.get().to_string()
                on:click=move |_| show_password.update(|shown| *shown = !*shown)
            >
                {move || if show_password.get() { "Hide" } else { "Show" }}
            </button>
        </div>
    }
}
