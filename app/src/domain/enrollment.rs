//! Enrollments: a pairing code's life from creation to use, cancellation or expiry.

use serde::{Deserialize, Serialize};

use super::FieldError;

pub const MIN_EXPIRES_IN_SECONDS: i64 = 60;
pub const MAX_EXPIRES_IN_SECONDS: i64 = 72 * 3600;
pub const DEFAULT_EXPIRES_IN_SECONDS: i64 = 2 * 3600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum EnrollmentStatus {
    /// Code generated, not yet entered by a clerk.
    Pending,
    /// A device registered with the code.
    Consumed,
    /// The code was not used before `expires_at`.
    Expired,
    /// Deleted by merchant ops before use.
    Cancelled,
}

impl EnrollmentStatus {
    pub const ALL: [EnrollmentStatus; 4] = [
        EnrollmentStatus::Pending,
        EnrollmentStatus::Consumed,
        EnrollmentStatus::Expired,
        EnrollmentStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EnrollmentStatus::Pending => "PENDING",
            EnrollmentStatus::Consumed => "CONSUMED",
            EnrollmentStatus::Expired => "EXPIRED",
            EnrollmentStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|status| status.as_str().eq_ignore_ascii_case(value))
    }

    /// The status as a reader sees it at `now`. Expiry is never written by a background
    /// job: a pending enrollment whose time has passed simply reads as expired.
    pub fn at(self, expires_at_ms: i64, now_ms: i64) -> Self {
        if self == EnrollmentStatus::Pending && now_ms >= expires_at_ms {
            EnrollmentStatus::Expired
        } else {
            self
        }
    }
}

/// Kustom's named lifetimes, accepted as an alias of `expires_in`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "ssr", derive(utoipa::ToSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Ttl {
    TwoHours,
    TwentyFourHours,
    FortyEightHours,
    SeventyTwoHours,
}

impl Ttl {
    pub fn seconds(self) -> i64 {
        match self {
            Ttl::TwoHours => 2 * 3600,
            Ttl::TwentyFourHours => 24 * 3600,
            Ttl::FortyEightHours => 48 * 3600,
            Ttl::SeventyTwoHours => 72 * 3600,
        }
    }
}

/// How long a new enrollment lives, from the two ways a client can say it.
pub fn resolve_lifetime(expires_in: Option<i64>, ttl: Option<Ttl>) -> Result<i64, FieldError> {
    match (expires_in, ttl) {
        (Some(_), Some(_)) => Err(FieldError::new(
            "ttl",
            "give either expires_in or ttl, not both",
        )),
        (None, Some(ttl)) => Ok(ttl.seconds()),
        (None, None) => Ok(DEFAULT_EXPIRES_IN_SECONDS),
        (Some(seconds), None)
            if (MIN_EXPIRES_IN_SECONDS..=MAX_EXPIRES_IN_SECONDS).contains(&seconds) =>
        {
            Ok(seconds)
        }
        (Some(_), None) => Err(FieldError::new(
            "expires_in",
            format!(
                "expires_in is in seconds (not milliseconds), from {MIN_EXPIRES_IN_SECONDS} to {MAX_EXPIRES_IN_SECONDS} (72 hours)"
            ),
        )),
    }
}

/// Which statuses a list shows when the client names none: live and used codes, never
/// the cancelled and expired ones.
pub fn default_listed_statuses(include_consumed: bool) -> Vec<EnrollmentStatus> {
    if include_consumed {
        vec![EnrollmentStatus::Pending, EnrollmentStatus::Consumed]
    } else {
        vec![EnrollmentStatus::Pending]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_reads_as_expired_from_expires_at_on() {
        let expires_at = 1_000_000;
        assert_eq!(
            EnrollmentStatus::Pending.at(expires_at, expires_at - 1),
            EnrollmentStatus::Pending
        );
        assert_eq!(
            EnrollmentStatus::Pending.at(expires_at, expires_at),
            EnrollmentStatus::Expired
        );
        // A used or cancelled code keeps its status for ever.
        assert_eq!(
            EnrollmentStatus::Consumed.at(expires_at, expires_at + 1),
            EnrollmentStatus::Consumed
        );
        assert_eq!(
            EnrollmentStatus::Cancelled.at(expires_at, expires_at + 1),
            EnrollmentStatus::Cancelled
        );
    }

    #[test]
    fn lifetime_defaults_bounds_and_aliases() {
        assert_eq!(resolve_lifetime(None, None), Ok(7200));
        assert_eq!(resolve_lifetime(Some(60), None), Ok(60));
        assert_eq!(resolve_lifetime(Some(259_200), None), Ok(259_200));
        assert_eq!(
            resolve_lifetime(None, Some(Ttl::TwentyFourHours)),
            Ok(86_400)
        );
        assert_eq!(
            resolve_lifetime(Some(59), None).unwrap_err().field,
            "expires_in"
        );
        assert_eq!(
            resolve_lifetime(Some(259_201), None).unwrap_err().field,
            "expires_in"
        );
        assert_eq!(
            resolve_lifetime(Some(3600), Some(Ttl::TwoHours))
                .unwrap_err()
                .field,
            "ttl"
        );
    }

    #[test]
    fn statuses_parse_case_insensitively() {
        assert_eq!(
            EnrollmentStatus::parse("pending"),
            Some(EnrollmentStatus::Pending)
        );
        assert_eq!(
            EnrollmentStatus::parse("CANCELLED"),
            Some(EnrollmentStatus::Cancelled)
        );
        assert_eq!(EnrollmentStatus::parse("done"), None);
        assert_eq!(
            default_listed_statuses(false),
            vec![EnrollmentStatus::Pending]
        );
    }
}
