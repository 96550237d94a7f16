//! The client's address, for per-client limits: the socket peer, or behind trusted proxies the
//! right-most `X-Forwarded-For` entry that is not one of them.
//!
//! Each proxy appends the address it received the request from, so reading from the right
//! and skipping the proxies the operator named lands on the first hop nobody trusted: the
//! client as the outermost trusted proxy saw it. Entries further left are whatever the
//! client claimed and are never used. Taking the last entry alone would put every client in
//! one bucket behind chained proxies (the last entry is then the previous proxy).

use std::net::IpAddr;

use actix_web::http::header::HeaderMap;

/// The proxies whose `X-Forwarded-For` entries are believed (`VALISE_TRUSTED_PROXIES`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<ipnet::IpNet>);

impl TrustedProxies {
    pub fn new(networks: Vec<ipnet::IpNet>) -> Self {
        Self(networks)
    }

    /// `10.0.0.0/8, 192.168.1.7, ::1` — networks or single addresses, comma-separated.
    pub fn parse(list: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let network = match item.parse::<ipnet::IpNet>() {
                Ok(network) => network,
                Err(_) => item
                    .parse::<IpAddr>()
                    .map(ipnet::IpNet::from)
                    .map_err(|_| "expected IP addresses or CIDR networks, comma-separated")?,
            };
            networks.push(network.trunc());
        }
        Ok(Self(networks))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address: `peer` unless it is a trusted proxy, in which case the right-most
    /// untrusted `X-Forwarded-For` entry (several headers count as one list, in order). When
    /// every entry is trusted, the left-most; a malformed entry ends the walk at the last
    /// trusted hop, since a trusted proxy would not have written it.
    pub fn client(&self, peer: Option<IpAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = canonical(peer?);
        if !self.trusts(peer) {
            return Some(peer);
        }
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for entry in entries.iter().rev() {
            let Some(hop) = parse_hop(entry) else {
                break;
            };
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }
}

/// The client address of a request, under the trusted proxies the app was built with.
pub fn of(req: &actix_web::HttpRequest) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    match req.app_data::<actix_web::web::Data<TrustedProxies>>() {
        Some(proxies) => proxies.client(peer, req.headers()),
        None => peer.map(canonical),
    }
}

/// An `X-Forwarded-For` entry: an address, possibly `[v6]:port` or `v4:port`.
fn parse_hop(entry: &str) -> Option<IpAddr> {
    if let Ok(ip) = entry.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(socket) = entry.parse::<std::net::SocketAddr>() {
        return Some(canonical(socket.ip()));
    }
    None
}

/// IPv4-mapped IPv6 addresses (`::ffff:a.b.c.d`, what a dual-stack socket reports) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// The key of a client in per-client limits: an IPv4 address, or an IPv6 /64 (one host is
/// usually given a whole /64, and could otherwise walk through it to escape a limit).
pub fn limit_key(ip: IpAddr) -> IpAddr {
    match canonical(ip) {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderName, HeaderValue};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(
                HeaderName::from_static("x-forwarded-for"),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_peer_is_the_client_whatever_the_header_says() {
        let none = TrustedProxies::default();
        let forged = headers(&["203.0.113.9"]);
        assert_eq!(
            none.client(Some(ip("198.51.100.1")), &forged),
            Some(ip("198.51.100.1"))
        );
    }

    #[test]
    fn behind_chained_proxies_the_right_most_untrusted_entry_is_the_client() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 172.16.5.4").unwrap();
        // client → CDN edge (172.16.5.4) → load balancer (10.1.1.1) → Valise
        let h = headers(&["6.6.6.6, 203.0.113.7, 172.16.5.4"]);
        assert_eq!(
            proxies.client(Some(ip("10.1.1.1")), &h),
            Some(ip("203.0.113.7"))
        );
        // The same, split over two headers.
        let h = headers(&["6.6.6.6, 203.0.113.7", "172.16.5.4"]);
        assert_eq!(
            proxies.client(Some(ip("10.1.1.1")), &h),
            Some(ip("203.0.113.7"))
        );
        // Two clients behind the same proxies stay apart.
        let other = headers(&["198.51.100.2, 172.16.5.4"]);
        assert_eq!(
            proxies.client(Some(ip("10.1.1.1")), &other),
            Some(ip("198.51.100.2"))
        );
    }

    #[test]
    fn an_untrusted_peer_cannot_forward_for_anyone() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&["10.9.9.9"]);
        assert_eq!(
            proxies.client(Some(ip("203.0.113.7")), &h),
            Some(ip("203.0.113.7"))
        );
    }

    #[test]
    fn malformed_or_exhausted_lists_stop_at_the_last_trusted_hop() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let h = headers(&["not-an-ip, 10.2.2.2"]);
        assert_eq!(
            proxies.client(Some(ip("10.1.1.1")), &h),
            Some(ip("10.2.2.2"))
        );
        assert_eq!(
            proxies.client(Some(ip("10.1.1.1")), &HeaderMap::new()),
            Some(ip("10.1.1.1"))
        );
        let h = headers(&["[2001:db8::1]:4711, 10.2.2.2"]);
        assert_eq!(
            proxies.client(Some(ip("10.1.1.1")), &h),
            Some(ip("2001:db8::1"))
        );
        let h = headers(&["203.0.113.5:80"]);
        assert_eq!(
            proxies.client(Some(ip("10.1.1.1")), &h),
            Some(ip("203.0.113.5"))
        );
    }

    #[test]
    fn mapped_addresses_and_ipv6_neighbours_share_a_key() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let h = headers(&["203.0.113.5"]);
        assert_eq!(
            proxies.client(Some(ip("::ffff:127.0.0.1")), &h),
            Some(ip("203.0.113.5"))
        );
        assert_eq!(
            limit_key(ip("2001:db8:1:2:aaaa::1")),
            limit_key(ip("2001:db8:1:2:bbbb::9"))
        );
        assert_ne!(
            limit_key(ip("2001:db8:1:2::1")),
            limit_key(ip("2001:db8:1:3::1"))
        );
        assert_eq!(limit_key(ip("203.0.113.5")), ip("203.0.113.5"));
    }

    mod fuzz {
        use super::super::*;
        use super::headers;
        use proptest::prelude::*;

        fn entry() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<std::net::Ipv4Addr>().prop_map(|ip| ip.to_string()),
                any::<std::net::Ipv6Addr>().prop_map(|ip| ip.to_string()),
                Just("10.0.0.1".to_owned()),
                "[ -~]{0,20}",
            ]
        }

        proptest! {
            #[test]
            fn fuzz_forwarded_for_names_the_peer_or_a_listed_hop(
                entries in prop::collection::vec(entry(), 0..8),
                peer in prop_oneof![
                    any::<std::net::Ipv4Addr>(),
                    Just(std::net::Ipv4Addr::new(10, 0, 0, 9)),
                ],
            ) {
                let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
                let joined = entries.join(",");
                let Ok(value) = actix_web::http::header::HeaderValue::from_str(&joined) else {
                    return Ok(());
                };
                let mut map = headers(&[]);
                map.insert(actix_web::http::header::HeaderName::from_static("x-forwarded-for"), value);
                let client = proxies.client(Some(IpAddr::V4(peer)), &map).unwrap();
                if !proxies.trusts(IpAddr::V4(peer)) {
                    prop_assert_eq!(client, IpAddr::V4(peer), "an untrusted peer is the client");
                }
                // The answer is the peer or one of the entries, never something made up.
                let listed = entries.iter().any(|e| parse_hop(e.trim()) == Some(client));
                prop_assert!(client == IpAddr::V4(peer) || listed);
            }
        }
    }

    #[test]
    fn the_list_is_validated() {
        assert!(TrustedProxies::parse("10.0.0.0/8, ::1, 192.168.1.7").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.internal").is_err());
        assert!(TrustedProxies::parse("").unwrap().is_empty());
    }
}
