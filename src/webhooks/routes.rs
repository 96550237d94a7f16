//! `/v1/admin/webhooks` [admin]: integrators' event subscriptions and their delivery log.

use std::time::Duration;

use actix_web::{delete, get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::{parse_endpoint, EndpointRules, EventPattern, MAX_PATTERNS};
use super::store::{self, DeliveryRow, SubscriptionRow};
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
        .service(deliveries);
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"url": "https://erp.example/valise-events", "events": ["order.*", "payment.refunded"]}))]
pub struct NewSubscription {
    /// Where events are POSTed: `https://`, no credentials in the address, on a public host.
    /// An IP address must be public (not loopback, private, link-local, unique-local,
    /// carrier-grade NAT, multicast or reserved), `localhost` is refused, and a host name
    /// must resolve within 3 s to public addresses only (a name that does not resolve is
    /// refused too).
    pub url: String,
    /// `order.*`, `payment.*`, `policy.published`, `dsr.*`, or exact event names
    /// (`order.placed`); 1–32 patterns.
    pub events: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionView {
    /// `whk_…`
    pub id: String,
    pub url: String,
    pub events: Vec<EventPattern>,
    /// The admin who created it.
    pub created_by: String,
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
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    /// Verify each delivery's `Valise-Signature: t=<unix>,v1=<hex>` as
    /// `HMAC-SHA256(secret, t + "." + raw body)`, with the secret's UTF-8 bytes as the key.
    /// It cannot be shown again.
    pub secret: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionList {
    pub data: Vec<SubscriptionView>,
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
    pub event_type: String,
    /// `pending`, `sending`, `delivered`, `dead` (all tries failed) or `cancelled`
    /// (subscription deleted first).
    pub status: String,
    pub attempts: i32,
    /// HTTP status of the last try; absent when it got no response (timeout, refused).
    pub last_status_code: Option<i32>,
    /// `HTTP <code>`, `timeout`, `connection failed`, `address refused` (the host is, or
    /// now resolves to, a non-public address: nothing was sent), …
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    /// Pending: when it is tried next.
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub delivered_at: Option<DateTime<Utc>>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(r: DeliveryRow) -> Self {
        let pending = r.status == crate::delivery::status::PENDING;
        Self {
            next_attempt_at: pending.then(|| r.next_attempt_at.and_utc()),
            id: r.id,
            event_id: r.event_id,
            event_type: r.event_type,
            status: r.status,
            attempts: r.attempts,
            last_status_code: r.last_status_code,
            last_error: r.last_error,
            created_at: r.created_at.and_utc(),
            last_attempt_at: r.last_attempt_at.map(|t| t.and_utc()),
            delivered_at: r.delivered_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryList {
    pub data: Vec<DeliveryView>,
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
    Ok(HttpResponse::Created().json(CreatedSubscription {
        subscription: SubscriptionView::from(row),
        secret: shown,
    }))
}

/// Delete a subscription.
///
/// No further events are sent to it; deliveries still waiting are cancelled and its secret
/// is destroyed. Its delivery log stays readable.
#[utoipa::path(
    operation_id = "deleteWebhook",
    tag = "webhooks",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`whk_…` id")),
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
    params(("id" = String, Path, description = "`whk_…` id"), PageQuery),
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
        data: rows.into_iter().map(DeliveryView::from).collect(),
        next_cursor,
    }))
}
