//! The address of the client a request came from: the TCP peer, or behind a trusted
//! proxy the address the proxy forwarded. The server works it out once per request (see
//! `server::edge::client_address`) and puts it into the request's extensions; the
//! Device API's registration and the portal's sign-in both read it from there, so their
//! per-address limits count the same client.

use std::fmt;
use std::net::IpAddr;

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientAddress(pub IpAddr);

impl fmt::Display for ClientAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Reads the address the server put into the request. A router without that middleware
/// is a mistake in putting the server together: answered with 500, never guessed.
impl<S: Send + Sync> FromRequestParts<S> for ClientAddress {
    type Rejection = (StatusCode, &'static str);

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<ClientAddress>().copied().ok_or((
            StatusCode::INTERNAL_SERVER_ERROR,
            "the client address was not worked out",
        ))
    }
}
