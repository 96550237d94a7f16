//! How orders are shown: to their owner (decrypted), later to staff (masked or full).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{allowed_actions, Action, Actor, Address, OrderStatus};
use super::store::{self, OrderRow};
use crate::carts::routes::Totals;
use crate::catalog::model::Money;
use crate::crypto::{Crypto, CryptoError, Place};
use crate::db::DbConnection;
use crate::http::error::ApiError;

pub const TABLE: &str = "orders";

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemView {
    pub variant_id: String,
    pub product_id: String,
    pub sku: String,
    pub name: String,
    pub color: String,
    pub unit_price: Money,
    pub quantity: i32,
    pub line_total: Money,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChange {
    pub from: Option<OrderStatus>,
    pub to: OrderStatus,
    /// `owner`, `staff` or `system`.
    pub by: String,
    pub at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentView {
    pub id: String,
    pub carrier: String,
    pub tracking_number: String,
    pub shipped_at: DateTime<Utc>,
}

/// An order as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: String,
    /// Human order number, e.g. `LG-7KQ2-9XF4`.
    pub number: String,
    pub status: OrderStatus,
    /// What you may do next with this order.
    pub allowed_transitions: Vec<Action>,
    pub items: Vec<OrderItemView>,
    pub totals: Totals,
    /// Status of the latest payment attempt (`pending`, `authorized`, `captured`, `failed`,
    /// `refunded`, `partially_refunded`), if any.
    pub payment_status: Option<String>,
    #[schema(format = "email")]
    pub contact_email: Option<String>,
    pub shipping_address: Option<Address>,
    pub history: Vec<StatusChange>,
    pub shipments: Vec<ShipmentView>,
    /// Guests only, in the checkout response only: send it as `X-Order-Token` to read this
    /// order. It is stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_token: Option<String>,
    /// While `pending_payment`: when the order expires and its stock is released.
    pub pay_before: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The order's sealed fields, opened. `None` once the order's key has been shredded.
pub fn open_personal(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order: &OrderRow,
) -> Result<Option<(String, Address)>, ApiError> {
    let key = match crypto.data_key(conn, &order.id) {
        Ok(k) => k,
        Err(CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let (Some(email), Some(address)) =
        (&order.contact_email_sealed, &order.shipping_address_sealed)
    else {
        return Ok(None);
    };
    let email = key.open_string(&Place::new(TABLE, "contact_email_sealed", &order.id), email)?;
    let address = key.open(
        &Place::new(TABLE, "shipping_address_sealed", &order.id),
        address,
    )?;
    let address: Address =
        serde_json::from_slice(&address).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Some((email, address)))
}

pub fn owner_view(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order: &OrderRow,
    order_token: Option<String>,
) -> Result<OrderView, ApiError> {
    let money = |amount| Money {
        amount,
        currency: order.currency.clone(),
    };
    let rows = store::items(conn, &order.id)?;
    let item_count = rows.iter().map(|i| i.quantity).sum();
    let items = rows
        .into_iter()
        .map(|i| OrderItemView {
            line_total: money(i.unit_price * i64::from(i.quantity)),
            unit_price: money(i.unit_price),
            variant_id: i.variant_id,
            product_id: i.product_id,
            sku: i.sku,
            name: i.name,
            color: i.color,
            quantity: i.quantity,
        })
        .collect();
    let history = store::events(conn, &order.id)?
        .into_iter()
        .map(|e| StatusChange {
            from: e.from_status.as_deref().and_then(OrderStatus::parse),
            to: OrderStatus::parse(&e.to_status).unwrap_or(OrderStatus::Cancelled),
            by: e.actor_kind,
            at: e.at.and_utc(),
        })
        .collect();
    let shipments = store::shipments_of(conn, &order.id)?
        .into_iter()
        .map(|s| ShipmentView {
            id: s.id,
            carrier: s.carrier,
            tracking_number: s.tracking_number,
            shipped_at: s.shipped_at.and_utc(),
        })
        .collect();
    let personal = open_personal(conn, crypto, order)?;
    let status = order.status();
    Ok(OrderView {
        id: order.id.clone(),
        number: order.number.clone(),
        status,
        allowed_transitions: allowed_actions(status, Actor::Owner),
        items,
        totals: Totals {
            subtotal: money(order.subtotal),
            shipping: money(order.shipping),
            total: money(order.total),
            item_count,
        },
        payment_status: store::payment_status(conn, &order.id)?,
        contact_email: personal.as_ref().map(|(e, _)| e.clone()),
        shipping_address: personal.map(|(_, a)| a),
        history,
        shipments,
        order_token,
        pay_before: (status == OrderStatus::PendingPayment).then(|| order.expires_at.and_utc()),
        created_at: order.created_at.and_utc(),
        updated_at: order.updated_at.and_utc(),
    })
}
