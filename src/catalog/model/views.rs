//! The products and variants as clients see them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::money::Currency;

use super::{
    Dimensions, Feature, Material, ProductStatus, SizeClass, Style, VariantImage, VariantStatus,
    Wheels,
};

/// Money in integer minor units of an ISO 4217 currency, with the currency's exponent so a
/// client can show it: `amount / 10^minor_unit` in `currency`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"amount": 12900, "currency": "EUR", "minor_unit": 2}))]
pub struct Money {
    /// The amount in minor units of `currency` (cents for EUR, yen for JPY, fils for KWD):
    /// `12900` is €129.00.
    #[schema(example = 12900)]
    pub amount: i64,
    /// ISO 4217 code of the shop's currency, the same for every price.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
    /// Digits after the decimal point in `currency` (ISO 4217 minor unit): 2 for EUR, 0 for
    /// JPY, 3 for KWD.
    #[schema(minimum = 0, maximum = 4, example = 2)]
    pub minor_unit: u8,
}

impl Money {
    /// An amount of `currency`.
    pub fn new(amount: i64, currency: Currency) -> Money {
        Money {
            amount,
            currency: currency.code().to_owned(),
            minor_unit: currency.minor_unit(),
        }
    }

    /// An amount in a stored currency code (an order keeps the code it was placed in).
    pub fn in_code(amount: i64, code: &str) -> Money {
        Money {
            amount,
            currency: code.to_owned(),
            minor_unit: crate::money::minor_unit(code),
        }
    }
}

/// One variant with its live availability.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "sku": "VOY-55-BLK", "color": "black",
    "price": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "available": 25, "status": "active",
    "images": [{"url": "https://cdn.example.com/voyager-55-black-front.jpg",
                "alt": "Voyager 55 Spinner in black, front view", "width": 1600, "height": 2000}]
}))]
pub struct VariantView {
    /// The variant's `var_…` id: what carts and orders refer to.
    #[schema(example = "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub id: String,
    /// Stock-keeping unit: 3–40 upper-case letters, digits or dashes, unique in the shop.
    #[schema(example = "VOY-55-BLK")]
    pub sku: String,
    /// The colour (or edition) as shown to shoppers.
    #[schema(example = "black")]
    pub color: String,
    /// The variant's price (its override, or the product's base price).
    pub price: Money,
    /// Units that can be ordered now (listings may be up to two seconds behind).
    #[schema(minimum = 0, example = 25)]
    pub available: i32,
    /// `active`, or `archived` (no longer sold).
    pub status: VariantStatus,
    /// Pictures of this variant, main picture first (at most 10; possibly none: then show
    /// the product's `images`).
    #[schema(max_items = 10)]
    pub images: Vec<VariantImage>,
}

/// A product with its variants.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!(product_example()))]
pub struct ProductView {
    /// The product's `prod_…` id.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub id: String,
    /// URL-safe handle, unique in the shop; `GET /v1/products/{slug}` finds the product too.
    #[schema(example = "voyager-55-spinner")]
    pub slug: String,
    /// The product's name.
    #[schema(example = "Voyager 55 Spinner")]
    pub name: String,
    /// The maker's brand.
    #[schema(example = "Valise")]
    pub brand: String,
    /// Plain text for the product page; may hold line breaks.
    pub description: String,
    /// What the luggage is for.
    pub style: Style,
    /// The shell or body material.
    pub material: Material,
    /// How it rolls, if at all.
    pub wheels: Wheels,
    /// Its features, each at most once, in alphabetical order; empty when it has none.
    pub features: Vec<Feature>,
    /// Years of manufacturer's warranty (0 when none).
    #[schema(minimum = 0, maximum = 25, example = 5)]
    pub warranty_years: i32,
    /// http(s) URLs of its pictures, main picture first; at most 10, possibly none.
    #[schema(max_items = 10)]
    pub images: Vec<String>,
    /// The size class its outer dimensions put it in (underseat: fits 45×36×20 cm; cabin:
    /// fits 55×40×23 cm; medium: longest side ≤ 69 cm; large: ≤ 79 cm; extra_large: longer).
    pub size_class: SizeClass,
    /// Outer dimensions in centimetres.
    pub dimensions_cm: Dimensions,
    /// Empty weight in grams (100–30,000).
    #[schema(minimum = 100, maximum = 30_000, example = 2600)]
    pub weight_g: i32,
    /// Packing volume in litres (1–200).
    #[schema(minimum = 1, maximum = 200, example = 38)]
    pub capacity_l: i32,
    /// The cheapest active variant's price (the base price when no variant is active).
    pub price: Money,
    /// Its variants, archived ones included only when the product is read by id or slug.
    pub variants: Vec<VariantView>,
    /// `active`, or `archived` (kept readable for past orders, not listed).
    pub status: ProductStatus,
    /// When the product was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When the product itself last changed (RFC 3339, UTC); changes to its variants or their
    /// stock do not count.
    pub updated_at: DateTime<Utc>,
}

/// The example product of the document: a cabin spinner in two colours.
pub fn product_example() -> serde_json::Value {
    serde_json::json!({
        "id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "slug": "voyager-55-spinner",
        "name": "Voyager 55 Spinner",
        "brand": "Valise",
        "description": "A light polycarbonate cabin case on four double spinner wheels.",
        "style": "travel",
        "material": "polycarbonate",
        "wheels": "spinner",
        "features": ["expandable", "tsa_lock"],
        "warranty_years": 5,
        "images": ["https://cdn.example.com/voyager-55.jpg"],
        "size_class": "cabin",
        "dimensions_cm": {"height": 55, "width": 40, "depth": 20},
        "weight_g": 2600,
        "capacity_l": 38,
        "price": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
        "variants": [
            {"id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "sku": "VOY-55-BLK", "color": "black",
             "price": {"amount": 12900, "currency": "EUR", "minor_unit": 2}, "available": 25, "status": "active",
             "images": [{"url": "https://cdn.example.com/voyager-55-black-front.jpg",
                         "alt": "Voyager 55 Spinner in black, front view", "width": 1600, "height": 2000}]},
            {"id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a11", "sku": "VOY-55-SAGE", "color": "sage",
             "price": {"amount": 13900, "currency": "EUR", "minor_unit": 2}, "available": 0, "status": "active", "images": []}
        ],
        "status": "active",
        "created_at": "2026-03-02T09:15:00Z",
        "updated_at": "2026-03-10T16:42:07Z"
    })
}

/// One page of products.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [product_example()],
    "next_cursor": "cHJvZHVjdHM6cHJpY2U6MTI5MDB8cHJvZF8wMTkzYTdjMjViN2U3ZDFhOWMxZTJmNmMxZjdlOWExMA",
    "facets": super::facets_example()
}))]
pub struct ProductList {
    /// The products of this page, in the order asked for (at most `limit`).
    #[schema(max_items = 100)]
    pub data: Vec<ProductView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
    /// Counts over the whole result, present only when asked for with `facets=true`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub facets: Option<super::Facets>,
}
