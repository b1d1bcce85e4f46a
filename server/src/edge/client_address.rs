//! Who the client is. Without a proxy it is the TCP peer. Behind a reverse proxy every
//! request comes from the proxy, and the client is the address the proxy forwarded in
//! `X-Forwarded-For` (or `Forwarded: for=`); but anyone can send those headers, so they are
//! believed only from peers in the trusted ranges (`--trusted-proxies`; by default
//! nobody), and only as far as the chain of trusted proxies goes: reading from the right,
//! the first address that is not a trusted proxy is the client.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use app::client_address::ClientAddress;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;

/// A range of addresses: `10.0.0.0/8`, `2001:db8::/32`; a plain address is a range of one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is no address range: write 10.0.0.0/8, 192.0.2.7 or 2001:db8::/32")]
pub struct CidrError(String);

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let error = || CidrError(text.to_owned());
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address.parse().map_err(|_| error())?;
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            // Digits only: no sign, no spaces.
            Some(prefix) if !prefix.is_empty() && prefix.bytes().all(|b| b.is_ascii_digit()) => {
                prefix
                    .parse::<u8>()
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(error)?
            }
            Some(_) => return Err(error()),
            None => max,
        };
        Ok(Cidr::new(address, prefix))
    }
}

impl Cidr {
    /// The range of `prefix` leading bits of `address`; the other bits are ignored. An
    /// IPv4-mapped IPv6 range (`::ffff:10.0.0.0/104`) is taken as the IPv4 range it maps.
    fn new(address: IpAddr, prefix: u8) -> Self {
        let (address, prefix) = match address {
            IpAddr::V6(v6) if prefix >= 96 => match v6.to_ipv4_mapped() {
                Some(v4) => (IpAddr::V4(v4), prefix - 96),
                None => (address, prefix),
            },
            _ => (address, prefix),
        };
        let network = match address {
            IpAddr::V4(v4) => IpAddr::V4(Ipv4Addr::from(u32::from(v4) & v4_mask(prefix))),
            IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & v6_mask(prefix))),
        };
        Cidr { network, prefix }
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        match (self.network, address.to_canonical()) {
            (IpAddr::V4(network), IpAddr::V4(address)) => {
                u32::from(address) & v4_mask(self.prefix) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(address)) => {
                u128::from(address) & v6_mask(self.prefix) == u128::from(network)
            }
            _ => false,
        }
    }
}

fn v4_mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
}

fn v6_mask(prefix: u8) -> u128 {
    u128::MAX.checked_shl(128 - u32::from(prefix)).unwrap_or(0)
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

/// The proxies whose forwarding headers are believed; empty trusts nobody.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<Cidr>);

impl TrustedProxies {
    pub fn new(ranges: Vec<Cidr>) -> Self {
        Self(ranges)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, address: IpAddr) -> bool {
        self.0.iter().any(|range| range.contains(address))
    }

    /// The client of a request from `peer` with these headers. From a trusted peer,
    /// `X-Forwarded-For` is read when present, else `Forwarded`; the hops are walked from
    /// the right (the nearest proxy's entry) past trusted proxies to the first address that
    /// is not one. A hop that cannot be read (`unknown`, an obfuscated name, garbage) ends
    /// the walk at the last address known, the proxy that forwarded it: never a guess.
    pub fn client_address(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = peer.to_canonical();
        if !self.trusts(peer) {
            return peer;
        }
        let hops = forwarded_for(headers);
        let mut client = peer;
        for hop in hops.iter().rev() {
            match hop {
                Some(address) => {
                    client = *address;
                    if !self.trusts(client) {
                        return client;
                    }
                }
                None => return client,
            }
        }
        // Every hop a trusted proxy: the leftmost is as far as anyone can tell.
        client
    }
}

/// The hops of `X-Forwarded-For` (all its headers, in order), or if there is none those of
/// `Forwarded`; `None` for a hop that is no address.
fn forwarded_for(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let values = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .iter()
            // An unreadable header is one unreadable hop.
            .map(|value| value.to_str().unwrap_or("?"))
            .collect()
    };
    let x_forwarded_for = values("x-forwarded-for");
    if !x_forwarded_for.is_empty() {
        return x_forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(|hop| hop.trim())
            .filter(|hop| !hop.is_empty())
            .map(parse_hop)
            .collect();
    }
    values("forwarded")
        .iter()
        .flat_map(|value| value.split(','))
        .filter(|element| !element.trim().is_empty())
        .map(|element| {
            element
                .split(';')
                .filter_map(|pair| pair.split_once('='))
                .find(|(name, _)| name.trim().eq_ignore_ascii_case("for"))
                .and_then(|(_, value)| parse_hop(value.trim().trim_matches('"')))
        })
        .collect()
}

/// `192.0.2.7`, `192.0.2.7:4711`, `2001:db8::1`, `[2001:db8::1]` or `[2001:db8::1]:4711`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let address = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|socket| socket.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|rest| rest.strip_suffix(']'))
                .and_then(|inner| inner.parse::<Ipv6Addr>().ok())
                .map(IpAddr::V6)
        })?;
    Some(address.to_canonical())
}

/// Puts the request's [`ClientAddress`] into its extensions, for the handlers' limits.
/// Without a peer address (a router called directly, as in unit tests) there is none.
pub async fn resolve_client_address(
    State(trusted): State<Arc<TrustedProxies>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    if let Some(peer) = peer {
        let client = trusted.client_address(peer, request.headers());
        request.extensions_mut().insert(ClientAddress(client));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_are_read_in_both_families() {
        assert_eq!(cidr("10.0.0.0/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr(" 192.0.2.7 ").to_string(), "192.0.2.7/32");
        assert_eq!(cidr("10.1.2.3/8").to_string(), "10.0.0.0/8");
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("2001:db8::/32").to_string(), "2001:db8::/32");
        assert_eq!(cidr("2001:db8::1").to_string(), "2001:db8::1/128");
        assert_eq!(
            cidr("2001:db8:ffff::1/33").to_string(),
            "2001:db8:8000::/33"
        );
        assert_eq!(cidr("::/0").to_string(), "::/0");
        assert_eq!(cidr("::ffff:10.0.0.0/104").to_string(), "10.0.0.0/8");
        for bad in [
            "",
            "10.0.0.0/33",
            "2001:db8::/129",
            "10.0.0/8",
            "10.0.0.0/",
            "10.0.0.0/+8",
            "10.0.0.0/8/8",
            "example.com",
            "10.0.0.0 /8",
            "10.0.0.0/ 8",
            "/8",
        ] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad:?} is refused");
        }
    }

    #[test]
    fn ranges_contain_their_addresses() {
        let v4 = cidr("192.168.0.0/16");
        assert!(v4.contains(ip("192.168.0.1")));
        assert!(v4.contains(ip("192.168.255.255")));
        assert!(!v4.contains(ip("192.169.0.0")));
        assert!(!v4.contains(ip("::1")));
        // An IPv4 client seen on an IPv6 socket.
        assert!(v4.contains(ip("::ffff:192.168.3.4")));
        assert!(cidr("127.0.0.1").contains(ip("127.0.0.1")));
        assert!(!cidr("127.0.0.1").contains(ip("127.0.0.2")));
        assert!(cidr("0.0.0.0/0").contains(ip("203.0.113.9")));
        assert!(!cidr("0.0.0.0/0").contains(ip("2001:db8::1")));

        let v6 = cidr("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8::1")));
        assert!(v6.contains(ip("2001:db8:ffff:ffff::1")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("10.0.0.1")));
        assert!(cidr("::/0").contains(ip("fe80::1")));
        assert!(cidr("fd00::/8").contains(ip("fdab::7")));
        assert!(!cidr("fd00::/8").contains(ip("fe00::7")));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, value.parse().unwrap());
        }
        map
    }

    fn trusting(ranges: &[&str]) -> TrustedProxies {
        TrustedProxies::new(ranges.iter().map(|r| cidr(r)).collect())
    }

    #[test]
    fn nobody_is_trusted_by_default() {
        let trusted = TrustedProxies::default();
        let spoofed = headers(&[
            ("x-forwarded-for", "203.0.113.9"),
            ("forwarded", "for=203.0.113.9"),
        ]);
        assert_eq!(
            trusted.client_address(ip("127.0.0.1"), &spoofed),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn headers_from_an_untrusted_peer_are_ignored() {
        let trusted = trusting(&["10.0.0.0/8"]);
        let spoofed = headers(&[("x-forwarded-for", "203.0.113.9")]);
        assert_eq!(
            trusted.client_address(ip("198.51.100.1"), &spoofed),
            ip("198.51.100.1")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = trusting(&["10.0.0.0/8", "2001:db8::/32"]);
        let peer = ip("10.0.0.2");
        let client = |pairs| trusted.client_address(peer, &headers(pairs));
        assert_eq!(
            client(&[("x-forwarded-for", "203.0.113.9")]),
            ip("203.0.113.9")
        );
        // A client's own spoofed entry is on the left of what the proxies appended.
        assert_eq!(
            client(&[("x-forwarded-for", "1.1.1.1, 203.0.113.9, 10.0.0.7")]),
            ip("203.0.113.9")
        );
        // Several headers are one list, in order.
        assert_eq!(
            client(&[
                ("x-forwarded-for", "1.1.1.1"),
                ("x-forwarded-for", "203.0.113.9, 10.0.0.7")
            ]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client(&[("x-forwarded-for", "[2001:db9::5]:4711, 2001:db8::1")]),
            ip("2001:db9::5")
        );
        assert_eq!(
            client(&[("x-forwarded-for", "203.0.113.9:51000")]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client(&[("x-forwarded-for", "::ffff:203.0.113.9")]),
            ip("203.0.113.9")
        );
        // No header: the proxy itself.
        assert_eq!(client(&[]), peer);
        assert_eq!(client(&[("x-forwarded-for", "")]), peer);
        // Only trusted hops: the leftmost.
        assert_eq!(
            client(&[("x-forwarded-for", "10.0.0.9, 10.0.0.8")]),
            ip("10.0.0.9")
        );
    }

    #[test]
    fn an_unreadable_hop_ends_the_walk_at_the_last_known_address() {
        let trusted = trusting(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        let client = |pairs| trusted.client_address(peer, &headers(pairs));
        assert_eq!(client(&[("x-forwarded-for", "203.0.113.9, garbage")]), peer);
        assert_eq!(
            client(&[("x-forwarded-for", "203.0.113.9, unknown, 10.0.0.7")]),
            ip("10.0.0.7")
        );
        assert_eq!(client(&[("forwarded", "for=unknown")]), peer);
        assert_eq!(
            client(&[("forwarded", "for=_hidden, for=10.0.0.5")]),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn forwarded_is_read_when_there_is_no_x_forwarded_for() {
        let trusted = trusting(&["10.0.0.0/8"]);
        let peer = ip("10.0.0.2");
        let client = |pairs| trusted.client_address(peer, &headers(pairs));
        assert_eq!(
            client(&[("forwarded", "for=203.0.113.9")]),
            ip("203.0.113.9")
        );
        assert_eq!(
            client(&[(
                "forwarded",
                r#"for="[2001:db8:cafe::17]:4711";proto=https, For=10.0.0.3;by=10.0.0.2"#
            )]),
            ip("2001:db8:cafe::17")
        );
        assert_eq!(
            client(&[(
                "forwarded",
                "proto=https;for=\"203.0.113.9:1234\";host=portal.example"
            )]),
            ip("203.0.113.9")
        );
        // X-Forwarded-For wins when both are there.
        assert_eq!(
            client(&[
                ("forwarded", "for=198.51.100.4"),
                ("x-forwarded-for", "203.0.113.9")
            ]),
            ip("203.0.113.9")
        );
    }
}
