//! Invoices and credit notes as values: what an issued document says, how it is numbered,
//! and how a refund's amount is split over the tax rates of the invoice it corrects. No
//! HTTP, no SQL.

use serde::{Deserialize, Serialize};

use crate::tax::model::{Rate, TaxLine};

/// The two kinds of document, each numbered in its own series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// Issued when an order is paid.
    Invoice,
    /// Issued when a refund of an invoiced payment succeeds; it corrects that invoice.
    CreditNote,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 2] = [DocumentKind::Invoice, DocumentKind::CreditNote];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "invoice",
            DocumentKind::CreditNote => "credit_note",
        }
    }

    pub fn parse(s: &str) -> Option<DocumentKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// The prefix of the kind's numbers, which is also the name of its series.
    pub fn series(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "INV",
            DocumentKind::CreditNote => "CN",
        }
    }

    /// The title printed on the document.
    pub fn title(self) -> &'static str {
        match self {
            DocumentKind::Invoice => "Invoice",
            DocumentKind::CreditNote => "Credit note",
        }
    }
}

/// The number of the `seq`-th document of a series in `year`: `INV-2026-000042`. Numbers
/// sort in issue order within a series and year, and six digits hold a million documents a
/// year (more still print, with more digits).
pub fn number(kind: DocumentKind, year: i32, seq: i64) -> String {
    format!("{}-{year}-{seq:06}", kind.series())
}

/// Whether `text` has the shape of a document number (path parameters are checked before
/// they reach a query).
pub fn is_number(text: &str) -> bool {
    let mut parts = text.splitn(3, '-');
    let (Some(series), Some(year), Some(seq)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    DocumentKind::ALL.iter().any(|k| k.series() == series)
        && year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && (6..=12).contains(&seq.len())
        && seq.bytes().all(|b| b.is_ascii_digit())
}

/// Who sells, as configured (`VALISE_SELLER_*`); printed on every document as it was when
/// the document was issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seller {
    pub name: String,
    pub address: Vec<String>,
    pub vat_id: Option<String>,
}

/// Who buys: the name and postal address of the order's shipping address when the document
/// was issued. Personal data, kept because the law requires it on an invoice: sealed under
/// the key of the document's accounting period, never the customer's or the order's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Buyer {
    pub name: String,
    /// Street lines, then postal code and city.
    pub address: Vec<String>,
    /// ISO 3166-1 alpha-2.
    pub country: String,
}

/// One line of a document. Amounts are in minor units, and are what the shop's prices are:
/// tax included in `inclusive` mode, before tax in `exclusive` mode (`Document::prices_include_tax`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Line {
    pub description: String,
    /// The variant's SKU; none for shipping and for the line of a credit note.
    pub sku: Option<String>,
    pub quantity: i64,
    pub unit_amount: i64,
    pub amount: i64,
}

/// The part of a document's total taxed at one rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocumentTaxLine {
    pub rate_bp: u32,
    pub net: i64,
    pub tax: i64,
    pub gross: i64,
}

impl From<&TaxLine> for DocumentTaxLine {
    fn from(line: &TaxLine) -> Self {
        DocumentTaxLine {
            rate_bp: line.rate.basis_points(),
            net: line.net,
            tax: line.tax,
            gross: line.gross,
        }
    }
}

/// Everything an issued document says. Written once, in the transaction that takes its
/// number, and never changed; only `buyer` can disappear (its accounting period ended and
/// its key was destroyed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Document {
    pub kind: DocumentKind,
    pub number: String,
    pub issued_at: chrono::NaiveDateTime,
    /// The order's public number.
    pub order_number: String,
    /// For a credit note, the number of the invoice it corrects.
    pub corrects: Option<String>,
    /// ISO 4217 code, and its minor-unit exponent (2 for EUR, 0 for JPY, 3 for KWD).
    pub currency: String,
    pub minor_unit: u8,
    pub prices_include_tax: bool,
    /// The country whose VAT applies (the destination), when tax applies at all.
    pub tax_country: Option<String>,
    pub seller: Seller,
    /// `None` once the accounting period ended and the buyer's data were destroyed.
    pub buyer: Option<Buyer>,
    pub lines: Vec<Line>,
    pub tax_lines: Vec<DocumentTaxLine>,
    pub net_total: i64,
    pub tax_total: i64,
    pub gross_total: i64,
    /// A legal mention printed under the totals (e.g. why no VAT was charged).
    pub note: Option<String>,
}

impl Document {
    /// The document's totals from its tax lines (a document's totals are never computed any
    /// other way, so they always add up).
    pub fn totals(tax_lines: &[DocumentTaxLine]) -> (i64, i64, i64) {
        tax_lines.iter().fold((0, 0, 0), |(n, t, g), l| {
            (n + l.net, t + l.tax, g + l.gross)
        })
    }
}

/// The legal mention of an invoice with no tax: an export leaves the VAT area.
pub fn note_for(tax_lines: &[DocumentTaxLine], tax_country: Option<&str>) -> Option<String> {
    let untaxed = tax_lines.iter().all(|l| l.tax == 0);
    match tax_country {
        Some(country) if untaxed && !crate::tax::model::is_eu_member(country) => Some(
            "Export outside the EU: VAT exempt (Directive 2006/112/EC, Article 146).".to_owned(),
        ),
        _ => None,
    }
}

/// The tax lines of a credit note of `gross` (tax included) against an invoice whose lines
/// not yet credited are `open` (the invoice's lines less every earlier credit note's).
///
/// Crediting all that is open gives back exactly the open lines, so the credit notes of a
/// fully refunded order add up to its invoice to the minor unit. A part is spread over the
/// rates in proportion to their open gross (largest remainder, so the parts add up to
/// `gross`), and each rate's tax is taken from its part as on an inclusive price:
/// `tax = round(part × r / (10000 + r))`, half away from zero. `gross` is capped at what is
/// open; nothing is credited when nothing is.
pub fn credit_lines(open: &[DocumentTaxLine], gross: i64) -> Vec<DocumentTaxLine> {
    let open: Vec<DocumentTaxLine> = open.iter().copied().filter(|l| l.gross > 0).collect();
    let total: i64 = open.iter().map(|l| l.gross).sum();
    let gross = gross.min(total);
    if gross <= 0 {
        return Vec::new();
    }
    if gross == total {
        return open;
    }
    // Shares by largest remainder: floor each, then one more unit to the largest
    // remainders (ties to the higher rate, which comes later) until the sum is reached.
    let wide = |v: i64| i128::from(v);
    let mut shares: Vec<(usize, i64, i128)> = open
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let exact = wide(gross) * wide(l.gross);
            let share = exact / wide(total);
            let rest = exact % wide(total);
            (i, i64::try_from(share).unwrap_or(0), rest)
        })
        .collect();
    let mut left = gross - shares.iter().map(|s| s.1).sum::<i64>();
    let mut order: Vec<usize> = (0..shares.len()).collect();
    order.sort_by(|a, b| shares[*b].2.cmp(&shares[*a].2).then(b.cmp(a)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i].1 += 1;
        left -= 1;
    }
    shares
        .into_iter()
        .filter(|(_, part, _)| *part > 0)
        .map(|(i, part, _)| {
            let rate = Rate::stored(i64::from(open[i].rate_bp));
            let line =
                crate::tax::model::tax_lines(crate::config::TaxMode::Inclusive, &[(rate, part)]);
            let tax = line.first().map_or(0, |l| l.tax).min(open[i].tax);
            DocumentTaxLine {
                rate_bp: open[i].rate_bp,
                net: part - tax,
                tax,
                gross: part,
            }
        })
        .collect()
}

/// What of `invoice` is not yet credited by `credited` (the lines of its credit notes).
pub fn open_lines(
    invoice: &[DocumentTaxLine],
    credited: &[DocumentTaxLine],
) -> Vec<DocumentTaxLine> {
    invoice
        .iter()
        .map(|line| {
            let (n, t, g) = credited
                .iter()
                .filter(|c| c.rate_bp == line.rate_bp)
                .fold((0, 0, 0), |(n, t, g), c| {
                    (n + c.net, t + c.tax, g + c.gross)
                });
            DocumentTaxLine {
                rate_bp: line.rate_bp,
                net: line.net - n,
                tax: line.tax - t,
                gross: line.gross - g,
            }
        })
        .collect()
}

/// The year an accounting period's key is named by, and the subject id of that key: the
/// buyer blocks of every document issued in `year` are sealed under it.
pub fn period_key(year: i32) -> String {
    format!("accounting-{year}")
}

/// The last day (inclusive) a document of `year` must be kept when the law asks for
/// `years` years after the end of its accounting year: 31 December of `year + years`.
pub fn kept_until(year: i32, years: u32) -> chrono::NaiveDate {
    let last = year.saturating_add(i32::try_from(years).unwrap_or(i32::MAX / 2));
    chrono::NaiveDate::from_ymd_opt(last, 12, 31).unwrap_or(chrono::NaiveDate::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(rate_bp: u32, net: i64, tax: i64) -> DocumentTaxLine {
        DocumentTaxLine {
            rate_bp,
            net,
            tax,
            gross: net + tax,
        }
    }

    #[test]
    fn numbers_are_padded_per_series_and_year() {
        assert_eq!(number(DocumentKind::Invoice, 2026, 42), "INV-2026-000042");
        assert_eq!(number(DocumentKind::CreditNote, 2027, 1), "CN-2027-000001");
        assert!(is_number("INV-2026-000042"));
        assert!(is_number("CN-2026-1234567"));
        assert!(!is_number("INV-26-000042"));
        assert!(!is_number("XX-2026-000042"));
        assert!(!is_number("INV-2026-42"));
        assert!(!is_number("INV-2026-00004a"));
    }

    #[test]
    fn crediting_everything_open_gives_back_the_open_lines_exactly() {
        let open = vec![line(900, 1835, 165), line(2100, 8264, 1736)];
        assert_eq!(credit_lines(&open, 12_000), open);
        // More than is open is capped at what is open.
        assert_eq!(credit_lines(&open, 99_999), open);
        assert!(credit_lines(&open, 0).is_empty());
        assert!(credit_lines(&[], 500).is_empty());
    }

    #[test]
    fn a_part_is_spread_by_largest_remainder_and_adds_up() {
        let open = vec![line(900, 1835, 165), line(2100, 8264, 1736)];
        for gross in [1, 2, 3, 999, 2500, 11_999] {
            let lines = credit_lines(&open, gross);
            let (n, t, g) = Document::totals(&lines);
            assert_eq!(g, gross, "{gross}");
            assert_eq!(n + t, g);
            for l in &lines {
                assert!(l.tax >= 0 && l.net >= 0);
            }
        }
        // 2,500 of 12,000: 2000/12000 at 9 % → 416.67 → 417; 21 % → 2083.
        let lines = credit_lines(&open, 2500);
        assert_eq!(lines[0].gross, 417);
        assert_eq!(lines[1].gross, 2083);
        // 21 % of 2083 tax included: 2083 × 2100 / 12100 = 361.5 → 362 (half away from zero).
        assert_eq!(lines[1].tax, 362);
    }

    #[test]
    fn the_open_lines_are_the_invoice_less_its_credit_notes() {
        let invoice = vec![line(2100, 8264, 1736)];
        let first = credit_lines(&invoice, 2500);
        let open = open_lines(&invoice, &first);
        let rest = credit_lines(&open, 10_000 - 2500);
        let (n, t, g) = Document::totals(&[first, rest].concat());
        assert_eq!((n, t, g), (8264, 1736, 10_000));
    }

    #[test]
    fn exports_carry_their_exemption() {
        let zero = vec![line(0, 1000, 0)];
        assert!(note_for(&zero, Some("CH")).is_some());
        assert!(note_for(&zero, Some("DE")).is_none());
        assert!(note_for(&[line(2100, 1000, 210)], Some("CH")).is_none());
    }

    #[test]
    fn a_period_is_kept_to_the_end_of_its_last_year() {
        assert_eq!(
            kept_until(2026, 10),
            chrono::NaiveDate::from_ymd_opt(2036, 12, 31).unwrap()
        );
    }
}
