//! Master keys (key-encryption keys): versioned, newest first, never stored in the database.
//!
//! A keyring is written as `id:base64,id:base64` (32-byte keys, newest first), in
//! `VALISE_MASTER_KEY` or in the file named by `VALISE_MASTER_KEY_FILE` (one entry per line
//! or comma-separated). In development a key file is generated under `./data/` with mode 0600.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, RwLock};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ring::aead::{self, LessSafeKey, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};

use super::CryptoError;
use crate::config::SecretSource;

pub const KEY_LEN: usize = 32;

pub struct MasterKey {
    id: String,
    bytes: [u8; KEY_LEN],
    aead: LessSafeKey,
}

impl MasterKey {
    fn new(id: String, bytes: [u8; KEY_LEN]) -> Result<Self, String> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, &bytes).map_err(|_| "invalid key".to_owned())?;
        Ok(Self {
            id,
            bytes,
            aead: LessSafeKey::new(unbound),
        })
    }

    pub fn id(&self) -> &str {
        &self.id
    }
}

/// The master keys, newest first. The newest wraps; any listed key unwraps.
pub struct Keyring {
    keys: Vec<MasterKey>,
}

fn valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 32
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Keyring {
    /// Parses `id:base64[,id:base64…]` (newlines also separate entries). Errors never quote
    /// key material.
    pub fn parse(spec: &str) -> Result<Self, String> {
        let mut keys = Vec::new();
        for entry in spec
            .split([',', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty() && !e.starts_with('#'))
        {
            let (id, b64) = entry
                .split_once(':')
                .ok_or("each key must be written id:base64")?;
            let id = id.trim();
            if !valid_id(id) {
                return Err("key ids are 1-32 letters, digits, '-' or '_'".into());
            }
            let raw = STANDARD
                .decode(b64.trim())
                .map_err(|_| format!("key {id} is not valid base64"))?;
            let bytes: [u8; KEY_LEN] = raw
                .try_into()
                .map_err(|_| format!("key {id} must be 32 bytes (256 bits)"))?;
            if keys.iter().any(|k: &MasterKey| k.id == id) {
                return Err(format!("key id {id} appears twice"));
            }
            keys.push(MasterKey::new(id.to_owned(), bytes)?);
        }
        if keys.is_empty() {
            return Err("no master key given".into());
        }
        Ok(Self { keys })
    }

    /// A keyring with one fresh random key.
    pub fn generate(id: &str) -> Result<Self, CryptoError> {
        let mut bytes = [0u8; KEY_LEN];
        SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| CryptoError::Random)?;
        let key = MasterKey::new(id.to_owned(), bytes).map_err(|_| CryptoError::Random)?;
        Ok(Self { keys: vec![key] })
    }

    /// The same keys, serialized as the key file holds them.
    pub fn to_spec(&self) -> String {
        self.keys
            .iter()
            .map(|k| format!("{}:{}", k.id, STANDARD.encode(k.bytes)))
            .collect::<Vec<_>>()
            .join("\n")
            + "\n"
    }

    pub fn newest(&self) -> &MasterKey {
        // `parse` and `generate` never build an empty keyring.
        &self.keys[0]
    }

    pub fn ids(&self) -> Vec<String> {
        self.keys.iter().map(|k| k.id.clone()).collect()
    }

    pub fn get(&self, id: &str) -> Option<&MasterKey> {
        self.keys.iter().find(|k| k.id == id)
    }

    /// This keyring with a new random key in front, named after the next free `kN`.
    pub fn with_new_version(&self) -> Result<Self, CryptoError> {
        let mut n = self.keys.len() + 1;
        while self.get(&format!("k{n}")).is_some() {
            n += 1;
        }
        let fresh = Self::generate(&format!("k{n}"))?;
        let mut keys = fresh.keys;
        for k in &self.keys {
            keys.push(MasterKey::new(k.id.clone(), k.bytes).map_err(|_| CryptoError::Random)?);
        }
        Ok(Self { keys })
    }

    /// This keyring without the keys not in `keep`.
    pub fn retain(&self, keep: &[String]) -> Result<Self, CryptoError> {
        let mut keys = Vec::new();
        for k in self
            .keys
            .iter()
            .filter(|k| keep.contains(&k.id) || k.id == self.newest().id)
        {
            keys.push(MasterKey::new(k.id.clone(), k.bytes).map_err(|_| CryptoError::Random)?);
        }
        Ok(Self { keys })
    }

    /// Wraps a 256-bit secret with the newest key. Returns the key id and `nonce | ct+tag`.
    pub fn wrap(
        &self,
        aad: &[u8],
        secret: &[u8; KEY_LEN],
    ) -> Result<(String, Vec<u8>), CryptoError> {
        let key = self.newest();
        let sealed = seal_with(&key.aead, aad, secret)?;
        Ok((key.id.clone(), sealed))
    }

    pub fn unwrap_key(
        &self,
        kek_id: &str,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<[u8; KEY_LEN], CryptoError> {
        let key = self
            .get(kek_id)
            .ok_or_else(|| CryptoError::UnknownMasterKey(kek_id.to_owned()))?;
        let plain = open_with(&key.aead, aad, wrapped)?;
        plain.try_into().map_err(|_| CryptoError::Integrity)
    }
}

/// AES-256-GCM with a fresh random nonce: `nonce | ciphertext+tag`.
pub(super) fn seal_with(
    key: &LessSafeKey,
    aad: &[u8],
    plaintext: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let mut nonce = [0u8; NONCE_LEN];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| CryptoError::Random)?;
    let mut out = Vec::with_capacity(NONCE_LEN + plaintext.len() + AES_256_GCM.tag_len());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(plaintext);
    let tag = key
        .seal_in_place_separate_tag(
            aead::Nonce::assume_unique_for_key(nonce),
            aead::Aad::from(aad),
            &mut out[NONCE_LEN..],
        )
        .map_err(|_| CryptoError::Integrity)?;
    out.extend_from_slice(tag.as_ref());
    Ok(out)
}

pub(super) fn open_with(
    key: &LessSafeKey,
    aad: &[u8],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    if sealed.len() < NONCE_LEN + AES_256_GCM.tag_len() {
        return Err(CryptoError::Integrity);
    }
    let (nonce, rest) = sealed.split_at(NONCE_LEN);
    let nonce =
        aead::Nonce::try_assume_unique_for_key(nonce).map_err(|_| CryptoError::Integrity)?;
    let mut buf = rest.to_vec();
    let plain = key
        .open_in_place(nonce, aead::Aad::from(aad), &mut buf)
        .map_err(|_| CryptoError::Integrity)?;
    Ok(plain.to_vec())
}

/// The live keyring and where it came from, so file-based keyrings can be re-read when
/// another process added a version, and development keyrings can grow one.
pub struct KeyringHandle {
    source: SecretSource,
    current: RwLock<Arc<Keyring>>,
}

impl KeyringHandle {
    pub fn load(source: &SecretSource) -> anyhow::Result<Self> {
        let keyring = match source {
            SecretSource::Value(value) => Keyring::parse(value.expose())
                .map_err(|e| anyhow::anyhow!("VALISE_MASTER_KEY: {e}"))?,
            SecretSource::File(path) => {
                read_key_file(path).map_err(|e| anyhow::anyhow!("VALISE_MASTER_KEY_FILE: {e}"))?
            }
            SecretSource::Generated(path) => {
                if path.exists() {
                    read_key_file(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?
                } else {
                    let keyring = Keyring::generate("k1")?;
                    write_secret_file(path, &keyring.to_spec())?;
                    tracing::warn!(
                        "generated a DEVELOPMENT master key in {} — back it up with the data, \
                         and set VALISE_MASTER_KEY or VALISE_MASTER_KEY_FILE in production",
                        path.display()
                    );
                    keyring
                }
            }
            SecretSource::Ephemeral => Keyring::generate("k1")?,
        };
        Ok(Self {
            source: source.clone(),
            current: RwLock::new(Arc::new(keyring)),
        })
    }

    pub fn get(&self) -> Arc<Keyring> {
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, keyring: Keyring) {
        let mut guard = match self.current.write() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        *guard = Arc::new(keyring);
    }

    /// Re-reads a file-based keyring (another process may have added a version).
    pub fn reload(&self) -> Result<bool, CryptoError> {
        let path = match &self.source {
            SecretSource::File(p) | SecretSource::Generated(p) => p,
            _ => return Ok(false),
        };
        let keyring = read_key_file(path).map_err(|_| CryptoError::KeyFile)?;
        self.set(keyring);
        Ok(true)
    }

    /// Whether this process may add master-key versions itself (development key files and
    /// test keyrings); operators add production keys through the environment.
    pub fn can_add_version(&self) -> bool {
        matches!(
            self.source,
            SecretSource::Generated(_) | SecretSource::Ephemeral
        )
    }

    /// Adds a new newest key (development key file or test keyring only).
    pub fn add_version(&self) -> Result<String, CryptoError> {
        let next = self.get().with_new_version()?;
        let id = next.newest().id.clone();
        if let SecretSource::Generated(path) = &self.source {
            write_secret_file(path, &next.to_spec()).map_err(|_| CryptoError::KeyFile)?;
        }
        self.set(next);
        Ok(id)
    }

    /// Drops versions no longer used (development key file or test keyring only).
    pub fn retain(&self, keep: &[String]) -> Result<(), CryptoError> {
        if !self.can_add_version() {
            return Ok(());
        }
        let next = self.get().retain(keep)?;
        if let SecretSource::Generated(path) = &self.source {
            write_secret_file(path, &next.to_spec()).map_err(|_| CryptoError::KeyFile)?;
        }
        self.set(next);
        Ok(())
    }
}

fn read_key_file(path: &Path) -> Result<Keyring, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read key file: {e}"))?;
    Keyring::parse(&text)
}

/// Writes a secret file with mode 0600, atomically (write a sibling, then rename).
pub fn write_secret_file(path: &Path, contents: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let tmp = path.with_extension("tmp");
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=";
    const K2: &str = "k2:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI=";

    #[test]
    fn parses_newest_first() {
        let ring = Keyring::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(ring.newest().id(), "k2");
        assert_eq!(ring.ids(), vec!["k2", "k1"]);
    }

    #[test]
    fn rejects_bad_keyrings_without_quoting_them() {
        for bad in ["", "k1", "k1:abc", "bad id:AQEB", &format!("{K1},{K1}")] {
            let err = Keyring::parse(bad).err().unwrap();
            assert!(!err.contains("AQEB"), "{err}");
        }
    }

    #[test]
    fn wrapped_keys_open_with_any_listed_version() {
        let old = Keyring::parse(K1).unwrap();
        let secret = [7u8; KEY_LEN];
        let (id, wrapped) = old.wrap(b"dek|usr_1", &secret).unwrap();
        assert_eq!(id, "k1");
        let both = Keyring::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(
            both.unwrap_key("k1", b"dek|usr_1", &wrapped).unwrap(),
            secret
        );
        assert!(
            both.unwrap_key("k1", b"dek|usr_2", &wrapped).is_err(),
            "AAD binds the subject"
        );
        let only_new = Keyring::parse(K2).unwrap();
        assert!(matches!(
            only_new.unwrap_key("k1", b"dek|usr_1", &wrapped),
            Err(CryptoError::UnknownMasterKey(_))
        ));
    }

    #[test]
    fn a_generated_key_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data/master.keys");
        let handle = KeyringHandle::load(&SecretSource::Generated(path.clone())).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let again = KeyringHandle::load(&SecretSource::Generated(path)).unwrap();
        assert_eq!(handle.get().newest().bytes, again.get().newest().bytes);
    }
}
