//! Catalog domain: luggage attributes as closed vocabularies, validated measurements, the
//! size-class rule, and the product views clients see. No HTTP, no SQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::invalid::Invalid;

/// A closed vocabulary stored as text: `as_str`/`parse` round-trip, serde uses the same names.
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($text => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

vocabulary!(
    /// What the luggage is for.
    Style { Business => "business", Travel => "travel", Adventure => "adventure", Kids => "kids", Weekender => "weekender" }
);
vocabulary!(
    /// The shell or body material.
    Material { Polycarbonate => "polycarbonate", Aluminium => "aluminium", Abs => "abs", Nylon => "nylon", Polyester => "polyester", Leather => "leather" }
);
vocabulary!(
    /// Wheels: none, two inline wheels, four wheels, or four double spinner wheels.
    Wheels { None => "none", Two => "two", Four => "four", Spinner => "spinner" }
);
vocabulary!(
    /// A feature of the luggage: a TSA-approved lock, an expandable zip, a USB charging port,
    /// a padded laptop compartment, a water-resistant shell or fabric, a telescopic handle.
    Feature { TsaLock => "tsa_lock", Expandable => "expandable", UsbPort => "usb_port", LaptopCompartment => "laptop_compartment", WaterResistant => "water_resistant", TelescopicHandle => "telescopic_handle" }
);
vocabulary!(
    /// Derived from the dimensions; see [`SizeClass::classify`].
    SizeClass { Underseat => "underseat", Cabin => "cabin", Medium => "medium", Large => "large", ExtraLarge => "extra_large" }
);
vocabulary!(
    /// Whether a product is sold: `active` (listed, can be added to carts) or `archived`
    /// (not listed and no longer sold, but still readable by id for the orders that hold it).
    ProductStatus { Active => "active", Archived => "archived" }
);
vocabulary!(
    /// Whether a variant is sold: `active`, or `archived` (no longer sold; still readable for
    /// past orders).
    VariantStatus { Active => "active", Archived => "archived" }
);

/// The most units a variant can hold: a stock level, and where adjustments stop (far above
/// any warehouse, and far below where a 32-bit count would wrap).
pub const MAX_STOCK: i32 = 1_000_000;

/// Outer dimensions in whole centimetres (1–200 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    /// Outer height in whole centimetres, wheels and handles included (1–200).
    #[schema(minimum = 1, maximum = 200, example = 55)]
    pub height: i32,
    /// Outer width in whole centimetres (1–200).
    #[schema(minimum = 1, maximum = 200, example = 40)]
    pub width: i32,
    /// Outer depth in whole centimetres (1–200).
    #[schema(minimum = 1, maximum = 200, example = 20)]
    pub depth: i32,
}

impl Dimensions {
    pub fn validate(self, field: &str) -> Result<Self, Invalid> {
        for (name, v) in [
            ("height", self.height),
            ("width", self.width),
            ("depth", self.depth),
        ] {
            if !(1..=200).contains(&v) {
                return Err(Invalid::field(
                    format!("{field}.{name}"),
                    "must be 1 to 200 cm",
                ));
            }
        }
        Ok(self)
    }

    /// Longest side first: the shape independent of orientation.
    pub fn sorted(self) -> [i32; 3] {
        let mut d = [self.height, self.width, self.depth];
        d.sort_unstable_by(|a, b| b.cmp(a));
        d
    }

    /// Whether this fits inside `other` in some orientation.
    pub fn fits_in(self, other: Dimensions) -> bool {
        let (a, b) = (self.sorted(), other.sorted());
        a.iter().zip(b.iter()).all(|(x, y)| x <= y)
    }

    /// Parses `LxWxH` (centimetres, any order), as in `?fits=55x40x23`.
    pub fn parse_box(raw: &str) -> Option<Dimensions> {
        let parts: Vec<i32> = raw
            .split(['x', 'X', '×'])
            .map(|p| {
                p.trim()
                    .parse::<i32>()
                    .ok()
                    .filter(|n| (1..=500).contains(n))
            })
            .collect::<Option<Vec<_>>>()?;
        match parts[..] {
            [height, width, depth] => Some(Dimensions {
                height,
                width,
                depth,
            }),
            _ => None,
        }
    }
}

/// The box a class must fit in, for the two classes defined by airline limits.
pub const UNDERSEAT_BOX: Dimensions = Dimensions {
    height: 45,
    width: 36,
    depth: 20,
};
pub const CABIN_BOX: Dimensions = Dimensions {
    height: 55,
    width: 40,
    depth: 23,
};
/// Longest side limits of the checked classes.
pub const MEDIUM_MAX_CM: i32 = 69;
pub const LARGE_MAX_CM: i32 = 79;

impl SizeClass {
    /// The one rule, applied to the outer dimensions in any orientation:
    /// - `underseat`: fits 45×36×20 cm (the common free personal-item allowance);
    /// - `cabin`: fits 55×40×23 cm (the common carry-on limit);
    /// - `medium`: longest side ≤ 69 cm; `large`: ≤ 79 cm; `extra_large`: longer.
    pub fn classify(d: Dimensions) -> SizeClass {
        if d.fits_in(UNDERSEAT_BOX) {
            SizeClass::Underseat
        } else if d.fits_in(CABIN_BOX) {
            SizeClass::Cabin
        } else if d.sorted()[0] <= MEDIUM_MAX_CM {
            SizeClass::Medium
        } else if d.sorted()[0] <= LARGE_MAX_CM {
            SizeClass::Large
        } else {
            SizeClass::ExtraLarge
        }
    }
}

/// A checked range for a measured quantity.
pub fn in_range(field: &str, value: i32, min: i32, max: i32, unit: &str) -> Result<i32, Invalid> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid::field(
            field,
            format!("must be {min} to {max} {unit}"),
        ))
    }
}

/// Money in minor units (cents) and the shop's ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"amount": 12900, "currency": "EUR"}))]
pub struct Money {
    /// The amount in minor units of `currency` (cents for EUR): `12900` is €129.00.
    #[schema(example = 12900)]
    pub amount: i64,
    /// ISO 4217 code of the shop's currency, the same for every price.
    #[schema(pattern = "^[A-Z]{3}$", example = "EUR")]
    pub currency: String,
}

/// A price as submitted: minor units only; the currency is the shop's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    /// The price in minor units of the shop's currency (cents for EUR), 1 to 100,000,000:
    /// `12900` is €129.00.
    #[schema(minimum = 1, maximum = 100_000_000, example = 12900)]
    pub amount: i64,
}

pub fn price(field: &str, amount: i64) -> Result<i64, Invalid> {
    if (1..=100_000_000).contains(&amount) {
        Ok(amount)
    } else {
        Err(Invalid::field(
            field,
            "must be 1 to 100,000,000 minor units",
        ))
    }
}

/// A URL-safe product handle: lower-case letters, digits and single dashes.
pub fn slug(field: &str, raw: &str) -> Result<String, Invalid> {
    let ok = (1..=100).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !raw.starts_with('-')
        && !raw.ends_with('-')
        && !raw.contains("--")
        && !raw.starts_with("prod_");
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::field(
            field,
            "must be lower-case letters, digits and single dashes",
        ))
    }
}

/// A slug made from a name: `"Voyager 55 Spinner"` → `voyager-55-spinner`.
pub fn slugify(name: &str) -> String {
    let mut out = String::new();
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
    }
    out.trim_end_matches('-').chars().take(100).collect()
}

/// A stock-keeping unit: upper-case letters, digits and dashes, 3–40 characters.
pub fn sku(field: &str, raw: &str) -> Result<String, Invalid> {
    let ok = (3..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(Invalid::field(
            field,
            "must be 3 to 40 upper-case letters, digits or dashes",
        ))
    }
}

/// Free catalogue text: trimmed, bounded, no control characters except newlines.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, Invalid> {
    let value = raw.trim();
    let len = value.chars().count();
    if len == 0 || len > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::field(
            field,
            format!("must be 1 to {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// The words a product is found by: lower-cased alphanumeric runs of two or more characters.
pub fn terms(texts: &[&str]) -> Vec<String> {
    let mut terms: Vec<String> = texts
        .iter()
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.chars().count() >= 2)
        .map(|w| w.to_lowercase().chars().take(40).collect())
        .collect();
    terms.sort();
    terms.dedup();
    terms
}

/// One variant with its live availability.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "sku": "VOY-55-BLK", "color": "black",
    "price": {"amount": 12900, "currency": "EUR"}, "available": 25, "status": "active"
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
        "price": {"amount": 12900, "currency": "EUR"},
        "variants": [
            {"id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "sku": "VOY-55-BLK", "color": "black",
             "price": {"amount": 12900, "currency": "EUR"}, "available": 25, "status": "active"},
            {"id": "var_0193a7c25b7e7d1a9c1e2f6c1f7e9a11", "sku": "VOY-55-SAGE", "color": "sage",
             "price": {"amount": 13900, "currency": "EUR"}, "available": 0, "status": "active"}
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
    "next_cursor": "cHJvZHVjdHM6cHJpY2U6MTI5MDB8cHJvZF8wMTkzYTdjMjViN2U3ZDFhOWMxZTJmNmMxZjdlOWExMA"
}))]
pub struct ProductList {
    /// The products of this page, in the order asked for (at most `limit`).
    #[schema(max_items = 100)]
    pub data: Vec<ProductView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(height: i32, width: i32, depth: i32) -> Dimensions {
        Dimensions {
            height,
            width,
            depth,
        }
    }

    #[test]
    fn size_classes_follow_the_documented_rule() {
        assert_eq!(SizeClass::classify(d(40, 30, 15)), SizeClass::Underseat);
        assert_eq!(SizeClass::classify(d(55, 40, 20)), SizeClass::Cabin);
        assert_eq!(
            SizeClass::classify(d(20, 55, 40)),
            SizeClass::Cabin,
            "any orientation"
        );
        assert_eq!(
            SizeClass::classify(d(55, 40, 25)),
            SizeClass::Medium,
            "too deep for cabin"
        );
        assert_eq!(SizeClass::classify(d(68, 45, 28)), SizeClass::Medium);
        assert_eq!(SizeClass::classify(d(77, 52, 31)), SizeClass::Large);
        assert_eq!(SizeClass::classify(d(81, 55, 33)), SizeClass::ExtraLarge);
    }

    #[test]
    fn fitting_works_in_every_orientation() {
        let bag = d(54, 38, 21);
        for b in [d(55, 40, 23), d(23, 55, 40), d(40, 23, 55)] {
            assert!(bag.fits_in(b));
        }
        assert!(!bag.fits_in(d(55, 40, 20)));
        assert_eq!(Dimensions::parse_box("55x40x23"), Some(d(55, 40, 23)));
        assert_eq!(Dimensions::parse_box("55x40"), None);
        assert_eq!(Dimensions::parse_box("55x0x23"), None);
    }

    #[test]
    fn slugs_skus_and_terms() {
        assert_eq!(slugify("Voyager 55 — Spinner!"), "voyager-55-spinner");
        assert!(slug("slug", "voyager-55").is_ok());
        assert!(slug("slug", "Voyager").is_err());
        assert!(slug("slug", "prod_x").is_err());
        assert!(sku("sku", "VOY-55-BLK").is_ok());
        assert!(sku("sku", "voy").is_err());
        assert_eq!(
            terms(&["Voyager 55", "a TSA-lock"]),
            vec!["55", "lock", "tsa", "voyager"]
        );
    }

    #[test]
    fn vocabularies_round_trip() {
        for s in Style::ALL {
            assert_eq!(Style::parse(s.as_str()), Some(*s));
        }
        assert_eq!(Feature::parse("tsa_lock"), Some(Feature::TsaLock));
        assert_eq!(Material::parse("titanium"), None);
    }
}
