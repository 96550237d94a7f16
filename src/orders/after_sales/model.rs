//! The rules of after-sales: which case may open when, and how a case may end. No HTTP, no
//! SQL.

use chrono::{Months, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::CaseKind;
use crate::orders::model::OrderStatus;

/// How staff settled a case: `refunded` (a `return` only: the order's captured payment is
/// refunded, in full or an amount), `repaired`, `replaced`, or `rejected` (not covered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Refunded,
    Repaired,
    Replaced,
    Rejected,
}

impl Outcome {
    pub const ALL: [Outcome; 4] = [
        Outcome::Refunded,
        Outcome::Repaired,
        Outcome::Replaced,
        Outcome::Rejected,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Refunded => "refunded",
            Outcome::Repaired => "repaired",
            Outcome::Replaced => "replaced",
            Outcome::Rejected => "rejected",
        }
    }

    pub fn parse(s: &str) -> Option<Outcome> {
        Outcome::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether a case of `kind` may end this way: money goes back only for goods that go
    /// back (a `return`); a repair or a warranty claim is repaired, replaced or rejected.
    pub fn fits(self, kind: CaseKind) -> bool {
        match self {
            Outcome::Refunded => kind == CaseKind::Return,
            Outcome::Repaired => kind != CaseKind::Return,
            Outcome::Replaced | Outcome::Rejected => true,
        }
    }
}

/// Until when a case of `kind` may open on an order delivered at `delivered`: a `return` or a
/// `repair` within the after-sales `window`; a `warranty` claim until the longest warranty of
/// the order's products (`warranty_years`) has run out, and never for less than the window.
/// None when the order was never delivered.
pub fn deadline(
    kind: CaseKind,
    delivered: Option<NaiveDateTime>,
    window: chrono::Duration,
    longest_warranty_years: i32,
) -> Option<NaiveDateTime> {
    let delivered = delivered?;
    let within_window = delivered + window;
    match kind {
        CaseKind::Return | CaseKind::Repair => Some(within_window),
        CaseKind::Warranty => {
            let months = u32::try_from(longest_warranty_years.max(0)).unwrap_or(0) * 12;
            let warranty = delivered
                .checked_add_months(Months::new(months))
                .unwrap_or(NaiveDateTime::MAX);
            Some(warranty.max(within_window))
        }
    }
}

/// The latest delivery after which no case of any kind may still open at `now`: the inverse
/// of [`deadline`] (whose longest period is a warranty claim's), for the order's
/// `longest_warranty_years`. An order delivered by then has its after-sales procedures
/// behind it, which is what retention waits for before shredding its personal data.
pub fn procedures_over_if_delivered_by(
    now: NaiveDateTime,
    window: chrono::Duration,
    longest_warranty_years: i32,
) -> NaiveDateTime {
    let months = u32::try_from(longest_warranty_years.max(0)).unwrap_or(0) * 12;
    let warranty = now
        .checked_sub_months(Months::new(months))
        .unwrap_or(NaiveDateTime::MIN);
    let within_window = now.checked_sub_signed(window).unwrap_or(NaiveDateTime::MIN);
    warranty.min(within_window)
}

/// Whether an order in `status` may take a case of `kind`: a return or repair while it is
/// `delivered` (it closes when the window ends); a warranty claim also once it is `closed`,
/// since a warranty outlives the after-sales window.
pub fn status_allows(kind: CaseKind, status: OrderStatus) -> bool {
    match kind {
        CaseKind::Return | CaseKind::Repair => status == OrderStatus::Delivered,
        CaseKind::Warranty => matches!(status, OrderStatus::Delivered | OrderStatus::Closed),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .unwrap()
            .and_hms_opt(12, 0, 0)
            .unwrap()
    }

    #[test]
    fn a_warranty_runs_for_the_longest_warranty_of_the_order() {
        let window = chrono::Duration::days(30);
        let delivered = Some(day(2025, 1, 31));
        assert_eq!(
            deadline(CaseKind::Warranty, delivered, window, 2),
            Some(day(2027, 1, 31))
        );
        assert_eq!(
            deadline(CaseKind::Return, delivered, window, 2),
            Some(day(2025, 3, 2))
        );
        // A product without warranty still has the after-sales window.
        assert_eq!(
            deadline(CaseKind::Warranty, delivered, window, 0),
            Some(day(2025, 3, 2))
        );
        assert_eq!(deadline(CaseKind::Warranty, None, window, 5), None);
    }

    #[test]
    fn only_a_return_is_refunded() {
        assert!(Outcome::Refunded.fits(CaseKind::Return));
        assert!(!Outcome::Refunded.fits(CaseKind::Warranty));
        assert!(!Outcome::Repaired.fits(CaseKind::Return));
        assert!(Outcome::Rejected.fits(CaseKind::Repair));
    }

    #[test]
    fn procedures_are_over_exactly_when_the_last_deadline_has_passed() {
        let window = chrono::Duration::days(30);
        for now in [
            day(2027, 6, 15),
            day(2028, 2, 29),
            day(2029, 2, 28),
            day(2028, 3, 1),
        ] {
            for years in [0, 1, 2, 5] {
                let by = procedures_over_if_delivered_by(now, window, years);
                for kind in CaseKind::ALL {
                    let last = deadline(kind, Some(by), window, years).unwrap();
                    assert!(
                        last <= now,
                        "{kind:?} {years}y delivered {by}: until {last}"
                    );
                }
                // And it is tight: two days later a claim could still open. (Two, not one: a
                // warranty of a delivery on 29 February ends on 28 February, so retention
                // may wait one day longer than it must there, never a day less.)
                let later = by + chrono::Duration::days(2);
                let last = deadline(CaseKind::Warranty, Some(later), window, years);
                assert!(last.unwrap() > now, "{years}y delivered {later}");
            }
        }
    }

    #[test]
    fn warranty_claims_reach_closed_orders() {
        assert!(status_allows(CaseKind::Warranty, OrderStatus::Closed));
        assert!(!status_allows(CaseKind::Return, OrderStatus::Closed));
        assert!(!status_allows(CaseKind::Warranty, OrderStatus::Shipped));
    }
}
