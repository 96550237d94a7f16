//! How orders are shown: to their owner (decrypted), later to staff (masked or full).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{allowed_actions, Action, Actor, Address, OrderStatus};
use super::store::{self, OrderRow};
use crate::carts::routes::Totals;
use crate::catalog::model::Money;
use crate::crypto::{Crypto, CryptoError, DataKey, Place};
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
    open_with(&key, order)
}

fn open_with(key: &DataKey, order: &OrderRow) -> Result<Option<(String, Address)>, ApiError> {
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

/// Everything an order view shows besides the order row itself.
#[derive(Debug, Default)]
pub struct Parts {
    pub items: Vec<store::ItemRow>,
    pub events: Vec<store::EventRow>,
    pub shipments: Vec<store::ShipmentRow>,
    pub payment_status: Option<String>,
}

/// One order's view, as its owner sees it.
pub fn owner_view(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order: &OrderRow,
    order_token: Option<String>,
) -> Result<OrderView, ApiError> {
    let parts = Parts {
        items: store::items(conn, &order.id)?,
        events: store::events(conn, &order.id)?,
        shipments: store::shipments_of(conn, &order.id)?,
        payment_status: store::payment_status(conn, &order.id)?,
    };
    let personal = open_personal(conn, crypto, order)?;
    Ok(build(order, parts, personal, order_token))
}

/// Many orders' views with a fixed number of queries (lists, exports).
pub fn owner_views(
    conn: &mut DbConnection,
    crypto: &Crypto,
    orders: &[OrderRow],
) -> Result<Vec<OrderView>, ApiError> {
    let ids: Vec<String> = orders.iter().map(|o| o.id.clone()).collect();
    let mut parts = store::parts_of(conn, &ids)?;
    let keys = crypto.data_keys(conn, &ids)?;
    orders
        .iter()
        .map(|order| {
            let personal = match keys.get(&order.id) {
                Some(key) => open_with(key, order)?,
                None => None,
            };
            let parts = parts.remove(&order.id).unwrap_or_default();
            Ok(build(order, parts, personal, None))
        })
        .collect()
}

/// The view of an order from its row and parts (what [`owner_view`] reads, or what the
/// caller just wrote).
pub fn build(
    order: &OrderRow,
    parts: Parts,
    personal: Option<(String, Address)>,
    order_token: Option<String>,
) -> OrderView {
    let money = |amount| Money {
        amount,
        currency: order.currency.clone(),
    };
    let item_count = parts.items.iter().map(|i| i.quantity).sum();
    let items = parts
        .items
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
    let history = parts
        .events
        .into_iter()
        .map(|e| StatusChange {
            from: e.from_status.as_deref().and_then(OrderStatus::parse),
            to: OrderStatus::parse(&e.to_status).unwrap_or(OrderStatus::Cancelled),
            by: e.actor_kind,
            at: e.at.and_utc(),
        })
        .collect();
    let shipments = parts
        .shipments
        .into_iter()
        .map(|s| ShipmentView {
            id: s.id,
            carrier: s.carrier,
            tracking_number: s.tracking_number,
            shipped_at: s.shipped_at.and_utc(),
        })
        .collect();
    let status = order.status();
    OrderView {
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
        payment_status: parts.payment_status,
        contact_email: personal.as_ref().map(|(e, _)| e.clone()),
        shipping_address: personal.map(|(_, a)| a),
        history,
        shipments,
        order_token,
        pay_before: (status == OrderStatus::PendingPayment).then(|| order.expires_at.and_utc()),
        created_at: order.created_at.and_utc(),
        updated_at: order.updated_at.and_utc(),
    }
}
