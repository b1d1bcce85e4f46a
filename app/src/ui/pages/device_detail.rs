//! `/devices/{id}`: one device: its fields and metadata, the enrollment it came from, its
//! history, and the forms to change or deregister it.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use serde::{Deserialize, Serialize};

use crate::model::{AuditEvent, Device, Enrollment, Location};
use crate::ui::components::audit_table::AuditTable;
use crate::ui::components::format::{Time, TimeOrNever, platform_label};
use crate::ui::components::forms::{FieldMessage, FormMessage, Options, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::locations::{location_choices, location_name};
use crate::ui::components::metadata::{MetadataRow, sent_rows};
use crate::ui::components::params::route_param;
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;
use crate::ui::session::OldInput;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DeviceDetailData {
    pub device: Device,
    pub enrollment: Option<Enrollment>,
    pub history: Vec<AuditEvent>,
    pub locations: Vec<Location>,
}

#[server(endpoint = "device_detail")]
pub async fn device_detail(id: String) -> Result<DeviceDetailData, PortalError> {
    use crate::domain::paging::PageRequest;

    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let device = services.device(&actor, &id).await.map_err(refuse)?;
    let enrollment = services
        .enrollment(&actor, &device.enrollment_id)
        .await
        .ok();
    let page = PageRequest::new(Some(0), Some(50))?;
    let history = services
        .device_history(&actor, &device.id, page)
        .await
        .map_err(refuse)?
        .content;
    let locations = services.all_locations(&actor).await.map_err(refuse)?;
    Ok(DeviceDetailData {
        device,
        enrollment,
        history,
        locations,
    })
}

/// Name, location and metadata at once (metadata rows replace the device's metadata).
#[server(endpoint = "update_device")]
pub async fn update_device(
    id: String,
    name: String,
    location_id: String,
    #[server(default)] metadata_keys: Vec<String>,
    #[server(default)] metadata_values: Vec<String>,
) -> Result<(), PortalError> {
    use crate::domain::device::MAX_NAME_LENGTH;
    use crate::domain::metadata::{MAX_KEY_LENGTH, MAX_VALUE_LENGTH};
    use crate::domain::text::MAX_ID_LENGTH;
    use crate::services::DeviceReplacement;

    use crate::ui::session::{OldInput, keeping_input, refuse, reject, services, signed_in};

    let kept = OldInput::new(UpdateDevice::PATH)
        .with("id", &id, MAX_ID_LENGTH)
        .with("name", &name, MAX_NAME_LENGTH)
        .with("location_id", &location_id, MAX_ID_LENGTH)
        .with_all("metadata_keys", &metadata_keys, MAX_KEY_LENGTH)
        .with_all("metadata_values", &metadata_values, MAX_VALUE_LENGTH);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        let metadata =
            crate::ui::components::metadata::metadata_from_rows(&metadata_keys, &metadata_values)
                .map_err(reject)?;
        let replacement = DeviceReplacement {
            name,
            metadata,
            location_id: Some(location_id),
        };
        services()?
            .replace_device(&actor, &id, replacement)
            .await
            .map_err(refuse)?;
        Ok(())
    })
    .await
}

#[server(endpoint = "deregister_device")]
pub async fn deregister_device(id: String) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .deregister_device(&actor, &id)
        .await
        .map_err(refuse)?;
    leptos_axum::redirect("/devices");
    Ok(())
}

#[component]
pub fn DeviceDetailPage() -> impl IntoView {
    let id = route_param("id");
    let update = ServerAction::<UpdateDevice>::new();
    let deregister = ServerAction::<DeregisterDevice>::new();
    let detail = Resource::new(
        move || (id(), update.version().get()),
        |(id, _)| device_detail(id),
    );

    view! {
        <WithKeptInput form=UpdateDevice::PATH let:old>
            <Loaded resource=detail let:detail>
                <DeviceDetail detail update deregister old=old.clone()/>
            </Loaded>
        </WithKeptInput>
    }
}

/// The device's facts, the forms to change and deregister it, and its history. `old` is
/// the change the server last refused: the form shows it as sent.
#[component]
fn DeviceDetail(
    detail: DeviceDetailData,
    update: ServerAction<UpdateDevice>,
    deregister: ServerAction<DeregisterDevice>,
    old: OldInput,
) -> impl IntoView {
    let error = last_error(update.value());
    let deregister_error = last_error(deregister.value());
    let DeviceDetailData {
        device,
        enrollment,
        history,
        locations,
    } = detail;
    let location = location_name(&locations, &device.location_id).unwrap_or_else(|| "—".into());
    // As the user last sent them if the server refused that; else as stored.
    let refused = old.value("id").as_deref() == Some(device.id.as_str());
    let shown: Vec<(String, String)> = if refused {
        sent_rows(&old)
    } else {
        device.metadata.clone().into_iter().collect()
    };
    // Two empty rows to add metadata in.
    let rows = shown
        .into_iter()
        .chain(std::iter::repeat_n((String::new(), String::new()), 2));
    let id_for_update = device.id.clone();
    let id_for_deregister = device.id.clone();
    let (name, current_location) = if refused {
        (
            old.value("name").unwrap_or_default(),
            old.value("location_id").unwrap_or_default(),
        )
    } else {
        (device.name.clone(), device.location_id.clone())
    };
    view! {
        <div class="page-head">
            <h1>{device.name.clone()}</h1>
            <a href="/devices">"All devices"</a>
        </div>
        <dl class="facts">
            <dt>"Device id"</dt><dd><code>{device.id.clone()}</code></dd>
            <dt>"Hardware id"</dt><dd><code>{device.hardware_id.clone()}</code></dd>
            <dt>"Platform"</dt><dd>{platform_label(device.platform)}</dd>
            <dt>"Location"</dt><dd>{location}</dd>
            <dt>"Registered"</dt><dd><Time at=device.created_at.clone() exact=true/></dd>
            <dt>"Last seen"</dt><dd><TimeOrNever at=device.last_seen_at.clone()/></dd>
            <dt>"Paired with"</dt>
            <dd>{match enrollment {
                Some(e) => view! {
                    <a href=format!("/enrollments/{}", e.enrollment_id)>"a pairing code"</a>
                    {format!(" created by {}, ", e.created_by)}<Time at=e.created_at.clone()/>
                }.into_any(),
                None => "—".into_any(),
            }}</dd>
        </dl>
        <section class="card">
            <h2>"Change"</h2>
            <ActionForm action=update attr:class="form-grid">
                <input type="hidden" name="id" value=id_for_update/>
                <div class="field">
                    <label for="d-name">"Name"</label>
                    <input id="d-name" name="name" value=name required maxlength="100" aria-describedby="name-error"/>
                    <FieldMessage field="name" error/>
                </div>
                <div class="field">
                    <label for="d-location">"Location"</label>
                    <select id="d-location" name="location_id">
                        <Options choices=location_choices(&locations) selected=current_location/>
                    </select>
                    <FieldMessage field="location_id" error/>
                </div>
                <div class="field wide">
                    <fieldset class="metadata-rows">
                        <legend>"Metadata"</legend>
                        {rows.enumerate().map(|(row, (key, value))| view! { <MetadataRow ids="d" row key value/> }).collect_view()}
                    </fieldset>
                    <FieldMessage field="metadata" error/>
                </div>
                <FormMessage error/>
                <div class="form-actions">
                    <SubmitButton label="Save changes".to_owned() pending="Saving…".to_owned()/>
                </div>
            </ActionForm>
        </section>
        <section class="card danger-zone">
            <h2>"Deregister"</h2>
            <details>
                <summary>"Deregister this device…"</summary>
                <ActionForm action=deregister>
                    <input type="hidden" name="id" value=id_for_deregister/>
                    <p>"Its token stops working at once. To use the device again, a clerk must pair it with a new pairing code."</p>
                    <button type="submit" class="danger">"Deregister device"</button>
                </ActionForm>
            </details>
            <FormMessage error=deregister_error/>
        </section>
        <h2>"History"</h2>
        <AuditTable events=history/>
    }
}
