//! Building the application from its settings and serving it.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use leptos::config::LeptosOptions;
use leptos::prelude::*;
use leptos_axum::{LeptosRoutes, generate_route_list};
use tokio::net::TcpListener;
use tower_http::compression::CompressionLayer;

use app::clock::Clock;
use app::services::{Services, Settings};
use app::state::AppState;

use crate::api;
use app::store::{Store, StoreError};

/// Leptos' settings: those cargo-leptos compiled in when it built the server, otherwise
/// the project's defaults (the site in `target/site`).
pub fn leptos_options(site_addr: SocketAddr) -> LeptosOptions {
    let mut options = get_configuration(None)
        .map(|conf| conf.leptos_options)
        .unwrap_or_else(|_| {
            LeptosOptions::builder()
                .output_name("ipp-portal")
                .site_root(
                    std::env::var("LEPTOS_SITE_ROOT").unwrap_or_else(|_| "target/site".into()),
                )
                .site_pkg_dir("pkg")
                .build()
        });
    options.site_addr = site_addr;
    options
}

/// The whole application: the Device API under `/ipp/v1`, the portal everywhere else.
pub fn router(services: Services, leptos_options: LeptosOptions) -> Router {
    let state = AppState {
        leptos_options: leptos_options.clone(),
        services,
    };
    let routes = generate_route_list(app::App);
    let portal = Router::new()
        .leptos_routes_with_context(
            &state,
            routes,
            {
                let state = state.clone();
                move || provide_context(state.clone())
            },
            {
                let options = leptos_options.clone();
                move || app::shell(options.clone())
            },
        )
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(
            app::shell,
        ));
    Router::new()
        .nest("/ipp/v1", api::router())
        .merge(portal)
        .layer(CompressionLayer::new())
        .with_state(state)
}

/// Opens and migrates the database and puts the services together.
pub async fn services(
    database_url: &str,
    clock: Arc<dyn Clock>,
    settings: Settings,
) -> Result<Services, StoreError> {
    let store = Store::connect(database_url).await?;
    store.migrate().await?;
    Ok(Services::new(store, clock, settings))
}

/// Serves until Ctrl-C or SIGTERM, then finishes the requests under way.
pub async fn serve(listener: TcpListener, router: Router) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown_signal())
    .await
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
