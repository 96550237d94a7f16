//! Retention rules: how long each category of data is kept, in one table that the data map
//! publishes (`GET /v1/privacy/data-map`) and the retention engine enforces.

pub mod engine;
pub mod routes;

use serde::Serialize;
use utoipa::ToSchema;

/// Periods that depend on the shop's configuration.
#[derive(Debug, Clone)]
pub struct Settings {
    /// After-sales window after delivery (`VALISE_AFTER_SALES_DAYS`).
    pub after_sales_days: i64,
    /// Personal part of an order after it is closed (0: shredded at `closed`).
    pub order_personal_days_after_close: i64,
    /// Accounting records (statutory).
    pub accounting_years: i64,
    /// Accounts with no sign-in for this long are closed and erased.
    pub inactive_account_years: i64,
    /// Raw analytics events.
    pub analytics_raw_days: i64,
}

impl Settings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            after_sales_days: config.after_sales_window.num_days(),
            order_personal_days_after_close: config.retention.order_personal_days_after_close,
            accounting_years: config.retention.accounting_years,
            inactive_account_years: config.retention.inactive_account_years,
            analytics_raw_days: config.analytics.raw_days,
        }
    }
}

/// How long something is kept, and from when.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RetentionPeriod)]
pub struct Retention {
    /// What starts the clock, e.g. `order closed`, `received`, `erasure requested`.
    pub from: &'static str,
    /// Days kept after that; `null` while the account exists (until erasure).
    pub days: Option<i64>,
    /// The rule in words.
    pub description: String,
}

/// The retention rule of a data category (see `privacy::data_map` for the categories).
pub fn rule(category: &str, s: &Settings) -> Retention {
    let days = |from: &'static str, days: i64, description: String| Retention {
        from,
        days: Some(days),
        description,
    };
    match category {
        "order_personal" => days(
            "order closed",
            s.order_personal_days_after_close,
            format!(
                "Kept while the order runs and for its {}-day after-sales window; the order's \
                 key is shredded {} day(s) after it closes.",
                s.after_sales_days, s.order_personal_days_after_close
            ),
        ),
        "accounting" => days(
            "order closed",
            s.accounting_years * 365,
            format!(
                "Statutory period of {} years, without personal data.",
                s.accounting_years
            ),
        ),
        "consent_evidence" => days(
            "account erased",
            s.accounting_years * 365,
            "Proof of consent and of policy acceptance, by subject id only, for as long as a \
             claim can be made."
                .into(),
        ),
        "dsr" => days(
            "request answered",
            3 * 365,
            "Requests are deleted 3 years after their answer; unused one-time codes after 24 \
             hours."
                .into(),
        ),
        "idempotency" => days("request", 1, "24 hours, for safe retries.".into()),
        "analytics" => days(
            "event",
            s.analytics_raw_days,
            format!(
                "Raw anonymous events {} days; daily aggregates longer (no personal data).",
                s.analytics_raw_days
            ),
        ),
        "audit" => Retention {
            from: "entry",
            days: None,
            description: "Ids, field names and purposes only (never values); kept whole, since \
                          the MAC chain proves nothing was removed."
                .into(),
        },
        "consultations" => days(
            "question answered",
            365,
            "The question and its contact email are shredded a year after the answer (the \
             published wording of answered questions stays, without personal data)."
                .into(),
        ),
        "service_secrets" => days(
            "subscription deleted",
            0,
            "Destroyed with its subscription (its data key is shredded).".into(),
        ),
        _ => Retention {
            from: "account erased",
            days: None,
            description: format!(
                "Kept while the account exists; erased on request (at once, or when the last \
                 order closes), or after {} years without a sign-in.",
                s.inactive_account_years
            ),
        },
    }
}
