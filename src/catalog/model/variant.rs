//! A variant and its stock as staff submit them, and their parsed forms.
//!
//! As for products, fields are parsed in a fixed order and the first broken one is
//! reported.

use serde::Deserialize;
use utoipa::ToSchema;

use super::fields::{Color, Price, PriceInput, Sku, Stock, StockDelta, StockReason};
use super::variant_images::{VariantImageInput, VariantImages};
use crate::invalid::Invalid;

/// A variant of a new product, or a new variant of a product.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"sku": "VOY-55-SAGE", "color": "sage", "price": {"amount": 13900}, "available": 12}))]
pub struct NewVariant {
    /// Stock-keeping unit, unique in the shop: 3–40 upper-case letters, digits or dashes.
    #[schema(
        min_length = 3,
        max_length = 40,
        pattern = "^[A-Z0-9-]{3,40}$",
        example = "VOY-55-BLK"
    )]
    pub sku: String,
    /// The colour (or edition) shoppers choose, 1–40 characters (surrounding spaces are
    /// trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "black"
    )]
    pub color: String,
    /// Price of this variant when it differs from the product's; omit (or `null`) to sell it
    /// at the product's price.
    pub price: Option<PriceInput>,
    /// Units in stock to sell, 0–1,000,000.
    #[schema(minimum = 0, maximum = 1_000_000, example = 25)]
    pub available: i32,
    /// Pictures of this variant, main picture first: at most 10, each with alt text and its
    /// size. Default: none.
    #[serde(default)]
    #[schema(max_items = 10)]
    pub images: Vec<VariantImageInput>,
}

/// Changes to a variant; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"color": "sage green", "price": {"amount": 13900}}))]
pub struct VariantPatch {
    /// A new colour, 1–40 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 40,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "sage green"
    )]
    pub color: Option<String>,
    /// A price of its own; `null` returns to the product's price.
    #[serde(default, deserialize_with = "crate::http::extract::explicit_null")]
    #[schema(value_type = Option<PriceInput>)]
    pub price: Option<Option<PriceInput>>,
    /// The complete new list of its pictures (replaces the old one; `[]` removes them): at
    /// most 10, each with alt text and its size.
    #[schema(max_items = 10)]
    pub images: Option<Vec<VariantImageInput>>,
}

/// A stock level, as counted.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"available": 40}))]
pub struct StockLevel {
    /// Units available to order from now on, 0–1,000,000.
    #[schema(minimum = 0, maximum = 1_000_000, example = 40)]
    pub available: i32,
}

/// A change of stock, relative to what is there.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"delta": -2, "reason": "damaged in the warehouse"}))]
pub struct StockAdjustment {
    /// Units to add (positive) or remove (negative): -1,000,000 to 1,000,000, not zero.
    #[schema(minimum = -1_000_000, maximum = 1_000_000, example = -2)]
    pub delta: i32,
    /// Why, for the stock history: 1–200 characters (trimmed; no control characters). Card,
    /// bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 200,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "damaged in the warehouse"
    )]
    pub reason: String,
}

/// A new variant, parsed.
#[derive(Debug, Clone)]
pub struct VariantDraft {
    pub sku: Sku,
    pub color: Color,
    /// Its own price; `None` sells it at the product's.
    pub price: Option<Price>,
    pub available: Stock,
    pub images: VariantImages,
}

impl NewVariant {
    /// `field` is where the variant sits in the body (`variants[2]`, or `$` when it is the
    /// whole body); its fields are reported below it (`variants[2].sku`).
    pub fn parse(self, field: &str) -> Result<VariantDraft, Invalid> {
        Ok(VariantDraft {
            sku: Sku::parse(&format!("{field}.sku"), &self.sku)?,
            color: Color::parse(&format!("{field}.color"), &self.color)?,
            price: self
                .price
                .map(|p| Price::parse(&format!("{field}.price.amount"), p.amount))
                .transpose()?,
            available: Stock::parse(&format!("{field}.available"), self.available)?,
            images: VariantImages::parse(&format!("{field}.images"), self.images)?,
        })
    }
}

/// Changes to a variant, parsed; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct VariantChanges {
    pub color: Option<Color>,
    /// `Some(None)` returns the variant to the product's price.
    pub price: Option<Option<Price>>,
    /// The new pictures, replacing the old ones.
    pub images: Option<VariantImages>,
}

impl VariantPatch {
    pub fn parse(self) -> Result<VariantChanges, Invalid> {
        Ok(VariantChanges {
            color: self.color.map(|c| Color::parse("color", &c)).transpose()?,
            price: self
                .price
                .map(|p| {
                    p.map(|p| Price::parse("price.amount", p.amount))
                        .transpose()
                })
                .transpose()?,
            images: self
                .images
                .map(|i| VariantImages::parse("images", i))
                .transpose()?,
        })
    }
}

impl StockLevel {
    pub fn parse(self) -> Result<Stock, Invalid> {
        Stock::parse("available", self.available)
    }
}

/// A change of stock, parsed.
#[derive(Debug, Clone)]
pub struct StockChange {
    pub delta: StockDelta,
    pub reason: StockReason,
}

impl StockAdjustment {
    pub fn parse(self) -> Result<StockChange, Invalid> {
        Ok(StockChange {
            delta: StockDelta::parse("delta", self.delta)?,
            reason: StockReason::parse("reason", &self.reason)?,
        })
    }
}
