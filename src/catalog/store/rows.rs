//! The product and variant rows: built from parsed drafts, changed by parsed changes, and
//! turned into the views clients see.

use diesel::prelude::*;

use crate::catalog::model::{
    terms, Dimensions, Feature, Features, Images, Material, Money, ProductChanges, ProductDraft,
    ProductStatus, ProductView, SizeClass, Style, VariantChanges, VariantDraft, VariantImages,
    VariantStatus, VariantView, Wheels,
};
use crate::db::schema::{products, variants};

pub const ACTIVE: &str = "active";
pub const ARCHIVED: &str = "archived";

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = products)]
pub struct ProductRow {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub brand: String,
    pub description: String,
    pub style: String,
    pub material: String,
    pub wheels: String,
    pub features: String,
    pub warranty_years: i32,
    pub images: String,
    pub height_cm: i32,
    pub width_cm: i32,
    pub depth_cm: i32,
    pub dim_max: i32,
    pub dim_mid: i32,
    pub dim_min: i32,
    pub size_class: String,
    pub weight_g: i32,
    pub capacity_l: i32,
    pub base_price: i64,
    pub min_price: i64,
    pub popularity: i64,
    pub status: String,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = variants)]
pub struct VariantRow {
    pub id: String,
    pub product_id: String,
    pub sku: String,
    pub color: String,
    pub price_override: Option<i64>,
    pub available: i32,
    pub status: String,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
    /// Its pictures as a JSON array (see [`VariantImages::to_stored`]); empty for none. In
    /// the row rather than a table of their own so that a listing renders them without
    /// another query.
    pub images: String,
}

impl ProductRow {
    /// A new active product at version 1. Its `min_price` starts at the base price; see
    /// [`super::recompute_min_price`].
    pub fn new(p: &ProductDraft) -> Self {
        let now = crate::db::now();
        let mut row = ProductRow {
            id: crate::ids::new_id("prod"),
            slug: p.slug.as_str().to_owned(),
            name: p.name.as_str().to_owned(),
            brand: p.brand.as_str().to_owned(),
            description: p.description.as_str().to_owned(),
            style: p.style.as_str().to_owned(),
            material: p.material.as_str().to_owned(),
            wheels: p.wheels.as_str().to_owned(),
            features: features_text(&p.features),
            warranty_years: p.warranty.get(),
            images: images_text(&p.images),
            height_cm: 0,
            width_cm: 0,
            depth_cm: 0,
            dim_max: 0,
            dim_mid: 0,
            dim_min: 0,
            size_class: String::new(),
            weight_g: p.weight.get(),
            capacity_l: p.capacity.get(),
            base_price: p.price.amount(),
            min_price: p.price.amount(),
            popularity: 0,
            status: ACTIVE.to_owned(),
            version: 1,
            created_at: now,
            updated_at: now,
        };
        row.set_dimensions(p.dimensions);
        row
    }

    /// Applies parsed changes; the version and `updated_at` are the caller's.
    pub fn apply(&mut self, c: ProductChanges) {
        if let Some(v) = c.name {
            self.name = v.into_string();
        }
        if let Some(v) = c.brand {
            self.brand = v.into_string();
        }
        if let Some(v) = c.description {
            self.description = v.into_string();
        }
        if let Some(v) = c.style {
            self.style = v.as_str().to_owned();
        }
        if let Some(v) = c.material {
            self.material = v.as_str().to_owned();
        }
        if let Some(v) = c.wheels {
            self.wheels = v.as_str().to_owned();
        }
        if let Some(v) = c.features {
            self.features = features_text(&v);
        }
        if let Some(v) = c.warranty {
            self.warranty_years = v.get();
        }
        if let Some(v) = c.images {
            self.images = images_text(&v);
        }
        if let Some(v) = c.dimensions {
            self.set_dimensions(v);
        }
        if let Some(v) = c.weight {
            self.weight_g = v.get();
        }
        if let Some(v) = c.capacity {
            self.capacity_l = v.get();
        }
        if let Some(v) = c.price {
            self.base_price = v.amount();
        }
    }

    pub fn dimensions(&self) -> Dimensions {
        Dimensions {
            height: self.height_cm,
            width: self.width_cm,
            depth: self.depth_cm,
        }
    }

    /// Sets the dimensions and everything derived from them.
    pub fn set_dimensions(&mut self, d: Dimensions) {
        let [max, mid, min] = d.sorted();
        self.height_cm = d.height;
        self.width_cm = d.width;
        self.depth_cm = d.depth;
        self.dim_max = max;
        self.dim_mid = mid;
        self.dim_min = min;
        self.size_class = SizeClass::classify(d).as_str().to_owned();
    }

    pub fn view(&self, variants: &[VariantRow], currency: &str) -> ProductView {
        let money = |amount| Money::in_code(amount, currency);
        ProductView {
            id: self.id.clone(),
            slug: self.slug.clone(),
            name: self.name.clone(),
            brand: self.brand.clone(),
            description: self.description.clone(),
            style: Style::parse(&self.style).unwrap_or(Style::Travel),
            material: Material::parse(&self.material).unwrap_or(Material::Polyester),
            wheels: Wheels::parse(&self.wheels).unwrap_or(Wheels::None),
            features: self
                .features
                .split(',')
                .filter_map(Feature::parse)
                .collect(),
            warranty_years: self.warranty_years,
            images: self
                .images
                .lines()
                .filter(|l| !l.is_empty())
                .map(str::to_owned)
                .collect(),
            size_class: SizeClass::parse(&self.size_class).unwrap_or(SizeClass::Medium),
            dimensions_cm: self.dimensions(),
            weight_g: self.weight_g,
            capacity_l: self.capacity_l,
            price: money(self.min_price),
            variants: variants
                .iter()
                .map(|v| VariantView {
                    id: v.id.clone(),
                    sku: v.sku.clone(),
                    color: v.color.clone(),
                    price: money(v.price_override.unwrap_or(self.base_price)),
                    available: v.available,
                    status: VariantStatus::parse(&v.status).unwrap_or(VariantStatus::Archived),
                    images: VariantImages::from_stored(&v.images),
                })
                .collect(),
            status: ProductStatus::parse(&self.status).unwrap_or(ProductStatus::Archived),
            created_at: self.created_at.and_utc(),
            updated_at: self.updated_at.and_utc(),
        }
    }

    pub fn search_terms(&self) -> Vec<String> {
        terms(&[&self.name, &self.brand, &self.description])
    }
}

/// Features as stored: their names, comma-separated (the order [`Features`] keeps).
fn features_text(features: &Features) -> String {
    let names: Vec<&str> = features.as_slice().iter().map(|f| f.as_str()).collect();
    names.join(",")
}

/// Image URLs as stored: one per line (a URL holds no whitespace).
fn images_text(images: &Images) -> String {
    images.as_slice().join("\n")
}

impl VariantRow {
    /// A new active variant of `product_id` at version 1.
    pub fn new(product_id: &str, v: &VariantDraft) -> Self {
        let now = crate::db::now();
        VariantRow {
            id: crate::ids::new_id("var"),
            product_id: product_id.to_owned(),
            sku: v.sku.as_str().to_owned(),
            color: v.color.as_str().to_owned(),
            price_override: v.price.map(|p| p.amount()),
            available: v.available.get(),
            status: ACTIVE.to_owned(),
            version: 1,
            created_at: now,
            updated_at: now,
            images: v.images.to_stored(),
        }
    }

    /// Applies parsed changes; the version and `updated_at` are the caller's.
    pub fn apply(&mut self, c: VariantChanges) {
        if let Some(v) = c.images {
            self.images = v.to_stored();
        }
        if let Some(v) = c.color {
            self.color = v.into_string();
        }
        if let Some(v) = c.price {
            self.price_override = v.map(|p| p.amount());
        }
    }
}
