//! What a guest's rectification asks to correct: a list of `{field, value}` checked the way
//! checkout checks the same fields, sealed under a key of its own (subject
//! `<request id>.corrections`) that applying the request or erasing the guest's data shreds.
//! The field names stay in the clear: they are a vocabulary, not data about the guest.

use diesel::prelude::*;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::model::Kind;
use crate::accounts::model::Email;
use crate::crypto::{Column, Crypto, CryptoError};
use crate::db::schema::{dsr_corrections, dsr_requests};
use crate::db::DbConnection;
use crate::http::error::ApiError;
use crate::invalid::Invalid;
use crate::orders::model::{Address, AddressFields};

pub const TABLE: &str = "dsr_corrections";
/// The corrected values, until applied or erased.
pub const CORRECTIONS: Column = Column::new(TABLE, "corrections_sealed");

/// What is held about a guest that they can ask to correct: the contact e-mail and the
/// shipping address of their orders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = RectificationField)]
pub enum Field {
    /// The contact e-mail given at checkout.
    ContactEmail,
    /// The shipping address given at checkout.
    ShippingAddress,
}

impl Field {
    pub const ALL: [Field; 2] = [Field::ContactEmail, Field::ShippingAddress];

    pub fn as_str(self) -> &'static str {
        match self {
            Field::ContactEmail => "contact_email",
            Field::ShippingAddress => "shipping_address",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// One correction as the guest sends it.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RectificationCorrection)]
#[schema(example = json!({"field": "contact_email", "value": "ada.king@example.com"}))]
pub struct CorrectionInput {
    /// What to correct.
    pub field: Field,
    /// The correct value, checked as checkout checks it: for `contact_email` an e-mail
    /// address (a string, at most 254 characters once normalised); for `shipping_address`
    /// an `Address` object.
    pub value: serde_json::Value,
}

/// Corrections as checked, sealed and applied: each field at most once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Corrections {
    pub contact_email: Option<Email>,
    pub shipping_address: Option<Address>,
}

impl Corrections {
    /// The fields corrected, in the vocabulary's order.
    pub fn fields(&self) -> Vec<Field> {
        let mut out = Vec::new();
        if self.contact_email.is_some() {
            out.push(Field::ContactEmail);
        }
        if self.shipping_address.is_some() {
            out.push(Field::ShippingAddress);
        }
        out
    }

    fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "contact_email": self.contact_email.as_ref().map(Email::as_str),
            "shipping_address": self.shipping_address,
        })
    }

    fn from_json(bytes: &[u8]) -> anyhow::Result<Corrections> {
        let v: serde_json::Value = serde_json::from_slice(bytes)?;
        let contact_email = match v["contact_email"].as_str() {
            Some(s) => Some(Email::parse("contact_email", s)?),
            None => None,
        };
        let shipping_address = match &v["shipping_address"] {
            serde_json::Value::Null => None,
            a => Some(Address::from_sealed_json(&serde_json::to_vec(a)?)?),
        };
        Ok(Corrections {
            contact_email,
            shipping_address,
        })
    }
}

/// Checks what comes with a request: a rectification must say what to correct (there is no
/// free-text form: every field held about a guest has a vocabulary entry), other kinds
/// carry nothing.
pub fn parse(
    kind: Kind,
    input: Option<&[CorrectionInput]>,
) -> Result<Option<Corrections>, Invalid> {
    let list = match (kind, input) {
        (Kind::Rectification, Some(list)) if !list.is_empty() => list,
        (Kind::Rectification, _) => {
            return Err(Invalid::field(
                "corrections",
                "a rectification says what to correct: contact_email and/or shipping_address",
            ))
        }
        (_, None) => return Ok(None),
        (_, Some(_)) => {
            return Err(Invalid::field(
                "corrections",
                "only a rectification carries corrections",
            ))
        }
    };
    let mut out = Corrections::default();
    for (i, c) in list.iter().enumerate() {
        let at = format!("corrections[{i}].value");
        let taken = match c.field {
            Field::ContactEmail => out.contact_email.is_some(),
            Field::ShippingAddress => out.shipping_address.is_some(),
        };
        if taken {
            return Err(Invalid::field(
                format!("corrections[{i}].field"),
                "each field is corrected at most once",
            ));
        }
        match c.field {
            Field::ContactEmail => {
                let raw = c
                    .value
                    .as_str()
                    .ok_or_else(|| Invalid::field(&at, "must be an e-mail address (a string)"))?;
                out.contact_email = Some(Email::parse(&at, raw)?);
            }
            Field::ShippingAddress => {
                let fields: AddressFields =
                    serde_json::from_value(c.value.clone()).map_err(|_| {
                        Invalid::field(
                            &at,
                            "must be an address: name, line1, city, postal_code and country \
                             (line2 and region optional), nothing else",
                        )
                    })?;
                out.shipping_address = Some(Address::parse(&fields, &at)?);
            }
        }
    }
    Ok(Some(out))
}

/// The data key's subject: the request's own key is shredded when its code is used.
pub fn key_subject(dsr_id: &str) -> String {
    format!("{dsr_id}.corrections")
}

/// Seals and stores the corrections of a new request.
pub fn save(
    conn: &mut DbConnection,
    crypto: &Crypto,
    dsr_id: &str,
    corrections: &Corrections,
) -> Result<(), ApiError> {
    let key = crypto.create_data_key(conn, &key_subject(dsr_id))?;
    let bytes =
        serde_json::to_vec(&corrections.to_json()).map_err(|e| ApiError::Internal(e.into()))?;
    let sealed = key.seal(&CORRECTIONS.at(dsr_id), &bytes)?;
    let names: Vec<&str> = corrections
        .fields()
        .into_iter()
        .map(Field::as_str)
        .collect();
    diesel::insert_into(dsr_corrections::table)
        .values((
            dsr_corrections::dsr_id.eq(dsr_id),
            dsr_corrections::fields.eq(names.join(",")),
            dsr_corrections::corrections_sealed.eq(Some(sealed)),
        ))
        .execute(conn)?;
    Ok(())
}

/// A request's corrections as stored.
pub struct Stored {
    /// What the guest asked to correct (kept after the values are gone).
    pub fields: Vec<Field>,
    /// The values; `None` once applied or erased.
    pub values: Option<Corrections>,
}

/// The corrections of request `dsr_id`, opened; `None` when it carries none.
pub fn load(
    conn: &mut DbConnection,
    crypto: &Crypto,
    dsr_id: &str,
) -> Result<Option<Stored>, ApiError> {
    let row: Option<(String, Option<Vec<u8>>)> = dsr_corrections::table
        .find(dsr_id)
        .select((dsr_corrections::fields, dsr_corrections::corrections_sealed))
        .first(conn)
        .optional()?;
    let Some((names, sealed)) = row else {
        return Ok(None);
    };
    let fields = names.split(',').filter_map(Field::parse).collect();
    let values = match sealed {
        None => None,
        Some(sealed) => match crypto.data_key(conn, &key_subject(dsr_id)) {
            Err(CryptoError::Shredded) => None,
            Err(e) => return Err(e.into()),
            Ok(key) => {
                let bytes = key.open(&CORRECTIONS.at(dsr_id), &sealed)?;
                Some(Corrections::from_json(&bytes).map_err(ApiError::Internal)?)
            }
        },
    };
    Ok(Some(Stored { fields, values }))
}

/// Destroys the values of request `dsr_id` (applied: they now live in the orders; or the
/// guest's data is erased). The field names stay with the request.
pub fn shred(conn: &mut DbConnection, crypto: &Crypto, dsr_id: &str) -> Result<(), ApiError> {
    crypto.shred(conn, &key_subject(dsr_id))?;
    diesel::update(dsr_corrections::table.find(dsr_id))
        .set(dsr_corrections::corrections_sealed.eq(None::<Vec<u8>>))
        .execute(conn)?;
    Ok(())
}

pub fn mark_applied(conn: &mut DbConnection, dsr_id: &str) -> QueryResult<usize> {
    diesel::update(dsr_corrections::table.find(dsr_id))
        .set(dsr_corrections::applied_at.eq(crate::db::now()))
        .execute(conn)
}

/// Erasing a guest's data erases what they asked to correct too.
pub fn shred_for_guest(
    conn: &mut DbConnection,
    crypto: &Crypto,
    email_bidx: &[u8],
) -> Result<(), ApiError> {
    let ids: Vec<String> = dsr_corrections::table
        .inner_join(dsr_requests::table.on(dsr_requests::id.eq(dsr_corrections::dsr_id)))
        .filter(dsr_requests::email_bidx.eq(email_bidx))
        .filter(dsr_corrections::corrections_sealed.is_not_null())
        .select(dsr_corrections::dsr_id)
        .load(conn)?;
    for id in ids {
        shred(conn, crypto, &id)?;
    }
    Ok(())
}

/// Retention: the corrections of requests about to be deleted.
pub fn delete(conn: &mut DbConnection, crypto: &Crypto, ids: &[String]) -> Result<(), ApiError> {
    let subjects: Vec<String> = ids.iter().map(|id| key_subject(id)).collect();
    crypto.shred_many(conn, &subjects)?;
    diesel::delete(dsr_corrections::table.filter(dsr_corrections::dsr_id.eq_any(ids)))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(v: serde_json::Value) -> Vec<CorrectionInput> {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn a_rectification_needs_corrections_and_others_refuse_them() {
        assert!(parse(Kind::Rectification, None).is_err());
        assert!(parse(Kind::Rectification, Some(&[])).is_err());
        assert_eq!(parse(Kind::Access, None).unwrap(), None);
        let one = input(json!([{"field": "contact_email", "value": "a@example.com"}]));
        assert!(parse(Kind::Erasure, Some(&one)).is_err());
    }

    #[test]
    fn values_are_checked_as_checkout_checks_them() {
        let ok = input(json!([
            {"field": "contact_email", "value": " Ada@Example.COM "},
            {"field": "shipping_address", "value": {"name": "Ada King", "line1": "Main 1",
             "city": "Gent", "postal_code": "9000", "country": "be"}}
        ]));
        let c = parse(Kind::Rectification, Some(&ok)).unwrap().unwrap();
        assert_eq!(
            c.fields(),
            vec![Field::ContactEmail, Field::ShippingAddress]
        );
        let back = Corrections::from_json(&serde_json::to_vec(&c.to_json()).unwrap()).unwrap();
        assert_eq!(back, c);

        for bad in [
            json!([{"field": "contact_email", "value": "not an email"}]),
            json!([{"field": "contact_email", "value": 42}]),
            json!([{"field": "shipping_address", "value": {"name": "Ada"}}]),
            json!([{"field": "shipping_address", "value": "Main 1, Gent"}]),
            json!([{"field": "contact_email", "value": "a@example.com"},
                   {"field": "contact_email", "value": "b@example.com"}]),
        ] {
            assert!(
                parse(Kind::Rectification, Some(&input(bad.clone()))).is_err(),
                "{bad}"
            );
        }
    }
}
