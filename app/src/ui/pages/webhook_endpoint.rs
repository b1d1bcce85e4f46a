//! `/webhooks/{id}` (admins): one endpoint: its secret (revealed on request), rotation,
//! its URL, description and events to change, enable/disable, delete, "Send test event",
//! and its latest deliveries with "Resend".

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use serde::{Deserialize, Serialize};

use crate::domain::webhook::ALL_EVENTS;
use crate::model::{WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint};
use crate::ui::components::format::{Time, TimeOrNever};
use crate::ui::components::forms::{FormMessage, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::params::route_param;
use crate::ui::components::widgets::{CopyButton, SubmitButton};
use crate::ui::errors::PortalError;
use crate::ui::pages::webhooks::{
    CHOSEN_EVENTS, EndpointFields, EndpointStatus, LastAttempt, events_summary,
};
use crate::ui::session::OldInput;

/// Deliveries shown, newest first.
#[cfg(feature = "ssr")]
const LOG_LENGTH: i64 = 50;

/// How much of a delivery's request body and answer the log shows (the API has them
/// whole): 50 rows of up to 64 KB each would make a page of megabytes.
#[cfg(feature = "ssr")]
const EXCERPT_BYTES: usize = 2048;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpointData {
    pub endpoint: WebhookEndpoint,
    /// The latest deliveries, their request bodies and answers cut short.
    pub deliveries: Vec<WebhookDelivery>,
    /// Whether older deliveries than these exist.
    pub older_deliveries: bool,
    /// The signing secret, when the admin just asked to see it (or the endpoint is new).
    pub secret: Option<String>,
}

#[server(endpoint = "webhook_endpoint_detail")]
pub async fn webhook_endpoint_detail(id: String) -> Result<WebhookEndpointData, PortalError> {
    use crate::domain::paging::PageRequest;
    use crate::services::WebhookDeliveryQuery;
    use crate::ui::session::{refuse, services, signed_in, take_webhook_secret};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let endpoint = services
        .webhook_endpoint(&actor, &id)
        .await
        .map_err(refuse)?;
    let query = WebhookDeliveryQuery {
        status: None,
        page: PageRequest::new(Some(0), Some(LOG_LENGTH))?,
    };
    let log = services
        .list_webhook_deliveries(&actor, &id, query)
        .await
        .map_err(refuse)?;
    let deliveries = log
        .content
        .into_iter()
        .map(|delivery| WebhookDelivery {
            request_body: excerpt(&delivery.request_body, EXCERPT_BYTES),
            response_excerpt: delivery
                .response_excerpt
                .as_deref()
                .map(|answer| excerpt(answer, EXCERPT_BYTES)),
            ..delivery
        })
        .collect();
    Ok(WebhookEndpointData {
        secret: take_webhook_secret(&endpoint.id).await,
        endpoint,
        deliveries,
        older_deliveries: !log.last,
    })
}

/// `text` cut to at most `max` bytes (at a character's end), with "…" when cut.
#[cfg(feature = "ssr")]
fn excerpt(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let end = (0..=max)
        .rev()
        .find(|at| text.is_char_boundary(*at))
        .unwrap_or(0);
    format!("{}…", &text[..end])
}

/// Shows the secret: the page reads it once from the session (so a plain form post shows
/// it too), and the reveal is audited.
#[server(endpoint = "reveal_webhook_secret")]
pub async fn reveal_webhook_secret(id: String) -> Result<(), PortalError> {
    show_secret(id, SecretAction::Reveal).await
}

/// A new secret; the old one signs alongside it for 24 hours.
#[server(endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(id: String) -> Result<(), PortalError> {
    show_secret(id, SecretAction::Rotate).await
}

#[cfg(feature = "ssr")]
enum SecretAction {
    Reveal,
    Rotate,
}

/// The endpoint's secret (the current one, or a new one), kept for its page to show.
#[cfg(feature = "ssr")]
async fn show_secret(id: String, action: SecretAction) -> Result<(), PortalError> {
    use crate::ui::session::{put_webhook_secret, refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let secret = match action {
        SecretAction::Reveal => services.reveal_webhook_secret(&actor, &id).await,
        SecretAction::Rotate => services.rotate_webhook_secret(&actor, &id).await,
    }
    .map_err(refuse)?;
    put_webhook_secret(&id, &secret.secret).await;
    Ok(())
}

/// The URL, description and events at once; `subscribe` and `events` as the form that
/// adds an endpoint sends them.
#[server(endpoint = "update_webhook_endpoint")]
pub async fn update_webhook_endpoint(
    id: String,
    url: String,
    #[server(default)] description: String,
    #[server(default)] subscribe: String,
    #[server(default)] events: Vec<String>,
) -> Result<(), PortalError> {
    use crate::domain::text::MAX_ID_LENGTH;
    use crate::domain::webhook::{MAX_DESCRIPTION_LENGTH, MAX_URL_LENGTH};
    use crate::services::WebhookEndpointPatch;
    use crate::ui::pages::webhooks::subscription;
    use crate::ui::session::{OldInput, keeping_input, refuse, services, signed_in};

    let kept = OldInput::new(UpdateWebhookEndpoint::PATH)
        .with("id", &id, MAX_ID_LENGTH)
        .with("url", &url, MAX_URL_LENGTH)
        .with("description", &description, MAX_DESCRIPTION_LENGTH)
        .with("subscribe", &subscribe, 10)
        .with_all("events", &events, 40);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        let patch = WebhookEndpointPatch {
            url: Some(url),
            description: Some(description),
            events: Some(subscription(&subscribe, events)),
            enabled: None,
        };
        services()?
            .update_webhook_endpoint(&actor, &id, patch)
            .await
            .map_err(refuse)?;
        Ok(())
    })
    .await
}

#[server(endpoint = "set_webhook_endpoint_enabled")]
pub async fn set_webhook_endpoint_enabled(id: String, enabled: bool) -> Result<(), PortalError> {
    use crate::services::WebhookEndpointPatch;
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let patch = WebhookEndpointPatch {
        enabled: Some(enabled),
        ..WebhookEndpointPatch::default()
    };
    services()?
        .update_webhook_endpoint(&actor, &id, patch)
        .await
        .map_err(refuse)?;
    Ok(())
}

#[server(endpoint = "delete_webhook_endpoint")]
pub async fn delete_webhook_endpoint(id: String) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .delete_webhook_endpoint(&actor, &id)
        .await
        .map_err(refuse)?;
    leptos_axum::redirect("/webhooks");
    Ok(())
}

#[server(endpoint = "send_test_webhook")]
pub async fn send_test_webhook(id: String) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .send_test_webhook(&actor, &id)
        .await
        .map_err(refuse)?;
    Ok(())
}

#[server(endpoint = "resend_webhook_delivery")]
pub async fn resend_webhook_delivery(id: String, event_id: String) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .resend_webhook_delivery(&actor, &id, &event_id)
        .await
        .map_err(refuse)?;
    Ok(())
}

/// Every action of the page: each refreshes what it shows.
#[derive(Clone, Copy)]
struct Actions {
    reveal: ServerAction<RevealWebhookSecret>,
    rotate: ServerAction<RotateWebhookSecret>,
    update: ServerAction<UpdateWebhookEndpoint>,
    enable: ServerAction<SetWebhookEndpointEnabled>,
    delete: ServerAction<DeleteWebhookEndpoint>,
    test: ServerAction<SendTestWebhook>,
    resend: ServerAction<ResendWebhookDelivery>,
}

impl Actions {
    fn version(&self) -> [usize; 6] {
        [
            self.reveal.version().get(),
            self.rotate.version().get(),
            self.update.version().get(),
            self.enable.version().get(),
            self.test.version().get(),
            self.resend.version().get(),
        ]
    }
}

#[component]
pub fn WebhookEndpointPage() -> impl IntoView {
    let id = route_param("id");
    let actions = Actions {
        reveal: ServerAction::new(),
        rotate: ServerAction::new(),
        update: ServerAction::new(),
        enable: ServerAction::new(),
        delete: ServerAction::new(),
        test: ServerAction::new(),
        resend: ServerAction::new(),
    };
    let detail = Resource::new(
        move || (id(), actions.version()),
        |(id, _)| webhook_endpoint_detail(id),
    );
    view! {
        <WithKeptInput form=UpdateWebhookEndpoint::PATH let:old>
            <Loaded resource=detail let:data>
                <EndpointDetail data actions old=old.clone()/>
            </Loaded>
        </WithKeptInput>
    }
}

/// The endpoint's facts and the forms that act on it, each form's error beside it. `old`
/// is the change the server last refused: the Change form shows it as sent.
#[component]
fn EndpointDetail(data: WebhookEndpointData, actions: Actions, old: OldInput) -> impl IntoView {
    let WebhookEndpointData {
        endpoint,
        deliveries,
        older_deliveries,
        secret,
    } = data;
    // Copy, so every form's children can name the endpoint.
    let id = StoredValue::new(endpoint.id.clone());
    let enabled = endpoint.enabled;
    view! {
        <div class="page-head">
            <h1 class="url-title">{endpoint.url.clone()}</h1>
            <a href="/webhooks">"All endpoints"</a>
        </div>
        <dl class="facts">
            <dt>"Endpoint id"</dt><dd><code>{endpoint.id.clone()}</code></dd>
            <dt>"Description"</dt><dd>{if endpoint.description.is_empty() { "—".to_owned() } else { endpoint.description.clone() }}</dd>
            <dt>"Events"</dt><dd>{events_summary(&endpoint.events)}
                {(endpoint.events.len() > 1).then(|| view! {
                    <ul class="chips">{endpoint.events.iter().map(|e| view! { <li><code>{e.clone()}</code></li> }).collect_view()}</ul>
                })}</dd>
            <dt>"Status"</dt><dd><EndpointStatus endpoint=endpoint.clone()/></dd>
            <dt>"Last delivery"</dt><dd><LastAttempt attempt=endpoint.last_attempt.clone()/></dd>
            <dt>"Created"</dt><dd><Time at=endpoint.created_at.clone()/></dd>
        </dl>

        <section class="card">
            <h2>"Signing secret"</h2>
            {match secret {
                Some(secret) => view! {
                    <div class="secret" role="status">
                        <code data-testid="webhook-secret">{secret.clone()}</code>
                        <CopyButton text=secret label="Copy".to_owned() small=false/>
                        <p class="muted">"Verify each delivery's " <code>"webhook-signature"</code> " with it (Standard Webhooks libraries do this in one call)."</p>
                    </div>
                }.into_any(),
                None => view! {
                    <ActionForm action=actions.reveal>
                        <HiddenId id=id.get_value()/>
                        <button type="submit" class="secondary">"Reveal secret"</button>
                    </ActionForm>
                    <FormMessage error=last_error(actions.reveal.value())/>
                }.into_any(),
            }}
            {endpoint.previous_secret_expires_at.clone().map(|until| view! {
                <p class="muted">"The previous secret also signs until " <Time at=until/> "."</p>
            })}
            <details>
                <summary>"Rotate the secret…"</summary>
                <ActionForm action=actions.rotate>
                    <HiddenId id=id.get_value()/>
                    <p>"A new secret signs from now on; the current one keeps signing alongside it for 24 hours, so your systems can switch without missing a delivery."</p>
                    <button type="submit">"Rotate secret"</button>
                </ActionForm>
            </details>
            <FormMessage error=last_error(actions.rotate.value())/>
        </section>

        <ChangeEndpoint endpoint=endpoint.clone() update=actions.update old/>

        <section class="card">
            <h2>"Try it"</h2>
            {if enabled {
                view! {
                    <ActionForm action=actions.test>
                        <HiddenId id=id.get_value()/>
                        <p class="muted">"Sends an " <code>"ipp.webhook.test"</code> " event to this URL now; it appears in the log below."</p>
                        <SubmitButton label="Send test event".to_owned() pending="Sending…".to_owned()/>
                    </ActionForm>
                    <FormMessage error=last_error(actions.test.value())/>
                }.into_any()
            } else {
                view! { <p class="muted" data-testid="disabled-reason">{DISABLED_SENDS_NOTHING}</p> }.into_any()
            }}
        </section>

        <section class="card">
            <h2>"Delivery log"</h2>
            <DeliveryLog deliveries older=older_deliveries resend=enabled.then_some(actions.resend) endpoint_id=endpoint.id.clone()/>
        </section>

        <section class="card danger-zone">
            <h2>"Turn off"</h2>
            <ActionForm action=actions.enable>
                <HiddenId id=id.get_value()/>
                <input type="hidden" name="enabled" value=(!enabled).to_string()/>
                {if enabled {
                    view! { <p>"A disabled endpoint is sent nothing until it is enabled again."</p>
                        <button type="submit" class="secondary">"Disable endpoint"</button> }.into_any()
                } else {
                    view! { <button type="submit">"Enable endpoint"</button> }.into_any()
                }}
            </ActionForm>
            <FormMessage error=last_error(actions.enable.value())/>
            <details>
                <summary>"Delete this endpoint…"</summary>
                <ActionForm action=actions.delete>
                    <HiddenId id=id.get_value()/>
                    <p>"Deliveries to it stop, and its log is deleted with it."</p>
                    <button type="submit" class="danger">"Delete endpoint"</button>
                </ActionForm>
            </details>
            <FormMessage error=last_error(actions.delete.value())/>
        </section>
    }
}

/// Why a disabled endpoint offers neither a test event nor a resend: the server would
/// refuse both.
const DISABLED_SENDS_NOTHING: &str = "This endpoint is disabled, so nothing is sent to it: enable it below to send a test event or resend a delivery.";

/// The form that changes the URL, description and events, as stored or, after a
/// refusal, as sent.
#[component]
fn ChangeEndpoint(
    endpoint: WebhookEndpoint,
    update: ServerAction<UpdateWebhookEndpoint>,
    old: OldInput,
) -> impl IntoView {
    let error = last_error(update.value());
    let refused = old.value("id").as_deref() == Some(endpoint.id.as_str());
    let fields = if refused {
        view! {
            <EndpointFields
                url=old.value("url").unwrap_or_default()
                description=old.value("description").unwrap_or_default()
                all_events=old.value("subscribe").as_deref() != Some(CHOSEN_EVENTS)
                chosen=old.values("events")
                error/>
        }
        .into_any()
    } else {
        let all_events = endpoint.events.iter().any(|e| e == ALL_EVENTS);
        view! {
            <EndpointFields
                url=endpoint.url.clone()
                description=endpoint.description.clone()
                all_events
                chosen=endpoint.events.clone()
                error/>
        }
        .into_any()
    };
    view! {
        <section class="card">
            <h2>"Change"</h2>
            <ActionForm action=update attr:class="form-grid">
                <input type="hidden" name="id" value=endpoint.id.clone()/>
                {fields}
                <FormMessage error/>
                <div class="form-actions">
                    <SubmitButton label="Save changes".to_owned() pending="Saving…".to_owned()/>
                </div>
            </ActionForm>
        </section>
    }
}

/// Which endpoint a form acts on.
#[component]
fn HiddenId(id: String) -> impl IntoView {
    view! { <input type="hidden" name="id" value=id/> }
}

/// The latest deliveries, each with "Resend" while the endpoint is enabled (`resend`).
#[component]
fn DeliveryLog(
    deliveries: Vec<WebhookDelivery>,
    /// Whether older deliveries exist than those shown.
    older: bool,
    resend: Option<ServerAction<ResendWebhookDelivery>>,
    endpoint_id: String,
) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="empty">"Nothing sent yet. Send a test event above, or create a pairing code: its event comes here."</p> }.into_any();
    }
    let shown = deliveries.len();
    view! {
        <p class="muted">
            {if older { format!("The latest {shown} deliveries, newest first; older ones are not shown.") } else { "Every delivery, newest first.".to_owned() }}
            " Request bodies and answers show their first 2 KB."
        </p>
        {resend.map(|resend| view! { <FormMessage error=last_error(resend.value())/> })}
        <div class="table-wrap">
        <table class="list deliveries" data-testid="delivery-log">
            <caption class="visually-hidden">"Deliveries"</caption>
            <thead><tr>
                <th scope="col">"Event"</th><th scope="col">"Status"</th><th scope="col">"Attempts"</th>
                <th scope="col">"Last answer"</th><th scope="col">"Next retry"</th><th scope="col">"Details"</th>
            </tr></thead>
            <tbody>
                {deliveries.into_iter().map(|delivery| {
                    let endpoint_id = endpoint_id.clone();
                    view! {
                        <tr>
                            <td><code>{delivery.event_type.clone()}</code><br/><code class="id">{delivery.event_id.clone()}</code>
                                <br/><span class="muted"><Time at=delivery.created_at.clone()/></span></td>
                            <td data-label="Status">{status_badge(delivery.status)}</td>
                            <td data-label="Attempts">{delivery.attempts}</td>
                            <td data-label="Last answer" class="answer">{last_answer(&delivery)}</td>
                            <td data-label="Next retry">{match delivery.status {
                                WebhookDeliveryStatus::Pending => view! { <TimeOrNever at=delivery.next_attempt_at.clone()/> }.into_any(),
                                _ => view! { "—" }.into_any(),
                            }}</td>
                            <td data-label="Details" class="details">
                                <details>
                                    <summary>"Request and answer"</summary>
                                    <p>"Request body"</p>
                                    <pre class="payload">{delivery.request_body.clone()}</pre>
                                    <p>"Answer (start)"</p>
                                    <pre class="payload">{delivery.response_excerpt.clone().unwrap_or_else(|| "—".into())}</pre>
                                </details>
                                {resend.map(|resend| view! {
                                    <ActionForm action=resend>
                                        <input type="hidden" name="id" value=endpoint_id/>
                                        <input type="hidden" name="event_id" value=delivery.event_id.clone()/>
                                        <button type="submit" class="secondary small">"Resend"</button>
                                    </ActionForm>
                                })}
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
    }
    .into_any()
}

fn status_badge(status: WebhookDeliveryStatus) -> impl IntoView {
    let (class, label) = match status {
        WebhookDeliveryStatus::Pending => ("badge live", "Pending"),
        WebhookDeliveryStatus::Succeeded => ("badge ok", "Delivered"),
        WebhookDeliveryStatus::Failed => ("badge warn", "Failed"),
    };
    view! { <span class=class>{label}</span> }
}

fn last_answer(delivery: &WebhookDelivery) -> String {
    let latency = delivery
        .last_latency_ms
        .map(|ms| format!(" in {ms} ms"))
        .unwrap_or_default();
    match (delivery.last_status_code, &delivery.last_error) {
        (Some(code), _) => format!("{code}{latency}"),
        (None, Some(error)) => format!("{error}{latency}"),
        (None, None) => "—".to_owned(),
    }
}

#[cfg(all(test, feature = "ssr"))]
mod tests {
    use super::excerpt;

    #[test]
    fn excerpts_end_at_a_character() {
        assert_eq!(excerpt("short", 2048), "short");
        assert_eq!(excerpt("abcdef", 4), "abcd…");
        // "é" is two bytes: a cut inside it moves back before it.
        assert_eq!(excerpt("abcé", 4), "abc…");
        assert_eq!(
            excerpt(&"x".repeat(5000), 2048).len(),
            2048 + '…'.len_utf8()
        );
    }
}
