//! `trustedProxies`: whose `X-Forwarded-*` headers are believed, and the client's address.

use std::net::IpAddr;

use http::{HeaderMap, HeaderName};
use ipnet::IpNet;

/// The proxies whose forwarded headers are believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    /// `server.proxyHeader`: a header a trusted proxy puts the client's IP in.
    proxy_header: Option<HeaderName>,
}

impl TrustedProxies {
    /// The proxies of `server.trustedProxies`, parsed and checked by the resolver.
    pub fn new(nets: Vec<IpNet>) -> Self {
        TrustedProxies { nets, proxy_header: None }
    }

    /// With `server.proxyHeader` (checked by the resolver; empty: none).
    pub fn with_proxy_header(mut self, name: &str) -> Self {
        self.proxy_header = (!name.is_empty()).then(|| HeaderName::from_bytes(name.as_bytes()).ok()).flatten();
        self
    }

    /// Whether `ip` is a trusted proxy.
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|n| n.contains(&ip))
    }

    /// The `proxyHeader`, removed from requests of untrusted peers.
    pub fn proxy_header(&self) -> Option<&HeaderName> {
        self.proxy_header.as_ref()
    }

    /// The client's IP: from a trusted peer, the `proxyHeader` when set and it holds an
    /// address; else walking `X-Forwarded-For` from the right while the hop is trusted.
    pub fn client_ip(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let mut client = peer.to_canonical();
        if !self.contains(client) {
            return client;
        }
        if let Some(name) = &self.proxy_header
            && let Some(ip) =
                headers.get(name).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<IpAddr>().ok())
        {
            return ip.to_canonical();
        }
        let hops: Vec<&str> = headers
            .get_all(seam_core::net::X_FORWARDED_FOR)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        for hop in hops.into_iter().rev() {
            // An entry that does not parse ends the walk: the last trusted hop is the client,
            // never an entry further left that a client may have written.
            let Ok(hop) = hop.parse::<IpAddr>() else { break };
            client = hop.to_canonical();
            if !self.contains(client) {
                break;
            }
        }
        client
    }
}

/// Headers that proxies set to tell an upstream about the original request, besides the
/// whole `X-Forwarded-*` family: an upstream may believe any of them (`X-Original-URL` and
/// `X-Rewrite-URL` even route requests in IIS and Symfony).
const FORWARDED_FAMILY: [&str; 5] = ["forwarded", "x-real-ip", "x-original-url", "x-rewrite-url", "x-url-scheme"];

/// Removes every forwarded header a client that is not a trusted proxy sent: they cannot be
/// believed (`Forwarded`, `X-Forwarded-*`, `X-Real-IP`, `X-Original-URL`, `X-Rewrite-URL`,
/// `X-Url-Scheme`).
pub fn strip_untrusted(headers: &mut HeaderMap) {
    let family: Vec<http::HeaderName> = headers
        .keys()
        .filter(|name| name.as_str().starts_with("x-forwarded-") || FORWARDED_FAMILY.contains(&name.as_str()))
        .cloned()
        .collect();
    for name in family {
        headers.remove(name);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_header_is_believed_only_from_a_trusted_peer() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]).with_proxy_header("CF-Connecting-IP");
        let mut headers = HeaderMap::new();
        headers.insert("cf-connecting-ip", "203.0.113.9".parse().unwrap());
        headers.insert("x-forwarded-for", "198.51.100.1".parse().unwrap());
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &headers), ip("203.0.113.9"));
        assert_eq!(trusted.client_ip(ip("192.0.2.1"), &headers), ip("192.0.2.1"), "not from an untrusted peer");
        headers.insert("cf-connecting-ip", "not an ip".parse().unwrap());
        assert_eq!(trusted.client_ip(ip("10.0.0.1"), &headers), ip("198.51.100.1"), "falls back to X-Forwarded-For");
    }

    #[test]
    fn client_ip_skips_trusted_hops() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap(), "192.168.1.1/32".parse().unwrap()]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, 10.1.2.3".parse().unwrap());
        assert_eq!(
            trusted.client_ip("192.168.1.1".parse().unwrap(), &headers),
            "203.0.113.7".parse::<IpAddr>().unwrap()
        );
        assert_eq!(
            trusted.client_ip("198.51.100.1".parse().unwrap(), &headers),
            "198.51.100.1".parse::<IpAddr>().unwrap()
        );
    }

    #[test]
    fn the_walk_stops_at_an_entry_that_does_not_parse() {
        let trusted = TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap()]);
        let mut headers = HeaderMap::new();
        headers.insert("x-forwarded-for", "203.0.113.7, garbage, 10.1.2.3".parse().unwrap());
        assert_eq!(
            trusted.client_ip("10.9.9.9".parse().unwrap(), &headers),
            "10.1.2.3".parse::<IpAddr>().unwrap(),
            "not 203.0.113.7, which sits left of an entry that does not parse"
        );
    }

    #[test]
    fn the_whole_forwarded_family_is_stripped() {
        let mut headers = HeaderMap::new();
        for name in [
            "forwarded",
            "x-forwarded-for",
            "x-forwarded-proto",
            "x-forwarded-host",
            "x-forwarded-port",
            "x-forwarded-prefix",
            "x-forwarded-ssl",
            "x-forwarded-scheme",
            "x-real-ip",
            "x-original-url",
            "x-rewrite-url",
            "x-url-scheme",
        ] {
            headers.insert(http::HeaderName::from_static(name), "spoofed".parse().unwrap());
        }
        headers.insert("x-kept", "1".parse().unwrap());
        strip_untrusted(&mut headers);
        assert_eq!(headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }

    mod properties {
        use std::net::IpAddr;

        use http::HeaderMap;
        use proptest::prelude::*;

        use super::TrustedProxies;

        /// Addresses a request names: trusted (10/8, also as IPv4-mapped IPv6, and 2001:db8::/32),
        /// untrusted, and text that is not an address.
        const HOPS: &[&str] = &[
            "10.0.0.1",
            "10.9.9.9",
            "::ffff:10.1.1.1",
            "2001:db8::1",
            "203.0.113.7",
            "198.51.100.1",
            "2001:db9::1",
            "::ffff:203.0.113.9",
            "unknown",
            "",
            " ",
            "10.0.0.1:80",
            "[2001:db8::1]",
        ];

        fn trusted() -> TrustedProxies {
            TrustedProxies::new(vec!["10.0.0.0/8".parse().unwrap(), "2001:db8::/32".parse().unwrap()])
                .with_proxy_header("X-Client-IP")
        }

        fn parsed(hop: &str) -> Option<IpAddr> {
            hop.trim().parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
        }

        proptest! {
            /// Whatever `X-Forwarded-For` and `proxyHeader` say: an untrusted peer is the
            /// client; from a trusted peer, the client is the peer, the proxy header's address
            /// or an `X-Forwarded-For` entry with only trusted proxies to its right, never an
            /// address a client wrote further left.
            #[test]
            fn the_client_ip_is_never_one_an_untrusted_hop_wrote(
                peer in proptest::sample::select(HOPS).prop_filter_map("an address", parsed),
                lines in proptest::collection::vec(
                    proptest::collection::vec(proptest::sample::select(HOPS), 0..5).prop_map(|hops| hops.join(",")),
                    0..3,
                ),
                proxy_header in proptest::option::of(proptest::sample::select(HOPS)),
            ) {
                let proxies = trusted();
                let mut headers = HeaderMap::new();
                for line in &lines {
                    headers.append("x-forwarded-for", line.parse().unwrap());
                }
                if let Some(value) = proxy_header {
                    headers.insert("x-client-ip", value.parse().unwrap());
                }
                let client = proxies.client_ip(peer, &headers);
                if !proxies.contains(peer) {
                    prop_assert_eq!(client, peer);
                    return Ok(());
                }
                if let Some(ip) = proxy_header.and_then(parsed) {
                    prop_assert_eq!(client, ip, "a trusted peer's proxy header is believed");
                    return Ok(());
                }
                let entries: Vec<&str> = lines.iter().flat_map(|l| l.split(',')).collect();
                let believed = client == peer
                    || (0..entries.len()).any(|i| {
                        parsed(entries[i]) == Some(client)
                            && entries[i + 1..].iter().all(|e| parsed(e).is_some_and(|ip| proxies.contains(ip)))
                    });
                prop_assert!(believed, "{client} from {entries:?} via {peer}");
            }
        }
    }
}
