//! How times, durations and roles read in the portal.

use crate::domain::role::Role;

/// `2026-11-26T12:00:00Z` as `2026-11-26 12:00 UTC`.
pub fn short_time(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// A time that may not have come yet (last seen, last used): `never` until it has.
pub fn short_time_or_never(rfc3339: Option<&str>) -> String {
    rfc3339.map_or_else(|| "never".into(), short_time)
}

/// A remaining time as people say it: `1 h 05 min`, `4 min 09 s`, `expired`.
pub fn remaining(seconds: i64) -> String {
    if seconds <= 0 {
        return "expired".into();
    }
    let (hours, minutes, secs) = (seconds / 3600, seconds % 3600 / 60, seconds % 60);
    if hours > 0 {
        format!("{hours} h {minutes:02} min")
    } else {
        format!("{minutes} min {secs:02} s")
    }
}

/// A role as the portal names it.
pub fn role_label(role: Role) -> &'static str {
    match role {
        Role::Admin => "Admin",
        Role::Ops => "Merchant ops",
        Role::StoreManager => "Store manager",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_durations_read_well() {
        assert_eq!(short_time("2026-11-26T12:34:56Z"), "2026-11-26 12:34 UTC");
        assert_eq!(short_time_or_never(None), "never");
        assert_eq!(remaining(0), "expired");
        assert_eq!(remaining(-5), "expired");
        assert_eq!(remaining(249), "4 min 09 s");
        assert_eq!(remaining(3900), "1 h 05 min");
    }
}
