use serde::{Deserialize, Serialize};

/// The most field problems one answer names (a problem document, a refused form): enough
/// to fix the input by, and bad input cannot make the answer grow with it.
pub const MAX_FIELD_ERRORS: usize = 20;

/// A problem with one input field, named the way the client sent it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}
