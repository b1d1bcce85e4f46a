//! Times in a person's own time zone: the one place that knows the time zone database
//! (jiff's copy of it, bundled, so it works without the system's `/usr/share/zoneinfo`).
//! Server side only: pages are rendered on the server, and the browser bundle stays small.
//!
//! The API, the CSV export and the database keep UTC; only what people read goes local.

use jiff::Timestamp;
use jiff::tz::TimeZone;

/// The longest time zone name accepted (the longest in the database has 32 characters).
pub const MAX_ZONE_NAME_LENGTH: usize = 64;

/// A time zone known by its IANA name (`Europe/Stockholm`).
#[derive(Debug, Clone)]
pub struct Zone {
    name: String,
    tz: TimeZone,
}

impl Zone {
    pub fn utc() -> Self {
        Self {
            name: "UTC".into(),
            tz: TimeZone::UTC,
        }
    }

    /// The zone called `name`, if the database has one (names are matched without regard
    /// to case and come back spelled as the database spells them).
    pub fn named(name: &str) -> Option<Self> {
        let name = name.trim();
        if name.is_empty() || name.len() > MAX_ZONE_NAME_LENGTH {
            return None;
        }
        let tz = TimeZone::get(name).ok()?;
        let name = tz.iana_name().unwrap_or(name).to_owned();
        Some(Self { name, tz })
    }

    /// The zone called `name`, or UTC.
    pub fn named_or_utc(name: &str) -> Self {
        Self::named(name).unwrap_or_else(Self::utc)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// `26 Nov 2026, 23:07 CET` for a time in milliseconds since the epoch.
    pub fn exact(&self, ms: i64) -> String {
        self.strftime(ms, "%-d %b %Y, %H:%M %Z")
    }

    fn strftime(&self, ms: i64, format: &str) -> String {
        match Timestamp::from_millisecond(ms) {
            Ok(at) => at.to_zoned(self.tz.clone()).strftime(format).to_string(),
            Err(_) => String::new(),
        }
    }

    /// When the day that `ms` falls on began in this zone, in milliseconds since the
    /// epoch: "today" for the overview.
    pub fn start_of_day(&self, ms: i64) -> i64 {
        Timestamp::from_millisecond(ms)
            .ok()
            .and_then(|at| at.to_zoned(self.tz.clone()).start_of_day().ok())
            .map_or(ms, |start| start.timestamp().as_millisecond())
    }
}

/// Milliseconds since the epoch of an RFC 3339 time (`2026-11-26T23:07:00Z`).
pub fn parse_rfc3339(text: &str) -> Option<i64> {
    text.parse::<Timestamp>().ok().map(|at| at.as_millisecond())
}

/// Every zone name people pick from, sorted: the database's, less the `Etc/` and other
/// legacy aliases nobody looks for by place.
pub fn zone_names() -> Vec<String> {
    let mut names: Vec<String> = jiff::tz::db()
        .available()
        .map(|name| name.as_str().to_owned())
        .filter(|name| {
            name == "UTC"
                || (name.contains('/')
                    && !name.starts_with("Etc/")
                    && !name.starts_with("SystemV/")
                    && !name.starts_with("US/")
                    && !name.starts_with("posix/")
                    && !name.starts_with("right/"))
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    // 2026-11-26T23:07:00Z
    const LATE_EVENING: i64 = 1_795_734_420_000;

    #[test]
    fn exact_times_read_in_the_zone() {
        assert_eq!(Zone::utc().exact(LATE_EVENING), "26 Nov 2026, 23:07 UTC");
        let stockholm = Zone::named("europe/stockholm").expect("known zone");
        assert_eq!(stockholm.name(), "Europe/Stockholm");
        assert_eq!(stockholm.exact(LATE_EVENING), "27 Nov 2026, 00:07 CET");
        let tokyo = Zone::named("Asia/Tokyo").expect("known zone");
        assert_eq!(tokyo.exact(LATE_EVENING), "27 Nov 2026, 08:07 JST");
    }

    #[test]
    fn api_times_are_read() {
        assert_eq!(parse_rfc3339("2026-11-26T23:07:00Z"), Some(LATE_EVENING));
        assert_eq!(
            parse_rfc3339("2026-11-26T23:07:00.5Z"),
            Some(LATE_EVENING + 500)
        );
        assert_eq!(parse_rfc3339("yesterday"), None);
    }

    #[test]
    fn unknown_zones_are_refused() {
        assert!(Zone::named("Mars/Olympus_Mons").is_none());
        assert!(Zone::named("").is_none());
        assert!(Zone::named(&"A/".repeat(100)).is_none());
        assert_eq!(Zone::named_or_utc("nowhere").name(), "UTC");
    }

    #[test]
    fn the_day_starts_at_local_midnight() {
        let stockholm = Zone::named("Europe/Stockholm").expect("known zone");
        // 00:07 on the 27th in Stockholm: the day began at 23:00 UTC on the 26th.
        assert_eq!(
            stockholm.start_of_day(LATE_EVENING),
            LATE_EVENING - 7 * 60_000
        );
        assert_eq!(
            Zone::utc().start_of_day(LATE_EVENING),
            LATE_EVENING - (23 * 60 + 7) * 60_000
        );
    }

    #[test]
    fn people_pick_from_places() {
        let names = zone_names();
        assert!(names.iter().any(|n| n == "Europe/Berlin"));
        assert!(names.iter().any(|n| n == "UTC"));
        assert!(!names.iter().any(|n| n.starts_with("Etc/")));
    }
}
