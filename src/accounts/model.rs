//! Account fields as validated newtypes, and the views clients see.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Role;
use crate::invalid::Invalid;
use crate::privacy::refuse_sensitive;

/// An email address in its canonical form (see [`super::email`]): the blind index is
/// computed over it, so lookups find a mailbox however its address was spelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        super::email::canonical(raw)
            .map(Self)
            .map_err(|e| Invalid::field(field, e.message()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A person's name: 1–100 characters, no control characters, nothing sensitive.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let value = raw.trim();
        let len = value.chars().count();
        if len == 0 || len > 100 || value.chars().any(char::is_control) {
            return Err(Invalid::field(field, "must be 1 to 100 characters"));
        }
        refuse_sensitive(field, value)?;
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A phone number in international form (`+` and 7–15 digits); spaces, dots, dashes and
/// parentheses are accepted and removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    pub fn parse(field: &str, raw: &str) -> Result<Self, Invalid> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '.' | '-' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or("");
        if !(7..=15).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Invalid::field(
                field,
                "must be an international number like +33 6 12 34 56 78",
            ));
        }
        Ok(Self(compact))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A decrypted account, for its owner (or for audited staff reads).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    pub id: String,
    pub role: Role,
    pub status: String,
    pub email: String,
    pub name: String,
    pub phone: Option<String>,
    pub version: i32,
    pub created_at: chrono::NaiveDateTime,
    pub updated_at: chrono::NaiveDateTime,
}

/// An account as its owner sees it.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "usr_0193a7c25b7e7d1a9c1e2f6c1f7e9a10",
    "email": "ada@example.com",
    "name": "Ada Lovelace",
    "phone": "+33612345678",
    "role": "customer",
    "created_at": "2026-11-25T15:00:00Z",
    "updated_at": "2026-11-25T15:00:00Z"
}))]
pub struct UserView {
    /// The account's id, `usr_` and 32 hex digits.
    pub id: String,
    /// Sign-in and contact address, in its canonical form (lower case, punycode domain).
    #[schema(format = "email")]
    pub email: String,
    /// How the shop addresses the person (1–100 characters).
    pub name: String,
    /// International form, e.g. `+33612345678`; `null` when not given.
    pub phone: Option<String>,
    /// `customer` for shoppers; a staff role otherwise.
    pub role: Role,
    /// When the account was created (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When the profile last changed (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

impl From<Profile> for UserView {
    fn from(p: Profile) -> Self {
        Self {
            id: p.id,
            email: p.email,
            name: p.name,
            phone: p.phone,
            role: p.role,
            created_at: p.created_at.and_utc(),
            updated_at: p.updated_at.and_utc(),
        }
    }
}

/// The ETag of an account: its version counter, bumped by every change.
pub fn etag(version: i32) -> String {
    format!("\"u{version}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            Email::parse("e", " Ada@Example.COM ").unwrap().as_str(),
            "ada@example.com"
        );
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@@x.com",
        ] {
            assert!(Email::parse("e", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn phones_are_international() {
        assert_eq!(
            Phone::parse("p", "+33 6 12-34.56 78").unwrap().as_str(),
            "+33612345678"
        );
        assert!(Phone::parse("p", "0612345678").is_err());
        assert!(Phone::parse("p", "+12").is_err());
    }

    #[test]
    fn names_refuse_sensitive_values() {
        assert!(PersonName::parse("name", "Ada Lovelace").is_ok());
        assert!(PersonName::parse("name", "4111 1111 1111 1111").is_err());
        assert!(PersonName::parse("name", "  ").is_err());
    }
}
