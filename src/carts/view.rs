//! A cart as the API shows it: its lines priced now, shipping to the shop's own country,
//! the discount its code takes off, and the totals, computed once from those.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::store::{self, CartRow};
use crate::catalog::model::Money;
use crate::catalog::store::{ProductRow, VariantRow};
use crate::config::Shop;
use crate::db::DbConnection;
use crate::discounts::quote::CartDiscount;
use crate::http::error::ApiError;

/// One cart line, priced now.
#[derive(Debug, Serialize, ToSchema)]
pub struct CartLine {
    /// The `var_…` id of the variant in the cart.
    #[schema(example = "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub variant_id: String,
    /// The `prod_…` id of its product.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub product_id: String,
    /// The variant's stock-keeping unit.
    #[schema(example = "VOY-55-BLK")]
    pub sku: String,
    /// The product's name.
    #[schema(example = "Voyager 55 Spinner")]
    pub name: String,
    /// The variant's colour.
    #[schema(example = "black")]
    pub color: String,
    /// The price of one unit now.
    pub unit_price: Money,
    /// Units in the cart, 1–20.
    #[schema(minimum = 1, maximum = 20, example = 1)]
    pub quantity: i32,
    /// `unit_price` times `quantity`.
    pub line_total: Money,
    /// Units available now (checkout reserves them).
    #[schema(minimum = 0, example = 25)]
    pub available: i32,
}

/// What the cart comes to, computed by the server.
#[derive(Debug, Serialize, ToSchema)]
pub struct Totals {
    /// The sum of the line totals.
    pub subtotal: Money,
    /// Shipping. For a cart: what the cheapest active method charges to the shop's own
    /// country (`GET /v1/carts/{id}/shipping-options` prices each method for any
    /// destination); 0 for an empty cart. For an order: what it pays for its method. With
    /// the seeded `standard` method alone, as before: 9.90, free from 100.00 (configurable).
    pub shipping: Money,
    /// What discount codes take off the goods and shipping (0 without a code that applies).
    pub discount: Money,
    /// `subtotal` plus `shipping` minus `discount`: what checkout would charge now. Prices
    /// include VAT unless the shop adds tax at checkout (exclusive mode: the order shows it).
    pub total: Money,
    /// Units in the cart, all lines together.
    #[schema(minimum = 0, example = 1)]
    pub item_count: i32,
}

/// A cart, priced now.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "cart_0193a7c25b7e7d1a9c1e2f6c1f7e9a13",
    "items": [{
        "variant_id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "sku": "VOY-55-BLK", "name": "Voyager 55 Spinner", "color": "black",
        "unit_price": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "quantity": 1,
        "line_total": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "available": 25
    }],
    "totals": {
        "subtotal": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "shipping": {"amount": 0, "currency": "EUR", "minor_unit": 2},
        "discount": {"amount": 1290, "currency": "EUR", "minor_unit": 2},
        "total": {"amount": 11610, "currency": "EUR", "minor_unit": 2}, "item_count": 1
    },
    "discount": {
        "code": "WELCOME10", "kind": "percentage", "applies": true, "problem": null,
        "amount": {"amount": 1290, "currency": "EUR", "minor_unit": 2}
    },
    "expires_at": "2026-04-11T10:04:51Z"
}))]
pub struct CartView {
    /// The cart's `cart_…` id.
    #[schema(example = "cart_0193a7c25b7e7d1a9c1e2f6c1f7e9a13")]
    pub id: String,
    /// Guests only, and only in the response that created the cart: send it as
    /// `X-Cart-Token` with every request about this cart. It is not stored readable.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(example = "vc_Jq3ZQ2b0yq8cY0m7V6m4nS0x3u9lH2pK1dF5rT8wE1A")]
    pub cart_token: Option<String>,
    /// Its lines, at most 50 (one per variant).
    #[schema(max_items = 50)]
    pub items: Vec<CartLine>,
    /// What it comes to now.
    pub totals: Totals,
    /// The discount code it carries (`PUT /v1/carts/{id}/discount`); null without one.
    pub discount: Option<CartDiscount>,
    /// When the cart expires (RFC 3339, UTC): 30 days after it was created or its lines last
    /// changed. An expired cart answers 404.
    pub expires_at: DateTime<Utc>,
}

/// What one unit of a cart line costs now: the variant's own price, or its product's.
pub fn unit_price(variant: &VariantRow, product: &ProductRow) -> i64 {
    variant.price_override.unwrap_or(product.base_price)
}

/// The goods subtotal of a cart's lines (as [`store::lines`] reads them), priced now.
pub fn goods_subtotal(lines: &[(i32, VariantRow, ProductRow)]) -> i64 {
    lines
        .iter()
        .map(|(q, v, p)| unit_price(v, p) * i64::from(*q))
        .sum()
}

/// Totals from priced lines: `(unit_price, quantity)`, what shipping them costs, less
/// `discount`.
pub fn totals(
    lines: impl IntoIterator<Item = (i64, i32)>,
    shipping: i64,
    shop: &Shop,
    discount: i64,
) -> Totals {
    let (subtotal, count) = lines
        .into_iter()
        .fold((0i64, 0i32), |(sum, n), (price, q)| {
            (sum + price * i64::from(q), n + q)
        });
    let money = |amount| Money::new(amount, shop.currency);
    Totals {
        subtotal: money(subtotal),
        shipping: money(shipping),
        discount: money(discount),
        total: money(subtotal + shipping - discount),
        item_count: count,
    }
}

/// The cart as it stands now. `token` is shown once, in the answer that created the cart.
pub fn view(
    conn: &mut DbConnection,
    cart: &CartRow,
    shop: &Shop,
    token: Option<String>,
) -> Result<CartView, ApiError> {
    let lines = store::lines(conn, &cart.id)?;
    let subtotal = goods_subtotal(&lines);
    // Before a destination is known, the cart shows what the cheapest method charges to the
    // shop's own country; `GET /v1/carts/{id}/shipping-options` prices any destination.
    let shipping = crate::shipping::cheapest_price(conn, &shop.tax.home_country, &lines, subtotal)?;
    let discount = crate::discounts::quote::for_cart(
        conn,
        &cart.id,
        cart.owner_user_id.as_deref(),
        subtotal,
        shipping,
        shop.currency,
    )?
    .map(|(shown, _)| shown);
    Ok(view_of(cart, &lines, shop, token, shipping, discount))
}

/// A cart's view from its lines, what shipping them costs and the discount its code takes
/// off (a new cart has none of these: nothing to read).
pub fn view_of(
    cart: &CartRow,
    lines: &[(i32, VariantRow, ProductRow)],
    shop: &Shop,
    token: Option<String>,
    shipping: i64,
    discount: Option<CartDiscount>,
) -> CartView {
    let money = |amount| Money::new(amount, shop.currency);
    let items: Vec<CartLine> = lines
        .iter()
        .map(|(q, v, p)| {
            let price = unit_price(v, p);
            CartLine {
                variant_id: v.id.clone(),
                product_id: p.id.clone(),
                sku: v.sku.clone(),
                name: p.name.clone(),
                color: v.color.clone(),
                unit_price: money(price),
                quantity: *q,
                line_total: money(price * i64::from(*q)),
                available: v.available,
            }
        })
        .collect();
    let totals = totals(
        items.iter().map(|l| (l.unit_price.amount, l.quantity)),
        shipping,
        shop,
        discount.as_ref().map_or(0, |d| d.amount.amount),
    );
    CartView {
        id: cart.id.clone(),
        cart_token: token,
        items,
        totals,
        discount,
        expires_at: cart.expires_at.and_utc(),
    }
}
