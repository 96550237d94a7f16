//! Discount codes: what a code takes off, when it applies, why it does not, and how a
//! discount is spread over the goods' tax rates. No HTTP, no SQL.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::invalid::{FieldError, Invalid};
use crate::money::MAX_AMOUNT;

/// What a code takes off: `percentage` of the goods subtotal (in basis points: 1000 is
/// 10 %), a `fixed_amount` off the goods (never more than they cost), or `free_shipping`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = DiscountKind)]
pub enum Kind {
    Percentage,
    FixedAmount,
    FreeShipping,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Percentage, Kind::FixedAmount, Kind::FreeShipping];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Percentage => "percentage",
            Kind::FixedAmount => "fixed_amount",
            Kind::FreeShipping => "free_shipping",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A code's benefit, checked: a percentage of 0.01–100 %, a positive fixed amount, or free
/// shipping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Benefit {
    Percentage(u32),
    FixedAmount(i64),
    FreeShipping,
}

impl Benefit {
    /// `value` as the admin API takes it for `kind`.
    pub fn parse(kind: Kind, value: i64) -> Result<Benefit, Invalid> {
        match kind {
            Kind::Percentage => u32::try_from(value)
                .ok()
                .filter(|bp| (1..=10_000).contains(bp))
                .map(Benefit::Percentage)
                .ok_or_else(|| {
                    Invalid::field("value", "must be 1 to 10000 basis points (0.01 % to 100 %)")
                }),
            Kind::FixedAmount if (1..=MAX_AMOUNT).contains(&value) => {
                Ok(Benefit::FixedAmount(value))
            }
            Kind::FixedAmount => Err(Invalid::field(
                "value",
                "must be a positive amount in minor units",
            )),
            Kind::FreeShipping if value == 0 => Ok(Benefit::FreeShipping),
            Kind::FreeShipping => Err(Invalid::field(
                "value",
                "must be 0 (or left out) for free shipping",
            )),
        }
    }

    /// As stored (already checked when written): never trusted to be in range.
    pub fn stored(kind: &str, value: i64) -> Benefit {
        match Kind::parse(kind) {
            Some(Kind::Percentage) => {
                Benefit::Percentage(u32::try_from(value.clamp(0, 10_000)).unwrap_or(0))
            }
            Some(Kind::FixedAmount) => Benefit::FixedAmount(value.clamp(0, MAX_AMOUNT)),
            Some(Kind::FreeShipping) => Benefit::FreeShipping,
            // An unknown kind takes nothing off.
            None => Benefit::FixedAmount(0),
        }
    }

    pub fn kind(self) -> Kind {
        match self {
            Benefit::Percentage(_) => Kind::Percentage,
            Benefit::FixedAmount(_) => Kind::FixedAmount,
            Benefit::FreeShipping => Kind::FreeShipping,
        }
    }

    pub fn value(self) -> i64 {
        match self {
            Benefit::Percentage(bp) => i64::from(bp),
            Benefit::FixedAmount(amount) => amount,
            Benefit::FreeShipping => 0,
        }
    }
}

/// A code as customers type it: trimmed, case-insensitive (kept in upper case), 3–32 of
/// `A–Z`, `0–9`, `-` and `_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Code(String);

impl Code {
    pub fn parse(field: &str, raw: &str) -> Result<Code, Invalid> {
        let code = raw.trim().to_ascii_uppercase();
        let fits = (3..=32).contains(&code.len())
            && code
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if fits {
            Ok(Code(code))
        } else {
            Err(Invalid::field(
                field,
                "must be 3 to 32 letters, digits, `-` or `_`",
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When and how often a code applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Terms {
    pub benefit: Benefit,
    pub starts_at: Option<NaiveDateTime>,
    pub ends_at: Option<NaiveDateTime>,
    /// The goods subtotal (before the discount) a cart must reach, in minor units.
    pub minimum_subtotal: i64,
    /// Orders in all that may hold a use; `None`: no limit.
    pub usage_limit: Option<i32>,
    /// Orders one customer may hold a use in; `None`: no limit.
    pub per_customer_limit: Option<i32>,
    pub active: bool,
}

impl Terms {
    /// The window and the limits, checked together: every problem reported at once.
    pub fn check(&self) -> Result<(), Invalid> {
        let mut errors = Vec::new();
        if let (Some(start), Some(end)) = (self.starts_at, self.ends_at) {
            if end <= start {
                errors.push(FieldError::new("ends_at", "must be after `starts_at`"));
            }
        }
        if !(0..=MAX_AMOUNT).contains(&self.minimum_subtotal) {
            errors.push(FieldError::new(
                "minimum_subtotal",
                "must be 0 or a positive amount in minor units",
            ));
        }
        for (field, limit) in [
            ("usage_limit", self.usage_limit),
            ("per_customer_limit", self.per_customer_limit),
        ] {
            if limit.is_some_and(|n| n < 1) {
                errors.push(FieldError::new(
                    field,
                    "must be at least 1, or null for none",
                ));
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Invalid::Fields(errors))
        }
    }
}

/// Why a code does not apply to a cart or an order. Each is its own problem type (422).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// No active code is spelled so (a deactivated code is unknown to customers).
    Unknown,
    NotYetValid,
    Expired,
    /// The goods subtotal is below the code's minimum (in minor units).
    BelowMinimum {
        minimum: i64,
    },
    /// Every use of the code is taken.
    UsedUp,
    /// This customer holds as many uses as the code allows one customer.
    AlreadyUsed,
}

impl Refusal {
    pub const ALL: [Refusal; 6] = [
        Refusal::Unknown,
        Refusal::NotYetValid,
        Refusal::Expired,
        Refusal::BelowMinimum { minimum: 0 },
        Refusal::UsedUp,
        Refusal::AlreadyUsed,
    ];

    /// The slug of its problem type (`urn:valise:problem:<slug>`).
    pub fn slug(self) -> &'static str {
        match self {
            Refusal::Unknown => "discount-code-unknown",
            Refusal::NotYetValid => "discount-code-not-yet-valid",
            Refusal::Expired => "discount-code-expired",
            Refusal::BelowMinimum { .. } => "discount-code-below-minimum",
            Refusal::UsedUp => "discount-code-used-up",
            Refusal::AlreadyUsed => "discount-code-already-used",
        }
    }

    /// In words for the customer; `minimum` written in `currency` (minor unit `exponent`).
    pub fn detail(self, currency: &str, exponent: u8) -> String {
        match self {
            Refusal::Unknown => "No discount code is spelled so.".to_owned(),
            Refusal::NotYetValid => "This discount code is not valid yet.".to_owned(),
            Refusal::Expired => "This discount code has expired.".to_owned(),
            Refusal::BelowMinimum { minimum } => format!(
                "This discount code applies from a goods subtotal of {} {currency}.",
                decimal(minimum, exponent)
            ),
            Refusal::UsedUp => "Every use of this discount code is taken.".to_owned(),
            Refusal::AlreadyUsed => {
                "You have already used this discount code as often as it allows.".to_owned()
            }
        }
    }
}

/// `amount` minor units written in major units: `5000` with exponent 2 is `50.00`.
fn decimal(amount: i64, exponent: u8) -> String {
    if exponent == 0 {
        return amount.to_string();
    }
    let scale = 10i64.pow(u32::from(exponent));
    format!(
        "{}.{:0width$}",
        amount / scale,
        (amount % scale).abs(),
        width = usize::from(exponent)
    )
}

/// Whether a code with `terms` applies now to a goods subtotal, given the uses taken in
/// all (`uses`) and by this customer (`customer_uses`, `None` when the customer is not
/// known yet: a guest before checkout). The order of the checks is the order a customer
/// can act on: a code that is not valid at all says so before a subtotal is too low.
pub fn check(
    terms: &Terms,
    now: NaiveDateTime,
    subtotal: i64,
    uses: i32,
    customer_uses: Option<i64>,
) -> Result<(), Refusal> {
    if !terms.active {
        return Err(Refusal::Unknown);
    }
    if terms.starts_at.is_some_and(|start| now < start) {
        return Err(Refusal::NotYetValid);
    }
    if terms.ends_at.is_some_and(|end| now >= end) {
        return Err(Refusal::Expired);
    }
    if terms.usage_limit.is_some_and(|limit| uses >= limit) {
        return Err(Refusal::UsedUp);
    }
    if let (Some(limit), Some(used)) = (terms.per_customer_limit, customer_uses) {
        if used >= i64::from(limit) {
            return Err(Refusal::AlreadyUsed);
        }
    }
    if subtotal < terms.minimum_subtotal {
        return Err(Refusal::BelowMinimum {
            minimum: terms.minimum_subtotal,
        });
    }
    Ok(())
}

/// What a code takes off an order: from each goods amount (in the order given, e.g. one per
/// tax rate) and from shipping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub goods: Vec<i64>,
    pub shipping: i64,
}

impl Applied {
    pub fn total(&self) -> i64 {
        self.goods.iter().sum::<i64>() + self.shipping
    }
}

/// The discount of `benefit` on goods amounts (one per tax rate, each ≥ 0) and `shipping`.
/// A percentage is rounded half up once, on the whole goods subtotal; a fixed amount takes
/// at most the subtotal. The goods discount is spread over the amounts in proportion
/// (largest remainder), so the parts add up to it exactly and the tax of each rate is
/// computed on what is really charged.
pub fn apply(benefit: Benefit, goods: &[i64], shipping: i64) -> Applied {
    let subtotal: i64 = goods.iter().sum();
    let off = match benefit {
        Benefit::Percentage(bp) => {
            let exact = i128::from(subtotal) * i128::from(bp);
            i64::try_from((2 * exact + 10_000) / 20_000).unwrap_or(subtotal)
        }
        Benefit::FixedAmount(amount) => amount,
        Benefit::FreeShipping => 0,
    }
    .clamp(0, subtotal.max(0));
    Applied {
        goods: spread(off, goods),
        shipping: match benefit {
            Benefit::FreeShipping => shipping.max(0),
            _ => 0,
        },
    }
}

/// `total` split over `weights` in proportion, by largest remainder: the shares add up to
/// `total` exactly, each within one minor unit of its exact share (ties to the earlier).
pub fn spread(total: i64, weights: &[i64]) -> Vec<i64> {
    let sum: i128 = weights.iter().map(|w| i128::from((*w).max(0))).sum();
    if sum == 0 {
        return vec![0; weights.len()];
    }
    let mut shares: Vec<(i64, i128)> = weights
        .iter()
        .map(|w| {
            let exact = i128::from(total) * i128::from((*w).max(0));
            (i64::try_from(exact / sum).unwrap_or(0), exact % sum)
        })
        .collect();
    let mut left = total - shares.iter().map(|(s, _)| s).sum::<i64>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].1.cmp(&shares[*a].1).then(a.cmp(b)));
    for i in order {
        if left <= 0 {
            break;
        }
        shares[i].0 += 1;
        left -= 1;
    }
    shares.into_iter().map(|(s, _)| s).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms() -> Terms {
        Terms {
            benefit: Benefit::Percentage(1000),
            starts_at: None,
            ends_at: None,
            minimum_subtotal: 0,
            usage_limit: None,
            per_customer_limit: None,
            active: true,
        }
    }

    fn at(s: &str) -> NaiveDateTime {
        NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").unwrap()
    }

    #[test]
    fn codes_are_case_insensitive_and_plain() {
        assert_eq!(
            Code::parse("code", " summer-10 ").unwrap().as_str(),
            "SUMMER-10"
        );
        for bad in ["ab", "with space", "ÉTÉ10", &"X".repeat(33)] {
            assert!(Code::parse("code", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_benefit_is_checked_for_its_kind() {
        assert_eq!(
            Benefit::parse(Kind::Percentage, 1000),
            Ok(Benefit::Percentage(1000))
        );
        assert!(Benefit::parse(Kind::Percentage, 0).is_err());
        assert!(Benefit::parse(Kind::Percentage, 10_001).is_err());
        assert!(Benefit::parse(Kind::FixedAmount, 0).is_err());
        assert!(Benefit::parse(Kind::FreeShipping, 5).is_err());
        assert_eq!(
            Benefit::parse(Kind::FreeShipping, 0),
            Ok(Benefit::FreeShipping)
        );
    }

    #[test]
    fn each_reason_in_the_order_a_customer_can_act_on() {
        let now = at("2026-12-08 12:00:00");
        let t = terms();
        assert_eq!(check(&t, now, 100, 0, None), Ok(()));
        let inactive = Terms {
            active: false,
            ..t.clone()
        };
        assert_eq!(check(&inactive, now, 100, 0, None), Err(Refusal::Unknown));
        let later = Terms {
            starts_at: Some(at("2026-12-09 00:00:00")),
            ..t.clone()
        };
        assert_eq!(check(&later, now, 100, 0, None), Err(Refusal::NotYetValid));
        let over = Terms {
            ends_at: Some(now),
            ..t.clone()
        };
        assert_eq!(check(&over, now, 100, 0, None), Err(Refusal::Expired));
        let limited = Terms {
            usage_limit: Some(5),
            ..t.clone()
        };
        assert_eq!(check(&limited, now, 100, 4, None), Ok(()));
        assert_eq!(check(&limited, now, 100, 5, None), Err(Refusal::UsedUp));
        let once = Terms {
            per_customer_limit: Some(1),
            ..t.clone()
        };
        assert_eq!(check(&once, now, 100, 0, None), Ok(()));
        assert_eq!(
            check(&once, now, 100, 0, Some(1)),
            Err(Refusal::AlreadyUsed)
        );
        let minimum = Terms {
            minimum_subtotal: 5000,
            ..t
        };
        assert_eq!(
            check(&minimum, now, 4999, 0, None),
            Err(Refusal::BelowMinimum { minimum: 5000 })
        );
        assert_eq!(check(&minimum, now, 5000, 0, None), Ok(()));
    }

    #[test]
    fn the_minimum_is_written_in_major_units() {
        let detail = Refusal::BelowMinimum { minimum: 5005 }.detail("EUR", 2);
        assert!(detail.contains("50.05 EUR"), "{detail}");
        assert!(Refusal::BelowMinimum { minimum: 500 }
            .detail("JPY", 0)
            .contains("500 JPY"));
    }

    #[test]
    fn each_kind_takes_off_what_it_says() {
        assert_eq!(
            apply(Benefit::Percentage(1000), &[12_345], 990),
            Applied {
                goods: vec![1235],
                shipping: 0
            }
        );
        assert_eq!(
            apply(Benefit::FixedAmount(2000), &[12_900], 0),
            Applied {
                goods: vec![2000],
                shipping: 0
            }
        );
        assert_eq!(
            apply(Benefit::FixedAmount(20_000), &[12_900], 990).total(),
            12_900,
            "never more than the goods"
        );
        assert_eq!(
            apply(Benefit::FreeShipping, &[5000], 990),
            Applied {
                goods: vec![0],
                shipping: 990
            }
        );
    }

    #[test]
    fn the_discount_is_spread_over_rates_exactly() {
        assert_eq!(spread(100, &[1, 1, 1]), vec![34, 33, 33]);
        assert_eq!(spread(1000, &[3000, 1000]), vec![750, 250]);
        assert_eq!(spread(7, &[0, 0]), vec![0, 0]);
        for (total, weights) in [
            (999, vec![333, 333, 334]),
            (1, vec![5, 5]),
            (12_345, vec![7, 11, 13, 17]),
        ] {
            let shares = spread(total, &weights);
            assert_eq!(shares.iter().sum::<i64>(), total);
            let sum: i64 = weights.iter().sum();
            for (share, w) in shares.iter().zip(&weights) {
                let exact = total as f64 * *w as f64 / sum as f64;
                assert!((*share as f64 - exact).abs() < 1.0, "{share} vs {exact}");
            }
        }
    }
}
