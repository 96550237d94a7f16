//! `/v1/orders/{number}/payments`, `/v1/payments/webhooks/{provider}`; the refund routes
//! are in `refunds`.

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{get, post, web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::events::{self, WebhookOutcome};
use super::model::{verify_signature, PaymentProvider, WebhookEvent};
pub use super::provider::PaymentSettings;
use super::start::{self, Start};
use super::store;
pub use super::view::{PaymentList, PaymentView};
use crate::auth::Caller;
use crate::db::{write_transaction, Db};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;
use crate::idempotency;
use crate::invoices::issue::{self as invoices, Issuer};
use crate::orders::access::{Requester, ORDER_NUMBER, ORDER_TOKEN};

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
    super::refunds::configure_admin(cfg);
}

/// Starting a payment takes no fields: the amount is the order's total and the provider is
/// the shop's.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({}))]
pub struct NewPayment {}

/// The answer to a provider webhook: any 200 means "received, do not send it again".
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"status": "applied"}))]
pub struct WebhookAck {
    /// What became of the event.
    pub status: WebhookOutcome,
}

/// Start paying an order.
///
/// Creates a payment with the shop's provider (`test`, or `stripe` when the server is
/// configured for it) for the order's total. Requires an `Idempotency-Key`. With `stripe`,
/// the answer holds the PaymentIntent's `client_secret`, which the frontend or mobile app
/// hands to Stripe's own SDK to confirm the payment. The payment then moves by the
/// provider's signed webhooks; the order becomes `paid` when it is captured. No card data is
/// ever sent to or accepted by this API.
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
        (status = 409, description = "`invalid-transition`: the order is not awaiting payment; `conflict`: the provider refused the payment for good", body = Problem, content_type = "application/problem+json"),
        (status = 410, description = "`personal-data-erased`: a replay whose first answer held personal data erased since", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Unknown field, or `idempotency-key-reused`", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The payment provider did not answer: retry with the same key", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/payments")]
async fn start_payment(
    req: HttpRequest,
    caller: Caller,
    db: web::Data<Db>,
    crypto: web::Data<crate::crypto::Crypto>,
    settings: web::Data<PaymentSettings>,
    number: web::Path<String>,
    body: Json<NewPayment>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotency::key(&req, true)?.unwrap_or_default();
    let number = number.into_inner();
    let request = Start {
        hash: idempotency::fingerprint(&number, &body.into_inner()),
        requester: Requester::from_request(&caller, &req)?,
        number,
        key,
    };
    let (stored, replayed) = start::start(&db, crypto.into_inner(), &settings, request).await?;
    Ok(idempotency::replay(stored, replayed))
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

/// Payment provider webhook.
///
/// `test` signs with `Valise-Signature`, `stripe` with `Stripe-Signature` (its own event
/// format); both are `t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>`, any `v1`
/// may match, with a 5-minute tolerance. Idempotent per event id; events arriving out of
/// order never move a payment backwards. A capture makes the order `paid`; a decline, a
/// cancellation, processing and a dispute show in the payment's status; refund events settle
/// refunds.
#[utoipa::path(
    operation_id = "receivePaymentEvent",
    tag = "payments",
    params(
        ("provider" = PaymentProvider, Path, description = "The provider sending the event (any other answers 404, as does `stripe` on a server not configured for it)"),
        ("Valise-Signature" = Option<String>, Header, description = "`test`: `t=<unix seconds>,v1=<hex HMAC-SHA256 of t, \".\" and the raw body>`; the timestamp must be within 5 minutes of the server's clock"),
        ("Stripe-Signature" = Option<String>, Header, description = "`stripe`: the same scheme with the endpoint's `whsec_…` secret; several `v1` may be sent while a secret is rolled"),
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
    issuer: web::Data<Issuer>,
    provider: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let provider = PaymentProvider::parse(&provider).ok_or(ApiError::NotFound)?;
    let (secret, header) = match provider {
        PaymentProvider::Test => (&settings.webhook_secret[..], "valise-signature"),
        PaymentProvider::Stripe => match &settings.stripe {
            Some(stripe) => (stripe.webhook_secret(), "stripe-signature"),
            None => return Err(ApiError::NotFound),
        },
    };
    let signature = req
        .headers()
        .get(header)
        .and_then(|v| v.to_str().ok())
        .ok_or(ApiError::Unauthenticated(
            "The webhook has no signature header.",
        ))?;
    verify_signature(secret, signature, &body, chrono::Utc::now().timestamp())
        .map_err(ApiError::Unauthenticated)?;
    let issuing = issuer.get_ref().clone();
    let (status, order) = match provider {
        PaymentProvider::Test => {
            let event: WebhookEvent = crate::http::extract::parse_json(&body)?;
            db.run(move |conn| {
                let status =
                    write_transaction(conn, |conn| events::apply_test(conn, &issuing, &event))?;
                Ok::<_, ApiError>((status, events::order_of_test(conn, &event)?))
            })
            .await?
        }
        PaymentProvider::Stripe => {
            let event: super::stripe::Event = crate::http::extract::parse_json(&body)?;
            db.run(move |conn| {
                let status =
                    write_transaction(conn, |conn| events::apply_stripe(conn, &issuing, &event))?;
                Ok::<_, ApiError>((status, events::order_of_stripe(conn, &event)?))
            })
            .await?
        }
    };
    if let (WebhookOutcome::Applied, Some(order)) = (status, order) {
        invoices::issue_for_order(&db, &issuer, order).await;
    }
    Ok(HttpResponse::Ok().json(WebhookAck { status }))
}
