//! The frame of every signed-in page: the navigation (only what the role may use), who is
//! signed in, and sign-out.
//!
//! From 1024 px up the navigation and the account menu sit in one row; below that both
//! fold into a "Menu" button. Both menus are `<details>`, so they open without JavaScript.
//! To add a page, add a line to [`NAV`].

use leptos::form::ActionForm;
use leptos::prelude::*;
use leptos_router::components::{A, Outlet};

use super::format::role_label;
use crate::domain::Permission;
use crate::domain::role::Role;
use crate::ui::session::{Logout, Me, current_user, take_notice};

/// The signed-in user, for pages inside the layout.
#[derive(Clone, Copy)]
pub struct CurrentUser(pub Resource<Option<Me>>);

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
// "My account" and "Sign out" live in the account menu, not here.
const NAV: &[NavItem] = &[
    item("/", "Overview", None),
    item(
        "/enrollments",
        "Pairing codes",
        Some(Permission::ViewEnrollments),
    ),
    item("/devices", "Devices", Some(Permission::ViewDevices)),
    item("/locations", "Locations", Some(Permission::ManageLocations)),
    item("/audit", "Audit log", Some(Permission::ViewAudit)),
    item("/users", "Users", Some(Permission::ManageUsers)),
    item("/api-keys", "API keys", Some(Permission::ManageApiKeys)),
    item("/webhooks", "Webhooks", Some(Permission::ManageWebhooks)),
];

/// The main navigation as the role may use it.
fn nav_links(role: Role) -> impl IntoView {
    view! {
        <ul>
            {NAV
                .iter()
                .filter(|item| item.needs.is_none_or(|needed| role.may(needed)))
                .map(|item| view! { <li><A href=item.href exact=true>{item.label}</A></li> })
                .collect_view()}
        </ul>
    }
}

/// Who is signed in, with links to their account and to sign out.
fn account_panel(me: &Me, logout: ServerAction<Logout>) -> impl IntoView {
    let user = &me.user;
    view! {
        <div class="account-panel">
            <p class="account-merchant">{user.merchant_name.clone()}</p>
            <p class="account-email">{user.email.clone()}</p>
            <p><span class="badge">{role_label(user.role)}</span></p>
            <ul>
                <li><a href="/account">"My account"</a></li>
            </ul>
            <ActionForm action=logout>
                <button type="submit" class="secondary">"Sign out"</button>
            </ActionForm>
        </div>
    }
}

#[component]
pub fn PortalLayout() -> impl IntoView {
    let user = Resource::new(|| (), |_| async { current_user().await.ok().flatten() });
    provide_context(CurrentUser(user));
    let logout = ServerAction::<Logout>::new();
    let notice = Resource::new(|| (), |_| async { take_notice().await.ok().flatten() });

    view! {
        <header class="topbar">
            <a class="brand" href="/">
                <img src="/favicon.svg" alt="" width="24" height="24"/>
                <span class="brand-name">"ipp-portal"</span>
            </a>
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    match user.await {
                        Some(me) => {
                            let role = me.user.role;
                            view! {
                                <nav aria-label="Main" class="nav-wide">{nav_links(role)}</nav>
                                <details class="dropdown account-menu">
                                    <summary>
                                        <span class="account-name">{me.user.merchant_name.clone()}</span>
                                        <span class="visually-hidden">" account menu"</span>
                                    </summary>
                                    {account_panel(&me, logout)}
                                </details>
                                <details class="dropdown menu">
                                    <summary><span class="menu-icon" aria-hidden="true"></span>"Menu"</summary>
                                    <div class="menu-panel">
                                        <nav aria-label="Main">{nav_links(role)}</nav>
                                        {account_panel(&me, logout)}
                                    </div>
                                </details>
                            }
                                .into_any()
                        }
                        None => view! { <a class="sign-in" href="/login">"Sign in"</a> }.into_any(),
                    }
                })}
            </Transition>
        </header>
        <main class="page">
            <Transition fallback=|| ()>
                {move || Suspend::new(async move {
                    notice.await.map(|text| view! { <p class="notice ok" role="status">{text}</p> })
                })}
            </Transition>
            <Outlet/>
        </main>
    }
}
