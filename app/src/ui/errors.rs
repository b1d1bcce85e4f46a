//! The error every portal server function returns: typed, so a form can show each field's
//! problem next to the field, and the same with JavaScript off.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum PortalError {
    #[error("your session has ended; sign in again")]
    NotSignedIn,
    #[error("your role does not allow this")]
    Forbidden,
    #[error("{}", .0.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// Refused for a reason worth telling as it is (conflict, not found, too many tries).
    #[error("{0}")]
    Refused(String),
    #[error("the portal could not be reached: {0}")]
    Communication(String),
}

impl PortalError {
    /// The message for one field, if that field was at fault.
    pub fn for_field(&self, field: &str) -> Option<String> {
        match self {
            PortalError::Invalid(errors) => errors
                .iter()
                .find(|e| e.field == field || e.field.starts_with(&format!("{field}.")))
                .map(|e| e.message.clone()),
            _ => None,
        }
    }
}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        PortalError::Communication(value.to_string())
    }
}

#[cfg(feature = "ssr")]
mod server {
    use axum::http::StatusCode;

    use super::PortalError;
    use crate::services::ServiceError;

    impl PortalError {
        pub fn status(&self) -> StatusCode {
            match self {
                PortalError::NotSignedIn => StatusCode::UNAUTHORIZED,
                PortalError::Forbidden => StatusCode::FORBIDDEN,
                PortalError::Invalid(_) => StatusCode::BAD_REQUEST,
                PortalError::Refused(_) => StatusCode::CONFLICT,
                PortalError::Communication(_) => StatusCode::INTERNAL_SERVER_ERROR,
            }
        }
    }

    impl From<ServiceError> for PortalError {
        fn from(error: ServiceError) -> Self {
            match error {
                ServiceError::Validation(errors) => PortalError::Invalid(errors),
                ServiceError::Unauthorized => PortalError::NotSignedIn,
                ServiceError::Forbidden => PortalError::Forbidden,
                ServiceError::NotFound(what) => PortalError::Refused(format!("no such {what}")),
                ServiceError::Internal(inner) => {
                    tracing::error!(error = %inner, "portal request failed");
                    PortalError::Refused("something went wrong on our side; try again".into())
                }
                other => PortalError::Refused(other.to_string()),
            }
        }
    }
}
