//! `/v1/orders/{number}/payments`, `/v1/payments/webhooks/{provider}`,
//! `/v1/admin/payments/{id}/refund`.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{verify_signature, PaymentProvider, PaymentStatus, TestProvider, WebhookEvent};
use super::store::{self, PaymentRow};
use crate::auth::{min, Auth, Caller};
use crate::catalog::model::Money;
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::idempotency::{self, Lookup};
use crate::notifications::{self, Kind};
use crate::orders::access::{Requester, ORDER_NUMBER, ORDER_TOKEN};
use crate::orders::lifecycle::{self, Change};
use crate::orders::model::{Action, Actor, ChangedBy, OrderStatus};
use crate::orders::store as orders;

/// Signed by the provider: a forged one costs an HMAC before it is refused.
pub const PROVIDER_EVENT: Policy = Policy {
    name: "provider-event",
    client: Some(Quota::per_minute(1200)),
    global: Quota::per_minute(60_000),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[
    (
        Method::POST,
        "/v1/orders/{number}/payments",
        &crate::orders::routes::ORDER_CHANGE,
    ),
    (
        Method::POST,
        "/v1/payments/webhooks/{provider}",
        &PROVIDER_EVENT,
    ),
];

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_payment)
        .service(list_payments)
        .service(webhook);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(refund);
}

/// The payment provider's shared secret (webhook signatures).
pub struct PaymentSettings {
    pub webhook_secret: Vec<u8>,
}

/// One payment attempt of an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "status": "captured",
    "provider": "test",
    "provider_reference": "test_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "amount": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
    "refunded": {"amount": 0, "currency": "EUR", "minor_unit": 2},
    "created_at": "2025-11-25T14:20:00Z",
    "updated_at": "2025-11-25T14:21:12Z"
}))]
pub struct PaymentView {
    /// The payment's `pay_…` id.
    pub id: String,
    /// The `ord_…` id of the order it pays.
    pub order_id: String,
    /// Where the payment stands; it moves by the provider's webhooks and by refunds.
    pub status: PaymentStatus,
    /// The provider that processes it.
    pub provider: PaymentProvider,
    /// The provider's id for this payment (what its webhooks name).
    pub provider_reference: String,
    /// The amount to take: the order's total when the payment started, in minor units
    /// (cents).
    pub amount: Money,
    /// How much of it has been refunded so far, in minor units (cents); 0 until a refund.
    pub refunded: Money,
    /// When the payment was started (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When its status or refunded amount last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<PaymentRow> for PaymentView {
    fn from(p: PaymentRow) -> Self {
        let money = |amount| Money::in_code(amount, &p.currency);
        Self {
            status: p.status(),
            amount: money(p.amount),
            refunded: money(p.refunded_amount),
            id: p.id,
            order_id: p.order_id.into(),
            provider: PaymentProvider::parse(&p.provider).unwrap_or(PaymentProvider::Test),
            provider_reference: p.provider_reference,
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        }
    }
}

/// Every payment attempt of an order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"data": [{
    "id": "pay_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "order_id": "ord_0193a7c1f0a27c4e8d3b5a6f9e2d1c07",
    "status": "captured",
    "provider": "test",
    "provider_reference": "test_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "amount": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
    "refunded": {"amount": 0, "currency": "EUR", "minor_unit": 2},
    "created_at": "2025-11-25T14:20:00Z",
    "updated_at": "2025-11-25T14:21:12Z"
}]}))]
pub struct PaymentList {
    /// The order's payments, oldest first (the last one is the current attempt); empty
    /// before the first.
    pub data: Vec<PaymentView>,
}

/// Starting a payment takes no fields: the amount is the order's total and the provider is
/// the shop's.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct NewPayment {}

/// How much of a captured payment to give back.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"amount": 2500}))]
pub struct RefundRequest {
    /// Minor units (cents) to refund, from 1 to what is left to refund (the payment's amount
    /// less what was refunded already); omit it, or send null, to refund all of that.
    #[schema(minimum = 1)]
    pub amount: Option<i64>,
}

/// What became of a webhook event: `applied` (the payment, and perhaps the order, moved),
/// `duplicate` (this event id was seen before) or `ignored` (stale, out of order, or of a type
/// this API does not act on).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookOutcome {
    Applied,
    Duplicate,
    Ignored,
}

/// The answer to a provider webhook: any 200 means "received, do not send it again".
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "applied"}))]
pub struct WebhookAck {
    /// What became of the event.
    pub status: WebhookOutcome,
}

/// Starts a payment of the requester's order `number` (or replays the answer of an earlier
/// request with the same key): the answer (status, body) and whether it is a replay.
fn start(
    conn: &mut DbConnection,
    crypto: &crate::crypto::Crypto,
    requester: &Requester,
    number: &str,
    key: &str,
    hash: &[u8],
) -> Result<(u16, Vec<u8>, bool), ApiError> {
    write_transaction(conn, |conn| {
        let order = requester.find(conn, number)?;
        let scope = format!("payment:{}", order.id);
        if let Lookup::Replay(stored) = idempotency::lookup(conn, crypto, &scope, key, hash)? {
            return Ok((stored.status, stored.body, true));
        }
        if order.status() != OrderStatus::PendingPayment {
            return Err(ApiError::InvalidTransition(format!(
                "The order is {}, not awaiting payment.",
                order.status().as_str()
            )));
        }
        let now = crate::db::now();
        let id = crate::ids::new_id("pay");
        let row = PaymentRow {
            provider_reference: TestProvider.create(&id),
            id,
            order_id: order.id.clone(),
            provider: TestProvider::NAME.to_owned(),
            status: PaymentStatus::Pending.as_str().to_owned(),
            amount: order.total,
            refunded_amount: 0,
            currency: order.currency.clone(),
            created_at: now,
            updated_at: now,
        };
        store::insert(conn, &row)?;
        let body = serde_json::to_vec(&PaymentView::from(row))
            .map_err(|e| ApiError::Internal(e.into()))?;
        let data_key = crypto.data_key(conn, &order.id)?;
        if !idempotency::save(conn, &data_key, &scope, key, hash, &order.id, 201, &body)? {
            return Err(ApiError::conflict(
                "A concurrent request used this Idempotency-Key; retry.",
            ));
        }
        Ok((201, body, false))
    })
}

/// Start paying an order.
///
/// Creates a payment with the shop's provider (`test`) for the order's total. Requires an
/// `Idempotency-Key`. The payment then moves by the provider's signed webhooks; the order
/// becomes `paid` when it is captured. No card data is ever sent to or accepted by this API.
#[utoipa::path(
    operation_id = "startPayment",
    tag = "payments",
    security(("bearer" = []), ()),
    params(
        ("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"),
        ("Idempotency-Key" = String, Header, description = "Unique per attempt, e.g. a UUID: 1 to 255 visible ASCII characters; a retry with the same key and body replays the first answer", min_length = 1, max_length = 255, pattern = r"^[!-~]+$"),
        ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN),
    ),
    request_body = NewPayment,
    responses(
        (status = 201, description = "Payment started", body = PaymentView),
        (status = 400, description = "Missing Idempotency-Key", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: the order is not awaiting payment", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`personal-data-erased`: a replay whose first answer held personal data erased since", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown field, or `idempotency-key-reused`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/payments")]
async fn start_payment(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<crate::crypto::Crypto>,
    number: web::Path<String>,
    body: Json<NewPayment>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key(&req, true)?.unwrap_or_default();
    let number = number.into_inner();
    let hash = idempotency::fingerprint(&number, &body.into_inner());
    let requester = Requester::from_request(&caller, &req)?;
    let crypto = crypto.into_inner();
    let (status, body, replayed) = db
        .run(move |conn| start(conn, &crypto, &requester, &number, &key, &hash))
        .await?;
    let response = idempotency::replay(idempotency::Stored { status, body }, replayed);
    Ok(response)
}

/// Payments of an order.
///
/// Every attempt, with its status and refunds.
#[utoipa::path(
    operation_id = "listOrderPayments",
    tag = "payments",
    security(("bearer" = []), ()),
    params(
        ("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$"),
        ("X-Order-Token" = Option<String>, Header, description = ORDER_TOKEN),
    ),
    responses(
        (status = 200, description = "Every payment attempt of the order", body = PaymentList),
        (status = 404, description = "No such order, or not yours", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/orders/{number}/payments")]
async fn list_payments(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let number = number.into_inner();
    let requester = Requester::from_request(&caller, &req)?;
    let data = db
        .run(move |conn| {
            let order = requester.find(conn, &number)?;
            Ok::<_, ApiError>(
                store::for_order(conn, &order.id)?
                    .into_iter()
                    .map(PaymentView::from)
                    .collect(),
            )
        })
        .await?;
    Ok(HttpResponse::Ok().json(PaymentList { data }))
}

fn apply_event(
    conn: &mut DbConnection,
    provider: &str,
    event: &WebhookEvent,
) -> Result<WebhookOutcome, ApiError> {
    let (Some(next), Some(event_type)) = (event.status(), event.event_type.as_str()) else {
        return Ok(WebhookOutcome::Ignored);
    };
    let payment = store::get(conn, &event.data.payment_id)?
        .filter(|p| p.provider == provider && p.provider_reference == event.data.provider_reference)
        .ok_or_else(|| {
            ApiError::validation("data.payment_id", "names no payment of this provider")
        })?;
    if !store::record_event(conn, provider, &event.id, &payment.id, event_type)? {
        return Ok(WebhookOutcome::Duplicate);
    }
    if matches!(next, PaymentStatus::Authorized | PaymentStatus::Captured)
        && event.data.amount != payment.amount
    {
        return Err(ApiError::validation(
            "data.amount",
            "does not match the payment's amount",
        ));
    }
    let current = payment.status();
    if !current.may_become(next) {
        // Out of order: an older event arriving late never moves a payment backwards.
        return Ok(WebhookOutcome::Ignored);
    }
    if next == PaymentStatus::Refunded {
        let remaining = payment.amount - payment.refunded_amount;
        store::record_refund(conn, &payment, remaining)?;
    } else if !store::set_status(conn, &payment.id, current, next)? {
        return Ok(WebhookOutcome::Ignored);
    }
    if next == PaymentStatus::Captured {
        let order = orders::get(conn, &payment.order_id)?.ok_or(ApiError::NotFound)?;
        if order.status() == OrderStatus::PendingPayment {
            lifecycle::apply(
                conn,
                &Change {
                    order: &order,
                    action: Action::MarkPaid,
                    actor: Actor::System,
                    changed_by: ChangedBy::System,
                    actor_id: None,
                },
            )?;
        } else {
            log::warn!(
                "payment {} captured for order {} which is {}: needs a refund",
                payment.id,
                order.id,
                order.status
            );
        }
    }
    Ok(WebhookOutcome::Applied)
}

/// Payment provider webhook.
///
/// Signed with `Valise-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>`
/// (5-minute tolerance). Idempotent per event id; events arriving out of order never move a
/// payment backwards. `payment.captured` makes the order `paid`.
#[utoipa::path(
    operation_id = "receivePaymentEvent",
    tag = "payments",
    params(
        ("provider" = PaymentProvider, Path, description = "The provider sending the event (any other answers 404)"),
        ("Valise-Signature" = String, Header, description = "`t=<unix seconds>,v1=<hex HMAC-SHA256 of t, \".\" and the raw body>`; the timestamp must be within 5 minutes of the server's clock"),
    ),
    request_body = WebhookEvent,
    responses(
        (status = 200, description = "Accepted", body = WebhookAck),
        (status = 401, description = "Missing, forged or stale signature", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Unknown provider", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Malformed event, unknown payment, or amount mismatch", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/payments/webhooks/{provider}")]
async fn webhook(
    req: HttpRequest,
    db: web::Data<Db>,
    settings: web::Data<PaymentSettings>,
    provider: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let provider = provider.into_inner();
    if provider != TestProvider::NAME {
        return Err(ApiError::NotFound);
    }
    let header = req
        .headers()
        .get("valise-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthenticated(
            "The webhook has no Valise-Signature header.",
        ))?;
    verify_signature(
        &settings.webhook_secret,
        header,
        &body,
        chrono::Utc::now().timestamp(),
    )
    .map_err(ApiError::Unauthenticated)?;
    let event: WebhookEvent = crate::http::extract::parse_json(&body)?;
    let status = db
        .run(move |conn| write_transaction(conn, |conn| apply_event(conn, &provider, &event)))
        .await?;
    Ok(HttpResponse::Ok().json(WebhookAck { status }))
}

/// Refund a payment.
///
/// In full, or partly with `amount`; the payment becomes `refunded` or `partially_refunded`.
#[utoipa::path(
    operation_id = "refundPayment",
    tag = "payments",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The payment's `pay_…` id")),
    request_body = RefundRequest,
    responses(
        (status = 200, description = "Refunded", body = PaymentView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Managers and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such payment", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Nothing captured to refund", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid amount", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/payments/{id}/refund")]
async fn refund(
    _auth: Auth<min::Manager>,
    db: web::Data<Db>,
    id: web::Path<String>,
    body: Json<RefundRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let wanted = body.into_inner().amount;
    let view = db
        .run(move |conn| {
            write_transaction(conn, |conn| {
                let payment = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
                if !payment.status().is_captured() {
                    return Err(ApiError::conflict("Only a captured payment can be refunded."));
                }
                let remaining = payment.amount - payment.refunded_amount;
                let amount = wanted.unwrap_or(remaining);
                if amount < 1 || amount > remaining {
                    return Err(ApiError::validation("amount", format!("must be 1 to {remaining}")));
                }
                TestProvider.refund(&payment.provider_reference, amount)?;
                let status = store::record_refund(conn, &payment, amount)?;
                let order = orders::get(conn, &payment.order_id)?.ok_or(ApiError::NotFound)?;
                notifications::enqueue(
                    conn,
                    crate::notifications::To::Order { order_id: &order.id, user_id: order.user_id.as_ref() }, &Kind::PaymentRefunded,
                    &serde_json::json!({"order_id": order.id, "payment_id": payment.id, "status": status.as_str(), "amount": amount}),
                )?;
                let payment = store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
                Ok(PaymentView::from(payment))
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}
