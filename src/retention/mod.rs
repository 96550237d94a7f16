//! Retention rules: how long each category of data is kept, in one table that the data map
//! publishes (`GET /v1/privacy/data-map`) and the retention engine enforces.

pub mod engine;
pub mod routes;

pub use engine::RetentionRule;

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
    /// Registrations never confirmed are erased this many days after they were made (not
    /// while a confirmation mail sent to them still works).
    pub unconfirmed_account_days: i64,
    /// Raw analytics events.
    pub analytics_raw_days: i64,
    /// Audit log entries.
    pub audit_days: i64,
    /// Finished webhook deliveries.
    pub webhook_delivery_days: i64,
    /// Sent, dead-lettered and suppressed notifications.
    pub notification_days: i64,
}

impl Settings {
    pub fn from_config(config: &crate::config::Config) -> Self {
        Self {
            after_sales_days: config.shop.after_sales_window.num_days(),
            order_personal_days_after_close: config.retention.order_personal_days_after_close,
            accounting_years: config.retention.accounting_years,
            inactive_account_years: config.retention.inactive_account_years,
            unconfirmed_account_days: config.retention.unconfirmed_account_days,
            analytics_raw_days: config.analytics.raw_days,
            audit_days: config.retention.audit_days,
            webhook_delivery_days: config.retention.webhook_delivery_days,
            notification_days: config.retention.notification_days,
        }
    }
}

/// A category of data, by id: those of the data map (`GET /v1/privacy/data-map`), and
/// `idempotency` (stored answers and throttling windows, kept a day at most).
/// `webhook_deliveries` is the integrators' delivery log; `erasure_ledger` the subject ids
/// erased and when, kept for replay into the backups still kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DataCategory {
    AccountProfile,
    SavedAddresses,
    OrderPersonal,
    Accounting,
    InvoiceBuyers,
    Consultations,
    ConsentEvidence,
    Dsr,
    Audit,
    ServiceSecrets,
    Analytics,
    Idempotency,
    WebhookDeliveries,
    Notifications,
    ErasureLedger,
}

impl DataCategory {
    pub const ALL: [DataCategory; 15] = [
        DataCategory::AccountProfile,
        DataCategory::SavedAddresses,
        DataCategory::OrderPersonal,
        DataCategory::Accounting,
        DataCategory::InvoiceBuyers,
        DataCategory::Consultations,
        DataCategory::ConsentEvidence,
        DataCategory::Dsr,
        DataCategory::Audit,
        DataCategory::ServiceSecrets,
        DataCategory::Analytics,
        DataCategory::Idempotency,
        DataCategory::WebhookDeliveries,
        DataCategory::Notifications,
        DataCategory::ErasureLedger,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DataCategory::AccountProfile => "account_profile",
            DataCategory::SavedAddresses => "saved_addresses",
            DataCategory::OrderPersonal => "order_personal",
            DataCategory::Accounting => "accounting",
            DataCategory::InvoiceBuyers => "invoice_buyers",
            DataCategory::Consultations => "consultations",
            DataCategory::ConsentEvidence => "consent_evidence",
            DataCategory::Dsr => "dsr",
            DataCategory::Audit => "audit",
            DataCategory::ServiceSecrets => "service_secrets",
            DataCategory::Analytics => "analytics",
            DataCategory::Idempotency => "idempotency",
            DataCategory::WebhookDeliveries => "webhook_deliveries",
            DataCategory::Notifications => "notifications",
            DataCategory::ErasureLedger => "erasure_ledger",
        }
    }
}

impl std::fmt::Display for DataCategory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What starts a retention clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
pub enum RetentionStart {
    #[serde(rename = "order closed")]
    OrderClosed,
    #[serde(rename = "account erased")]
    AccountErased,
    #[serde(rename = "request answered")]
    RequestAnswered,
    #[serde(rename = "request")]
    Request,
    #[serde(rename = "event")]
    Event,
    #[serde(rename = "entry")]
    Entry,
    #[serde(rename = "question answered")]
    QuestionAnswered,
    #[serde(rename = "subscription deleted")]
    SubscriptionDeleted,
    /// 31 December of the year a document was issued in.
    #[serde(rename = "end of the document's year")]
    EndOfDocumentYear,
    /// A webhook delivery or a notification delivered, dead-lettered, cancelled or
    /// suppressed.
    #[serde(rename = "delivery finished")]
    DeliveryFinished,
    /// The oldest snapshot `valise backup --dir` keeps was taken.
    #[serde(rename = "oldest kept backup")]
    OldestKeptBackup,
}

/// How long something is kept, and from when.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RetentionPeriod)]
pub struct Retention {
    /// What starts the clock.
    pub from: RetentionStart,
    /// Days kept after that; `null` when kept with no fixed period (while the account
    /// exists, or while a kept backup may need it).
    #[schema(minimum = 0)]
    pub days: Option<i64>,
    /// The rule in words.
    pub description: String,
}

/// The retention rule of a data category (see `privacy::data_map` for the categories).
pub fn rule(category: DataCategory, s: &Settings) -> Retention {
    let days = |from: RetentionStart, days: i64, description: String| Retention {
        from,
        days: Some(days),
        description,
    };
    match category {
        DataCategory::OrderPersonal => days(
            RetentionStart::OrderClosed,
            s.order_personal_days_after_close,
            format!(
                "Kept while the order runs and until its after-sales procedures are complete: \
                 its {}-day after-sales window, any after-sales case of it still open, and \
                 the warranty of its products (delivery plus their longest warranty_years). \
                 The order's key is shredded {} day(s) after it closes, and never before \
                 those procedures end.",
                s.after_sales_days, s.order_personal_days_after_close
            ),
        ),
        DataCategory::Accounting => days(
            RetentionStart::OrderClosed,
            s.accounting_years * 365,
            format!(
                "Statutory period of {} years, without personal data.",
                s.accounting_years
            ),
        ),
        DataCategory::InvoiceBuyers => days(
            RetentionStart::EndOfDocumentYear,
            s.accounting_years * 365,
            format!(
                "The law requires the buyer on an invoice: kept, also through an erasure \
                 request (GDPR Art. 17(3)(b)), until 31 December of the document's year plus \
                 {} years, when the year's key is destroyed; the document stays without them.",
                s.accounting_years
            ),
        ),
        DataCategory::ConsentEvidence => days(
            RetentionStart::AccountErased,
            s.accounting_years * 365,
            "Proof of consent and of policy acceptance, by subject id only, for as long as a \
             claim can be made."
                .into(),
        ),
        DataCategory::Dsr => days(
            RetentionStart::RequestAnswered,
            3 * 365,
            "Requests are deleted 3 years after their answer; unused one-time codes after 24 \
             hours."
                .into(),
        ),
        DataCategory::Idempotency => days(
            RetentionStart::Request,
            1,
            "24 hours, for safe retries.".into(),
        ),
        DataCategory::Analytics => days(
            RetentionStart::Event,
            s.analytics_raw_days,
            format!(
                "Raw anonymous events {} days; daily aggregates longer (no personal data).",
                s.analytics_raw_days
            ),
        ),
        DataCategory::Audit => days(
            RetentionStart::Entry,
            s.audit_days,
            format!(
                "Ids, field names and purposes only (never values); each entry is kept {} days. \
                 The oldest are deleted only after their MACs verify, and a signed record of \
                 the last one deleted keeps the rest of the chain verifiable.",
                s.audit_days
            ),
        ),
        DataCategory::WebhookDeliveries => days(
            RetentionStart::DeliveryFinished,
            s.webhook_delivery_days,
            format!(
                "Delivered, dead-lettered and cancelled deliveries leave the delivery log {} \
                 days after they were queued and last tried; pending ones stay until they \
                 finish.",
                s.webhook_delivery_days
            ),
        ),
        DataCategory::Notifications => days(
            RetentionStart::DeliveryFinished,
            s.notification_days,
            format!(
                "Notices (order updates, policy revisions, account mails) leave the outbox \
                 and the customer's inbox {} days after they were queued and last tried, once \
                 sent, dead-lettered or suppressed; an order's go earlier with its personal \
                 data, an account's with the account.",
                s.notification_days
            ),
        ),
        DataCategory::ErasureLedger => Retention {
            from: RetentionStart::OldestKeptBackup,
            days: None,
            description: format!(
                "An erased subject's id and time are kept while a backup taken before the \
                 erasure may still be restored: until a day before the oldest snapshot that \
                 `valise backup --dir` keeps (the day covers erasures still committing as a \
                 snapshot starts), and for as long as the subject's consent evidence runs \
                 ({} years), whose clock it is. With no rotated backup recorded, kept whole.",
                s.accounting_years
            ),
        },
        DataCategory::Consultations => days(
            RetentionStart::QuestionAnswered,
            365,
            "The question and its contact email are shredded a year after the answer (the \
             published wording of answered questions stays, without personal data)."
                .into(),
        ),
        DataCategory::ServiceSecrets => days(
            RetentionStart::SubscriptionDeleted,
            0,
            "Destroyed with its subscription (its data key is shredded).".into(),
        ),
        DataCategory::AccountProfile => Retention {
            from: RetentionStart::AccountErased,
            days: None,
            description: format!(
                "{} A registration whose address is never confirmed is erased {} days after \
                 it was made (not while a confirmation mail sent to it still works).",
                while_the_account_exists(s),
                s.unconfirmed_account_days
            ),
        },
        DataCategory::SavedAddresses => Retention {
            from: RetentionStart::AccountErased,
            days: None,
            description: while_the_account_exists(s),
        },
    }
}

/// How long what belongs to an account is kept.
fn while_the_account_exists(s: &Settings) -> String {
    format!(
        "Kept while the account exists; erased on request (at once, or when the last order \
         closes), or after {} years without a sign-in.",
        s.inactive_account_years
    )
}
