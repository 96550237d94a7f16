//! Tax rules: rates, which rate a destination pays, and tax lines. No HTTP, no SQL.

use chrono::NaiveDate;

use crate::config::{TaxMode, TaxSettings};
use crate::invalid::Invalid;

/// The EU member states by their ISO 3166-1 alpha-2 codes (Greece is `GR` here, though
/// VAT numbers write it `EL`), as of 2026.
pub const EU_MEMBERS: [&str; 27] = [
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE", "IT",
    "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
];

pub fn is_eu_member(country: &str) -> bool {
    EU_MEMBERS.contains(&country)
}

/// An EU member state's code, as submitted in either case.
pub fn eu_member(field: &str, code: &str) -> Result<&'static str, Invalid> {
    let code = code.trim().to_ascii_uppercase();
    EU_MEMBERS.into_iter().find(|m| *m == code).ok_or_else(|| {
        Invalid::field(
            field,
            "must be the ISO 3166-1 alpha-2 code of an EU member state, like DE; a shop \
                 outside the EU sets its own rate in its configuration",
        )
    })
}

/// A tax rate in basis points of the price before tax: `1900` is 19 %, `2550` is 25.5 %.
/// Integers only, so no rate is ever a binary fraction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Rate(u32);

impl Rate {
    pub const ZERO: Rate = Rate(0);
    /// 100 %: no VAT or sales tax rate comes near it.
    pub const MAX: u32 = 10_000;

    pub fn from_basis_points(field: &str, bp: i64) -> Result<Rate, Invalid> {
        u32::try_from(bp)
            .ok()
            .filter(|bp| *bp <= Rate::MAX)
            .map(Rate)
            .ok_or_else(|| Invalid::field(field, "must be 0 to 10000 basis points (0 % to 100 %)"))
    }

    /// A rate as stored or configured (already checked when written): clamped to
    /// 0–10000, never trusted to be in range.
    pub fn stored(bp: i64) -> Rate {
        Rate(u32::try_from(bp).unwrap_or(0).min(Rate::MAX))
    }

    pub fn basis_points(self) -> u32 {
        self.0
    }

    /// The rate as a percentage written for people, exactly: `19`, `25.5`, `5.55`.
    pub fn percent(self) -> String {
        let (whole, hundredths) = (self.0 / 100, self.0 % 100);
        match hundredths {
            0 => whole.to_string(),
            h if h % 10 == 0 => format!("{whole}.{}", h / 10),
            h => format!("{whole}.{h:02}"),
        }
    }
}

/// Where an order's rate comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RateSource {
    /// The rates table: the standard rate in effect in this EU member state.
    Table(String),
    /// A fixed rate: the configured home rate, or 0 % for an export.
    Fixed(Rate),
}

/// Which rate an order shipped to `destination` pays:
/// - to the shop's own country, the configured home rate when there is one;
/// - from an EU shop to an EU member state (its own included, without a configured home
///   rate), that state's standard rate in the rates table (distance sales are taxed where
///   they arrive, whatever the shop's turnover abroad);
/// - anything else is an export from the shop's tax area: 0 % (a shop outside the EU
///   without a home rate charges no tax at all).
pub fn rate_source(settings: &TaxSettings, destination: &str) -> RateSource {
    if destination == settings.home_country {
        if let Some(bp) = settings.home_rate {
            return RateSource::Fixed(Rate::stored(i64::from(bp)));
        }
    }
    if is_eu_member(&settings.home_country) && is_eu_member(destination) {
        RateSource::Table(destination.to_owned())
    } else {
        RateSource::Fixed(Rate::ZERO)
    }
}

/// One line of an order's tax record: everything taxed at one rate, in minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxLine {
    pub rate: Rate,
    pub net: i64,
    pub tax: i64,
    pub gross: i64,
}

/// The tax lines of `amounts` (goods and shipping, each with its rate), one per rate,
/// lowest rate first. Amounts are gross prices in inclusive mode and net prices in
/// exclusive mode.
///
/// Rounding: per order and rate, once, half away from zero, on the rate's whole base
/// (never per item): inclusive, `tax = round(gross × r / (10000 + r))` and
/// `net = gross − tax`; exclusive, `tax = round(net × r / 10000)` and
/// `gross = net + tax` (r in basis points). So `net + tax = gross` on every line, and
/// nothing is computed in floating point.
pub fn tax_lines(mode: TaxMode, amounts: &[(Rate, i64)]) -> Vec<TaxLine> {
    let mut bases: Vec<(Rate, i64)> = Vec::new();
    for (rate, amount) in amounts {
        match bases.iter_mut().find(|(r, _)| r == rate) {
            Some((_, base)) => *base += amount,
            None => bases.push((*rate, *amount)),
        }
    }
    bases.sort_by_key(|(rate, _)| *rate);
    bases
        .into_iter()
        .filter(|(_, base)| *base != 0)
        .map(|(rate, base)| {
            let r = i128::from(rate.0);
            match mode {
                TaxMode::Inclusive => {
                    let tax = divide_rounded(i128::from(base) * r, i128::from(Rate::MAX) + r);
                    TaxLine {
                        rate,
                        net: base - tax,
                        tax,
                        gross: base,
                    }
                }
                TaxMode::Exclusive => {
                    let tax = divide_rounded(i128::from(base) * r, i128::from(Rate::MAX));
                    TaxLine {
                        rate,
                        net: base,
                        tax,
                        gross: base + tax,
                    }
                }
            }
        })
        .collect()
}

/// `n / d` rounded half away from zero (`d > 0`). The quotient of amounts bounded by
/// `money::MAX_AMOUNT` times a rate of at most 100 % always fits an `i64`.
fn divide_rounded(n: i128, d: i128) -> i64 {
    let q = (2 * n.abs() + d) / (2 * d);
    let q = if n < 0 { -q } else { q };
    i64::try_from(q).unwrap_or(i64::MAX)
}

/// The earliest and latest dates a rate may take effect from.
const FIRST_DAY: (i32, u32, u32) = (2000, 1, 1);
const LAST_DAY: (i32, u32, u32) = (2099, 12, 31);

/// A rate taking effect, as an admin submits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRate {
    pub country: &'static str,
    pub effective_from: NaiveDate,
    pub rate: Rate,
}

impl NewRate {
    /// Every field checked, every problem reported at once.
    pub fn parse(country: &str, effective_from: &str, bp: i64) -> Result<NewRate, Invalid> {
        let country = eu_member("country", country);
        let effective_from = effective_date(effective_from);
        let rate = Rate::from_basis_points("rate_basis_points", bp);
        match (country, effective_from, rate) {
            (Ok(country), Ok(effective_from), Ok(rate)) => Ok(NewRate {
                country,
                effective_from,
                rate,
            }),
            (c, e, r) => Err(Invalid::Fields(
                [c.err(), e.err(), r.err()]
                    .into_iter()
                    .flatten()
                    .flat_map(|invalid| match invalid {
                        Invalid::Fields(fields) => fields,
                        _ => Vec::new(),
                    })
                    .collect(),
            )),
        }
    }
}

fn effective_date(text: &str) -> Result<NaiveDate, Invalid> {
    let day = |(y, m, d)| NaiveDate::from_ymd_opt(y, m, d);
    NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
        .ok()
        .filter(|date| day(FIRST_DAY).is_some_and(|first| *date >= first))
        .filter(|date| day(LAST_DAY).is_some_and(|last| *date <= last))
        .ok_or_else(|| {
            Invalid::field(
                "effective_from",
                "must be a date (YYYY-MM-DD) from 2000-01-01 to 2099-12-31",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rate(bp: u32) -> Rate {
        Rate(bp)
    }

    fn settings(home: &str, home_rate: Option<u32>) -> TaxSettings {
        TaxSettings {
            mode: TaxMode::Inclusive,
            home_country: home.to_owned(),
            home_rate,
        }
    }

    #[test]
    fn gross_prices_hold_their_tax() {
        // €119.00 at 19 %: exactly €19.00 of it is tax.
        let lines = tax_lines(TaxMode::Inclusive, &[(rate(1_900), 11_900)]);
        assert_eq!(
            lines,
            vec![TaxLine {
                rate: rate(1_900),
                net: 10_000,
                tax: 1_900,
                gross: 11_900
            }]
        );
    }

    #[test]
    fn tax_is_rounded_once_per_rate_half_away_from_zero() {
        // 1.05 at 5 %: 0.05 exactly; 0.21 at 5 %: 0.01 (0.0100); 0.63 at 5 %: 0.03.
        let one = |gross| tax_lines(TaxMode::Inclusive, &[(rate(500), gross)])[0].tax;
        assert_eq!(one(105), 5);
        assert_eq!(one(21), 1);
        // 10 × 0.10 at 19 %: per item 0.02 each (0.20), per order round(1.00 × 19/119) = 0.16.
        let items: Vec<(Rate, i64)> = (0..10).map(|_| (rate(1_900), 10)).collect();
        assert_eq!(tax_lines(TaxMode::Inclusive, &items)[0].tax, 16);
        // Exactly half a cent goes up: 0.50 net at 1 % is 0.005.
        assert_eq!(tax_lines(TaxMode::Exclusive, &[(rate(100), 50)])[0].tax, 1);
        assert_eq!(divide_rounded(-5, 10), -1);
        assert_eq!(divide_rounded(-4, 10), 0);
    }

    #[test]
    fn net_prices_get_tax_added() {
        let lines = tax_lines(TaxMode::Exclusive, &[(rate(825), 10_000), (rate(825), 990)]);
        assert_eq!(
            lines,
            vec![TaxLine {
                rate: rate(825),
                net: 10_990,
                tax: 907,
                gross: 11_897
            }]
        );
    }

    #[test]
    fn each_rate_gets_a_line_and_every_line_adds_up() {
        let lines = tax_lines(
            TaxMode::Inclusive,
            &[
                (rate(2_100), 12_900),
                (rate(600), 2_500),
                (rate(2_100), 990),
                (rate(0), 0),
            ],
        );
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].rate, rate(600));
        assert_eq!(lines[1].gross, 13_890);
        assert!(lines.iter().all(|l| l.net + l.tax == l.gross));
    }

    #[test]
    fn eu_shops_charge_the_destination_rate_and_exports_nothing() {
        let be = settings("BE", None);
        assert_eq!(rate_source(&be, "FR"), RateSource::Table("FR".into()));
        assert_eq!(rate_source(&be, "BE"), RateSource::Table("BE".into()));
        assert_eq!(rate_source(&be, "US"), RateSource::Fixed(Rate::ZERO));
        assert_eq!(rate_source(&be, "CH"), RateSource::Fixed(Rate::ZERO));
        let configured = settings("BE", Some(2_100));
        assert_eq!(
            rate_source(&configured, "BE"),
            RateSource::Fixed(rate(2_100))
        );
        assert_eq!(
            rate_source(&configured, "DE"),
            RateSource::Table("DE".into())
        );
    }

    #[test]
    fn shops_elsewhere_charge_their_home_rate_at_home_only() {
        let us = settings("US", Some(825));
        assert_eq!(rate_source(&us, "US"), RateSource::Fixed(rate(825)));
        assert_eq!(rate_source(&us, "DE"), RateSource::Fixed(Rate::ZERO));
        let untaxed = settings("US", None);
        assert_eq!(rate_source(&untaxed, "US"), RateSource::Fixed(Rate::ZERO));
    }

    #[test]
    fn rates_read_as_exact_percentages() {
        assert_eq!(rate(1_900).percent(), "19");
        assert_eq!(rate(2_550).percent(), "25.5");
        assert_eq!(rate(555).percent(), "5.55");
        assert_eq!(rate(5).percent(), "0.05");
        assert_eq!(Rate::ZERO.percent(), "0");
    }

    #[test]
    fn new_rates_are_checked_field_by_field() {
        let ok = NewRate::parse("de", "2027-01-01", 1_600).unwrap();
        assert_eq!((ok.country, ok.rate), ("DE", rate(1_600)));
        let Err(Invalid::Fields(fields)) = NewRate::parse("US", "2027-13-01", -1) else {
            panic!("three invalid fields")
        };
        let names: Vec<&str> = fields.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(names, ["country", "effective_from", "rate_basis_points"]);
        assert!(NewRate::parse("DE", "1999-12-31", 1_900).is_err());
        assert!(NewRate::parse("DE", "2027-01-01", 10_001).is_err());
        assert!(NewRate::parse("XI", "2027-01-01", 2_000).is_err());
    }
}
