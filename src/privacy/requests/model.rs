//! Data-subject requests: kinds, statuses, and the statutory clock. No HTTP, no SQL.

use chrono::{Months, NaiveDateTime};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::invalid::Invalid;

/// What the data subject asks for: `access` (a copy of everything held), `rectification`
/// (correction of inaccurate data), `erasure` (crypto-shredding of everything not kept by
/// law) or `withdrawal` (of a consent).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PrivacyRequestKind)]
pub enum Kind {
    /// A copy of everything held (`GET /v1/me/export`).
    Access,
    /// Correction of inaccurate data.
    Rectification,
    /// Erasure (crypto-shredding) of everything not kept by law.
    Erasure,
    /// Withdrawal of a consent.
    Withdrawal,
}

impl Kind {
    pub const ALL: [Kind; 4] = [
        Kind::Access,
        Kind::Rectification,
        Kind::Erasure,
        Kind::Withdrawal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Access => "access",
            Kind::Rectification => "rectification",
            Kind::Erasure => "erasure",
            Kind::Withdrawal => "withdrawal",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Where a request stands: `pending_verification` (a guest request waiting for its one-time
/// code), `pending` (waiting for the privacy officer), `scheduled` (an erasure waiting for
/// open orders to finish their after-sales window), `completed`, `denied` or `cancelled`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = PrivacyRequestStatus)]
pub enum Status {
    /// A guest request waiting for its one-time code.
    PendingVerification,
    /// Received, waiting for the privacy officer.
    Pending,
    /// An erasure waiting for open orders to finish their after-sales window.
    Scheduled,
    Completed,
    Denied,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 6] = [
        Status::PendingVerification,
        Status::Pending,
        Status::Scheduled,
        Status::Completed,
        Status::Denied,
        Status::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Status::PendingVerification => "pending_verification",
            Status::Pending => "pending",
            Status::Scheduled => "scheduled",
            Status::Completed => "completed",
            Status::Denied => "denied",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn parse(s: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Still waiting for someone to act: counts towards the queue and can go overdue.
    pub fn is_open(self) -> bool {
        matches!(
            self,
            Status::PendingVerification | Status::Pending | Status::Scheduled
        )
    }
}

/// The longest total extension the law allows past the first month.
pub const MAX_EXTENSION_MONTHS: u32 = 2;

/// `at` plus `months` calendar months, clamped to the end of a shorter month
/// (31 January + 1 month = 28 or 29 February).
pub fn add_months(at: NaiveDateTime, months: u32) -> NaiveDateTime {
    at.checked_add_months(Months::new(months)).unwrap_or(at)
}

/// The statutory due date: one calendar month after receipt.
pub fn due_date(received_at: NaiveDateTime) -> NaiveDateTime {
    add_months(received_at, 1)
}

/// The due date after extending by `extra` months, when the total stays within
/// [`MAX_EXTENSION_MONTHS`]. Computed from the receipt, so 31 January extended by one month
/// is 31 March, not 28 March.
pub fn extended_due_date(
    received_at: NaiveDateTime,
    already_extended: u32,
    extra: u32,
) -> Result<(NaiveDateTime, u32), Invalid> {
    let total = already_extended + extra;
    if extra == 0 || total > MAX_EXTENSION_MONTHS {
        return Err(Invalid::field(
            "months",
            format!(
                "the total extension is at most {MAX_EXTENSION_MONTHS} months; \
                 {already_extended} already used"
            ),
        ));
    }
    Ok((add_months(received_at, 1 + total), total))
}

/// A request the privacy officer may still act on.
pub fn require_open(status: Status) -> Result<(), Invalid> {
    if status.is_open() {
        Ok(())
    } else {
        Err(Invalid::Transition(format!(
            "The request is already {}.",
            status.as_str()
        )))
    }
}

/// A reason told to the requester: 1–500 characters, nothing sensitive.
pub fn reason(field: &str, raw: &str) -> Result<String, Invalid> {
    let value = raw.trim();
    let len = value.chars().count();
    if len == 0 || len > 500 || value.chars().any(|c| c.is_control() && c != '\n') {
        return Err(Invalid::field(field, "must be 1 to 500 characters"));
    }
    crate::privacy::refuse_sensitive(field, value)?;
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn at(y: i32, m: u32, d: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, m, d)
            .and_then(|d| d.and_hms_opt(10, 30, 0))
            .unwrap()
    }

    #[test]
    fn due_one_calendar_month_later_clamped_at_month_end() {
        assert_eq!(due_date(at(2026, 1, 15)), at(2026, 2, 15));
        assert_eq!(due_date(at(2026, 1, 31)), at(2026, 2, 28));
        assert_eq!(due_date(at(2028, 1, 31)), at(2028, 2, 29));
        assert_eq!(due_date(at(2026, 3, 31)), at(2026, 4, 30));
        assert_eq!(due_date(at(2026, 12, 31)), at(2027, 1, 31));
    }

    #[test]
    fn extensions_count_from_receipt_and_stop_at_two_months() {
        let received = at(2026, 1, 31);
        assert_eq!(
            extended_due_date(received, 0, 1).unwrap(),
            (at(2026, 3, 31), 1)
        );
        assert_eq!(
            extended_due_date(received, 1, 1).unwrap(),
            (at(2026, 4, 30), 2)
        );
        assert_eq!(
            extended_due_date(received, 0, 2).unwrap(),
            (at(2026, 4, 30), 2)
        );
        assert!(extended_due_date(received, 2, 1).is_err());
        assert!(extended_due_date(received, 0, 3).is_err());
        assert!(extended_due_date(received, 0, 0).is_err());
    }

    #[test]
    fn only_open_requests_move() {
        assert!(require_open(Status::Pending).is_ok());
        assert!(require_open(Status::Scheduled).is_ok());
        assert!(require_open(Status::Completed).is_err());
        assert!(require_open(Status::Cancelled).is_err());
    }

    #[test]
    fn statuses_and_kinds_round_trip() {
        for s in Status::ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        for k in Kind::ALL {
            assert_eq!(Kind::parse(k.as_str()), Some(k));
        }
    }
}
