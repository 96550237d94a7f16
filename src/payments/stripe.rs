//! The `stripe` provider: PaymentIntents and refunds through Stripe's API, and its webhook
//! events. Card data never reach Valise: the frontend confirms a PaymentIntent with Stripe's
//! own SDK and its `client_secret`.
//!
//! Every call is a form-encoded POST with a bearer key, a pinned `Stripe-Version`, a
//! timeout, and an `Idempotency-Key` derived from Valise's own ids, so a retry (by us on a
//! 429, a 5xx or a lost connection, or by the client with its own Idempotency-Key) can never
//! charge or refund twice.

use std::time::Duration;

use serde::Deserialize;

use super::model::{DisputeOutcome, PaymentStatus, RefundStatus};
use crate::config::StripeConfig;

/// The API version whose object and event shapes this adapter reads.
pub const API_VERSION: &str = "2025-08-27.basil";

/// Why a call to Stripe did not give an answer.
#[derive(Debug, thiserror::Error)]
pub enum StripeError {
    /// Stripe answered and refused (4xx other than 429): retrying the same call cannot help.
    #[error("Stripe refused the request ({status}): {message}")]
    Refused { status: u16, message: String },
    /// No answer after every try (timeouts, 429, 5xx): the same call may be tried later.
    #[error("Stripe could not be reached: {0}")]
    Unavailable(String),
}

/// A PaymentIntent as far as Valise reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Intent {
    pub id: String,
    pub client_secret: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A refund as far as Valise reads it.
#[derive(Debug, Clone, Deserialize)]
pub struct Refund {
    pub id: String,
    pub status: String,
}

/// Stripe's refund statuses in Valise's words (`requires_action` is still pending;
/// `canceled` gives the money back to refund, as `failed` does).
pub fn refund_status(stripe: &str) -> RefundStatus {
    match stripe {
        "succeeded" => RefundStatus::Succeeded,
        "failed" | "canceled" => RefundStatus::Failed,
        _ => RefundStatus::Pending,
    }
}

/// How a closed dispute ended, from its `status`: `won`, `warning_closed` (an inquiry that
/// never became a dispute) and `prevented` leave the money with the shop; `lost` does not.
/// Any other status is not a closed dispute's.
pub fn dispute_outcome(stripe: &str) -> Option<DisputeOutcome> {
    match stripe {
        "won" | "warning_closed" | "prevented" => Some(DisputeOutcome::Kept),
        "lost" => Some(DisputeOutcome::Lost),
        _ => None,
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    code: Option<String>,
}

/// A client of Stripe's API (cheap to clone: the HTTP client is shared).
#[derive(Clone)]
pub struct Stripe {
    http: reqwest::Client,
    config: StripeConfig,
}

impl Stripe {
    pub fn new(config: StripeConfig) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self { http, config })
    }

    pub fn webhook_secret(&self) -> &[u8] {
        self.config.webhook_secret.expose().as_bytes()
    }

    /// Creates a PaymentIntent of `amount` minor units of `currency` for order `order_id`.
    pub async fn create_intent(
        &self,
        idempotency_key: &str,
        amount: i64,
        currency: &str,
        order_id: &str,
    ) -> Result<Intent, StripeError> {
        let form = [
            ("amount", amount.to_string()),
            ("currency", currency.to_ascii_lowercase()),
            ("automatic_payment_methods[enabled]", "true".to_owned()),
            ("metadata[order_id]", order_id.to_owned()),
        ];
        self.post("/v1/payment_intents", &form, idempotency_key)
            .await
    }

    /// Cancels the PaymentIntent `intent`, which nobody will pay any more.
    pub async fn cancel_intent(
        &self,
        idempotency_key: &str,
        intent: &str,
    ) -> Result<Intent, StripeError> {
        let form = [("cancellation_reason", "abandoned".to_owned())];
        // The id came from Stripe; encoded all the same, so it can only ever name one object.
        let id: String = url::form_urlencoded::byte_serialize(intent.as_bytes()).collect();
        let path = format!("/v1/payment_intents/{id}/cancel");
        self.post(&path, &form, idempotency_key).await
    }

    /// Refunds `amount` minor units of the PaymentIntent `intent`.
    pub async fn refund(
        &self,
        idempotency_key: &str,
        intent: &str,
        amount: i64,
        refund_id: &str,
    ) -> Result<Refund, StripeError> {
        let form = [
            ("payment_intent", intent.to_owned()),
            ("amount", amount.to_string()),
            ("metadata[refund_id]", refund_id.to_owned()),
        ];
        self.post("/v1/refunds", &form, idempotency_key).await
    }

    /// One POST, tried up to `attempts` times while Stripe answers 429 or 5xx or cannot be
    /// reached, waiting `retry_base`, then twice that, and so on, between tries.
    async fn post<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
        form: &[(&str, String)],
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        let url = self
            .config
            .api_base
            .join(path)
            .map_err(|e| StripeError::Unavailable(e.to_string()))?;
        let mut wait = self.config.retry_base;
        let mut last = String::new();
        for attempt in 1..=self.config.attempts.max(1) {
            if attempt > 1 {
                tokio::time::sleep(wait).await;
                wait = wait.saturating_mul(2).min(Duration::from_secs(30));
            }
            let sent = self
                .http
                .post(url.clone())
                .bearer_auth(self.config.secret_key.expose())
                .header("Stripe-Version", API_VERSION)
                .header("Idempotency-Key", idempotency_key)
                .form(form)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) => {
                    last = format!("{path}: {}", without_url(&e));
                    continue;
                }
            };
            let status = response.status();
            if status.is_success() {
                return response.json::<T>().await.map_err(|e| {
                    StripeError::Unavailable(format!("{path}: unreadable answer: {e}"))
                });
            }
            // 409: a request with this Idempotency-Key is still running at Stripe; 401/403: the
            // key was revoked or lacks a permission, which an operator can fix. None says the
            // call was refused for good, so none may fail a refund or a payment.
            if matches!(status.as_u16(), 401 | 403 | 409) {
                return Err(StripeError::Unavailable(format!("{path}: HTTP {status}")));
            }
            if status.as_u16() == 429 || status.is_server_error() {
                last = format!("{path}: HTTP {status}");
                continue;
            }
            let detail = response.json::<ErrorBody>().await.ok().map(|b| b.error);
            let message = detail
                .map(|d| match (d.code, d.message) {
                    (Some(code), Some(message)) => format!("{code}: {message}"),
                    (code, message) => message.or(code).unwrap_or_default(),
                })
                .unwrap_or_default();
            return Err(StripeError::Refused {
                status: status.as_u16(),
                message,
            });
        }
        Err(StripeError::Unavailable(last))
    }
}

/// reqwest's errors name the URL; ours is fixed and known, so only the cause is kept.
fn without_url(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "timed out".into()
    } else if e.is_connect() {
        "connection failed".into()
    } else {
        "request failed".into()
    }
}

/// A Stripe webhook event; fields other than these are not read.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    /// Seconds since the Unix epoch: orders the events about one object.
    pub created: i64,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: serde_json::Value,
}

/// One refund as an event reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundReport {
    /// Stripe's `re_…` id.
    pub reference: String,
    pub status: RefundStatus,
    /// Valise's own `ref_…` id, as sent in `metadata[refund_id]`: names the refund before
    /// the answer carrying its `re_…` id was recorded.
    pub refund_id: Option<String>,
    /// The PaymentIntent refunded.
    pub intent: Option<String>,
}

impl RefundReport {
    /// Reads a refund object; `intent` is the PaymentIntent of the charge carrying it, for a
    /// refund that does not name its own.
    fn read(refund: &serde_json::Value, intent: Option<&str>) -> Option<RefundReport> {
        let text = |pointer: &str| refund.pointer(pointer).and_then(|v| v.as_str());
        Some(RefundReport {
            reference: text("/id")?.to_owned(),
            status: refund_status(text("/status").unwrap_or_default()),
            refund_id: text("/metadata/refund_id").map(str::to_owned),
            intent: text("/payment_intent").or(intent).map(str::to_owned),
        })
    }
}

/// What an event says, in Valise's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Update {
    /// The PaymentIntent (or the charge of it) `intent` is now `status`; `amount` is what
    /// was taken when it says `captured`.
    Payment {
        intent: String,
        status: PaymentStatus,
        amount: Option<i64>,
    },
    /// Refunds of a payment, and what became of each.
    Refunds(Vec<RefundReport>),
    /// The dispute of the PaymentIntent `intent` is closed.
    DisputeClosed {
        intent: String,
        outcome: DisputeOutcome,
    },
    /// A type Valise does not act on.
    Ignored,
}

impl Event {
    /// Reads the event's object for the types Valise acts on.
    pub fn update(&self) -> Update {
        let object = &self.data.object;
        let text = |key: &str| object.get(key).and_then(|v| v.as_str()).map(str::to_owned);
        let payment = |status: PaymentStatus, id_key: &str| match text(id_key) {
            Some(intent) => Update::Payment {
                intent,
                status,
                amount: object.get("amount_received").and_then(|v| v.as_i64()),
            },
            None => Update::Ignored,
        };
        match self.event_type.as_str() {
            "payment_intent.succeeded" => payment(PaymentStatus::Captured, "id"),
            "payment_intent.processing" => payment(PaymentStatus::Processing, "id"),
            "payment_intent.payment_failed" => payment(PaymentStatus::Failed, "id"),
            "payment_intent.canceled" => payment(PaymentStatus::Cancelled, "id"),
            "payment_intent.amount_capturable_updated" => payment(PaymentStatus::Authorized, "id"),
            "charge.dispute.created" => match text("payment_intent") {
                Some(intent) => Update::Payment {
                    intent,
                    status: PaymentStatus::Disputed,
                    amount: None,
                },
                None => Update::Ignored,
            },
            "charge.dispute.closed" => {
                match (
                    text("payment_intent"),
                    dispute_outcome(&text("status").unwrap_or_default()),
                ) {
                    (Some(intent), Some(outcome)) => Update::DisputeClosed { intent, outcome },
                    _ => Update::Ignored,
                }
            }
            "refund.created" | "refund.updated" | "refund.failed" => {
                match RefundReport::read(object, None) {
                    Some(report) => Update::Refunds(vec![report]),
                    None => Update::Ignored,
                }
            }
            // The charge lists its refunds (when the API version still embeds them).
            "charge.refunded" => Update::Refunds(
                object
                    .pointer("/refunds/data")
                    .and_then(|v| v.as_array())
                    .map(|list| {
                        let intent = text("payment_intent");
                        list.iter()
                            .filter_map(|r| RefundReport::read(r, intent.as_deref()))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
            _ => Update::Ignored,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: &str, object: serde_json::Value) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": "evt_1", "object": "event", "type": t, "created": 1, "data": {"object": object}
        }))
        .unwrap()
    }

    #[test]
    fn events_map_onto_payment_and_refund_statuses() {
        let pi =
            serde_json::json!({"id": "pi_1", "object": "payment_intent", "amount_received": 500});
        assert_eq!(
            event("payment_intent.succeeded", pi.clone()).update(),
            Update::Payment {
                intent: "pi_1".into(),
                status: PaymentStatus::Captured,
                amount: Some(500)
            }
        );
        for (t, s) in [
            ("payment_intent.processing", PaymentStatus::Processing),
            ("payment_intent.payment_failed", PaymentStatus::Failed),
            ("payment_intent.canceled", PaymentStatus::Cancelled),
        ] {
            assert!(
                matches!(event(t, pi.clone()).update(), Update::Payment { status, .. } if status == s)
            );
        }
        let dispute = serde_json::json!({"id": "dp_1", "payment_intent": "pi_1"});
        assert!(matches!(
            event("charge.dispute.created", dispute).update(),
            Update::Payment {
                status: PaymentStatus::Disputed,
                ..
            }
        ));
        for (status, outcome) in [
            ("won", Some(DisputeOutcome::Kept)),
            ("warning_closed", Some(DisputeOutcome::Kept)),
            ("lost", Some(DisputeOutcome::Lost)),
            ("under_review", None),
        ] {
            let closed =
                serde_json::json!({"id": "dp_1", "payment_intent": "pi_1", "status": status});
            assert_eq!(
                event("charge.dispute.closed", closed).update(),
                outcome.map_or(Update::Ignored, |outcome| Update::DisputeClosed {
                    intent: "pi_1".into(),
                    outcome
                }),
                "{status}"
            );
        }
        let refund = serde_json::json!({"id": "re_1", "status": "canceled"});
        assert_eq!(
            event("refund.updated", refund).update(),
            Update::Refunds(vec![RefundReport {
                reference: "re_1".into(),
                status: RefundStatus::Failed,
                refund_id: None,
                intent: None,
            }])
        );
        let early = serde_json::json!({
            "id": "re_2", "status": "succeeded", "metadata": {"refund_id": "ref_2"}
        });
        let charge = serde_json::json!({"payment_intent": "pi_1", "refunds": {"data": [early]}});
        assert_eq!(
            event("charge.refunded", charge).update(),
            Update::Refunds(vec![RefundReport {
                reference: "re_2".into(),
                status: RefundStatus::Succeeded,
                refund_id: Some("ref_2".into()),
                intent: Some("pi_1".into()),
            }])
        );
        assert_eq!(event("plan.created", pi).update(), Update::Ignored);
    }
}
