//! `/pair`: where a pairing QR code leads a phone. Shows the code and what to do with it,
//! and lets a clerk check a code they were given before typing it into the POS app.
//!
//! The QR link carries the code in its fragment (`/pair#code=...`), which the browser
//! keeps to itself, so the server never sees it: the island reads it once hydrated. Links
//! printed earlier carry it in the query (`?code=`), which the server fills in.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

use crate::domain::pairing_code::{PairingCode, code_parameter};
use crate::ui::components::browser::{field_value, location_fragment};

#[component]
pub fn PairCheckPage() -> impl IntoView {
    let query = use_query_map();
    let initial = query.read_untracked().get("code").unwrap_or_default();

    view! {
        <main class="narrow">
            <h1>"Pair a payment terminal"</h1>
            <ol class="steps">
                <li>"Open the POS app on the phone or tablet."</li>
                <li>"Choose " <strong>"Enroll device"</strong> " and enter the pairing code below."</li>
                <li>"The app registers the device; it is ready to take payments."</li>
            </ol>
            <CodeCheck initial/>
        </main>
    }
}

/// The code field, checked as it is typed (the check runs in the browser).
#[island]
fn CodeCheck(initial: String) -> impl IntoView {
    // A clerk may type before the page has hydrated; hydration resets the field to the
    // server's value, so what they typed is read first and put back once hydrated.
    let typed_before_hydration = field_value("code").filter(|value| *value != initial);
    let typed = RwSignal::new(initial.clone());
    let checked = move || PairingCode::parse(&typed.get());
    // Runs in the browser only: the fragment never reaches the server.
    Effect::new(move || {
        if let Some(value) = typed_before_hydration.clone() {
            typed.set(value);
        } else if let Some(code) = code_parameter(&location_fragment()) {
            typed.set(code.to_owned());
        }
    });

    view! {
        <label for="code">"Pairing code"</label>
        <input
            id="code"
            name="code"
            class="code-input"
            autocomplete="off"
            spellcheck="false"
            value=initial
            prop:value=move || typed.get()
            on:input=move |ev| typed.set(event_target_value(&ev))
        />
        <p class="code-check" aria-live="polite" data-testid="code-check">
            {move || match checked() {
                Ok(code) => view! { <span class="ok">"Valid code: " <strong class="code">{code.display()}</strong></span> }.into_any(),
                Err(error) => view! { <span class="hint">{error.to_string()}</span> }.into_any(),
            }}
        </p>
    }
}
