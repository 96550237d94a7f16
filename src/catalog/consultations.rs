//! Pre-sale consultations: a shopper asks about a product; support answers.
//!
//! The question text and the optional contact email are personal data: sealed with the
//! consultation's own data key (so retention or erasure can shred one consultation), never
//! shown publicly. What is public is the answer, under a question text support chose to
//! publish.

use actix_web::{get, post, web, HttpResponse};
use chrono::{DateTime, Utc};
use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::model;
use super::store as catalog;
use crate::accounts::model::Email;
use crate::audit::{self, Actor, Event};
use crate::auth::{min, Auth};
use crate::crypto::{Crypto, Place};
use crate::db::schema::consultations;
use crate::db::{Db, DbConnection};
use crate::http::error::{ApiError, Problem};
use crate::http::extract::{Json, Query};
use crate::http::pagination::{paginate, PageQuery};
use crate::notifications::recipients::{Address, Notice};
use crate::privacy::refuse_sensitive;

const TABLE: &str = "consultations";
const OPEN: &str = ConsultationStatus::Open.as_str();
const ANSWERED: &str = ConsultationStatus::Answered.as_str();

/// Where a consultation stands: `open` until support answers, then `answered`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ConsultationStatus {
    /// Waiting for an answer.
    Open,
    /// Answered by support (answering again replaces the answer).
    Answered,
}

impl ConsultationStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Open => "open",
            Self::Answered => "answered",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "open" => Some(Self::Open),
            "answered" => Some(Self::Answered),
            _ => None,
        }
    }
}

/// `?status=` of the queue: refused with the same message whatever else is sent.
impl<'de> Deserialize<'de> for ConsultationStatus {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Self::parse(&raw).ok_or_else(|| serde::de::Error::custom("must be open or answered"))
    }
}

pub fn configure_public(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(ask).service(list_public);
}

pub fn configure_admin(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(list_queue).service(answer);
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultations)]
struct Row {
    id: String,
    product_id: String,
    question_sealed: Vec<u8>,
    contact_email_sealed: Option<Vec<u8>>,
    status: String,
    answer: Option<String>,
    public_question: Option<String>,
    answered_at: Option<chrono::NaiveDateTime>,
    created_at: chrono::NaiveDateTime,
}

/// A shopper's question about a product.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"question": "Does the 55 cm case fit a 15-inch laptop?", "contact_email": "ada@example.com"}))]
pub struct NewConsultation {
    /// The question, 1–2,000 characters (surrounding spaces are trimmed; line breaks
    /// allowed, no other control characters). Never published as written; card, bank or
    /// identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub question: String,
    /// Optional: where to send the answer. Kept encrypted, deleted with the consultation.
    #[schema(format = "email", example = "ada@example.com")]
    pub contact_email: Option<String>,
}

/// A consultation as received or answered.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "status": "open", "created_at": "2026-03-12T10:04:51Z"
}))]
pub struct ConsultationReceipt {
    /// The consultation's `con_…` id.
    #[schema(example = "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12")]
    pub id: String,
    /// The `prod_…` id of the product asked about.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub product_id: String,
    /// `open` until support answers, then `answered`.
    pub status: ConsultationStatus,
    /// When the question was asked (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// A published question and its answer.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "question": "Does it fit a 15-inch laptop?",
    "answer": "Yes: the laptop sleeve takes up to 15.6 inches.", "answered_at": "2026-03-12T14:30:00Z"
}))]
pub struct PublicConsultation {
    /// The consultation's `con_…` id.
    #[schema(example = "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12")]
    pub id: String,
    /// The question as support chose to publish it (not the asker's own words).
    pub question: String,
    /// Support's answer.
    pub answer: String,
    /// When it was last answered (RFC 3339, UTC).
    pub answered_at: Option<DateTime<Utc>>,
}

/// One page of published questions and answers, oldest question first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{"id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "question": "Does it fit a 15-inch laptop?",
        "answer": "Yes: the laptop sleeve takes up to 15.6 inches.", "answered_at": "2026-03-12T14:30:00Z"}],
    "next_cursor": null
}))]
pub struct PublicConsultationList {
    /// The consultations of this page (at most `limit`).
    #[schema(max_items = 100)]
    pub data: Vec<PublicConsultation>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// A consultation as support sees it (audited).
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuedConsultation {
    /// The consultation's `con_…` id.
    #[schema(example = "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12")]
    pub id: String,
    /// The `prod_…` id of the product asked about.
    #[schema(example = "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10")]
    pub product_id: String,
    /// `open` or `answered`.
    pub status: ConsultationStatus,
    /// The asker's question, decrypted; empty once retention or erasure has destroyed it.
    pub question: String,
    /// Whether the asker left an email for the answer (the address itself is not shown).
    pub has_contact_email: bool,
    /// The answer given; `null` while open.
    pub answer: Option<String>,
    /// When the question was asked (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
}

/// One page of the consultation queue, oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{"id": "con_0193a7c25b7e7d1a9c1e2f6c1f7e9a12", "product_id": "prod_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
        "status": "open", "question": "Does the 55 cm case fit a 15-inch laptop?", "has_contact_email": true,
        "answer": null, "created_at": "2026-03-12T10:04:51Z"}],
    "next_cursor": null
}))]
pub struct ConsultationQueue {
    /// The consultations of this page (at most `limit`).
    #[schema(max_items = 100)]
    pub data: Vec<QueuedConsultation>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Support's answer to a consultation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"answer": "Yes: the laptop sleeve takes up to 15.6 inches.", "public_question": "Does it fit a 15-inch laptop?"}))]
pub struct ConsultationAnswer {
    /// The answer, 1–4,000 characters (trimmed; line breaks allowed, no other control
    /// characters). Card, bank or identity-document numbers are refused.
    #[schema(
        min_length = 1,
        max_length = 4000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub answer: String,
    /// The question as it may be shown publicly with the answer, 1–2,000 characters (trimmed;
    /// line breaks allowed, no other control characters); omit (or `null`) to keep it
    /// private.
    #[schema(
        min_length = 1,
        max_length = 2000,
        pattern = r"^[\s\u0085]*[^\u0000-\u0009\u000b-\u001f\u007f-\u009f]*[\s\u0085]*$"
    )]
    pub public_question: Option<String>,
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
    let body = body.into_inner();
    let question = model::text("question", &body.question, 2000)?;
    refuse_sensitive("question", &question)?;
    let email = body
        .contact_email
        .as_deref()
        .map(|e| Email::parse("contact_email", e))
        .transpose()?;
    let crypto = crypto.into_inner();
    let receipt = db
        .run(move |conn| {
            crate::db::write_transaction(conn, |conn| {
                let product = catalog::find(conn, &id)?
                    .filter(|p| p.status == catalog::ACTIVE)
                    .ok_or(ApiError::NotFound)?;
                let cid = crate::ids::new_id("con");
                let key = crypto.create_data_key(conn, &cid)?;
                let question_sealed =
                    key.seal_str(&Place::new(TABLE, "question_sealed", &cid), &question)?;
                let email_sealed = email
                    .as_ref()
                    .map(|e| {
                        key.seal_str(&Place::new(TABLE, "contact_email_sealed", &cid), e.as_str())
                    })
                    .transpose()?;
                let now = crate::db::now();
                diesel::insert_into(consultations::table)
                    .values((
                        consultations::id.eq(&cid),
                        consultations::product_id.eq(&product.id),
                        consultations::question_sealed.eq(&question_sealed),
                        consultations::contact_email_sealed.eq(&email_sealed),
                        consultations::status.eq(OPEN),
                        consultations::created_at.eq(now),
                    ))
                    .execute(conn)?;
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

fn load_page(
    conn: &mut DbConnection,
    product_id: Option<&str>,
    status: &str,
    published_only: bool,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<Row>> {
    let mut query = consultations::table
        .filter(consultations::status.eq(status.to_owned()))
        .order(consultations::id.asc())
        .limit(limit)
        .select(Row::as_select())
        .into_boxed();
    if let Some(p) = product_id {
        query = query.filter(consultations::product_id.eq(p.to_owned()));
    }
    if published_only {
        query = query.filter(consultations::public_question.is_not_null());
    }
    if let Some(a) = after {
        query = query.filter(consultations::id.gt(a.to_owned()));
    }
    query.load(conn)
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
            Ok::<_, ApiError>(load_page(
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
            load_page(conn, None, status, false, after.as_deref(), limit).map_err(ApiError::from)
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
                                    action: crate::audit::Action::ConsultationRead,
                                    subject_id: Some(&r.id),
                                    fields: &["question"],
                                    purpose: crate::audit::Purpose::AnsweringQuestion,
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
    let body = body.into_inner();
    let text = model::text("answer", &body.answer, 4000)?;
    refuse_sensitive("answer", &text)?;
    let public_question = body
        .public_question
        .as_deref()
        .map(|q| {
            let q = model::text("public_question", q, 2000)?;
            refuse_sensitive("public_question", &q)?;
            Ok::<_, ApiError>(q)
        })
        .transpose()?;
    let staff_id = auth.principal.id.clone();
    let receipt = db
        .run(move |conn| {
          crate::db::write_transaction(conn, |conn| {
            let now = crate::db::now();
            let updated = diesel::update(consultations::table.find(&id))
                .set((
                    consultations::status.eq(ANSWERED),
                    consultations::answer.eq(&text),
                    consultations::public_question.eq(&public_question),
                    consultations::answered_by.eq(&staff_id),
                    consultations::answered_at.eq(now),
                ))
                .execute(conn)?;
            if updated == 0 {
                return Err(ApiError::NotFound);
            }
            let (product_id, created_at, asker): (String, chrono::NaiveDateTime, Option<Vec<u8>>) =
                consultations::table
                    .find(&id)
                    .select((
                        consultations::product_id,
                        consultations::created_at,
                        consultations::contact_email_sealed,
                    ))
                    .first(conn)?;
            // The asker left an address: tell them (the gateway gets the address, sealed
            // here; the outbox payload holds ids only).
            if asker.is_some() {
                crate::notifications::enqueue(
                    conn,
                    None,
                    None,
                    &crate::notifications::Kind::ConsultationAnswered,
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

/// The address of a `consultation.answered` notice (its payload names the consultation).
pub fn notice_address(
    conn: &mut DbConnection,
    crypto: &Crypto,
    notice: &Notice<'_>,
) -> Result<Option<Address>, ApiError> {
    let id = notice.payload["consultation_id"]
        .as_str()
        .unwrap_or_default();
    Ok(contact_email(conn, crypto, id)?.map(Address::to))
}

/// The asker's contact email, opened for the notification gateway; `None` when none was
/// given or its key has been shredded.
pub fn contact_email(
    conn: &mut crate::db::DbConnection,
    crypto: &Crypto,
    id: &str,
) -> Result<Option<String>, ApiError> {
    let sealed: Option<Option<Vec<u8>>> = consultations::table
        .find(id)
        .select(consultations::contact_email_sealed)
        .first(conn)
        .optional()?;
    let Some(Some(sealed)) = sealed else {
        return Ok(None);
    };
    let key = match crypto.data_key(conn, id) {
        Ok(k) => k,
        Err(crate::crypto::CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(key.open_string(
        &Place::new(TABLE, "contact_email_sealed", id),
        &sealed,
    )?))
}

#[cfg(test)]
mod tests {
    use super::*;
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
