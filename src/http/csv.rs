//! CSV as the staff exports write it and the catalogue import reads it: RFC 4180 (the
//! `csv` crate quotes and unquotes), and guarded against formula injection. A spreadsheet
//! runs a cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return) as a
//! formula, so such a text cell is written with a leading `'` (OWASP's advice), and the
//! import takes that one quote off again, so an export read back is what was written.

use actix_web::web::Bytes;

pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// The characters that make a spreadsheet read a cell as a formula.
fn triggers(first: char) -> bool {
    matches!(first, '=' | '+' | '-' | '@' | '\t' | '\r')
}

/// Whether a cell is written with a guard: it would start a formula, or it already looks
/// guarded (so that reading it back does not take off a quote that was its own).
fn needs_guard(cell: &str) -> bool {
    match cell.chars().next() {
        Some('\'') => needs_guard(&cell[1..]),
        Some(c) => triggers(c),
        None => false,
    }
}

/// A text cell as written: prefixed with `'` when it would start a formula.
pub fn guard(cell: &str) -> std::borrow::Cow<'_, str> {
    if needs_guard(cell) {
        format!("'{cell}").into()
    } else {
        cell.into()
    }
}

/// A text cell as read: the guard's quote taken off.
pub fn unguard(cell: &str) -> &str {
    match cell.strip_prefix('\'') {
        Some(rest) if needs_guard(rest) => rest,
        _ => cell,
    }
}

/// Records written to bytes, one chunk of a streamed response at a time.
pub fn chunk<R, I>(records: R) -> Result<Bytes, csv::Error>
where
    R: IntoIterator<Item = I>,
    I: IntoIterator,
    I::Item: AsRef<[u8]>,
{
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for record in records {
        writer.write_record(record)?;
    }
    writer
        .into_inner()
        .map(Bytes::from)
        .map_err(|e| csv::Error::from(e.into_error()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formula_cells_are_guarded_and_read_back_as_written() {
        for cell in ["=SUM(A1)", "+1", "-2", "@cmd", "\tx", "'=x"] {
            assert!(guard(cell).starts_with('\''));
            assert_eq!(unguard(&guard(cell)), cell);
        }
        for cell in ["plain", "O'Brien", "'quoted", ""] {
            assert_eq!(guard(cell), cell);
            assert_eq!(unguard(cell), cell);
        }
    }

    #[test]
    fn chunks_quote_as_rfc_4180_says() {
        let bytes = chunk([["a,b", "say \"hi\"", "line\nbreak"]]).unwrap_or_default();
        assert_eq!(
            std::str::from_utf8(&bytes).unwrap_or_default(),
            "\"a,b\",\"say \"\"hi\"\"\",\"line\nbreak\"\r\n"
        );
    }
}
