//! `/enrollments`: create pairing codes, and the list of codes with filters. (The URL and
//! the API say "enrollment"; the pages say "pairing code".)

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos::server_fn::ServerFn;
use serde::{Deserialize, Serialize};

use crate::domain::enrollment::EnrollmentStatus;
use crate::domain::paging::Page;
use crate::model::{Enrollment, Location};
use crate::ui::components::enrollment_status::StatusBadge;
use crate::ui::components::filters::{FilterBar, FilterSelect, LocationFilter, MetadataFilter};
use crate::ui::components::format::{Time, plural};
use crate::ui::components::forms::{FieldMessage, FormMessage, Options, choices, last_error};
use crate::ui::components::loading::{Loaded, WithKeptInput};
use crate::ui::components::locations::{location_choices_with_city, location_name};
use crate::ui::components::metadata::{MetadataChips, MetadataRows, metadata_rows};
use crate::ui::components::pager::Pager;
use crate::ui::components::params::{query_params, with_param};
use crate::ui::components::widgets::SubmitButton;
use crate::ui::errors::PortalError;
use crate::ui::session::OldInput;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EnrollmentsPageData {
    pub page: Page<Enrollment>,
    pub locations: Vec<Location>,
}

/// Which enrollments the list shows.
pub const VIEWS: [(&str, &str); 4] = [
    ("", "Live and used"),
    ("live", "Live only"),
    ("history", "Cancelled and expired"),
    ("all", "All"),
];

#[cfg(feature = "ssr")]
fn statuses_of(view: &str) -> Vec<EnrollmentStatus> {
    use EnrollmentStatus::*;
    match view {
        "live" => vec![Pending],
        "history" => vec![Cancelled, Expired],
        "all" => EnrollmentStatus::ALL.to_vec(),
        _ => vec![Pending, Consumed],
    }
}

#[server(endpoint = "enrollments")]
pub async fn enrollments_page(
    #[server(default)] view: String,
    #[server(default)] location: String,
    #[server(default)] metadata: String,
    #[server(default)] page: i64,
) -> Result<EnrollmentsPageData, PortalError> {
    use crate::domain::paging::PageRequest;
    use crate::services::EnrollmentListQuery;
    use crate::ui::components::metadata::metadata_filters;
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    let services = services()?;
    let request = PageRequest::new(Some(page.max(0)), Some(25))?;
    let query = EnrollmentListQuery {
        location_id: Some(location).filter(|l| !l.is_empty()),
        metadata: metadata_filters(&metadata),
        statuses: statuses_of(&view),
        include_consumed: None,
        batch_id: None,
        page: request,
    };
    let page = services
        .list_enrollments(&actor, query)
        .await
        .map_err(refuse)?;
    let locations = services.all_locations(&actor).await.map_err(refuse)?;
    Ok(EnrollmentsPageData { page, locations })
}

/// The lifetime chosen in the form: a named one, or a number of minutes.
#[cfg(feature = "ssr")]
fn lifetime(
    expiry: &str,
    custom_minutes: &str,
) -> Result<(Option<i64>, Option<crate::domain::enrollment::Ttl>), PortalError> {
    use crate::domain::FieldError;
    use crate::domain::enrollment::Ttl;
    Ok(match expiry {
        "24h" => (None, Some(Ttl::TwentyFourHours)),
        "48h" => (None, Some(Ttl::FortyEightHours)),
        "72h" => (None, Some(Ttl::SeventyTwoHours)),
        "custom" => {
            let minutes: i64 = custom_minutes.trim().parse().map_err(|_| {
                PortalError::Invalid(vec![FieldError::new(
                    "expires_in",
                    "enter the lifetime in whole minutes",
                )])
            })?;
            (Some(minutes.saturating_mul(60)), None)
        }
        _ => (None, Some(Ttl::TwoHours)),
    })
}

/// Creates one enrollment (or, with `count`, a sheet of them) and goes to its page.
#[server(endpoint = "create_enrollment")]
pub async fn create_enrollment(
    #[server(default)] location_id: String,
    #[server(default)] expiry: String,
    #[server(default)] custom_minutes: String,
    #[server(default)] metadata_keys: Vec<String>,
    #[server(default)] metadata_values: Vec<String>,
    #[server(default)] count: Option<i64>,
) -> Result<(), PortalError> {
    use crate::domain::metadata::{MAX_KEY_LENGTH, MAX_VALUE_LENGTH};
    use crate::domain::text::{MAX_CHOICE_LENGTH, MAX_ID_LENGTH};
    use crate::services::CreateEnrollment;
    use crate::ui::components::metadata::metadata_from_rows;
    use crate::ui::session::{OldInput, keeping_input, refuse, reject, services, signed_in};

    let kept = OldInput::new(self::CreateEnrollment::PATH)
        .with("location_id", &location_id, MAX_ID_LENGTH)
        .with("expiry", &expiry, MAX_CHOICE_LENGTH)
        .with("custom_minutes", &custom_minutes, MAX_CHOICE_LENGTH)
        .with_all("metadata_keys", &metadata_keys, MAX_KEY_LENGTH)
        .with_all("metadata_values", &metadata_values, MAX_VALUE_LENGTH)
        .with(
            "count",
            &count.map(|c| c.to_string()).unwrap_or_default(),
            MAX_CHOICE_LENGTH,
        );
    keeping_input(kept, async move {
        let (_, actor) = signed_in().await?;
        let (expires_in, ttl) = lifetime(&expiry, &custom_minutes).map_err(reject)?;
        let metadata = metadata_from_rows(&metadata_keys, &metadata_values).map_err(reject)?;
        let input = CreateEnrollment {
            metadata,
            expires_in,
            ttl,
            location_id: Some(location_id).filter(|l| !l.is_empty()),
            idempotency_key: None,
        };
        let services = services()?;
        match count {
            Some(count) => {
                let batch = services
                    .create_enrollment_batch(&actor, input, count)
                    .await
                    .map_err(refuse)?;
                leptos_axum::redirect(&format!("/enrollments/sheet/{batch}"));
            }
            None => {
                let (created, _) = services
                    .create_enrollment(&actor, input)
                    .await
                    .map_err(refuse)?;
                leptos_axum::redirect(&format!("/enrollments/{}", created.enrollment_id));
            }
        }
        Ok(())
    })
    .await
}

#[server(endpoint = "cancel_enrollment")]
pub async fn cancel_enrollment(id: String) -> Result<(), PortalError> {
    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor) = signed_in().await?;
    services()?
        .cancel_enrollment(&actor, &id)
        .await
        .map_err(refuse)?;
    Ok(())
}

#[component]
pub fn EnrollmentsPage() -> impl IntoView {
    let param = query_params();
    let cancel = ServerAction::<CancelEnrollment>::new();
    let data = Resource::new(
        move || {
            (
                param("view"),
                param("location"),
                param("metadata"),
                param("page"),
                cancel.version().get(),
            )
        },
        |(view, location, metadata, page, _)| {
            enrollments_page(view, location, metadata, page.parse().unwrap_or(0))
        },
    );
    let cancel_error = last_error(cancel.value());

    view! {
        <div class="page-head">
            <h1>"Pairing codes"</h1>
            <div class="actions">
                <a class="button secondary" href="/enrollments/new-sheet">"Print a pairing sheet"</a>
            </div>
        </div>
        <WithKeptInput form=CreateEnrollment::PATH let:old>
            <Loaded resource=data let:data>
                <CreateEnrollmentForm locations=data.locations.clone() sheet=false old=old.clone()/>
                <h2>"Codes"</h2>
                <EnrollmentFilters locations=data.locations.clone()/>
                <FormMessage error=cancel_error/>
                <EnrollmentTable page=data.page locations=data.locations cancel/>
            </Loaded>
        </WithKeptInput>
    }
}

/// Which codes the list shows, as the URL has it.
#[component]
fn EnrollmentFilters(locations: Vec<Location>) -> impl IntoView {
    let param = query_params();
    view! {
        <FilterBar action="/enrollments" label="Filter pairing codes" button="Filter">
            <FilterSelect id="f-view" name="view" label="Show" choices=choices(VIEWS) selected=param("view")/>
            <LocationFilter locations selected=param("location")/>
            <MetadataFilter value=param("metadata") placeholder="store:berlin-01"/>
        </FilterBar>
    }
}

#[component]
fn EnrollmentTable(
    page: Page<Enrollment>,
    locations: Vec<Location>,
    cancel: ServerAction<CancelEnrollment>,
) -> impl IntoView {
    if page.content.is_empty() {
        return view! {
            <p class="empty">"No pairing codes here. "
                <a href="#new-pairing-code">"Create one above"</a>
                ", or show other codes with the filter."</p>
        }
        .into_any();
    }
    let name_of = move |id: &str| location_name(&locations, id).unwrap_or_else(|| "—".into());
    let (number, total_pages, total) = (page.page_number, page.total_pages, page.total_elements);
    let page_link = |number: i64| with_param("/enrollments", "page", Some(number.to_string()));
    view! {
        <div class="table-wrap">
        <table class="list">
            <caption class="visually-hidden">"Pairing codes"</caption>
            <thead><tr>
                <th scope="col">"Code"</th><th scope="col">"Status"</th><th scope="col">"Location"</th>
                <th scope="col">"Metadata"</th><th scope="col">"Created by"</th><th scope="col">"Expires"</th><th scope="col"><span class="visually-hidden">"Actions"</span></th>
            </tr></thead>
            <tbody>
                {page.content.into_iter().map(|e| {
                    let href = format!("/enrollments/{}", e.enrollment_id);
                    let pending = e.status == EnrollmentStatus::Pending;
                    let id = e.enrollment_id.clone();
                    view! {
                        <tr>
                            <td data-label="Code">{match e.enrollment_code.clone() {
                                Some(code) => view! { <a class="code" href=href>{code}</a> }.into_any(),
                                None => view! { <a href=href>"Details"</a> }.into_any(),
                            }}</td>
                            <td data-label="Status"><StatusBadge status=e.status/></td>
                            <td data-label="Location">{name_of(&e.location_id)}</td>
                            <td data-label="Metadata"><MetadataChips metadata=e.metadata.clone()/></td>
                            <td data-label="Created by">{e.created_by.clone()}</td>
                            <td data-label="Expires">{if pending { view! { <Time at=e.expires_at.clone()/> }.into_any() } else { "—".into_any() }}</td>
                            <td data-label="Actions" class="row-actions">{pending.then(|| view! {
                                <details>
                                    <summary>"Cancel…"</summary>
                                    <ActionForm action=cancel>
                                        <input type="hidden" name="id" value=id/>
                                        <p>"The code stops working at once."</p>
                                        <button type="submit" class="danger">"Cancel code"</button>
                                    </ActionForm>
                                </details>
                            })}</td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        </div>
        <Pager
            summary=format!("{} · page {} of {}", plural(total, "code", "codes"), number + 1, total_pages.max(1))
            previous=(number > 0).then(|| (page_link(number - 1), "Previous"))
            next=(number + 1 < total_pages).then(|| (page_link(number + 1), "Next"))
        />
    }
    .into_any()
}

/// The create form: one code, or (with `sheet`) a number of codes to print together.
/// `old` is what the user typed when the server last refused it.
#[component]
pub fn CreateEnrollmentForm(locations: Vec<Location>, sheet: bool, old: OldInput) -> impl IntoView {
    let create = ServerAction::<CreateEnrollment>::new();
    let error = last_error(create.value());
    let single_location = locations.len() == 1;
    let count = old
        .value("count")
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "12".into());
    let chosen_location = old.value("location_id").unwrap_or_default();
    let expiry = old.value("expiry").unwrap_or_else(|| "2h".into());
    let custom_minutes = old.value("custom_minutes").unwrap_or_default();
    let rows = metadata_rows(&old);

    view! {
        <section class="card" id=if sheet { "new-pairing-sheet" } else { "new-pairing-code" }>
            <h2>{if sheet { "New pairing sheet" } else { "New pairing code" }}</h2>
            <ActionForm action=create attr:class="create-enrollment form-grid">
                {sheet.then(|| view! {
                    <div class="field">
                        <label for="count">"How many codes (1 to 50)"</label>
                        <input id="count" name="count" type="number" min="1" max="50" value=count required aria-describedby="count-error"/>
                        <FieldMessage field="count" error/>
                    </div>
                })}
                <div class="field">
                    <label for="location_id">"Location"</label>
                    <select id="location_id" name="location_id" required=!single_location aria-describedby="location_id-error">
                        {(!single_location).then(|| view! { <option value="">"Choose the store…"</option> })}
                        <Options choices=location_choices_with_city(&locations) selected=chosen_location/>
                    </select>
                    <FieldMessage field="location_id" error/>
                </div>
                <div class="field">
                    <ExpiryChoice expiry custom_minutes/>
                    <FieldMessage field="expires_in" error/>
                </div>
                <div class="field wide">
                    <MetadataRows rows/>
                    <FieldMessage field="metadata" error/>
                </div>
                <FormMessage error/>
                <div class="form-actions">
                    {if sheet {
                        view! { <SubmitButton label="Create and print sheet".to_owned() pending="Creating sheet…".to_owned()/> }
                    } else {
                        view! { <SubmitButton label="Create pairing code".to_owned() pending="Creating…".to_owned()/> }
                    }}
                </div>
            </ActionForm>
        </section>
    }
}

/// The lifetime: a choice of common ones, or a number of minutes (that field is shown only
/// for "Custom…" once the page runs in the browser, and always without JavaScript).
/// `expiry` and `custom_minutes` start as the user last sent them.
#[island]
fn ExpiryChoice(expiry: String, custom_minutes: String) -> impl IntoView {
    let choices = [
        ("2h", "2 hours"),
        ("24h", "24 hours"),
        ("48h", "48 hours"),
        ("72h", "72 hours"),
        ("custom", "Custom…"),
    ];
    let initial = expiry.clone();
    let expiry = RwSignal::new(expiry);
    view! {
        <label for="expiry">"Expires after"</label>
        <select id="expiry" name="expiry" on:change=move |ev| expiry.set(event_target_value(&ev))>
            {choices.into_iter().map(|(value, label)| view! {
                <option value=value selected=value == initial>{label}</option>
            }).collect_view()}
        </select>
        <div class="custom-expiry" class:hidden-until-chosen=move || expiry.get() != "custom">
            <label for="custom_minutes">"Custom lifetime in minutes (1 to 4320)"</label>
            <input id="custom_minutes" name="custom_minutes" type="number" min="1" max="4320" value=custom_minutes aria-describedby="expires_in-error"/>
        </div>
    }
}
