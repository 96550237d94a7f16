//! Consultations in the database: each use case of the room as one transaction on the
//! caller's connection, and the queries under them.
//!
//! The question and the contact email reach the database sealed with the consultation's own
//! data key. The question is opened only for support, each opening recorded in the audit
//! log; the address only for the notification gateway.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::{
    Answer, ConsultationQueue, ConsultationReceipt, ConsultationStatus, PublicConsultation,
    PublicConsultationList, Question, QueuedConsultation,
};
use crate::audit::{self, Actor, Event};
use crate::catalog::store as catalog;
use crate::crypto::{Column, Crypto, CryptoError};
use crate::db::schema::consultations;
use crate::db::{write_transaction, DbConnection};
use crate::http::error::ApiError;
use crate::http::pagination::{paginate, Page};
use crate::notifications::recipients::{Address, Lookup, Notice};

pub const TABLE: &str = "consultations";
/// A question and the contact email its answer goes to, sealed under the question's key.
pub const QUESTION: Column = Column::new(TABLE, "question_sealed");
pub const CONTACT_EMAIL: Column = Column::new(TABLE, "contact_email_sealed");
pub const OPEN: &str = ConsultationStatus::Open.as_str();
pub const ANSWERED: &str = ConsultationStatus::Answered.as_str();

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
    answered_at: Option<NaiveDateTime>,
    created_at: NaiveDateTime,
}

/// Records a question about an active product (by `prod_…` id or slug), sealed.
pub fn ask(
    conn: &mut DbConnection,
    crypto: &Crypto,
    product: &str,
    question: &Question,
) -> Result<ConsultationReceipt, ApiError> {
    write_transaction(conn, |conn| {
        let product = catalog::find(conn, product)?
            .filter(|p| p.status == catalog::ACTIVE)
            .ok_or(ApiError::NotFound)?;
        let cid = crate::ids::new_id("con");
        let key = crypto.create_data_key(conn, &cid)?;
        let question_sealed = key.seal_str(&QUESTION.at(&cid), question.text.as_str())?;
        let email_sealed = question
            .contact_email
            .as_ref()
            .map(|e| key.seal_str(&CONTACT_EMAIL.at(&cid), e.as_str()))
            .transpose()?;
        let now = crate::db::now();
        insert(
            conn,
            &cid,
            &product.id,
            &question_sealed,
            email_sealed.as_deref(),
            now,
        )?;
        Ok(ConsultationReceipt {
            id: cid,
            product_id: product.id,
            status: ConsultationStatus::Open,
            created_at: now.and_utc(),
        })
    })
}

/// One page of the answers published about a product (by `prod_…` id or slug).
pub fn published(
    conn: &mut DbConnection,
    product: &str,
    page: &Page,
) -> Result<PublicConsultationList, ApiError> {
    let product = catalog::find(conn, product)?.ok_or(ApiError::NotFound)?;
    let rows = self::page(
        conn,
        Some(&product.id),
        ANSWERED,
        true,
        page.after.as_deref(),
        i64::from(page.limit) + 1,
    )?;
    let (rows, next_cursor) = paginate(rows, page, "consultations", |r| r.id.clone());
    let data = rows.into_iter().map(Row::public).collect();
    Ok(PublicConsultationList { data, next_cursor })
}

/// One page of the support queue, questions opened for `actor`: each opening is recorded in
/// the audit log, in the same transaction.
pub fn queue(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    status: ConsultationStatus,
    page: &Page,
) -> Result<ConsultationQueue, ApiError> {
    let rows = self::page(
        conn,
        None,
        status.as_str(),
        false,
        page.after.as_deref(),
        i64::from(page.limit) + 1,
    )?;
    let (rows, next_cursor) = paginate(rows, page, "consultation-queue", |r| r.id.clone());
    let data = write_transaction(conn, |conn| {
        rows.into_iter()
            .map(|r| {
                let question = open_question(conn, crypto, actor, &r)?;
                Ok(r.queued(question))
            })
            .collect::<Result<Vec<_>, ApiError>>()
    })?;
    Ok(ConsultationQueue { data, next_cursor })
}

/// The asker's question, opened for support and the opening audited; empty once retention
/// or erasure has shredded its key.
fn open_question(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    r: &Row,
) -> Result<String, ApiError> {
    let key = match crypto.data_key(conn, &r.id) {
        Ok(key) => key,
        // Shredded by retention or erasure: the question is gone.
        Err(CryptoError::Shredded) => return Ok(String::new()),
        Err(e) => return Err(e.into()),
    };
    audit::record(
        conn,
        crypto,
        actor,
        &Event {
            action: crate::audit::Action::ConsultationRead,
            subject_id: Some(&r.id),
            fields: &["question"],
            purpose: crate::audit::Purpose::AnsweringQuestion,
        },
    )?;
    Ok(key.open_string(&QUESTION.at(&r.id), &r.question_sealed)?)
}

/// Records support's answer (replacing an earlier one) in `staff_id`'s name, and tells the
/// asker through the outbox when they left an address.
pub fn answer(
    conn: &mut DbConnection,
    id: &str,
    answer: &Answer,
    staff_id: &str,
) -> Result<ConsultationReceipt, ApiError> {
    write_transaction(conn, |conn| {
        let now = crate::db::now();
        let public_question = answer.public_question.as_ref().map(|q| q.as_str());
        if !mark_answered(
            conn,
            id,
            answer.text.as_str(),
            public_question,
            staff_id,
            now,
        )? {
            return Err(ApiError::NotFound);
        }
        let (product_id, created_at, asker) = summary(conn, id)?;
        // The asker left an address: tell them (the gateway gets the address, sealed
        // here; the outbox payload holds ids only).
        if asker {
            crate::notifications::enqueue(
                conn,
                crate::notifications::To::KindLookup,
                &crate::notifications::Kind::ConsultationAnswered,
                &serde_json::json!({"consultation_id": id, "product_id": product_id, "status": ANSWERED}),
            )?;
        }
        Ok(ConsultationReceipt {
            id: id.to_owned(),
            product_id,
            status: ConsultationStatus::Answered,
            created_at: created_at.and_utc(),
        })
    })
}

impl Row {
    /// As anyone may read it: the published question, never the asker's own.
    fn public(self) -> PublicConsultation {
        PublicConsultation {
            id: self.id,
            question: self.public_question.unwrap_or_default(),
            answer: self.answer.unwrap_or_default(),
            answered_at: self.answered_at.map(|t| t.and_utc()),
        }
    }

    /// As support sees it, with the question opened.
    fn queued(self, question: String) -> QueuedConsultation {
        QueuedConsultation {
            id: self.id,
            product_id: self.product_id,
            status: ConsultationStatus::parse(&self.status).unwrap_or(ConsultationStatus::Open),
            question,
            has_contact_email: self.contact_email_sealed.is_some(),
            answer: self.answer,
            created_at: self.created_at.and_utc(),
        }
    }
}

/// A new open consultation, its question (and contact email, if any) already sealed.
fn insert(
    conn: &mut DbConnection,
    id: &str,
    product_id: &str,
    question_sealed: &[u8],
    email_sealed: Option<&[u8]>,
    now: NaiveDateTime,
) -> QueryResult<()> {
    diesel::insert_into(consultations::table)
        .values((
            consultations::id.eq(id),
            consultations::product_id.eq(product_id),
            consultations::question_sealed.eq(question_sealed),
            consultations::contact_email_sealed.eq(email_sealed),
            consultations::status.eq(OPEN),
            consultations::created_at.eq(now),
        ))
        .execute(conn)?;
    Ok(())
}

/// Up to `limit` consultations in `status` after the id `after`, oldest first; of one
/// product, and only those with a published question, when asked.
fn page(
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

/// Records support's answer (replacing an earlier one); false when there is no such
/// consultation.
fn mark_answered(
    conn: &mut DbConnection,
    id: &str,
    answer: &str,
    public_question: Option<&str>,
    staff_id: &str,
    now: NaiveDateTime,
) -> QueryResult<bool> {
    let updated = diesel::update(consultations::table.find(id))
        .set((
            consultations::status.eq(ANSWERED),
            consultations::answer.eq(answer),
            consultations::public_question.eq(public_question),
            consultations::answered_by.eq(staff_id),
            consultations::answered_at.eq(now),
        ))
        .execute(conn)?;
    Ok(updated > 0)
}

/// The product asked about, when, and whether the asker left an address.
fn summary(conn: &mut DbConnection, id: &str) -> QueryResult<(String, NaiveDateTime, bool)> {
    let (product_id, created_at, asker): (String, NaiveDateTime, Option<Vec<u8>>) =
        consultations::table
            .find(id)
            .select((
                consultations::product_id,
                consultations::created_at,
                consultations::contact_email_sealed,
            ))
            .first(conn)?;
    Ok((product_id, created_at, asker.is_some()))
}

/// The notices of consultations and whom they reach (gathered by `workers::recipients`).
pub const RECIPIENTS: &[(crate::notifications::Kind, Lookup)] = &[(
    crate::notifications::Kind::ConsultationAnswered,
    notice_address,
)];

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
    conn: &mut DbConnection,
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
    Ok(Some(key.open_string(&CONTACT_EMAIL.at(id), &sealed)?))
}
