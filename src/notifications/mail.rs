//! The mail channel: a notice goes to its recipient over SMTP (`VALISE_SMTP_URL`), as
//! multipart/alternative with the plain-text and HTML bodies of [`super::templates`]. The
//! address is opened by the worker just before sending and lives only in this call: it is
//! never logged, and an error names an SMTP status code or an error class, never the
//! address or the server's text (which may echo it).

use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::AsyncSmtpTransportBuilder;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use super::templates::{self, Context};
use crate::config::MailConfig;

/// The outcome of one try at sending a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    Accepted,
    /// A transient failure (a 4xx reply, a connection or TLS error, a timeout): try again.
    Transient(String),
    /// The server refused for good (a 5xx reply), or the address is no address: trying
    /// again would be refused the same way.
    Permanent(String),
}

/// A connection pool to the shop's SMTP server and the sender's address.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    shop_url: Option<String>,
}

impl Mailer {
    /// The mailer of `config`; the URL was checked when the configuration was read.
    pub fn new(config: &MailConfig, timeout: std::time::Duration) -> anyhow::Result<Mailer> {
        let transport = transport(config)?.timeout(Some(timeout)).build();
        let from = config
            .from
            .parse::<Mailbox>()
            .map_err(|_| anyhow::anyhow!("VALISE_MAIL_FROM is not a mailbox"))?;
        Ok(Mailer {
            transport,
            from,
            shop_url: config.shop_url.clone(),
        })
    }

    /// Renders the notice and sends it to `to`.
    pub async fn send(
        &self,
        kind: &super::Kind,
        payload: &serde_json::Value,
        to: &str,
        code: Option<&str>,
    ) -> Sent {
        let Ok(to) = to.parse::<Mailbox>() else {
            return Sent::Permanent("invalid recipient address".to_owned());
        };
        let rendered = templates::render(&Context {
            kind,
            payload,
            code,
            shop_url: self.shop_url.as_deref(),
        });
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(rendered.subject)
            .multipart(MultiPart::alternative_plain_html(
                rendered.text,
                rendered.html,
            ));
        let Ok(message) = message else {
            return Sent::Permanent("unbuildable message".to_owned());
        };
        match self.transport.send(message).await {
            Ok(_) => Sent::Accepted,
            Err(e) => classify(&e),
        }
    }
}

/// The transport `VALISE_SMTP_URL` describes. lettre reads the host, the port, the TLS mode
/// and the login (percent-decoded, for AUTH PLAIN or LOGIN after TLS is up); this adds the
/// EHLO name and the private CAs, which lettre's URL cannot carry. Errors never quote the URL:
/// it may hold a password.
fn transport(config: &MailConfig) -> anyhow::Result<AsyncSmtpTransportBuilder> {
    let unusable = || anyhow::anyhow!("VALISE_SMTP_URL is not a usable SMTP URL");
    let url = url::Url::parse(config.url.expose()).map_err(|_| unusable())?;
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(config.url.expose())
        .map_err(|_| unusable())?;
    if let Some((_, domain)) = url.query_pairs().find(|(name, _)| name == "ehlo_domain") {
        builder = builder.hello_name(ClientId::Domain(domain.into_owned()));
    }
    if config.ca_certificates.is_empty() {
        return Ok(builder);
    }
    let host = url.host_str().ok_or_else(unusable)?;
    let mut parameters = TlsParameters::builder(host.to_owned());
    for der in &config.ca_certificates {
        let certificate = Certificate::from_der(der.to_vec())
            .map_err(|_| anyhow::anyhow!("VALISE_SMTP_CA_FILE holds an unusable certificate"))?;
        parameters = parameters.add_root_certificate(certificate);
    }
    let parameters = parameters
        .build()
        .map_err(|_| anyhow::anyhow!("VALISE_SMTP_CA_FILE holds an unusable certificate"))?;
    let tls = match url.query_pairs().find(|(name, _)| name == "tls") {
        _ if url.scheme() == "smtps" => Tls::Wrapper(parameters),
        Some((_, mode)) if mode == "required" => Tls::Required(parameters),
        Some((_, mode)) if mode == "opportunistic" => Tls::Opportunistic(parameters),
        // The configuration refuses a CA without TLS.
        _ => return Err(anyhow::anyhow!("VALISE_SMTP_CA_FILE needs TLS")),
    };
    Ok(builder.tls(tls))
}

/// The class of a failed send, without the server's words.
fn classify(e: &lettre::transport::smtp::Error) -> Sent {
    let code = e
        .status()
        .map(|code| format!("SMTP {code}"))
        .unwrap_or_else(|| {
            if e.is_timeout() {
                "SMTP timeout".to_owned()
            } else if e.is_tls() {
                "SMTP TLS error".to_owned()
            } else if e.is_client() {
                // lettre stopped before sending: the server lacks what the configuration
                // requires (STARTTLS with tls=required, an AUTH mechanism it speaks).
                "SMTP server lacks a required extension".to_owned()
            } else {
                "SMTP connection error".to_owned()
            }
        });
    if e.is_permanent() {
        Sent::Permanent(code)
    } else {
        Sent::Transient(code)
    }
}
