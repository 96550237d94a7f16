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
}
