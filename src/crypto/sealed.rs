//! Sealed fields: AES-256-GCM under the subject's data key, bound to the field's place.
//!
//! Stored bytes: `0x01 | len(subject) | subject | nonce (12) | ciphertext | tag (16)`.
//! The subject id names the data key; the additional data `table|column|row_id|subject`
//! makes a ciphertext copied to another row or column fail to open.

use ring::aead::{LessSafeKey, UnboundKey, AES_256_GCM};

use super::keyring::{open_with, seal_with, KEY_LEN};
use super::CryptoError;

const FORMAT_V1: u8 = 1;

/// Where a sealed value lives.
#[derive(Debug, Clone, Copy)]
pub struct Place<'a> {
    pub table: &'a str,
    pub column: &'a str,
    pub row_id: &'a str,
}

impl<'a> Place<'a> {
    pub fn new(table: &'a str, column: &'a str, row_id: &'a str) -> Self {
        Self {
            table,
            column,
            row_id,
        }
    }
}

/// A column that holds sealed values. Its table and name are bound into every value's
/// associated data (with the row id, see [`Place`]), so a value moved to another column or
/// row does not open. Each store declares its own columns as constants; the data map
/// (`privacy::data_map`) lists the same constants.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Column {
    pub table: &'static str,
    pub name: &'static str,
}

impl Column {
    pub const fn new(table: &'static str, name: &'static str) -> Column {
        Column { table, name }
    }

    /// Where the value of row `row_id` lives.
    pub fn at(self, row_id: &str) -> Place<'_> {
        Place::new(self.table, self.name, row_id)
    }
}

/// One subject's data key, unwrapped for the duration of a request. Never stored.
pub struct DataKey {
    subject_id: String,
    key: LessSafeKey,
}

impl DataKey {
    pub(super) fn from_bytes(subject_id: &str, bytes: &[u8; KEY_LEN]) -> Result<Self, CryptoError> {
        let unbound = UnboundKey::new(&AES_256_GCM, bytes).map_err(|_| CryptoError::Integrity)?;
        Ok(Self {
            subject_id: subject_id.to_owned(),
            key: LessSafeKey::new(unbound),
        })
    }

    pub fn subject_id(&self) -> &str {
        &self.subject_id
    }

    fn aad(&self, place: &Place<'_>) -> Vec<u8> {
        format!(
            "{}|{}|{}|{}",
            place.table, place.column, place.row_id, self.subject_id
        )
        .into_bytes()
    }

    pub fn seal(&self, place: &Place<'_>, plaintext: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let subject = self.subject_id.as_bytes();
        let subject_len = u8::try_from(subject.len()).map_err(|_| CryptoError::Integrity)?;
        let body = seal_with(&self.key, &self.aad(place), plaintext)?;
        let mut out = Vec::with_capacity(2 + subject.len() + body.len());
        out.push(FORMAT_V1);
        out.push(subject_len);
        out.extend_from_slice(subject);
        out.extend_from_slice(&body);
        Ok(out)
    }

    pub fn open(&self, place: &Place<'_>, sealed: &[u8]) -> Result<Vec<u8>, CryptoError> {
        let (&version, rest) = sealed.split_first().ok_or(CryptoError::Integrity)?;
        if version != FORMAT_V1 {
            return Err(CryptoError::Integrity);
        }
        let (&len, rest) = rest.split_first().ok_or(CryptoError::Integrity)?;
        let len = usize::from(len);
        if rest.len() < len || &rest[..len] != self.subject_id.as_bytes() {
            return Err(CryptoError::Integrity);
        }
        open_with(&self.key, &self.aad(place), &rest[len..])
    }

    pub fn seal_str(&self, place: &Place<'_>, plaintext: &str) -> Result<Vec<u8>, CryptoError> {
        self.seal(place, plaintext.as_bytes())
    }

    pub fn open_string(&self, place: &Place<'_>, sealed: &[u8]) -> Result<String, CryptoError> {
        String::from_utf8(self.open(place, sealed)?).map_err(|_| CryptoError::Integrity)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(subject: &str, byte: u8) -> DataKey {
        DataKey::from_bytes(subject, &[byte; KEY_LEN]).unwrap()
    }

    #[test]
    fn a_sealed_field_opens_in_its_place_only() {
        let k = key("usr_1", 1);
        let here = Place::new("users", "email_sealed", "usr_1");
        let sealed = k.seal_str(&here, "ada@example.com").unwrap();
        assert_eq!(k.open_string(&here, &sealed).unwrap(), "ada@example.com");

        let other_column = Place::new("users", "name_sealed", "usr_1");
        assert!(k.open(&other_column, &sealed).is_err());
        let other_row = Place::new("users", "email_sealed", "usr_2");
        assert!(k.open(&other_row, &sealed).is_err());
    }

    #[test]
    fn a_tampered_byte_or_another_key_fails() {
        let k = key("usr_1", 1);
        let here = Place::new("users", "email_sealed", "usr_1");
        let sealed = k.seal(&here, b"secret").unwrap();
        for i in 0..sealed.len() {
            let mut bad = sealed.clone();
            bad[i] ^= 0x01;
            assert!(k.open(&here, &bad).is_err(), "byte {i}");
        }
        assert!(key("usr_1", 2).open(&here, &sealed).is_err());
        assert!(k.open(&here, &sealed[..10]).is_err());
    }

    #[test]
    fn nonces_are_fresh() {
        let k = key("usr_1", 1);
        let here = Place::new("t", "c", "r");
        assert_ne!(k.seal(&here, b"x").unwrap(), k.seal(&here, b"x").unwrap());
    }

    /// Bounded fuzzing of sealed-field decoding: stored bytes come back from the database,
    /// backups and restores, so whatever they are, opening must fail cleanly unless they are
    /// exactly what was sealed here. `PROPTEST_CASES` runs them longer.
    mod fuzz {
        use super::*;
        use crate::crypto::Keyring;
        use base64::engine::general_purpose::STANDARD;
        use base64::Engine;
        use proptest::prelude::*;

        /// A subject id and its key's bytes (a `DataKey` itself neither prints nor copies).
        fn data_key() -> impl Strategy<Value = (String, [u8; KEY_LEN])> {
            ("[a-z_0-9]{1,40}", any::<[u8; KEY_LEN]>())
        }

        fn place() -> impl Strategy<Value = (String, String, String)> {
            (any::<String>(), any::<String>(), any::<String>())
        }

        /// Arbitrary bytes, and bytes with a well-formed header naming the key's subject
        /// (so the AEAD itself is reached), of lengths around the nonce and tag sizes.
        fn stored(subject: String) -> impl Strategy<Value = Vec<u8>> {
            prop_oneof![
                prop::collection::vec(any::<u8>(), 0..96),
                prop::collection::vec(any::<u8>(), 0..96).prop_map(move |tail| {
                    let mut out = vec![FORMAT_V1, subject.len() as u8];
                    out.extend_from_slice(subject.as_bytes());
                    out.extend_from_slice(&tail);
                    out
                }),
            ]
        }

        proptest! {
            #[test]
            fn fuzz_arbitrary_bytes_never_open(
                ((subject, key), bytes) in data_key().prop_flat_map(|k| {
                    let subject = k.0.clone();
                    (Just(k), stored(subject))
                }),
                (table, column, row) in place(),
            ) {
                let key = DataKey::from_bytes(&subject, &key).unwrap();
                let here = Place::new(&table, &column, &row);
                prop_assert!(key.open(&here, &bytes).is_err());
                prop_assert!(key.open_string(&here, &bytes).is_err());
            }

            #[test]
            fn fuzz_flipping_any_bit_of_a_sealed_value_fails(
                (subject, key) in data_key(),
                (table, column, row) in place(),
                plaintext in prop::collection::vec(any::<u8>(), 0..128),
                at in any::<prop::sample::Index>(),
                bit in 0u8..8,
                extra in prop::collection::vec(any::<u8>(), 1..8),
            ) {
                let key = DataKey::from_bytes(&subject, &key).unwrap();
                let here = Place::new(&table, &column, &row);
                let sealed = key.seal(&here, &plaintext).unwrap();
                prop_assert_eq!(key.open(&here, &sealed).unwrap(), plaintext);

                let mut flipped = sealed.clone();
                flipped[at.index(sealed.len())] ^= 1 << bit;
                prop_assert!(key.open(&here, &flipped).is_err());
                // Cut short or grown, it fails too.
                prop_assert!(key.open(&here, &sealed[..at.index(sealed.len())]).is_err());
                let mut grown = sealed.clone();
                grown.extend_from_slice(&extra);
                prop_assert!(key.open(&here, &grown).is_err());
            }

            #[test]
            fn fuzz_wrapped_keys_fail_on_arbitrary_or_flipped_bytes(
                master in any::<[u8; KEY_LEN]>(),
                aad in prop::collection::vec(any::<u8>(), 0..64),
                secret in any::<[u8; KEY_LEN]>(),
                junk in prop::collection::vec(any::<u8>(), 0..96),
                kek_id in any::<String>(),
                at in any::<prop::sample::Index>(),
                bit in 0u8..8,
            ) {
                let ring = Keyring::parse(&format!("k1:{}", STANDARD.encode(master))).unwrap();
                prop_assert!(ring.unwrap_key("k1", &aad, &junk).is_err());
                prop_assert!(ring.unwrap_key(&kek_id, &aad, &junk).is_err());

                let (id, wrapped) = ring.wrap(&aad, &secret).unwrap();
                prop_assert_eq!(ring.unwrap_key(&id, &aad, &wrapped).unwrap(), secret);
                let mut flipped = wrapped.clone();
                flipped[at.index(wrapped.len())] ^= 1 << bit;
                prop_assert!(ring.unwrap_key(&id, &aad, &flipped).is_err());
            }
        }
    }
}
