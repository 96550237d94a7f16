//! The privacy officer's side of a guest's rectification:
//! `GET /v1/admin/privacy/requests/{id}/corrections` (an audited read of what the guest asked
//! to correct) and `POST …/{id}/apply` (the corrections re-sealed on every order placed with
//! the guest's e-mail, the request completed and the guest told — in one transaction).

use actix_web::{get, post, web, HttpResponse};
use serde::Serialize;
use utoipa::ToSchema;

use super::corrections::{self, Corrections, Field};
use super::model::{self, Kind, Status};
use super::store::{self, RequestRow};
use super::RequestView;
use crate::audit::{self, Action, Actor, Event, Purpose};
use crate::auth::{min, Auth};
use crate::crypto::{index_kind, Crypto, CryptoError};
use crate::db::schema::orders;
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::orders::model::Address;
use crate::orders::view::{CONTACT_EMAIL, SHIPPING_ADDRESS};
use diesel::prelude::*;

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(read_corrections).service(apply);
}

/// What a guest asked to correct, opened for the privacy officer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RectificationCorrections)]
#[schema(example = json!({
    "request_id": "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a52",
    "contact_email": "ada.king@example.com",
    "shipping_address": {
        "name": "Ada King", "line1": "Kortrijksesteenweg 214", "line2": "bus 3",
        "city": "Gent", "postal_code": "9000", "region": null, "country": "BE"
    }
}))]
pub struct CorrectionsView {
    /// The request, `dsr_…`.
    pub request_id: String,
    /// The correct contact e-mail; `null` when it is not to be corrected.
    pub contact_email: Option<String>,
    /// The correct shipping address; `null` when it is not to be corrected.
    pub shipping_address: Option<Address>,
}

/// A rectification carried out.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = RectificationApplied)]
#[schema(example = json!({
    "request": {
        "id": "dsr_0193a7c25b7e7d1a9c1e2f6c1f7e9a52",
        "kind": "rectification",
        "status": "completed",
        "received_at": "2026-11-25T15:00:00Z",
        "due_at": "2026-12-25T15:00:00Z",
        "overdue": false,
        "extension_months": 0,
        "extension_reason": null,
        "denial_reason": null,
        "completed_at": "2026-11-27T09:12:00Z",
        "kept_by_law": []
    },
    "fields": ["contact_email", "shipping_address"],
    "orders_corrected": 2
}))]
pub struct Applied {
    /// The request, now `completed`.
    pub request: RequestView,
    /// What was corrected (never the values).
    pub fields: Vec<Field>,
    /// How many of the guest's orders were corrected (erased orders are not).
    pub orders_corrected: usize,
}

/// The request `id` if it is a guest's verified rectification still waiting, with its
/// corrections opened.
fn open_rectification(
    conn: &mut DbConnection,
    crypto: &Crypto,
    id: &str,
) -> Result<(RequestRow, Corrections), ApiError> {
    let row = store::get(conn, id)?.ok_or(ApiError::NotFound)?;
    let stored = match (row.kind(), corrections::load(conn, crypto, id)?) {
        (Kind::Rectification, Some(stored)) => stored,
        _ => {
            return Err(ApiError::InvalidTransition(
                "Only a guest's rectification carries corrections.".into(),
            ))
        }
    };
    if row.status() == Status::PendingVerification {
        return Err(ApiError::InvalidTransition(
            "The guest has not verified this request yet; its corrections stay closed.".into(),
        ));
    }
    model::require_open(row.status())?;
    let values = stored.values.ok_or_else(|| {
        ApiError::InvalidTransition("The corrections were erased with the guest's data.".into())
    })?;
    Ok((row, values))
}

fn names(fields: &[Field]) -> Vec<&'static str> {
    fields.iter().map(|f| f.as_str()).collect()
}

/// Read a guest's corrections.
///
/// What a verified guest rectification asks to correct, in the clear, for the privacy
/// officer to check before applying it. Recorded in the audit log (the fields, never the
/// values; purpose: answering a data-subject request). Closed (409) before the guest has
/// verified the request and after it is answered: applied values live in the orders and
/// the request's copy is destroyed.
#[utoipa::path(
    operation_id = "getPrivacyRequestCorrections",
    tag = "privacy-admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id, `dsr_…`")),
    responses(
        (status = 200, description = "The corrections asked for", body = CorrectionsView),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officer only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not a guest's rectification, not verified yet, already answered, or erased", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/privacy/requests/{id}/corrections")]
async fn read_corrections(
    auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let id = id.into_inner();
    let view = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let (row, values) = open_rectification(conn, &crypto, &id)?;
                audit::record(
                    conn,
                    &crypto,
                    &actor,
                    &Event {
                        action: Action::DsrCorrectionsRead,
                        subject_id: Some(&row.id),
                        fields: &names(&values.fields()),
                        purpose: Purpose::AnsweringRequest,
                    },
                )?;
                Ok::<_, ApiError>(CorrectionsView {
                    request_id: row.id,
                    contact_email: values.contact_email.map(|e| e.as_str().to_owned()),
                    shipping_address: values.shipping_address,
                })
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(view))
}

/// Re-seals the corrected fields on one order; false when the order is erased.
fn correct_order(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order_id: &str,
    values: &Corrections,
) -> Result<bool, ApiError> {
    let key = match crypto.data_key(conn, order_id) {
        Ok(key) => key,
        Err(CryptoError::Shredded) => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    if let Some(email) = &values.contact_email {
        let sealed = key.seal_str(&CONTACT_EMAIL.at(order_id), email.as_str())?;
        diesel::update(orders::table.find(order_id))
            .set((
                orders::contact_email_sealed.eq(Some(sealed)),
                orders::contact_email_bidx.eq(Some(
                    crypto.blind_index(index_kind::ORDER_EMAIL, email.as_str()),
                )),
            ))
            .execute(conn)?;
    }
    if let Some(address) = &values.shipping_address {
        let bytes = serde_json::to_vec(address).map_err(|e| ApiError::Internal(e.into()))?;
        let sealed = key.seal(&SHIPPING_ADDRESS.at(order_id), &bytes)?;
        diesel::update(orders::table.find(order_id))
            .set(orders::shipping_address_sealed.eq(Some(sealed)))
            .execute(conn)?;
    }
    diesel::update(orders::table.find(order_id))
        .set((
            orders::version.eq(orders::version + 1),
            orders::updated_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(true)
}

fn carry_out(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    id: &str,
) -> Result<Applied, ApiError> {
    crate::db::write_transaction(conn, |conn| {
        let (row, values) = open_rectification(conn, crypto, id)?;
        let fields = values.fields();
        let field_names = names(&fields);
        let bidx = row.email_bidx.clone().unwrap_or_default();
        let mut corrected = Vec::new();
        for order in super::guest::guest_orders(conn, &bidx)? {
            let order_id = order.id.to_string();
            if correct_order(conn, crypto, &order_id, &values)? {
                audit::record(
                    conn,
                    crypto,
                    actor,
                    &Event {
                        action: Action::DsrApply,
                        subject_id: Some(&order_id),
                        fields: &field_names,
                        purpose: Purpose::AnsweringRequest,
                    },
                )?;
                corrected.push(order);
            }
        }
        // The values now live in the orders: the request's copy goes.
        corrections::mark_applied(conn, &row.id)?;
        corrections::shred(conn, crypto, &row.id)?;
        if !store::transition(conn, &row.id, Status::Pending, Status::Completed)? {
            return Err(ApiError::InvalidTransition(
                "The request changed meanwhile; read it again.".into(),
            ));
        }
        audit::record(
            conn,
            crypto,
            actor,
            &Event {
                action: Action::DsrApply,
                subject_id: Some(&row.id),
                fields: &field_names,
                purpose: Purpose::AnsweringRequest,
            },
        )?;
        let row = store::get(conn, &row.id)?.ok_or(ApiError::NotFound)?;
        // One notice, at the guest's (new) contact address through their order.
        if let Some(order) = corrected.first() {
            crate::notifications::enqueue(
                conn,
                crate::notifications::To::Order {
                    order_id: &order.id,
                    user_id: None,
                },
                &crate::notifications::Kind::DsrUpdated,
                &serde_json::json!({
                    "request_id": row.id,
                    "kind": row.kind,
                    "status": row.status,
                    "due_at": row.due_at.and_utc(),
                }),
            )?;
        }
        Ok(Applied {
            request: RequestView::from(&row),
            fields,
            orders_corrected: corrected.len(),
        })
    })
}

/// Apply a guest's corrections.
///
/// Re-seals the corrected fields on every order placed with the guest's e-mail (its lookup
/// follows a new e-mail), records the act in the audit log per order (the fields, never the
/// values), destroys the request's copy of the values, completes the request and tells the
/// guest at their (new) contact address (`dsr.updated`) — all or nothing. Orders already
/// erased are left alone; invoices keep the buyer as invoiced (a credit note corrects them).
#[utoipa::path(
    operation_id = "correctGuestOrders",
    tag = "privacy-admin",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "The request's id, `dsr_…`")),
    responses(
        (status = 200, description = "Applied; the request is completed", body = Applied),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Privacy officer only", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such request", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Already applied or answered, not verified yet, not a guest's rectification, or erased", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/privacy/requests/{id}/apply")]
async fn apply(
    auth: Auth<min::PrivacyOfficer>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let id = id.into_inner();
    let applied = db
        .run(move |conn| carry_out(conn, &crypto, &actor, &id))
        .await?;
    Ok(HttpResponse::Ok().json(applied))
}
