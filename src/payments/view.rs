//! How a payment and its refunds are shown.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{PaymentProvider, PaymentStatus, RefundStatus};
use super::store::{PaymentRow, RefundRow};
use crate::catalog::model::Money;

/// One payment attempt of an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "status": "captured",
    "provider": "test",
    "provider_reference": "test_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "amount": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
    "refunded": {"amount": 0, "currency": "EUR", "minor_unit": 2},
    "created_at": "2025-11-25T14:20:00Z",
    "updated_at": "2025-11-25T14:21:12Z"
}))]
pub struct PaymentView {
    /// The payment's `pay_…` id.
    pub id: String,
    /// The `ord_…` id of the order it pays.
    pub order_id: String,
    /// Where the payment stands; it moves by the provider's webhooks and by refunds.
    pub status: PaymentStatus,
    /// The provider that processes it.
    pub provider: PaymentProvider,
    /// The provider's id for this payment (what its webhooks name).
    pub provider_reference: String,
    /// The amount to take: the order's total when the payment started, in minor units
    /// (cents).
    pub amount: Money,
    /// How much of it has been refunded, or is being refunded, in minor units (cents); 0
    /// until a refund (`GET /v1/admin/payments/{id}/refunds` shows each one).
    pub refunded: Money,
    /// When the payment was started (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its status or refunded amount last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
    /// Only in the answer that started a `stripe` payment (and its replays): what the
    /// frontend or mobile app gives Stripe's own SDK to confirm the payment. Card data go
    /// from the customer to Stripe, never through this API.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
}

impl From<PaymentRow> for PaymentView {
    fn from(p: PaymentRow) -> Self {
        let money = |amount| Money::in_code(amount, &p.currency);
        Self {
            status: p.status(),
            amount: money(p.amount),
            refunded: money(p.refunded_amount),
            id: p.id,
            order_id: p.order_id.into(),
            provider: PaymentProvider::parse(&p.provider).unwrap_or(PaymentProvider::Test),
            provider_reference: p.provider_reference,
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
            client_secret: None,
        }
    }
}

/// Every payment attempt of an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "status": "captured",
    "provider": "test",
    "provider_reference": "test_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "amount": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
    "refunded": {"amount": 0, "currency": "EUR", "minor_unit": 2},
    "created_at": "2025-11-25T14:20:00Z",
    "updated_at": "2025-11-25T14:21:12Z"
}]}))]
pub struct PaymentList {
    /// The order's payments, oldest first (the last one is the current attempt); empty
    /// before the first.
    pub data: Vec<PaymentView>,
}

/// One refund of a payment.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "ref_0193a7c3a10b7d1a9c1e2f6c1f7e9a10",
    "payment_id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "status": "pending",
    "amount": {"amount": 2500, "currency": "EUR", "minor_unit": 2},
    "provider_reference": "re_3PgafyB7WZ01zgkW0xKq2mKd",
    "created_at": "2025-11-26T09:12:00Z",
    "updated_at": "2025-11-26T09:12:01Z"
}))]
pub struct RefundView {
    /// The refund's `ref_…` id.
    pub id: String,
    /// The `pay_…` id of the payment it gives back.
    pub payment_id: String,
    /// Where it stands; it follows the provider's webhooks.
    pub status: RefundStatus,
    /// How much it gives back, in minor units (cents).
    pub amount: Money,
    /// The provider's id for this refund (none until the provider has answered).
    pub provider_reference: Option<String>,
    /// When it was asked for (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its status last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

impl RefundView {
    pub fn new(r: RefundRow, currency: &str) -> Self {
        Self {
            status: r.status(),
            amount: Money::in_code(r.amount, currency),
            id: r.id,
            payment_id: r.payment_id,
            provider_reference: r.provider_reference,
            created_at: r.created_at.and_utc(),
            updated_at: r.updated_at.and_utc(),
        }
    }
}

/// The answer to a refund: the refund, and its payment after it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "refund": {
        "id": "ref_0193a7c3a10b7d1a9c1e2f6c1f7e9a10",
        "payment_id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "status": "pending",
        "amount": {"amount": 2500, "currency": "EUR", "minor_unit": 2},
        "provider_reference": "re_3PgafyB7WZ01zgkW0xKq2mKd",
        "created_at": "2025-11-26T09:12:00Z",
        "updated_at": "2025-11-26T09:12:01Z"
    },
    "payment": {
        "id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
        "status": "partially_refunded",
        "provider": "stripe",
        "provider_reference": "pi_3PgafyB7WZ01zgkW1Ab2Cd3E",
        "amount": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
        "refunded": {"amount": 2500, "currency": "EUR", "minor_unit": 2},
        "created_at": "2025-11-25T14:20:00Z",
        "updated_at": "2025-11-26T09:12:01Z"
    }
}))]
pub struct RefundResult {
    /// The refund this request asked for.
    pub refund: RefundView,
    /// Its payment, with what is refunded or being refunded counted.
    pub payment: PaymentView,
}

/// Every refund of a payment, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
        "id": "ref_0193a7c3a10b7d1a9c1e2f6c1f7e9a10",
        "payment_id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "status": "pending",
        "amount": {"amount": 2500, "currency": "EUR", "minor_unit": 2},
        "provider_reference": "re_3PgafyB7WZ01zgkW0xKq2mKd",
        "created_at": "2025-11-26T09:12:00Z",
        "updated_at": "2025-11-26T09:12:01Z"
    }]}))]
pub struct RefundList {
    /// The payment's refunds, oldest first; empty before the first.
    pub data: Vec<RefundView>,
}
