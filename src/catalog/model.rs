//! Catalog domain: luggage attributes as closed vocabularies, validated measurements, the
//! size-class rule, and the product views clients see. No HTTP, no SQL.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::http::error::ApiError;

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
    Feature { TsaLock => "tsa_lock", Expandable => "expandable", UsbPort => "usb_port", LaptopCompartment => "laptop_compartment", WaterResistant => "water_resistant", TelescopicHandle => "telescopic_handle" }
);
vocabulary!(
    /// Derived from the dimensions; see [`SizeClass::classify`].
    SizeClass { Underseat => "underseat", Cabin => "cabin", Medium => "medium", Large => "large", ExtraLarge => "extra_large" }
);

/// The most units a variant can hold: a stock level, and where adjustments stop (far above
/// any warehouse, and far below where a 32-bit count would wrap).
pub const MAX_STOCK: i32 = 1_000_000;

/// Outer dimensions in whole centimetres (1–200 each).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Dimensions {
    #[schema(minimum = 1, maximum = 200, example = 55)]
    pub height: i32,
    #[schema(minimum = 1, maximum = 200, example = 40)]
    pub width: i32,
    #[schema(minimum = 1, maximum = 200, example = 20)]
    pub depth: i32,
}

impl Dimensions {
    pub fn validate(self, field: &str) -> Result<Self, ApiError> {
        for (name, v) in [
            ("height", self.height),
            ("width", self.width),
            ("depth", self.depth),
        ] {
            if !(1..=200).contains(&v) {
                return Err(ApiError::validation(
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
pub fn in_range(field: &str, value: i32, min: i32, max: i32, unit: &str) -> Result<i32, ApiError> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(ApiError::validation(
            field,
            format!("must be {min} to {max} {unit}"),
        ))
    }
}

/// Money in minor units (cents) and the shop's ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[schema(example = json!({"amount": 12900, "currency": "EUR"}))]
pub struct Money {
    /// Minor units (e.g. cents).
    pub amount: i64,
    #[schema(example = "EUR")]
    pub currency: String,
}

/// A price as submitted: minor units only; the currency is the shop's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PriceInput {
    #[schema(minimum = 1, example = 12900)]
    pub amount: i64,
}

pub fn price(field: &str, amount: i64) -> Result<i64, ApiError> {
    if (1..=100_000_000).contains(&amount) {
        Ok(amount)
    } else {
        Err(ApiError::validation(
            field,
            "must be 1 to 100,000,000 minor units",
        ))
    }
}

/// A URL-safe product handle: lower-case letters, digits and single dashes.
pub fn slug(field: &str, raw: &str) -> Result<String, ApiError> {
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
        Err(ApiError::validation(
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
pub fn sku(field: &str, raw: &str) -> Result<String, ApiError> {
    let ok = (3..=40).contains(&raw.len())
        && raw
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(ApiError::validation(
            field,
            "must be 3 to 40 upper-case letters, digits or dashes",
        ))
    }
}

/// Free catalogue text: trimmed, bounded, no control characters except newlines.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, ApiError> {
    let value = raw.trim();
    let len = value.chars().count();
    if len == 0 || len > max || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(ApiError::validation(
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
pub struct VariantView {
    pub id: String,
    pub sku: String,
    pub color: String,
    /// The variant's price (its override, or the product's base price).
    pub price: Money,
    /// Units that can be ordered now.
    pub available: i32,
    /// `active`, or `archived` (no longer sold).
    pub status: String,
}

/// A product with its variants.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProductView {
    pub id: String,
    pub slug: String,
    pub name: String,
    pub brand: String,
    pub description: String,
    pub style: Style,
    pub material: Material,
    pub wheels: Wheels,
    pub features: Vec<Feature>,
    pub warranty_years: i32,
    /// Image URLs.
    pub images: Vec<String>,
    pub size_class: SizeClass,
    pub dimensions_cm: Dimensions,
    pub weight_g: i32,
    pub capacity_l: i32,
    /// The cheapest active variant's price.
    pub price: Money,
    pub variants: Vec<VariantView>,
    /// `active`, or `archived` (kept readable for past orders, not listed).
    pub status: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// One page of products.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductList {
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
