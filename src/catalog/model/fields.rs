//! The fields of a product or variant as staff submit them, and the words it is found by.

use serde::Deserialize;
use utoipa::ToSchema;

use crate::invalid::Invalid;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
