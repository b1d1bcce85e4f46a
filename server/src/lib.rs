#![recursion_limit = "512"]
//! The ipp-portal server: the Device API and the portal behind one axum router, and the
//! command line that serves them and bootstraps merchants.

pub mod api;
pub mod application;
pub mod cli;
pub mod edge;
pub mod export;
pub mod health;
pub mod logging;
pub mod metrics;
pub mod portal_guard;
pub mod pos;
pub mod startup;
pub mod upkeep;
pub mod webhook_listen;
