//! The product's rules as plain functions and types: pairing codes, metadata, enrollment
//! status and expiry, device fields, paging. No I/O lives here, so unit tests reach every
//! rule without a server, and the browser bundle can validate forms with the same code.

pub mod device;
pub mod enrollment;
pub mod errors;
pub mod metadata;
pub mod paging;
pub mod pairing_code;
pub mod passkey;
pub mod permission;
pub mod role;
pub mod second_factor;
pub mod text;
pub mod webhook;

pub use errors::FieldError;
pub use permission::Permission;
