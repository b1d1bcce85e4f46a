//! `/audit`: who did what, when: every change to enrollments, devices, locations, users
//! and keys, filtered by actor, action and target.

use leptos::prelude::*;

use crate::domain::paging::Page;
use crate::model::AuditEvent;
use crate::ui::components::audit_table::{ACTIONS, AuditTable};
use crate::ui::components::filters::{FilterBar, FilterSelect, FilterText};
use crate::ui::components::format::plural_capped;
use crate::ui::components::forms::choices;
use crate::ui::components::loading::Loaded;
use crate::ui::components::pager::Pager;
use crate::ui::components::params::{query_params, with_param};
use crate::ui::errors::PortalError;

/// A page of the log, and where its count stops (past it, "10,000+ events").
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct AuditLogData {
    #[serde(flatten)]
    pub page: Page<AuditEvent>,
    pub count_cap: i64,
}

#[server(endpoint = "audit_events")]
pub async fn audit_page(
    #[server(default)] actor: String,
    #[server(default)] action: String,
    #[server(default)] target: String,
    #[server(default)] page: i64,
) -> Result<AuditLogData, PortalError> {
    use crate::domain::paging::PageRequest;
    use crate::services::AuditQuery;

    use crate::ui::session::{refuse, services, signed_in};

    let (_, actor_of_request) = signed_in().await?;
    let filter = AuditQuery {
        actor_id: Some(actor.trim().to_owned()).filter(|v| !v.is_empty()),
        action: Some(action.trim().to_owned()).filter(|v| !v.is_empty()),
        target_id: Some(target.trim().to_owned()).filter(|v| !v.is_empty()),
    };
    let request = PageRequest::new(Some(page.max(0)), Some(50))?;
    let page = services()?
        .audit_log_page(&actor_of_request, filter, request)
        .await
        .map_err(refuse)?;
    Ok(AuditLogData {
        page,
        count_cap: crate::services::OVERVIEW_COUNT_CAP,
    })
}

#[component]
pub fn AuditLogPage() -> impl IntoView {
    let param = query_params();
    let events = Resource::new(
        move || {
            (
                param("actor"),
                param("action"),
                param("target"),
                param("page"),
            )
        },
        |(actor, action, target, page)| {
            audit_page(actor, action, target, page.parse().unwrap_or(0))
        },
    );
    view! {
        <h1>"Audit log"</h1>
        <FilterBar action="/audit" label="Filter the audit log" button="Filter">
            <FilterText id="a-actor" name="actor" label="Actor (user email or key, device id)" value=param("actor")/>
            <FilterSelect id="a-action" name="action" label="Action" any="Any" choices=choices(ACTIONS) selected=param("action")/>
            <FilterText id="a-target" name="target" label="Target id" value=param("target")/>
        </FilterBar>
        <Loaded resource=events let:data>
            <AuditPage page=data.page count_cap=data.count_cap/>
        </Loaded>
    }
}

/// One page of events, with links to the newer and older pages.
#[component]
fn AuditPage(page: Page<AuditEvent>, count_cap: i64) -> impl IntoView {
    let number = page.page_number;
    let link = |number: i64| with_param("/audit", "page", Some(number.to_string()));
    view! {
        <p class="muted">{plural_capped(page.total_elements, count_cap, "event", "events")}</p>
        <AuditTable events=page.content/>
        <Pager
            previous=(number > 0).then(|| (link(number - 1), "Newer"))
            next=(!page.last).then(|| (link(number + 1), "Older"))
        />
    }
}
