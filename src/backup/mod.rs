//! Backups that never bring an erased subject back.
//!
//! `take` writes a consistent snapshot of the live database and a manifest beside it
//! (`FILE.manifest.json`: format, backend, schema version, time, SHA-256, size). `verify`
//! checks a snapshot against its manifest and this binary. `restore` verifies, loads the
//! snapshot into an empty database, then replays the erasure ledger kept outside the backup
//! ([`ledger`]): a subject erased after the snapshot was taken is shredded again before the
//! restored database is ever served.
//!
//! "Empty" target: no tables at all, or Valise's tables (a database only migrated, or served
//! without anyone registering) with no row in `users`, `orders` or `data_keys`.

pub mod ledger;
pub mod manifest;
pub mod registry;
pub mod rotation;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use anyhow::Context;
use diesel::prelude::*;

use crate::audit::{self, Actor, Event};
use crate::config::SecretSource;
use crate::crypto::Crypto;
use crate::db::snapshot::{self, beside, SnapshotFormat};
use crate::db::{migrations, DatabaseUrl, DbConnection};
use crate::privacy::erasure::{self, LedgerEntry, Replay};
pub use manifest::Manifest;

/// Snapshots the database at `url` into `out` and writes `out.manifest.json`. Neither file
/// may exist: a backup is never overwritten.
pub fn take(url: &DatabaseUrl, out: &Path) -> anyhow::Result<Manifest> {
    let manifest_path = manifest::path_for(out);
    for path in [out, manifest_path.as_path()] {
        if path.exists() {
            anyhow::bail!("{} already exists: choose a new name", path.display());
        }
    }
    let created_at = crate::db::now().and_utc();
    let staged = beside(out, ".partial");
    let _ = std::fs::remove_file(&staged);
    let taken = (|| {
        let format = snapshot::take(url, &staged)?;
        // Wrapped keys and blind indexes: for the operator's eyes only, like the key file.
        std::fs::set_permissions(&staged, std::fs::Permissions::from_mode(0o600))
            .with_context(|| format!("restricting {}", staged.display()))?;
        // Read back from the snapshot itself: exactly the schema its data is in.
        let schema_version = snapshot::schema_version(format, &staged)?.ok_or_else(|| {
            anyhow::anyhow!("the database has no Valise schema (run `valise migrate` first)")
        })?;
        let (sha256, size) = manifest::digest(&staged)?;
        Ok::<_, anyhow::Error>(Manifest {
            format: manifest::FORMAT.to_owned(),
            format_version: manifest::FORMAT_VERSION,
            backend: format.backend().name().to_owned(),
            snapshot_format: format.name().to_owned(),
            schema_version,
            created_at,
            sha256,
            size,
            valise_version: env!("CARGO_PKG_VERSION").to_owned(),
        })
    })();
    let manifest = match taken {
        Ok(manifest) => manifest,
        Err(e) => {
            let _ = std::fs::remove_file(&staged);
            return Err(e);
        }
    };
    std::fs::rename(&staged, out).with_context(|| format!("moving {}", out.display()))?;
    manifest::write(&manifest_path, &manifest)?;
    Ok(manifest)
}

/// A snapshot that matched its manifest and this binary.
#[derive(Debug, Clone)]
pub struct Verified {
    pub manifest: Manifest,
    pub format: SnapshotFormat,
}

/// Checks a snapshot: its manifest, size and SHA-256, a schema version this binary knows
/// (never newer than its newest migration), and the snapshot itself (SQLite: `PRAGMA
/// integrity_check`; PostgreSQL: `pg_restore` reads it), whose own schema version must be
/// the manifest's.
pub fn verify(file: &Path) -> anyhow::Result<Verified> {
    let manifest = manifest::read(&manifest::path_for(file))?;
    let format = SnapshotFormat::parse(&manifest.snapshot_format)
        .filter(|f| f.backend().name() == manifest.backend)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "the manifest names an unknown snapshot format ({} for {})",
                manifest.snapshot_format,
                manifest.backend
            )
        })?;
    let actual_size = std::fs::metadata(file)
        .with_context(|| format!("no readable snapshot at {}", file.display()))?
        .len();
    if actual_size != manifest.size {
        anyhow::bail!(
            "size mismatch: {} has {actual_size} bytes, the manifest says {}",
            file.display(),
            manifest.size
        );
    }
    let (sha256, _) = manifest::digest(file)?;
    if sha256 != manifest.sha256 {
        anyhow::bail!(
            "checksum mismatch: {} has SHA-256 {sha256}, the manifest says {}",
            file.display(),
            manifest.sha256
        );
    }
    check_schema_version(&manifest.schema_version, &migrations::known_versions()?)?;
    let inside = snapshot::schema_version(format, file)
        .with_context(|| format!("checking {}", file.display()))?;
    if inside.as_deref() != Some(manifest.schema_version.as_str()) {
        anyhow::bail!(
            "the snapshot's schema version ({}) is not the manifest's ({})",
            inside.as_deref().unwrap_or("none"),
            manifest.schema_version
        );
    }
    Ok(Verified { manifest, format })
}

/// A snapshot's schema must be one this binary's migrations know; a newer one would be
/// served by code that does not understand it.
fn check_schema_version(version: &str, known: &[String]) -> anyhow::Result<()> {
    let newest = known.last().map(String::as_str).unwrap_or_default();
    if migrations::compare_versions(version, newest).is_gt() {
        anyhow::bail!(
            "the backup's schema version {version} is newer than this binary's ({newest}): \
             restore it with the valise that took it, or a newer one"
        );
    }
    if !known.iter().any(|k| k == version) {
        anyhow::bail!("the backup's schema version {version} is unknown to this binary");
    }
    Ok(())
}

/// What a restore did.
#[derive(Debug, Clone)]
pub struct Restored {
    pub manifest: Manifest,
    /// `None` when no ledger was given.
    pub replay: Option<Replay>,
}

/// Restores `file` into the empty database of `url`, then replays `ledger` (if given) into
/// it before it is in place. Needs the master keys of the server that was backed up.
pub fn restore(
    url: &DatabaseUrl,
    master_keys: &SecretSource,
    file: &Path,
    ledger: Option<&Path>,
) -> anyhow::Result<Restored> {
    let verified = verify(file).context("the backup failed verification")?;
    if verified.format.backend() != url.backend() {
        anyhow::bail!(
            "{} is a {} backup and DATABASE_URL is a {} database",
            file.display(),
            verified.format.backend().name(),
            url.backend().name()
        );
    }
    let entries = ledger.map(ledger::read).transpose()?;
    if let SecretSource::Generated(path) = master_keys {
        if !path.exists() {
            anyhow::bail!(
                "no master key: {} does not exist and neither VALISE_MASTER_KEY nor \
                 VALISE_MASTER_KEY_FILE is set; restore needs the master key of the server \
                 that was backed up",
                path.display()
            );
        }
    }
    let replay = snapshot::load(url, verified.format, file, ensure_empty, |conn| {
        finish(conn, master_keys, entries.as_deref())
    })?;
    Ok(Restored {
        manifest: verified.manifest,
        replay,
    })
}

/// Refuses a target that holds anybody's data, or tables that are not Valise's.
fn ensure_empty(conn: &mut DbConnection) -> anyhow::Result<()> {
    use crate::db::schema::{data_keys, orders, users};
    let tables = snapshot::table_names(conn)?;
    if tables.is_empty() {
        return Ok(());
    }
    for needed in ["users", "orders", "data_keys"] {
        if !tables.iter().any(|t| t == needed) {
            anyhow::bail!(
                "the target database holds tables but no `{needed}` table: restore only into \
                 an empty database"
            );
        }
    }
    let holders = [
        (
            "users",
            users::table
                .select(users::id)
                .first::<String>(conn)
                .optional()?,
        ),
        (
            "orders",
            orders::table
                .select(orders::id)
                .first::<String>(conn)
                .optional()?,
        ),
        (
            "data_keys",
            data_keys::table
                .select(data_keys::subject_id)
                .first::<String>(conn)
                .optional()?,
        ),
    ];
    if let Some((table, _)) = holders.iter().find(|(_, row)| row.is_some()) {
        anyhow::bail!(
            "the target database is not empty (`{table}` has rows): restore only into an empty \
             database"
        );
    }
    Ok(())
}

/// Runs on the restored database before it is in place: this binary's schema, the master
/// key check, the ledger replay, and an audit entry saying what happened.
fn finish(
    conn: &mut DbConnection,
    master_keys: &SecretSource,
    entries: Option<&[LedgerEntry]>,
) -> anyhow::Result<Option<Replay>> {
    migrations::run_pending(conn).context("bringing the restored schema up to date")?;
    let crypto = Crypto::init(master_keys, conn).context(
        "the master key does not open the backup's keys (restore needs the master key of \
         the server that was backed up)",
    )?;
    let replay = entries
        .map(|entries| erasure::replay(conn, &crypto, entries))
        .transpose()
        .context("replaying the erasure ledger")?;
    if replay.is_some_and(|r| r.shredded + r.accounts_emptied > 0) {
        // Old row versions holding the shredded keys may linger in free space (SQLite
        // pages, PostgreSQL dead tuples); the database is not serving yet, so rewrite it.
        snapshot::compact(conn, &["data_keys", "users"]).context("compacting")?;
    }
    let purpose = if replay.is_some() {
        crate::audit::Purpose::RestoreReplayed
    } else {
        crate::audit::Purpose::RestoreNotReplayed
    };
    audit::record(
        conn,
        &crypto,
        &Actor::system(),
        &Event {
            action: crate::audit::Action::BackupRestore,
            subject_id: None,
            fields: &[],
            purpose,
        },
    )?;
    Ok(replay)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_known_schema_version_is_accepted() {
        let known: Vec<String> = ["20261125000001", "20261125000002"]
            .map(String::from)
            .into();
        assert!(check_schema_version("20261125000001", &known).is_ok());
        assert!(check_schema_version("20261125000002", &known).is_ok());
        let err = check_schema_version("20261125000003", &known)
            .unwrap_err()
            .to_string();
        assert!(err.contains("newer than this binary"), "{err}");
        let err = check_schema_version("202611250000010", &known)
            .unwrap_err()
            .to_string();
        assert!(err.contains("newer"), "more digits is newer: {err}");
        let err = check_schema_version("20260101000001", &known)
            .unwrap_err()
            .to_string();
        assert!(err.contains("unknown"), "{err}");
    }
}
