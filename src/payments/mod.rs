//! Payments: a provider-agnostic model with the built-in `test` provider, payment status
//! driven by signed provider webhooks, refunds. No card data exists anywhere in this API.

pub mod model;
pub mod routes;
pub mod store;

use crate::db::DbConnection;
use crate::http::error::ApiError;

/// Refunds every captured amount of an order in full (cancellation after payment).
pub fn refund_all_for_order(conn: &mut DbConnection, order_id: &str) -> Result<(), ApiError> {
    for payment in store::for_order(conn, order_id)? {
        let refundable = payment.amount - payment.refunded_amount;
        if refundable > 0
            && model::PaymentStatus::parse(&payment.status).is_some_and(|s| s.is_captured())
        {
            model::TestProvider.refund(&payment.provider_reference, refundable)?;
            store::record_refund(conn, &payment, refundable)?;
        }
    }
    Ok(())
}
