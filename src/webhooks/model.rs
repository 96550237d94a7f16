//! Integrator subscriptions as values: which events they want and where they go. No HTTP,
//! no SQL.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::delivery::address::{judge_host, HostVerdict};

/// Event families integrators can subscribe to. Names inside a family are `<family>.<name>`,
/// e.g. `order.placed`, `payment.refunded`, `invoice.issued`, `policy.published`,
/// `dsr.completed`, `product.updated`, `variant.stock_changed`.
pub const FAMILIES: [&str; 8] = [
    "order",
    "payment",
    "invoice",
    "credit_note",
    "policy",
    "dsr",
    "product",
    "variant",
];

/// At most this many patterns per subscription.
pub const MAX_PATTERNS: usize = 32;

/// A subscription's event pattern: `<family>.*` or an exact event name, with a family of
/// `order`, `payment`, `invoice`, `credit_note`, `policy`, `dsr`, `product` or `variant` and a
/// name of 1–64 lower-case letters, digits or underscores.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(try_from = "String", into = "String")]
#[schema(
    value_type = String,
    example = "order.*",
    pattern = r"^(order|payment|invoice|credit_note|policy|dsr|product|variant)\.(\*|[a-z0-9_]{1,64})$"
)]
pub struct EventPattern(String);

/// An event integrators receive, by type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum WebhookEventType {
    #[serde(rename = "order.placed")]
    OrderPlaced,
    #[serde(rename = "order.paid")]
    OrderPaid,
    #[serde(rename = "order.shipped")]
    OrderShipped,
    #[serde(rename = "order.delivered")]
    OrderDelivered,
    #[serde(rename = "order.cancelled")]
    OrderCancelled,
    #[serde(rename = "order.expired")]
    OrderExpired,
    #[serde(rename = "order.closed")]
    OrderClosed,
    #[serde(rename = "order.address_corrected")]
    OrderAddressCorrected,
    #[serde(rename = "payment.refunded")]
    PaymentRefunded,
    #[serde(rename = "invoice.issued")]
    InvoiceIssued,
    #[serde(rename = "credit_note.issued")]
    CreditNoteIssued,
    #[serde(rename = "policy.published")]
    PolicyPublished,
    #[serde(rename = "dsr.updated")]
    DsrUpdated,
    #[serde(rename = "dsr.verification_code")]
    DsrVerificationCode,
    /// A product or one of its variants was edited (not its stock): re-read it.
    #[serde(rename = "product.updated")]
    ProductUpdated,
    /// A variant's stock was set or adjusted by staff, or it went out of stock or back in
    /// stock through checkouts and released orders.
    #[serde(rename = "variant.stock_changed")]
    VariantStockChanged,
}

impl WebhookEventType {
    pub const ALL: [WebhookEventType; 16] = [
        WebhookEventType::OrderPlaced,
        WebhookEventType::OrderPaid,
        WebhookEventType::OrderShipped,
        WebhookEventType::OrderDelivered,
        WebhookEventType::OrderCancelled,
        WebhookEventType::OrderExpired,
        WebhookEventType::OrderClosed,
        WebhookEventType::OrderAddressCorrected,
        WebhookEventType::PaymentRefunded,
        WebhookEventType::InvoiceIssued,
        WebhookEventType::CreditNoteIssued,
        WebhookEventType::PolicyPublished,
        WebhookEventType::DsrUpdated,
        WebhookEventType::DsrVerificationCode,
        WebhookEventType::ProductUpdated,
        WebhookEventType::VariantStockChanged,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WebhookEventType::OrderPlaced => "order.placed",
            WebhookEventType::OrderPaid => "order.paid",
            WebhookEventType::OrderShipped => "order.shipped",
            WebhookEventType::OrderDelivered => "order.delivered",
            WebhookEventType::OrderCancelled => "order.cancelled",
            WebhookEventType::OrderExpired => "order.expired",
            WebhookEventType::OrderClosed => "order.closed",
            WebhookEventType::OrderAddressCorrected => "order.address_corrected",
            WebhookEventType::PaymentRefunded => "payment.refunded",
            WebhookEventType::InvoiceIssued => "invoice.issued",
            WebhookEventType::CreditNoteIssued => "credit_note.issued",
            WebhookEventType::PolicyPublished => "policy.published",
            WebhookEventType::DsrUpdated => "dsr.updated",
            WebhookEventType::DsrVerificationCode => "dsr.verification_code",
            WebhookEventType::ProductUpdated => "product.updated",
            WebhookEventType::VariantStockChanged => "variant.stock_changed",
        }
    }

    pub fn parse(s: &str) -> Option<WebhookEventType> {
        WebhookEventType::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

impl EventPattern {
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let (family, name) = raw
            .split_once('.')
            .ok_or("must be <family>.* or an event name such as order.placed")?;
        if !FAMILIES.contains(&family) {
            return Err(
                "names an unknown event family (order, payment, invoice, credit_note, policy, dsr, product, variant)",
            );
        }
        if name != "*" && !is_name(name) {
            return Err("must be <family>.* or an event name such as order.placed");
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, event_type: &str) -> bool {
        match self.0.strip_suffix(".*") {
            Some(family) => event_type
                .strip_prefix(family)
                .is_some_and(|rest| rest.starts_with('.')),
            None => self.0 == event_type,
        }
    }
}

impl TryFrom<String> for EventPattern {
    type Error = &'static str;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EventPattern> for String {
    fn from(p: EventPattern) -> Self {
        p.0
    }
}

/// Whether any of a subscription's patterns matches the event.
pub fn wants(patterns: &[EventPattern], event_type: &str) -> bool {
    patterns.iter().any(|p| p.matches(event_type))
}

/// Which endpoints are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EndpointRules {
    /// Plain `http://` (outside production only).
    pub allow_http: bool,
    /// Loopback, private and other non-public hosts (the development opt-in
    /// `VALISE_WEBHOOK_ALLOW_PRIVATE`).
    pub allow_private: bool,
}

/// The message for an endpoint whose host is not public. It never repeats the URL.
pub const NOT_PUBLIC: &str =
    "must be a public address, not loopback, a private network or another internal address";

/// The receiving endpoint: `https://` (plain `http://` only when allowed), no credentials in
/// the address, at most 2048 characters, and unless allowed no host that is an internal IP
/// address or `localhost` ([`crate::delivery::address`]). A host name's addresses are the
/// caller's to check: that takes a lookup.
pub fn parse_endpoint(raw: &str, rules: EndpointRules) -> Result<url::Url, &'static str> {
    if raw.len() > 2048 {
        return Err("must be at most 2048 characters");
    }
    let url = url::Url::parse(raw.trim()).map_err(|_| "must be an absolute https:// URL")?;
    let scheme_ok = url.scheme() == "https" || (rules.allow_http && url.scheme() == "http");
    let Some(host) = url.host().filter(|_| scheme_ok) else {
        return Err(if rules.allow_http {
            "must be an absolute http(s):// URL"
        } else {
            "must be an absolute https:// URL"
        });
    };
    if !rules.allow_private && judge_host(host) == HostVerdict::Refused {
        return Err(NOT_PUBLIC);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not carry credentials; authenticate deliveries by their signature");
    }
    if url.fragment().is_some() {
        return Err("must not have a #fragment");
    }
    Ok(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_match_the_wire_and_are_subscribable() {
        for e in WebhookEventType::ALL {
            assert_eq!(WebhookEventType::parse(e.as_str()), Some(e));
            assert_eq!(serde_json::to_value(e).unwrap(), e.as_str());
            assert!(EventPattern::parse(e.as_str()).is_ok(), "{}", e.as_str());
        }
    }

    #[test]
    fn family_wildcards_and_exact_names_match_as_expected() {
        let order = EventPattern::parse("order.*").unwrap();
        assert!(order.matches("order.placed") && order.matches("order.address_corrected"));
        assert!(!order.matches("orders.placed") && !order.matches("order"));
        assert!(!order.matches("payment.refunded"));
        let published = EventPattern::parse("policy.published").unwrap();
        assert!(published.matches("policy.published"));
        assert!(!published.matches("policy.published.v2"));
        assert!(wants(&[published, order], "order.paid"));
    }

    #[test]
    fn unknown_families_and_malformed_patterns_are_refused() {
        for bad in [
            "",
            "*",
            "order",
            "order.",
            "user.*",
            "order.Placed",
            "order.*.x",
            "marketing.news",
        ] {
            assert!(EventPattern::parse(bad).is_err(), "{bad}");
        }
        for good in [
            "order.*",
            "payment.*",
            "policy.published",
            "dsr.*",
            "dsr.completed",
        ] {
            assert!(EventPattern::parse(good).is_ok(), "{good}");
        }
    }

    const DEVELOPMENT: EndpointRules = EndpointRules {
        allow_http: true,
        allow_private: false,
    };
    const PRODUCTION: EndpointRules = EndpointRules {
        allow_http: false,
        allow_private: false,
    };
    const LOCAL_RECEIVERS: EndpointRules = EndpointRules {
        allow_http: true,
        allow_private: true,
    };

    #[test]
    fn endpoints_are_https_without_credentials() {
        assert!(parse_endpoint("https://erp.example/hooks?k=1", PRODUCTION).is_ok());
        assert!(parse_endpoint("http://erp.example/hooks", PRODUCTION).is_err());
        assert!(parse_endpoint("http://erp.example/hooks", DEVELOPMENT).is_ok());
        assert!(parse_endpoint("http://127.0.0.1:9000/h", LOCAL_RECEIVERS).is_ok());
        assert!(parse_endpoint("https://user:pw@erp.example/", DEVELOPMENT).is_err());
        assert!(parse_endpoint("ftp://erp.example/", DEVELOPMENT).is_err());
        assert!(parse_endpoint("/relative", DEVELOPMENT).is_err());
    }

    #[test]
    fn internal_hosts_are_refused_unless_development_opted_in() {
        for url in [
            "http://127.0.0.1:6379/",
            "https://169.254.169.254/latest/meta-data",
            "https://10.0.0.5/",
            "https://[::1]:22/",
            "https://localhost/",
            "https://100.64.0.1/",
            "https://[fd00::1]/",
            "https://[::ffff:127.0.0.1]/",
            "https://localhost./",
            "https://2130706433/",
        ] {
            assert_eq!(parse_endpoint(url, DEVELOPMENT), Err(NOT_PUBLIC), "{url}");
            assert!(parse_endpoint(url, PRODUCTION).is_err(), "{url}");
            assert!(parse_endpoint(url, LOCAL_RECEIVERS).is_ok(), "{url}");
        }
        assert!(parse_endpoint("https://8.8.8.8/hook", PRODUCTION).is_ok());
    }
}
