//! The error every portal server function returns: typed, so a form can show each field's
//! problem next to the field, and the same with JavaScript off. Its kinds are those of
//! the services' error, so a page answers with the status the Device API would.

use leptos::server_fn::codec::JsonEncoding;
use leptos::server_fn::error::{FromServerFnError, ServerFnErrorErr};
use serde::{Deserialize, Serialize};

use crate::domain::FieldError;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
pub enum PortalError {
    #[error("{}", .0.iter().map(|e| e.message.clone()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<FieldError>),
    /// Not signed in, session over, or wrong credentials at sign-in; the text says which.
    #[error("{0}")]
    Unauthorized(String),
    #[error("your role does not allow this")]
    Forbidden,
    /// Signed in with a one-time password, not yet replaced: only that may be done.
    #[error("{0}")]
    PasswordChangeRequired(String),
    /// The merchant requires a second factor, not yet added: only that may be done.
    #[error("{0}")]
    SecondFactorRequired(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Gone(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{message}")]
    RateLimited {
        message: String,
        retry_after_seconds: i64,
    },
    /// The server is too busy for this now (sign-ins at capacity); try again shortly.
    #[error("{message}")]
    Unavailable {
        message: String,
        retry_after_seconds: i64,
    },
    #[error("something went wrong on our side; try again")]
    Internal,
    /// The browser could not reach the server function, or read its answer.
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

impl From<FieldError> for PortalError {
    fn from(error: FieldError) -> Self {
        PortalError::Invalid(vec![error])
    }
}

impl FromServerFnError for PortalError {
    type Encoder = JsonEncoding;

    fn from_server_fn_error(value: ServerFnErrorErr) -> Self {
        #[cfg(feature = "ssr")]
        server::unreadable_request(&value);
        PortalError::Communication(value.to_string())
    }
}

#[cfg(feature = "ssr")]
mod server {
    use axum::http::StatusCode;

    use leptos::server_fn::error::ServerFnErrorErr;

    use super::PortalError;
    use crate::services::ServiceError;

    /// On the server these errors mean the request could not be read (a malformed form,
    /// a missing field, a body cut off): the caller's fault, so a 400, not the 500
    /// server_fn answers by default. A plain form post keeps its redirect back.
    pub(super) fn unreadable_request(error: &ServerFnErrorErr) {
        let unreadable = matches!(
            error,
            ServerFnErrorErr::Args(_)
                | ServerFnErrorErr::MissingArg(_)
                | ServerFnErrorErr::Deserialization(_)
        );
        if unreadable
            && !crate::ui::session::is_plain_form_post()
            && let Some(response) = leptos::prelude::use_context::<leptos_axum::ResponseOptions>()
        {
            response.set_status(StatusCode::BAD_REQUEST);
        }
    }

    impl PortalError {
        pub fn status(&self) -> StatusCode {
            match self {
                PortalError::Invalid(_) => StatusCode::BAD_REQUEST,
                PortalError::Unauthorized(_) => StatusCode::UNAUTHORIZED,
                PortalError::Forbidden
                | PortalError::PasswordChangeRequired(_)
                | PortalError::SecondFactorRequired(_) => StatusCode::FORBIDDEN,
                PortalError::NotFound(_) => StatusCode::NOT_FOUND,
                PortalError::Gone(_) => StatusCode::GONE,
                PortalError::Conflict(_) => StatusCode::CONFLICT,
                PortalError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
                PortalError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
                PortalError::Internal | PortalError::Communication(_) => {
                    StatusCode::INTERNAL_SERVER_ERROR
                }
            }
        }

        /// Seconds to wait before trying again, for errors that pass.
        pub fn retry_after_seconds(&self) -> Option<i64> {
            match self {
                PortalError::RateLimited {
                    retry_after_seconds,
                    ..
                }
                | PortalError::Unavailable {
                    retry_after_seconds,
                    ..
                } => Some(*retry_after_seconds),
                _ => None,
            }
        }
    }

    impl From<ServiceError> for PortalError {
        fn from(error: ServiceError) -> Self {
            let message = error.to_string();
            match error {
                ServiceError::Validation(errors) => PortalError::Invalid(
                    errors
                        .into_iter()
                        .take(crate::domain::errors::MAX_FIELD_ERRORS)
                        .collect(),
                ),
                ServiceError::Unauthorized(_) => PortalError::Unauthorized(message),
                ServiceError::Forbidden => PortalError::Forbidden,
                ServiceError::PasswordChangeRequired => {
                    PortalError::PasswordChangeRequired(message)
                }
                ServiceError::SecondFactorRequired => PortalError::SecondFactorRequired(message),
                ServiceError::NotFound(what) => PortalError::NotFound(format!("no such {what}")),
                ServiceError::Gone(_) => PortalError::Gone(message),
                ServiceError::Conflict(_) => PortalError::Conflict(message),
                ServiceError::RateLimited {
                    retry_after_seconds,
                    ..
                } => PortalError::RateLimited {
                    message,
                    retry_after_seconds,
                },
                ServiceError::Unavailable {
                    retry_after_seconds,
                } => PortalError::Unavailable {
                    message,
                    retry_after_seconds,
                },
                ServiceError::Internal(cause) => {
                    // The cause goes to the log only.
                    tracing::error!(error = %cause, "portal request failed");
                    PortalError::Internal
                }
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn portal_statuses_match_the_services() {
            let cases = [
                ServiceError::NotFound("device"),
                ServiceError::Gone("used".into()),
                ServiceError::Conflict("no".into()),
                ServiceError::Forbidden,
                ServiceError::PasswordChangeRequired,
                ServiceError::SecondFactorRequired,
                ServiceError::Unauthorized("sign in"),
                ServiceError::field("name", "too long"),
                ServiceError::RateLimited {
                    retry_after_seconds: 60,
                    attempts: "sign-ins",
                },
                ServiceError::Unavailable {
                    retry_after_seconds: 1,
                },
                ServiceError::internal("disk full"),
            ];
            for error in cases {
                let status = error.status();
                let retry_after = error.retry_after_seconds();
                let portal = PortalError::from(error);
                assert_eq!(portal.status(), status);
                assert_eq!(portal.retry_after_seconds(), retry_after);
            }
        }
    }
}
