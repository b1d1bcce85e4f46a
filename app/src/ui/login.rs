//! `/login`: email and password.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use super::session::Login;

#[component]
pub fn LoginPage() -> impl IntoView {
    let login = ServerAction::<Login>::new();
    let query = use_query_map();
    let next = move || query.read().get("next").unwrap_or_else(|| "/".into());
    let error = move || {
        login
            .value()
            .get()
            .and_then(Result::err)
            .map(|e| e.to_string())
    };

    view! {
        <main class="narrow login">
            <h1>"Sign in to ipp-portal"</h1>
            <ActionForm action=login>
                <input type="hidden" name="next" value=next/>
                <label for="email">"Email"</label>
                <input id="email" name="email" type="email" autocomplete="username" required autofocus/>
                <label for="password">"Password"</label>
                <PasswordField/>
                <p class="form-error" role="alert">{error}</p>
                <button type="submit">"Sign in"</button>
            </ActionForm>
        </main>
    }
}

/// The password, with a button to show it while typing.
#[island]
fn PasswordField() -> impl IntoView {
    let show_password = RwSignal::new(false);
    view! {
        <div class="with-button">
            <input
                id="password"
                name="password"
                type=move || if show_password.get() { "text" } else { "password" }
                autocomplete="current-password"
                required
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
