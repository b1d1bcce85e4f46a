//! Building the application from its settings and serving it.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::extract::MatchedPath;
use axum::http::Request;
use axum::{Router, middleware};
use leptos::config::LeptosOptions;
use leptos::nonce::Nonce;
use leptos::prelude::*;
use leptos_axum::{AxumRouteListing, LeptosRoutes, generate_route_list};
use tower_http::LatencyUnit;
use tower_http::compression::CompressionLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use tower_sessions::cookie::SameSite;
use tower_sessions::session_store::ExpiredDeletion;
use tower_sessions::{Expiry, SessionManagerLayer, SessionStore};
use tracing::Level;

use app::clock::Clock;
use app::metrics::UNMATCHED_ROUTE;
use app::services::{Services, Settings};
use app::state::AppState;

use crate::edge::client_address::{TrustedProxies, resolve_client_address};
use crate::edge::headers::{self, HeaderSettings};
use crate::edge::timeout::limit_request_time;
use crate::{api, export, metrics, portal_guard};
use app::store::{SessionStorage, Store, StoreError};

/// Leptos' settings from the `LEPTOS_*` environment variables, with the output name
/// compiled in (`.cargo/config.toml`) and the site in `target/site` unless
/// `LEPTOS_SITE_ROOT` says otherwise: the layout `scripts/build-site.sh` builds. The same
/// defaults when a variable cannot be read.
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

/// How portal sessions behave.
#[derive(Debug, Clone, Copy)]
pub struct SessionSettings {
    /// Send the cookie over HTTPS only.
    pub secure_cookies: bool,
    /// A session unused this long is expired in the store, and its cookie with it.
    pub idle: std::time::Duration,
}

/// What the router does at the edge, before any handler.
#[derive(Debug, Clone)]
pub struct EdgeSettings {
    /// The longest a request may take before it is answered 408.
    pub request_timeout: Duration,
    /// Whose forwarding headers name the client.
    pub trusted_proxies: TrustedProxies,
    /// Security headers that depend on the deployment.
    pub headers: HeaderSettings,
}

/// The portal's routes, listed once a process. Listing renders the app, and while it runs
/// Leptos holds back every resource first polled anywhere in the process for good: a page
/// another application in the process is rendering at that moment would never finish.
fn portal_routes() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(app::App)).clone()
}

/// The whole application: the Device API under `/ipp/v1`, the portal everywhere else.
pub async fn router(
    services: Services,
    leptos_options: LeptosOptions,
    sessions: SessionSettings,
    edge: EdgeSettings,
) -> Result<Router, StoreError> {
    let storage = services.session_storage().await?;
    let state = AppState {
        leptos_options: leptos_options.clone(),
        services,
    };
    let routes = portal_routes();
    let portal = Router::new()
        .route("/devices.csv", axum::routing::get(export::devices_csv))
        .leptos_routes_with_context(&state, routes, portal_context(state.clone()), {
            let options = leptos_options.clone();
            move || app::shell(options.clone())
        })
        // Pages, server functions and the export; not the static files of the fallback.
        .route_layer(middleware::from_fn(headers::portal_no_store))
        .fallback(leptos_axum::file_and_error_handler_with_context::<
            AppState,
            _,
        >(portal_context(state.clone()), app::shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            portal_guard::require_sign_in,
        ))
        .layer(middleware::from_fn(portal_guard::same_origin_only))
        .layer(middleware::from_fn(headers::portal_security_policy));
    let portal = match storage {
        SessionStorage::Sqlite(store) => with_sessions(portal, store, sessions),
        SessionStorage::Postgres(store) => with_sessions(portal, store, sessions),
    };
    // The API authenticates by header alone: no session layer, no cookies.
    let api = api::router().layer(middleware::from_fn(headers::api_headers));
    let router = Router::new()
        .nest("/ipp/v1", api)
        .merge(portal)
        .layer(CompressionLayer::new())
        .layer(middleware::from_fn_with_state(
            Arc::new(edge.trusted_proxies),
            resolve_client_address,
        ))
        .layer(middleware::from_fn_with_state(
            edge.request_timeout,
            limit_request_time,
        ))
        .layer(middleware::from_fn_with_state(
            edge.headers,
            headers::common_headers,
        ))
        .layer(middleware::from_fn(metrics::measure_request));
    Ok(with_request_tracing(router).with_state(state))
}

/// What every portal render and server function finds in its context: the application's
/// state, and the nonce `headers::portal_security_policy` named in this answer's policy,
/// which Leptos then puts on the scripts it writes (instead of one of its own making).
fn portal_context(state: AppState) -> impl Fn() + Clone + Send + Sync + 'static {
    move || {
        provide_context(state.clone());
        let nonce = use_context::<axum::http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Nonce>().cloned());
        if let Some(nonce) = nonce {
            provide_context(nonce);
        }
    }
}

/// The header that names a request, in the logs and in its response.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Every request gets an id (the caller's own `x-request-id` when it is a sensible one,
/// otherwise a new UUID), sent back in the response, and one log line at INFO when it is
/// answered: method, route template, request id, status and latency. Layers added with
/// `Router::layer` run after routing, so the span has the matched route (`/devices/{id}`)
/// and never the query string, which may hold pairing codes; a path no route matched
/// (a static file, a wrong address) is `unmatched`, as in the metrics, since a caller
/// may put anything in it.
fn with_request_tracing<S>(router: Router<S>) -> Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request<Body>| {
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or(UNMATCHED_ROUTE, MatchedPath::as_str);
            let request_id = request
                .headers()
                .get(REQUEST_ID_HEADER)
                .and_then(|id| id.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!(
                "request",
                method = %request.method(),
                route = %route,
                request_id = %request_id,
            )
        })
        .on_response(
            DefaultOnResponse::new()
                .level(Level::INFO)
                .latency_unit(LatencyUnit::Micros),
        );
    // The last layer added runs first: a sensible id is kept, then one is set if missing,
    // then the request is traced, and the id is copied to the response on the way out.
    router
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(trace)
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(middleware::map_request(drop_unusable_request_id))
}

/// A caller's request id is kept when it is 1 to 64 letters, digits, `-`, `_` or `.`;
/// anything else would put what a caller likes into the logs, so it is replaced.
async fn drop_unusable_request_id(mut request: Request<Body>) -> Request<Body> {
    let usable = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .map(|id| usable_request_id(id.as_bytes()));
    if usable == Some(false) {
        request.headers_mut().remove(REQUEST_ID_HEADER);
    }
    request
}

fn usable_request_id(id: &[u8]) -> bool {
    (1..=64).contains(&id.len())
        && id
            .iter()
            .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
}

/// Sessions in the database: unused ones end after `settings.idle` (30 minutes by
/// default; the services check it too, and the portal session marks a session in use),
/// and every session a while after sign-in however active (checked by the services).
fn with_sessions<S>(
    portal: Router<AppState>,
    store: S,
    settings: SessionSettings,
) -> Router<AppState>
where
    S: SessionStore + ExpiredDeletion + Clone,
{
    let cleaner = store.clone();
    tokio::spawn(async move {
        let _ = cleaner
            .continuously_delete_expired(std::time::Duration::from_secs(3600))
            .await;
    });
    let layer = SessionManagerLayer::new(store)
        .with_name("ipp_session")
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(settings.secure_cookies)
        .with_expiry(Expiry::OnInactivity(
            time::Duration::try_from(settings.idle).unwrap_or(time::Duration::MAX),
        ));
    portal.layer(layer)
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

/// Completes at Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
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

#[cfg(test)]
mod tests {
    use super::usable_request_id;

    #[test]
    fn only_short_plain_request_ids_are_kept() {
        assert!(usable_request_id(b"abc-123"));
        assert!(usable_request_id(b"0f8e1c2a-4b7d-4e1f-9a3c-5d6e7f8a9b0c"));
        assert!(usable_request_id(b"trace_1.2"));
        assert!(!usable_request_id(b""));
        assert!(!usable_request_id(&[b'a'; 65]));
        assert!(!usable_request_id(b"two words"));
        assert!(!usable_request_id(b"code=BCDF-GHJK"));
        assert!(!usable_request_id("caf\u{e9}".as_bytes()));
    }
}
