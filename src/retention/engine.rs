//! The retention engine: one pass over every rule, each rule in batches (one short
//! transaction per batch, never one huge one), idempotent and resumable (each batch selects
//! what is still due, so a stopped run simply continues next time), safe with several
//! processes (deletes and shreds re-check their condition inside their transaction).

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use serde::Serialize;
use utoipa::ToSchema;

use super::Settings;
use crate::audit::{self, Actor, Event};
use crate::auth::{status, Role};
use crate::crypto::Crypto;
use crate::db::schema::{
    after_sales_cases, cart_items, carts, consents, consultations, data_keys, disclosures,
    dsr_codes, dsr_requests, erasure_ledger, idempotency_keys, notifications, order_events,
    order_items, orders, payment_events, payments, policy_acceptances, rate_limits, refresh_tokens,
    shipments, users,
};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::orders::model::OrderStatus;
use crate::privacy::erasure;

/// Rows handled per transaction.
pub const BATCH: i64 = 500;

/// What one rule found and did.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleReport {
    /// The rule, e.g. `order_personal`.
    pub rule: &'static str,
    /// The data-map category it enforces.
    pub category: &'static str,
    /// What it does, in words.
    pub action: &'static str,
    /// Items due (dry run) or handled (real run).
    pub count: i64,
}

/// One run of every rule.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Report {
    pub dry_run: bool,
    pub started_at: chrono::DateTime<chrono::Utc>,
    pub finished_at: chrono::DateTime<chrono::Utc>,
    pub rules: Vec<RuleReport>,
}

fn finals() -> Vec<&'static str> {
    OrderStatus::ALL
        .into_iter()
        .filter(|s| s.is_final())
        .map(OrderStatus::as_str)
        .collect()
}

/// Runs a rule: `select` returns up to `BATCH` ids still due; `act` handles them in one
/// transaction. In a dry run only the first selection is counted (up to a cap).
fn batched(
    conn: &mut DbConnection,
    dry_run: bool,
    mut select: impl FnMut(&mut DbConnection, i64) -> QueryResult<Vec<String>>,
    mut act: impl FnMut(&mut DbConnection, &[String]) -> Result<(), ApiError>,
) -> Result<i64, ApiError> {
    if dry_run {
        return Ok(select(conn, 1_000_000)?.len() as i64);
    }
    let mut total = 0;
    loop {
        let done = crate::db::write_transaction(conn, |conn| {
            let ids = select(conn, BATCH)?;
            act(conn, &ids)?;
            Ok::<_, ApiError>(ids.len())
        })?;
        total += done as i64;
        if (done as i64) < BATCH {
            return Ok(total);
        }
    }
}

/// Runs every rule at `now`.
pub fn run(
    conn: &mut DbConnection,
    crypto: &Crypto,
    settings: &Settings,
    now: NaiveDateTime,
    dry_run: bool,
) -> Result<Report, ApiError> {
    let started_at = chrono::Utc::now();
    let mut rules = Vec::new();
    let mut report = |rule, category, action, count| {
        rules.push(RuleReport {
            rule,
            category,
            action,
            count,
        })
    };

    // Order personal data: the order's key is shredded once it has been closed for the
    // configured period (expired and cancelled orders at once: no after-sales).
    let closed_before = now - Duration::days(settings.order_personal_days_after_close);
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            orders::table
                .inner_join(data_keys::table.on(data_keys::subject_id.eq(orders::id)))
                .filter(data_keys::wrapped.is_not_null())
                .filter(
                    orders::status
                        .eq(OrderStatus::Closed.as_str())
                        .and(orders::closed_at.le(closed_before))
                        .or(orders::status
                            .eq_any([
                                OrderStatus::Expired.as_str(),
                                OrderStatus::Cancelled.as_str(),
                            ])
                            .and(orders::updated_at.le(closed_before))),
                )
                .select(orders::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            for id in ids {
                erasure::shred_subject(conn, crypto, id, erasure::reason::RETENTION)?;
            }
            Ok(())
        },
    )?;
    report(
        "order_personal",
        "order_personal",
        "shred the order's key (contact email, address, after-sales reasons)",
        count,
    );

    // Accounting records: deleted after the statutory period.
    let statutory = now - Duration::days(settings.accounting_years * 365);
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            orders::table
                .filter(orders::status.eq_any(finals()))
                .filter(orders::updated_at.le(statutory))
                .filter(
                    orders::closed_at
                        .is_null()
                        .or(orders::closed_at.le(statutory)),
                )
                .select(orders::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            let ids = ids.to_vec();
            let pays: Vec<String> = payments::table
                .filter(payments::order_id.eq_any(&ids))
                .select(payments::id)
                .load(conn)?;
            diesel::delete(payment_events::table.filter(payment_events::payment_id.eq_any(&pays)))
                .execute(conn)?;
            diesel::delete(payments::table.filter(payments::order_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(order_items::table.filter(order_items::order_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(order_events::table.filter(order_events::order_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(shipments::table.filter(shipments::order_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(disclosures::table.filter(disclosures::order_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(
                after_sales_cases::table.filter(after_sales_cases::order_id.eq_any(&ids)),
            )
            .execute(conn)?;
            diesel::delete(notifications::table.filter(notifications::order_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(orders::table.filter(orders::id.eq_any(&ids))).execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "accounting",
        "accounting",
        "delete orders, items, payments and history past the statutory period",
        count,
    );

    // Inactive accounts: no sign-in (no session started) for the configured years, nothing
    // open → erased like an erasure request.
    let inactive_since = now - Duration::days(settings.inactive_account_years * 365);
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            let recent = refresh_tokens::table
                .filter(refresh_tokens::created_at.gt(inactive_since))
                .select(refresh_tokens::user_id);
            let open = orders::table
                .filter(orders::status.ne_all(finals()))
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
        },
        |conn, ids| {
            for id in ids {
                erasure::erase_account(
                    conn,
                    crypto,
                    id,
                    erasure::reason::RETENTION,
                    "retention: account inactive",
                )?;
            }
            Ok(())
        },
    )?;
    report(
        "inactive_accounts",
        "account_profile",
        "erase customer accounts with no sign-in for the configured period",
        count,
    );

    // Closed accounts: an erased account's empty row goes once no order points to it.
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            let referenced = orders::table
                .filter(orders::user_id.is_not_null())
                .select(orders::user_id.assume_not_null());
            users::table
                .filter(users::status.eq(status::ERASED))
                .filter(users::id.ne_all(referenced))
                .select(users::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            let ids = ids.to_vec();
            let owned: Vec<String> = carts::table
                .filter(carts::owner_user_id.eq_any(&ids))
                .select(carts::id)
                .load(conn)?;
            diesel::delete(cart_items::table.filter(cart_items::cart_id.eq_any(&owned)))
                .execute(conn)?;
            diesel::delete(carts::table.filter(carts::id.eq_any(&owned))).execute(conn)?;
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::user_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(users::table.filter(users::id.eq_any(&ids))).execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "closed_accounts",
        "account_profile",
        "delete the empty rows of erased accounts no order refers to",
        count,
    );

    // Guest verification codes: unused after 24 hours → the code, the address it went to
    // and their key are destroyed, and the request lapses.
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            dsr_codes::table
                .filter(dsr_codes::expires_at.le(now))
                .select(dsr_codes::dsr_id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            for id in ids {
                crypto.shred(conn, id)?;
            }
            let ids = ids.to_vec();
            diesel::delete(dsr_codes::table.filter(dsr_codes::dsr_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::update(
                dsr_requests::table
                    .filter(dsr_requests::id.eq_any(&ids))
                    .filter(dsr_requests::status.eq("pending_verification")),
            )
            .set((
                dsr_requests::status.eq("cancelled"),
                dsr_requests::completed_at.eq(Some(now)),
                dsr_requests::updated_at.eq(now),
            ))
            .execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "dsr_codes",
        "dsr",
        "destroy unused one-time codes after 24 hours",
        count,
    );

    // Answered consultations: the private question and the asker's email, a year on.
    let year_ago = now - Duration::days(365);
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            consultations::table
                .inner_join(data_keys::table.on(data_keys::subject_id.eq(consultations::id)))
                .filter(data_keys::wrapped.is_not_null())
                .filter(consultations::answered_at.le(year_ago))
                .select(consultations::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            for id in ids {
                erasure::shred_subject(conn, crypto, id, erasure::reason::RETENTION)?;
            }
            Ok(())
        },
    )?;
    report(
        "consultations",
        "consultations",
        "shred answered questions and their contact emails after a year",
        count,
    );

    // Answered data-subject requests, after three years.
    let three_years_ago = now - Duration::days(3 * 365);
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            dsr_requests::table
                .filter(dsr_requests::status.eq_any(["completed", "denied", "cancelled"]))
                .filter(dsr_requests::completed_at.le(three_years_ago))
                .select(dsr_requests::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            let ids = ids.to_vec();
            diesel::delete(dsr_codes::table.filter(dsr_codes::dsr_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(dsr_requests::table.filter(dsr_requests::id.eq_any(&ids)))
                .execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "dsr_requests",
        "dsr",
        "delete answered requests after three years",
        count,
    );

    // Consent evidence of erased subjects, after the claim period.
    let evidence_until = now - Duration::days(settings.accounting_years * 365);
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            let erased = erasure_ledger::table
                .filter(erasure_ledger::erased_at.le(evidence_until))
                .select(erasure_ledger::subject_id);
            consents::table
                .filter(consents::subject_id.eq_any(erased))
                .select(consents::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            let subjects: Vec<String> = consents::table
                .filter(consents::id.eq_any(ids.to_vec()))
                .select(consents::subject_id)
                .distinct()
                .load(conn)?;
            diesel::delete(consents::table.filter(consents::id.eq_any(ids.to_vec())))
                .execute(conn)?;
            diesel::delete(
                policy_acceptances::table.filter(policy_acceptances::subject_id.eq_any(&subjects)),
            )
            .execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "consent_evidence",
        "consent_evidence",
        "delete consents and acceptances of subjects erased longer ago than the claim period",
        count,
    );

    // Short-lived technical records.
    let day_ago = now - Duration::days(1);
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            idempotency_keys::table
                .filter(idempotency_keys::created_at.le(day_ago))
                .select(idempotency_keys::key)
                .limit(limit)
                .load(conn)
        },
        |conn, keys| {
            diesel::delete(
                idempotency_keys::table
                    .filter(idempotency_keys::key.eq_any(keys.to_vec()))
                    .filter(idempotency_keys::created_at.le(day_ago)),
            )
            .execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "idempotency_keys",
        "idempotency",
        "delete Idempotency-Key records after 24 hours",
        count,
    );
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            refresh_tokens::table
                .filter(refresh_tokens::expires_at.le(now))
                .select(refresh_tokens::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            diesel::delete(refresh_tokens::table.filter(refresh_tokens::id.eq_any(ids.to_vec())))
                .execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "refresh_tokens",
        "account_profile",
        "delete expired refresh tokens",
        count,
    );
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            carts::table
                .filter(carts::expires_at.le(now))
                .select(carts::id)
                .limit(limit)
                .load(conn)
        },
        |conn, ids| {
            let ids = ids.to_vec();
            diesel::delete(cart_items::table.filter(cart_items::cart_id.eq_any(&ids)))
                .execute(conn)?;
            diesel::delete(carts::table.filter(carts::id.eq_any(&ids))).execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "expired_carts",
        "account_profile",
        "delete expired carts",
        count,
    );
    let count = batched(
        conn,
        dry_run,
        |conn, limit| {
            rate_limits::table
                .filter(rate_limits::window_start.le(day_ago))
                .select(rate_limits::bucket)
                .limit(limit)
                .load(conn)
        },
        |conn, buckets| {
            diesel::delete(rate_limits::table.filter(rate_limits::bucket.eq_any(buckets.to_vec())))
                .execute(conn)?;
            Ok(())
        },
    )?;
    report(
        "rate_limits",
        "idempotency",
        "delete throttling windows older than a day",
        count,
    );

    let report = Report {
        dry_run,
        started_at,
        finished_at: chrono::Utc::now(),
        rules,
    };
    if !dry_run {
        let handled: Vec<String> = report
            .rules
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
                action: "retention.run",
                subject_id: None,
                fields: &fields,
                purpose: "retention rules (counts per rule)",
            },
        )?;
    }
    Ok(report)
}
