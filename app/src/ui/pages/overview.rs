//! `/`: what needs attention now: codes about to expire, devices registered today and
//! devices gone quiet, the latest changes, and the actions a store manager starts with.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Device, Enrollment, Location, MerchantOverview};
use crate::ui::components::audit_table::ActivityList;
use crate::ui::components::format::{Time, TimeOrNever, Viewer, capped, noun};
use crate::ui::components::loading::Loaded;
use crate::ui::components::locations::location_name;
use crate::ui::components::widgets::Countdown;
use crate::ui::errors::PortalError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub merchant_name: String,
    #[serde(flatten)]
    pub overview: MerchantOverview,
    /// The locations the user sees, for their names.
    pub known_locations: Vec<Location>,
    /// Whether the user may create pairing codes (the actions at the top).
    pub may_pair: bool,
    /// Whether the user may read the whole audit log (a link to it).
    pub may_audit: bool,
    /// Seconds until each expiring code expires, in the order of `expiring_soon`.
    pub seconds_left: Vec<i64>,
}

#[server(endpoint = "overview")]
pub async fn overview() -> Result<OverviewData, PortalError> {
    use crate::domain::Permission;
    use crate::ui::session::{refuse, services, signed_in, viewer_zone};

    let (user, actor) = signed_in().await?;
    let services = services()?;
    let zone = viewer_zone(&user).await;
    let overview = services.overview(&actor, &zone).await.map_err(refuse)?;
    let known_locations = services.all_locations(&actor).await.map_err(refuse)?;
    let now = services.now();
    let seconds_left = overview
        .expiring_soon
        .iter()
        .map(|e| crate::local_time::parse_rfc3339(&e.expires_at).map_or(0, |at| (at - now) / 1000))
        .collect();
    Ok(OverviewData {
        merchant_name: user.merchant_name,
        overview,
        known_locations,
        may_pair: actor.may(Permission::ManageEnrollments),
        may_audit: actor.may(Permission::ViewAudit),
        seconds_left,
    })
}

#[component]
pub fn OverviewPage() -> impl IntoView {
    let data = Resource::new(|| (), |_| overview());
    view! {
        <Loaded resource=data let:data>
            <OverviewView data/>
        </Loaded>
    }
}

#[component]
fn OverviewView(data: OverviewData) -> impl IntoView {
    let OverviewData {
        merchant_name,
        overview,
        known_locations: locations,
        may_pair,
        may_audit,
        seconds_left,
    } = data;
    let cap = overview.count_cap;
    let stat = move |n: i64, one: &'static str, many: &'static str, href: &'static str| {
        view! {
            <li><a href=href><strong>{capped(n, cap)}</strong>" "{noun(n, one, many)}</a></li>
        }
    };
    view! {
        <div class="page-head">
            <h1>{merchant_name}</h1>
            {may_pair.then(|| view! {
                <div class="actions">
                    <a class="button secondary" href="/enrollments/new-sheet">"Print a pairing sheet"</a>
                    <a class="button" href="/enrollments#new-pairing-code">"New pairing code"</a>
                </div>
            })}
        </div>
        <ul class="stats" aria-label="At a glance">
            {stat(overview.live_codes, "live pairing code", "live pairing codes", "/enrollments?view=live")}
            {stat(overview.devices, "device", "devices", "/devices")}
            {stat(overview.registered_today_count, "registered today", "registered today", "/devices")}
            {stat(overview.quiet_count, "not seen for 7 days", "not seen for 7 days", "/devices")}
            {stat(overview.locations, "location", "locations", "/locations")}
        </ul>
        <div class="overview-grid">
            <section class="card" aria-labelledby="expiring-heading">
                <h2 id="expiring-heading">"Expiring within the hour"</h2>
                <ExpiringCodes codes=overview.expiring_soon seconds_left total=overview.expiring_soon_count cap locations=locations.clone() may_pair/>
            </section>
            <section class="card" aria-labelledby="today-heading">
                <h2 id="today-heading">"Registered today"</h2>
                <DeviceList devices=overview.registered_today total=overview.registered_today_count cap locations=locations.clone() registered=true
                    empty="No device registered today. A device registers when a clerk enters a pairing code in the POS app."/>
            </section>
            <section class="card" aria-labelledby="quiet-heading">
                <h2 id="quiet-heading">"Not seen for 7 days"</h2>
                <DeviceList devices=overview.quiet total=overview.quiet_count cap locations registered=false
                    empty="Every device has been in touch within the last 7 days."/>
            </section>
            <section class="card" aria-labelledby="activity-heading">
                <h2 id="activity-heading">{if overview.own_activity { "Your recent activity" } else { "Recent activity" }}</h2>
                <ActivityList events=overview.activity/>
                {may_audit.then(|| view! { <p class="more"><a href="/audit">"Full audit log"</a></p> })}
            </section>
        </div>
    }
}

/// The codes about to expire, each with its countdown.
#[component]
fn ExpiringCodes(
    codes: Vec<Enrollment>,
    seconds_left: Vec<i64>,
    total: i64,
    cap: i64,
    locations: Vec<Location>,
    may_pair: bool,
) -> impl IntoView {
    if codes.is_empty() {
        return view! {
            <p class="empty-inline">
                "No pairing code expires within the hour."
                {may_pair.then(|| view! { " " <a href="/enrollments#new-pairing-code">"Create one"</a> " when a device needs pairing." })}
            </p>
        }
        .into_any();
    }
    let shown = codes.len() as i64;
    view! {
        <ul class="rows">
            {codes.into_iter().zip(seconds_left).map(|(code, seconds_left)| {
                let location = location_name(&locations, &code.location_id).unwrap_or_else(|| "—".into());
                let expires = format!("Expires {}", Viewer::current().exact(&code.expires_at));
                view! {
                    <li>
                        <a class="code" href=format!("/enrollments/{}", code.enrollment_id)>{code.enrollment_code.clone().unwrap_or_else(|| "Pairing code".into())}</a>
                        <span class="muted">{location}</span>
                        <span class="when" title=expires>"in "<Countdown seconds_left/></span>
                    </li>
                }
            }).collect_view()}
        </ul>
        {(total > shown).then(|| view! {
            <p class="more"><a href="/enrollments?view=live">{format!("All {} live pairing codes", capped(total, cap))}</a></p>
        })}
    }
    .into_any()
}

/// A few devices with when they registered or were last seen, and how many there are.
#[component]
fn DeviceList(
    devices: Vec<Device>,
    total: i64,
    cap: i64,
    locations: Vec<Location>,
    /// Show when each registered (else when each was last seen).
    registered: bool,
    empty: &'static str,
) -> impl IntoView {
    if devices.is_empty() {
        return view! { <p class="empty-inline">{empty}</p> }.into_any();
    }
    let shown = devices.len() as i64;
    view! {
        <ul class="rows">
            {devices.into_iter().map(|device| {
                let location = location_name(&locations, &device.location_id).unwrap_or_else(|| "—".into());
                let when = if registered {
                    view! { <Time at=device.created_at.clone()/> }.into_any()
                } else {
                    view! { "last seen " <TimeOrNever at=device.last_seen_at.clone()/> }.into_any()
                };
                view! {
                    <li>
                        <a href=format!("/devices/{}", device.id)>{device.name.clone()}</a>
                        <span class="muted">{location}</span>
                        <span class="when">{when}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
        {(total > shown).then(|| view! {
            <p class="more">{format!("{} in all.", capped(total, cap))}" "<a href="/devices">"All devices"</a></p>
        })}
    }
    .into_any()
}
