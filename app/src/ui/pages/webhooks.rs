//! `/webhooks` (admins): the URLs the merchant's events are sent to, and the form to add
//! one. Each endpoint's secret, test event and delivery log are on `/webhooks/{id}`.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use crate::domain::webhook::{ALL_EVENTS, WebhookEventType};
use crate::model::{WebhookAttempt, WebhookEndpoint};
use crate::ui::components::format::{Time, plural};
use crate::ui::components::forms::{FieldMessage, FormMessage, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;

#[server(endpoint = "webhook_endpoints")]
pub async fn webhook_endpoints() -> Result<Vec<WebhookEndpoint>, PortalError> {
    use crate::domain::paging::PageRequest;
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    // A merchant has at most 20 endpoints: one page holds them all.
    let page = PageRequest::new(Some(0), Some(100))?;
    Ok(services()?
        .list_webhook_endpoints(&actor, page)
        .await
        .map_err(refuse)?
        .content)
}

/// A new endpoint; the portal then shows it with its secret.
#[server(endpoint = "add_webhook_endpoint")]
pub async fn add_webhook_endpoint(
    url: String,
    #[server(default)] description: String,
    #[server(default)] events: Vec<String>,
) -> Result<(), PortalError> {
    use crate::domain::webhook::{MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH};
    use crate::services::NewWebhookEndpoint;
    use crate::ui::session::{OldInput, keeping_input, put_flash, refuse, services, signed_in};

    let kept = OldInput::new(AddWebhookEndpoint::PATH)
        .with("url", &url, MAX_URL_LENGTH)
        .with("description", &description, MAX_DESCRIPTION_LENGTH)
        .with_all("events", &events, 40);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        // Nothing chosen, or "all" among the choices: every event, those added later too.
        let events = if events.is_empty() || events.iter().any(|e| e == ALL_EVENTS) {
            None
        } else {
            Some(events)
        };
        let input = NewWebhookEndpoint {
            url,
            description: Some(description).filter(|d| !d.trim().is_empty()),
            events,
            enabled: None,
        };
        let created = services()?
            .create_webhook_endpoint(&actor, input)
            .await
            .map_err(refuse)?;
        put_flash(&created.secret).await;
        leptos_axum::redirect(&format!("/webhooks/{}", created.endpoint.id));
        Ok(())
    })
    .await
}

#[component]
pub fn WebhooksPage() -> impl IntoView {
    let add = ServerAction::<AddWebhookEndpoint>::new();
    let endpoints = Resource::new(move || add.version().get(), |_| webhook_endpoints());
    let error = last_error(add.value());

    view! {
        <h1>"Webhooks"</h1>
        <p class="muted">"Your systems learn at once when a pairing code is used or a device registers, changes or is deregistered. "
            "Each delivery is signed (Standard Webhooks: " <code>"webhook-id"</code> ", " <code>"webhook-timestamp"</code> ", "
            <code>"webhook-signature"</code> ") and retried for up to three days until your endpoint answers 2xx."</p>
        <Loaded resource=endpoints let:endpoints>
            <EndpointList endpoints/>
        </Loaded>
        <section class="card">
            <h2>"Add an endpoint"</h2>
            <ActionForm action=add>
                <WithKeptInput form=AddWebhookEndpoint::PATH let:old>
                    <label for="wh-url">"URL (https)"</label>
                    <input id="wh-url" name="url" type="url" value=old.value("url") required maxlength="2048"
                        placeholder="https://erp.example.com/hooks/ipp" aria-describedby="url-error"/>
                    <FieldMessage field="url" error/>
                    <label for="wh-description">"Description (optional)"</label>
                    <input id="wh-description" name="description" value=old.value("description") maxlength="200"
                        placeholder="ERP: new tills" aria-describedby="description-error"/>
                    <FieldMessage field="description" error/>
                    <EventChoices chosen=old.values("events")/>
                    <FieldMessage field="events" error/>
                </WithKeptInput>
                <FormMessage error/>
                <SubmitButton label="Add endpoint".to_owned() pending="Adding…".to_owned()/>
            </ActionForm>
        </section>
    }
}

/// "All events" or a choice among them, as checkboxes named `events[i]` (indexed, so one
/// ticked box still reads as a list).
#[component]
fn EventChoices(chosen: Vec<String>) -> impl IntoView {
    let all = chosen.is_empty() || chosen.iter().any(|e| e == ALL_EVENTS);
    view! {
        <fieldset class="event-choices">
            <legend>"Events"</legend>
            <label class="check"><input type="checkbox" name="events[0]" value=ALL_EVENTS checked=all/>
                " All events, including those added later"</label>
            {WebhookEventType::SUBSCRIBABLE.into_iter().enumerate().map(|(index, kind)| {
                let checked = chosen.iter().any(|e| e == kind.as_str());
                view! {
                    <label class="check"><input type="checkbox" name=format!("events[{}]", index + 1) value=kind.as_str() checked=checked/>
                        " " <code>{kind.as_str()}</code></label>
                }
            }).collect_view()}
        </fieldset>
    }
}

#[component]
fn EndpointList(endpoints: Vec<WebhookEndpoint>) -> impl IntoView {
    if endpoints.is_empty() {
        return view! { <p class="empty">"No endpoints yet. Add the URL of the system that should hear about your devices below."</p> }.into_any();
    }
    view! {
        <table class="list" data-testid="webhook-endpoints">
            <caption class="visually-hidden">"Webhook endpoints"</caption>
            <thead><tr>
                <th scope="col">"URL"</th><th scope="col">"Events"</th>
                <th scope="col">"Status"</th><th scope="col">"Last delivery"</th>
            </tr></thead>
            <tbody>
                {endpoints.into_iter().map(|endpoint| view! {
                    <tr class:disabled=!endpoint.enabled>
                        <td><a href=format!("/webhooks/{}", endpoint.id)>{endpoint.url.clone()}</a>
                            {(!endpoint.description.is_empty()).then(|| view! { <br/><span class="muted">{endpoint.description.clone()}</span> })}</td>
                        <td>{events_summary(&endpoint.events)}</td>
                        <td><EndpointStatus endpoint=endpoint.clone()/></td>
                        <td><LastAttempt attempt=endpoint.last_attempt.clone()/></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// "Enabled", or "Disabled" and why when the server disabled it.
#[component]
pub fn EndpointStatus(endpoint: WebhookEndpoint) -> impl IntoView {
    match (endpoint.enabled, endpoint.disabled_reason) {
        (true, _) => view! { <span class="badge ok">"Enabled"</span> }.into_any(),
        (false, Some(reason)) => view! {
            <span class="badge warn">"Disabled"</span> " " <span class="muted">{reason}</span>
        }
        .into_any(),
        (false, None) => view! { <span class="badge">"Disabled"</span> }.into_any(),
    }
}

pub fn events_summary(events: &[String]) -> String {
    match events {
        [all] if all == ALL_EVENTS => "All events".to_owned(),
        [one] => one.clone(),
        many => plural(many.len() as i64, "event", "events"),
    }
}

/// The latest attempt at any delivery: its outcome and when.
#[component]
pub fn LastAttempt(attempt: Option<WebhookAttempt>) -> impl IntoView {
    let Some(attempt) = attempt else {
        return view! { <span>"None yet"</span> }.into_any();
    };
    let outcome = match (attempt.succeeded, attempt.status_code, &attempt.error) {
        (true, Some(code), _) => format!("{code} OK"),
        (false, Some(code), _) => format!("failed: {code}"),
        (_, None, Some(error)) => format!("failed: {error}"),
        _ => "failed".to_owned(),
    };
    view! { <span>{outcome} ", " <Time at=attempt.attempted_at/></span> }.into_any()
}
