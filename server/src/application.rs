//! The one way the application is put together and served: `ipp-portal serve`, the
//! integration tests and the benchmark all build it here, so what they run is the same.
//!
//! `Application::build(config)` binds the listener (port 0 takes a free port), migrates the
//! database and builds the services and the router; `run_until_stopped()` then serves until
//! Ctrl-C or SIGTERM (`run_until` until a future of the caller's). Between the two,
//! `address()` tells where it listens and `services()` gives the services, to seed data or
//! look behind the API.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

use app::clock::{Clock, SystemClock};
use app::services::{RegistrationLimits, Services, SessionLifetimes, Settings, WebhookSettings};
use app::store::StoreError;

use crate::edge::client_address::TrustedProxies;
use crate::edge::headers::HeaderSettings;
use crate::edge::serve::ConnectionLimits;
use crate::health::{self, Draining};
use crate::{edge, metrics, startup, upkeep};

/// What the application needs from its deployment.
#[derive(Clone)]
pub struct ApplicationConfig {
    /// Address and port to listen on; port 0 takes a free one (see [`Application::port`]).
    pub addr: SocketAddr,
    /// `sqlite://path/file.db` or `postgres://user:pass@host/db`; migrated at build.
    pub database_url: String,
    /// Where people reach the portal; QR codes link here. `None`: `http://<bound address>`.
    pub public_url: Option<String>,
    /// Send the session cookie over HTTPS only. `None`: when the public URL is `https://`.
    pub secure_cookies: Option<bool>,
    /// Failed pairing-code attempts allowed, per address and overall.
    pub registration_limits: RegistrationLimits,
    /// How long a portal session lasts unused (the session store's expiry, and the
    /// services' check), and at most after sign-in (the services' check).
    pub sessions: SessionLifetimes,
    /// The time the services go by: the system's, or one a test moves by hand.
    pub clock: Arc<dyn Clock>,
    /// The folder of the compiled site (`pkg/`, CSS, static files). `None`:
    /// `LEPTOS_SITE_ROOT`, else `target/site`, where `scripts/build-site.sh` puts it.
    pub leptos_site_root: Option<String>,
    /// How long a client has to send a request's headers before its connection is closed.
    pub header_read_timeout: Duration,
    /// How long a request may take, headers to answer, before it is answered 408.
    pub request_timeout: Duration,
    /// Connections served at once; more wait to be accepted.
    pub max_connections: usize,
    /// At a stop, how long the requests under way have to finish.
    pub shutdown_grace: Duration,
    /// Proxies whose `X-Forwarded-For` or `Forwarded` header names the client; by default
    /// nobody's, and the client is the TCP peer.
    pub trusted_proxies: TrustedProxies,
    /// Where webhooks may go, and this instance's delivery worker.
    pub webhooks: WebhookSettings,
    /// Where `/metrics` is served: `None`, on the main address; otherwise on this address
    /// alone (port 0 takes a free one, see [`Application::metrics_address`]).
    pub metrics_addr: Option<SocketAddr>,
}

impl ApplicationConfig {
    /// The defaults: the system clock, the default registration limits, the public URL and
    /// cookie security taken from the bound address, the site where
    /// `scripts/build-site.sh` puts it, 30 s for headers, requests and a stop, 1024
    /// connections, no trusted proxy, and `/metrics` on the main address.
    pub fn new(addr: SocketAddr, database_url: impl Into<String>) -> Self {
        Self {
            addr,
            database_url: database_url.into(),
            public_url: None,
            secure_cookies: None,
            registration_limits: RegistrationLimits::default(),
            sessions: SessionLifetimes::default(),
            clock: Arc::new(SystemClock),
            leptos_site_root: None,
            header_read_timeout: edge::DEFAULT_HEADER_READ_TIMEOUT,
            request_timeout: edge::DEFAULT_REQUEST_TIMEOUT,
            max_connections: edge::DEFAULT_MAX_CONNECTIONS,
            shutdown_grace: edge::DEFAULT_SHUTDOWN_GRACE,
            trusted_proxies: TrustedProxies::default(),
            webhooks: WebhookSettings::default(),
            metrics_addr: None,
        }
    }
}

/// A listener on `addr`, and the address it got (the port the system chose for port 0).
async fn bind(addr: SocketAddr) -> Result<(TcpListener, SocketAddr), ApplicationError> {
    let error = |source| ApplicationError::Bind { addr, source };
    let listener = TcpListener::bind(addr).await.map_err(error)?;
    let address = listener.local_addr().map_err(error)?;
    Ok((listener, address))
}

/// Why the application could not start or stopped serving.
#[derive(Debug, thiserror::Error)]
pub enum ApplicationError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("database error: {0}")]
    Store(#[from] StoreError),
}

/// The application, bound to its address and with its database migrated, ready to serve.
pub struct Application {
    listener: TcpListener,
    address: SocketAddr,
    services: Services,
    router: Router,
    draining: Draining,
    limits: ConnectionLimits,
    /// `/metrics` on an address of its own, when one was asked for.
    metrics: Option<(TcpListener, SocketAddr, Router)>,
}

impl Application {
    /// Binds the listener, connects to and migrates the database, and builds the services
    /// and the router. Nothing is served until [`Application::run_until_stopped`].
    pub async fn build(config: ApplicationConfig) -> Result<Self, ApplicationError> {
        let (listener, address) = bind(config.addr).await?;
        let metrics_listener = match config.metrics_addr {
            Some(addr) => Some(bind(addr).await?),
            None => None,
        };
        let public_url = config
            .public_url
            .unwrap_or_else(|| format!("http://{address}"));
        let secure_cookies = config
            .secure_cookies
            .unwrap_or(public_url.starts_with("https://"));
        let headers = HeaderSettings {
            https: public_url.starts_with("https://"),
        };
        let settings = Settings {
            public_url,
            registration_limits: config.registration_limits,
            sessions: config.sessions,
            webhooks: config.webhooks,
        };
        let services = startup::services(&config.database_url, config.clock, settings).await?;
        let mut leptos_options = startup::leptos_options(address);
        if let Some(site_root) = config.leptos_site_root {
            leptos_options.site_root = site_root.into();
        }
        let router = startup::router(
            services.clone(),
            leptos_options,
            startup::SessionSettings {
                secure_cookies,
                idle: config.sessions.idle,
            },
            startup::EdgeSettings {
                request_timeout: config.request_timeout,
                trusted_proxies: config.trusted_proxies,
                headers,
            },
        )
        .await?;
        let draining = Draining::default();
        let router = router.merge(health::router(services.clone(), draining.clone()));
        let metrics_router = metrics::router(services.clone());
        let (router, metrics) = match metrics_listener {
            Some((listener, address)) => (router, Some((listener, address, metrics_router))),
            None => (router.merge(metrics_router), None),
        };
        let limits = ConnectionLimits {
            header_read_timeout: config.header_read_timeout,
            max_connections: config.max_connections,
            shutdown_grace: config.shutdown_grace,
        };
        Ok(Self {
            listener,
            address,
            services,
            router,
            draining,
            limits,
            metrics,
        })
    }

    /// The address the listener is bound to, with the port the system chose for port 0.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn port(&self) -> u16 {
        self.address.port()
    }

    /// Where `/metrics` is served when it has an address of its own (`--metrics-addr`).
    pub fn metrics_address(&self) -> Option<SocketAddr> {
        self.metrics.as_ref().map(|(_, address, _)| *address)
    }

    /// The services the router calls, on the same database and clock: for seeding data
    /// before serving, and for tests to look behind the API.
    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Serves until Ctrl-C or SIGTERM, then finishes the requests under way.
    pub async fn run_until_stopped(self) -> Result<(), ApplicationError> {
        self.run_until(startup::shutdown_signal()).await
    }

    /// Serves, and delivers webhooks, until `stop` completes; then reports not ready,
    /// accepts no more connections, lets the requests under way be answered (for at most
    /// the shutdown grace), lets the webhook attempts under way finish and records them,
    /// and closes the database.
    pub async fn run_until(self, stop: impl Future<Output = ()>) -> Result<(), ApplicationError> {
        let draining = self.draining.clone();
        let stop = async move {
            stop.await;
            draining.start();
        };
        let upkeep = upkeep::spawn(self.services.clone());
        let webhooks = self.services.start_webhook_delivery();
        // Scrapes go on while the requests under way finish, and end with them.
        let metrics = self.metrics.map(|(listener, _, router)| {
            tokio::spawn(async move {
                if let Err(error) = axum::serve(listener, router).await {
                    tracing::error!("the metrics listener failed: {error}");
                }
            })
        });
        edge::serve::serve(self.listener, self.router, self.limits, stop).await;
        upkeep.abort();
        if let Some(worker) = webhooks {
            worker.stop().await;
        }
        if let Some(metrics) = metrics {
            metrics.abort();
        }
        self.services.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}
