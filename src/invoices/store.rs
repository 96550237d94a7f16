//! Documents due, the number counters and issued documents in the database.

use diesel::prelude::*;

use super::model::DocumentKind;
use crate::db::schema::{documents, documents_due};
use crate::db::DbConnection;

/// A document to issue: the payment an invoice is for, or the refund a credit note is for.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = documents_due)]
pub struct DueRow {
    pub source_id: String,
    pub kind: String,
    pub order_id: String,
    pub payment_id: String,
    pub amount: i64,
    pub created_at: chrono::NaiveDateTime,
}

impl DueRow {
    pub fn kind(&self) -> DocumentKind {
        DocumentKind::parse(&self.kind).unwrap_or(DocumentKind::Invoice)
    }
}

/// An issued document as stored.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = documents)]
pub struct DocumentRow {
    pub id: String,
    pub number: String,
    pub kind: String,
    pub series: String,
    pub year: i32,
    pub seq: i64,
    pub order_id: String,
    pub payment_id: String,
    pub source_id: String,
    pub corrects: Option<String>,
    pub issued_at: chrono::NaiveDateTime,
    pub currency: String,
    pub net_total: i64,
    pub tax_total: i64,
    pub gross_total: i64,
    pub body: String,
    pub buyer_key: String,
    pub buyer_sealed: Option<Vec<u8>>,
}

impl DocumentRow {
    pub fn kind(&self) -> DocumentKind {
        DocumentKind::parse(&self.kind).unwrap_or(DocumentKind::Invoice)
    }
}

/// Records a document as due, once per source (a second report of the same capture or
/// refund changes nothing).
pub fn queue(conn: &mut DbConnection, row: &DueRow) -> QueryResult<()> {
    use diesel::sql_types::{BigInt, Text, Timestamp};
    let sql = format!(
        "INSERT INTO documents_due (source_id, kind, order_id, payment_id, amount, created_at) \
         VALUES {} ON CONFLICT (source_id) DO NOTHING",
        crate::db::values_list(conn, "(?, ?, ?, ?, ?, ?)", 1)
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(&row.source_id)
        .bind::<Text, _>(&row.kind)
        .bind::<Text, _>(&row.order_id)
        .bind::<Text, _>(&row.payment_id)
        .bind::<BigInt, _>(row.amount)
        .bind::<Timestamp, _>(row.created_at)
        .execute(conn)?;
    Ok(())
}

/// The oldest documents due, invoices before the credit notes queued with them.
pub fn due(conn: &mut DbConnection, limit: i64) -> QueryResult<Vec<DueRow>> {
    documents_due::table
        .order((documents_due::created_at, documents_due::kind.desc()))
        .limit(limit)
        .select(DueRow::as_select())
        .load(conn)
}

/// The documents due for one order, oldest first.
pub fn due_for_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<DueRow>> {
    documents_due::table
        .filter(documents_due::order_id.eq(order_id))
        .order((documents_due::created_at, documents_due::kind.desc()))
        .select(DueRow::as_select())
        .load(conn)
}

/// Whether an invoice for `payment_id` is still waiting to be issued.
pub fn invoice_due(conn: &mut DbConnection, payment_id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        documents_due::table
            .filter(documents_due::source_id.eq(payment_id))
            .filter(documents_due::kind.eq(DocumentKind::Invoice.as_str())),
    ))
    .get_result(conn)
}

/// Takes a due document off the queue; false when another transaction took it first (it
/// then waits for that one to commit or roll back, so a document is issued once).
pub fn claim(conn: &mut DbConnection, source_id: &str) -> QueryResult<bool> {
    Ok(
        diesel::delete(documents_due::table.filter(documents_due::source_id.eq(source_id)))
            .execute(conn)?
            == 1,
    )
}

#[derive(QueryableByName)]
struct Taken {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    last: i64,
}

/// The next number of `series` in `year`, in the caller's transaction: the counter row stays
/// locked until it commits, and a rollback gives the number back, so numbers have no gaps.
pub fn next_number(conn: &mut DbConnection, series: &str, year: i32) -> QueryResult<i64> {
    use diesel::sql_types::{Integer, Text};
    let sql = format!(
        "INSERT INTO document_counters (series, year, last) VALUES {} \
         ON CONFLICT (series, year) DO UPDATE SET last = document_counters.last + 1 \
         RETURNING last",
        crate::db::values_list(conn, "(?, ?, 1)", 1)
    );
    let taken: Taken = diesel::sql_query(sql)
        .bind::<Text, _>(series)
        .bind::<Integer, _>(year)
        .get_result(conn)?;
    Ok(taken.last)
}

/// Locks the counter of `series` in `year` until the caller's transaction ends, without
/// taking a number (creating the counter at 0 if the year has none yet).
pub fn lock_series(conn: &mut DbConnection, series: &str, year: i32) -> QueryResult<()> {
    use diesel::sql_types::{Integer, Text};
    let sql = format!(
        "INSERT INTO document_counters (series, year, last) VALUES {} \
         ON CONFLICT (series, year) DO UPDATE SET last = document_counters.last",
        crate::db::values_list(conn, "(?, ?, 0)", 1)
    );
    diesel::sql_query(sql)
        .bind::<Text, _>(series)
        .bind::<Integer, _>(year)
        .execute(conn)?;
    Ok(())
}

pub fn insert(conn: &mut DbConnection, row: &DocumentRow) -> QueryResult<()> {
    diesel::insert_into(documents::table)
        .values(row)
        .execute(conn)?;
    Ok(())
}

/// The invoice of a payment, if one was issued.
pub fn invoice_of_payment(
    conn: &mut DbConnection,
    payment_id: &str,
) -> QueryResult<Option<DocumentRow>> {
    documents::table
        .filter(documents::source_id.eq(payment_id))
        .filter(documents::kind.eq(DocumentKind::Invoice.as_str()))
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()
}

/// The credit notes that correct the invoice `number`, in issue order.
pub fn credit_notes_of(conn: &mut DbConnection, number: &str) -> QueryResult<Vec<DocumentRow>> {
    documents::table
        .filter(documents::corrects.eq(number))
        .order(documents::seq)
        .select(DocumentRow::as_select())
        .load(conn)
}

/// An order's documents: its invoice first, then its credit notes, in issue order.
pub fn of_order(conn: &mut DbConnection, order_id: &str) -> QueryResult<Vec<DocumentRow>> {
    documents::table
        .filter(documents::order_id.eq(order_id))
        .order((documents::kind.desc(), documents::issued_at, documents::seq))
        .select(DocumentRow::as_select())
        .load(conn)
}

pub fn by_number(conn: &mut DbConnection, number: &str) -> QueryResult<Option<DocumentRow>> {
    documents::table
        .filter(documents::number.eq(number))
        .select(DocumentRow::as_select())
        .first(conn)
        .optional()
}

/// What the staff ledger filters by.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub kind: Option<DocumentKind>,
    pub year: Option<i32>,
}

/// Where a ledger page starts: after this series, year and number.
pub type After = (String, i32, i64);

/// Up to `limit` documents by series, year and number, after `after`.
pub fn ledger(
    conn: &mut DbConnection,
    filter: &Filter,
    after: Option<&After>,
    limit: i64,
) -> QueryResult<Vec<DocumentRow>> {
    let mut q = documents::table.into_boxed();
    if let Some(kind) = filter.kind {
        q = q.filter(documents::kind.eq(kind.as_str()));
    }
    if let Some(year) = filter.year {
        q = q.filter(documents::year.eq(year));
    }
    if let Some((series, year, seq)) = after {
        q = q.filter(
            documents::series
                .gt(series.clone())
                .or(documents::series.eq(series.clone()).and(
                    documents::year
                        .gt(*year)
                        .or(documents::year.eq(*year).and(documents::seq.gt(*seq))),
                )),
        );
    }
    q.order((documents::series, documents::year, documents::seq))
        .limit(limit)
        .select(DocumentRow::as_select())
        .load(conn)
}

/// The accounting years that have a period key, live or not: `(subject id, year)`.
pub fn period_keys(conn: &mut DbConnection) -> QueryResult<Vec<(String, bool)>> {
    use crate::db::schema::data_keys;
    data_keys::table
        .filter(data_keys::subject_id.like("accounting-%"))
        .select((data_keys::subject_id, data_keys::wrapped.is_not_null()))
        .load(conn)
}
