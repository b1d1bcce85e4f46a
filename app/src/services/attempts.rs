//! Limits on failed attempts at guessing something: pairing codes, passwords. Counted per
//! fixed window in the database, so the limits hold across server instances.
//!
//! Every attempt is counted as a failure before it is judged, in one atomic statement,
//! and refused when that count is past a limit; one that succeeds is given back. So a
//! burst of parallel guesses cannot all pass a check made before any of them is counted:
//! each sees the others that came first.

use std::net::{IpAddr, Ipv6Addr};

use crate::store::CountedAttempt;

use super::auth::LOGIN_WINDOW_SECONDS;
use super::{ServiceError, ServiceResult, Services};

/// The prefix of the buckets of sign-ins and password checks (one window length).
pub(crate) const LOGIN_KIND: &str = "login:";
/// The prefix of the buckets of pairing-code attempts (another window length).
pub(crate) const REGISTER_KIND: &str = "register:";

/// What a per-address limit counts a client by: an IPv4 address (or one mapped into
/// IPv6) alone, an IPv6 address by its /64. A subscriber is given a /64 at least and
/// picks the low 64 bits at will, so counting single IPv6 addresses would give them as
/// many tries as they like. Text that is no address is taken as it is.
pub(crate) fn address_key(client_address: &str) -> String {
    match client_address.parse::<IpAddr>().map(|ip| ip.to_canonical()) {
        Ok(IpAddr::V4(ip)) => ip.to_string(),
        Ok(IpAddr::V6(ip)) => {
            let [a, b, c, d, ..] = ip.segments();
            format!("{}/64", Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        Err(_) => client_address.to_owned(),
    }
}

/// At most `max` failures per window in `bucket`.
pub(crate) struct AttemptLimit<'a> {
    pub bucket: &'a str,
    pub max: i64,
    /// What the bucket counts by, for the log: "account", "address", "all clients".
    pub per: &'static str,
}

/// An attempt under way, counted as a failure unless given back.
pub(crate) struct Attempt {
    counted: CountedAttempt,
    /// The largest count among the buckets, this attempt included.
    most_failures: i64,
}

impl Attempt {
    /// Failures counted before this attempt in its fullest bucket (attempts still under
    /// way included: they count until they succeed).
    pub fn failures_before(&self) -> i64 {
        self.most_failures - 1
    }

    /// What a registration's own write needs to give the attempt back.
    pub fn counted(&self) -> &CountedAttempt {
        &self.counted
    }
}

/// An attempt past a limit, not made: it was counted and given back at once.
pub(crate) struct Refusal {
    /// Which limit: the `per` of the first bucket past its limit.
    pub per: &'static str,
    pub retry_after_seconds: i64,
}

impl Refusal {
    /// The 429 to answer; `attempts` says what failed, in the plural ("sign-ins").
    pub fn error(&self, attempts: &'static str) -> ServiceError {
        ServiceError::RateLimited {
            retry_after_seconds: self.retry_after_seconds,
            attempts,
        }
    }
}

impl Services {
    fn window_start(&self, now: i64, window_seconds: i64) -> i64 {
        let window = window_seconds.max(1) * 1000;
        now - now.rem_euclid(window)
    }

    /// Counts an attempt in every bucket of `limits` (their names start with `kind`,
    /// whose windows last `window_seconds`), then decides on the counts that returns.
    /// Past any limit the attempt is refused and given back: a refused attempt never
    /// tries anything, and must not use up the other buckets (one address held at its
    /// limit would otherwise wear the global limit down for everyone).
    pub(crate) async fn count_attempt(
        &self,
        kind: &str,
        limits: &[AttemptLimit<'_>],
        window_seconds: i64,
    ) -> ServiceResult<Result<Attempt, Refusal>> {
        debug_assert!(limits.iter().all(|limit| limit.bucket.starts_with(kind)));
        let now = self.now();
        let window_start = self.window_start(now, window_seconds);
        let counted = CountedAttempt {
            buckets: limits.iter().map(|limit| limit.bucket.to_owned()).collect(),
            window_start,
        };
        let counts = self.store.count_attempt(&counted).await?;
        let past = limits
            .iter()
            .zip(&counts)
            .find(|(limit, count)| **count > limit.max);
        if let Some((limit, _)) = past {
            self.store.give_back_attempt(&counted).await?;
            let window_end = window_start + window_seconds.max(1) * 1000;
            return Ok(Err(Refusal {
                per: limit.per,
                retry_after_seconds: ((window_end - now + 999) / 1000).max(1),
            }));
        }
        Ok(Ok(Attempt {
            counted,
            most_failures: counts.into_iter().max().unwrap_or(1),
        }))
    }

    /// Forgets every kind's windows of failures that ended before the current one began;
    /// the one before it is kept for attempts still under way in it. Each instance runs
    /// this once a minute (beside serving, not on each attempt: a flood from many
    /// addresses would otherwise scan the counters once per address); running it
    /// together does no harm.
    pub async fn forget_old_attempts(&self) -> ServiceResult<()> {
        let now = self.now();
        let kinds = [
            (LOGIN_KIND, LOGIN_WINDOW_SECONDS),
            (
                REGISTER_KIND,
                self.settings.registration_limits.window_seconds,
            ),
        ];
        for (kind, window_seconds) in kinds {
            let current = self.window_start(now, window_seconds);
            let before = current - window_seconds.max(1) * 1000;
            self.store.forget_attempts(kind, before).await?;
        }
        Ok(())
    }

    /// The attempt did not fail (or was never judged): it no longer counts.
    pub(crate) async fn give_back(&self, attempt: Attempt) -> ServiceResult<()> {
        self.store.give_back_attempt(&attempt.counted).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::address_key;

    #[test]
    fn ipv4_counts_per_address_and_ipv6_per_64() {
        assert_eq!(address_key("203.0.113.7"), "203.0.113.7");
        assert_eq!(address_key("::ffff:203.0.113.7"), "203.0.113.7");
        assert_eq!(address_key("2001:db8:1:2:aaaa::1"), "2001:db8:1:2::/64");
        assert_eq!(
            address_key("2001:db8:1:2:bbbb:cccc:dddd:eeee"),
            "2001:db8:1:2::/64"
        );
        assert_eq!(address_key("2001:db8:1:3::1"), "2001:db8:1:3::/64");
        assert_eq!(address_key("::1"), "::/64");
        assert_eq!(address_key("not an address"), "not an address");
    }
}
