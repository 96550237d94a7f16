//! `/v1/admin/webhooks` [admin]: integrators' event subscriptions and their delivery log.

use std::time::Duration;

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{parse_endpoint, EndpointRules, EventPattern, WebhookEventType, MAX_PATTERNS};
use super::store::{self, DeliveryRow, Redelivery, SubscriptionRow};
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::delivery::address::{judge_host, HostVerdict};
use crate::delivery::resolve::{public_addresses, Refusal};
use crate::http::error::{ApiError, FieldError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};

const LISTING: &str = "webhooks";
const DELIVERY_LISTING: &str = "webhook-deliveries";

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list)
        .service(create)
        .service(remove)
        .service(deliveries)
        .service(redeliver);
}

/// Which endpoints subscriptions may have: `http://` and non-public hosts in development
/// only.
#[derive(Debug, Clone, Copy)]
pub struct WebhookSettings {
    pub endpoints: EndpointRules,
}

/// How long registration waits for an endpoint's host name to resolve.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(3);

const RESOLVES_INTERNAL: &str =
    "resolves to loopback, a private network or another internal address, not a public one";

/// Where a delivery to a subscription stands: `pending` (waiting for its next try),
/// `sending` (being delivered now), `delivered`, `dead` (all tries failed) or `cancelled`
/// (the subscription was deleted first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    Pending,
    Sending,
    Delivered,
    Dead,
    Cancelled,
}

impl DeliveryStatus {
    pub const ALL: [DeliveryStatus; 5] = [
        DeliveryStatus::Pending,
        DeliveryStatus::Sending,
        DeliveryStatus::Delivered,
        DeliveryStatus::Dead,
        DeliveryStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => crate::delivery::status::PENDING,
            DeliveryStatus::Sending => crate::delivery::status::SENDING,
            DeliveryStatus::Delivered => crate::delivery::status::DELIVERED,
            DeliveryStatus::Dead => crate::delivery::status::DEAD,
            DeliveryStatus::Cancelled => crate::delivery::status::CANCELLED,
        }
    }

    pub fn parse(s: &str) -> Option<DeliveryStatus> {
        DeliveryStatus::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://erp.example/valise-events", "events": ["order.*", "payment.refunded"]}))]
pub struct NewSubscription {
    /// Where events are POSTed (at most 2048 bytes): `https://`, no credentials in the
    /// address, no `#fragment`, on a public host. An IP address must be public (not
    /// loopback, private, link-local, unique-local, carrier-grade NAT, multicast or
    /// reserved), `localhost` is refused, and a host name must resolve within 3 s to public
    /// addresses only (a name that does not resolve is refused too).
    #[schema(format = "uri", max_length = 2048)]
    pub url: String,
    /// `order.*`, `payment.*`, `policy.published`, `dsr.*`, `product.updated`,
    /// `variant.stock_changed`, or exact event names
    /// (`order.placed`); 1–32 patterns (repeats are kept once).
    #[schema(value_type = Vec<EventPattern>, min_items = 1, max_items = 32)]
    pub events: Vec<String>,
}

/// An event subscription, without its secret.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "whk_0193a7c25b7e7d1a9c1e2f6c1f7e9a60",
    "url": "https://erp.example/valise-events",
    "events": ["order.*", "payment.refunded"],
    "created_by": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a31",
    "created_at": "2026-11-25T15:00:00Z"
}))]
pub struct SubscriptionView {
    /// The subscription's id, `whk_` and 32 hex digits.
    pub id: String,
    /// Where events are POSTed.
    #[schema(format = "uri")]
    pub url: String,
    /// The patterns of the events it receives.
    pub events: Vec<EventPattern>,
    /// The admin (`usr_…`) or API key (`key_…`) that created it.
    pub created_by: String,
    /// When it was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

impl From<SubscriptionRow> for SubscriptionView {
    fn from(r: SubscriptionRow) -> Self {
        Self {
            events: r.patterns(),
            id: r.id,
            url: r.url,
            created_by: r.created_by,
            created_at: r.created_at.and_utc(),
        }
    }
}

/// A new subscription with its signing secret, shown this once.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "whk_0193a7c25b7e7d1a9c1e2f6c1f7e9a60",
    "url": "https://erp.example/valise-events",
    "events": ["order.*", "payment.refunded"],
    "created_by": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a31",
    "created_at": "2026-11-25T15:00:00Z",
    "secret": "whsec_N2xk4Qy8Rm1Tz6Vb0Wc3Xd7Ye5Zf9Ag2Bh4Ci8Dj6Ek"
}))]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    /// The signing secret (`whsec_…`). Verify each delivery's `Valise-Signature:
    /// t=<unix>,v1=<hex>` as `HMAC-SHA256(secret, t + "." + raw body)`, with the secret's
    /// UTF-8 bytes as the key. It cannot be shown again.
    pub secret: String,
}

/// One page of subscriptions, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "whk_0193a7c25b7e7d1a9c1e2f6c1f7e9a60",
        "url": "https://erp.example/valise-events",
        "events": ["order.*", "payment.refunded"],
        "created_by": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a31",
        "created_at": "2026-11-25T15:00:00Z"
    }],
    "next_cursor": null
}))]
pub struct SubscriptionList {
    /// Up to `limit` active subscriptions.
    pub data: Vec<SubscriptionView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// One delivery of one event to a subscription.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "whd_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "event_id": "evt_0193a7c25b7e7d1a9c1e2f6c1f7e9a11",
    "event_type": "order.placed", "status": "pending", "attempts": 2, "last_status_code": 503,
    "last_error": "HTTP 503", "created_at": "2026-11-25T10:00:00Z",
    "last_attempt_at": "2026-11-25T10:01:00Z", "next_attempt_at": "2026-11-25T10:06:00Z",
    "delivered_at": null
}))]
pub struct DeliveryView {
    /// `whd_…`; also sent as the `Valise-Delivery-Id` header.
    pub id: String,
    /// `evt_…`, the `id` in the delivered body: deduplicate on it.
    pub event_id: String,
    /// The event's type, the `type` in the delivered body.
    pub event_type: WebhookEventType,
    /// Where the delivery stands.
    pub status: DeliveryStatus,
    /// Tries so far (at most 9).
    #[schema(minimum = 0)]
    pub attempts: i32,
    /// HTTP status of the last try; `null` when it got no response (timeout, refused) or
    /// before the first try.
    pub last_status_code: Option<i32>,
    /// `HTTP <code>`, `timeout`, `connection failed`, `address refused` (the host is, or
    /// now resolves to, a non-public address: nothing was sent), …; `null` when the last try
    /// succeeded or none was made.
    pub last_error: Option<String>,
    /// When the event was queued for this subscription (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was last tried (RFC 3339, UTC); `null` before the first try.
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// When it is tried next (RFC 3339, UTC); `null` unless `pending`.
    pub next_attempt_at: Option<DateTime<Utc>>,
    /// When the endpoint acknowledged it (RFC 3339, UTC); `null` until `delivered`.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl TryFrom<DeliveryRow> for DeliveryView {
    type Error = ApiError;

    fn try_from(r: DeliveryRow) -> Result<Self, ApiError> {
        let unknown = |what: &str, value: &str| {
            ApiError::Internal(anyhow::anyhow!(
                "delivery {}: unknown {what} {value:?}",
                r.id
            ))
        };
        let event_type = WebhookEventType::parse(&r.event_type)
            .ok_or_else(|| unknown("event type", &r.event_type))?;
        let status =
            DeliveryStatus::parse(&r.status).ok_or_else(|| unknown("status", &r.status))?;
        Ok(Self {
            next_attempt_at: (status == DeliveryStatus::Pending)
                .then(|| r.next_attempt_at.and_utc()),
            id: r.id,
            event_id: r.event_id,
            event_type,
            status,
            attempts: r.attempts,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            created_at: r.created_at.and_utc(),
            last_attempt_at: r.last_attempt_at.map(|t| t.and_utc()),
            delivered_at: r.delivered_at.map(|t| t.and_utc()),
        })
    }
}

/// One page of a subscription's deliveries, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "whd_0193a7c25b7e7d1a9c1e2f6c1f7e9a10", "event_id": "evt_0193a7c25b7e7d1a9c1e2f6c1f7e9a11",
        "event_type": "order.placed", "status": "delivered", "attempts": 1, "last_status_code": 204,
        "last_error": null, "created_at": "2026-11-25T10:00:00Z",
        "last_attempt_at": "2026-11-25T10:00:01Z", "next_attempt_at": null,
        "delivered_at": "2026-11-25T10:00:01Z"
    }],
    "next_cursor": null
}))]
pub struct DeliveryList {
    /// Up to `limit` deliveries.
    pub data: Vec<DeliveryView>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Validates a new subscription: the endpoint and 1–32 known, distinct patterns.
fn parse_subscription(
    body: &NewSubscription,
    rules: EndpointRules,
) -> Result<(url::Url, Vec<EventPattern>), ApiError> {
    let mut errors = Vec::new();
    let url = parse_endpoint(&body.url, rules)
        .map_err(|m| errors.push(FieldError::new("url", m)))
        .ok();
    if body.events.is_empty() || body.events.len() > MAX_PATTERNS {
        errors.push(FieldError::new(
            "events",
            "must list 1 to 32 event patterns",
        ));
    }
    let mut patterns: Vec<EventPattern> = Vec::new();
    for (i, raw) in body.events.iter().enumerate() {
        match EventPattern::parse(raw) {
            Ok(p) if !patterns.contains(&p) => patterns.push(p),
            Ok(_) => {}
            Err(m) => errors.push(FieldError::new(format!("events[{i}]"), m)),
        }
    }
    match url {
        Some(url) if errors.is_empty() => Ok((url, patterns)),
        _ => Err(ApiError::Validation(errors)),
    }
}

/// Resolves the endpoint's host name (an IP address was judged by [`parse_endpoint`]) on
/// tokio's blocking pool, and refuses it unless every address is public. Deliveries check
/// again when they connect: DNS answers change.
async fn resolves_publicly(url: &url::Url) -> Result<(), &'static str> {
    let Some(HostVerdict::Resolve(name)) = url.host().map(judge_host) else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(443);
    match actix_web::rt::time::timeout(RESOLVE_TIMEOUT, public_addresses(name, port)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(Refusal::NotPublic)) => Err(RESOLVES_INTERNAL),
        Ok(Err(Refusal::NoAddress)) => Err("does not resolve to any address"),
        Err(_) => Err("did not resolve within 3 seconds"),
    }
}

/// List webhook subscriptions.
///
/// Active subscriptions, newest first, with their endpoints and event patterns. Secrets are
/// never shown again.
#[utoipa::path(
    operation_id = "listWebhooks",
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(PageQuery),
    responses(
        (status = 200, description = "One page of subscriptions (never their secrets)", body = SubscriptionList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks")]
async fn list(
    _auth: Auth<min::Admin>,
    db: web::Data<Db>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let page = query.into_inner().validate(LISTING)?;
    let (after, limit) = (page.after.clone(), i64::from(page.limit) + 1);
    let rows = db
        .run(move |conn| store::list(conn, after.as_deref(), limit).map_err(ApiError::from))
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, LISTING, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(SubscriptionList {
        data: rows.into_iter().map(SubscriptionView::from).collect(),
        next_cursor,
    }))
}

/// Subscribe to events.
///
/// Every matching event is POSTed to `url` as `{"id": "evt_…", "type", "created_at", "data"}`
/// (`data` holds ids and statuses, never personal values), signed
/// `Valise-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + raw body)>` like the
/// payment provider's webhooks. Any 2xx answer acknowledges it; anything else is retried 8
/// times over almost 12 hours (1 min, 5 min, 15 min, 30 min, 1 h, 2 h, 3 h, 4 h), then the
/// delivery is `dead`. The signing `secret` is in this response only.
///
/// The endpoint must be on the public internet: an internal IP address, `localhost`, or a
/// name that resolves to an internal address (or does not resolve) is refused. Each delivery
/// checks again when it connects, follows no redirect, and never connects to an internal
/// address: its log says `address refused`.
#[utoipa::path(
    operation_id = "createWebhook",
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    request_body = NewSubscription,
    responses(
        (status = 201, description = "The subscription, with its signing secret shown this once", body = CreatedSubscription),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid URL (not https, with credentials, or a host that is not public or does not resolve) or event pattern, or an unknown field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks")]
async fn create(
    auth: Auth<min::Admin>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    settings: web::Data<WebhookSettings>,
    body: Json<NewSubscription>,
) -> Result<HttpResponse, ApiError> {
    let rules = settings.endpoints;
    let (url, patterns) = parse_subscription(&body.into_inner(), rules)?;
    if !rules.allow_private {
        resolves_publicly(&url)
            .await
            .map_err(|m| ApiError::Validation(vec![FieldError::new("url", m)]))?;
    }
    let secret = crate::auth::token::new_secret("whsec")?;
    let created_by = auth.principal.id.clone();
    let crypto = crypto.into_inner();
    let shown = secret.clone();
    let row = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                store::create(conn, &crypto, url.as_str(), &patterns, &secret, &created_by)
                    .map_err(ApiError::from)
            })
        })
        .await?;
    Ok(
        crate::http::created(&format!("/v1/admin/webhooks/{}", row.id)).json(CreatedSubscription {
            subscription: SubscriptionView::from(row),
            secret: shown,
        }),
    )
}

/// Delete a subscription.
///
/// No further events are sent to it; deliveries still waiting are cancelled and its secret
/// is destroyed. Its delivery log stays readable.
#[utoipa::path(
    operation_id = "deleteWebhook",
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The subscription's id, `whk_…`")),
    responses(
        (status = 204, description = "Deleted (or already deleted)"),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
    )
)]
#[delete("/webhooks/{id}")]
async fn remove(
    _auth: Auth<min::Admin>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let crypto = crypto.into_inner();
    db.run(move |conn| {
        store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
        store::delete(conn, &crypto, &id)?;
        Ok::<_, ApiError>(())
    })
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A subscription's delivery log.
///
/// Newest first: each event sent (or to be sent) to this subscription, its status, tries,
/// the last HTTP status code and the times. Readable after the subscription was deleted.
#[utoipa::path(
    operation_id = "listWebhookDeliveries",
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "The subscription's id, `whk_…`"), PageQuery),
    responses(
        (status = 200, description = "One page of delivery attempts, newest first", body = DeliveryList),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/webhooks/{id}/deliveries")]
async fn deliveries(
    _auth: Auth<min::Admin>,
    db: web::Data<Db>,
    id: web::Path<String>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let page = query.into_inner().validate(DELIVERY_LISTING)?;
    let (after, limit) = (page.after.clone(), i64::from(page.limit) + 1);
    let rows = db
        .run(move |conn| {
            store::get(conn, &id)?.ok_or(ApiError::NotFound)?;
            Ok::<_, ApiError>(store::deliveries(conn, &id, after.as_deref(), limit)?)
        })
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, DELIVERY_LISTING, |r| r.id.clone());
    Ok(HttpResponse::Ok().json(DeliveryList {
        data: rows
            .into_iter()
            .map(DeliveryView::try_from)
            .collect::<Result<_, _>>()?,
        next_cursor,
    }))
}

/// Delivers an event again.
///
/// For an integrator that lost or mishandled an event: the delivery's event (same `evt_…` id,
/// type and data) is queued again as a new delivery of the log, due now, and tried on the
/// usual schedule; the old delivery keeps its history. Allowed once the old one is
/// `delivered`, `dead` or `cancelled`; a `pending` or `sending` one still goes out by itself
/// (409), and a deleted subscription has no secret left to sign with (409).
#[utoipa::path(
    operation_id = "redeliverWebhookDelivery",
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(
        ("id" = String, Path, description = "The subscription's id, `whk_…`"),
        ("delivery" = String, Path, description = "The delivery's id, `whd_…`"),
    ),
    responses(
        (status = 202, description = "Queued again: the new delivery", body = DeliveryView, example = json!({
            "id": "whd_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "event_id": "evt_0193a7c25b7e7d1a9c1e2f6c1f7e9a11",
            "event_type": "order.placed", "status": "pending", "attempts": 0, "last_status_code": null,
            "last_error": null, "created_at": "2026-11-25T12:00:00Z", "last_attempt_at": null,
            "next_attempt_at": "2026-11-25T12:00:00Z", "delivered_at": null
        })),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Admins only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such subscription, or no such delivery in its log", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "The delivery is still pending or sending, or the subscription was deleted", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/webhooks/{id}/deliveries/{delivery}/redeliver")]
async fn redeliver(
    _auth: Auth<min::Admin>,
    db: web::Data<Db>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (id, delivery) = path.into_inner();
    let found = db
        .run(move |conn| store::redeliver(conn, &id, &delivery).map_err(ApiError::from))
        .await?;
    match found {
        Redelivery::Queued(row) => Ok(HttpResponse::Accepted().json(DeliveryView::try_from(*row)?)),
        Redelivery::Unknown => Err(ApiError::NotFound),
        Redelivery::Deleted => Err(ApiError::conflict(
            "the subscription was deleted; its deliveries cannot be sent again",
        )),
        Redelivery::InFlight => Err(ApiError::conflict(
            "the delivery is still pending or being sent",
        )),
    }
}
