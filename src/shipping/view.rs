//! What clients send and see of shipping: carriers, methods, a cart's options, and the
//! method an order was placed with.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{Bracket, Zone, Zones};
use super::store::{CarrierRow, MethodRow, OrderShippingRow};
use super::Offer;
use crate::catalog::model::Money;
use crate::money::Currency;

/// A carrier as managers write it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"code": "dhl", "name": "DHL Paket",
    "tracking_url_template": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={tracking}"}))]
pub struct CarrierInput {
    /// Create only (on replace, absent or the path's): 1–40 of `a-z`, `0-9`, `-`, `_`;
    /// upper case is lowered.
    #[schema(example = "dhl")]
    pub code: Option<String>,
    /// 1–100 characters.
    #[schema(min_length = 1, max_length = 100, example = "DHL Paket")]
    pub name: String,
    /// An `https` URL of at most 500 characters holding `{tracking}` once; the shipment's
    /// tracking number (percent-encoded) takes its place.
    #[schema(max_length = 500)]
    pub tracking_url_template: String,
}

/// A carrier.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"code": "dhl", "name": "DHL Paket",
    "tracking_url_template": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={tracking}",
    "updated_at": "2026-12-08T09:00:00Z"}))]
pub struct CarrierView {
    /// What methods and shipments name it by.
    pub code: String,
    /// Its name as customers see it on options and orders.
    pub name: String,
    /// An `https` URL holding `{tracking}` once.
    pub tracking_url_template: String,
    /// RFC 3339, UTC.
    pub updated_at: DateTime<Utc>,
}

impl From<CarrierRow> for CarrierView {
    fn from(row: CarrierRow) -> Self {
        CarrierView {
            code: row.code,
            name: row.name,
            tracking_url_template: row.tracking_url,
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Every carrier, by code.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{"code": "dhl", "name": "DHL Paket",
    "tracking_url_template": "https://www.dhl.de/de/privatkunden/pakete-empfangen/verfolgen.html?piececode={tracking}",
    "updated_at": "2026-12-08T09:00:00Z"}]}))]
pub struct CarrierList {
    /// The carriers, by code.
    pub data: Vec<CarrierView>,
}

/// A weight bracket as written: parcels whose chargeable weight is at most `up_to_grams`
/// pay `price`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BracketInput {
    /// Inclusive upper limit of the chargeable weight in grams, rising from bracket to
    /// bracket, at most 1000000; null (last bracket only) for no limit. A parcel heavier
    /// than the last limit is not served by the method.
    #[schema(example = 10000)]
    pub up_to_grams: Option<i64>,
    /// Minor units of the shop's currency (990 is 9.90 EUR), 0 or more.
    #[schema(example = 990)]
    pub price: i64,
}

/// A zone as written: its countries and its brackets.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ZoneInput {
    /// ISO 3166-1 alpha-2 codes (either case), each in one zone of the method at most;
    /// null: every country no other zone lists (one such zone at most).
    #[schema(example = json!(["DE", "AT"]))]
    pub countries: Option<Vec<String>>,
    /// 1–30 brackets, lightest first.
    pub rates: Vec<BracketInput>,
}

/// A shipping method as managers write it (a replace writes every field).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "code": "express", "name": "Express (1–2 days)", "carrier": "dhl", "active": true,
    "volumetric_divisor": 5000, "free_from": 25000,
    "zones": [
        {"countries": ["DE", "AT"], "rates": [{"up_to_grams": 10000, "price": 1490}, {"up_to_grams": 31500, "price": 2490}]},
        {"countries": null, "rates": [{"up_to_grams": 31500, "price": 3990}]}
    ]
}))]
pub struct MethodInput {
    /// Create only (on replace, absent or the path's): 1–40 of `a-z`, `0-9`, `-`, `_`.
    #[schema(example = "express")]
    pub code: Option<String>,
    /// What customers see, 1–100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
    /// A registered carrier's code; null or absent for none.
    pub carrier: Option<String>,
    /// Offered to customers; default true.
    #[serde(default = "yes")]
    pub active: bool,
    /// cm³ per kg for the volumetric weight (L × W × H / divisor), 1000–10000; default 5000.
    #[serde(default = "five_thousand")]
    #[schema(minimum = 1000, maximum = 10000, example = 5000)]
    pub volumetric_divisor: i64,
    /// Goods (in minor units) from which this method ships free; null or absent: never.
    pub free_from: Option<i64>,
    /// 1–30 zones.
    pub zones: Vec<ZoneInput>,
}

fn yes() -> bool {
    true
}

fn five_thousand() -> i64 {
    5_000
}

impl MethodInput {
    pub fn zones(self) -> Vec<Zone> {
        self.zones
            .into_iter()
            .map(|z| Zone {
                countries: z.countries,
                rates: z
                    .rates
                    .into_iter()
                    .map(|b| Bracket {
                        up_to_grams: b.up_to_grams,
                        price: b.price,
                    })
                    .collect(),
            })
            .collect()
    }
}

/// A bracket as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct BracketView {
    /// Inclusive upper limit in grams; null for none.
    pub up_to_grams: Option<i64>,
    /// What a parcel of this bracket pays.
    pub price: Money,
}

/// A zone as shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct ZoneView {
    /// Upper-case ISO 3166-1 alpha-2 codes; null: every country no other zone lists.
    pub countries: Option<Vec<String>>,
    /// Lightest first.
    pub rates: Vec<BracketView>,
}

/// A shipping method.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = method_example)]
pub struct MethodView {
    /// What checkout names it by (`shipping_method`).
    pub code: String,
    /// What customers see.
    pub name: String,
    /// The carrier's code; null for none.
    pub carrier: Option<String>,
    /// Offered to customers.
    pub active: bool,
    /// cm³ per kg: the volumetric weight is L × W × H / divisor.
    pub volumetric_divisor: i64,
    /// Goods from which it ships free; null: never.
    pub free_from: Option<Money>,
    /// Where it ships and at what price; a country's zone is the one listing it, else the
    /// zone with `countries: null`.
    pub zones: Vec<ZoneView>,
    /// The seeded method, still priced by `VALISE_SHIPPING_FLAT` and
    /// `VALISE_SHIPPING_FREE_FROM` (until a manager replaces it).
    pub configured: bool,
    /// RFC 3339, UTC.
    pub updated_at: DateTime<Utc>,
}

fn method_example() -> serde_json::Value {
    let eur =
        |amount: i64| serde_json::json!({"amount": amount, "currency": "EUR", "minor_unit": 2});
    serde_json::json!({
        "code": "standard", "name": "Standard shipping", "carrier": null, "active": true,
        "volumetric_divisor": 5000, "free_from": eur(10000),
        "zones": [{"countries": null, "rates": [{"up_to_grams": null, "price": eur(990)}]}],
        "configured": true, "updated_at": "2026-12-08T00:00:00Z"
    })
}

impl MethodView {
    pub fn new(row: &MethodRow, currency: Currency) -> MethodView {
        let money = |amount| Money::new(amount, currency);
        let Zones(zones) = row.rates().zones;
        MethodView {
            code: row.code.clone(),
            name: row.name.clone(),
            carrier: row.carrier_code.clone(),
            active: row.active,
            volumetric_divisor: i64::from(row.volumetric_divisor),
            free_from: row.free_from.map(money),
            zones: zones
                .into_iter()
                .map(|z| ZoneView {
                    countries: z.countries,
                    rates: z
                        .rates
                        .into_iter()
                        .map(|b| BracketView {
                            up_to_grams: b.up_to_grams,
                            price: money(b.price),
                        })
                        .collect(),
                })
                .collect(),
            configured: row.configured,
            updated_at: row.updated_at.and_utc(),
        }
    }
}

/// Every method, by code.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [method_example()]}))]
pub struct MethodList {
    /// The methods, by code.
    pub data: Vec<MethodView>,
}

/// A method a cart may ship with, and its price for that cart.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShippingOption {
    /// Send it as `shipping_method` at checkout.
    pub code: String,
    /// What customers see.
    pub name: String,
    /// The carrier's name; null for none.
    pub carrier: Option<String>,
    /// What this cart pays to ship with it.
    pub price: Money,
    /// Free by the method's free-shipping threshold.
    pub free: bool,
    /// The weight charged: the greater of the actual and the volumetric weight, in grams.
    pub chargeable_weight_grams: i64,
}

impl ShippingOption {
    pub fn new(offer: Offer, currency: Currency) -> ShippingOption {
        ShippingOption {
            code: offer.method.code,
            name: offer.method.name,
            carrier: offer.carrier_name,
            price: Money::new(offer.quote.price, currency),
            free: offer.quote.free,
            chargeable_weight_grams: offer.quote.chargeable_g,
        }
    }
}

/// The methods that ship a cart to a country, cheapest first; empty when none does.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"country": "DE", "data": [
    {"code": "standard", "name": "Standard shipping", "carrier": null,
     "price": {"amount": 990, "currency": "EUR", "minor_unit": 2}, "free": false,
     "chargeable_weight_grams": 8800},
    {"code": "express", "name": "Express (1–2 days)", "carrier": "DHL Paket",
     "price": {"amount": 1490, "currency": "EUR", "minor_unit": 2}, "free": false,
     "chargeable_weight_grams": 8800}
]}))]
pub struct ShippingOptions {
    /// The destination, upper-case.
    pub country: String,
    /// Cheapest first; checkout without `shipping_method` takes the first.
    pub data: Vec<ShippingOption>,
}

/// The method an order ships with, as it was when the order was placed.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({"code": "standard", "name": "Standard shipping", "carrier": null,
    "price": {"amount": 990, "currency": "EUR", "minor_unit": 2}}))]
pub struct OrderShippingView {
    /// The method's code then.
    pub code: String,
    /// The method's name then.
    pub name: String,
    /// The carrier's name then; null for none.
    pub carrier: Option<String>,
    /// What the order pays for shipping (its `totals.shipping`).
    pub price: Money,
}

impl OrderShippingView {
    pub fn new(row: &OrderShippingRow, currency_code: &str) -> OrderShippingView {
        OrderShippingView {
            code: row.method_code.clone(),
            name: row.method_name.clone(),
            carrier: row.carrier_name.clone(),
            price: Money::in_code(row.price, currency_code),
        }
    }
}
