//! Audit events as people read them: a table (the audit log, a device's history) and a
//! short list (the overview). Actions read as words ("Pairing code created"), with the
//! API's name of the action (`enrollment.created`) beside it for whoever needs it.

use leptos::prelude::*;

use super::format::Time;
use crate::model::AuditEvent;

/// Every action the audit log records: the API's name and how the portal says it.
pub const ACTIONS: [(&str, &str); 25] = [
    ("enrollment.created", "Pairing code created"),
    ("enrollment.cancelled", "Pairing code cancelled"),
    ("device.registered", "Device registered"),
    ("device.updated", "Device changed"),
    ("device.deregistered", "Device deregistered"),
    ("location.created", "Location added"),
    ("location.updated", "Location changed"),
    ("user.created", "User added"),
    ("user.access_changed", "User's access changed"),
    ("user.disabled", "User disabled"),
    ("user.enabled", "User enabled"),
    ("user.password_changed", "Password changed"),
    ("user.passkey_added", "Passkey added"),
    ("user.passkey_removed", "Passkey removed"),
    ("api_key.created", "API key created"),
    ("api_key.revoked", "API key revoked"),
    ("merchant.created", "Merchant created"),
    ("webhook_endpoint.created", "Webhook endpoint added"),
    ("webhook_endpoint.updated", "Webhook endpoint changed"),
    ("webhook_endpoint.deleted", "Webhook endpoint deleted"),
    (
        "webhook_endpoint.disabled",
        "Webhook endpoint disabled for failing",
    ),
    ("webhook_endpoint.secret_revealed", "Webhook secret shown"),
    ("webhook_endpoint.secret_rotated", "Webhook secret rotated"),
    ("webhook_endpoint.tested", "Webhook test event sent"),
    ("webhook_delivery.resent", "Webhook delivery resent"),
];

/// How the portal says an action; an action it does not know reads as recorded.
pub fn action_label(action: &str) -> String {
    ACTIONS
        .iter()
        .find(|(name, _)| *name == action)
        .map_or_else(|| action.to_owned(), |(_, label)| (*label).to_owned())
}

/// Who acted, with their kind: `ana@shop.example (user)`.
fn who(event: &AuditEvent) -> String {
    format!("{} ({})", event.actor.label, actor_kind(&event.actor.kind))
}

/// Events, newest first as given; who acted is named with their kind (user, API key, device).
#[component]
pub fn AuditTable(events: Vec<AuditEvent>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty">"Nothing recorded yet."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
        <table class="list audit">
            <caption class="visually-hidden">"Audit events"</caption>
            <thead><tr>
                <th scope="col">"When"</th><th scope="col">"Who"</th><th scope="col">"What"</th>
                <th scope="col">"Target"</th><th scope="col">"Details"</th>
            </tr></thead>
            <tbody>
                {events.into_iter().map(|event| {
                    let who = who(&event);
                    let details = if event.details.as_object().is_some_and(|o| o.is_empty()) { String::new() } else { event.details.to_string() };
                    view! {
                        <tr>
                            <td data-label="When"><Time at=event.occurred_at exact=true/></td>
                            <td data-label="Who">{who}</td>
                            <td data-label="What">{action_label(&event.action)}" "<code class="id">{event.action}</code></td>
                            <td data-label="Target">{event.target_kind}" "<code class="id">{event.target_id}</code></td>
                            <td data-label="Details" class="details">{details}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
    .into_any()
}

/// The latest events as a short list: what, who, how long ago.
#[component]
pub fn ActivityList(events: Vec<AuditEvent>) -> impl IntoView {
    if events.is_empty() {
        return view! { <p class="empty-inline">"Nothing has happened yet. Changes to pairing codes, devices and locations show here."</p> }.into_any();
    }
    view! {
        <ul class="rows">
            {events.into_iter().map(|event| {
                let who = who(&event);
                view! {
                    <li>
                        <span>{action_label(&event.action)}</span>
                        <span class="muted">{who}</span>
                        <span class="when"><Time at=event.occurred_at/></span>
                    </li>
                }
            }).collect_view()}
        </ul>
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
