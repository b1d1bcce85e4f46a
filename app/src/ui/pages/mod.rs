//! One module a page, named for what it shows, with the server functions it calls.

pub mod account;
pub mod api_keys;
pub mod audit_log;
pub mod device_detail;
pub mod devices;
pub mod enrollment_detail;
pub mod enrollments;
pub mod locations;
pub mod login;
pub mod overview;
pub mod pair_check;
pub mod pairing_sheet;
pub mod second_factors;
pub mod second_step;
pub mod users;
pub mod webhook_endpoint;
pub mod webhooks;
