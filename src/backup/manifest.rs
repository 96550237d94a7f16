//! The manifest written beside every snapshot (`FILE.manifest.json`).

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub const FORMAT: &str = "valise.backup";
/// Bumped when a field changes meaning; a reader refuses versions it does not know.
pub const FORMAT_VERSION: u32 = 1;

/// What a snapshot is, and how to tell it arrived intact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Always `valise.backup`.
    pub format: String,
    pub format_version: u32,
    /// `sqlite` or `postgres`: the backend the snapshot restores into.
    pub backend: String,
    /// `sqlite3` (a database file) or `pg_dump-custom` (a `pg_dump --format=custom` archive).
    pub snapshot_format: String,
    /// The newest migration applied in the snapshot, read from the snapshot itself.
    pub schema_version: String,
    pub created_at: DateTime<Utc>,
    /// SHA-256 of the snapshot file, lowercase hex.
    pub sha256: String,
    /// Size of the snapshot file in bytes.
    pub size: u64,
    /// The `valise` version that took it.
    pub valise_version: String,
}

/// `FILE.manifest.json` beside `FILE`.
pub fn path_for(snapshot: &Path) -> PathBuf {
    crate::db::snapshot::beside(snapshot, ".manifest.json")
}

/// SHA-256 (lowercase hex) and size of a file, read in chunks.
pub fn digest(path: &Path) -> anyhow::Result<(String, u64)> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buffer = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = file
            .read(&mut buffer)
            .with_context(|| format!("reading {}", path.display()))?;
        if n == 0 {
            break;
        }
        context.update(&buffer[..n]);
        size += n as u64;
    }
    Ok((hex::encode(context.finish().as_ref()), size))
}

pub fn read(path: &Path) -> anyhow::Result<Manifest> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("no readable manifest at {}", path.display()))?;
    let manifest: Manifest = serde_json::from_slice(&bytes)
        .with_context(|| format!("{} is not a backup manifest", path.display()))?;
    if manifest.format != FORMAT {
        anyhow::bail!("{} is not a {FORMAT} manifest", path.display());
    }
    if manifest.format_version != FORMAT_VERSION {
        anyhow::bail!(
            "{} has manifest format version {}; this valise reads version {FORMAT_VERSION}",
            path.display(),
            manifest.format_version
        );
    }
    Ok(manifest)
}

/// Writes the manifest next to its snapshot; never over an existing file.
pub fn write(path: &Path, manifest: &Manifest) -> anyhow::Result<()> {
    let mut json = serde_json::to_vec_pretty(manifest)?;
    json.push(b'\n');
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    file.write_all(&json)
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            format_version: FORMAT_VERSION,
            backend: "sqlite".into(),
            snapshot_format: "sqlite3".into(),
            schema_version: "20261125000006".into(),
            created_at: DateTime::parse_from_rfc3339("2026-11-25T19:28:23.123456Z")
                .unwrap()
                .with_timezone(&Utc),
            sha256: "ab".repeat(32),
            size: 4096,
            valise_version: "0.1.0".into(),
        }
    }

    #[test]
    fn a_manifest_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = path_for(&dir.path().join("nightly.db"));
        assert!(path.ends_with("nightly.db.manifest.json"));
        write(&path, &sample()).unwrap();
        assert_eq!(read(&path).unwrap(), sample());
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(
            text.contains("\"created_at\": \"2026-11-25T19:28:23.123456Z\""),
            "{text}"
        );
        assert!(write(&path, &sample()).is_err(), "never overwrites");
    }

    #[test]
    fn an_unknown_format_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.json");
        let mut newer = sample();
        newer.format_version = FORMAT_VERSION + 1;
        std::fs::write(&path, serde_json::to_vec(&newer).unwrap()).unwrap();
        let err = read(&path).unwrap_err().to_string();
        assert!(err.contains("manifest format version 2"), "{err}");
    }

    #[test]
    fn the_digest_is_sha256_of_the_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").unwrap();
        assert_eq!(
            digest(&path).unwrap(),
            (
                "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".to_owned(),
                3
            )
        );
    }
}
