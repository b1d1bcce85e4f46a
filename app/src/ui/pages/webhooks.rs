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

/// A new endpoint; the portal then shows it with its secret. `subscribe` is `all`
/// (every event, those added later too) or `chosen` (the `events` ticked, at least one).
#[server(endpoint = "add_webhook_endpoint")]
pub async fn add_webhook_endpoint(
    url: String,
    #[server(default)] description: String,
    #[server(default)] subscribe: String,
    #[server(default)] events: Vec<String>,
) -> Result<(), PortalError> {
    use crate::domain::webhook::{MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH};
    use crate::services::NewWebhookEndpoint;
    use crate::ui::session::{
        OldInput, keeping_input, put_webhook_secret, refuse, services, signed_in,
    };

    let kept = OldInput::new(AddWebhookEndpoint::PATH)
        .with("url", &url, MAX_URL_LENGTH)
        .with("description", &description, MAX_DESCRIPTION_LENGTH)
        .with("subscribe", &subscribe, 10)
        .with_all("events", &events, 40);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        let input = NewWebhookEndpoint {
            url,
            description: Some(description),
            events: Some(subscription(&subscribe, events)),
            enabled: None,
        };
        let created = services()?
            .create_webhook_endpoint(&actor, input)
            .await
            .map_err(refuse)?;
        put_webhook_secret(&created.endpoint.id, &created.secret).await;
        leptos_axum::redirect(&format!("/webhooks/{}", created.endpoint.id));
        Ok(())
    })
    .await
}

/// The events an endpoint's form asks for, as the services read them: `["*"]` for
/// "All events", else the ones ticked (none ticked is refused there, beside the field).
#[cfg(feature = "ssr")]
pub fn subscription(subscribe: &str, events: Vec<String>) -> Vec<String> {
    if subscribe == CHOSEN_EVENTS {
        events
    } else {
        vec![ALL_EVENTS.to_owned()]
    }
}

/// The value of the "Only these" choice of [`EventChoices`].
pub const CHOSEN_EVENTS: &str = "chosen";

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
            <ActionForm action=add attr:class="form-grid">
                <WithKeptInput form=AddWebhookEndpoint::PATH let:old>
                    <EndpointFields
                        url=old.value("url").unwrap_or_default()
                        description=old.value("description").unwrap_or_default()
                        all_events=old.value("subscribe").as_deref() != Some(CHOSEN_EVENTS)
                        chosen=old.values("events")
                        error/>
                </WithKeptInput>
                <FormMessage error/>
                <div class="form-actions">
                    <SubmitButton label="Add endpoint".to_owned() pending="Adding…".to_owned()/>
                </div>
            </ActionForm>
        </section>
    }
}

/// An endpoint's URL, description and events, each with its error beside it: the
/// fields of the forms that add and change an endpoint.
#[component]
pub fn EndpointFields(
    url: String,
    description: String,
    /// "All events" chosen (else "Only these", with `chosen` ticked).
    all_events: bool,
    chosen: Vec<String>,
    error: impl Fn() -> Option<PortalError> + Copy + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for="wh-url">"URL (https)"</label>
            <input id="wh-url" name="url" type="url" value=url required maxlength="2048"
                placeholder="https://erp.example.com/hooks/ipp" aria-describedby="url-error"/>
            <FieldMessage field="url" error/>
        </div>
        <div class="field">
            <label for="wh-description">"Description (optional)"</label>
            <input id="wh-description" name="description" value=description maxlength="200"
                placeholder="ERP: new tills" aria-describedby="description-error"/>
            <FieldMessage field="description" error/>
        </div>
        <div class="field wide">
            <EventChoices all_events chosen/>
            <FieldMessage field="events" error/>
        </div>
    }
}

/// "All events" or "Only these" as two radio buttons (`subscribe`), then a checkbox per
/// event named `events[i]` (indexed, so one ticked box still reads as a list). The
/// boxes count only with "Only these": what is sent is what the form shows.
#[component]
fn EventChoices(all_events: bool, chosen: Vec<String>) -> impl IntoView {
    view! {
        <fieldset class="event-choices" aria-describedby="events-error">
            <legend>"Events"</legend>
            <label class="check"><input type="radio" name="subscribe" value="all" checked=all_events/>
                " All events, including those added later"</label>
            <label class="check"><input type="radio" name="subscribe" value=CHOSEN_EVENTS checked=!all_events/>
                " Only these:"</label>
            <div class="event-list">
                {WebhookEventType::SUBSCRIBABLE.into_iter().enumerate().map(|(index, kind)| {
                    let checked = chosen.iter().any(|e| e == kind.as_str());
                    view! {
                        <label class="check"><input type="checkbox" name=format!("events[{index}]") value=kind.as_str() checked=checked/>
                            " " <code>{kind.as_str()}</code></label>
                    }
                }).collect_view()}
            </div>
        </fieldset>
    }
}

#[component]
fn EndpointList(endpoints: Vec<WebhookEndpoint>) -> impl IntoView {
    if endpoints.is_empty() {
        return view! { <p class="empty">"No endpoints yet. Add the URL of the system that should hear about your devices below."</p> }.into_any();
    }
    view! {
        <div class="table-wrap">
        <table class="list webhooks" data-testid="webhook-endpoints">
            <caption class="visually-hidden">"Webhook endpoints"</caption>
            <thead><tr>
                <th scope="col">"URL"</th><th scope="col">"Events"</th>
                <th scope="col">"Status"</th><th scope="col">"Last delivery"</th>
            </tr></thead>
            <tbody>
                {endpoints.into_iter().map(|endpoint| view! {
                    <tr class:disabled=!endpoint.enabled>
                        <td class="url"><a href=format!("/webhooks/{}", endpoint.id)>{endpoint.url.clone()}</a>
                            {(!endpoint.description.is_empty()).then(|| view! { <br/><span class="muted">{endpoint.description.clone()}</span> })}</td>
                        <td data-label="Events">{events_summary(&endpoint.events)}</td>
                        <td data-label="Status"><EndpointStatus endpoint=endpoint.clone()/></td>
                        <td data-label="Last delivery"><LastAttempt attempt=endpoint.last_attempt.clone()/></td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        </div>
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
