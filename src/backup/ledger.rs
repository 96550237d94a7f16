//! The erasure ledger as a file kept outside the backups, beside the key store: one JSON
//! object per line, `{"subject_id":"usr_…","erased_at":"2026-11-25T19:28:23.123456Z"}`.
//! Subject ids and times only: no reason, nothing personal.

use std::path::Path;

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::crypto::keyring::write_secret_file;
use crate::db::DbConnection;
use crate::privacy::erasure::{self, LedgerEntry};

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    subject_id: String,
    erased_at: DateTime<Utc>,
}

/// Writes the database's whole erasure ledger to `out` (mode 0600), replacing it atomically:
/// a shipping job never picks up half a file. Returns the number of entries.
pub fn export(conn: &mut DbConnection, out: &Path) -> anyhow::Result<usize> {
    let rows = erasure::ledger(conn).context("reading the erasure ledger")?;
    let mut text = String::new();
    for (subject_id, erased_at) in &rows {
        let line = Line {
            subject_id: subject_id.clone(),
            erased_at: erased_at.and_utc(),
        };
        text.push_str(&serde_json::to_string(&line)?);
        text.push('\n');
    }
    write_secret_file(out, &text).with_context(|| format!("writing {}", out.display()))?;
    Ok(rows.len())
}

/// Subject ids are made by this code (`usr_…`, `ord_…`): a prefix, an underscore, hex.
fn is_subject_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Reads a ledger file; a malformed line fails the whole read, naming its line number.
pub fn read(path: &Path) -> anyhow::Result<Vec<LedgerEntry>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the erasure ledger {}", path.display()))?;
    parse(&text).with_context(|| format!("erasure ledger {}", path.display()))
}

fn parse(text: &str) -> anyhow::Result<Vec<LedgerEntry>> {
    let mut entries = Vec::new();
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        if raw.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(raw)
            .map_err(|e| anyhow::anyhow!("line {number} is not a ledger entry ({e})"))?;
        if !is_subject_id(&line.subject_id) {
            anyhow::bail!("line {number} does not hold a subject id");
        }
        entries.push(LedgerEntry {
            subject_id: line.subject_id,
            erased_at: crate::db::truncate_to_micros(line.erased_at.naive_utc()),
        });
    }
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_hold_a_subject_id_and_a_time() {
        let entries = parse(
            "{\"subject_id\":\"usr_0190\",\"erased_at\":\"2026-11-25T19:28:23.123456Z\"}\n\n\
             {\"subject_id\":\"ord_0191\",\"erased_at\":\"2026-11-26T08:00:00Z\"}\n",
        )
        .unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].subject_id, "usr_0190");
        assert_eq!(
            entries[0].erased_at.and_utc().to_rfc3339(),
            "2026-11-25T19:28:23.123456+00:00"
        );
    }

    #[test]
    fn a_bad_line_is_named_by_number() {
        let err = parse(
            "{\"subject_id\":\"usr_1\",\"erased_at\":\"2026-11-25T19:28:23Z\"}\n{\"subject_id\":",
        )
        .unwrap_err()
        .to_string();
        assert!(err.starts_with("line 2 "), "{err}");
        let err = parse(
            "{\"subject_id\":\"usr_1\",\"erased_at\":\"2026-11-25T19:28:23Z\",\"reason\":\"x\"}",
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.starts_with("line 1 "),
            "unknown fields are refused: {err}"
        );
        let err = parse("{\"subject_id\":\"usr 1; DROP\",\"erased_at\":\"2026-11-25T19:28:23Z\"}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("subject id"), "{err}");
    }
}
