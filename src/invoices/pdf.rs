//! Invoices and credit notes as PDF: one or more A4 pages laid out from a [`Document`].
//!
//! Text is set in DejaVu Sans (regular and bold, shipped in `assets/fonts/` with their
//! licence), embedded as subsetted TrueType fonts so that any name of a European customer
//! (Polish, Czech, Greek, …) prints and can be copied out of the file. krilla writes the PDF;
//! the glyphs and their advances come straight from the font's `cmap` and `hmtx` tables
//! (skrifa), so what is measured for alignment, wrapping and truncation is exactly what is
//! drawn. Text is laid out left to right without kerning, which is all a table of amounts
//! needs.
//!
//! Layout first makes a list of pages of drawing operations, then draws them, so every page
//! can say "Page i of n". Lines flow onto further pages (the table header is repeated); a
//! long description or SKU wraps over up to four lines and is cut with "…" after that;
//! amounts too wide for their column are set smaller. Nothing ever leaves the page, whatever
//! the input.
//!
//! Not handled: right-to-left scripts print in logical order, and characters DejaVu Sans has
//! no glyph for (Chinese, Japanese, Korean) print as empty boxes.

use std::sync::LazyLock;

use chrono::{Datelike, Timelike};
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect};
use krilla::metadata::{DateTime, Metadata};
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::Fill;
use krilla::text::{GlyphId, KrillaGlyph};
use skrifa::instance::{LocationRef, Size};
use skrifa::MetadataProvider;

use super::model::{Document, DocumentKind, DocumentTaxLine, Line};

static REGULAR_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans.ttf");
static BOLD_TTF: &[u8] = include_bytes!("../../assets/fonts/DejaVuSans-Bold.ttf");

/// Why a document could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// An embedded font could not be read (a build with a damaged asset).
    #[error("the embedded font could not be read")]
    Font,
    /// The PDF writer refused the document.
    #[error("the PDF could not be written: {0}")]
    Write(String),
}

/// The document as a PDF file.
pub fn render(doc: &Document) -> Result<Vec<u8>, PdfError> {
    let fonts = FONTS.as_ref().ok_or(PdfError::Font)?;
    let pages = layout(doc, fonts);
    draw(doc, fonts, &pages)
}

/// `12900` of a currency with two decimals and code EUR: `129.00 EUR`. Thousands are grouped
/// with commas (`12,900 JPY`, `1,250.000 KWD`). The sign is the amount's: documents store
/// positive amounts (a credit note says what it is in its title), so none is ever printed
/// for them.
pub fn format_amount(minor: i64, minor_unit: u8, currency: &str) -> String {
    let digits = minor.unsigned_abs().to_string();
    let scale = usize::from(minor_unit);
    let padded = if digits.len() <= scale {
        format!("{}{digits}", "0".repeat(scale + 1 - digits.len()))
    } else {
        digits
    };
    let (whole, fraction) = padded.split_at(padded.len() - scale);
    let mut out = String::new();
    if minor < 0 {
        out.push('-');
    }
    out.push_str(&group_thousands(whole));
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    let code = clean(currency);
    if !code.is_empty() {
        out.push(' ');
        out.push_str(&code);
    }
    out
}

/// A rate in basis points as a percentage: `2100` is `21 %`, `550` is `5.5 %`, `1234` is
/// `12.34 %`.
pub fn format_rate(rate_bp: u32) -> String {
    let (whole, hundredths) = (rate_bp / 100, rate_bp % 100);
    if hundredths == 0 {
        format!("{whole} %")
    } else if hundredths.is_multiple_of(10) {
        format!("{whole}.{} %", hundredths / 10)
    } else {
        format!("{whole}.{hundredths:02} %")
    }
}

/// A count with its thousands grouped: `1,200`.
fn format_quantity(quantity: i64) -> String {
    let grouped = group_thousands(&quantity.unsigned_abs().to_string());
    if quantity < 0 {
        format!("-{grouped}")
    } else {
        grouped
    }
}

fn group_thousands(digits: &str) -> String {
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Text as it is printed: composed (NFC, so "ł" or "ř" typed as a letter and a combining mark
/// is one glyph of the font), with control characters (line breaks, tabs) as spaces, and
/// without surrounding space.
fn clean(text: &str) -> String {
    let composed = icu_normalizer::ComposingNormalizerBorrowed::new_nfc().normalize(text);
    composed
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .trim()
        .to_owned()
}

// --- Fonts -------------------------------------------------------------------------------

/// One face: krilla's handle (which embeds and subsets it) and the tables it is measured by.
struct Face {
    pdf: krilla::text::Font,
    charmap: skrifa::charmap::Charmap<'static>,
    metrics: skrifa::metrics::GlyphMetrics<'static>,
    units_per_em: f32,
}

impl Face {
    fn load(data: &'static [u8]) -> Option<Face> {
        let font = skrifa::FontRef::new(data).ok()?;
        let units_per_em = f32::from(
            font.metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        if units_per_em <= 0.0 {
            return None;
        }
        Some(Face {
            pdf: krilla::text::Font::new(data.into(), 0)?,
            charmap: font.charmap(),
            metrics: font.glyph_metrics(Size::unscaled(), LocationRef::default()),
            units_per_em,
        })
    }

    /// The glyphs of `text`, one per character, with their advances in ems.
    fn glyphs(&self, text: &str) -> Vec<KrillaGlyph> {
        text.char_indices()
            .map(|(at, c)| {
                let glyph = self.charmap.map(c).unwrap_or_default();
                let advance = self.metrics.advance_width(glyph).unwrap_or(0.0) / self.units_per_em;
                KrillaGlyph::new(
                    GlyphId::new(glyph.to_u32()),
                    advance,
                    0.0,
                    0.0,
                    0.0,
                    at..at + c.len_utf8(),
                    None,
                )
            })
            .collect()
    }

    /// The width of `text` at `size` points.
    fn width(&self, text: &str, size: f32) -> f32 {
        text.chars()
            .map(|c| {
                let glyph = self.charmap.map(c).unwrap_or_default();
                self.metrics.advance_width(glyph).unwrap_or(0.0)
            })
            .sum::<f32>()
            / self.units_per_em
            * size
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn face(&self, bold: bool) -> &Face {
        if bold {
            &self.bold
        } else {
            &self.regular
        }
    }

    fn fit(&self, text: &str, size: f32, bold: bool, max_w: f32) -> (String, f32) {
        let w = self.face(bold).width(text, size);
        if w <= max_w {
            return (text.to_owned(), size);
        }
        let smaller = (size * max_w / w).max(MIN_SIZE);
        (self.truncate(text, smaller, bold, max_w), smaller)
    }

    /// `text` cut so that it fits `max_w`, ending in "…" when cut.
    fn truncate(&self, text: &str, size: f32, bold: bool, max_w: f32) -> String {
        if self.face(bold).width(text, size) <= max_w {
            return text.to_owned();
        }
        let mut kept: String = text.to_owned();
        while !kept.is_empty() {
            kept.pop();
            let candidate = format!("{}…", kept.trim_end());
            if self.face(bold).width(&candidate, size) <= max_w {
                return candidate;
            }
        }
        String::new()
    }

    /// `text` broken into lines no wider than `max_w` (between words, or inside a word too
    /// long for a line), at most `max_lines` of them, the last cut with "…" if text is left.
    fn wrap(&self, text: &str, size: f32, bold: bool, max_w: f32, max_lines: usize) -> Vec<String> {
        let mut lines: Vec<String> = Vec::new();
        let mut current = String::new();
        for word in text.split_whitespace() {
            let joined = if current.is_empty() {
                word.to_owned()
            } else {
                format!("{current} {word}")
            };
            if self.face(bold).width(&joined, size) <= max_w {
                current = joined;
                continue;
            }
            if !current.is_empty() {
                lines.push(std::mem::take(&mut current));
            }
            // A word wider than a line is broken after its last hyphen that fits (SKUs), or
            // where it must be.
            for c in word.chars() {
                let mut next = current.clone();
                next.push(c);
                if !current.is_empty() && self.face(bold).width(&next, size) > max_w {
                    let after_hyphen = current.rfind('-').map_or(current.len(), |at| at + 1);
                    let mut carried = current.get(after_hyphen..).unwrap_or_default().to_owned();
                    let mut at = after_hyphen;
                    carried.push(c);
                    if self.face(bold).width(&carried, size) > max_w {
                        at = current.len();
                    }
                    carried = current.get(at..).unwrap_or_default().to_owned();
                    current.truncate(at);
                    lines.push(std::mem::replace(&mut current, carried));
                    current.push(c);
                } else {
                    current = next;
                }
            }
        }
        if !current.is_empty() {
            lines.push(current);
        }
        if lines.len() > max_lines.max(1) {
            lines.truncate(max_lines.max(1));
            if let Some(last) = lines.last_mut() {
                *last = self.truncate(&format!("{last}…"), size, bold, max_w);
            }
        }
        lines
    }
}

static FONTS: LazyLock<Option<Fonts>> = LazyLock::new(|| {
    Some(Fonts {
        regular: Face::load(REGULAR_TTF)?,
        bold: Face::load(BOLD_TTF)?,
    })
});

// --- Page geometry (points, origin at the top left) --------------------------------------

const PAGE_W: f32 = 595.28;
const PAGE_H: f32 = 841.89;
const LEFT: f32 = 50.0;
const RIGHT: f32 = PAGE_W - 50.0;
const TOP: f32 = 50.0;
/// Where content stops; the footer is below.
const BOTTOM: f32 = PAGE_H - 62.0;
const FOOTER_Y: f32 = PAGE_H - 34.0;

const BODY: f32 = 9.0;
const LEADING: f32 = 12.0;
const SMALL: f32 = 8.0;
/// The smallest size an amount is set in to fit its column.
const MIN_SIZE: f32 = 5.0;

const BLACK: u8 = 0;
const GREY: u8 = 100;
const RULE_GREY: u8 = 190;
const BAND_GREY: u8 = 235;

/// The columns of the table of lines: description and SKU left-aligned from their left
/// edge, the others right-aligned at their right edge.
const DESC_X: f32 = LEFT + 4.0;
const DESC_W: f32 = 192.0;
const SKU_X: f32 = 252.0;
const SKU_W: f32 = 76.0;
const QTY_R: f32 = 370.0;
const QTY_W: f32 = 36.0;
const UNIT_R: f32 = 455.0;
const UNIT_W: f32 = 80.0;
const AMOUNT_R: f32 = RIGHT - 4.0;
const AMOUNT_W: f32 = 82.0;

/// The VAT summary and the totals sit in the right part of the page.
const SUMMARY_X: f32 = 280.0;
const SUMMARY_W: f32 = RIGHT - SUMMARY_X;

/// A description prints on at most this many lines.
const DESCRIPTION_LINES: usize = 4;
/// An address prints this many of its lines at most (each wrapped over up to three), so the
/// head of the first page always leaves room for the table.
const ADDRESS_LINES: usize = 6;

// --- Layout ------------------------------------------------------------------------------

#[derive(Debug, Clone, PartialEq)]
enum Op {
    Text {
        x: f32,
        y: f32,
        size: f32,
        bold: bool,
        grey: u8,
        text: String,
    },
    Rect {
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        grey: u8,
    },
}

struct Layout<'a> {
    fonts: &'a Fonts,
    doc: &'a Document,
    pages: Vec<Vec<Op>>,
    y: f32,
}

impl<'a> Layout<'a> {
    fn ops(&mut self) -> &mut Vec<Op> {
        if self.pages.is_empty() {
            self.pages.push(Vec::new());
        }
        let last = self.pages.len() - 1;
        &mut self.pages[last]
    }

    fn width(&self, text: &str, size: f32, bold: bool) -> f32 {
        self.fonts.face(bold).width(text, size)
    }

    fn truncate(&self, text: &str, size: f32, bold: bool, max_w: f32) -> String {
        self.fonts.truncate(text, size, bold, max_w)
    }

    fn wrap(&self, text: &str, size: f32, bold: bool, max_w: f32, max_lines: usize) -> Vec<String> {
        self.fonts.wrap(text, size, bold, max_w, max_lines)
    }

    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, grey: u8, text: String) {
        if !text.is_empty() {
            self.ops().push(Op::Text {
                x,
                y,
                size,
                bold,
                grey,
                text,
            });
        }
    }

    /// `text` on one line from `x`, cut with "…" to `max_w`.
    fn text_left(&mut self, x: f32, y: f32, size: f32, bold: bool, text: &str, max_w: f32) {
        let text = self.truncate(text, size, bold, max_w);
        self.text(x, y, size, bold, BLACK, text);
    }

    /// `text` on one line ending at `right`, set smaller (down to [`MIN_SIZE`]) and then cut
    /// if it is wider than `max_w`.
    fn text_right(&mut self, right: f32, y: f32, size: f32, bold: bool, text: &str, max_w: f32) {
        let (text, size) = self.fonts.fit(text, size, bold, max_w);
        let x = right - self.width(&text, size, bold);
        self.text(x, y, size, bold, BLACK, text);
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32, grey: u8) {
        self.ops().push(Op::Rect { x, y, w, h, grey });
    }

    fn rule(&mut self, x: f32, y: f32, w: f32) {
        self.rect(x, y, w, 0.5, RULE_GREY);
    }

    /// Starts a new page, with a short heading that says which document it continues.
    fn new_page(&mut self) {
        self.pages.push(Vec::new());
        let heading = format!(
            "{} {} (continued)",
            self.doc.kind.title(),
            clean(&self.doc.number)
        );
        self.text_left(LEFT, TOP + 11.0, 11.0, true, &heading, RIGHT - LEFT);
        self.y = TOP + 30.0;
    }

    /// Goes to a new page unless `height` more fits on this one.
    fn ensure(&mut self, height: f32) -> bool {
        if self.y + height > BOTTOM {
            self.new_page();
            true
        } else {
            false
        }
    }

    /// Lines of a block (a name then address lines) from `x`, wrapped to `w`.
    fn block(&mut self, x: f32, mut y: f32, w: f32, first_bold: bool, lines: &[String]) -> f32 {
        for (i, line) in lines.iter().enumerate() {
            let bold = first_bold && i == 0;
            let size = if bold { 10.0 } else { BODY };
            for part in self.wrap(line, size, bold, w, 3) {
                y += LEADING;
                self.text(x, y, size, bold, BLACK, part);
            }
        }
        y
    }

    fn header(&mut self) {
        let doc = self.doc;
        let seller_w = 260.0;
        // The seller, top left.
        let seller_name = clean(&doc.seller.name);
        let mut y = TOP;
        for part in self.wrap(&seller_name, 13.0, true, seller_w, 2) {
            y += 15.0;
            self.text(LEFT, y, 13.0, true, BLACK, part);
        }
        let mut seller: Vec<String> = (doc.seller.address.iter())
            .take(ADDRESS_LINES)
            .map(|l| clean(l))
            .collect();
        if let Some(vat_id) = &doc.seller.vat_id {
            seller.push(format!("VAT ID: {}", clean(vat_id)));
        }
        let seller_bottom = self.block(LEFT, y + 2.0, seller_w, false, &seller);

        // The title and the document's references, top right.
        let meta_x = 340.0;
        let title = doc.kind.title();
        self.text_right(RIGHT, TOP + 20.0, 22.0, true, title, RIGHT - meta_x);
        let mut rows: Vec<(&str, String)> = vec![
            ("Number", clean(&doc.number)),
            ("Issue date", date(doc.issued_at)),
            ("Order", clean(&doc.order_number)),
        ];
        if doc.kind == DocumentKind::CreditNote || doc.corrects.is_some() {
            let corrected = doc.corrects.as_deref().map(clean).unwrap_or_default();
            rows.push(("Corrects invoice", corrected));
        }
        if let Some(country) = &doc.tax_country {
            rows.push(("VAT country", clean(country)));
        }
        let label_w = 78.0;
        let mut meta_y = TOP + 28.0;
        for (label, value) in rows {
            meta_y += LEADING;
            self.text(meta_x, meta_y, SMALL, false, GREY, label.to_owned());
            self.text_right(RIGHT, meta_y, BODY, false, &value, RIGHT - meta_x - label_w);
        }

        // The buyer, under the seller.
        let mut y = seller_bottom.max(meta_y) + 26.0;
        self.text(LEFT, y, SMALL, true, GREY, "Bill to".to_owned());
        match &doc.buyer {
            Some(buyer) => {
                let mut lines = vec![clean(&buyer.name)];
                lines.extend(buyer.address.iter().take(ADDRESS_LINES).map(|l| clean(l)));
                lines.push(clean(&buyer.country));
                lines.retain(|l| !l.is_empty());
                y = self.block(LEFT, y + 2.0, seller_w, true, &lines);
            }
            None => {
                let erased = "Buyer's details erased at the end of the legal retention period";
                for part in self.wrap(erased, BODY, false, seller_w, 3) {
                    y += LEADING + 2.0;
                    self.text(LEFT, y, BODY, false, GREY, part);
                }
            }
        }
        self.y = y + 24.0;

        let mention = if doc.prices_include_tax {
            "Prices include VAT."
        } else {
            "Prices exclude VAT."
        };
        let currency = clean(&doc.currency);
        let mention = if currency.is_empty() {
            mention.to_owned()
        } else {
            format!("Amounts in {currency}. {mention}")
        };
        let y = self.y;
        self.text_left(LEFT, y, BODY, false, &mention, RIGHT - LEFT);
        self.y += 10.0;
    }

    fn table_header(&mut self) {
        let y = self.y;
        self.rect(LEFT, y, RIGHT - LEFT, 16.0, BAND_GREY);
        let base = y + 11.0;
        self.text(DESC_X, base, SMALL, true, BLACK, "Description".to_owned());
        self.text(SKU_X, base, SMALL, true, BLACK, "SKU".to_owned());
        self.text_right(QTY_R, base, SMALL, true, "Qty", QTY_W);
        self.text_right(UNIT_R, base, SMALL, true, "Unit price", UNIT_W);
        self.text_right(AMOUNT_R, base, SMALL, true, "Amount", AMOUNT_W);
        self.y += 16.0;
    }

    fn table_row(&mut self, line: &Line) {
        let doc = self.doc;
        let mut description = self.wrap(
            &clean(&line.description),
            BODY,
            false,
            DESC_W,
            DESCRIPTION_LINES,
        );
        if description.is_empty() {
            description.push(String::new());
        }
        // A SKU is a reference someone may type: wrapped (inside the word), never cut short
        // unless it is absurdly long.
        let sku = line.sku.as_deref().map(clean).unwrap_or_default();
        let sku = self.wrap(&sku, SMALL, false, SKU_W, DESCRIPTION_LINES);
        let height = description.len().max(sku.len()) as f32 * LEADING + 6.0;
        if self.ensure(height) {
            self.table_header();
        }
        let first = self.y + 4.0 + LEADING - 2.5;
        for (i, part) in description.into_iter().enumerate() {
            self.text(DESC_X, first + i as f32 * LEADING, BODY, false, BLACK, part);
        }
        for (i, part) in sku.into_iter().enumerate() {
            self.text(SKU_X, first + i as f32 * LEADING, SMALL, false, GREY, part);
        }
        let quantity = format_quantity(line.quantity);
        self.text_right(QTY_R, first, BODY, false, &quantity, QTY_W);
        let unit = format_amount(line.unit_amount, doc.minor_unit, &doc.currency);
        self.text_right(UNIT_R, first, BODY, false, &unit, UNIT_W);
        let amount = format_amount(line.amount, doc.minor_unit, &doc.currency);
        self.text_right(AMOUNT_R, first, BODY, false, &amount, AMOUNT_W);
        self.y += height;
        let y = self.y;
        self.rule(LEFT, y, RIGHT - LEFT);
    }

    fn vat_header(&mut self) {
        let y = self.y;
        self.rect(SUMMARY_X, y, SUMMARY_W, 16.0, BAND_GREY);
        let base = y + 11.0;
        self.text(
            SUMMARY_X + 4.0,
            base,
            SMALL,
            true,
            BLACK,
            "VAT rate".to_owned(),
        );
        for ((right, w), label) in SUMMARY_COLUMNS.into_iter().zip(["Net", "VAT", "Gross"]) {
            self.text_right(right, base, SMALL, true, label, w);
        }
        self.y += 16.0;
    }

    fn vat_row(&mut self, line: &DocumentTaxLine) {
        let doc = self.doc;
        if self.ensure(LEADING + 6.0) {
            self.vat_header();
        }
        let base = self.y + LEADING + 1.0;
        self.text(
            SUMMARY_X + 4.0,
            base,
            BODY,
            false,
            BLACK,
            format_rate(line.rate_bp),
        );
        let amounts = [line.net, line.tax, line.gross];
        for ((right, w), amount) in SUMMARY_COLUMNS.into_iter().zip(amounts) {
            let text = format_amount(amount, doc.minor_unit, &doc.currency);
            self.text_right(right, base, BODY, false, &text, w);
        }
        self.y += LEADING + 6.0;
        let y = self.y;
        self.rule(SUMMARY_X, y, SUMMARY_W);
    }

    fn totals(&mut self) {
        let doc = self.doc;
        let rows = [
            ("Net total", doc.net_total, false),
            ("VAT total", doc.tax_total, false),
            ("Total", doc.gross_total, true),
        ];
        for (label, amount, strong) in rows {
            let size = if strong { 11.0 } else { BODY };
            let step = if strong { 20.0 } else { LEADING + 2.0 };
            self.ensure(step);
            if strong {
                let y = self.y + 3.0;
                self.rect(SUMMARY_X, y, SUMMARY_W, 0.8, BLACK);
            }
            self.y += step;
            let y = self.y;
            self.text(SUMMARY_X + 4.0, y, size, strong, BLACK, label.to_owned());
            let text = format_amount(amount, doc.minor_unit, &doc.currency);
            self.text_right(RIGHT - 4.0, y, size, strong, &text, SUMMARY_W - 90.0);
        }
    }

    fn note(&mut self, note: &str) {
        let lines = self.wrap(&clean(note), SMALL + 0.5, false, RIGHT - LEFT, usize::MAX);
        self.y += 12.0;
        for line in lines {
            self.ensure(LEADING);
            self.y += LEADING - 1.0;
            let y = self.y;
            self.text(LEFT, y, SMALL + 0.5, false, BLACK, line);
        }
    }

    /// The height of what follows the table (VAT summary, totals, note) when it is short
    /// enough to be kept on one page.
    fn closing_height(&self) -> f32 {
        let note_lines = self.doc.note.as_deref().map_or(0, |n| {
            self.wrap(&clean(n), SMALL + 0.5, false, RIGHT - LEFT, 40)
                .len()
        });
        let vat = 20.0 + 16.0 + self.doc.tax_lines.len() as f32 * (LEADING + 6.0);
        let totals = 2.0 * (LEADING + 2.0) + 20.0;
        let note = if note_lines > 0 {
            12.0 + note_lines as f32 * LEADING
        } else {
            0.0
        };
        vat + totals + note
    }
}

/// The right edges and widths of the net, VAT and gross columns of the VAT summary.
const SUMMARY_COLUMNS: [(f32, f32); 3] = [
    (SUMMARY_X + 100.0, 62.0),
    (SUMMARY_X + 180.0, 72.0),
    (RIGHT - 4.0, 75.0),
];

fn date(at: chrono::NaiveDateTime) -> String {
    format!("{:04}-{:02}-{:02}", at.year(), at.month(), at.day())
}

/// The pages of `doc`, each a list of drawing operations (footers not included).
fn layout(doc: &Document, fonts: &Fonts) -> Vec<Vec<Op>> {
    let mut l = Layout {
        fonts,
        doc,
        pages: vec![Vec::new()],
        y: TOP,
    };
    l.header();
    l.table_header();
    for line in &doc.lines {
        l.table_row(line);
    }
    l.y += 20.0;
    let closing = l.closing_height();
    if closing <= BOTTOM - TOP - 30.0 {
        l.ensure(closing);
    }
    if !doc.tax_lines.is_empty() {
        l.ensure(16.0 + LEADING + 6.0);
        l.vat_header();
        for line in &doc.tax_lines {
            l.vat_row(line);
        }
    }
    l.totals();
    if let Some(note) = doc.note.as_deref().filter(|n| !clean(n).is_empty()) {
        l.note(note);
    }
    l.pages
}

// --- Drawing -----------------------------------------------------------------------------

fn draw(doc: &Document, fonts: &Fonts, pages: &[Vec<Op>]) -> Result<Vec<u8>, PdfError> {
    let mut pdf = krilla::Document::new();
    let title = format!("{} {}", doc.kind.title(), clean(&doc.number));
    let mut metadata = Metadata::new()
        .title(title.clone())
        .creator("Valise".to_owned())
        .language("en".to_owned());
    if let Ok(year) = u16::try_from(doc.issued_at.year()) {
        let at = doc.issued_at;
        // The issue time, so the same document always gives the same bytes.
        metadata = metadata.creation_date(
            DateTime::new(year)
                .month(u8::try_from(at.month()).unwrap_or(1))
                .day(u8::try_from(at.day()).unwrap_or(1))
                .hour(u8::try_from(at.hour()).unwrap_or(0))
                .minute(u8::try_from(at.minute()).unwrap_or(0))
                .second(u8::try_from(at.second()).unwrap_or(0)),
        );
    }
    pdf.set_metadata(metadata);

    let settings = PageSettings::from_wh(PAGE_W, PAGE_H)
        .ok_or_else(|| PdfError::Write("page size".to_owned()))?;
    let count = pages.len();
    for (index, ops) in pages.iter().enumerate() {
        let mut page = pdf.start_page_with(settings.clone());
        let mut surface = page.surface();
        for op in ops {
            draw_op(&mut surface, fonts, op);
        }
        let footer = [
            Op::Rect {
                x: LEFT,
                y: FOOTER_Y - 12.0,
                w: RIGHT - LEFT,
                h: 0.5,
                grey: RULE_GREY,
            },
            Op::Text {
                x: LEFT,
                y: FOOTER_Y,
                size: 7.5,
                bold: false,
                grey: GREY,
                text: fonts.truncate(
                    &format!("{} · {}", clean(&doc.seller.name), title),
                    7.5,
                    false,
                    380.0,
                ),
            },
        ];
        for op in &footer {
            draw_op(&mut surface, fonts, op);
        }
        let numbering = format!("Page {} of {count}", index + 1);
        let x = RIGHT - fonts.regular.width(&numbering, 7.5);
        draw_op(
            &mut surface,
            fonts,
            &Op::Text {
                x,
                y: FOOTER_Y,
                size: 7.5,
                bold: false,
                grey: GREY,
                text: numbering,
            },
        );
        surface.finish();
        page.finish();
    }
    pdf.finish().map_err(|e| PdfError::Write(e.to_string()))
}

fn draw_op(surface: &mut krilla::surface::Surface<'_>, fonts: &Fonts, op: &Op) {
    match op {
        Op::Text {
            x,
            y,
            size,
            bold,
            grey,
            text,
        } => {
            let face = fonts.face(*bold);
            let glyphs = face.glyphs(text);
            surface.set_fill(Some(fill(*grey)));
            surface.draw_glyphs(
                Point::from_xy(*x, *y),
                &glyphs,
                face.pdf.clone(),
                text,
                *size,
                false,
            );
        }
        Op::Rect { x, y, w, h, grey } => {
            let Some(rect) = Rect::from_xywh(*x, *y, *w, *h) else {
                return;
            };
            let mut builder = PathBuilder::new();
            builder.push_rect(rect);
            if let Some(path) = builder.finish() {
                surface.set_fill(Some(fill(*grey)));
                surface.draw_path(&path);
            }
        }
    }
}

fn fill(grey: u8) -> Fill {
    Fill {
        paint: luma::Color::new(grey).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::invoices::model::{Buyer, Seller};

    fn seller() -> Seller {
        Seller {
            name: "Valise GmbH".to_owned(),
            address: vec![
                "Kofferstraße 12".to_owned(),
                "10115 Berlin".to_owned(),
                "Germany".to_owned(),
            ],
            vat_id: Some("DE123456789".to_owned()),
        }
    }

    fn buyer(name: &str) -> Buyer {
        Buyer {
            name: name.to_owned(),
            address: vec!["ul. Długa 5/7".to_owned(), "00-238 Warszawa".to_owned()],
            country: "PL".to_owned(),
        }
    }

    fn line(description: &str, sku: Option<&str>, quantity: i64, unit: i64) -> Line {
        Line {
            description: description.to_owned(),
            sku: sku.map(str::to_owned),
            quantity,
            unit_amount: unit,
            amount: quantity * unit,
        }
    }

    fn with_totals(mut doc: Document) -> Document {
        let (net, tax, gross) = Document::totals(&doc.tax_lines);
        doc.net_total = net;
        doc.tax_total = tax;
        doc.gross_total = gross;
        doc
    }

    /// An invoice in euros, prices including VAT at two rates.
    fn invoice() -> Document {
        with_totals(Document {
            kind: DocumentKind::Invoice,
            number: "INV-2026-000042".to_owned(),
            issued_at: chrono::NaiveDate::from_ymd_opt(2026, 3, 14)
                .and_then(|d| d.and_hms_opt(9, 30, 0))
                .unwrap(),
            order_number: "V-2026-0815".to_owned(),
            corrects: None,
            currency: "EUR".to_owned(),
            minor_unit: 2,
            prices_include_tax: true,
            tax_country: Some("PL".to_owned()),
            seller: seller(),
            buyer: Some(buyer("Łukasz Żółć")),
            lines: vec![
                line(
                    "Cabin trolley 55 cm, graphite",
                    Some("CT-55-GRA"),
                    1,
                    12_900,
                ),
                line("Packing cubes, set of 3", Some("PC-3-NAVY"), 2, 2_450),
                line("Travel guide: Kraków", Some("BK-KRK-EN"), 1, 1_900),
                line("Shipping", None, 1, 990),
            ],
            tax_lines: vec![
                DocumentTaxLine {
                    rate_bp: 500,
                    net: 1_810,
                    tax: 90,
                    gross: 1_900,
                },
                DocumentTaxLine {
                    rate_bp: 2300,
                    net: 15_211,
                    tax: 3_499,
                    gross: 18_710,
                },
            ],
            net_total: 0,
            tax_total: 0,
            gross_total: 0,
            note: None,
        })
    }

    /// The page objects in the file (`/Type/Page`, not the `/Type/Pages` tree).
    fn page_count(pdf: &[u8]) -> usize {
        let text = String::from_utf8_lossy(pdf).replace("/Type /", "/Type/");
        text.matches("/Type/Page").count() - text.matches("/Type/Pages").count()
    }

    fn assert_pdf(pdf: &[u8]) {
        assert!(pdf.starts_with(b"%PDF-"), "no header");
        let end = String::from_utf8_lossy(&pdf[pdf.len().saturating_sub(16)..]).into_owned();
        assert!(end.trim_end().ends_with("%%EOF"), "no trailer: {end:?}");
    }

    fn all_text(pages: &[Vec<Op>]) -> Vec<String> {
        pages
            .iter()
            .flatten()
            .filter_map(|op| match op {
                Op::Text { text, .. } => Some(text.clone()),
                Op::Rect { .. } => None,
            })
            .collect()
    }

    fn fonts() -> &'static Fonts {
        FONTS.as_ref().unwrap()
    }

    /// Every operation stays inside the page's margins.
    fn assert_inside(pages: &[Vec<Op>]) {
        let fonts = fonts();
        for op in pages.iter().flatten() {
            match op {
                Op::Text {
                    x,
                    y,
                    size,
                    bold,
                    text,
                    ..
                } => {
                    let w = fonts.face(*bold).width(text, *size);
                    assert!(
                        *x >= LEFT - 0.01 && x + w <= RIGHT + 0.01,
                        "{text:?} at {x} wide {w}"
                    );
                    assert!(*y >= TOP && *y <= BOTTOM, "{text:?} at y {y}");
                }
                Op::Rect { x, y, w, h, .. } => {
                    assert!(*x >= LEFT - 0.01 && x + w <= RIGHT + 0.01);
                    assert!(*y >= TOP && y + h <= BOTTOM);
                }
            }
        }
    }

    #[test]
    fn amounts_print_with_the_currency_exponent_and_code() {
        assert_eq!(format_amount(12_900, 2, "EUR"), "129.00 EUR");
        assert_eq!(format_amount(5, 2, "EUR"), "0.05 EUR");
        assert_eq!(format_amount(0, 2, "EUR"), "0.00 EUR");
        assert_eq!(format_amount(123_456_789, 2, "EUR"), "1,234,567.89 EUR");
        assert_eq!(format_amount(12_900, 0, "JPY"), "12,900 JPY");
        assert_eq!(format_amount(999, 0, "JPY"), "999 JPY");
        assert_eq!(format_amount(1_250, 3, "KWD"), "1.250 KWD");
        assert_eq!(format_amount(7, 3, "KWD"), "0.007 KWD");
        assert_eq!(format_amount(1_250_000, 3, "KWD"), "1,250.000 KWD");
        assert_eq!(format_amount(-12_900, 2, "EUR"), "-129.00 EUR");
        assert_eq!(
            format_amount(i64::MIN, 2, "EUR"),
            "-92,233,720,368,547,758.08 EUR"
        );
        assert_eq!(format_amount(1, 255, "X").len(), 259);
    }

    #[test]
    fn rates_print_as_percentages() {
        assert_eq!(format_rate(2100), "21 %");
        assert_eq!(format_rate(550), "5.5 %");
        assert_eq!(format_rate(1234), "12.34 %");
        assert_eq!(format_rate(705), "7.05 %");
        assert_eq!(format_rate(0), "0 %");
        assert_eq!(format_quantity(1_200), "1,200");
        assert_eq!(format_quantity(-3), "-3");
    }

    #[test]
    fn text_is_composed_and_on_one_line() {
        assert_eq!(clean("  Łukasz\nŻółć\t"), "Łukasz Żółć");
        // "r" and a combining caron become "ř", which the font has as one glyph.
        assert_eq!(clean("r\u{30C}"), "ř");
    }

    #[test]
    fn wrapping_keeps_every_line_within_its_width_and_cuts_the_rest() {
        let fonts = fonts();
        let long = "Hard-shell suitcase ".repeat(30);
        let lines = fonts.wrap(&long, BODY, false, DESC_W, DESCRIPTION_LINES);
        assert_eq!(lines.len(), DESCRIPTION_LINES);
        assert!(lines.iter().all(|l| fonts.regular.width(l, BODY) <= DESC_W));
        assert!(lines.last().unwrap().ends_with('…'));
        // One word wider than a line is broken inside.
        let word = "x".repeat(200);
        let lines = fonts.wrap(&word, BODY, false, DESC_W, 10);
        assert!(lines.len() > 1);
        assert_eq!(lines.concat(), word);
        // A long SKU breaks after a hyphen.
        let lines = fonts.wrap("LS-BLK-EXTRA-LONG-SKU-0001", SMALL, false, SKU_W, 4);
        assert_eq!(lines, ["LS-BLK-EXTRA-", "LONG-SKU-0001"]);
        let odd = format!("-{}-{}", "W".repeat(40), "-".repeat(40));
        let lines = fonts.wrap(&odd, SMALL, false, SKU_W, 40);
        assert_eq!(lines.concat(), odd);
        assert!(lines.iter().all(|l| fonts.regular.width(l, SMALL) <= SKU_W));
        // Nothing fits: no endless loop, one character a line.
        assert_eq!(fonts.wrap("abc", BODY, false, 0.0, 10).len(), 3);
        assert!(fonts.wrap("", BODY, false, DESC_W, 3).is_empty());
        let cut = fonts.truncate(&word, BODY, false, 50.0);
        assert!(cut.ends_with('…') && fonts.regular.width(&cut, BODY) <= 50.0);
    }

    #[test]
    fn an_invoice_in_euros_with_two_rates_renders() {
        let doc = invoice();
        let pages = layout(&doc, fonts());
        assert_eq!(pages.len(), 1);
        assert_inside(&pages);
        let text = all_text(&pages);
        for expected in [
            "Invoice",
            "INV-2026-000042",
            "2026-03-14",
            "V-2026-0815",
            "Valise GmbH",
            "VAT ID: DE123456789",
            "Łukasz Żółć",
            "Amounts in EUR. Prices include VAT.",
            "5 %",
            "23 %",
            "129.00 EUR",
            "49.00 EUR",
            "206.10 EUR",
            "Total",
        ] {
            assert!(
                text.iter().any(|t| t == expected),
                "{expected} missing: {text:?}"
            );
        }
        assert!(!text.iter().any(|t| t.contains("Corrects")));
        let pdf = render(&doc).unwrap();
        assert_pdf(&pdf);
        assert_eq!(page_count(&pdf), 1);
        // The two faces are subsetted: a typical invoice stays small.
        assert!(pdf.len() < 60_000, "{} bytes", pdf.len());
        // The same document gives the same bytes.
        assert_eq!(render(&doc).unwrap(), pdf);
    }

    #[test]
    fn a_yen_invoice_has_no_decimals() {
        let mut doc = invoice();
        doc.currency = "JPY".to_owned();
        doc.minor_unit = 0;
        doc.prices_include_tax = false;
        doc.tax_country = Some("JP".to_owned());
        doc.lines = vec![line("Cabin trolley", Some("CT-55-GRA"), 1, 12_900)];
        doc.tax_lines = vec![DocumentTaxLine {
            rate_bp: 0,
            net: 12_900,
            tax: 0,
            gross: 12_900,
        }];
        doc.note = super::super::model::note_for(&doc.tax_lines, Some("JP"));
        let doc = with_totals(doc);
        let pages = layout(&doc, fonts());
        assert_inside(&pages);
        let text = all_text(&pages);
        assert!(text.iter().any(|t| t == "12,900 JPY"));
        assert!(text
            .iter()
            .any(|t| t == "Amounts in JPY. Prices exclude VAT."));
        assert!(text.iter().any(|t| t.starts_with("Export outside the EU")));
        assert_pdf(&render(&doc).unwrap());
    }

    #[test]
    fn a_dinar_credit_note_says_what_it_corrects_with_positive_amounts() {
        let mut doc = invoice();
        doc.kind = DocumentKind::CreditNote;
        doc.number = "CN-2026-000007".to_owned();
        doc.corrects = Some("INV-2026-000042".to_owned());
        doc.currency = "KWD".to_owned();
        doc.minor_unit = 3;
        doc.buyer = Some(buyer("Δημήτρης Παπαδόπουλος"));
        doc.lines = vec![line("Refund of order V-2026-0815", None, 1, 1_250)];
        doc.tax_lines = vec![DocumentTaxLine {
            rate_bp: 550,
            net: 1_185,
            tax: 65,
            gross: 1_250,
        }];
        let doc = with_totals(doc);
        let pages = layout(&doc, fonts());
        assert_inside(&pages);
        let text = all_text(&pages);
        for expected in [
            "Credit note",
            "CN-2026-000007",
            "Corrects invoice",
            "INV-2026-000042",
            "Δημήτρης Παπαδόπουλος",
            "1.250 KWD",
            "5.5 %",
        ] {
            assert!(
                text.iter().any(|t| t == expected),
                "{expected} missing: {text:?}"
            );
        }
        assert!(!text.iter().any(|t| t.starts_with('-')));
        assert_pdf(&render(&doc).unwrap());
    }

    #[test]
    fn an_erased_buyer_is_said_to_be_erased() {
        let mut doc = invoice();
        doc.buyer = None;
        let pages = layout(&doc, fonts());
        let text = all_text(&pages).join(" ");
        assert!(
            text.contains("Buyer's details erased at the end of the legal retention period"),
            "{text}"
        );
        assert!(!text.contains("Łukasz"));
        assert_pdf(&render(&doc).unwrap());
    }

    #[test]
    fn a_hundred_and_twenty_lines_flow_onto_further_pages() {
        let mut doc = invoice();
        doc.lines = (1..=120)
            .map(|i| {
                let description = if i % 10 == 0 {
                    format!(
                        "Line {i}: {}",
                        "a very long description of a suitcase ".repeat(20)
                    )
                } else {
                    format!("Line {i}: luggage strap")
                };
                line(
                    &description,
                    Some(&format!("SKU-{i:04}-ABCDEFGHIJKLMNOP")),
                    i,
                    1_000,
                )
            })
            .collect();
        doc.note = Some("A note. ".repeat(60));
        let pages = layout(&doc, fonts());
        assert!(pages.len() >= 3, "{} pages", pages.len());
        assert_inside(&pages);
        let text = all_text(&pages);
        for i in [1, 60, 120] {
            let start = format!("Line {i}:");
            assert!(text.iter().any(|t| t.starts_with(&start)), "{start}");
        }
        // The table header is repeated on every page.
        assert_eq!(
            text.iter().filter(|t| *t == "Description").count(),
            pages.len()
        );
        let pdf = render(&doc).unwrap();
        assert_pdf(&pdf);
        assert_eq!(page_count(&pdf), pages.len());
    }

    #[test]
    fn odd_input_renders_without_panicking_or_leaving_the_page() {
        let mut doc = invoice();
        doc.seller.name = "S".repeat(500);
        doc.seller.address = vec!["\n\t".to_owned(), "y".repeat(400)];
        doc.seller
            .address
            .extend((0..50).map(|i| format!("{i} {}", "street ".repeat(40))));
        doc.seller.vat_id = Some("V".repeat(200));
        doc.number = "N".repeat(300);
        doc.order_number = String::new();
        doc.currency = "EURO-DOLLAR-YEN".to_owned();
        doc.minor_unit = 40;
        let mut odd_buyer = buyer(&"漢字 ".repeat(100));
        odd_buyer.address = (0..50)
            .map(|i| format!("{i} {}", "rue ".repeat(60)))
            .collect();
        doc.buyer = Some(odd_buyer);
        doc.lines = vec![
            line("", None, i64::MAX, 1),
            Line {
                description: "\u{0}".to_owned(),
                sku: Some(String::new()),
                quantity: i64::MIN,
                unit_amount: i64::MIN,
                amount: i64::MAX,
            },
        ];
        doc.tax_lines = (0..80)
            .map(|i| DocumentTaxLine {
                rate_bp: u32::MAX - i,
                net: i64::MAX,
                tax: i64::MIN,
                gross: 0,
            })
            .collect();
        doc.net_total = i64::MAX;
        doc.tax_total = i64::MIN;
        doc.gross_total = -1;
        doc.note = Some(" ".to_owned());
        let pages = layout(&doc, fonts());
        assert_inside(&pages);
        assert_pdf(&render(&doc).unwrap());
    }

    /// Writes an example to the temporary directory, to look at with a PDF viewer:
    /// `cargo test --lib invoices::pdf -- --ignored`.
    #[test]
    #[ignore]
    fn write_examples() {
        let dir = std::env::temp_dir();
        std::fs::write(dir.join("example-invoice.pdf"), render(&invoice()).unwrap()).unwrap();
        let mut long = invoice();
        long.lines = (1..=120)
            .map(|i| {
                let description = if i % 25 == 0 {
                    format!(
                        "Line {i}: {}",
                        "hard-shell spinner, polycarbonate, TSA lock ".repeat(8)
                    )
                } else {
                    format!("Line {i}: luggage strap, black")
                };
                let sku = if i % 25 == 0 {
                    "LS-BLK-EXTRA-LONG-0001"
                } else {
                    "LS-BLK"
                };
                line(&description, Some(sku), 1, 1_290)
            })
            .collect();
        long.note = Some("Thank you for your order.".to_owned());
        std::fs::write(dir.join("example-long.pdf"), render(&long).unwrap()).unwrap();
        let mut credit = invoice();
        credit.kind = DocumentKind::CreditNote;
        credit.number = "CN-2026-000007".to_owned();
        credit.corrects = Some("INV-2026-000042".to_owned());
        credit.buyer = None;
        credit.currency = "KWD".to_owned();
        credit.minor_unit = 3;
        credit.lines = vec![line("Refund of order V-2026-0815", None, 1, 1_250)];
        credit.tax_lines = vec![DocumentTaxLine {
            rate_bp: 550,
            net: 1_185,
            tax: 65,
            gross: 1_250,
        }];
        let mut credit = with_totals(credit);
        credit.note = Some("Refunded to the card the order was paid with.".to_owned());
        std::fs::write(
            dir.join("example-credit-note.pdf"),
            render(&credit).unwrap(),
        )
        .unwrap();
    }
}
