//! Provider webhook events applied to payments, refunds and orders: once per event id, and
//! never letting an older report overwrite a newer state.

use serde::Serialize;
use utoipa::ToSchema;

use super::model::{PaymentProvider, PaymentStatus, RefundStatus, WebhookEvent};
use super::refunds;
use super::store::{self, PaymentRow, RefundRow};
use super::stripe::{Event, RefundReport, Update};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::invoices::issue::{self as invoices, Issuer};
use crate::orders::lifecycle::{self, Change};
use crate::orders::model::{Action, Actor, ChangedBy, OrderStatus};
use crate::orders::store as orders;

/// What became of a webhook event: `applied` (the payment, and perhaps the order, moved),
/// `duplicate` (this event id was seen before) or `ignored` (stale, out of order, about
/// something this shop did not create, or of a type this API does not act on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    Applied,
    Duplicate,
    Ignored,
}

/// A `test` provider event, in the caller's transaction.
pub fn apply_test(
    conn: &mut DbConnection,
    issuer: &Issuer,
    event: &WebhookEvent,
) -> Result<WebhookOutcome, ApiError> {
    let provider = PaymentProvider::Test.as_str();
    let (Some(next), Some(event_type)) = (event.status(), event.event_type.as_str()) else {
        return Ok(WebhookOutcome::Ignored);
    };
    let payment = store::get(conn, &event.data.payment_id)?
        .filter(|p| p.provider == provider && p.provider_reference == event.data.provider_reference)
        .ok_or_else(|| {
            ApiError::validation("data.payment_id", "names no payment of this provider")
        })?;
    if !store::record_event(conn, provider, &event.id, &payment.id, event_type)? {
        return Ok(WebhookOutcome::Duplicate);
    }
    if matches!(next, PaymentStatus::Authorized | PaymentStatus::Captured)
        && event.data.amount != payment.amount
    {
        return Err(ApiError::validation(
            "data.amount",
            "does not match the payment's amount",
        ));
    }
    if next == PaymentStatus::Refunded {
        return refunded_by_provider(conn, &payment);
    }
    move_payment(conn, issuer, &payment, next, event.created)
}

/// A Stripe event, in the caller's transaction. Events about objects this shop did not
/// create (another integration on the same account) are acknowledged and ignored, so
/// Stripe stops sending them.
pub fn apply_stripe(
    conn: &mut DbConnection,
    issuer: &Issuer,
    event: &Event,
) -> Result<WebhookOutcome, ApiError> {
    let provider = PaymentProvider::Stripe.as_str();
    match event.update() {
        Update::Ignored => Ok(WebhookOutcome::Ignored),
        Update::Payment {
            intent,
            status,
            amount,
        } => {
            let Some(payment) = store::by_reference(conn, provider, &intent)? else {
                return Ok(WebhookOutcome::Ignored);
            };
            if !store::record_event(conn, provider, &event.id, &payment.id, &event.event_type)? {
                return Ok(WebhookOutcome::Duplicate);
            }
            if status == PaymentStatus::Captured && amount.is_some_and(|a| a != payment.amount) {
                return Err(ApiError::validation(
                    "data.object.amount_received",
                    "does not match the payment's amount",
                ));
            }
            move_payment(conn, issuer, &payment, status, event.created)
        }
        Update::DisputeClosed { intent, outcome } => {
            let Some(payment) = store::by_reference(conn, provider, &intent)? else {
                return Ok(WebhookOutcome::Ignored);
            };
            if !store::record_event(conn, provider, &event.id, &payment.id, &event.event_type)? {
                return Ok(WebhookOutcome::Duplicate);
            }
            let current = payment.status();
            let Some(next) =
                current.after_dispute(outcome, payment.amount, payment.refunded_amount)
            else {
                return Ok(WebhookOutcome::Ignored);
            };
            let at = payment
                .last_event_at
                .map_or(event.created, |last| last.max(event.created));
            Ok(
                if store::set_status_at(conn, &payment.id, current, next, at)? {
                    WebhookOutcome::Applied
                } else {
                    WebhookOutcome::Ignored
                },
            )
        }
        Update::Refunds(list) => {
            let mut known: Vec<(RefundRow, RefundReport)> = Vec::new();
            for report in list {
                if let Some(refund) = refund_of(conn, &report)? {
                    known.push((refund, report));
                }
            }
            let Some((first, _)) = known.first() else {
                return Ok(WebhookOutcome::Ignored);
            };
            if !store::record_event(
                conn,
                provider,
                &event.id,
                &first.payment_id,
                &event.event_type,
            )? {
                return Ok(WebhookOutcome::Duplicate);
            }
            let mut applied = false;
            for (refund, report) in known {
                applied |= if refund.provider_reference.is_none() {
                    refunds::accept(conn, &refund, &report.reference, report.status)?
                } else {
                    refunds::settle(conn, &refund, report.status)?
                };
            }
            Ok(if applied {
                WebhookOutcome::Applied
            } else {
                WebhookOutcome::Ignored
            })
        }
    }
}

/// The refund an event reports: by Stripe's `re_…` id, or, when Valise has not recorded that
/// id yet (the event came before the answer to the refund call), by the `ref_…` id Valise
/// sent as `metadata[refund_id]`. Metadata are only as trustworthy as whoever created the
/// refund at Stripe, so that refund must still await its answer and be of the payment whose
/// PaymentIntent the event names.
fn refund_of(
    conn: &mut DbConnection,
    report: &RefundReport,
) -> Result<Option<RefundRow>, ApiError> {
    if let Some(refund) = store::refund_by_reference(conn, &report.reference)? {
        return Ok(Some(refund));
    }
    let (Some(refund_id), Some(intent)) = (&report.refund_id, &report.intent) else {
        return Ok(None);
    };
    let Some(refund) = store::refund(conn, refund_id)?
        .filter(|r| r.provider_reference.is_none() && r.status() == RefundStatus::Pending)
    else {
        return Ok(None);
    };
    let payment = store::get(conn, &refund.payment_id)?;
    let ours = payment.is_some_and(|p| {
        p.provider == PaymentProvider::Stripe.as_str() && p.provider_reference == *intent
    });
    Ok(ours.then_some(refund))
}

/// The payment moved to `next` as reported by an event created at `created`, and its order
/// paid when that is a capture; `ignored` when the payment is already past it.
fn move_payment(
    conn: &mut DbConnection,
    issuer: &Issuer,
    payment: &PaymentRow,
    next: PaymentStatus,
    created: i64,
) -> Result<WebhookOutcome, ApiError> {
    let current = payment.status();
    if !current.may_become(next, payment.age_of(created)) {
        // Out of order: an older event arriving late never moves a payment backwards.
        return Ok(WebhookOutcome::Ignored);
    }
    let at = payment
        .last_event_at
        .map_or(created, |last| last.max(created));
    if !store::set_status_at(conn, &payment.id, current, next, at)? {
        return Ok(WebhookOutcome::Ignored);
    }
    if next == PaymentStatus::Captured {
        let order = orders::get(conn, &payment.order_id)?.ok_or(ApiError::NotFound)?;
        if order.status() == OrderStatus::PendingPayment {
            lifecycle::apply(
                conn,
                &Change {
                    order: &order,
                    action: Action::MarkPaid,
                    actor: Actor::System,
                    changed_by: ChangedBy::System,
                    actor_id: None,
                    reason: None,
                },
            )?;
            // Paid: its invoice is issued with the capture.
            invoices::issue_at_capture(conn, issuer, &order, &payment.id, payment.amount)?;
        } else {
            // Money taken for an order no longer awaiting it (expired, cancelled, or paid by
            // another payment): given back whole, through the refund worker for a provider.
            tracing::warn!(
                "payment {} captured for order {} which is {}: refunded",
                payment.id,
                order.id,
                order.status
            );
            let captured = store::get(conn, &payment.id)?.ok_or(ApiError::NotFound)?;
            super::refunds::refund_remaining(conn, &captured)?;
        }
    }
    Ok(WebhookOutcome::Applied)
}

/// The provider refunded all that is left of a payment on its own (the `test` provider's
/// `payment.refunded`): recorded as a succeeded refund.
fn refunded_by_provider(
    conn: &mut DbConnection,
    payment: &PaymentRow,
) -> Result<WebhookOutcome, ApiError> {
    let remaining = payment.amount - payment.refunded_amount;
    if remaining < 1 || !store::reserve_refund(conn, &payment.id, remaining)? {
        return Ok(WebhookOutcome::Ignored);
    }
    let now = crate::db::now();
    let refund = RefundRow {
        id: crate::ids::new_id("ref"),
        payment_id: payment.id.clone(),
        amount: remaining,
        status: RefundStatus::Succeeded.as_str().to_owned(),
        provider_reference: None,
        request_key: None,
        request_hash: None,
        created_at: now,
        updated_at: now,
    };
    store::insert_refund(conn, &refund)?;
    refunds::succeeded(conn, &refund)?;
    Ok(WebhookOutcome::Applied)
}

/// The order of an event that may have made documents due, read after it was applied (they
/// are then issued at once rather than by the next pass of the invoices worker): a refund's
/// credit note. A capture's invoice is issued with the capture.
pub fn order_of_test(
    conn: &mut DbConnection,
    event: &WebhookEvent,
) -> Result<Option<String>, ApiError> {
    if event.status() != Some(PaymentStatus::Refunded) {
        return Ok(None);
    }
    Ok(store::get(conn, &event.data.payment_id)?.map(|p| p.order_id.to_string()))
}

/// [`order_of_test`] for a Stripe event.
pub fn order_of_stripe(conn: &mut DbConnection, event: &Event) -> Result<Option<String>, ApiError> {
    let payment = match event.update() {
        Update::Refunds(list) => match list.first() {
            Some(report) => match store::refund_by_reference(conn, &report.reference)? {
                Some(refund) => store::get(conn, &refund.payment_id)?,
                None => None,
            },
            None => None,
        },
        // A capture's invoice is issued with it; a dispute makes no document due.
        Update::Payment { .. } | Update::DisputeClosed { .. } | Update::Ignored => None,
    };
    Ok(payment.map(|p| p.order_id.to_string()))
}
