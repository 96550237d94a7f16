//! `/v1/products/{id}/consultations` (anyone asks, anyone reads published answers) and
//! `/v1/admin/consultations…` (support+: the queue, answers).

use crate::http::limits::{Policy, Quota, Rule};
use actix_web::http::Method;
use actix_web::{get, post, web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::model::{
    ConsultationAnswer, ConsultationQueue, ConsultationReceipt, ConsultationStatus,
    NewConsultation, PublicConsultationList,
};
use super::store;
use crate::audit::Actor;
use crate::auth::{min, Auth};
use crate::crypto::Crypto;
use crate::db::Db;
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::PageQuery;

/// A question that staff read and answer.
pub const QUESTION: Policy = Policy {
    name: "question",
    client: Some(Quota::per_hour(10)),
    global: Quota::per_minute(120),
};

/// The anonymous writes of this file and their limits (enforced and documented by `http::limits`).
pub const LIMITS: &[Rule] = &[(Method::POST, "/v1/products/{id}/consultations", &QUESTION)];

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
    let question = body.into_inner().parse()?;
    let (id, crypto) = (id.into_inner(), crypto.into_inner());
    let receipt = db
        .run(move |conn| store::ask(conn, &crypto, &id, &question))
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
    let page = query.into_inner().validate("consultations")?;
    let id = id.into_inner();
    let list = db
        .run(move |conn| store::published(conn, &id, &page))
        .await?;
    Ok(HttpResponse::Ok()
        .insert_header((
            actix_web::http::header::CACHE_CONTROL,
            crate::http::cache::PUBLIC_SHORT,
        ))
        .json(list))
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
    let status = q.status.unwrap_or(ConsultationStatus::Open);
    let page = PageQuery {
        limit: q.limit,
        cursor: q.cursor,
    }
    .validate("consultation-queue")?;
    let actor = Actor::from_principal(&auth.principal, None);
    let crypto = crypto.into_inner();
    let queue = db
        .run(move |conn| store::queue(conn, &crypto, &actor, status, &page))
        .await?;
    Ok(HttpResponse::Ok().json(queue))
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
    let answer = body.into_inner().parse()?;
    let (id, staff_id) = (id.into_inner(), auth.principal.id.clone());
    let receipt = db
        .run(move |conn| store::answer(conn, &id, &answer, &staff_id))
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
