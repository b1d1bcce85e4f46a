//! The merchant portal: the document, the routes, and where each part lives:
//! - `pages`: one module a page, with the server functions it calls;
//! - `components`: what several pages use (the frame, form messages, islands, formats);
//! - `session`: signing in and out, and the checks every server function starts with;
//! - `errors`: the error every portal server function returns.

pub mod components;
pub mod errors;
pub mod pages;
pub mod session;

use leptos::prelude::*;
use leptos_meta::{MetaTags, Stylesheet, Title, provide_meta_context};
use leptos_router::components::{ParentRoute, Route, Router, Routes};
use leptos_router::{SsrMode, path};

use components::layout::PortalLayout;
use pages::{
    account, api_keys, audit_log, device_detail, devices, enrollment_detail, enrollments,
    locations, login, overview, pair_check, pairing_sheet, second_step, users, webhook_endpoint,
    webhooks,
};

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
                <Route path=path!("/login/verify") view=second_step::SecondStepPage ssr=SsrMode::Async/>
                <Route path=path!("/pair") view=pair_check::PairCheckPage ssr=SsrMode::Async/>
                <ParentRoute path=path!("") view=PortalLayout ssr=SsrMode::Async>
                    <Route path=path!("/") view=overview::OverviewPage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments") view=enrollments::EnrollmentsPage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments/new-sheet") view=pairing_sheet::NewPairingSheetPage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments/sheet/:batch") view=pairing_sheet::PairingSheetPage ssr=SsrMode::Async/>
                    <Route path=path!("/enrollments/:id") view=enrollment_detail::EnrollmentDetailPage ssr=SsrMode::Async/>
                    <Route path=path!("/devices") view=devices::DevicesPage ssr=SsrMode::Async/>
                    <Route path=path!("/devices/:id") view=device_detail::DeviceDetailPage ssr=SsrMode::Async/>
                    <Route path=path!("/locations") view=locations::LocationsPage ssr=SsrMode::Async/>
                    <Route path=path!("/audit") view=audit_log::AuditLogPage ssr=SsrMode::Async/>
                    <Route path=path!("/users") view=users::UsersPage ssr=SsrMode::Async/>
                    <Route path=path!("/api-keys") view=api_keys::ApiKeysPage ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks") view=webhooks::WebhooksPage ssr=SsrMode::Async/>
                    <Route path=path!("/webhooks/:id") view=webhook_endpoint::WebhookEndpointPage ssr=SsrMode::Async/>
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
