//! The fields of a product or variant as staff submit them, each parsed once into a type
//! that can hold only an acceptable value (private fields, one `parse`), and the words a
//! product is found by. Create and update take the same types, so they share every limit;
//! the store writes these types, so it cannot be handed a value the rules refuse.

use serde::Deserialize;
use utoipa::ToSchema;

use super::{Feature, MAX_STOCK};
use crate::invalid::Invalid;
use crate::privacy::refuse_sensitive;
pub use crate::text::{text, Text};

/// A URL-safe product handle: 1–100 lower-case letters, digits and single dashes, neither
/// first nor last. Never `prod_…`, so a path segment is an id or a slug, never both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slug(String);

impl Slug {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let ok = (1..=100).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !raw.starts_with('-')
            && !raw.ends_with('-')
            && !raw.contains("--")
            && !raw.starts_with("prod_");
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::field(
                field,
                "must be lower-case letters, digits and single dashes",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
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

/// A stock-keeping unit: 3–40 upper-case letters, digits and dashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sku(String);

impl Sku {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let ok = (3..=40).contains(&raw.len())
            && raw
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(Self(raw.to_owned()))
        } else {
            Err(Invalid::field(
                field,
                "must be 3 to 40 upper-case letters, digits or dashes",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
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

/// A price in minor units of the shop's currency, 1 to 100,000,000.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Price(i64);

impl Price {
    pub const MIN: i64 = 1;
    pub const MAX: i64 = 100_000_000;

    /// `field` names the amount (`price.amount`).
    pub fn parse(field: &str, amount: i64) -> Result<Self, Invalid> {
        if (Self::MIN..=Self::MAX).contains(&amount) {
            Ok(Self(amount))
        } else {
            Err(Invalid::field(
                field,
                "must be 1 to 100,000,000 minor units",
            ))
        }
    }

    pub fn amount(self) -> i64 {
        self.0
    }
}

/// Free text of 1 to `MAX` characters that holds nothing looking like a card, bank-account
/// or identity-document number: text the shop keeps and others read, where such numbers
/// must never land.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScreenedText<const MAX: usize>(String);

impl<const MAX: usize> ScreenedText<MAX> {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let value = text(field, raw, MAX)?;
        refuse_sensitive(field, &value)?;
        Ok(Self(value))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }
}

/// A product's name.
pub type ProductName = Text<120>;
/// The maker's brand.
pub type Brand = Text<60>;
/// The text of the product page.
pub type Description = ScreenedText<4000>;
/// A variant's colour or edition.
pub type Color = Text<40>;
/// Why stock was adjusted, for the stock history.
pub type StockReason = ScreenedText<200>;

/// A whole number within fixed bounds, in one unit: `parse` refuses the rest, naming the
/// bounds and the unit.
macro_rules! measure {
    ($(#[$meta:meta])* $name:ident: $min:expr, $max:expr, $unit:literal) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub struct $name(i32);

        impl $name {
            pub const MIN: i32 = $min;
            pub const MAX: i32 = $max;

            pub fn parse(field: &str, value: i32) -> Result<Self, Invalid> {
                if (Self::MIN..=Self::MAX).contains(&value) {
                    Ok(Self(value))
                } else {
                    Err(Invalid::field(
                        field,
                        format!("must be {} to {} {}", Self::MIN, Self::MAX, $unit),
                    ))
                }
            }

            pub fn get(self) -> i32 {
                self.0
            }
        }
    };
}

measure!(
    /// Years of manufacturer's warranty, 0–25.
    Warranty: 0, 25, "years"
);
measure!(
    /// Empty weight in grams, 100–30,000.
    Weight: 100, 30_000, "g"
);
measure!(
    /// Packing volume in litres, 1–200.
    Capacity: 1, 200, "l"
);
measure!(
    /// A variant's stock level, 0 to [`MAX_STOCK`] units.
    Stock: 0, MAX_STOCK, "units"
);

/// A change of stock: some units added or removed, never none, never more than
/// [`MAX_STOCK`] either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockDelta(i32);

impl StockDelta {
    pub fn parse(field: &str, delta: i32) -> Result<Self, Invalid> {
        // `unsigned_abs`: `abs` of i32::MIN overflows (a panic in debug builds, and in release
        // a negative number that slipped past this check).
        if delta == 0 || delta.unsigned_abs() > MAX_STOCK.unsigned_abs() {
            return Err(Invalid::field(
                field,
                "must be non-zero and at most 1,000,000 units",
            ));
        }
        Ok(Self(delta))
    }

    pub fn get(self) -> i32 {
        self.0
    }
}

/// A product's pictures, main picture first: at most 10 `http(s)` URLs of at most 500
/// bytes, without whitespace or control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Images(Vec<String>);

impl Images {
    pub const MAX: usize = 10;

    /// `field` names the list; a bad URL is reported as `field[i]`.
    pub fn parse(field: &str, urls: Vec<String>) -> Result<Self, Invalid> {
        if urls.len() > Self::MAX {
            return Err(Invalid::field(field, "at most 10 images"));
        }
        for (i, u) in urls.iter().enumerate() {
            let ok = u.len() <= 500
                && (u.starts_with("https://") || u.starts_with("http://"))
                && !u.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return Err(Invalid::field(
                    format!("{field}[{i}]"),
                    "must be an http(s) URL",
                ));
            }
        }
        Ok(Self(urls))
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

/// A product's features, each once, in alphabetical order of their names: how they are
/// stored and shown, whatever order and repeats were sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Features(Vec<Feature>);

impl Features {
    pub fn new(list: &[Feature]) -> Self {
        let mut features = list.to_vec();
        features.sort_unstable_by_key(|f| f.as_str());
        features.dedup();
        Self(features)
    }

    pub fn as_slice(&self) -> &[Feature] {
        &self.0
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_skus_and_terms() {
        assert_eq!(slugify("Voyager 55 — Spinner!"), "voyager-55-spinner");
        assert!(Slug::parse("slug", "voyager-55").is_ok());
        assert!(Slug::parse("slug", "Voyager").is_err());
        assert!(Slug::parse("slug", "prod_x").is_err());
        assert!(Sku::parse("sku", "VOY-55-BLK").is_ok());
        assert!(Sku::parse("sku", "voy").is_err());
        assert_eq!(
            terms(&["Voyager 55", "a TSA-lock"]),
            vec!["55", "lock", "tsa", "voyager"]
        );
    }

    #[test]
    fn text_is_trimmed_and_bounded_in_characters() {
        assert_eq!(
            ProductName::parse("name", "  Voyager  ").unwrap().as_str(),
            "Voyager"
        );
        assert_eq!(
            Color::parse("color", &"é".repeat(40))
                .unwrap()
                .as_str()
                .len(),
            80
        );
        assert_eq!(
            Color::parse("color", &"a".repeat(41)),
            Err(Invalid::field("color", "must be 1 to 40 characters"))
        );
        assert!(Color::parse("color", "   ").is_err());
        assert!(Description::parse("description", "line one\nline two").is_ok());
        assert!(Color::parse("color", "bl\tack").is_err());
    }

    #[test]
    fn screened_text_refuses_card_numbers_by_field() {
        assert_eq!(
            Description::parse("description", "Pay with 4111 1111 1111 1111"),
            Err(Invalid::Sensitive {
                field: "description".into()
            })
        );
    }

    #[test]
    fn prices_and_measures_keep_their_bounds_and_words() {
        assert_eq!(Price::parse("price.amount", 1).map(Price::amount), Ok(1));
        assert_eq!(
            Price::parse("price.amount", 0),
            Err(Invalid::field(
                "price.amount",
                "must be 1 to 100,000,000 minor units"
            ))
        );
        assert!(Price::parse("price.amount", 100_000_001).is_err());
        assert_eq!(
            Weight::parse("weight_g", 5),
            Err(Invalid::field("weight_g", "must be 100 to 30000 g"))
        );
        assert_eq!(
            Stock::parse("available", -1),
            Err(Invalid::field("available", "must be 0 to 1000000 units"))
        );
        assert_eq!(
            Warranty::parse("warranty_years", 25).map(Warranty::get),
            Ok(25)
        );
        assert_eq!(
            Capacity::parse("capacity_l", 0).map(Capacity::get).ok(),
            None
        );
    }

    #[test]
    fn a_stock_change_is_never_zero_and_never_wraps() {
        for bad in [0, i32::MIN, i32::MAX, MAX_STOCK + 1, -MAX_STOCK - 1] {
            assert!(StockDelta::parse("delta", bad).is_err(), "{bad}");
        }
        assert_eq!(
            StockDelta::parse("delta", -MAX_STOCK).map(StockDelta::get),
            Ok(-MAX_STOCK)
        );
    }

    #[test]
    fn images_are_bounded_and_the_bad_one_is_named() {
        let ok = vec!["https://cdn.example.com/a.jpg".to_owned()];
        assert!(Images::parse("images", ok).is_ok());
        assert_eq!(
            Images::parse("images", vec!["https://a/x".into(), "ftp://x".into()]),
            Err(Invalid::field("images[1]", "must be an http(s) URL"))
        );
        assert_eq!(
            Images::parse("images", vec!["https://a/x".into(); 11]),
            Err(Invalid::field("images", "at most 10 images"))
        );
    }

    #[test]
    fn features_count_once_in_alphabetical_order() {
        let features = Features::new(&[Feature::TsaLock, Feature::Expandable, Feature::TsaLock]);
        assert_eq!(features.as_slice(), [Feature::Expandable, Feature::TsaLock]);
    }
}
