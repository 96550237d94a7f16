//! Money's plumbing: the shop's currency, checked against ISO 4217 and carrying its
//! minor-unit exponent (JPY 0, EUR 2, KWD 3), and decimals written for people (`9.90`,
//! `25.5`) read into integers. Every amount the service stores or computes is an integer
//! number of minor units of the shop's currency; nothing here, or anywhere money is
//! counted, uses floating point.

use iso_currency::Currency as Iso;

/// The largest amount a configured decimal may come to, in minor units: far above any
/// price or threshold, far below where sums of many of them could overflow an `i64`.
pub const MAX_AMOUNT: i64 = 1_000_000_000_000;

/// A currency in use under ISO 4217, with its minor-unit exponent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Currency {
    code: &'static str,
    minor_unit: u8,
}

impl Currency {
    /// The euro, the default shop currency.
    pub const EUR: Currency = Currency {
        code: "EUR",
        minor_unit: 2,
    };

    /// An upper-case ISO 4217 alphabetic code of a currency in use. Unknown codes are
    /// refused, and so are superseded ones (`HRK`: the euro since 2023), funds (`BOV`) and
    /// the special codes without a minor unit (`XAU`, `XXX`): no shop prices in those.
    pub fn parse(code: &str) -> Result<Currency, String> {
        let iso = Iso::from_code(code)
            .ok_or_else(|| "expected an ISO 4217 currency code such as EUR".to_owned())?;
        if let Some(newer) = iso.is_superseded() {
            return Err(format!(
                "superseded by {} in ISO 4217: price in that",
                newer.code()
            ));
        }
        let minor_unit = iso.exponent().and_then(|e| u8::try_from(e).ok());
        match minor_unit {
            Some(minor_unit) if !iso.is_fund() && !iso.is_special() => Ok(Currency {
                code: iso.code(),
                minor_unit,
            }),
            _ => Err("a fund or special code in ISO 4217, not a currency to price in".to_owned()),
        }
    }

    /// The ISO 4217 alphabetic code.
    pub fn code(self) -> &'static str {
        self.code
    }

    /// Digits after the decimal point (ISO 4217 "minor unit"): an amount of `n` minor
    /// units is `n / 10^minor_unit` of the currency.
    pub fn minor_unit(self) -> u8 {
        self.minor_unit
    }

    /// An amount written in major units (`9.90`, `100`, `990` for yen) as minor units; at
    /// most as many decimals as the currency has, no sign, at most [`MAX_AMOUNT`].
    pub fn amount(self, text: &str) -> Result<i64, String> {
        decimal(text, self.minor_unit)
            .filter(|n| *n <= MAX_AMOUNT)
            .ok_or_else(|| match self.minor_unit {
                0 => format!(
                    "expected a whole number of {} (it has no minor unit)",
                    self.code
                ),
                places => format!(
                    "expected an amount of {} with at most {places} decimals, like {}",
                    self.code,
                    example(places)
                ),
            })
    }
}

fn example(places: u8) -> String {
    format!("9.{}", "9".repeat(usize::from(places)))
}

/// The minor unit of a stored currency code (orders keep the code they were placed in).
/// The shop's currency is checked at start, so every stored code is known; an unknown one
/// is shown with 2 decimals, the most common exponent.
pub fn minor_unit(code: &str) -> u8 {
    Iso::from_code(code)
        .and_then(|iso| iso.exponent())
        .and_then(|e| u8::try_from(e).ok())
        .unwrap_or(2)
}

/// A non-negative decimal with at most `places` digits after its point, scaled by
/// `10^places` (`decimal("9.9", 2)` is 990). `None` for anything else: signs, exponents,
/// spaces, more decimals, or a value beyond `i64`.
pub fn decimal(text: &str, places: u8) -> Option<i64> {
    let (whole, fraction) = match text.split_once('.') {
        Some((w, f)) if !f.is_empty() => (w, f),
        Some(_) => return None,
        None => (text, ""),
    };
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || !digits(whole) || !digits(fraction) {
        return None;
    }
    if fraction.len() > usize::from(places) {
        return None;
    }
    let scale = 10i64.checked_pow(u32::from(places))?;
    let padding = 10i64.checked_pow(u32::from(places) - u32::try_from(fraction.len()).ok()?)?;
    let whole: i64 = whole.parse().ok()?;
    let fraction: i64 = if fraction.is_empty() {
        0
    } else {
        fraction.parse().ok()?
    };
    whole.checked_mul(scale)?.checked_add(fraction * padding)
}

/// Minor units written as a decimal in major units, the inverse of [`decimal`] for
/// non-negative amounts: `text(990, 2)` is `9.90`, `text(990, 0)` is `990`.
pub fn text(amount: i64, places: u8) -> String {
    let sign = if amount < 0 { "-" } else { "" };
    let abs = amount.unsigned_abs();
    if places == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(u32::from(places));
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = usize::from(places)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn currencies_know_their_minor_unit() {
        assert_eq!(Currency::parse("EUR").unwrap(), Currency::EUR);
        assert_eq!(Currency::parse("JPY").unwrap().minor_unit(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().minor_unit(), 3);
        assert_eq!(Currency::parse("CHF").unwrap().code(), "CHF");
    }

    #[test]
    fn unknown_superseded_and_special_codes_are_refused() {
        for code in ["EURO", "eur", "ABC", "", "HRK", "XAU", "XXX", "BOV"] {
            assert!(Currency::parse(code).is_err(), "{code}");
        }
        assert!(Currency::parse("HRK").unwrap_err().contains("EUR"));
    }

    #[test]
    fn amounts_scale_by_the_exponent() {
        let eur = Currency::EUR;
        assert_eq!(eur.amount("9.90"), Ok(990));
        assert_eq!(eur.amount("9.9"), Ok(990));
        assert_eq!(eur.amount("100"), Ok(10_000));
        assert_eq!(eur.amount("0"), Ok(0));
        let kwd = Currency::parse("KWD").unwrap();
        assert_eq!(kwd.amount("9.90"), Ok(9_900));
        assert_eq!(kwd.amount("1.125"), Ok(1_125));
        let jpy = Currency::parse("JPY").unwrap();
        assert_eq!(jpy.amount("990"), Ok(990));
        assert!(jpy.amount("9.90").unwrap_err().contains("whole number"));
    }

    #[test]
    fn malformed_amounts_are_refused() {
        let eur = Currency::EUR;
        for text in [
            "", ".5", "5.", "-1", "+1", "1e3", "1,50", " 1", "9.999", "1.2.3", "0x10",
        ] {
            assert!(eur.amount(text).is_err(), "{text:?}");
        }
        assert!(eur.amount("10000000000.01").is_err());
        assert!(eur.amount("99999999999999999999").is_err());
    }

    #[test]
    fn text_is_the_inverse_of_decimal() {
        assert_eq!(text(990, 2), "9.90");
        assert_eq!(text(5, 3), "0.005");
        assert_eq!(text(990, 0), "990");
        assert_eq!(text(-1250, 2), "-12.50");
        for (n, places) in [(0, 2), (1, 2), (123_456, 3), (7, 0)] {
            assert_eq!(decimal(&text(n, places), places), Some(n));
        }
    }

    #[test]
    fn decimals_are_exact() {
        assert_eq!(decimal("25.5", 2), Some(2_550));
        assert_eq!(decimal("5.55", 2), Some(555));
        assert_eq!(decimal("19", 2), Some(1_900));
        assert_eq!(decimal("19", 0), Some(19));
        assert_eq!(decimal("0.001", 2), None);
    }

    #[test]
    fn stored_codes_show_their_minor_unit() {
        assert_eq!(minor_unit("JPY"), 0);
        assert_eq!(minor_unit("KWD"), 3);
        assert_eq!(minor_unit("EUR"), 2);
        assert_eq!(minor_unit("ZZZ"), 2);
    }
}
