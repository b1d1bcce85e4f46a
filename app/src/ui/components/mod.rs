//! What several pages use: the frame of signed-in pages, form messages, the islands
//! (copy, print, submit buttons, metadata rows), and how values read.

pub mod audit_table;
pub mod browser;
pub mod enrollment_status;
pub mod format;
pub mod forms;
pub mod layout;
pub mod loading;
pub mod metadata;
#[cfg(feature = "ssr")]
pub mod qr;
pub mod widgets;
