//! The shop's providers as the use cases call them: which one takes new payments, and the
//! two calls a payment needs (create, refund), each made outside any database transaction.

use super::model::{PaymentProvider, RefundStatus, TestProvider};
use super::store::{PaymentRow, RefundRow};
use super::stripe::{self, Stripe, StripeError};
use crate::config::Config;
use crate::http::error::ApiError;

/// The providers' settings and clients (served to handlers as `web::Data`).
pub struct PaymentSettings {
    /// The `test` provider's webhook secret (`Valise-Signature`).
    pub webhook_secret: Vec<u8>,
    /// Stripe, when configured: then it takes every new payment.
    pub stripe: Option<Stripe>,
}

impl PaymentSettings {
    pub fn from_config(config: &Config) -> anyhow::Result<Self> {
        Ok(Self {
            webhook_secret: config.payment_webhook_secret.expose().as_bytes().to_vec(),
            stripe: config.stripe.clone().map(Stripe::new).transpose()?,
        })
    }

    /// The provider new payments go to.
    pub fn shop_provider(&self) -> PaymentProvider {
        if self.stripe.is_some() {
            PaymentProvider::Stripe
        } else {
            PaymentProvider::Test
        }
    }

    pub fn stripe(&self) -> Result<&Stripe, ApiError> {
        self.stripe.as_ref().ok_or_else(|| {
            ApiError::Unavailable("The `stripe` provider is not configured on this server.".into())
        })
    }

    /// Asks the payment's provider to cancel a payment nobody will pay any more.
    pub async fn cancel(&self, payment: &PaymentRow) -> Result<CancelAnswer, ApiError> {
        match PaymentProvider::parse(&payment.provider) {
            Some(PaymentProvider::Test) => Ok(CancelAnswer::Cancelled),
            Some(PaymentProvider::Stripe) => {
                let answer = self
                    .stripe()?
                    .cancel_intent(
                        &cancel_idempotency_key(&payment.id),
                        &payment.provider_reference,
                    )
                    .await;
                match answer {
                    Ok(intent) if intent.status.as_deref() == Some("canceled") => {
                        Ok(CancelAnswer::Cancelled)
                    }
                    Ok(_) => Ok(CancelAnswer::Kept),
                    Err(StripeError::Refused { status, message }) => {
                        tracing::warn!(
                            "cancellation of payment {} refused by Stripe ({status}): {message}",
                            payment.id
                        );
                        Ok(CancelAnswer::Kept)
                    }
                    Err(e @ StripeError::Unavailable(_)) => Err(unavailable(e)),
                }
            }
            None => Err(ApiError::Internal(anyhow::anyhow!(
                "payment {} has an unknown provider",
                payment.id
            ))),
        }
    }

    /// Asks the payment's provider to give back `refund`; the provider's reference and the
    /// refund's status, or `Refused` when the provider will not.
    pub async fn refund(
        &self,
        payment: &PaymentRow,
        refund: &RefundRow,
    ) -> Result<RefundAnswer, ApiError> {
        match PaymentProvider::parse(&payment.provider) {
            Some(PaymentProvider::Test) => Ok(RefundAnswer::Done {
                reference: TestProvider.refund(&refund.id),
                status: RefundStatus::Succeeded,
            }),
            Some(PaymentProvider::Stripe) => {
                let answer = self
                    .stripe()?
                    .refund(
                        &refund_idempotency_key(&refund.id),
                        &payment.provider_reference,
                        refund.amount,
                        &refund.id,
                    )
                    .await;
                match answer {
                    Ok(r) => Ok(RefundAnswer::Done {
                        status: stripe::refund_status(&r.status),
                        reference: r.id,
                    }),
                    Err(StripeError::Refused { status, message }) => {
                        tracing::warn!(
                            "refund {} refused by Stripe ({status}): {message}",
                            refund.id
                        );
                        Ok(RefundAnswer::Refused)
                    }
                    Err(e @ StripeError::Unavailable(_)) => Err(unavailable(e)),
                }
            }
            None => Err(ApiError::Internal(anyhow::anyhow!(
                "payment {} has an unknown provider",
                payment.id
            ))),
        }
    }
}

/// What a provider made of the cancellation of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelAnswer {
    /// Cancelled: nobody can pay it any more.
    Cancelled,
    /// The provider would not cancel it (paid, being paid, or cancelled already): its
    /// webhooks tell what it is, and a capture of an order no longer awaiting it is refunded.
    Kept,
}

/// What a provider made of a refund.
pub enum RefundAnswer {
    Done {
        reference: String,
        status: RefundStatus,
    },
    Refused,
}

/// The provider did not answer after every try: the caller may retry with the same key.
pub fn unavailable(e: StripeError) -> ApiError {
    tracing::warn!("{e}");
    ApiError::Unavailable(
        "The payment provider did not answer; retry with the same Idempotency-Key.".into(),
    )
}

/// A payment the provider refused for good (an amount below its minimum, say) is a conflict
/// the client cannot retry away (409, with Stripe's error code only); no answer is a 503.
pub fn refused_or_unavailable(e: StripeError) -> ApiError {
    match e {
        StripeError::Refused { status, message } => {
            tracing::warn!("payment refused by Stripe ({status}): {message}");
            ApiError::conflict(
                "The payment provider refused this payment; it cannot be retried as is.",
            )
        }
        e => unavailable(e),
    }
}

/// The `Idempotency-Key` Stripe receives for a refund: one per Valise refund, which is one
/// per Valise `Idempotency-Key`, so a retry of either never refunds twice.
pub fn refund_idempotency_key(refund_id: &str) -> String {
    format!("valise-{refund_id}")
}

/// The `Idempotency-Key` Stripe receives for the cancellation of a payment: one per payment.
pub fn cancel_idempotency_key(payment_id: &str) -> String {
    format!("valise-cancel-{payment_id}")
}

/// The `Idempotency-Key` Stripe receives for a new payment: derived from the client's own
/// key and what it applies to, so a retry reaches the same PaymentIntent.
pub fn payment_idempotency_key(scope: &str, key: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, format!("{scope}|{key}").as_bytes());
    format!("valise-pay-{}", hex::encode(&digest.as_ref()[..16]))
}
