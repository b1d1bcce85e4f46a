#![recursion_limit = "512"]
//! The portal application: domain rules, and (server side) storage and services, plus the
//! Leptos components and server functions of the merchant portal.
//!
//! Where things live:
//! - `domain`: the product's rules as plain functions (shared with the browser bundle);
//! - `store` (server): every SQL statement, for SQLite and PostgreSQL;
//! - `services` (server): the operations the Device API and the portal both call;
//! - `metrics` (server): what the services and the server count for Prometheus;
//! - `ui`: pages and components, with their server functions.

pub mod domain;
pub mod model;
pub mod ui;

#[cfg(feature = "ssr")]
pub mod client_address;
#[cfg(feature = "ssr")]
pub mod clock;
#[cfg(feature = "ssr")]
pub mod local_time;
#[cfg(feature = "ssr")]
pub mod metrics;
#[cfg(feature = "ssr")]
pub mod passwords;
#[cfg(feature = "ssr")]
pub mod portal_session;
#[cfg(feature = "ssr")]
pub mod secrets;
#[cfg(feature = "ssr")]
pub mod services;
#[cfg(feature = "ssr")]
pub mod state;
#[cfg(feature = "ssr")]
pub mod store;

pub use ui::{App, shell};
