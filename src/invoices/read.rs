//! Reading documents: a customer or guest reads those of their own order; staff read any,
//! and reading a buyer's name and address is recorded in the audit log.

use super::issue::{document, open_buyer};
use super::model::{is_number, Document, DocumentKind};
use super::store::{self, After, DocumentRow, Filter};
use super::view::{DocumentPage, DocumentSummary};
use crate::audit::{self, Action, Actor, Event, Purpose};
use crate::crypto::Crypto;
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::http::pagination::{paginate, Page};
use crate::orders::access::Requester;
use crate::orders::store as orders;

/// The documents of the requester's order `number`, invoice first.
pub fn of_my_order(
    conn: &mut DbConnection,
    crypto: &Crypto,
    requester: &Requester,
    number: &str,
) -> Result<Vec<Document>, ApiError> {
    let order = requester.find(conn, number)?;
    store::of_order(conn, &order.id)?
        .iter()
        .map(|row| document(row, open_buyer(conn, crypto, row)?))
        .collect()
}

/// One document of the requester's order; 404 for a number that is not one of its
/// documents, whatever it is.
pub fn one_of_my_order(
    conn: &mut DbConnection,
    crypto: &Crypto,
    requester: &Requester,
    number: &str,
    document_number: &str,
) -> Result<Document, ApiError> {
    let order = requester.find(conn, number)?;
    let row = find(conn, document_number)?
        .filter(|row| row.order_id == order.id.as_str())
        .ok_or(ApiError::NotFound)?;
    document(&row, open_buyer(conn, crypto, &row)?)
}

/// Any document, for staff: opening its buyer is an audited read.
pub fn one_for_staff(
    conn: &mut DbConnection,
    crypto: &Crypto,
    actor: &Actor,
    document_number: &str,
) -> Result<Document, ApiError> {
    let row = find(conn, document_number)?.ok_or(ApiError::NotFound)?;
    let buyer = open_buyer(conn, crypto, &row)?;
    if buyer.is_some() {
        let order = orders::get(conn, &row.order_id)?;
        let subject = order
            .as_ref()
            .and_then(|o| o.user_id.as_ref().map(|u| u.to_string()))
            .unwrap_or_else(|| row.order_id.clone());
        audit::record(
            conn,
            crypto,
            actor,
            &Event {
                action: Action::InvoiceRead,
                subject_id: Some(&subject),
                fields: &["buyer_name", "buyer_address"],
                purpose: Purpose::Accounting,
            },
        )?;
    }
    document(&row, buyer)
}

/// A page of the ledger: numbers and totals, no personal data.
pub fn ledger(
    conn: &mut DbConnection,
    filter: &Filter,
    page: &Page,
) -> Result<DocumentPage, ApiError> {
    let after = page.after.as_deref().and_then(parse_cursor);
    let rows = store::ledger(conn, filter, after.as_ref(), i64::from(page.limit) + 1)?;
    let (rows, next_cursor) = paginate(rows, page, LEDGER, |row: &DocumentRow| {
        format!("{}|{}|{}", row.series, row.year, row.seq)
    });
    let documents = rows
        .iter()
        .map(|row| document(row, None).map(DocumentSummary::from))
        .collect::<Result<_, _>>()?;
    Ok(DocumentPage {
        documents,
        next_cursor,
    })
}

/// The name of the ledger's cursors.
pub const LEDGER: &str = "documents";

fn parse_cursor(key: &str) -> Option<After> {
    let mut parts = key.splitn(3, '|');
    let series = parts.next()?;
    DocumentKind::ALL.iter().find(|k| k.series() == series)?;
    Some((
        series.to_owned(),
        parts.next()?.parse().ok()?,
        parts.next()?.parse().ok()?,
    ))
}

fn find(conn: &mut DbConnection, number: &str) -> Result<Option<DocumentRow>, ApiError> {
    if !is_number(number) {
        return Ok(None);
    }
    Ok(store::by_number(conn, number)?)
}

/// The documents of `order_ids` (an export), each with its buyer while kept.
pub fn of_orders(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order_ids: &[String],
) -> Result<Vec<Document>, ApiError> {
    let mut documents = Vec::new();
    for order in order_ids {
        for row in store::of_order(conn, order)? {
            let buyer = open_buyer(conn, crypto, &row)?;
            documents.push(document(&row, buyer)?);
        }
    }
    Ok(documents)
}

/// What of `order_ids` the law keeps through an erasure: each document that still names its
/// buyer, and the last day it is kept.
pub fn kept_by_law(
    conn: &mut DbConnection,
    order_ids: &[String],
    years: i64,
) -> Result<Vec<(String, chrono::NaiveDate)>, ApiError> {
    let years = u32::try_from(years).unwrap_or(u32::MAX);
    let mut kept = Vec::new();
    for order in order_ids {
        for row in store::of_order(conn, order)? {
            if row.buyer_sealed.is_some() {
                kept.push((
                    row.number.clone(),
                    super::model::kept_until(row.year, years),
                ));
            }
        }
    }
    Ok(kept)
}
