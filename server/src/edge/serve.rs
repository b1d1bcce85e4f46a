//! Accepting and serving connections: at most so many at once, each with a deadline for
//! its request headers, and a graceful stop that finishes what was under way.
//!
//! `axum::serve` sets no timer on its connections, so hyper's header read timeout never
//! fires there and a client that sends half a request line holds its connection forever;
//! it also accepts without limit. This loop does what it does with both.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::Request;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc, watch};
use tower::ServiceExt as _;

/// Limits on the connections a server keeps.
#[derive(Debug, Clone, Copy)]
pub struct ConnectionLimits {
    /// A connection that has not sent a request's headers in full this long after it
    /// started sending them (or after its previous answer) is closed.
    pub header_read_timeout: Duration,
    /// Connections served at once. Past it, nothing more is accepted until one closes:
    /// new clients wait in the system's accept queue rather than being refused.
    pub max_connections: usize,
    /// At a stop, how long the requests under way have to finish before their
    /// connections are dropped.
    pub shutdown_grace: Duration,
}

/// Serves `router` on `listener` until `stop` completes; then accepts nothing more (the
/// listener is closed, so new connections are refused), lets every request under way be
/// answered (closing idle connections at once) and returns when all connections are
/// closed or `shutdown_grace` has passed. A registration that was answered was committed
/// before its answer was written, so a stop loses none.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    stop: impl Future<Output = ()>,
) {
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Connections watch `stopping`; each holds a `done` sender, so the receiver ends once
    // the last connection has closed.
    let (stopping, stop_watch) = watch::channel(false);
    let (done, mut all_done) = mpsc::channel::<()>(1);
    let mut stop = pin!(stop);
    loop {
        let slot = tokio::select! {
            slot = slots.clone().acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
            () = &mut stop => break,
        };
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    wait_after_accept_error(error).await;
                    continue;
                }
            },
            () = &mut stop => break,
        };
        let connection = serve_connection(stream, peer, router.clone(), limits, stop_watch.clone());
        let done = done.clone();
        tokio::spawn(async move {
            connection.await;
            drop(slot);
            drop(done);
        });
    }
    drop(listener);
    let open = limits
        .max_connections
        .max(1)
        .saturating_sub(slots.available_permits());
    tracing::info!(
        open_connections = open,
        "stopping: no new connections; finishing the requests under way"
    );
    let _ = stopping.send(true);
    drop(done);
    if tokio::time::timeout(limits.shutdown_grace, all_done.recv())
        .await
        .is_err()
    {
        let open = limits
            .max_connections
            .max(1)
            .saturating_sub(slots.available_permits());
        tracing::warn!(
            open_connections = open,
            "stopped with connections still open after {} s",
            limits.shutdown_grace.as_secs()
        );
    }
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    limits: ConnectionLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    // What `into_make_service_with_connect_info` did: handlers may ask for the peer.
    let service = router.map_request(move |mut request: Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        request.map(Body::new)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let connection = builder
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
        .with_upgrades();
    let mut connection = pin!(connection);
    let result = tokio::select! {
        result = connection.as_mut() => result,
        () = async {
            // An error means the server is gone: stop all the same.
            let _ = stopping.wait_for(|stopping| *stopping).await;
        } => {
            // Answers the request under way, if any, then closes; an idle connection
            // closes now.
            connection.as_mut().graceful_shutdown();
            connection.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%peer, "connection ended: {error}");
    }
}

/// A failed accept is retried at once when it was the client's doing (it hung up before
/// being accepted); otherwise (out of file descriptors, say) after a second.
async fn wait_after_accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!("cannot accept connections: {error}");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
