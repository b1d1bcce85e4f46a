//! The HTTP edge, where the application meets the network: how connections are accepted
//! and timed ([`serve`]), how long a request may take ([`timeout`]), who the client is
//! behind a proxy ([`client_address`]), and the security and caching headers of every
//! answer ([`headers`]).

pub mod client_address;
pub mod headers;
pub mod serve;
pub mod timeout;

use std::time::Duration;

/// How long a client has to send a request's headers (a slowloris holds a connection by
/// never finishing them).
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a request may take, from its headers to the head of the answer.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections served at once; further clients wait in the system's accept queue.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// How long a stopping server waits for the requests under way.
pub const DEFAULT_SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
