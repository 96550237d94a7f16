//! Host names resolved to public addresses only, for integrators' webhooks (the policy is
//! [`super::address`]).

use std::net::SocketAddr;

use super::address::{is_local_name, is_public};

/// Why a host name gave no address a webhook may reach.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// A name for this machine, or a name with at least one non-public address.
    #[error("the host name resolves to a non-public address")]
    NotPublic,
    /// No address at all (unknown name, or no answer).
    #[error("the host name does not resolve")]
    NoAddress,
}

/// Resolves `name` once and returns its addresses with `port`, provided every one is
/// public. A name with public and non-public addresses is refused whole: which of them a
/// client would try is not the name owner's to steer.
pub async fn public_addresses(name: &str, port: u16) -> Result<Vec<SocketAddr>, Refusal> {
    if is_local_name(name) {
        return Err(Refusal::NotPublic);
    }
    let addresses: Vec<SocketAddr> = tokio::net::lookup_host((name, port))
        .await
        .map_err(|_| Refusal::NoAddress)?
        .collect();
    if addresses.is_empty() {
        return Err(Refusal::NoAddress);
    }
    if addresses.iter().any(|a| !is_public(a.ip())) {
        return Err(Refusal::NotPublic);
    }
    Ok(addresses)
}

/// reqwest's resolver for integrators' webhooks: the client connects to exactly the
/// addresses checked here (no second lookup between the check and the connection), and a
/// refused name fails the request with [`Refusal`] in its error's sources.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicResolver;

impl reqwest::dns::Resolve for PublicResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        Box::pin(async move {
            let addresses = public_addresses(name.as_str(), 0).await?;
            Ok(Box::new(addresses.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[actix_web::test]
    async fn names_for_this_machine_are_refused_without_a_lookup() {
        for name in ["localhost", "LOCALHOST.", "api.localhost"] {
            assert_eq!(
                public_addresses(name, 443).await,
                Err(Refusal::NotPublic),
                "{name}"
            );
        }
    }

    #[actix_web::test]
    async fn a_name_that_does_not_resolve_has_no_address() {
        // `.invalid` never resolves (RFC 6761).
        assert_eq!(
            public_addresses("webhooks.invalid", 443).await,
            Err(Refusal::NoAddress)
        );
    }

    #[actix_web::test]
    async fn a_literal_internal_address_is_refused_like_a_name_resolving_to_it() {
        // lookup_host takes literals too: the check still applies.
        for literal in ["127.0.0.1", "10.0.0.5", "::1"] {
            assert_eq!(
                public_addresses(literal, 80).await,
                Err(Refusal::NotPublic),
                "{literal}"
            );
        }
    }
}
