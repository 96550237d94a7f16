//! Consultation queries. The question and the contact email reach the database sealed with
//! the consultation's own data key; only the asker's address is opened here, for the
//! notification gateway.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::model::ConsultationStatus;
use crate::crypto::{Crypto, Place};
use crate::db::schema::consultations;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::notifications::recipients::{Address, Notice};

pub const TABLE: &str = "consultations";
pub const OPEN: &str = ConsultationStatus::Open.as_str();
pub const ANSWERED: &str = ConsultationStatus::Answered.as_str();

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = consultations)]
pub struct Row {
    pub id: String,
    pub product_id: String,
    pub question_sealed: Vec<u8>,
    pub contact_email_sealed: Option<Vec<u8>>,
    pub status: String,
    pub answer: Option<String>,
    pub public_question: Option<String>,
    pub answered_at: Option<NaiveDateTime>,
    pub created_at: NaiveDateTime,
}

/// A new open consultation, its question (and contact email, if any) already sealed.
pub fn insert(
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
pub fn page(
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
pub fn mark_answered(
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
pub fn summary(conn: &mut DbConnection, id: &str) -> QueryResult<(String, NaiveDateTime, bool)> {
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
    Ok(Some(key.open_string(
        &Place::new(TABLE, "contact_email_sealed", id),
        &sealed,
    )?))
}
