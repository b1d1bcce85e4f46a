//! The one error every service returns. Its kind decides the HTTP status once; each
//! surface (the Device API, the portal, the command line) renders it in its own way
//! without losing that meaning.

use axum::http::StatusCode;

use crate::domain::FieldError;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error("the request has invalid fields")]
    Validation(Vec<FieldError>),
    /// Missing or wrong credentials; the text says which and what to do.
    #[error("{0}")]
    Unauthorized(&'static str),
    /// Known caller, not allowed to do this.
    #[error("not allowed")]
    Forbidden,
    /// Signed in with a one-time password: nothing is allowed but choosing one's own.
    #[error("{}", super::auth::PASSWORD_CHANGE_REQUIRED)]
    PasswordChangeRequired,
    /// The merchant requires a second factor and the user has none: nothing is allowed
    /// but adding one.
    #[error("{}", super::auth::SECOND_FACTOR_REQUIRED)]
    SecondFactorRequired,
    /// No such object for this merchant: also what another merchant's object looks like.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Was there, is no more (a used or expired pairing code).
    #[error("{0}")]
    Gone(String),
    /// The object's state does not allow this (cancelling a consumed code).
    #[error("{0}")]
    Conflict(String),
    /// Too many failed attempts at guessing something.
    #[error("too many failed {attempts}; try again in {}", wait_text(*retry_after_seconds))]
    RateLimited {
        retry_after_seconds: i64,
        /// What failed, in the plural: "pairing attempts", "sign-ins".
        attempts: &'static str,
    },
    /// Too busy to do this now (as many passwords are being checked as the machine
    /// takes); nothing was tried, so nothing counts against the caller.
    #[error("the server is busy; try again in {}", wait_text(*retry_after_seconds))]
    Unavailable { retry_after_seconds: i64 },
    /// Our fault: the cause goes to the log, never to the caller.
    #[error("internal error")]
    Internal(String),
}

/// What each kind of error is, for surfaces that branch on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Invalid,
    Unauthorized,
    Forbidden,
    NotFound,
    Gone,
    Conflict,
    RateLimited,
    Unavailable,
    Internal,
}

impl ServiceError {
    pub fn field(field: &str, message: impl Into<String>) -> Self {
        ServiceError::Validation(vec![FieldError::new(field, message)])
    }

    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ServiceError::Internal(cause.to_string())
    }

    pub fn kind(&self) -> ErrorKind {
        match self {
            ServiceError::Validation(_) => ErrorKind::Invalid,
            ServiceError::Unauthorized(_) => ErrorKind::Unauthorized,
            ServiceError::Forbidden
            | ServiceError::PasswordChangeRequired
            | ServiceError::SecondFactorRequired => ErrorKind::Forbidden,
            ServiceError::NotFound(_) => ErrorKind::NotFound,
            ServiceError::Gone(_) => ErrorKind::Gone,
            ServiceError::Conflict(_) => ErrorKind::Conflict,
            ServiceError::RateLimited { .. } => ErrorKind::RateLimited,
            ServiceError::Unavailable { .. } => ErrorKind::Unavailable,
            ServiceError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The HTTP status of this error, wherever it is answered.
    pub fn status(&self) -> StatusCode {
        self.kind().status()
    }

    /// Seconds to wait before trying again, for errors that pass.
    pub fn retry_after_seconds(&self) -> Option<i64> {
        match self {
            ServiceError::RateLimited {
                retry_after_seconds,
                ..
            }
            | ServiceError::Unavailable {
                retry_after_seconds,
            } => Some(*retry_after_seconds),
            _ => None,
        }
    }
}

impl ErrorKind {
    /// The kind an HTTP error status stands for (a client reading our API).
    pub fn of_status(status: u16) -> Self {
        match status {
            400 | 422 => ErrorKind::Invalid,
            401 => ErrorKind::Unauthorized,
            403 => ErrorKind::Forbidden,
            404 => ErrorKind::NotFound,
            410 => ErrorKind::Gone,
            409 => ErrorKind::Conflict,
            429 => ErrorKind::RateLimited,
            503 => ErrorKind::Unavailable,
            _ => ErrorKind::Internal,
        }
    }

    pub fn status(self) -> StatusCode {
        match self {
            ErrorKind::Invalid => StatusCode::BAD_REQUEST,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::Gone => StatusCode::GONE,
            ErrorKind::Conflict => StatusCode::CONFLICT,
            ErrorKind::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// "40 seconds", "15 minutes": how long to wait, as people say it.
pub fn wait_text(seconds: i64) -> String {
    if seconds == 1 {
        "1 second".into()
    } else if seconds < 120 {
        format!("{seconds} seconds")
    } else {
        format!("{} minutes", (seconds + 59) / 60)
    }
}

impl From<StoreError> for ServiceError {
    fn from(error: StoreError) -> Self {
        ServiceError::internal(error)
    }
}

impl From<sqlx::Error> for ServiceError {
    fn from(error: sqlx::Error) -> Self {
        ServiceError::internal(StoreError::Database(error))
    }
}

impl From<FieldError> for ServiceError {
    fn from(error: FieldError) -> Self {
        ServiceError::Validation(vec![error])
    }
}

impl From<crate::passwords::HashError> for ServiceError {
    fn from(error: crate::passwords::HashError) -> Self {
        match error {
            crate::passwords::HashError::Unusable => {
                ServiceError::field("password", error.to_string())
            }
            crate::passwords::HashError::Interrupted => ServiceError::internal(error),
            crate::passwords::HashError::Busy => ServiceError::Unavailable {
                retry_after_seconds: crate::passwords::BUSY_RETRY_AFTER_SECONDS,
            },
        }
    }
}

pub type ServiceResult<T> = Result<T, ServiceError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_has_one_status() {
        assert_eq!(ServiceError::NotFound("device").status(), 404);
        assert_eq!(ServiceError::Gone("used".into()).status(), 410);
        assert_eq!(ServiceError::Conflict("no".into()).status(), 409);
        assert_eq!(ServiceError::internal("disk full").status(), 500);
        assert_eq!(ServiceError::field("name", "too long").status(), 400);
        assert_eq!(ServiceError::PasswordChangeRequired.status(), 403);
        assert_eq!(ServiceError::SecondFactorRequired.status(), 403);
        let limited = ServiceError::RateLimited {
            retry_after_seconds: 900,
            attempts: "sign-ins",
        };
        assert_eq!(limited.status(), 429);
        assert_eq!(limited.retry_after_seconds(), Some(900));
        assert_eq!(
            limited.to_string(),
            "too many failed sign-ins; try again in 15 minutes"
        );
        let busy = ServiceError::from(crate::passwords::HashError::Busy);
        assert_eq!(busy.status(), 503);
        assert_eq!(busy.retry_after_seconds(), Some(1));
        assert_eq!(ErrorKind::of_status(503), ErrorKind::Unavailable);
        assert_eq!(
            busy.to_string(),
            "the server is busy; try again in 1 second"
        );
    }

    #[test]
    fn internal_causes_stay_out_of_the_message() {
        assert_eq!(
            ServiceError::internal("password=hunter2 in a query").to_string(),
            "internal error"
        );
    }
}
