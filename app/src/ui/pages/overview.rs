//! `/`: the merchant at a glance.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::ui::components::loading::Loaded;
use crate::ui::errors::PortalError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub merchant_name: String,
    pub live_enrollments: i64,
    pub devices: i64,
    pub locations: i64,
}

#[server(endpoint = "overview")]
pub async fn overview() -> Result<OverviewData, PortalError> {
    use crate::domain::paging::PageRequest;
    use crate::services::{DeviceListQuery, EnrollmentListQuery};

    use crate::ui::session::{refuse, services, signed_in};

    let (user, actor) = signed_in().await?;
    let services = services()?;
    let one = PageRequest::new(Some(0), Some(1))?;
    let enrollments = services
        .list_enrollments(
            &actor,
            EnrollmentListQuery {
                include_consumed: Some(false),
                page: one,
                ..Default::default()
            },
        )
        .await
        .map_err(refuse)?;
    let devices = services
        .list_devices(
            &actor,
            DeviceListQuery {
                page: one,
                ..Default::default()
            },
        )
        .await
        .map_err(refuse)?;
    let locations = services.list_locations(&actor, one).await.map_err(refuse)?;
    Ok(OverviewData {
        merchant_name: user.merchant_name,
        live_enrollments: enrollments.total_elements,
        devices: devices.total_elements,
        locations: locations.total_elements,
    })
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| overview());
    view! {
        <Loaded resource=data let:overview>
            <h1>{overview.merchant_name}</h1>
            <ul class="stats">
                <li><strong>{overview.live_enrollments}</strong>" live pairing codes"</li>
                <li><strong>{overview.devices}</strong>" registered devices"</li>
                <li><strong>{overview.locations}</strong>" locations"</li>
            </ul>
        </Loaded>
    }
}
