//! Documents as clients read them.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::model::{Buyer, Document, DocumentKind, Line, Seller};
use crate::catalog::model::Money;
use crate::tax::model::Rate;
use crate::tax::view::{PriceMode, TaxLineView};

/// The shop that issued the document, as it was named on the day of issue.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DocumentSeller)]
pub struct SellerView {
    /// The shop's legal name.
    pub name: String,
    /// Postal address, one line per item.
    pub address: Vec<String>,
    /// The shop's VAT identification number, when it has one.
    #[schema(example = "BE0123456789")]
    pub vat_id: Option<String>,
}

impl From<Seller> for SellerView {
    fn from(s: Seller) -> Self {
        SellerView {
            name: s.name,
            address: s.address,
            vat_id: s.vat_id,
        }
    }
}

/// The buyer named on the document: the name and postal address of the order's shipping
/// address on the day of issue.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DocumentBuyer)]
pub struct BuyerView {
    /// The recipient's name on the order's shipping address.
    pub name: String,
    /// Street lines, then postal code and city.
    pub address: Vec<String>,
    /// ISO 3166-1 alpha-2.
    #[schema(pattern = "^[A-Z]{2}$", example = "BE")]
    pub country: String,
}

impl From<Buyer> for BuyerView {
    fn from(b: Buyer) -> Self {
        BuyerView {
            name: b.name,
            address: b.address,
            country: b.country,
        }
    }
}

/// One line of a document, in the shop's price mode (`prices`).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = DocumentLine)]
pub struct LineView {
    /// The product and colour, `Shipping`, or for a credit note the invoice it refunds on.
    pub description: String,
    /// The variant's SKU; null for shipping and credit-note lines.
    pub sku: Option<String>,
    /// How many.
    #[schema(minimum = 1)]
    pub quantity: i64,
    pub unit_amount: Money,
    /// `unit_amount` × `quantity`.
    pub amount: Money,
}

impl LineView {
    fn new(line: Line, currency: &str) -> Self {
        LineView {
            description: line.description,
            sku: line.sku,
            quantity: line.quantity,
            unit_amount: Money::in_code(line.unit_amount, currency),
            amount: Money::in_code(line.amount, currency),
        }
    }
}

/// An issued invoice or credit note. Issued documents never change; only `buyer` becomes
/// null, when the statutory period of the document's year has ended and its key was
/// destroyed. Amounts of a credit note are positive: it gives them back.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[schema(as = Document)]
#[schema(example = document_example)]
pub struct DocumentView {
    pub kind: DocumentKind,
    /// `INV-<year>-<six digits>` or `CN-<year>-<six digits>`: sequential without gaps per
    /// series and year.
    #[schema(example = "INV-2026-000042")]
    pub number: String,
    /// When it was issued (RFC 3339, UTC); its year is the number's.
    pub issued_at: DateTime<Utc>,
    /// The order it is for, e.g. `LG-7KQ2-9XF4`.
    pub order_number: String,
    /// A credit note's invoice number; null for an invoice.
    pub corrects: Option<String>,
    /// Whether the lines' amounts include tax (`inclusive`) or not (`exclusive`).
    pub prices: PriceMode,
    /// ISO 3166-1 alpha-2 code of the country whose VAT applies.
    pub tax_country: Option<String>,
    pub seller: SellerView,
    /// Null once the document's statutory period ended and the buyer's details were
    /// destroyed (or when the order's personal data were erased before it was issued).
    pub buyer: Option<BuyerView>,
    /// What was sold (goods, then shipping), or for a credit note what is given back.
    pub lines: Vec<LineView>,
    /// One line per rate: the document's VAT summary.
    pub tax_lines: Vec<TaxLineView>,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
    /// A legal mention, e.g. why no VAT was charged on an export.
    pub note: Option<String>,
}

impl From<Document> for DocumentView {
    fn from(d: Document) -> Self {
        let currency = d.currency.clone();
        DocumentView {
            kind: d.kind,
            number: d.number,
            issued_at: d.issued_at.and_utc(),
            order_number: d.order_number,
            corrects: d.corrects,
            prices: if d.prices_include_tax {
                PriceMode::Inclusive
            } else {
                PriceMode::Exclusive
            },
            tax_country: d.tax_country,
            seller: d.seller.into(),
            buyer: d.buyer.map(BuyerView::from),
            lines: d
                .lines
                .into_iter()
                .map(|l| LineView::new(l, &currency))
                .collect(),
            tax_lines: d
                .tax_lines
                .iter()
                .map(|l| {
                    TaxLineView::new(
                        Rate::stored(i64::from(l.rate_bp)),
                        l.net,
                        l.tax,
                        l.gross,
                        &currency,
                    )
                })
                .collect(),
            net_total: Money::in_code(d.net_total, &currency),
            tax_total: Money::in_code(d.tax_total, &currency),
            gross_total: Money::in_code(d.gross_total, &currency),
            note: d.note,
        }
    }
}

/// A printable document: an A4 PDF with its fonts embedded.
pub struct PdfFile;

impl utoipa::PartialSchema for PdfFile {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .content_media_type("application/pdf")
            .description(Some(
                "A printable document: an A4 PDF with its fonts embedded.",
            ))
            .into()
    }
}

impl ToSchema for PdfFile {}

/// An order's documents: its invoice, then its credit notes, in issue order.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"documents": [document_example()]}))]
pub struct DocumentList {
    /// The invoice first, then the credit notes in issue order; empty until the order is
    /// paid.
    pub documents: Vec<DocumentView>,
}

/// A document in the staff ledger: what an accountant books (numbers, destination, VAT per
/// rate, totals), without the buyer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DocumentSummary {
    pub kind: DocumentKind,
    /// The document's number.
    #[schema(example = "INV-2026-000042")]
    pub number: String,
    /// When it was issued (RFC 3339, UTC).
    pub issued_at: DateTime<Utc>,
    /// The order it is for.
    pub order_number: String,
    /// A credit note's invoice number; null for an invoice.
    pub corrects: Option<String>,
    /// ISO 3166-1 alpha-2 code of the country whose VAT applies.
    pub tax_country: Option<String>,
    /// The VAT per rate.
    pub tax_lines: Vec<TaxLineView>,
    pub net_total: Money,
    pub tax_total: Money,
    pub gross_total: Money,
}

impl From<Document> for DocumentSummary {
    fn from(d: Document) -> Self {
        let view = DocumentView::from(Document { buyer: None, ..d });
        DocumentSummary {
            kind: view.kind,
            number: view.number,
            issued_at: view.issued_at,
            order_number: view.order_number,
            corrects: view.corrects,
            tax_country: view.tax_country,
            tax_lines: view.tax_lines,
            net_total: view.net_total,
            tax_total: view.tax_total,
            gross_total: view.gross_total,
        }
    }
}

/// A page of the documents ledger, by series (`CN` before `INV`), year and number.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"documents": [{
    "kind": "invoice", "number": "INV-2026-000042", "issued_at": "2026-12-07T10:15:00Z",
    "order_number": "LG-7KQ2-9XF4", "corrects": null, "tax_country": "DE",
    "tax_lines": [{"rate_basis_points": 1900, "rate_percent": "19",
        "net": {"amount": 10840, "currency": "EUR", "minor_unit": 2},
        "tax": {"amount": 2060, "currency": "EUR", "minor_unit": 2},
        "gross": {"amount": 12900, "currency": "EUR", "minor_unit": 2}}],
    "net_total": {"amount": 10840, "currency": "EUR", "minor_unit": 2},
    "tax_total": {"amount": 2060, "currency": "EUR", "minor_unit": 2},
    "gross_total": {"amount": 12900, "currency": "EUR", "minor_unit": 2}
}], "next_cursor": null}))]
pub struct DocumentPage {
    /// Up to `limit` documents.
    pub documents: Vec<DocumentSummary>,
    /// Send it as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}

fn document_example() -> serde_json::Value {
    serde_json::json!({
        "kind": "invoice", "number": "INV-2026-000042", "issued_at": "2026-12-07T10:15:00Z",
        "order_number": "LG-7KQ2-9XF4", "corrects": null, "prices": "inclusive",
        "tax_country": "DE",
        "seller": {"name": "Valise Luggage SA", "address": ["Rue du Midi 1", "1000 Brussels", "Belgium"], "vat_id": "BE0123456789"},
        "buyer": {"name": "Lotte Vermeulen", "address": ["Hauptstraße 5", "10115 Berlin"], "country": "DE"},
        "lines": [{"description": "Cabin 55 (navy)", "sku": "CAB55-NAVY", "quantity": 1,
            "unit_amount": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
            "amount": {"amount": 12900, "currency": "EUR", "minor_unit": 2}}],
        "tax_lines": [{"rate_basis_points": 1900, "rate_percent": "19",
            "net": {"amount": 10840, "currency": "EUR", "minor_unit": 2},
            "tax": {"amount": 2060, "currency": "EUR", "minor_unit": 2},
            "gross": {"amount": 12900, "currency": "EUR", "minor_unit": 2}}],
        "net_total": {"amount": 10840, "currency": "EUR", "minor_unit": 2},
        "tax_total": {"amount": 2060, "currency": "EUR", "minor_unit": 2},
        "gross_total": {"amount": 12900, "currency": "EUR", "minor_unit": 2},
        "note": null
    })
}
