//! After-sales cases and answers in the database, and opening their sealed text.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use super::{AnswerView, CaseDetail, CaseKind, CaseStatus, CaseView, Outcome, ANSWER, REASON};
use crate::crypto::{Crypto, CryptoError, DataKey};
use crate::db::schema::{after_sales_answers, after_sales_cases, order_items, products};
use crate::db::DbConnection;
use crate::http::error::ApiError;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = after_sales_cases)]
pub struct CaseRow {
    pub id: String,
    pub order_id: String,
    pub kind: String,
    pub reason_sealed: Vec<u8>,
    pub status: String,
    pub outcome: Option<String>,
    pub refund_id: Option<String>,
    pub created_at: NaiveDateTime,
    pub resolved_at: Option<NaiveDateTime>,
}

impl CaseRow {
    pub fn kind(&self) -> CaseKind {
        CaseKind::parse(&self.kind).unwrap_or(CaseKind::Return)
    }

    pub fn status(&self) -> CaseStatus {
        CaseStatus::parse(&self.status).unwrap_or(CaseStatus::Open)
    }

    pub fn view(&self) -> CaseView {
        CaseView {
            id: self.id.clone(),
            order_id: self.order_id.clone(),
            kind: self.kind(),
            status: self.status(),
            outcome: self.outcome.as_deref().and_then(Outcome::parse),
            refund_id: self.refund_id.clone(),
            created_at: self.created_at.and_utc(),
            resolved_at: self.resolved_at.map(|t| t.and_utc()),
        }
    }
}

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = after_sales_answers)]
pub struct AnswerRow {
    pub id: String,
    pub case_id: String,
    pub body_sealed: Vec<u8>,
    pub created_at: NaiveDateTime,
}

pub fn get(conn: &mut DbConnection, id: &str) -> QueryResult<Option<CaseRow>> {
    after_sales_cases::table
        .find(id)
        .select(CaseRow::as_select())
        .first(conn)
        .optional()
}

/// The cases of an order, oldest first.
pub fn of_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<CaseRow>> {
    after_sales_cases::table
        .filter(after_sales_cases::order_id.eq(order_id))
        .order(after_sales_cases::id.asc())
        .select(CaseRow::as_select())
        .load(conn)
}

/// Up to `limit` cases in `status` (and of `kind`, when given) after the id `after`, oldest
/// first (ids are time-ordered).
pub fn page(
    conn: &mut DbConnection,
    status: CaseStatus,
    kind: Option<CaseKind>,
    after: Option<&str>,
    limit: i64,
) -> QueryResult<Vec<CaseRow>> {
    let mut query = after_sales_cases::table
        .filter(after_sales_cases::status.eq(status.as_str()))
        .order(after_sales_cases::id.asc())
        .limit(limit)
        .select(CaseRow::as_select())
        .into_boxed();
    if let Some(kind) = kind {
        query = query.filter(after_sales_cases::kind.eq(kind.as_str()));
    }
    if let Some(a) = after {
        query = query.filter(after_sales_cases::id.gt(a.to_owned()));
    }
    query.load(conn)
}

pub fn insert_case(
    conn: &mut DbConnection,
    id: &str,
    order_id: &str,
    kind: CaseKind,
    reason_sealed: &[u8],
) -> QueryResult<()> {
    diesel::insert_into(after_sales_cases::table)
        .values((
            after_sales_cases::id.eq(id),
            after_sales_cases::order_id.eq(order_id),
            after_sales_cases::kind.eq(kind.as_str()),
            after_sales_cases::reason_sealed.eq(reason_sealed),
            after_sales_cases::status.eq(CaseStatus::Open.as_str()),
            after_sales_cases::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(())
}

/// Moves an open case to `resolved` with its outcome; false when it was not open (a
/// concurrent or repeated resolution), which is what makes a resolution happen once.
pub fn resolve(conn: &mut DbConnection, id: &str, outcome: Outcome) -> QueryResult<bool> {
    let n = diesel::update(
        after_sales_cases::table
            .filter(after_sales_cases::id.eq(id))
            .filter(after_sales_cases::status.eq(CaseStatus::Open.as_str())),
    )
    .set((
        after_sales_cases::status.eq(CaseStatus::Resolved.as_str()),
        after_sales_cases::outcome.eq(outcome.as_str()),
        after_sales_cases::resolved_at.eq(Some(crate::db::now())),
    ))
    .execute(conn)?;
    Ok(n == 1)
}

pub fn set_refund(conn: &mut DbConnection, id: &str, refund_id: &str) -> QueryResult<()> {
    diesel::update(after_sales_cases::table.find(id))
        .set(after_sales_cases::refund_id.eq(refund_id))
        .execute(conn)?;
    Ok(())
}

/// Records an answer, its text sealed already; its id.
pub fn insert_answer(
    conn: &mut DbConnection,
    case: &CaseRow,
    key: &DataKey,
    text: &str,
    author_id: &str,
) -> Result<String, ApiError> {
    let id = crate::ids::new_id("asa");
    let sealed = key.seal_str(&ANSWER.at(&id), text)?;
    diesel::insert_into(after_sales_answers::table)
        .values((
            after_sales_answers::id.eq(&id),
            after_sales_answers::case_id.eq(&case.id),
            after_sales_answers::order_id.eq(&case.order_id),
            after_sales_answers::body_sealed.eq(&sealed),
            after_sales_answers::author_id.eq(author_id),
            after_sales_answers::created_at.eq(crate::db::now()),
        ))
        .execute(conn)?;
    Ok(id)
}

/// The longest `warranty_years` among the products of an order's lines (0 without any).
pub fn longest_warranty_years(conn: &mut DbConnection, order_id: &str) -> QueryResult<i32> {
    let years: Option<i32> = order_items::table
        .inner_join(products::table.on(products::id.eq(order_items::product_id)))
        .filter(order_items::order_id.eq(order_id))
        .select(diesel::dsl::max(products::warranty_years))
        .first(conn)?;
    Ok(years.unwrap_or(0))
}

/// Every `warranty_years` the catalogue's products have, and 0 (an order of no product
/// still on file), ascending.
pub fn warranty_lengths(conn: &mut DbConnection) -> QueryResult<Vec<i32>> {
    let mut years: Vec<i32> = products::table
        .select(products::warranty_years)
        .distinct()
        .load(conn)?;
    years.push(0);
    years.sort_unstable();
    years.dedup();
    Ok(years)
}

/// The order's data key; None once retention or erasure shredded it.
pub fn order_key(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order_id: &str,
) -> Result<Option<DataKey>, ApiError> {
    match crypto.data_key(conn, order_id) {
        Ok(key) => Ok(Some(key)),
        Err(CryptoError::Shredded) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// A case with its reason and answers opened (the caller audits the opening when staff
/// read it).
pub fn detail(
    conn: &mut DbConnection,
    crypto: &Crypto,
    case: &CaseRow,
) -> Result<CaseDetail, ApiError> {
    let key = order_key(conn, crypto, &case.order_id)?;
    let rows: Vec<AnswerRow> = after_sales_answers::table
        .filter(after_sales_answers::case_id.eq(&case.id))
        .order(after_sales_answers::id.asc())
        .select(AnswerRow::as_select())
        .load(conn)?;
    let reason = key
        .as_ref()
        .map(|k| k.open_string(&REASON.at(&case.id), &case.reason_sealed))
        .transpose()?;
    let answers = rows
        .into_iter()
        .map(|a| {
            let text = key
                .as_ref()
                .map(|k| k.open_string(&ANSWER.at(&a.id), &a.body_sealed))
                .transpose()?;
            debug_assert_eq!(a.case_id, case.id);
            Ok(AnswerView {
                id: a.id,
                text,
                created_at: a.created_at.and_utc(),
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    Ok(CaseDetail {
        case: case.view(),
        reason,
        answers,
    })
}
