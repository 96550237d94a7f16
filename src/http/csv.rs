//! CSV as the staff exports write it and the catalogue import reads it: RFC 4180 (the
//! `csv` crate quotes and unquotes), and guarded against formula injection. A spreadsheet
//! runs a cell that starts with `=`, `+`, `-`, `@` (or a tab or carriage return) as a
//! formula, so such a text cell is written with a leading `'` (OWASP's advice), and the
//! import takes that one quote off again, so an export read back is what was written.

use actix_web::web::{self, Bytes};
use futures_util::Stream;

use crate::db::{Db, DbConnection};
use crate::http::error::ApiError;

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

/// One page of a streamed export: its records, and where the next page starts (`None`
/// after the last one).
pub struct Page<R, C> {
    pub records: Vec<R>,
    pub next: Option<C>,
}

/// A CSV body read from the database one page at a time, so that memory stays bounded
/// whatever the table's size: the header row, then each page `read` answers, from `start`
/// on. `what` names the export in the log should the database fail midway (the status line
/// is sent by then: all that is left is to cut the body short).
pub fn paged<R, C, F>(
    what: &'static str,
    db: web::Data<Db>,
    columns: &'static [&'static str],
    start: C,
    read: F,
) -> impl Stream<Item = Result<Bytes, ApiError>> + 'static
where
    R: IntoIterator + Send + 'static,
    R::Item: AsRef<[u8]>,
    C: Send + 'static,
    F: Fn(&mut DbConnection, C) -> Result<Page<R, C>, ApiError> + Clone + Send + 'static,
{
    let head = futures_util::stream::once(async move {
        chunk([columns]).map_err(|e| ApiError::Internal(e.into()))
    });
    let pages = futures_util::stream::unfold(Some((db, start, read)), move |state| async move {
        let (db, cursor, read) = state?;
        let reader = read.clone();
        match db.run(move |conn| reader(conn, cursor)).await {
            Err(e) => {
                tracing::error!("{what} export stopped: {e:#}");
                Some((Err(e), None))
            }
            Ok(page) if page.records.is_empty() => None,
            Ok(Page { records, next }) => {
                let bytes = chunk(records).map_err(|e| ApiError::Internal(e.into()));
                Some((bytes, next.map(|next| (db, next, read))))
            }
        }
    });
    futures_util::StreamExt::chain(head, pages)
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
