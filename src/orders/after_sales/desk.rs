//! The after-sales desk, `/v1/admin/after-sales…` (support and above): the queue, a case
//! opened as an audited read, answers to the customer, and the resolution — a `refunded`
//! return refunding the order's captured payment.

use actix_web::{get, post, web, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::store::{self, CaseRow};
use super::{AnswerView, CaseDetail, CaseKind, CaseQueue, CaseStatus, CaseView, Outcome};
use crate::audit::{self, Action, Actor, Event, Purpose};
use crate::auth::{min, Auth, Role};
use crate::crypto::Crypto;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};
use crate::invoices::issue::{self as invoices, Issuer};
use crate::notifications::{self, Kind};
use crate::orders::store as orders;
use crate::payments::store as payments;
use crate::privacy::refuse_sensitive;

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(queue)
        .service(read_case)
        .service(answer_case)
        .service(resolve_case);
}

const LISTING: &str = "after-sales";

/// Which cases, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `open` (default): cases waiting for support; `resolved`: those settled.
    #[param(inline, example = "open")]
    pub status: Option<CaseStatus>,
    /// Only cases of this kind; omit for every kind.
    #[param(inline, example = "warranty")]
    pub kind: Option<CaseKind>,
    /// Cases per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (with the same filters); omit for the first page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Support's answer to the customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"text": "Please send the case back with the prepaid label we e-mailed you."}))]
pub struct NewAnswer {
    /// 1–2,000 characters (surrounding whitespace trimmed; line breaks allowed, other control
    /// characters and sensitive data refused). Stored encrypted with the order's key.
    #[schema(min_length = 1, max_length = 2000)]
    pub text: String,
}

/// How staff settle a case.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CaseResolution)]
#[schema(example = json!({"outcome": "refunded", "amount": 2500, "message": "Refunded on receipt of the returned case."}))]
pub struct Resolution {
    /// How the case ends. `refunded` is for a `return` only, and for managers and above (it
    /// refunds the order's captured payment); `repaired` is for a `repair` or a `warranty`.
    pub outcome: Outcome,
    /// With `refunded` only: minor units (cents) to refund, from 1 to what is left to refund
    /// of the captured payment; omit it to refund all of that.
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
    /// Told to the customer as a last answer (optional): 1–2,000 characters, stored encrypted.
    #[schema(min_length = 1, max_length = 2000)]
    pub message: Option<String>,
}

/// The order's customer or guest told that the case moved.
fn notify(conn: &mut DbConnection, case: &CaseRow, change: &str) -> Result<(), ApiError> {
    let order = orders::get(conn, &case.order_id)?.ok_or(ApiError::NotFound)?;
    notifications::enqueue(
        conn,
        notifications::To::Order {
            order_id: &order.id,
            user_id: order.user_id.as_ref(),
        },
        &Kind::AfterSalesUpdated,
        &serde_json::json!({
            "order_id": order.id,
            "case_id": case.id,
            "status": case.status(),
            "change": change,
        }),
    )?;
    Ok(())
}

/// The audit subject of a case: the order's customer, or the order itself for a guest.
fn subject_of(conn: &mut DbConnection, case: &CaseRow) -> Result<String, ApiError> {
    let order = orders::get(conn, &case.order_id)?.ok_or(ApiError::NotFound)?;
    Ok(order
        .user_id
        .map(|u| u.to_string())
        .unwrap_or_else(|| order.id.to_string()))
}

fn record(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    case: &CaseRow,
    action: Action,
    fields: &[&str],
) -> Result<(), ApiError> {
    let subject = subject_of(conn, case)?;
    audit::record(
        conn,
        crypto,
        actor,
        &Event {
            action,
            subject_id: Some(&subject),
            fields,
            purpose: Purpose::AfterSales,
        },
    )?;
    Ok(())
}

/// The after-sales queue.
///
/// Cases oldest first, filtered by status (default `open`) and kind; no personal data (open
/// one case to read its reason, an audited read).
#[utoipa::path(
    operation_id = "listAfterSalesQueue",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "One page of cases", body = CaseQueue),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/after-sales")]
async fn queue(
    _auth: Auth<min::Support>,
    db: web::Data<Db>,
    query: Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let page = PageQuery {
        limit: query.limit,
        cursor: query.cursor,
    }
    .validate(LISTING)?;
    let status = query.status.unwrap_or(CaseStatus::Open);
    let list = db
        .run(move |conn| {
            let rows = store::page(
                conn,
                status,
                query.kind,
                page.after.as_deref(),
                i64::from(page.limit) + 1,
            )?;
            let (rows, next_cursor) = paginate(rows, &page, LISTING, |r| r.id.clone());
            let data: Vec<CaseView> = rows.iter().map(CaseRow::view).collect();
            Ok::<_, ApiError>(CaseQueue { data, next_cursor })
        })
        .await?;
    Ok(HttpResponse::Ok().json(list))
}

/// Read an after-sales case.
///
/// The customer's reason and the answers, decrypted for support; the reading is recorded in
/// the audit log (purpose: after-sales) and shown in the customer's access log.
#[utoipa::path(
    operation_id = "getAfterSalesCase",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The case's `asc_…` id")),
    responses(
        (status = 200, description = "The case with its reason and answers", body = CaseDetail),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/after-sales/{id}")]
async fn read_case(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::from_principal(&auth.principal, None);
    let (id, crypto) = (id.into_inner(), crypto.into_inner());
    let detail = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let case = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
                record(
                    conn,
                    &crypto,
                    &actor,
                    &case,
                    Action::AfterSalesRead,
                    &["reason", "answers"],
                )?;
                store::detail(conn, &crypto, &case)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(detail))
}

/// Answer an after-sales case.
///
/// The answer is stored encrypted with the order's key and the customer is told
/// (`after_sales.updated`); they read it with `GET /v1/orders/{number}/after-sales`.
#[utoipa::path(
    operation_id = "answerAfterSalesCase",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The case's `asc_…` id")),
    request_body = NewAnswer,
    responses(
        (status = 201, description = "Answered", body = AnswerView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: the case is resolved, or its order's personal data were erased", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/after-sales/{id}/answers")]
async fn answer_case(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
    body: Json<NewAnswer>,
) -> Result<HttpResponse, ApiError> {
    let text = crate::text::text("text", &body.into_inner().text, 2000)?;
    refuse_sensitive("text", &text)?;
    let actor = Actor::from_principal(&auth.principal, None);
    let author = auth.principal.id.clone();
    let (id, crypto) = (id.into_inner(), crypto.into_inner());
    let answer = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let case = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
                if case.status() != CaseStatus::Open {
                    return Err(ApiError::InvalidTransition(
                        "This case is resolved; it takes no more answers.".into(),
                    ));
                }
                let answer_id = add_answer(conn, &crypto, &case, &text, &author)?;
                record(
                    conn,
                    &crypto,
                    &actor,
                    &case,
                    Action::AfterSalesAnswer,
                    &["answers"],
                )?;
                notify(conn, &case, "answered")?;
                let detail = store::detail(conn, &crypto, &case)?;
                detail
                    .answers
                    .into_iter()
                    .find(|a| a.id == answer_id)
                    .ok_or(ApiError::NotFound)
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(answer))
}

fn add_answer(
    conn: &mut DbConnection,
    crypto: &Crypto,
    case: &CaseRow,
    text: &str,
    author: &str,
) -> Result<String, ApiError> {
    let key = store::order_key(conn, crypto, &case.order_id)?.ok_or_else(|| {
        ApiError::InvalidTransition("This order's personal data have been erased.".into())
    })?;
    store::insert_answer(conn, case, &key, text, author)
}

/// Refunds `amount` (or all that is left) of the order's captured payment for a `refunded`
/// return, in the caller's transaction, telling the customer as a staff refund does; the
/// refund's id.
fn refund(
    conn: &mut DbConnection,
    case: &CaseRow,
    amount: Option<i64>,
) -> Result<String, ApiError> {
    let payment = payments::for_order(conn, &case.order_id)?
        .into_iter()
        .find(|p| p.status().is_captured() && p.amount > p.refunded_amount)
        .ok_or_else(|| ApiError::conflict("The order has no captured payment left to refund."))?;
    let left = payment.amount - payment.refunded_amount;
    let amount = amount.unwrap_or(left);
    if !(1..=left).contains(&amount) {
        return Err(ApiError::validation(
            "amount",
            format!("must be 1 to {left}"),
        ));
    }
    let refund = crate::payments::refunds::refund_and_tell(conn, &payment, amount)?
        .ok_or_else(|| ApiError::conflict("A concurrent refund took this amount; retry."))?;
    Ok(refund.id)
}

/// Resolve an after-sales case.
///
/// Ends the case with an `outcome` and tells the customer (with `message` as a last answer
/// when given). `refunded` (a `return`, managers and above) refunds the order's captured
/// payment, in full or `amount`, in the same transaction; its credit note follows, and the
/// customer and integrators are told `payment.refunded` as for any refund. A case
/// resolves once: a repeated request answers 409 and never refunds twice.
#[utoipa::path(
    operation_id = "resolveAfterSalesCase",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The case's `asc_…` id")),
    request_body = Resolution,
    responses(
        (status = 200, description = "Resolved", body = CaseView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above; `refunded` managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such case", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already resolved, or nothing captured to refund", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid field, an outcome that does not fit the case's kind, or `amount` without `refunded`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/after-sales/{id}/resolve")]
async fn resolve_case(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    issuer: web::Data<Issuer>,
    id: web::Path<String>,
    body: Json<Resolution>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let message = body
        .message
        .as_deref()
        .map(|m| crate::text::text("message", m, 2000))
        .transpose()?;
    if let Some(m) = &message {
        refuse_sensitive("message", m)?;
    }
    let refunding = body.outcome == Outcome::Refunded;
    if body.amount.is_some() && !refunding {
        return Err(ApiError::validation(
            "amount",
            "is only for the `refunded` outcome",
        ));
    }
    if refunding && !auth.principal.role.includes(Role::Manager) {
        return Err(ApiError::Forbidden("Refunds are for managers and above."));
    }
    let actor = Actor::from_principal(&auth.principal, None);
    let author = auth.principal.id.clone();
    let crypto = std::sync::Arc::new(issuer.crypto.clone());
    let id = id.into_inner();
    let case = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let case = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
                if !body.outcome.fits(case.kind()) {
                    return Err(ApiError::validation(
                        "outcome",
                        format!("does not fit a `{}` case", case.kind().as_str()),
                    ));
                }
                if !store::resolve(conn, &case.id, body.outcome)? {
                    return Err(ApiError::conflict("This case is already resolved."));
                }
                if refunding {
                    let refund_id = refund(conn, &case, body.amount)?;
                    store::set_refund(conn, &case.id, &refund_id)?;
                }
                let mut fields: Vec<&str> = vec!["outcome"];
                if let Some(m) = &message {
                    add_answer(conn, &crypto, &case, m, &author)?;
                    fields.push("answers");
                }
                let case = store::get(conn, &case.id)?.ok_or(ApiError::NotFound)?;
                record(
                    conn,
                    &crypto,
                    &actor,
                    &case,
                    Action::AfterSalesResolve,
                    &fields,
                )?;
                notify(conn, &case, body.outcome.as_str())?;
                Ok(case.view())
            })
        })
        .await?;
    // A refund that succeeded has its credit note due: issued now, after the commit.
    if case.refund_id.is_some() {
        invoices::issue_for_order(&db, &issuer, case.order_id.clone()).await;
    }
    Ok(HttpResponse::Ok().json(case))
}
