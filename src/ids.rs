//! Opaque, prefixed, time-ordered identifiers (`usr_…`, `ord_…`): a UUIDv7 in hex, so ids sort
//! by creation time and reveal nothing else.

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

/// An id that crosses rooms as its own type, so a user id cannot be passed where an order id
/// is wanted (both are text in the database and on the wire). It reads as `&str` where text
/// is wanted (`Deref`), and is made by [`Self::new`] or read from a row, never from a
/// caller's text without [`Self::parse`].
macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident, $prefix:literal) => {
        $(#[$doc])*
        #[derive(
            Debug,
            Clone,
            PartialEq,
            Eq,
            Hash,
            PartialOrd,
            Ord,
            diesel_derive_newtype::DieselNewType,
            serde::Serialize,
        )]
        pub struct $name(String);

        impl $name {
            pub const PREFIX: &'static str = $prefix;

            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(new_id($prefix))
            }

            /// `text` when it has the shape of such an id.
            pub fn parse(text: &str) -> Option<Self> {
                is_id($prefix, text).then(|| Self(text.to_owned()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl PartialEq<String> for $name {
            fn eq(&self, other: &String) -> bool {
                &self.0 == other
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }
    };
}

id_type!(
    /// An account's id, `usr_…`.
    UserId,
    "usr"
);
id_type!(
    /// An order's id, `ord_…` (not its public number).
    OrderId,
    "ord"
);

/// Whether `id` has the shape of an id with this prefix (cheap rejection before a query).
pub fn is_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|rest| rest.strip_prefix('_'))
        .is_some_and(|hex| hex.len() == 32 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_and_sort_by_time() {
        let a = new_id("usr");
        let b = new_id("usr");
        assert!(is_id("usr", &a));
        assert!(!is_id("ord", &a));
        assert!(a < b);
    }

    #[test]
    fn typed_ids_parse_only_their_own_prefix() {
        let user = UserId::new();
        assert_eq!(UserId::parse(&user), Some(user.clone()));
        assert_eq!(OrderId::parse(&user), None);
        assert_eq!(UserId::parse("usr_not-hex"), None);
        assert!(user.starts_with("usr_"), "reads as text: {user}");
    }
}
