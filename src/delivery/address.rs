//! Which addresses an integrator's webhook may reach: public ones only. A pure policy, with
//! no I/O: [`is_public`] judges one address, [`is_local_name`] the names that mean "this
//! machine" whatever DNS says, and [`judge_host`] a URL's host.
//!
//! std answers what it can on stable Rust (loopback, private, link-local, unique-local,
//! documentation, broadcast, multicast, unspecified); the ranges it leaves to the unstable
//! `ip` feature are listed here as [`ipnet`] networks. IPv6 addresses that carry an IPv4
//! address (IPv4-mapped and -compatible, NAT64, 6to4, Teredo) are judged by the IPv4 address
//! they lead to, and otherwise only global unicast (`2000::/3`) is public.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};

const fn v4(a: u8, b: u8, c: u8, d: u8, prefix: u8) -> Ipv4Net {
    Ipv4Net::new_assert(Ipv4Addr::new(a, b, c, d), prefix)
}

const fn v6(segments: [u16; 8], prefix: u8) -> Ipv6Net {
    let [a, b, c, d, e, f, g, h] = segments;
    Ipv6Net::new_assert(Ipv6Addr::new(a, b, c, d, e, f, g, h), prefix)
}

/// IPv4 ranges that are not public and that std has no stable predicate for.
const V4_NOT_PUBLIC: [Ipv4Net; 5] = [
    // "This network" (RFC 791); 0.0.0.0 itself is `is_unspecified`.
    v4(0, 0, 0, 0, 8),
    // Carrier-grade NAT, shared address space (RFC 6598).
    v4(100, 64, 0, 0, 10),
    // IETF protocol assignments (RFC 6890).
    v4(192, 0, 0, 0, 24),
    // Benchmarking (RFC 2544).
    v4(198, 18, 0, 0, 15),
    // Reserved for future use (RFC 1112), 255.255.255.255 included.
    v4(240, 0, 0, 0, 4),
];

/// The only IPv6 unicast space allocated for the public internet (RFC 4291, IANA).
const V6_GLOBAL_UNICAST: Ipv6Net = v6([0x2000, 0, 0, 0, 0, 0, 0, 0], 3);

/// Parts of [`V6_GLOBAL_UNICAST`] that are not public.
const V6_NOT_PUBLIC: [Ipv6Net; 3] = [
    // IETF protocol assignments (RFC 2928): benchmarking, ORCHID, AMT, … (Teredo, inside
    // it, is judged by its IPv4 addresses before this list is read).
    v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 23),
    // Documentation (RFC 3849, RFC 9637).
    v6([0x2001, 0xdb8, 0, 0, 0, 0, 0, 0], 32),
    v6([0x3fff, 0, 0, 0, 0, 0, 0, 0], 20),
];

/// NAT64's well-known prefix (RFC 6052): the last 32 bits are the IPv4 destination.
const V6_NAT64: Ipv6Net = v6([0x64, 0xff9b, 0, 0, 0, 0, 0, 0], 96);
/// 6to4 (RFC 3056): bits 16–47 are the IPv4 address of the site.
const V6_6TO4: Ipv6Net = v6([0x2002, 0, 0, 0, 0, 0, 0, 0], 16);
/// Teredo (RFC 4380): bits 32–63 are the server's IPv4 address, the last 32 the client's,
/// inverted.
const V6_TEREDO: Ipv6Net = v6([0x2001, 0, 0, 0, 0, 0, 0, 0], 32);

/// Whether `ip` is a public address, one a webhook may be delivered to.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(ip) => is_public_v4(ip),
        IpAddr::V6(ip) => is_public_v6(ip),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_documentation()
        || ip.is_multicast()
        || V4_NOT_PUBLIC.iter().any(|net| net.contains(&ip)))
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if ip.is_unspecified() || ip.is_loopback() {
        return false;
    }
    let embedded = embedded_v4(ip);
    if !embedded.is_empty() {
        return embedded.into_iter().all(is_public_v4);
    }
    !(ip.is_multicast() || ip.is_unique_local() || ip.is_unicast_link_local())
        && V6_GLOBAL_UNICAST.contains(&ip)
        && !V6_NOT_PUBLIC.iter().any(|net| net.contains(&ip))
}

/// The IPv4 addresses an IPv6 address leads to, if it is one of the forms that carry them.
fn embedded_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let s = ip.segments();
    let pair = |hi: usize, lo: usize| Ipv4Addr::from((u32::from(s[hi]) << 16) | u32::from(s[lo]));
    if let Some(v4) = ip.to_ipv4() {
        // IPv4-mapped (::ffff:0:0/96) and the deprecated IPv4-compatible (::/96).
        vec![v4]
    } else if V6_NAT64.contains(&ip) {
        vec![pair(6, 7)]
    } else if V6_6TO4.contains(&ip) {
        vec![pair(1, 2)]
    } else if V6_TEREDO.contains(&ip) {
        vec![pair(2, 3), Ipv4Addr::from(!u32::from(pair(6, 7)))]
    } else {
        Vec::new()
    }
}

/// Names that mean this machine whatever DNS answers (RFC 6761): `localhost` and any name
/// under it, in any case, with or without the final dot.
pub fn is_local_name(name: &str) -> bool {
    let name = name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase();
    name == "localhost" || name.ends_with(".localhost")
}

/// What a URL's host needs before a webhook may go there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HostVerdict<'a> {
    /// A public IP address.
    Public,
    /// A non-public IP address, or a name for this machine.
    Refused,
    /// A name: public only if every address it resolves to is.
    Resolve(&'a str),
}

/// Judges a URL's host as far as it can be judged without resolving it.
pub fn judge_host(host: url::Host<&str>) -> HostVerdict<'_> {
    let ip = match host {
        url::Host::Domain(name) if is_local_name(name) => return HostVerdict::Refused,
        url::Host::Domain(name) => return HostVerdict::Resolve(name),
        url::Host::Ipv4(ip) => IpAddr::V4(ip),
        url::Host::Ipv6(ip) => IpAddr::V6(ip),
    };
    if is_public(ip) {
        HostVerdict::Public
    } else {
        HostVerdict::Refused
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(raw: &str) -> IpAddr {
        raw.parse().unwrap()
    }

    #[test]
    fn internal_addresses_are_not_public() {
        for raw in [
            // IPv4: this network, unspecified, loopback.
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            // Private.
            "10.0.0.5",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            // Link-local, cloud metadata included.
            "169.254.169.254",
            "169.254.0.1",
            // Carrier-grade NAT.
            "100.64.0.1",
            "100.127.255.255",
            // IETF assignments, documentation, benchmarking.
            "192.0.0.1",
            "192.0.0.170",
            "192.0.2.10",
            "198.51.100.7",
            "203.0.113.200",
            "198.18.0.1",
            "198.19.255.255",
            // Multicast, reserved, broadcast.
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.254",
            "255.255.255.255",
            // IPv6: unspecified, loopback.
            "::",
            "::1",
            // Link-local, unique-local, site-local (deprecated), multicast.
            "fe80::1",
            "febf::1",
            "fc00::1",
            "fd00::1",
            "fec0::1",
            "ff02::1",
            "ff0e::1",
            // Discard-only, local-use NAT64, reserved space outside 2000::/3.
            "100::1",
            "64:ff9b:1::a00:1",
            "4000::1",
            // Documentation, benchmarking, ORCHID.
            "2001:db8::1",
            "3fff::1",
            "2001:2::1",
            "2001:20::1",
            // Carrying a non-public IPv4 address: mapped, compatible, NAT64, 6to4, Teredo.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b::a9fe:a9fe",
            "2002:7f00:1::1",
            "2002:a00:1::",
            "2002:c0a8:101::1",
            // Teredo with client 127.0.0.1 (inverted: 80ff:fffe), and with server 10.0.0.1.
            "2001:0:808:808::80ff:fffe",
            "2001:0:a00:1::f7f7:f7f7",
        ] {
            assert!(!is_public(ip(raw)), "{raw} must not be public");
        }
    }

    #[test]
    fn public_addresses_are_public() {
        for raw in [
            "1.1.1.1",
            "8.8.8.8",
            "93.184.215.14",
            "100.63.255.255",
            "100.128.0.1",
            "169.253.255.255",
            "172.15.255.255",
            "172.32.0.1",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.1",
            "223.255.255.255",
            "2606:4700:4700::1111",
            "2a00:1450:4001:80b::200e",
            "2001:4860:4860::8888",
            "2001:200::1",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
            // Teredo: server 8.8.8.8, client 1.1.1.1 (inverted: fefe:fefe).
            "2001:0:808:808::fefe:fefe",
        ] {
            assert!(is_public(ip(raw)), "{raw} must be public");
        }
    }

    #[test]
    fn localhost_and_names_under_it_are_this_machine() {
        for name in [
            "localhost",
            "LOCALHOST",
            "localhost.",
            "api.localhost",
            "a.b.localhost.",
        ] {
            assert!(is_local_name(name), "{name}");
        }
        for name in [
            "localhost.example",
            "mylocalhost",
            "erp.example",
            "notlocalhost.",
        ] {
            assert!(!is_local_name(name), "{name}");
        }
    }

    #[test]
    fn a_urls_host_is_judged_by_its_literal_address_or_left_to_resolution() {
        let judge = |raw: &str| {
            let url = url::Url::parse(raw).unwrap();
            format!("{:?}", judge_host(url.host().unwrap()))
        };
        assert_eq!(judge("https://8.8.8.8/h"), "Public");
        assert_eq!(judge("https://[2606:4700::1]/h"), "Public");
        for refused in [
            "http://127.0.0.1:6379/",
            "https://[::1]:22/",
            "https://[::ffff:127.0.0.1]/",
            "https://169.254.169.254/latest/meta-data",
            // Other spellings of 127.0.0.1 that URL parsing turns into the address.
            "http://2130706433/",
            "http://0x7f.1/",
            "http://0177.0.0.1/",
            "http://0/",
            "https://localhost/",
            "https://LocalHost./",
            "https://db.localhost/",
        ] {
            assert_eq!(judge(refused), "Refused", "{refused}");
        }
        assert_eq!(judge("https://erp.example/h"), r#"Resolve("erp.example")"#);
    }
}
