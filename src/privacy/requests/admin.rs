//! The privacy officer's queue: `GET /v1/admin/privacy/requests` (overdue first) and
//! `POST …/{id}/complete`, `…/extend`, `…/deny`. Every answer is told to the requester
//! through the outbox.

use actix_web::{get, post, web, HttpResponse};
use chrono::{Datelike, NaiveDateTime};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};

use super::model::{self, Kind, Status};
use super::routes::RequestList;
use super::store::{self, RequestRow};
use super::RequestView;
use crate::audit::{self, Actor, Event};
use crate::auth::{min, Auth, PrincipalCache};
use crate::crypto::Crypto;
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(queue)
        .service(complete)
        .service(extend)
        .service(deny);
}

/// Which requests the queue shows: `open` (pending, scheduled, pending verification; the
/// default), `closed` (completed, denied or cancelled) or `all`.
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueFilter {
    /// Waiting for an answer (pending, scheduled, pending verification). The default.
    #[default]
    Open,
    /// Answered: completed, denied or cancelled.
    Closed,
    /// Everything.
    All,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `open` (default), `closed` or `all`.
    // Inline: no response body names the enum, so it is not among the document's components
    // and a `$ref` to it would dangle (openapi-typescript refuses the document).
    #[param(inline)]
    pub status: Option<QueueFilter>,
    /// Requests per page, 1–100 (default 20).
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page of this queue; omit for the first page.
    pub cursor: Option<String>,
}

fn statuses(filter: QueueFilter) -> Vec<&'static str> {
    Status::ALL
        .into_iter()
        .filter(|s| match filter {
            QueueFilter::Open => s.is_open(),
            QueueFilter::Closed => !s.is_open(),
            QueueFilter::All => true,
        })
        .map(Status::as_str)
        .collect()
}

fn decode_key(key: &str) -> Option<(NaiveDateTime, String)> {
    let (micros, id) = key.split_once('|')?;
    let at = chrono::DateTime::from_timestamp_micros(micros.parse().ok()?)?.naive_utc();
    // Due dates are dates of this era; PostgreSQL refuses timestamps before 4713 BC that
    // chrono would build from a forged cursor.
    if !(1..=9999).contains(&at.year()) {
        return None;
    }
    Some((at, id.to_owned()))
}

/// The DSR queue.
///
/// Requests ordered by due date, so overdue ones come first. Due dates are one calendar
/// month after receipt (31 January → 28/29 February), later when extended.
#[utoipa::path(
    operation_id = "listPrivacyRequestQueue",
    tag = "privacy-admin",
    security(("bearer" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "One page of requests, overdue first", body = RequestList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officer only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/privacy/requests")]
async fn queue(
    _auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    query: Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .validate("dsr-queue")?;
    let after = match &page.after {
        None => None,
        Some(k) => Some(decode_key(k).ok_or_else(|| {
            ApiError::validation("cursor", "is not a cursor returned by this listing")
        })?),
    };
    let wanted = statuses(q.status.unwrap_or_default());
    let limit = i64::from(page.limit) + 1;
    let rows = db
        .run(move |conn| store::queue(conn, &wanted, after, limit).map_err(ApiError::from))
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, "dsr-queue", |r| {
        format!("{}|{}", r.due_at.and_utc().timestamp_micros(), r.id)
    });
    Ok(HttpResponse::Ok().json(RequestList {
        data: rows.iter().map(RequestView::from).collect(),
        next_cursor,
    }))
}

/// An extension of the deadline.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"months": 1, "reason": "Your request covers many orders; we need more time to gather them."}))]
#[schema(as = PrivacyRequestExtension)]
pub struct Extension {
    /// Months to add: 1 or 2; the total extension is at most 2 months.
    #[schema(minimum = 1, maximum = 2)]
    pub months: u32,
    /// Told to the requester: 1–500 characters once trimmed, no control characters but line
    /// breaks, nothing sensitive.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

/// A denial.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "We could not verify that the request came from the account holder."}))]
#[schema(as = PrivacyRequestDenial)]
pub struct Denial {
    /// Told to the requester: 1–500 characters once trimmed, no control characters but line
    /// breaks, nothing sensitive.
    #[schema(min_length = 1, max_length = 500)]
    pub reason: String,
}

fn answer(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    id: &str,
    action: crate::audit::Action,
    apply: impl FnOnce(&mut DbConnection, &RequestRow) -> Result<(), ApiError>,
) -> Result<RequestRow, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let row = store::get(conn, id)?.ok_or(ApiError::NotFound)?;
        model::require_open(row.status())?;
        apply(conn, &row)?;
        let row = store::get(conn, id)?.ok_or(ApiError::NotFound)?;
        if !row.status().is_open() {
            // Answered without applying them: a guest's corrections are not kept.
            super::corrections::shred(conn, crypto, &row.id)?;
        }
        audit::record(
            conn,
            crypto,
            actor,
            &Event {
                action,
                subject_id: row.user_id.as_deref(),
                fields: &[],
                purpose: crate::audit::Purpose::AnsweringRequest,
            },
        )?;
        super::notify(conn, &row)?;
        Ok(row)
    })
}

fn moved(ok: bool) -> Result<(), ApiError> {
    if ok {
        Ok(())
    } else {
        Err(ApiError::InvalidTransition(
            "The request changed meanwhile; read it again.".into(),
        ))
    }
}

/// Complete a request.
///
/// Marks an open request as answered. Scheduled erasures complete by themselves when the
/// customer's last order closes (409 here).
#[utoipa::path(
    operation_id = "completePrivacyRequest",
    tag = "privacy-admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id, `dsr_…`")),
    responses(
        (status = 200, description = "The completed request", body = RequestView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officer only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered, or an erasure that runs by itself", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/privacy/requests/{id}/complete")]
async fn complete(
    auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let row = db
        .run(move |conn| {
            answer(
                conn,
                &crypto,
                &actor,
                &id,
                crate::audit::Action::DsrComplete,
                |conn, row| {
                    if row.kind() == Kind::Erasure || row.status() == Status::PendingVerification {
                        return Err(ApiError::InvalidTransition(
                            "Erasures complete by themselves once nothing is open, and \
                                 guest requests must be verified first."
                                .into(),
                        ));
                    }
                    moved(store::transition(
                        conn,
                        &row.id,
                        row.status(),
                        Status::Completed,
                    )?)
                },
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(RequestView::from(&row)))
}

/// Extend the deadline.
///
/// By 1 or 2 months, at most 2 in total, counted from receipt; the reason is told to the
/// requester.
#[utoipa::path(
    operation_id = "extendPrivacyRequest",
    tag = "privacy-admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id, `dsr_…`")),
    request_body = Extension,
    responses(
        (status = 200, description = "The request with its new due date", body = RequestView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officer only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "More than 2 months in total, or an invalid reason", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/privacy/requests/{id}/extend")]
async fn extend(
    auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
    body: Json<Extension>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let reason = model::reason("reason", &body.reason)?;
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let row = db
        .run(move |conn| {
            answer(
                conn,
                &crypto,
                &actor,
                &id,
                crate::audit::Action::DsrExtend,
                |conn, row| {
                    let used = u32::try_from(row.extension_months).unwrap_or(0);
                    let (due, total) =
                        model::extended_due_date(row.received_at, used, body.months)?;
                    store::set_extension(conn, &row.id, due, total as i32, &reason)?;
                    Ok(())
                },
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(RequestView::from(&row)))
}

/// Deny a request.
///
/// With a reason told to the requester. A denied erasure gives the account back.
#[utoipa::path(
    operation_id = "denyPrivacyRequest",
    tag = "privacy-admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id, `dsr_…`")),
    request_body = Denial,
    responses(
        (status = 200, description = "The denied request", body = RequestView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officer only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already answered", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid reason", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/privacy/requests/{id}/deny")]
async fn deny(
    auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
    body: Json<Denial>,
    principals: web::Data<PrincipalCache>,
) -> Result<HttpResponse, ApiError> {
    let reason = model::reason("reason", &body.into_inner().reason)?;
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let row = db
        .run(move |conn| {
            answer(
                conn,
                &crypto,
                &actor,
                &id,
                crate::audit::Action::DsrDeny,
                |conn, row| {
                    store::set_denial_reason(conn, &row.id, &reason)?;
                    if row.kind() == Kind::Erasure {
                        crate::privacy::erasure::cancel(conn, row)?;
                        return moved(store::transition(
                            conn,
                            &row.id,
                            Status::Cancelled,
                            Status::Denied,
                        )?);
                    }
                    moved(store::transition(
                        conn,
                        &row.id,
                        row.status(),
                        Status::Denied,
                    )?)
                },
            )
        })
        .await?;
    // A denied erasure gives the account back its full access.
    principals.forget_all();
    Ok(HttpResponse::Ok().json(RequestView::from(&row)))
}
