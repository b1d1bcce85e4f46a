//! How times, durations, counts and roles read in the portal.
//!
//! Times are shown in the viewer's time zone (their setting on My account, else their
//! browser's at sign-in, else UTC), often relative ("3 min ago") with the exact time on
//! hover and in `<time datetime>`. Pages are rendered on the server, so the zone database
//! stays there (`crate::local_time`); what the browser bundle compiles of this module only
//! ever runs on the server.

use leptos::prelude::*;

use crate::domain::device::Platform;
use crate::domain::role::Role;

/// Who reads the page: their time zone, and the server's "now" for relative times.
/// [`super::loading::Loaded`] provides it to the page it loads.
#[derive(Debug, Clone)]
pub struct Viewer {
    #[cfg(feature = "ssr")]
    zone: crate::local_time::Zone,
    #[cfg_attr(not(feature = "ssr"), allow(dead_code))]
    now_ms: i64,
}

impl Viewer {
    /// The viewer with the zone called `zone_name` (UTC if there is none by that name).
    pub fn new(zone_name: &str) -> Self {
        #[cfg(not(feature = "ssr"))]
        let _ = zone_name;
        Self {
            #[cfg(feature = "ssr")]
            zone: crate::local_time::Zone::named_or_utc(zone_name),
            now_ms: server_now(),
        }
    }

    /// The viewer of the page being rendered (UTC outside a page that knows them).
    pub fn current() -> Self {
        use_context::<Viewer>().unwrap_or_else(|| Viewer::new("UTC"))
    }

    /// `26 Nov 2026, 23:07 CET`; an unreadable time as it came.
    pub fn exact(&self, rfc3339: &str) -> String {
        #[cfg(feature = "ssr")]
        if let Some(ms) = crate::local_time::parse_rfc3339(rfc3339) {
            return self.zone.exact(ms);
        }
        utc_minutes(rfc3339)
    }

    /// Whole seconds from the page's "now" until `rfc3339` (negative once past; 0 if the
    /// time cannot be read): what a countdown starts from.
    pub fn seconds_until(&self, rfc3339: &str) -> i64 {
        #[cfg(feature = "ssr")]
        if let Some(ms) = crate::local_time::parse_rfc3339(rfc3339) {
            return (ms - self.now_ms).div_euclid(1000);
        }
        #[cfg(not(feature = "ssr"))]
        let _ = rfc3339;
        0
    }

    /// `3 min ago`, `in 1 h 59 min`; a time over a week away reads exact.
    pub fn relative(&self, rfc3339: &str) -> String {
        #[cfg(feature = "ssr")]
        if let Some(ms) = crate::local_time::parse_rfc3339(rfc3339) {
            return relative((ms - self.now_ms).div_euclid(1000))
                .unwrap_or_else(|| self.zone.exact(ms));
        }
        self.exact(rfc3339)
    }
}

/// The services' clock on the server (what "now" is for the data on the page).
fn server_now() -> i64 {
    #[cfg(feature = "ssr")]
    if let Some(state) = use_context::<crate::state::AppState>() {
        return state.services.now();
    }
    0
}

/// `2026-11-26T12:00:00Z` as `2026-11-26 12:00 UTC`: the fallback when no zone applies.
fn utc_minutes(rfc3339: &str) -> String {
    match (rfc3339.get(..10), rfc3339.get(11..16)) {
        (Some(date), Some(time)) => format!("{date} {time} UTC"),
        _ => rfc3339.to_owned(),
    }
}

/// A time `seconds` from now (negative: past) as people say it: `just now`, `3 min ago`,
/// `2 h ago`, `in 1 h 59 min`, `yesterday`... `None` past a week either way, where a
/// date says more.
pub fn relative(seconds: i64) -> Option<String> {
    const DAY: i64 = 24 * 3600;
    let ago = -seconds;
    let text = if seconds.abs() > 7 * DAY {
        return None;
    } else if (0..60).contains(&ago) {
        "just now".into()
    } else if ago < 0 {
        format!("in {}", remaining(seconds))
    } else if ago < 3600 {
        format!("{} min ago", ago / 60)
    } else if ago < DAY {
        format!("{} h ago", ago / 3600)
    } else if ago < 2 * DAY {
        "yesterday".into()
    } else {
        format!("{} days ago", ago / DAY)
    };
    Some(text)
}

/// A time as a `<time>` element: relative ("3 min ago"), the exact time in the viewer's
/// zone on hover; `exact` shows the exact time instead.
#[component]
pub fn Time(#[prop(into)] at: String, #[prop(optional)] exact: bool) -> impl IntoView {
    let viewer = Viewer::current();
    let full = viewer.exact(&at);
    let shown = if exact {
        full.clone()
    } else {
        viewer.relative(&at)
    };
    view! { <time datetime=at title=full>{shown}</time> }
}

/// A time that may not have come yet (last seen, last used): `never` until it has.
#[component]
pub fn TimeOrNever(at: Option<String>) -> impl IntoView {
    match at {
        Some(at) => view! { <Time at/> }.into_any(),
        None => view! { <span class="muted">"never"</span> }.into_any(),
    }
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

/// A number with thousands separated: `1,000,000`.
pub fn count(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        grouped.push('-');
    }
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            grouped.push(',');
        }
        grouped.push(digit);
    }
    grouped
}

/// A count with its noun, singular or plural: `1 code`, `2 codes`, `1,000 devices`.
pub fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{} {}", count(n), noun(n, one, many))
}

/// The noun alone, as [`plural`] picks it, for a count shown apart (`<strong>1</strong> code`).
pub fn noun<'a>(n: i64, one: &'a str, many: &'a str) -> &'a str {
    if n == 1 { one } else { many }
}

/// A count that stops at `cap`: `10,000+` past it.
pub fn capped(n: i64, cap: i64) -> String {
    if n > cap {
        format!("{}+", count(cap))
    } else {
        count(n)
    }
}

/// A count that stops at `cap`, with its noun: `10,000+ devices`, `1 device`.
pub fn plural_capped(n: i64, cap: i64, one: &str, many: &str) -> String {
    format!("{} {}", capped(n, cap), noun(n, one, many))
}

/// A platform as people write it.
pub fn platform_label(platform: Platform) -> &'static str {
    match platform {
        Platform::Android => "Android",
        Platform::Ios => "iOS",
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
    fn durations_read_well() {
        assert_eq!(remaining(0), "expired");
        assert_eq!(remaining(-5), "expired");
        assert_eq!(remaining(249), "4 min 09 s");
        assert_eq!(remaining(3900), "1 h 05 min");
        assert_eq!(utc_minutes("2026-11-26T12:34:56Z"), "2026-11-26 12:34 UTC");
    }

    #[test]
    fn relative_times_read_as_people_say_them() {
        assert_eq!(relative(-5).as_deref(), Some("just now"));
        assert_eq!(relative(-180).as_deref(), Some("3 min ago"));
        assert_eq!(relative(-2 * 3600 - 5).as_deref(), Some("2 h ago"));
        assert_eq!(relative(-30 * 3600).as_deref(), Some("yesterday"));
        assert_eq!(relative(-3 * 24 * 3600).as_deref(), Some("3 days ago"));
        assert_eq!(relative(7140).as_deref(), Some("in 1 h 59 min"));
        assert_eq!(relative(-8 * 24 * 3600), None);
        assert_eq!(relative(8 * 24 * 3600), None);
    }

    #[test]
    fn counts_have_the_right_noun() {
        assert_eq!(plural(0, "code", "codes"), "0 codes");
        assert_eq!(plural(1, "code", "codes"), "1 code");
        assert_eq!(plural(2, "device", "devices"), "2 devices");
        assert_eq!(plural(1_000_000, "device", "devices"), "1,000,000 devices");
        assert_eq!(count(999), "999");
        assert_eq!(count(1000), "1,000");
        assert_eq!(count(-12345), "-12,345");
        assert_eq!(noun(1, "code", "codes"), "code");
        assert_eq!(capped(10_001, 10_000), "10,000+");
        assert_eq!(capped(10_000, 10_000), "10,000");
        assert_eq!(
            plural_capped(10_001, 10_000, "event", "events"),
            "10,000+ events"
        );
        assert_eq!(plural_capped(1, 10_000, "event", "events"), "1 event");
    }
}
