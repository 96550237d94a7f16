//! The consent ledger: append-only rows (subject, purpose, granted, policy version, time,
//! source). The current consent for a purpose is its newest row; with no row, the default
//! of the purpose applies.

use crate::ids::UserId;
use actix_web::{get, put, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub use super::ledger::{granted, record, ConsentRow, ConsentSource, Purpose};
use super::requests::{self, model::Kind};
use crate::auth::{min, Auth};
use crate::db::schema::consents;
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::versions::Versions;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list).service(set);
}

/// One entry of the ledger.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentChange {
    /// The purpose the change is about.
    pub purpose: Purpose,
    /// `true` when consent was given, `false` when withdrawn.
    pub granted: bool,
    /// The privacy-policy version in force when the change was made.
    #[schema(minimum = 1)]
    pub policy_version: i32,
    /// Where the change came from.
    pub source: ConsentSource,
    /// When the change was made (RFC 3339, UTC).
    pub at: DateTime<Utc>,
}

/// The current consent for one purpose.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConsentState {
    /// The purpose.
    pub purpose: Purpose,
    /// Whether the data may be used for it now.
    pub granted: bool,
    /// `false` when no change was ever made and the purpose's default applies.
    pub explicit: bool,
    /// When the last change was made (RFC 3339, UTC); `null` while the default applies.
    pub changed_at: Option<DateTime<Utc>>,
    /// The policy version in force at the last change; `null` while the default applies.
    #[schema(minimum = 1)]
    pub policy_version: Option<i32>,
}

/// The current consent for every purpose.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = ConsentList)]
#[schema(example = json!({
    "data": [
        {"purpose": "order_notifications", "granted": true, "explicit": false,
            "changed_at": null, "policy_version": null},
        {"purpose": "marketing_notifications", "granted": false, "explicit": true,
            "changed_at": "2026-11-26T09:30:00Z", "policy_version": 1},
        {"purpose": "personalization", "granted": false, "explicit": false,
            "changed_at": null, "policy_version": null}
    ]
}))]
pub struct Consents {
    /// Every purpose, with its current state.
    #[schema(min_items = 3, max_items = 3)]
    pub data: Vec<ConsentState>,
}

/// A consent given or withdrawn.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"granted": false}))]
pub struct ConsentBody {
    /// `true` to give consent for the purpose, `false` to withdraw it.
    pub granted: bool,
}

/// The whole ledger of a subject, oldest first.
pub fn history(conn: &mut DbConnection, subject_id: &str) -> QueryResult<Vec<ConsentRow>> {
    consents::table
        .filter(consents::subject_id.eq(subject_id))
        .order(consents::id.asc())
        .select(ConsentRow::as_select())
        .load(conn)
}

/// The current state of every purpose, from the ledger.
pub fn current(conn: &mut DbConnection, subject_id: &str) -> QueryResult<Vec<ConsentState>> {
    Ok(states(&history(conn, subject_id)?))
}

/// The newest entry per purpose wins; purposes never touched show their default.
pub fn states(ledger: &[ConsentRow]) -> Vec<ConsentState> {
    Purpose::ALL
        .into_iter()
        .map(
            |purpose| match ledger.iter().rev().find(|r| r.purpose == purpose.as_str()) {
                Some(r) => ConsentState {
                    purpose,
                    granted: r.granted,
                    explicit: true,
                    changed_at: Some(r.at.and_utc()),
                    policy_version: Some(r.policy_version),
                },
                None => ConsentState {
                    purpose,
                    granted: purpose.default_granted(),
                    explicit: false,
                    changed_at: None,
                    policy_version: None,
                },
            },
        )
        .collect()
}

impl From<&ConsentRow> for ConsentChange {
    fn from(r: &ConsentRow) -> Self {
        Self {
            purpose: Purpose::parse(&r.purpose).unwrap_or(Purpose::Personalization),
            granted: r.granted,
            policy_version: r.policy_version,
            source: ConsentSource::parse(&r.source).unwrap_or(ConsentSource::Api),
            at: r.at.and_utc(),
        }
    }
}

/// Changes a consent: refused for order notices while an order is open; a withdrawal is
/// also tracked as a data-subject request, completed at once.
pub fn change(
    conn: &mut DbConnection,
    user_id: &UserId,
    purpose: Purpose,
    granted_now: bool,
    policy_version: i32,
) -> Result<(), ApiError> {
    if purpose == Purpose::OrderNotifications && !granted_now {
        let open = crate::orders::store::open_count(conn, user_id)?;
        if open > 0 {
            return Err(ApiError::Conflict(format!(
                "Order notices cannot be withdrawn while an order is open ({open} open): \
                     they tell you about the order you placed. Withdraw again once your \
                     orders are closed."
            )));
        }
    }
    let was = granted(conn, user_id, purpose)?;
    record(
        conn,
        user_id,
        purpose,
        granted_now,
        policy_version,
        ConsentSource::Api,
    )?;
    if was && !granted_now {
        requests::store::record_self_service(conn, user_id, Kind::Withdrawal)?;
    }
    Ok(())
}

/// My consents.
///
/// The current state of each purpose (`order_notifications`, `marketing_notifications`,
/// `personalization`) from the consent ledger; the full ledger is in `GET /v1/me/export`.
#[utoipa::path(
    operation_id = "listMyConsents",
    tag = "privacy",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Each purpose with its current state and history", body = Consents),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/consents")]
async fn list(auth: Auth<min::Customer>, db: web::Data<Db>) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let data = db
        .run(move |conn| current(conn, &user).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(Consents { data }))
}

/// Give or withdraw a consent.
///
/// Appended to the ledger with the current policy version and time. A withdrawal applies at
/// once to everything queued after it, and is tracked as a data-subject request of kind
/// `withdrawal`. `order_notifications` cannot be withdrawn while an order is open (409).
#[utoipa::path(
    operation_id = "setMyConsent",
    tag = "privacy",
    security(("bearer" = [])),
    params(("purpose" = Purpose, Path, description = "The purpose to give or withdraw consent for")),
    request_body = ConsentBody,
    responses(
        (status = 200, description = "Every purpose after the change", body = Consents),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown purpose", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Order notices while an order is open", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[put("/me/consents/{purpose}")]
async fn set(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    versions: web::Data<Versions>,
    purpose: web::Path<String>,
    body: Json<ConsentBody>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let purpose = Purpose::parse(&purpose).ok_or(ApiError::NotFound)?;
    let granted_now = body.into_inner().granted;
    let policy_version = versions.policy();
    let data = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                change(conn, &user, purpose, granted_now, policy_version)?;
                Ok::<_, ApiError>(current(conn, &user)?)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(Consents { data }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(purpose: Purpose, granted: bool, n: u32) -> ConsentRow {
        ConsentRow {
            id: format!("cns_{n:03}"),
            subject_id: "usr_1".into(),
            purpose: purpose.as_str().into(),
            granted,
            policy_version: 1,
            source: ConsentSource::Api.as_str().into(),
            at: chrono::DateTime::from_timestamp(i64::from(n), 0)
                .unwrap()
                .naive_utc(),
        }
    }

    #[test]
    fn defaults_apply_until_changed_and_newest_wins() {
        let s = states(&[]);
        assert!(s[0].granted && !s[0].explicit);
        assert!(!s[1].granted && !s[2].granted);
        let ledger = [
            row(Purpose::MarketingNotifications, true, 1),
            row(Purpose::MarketingNotifications, false, 2),
            row(Purpose::Personalization, true, 3),
        ];
        let s = states(&ledger);
        assert!(s[0].granted && !s[0].explicit);
        assert!(!s[1].granted && s[1].explicit);
        assert!(s[2].granted);
    }
}
