//! Islands used on several pages: the only parts of those pages that run in the browser.

use leptos::prelude::*;

use super::browser::{copy_to_clipboard, print_page};

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
