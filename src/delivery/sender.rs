//! Signed POSTs to the gateway and to integrators.

use std::time::Duration;

use anyhow::Context;

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

/// One HTTP client for every delivery: short timeouts, no redirects (a receiver that
/// redirects has not accepted the delivery).
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
}

impl Sender {
    pub fn new(timeout: Duration) -> anyhow::Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("valise-delivery/", env!("CARGO_PKG_VERSION")))
            .build()
            .context("building the delivery HTTP client")?;
        Ok(Self { client })
    }

    /// POSTs `body` as JSON, signed with `secret` at the current time, with extra headers.
    pub async fn post_signed(
        &self,
        url: &str,
        secret: &[u8],
        body: Vec<u8>,
        headers: &[(&'static str, String)],
    ) -> Attempt {
        let signature = crate::payments::model::sign(secret, chrono::Utc::now().timestamp(), &body);
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

fn error_class(e: &reqwest::Error) -> &'static str {
    if e.is_timeout() {
        "timeout"
    } else if e.is_connect() {
        "connection failed"
    } else if e.is_builder() {
        "invalid request"
    } else {
        "request failed"
    }
}
