//! Saved addresses as their owner sees them, and a correction of one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::orders::model::{Address, AddressFields};

/// A saved address.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "id": "adr_0193a7c25b7e7d1a9c1e2f6c1f7e9a20",
    "address": {
        "name": "Ada Lovelace", "line1": "12 Rue de Rivoli", "line2": null, "city": "Paris",
        "postal_code": "75001", "region": null, "country": "FR"
    },
    "created_at": "2026-11-25T15:00:00Z",
    "updated_at": "2026-11-25T15:00:00Z"
}))]
pub struct SavedAddress {
    /// The address's id, `adr_` and 32 hex digits.
    pub id: String,
    /// The address itself, as validated (trimmed, country upper-cased).
    pub address: Address,
    /// When it was saved (RFC 3339, UTC).
    pub created_at: DateTime<Utc>,
    /// When it was last corrected (RFC 3339, UTC).
    pub updated_at: DateTime<Utc>,
}

/// Every saved address of the caller (at most 20), oldest first.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({
    "data": [{
        "id": "adr_0193a7c25b7e7d1a9c1e2f6c1f7e9a20",
        "address": {
            "name": "Ada Lovelace", "line1": "12 Rue de Rivoli", "line2": null, "city": "Paris",
            "postal_code": "75001", "region": null, "country": "FR"
        },
        "created_at": "2026-11-25T15:00:00Z",
        "updated_at": "2026-11-25T15:00:00Z"
    }]
}))]
pub struct SavedAddresses {
    /// The saved addresses, oldest first; empty when none is saved.
    #[schema(max_items = 20)]
    pub data: Vec<SavedAddress>,
}

/// A correction; absent fields stay as they are, `null` removes an optional line. The result
/// is validated like a new address.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"line1": "14 Rue de Rivoli", "line2": null}))]
pub struct AddressPatch {
    /// The recipient's name: 1–100 characters once trimmed, nothing sensitive.
    #[schema(min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// Street and number: 1–200 characters once trimmed.
    #[schema(min_length = 1, max_length = 200)]
    pub line1: Option<String>,
    /// Building, floor, etc.: 1–200 characters once trimmed; `null` removes it.
    #[serde(default, deserialize_with = "crate::http::extract::explicit_null")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 200)]
    pub line2: Option<Option<String>>,
    /// 1–100 characters once trimmed.
    #[schema(min_length = 1, max_length = 100)]
    pub city: Option<String>,
    /// 1–12 letters, digits, spaces or dashes once trimmed.
    #[schema(pattern = r"^\s*[A-Za-z0-9-](?:[A-Za-z0-9 -]{0,10}[A-Za-z0-9-])?\s*$")]
    pub postal_code: Option<String>,
    /// State, province or county: 1–100 characters once trimmed; `null` removes it.
    #[serde(default, deserialize_with = "crate::http::extract::explicit_null")]
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100)]
    pub region: Option<Option<String>>,
    /// ISO 3166-1 alpha-2 code, e.g. `FR` (upper-cased when stored).
    #[schema(pattern = r"^\s*[A-Za-z]{2}\s*$")]
    pub country: Option<String>,
}

impl AddressPatch {
    pub(super) fn apply(self, a: Address) -> AddressFields {
        let mut a = a.into_fields();
        a.name = self.name.unwrap_or(a.name);
        a.line1 = self.line1.unwrap_or(a.line1);
        a.line2 = self.line2.unwrap_or(a.line2);
        a.city = self.city.unwrap_or(a.city);
        a.postal_code = self.postal_code.unwrap_or(a.postal_code);
        a.region = self.region.unwrap_or(a.region);
        a.country = self.country.unwrap_or(a.country);
        a
    }
}
