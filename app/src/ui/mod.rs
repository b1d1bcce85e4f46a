//! The merchant portal's pages and components.

mod account;
mod api_keys;
mod audit;
mod browser;
mod device;
pub mod devices;
mod enrollments;
pub mod errors;
mod format;
mod forms;
mod home;
mod layout;
mod locations;
mod login;
mod pair;
mod pairing;
#[cfg(feature = "ssr")]
mod qr;
pub mod session;
mod users;
mod widgets;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <link rel="icon" href="/favicon.svg" type="image/svg+xml"/>
                <AutoReload options=options.clone()/>
                // Islands: pages are server-rendered HTML; only `#[island]` parts load as WASM.
                <HydrationScripts options islands=true/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    view! {
        <Stylesheet id="leptos" href="/pkg/ipp-portal.css"/>
        <Title text="ipp-portal"/>
        <Router>
            // Async: pages arrive whole, so they work with JavaScript off (streamed
            // fragments would need a script to be put in place).
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/login") view=login::LoginPage ssr=SsrMode::Async/>
                <Route path=path!("/pair") view=pair::PairPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=layout::PortalLayout ssr=SsrMode::Async>
                    <Route path=path!("/") view=home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments") view=enrollments::EnrollmentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments/new-sheet") view=enrollments::NewSheetPage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments/sheet/:batch") view=pairing::SheetPage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments/:id") view=pairing::PairingPage ssr=SsrMode::Async/>
                    <Route path=path!("/devices") view=devices::DevicesPage ssr=SsrMode::Async/>
                    <Route path=path!("/devices/:id") view=device::DevicePage ssr=SsrMode::Async/>
                    <Route path=path!("/locations") view=locations::LocationsPage ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view=audit::AuditPage ssr=SsrMode::Async/>
                    <Route path=path!("/users") view=users::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/api-keys") view=api_keys::ApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/account") view=account::AccountPage ssr=SsrMode::Async/>
                </ParentRoute>
            </Routes>
        </Router>
    }
}

#[component]
fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    {
        if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
            response.set_status(axum::http::StatusCode::NOT_FOUND);
        }
    }
    view! {
        <main class="narrow">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the portal"</a></p>
        </main>
    }
}
