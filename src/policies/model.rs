//! Policy documents and the rules about them (no HTTP, no SQL).

use chrono::{DateTime, NaiveDateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// Version 1 is the shop's published privacy policy, embedded at build time.
pub const INITIAL_TEXT: &str = include_str!("../../assets/privacy-policy-v1.txt");
pub const INITIAL_SUMMARY: &str = "The shop's privacy policy as first published.";

/// Hex SHA-256 of the policy text, so a client can prove which text a user accepted.
pub fn digest(text: &str) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()))
}

/// How a policy version was accepted: `registration` (when the account was created),
/// `checkout` (placing an order) or `api` (`POST /v1/me/policy-acceptances`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AcceptanceSource {
    Registration,
    Checkout,
    Api,
}

impl AcceptanceSource {
    pub const ALL: [AcceptanceSource; 3] = [
        AcceptanceSource::Registration,
        AcceptanceSource::Checkout,
        AcceptanceSource::Api,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AcceptanceSource::Registration => "registration",
            AcceptanceSource::Checkout => "checkout",
            AcceptanceSource::Api => "api",
        }
    }

    pub fn parse(s: &str) -> Option<AcceptanceSource> {
        AcceptanceSource::ALL.into_iter().find(|a| a.as_str() == s)
    }
}

/// A published policy version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub version: i32,
    pub text: String,
    pub summary: String,
    pub sha256: String,
    pub published_at: NaiveDateTime,
}

/// A policy version with its full text.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "version": 1,
    "summary": "The shop's privacy policy as first published.",
    "text": "Privacy Policy\nThis Privacy Policy clarifies …",
    "sha256": "9f2b4c6d8e0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c",
    "published_at": "2026-11-25T15:00:00Z"
}))]
pub struct PolicyDocument {
    /// Monotonic version number; the one in `X-Policy-Version` is the current one.
    #[schema(minimum = 1)]
    pub version: i32,
    /// What changed in this version, for the revision notice (1–500 characters).
    pub summary: String,
    /// The full policy text (1–60,000 characters).
    pub text: String,
    /// Hex SHA-256 of `text` (64 lower-case hex digits).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// When this version took effect (RFC 3339, UTC).
    pub published_at: DateTime<Utc>,
}

/// A policy version without its text, for listings.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolicySummary {
    /// Monotonic version number.
    #[schema(minimum = 1)]
    pub version: i32,
    /// What changed in this version.
    pub summary: String,
    /// Hex SHA-256 of the text (64 lower-case hex digits).
    #[schema(pattern = "^[0-9a-f]{64}$")]
    pub sha256: String,
    /// When this version took effect (RFC 3339, UTC).
    pub published_at: DateTime<Utc>,
}

/// One page of policy versions, newest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [
        {"version": 2, "summary": "We now keep order records for 10 years, as the tax law requires.",
            "sha256": "0c1e3a5b7d9f2e4a6c8b0d2f4e6a8c0b1d3f5e7a9c2b4d6f8e0a1c3b5d7f9e2a",
            "published_at": "2027-03-01T09:00:00Z"},
        {"version": 1, "summary": "The shop's privacy policy as first published.",
            "sha256": "9f2b4c6d8e0a1b3c5d7e9f1a2b4c6d8e0f1a3b5c7d9e1f2a4b6c8d0e2f4a6b8c",
            "published_at": "2026-11-25T15:00:00Z"}
    ],
    "next_cursor": null
}))]
pub struct PolicyList {
    /// Up to `limit` versions, newest first.
    pub data: Vec<PolicySummary>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

impl From<Policy> for PolicyDocument {
    fn from(p: Policy) -> Self {
        Self {
            version: p.version,
            summary: p.summary,
            text: p.text,
            sha256: p.sha256,
            published_at: p.published_at.and_utc(),
        }
    }
}

impl From<Policy> for PolicySummary {
    fn from(p: Policy) -> Self {
        Self {
            version: p.version,
            summary: p.summary,
            sha256: p.sha256,
            published_at: p.published_at.and_utc(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_hex_sha256() {
        assert_eq!(
            digest(""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    #[test]
    fn embedded_policy_is_the_shared_policy() {
        // The canonical text lives in ../shared; the copy under assets/ is what gets built
        // into the binary. Skipped only where ../shared is absent (e.g. inside a container
        // build); CI always has it.
        let shared = concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/privacy-policy.txt");
        match std::fs::read_to_string(shared) {
            Ok(text) => assert_eq!(text, INITIAL_TEXT, "assets/privacy-policy-v1.txt drifted"),
            Err(_) => eprintln!("note: {shared} not found; comparison skipped"),
        }
        assert!(INITIAL_TEXT.starts_with("Privacy Policy"));
    }
}
