//! `/enrollments/{id}`: one pairing code, large, as text and QR code, with a countdown;
//! it turns into "registered" as soon as a device uses the code. Prints as one card.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::domain::enrollment::EnrollmentStatus;
use crate::model::Enrollment;
use crate::ui::components::enrollment_status::StatusBadge;
use crate::ui::components::format::Time;
use crate::ui::components::loading::Loaded;
use crate::ui::components::metadata::MetadataChips;
use crate::ui::components::params::route_param;
use crate::ui::components::widgets::{CopyButton, Countdown, PrintButton};
use crate::ui::errors::PortalError;

/// Everything a pairing card shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairingCardData {
    pub enrollment: Enrollment,
    pub location_name: String,
    /// The QR code of `qr_payload`, as inline SVG; only while the code is live.
    pub qr_svg: Option<String>,
    /// Seconds until expiry at the time the card was made.
    pub seconds_left: i64,
    /// The device that used the code, once one has: id and name.
    pub device: Option<(String, String)>,
}

/// The card of one enrollment: its location's name, QR code, time left and device.
#[cfg(feature = "ssr")]
pub async fn card_of(
    services: &crate::services::Services,
    actor: &crate::services::Actor,
    enrollment: Enrollment,
) -> Result<PairingCardData, PortalError> {
    use crate::ui::session::refuse;

    let location_name = match services.location(actor, &enrollment.location_id).await {
        Ok(location) => location.name,
        Err(crate::services::ServiceError::NotFound(_)) => "—".to_owned(),
        Err(error) => return Err(refuse(error)),
    };
    let qr_svg = enrollment
        .qr_payload
        .as_deref()
        .and_then(crate::ui::components::qr::qr_svg);
    let expires_at = crate::local_time::parse_rfc3339(&enrollment.expires_at).unwrap_or_default();
    let seconds_left = (expires_at - services.now()).div_euclid(1000);
    let device = device_of(services, actor, &enrollment).await;
    Ok(PairingCardData {
        enrollment,
        location_name,
        qr_svg,
        seconds_left,
        device,
    })
}

/// The device that used the code, if one has and it still exists: id and name.
#[cfg(feature = "ssr")]
async fn device_of(
    services: &crate::services::Services,
    actor: &crate::services::Actor,
    enrollment: &Enrollment,
) -> Option<(String, String)> {
    let id = enrollment.device_id.as_deref()?;
    let device = services.device(actor, id).await.ok()?;
    Some((device.id, device.name))
}

#[server(endpoint = "pairing_card")]
pub async fn pairing_card(id: String) -> Result<PairingCardData, PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let enrollment = services.enrollment(&actor, &id).await.map_err(refuse)?;
    card_of(&services, &actor, enrollment).await
}

#[component]
pub fn EnrollmentDetailPage() -> impl IntoView {
    let id = route_param("id");
    let card = Resource::new(id, pairing_card);
    view! {
        <Loaded resource=card let:card>
            <PairingCard card/>
        </Loaded>
    }
}

/// The card as the server renders it. A live code is wrapped in an island that keeps it
/// up to date; a used, cancelled or expired one is plain HTML with nothing to hydrate.
#[component]
fn PairingCard(card: PairingCardData) -> impl IntoView {
    let PairingCardData {
        enrollment,
        location_name,
        qr_svg,
        seconds_left,
        device,
    } = card;
    let head = view! {
        <div class="page-head no-print">
            <h1>"Pairing code"</h1>
            <a href="/enrollments">"All pairing codes"</a>
        </div>
    };
    let code = match enrollment.enrollment_code.clone() {
        Some(code) if enrollment.status == EnrollmentStatus::Pending && seconds_left > 0 => code,
        _ => {
            let status = match enrollment.status {
                EnrollmentStatus::Pending => EnrollmentStatus::Expired,
                other => other,
            };
            return view! {
                {head}
                <article class="pairing-card">
                    <p class="status-line no-print"><StatusBadge status/></p>
                    <div class="pairing-done">{done_message(status, device)}</div>
                </article>
            }
            .into_any();
        }
    };
    view! {
        {head}
        <LivePairingCard id=enrollment.enrollment_id.clone() seconds_left>
            <div class="pairing-body">
                <div class="pairing-text">
                    <p class="label">"Pairing code"</p>
                    <p class="big-code" class:long={code.len() > 9} data-testid="pairing-code">{code.clone()}</p>
                    <p class="expiry">
                        "Expires " <Time at=enrollment.expires_at.clone() exact=true/>
                        <span class="no-print">" · in " <Countdown seconds_left/></span>
                    </p>
                    <p class="location">"Location: " <strong>{location_name}</strong></p>
                    <MetadataChips metadata=enrollment.metadata.clone()/>
                    <ol class="clerk-steps">
                        <li>"Open the POS app and choose " <strong>"Enroll device"</strong> "."</li>
                        <li>"Scan this QR code, or type the code above."</li>
                        <li>"Wait for the app to confirm: the device is ready to take payments."</li>
                    </ol>
                </div>
                <div class="qr" data-testid="qr" data-payload=enrollment.qr_payload.clone() inner_html=qr_svg.unwrap_or_default()></div>
            </div>
            <div class="actions no-print">
                <PrintButton label="Print".to_owned()/>
                <CopyButton text=code label="Copy code".to_owned() small=false/>
            </div>
        </LivePairingCard>
    }
    .into_any()
}

/// What a card says once its code can no longer be used.
fn done_message(status: EnrollmentStatus, device: Option<(String, String)>) -> AnyView {
    match (status, device) {
        (EnrollmentStatus::Consumed, Some((id, name))) => view! {
            <p>"Registered by device " <a href=format!("/devices/{id}")>{name}</a> "."</p>
        }
        .into_any(),
        (EnrollmentStatus::Consumed, None) => {
            view! { <p>"A device registered with this code."</p> }.into_any()
        }
        (EnrollmentStatus::Cancelled, _) => view! {
            <p>"This code was cancelled. Create a new one if a device still needs pairing."</p>
        }
        .into_any(),
        _ => view! { <p>"This code has expired. " <a href="/enrollments">"Create a new one"</a> "."</p> }
            .into_any(),
    }
}

/// The status of a code and the device that used it: what the live card asks for.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PairingState {
    pub status: EnrollmentStatus,
    /// The device that used the code, once one has: id and name.
    pub device: Option<(String, String)>,
}

/// The status alone, polled by the live card: no QR code or metadata every two seconds.
#[server(endpoint = "pairing_status")]
pub async fn pairing_status(id: String) -> Result<PairingState, PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let enrollment = services.enrollment(&actor, &id).await.map_err(refuse)?;
    let device = device_of(&services, &actor, &enrollment).await;
    Ok(PairingState {
        status: enrollment.status,
        device,
    })
}

/// A live card, kept up to date in the browser: it asks for the status every two seconds
/// until a device has used the code, and turns into "expired" when the time is up. The
/// code, QR code and buttons (`children`) are rendered on the server.
#[island]
fn LivePairingCard(id: String, seconds_left: i64, children: Children) -> impl IntoView {
    let state = RwSignal::new(PairingState {
        status: EnrollmentStatus::Pending,
        device: None,
    });
    let seconds_left = RwSignal::new(seconds_left);

    #[cfg(feature = "hydrate")]
    {
        use std::time::Duration;
        if let Ok(tick) = set_interval_with_handle(
            move || seconds_left.update(|s| *s -= 1),
            Duration::from_secs(1),
        ) {
            on_cleanup(move || tick.clear());
        }
        if let Ok(poll) = set_interval_with_handle(
            move || {
                if state.with_untracked(|s| s.status) != EnrollmentStatus::Pending {
                    return;
                }
                let id = id.clone();
                leptos::task::spawn_local(async move {
                    if let Ok(fresh) = pairing_status(id).await {
                        state.set(fresh);
                    }
                });
            },
            Duration::from_secs(2),
        ) {
            on_cleanup(move || poll.clear());
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = id;

    let shown_status = move || match state.with(|s| s.status) {
        EnrollmentStatus::Pending if seconds_left.get() <= 0 => EnrollmentStatus::Expired,
        current => current,
    };
    let live = move || shown_status() == EnrollmentStatus::Pending;

    view! {
        <article class="pairing-card" aria-live="polite">
            <p class="status-line no-print">{move || view! { <StatusBadge status=shown_status()/> }}</p>
            <Show when=move || !live()>
                <div class="pairing-done">{move || done_message(shown_status(), state.with(|s| s.device.clone()))}</div>
            </Show>
            // Hidden rather than removed: the server-rendered part stays as it came.
            <div class="pairing-live" hidden=move || !live()>{children()}</div>
        </article>
    }
}
