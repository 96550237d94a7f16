//! Opaque, prefixed, time-ordered identifiers (`usr_…`, `ord_…`): a UUIDv7 in hex, so ids sort
//! by creation time and reveal nothing else.

pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::now_v7().simple())
}

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
}
