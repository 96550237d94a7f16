//! Payments of orders that will never be paid (expired, or cancelled while awaiting
//! payment), cancelled at their provider so the customer can no longer pay them.
//!
//! The order's transaction only marks them (no provider may be called inside it); the
//! payments worker asks the provider afterwards, with the payment's own `Idempotency-Key`,
//! and records the payment `cancelled` once the provider has cancelled it. Money a customer
//! manages to pay all the same is refunded whole when its capture is reported.

use super::model::{PaymentProvider, PaymentStatus};
use super::provider::{CancelAnswer, PaymentSettings};
use super::store::{self, PaymentRow};
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::ApiError;

/// Inside the order's transaction: its open payments at a provider that keeps them open
/// (Stripe) marked to be cancelled there. The `test` provider keeps nothing open.
pub fn abandon_for_order(conn: &mut DbConnection, order_id: &str) -> Result<(), ApiError> {
    store::mark_cancel_due(conn, order_id, PaymentProvider::Stripe.as_str())?;
    Ok(())
}

/// Asks the provider to cancel every payment due (a batch at a time); how many it answered.
/// One still unreachable is tried again on the next pass.
pub async fn submit_due(db: &Db, settings: &PaymentSettings) -> Result<usize, ApiError> {
    let due = db
        .run(|conn| Ok::<_, ApiError>(store::cancels_due(conn, 20)?))
        .await?;
    let mut answered = 0;
    for payment in due {
        let answer = match settings.cancel(&payment).await {
            Ok(answer) => answer,
            Err(_) => continue,
        };
        db.run(move |conn| write_transaction(conn, |conn| record(conn, &payment, answer)))
            .await?;
        answered += 1;
    }
    Ok(answered)
}

/// The provider's answer: the payment `cancelled` unless a report moved it past that since
/// (a capture is refunded as its webhook arrives), and nothing more to ask.
fn record(
    conn: &mut DbConnection,
    payment: &PaymentRow,
    answer: CancelAnswer,
) -> Result<(), ApiError> {
    if answer == CancelAnswer::Cancelled {
        let now = store::get(conn, &payment.id)?.ok_or(ApiError::NotFound)?;
        let current = now.status();
        if current.may_become(PaymentStatus::Cancelled, std::cmp::Ordering::Greater) {
            store::set_status(conn, &payment.id, current, PaymentStatus::Cancelled)?;
        }
    }
    store::clear_cancel_due(conn, &payment.id)?;
    Ok(())
}
