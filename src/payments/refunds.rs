//! Refunds: `POST /v1/admin/payments/{id}/refund` (with `Idempotency-Key`) and
//! `GET /v1/admin/payments/{id}/refunds`.
//!
//! A refund is reserved in one short transaction (its amount set aside on the payment, never
//! past what was captured), the provider is called with no transaction open, and its answer
//! is recorded in a second one. A retry with the same key resumes the same refund, and the
//! provider receives the same `Idempotency-Key` again, so nothing is ever refunded twice.

use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{RefundStatus, TestProvider};
use super::provider::{PaymentSettings, RefundAnswer};
use super::store::{self, PaymentRow, RefundRow};
use super::view::{PaymentView, RefundList, RefundResult, RefundView};
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::idempotency::{self, Lookup, Stored};
use crate::invoices::issue::{self as invoices, Issuer};
use crate::notifications::{self, Kind};
use crate::orders::store as orders;

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(refund_payment).service(list_refunds);
}

/// How much of a captured payment to give back.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 2500}))]
pub struct RefundRequest {
    /// Minor units (cents) to refund, from 1 to what is left to refund (the payment's amount
    /// less what was refunded or is being refunded already); omit it, or send null, to
    /// refund all of that.
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
}

/// The refund a request asks for, as the first transaction leaves it.
enum Begun {
    Replay(Stored),
    Call(Box<(PaymentRow, RefundRow)>),
}

/// What the second transaction answers.
enum Finished {
    Answer(Stored, bool),
    Refused,
}

struct Request {
    payment_id: String,
    key: String,
    hash: Vec<u8>,
    amount: Option<i64>,
}

impl Request {
    fn scope(&self) -> String {
        format!("refund:{}", self.payment_id)
    }
}

const REFUSED: &str = "The payment provider refused this refund.";
const RACE: &str = "A concurrent request used this Idempotency-Key; retry.";

/// First transaction: the stored answer of an earlier request with this key, or the refund
/// to ask the provider for (resumed, or reserved now).
fn begin(conn: &mut DbConnection, crypto: &Crypto, request: &Request) -> Result<Begun, ApiError> {
    write_transaction(conn, |conn| {
        let payment = store::get(conn, &request.payment_id)?.ok_or(ApiError::NotFound)?;
        let scope = request.scope();
        if let Lookup::Replay(stored) =
            idempotency::lookup(conn, crypto, &scope, &request.key, &request.hash)?
        {
            return Ok(Begun::Replay(stored));
        }
        if let Some(existing) = store::refund_by_request(conn, &payment.id, &request.key)? {
            if existing.request_hash.as_deref() != Some(request.hash.as_slice()) {
                return Err(ApiError::IdempotencyKeyReused);
            }
            if existing.status() == RefundStatus::Failed {
                return Err(ApiError::conflict(REFUSED));
            }
            return Ok(Begun::Call(Box::new((payment, existing))));
        }
        let amount = reserve(conn, &payment, request.amount)?;
        let now = crate::db::now();
        let row = RefundRow {
            id: crate::ids::new_id("ref"),
            payment_id: payment.id.clone(),
            amount,
            status: RefundStatus::Pending.as_str().to_owned(),
            provider_reference: None,
            request_key: Some(request.key.clone()),
            request_hash: Some(request.hash.clone()),
            created_at: now,
            updated_at: now,
        };
        match store::insert_refund(conn, &row) {
            Err(diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::UniqueViolation,
                _,
            )) => return Err(ApiError::conflict(RACE)),
            other => other?,
        }
        Ok(Begun::Call(Box::new((payment, row))))
    })
}

/// Sets aside `wanted` (or all that is left) of a captured payment; the amount reserved.
fn reserve(
    conn: &mut DbConnection,
    payment: &PaymentRow,
    wanted: Option<i64>,
) -> Result<i64, ApiError> {
    let not_captured = || ApiError::conflict("Only a captured payment can be refunded.");
    if !payment.status().is_captured() {
        return Err(not_captured());
    }
    let remaining = payment.amount - payment.refunded_amount;
    let amount = wanted.unwrap_or(remaining);
    let too_much = |left: i64| ApiError::validation("amount", format!("must be 1 to {left}"));
    if amount < 1 || amount > remaining {
        return Err(too_much(remaining));
    }
    if store::reserve_refund(conn, &payment.id, amount)? {
        return Ok(amount);
    }
    // A refund running beside this one took some of it since it was read.
    let now = store::get(conn, &payment.id)?.ok_or(ApiError::NotFound)?;
    if !now.status().is_captured() {
        return Err(not_captured());
    }
    Err(too_much(now.amount - now.refunded_amount))
}

/// Second transaction: the provider's answer recorded, and the answer stored for replays.
fn finish(
    conn: &mut DbConnection,
    crypto: &Crypto,
    request: &Request,
    refund_id: &str,
    answer: &RefundAnswer,
) -> Result<Finished, ApiError> {
    write_transaction(conn, |conn| {
        if !record_answer(conn, refund_id, answer)? {
            return Ok(Finished::Refused);
        }
        let refund = store::refund(conn, refund_id)?.ok_or(ApiError::NotFound)?;
        let payment = store::get(conn, &refund.payment_id)?.ok_or(ApiError::NotFound)?;
        let order = orders::get(conn, &payment.order_id)?.ok_or(ApiError::NotFound)?;
        let code = if refund.status() == RefundStatus::Pending {
            202
        } else {
            200
        };
        let result = RefundResult {
            refund: RefundView::new(refund, &payment.currency),
            payment: PaymentView::from(payment),
        };
        let body = serde_json::to_vec(&result).map_err(|e| ApiError::Internal(e.into()))?;
        let data_key = crypto.data_key(conn, &order.id)?;
        let scope = request.scope();
        if idempotency::save(
            conn,
            &data_key,
            &scope,
            &request.key,
            &request.hash,
            &order.id,
            code,
            &body,
        )? {
            return Ok(Finished::Answer(Stored { status: code, body }, false));
        }
        match idempotency::lookup(conn, crypto, &scope, &request.key, &request.hash)? {
            Lookup::Replay(stored) => Ok(Finished::Answer(stored, true)),
            Lookup::Fresh => Err(ApiError::conflict(RACE)),
        }
    })
}

/// Records what the provider made of a refund (in the caller's transaction); false when it
/// refused it (the refund failed, its amount refundable again).
pub fn record_answer(
    conn: &mut DbConnection,
    refund_id: &str,
    answer: &RefundAnswer,
) -> Result<bool, ApiError> {
    let refund = store::refund(conn, refund_id)?.ok_or(ApiError::NotFound)?;
    let (reference, status) = match answer {
        // Only a refund the provider never answered for can have been refused by it: a
        // refusal racing a settled refund (a concurrent try of the same key) changes nothing.
        RefundAnswer::Refused
            if refund.status() == RefundStatus::Pending && refund.provider_reference.is_none() =>
        {
            fail(conn, &refund)?;
            return Ok(false);
        }
        RefundAnswer::Refused => return Ok(refund.status() != RefundStatus::Failed),
        RefundAnswer::Done { reference, status } => (reference.as_str(), *status),
    };
    // A webhook may have settled it already: only a refund still waiting for the
    // provider's answer takes this one.
    accept(conn, &refund, reference, status)?;
    Ok(true)
}

/// The provider's first word on a refund (its answer, or a webhook that came before it):
/// the provider's reference recorded, the refund moved to what it reports, and the customer
/// told it is on its way. Once per refund: only a refund without a reference takes it, and
/// a refund with a reference is never asked of the provider again. False when the refund
/// had its reference already.
pub fn accept(
    conn: &mut DbConnection,
    refund: &RefundRow,
    reference: &str,
    status: RefundStatus,
) -> Result<bool, ApiError> {
    if refund.status() != RefundStatus::Pending
        || refund.provider_reference.is_some()
        || !store::take_refund_reference(conn, &refund.id, reference)?
    {
        return Ok(false);
    }
    let refund = store::refund(conn, &refund.id)?.ok_or(ApiError::NotFound)?;
    settle(conn, &refund, status)?;
    if status != RefundStatus::Failed {
        notify(conn, &refund)?;
    }
    Ok(true)
}

/// Inside the caller's transaction: `amount` of a captured payment refunded as staff refund
/// it (see [`refund_now`]), and, when the provider took it at once (the `test` provider),
/// the customer and the integrators told (`payment.refunded`) as [`accept`] tells them of a
/// provider's answer; a refund still `pending` is told when the refund worker has it
/// accepted. None when the amount could not be set aside.
pub fn refund_and_tell(
    conn: &mut DbConnection,
    payment: &PaymentRow,
    amount: i64,
) -> Result<Option<RefundRow>, ApiError> {
    let refund = refund_now(conn, payment, amount)?;
    if let Some(refund) = &refund {
        if refund.status() == RefundStatus::Succeeded {
            notify(conn, refund)?;
        }
    }
    Ok(refund)
}

/// The order's customer told that `refund` is on its way back.
fn notify(conn: &mut DbConnection, refund: &RefundRow) -> Result<(), ApiError> {
    let payment = store::get(conn, &refund.payment_id)?.ok_or(ApiError::NotFound)?;
    let order = orders::get(conn, &payment.order_id)?.ok_or(ApiError::NotFound)?;
    notifications::enqueue(
        conn,
        notifications::To::Order {
            order_id: &order.id,
            user_id: order.user_id.as_ref(),
        },
        &Kind::PaymentRefunded,
        &serde_json::json!({
            "order_id": order.id,
            "payment_id": payment.id,
            "status": payment.status,
            "amount": refund.amount,
        }),
    )?;
    Ok(())
}

/// A refund that will not happen: failed, and its amount refundable again.
fn fail(conn: &mut DbConnection, refund: &RefundRow) -> Result<(), ApiError> {
    let from = refund.status();
    if from.may_become(RefundStatus::Failed)
        && store::set_refund_status(
            conn,
            &refund.id,
            from,
            RefundStatus::Failed,
            refund.provider_reference.as_deref(),
        )?
    {
        store::release_refund(conn, &refund.payment_id, refund.amount)?;
    }
    Ok(())
}

/// Moves a refund to what its provider reports (a failure gives its amount back to the
/// payment); false when the refund was already past that.
pub fn settle(
    conn: &mut DbConnection,
    refund: &RefundRow,
    to: RefundStatus,
) -> Result<bool, ApiError> {
    let from = refund.status();
    if !from.may_become(to) {
        return Ok(false);
    }
    if to == RefundStatus::Failed {
        fail(conn, refund)?;
        return Ok(true);
    }
    let moved = store::set_refund_status(
        conn,
        &refund.id,
        from,
        to,
        refund.provider_reference.as_deref(),
    )?;
    if moved && to == RefundStatus::Succeeded {
        succeeded(conn, refund)?;
    }
    Ok(moved)
}

/// A refund has succeeded (in the caller's transaction): its credit note is due.
pub fn succeeded(conn: &mut DbConnection, refund: &RefundRow) -> Result<(), ApiError> {
    let payment = store::get(conn, &refund.payment_id)?.ok_or(ApiError::NotFound)?;
    crate::invoices::issue::queue_credit_note(
        conn,
        &refund.id,
        &payment.order_id,
        &payment.id,
        refund.amount,
    )
}

/// Inside an order's cancellation: every captured amount of its payments set aside and
/// refunded. The `test` provider refunds at once; a refund to another provider stays
/// `pending`, without a provider reference, until it is submitted outside the transaction.
pub fn refund_all_for_order(conn: &mut DbConnection, order_id: &str) -> Result<(), ApiError> {
    for payment in store::for_order(conn, order_id)? {
        refund_remaining(conn, &payment)?;
    }
    Ok(())
}

/// Inside the caller's transaction: what is left of a captured payment set aside and refunded
/// (at once for the `test` provider; a `pending` refund, submitted outside the transaction by
/// the refund worker, for another). Nothing when nothing is left.
pub fn refund_remaining(conn: &mut DbConnection, payment: &PaymentRow) -> Result<(), ApiError> {
    let refundable = payment.amount - payment.refunded_amount;
    if refundable < 1 || !payment.status().is_captured() {
        return Ok(());
    }
    refund_now(conn, payment, refundable)?;
    Ok(())
}

/// Inside the caller's transaction: `amount` of a captured payment set aside and refunded
/// (at once for the `test` provider; a `pending` refund, submitted outside the transaction by
/// the refund worker, for another). None when the amount could not be set aside (not
/// captured, or not that much left). The caller's transaction is what makes it happen once.
pub fn refund_now(
    conn: &mut DbConnection,
    payment: &PaymentRow,
    amount: i64,
) -> Result<Option<RefundRow>, ApiError> {
    if amount < 1 || !store::reserve_refund(conn, &payment.id, amount)? {
        return Ok(None);
    }
    let now = crate::db::now();
    let id = crate::ids::new_id("ref");
    let test = payment.provider == TestProvider::NAME;
    let refund = RefundRow {
        status: if test {
            RefundStatus::Succeeded
        } else {
            RefundStatus::Pending
        }
        .as_str()
        .to_owned(),
        provider_reference: test.then(|| TestProvider.refund(&id)),
        id,
        payment_id: payment.id.clone(),
        amount,
        request_key: None,
        request_hash: None,
        created_at: now,
        updated_at: now,
    };
    store::insert_refund(conn, &refund)?;
    if test {
        succeeded(conn, &refund)?;
    }
    Ok(Some(refund))
}

/// Refund a payment.
///
/// In full, or partly with `amount`; the payment becomes `partially_refunded` or `refunded`
/// at once (what is being refunded counts), and the refund follows the provider: 200 when it
/// succeeded, 202 while the provider still processes it (its webhooks settle it; a refund
/// that fails gives its amount back to refund). Requires an `Idempotency-Key`: a retry with
/// the same key and body replays the first answer (`Idempotent-Replayed: true`) and never
/// refunds twice; parallel refunds never give back more than was captured.
#[utoipa::path(
    operation_id = "refundPayment",
    tag = "payments",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ("id" = String, Path, description = "The payment's `pay_…` id"),
        ("Idempotency-Key" = String, Header, description = "Unique per refund, e.g. a UUID: 1 to 255 visible ASCII characters; a retry with the same key and body replays the first answer", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),
    ),
    request_body = RefundRequest,
    responses(
        (status = 200, description = "Refunded", body = RefundResult),
        (status = 202, description = "Refund asked of the provider, which has not settled it yet", body = RefundResult),
        (status = 400, description = "Missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing captured to refund, or the provider refused the refund", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`personal-data-erased`: a replay whose order's data were erased since", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid amount, or `idempotency-key-reused`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The payment provider did not answer: retry with the same key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/payments/{id}/refund")]
async fn refund_payment(
    req: HttpRequest,
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    settings: web::Data<PaymentSettings>,
    issuer: web::Data<Issuer>,
    id: web::Path<String>,
    body: Json<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key(&req, true)?.unwrap_or_default();
    let body = body.into_inner();
    let id = id.into_inner();
    let request = std::sync::Arc::new(Request {
        hash: idempotency::fingerprint(&id, &body),
        payment_id: id,
        key,
        amount: body.amount,
    });
    let payment_id = request.payment_id.clone();
    let crypto = std::sync::Arc::new(issuer.crypto.clone());
    let (stored, replayed) = run(&db, crypto, &settings, request).await?;
    // A refund that succeeded has its credit note due: issued now, after the commit.
    let order = db
        .run(move |conn| Ok::<_, ApiError>(store::get(conn, &payment_id)?))
        .await?
        .map(|p| p.order_id.to_string());
    if let Some(order) = order {
        invoices::issue_for_order(&db, &issuer, order).await;
    }
    Ok(idempotency::replay(stored, replayed))
}

/// The whole refund: reserve, ask the provider (no transaction open), record.
async fn run(
    db: &Db,
    crypto: std::sync::Arc<Crypto>,
    settings: &PaymentSettings,
    request: std::sync::Arc<Request>,
) -> Result<(Stored, bool), ApiError> {
    let (c, r) = (crypto.clone(), request.clone());
    let (payment, refund) = match db.run(move |conn| begin(conn, &c, &r)).await? {
        Begun::Replay(stored) => return Ok((stored, true)),
        Begun::Call(found) => *found,
    };
    // The provider already answered for this refund (a retry after that answer was lost to
    // the client): asking again could refund twice once the provider forgot the key.
    let answer = match &refund.provider_reference {
        Some(reference) => RefundAnswer::Done {
            reference: reference.clone(),
            status: refund.status(),
        },
        None => settings.refund(&payment, &refund).await?,
    };
    let finished = db
        .run(move |conn| finish(conn, &crypto, &request, &refund.id, &answer))
        .await?;
    match finished {
        Finished::Answer(stored, replayed) => Ok((stored, replayed)),
        Finished::Refused => Err(ApiError::conflict(REFUSED)),
    }
}

/// Refunds of a payment.
///
/// Every refund asked of the payment's provider, oldest first, with its status.
#[utoipa::path(
    operation_id = "listPaymentRefunds",
    tag = "payments",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The payment's `pay_…` id")),
    responses(
        (status = 200, description = "The payment's refunds", body = RefundList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/payments/{id}/refunds")]
async fn list_refunds(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let data = db
        .run(move |conn| {
            let payment = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
            Ok::<_, ApiError>(
                store::refunds_of(conn, &payment.id)?
                    .into_iter()
                    .map(|r| RefundView::new(r, &payment.currency))
                    .collect(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(RefundList { data }))
}
