//! How orders are shown: to their owner (decrypted), later to staff (masked or full).

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{allowed_actions, Action, Actor, Address, CancelReason, ChangedBy, OrderStatus};
use super::store::{self, OrderRow, Parts, TaxLineRow};
use crate::carts::view::Totals;
use crate::catalog::model::Money;
use crate::config::TaxMode;
use crate::crypto::{Column, Crypto, CryptoError, DataKey};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::notifications::recipients::{self, Notice};
use crate::payments::model::PaymentStatus;
use crate::shipping::view::OrderShippingView;
use crate::tax::model::Rate;
use crate::tax::view::{TaxLineView, TaxView};

pub const TABLE: &str = "orders";
/// An order's sealed contact email and shipping address (under the order's own key).
pub const CONTACT_EMAIL: Column = Column::new(TABLE, "contact_email_sealed");
pub const SHIPPING_ADDRESS: Column = Column::new(TABLE, "shipping_address_sealed");

/// One line of an order, frozen at checkout (later catalogue changes do not alter it).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderItemView {
    /// The `var_…` id of the variant bought.
    pub variant_id: String,
    /// The `prod_…` id of its product.
    pub product_id: String,
    /// The variant's stock-keeping unit, e.g. `VOY-55-BLK`.
    pub sku: String,
    /// The product's name at checkout.
    pub name: String,
    /// The variant's colour at checkout.
    pub color: String,
    /// The price of one unit at checkout, in minor units (cents).
    pub unit_price: Money,
    /// How many units (at least 1).
    pub quantity: i32,
    /// `unit_price` × `quantity`, in minor units (cents).
    pub line_total: Money,
}

/// One entry of an order's status history.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusChange {
    /// The status before the change; null for the first entry (the order being placed).
    pub from: Option<OrderStatus>,
    /// The status after the change.
    pub to: OrderStatus,
    /// Who made the change.
    pub by: ChangedBy,
    /// When (RFC 3339, UTC).
    pub at: DateTime<Utc>,
    /// Why staff cancelled the order; null for every other change.
    pub reason: Option<CancelReason>,
}

/// An order's events as its history shows them, oldest first.
pub fn history(events: Vec<store::EventRow>) -> Vec<StatusChange> {
    events
        .into_iter()
        .map(|e| StatusChange {
            from: e.from_status.as_deref().and_then(OrderStatus::parse),
            to: OrderStatus::parse(&e.to_status).unwrap_or(OrderStatus::Cancelled),
            by: ChangedBy::parse(&e.actor_kind).unwrap_or(ChangedBy::System),
            at: e.at.and_utc(),
            reason: e.reason.as_deref().and_then(CancelReason::parse),
        })
        .collect()
}

/// A discount code an order redeemed and what it took off.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "code": "WELCOME10",
    "amount": {"amount": 1290, "currency": "EUR", "minor_unit": 2},
    "goods": {"amount": 1290, "currency": "EUR", "minor_unit": 2},
    "shipping": {"amount": 0, "currency": "EUR", "minor_unit": 2}
}))]
pub struct DiscountLineView {
    /// The code, in upper case.
    #[schema(example = "WELCOME10")]
    pub code: String,
    /// All it took off: `goods` plus `shipping`.
    pub amount: Money,
    /// What it took off the goods (spread over their tax rates before tax was computed).
    pub goods: Money,
    /// What it took off shipping (a free-shipping code: all of it).
    pub shipping: Money,
}

/// A parcel handed to a carrier.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentView {
    /// The shipment's `shp_…` id.
    pub id: String,
    /// The carrier's name as staff recorded it, e.g. `bpost` or `PostNL`.
    pub carrier: String,
    /// The carrier's tracking number.
    pub tracking_number: String,
    /// When it was handed to the carrier (RFC 3339, UTC).
    pub shipped_at: DateTime<Utc>,
    /// Where to follow the parcel: the registered carrier's tracking URL template with
    /// this tracking number; null for a carrier the shop has not registered.
    pub tracking_url: Option<String>,
}

/// An order's shipments as shown.
pub fn shipment_views(rows: Vec<store::ShipmentRow>) -> Vec<ShipmentView> {
    rows.into_iter()
        .map(|s| ShipmentView {
            id: s.id,
            carrier: s.carrier,
            tracking_number: s.tracking_number,
            shipped_at: s.shipped_at.and_utc(),
            tracking_url: s.tracking_url,
        })
        .collect()
}

/// An order as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = order_view_example)]
pub struct OrderView {
    /// The order's `ord_…` id.
    pub id: String,
    /// Human order number, e.g. `LG-7KQ2-9XF4`: what the order operations take.
    pub number: String,
    /// Where the order stands.
    pub status: OrderStatus,
    /// What you may do next with this order.
    pub allowed_transitions: Vec<Action>,
    /// The lines bought, by SKU.
    pub items: Vec<OrderItemView>,
    /// Subtotal, shipping, discount and total as charged, in minor units (cents).
    pub totals: Totals,
    /// The discount codes redeemed by this order and what each took off; empty without.
    pub discounts: Vec<DiscountLineView>,
    /// The VAT or sales tax in the totals (or added to them, in exclusive mode), per rate.
    pub tax: TaxView,
    /// Status of the latest payment attempt; null before the first.
    pub payment_status: Option<PaymentStatus>,
    /// Where order updates go; null once the order's personal data has been erased.
    #[schema(format = "email")]
    pub contact_email: Option<String>,
    /// Where the order ships; null once the order's personal data has been erased.
    pub shipping_address: Option<Address>,
    /// Every status change, oldest first; the first is the order being placed.
    pub history: Vec<StatusChange>,
    /// The shipping method chosen at checkout, as it was then (its price is
    /// `totals.shipping`); null on orders placed before shipping methods existed.
    pub shipping_method: Option<OrderShippingView>,
    /// Parcels handed to a carrier, oldest first; empty until the order ships.
    pub shipments: Vec<ShipmentView>,
    /// Guests only, in the checkout response only: send it as `X-Order-Token` to read this
    /// order. It is stored only as a hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_token: Option<String>,
    /// While `pending_payment`: when the order expires and its stock is released (RFC 3339,
    /// UTC); null in any other status.
    pub pay_before: Option<DateTime<Utc>>,
    /// When the order was placed (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When the order last changed, its status or its address (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// The example of [`OrderView`] in the API document: a customer's order, paid.
pub fn order_view_example() -> serde_json::Value {
    serde_json::json!({
        "id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
        "number": "LG-7KQ2-9XF4",
        "status": "paid",
        "allowed_transitions": ["cancel"],
        "items": [{
            "variant_id": "var_0193a6f0c3d87b2a9e4f1c5d6b7a8e90",
            "product_id": "prod_0193a6ef9b1c7d3e8f2a4b6c8d0e1f23",
            "sku": "VOY-55-BLK",
            "name": "Voyager 55 Spinner",
            "color": "black",
            "unit_price": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
            "quantity": 1,
            "line_total": {"amount": 12900, "currency": "EUR", "minor_unit": 2}
        }],
        "totals": {
            "subtotal": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
            "shipping": {"amount": 0, "currency": "EUR", "minor_unit": 2},
            "discount": {"amount": 0, "currency": "EUR", "minor_unit": 2},
            "total": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
            "item_count": 1
        },
        "discounts": [],
        "tax": {
            "mode": "inclusive", "country": "BE",
            "total": {"amount": 2239, "currency": "EUR", "minor_unit": 2},
            "lines": [{
                "rate_basis_points": 2100, "rate_percent": "21",
                "net": {"amount": 10661, "currency": "EUR", "minor_unit": 2},
                "tax": {"amount": 2239, "currency": "EUR", "minor_unit": 2},
                "gross": {"amount": 12900, "currency": "EUR", "minor_unit": 2}
            }]
        },
        "payment_status": "captured",
        "contact_email": "lotte.vermeulen@example.be",
        "shipping_address": {
            "name": "Lotte Vermeulen", "line1": "Kortrijksesteenweg 214", "line2": "bus 3",
            "city": "Gent", "postal_code": "9000", "region": null, "country": "BE"
        },
        "history": [
            {"from": null, "to": "pending_payment", "by": "owner", "at": "2025-11-25T14:19:48Z", "reason": null},
            {"from": "pending_payment", "to": "paid", "by": "system", "at": "2025-11-25T14:21:12Z", "reason": null}
        ],
        "shipping_method": {"code": "standard", "name": "Standard shipping", "carrier": null,
                            "price": {"amount": 0, "currency": "EUR", "minor_unit": 2}},
        "shipments": [],
        "pay_before": null,
        "created_at": "2025-11-25T14:19:48Z",
        "updated_at": "2025-11-25T14:21:12Z"
    })
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

/// A guest order's contact email, the one value the outbox's gateway needs for a notice about
/// it; `None` once the order's key is shredded.
pub fn notice_address(
    conn: &mut DbConnection,
    crypto: &Crypto,
    notice: &Notice<'_>,
) -> Result<Option<recipients::Address>, ApiError> {
    let Some(order) = notice
        .order_id
        .map(|id| store::get(conn, id))
        .transpose()?
        .flatten()
    else {
        return Ok(None);
    };
    let Some(sealed) = &order.contact_email_sealed else {
        return Ok(None);
    };
    let key = match crypto.data_key(conn, &order.id) {
        Ok(key) => key,
        Err(CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let place = CONTACT_EMAIL.at(&order.id);
    Ok(Some(recipients::Address::to(
        key.open_string(&place, sealed)?,
    )))
}

fn open_with(key: &DataKey, order: &OrderRow) -> Result<Option<(String, Address)>, ApiError> {
    let (Some(email), Some(address)) =
        (&order.contact_email_sealed, &order.shipping_address_sealed)
    else {
        return Ok(None);
    };
    let email = key.open_string(&CONTACT_EMAIL.at(&order.id), email)?;
    let address = key.open(&SHIPPING_ADDRESS.at(&order.id), address)?;
    let address = Address::from_sealed_json(&address).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Some((email, address)))
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
        tax_lines: store::tax_lines(conn, &order.id)?,
        shipping_method: crate::shipping::store::of_order(conn, &order.id)?,
        discounts: crate::discounts::store::order_lines(conn, &[order.id.to_string()])?,
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
    let ids: Vec<String> = orders.iter().map(|o| o.id.to_string()).collect();
    let mut parts = store::parts_of(conn, &ids)?;
    let keys = crypto.data_keys(conn, &ids)?;
    orders
        .iter()
        .map(|order| {
            let personal = match keys.get(order.id.as_str()) {
                Some(key) => open_with(key, order)?,
                None => None,
            };
            let parts = parts.remove(order.id.as_str()).unwrap_or_default();
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
    let money = |amount| Money::in_code(amount, &order.currency);
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
    let history = history(parts.events);
    let shipments = shipment_views(parts.shipments);
    let shipping_method = parts
        .shipping_method
        .as_ref()
        .map(|m| OrderShippingView::new(m, &order.currency));
    let status = order.status();
    let tax = tax_view(order, &parts.tax_lines);
    let discounts: Vec<DiscountLineView> = parts
        .discounts
        .iter()
        .map(|d| DiscountLineView {
            code: d.code.clone(),
            amount: money(d.amount()),
            goods: money(d.goods_amount),
            shipping: money(d.shipping_amount),
        })
        .collect();
    OrderView {
        id: order.id.to_string(),
        number: order.number.clone(),
        status,
        allowed_transitions: allowed_actions(status, Actor::Owner),
        items,
        totals: Totals {
            subtotal: money(order.subtotal),
            shipping: money(order.shipping),
            discount: money(order.discount()),
            total: money(order.total),
            item_count,
        },
        discounts,
        tax,
        payment_status: parts.payment_status,
        contact_email: personal.as_ref().map(|(e, _)| e.clone()),
        shipping_address: personal.map(|(_, a)| a),
        history,
        shipping_method,
        shipments,
        order_token,
        pay_before: (status == OrderStatus::PendingPayment).then(|| order.expires_at.and_utc()),
        created_at: order.created_at.and_utc(),
        updated_at: order.updated_at.and_utc(),
    }
}

/// An order's tax record as stored with it.
pub fn tax_view(order: &OrderRow, lines: &[TaxLineRow]) -> TaxView {
    let mode = TaxMode::parse(&order.tax_mode).unwrap_or(TaxMode::Inclusive);
    TaxView {
        mode: mode.into(),
        country: order.tax_country.clone(),
        total: Money::in_code(order.tax_total, &order.currency),
        lines: lines
            .iter()
            .map(|l| {
                let rate = Rate::stored(i64::from(l.rate_bp));
                TaxLineView::new(rate, l.net, l.tax, l.gross, &order.currency)
            })
            .collect(),
    }
}
