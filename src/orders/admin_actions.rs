//! `/v1/admin/orders/{number}/fulfillment` and `/cancel` (staff): the transitions staff make
//! that need no more than the order, so that every action a staff view advertises has a
//! route. Shipping and delivery, which record more, stay in `admin.rs`.

use actix_web::{post, web, HttpResponse};
use serde::Deserialize;
use utoipa::ToSchema;

use super::access::ORDER_NUMBER;
use super::admin::{by_number, staff_view, StaffOrderView};
use super::lifecycle::{self, Change};
use super::model::{Action, Actor, CancelReason, ChangedBy};
use super::store;
use crate::audit::Actor as AuditActor;
use crate::auth::{min, Auth, Principal};
use crate::crypto::Crypto;
use crate::db::{write_transaction, Db};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::Json;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(start_fulfillment).service(cancel);
}

/// Why staff cancel an order.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"reason": "customer_request"}))]
pub struct StaffCancellation {
    /// Shown in the order's history to staff and to the order's owner; never sent to
    /// integrators or in notifications.
    pub reason: CancelReason,
}

/// Applies `action` to order `number` as `principal` and answers the staff view of it.
async fn act(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    principal: Principal,
    number: String,
    action: Action,
    reason: Option<CancelReason>,
) -> Result<StaffOrderView, ApiError> {
    // Built here, on the request's task, like every staff route's (no personal data is read:
    // the view is masked, so nothing is audited).
    let actor = AuditActor::from_principal(&principal, None);
    let crypto = crypto.into_inner();
    db.run(move |conn| {
        write_transaction(conn, |conn| {
            let order = by_number(conn, &number)?;
            lifecycle::apply(
                conn,
                &Change {
                    order: &order,
                    action,
                    actor: Actor::staff(principal.role),
                    changed_by: ChangedBy::Staff,
                    actor_id: Some(&principal.id),
                    reason: reason.map(CancelReason::as_str),
                },
            )?;
            let order = store::get(conn, &order.id)?.ok_or(ApiError::NotFound)?;
            staff_view(conn, &crypto, &principal, &actor, &order, false)
        })
    })
    .await
}

/// Start fulfilling an order.
///
/// Moves a `paid` order to `fulfilling`: it is being picked and packed. Its owner is not
/// notified (an internal step); it can still be cancelled until it ships.
#[utoipa::path(
    operation_id = "startFulfillment",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")),
    responses(
        (status = 200, description = "Being fulfilled", body = StaffOrderView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Fulfilment and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: not paid (unpaid, already in fulfilment, shipped, or final)", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/fulfillment")]
pub async fn start_fulfillment(
    auth: Auth<min::Fulfillment>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = act(
        db,
        crypto,
        auth.principal,
        number.into_inner(),
        Action::StartFulfillment,
        None,
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Cancel an order on the customer's behalf.
///
/// Possible until it ships, exactly as the customer's own cancellation: its stock is released
/// at once and a captured payment is refunded in full through the provider. The reason shows
/// in the order's history, to staff and to the customer.
#[utoipa::path(
    operation_id = "cancelOrderAsStaff",
    tag = "orders-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("number" = String, Path, description = ORDER_NUMBER, pattern = "^LG-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$")),
    request_body = StaffCancellation,
    responses(
        (status = 200, description = "Cancelled", body = StaffOrderView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such order", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invalid-transition`: already shipped, or otherwise final", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Missing or invalid `reason`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/orders/{number}/cancel")]
pub async fn cancel(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    number: web::Path<String>,
    body: Json<StaffCancellation>,
) -> Result<HttpResponse, ApiError> {
    let reason = body.into_inner().reason;
    let view = act(
        db,
        crypto,
        auth.principal,
        number.into_inner(),
        Action::Cancel,
        Some(reason),
    )
    .await?;
    Ok(HttpResponse::Ok().json(view))
}
