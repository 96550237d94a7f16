//! Keyset pagination: `?limit=` (1–100, default 20) and an opaque `?cursor=`.
//!
//! A cursor encodes the sort key of the last item returned plus the name of the listing it
//! belongs to, so a cursor from one listing is refused by another, and pages stay stable
//! while rows are inserted (no OFFSET).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use serde::Deserialize;
use utoipa::IntoParams;

use super::error::ApiError;

pub const DEFAULT_LIMIT: u32 = 20;
pub const MAX_LIMIT: u32 = 100;

/// Pagination parameters shared by every listing.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Items per page, 1–100.
    #[param(minimum = 1, maximum = 100, default = 20, example = 20)]
    pub limit: Option<u32>,
    /// `next_cursor` from the previous page of the same listing (opaque, base64url); omit for
    /// the first page.
    #[param(pattern = "^[A-Za-z0-9_-]+$")]
    pub cursor: Option<String>,
}

/// A validated page request: the limit and the decoded key to continue after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    pub limit: u32,
    pub after: Option<String>,
}

impl PageQuery {
    pub fn validate(&self, listing: &str) -> Result<Page, ApiError> {
        let limit = self.limit.unwrap_or(DEFAULT_LIMIT);
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(ApiError::validation("limit", "must be between 1 and 100"));
        }
        let after = match &self.cursor {
            None => None,
            Some(c) => Some(decode_cursor(listing, c).ok_or_else(|| {
                ApiError::validation("cursor", "is not a cursor returned by this listing")
            })?),
        };
        Ok(Page { limit, after })
    }
}

pub fn encode_cursor(listing: &str, key: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{listing}:{key}"))
}

fn decode_cursor(listing: &str, cursor: &str) -> Option<String> {
    let raw = URL_SAFE_NO_PAD.decode(cursor).ok()?;
    let text = String::from_utf8(raw).ok()?;
    let key = text.strip_prefix(listing)?.strip_prefix(':')?;
    // Keys are ids and numbers: one with a control character was never issued (and a NUL
    // would reach PostgreSQL, which refuses it in text).
    if key.chars().any(char::is_control) {
        return None;
    }
    Some(key.to_owned())
}

/// `{"data": [...], "next_cursor": ...}` built from `limit + 1` fetched rows: the extra row
/// only tells whether another page exists.
pub fn paginate<T, K>(
    mut rows: Vec<T>,
    page: &Page,
    listing: &str,
    key: K,
) -> (Vec<T>, Option<String>)
where
    K: Fn(&T) -> String,
{
    let has_more = rows.len() > page.limit as usize;
    rows.truncate(page.limit as usize);
    let next = if has_more {
        rows.last().map(|last| encode_cursor(listing, &key(last)))
    } else {
        None
    };
    (rows, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_bounds_are_enforced() {
        for bad in [0, 101] {
            let q = PageQuery {
                limit: Some(bad),
                cursor: None,
            };
            assert!(q.validate("x").is_err());
        }
        assert_eq!(
            PageQuery::default().validate("x").unwrap().limit,
            DEFAULT_LIMIT
        );
    }

    #[test]
    fn cursors_round_trip_and_are_bound_to_their_listing() {
        let c = encode_cursor("policies", "7");
        let q = PageQuery {
            limit: None,
            cursor: Some(c),
        };
        assert_eq!(q.validate("policies").unwrap().after.as_deref(), Some("7"));
        assert!(q.validate("products").is_err());
        let garbage = PageQuery {
            limit: None,
            cursor: Some("%%%".into()),
        };
        assert!(garbage.validate("policies").is_err());
    }

    #[test]
    fn a_cursor_whose_key_holds_a_control_character_is_refused() {
        for key in ["7\u{0}", "\u{0}", "a\nb", "1|prod_\u{7f}"] {
            let q = PageQuery {
                limit: None,
                cursor: Some(encode_cursor("orders", key)),
            };
            assert!(q.validate("orders").is_err(), "{key:?}");
        }
    }

    #[test]
    fn paginate_reports_a_next_cursor_only_when_more_rows_exist() {
        let page = Page {
            limit: 2,
            after: None,
        };
        let (rows, next) = paginate(vec![5, 4, 3], &page, "n", |n| n.to_string());
        assert_eq!(rows, vec![5, 4]);
        assert_eq!(next, Some(encode_cursor("n", "4")));
        let (rows, next) = paginate(vec![5, 4], &page, "n", |n| n.to_string());
        assert_eq!(rows.len(), 2);
        assert_eq!(next, None);
    }

    /// Bounded fuzzing of `?cursor=`: clients send back whatever they like. A cursor either
    /// is refused as a validation error or decodes to a key that encodes back to exactly the
    /// cursor sent (one cursor per key, so cached pages and ETags cannot be multiplied).
    /// `PROPTEST_CASES` runs them longer.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        /// Listing names as the routes spell them, and arbitrary ones.
        fn listing() -> impl Strategy<Value = String> {
            prop_oneof![
                Just("orders".to_owned()),
                Just("products:price".to_owned()),
                Just("products:-price".to_owned()),
                "[a-z:-]{0,20}",
                any::<String>(),
            ]
        }

        /// Keys: printable text, and any characters at all.
        fn key() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                prop::collection::vec(any::<char>(), 0..16).prop_map(String::from_iter),
            ]
        }

        /// Arbitrary text, base64url-looking text, and real cursors of arbitrary keys and
        /// listings, bit-flipped or cut short.
        fn cursor() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "[A-Za-z0-9_=+/-]{0,64}",
                (listing(), key()).prop_map(|(l, k)| encode_cursor(&l, &k)),
                (listing(), key(), any::<prop::sample::Index>(), 0u8..6).prop_map(
                    |(l, k, at, bit)| {
                        let mut bytes = encode_cursor(&l, &k).into_bytes();
                        if !bytes.is_empty() {
                            let i = at.index(bytes.len());
                            bytes[i] ^= 1 << bit;
                        }
                        String::from_utf8_lossy(&bytes).into_owned()
                    }
                ),
                (listing(), key(), any::<prop::sample::Index>()).prop_map(|(l, k, at)| {
                    let c = encode_cursor(&l, &k);
                    c[..at.index(c.len() + 1)].to_owned()
                }),
            ]
        }

        proptest! {
            #[test]
            fn fuzz_any_cursor_is_refused_or_re_encodes_to_itself(
                listing in listing(),
                cursor in cursor(),
                limit in prop::option::of(any::<u32>()),
            ) {
                let query = PageQuery { limit, cursor: Some(cursor.clone()) };
                match query.validate(&listing) {
                    Ok(page) => {
                        prop_assert!((1..=MAX_LIMIT).contains(&page.limit));
                        let key = page.after.expect("a cursor was sent");
                        prop_assert_eq!(encode_cursor(&listing, &key), cursor);
                    }
                    Err(e) => prop_assert!(matches!(e, ApiError::Validation(_)), "{e:?}"),
                }
            }

            #[test]
            fn fuzz_every_key_round_trips_through_its_listing_only(
                listing in listing(),
                other in listing(),
                key in key(),
            ) {
                let cursor = encode_cursor(&listing, &key);
                let query = PageQuery { limit: None, cursor: Some(cursor) };
                if key.chars().any(char::is_control) {
                    // Never issued: keys are ids and numbers.
                    prop_assert!(query.validate(&listing).is_err());
                    return Ok(());
                }
                prop_assert_eq!(query.validate(&listing).expect("own cursor").after, Some(key));
                // Another listing refuses it, unless one name begins the other (`a` and
                // `a:b`; no two listings of the API are named so).
                if !other.starts_with(&listing) && !listing.starts_with(&other) {
                    prop_assert!(query.validate(&other).is_err());
                }
            }
        }
    }
}
