//! Field-level encryption with per-subject keys, blind indexes and the keys derived for MACs.
//!
//! Envelope encryption: master keys ([`keyring`]) wrap one random data key per data subject
//! (a customer, an order, a guest contact); each personal field is sealed with its subject's
//! data key and bound to its place (`table|column|row_id|subject_id`). Destroying a data key
//! ([`Crypto::shred`]) makes every field sealed with it unreadable at once.
//!
//! Blind indexes and the audit chain use HMAC keys derived (HKDF-SHA256) from a random root
//! secret that is itself wrapped by the master key, so rotating the master key re-wraps one
//! secret instead of re-indexing every email and re-chaining the audit log.

pub mod keyring;
pub mod rotation;
mod sealed;
pub mod signature;
mod store;

use std::sync::Arc;

use ring::{hkdf, hmac};

pub use keyring::{Keyring, KeyringHandle};
pub use sealed::{Column, DataKey, Place};
pub use store::WrappedKey;

use crate::config::SecretSource;
use crate::db::DbConnection;

/// Compares two secrets (hashes, MACs) in time independent of where they differ.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("database: {0}")]
    Db(#[from] diesel::result::Error),
    #[error("the master key {0} is not in the keyring")]
    UnknownMasterKey(String),
    #[error("ciphertext failed authentication or has the wrong format")]
    Integrity,
    #[error("the subject's data key has been destroyed")]
    Shredded,
    #[error("the system random generator failed")]
    Random,
    #[error("the key file could not be read or written")]
    KeyFile,
}

/// Blind-index kinds. Each kind is a separate HMAC domain, so equal values of different kinds
/// never collide.
pub mod index_kind {
    pub const ACCOUNT_EMAIL: &str = "account_email";
    pub const CLIENT_ADDRESS: &str = "client_address";
    /// An account's email and a client address together (login throttling).
    pub const LOGIN_PAIR: &str = "login_pair";
    pub const ORDER_EMAIL: &str = "order_email";
    /// One-time codes of guest data-subject requests, bound to their request id.
    pub const DSR_CODE: &str = "dsr_code";
}

struct Derived {
    index: hmac::Key,
    audit: hmac::Key,
    anchor: hmac::Key,
}

/// The crypto service every room uses. Cheap to clone.
#[derive(Clone)]
pub struct Crypto {
    keyring: Arc<KeyringHandle>,
    derived: Arc<Derived>,
}

const ROOT_SECRET: &str = "derivation_root";

struct HkdfLen;
impl hkdf::KeyType for HkdfLen {
    fn len(&self) -> usize {
        32
    }
}

fn derive(root: &[u8; 32], info: &[u8]) -> Result<hmac::Key, CryptoError> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, b"valise").extract(root);
    let info = [info];
    let okm = prk
        .expand(&info, HkdfLen)
        .map_err(|_| CryptoError::Random)?;
    let mut bytes = [0u8; 32];
    okm.fill(&mut bytes).map_err(|_| CryptoError::Random)?;
    Ok(hmac::Key::new(hmac::HMAC_SHA256, &bytes))
}

impl Crypto {
    /// Loads the master keys and the wrapped root secret (creating it on first start).
    ///
    /// Refuses, rather than starting on keys that cannot read the data: a database whose
    /// root secret exists while the generated development key file does not (the data
    /// directory was lost, e.g. with a recreated container) gets no new key, and master keys
    /// that do not open the root secret are named as the wrong keys.
    pub fn init(source: &SecretSource, conn: &mut DbConnection) -> anyhow::Result<Self> {
        if let SecretSource::Generated(path) = source {
            if !path.exists() {
                if let Some(kek_id) = store::system_secret_key_id(conn, ROOT_SECRET)? {
                    anyhow::bail!(
                        "this database's keys are sealed under master key {kek_id}, but the \
                         key file {} does not exist: restore it (keep VALISE_DATA_DIR on a \
                         volume) or set VALISE_MASTER_KEY or VALISE_MASTER_KEY_FILE to that \
                         key; a new key would not read the existing data",
                        path.display()
                    );
                }
            }
        }
        let keyring = Arc::new(KeyringHandle::load(source)?);
        let root = store::load_or_create_system_secret(conn, &keyring, ROOT_SECRET).map_err(
            |e| match e {
                CryptoError::Integrity | CryptoError::UnknownMasterKey(_) => anyhow::anyhow!(
                    "the master keys do not open this database's keys ({e}): VALISE_MASTER_KEY \
                     (or its file) is not the key the data was written with"
                ),
                other => other.into(),
            },
        )?;
        let derived = Derived {
            index: derive(&root, b"valise blind-index v1")?,
            audit: derive(&root, b"valise audit-chain v1")?,
            anchor: derive(&root, b"valise audit-anchor v1")?,
        };
        Ok(Self {
            keyring,
            derived: Arc::new(derived),
        })
    }

    pub fn keyring(&self) -> &KeyringHandle {
        &self.keyring
    }

    /// Creates the data key of a new subject.
    pub fn create_data_key(
        &self,
        conn: &mut DbConnection,
        subject_id: &str,
    ) -> Result<DataKey, CryptoError> {
        store::create_data_key(conn, &self.keyring, subject_id)
    }

    /// The subject's data key; [`CryptoError::Shredded`] once it has been destroyed.
    pub fn data_key(
        &self,
        conn: &mut DbConnection,
        subject_id: &str,
    ) -> Result<DataKey, CryptoError> {
        store::load_data_key(conn, &self.keyring, subject_id)
    }

    /// The subject's data key from its `data_keys` row (`kek_id`, `wrapped`), read together
    /// with the subject's own row to spare a round trip; `None` (no row) or a destroyed key is
    /// [`CryptoError::Shredded`].
    pub fn data_key_from_row(
        &self,
        subject_id: &str,
        row: Option<WrappedKey>,
    ) -> Result<DataKey, CryptoError> {
        store::open_data_key(&self.keyring, subject_id, row)
    }

    /// The data key of a subject that is a period rather than a person (an accounting
    /// year): created on first use, by whichever transaction comes first. Once destroyed it
    /// stays destroyed ([`CryptoError::Shredded`]): a period never reopens.
    pub fn period_key(
        &self,
        conn: &mut DbConnection,
        subject_id: &str,
    ) -> Result<DataKey, CryptoError> {
        match store::load_data_key(conn, &self.keyring, subject_id) {
            Err(CryptoError::Shredded) => {
                store::create_data_key_if_absent(conn, &self.keyring, subject_id)?;
                store::load_data_key(conn, &self.keyring, subject_id)
            }
            other => other,
        }
    }

    /// The live data keys of many subjects at once (exports, lists); shredded subjects are
    /// absent from the map.
    pub fn data_keys(
        &self,
        conn: &mut DbConnection,
        subject_ids: &[String],
    ) -> Result<std::collections::HashMap<String, DataKey>, CryptoError> {
        store::load_data_keys(conn, &self.keyring, subject_ids)
    }

    /// Destroys the subject's data key and every blind index that points at the subject.
    pub fn shred(&self, conn: &mut DbConnection, subject_id: &str) -> Result<(), CryptoError> {
        store::shred(conn, subject_id)
    }

    /// [`Crypto::shred`] for many subjects at once (retention batches).
    pub fn shred_many(
        &self,
        conn: &mut DbConnection,
        subject_ids: &[String],
    ) -> Result<(), CryptoError> {
        if subject_ids.is_empty() {
            return Ok(());
        }
        store::shred_many(conn, subject_ids)
    }

    /// A fresh random 256-bit secret.
    pub fn random_secret() -> Result<[u8; keyring::KEY_LEN], CryptoError> {
        store::random_key()
    }

    /// Wraps a secret kept in its own table (the analytics day salts) with the newest master
    /// key, bound to `aad`. Returns the master key's id and the wrapped bytes.
    pub fn wrap_secret(
        &self,
        aad: &[u8],
        secret: &[u8; keyring::KEY_LEN],
    ) -> Result<(String, Vec<u8>), CryptoError> {
        self.keyring.get().wrap(aad, secret)
    }

    /// Unwraps what [`Crypto::wrap_secret`] wrapped (re-reading a key file that gained a
    /// version in another process).
    pub fn unwrap_secret(
        &self,
        kek_id: &str,
        aad: &[u8],
        wrapped: &[u8],
    ) -> Result<[u8; keyring::KEY_LEN], CryptoError> {
        store::unwrap_with_reload(&self.keyring, kek_id, aad, wrapped)
    }

    /// HMAC-SHA256 of a normalised value for exact-match lookup without the plaintext.
    pub fn blind_index(&self, kind: &str, normalized: &str) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.derived.index);
        ctx.update(kind.as_bytes());
        ctx.update(&[0]);
        ctx.update(normalized.as_bytes());
        ctx.sign().as_ref().to_vec()
    }

    /// The key of the audit chain's MACs.
    pub fn audit_key(&self) -> &hmac::Key {
        &self.derived.audit
    }

    /// The key that signs the audit chain's anchors outside the database.
    pub fn anchor_key(&self) -> &hmac::Key {
        &self.derived.anchor
    }
}
