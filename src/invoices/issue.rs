//! Issuing documents. An invoice is issued in the transaction that captures its payment
//! (in a savepoint of it): the number, the document and its announcement commit with the
//! capture. A credit note is queued in the transaction where its refund succeeds and issued
//! in a transaction of its own right after that commit. Whatever is queued (a credit note, an
//! invoice whose issuing failed, what a crash left behind) the invoices worker issues.

use chrono::Datelike;
use serde::{Deserialize, Serialize};

use super::model::{
    self, credit_lines, open_lines, Buyer, Document, DocumentKind, DocumentTaxLine, Line, Seller,
};
use super::store::{self, DocumentRow, DueRow};
use crate::config::{SellerSettings, TaxMode};
use crate::crypto::{Column, Crypto, CryptoError, DataKey};
use crate::db::{write_transaction, Db, DbConnection};
use crate::http::error::ApiError;
use crate::notifications::{self, Kind};
use crate::orders::store::{self as orders, OrderRow};
use crate::orders::view::open_personal;

/// Where a document's buyer is sealed: bound to the document's id, under its year's key.
pub const BUYER: Column = Column::new("documents", "buyer_sealed");

/// What issuing needs: the keys and the seller's identity.
#[derive(Clone)]
pub struct Issuer {
    pub crypto: Crypto,
    pub seller: Seller,
}

impl Issuer {
    pub fn new(crypto: Crypto, seller: &SellerSettings) -> Self {
        Issuer {
            crypto,
            seller: Seller {
                name: seller.name.clone(),
                address: seller.address.clone(),
                vat_id: seller.vat_id.clone(),
            },
        }
    }
}

/// In the transaction that captured `payment_id` for `order`: the order's invoice, issued in
/// a savepoint of that transaction, so the capture and its invoice commit together (one
/// commit, and nothing queued). Should issuing fail, the savepoint alone is rolled back and
/// the invoice queued instead: the capture is recorded all the same, and the invoices worker
/// issues it.
pub fn issue_at_capture(
    conn: &mut DbConnection,
    issuer: &Issuer,
    order: &OrderRow,
    payment_id: &str,
    amount: i64,
) -> Result<(), ApiError> {
    let issued = write_transaction(conn, |conn| {
        let now = crate::db::now();
        let period_key = issuer
            .crypto
            .period_key(conn, &model::period_key(now.year()))?;
        let draft = invoice_draft(conn, &issuer.crypto, order)?;
        write_document(
            conn,
            issuer,
            Source {
                kind: DocumentKind::Invoice,
                source_id: payment_id,
                payment_id,
                corrects: None,
            },
            order,
            draft,
            now,
            &period_key,
        )
    });
    if let Err(e) = issued {
        tracing::warn!("issuing the invoice of payment {payment_id} failed, queued: {e}");
        queue(
            conn,
            DocumentKind::Invoice,
            payment_id,
            order.id.as_ref(),
            payment_id,
            amount,
        )?;
    }
    Ok(())
}

/// In the transaction where a refund succeeded: its credit note is due (issued only when the
/// refunded payment was invoiced; money given back for a payment that paid nothing, such as
/// a late second capture, is no sale to correct).
pub fn queue_credit_note(
    conn: &mut DbConnection,
    refund_id: &str,
    order_id: &str,
    payment_id: &str,
    amount: i64,
) -> Result<(), ApiError> {
    queue(
        conn,
        DocumentKind::CreditNote,
        refund_id,
        order_id,
        payment_id,
        amount,
    )
}

fn queue(
    conn: &mut DbConnection,
    kind: DocumentKind,
    source_id: &str,
    order_id: &str,
    payment_id: &str,
    amount: i64,
) -> Result<(), ApiError> {
    store::queue(
        conn,
        &DueRow {
            source_id: source_id.to_owned(),
            kind: kind.as_str().to_owned(),
            order_id: order_id.to_owned(),
            payment_id: payment_id.to_owned(),
            amount,
            created_at: crate::db::now(),
        },
    )?;
    Ok(())
}

/// What became of one due document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Issued {
    Document(String),
    /// Another transaction issued it, or it needs no document.
    Nothing,
    /// A credit note whose invoice is not issued yet: left due.
    Waiting,
}

/// Issues every document due for `order_id`, each in its own transaction (after the
/// transaction that made them due has committed). Errors are left to the worker's next
/// pass: the documents stay due.
pub async fn issue_for_order(db: &Db, issuer: &Issuer, order_id: String) {
    let issuer = issuer.clone();
    let result = db
        .run(move |conn| {
            let due = store::due_for_order(conn, &order_id)?;
            for row in due {
                issue_one(conn, &issuer, &row)?;
            }
            Ok::<_, ApiError>(())
        })
        .await;
    if let Err(e) = result {
        tracing::warn!("issuing documents failed, the worker retries: {e}");
    }
}

/// Issues up to `limit` due documents, oldest first; how many were issued.
pub fn issue_due(conn: &mut DbConnection, issuer: &Issuer, limit: i64) -> Result<usize, ApiError> {
    let mut issued = 0;
    for row in store::due(conn, limit)? {
        if matches!(issue_one(conn, issuer, &row)?, Issued::Document(_)) {
            issued += 1;
        }
    }
    Ok(issued)
}

/// Issues one due document in a transaction of its own: the number, the document and its
/// announcement commit together.
pub fn issue_one(
    conn: &mut DbConnection,
    issuer: &Issuer,
    due: &DueRow,
) -> Result<Issued, ApiError> {
    write_transaction(conn, |conn| {
        let kind = due.kind();
        let now = crate::db::now();
        let year = now.year();
        let invoice = match kind {
            DocumentKind::Invoice => None,
            // Still due is asked first: an invoice issued between the two questions is then
            // found by the second.
            DocumentKind::CreditNote if store::invoice_due(conn, &due.payment_id)? => {
                return Ok(Issued::Waiting)
            }
            DocumentKind::CreditNote => match store::invoice_of_payment(conn, &due.payment_id)? {
                Some(invoice) => Some(invoice),
                None => {
                    store::claim(conn, &due.source_id)?;
                    return Ok(Issued::Nothing);
                }
            },
        };
        if !store::claim(conn, &due.source_id)? {
            return Ok(Issued::Nothing);
        }
        // The year's key before any counter: created by the first document of the year, an
        // insert that concurrent first documents may all run (one wins, the others wait for
        // it and read its key); taken first by every document, so none waits for it while
        // holding the counter another one waits for.
        let buyer_key = model::period_key(year);
        let period_key = issuer.crypto.period_key(conn, &buyer_key)?;
        if invoice.is_some() {
            // Credit notes of one invoice issued at once must each see the others: the
            // series' counter is locked before what is left to credit is read.
            store::lock_series(conn, kind.series(), year)?;
        }
        let order = orders::get(conn, &due.order_id)?.ok_or(ApiError::NotFound)?;
        let draft = match &invoice {
            None => invoice_draft(conn, &issuer.crypto, &order)?,
            Some(invoice) => {
                match credit_note_draft(conn, &issuer.crypto, invoice, due.amount)? {
                    Some(draft) => draft,
                    // Everything on the invoice is credited already.
                    None => return Ok(Issued::Nothing),
                }
            }
        };
        write_document(
            conn,
            issuer,
            Source {
                kind,
                source_id: &due.source_id,
                payment_id: &due.payment_id,
                corrects: invoice.as_ref().map(|i| i.number.as_str()),
            },
            &order,
            draft,
            now,
            &period_key,
        )
    })
}

/// What a document is issued for.
struct Source<'a> {
    kind: DocumentKind,
    /// The capture (its payment) or the refund that made it due: one document each.
    source_id: &'a str,
    payment_id: &'a str,
    /// The invoice a credit note corrects.
    corrects: Option<&'a str>,
}

/// Numbers, writes and announces a document of `order` drafted at `now`, its buyer sealed
/// under the year's `period_key`, in the caller's transaction.
fn write_document(
    conn: &mut DbConnection,
    issuer: &Issuer,
    source: Source<'_>,
    order: &OrderRow,
    draft: Draft,
    now: chrono::NaiveDateTime,
    period_key: &DataKey,
) -> Result<Issued, ApiError> {
    let kind = source.kind;
    let year = now.year();
    let id = crate::ids::new_id("doc");
    let (net_total, tax_total, gross_total) = Document::totals(&draft.body.tax_lines);
    let buyer_sealed = match &draft.buyer {
        Some(buyer) => {
            let bytes = serde_json::to_vec(buyer).map_err(|e| ApiError::Internal(e.into()))?;
            Some(period_key.seal(&BUYER.at(&id), &bytes)?)
        }
        None => None,
    };
    let body = Body {
        seller: issuer.seller.clone(),
        ..draft.body
    };
    let body = serde_json::to_string(&body).map_err(|e| ApiError::Internal(e.into()))?;
    // The number last: the series' counter row stays locked from here to the commit, and
    // every other document of the series waits for it, so only the document's own insert
    // and its announcement come between.
    let seq = store::next_number(conn, kind.series(), year)?;
    let number = model::number(kind, year, seq);
    let row = DocumentRow {
        id,
        number: number.clone(),
        kind: kind.as_str().to_owned(),
        series: kind.series().to_owned(),
        year,
        seq,
        order_id: order.id.to_string(),
        payment_id: source.payment_id.to_owned(),
        source_id: source.source_id.to_owned(),
        corrects: source.corrects.map(str::to_owned),
        issued_at: now,
        currency: order.currency.clone(),
        net_total,
        tax_total,
        gross_total,
        body,
        buyer_key: period_key.subject_id().to_owned(),
        buyer_sealed,
    };
    store::insert(conn, &row)?;
    let notice = match kind {
        DocumentKind::Invoice => Kind::InvoiceIssued,
        DocumentKind::CreditNote => Kind::CreditNoteIssued,
    };
    notifications::enqueue(
        conn,
        notifications::To::Order {
            order_id: &order.id,
            user_id: order.user_id.as_ref(),
        },
        &notice,
        &serde_json::json!({
            "order_id": order.id,
            "number": order.number,
            "document_number": number,
            "gross_total": gross_total,
            "currency": order.currency,
        }),
    )?;
    Ok(Issued::Document(number))
}

/// What a document says besides its buyer and its numbers: stored as JSON in `body`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Body {
    pub order_number: String,
    pub minor_unit: u8,
    pub prices_include_tax: bool,
    pub tax_country: Option<String>,
    pub seller: Seller,
    pub lines: Vec<Line>,
    pub tax_lines: Vec<DocumentTaxLine>,
    pub note: Option<String>,
}

struct Draft {
    body: Body,
    buyer: Option<Buyer>,
}

fn placeholder_seller() -> Seller {
    Seller {
        name: String::new(),
        address: Vec::new(),
        vat_id: None,
    }
}

fn invoice_draft(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order: &OrderRow,
) -> Result<Draft, ApiError> {
    let mut lines: Vec<Line> = orders::items(conn, &order.id)?
        .into_iter()
        .map(|item| Line {
            description: if item.color.is_empty() {
                item.name
            } else {
                format!("{} ({})", item.name, item.color)
            },
            sku: Some(item.sku),
            quantity: i64::from(item.quantity),
            unit_amount: item.unit_price,
            amount: item.unit_price * i64::from(item.quantity),
        })
        .collect();
    if order.shipping > 0 {
        lines.push(Line {
            description: "Shipping".to_owned(),
            sku: None,
            quantity: 1,
            unit_amount: order.shipping,
            amount: order.shipping,
        });
    }
    // The tax lines below are on the discounted amounts; the discount is a line of its own,
    // negative, so the lines add up to the document's total.
    for discount in crate::discounts::store::order_lines(conn, &[order.id.to_string()])? {
        lines.push(Line {
            description: format!("Discount {}", discount.code),
            sku: None,
            quantity: 1,
            unit_amount: -discount.amount(),
            amount: -discount.amount(),
        });
    }
    let tax_lines: Vec<DocumentTaxLine> = orders::tax_lines(conn, &order.id)?
        .iter()
        .map(|l| DocumentTaxLine {
            rate_bp: u32::try_from(l.rate_bp).unwrap_or(0),
            net: l.net,
            tax: l.tax,
            gross: l.gross,
        })
        .collect();
    let note = model::note_for(&tax_lines, order.tax_country.as_deref());
    Ok(Draft {
        body: Body {
            order_number: order.number.clone(),
            minor_unit: crate::money::minor_unit(&order.currency),
            prices_include_tax: TaxMode::parse(&order.tax_mode) != Some(TaxMode::Exclusive),
            tax_country: order.tax_country.clone(),
            seller: placeholder_seller(),
            lines,
            tax_lines,
            note,
        },
        buyer: order_buyer(conn, crypto, order)?,
    })
}

/// The draft of a credit note of `gross` against `invoice`; `None` when nothing of the
/// invoice is left to credit.
fn credit_note_draft(
    conn: &mut DbConnection,
    crypto: &Crypto,
    invoice: &DocumentRow,
    gross: i64,
) -> Result<Option<Draft>, ApiError> {
    let body: Body =
        serde_json::from_str(&invoice.body).map_err(|e| ApiError::Internal(e.into()))?;
    let credited: Vec<DocumentTaxLine> = store::credit_notes_of(conn, &invoice.number)?
        .iter()
        .map(|cn| serde_json::from_str::<Body>(&cn.body).map(|b| b.tax_lines))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ApiError::Internal(e.into()))?
        .concat();
    let tax_lines = credit_lines(&open_lines(&body.tax_lines, &credited), gross);
    if tax_lines.is_empty() {
        return Ok(None);
    }
    let (net, _, credited_gross) = Document::totals(&tax_lines);
    let amount = if body.prices_include_tax {
        credited_gross
    } else {
        net
    };
    let buyer = open_buyer(conn, crypto, invoice)?;
    Ok(Some(Draft {
        body: Body {
            lines: vec![Line {
                description: format!("Refund on invoice {}", invoice.number),
                sku: None,
                quantity: 1,
                unit_amount: amount,
                amount,
            }],
            note: body.note.clone(),
            tax_lines,
            ..body
        },
        buyer,
    }))
}

/// The buyer as the order's shipping address names it; `None` when the order's data are
/// erased already.
fn order_buyer(
    conn: &mut DbConnection,
    crypto: &Crypto,
    order: &OrderRow,
) -> Result<Option<Buyer>, ApiError> {
    let Some((_, address)) = open_personal(conn, crypto, order)? else {
        return Ok(None);
    };
    let fields = address.into_fields();
    let mut address = vec![fields.line1];
    address.extend(fields.line2);
    let city = match fields.region {
        Some(region) => format!("{} {} ({region})", fields.postal_code, fields.city),
        None => format!("{} {}", fields.postal_code, fields.city),
    };
    address.push(city);
    Ok(Some(Buyer {
        name: fields.name,
        address,
        country: fields.country,
    }))
}

/// The buyer of an issued document; `None` once its period's key is destroyed.
pub fn open_buyer(
    conn: &mut DbConnection,
    crypto: &Crypto,
    row: &DocumentRow,
) -> Result<Option<Buyer>, ApiError> {
    let Some(sealed) = &row.buyer_sealed else {
        return Ok(None);
    };
    let key: DataKey = match crypto.data_key(conn, &row.buyer_key) {
        Ok(key) => key,
        Err(CryptoError::Shredded) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let json = key.open(&BUYER.at(&row.id), sealed)?;
    Ok(Some(
        serde_json::from_slice(&json).map_err(|e| ApiError::Internal(e.into()))?,
    ))
}

/// An issued document as it reads: its row, its body and (when still kept) its buyer.
pub fn document(row: &DocumentRow, buyer: Option<Buyer>) -> Result<Document, ApiError> {
    let body: Body = serde_json::from_str(&row.body).map_err(|e| ApiError::Internal(e.into()))?;
    Ok(Document {
        kind: row.kind(),
        number: row.number.clone(),
        issued_at: row.issued_at,
        order_number: body.order_number,
        corrects: row.corrects.clone(),
        currency: row.currency.clone(),
        minor_unit: body.minor_unit,
        prices_include_tax: body.prices_include_tax,
        tax_country: body.tax_country,
        seller: body.seller,
        buyer,
        lines: body.lines,
        tax_lines: body.tax_lines,
        net_total: row.net_total,
        tax_total: row.tax_total,
        gross_total: row.gross_total,
        note: body.note,
    })
}
