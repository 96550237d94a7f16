//! The requester's side: `DELETE /v1/me`, `GET /v1/me/requests`,
//! `POST /v1/me/requests/{id}/cancel`.

use actix_web::{delete, get, post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::Kind;
use super::{store, RequestView};
use crate::auth::{min, Auth, DataSubject, PrincipalCache};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Query;
use crate::http::pagination::{paginate, PageQuery};
use crate::privacy::erasure;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(erase_me).service(my_requests).service(cancel);
}

/// One page of data-subject requests.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a51",
        "kind": "rectification",
        "status": "pending",
        "received_at": "2026-11-25T15:00:00Z",
        "due_at": "2026-12-25T15:00:00Z",
        "overdue": false,
        "extension_months": 0,
        "extension_reason": null,
        "denial_reason": null,
        "completed_at": null,
        "kept_by_law": []
    }],
    "next_cursor": "MjAyNi0xMi0yNVQxNTowMDowMFo"
}))]
pub struct RequestList {
    /// Up to `limit` requests.
    pub data: Vec<RequestView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Erase me.
///
/// Answers 202 with the erasure request (`dsr_…`). Sign-in stops at once and every session
/// is revoked. With no open order, the profile and finished orders are crypto-shredded
/// immediately (`status: completed`); otherwise the erasure is `scheduled` and runs when the
/// last open order has finished its after-sales window. Accounting records (order numbers,
/// amounts, items, payment statuses) are kept, without personal data; invoices and credit
/// notes keep the buyer's name and address until their statutory period ends, as
/// `kept_by_law` lists. While scheduled, the
/// access token in hand still reaches `GET /v1/me/requests` and the cancel route.
#[utoipa::path(
    operation_id = "eraseMe",
    tag = "privacy",
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Erasure done (`completed`) or `scheduled`", body = RequestView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Staff accounts are closed by an admin", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/me")]
async fn erase_me(
    auth: Auth<min::Customer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    retention: web::Data<crate::retention::Settings>,
    principals: web::Data<PrincipalCache>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let crypto = crypto.into_inner();
    let years = retention.accounting_years;
    let view = db
        .run(move |conn| {
            let row =
                crate::db::write_transaction(conn, |conn| erasure::request(conn, &crypto, &user))?;
            let mut view = RequestView::from(&row);
            view.kept_by_law = erasure::kept_by_law(conn, &user, years)?;
            Ok::<_, ApiError>(view)
        })
        .await?;
    // The account is now being erased: its tokens reach its requests only, at once.
    principals.forget_all();
    Ok(HttpResponse::Accepted().json(view))
}

/// My data-subject requests.
///
/// Newest first: access exports, corrections, consent withdrawals and erasures, each with
/// its status and statutory due date (one calendar month, extendable by up to two months
/// with a reason). Reachable while an erasure is pending.
#[utoipa::path(
    operation_id = "listMyPrivacyRequests",
    tag = "privacy",
    security(("bearer" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of my requests, newest first", body = RequestList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/me/requests")]
async fn my_requests(
    auth: DataSubject,
    db: web::Data<Db>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let page = query.into_inner().validate("requests")?;
    let before = page.after.clone();
    let limit = i64::from(page.limit) + 1;
    let rows = db
        .run(move |conn| {
            store::for_user(conn, &user, before.as_deref(), limit).map_err(ApiError::from)
        })
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, "requests", |r| r.id.clone());
    Ok(HttpResponse::Ok().json(RequestList {
        data: rows.iter().map(RequestView::from).collect(),
        next_cursor,
    }))
}

/// Cancel my request.
///
/// An erasure can be cancelled while it is `scheduled`: the account works again at once.
/// Finished requests cannot be cancelled (409).
#[utoipa::path(
    operation_id = "cancelMyPrivacyRequest",
    tag = "privacy",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id, `dsr_…`")),
    responses(
        (status = 200, description = "The cancelled request", body = RequestView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "An API key cannot act as a person", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request of yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already completed, denied or cancelled", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/me/requests/{id}/cancel")]
async fn cancel(
    auth: DataSubject,
    db: web::Data<Db>,
    id: web::Path<String>,
    principals: web::Data<PrincipalCache>,
) -> Result<HttpResponse, ApiError> {
    let user = auth.account()?;
    let id = id.into_inner();
    let row = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let row = store::get(conn, &id)?
                    .filter(|r| r.user_id.as_deref() == Some(user.as_str()))
                    .ok_or(ApiError::NotFound)?;
                super::model::require_open(row.status())?;
                if row.kind() != Kind::Erasure {
                    return Err(ApiError::InvalidTransition(
                        "Only an erasure can be cancelled; other requests are \
                                 answered by the privacy officer."
                            .into(),
                    ));
                }
                erasure::cancel(conn, &row)?;
                let row = store::get(conn, &row.id)?.ok_or(ApiError::NotFound)?;
                super::notify(conn, &row)?;
                Ok(row)
            })
        })
        .await?;
    principals.forget_all();
    Ok(HttpResponse::Ok().json(RequestView::from(&row)))
}
