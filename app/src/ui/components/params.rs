//! What the page's address says: the parameters of its route and of its query, and links
//! to the same list with one of them changed.

use leptos::prelude::*;
use leptos_router::hooks::{use_params_map, use_query_map};

/// The page's query parameters, each as a `String` ("" when absent). Tracked: a resource
/// that reads them loads again when the address changes.
pub fn query_params() -> impl Fn(&str) -> String + Copy + Send + Sync + 'static {
    let query = use_query_map();
    move |name: &str| query.read().get(name).unwrap_or_default()
}

/// The route parameter `name` (`:id` of `/devices/:id`). Tracked, as `query_params`.
pub fn route_param(name: &'static str) -> impl Fn() -> String + Copy + Send + Sync + 'static {
    let params = use_params_map();
    move || params.read().get(name).unwrap_or_default()
}

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
