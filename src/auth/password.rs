//! Password hashing with Argon2id (the `argon2` crate, RustCrypto), OWASP parameters:
//! m = 19 MiB, t = 2, p = 1.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

use crate::http::error::{ApiError, FieldError};

pub const MEMORY_KIB: u32 = 19 * 1024;
pub const ITERATIONS: u32 = 2;
pub const PARALLELISM: u32 = 1;

pub const MIN_LEN: usize = 10;
pub const MAX_LEN: usize = 128;

fn argon2() -> Argon2<'static> {
    // The constants above are valid; the fallback is the crate's default (also OWASP-grade).
    let params = Params::new(MEMORY_KIB, ITERATIONS, PARALLELISM, None).unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A password that meets the length rules. Never `Debug`-printed.
pub struct Password(String);

impl std::fmt::Debug for Password {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Password(***)")
    }
}

impl Password {
    pub fn parse(field: &str, raw: String) -> Result<Self, ApiError> {
        let len = raw.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&len) || raw.trim().is_empty() {
            return Err(ApiError::Validation(vec![FieldError::new(
                field,
                format!("must be {MIN_LEN} to {MAX_LEN} characters"),
            )]));
        }
        Ok(Self(raw))
    }

    pub fn hash(&self) -> anyhow::Result<String> {
        let mut bytes = [0u8; 16];
        ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
            .map_err(|_| anyhow::anyhow!("system random generator failed"))?;
        let salt = SaltString::encode_b64(&bytes)
            .map_err(|e| anyhow::anyhow!("encoding a password salt: {e}"))?;
        argon2()
            .hash_password(self.0.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| anyhow::anyhow!("hashing a password: {e}"))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// Whether `password` matches the stored PHC string.
pub fn verify(stored: &str, password: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => argon2()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Spends the same work as a real verification, for logins with an unknown email, so the
/// answer takes comparable time either way.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let stored = DUMMY.get_or_init(|| {
        Password("dummy password for timing".into())
            .hash()
            .unwrap_or_default()
    });
    let _ = verify(stored, password);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_owasp_parameters_and_verify() {
        let p = Password::parse("password", "correct horse battery".into()).unwrap();
        let stored = p.hash().unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(verify(&stored, "correct horse battery"));
        assert!(!verify(&stored, "correct horse batterz"));
        assert!(!verify("not a hash", "x"));
    }

    #[test]
    fn length_rules_apply() {
        assert!(Password::parse("password", "short".into()).is_err());
        assert!(Password::parse("password", "x".repeat(129)).is_err());
        assert!(Password::parse("password", " ".repeat(12)).is_err());
    }
}
