//! Where the chain starts once retention has deleted its oldest entries.
//!
//! Retention deletes a prefix of the log (entries older than the audit period), never a
//! middle part. Before it deletes, it recomputes the MACs of what it deletes; then it records
//! the base: the sequence number and MAC of the last deleted entry, signed under the anchor
//! key (derived from the master key's root secret) with a label of its own, so that neither a
//! checkpoint from the anchor file nor anything a database writer can compute passes for a
//! base. [`super::store::verify`] starts from the base: the first kept entry must chain onto
//! the base's MAC, so an edited, deleted or reordered kept entry is still reported, and so is
//! a base that was moved (its signature fails) or rolled back (the entries after it are gone).

use diesel::prelude::*;
use ring::hmac;

use super::chain::chain_time;
use crate::db::schema::audit_base;
use crate::db::DbConnection;

/// The last deleted entry (`seq` 0: nothing deleted yet).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Base {
    pub seq: i64,
    pub mac: Vec<u8>,
    /// When retention deleted up to it.
    pub at: chrono::NaiveDateTime,
    sig: Vec<u8>,
}

fn signed_bytes(seq: i64, mac: &[u8], at: chrono::NaiveDateTime) -> Vec<u8> {
    format!(
        "valise-audit-base|{seq}|{}|{}",
        hex::encode(mac),
        chain_time(at)
    )
    .into_bytes()
}

impl Base {
    fn new(key: &hmac::Key, seq: i64, mac: Vec<u8>, at: chrono::NaiveDateTime) -> Self {
        let sig = hmac::sign(key, &signed_bytes(seq, &mac, at))
            .as_ref()
            .to_vec();
        Self { seq, mac, at, sig }
    }

    /// Nothing deleted (the chain starts at entry 1), or a base this shop's key signed.
    pub fn holds(&self, key: &hmac::Key) -> bool {
        (self.seq == 0 && self.mac.is_empty())
            || (self.seq > 0
                && hmac::verify(key, &signed_bytes(self.seq, &self.mac, self.at), &self.sig)
                    .is_ok())
    }
}

/// The current base.
pub fn read(conn: &mut DbConnection) -> QueryResult<Base> {
    let (seq, mac, at, sig) = audit_base::table
        .find(1)
        .select((
            audit_base::seq,
            audit_base::mac,
            audit_base::at,
            audit_base::sig,
        ))
        .first::<(i64, Vec<u8>, chrono::NaiveDateTime, Vec<u8>)>(conn)?;
    Ok(Base { seq, mac, at, sig })
}

/// Moves the base to entry `seq` (its MAC `mac`), signed, in the caller's transaction.
pub fn advance(
    conn: &mut DbConnection,
    key: &hmac::Key,
    seq: i64,
    mac: Vec<u8>,
) -> QueryResult<()> {
    let moved = Base::new(key, seq, mac, crate::db::now());
    diesel::update(audit_base::table.find(1))
        .set((
            audit_base::seq.eq(moved.seq),
            audit_base::mac.eq(&moved.mac),
            audit_base::at.eq(moved.at),
            audit_base::sig.eq(&moved.sig),
        ))
        .execute(conn)?;
    Ok(())
}

/// Takes the base's row lock (both backends), so one pruning runs at a time.
pub fn lock(conn: &mut DbConnection) -> QueryResult<()> {
    diesel::update(audit_base::table.find(1))
        .set(audit_base::seq.eq(audit_base::seq))
        .execute(conn)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_base_is_bound_to_its_fields_and_key() {
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"base test key");
        let other = hmac::Key::new(hmac::HMAC_SHA256, b"another key");
        let at = crate::db::now();
        let base = Base::new(&key, 42, b"mac bytes".to_vec(), at);
        assert!(base.holds(&key));
        assert!(!base.holds(&other));
        let mut moved = base.clone();
        moved.seq = 43;
        assert!(!moved.holds(&key));
        let mut unsigned = base;
        unsigned.sig.clear();
        assert!(!unsigned.holds(&key));
        let start = Base {
            seq: 0,
            mac: Vec::new(),
            at,
            sig: Vec::new(),
        };
        assert!(start.holds(&key), "nothing deleted needs no signature");
    }

    #[test]
    fn a_base_is_not_an_anchor() {
        // A checkpoint of the anchor file, signed by the same key, must not pass for a base.
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"shared key");
        let at = chrono::Utc::now();
        let anchor = super::super::anchor::Anchor::new(&key, 7, b"mac", at);
        let base = Base {
            seq: 7,
            mac: b"mac".to_vec(),
            at: at.naive_utc(),
            sig: hex::decode(&anchor.sig).unwrap(),
        };
        assert!(!base.holds(&key));
    }
}
