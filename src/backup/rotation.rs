//! `valise backup --dir DIR --keep N`: a new snapshot set in DIR, then the older sets beyond
//! the newest N deleted, only once the new one is complete and verifies.
//!
//! A set is `valise-<UTC time>.backup`, its manifest (`….backup.manifest.json`) and the
//! erasure ledger as it stood right after the snapshot (`….backup.erasures.jsonl`, for
//! restoring an older set of the directory). Files of other names in DIR are never touched.
//! The sets kept are recorded in the database (see [`super::registry`]).

use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use anyhow::Context;

use super::{ledger, manifest, registry, Manifest};
use crate::db::snapshot::beside;
use crate::db::DatabaseUrl;

const PREFIX: &str = "valise-";
const SUFFIX: &str = ".backup";
const LEDGER_SUFFIX: &str = ".erasures.jsonl";

/// The newest sets kept when `--keep` is not given.
pub const DEFAULT_KEEP: usize = 7;

/// What one rotated backup did.
#[derive(Debug, Clone)]
pub struct Rotated {
    pub snapshot: PathBuf,
    pub manifest: Manifest,
    /// The erasure ledger written beside the snapshot, and its entries.
    pub ledger: PathBuf,
    pub ledger_entries: usize,
    /// Snapshots of older sets deleted.
    pub removed: Vec<PathBuf>,
    /// Sets in the directory after rotation.
    pub kept: usize,
}

/// The erasure ledger written beside a snapshot of a set.
pub fn ledger_path(snapshot: &Path) -> PathBuf {
    beside(snapshot, LEDGER_SUFFIX)
}

/// Takes a new set into `dir` and keeps the newest `keep` sets (at least 1).
pub fn take(url: &DatabaseUrl, dir: &Path, keep: usize) -> anyhow::Result<Rotated> {
    anyhow::ensure!(keep >= 1, "--keep must be at least 1");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("resolving {}", dir.display()))?;
    let stamp = chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ");
    let snapshot = dir.join(format!("{PREFIX}{stamp}{SUFFIX}"));
    let manifest = super::take(url, &snapshot)?;
    // Complete means verified: an older set goes only once this one would restore.
    super::verify(&snapshot).context("the new snapshot does not verify; nothing rotated")?;
    let mut conn = crate::db::connect_one(url)?;
    let ledger = ledger_path(&snapshot);
    let ledger_entries = ledger::export(&mut conn, &ledger)?;
    registry::record(
        &mut conn,
        &snapshot.to_string_lossy(),
        manifest.created_at.naive_utc(),
    )
    .context("recording the new snapshot in the database")?;

    let mut sets = sets_in(&dir)?;
    sets.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| b.0.cmp(&a.0)));
    let mut removed = Vec::new();
    for (old, _) in sets.iter().skip(keep) {
        // The manifest last: a set interrupted half-way is still seen, and finished, next time.
        for file in [old.clone(), ledger_path(old), manifest::path_for(old)] {
            match std::fs::remove_file(&file) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e).with_context(|| format!("deleting {}", file.display())),
            }
        }
        removed.push(old.clone());
    }
    let forgotten: Vec<String> = removed
        .iter()
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    registry::forget(&mut conn, &forgotten)
        .context("forgetting the deleted snapshots in the database")?;
    Ok(Rotated {
        snapshot,
        manifest,
        ledger,
        ledger_entries,
        kept: sets.len() - removed.len(),
        removed,
    })
}

/// The sets in `dir`: each snapshot path (`valise-….backup`) with its manifest's time.
/// A manifest that does not read is a set nobody can restore: it is left alone, not counted.
fn sets_in(dir: &Path) -> anyhow::Result<Vec<(PathBuf, chrono::DateTime<chrono::Utc>)>> {
    let mut sets = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("listing {}", dir.display()))? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let Some(snapshot) = name.strip_suffix(".manifest.json") else {
            continue;
        };
        if !(snapshot.starts_with(PREFIX) && snapshot.ends_with(SUFFIX)) {
            continue;
        }
        let snapshot = dir.join(snapshot);
        if let Ok(m) = manifest::read(&manifest::path_for(&snapshot)) {
            sets.push((snapshot, m.created_at));
        }
    }
    Ok(sets)
}
