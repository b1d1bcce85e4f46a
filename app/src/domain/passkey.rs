//! Passkeys (WebAuthn): which relying party the portal is, taken from the address people
//! reach it at (`--public-url`), and whether browsers will let it use passkeys there.

use url::{Host, Url};

/// The most passkeys one user keeps: one per device they sign in from is plenty.
pub const MAX_PASSKEYS_PER_USER: usize = 20;
/// A passkey's name ("Work laptop"), to tell them apart.
pub const MAX_PASSKEY_NAME_LENGTH: usize = 100;
/// The longest credential a browser sends back (JSON, base64url inside): real ones are
/// a few kilobytes at most.
pub const MAX_CREDENTIAL_LENGTH: usize = 32 * 1024;

/// The relying party of the portal's passkeys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelyingParty {
    /// The host name passkeys are bound to (`portal.example.com`).
    pub id: String,
    /// The origin the browser reports (`https://portal.example.com`, with a port when
    /// there is one).
    pub origin: String,
}

/// The relying party for a portal reached at `public_url`, or why passkeys cannot work
/// there: browsers refuse WebAuthn for an IP address, and outside a secure context
/// (plain `http://` anywhere but `localhost`).
pub fn relying_party(public_url: &str) -> Result<RelyingParty, String> {
    let url = Url::parse(public_url)
        .map_err(|_| format!("the portal's public URL ({public_url}) is not a valid URL"))?;
    let host = match url.host() {
        Some(Host::Domain(host)) => host.trim_end_matches('.').to_owned(),
        Some(Host::Ipv4(_) | Host::Ipv6(_)) => {
            return Err(format!(
                "Passkeys are not available here: the portal's address ({}) is an IP address, \
                 and browsers allow passkeys only on a host name. Start the server with \
                 --public-url naming the host people use (http://localhost:{} on this machine).",
                url.origin().ascii_serialization(),
                url.port_or_known_default().unwrap_or(80)
            ));
        }
        None => {
            return Err(format!(
                "the portal's public URL ({public_url}) has no host"
            ));
        }
    };
    let local = host == "localhost" || host.ends_with(".localhost");
    match url.scheme() {
        "https" => {}
        "http" if local => {}
        _ => {
            return Err(format!(
                "Passkeys are not available here: browsers allow them only over https (or on \
                 localhost), and the portal's address is {}.",
                url.origin().ascii_serialization()
            ));
        }
    }
    Ok(RelyingParty {
        id: host,
        origin: url.origin().ascii_serialization(),
    })
}

#[cfg(test)]
mod tests {
    use super::relying_party;

    #[test]
    fn the_relying_party_is_the_public_host() {
        let party = relying_party("https://portal.example.com/").unwrap();
        assert_eq!(party.id, "portal.example.com");
        assert_eq!(party.origin, "https://portal.example.com");
        let party = relying_party("https://Portal.Example.com:8443/some/path").unwrap();
        assert_eq!(party.id, "portal.example.com");
        assert_eq!(party.origin, "https://portal.example.com:8443");
        let party = relying_party("http://localhost:3000").unwrap();
        assert_eq!(party.id, "localhost");
        assert_eq!(party.origin, "http://localhost:3000");
    }

    #[test]
    fn ip_addresses_and_plain_http_cannot_have_passkeys() {
        for url in [
            "http://127.0.0.1:3000",
            "https://10.0.0.5",
            "http://[::1]:3000",
        ] {
            let reason = relying_party(url).unwrap_err();
            assert!(reason.contains("IP address"), "{url}: {reason}");
        }
        let reason = relying_party("http://127.0.0.1:3000").unwrap_err();
        assert!(reason.contains("http://localhost:3000"), "{reason}");
        let reason = relying_party("http://portal.example.com").unwrap_err();
        assert!(reason.contains("https"), "{reason}");
        assert!(relying_party("not a url").is_err());
    }
}
