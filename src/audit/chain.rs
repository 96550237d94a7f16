//! The MAC chain: canonical encoding of an entry and verification of the whole log.

use ring::hmac;
use serde::Serialize;
use utoipa::ToSchema;

/// The chained content of an entry, in a fixed order.
pub struct Canonical<'a> {
    pub seq: i64,
    pub at: &'a str,
    pub actor_kind: &'a str,
    pub actor_id: Option<&'a str>,
    pub actor_role: Option<&'a str>,
    pub action: &'a str,
    pub subject_id: Option<&'a str>,
    pub fields: &'a str,
    pub purpose: &'a str,
    pub request_id: Option<&'a str>,
}

/// Length-prefixed fields (an absent value is distinct from an empty one), so no two
/// different entries encode to the same bytes.
fn encode(entry: &Canonical<'_>) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut put = |value: Option<&str>| match value {
        Some(v) => {
            out.extend_from_slice(&(v.len() as u32).to_be_bytes());
            out.extend_from_slice(v.as_bytes());
        }
        None => out.extend_from_slice(&u32::MAX.to_be_bytes()),
    };
    put(Some(&entry.seq.to_string()));
    put(Some(entry.at));
    put(Some(entry.actor_kind));
    put(entry.actor_id);
    put(entry.actor_role);
    put(Some(entry.action));
    put(entry.subject_id);
    put(Some(entry.fields));
    put(Some(entry.purpose));
    put(entry.request_id);
    out
}

pub fn mac(key: &hmac::Key, prev_mac: &[u8], entry: &Canonical<'_>) -> Vec<u8> {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(prev_mac);
    ctx.update(&encode(entry));
    ctx.sign().as_ref().to_vec()
}

/// Whether `tag` is the MAC of `entry` after `prev_mac` (constant-time comparison).
pub fn verify_mac(key: &hmac::Key, prev_mac: &[u8], entry: &Canonical<'_>, tag: &[u8]) -> bool {
    let mut data = prev_mac.to_vec();
    data.extend_from_slice(&encode(entry));
    hmac::verify(key, &data, tag).is_ok()
}

/// The timestamp as it is chained: RFC 3339 with microseconds, identical on both backends.
pub fn chain_time(at: chrono::NaiveDateTime) -> String {
    at.and_utc()
        .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The outcome of a verification.
#[derive(Debug, Clone, Serialize, ToSchema, PartialEq, Eq)]
#[schema(example = json!({
    "intact": true, "checked": 4182, "head_seq": 4182, "pruned_through_seq": 0,
    "first_broken_seq": null, "problem": null
}))]
pub struct VerifyReport {
    /// True when every entry and the chain head check out.
    pub intact: bool,
    /// Entries checked.
    #[schema(minimum = 0)]
    pub checked: i64,
    /// The sequence number the chain head records (0 while the log is empty).
    #[schema(minimum = 0)]
    pub head_seq: i64,
    /// Entries up to this one were deleted by retention (the audit period), and the chain is
    /// checked from the next one on; 0 while none was.
    #[schema(minimum = 0)]
    pub pruned_through_seq: i64,
    /// The first entry that does not verify (edited, deleted or reordered); `null` when
    /// intact or when only the tail was cut.
    pub first_broken_seq: Option<i64>,
    /// What is wrong there, in words; `null` when intact.
    pub problem: Option<String>,
}
