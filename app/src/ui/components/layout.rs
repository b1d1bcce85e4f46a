//! The frame of every signed-in page: the navigation (only what the role may use), who is
//! signed in, and sign-out.

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use super::format::role_label;
use crate::domain::Permission;
use crate::model::StaffUser;
use crate::ui::session::{Logout, current_user, take_notice};

/// The signed-in user, for pages inside the layout.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Option<StaffUser>>);

struct NavItem {
    href: &'static str,
    label: &'static str,
    /// What the page needs; `None`: every signed-in user.
    needs: Option<Permission>,
}

const fn item(href: &'static str, label: &'static str, needs: Option<Permission>) -> NavItem {
    NavItem { href, label, needs }
}

// The same permissions the services check: a link is shown when its page would answer.
const NAV: &[NavItem] = &[
    item("/", "Overview", None),
    item(
        "/enrollments",
        "Enrollments",
        Some(Permission::ViewEnrollments),
    ),
    item("/devices", "Devices", Some(Permission::ViewDevices)),
    item("/locations", "Locations", Some(Permission::ManageLocations)),
    item("/audit", "Audit log", Some(Permission::ViewAudit)),
    item("/users", "Users", Some(Permission::ManageUsers)),
    item("/api-keys", "API keys", Some(Permission::ManageApiKeys)),
    item("/webhooks", "Webhooks", Some(Permission::ManageWebhooks)),
    item("/account", "My account", None),
];

#[component]
pub fn PortalLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| async { current_user().await.ok().flatten() });
    provide_context(CurrentUser(user));
    let logout = ServerAction::<Logout>::new();
    let notice = Resource::new(|| (), |_| async { take_notice().await.ok().flatten() });

    view! {
        <header class="topbar">
            <a class="brand" href="/">"ipp-portal"</a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Some(user) => {
                            let role = user.role;
                            view! {
                                <nav aria-label="Main">
                                    <ul>
                                        {NAV
                                            .iter()
                                            .filter(|item| item.needs.is_none_or(|needed| role.may(needed)))
                                            .map(|item| view! { <li><A href=item.href exact=true>{item.label}</A></li> })
                                            .collect_view()}
                                    </ul>
                                </nav>
                                <div class="who">
                                    <span class="merchant">{user.merchant_name.clone()}</span>
                                    <span class="email">{user.email.clone()}</span>
                                    <span class="role">{role_label(role)}</span>
                                    <ActionForm action=logout>
                                        <button type="submit" class="link">"Sign out"</button>
                                    </ActionForm>
                                </div>
                            }
                                .into_any()
                        }
                        None => view! { <a href="/login">"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </header>
        <main class="page">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    notice.await.map(|text| view! { <p class="form-ok" role="status">{text}</p> })
                })}
            </Transition>
            <Outlet/>
        </main>
    }
}
