//! `/webhooks/{id}` (admins): one endpoint: its secret (revealed on request), rotation,
//! enable/disable, delete, "Send test event", and its delivery log with "Resend".

use leptos::form::ActionForm;
use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{WebhookDelivery, WebhookDeliveryStatus, WebhookEndpoint};
use crate::ui::components::format::{Time, TimeOrNever, plural};
use crate::ui::components::forms::{FormMessage, last_error};
use crate::ui::components::loading::Loaded;
use crate::ui::components::params::route_param;
use crate::ui::components::widgets::{CopyButton, SubmitButton};
use crate::ui::errors::PortalError;
use crate::ui::pages::webhooks::{EndpointStatus, LastAttempt, events_summary};

/// Deliveries shown, newest first.
#[cfg(feature = "ssr")]
const LOG_LENGTH: i64 = 50;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookEndpointData {
    pub endpoint: WebhookEndpoint,
    pub deliveries: Vec<WebhookDelivery>,
    pub total_deliveries: i64,
    /// The signing secret, when the admin just asked to see it (or the endpoint is new).
    pub secret: Option<String>,
}

#[server(endpoint = "webhook_endpoint_detail")]
pub async fn webhook_endpoint_detail(id: String) -> Result<WebhookEndpointData, PortalError> {
    use crate::domain::paging::PageRequest;
    use crate::services::WebhookDeliveryQuery;
    use crate::ui::session::{refuse, services, signed_in, take_flash};

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
    let deliveries = services
        .list_webhook_deliveries(&actor, &id, query)
        .await
        .map_err(refuse)?;
    Ok(WebhookEndpointData {
        endpoint,
        total_deliveries: deliveries.total_elements,
        deliveries: deliveries.content,
        secret: take_flash().await,
    })
}

/// Shows the secret: the page reads it once from the session (so a plain form post shows
/// it too), and the reveal is audited.
#[server(endpoint = "reveal_webhook_secret")]
pub async fn reveal_webhook_secret(id: String) -> Result<(), PortalError> {
    use crate::ui::session::{put_flash, refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let secret = services()?
        .reveal_webhook_secret(&actor, &id)
        .await
        .map_err(refuse)?;
    put_flash(&secret.secret).await;
    Ok(())
}

/// A new secret; the old one signs alongside it for 24 hours.
#[server(endpoint = "rotate_webhook_secret")]
pub async fn rotate_webhook_secret(id: String) -> Result<(), PortalError> {
    use crate::ui::session::{put_flash, refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let secret = services()?
        .rotate_webhook_secret(&actor, &id)
        .await
        .map_err(refuse)?;
    put_flash(&secret.secret).await;
    Ok(())
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
    enable: ServerAction<SetWebhookEndpointEnabled>,
    delete: ServerAction<DeleteWebhookEndpoint>,
    test: ServerAction<SendTestWebhook>,
    resend: ServerAction<ResendWebhookDelivery>,
}

impl Actions {
    fn version(&self) -> (usize, usize, usize, usize, usize) {
        (
            self.reveal.version().get(),
            self.rotate.version().get(),
            self.enable.version().get(),
            self.test.version().get(),
            self.resend.version().get(),
        )
    }
}

#[component]
pub fn WebhookEndpointPage() -> impl IntoView {
    let id = route_param("id");
    let actions = Actions {
        reveal: ServerAction::new(),
        rotate: ServerAction::new(),
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
        <Loaded resource=detail let:data>
            <EndpointDetail data actions/>
        </Loaded>
    }
}

#[component]
fn EndpointDetail(data: WebhookEndpointData, actions: Actions) -> impl IntoView {
    let WebhookEndpointData {
        endpoint,
        deliveries,
        total_deliveries,
        secret,
    } = data;
    let errors = [
        last_error(actions.reveal.value()),
        last_error(actions.rotate.value()),
        last_error(actions.enable.value()),
        last_error(actions.delete.value()),
        last_error(actions.test.value()),
        last_error(actions.resend.value()),
    ];
    // Copy, so every form's children can name the endpoint.
    let id = StoredValue::new(endpoint.id.clone());
    view! {
        <div class="page-head">
            <h1 class="url-title">{endpoint.url.clone()}</h1>
            <a href="/webhooks">"All endpoints"</a>
        </div>
        {errors.map(|error| view! { <FormMessage error/> }).collect_view()}
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
        </section>

        <section class="card">
            <h2>"Try it"</h2>
            <ActionForm action=actions.test>
                <HiddenId id=id.get_value()/>
                <p class="muted">"Sends an " <code>"ipp.webhook.test"</code> " event to this URL now; it appears in the log below."</p>
                <SubmitButton label="Send test event".to_owned() pending="Sending…".to_owned()/>
            </ActionForm>
        </section>

        <section class="card">
            <h2>"Delivery log"</h2>
            <DeliveryLog deliveries total=total_deliveries resend=actions.resend endpoint_id=endpoint.id.clone()/>
        </section>

        <section class="card danger-zone">
            <h2>"Turn off"</h2>
            <ActionForm action=actions.enable>
                <HiddenId id=id.get_value()/>
                <input type="hidden" name="enabled" value=(!endpoint.enabled).to_string()/>
                {if endpoint.enabled {
                    view! { <p>"A disabled endpoint is sent nothing until it is enabled again."</p>
                        <button type="submit" class="secondary">"Disable endpoint"</button> }.into_any()
                } else {
                    view! { <button type="submit">"Enable endpoint"</button> }.into_any()
                }}
            </ActionForm>
            <details>
                <summary>"Delete this endpoint…"</summary>
                <ActionForm action=actions.delete>
                    <HiddenId id=id.get_value()/>
                    <p>"Deliveries to it stop, and its log is deleted with it."</p>
                    <button type="submit" class="danger">"Delete endpoint"</button>
                </ActionForm>
            </details>
        </section>
    }
}

/// Which endpoint a form acts on.
#[component]
fn HiddenId(id: String) -> impl IntoView {
    view! { <input type="hidden" name="id" value=id/> }
}

#[component]
fn DeliveryLog(
    deliveries: Vec<WebhookDelivery>,
    total: i64,
    resend: ServerAction<ResendWebhookDelivery>,
    endpoint_id: String,
) -> impl IntoView {
    if deliveries.is_empty() {
        return view! { <p class="empty">"Nothing sent yet. Send a test event above, or create a pairing code: its event comes here."</p> }.into_any();
    }
    let shown = deliveries.len() as i64;
    view! {
        <table class="list" data-testid="delivery-log">
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
                            <td><code>{delivery.event_type.clone()}</code><br/><span class="muted id">{delivery.event_id.clone()}</span>
                                <br/><span class="muted"><Time at=delivery.created_at.clone()/></span></td>
                            <td>{status_badge(delivery.status)}</td>
                            <td>{delivery.attempts}</td>
                            <td>{last_answer(&delivery)}</td>
                            <td>{match delivery.status {
                                WebhookDeliveryStatus::Pending => view! { <TimeOrNever at=delivery.next_attempt_at.clone()/> }.into_any(),
                                _ => view! { "—" }.into_any(),
                            }}</td>
                            <td>
                                <details>
                                    <summary>"Request and answer"</summary>
                                    <p>"Request body"</p>
                                    <pre class="payload">{delivery.request_body.clone()}</pre>
                                    <p>"Answer (start)"</p>
                                    <pre class="payload">{delivery.response_excerpt.clone().unwrap_or_else(|| "—".into())}</pre>
                                </details>
                                <ActionForm action=resend>
                                    <input type="hidden" name="id" value=endpoint_id/>
                                    <input type="hidden" name="event_id" value=delivery.event_id.clone()/>
                                    <button type="submit" class="secondary small">"Resend"</button>
                                </ActionForm>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {(total > shown).then(|| view! { <p class="muted">{format!("The latest {shown} of {}.", plural(total, "delivery", "deliveries"))}</p> })}
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
