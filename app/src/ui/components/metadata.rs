//! Metadata in forms: the key/value rows of the create and edit forms and how the server
//! reads them, the `key:value` filter of the lists, and metadata shown as chips.

use leptos::prelude::*;

use crate::domain::metadata::{MAX_KEY_LENGTH, MAX_VALUE_LENGTH};
#[cfg(feature = "ssr")]
use crate::ui::errors::PortalError;
use crate::ui::session::OldInput;

/// The metadata filter as typed: `store:s1 type:ios` (all must match).
#[cfg(feature = "ssr")]
pub fn metadata_filters(typed: &str) -> Vec<String> {
    typed.split_whitespace().map(str::to_owned).collect()
}

/// Metadata from the form's key and value rows; empty rows are skipped.
#[cfg(feature = "ssr")]
pub fn metadata_from_rows(
    keys: &[String],
    values: &[String],
) -> Result<crate::domain::metadata::Metadata, PortalError> {
    use crate::domain::FieldError;
    let mut metadata = crate::domain::metadata::Metadata::new();
    for (index, key) in keys.iter().enumerate() {
        let key = key.trim();
        let value = values.get(index).map(|v| v.trim()).unwrap_or_default();
        if key.is_empty() && value.is_empty() {
            continue;
        }
        if key.is_empty() {
            return Err(PortalError::Invalid(vec![FieldError::new(
                "metadata",
                "every value needs a key",
            )]));
        }
        if metadata.insert(key.to_owned(), value.to_owned()).is_some() {
            return Err(PortalError::Invalid(vec![FieldError::new(
                "metadata",
                format!("the key '{key}' is given twice"),
            )]));
        }
    }
    Ok(metadata)
}

/// Metadata as a list of `key value` chips.
#[component]
pub fn MetadataChips(metadata: crate::domain::metadata::Metadata) -> impl IntoView {
    view! {
        <ul class="chips">
            {metadata.into_iter().map(|(k, v)| view! { <li><span class="k">{k}</span>{v}</li> }).collect_view()}
        </ul>
    }
}

/// The rows a refused form sent, paired up, the empty ones dropped.
pub fn sent_rows(old: &OldInput) -> Vec<(String, String)> {
    old.values("metadata_keys")
        .into_iter()
        .zip(
            old.values("metadata_values")
                .into_iter()
                .chain(std::iter::repeat(String::new())),
        )
        .filter(|(key, value)| !key.is_empty() || !value.is_empty())
        .collect()
}

/// The rows the create form's fieldset starts with: those the user last sent, and empty
/// ones up to three.
pub fn metadata_rows(old: &OldInput) -> Vec<(String, String)> {
    let mut rows = sent_rows(old);
    while rows.len() < 3 {
        rows.push((String::new(), String::new()));
    }
    rows
}

/// One key/value row, its fields named as `metadata_from_rows` reads them
/// (`metadata_keys[0]`, `metadata_values[0]`) and their ids `{ids}k-0` and `{ids}v-0`.
/// `children` (the island's Remove button) follow the fields.
#[component]
pub fn MetadataRow(
    ids: &'static str,
    row: usize,
    key: String,
    value: String,
    /// Examples in the empty fields, and the lengths the server allows.
    #[prop(optional)]
    hints: bool,
    #[prop(optional)] children: Option<Children>,
) -> impl IntoView {
    let (key_id, value_id) = (format!("{ids}k-{row}"), format!("{ids}v-{row}"));
    let (key_hint, value_hint) = if hints {
        ("key, e.g. store", "value, e.g. berlin-01")
    } else {
        ("key", "value")
    };
    view! {
        <div class="metadata-row">
            <label for=key_id.clone() class="visually-hidden">"Key"</label>
            <input id=key_id name=format!("metadata_keys[{row}]") value=key placeholder=key_hint maxlength=hints.then_some(MAX_KEY_LENGTH)/>
            <label for=value_id.clone() class="visually-hidden">"Value"</label>
            <input id=value_id name=format!("metadata_values[{row}]") value=value placeholder=value_hint maxlength=hints.then_some(MAX_VALUE_LENGTH)/>
            {children.map(|children| children())}
        </div>
    }
}

/// Metadata key/value rows, starting with `rows`: those rows alone without JavaScript;
/// with it, rows come and go.
#[island]
pub fn MetadataRows(rows: Vec<(String, String)>) -> impl IntoView {
    let next_row = StoredValue::new(rows.len());
    let rows = RwSignal::new(rows.into_iter().enumerate().collect::<Vec<_>>());
    view! {
        <fieldset class="metadata-rows" aria-describedby="metadata-error">
            <legend>"Metadata (carried over to the device, used to find it later)"</legend>
            <For each=move || rows.get() key=|(row, _)| *row let:((row, (key, value)))>
                <MetadataRow ids="m" row key value hints=true>
                    <button type="button" class="secondary" aria-label="Remove this row"
                        on:click=move |_| rows.update(|r| r.retain(|(x, _)| *x != row))>"Remove"</button>
                </MetadataRow>
            </For>
            <button type="button" class="secondary" on:click=move |_| {
                let row = next_row.get_value();
                next_row.set_value(row + 1);
                rows.update(|r| r.push((row, (String::new(), String::new()))));
            }>"Add metadata"</button>
        </fieldset>
    }
}
