//! Links to a list's other pages (made with `params::with_param`, to keep its filters).

use leptos::prelude::*;

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
