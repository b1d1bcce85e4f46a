//! Integration tests of the Device API and the command line. One binary, so the
//! application is linked once; every test runs on SQLite and on PostgreSQL (the PostgreSQL
//! half is skipped, and says so, when `TEST_POSTGRES_URL` is not set).

mod helpers;

mod auth;
mod cli;
mod client_address;
mod configuration;
mod devices;
mod edge;
mod enrollments;
mod health;
mod kustom_compat;
mod limits;
mod logs;
mod metrics;
mod paging;
mod passkeys;
mod portal;
mod portal_devices;
mod portal_enrollments;
mod portal_forms;
mod portal_overview;
mod registration;
mod request_ids;
mod second_factors;
mod security;
mod security_headers;
mod server_process;
mod sessions_and_input;
mod webhook_receiver;
mod webhooks;
