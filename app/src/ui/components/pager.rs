//! Links to a list's other pages, keeping its filters.

use leptos::prelude::*;
use leptos_router::hooks::use_query_map;

/// The list at `path` with this page's query, but `name` set to `value` (or left out):
/// the same filters, another page.
pub fn with_param(path: &str, name: &'static str, value: Option<String>) -> String {
    let mut params = use_query_map().read_untracked().clone();
    match value {
        Some(value) => params.replace(name, value),
        None => {
            params.remove(name);
        }
    }
    format!("{path}{}", params.to_query_string())
}

/// The pager under a list: an optional summary ("12 codes · page 1 of 1"), then links to
/// the page before and the page after, each `(href, label)` when there is one.
#[component]
pub fn Pager(
    #[prop(optional)] summary: Option<String>,
    previous: Option<(String, &'static str)>,
    next: Option<(String, &'static str)>,
) -> impl IntoView {
    let link = |(href, label): (String, &'static str)| view! { <a href=href>{label}</a> };
    view! {
        <nav class="pager" aria-label="Pages">
            {summary.map(|text| view! { <span>{text}</span> })}
            {previous.map(link)}
            {next.map(link)}
        </nav>
    }
}
