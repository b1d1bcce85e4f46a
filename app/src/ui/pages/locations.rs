//! `/locations`: the merchant's stores; their ids (which API users need) and device counts.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use serde::{Deserialize, Serialize};

use crate::model::Location;
use crate::ui::components::format::plural;
use crate::ui::components::forms::{FieldMessage, FormMessage, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::widgets::{CopyButton, SubmitButton};
use crate::ui::errors::PortalError;
use crate::ui::session::OldInput;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LocationWithDevices {
    pub location: Location,
    pub devices: i64,
}

#[server(endpoint = "locations")]
pub async fn locations_page() -> Result<Vec<LocationWithDevices>, PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let rows = services()?
        .locations_with_device_counts(&actor)
        .await
        .map_err(refuse)?;
    Ok(rows
        .into_iter()
        .map(|(location, devices)| LocationWithDevices { location, devices })
        .collect())
}

#[server(endpoint = "create_location")]
pub async fn create_location(
    name: String,
    #[server(default)] city: String,
) -> Result<(), PortalError> {
    use crate::domain::text::MAX_PLACE_LENGTH;
    use crate::ui::session::{OldInput, keeping_input, refuse, services, signed_in};

    let kept = OldInput::new(CreateLocation::PATH)
        .with("name", &name, MAX_PLACE_LENGTH)
        .with("city", &city, MAX_PLACE_LENGTH);
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        services()?
            .create_location(&actor, &name, Some(&city))
            .await
            .map_err(refuse)?;
        Ok(())
    })
    .await
}

#[server(endpoint = "rename_location")]
pub async fn rename_location(
    id: String,
    name: String,
    #[server(default)] city: String,
) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .rename_location(&actor, &id, &name, Some(&city))
        .await
        .map_err(refuse)?;
    Ok(())
}

/// Name and city of a new location, as last sent if the server refused them.
#[component]
fn LocationFields(
    old: OldInput,
    error: impl Fn() -> Option<PortalError> + Send + Sync + 'static,
) -> impl IntoView {
    view! {
        <div class="field">
            <label for="l-name">"Name"</label>
            <input id="l-name" name="name" value=old.value("name") required maxlength="200" aria-describedby="name-error"/>
            <FieldMessage field="name" error/>
        </div>
        <div class="field">
            <label for="l-city">"City"</label>
            <input id="l-city" name="city" value=old.value("city") maxlength="200"/>
        </div>
    }
}

#[component]
pub fn LocationsPage() -> impl IntoView {
    let create = ServerAction::<CreateLocation>::new();
    let rename = ServerAction::<RenameLocation>::new();
    let rows = Resource::new(
        move || (create.version().get(), rename.version().get()),
        |_| locations_page(),
    );
    let create_error = last_error(create.value());
    let rename_error = last_error(rename.value());

    view! {
        <h1>"Locations"</h1>
        <section class="card">
            <h2>"Add a location"</h2>
            <ActionForm action=create attr:class="form-grid">
                <WithKeptInput form=CreateLocation::PATH let:old>
                    <LocationFields old error=create_error/>
                </WithKeptInput>
                <FormMessage error=create_error/>
                <div class="form-actions">
                    <SubmitButton label="Add location".to_owned() pending="Adding…".to_owned()/>
                </div>
            </ActionForm>
        </section>
        <FormMessage error=rename_error/>
        <Loaded resource=rows let:rows>
            <div class="table-wrap">
            <table class="list">
                <caption class="visually-hidden">"Locations"</caption>
                <thead><tr>
                    <th scope="col">"Name"</th><th scope="col">"City"</th><th scope="col">"Location id"</th>
                    <th scope="col">"Devices"</th><th scope="col"><span class="visually-hidden">"Change"</span></th>
                </tr></thead>
                <tbody>
                    {rows.into_iter().enumerate().map(|(index, LocationWithDevices { location, devices })| {
                        let id = location.id.clone();
                        view! {
                            <tr>
                                <td>{location.name.clone()}</td>
                                <td data-label="City">{location.city.clone().unwrap_or_default()}</td>
                                <td data-label="Location id">
                                    <code class="id">{location.id.clone()}</code>
                                    <CopyButton text=location.id.clone() label="Copy id".to_owned() small=true/>
                                </td>
                                <td data-label="Devices"><a href=format!("/devices?location={}", location.id)>{plural(devices, "device", "devices")}</a></td>
                                <td data-label="Change" class="row-actions">
                                    <details>
                                        <summary>"Rename"</summary>
                                        <ActionForm action=rename>
                                            <input type="hidden" name="id" value=id/>
                                            <label for=format!("ln-{index}")>"Name"</label>
                                            <input id=format!("ln-{index}") name="name" value=location.name.clone() required/>
                                            <label for=format!("lc-{index}")>"City"</label>
                                            <input id=format!("lc-{index}") name="city" value=location.city.clone().unwrap_or_default()/>
                                            <button type="submit">"Save"</button>
                                        </ActionForm>
                                    </details>
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
            </div>
        </Loaded>
    }
}
