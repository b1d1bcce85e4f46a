//! `/`: what needs attention now: codes about to expire, devices registered today and
//! devices gone quiet, the latest changes, and the actions a store manager starts with.

use leptos::prelude::*;
use serde::{Deserialize, Serialize};

use crate::model::{Device, Enrollment, MerchantOverview};
use crate::ui::components::audit_table::ActivityList;
use crate::ui::components::format::{Time, TimeOrNever, Viewer, capped, noun, plural_capped};
use crate::ui::components::loading::Loaded;
use crate::ui::components::widgets::Countdown;
use crate::ui::errors::PortalError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OverviewData {
    pub merchant_name: String,
    #[serde(flatten)]
    pub overview: MerchantOverview,
    /// The names of the locations the lists mention, as `(id, name)`.
    pub location_names: Vec<(String, String)>,
    /// Whether the user may create pairing codes (the actions at the top).
    pub may_pair: bool,
    /// Whether the user may read the whole audit log (a link to it).
    pub may_audit: bool,
    /// Whether the user may open the Locations page (the location count links to it).
    pub may_see_locations_page: bool,
}

#[server(endpoint = "overview")]
pub async fn overview() -> Result<OverviewData, PortalError> {
    use crate::domain::Permission;
    use crate::ui::session::{me, refuse, services, signed_in};

    let (user, actor) = signed_in().await?;
    let services = services()?;
    let me = me(user).await?;
    let overview = services.overview(&actor, me.zone()).await.map_err(refuse)?;
    let location_names = services
        .overview_location_names(&actor, &overview)
        .await
        .map_err(refuse)?;
    Ok(OverviewData {
        merchant_name: me.user.merchant_name,
        overview,
        location_names,
        may_pair: actor.may(Permission::ManageEnrollments),
        may_audit: actor.may(Permission::ViewAudit),
        may_see_locations_page: actor.may(Permission::ManageLocations),
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
        location_names: names,
        may_pair,
        may_audit,
        may_see_locations_page,
    } = data;
    let cap = overview.count_cap;
    // Each figure links to where its items are listed: another page, or the list below.
    let stat = move |n: i64, one: &'static str, many: &'static str, href: Option<&'static str>| {
        let figure = view! { <strong>{capped(n, cap)}</strong>" "{noun(n, one, many)} };
        match href {
            Some(href) => view! { <li><a href=href>{figure}</a></li> }.into_any(),
            None => view! { <li><span class="stat">{figure}</span></li> }.into_any(),
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
            {stat(overview.live_codes, "live pairing code", "live pairing codes", Some("/enrollments?view=live"))}
            {stat(overview.devices, "device", "devices", Some("/devices"))}
            {stat(overview.registered_today_count, "registered today", "registered today", Some("#registered-today"))}
            {stat(overview.quiet_count, "not seen for 7 days", "not seen for 7 days", Some("#not-seen"))}
            {stat(overview.locations, "location", "locations", may_see_locations_page.then_some("/locations"))}
        </ul>
        <div class="overview-grid">
            <section class="card" aria-labelledby="expiring-heading">
                <h2 id="expiring-heading">"Expiring within the hour"</h2>
                <ExpiringCodes codes=overview.expiring_soon total=overview.expiring_soon_count live=overview.live_codes cap names=names.clone() may_pair/>
            </section>
            <section class="card" id="registered-today" aria-labelledby="today-heading">
                <h2 id="today-heading">"Registered today"</h2>
                <DeviceList devices=overview.registered_today total=overview.registered_today_count cap names=names.clone() registered=true
                    all="All devices, newest first"
                    empty="No device registered today. A device registers when a clerk enters a pairing code in the POS app."/>
            </section>
            <section class="card" id="not-seen" aria-labelledby="quiet-heading">
                <h2 id="quiet-heading">"Not seen for 7 days"</h2>
                <DeviceList devices=overview.quiet total=overview.quiet_count cap names registered=false
                    all="All devices"
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

/// The name of the location `id` among `names` (`(id, name)` pairs); a dash if unknown.
fn name_of(names: &[(String, String)], id: &str) -> String {
    names
        .iter()
        .find(|(known, _)| known == id)
        .map_or_else(|| "—".to_owned(), |(_, name)| name.clone())
}

/// The codes about to expire, each with its countdown; past the first few, how many
/// expire within the hour and a link to every live code.
#[component]
fn ExpiringCodes(
    codes: Vec<Enrollment>,
    /// How many expire within the hour.
    total: i64,
    /// How many codes are live.
    live: i64,
    cap: i64,
    names: Vec<(String, String)>,
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
    let viewer = Viewer::current();
    view! {
        <ul class="rows">
            {codes.into_iter().map(|code| {
                let location = name_of(&names, &code.location_id);
                let expires = format!("Expires {}", viewer.exact(&code.expires_at));
                let seconds_left = viewer.seconds_until(&code.expires_at);
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
            <p class="more">
                {format!("{} expire within the hour; the {shown} soonest are shown. ", capped(total, cap))}
                <a href="/enrollments?view=live">{format!("All {}", plural_capped(live, cap, "live pairing code", "live pairing codes"))}</a>
            </p>
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
    names: Vec<(String, String)>,
    /// Show when each registered (else when each was last seen).
    registered: bool,
    /// The label of the link to the device list, saying in which order it lists them.
    all: &'static str,
    empty: &'static str,
) -> impl IntoView {
    if devices.is_empty() {
        return view! { <p class="empty-inline">{empty}</p> }.into_any();
    }
    let shown = devices.len() as i64;
    view! {
        <ul class="rows">
            {devices.into_iter().map(|device| {
                let location = name_of(&names, &device.location_id);
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
            <p class="more">{format!("{} in all, {shown} shown. ", capped(total, cap))}<a href="/devices">{all}</a></p>
        })}
    }
    .into_any()
}
