//! Signed POSTs to the gateway and to integrators.

use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use tracing::field::Empty;
use tracing::Instrument;

use super::address::{judge_host, HostVerdict};
use super::resolve::{PublicResolver, Refusal};

/// The error class of a try refused because the endpoint's address is not public: nothing
/// was sent, no connection was even opened.
pub const REFUSED_ADDRESS: &str = "address refused";

/// The outcome of one try. Errors are classes and status codes only: never the URL (it may
/// carry a token) nor anything from the response body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered { status: u16 },
    Failed { status: Option<u16>, error: String },
}

impl Attempt {
    pub fn status_code(&self) -> Option<u16> {
        match self {
            Attempt::Delivered { status } => Some(*status),
            Attempt::Failed { status, .. } => *status,
        }
    }
}

/// Which addresses a [`Sender`] may connect to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reach {
    /// Any address: the operator's own notification gateway, often on a private network
    /// (and integrators' webhooks with the development opt-in).
    Any,
    /// Public addresses only ([`super::address`]): integrators' webhooks. A host name is
    /// resolved once and connected to at the addresses checked; an IP literal, which needs
    /// no resolving, is checked before the request. No proxy: the check must see the real
    /// destination.
    PublicOnly,
}

/// An HTTP client for deliveries: short timeouts, no redirects (a receiver that redirects
/// has not accepted the delivery, and a redirect could lead anywhere).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    reach: Reach,
    /// The queue it delivers for, as its spans name it (`notification`, `webhook`).
    queue: &'static str,
}

impl Sender {
    pub fn new(timeout: Duration, reach: Reach, queue: &'static str) -> anyhow::Result<Self> {
        let mut builder = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("valise-delivery/", env!("CARGO_PKG_VERSION")));
        if reach == Reach::PublicOnly {
            builder = builder.dns_resolver(Arc::new(PublicResolver)).no_proxy();
        }
        let client = builder
            .build()
            .context("building the delivery HTTP client")?;
        Ok(Self {
            client,
            reach,
            queue,
        })
    }

    /// POSTs `body` as JSON, signed with `secret` at the current time, with extra headers.
    ///
    /// Each try is a span (exported when traces are on) with the queue, the status and the
    /// error class: never the URL, whose path or query may hold a token or an address.
    pub async fn post_signed(
        &self,
        url: &str,
        secret: &[u8],
        body: Vec<u8>,
        headers: &[(&'static str, String)],
    ) -> Attempt {
        let span = tracing::info_span!(
            target: "valise::delivery",
            "delivery.attempt",
            otel.name = %format_args!("POST {}", self.queue),
            otel.kind = "client",
            otel.status_code = Empty,
            http.request.method = "POST",
            http.response.status_code = Empty,
            error.r#type = Empty,
            valise.queue = self.queue,
        );
        let attempt = self
            .try_post(url, secret, body, headers)
            .instrument(span.clone())
            .await;
        if let Some(status) = attempt.status_code() {
            span.record("http.response.status_code", i64::from(status));
        }
        if let Attempt::Failed { error, .. } = &attempt {
            span.record("otel.status_code", "error");
            span.record("error.type", error.as_str());
        }
        attempt
    }

    async fn try_post(
        &self,
        url: &str,
        secret: &[u8],
        body: Vec<u8>,
        headers: &[(&'static str, String)],
    ) -> Attempt {
        if self.reach == Reach::PublicOnly && is_refused_literal(url) {
            return Attempt::Failed {
                status: None,
                error: REFUSED_ADDRESS.to_owned(),
            };
        }
        let signature =
            crate::crypto::signature::sign(secret, chrono::Utc::now().timestamp(), &body);
        let mut request = self
            .client
            .post(url)
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header("valise-signature", signature)
            .body(body);
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) if response.status().is_success() => Attempt::Delivered {
                status: response.status().as_u16(),
            },
            Ok(response) => Attempt::Failed {
                status: Some(response.status().as_u16()),
                error: format!("HTTP {}", response.status().as_u16()),
            },
            Err(e) => Attempt::Failed {
                status: None,
                error: error_class(&e).to_owned(),
            },
        }
    }
}

/// Whether the URL's host is an IP address that is not public. reqwest connects to a literal
/// without asking the resolver, so [`PublicResolver`] never sees it.
fn is_refused_literal(url: &str) -> bool {
    let Ok(url) = url::Url::parse(url) else {
        return false;
    };
    match url.host() {
        Some(host @ (url::Host::Ipv4(_) | url::Host::Ipv6(_))) => {
            judge_host(host) == HostVerdict::Refused
        }
        _ => false,
    }
}

/// Whether the request failed because [`PublicResolver`] refused the host.
fn refused_by_resolver(e: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        if cause.downcast_ref::<Refusal>() == Some(&Refusal::NotPublic) {
            return true;
        }
        source = cause.source();
    }
    false
}

fn error_class(e: &reqwest::Error) -> &'static str {
    if refused_by_resolver(e) {
        REFUSED_ADDRESS
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_builder() {
        "invalid request"
    } else {
        "request failed"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A TCP listener on loopback that nothing should reach.
    fn listener() -> (std::net::TcpListener, u16) {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        (listener, port)
    }

    fn connected(listener: &std::net::TcpListener) -> bool {
        listener.accept().is_ok()
    }

    async fn post(sender: &Sender, url: &str) -> Attempt {
        sender
            .post_signed(url, b"secret", b"{}".to_vec(), &[])
            .await
    }

    #[actix_web::test]
    async fn public_only_never_connects_to_loopback_and_says_so_in_one_class() {
        let sender = Sender::new(Duration::from_secs(2), Reach::PublicOnly, "webhook").unwrap();
        let (listener, port) = listener();
        for url in [
            format!("http://127.0.0.1:{port}/hook"),
            format!("http://[::ffff:127.0.0.1]:{port}/hook"),
            format!("http://2130706433:{port}/hook"),
            // Names go through the resolver, which refuses them.
            format!("http://localhost:{port}/hook"),
            format!("http://LocalHost.:{port}/hook"),
        ] {
            let attempt = post(&sender, &url).await;
            assert_eq!(
                attempt,
                Attempt::Failed {
                    status: None,
                    error: REFUSED_ADDRESS.into()
                },
                "{url}"
            );
        }
        assert!(!connected(&listener), "a refused address was connected to");
    }

    #[actix_web::test]
    async fn the_gateway_sender_reaches_any_address() {
        let sender = Sender::new(Duration::from_secs(2), Reach::Any, "notification").unwrap();
        let (listener, port) = listener();
        // The listener never answers: the try times out or fails, but it connected.
        let attempt = actix_web::rt::time::timeout(
            Duration::from_millis(300),
            post(&sender, &format!("http://127.0.0.1:{port}/hook")),
        )
        .await;
        assert!(attempt.is_err(), "{attempt:?}");
        assert!(connected(&listener), "the gateway sender did not connect");
    }

    #[actix_web::test]
    async fn a_name_that_does_not_resolve_is_a_connection_failure_not_a_refusal() {
        let sender = Sender::new(Duration::from_secs(2), Reach::PublicOnly, "webhook").unwrap();
        let attempt = post(&sender, "https://webhooks.invalid/hook").await;
        assert_eq!(attempt.status_code(), None);
        let Attempt::Failed { error, .. } = attempt else {
            panic!("an unknown name was delivered to");
        };
        // `timeout` where no resolver answers within the connect timeout.
        assert!(
            error == "connection failed" || error == "timeout",
            "{error}"
        );
    }
}
