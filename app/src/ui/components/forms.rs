//! Small pieces every form uses: messages for a refused submission, and the options of a
//! `<select>`.

use leptos::prelude::*;

use crate::ui::errors::PortalError;

/// The error of the last submission, if any: `Some(error)`.
pub fn last_error<T, S>(value: S) -> impl Fn() -> Option<PortalError> + Copy + Send + Sync + 'static
where
    T: Clone + Send + Sync + 'static,
    S: Get<Value = Option<Result<T, PortalError>>> + Copy + Send + Sync + 'static,
{
    move || value.get().and_then(Result::err)
}

/// The message next to a field, when the last submission failed because of it.
#[component]
pub fn FieldMessage(
    #[prop(into)] field: String,
    error: impl Fn() -> Option<PortalError> + Send + Sync + 'static,
) -> impl IntoView {
    let id = format!("{field}-error");
    view! {
        <p class="field-error" id=id>
            {move || error().and_then(|e| e.for_field(&field))}
        </p>
    }
}

/// The message of a failure that is not about one field.
#[component]
pub fn FormMessage(
    error: impl Fn() -> Option<PortalError> + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <p class="form-error" role="alert">
            {move || error().filter(|e| !matches!(e, PortalError::Invalid(_))).map(|e| e.to_string())}
        </p>
    }
}

/// The `<option>`s of a `<select>`: `(value, label)` pairs, the one whose value is
/// `selected` chosen.
#[component]
pub fn Options(choices: Vec<(String, String)>, #[prop(into)] selected: String) -> impl IntoView {
    choices
        .into_iter()
        .map(|(value, label)| {
            let chosen = value == selected;
            view! { <option value=value selected=chosen>{label}</option> }
        })
        .collect_view()
}

/// Fixed `(value, label)` pairs as `Options` takes them.
pub fn choices<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<(String, String)> {
    pairs
        .into_iter()
        .map(|(value, label)| (value.to_owned(), label.to_owned()))
        .collect()
}
