//! The retention engine: [`RULES`], one entry per kind of data that expires, each a query
//! for what is due and an action on it. A run goes through every rule in batches (one short
//! transaction per batch, never one huge one); it is idempotent and resumable (each batch
//! selects what is still due, so a stopped run simply continues next time) and safe with
//! several processes (each batch re-selects inside its own transaction).

use chrono::{Datelike, Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::{DataCategory, Settings};
use crate::audit::{self, Actor, Event};
use crate::auth::{email_tokens, status, Role};
use crate::crypto::Crypto;
use crate::db::schema::{
    account_tokens, after_sales_answers, after_sales_cases, cart_items, carts, consents,
    consultations, data_keys, disclosures, documents, documents_due, dsr_codes, dsr_requests,
    erasure_ledger, idempotency_keys, notifications, order_events, order_items, order_shipping,
    order_tax_lines, orders, payment_events, payments, policy_acceptances, products, rate_limits,
    refresh_tokens, refunds, shipments, users, webhook_deliveries,
};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::orders::after_sales;
use crate::orders::model::OrderStatus;
use crate::privacy::erasure;

/// Rows handled per transaction.
pub const BATCH: i64 = 500;

/// What a rule sees: the time of the run, the settings, the keys.
pub struct Ctx<'a> {
    pub now: NaiveDateTime,
    pub settings: &'a Settings,
    pub crypto: &'a Crypto,
}

impl Ctx<'_> {
    fn days_ago(&self, days: i64) -> NaiveDateTime {
        self.now - Duration::days(days)
    }
}

/// A rule of the retention engine, by name; each enforces one [`DataCategory`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RetentionRule {
    OrderPersonal,
    Accounting,
    AccountingPeriods,
    InactiveAccounts,
    UnconfirmedAccounts,
    ClosedAccounts,
    Consultations,
    DsrRequests,
    ConsentEvidence,
    DsrCodes,
    IdempotencyKeys,
    IdempotencyKeysErased,
    RefreshTokens,
    AccountTokens,
    ExpiredCarts,
    RateLimits,
    AnalyticsRaw,
    AnalyticsSalts,
    WebhookDeliveries,
    Notifications,
    ErasureLedger,
    AuditLog,
}

impl RetentionRule {
    pub const ALL: [RetentionRule; 22] = [
        RetentionRule::OrderPersonal,
        RetentionRule::Accounting,
        RetentionRule::AccountingPeriods,
        RetentionRule::InactiveAccounts,
        RetentionRule::UnconfirmedAccounts,
        RetentionRule::ClosedAccounts,
        RetentionRule::Consultations,
        RetentionRule::DsrRequests,
        RetentionRule::ConsentEvidence,
        RetentionRule::DsrCodes,
        RetentionRule::IdempotencyKeys,
        RetentionRule::IdempotencyKeysErased,
        RetentionRule::RefreshTokens,
        RetentionRule::AccountTokens,
        RetentionRule::ExpiredCarts,
        RetentionRule::RateLimits,
        RetentionRule::AnalyticsRaw,
        RetentionRule::AnalyticsSalts,
        RetentionRule::WebhookDeliveries,
        RetentionRule::Notifications,
        RetentionRule::ErasureLedger,
        RetentionRule::AuditLog,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            RetentionRule::OrderPersonal => "order_personal",
            RetentionRule::Accounting => "accounting",
            RetentionRule::AccountingPeriods => "accounting_periods",
            RetentionRule::InactiveAccounts => "inactive_accounts",
            RetentionRule::UnconfirmedAccounts => "unconfirmed_accounts",
            RetentionRule::ClosedAccounts => "closed_accounts",
            RetentionRule::Consultations => "consultations",
            RetentionRule::DsrRequests => "dsr_requests",
            RetentionRule::ConsentEvidence => "consent_evidence",
            RetentionRule::DsrCodes => "dsr_codes",
            RetentionRule::IdempotencyKeys => "idempotency_keys",
            RetentionRule::IdempotencyKeysErased => "idempotency_keys_erased",
            RetentionRule::RefreshTokens => "refresh_tokens",
            RetentionRule::AccountTokens => "account_tokens",
            RetentionRule::ExpiredCarts => "expired_carts",
            RetentionRule::RateLimits => "rate_limits",
            RetentionRule::AnalyticsRaw => "analytics_raw",
            RetentionRule::AnalyticsSalts => "analytics_salts",
            RetentionRule::WebhookDeliveries => "webhook_deliveries",
            RetentionRule::Notifications => "notifications",
            RetentionRule::ErasureLedger => "erasure_ledger",
            RetentionRule::AuditLog => "audit_log",
        }
    }
}

/// A rule compares equal to its name, as reports are searched by name.
impl PartialEq<&str> for RetentionRule {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl std::fmt::Display for RetentionRule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

type Select = fn(&mut DbConnection, &Ctx<'_>, i64) -> QueryResult<Vec<String>>;
type Act = fn(&mut DbConnection, &Ctx<'_>, &[String]) -> Result<(), ApiError>;
type Count = fn(&mut DbConnection, &Ctx<'_>) -> QueryResult<i64>;
type Purge = fn(&mut DbConnection, &Ctx<'_>, i64) -> QueryResult<usize>;

/// How a rule finds and purges what is due.
enum Work {
    /// Selects up to a batch of keys, then acts on them.
    Keys { select: Select, act: Act },
    /// Counts what is due, and purges up to a batch in one statement.
    Bulk { count: Count, purge: Purge },
}

/// One retention rule.
pub struct Rule {
    pub name: RetentionRule,
    /// The data-map category it enforces.
    pub category: DataCategory,
    pub action: &'static str,
    work: Work,
}

/// Every rule, in the order a run applies them (accounts are erased before their empty rows
/// are deleted).
pub const RULES: &[Rule] = &[
    Rule {
        name: RetentionRule::OrderPersonal,
        category: DataCategory::OrderPersonal,
        action: "shred the order's key (contact email, address, after-sales reasons) once it \
                 is closed (expired and cancelled orders at once)",
        work: Work::Keys {
            select: order_personal_due,
            act: shred_each,
        },
    },
    Rule {
        name: RetentionRule::Accounting,
        category: DataCategory::Accounting,
        action: "delete orders, items, payments and history past the statutory period",
        work: Work::Keys {
            select: accounting_due,
            act: delete_orders,
        },
    },
    Rule {
        name: RetentionRule::AccountingPeriods,
        category: DataCategory::InvoiceBuyers,
        action: "destroy the key of an accounting year's invoice buyers once the statutory \
                 period after that year has ended",
        work: Work::Keys {
            select: periods_due,
            act: shred_each,
        },
    },
    Rule {
        name: RetentionRule::InactiveAccounts,
        category: DataCategory::AccountProfile,
        action: "erase customer accounts with no sign-in for the configured period",
        work: Work::Keys {
            select: inactive_accounts_due,
            act: erase_accounts,
        },
    },
    Rule {
        name: RetentionRule::UnconfirmedAccounts,
        category: DataCategory::AccountProfile,
        action: "erase registrations whose address was not confirmed within the configured \
                 days (never while a confirmation mail sent to it still works)",
        work: Work::Keys {
            select: unconfirmed_accounts_due,
            act: erase_unconfirmed,
        },
    },
    Rule {
        name: RetentionRule::ClosedAccounts,
        category: DataCategory::AccountProfile,
        action: "delete the empty rows of erased accounts no order refers to",
        work: Work::Keys {
            select: closed_accounts_due,
            act: delete_accounts,
        },
    },
    Rule {
        name: RetentionRule::Consultations,
        category: DataCategory::Consultations,
        action: "shred answered questions and their contact emails after a year",
        work: Work::Keys {
            select: consultations_due,
            act: shred_each,
        },
    },
    Rule {
        name: RetentionRule::DsrRequests,
        category: DataCategory::Dsr,
        action: "delete answered requests after three years",
        work: Work::Keys {
            select: answered_requests_due,
            act: delete_requests,
        },
    },
    Rule {
        name: RetentionRule::ConsentEvidence,
        category: DataCategory::ConsentEvidence,
        action: "delete consents and acceptances of subjects erased longer ago than the \
                 claim period",
        work: Work::Keys {
            select: consent_evidence_due,
            act: delete_consent_evidence,
        },
    },
    Rule {
        name: RetentionRule::DsrCodes,
        category: DataCategory::Dsr,
        action: "destroy unused one-time codes after 24 hours; their requests lapse",
        work: Work::Keys {
            select: codes_due,
            act: destroy_codes,
        },
    },
    Rule {
        name: RetentionRule::IdempotencyKeys,
        category: DataCategory::Idempotency,
        action: "delete Idempotency-Key records after 24 hours",
        work: Work::Keys {
            select: idempotency_due,
            act: delete_idempotency,
        },
    },
    Rule {
        name: RetentionRule::IdempotencyKeysErased,
        category: DataCategory::Idempotency,
        action: "delete Idempotency-Key records whose answer was sealed under a shredded key",
        work: Work::Keys {
            select: idempotency_erased_due,
            act: delete_idempotency_erased,
        },
    },
    Rule {
        name: RetentionRule::RefreshTokens,
        category: DataCategory::AccountProfile,
        action: "delete expired refresh tokens",
        work: Work::Keys {
            select: |conn, ctx, limit| {
                refresh_tokens::table
                    .filter(refresh_tokens::expires_at.le(ctx.now))
                    .select(refresh_tokens::id)
                    .limit(limit)
                    .load(conn)
            },
            act: |conn, _, ids| {
                diesel::delete(refresh_tokens::table.filter(refresh_tokens::id.eq_any(ids)))
                    .execute(conn)?;
                Ok(())
            },
        },
    },
    Rule {
        name: RetentionRule::AccountTokens,
        category: DataCategory::AccountProfile,
        action: "delete e-mail confirmation, e-mail change and password reset tokens once used \
                 or expired (with the address and token sealed for their delivery)",
        work: Work::Keys {
            select: |conn, ctx, limit| {
                account_tokens::table
                    .filter(
                        account_tokens::expires_at
                            .le(ctx.now)
                            .or(account_tokens::used_at.is_not_null()),
                    )
                    .select(account_tokens::id)
                    .limit(limit)
                    .load(conn)
            },
            act: |conn, _, ids| {
                diesel::delete(account_tokens::table.filter(account_tokens::id.eq_any(ids)))
                    .execute(conn)?;
                Ok(())
            },
        },
    },
    Rule {
        name: RetentionRule::ExpiredCarts,
        category: DataCategory::AccountProfile,
        action: "delete expired carts",
        work: Work::Keys {
            select: |conn, ctx, limit| {
                carts::table
                    .filter(carts::expires_at.le(ctx.now))
                    .select(carts::id)
                    .limit(limit)
                    .load(conn)
            },
            act: delete_carts,
        },
    },
    Rule {
        name: RetentionRule::RateLimits,
        category: DataCategory::Idempotency,
        action: "delete throttling windows older than a day",
        work: Work::Keys {
            select: |conn, ctx, limit| {
                rate_limits::table
                    .filter(rate_limits::window_start.le(ctx.days_ago(1)))
                    .select(rate_limits::bucket)
                    .limit(limit)
                    .load(conn)
            },
            act: |conn, _, buckets| {
                diesel::delete(rate_limits::table.filter(rate_limits::bucket.eq_any(buckets)))
                    .execute(conn)?;
                Ok(())
            },
        },
    },
    Rule {
        name: RetentionRule::AnalyticsRaw,
        category: DataCategory::Analytics,
        action: "delete raw analytics events older than the configured days (once rolled up)",
        work: Work::Bulk {
            count: |conn, ctx| {
                crate::analytics::store::count_purgeable_raw_events(conn, raw_cutoff(ctx))
            },
            purge: |conn, ctx, batch| {
                crate::analytics::store::purge_raw_events(conn, raw_cutoff(ctx), batch)
            },
        },
    },
    Rule {
        name: RetentionRule::AnalyticsSalts,
        category: DataCategory::Analytics,
        action: "destroy day salts once their day (and its grace) is over",
        work: Work::Bulk {
            count: |conn, ctx| crate::analytics::salt::count_expired_salts(conn, ctx.now),
            purge: |conn, ctx, _| crate::analytics::salt::destroy_expired_salts(conn, ctx.now),
        },
    },
    Rule {
        name: RetentionRule::WebhookDeliveries,
        category: DataCategory::WebhookDeliveries,
        action: "delete delivered, dead-lettered and cancelled webhook deliveries queued and \
                 last tried longer ago than the configured days",
        work: Work::Keys {
            select: finished_deliveries_due,
            act: |conn, _, ids| {
                diesel::delete(
                    webhook_deliveries::table.filter(webhook_deliveries::id.eq_any(ids)),
                )
                .execute(conn)?;
                Ok(())
            },
        },
    },
    Rule {
        name: RetentionRule::Notifications,
        category: DataCategory::Notifications,
        action: "delete sent, dead-lettered and suppressed notifications queued and last \
                 tried longer ago than the configured days",
        work: Work::Keys {
            select: finished_notifications_due,
            act: |conn, _, ids| {
                diesel::delete(notifications::table.filter(notifications::id.eq_any(ids)))
                    .execute(conn)?;
                Ok(())
            },
        },
    },
    Rule {
        name: RetentionRule::ErasureLedger,
        category: DataCategory::ErasureLedger,
        action: "delete erasure-ledger entries older than a day before the oldest backup kept \
                 by rotation (none while no rotated backup is recorded), once the subject's \
                 consent evidence is gone",
        work: Work::Keys {
            select: ledger_due,
            act: |conn, _, ids| {
                diesel::delete(
                    erasure_ledger::table.filter(erasure_ledger::subject_id.eq_any(ids)),
                )
                .execute(conn)?;
                Ok(())
            },
        },
    },
    Rule {
        name: RetentionRule::AuditLog,
        category: DataCategory::Audit,
        action: "delete audit entries older than the audit period, oldest first and only once \
                 their MACs verify, recording a signed base the rest of the chain verifies from",
        work: Work::Bulk {
            count: |conn, ctx| crate::audit::store::count_due(conn, audit_cutoff(ctx)),
            purge: |conn, ctx, batch| {
                crate::audit::store::prune(conn, ctx.crypto, audit_cutoff(ctx), batch)
            },
        },
    },
];

/// Audit entries written before this are due.
fn audit_cutoff(ctx: &Ctx<'_>) -> NaiveDateTime {
    ctx.days_ago(ctx.settings.audit_days)
}

fn finished_deliveries_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    use crate::delivery::status;
    let before = ctx.days_ago(ctx.settings.webhook_delivery_days);
    webhook_deliveries::table
        .filter(webhook_deliveries::status.eq_any([
            status::DELIVERED,
            status::DEAD,
            status::CANCELLED,
        ]))
        .filter(webhook_deliveries::created_at.le(before))
        .filter(
            webhook_deliveries::last_attempt_at
                .is_null()
                .or(webhook_deliveries::last_attempt_at.le(before)),
        )
        .select(webhook_deliveries::id)
        .limit(limit)
        .load(conn)
}

fn finished_notifications_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    use crate::delivery::status;
    let before = ctx.days_ago(ctx.settings.notification_days);
    notifications::table
        .filter(notifications::status.eq_any([status::DELIVERED, status::DEAD, status::SUPPRESSED]))
        .filter(notifications::created_at.le(before))
        .filter(
            notifications::last_attempt_at
                .is_null()
                .or(notifications::last_attempt_at.le(before)),
        )
        .select(notifications::id)
        .limit(limit)
        .load(conn)
}

/// Erasures that no backup still kept by rotation predates by less than a day: the oldest
/// kept snapshot already holds them shredded. A subject whose consent evidence is still kept
/// stays, since the entry is that evidence's clock ([`consent_evidence_due`]).
fn ledger_due(conn: &mut DbConnection, _: &Ctx<'_>, limit: i64) -> QueryResult<Vec<String>> {
    let Some(oldest) = crate::backup::registry::oldest_kept(conn)? else {
        return Ok(Vec::new());
    };
    let evidence = consents::table
        .filter(consents::subject_id.eq(erasure_ledger::subject_id))
        .select(consents::id);
    erasure_ledger::table
        .filter(erasure_ledger::erased_at.lt(oldest - Duration::days(1)))
        .filter(diesel::dsl::not(diesel::dsl::exists(evidence)))
        .select(erasure_ledger::subject_id)
        .limit(limit)
        .load(conn)
}

/// What one rule found and did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleReport {
    /// The rule.
    pub rule: RetentionRule,
    /// The data-map category it enforces.
    pub category: DataCategory,
    /// What it does, in words.
    pub action: &'static str,
    /// Items due (dry run) or handled (real run).
    #[schema(minimum = 0)]
    pub count: i64,
}

/// One run of every rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = RetentionReport)]
#[schema(example = json!({
    "dry_run": true,
    "started_at": "2026-12-01T03:00:00Z",
    "finished_at": "2026-12-01T03:00:01Z",
    "rules": [
        {"rule": "order_personal", "category": "order_personal",
            "action": "shred the order's key (contact email, address, after-sales reasons) once it is closed (expired and cancelled orders at once)",
            "count": 3},
        {"rule": "idempotency_keys", "category": "idempotency",
            "action": "delete Idempotency-Key records after 24 hours", "count": 41}
    ]
}))]
pub struct Report {
    /// `true` when nothing was purged, only counted.
    pub dry_run: bool,
    /// When the run started (RFC 3339, UTC).
    pub started_at: chrono::DateTime<chrono::Utc>,
    /// When it finished (RFC 3339, UTC).
    pub finished_at: chrono::DateTime<chrono::Utc>,
    /// Every rule, in the order they ran.
    pub rules: Vec<RuleReport>,
}

/// Runs one rule: batches until less than a full one is due. A dry run only counts.
fn apply(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    rule: &Rule,
    dry_run: bool,
) -> Result<i64, ApiError> {
    if dry_run {
        return Ok(match rule.work {
            Work::Keys { select, .. } => select(conn, ctx, 1_000_000)?.len() as i64,
            Work::Bulk { count, .. } => count(conn, ctx)?,
        });
    }
    let mut total = 0;
    loop {
        let done = crate::db::write_transaction(conn, |conn| match rule.work {
            Work::Keys { select, act } => {
                let keys = select(conn, ctx, BATCH)?;
                act(conn, ctx, &keys)?;
                Ok::<_, ApiError>(keys.len() as i64)
            }
            Work::Bulk { purge, .. } => Ok(purge(conn, ctx, BATCH)? as i64),
        })?;
        total += done;
        if done < BATCH {
            return Ok(total);
        }
    }
}

/// Runs every rule at `now`; a real run is recorded in the audit log with its counts.
pub fn run(
    conn: &mut DbConnection,
    crypto: &Crypto,
    settings: &Settings,
    now: NaiveDateTime,
    dry_run: bool,
) -> Result<Report, ApiError> {
    let started_at = chrono::Utc::now();
    let ctx = Ctx {
        now,
        settings,
        crypto,
    };
    let mut rules = Vec::with_capacity(RULES.len());
    for rule in RULES {
        rules.push(RuleReport {
            rule: rule.name,
            category: rule.category,
            action: rule.action,
            count: apply(conn, &ctx, rule, dry_run)?,
        });
    }
    if !dry_run {
        // Shredded keys' old versions: out of SQLite's WAL, and PostgreSQL's dead tuples
        // of the keys table vacuumed now rather than whenever autovacuum comes by.
        if rules.iter().any(|r| r.count > 0) {
            crate::db::forget_freed(conn, &["data_keys"])?;
        }
        let handled: Vec<String> = rules
            .iter()
            .filter(|r| r.count > 0)
            .map(|r| format!("{}={}", r.rule, r.count))
            .collect();
        let fields: Vec<&str> = handled.iter().map(String::as_str).collect();
        audit::record(
            conn,
            crypto,
            &Actor::system(),
            &Event {
                action: crate::audit::Action::RetentionRun,
                subject_id: None,
                fields: &fields,
                purpose: crate::audit::Purpose::Retention,
            },
        )?;
    }
    Ok(Report {
        dry_run,
        started_at,
        finished_at: chrono::Utc::now(),
        rules,
    })
}

/// The first day whose raw analytics events are kept.
fn raw_cutoff(ctx: &Ctx<'_>) -> chrono::NaiveDate {
    crate::analytics::store::raw_events_cutoff(ctx.now.date(), ctx.settings.analytics_raw_days)
}

fn shred_each(conn: &mut DbConnection, ctx: &Ctx<'_>, subjects: &[String]) -> Result<(), ApiError> {
    erasure::shred_subjects(conn, ctx.crypto, subjects, erasure::reason::RETENTION)?;
    Ok(())
}

/// Orders whose personal part is due: closed for the configured days (or expired or
/// cancelled as long), with no after-sales case open, and past their after-sales procedures
/// as the desk reckons them (the window, and the longest warranty of their products since
/// delivery): the privacy policy keeps the data until those procedures are complete.
fn order_personal_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let window = Duration::days(ctx.settings.after_sales_days);
    // One query per warranty length of the catalogue (a handful): the orders none of whose
    // products has a longer warranty, delivered before that length's cutoff. An order
    // found under several lengths is due under each; it is taken once.
    let mut due = Vec::new();
    for years in after_sales::store::warranty_lengths(conn)? {
        let delivered_by =
            after_sales::model::procedures_over_if_delivered_by(ctx.now, window, years);
        due.extend(order_personal_due_within(
            conn,
            ctx,
            years,
            delivered_by,
            limit,
        )?);
    }
    due.sort_unstable();
    due.dedup();
    due.truncate(usize::try_from(limit).unwrap_or(0));
    Ok(due)
}

/// [`order_personal_due`] for the orders whose longest warranty is at most `years`.
fn order_personal_due_within(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    years: i32,
    delivered_by: NaiveDateTime,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let closed_before = ctx.days_ago(ctx.settings.order_personal_days_after_close);
    // A warranty claim can open on a closed order: its reason and answers need the order's
    // key until the case is resolved.
    let open_case = after_sales_cases::table
        .filter(after_sales_cases::order_id.eq(orders::id))
        .filter(after_sales_cases::status.eq(after_sales::CaseStatus::Open.as_str()));
    let longer_warranty = order_items::table
        .filter(order_items::order_id.eq(orders::id))
        .filter(
            order_items::product_id.eq_any(
                products::table
                    .filter(products::warranty_years.gt(years))
                    .select(products::id),
            ),
        );
    orders::table
        .inner_join(data_keys::table.on(data_keys::subject_id.eq(orders::id)))
        .filter(data_keys::wrapped.is_not_null())
        .filter(diesel::dsl::not(diesel::dsl::exists(open_case)))
        .filter(
            orders::status
                .eq(OrderStatus::Closed.as_str())
                .and(orders::closed_at.le(closed_before))
                .and(diesel::dsl::not(diesel::dsl::exists(longer_warranty)))
                .and(
                    orders::delivered_at
                        .is_null()
                        .or(orders::delivered_at.le(delivered_by)),
                )
                .or(orders::status
                    .eq_any([
                        OrderStatus::Expired.as_str(),
                        OrderStatus::Cancelled.as_str(),
                    ])
                    .and(orders::updated_at.le(closed_before))),
        )
        .select(orders::id)
        .order(orders::id.asc())
        .limit(limit)
        .load(conn)
}

fn accounting_due(conn: &mut DbConnection, ctx: &Ctx<'_>, limit: i64) -> QueryResult<Vec<String>> {
    let statutory = ctx.days_ago(ctx.settings.accounting_years * 365);
    // An order goes only with its documents, and a document is kept to the end of its
    // year's period: a credit note issued years after the order keeps it.
    let kept_from_year =
        i32::try_from(i64::from(ctx.now.date().year()) - ctx.settings.accounting_years)
            .unwrap_or(i32::MIN);
    let kept_documents = documents::table
        .filter(documents::order_id.eq(orders::id))
        .filter(documents::year.ge(kept_from_year));
    orders::table
        .filter(diesel::dsl::not(diesel::dsl::exists(kept_documents)))
        .filter(orders::status.eq_any(OrderStatus::final_names()))
        .filter(orders::updated_at.le(statutory))
        .filter(
            orders::closed_at
                .is_null()
                .or(orders::closed_at.le(statutory)),
        )
        .select(orders::id)
        .limit(limit)
        .load(conn)
}

/// The keys of accounting years whose statutory period has ended (31 December of the year
/// plus the configured years is past).
fn periods_due(conn: &mut DbConnection, ctx: &Ctx<'_>, limit: i64) -> QueryResult<Vec<String>> {
    let years = u32::try_from(ctx.settings.accounting_years).unwrap_or(u32::MAX);
    let today = ctx.now.date();
    Ok(crate::invoices::store::period_keys(conn)?
        .into_iter()
        .filter(|(_, live)| *live)
        .filter_map(|(subject, _)| {
            let year: i32 = subject.strip_prefix("accounting-")?.parse().ok()?;
            (crate::invoices::model::kept_until(year, years) < today).then_some(subject)
        })
        .take(usize::try_from(limit).unwrap_or(0))
        .collect())
}

fn delete_orders(conn: &mut DbConnection, _: &Ctx<'_>, ids: &[String]) -> Result<(), ApiError> {
    let pays: Vec<String> = payments::table
        .filter(payments::order_id.eq_any(ids))
        .select(payments::id)
        .load(conn)?;
    diesel::delete(payment_events::table.filter(payment_events::payment_id.eq_any(&pays)))
        .execute(conn)?;
    diesel::delete(refunds::table.filter(refunds::payment_id.eq_any(&pays))).execute(conn)?;
    diesel::delete(payments::table.filter(payments::order_id.eq_any(ids))).execute(conn)?;
    diesel::delete(order_items::table.filter(order_items::order_id.eq_any(ids))).execute(conn)?;
    diesel::delete(order_tax_lines::table.filter(order_tax_lines::order_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(order_events::table.filter(order_events::order_id.eq_any(ids))).execute(conn)?;
    diesel::delete(shipments::table.filter(shipments::order_id.eq_any(ids))).execute(conn)?;
    diesel::delete(order_shipping::table.filter(order_shipping::order_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(documents::table.filter(documents::order_id.eq_any(ids))).execute(conn)?;
    diesel::delete(documents_due::table.filter(documents_due::order_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(disclosures::table.filter(disclosures::order_id.eq_any(ids))).execute(conn)?;
    diesel::delete(after_sales_answers::table.filter(after_sales_answers::order_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(after_sales_cases::table.filter(after_sales_cases::order_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(notifications::table.filter(notifications::order_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(orders::table.filter(orders::id.eq_any(ids))).execute(conn)?;
    Ok(())
}

/// No session started for the configured years, nothing open.
fn inactive_accounts_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let inactive_since = ctx.days_ago(ctx.settings.inactive_account_years * 365);
    let recent = refresh_tokens::table
        .filter(refresh_tokens::created_at.gt(inactive_since))
        .select(refresh_tokens::user_id);
    let open = orders::table
        .filter(orders::status.ne_all(OrderStatus::final_names()))
        .filter(orders::user_id.is_not_null())
        .select(orders::user_id.assume_not_null());
    users::table
        .filter(users::role.eq(Role::Customer.as_str()))
        .filter(users::status.eq(status::ACTIVE))
        .filter(users::created_at.le(inactive_since))
        .filter(users::id.ne_all(recent))
        .filter(users::id.ne_all(open))
        .select(users::id)
        .limit(limit)
        .load(conn)
}

fn erase_accounts(conn: &mut DbConnection, ctx: &Ctx<'_>, ids: &[String]) -> Result<(), ApiError> {
    for id in ids {
        erasure::erase_account(
            conn,
            ctx.crypto,
            id,
            erasure::reason::RETENTION,
            crate::audit::Purpose::ErasureInactive,
        )?;
    }
    Ok(())
}

/// Registrations older than the configured days whose address was never confirmed, with no
/// confirmation mail that still works (a registration repeated since mailed a new one).
fn unconfirmed_accounts_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let mailed = account_tokens::table
        .filter(account_tokens::purpose.eq(email_tokens::Purpose::Confirmation.as_str()))
        .filter(account_tokens::used_at.is_null())
        .filter(account_tokens::expires_at.gt(ctx.now))
        .select(account_tokens::user_id);
    users::table
        .filter(users::role.eq(Role::Customer.as_str()))
        .filter(users::status.eq(status::UNCONFIRMED))
        .filter(users::created_at.le(ctx.days_ago(ctx.settings.unconfirmed_account_days)))
        .filter(users::id.ne_all(mailed))
        .select(users::id)
        .limit(limit)
        .load(conn)
}

/// Erases each registration as an erasure does (its key shredded and in the ledger, its
/// tokens deleted, an audit entry by id); `closed_accounts` deletes the empty rows next.
fn erase_unconfirmed(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    ids: &[String],
) -> Result<(), ApiError> {
    for id in ids {
        // Taken out of `unconfirmed` first, conditionally: on PostgreSQL a confirmation
        // committed since the selection leaves the account active, and one still running
        // waits for this row and then finds nothing to confirm.
        let taken = diesel::update(
            users::table
                .find(id)
                .filter(users::status.eq(status::UNCONFIRMED)),
        )
        .set(users::status.eq(status::ERASURE_PENDING))
        .execute(conn)?;
        if taken == 0 {
            continue;
        }
        erasure::erase_account(
            conn,
            ctx.crypto,
            id,
            erasure::reason::RETENTION,
            crate::audit::Purpose::ErasureUnconfirmed,
        )?;
    }
    Ok(())
}

fn closed_accounts_due(
    conn: &mut DbConnection,
    _: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let referenced = orders::table
        .filter(orders::user_id.is_not_null())
        .select(orders::user_id.assume_not_null());
    users::table
        .filter(users::status.eq(status::ERASED))
        .filter(users::id.ne_all(referenced))
        .select(users::id)
        .limit(limit)
        .load(conn)
}

fn delete_accounts(conn: &mut DbConnection, ctx: &Ctx<'_>, ids: &[String]) -> Result<(), ApiError> {
    let owned: Vec<String> = carts::table
        .filter(carts::owner_user_id.eq_any(ids))
        .select(carts::id)
        .load(conn)?;
    delete_carts(conn, ctx, &owned)?;
    diesel::delete(refresh_tokens::table.filter(refresh_tokens::user_id.eq_any(ids)))
        .execute(conn)?;
    diesel::delete(users::table.filter(users::id.eq_any(ids))).execute(conn)?;
    Ok(())
}

fn delete_carts(conn: &mut DbConnection, _: &Ctx<'_>, ids: &[String]) -> Result<(), ApiError> {
    diesel::delete(cart_items::table.filter(cart_items::cart_id.eq_any(ids))).execute(conn)?;
    diesel::delete(carts::table.filter(carts::id.eq_any(ids))).execute(conn)?;
    Ok(())
}

fn consultations_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    consultations::table
        .inner_join(data_keys::table.on(data_keys::subject_id.eq(consultations::id)))
        .filter(data_keys::wrapped.is_not_null())
        .filter(consultations::answered_at.le(ctx.days_ago(365)))
        .select(consultations::id)
        .limit(limit)
        .load(conn)
}

fn answered_requests_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    dsr_requests::table
        .filter(dsr_requests::status.eq_any(["completed", "denied", "cancelled"]))
        .filter(dsr_requests::completed_at.le(ctx.days_ago(3 * 365)))
        .select(dsr_requests::id)
        .limit(limit)
        .load(conn)
}

fn delete_requests(conn: &mut DbConnection, ctx: &Ctx<'_>, ids: &[String]) -> Result<(), ApiError> {
    crate::privacy::requests::corrections::delete(conn, ctx.crypto, ids)?;
    diesel::delete(dsr_codes::table.filter(dsr_codes::dsr_id.eq_any(ids))).execute(conn)?;
    diesel::delete(dsr_requests::table.filter(dsr_requests::id.eq_any(ids))).execute(conn)?;
    Ok(())
}

fn consent_evidence_due(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    let erased = erasure_ledger::table
        .filter(erasure_ledger::erased_at.le(ctx.days_ago(ctx.settings.accounting_years * 365)))
        .select(erasure_ledger::subject_id);
    consents::table
        .filter(consents::subject_id.eq_any(erased))
        .select(consents::id)
        .limit(limit)
        .load(conn)
}

fn delete_consent_evidence(
    conn: &mut DbConnection,
    _: &Ctx<'_>,
    ids: &[String],
) -> Result<(), ApiError> {
    let subjects: Vec<String> = consents::table
        .filter(consents::id.eq_any(ids))
        .select(consents::subject_id)
        .distinct()
        .load(conn)?;
    diesel::delete(consents::table.filter(consents::id.eq_any(ids))).execute(conn)?;
    diesel::delete(
        policy_acceptances::table.filter(policy_acceptances::subject_id.eq_any(&subjects)),
    )
    .execute(conn)?;
    Ok(())
}

fn codes_due(conn: &mut DbConnection, ctx: &Ctx<'_>, limit: i64) -> QueryResult<Vec<String>> {
    dsr_codes::table
        .filter(dsr_codes::expires_at.le(ctx.now))
        .select(dsr_codes::dsr_id)
        .limit(limit)
        .load(conn)
}

/// The code, the address it went to and their key go; the request lapses.
fn destroy_codes(conn: &mut DbConnection, ctx: &Ctx<'_>, ids: &[String]) -> Result<(), ApiError> {
    for id in ids {
        ctx.crypto.shred(conn, id)?;
    }
    diesel::delete(dsr_codes::table.filter(dsr_codes::dsr_id.eq_any(ids))).execute(conn)?;
    diesel::update(
        dsr_requests::table
            .filter(dsr_requests::id.eq_any(ids))
            .filter(dsr_requests::status.eq("pending_verification")),
    )
    .set((
        dsr_requests::status.eq("cancelled"),
        dsr_requests::completed_at.eq(Some(ctx.now)),
        dsr_requests::updated_at.eq(ctx.now),
    ))
    .execute(conn)?;
    Ok(())
}

fn idempotency_due(conn: &mut DbConnection, ctx: &Ctx<'_>, limit: i64) -> QueryResult<Vec<String>> {
    idempotency_keys::table
        .filter(idempotency_keys::created_at.le(ctx.days_ago(1)))
        .select(idempotency_keys::key)
        .limit(limit)
        .load(conn)
}

/// Subjects of stored answers that can never be replayed again: their data key is gone.
fn idempotency_erased_due(
    conn: &mut DbConnection,
    _: &Ctx<'_>,
    limit: i64,
) -> QueryResult<Vec<String>> {
    idempotency_keys::table
        .inner_join(data_keys::table.on(data_keys::subject_id.eq(idempotency_keys::subject_id)))
        .filter(data_keys::wrapped.is_null())
        .select(idempotency_keys::subject_id)
        .distinct()
        .limit(limit)
        .load(conn)
}

fn delete_idempotency_erased(
    conn: &mut DbConnection,
    _: &Ctx<'_>,
    subjects: &[String],
) -> Result<(), ApiError> {
    diesel::delete(idempotency_keys::table.filter(idempotency_keys::subject_id.eq_any(subjects)))
        .execute(conn)?;
    Ok(())
}

fn delete_idempotency(
    conn: &mut DbConnection,
    ctx: &Ctx<'_>,
    keys: &[String],
) -> Result<(), ApiError> {
    diesel::delete(
        idempotency_keys::table
            .filter(idempotency_keys::key.eq_any(keys))
            .filter(idempotency_keys::created_at.le(ctx.days_ago(1))),
    )
    .execute(conn)?;
    Ok(())
}
