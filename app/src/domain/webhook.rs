//! Webhooks: which events there are, how a delivery is signed (Standard Webhooks), when a
//! failed one is tried again, and which URLs may receive them.
//!
//! Signing follows <https://www.standardwebhooks.com>: the headers `webhook-id`,
//! `webhook-timestamp` (Unix seconds) and `webhook-signature`, which holds
//! `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed by the bytes of the
//! secret after `whsec_`, several separated by spaces while a rotated secret still signs.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use super::FieldError;

/// What happened, as the `type` of an event and the name a subscription lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum WebhookEventType {
    #[serde(rename = "ipp.enrollment.created")]
    EnrollmentCreated,
    #[serde(rename = "ipp.enrollment.consumed")]
    EnrollmentConsumed,
    #[serde(rename = "ipp.enrollment.cancelled")]
    EnrollmentCancelled,
    #[serde(rename = "ipp.enrollment.expired")]
    EnrollmentExpired,
    #[serde(rename = "ipp.device.registered")]
    DeviceRegistered,
    #[serde(rename = "ipp.device.updated")]
    DeviceUpdated,
    #[serde(rename = "ipp.device.deregistered")]
    DeviceDeregistered,
    /// Sent on request to one endpoint ("Send test event"), never by subscription.
    #[serde(rename = "ipp.webhook.test")]
    Test,
}

impl WebhookEventType {
    pub const ALL: [WebhookEventType; 8] = [
        WebhookEventType::EnrollmentCreated,
        WebhookEventType::EnrollmentConsumed,
        WebhookEventType::EnrollmentCancelled,
        WebhookEventType::EnrollmentExpired,
        WebhookEventType::DeviceRegistered,
        WebhookEventType::DeviceUpdated,
        WebhookEventType::DeviceDeregistered,
        WebhookEventType::Test,
    ];

    /// The events an endpoint can subscribe to: all but the test event.
    pub const SUBSCRIBABLE: [WebhookEventType; 7] = [
        WebhookEventType::EnrollmentCreated,
        WebhookEventType::EnrollmentConsumed,
        WebhookEventType::EnrollmentCancelled,
        WebhookEventType::EnrollmentExpired,
        WebhookEventType::DeviceRegistered,
        WebhookEventType::DeviceUpdated,
        WebhookEventType::DeviceDeregistered,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::EnrollmentCreated => "ipp.enrollment.created",
            WebhookEventType::EnrollmentConsumed => "ipp.enrollment.consumed",
            WebhookEventType::EnrollmentCancelled => "ipp.enrollment.cancelled",
            WebhookEventType::EnrollmentExpired => "ipp.enrollment.expired",
            WebhookEventType::DeviceRegistered => "ipp.device.registered",
            WebhookEventType::DeviceUpdated => "ipp.device.updated",
            WebhookEventType::DeviceDeregistered => "ipp.device.deregistered",
            WebhookEventType::Test => "ipp.webhook.test",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.as_str() == name)
    }

    /// When the event is sent, in a few words (the portal's list of events, the docs).
    pub fn description(self) -> &'static str {
        match self {
            WebhookEventType::EnrollmentCreated => "a pairing code was created",
            WebhookEventType::EnrollmentConsumed => "a device registered with a pairing code",
            WebhookEventType::EnrollmentCancelled => "a pairing code was cancelled",
            WebhookEventType::EnrollmentExpired => "a pairing code expired unused",
            WebhookEventType::DeviceRegistered => "a device was registered",
            WebhookEventType::DeviceUpdated => "a device's name, location or metadata changed",
            WebhookEventType::DeviceDeregistered => "a device was deregistered",
            WebhookEventType::Test => "sent on request, to try an endpoint",
        }
    }
}

/// What an endpoint receives: every event (`*`, including those added later) or those
/// listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Subscription {
    All,
    Only(Vec<WebhookEventType>),
}

/// Stands for every event in a subscription.
pub const ALL_EVENTS: &str = "*";

impl Subscription {
    /// Reads a subscription as a client sends it: `["*"]` (or nothing) for all events,
    /// otherwise one or more event names, each once.
    pub fn parse(field: &str, names: Option<&[String]>) -> Result<Self, FieldError> {
        let Some(names) = names else {
            return Ok(Subscription::All);
        };
        if names.len() == 1 && names[0] == ALL_EVENTS {
            return Ok(Subscription::All);
        }
        let choices = || {
            WebhookEventType::SUBSCRIBABLE
                .iter()
                .map(|kind| kind.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if names.is_empty() || names.len() > WebhookEventType::SUBSCRIBABLE.len() {
            return Err(FieldError::new(
                field,
                format!(
                    "events is [\"*\"] for every event, or 1 to {} of: {}",
                    WebhookEventType::SUBSCRIBABLE.len(),
                    choices()
                ),
            ));
        }
        let mut chosen = Vec::with_capacity(names.len());
        for name in names {
            let kind = WebhookEventType::parse(name)
                .filter(|kind| WebhookEventType::SUBSCRIBABLE.contains(kind))
                .ok_or_else(|| {
                    FieldError::new(
                        field,
                        format!("unknown event; events are \"*\" or of: {}", choices()),
                    )
                })?;
            if chosen.contains(&kind) {
                return Err(FieldError::new(field, "each event is listed once"));
            }
            chosen.push(kind);
        }
        // Listed in the one order, so equal subscriptions store alike.
        chosen.sort_by_key(|kind| WebhookEventType::ALL.iter().position(|k| k == kind));
        Ok(Subscription::Only(chosen))
    }

    /// As the API shows it: `["*"]` or the event names.
    pub fn names(&self) -> Vec<String> {
        match self {
            Subscription::All => vec![ALL_EVENTS.to_owned()],
            Subscription::Only(kinds) => kinds.iter().map(|k| k.as_str().to_owned()).collect(),
        }
    }

    /// As stored: `*`, or the names between commas (`,a,b,`), so that the database finds
    /// the endpoints of an event with `LIKE '%,name,%'`.
    pub fn to_stored(&self) -> String {
        match self {
            Subscription::All => ALL_EVENTS.to_owned(),
            Subscription::Only(kinds) => {
                let mut stored = String::from(",");
                for kind in kinds {
                    stored.push_str(kind.as_str());
                    stored.push(',');
                }
                stored
            }
        }
    }

    pub fn from_stored(stored: &str) -> Self {
        if stored == ALL_EVENTS {
            return Subscription::All;
        }
        Subscription::Only(
            stored
                .split(',')
                .filter_map(WebhookEventType::parse)
                .collect(),
        )
    }
}

/// An endpoint's optional description (what it is for).
pub const MAX_DESCRIPTION_LENGTH: usize = 200;

// ---------------------------------------------------------------------------------------
// Retries

/// How long after each failed attempt the next one is made: about 5 s, 5 min, 30 min,
/// 2 h, 5 h, 10 h and 10 h; after the eighth attempt the delivery has failed.
pub const RETRY_DELAYS_SECONDS: [i64; 7] = [5, 300, 1800, 7200, 18_000, 36_000, 36_000];

/// The most attempts one delivery gets by itself (a resend adds one).
pub const MAX_ATTEMPTS: i64 = RETRY_DELAYS_SECONDS.len() as i64 + 1;

/// Each delay is moved by up to this share either way, so that the retries of many
/// deliveries that failed together do not all arrive together.
pub const RETRY_JITTER: f64 = 0.1;

/// An endpoint whose every attempt has failed for this long is disabled.
pub const DISABLE_AFTER_FAILING_MS: i64 = 3 * 24 * 3600 * 1000;

/// Milliseconds until the next attempt after `attempts_made` attempts have failed, or
/// `None` when the delivery has had all its attempts. `jitter` is a number from -1 to 1
/// (a random one in production) that moves the delay by up to [`RETRY_JITTER`].
pub fn retry_delay_ms(attempts_made: i64, jitter: f64) -> Option<i64> {
    let index = usize::try_from(attempts_made.checked_sub(1)?).ok()?;
    let base = *RETRY_DELAYS_SECONDS.get(index)? as f64 * 1000.0;
    let jitter = jitter.clamp(-1.0, 1.0) * RETRY_JITTER;
    Some((base * (1.0 + jitter)).round() as i64)
}

/// Whether an attempt that got `status_code` (none: no answer) succeeded: any 2xx.
pub fn succeeded(status_code: Option<i64>) -> bool {
    status_code.is_some_and(|code| (200..300).contains(&code))
}

// ---------------------------------------------------------------------------------------
// Targets

/// The longest URL an endpoint may have.
pub const MAX_URL_LENGTH: usize = 2048;

/// Whether a delivery may go to private addresses (`--allow-private-webhook-targets`,
/// for tests and local development): then also `http://` to loopback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct TargetPolicy {
    pub allow_private: bool,
}

const PUBLIC_ONLY: &str = "webhooks go to public addresses only, not to loopback, private, \
    link-local or metadata addresses";

/// A webhook URL that passes the rules that need no DNS: a URL of at most
/// [`MAX_URL_LENGTH`] characters, `https://` (or `http://` to loopback when private
/// targets are allowed), no user name or password, and a host that is not itself a
/// forbidden address or a name for loopback. The host's addresses are checked apart, when
/// it is saved and again when a delivery connects.
pub fn check_url(field: &str, raw: &str, policy: TargetPolicy) -> Result<url::Url, FieldError> {
    let refuse = |message: &str| Err(FieldError::new(field, message));
    let raw = raw.trim();
    if raw.is_empty() || raw.chars().count() > MAX_URL_LENGTH {
        return refuse(&format!(
            "a webhook URL has 1 to {MAX_URL_LENGTH} characters"
        ));
    }
    let Ok(url) = url::Url::parse(raw) else {
        return refuse("not a URL; give one like https://example.com/webhooks");
    };
    if !url.username().is_empty() || url.password().is_some() {
        return refuse("a webhook URL carries no user name or password");
    }
    let Some(host) = url.host() else {
        return refuse("a webhook URL names a host");
    };
    let loopback = match &host {
        url::Host::Domain(name) => is_loopback_name(name),
        url::Host::Ipv4(ip) => ip.is_loopback(),
        url::Host::Ipv6(ip) => ip.is_loopback(),
    };
    match url.scheme() {
        "https" => {}
        "http" if policy.allow_private && loopback => {}
        "http" if policy.allow_private => {
            return refuse("a webhook URL is https://; http:// only to this machine (loopback)");
        }
        _ => return refuse("a webhook URL is https://"),
    }
    if !policy.allow_private {
        let forbidden = match host {
            url::Host::Domain(name) => is_loopback_name(name),
            url::Host::Ipv4(ip) => is_forbidden_address(IpAddr::V4(ip)),
            url::Host::Ipv6(ip) => is_forbidden_address(IpAddr::V6(ip)),
        };
        if forbidden {
            return refuse(PUBLIC_ONLY);
        }
    }
    Ok(url)
}

/// The message for a host that resolves to a forbidden address.
pub fn forbidden_target_message() -> &'static str {
    PUBLIC_ONLY
}

/// Names that always mean this machine (RFC 6761).
fn is_loopback_name(name: &str) -> bool {
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// Whether a delivery must not go to `ip`: anything but a public unicast address. That is
/// loopback, private (RFC 1918), carrier-grade NAT, link-local (with the cloud metadata
/// service at 169.254.169.254), unique-local, multicast, documentation and reserved
/// ranges, and IPv6 addresses that carry such an IPv4 address (mapped, compatible, NAT64,
/// 6to4) or tunnel to one (Teredo).
pub fn is_forbidden_address(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_forbidden_v4(ip),
        IpAddr::V6(ip) => is_forbidden_v6(ip),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    a == 0                                  // "this network"
        || a == 10                          // private
        || a == 127                         // loopback
        || (a == 100 && (64..128).contains(&b)) // carrier-grade NAT
        || (a == 169 && b == 254)           // link-local, cloud metadata
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0)   // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2)   // documentation
        || (a == 192 && b == 88 && c == 99) // 6to4 relay anycast
        || (a == 192 && b == 168)           // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation
        || (a == 203 && b == 0 && c == 113) // documentation
        || a >= 224 // multicast, reserved, broadcast
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    let embedded_v4 = |high: u16, low: u16| {
        let [a, b] = high.to_be_bytes();
        let [c, d] = low.to_be_bytes();
        Ipv4Addr::new(a, b, c, d)
    };
    if segments[..5].iter().all(|s| *s == 0) {
        return match segments[5] {
            // IPv4-mapped (::ffff:a.b.c.d): as the IPv4 address.
            0xffff => is_forbidden_v4(embedded_v4(segments[6], segments[7])),
            // Unspecified, loopback and the deprecated IPv4-compatible addresses (::/96),
            // and the rest of ::/80.
            _ => true,
        };
    }
    match segments[0] {
        // NAT64: 64:ff9b::/96 carries an IPv4 address; 64:ff9b:1::/48 is for local use.
        0x64 if segments[1] == 0xff9b => {
            segments[2] != 0 || is_forbidden_v4(embedded_v4(segments[6], segments[7]))
        }
        // 2001:0::/23 (Teredo, benchmarking, ORCHID) and documentation (2001:db8::/32).
        0x2001 => segments[1] < 0x200 || segments[1] == 0xdb8,
        // 6to4 carries an IPv4 address.
        0x2002 => is_forbidden_v4(embedded_v4(segments[1], segments[2])),
        // Documentation (3fff::/20).
        0x3fff => segments[1] < 0x1000,
        // Everything outside global unicast (2000::/3): unique local (fc00::/7),
        // link-local (fe80::/10), multicast (ff00::/8), discard-only (100::/64), ...
        first => (first & 0xe000) != 0x2000,
    }
}

// ---------------------------------------------------------------------------------------
// Secrets and signatures (server side)

/// A signing secret starts with this; the rest is the key, base64-encoded.
pub const SECRET_PREFIX: &str = "whsec_";
/// 192 random bits.
#[cfg(feature = "ssr")]
const SECRET_BYTES: usize = 24;
/// Receivers accept a `webhook-timestamp` this far from their own clock.
pub const TIMESTAMP_TOLERANCE_SECONDS: i64 = 300;

/// A new signing secret: `whsec_` and 192 random bits in base64.
#[cfg(feature = "ssr")]
pub fn new_secret() -> String {
    use base64::Engine;
    let key = crate::secrets::random_bytes::<SECRET_BYTES>();
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The key of a `whsec_` secret: the base64 after the prefix, decoded; 24 to 64 bytes.
#[cfg(feature = "ssr")]
pub fn secret_key(secret: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    let encoded = secret.strip_prefix(SECRET_PREFIX)?;
    let key = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .ok()?;
    (24..=64).contains(&key.len()).then_some(key)
}

/// The HMAC-SHA256 of `"{id}.{timestamp}.{body}"` with `key`, ready to finish or compare.
#[cfg(feature = "ssr")]
fn signed_content(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> hmac::Hmac<sha2::Sha256> {
    use hmac::Mac;
    let mut mac =
        hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes a key of any size");
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    mac
}

/// One signature, `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`.
#[cfg(feature = "ssr")]
pub fn sign(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    use base64::Engine;
    use hmac::Mac;
    let mac = signed_content(key, id, timestamp, body);
    format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    )
}

/// The `webhook-signature` header: one signature per key, separated by spaces.
#[cfg(feature = "ssr")]
pub fn signature_header(keys: &[Vec<u8>], id: &str, timestamp: i64, body: &[u8]) -> String {
    keys.iter()
        .map(|key| sign(key, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Why a received webhook is not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyError {
    /// A header is missing or unreadable.
    MissingHeader(&'static str),
    /// The timestamp is more than [`TIMESTAMP_TOLERANCE_SECONDS`] from `now`.
    StaleTimestamp,
    /// No signature in the header matches.
    BadSignature,
}

impl std::fmt::Display for VerifyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            VerifyError::MissingHeader(name) => write!(f, "missing or unreadable {name} header"),
            VerifyError::StaleTimestamp => write!(
                f,
                "webhook-timestamp is more than {TIMESTAMP_TOLERANCE_SECONDS} s from this clock"
            ),
            VerifyError::BadSignature => write!(f, "no signature matches the secret"),
        }
    }
}

/// Checks a received webhook as a receiver should: the timestamp within
/// [`TIMESTAMP_TOLERANCE_SECONDS`] of `now_seconds`, and one of the `v1` signatures equal
/// (in constant time) to the body's signature with `key`.
#[cfg(feature = "ssr")]
pub fn verify(
    key: &[u8],
    id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now_seconds: i64,
) -> Result<(), VerifyError> {
    use hmac::Mac;
    let id = id.ok_or(VerifyError::MissingHeader("webhook-id"))?;
    let timestamp: i64 = timestamp
        .and_then(|t| t.trim().parse().ok())
        .ok_or(VerifyError::MissingHeader("webhook-timestamp"))?;
    let signatures = signatures.ok_or(VerifyError::MissingHeader("webhook-signature"))?;
    if (now_seconds - timestamp).abs() > TIMESTAMP_TOLERANCE_SECONDS {
        return Err(VerifyError::StaleTimestamp);
    }
    let matches = signatures.split(' ').any(|signature| {
        use base64::Engine;
        let Some(("v1", encoded)) = signature.split_once(',') else {
            return false;
        };
        let Ok(given) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
            return false;
        };
        signed_content(key, id, timestamp, body)
            .verify_slice(&given)
            .is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_through_their_wire_names() {
        for kind in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
            assert!(!kind.description().is_empty());
        }
        assert_eq!(WebhookEventType::parse("ipp.device.exploded"), None);
        assert!(!WebhookEventType::SUBSCRIBABLE.contains(&WebhookEventType::Test));
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn subscriptions_are_all_or_some_events_once_each() {
        assert_eq!(Subscription::parse("events", None), Ok(Subscription::All));
        assert_eq!(
            Subscription::parse("events", Some(&names(&["*"]))),
            Ok(Subscription::All)
        );
        let chosen = Subscription::parse(
            "events",
            Some(&names(&["ipp.device.registered", "ipp.enrollment.created"])),
        )
        .unwrap();
        // Stored in one order, whatever order they came in.
        assert_eq!(
            chosen.to_stored(),
            ",ipp.enrollment.created,ipp.device.registered,"
        );
        assert_eq!(Subscription::from_stored(&chosen.to_stored()), chosen);
        assert_eq!(Subscription::All.names(), names(&["*"]));
        for bad in [
            names(&[]),
            names(&["ipp.device.exploded"]),
            names(&["ipp.webhook.test"]),
            names(&["*", "ipp.device.updated"]),
            names(&["ipp.device.updated", "ipp.device.updated"]),
        ] {
            let error = Subscription::parse("events", Some(&bad)).unwrap_err();
            assert_eq!(error.field, "events", "{bad:?}");
        }
    }

    #[test]
    fn retries_back_off_with_jitter_then_stop() {
        assert_eq!(retry_delay_ms(0, 0.0), None);
        assert_eq!(retry_delay_ms(1, 0.0), Some(5_000));
        assert_eq!(retry_delay_ms(1, 1.0), Some(5_500));
        assert_eq!(retry_delay_ms(1, -1.0), Some(4_500));
        assert_eq!(retry_delay_ms(2, 0.0), Some(300_000));
        assert_eq!(retry_delay_ms(3, 0.0), Some(1_800_000));
        assert_eq!(retry_delay_ms(4, 0.0), Some(7_200_000));
        assert_eq!(retry_delay_ms(7, 0.0), Some(36_000_000));
        assert_eq!(retry_delay_ms(MAX_ATTEMPTS, 0.0), None);
        assert_eq!(MAX_ATTEMPTS, 8);
        // A jitter out of range moves the delay no further than the share allows.
        assert_eq!(retry_delay_ms(1, 7.0), Some(5_500));
    }

    #[test]
    fn any_2xx_answer_is_success() {
        for code in [200, 202, 204, 299] {
            assert!(succeeded(Some(code)), "{code}");
        }
        for code in [None, Some(199), Some(301), Some(404), Some(500)] {
            assert!(!succeeded(code), "{code:?}");
        }
    }

    #[test]
    fn forbidden_addresses_are_everything_but_public_unicast() {
        for forbidden in [
            "0.0.0.0",
            "10.1.2.3",
            "100.64.0.1",
            "100.127.255.254",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::1",
            "2001::1",
            "2001:db8::1",
            "fc00::1",
            "fd00:ec2::254",
            "fe80::1",
            "fec0::1",
            "ff02::1",
            "100::1",
        ] {
            let ip: IpAddr = forbidden.parse().unwrap();
            assert!(is_forbidden_address(ip), "{forbidden} is forbidden");
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "172.32.0.1",
            "93.184.216.34",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            "2606:4700:4700::1111",
            "2a00:1450:4001:81b::200e",
        ] {
            let ip: IpAddr = public.parse().unwrap();
            assert!(!is_forbidden_address(ip), "{public} is public");
        }
    }

    const STRICT: TargetPolicy = TargetPolicy {
        allow_private: false,
    };
    const LOCAL: TargetPolicy = TargetPolicy {
        allow_private: true,
    };

    #[test]
    fn urls_are_https_to_public_hosts() {
        assert!(check_url("url", "https://hooks.example.com/ipp", STRICT).is_ok());
        assert!(check_url("url", "https://8.8.8.8:8443/x", STRICT).is_ok());
        for refused in [
            "",
            "hooks.example.com/ipp",
            "ftp://hooks.example.com/",
            "http://hooks.example.com/ipp",
            "https://user:pass@hooks.example.com/",
            "https://localhost/",
            "https://api.localhost./x",
            "https://127.0.0.1/",
            "https://[::1]:8443/",
            "https://[::ffff:127.0.0.1]/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.8/",
            "https://0x7f.1/",
            "https://2130706433/",
            "http://127.0.0.1:8080/",
        ] {
            let error = check_url("url", refused, STRICT).unwrap_err();
            assert_eq!(error.field, "url", "{refused}");
        }
        let too_long = format!("https://example.com/{}", "a".repeat(MAX_URL_LENGTH));
        assert!(check_url("url", &too_long, STRICT).is_err());
    }

    #[test]
    fn private_targets_allow_http_to_loopback_only() {
        assert!(check_url("url", "http://127.0.0.1:8080/hook", LOCAL).is_ok());
        assert!(check_url("url", "http://localhost:8080/hook", LOCAL).is_ok());
        assert!(check_url("url", "http://[::1]:8080/hook", LOCAL).is_ok());
        assert!(check_url("url", "https://10.0.0.8/hook", LOCAL).is_ok());
        assert!(check_url("url", "http://10.0.0.8/hook", LOCAL).is_err());
        assert!(check_url("url", "http://hooks.example.com/", LOCAL).is_err());
    }

    #[test]
    fn signatures_follow_the_standard_webhooks_example() {
        // The example of the Standard Webhooks specification.
        let key = secret_key("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let body = br#"{"test": 2432232314}"#;
        assert_eq!(
            sign(&key, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(
            verify(
                &key,
                Some("msg_p5jXN8AQM9LWM0D4loKWxJek"),
                Some("1614265330"),
                Some("v1,bm9wZQ== v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="),
                body,
                1614265330 + 299,
            )
            .is_ok()
        );
    }

    #[test]
    fn verification_refuses_stale_or_wrong_signatures() {
        let key = secret_key(&new_secret()).unwrap();
        let other = secret_key(&new_secret()).unwrap();
        let header = signature_header(&[other.clone(), key.clone()], "kevt_1", 1000, b"{}");
        assert_eq!(header.split(' ').count(), 2);
        let check = |key: &[u8], now: i64, body: &[u8]| {
            verify(key, Some("kevt_1"), Some("1000"), Some(&header), body, now)
        };
        assert_eq!(check(&key, 1000, b"{}"), Ok(()));
        assert_eq!(check(&other, 700, b"{}"), Ok(()));
        assert_eq!(check(&key, 1301, b"{}"), Err(VerifyError::StaleTimestamp));
        assert_eq!(check(&key, 1000, b"{ }"), Err(VerifyError::BadSignature));
        assert_eq!(
            verify(&key, None, Some("1000"), Some(&header), b"{}", 1000),
            Err(VerifyError::MissingHeader("webhook-id"))
        );
    }

    #[test]
    fn secrets_are_192_random_bits_in_base64() {
        let a = new_secret();
        assert!(a.starts_with(SECRET_PREFIX));
        assert_eq!(secret_key(&a).map(|key| key.len()), Some(24));
        assert_ne!(a, new_secret());
        assert_eq!(secret_key("whsec_short"), None);
        assert_eq!(secret_key("no prefix"), None);
    }
}
