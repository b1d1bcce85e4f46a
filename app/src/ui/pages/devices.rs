//! `/devices`: the fleet, filtered by metadata, location, platform and name, sorted and
//! paged; rename in place, deregister one or several at once, export as CSV.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use serde::{Deserialize, Serialize};

use crate::domain::device::{DeviceSort, Platform};
use crate::model::{Device, Location};
use crate::ui::components::filters::{
    FilterBar, FilterSelect, FilterText, LocationFilter, MetadataFilter,
};
use crate::ui::components::format::{Time, TimeOrNever, platform_label, plural_capped};
use crate::ui::components::forms::{FieldMessage, FormMessage, choices, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::locations::location_name;
use crate::ui::components::metadata::MetadataChips;
use crate::ui::components::pager::Pager;
use crate::ui::components::params::{query_params, with_param};
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;
use crate::ui::session::OldInput;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DevicesPageData {
    pub devices: Vec<Device>,
    /// How many devices match; past `count_cap`, more than it.
    pub total: i64,
    pub count_cap: i64,
    pub next: Option<String>,
    pub locations: Vec<Location>,
}

/// The list's filters, as the URL carries them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct DeviceFilters {
    #[serde(default)]
    pub metadata: String,
    #[serde(default)]
    pub location: String,
    #[serde(default)]
    pub platform: String,
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub sort: String,
    #[serde(default)]
    pub after: String,
}

#[cfg(feature = "ssr")]
impl DeviceFilters {
    pub fn to_query(
        &self,
        page_size: i64,
    ) -> Result<crate::services::DeviceListQuery, PortalError> {
        use crate::domain::paging::PageRequest;
        Ok(crate::services::DeviceListQuery {
            location_id: Some(self.location.clone()).filter(|v| !v.is_empty()),
            metadata: crate::ui::components::metadata::metadata_filters(&self.metadata),
            platform: Some(self.platform.clone()).filter(|v| !v.is_empty()),
            name_contains: Some(self.q.clone()).filter(|v| !v.is_empty()),
            page: PageRequest::new(Some(0), Some(page_size))?,
        })
    }
}

#[server(endpoint = "devices")]
pub async fn devices_page(
    #[server(default)] filters: DeviceFilters,
) -> Result<DevicesPageData, PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let sort = DeviceSort::parse(&filters.sort);
    let after = Some(filters.after.as_str()).filter(|a| !a.is_empty());
    let page = services
        .device_page(&actor, filters.to_query(50)?, sort, after)
        .await
        .map_err(refuse)?;
    let locations = services.all_locations(&actor).await.map_err(refuse)?;
    Ok(DevicesPageData {
        devices: page.devices,
        total: page.total,
        count_cap: crate::services::OVERVIEW_COUNT_CAP,
        next: page.next,
        locations,
    })
}

#[server(endpoint = "rename_device")]
pub async fn rename_device(id: String, name: String) -> Result<(), PortalError> {
    use crate::domain::device::MAX_NAME_LENGTH;
    use crate::domain::text::MAX_ID_LENGTH;
    use crate::services::DevicePatch;

    use crate::ui::session::{OldInput, keeping_input, refuse, services, signed_in};

    let kept = OldInput::new(RenameDevice::PATH)
        .with("id", &id, MAX_ID_LENGTH)
        .with("name", &name, MAX_NAME_LENGTH);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        let patch = DevicePatch {
            name: Some(name),
            ..Default::default()
        };
        services()?
            .patch_device(&actor, &id, patch)
            .await
            .map_err(refuse)?;
        Ok(())
    })
    .await
}

/// Deregisters each chosen device; says how many went, how many were already gone (or
/// are not the user's to see), and how many failed otherwise, and why.
#[server(endpoint = "deregister_devices")]
pub async fn deregister_devices(
    #[server(default)] ids: Vec<String>,
) -> Result<String, PortalError> {
    use crate::domain::FieldError;
    use crate::services::ServiceError;

    use crate::ui::components::format::plural;
    use crate::ui::session::{put_notice, refuse, reject, services, signed_in};

    use crate::domain::device::MAX_DEREGISTER_AT_ONCE;

    let (_, actor) = signed_in().await?;
    if ids.is_empty() {
        return Err(reject(PortalError::Invalid(vec![FieldError::new(
            "ids",
            "choose at least one device",
        )])));
    }
    if ids.len() > MAX_DEREGISTER_AT_ONCE {
        return Err(reject(PortalError::Invalid(vec![FieldError::new(
            "ids",
            format!("deregister at most {MAX_DEREGISTER_AT_ONCE} devices at once"),
        )])));
    }
    let services = services()?;
    let (mut done, mut gone, mut failed) = (0, 0, 0);
    let mut failure = None;
    for id in &ids {
        match services.deregister_device(&actor, id).await {
            Ok(()) => done += 1,
            Err(ServiceError::NotFound(_)) => gone += 1,
            Err(error) => {
                failed += 1;
                failure.get_or_insert(error);
            }
        }
    }
    // Nothing went and something failed: that failure is the answer (a role that may not
    // deregister, the database unreachable), with its status.
    if done == 0
        && gone == 0
        && let Some(error) = failure
    {
        return Err(refuse(error));
    }
    let mut summary = format!("Deregistered {}.", plural(done, "device", "devices"));
    if gone > 0 {
        summary.push_str(&format!(
            " {} already gone or not yours.",
            plural(gone, "was", "were")
        ));
    }
    if let Some(error) = failure {
        summary.push_str(&format!(
            " {failed} could not be deregistered: {}.",
            PortalError::from(error)
        ));
    }
    put_notice(&summary).await;
    Ok(summary)
}

#[component]
pub fn DevicesPage() -> impl IntoView {
    let param = query_params();
    let filters = move || DeviceFilters {
        metadata: param("metadata"),
        location: param("location"),
        platform: param("platform"),
        q: param("q"),
        sort: param("sort"),
        after: param("after"),
    };
    let rename = ServerAction::<RenameDevice>::new();
    let deregister = ServerAction::<DeregisterDevices>::new();
    let data = Resource::new(
        move || {
            (
                filters(),
                rename.version().get(),
                deregister.version().get(),
            )
        },
        |(filters, _, _)| devices_page(filters),
    );
    let rename_error = last_error(rename.value());

    view! {
        <div class="page-head">
            <h1>"Devices"</h1>
            <a class="button secondary" href=move || format!("/devices.csv{}", export_query(&filters())) download="devices.csv">"Export CSV"</a>
        </div>
        <WithKeptInput form=RenameDevice::PATH let:old>
            <Loaded resource=data let:data>
                <DeviceList data filters=filters() rename deregister old=old.clone()/>
            </Loaded>
        </WithKeptInput>
        <FormMessage error=rename_error/>
    }
}

/// The filters of the view, without the paging cursor, for the CSV link.
fn export_query(filters: &DeviceFilters) -> String {
    let pairs = [
        ("metadata", &filters.metadata),
        ("location", &filters.location),
        ("platform", &filters.platform),
        ("q", &filters.q),
    ];
    let mut params = leptos_router::params::ParamsMap::new();
    for (name, value) in pairs {
        if !value.is_empty() {
            params.insert(name, value.clone());
        }
    }
    params.to_query_string()
}

/// The orders of the list.
const SORTS: [(DeviceSort, &str); 3] = [
    (DeviceSort::Registered, "Newest first"),
    (DeviceSort::Name, "Name"),
    (DeviceSort::LastSeen, "Last seen"),
];

/// Which devices the list shows, and in which order, as the URL has it.
#[component]
fn DeviceFilterBar(filters: DeviceFilters, locations: Vec<Location>) -> impl IntoView {
    let platforms = [Platform::Android, Platform::Ios].map(|p| (p.as_str(), platform_label(p)));
    let sorts = SORTS.map(|(sort, label)| (sort.as_str(), label));
    view! {
        <FilterBar action="/devices" label="Filter devices" button="Apply">
            <MetadataFilter value=filters.metadata placeholder="store:berlin-01 type:ios"/>
            <LocationFilter locations selected=filters.location/>
            <FilterSelect id="f-platform" name="platform" label="Platform" any="Any" choices=choices(platforms) selected=filters.platform/>
            <FilterText id="f-q" name="q" label="Name contains" value=filters.q/>
            <FilterSelect id="f-sort" name="sort" label="Sort by" choices=choices(sorts) selected=DeviceSort::parse(&filters.sort).as_str()/>
        </FilterBar>
    }
}

/// The devices on this page, with the forms to rename one and deregister several.
#[component]
fn DeviceList(
    data: DevicesPageData,
    filters: DeviceFilters,
    rename: ServerAction<RenameDevice>,
    deregister: ServerAction<DeregisterDevices>,
    /// The rename the server last refused: that row opens with the name as typed.
    old: OldInput,
) -> impl IntoView {
    let rename_error = last_error(rename.value());
    let deregister_error = last_error(deregister.value());
    let refused_id = old.value("id");
    let DevicesPageData {
        devices,
        total,
        count_cap,
        next,
        locations,
    } = data;
    let filter_bar =
        view! { <DeviceFilterBar filters=filters.clone() locations=locations.clone()/> };
    let name_of = move |id: &str| location_name(&locations, id).unwrap_or_else(|| "—".into());
    let filtered = !(filters.metadata.is_empty()
        && filters.location.is_empty()
        && filters.platform.is_empty()
        && filters.q.is_empty());
    let first_link =
        (!filters.after.is_empty()).then(|| (with_param("/devices", "after", None), "First page"));
    let next_link = next.map(|cursor| (with_param("/devices", "after", Some(cursor)), "Next page"));

    view! {
        {filter_bar}
        <p class="muted" data-testid="device-count">{plural_capped(total, count_cap, "device", "devices")}</p>
        {if devices.is_empty() {
            if filtered {
                view! { <p class="empty">"No device matches these filters. " <a href="/devices">"Show all devices"</a></p> }.into_any()
            } else {
                view! { <p class="empty">"No devices yet. " <a href="/enrollments">"Create a pairing code"</a> " and enter it in the POS app to register the first one."</p> }.into_any()
            }
        } else {
            view! {
                <ActionForm action=deregister attr:id="bulk-deregister" attr:class="bulk">
                    <details>
                        <summary>"Deregister selected…"</summary>
                        <p>"The selected devices stop working at once; each needs a new pairing code to be used again."</p>
                        <button type="submit" class="danger">"Deregister selected devices"</button>
                    </details>
                    // "Choose at least one device" and the like, and what went wrong otherwise.
                    <FieldMessage field="ids" error=deregister_error/>
                    <FormMessage error=deregister_error/>
                </ActionForm>
                <div class="table-wrap">
                <table class="list devices">
                    <caption class="visually-hidden">"Devices"</caption>
                    <thead><tr>
                        <th scope="col"><span class="visually-hidden">"Select"</span></th>
                        <th scope="col">"Name"</th><th scope="col">"Platform"</th><th scope="col">"Location"</th>
                        <th scope="col">"Metadata"</th><th scope="col">"Registered"</th><th scope="col">"Last seen"</th>
                    </tr></thead>
                    <tbody>
                        {devices.into_iter().enumerate().map(|(index, device)| {
                            let id = device.id.clone();
                            let select_id = format!("select-{index}");
                            let rename_id = format!("rename-{index}");
                            let refused = refused_id.as_deref() == Some(device.id.as_str());
                            let typed_name = if refused { old.value("name").unwrap_or_default() } else { device.name.clone() };
                            let message_id = format!("rename-{index}-error");
                            view! {
                                <tr data-device=device.id.clone()>
                                    <td class="select">
                                        <input type="checkbox" id=select_id.clone() form="bulk-deregister" name=format!("ids[{index}]") value=id.clone()/>
                                        <label for=select_id class="visually-hidden">{format!("Select {}", device.name)}</label>
                                    </td>
                                    <td class="name">
                                        <a href=format!("/devices/{}", device.id)>{device.name.clone()}</a>
                                        <details class="inline-edit" open=refused>
                                            <summary>"Rename"</summary>
                                            <ActionForm action=rename>
                                                <input type="hidden" name="id" value=id/>
                                                <label for=rename_id.clone() class="visually-hidden">"New name"</label>
                                                <input id=rename_id name="name" value=typed_name required maxlength="100" aria-describedby=message_id.clone()/>
                                                <p class="field-error" id=message_id>
                                                    {refused.then(|| rename_error().and_then(|e| e.for_field("name")))}
                                                </p>
                                                <SubmitButton label="Save".to_owned() pending="Saving…".to_owned()/>
                                            </ActionForm>
                                        </details>
                                    </td>
                                    <td data-label="Platform">{platform_label(device.platform)}</td>
                                    <td data-label="Location">{name_of(&device.location_id)}</td>
                                    <td data-label="Metadata"><MetadataChips metadata=device.metadata.clone()/></td>
                                    <td data-label="Registered"><Time at=device.created_at.clone()/></td>
                                    <td data-label="Last seen"><TimeOrNever at=device.last_seen_at.clone()/></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
                </div>
            }.into_any()
        }}
        <Pager previous=first_link next=next_link/>
    }
}
