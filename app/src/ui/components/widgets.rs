//! Islands used on several pages: the only parts of those pages that run in the browser.

use leptos::prelude::*;

use super::browser::{copy_to_clipboard, print_page};
use super::format::remaining;

/// Puts `text` on the clipboard; the label says "Copied" afterwards.
#[island]
pub fn CopyButton(text: String, label: String, small: bool) -> impl IntoView {
    let copied = RwSignal::new(false);
    view! {
        <button type="button" class="secondary" class:small=small on:click=move |_| {
            copy_to_clipboard(&text);
            copied.set(true);
        }>{move || if copied.get() { "Copied".to_owned() } else { label.clone() }}</button>
    }
}

/// Opens the browser's print dialog.
#[island]
pub fn PrintButton(label: String) -> impl IntoView {
    view! { <button type="button" on:click=move |_| print_page()>{label}</button> }
}

/// A form's submit button. Once the form is sent it is disabled and shows `pending`
/// ("Creating…") until the next page arrives, so a double click sends one request.
/// Without JavaScript it is a plain submit button.
#[island]
pub fn SubmitButton(label: String, pending: String) -> impl IntoView {
    let sent = RwSignal::new(false);
    let button = NodeRef::<leptos::html::Button>::new();
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::{JsCast, closure::Closure};
        Effect::new(move || {
            let Some(form) = button.get().and_then(|button| button.form()) else {
                return;
            };
            // `submit` fires only once the browser's own checks pass: a form with an empty
            // required field keeps its button.
            let on_submit = Closure::<dyn Fn(leptos::web_sys::Event)>::new(
                move |event: leptos::web_sys::Event| {
                    if sent.get_untracked() {
                        event.prevent_default();
                    } else {
                        sent.set(true);
                    }
                },
            );
            let _ =
                form.add_event_listener_with_callback("submit", on_submit.as_ref().unchecked_ref());
            // Lives as long as the page and its form.
            on_submit.forget();
        });
        // Back to this page from the browser's cache: the form can be sent again.
        let handle = window_event_listener(leptos::ev::pageshow, move |event| {
            if event.persisted() {
                sent.set(false);
            }
        });
        on_cleanup(move || handle.remove());
    }
    view! {
        <button type="submit" node_ref=button disabled=move || sent.get() aria-busy=move || sent.get().then_some("true")>
            {move || if sent.get() { pending.clone() } else { label.clone() }}
        </button>
    }
}

/// The time left, ticking down each second (`12 min 05 s`), from `seconds_left` when the
/// page was made.
#[island]
pub fn Countdown(seconds_left: i64) -> impl IntoView {
    let seconds_left = RwSignal::new(seconds_left);
    #[cfg(feature = "hydrate")]
    if let Ok(tick) = set_interval_with_handle(
        move || seconds_left.update(|s| *s -= 1),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || tick.clear());
    }
    view! { <span data-testid="countdown">{move || remaining(seconds_left.get())}</span> }
}
