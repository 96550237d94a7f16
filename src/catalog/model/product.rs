//! A product as staff submit it, new or changed, and its parsed form: every field a type
//! of [`super::fields`], so creating and changing a product apply the same limits.
//!
//! Fields are parsed in a fixed order and the first broken one is reported, so the order
//! below is part of what clients see.

use serde::Deserialize;
use utoipa::ToSchema;

use super::fields::{
    slugify, Brand, Capacity, Description, Features, Images, Price, PriceInput, ProductName, Slug,
    Warranty, Weight,
};
use super::variant::{NewVariant, VariantDraft};
use super::{Dimensions, Feature, Material, Style, Wheels};
use crate::invalid::Invalid;

/// A new product with its variants.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({
    "name": "Voyager 55 Spinner", "brand": "Valise",
    "description": "A light polycarbonate cabin case on four double spinner wheels.",
    "style": "travel", "material": "polycarbonate", "wheels": "spinner", "features": ["tsa_lock", "expandable"],
    "warranty_years": 5, "images": ["https://cdn.example.com/voyager-55.jpg"],
    "dimensions_cm": {"height": 55, "width": 40, "depth": 20}, "weight_g": 2600, "capacity_l": 38,
    "price": {"amount": 12900},
    "variants": [
        {"sku": "VOY-55-BLK", "color": "black", "available": 25},
        {"sku": "VOY-55-SAGE", "color": "sage", "price": {"amount": 13900}, "available": 12}
    ]
}))]
pub struct NewProduct {
    /// URL-safe handle, unique in the shop: 1–100 lower-case letters, digits and single
    /// dashes, neither first nor last. Omit (or `null`) to make one from the name.
    #[schema(
        min_length = 1,
        max_length = 100,
        pattern = "^[a-z0-9]+(?:-[a-z0-9]+)*$",
        example = "voyager-55-spinner"
    )]
    pub slug: Option<String>,
    /// The product's name, 1–120 characters (surrounding spaces are trimmed; no control
    /// characters).
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Voyager 55 Spinner"
    )]
    pub name: String,
    /// The maker's brand, 1–60 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Valise"
    )]
    pub brand: String,
    /// Plain text for the product page, 1–4,000 characters (trimmed; line breaks allowed,
    /// no other control characters). Card, bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub description: String,
    /// What the luggage is for.
    pub style: Style,
    /// The shell or body material.
    pub material: Material,
    /// How it rolls, if at all.
    pub wheels: Wheels,
    /// Its features; repeats count once. Default: none.
    #[serde(default)]
    pub features: Vec<Feature>,
    /// Years of manufacturer's warranty, 0–25.
    #[schema(minimum = 0, maximum = 25, example = 5)]
    pub warranty_years: i32,
    /// http(s) URLs of its pictures, main picture first: at most 10, each at most 500 bytes
    /// without spaces or control characters. Default: none.
    #[serde(default)]
    #[schema(max_items = 10, value_type = Vec<ImageUrl>)]
    pub images: Vec<String>,
    /// Outer dimensions in centimetres; they decide the size class.
    pub dimensions_cm: Dimensions,
    /// Empty weight in grams, 100–30,000.
    #[schema(minimum = 100, maximum = 30_000, example = 2600)]
    pub weight_g: i32,
    /// Packing volume in litres, 1–200.
    #[schema(minimum = 1, maximum = 200, example = 38)]
    pub capacity_l: i32,
    /// Base price; variants may override it.
    pub price: PriceInput,
    /// Its variants, each with its own SKU and stock. Default: none (add them later).
    #[serde(default)]
    pub variants: Vec<NewVariant>,
}

/// An image URL as the catalogue takes it: `http://` or `https://`, at most 500 bytes, without
/// whitespace or control characters.
#[derive(ToSchema)]
#[allow(dead_code)]
#[schema(
    max_length = 500,
    pattern = r"^https?://[^\u0000-\u0020\u007f-\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$",
    example = "https://cdn.example.com/voyager-55.jpg"
)]
pub struct ImageUrl(String);

/// Changes to a product; absent fields stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"price": {"amount": 11900}, "features": ["expandable", "tsa_lock", "usb_port"]}))]
pub struct ProductPatch {
    /// A new name, 1–120 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 120,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Voyager 55 Spinner"
    )]
    pub name: Option<String>,
    /// A new brand, 1–60 characters (trimmed; no control characters).
    #[schema(
        min_length = 1,
        max_length = 60,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$",
        example = "Valise"
    )]
    pub brand: Option<String>,
    /// A new description, 1–4,000 characters (trimmed; line breaks allowed, no other control
    /// characters). Card, bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub description: Option<String>,
    /// A new style.
    pub style: Option<Style>,
    /// A new material.
    pub material: Option<Material>,
    /// New wheels.
    pub wheels: Option<Wheels>,
    /// The complete new list of features (replaces the old one; repeats count once).
    pub features: Option<Vec<Feature>>,
    /// Years of manufacturer's warranty, 0–25.
    #[schema(minimum = 0, maximum = 25, example = 5)]
    pub warranty_years: Option<i32>,
    /// The complete new list of image URLs (replaces the old one): at most 10, each an
    /// http(s) URL of at most 500 bytes without spaces or control characters.
    #[schema(max_items = 10, value_type = Option<Vec<ImageUrl>>)]
    pub images: Option<Vec<String>>,
    /// New outer dimensions in centimetres; the size class follows them.
    pub dimensions_cm: Option<Dimensions>,
    /// Empty weight in grams, 100–30,000.
    #[schema(minimum = 100, maximum = 30_000, example = 2600)]
    pub weight_g: Option<i32>,
    /// Packing volume in litres, 1–200.
    #[schema(minimum = 1, maximum = 200, example = 38)]
    pub capacity_l: Option<i32>,
    /// A new base price (variants with a price of their own keep it).
    pub price: Option<PriceInput>,
}

/// A new product, parsed.
#[derive(Debug, Clone)]
pub struct ProductDraft {
    pub slug: Slug,
    pub name: ProductName,
    pub brand: Brand,
    pub description: Description,
    pub style: Style,
    pub material: Material,
    pub wheels: Wheels,
    pub features: Features,
    pub warranty: Warranty,
    pub images: Images,
    pub dimensions: Dimensions,
    pub weight: Weight,
    pub capacity: Capacity,
    pub price: Price,
    pub variants: Vec<VariantDraft>,
}

impl NewProduct {
    /// Without a slug, the product gets one made from its name (refused as `name` when the
    /// name makes none).
    pub fn parse(self) -> Result<ProductDraft, Invalid> {
        let name = ProductName::parse("name", &self.name)?;
        let slug = match &self.slug {
            Some(s) => Slug::parse("slug", s)?,
            None => Slug::parse("name", &slugify(name.as_str()))?,
        };
        let description = Description::parse("description", &self.description)?;
        let price = Price::parse("price.amount", self.price.amount)?;
        let brand = Brand::parse("brand", &self.brand)?;
        let warranty = Warranty::parse("warranty_years", self.warranty_years)?;
        let images = Images::parse("images", self.images)?;
        let weight = Weight::parse("weight_g", self.weight_g)?;
        let capacity = Capacity::parse("capacity_l", self.capacity_l)?;
        let dimensions = self.dimensions_cm.validate("dimensions_cm")?;
        let variants = self
            .variants
            .into_iter()
            .enumerate()
            .map(|(i, v)| v.parse(&format!("variants[{i}]")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(ProductDraft {
            slug,
            name,
            brand,
            description,
            style: self.style,
            material: self.material,
            wheels: self.wheels,
            features: Features::new(&self.features),
            warranty,
            images,
            dimensions,
            weight,
            capacity,
            price,
            variants,
        })
    }
}

/// Changes to a product, parsed; `None` leaves a field as it is.
#[derive(Debug, Clone)]
pub struct ProductChanges {
    pub name: Option<ProductName>,
    pub brand: Option<Brand>,
    pub description: Option<Description>,
    pub style: Option<Style>,
    pub material: Option<Material>,
    pub wheels: Option<Wheels>,
    pub features: Option<Features>,
    pub warranty: Option<Warranty>,
    pub images: Option<Images>,
    pub dimensions: Option<Dimensions>,
    pub weight: Option<Weight>,
    pub capacity: Option<Capacity>,
    pub price: Option<Price>,
}

impl ProductPatch {
    pub fn parse(self) -> Result<ProductChanges, Invalid> {
        Ok(ProductChanges {
            name: self
                .name
                .map(|v| ProductName::parse("name", &v))
                .transpose()?,
            brand: self.brand.map(|v| Brand::parse("brand", &v)).transpose()?,
            description: self
                .description
                .map(|v| Description::parse("description", &v))
                .transpose()?,
            style: self.style,
            material: self.material,
            wheels: self.wheels,
            features: self.features.map(|v| Features::new(&v)),
            warranty: self
                .warranty_years
                .map(|v| Warranty::parse("warranty_years", v))
                .transpose()?,
            images: self
                .images
                .map(|v| Images::parse("images", v))
                .transpose()?,
            dimensions: self
                .dimensions_cm
                .map(|v| v.validate("dimensions_cm"))
                .transpose()?,
            weight: self
                .weight_g
                .map(|v| Weight::parse("weight_g", v))
                .transpose()?,
            capacity: self
                .capacity_l
                .map(|v| Capacity::parse("capacity_l", v))
                .transpose()?,
            price: self
                .price
                .map(|v| Price::parse("price.amount", v.amount))
                .transpose()?,
        })
    }
}
