//! Shipping: carriers, methods and what a cart pays to ship.
//!
//! A method (`standard`, `express`…) serves zones, each a set of countries (or every other
//! country) with a table of weight brackets. A parcel's chargeable weight is the greater of
//! its actual weight and its volumetric weight (L × W × H cm / the method's divisor, in kg):
//! luggage is bulky, and carriers charge for the room it takes. A method may ship free from
//! a goods subtotal. Prices are in the shop's currency ([`model::quote`]).
//!
//! Checkout takes the method the customer names, or the cheapest one serving the
//! destination, and freezes its code, name, carrier and price on the order
//! (`order_shipping`): later edits of the method change no order. The migration seeds one
//! method equivalent to the charge before methods existed (`standard`: every country, the
//! configured flat charge, free from the configured threshold); it follows
//! `VALISE_SHIPPING_FLAT` / `VALISE_SHIPPING_FREE_FROM` at start-up until a manager edits it.
//! A carrier's tracking URL template gives each shipment its tracking URL.

pub mod admin;
pub mod model;
pub mod routes;
pub mod store;
pub mod view;

use crate::catalog::store::{ProductRow, VariantRow};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use model::{quote, Article, Parcel, Quote};
use store::{MethodRow, OrderShippingRow};

pub use admin::configure_admin;
pub use routes::configure;

/// A cart's lines as the cart store reads them: quantity, variant, product.
pub type Line = (i32, VariantRow, ProductRow);

/// The parcel a cart's lines make: each article its product's dimensions and weight.
pub fn parcel_of(lines: &[Line]) -> Parcel {
    Parcel::of(lines.iter().map(|(quantity, _, p)| Article {
        dimensions_cm: [p.height_cm, p.width_cm, p.depth_cm].map(i64::from),
        weight_g: i64::from(p.weight_g),
        quantity: i64::from(*quantity),
    }))
}

/// A method that serves a destination, with its price for one cart.
#[derive(Debug, Clone)]
pub struct Offer {
    pub method: MethodRow,
    pub carrier_name: Option<String>,
    pub quote: Quote,
}

/// The active methods serving `country` for this parcel and goods, cheapest first (then by
/// code, so the order is stable).
pub fn offers(
    conn: &mut DbConnection,
    country: &str,
    parcel: Parcel,
    goods_subtotal: i64,
) -> Result<Vec<Offer>, ApiError> {
    let mut offers: Vec<Offer> = store::active_methods_with_carrier(conn)?
        .into_iter()
        .filter_map(|(method, carrier_name)| {
            let quote = quote(&method.rates(), country, parcel, goods_subtotal)?;
            Some(Offer {
                method,
                carrier_name,
                quote,
            })
        })
        .collect();
    offers.sort_by(|a, b| (a.quote.price, &a.method.code).cmp(&(b.quote.price, &b.method.code)));
    Ok(offers)
}

/// What a cart pays to ship to `country` before the customer chooses: the cheapest
/// method's price, 0 when nothing ships there (checkout then refuses the destination).
pub fn cheapest_price(
    conn: &mut DbConnection,
    country: &str,
    lines: &[Line],
    goods_subtotal: i64,
) -> Result<i64, ApiError> {
    Ok(offers(conn, country, parcel_of(lines), goods_subtotal)?
        .first()
        .map_or(0, |o| o.quote.price))
}

/// The method an order ships with: the one named (`shipping_method`), or the cheapest
/// serving `country`. 422 when the named one is unknown, inactive or does not serve the
/// destination or this parcel, or when no method does.
pub fn choose(
    conn: &mut DbConnection,
    country: &str,
    lines: &[Line],
    goods_subtotal: i64,
    requested: Option<&str>,
) -> Result<Offer, ApiError> {
    let offers = offers(conn, country, parcel_of(lines), goods_subtotal)?;
    match requested {
        None => offers.into_iter().next().ok_or_else(|| {
            ApiError::validation(
                "shipping_address.country",
                "no shipping method serves this country for this cart",
            )
        }),
        Some(code) => {
            let code = code.trim().to_ascii_lowercase();
            offers
                .into_iter()
                .find(|o| o.method.code == code)
                .ok_or_else(|| {
                    ApiError::validation(
                        "shipping_method",
                        "is not a shipping method available for this destination and cart; \
                         see GET /v1/carts/{id}/shipping-options",
                    )
                })
        }
    }
}

/// The frozen record of `offer` for an order.
pub fn record(
    conn: &mut DbConnection,
    order_id: &str,
    offer: &Offer,
) -> Result<OrderShippingRow, ApiError> {
    let row = OrderShippingRow {
        order_id: order_id.to_owned(),
        method_code: offer.method.code.clone(),
        method_name: offer.method.name.clone(),
        carrier_code: offer.method.carrier_code.clone(),
        carrier_name: offer.carrier_name.clone(),
        price: offer.quote.price,
        chargeable_grams: offer.quote.chargeable_g,
    };
    store::record_for_order(conn, &row)?;
    Ok(row)
}

/// The tracking URL of a parcel handed to `carrier` (a carrier's code or name, as staff
/// typed it); `None` for a carrier the shop has not registered.
pub fn tracking_url(
    conn: &mut DbConnection,
    carrier: &str,
    tracking_number: &str,
) -> Result<Option<String>, ApiError> {
    Ok(store::carrier_named(conn, carrier)?
        .map(|c| model::TrackingTemplate::stored(&c.tracking_url).url_for(tracking_number)))
}
