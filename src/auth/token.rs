//! Access tokens (JWT, HS256 pinned, ≤ 15 minutes) and opaque refresh tokens.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use ring::rand::{SecureRandom, SystemRandom};
use serde::{Deserialize, Serialize};

use super::Role;
use crate::config::SecretSource;
use crate::crypto::keyring::write_secret_file;

pub const ISSUER: &str = "valise";
pub const AUDIENCE: &str = "valise-api";
pub const ACCESS_TTL_SECS: i64 = 15 * 60;
pub const REFRESH_TTL_DAYS: i64 = 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub role: String,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
}

pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    verified: Verified,
}

/// The most tokens whose verification is remembered (a few hundred bytes each).
const VERIFIED_CAPACITY: usize = 4_096;

/// Tokens verified before, by their exact text, with their claims. Verifying a token is a
/// pure function of its bytes and the key but for its expiry: a signed-in client sends the
/// same token with every request for up to 15 minutes, and checking its HMAC, decoding its
/// base64 and parsing its JSON twice cost ~35,000 instructions a request, twice the rest of
/// the authentication. A remembered token is only ever one that verified, byte for byte; its
/// expiry is checked on every use, and what its account may do is not remembered here (see
/// `principals`). A forged or foreign token is verified, and refused, every time.
#[derive(Default)]
struct Verified {
    tokens: std::sync::RwLock<std::collections::HashMap<String, Claims>>,
}

impl Verified {
    fn get(&self, token: &str, now: i64, leeway: i64) -> Option<Claims> {
        let tokens = self
            .tokens
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        tokens
            .get(token)
            .filter(|claims| claims.exp >= now - leeway)
            .cloned()
    }

    fn put(&self, token: &str, claims: &Claims, now: i64, leeway: i64) {
        let mut tokens = self
            .tokens
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if tokens.len() >= VERIFIED_CAPACITY {
            tokens.retain(|_, c| c.exp >= now - leeway);
            if tokens.len() >= VERIFIED_CAPACITY {
                tokens.clear();
            }
        }
        tokens.insert(token.to_owned(), claims.clone());
    }
}

fn random_bytes<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| anyhow::anyhow!("system random generator failed"))?;
    Ok(bytes)
}

impl TokenKeys {
    pub fn load(source: &SecretSource) -> anyhow::Result<Self> {
        let secret: Vec<u8> = match source {
            SecretSource::Value(v) => v.expose().as_bytes().to_vec(),
            SecretSource::File(path) => std::fs::read_to_string(path)
                .map_err(|e| anyhow::anyhow!("VALISE_JWT_SECRET_FILE: cannot read: {e}"))?
                .trim()
                .as_bytes()
                .to_vec(),
            SecretSource::Generated(path) => {
                if path.exists() {
                    std::fs::read_to_string(path)?.trim().as_bytes().to_vec()
                } else {
                    let secret = URL_SAFE_NO_PAD.encode(random_bytes::<32>()?);
                    write_secret_file(path, &format!("{secret}\n"))?;
                    tracing::warn!(
                        "generated a DEVELOPMENT token-signing secret in {}; set \
                         VALISE_JWT_SECRET or VALISE_JWT_SECRET_FILE in production",
                        path.display()
                    );
                    secret.into_bytes()
                }
            }
            SecretSource::Ephemeral => random_bytes::<32>()?.to_vec(),
        };
        if secret.len() < 32 {
            anyhow::bail!("VALISE_JWT_SECRET: must be at least 32 bytes");
        }
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.leeway = 5;
        Ok(Self {
            encoding: EncodingKey::from_secret(&secret),
            decoding: DecodingKey::from_secret(&secret),
            validation,
            verified: Verified::default(),
        })
    }

    /// A signed access token and its lifetime in seconds.
    pub fn issue(&self, user_id: &str, role: Role) -> anyhow::Result<(String, i64)> {
        let now = chrono::Utc::now().timestamp();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: user_id.into(),
            role: role.as_str().into(),
            iat: now,
            exp: now + ACCESS_TTL_SECS,
            jti: uuid::Uuid::now_v7().simple().to_string(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)?;
        Ok((token, ACCESS_TTL_SECS))
    }

    /// The claims of a valid token: signature, algorithm, issuer, audience and expiry checked.
    pub fn verify(&self, token: &str) -> Option<Claims> {
        let now = chrono::Utc::now().timestamp();
        let leeway = i64::try_from(self.validation.leeway).unwrap_or(0);
        if let Some(claims) = self.verified.get(token, now, leeway) {
            return Some(claims);
        }
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .ok()?
            .claims;
        self.verified.put(token, &claims, now, leeway);
        Some(claims)
    }

    /// Signs arbitrary claims (tests build expired or foreign tokens with it).
    pub fn sign_claims(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            claims,
            &self.encoding,
        )?)
    }
}

/// A new opaque refresh token (`vr_…`, 256 random bits) and the hash that is stored.
pub fn new_refresh_token() -> anyhow::Result<(String, Vec<u8>)> {
    let token = new_secret("vr")?;
    let hash = hash_secret(&token);
    Ok((token, hash))
}

/// SHA-256 of a high-entropy secret (refresh token, API key): a slow hash adds nothing when
/// the secret is 256 random bits, and lookup by hash stays one index probe.
pub fn hash_secret(secret: &str) -> Vec<u8> {
    ring::digest::digest(&ring::digest::SHA256, secret.as_bytes())
        .as_ref()
        .to_vec()
}

/// A new bearer secret `<prefix>_<256 random bits, base64url>` (refresh tokens, API keys,
/// cart and order tokens); stored only as [`hash_secret`].
pub fn new_secret(prefix: &str) -> anyhow::Result<String> {
    Ok(format!(
        "{prefix}_{}",
        URL_SAFE_NO_PAD.encode(random_bytes::<32>()?)
    ))
}

/// A new integrator API key (`vk_…`, 256 random bits).
pub fn new_api_key_secret() -> anyhow::Result<String> {
    new_secret("vk")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> TokenKeys {
        TokenKeys::load(&SecretSource::Ephemeral).unwrap()
    }

    #[test]
    fn an_issued_token_verifies_with_its_claims() {
        let k = keys();
        let (token, ttl) = k.issue("usr_1", Role::Support).unwrap();
        assert!(ttl <= 900);
        let claims = k.verify(&token).unwrap();
        assert_eq!(claims.sub, "usr_1");
        assert_eq!(claims.role, "support");
    }

    #[test]
    fn a_remembered_token_still_expires_and_only_its_exact_text_is_remembered() {
        let k = keys();
        let (token, _) = k.issue("usr_1", Role::Customer).unwrap();
        assert_eq!(k.verify(&token).unwrap().sub, "usr_1");
        let exp = k.verify(&token).unwrap().exp;
        // Remembered: still valid within the leeway, gone after it.
        assert!(k.verified.get(&token, exp + 5, 5).is_some());
        assert!(k.verified.get(&token, exp + 6, 5).is_none());
        // A token one byte off its signature is verified (and refused) every time.
        let at = token.len() - 10;
        let flipped = if &token[at..=at] == "A" { "B" } else { "A" };
        let forged = format!("{}{flipped}{}", &token[..at], &token[at + 1..]);
        assert!(k.verify(&forged).is_none());
        assert!(k.verify(&forged).is_none());
        assert!(k.verified.get(&forged, exp - 100, 5).is_none());
    }

    #[test]
    fn remembered_tokens_are_bounded() {
        let k = keys();
        let (token, _) = k.issue("usr_1", Role::Customer).unwrap();
        let claims = k.verify(&token).unwrap();
        for i in 0..VERIFIED_CAPACITY + 10 {
            k.verified.put(&format!("t{i}"), &claims, claims.iat, 5);
        }
        let held = k.verified.tokens.read().unwrap().len();
        assert!(held <= VERIFIED_CAPACITY, "{held} remembered");
    }

    #[test]
    fn tokens_from_another_key_expired_or_for_another_audience_fail() {
        let k = keys();
        let (token, _) = keys().issue("usr_1", Role::Admin).unwrap();
        assert!(k.verify(&token).is_none(), "foreign key");
        let now = chrono::Utc::now().timestamp();
        let mut claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: "usr_1".into(),
            role: "customer".into(),
            iat: now - 2000,
            exp: now - 1000,
            jti: "x".into(),
        };
        assert!(
            k.verify(&k.sign_claims(&claims).unwrap()).is_none(),
            "expired"
        );
        claims.exp = now + 100;
        claims.aud = "someone-else".into();
        assert!(
            k.verify(&k.sign_claims(&claims).unwrap()).is_none(),
            "audience"
        );
    }
}
