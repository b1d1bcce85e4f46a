//! What several pages use: the frame of signed-in pages, the scaffold that loads a page,
//! form messages and choices, the filter bar and pager of lists, the islands (copy, print
//! and submit buttons, metadata rows), and how values read.

pub mod audit_table;
pub mod browser;
pub mod enrollment_status;
pub mod filters;
pub mod format;
pub mod forms;
pub mod layout;
pub mod loading;
pub mod locations;
pub mod metadata;
pub mod pager;
pub mod params;
pub mod passkeys;
#[cfg(feature = "ssr")]
pub mod qr;
pub mod widgets;
