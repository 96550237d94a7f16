//! `valise healthcheck`: asks a running server's readiness probe (`GET /readyz`), so a
//! container health check needs no shell, curl or wget in the image.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// Why a server is not ready.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("no answer from http://{0}/readyz: {1}")]
    Unreachable(SocketAddr, String),
    #[error("http://{0}/readyz answered {1}")]
    NotReady(SocketAddr, reqwest::StatusCode),
}

/// Where a server listening on `bind` can be asked from the same host: a wildcard address
/// (`0.0.0.0`, `[::]`) listens on loopback too.
pub fn local_address(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

/// Ok when the server on `bind` answers its readiness probe with 200 within `timeout`.
pub fn check_ready(bind: SocketAddr, timeout: Duration) -> Result<(), ProbeError> {
    let address = local_address(bind);
    let unreachable = |e: &dyn std::fmt::Display| ProbeError::Unreachable(address, e.to_string());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| unreachable(&e))?;
    runtime.block_on(async {
        // A proxy from the environment must not stand between the probe and its own host.
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .no_proxy()
            .build()
            .map_err(|e| unreachable(&e))?;
        let response = client
            .get(format!("http://{address}/readyz"))
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        match response.status() {
            reqwest::StatusCode::OK => Ok(()),
            status => Err(ProbeError::NotReady(address, status)),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_listener_is_asked_on_loopback_and_others_as_given() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:8080", "[::1]:8080"),
            ("127.0.0.1:9000", "127.0.0.1:9000"),
            ("10.1.2.3:8080", "10.1.2.3:8080"),
        ];
        for (bind, asked) in cases {
            assert_eq!(
                local_address(bind.parse().unwrap()).to_string(),
                asked,
                "{bind}"
            );
        }
    }
}
