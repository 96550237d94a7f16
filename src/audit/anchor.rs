//! Anchors of the audit chain outside its database.
//!
//! The chain's MACs stop anyone without the master key from editing or forging entries, but
//! its head lives in the same database: whoever can write there can cut entries off the end
//! and point the head back at an earlier entry, whose MAC they can read. So every instance
//! periodically writes a signed checkpoint — the head's sequence number and MAC, and when —
//! to its log (target `valise::audit_anchor`, which operators ship elsewhere) and to a file
//! (`VALISE_AUDIT_ANCHOR_FILE`, JSON lines). `valise audit verify --anchor FILE` then proves
//! that every anchored entry is still in the chain, unchanged: a truncation below the newest
//! anchor is reported. Checkpoints are signed with a key derived from the master key's root
//! secret, so they cannot be forged by the same hand either.

use std::borrow::Cow;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::prelude::*;
use ring::hmac;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::store;
use crate::crypto::Crypto;
use crate::db::schema::audit_log;
use crate::db::{Db, DbConnection};

/// The log target of the checkpoints.
pub const LOG_TARGET: &str = "valise::audit_anchor";

/// One checkpoint: the chain's head at `at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anchor {
    pub seq: i64,
    /// The head entry's MAC, hex.
    pub mac: String,
    pub at: chrono::DateTime<chrono::Utc>,
    /// HMAC-SHA256 of the three above under the anchor key, hex.
    pub sig: String,
}

fn signed_bytes(seq: i64, mac: &str, at: &chrono::DateTime<chrono::Utc>) -> Vec<u8> {
    format!(
        "valise-audit-anchor|{seq}|{mac}|{}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
    )
    .into_bytes()
}

impl Anchor {
    pub fn new(key: &hmac::Key, seq: i64, mac: &[u8], at: chrono::DateTime<chrono::Utc>) -> Self {
        let mac = hex::encode(mac);
        let sig = hex::encode(hmac::sign(key, &signed_bytes(seq, &mac, &at)));
        Self { seq, mac, at, sig }
    }

    fn signature_holds(&self, key: &hmac::Key) -> bool {
        hex::decode(&self.sig).is_ok_and(|sig| {
            hmac::verify(key, &signed_bytes(self.seq, &self.mac, &self.at), &sig).is_ok()
        })
    }
}

/// The current head, signed (`None` while the chain is empty).
pub fn current(conn: &mut DbConnection, crypto: &Crypto) -> QueryResult<Option<Anchor>> {
    let (seq, mac) = store::head(conn)?;
    Ok((seq > 0).then(|| Anchor::new(crypto.anchor_key(), seq, &mac, chrono::Utc::now())))
}

/// Writes a checkpoint to the log and, when given, appends it to `file`.
pub fn publish(anchor: &Anchor, file: Option<&Path>) -> std::io::Result<()> {
    let line = serde_json::to_string(anchor).map_err(std::io::Error::other)?;
    tracing::info!(target: LOG_TARGET, "{line}");
    if let Some(path) = file {
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)?;
        // One write of one line: appends from several processes do not interleave.
        f.write_all(format!("{line}\n").as_bytes())?;
        f.sync_data()?;
    }
    Ok(())
}

/// What checking a chain against anchors found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AnchorReport {
    /// Anchors read.
    pub anchors: usize,
    /// The newest anchored entry.
    pub newest_seq: Option<i64>,
    /// True when every anchor is authentic and its entry is in the chain unchanged.
    pub holds: bool,
    pub problem: Option<String>,
}

/// Checks the chain against every anchor in `text` (JSON lines, as [`publish`] writes).
pub fn check(conn: &mut DbConnection, crypto: &Crypto, text: &str) -> QueryResult<AnchorReport> {
    let mut report = AnchorReport {
        anchors: 0,
        newest_seq: None,
        holds: true,
        problem: None,
    };
    let fail = |mut report: AnchorReport, problem: String| {
        report.holds = false;
        report.problem = Some(problem);
        report
    };
    let (head_seq, _) = store::head(conn)?;
    // Entries retention deleted are gone by design: an anchor of one is checked against the
    // signed base when it is the base's own entry, and otherwise covered by it.
    let base = super::base::read(conn)?;
    let pruned_through = if base.holds(crypto.anchor_key()) {
        base.seq
    } else {
        0
    };
    for (n, line) in anchor_lines(text) {
        report.anchors += 1;
        let Ok(anchor) = serde_json::from_str::<Anchor>(&line) else {
            return Ok(fail(report, format!("line {} is not an anchor", n + 1)));
        };
        if !anchor.signature_holds(crypto.anchor_key()) {
            return Ok(fail(
                report,
                format!(
                    "the anchor on line {} is not signed by this shop's key",
                    n + 1
                ),
            ));
        }
        report.newest_seq = report.newest_seq.max(Some(anchor.seq));
        if anchor.seq < pruned_through {
            continue;
        }
        let mac: Option<Vec<u8>> = if pruned_through > 0 && anchor.seq == pruned_through {
            Some(base.mac.clone())
        } else {
            audit_log::table
                .filter(audit_log::seq.eq(anchor.seq))
                .select(audit_log::mac)
                .first(conn)
                .optional()?
        };
        match mac {
            None => {
                return Ok(fail(
                    report,
                    format!(
                        "entry {} was anchored at {} and is gone: the log was cut (it now \
                         ends at entry {head_seq})",
                        anchor.seq, anchor.at
                    ),
                ))
            }
            Some(mac) if hex::encode(&mac) != anchor.mac => {
                return Ok(fail(
                    report,
                    format!("entry {} differs from its anchor", anchor.seq),
                ))
            }
            Some(_) => {}
        }
    }
    if report.newest_seq.is_some_and(|seq| seq > head_seq) {
        return Ok(fail(
            report,
            format!("the chain head records entry {head_seq}, before an anchored entry"),
        ));
    }
    Ok(report)
}

/// The anchors of a text, with their line numbers: the anchor file holds one a line; a text
/// log holds them after its prefix, on the lines of the anchor target, among other lines; a
/// JSON log (`VALISE_LOG_FORMAT=json`) holds them as the message of the anchor target's
/// records.
fn anchor_lines(text: &str) -> impl Iterator<Item = (usize, Cow<'_, str>)> {
    text.lines().enumerate().filter_map(|(n, line)| {
        let start = line.find('{')?;
        if start > 0 {
            return line
                .contains(LOG_TARGET)
                .then(|| (n, Cow::Borrowed(&line[start..])));
        }
        // A log record names its target; an anchor has no such field.
        let record = serde_json::from_str::<serde_json::Value>(line).ok();
        match record.as_ref().and_then(|r| r.get("target")) {
            None => Some((n, Cow::Borrowed(line))),
            Some(target) if target == LOG_TARGET => {
                let message = record.as_ref()?.get("message")?.as_str()?;
                Some((n, Cow::Owned(message.to_owned())))
            }
            Some(_) => None,
        }
    })
}

/// Where and how often an instance anchors its chain.
#[derive(Debug, Clone)]
pub struct AnchorConfig {
    /// JSON-lines file the checkpoints are appended to (besides the log).
    pub file: Option<PathBuf>,
    pub interval: Duration,
}

/// Anchors the head every `interval` when it moved since the last checkpoint.
pub fn spawn(db: Db, crypto: Crypto, config: AnchorConfig) -> actix_web::rt::task::JoinHandle<()> {
    actix_web::rt::spawn(async move {
        let mut last_seq = None;
        let mut tick = actix_web::rt::time::interval(config.interval);
        loop {
            tick.tick().await;
            let crypto = crypto.clone();
            let anchor = db
                .run(move |conn| current(conn, &crypto).map_err(crate::db::DbError::from))
                .await;
            match anchor {
                Ok(Some(anchor)) if Some(anchor.seq) != last_seq => {
                    match publish(&anchor, config.file.as_deref()) {
                        Ok(()) => last_seq = Some(anchor.seq),
                        Err(e) => tracing::warn!("could not write the audit anchor file: {e}"),
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!("could not read the audit chain head: {e}"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anchors_are_read_from_the_file_or_from_a_log() {
        let text = "{\"seq\":1}\n\
                    [2026-12-06T20:00:00Z INFO  valise::access] GET /healthz 200 {odd}\n\
                    2026-12-06T20:00:01Z  INFO valise::audit_anchor: {\"seq\":2}\n\
                    \n\
                    {\"level\":\"INFO\",\"message\":\"request\",\"target\":\"valise::access\"}\n\
                    {\"level\":\"INFO\",\"message\":\"{\\\"seq\\\":3}\",\"target\":\"valise::audit_anchor\"}\n";
        let lines: Vec<(usize, Cow<str>)> = anchor_lines(text).collect();
        assert_eq!(
            lines,
            vec![
                (0, "{\"seq\":1}".into()),
                (2, "{\"seq\":2}".into()),
                (5, "{\"seq\":3}".into())
            ]
        );
    }

    #[test]
    fn an_anchor_is_bound_to_its_fields_and_key() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"anchor test key");
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another key");
        let at = chrono::Utc::now();
        let anchor = Anchor::new(&key, 42, b"mac bytes", at);
        assert!(anchor.signature_holds(&key));
        assert!(!anchor.signature_holds(&other));
        let mut moved = anchor.clone();
        moved.seq = 41;
        assert!(!moved.signature_holds(&key));
        let mut garbled = anchor;
        garbled.sig = "zz".into();
        assert!(!garbled.signature_holds(&key));
    }
}
