//! `/v1/products/{id}/consultations` (anyone asks, anyone reads published answers) and
//! `/v1/admin/consultations…` (support+: the queue, answers).

use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::{
    ConsultationAnswer, ConsultationQueue, ConsultationReceipt, ConsultationStatus,
    NewConsultation, PublicConsultation, PublicConsultationList, QueuedConsultation,
};
use super::store::{self, ANSWERED, TABLE};
use crate::audit::{self, Actor, Event};
use crate::auth::{min, Auth};
use crate::catalog::store as catalog;
use crate::crypto::{Crypto, Place};
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};

pub fn configure_public(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(ask).service(list_public);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_queue).service(answer);
}

/// Which consultations, and which page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct QueueQuery {
    /// `open` (default): questions waiting for an answer; `answered`: those answered.
    #[param(inline, example = "open")]
    pub status: Option<ConsultationStatus>,
    /// Consultations per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page (with the same `status`); omit for the first page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// Ask about a product.
///
/// Anyone may ask; the question and the optional contact email are stored encrypted. Values
/// that look like card, bank or identity-document numbers are refused.
#[utoipa::path(
    operation_id = "askProductQuestion",
    tag = "catalog",
    params(("id" = String, Path, description = "`prod_…` id or slug")),
    request_body = NewConsultation,
    responses(
        (status = 201, description = "Received", body = ConsultationReceipt),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/products/{id}/consultations")]
async fn ask(
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    id: web::Path<String>,
    body: Json<NewConsultation>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let question = body.into_inner().parse()?;
    let crypto = crypto.into_inner();
    let receipt = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let product = catalog::find(conn, &id)?
                    .filter(|p| p.status == catalog::ACTIVE)
                    .ok_or(ApiError::NotFound)?;
                let cid = crate::ids::new_id("con");
                let key = crypto.create_data_key(conn, &cid)?;
                let question_sealed = key.seal_str(
                    &Place::new(TABLE, "question_sealed", &cid),
                    question.text.as_str(),
                )?;
                let email_sealed = question
                    .contact_email
                    .as_ref()
                    .map(|e| {
                        key.seal_str(&Place::new(TABLE, "contact_email_sealed", &cid), e.as_str())
                    })
                    .transpose()?;
                let now = crate::db::now();
                store::insert(
                    conn,
                    &cid,
                    &product.id,
                    &question_sealed,
                    email_sealed.as_deref(),
                    now,
                )?;
                Ok::<_, ApiError>(ConsultationReceipt {
                    id: cid,
                    product_id: product.id,
                    status: ConsultationStatus::Open,
                    created_at: now.and_utc(),
                })
            })
        })
        .await?;
    Ok(HttpResponse::Created().json(receipt))
}

/// Answered questions about a product.
///
/// Only answers support published, with the question text they chose; no personal data.
#[utoipa::path(
    operation_id = "listProductConsultations",
    tag = "catalog",
    params(("id" = String, Path, description = "`prod_…` id or slug"), PageQuery),
    responses(
        (status = 200, description = "One page of answered questions about the product", body = PublicConsultationList),
        (status = 404, description = "No such product", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid `limit` or `cursor`", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/products/{id}/consultations")]
async fn list_public(
    db: web::Data<Db>,
    id: web::Path<String>,
    query: Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let page = query.into_inner().validate("consultations")?;
    let after = page.after.clone();
    let limit = i64::from(page.limit) + 1;
    let rows = db
        .run(move |conn| {
            let product = catalog::find(conn, &id)?.ok_or(ApiError::NotFound)?;
            Ok::<_, ApiError>(store::page(
                conn,
                Some(&product.id),
                ANSWERED,
                true,
                after.as_deref(),
                limit,
            )?)
        })
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, "consultations", |r| r.id.clone());
    let data = rows
        .into_iter()
        .map(|r| PublicConsultation {
            id: r.id,
            question: r.public_question.unwrap_or_default(),
            answer: r.answer.unwrap_or_default(),
            answered_at: r.answered_at.map(|t| t.and_utc()),
        })
        .collect();
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            crate::http::cache::PUBLIC_SHORT,
        ))
        .json(PublicConsultationList { data, next_cursor }))
}

/// The consultation queue.
///
/// Questions are decrypted for support; each one shown is recorded in the audit log. Contact
/// emails are never shown (answers reach the asker through the notification outbox).
#[utoipa::path(
    operation_id = "listConsultationQueue",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(QueueQuery),
    responses(
        (status = 200, description = "One page of questions waiting for an answer", body = ConsultationQueue),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid parameter", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/consultations")]
async fn list_queue(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    crypto: web::Data<Crypto>,
    query: Query<QueueQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = query.into_inner();
    let status = q.status.unwrap_or(ConsultationStatus::Open).as_str();
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .validate("consultation-queue")?;
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let after = page.after.clone();
    let limit = i64::from(page.limit) + 1;
    let rows = db
        .run(move |conn| {
            store::page(conn, None, status, false, after.as_deref(), limit).map_err(ApiError::from)
        })
        .await?;
    let (rows, next_cursor) = paginate(rows, &page, "consultation-queue", |r| r.id.clone());
    let data = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let question = match crypto.data_key(conn, &r.id) {
                        Ok(key) => {
                            audit::record(
                                conn,
                                &crypto,
                                &actor,
                                &Event {
                                    action: "consultation.read",
                                    subject_id: Some(&r.id),
                                    fields: &["question"],
                                    purpose: "answering a pre-sale question",
                                },
                            )?;
                            key.open_string(
                                &Place::new(TABLE, "question_sealed", &r.id),
                                &r.question_sealed,
                            )?
                        }
                        // Shredded by retention or erasure: the question is gone.
                        Err(crate::crypto::CryptoError::Shredded) => String::new(),
                        Err(e) => return Err(e.into()),
                    };
                    out.push(QueuedConsultation {
                        id: r.id,
                        product_id: r.product_id,
                        status: ConsultationStatus::parse(&r.status)
                            .unwrap_or(ConsultationStatus::Open),
                        question,
                        has_contact_email: r.contact_email_sealed.is_some(),
                        answer: r.answer,
                        created_at: r.created_at.and_utc(),
                    });
                }
                Ok::<_, ApiError>(out)
            })
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsultationQueue { data, next_cursor }))
}

/// Answer a consultation.
///
/// Marks it answered. With `public_question`, the answer is published on the product under
/// that text. Answering again replaces the answer.
#[utoipa::path(
    operation_id = "answerConsultation",
    tag = "catalog-admin",
    security(("bearer" = []), ("api_key" = [])),
    params(("id" = String, Path, description = "`con_…` id")),
    request_body = ConsultationAnswer,
    responses(
        (status = 200, description = "Answered", body = ConsultationReceipt),
        (status = 401, description = "Not authenticated", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Support and above", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "No such consultation", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid or sensitive field", body = Problem, content_type = "application/problem+json"),
    )
)]
#[post("/consultations/{id}/answer")]
async fn answer(
    auth: Auth<min::Support>,
    db: web::Data<Db>,
    id: web::Path<String>,
    body: Json<ConsultationAnswer>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let answer = body.into_inner().parse()?;
    let staff_id = auth.principal.id.clone();
    let receipt = db
        .run(move |conn| {
          crate::db::write_transaction(conn, |conn| {
            let now = crate::db::now();
            if !store::mark_answered(
                conn,
                &id,
                answer.text.as_str(),
                answer.public_question.as_ref().map(|q| q.as_str()),
                &staff_id,
                now,
            )? {
                return Err(ApiError::NotFound);
            }
            let (product_id, created_at, asker) = store::summary(conn, &id)?;
            // The asker left an address: tell them (the gateway gets the address, sealed
            // here; the outbox payload holds ids only).
            if asker {
                crate::notifications::enqueue(
                    conn,
                    None,
                    None,
                    crate::notifications::kind::CONSULTATION_ANSWERED,
                    &serde_json::json!({"consultation_id": id, "product_id": product_id, "status": ANSWERED}),
                )?;
            }
            Ok(ConsultationReceipt {
                id,
                product_id,
                status: ConsultationStatus::Answered,
                created_at: created_at.and_utc(),
            })
          })
        })
        .await?;
    Ok(HttpResponse::Ok().json(receipt))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::consultations::store::OPEN;
    use crate::http::extract::parse_query;

    #[test]
    fn the_queue_status_is_open_or_answered_and_refused_otherwise_in_the_same_words() {
        let q: QueueQuery = parse_query("status=answered").unwrap();
        assert_eq!(q.status, Some(ConsultationStatus::Answered));
        let q: QueueQuery = parse_query("").unwrap();
        assert_eq!(q.status, None);
        match parse_query::<QueueQuery>("status=closed") {
            Err(ApiError::Validation(errors)) => {
                assert_eq!(errors[0].field, "status");
                assert_eq!(errors[0].message, "must be open or answered");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(
            serde_json::to_value(ConsultationStatus::Open).unwrap(),
            serde_json::json!(OPEN)
        );
    }
}
