//! `/enrollments/{id}`: one pairing code, large, as text and QR code, with a countdown;
//! it turns into "registered" as soon as a device uses the code. Prints as one card.
//! `/enrollments/sheet/{batch}`: many codes printed as cards to cut apart.

use leptos::prelude::*;
use leptos_router::hooks::use_params_map;
use serde::{Deserialize, Serialize};

use super::enrollments::{MetadataChips, StatusBadge};
use super::errors::PortalError;
use super::format::{remaining, short_time};
use super::layout::Refusal;
use super::widgets::{CopyButton, PrintButton};
use crate::domain::enrollment::EnrollmentStatus;
use crate::model::Enrollment;

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

#[cfg(feature = "ssr")]
async fn card_of(
    services: &crate::services::Services,
    actor: &crate::services::Actor,
    enrollment: Enrollment,
) -> Result<PairingCardData, PortalError> {
    use super::session::refuse;

    let location_name = match services.location(actor, &enrollment.location_id).await {
        Ok(location) => location.name,
        Err(crate::services::ServiceError::NotFound(_)) => "—".to_owned(),
        Err(error) => return Err(refuse(error)),
    };
    let qr_svg = enrollment.qr_payload.as_deref().and_then(super::qr::qr_svg);
    let expires_at = time::OffsetDateTime::parse(
        &enrollment.expires_at,
        &time::format_description::well_known::Rfc3339,
    )
    .map(|t| (t.unix_timestamp_nanos() / 1_000_000) as i64)
    .unwrap_or_default();
    let seconds_left = (expires_at - services.now()) / 1000;
    let device = match &enrollment.device_id {
        Some(id) => services
            .device(actor, id)
            .await
            .ok()
            .map(|d| (d.id, d.name)),
        None => None,
    };
    Ok(PairingCardData {
        enrollment,
        location_name,
        qr_svg,
        seconds_left,
        device,
    })
}

#[server(endpoint = "pairing_card")]
pub async fn pairing_card(id: String) -> Result<PairingCardData, PortalError> {
    use super::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let enrollment = services.enrollment(&actor, &id).await.map_err(refuse)?;
    card_of(&services, &actor, enrollment).await
}

#[server(endpoint = "pairing_sheet")]
pub async fn pairing_sheet(batch: String) -> Result<Vec<PairingCardData>, PortalError> {
    use crate::domain::paging::PageRequest;
    use crate::services::EnrollmentListQuery;

    use super::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let query = EnrollmentListQuery {
        statuses: EnrollmentStatus::ALL.to_vec(),
        batch_id: Some(batch),
        page: PageRequest::new(Some(0), Some(100)).map_err(|e| PortalError::Invalid(vec![e]))?,
        ..Default::default()
    };
    let page = services
        .list_enrollments(&actor, query)
        .await
        .map_err(refuse)?;
    let mut cards = Vec::new();
    // Oldest first: the order they were made in.
    for enrollment in page.content.into_iter().rev() {
        cards.push(card_of(&services, &actor, enrollment).await?);
    }
    Ok(cards)
}

#[component]
pub fn PairingPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || params.read().get("id").unwrap_or_default();
    let card = Resource::new(id, pairing_card);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match card.await {
                    Err(error) => view! { <Refusal error/> }.into_any(),
                    Ok(card) => view! { <PairingCard card/> }.into_any(),
                }
            })}
        </Transition>
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
                    <p class="big-code" data-testid="pairing-code">{code.clone()}</p>
                    <p class="expiry">
                        "Expires " <time datetime=enrollment.expires_at.clone()>{short_time(&enrollment.expires_at)}</time>
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
    use super::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let enrollment = services.enrollment(&actor, &id).await.map_err(refuse)?;
    let device = match &enrollment.device_id {
        Some(id) => services
            .device(&actor, id)
            .await
            .ok()
            .map(|d| (d.id, d.name)),
        None => None,
    };
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

/// The time left, ticking down each second.
#[island]
fn Countdown(seconds_left: i64) -> impl IntoView {
    let seconds_left = RwSignal::new(seconds_left);
    #[cfg(feature = "hydrate")]
    if let Ok(tick) = set_interval_with_handle(
        move || seconds_left.update(|s| *s -= 1),
        std::time::Duration::from_secs(1),
    ) {
        on_cleanup(move || tick.clear());
    }
    view! { <span data-testid="countdown">{move || remaining(seconds_left.get())}</span> }
}

#[component]
pub fn SheetPage() -> impl IntoView {
    let params = use_params_map();
    let batch = move || params.read().get("batch").unwrap_or_default();
    let cards = Resource::new(batch, pairing_sheet);
    view! {
        <Transition fallback=|| view! { <p class="muted">"Loading…"</p> }>
            {move || Suspend::new(async move {
                match cards.await {
                    Err(error) => view! { <Refusal error/> }.into_any(),
                    Ok(cards) => {
                        let live = cards.iter().filter(|c| c.enrollment.enrollment_code.is_some()).count();
                        view! {
                            <div class="page-head no-print">
                                <h1>"Pairing sheet"</h1>
                                <PrintButton label="Print sheet".to_owned()/>
                            </div>
                            <p class="muted no-print">{format!("{live} live codes of {}. Cut along the dashed lines; give one card to each clerk.", cards.len())}</p>
                            <div class="sheet">
                                {cards.into_iter().map(|card| view! { <SheetCard card/> }).collect_view()}
                            </div>
                        }.into_any()
                    }
                }
            })}
        </Transition>
    }
}

#[component]
fn SheetCard(card: PairingCardData) -> impl IntoView {
    let code = card.enrollment.enrollment_code.clone();
    view! {
        <article class="sheet-card" data-testid="sheet-card">
            {match code {
                Some(code) => view! {
                    <div class="qr" data-payload=card.enrollment.qr_payload.clone() inner_html=card.qr_svg.clone().unwrap_or_default()></div>
                    <p class="big-code">{code}</p>
                    <p class="small">{card.location_name.clone()} " · expires " {short_time(&card.enrollment.expires_at)}</p>
                    <ol class="clerk-steps small">
                        <li>"POS app → Enroll device"</li>
                        <li>"Scan the QR code or type the code"</li>
                        <li>"Wait for the confirmation"</li>
                    </ol>
                }.into_any(),
                None => view! { <p class="muted">"No longer live"</p> }.into_any(),
            }}
        </article>
    }
}
