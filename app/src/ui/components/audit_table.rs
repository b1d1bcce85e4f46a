//! Audit events as a table: the audit log, and a device's history.

use leptos::prelude::*;

use super::format::short_time;
use crate::model::AuditEvent;

/// Events, newest first as given; who acted is named with their kind (user, API key, device).
#[component]
pub fn AuditTable(events: Vec<AuditEvent>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty">"Nothing recorded yet."</p> }.into_any();
    }
    view! {
        <table class="list audit">
            <caption class="visually-hidden">"Audit events"</caption>
            <thead><tr>
                <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th>
                <th scope="col">"Target"</th><th scope="col">"Details"</th>
            </tr></thead>
            <tbody>
                {events.into_iter().map(|event| {
                    let who = format!("{} ({})", event.actor.label, actor_kind(&event.actor.kind));
                    let details = if event.details.as_object().is_some_and(|o| o.is_empty()) { String::new() } else { event.details.to_string() };
                    view! {
                        <tr>
                            <td>{short_time(&event.occurred_at)}</td>
                            <td>{who}</td>
                            <td><code>{event.action}</code></td>
                            <td>{event.target_kind}" "<code class="id">{event.target_id}</code></td>
                            <td class="details">{details}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

fn actor_kind(kind: &str) -> &'static str {
    match kind {
        "user" => "user",
        "api_key" => "API key",
        "device" => "device",
        _ => "operator",
    }
}
