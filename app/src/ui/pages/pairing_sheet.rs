//! `/enrollments/new-sheet`: many codes for one store at once; `/enrollments/sheet/{batch}`:
//! those codes printed as cards to cut apart.

use leptos::prelude::*;
use leptos::server_fn::ServerFn;

use super::enrollment_detail::PairingCardData;
use super::enrollments::{CreateEnrollment, CreateEnrollmentForm};
use crate::model::Location;
use crate::ui::components::format::{Time, plural};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::params::route_param;
use crate::ui::components::widgets::PrintButton;
use crate::ui::errors::PortalError;

#[server(endpoint = "sheet_locations")]
pub async fn sheet_locations() -> Result<Vec<Location>, PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?.all_locations(&actor).await.map_err(refuse)
}

/// `/enrollments/new-sheet`: many codes for one store at once, printed as a sheet.
#[component]
pub fn NewPairingSheetPage() -> impl IntoView {
    let locations = Resource::new(|| (), |_| sheet_locations());
    view! {
        <div class="page-head">
            <h1>"Print a pairing sheet"</h1>
            <a href="/enrollments">"All pairing codes"</a>
        </div>
        <p class="muted">"Setting up a store? Create a code for each device at once and print them as cards."</p>
        <WithKeptInput form=CreateEnrollment::PATH let:old>
            <Loaded resource=locations let:locations>
                <CreateEnrollmentForm locations sheet=true old=old.clone()/>
            </Loaded>
        </WithKeptInput>
    }
}

#[server(endpoint = "pairing_sheet")]
pub async fn pairing_sheet(batch: String) -> Result<Vec<PairingCardData>, PortalError> {
    use crate::domain::enrollment::EnrollmentStatus;
    use crate::domain::paging::PageRequest;
    use crate::services::EnrollmentListQuery;

    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let query = EnrollmentListQuery {
        statuses: EnrollmentStatus::ALL.to_vec(),
        batch_id: Some(batch),
        page: PageRequest::new(Some(0), Some(100))?,
        ..Default::default()
    };
    let page = services
        .list_enrollments(&actor, query)
        .await
        .map_err(refuse)?;
    let mut cards = Vec::new();
    // Oldest first: the order they were made in.
    for enrollment in page.content.into_iter().rev() {
        cards.push(super::enrollment_detail::card_of(&services, &actor, enrollment).await?);
    }
    Ok(cards)
}

/// `/enrollments/sheet/{batch}`: the codes made together, as cards to print.
#[component]
pub fn PairingSheetPage() -> impl IntoView {
    let batch = route_param("batch");
    let cards = Resource::new(batch, pairing_sheet);
    view! {
        <Loaded resource=cards let:cards>
            <Sheet cards/>
        </Loaded>
    }
}

#[component]
fn Sheet(cards: Vec<PairingCardData>) -> impl IntoView {
    let live = cards
        .iter()
        .filter(|c| c.enrollment.enrollment_code.is_some())
        .count();
    view! {
        <div class="page-head no-print">
            <h1>"Pairing sheet"</h1>
            <PrintButton label="Print sheet".to_owned()/>
        </div>
        <p class="muted no-print">{format!("{} live of {}. Cut along the dashed lines; give one card to each clerk.", plural(live as i64, "code", "codes"), cards.len())}</p>
        <div class="sheet">
            {cards.into_iter().map(|card| view! { <SheetCard card/> }).collect_view()}
        </div>
    }
}

#[component]
fn SheetCard(card: PairingCardData) -> impl IntoView {
    let code = card.enrollment.enrollment_code.clone();
    view! {
        <article class="sheet-card" data-testid="sheet-card">
            {match code {
                Some(code) => {
                    let long = code.len() > 9;
                    view! {
                    <div class="qr" data-payload=card.enrollment.qr_payload.clone() inner_html=card.qr_svg.clone().unwrap_or_default()></div>
                    <p class="big-code" class:long=long>{code}</p>
                    <p class="small">{card.location_name.clone()} " · expires " <Time at=card.enrollment.expires_at.clone() exact=true/></p>
                    <ol class="clerk-steps small">
                        <li>"POS app → Enroll device"</li>
                        <li>"Scan the QR code or type the code"</li>
                        <li>"Wait for the confirmation"</li>
                    </ol>
                    }.into_any()
                }
                None => view! { <p class="muted">"No longer live"</p> }.into_any(),
            }}
        </article>
    }
}
