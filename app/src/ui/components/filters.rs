//! The filter bar of a list: a form that loads the list's own address with the filters in
//! its query, so a view can be shared and bookmarked, and Back goes to the view before.
//! Laid out on a grid: each label above its field, the button at the end of the row.

use leptos::prelude::*;
use leptos_router::components::Form;

use super::forms::Options;
use super::locations::location_choices;
use crate::model::Location;

/// The bar around its fields (`children`), with the button that applies them.
#[component]
pub fn FilterBar(
    /// The list's own path: `/devices`.
    action: &'static str,
    /// What it filters, for screen readers: "Filter devices".
    label: &'static str,
    /// The button's label: "Filter", "Apply".
    button: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <Form action=action attr:class="filters" attr:aria-label=label>
            {children()}
            <div class="filter-actions">
                <a class="button ghost" href=action>"Clear"</a>
                <button type="submit">{button}</button>
            </div>
        </Form>
    }
}

/// A text filter, as the URL has it.
#[component]
pub fn FilterText(
    id: &'static str,
    /// The query parameter.
    name: &'static str,
    label: &'static str,
    value: String,
    #[prop(optional)] placeholder: Option<&'static str>,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <input id=id name=name value=value placeholder=placeholder/>
        </div>
    }
}

/// A choice among `(value, label)` pairs; `selected` is the value the URL has. With
/// `any` ("All locations"), the first choice is not to filter by this.
#[component]
pub fn FilterSelect(
    id: &'static str,
    /// The query parameter.
    name: &'static str,
    label: &'static str,
    #[prop(optional)] any: Option<&'static str>,
    choices: Vec<(String, String)>,
    #[prop(into)] selected: String,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for=id>{label}</label>
            <select id=id name=name>
                {any.map(|any| view! { <option value="">{any}</option> })}
                <Options choices selected/>
            </select>
        </div>
    }
}

/// The location filter of a list: all locations, or the one with the id `selected`.
#[component]
pub fn LocationFilter(locations: Vec<Location>, selected: String) -> impl IntoView {
    let choices = location_choices(&locations);
    view! { <FilterSelect id="f-location" name="location" label="Location" any="All locations" choices selected/> }
}

/// The metadata filter of a list, `key:value` pairs (all must match) as the server reads
/// them with `metadata_filters`.
#[component]
pub fn MetadataFilter(value: String, placeholder: &'static str) -> impl IntoView {
    view! { <FilterText id="f-metadata" name="metadata" label="Metadata (key:value)" value placeholder/> }
}
